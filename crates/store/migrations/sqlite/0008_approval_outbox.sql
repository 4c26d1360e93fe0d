-- botflow store, schema version 8: approval notifications owed (an outbox).
-- The durable point that creates an approval request (or finds a reminder
-- due) adds a row here in its own transaction: the notification is owed.
-- Whoever delivers it first claims the row by compare-and-set on
-- `claimed_until` (a claim lapses, so a node that dies mid-delivery does not
-- keep it), and deletes it once delivered. Delivery is thus at least once:
-- a process that dies between the commit and the delivery leaves the row for
-- the next node's sweep. One row per request and reason; owing it again
-- moves `owed_at` and the delete only removes the version it delivered.

CREATE TABLE approval_outbox (
    approval_id   TEXT NOT NULL REFERENCES approvals (id),
    reason        TEXT NOT NULL CHECK (reason IN ('requested', 'reminder')),
    owed_at       BIGINT NOT NULL,
    claimed_by    TEXT,
    claimed_until BIGINT,
    PRIMARY KEY (approval_id, reason)
);
-- Serves the sweep: the oldest owed notifications first.
CREATE INDEX approval_outbox_owed ON approval_outbox (owed_at);

UPDATE meta SET value = '8' WHERE key = 'schema_version';
