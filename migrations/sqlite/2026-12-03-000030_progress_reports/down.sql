DROP TABLE progress_report_addenda;
DROP TABLE progress_report_versions;
DROP TABLE progress_reports;
