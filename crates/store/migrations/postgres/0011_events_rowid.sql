-- botflow store, schema version 11 (postgres): nothing changes here. SQLite's
-- version 11 numbers events by their rowid instead of AUTOINCREMENT; the
-- PostgreSQL sequence behind `events.seq` has no such per-insert cost.
UPDATE meta SET value = '11' WHERE key = 'schema_version';
