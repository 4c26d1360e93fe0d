-- botflow store, schema version 1 (SQLite).
-- Steps and journal are WITHOUT ROWID: rows are found and written by their
-- primary key only, so one b-tree per table instead of two halves the pages a
-- group commit dirties.
-- Times are epoch milliseconds. JSON values are TEXT holding JSON, stored exactly
-- as written so they round-trip byte for byte (key order included).

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('schema_version', '1');

CREATE TABLE programs (
    hash       TEXT PRIMARY KEY,
    source     TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE runs (
    id           TEXT PRIMARY KEY,
    workflow     TEXT NOT NULL,
    bot          TEXT NOT NULL,
    program_hash TEXT NOT NULL REFERENCES programs (hash),
    status       TEXT NOT NULL CHECK (status IN
                     ('running', 'waiting', 'completed', 'rejected', 'failed', 'cancelled')),
    state        TEXT NOT NULL,
    input        TEXT NOT NULL,
    result       TEXT,
    error        TEXT,
    lease_owner  TEXT,
    lease_epoch  INTEGER NOT NULL DEFAULT 0,
    lease_until  INTEGER,
    wake_at      INTEGER,
    version      INTEGER NOT NULL DEFAULT 0,
    parent_run   TEXT,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
-- Serves "runs with status X" and "waiting runs due by T" (claim, wake-ups).
CREATE INDEX runs_status_wake ON runs (status, wake_at);
CREATE INDEX runs_created ON runs (created_at);
CREATE INDEX runs_workflow_created ON runs (workflow, created_at);
CREATE INDEX runs_parent ON runs (parent_run) WHERE parent_run IS NOT NULL;

CREATE TABLE steps (
    run_id      TEXT NOT NULL REFERENCES runs (id),
    path        TEXT NOT NULL,
    number      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    bot         TEXT,
    attempts    INTEGER NOT NULL,
    status      TEXT NOT NULL CHECK (status IN
                    ('running', 'waiting', 'done', 'failed', 'cancelled')),
    answer      TEXT,
    error       TEXT,
    started_at  INTEGER,
    finished_at INTEGER,
    PRIMARY KEY (run_id, path)
) WITHOUT ROWID;

CREATE TABLE journal (
    run_id TEXT NOT NULL REFERENCES runs (id),
    seq    INTEGER NOT NULL,
    at     INTEGER NOT NULL,
    kind   TEXT NOT NULL,
    data   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) WITHOUT ROWID;

CREATE TABLE events (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    id         TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    key        TEXT,
    target_bot TEXT,
    payload    TEXT,
    from_bot   TEXT,
    from_run   TEXT,
    at         INTEGER NOT NULL
);
CREATE INDEX events_name_seq ON events (name, seq);

CREATE TABLE event_consumption (
    run_id   TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (run_id, event_id)
);

CREATE TABLE bot_memory (
    bot        TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (bot, key)
);

CREATE TABLE bot_memory_history (
    bot         TEXT NOT NULL,
    key         TEXT NOT NULL,
    value       TEXT NOT NULL,
    version     INTEGER NOT NULL,
    replaced_at INTEGER NOT NULL
);
CREATE INDEX bot_memory_history_key ON bot_memory_history (bot, key, version);

CREATE TABLE bot_shared_memory (
    target_bot TEXT NOT NULL,
    key        TEXT NOT NULL,
    source_bot TEXT NOT NULL,
    value      TEXT NOT NULL,
    version    INTEGER NOT NULL,
    shared_at  INTEGER NOT NULL,
    PRIMARY KEY (target_bot, key, source_bot)
);
