//! Idempotency-Key (IETF httpapi draft): a retried POST replays the first answer
//! instead of writing again.
//!
//! A key belongs to the account that sent it (another account's same key is another
//! key) and lives 24 hours. The write passes in two steps:
//!
//! 1. **Claim**, in its own short transaction: no row yet, the key is taken
//!    `in-flight` with a lease; a `done` row with the same fingerprint (method, path,
//!    body hash) is replayed; another fingerprint is [`StoreError::KeyReused`]; a live
//!    lease is [`StoreError::KeyInFlight`]; an expired lease is taken over.
//! 2. **Complete**, inside the write's own transaction, after the operation
//!    succeeded: the row becomes `done` with the rendered answer. A crash can never
//!    leave "written but not recorded" nor "recorded but not written". A write that
//!    fails or is refused releases the claim: only successful answers are kept, and a
//!    retry runs again.
//!
//! What is stored cannot be read without the key itself, which only the caller holds:
//! the key is kept as its SHA-256, and the answer (which may carry health data, or a
//! secret shown once, such as a service account's) is sealed with ChaCha20-Poly1305
//! under a key derived from the caller's key and the claim.

use std::{any::Any, fmt, sync::Arc};

use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::{aead::Aead, ChaCha20Poly1305, Key, KeyInit, Nonce};
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{now, schema::idempotency_keys as keys, Caller, Conn, StoreError, StoreResult, Writer};

/// How long a first attempt holds its key before a retry may take it over.
const LEASE_SECS: i64 = 60;
/// How long a key and its answer are kept.
pub const KEEP_HOURS: i64 = 24;

const IN_FLIGHT: &str = "in-flight";
const DONE: &str = "done";

/// An answer as sent: status, the headers that belong to it (Location,
/// Content-Type), and the body.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct StoredResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Renders an operation's result (as `&dyn Any`, downcast to the type the handler
/// expects) to the answer it sends; `None` when the type is not that one.
pub type Render = dyn Fn(&dyn Any) -> Option<StoredResponse> + Send + Sync;

/// A request's Idempotency-Key, its fingerprint, and how to render its answer.
#[derive(Clone)]
pub struct Idempotency {
    /// The key as sent: never stored, only its digest and what it seals.
    key: String,
    fingerprint: String,
    render: Arc<Render>,
}

impl Idempotency {
    pub fn new(key: String, fingerprint: String, render: Arc<Render>) -> Self {
        Idempotency {
            key,
            fingerprint,
            render,
        }
    }
}

impl fmt::Debug for Idempotency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Idempotency")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// A key this attempt holds.
#[derive(Clone)]
struct Claim {
    owner: String,
    /// The stored form of the key (its digest).
    key: String,
    /// The key as sent, which seals the stored answer.
    secret: String,
    claim_id: String,
    render: Arc<Render>,
}

enum Taken {
    Claimed,
    Replay(StoredResponse),
    InFlight,
    Reused,
}

/// Runs a write's `attempt` through the writer, once per key when the caller sent
/// one. The outer `Err` is an answer given without running it (a replay, a key in
/// flight, a key reused): nothing was written, so nothing is audited.
pub(crate) fn once<T, F>(
    writer: &Writer,
    caller: &Caller,
    attempt: F,
) -> StoreResult<StoreResult<Result<T, StoreError>>>
where
    T: Send + 'static,
    F: FnOnce(&mut Conn) -> StoreResult<Result<T, StoreError>> + Send + 'static,
{
    let Some(request) = &caller.idempotency else {
        return Ok(writer.run(attempt));
    };
    let claim = claim(writer, caller.who.user_id, request)?;
    let held = claim.clone();
    let result = writer.run(move |conn| {
        let answer = attempt(conn)?;
        if let Ok(value) = &answer {
            held.complete(conn, value)?;
        }
        Ok(answer)
    });
    if !matches!(result, Ok(Ok(_))) {
        claim.release(writer);
    }
    Ok(result)
}

