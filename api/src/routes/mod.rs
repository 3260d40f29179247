//! HTTP handlers. Each reads: who is calling, may they, do it, answer.

pub mod audit;
pub mod auth;
pub mod care;
pub mod clients;
pub mod events;
pub mod goals;
pub mod health;
pub mod home;
pub mod me;
pub mod measures;
pub mod progress;
pub mod reports;
pub mod sync;
pub mod users;
pub mod webhooks;

use actix_web::{
    http::{header, StatusCode},
    HttpResponse,
};

use crate::idempotent::Reply;
use serde::Serialize;
use utoipa::ToSchema;

/// 201 Created with a Location header.
pub(crate) fn created(location: String, body: &impl Serialize) -> Reply {
    Reply::json(StatusCode::CREATED, body).at(location)
}

/// 200 with the record and its ETag (an update's answer).
pub(crate) fn tagged(version: i32, body: &impl Serialize) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, domain::version::etag(version)))
        .json(body)
}

/// A read of one record: 304 with its ETag and no body when the caller holds this
/// version already (If-None-Match), else 200 with the record and its ETag.
pub(crate) fn read_tagged(
    held: &crate::extract::IfNoneMatch,
    version: i32,
    body: &impl Serialize,
) -> crate::error::ApiResult<HttpResponse> {
    if held.holds(version)? {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, domain::version::etag(version)))
            .finish());
    }
    Ok(tagged(version, body))
}

/// A page of items in a stable order, as sent (`persistence::Page` as stored).
#[derive(Debug, Serialize, ToSchema)]
pub struct PageView<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> PageView<T> {
    pub fn from<S>(page: persistence::Page<S>, f: impl Fn(S) -> T) -> Self {
        PageView {
            items: page.items.into_iter().map(f).collect(),
            next_cursor: page.next_cursor,
        }
    }
}
