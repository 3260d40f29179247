-- Failed sign-ins are counted per (login, client address), so that failures from one
-- address lock that login for that address only, and per address across logins, to
-- stop password spraying. The old per-login counts are dropped: they only ever matter
-- for one window.
DROP TABLE login_throttle;

CREATE TABLE login_throttle (
    login TEXT NOT NULL,
    address TEXT NOT NULL,
    failures INTEGER NOT NULL,
    window_started_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP,
    PRIMARY KEY (login, address)
);
CREATE INDEX login_throttle_by_window ON login_throttle (window_started_at);

CREATE TABLE address_throttle (
    address TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_started_at TIMESTAMP NOT NULL,
    locked_until TIMESTAMP
);
CREATE INDEX address_throttle_by_window ON address_throttle (window_started_at);
