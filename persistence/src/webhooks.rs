//! Webhook endpoints, the cursors that turn the change log into deliveries (the
//! outbox), and the deliveries themselves with their leases.

use chrono::{DateTime, Duration, Utc};
use diesel::prelude::*;
use domain::{
    change::{Change, ChangeKind},
    webhook::{delivers, DeliveryStatus},
};
use uuid::Uuid;

use crate::{
    changes::head,
    ops::webhooks::{Delivery, Endpoint, EndpointChanges, NewEndpoint, Outgoing},
    rows::{id, parse_stored, utc},
    schema::{webhook_cursors, webhook_deliveries, webhook_endpoints},
    versions::{bump, expect, Expected},
    Conn, Page, PageRequest, StoreError, StoreResult,
};

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = webhook_endpoints, treat_none_as_default_value = false)]
pub(crate) struct EndpointRow {
    id: String,
    organization_id: String,
    url: String,
    types: String,
    description: Option<String>,
    secret: String,
    previous_secret: Option<String>,
    previous_secret_until: Option<chrono::NaiveDateTime>,
    paused: bool,
    version: i32,
    after_seq: i64,
    created_by: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
    deleted_at: Option<chrono::NaiveDateTime>,
}

fn types_of(text: &str) -> StoreResult<Vec<ChangeKind>> {
    text.split_whitespace()
        .map(|t| parse_stored(t, |t| ChangeKind::parse("types", t)))
        .collect()
}

fn types_text(types: &[ChangeKind]) -> String {
    types
        .iter()
        .map(|k| k.as_str())
        .collect::<Vec<_>>()
        .join(" ")
}

