ALTER TABLE audit_events DROP CONSTRAINT audit_events_chained;
DROP TABLE audit_chain_heads;
DROP INDEX audit_by_chain;
ALTER TABLE audit_events
    DROP COLUMN hash,
    DROP COLUMN prev_hash,
    DROP COLUMN chain_seq;
