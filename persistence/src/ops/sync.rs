//! Offline delta sync: what changed in the caller's reach since a cursor, as records to
//! store or remove, so that an app's local copy is exactly what a fresh full read would
//! give.
//!
//! The cursor is a place in the change log, which hands out places in commit order with
//! no gaps (`changes.rs`): a change committed late can never land behind a cursor
//! already handed out, as a sequence value taken before a slow commit could. A first
//! sync pages through a snapshot, one set of clients at a time, behind the log's head as
//! read before the first page; then it goes on from that head. A record that changed
//! while the snapshot was read comes again in the delta, current both times.
//!
//! What a copy holds, per client the caller may view: the client record; and, where
//! they may read clinical records, its episodes, goals, current measurements (withdrawn
//! ones included, so the withdrawal is seen) and the comments they may read. Derived
//! views (progress, charts) are computed from those or read from their own routes.

use std::collections::HashSet;

use diesel::prelude::*;
use domain::{
    change::{Change, ChangeKind},
    client::Client,
    goal::{Episode, Goal, GoalComment},
    identity::{Principal, Role},
    measure::Measurement,
    policy::{sees_team_notes, ClientAction, OrgAction},
};
use uuid::Uuid;

use super::events::{reach_of, Reach};
use crate::{
    audit::Subject,
    changes, clients,
    goals::{self, Comments},
    measurements,
    rows::id,
    schema::{care_team_members, caregiver_links, clients as clients_table},
    Caller, Clinic, Conn, Reached, StoreError, StoreResult,
};

/// Where a sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncPosition {
    /// Reading the snapshot taken at log place `head`, after client `after` (by id).
    Snapshot { head: i64, after: Option<Uuid> },
    /// In step up to log place `seq`.
    Delta { seq: i64 },
}

/// A record as a copy holds it.
#[derive(Debug, Clone)]
pub enum SyncRecord {
    Client(Box<Client>),
    Episode(Episode),
    Goal(Box<Goal>),
    Measurement(Box<Measurement>),
    Comment(GoalComment),
}

impl SyncRecord {
    pub fn kind(&self) -> &'static str {
        match self {
            SyncRecord::Client(_) => "client",
            SyncRecord::Episode(_) => "episode",
            SyncRecord::Goal(_) => "goal",
            SyncRecord::Measurement(_) => "measurement",
            SyncRecord::Comment(_) => "comment",
        }
    }
}

/// Why a copy must drop a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// A measurement replaced by a correction (its new version comes as an upsert).
    Superseded,
    /// The caller may no longer see this client's record (care team left, caregiver
    /// access revoked), or may now see less of it: drop everything under the client;
    /// what is still visible follows as upserts.
    AccessChanged,
}

#[derive(Debug, Clone)]
pub enum SyncEntry {
    Upsert {
        client_id: Uuid,
        record: SyncRecord,
    },
    Remove {
        kind: &'static str,
        id: Uuid,
        client_id: Uuid,
        reason: Removal,
    },
}

#[derive(Debug, Clone)]
pub struct SyncPage {
    pub entries: Vec<SyncEntry>,
    pub next: SyncPosition,
    /// Whether another page is ready now (false: in step; ask again later).
    pub more: bool,
}

impl SyncPage {
    fn clients_shown(&self) -> Vec<(Uuid, Uuid)> {
        let mut seen = HashSet::new();
        self.entries
            .iter()
            .filter_map(|e| match e {
                SyncEntry::Upsert { client_id, .. } => Some(*client_id),
                SyncEntry::Remove { .. } => None,
            })
            .filter(|c| seen.insert(*c))
            .map(|c| (c, c))
            .collect()
    }
}

/// The most clients a snapshot page, or log entries a delta page, takes.
pub const MAX_SYNC_PAGE: i64 = 200;

impl Clinic {
    /// One page of the caller's sync from `position` (`None`: start a snapshot). Each
    /// client whose records the page shows gets a `sync.read` event in their access log.
    /// `Gone` when the position is older than the change log keeps, or ahead of it (a
    /// restored backup): start again with a snapshot.
    pub fn sync(
        &self,
        caller: &Caller,
        position: Option<SyncPosition>,
        limit: i64,
    ) -> StoreResult<SyncPage> {
        let limit = limit.clamp(1, MAX_SYNC_PAGE);
        self.on_organization_showing(
            caller,
            OrgAction::FollowChanges,
            Subject::many("sync.read", "client"),
            move |conn, who| {
                let reach = reach_of(conn, who)?;
                let (oldest, head) = changes::bounds(conn)?;
                match position {
                    None => snapshot(conn, &reach, head, None, limit),
                    Some(SyncPosition::Snapshot { head: at, after }) => {
                        within_log(oldest, head, at)?;
                        snapshot(conn, &reach, at, after, limit)
                    }
                    Some(SyncPosition::Delta { seq }) => {
                        within_log(oldest, head, seq)?;
                        delta(conn, &reach, seq, head, limit)
                    }
                }
            },
            SyncPage::clients_shown,
        )
    }
}

