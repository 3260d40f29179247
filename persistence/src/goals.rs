//! Episodes of care, goals (with revisions, agreements and events) and goal comments:
//! the queries. What may be done is decided in `domain::goal` and asked by the
//! operations in `ops/goals.rs`; every query of a client's records takes the
//! [`Reached`] proof and is scoped to that client.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::{
    goal::{
        label, Agreement, AgreementRecord, Episode, EpisodeDraft, EpisodeStatus, GasScale, Goal,
        GoalComment, GoalContent, GoalDraft, GoalEvent, GoalEventKind, GoalRevision, GoalStatus,
        OccupationArea, Side, Term,
    },
    identity::{Principal, Role},
};
use uuid::Uuid;

use crate::{
    rows::{id, opt_id, parse_stored, utc},
    schema::{
        episodes, goal_agreements, goal_comments, goal_events, goal_milestones, goal_revisions,
        goals, users,
    },
    versions::bump,
    Conn, Reached, StoreError, StoreResult,
};

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> StoreResult<T> {
    serde_json::from_str(text)
        .map_err(|e| StoreError::Database(diesel::result::Error::DeserializationError(Box::new(e))))
}

/// A goal's content as the columns of a table that stores it (the goal itself, and
/// each revision). `treat_none_as_null`: a revision that clears a field stores NULL.
macro_rules! content_columns {
    ($name:ident, $table:ident) => {
        #[derive(Insertable, AsChangeset)]
        #[diesel(table_name = $table, treat_none_as_null = true, treat_none_as_default_value = false)]
        struct $name<'a> {
            client_words: &'a str,
            statement: &'a str,
            occupation_area: &'a str,
            importance: i32,
            start_date: NaiveDate,
            target_date: Option<NaiveDate>,
            measure_code: Option<&'a str>,
            target_value: Option<f64>,
            gas: Option<String>,
        }

        impl<'a> $name<'a> {
            fn of(c: &'a GoalContent) -> Self {
                $name {
                    client_words: &c.client_words,
                    statement: &c.statement,
                    occupation_area: c.occupation_area.as_str(),
                    importance: c.importance,
                    start_date: c.start_date,
                    target_date: c.target_date,
                    measure_code: c.measure_code.as_deref(),
                    target_value: c.target_value,
                    gas: c.gas.as_ref().map(json),
                }
            }
        }
    };
}

content_columns!(GoalContentColumns, goals);
content_columns!(RevisionContentColumns, goal_revisions);

// --- Episodes ---------------------------------------------------------------------

