DROP TABLE address_throttle;
DROP TABLE login_throttle;

CREATE TABLE login_throttle (
    login TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_started_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);
