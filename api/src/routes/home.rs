//! Between sessions: the home programme (activities the care team prescribes, linked
//! to a goal), the practice the client logs and its adherence per ISO week, check-ins,
//! and questions to the care team. The rules and records are the clinic's
//! (`persistence::ops::home`, `domain::home`); these handlers translate HTTP.

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    home::{
        stop_reason, text, Activity, ActivityStatus, ActivityVersion, CheckIn, CheckInDraft,
        Concern, LogStatus, PracticeDraft, PracticeLog, PracticeOutcome, Prescription,
        PrescriptionDraft, Question, QuestionNote, QuestionState, WeekAdherence,
    },
    identity::Role,
};
use persistence::ops::home::{
    ActivityAdherence, FlaggedCheckIn, GoalAdherence, PracticeCorrection, WaitingQuestion,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{clients::ClientPath, created, goals::EpisodePath, read_tagged, tagged};
use crate::{
    auth::Bearer,
    error::{ApiResult, Problem},
    extract::{Body, IfMatch, IfNoneMatch, Query},
    idempotent::IdempotencyKey,
    state::State,
    wire,
};

fn activity_status() -> utoipa::openapi::Object {
    wire::one_of(ActivityStatus::ALL.iter().map(|s| s.as_str()))
}
fn practice_outcome() -> utoipa::openapi::Object {
    wire::one_of(PracticeOutcome::ALL.iter().map(|s| s.as_str()))
}
fn log_status() -> utoipa::openapi::Object {
    wire::one_of(LogStatus::ALL.iter().map(|s| s.as_str()))
}
fn question_state() -> utoipa::openapi::Object {
    wire::one_of(QuestionState::ALL.iter().map(|s| s.as_str()))
}
fn concerns() -> utoipa::openapi::Array {
    wire::array_of(Concern::ALL.iter().map(|s| s.as_str()))
}

// --- Wire types -------------------------------------------------------------------

/// What is prescribed, in plain words.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrescriptionView {
    pub instructions: String,
    /// Times a week, 1 to 21.
    pub times_per_week: u8,
    pub sets: Option<u16>,
    pub repetitions: Option<u16>,
    pub duration_minutes: Option<u16>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
}

impl From<Prescription> for PrescriptionView {
    fn from(p: Prescription) -> Self {
        PrescriptionView {
            instructions: p.instructions,
            times_per_week: p.times_per_week,
            sets: p.sets,
            repetitions: p.repetitions,
            duration_minutes: p.duration_minutes,
            start_date: p.start_date,
            end_date: p.end_date,
        }
    }
}

/// One version of a prescription; each change is a new one.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityVersionView {
    pub version: i32,
    pub prescription: PrescriptionView,
    /// The day this version applies from: earlier days keep the version they had.
    pub effective_from: NaiveDate,
    pub prescribed_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

impl From<ActivityVersion> for ActivityVersionView {
    fn from(v: ActivityVersion) -> Self {
        ActivityVersionView {
            version: v.version,
            prescription: v.prescription.into(),
            effective_from: v.effective_from,
            prescribed_by: v.prescribed_by,
            recorded_at: v.recorded_at,
        }
    }
}

/// One ISO week of an activity: prescribed (prorated for a partial week), done.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeekAdherenceView {
    /// `2026-W49`.
    pub week: String,
    pub starts_on: NaiveDate,
    /// Days of the week the activity was prescribed on (fewer in a partial week).
    pub days_prescribed: u32,
    /// Times a week prorated by the days prescribed, rounded, at least 1.
    pub prescribed: u32,
    pub done: u32,
    pub skipped: u32,
    /// `min(done, prescribed) / prescribed`, 0 to 1.
    pub adherence: f64,
    pub fully_done: bool,
}

impl From<WeekAdherence> for WeekAdherenceView {
    fn from(w: WeekAdherence) -> Self {
        WeekAdherenceView {
            week: w.week,
            starts_on: w.starts_on,
            days_prescribed: w.days_prescribed,
            prescribed: w.prescribed,
            done: w.done,
            skipped: w.skipped,
            adherence: (w.adherence * 1000.0).round() / 1000.0,
            fully_done: w.fully_done,
        }
    }
}

