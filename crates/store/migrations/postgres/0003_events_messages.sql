-- botflow store, schema version 3 (postgres): event waits, handler deliveries,
-- messages to runs (HEAR) and trigger cursors.
-- `event_consumption` (version 1) records which events (and messages) a run
-- consumed, in the durable point that recorded the answer; `event_deliveries`
-- which events ran a run's ON EVENT handlers. `event_waits` is what a waiting
-- run waits for, replaced by each of its waiting points, so a publish finds
-- the runs to wake with one indexed join instead of scanning waiting runs.

CREATE TABLE event_deliveries (
    run_id   TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (run_id, event_id)
);

CREATE TABLE event_waits (
    run_id  TEXT NOT NULL,
    name    TEXT NOT NULL,
    key     TEXT,
    handler INTEGER NOT NULL
);
-- Serves the wake-up of a publish (by name and key) and the replacement of a run's waits.
CREATE INDEX event_waits_name_key ON event_waits (name, key);
CREATE INDEX event_waits_run ON event_waits (run_id);

-- Serves "the next matching event for this run" (name, key, published after the run started).
CREATE INDEX events_name_key_at ON events (name, key, at);

CREATE TABLE run_messages (
    id     TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id),
    seq    BIGINT NOT NULL,
    text   TEXT NOT NULL,
    at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX run_messages_run_seq ON run_messages (run_id, seq);

CREATE TABLE event_cursors (
    name TEXT PRIMARY KEY,
    seq  BIGINT NOT NULL
);

UPDATE meta SET value = '3' WHERE key = 'schema_version';
