-- botflow store, schema version 11 (sqlite): events numbered by their rowid.
-- `events.seq` was `INTEGER PRIMARY KEY AUTOINCREMENT`, which makes every
-- insert read and rewrite the `sqlite_sequence` row: one more page in nearly
-- every group commit (about ten events per W1 run, most of them the engine's
-- own). A plain `INTEGER PRIMARY KEY` numbers a new row one past the largest
-- rowid, and events are never deleted, so numbers still only grow and are
-- never reused: cursors over `seq` keep their meaning. (A future retention
-- that deletes events must never delete the newest one.)

CREATE TABLE events_by_rowid (
    seq        INTEGER PRIMARY KEY,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    key        TEXT,
    target_bot TEXT,
    payload    TEXT,
    from_bot   TEXT,
    from_run   TEXT,
    at         INTEGER NOT NULL
);

INSERT INTO events_by_rowid (seq, id, name, key, target_bot, payload, from_bot, from_run, at)
SELECT seq, id, name, key, target_bot, payload, from_bot, from_run, at FROM events ORDER BY seq;

DROP TABLE events;
ALTER TABLE events_by_rowid RENAME TO events;
CREATE INDEX events_name_seq ON events (name, seq);
DELETE FROM sqlite_sequence WHERE name = 'events';

UPDATE meta SET value = '11' WHERE key = 'schema_version';
