-- Tamper evidence: each audit event carries its place in its organization's chain
-- (events with no organization, such as a failed sign-in for an unknown login, form
-- the chain 'none'), the hash of the event before it, and its own hash (SHA-256 over
-- every stored field, computed by persistence::audit). The head table holds each
-- chain's last sequence number and hash; appending locks its row (SELECT ... FOR
-- UPDATE), so instances sharing this database append one at a time per chain.
--
-- Events written before this migration are not hashed (the SQLite schema cannot do
-- it in SQL, and both backends keep one rule): they keep NULL chain columns, each
-- chain starts from the all-zero genesis hash, and the head records how many such
-- events the chain had, so verification can tell if any of them later disappear.
ALTER TABLE audit_events
    ADD COLUMN chain_seq BIGINT,
    ADD COLUMN prev_hash TEXT,
    ADD COLUMN hash TEXT;
CREATE UNIQUE INDEX audit_by_chain ON audit_events ((COALESCE(organization_id, 'none')), chain_seq);

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

-- From now on every event is chained, whichever code path writes it (NOT VALID:
-- the events from before the chain are exempt).
ALTER TABLE audit_events ADD CONSTRAINT audit_events_chained
    CHECK (chain_seq IS NOT NULL AND prev_hash IS NOT NULL AND hash IS NOT NULL) NOT VALID;
