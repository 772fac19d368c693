-- Rollouts: a package delivered in waves, each wave a batch. A rollout is small and read
-- whole, so it is kept as one JSON document beside the columns it is found by; `version`
-- is raised by every write, and a write names the version it read.
CREATE TABLE rollouts (
    rollout_id  TEXT PRIMARY KEY,
    firmware_id TEXT NOT NULL,
    product_key TEXT NOT NULL,
    status      TEXT NOT NULL,
    version     INTEGER NOT NULL,
    body_json   TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);
CREATE INDEX rollouts_firmware ON rollouts (firmware_id, created_at);
CREATE INDEX rollouts_status ON rollouts (status);
-- The wave a batch runs (its rollout, and the devices it draws); NULL for other batches.
ALTER TABLE jobs ADD COLUMN wave_json TEXT;
