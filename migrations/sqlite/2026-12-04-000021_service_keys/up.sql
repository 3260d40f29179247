-- SMART Backend Services. Each service account's JWK Set (its public keys), as
-- versions: registering a set adds a version and never overwrites the one before,
-- so what verified an assertion at any time can be told afterwards.
CREATE TABLE service_key_sets (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    version INTEGER NOT NULL,
    -- The JWK Set as registered: public keys only, checked before it was stored.
    jwks TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, version)
);

-- Client assertions' `jti`s, kept until shortly after they expire: one is never
-- accepted twice, by any instance (the primary key decides who inserted it first).
CREATE TABLE assertion_ids (
    user_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    PRIMARY KEY (user_id, jti)
);
CREATE INDEX assertion_ids_by_expiry ON assertion_ids (expires_at);
