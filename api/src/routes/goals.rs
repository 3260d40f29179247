//! Episodes of care and goals set together: proposal, agreement, revision, status,
//! and the comment thread (with team-only notes). Each handler parses the request
//! into domain input and calls one operation of the clinic (`persistence::ops::goals`).

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    goal::{
        comment_body, Diagnosis, Episode, EpisodeDraft, EpisodeStatus, Goal, GoalComment,
        GoalContent, GoalDraft, GoalInput, GoalRevision, GoalStatus,
    },
    identity::Role,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{clients::ClientPath, created, read_tagged, tagged};
use crate::{
    auth::Bearer,
    error::{ApiResult, Problem},
    extract::{
        merge::{self, Field},
        Body, IfMatch, IfNoneMatch, MergePatch,
    },
    idempotent::{IdempotencyKey, Reply},
    state::State,
};

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

// --- Episodes ---------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct DiagnosisView {
    /// Code system, e.g. `http://hl7.org/fhir/sid/icd-10`.
    #[schema(schema_with = crate::wire::not_blank_500)]
    pub system: String,
    #[schema(schema_with = crate::wire::not_blank_500)]
    pub code: String,
    #[schema(schema_with = crate::wire::not_blank_500)]
    pub text: String,
}

impl From<Diagnosis> for DiagnosisView {
    fn from(d: Diagnosis) -> Self {
        DiagnosisView {
            system: d.system,
            code: d.code,
            text: d.text,
        }
    }
}

