//! Signing in and out: the password and client-credentials grants (throttled, with
//! rehashing), refresh-token rotation with replay detection, sign-out, and accepting
//! an invitation. These have no confirmed caller yet, so they pass no gate; each
//! leaves exactly one audit event (`auth.*`) when it does anything, as the gate would.

use chrono::Duration;
use domain::{
    audit::{Outcome, RequestMeta},
    identity::{Lockout, Login, PasswordCheck, SignIn, User, Verdict},
};
use uuid::Uuid;

use crate::{
    accounts::{self, Refresh},
    audit::{self, Actor, Subject},
    now, Clinic, Conn, StoreError, StoreResult,
};

/// One sign-in attempt: the login it names, the client address it comes from (the
/// key failures are counted under, with the login) and the secret.
#[derive(Debug, Clone)]
pub struct Attempt {
    pub login: Login,
    pub address: String,
    pub secret: String,
}

/// What presenting a refresh token led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refreshed {
    /// The token was spent and its successor stored, for this active account.
    Rotated { user: User, session_id: Uuid },
    /// Unknown, spent (the whole session is now revoked), expired, or the account is
    /// inactive: callers cannot tell which.
    Refused,
}

/// Who an `auth.*` event is about: the account, when one is known.
fn actor(user: Option<&User>) -> Actor {
    user.map_or_else(Actor::default, |u| Actor {
        organization_id: Some(u.organization_id),
        user_id: Some(u.id),
        role: Some(u.role),
    })
}

fn session_subject(action: &'static str, session_id: Option<Uuid>) -> Subject {
    Subject {
        action,
        resource_type: "session",
        resource_id: session_id.map(|s| s.to_string()),
        client_id: None,
    }
}

fn record(
    conn: &mut Conn,
    user: Option<&User>,
    subject: &Subject,
    outcome: Outcome,
    meta: &RequestMeta,
) -> StoreResult<()> {
    audit::record(conn, actor(user), subject, outcome, meta, now())
}

fn credentials(conn: &mut Conn, login: &Login) -> StoreResult<Option<(User, Option<String>)>> {
    match login {
        Login::Person { email } => accounts::credentials_by_email(conn, email),
        Login::Service { client_id } => {
            // A malformed client id matches nobody; it still costs a hash check.
            let id = Uuid::parse_str(client_id).unwrap_or_else(|_| Uuid::nil());
            accounts::credentials_by_id(conn, id)
        }
    }
}

impl Clinic {
    /// Checks a secret against an account, throttled per (login, address) and per
    /// address by `lockout`, audited either way (`auth.login`).
    ///
    /// Three steps, so that no database connection is held while the secret is
    /// checked: look up (refusing a locked login), check with `passwords`, record the
    /// outcome (failure count or rehash, and the event, in one transaction).
    pub fn sign_in(
        &self,
        attempt: Attempt,
        meta: RequestMeta,
        lockout: Lockout,
        passwords: impl PasswordCheck,
    ) -> StoreResult<SignIn> {
        let Attempt {
            login,
            address,
            secret,
        } = attempt;
        let key = login.throttle_key();
        let (k, a) = (key.clone(), address.clone());
        let found = self.read(move |conn| {
            let now = now();
            match accounts::locked_until(conn, &k, &a, now)? {
                Some(until) => Ok(Err(Lockout::retry_after_secs(until, now))),
                None => Ok(Ok(credentials(conn, &login)?)),
            }
        })?;
        let found = match found {
            Ok(found) => found,
            Err(retry_after_secs) => {
                self.write(move |conn| {
                    record(
                        conn,
                        None,
                        &session_subject("auth.login", None),
                        Outcome::Denied,
                        &meta,
                    )
                })?;
                return Ok(SignIn::Locked { retry_after_secs });
            }
        };
        let known = found.as_ref().map(|(u, _)| u.clone());
        let (user, stored) = match found {
            Some((u, Some(h))) if u.active => (Some(u), Some(h)),
            _ => (None, None),
        };
        let verdict = passwords
            .check(stored.as_deref(), &secret)
            .map_err(|e| StoreError::Unavailable(format!("password check: {e}")))?;
        self.write(move |conn| {
            let now = now();
            let subject = session_subject("auth.login", None);
            match (user, verdict) {
                (Some(user), Verdict::Right { rehashed }) => {
                    // Failures that landed while this one was checked may have locked it.
                    if let Some(until) = accounts::locked_until(conn, &key, &address, now)? {
                        record(conn, Some(&user), &subject, Outcome::Denied, &meta)?;
                        return Ok(SignIn::Locked {
                            retry_after_secs: Lockout::retry_after_secs(until, now),
                        });
                    }
                    if let Some(fresh) = rehashed {
                        accounts::set_password_hash(conn, user.id, &fresh, now)?;
                    }
                    accounts::clear_failures(conn, &key, &address)?;
                    record(conn, Some(&user), &subject, Outcome::Success, &meta)?;
                    Ok(SignIn::Accepted(user))
                }
                _ => {
                    let lock = accounts::record_failure(conn, &key, &address, now, lockout)?;
                    record(conn, known.as_ref(), &subject, Outcome::Failed, &meta)?;
                    Ok(match lock {
                        Some(until) => SignIn::Locked {
                            retry_after_secs: Lockout::retry_after_secs(until, now),
                        },
                        None => SignIn::Refused,
                    })
                }
            }
        })
    }

    /// Starts a login session for a person who just signed in (the sign-in's event
    /// covers it), with its first refresh token, stored as `refresh_hash`.
    pub fn start_session(
        &self,
        user_id: Uuid,
        refresh_hash: String,
        refresh_ttl: Duration,
    ) -> StoreResult<Uuid> {
        self.write(move |conn| {
            accounts::start_session(
                conn,
                user_id,
                &domain::identity::Scopes::default(),
                &refresh_hash,
                now(),
                refresh_ttl,
            )
        })
    }

