-- A batch's pause state (by an operator or its failure gate) and the task counts its failure
-- gate counts from since the last resume, as JSON (`JobControl`); '{}' is running, unpaused.
ALTER TABLE jobs ADD COLUMN control_json TEXT NOT NULL DEFAULT '{}';