/// A prescribed home activity, with every version and its adherence per ISO week.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActivityView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub episode_id: Uuid,
    /// The goal it serves.
    pub goal_id: Uuid,
    #[schema(schema_with = activity_status)]
    pub status: ActivityStatus,
    /// The current prescription.
    pub prescription: PrescriptionView,
    pub stopped_on: Option<NaiveDate>,
    pub stop_reason: Option<String>,
    pub stopped_by: Option<Uuid>,
    /// Oldest first.
    pub versions: Vec<ActivityVersionView>,
    pub weeks: Vec<WeekAdherenceView>,
    /// Done (capped per week) over prescribed across the weeks; null before any.
    pub adherence: Option<f64>,
    pub created_at: DateTime<Utc>,
    pub version: i32,
}

fn activity_view(a: ActivityAdherence) -> ActivityView {
    let Activity {
        id,
        client_id,
        episode_id,
        goal_id,
        status,
        version,
        prescription,
        stopped_on,
        stop_reason,
        stopped_by,
        versions,
        created_at,
    } = a.activity;
    ActivityView {
        id,
        client_id,
        episode_id,
        goal_id,
        status,
        prescription: prescription.into(),
        stopped_on,
        stop_reason,
        stopped_by,
        versions: versions.into_iter().map(Into::into).collect(),
        weeks: a.weeks.into_iter().map(Into::into).collect(),
        adherence: a.overall.map(|o| (o * 1000.0).round() / 1000.0),
        created_at,
        version,
    }
}

/// The home programme serving one goal, with adherence.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalAdherenceView {
    pub goal_id: Uuid,
    /// Over all its activities' weeks; null before any.
    pub adherence: Option<f64>,
    pub activities: Vec<ActivityView>,
}

pub fn goal_adherence_view(g: GoalAdherence) -> GoalAdherenceView {
    GoalAdherenceView {
        goal_id: g.goal_id,
        adherence: g.overall.map(|o| (o * 1000.0).round() / 1000.0),
        activities: g.activities.into_iter().map(activity_view).collect(),
    }
}

/// A prescription as sent.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrescriptionInput {
    /// What to do, in plain words.
    #[schema(schema_with = wire::not_blank_2000)]
    pub instructions: String,
    /// Times a week, 1 to 21 ("5 times a week").
    #[serde(deserialize_with = "crate::extract::integer::deserialize")]
    #[schema(minimum = 1, maximum = 21)]
    pub times_per_week: i64,
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = 1, maximum = 100)]
    pub sets: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = 1, maximum = 1000)]
    pub repetitions: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = 1, maximum = 600)]
    pub duration_minutes: Option<i64>,
    /// Defaults to today.
    pub start_date: Option<NaiveDate>,
    /// Not before the start date.
    pub end_date: Option<NaiveDate>,
}

impl PrescriptionInput {
    fn parse(self) -> Result<Prescription, domain::Invalid> {
        PrescriptionDraft {
            instructions: self.instructions,
            times_per_week: self.times_per_week,
            sets: self.sets,
            repetitions: self.repetitions,
            duration_minutes: self.duration_minutes,
            start_date: self.start_date,
            end_date: self.end_date,
        }
        .check(Utc::now().date_naive())
    }
}

/// A new activity: the goal it serves and what is prescribed.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewActivityInput {
    /// A goal of this episode.
    pub goal_id: Uuid,
    #[validate(nested)]
    pub prescription: PrescriptionInput,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ActivityPath {
    pub client_id: Uuid,
    pub activity_id: Uuid,
}

fn activity_created(client_id: Uuid, a: &Activity) -> crate::idempotent::Reply {
    let location = format!("/api/v1/clients/{client_id}/activities/{}", a.id);
    let view = activity_view(ActivityAdherence {
        activity: a.clone(),
        weeks: Vec::new(),
        overall: None,
    });
    created(location, &view).tagged(a.version)
}

// --- Activities -------------------------------------------------------------------