/// A place the log can go on from: none of what followed it has been pruned, and the
/// log has reached it.
fn within_log(oldest: Option<i64>, head: i64, at: i64) -> StoreResult<()> {
    let pruned = match oldest {
        Some(oldest) => at + 1 < oldest,
        None => at < head,
    };
    if at < 0 || at > head || pruned {
        return Err(StoreError::Gone);
    }
    Ok(())
}

/// The clients the caller may view, after `after`, by id.
fn clients_in_reach(
    conn: &mut Conn,
    reach: &Reach,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<Vec<Uuid>> {
    let mut ids: Vec<Uuid> = if reach.is_organization_wide() {
        let mut q = clients_table::table
            .filter(clients_table::organization_id.eq(reach.who.organization_id.to_string()))
            .select(clients_table::id)
            .order(clients_table::id.asc())
            .limit(limit + 1)
            .into_boxed();
        if let Some(after) = after {
            q = q.filter(clients_table::id.gt(after.to_string()));
        }
        q.load::<String>(conn)?
            .iter()
            .map(|s| id(s))
            .collect::<StoreResult<_>>()?
    } else {
        let mut ids: Vec<Uuid> = reach
            .clients()
            .filter(|c| after.is_none_or(|a| c.to_string() > a.to_string()))
            .collect();
        ids.sort_by_key(|c| c.to_string());
        ids
    };
    ids.retain(|c| reach.reaches(reach.who.organization_id, *c));
    ids.truncate(usize::try_from(limit + 1).unwrap_or(usize::MAX));
    Ok(ids)
}

fn snapshot(
    conn: &mut Conn,
    reach: &Reach,
    head: i64,
    after: Option<Uuid>,
    limit: i64,
) -> StoreResult<SyncPage> {
    let mut ids = clients_in_reach(conn, reach, after, limit)?;
    let more = ids.len() as i64 > limit;
    ids.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut entries = Vec::new();
    for client_id in &ids {
        everything_of(conn, reach, *client_id, &mut entries)?;
    }
    let next = match (more, ids.last()) {
        (true, Some(last)) => SyncPosition::Snapshot {
            head,
            after: Some(*last),
        },
        _ => SyncPosition::Delta { seq: head },
    };
    Ok(SyncPage {
        entries,
        next,
        more,
    })
}

/// Everything of one client the caller may see, as upserts.
fn everything_of(
    conn: &mut Conn,
    reach: &Reach,
    client_id: Uuid,
    entries: &mut Vec<SyncEntry>,
) -> StoreResult<()> {
    let who = &reach.who;
    let relation = reach.relation(who.organization_id, client_id);
    if Reached::if_allowed(who, relation, ClientAction::View, client_id).is_none() {
        return Ok(());
    }
    let upsert = |record| SyncEntry::Upsert { client_id, record };
    let client = clients::get(conn, who.organization_id, client_id)?;
    entries.push(upsert(SyncRecord::Client(Box::new(client))));
    let Some(clinical) = Reached::if_allowed(who, relation, ClientAction::ViewClinical, client_id)
    else {
        return Ok(());
    };
    for episode in goals::episodes_of(conn, clinical)? {
        entries.push(upsert(SyncRecord::Episode(episode)));
    }
    for goal in goals::goals_of_client(conn, clinical)? {
        entries.push(upsert(SyncRecord::Goal(Box::new(goal))));
    }
    for m in measurements::current_of_client(conn, clinical)? {
        entries.push(upsert(SyncRecord::Measurement(Box::new(m))));
    }
    let notes = sees_team_notes(who);
    for comment in goals::comments_where(conn, clinical, Comments::All, notes)? {
        entries.push(upsert(SyncRecord::Comment(comment)));
    }
    Ok(())
}

fn delta(conn: &mut Conn, reach: &Reach, seq: i64, head: i64, limit: i64) -> StoreResult<SyncPage> {
    let org = reach.who.organization_id;
    let page = changes::after_in(conn, org, seq, limit)?;
    let full = page.len() as i64 == limit;
    // Not full: every place up to the head read before this query has been seen
    // (the head moves in the transaction that writes its entries).
    let next = match (full, page.last()) {
        (true, Some(last)) => last.seq,
        _ => head.max(page.last().map_or(seq, |c| c.seq)),
    };
    let mut entries = Vec::new();
    let mut done = HashSet::new();
    for change in &page {
        if matches!(
            change.kind,
            ChangeKind::CareTeamChanged | ChangeKind::CaregiverAccessChanged
        ) {
            access_changed(conn, reach, change.client_id, &mut entries)?;
            continue;
        }
        let record = change.kind.record();
        let named = match record {
            "client" => Some(change.client_id.to_string()),
            _ => change.resource_id.clone(),
        };
        if !reach.hears(change) || !done.insert((record, named)) {
            continue;
        }
        changed_record(conn, reach, change, &mut entries)?;
    }
    Ok(SyncPage {
        entries,
        next: SyncPosition::Delta { seq: next },
        more: full,
    })
}

trait RecordOf {
    fn record(self) -> &'static str;
}

impl RecordOf for ChangeKind {
    /// The record a change is about (derived views are not synced).
    fn record(self) -> &'static str {
        match self {
            ChangeKind::ClientRegistered | ChangeKind::ClientUpdated => "client",
            ChangeKind::EpisodeOpened | ChangeKind::EpisodeUpdated => "episode",
            ChangeKind::GoalProposed
            | ChangeKind::GoalAgreed
            | ChangeKind::GoalRevised
            | ChangeKind::GoalStatusChanged => "goal",
            ChangeKind::CommentAdded => "comment",
            ChangeKind::MeasurementRecorded | ChangeKind::MeasurementCorrected => "measurement",
            ChangeKind::ProgressUpdated
            | ChangeKind::MilestoneReached
            | ChangeKind::CareTeamChanged
            | ChangeKind::CaregiverAccessChanged => "",
            // The home programme, practice, check-ins and questions are not synced yet:
            // apps read them through their routes when the live stream tells of them.
            ChangeKind::ActivityPrescribed
            | ChangeKind::ActivityChanged
            | ChangeKind::PracticeLogged
            | ChangeKind::PracticeCorrected
            | ChangeKind::CheckInRecorded
            | ChangeKind::QuestionAsked
            | ChangeKind::QuestionAnswered
            | ChangeKind::QuestionNoted => "",
        }
    }
}

