-- A device's tasks keyed by its id instead of its name. Creating a batch walks the product's
-- devices by id, so each chunk of new tasks lands in one narrow range of these indexes;
-- keyed by name (random for registered devices) every chunk touched pages all over them,
-- and a million-device batch wrote gigabytes of index pages (docs/benchmarks.md, "Batch
-- creation"). A device's id and its (product, name) are one-to-one, so the invariant is
-- the same: at most one unfinished task per device and module.
DROP INDEX tasks_one_unfinished;
CREATE UNIQUE INDEX tasks_one_unfinished ON tasks (device_id, module_name)
    WHERE status IN ('CONFIRM', 'QUEUED', 'NOTIFIED', 'IN_PROGRESS');
DROP INDEX tasks_device;
CREATE INDEX tasks_device ON tasks (device_id, created_at);