fn claim(writer: &Writer, owner: Uuid, request: &Idempotency) -> StoreResult<Claim> {
    let claim = Claim {
        owner: owner.to_string(),
        key: digest(&request.key),
        secret: request.key.clone(),
        claim_id: Uuid::now_v7().to_string(),
        render: request.render.clone(),
    };
    let fingerprint = request.fingerprint.clone();
    let take = |claim: &Claim| {
        let (owner, key, id) = (
            claim.owner.clone(),
            claim.key.clone(),
            claim.claim_id.clone(),
        );
        let fingerprint = fingerprint.clone();
        let secret = claim.secret.clone();
        writer.run(move |conn| take(conn, &owner, &key, &secret, &fingerprint, &id))
    };
    // Two instances may insert the same new key at once: the loser looks again.
    let taken = match take(&claim) {
        Err(StoreError::Conflict(_)) => take(&claim)?,
        other => other?,
    };
    match taken {
        Taken::Claimed => Ok(claim),
        Taken::Replay(response) => Err(StoreError::Replayed(Box::new(response))),
        Taken::InFlight => Err(StoreError::KeyInFlight),
        Taken::Reused => Err(StoreError::KeyReused),
    }
}

type Row = (
    String,
    String,
    String,
    NaiveDateTime,
    Option<i32>,
    Option<String>,
    Option<String>,
);

fn take(
    conn: &mut Conn,
    owner: &str,
    key: &str,
    secret: &str,
    fingerprint: &str,
    id: &str,
) -> StoreResult<Taken> {
    let at = now().naive_utc();
    // Expired keys go opportunistically, with any claim.
    diesel::delete(keys::table.filter(keys::created_at.lt(at - Duration::hours(KEEP_HOURS))))
        .execute(conn)?;
    let lease_until = at + Duration::seconds(LEASE_SECS);
    let this = keys::table
        .filter(keys::owner_id.eq(owner))
        .filter(keys::idempotency_key.eq(key));
    let found: Option<Row> = this
        .select((
            keys::fingerprint,
            keys::state,
            keys::claim_id,
            keys::lease_until,
            keys::response_status,
            keys::response_headers,
            keys::response_body,
        ))
        .first(conn)
        .optional()?;
    let Some((stored_fingerprint, state, holder, lease, status, headers, body)) = found else {
        diesel::insert_into(keys::table)
            .values((
                keys::owner_id.eq(owner),
                keys::idempotency_key.eq(key),
                keys::fingerprint.eq(fingerprint),
                keys::state.eq(IN_FLIGHT),
                keys::claim_id.eq(id),
                keys::lease_until.eq(lease_until),
                keys::created_at.eq(at),
            ))
            .execute(conn)?;
        return Ok(Taken::Claimed);
    };
    if stored_fingerprint != fingerprint {
        return Ok(Taken::Reused);
    }
    if state == DONE {
        let headers = serde_json::from_str(headers.as_deref().unwrap_or("[]"))
            .map_err(|e| StoreError::Config(format!("stored idempotent answer: {e}")))?;
        let body = open(
            &seal_key(owner, secret, &holder),
            body.as_deref().unwrap_or(""),
        )?;
        return Ok(Taken::Replay(StoredResponse {
            status: u16::try_from(status.unwrap_or(200)).unwrap_or(200),
            headers,
            body,
        }));
    }
    if lease > at {
        return Ok(Taken::InFlight);
    }
    // The first attempt's lease ran out (it crashed or stalled): take it over.
    let moved = diesel::update(this.filter(keys::claim_id.eq(&holder)))
        .set((keys::claim_id.eq(id), keys::lease_until.eq(lease_until)))
        .execute(conn)?;
    Ok(if moved == 1 {
        Taken::Claimed
    } else {
        Taken::InFlight
    })
}

