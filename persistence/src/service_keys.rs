//! Service accounts' JWK Sets (as versions) and the client assertions' `jti`s.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::jwks::Jwks;
use uuid::Uuid;

use crate::{
    rows::{id, parse_stored, utc},
    schema::{assertion_ids, service_key_sets},
    versions::{expect, Expected},
    Conn, StoreError, StoreResult,
};

/// One registered version of an account's JWK Set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeySet {
    pub user_id: Uuid,
    /// 0 while none was ever registered.
    pub version: i32,
    pub jwks: Jwks,
    pub registered_at: Option<DateTime<Utc>>,
    pub registered_by: Option<Uuid>,
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = service_key_sets)]
struct KeySetRow {
    user_id: String,
    version: i32,
    jwks: String,
    created_by: String,
    created_at: chrono::NaiveDateTime,
}

/// The account's current set (its latest version), or an empty one at version 0.
pub fn current(conn: &mut Conn, user_id: Uuid) -> StoreResult<KeySet> {
    let row: Option<KeySetRow> = service_key_sets::table
        .filter(service_key_sets::user_id.eq(user_id.to_string()))
        .order(service_key_sets::version.desc())
        .select(KeySetRow::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(KeySet {
            user_id,
            version: 0,
            jwks: Jwks::default(),
            registered_at: None,
            registered_by: None,
        });
    };
    Ok(KeySet {
        user_id: id(&row.user_id)?,
        version: row.version,
        jwks: parse_stored(&row.jwks, Jwks::from_json)?,
        registered_at: Some(utc(row.created_at)),
        registered_by: Some(id(&row.created_by)?),
    })
}

/// Adds the next version of the account's set, if it is still at the version the
/// caller read (If-Match); the versions before it stay.
pub fn register(
    conn: &mut Conn,
    organization_id: Uuid,
    user_id: Uuid,
    expected: &Expected,
    jwks: &Jwks,
    by: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<KeySet> {
    let read = current(conn, user_id)?.version;
    expect(expected, read)?;
    let version = read + 1;
    let inserted = diesel::insert_into(service_key_sets::table)
        .values((
            service_key_sets::id.eq(domain::new_id().to_string()),
            service_key_sets::organization_id.eq(organization_id.to_string()),
            service_key_sets::user_id.eq(user_id.to_string()),
            service_key_sets::version.eq(version),
            service_key_sets::jwks.eq(jwks.to_json().to_string()),
            service_key_sets::created_by.eq(by.to_string()),
            service_key_sets::created_at.eq(now.naive_utc()),
        ))
        .execute(conn);
    // Another instance registered this version first: the caller's read is stale.
    match inserted.map_err(StoreError::from) {
        Err(StoreError::Conflict(_)) => return Err(StoreError::Stale { current: version }),
        other => other?,
    };
    Ok(KeySet {
        user_id,
        version,
        jwks: jwks.clone(),
        registered_at: Some(now),
        registered_by: Some(by),
    })
}

/// Records an assertion's `jti` for `user_id` until `keep_until`, if it was never
/// seen: whether it is new. Expired ids are forgotten first, so the table holds
/// only the last few minutes.
pub fn spend_assertion_id(
    conn: &mut Conn,
    user_id: Uuid,
    jti: &str,
    keep_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    diesel::delete(assertion_ids::table.filter(assertion_ids::expires_at.lt(now.naive_utc())))
        .execute(conn)?;
    let row = (
        assertion_ids::user_id.eq(user_id.to_string()),
        assertion_ids::jti.eq(jti.to_owned()),
        assertion_ids::expires_at.eq(keep_until.naive_utc()),
    );
    // Insert-if-absent: of two instances presenting the same id at once, the primary
    // key lets exactly one in.
    let inserted = match conn {
        crate::DbConnection::Sqlite(c) => diesel::insert_into(assertion_ids::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
        crate::DbConnection::Postgresql(c) => diesel::insert_into(assertion_ids::table)
            .values(row)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    Ok(inserted == 1)
}
