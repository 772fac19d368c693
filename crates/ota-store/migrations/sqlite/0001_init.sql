-- Initial schema (SQLite). Times are epoch milliseconds, booleans 0/1, enums their stable
-- strings, structured values JSON text. Keep in step with ../postgres/0001_init.sql.

CREATE TABLE products (
    product_key    TEXT PRIMARY KEY,
    product_name   TEXT NOT NULL,
    product_secret TEXT NOT NULL,
    description    TEXT,
    created_at     INTEGER NOT NULL,
    modified_at    INTEGER NOT NULL
);

CREATE TABLE devices (
    id             INTEGER PRIMARY KEY,
    iot_id         TEXT NOT NULL UNIQUE,
    product_key    TEXT NOT NULL REFERENCES products (product_key),
    device_name    TEXT NOT NULL,
    device_secret  TEXT NOT NULL,
    nickname       TEXT,
    online         INTEGER NOT NULL DEFAULT 0,
    last_online_at INTEGER,
    created_at     INTEGER NOT NULL,
    modified_at    INTEGER NOT NULL,
    UNIQUE (product_key, device_name)
);

CREATE TABLE device_tags (
    device_id INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    tag_key   TEXT NOT NULL,
    tag_value TEXT NOT NULL,
    PRIMARY KEY (device_id, tag_key)
);

CREATE TABLE module_versions (
    device_id   INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    module_name TEXT NOT NULL,
    version     TEXT NOT NULL,
    reported_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, module_name)
);

CREATE TABLE device_groups (
    group_id    TEXT PRIMARY KEY,
    group_name  TEXT NOT NULL,
    product_key TEXT,
    description TEXT,
    kind        TEXT NOT NULL,
    filter_json TEXT,
    created_at  INTEGER NOT NULL
);
CREATE INDEX device_groups_product ON device_groups (product_key);

CREATE TABLE group_members (
    group_id  TEXT NOT NULL REFERENCES device_groups (group_id) ON DELETE CASCADE,
    device_id INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, device_id)
);
CREATE INDEX group_members_device ON group_members (device_id);

CREATE TABLE ota_modules (
    product_key TEXT NOT NULL,
    module_name TEXT NOT NULL,
    alias_name  TEXT,
    description TEXT,
    created_at  INTEGER NOT NULL,
    modified_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX ota_modules_name ON ota_modules (product_key, lower(module_name));

CREATE TABLE firmwares (
    firmware_id     TEXT PRIMARY KEY,
    product_key     TEXT NOT NULL,
    firmware_name   TEXT NOT NULL,
    firmware_desc   TEXT,
    module_name     TEXT NOT NULL,
    firmware_type   TEXT NOT NULL,
    src_version     TEXT,
    dest_version    TEXT NOT NULL,
    sign_method     TEXT NOT NULL,
    status          INTEGER NOT NULL,
    verify_progress INTEGER NOT NULL,
    udi             TEXT,
    multi_file      INTEGER NOT NULL,
    files_json      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    modified_at     INTEGER NOT NULL
);
CREATE INDEX firmwares_product ON firmwares (product_key, created_at);
CREATE INDEX firmwares_name ON firmwares (firmware_name);

CREATE TABLE jobs (
    job_id               TEXT PRIMARY KEY,
    firmware_id          TEXT NOT NULL,
    product_key          TEXT NOT NULL,
    module_name          TEXT,
    job_type             TEXT NOT NULL,
    selection_type       TEXT NOT NULL,
    target_json          TEXT NOT NULL,
    src_versions_json    TEXT NOT NULL,
    policy_json          TEXT NOT NULL,
    tags_json            TEXT NOT NULL,
    name                 TEXT,
    description          TEXT,
    status               TEXT NOT NULL,
    schedule_time        INTEGER,
    schedule_finish_time INTEGER,
    created_at           INTEGER NOT NULL,
    modified_at          INTEGER NOT NULL,
    started_at           INTEGER,
    finished_at          INTEGER
);
CREATE INDEX jobs_status ON jobs (status, schedule_time);
CREATE INDEX jobs_firmware ON jobs (firmware_id, created_at);
CREATE INDEX jobs_product_module ON jobs (product_key, module_name, status);

CREATE TABLE tasks (
    task_id       TEXT PRIMARY KEY,
    job_id        TEXT NOT NULL,
    firmware_id   TEXT NOT NULL,
    device_id     INTEGER NOT NULL,
    product_key   TEXT NOT NULL,
    device_name   TEXT NOT NULL,
    module_name   TEXT NOT NULL,
    src_version   TEXT,
    dest_version  TEXT NOT NULL,
    status        TEXT NOT NULL,
    queued_reason TEXT,
    failure       TEXT,
    cancel_reason TEXT,
    progress      INTEGER NOT NULL DEFAULT 0,
    description   TEXT,
    retries_used  INTEGER NOT NULL DEFAULT 0,
    retry_at      INTEGER,
    timeout_at    INTEGER,
    started_at    INTEGER,
    lease_until   INTEGER,
    created_at    INTEGER NOT NULL,
    modified_at   INTEGER NOT NULL
);
-- The invariant: at most one unfinished task per device and module.
CREATE UNIQUE INDEX tasks_one_unfinished ON tasks (product_key, device_name, module_name)
    WHERE status IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS');
CREATE UNIQUE INDEX tasks_job_device ON tasks (job_id, device_id);
CREATE INDEX tasks_job_status ON tasks (job_id, status);
CREATE INDEX tasks_device ON tasks (product_key, device_name, created_at);
-- Without status: a status change then rewrites one index entry fewer (package counts are rare).
CREATE INDEX tasks_firmware ON tasks (firmware_id);
CREATE INDEX tasks_retry_at ON tasks (retry_at) WHERE retry_at IS NOT NULL;
CREATE INDEX tasks_timeout_at ON tasks (timeout_at) WHERE timeout_at IS NOT NULL;

CREATE TABLE access_keys (
    key_id     TEXT PRIMARY KEY,
    secret     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE upload_tokens (
    token      TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    max_size   INTEGER NOT NULL,
    used       INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX upload_tokens_expiry ON upload_tokens (expires_at) WHERE used = 0;

CREATE TABLE kv (
    name  TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