/// The current state of the record a change is about.
fn changed_record(
    conn: &mut Conn,
    reach: &Reach,
    change: &Change,
    entries: &mut Vec<SyncEntry>,
) -> StoreResult<()> {
    let who = &reach.who;
    let client_id = change.client_id;
    let relation = reach.relation(who.organization_id, client_id);
    let action = change.kind.read_action();
    let Some(client) = Reached::if_allowed(who, relation, action, client_id) else {
        return Ok(());
    };
    let named = change.resource_id.as_deref().map(id).transpose()?;
    let upsert = |record| SyncEntry::Upsert { client_id, record };
    match (change.kind.record(), named) {
        ("client", _) => {
            let c = clients::get(conn, who.organization_id, client_id)?;
            entries.push(upsert(SyncRecord::Client(Box::new(c))));
        }
        ("episode", Some(episode_id)) => {
            let e = goals::episode(conn, client, episode_id)?;
            entries.push(upsert(SyncRecord::Episode(e)));
        }
        ("goal", Some(goal_id)) => {
            let g = goals::goal(conn, client, goal_id)?;
            entries.push(upsert(SyncRecord::Goal(Box::new(g))));
        }
        ("comment", Some(comment_id)) => {
            let which = Comments::One(comment_id);
            for c in goals::comments_where(conn, client, which, sees_team_notes(who))? {
                entries.push(upsert(SyncRecord::Comment(c)));
            }
        }
        ("measurement", Some(measurement_id)) => {
            // A correction names the version it replaced: drop each replaced one, keep
            // the current.
            let mut m = measurements::measurement(conn, client, measurement_id)?;
            while let Some(next) = m.superseded_by {
                entries.push(SyncEntry::Remove {
                    kind: "measurement",
                    id: m.id,
                    client_id,
                    reason: Removal::Superseded,
                });
                m = measurements::measurement(conn, client, next)?;
            }
            entries.push(upsert(SyncRecord::Measurement(Box::new(m))));
        }
        _ => {}
    }
    Ok(())
}

/// Someone's access to a client changed. The caller's own reach may be what changed:
/// when they still see the record, drop it and take it again as they may see it now;
/// when they saw it once and no longer do, drop it. Organization-wide callers' access
/// does not change with a care team; nobody learns of a client they never saw.
fn access_changed(
    conn: &mut Conn,
    reach: &Reach,
    client_id: Uuid,
    entries: &mut Vec<SyncEntry>,
) -> StoreResult<()> {
    let who = &reach.who;
    if reach.is_organization_wide() || who.role == Role::Client {
        return Ok(());
    }
    let sees = reach.reaches(who.organization_id, client_id);
    if !sees && !saw_once(conn, who, client_id)? {
        return Ok(());
    }
    entries.push(SyncEntry::Remove {
        kind: "client",
        id: client_id,
        client_id,
        reason: Removal::AccessChanged,
    });
    if sees {
        everything_of(conn, reach, client_id, entries)?;
    }
    Ok(())
}

/// Whether `who` was ever on the client's care team or their caregiver.
fn saw_once(conn: &mut Conn, who: &Principal, client_id: Uuid) -> StoreResult<bool> {
    let (me, client) = (who.user_id.to_string(), client_id.to_string());
    let count: i64 = match who.role {
        Role::Therapist => care_team_members::table
            .filter(care_team_members::therapist_id.eq(&me))
            .filter(care_team_members::client_id.eq(&client))
            .count()
            .get_result(conn)?,
        Role::Caregiver => caregiver_links::table
            .filter(caregiver_links::caregiver_id.eq(&me))
            .filter(caregiver_links::client_id.eq(&client))
            .count()
            .get_result(conn)?,
        Role::Client | Role::Admin | Role::Service => 0,
    };
    Ok(count > 0)
}
