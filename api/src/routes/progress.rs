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
    progress::{
        self, downsample, shown, Achievement, BaselineFrom, GasExclusion, MilestoneKind, Outlook,
        PERCENT_DECIMALS, T_SCORE_DECIMALS, VALUE_DECIMALS,
    },
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

/// Shown to 2 decimals (values, changes, trends).
fn v2(x: f64) -> f64 {
    shown(x, VALUE_DECIMALS)
}

/// The values a trend was fitted to: those of the last four weeks up to the latest,
/// and at least the last three (a long history would average an old plateau into
/// today's pace).
#[derive(Debug, Serialize, ToSchema)]
pub struct TrendWindowView {
    /// The first value used.
    pub from: DateTime<Utc>,
    /// The latest value used.
    pub to: DateTime<Utc>,
    /// How many values were used.
    pub values: usize,
}

/// Progress on a goal's measure from one source's values. Values, changes and the
/// trend are rounded to 2 decimals and percentages to 1 for display; whether a
/// change is meaningful is decided on the exact values.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalProgressNumbers {
    pub values: usize,
    /// GAS: the recorded baseline level of the goal's scale; otherwise the first value.
    /// 2 decimals.
    pub baseline: Option<f64>,
    #[schema(schema_with = crate::wire::baseline_from)]
    pub baseline_from: BaselineFrom,
    /// 2 decimals.
    pub latest: Option<f64>,
    pub latest_at: Option<DateTime<Utc>>,
    /// 2 decimals.
    pub best: Option<f64>,
    /// Latest minus baseline, 2 decimals.
    pub change: Option<f64>,
    /// From baseline to target, in percent, 1 decimal; may exceed 100 or be negative.
    pub percent_to_target: Option<f64>,
    /// The change that matters, which `meaningful_change` was judged against (PSFS: 3
    /// points when a single activity is rated, 2 for the mean of several).
    pub threshold: f64,
    /// The change improves by at least `threshold`, judged on exact values.
    pub meaningful_change: bool,
    /// Least-squares slope over `trend_window`, per week, 2 decimals.
    pub trend_per_week: Option<f64>,
    /// The values the trend (and the projection) used; null without a trend.
    pub trend_window: Option<TrendWindowView>,
    /// When the trend reaches the target.
    pub projected_date: Option<NaiveDate>,
    #[schema(schema_with = crate::wire::outlook)]
    pub outlook: Outlook,
}

