//! Webhook endpoints (admins): register, list, change, pause, delete, rotate the
//! signing secret, and watch and redeliver each delivery. Sending is `crate::webhooks`.

use actix_web::{delete, get, http::StatusCode, patch, post, web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use domain::{
    change::ChangeKind,
    webhook::{parse_description, parse_types, DeliveryStatus},
};
use persistence::ops::webhooks::{Delivery, Endpoint, EndpointChanges, NewEndpoint};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{created, PageView};
use crate::{
    auth::Bearer,
    error::ApiResult,
    extract::{Body, PageParams, Query},
    idempotent::{IdempotencyKey, Reply},
    state::State,
    webhooks::{check_url, new_secret, rules},
};

/// How long a rotated-out secret keeps signing alongside the new one.
const ROTATION_OVERLAP_HOURS: i64 = 24;

fn event_types() -> utoipa::openapi::schema::Array {
    utoipa::openapi::schema::ArrayBuilder::new()
        .items(crate::live::event_type())
        .max_items(Some(ChangeKind::ALL.len()))
        .build()
}

/// An endpoint as shown: never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    /// Event types delivered; empty: all.
    #[schema(schema_with = event_types)]
    pub types: Vec<&'static str>,
    pub description: Option<String>,
    /// Paused endpoints keep their deliveries pending until resumed.
    pub paused: bool,
    /// After a rotation: until when the previous secret also signs.
    pub previous_secret_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Endpoint> for WebhookView {
    fn from(e: Endpoint) -> Self {
        WebhookView {
            id: e.id,
            url: e.url,
            types: e.types.iter().map(|k| k.as_str()).collect(),
            description: e.description,
            paused: e.paused,
            previous_secret_until: e.previous_secret_until,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An endpoint with its signing secret, shown this once (`whsec_` + base64).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookWithSecret {
    pub webhook: WebhookView,
    pub secret: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewWebhookInput {
    /// Absolute https URL, no credentials, not on a private or loopback address.
    #[validate(length(min = 1, max = 2000))]
    pub url: String,
    /// Event types to deliver; empty or absent: all.
    #[schema(schema_with = event_types)]
    #[serde(default)]
    pub types: Vec<String>,
    #[validate(length(max = 500))]
    pub description: Option<String>,
}

/// Register an endpoint (admins). Its secret is in this answer only.
#[utoipa::path(
    tag = "webhooks",
    request_body = NewWebhookInput,
    responses((status = 201, body = WebhookWithSecret)),
    security(("bearer" = []))
)]
#[post("/webhooks")]
pub async fn create_webhook(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    body: Body<NewWebhookInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let input = body.0;
    let url = check_url(&input.url, rules(&state.config)).await?;
    let new = NewEndpoint {
        url,
        types: parse_types(&input.types)?,
        description: parse_description(input.description.as_deref())?,
        secret: new_secret(),
    };
    let secret = new.secret.clone();
    let reply = move |endpoint: &Endpoint| {
        let webhook = WebhookView::from(endpoint.clone());
        let location = format!("/api/v1/webhooks/{}", webhook.id);
        let secret = secret.clone();
        created(location, &WebhookWithSecret { webhook, secret })
    };
    state
        .run_once(
            key,
            caller,
            move |c, caller| c.create_webhook(caller, new),
            reply,
        )
        .await
}

/// The clinic's endpoints (admins).
#[utoipa::path(
    tag = "webhooks",
    params(PageParams),
    responses((status = 200, body = PageView<WebhookView>)),
    security(("bearer" = []))
)]
#[get("/webhooks")]
pub async fn list_webhooks(
    Bearer(caller): Bearer,
    query: Query<PageParams>,
    state: State,
) -> ApiResult<HttpResponse> {
    let page = query.0.page();
    let list = state.run(move |c| c.webhooks(&caller, page)).await?;
    Ok(HttpResponse::Ok().json(PageView::from(list, WebhookView::from)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct WebhookPath {
    pub webhook_id: Uuid,
}

/// One endpoint (admins).
#[utoipa::path(
    tag = "webhooks",
    params(WebhookPath),
    responses((status = 200, body = WebhookView)),
    security(("bearer" = []))
)]
#[get("/webhooks/{webhook_id}")]
pub async fn get_webhook(
    Bearer(caller): Bearer,
    path: web::Path<WebhookPath>,
    held: crate::extract::IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let id = path.webhook_id;
    let endpoint = state.run(move |c| c.webhook(&caller, id)).await?;
    super::read_tagged(&held, endpoint.version, &WebhookView::from(endpoint))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookUpdate {
    #[validate(length(min = 1, max = 2000))]
    pub url: Option<String>,
    /// Replaces the event types; empty: all.
    #[schema(schema_with = event_types)]
    pub types: Option<Vec<String>>,
    /// An empty description removes it.
    #[validate(length(max = 500))]
    pub description: Option<String>,
    /// `true` pauses deliveries (they wait, pending); `false` resumes them.
    pub paused: Option<bool>,
}

/// Change an endpoint: URL, event types, description, or pause and resume it (admins).
#[utoipa::path(
    tag = "webhooks",
    params(WebhookPath),
    request_body = WebhookUpdate,
    responses((status = 200, body = WebhookView)),
    security(("bearer" = []))
)]
#[patch("/webhooks/{webhook_id}")]
pub async fn update_webhook(
    Bearer(caller): Bearer,
    path: web::Path<WebhookPath>,
    crate::extract::IfMatch(expected): crate::extract::IfMatch,
    body: Body<WebhookUpdate>,
    state: State,
) -> ApiResult<HttpResponse> {
    let (id, input) = (path.webhook_id, body.0);
    let url = match &input.url {
        Some(raw) => Some(check_url(raw, rules(&state.config)).await?),
        None => None,
    };
    let changes = EndpointChanges {
        url,
        types: input.types.as_deref().map(parse_types).transpose()?,
        description: (input.description.as_deref())
            .map(|d| parse_description(Some(d)))
            .transpose()?,
        paused: input.paused,
    };
    let endpoint = state
        .run(move |c| c.update_webhook(&caller, id, expected, changes))
        .await?;
    Ok(super::tagged(
        endpoint.version,
        &WebhookView::from(endpoint),
    ))
}

/// Delete an endpoint (admins): nothing more is sent to it, pending deliveries
/// included. Its delivery history stays in the database but is no longer shown.
#[utoipa::path(
    tag = "webhooks",
    params(WebhookPath),
    responses((status = 204, description = "Deleted")),
    security(("bearer" = []))
)]
#[delete("/webhooks/{webhook_id}")]
pub async fn delete_webhook(
    Bearer(caller): Bearer,
    path: web::Path<WebhookPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let id = path.webhook_id;
    state.run(move |c| c.delete_webhook(&caller, id)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Rotate the signing secret (admins): the new one is in this answer only; for 24
/// hours deliveries carry two signatures, by the new secret and by the old.
#[utoipa::path(
    tag = "webhooks",
    params(WebhookPath),
    responses((status = 200, body = WebhookWithSecret)),
    security(("bearer" = []))
)]
#[post("/webhooks/{webhook_id}/secret")]
pub async fn rotate_secret(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<WebhookPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let id = path.webhook_id;
    let secret = new_secret();
    let kept = secret.clone();
    let reply = move |endpoint: &Endpoint| {
        let webhook = WebhookView::from(endpoint.clone());
        let body = WebhookWithSecret {
            webhook,
            secret: kept.clone(),
        };
        Reply::json(StatusCode::OK, &body)
    };
    let overlap = Duration::hours(ROTATION_OVERLAP_HOURS);
    state
        .run_once(
            key,
            caller,
            move |c, caller| c.rotate_webhook_secret(caller, id, secret, overlap),
            reply,
        )
        .await
}

