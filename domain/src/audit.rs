//! The audit trail: an append-only account of who touched which record, and how it went.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::identity::{text_enum, Role};

text_enum!(
    /// How an audited request ended.
    Outcome {
        Success => "success",
        /// The policy refused: the record was visible but the action not allowed.
        Denied => "denied",
        /// The record was outside the caller's reach (or absent).
        NotFound => "not-found",
        /// The request was refused for its content (validation, conflict).
        Failed => "failed",
    }
);

/// One audit event, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEvent {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub organization_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<Role>,
    /// What was done, as `resource.verb` (`client.read`, `auth.login`).
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub client_id: Option<Uuid>,
    pub outcome: Outcome,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
}

/// The request an event belongs to: who, from where, under which request id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestMeta {
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
}
