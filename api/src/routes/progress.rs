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
    goal::Goal,
    measure::{Direction, OutcomeMeasure, Source},
    progress::{self, downsample, Achievement, MilestoneKind, Outlook},
};
use persistence::ops::progress::{EpisodeFacts, GoalMilestone, GoalSeries, SeriesRange, ShownAs};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{
    clients::ClientPath,
    goals::{EpisodePath, EpisodeView, GoalPath, GoalView},
};
use crate::{
    auth::Bearer,
    chart,
    error::{ApiResult, Problem},
    extract::Query,
    state::State,
};

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
    #[schema(schema_with = crate::wire::outlook)]
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
    #[schema(schema_with = crate::wire::source)]
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
    #[schema(schema_with = crate::wire::achievement)]
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

/// The wire form of an episode's progress, rendered once per version (the clinic
/// keeps it until the episode changes).
fn render(facts: &EpisodeFacts) -> String {
    let measure_of = |code: &str| facts.measures.iter().find(|m| m.code == code);
    let p = facts.progress.clone();
    let goal_list = facts.goals.clone();
    let client_id = facts.client_id;
    let version = facts.version;
    let episode = facts.episode.clone();
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
    // Plain data (strings, numbers, maps with string keys): serialization cannot fail.
    serde_json::to_string(&view).unwrap_or_default()
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
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let body = state
        .run(move |clinic| clinic.progress_view(&caller, client_id, episode_id, render))
        .await?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .body(body))
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
    #[param(schema_with = crate::wire::source)]
    pub source: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SeriesPoint {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// One source's values: therapist-assessed, client-reported, caregiver-reported or
/// imported values are never merged into one line.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceSeries {
    #[schema(schema_with = crate::wire::source)]
    pub source: Source,
    /// How a person reads the source: `Therapist-assessed`, `Client-reported`,
    /// `Caregiver-reported` or `Imported`.
    pub label: &'static str,
    /// The measure's primary source: the goal's baseline, progress and trend follow it.
    pub primary: bool,
    /// True when this source's points were averaged to fit `max_points`.
    pub downsampled: bool,
    pub points: Vec<SeriesPoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Series {
    pub goal_id: Uuid,
    pub measure: MeasureRef,
    /// The goal's target, when the series is on the goal's own measure.
    pub target: Option<f64>,
    pub target_date: Option<NaiveDate>,
    /// Whose values lead for this measure (the therapist's for COPM and GAS).
    #[schema(schema_with = crate::wire::source)]
    pub primary_source: Source,
    /// True when any source's points were averaged to fit `max_points`.
    pub downsampled: bool,
    /// One series per source, side by side: the primary source first (listed even
    /// without values), then each other source that has values. With `source`, only
    /// that source.
    pub sources: Vec<SourceSeries>,
}

/// The goal's target, if the series is on the goal's own measure (a target on NRS
/// says nothing about the same goal's GAS levels).
fn target_on(s: &GoalSeries) -> Option<f64> {
    let own = s.goal.content.measure_code.as_deref() == Some(s.measure.code.as_str());
    s.goal.content.target_value.filter(|_| own)
}

impl SeriesQuery {
    /// The range the clinic reads, and the most points to show.
    fn parse(self, default_points: usize) -> Result<(SeriesRange, usize), domain::Invalid> {
        let source = self
            .source
            .as_deref()
            .map(|s| Source::parse("source", s))
            .transpose()?;
        let range = SeriesRange {
            measure_code: self.measure_code,
            from: self.from,
            to: self.to,
            source,
        };
        Ok((
            range,
            self.max_points.map_or(default_points, |m| m as usize),
        ))
    }
}

/// A goal's values over time by source, for charts: therapist-assessed,
/// client-reported, caregiver-reported and imported values side by side, the primary
/// source stated; optionally a date range, one source, and downsampled (per source).
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
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    query: Query<SeriesQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let (range, max_points) = query.0.parse(usize::MAX)?;
    let s = state
        .run(move |clinic| clinic.goal_series(&caller, client_id, goal_id, range, ShownAs::Series))
        .await?;
    let sources: Vec<SourceSeries> = s
        .lines
        .iter()
        .map(|line| {
            let reduced = downsample(&line.points, max_points);
            SourceSeries {
                source: line.source,
                label: chart::source_label(line.source),
                primary: line.source == s.primary_source,
                downsampled: reduced.len() < line.points.len(),
                points: reduced
                    .into_iter()
                    .map(|p| SeriesPoint {
                        at: p.at,
                        value: p.value,
                    })
                    .collect(),
            }
        })
        .collect();
    let body = Series {
        goal_id,
        measure: MeasureRef::from(&s.measure),
        target: target_on(&s),
        target_date: s.goal.content.target_date,
        primary_source: s.primary_source,
        downsampled: sources.iter().any(|l| l.downsampled),
        sources,
    };
    Ok(HttpResponse::Ok().json(body))
}

/// An SVG chart of a goal's progress a client can read without help: one line per
/// source with a legend, baseline, target (GAS: the expected level and each level's
/// description), target date, the meaningful-change band, which way is better, and
/// the trend of the primary source projected to the target date; a title and a text
/// alternative say the same in words.
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
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    query: Query<SeriesQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let GoalPath { client_id, goal_id } = path.into_inner();
    let (range, max_points) = query.0.parse(200)?;
    let s = state
        .run(move |clinic| clinic.goal_series(&caller, client_id, goal_id, range, ShownAs::Chart))
        .await?;
    let lines: Vec<chart::Line> = s
        .lines
        .iter()
        .map(|l| chart::Line {
            source: l.source,
            points: downsample(&l.points, max_points),
        })
        .collect();
    let svg = chart::render(&chart::ChartInput {
        title: format!("Goal {}: {}", s.goal.label, s.goal.content.client_words),
        measure: &s.measure,
        primary_source: s.primary_source,
        lines: &lines,
        target: target_on(&s),
        target_date: s.goal.content.target_date,
        gas: s.goal.content.gas.as_ref(),
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"))
        .body(svg))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MilestoneView {
    #[schema(schema_with = crate::wire::milestone)]
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
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let found = state
        .run(move |clinic| clinic.milestones(&caller, client_id))
        .await?;
    let list: Vec<MilestoneView> = found
        .into_iter()
        .map(|GoalMilestone { goal, milestone }| MilestoneView {
            kind: milestone.kind,
            at: milestone.at,
            goal_id: goal.id,
            goal_label: goal.label,
            goal: goal.content.client_words,
            value: milestone.value,
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}
