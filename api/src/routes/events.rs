use std::{collections::HashSet, time::Duration};

use actix_web::{get, http::header, post, FromRequest, HttpRequest, HttpResponse};
use base64::Engine;
use domain::change::ChangeKind;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    auth::{request_meta, Bearer},
    error::{ApiError, ApiResult, FieldProblem},
    extract::Query,
    live::{Filter, Follow, Start},
    state::State,
};

/// How long a stream ticket may wait to be used.
const TICKET_SECS: i64 = 60;

#[derive(Debug, Deserialize, IntoParams, validator::Validate)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only this client's events (one the caller may see).
    pub client_id: Option<Uuid>,
    /// Only these event types, comma-separated (see `EventView.type`).
    pub types: Option<String>,
    /// A stream ticket from `POST /api/v1/events/ticket`, for a browser's
    /// `EventSource`, which cannot send an Authorization header. Single use, 60 s.
    pub ticket: Option<String>,
}

/// Live events: every change to the records the caller may see, as it commits.
///
/// `text/event-stream`. Each event has an `id` (its place in the change log), an
/// `event` (its type) and JSON `data` (`EventView`). Reconnecting with
/// `Last-Event-ID` resumes right after that event, with nothing lost or repeated,
/// across restarts and instances; if the log no longer holds it (older than the
/// retention window) the stream starts with one `reset` event: refetch, then go on.
/// Heartbeat comments come every 15 s. When the sign-in ends (signed out,
/// deactivated) a `closed` event ends the stream; when access to a client ends, that
/// client's events stop. A stream that falls 1,024 events behind is dropped: resume.
/// Send an access token in the Authorization header, or a `ticket`.
#[utoipa::path(
    tag = "events",
    params(
        EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id."),
    ),
    responses(
        (status = 200, description = "The event stream (Server-Sent Events).", content_type = "text/event-stream", body = crate::live::EventView),
    ),
    security(("bearer" = []), ())
)]
#[get("/events")]
pub async fn events(
    req: HttpRequest,
    Query(query): Query<EventsQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let filter = Filter {
        client_id: query.client_id,
        kinds: kinds(query.types.as_deref())?,
    };
    let since = last_event_id(&req)?;
    let caller = match query.ticket {
        Some(given) => {
            let (hash, meta) = (hash(&given), request_meta(&req));
            state
                .run(move |clinic| clinic.redeem_stream_ticket(hash, meta))
                .await
                .map_err(|_| {
                    ApiError::Unauthorized("The stream ticket is unknown, used or expired.".into())
                })?
        }
        None => Bearer::extract(&req).await?.0,
    };
    let follower = caller.clone();
    let reach = state.run(move |clinic| clinic.follow(&follower)).await?;
    if let Some(client) = filter.client_id {
        if !reach.reaches(reach.who.organization_id, client) {
            return Err(ApiError::NotFound);
        }
    }
    let subscription = state.hub.subscribe(&state.clinic, &caller);
    let (oldest, head) = state.run(|clinic| clinic.change_log_bounds()).await?;
    let start = match since {
        None => Start::Now,
        // Ahead of the log (a restored backup, another database): start again too.
        Some(id) if id > head => Start::Reset,
        Some(id) if id == head || oldest.is_some_and(|o| o <= id + 1) => Start::After(id),
        Some(_) => Start::Reset,
    };
    let heartbeat = Duration::from_secs(state.config.events_heartbeat_secs.max(1));
    let clinic = state.clinic.clone();
    let follow = Follow::new(
        clinic,
        caller,
        reach,
        filter,
        subscription,
        (start, head),
        heartbeat,
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // Never compressed: an encoder holds small events back until its buffer fills.
        .insert_header((header::CONTENT_ENCODING, "identity"))
        // Proxies (nginx) must pass events on as they come.
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(follow.into_stream()))
}

/// `Last-Event-ID`, as an event id this server sends: a non-negative integer.
fn last_event_id(req: &HttpRequest) -> ApiResult<Option<i64>> {
    let Some(value) = req.headers().get("Last-Event-ID") else {
        return Ok(None);
    };
    let parsed = value
        .to_str()
        .ok()
        .map(str::trim)
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v >= 0);
    parsed
        .map(Some)
        .ok_or_else(|| bad_last_event_id("must be an event id this server sent"))
}

fn bad_last_event_id(detail: &str) -> ApiError {
    ApiError::Malformed(vec![FieldProblem::new("Last-Event-ID", detail)])
}

fn kinds(types: Option<&str>) -> ApiResult<Option<HashSet<ChangeKind>>> {
    let Some(types) = types else { return Ok(None) };
    let mut kinds = HashSet::new();
    for t in types.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let kind = ChangeKind::parse("types", t).map_err(|_| {
            ApiError::Invalid(vec![FieldProblem::new(
                "types",
                format!("`{t}` is not an event type; see EventView.type"),
            )])
        })?;
        kinds.insert(kind);
    }
    Ok(Some(kinds))
}

fn hash(secret: &str) -> String {
    Sha256::digest(secret.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StreamTicket {
    /// Pass as `?ticket=` to `GET /api/v1/events`, once, within `expires_in` seconds.
    pub ticket: String,
    pub expires_in: i64,
}

/// A single-use ticket for opening an event stream from a browser (`EventSource`
/// cannot send an Authorization header; access tokens never go in URLs).
#[utoipa::path(
    tag = "events",
    responses((status = 201, body = StreamTicket)),
    security(("bearer" = []))
)]
#[post("/events/ticket")]
pub async fn stream_ticket(Bearer(caller): Bearer, state: State) -> ApiResult<HttpResponse> {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let ticket = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let (hashed, expires_at) = (
        hash(&ticket),
        chrono::Utc::now() + chrono::Duration::seconds(TICKET_SECS),
    );
    state
        .run(move |clinic| clinic.issue_stream_ticket(&caller, hashed, expires_at))
        .await?;
    Ok(HttpResponse::Created().json(StreamTicket {
        ticket,
        expires_in: TICKET_SECS,
    }))
}