impl From<DiagnosisView> for Diagnosis {
    fn from(d: DiagnosisView) -> Self {
        Diagnosis {
            system: d.system,
            code: d.code,
            text: d.text,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EpisodeView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub reason_for_referral: String,
    pub diagnoses: Vec<DiagnosisView>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    #[schema(schema_with = crate::wire::episode_status)]
    pub status: EpisodeStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Episode> for EpisodeView {
    fn from(e: Episode) -> Self {
        EpisodeView {
            id: e.id,
            client_id: e.client_id,
            reason_for_referral: e.reason_for_referral,
            diagnoses: e.diagnoses.into_iter().map(DiagnosisView::from).collect(),
            start_date: e.start_date,
            end_date: e.end_date,
            status: e.status,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

fn episodes(list: Vec<Episode>) -> HttpResponse {
    HttpResponse::Ok().json(list.into_iter().map(EpisodeView::from).collect::<Vec<_>>())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEpisodeInput {
    #[validate(
        length(min = 1, max = 2000),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(schema_with = crate::wire::not_blank_2000)]
    pub reason_for_referral: String,
    #[serde(default)]
    #[validate(length(max = 20))]
    #[schema(max_items = 20)]
    pub diagnoses: Vec<DiagnosisView>,
    /// Defaults to today.
    pub start_date: Option<NaiveDate>,
    /// `planned` or `active` (default).
    #[schema(schema_with = crate::wire::new_episode_status_or_null)]
    pub status: Option<String>,
}

impl NewEpisodeInput {
    fn parse(self) -> Result<EpisodeDraft, domain::Invalid> {
        EpisodeDraft::parse(
            &self.reason_for_referral,
            self.diagnoses.into_iter().map(Diagnosis::from).collect(),
            self.start_date,
            self.status.as_deref(),
            today(),
        )
    }
}

/// Open an episode of care (the care team).
#[utoipa::path(
    tag = "goals",
    params(ClientPath),
    request_body = NewEpisodeInput,
    responses((status = 201, body = EpisodeView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/episodes")]
pub async fn create_episode(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ClientPath>,
    body: Body<NewEpisodeInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let draft = body.0.parse()?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.open_episode(caller, client_id, draft),
            move |episode| {
                created(
                    format!("/api/v1/clients/{client_id}/episodes/{}", episode.id),
                    &EpisodeView::from(episode.clone()),
                )
            },
        )
        .await
}

/// A client's episodes of care.
#[utoipa::path(
    tag = "goals",
    params(ClientPath),
    responses((status = 200, body = Vec<EpisodeView>)),
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
        .run(move |clinic| clinic.episodes(&caller, client_id))
        .await?;
    Ok(episodes(list))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EpisodePath {
    pub client_id: Uuid,
    pub episode_id: Uuid,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EpisodeUpdate {
    #[schema(schema_with = crate::wire::episode_status)]
    pub status: String,
    pub end_date: Option<NaiveDate>,
}

/// One episode of care.
#[utoipa::path(
    tag = "goals",
    params(EpisodePath),
    responses((status = 200, body = EpisodeView)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/episodes/{episode_id}")]
pub async fn get_episode(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    held: IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let episode = state
        .run(move |clinic| clinic.episode(&caller, client_id, episode_id))
        .await?;
    read_tagged(&held, episode.version, &EpisodeView::from(episode))
}

/// Change an episode's status or end date (the care team).
#[utoipa::path(
    tag = "goals",
    params(EpisodePath),
    request_body = EpisodeUpdate,
    responses((status = 200, body = EpisodeView)),
    security(("bearer" = []))
)]
#[patch("/clients/{client_id}/episodes/{episode_id}")]
pub async fn update_episode(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    IfMatch(expected): IfMatch,
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
        .run(move |clinic| {
            clinic.update_episode(&caller, client_id, episode_id, expected, status, end_date)
        })
        .await?;
    Ok(tagged(episode.version, &EpisodeView::from(episode)))
}

// --- Goals ------------------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct GasScaleView {
    #[schema(schema_with = crate::wire::gas_levels)]
    pub levels: Vec<String>,
    /// The expected baseline level: -2, -1 (usual) or 0.
    #[serde(default, deserialize_with = "crate::extract::integer::option")]
    #[schema(minimum = -2, maximum = 0)]
    pub baseline: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalContentView {
    /// The goal in the client's own words.
    pub client_words: String,
    /// The care team's measurable statement; `null` while it is still to be written
    /// (a goal the client proposed in their own words).
    pub statement: Option<String>,
    /// Whether the measurable statement is still to be written: the care team adds
    /// it (a revision) before it agrees to the goal.
    pub awaits_statement: bool,
    #[schema(schema_with = crate::wire::occupation_area)]
    pub occupation_area: String,
    /// Importance to the client, 1-10.
    pub importance: i32,
    pub start_date: NaiveDate,
    pub target_date: Option<NaiveDate>,
    pub measure_code: Option<String>,
    pub target_value: Option<f64>,
    pub gas: Option<GasScaleView>,
}

impl From<GoalContent> for GoalContentView {
    fn from(c: GoalContent) -> Self {
        let awaits_statement = c.awaits_statement();
        GoalContentView {
            client_words: c.client_words,
            awaits_statement,
            statement: Some(c.statement).filter(|s| !s.is_empty()),
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
    #[schema(schema_with = crate::wire::term)]
    pub term: String,
    pub parent_id: Option<Uuid>,
    #[schema(schema_with = crate::wire::goal_status)]
    pub status: String,
    /// FHIR Goal.lifecycleStatus.
    pub lifecycle_status: &'static str,
    /// Who first put the goal forward (FHIR expressedBy: Patient or Practitioner).
    #[schema(schema_with = crate::wire::side)]
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

/// A goal's answer to a POST that changes it (agreement, status), with its new ETag.
fn goal_reply(g: &Goal) -> Reply {
    Reply::json(actix_web::http::StatusCode::OK, &GoalView::from(g.clone())).tagged(g.version)
}

/// 201 with the goal as revised, the revision's URL and the goal's new ETag.
fn revision_created(client_id: Uuid, goal: &Goal) -> Reply {
    let (goal_id, revision) = (goal.id, goal.revision);
    created(
        format!("/api/v1/clients/{client_id}/goals/{goal_id}/revisions/{revision}"),
        &GoalView::from(goal.clone()),
    )
    .tagged(goal.version)
}

/// A goal's content, as proposed or revised.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalContentInput {
    /// The goal in the client's own words ("cook dinner for my kids again").
    #[schema(schema_with = crate::wire::text_1000)]
    pub client_words: String,
    /// The measurable statement the care team writes. The client's side may leave it
    /// out (or blank) and propose in their own words; the team must write it when it
    /// proposes or revises, and before it agrees.
    #[serde(default)]
    #[schema(schema_with = crate::wire::text_2000_blank_or_null)]
    pub statement: Option<String>,
    #[schema(schema_with = crate::wire::occupation_area)]
    pub occupation_area: String,
    /// Importance to the client, 1-10.
    #[serde(deserialize_with = "crate::extract::integer::deserialize")]
    #[schema(minimum = 1, maximum = 10)]
    pub importance: i64,
    /// Defaults to today.
    pub start_date: Option<NaiveDate>,
    /// On or after `start_date` (today when it is left out).
    pub target_date: Option<NaiveDate>,
    #[schema(schema_with = crate::wire::measure_code_or_null)]
    pub measure_code: Option<String>,
    /// The value on that measure to reach; needs `measure_code`, within its range.
    pub target_value: Option<f64>,
    pub gas: Option<GasScaleView>,
}

impl GoalContentInput {
    /// The content as the domain reads it.
    fn input(&self) -> GoalInput<'_> {
        GoalInput {
            client_words: &self.client_words,
            statement: self.statement.as_deref(),
            occupation_area: &self.occupation_area,
            importance: self.importance,
            start_date: self.start_date,
            target_date: self.target_date,
            measure_code: self.measure_code.as_deref(),
            target_value: self.target_value,
            gas_levels: self
                .gas
                .as_ref()
                .map(|g| g.levels.iter().map(String::as_str).collect()),
            gas_baseline: self.gas.as_ref().and_then(|g| g.baseline),
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewGoalInput {
    /// `long-term` (default) or `short-term` (needs `parent_id`).
    #[schema(schema_with = crate::wire::term_or_null)]
    pub term: Option<String>,
    pub parent_id: Option<Uuid>,
    #[validate(nested)]
    pub content: GoalContentInput,
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
    responses((status = 201, body = GoalView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/episodes/{episode_id}/goals")]
pub async fn propose_goal(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<EpisodePath>,
    body: Body<NewGoalInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let input = body.0;
    let draft = GoalDraft::parse(
        input.term.as_deref(),
        input.parent_id,
        &input.content.input(),
        today(),
    )?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.propose_goal(caller, client_id, episode_id, draft),
            move |goal| {
                created(
                    format!("/api/v1/clients/{client_id}/goals/{}", goal.id),
                    &GoalView::from(goal.clone()),
                )
            },
        )
        .await
}

/// An episode's goals.
#[utoipa::path(
    tag = "goals",
    params(EpisodePath),
    responses((status = 200, body = Vec<GoalView>)),
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
        .run(move |clinic| clinic.episode_goals(&caller, client_id, episode_id))
        .await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(GoalView::from).collect::<Vec<_>>()))
}

/// One goal.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    responses((status = 200, body = GoalView)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/goals/{goal_id}")]
pub async fn get_goal(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    held: IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let found = state
        .run(move |clinic| clinic.goal(&caller, client_id, goal_id))
        .await?;
    read_tagged(&held, found.version, &GoalView::from(found))
}

/// Revise a goal's wording or target: a new revision that needs agreement again.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    request_body = GoalContentInput,
    responses((status = 201, body = GoalView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/goals/{goal_id}/revisions")]
pub async fn revise_goal(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<GoalPath>,
    IfMatch(expected): IfMatch,
    body: Body<GoalContentInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let content = GoalContent::parse(&body.0.input(), today())?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.revise_goal(caller, client_id, goal_id, expected, content),
            move |goal| revision_created(client_id, goal),
        )
        .await
}

impl GoalContentInput {
    /// A goal's current content, as a revision would send it again.
    fn of(c: &GoalContent) -> GoalContentInput {
        let view = GoalContentView::from(c.clone());
        GoalContentInput {
            client_words: view.client_words,
            statement: view.statement,
            occupation_area: view.occupation_area,
            importance: i64::from(view.importance),
            start_date: Some(view.start_date),
            target_date: view.target_date,
            measure_code: view.measure_code,
            target_value: view.target_value,
            gas: view.gas,
        }
    }
}

/// A JSON Merge Patch (RFC 7396) over a goal's content: members left out are kept,
/// `null` removes an optional one (`start_date` then defaults to today).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalContentPatch {
    /// Required: may be changed, not removed.
    #[serde(default)]
    #[schema(schema_with = crate::wire::text_1000)]
    pub client_words: Field<String>,
    #[serde(default)]
    #[schema(schema_with = crate::wire::text_2000_blank_or_null)]
    pub statement: Field<String>,
    /// Required: may be changed, not removed.
    #[serde(default)]
    #[schema(schema_with = crate::wire::occupation_area)]
    pub occupation_area: Field<String>,
    /// Required: may be changed, not removed. 1-10.
    #[serde(default, deserialize_with = "whole_number")]
    #[schema(value_type = Option<i64>, minimum = 1, maximum = 10)]
    pub importance: Field<i64>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub start_date: Field<NaiveDate>,
    #[serde(default)]
    #[schema(value_type = Option<NaiveDate>)]
    pub target_date: Field<NaiveDate>,
    #[serde(default)]
    #[schema(schema_with = crate::wire::measure_code_or_null)]
    pub measure_code: Field<String>,
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub target_value: Field<f64>,
    /// Replaced whole; `null` removes the scale.
    #[serde(default)]
    #[schema(value_type = Option<GasScaleView>)]
    pub gas: Field<GasScaleView>,
}

/// `importance` read as the revision reads it (a whole number, `3.0` included).
fn whole_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Field<i64>, D::Error> {
    Ok(match crate::extract::integer::option(d)? {
        None => Field::Remove,
        Some(v) => Field::Set(v),
    })
}

impl GoalContentPatch {
    fn keeps_required(&self) -> Result<(), domain::Invalid> {
        merge::keeps_required(&[
            ("client_words", self.client_words.is_remove()),
            ("occupation_area", self.occupation_area.is_remove()),
            ("importance", self.importance.is_remove()),
        ])
    }

    /// The revision this patch makes of the goal's current content (RFC 7396 §2).
    fn onto(self, c: &GoalContent) -> Result<GoalContentInput, domain::Invalid> {
        let now = GoalContentInput::of(c);
        Ok(GoalContentInput {
            client_words: self
                .client_words
                .required("client_words", now.client_words)?,
            statement: self.statement.onto(now.statement),
            occupation_area: self
                .occupation_area
                .required("occupation_area", now.occupation_area)?,
            importance: self.importance.required("importance", now.importance)?,
            start_date: self.start_date.onto(now.start_date),
            target_date: self.target_date.onto(now.target_date),
            measure_code: self.measure_code.onto(now.measure_code),
            target_value: self.target_value.onto(now.target_value),
            gas: self.gas.onto(now.gas),
        })
    }
}

/// Change some of a goal's content (JSON Merge Patch, RFC 7396): merged onto the
/// current content, a new revision by the same rules and for the same callers as
/// `POST .../revisions`. Needs If-Match.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    request_body(content = GoalContentPatch, content_type = "application/merge-patch+json"),
    responses(
        (status = 200, body = GoalView),
        (status = 422, description = "The merged content breaks a rule, or the patch removes a required member; `errors` names each", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/clients/{client_id}/goals/{goal_id}")]
pub async fn patch_goal(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    IfMatch(expected): IfMatch,
    MergePatch(patch): MergePatch<GoalContentPatch>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    patch.keeps_required()?;
    let goal = state
        .run(move |clinic| {
            clinic.revise_goal_with(&caller, client_id, goal_id, expected, move |now| {
                GoalContent::parse(&patch.onto(&now.content)?.input(), today())
            })
        })
        .await?;
    Ok(tagged(goal.version, &GoalView::from(goal)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AgreementRecordView {
    #[schema(schema_with = crate::wire::side)]
    pub side: String,
    pub user_id: Uuid,
    #[schema(schema_with = crate::wire::role)]
    pub role: Role,
    pub agreed_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalRevisionView {
    pub revision: i32,
    #[serde(flatten)]
    pub content: GoalContentView,
    pub proposed_by: Uuid,
    #[schema(schema_with = crate::wire::side)]
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
    responses((status = 200, body = Vec<GoalRevisionView>)),
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
        .run(move |clinic| clinic.goal_revisions(&caller, client_id, goal_id))
        .await?;
    let views: Vec<_> = list.into_iter().map(GoalRevisionView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Agree to a goal's current revision, for your side (client side: the client or a
/// contributing caregiver; team side: a therapist on the care team).
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    responses(
        (status = 200, body = GoalView),
        (status = 422, description = "The goal is not awaiting agreement", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/goals/{goal_id}/agreement")]
pub async fn agree_to_goal(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<GoalPath>,
    IfMatch(expected): IfMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.agree_to_goal(caller, client_id, goal_id, expected),
            goal_reply,
        )
        .await
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GoalStatusInput {
    /// `on-hold`, `active` (from on-hold), `achieved`, `not-achieved` or `cancelled`.
    #[schema(schema_with = crate::wire::goal_status)]
    pub status: String,
}

/// Move a goal along its lifecycle (the care team).
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    request_body = GoalStatusInput,
    responses((status = 200, body = GoalView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/goals/{goal_id}/status")]
pub async fn set_goal_status(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<GoalPath>,
    IfMatch(expected): IfMatch,
    body: Body<GoalStatusInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let next = GoalStatus::parse("status", &body.0.status)?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| {
                clinic.set_goal_status(caller, client_id, goal_id, expected, next)
            },
            goal_reply,
        )
        .await
}

// --- Comments ---------------------------------------------------------------------

#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: Uuid,
    pub author_id: Uuid,
    pub author_name: String,
    #[schema(schema_with = crate::wire::role)]
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
    #[schema(schema_with = crate::wire::not_blank_5000)]
    pub body: String,
    /// A team-only note (therapists only).
    #[serde(default)]
    pub team_only: bool,
}

/// The comment thread of a goal. Clients and caregivers never see team-only notes.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    responses((status = 200, body = Vec<CommentView>)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/goals/{goal_id}/comments")]
pub async fn comments(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let list = state
        .run(move |clinic| clinic.goal_comments(&caller, client_id, goal_id))
        .await?;
    Ok(HttpResponse::Ok().json(list.into_iter().map(CommentView::from).collect::<Vec<_>>()))
}

/// Comment on a goal (client, contributing caregiver, care team); therapists may
/// write team-only notes.
#[utoipa::path(
    tag = "goals",
    params(GoalPath),
    request_body = NewCommentInput,
    responses((status = 201, body = CommentView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/goals/{goal_id}/comments")]
pub async fn add_comment(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<GoalPath>,
    body: Body<NewCommentInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let text = comment_body(&body.0.body)?;
    let team_only = body.0.team_only;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| {
                clinic.comment_on_goal(caller, client_id, goal_id, text, team_only)
            },
            move |comment| {
                created(
                    format!("/api/v1/clients/{client_id}/goals/{goal_id}/comments"),
                    &CommentView::from(comment.clone()),
                )
            },
        )
        .await
}
