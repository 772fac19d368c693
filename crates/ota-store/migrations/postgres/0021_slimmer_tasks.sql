-- Two task indexes less, each written once per task: creating a million-task batch spent
-- up to a tenth of its time keeping them (docs/benchmarks.md, "Batch creation").
-- `tasks_job_device (job_id, device_id)` repeats the primary key: a task's id is its batch's
-- id, '-' and its device's id, so a batch's task of a device is found by that id, and a
-- batch's tasks in device order are a merge of its ranges of `tasks_job_status (job_id,
-- status, device_id)`, one per state. `tasks_firmware (firmware_id)` repeats the batch: a
-- task's package is its batch's, so a package's tasks are its batches' (`jobs_firmware`).
DROP INDEX tasks_job_device;
DROP INDEX tasks_firmware;
