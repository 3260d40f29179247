DROP INDEX changes_by_organization;
ALTER TABLE changes DROP COLUMN detail;
