-- A product's version distribution from one index at a million devices: each reported
-- version carries its device's product (which never changes), so counting a product's
-- module by version reads (product_key, module_name, version) alone instead of joining
-- every report with its device.
ALTER TABLE module_versions ADD COLUMN product_key TEXT NOT NULL DEFAULT '';
UPDATE module_versions SET product_key =
    (SELECT d.product_key FROM devices d WHERE d.id = module_versions.device_id);
CREATE INDEX module_versions_distribution ON module_versions (product_key, module_name, version);