/// Prescribe a home activity or exercise serving one of the episode's goals (a
/// therapist on the care team).
#[utoipa::path(
    tag = "home",
    params(EpisodePath),
    request_body = NewActivityInput,
    responses((status = 201, body = ActivityView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/episodes/{episode_id}/activities")]
pub async fn prescribe(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<EpisodePath>,
    body: Body<NewActivityInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let goal_id = body.0.goal_id;
    let prescription = body.0.prescription.parse()?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| {
                clinic.prescribe_activity(caller, client_id, episode_id, goal_id, prescription)
            },
            move |a| activity_created(client_id, a),
        )
        .await
}

/// An episode's home programme: each activity with its versions and its adherence
/// per ISO week.
#[utoipa::path(
    tag = "home",
    params(EpisodePath),
    responses((status = 200, body = Vec<ActivityView>)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/episodes/{episode_id}/activities")]
pub async fn programme(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let list = state
        .run(move |clinic| clinic.home_programme(&caller, client_id, episode_id))
        .await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(activity_view).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// The first day of the period (its whole ISO week counts); default: the start.
    pub from: Option<NaiveDate>,
    /// The last day of the period (its whole ISO week counts); default: today.
    pub to: Option<NaiveDate>,
}

/// Adherence to an episode's home programme per goal, over a period of ISO weeks.
#[utoipa::path(
    tag = "home",
    params(EpisodePath, PeriodQuery),
    responses(
        (status = 200, body = Vec<GoalAdherenceView>),
        (status = 422, description = "`from` is after `to`", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/episodes/{episode_id}/adherence")]
pub async fn adherence(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    query: Query<PeriodQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let PeriodQuery { from, to } = query.0;
    let list = state
        .run(move |clinic| clinic.adherence(&caller, client_id, episode_id, from, to))
        .await?;
    Ok(HttpResponse::Ok().json(
        list.into_iter()
            .map(goal_adherence_view)
            .collect::<Vec<_>>(),
    ))
}

/// One activity, with every version and its adherence per ISO week.
#[utoipa::path(
    tag = "home",
    params(ActivityPath),
    responses((status = 200, body = ActivityView)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/activities/{activity_id}")]
pub async fn get_activity(
    Bearer(caller): Bearer,
    path: web::Path<ActivityPath>,
    held: IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let ActivityPath {
        client_id,
        activity_id,
    } = path.into_inner();
    let a = state
        .run(move |clinic| clinic.activity(&caller, client_id, activity_id))
        .await?;
    let version = a.activity.version;
    read_tagged(&held, version, &activity_view(a))
}

/// Change a prescription: a new version, applying from today (or its new start date,
/// if later); earlier weeks keep the version they had. A stopped activity cannot be
/// changed (409): prescribe a new one.
#[utoipa::path(
    tag = "home",
    params(ActivityPath),
    request_body = PrescriptionInput,
    responses(
        (status = 201, body = ActivityView),
        (status = 409, description = "The activity was stopped", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/activities/{activity_id}/revisions")]
pub async fn revise(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ActivityPath>,
    IfMatch(expected): IfMatch,
    body: Body<PrescriptionInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let ActivityPath {
        client_id,
        activity_id,
    } = path.into_inner();
    let prescription = body.0.parse()?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| {
                clinic.revise_activity(caller, client_id, activity_id, expected, prescription)
            },
            move |a| activity_created(client_id, a),
        )
        .await
}

/// Stopping an activity.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StopInput {
    /// `stopped`: the only change made in place; content changes are revisions.
    #[schema(schema_with = activity_status)]
    pub status: String,
    /// Why it is stopped: kept with the activity.
    #[schema(schema_with = wire::not_blank_2000)]
    pub reason: String,
}

/// Stop an activity today, with the reason (a therapist on the care team). Practice
/// after today is refused; its versions and logs stay readable.
#[utoipa::path(
    tag = "home",
    params(ActivityPath),
    request_body = StopInput,
    responses(
        (status = 200, body = ActivityView),
        (status = 409, description = "Stopped already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/clients/{client_id}/activities/{activity_id}")]
pub async fn stop(
    Bearer(caller): Bearer,
    path: web::Path<ActivityPath>,
    IfMatch(expected): IfMatch,
    body: Body<StopInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let ActivityPath {
        client_id,
        activity_id,
    } = path.into_inner();
    if body.0.status != ActivityStatus::Stopped.as_str() {
        return Err(domain::Invalid::field("status", "must be stopped").into());
    }
    let reason = stop_reason(&body.0.reason)?;
    let a = state
        .run(move |clinic| clinic.stop_activity(&caller, client_id, activity_id, expected, reason))
        .await?;
    let version = a.version;
    let view = activity_view(ActivityAdherence {
        activity: a,
        weeks: Vec::new(),
        overall: None,
    });
    Ok(tagged(version, &view))
}

// --- Practice ---------------------------------------------------------------------

/// One entry of the practice log.
#[derive(Debug, Serialize, ToSchema)]
pub struct PracticeLogView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub activity_id: Uuid,
    #[schema(schema_with = practice_outcome)]
    pub outcome: PracticeOutcome,
    /// 0 to 10.
    pub effort: Option<u8>,
    /// 0 to 10.
    pub pain: Option<u8>,
    pub note: Option<String>,
    pub performed_at: DateTime<Utc>,
    pub recorded_by: Uuid,
    #[schema(schema_with = wire::role)]
    pub recorded_role: Role,
    /// `final`; `amended` for a correction; `entered-in-error` for a withdrawal.
    #[schema(schema_with = log_status)]
    pub status: LogStatus,
    pub supersedes: Option<Uuid>,
    pub superseded_by: Option<Uuid>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<PracticeLog> for PracticeLogView {
    fn from(l: PracticeLog) -> Self {
        PracticeLogView {
            id: l.id,
            client_id: l.client_id,
            activity_id: l.activity_id,
            outcome: l.practice.outcome,
            effort: l.practice.effort,
            pain: l.practice.pain,
            note: l.practice.note,
            performed_at: l.practice.performed_at,
            recorded_by: l.recorded_by,
            recorded_role: l.recorded_role,
            status: l.status,
            supersedes: l.supersedes,
            superseded_by: l.superseded_by,
            reason: l.reason,
            created_at: l.created_at,
        }
    }
}

/// A practice as the client reports it.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PracticeInput {
    #[schema(schema_with = practice_outcome)]
    pub outcome: String,
    /// How hard it felt, 0 to 10.
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = 0, maximum = 10)]
    pub effort: Option<i64>,
    /// Pain during it, 0 to 10.
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = 0, maximum = 10)]
    pub pain: Option<i64>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// When it happened; defaults to now; not in the future.
    pub performed_at: Option<DateTime<Utc>>,
}

