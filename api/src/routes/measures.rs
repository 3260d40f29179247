//! Outcome measures and measurements: recorded by the team or by the client, checked
//! against the measure, corrected only by new versions.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::{
    measure::{
        correction, custom, score_report, CopmProblem, Direction, Instrument, Item,
        MeasureDefinition, Measurement, MeasurementStatus, OutcomeMeasure, Report, Source, Values,
    },
    policy::{may_correct, measurement_source, ClientAction, OrgAction},
};
use persistence::{
    measurements::{self, Correction, MeasurementFilter, NewMeasurement, Recording},
    now, StoreError,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{created, goals::EpisodePath, subject, subject_of_many, Page};
use crate::{
    auth::Bearer,
    error::{ApiResult, Problem},
    extract::{Body, Query},
    state::State,
};

fn source_schema() -> utoipa::openapi::Object {
    super::source_schema()
}
fn reporters_schema() -> utoipa::openapi::Array {
    super::array_of(Source::ALL.iter().map(|s| s.as_str()))
}
/// Imported values are always allowed, so a clinic names only people as reporters.
fn new_reporters_schema() -> utoipa::openapi::Array {
    let people = Source::ALL.iter().filter(|s| **s != Source::Imported);
    let mut schema = super::array_of(people.map(|s| s.as_str()));
    schema.min_items = Some(1);
    schema
}
fn direction_schema() -> utoipa::openapi::Object {
    super::one_of(Direction::ALL.iter().map(|s| s.as_str()))
}
fn instrument_schema() -> utoipa::openapi::Object {
    super::one_of(Instrument::ALL.iter().map(|s| s.as_str()))
}
fn measurement_status_schema() -> utoipa::openapi::Object {
    super::one_of(MeasurementStatus::ALL.iter().map(|s| s.as_str()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeasureView {
    pub code: String,
    pub name: String,
    /// How values become a score.
    #[schema(schema_with = instrument_schema)]
    pub instrument: Instrument,
    pub min: f64,
    pub max: f64,
    /// 0 for a continuous score.
    pub step: f64,
    pub unit: Option<String>,
    #[schema(schema_with = direction_schema)]
    pub direction: Direction,
    /// The smallest change that matters clinically, and where that figure comes from.
    pub meaningful_change: f64,
    pub meaningful_change_source: String,
    /// Who may report it.
    #[schema(schema_with = reporters_schema)]
    pub reporters: Vec<Source>,
    /// False for the built-in catalogue.
    pub clinic_defined: bool,
}

impl From<OutcomeMeasure> for MeasureView {
    fn from(m: OutcomeMeasure) -> Self {
        MeasureView {
            code: m.code,
            name: m.name,
            instrument: m.instrument,
            min: m.min,
            max: m.max,
            step: m.step,
            unit: m.unit,
            direction: m.direction,
            meaningful_change: m.meaningful_change,
            meaningful_change_source: m.meaningful_change_source,
            reporters: m.reporters,
            clinic_defined: m.organization_id.is_some(),
        }
    }
}

/// The outcome measures this clinic can use: the built-in catalogue and its own.
#[utoipa::path(tag = "measures", responses((status = 200, body = Vec<MeasureView>)), security(("bearer" = [])))]
#[get("/measures")]
pub async fn list_measures(Bearer(caller): Bearer, state: State) -> ApiResult<HttpResponse> {
    let all = state.run(move |clinic| clinic.measures(&caller)).await?;
    Ok(HttpResponse::Ok().json(all.into_iter().map(MeasureView::from).collect::<Vec<_>>()))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeasureInput {
    /// Lower-case letters, digits and dashes; unique in the clinic.
    #[schema(pattern = r"^[a-z0-9-]{1,64}$")]
    pub code: String,
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: String,
    pub unit: Option<String>,
    pub min: f64,
    pub max: f64,
    /// 0 for a continuous scale.
    pub step: f64,
    #[schema(schema_with = direction_schema)]
    pub direction: String,
    pub meaningful_change: f64,
    /// Who may report it: `therapist`, `client`, `caregiver`.
    #[schema(schema_with = new_reporters_schema)]
    pub reporters: Vec<String>,
}

/// Define a clinic measure (admins).
#[utoipa::path(
    tag = "measures",
    request_body = NewMeasureInput,
    responses(
        (status = 201, body = MeasureView),
        (status = 403, description = "Only admins define measures", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The code is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/measures")]
pub async fn create_measure(
    Bearer(caller): Bearer,
    body: Body<NewMeasureInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let i = body.0;
    let mut problems = domain::error::Problems::default();
    let direction = problems.check(Direction::parse("direction", &i.direction));
    let reporters: Vec<Source> = i
        .reporters
        .iter()
        .enumerate()
        .filter_map(|(n, r)| problems.check(Source::parse(&format!("reporters[{n}]"), r)))
        .collect();
    problems.finish()?;
    let org = caller.who.organization_id;
    let measure = custom(
        org,
        MeasureDefinition {
            code: &i.code,
            name: &i.name,
            unit: i.unit.as_deref(),
            min: i.min,
            max: i.max,
            step: i.step,
            direction: direction.unwrap_or(Direction::HigherIsBetter),
            meaningful_change: i.meaningful_change,
            reporters,
        },
    )?;
    let code = measure.code.clone();
    let stored = measure.clone();
    let user = caller.who.user_id;
    state
        .on_organization(
            caller,
            OrgAction::ManageMeasures,
            subject("measure.create", "measure", &code),
            move |c| measurements::create_measure(c, &stored, user, now()),
        )
        .await?;
    Ok(created(
        format!("/api/v1/measures/{}", measure.code),
        &MeasureView::from(measure),
    ))
}

// --- Measurements -----------------------------------------------------------------

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// The activity (PSFS) or item name.
    pub label: Option<String>,
    /// The rating; null for an unanswered item.
    pub value: Option<f64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema, Clone)]
#[serde(deny_unknown_fields)]
pub struct CopmProblemInput {
    pub problem: String,
    pub importance: f64,
    pub performance: f64,
    pub satisfaction: f64,
}

/// The reported values. Which field a measure uses: `value` for GAS, NRS and clinic
/// measures; `items` for PSFS, QuickDASH and LEFS; `problems` for COPM.
#[derive(Debug, Serialize, Deserialize, ToSchema, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ValuesInput {
    pub value: Option<f64>,
    pub items: Option<Vec<ItemInput>>,
    pub problems: Option<Vec<CopmProblemInput>>,
}

impl From<ValuesInput> for Values {
    fn from(v: ValuesInput) -> Self {
        Values {
            value: v.value,
            items: v.items.map(|items| {
                items
                    .into_iter()
                    .map(|i| Item {
                        label: i.label,
                        value: i.value,
                    })
                    .collect()
            }),
            problems: v.problems.map(|ps| {
                ps.into_iter()
                    .map(|p| CopmProblem {
                        problem: p.problem,
                        importance: p.importance,
                        performance: p.performance,
                        satisfaction: p.satisfaction,
                    })
                    .collect()
            }),
        }
    }
}

impl From<Values> for ValuesInput {
    fn from(v: Values) -> Self {
        ValuesInput {
            value: v.value,
            items: v.items.map(|items| {
                items
                    .into_iter()
                    .map(|i| ItemInput {
                        label: i.label,
                        value: i.value,
                    })
                    .collect()
            }),
            problems: v.problems.map(|ps| {
                ps.into_iter()
                    .map(|p| CopmProblemInput {
                        problem: p.problem,
                        importance: p.importance,
                        performance: p.performance,
                        satisfaction: p.satisfaction,
                    })
                    .collect()
            }),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeasurementView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub episode_id: Uuid,
    pub goal_id: Option<Uuid>,
    pub measure_code: String,
    pub observed_at: DateTime<Utc>,
    #[schema(schema_with = source_schema)]
    pub source: Source,
    pub recorded_by: Uuid,
    pub values: ValuesInput,
    /// The score (COPM: the performance score).
    pub score: f64,
    /// COPM only: the satisfaction score.
    pub satisfaction: Option<f64>,
    pub note: Option<String>,
    /// `final`; `amended` for a correction; `entered-in-error` for a withdrawal.
    #[schema(schema_with = measurement_status_schema)]
    pub status: MeasurementStatus,
    pub supersedes: Option<Uuid>,
    pub superseded_by: Option<Uuid>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl From<Measurement> for MeasurementView {
    fn from(m: Measurement) -> Self {
        MeasurementView {
            id: m.id,
            client_id: m.client_id,
            episode_id: m.episode_id,
            goal_id: m.goal_id,
            measure_code: m.measure_code,
            observed_at: m.observed_at,
            source: m.source,
            recorded_by: m.recorded_by,
            values: m.values.into(),
            score: m.score.score,
            satisfaction: m.score.satisfaction,
            note: m.note,
            status: m.status,
            supersedes: m.supersedes,
            superseded_by: m.superseded_by,
            reason: m.reason,
            created_at: m.created_at,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeasurementInput {
    /// The goal measured; absent for the client as a whole (e.g. a COPM interview).
    pub goal_id: Option<Uuid>,
    pub measure_code: String,
    /// When it was observed; defaults to now; not in the future.
    pub observed_at: Option<DateTime<Utc>>,
    pub values: ValuesInput,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Scores values against the measure stored under `code`; 422 names the field.
fn scored(
    conn: &mut persistence::Conn,
    org: Uuid,
    code: &str,
    source: Source,
    goal_id: Option<Uuid>,
    observed_at: DateTime<Utc>,
    values: &Values,
) -> Result<domain::measure::Score, StoreError> {
    let measure = measurements::measure(conn, org, code)?;
    let report = Report {
        source,
        for_goal: goal_id.is_some(),
        observed_at,
        values,
    };
    Ok(score_report(measure.as_ref(), report, Utc::now())?)
}

/// Record a measurement (the care team, an integration with clinical:write, the
/// client as a self-report, or a contributing caregiver). Never clamped or rounded.
#[utoipa::path(
    tag = "measures",
    params(EpisodePath),
    request_body = NewMeasurementInput,
    responses(
        (status = 201, body = MeasurementView),
        (status = 403, description = "Visible, but not yours to record", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or episode", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Out of range, wrong number of items, or a source the measure does not accept", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/episodes/{episode_id}/measurements")]
pub async fn record(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    body: Body<NewMeasurementInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let input = body.0;
    // Admins record nothing: `Participate` is refused them by the policy (and audited).
    let (source, action) =
        measurement_source(&caller.who).unwrap_or((Source::Therapist, ClientAction::Participate));
    let measurement_id = domain::new_id();
    let (org, user) = (caller.who.organization_id, caller.who.user_id);
    let measurement = state
        .on_client(
            caller,
            client_id,
            action,
            subject("measurement.record", "measurement", measurement_id),
            move |c| {
                let observed_at = input.observed_at.unwrap_or_else(now);
                let values = Values::from(input.values);
                let score = scored(
                    c,
                    org,
                    &input.measure_code,
                    source,
                    input.goal_id,
                    observed_at,
                    &values,
                )?;
                let new = NewMeasurement {
                    id: measurement_id,
                    episode_id,
                    goal_id: input.goal_id,
                    measure_code: input.measure_code,
                    observed_at,
                    source,
                    values,
                    score,
                    note: input
                        .note
                        .map(|n| n.trim().to_owned())
                        .filter(|n| !n.is_empty()),
                };
                measurements::record(
                    c,
                    Recording {
                        org_id: org,
                        client_id,
                        actor: user,
                        now: now(),
                    },
                    &new,
                )
            },
        )
        .await?;
    Ok(created(
        format!("/api/v1/clients/{client_id}/measurements/{measurement_id}"),
        &MeasurementView::from(measurement),
    ))
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MeasurementQuery {
    pub goal_id: Option<Uuid>,
    pub measure_code: Option<String>,
    /// Also list superseded and withdrawn versions.
    #[serde(default)]
    pub history: bool,
    /// Items per page, 1 to 100 (default 50).
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    pub after: Option<Uuid>,
}

/// An episode's measurements, in recording order.
#[utoipa::path(
    tag = "measures",
    params(EpisodePath, MeasurementQuery),
    responses(
        (status = 200, body = Page<MeasurementView>),
        (status = 404, description = "No such client or episode", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/episodes/{episode_id}/measurements")]
pub async fn list(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    query: Query<MeasurementQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let q = query.0;
    let page = persistence::PageRequest {
        after: q.after,
        limit: q.limit.unwrap_or(50),
    };
    let filter = MeasurementFilter {
        goal_id: q.goal_id,
        measure_code: q.measure_code,
        history: q.history,
    };
    let found = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject_of_many("measurement.list", "measurement"),
            move |c| {
                persistence::goals::legacy_episode(c, client_id, episode_id)?;
                measurements::list(c, episode_id, &filter, page)
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(Page::from(found, MeasurementView::from)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MeasurementPath {
    pub client_id: Uuid,
    pub measurement_id: Uuid,
}

/// One measurement.
#[utoipa::path(
    tag = "measures",
    params(MeasurementPath),
    responses(
        (status = 200, body = MeasurementView),
        (status = 404, description = "No such client or measurement", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/measurements/{measurement_id}")]
pub async fn get(
    Bearer(caller): Bearer,
    path: web::Path<MeasurementPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let MeasurementPath {
        client_id,
        measurement_id,
    } = path.into_inner();
    let m = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("measurement.read", "measurement", measurement_id),
            move |c| measurements::measurement(c, client_id, measurement_id),
        )
        .await?;
    Ok(HttpResponse::Ok().json(MeasurementView::from(m)))
}

/// Every version of a measurement, oldest first.
#[utoipa::path(
    tag = "measures",
    params(MeasurementPath),
    responses(
        (status = 200, body = Vec<MeasurementView>),
        (status = 404, description = "No such client or measurement", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/measurements/{measurement_id}/history")]
pub async fn history(
    Bearer(caller): Bearer,
    path: web::Path<MeasurementPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let MeasurementPath {
        client_id,
        measurement_id,
    } = path.into_inner();
    let chain = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("measurement.history", "measurement", measurement_id),
            move |c| measurements::history(c, client_id, measurement_id),
        )
        .await?;
    Ok(HttpResponse::Ok().json(
        chain
            .into_iter()
            .map(MeasurementView::from)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    /// Why: kept with the new version.
    #[validate(
        length(min = 1, max = 1000),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 1000,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub reason: String,
    /// True to withdraw the measurement as entered in error (no new values).
    #[serde(default)]
    pub withdraw: bool,
    /// The corrected values (required unless withdrawing).
    pub values: Option<ValuesInput>,
    pub observed_at: Option<DateTime<Utc>>,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// Correct a measurement: a new version supersedes it (`amended`), or withdraws it
/// (`entered-in-error`). The old version stays readable. The care team corrects any;
/// clients and caregivers correct only what they recorded.
#[utoipa::path(
    tag = "measures",
    params(MeasurementPath),
    request_body = CorrectionInput,
    responses(
        (status = 201, body = MeasurementView),
        (status = 403, description = "Visible, but not yours to correct", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or measurement", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already superseded: correct the latest version", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Values out of range or missing", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/measurements/{measurement_id}/corrections")]
pub async fn correct(
    Bearer(caller): Bearer,
    path: web::Path<MeasurementPath>,
    body: Body<CorrectionInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let MeasurementPath {
        client_id,
        measurement_id,
    } = path.into_inner();
    let input = body.0;
    let values = correction(input.withdraw, input.values)?;
    let (_, action) =
        measurement_source(&caller.who).unwrap_or((Source::Therapist, ClientAction::Participate));
    let new_id = domain::new_id();
    let (org, user, who) = (
        caller.who.organization_id,
        caller.who.user_id,
        caller.who.clone(),
    );
    let m = state
        .on_client(
            caller,
            client_id,
            action,
            subject("measurement.correct", "measurement", measurement_id),
            move |c| {
                let old = measurements::measurement(c, client_id, measurement_id)?;
                if !may_correct(&who, old.recorded_by).is_allowed() {
                    return Err(StoreError::Forbidden);
                }
                let correction = match values {
                    None => Correction::Withdraw,
                    Some(values) => {
                        let observed_at = input.observed_at.unwrap_or(old.observed_at);
                        let values = Values::from(values);
                        let score = scored(
                            c,
                            org,
                            &old.measure_code,
                            old.source,
                            old.goal_id,
                            observed_at,
                            &values,
                        )?;
                        Correction::Amend(NewMeasurement {
                            id: new_id,
                            episode_id: old.episode_id,
                            goal_id: old.goal_id,
                            measure_code: old.measure_code.clone(),
                            observed_at,
                            source: old.source,
                            values,
                            score,
                            note: input.note.or(old.note),
                        })
                    }
                };
                measurements::correct(
                    c,
                    Recording {
                        org_id: org,
                        client_id,
                        actor: user,
                        now: now(),
                    },
                    measurement_id,
                    correction,
                    input.reason.trim(),
                )
            },
        )
        .await?;
    Ok(created(
        format!("/api/v1/clients/{client_id}/measurements/{}", m.id),
        &MeasurementView::from(m),
    ))
}
