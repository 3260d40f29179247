-- Progress reports for a period of an episode of care. The figures are frozen as
-- drafted (JSON, the domain's ReportFigures); the therapist's assessment and plan are
-- edited as new draft versions (each kept in progress_report_versions); once signed,
-- the report never changes (the database refuses it too) and corrections are signed
-- addenda.
CREATE TABLE progress_reports (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    episode_id TEXT NOT NULL REFERENCES episodes (id),
    period_start DATE NOT NULL,
    period_end DATE NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('draft', 'signed')),
    figures TEXT NOT NULL,
    assessment TEXT NOT NULL,
    plan TEXT NOT NULL,
    drafted_by TEXT NOT NULL,
    signed_by TEXT,
    signed_name TEXT,
    signed_discipline TEXT,
    signed_at TIMESTAMP,
    version INTEGER NOT NULL DEFAULT 1,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX progress_reports_by_episode ON progress_reports (client_id, episode_id, id);

-- Every draft version's narrative, append-only: what the report said at each version.
CREATE TABLE progress_report_versions (
    id TEXT PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES progress_reports (id),
    version INTEGER NOT NULL,
    assessment TEXT NOT NULL,
    plan TEXT NOT NULL,
    edited_by TEXT NOT NULL,
    edited_at TIMESTAMP NOT NULL,
    UNIQUE (report_id, version)
);

-- Signed corrections or additions to a signed report, each signed by its author.
CREATE TABLE progress_report_addenda (
    id TEXT PRIMARY KEY,
    report_id TEXT NOT NULL REFERENCES progress_reports (id),
    organization_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    body TEXT NOT NULL,
    signed_by TEXT NOT NULL,
    signed_name TEXT NOT NULL,
    signed_discipline TEXT,
    signed_at TIMESTAMP NOT NULL
);
CREATE INDEX progress_report_addenda_by_report ON progress_report_addenda (report_id, id);

CREATE FUNCTION progress_reports_signed_never_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'progress reports are never deleted';
    END IF;
    IF OLD.status = 'signed' THEN
        RAISE EXCEPTION 'a signed progress report never changes';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER progress_reports_signed_never_change BEFORE UPDATE OR DELETE ON progress_reports
    FOR EACH ROW EXECUTE FUNCTION progress_reports_signed_never_change();
CREATE FUNCTION progress_report_addenda_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'addenda are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER progress_report_addenda_no_update BEFORE UPDATE OR DELETE ON progress_report_addenda
    FOR EACH ROW EXECUTE FUNCTION progress_report_addenda_append_only();