impl EndpointRow {
    fn into_endpoint(self) -> StoreResult<Endpoint> {
        Ok(Endpoint {
            id: id(&self.id)?,
            url: self.url,
            types: types_of(&self.types)?,
            description: self.description,
            paused: self.paused,
            version: self.version,
            previous_secret_until: self.previous_secret_until.map(utc),
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }

    /// The secrets that sign now: the current one, and the previous one during the
    /// overlap after a rotation.
    fn signing_secrets(&self, now: DateTime<Utc>) -> Vec<String> {
        let mut secrets = vec![self.secret.clone()];
        if let (Some(previous), Some(until)) = (&self.previous_secret, self.previous_secret_until) {
            if utc(until) > now {
                secrets.push(previous.clone());
            }
        }
        secrets
    }
}

pub(crate) fn insert_endpoint(
    conn: &mut Conn,
    org: Uuid,
    by: Uuid,
    endpoint_id: Uuid,
    new: NewEndpoint,
    now: DateTime<Utc>,
) -> StoreResult<Endpoint> {
    let after_seq = head(conn)?;
    let org_text = org.to_string();
    let has_cursor = webhook_cursors::table
        .find(&org_text)
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if !has_cursor {
        diesel::insert_into(webhook_cursors::table)
            .values((
                webhook_cursors::organization_id.eq(&org_text),
                webhook_cursors::seq.eq(after_seq),
            ))
            .execute(conn)?;
    }
    let row = EndpointRow {
        id: endpoint_id.to_string(),
        organization_id: org_text,
        url: new.url.as_str().to_owned(),
        types: types_text(&new.types),
        description: new.description,
        secret: new.secret,
        previous_secret: None,
        previous_secret_until: None,
        paused: false,
        version: 1,
        after_seq,
        created_by: by.to_string(),
        created_at: now.naive_utc(),
        updated_at: now.naive_utc(),
        deleted_at: None,
    };
    diesel::insert_into(webhook_endpoints::table)
        .values(&row)
        .execute(conn)?;
    row.into_endpoint()
}

fn endpoint_row(conn: &mut Conn, org: Uuid, endpoint_id: Uuid) -> StoreResult<EndpointRow> {
    webhook_endpoints::table
        .find(endpoint_id.to_string())
        .filter(webhook_endpoints::organization_id.eq(org.to_string()))
        .filter(webhook_endpoints::deleted_at.is_null())
        .select(EndpointRow::as_select())
        .first(conn)
        .optional()?
        .ok_or(StoreError::NotFound)
}

pub(crate) fn endpoint(conn: &mut Conn, org: Uuid, endpoint_id: Uuid) -> StoreResult<Endpoint> {
    endpoint_row(conn, org, endpoint_id)?.into_endpoint()
}

pub(crate) fn list_endpoints(
    conn: &mut Conn,
    org: Uuid,
    page: PageRequest,
) -> StoreResult<Page<Endpoint>> {
    let mut q = webhook_endpoints::table
        .filter(webhook_endpoints::organization_id.eq(org.to_string()))
        .filter(webhook_endpoints::deleted_at.is_null())
        .select(EndpointRow::as_select())
        .order(webhook_endpoints::id.asc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    if let Some(after) = page.after {
        q = q.filter(webhook_endpoints::id.gt(after.to_string()));
    }
    let items = (q.load(conn)?.into_iter())
        .map(EndpointRow::into_endpoint)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.limit, |e| e.id))
}

#[derive(AsChangeset)]
#[diesel(table_name = webhook_endpoints)]
struct EndpointChangeset {
    url: Option<String>,
    types: Option<String>,
    description: Option<Option<String>>,
    paused: Option<bool>,
    updated_at: chrono::NaiveDateTime,
}

pub(crate) fn update_endpoint(
    conn: &mut Conn,
    org: Uuid,
    endpoint_id: Uuid,
    expected: &Expected,
    changes: EndpointChanges,
    now: DateTime<Utc>,
) -> StoreResult<Endpoint> {
    let before = endpoint_row(conn, org, endpoint_id)?;
    expect(expected, before.version)?;
    let row = || webhook_endpoints::table.find(endpoint_id.to_string());
    bump!(conn, webhook_endpoints, row(), before.version)?;
    let set = EndpointChangeset {
        url: changes.url.map(|u| u.as_str().to_owned()),
        types: changes.types.as_deref().map(types_text),
        description: changes.description,
        paused: changes.paused,
        updated_at: now.naive_utc(),
    };
    diesel::update(webhook_endpoints::table.find(endpoint_id.to_string()))
        .set(&set)
        .execute(conn)?;
    endpoint(conn, org, endpoint_id)
}

pub(crate) fn delete_endpoint(
    conn: &mut Conn,
    org: Uuid,
    endpoint_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    endpoint_row(conn, org, endpoint_id)?;
    diesel::update(webhook_endpoints::table.find(endpoint_id.to_string()))
        .set((
            webhook_endpoints::deleted_at.eq(now.naive_utc()),
            webhook_endpoints::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

pub(crate) fn rotate_secret(
    conn: &mut Conn,
    org: Uuid,
    endpoint_id: Uuid,
    secret: String,
    overlap: Duration,
    now: DateTime<Utc>,
) -> StoreResult<Endpoint> {
    let row = endpoint_row(conn, org, endpoint_id)?;
    diesel::update(webhook_endpoints::table.find(endpoint_id.to_string()))
        .set((
            webhook_endpoints::version.eq(webhook_endpoints::version + 1),
            webhook_endpoints::secret.eq(secret),
            webhook_endpoints::previous_secret.eq(Some(row.secret)),
            webhook_endpoints::previous_secret_until.eq(Some((now + overlap).naive_utc())),
            webhook_endpoints::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    endpoint(conn, org, endpoint_id)
}

#[derive(Queryable, Selectable, Insertable, Debug, Clone)]
#[diesel(table_name = webhook_deliveries, treat_none_as_default_value = false)]
pub(crate) struct DeliveryRow {
    id: String,
    endpoint_id: String,
    organization_id: String,
    change_seq: i64,
    event_type: String,
    client_id: String,
    resource_type: String,
    resource_id: Option<String>,
    occurred_at: chrono::NaiveDateTime,
    status: String,
    attempts: i32,
    next_attempt_at: chrono::NaiveDateTime,
    lease_owner: Option<String>,
    lease_until: Option<chrono::NaiveDateTime>,
    last_attempt_at: Option<chrono::NaiveDateTime>,
    last_status: Option<i32>,
    last_body: Option<String>,
    last_error: Option<String>,
    created_at: chrono::NaiveDateTime,
}

impl DeliveryRow {
    fn into_delivery(self) -> StoreResult<Delivery> {
        let status = parse_stored(&self.status, |s| DeliveryStatus::parse("status", s))?;
        let waiting = matches!(status, DeliveryStatus::Pending | DeliveryStatus::Retrying);
        Ok(Delivery {
            id: id(&self.id)?,
            endpoint_id: id(&self.endpoint_id)?,
            change_seq: self.change_seq,
            event_type: parse_stored(&self.event_type, |k| ChangeKind::parse("type", k))?,
            client_id: id(&self.client_id)?,
            resource_type: self.resource_type,
            resource_id: self.resource_id,
            occurred_at: utc(self.occurred_at),
            status,
            attempts: self.attempts,
            next_attempt_at: waiting.then(|| utc(self.next_attempt_at)),
            last_attempt_at: self.last_attempt_at.map(utc),
            last_status: self.last_status,
            last_body: self.last_body,
            last_error: self.last_error,
            created_at: utc(self.created_at),
        })
    }
}

pub(crate) fn list_deliveries(
    conn: &mut Conn,
    org: Uuid,
    endpoint_id: Uuid,
    page: PageRequest,
) -> StoreResult<Page<Delivery>> {
    endpoint_row(conn, org, endpoint_id)?;
    let mut q = webhook_deliveries::table
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id.to_string()))
        .select(DeliveryRow::as_select())
        .order(webhook_deliveries::id.desc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    if let Some(after) = page.after {
        q = q.filter(webhook_deliveries::id.lt(after.to_string()));
    }
    let items = (q.load(conn)?.into_iter())
        .map(DeliveryRow::into_delivery)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.limit, |d| d.id))
}

/// Sends a delivery again, as soon as possible, with a fresh round of retries.
pub(crate) fn redeliver(
    conn: &mut Conn,
    org: Uuid,
    endpoint_id: Uuid,
    delivery_id: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Delivery> {
    endpoint_row(conn, org, endpoint_id)?;
    let target = webhook_deliveries::table
        .find(delivery_id.to_string())
        .filter(webhook_deliveries::endpoint_id.eq(endpoint_id.to_string()));
    let updated = diesel::update(target)
        .set((
            webhook_deliveries::status.eq(DeliveryStatus::Pending.as_str()),
            webhook_deliveries::attempts.eq(0),
            webhook_deliveries::next_attempt_at.eq(now.naive_utc()),
            webhook_deliveries::lease_owner.eq(None::<String>),
            webhook_deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
        ))
        .execute(conn)?;
    if updated == 0 {
        return Err(StoreError::NotFound);
    }
    webhook_deliveries::table
        .find(delivery_id.to_string())
        .select(DeliveryRow::as_select())
        .first(conn)?
        .into_delivery()
}

/// The lowest cursor, when any organization has endpoints: the log is read after it.
pub(crate) fn lowest_cursor(conn: &mut Conn) -> StoreResult<Option<i64>> {
    Ok(webhook_cursors::table
        .select(diesel::dsl::min(webhook_cursors::seq))
        .first::<Option<i64>>(conn)?)
}

/// The outbox step: `changes` (read in order after the lowest cursor) become a
/// delivery per matching endpoint, and every cursor behind the last of them moves to
/// it, in this one transaction. A cursor that moved meanwhile (another instance did
/// this step) is a conflict: the transaction rolls back and nothing is added twice.
pub(crate) fn enqueue(
    conn: &mut Conn,
    changes: &[Change],
    now: DateTime<Utc>,
) -> StoreResult<usize> {
    let Some(last) = changes.last().map(|c| c.seq) else {
        return Ok(0);
    };
    let cursors: Vec<(String, i64)> = webhook_cursors::table
        .select((webhook_cursors::organization_id, webhook_cursors::seq))
        .load(conn)?;
    let endpoints: Vec<EndpointRow> = webhook_endpoints::table
        .filter(webhook_endpoints::deleted_at.is_null())
        .select(EndpointRow::as_select())
        .load(conn)?;
    let mut rows = Vec::new();
    for change in changes {
        let org = change.organization_id.to_string();
        let Some(cursor) = cursors.iter().find(|(o, _)| *o == org).map(|(_, s)| *s) else {
            continue;
        };
        for endpoint in endpoints.iter().filter(|e| e.organization_id == org) {
            let fresh = change.seq > cursor.max(endpoint.after_seq);
            let types = types_of(&endpoint.types)?;
            if !fresh || !delivers(&types, change.organization_id, change.kind, change.audience) {
                continue;
            }
            rows.push(DeliveryRow {
                id: domain::new_id().to_string(),
                endpoint_id: endpoint.id.clone(),
                organization_id: org.clone(),
                change_seq: change.seq,
                event_type: change.kind.as_str().to_owned(),
                client_id: change.client_id.to_string(),
                resource_type: change.resource_type.clone(),
                resource_id: change.resource_id.clone(),
                occurred_at: change.occurred_at.naive_utc(),
                status: DeliveryStatus::Pending.as_str().to_owned(),
                attempts: 0,
                next_attempt_at: now.naive_utc(),
                lease_owner: None,
                lease_until: None,
                last_attempt_at: None,
                last_status: None,
                last_body: None,
                last_error: None,
                created_at: now.naive_utc(),
            });
        }
    }
    for (org, seq) in cursors.into_iter().filter(|(_, seq)| *seq < last) {
        let moved = diesel::update(
            webhook_cursors::table
                .find(&org)
                .filter(webhook_cursors::seq.eq(seq)),
        )
        .set(webhook_cursors::seq.eq(last))
        .execute(conn)?;
        if moved == 0 {
            return Err(StoreError::Conflict("webhook cursor moved".into()));
        }
    }
    for row in &rows {
        diesel::insert_into(webhook_deliveries::table)
            .values(row)
            .execute(conn)?;
    }
    Ok(rows.len())
}

/// Deliveries due now, on endpoints neither paused nor deleted, oldest due first.
/// Pending or retrying. Two `eq`s, not `eq_any`: diesel caches a statement with
/// these, prepared once, not at each of the dispatcher's passes.
fn awaiting_attempt() -> diesel::dsl::Or<
    diesel::dsl::Eq<webhook_deliveries::status, &'static str>,
    diesel::dsl::Eq<webhook_deliveries::status, &'static str>,
> {
    webhook_deliveries::status
        .eq(DeliveryStatus::Pending.as_str())
        .or(webhook_deliveries::status.eq(DeliveryStatus::Retrying.as_str()))
}

pub(crate) fn due(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: i64,
) -> StoreResult<Vec<(String, String)>> {
    let now = now.naive_utc();
    Ok(webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(awaiting_attempt())
        .filter(webhook_deliveries::next_attempt_at.le(now))
        .filter(
            webhook_deliveries::lease_until
                .is_null()
                .or(webhook_deliveries::lease_until.lt(now)),
        )
        .filter(webhook_endpoints::paused.eq(false))
        .filter(webhook_endpoints::deleted_at.is_null())
        .order(webhook_deliveries::next_attempt_at.asc())
        .limit(limit)
        .select((webhook_deliveries::id, webhook_deliveries::endpoint_id))
        .load(conn)?)
}

/// Takes the lease of one due delivery (compare-and-set: only if nobody holds a live
/// lease), returning what to send; None when another instance took it first.
pub(crate) fn claim(
    conn: &mut Conn,
    delivery_id: &str,
    owner: &str,
    now: DateTime<Utc>,
    lease: Duration,
) -> StoreResult<Option<Outgoing>> {
    let naive = now.naive_utc();
    let free = webhook_deliveries::table
        .find(delivery_id)
        .filter(awaiting_attempt())
        .filter(webhook_deliveries::next_attempt_at.le(naive))
        .filter(
            webhook_deliveries::lease_until
                .is_null()
                .or(webhook_deliveries::lease_until.lt(naive)),
        );
    let taken = diesel::update(free)
        .set((
            webhook_deliveries::lease_owner.eq(Some(owner)),
            webhook_deliveries::lease_until.eq(Some((now + lease).naive_utc())),
        ))
        .execute(conn)?;
    if taken == 0 {
        return Ok(None);
    }
    let (delivery, endpoint): (DeliveryRow, EndpointRow) = webhook_deliveries::table
        .inner_join(webhook_endpoints::table)
        .filter(webhook_deliveries::id.eq(delivery_id))
        .select((DeliveryRow::as_select(), EndpointRow::as_select()))
        .first(conn)?;
    Ok(Some(Outgoing {
        secrets: endpoint.signing_secrets(now),
        url: endpoint.url,
        delivery: delivery.into_delivery()?,
    }))
}

/// What one attempt ended with, stored if this instance still holds the lease.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
    conn: &mut Conn,
    delivery_id: Uuid,
    owner: &str,
    attempts: i32,
    status: DeliveryStatus,
    next_attempt_at: DateTime<Utc>,
    response: (Option<i32>, Option<String>, Option<String>),
    now: DateTime<Utc>,
) -> StoreResult<bool> {
    let (last_status, last_body, last_error) = response;
    let mine = webhook_deliveries::table
        .find(delivery_id.to_string())
        .filter(webhook_deliveries::lease_owner.eq(owner));
    let done = diesel::update(mine)
        .set((
            webhook_deliveries::status.eq(status.as_str()),
            webhook_deliveries::attempts.eq(attempts),
            webhook_deliveries::next_attempt_at.eq(next_attempt_at.naive_utc()),
            webhook_deliveries::lease_owner.eq(None::<String>),
            webhook_deliveries::lease_until.eq(None::<chrono::NaiveDateTime>),
            webhook_deliveries::last_attempt_at.eq(Some(now.naive_utc())),
            webhook_deliveries::last_status.eq(last_status),
            webhook_deliveries::last_body.eq(last_body),
            webhook_deliveries::last_error.eq(last_error),
        ))
        .execute(conn)?;
    Ok(done > 0)
}
