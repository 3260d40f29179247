-- What a change says beyond its record (a milestone's kind and value), as JSON text;
-- and the index offline sync reads a clinic's changes by.
ALTER TABLE changes ADD COLUMN detail TEXT;
CREATE INDEX changes_by_organization ON changes (organization_id, seq);