impl From<progress::GoalProgress> for GoalProgressNumbers {
    fn from(p: progress::GoalProgress) -> Self {
        GoalProgressNumbers {
            values: p.values,
            baseline: p.baseline.map(v2),
            baseline_from: p.baseline_from,
            latest: p.latest.map(v2),
            latest_at: p.latest_at,
            best: p.best.map(v2),
            change: p.change.map(v2),
            percent_to_target: p.percent_to_target.map(|x| shown(x, PERCENT_DECIMALS)),
            threshold: p.threshold,
            meaningful_change: p.meaningful_change,
            trend_per_week: p.trend_per_week.map(v2),
            trend_window: p.trend_window.map(|w| TrendWindowView {
                from: w.from,
                to: w.to,
                values: w.values,
            }),
            projected_date: p.projected_date,
            outlook: p.outlook,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SourceReportView {
    #[schema(schema_with = crate::wire::source)]
    pub source: Source,
    /// 2 decimals.
    pub value: f64,
    pub at: DateTime<Utc>,
}

/// Progress from one source's values alone.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceProgressView {
    /// `therapist` (therapist-assessed), `client` (client-reported), `caregiver`
    /// (caregiver-reported) or `imported`.
    #[schema(schema_with = crate::wire::source)]
    pub source: Source,
    pub progress: GoalProgressNumbers,
}

/// A goal's Goal Attainment Scaling line: the same figures the episode's GAS summary
/// counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalGasView {
    /// The recorded baseline level of the goal's scale, else its first rating.
    pub baseline: Option<i32>,
    #[schema(schema_with = crate::wire::baseline_from)]
    pub baseline_from: BaselineFrom,
    /// The latest level rated by GAS's primary source (the therapist), -2..+2.
    pub level: Option<i32>,
    /// Level minus baseline.
    pub change: Option<i32>,
    /// Why the summary leaves the goal out; null: counted.
    #[schema(schema_with = gas_exclusion_or_null)]
    pub excluded: Option<GasExclusion>,
}

fn gas_exclusion_or_null() -> utoipa::openapi::Object {
    crate::wire::one_of_or_null(GasExclusion::ALL.iter().map(|e| e.as_str()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GoalProgressView {
    pub goal: GoalView,
    pub measure: Option<MeasureRef>,
    /// Whose values `progress` is made of, the measure's primary source: the
    /// therapist for COPM, GAS and the numeric rating scale; the client for the
    /// questionnaires they fill in (PSFS, QuickDASH, LEFS); for a clinic's own
    /// measure, the first reporter the clinic listed. Null without a measure.
    #[schema(schema_with = crate::wire::source_or_null)]
    pub primary_source: Option<Source>,
    /// Progress from the primary source's values.
    pub progress: Option<GoalProgressNumbers>,
    /// Progress from each source's values alone, primary source first: therapist-
    /// assessed, client-reported and caregiver-reported side by side, never mixed.
    pub by_source: Vec<SourceProgressView>,
    /// FHIR Goal.achievementStatus.
    #[schema(schema_with = crate::wire::achievement)]
    pub achievement_status: &'static str,
    /// Current Goal Attainment Scaling level from GAS's primary source, -2..+2.
    pub gas_level: Option<i32>,
    /// The goal's GAS line, as the summary counts it; null for a goal without a GAS
    /// scale or ratings.
    pub gas: Option<GoalGasView>,
    /// The latest value from each source, side by side.
    pub reports: Vec<SourceReportView>,
    /// Client and therapist ratings differ by a meaningful amount.
    pub disagreement: bool,
    /// The home programme serving this goal, with adherence per ISO week (as of the
    /// episode's last change); null when none is prescribed.
    pub home_programme: Option<super::home::GoalAdherenceView>,
}

/// How many goals the GAS summary leaves out, for one reason.
#[derive(Debug, Serialize, ToSchema)]
pub struct GasExcludedView {
    /// `not-agreed` (proposed, or a revision awaits agreement), `cancelled`, or
    /// `not-rated` (no rating from the primary source yet).
    #[schema(schema_with = crate::wire::gas_exclusion)]
    pub reason: GasExclusion,
    pub goals: usize,
}

/// GAS summary T-scores (Kiresuk and Sherman, rho 0.3), 1 decimal. The rule: per
/// goal, baseline = the recorded baseline level of its scale, else its first rating;
/// now = its latest rating; only ratings from `source` (GAS's primary source, the
/// therapist) count. Goals never rated by it, proposed goals and cancelled goals are
/// left out and counted in `excluded`.
#[derive(Debug, Serialize, ToSchema)]
pub struct GasSummaryView {
    /// Whose ratings count.
    #[schema(schema_with = crate::wire::source)]
    pub source: Source,
    /// Goals counted.
    pub goals: usize,
    /// Goals left out, by reason.
    pub excluded: Vec<GasExcludedView>,
    pub baseline_t: Option<f64>,
    pub current_t: Option<f64>,
    /// Weighted by each goal's importance to the client.
    pub weighted_baseline_t: Option<f64>,
    pub weighted_current_t: Option<f64>,
}

impl From<progress::GasSummary> for GasSummaryView {
    fn from(g: progress::GasSummary) -> Self {
        let t = |x: Option<f64>| x.map(|x| shown(x, T_SCORE_DECIMALS));
        GasSummaryView {
            source: g.source,
            goals: g.goals,
            excluded: g
                .excluded
                .into_iter()
                .map(|e| GasExcludedView {
                    reason: e.reason,
                    goals: e.goals,
                })
                .collect(),
            baseline_t: t(g.baseline_t),
            current_t: t(g.current_t),
            weighted_baseline_t: t(g.weighted_baseline_t),
            weighted_current_t: t(g.weighted_current_t),
        }
    }
}

/// A first and a latest score, 2 decimals; `meaningful` is decided on exact values.
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
            first: v2(c.first),
            latest: v2(c.latest),
            change: v2(c.change),
            meaningful: c.meaningful,
        }
    }
}

/// COPM from one source's assessments.
#[derive(Debug, Serialize, ToSchema)]
pub struct CopmSummaryView {
    #[schema(schema_with = crate::wire::source)]
    pub source: Source,
    pub assessments: usize,
    pub first_at: DateTime<Utc>,
    pub latest_at: DateTime<Utc>,
    pub performance: ChangeView,
    pub satisfaction: ChangeView,
}

impl From<progress::CopmSummary> for CopmSummaryView {
    fn from(c: progress::CopmSummary) -> Self {
        CopmSummaryView {
            source: c.source,
            assessments: c.assessments,
            first_at: c.first_at,
            latest_at: c.latest_at,
            performance: c.performance.into(),
            satisfaction: c.satisfaction.into(),
        }
    }
}

/// Everything a progress screen shows for one episode, in one response.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    pub client_id: Uuid,
    pub episode: EpisodeView,
    pub goals_by_status: BTreeMap<String, usize>,
    pub gas: Option<GasSummaryView>,
    /// COPM from its primary source, the therapist-led interview; a client's own
    /// self-report never becomes it (see `copm_by_source`).
    pub copm: Option<CopmSummaryView>,
    /// COPM from each source that recorded it, the therapist first.
    pub copm_by_source: Vec<CopmSummaryView>,
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

fn goal_view(
    g: Goal,
    s: progress::GoalSummary,
    measure: Option<&OutcomeMeasure>,
) -> GoalProgressView {
    GoalProgressView {
        achievement_status: achievement_of(&g, s.progress.as_ref()),
        measure: measure.map(MeasureRef::from),
        primary_source: s.primary_source,
        progress: s.progress.map(GoalProgressNumbers::from),
        by_source: s
            .by_source
            .into_iter()
            .map(|p| SourceProgressView {
                source: p.source,
                progress: p.progress.into(),
            })
            .collect(),
        gas_level: s.gas_level,
        gas: s.gas.map(|l| GoalGasView {
            baseline: l.baseline,
            baseline_from: l.baseline_from,
            level: l.level,
            change: l.change,
            excluded: l.excluded,
        }),
        reports: s
            .reports
            .into_iter()
            .map(|r| SourceReportView {
                source: r.source,
                value: v2(r.value),
                at: r.at,
            })
            .collect(),
        disagreement: s.disagreement,
        home_programme: None,
        goal: GoalView::from(g),
    }
}

/// The wire form of an episode's progress, rendered once per version (the clinic
/// keeps it until the episode changes).
fn render(facts: &EpisodeFacts) -> String {
    let measure_of = |code: &str| facts.measures.iter().find(|m| m.code == code);
    let p = facts.progress.clone();
    let goals = facts
        .goals
        .clone()
        .into_iter()
        .zip(p.goals)
        .map(|(g, s)| {
            let measure = g.content.measure_code.as_deref().and_then(measure_of);
            let home = facts.home_programme.iter().find(|h| h.goal_id == g.id);
            let home = home.cloned().map(super::home::goal_adherence_view);
            GoalProgressView {
                home_programme: home,
                ..goal_view(g, s, measure)
            }
        })
        .collect();
    let view = ProgressView {
        client_id: facts.client_id,
        episode: EpisodeView::from(facts.episode.clone()),
        goals_by_status: p.goals_by_status,
        gas: p.gas.map(GasSummaryView::from),
        copm: p.copm.map(CopmSummaryView::from),
        copm_by_source: p
            .copm_by_source
            .into_iter()
            .map(CopmSummaryView::from)
            .collect(),
        goals,
        version: facts.version,
    };
    // Plain data (strings, numbers, maps with string keys): serialization cannot fail.
    serde_json::to_string(&view).unwrap_or_default()
}

/// The progress view of an episode: goals by status, GAS T-scores at baseline and
/// now, COPM change, and per goal its baseline, latest, change, trend, projection and
/// achievement from the measure's primary source, with each source's figures
/// (therapist-assessed, client-reported, caregiver-reported) side by side. Derived
/// figures are rounded for display (values and changes 2 decimals, T-scores and
/// percentages 1); thresholds are decided on exact values.
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
    /// Rounded to 2 decimals for display.
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
                        value: shown(p.value, VALUE_DECIMALS),
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
    /// The value reached (from the measure's primary source), 2 decimals.
    pub value: Option<f64>,
}

