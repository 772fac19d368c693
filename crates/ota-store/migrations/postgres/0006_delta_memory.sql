-- The most working memory, in bytes, a device said (on inform, `deltaMemory`) it can give to
-- applying a patch; NULL when it set no limit.
ALTER TABLE module_versions ADD COLUMN delta_memory BIGINT;
-- The memory, in bytes, applying a READY delta needs (the whole old image plus the decoder's
-- working memory for a full-old patch, the working memory alone for a streaming one); NULL
-- before READY and for deltas made before this column existed (never given to a device
-- with a limit).
ALTER TABLE package_deltas ADD COLUMN apply_need BIGINT;
