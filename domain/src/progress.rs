//! Progress arithmetic: pure functions over scored values and the measurements
//! storage hands over, unit-tested against worked examples and property-tested.
//! Sources are never mixed: each measure's primary source
//! ([`OutcomeMeasure::primary_source`]) makes the headline figures, and every source
//! has its own line beside it. Figures are exact here; the API rounds them for
//! display ([`shown`]).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::identity::text_enum;

use crate::{
    goal::{Goal, GoalStatus},
    measure::{Instrument, Measurement, OutcomeMeasure, Source},
};

/// One scored value at a time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Point {
    pub at: DateTime<Utc>,
    pub value: f64,
}

/// Kiresuk-Sherman's correlation between goal scales.
pub const GAS_RHO: f64 = 0.3;

/// The GAS summary T-score over goals' (level, weight) pairs:
/// T = 50 + 10 Σwx / sqrt((1-ρ) Σw² + ρ (Σw)²). `None` without goals or weights.
pub fn gas_t_score(goals: &[(f64, f64)]) -> Option<f64> {
    let sum_wx: f64 = goals.iter().map(|(x, w)| w * x).sum();
    let sum_w: f64 = goals.iter().map(|(_, w)| w).sum();
    let sum_w2: f64 = goals.iter().map(|(_, w)| w * w).sum();
    let denominator = ((1.0 - GAS_RHO) * sum_w2 + GAS_RHO * sum_w * sum_w).sqrt();
    (denominator > 0.0).then(|| 50.0 + 10.0 * sum_wx / denominator)
}

/// The unweighted T-score: every weight 1.
pub fn gas_t_score_unweighted(levels: &[f64]) -> Option<f64> {
    gas_t_score(&levels.iter().map(|x| (*x, 1.0)).collect::<Vec<_>>())
}

/// Change between a first and a latest score, judged against a threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Change {
    pub first: f64,
    pub latest: f64,
    /// Latest minus first.
    pub change: f64,
    /// Whether the change improves by at least the meaningful amount.
    pub meaningful: bool,
}

impl Change {
    pub fn new(measure: &OutcomeMeasure, first: f64, latest: f64) -> Self {
        Change {
            first,
            latest,
            change: latest - first,
            meaningful: measure.improvement(first, latest) >= measure.meaningful_change - 1e-9,
        }
    }
}

/// Least-squares slope of value against time, in units per week. Needs at least
/// two points at distinct times.
pub fn trend_per_week(points: &[Point]) -> Option<f64> {
    if points.len() < 2 {
        return None;
    }
    let origin = points[0].at;
    let xs: Vec<f64> = points.iter().map(|p| weeks_between(origin, p.at)).collect();
    let n = points.len() as f64;
    let x_mean = xs.iter().sum::<f64>() / n;
    let y_mean = points.iter().map(|p| p.value).sum::<f64>() / n;
    let sxx: f64 = xs.iter().map(|x| (x - x_mean).powi(2)).sum();
    if sxx <= 1e-12 {
        return None;
    }
    let sxy: f64 = xs
        .iter()
        .zip(points)
        .map(|(x, p)| (x - x_mean) * (p.value - y_mean))
        .sum();
    Some(sxy / sxx)
}

fn weeks_between(a: DateTime<Utc>, b: DateTime<Utc>) -> f64 {
    (b - a).num_milliseconds() as f64 / (7.0 * 24.0 * 3600.0 * 1000.0)
}

/// When the fitted line through `points` reaches `target`, if it is heading there.
pub fn projected_date(points: &[Point], target: f64) -> Option<DateTime<Utc>> {
    let slope = trend_per_week(points)?;
    let origin = points[0].at;
    let n = points.len() as f64;
    let x_mean = points
        .iter()
        .map(|p| weeks_between(origin, p.at))
        .sum::<f64>()
        / n;
    let y_mean = points.iter().map(|p| p.value).sum::<f64>() / n;
    if slope.abs() < 1e-12 {
        return None;
    }
    let weeks = x_mean + (target - y_mean) / slope;
    let latest = points.last()?.at;
    let at = origin + Duration::milliseconds((weeks * 7.0 * 24.0 * 3600.0 * 1000.0) as i64);
    // Heading away from the target, or a date in the past of the data, is no projection.
    (at >= latest && weeks.is_finite() && weeks < 520.0).then_some(at)
}

text_enum!(
    /// Whether a goal is on course for its target date.
    Outlook {
        /// The target is reached already.
        Reached => "reached",
        /// The trend reaches the target by the target date.
        OnTrack => "on-track",
        /// The trend misses the target date, or heads away from the target.
        AtRisk => "at-risk",
        /// Too few values for a trend.
        NoTrend => "no-trend",
    }
);

text_enum!(
    /// FHIR goal-achievement codes that progress can tell (a closed goal's status
    /// tells `achieved` or `not-achieved` itself: `GoalStatus::fhir_achievement`).
    Achievement {
        InProgress => "in-progress",
        Improving => "improving",
        Worsening => "worsening",
        NoChange => "no-change",
        Achieved => "achieved",
    }
);

/// The trend's window, in weeks: the trend is fitted to the values of the last four
/// weeks up to and including the latest, and to at least the last
/// [`TREND_MIN_VALUES`]. Why: a least-squares line over a long history averages an
/// old plateau into today's pace (weekly values 2, 2, 2, 2, 2, 2, 3, 4, 5, 6 give
/// 0.6/week over the last eight, although the client has gained 1/week for a month);
/// four weeks is about one reassessment interval, so a clear change of pace shows
/// within a month, and three values at least keep one odd value from making a trend.
pub const TREND_WEEKS: i64 = 4;
/// The fewest values a trend is fitted to.
pub const TREND_MIN_VALUES: usize = 3;

/// The values (in time order) the trend is fitted to, by the rule of [`TREND_WEEKS`];
/// empty when there are fewer than [`TREND_MIN_VALUES`].
pub fn trend_window(points: &[Point]) -> &[Point] {
    let Some(latest) = points.last() else {
        return points;
    };
    if points.len() < TREND_MIN_VALUES {
        return &points[points.len()..];
    }
    let since = latest.at - Duration::weeks(TREND_WEEKS);
    let start = points.iter().position(|p| p.at >= since).unwrap_or(0);
    &points[start.min(points.len() - TREND_MIN_VALUES)..]
}

/// Which values a trend was fitted to.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TrendWindow {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub values: usize,
}

text_enum!(
    /// Where a goal's baseline comes from.
    BaselineFrom {
        /// Recorded apart from the values: a GAS scale's expected baseline level.
        Recorded => "recorded",
        /// The first value.
        FirstValue => "first-value",
    }
);

/// Progress toward one goal on one measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalProgress {
    pub values: usize,
    pub baseline: Option<f64>,
    pub baseline_from: BaselineFrom,
    pub latest: Option<f64>,
    pub latest_at: Option<DateTime<Utc>>,
    pub best: Option<f64>,
    pub change: Option<f64>,
    /// How far from baseline to target, in percent (may exceed 100 or be negative).
    pub percent_to_target: Option<f64>,
    /// The change that matters, which `meaningful_change` was judged against.
    pub threshold: f64,
    pub meaningful_change: bool,
    pub trend_per_week: Option<f64>,
    /// The values the trend was fitted to; None without a trend.
    pub trend_window: Option<TrendWindow>,
    pub projected_date: Option<NaiveDate>,
    pub outlook: Outlook,
    pub achievement: Achievement,
}

/// What a goal's progress is measured from, beyond its values.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Basis {
    /// A baseline recorded apart from the values (a GAS scale's expected baseline
    /// level); None: the first value.
    pub baseline: Option<f64>,
    /// The change that matters when it depends on what was reported (PSFS: one
    /// activity or several); None: the measure's own.
    pub threshold: Option<f64>,
}

/// Computes a goal's progress from its values in time order, from the first value.
pub fn goal_progress(
    measure: &OutcomeMeasure,
    points: &[Point],
    target: Option<f64>,
    target_date: Option<NaiveDate>,
) -> GoalProgress {
    goal_progress_from(measure, points, Basis::default(), target, target_date)
}

