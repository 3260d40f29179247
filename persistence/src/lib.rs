//! Headway's storage: one diesel code path over SQLite and PostgreSQL.
//!
//! Every query that touches a client's data is scoped by organization, and every
//! client-data operation goes through [`gate`], which asks the domain policy first
//! and writes exactly one audit event, in the same transaction as any change.

pub mod accounts;
pub mod audit;
pub mod clients;
mod clinic;
pub mod db;
mod error;
pub mod gate;
pub mod goals;
pub mod measurements;
pub mod ops;
mod rows;
pub mod schema;
pub mod writer;

pub use clinic::Clinic;
pub use db::{Backend, Conn, DbConnection, Pool};
pub use error::{StoreError, StoreResult};
pub use gate::{Caller, Reached};
pub use writer::Writer;

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
#[path = "ops/audit_tests.rs"]
mod ops_audit_tests;
#[cfg(test)]
#[path = "ops/care_tests.rs"]
mod ops_care_tests;
#[cfg(test)]
#[path = "ops/clients_tests.rs"]
mod ops_clients_tests;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod writer_tests;
