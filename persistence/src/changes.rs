//! The change log: appended by the writer at the end of each group commit, in the
//! same transaction as the changes it records; read in order by live streams.
//!
//! Order: a batch takes its places from the one head row (an UPDATE, which holds the
//! row's lock until commit) just before it commits. A second instance's batch waits on
//! that lock, so places are handed out in commit order and a reader sees a gap-free
//! prefix of the log at any moment. (A sequence would not do: a value taken before a
//! slow commit becomes visible after later ones, and a cursor past it skips it.)
//!
//! On SQLite a write transaction already holds the database's one write lock, so the
//! head is the larger of the head row and the last place taken, both read by cached
//! statements; the head row is brought up to date only when pruning (diesel prepares
//! every UPDATE afresh, and that one prepare was the change log's largest cost).

use std::cell::RefCell;

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use domain::change::{Audience, Change, ChangeKind};
use uuid::Uuid;

use crate::{
    rows::{id, opt_id, parse_stored, utc},
    schema::{change_log_head, changes},
    Conn, StoreResult,
};

/// The PostgreSQL channel a commit that appended changes notifies, with the new head.
pub const CHANNEL: &str = "headway_changes";

/// `treat_none_as_default_value = false` here and on every row type: None binds NULL
/// rather than writing DEFAULT, so an insert's SQL never varies and diesel caches it
/// (a statement prepared for every insert cost recording a tenth of its instructions).
#[derive(Insertable, Queryable, Selectable, Debug, Clone)]
#[diesel(table_name = changes, treat_none_as_default_value = false)]
pub(crate) struct ChangeRow {
    seq: i64,
    organization_id: String,
    client_id: String,
    kind: String,
    resource_type: String,
    resource_id: Option<String>,
    audience: String,
    actor_id: Option<String>,
    occurred_at: chrono::NaiveDateTime,
    detail: Option<String>,
}

/// A change, before the log gives it its place.
#[derive(Debug, Clone)]
pub(crate) struct NewChange {
    pub organization_id: Uuid,
    pub client_id: Uuid,
    pub kind: ChangeKind,
    pub resource_type: String,
    pub resource_id: Option<String>,
    pub audience: Audience,
    pub actor_id: Option<Uuid>,
    pub occurred_at: DateTime<Utc>,
    /// What it says beyond its record, as JSON (a milestone's kind and value).
    pub detail: Option<String>,
}

thread_local! {
    /// Changes noted by the writer's jobs during the current group commit.
    static BATCH: RefCell<Option<Vec<NewChange>>> = const { RefCell::new(None) };
}

pub(crate) fn begin_batch() {
    BATCH.with(|b| *b.borrow_mut() = Some(Vec::new()));
}

pub(crate) fn batch_len() -> usize {
    BATCH.with(|b| b.borrow().as_ref().map_or(0, Vec::len))
}

/// Forgets the changes noted since `len`: their savepoint rolled back.
pub(crate) fn truncate_batch(len: usize) {
    BATCH.with(|b| {
        if let Some(noted) = b.borrow_mut().as_mut() {
            noted.truncate(len);
        }
    });
}

pub(crate) fn end_batch() -> Vec<NewChange> {
    BATCH.with(|b| b.borrow_mut().take().unwrap_or_default())
}

/// Whether the current job has already noted a change of `kind` (since `from`).
pub(crate) fn noted_since(from: usize, kind: ChangeKind) -> bool {
    BATCH.with(|b| {
        b.borrow()
            .as_ref()
            .is_some_and(|noted| noted.iter().skip(from).any(|c| c.kind == kind))
    })
}

/// Notes a change of the current write. Writes run on the writer, inside a batch; a
/// write outside one (none today) appends at once.
pub(crate) fn note(conn: &mut Conn, change: NewChange) -> StoreResult<()> {
    let unbatched = BATCH.with(|b| match b.borrow_mut().as_mut() {
        Some(noted) => {
            noted.push(change);
            None
        }
        None => Some(change),
    });
    match unbatched {
        Some(change) => append_all(conn, vec![change]).map(|_| ()),
        None => Ok(()),
    }
}

