-- How far creating a batch's tasks got (`Creation` as JSON; NULL for batches stored before
-- it was recorded), and whether it still runs: a batch is held until its last chunk of
-- tasks commits, and a restarted or other node resumes the batches marked here.
ALTER TABLE jobs ADD COLUMN creation_json TEXT;
ALTER TABLE jobs ADD COLUMN creating BIGINT NOT NULL DEFAULT 0;
CREATE INDEX jobs_creating ON jobs (creating) WHERE creating <> 0;
