DROP TABLE measurements;
DROP TABLE outcome_measures;
DROP TABLE goal_comments;
DROP TABLE goal_events;
DROP TABLE goal_agreements;
DROP TABLE goal_revisions;
DROP TABLE goals;
DROP TABLE episodes;