/// Appends the batch's changes and returns the log's new head, if anything was added.
pub(crate) fn append_all(conn: &mut Conn, noted: Vec<NewChange>) -> StoreResult<Option<i64>> {
    if noted.is_empty() {
        return Ok(None);
    }
    let count = noted.len() as i64;
    let head: i64 = match conn {
        crate::DbConnection::Sqlite(_) => head(conn)? + count,
        crate::DbConnection::Postgresql(_) => diesel::update(change_log_head::table.find(1))
            .set(change_log_head::seq.eq(change_log_head::seq + count))
            .returning(change_log_head::seq)
            .get_result(conn)?,
    };
    let rows: Vec<ChangeRow> = noted
        .into_iter()
        .zip(head - count + 1..)
        .map(|(c, seq)| ChangeRow {
            seq,
            organization_id: c.organization_id.to_string(),
            client_id: c.client_id.to_string(),
            kind: c.kind.as_str().to_owned(),
            resource_type: c.resource_type,
            resource_id: c.resource_id,
            audience: c.audience.as_str().to_owned(),
            actor_id: c.actor_id.map(|a| a.to_string()),
            occurred_at: c.occurred_at.trunc_subsecs(6).naive_utc(),
            detail: c.detail,
        })
        .collect();
    crate::db::insert_rows!(conn, changes::table, rows);
    if let crate::DbConnection::Postgresql(c) = conn {
        // Delivered at commit, to every instance listening: they read the new rows.
        diesel::sql_query(format!("NOTIFY {CHANNEL}, '{head}'")).execute(c)?;
    }
    Ok(Some(head))
}

fn change_of(row: ChangeRow) -> StoreResult<Change> {
    Ok(Change {
        seq: row.seq,
        organization_id: id(&row.organization_id)?,
        client_id: id(&row.client_id)?,
        kind: parse_stored(&row.kind, |k| ChangeKind::parse("kind", k))?,
        resource_type: row.resource_type,
        resource_id: row.resource_id,
        audience: parse_stored(&row.audience, |a| Audience::parse("audience", a))?,
        actor_id: opt_id(row.actor_id.as_deref())?,
        occurred_at: utc(row.occurred_at),
        detail: row.detail,
    })
}

/// Up to `limit` changes after `seq`, in order.
pub(crate) fn after(conn: &mut Conn, seq: i64, limit: i64) -> StoreResult<Vec<Change>> {
    after_within(conn, None, seq, limit)
}

/// The same, within one organization.
pub(crate) fn after_in(
    conn: &mut Conn,
    organization_id: Uuid,
    seq: i64,
    limit: i64,
) -> StoreResult<Vec<Change>> {
    after_within(conn, Some(organization_id), seq, limit)
}

fn after_within(
    conn: &mut Conn,
    organization_id: Option<Uuid>,
    seq: i64,
    limit: i64,
) -> StoreResult<Vec<Change>> {
    let mut q = changes::table
        .filter(changes::seq.gt(seq))
        .order(changes::seq.asc())
        .limit(limit)
        .select(ChangeRow::as_select())
        .into_boxed();
    if let Some(org) = organization_id {
        q = q.filter(changes::organization_id.eq(org.to_string()));
    }
    q.load(conn)?.into_iter().map(change_of).collect()
}

/// The log's bounds: the oldest place still kept (none when empty) and the head.
pub(crate) fn bounds(conn: &mut Conn) -> StoreResult<(Option<i64>, i64)> {
    let oldest = changes::table
        .select(diesel::dsl::min(changes::seq))
        .first::<Option<i64>>(conn)?;
    Ok((oldest, head(conn)?))
}

