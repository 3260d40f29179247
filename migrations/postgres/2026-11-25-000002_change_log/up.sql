-- The change log: every change to a client's record, in commit order. Live events,
-- offline sync and webhooks read it. `seq` is handed out from the head row, which a
-- batch locks (UPDATE) just before it commits, so instances sharing the database
-- append one batch at a time: a reader never sees seq N+1 committed before seq N,
-- and a cursor never skips a change that commits late.
CREATE TABLE change_log_head (
    id INTEGER PRIMARY KEY,
    seq BIGINT NOT NULL
);
INSERT INTO change_log_head (id, seq) VALUES (1, 0);

CREATE TABLE changes (
    seq BIGINT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    audience TEXT NOT NULL,
    actor_id TEXT,
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX changes_by_client ON changes (client_id, seq);
CREATE INDEX changes_by_time ON changes (occurred_at);

-- Single-use tickets for opening an event stream from a browser, whose EventSource
-- cannot send an Authorization header: the SHA-256 of the ticket, never the ticket.
CREATE TABLE stream_tickets (
    hash TEXT PRIMARY KEY,
    user_id TEXT NOT NULL,
    session_id TEXT,
    scopes TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
