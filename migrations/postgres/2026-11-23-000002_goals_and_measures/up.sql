-- Episodes of care, goals set together, outcome measures and measurements.

CREATE TABLE episodes (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    reason_for_referral TEXT NOT NULL,
    diagnoses TEXT NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE,
    status TEXT NOT NULL CHECK (status IN ('planned', 'active', 'finished', 'cancelled')),
    goal_count INTEGER NOT NULL,
    -- Bumped by every change that affects progress; the cached view names the
    -- version it was computed from, so a stale cache is never served.
    progress_version BIGINT NOT NULL,
    progress_cache TEXT,
    progress_cache_version BIGINT,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX episodes_by_client ON episodes (client_id, id);

CREATE TABLE goals (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    episode_id TEXT NOT NULL REFERENCES episodes (id),
    label TEXT NOT NULL,
    term TEXT NOT NULL CHECK (term IN ('long-term', 'short-term')),
    parent_id TEXT REFERENCES goals (id),
    child_count INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('proposed', 'active', 'on-hold', 'achieved', 'not-achieved', 'cancelled')),
    expressed_by TEXT NOT NULL CHECK (expressed_by IN ('client', 'team')),
    revision INTEGER NOT NULL,
    client_agreed BOOLEAN NOT NULL,
    team_agreed BOOLEAN NOT NULL,
    -- The current revision, kept beside the goal for reads.
    client_words TEXT NOT NULL,
    statement TEXT NOT NULL,
    occupation_area TEXT NOT NULL,
    importance INTEGER NOT NULL CHECK (importance BETWEEN 1 AND 10),
    start_date DATE NOT NULL,
    target_date DATE,
    measure_code TEXT,
    target_value DOUBLE PRECISION,
    gas TEXT,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (episode_id, label)
);
CREATE INDEX goals_by_episode ON goals (episode_id, id);
CREATE INDEX goals_by_client ON goals (client_id, id);

-- Every revision stays readable.
CREATE TABLE goal_revisions (
    id TEXT PRIMARY KEY,
    goal_id TEXT NOT NULL REFERENCES goals (id),
    revision INTEGER NOT NULL,
    client_words TEXT NOT NULL,
    statement TEXT NOT NULL,
    occupation_area TEXT NOT NULL,
    importance INTEGER NOT NULL,
    start_date DATE NOT NULL,
    target_date DATE,
    measure_code TEXT,
    target_value DOUBLE PRECISION,
    gas TEXT,
    proposed_by TEXT NOT NULL REFERENCES users (id),
    proposed_side TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (goal_id, revision)
);

CREATE TABLE goal_agreements (
    id TEXT PRIMARY KEY,
    goal_id TEXT NOT NULL REFERENCES goals (id),
    revision INTEGER NOT NULL,
    side TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    agreed_at TIMESTAMP NOT NULL
);
CREATE INDEX goal_agreements_by_goal ON goal_agreements (goal_id, revision);

-- What happened to a goal, in order: proposed, revised, agreed, status changes.
CREATE TABLE goal_events (
    id TEXT PRIMARY KEY,
    goal_id TEXT NOT NULL REFERENCES goals (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    kind TEXT NOT NULL,
    status TEXT NOT NULL,
    revision INTEGER NOT NULL,
    actor_id TEXT NOT NULL REFERENCES users (id),
    occurred_at TIMESTAMP NOT NULL
);
CREATE INDEX goal_events_by_goal ON goal_events (goal_id, id);
CREATE INDEX goal_events_by_client ON goal_events (client_id, id);

CREATE TABLE goal_comments (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    goal_id TEXT NOT NULL REFERENCES goals (id),
    author_id TEXT NOT NULL REFERENCES users (id),
    author_role TEXT NOT NULL,
    body TEXT NOT NULL,
    -- Team-only notes are never shown to the client or caregivers.
    team_only BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX goal_comments_by_goal ON goal_comments (goal_id, id);

-- Measures a clinic defines for itself (the built-in catalogue lives in code).
CREATE TABLE outcome_measures (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    unit TEXT,
    min_value DOUBLE PRECISION NOT NULL,
    max_value DOUBLE PRECISION NOT NULL,
    step DOUBLE PRECISION NOT NULL,
    direction TEXT NOT NULL,
    meaningful_change DOUBLE PRECISION NOT NULL,
    reporters TEXT NOT NULL,
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    UNIQUE (organization_id, code)
);

-- Never overwritten or deleted: a correction is a new row that supersedes the old.
CREATE TABLE measurements (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    episode_id TEXT NOT NULL REFERENCES episodes (id),
    goal_id TEXT REFERENCES goals (id),
    measure_code TEXT NOT NULL,
    observed_at TIMESTAMP NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('therapist', 'client', 'caregiver', 'imported')),
    recorded_by TEXT NOT NULL REFERENCES users (id),
    reported TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    satisfaction DOUBLE PRECISION,
    note TEXT,
    status TEXT NOT NULL CHECK (status IN ('final', 'amended', 'entered-in-error')),
    supersedes TEXT REFERENCES measurements (id),
    superseded_by TEXT REFERENCES measurements (id),
    reason TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX measurements_by_goal ON measurements (goal_id, measure_code, observed_at);
CREATE INDEX measurements_by_episode ON measurements (episode_id, measure_code, observed_at);
