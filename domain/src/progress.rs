//! Progress arithmetic: pure functions over scored values, unit-tested against
//! worked examples and property-tested. Storage keeps their results up to date at
//! write time; nothing here knows where the numbers came from.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;

use crate::identity::text_enum;

use crate::{
    goal::{Goal, GoalStatus},
    measure::{Measurement, OutcomeMeasure, Source},
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

/// How many recent values the trend looks at.
pub const TREND_WINDOW: usize = 8;

/// Progress toward one goal on one measure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalProgress {
    pub values: usize,
    pub baseline: Option<f64>,
    pub latest: Option<f64>,
    pub latest_at: Option<DateTime<Utc>>,
    pub best: Option<f64>,
    pub change: Option<f64>,
    /// How far from baseline to target, in percent (may exceed 100 or be negative).
    pub percent_to_target: Option<f64>,
    pub meaningful_change: bool,
    pub trend_per_week: Option<f64>,
    pub projected_date: Option<NaiveDate>,
    pub outlook: Outlook,
    pub achievement: Achievement,
}

/// Computes a goal's progress from its values in time order.
pub fn goal_progress(
    measure: &OutcomeMeasure,
    points: &[Point],
    target: Option<f64>,
    target_date: Option<NaiveDate>,
) -> GoalProgress {
    let baseline = points.first().map(|p| p.value);
    let latest = points.last().map(|p| p.value);
    let best = points
        .iter()
        .map(|p| p.value)
        .reduce(|a, b| if measure.better(b, a) { b } else { a });
    let change = baseline.zip(latest).map(|(b, l)| l - b);
    let improvement = baseline.zip(latest).map(|(b, l)| measure.improvement(b, l));
    let meaningful =
        points.len() >= 2 && improvement.is_some_and(|i| i >= measure.meaningful_change - 1e-9);
    let percent_to_target = match (baseline, latest, target) {
        (Some(b), Some(l), Some(t)) if (t - b).abs() > 1e-12 => Some((l - b) / (t - b) * 100.0),
        _ => None,
    };
    let recent = &points[points.len().saturating_sub(TREND_WINDOW)..];
    let trend = if recent.len() >= 3 {
        trend_per_week(recent)
    } else {
        None
    };
    let reached = latest
        .zip(target)
        .is_some_and(|(l, t)| measure.improvement(t, l) >= -1e-9);
    let projected = if reached {
        None
    } else {
        target.and_then(|t| {
            if recent.len() >= 3 {
                projected_date(recent, t)
            } else {
                None
            }
        })
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
        _ if reached && points.len() >= 2 => Achievement::Achieved,
        None => Achievement::InProgress,
        Some(_) if points.len() < 2 => Achievement::InProgress,
        Some(i) if i > 1e-9 => Achievement::Improving,
        Some(i) if i < -1e-9 => Achievement::Worsening,
        Some(_) => Achievement::NoChange,
    };
    GoalProgress {
        values: points.len(),
        baseline,
        latest,
        latest_at: points.last().map(|p| p.at),
        best,
        change,
        percent_to_target,
        meaningful_change: meaningful,
        trend_per_week: trend,
        projected_date: projected.map(|p| p.date_naive()),
        outlook,
        achievement,
    }
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
    }
);

/// Milestones a goal's values reached: the first meaningful change from baseline,
/// and every new personal best after the baseline.
pub fn value_milestones(measure: &OutcomeMeasure, points: &[Point]) -> Vec<Milestone> {
    let mut out = Vec::new();
    let Some(first) = points.first() else {
        return out;
    };
    let mut best = first.value;
    let mut meaningful = false;
    for p in &points[1..] {
        if !meaningful
            && measure.improvement(first.value, p.value) >= measure.meaningful_change - 1e-9
        {
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

/// One goal's line in the progress view.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalSummary {
    pub goal_id: uuid::Uuid,
    /// Progress on the goal's measure, from the care team's values (or, without
    /// them, from the client's own reports).
    pub progress: Option<GoalProgress>,
    /// The latest Goal Attainment Scaling level, -2..+2.
    pub gas_level: Option<i32>,
    /// Latest value per source, so client and therapist ratings sit side by side.
    pub reports: Vec<SourceReport>,
    /// Client and therapist disagree by at least the measure's meaningful change.
    pub disagreement: bool,
}

/// GAS summary T-scores at baseline and now, unweighted and weighted by importance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GasSummary {
    pub goals: usize,
    pub baseline_t: Option<f64>,
    pub current_t: Option<f64>,
    pub weighted_baseline_t: Option<f64>,
    pub weighted_current_t: Option<f64>,
}

/// COPM at first assessment and latest reassessment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CopmSummary {
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
    pub copm: Option<CopmSummary>,
    pub goals: Vec<GoalSummary>,
}

