-- Reads of a million-task batch without scanning it (docs/benchmarks.md, "Everyday reads").
-- A batch's task list by state goes in device order: a page is a range of this index,
-- found by keyset (`after`) or, for a page number, by skipping index entries alone.
DROP INDEX tasks_job_status;
CREATE INDEX tasks_job_status ON tasks (job_id, status, device_id);
-- A batch's counts by state and reason are read from this index alone.
CREATE INDEX tasks_job_counts ON tasks (job_id, status, queued_reason, failure, cancel_reason);
-- The online devices, few beside a fleet: QUEUED tasks that wait for the push rate rather
-- than for their device are counted from here.
CREATE INDEX devices_online ON devices (id) WHERE online = 1;
-- Device names by prefix as a range: bytewise ("C") order, whatever the database's
-- collation, where a prefix is always one range.
CREATE INDEX devices_name_bytes ON devices (product_key, device_name COLLATE "C");