impl PracticeInput {
    fn draft(self) -> PracticeDraft {
        PracticeDraft {
            outcome: self.outcome,
            effort: self.effort,
            pain: self.pain,
            note: self.note,
            performed_at: self.performed_at,
        }
    }
}

fn log_created(client_id: Uuid, l: &PracticeLog) -> crate::idempotent::Reply {
    let location = format!("/api/v1/clients/{client_id}/practice/{}", l.id);
    created(location, &PracticeLogView::from(l.clone())).tagged(l.version())
}

/// Log a practice of an activity (the client, or a caregiver allowed to contribute):
/// done or skipped, with optional effort and pain (0 to 10) and a note. 404 for an
/// activity not prescribed to this client; 422 naming `performed_at` when it is not
/// prescribed that day.
#[utoipa::path(
    tag = "home",
    params(ActivityPath),
    request_body = PracticeInput,
    responses((status = 201, body = PracticeLogView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/activities/{activity_id}/practice")]
pub async fn log_practice(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ActivityPath>,
    body: Body<PracticeInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let ActivityPath {
        client_id,
        activity_id,
    } = path.into_inner();
    let practice = body.0.draft().check(Utc::now())?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.log_practice(caller, client_id, activity_id, practice),
            move |l| log_created(client_id, l),
        )
        .await
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Also list superseded and withdrawn entries.
    #[serde(default)]
    pub history: bool,
}

/// An activity's practice log, in the order practice happened.
#[utoipa::path(
    tag = "home",
    params(ActivityPath, HistoryQuery),
    responses((status = 200, body = Vec<PracticeLogView>)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/activities/{activity_id}/practice")]
pub async fn practice_log(
    Bearer(caller): Bearer,
    path: web::Path<ActivityPath>,
    query: Query<HistoryQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let ActivityPath {
        client_id,
        activity_id,
    } = path.into_inner();
    let history = query.0.history;
    let list = state
        .run(move |clinic| clinic.practice_logs(&caller, client_id, activity_id, history))
        .await?;
    let views: Vec<PracticeLogView> = list.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PracticePath {
    pub client_id: Uuid,
    pub practice_id: Uuid,
}

/// One practice log entry (any version).
#[utoipa::path(
    tag = "home",
    params(PracticePath),
    responses((status = 200, body = PracticeLogView)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/practice/{practice_id}")]
pub async fn get_practice(
    Bearer(caller): Bearer,
    path: web::Path<PracticePath>,
    held: IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let PracticePath {
        client_id,
        practice_id,
    } = path.into_inner();
    let l = state
        .run(move |clinic| clinic.practice_log(&caller, client_id, practice_id))
        .await?;
    read_tagged(&held, l.version(), &PracticeLogView::from(l))
}

/// A correction of a practice log entry.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PracticeCorrectionInput {
    /// Why: kept with the new entry.
    #[schema(schema_with = wire::not_blank_2000)]
    pub reason: String,
    /// True to withdraw the entry as entered in error (no new values).
    #[serde(default)]
    pub withdraw: bool,
    /// The corrected practice (required unless withdrawing).
    #[validate(nested)]
    pub practice: Option<PracticeInput>,
}

impl PracticeCorrectionInput {
    fn parse(self) -> Result<PracticeCorrection, domain::Invalid> {
        let reason = stop_reason(&self.reason)?;
        let practice = match (self.withdraw, self.practice) {
            (true, None) => None,
            (true, Some(_)) => {
                return Err(domain::Invalid::field(
                    "practice",
                    "must be absent when withdrawing",
                ))
            }
            (false, None) => {
                return Err(domain::Invalid::field(
                    "practice",
                    "is required unless withdrawing",
                ))
            }
            (false, Some(p)) => {
                let checked = p.draft().check(Utc::now());
                Some(checked.map_err(|domain::Invalid(errors)| {
                    domain::Invalid(
                        errors
                            .into_iter()
                            .map(|mut e| {
                                e.field = format!("practice.{}", e.field);
                                e
                            })
                            .collect(),
                    )
                })?)
            }
        };
        Ok(PracticeCorrection { reason, practice })
    }
}

/// Correct a practice log entry: a new entry supersedes it (`amended`), or withdraws
/// it (`entered-in-error`); the old one stays readable. Only the person who logged it.
#[utoipa::path(
    tag = "home",
    params(PracticePath),
    request_body = PracticeCorrectionInput,
    responses(
        (status = 201, body = PracticeLogView),
        (status = 409, description = "Already superseded: correct the latest version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/practice/{practice_id}/corrections")]
pub async fn correct_practice(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<PracticePath>,
    IfMatch(expected): IfMatch,
    body: Body<PracticeCorrectionInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let PracticePath {
        client_id,
        practice_id,
    } = path.into_inner();
    let correction = body.0.parse()?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| {
                clinic.correct_practice(caller, client_id, practice_id, expected, correction)
            },
            move |l| log_created(client_id, l),
        )
        .await
}

// --- Check-ins --------------------------------------------------------------------

/// A short check-in between sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckInView {
    pub id: Uuid,
    pub client_id: Uuid,
    /// 0 to 10 each.
    pub mood: Option<u8>,
    pub pain: Option<u8>,
    pub fatigue: Option<u8>,
    pub confidence: Option<u8>,
    pub note: Option<String>,
    pub observed_at: DateTime<Utc>,
    pub recorded_by: Uuid,
    #[schema(schema_with = wire::role)]
    pub recorded_role: Role,
    /// A sharp drop against the mean of the previous 3 check-ins: mood or confidence
    /// 3 or more points lower, pain or fatigue 3 or more higher.
    pub flagged: bool,
    /// What the rule found: `mood-fell`, `confidence-fell`, `pain-rose`, `fatigue-rose`.
    #[schema(schema_with = concerns)]
    pub concerns: Vec<Concern>,
    pub created_at: DateTime<Utc>,
}

impl From<CheckIn> for CheckInView {
    fn from(c: CheckIn) -> Self {
        CheckInView {
            id: c.id,
            client_id: c.client_id,
            mood: c.feelings.mood,
            pain: c.feelings.pain,
            fatigue: c.feelings.fatigue,
            confidence: c.feelings.confidence,
            note: c.note,
            observed_at: c.observed_at,
            recorded_by: c.recorded_by,
            recorded_role: c.recorded_role,
            flagged: !c.concerns.is_empty(),
            concerns: c.concerns,
            created_at: c.created_at,
        }
    }
}

/// A check-in as sent: each 0 to 10, at least one of the four.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckInInput {
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = 0, maximum = 10)]
    pub mood: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = 0, maximum = 10)]
    pub pain: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = 0, maximum = 10)]
    pub fatigue: Option<i64>,
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = 0, maximum = 10)]
    pub confidence: Option<i64>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
    /// Defaults to now; not in the future.
    pub observed_at: Option<DateTime<Utc>>,
}

