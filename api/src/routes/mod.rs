//! HTTP handlers. Each reads: who is calling, may they, do it, answer.

pub mod audit;
pub mod auth;
pub mod care;
pub mod clients;
pub mod goals;
pub mod health;
pub mod me;
pub mod measures;
pub mod progress;
pub mod users;

use actix_web::{http::header, HttpResponse};
use persistence::audit::Subject;
use serde::Serialize;
use utoipa::ToSchema;

/// An audit subject for a resource of a client's record.
pub(crate) fn subject(
    action: &'static str,
    resource_type: &'static str,
    resource_id: impl ToString,
) -> Subject {
    Subject {
        action,
        resource_type,
        resource_id: Some(resource_id.to_string()),
        client_id: None,
    }
}

/// An audit subject not tied to one resource (lists, searches).
pub(crate) fn subject_of_many(action: &'static str, resource_type: &'static str) -> Subject {
    Subject {
        action,
        resource_type,
        resource_id: None,
        client_id: None,
    }
}

/// 201 Created with a Location header.
pub(crate) fn created(location: String, body: &impl Serialize) -> HttpResponse {
    HttpResponse::Created()
        .insert_header((header::LOCATION, location))
        .json(body)
}

/// A page of items in a stable order.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn from<S>(page: persistence::Page<S>, f: impl Fn(S) -> T) -> Self {
        Page {
            items: page.items.into_iter().map(f).collect(),
            next_cursor: page.next_cursor,
        }
    }
}

// TRANSITION: the schema helpers now live in `crate::wire`; these names go once
// every route uses it.
pub(crate) use crate::wire::{
    client_status as client_status_schema, discipline_or_null as discipline_or_null_schema, one_of,
    one_of_or_null, outcome as outcome_schema, permission_or_null as permission_or_null_schema,
    role_or_null as role_or_null_schema, source as source_schema, team_role as team_role_schema,
};
