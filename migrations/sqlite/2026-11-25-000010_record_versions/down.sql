ALTER TABLE measure_settings DROP COLUMN version;
ALTER TABLE caregiver_links DROP COLUMN version;
ALTER TABLE users DROP COLUMN version;
ALTER TABLE episodes DROP COLUMN version;
ALTER TABLE goals DROP COLUMN version;
