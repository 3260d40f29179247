-- Idempotency-Key (IETF httpapi draft): the first successful answer to a POST, kept
-- 24 hours so that a retry with the same key replays it instead of writing again.
-- A key belongs to the account that sent it. `state` is 'in-flight' while the first
-- request runs (held until `lease_until`, then another attempt may take it over) and
-- 'done' once its write committed; the row turns 'done' in the write's own transaction.
CREATE TABLE idempotency_keys (
    owner_id TEXT NOT NULL REFERENCES users (id),
    idempotency_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    state TEXT NOT NULL,
    claim_id TEXT NOT NULL,
    lease_until TIMESTAMP NOT NULL,
    response_status INTEGER,
    response_headers TEXT,
    response_body TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (owner_id, idempotency_key)
);
CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
