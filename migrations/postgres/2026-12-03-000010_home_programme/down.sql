DROP TABLE question_notes;
DROP TABLE questions;
DROP TABLE check_ins;
DROP TABLE practice_logs;
DROP TABLE activity_versions;
DROP TABLE activities;
