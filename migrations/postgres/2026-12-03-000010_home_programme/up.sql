-- Between sessions: the home programme (activities the care team prescribes, linked
-- to a goal), the practice the client logs, check-ins, and questions to the team.

-- A prescribed activity as it stands; its content lives in its versions.
CREATE TABLE activities (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    episode_id TEXT NOT NULL REFERENCES episodes (id),
    goal_id TEXT NOT NULL REFERENCES goals (id),
    status TEXT NOT NULL CHECK (status IN ('active', 'stopped')),
    version INTEGER NOT NULL,
    stopped_on DATE,
    stop_reason TEXT,
    stopped_by TEXT REFERENCES users (id),
    created_by TEXT NOT NULL REFERENCES users (id),
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX activities_by_client ON activities (client_id, episode_id, id);

-- Every version of a prescription stays readable: a change is a new row.
CREATE TABLE activity_versions (
    id TEXT PRIMARY KEY,
    activity_id TEXT NOT NULL REFERENCES activities (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    version INTEGER NOT NULL,
    instructions TEXT NOT NULL,
    times_per_week INTEGER NOT NULL CHECK (times_per_week BETWEEN 1 AND 21),
    sets INTEGER,
    repetitions INTEGER,
    duration_minutes INTEGER,
    start_date DATE NOT NULL,
    end_date DATE,
    effective_from DATE NOT NULL,
    prescribed_by TEXT NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL,
    UNIQUE (activity_id, version)
);

-- Append-only, like measurements: a correction is a new row that supersedes the old.
CREATE TABLE practice_logs (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    activity_id TEXT NOT NULL REFERENCES activities (id),
    performed_at TIMESTAMP NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('done', 'skipped')),
    effort INTEGER CHECK (effort BETWEEN 0 AND 10),
    pain INTEGER CHECK (pain BETWEEN 0 AND 10),
    note TEXT,
    recorded_by TEXT NOT NULL REFERENCES users (id),
    recorded_role TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('final', 'amended', 'entered-in-error')),
    supersedes TEXT REFERENCES practice_logs (id),
    superseded_by TEXT REFERENCES practice_logs (id),
    reason TEXT,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX practice_logs_by_activity ON practice_logs (activity_id, performed_at);
CREATE INDEX practice_logs_by_client ON practice_logs (client_id, id);

CREATE TABLE check_ins (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    mood INTEGER CHECK (mood BETWEEN 0 AND 10),
    pain INTEGER CHECK (pain BETWEEN 0 AND 10),
    fatigue INTEGER CHECK (fatigue BETWEEN 0 AND 10),
    confidence INTEGER CHECK (confidence BETWEEN 0 AND 10),
    note TEXT,
    observed_at TIMESTAMP NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users (id),
    recorded_role TEXT NOT NULL,
    -- What the sharp-drop rule found, space-separated; '' when not flagged.
    concerns TEXT NOT NULL,
    flagged BOOLEAN NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX check_ins_by_client ON check_ins (client_id, observed_at);
CREATE INDEX check_ins_flagged ON check_ins (organization_id, flagged, id);

CREATE TABLE questions (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    body TEXT NOT NULL,
    asked_by TEXT NOT NULL REFERENCES users (id),
    asked_role TEXT NOT NULL,
    asked_at TIMESTAMP NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'answered')),
    answer TEXT,
    answered_by TEXT REFERENCES users (id),
    answered_at TIMESTAMP,
    version INTEGER NOT NULL
);
CREATE INDEX questions_by_client ON questions (client_id, id);
CREATE INDEX questions_open ON questions (organization_id, state, asked_at);

-- The care team's own notes on a question: never shown to the client or caregivers.
CREATE TABLE question_notes (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id),
    client_id TEXT NOT NULL REFERENCES clients (id),
    question_id TEXT NOT NULL REFERENCES questions (id),
    author_id TEXT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX question_notes_by_question ON question_notes (question_id, id);
