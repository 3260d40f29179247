-- A clinic's choice of whose values a measure's figures follow (therapist-assessed,
-- client-reported...), where it differs from the built-in rule.
CREATE TABLE measure_settings (
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    measure_code TEXT NOT NULL,
    primary_source TEXT NOT NULL,
    updated_by TEXT NOT NULL REFERENCES users (id),
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (organization_id, measure_code)
);
