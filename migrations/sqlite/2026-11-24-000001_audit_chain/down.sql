DROP TRIGGER audit_events_chained;
DROP TABLE audit_chain_heads;
DROP INDEX audit_by_chain;
ALTER TABLE audit_events DROP COLUMN hash;
ALTER TABLE audit_events DROP COLUMN prev_hash;
ALTER TABLE audit_events DROP COLUMN chain_seq;