/// Record a check-in (the client, or a caregiver allowed to contribute): mood, pain,
/// fatigue, confidence (0 to 10, at least one) and a note. A sharp drop is flagged
/// for the care team.
#[utoipa::path(
    tag = "home",
    params(ClientPath),
    request_body = CheckInInput,
    responses((status = 201, body = CheckInView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/check-ins")]
pub async fn record_check_in(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ClientPath>,
    body: Body<CheckInInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.into_inner().client_id;
    let i = body.0;
    let draft = CheckInDraft {
        mood: i.mood,
        pain: i.pain,
        fatigue: i.fatigue,
        confidence: i.confidence,
        note: i.note,
        observed_at: i.observed_at,
    };
    let (feelings, note, at) = draft.check(Utc::now())?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.record_check_in(caller, client_id, feelings, note, at),
            move |c| {
                let location = format!("/api/v1/clients/{client_id}/check-ins");
                created(location, &CheckInView::from(c.clone()))
            },
        )
        .await
}

/// A client's check-ins in time order: the series beside progress.
#[utoipa::path(
    tag = "home",
    params(ClientPath),
    responses((status = 200, body = Vec<CheckInView>)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/check-ins")]
pub async fn check_ins(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.into_inner().client_id;
    let list = state
        .run(move |clinic| clinic.check_ins(&caller, client_id))
        .await?;
    let views: Vec<CheckInView> = list.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// A flagged check-in in the care team's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlaggedCheckInView {
    pub client_name: String,
    pub check_in: CheckInView,
}

/// Flagged check-ins across the caller's caseload (an admin: the clinic), newest first
/// (therapists, admins, integrations with clinical:read).
#[utoipa::path(
    tag = "home",
    responses((status = 200, body = Vec<FlaggedCheckInView>)),
    security(("bearer" = []))
)]
#[get("/check-ins/flagged")]
pub async fn flagged(Bearer(caller): Bearer, state: State) -> ApiResult<HttpResponse> {
    let list = state
        .run(move |clinic| clinic.flagged_check_ins(&caller))
        .await?;
    let views: Vec<FlaggedCheckInView> = list
        .into_iter()
        .map(
            |FlaggedCheckIn {
                 check_in,
                 client_name,
             }| FlaggedCheckInView {
                client_name,
                check_in: check_in.into(),
            },
        )
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

// --- Questions --------------------------------------------------------------------

/// A care team note on a question: shown to the team only.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionNoteView {
    pub id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

impl From<QuestionNote> for QuestionNoteView {
    fn from(n: QuestionNote) -> Self {
        QuestionNoteView {
            id: n.id,
            author_id: n.author_id,
            body: n.body,
            created_at: n.created_at,
        }
    }
}

/// A question to the care team.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub body: String,
    pub asked_by: Uuid,
    #[schema(schema_with = wire::role)]
    pub asked_role: Role,
    pub asked_at: DateTime<Utc>,
    #[schema(schema_with = question_state)]
    pub state: QuestionState,
    /// Visible to the client.
    pub answer: Option<String>,
    pub answered_by: Option<Uuid>,
    pub answered_at: Option<DateTime<Utc>>,
    /// The care team's own notes; absent for the client and caregivers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub team_notes: Option<Vec<QuestionNoteView>>,
    pub version: i32,
}