/// Computes a goal's progress from its values in time order and its basis.
pub fn goal_progress_from(
    measure: &OutcomeMeasure,
    points: &[Point],
    basis: Basis,
    target: Option<f64>,
    target_date: Option<NaiveDate>,
) -> GoalProgress {
    // Whether there is a change to judge: a recorded baseline and one value, or two values.
    let (baseline, baseline_from, compared) = match basis.baseline {
        Some(b) => (Some(b), BaselineFrom::Recorded, !points.is_empty()),
        None => (
            points.first().map(|p| p.value),
            BaselineFrom::FirstValue,
            points.len() >= 2,
        ),
    };
    let threshold = basis.threshold.unwrap_or(measure.meaningful_change);
    let latest = points.last().map(|p| p.value);
    let best = points
        .iter()
        .map(|p| p.value)
        .reduce(|a, b| if measure.better(b, a) { b } else { a });
    let change = baseline.zip(latest).map(|(b, l)| l - b);
    let improvement = baseline.zip(latest).map(|(b, l)| measure.improvement(b, l));
    // Decided on exact values; only what is shown is rounded.
    let meaningful = compared && improvement.is_some_and(|i| i >= threshold - 1e-9);
    let percent_to_target = match (baseline, latest, target) {
        (Some(b), Some(l), Some(t)) if (t - b).abs() > 1e-12 => Some((l - b) / (t - b) * 100.0),
        _ => None,
    };
    let recent = trend_window(points);
    let trend = trend_per_week(recent);
    let window = match (trend, recent.first(), recent.last()) {
        (Some(_), Some(from), Some(to)) => Some(TrendWindow {
            from: from.at,
            to: to.at,
            values: recent.len(),
        }),
        _ => None,
    };
    let reached = latest
        .zip(target)
        .is_some_and(|(l, t)| measure.improvement(t, l) >= -1e-9);
    let projected = if reached || trend.is_none() {
        None
    } else {
        target.and_then(|t| projected_date(recent, t))
    };
    let outlook = if reached {
        Outlook::Reached
    } else if trend.is_none() {
        Outlook::NoTrend
    } else {
        match (projected, target_date) {
            (Some(p), Some(due)) if p.date_naive() <= due => Outlook::OnTrack,
            (Some(_), None) => Outlook::OnTrack,
            _ => Outlook::AtRisk,
        }
    };
    let achievement = match improvement {
        _ if reached && compared => Achievement::Achieved,
        None => Achievement::InProgress,
        Some(_) if !compared => Achievement::InProgress,
        Some(i) if i > 1e-9 => Achievement::Improving,
        Some(i) if i < -1e-9 => Achievement::Worsening,
        Some(_) => Achievement::NoChange,
    };
    GoalProgress {
        values: points.len(),
        baseline,
        baseline_from,
        latest,
        latest_at: points.last().map(|p| p.at),
        best,
        change,
        percent_to_target,
        threshold,
        meaningful_change: meaningful,
        trend_per_week: trend,
        trend_window: window,
        projected_date: projected.map(|p| p.date_naive()),
        outlook,
        achievement,
    }
}

/// Display precision: values, changes and trends to 2 decimals, T-scores and
/// percentages to 1. Derived figures are rounded only for display; every threshold
/// is decided on exact values first.
pub const VALUE_DECIMALS: i32 = 2;
/// See [`VALUE_DECIMALS`].
pub const T_SCORE_DECIMALS: i32 = 1;
/// See [`VALUE_DECIMALS`].
pub const PERCENT_DECIMALS: i32 = 1;

/// `x` rounded half away from zero to `decimals` places, for display (never -0).
pub fn shown(x: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (x * scale).round() / scale + 0.0
}

/// Reduces a series to at most `max_points` for a chart: equal time buckets, each
/// represented by its mean time and mean value. Short series pass through.
pub fn downsample(points: &[Point], max_points: usize) -> Vec<Point> {
    if points.len() <= max_points || max_points == 0 {
        return points.to_vec();
    }
    let (first, last) = (points[0].at, points[points.len() - 1].at);
    let span = (last - first).num_milliseconds().max(1) as f64;
    let mut buckets: Vec<Vec<Point>> = vec![Vec::new(); max_points];
    for p in points {
        let i = (((p.at - first).num_milliseconds() as f64 / span) * max_points as f64) as usize;
        buckets[i.min(max_points - 1)].push(*p);
    }
    buckets
        .into_iter()
        .filter(|b| !b.is_empty())
        .map(|b| {
            let n = b.len() as f64;
            let t = b
                .iter()
                .map(|p| (p.at - first).num_milliseconds() as f64)
                .sum::<f64>()
                / n;
            Point {
                at: first + Duration::milliseconds(t as i64),
                value: b.iter().map(|p| p.value).sum::<f64>() / n,
            }
        })
        .collect()
}

/// Something worth celebrating with the client.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Milestone {
    pub kind: MilestoneKind,
    pub at: DateTime<Utc>,
    pub value: Option<f64>,
}

text_enum!(
    /// What a milestone celebrates.
    MilestoneKind {
        GoalAgreed => "goal-agreed",
        MeaningfulChange => "meaningful-change",
        PersonalBest => "personal-best",
        GoalAchieved => "goal-achieved",
        /// Every prescribed time of a home activity serving the goal done in one ISO
        /// week (`domain::home::weeks_completed_by`).
        PracticeWeekDone => "practice-week-done",
    }
);

/// Milestones a goal's values reached: the first meaningful change from baseline,
/// and every new personal best after the baseline (values in time order, from the
/// first value).
pub fn value_milestones(measure: &OutcomeMeasure, points: &[Point]) -> Vec<Milestone> {
    milestones_over(measure, points, None, |_| measure.meaningful_change)
}

/// `baseline`: recorded apart from the values (each value is then compared with it);
/// None: the first value. `threshold(i)`: the change that matters at value `i`.
fn milestones_over(
    measure: &OutcomeMeasure,
    points: &[Point],
    baseline: Option<f64>,
    threshold: impl Fn(usize) -> f64,
) -> Vec<Milestone> {
    let mut out = Vec::new();
    let (base, skip) = match (baseline, points.first()) {
        (Some(b), _) => (b, 0),
        (None, Some(first)) => (first.value, 1),
        (None, None) => return out,
    };
    let mut best = base;
    let mut meaningful = false;
    for (i, p) in points.iter().enumerate().skip(skip) {
        if !meaningful && measure.improvement(base, p.value) >= threshold(i) - 1e-9 {
            meaningful = true;
            out.push(Milestone {
                kind: MilestoneKind::MeaningfulChange,
                at: p.at,
                value: Some(p.value),
            });
        }
        if measure.better(p.value, best) {
            best = p.value;
            out.push(Milestone {
                kind: MilestoneKind::PersonalBest,
                at: p.at,
                value: Some(p.value),
            });
        }
    }
    out
}

/// The milestones a goal's own measure reached, from that measure's primary source
/// only ([`OutcomeMeasure::primary_source`]): a client's own rating makes no
/// personal best unless the client is the primary source. `measurements`: any of the
/// client's, in time order; those of this goal and measure that count are used.
pub fn goal_value_milestones(
    goal: &Goal,
    measure: &OutcomeMeasure,
    measurements: &[Measurement],
) -> Vec<Milestone> {
    let own: Vec<&Measurement> = measurements
        .iter()
        .filter(|m| {
            m.counts()
                && m.goal_id == Some(goal.id)
                && m.measure_code == measure.code
                && m.source == measure.primary_source()
        })
        .collect();
    let points: Vec<Point> = own.iter().map(|m| point(m)).collect();
    let basis = basis(goal, measure, &own);
    milestones_over(measure, &points, basis.baseline, |i| {
        let from = own.first().map(|m| &m.values);
        match (basis.baseline, from) {
            (None, Some(first)) => measure.meaningful_change_between(first, &own[i].values),
            _ => measure.meaningful_change_between(&own[i].values, &own[i].values),
        }
    })
}

