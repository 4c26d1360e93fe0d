-- botflow store, schema version 9 (sqlite): one journal row per durable point.
-- A point's journal entries (13 or so per W1 run, 2-3 per point) used to be a
-- row each, every one a b-tree insert, a foreign-key lookup and a max(seq)
-- subquery inside the group commit. Now a point writes one row holding its
-- entries, in order, as a JSON array of {"kind": ..., "data": ...}; the
-- entries keep their numbers: the row's entries are `seq` ... `last`, and the
-- next point's row starts at `last + 1`, so entry numbers stay gapless per run.

CREATE TABLE journal_points (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    seq     INTEGER NOT NULL,
    last    INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    entries TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

INSERT INTO journal_points (run_id, seq, last, at, entries)
SELECT run_id, seq, seq, at, '[{"kind":' || json_quote(kind) || ',"data":' || data || '}]'
FROM journal;

DROP TABLE journal;

-- Nothing queries events by (name, key, at) on SQLite: the next event for a
-- run is found through events_name_seq (the planner prefers it, since it
-- yields seq order), publishing and reading use the id and the rowid. Every
-- event (about ten per W1 run, most of them the engine's own) paid an insert
-- into this index in the group commit.
DROP INDEX events_name_key_at;

UPDATE meta SET value = '9' WHERE key = 'schema_version';
