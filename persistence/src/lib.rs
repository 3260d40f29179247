//! Headway's storage: one diesel code path over SQLite and PostgreSQL.
//!
//! The one door to the data is [`Clinic`]: every operation (`ops/`) passes the gate,
//! which confirms the caller, asks the domain policy, runs the work and writes exactly
//! one audit event, in the same transaction as any change. The queries are private.

/// Modules that tests and tools may open with the `inspect` feature, to look at (and
/// tamper with) what is stored; without it they are private to this crate, so the
/// API cannot reach around `Clinic` and its gate.
macro_rules! inspectable {
    ($($module:ident),+ $(,)?) => {$(
        #[cfg(feature = "inspect")]
        pub mod $module;
        #[cfg(not(feature = "inspect"))]
        #[allow(dead_code)]
        mod $module;
    )+};
}

inspectable!(audit, db, schema, writer);

mod accounts;
mod changes;
mod clients;
mod clinic;
mod error;
mod gate;
mod goals;
mod home;
mod idempotency;
mod measurements;
pub mod ops;
mod reports;
mod rows;
mod service_keys;
pub mod versions;
mod webhooks;

pub use clinic::Clinic;
pub use db::Backend;
pub(crate) use db::{Conn, DbConnection, Pool};
pub use error::{StoreError, StoreResult};
pub use gate::{Abandoned, Caller, ClientWrite, Reached};
pub use idempotency::{Idempotency, Render, StoredResponse};
pub(crate) use writer::Writer;

/// A page of results in a stable order (by id, which is time-ordered UUIDv7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present when more items follow; pass it back as `after` to continue.
    pub next_cursor: Option<String>,
}

/// Where a page starts and how long it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub after: Option<uuid::Uuid>,
    pub limit: u32,
}

impl<T> Page<T> {
    /// Builds a page from `limit + 1` fetched rows: the extra row only says more exist.
    pub(crate) fn from_rows(
        mut items: Vec<T>,
        limit: u32,
        id_of: impl Fn(&T) -> uuid::Uuid,
    ) -> Self {
        let more = items.len() > limit as usize;
        items.truncate(limit as usize);
        let next_cursor = if more {
            items.last().map(|i| id_of(i).to_string())
        } else {
            None
        };
        Page { items, next_cursor }
    }
}

/// UTC now, at microsecond precision: both backends store microseconds, so a value
/// read back equals the value written.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::{SubsecRound, Utc};
    Utc::now().trunc_subsecs(6)
}

#[cfg(test)]
mod gate_tests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod writer_tests;
