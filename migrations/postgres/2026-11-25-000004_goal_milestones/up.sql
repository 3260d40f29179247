-- Where each goal's value milestones stand (baseline, best, meaningful change reached,
-- the latest value), so recording a value tells what it reaches without reading the
-- goal's values again. Kept for one revision and measure of the goal; a correction
-- forgets it, and the next value reads them all once.
CREATE TABLE goal_milestones (
    goal_id TEXT PRIMARY KEY,
    revision INTEGER NOT NULL,
    measure_code TEXT NOT NULL,
    state TEXT NOT NULL
);
