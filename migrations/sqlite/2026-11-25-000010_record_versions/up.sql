-- A version per record that an update can change, for entity tags and If-Match
-- (clients already have one). Every update of a row adds one, in the same
-- statement that checks the version the caller expected.
ALTER TABLE goals ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE episodes ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE users ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE caregiver_links ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE measure_settings ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