fn of_goal<'a>(current: &[&'a Measurement], goal: uuid::Uuid, code: &str) -> Vec<&'a Measurement> {
    current
        .iter()
        .filter(|m| m.goal_id == Some(goal) && m.measure_code == code)
        .copied()
        .collect()
}

fn team_source(s: Source) -> bool {
    matches!(s, Source::Therapist | Source::Imported)
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
    let mut summaries = Vec::new();
    let (mut gas_baseline, mut gas_current) = (Vec::new(), Vec::new());
    for g in goals {
        let of_goal = |code: &str| of_goal(&current, g.id, code).into_iter();
        let progress = g.content.measure_code.as_deref().and_then(|code| {
            let measure = measure_of(code)?;
            let team: Vec<Point> = of_goal(code)
                .filter(|m| team_source(m.source))
                .map(|m| Point {
                    at: m.observed_at,
                    value: m.score.score,
                })
                .collect();
            let points = if team.is_empty() {
                of_goal(code)
                    .map(|m| Point {
                        at: m.observed_at,
                        value: m.score.score,
                    })
                    .collect()
            } else {
                team
            };
            Some(goal_progress(
                measure,
                &points,
                g.content.target_value,
                g.content.target_date,
            ))
        });
        let gas_values: Vec<&Measurement> = of_goal("gas").collect();
        let gas_level = gas_values
            .iter()
            .rev()
            .find(|m| team_source(m.source))
            .or_else(|| gas_values.last())
            .map(|m| m.score.score.round() as i32);
        if g.status != GoalStatus::Cancelled {
            if let Some(scale) = &g.content.gas {
                let weight = f64::from(g.content.importance);
                gas_baseline.push((f64::from(scale.baseline), weight));
                gas_current.push((f64::from(gas_level.unwrap_or(scale.baseline)), weight));
            }
        }
        let report_code = g.content.measure_code.as_deref().unwrap_or("gas");
        let mut reports: Vec<SourceReport> = Vec::new();
        for m in of_goal(report_code) {
            reports.retain(|r| r.source != m.source);
            reports.push(SourceReport {
                source: m.source,
                value: m.score.score,
                at: m.observed_at,
            });
        }
        reports.sort_by_key(|r| r.source);
        let client = reports
            .iter()
            .find(|r| r.source == Source::ClientSelfReport);
        let therapist = reports.iter().find(|r| r.source == Source::Therapist);
        let disagreement = match (client, therapist, measure_of(report_code)) {
            (Some(c), Some(t), Some(m)) => (c.value - t.value).abs() >= m.meaningful_change - 1e-9,
            _ => false,
        };
        summaries.push(GoalSummary {
            goal_id: g.id,
            progress,
            gas_level,
            reports,
            disagreement,
        });
    }
    let gas = (!gas_baseline.is_empty()).then(|| {
        let levels = |v: &[(f64, f64)]| v.iter().map(|(x, _)| *x).collect::<Vec<_>>();
        GasSummary {
            goals: gas_baseline.len(),
            baseline_t: gas_t_score_unweighted(&levels(&gas_baseline)),
            current_t: gas_t_score_unweighted(&levels(&gas_current)),
            weighted_baseline_t: gas_t_score(&gas_baseline),
            weighted_current_t: gas_t_score(&gas_current),
        }
    });
    let copm_all: Vec<&&Measurement> = current
        .iter()
        .filter(|m| m.measure_code == "copm")
        .collect();
    let copm = match (copm_all.first(), copm_all.last(), measure_of("copm")) {
        (Some(first), Some(latest), Some(measure)) => Some(CopmSummary {
            assessments: copm_all.len(),
            first_at: first.observed_at,
            latest_at: latest.observed_at,
            performance: Change::new(measure, first.score.score, latest.score.score),
            satisfaction: Change::new(
                measure,
                first.score.satisfaction.unwrap_or(f64::NAN),
                latest.score.satisfaction.unwrap_or(f64::NAN),
            ),
        }),
        _ => None,
    };
    EpisodeProgress {
        goals_by_status,
        gas,
        copm,
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
