//! Storage errors. Callers see kinds, never SQL text.

use diesel::result::{DatabaseErrorKind, Error as DieselError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The row asked for does not exist (or is outside the caller's organization).
    #[error("not found")]
    NotFound,
    /// The caller's account is inactive or their session revoked.
    #[error("not authenticated")]
    Unauthenticated,
    /// The caller may see the record but not do this to it.
    #[error("forbidden")]
    Forbidden,
    /// The policy allows the caller's account this, but the token's SMART scopes do
    /// not: a token with the right scopes would be let through.
    #[error("insufficient scope")]
    InsufficientScope,
    /// A uniqueness rule would be broken; the text names what clashed.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The update named a version (If-Match) the record is no longer at; nothing
    /// changed. Carries the version it is at now.
    #[error("stale: the record is at version {current}")]
    Stale { current: i32 },
    /// Input broke a domain rule discovered while storing.
    #[error(transparent)]
    Invalid(#[from] domain::Invalid),
    /// The database could not be reached, or the pool is exhausted.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("configuration: {0}")]
    Config(String),
    #[error("migration failed: {0}")]
    Migration(String),
    /// An Idempotency-Key whose first request succeeded: its answer, replayed.
    #[error("replayed")]
    Replayed(Box<crate::idempotency::StoredResponse>),
    /// An Idempotency-Key whose first request is still running.
    #[error("idempotency key in flight")]
    KeyInFlight,
    /// An Idempotency-Key already used for a different request.
    #[error("idempotency key reused")]
    KeyReused,
    /// A sync cursor older than the change log keeps, or ahead of it: start again.
    #[error("sync cursor expired")]
    Gone,
    /// Anything else the database said; logged, never shown.
    #[error("database error: {0}")]
    Database(DieselError),
}

impl From<DieselError> for StoreError {
    fn from(e: DieselError) -> Self {
        match e {
            DieselError::NotFound => StoreError::NotFound,
            DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
                StoreError::Conflict(info.message().to_owned())
            }
            other => StoreError::Database(other),
        }
    }
}

impl From<r2d2::Error> for StoreError {
    fn from(e: r2d2::Error) -> Self {
        StoreError::Unavailable(e.to_string())
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
