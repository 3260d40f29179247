//! Between sessions, as stored: prescribed activities and their versions, the
//! append-only practice log, check-ins, and questions with the team's own notes.
//! Every query of a client's rows takes the gate's [`Reached`].

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::{
    home::{
        Activity, ActivityStatus, ActivityVersion, CheckIn, Concern, Feelings, LogStatus, Practice,
        PracticeLog, PracticeOutcome, Prescription, Question, QuestionNote, QuestionState,
    },
    identity::Role,
};
use uuid::Uuid;

use crate::{
    gate::Reached,
    rows::{id, opt_id, parse_stored, utc},
    schema::{activities, activity_versions, check_ins, practice_logs, question_notes, questions},
    versions::bump,
    Conn, StoreError, StoreResult,
};

fn small(v: Option<i32>) -> Option<u16> {
    v.and_then(|n| u16::try_from(n).ok())
}

fn rating(v: Option<i32>) -> Option<u8> {
    v.and_then(|n| u8::try_from(n).ok())
}

fn role(text: &str) -> StoreResult<Role> {
    parse_stored(text, |s| Role::parse("role", s))
}

// --- Activities ------------------------------------------------------------------

type ActivityRow = (
    String,
    String,
    String,
    String,
    String,
    i32,
    Option<NaiveDate>,
    Option<String>,
    Option<String>,
    NaiveDateTime,
);

type VersionRow = (
    i32,
    String,
    i32,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    NaiveDate,
    Option<NaiveDate>,
    NaiveDate,
    String,
    NaiveDateTime,
);

fn version_from(row: VersionRow) -> StoreResult<ActivityVersion> {
    let (version, instructions, times, sets, reps, minutes, start, end, from, by, at) = row;
    Ok(ActivityVersion {
        version,
        prescription: Prescription {
            instructions,
            times_per_week: u8::try_from(times).unwrap_or(1),
            sets: small(sets),
            repetitions: small(reps),
            duration_minutes: small(minutes),
            start_date: start,
            end_date: end,
        },
        effective_from: from,
        prescribed_by: id(&by)?,
        recorded_at: utc(at),
    })
}

/// An activity being prescribed.
#[derive(Debug, Clone)]
pub struct NewActivity {
    pub id: Uuid,
    pub episode_id: Uuid,
    pub goal_id: Uuid,
    pub prescription: Prescription,
}