/// One delivery of one event to one endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    /// Also its `webhook-id` header: the same on retries and redelivery.
    pub id: Uuid,
    /// The event's id (its place in the change log, as in live events).
    pub event_id: String,
    #[serde(rename = "event_type")]
    #[schema(schema_with = crate::live::event_type)]
    pub event_type: &'static str,
    /// `pending`, `succeeded`, `retrying` (failed, another attempt is scheduled) or
    /// `dead` (every retry failed).
    #[schema(schema_with = delivery_status)]
    pub status: &'static str,
    pub attempts: i32,
    /// While pending or retrying.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// The receiver's last status code.
    pub last_response_status: Option<i32>,
    /// The first 2 KB of the receiver's last answer.
    pub last_response_body: Option<String>,
    /// Why the last attempt got no answer (refused address, timeout, connection).
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
}

fn delivery_status() -> utoipa::openapi::Object {
    crate::wire::one_of(DeliveryStatus::ALL.iter().map(|s| s.as_str()))
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        DeliveryView {
            id: d.id,
            event_id: d.change_seq.to_string(),
            event_type: d.event_type.as_str(),
            status: d.status.as_str(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_attempt_at: d.last_attempt_at,
            last_response_status: d.last_status,
            last_response_body: d.last_body,
            last_error: d.last_error,
            created_at: d.created_at,
        }
    }
}

/// An endpoint's deliveries, newest first (admins).
#[utoipa::path(
    tag = "webhooks",
    params(WebhookPath, PageParams),
    responses((status = 200, body = PageView<DeliveryView>)),
    security(("bearer" = []))
)]
#[get("/webhooks/{webhook_id}/deliveries")]
pub async fn deliveries(
    Bearer(caller): Bearer,
    path: web::Path<WebhookPath>,
    query: Query<PageParams>,
    state: State,
) -> ApiResult<HttpResponse> {
    let (id, page) = (path.webhook_id, query.0.page());
    let list = state
        .run(move |c| c.webhook_deliveries(&caller, id, page))
        .await?;
    Ok(HttpResponse::Ok().json(PageView::from(list, DeliveryView::from)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveryPath {
    pub webhook_id: Uuid,
    pub delivery_id: Uuid,
}

/// Send a delivery again, with the same `webhook-id` and a fresh round of retries
/// (admins).
#[utoipa::path(
    tag = "webhooks",
    params(DeliveryPath),
    responses((status = 202, body = DeliveryView)),
    security(("bearer" = []))
)]
#[post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver")]
pub async fn redeliver(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<DeliveryPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let (id, delivery) = (path.webhook_id, path.delivery_id);
    let reply = |d: &Delivery| Reply::json(StatusCode::ACCEPTED, &DeliveryView::from(d.clone()));
    state
        .run_once(
            key,
            caller,
            move |c, caller| c.redeliver_webhook(caller, id, delivery),
            reply,
        )
        .await
}
