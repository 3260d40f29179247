//! The audit trail: appended here (hash-chained), searched here, verified here, never
//! changed.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SubsecRound, Utc};
use diesel::prelude::*;
use domain::{
    audit::{describe, AuditEvent, Outcome, RequestMeta, Who},
    identity::{Principal, Role},
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{
    rows::{id, opt_id, parse_stored, utc, AuditRow},
    schema::{audit_chain_heads, audit_events, users},
    Conn, Page, PageRequest, StoreError, StoreResult,
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

impl Subject {
    /// One resource of a client's record (or of the clinic).
    pub fn one(action: &'static str, resource_type: &'static str, id: impl ToString) -> Self {
        Subject {
            action,
            resource_type,
            resource_id: Some(id.to_string()),
            client_id: None,
        }
    }

    /// Many resources at once (a list, a search).
    pub fn many(action: &'static str, resource_type: &'static str) -> Self {
        Subject {
            action,
            resource_type,
            resource_id: None,
            client_id: None,
        }
    }
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

/// Appends one event. On the writer thread, during a group commit, the event joins
/// the batch's others (see [`begin_batch`]); elsewhere it is chained at once, in the
/// caller's transaction.
pub fn record(
    conn: &mut Conn,
    actor: Actor,
    subject: &Subject,
    outcome: Outcome,
    meta: &RequestMeta,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let row = row(actor, subject, outcome, meta, now);
    let unbatched = BATCH.with(|batch| match batch.borrow_mut().as_mut() {
        Some(events) => {
            events.push(row);
            None
        }
        None => Some(row),
    });
    match unbatched {
        Some(row) => append_all(conn, vec![row]),
        None => Ok(()),
    }
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
        // Both backends keep microseconds; the hash must cover what is read back.
        occurred_at: now.trunc_subsecs(6).naive_utc(),
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

// ---------------------------------------------------------------------------------
// The hash chain: tamper evidence.
//
// Each organization's events form a chain (events with no organization form the
// chain `none`): event n stores n, the hash of event n-1 (all zeros for the first)
// and its own hash, SHA-256 over every stored field and those two. The chain's head
// row holds the last n and hash. Altering, removing or reordering an event, or
// dropping the newest ones, breaks a link that `verify_chain` finds. Events written
// before the chain existed carry no hash; the head counts them (see the migration
// `2026-11-24-000001_audit_chain`).
// ---------------------------------------------------------------------------------

/// The chain of events that belong to no organization.
pub const NO_ORGANIZATION: &str = "none";

/// What the first event of a chain links to.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Versions the encoding below: a change to it must change this tag.
const ENCODING: &str = "headway.audit-event.v1";

thread_local! {
    /// Events recorded by the writer's jobs during the current group commit, appended
    /// together at its end so each chain's head is locked once per batch, and heads
    /// are always locked in the same order (no deadlock between instances).
    static BATCH: std::cell::RefCell<Option<Vec<AuditRow>>> = const { std::cell::RefCell::new(None) };
}

/// From now on, events recorded on this thread wait for [`end_batch`].
pub(crate) fn begin_batch() {
    BATCH.with(|batch| *batch.borrow_mut() = Some(Vec::new()));
}

/// How many events the current batch holds (to undo a failed job's, see [`truncate_batch`]).
pub(crate) fn batch_len() -> usize {
    BATCH.with(|batch| batch.borrow().as_ref().map_or(0, Vec::len))
}

/// Forgets the events recorded since `len`: their savepoint rolled back.
pub(crate) fn truncate_batch(len: usize) {
    BATCH.with(|batch| {
        if let Some(events) = batch.borrow_mut().as_mut() {
            events.truncate(len);
        }
    });
}

/// Ends the batch and hands over its events; recording is immediate again.
pub(crate) fn end_batch() -> Vec<AuditRow> {
    BATCH.with(|batch| batch.borrow_mut().take().unwrap_or_default())
}

/// The chain an event belongs to.
fn chain_of(event: &AuditRow) -> &str {
    event.organization_id.as_deref().unwrap_or(NO_ORGANIZATION)
}

/// SHA-256, as lowercase hex, of an event's stored fields, its place in the chain and
/// the previous event's hash. Every field is tagged present/absent and
/// length-prefixed, so no two different events encode alike.
pub(crate) fn event_hash(event: &AuditRow, chain_seq: i64, prev_hash: &str) -> String {
    fn text(h: &mut Sha256, value: Option<&str>) {
        match value {
            None => h.update([0u8]),
            Some(v) => {
                h.update([1u8]);
                h.update((v.len() as u64).to_be_bytes());
                h.update(v.as_bytes());
            }
        }
    }
    let mut h = Sha256::new();
    text(&mut h, Some(ENCODING));
    text(&mut h, Some(&event.id));
    h.update(event.occurred_at.and_utc().timestamp_micros().to_be_bytes());
    text(&mut h, event.organization_id.as_deref());
    text(&mut h, event.actor_id.as_deref());
    text(&mut h, event.actor_role.as_deref());
    text(&mut h, Some(&event.action));
    text(&mut h, Some(&event.resource_type));
    text(&mut h, event.resource_id.as_deref());
    text(&mut h, event.client_id.as_deref());
    text(&mut h, Some(&event.outcome));
    text(&mut h, event.request_id.as_deref());
    text(&mut h, event.source_ip.as_deref());
    h.update(chain_seq.to_be_bytes());
    text(&mut h, Some(prev_hash));
    format!("{:x}", h.finalize())
}

/// An event as inserted: with its link in the chain.
#[derive(Insertable)]
#[diesel(table_name = audit_events, treat_none_as_default_value = false)]
struct ChainedRow {
    #[diesel(embed)]
    event: AuditRow,
    chain_seq: i64,
    prev_hash: String,
    hash: String,
}

/// A chain's last link.
#[derive(Queryable, Selectable, Insertable, Debug, Clone, PartialEq, Eq)]
#[diesel(table_name = audit_chain_heads, treat_none_as_default_value = false)]
struct Head {
    chain: String,
    seq: i64,
    hash: String,
    events_before_chain: i64,
}

fn find_head(conn: &mut Conn, chain: &str, lock: bool) -> StoreResult<Option<Head>> {
    // All columns in table order (Head's field order): one query type for both backends.
    let query = audit_chain_heads::table.find(chain.to_owned());
    Ok(match conn {
        // SQLite write transactions begin IMMEDIATE: already one writer at a time.
        crate::DbConnection::Sqlite(c) => query.first(c).optional()?,
        crate::DbConnection::Postgresql(c) if lock => query.for_update().first(c).optional()?,
        crate::DbConnection::Postgresql(c) => query.first(c).optional()?,
    })
}

/// Locks a chain's head for this transaction, creating it for a new chain.
fn lock_head(conn: &mut Conn, chain: &str) -> StoreResult<Head> {
    if let Some(head) = find_head(conn, chain, true)? {
        return Ok(head);
    }
    // Another instance may be creating the same head: whoever loses waits for it,
    // then both lock the one row.
    let genesis = Head {
        chain: chain.to_owned(),
        seq: 0,
        hash: GENESIS.to_owned(),
        events_before_chain: 0,
    };
    match conn {
        crate::DbConnection::Sqlite(c) => diesel::insert_into(audit_chain_heads::table)
            .values(&genesis)
            .on_conflict_do_nothing()
            .execute(c)?,
        crate::DbConnection::Postgresql(c) => diesel::insert_into(audit_chain_heads::table)
            .values(&genesis)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    find_head(conn, chain, true)?
        .ok_or_else(|| StoreError::Unavailable(format!("audit chain {chain} has no head")))
}

/// Chains and appends events in few statements: per chain one head lock and one head
/// update, and multi-row inserts (the writer's batches; a single event elsewhere).
pub(crate) fn append_all(conn: &mut Conn, events: Vec<AuditRow>) -> StoreResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    // Sorted by chain: every appender locks heads in the same order.
    let mut chains: BTreeMap<String, Vec<AuditRow>> = BTreeMap::new();
    for event in events {
        chains
            .entry(chain_of(&event).to_owned())
            .or_default()
            .push(event);
    }
    let mut rows = Vec::new();
    let mut heads = Vec::with_capacity(chains.len());
    for (chain, events) in chains {
        let mut head = lock_head(conn, &chain)?;
        for event in events {
            head.seq += 1;
            let hash = event_hash(&event, head.seq, &head.hash);
            let prev_hash = std::mem::replace(&mut head.hash, hash.clone());
            rows.push(ChainedRow {
                event,
                chain_seq: head.seq,
                prev_hash,
                hash,
            });
        }
        heads.push(head);
    }
    crate::db::insert_rows!(conn, audit_events::table, rows);
    for head in heads {
        diesel::update(audit_chain_heads::table.find(&head.chain))
            .set((
                audit_chain_heads::seq.eq(head.seq),
                audit_chain_heads::hash.eq(&head.hash),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// What is wrong at the first broken link of a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The event's fields (or its place) no longer hash to its stored hash: altered.
    HashMismatch { seq: i64 },
    /// The event does not point at the hash of the event before it: that one was
    /// altered and rehashed, replaced, or the two were reordered.
    BrokenLink {
        seq: i64,
        previous_event: Option<String>,
    },
    /// A sequence number is missing (an event removed) or repeated.
    SequenceGap { expected: i64, found: i64 },
    /// The head does not match the last event: the newest events were removed, or
    /// the head was altered.
    HeadMismatch { head_seq: i64, last_seq: i64 },
    /// Events of a chain that has no head.
    NoHead,
    /// The count of events from before the chain changed.
    EventsBeforeChain { recorded: i64, found: i64 },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainProblem::HashMismatch { seq } => write!(
                f,
                "event #{seq}: hash mismatch (its stored fields were changed)"
            ),
            ChainProblem::BrokenLink {
                seq,
                previous_event,
            } => write!(
                f,
                "event #{seq}: does not link to the event before it ({}): reordered, replaced, or that event was changed",
                previous_event.as_deref().unwrap_or("the chain's start")
            ),
            ChainProblem::SequenceGap { expected, found } if found > expected => write!(
                f,
                "sequence number {expected} is missing (next is {found}): an event was removed"
            ),
            ChainProblem::SequenceGap { expected, found } => write!(
                f,
                "sequence number {found} appears out of order (expected {expected})"
            ),
            ChainProblem::HeadMismatch { head_seq, last_seq } => write!(
                f,
                "head mismatch: the head is at #{head_seq} but the last event found is #{last_seq} (events removed from the end, or the head changed)"
            ),
            ChainProblem::NoHead => f.write_str("events but no chain head"),
            ChainProblem::EventsBeforeChain { recorded, found } => write!(
                f,
                "{found} events without a chain link, but {recorded} were there when the chain began"
            ),
        }
    }
}

/// The first broken link of a chain: the event where it shows (if one) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub event_id: Option<String>,
    pub problem: ChainProblem,
}

impl std::fmt::Display for ChainBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.event_id {
            Some(id) => write!(f, "event {id}: {}", self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}

/// One chain's verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    /// The organization id, or [`NO_ORGANIZATION`].
    pub chain: String,
    /// Events whose hash and link were checked before the first break (all, if intact).
    pub events_checked: u64,
    /// Events from before the chain existed (counted, not hashed).
    pub events_before_chain: i64,
    /// The head's hash: kept elsewhere, it shows later whether the chain was rewritten.
    pub head_hash: Option<String>,
    pub broken: Option<ChainBreak>,
}

/// Every chain's verification, in chain order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub chains: Vec<ChainReport>,
}

impl VerifyReport {
    pub fn is_intact(&self) -> bool {
        self.chains.iter().all(|c| c.broken.is_none())
    }

    pub fn chain(&self, chain: &str) -> Option<&ChainReport> {
        self.chains.iter().find(|c| c.chain == chain)
    }
}

/// An event as read for verification.
#[derive(Queryable, Selectable)]
#[diesel(table_name = audit_events)]
struct LinkedRow {
    #[diesel(embed)]
    event: AuditRow,
    chain_seq: Option<i64>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

/// The chain an event row belongs to, as SQL; the same expression as the index
/// `audit_by_chain`, so lookups by chain use it.
fn chain_column() -> diesel::expression::SqlLiteral<diesel::sql_types::Text> {
    diesel::dsl::sql::<diesel::sql_types::Text>("COALESCE(organization_id, 'none')")
}

/// Events read per query while verifying.
const VERIFY_PAGE: i64 = 5_000;

/// Checks every audit chain: each event's hash, its link to the one before, that
/// sequence numbers run 1, 2, 3… without gaps, that the head matches the last event,
/// and that the events from before the chain are all still there. Reads one
/// consistent snapshot, so appends running meanwhile do not disturb it.
pub fn verify_chain(conn: &mut Conn) -> StoreResult<VerifyReport> {
    use diesel::connection::{AnsiTransactionManager, TransactionManager};
    match conn {
        crate::DbConnection::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?
        }
        crate::DbConnection::Postgresql(c) => AnsiTransactionManager::begin_transaction_sql(
            c,
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        )?,
    }
    let report = verify_all(conn);
    // Nothing was written; ending the snapshot is all that is left.
    let _ = <Conn as Connection>::TransactionManager::rollback_transaction(conn);
    report
}

fn verify_all(conn: &mut Conn) -> StoreResult<VerifyReport> {
    let heads: BTreeMap<String, Head> = audit_chain_heads::table
        .select(Head::as_select())
        .load(conn)?
        .into_iter()
        .map(|h| (h.chain.clone(), h))
        .collect();
    let mut chains: BTreeSet<String> = heads.keys().cloned().collect();
    chains.extend(
        audit_events::table
            .select(chain_column())
            .distinct()
            .load::<String>(conn)?,
    );
    let mut reports = Vec::with_capacity(chains.len());
    for chain in chains {
        reports.push(verify_one(conn, &chain, heads.get(&chain))?);
    }
    Ok(VerifyReport { chains: reports })
}

fn verify_one(conn: &mut Conn, chain: &str, head: Option<&Head>) -> StoreResult<ChainReport> {
    let unlinked: i64 = audit_events::table
        .filter(chain_column().eq(chain.to_owned()))
        .filter(audit_events::chain_seq.is_null())
        .count()
        .get_result(conn)?;
    let mut report = ChainReport {
        chain: chain.to_owned(),
        events_checked: 0,
        events_before_chain: unlinked,
        head_hash: head.map(|h| h.hash.clone()),
        broken: None,
    };
    let broken = |event_id: Option<&str>, problem| {
        Some(ChainBreak {
            event_id: event_id.map(str::to_owned),
            problem,
        })
    };
    let Some(head) = head else {
        report.broken = broken(None, ChainProblem::NoHead);
        return Ok(report);
    };
    if unlinked != head.events_before_chain {
        report.broken = broken(
            None,
            ChainProblem::EventsBeforeChain {
                recorded: head.events_before_chain,
                found: unlinked,
            },
        );
        return Ok(report);
    }
    let (mut last_seq, mut last_hash, mut last_id) = (0i64, GENESIS.to_owned(), None::<String>);
    loop {
        let page: Vec<LinkedRow> = audit_events::table
            .filter(chain_column().eq(chain.to_owned()))
            .filter(audit_events::chain_seq.gt(last_seq))
            .order(audit_events::chain_seq.asc())
            .limit(VERIFY_PAGE)
            .select(LinkedRow::as_select())
            .load(conn)?;
        let full = page.len() as i64 == VERIFY_PAGE;
        for row in page {
            let seq = row.chain_seq.unwrap_or_default();
            let id = Some(row.event.id.as_str());
            if seq != last_seq + 1 {
                report.broken = broken(
                    id,
                    ChainProblem::SequenceGap {
                        expected: last_seq + 1,
                        found: seq,
                    },
                );
                return Ok(report);
            }
            let hash = event_hash(
                &row.event,
                seq,
                row.prev_hash.as_deref().unwrap_or_default(),
            );
            if row.hash.as_deref() != Some(hash.as_str()) {
                report.broken = broken(id, ChainProblem::HashMismatch { seq });
                return Ok(report);
            }
            if row.prev_hash.as_deref() != Some(last_hash.as_str()) {
                report.broken = broken(
                    id,
                    ChainProblem::BrokenLink {
                        seq,
                        previous_event: last_id,
                    },
                );
                return Ok(report);
            }
            report.events_checked += 1;
            (last_seq, last_hash, last_id) = (seq, hash, Some(row.event.id));
        }
        if !full {
            break;
        }
    }
    if head.seq != last_seq || head.hash != last_hash {
        report.broken = broken(
            last_id.as_deref(),
            ChainProblem::HeadMismatch {
                head_seq: head.seq,
                last_seq,
            },
        );
    }
    Ok(report)
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
/// can recognise them, and the whole entry in plain words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessEntry {
    pub id: Uuid,
    pub occurred_at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_name: Option<String>,
    pub actor_role: Option<Role>,
    /// Whether the reader of the log did this themselves.
    pub by_you: bool,
    pub action: String,
    pub outcome: Outcome,
    /// `domain::audit::describe`: "Olivia Okafor (therapist) viewed your progress chart".
    pub description: String,
}

/// Which entries of an access log to show, to whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessLogView {
    /// Who reads the log: their own actions are "You", and left out unless asked for.
    pub reader: Uuid,
    pub include_own: bool,
}

/// Who has viewed or changed a client's record, newest first.
pub fn access_log(
    conn: &mut Conn,
    client: crate::Reached,
    view: AccessLogView,
    page: PageRequest,
) -> StoreResult<Page<AccessEntry>> {
    let reader = view.reader.to_string();
    let mut q = audit_events::table
        .left_join(users::table.on(audit_events::actor_id.eq(users::id.nullable())))
        .filter(audit_events::client_id.eq(client.client_id().to_string()))
        // Only the clinic's own staff and the client's people, never another tenant's probes.
        .filter(audit_events::organization_id.eq(client.organization_id().to_string()))
        .select((AuditRow::as_select(), users::display_name.nullable()))
        .order(audit_events::id.desc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    if !view.include_own {
        q = q.filter(
            audit_events::actor_id
                .is_null()
                .or(audit_events::actor_id.ne(reader)),
        );
    }
    if let Some(after) = page.after {
        q = q.filter(audit_events::id.lt(after.to_string()));
    }
    let rows: Vec<(AuditRow, Option<String>)> = q.load(conn)?;
    let items = rows
        .into_iter()
        .map(|(row, name)| {
            let e = event_from(row)?;
            let by_you = e.actor_id == Some(view.reader);
            let who = if by_you {
                Who::You
            } else {
                Who::Someone {
                    name: name.as_deref(),
                    role: e.actor_role,
                }
            };
            Ok(AccessEntry {
                description: describe(who, &e.action, e.outcome),
                id: e.id,
                occurred_at: e.occurred_at,
                actor_id: e.actor_id,
                actor_name: name,
                actor_role: e.actor_role,
                by_you,
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

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use domain::{audit::Outcome, identity::Role};

    use super::*;
    use crate::{db, Backend, Writer};

    fn event(org: Option<Uuid>, action: &'static str) -> AuditRow {
        row(
            Actor {
                organization_id: org,
                user_id: Some(Uuid::now_v7()),
                role: Some(Role::Therapist),
            },
            &Subject {
                action,
                resource_type: "client",
                resource_id: Some("r-1".into()),
                client_id: Some(Uuid::now_v7()),
            },
            Outcome::Success,
            &RequestMeta {
                request_id: Some("req-1".into()),
                source_ip: Some("127.0.0.1".into()),
            },
            Utc::now(),
        )
    }

    /// A migrated SQLite database in a temporary directory.
    fn database() -> (tempfile::TempDir, Backend, Conn) {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let backend = Backend::Sqlite(dir.path().join("audit.db").display().to_string());
        let mut conn = db::connect(&backend).unwrap_or_else(|e| panic!("{e}"));
        db::migrate(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        (dir, backend, conn)
    }

    fn append(conn: &mut Conn, events: Vec<AuditRow>) {
        db::write(conn, |c| append_all(c, events)).unwrap_or_else(|e| panic!("{e}"));
    }

    fn verify(conn: &mut Conn) -> VerifyReport {
        verify_chain(conn).unwrap_or_else(|e| panic!("{e}"))
    }

    fn tamper(conn: &mut Conn, sql: &str) {
        conn.batch_execute(&format!(
            "DROP TRIGGER IF EXISTS audit_events_no_update; DROP TRIGGER IF EXISTS audit_events_no_delete; {sql}"
        ))
        .unwrap_or_else(|e| panic!("{e}"));
    }

    fn id_at(conn: &mut Conn, org: Uuid, seq: i64) -> String {
        audit_events::table
            .filter(audit_events::organization_id.eq(org.to_string()))
            .filter(audit_events::chain_seq.eq(seq))
            .select(audit_events::id)
            .first(conn)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_hash_covers_every_field_and_cannot_be_shifted_between_fields() {
        let base = event(Some(Uuid::now_v7()), "client.read");
        let h = |e: &AuditRow| event_hash(e, 7, GENESIS);
        assert_eq!(h(&base), h(&base.clone()));
        assert_eq!(h(&base).len(), 64);
        let changes: [fn(&mut AuditRow); 12] = [
            |e| e.id.push('0'),
            |e| e.occurred_at += chrono::Duration::microseconds(1),
            |e| e.organization_id = None,
            |e| e.actor_id = Some(Uuid::now_v7().to_string()),
            |e| e.actor_role = Some("admin".into()),
            |e| e.action = "client.update".into(),
            |e| e.resource_type = "goal".into(),
            |e| e.resource_id = Some(String::new()),
            |e| e.client_id = None,
            |e| e.outcome = "denied".into(),
            |e| e.request_id = None,
            |e| e.source_ip = Some("10.0.0.1".into()),
        ];
        for (i, change) in changes.iter().enumerate() {
            let mut altered = base.clone();
            change(&mut altered);
            assert_ne!(
                h(&altered),
                h(&base),
                "field change {i} must change the hash"
            );
        }
        assert_ne!(
            event_hash(&base, 8, GENESIS),
            h(&base),
            "the place in the chain counts"
        );
        assert_ne!(
            event_hash(&base, 7, &"1".repeat(64)),
            h(&base),
            "so does the link"
        );
        // Moving text from one field to the next is not the same event.
        let (mut a, mut b) = (base.clone(), base.clone());
        (a.action, a.resource_type) = ("client.re".into(), "adclient".into());
        (b.action, b.resource_type) = ("client.read".into(), "client".into());
        assert_ne!(h(&a), h(&b));
        // Absent is not empty.
        let (mut a, mut b) = (base.clone(), base);
        (a.resource_id, b.resource_id) = (None, Some(String::new()));
        assert_ne!(h(&a), h(&b));
    }

    #[test]
    fn an_untouched_trail_verifies_chain_by_chain() {
        let (_dir, _backend, mut conn) = database();
        let (org_a, org_b) = (Uuid::now_v7(), Uuid::now_v7());
        append(&mut conn, vec![event(Some(org_a), "client.read")]);
        append(
            &mut conn,
            (0..3)
                .flat_map(|_| {
                    [
                        event(Some(org_a), "client.read"),
                        event(Some(org_b), "goal.read"),
                        event(None, "auth.login"),
                    ]
                })
                .collect(),
        );
        let report = verify(&mut conn);
        assert!(report.is_intact(), "{report:?}");
        let counts: Vec<(String, u64)> = report
            .chains
            .iter()
            .map(|c| (c.chain.clone(), c.events_checked))
            .collect();
        let mut expected = vec![
            (org_a.to_string(), 4),
            (org_b.to_string(), 3),
            (NO_ORGANIZATION.to_owned(), 3),
        ];
        expected.sort();
        assert_eq!(counts, expected);
        // Sequence numbers run 1, 2, 3… per chain, and each links to the one before.
        let seqs: Vec<i64> = audit_events::table
            .filter(audit_events::organization_id.eq(org_a.to_string()))
            .order(audit_events::chain_seq)
            .select(audit_events::chain_seq.assume_not_null())
            .load(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(seqs, vec![1, 2, 3, 4]);
    }

    #[test]
    fn a_changed_field_is_named() {
        let (_dir, _backend, mut conn) = database();
        let org = Uuid::now_v7();
        append(
            &mut conn,
            (0..5).map(|_| event(Some(org), "client.read")).collect(),
        );
        let third = id_at(&mut conn, org, 3);
        tamper(
            &mut conn,
            &format!("UPDATE audit_events SET outcome = 'denied' WHERE id = '{third}'"),
        );
        let report = verify(&mut conn);
        let chain = report
            .chain(&org.to_string())
            .unwrap_or_else(|| panic!("no chain"));
        assert_eq!(
            chain.broken,
            Some(ChainBreak {
                event_id: Some(third),
                problem: ChainProblem::HashMismatch { seq: 3 }
            })
        );
        assert_eq!(chain.events_checked, 2);
        assert!(!report.is_intact());
    }

    #[test]
    fn a_rehashed_change_breaks_the_next_link() {
        let (_dir, _backend, mut conn) = database();
        let org = Uuid::now_v7();
        append(
            &mut conn,
            (0..3).map(|_| event(Some(org), "client.read")).collect(),
        );
        let second = id_at(&mut conn, org, 2);
        // A forger who knows the scheme recomputes the altered event's own hash.
        let mut row: LinkedRow = audit_events::table
            .find(&second)
            .select(LinkedRow::as_select())
            .first(&mut conn)
            .unwrap_or_else(|e| panic!("{e}"));
        row.event.outcome = "denied".into();
        let forged = event_hash(&row.event, 2, row.prev_hash.as_deref().unwrap_or_default());
        tamper(
            &mut conn,
            &format!("UPDATE audit_events SET outcome = 'denied', hash = '{forged}' WHERE id = '{second}'"),
        );
        let third = id_at(&mut conn, org, 3);
        let broken = verify(&mut conn).chains[0].broken.clone();
        assert_eq!(
            broken,
            Some(ChainBreak {
                event_id: Some(third),
                problem: ChainProblem::BrokenLink {
                    seq: 3,
                    previous_event: Some(second)
                }
            })
        );
    }

    #[test]
    fn removed_swapped_and_truncated_events_are_named() {
        let (_dir, _backend, mut conn) = database();
        let org = Uuid::now_v7();
        append(
            &mut conn,
            (0..6).map(|_| event(Some(org), "client.read")).collect(),
        );
        let ids: Vec<String> = (1..=6).map(|s| id_at(&mut conn, org, s)).collect();
        // Removed from the middle: the gap is named at the event after it.
        tamper(
            &mut conn,
            &format!("DELETE FROM audit_events WHERE id = '{}'", ids[2]),
        );
        let broken = verify(&mut conn).chains[0].broken.clone();
        assert_eq!(
            broken,
            Some(ChainBreak {
                event_id: Some(ids[3].clone()),
                problem: ChainProblem::SequenceGap {
                    expected: 3,
                    found: 4
                }
            })
        );
        let (_dir, _backend, mut conn) = database();
        append(
            &mut conn,
            (0..6).map(|_| event(Some(org), "client.read")).collect(),
        );
        let ids: Vec<String> = (1..=6).map(|s| id_at(&mut conn, org, s)).collect();
        // Two events swapped in the order.
        tamper(
            &mut conn,
            &format!(
                "UPDATE audit_events SET chain_seq = -1 WHERE id = '{a}';
                 UPDATE audit_events SET chain_seq = 2 WHERE id = '{b}';
                 UPDATE audit_events SET chain_seq = 3 WHERE id = '{a}';",
                a = ids[1],
                b = ids[2]
            ),
        );
        let broken = verify(&mut conn).chains[0].broken.clone();
        assert_eq!(
            broken,
            Some(ChainBreak {
                event_id: Some(ids[2].clone()),
                problem: ChainProblem::HashMismatch { seq: 2 }
            })
        );
        // The newest event removed: the head no longer matches.
        let (_dir, _backend, mut conn) = database();
        append(
            &mut conn,
            (0..3).map(|_| event(Some(org), "client.read")).collect(),
        );
        let ids: Vec<String> = (1..=3).map(|s| id_at(&mut conn, org, s)).collect();
        tamper(
            &mut conn,
            &format!("DELETE FROM audit_events WHERE id = '{}'", ids[2]),
        );
        let report = verify(&mut conn);
        assert_eq!(
            report.chains[0].broken,
            Some(ChainBreak {
                event_id: Some(ids[1].clone()),
                problem: ChainProblem::HeadMismatch {
                    head_seq: 3,
                    last_seq: 2
                }
            })
        );
        assert_eq!(report.chains[0].events_checked, 2);
    }

    #[test]
    fn a_failed_write_leaves_no_event_in_the_chain() {
        let (_dir, backend, mut conn) = database();
        let writer = Writer::start(&backend).unwrap_or_else(|e| panic!("{e}"));
        let org = Uuid::now_v7();
        let record_one = move |c: &mut Conn| {
            let actor = Actor {
                organization_id: Some(org),
                ..Actor::default()
            };
            let subject = Subject {
                action: "goal.update",
                resource_type: "goal",
                resource_id: None,
                client_id: None,
            };
            record(
                c,
                actor,
                &subject,
                Outcome::Success,
                &RequestMeta::default(),
                Utc::now(),
            )
        };
        writer.run(record_one).unwrap_or_else(|e| panic!("{e}"));
        let failed = writer.run(move |c| -> StoreResult<()> {
            record_one(c)?;
            Err(StoreError::Conflict("the write failed".into()))
        });
        assert!(failed.is_err());
        writer.run(record_one).unwrap_or_else(|e| panic!("{e}"));
        let report = verify(&mut conn);
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.chains[0].events_checked, 2);
    }

    #[test]
    fn events_from_before_the_chain_are_counted_and_must_stay() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let backend = Backend::Sqlite(dir.path().join("old.db").display().to_string());
        let mut conn = db::connect(&backend).unwrap_or_else(|e| panic!("{e}"));
        // A trail written before the chain existed.
        while let Some(name) = db::migrate_one(&mut conn).unwrap_or_else(|e| panic!("{e}")) {
            // The last migration before the chain's (versions lose their dashes).
            let version: String = name.chars().filter(char::is_ascii_digit).collect();
            if version.starts_with("20261123000002") {
                break;
            }
        }
        let org = Uuid::now_v7();
        let old: Vec<AuditRow> = (0..3).map(|_| event(Some(org), "client.read")).collect();
        diesel::insert_into(audit_events::table)
            .values(&old[0])
            .execute(&mut conn)
            .and_then(|_| {
                diesel::insert_into(audit_events::table)
                    .values(&old[1])
                    .execute(&mut conn)
            })
            .and_then(|_| {
                diesel::insert_into(audit_events::table)
                    .values(&old[2])
                    .execute(&mut conn)
            })
            .unwrap_or_else(|e| panic!("{e}"));
        db::migrate(&mut conn).unwrap_or_else(|e| panic!("{e}"));
        append(&mut conn, vec![event(Some(org), "client.read")]);
        let report = verify(&mut conn);
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(
            (
                report.chains[0].events_before_chain,
                report.chains[0].events_checked
            ),
            (3, 1)
        );
        // An event without a link can no longer be written...
        let sneaked = diesel::insert_into(audit_events::table)
            .values(&event(Some(org), "client.read"))
            .execute(&mut conn);
        assert!(sneaked.is_err());
        // ...and one of the old ones removed is noticed.
        tamper(
            &mut conn,
            &format!("DELETE FROM audit_events WHERE id = '{}'", old[1].id),
        );
        assert_eq!(
            verify(&mut conn).chains[0].broken,
            Some(ChainBreak {
                event_id: None,
                problem: ChainProblem::EventsBeforeChain {
                    recorded: 3,
                    found: 2
                }
            })
        );
    }
}
