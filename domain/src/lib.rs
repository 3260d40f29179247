//! Headway's clinic model: who people are, what they may do, and the records that
//! belong to a client. Plain Rust: no HTTP, no SQL, so every rule here is testable
//! on its own and every layer above shares one meaning.

pub mod audit;
pub mod change;
pub mod client;
pub mod error;
pub mod goal;
pub mod home;
pub mod identity;
pub mod jwks;
pub mod measure;
pub mod policy;
pub mod progress;
pub mod report;
pub mod smart;
pub mod version;
pub mod webhook;

pub use error::{FieldError, Invalid};

/// A new record id: UUIDv7, so ids sort by creation time and serve as a stable
/// pagination order on every backend.
pub fn new_id() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}