impl Claim {
    /// Inside the write's transaction: the key becomes `done` with the answer. If
    /// another attempt took the key over meanwhile, this write rolls back (409).
    fn complete(&self, conn: &mut Conn, value: &dyn Any) -> StoreResult<()> {
        let response = (self.render)(value).ok_or_else(|| {
            StoreError::Config("idempotency: the result is not of the type rendered".into())
        })?;
        let headers = serde_json::to_string(&response.headers)
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let done = diesel::update(
            keys::table
                .filter(keys::owner_id.eq(&self.owner))
                .filter(keys::idempotency_key.eq(&self.key))
                .filter(keys::claim_id.eq(&self.claim_id))
                .filter(keys::state.eq(IN_FLIGHT)),
        )
        .set((
            keys::state.eq(DONE),
            keys::response_status.eq(i32::from(response.status)),
            keys::response_headers.eq(headers),
            keys::response_body.eq(seal(
                &seal_key(&self.owner, &self.secret, &self.claim_id),
                &response.body,
            )?),
        ))
        .execute(conn)?;
        if done == 1 {
            Ok(())
        } else {
            Err(StoreError::KeyInFlight)
        }
    }

    /// After a failed or refused write: the key is free again (only successful
    /// answers are kept). Should this fail, the lease runs out instead.
    fn release(&self, writer: &Writer) {
        let (owner, key, id) = (self.owner.clone(), self.key.clone(), self.claim_id.clone());
        let released = writer.run(move |conn| {
            diesel::delete(
                keys::table
                    .filter(keys::owner_id.eq(owner))
                    .filter(keys::idempotency_key.eq(key))
                    .filter(keys::claim_id.eq(id))
                    .filter(keys::state.eq(IN_FLIGHT)),
            )
            .execute(conn)
            .map_err(StoreError::from)
        });
        if let Err(e) = released {
            tracing::warn!(error = %e, "idempotency key not released; its lease will run out");
        }
    }
}

/// How a key is stored: its SHA-256, so the table alone cannot open what it seals.
fn digest(key: &str) -> String {
    let hash = Sha256::digest(key.as_bytes());
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// The sealing key for one claim's answer. The claim id is unique, so a key is used
/// for one message only, and the zero nonce is never reused under it.
fn seal_key(owner: &str, secret: &str, claim_id: &str) -> Key {
    let mut hash = Sha256::new();
    for part in ["headway idempotent answer v1", owner, secret, claim_id] {
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize()
}

fn seal(key: &Key, body: &str) -> StoreResult<String> {
    let sealed = ChaCha20Poly1305::new(key)
        .encrypt(&Nonce::default(), body.as_bytes())
        .map_err(|_| StoreError::Config("idempotency: the answer could not be sealed".into()))?;
    Ok(STANDARD.encode(sealed))
}

fn open(key: &Key, stored: &str) -> StoreResult<String> {
    let unreadable = || StoreError::Config("idempotency: a stored answer is unreadable".into());
    let sealed = STANDARD.decode(stored).map_err(|_| unreadable())?;
    let body = ChaCha20Poly1305::new(key)
        .decrypt(&Nonce::default(), sealed.as_slice())
        .map_err(|_| unreadable())?;
    String::from_utf8(body).map_err(|_| unreadable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_answer_opens_only_with_the_key_it_was_sealed_under() {
        let key = seal_key("owner", "key-1", "claim");
        let sealed = seal(&key, r#"{"client_secret":"s3cret"}"#).unwrap_or_default();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            open(&key, &sealed).ok().as_deref(),
            Some(r#"{"client_secret":"s3cret"}"#)
        );
        for other in [
            seal_key("owner", "key-2", "claim"),
            seal_key("other", "key-1", "claim"),
            seal_key("owner", "key-1", "claim-2"),
        ] {
            assert!(open(&other, &sealed).is_err());
        }
        assert_ne!(digest("key-1"), "key-1");
        assert_eq!(digest("key-1").len(), 64);
    }
}
