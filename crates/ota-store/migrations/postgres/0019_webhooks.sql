-- Signed webhooks (ADR 0016): operators' endpoints, an outbox of events written in the
-- transaction of the change they describe, and one delivery row per event and endpoint.
CREATE TABLE webhooks (
    webhook_id  TEXT PRIMARY KEY,
    url         TEXT NOT NULL,
    -- The signing secret, sealed with the server key (never plain).
    secret      TEXT NOT NULL,
    -- '*' for every event, else the types between commas: ',batch.created,task.status_changed,'
    events      TEXT NOT NULL,
    description TEXT,
    enabled     BIGINT NOT NULL DEFAULT 1,
    created_at  BIGINT NOT NULL,
    modified_at BIGINT NOT NULL
);
-- The outbox: append-only; `seq` is the order events happened in.
CREATE TABLE webhook_events (
    seq          BIGSERIAL PRIMARY KEY,
    event_id     TEXT NOT NULL UNIQUE,
    event_type   TEXT NOT NULL,
    event_time   BIGINT NOT NULL,
    -- The batch id for events of a batch (delivered in order per endpoint), else ''.
    ordering_key TEXT NOT NULL,
    -- The envelope's `data`, JSON.
    data         TEXT NOT NULL
);
-- One event to one endpoint: PENDING until a 2xx (DELIVERED) or 24 h after the event (FAILED).
CREATE TABLE webhook_deliveries (
    webhook_id      TEXT NOT NULL,
    seq             BIGINT NOT NULL,
    ordering_key    TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    expires_at      BIGINT NOT NULL,
    last_attempt_at BIGINT,
    -- The HTTP status of the last answer, or NULL when none came (see last_error).
    last_status     BIGINT,
    last_error      TEXT,
    delivered_at    BIGINT,
    PRIMARY KEY (webhook_id, seq)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, ordering_key, status, seq);
