-- botflow store, schema version 7: the bearer tokens of the HTTP API.
-- One row per token. The plaintext is shown once when the token is created
-- and never stored: `token_hash` is the SHA-256 (hex) of it, and the unique
-- index on it is how a request's bearer token is looked up (one indexed read
-- per request). A revoked token keeps its row (`revoked_at`) so `botflow
-- tokens list` can show it and the first-start admin token is not made again.

CREATE TABLE api_tokens (
    id         TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'operator', 'approver', 'viewer')),
    token_hash TEXT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    revoked_at BIGINT
);

UPDATE meta SET value = '7' WHERE key = 'schema_version';