#[derive(Queryable, Selectable)]
#[diesel(table_name = episodes)]
struct EpisodeRow {
    id: String,
    client_id: String,
    reason_for_referral: String,
    diagnoses: String,
    start_date: NaiveDate,
    end_date: Option<NaiveDate>,
    status: String,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

impl EpisodeRow {
    fn into_episode(self) -> StoreResult<Episode> {
        Ok(Episode {
            id: id(&self.id)?,
            client_id: id(&self.client_id)?,
            reason_for_referral: self.reason_for_referral,
            diagnoses: from_json(&self.diagnoses)?,
            start_date: self.start_date,
            end_date: self.end_date,
            status: parse_stored(&self.status, |s| EpisodeStatus::parse("status", s))?,
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

pub fn create_episode(
    conn: &mut Conn,
    client: Reached,
    episode_id: Uuid,
    e: &EpisodeDraft,
    by: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Episode> {
    diesel::insert_into(episodes::table)
        .values((
            episodes::id.eq(episode_id.to_string()),
            episodes::organization_id.eq(client.organization_id().to_string()),
            episodes::client_id.eq(client.client_id().to_string()),
            episodes::reason_for_referral.eq(&e.reason_for_referral),
            episodes::diagnoses.eq(json(&e.diagnoses)),
            episodes::start_date.eq(e.start_date),
            episodes::status.eq(e.status.as_str()),
            episodes::goal_count.eq(0),
            episodes::progress_version.eq(0_i64),
            episodes::created_by.eq(by.to_string()),
            episodes::created_at.eq(now.naive_utc()),
            episodes::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    episode(conn, client, episode_id)
}

pub fn episodes_of(conn: &mut Conn, client: Reached) -> StoreResult<Vec<Episode>> {
    episodes::table
        .filter(episodes::client_id.eq(client.client_id().to_string()))
        .order(episodes::id.asc())
        .select(EpisodeRow::as_select())
        .load(conn)?
        .into_iter()
        .map(EpisodeRow::into_episode)
        .collect()
}

/// An episode of this client (NotFound when it is another's).
pub fn episode(conn: &mut Conn, client: Reached, episode_id: Uuid) -> StoreResult<Episode> {
    episode_of_client(conn, client.client_id(), episode_id)
}

fn episode_of_client(conn: &mut Conn, client_id: Uuid, episode_id: Uuid) -> StoreResult<Episode> {
    episodes::table
        .filter(episodes::id.eq(episode_id.to_string()))
        .filter(episodes::client_id.eq(client_id.to_string()))
        .select(EpisodeRow::as_select())
        .first(conn)?
        .into_episode()
}

/// Sets an episode's status and end date (the operation checked them).
pub fn set_episode(
    conn: &mut Conn,
    client: Reached,
    episode_id: Uuid,
    read: i32,
    status: EpisodeStatus,
    end_date: Option<NaiveDate>,
    now: DateTime<Utc>,
) -> StoreResult<Episode> {
    let (eid, cid) = (episode_id.to_string(), client.client_id().to_string());
    let row = || {
        episodes::table
            .filter(episodes::id.eq(eid.as_str()))
            .filter(episodes::client_id.eq(cid.as_str()))
    };
    bump!(conn, episodes, row(), read)?;
    diesel::update(
        episodes::table
            .find(episode_id.to_string())
            .filter(episodes::client_id.eq(client.client_id().to_string())),
    )
    .set((
        episodes::status.eq(status.as_str()),
        episodes::end_date.eq(end_date),
        episodes::updated_at.eq(now.naive_utc()),
        episodes::progress_version.eq(episodes::progress_version + 1_i64),
    ))
    .execute(conn)?;
    episode(conn, client, episode_id)
}

/// Marks an episode's progress view as out of date, and tells those following the
/// client's record that its progress changed.
pub fn touch_progress(conn: &mut Conn, client: Reached, episode_id: &str) -> StoreResult<()> {
    diesel::update(episodes::table.find(episode_id))
        .set(episodes::progress_version.eq(episodes::progress_version + 1_i64))
        .execute(conn)?;
    let change = crate::changes::NewChange {
        organization_id: client.organization_id(),
        client_id: client.client_id(),
        kind: domain::change::ChangeKind::ProgressUpdated,
        resource_type: "episode".to_owned(),
        resource_id: Some(episode_id.to_owned()),
        audience: domain::change::Audience::Everyone,
        actor_id: None,
        occurred_at: crate::now(),
        detail: None,
    };
    crate::changes::note(conn, change)
}

/// Where this client's goal's value milestones stand, as kept for its current revision
/// and measure; None when nothing is kept (read the values again).
pub fn milestone_state(
    conn: &mut Conn,
    client: Reached,
    goal: &Goal,
    measure_code: &str,
) -> StoreResult<Option<domain::progress::MilestoneState>> {
    debug_assert_eq!(goal.client_id, client.client_id());
    let kept: Option<(i32, String, String)> = goal_milestones::table
        .find(goal.id.to_string())
        .select((
            goal_milestones::revision,
            goal_milestones::measure_code,
            goal_milestones::state,
        ))
        .first(conn)
        .optional()?;
    Ok(kept
        .filter(|(revision, code, _)| *revision == goal.revision && code == measure_code)
        .and_then(|(_, _, state)| serde_json::from_str(&state).ok()))
}

/// Keeps where the goal's value milestones stand now.
pub fn keep_milestone_state(
    conn: &mut Conn,
    client: Reached,
    goal: &Goal,
    measure_code: &str,
    state: &domain::progress::MilestoneState,
) -> StoreResult<()> {
    debug_assert_eq!(goal.client_id, client.client_id());
    let text = serde_json::to_string(state).map_err(|e| StoreError::Config(e.to_string()))?;
    let row = goal_milestones::table.find(goal.id.to_string());
    let values = (
        goal_milestones::revision.eq(goal.revision),
        goal_milestones::measure_code.eq(measure_code),
        goal_milestones::state.eq(&text),
    );
    if diesel::update(row).set(values).execute(conn)? == 0 {
        diesel::insert_into(goal_milestones::table)
            .values((goal_milestones::goal_id.eq(goal.id.to_string()), values))
            .execute(conn)?;
    }
    Ok(())
}

/// Forgets where a goal's milestones stand (a value of it was corrected): the next
/// value reads them all again.
pub fn forget_milestone_state(conn: &mut Conn, client: Reached, goal_id: Uuid) -> StoreResult<()> {
    goal(conn, client, goal_id)?;
    diesel::delete(goal_milestones::table.find(goal_id.to_string())).execute(conn)?;
    Ok(())
}

/// Tells those following the client's record that a goal reached a milestone.
pub fn note_milestone(
    conn: &mut Conn,
    client: Reached,
    goal_id: Uuid,
    milestone: &domain::progress::Milestone,
    by: Option<Uuid>,
) -> StoreResult<()> {
    let detail = serde_json::json!({
        "goal_id": goal_id,
        "milestone": milestone.kind.as_str(),
        "value": milestone.value,
        "at": milestone.at,
    });
    let change = crate::changes::NewChange {
        organization_id: client.organization_id(),
        client_id: client.client_id(),
        kind: domain::change::ChangeKind::MilestoneReached,
        resource_type: "goal".to_owned(),
        resource_id: Some(goal_id.to_string()),
        audience: domain::change::Audience::Everyone,
        actor_id: by,
        occurred_at: crate::now(),
        detail: Some(detail.to_string()),
    };
    crate::changes::note(conn, change)
}

/// Marks every progress view of a clinic as out of date (its figures follow other
/// values now).
pub fn touch_all_progress(conn: &mut Conn, org_id: Uuid) -> StoreResult<()> {
    diesel::update(episodes::table.filter(episodes::organization_id.eq(org_id.to_string())))
        .set(episodes::progress_version.eq(episodes::progress_version + 1_i64))
        .execute(conn)?;
    Ok(())
}

/// The episode's progress version and, when present, its cached view and the
/// version that view reflects. NotFound unless the episode is this client's.
pub fn progress_cache(
    conn: &mut Conn,
    client: Reached,
    episode_id: Uuid,
) -> StoreResult<(i64, Option<(i64, String)>)> {
    let (version, cache, cache_version): (i64, Option<String>, Option<i64>) = episodes::table
        .find(episode_id.to_string())
        .filter(episodes::client_id.eq(client.client_id().to_string()))
        .select((
            episodes::progress_version,
            episodes::progress_cache,
            episodes::progress_cache_version,
        ))
        .first(conn)?;
    Ok((version, cache.zip(cache_version).map(|(c, v)| (v, c))))
}

/// The episode's current progress version, and the version of the stored view (if
/// any): a read that already holds that version in memory needs nothing more.
/// NotFound unless the episode is this client's.
pub fn progress_versions(
    conn: &mut Conn,
    client: Reached,
    episode_id: Uuid,
) -> StoreResult<(i64, Option<i64>)> {
    Ok(episodes::table
        .find(episode_id.to_string())
        .filter(episodes::client_id.eq(client.client_id().to_string()))
        .select((episodes::progress_version, episodes::progress_cache_version))
        .first(conn)?)
}

/// Stores a computed view, unless the episode changed meanwhile.
pub fn store_progress_cache(
    conn: &mut Conn,
    episode_id: Uuid,
    version: i64,
    view: &str,
) -> StoreResult<()> {
    diesel::update(
        episodes::table
            .filter(episodes::id.eq(episode_id.to_string()))
            .filter(episodes::progress_version.eq(version)),
    )
    .set((
        episodes::progress_cache.eq(view),
        episodes::progress_cache_version.eq(version),
    ))
    .execute(conn)?;
    Ok(())
}

// --- Goals ------------------------------------------------------------------------

#[derive(Queryable, Selectable)]
#[diesel(table_name = goals)]
struct GoalRow {
    id: String,
    client_id: String,
    episode_id: String,
    label: String,
    term: String,
    parent_id: Option<String>,
    status: String,
    expressed_by: String,
    revision: i32,
    client_agreed: bool,
    team_agreed: bool,
    version: i32,
    client_words: String,
    statement: String,
    occupation_area: String,
    importance: i32,
    start_date: NaiveDate,
    target_date: Option<NaiveDate>,
    measure_code: Option<String>,
    target_value: Option<f64>,
    gas: Option<String>,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

/// A goal's content as stored, in either the goals or the revisions table.
struct ContentColumns {
    client_words: String,
    statement: String,
    occupation_area: String,
    importance: i32,
    start_date: NaiveDate,
    target_date: Option<NaiveDate>,
    measure_code: Option<String>,
    target_value: Option<f64>,
    gas: Option<String>,
}

fn content_from(c: ContentColumns) -> StoreResult<GoalContent> {
    Ok(GoalContent {
        client_words: c.client_words,
        statement: c.statement,
        occupation_area: parse_stored(&c.occupation_area, |s| {
            OccupationArea::parse("occupation_area", s)
        })?,
        importance: c.importance,
        start_date: c.start_date,
        target_date: c.target_date,
        measure_code: c.measure_code,
        target_value: c.target_value,
        gas: c.gas.as_deref().map(from_json::<GasScale>).transpose()?,
    })
}

impl GoalRow {
    fn into_goal(self) -> StoreResult<Goal> {
        Ok(Goal {
            id: id(&self.id)?,
            client_id: id(&self.client_id)?,
            episode_id: id(&self.episode_id)?,
            label: self.label,
            term: parse_stored(&self.term, |s| Term::parse("term", s))?,
            parent_id: opt_id(self.parent_id.as_deref())?,
            status: parse_stored(&self.status, |s| GoalStatus::parse("status", s))?,
            expressed_by: parse_stored(&self.expressed_by, |s| Side::parse("side", s))?,
            revision: self.revision,
            version: self.version,
            agreement: Agreement {
                client: self.client_agreed,
                team: self.team_agreed,
            },
            content: content_from(ContentColumns {
                client_words: self.client_words,
                statement: self.statement,
                occupation_area: self.occupation_area,
                importance: self.importance,
                start_date: self.start_date,
                target_date: self.target_date,
                measure_code: self.measure_code,
                target_value: self.target_value,
                gas: self.gas,
            })?,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

/// A goal of this client (NotFound when it is another's).
pub fn goal(conn: &mut Conn, client: Reached, goal_id: Uuid) -> StoreResult<Goal> {
    goal_of_client(conn, client.client_id(), goal_id)
}

fn goal_of_client(conn: &mut Conn, client_id: Uuid, goal_id: Uuid) -> StoreResult<Goal> {
    goals::table
        .filter(goals::id.eq(goal_id.to_string()))
        .filter(goals::client_id.eq(client_id.to_string()))
        .select(GoalRow::as_select())
        .first(conn)?
        .into_goal()
}

/// The goals of one of this client's episodes (none when the episode is another's).
pub fn goals_of_episode(
    conn: &mut Conn,
    client: Reached,
    episode_id: Uuid,
) -> StoreResult<Vec<Goal>> {
    goals::table
        .filter(goals::episode_id.eq(episode_id.to_string()))
        .filter(goals::client_id.eq(client.client_id().to_string()))
        .order(goals::id.asc())
        .select(GoalRow::as_select())
        .load(conn)?
        .into_iter()
        .map(GoalRow::into_goal)
        .collect()
}

/// The goals of a client across episodes.
pub fn goals_of_client(conn: &mut Conn, client: Reached) -> StoreResult<Vec<Goal>> {
    goals::table
        .filter(goals::client_id.eq(client.client_id().to_string()))
        .order(goals::id.asc())
        .select(GoalRow::as_select())
        .load(conn)?
        .into_iter()
        .map(GoalRow::into_goal)
        .collect()
}

fn record_event(
    conn: &mut Conn,
    g: &Goal,
    kind: GoalEventKind,
    by: &Principal,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(goal_events::table)
        .values((
            goal_events::id.eq(domain::new_id().to_string()),
            goal_events::goal_id.eq(g.id.to_string()),
            goal_events::client_id.eq(g.client_id.to_string()),
            goal_events::kind.eq(kind.as_str()),
            goal_events::status.eq(g.status.as_str()),
            goal_events::revision.eq(g.revision),
            goal_events::actor_id.eq(by.user_id.to_string()),
            goal_events::occurred_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

fn record_agreement(
    conn: &mut Conn,
    goal_id: Uuid,
    revision: i32,
    side: Side,
    by: &Principal,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(goal_agreements::table)
        .values((
            goal_agreements::id.eq(domain::new_id().to_string()),
            goal_agreements::goal_id.eq(goal_id.to_string()),
            goal_agreements::revision.eq(revision),
            goal_agreements::side.eq(side.as_str()),
            goal_agreements::user_id.eq(by.user_id.to_string()),
            goal_agreements::role.eq(by.role.as_str()),
            goal_agreements::agreed_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

fn record_revision(
    conn: &mut Conn,
    goal_id: Uuid,
    revision: i32,
    c: &GoalContent,
    side: Side,
    by: &Principal,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(goal_revisions::table)
        .values((
            goal_revisions::id.eq(domain::new_id().to_string()),
            goal_revisions::goal_id.eq(goal_id.to_string()),
            goal_revisions::revision.eq(revision),
            RevisionContentColumns::of(c),
            goal_revisions::proposed_by.eq(by.user_id.to_string()),
            goal_revisions::proposed_side.eq(side.as_str()),
            goal_revisions::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// What storage found: the record, or None when it is not there (not an error
/// by itself: the rule that needs the fact decides what its absence means).
pub(crate) fn found<T>(r: StoreResult<T>) -> StoreResult<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e),
    }
}

/// The next stable label in an episode (or under a long-term `parent`): the
/// counter is bumped inside the write transaction, so the count read back is ours.
fn next_label(conn: &mut Conn, episode_id: Uuid, parent: Option<&Goal>) -> StoreResult<String> {
    match parent {
        Some(parent) => {
            diesel::update(goals::table.find(parent.id.to_string()))
                .set(goals::child_count.eq(goals::child_count + 1))
                .execute(conn)?;
            let n: i32 = goals::table
                .find(parent.id.to_string())
                .select(goals::child_count)
                .first(conn)?;
            Ok(label(Some(&parent.label), n))
        }
        None => {
            diesel::update(episodes::table.find(episode_id.to_string()))
                .set(episodes::goal_count.eq(episodes::goal_count + 1))
                .execute(conn)?;
            let n: i32 = episodes::table
                .find(episode_id.to_string())
                .select(episodes::goal_count)
                .first(conn)?;
            Ok(label(None, n))
        }
    }
}

/// Stores a goal put forward by `side` (the operation checked its place): it is
/// `proposed`, with the proposer's side agreed (unless it `agrees` for no one), and gets the next stable label of
/// its episode (or of its long-term `parent`).
#[allow(clippy::too_many_arguments)]
pub fn insert_goal(
    conn: &mut Conn,
    client: Reached,
    goal_id: Uuid,
    episode_id: Uuid,
    g: &GoalDraft,
    parent: Option<&Goal>,
    (side, agrees): (Side, bool),
    by: &Principal,
    now: DateTime<Utc>,
) -> StoreResult<Goal> {
    let new_label = next_label(conn, episode_id, parent)?;
    let agreement = if agrees {
        Agreement::proposed_by(side)
    } else {
        Agreement::default()
    };
    let c = &g.content;
    diesel::insert_into(goals::table)
        .values((
            goals::id.eq(goal_id.to_string()),
            goals::organization_id.eq(client.organization_id().to_string()),
            goals::client_id.eq(client.client_id().to_string()),
            goals::episode_id.eq(episode_id.to_string()),
            goals::label.eq(&new_label),
            goals::term.eq(g.term.as_str()),
            goals::parent_id.eq(parent.map(|p| p.id.to_string())),
            goals::child_count.eq(0),
            goals::status.eq(GoalStatus::Proposed.as_str()),
            goals::expressed_by.eq(side.as_str()),
            goals::revision.eq(1),
            goals::client_agreed.eq(agreement.client),
            goals::team_agreed.eq(agreement.team),
            GoalContentColumns::of(c),
            goals::created_by.eq(by.user_id.to_string()),
            goals::created_at.eq(now.naive_utc()),
            goals::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    record_revision(conn, goal_id, 1, c, side, by, now)?;
    if agrees {
        record_agreement(conn, goal_id, 1, side, by, now)?;
    }
    let created = goal(conn, client, goal_id)?;
    record_event(conn, &created, GoalEventKind::Proposed, by, now)?;
    touch_progress(conn, client, &episode_id.to_string())?;
    Ok(created)
}

/// Stores a new revision of a goal (the operation checked it): the goal is proposed
/// again, agreed only by the reviser's side. Earlier revisions stay readable.
pub fn insert_revision(
    conn: &mut Conn,
    client: Reached,
    before: &Goal,
    content: &GoalContent,
    side: Side,
    by: &Principal,
    now: DateTime<Utc>,
) -> StoreResult<Goal> {
    let revision = before.revision + 1;
    let agreement = Agreement::proposed_by(side);
    diesel::update(goal_row(client, before.id))
        .set((
            goals::status.eq(GoalStatus::Proposed.as_str()),
            goals::revision.eq(revision),
            goals::client_agreed.eq(agreement.client),
            goals::team_agreed.eq(agreement.team),
            GoalContentColumns::of(content),
            goals::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    record_revision(conn, before.id, revision, content, side, by, now)?;
    record_agreement(conn, before.id, revision, side, by, now)?;
    changed(conn, client, before.id, GoalEventKind::Revised, by, now)
}

/// Stores one side's agreement to the goal's current revision, with the status and
/// agreement it leads to (as `domain::goal::agreeing` decided).
#[allow(clippy::too_many_arguments)]
pub fn insert_agreement(
    conn: &mut Conn,
    client: Reached,
    before: &Goal,
    side: Side,
    status: GoalStatus,
    agreement: Agreement,
    event: GoalEventKind,
    by: &Principal,
    now: DateTime<Utc>,
) -> StoreResult<Goal> {
    diesel::update(goal_row(client, before.id))
        .set((
            goals::status.eq(status.as_str()),
            goals::client_agreed.eq(agreement.client),
            goals::team_agreed.eq(agreement.team),
            goals::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    record_agreement(conn, before.id, before.revision, side, by, now)?;
    changed(conn, client, before.id, event, by, now)
}

/// Sets a goal's status (the operation checked the change).
pub fn set_status(
    conn: &mut Conn,
    client: Reached,
    goal_id: Uuid,
    next: GoalStatus,
    by: &Principal,
    now: DateTime<Utc>,
) -> StoreResult<Goal> {
    diesel::update(goal_row(client, goal_id))
        .set((
            goals::status.eq(next.as_str()),
            goals::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    changed(conn, client, goal_id, GoalEventKind::StatusChanged, by, now)
}

/// Moves a goal's version on from `read` (the one the operation checked), or
/// refuses when another write moved it first. Call inside a write transaction.
pub fn bump_goal(conn: &mut Conn, client: Reached, goal_id: Uuid, read: i32) -> StoreResult<i32> {
    bump!(conn, goals, goal_row(client, goal_id), read)
}

/// The row of one of this client's goals, to update.
fn goal_row(
    client: Reached,
    goal_id: Uuid,
) -> diesel::dsl::Filter<
    diesel::dsl::Find<goals::table, String>,
    diesel::dsl::Eq<goals::client_id, String>,
> {
    goals::table
        .find(goal_id.to_string())
        .filter(goals::client_id.eq(client.client_id().to_string()))
}

/// After a change to a goal: reads it back, records what happened, and marks its
/// episode's progress view out of date.
fn changed(
    conn: &mut Conn,
    client: Reached,
    goal_id: Uuid,
    kind: GoalEventKind,
    by: &Principal,
    now: DateTime<Utc>,
) -> StoreResult<Goal> {
    let after = goal(conn, client, goal_id)?;
    record_event(conn, &after, kind, by, now)?;
    touch_progress(conn, client, &after.episode_id.to_string())?;
    Ok(after)
}

/// Every revision of a goal, oldest first, with who agreed to each.
pub fn revisions(
    conn: &mut Conn,
    client: Reached,
    goal_id: Uuid,
) -> StoreResult<Vec<GoalRevision>> {
    // The goal is this client's, or there is nothing to list.
    goal(conn, client, goal_id)?;
    type Row = (
        i32,
        String,
        String,
        String,
        i32,
        NaiveDate,
        Option<NaiveDate>,
        Option<String>,
        Option<f64>,
        Option<String>,
        String,
        String,
        NaiveDateTime,
    );
    let rows: Vec<Row> = goal_revisions::table
        .filter(goal_revisions::goal_id.eq(goal_id.to_string()))
        .order(goal_revisions::revision.asc())
        .select((
            goal_revisions::revision,
            goal_revisions::client_words,
            goal_revisions::statement,
            goal_revisions::occupation_area,
            goal_revisions::importance,
            goal_revisions::start_date,
            goal_revisions::target_date,
            goal_revisions::measure_code,
            goal_revisions::target_value,
            goal_revisions::gas,
            goal_revisions::proposed_by,
            goal_revisions::proposed_side,
            goal_revisions::created_at,
        ))
        .load(conn)?;
    let agreements: Vec<(i32, String, String, String, NaiveDateTime)> = goal_agreements::table
        .filter(goal_agreements::goal_id.eq(goal_id.to_string()))
        .order(goal_agreements::id.asc())
        .select((
            goal_agreements::revision,
            goal_agreements::side,
            goal_agreements::user_id,
            goal_agreements::role,
            goal_agreements::agreed_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(
            |(
                revision,
                words,
                statement,
                area,
                importance,
                start,
                target,
                code,
                value,
                gas,
                by,
                side,
                at,
            )| {
                let agreements = agreements
                    .iter()
                    .filter(|a| a.0 == revision)
                    .map(|(_, side, user, role, at)| {
                        Ok(AgreementRecord {
                            side: parse_stored(side, |s| Side::parse("side", s))?,
                            user_id: id(user)?,
                            role: parse_stored(role, |s| Role::parse("role", s))?,
                            agreed_at: utc(*at),
                        })
                    })
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(GoalRevision {
                    revision,
                    content: content_from(ContentColumns {
                        client_words: words,
                        statement,
                        occupation_area: area,
                        importance,
                        start_date: start,
                        target_date: target,
                        measure_code: code,
                        target_value: value,
                        gas,
                    })?,
                    proposed_by: id(&by)?,
                    proposed_side: parse_stored(&side, |s| Side::parse("side", s))?,
                    created_at: utc(at),
                    agreements,
                })
            },
        )
        .collect()
}

/// A client's goal events, oldest first (for milestones).
pub fn events_of_client(conn: &mut Conn, client: Reached) -> StoreResult<Vec<(Uuid, GoalEvent)>> {
    let rows: Vec<(String, String, String, i32, String, NaiveDateTime)> = goal_events::table
        .filter(goal_events::client_id.eq(client.client_id().to_string()))
        .order(goal_events::id.asc())
        .select((
            goal_events::goal_id,
            goal_events::kind,
            goal_events::status,
            goal_events::revision,
            goal_events::actor_id,
            goal_events::occurred_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(goal, kind, status, revision, actor, at)| {
            Ok((
                id(&goal)?,
                GoalEvent {
                    kind: parse_stored(&kind, |s| GoalEventKind::parse("kind", s))?,
                    status: parse_stored(&status, |s| GoalStatus::parse("status", s))?,
                    revision,
                    actor_id: id(&actor)?,
                    at: utc(at),
                },
            ))
        })
        .collect()
}

// --- Comments ---------------------------------------------------------------------

/// A comment being added.
#[derive(Debug, Clone)]
pub struct NewComment {
    pub id: Uuid,
    pub body: String,
    pub team_only: bool,
}

/// Adds a comment to one of this client's goals.
pub fn add_comment(
    conn: &mut Conn,
    client: Reached,
    goal_id: Uuid,
    c: NewComment,
    by: &Principal,
    now: DateTime<Utc>,
) -> StoreResult<GoalComment> {
    goal(conn, client, goal_id)?;
    diesel::insert_into(goal_comments::table)
        .values((
            goal_comments::id.eq(c.id.to_string()),
            goal_comments::organization_id.eq(client.organization_id().to_string()),
            goal_comments::client_id.eq(client.client_id().to_string()),
            goal_comments::goal_id.eq(goal_id.to_string()),
            goal_comments::author_id.eq(by.user_id.to_string()),
            goal_comments::author_role.eq(by.role.as_str()),
            goal_comments::body.eq(&c.body),
            goal_comments::team_only.eq(c.team_only),
            goal_comments::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    comments(conn, client, goal_id, true)?
        .into_iter()
        .find(|x| x.id == c.id)
        .ok_or(StoreError::NotFound)
}

/// A goal's comments, oldest first; team-only notes only when `team_notes`.
/// NotFound unless the goal is this client's.
pub fn comments(
    conn: &mut Conn,
    client: Reached,
    goal_id: Uuid,
    team_notes: bool,
) -> StoreResult<Vec<GoalComment>> {
    goal(conn, client, goal_id)?;
    comments_where(conn, client, Comments::OfGoal(goal_id), team_notes)
}

/// Which of a client's comments to read.
pub enum Comments {
    OfGoal(Uuid),
    One(Uuid),
    All,
}

/// This client's comments (of one goal, one by id, or all), oldest first; team-only
/// notes only when `team_notes`.
pub fn comments_where(
    conn: &mut Conn,
    client: Reached,
    which: Comments,
    team_notes: bool,
) -> StoreResult<Vec<GoalComment>> {
    let mut q = goal_comments::table
        .inner_join(users::table)
        .filter(goal_comments::client_id.eq(client.client_id().to_string()))
        .order(goal_comments::id.asc())
        .select((
            goal_comments::id,
            goal_comments::goal_id,
            goal_comments::author_id,
            users::display_name,
            goal_comments::author_role,
            goal_comments::body,
            goal_comments::team_only,
            goal_comments::created_at,
        ))
        .into_boxed();
    if !team_notes {
        q = q.filter(goal_comments::team_only.eq(false));
    }
    match which {
        Comments::OfGoal(goal_id) => q = q.filter(goal_comments::goal_id.eq(goal_id.to_string())),
        Comments::One(comment_id) => q = q.filter(goal_comments::id.eq(comment_id.to_string())),
        Comments::All => {}
    }
    type Row = (
        String,
        String,
        String,
        String,
        String,
        String,
        bool,
        NaiveDateTime,
    );
    let rows: Vec<Row> = q.load(conn)?;
    rows.into_iter()
        .map(|(cid, goal_id, author, name, role, body, team_only, at)| {
            Ok(GoalComment {
                id: id(&cid)?,
                goal_id: id(&goal_id)?,
                author_id: id(&author)?,
                author_name: name,
                author_role: parse_stored(&role, |s| Role::parse("role", s))?,
                body,
                team_only,
                created_at: utc(at),
            })
        })
        .collect()
}

/// Whose record a goal of this clinic is in (NotFound when none has it).
pub fn client_of(conn: &mut Conn, org_id: Uuid, goal_id: Uuid) -> StoreResult<Uuid> {
    let client: String = goals::table
        .filter(goals::id.eq(goal_id.to_string()))
        .filter(goals::organization_id.eq(org_id.to_string()))
        .select(goals::client_id)
        .first(conn)?;
    crate::rows::id(&client)
}

/// What changes whenever any of a client's measurements does: how many episodes the
/// client has and the sum of their progress versions (every measurement written
/// bumps its episode's). Both only grow, so a pair is never seen twice for
/// different data.
pub fn measurements_version(conn: &mut Conn, client: Reached) -> StoreResult<(i64, i64)> {
    let versions: Vec<i64> = episodes::table
        .filter(episodes::client_id.eq(client.client_id().to_string()))
        .filter(episodes::organization_id.eq(client.organization_id().to_string()))
        .select(episodes::progress_version)
        .load(conn)?;
    Ok((versions.len() as i64, versions.iter().sum()))
}

/// Whose record an episode of this clinic is in (NotFound when none has it).
pub fn episode_client_of(conn: &mut Conn, org_id: Uuid, episode_id: Uuid) -> StoreResult<Uuid> {
    let client: String = episodes::table
        .filter(episodes::id.eq(episode_id.to_string()))
        .filter(episodes::organization_id.eq(org_id.to_string()))
        .select(episodes::client_id)
        .first(conn)?;
    crate::rows::id(&client)
}

/// What happened to one of this client's goals, oldest first: each change of the
/// goal recorded exactly one event, with the status and revision it left.
pub fn events_of_goal(
    conn: &mut Conn,
    client: Reached,
    goal_id: Uuid,
) -> StoreResult<Vec<GoalEvent>> {
    Ok(events_of_client(conn, client)?
        .into_iter()
        .filter(|(goal, _)| *goal == goal_id)
        .map(|(_, event)| event)
        .collect())
}
