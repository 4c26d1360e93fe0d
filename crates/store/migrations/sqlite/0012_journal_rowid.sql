-- botflow store, schema version 12 (sqlite): journal rows in commit order.
-- `journal_points` was WITHOUT ROWID, keyed by (run_id, seq): a group commit
-- put its points' rows (a few hundred bytes each) at as many places in that
-- b-tree as it had runs, and every place was a page written to the WAL and
-- synced (about a fifth of a W1 commit's pages). As a rowid table its rows go
-- in at its end, where one commit's rows share a page or two; the index that
-- finds a run's rows holds only the key, and when run ids are time-ordered
-- (the default UUID v7s) the runs in flight have neighbouring keys.

CREATE TABLE journal_points_by_rowid (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    seq     INTEGER NOT NULL,
    last    INTEGER NOT NULL,
    at      INTEGER NOT NULL,
    entries TEXT NOT NULL
);

INSERT INTO journal_points_by_rowid (run_id, seq, last, at, entries)
SELECT run_id, seq, last, at, entries FROM journal_points ORDER BY at, run_id, seq;

DROP TABLE journal_points;
ALTER TABLE journal_points_by_rowid RENAME TO journal_points;
CREATE UNIQUE INDEX journal_points_run_seq ON journal_points (run_id, seq);

UPDATE meta SET value = '12' WHERE key = 'schema_version';
