-- X.509 device certificates (ADR 0014).
-- CA certificates an operator registered for a product: a device presenting a certificate
-- issued by one of them (OU = ProductKey, CN = DeviceName) connects without a password.
-- `ca_id` is the lower-case hex SHA-256 of the certificate's DER.
CREATE TABLE device_cas (
    product_key     TEXT NOT NULL REFERENCES products (product_key),
    ca_id           TEXT NOT NULL,
    certificate_pem TEXT NOT NULL,
    subject         TEXT NOT NULL,
    not_after       BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (product_key, ca_id)
);
-- Device certificates refused whatever their CA says, by serial (lower-case hex, no
-- leading zeros).
CREATE TABLE revoked_certificates (
    product_key TEXT NOT NULL REFERENCES products (product_key),
    serial      TEXT NOT NULL,
    revoked_at  BIGINT NOT NULL,
    PRIMARY KEY (product_key, serial)
);
-- Per product: whether a device with a valid certificate that does not exist yet is
-- created on its first connect (off until an operator allows it).
ALTER TABLE products ADD COLUMN certificate_auto_create BIGINT NOT NULL DEFAULT 0;