fn insert_version(
    conn: &mut Conn,
    client: Reached,
    activity_id: Uuid,
    v: &ActivityVersion,
) -> StoreResult<()> {
    let p = &v.prescription;
    let (version, effective_from, by, now) =
        (v.version, v.effective_from, v.prescribed_by, v.recorded_at);
    diesel::insert_into(activity_versions::table)
        .values((
            activity_versions::id.eq(domain::new_id().to_string()),
            activity_versions::activity_id.eq(activity_id.to_string()),
            activity_versions::client_id.eq(client.client_id().to_string()),
            activity_versions::version.eq(version),
            activity_versions::instructions.eq(&p.instructions),
            activity_versions::times_per_week.eq(i32::from(p.times_per_week)),
            activity_versions::sets.eq(p.sets.map(i32::from)),
            activity_versions::repetitions.eq(p.repetitions.map(i32::from)),
            activity_versions::duration_minutes.eq(p.duration_minutes.map(i32::from)),
            activity_versions::start_date.eq(p.start_date),
            activity_versions::end_date.eq(p.end_date),
            activity_versions::effective_from.eq(effective_from),
            activity_versions::prescribed_by.eq(by.to_string()),
            activity_versions::recorded_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Stores a new activity of this client (the operation checked its goal) and reads it back.
pub fn insert_activity(
    conn: &mut Conn,
    client: Reached,
    a: &NewActivity,
    by: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Activity> {
    diesel::insert_into(activities::table)
        .values((
            activities::id.eq(a.id.to_string()),
            activities::organization_id.eq(client.organization_id().to_string()),
            activities::client_id.eq(client.client_id().to_string()),
            activities::episode_id.eq(a.episode_id.to_string()),
            activities::goal_id.eq(a.goal_id.to_string()),
            activities::status.eq(ActivityStatus::Active.as_str()),
            activities::version.eq(1),
            activities::stopped_on.eq(None::<NaiveDate>),
            activities::stop_reason.eq(None::<String>),
            activities::stopped_by.eq(None::<String>),
            activities::created_by.eq(by.to_string()),
            activities::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    let first = ActivityVersion {
        version: 1,
        prescription: a.prescription.clone(),
        effective_from: a.prescription.start_date,
        prescribed_by: by,
        recorded_at: now,
    };
    insert_version(conn, client, a.id, &first)?;
    activity(conn, client, a.id)
}

fn versions_of(
    conn: &mut Conn,
    client: Reached,
    activity_id: &str,
) -> StoreResult<Vec<ActivityVersion>> {
    let rows: Vec<VersionRow> = activity_versions::table
        .filter(activity_versions::activity_id.eq(activity_id))
        .filter(activity_versions::client_id.eq(client.client_id().to_string()))
        .order(activity_versions::version.asc())
        .select((
            activity_versions::version,
            activity_versions::instructions,
            activity_versions::times_per_week,
            activity_versions::sets,
            activity_versions::repetitions,
            activity_versions::duration_minutes,
            activity_versions::start_date,
            activity_versions::end_date,
            activity_versions::effective_from,
            activity_versions::prescribed_by,
            activity_versions::recorded_at,
        ))
        .load(conn)?;
    rows.into_iter().map(version_from).collect()
}

fn activity_from(conn: &mut Conn, client: Reached, row: ActivityRow) -> StoreResult<Activity> {
    let (aid, _client, episode, goal, status, version, stopped_on, reason, stopped_by, at) = row;
    let versions = versions_of(conn, client, &aid)?;
    let prescription = versions
        .last()
        .map(|v| v.prescription.clone())
        .ok_or(StoreError::NotFound)?;
    Ok(Activity {
        id: id(&aid)?,
        client_id: client.client_id(),
        episode_id: id(&episode)?,
        goal_id: id(&goal)?,
        status: parse_stored(&status, |s| ActivityStatus::parse("status", s))?,
        version,
        prescription,
        stopped_on,
        stop_reason: reason,
        stopped_by: opt_id(stopped_by.as_deref())?,
        versions,
        created_at: utc(at),
    })
}

macro_rules! activity_columns {
    () => {
        (
            activities::id,
            activities::client_id,
            activities::episode_id,
            activities::goal_id,
            activities::status,
            activities::version,
            activities::stopped_on,
            activities::stop_reason,
            activities::stopped_by,
            activities::created_at,
        )
    };
}

/// One activity of this client (NotFound when it is another's).
pub fn activity(conn: &mut Conn, client: Reached, activity_id: Uuid) -> StoreResult<Activity> {
    let row: ActivityRow = activities::table
        .filter(activities::id.eq(activity_id.to_string()))
        .filter(activities::client_id.eq(client.client_id().to_string()))
        .filter(activities::organization_id.eq(client.organization_id().to_string()))
        .select(activity_columns!())
        .first(conn)?;
    activity_from(conn, client, row)
}

/// This client's activities in one episode (all when `episode_id` is None), oldest first.
pub fn activities_of(
    conn: &mut Conn,
    client: Reached,
    episode_id: Option<Uuid>,
) -> StoreResult<Vec<Activity>> {
    let mut q = activities::table
        .filter(activities::client_id.eq(client.client_id().to_string()))
        .filter(activities::organization_id.eq(client.organization_id().to_string()))
        .order(activities::id.asc())
        .select(activity_columns!())
        .into_boxed();
    if let Some(e) = episode_id {
        q = q.filter(activities::episode_id.eq(e.to_string()));
    }
    let rows: Vec<ActivityRow> = q.load(conn)?;
    rows.into_iter()
        .map(|r| activity_from(conn, client, r))
        .collect()
}

/// Stores a new version of an activity, moving its version on from `read`.
pub fn revise_activity(
    conn: &mut Conn,
    client: Reached,
    old: &Activity,
    p: &Prescription,
    effective_from: NaiveDate,
    by: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Activity> {
    let row = || activities::table.filter(activities::id.eq(old.id.to_string()));
    bump!(conn, activities, row(), old.version)?;
    let next = ActivityVersion {
        version: old.versions.last().map_or(1, |v| v.version + 1),
        prescription: p.clone(),
        effective_from,
        prescribed_by: by,
        recorded_at: now,
    };
    insert_version(conn, client, old.id, &next)?;
    activity(conn, client, old.id)
}

/// Stops an activity on `on`, with the reason; kept with every version.
pub fn stop_activity(
    conn: &mut Conn,
    client: Reached,
    old: &Activity,
    on: NaiveDate,
    reason: &str,
    by: Uuid,
) -> StoreResult<Activity> {
    let row = || activities::table.filter(activities::id.eq(old.id.to_string()));
    bump!(conn, activities, row(), old.version)?;
    diesel::update(row())
        .set((
            activities::status.eq(ActivityStatus::Stopped.as_str()),
            activities::stopped_on.eq(Some(on)),
            activities::stop_reason.eq(Some(reason)),
            activities::stopped_by.eq(Some(by.to_string())),
        ))
        .execute(conn)?;
    activity(conn, client, old.id)
}

// --- Practice logs ---------------------------------------------------------------

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = practice_logs, treat_none_as_default_value = false)]
struct LogRow {
    id: String,
    organization_id: String,
    client_id: String,
    activity_id: String,
    performed_at: NaiveDateTime,
    outcome: String,
    effort: Option<i32>,
    pain: Option<i32>,
    note: Option<String>,
    recorded_by: String,
    recorded_role: String,
    status: String,
    supersedes: Option<String>,
    superseded_by: Option<String>,
    reason: Option<String>,
    created_at: NaiveDateTime,
}

impl LogRow {
    fn into_log(self) -> StoreResult<PracticeLog> {
        Ok(PracticeLog {
            id: id(&self.id)?,
            client_id: id(&self.client_id)?,
            activity_id: id(&self.activity_id)?,
            practice: Practice {
                outcome: parse_stored(&self.outcome, |s| PracticeOutcome::parse("outcome", s))?,
                effort: rating(self.effort),
                pain: rating(self.pain),
                note: self.note,
                performed_at: utc(self.performed_at),
            },
            recorded_by: id(&self.recorded_by)?,
            recorded_role: role(&self.recorded_role)?,
            status: parse_stored(&self.status, |s| LogStatus::parse("status", s))?,
            supersedes: opt_id(self.supersedes.as_deref())?,
            superseded_by: opt_id(self.superseded_by.as_deref())?,
            reason: self.reason,
            created_at: utc(self.created_at),
        })
    }
}

macro_rules! logs_of_client {
    ($client:expr) => {
        practice_logs::table
            .filter(practice_logs::client_id.eq($client.client_id().to_string()))
            .filter(practice_logs::organization_id.eq($client.organization_id().to_string()))
    };
}

/// Appends one entry to this client's practice log (checked by the operation).
pub fn insert_log(conn: &mut Conn, client: Reached, log: &PracticeLog) -> StoreResult<()> {
    let p = &log.practice;
    let row = LogRow {
        id: log.id.to_string(),
        organization_id: client.organization_id().to_string(),
        client_id: client.client_id().to_string(),
        activity_id: log.activity_id.to_string(),
        performed_at: p.performed_at.naive_utc(),
        outcome: p.outcome.as_str().to_owned(),
        effort: p.effort.map(i32::from),
        pain: p.pain.map(i32::from),
        note: p.note.clone(),
        recorded_by: log.recorded_by.to_string(),
        recorded_role: log.recorded_role.as_str().to_owned(),
        status: log.status.as_str().to_owned(),
        supersedes: log.supersedes.map(|s| s.to_string()),
        superseded_by: None,
        reason: log.reason.clone(),
        created_at: log.created_at.naive_utc(),
    };
    diesel::insert_into(practice_logs::table)
        .values(&row)
        .execute(conn)?;
    Ok(())
}

/// One entry of this client's practice log (any version).
pub fn log(conn: &mut Conn, client: Reached, log_id: Uuid) -> StoreResult<PracticeLog> {
    logs_of_client!(client)
        .filter(practice_logs::id.eq(log_id.to_string()))
        .select(LogRow::as_select())
        .first(conn)?
        .into_log()
}

/// Every entry for this client's activities (one activity's when given), superseded
/// ones included, in the order practice happened.
pub fn logs(
    conn: &mut Conn,
    client: Reached,
    activity_id: Option<Uuid>,
) -> StoreResult<Vec<PracticeLog>> {
    let mut q = logs_of_client!(client)
        .order((practice_logs::performed_at.asc(), practice_logs::id.asc()))
        .select(LogRow::as_select())
        .into_boxed();
    if let Some(a) = activity_id {
        q = q.filter(practice_logs::activity_id.eq(a.to_string()));
    }
    q.load(conn)?.into_iter().map(LogRow::into_log).collect()
}

/// Marks `old` superseded by `new_id`; refuses when another correction came first.
pub fn supersede_log(conn: &mut Conn, client: Reached, old: Uuid, new_id: Uuid) -> StoreResult<()> {
    let changed = diesel::update(
        logs_of_client!(client)
            .filter(practice_logs::id.eq(old.to_string()))
            .filter(practice_logs::superseded_by.is_null()),
    )
    .set(practice_logs::superseded_by.eq(new_id.to_string()))
    .execute(conn)?;
    if changed == 0 {
        return Err(StoreError::Stale { current: 2 });
    }
    Ok(())
}

// --- Check-ins -------------------------------------------------------------------

type CheckInRow = (
    String,
    String,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<i32>,
    Option<String>,
    NaiveDateTime,
    String,
    String,
    String,
    NaiveDateTime,
);

macro_rules! check_in_columns {
    () => {
        (
            check_ins::id,
            check_ins::client_id,
            check_ins::mood,
            check_ins::pain,
            check_ins::fatigue,
            check_ins::confidence,
            check_ins::note,
            check_ins::observed_at,
            check_ins::recorded_by,
            check_ins::recorded_role,
            check_ins::concerns,
            check_ins::created_at,
        )
    };
}

fn check_in_from(row: CheckInRow) -> StoreResult<CheckIn> {
    let (cid, client, mood, pain, fatigue, confidence, note, at, by, by_role, concerns, created) =
        row;
    Ok(CheckIn {
        id: id(&cid)?,
        client_id: id(&client)?,
        feelings: Feelings {
            mood: rating(mood),
            pain: rating(pain),
            fatigue: rating(fatigue),
            confidence: rating(confidence),
        },
        note,
        observed_at: utc(at),
        recorded_by: id(&by)?,
        recorded_role: role(&by_role)?,
        concerns: concerns
            .split_whitespace()
            .map(|c| parse_stored(c, |s| Concern::parse("concerns", s)))
            .collect::<StoreResult<_>>()?,
        created_at: utc(created),
    })
}

pub fn insert_check_in(conn: &mut Conn, client: Reached, c: &CheckIn) -> StoreResult<()> {
    let f = &c.feelings;
    let concerns: Vec<&str> = c.concerns.iter().map(|c| c.as_str()).collect();
    diesel::insert_into(check_ins::table)
        .values((
            check_ins::id.eq(c.id.to_string()),
            check_ins::organization_id.eq(client.organization_id().to_string()),
            check_ins::client_id.eq(client.client_id().to_string()),
            check_ins::mood.eq(f.mood.map(i32::from)),
            check_ins::pain.eq(f.pain.map(i32::from)),
            check_ins::fatigue.eq(f.fatigue.map(i32::from)),
            check_ins::confidence.eq(f.confidence.map(i32::from)),
            check_ins::note.eq(&c.note),
            check_ins::observed_at.eq(c.observed_at.naive_utc()),
            check_ins::recorded_by.eq(c.recorded_by.to_string()),
            check_ins::recorded_role.eq(c.recorded_role.as_str()),
            check_ins::concerns.eq(concerns.join(" ")),
            check_ins::flagged.eq(!c.concerns.is_empty()),
            check_ins::created_at.eq(c.created_at.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// This client's check-ins in time order (only those before `before`, the latest
/// `limit` of them, when given).
pub fn check_ins_of(
    conn: &mut Conn,
    client: Reached,
    before: Option<DateTime<Utc>>,
    limit: Option<i64>,
) -> StoreResult<Vec<CheckIn>> {
    let mut q = check_ins::table
        .filter(check_ins::client_id.eq(client.client_id().to_string()))
        .filter(check_ins::organization_id.eq(client.organization_id().to_string()))
        .order((check_ins::observed_at.desc(), check_ins::id.desc()))
        .select(check_in_columns!())
        .into_boxed();
    if let Some(b) = before {
        q = q.filter(check_ins::observed_at.lt(b.naive_utc()));
    }
    if let Some(l) = limit {
        q = q.limit(l);
    }
    let rows: Vec<CheckInRow> = q.load(conn)?;
    let mut list = rows
        .into_iter()
        .map(check_in_from)
        .collect::<StoreResult<Vec<_>>>()?;
    list.reverse();
    Ok(list)
}

/// The clinic's flagged check-ins, newest first.
pub fn flagged_check_ins(conn: &mut Conn, org_id: Uuid) -> StoreResult<Vec<CheckIn>> {
    let rows: Vec<CheckInRow> = check_ins::table
        .filter(check_ins::organization_id.eq(org_id.to_string()))
        .filter(check_ins::flagged.eq(true))
        .order((check_ins::observed_at.desc(), check_ins::id.desc()))
        .select(check_in_columns!())
        .load(conn)?;
    rows.into_iter().map(check_in_from).collect()
}

// --- Questions -------------------------------------------------------------------

type QuestionRow = (
    String,
    String,
    String,
    String,
    String,
    NaiveDateTime,
    String,
    Option<String>,
    Option<String>,
    Option<NaiveDateTime>,
    i32,
);

macro_rules! question_columns {
    () => {
        (
            questions::id,
            questions::client_id,
            questions::body,
            questions::asked_by,
            questions::asked_role,
            questions::asked_at,
            questions::state,
            questions::answer,
            questions::answered_by,
            questions::answered_at,
            questions::version,
        )
    };
}

fn question_from(row: QuestionRow) -> StoreResult<Question> {
    let (qid, client, body, by, by_role, at, state, answer, answered_by, answered_at, version) =
        row;
    Ok(Question {
        id: id(&qid)?,
        client_id: id(&client)?,
        body,
        asked_by: id(&by)?,
        asked_role: role(&by_role)?,
        asked_at: utc(at),
        state: parse_stored(&state, |s| QuestionState::parse("state", s))?,
        answer,
        answered_by: opt_id(answered_by.as_deref())?,
        answered_at: answered_at.map(utc),
        version,
        team_notes: Vec::new(),
    })
}

pub fn insert_question(conn: &mut Conn, client: Reached, q: &Question) -> StoreResult<()> {
    diesel::insert_into(questions::table)
        .values((
            questions::id.eq(q.id.to_string()),
            questions::organization_id.eq(client.organization_id().to_string()),
            questions::client_id.eq(client.client_id().to_string()),
            questions::body.eq(&q.body),
            questions::asked_by.eq(q.asked_by.to_string()),
            questions::asked_role.eq(q.asked_role.as_str()),
            questions::asked_at.eq(q.asked_at.naive_utc()),
            questions::state.eq(q.state.as_str()),
            questions::answer.eq(None::<String>),
            questions::answered_by.eq(None::<String>),
            questions::answered_at.eq(None::<NaiveDateTime>),
            questions::version.eq(1),
        ))
        .execute(conn)?;
    Ok(())
}

fn notes_of(conn: &mut Conn, client: Reached, question_id: &str) -> StoreResult<Vec<QuestionNote>> {
    let rows: Vec<(String, String, String, NaiveDateTime)> = question_notes::table
        .filter(question_notes::question_id.eq(question_id))
        .filter(question_notes::client_id.eq(client.client_id().to_string()))
        .order(question_notes::id.asc())
        .select((
            question_notes::id,
            question_notes::author_id,
            question_notes::body,
            question_notes::created_at,
        ))
        .load(conn)?;
    rows.into_iter()
        .map(|(nid, author, body, at)| {
            Ok(QuestionNote {
                id: id(&nid)?,
                author_id: id(&author)?,
                body,
                created_at: utc(at),
            })
        })
        .collect()
}

/// This client's questions (one by id when given), oldest first; the team's notes only
/// when `team_notes`.
pub fn questions_of(
    conn: &mut Conn,
    client: Reached,
    one: Option<Uuid>,
    team_notes: bool,
) -> StoreResult<Vec<Question>> {
    let mut q = questions::table
        .filter(questions::client_id.eq(client.client_id().to_string()))
        .filter(questions::organization_id.eq(client.organization_id().to_string()))
        .order(questions::id.asc())
        .select(question_columns!())
        .into_boxed();
    if let Some(qid) = one {
        q = q.filter(questions::id.eq(qid.to_string()));
    }
    let rows: Vec<QuestionRow> = q.load(conn)?;
    let mut list = Vec::new();
    for row in rows {
        let mut question = question_from(row)?;
        if team_notes {
            question.team_notes = notes_of(conn, client, &question.id.to_string())?;
        }
        list.push(question);
    }
    Ok(list)
}

/// One question of this client (NotFound when it is another's).
pub fn question(
    conn: &mut Conn,
    client: Reached,
    question_id: Uuid,
    team_notes: bool,
) -> StoreResult<Question> {
    questions_of(conn, client, Some(question_id), team_notes)?
        .into_iter()
        .next()
        .ok_or(StoreError::NotFound)
}

/// Records the answer, moving the question's version on from `read`.
pub fn answer_question(
    conn: &mut Conn,
    client: Reached,
    question_id: Uuid,
    read: i32,
    answer: &str,
    by: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let row = || {
        questions::table
            .filter(questions::id.eq(question_id.to_string()))
            .filter(questions::client_id.eq(client.client_id().to_string()))
    };
    bump!(conn, questions, row(), read)?;
    diesel::update(row())
        .set((
            questions::state.eq(QuestionState::Answered.as_str()),
            questions::answer.eq(Some(answer)),
            questions::answered_by.eq(Some(by.to_string())),
            questions::answered_at.eq(Some(now.naive_utc())),
        ))
        .execute(conn)?;
    Ok(())
}

pub fn add_note(
    conn: &mut Conn,
    client: Reached,
    question_id: Uuid,
    note: &QuestionNote,
) -> StoreResult<()> {
    diesel::insert_into(question_notes::table)
        .values((
            question_notes::id.eq(note.id.to_string()),
            question_notes::organization_id.eq(client.organization_id().to_string()),
            question_notes::client_id.eq(client.client_id().to_string()),
            question_notes::question_id.eq(question_id.to_string()),
            question_notes::author_id.eq(note.author_id.to_string()),
            question_notes::body.eq(&note.body),
            question_notes::created_at.eq(note.created_at.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The clinic's open questions, oldest first.
pub fn open_questions(conn: &mut Conn, org_id: Uuid) -> StoreResult<Vec<Question>> {
    let rows: Vec<QuestionRow> = questions::table
        .filter(questions::organization_id.eq(org_id.to_string()))
        .filter(questions::state.eq(QuestionState::Open.as_str()))
        .order((questions::asked_at.asc(), questions::id.asc()))
        .select(question_columns!())
        .load(conn)?;
    rows.into_iter().map(question_from).collect()
}
