//! The audit trail, for admins, and each client's own access log.

use actix_web::{get, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::{
    audit::{AuditEvent, Outcome},
    identity::Role,
};
use persistence::ops::audit::{AccessEntry, AuditFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{
    clients::{malformed, ClientPath},
    PageView,
};
use crate::{
    auth::Bearer,
    error::ApiResult,
    extract::{PageParams, Query},
    state::State,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    #[schema(schema_with = crate::wire::role_or_null)]
    pub actor_role: Option<Role>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub client_id: Option<Uuid>,
    #[schema(schema_with = crate::wire::outcome)]
    pub outcome: Outcome,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
}

impl From<AuditEvent> for AuditEventView {
    fn from(e: AuditEvent) -> Self {
        AuditEventView {
            id: e.id,
            occurred_at: e.occurred_at,
            actor_id: e.actor_id,
            actor_role: e.actor_role,
            action: e.action,
            resource_type: e.resource_type,
            resource_id: e.resource_id,
            client_id: e.client_id,
            outcome: e.outcome,
            request_id: e.request_id,
            source_ip: e.source_ip,
        }
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub client_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    /// e.g. `client.read`, `auth.login`.
    pub action: Option<String>,
    /// `success`, `denied`, `not-found` or `failed`.
    #[param(schema_with = crate::wire::outcome)]
    pub outcome: Option<String>,
    /// From this time (inclusive), RFC 3339.
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive), RFC 3339.
    pub to: Option<DateTime<Utc>>,
    /// Items per page, 1 to 100 (default 50).
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    pub after: Option<Uuid>,
}

/// Search the clinic's audit trail, newest first (admins, integrations with audit:read).
#[utoipa::path(
    tag = "audit",
    params(AuditQuery),
    responses((status = 200, body = PageView<AuditEventView>)),
    security(("bearer" = []))
)]
#[get("/audit-events")]
pub async fn search(
    Bearer(caller): Bearer,
    query: Query<AuditQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let q = query.0;
    let outcome = q.outcome.as_deref();
    let filter = AuditFilter {
        client_id: q.client_id,
        actor_id: q.actor_id,
        action: q.action,
        outcome: outcome
            .map(|o| Outcome::parse("outcome", o))
            .transpose()
            .map_err(malformed)?,
        from: q.from,
        to: q.to,
    };
    let page = PageParams {
        limit: q.limit,
        after: q.after,
    }
    .page();
    let events = state
        .run(move |clinic| clinic.search_audit(&caller, filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(PageView::from(events, AuditEventView::from)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccessEntryView {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    /// The whole entry in plain words, e.g. "Olivia Okafor (therapist) viewed your
    /// progress chart"; the reader's own actions read "You ...".
    pub description: String,
    /// The person's name as the clinic knows it.
    pub actor_name: Option<String>,
    #[schema(schema_with = crate::wire::role_or_null)]
    pub actor_role: Option<Role>,
    /// Whether the reader of the log did this themselves.
    pub by_you: bool,
    /// The action's code, for integrators (`progress.chart`, `measurement.record`).
    pub action: String,
    #[schema(schema_with = crate::wire::outcome)]
    pub outcome: Outcome,
}

impl From<AccessEntry> for AccessEntryView {
    fn from(e: AccessEntry) -> Self {
        AccessEntryView {
            id: e.id,
            occurred_at: e.occurred_at,
            description: e.description,
            actor_name: e.actor_name,
            actor_role: e.actor_role,
            by_you: e.by_you,
            action: e.action,
            outcome: e.outcome,
        }
    }
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccessLogQuery {
    /// Also show what the reader did themselves (default `false`: a client reading
    /// their log sees what others did in their record).
    pub include_own: Option<bool>,
    /// Items per page, 1 to 100 (default 50).
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<Uuid>,
}

/// Who has viewed or changed this client's record, and when, newest first, in plain
/// words (the client, admins). The reader's own actions are left out unless
/// `include_own=true`. A list that showed the client (the client list, the user
/// directory) appears here too.
#[utoipa::path(
    tag = "audit",
    params(ClientPath, AccessLogQuery),
    responses((status = 200, body = PageView<AccessEntryView>)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/access-log")]
pub async fn access_log(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    query: Query<AccessLogQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let q = query.0;
    let page = PageParams {
        limit: q.limit,
        after: q.after,
    }
    .page();
    let (client_id, include_own) = (path.client_id, q.include_own.unwrap_or(false));
    let entries = state
        .run(move |clinic| clinic.access_log(&caller, client_id, include_own, page))
        .await?;
    Ok(HttpResponse::Ok().json(PageView::from(entries, AccessEntryView::from)))
}
