//! What clients and teams look at: the progress view of an episode, time series for
//! charts, an SVG chart, and the milestones feed.
//!
//! The progress view is computed once per change to the episode and kept: writes bump
//! the episode's progress version; a read serves the stored view for the current
//! version, and recomputes only when the episode changed since.

use std::collections::BTreeMap;

use actix_web::{get, http::header, web, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    goal::{Goal, GoalStatus},
    measure::{Direction, OutcomeMeasure, Source},
    policy::ClientAction,
    progress::{
        self, downsample, episode_progress, value_milestones, Achievement, MilestoneKind, Outlook,
        Point,
    },
};
use persistence::{goals, measurements, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{
    clients::ClientPath,
    goals::{EpisodePath, EpisodeView, GoalPath, GoalView},
    subject,
};
use crate::{
    auth::Caller,
    chart,
    error::{ApiResult, Problem},
    extract::Query,
    state::State,
};

fn outlook_schema() -> utoipa::openapi::Object {
    super::one_of(["reached", "on-track", "at-risk", "no-trend"])
}
fn achievement_schema() -> utoipa::openapi::Object {
    super::one_of([
        "in-progress",
        "improving",
        "worsening",
        "no-change",
        "achieved",
        "not-achieved",
    ])
}
fn source_schema() -> utoipa::openapi::Object {
    super::source_schema()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MeasureRef {
    pub code: String,
    pub name: String,
    pub higher_is_better: bool,
    pub meaningful_change: f64,
}

impl From<&OutcomeMeasure> for MeasureRef {
    fn from(m: &OutcomeMeasure) -> Self {
        MeasureRef {
            code: m.code.clone(),
            name: m.name.clone(),
            higher_is_better: m.direction == Direction::HigherIsBetter,
            meaningful_change: m.meaningful_change,
        }
    }
}

/// Progress on a goal's measure.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalProgressNumbers {
    pub values: usize,
    pub baseline: Option<f64>,
    pub latest: Option<f64>,
    pub latest_at: Option<DateTime<Utc>>,
    pub best: Option<f64>,
    pub change: Option<f64>,
    /// From baseline to target, in percent; may exceed 100 or be negative.
    pub percent_to_target: Option<f64>,
    /// The change improves by at least the measure's meaningful amount.
    pub meaningful_change: bool,
    /// Least-squares slope over the recent values, per week.
    pub trend_per_week: Option<f64>,
    /// When the trend reaches the target.
    pub projected_date: Option<NaiveDate>,
    #[schema(schema_with = outlook_schema)]
    pub outlook: Outlook,
}

impl From<progress::GoalProgress> for GoalProgressNumbers {
    fn from(p: progress::GoalProgress) -> Self {
        GoalProgressNumbers {
            values: p.values,
            baseline: p.baseline,
            latest: p.latest,
            latest_at: p.latest_at,
            best: p.best,
            change: p.change,
            percent_to_target: p.percent_to_target,
            meaningful_change: p.meaningful_change,
            trend_per_week: p.trend_per_week,
            projected_date: p.projected_date,
            outlook: p.outlook,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceReportView {
    #[schema(schema_with = source_schema)]
    pub source: Source,
    pub value: f64,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalProgressView {
    pub goal: GoalView,
    pub measure: Option<MeasureRef>,
    pub progress: Option<GoalProgressNumbers>,
    /// FHIR Goal.achievementStatus.
    #[schema(schema_with = achievement_schema)]
    pub achievement_status: &'static str,
    /// Current Goal Attainment Scaling level, -2..+2.
    pub gas_level: Option<i32>,
    /// The latest value from each source, side by side.
    pub reports: Vec<SourceReportView>,
    /// Client and therapist ratings differ by a meaningful amount.
    pub disagreement: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GasSummaryView {
    pub goals: usize,
    pub baseline_t: Option<f64>,
    pub current_t: Option<f64>,
    /// Weighted by each goal's importance to the client.
    pub weighted_baseline_t: Option<f64>,
    pub weighted_current_t: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ChangeView {
    pub first: f64,
    pub latest: f64,
    pub change: f64,
    /// Improves by at least the threshold (2 points for COPM).
    pub meaningful: bool,
}

impl From<progress::Change> for ChangeView {
    fn from(c: progress::Change) -> Self {
        ChangeView {
            first: c.first,
            latest: c.latest,
            change: c.change,
            meaningful: c.meaningful,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CopmSummaryView {
    pub assessments: usize,
    pub first_at: DateTime<Utc>,
    pub latest_at: DateTime<Utc>,
    pub performance: ChangeView,
    pub satisfaction: ChangeView,
}

/// Everything a progress screen shows for one episode, in one response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    pub client_id: Uuid,
    pub episode: EpisodeView,
    pub goals_by_status: BTreeMap<String, usize>,
    pub gas: Option<GasSummaryView>,
    pub copm: Option<CopmSummaryView>,
    pub goals: Vec<GoalProgressView>,
    /// Changes whenever anything in the episode changes.
    pub version: i64,
}

fn achievement_of(goal: &Goal, p: Option<&progress::GoalProgress>) -> &'static str {
    goal.status
        .fhir_achievement()
        .unwrap_or_else(|| match p.map(|p| p.achievement) {
            Some(a) => a.as_str(),
            None => Achievement::InProgress.as_str(),
        })
}

/// Computes the view from storage (on a cache miss).
fn compute(
    conn: &mut persistence::Conn,
    org: Uuid,
    client_id: Uuid,
    episode_id: Uuid,
    version: i64,
) -> Result<String, StoreError> {
    let episode = goals::episode(conn, client_id, episode_id)?;
    let goal_list = goals::goals_of_episode(conn, episode_id)?;
    let values = measurements::counting_in_episode(conn, episode_id)?;
    let measures = measurements::measures(conn, org)?;
    let measure_of = |code: &str| measures.iter().find(|m| m.code == code);
    let p = episode_progress(&goal_list, &values, measure_of);
    let goals_view = goal_list
        .into_iter()
        .zip(p.goals)
        .map(|(g, s)| GoalProgressView {
            achievement_status: achievement_of(&g, s.progress.as_ref()),
            measure: g
                .content
                .measure_code
                .as_deref()
                .and_then(measure_of)
                .map(MeasureRef::from),
            progress: s.progress.map(GoalProgressNumbers::from),
            gas_level: s.gas_level,
            reports: s
                .reports
                .into_iter()
                .map(|r| SourceReportView {
                    source: r.source,
                    value: r.value,
                    at: r.at,
                })
                .collect(),
            disagreement: s.disagreement,
            goal: GoalView::from(g),
        })
        .collect();
    let view = ProgressView {
        client_id,
        episode: EpisodeView::from(episode),
        goals_by_status: p.goals_by_status,
        gas: p.gas.map(|g| GasSummaryView {
            goals: g.goals,
            baseline_t: g.baseline_t,
            current_t: g.current_t,
            weighted_baseline_t: g.weighted_baseline_t,
            weighted_current_t: g.weighted_current_t,
        }),
        copm: p.copm.map(move |c| CopmSummaryView {
            assessments: c.assessments,
            first_at: c.first_at,
            latest_at: c.latest_at,
            performance: c.performance.into(),
            satisfaction: c.satisfaction.into(),
        }),
        goals: goals_view,
        version,
    };
    serde_json::to_string(&view).map_err(|e| StoreError::Config(e.to_string()))
}

/// The progress view of an episode: goals by status, GAS T-scores at baseline and
/// now, COPM change, and per goal its baseline, latest, change, trend, projection,
/// achievement and the client's and therapist's ratings side by side.
#[utoipa::path(
    tag = "progress",
    params(EpisodePath),
    responses(
        (status = 200, body = ProgressView),
        (status = 403, description = "Visible, but not the caller's to read (an integration outside clinical:read gets 404)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or episode", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/episodes/{episode_id}/progress")]
pub async fn episode_progress_view(
    caller: Caller,
    path: web::Path<EpisodePath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let shared = state.clone();
    let body = state
        .db(move |conn| {
            let org = caller.who.organization_id;
            let views = shared.clone();
            let served = caller.on_client(
                conn,
                client_id,
                ClientAction::ViewClinical,
                subject("progress.read", "episode", episode_id),
                move |c| {
                    let (version, stored) = goals::progress_versions(c, client_id, episode_id)?;
                    if let Some(body) = views.views.get(episode_id, version) {
                        return Ok(Served::Memory(body));
                    }
                    if stored == Some(version) {
                        if let (_, Some((v, text))) =
                            goals::progress_cache(c, client_id, episode_id)?
                        {
                            return Ok(Served::Stored(v, text));
                        }
                    }
                    Ok(Served::Computed(
                        version,
                        compute(c, org, client_id, episode_id, version)?,
                    ))
                },
            )?;
            Ok(match served {
                Served::Memory(body) => body,
                Served::Stored(version, text) => {
                    let body = web::Bytes::from(text);
                    shared.views.put(episode_id, version, body.clone());
                    body
                }
                Served::Computed(version, text) => {
                    // Kept for the next reader (and other instances); skipped if the
                    // episode changed meanwhile.
                    let stored = text.clone();
                    caller.writer.run(move |c| {
                        goals::store_progress_cache(c, episode_id, version, &stored)
                    })?;
                    let body = web::Bytes::from(text);
                    shared.views.put(episode_id, version, body.clone());
                    body
                }
            })
        })
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
}

/// Where a progress view came from.
enum Served {
    /// This instance's memory, for the current version.
    Memory(web::Bytes),
    /// The view stored in the database for the current version.
    Stored(i64, String),
    /// Computed now: the episode changed since the last view.
    Computed(i64, String),
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SeriesQuery {
    /// Defaults to the goal's measure (or `gas` if it has none).
    pub measure_code: Option<String>,
    /// From this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Until this time (exclusive).
    pub to: Option<DateTime<Utc>>,
    /// Reduce to at most this many points (time buckets, averaged), 2-1000.
    #[validate(range(min = 2, max = 1000))]
    #[param(minimum = 2, maximum = 1000)]
    pub max_points: Option<u32>,
    /// Only this source's values: `therapist`, `client`, `caregiver` or `imported`.
    #[param(schema_with = super::source_schema)]
    pub source: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPoint {
    pub at: DateTime<Utc>,
    pub value: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    pub goal_id: Uuid,
    pub measure: MeasureRef,
    pub target: Option<f64>,
    pub target_date: Option<NaiveDate>,
    /// True when points were averaged to fit `max_points`.
    pub downsampled: bool,
    pub points: Vec<SeriesPoint>,
}

struct GoalSeries {
    goal: Goal,
    measure: OutcomeMeasure,
    points: Vec<Point>,
}

fn load_series(
    conn: &mut persistence::Conn,
    org: Uuid,
    client_id: Uuid,
    goal_id: Uuid,
    q: &SeriesQuery,
) -> Result<GoalSeries, StoreError> {
    let goal = goals::goal(conn, client_id, goal_id)?;
    let code = q
        .measure_code
        .clone()
        .or_else(|| goal.content.measure_code.clone())
        .unwrap_or_else(|| "gas".to_owned());
    let measure = measurements::measure(conn, org, &code)?
        .ok_or_else(|| domain::Invalid::field("measure_code", "is not a known measure"))?;
    let source = q
        .source
        .as_deref()
        .map(|s| Source::parse("source", s))
        .transpose()?;
    let points = measurements::series(conn, goal_id, &code, q.from, q.to)?
        .into_iter()
        .filter(|(_, _, s)| source.is_none_or(|want| *s == want))
        .map(|(at, value, _)| Point { at, value })
        .collect();
    Ok(GoalSeries {
        goal,
        measure,
        points,
    })
}

/// A goal's values over time, for charts; optionally a date range and downsampled.
#[utoipa::path(
    tag = "progress",
    params(GoalPath, SeriesQuery),
    responses(
        (status = 200, body = Series),
        (status = 404, description = "No such client or goal", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown measure or source", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/goals/{goal_id}/series")]
pub async fn series(
    caller: Caller,
    path: web::Path<GoalPath>,
    query: Query<SeriesQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let q = query.0;
    let max_points = q.max_points.map_or(usize::MAX, |m| m as usize);
    let org = caller.who.organization_id;
    let s = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("progress.series", "goal", goal_id),
            move |c| load_series(c, org, client_id, goal_id, &q),
        )
        .await?;
    let reduced = downsample(&s.points, max_points);
    let body = Series {
        goal_id,
        measure: MeasureRef::from(&s.measure),
        target: s.goal.content.target_value,
        target_date: s.goal.content.target_date,
        downsampled: reduced.len() < s.points.len(),
        points: reduced
            .into_iter()
            .map(|p| SeriesPoint {
                at: p.at,
                value: p.value,
            })
            .collect(),
    };
    Ok(HttpResponse::Ok().json(body))
}

/// An SVG chart of a goal's progress: values, baseline, target and target date, and
/// the meaningful-change band, with a title and a text alternative.
#[utoipa::path(
    tag = "progress",
    params(GoalPath, SeriesQuery),
    responses(
        (status = 200, description = "The chart", content_type = "image/svg+xml", body = String),
        (status = 404, description = "No such client or goal", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown measure or source", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/goals/{goal_id}/chart.svg")]
pub async fn chart_svg(
    caller: Caller,
    path: web::Path<GoalPath>,
    query: Query<SeriesQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let q = query.0;
    let max_points = q.max_points.map_or(200, |m| m as usize);
    let org = caller.who.organization_id;
    let s = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("progress.chart", "goal", goal_id),
            move |c| load_series(c, org, client_id, goal_id, &q),
        )
        .await?;
    let points: Vec<(DateTime<Utc>, f64)> = downsample(&s.points, max_points)
        .into_iter()
        .map(|p| (p.at, p.value))
        .collect();
    let title = format!("Goal {}: {}", s.goal.label, s.goal.content.client_words);
    let svg = chart::render(&chart::ChartInput {
        title,
        measure: &s.measure,
        points: &points,
        target: s.goal.content.target_value,
        target_date: s.goal.content.target_date,
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"))
        .body(svg))
}

fn milestone_schema() -> utoipa::openapi::Object {
    super::one_of([
        "goal-agreed",
        "meaningful-change",
        "personal-best",
        "goal-achieved",
    ])
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MilestoneView {
    #[schema(schema_with = milestone_schema)]
    pub kind: MilestoneKind,
    pub at: DateTime<Utc>,
    pub goal_id: Uuid,
    pub goal_label: String,
    /// The goal in the client's words.
    pub goal: String,
    pub value: Option<f64>,
}

/// Milestones to celebrate, newest first: goals agreed, meaningful change reached,
/// personal bests, goals achieved.
#[utoipa::path(
    tag = "progress",
    params(ClientPath),
    responses(
        (status = 200, body = Vec<MilestoneView>),
        (status = 404, description = "No such client, or not yours to see", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/milestones")]
pub async fn milestones(
    caller: Caller,
    path: web::Path<ClientPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let org = caller.who.organization_id;
    let list = state
        .on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject("progress.milestones", "client", client_id),
            move |c| {
                let all_goals = goals::goals_of_client(c, client_id)?;
                let mut out = Vec::new();
                for (goal_id, event) in goals::events_of_client(c, client_id)? {
                    let kind = match (event.kind.as_str(), event.status) {
                        ("activated", _) => MilestoneKind::GoalAgreed,
                        ("status-changed", GoalStatus::Achieved) => MilestoneKind::GoalAchieved,
                        _ => continue,
                    };
                    out.push((goal_id, kind, event.at, None));
                }
                for g in &all_goals {
                    let Some(code) = g.content.measure_code.as_deref() else {
                        continue;
                    };
                    let Some(measure) = measurements::measure(c, org, code)? else {
                        continue;
                    };
                    let points: Vec<Point> = measurements::series(c, g.id, code, None, None)?
                        .into_iter()
                        .map(|(at, value, _)| Point { at, value })
                        .collect();
                    for m in value_milestones(&measure, &points) {
                        out.push((g.id, m.kind, m.at, m.value));
                    }
                }
                out.sort_by_key(|m| std::cmp::Reverse(m.2));
                Ok(out
                    .into_iter()
                    .filter_map(|(goal_id, kind, at, value)| {
                        let g = all_goals.iter().find(|g| g.id == goal_id)?;
                        Some(MilestoneView {
                            kind,
                            at,
                            goal_id,
                            goal_label: g.label.clone(),
                            goal: g.content.client_words.clone(),
                            value,
                        })
                    })
                    .collect::<Vec<_>>())
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(list))
}