/// Milestones to celebrate, newest first: each goal agreed (once, however often it
/// is revised), meaningful change reached and personal bests (from the measure's
/// primary source only, never another source's rating), goals achieved.
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
            value: milestone.value.map(v2),
        })
        .collect();
    Ok(HttpResponse::Ok().json(list))
}

/// One goal's line in a `progress.updated` event: enough for a home screen to redraw.
#[derive(Debug, Serialize, ToSchema)]
pub struct GoalLineView {
    pub goal_id: Uuid,
    pub label: String,
    #[schema(schema_with = crate::wire::goal_status)]
    pub status: String,
    /// The goal in the client's own words.
    pub client_words: String,
    pub measure_code: Option<String>,
    /// 2 decimals, as in the progress view.
    pub baseline: Option<f64>,
    pub latest: Option<f64>,
    pub percent_to_target: Option<f64>,
    pub meaningful_change: bool,
    /// FHIR Goal.achievementStatus.
    #[schema(schema_with = crate::wire::achievement)]
    pub achievement_status: &'static str,
    pub gas_level: Option<i32>,
}

/// The new progress of an episode, sent with `progress.updated` events: the per-goal
/// summary of `GET .../episodes/{episode_id}/progress`, as it stands when sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressSummaryView {
    pub episode_id: Uuid,
    /// The progress view's `version`.
    pub version: i64,
    pub goals_by_status: BTreeMap<String, usize>,
    /// GAS T-scores (1 decimal), when goals are rated.
    pub gas_baseline_t: Option<f64>,
    pub gas_current_t: Option<f64>,
    pub goals: Vec<GoalLineView>,
}

