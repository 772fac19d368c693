-- Per-product Ed25519 package-signing keys (secure update). The active key has
-- retired_at NULL; a rotated-out key stays trusted by devices until trusted_until.
CREATE TABLE signing_keys (
    key_id        TEXT PRIMARY KEY,
    product_key   TEXT NOT NULL,
    secret_key    TEXT NOT NULL,
    public_key    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    retired_at    BIGINT,
    trusted_until BIGINT
);
CREATE INDEX signing_keys_product ON signing_keys (product_key, created_at);
