-- Server-generated delta packages: one row per (full package, source version), with the
-- generation status (PENDING, RUNNING, READY, SKIPPED when it does not pay off, FAILED).
CREATE TABLE package_deltas (
    firmware_id     TEXT NOT NULL,
    src_version     TEXT NOT NULL,
    src_firmware_id TEXT NOT NULL,
    status          TEXT NOT NULL,
    blob_key        TEXT,
    size            BIGINT,
    md5             TEXT,
    sha256          TEXT,
    error           TEXT,
    created_at      BIGINT NOT NULL,
    finished_at     BIGINT,
    PRIMARY KEY (firmware_id, src_version)
);
CREATE INDEX package_deltas_status ON package_deltas (status);
