-- Webhooks for integrators. The change log is the outbox: a dispatcher reads it after
-- each organization's cursor and, in one transaction, adds a delivery per matching
-- endpoint and moves the cursor, so a change committed before a crash is still
-- delivered (at least once) after the restart.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    url TEXT NOT NULL,
    -- Space-separated event types; empty: all.
    types TEXT NOT NULL,
    description TEXT,
    -- The signing secret as shown once (`whsec_...`): the server signs with it.
    secret TEXT NOT NULL,
    -- After a rotation, the old secret still signs until this time.
    previous_secret TEXT,
    previous_secret_until TIMESTAMP,
    paused BOOLEAN NOT NULL,
    -- Its version (ETag): every change moves it, so an edit can be made conditional.
    version INTEGER NOT NULL DEFAULT 1,
    -- Changes at or before this place in the log were committed before it existed.
    after_seq BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Deleted endpoints are never delivered to again; their deliveries are kept.
    deleted_at TIMESTAMP
);
CREATE INDEX webhook_endpoints_by_organization ON webhook_endpoints (organization_id, id);

-- How far each organization's changes have been turned into deliveries.
CREATE TABLE webhook_cursors (
    organization_id TEXT PRIMARY KEY,
    seq BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    -- Also the `webhook-id` header: the same on every retry and redelivery.
    id TEXT PRIMARY KEY,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id),
    organization_id TEXT NOT NULL,
    change_seq BIGINT NOT NULL,
    -- The event as sent (no PHI: ids and types).
    event_type TEXT NOT NULL,
    client_id TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    occurred_at TIMESTAMP NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'retrying', 'dead')),
    attempts INTEGER NOT NULL,
    next_attempt_at TIMESTAMP NOT NULL,
    -- An instance sending an attempt holds the lease (compare-and-set) until then.
    lease_owner TEXT,
    lease_until TIMESTAMP,
    last_attempt_at TIMESTAMP,
    last_status INTEGER,
    last_body TEXT,
    last_error TEXT,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (endpoint_id, change_seq)
);
CREATE INDEX webhook_deliveries_by_endpoint ON webhook_deliveries (endpoint_id, id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
