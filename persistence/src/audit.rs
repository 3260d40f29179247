//! The audit trail: appended here, searched here, never changed.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::{
    audit::{AuditEvent, Outcome, RequestMeta},
    identity::{Principal, Role},
};
use uuid::Uuid;

use crate::{
    rows::{id, opt_id, parse_stored, utc, AuditRow},
    schema::{audit_events, users},
    Conn, Page, PageRequest, StoreResult,
};

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// `resource.verb`, e.g. `client.read`.
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: Option<String>,
    pub client_id: Option<Uuid>,
}

/// Who did it, where known (a failed sign-in may have no account behind it).
#[derive(Debug, Clone, Copy, Default)]
pub struct Actor {
    pub organization_id: Option<Uuid>,
    pub user_id: Option<Uuid>,
    pub role: Option<Role>,
}

impl From<&Principal> for Actor {
    fn from(p: &Principal) -> Self {
        Actor {
            organization_id: Some(p.organization_id),
            user_id: Some(p.user_id),
            role: Some(p.role),
        }
    }
}

pub fn record(
    conn: &mut Conn,
    actor: Actor,
    subject: &Subject,
    outcome: Outcome,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let row = row(actor, subject, outcome, meta, now);
    diesel::insert_into(audit_events::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// An audit event as stored.
pub(crate) fn row(
    actor: Actor,
    subject: &Subject,
    outcome: Outcome,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> AuditRow {
    AuditRow {
        id: domain::new_id().to_string(),
        occurred_at: now.naive_utc(),
        organization_id: actor.organization_id.map(|o| o.to_string()),
        actor_id: actor.user_id.map(|u| u.to_string()),
        actor_role: actor.role.map(|r| r.as_str().to_owned()),
        action: subject.action.to_owned(),
        resource_type: subject.resource_type.to_owned(),
        resource_id: subject.resource_id.clone(),
        client_id: subject.client_id.map(|c| c.to_string()),
        outcome: outcome.as_str().to_owned(),
        request_id: meta.request_id.clone(),
        source_ip: meta.source_ip.clone(),
    }
}

/// Appends many events in few statements (the writer's batches).
pub(crate) fn append_all(conn: &mut Conn, rows: &[AuditRow]) -> StoreResult<()> {
    for chunk in rows.chunks(500) {
        // Multi-row inserts are backend-specific in diesel.
        match conn {
            crate::DbConnection::Sqlite(c) => diesel::insert_into(audit_events::table)
                .values(chunk)
                .execute(c)?,
            crate::DbConnection::Postgresql(c) => diesel::insert_into(audit_events::table)
                .values(chunk)
                .execute(c)?,
        };
    }
    Ok(())
}

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub client_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub outcome: Option<Outcome>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

fn event_from(row: AuditRow) -> StoreResult<AuditEvent> {
    Ok(AuditEvent {
        id: id(&row.id)?,
        occurred_at: utc(row.occurred_at),
        organization_id: opt_id(row.organization_id.as_deref())?,
        actor_id: opt_id(row.actor_id.as_deref())?,
        actor_role: row
            .actor_role
            .as_deref()
            .map(|r| parse_stored(r, |s| Role::parse("role", s)))
            .transpose()?,
        action: row.action,
        resource_type: row.resource_type,
        resource_id: row.resource_id,
        client_id: opt_id(row.client_id.as_deref())?,
        outcome: parse_stored(&row.outcome, |s| Outcome::parse("outcome", s))?,
        request_id: row.request_id,
        source_ip: row.source_ip,
    })
}

/// An organization's audit trail, newest first.
pub fn search(
    conn: &mut Conn,
    org_id: Uuid,
    filter: &AuditFilter,
    page: PageRequest,
) -> StoreResult<Page<AuditEvent>> {
    let mut q = audit_events::table
        .filter(audit_events::organization_id.eq(org_id.to_string()))
        .select(AuditRow::as_select())
        .order(audit_events::id.desc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    if let Some(c) = filter.client_id {
        q = q.filter(audit_events::client_id.eq(c.to_string()));
    }
    if let Some(a) = filter.actor_id {
        q = q.filter(audit_events::actor_id.eq(a.to_string()));
    }
    if let Some(action) = &filter.action {
        q = q.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(o) = filter.outcome {
        q = q.filter(audit_events::outcome.eq(o.as_str()));
    }
    if let Some(from) = filter.from {
        q = q.filter(audit_events::occurred_at.ge(from.naive_utc()));
    }
    if let Some(to) = filter.to {
        q = q.filter(audit_events::occurred_at.lt(to.naive_utc()));
    }
    if let Some(after) = page.after {
        q = q.filter(audit_events::id.lt(after.to_string()));
    }
    let items = q
        .load(conn)?
        .into_iter()
        .map(event_from)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.limit, |e| e.id))
}

/// One entry of a client's access log: who touched their record, named so a client
/// can recognise them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessEntry {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_name: Option<String>,
    pub actor_role: Option<Role>,
    pub action: String,
    pub outcome: Outcome,
}

/// Who has viewed or changed a client's record, newest first.
pub fn access_log(
    conn: &mut Conn,
    org_id: Uuid,
    client_id: Uuid,
    page: PageRequest,
) -> StoreResult<Page<AccessEntry>> {
    let mut q = audit_events::table
        .left_join(users::table.on(audit_events::actor_id.eq(users::id.nullable())))
        .filter(audit_events::client_id.eq(client_id.to_string()))
        // Only the clinic's own staff and the client's people, never another tenant's probes.
        .filter(audit_events::organization_id.eq(org_id.to_string()))
        .select((AuditRow::as_select(), users::display_name.nullable()))
        .order(audit_events::id.desc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    if let Some(after) = page.after {
        q = q.filter(audit_events::id.lt(after.to_string()));
    }
    let rows: Vec<(AuditRow, Option<String>)> = q.load(conn)?;
    let items = rows
        .into_iter()
        .map(|(row, name)| {
            let e = event_from(row)?;
            Ok(AccessEntry {
                id: e.id,
                occurred_at: e.occurred_at,
                actor_name: name,
                actor_role: e.actor_role,
                action: e.action,
                outcome: e.outcome,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.limit, |e| e.id))
}

/// How many events touch a client (used by tests and the access-log summary).
pub fn count_for_client(conn: &mut Conn, client_id: Uuid) -> StoreResult<i64> {
    Ok(audit_events::table
        .filter(audit_events::client_id.eq(client_id.to_string()))
        .count()
        .get_result(conn)?)
}
