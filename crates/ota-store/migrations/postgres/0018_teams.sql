-- Teams (users, access keys, RAM policies, personal access tokens) and the audit log.
-- Users sign API requests with their access keys or tokens and the console with a password;
-- what each may do is the union of the RAM policy documents attached to them.
CREATE TABLE users (
    user_name     TEXT PRIMARY KEY,
    display_name  TEXT NOT NULL,
    enabled       BIGINT NOT NULL DEFAULT 1,
    -- argon2id PHC string; NULL: the user has no console password.
    password_hash TEXT,
    created_at    BIGINT NOT NULL
);
-- Access keys belong to a user. `secret` is sealed with the server key (never plain once a
-- server has started on this schema); a key made before users existed is given to `admin`.
ALTER TABLE access_keys ADD COLUMN user_name TEXT;
ALTER TABLE access_keys ADD COLUMN enabled BIGINT NOT NULL DEFAULT 1;
ALTER TABLE access_keys ADD COLUMN last_used_at BIGINT;
ALTER TABLE access_keys ADD COLUMN last_used_from TEXT;
CREATE INDEX access_keys_user ON access_keys (user_name);
-- RAM policy documents; the built-in ones are rewritten from the code at every start.
CREATE TABLE policies (
    policy_name TEXT PRIMARY KEY,
    description TEXT NOT NULL,
    document    TEXT NOT NULL,
    builtin     BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE TABLE user_policies (
    user_name   TEXT NOT NULL REFERENCES users (user_name),
    policy_name TEXT NOT NULL REFERENCES policies (policy_name),
    attached_at BIGINT NOT NULL,
    PRIMARY KEY (user_name, policy_name)
);
CREATE INDEX user_policies_policy ON user_policies (policy_name);
-- Personal access tokens (`Authorization: Bearer …`): only a hash of the secret is kept.
CREATE TABLE api_tokens (
    token_id     TEXT PRIMARY KEY,
    user_name    TEXT NOT NULL REFERENCES users (user_name),
    name         TEXT NOT NULL,
    secret_hash  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_name);
-- The audit log: append-only through the platform; only retention deletes. `seq` is the
-- order of appending and the key pages are read by.
CREATE TABLE audit_events (
    seq                BIGSERIAL PRIMARY KEY,
    event_id           TEXT NOT NULL UNIQUE,
    event_time         BIGINT NOT NULL,
    event_name         TEXT NOT NULL,
    face               TEXT NOT NULL,
    user_name          TEXT,
    access_key_id      TEXT,
    session_id         TEXT,
    source_ip          TEXT,
    user_agent         TEXT,
    request_parameters TEXT NOT NULL,
    result             TEXT NOT NULL,
    error_message      TEXT,
    resources          TEXT NOT NULL
);
CREATE INDEX audit_events_time ON audit_events (event_time);
CREATE INDEX audit_events_user ON audit_events (user_name, seq);
CREATE INDEX audit_events_key ON audit_events (access_key_id, seq);
CREATE INDEX audit_events_name ON audit_events (event_name, seq);
-- Which events touched an id (product key, firmware id, batch id, device, user…).
CREATE TABLE audit_resources (
    resource_id TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    PRIMARY KEY (resource_id, seq)
);
