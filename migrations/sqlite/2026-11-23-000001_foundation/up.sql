-- Foundation: clinics, people, clients, care teams, caregivers, sessions, audit.
-- Ids are text UUIDv7; timestamps are UTC, the same column types as the
-- PostgreSQL schema so one code path serves both.

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE clients (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    name TEXT NOT NULL,
    preferred_name TEXT,
    date_of_birth DATE,
    email TEXT,
    phone TEXT,
    status TEXT NOT NULL CHECK (status IN ('active', 'discharged')),
    version INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX clients_by_organization ON clients (organization_id, id);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    email TEXT UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'therapist', 'client', 'caregiver', 'service')),
    discipline TEXT,
    client_id TEXT UNIQUE REFERENCES clients (id),
    password_hash TEXT,
    scopes TEXT NOT NULL DEFAULT '',
    active BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX users_by_organization ON users (organization_id, id);

CREATE TABLE client_identifiers (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    system TEXT NOT NULL,
    value TEXT NOT NULL,
    UNIQUE (organization_id, system, value)
);
CREATE INDEX client_identifiers_by_client ON client_identifiers (client_id);

-- Every earlier state of a client record: corrections never overwrite history.
CREATE TABLE client_versions (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    version INTEGER NOT NULL,
    snapshot TEXT NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (client_id, version)
);

CREATE TABLE care_team_members (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    therapist_id TEXT NOT NULL REFERENCES users (id),
    team_role TEXT NOT NULL,
    added_by TEXT NOT NULL REFERENCES users (id),
    added_at TIMESTAMP NOT NULL,
    removed_by TEXT REFERENCES users (id),
    removed_at TIMESTAMP
);
CREATE INDEX care_team_by_client ON care_team_members (client_id, therapist_id);
CREATE INDEX care_team_by_therapist ON care_team_members (therapist_id, client_id);

CREATE TABLE caregiver_links (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    caregiver_id TEXT NOT NULL REFERENCES users (id),
    relationship TEXT,
    permission TEXT NOT NULL CHECK (permission IN ('view', 'contribute')),
    granted_by TEXT NOT NULL REFERENCES users (id),
    granted_at TIMESTAMP NOT NULL,
    revoked_by TEXT REFERENCES users (id),
    revoked_at TIMESTAMP
);
CREATE INDEX caregiver_links_by_client ON caregiver_links (client_id, caregiver_id);
CREATE INDEX caregiver_links_by_caregiver ON caregiver_links (caregiver_id, client_id);

-- One-time tokens that let an invited person set their password.
CREATE TABLE invitations (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP
);

-- A login session: one refresh-token family. Revoking it ends every token in it.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    scope TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_reason TEXT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE refresh_tokens (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    token_hash TEXT NOT NULL UNIQUE,
    issued_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX refresh_tokens_by_session ON refresh_tokens (session_id);

-- Failed sign-ins per login name, for throttling across every API instance.
CREATE TABLE login_throttle (
    login TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_started_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    organization_id TEXT,
    actor_id TEXT,
    actor_role TEXT,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    client_id TEXT,
    outcome TEXT NOT NULL,
    request_id TEXT,
    source_ip TEXT
);
CREATE INDEX audit_by_organization ON audit_events (organization_id, id);
CREATE INDEX audit_by_client ON audit_events (client_id, id);
CREATE INDEX audit_by_actor ON audit_events (actor_id, id);

-- The audit trail is append-only, whoever connects.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
