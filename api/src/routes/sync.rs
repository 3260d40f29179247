//! `GET /api/v1/sync`: offline delta sync for apps that keep a local copy.

use actix_web::{get, HttpResponse};
use persistence::ops::sync::{Removal, SyncEntry, SyncPage, SyncPosition, SyncRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::Bearer,
    error::{ApiError, ApiResult, FieldProblem},
    extract::Query,
    routes::{
        clients::ClientView,
        goals::{CommentView, EpisodeView, GoalView},
        measures::MeasurementView,
    },
    state::State,
};

#[derive(Debug, Deserialize, IntoParams, validator::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// The `cursor` of the page before; none to start with a full snapshot. Opaque:
    /// send back what this route returned.
    #[param(
        pattern = r"^(d\.[0-9]{1,18}|s\.[0-9]{1,18}\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
    )]
    pub cursor: Option<String>,
    /// At most this many clients per snapshot page, or change-log entries per delta
    /// page: 1 to 200 (default 50).
    #[validate(range(min = 1, max = 200))]
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u32>,
}

/// A record, as the route that reads it shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum SyncData {
    Client(Box<ClientView>),
    Episode(EpisodeView),
    Goal(Box<GoalView>),
    Measurement(Box<MeasurementView>),
    Comment(SyncCommentView),
}

/// A comment, with the goal it belongs to.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncCommentView {
    pub goal_id: Uuid,
    #[serde(flatten)]
    pub comment: CommentView,
}

/// One change to apply to a local copy, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct SyncChangeView {
    /// `upsert`: store `data` under (`type`, `id`), replacing what is there.
    /// `remove`: drop (`type`, `id`); for a `client`, everything under it too.
    #[schema(pattern = "^(upsert|remove)$")]
    pub op: &'static str,
    /// `client`, `episode`, `goal`, `measurement` or `comment`.
    #[serde(rename = "type")]
    #[schema(pattern = "^(client|episode|goal|measurement|comment)$")]
    pub record_type: &'static str,
    pub id: Uuid,
    pub client_id: Uuid,
    /// On `remove`: `superseded` (a measurement replaced by a correction; its new
    /// version comes as an upsert) or `access-changed` (drop everything of this client;
    /// what the caller may still see follows as upserts).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^(superseded|access-changed)$")]
    pub reason: Option<&'static str>,
    /// On `upsert`: the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<SyncData>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SyncPageView {
    pub changes: Vec<SyncChangeView>,
    /// Send it back as `cursor` for the next page, or later for what changed since.
    pub cursor: String,
    /// Another page is ready now; otherwise the copy is in step: ask again later (or
    /// when `GET /api/v1/events` tells of a change).
    pub has_more: bool,
    /// Whether this page is part of a full snapshot (the first sync, or after 410).
    pub snapshot: bool,
}

/// Offline delta sync: everything in the caller's reach that changed since `cursor`.
///
/// Without a cursor: a full snapshot of what the caller may see (their clients'
/// records, episodes, goals, current measurements, comments), paged by client. Then,
/// with the returned cursor: what changed since, as `upsert`s and `remove`s to apply
/// in order; a copy that applies every page holds exactly what a fresh snapshot would.
/// The cursor is a place in the change log, which numbers changes in commit order, so
/// a slow transaction can never land behind it. A cursor older than the log keeps (7
/// days by default) answers 410: start again without one. Every client whose records
/// a page shows gets a `sync.read` event in their access log.
#[utoipa::path(
    tag = "events",
    params(SyncQuery),
    responses(
        (status = 200, body = SyncPageView),
        (status = 410, description = "The cursor has expired (`urn:headway:problem:sync-cursor-expired`): start again without one.", body = crate::error::Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/sync")]
pub async fn sync(
    Bearer(caller): Bearer,
    Query(query): Query<SyncQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let position = query.cursor.as_deref().map(parse_cursor).transpose()?;
    let snapshot = !matches!(position, Some(SyncPosition::Delta { .. }));
    let limit = i64::from(query.limit.unwrap_or(50));
    let page = state
        .run(move |clinic| clinic.sync(&caller, position, limit))
        .await?;
    Ok(HttpResponse::Ok().json(SyncPageView::new(page, snapshot)))
}

fn parse_cursor(text: &str) -> ApiResult<SyncPosition> {
    let bad = || {
        ApiError::Malformed(vec![FieldProblem::new(
            "cursor",
            "must be a cursor this route returned",
        )])
    };
    let mut parts = text.splitn(3, '.');
    let (kind, seq) = (parts.next(), parts.next().and_then(|s| s.parse().ok()));
    match (kind, seq, parts.next()) {
        (Some("d"), Some(seq), None) => Ok(SyncPosition::Delta { seq }),
        (Some("s"), Some(head), Some(after)) => Ok(SyncPosition::Snapshot {
            head,
            after: Some(Uuid::parse_str(after).map_err(|_| bad())?),
        }),
        _ => Err(bad()),
    }
}

fn cursor_of(position: SyncPosition) -> String {
    match position {
        SyncPosition::Delta { seq } => format!("d.{seq}"),
        SyncPosition::Snapshot { head, after } => {
            format!("s.{head}.{}", after.unwrap_or_default())
        }
    }
}

impl SyncPageView {
    fn new(page: SyncPage, snapshot: bool) -> Self {
        SyncPageView {
            snapshot,
            cursor: cursor_of(page.next),
            has_more: page.more,
            changes: page.entries.into_iter().map(SyncChangeView::from).collect(),
        }
    }
}

impl From<SyncEntry> for SyncChangeView {
    fn from(entry: SyncEntry) -> Self {
        match entry {
            SyncEntry::Upsert { client_id, record } => {
                let record_type = record.kind();
                let (id, data) = match record {
                    SyncRecord::Client(c) => (c.id, SyncData::Client(Box::new((*c).into()))),
                    SyncRecord::Episode(e) => (e.id, SyncData::Episode(e.into())),
                    SyncRecord::Goal(g) => (g.id, SyncData::Goal(Box::new((*g).into()))),
                    SyncRecord::Measurement(m) => {
                        (m.id, SyncData::Measurement(Box::new((*m).into())))
                    }
                    SyncRecord::Comment(c) => (
                        c.id,
                        SyncData::Comment(SyncCommentView {
                            goal_id: c.goal_id,
                            comment: c.into(),
                        }),
                    ),
                };
                SyncChangeView {
                    op: "upsert",
                    record_type,
                    id,
                    client_id,
                    reason: None,
                    data: Some(data),
                }
            }
            SyncEntry::Remove {
                kind,
                id,
                client_id,
                reason,
            } => SyncChangeView {
                op: "remove",
                record_type: kind,
                id,
                client_id,
                reason: Some(match reason {
                    Removal::Superseded => "superseded",
                    Removal::AccessChanged => "access-changed",
                }),
                data: None,
            },
        }
    }
}
