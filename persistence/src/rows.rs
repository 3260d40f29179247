//! Row types and conversions between stored text and domain values.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::{schema::*, StoreError};

pub(crate) fn id(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|_| {
        StoreError::Database(diesel::result::Error::DeserializationError(
            format!("stored id is not a UUID: {text}").into(),
        ))
    })
}

pub(crate) fn opt_id(text: Option<&str>) -> Result<Option<Uuid>, StoreError> {
    text.map(id).transpose()
}

pub(crate) fn utc(t: NaiveDateTime) -> DateTime<Utc> {
    t.and_utc()
}

pub(crate) fn parse_stored<T>(
    text: &str,
    parse: impl FnOnce(&str) -> Result<T, domain::Invalid>,
) -> Result<T, StoreError> {
    parse(text).map_err(|_| {
        StoreError::Database(diesel::result::Error::DeserializationError(
            format!("unexpected stored value: {text}").into(),
        ))
    })
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
pub(crate) struct UserRow {
    pub id: String,
    pub organization_id: String,
    pub email: Option<String>,
    pub display_name: String,
    pub role: String,
    pub discipline: Option<String>,
    pub client_id: Option<String>,
    pub password_hash: Option<String>,
    pub scopes: String,
    pub active: bool,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl UserRow {
    pub fn into_user(self) -> Result<domain::identity::User, StoreError> {
        use domain::identity::{Discipline, Role, Scopes, User};
        Ok(User {
            id: id(&self.id)?,
            organization_id: id(&self.organization_id)?,
            email: self.email,
            display_name: self.display_name,
            role: parse_stored(&self.role, |s| Role::parse("role", s))?,
            discipline: self
                .discipline
                .as_deref()
                .map(|d| parse_stored(d, |s| Discipline::parse("discipline", s)))
                .transpose()?,
            client_id: opt_id(self.client_id.as_deref())?,
            scopes: parse_stored(&self.scopes, Scopes::parse)?,
            active: self.active,
            has_password: self.password_hash.is_some(),
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable, AsChangeset, Debug, Clone)]
#[diesel(table_name = clients, treat_none_as_default_value = false)]
pub(crate) struct ClientRow {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub preferred_name: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: String,
    pub version: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl ClientRow {
    pub fn into_client(
        self,
        identifiers: Vec<domain::client::ExternalIdentifier>,
    ) -> Result<domain::client::Client, StoreError> {
        use domain::client::{Client, ClientStatus};
        Ok(Client {
            id: id(&self.id)?,
            organization_id: id(&self.organization_id)?,
            name: self.name,
            preferred_name: self.preferred_name,
            date_of_birth: self.date_of_birth,
            email: self.email,
            phone: self.phone,
            status: parse_stored(&self.status, |s| ClientStatus::parse("status", s))?,
            identifiers,
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
pub(crate) struct AuditRow {
    pub id: String,
    pub occurred_at: NaiveDateTime,
    pub organization_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor_role: Option<String>,
    pub action: String,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub client_id: Option<String>,
    pub outcome: String,
    pub request_id: Option<String>,
    pub source_ip: Option<String>,
}
