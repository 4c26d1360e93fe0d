-- botflow store, schema version 12 (postgres): nothing changes here. SQLite's
-- version 12 stores journal rows in commit order (a rowid table and an index
-- on (run_id, seq)); a PostgreSQL heap already appends, and its primary key
-- is that index.
UPDATE meta SET value = '12' WHERE key = 'schema_version';
