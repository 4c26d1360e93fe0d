-- botflow store, schema version 5: the signed approve/deny links of approval requests.
-- One row per (request, approver, action). The link itself is not stored:
-- it is the row's fields signed with the deployment secret (meta key
-- `link_secret`, or BOTFLOW_SECRET), so the row only records that the token
-- exists and whether it has been used or revoked. A token is used once
-- (`used_at`), in the same transaction as the decision it carries; an
-- escalation revokes the unused tokens of the request it replaces.

CREATE TABLE approval_tokens (
    id          TEXT PRIMARY KEY,
    approval_id TEXT NOT NULL REFERENCES approvals (id),
    approver    TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('approve', 'deny')),
    issued_at   BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT,
    revoked_at  BIGINT
);
CREATE INDEX approval_tokens_approval ON approval_tokens (approval_id);

UPDATE meta SET value = '5' WHERE key = 'schema_version';