/// The summary a `progress.updated` event carries.
pub fn summary(facts: &EpisodeFacts) -> ProgressSummaryView {
    let p = &facts.progress;
    let t = |x: Option<f64>| x.map(|x| shown(x, T_SCORE_DECIMALS));
    let gas = p.gas.as_ref();
    ProgressSummaryView {
        episode_id: facts.episode.id,
        version: facts.version,
        goals_by_status: p.goals_by_status.clone(),
        gas_baseline_t: t(gas.and_then(|g| g.baseline_t)),
        gas_current_t: t(gas.and_then(|g| g.current_t)),
        goals: facts
            .goals
            .iter()
            .zip(&p.goals)
            .map(|(g, s)| {
                let line = s.progress.as_ref();
                GoalLineView {
                    goal_id: g.id,
                    label: g.label.clone(),
                    status: g.status.as_str().to_owned(),
                    client_words: g.content.client_words.clone(),
                    measure_code: g.content.measure_code.clone(),
                    baseline: line.and_then(|l| l.baseline).map(v2),
                    latest: line.and_then(|l| l.latest).map(v2),
                    percent_to_target: line
                        .and_then(|l| l.percent_to_target)
                        .map(|x| shown(x, PERCENT_DECIMALS)),
                    meaningful_change: line.is_some_and(|l| l.meaningful_change),
                    achievement_status: achievement_of(g, line),
                    gas_level: s.gas_level,
                }
            })
            .collect(),
    }
}