fn question_view(q: Question, team: bool) -> QuestionView {
    QuestionView {
        id: q.id,
        client_id: q.client_id,
        body: q.body,
        asked_by: q.asked_by,
        asked_role: q.asked_role,
        asked_at: q.asked_at,
        state: q.state,
        answer: q.answer,
        answered_by: q.answered_by,
        answered_at: q.answered_at,
        team_notes: team.then(|| q.team_notes.into_iter().map(Into::into).collect()),
        version: q.version,
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TextInput {
    #[schema(schema_with = wire::not_blank_2000)]
    pub body: String,
}

/// Ask the care team a question (the client, or a caregiver allowed to contribute).
#[utoipa::path(
    tag = "home",
    params(ClientPath),
    request_body = TextInput,
    responses((status = 201, body = QuestionView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/questions")]
pub async fn ask(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ClientPath>,
    body: Body<TextInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.into_inner().client_id;
    let question = text("body", &body.0.body)?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.ask_question(caller, client_id, question),
            move |q| {
                let location = format!("/api/v1/clients/{client_id}/questions/{}", q.id);
                created(location, &question_view(q.clone(), false)).tagged(q.version)
            },
        )
        .await
}

/// A client's questions, oldest first; the care team's notes for the team only.
#[utoipa::path(
    tag = "home",
    params(ClientPath),
    responses((status = 200, body = Vec<QuestionView>)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/questions")]
pub async fn questions(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.into_inner().client_id;
    let team = domain::policy::sees_team_notes(&caller.who);
    let list = state
        .run(move |clinic| clinic.questions(&caller, client_id))
        .await?;
    let views: Vec<QuestionView> = list.into_iter().map(|q| question_view(q, team)).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct QuestionPath {
    pub client_id: Uuid,
    pub question_id: Uuid,
}

/// One question; the care team's notes for the team only.
#[utoipa::path(
    tag = "home",
    params(QuestionPath),
    responses((status = 200, body = QuestionView)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/questions/{question_id}")]
pub async fn get_question(
    Bearer(caller): Bearer,
    path: web::Path<QuestionPath>,
    held: IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let QuestionPath {
        client_id,
        question_id,
    } = path.into_inner();
    let team = domain::policy::sees_team_notes(&caller.who);
    let q = state
        .run(move |clinic| clinic.question(&caller, client_id, question_id))
        .await?;
    let version = q.version;
    read_tagged(&held, version, &question_view(q, team))
}

/// The answer to a question.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    /// Visible to the client.
    #[schema(schema_with = wire::not_blank_2000)]
    pub answer: String,
}

/// Answer a question (a therapist on the care team); the client sees the answer.
/// Once only: an answered question is a 409.
#[utoipa::path(
    tag = "home",
    params(QuestionPath),
    request_body = AnswerInput,
    responses(
        (status = 200, body = QuestionView),
        (status = 409, description = "Answered already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/clients/{client_id}/questions/{question_id}")]
pub async fn answer(
    Bearer(caller): Bearer,
    path: web::Path<QuestionPath>,
    IfMatch(expected): IfMatch,
    body: Body<AnswerInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let QuestionPath {
        client_id,
        question_id,
    } = path.into_inner();
    let answer = text("answer", &body.0.answer)?;
    let q = state
        .run(move |clinic| {
            clinic.answer_question(&caller, client_id, question_id, expected, answer)
        })
        .await?;
    let version = q.version;
    Ok(tagged(version, &question_view(q, true)))
}

/// Add a care team note to a question: the team's own, never shown to the client or
/// caregivers, on any route or the live stream.
#[utoipa::path(
    tag = "home",
    params(QuestionPath),
    request_body = TextInput,
    responses((status = 201, body = QuestionNoteView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/questions/{question_id}/notes")]
pub async fn add_note(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<QuestionPath>,
    body: Body<TextInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let QuestionPath {
        client_id,
        question_id,
    } = path.into_inner();
    let body = text("body", &body.0.body)?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.note_on_question(caller, client_id, question_id, body),
            move |n| {
                let location = format!("/api/v1/clients/{client_id}/questions/{question_id}");
                created(location, &QuestionNoteView::from(n.clone()))
            },
        )
        .await
}

/// A question waiting for an answer, in the care team's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct WaitingQuestionView {
    pub client_name: String,
    /// Minutes since it was asked.
    pub waited_minutes: i64,
    pub question: QuestionView,
}

/// Questions waiting for an answer across the caller's caseload (an admin: the
/// clinic), oldest first, with how long each has waited (therapists, admins,
/// integrations with clinical:read).
#[utoipa::path(
    tag = "home",
    responses((status = 200, body = Vec<WaitingQuestionView>)),
    security(("bearer" = []))
)]
#[get("/questions/unanswered")]
pub async fn unanswered(Bearer(caller): Bearer, state: State) -> ApiResult<HttpResponse> {
    let list = state
        .run(move |clinic| clinic.unanswered_questions(&caller))
        .await?;
    let views: Vec<WaitingQuestionView> = list
        .into_iter()
        .map(|w: WaitingQuestion| WaitingQuestionView {
            client_name: w.client_name,
            waited_minutes: w.waited_minutes,
            question: question_view(w.question, true),
        })
        .collect();
    Ok(HttpResponse::Ok().json(views))
}
