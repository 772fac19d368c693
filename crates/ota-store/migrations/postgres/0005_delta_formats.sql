-- The delta patch format versions a device said (on inform) it can apply, as "2,3"; a
-- server-generated delta is only pushed to a device that can apply its format.
ALTER TABLE module_versions ADD COLUMN delta_formats TEXT NOT NULL DEFAULT '';
-- The patch format version of a generated delta (0 until READY).
ALTER TABLE package_deltas ADD COLUMN format INTEGER NOT NULL DEFAULT 0;
