-- botflow store, schema version 6: the `SET SCHEDULE` headers of the deployment.
-- One row per scheduled workflow (`key` is `bot/workflow`). `next_tick` is the
-- next tick that has not started its run yet (epoch ms, whole seconds). Firing
-- a tick moves it forward with a compare-and-set in the same transaction that
-- creates the tick's run, so a tick is started once however many workers race
-- and whenever one dies. A restart with an unchanged schedule keeps the row, so
-- ticks missed while nothing ran are started on the next pass (none skipped);
-- a changed schedule text starts over from its first tick after the change.

CREATE TABLE schedules (
    key          TEXT PRIMARY KEY,
    schedule     TEXT NOT NULL,
    program_hash TEXT NOT NULL,
    next_tick    BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX schedules_next_tick ON schedules (next_tick);

UPDATE meta SET value = '6' WHERE key = 'schema_version';
