-- A product's devices in id order: creating a batch's tasks walks them by id range, chunk
-- by chunk. Without it each chunk searched the (product_key, device_name) index for the
-- whole product and kept the ids in range, so a million-device batch read the product's
-- index two hundred times over.
CREATE INDEX devices_product_id ON devices (product_key, id);
