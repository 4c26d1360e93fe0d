-- botflow store, schema version 9 (postgres): one journal row per durable point.
-- A point's journal entries used to be a row each; now a point writes one row
-- holding its entries, in order, as a JSON array (TEXT) of
-- {"kind": ..., "data": ...}. The row's entries are numbered `seq` ... `last`,
-- and the next point's row starts at `last + 1`, so entry numbers stay
-- gapless per run.

CREATE TABLE journal_points (
    run_id  TEXT NOT NULL REFERENCES runs (id),
    seq     BIGINT NOT NULL,
    last    BIGINT NOT NULL,
    at      BIGINT NOT NULL,
    entries TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);

INSERT INTO journal_points (run_id, seq, last, at, entries)
SELECT run_id, seq, seq, at, '[{"kind":' || to_json(kind)::text || ',"data":' || data || '}]'
FROM journal;

DROP TABLE journal;

UPDATE meta SET value = '9' WHERE key = 'schema_version';
