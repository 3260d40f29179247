//! Episodes of care and goals set together: proposal, agreement, revision, status,
//! and the comment thread (with team-only notes).

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    goal::{
        Diagnosis, Episode, EpisodeStatus, Goal, GoalComment, GoalContent, GoalInput, GoalRevision,
        GoalStatus, Side, Term,
    },
    identity::Role,
    policy::{goal_side, sees_team_notes, ClientAction},
};
use persistence::Caller;
use persistence::{
    goals::{self, Actor, NewComment, NewEpisode, NewGoal},
    now,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{clients::ClientPath, created, subject};
use crate::{
    auth::Bearer,
    error::{ApiResult, Problem},
    extract::Body,
    state::State,
};

/// The side the caller speaks for. Admins and integrations speak for neither: they
/// are sent to the gate with `Participate`, which the policy refuses them, so the
/// refusal is audited and a record outside their reach still answers 404.
fn side_of(caller: &Caller) -> (Side, ClientAction) {
    goal_side(&caller.who).unwrap_or((Side::Team, ClientAction::Participate))
}

fn actor(caller: &Caller) -> Actor {
    Actor {
        user_id: caller.who.user_id,
        role: caller.who.role,
    }
}

// --- Episodes ---------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct DiagnosisView {
    /// Code system, e.g. `http://hl7.org/fhir/sid/icd-10`.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub system: String,
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub code: String,
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub text: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EpisodeView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub reason_for_referral: String,
    pub diagnoses: Vec<DiagnosisView>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    #[schema(schema_with = episode_status_schema)]
    pub status: EpisodeStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

fn episode_status_schema() -> utoipa::openapi::Object {
    super::one_of(EpisodeStatus::ALL.iter().map(|s| s.as_str()))
}

impl From<Episode> for EpisodeView {
    fn from(e: Episode) -> Self {
        EpisodeView {
            id: e.id,
            client_id: e.client_id,
            reason_for_referral: e.reason_for_referral,
            diagnoses: e
                .diagnoses
                .into_iter()
                .map(|d| DiagnosisView {
                    system: d.system,
                    code: d.code,
                    text: d.text,
                })
                .collect(),
            start_date: e.start_date,
            end_date: e.end_date,
            status: e.status,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEpisodeInput {
    #[validate(
        length(min = 1, max = 2000),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub reason_for_referral: String,
    #[serde(default)]
    #[validate(length(max = 20))]
    #[schema(max_items = 20)]
    pub diagnoses: Vec<DiagnosisView>,
    /// Defaults to today.
    pub start_date: Option<NaiveDate>,
    /// `planned` or `active` (default).
    #[schema(schema_with = new_episode_status_schema)]
    pub status: Option<String>,
}

fn new_episode_status_schema() -> utoipa::openapi::Object {
    super::one_of_or_null(
        [EpisodeStatus::Planned, EpisodeStatus::Active]
            .iter()
            .map(|s| s.as_str()),
    )
}

/// Open an episode of care (the care team).
#[utoipa::path(
    tag = "goals",
    params(ClientPath),
    request_body = NewEpisodeInput,
    responses(
        (status = 201, body = EpisodeView),
        (status = 403, description = "Only the care team documents episodes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client, or not yours to see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/episodes")]
pub async fn create_episode(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    body: Body<NewEpisodeInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let input = body.0;
    let (diagnoses, status) = domain::goal::new_episode(
        input
            .diagnoses
            .into_iter()
            .map(|d| Diagnosis {
                system: d.system,
                code: d.code,
                text: d.text,
            })
            .collect(),
        input.status.as_deref(),
    )?;
    let episode = NewEpisode {
        id: domain::new_id(),
        reason_for_referral: input.reason_for_referral.trim().to_owned(),
        diagnoses,
        start_date: input.start_date.unwrap_or_else(|| Utc::now().date_naive()),
        status,
    };
    let episode_id = episode.id;
    let (org, user) = (caller.who.organization_id, caller.who.user_id);
    let created_episode = state
        .on_client(
            caller,
            client_id,
            ClientAction::Document,
            subject("episode.create", "episode", episode_id),
            move |c| goals::create_episode(c, org, client_id, episode, user, now()),
        )
        .await?;
    Ok(created(
        format!("/api/v1/clients/{client_id}/episodes/{episode_id}"),
        &EpisodeView::from(created_episode),
    ))
}

/// A client's episodes of care.
#[utoipa::path(
    tag = "goals",
    params(ClientPath),
    responses(
        (status = 200, body = Vec<EpisodeView>),
        (status = 403, description = "Visible, but not the caller's to read (an integration outside clinical:read gets 404)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client, or not yours to see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/episodes")]
pub async fn list_episodes(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let list = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("episode.list", "episode", client_id),
            move |c| goals::episodes_of(c, client_id),
        )
        .await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(EpisodeView::from).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EpisodePath {
    pub client_id: Uuid,
    pub episode_id: Uuid,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EpisodeUpdate {
    #[schema(schema_with = episode_status_schema)]
    pub status: String,
    pub end_date: Option<NaiveDate>,
}

/// Change an episode's status or end date (the care team).
#[utoipa::path(
    tag = "goals",
    params(EpisodePath),
    request_body = EpisodeUpdate,
    responses(
        (status = 200, body = EpisodeView),
        (status = 403, description = "Only the care team documents episodes", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or episode", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/clients/{client_id}/episodes/{episode_id}")]
pub async fn update_episode(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    body: Body<EpisodeUpdate>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let status = EpisodeStatus::parse("status", &body.0.status)?;
    let end_date = body.0.end_date;
    let episode = state
        .on_client(
            caller,
            client_id,
            ClientAction::Document,
            subject("episode.update", "episode", episode_id),
            move |c| goals::update_episode(c, client_id, episode_id, status, end_date, now()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(EpisodeView::from(episode)))
}

// --- Goals ------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct GasScaleView {
    /// Descriptions of levels -2, -1, 0, +1, +2, in that order.
    #[schema(min_items = 5, max_items = 5, inline, value_type = Vec<GasLevel>)]
    pub levels: Vec<String>,
    /// The expected baseline level: -2, -1 (usual) or 0.
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = -2, maximum = 0)]
    pub baseline: Option<i64>,
}

/// One GAS level's description: 1 to 500 characters, trimmed.
#[derive(ToSchema)]
#[schema(
    pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:(?s:.){0,498}[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
)]
#[allow(dead_code)]
struct GasLevel(String);

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalContentView {
    /// The goal in the client's own words.
    pub client_words: String,
    /// The therapist's measurable statement.
    pub statement: String,
    #[schema(schema_with = occupation_area_schema)]
    pub occupation_area: String,
    /// Importance to the client, 1-10.
    pub importance: i32,
    pub start_date: NaiveDate,
    pub target_date: Option<NaiveDate>,
    pub measure_code: Option<String>,
    pub target_value: Option<f64>,
    pub gas: Option<GasScaleView>,
}

fn occupation_area_schema() -> utoipa::openapi::Object {
    super::one_of(domain::goal::OccupationArea::ALL.iter().map(|s| s.as_str()))
}
fn goal_status_schema() -> utoipa::openapi::Object {
    super::one_of(GoalStatus::ALL.iter().map(|s| s.as_str()))
}
fn side_schema() -> utoipa::openapi::Object {
    super::one_of(Side::ALL.iter().map(|s| s.as_str()))
}
fn term_schema() -> utoipa::openapi::Object {
    super::one_of(Term::ALL.iter().map(|s| s.as_str()))
}
fn term_or_null_schema() -> utoipa::openapi::Object {
    super::one_of_or_null(Term::ALL.iter().map(|s| s.as_str()))
}

impl From<GoalContent> for GoalContentView {
    fn from(c: GoalContent) -> Self {
        GoalContentView {
            client_words: c.client_words,
            statement: c.statement,
            occupation_area: c.occupation_area.as_str().to_owned(),
            importance: c.importance,
            start_date: c.start_date,
            target_date: c.target_date,
            measure_code: c.measure_code,
            target_value: c.target_value,
            gas: c.gas.map(|g| GasScaleView {
                levels: g.levels.to_vec(),
                baseline: Some(i64::from(g.baseline)),
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementView {
    pub client: bool,
    pub team: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub episode_id: Uuid,
    /// Stable within the episode: 1, 2... for long-term goals, 2.1, 2.2... under them.
    pub label: String,
    #[schema(schema_with = term_schema)]
    pub term: String,
    pub parent_id: Option<Uuid>,
    #[schema(schema_with = goal_status_schema)]
    pub status: String,
    /// FHIR Goal.lifecycleStatus.
    pub lifecycle_status: &'static str,
    /// Who first put the goal forward (FHIR expressedBy: Patient or Practitioner).
    #[schema(schema_with = side_schema)]
    pub expressed_by: String,
    pub revision: i32,
    /// Who has agreed to the current revision.
    pub agreement: AgreementView,
    #[serde(flatten)]
    pub content: GoalContentView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Goal> for GoalView {
    fn from(g: Goal) -> Self {
        GoalView {
            id: g.id,
            client_id: g.client_id,
            episode_id: g.episode_id,
            label: g.label,
            term: g.term.as_str().to_owned(),
            parent_id: g.parent_id,
            status: g.status.as_str().to_owned(),
            lifecycle_status: g.status.fhir_lifecycle(),
            expressed_by: g.expressed_by.as_str().to_owned(),
            revision: g.revision,
            agreement: AgreementView {
                client: g.agreement.client,
                team: g.agreement.team,
            },
            content: g.content.into(),
            created_at: g.created_at,
            updated_at: g.updated_at,
        }
    }
}

/// A goal's content, as proposed or revised.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalContentInput {
    /// The goal in the client's own words ("cook dinner for my kids again").
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:(?s:.){0,998}[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub client_words: String,
    /// The measurable statement the therapist writes.
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000](?:(?s:.){0,1998}[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000])?[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub statement: String,
    #[schema(schema_with = occupation_area_schema)]
    pub occupation_area: String,
    /// Importance to the client, 1-10.
    #[serde(deserialize_with = "crate::extract::integer::deserialize")]
    #[schema(minimum = 1, maximum = 10)]
    pub importance: i64,
    /// Defaults to today.
    pub start_date: Option<NaiveDate>,
    pub target_date: Option<NaiveDate>,
    /// A measure from `/api/v1/measures` to target.
    pub measure_code: Option<String>,
    pub target_value: Option<f64>,
    pub gas: Option<GasScaleView>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGoalInput {
    /// `long-term` (default) or `short-term` (needs `parent_id`).
    #[schema(schema_with = term_or_null_schema)]
    pub term: Option<String>,
    pub parent_id: Option<Uuid>,
    #[validate(nested)]
    pub content: GoalContentInput,
}

/// Parses goal content and checks its measure and target against the measure's scale.
/// `at` is where the content sits in the request body (`content.` for a new goal,
/// empty for a revision), so errors name the field as the caller wrote it.
fn parse_content(
    conn: &mut persistence::Conn,
    org: Uuid,
    input: &GoalContentInput,
    at: &str,
) -> Result<GoalContent, persistence::StoreError> {
    let gas_levels = input
        .gas
        .as_ref()
        .map(|g| g.levels.iter().map(String::as_str).collect());
    let parsed = GoalContent::parse(
        &GoalInput {
            client_words: &input.client_words,
            statement: &input.statement,
            occupation_area: &input.occupation_area,
            importance: input.importance,
            start_date: input.start_date,
            target_date: input.target_date,
            measure_code: input.measure_code.as_deref(),
            target_value: input.target_value,
            gas_levels,
            gas_baseline: input.gas.as_ref().and_then(|g| g.baseline),
        },
        Utc::now().date_naive(),
    )
    .map_err(|e| prefix(e, at))?;
    let measure = match &parsed.measure_code {
        Some(code) => persistence::measurements::measure(conn, org, code)?,
        None => None,
    };
    parsed
        .fits_measure(measure.as_ref())
        .map_err(|e| prefix(e, at))?;
    Ok(parsed)
}

fn prefix(mut e: domain::Invalid, at: &str) -> domain::Invalid {
    for f in &mut e.0 {
        f.field = format!("{at}{}", f.field);
    }
    e
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct GoalPath {
    pub client_id: Uuid,
    pub goal_id: Uuid,
}

/// Propose a goal (a therapist on the team, the client, or a caregiver allowed to
/// take part). It is active once both sides agree.
#[utoipa::path(
    tag = "goals",
    params(EpisodePath),
    request_body = NewGoalInput,
    responses(
        (status = 201, body = GoalView),
        (status = 403, description = "Visible, but not yours to propose goals for", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client, or not yours to see", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/episodes/{episode_id}/goals")]
pub async fn propose_goal(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    body: Body<NewGoalInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let input = body.0;
    let term = Term::parse("term", input.term.as_deref().unwrap_or("long-term"))?;
    let (side, action) = side_of(&caller);
    let goal_id = domain::new_id();
    let org = caller.who.organization_id;
    let who = actor(&caller);
    let goal = state
        .on_client(
            caller,
            client_id,
            action,
            subject("goal.propose", "goal", goal_id),
            move |c| {
                let content = parse_content(c, org, &input.content, "content.")?;
                let new = NewGoal {
                    id: goal_id,
                    episode_id,
                    parent_id: input.parent_id,
                    term,
                    side,
                    content,
                };
                goals::propose(c, org, client_id, new, who, now())
            },
        )
        .await?;
    Ok(created(
        format!("/api/v1/clients/{client_id}/goals/{goal_id}"),
        &GoalView::from(goal),
    ))
}

/// An episode's goals.
#[utoipa::path(
    tag = "goals",
    params(EpisodePath),
    responses(
        (status = 200, body = Vec<GoalView>),
        (status = 404, description = "No such client or episode", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/episodes/{episode_id}/goals")]
pub async fn list_goals(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let list = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("goal.list", "episode", episode_id),
            move |c| {
                goals::episode(c, client_id, episode_id)?;
                goals::goals_of_episode(c, episode_id)
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(GoalView::from).collect::<Vec<_>>()))
}

/// One goal.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    responses(
        (status = 200, body = GoalView),
        (status = 404, description = "No such client or goal", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/goals/{goal_id}")]
pub async fn get_goal(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let goal = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("goal.read", "goal", goal_id),
            move |c| goals::goal(c, client_id, goal_id),
        )
        .await?;
    Ok(HttpResponse::Ok().json(GoalView::from(goal)))
}

/// Revise a goal's wording or target: a new revision that needs agreement again.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    request_body = GoalContentInput,
    responses(
        (status = 201, body = GoalView),
        (status = 403, description = "Visible, but not yours to revise", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or goal", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule, the goal is closed, or nothing changed", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/goals/{goal_id}/revisions")]
pub async fn revise_goal(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    body: Body<GoalContentInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let input = body.0;
    let (side, action) = side_of(&caller);
    let org = caller.who.organization_id;
    let who = actor(&caller);
    let goal = state
        .on_client(
            caller,
            client_id,
            action,
            subject("goal.revise", "goal", goal_id),
            move |c| {
                let content = parse_content(c, org, &input, "")?;
                goals::revise(c, client_id, goal_id, content, side, who, now())
            },
        )
        .await?;
    let revision = goal.revision;
    Ok(created(
        format!("/api/v1/clients/{client_id}/goals/{goal_id}/revisions/{revision}"),
        &GoalView::from(goal),
    ))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementRecordView {
    #[schema(schema_with = side_schema)]
    pub side: String,
    pub user_id: Uuid,
    #[schema(schema_with = super::role_schema)]
    pub role: Role,
    pub agreed_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalRevisionView {
    pub revision: i32,
    #[serde(flatten)]
    pub content: GoalContentView,
    pub proposed_by: Uuid,
    #[schema(schema_with = side_schema)]
    pub proposed_side: String,
    pub created_at: DateTime<Utc>,
    pub agreements: Vec<AgreementRecordView>,
}

impl From<GoalRevision> for GoalRevisionView {
    fn from(r: GoalRevision) -> Self {
        GoalRevisionView {
            revision: r.revision,
            content: r.content.into(),
            proposed_by: r.proposed_by,
            proposed_side: r.proposed_side.as_str().to_owned(),
            created_at: r.created_at,
            agreements: r
                .agreements
                .into_iter()
                .map(|a| AgreementRecordView {
                    side: a.side.as_str().to_owned(),
                    user_id: a.user_id,
                    role: a.role,
                    agreed_at: a.agreed_at,
                })
                .collect(),
        }
    }
}

/// Every revision of a goal, with who agreed to each and when.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    responses(
        (status = 200, body = Vec<GoalRevisionView>),
        (status = 404, description = "No such client or goal", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/goals/{goal_id}/revisions")]
pub async fn goal_revisions(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let list = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("goal.revisions", "goal", goal_id),
            move |c| {
                goals::goal(c, client_id, goal_id)?;
                goals::revisions(c, goal_id)
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(
        list.into_iter()
            .map(GoalRevisionView::from)
            .collect::<Vec<_>>(),
    ))
}

/// Agree to a goal's current revision, for your side (client side: the client or a
/// contributing caregiver; team side: a therapist on the care team).
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    responses(
        (status = 200, body = GoalView),
        (status = 403, description = "Visible, but you cannot agree for either side", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or goal", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The goal is not awaiting agreement", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/goals/{goal_id}/agreement")]
pub async fn agree_to_goal(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let (side, action) = side_of(&caller);
    let who = actor(&caller);
    let goal = state
        .on_client(
            caller,
            client_id,
            action,
            subject("goal.agree", "goal", goal_id),
            move |c| goals::agree(c, client_id, goal_id, side, who, now()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(GoalView::from(goal)))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalStatusInput {
    /// `on-hold`, `active` (from on-hold), `achieved`, `not-achieved` or `cancelled`.
    #[schema(schema_with = goal_status_schema)]
    pub status: String,
}

/// Move a goal along its lifecycle (the care team).
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    request_body = GoalStatusInput,
    responses(
        (status = 200, body = GoalView),
        (status = 403, description = "Only the care team changes a goal's status", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or goal", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a valid change from the goal's status", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/goals/{goal_id}/status")]
pub async fn set_goal_status(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    body: Body<GoalStatusInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let next = GoalStatus::parse("status", &body.0.status)?;
    let who = actor(&caller);
    let goal = state
        .on_client(
            caller,
            client_id,
            ClientAction::Document,
            subject("goal.status", "goal", goal_id),
            move |c| goals::set_status(c, client_id, goal_id, next, who, now()),
        )
        .await?;
    Ok(HttpResponse::Ok().json(GoalView::from(goal)))
}

// --- Comments ---------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: Uuid,
    pub author_id: Uuid,
    pub author_name: String,
    #[schema(schema_with = super::role_schema)]
    pub author_role: Role,
    pub body: String,
    /// A note for the care team only; never shown to the client or caregivers.
    pub team_only: bool,
    pub created_at: DateTime<Utc>,
}

impl From<GoalComment> for CommentView {
    fn from(c: GoalComment) -> Self {
        CommentView {
            id: c.id,
            author_id: c.author_id,
            author_name: c.author_name,
            author_role: c.author_role,
            body: c.body,
            team_only: c.team_only,
            created_at: c.created_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCommentInput {
    #[validate(
        length(min = 1, max = 5000),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 5000,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub body: String,
    /// A team-only note (therapists only).
    #[serde(default)]
    pub team_only: bool,
}

/// The comment thread of a goal. Clients and caregivers never see team-only notes.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    responses(
        (status = 200, body = Vec<CommentView>),
        (status = 404, description = "No such client or goal", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/goals/{goal_id}/comments")]
pub async fn comments(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let team_notes = sees_team_notes(&caller.who);
    let list = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("goal.comments", "goal", goal_id),
            move |c| {
                goals::goal(c, client_id, goal_id)?;
                goals::comments(c, goal_id, team_notes)
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(CommentView::from).collect::<Vec<_>>()))
}

/// Comment on a goal (client, contributing caregiver, care team); therapists may
/// write team-only notes.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    request_body = NewCommentInput,
    responses(
        (status = 201, body = CommentView),
        (status = 403, description = "Visible, but not yours to comment on, or a team note by someone outside the team", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or goal", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/goals/{goal_id}/comments")]
pub async fn add_comment(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    body: Body<NewCommentInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let input = body.0;
    // Team notes are clinical documentation: the policy allows them to the team only.
    let action = if input.team_only {
        ClientAction::Document
    } else {
        side_of(&caller).1
    };
    let comment_id = domain::new_id();
    let org = caller.who.organization_id;
    let who = actor(&caller);
    let new = NewComment {
        id: comment_id,
        body: input.body.trim().to_owned(),
        team_only: input.team_only,
    };
    let comment = state
        .on_client(
            caller,
            client_id,
            action,
            subject("goal.comment", "goal_comment", comment_id),
            move |c| goals::add_comment(c, org, client_id, goal_id, new, who, now()),
        )
        .await?;
    Ok(created(
        format!("/api/v1/clients/{client_id}/goals/{goal_id}/comments"),
        &CommentView::from(comment),
    ))
}
