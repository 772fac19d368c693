-- When a told task (NOTIFIED, IN_PROGRESS) whose device stays silent is pushed again: the
-- first push, or the device's answer, may have been lost.
ALTER TABLE tasks ADD COLUMN nudge_at BIGINT;
CREATE INDEX tasks_nudge_at ON tasks (nudge_at) WHERE nudge_at IS NOT NULL;
