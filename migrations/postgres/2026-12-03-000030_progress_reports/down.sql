DROP TABLE progress_report_addenda;
DROP TABLE progress_report_versions;
DROP TABLE progress_reports;
DROP FUNCTION progress_report_addenda_append_only();
DROP FUNCTION progress_reports_signed_never_change();