/// Where a goal's value milestones stand after its values so far (those
/// [`goal_value_milestones`] reads: the goal's measure, its primary source, counting,
/// in time order): enough to tell what the next value reaches without reading them
/// all again. Storage keeps it beside the goal.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct MilestoneState {
    /// What values are compared with: a recorded baseline, or the first value.
    pub baseline: f64,
    /// The first value, when it is the baseline (its values set PSFS's threshold).
    pub first: Option<uuid::Uuid>,
    pub best: f64,
    /// Whether a meaningful change has been reached.
    pub meaningful: bool,
    /// The latest value: a value recorded after it follows on from here.
    pub last: Option<(DateTime<Utc>, uuid::Uuid)>,
}

/// Whether `m` is one of the values a goal's milestones are made of.
fn counts_toward(goal: &Goal, measure: &OutcomeMeasure, m: &Measurement) -> bool {
    m.counts()
        && m.goal_id == Some(goal.id)
        && m.measure_code == measure.code
        && m.source == measure.primary_source()
}

/// The state after a goal's values (`measurements`: any of the client's, in time order;
/// those that count toward the goal are used). None: no baseline yet.
pub fn milestone_state(
    goal: &Goal,
    measure: &OutcomeMeasure,
    measurements: &[Measurement],
) -> Option<MilestoneState> {
    let own: Vec<&Measurement> = measurements
        .iter()
        .filter(|m| counts_toward(goal, measure, m))
        .collect();
    let recorded = basis(goal, measure, &[]).baseline;
    let mut state = recorded.map(|baseline| MilestoneState {
        baseline,
        first: None,
        best: baseline,
        meaningful: false,
        last: None,
    });
    let first = own.first().map(|m| &m.values);
    for m in own {
        state = Some(next_state(state.as_ref(), measure, first, m).1);
    }
    state
}

/// What `new` reaches after `state`, and the state after it: the step
/// [`goal_value_milestones`] takes for each value, taken for one. `first_values`: the
/// first value's, when it is the baseline. None when `new` does not follow on (it is
/// dated before the latest value): read them all again.
pub fn next_milestones(
    state: Option<&MilestoneState>,
    goal: &Goal,
    measure: &OutcomeMeasure,
    first_values: Option<&crate::measure::Values>,
    new: &Measurement,
) -> Option<(Vec<Milestone>, MilestoneState)> {
    if !counts_toward(goal, measure, new) {
        return state.cloned().map(|s| (Vec::new(), s));
    }
    if state
        .and_then(|s| s.last)
        .is_some_and(|last| (new.observed_at, new.id) <= last)
    {
        return None;
    }
    Some(next_state(state, measure, first_values, new))
}

fn next_state(
    state: Option<&MilestoneState>,
    measure: &OutcomeMeasure,
    first_values: Option<&crate::measure::Values>,
    m: &Measurement,
) -> (Vec<Milestone>, MilestoneState) {
    let value = m.score.score;
    let last = Some((m.observed_at, m.id));
    let Some(state) = state else {
        // The first value is the baseline: nothing reached yet.
        let start = MilestoneState {
            baseline: value,
            first: Some(m.id),
            best: value,
            meaningful: false,
            last,
        };
        return (Vec::new(), start);
    };
    // As `goal_value_milestones` has it: from the first value's values when it is the
    // baseline (a caller may leave them out where the threshold does not read them).
    let threshold = match (state.first, first_values) {
        (Some(_), Some(first)) => measure.meaningful_change_between(first, &m.values),
        _ => measure.meaningful_change_between(&m.values, &m.values),
    };
    let mut reached = Vec::new();
    let mut next = MilestoneState {
        last,
        ..state.clone()
    };
    if !state.meaningful && measure.improvement(state.baseline, value) >= threshold - 1e-9 {
        next.meaningful = true;
        reached.push(Milestone {
            kind: MilestoneKind::MeaningfulChange,
            at: m.observed_at,
            value: Some(value),
        });
    }
    if measure.better(value, state.best) {
        next.best = value;
        reached.push(Milestone {
            kind: MilestoneKind::PersonalBest,
            at: m.observed_at,
            value: Some(value),
        });
    }
    (reached, next)
}

/// The milestones a goal reaches with `new`, a measurement just recorded: those of
/// its values with `new` that it had not reached with `before` alone (the client's
/// measurements in the episode, in time order, without `new`).
pub fn milestones_reached(
    goal: &Goal,
    measure: &OutcomeMeasure,
    before: &[Measurement],
    new: &Measurement,
) -> Vec<Milestone> {
    let had = goal_value_milestones(goal, measure, before);
    let mut with_new = before.to_vec();
    let at = with_new
        .iter()
        .position(|m| (m.observed_at, m.id) > (new.observed_at, new.id))
        .unwrap_or(with_new.len());
    with_new.insert(at, new.clone());
    goal_value_milestones(goal, measure, &with_new)
        .into_iter()
        .filter(|m| !had.contains(m) && m.at == new.observed_at)
        .collect()
}

/// The milestones a client's goal histories mark (`events` in the order they
/// happened): each goal's first agreement that made it active, once (agreeing to a
/// later revision is no new goal agreed), and each goal achieved.
pub fn event_milestones(
    events: &[(uuid::Uuid, crate::goal::GoalEvent)],
) -> Vec<(uuid::Uuid, Milestone)> {
    let mut seen = std::collections::HashSet::new();
    events
        .iter()
        .filter_map(|(goal, event)| Some((*goal, event_milestone(event)?)))
        .filter(|(goal, m)| seen.insert((*goal, m.kind)))
        .collect()
}

/// The milestone a goal's history event marks, if any: agreement that made the goal
/// active, and the goal achieved.
pub fn event_milestone(event: &crate::goal::GoalEvent) -> Option<Milestone> {
    use crate::goal::{GoalEventKind, GoalStatus};
    let kind = match (event.kind, event.status) {
        (GoalEventKind::Activated, _) => MilestoneKind::GoalAgreed,
        (GoalEventKind::StatusChanged, GoalStatus::Achieved) => MilestoneKind::GoalAchieved,
        _ => return None,
    };
    Some(Milestone {
        kind,
        at: event.at,
        value: None,
    })
}

/// The latest value each source reported for a goal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceReport {
    pub source: Source,
    pub value: f64,
    pub at: DateTime<Utc>,
}

/// Progress on a goal's measure from one source's values alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SourceProgress {
    pub source: Source,
    pub progress: GoalProgress,
}

text_enum!(
    /// Why a goal with a GAS scale (or GAS ratings) is left out of the summary T-scores.
    GasExclusion {
        /// Proposed: not yet agreed by client and therapist (or a revision awaits agreement).
        NotAgreed => "not-agreed",
        /// Cancelled: no longer pursued.
        Cancelled => "cancelled",
        /// No GAS rating from the primary source yet.
        NotRated => "not-rated",
    }
);

/// A goal's Goal Attainment Scaling line, the same figures the summary counts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalGas {
    /// The recorded baseline level of the goal's scale, else its first rating.
    pub baseline: Option<i32>,
    pub baseline_from: BaselineFrom,
    /// The latest rating from the primary source.
    pub level: Option<i32>,
    /// Level minus baseline.
    pub change: Option<i32>,
    /// Why the summary leaves the goal out; None: counted.
    pub excluded: Option<GasExclusion>,
}

/// One goal's line in the progress view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalSummary {
    pub goal_id: uuid::Uuid,
    /// Whose values `progress` is made of: the measure's primary source.
    pub primary_source: Option<Source>,
    /// Progress on the goal's measure from the primary source's values.
    pub progress: Option<GoalProgress>,
    /// Progress from each source's values alone, the primary source first, side by side.
    pub by_source: Vec<SourceProgress>,
    /// The latest Goal Attainment Scaling level from GAS's primary source, -2..+2.
    pub gas_level: Option<i32>,
    pub gas: Option<GoalGas>,
    /// Latest value per source, so client and therapist ratings sit side by side.
    pub reports: Vec<SourceReport>,
    /// Client and therapist disagree by at least the measure's meaningful change.
    pub disagreement: bool,
}

