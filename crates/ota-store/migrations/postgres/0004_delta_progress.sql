-- Generation progress of a server-generated delta, 0..=100, for the API and console.
ALTER TABLE package_deltas ADD COLUMN progress INTEGER NOT NULL DEFAULT 0;