    /// Spends a refresh token and stores its successor (`auth.refresh`). A spent token
    /// presented again means someone holds a copy: its whole session is revoked
    /// (`auth.refresh_reuse`, denied).
    pub fn refresh(
        &self,
        presented_hash: String,
        next_hash: String,
        ttl: Duration,
        meta: RequestMeta,
    ) -> StoreResult<Refreshed> {
        self.write(move |conn| {
            let outcome = accounts::rotate_refresh(conn, &presented_hash, &next_hash, now(), ttl)?;
            let user = match &outcome {
                Refresh::Rotated { user_id, .. } | Refresh::ReuseDetected { user_id } => {
                    accounts::credentials_by_id(conn, *user_id)?.map(|(u, _)| u)
                }
                Refresh::Invalid => None,
            };
            let (action, result) = match (&outcome, &user) {
                (Refresh::Rotated { .. }, Some(u)) if u.active => {
                    ("auth.refresh", Outcome::Success)
                }
                (Refresh::ReuseDetected { .. }, _) => ("auth.refresh_reuse", Outcome::Denied),
                _ => ("auth.refresh", Outcome::Failed),
            };
            record(
                conn,
                user.as_ref(),
                &session_subject(action, None),
                result,
                &meta,
            )?;
            Ok(match (outcome, user) {
                (Refresh::Rotated { session_id, .. }, Some(user)) if user.active => {
                    Refreshed::Rotated { user, session_id }
                }
                _ => Refreshed::Refused,
            })
        })
    }

    /// Signs out: ends the session of a refresh token (`auth.logout`). An unknown
    /// token changes and records nothing.
    pub fn sign_out(&self, refresh_hash: String, meta: RequestMeta) -> StoreResult<()> {
        self.write(move |conn| {
            let Some((session_id, user_id)) = accounts::session_of_refresh(conn, &refresh_hash)?
            else {
                return Ok(());
            };
            accounts::revoke_session(conn, session_id, "signed out", now())?;
            let user = accounts::credentials_by_id(conn, user_id)?.map(|(u, _)| u);
            record(
                conn,
                user.as_ref(),
                &session_subject("auth.logout", Some(session_id)),
                Outcome::Success,
                &meta,
            )
        })
    }

    /// Spends an invitation and sets the invited account's password
    /// (`auth.invitation_accept`). NotFound for an unknown, spent or expired one.
    pub fn accept_invitation(
        &self,
        token_hash: String,
        password_hash: String,
        meta: RequestMeta,
    ) -> StoreResult<User> {
        // An invitation of an inactive account is spent, and refused.
        let accepted = self.write(move |conn| {
            let Some(user) = accounts::accept_invitation(conn, &token_hash, now())? else {
                return Ok(None);
            };
            accounts::set_password_hash(conn, user.id, &password_hash, now())?;
            let subject = Subject {
                action: "auth.invitation_accept",
                resource_type: "user",
                resource_id: Some(user.id.to_string()),
                client_id: user.client_id,
            };
            record(conn, Some(&user), &subject, Outcome::Success, &meta)?;
            Ok(Some(user))
        })?;
        accepted.ok_or(StoreError::NotFound)
    }
}

/// What a SMART Backend Services client assertion led to, once its signature and
/// claims were checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Assertion {
    /// Its `jti` was new and is now spent.
    Accepted,
    /// Its `jti` was accepted before (by this instance or another).
    Replayed,
}

impl Clinic {
    /// The active service account a client assertion names (`iss`/`sub`, its id)
    /// and its current JWK Set. No caller yet: like a sign-in, this passes no gate.
    pub fn assertion_keys(
        &self,
        client_id: &str,
    ) -> StoreResult<Option<(User, domain::jwks::Jwks)>> {
        let Ok(id) = Uuid::parse_str(client_id) else {
            return Ok(None);
        };
        self.read(move |conn| {
            let user = accounts::credentials_by_id(conn, id)?
                .map(|(u, _)| u)
                .filter(|u| u.active && u.role == domain::identity::Role::Service);
            let Some(user) = user else {
                return Ok(None);
            };
            let keys = crate::service_keys::current(conn, user.id)?;
            Ok(Some((user, keys.jwks)))
        })
    }

    /// Spends a verified assertion's `jti` (kept until `keep_until`) and records the
    /// sign-in (`auth.login`): success, or denied for a replay.
    pub fn accept_assertion(
        &self,
        user: User,
        jti: String,
        keep_until: chrono::DateTime<chrono::Utc>,
        meta: RequestMeta,
    ) -> StoreResult<Assertion> {
        self.write(move |conn| {
            let now = now();
            let fresh =
                crate::service_keys::spend_assertion_id(conn, user.id, &jti, keep_until, now)?;
            let outcome = if fresh {
                Outcome::Success
            } else {
                Outcome::Denied
            };
            let subject = session_subject("auth.login", None);
            record(conn, Some(&user), &subject, outcome, &meta)?;
            Ok(if fresh {
                Assertion::Accepted
            } else {
                Assertion::Replayed
            })
        })
    }

    /// Records a client assertion that failed its checks (`auth.login`, failed),
    /// against the account it named when there is one.
    pub fn refuse_assertion(&self, user: Option<User>, meta: RequestMeta) -> StoreResult<()> {
        self.write(move |conn| {
            let subject = session_subject("auth.login", None);
            record(conn, user.as_ref(), &subject, Outcome::Failed, &meta)
        })
    }
}