/// How many goals the GAS summary leaves out, for one reason.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GasExcluded {
    pub reason: GasExclusion,
    pub goals: usize,
}

/// GAS summary T-scores at baseline and now, unweighted and weighted by importance.
/// The rule: per goal, baseline = the recorded baseline level of its scale, else its
/// first rating; now = its latest rating; ratings from GAS's primary source only
/// (the therapist). Goals never rated by it, proposed goals and cancelled goals are
/// left out, and counted in `excluded` by reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GasSummary {
    /// Whose ratings count.
    pub source: Source,
    /// Goals counted.
    pub goals: usize,
    pub excluded: Vec<GasExcluded>,
    pub baseline_t: Option<f64>,
    pub current_t: Option<f64>,
    pub weighted_baseline_t: Option<f64>,
    pub weighted_current_t: Option<f64>,
}

/// COPM at first assessment and latest reassessment, from one source.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopmSummary {
    pub source: Source,
    pub assessments: usize,
    pub first_at: DateTime<Utc>,
    pub latest_at: DateTime<Utc>,
    pub performance: Change,
    pub satisfaction: Change,
}

/// Everything a progress screen shows for one episode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpisodeProgress {
    pub goals_by_status: std::collections::BTreeMap<String, usize>,
    pub gas: Option<GasSummary>,
    /// COPM from its primary source (the therapist-led interview).
    pub copm: Option<CopmSummary>,
    /// COPM from each source that recorded it, the primary source first.
    pub copm_by_source: Vec<CopmSummary>,
    pub goals: Vec<GoalSummary>,
}

fn point(m: &Measurement) -> Point {
    Point {
        at: m.observed_at,
        value: m.score.score,
    }
}

/// Sources in the order they are shown: `primary` first, then the rest in `Source::ALL` order.
fn sources_from(primary: Source) -> impl Iterator<Item = Source> {
    std::iter::once(primary).chain(Source::ALL.iter().copied().filter(move |s| *s != primary))
}

/// What a goal's values on `measure` (one source's, in time order) are measured
/// from: GAS from the scale's recorded baseline level; PSFS against 3 points when
/// the first or latest score rates a single activity.
fn basis(goal: &Goal, measure: &OutcomeMeasure, values: &[&Measurement]) -> Basis {
    let baseline = (measure.instrument == Instrument::Gas)
        .then(|| goal.content.gas.as_ref().map(|s| f64::from(s.baseline)))
        .flatten();
    let threshold = match (values.first(), values.last()) {
        (Some(first), Some(latest)) => {
            Some(measure.meaningful_change_between(&first.values, &latest.values))
        }
        _ => None,
    };
    Basis {
        baseline,
        threshold,
    }
}

/// A goal's GAS line: baseline, latest level and whether the summary counts it.
fn goal_gas(goal: &Goal, ratings: &[&Measurement]) -> Option<GoalGas> {
    if goal.content.gas.is_none() && ratings.is_empty() {
        return None;
    }
    let level = |m: &&Measurement| m.score.score.round() as i32;
    let (baseline, baseline_from) = match &goal.content.gas {
        Some(scale) => (Some(scale.baseline), BaselineFrom::Recorded),
        None => (ratings.first().map(level), BaselineFrom::FirstValue),
    };
    let latest = ratings.last().map(level);
    let excluded = match goal.status {
        GoalStatus::Proposed => Some(GasExclusion::NotAgreed),
        GoalStatus::Cancelled => Some(GasExclusion::Cancelled),
        _ if latest.is_none() => Some(GasExclusion::NotRated),
        _ => None,
    };
    Some(GoalGas {
        baseline,
        baseline_from,
        level: latest,
        change: baseline.zip(latest).map(|(b, l)| l - b),
        excluded,
    })
}

fn gas_summary(goals: &[Goal], lines: &[Option<GoalGas>], source: Source) -> Option<GasSummary> {
    let mut counted = Vec::new();
    let mut excluded: Vec<GasExcluded> = Vec::new();
    for (g, line) in goals.iter().zip(lines) {
        let Some(line) = line else { continue };
        match (line.excluded, line.baseline, line.level) {
            (None, Some(b), Some(l)) => {
                counted.push((f64::from(b), f64::from(l), f64::from(g.content.importance)))
            }
            (reason, _, _) => {
                let reason = reason.unwrap_or(GasExclusion::NotRated);
                match excluded.iter_mut().find(|e| e.reason == reason) {
                    Some(e) => e.goals += 1,
                    None => excluded.push(GasExcluded { reason, goals: 1 }),
                }
            }
        }
    }
    if counted.is_empty() && excluded.is_empty() {
        return None;
    }
    excluded.sort_by_key(|e| e.reason);
    let baseline: Vec<(f64, f64)> = counted.iter().map(|(b, _, w)| (*b, *w)).collect();
    let current: Vec<(f64, f64)> = counted.iter().map(|(_, l, w)| (*l, *w)).collect();
    let levels = |v: &[(f64, f64)]| v.iter().map(|(x, _)| *x).collect::<Vec<_>>();
    Some(GasSummary {
        source,
        goals: counted.len(),
        excluded,
        baseline_t: gas_t_score_unweighted(&levels(&baseline)),
        current_t: gas_t_score_unweighted(&levels(&current)),
        weighted_baseline_t: gas_t_score(&baseline),
        weighted_current_t: gas_t_score(&current),
    })
}

fn copm_summary(
    measure: &OutcomeMeasure,
    source: Source,
    all: &[&Measurement],
) -> Option<CopmSummary> {
    let own: Vec<&&Measurement> = all.iter().filter(|m| m.source == source).collect();
    let (first, latest) = (own.first()?, own.last()?);
    Some(CopmSummary {
        source,
        assessments: own.len(),
        first_at: first.observed_at,
        latest_at: latest.observed_at,
        performance: Change::new(measure, first.score.score, latest.score.score),
        satisfaction: Change::new(
            measure,
            first.score.satisfaction.unwrap_or(f64::NAN),
            latest.score.satisfaction.unwrap_or(f64::NAN),
        ),
    })
}

/// One goal's line: progress per source on its measure (the primary source's as the
/// headline), its GAS line, and the latest value per source.
fn goal_summary<'m>(
    g: &Goal,
    current: &[&Measurement],
    measure_of: &impl Fn(&str) -> Option<&'m OutcomeMeasure>,
) -> GoalSummary {
    let of = |code: &str| -> Vec<&Measurement> {
        current
            .iter()
            .filter(|m| m.goal_id == Some(g.id) && m.measure_code == code)
            .copied()
            .collect()
    };
    let measure = g.content.measure_code.as_deref().and_then(measure_of);
    let mut by_source = Vec::new();
    let mut progress = None;
    if let Some(measure) = measure {
        let values = of(&measure.code);
        for source in sources_from(measure.primary_source()) {
            let own: Vec<&Measurement> = values
                .iter()
                .filter(|m| m.source == source)
                .copied()
                .collect();
            let points: Vec<Point> = own.iter().map(|m| point(m)).collect();
            let p = goal_progress_from(
                measure,
                &points,
                basis(g, measure, &own),
                g.content.target_value,
                g.content.target_date,
            );
            if source == measure.primary_source() {
                progress = Some(p.clone());
            }
            if !own.is_empty() {
                by_source.push(SourceProgress {
                    source,
                    progress: p,
                });
            }
        }
    }
    let gas_source = measure_of("gas").map_or(Source::Therapist, |m| m.primary_source());
    let ratings: Vec<&Measurement> = of("gas")
        .into_iter()
        .filter(|m| m.source == gas_source)
        .collect();
    let gas = goal_gas(g, &ratings);
    let report_code = g.content.measure_code.as_deref().unwrap_or("gas");
    let mut latest: Vec<&Measurement> = Vec::new();
    for m in of(report_code) {
        latest.retain(|r| r.source != m.source);
        latest.push(m);
    }
    latest.sort_by_key(|m| m.source);
    let by = |s: Source| latest.iter().find(|m| m.source == s);
    let disagreement = match (
        by(Source::ClientSelfReport),
        by(Source::Therapist),
        measure_of(report_code),
    ) {
        (Some(c), Some(t), Some(m)) => {
            (c.score.score - t.score.score).abs()
                >= m.meaningful_change_between(&c.values, &t.values) - 1e-9
        }
        _ => false,
    };
    GoalSummary {
        goal_id: g.id,
        primary_source: measure.map(|m| m.primary_source()),
        progress,
        by_source,
        gas_level: gas.as_ref().and_then(|l| l.level),
        gas,
        reports: latest
            .iter()
            .map(|m| SourceReport {
                source: m.source,
                value: m.score.score,
                at: m.observed_at,
            })
            .collect(),
        disagreement,
    }
}

