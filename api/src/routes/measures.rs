//! Outcome measures and measurements: recorded by the team or by the client, checked
//! against the measure, corrected only by new versions. The rules and the records
//! are the clinic's (`persistence::ops::measures`); these handlers translate HTTP.

use actix_web::{get, post, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::measure::{
    self, custom, CopmProblem, Correction, Direction, Instrument, Item, MeasureDefinition,
    Measurement, MeasurementStatus, OutcomeMeasure, Source, Values,
};
use persistence::{
    ops::measures::{MeasurementFilter, NewReport},
    PageRequest,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{created, goals::EpisodePath, PageView};
use crate::{
    auth::Bearer,
    error::{ApiResult, Problem},
    extract::{Body, Query},
    idempotent::{IdempotencyKey, Reply},
    state::State,
    wire,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct MeasureView {
    pub code: String,
    pub name: String,
    /// How values become a score.
    #[schema(schema_with = wire::instrument)]
    pub instrument: Instrument,
    pub min: f64,
    pub max: f64,
    /// 0 for a continuous score.
    pub step: f64,
    pub unit: Option<String>,
    #[schema(schema_with = wire::direction)]
    pub direction: Direction,
    /// The smallest change that matters clinically, and where that figure comes from.
    pub meaningful_change: f64,
    pub meaningful_change_source: String,
    /// Who may report it.
    #[schema(schema_with = wire::sources)]
    pub reporters: Vec<Source>,
    /// Whose values the figures (progress, series, charts) follow: the clinic's
    /// choice (`PUT /measures/{code}/primary-source`), else therapist-assessed for
    /// COPM, GAS and rating scales, client-reported for the PSFS, QuickDASH and LEFS
    /// questionnaires, and the first reporter a clinic lists for its own measures.
    #[schema(schema_with = wire::source)]
    pub primary_source: Source,
    /// False for the built-in catalogue.
    pub clinic_defined: bool,
}

impl From<OutcomeMeasure> for MeasureView {
    fn from(m: OutcomeMeasure) -> Self {
        let primary_source = m.primary_source();
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
            primary_source,
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
    #[schema(schema_with = wire::new_measure_code)]
    pub code: String,
    #[schema(schema_with = wire::not_blank_200)]
    pub name: String,
    #[schema(schema_with = wire::unit_or_null)]
    pub unit: Option<String>,
    /// The lowest value; less than `max`.
    pub min: f64,
    /// The highest value; greater than `min`.
    pub max: f64,
    /// 0 for a continuous scale, else the step between values, at most `max - min`.
    #[schema(minimum = 0)]
    pub step: f64,
    #[schema(schema_with = wire::direction)]
    pub direction: String,
    /// The smallest change that matters to the client: positive, at most `max - min`.
    #[schema(exclusive_minimum = 0)]
    pub meaningful_change: f64,
    /// Who may report it: `therapist`, `client`, `caregiver` (imported values are
    /// always accepted).
    #[schema(schema_with = wire::reporters)]
    pub reporters: Vec<String>,
}

impl NewMeasureInput {
    /// The clinic measure this defines for `organization_id`; 422 names every field.
    fn parse(self, organization_id: Uuid) -> Result<OutcomeMeasure, domain::Invalid> {
        let mut problems = domain::error::Problems::default();
        let direction = problems.check(Direction::parse("direction", &self.direction));
        let reporters: Vec<Source> = (self.reporters.iter().enumerate())
            .filter_map(|(n, r)| problems.check(Source::parse(&format!("reporters[{n}]"), r)))
            .collect();
        problems.finish()?;
        let definition = MeasureDefinition {
            code: &self.code,
            name: &self.name,
            unit: self.unit.as_deref(),
            min: self.min,
            max: self.max,
            step: self.step,
            direction: direction.unwrap_or(Direction::HigherIsBetter),
            meaningful_change: self.meaningful_change,
            reporters,
        };
        custom(organization_id, definition)
    }
}

/// Define a clinic measure (admins).
#[utoipa::path(
    tag = "measures",
    request_body = NewMeasureInput,
    responses(
        (status = 201, body = MeasureView),
        (status = 409, description = "The code is taken", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/measures")]
pub async fn create_measure(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    body: Body<NewMeasureInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let measure = body.0.parse(caller.who.organization_id)?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.define_measure(caller, measure),
            |measure| {
                let location = format!("/api/v1/measures/{}", measure.code);
                created(location, &MeasureView::from(measure.clone()))
            },
        )
        .await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MeasurePath {
    pub code: String,
}

/// Whose values a measure's figures follow.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PrimarySourceInput {
    /// One of the measure's reporters.
    #[schema(schema_with = wire::source)]
    pub source: String,
}

/// Choose whose values a measure's figures follow in this clinic (admins): e.g. the
/// client's own COPM ratings instead of the therapist's interview.
#[utoipa::path(
    tag = "measures",
    params(MeasurePath),
    request_body = PrimarySourceInput,
    responses((status = 200, body = MeasureView)),
    security(("bearer" = []))
)]
#[put("/measures/{code}/primary-source")]
pub async fn choose_primary_source(
    Bearer(caller): Bearer,
    path: web::Path<MeasurePath>,
    crate::extract::IfMatch(expected): crate::extract::IfMatch,
    body: Body<PrimarySourceInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let source = Source::parse("source", &body.0.source)?;
    let code = path.into_inner().code;
    let chosen = state
        .run(move |clinic| clinic.choose_primary_source(&caller, code, expected, source))
        .await?;
    Ok(super::tagged(
        chosen.version,
        &MeasureView::from(chosen.measure),
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
    #[schema(schema_with = wire::not_blank_200)]
    pub problem: String,
    /// 1 to 10, whole points.
    #[schema(minimum = 1, maximum = 10, multiple_of = 1)]
    pub importance: f64,
    #[schema(minimum = 1, maximum = 10, multiple_of = 1)]
    pub performance: f64,
    #[schema(minimum = 1, maximum = 10, multiple_of = 1)]
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
    #[schema(schema_with = wire::source)]
    pub source: Source,
    pub recorded_by: Uuid,
    pub values: ValuesInput,
    /// The score (COPM: the performance score).
    pub score: f64,
    /// COPM only: the satisfaction score.
    pub satisfaction: Option<f64>,
    pub note: Option<String>,
    /// `final`; `amended` for a correction; `entered-in-error` for a withdrawal.
    #[schema(schema_with = wire::measurement_status)]
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
    #[schema(schema_with = wire::measure_code)]
    pub measure_code: String,
    /// When it was observed; defaults to now; not in the future.
    pub observed_at: Option<DateTime<Utc>>,
    pub values: ValuesInput,
    #[validate(length(max = 2000))]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

impl From<NewMeasurementInput> for NewReport {
    fn from(i: NewMeasurementInput) -> Self {
        NewReport {
            goal_id: i.goal_id,
            measure_code: i.measure_code,
            observed_at: i.observed_at,
            values: i.values.into(),
            note: measure::note(i.note),
        }
    }
}

/// Record a measurement (the care team, an integration with clinical:write, the
/// client as a self-report, or a contributing caregiver). Never clamped or rounded.
#[utoipa::path(
    tag = "measures",
    params(EpisodePath),
    request_body = NewMeasurementInput,
    responses((status = 201, body = MeasurementView)),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/episodes/{episode_id}/measurements")]
pub async fn record(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<EpisodePath>,
    body: Body<NewMeasurementInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let report = NewReport::from(body.0);
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.record_measurement(caller, client_id, episode_id, report),
            move |m| measurement_created(client_id, m),
        )
        .await
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

impl MeasurementQuery {
    fn parse(self) -> (MeasurementFilter, PageRequest) {
        let filter = MeasurementFilter {
            goal_id: self.goal_id,
            measure_code: self.measure_code,
            history: self.history,
        };
        let page = PageRequest {
            after: self.after,
            limit: self.limit.unwrap_or(50),
        };
        (filter, page)
    }
}

/// An episode's measurements, in recording order.
#[utoipa::path(
    tag = "measures",
    params(EpisodePath, MeasurementQuery),
    responses((status = 200, body = PageView<MeasurementView>)),
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
    let (filter, page) = query.0.parse();
    let found = state
        .run(move |clinic| clinic.list_measurements(&caller, client_id, episode_id, filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(PageView::from(found, MeasurementView::from)))
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
    responses((status = 200, body = MeasurementView)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/measurements/{measurement_id}")]
pub async fn get(
    Bearer(caller): Bearer,
    path: web::Path<MeasurementPath>,
    held: crate::extract::IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let MeasurementPath {
        client_id,
        measurement_id,
    } = path.into_inner();
    let m = state
        .run(move |clinic| clinic.measurement(&caller, client_id, measurement_id))
        .await?;
    super::read_tagged(&held, m.version(), &MeasurementView::from(m))
}

/// Every version of a measurement, oldest first.
#[utoipa::path(
    tag = "measures",
    params(MeasurementPath),
    responses((status = 200, body = Vec<MeasurementView>)),
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
        .run(move |clinic| clinic.measurement_history(&caller, client_id, measurement_id))
        .await?;
    let views: Vec<MeasurementView> = chain.into_iter().map(MeasurementView::from).collect();
    Ok(HttpResponse::Ok().json(views))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CorrectionInput {
    /// Why: kept with the new version.
    #[validate(
        length(min = 1, max = 1000),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(schema_with = wire::correction_reason)]
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

impl CorrectionInput {
    fn parse(self) -> Result<Correction, domain::Invalid> {
        let values = self.values.map(Values::from);
        Correction::parse(
            &self.reason,
            self.withdraw,
            values,
            self.observed_at,
            self.note,
        )
    }
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
        (status = 409, description = "Already superseded: correct the latest version", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/measurements/{measurement_id}/corrections")]
pub async fn correct(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<MeasurementPath>,
    crate::extract::IfMatch(expected): crate::extract::IfMatch,
    body: Body<CorrectionInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let MeasurementPath {
        client_id,
        measurement_id,
    } = path.into_inner();
    let correction = body.0.parse()?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| {
                clinic.correct_measurement(caller, client_id, measurement_id, expected, correction)
            },
            move |m| measurement_created(client_id, m).tagged(m.version()),
        )
        .await
}

/// 201 with the new measurement (recorded, or a correction) and its URL.
fn measurement_created(client_id: Uuid, m: &Measurement) -> Reply {
    let location = format!("/api/v1/clients/{client_id}/measurements/{}", m.id);
    created(location, &MeasurementView::from(m.clone()))
}
