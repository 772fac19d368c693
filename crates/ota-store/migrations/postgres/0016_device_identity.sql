-- Device identity as fleets provision it (ADR 0012).
-- An operator disables a device (DisableThing): it is refused at CONNECT.
ALTER TABLE devices ADD COLUMN disabled BIGINT NOT NULL DEFAULT 0;
-- Dynamic registration: how and when the device last obtained its credentials (NULL: it
-- did not, or an operator reset it since), and for a device registered without
-- pre-registration (regnwl) the client id and the SHA-256 of the token it connects with.
ALTER TABLE devices ADD COLUMN registered_via TEXT;
ALTER TABLE devices ADD COLUMN registered_at BIGINT;
ALTER TABLE devices ADD COLUMN client_id TEXT;
ALTER TABLE devices ADD COLUMN token_sha256 TEXT;
-- Per product: whether devices may register dynamically (off until an operator allows it),
-- and how many devices registration without pre-registration may create.
ALTER TABLE products ADD COLUMN dynamic_register BIGINT NOT NULL DEFAULT 0;
ALTER TABLE products ADD COLUMN regnwl_quota BIGINT NOT NULL DEFAULT 1000;