/// Computes an episode's progress from its goals and its counting measurements in
/// time order. `measure_of` finds a measure by code.
pub fn episode_progress<'m>(
    goals: &[Goal],
    measurements: &[Measurement],
    measure_of: impl Fn(&str) -> Option<&'m OutcomeMeasure>,
) -> EpisodeProgress {
    let mut goals_by_status = std::collections::BTreeMap::new();
    for g in goals {
        *goals_by_status
            .entry(g.status.as_str().to_owned())
            .or_insert(0) += 1;
    }
    let current: Vec<&Measurement> = measurements.iter().filter(|m| m.counts()).collect();
    let summaries: Vec<GoalSummary> = goals
        .iter()
        .map(|g| goal_summary(g, &current, &measure_of))
        .collect();
    let gas_source = measure_of("gas").map_or(Source::Therapist, |m| m.primary_source());
    let lines: Vec<Option<GoalGas>> = summaries.iter().map(|s| s.gas.clone()).collect();
    let gas = gas_summary(goals, &lines, gas_source);
    let copm_all: Vec<&Measurement> = current
        .iter()
        .filter(|m| m.measure_code == "copm")
        .copied()
        .collect();
    let copm_by_source: Vec<CopmSummary> = measure_of("copm")
        .map(|measure| {
            sources_from(measure.primary_source())
                .filter_map(|s| copm_summary(measure, s, &copm_all))
                .collect()
        })
        .unwrap_or_default();
    let copm = copm_by_source
        .first()
        .filter(|c| measure_of("copm").is_some_and(|m| m.primary_source() == c.source))
        .cloned();
    EpisodeProgress {
        goals_by_status,
        gas,
        copm,
        copm_by_source,
        goals: summaries,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::built_in;
    use proptest::prelude::*;

    fn measure(code: &str) -> OutcomeMeasure {
        built_in(code).unwrap_or_else(|| panic!("{code}"))
    }

    /// Values on days after 2026-01-01.
    fn values_on(values: &[(i64, f64)]) -> Vec<Point> {
        values
            .iter()
            .map(|&(d, value)| Point { at: day(d), value })
            .collect()
    }

    fn day(n: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default() + Duration::days(n)
        // 2026-01-01
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-4)
    }

    #[test]
    fn gas_t_scores_match_worked_examples() {
        // All goals met as expected: T = 50.
        assert!(close(gas_t_score_unweighted(&[0.0, 0.0, 0.0]), 50.0));
        // Four goals at -1: 50 + 10(-4)/sqrt(0.7*4 + 0.3*16) = 50 - 40/sqrt(7.6) = 35.4905.
        assert!(close(gas_t_score_unweighted(&[-1.0; 4]), 35.4905));
        // Levels 1, 0, -1, 2: 50 + 20/sqrt(7.6) = 57.2548.
        assert!(close(
            gas_t_score_unweighted(&[1.0, 0.0, -1.0, 2.0]),
            57.2548
        ));
        // Weighted: levels (2, -1), weights (3, 1): Σwx = 5, Σw² = 10, (Σw)² = 16;
        // 50 + 50/sqrt(7 + 4.8) = 50 + 50/3.43511 = 64.5556.
        assert!(close(gas_t_score(&[(2.0, 3.0), (-1.0, 1.0)]), 64.5556));
        assert_eq!(gas_t_score(&[]), None);
    }

    #[test]
    fn copm_change_is_judged_against_two_points() {
        // Performance 4.0 -> 7.0 (+3, meaningful); satisfaction 4.0 -> 5.5 (+1.5, not).
        let copm = measure("copm");
        assert!(Change::new(&copm, 4.0, 7.0).meaningful);
        let sat = Change::new(&copm, 4.0, 5.5);
        assert!(!sat.meaningful);
        assert!((sat.change - 1.5).abs() < 1e-12);
        assert!(
            Change::new(&copm, 4.0, 6.0).meaningful,
            "exactly the threshold counts"
        );
        // Lower is better for QuickDASH: 60 -> 45 is an improvement of 15 >= 14.
        assert!(Change::new(&measure("quickdash"), 60.0, 45.0).meaningful);
        assert!(!Change::new(&measure("quickdash"), 45.0, 60.0).meaningful);
    }

    #[test]
    fn trend_and_projection_match_a_worked_example() {
        // 2, 3, 4 at days 0, 7, 14: slope 1 per week. Fitted line: mean x 1 week, mean y 3,
        // so 6 is reached at 1 + (6 - 3)/1 = 4 weeks, day 28.
        let points = values_on(&[(0, 2.0), (7, 3.0), (14, 4.0)]);
        assert!(close(trend_per_week(&points), 1.0));
        assert_eq!(projected_date(&points, 6.0), Some(day(28)));
        let nrs = measure("nrs");
        let on_track = goal_progress(&nrs, &points, Some(6.0), Some(day(35).date_naive()));
        assert_eq!(on_track.outlook, Outlook::OnTrack);
        assert_eq!(on_track.projected_date, Some(day(28).date_naive()));
        assert!(close(on_track.percent_to_target, 50.0), "(4-2)/(6-2) = 50%");
        assert_eq!(on_track.achievement, Achievement::Improving);
        assert!(on_track.meaningful_change, "+2 on a 2-point threshold");
        let late = goal_progress(&nrs, &points, Some(6.0), Some(day(21).date_naive()));
        assert_eq!(late.outlook, Outlook::AtRisk);
        let two = goal_progress(&nrs, &points[..2], Some(6.0), None);
        assert_eq!(two.outlook, Outlook::NoTrend);
        // Heading away from the target: no projection, at risk.
        let falling = values_on(&[(0, 4.0), (7, 3.0), (14, 2.0)]);
        let p = goal_progress(&nrs, &falling, Some(6.0), Some(day(60).date_naive()));
        assert_eq!(
            (p.projected_date, p.outlook, p.achievement),
            (None, Outlook::AtRisk, Achievement::Worsening)
        );
    }

    #[test]
    fn lower_is_better_goals_progress_downwards() {
        // QuickDASH 70 -> 50 -> 30 toward a target of 20.
        let qd = measure("quickdash");
        let points = values_on(&[(0, 70.0), (14, 50.0), (28, 30.0)]);
        let p = goal_progress(&qd, &points, Some(20.0), Some(day(60).date_naive()));
        assert_eq!(p.achievement, Achievement::Improving);
        assert!(p.meaningful_change);
        assert!(close(p.percent_to_target, 80.0), "(30-70)/(20-70) = 80%");
        assert_eq!(p.best, Some(30.0));
        assert!(close(p.trend_per_week, -10.0));
        assert_eq!(p.outlook, Outlook::OnTrack);
        let reached = goal_progress(
            &qd,
            &[
                points[0],
                Point {
                    at: day(35),
                    value: 15.0,
                },
            ],
            Some(20.0),
            None,
        );
        assert_eq!(
            (reached.outlook, reached.achievement),
            (Outlook::Reached, Achievement::Achieved)
        );
    }

    #[test]
    fn milestones_mark_meaningful_change_and_personal_bests() {
        let nrs = measure("nrs");
        let points = values_on(&[(0, 2.0), (7, 3.0), (14, 2.0), (21, 5.0)]);
        let kinds: Vec<(MilestoneKind, f64)> = value_milestones(&nrs, &points)
            .into_iter()
            .map(|m| (m.kind, m.value.unwrap_or_default()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (MilestoneKind::PersonalBest, 3.0),
                (MilestoneKind::MeaningfulChange, 5.0),
                (MilestoneKind::PersonalBest, 5.0)
            ]
        );
    }

    #[test]
    fn downsampling_keeps_short_series_and_bounds_long_ones() {
        let points: Vec<Point> = (0..100)
            .map(|i| Point {
                at: day(i),
                value: i as f64,
            })
            .collect();
        assert_eq!(downsample(&points[..5], 10).len(), 5);
        let d = downsample(&points, 10);
        assert_eq!(d.len(), 10);
        assert!(d
            .windows(2)
            .all(|w| w[0].at < w[1].at && w[0].value < w[1].value));
    }

    // --- Episodes: goals and measurements as storage hands them over --------------

    use crate::goal::{Agreement, GasScale, GoalContent, OccupationArea, Side, Term};
    use crate::measure::{CopmProblem, Item, MeasurementStatus, Values};
    use uuid::Uuid;

    fn goal(n: u128, status: GoalStatus, measure: Option<&str>, gas_baseline: Option<i32>) -> Goal {
        Goal {
            id: Uuid::from_u128(n),
            client_id: Uuid::from_u128(1),
            episode_id: Uuid::from_u128(2),
            label: n.to_string(),
            term: Term::LongTerm,
            parent_id: None,
            status,
            expressed_by: Side::Client,
            revision: 1,
            agreement: Agreement::default(),
            content: GoalContent {
                client_words: "Cook dinner".into(),
                statement: "Cooks a two-course meal".into(),
                occupation_area: OccupationArea::Iadl,
                importance: 1,
                start_date: day(0).date_naive(),
                target_date: None,
                measure_code: measure.map(str::to_owned),
                target_value: None,
                gas: gas_baseline.map(|baseline| GasScale {
                    levels: ["a", "b", "c", "d", "e"].map(String::from),
                    baseline,
                }),
            },
            version: 1,
            created_at: day(0),
            updated_at: day(0),
        }
    }

    fn rated(
        goal: Option<u128>,
        code: &str,
        source: Source,
        d: i64,
        values: Values,
    ) -> Measurement {
        let m = built_in(code).unwrap_or_else(|| panic!("{code}"));
        let score = m.score(&values).unwrap_or_else(|e| panic!("{e}"));
        Measurement {
            id: Uuid::from_u128(1000 + d as u128),
            client_id: Uuid::from_u128(1),
            episode_id: Uuid::from_u128(2),
            goal_id: goal.map(Uuid::from_u128),
            measure_code: code.into(),
            observed_at: day(d),
            source,
            recorded_by: Uuid::from_u128(3),
            values,
            score,
            note: None,
            status: MeasurementStatus::Final,
            supersedes: None,
            superseded_by: None,
            reason: None,
            created_at: day(d),
        }
    }

    /// A client's PSFS rating of one activity for goal 10, on day `d`.
    fn psfs_one(d: i64, r: f64) -> Measurement {
        rated(
            Some(10),
            "psfs",
            Source::ClientSelfReport,
            d,
            activities(&[r]),
        )
    }

    fn value(v: f64) -> Values {
        Values {
            value: Some(v),
            ..Default::default()
        }
    }

    fn activities(ratings: &[f64]) -> Values {
        Values {
            items: Some(
                ratings
                    .iter()
                    .map(|r| Item {
                        label: Some("climb stairs".into()),
                        value: Some(*r),
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn copm(performance: f64, satisfaction: f64) -> Values {
        Values {
            problems: Some(vec![CopmProblem {
                problem: "cooking".into(),
                importance: 9.0,
                performance,
                satisfaction,
            }]),
            ..Default::default()
        }
    }

    fn progress_of(goals: &[Goal], ms: &[Measurement]) -> EpisodeProgress {
        let catalogue = crate::measure::catalogue();
        episode_progress(goals, ms, |code| catalogue.iter().find(|m| m.code == code))
    }

    #[test]
    fn a_single_psfs_activity_needs_three_points() {
        // PSFS is the client's questionnaire: the client's values make the headline.
        // One activity 4 -> 6: +2 < 3 (Stratford 1995, single activity): not meaningful.
        let g = goal(10, GoalStatus::Active, Some("psfs"), None);
        let one = psfs_one;
        let p = progress_of(std::slice::from_ref(&g), &[one(0, 4.0), one(7, 6.0)]);
        let line = p.goals[0]
            .progress
            .clone()
            .unwrap_or_else(|| panic!("progress"));
        assert_eq!((line.change, line.threshold), (Some(2.0), 3.0));
        assert!(!line.meaningful_change);
        assert_eq!(p.goals[0].primary_source, Some(Source::ClientSelfReport));
        // 4 -> 7 on one activity: +3 is meaningful.
        let p = progress_of(std::slice::from_ref(&g), &[one(0, 4.0), one(7, 7.0)]);
        assert!(p.goals[0]
            .progress
            .as_ref()
            .is_some_and(|l| l.meaningful_change));
        // Three activities: means (3+4+5)/3 = 4 -> (5+6+7)/3 = 6, +2 on the 2-point mean threshold.
        let three = |d, r: [f64; 3]| {
            rated(
                Some(10),
                "psfs",
                Source::ClientSelfReport,
                d,
                activities(&r),
            )
        };
        let p = progress_of(
            std::slice::from_ref(&g),
            &[three(0, [3.0, 4.0, 5.0]), three(7, [5.0, 6.0, 7.0])],
        );
        let line = p.goals[0]
            .progress
            .clone()
            .unwrap_or_else(|| panic!("progress"));
        assert_eq!((line.threshold, line.meaningful_change), (2.0, true));
        // Milestones follow the same rule: one activity 4 -> 6 is no meaningful change.
        let psfs = measure("psfs");
        let kinds: Vec<MilestoneKind> =
            goal_value_milestones(&g, &psfs, &[one(0, 4.0), one(7, 6.0)])
                .into_iter()
                .map(|m| m.kind)
                .collect();
        assert_eq!(kinds, vec![MilestoneKind::PersonalBest]);
    }

    #[test]
    fn a_new_value_reaches_only_the_milestones_it_makes() {
        // PSFS, one activity, client self-report (its primary source); a meaningful
        // change is 3 points for one activity. Values 4 (baseline) then 5: a personal
        // best, no meaningful change; then 7: +3 from 4, the first meaningful change
        // and a personal best; then 6: neither.
        let g = goal(10, GoalStatus::Active, Some("psfs"), None);
        let psfs = measure("psfs");
        let one = psfs_one;
        let (a, b, c, d) = (one(0, 4.0), one(7, 5.0), one(14, 7.0), one(21, 6.0));
        let kinds = |before: &[Measurement], new: &Measurement| -> Vec<MilestoneKind> {
            milestones_reached(&g, &psfs, before, new)
                .into_iter()
                .map(|m| m.kind)
                .collect()
        };
        assert_eq!(kinds(&[], &a), vec![]);
        assert_eq!(
            kinds(std::slice::from_ref(&a), &b),
            vec![MilestoneKind::PersonalBest]
        );
        assert_eq!(
            kinds(&[a.clone(), b.clone()], &c),
            vec![MilestoneKind::MeaningfulChange, MilestoneKind::PersonalBest]
        );
        assert_eq!(kinds(&[a.clone(), b.clone(), c.clone()], &d), vec![]);
        // A value dated before the others is placed in time order: 7 at day 3 is
        // then the meaningful change and the best, and 5 at day 7 makes nothing new.
        let early = one(3, 7.0);
        assert_eq!(
            kinds(&[a.clone(), b.clone()], &early),
            vec![MilestoneKind::MeaningfulChange, MilestoneKind::PersonalBest]
        );
    }

    proptest::proptest! {
        /// Taking one value at a time from the stored state reaches exactly what
        /// reading every value again does, for NRS, single-activity PSFS (a threshold
        /// set by the first value) and GAS (a recorded baseline).
        #[test]
        fn one_step_at_a_time_reaches_what_reading_them_all_reaches(
            values in proptest::collection::vec(0u8..=10, 1..12),
            which in 0usize..3,
        ) {
            let (code, source, gas_baseline) = [
                ("nrs", Source::Therapist, None),
                ("psfs", Source::ClientSelfReport, None),
                ("gas", Source::Therapist, Some(-1)),
            ][which];
            let g = goal(10, GoalStatus::Active, Some(code), gas_baseline);
            let m = measure(code);
            let rate = |d: i64, v: u8| {
                let v = if code == "gas" { f64::from(v % 5) - 2.0 } else { f64::from(v) };
                let values = if code == "psfs" { activities(&[v]) } else { value(v) };
                rated(Some(10), code, source, d, values)
            };
            let all: Vec<Measurement> =
                values.iter().enumerate().map(|(d, v)| rate(d as i64, *v)).collect();
            let mut state = milestone_state(&g, &m, &[]);
            let first = all.first().map(|f| f.values.clone());
            for (i, new) in all.iter().enumerate() {
                let stepped = next_milestones(state.as_ref(), &g, &m, first.as_ref(), new);
                let (reached, next) = stepped.unwrap_or_else(|| panic!("in order"));
                proptest::prop_assert_eq!(&reached, &milestones_reached(&g, &m, &all[..i], new));
                let fresh = milestone_state(&g, &m, &all[..=i]);
                proptest::prop_assert_eq!(Some(&next), fresh.as_ref());
                state = Some(next);
            }
            // A value dated before the latest does not follow on.
            if let Some(s) = &state {
                let early = rate(0, 5);
                proptest::prop_assert!(s.last.is_none()
                    || next_milestones(Some(s), &g, &m, first.as_ref(), &early).is_none());
            }
        }
    }

    #[test]
    fn the_gas_summary_counts_agreed_rated_goals_from_their_recorded_baseline() {
        // Goal 1: expected baseline -1, the therapist rates 0: baseline -1, change +1.
        // Goal 2: never rated. Goal 3: proposed. Goal 4: rated by the client only.
        // Goal 5: cancelled. Goal 6: no scale, rated -2 then -1: baseline -2 (first rating).
        let goals = [
            goal(1, GoalStatus::Active, Some("gas"), Some(-1)),
            goal(2, GoalStatus::Active, None, Some(-1)),
            goal(3, GoalStatus::Proposed, None, Some(-1)),
            goal(4, GoalStatus::Active, None, Some(-2)),
            goal(5, GoalStatus::Cancelled, None, Some(-1)),
            goal(6, GoalStatus::OnHold, None, None),
            goal(7, GoalStatus::Active, Some("nrs"), None),
        ];
        let ms = [
            rated(Some(1), "gas", Source::Therapist, 1, value(0.0)),
            rated(Some(3), "gas", Source::Therapist, 2, value(1.0)),
            rated(Some(4), "gas", Source::ClientSelfReport, 3, value(2.0)),
            rated(Some(6), "gas", Source::Therapist, 4, value(-2.0)),
            rated(Some(6), "gas", Source::Therapist, 5, value(-1.0)),
        ];
        let p = progress_of(&goals, &ms);
        let g1 = &p.goals[0];
        let line = g1.progress.clone().unwrap_or_else(|| panic!("progress"));
        assert_eq!(
            (line.baseline, line.baseline_from, line.latest, line.change),
            (Some(-1.0), BaselineFrom::Recorded, Some(0.0), Some(1.0))
        );
        assert!(
            line.meaningful_change,
            "one level from the recorded baseline"
        );
        let gas = g1.gas.clone().unwrap_or_else(|| panic!("gas"));
        assert_eq!(
            (gas.baseline, gas.level, gas.change, gas.excluded),
            (Some(-1), Some(0), Some(1), None)
        );
        assert_eq!(
            p.goals[3].gas_level, None,
            "the client's own rating is shown apart"
        );
        assert_eq!(p.goals[3].reports[0].source, Source::ClientSelfReport);
        let g6 = p.goals[5].gas.clone().unwrap_or_else(|| panic!("gas"));
        assert_eq!(
            (g6.baseline, g6.baseline_from, g6.level, g6.change),
            (Some(-2), BaselineFrom::FirstValue, Some(-1), Some(1))
        );
        assert_eq!(
            p.goals[6].gas, None,
            "no scale and no rating: not a GAS goal"
        );
        let s = p.gas.unwrap_or_else(|| panic!("summary"));
        assert_eq!((s.source, s.goals), (Source::Therapist, 2));
        assert_eq!(
            s.excluded,
            vec![
                GasExcluded {
                    reason: GasExclusion::NotAgreed,
                    goals: 1
                },
                GasExcluded {
                    reason: GasExclusion::Cancelled,
                    goals: 1
                },
                GasExcluded {
                    reason: GasExclusion::NotRated,
                    goals: 2
                },
            ]
        );
        // Counted: goal 1 (-1 -> 0) and goal 6 (-2 -> -1), both weight 1.
        // Baseline: 50 + 10(-3)/sqrt(0.7*2 + 0.3*4) = 50 - 30/1.61245 = 31.3948.
        // Now: 50 + 10(-1)/sqrt(2.6) = 43.7983.
        assert!(
            close(s.baseline_t, 31.3948) && close(s.current_t, 43.7983),
            "{s:?}"
        );
        assert!(close(s.weighted_baseline_t, 31.3948) && close(s.weighted_current_t, 43.7983));
        // The case alone: baseline -1, first rating 0: T 40 -> 50, and the goal says +1.
        let p = progress_of(&goals[..1], &ms[..1]);
        let s = p.gas.unwrap_or_else(|| panic!("summary"));
        assert!(close(s.baseline_t, 40.0) && close(s.current_t, 50.0));
    }

    #[test]
    fn a_clients_own_copm_is_kept_apart_from_the_therapists() {
        // Only the client's self-report: no episode COPM (COPM is therapist-led), but
        // the self-report is shown by source: 4 -> 7, +3.
        let client = |d, p, s| rated(None, "copm", Source::ClientSelfReport, d, copm(p, s));
        let p = progress_of(&[], &[client(0, 4.0, 4.0), client(14, 7.0, 6.0)]);
        assert_eq!(p.copm, None);
        assert_eq!(p.copm_by_source.len(), 1);
        assert_eq!(p.copm_by_source[0].source, Source::ClientSelfReport);
        assert_eq!(p.copm_by_source[0].performance.change, 3.0);
        // The therapist's interview 5 -> 6 is the episode's COPM; the client's 2 -> 9
        // (recorded first) does not become its baseline.
        let therapist = |d, p, s| rated(None, "copm", Source::Therapist, d, copm(p, s));
        let p = progress_of(
            &[],
            &[
                client(0, 2.0, 2.0),
                therapist(1, 5.0, 5.0),
                client(13, 9.0, 9.0),
                therapist(14, 6.0, 7.0),
            ],
        );
        let c = p.copm.unwrap_or_else(|| panic!("copm"));
        assert_eq!((c.source, c.assessments), (Source::Therapist, 2));
        assert_eq!((c.performance.first, c.performance.change), (5.0, 1.0));
        assert!(!c.performance.meaningful && c.satisfaction.meaningful);
        let sources: Vec<Source> = p.copm_by_source.iter().map(|c| c.source).collect();
        assert_eq!(sources, vec![Source::Therapist, Source::ClientSelfReport]);
    }

    #[test]
    fn each_source_has_its_own_line_and_milestones_come_from_the_primary() {
        // NRS: the therapist is the primary source: 2, 3, 4; the client says 3 then 9.
        let g = goal(7, GoalStatus::Active, Some("nrs"), None);
        let ms = [
            rated(Some(7), "nrs", Source::Therapist, 0, value(2.0)),
            rated(Some(7), "nrs", Source::ClientSelfReport, 1, value(3.0)),
            rated(Some(7), "nrs", Source::Therapist, 7, value(3.0)),
            rated(Some(7), "nrs", Source::ClientSelfReport, 8, value(9.0)),
            rated(Some(7), "nrs", Source::Therapist, 14, value(4.0)),
        ];
        let p = progress_of(std::slice::from_ref(&g), &ms);
        let line = &p.goals[0];
        assert_eq!(line.primary_source, Some(Source::Therapist));
        assert_eq!(line.progress.as_ref().and_then(|p| p.latest), Some(4.0));
        let sides: Vec<(Source, Option<f64>, Option<f64>)> = line
            .by_source
            .iter()
            .map(|s| (s.source, s.progress.baseline, s.progress.change))
            .collect();
        assert_eq!(
            sides,
            vec![
                (Source::Therapist, Some(2.0), Some(2.0)),
                (Source::ClientSelfReport, Some(3.0), Some(6.0))
            ]
        );
        // Personal bests 3 and 4 (therapist); the client's 9 is no milestone.
        let bests: Vec<(MilestoneKind, Option<f64>)> =
            goal_value_milestones(&g, &measure("nrs"), &ms)
                .into_iter()
                .map(|m| (m.kind, m.value))
                .collect();
        assert_eq!(
            bests,
            vec![
                (MilestoneKind::PersonalBest, Some(3.0)),
                (MilestoneKind::MeaningfulChange, Some(4.0)),
                (MilestoneKind::PersonalBest, Some(4.0)),
            ]
        );
    }

    #[test]
    fn the_trend_follows_the_last_four_weeks() {
        // Weekly 2, 2, 2, 2, 2, 2, 3, 4, 5, 6 (weeks 0-9). The last four weeks before
        // week 9 hold weeks 5-9: 2, 3, 4, 5, 6, a straight line of 1/week. (The last
        // eight values, weeks 2-9, gave Sxy/Sxx = 25/42 = 0.595/week.)
        let weekly = [2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let points = values_on(
            &weekly
                .iter()
                .enumerate()
                .map(|(w, v)| (w as i64 * 7, *v))
                .collect::<Vec<_>>(),
        );
        assert!(close(trend_per_week(&points[2..]), 25.0 / 42.0));
        // Target 10 by week 14: the line y = 2 + (week - 5) reaches 10 at week 13: on track.
        let p = goal_progress(
            &measure("nrs"),
            &points,
            Some(10.0),
            Some(day(98).date_naive()),
        );
        assert!(close(p.trend_per_week, 1.0));
        assert_eq!(
            p.trend_window,
            Some(TrendWindow {
                from: day(35),
                to: day(63),
                values: 5
            })
        );
        assert_eq!(p.projected_date, Some(day(91).date_naive()));
        assert_eq!(p.outlook, Outlook::OnTrack);
        // Monthly values: the last four weeks hold one value, so the last three are used.
        let monthly = values_on(&[(0, 1.0), (30, 2.0), (60, 4.0), (90, 6.0)]);
        let w = trend_window(&monthly);
        assert_eq!((w.len(), w[0].at), (3, day(30)));
        assert!(trend_window(&monthly[..2]).is_empty());
    }

    #[test]
    fn a_goal_is_agreed_once_however_often_it_is_revised() {
        use crate::goal::{GoalEvent, GoalEventKind};
        let event = |kind, status, revision, d| GoalEvent {
            kind,
            status,
            revision,
            actor_id: Uuid::from_u128(3),
            at: day(d),
        };
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let events = [
            (
                a,
                event(GoalEventKind::Proposed, GoalStatus::Proposed, 1, 0),
            ),
            (a, event(GoalEventKind::Activated, GoalStatus::Active, 1, 1)),
            (b, event(GoalEventKind::Activated, GoalStatus::Active, 1, 2)),
            (a, event(GoalEventKind::Revised, GoalStatus::Proposed, 2, 3)),
            (a, event(GoalEventKind::Activated, GoalStatus::Active, 2, 4)),
            (
                a,
                event(GoalEventKind::StatusChanged, GoalStatus::Achieved, 2, 5),
            ),
        ];
        let found: Vec<(Uuid, MilestoneKind, DateTime<Utc>)> = event_milestones(&events)
            .into_iter()
            .map(|(g, m)| (g, m.kind, m.at))
            .collect();
        assert_eq!(
            found,
            vec![
                (a, MilestoneKind::GoalAgreed, day(1)),
                (b, MilestoneKind::GoalAgreed, day(2)),
                (a, MilestoneKind::GoalAchieved, day(5)),
            ]
        );
    }

    #[test]
    fn figures_are_rounded_for_display_only() {
        // 7.0 - 5.0000000000000004 style errors: shown as 2, 16.666... as 16.7.
        assert_eq!(shown(1.999_999_999_999_999_6, VALUE_DECIMALS), 2.0);
        assert_eq!(shown(16.666_666_666_666_664, PERCENT_DECIMALS), 16.7);
        assert_eq!(shown(37.596_5, T_SCORE_DECIMALS), 37.6);
        assert_eq!(shown(-0.001, VALUE_DECIMALS).to_string(), "0", "never -0");
        // The threshold is decided on the exact value: (4 + 5 + 6)/3 - 3 = 2 exactly
        // meets COPM's 2 points, and 1.995 (shown as 2) does not.
        assert!(Change::new(&measure("copm"), 3.0, 5.0).meaningful);
        assert!(!Change::new(&measure("copm"), 3.0, 4.995).meaningful);
        assert_eq!(shown(4.995 - 3.0, VALUE_DECIMALS), 2.0);
    }

    proptest! {
        #[test]
        fn a_better_level_never_lowers_the_gas_t_score(levels in proptest::collection::vec(-2i32..=2, 1..8), weights in proptest::collection::vec(1u8..=10, 8), i in 0usize..8) {
            let i = i % levels.len();
            let goals: Vec<(f64, f64)> = levels.iter().zip(&weights).map(|(l, w)| (f64::from(*l), f64::from(*w))).collect();
            let before = gas_t_score(&goals).unwrap_or_default();
            if levels[i] < 2 {
                let mut better = goals.clone();
                better[i].0 += 1.0;
                prop_assert!(gas_t_score(&better).unwrap_or_default() > before);
            }
            let unweighted = gas_t_score_unweighted(&levels.iter().map(|l| f64::from(*l)).collect::<Vec<_>>()).unwrap_or_default();
            prop_assert!((0.0..=100.0).contains(&unweighted));
        }

        #[test]
        fn direction_is_respected(values in proptest::collection::vec(0u8..=100, 2..12)) {
            // The same series read on a lower-is-better scale mirrors higher-is-better.
            let points: Vec<Point> = values.iter().enumerate().map(|(i, v)| Point { at: day(i as i64 * 7), value: f64::from(*v) }).collect();
            let mut up = measure("nrs");
            up.min = 0.0; up.max = 100.0;
            let mut down = up.clone();
            down.direction = crate::measure::Direction::LowerIsBetter;
            let pu = goal_progress(&up, &points, None, None);
            let pd = goal_progress(&down, &points, None, None);
            let mirrored = match pu.achievement {
                Achievement::Improving => Achievement::Worsening,
                Achievement::Worsening => Achievement::Improving,
                other => other,
            };
            prop_assert_eq!(pd.achievement, mirrored);
            prop_assert!(!(pu.meaningful_change && pd.meaningful_change));
            let best_up = pu.best.unwrap_or_default();
            let best_down = pd.best.unwrap_or_default();
            prop_assert!(values.iter().all(|v| f64::from(*v) <= best_up && f64::from(*v) >= best_down));
        }

        #[test]
        fn adding_a_better_value_never_makes_the_best_worse(values in proptest::collection::vec(0u8..=10, 1..10), extra in 0u8..=10) {
            let nrs = measure("nrs");
            let mut points: Vec<Point> = values.iter().enumerate().map(|(i, v)| Point { at: day(i as i64), value: f64::from(*v) }).collect();
            let before = goal_progress(&nrs, &points, None, None).best.unwrap_or_default();
            points.push(Point { at: day(100), value: f64::from(extra) });
            let after = goal_progress(&nrs, &points, None, None).best.unwrap_or_default();
            prop_assert!(after >= before);
        }
    }
}