/// The last place handed out (see the module's note on SQLite).
pub(crate) fn head(conn: &mut Conn) -> StoreResult<i64> {
    let row: i64 = change_log_head::table
        .find(1)
        .select(change_log_head::seq)
        .first(conn)?;
    if let crate::DbConnection::Sqlite(_) = conn {
        let last = changes::table
            .select(diesel::dsl::max(changes::seq))
            .first::<Option<i64>>(conn)?;
        return Ok(last.map_or(row, |last| last.max(row)));
    }
    Ok(row)
}

/// Forgets changes that happened before `cutoff` (the retention window).
pub(crate) fn prune(conn: &mut Conn, cutoff: DateTime<Utc>) -> StoreResult<usize> {
    let (Some(mut low), head) = bounds(conn)? else {
        return Ok(0);
    };
    if let crate::DbConnection::Sqlite(_) = conn {
        // The head row keeps the last place once the rows that held it are gone.
        diesel::update(change_log_head::table.find(1))
            .set(change_log_head::seq.eq(head))
            .execute(conn)?;
    }
    let cutoff = cutoff.naive_utc();
    let older = |conn: &mut Conn, seq: i64| -> StoreResult<bool> {
        let at: Option<chrono::NaiveDateTime> = changes::table
            .find(seq)
            .select(changes::occurred_at)
            .first(conn)
            .optional()?;
        Ok(at.is_some_and(|at| at < cutoff))
    };
    if !older(conn, low)? {
        return Ok(0);
    }
    // Places are handed out in time order (with no gaps above the oldest kept), so the
    // last place older than the cutoff is found by halving, a few reads by key.
    let mut high = head;
    while low < high {
        let mid = low + (high - low + 1) / 2;
        if older(conn, mid)? {
            low = mid;
        } else {
            high = mid - 1;
        }
    }
    Ok(diesel::delete(changes::table.filter(changes::seq.le(low))).execute(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{db, testing};
    use chrono::Duration;

    #[test]
    fn pruning_forgets_exactly_what_is_older_than_the_cutoff() {
        let (backend, _dir) = testing::backend();
        let mut conn = db::connect(&backend).unwrap_or_else(|e| panic!("{e}"));
        db::migrate(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        let start = Utc::now() - Duration::hours(10);
        // Ten changes an hour apart, appended as the writer appends them.
        let noted: Vec<NewChange> = (0..10)
            .map(|h| NewChange {
                occurred_at: start + Duration::hours(h),
                ..noted_one()
            })
            .collect();
        let head = append_all(&mut conn, noted).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(head, Some(10));
        // Nothing is older than the first: nothing goes.
        let none = prune(&mut conn, start - Duration::minutes(1));
        assert_eq!(none.ok(), Some(0));
        // The cut between the 4th and 5th: the first four go, in any case of halving.
        let cut = start + Duration::hours(3) + Duration::minutes(30);
        assert_eq!(prune(&mut conn, cut).ok(), Some(4));
        assert_eq!(bounds(&mut conn).ok(), Some((Some(5), 10)));
        assert_eq!(
            prune(&mut conn, cut).ok(),
            Some(0),
            "pruning again forgets nothing"
        );
        // Everything older than now: all of it.
        assert_eq!(prune(&mut conn, Utc::now()).ok(), Some(6));
        assert_eq!(bounds(&mut conn).ok(), Some((None, 10)));
        assert_eq!(prune(&mut conn, Utc::now()).ok(), Some(0));
        // With every row gone, the next place still follows the last one handed out:
        // an id an app holds is never given to another change.
        let next = NewChange {
            occurred_at: Utc::now(),
            ..noted_one()
        };
        let head = append_all(&mut conn, vec![next.clone(), next]);
        assert_eq!(head.ok(), Some(Some(12)));
        assert_eq!(bounds(&mut conn).ok(), Some((Some(11), 12)));
    }

    fn noted_one() -> NewChange {
        NewChange {
            organization_id: Uuid::nil(),
            client_id: Uuid::nil(),
            kind: ChangeKind::ClientUpdated,
            resource_type: "client".into(),
            resource_id: None,
            audience: Audience::Everyone,
            actor_id: None,
            occurred_at: Utc::now(),
            detail: None,
        }
    }
}
