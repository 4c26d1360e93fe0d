-- botflow store, schema version 2 (postgres): human approval requests and their audit trail.
-- A request's id is derived from `<run id>:<step path>` (plus the escalation
-- count), so creating it again from a replayed durable point does nothing.
-- JSON values (approvers, on_timeout, votes, decision, detail) are TEXT holding JSON.

CREATE TABLE approvals (
    id          TEXT PRIMARY KEY,
    run_id      TEXT NOT NULL REFERENCES runs (id),
    path        TEXT NOT NULL,
    step        TEXT,
    approvers   TEXT NOT NULL,
    group_name  TEXT,
    require_n   INTEGER NOT NULL,
    message     TEXT,
    via         TEXT NOT NULL,
    timeout_ms  BIGINT,
    on_timeout  TEXT,
    escalations INTEGER NOT NULL,
    started_by  TEXT,
    status      TEXT NOT NULL CHECK (status IN
                    ('pending', 'approved', 'denied', 'timed_out', 'escalated')),
    votes       TEXT NOT NULL,
    decision    TEXT,
    created_at  BIGINT NOT NULL,
    due_at      BIGINT,
    decided_at  BIGINT
);
-- Serves `botflow approvals list --status pending` and a run's requests.
CREATE INDEX approvals_status_created ON approvals (status, created_at);
CREATE INDEX approvals_run_path ON approvals (run_id, path, escalations);

CREATE TABLE approval_audit (
    approval_id TEXT NOT NULL REFERENCES approvals (id),
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    who         TEXT,
    channel     TEXT,
    detail      TEXT NOT NULL,
    PRIMARY KEY (approval_id, seq)
);

UPDATE meta SET value = '2' WHERE key = 'schema_version';
