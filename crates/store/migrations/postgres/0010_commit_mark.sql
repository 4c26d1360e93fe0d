-- botflow store, schema version 10 (postgres): nothing changes here. SQLite's
-- version 10 adds runs.commit_mark for its single-query group commit; the
-- PostgreSQL commit reads its fence's result instead, so it needs no mark.
UPDATE meta SET value = '10' WHERE key = 'schema_version';
