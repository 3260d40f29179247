DROP TABLE goal_milestones;
