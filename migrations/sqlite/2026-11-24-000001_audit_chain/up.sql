-- Tamper evidence: each audit event carries its place in its organization's chain
-- (events with no organization, such as a failed sign-in for an unknown login, form
-- the chain 'none'), the hash of the event before it, and its own hash (SHA-256 over
-- every stored field, computed by persistence::audit). The head table holds each
-- chain's last sequence number and hash; appending locks it.
--
-- Events written before this migration are not hashed (SQLite has no SHA-256 in SQL):
-- they keep NULL chain columns, each chain starts from the all-zero genesis hash, and
-- the head records how many such events the chain had, so verification can tell
-- if any of them later disappear.
ALTER TABLE audit_events ADD COLUMN chain_seq BIGINT;
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_events ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_by_chain ON audit_events (COALESCE(organization_id, 'none'), chain_seq);

CREATE TABLE audit_chain_heads (
    chain TEXT PRIMARY KEY,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL,
    events_before_chain BIGINT NOT NULL
);
INSERT INTO audit_chain_heads (chain, seq, hash, events_before_chain)
SELECT COALESCE(organization_id, 'none'), 0,
       '0000000000000000000000000000000000000000000000000000000000000000', COUNT(*)
FROM audit_events GROUP BY COALESCE(organization_id, 'none');

-- From now on every event is chained, whichever code path writes it.
CREATE TRIGGER audit_events_chained BEFORE INSERT ON audit_events
WHEN NEW.chain_seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL
BEGIN
    SELECT RAISE(ABORT, 'audit events must be chained');
END;
