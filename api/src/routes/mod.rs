//! HTTP handlers. Each reads: who is calling, may they, do it, answer.

pub mod audit;
pub mod auth;
pub mod care;
pub mod clients;
pub mod events;
pub mod goals;
pub mod health;
pub mod me;
pub mod measures;
pub mod progress;
pub mod users;
pub mod webhooks;

use actix_web::http::StatusCode;

use crate::idempotent::Reply;
use serde::Serialize;
use utoipa::ToSchema;

/// 201 Created with a Location header.
pub(crate) fn created(location: String, body: &impl Serialize) -> Reply {
    Reply::json(StatusCode::CREATED, body).at(location)
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
