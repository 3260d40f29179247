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
use utoipa::{
    openapi::{schema::SchemaType, ArrayBuilder, ObjectBuilder, Type},
    ToSchema,
};

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

/// A string schema listing the allowed values, for fields parsed by the domain.
pub(crate) fn one_of(values: impl IntoIterator<Item = &'static str>) -> utoipa::openapi::Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .enum_values(Some(values.into_iter().collect::<Vec<_>>()))
        .build()
}

/// The same, or null: for optional fields, which serde reads `null` into and writes
/// `None` as. JSON Schema needs `null` in both `type` and `enum` for that.
pub(crate) fn one_of_or_null(
    values: impl IntoIterator<Item = &'static str>,
) -> utoipa::openapi::Object {
    let values = values
        .into_iter()
        .map(serde_json::Value::from)
        .chain([serde_json::Value::Null]);
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
        .enum_values(Some(values.collect::<Vec<_>>()))
        .build()
}

/// An array of those values.
pub(crate) fn array_of(values: impl IntoIterator<Item = &'static str>) -> utoipa::openapi::Array {
    ArrayBuilder::new().items(one_of(values)).build()
}

// Text patterns in the schemas spell white space out as the class
// `[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]`:
// exactly what Rust's `trim()` strips, where `\s` means something else in each regex
// engine (ECMA 262, Python, Rust), and a client's validator must agree with ours.

pub(crate) fn role_schema() -> utoipa::openapi::Object {
    one_of(domain::identity::Role::ALL.iter().map(|r| r.as_str()))
}
pub(crate) fn role_or_null_schema() -> utoipa::openapi::Object {
    one_of_or_null(domain::identity::Role::ALL.iter().map(|r| r.as_str()))
}
/// Only therapists have a discipline: null for everyone else.
pub(crate) fn discipline_or_null_schema() -> utoipa::openapi::Object {
    one_of_or_null(domain::identity::Discipline::ALL.iter().map(|r| r.as_str()))
}
pub(crate) fn client_status_schema() -> utoipa::openapi::Object {
    one_of(domain::client::ClientStatus::ALL.iter().map(|r| r.as_str()))
}
pub(crate) fn team_role_schema() -> utoipa::openapi::Object {
    one_of(domain::client::TeamRole::ALL.iter().map(|r| r.as_str()))
}
pub(crate) fn permission_schema() -> utoipa::openapi::Object {
    one_of(["view", "contribute"])
}
pub(crate) fn permission_or_null_schema() -> utoipa::openapi::Object {
    one_of_or_null(["view", "contribute"])
}
pub(crate) fn outcome_schema() -> utoipa::openapi::Object {
    one_of(domain::audit::Outcome::ALL.iter().map(|r| r.as_str()))
}
pub(crate) fn source_schema() -> utoipa::openapi::Object {
    one_of(domain::measure::Source::ALL.iter().map(|s| s.as_str()))
}
