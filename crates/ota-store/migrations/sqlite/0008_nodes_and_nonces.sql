-- The nodes serving this store: one row per running process (a restart is a new row), kept
-- alive by its heartbeat. A row whose heartbeat lapsed past the lease is claimed by exactly
-- one surviving node (`lost_at`, `recovered_by`), which then recovers what the lost node may
-- have dropped (docs/adr/0007-node-liveness.md). A node that stops cleanly deletes its row.
CREATE TABLE nodes (
    node_id             TEXT PRIMARY KEY,
    -- Stable across restarts of one process slot (host and HTTP address): a node finding
    -- rows of its own name knows they are earlier runs of itself, not live neighbours.
    name                TEXT NOT NULL,
    public_url          TEXT NOT NULL,
    -- 1: public_url was configured (one address in front of all nodes); 0: the per-node default.
    public_url_explicit INTEGER NOT NULL,
    -- 1: packages are in an S3 bucket, so pushes carry presigned URLs, not public_url.
    presigned_downloads INTEGER NOT NULL,
    started_at          BIGINT NOT NULL,
    heartbeat_at        BIGINT NOT NULL,
    lost_at             BIGINT,
    recovered_by        TEXT
);
CREATE INDEX nodes_heartbeat ON nodes (heartbeat_at) WHERE lost_at IS NULL;

-- Signed-request nonces, shared by every node so a request replayed to another node is
-- refused too. Kept until the request's timestamp would be refused anyway.
CREATE TABLE request_nonces (
    scope      TEXT NOT NULL,
    nonce      TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    PRIMARY KEY (scope, nonce)
);
CREATE INDEX request_nonces_expiry ON request_nonces (expires_at);
