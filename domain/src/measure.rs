//! Outcome measures: the built-in catalogue, clinic-defined scales, and the scoring
//! rules that turn what someone reported into a score. Values are checked, never
//! clamped or rounded.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{error::Problems, identity::text_enum, Invalid};

text_enum!(
    /// Which way is better.
    Direction {
        HigherIsBetter => "higher-is-better",
        LowerIsBetter => "lower-is-better",
    }
);

text_enum!(
    /// Where a measurement came from.
    Source {
        Therapist => "therapist",
        ClientSelfReport => "client",
        Caregiver => "caregiver",
        Imported => "imported",
    }
);

text_enum!(
    /// How a measure's values become a score.
    Instrument {
        /// Canadian Occupational Performance Measure: up to five problems, each rated
        /// for importance, performance and satisfaction (1-10).
        Copm => "copm",
        /// Goal Attainment Scaling: one level, -2..+2, for one goal.
        Gas => "gas",
        /// Patient-Specific Functional Scale: 1-5 activities rated 0-10; score = mean.
        Psfs => "psfs",
        /// QuickDASH: 11 items 1-5, at most one missing; ((sum/n) - 1) * 25.
        QuickDash => "quickdash",
        /// Lower Extremity Functional Scale: 20 items 0-4; score = sum.
        Lefs => "lefs",
        /// One value on the measure's scale (numeric rating scales, clinic measures).
        Scale => "scale",
    }
);

/// An outcome measure: built in (no organization) or defined by a clinic.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeMeasure {
    pub code: String,
    pub name: String,
    pub instrument: Instrument,
    /// The score's range and granularity.
    pub min: f64,
    pub max: f64,
    pub step: f64,
    pub unit: Option<String>,
    pub direction: Direction,
    /// The smallest change that matters clinically, in score points.
    pub meaningful_change: f64,
    pub meaningful_change_source: String,
    /// Sources that may report this measure.
    pub reporters: Vec<Source>,
    pub organization_id: Option<Uuid>,
    /// The clinic's choice of whose values its figures follow, when it made one
    /// ([`OutcomeMeasure::choose_primary`]); else the rule in `primary_source`.
    pub chosen_primary: Option<Source>,
}

/// One rated item (QuickDASH, LEFS, PSFS). `value: None` is a missing answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub label: Option<String>,
    pub value: Option<f64>,
}

/// One COPM occupational problem.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CopmProblem {
    pub problem: String,
    pub importance: f64,
    pub performance: f64,
    pub satisfaction: f64,
}

/// What a measurement reports, before scoring. Which part is used depends on the
/// instrument; the others must be absent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Values {
    pub value: Option<f64>,
    pub items: Option<Vec<Item>>,
    pub problems: Option<Vec<CopmProblem>>,
}

/// A scored measurement. For COPM, `score` is the performance score and
/// `satisfaction` the satisfaction score.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Score {
    pub score: f64,
    pub satisfaction: Option<f64>,
}

const EPS: f64 = 1e-9;

fn on_scale(p: &mut Problems, field: &str, v: f64, min: f64, max: f64, step: f64) -> bool {
    if !v.is_finite() {
        p.add(field, "must be a number");
        return false;
    }
    if v < min - EPS || v > max + EPS {
        p.add(field, format!("must be between {min} and {max}"));
        return false;
    }
    if step > 0.0 {
        let steps = (v - min) / step;
        if (steps - steps.round()).abs() > 1e-6 {
            p.add(field, off_step(min, step));
            return false;
        }
    }
    true
}

/// What a value off the scale's steps is told, in plain words: "must be a whole
/// number", or "must go in steps of 0.5 (0, 0.5, 1 and so on)".
fn off_step(min: f64, step: f64) -> String {
    let whole = |x: f64| (x - x.round()).abs() < 1e-9;
    // Sums such as 0.1 + 0.2 are shown as people write them, not as 0.30000000000000004.
    let plain = |x: f64| (x * 1e6).round() / 1e6 + 0.0;
    if step == 1.0 && whole(min) {
        "must be a whole number".to_owned()
    } else {
        format!(
            "must go in steps of {} ({}, {}, {} and so on)",
            plain(step),
            plain(min),
            plain(min + step),
            plain(min + 2.0 * step)
        )
    }
}

/// What too many unanswered items are told, in plain words.
fn too_many_unanswered(max_missing: usize, missing: usize) -> String {
    match max_missing {
        0 => "every item must be answered".to_owned(),
        1 => format!("one item may be left unanswered, not {missing}"),
        n => format!("at most {n} items may be left unanswered, not {missing}"),
    }
}

fn mean(xs: &[f64]) -> f64 {
    xs.iter().sum::<f64>() / xs.len() as f64
}

impl OutcomeMeasure {
    /// Whether `source` may report this measure.
    pub fn allows(&self, source: Source) -> bool {
        source == Source::Imported || self.reporters.contains(&source)
    }

    /// Checks the values against the measure and scores them. Field names in errors
    /// are relative to `values` (e.g. `values.items[3].value`).
    pub fn score(&self, v: &Values) -> Result<Score, Invalid> {
        let mut p = Problems::default();
        let uses = |value: bool, items: bool, problems: bool, p: &mut Problems| {
            for (present, wanted, name) in [
                (v.value.is_some(), value, "value"),
                (v.items.is_some(), items, "items"),
                (v.problems.is_some(), problems, "problems"),
            ] {
                if present && !wanted {
                    p.add(
                        format!("values.{name}"),
                        format!("is not used by {}", self.name),
                    );
                }
                if !present && wanted {
                    p.add(format!("values.{name}"), "is required");
                }
            }
        };
        let score = match self.instrument {
            Instrument::Gas | Instrument::Scale => {
                uses(true, false, false, &mut p);
                let value = v.value.unwrap_or(f64::NAN);
                if v.value.is_some() {
                    on_scale(&mut p, "values.value", value, self.min, self.max, self.step);
                }
                Score {
                    score: value,
                    satisfaction: None,
                }
            }
            Instrument::Copm => {
                uses(false, false, true, &mut p);
                let problems = v.problems.as_deref().unwrap_or_default();
                if v.problems.is_some() && !(1..=5).contains(&problems.len()) {
                    p.add("values.problems", "must list 1 to 5 problems");
                }
                for (i, pr) in problems.iter().enumerate() {
                    if pr.problem.trim().is_empty() || pr.problem.chars().count() > 200 {
                        p.add(
                            format!("values.problems[{i}].problem"),
                            "must be 1 to 200 characters",
                        );
                    }
                    for (name, x) in [
                        ("importance", pr.importance),
                        ("performance", pr.performance),
                        ("satisfaction", pr.satisfaction),
                    ] {
                        on_scale(
                            &mut p,
                            &format!("values.problems[{i}].{name}"),
                            x,
                            1.0,
                            10.0,
                            1.0,
                        );
                    }
                }
                let perf: Vec<f64> = problems.iter().map(|x| x.performance).collect();
                let sat: Vec<f64> = problems.iter().map(|x| x.satisfaction).collect();
                Score {
                    score: mean(&perf),
                    satisfaction: Some(mean(&sat)),
                }
            }
            Instrument::Psfs | Instrument::QuickDash | Instrument::Lefs => {
                uses(false, true, false, &mut p);
                let items = v.items.as_deref().unwrap_or_default();
                let (count_ok, item_min, item_max, max_missing) = match self.instrument {
                    Instrument::Psfs => ((1..=5).contains(&items.len()), 0.0, 10.0, 0),
                    Instrument::QuickDash => (items.len() == 11, 1.0, 5.0, 1),
                    _ => (items.len() == 20, 0.0, 4.0, 0),
                };
                if v.items.is_some() && !count_ok {
                    let rule = match self.instrument {
                        Instrument::Psfs => "must list 1 to 5 activities",
                        Instrument::QuickDash => "must have exactly 11 items",
                        _ => "must have exactly 20 items",
                    };
                    p.add("values.items", rule);
                }
                let mut answered = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let field = format!("values.items[{i}].value");
                    match item.value {
                        // on_scale records the problem when the value is off the scale.
                        Some(x) if on_scale(&mut p, &field, x, item_min, item_max, 1.0) => {
                            answered.push(x)
                        }
                        Some(_) => {}
                        None if max_missing == 0 => {
                            p.add(format!("values.items[{i}].value"), "is required")
                        }
                        None => {}
                    }
                    if self.instrument == Instrument::Psfs
                        && item.label.as_deref().is_none_or(|l| l.trim().is_empty())
                    {
                        p.add(format!("values.items[{i}].label"), "must name the activity");
                    }
                }
                let missing = items.iter().filter(|i| i.value.is_none()).count();
                if missing > max_missing {
                    p.add("values.items", too_many_unanswered(max_missing, missing));
                }
                let score = match self.instrument {
                    Instrument::Psfs => mean(&answered),
                    Instrument::QuickDash => (mean(&answered) - 1.0) * 25.0,
                    _ => answered.iter().sum(),
                };
                Score {
                    score,
                    satisfaction: None,
                }
            }
        };
        p.finish()?;
        Ok(score)
    }

    /// The improvement from `from` to `to`, positive when better.
    pub fn improvement(&self, from: f64, to: f64) -> f64 {
        match self.direction {
            Direction::HigherIsBetter => to - from,
            Direction::LowerIsBetter => from - to,
        }
    }

    /// Whether [`Self::meaningful_change_between`] depends on the values at all (PSFS:
    /// how many activities were rated); otherwise it is `meaningful_change`.
    pub fn threshold_reads_values(&self) -> bool {
        self.instrument == Instrument::Psfs
    }

    /// The change that matters between a score reported with `from` and one reported
    /// with `to`. PSFS: 2 points for the mean of several activities, 3 when either
    /// score rates a single activity (Stratford et al. 1995, MDC90); every other
    /// measure: its `meaningful_change`.
    pub fn meaningful_change_between(&self, from: &Values, to: &Values) -> f64 {
        let single = |v: &Values| v.items.as_ref().is_some_and(|items| items.len() == 1);
        if self.instrument == Instrument::Psfs && (single(from) || single(to)) {
            PSFS_SINGLE_ACTIVITY_CHANGE.max(self.meaningful_change)
        } else {
            self.meaningful_change
        }
    }

    /// Whose values are this measure's headline figures (progress, GAS and COPM
    /// summaries, milestones); the other sources are shown beside them, never mixed
    /// in. The rule: COPM and GAS are led by the therapist (COPM is a therapist-led
    /// interview; GAS levels are rated by the clinician who set them); PSFS, QuickDASH
    /// and LEFS are questionnaires the client fills in, so the client; a numeric
    /// rating scale: the therapist; a clinic's own measure: the first reporter the
    /// clinic lists, so the clinic chooses.
    pub fn primary_source(&self) -> Source {
        if let Some(chosen) = self.chosen_primary {
            return chosen;
        }
        match self.instrument {
            Instrument::Copm | Instrument::Gas => Source::Therapist,
            Instrument::Psfs | Instrument::QuickDash | Instrument::Lefs => Source::ClientSelfReport,
            Instrument::Scale if self.organization_id.is_none() => Source::Therapist,
            Instrument::Scale => self.reporters.first().copied().unwrap_or(Source::Therapist),
        }
    }

    /// The clinic chooses whose values the figures follow: one of the sources that
    /// report the measure.
    pub fn choose_primary(mut self, source: Source) -> Result<Self, Invalid> {
        if !self.reporters.contains(&source) {
            let allowed: Vec<&str> = self.reporters.iter().map(|s| s.as_str()).collect();
            return Err(Invalid::field(
                "source",
                format!(
                    "must be one who reports {}: {}",
                    self.code,
                    allowed.join(", ")
                ),
            ));
        }
        self.chosen_primary = Some(source);
        Ok(self)
    }

    /// Whether `candidate` is better than `than`.
    pub fn better(&self, candidate: f64, than: f64) -> bool {
        self.improvement(than, candidate) > 0.0
    }
}

/// PSFS: the change that matters for a single activity's score (Stratford et al.
/// 1995, MDC90: 3 points for one activity, 2 for the mean of several).
pub const PSFS_SINGLE_ACTIVITY_CHANGE: f64 = 3.0;

fn builtin(
    code: &str,
    name: &str,
    instrument: Instrument,
    (min, max, step): (f64, f64, f64),
    direction: Direction,
    (mcid, source): (f64, &str),
    reporters: &[Source],
) -> OutcomeMeasure {
    OutcomeMeasure {
        code: code.to_owned(),
        name: name.to_owned(),
        instrument,
        min,
        max,
        step,
        unit: Some("points".to_owned()),
        direction,
        meaningful_change: mcid,
        meaningful_change_source: source.to_owned(),
        reporters: reporters.to_vec(),
        organization_id: None,
        chosen_primary: None,
    }
}

/// One measure of the built-in catalogue, by code.
pub fn built_in(code: &str) -> Option<OutcomeMeasure> {
    catalogue().into_iter().find(|m| m.code == code)
}

/// The built-in catalogue. Thresholds are data with their sources, not constants
/// buried in arithmetic.
pub fn catalogue() -> Vec<OutcomeMeasure> {
    use Source::*;
    vec![
        builtin(
            "copm",
            "Canadian Occupational Performance Measure",
            Instrument::Copm,
            (1.0, 10.0, 0.0),
            Direction::HigherIsBetter,
            (2.0, "Law et al., COPM manual: 2 points; Ohno et al. 2021 found 2.20 for performance and 2.06 for satisfaction; Eyssen et al. 2011 reported lower cut-offs"),
            &[Therapist, ClientSelfReport],
        ),
        builtin(
            "gas",
            "Goal Attainment Scaling",
            Instrument::Gas,
            (-2.0, 2.0, 1.0),
            Direction::HigherIsBetter,
            (1.0, "One level on the goal's own five-level scale (Kiresuk and Sherman 1968; Turner-Stokes, Clin Rehabil 2009;23:362): the scale's unit, not a published MCID"),
            &[Therapist, ClientSelfReport, Caregiver],
        ),
        builtin(
            "psfs",
            "Patient-Specific Functional Scale",
            Instrument::Psfs,
            (0.0, 10.0, 0.0),
            Direction::HigherIsBetter,
            (2.0, "Stratford et al. 1995 (Physiotherapy Canada 47:258): MDC90 2 points for the mean of several activities, 3 points for a single activity"),
            &[Therapist, ClientSelfReport],
        ),
        builtin(
            "quickdash",
            "QuickDASH",
            Instrument::QuickDash,
            (0.0, 100.0, 0.0),
            Direction::LowerIsBetter,
            (14.0, "Sorensen et al. 2013 (J Hand Surg Am 38:641): MCID 14 points"),
            &[Therapist, ClientSelfReport],
        ),
        builtin(
            "lefs",
            "Lower Extremity Functional Scale",
            Instrument::Lefs,
            (0.0, 80.0, 1.0),
            Direction::HigherIsBetter,
            (9.0, "Binkley et al. 1999 (Phys Ther 79:371): MCID 9 points"),
            &[Therapist, ClientSelfReport],
        ),
        builtin(
            "nrs",
            "Numeric rating scale (0-10)",
            Instrument::Scale,
            (0.0, 10.0, 1.0),
            Direction::HigherIsBetter,
            (2.0, "A common 2-point threshold for 0-10 rating scales, not from one study; confirm per use"),
            &[Therapist, ClientSelfReport, Caregiver],
        ),
    ]
}

/// A clinic's definition of its own measure, as sent.
#[derive(Debug, Clone)]
pub struct MeasureDefinition<'a> {
    pub code: &'a str,
    pub name: &'a str,
    pub unit: Option<&'a str>,
    pub min: f64,
    pub max: f64,
    /// 0 for a continuous scale.
    pub step: f64,
    pub direction: Direction,
    pub meaningful_change: f64,
    pub reporters: Vec<Source>,
}

/// The rules for a clinic-defined measure.
/// The longest unit a clinic measure may name ("seconds", "kg", "m/s", "degrees").
pub const UNIT_MAX: usize = 32;

pub fn custom(
    organization_id: Uuid,
    definition: MeasureDefinition<'_>,
) -> Result<OutcomeMeasure, Invalid> {
    let MeasureDefinition {
        code,
        name,
        unit,
        min,
        max,
        step,
        direction,
        meaningful_change,
        reporters,
    } = definition;
    let mut p = Problems::default();
    let code_ok = !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !code_ok {
        p.add("code", "must be 1-64 characters of a-z, 0-9 and -");
    } else if catalogue().iter().any(|m| m.code == code) {
        p.add("code", "is the code of a built-in measure");
    }
    if name.trim().is_empty() || name.chars().count() > 200 {
        p.add("name", "must be 1 to 200 characters");
    }
    let unit = unit.map(str::trim);
    if unit.is_some_and(|u| {
        u.is_empty() || u.chars().count() > UNIT_MAX || u.chars().any(char::is_control)
    }) {
        p.add(
            "unit",
            format!("must be 1 to {UNIT_MAX} characters on one line"),
        );
    }
    if !(min.is_finite() && max.is_finite() && min < max) {
        p.add("max", "must be greater than min");
    }
    if !(step.is_finite() && step >= 0.0 && step <= (max - min).abs()) {
        p.add(
            "step",
            "must be 0 (continuous) or a positive step within the range",
        );
    }
    if !(meaningful_change.is_finite()
        && meaningful_change > 0.0
        && meaningful_change <= (max - min).abs())
    {
        p.add("meaningful_change", "must be positive and within the range");
    }
    if reporters.is_empty() {
        p.add("reporters", "must name at least one reporter");
    }
    if reporters.contains(&Source::Imported) {
        p.add(
            "reporters",
            "imported values are always allowed; name people",
        );
    }
    p.finish()?;
    Ok(OutcomeMeasure {
        code: code.to_owned(),
        name: name.trim().to_owned(),
        instrument: Instrument::Scale,
        min,
        max,
        step,
        unit: unit.map(str::to_owned),
        direction,
        meaningful_change,
        meaningful_change_source: "defined by the clinic".to_owned(),
        reporters,
        organization_id: Some(organization_id),
        chosen_primary: None,
    })
}

/// What someone reports on a measure, before it is checked and scored.
#[derive(Debug, Clone, Copy)]
pub struct Report<'a> {
    pub source: Source,
    /// Whether the report rates a goal (rather than the client as a whole).
    pub for_goal: bool,
    pub observed_at: chrono::DateTime<chrono::Utc>,
    pub values: &'a Values,
}

/// Checks a report against its measure (`None`: the code is not in the catalogue)
/// and scores it: the measure accepts the source, GAS rates a goal, and nothing is
/// observed in the future (five minutes' grace for clocks that run ahead).
pub fn score_report(
    measure: Option<&OutcomeMeasure>,
    report: Report<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Score, Invalid> {
    let measure = measure.ok_or_else(|| {
        Invalid::field(
            "measure_code",
            "is not a known measure; see /api/v1/measures",
        )
    })?;
    let mut p = Problems::default();
    if !measure.allows(report.source) {
        p.add(
            "measure_code",
            format!(
                "{} does not accept reports from {}",
                measure.name, report.source
            ),
        );
    }
    if measure.instrument == Instrument::Gas && !report.for_goal {
        p.add(
            "goal_id",
            "Goal Attainment Scaling rates a goal: goal_id is required",
        );
    }
    if report.observed_at > now + chrono::Duration::minutes(5) {
        p.add("observed_at", "must not be in the future");
    }
    let score = p.check(measure.score(report.values));
    p.finish()?;
    score.ok_or_else(|| Invalid::field("values", "could not be scored"))
}

/// A measurement rates a goal of its own episode (`goal` is what storage found of
/// this client for `goal_id`; None: not theirs).
pub fn may_rate(
    episode_id: Uuid,
    goal_id: Option<Uuid>,
    goal: Option<&crate::goal::Goal>,
) -> Result<(), Invalid> {
    if goal_id.is_none() {
        return Ok(());
    }
    let goal = goal.ok_or_else(|| Invalid::field("goal_id", "is not a goal of this client"))?;
    if goal.episode_id != episode_id {
        return Err(Invalid::field("goal_id", "belongs to another episode"));
    }
    Ok(())
}

/// A note as kept: trimmed, and a blank one is no note.
pub fn note(raw: Option<String>) -> Option<String> {
    raw.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty())
}

/// New values for a measurement; the observation time and the note default to the
/// corrected version's.
#[derive(Debug, Clone, PartialEq)]
pub struct Amendment {
    pub values: Values,
    pub observed_at: Option<chrono::DateTime<chrono::Utc>>,
    pub note: Option<String>,
}

/// What a correction does.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// New values replace the old ones (status `amended`).
    Amend(Amendment),
    /// The measurement should never have been recorded (status `entered-in-error`).
    Withdraw,
}

/// A correction as asked: what changes, and why (kept with the new version).
#[derive(Debug, Clone, PartialEq)]
pub struct Correction {
    pub change: Change,
    pub reason: String,
}

impl Correction {
    /// A correction either withdraws a measurement or brings new values, never both,
    /// and says why.
    pub fn parse(
        reason: &str,
        withdraw: bool,
        values: Option<Values>,
        observed_at: Option<chrono::DateTime<chrono::Utc>>,
        note: Option<String>,
    ) -> Result<Correction, Invalid> {
        let mut p = Problems::default();
        let reason = reason.trim();
        if reason.is_empty() || reason.chars().count() > 1000 {
            p.add("reason", "must be 1 to 1000 characters");
        }
        let change = match (withdraw, values) {
            (true, Some(_)) => {
                p.add("values", "a withdrawal carries no new values");
                None
            }
            (false, None) => {
                p.add("values", "are required unless withdrawing");
                None
            }
            (true, None) => Some(Change::Withdraw),
            (false, Some(values)) => Some(Change::Amend(Amendment {
                values,
                observed_at,
                note,
            })),
        };
        p.finish()?;
        let change = change.ok_or_else(|| Invalid::field("values", "are required"))?;
        Ok(Correction {
            change,
            reason: reason.to_owned(),
        })
    }
}

/// Why a correction is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CorrectionRefused {
    /// The caller may see it, but only the care team corrects what another recorded.
    #[error("only the care team corrects a measurement someone else recorded")]
    NotYours,
    /// A later version exists, or it was withdrawn: correct the latest version.
    #[error("this measurement was already corrected or withdrawn; correct its latest version")]
    AlreadyCorrected,
    /// The new values break the measure's rules.
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// The version a correction adds; it supersedes the corrected one, which stays
/// readable.
#[derive(Debug, Clone, PartialEq)]
pub struct Revision {
    pub status: MeasurementStatus,
    pub observed_at: chrono::DateTime<chrono::Utc>,
    pub values: Values,
    pub score: Score,
    pub note: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn measure(code: &str) -> OutcomeMeasure {
        built_in(code).unwrap_or_else(|| panic!("{code}"))
    }

    fn at(hour: u32, minute: u32) -> chrono::DateTime<chrono::Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 3, 1)
            .and_then(|d| d.and_hms_opt(hour, minute, 0))
            .unwrap_or_default()
            .and_utc()
    }

    fn problem_fields(r: Result<Score, Invalid>) -> Vec<(String, String)> {
        r.err()
            .map(|e| e.0.into_iter().map(|f| (f.field, f.message)).collect())
            .unwrap_or_default()
    }

    #[test]
    fn a_report_is_checked_against_its_measure_then_scored() {
        let three = Values {
            value: Some(3.0),
            ..Default::default()
        };
        let report = |source, for_goal, observed_at| Report {
            source,
            for_goal,
            observed_at,
            values: &three,
        };
        let nrs = measure("nrs");
        let ok = score_report(
            Some(&nrs),
            report(Source::Caregiver, false, at(12, 0)),
            at(12, 0),
        );
        assert_eq!(ok.map(|s| s.score).ok(), Some(3.0));
        // Five minutes' grace for a device clock that runs ahead, not six.
        let ahead = report(Source::Therapist, false, at(12, 5));
        assert!(score_report(Some(&nrs), ahead, at(12, 0)).is_ok());
        assert_eq!(
            problem_fields(score_report(
                Some(&nrs),
                report(Source::Therapist, false, at(12, 6)),
                at(12, 0)
            )),
            [("observed_at".into(), "must not be in the future".into())]
        );
        assert_eq!(
            problem_fields(score_report(
                None,
                report(Source::Therapist, false, at(12, 0)),
                at(12, 0)
            )),
            [(
                "measure_code".into(),
                "is not a known measure; see /api/v1/measures".into()
            )]
        );
        let copm = measure("copm");
        let gas = measure("gas");
        let fields: Vec<String> = problem_fields(score_report(
            Some(&copm),
            report(Source::Caregiver, false, at(12, 0)),
            at(12, 0),
        ))
        .into_iter()
        .map(|(f, _)| f)
        .collect();
        assert_eq!(
            fields[0], "measure_code",
            "a caregiver does not report COPM"
        );
        assert_eq!(
            problem_fields(score_report(
                Some(&gas),
                report(Source::ClientSelfReport, false, at(12, 0)),
                at(12, 0)
            ))[0],
            (
                "goal_id".into(),
                "Goal Attainment Scaling rates a goal: goal_id is required".into()
            )
        );
        // Integrations may report any measure.
        let imported = score_report(
            Some(&copm),
            report(Source::Imported, false, at(12, 0)),
            at(12, 0),
        );
        assert!(problem_fields(imported)
            .iter()
            .all(|(f, _)| f != "measure_code"));
    }

    #[test]
    fn a_measurement_rates_a_goal_of_its_own_episode() {
        let goal = crate::goal::Goal {
            id: Uuid::from_u128(10),
            client_id: Uuid::from_u128(2),
            episode_id: Uuid::from_u128(1),
            label: "1".into(),
            term: crate::goal::Term::LongTerm,
            parent_id: None,
            status: crate::goal::GoalStatus::Active,
            expressed_by: crate::goal::Side::Team,
            revision: 1,
            agreement: crate::goal::Agreement::default(),
            content: crate::goal::GoalContent {
                client_words: "Walk to the shop".into(),
                statement: "Walk 500 m with a stick".into(),
                occupation_area: crate::goal::OccupationArea::Iadl,
                importance: 7,
                start_date: chrono::NaiveDate::default(),
                target_date: None,
                measure_code: None,
                target_value: None,
                gas: None,
            },
            version: 1,
            created_at: chrono::DateTime::default(),
            updated_at: chrono::DateTime::default(),
        };
        let (episode, other) = (Uuid::from_u128(1), Uuid::from_u128(9));
        assert!(may_rate(episode, None, None).is_ok());
        assert!(may_rate(episode, Some(goal.id), Some(&goal)).is_ok());
        let message = |r: Result<(), Invalid>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            message(may_rate(episode, Some(goal.id), None)),
            "invalid input (goal_id: is not a goal of this client)"
        );
        assert_eq!(
            message(may_rate(other, Some(goal.id), Some(&goal))),
            "invalid input (goal_id: belongs to another episode)"
        );
    }

    #[test]
    fn a_correction_withdraws_or_brings_values_never_both() {
        let three = Values {
            value: Some(3.0),
            ..Default::default()
        };
        let parse = |withdraw, values: Option<Values>| {
            Correction::parse(" typo ", withdraw, values, None, None)
        };
        assert_eq!(
            parse(false, Some(three.clone())).ok(),
            Some(Correction {
                change: Change::Amend(Amendment {
                    values: three.clone(),
                    observed_at: None,
                    note: None
                }),
                reason: "typo".into()
            })
        );
        assert_eq!(
            parse(true, None).ok().map(|c| c.change),
            Some(Change::Withdraw)
        );
        assert_eq!(
            parse(true, Some(three)).err().map(|e| e.to_string()),
            Some("invalid input (values: a withdrawal carries no new values)".into())
        );
        assert_eq!(
            parse(false, None).err().map(|e| e.to_string()),
            Some("invalid input (values: are required unless withdrawing)".into())
        );
        assert_eq!(
            Correction::parse(" ", true, None, None, None)
                .err()
                .map(|e| e.to_string()),
            Some("invalid input (reason: must be 1 to 1000 characters)".into())
        );
    }

    fn items(values: &[Option<f64>]) -> Values {
        Values {
            items: Some(
                values
                    .iter()
                    .map(|v| Item {
                        label: Some("activity".into()),
                        value: *v,
                    })
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn fields(e: Invalid) -> Vec<String> {
        e.0.into_iter().map(|f| f.field).collect()
    }

    #[test]
    fn copm_scores_are_the_means_of_performance_and_satisfaction() {
        // Worked by hand: performance (3 + 5 + 4) / 3 = 4.0; satisfaction (2 + 4 + 6) / 3 = 4.0.
        let v = Values {
            problems: Some(vec![
                CopmProblem {
                    problem: "dressing".into(),
                    importance: 9.0,
                    performance: 3.0,
                    satisfaction: 2.0,
                },
                CopmProblem {
                    problem: "cooking".into(),
                    importance: 8.0,
                    performance: 5.0,
                    satisfaction: 4.0,
                },
                CopmProblem {
                    problem: "gardening".into(),
                    importance: 6.0,
                    performance: 4.0,
                    satisfaction: 6.0,
                },
            ]),
            ..Default::default()
        };
        assert_eq!(
            measure("copm").score(&v),
            Ok(Score {
                score: 4.0,
                satisfaction: Some(4.0)
            })
        );
    }

    #[test]
    fn psfs_quickdash_and_lefs_follow_their_formulas() {
        // PSFS: (3 + 5 + 4) / 3 = 4.0.
        assert_eq!(
            measure("psfs")
                .score(&items(&[Some(3.0), Some(5.0), Some(4.0)]))
                .map(|s| s.score),
            Ok(4.0)
        );
        // QuickDASH, all 11 items 3: ((33 / 11) - 1) * 25 = 50.
        assert_eq!(
            measure("quickdash")
                .score(&items(&[Some(3.0); 11]))
                .map(|s| s.score),
            Ok(50.0)
        );
        // QuickDASH with one missing: 10 answers summing to 30: ((30 / 10) - 1) * 25 = 50.
        let mut ten: Vec<Option<f64>> = [1.0, 2.0, 3.0, 4.0, 5.0, 1.0, 2.0, 3.0, 4.0, 5.0]
            .iter()
            .map(|x| Some(*x))
            .collect();
        ten.push(None);
        assert_eq!(
            measure("quickdash").score(&items(&ten)).map(|s| s.score),
            Ok(50.0)
        );
        // QuickDASH: ten 2s and one 3: ((23 / 11) - 1) * 25 = 27.2727...
        let mut v = vec![Some(2.0); 10];
        v.push(Some(3.0));
        let s = measure("quickdash")
            .score(&items(&v))
            .map(|s| s.score)
            .unwrap_or(f64::NAN);
        assert!((s - 27.272_727).abs() < 1e-5, "{s}");
        // LEFS: twenty 2s sum to 40.
        assert_eq!(
            measure("lefs")
                .score(&items(&[Some(2.0); 20]))
                .map(|s| s.score),
            Ok(40.0)
        );
    }

    #[test]
    fn out_of_range_and_malformed_values_are_refused_by_field() {
        let e = measure("quickdash").score(&items(&[
            Some(3.0),
            None,
            None,
            Some(6.0),
            Some(2.5),
            Some(1.0),
            Some(1.0),
            Some(1.0),
            Some(1.0),
            Some(1.0),
            Some(1.0),
        ]));
        assert_eq!(
            e.map_err(fields),
            Err(vec![
                "values.items[3].value".into(),
                "values.items[4].value".into(),
                "values.items".into()
            ])
        );
        let e = measure("lefs").score(&items(&[Some(2.0); 19]));
        assert_eq!(e.map_err(fields), Err(vec!["values.items".into()]));
        let e = measure("nrs").score(&Values {
            value: Some(11.0),
            ..Default::default()
        });
        assert_eq!(e.map_err(fields), Err(vec!["values.value".into()]));
        let e = measure("gas").score(&Values {
            value: Some(0.5),
            ..Default::default()
        });
        assert_eq!(e.map_err(fields), Err(vec!["values.value".into()]));
        let e = measure("nrs").score(&Values {
            items: Some(vec![]),
            ..Default::default()
        });
        assert_eq!(
            e.map_err(fields),
            Err(vec!["values.value".into(), "values.items".into()])
        );
        let six = (0..6)
            .map(|i| CopmProblem {
                problem: format!("p{i}"),
                importance: 5.0,
                performance: 5.0,
                satisfaction: 11.0,
            })
            .collect();
        let e = measure("copm")
            .score(&Values {
                problems: Some(six),
                ..Default::default()
            })
            .map_err(fields);
        assert!(
            e.as_ref()
                .err()
                .is_some_and(|f| f.contains(&"values.problems".to_owned())
                    && f.contains(&"values.problems[0].satisfaction".to_owned())),
            "{e:?}"
        );
        assert!(measure("nrs")
            .score(&Values {
                value: Some(f64::NAN),
                ..Default::default()
            })
            .is_err());
    }

    #[test]
    fn errors_read_in_plain_words() {
        // A GAS level of 0.5 on a scale of whole levels.
        let half = measure("gas").score(&Values {
            value: Some(0.5),
            ..Default::default()
        });
        assert_eq!(
            problem_fields(half),
            [("values.value".into(), "must be a whole number".into())]
        );
        // A clinic scale from 0.1 in steps of 0.2: 0.1, 0.3, 0.5...
        let grip = custom(
            Uuid::nil(),
            MeasureDefinition {
                code: "grip",
                name: "Grip",
                unit: None,
                min: 0.1,
                max: 10.1,
                step: 0.2,
                direction: Direction::HigherIsBetter,
                meaningful_change: 1.0,
                reporters: vec![Source::Therapist],
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            problem_fields(grip.score(&Values {
                value: Some(0.2),
                ..Default::default()
            })),
            [(
                "values.value".into(),
                "must go in steps of 0.2 (0.1, 0.3, 0.5 and so on)".into()
            )]
        );
        // QuickDASH allows one unanswered item; two are refused.
        let mut two_missing = vec![Some(3.0); 9];
        two_missing.extend([None, None]);
        let e = problem_fields(measure("quickdash").score(&items(&two_missing)));
        assert_eq!(
            e,
            [(
                "values.items".into(),
                "one item may be left unanswered, not 2".into()
            )]
        );
        // LEFS allows none: the missing item is named, and the list says why.
        let mut lefs = vec![Some(2.0); 19];
        lefs.push(None);
        let e = problem_fields(measure("lefs").score(&items(&lefs)));
        assert_eq!(
            e,
            [
                ("values.items[19].value".into(), "is required".into()),
                ("values.items".into(), "every item must be answered".into())
            ]
        );
        assert!(e
            .iter()
            .all(|(_, m)| !m.contains("(s)") && !m.contains("multiple of")));
    }

    #[test]
    fn psfs_judges_a_single_activity_against_three_points() {
        // Stratford et al. 1995: MDC90 is 2 points for the mean of several activities and
        // 3 points for one activity.
        let psfs = measure("psfs");
        let one = items(&[Some(4.0)]);
        let three = items(&[Some(4.0), Some(5.0), Some(6.0)]);
        assert_eq!(psfs.meaningful_change_between(&one, &one), 3.0);
        assert_eq!(psfs.meaningful_change_between(&three, &one), 3.0);
        assert_eq!(psfs.meaningful_change_between(&three, &three), 2.0);
        // Other measures keep their own threshold whatever the shape of the report.
        assert_eq!(measure("lefs").meaningful_change_between(&one, &one), 9.0);
    }

    #[test]
    fn only_a_measure_that_says_so_reads_values_for_its_threshold() {
        // Recording skips reading the first value where the threshold ignores it, so
        // every other measure must answer its `meaningful_change` whatever it is given.
        let shapes = [
            items(&[Some(4.0)]),
            items(&[Some(4.0), Some(5.0), Some(6.0)]),
            Values::default(),
        ];
        for m in catalogue() {
            if m.threshold_reads_values() {
                continue;
            }
            for from in &shapes {
                for to in &shapes {
                    assert_eq!(
                        m.meaningful_change_between(from, to),
                        m.meaningful_change,
                        "{}",
                        m.code
                    );
                }
            }
        }
        assert!(measure("psfs").threshold_reads_values());
    }

    #[test]
    fn a_clinic_chooses_whose_values_lead_among_those_who_report() {
        let copm = measure("copm");
        assert_eq!(copm.primary_source(), Source::Therapist);
        let chosen = copm.clone().choose_primary(Source::ClientSelfReport);
        assert_eq!(
            chosen.map(|m| m.primary_source()).ok(),
            Some(Source::ClientSelfReport)
        );
        // A caregiver does not report COPM, so cannot lead it.
        assert!(copm.clone().choose_primary(Source::Caregiver).is_err());
    }

    #[test]
    fn each_measure_names_its_primary_source_and_cites_its_threshold() {
        let primary = |code| measure(code).primary_source();
        assert_eq!(primary("copm"), Source::Therapist);
        assert_eq!(primary("gas"), Source::Therapist);
        assert_eq!(primary("nrs"), Source::Therapist);
        for code in ["psfs", "quickdash", "lefs"] {
            assert_eq!(primary(code), Source::ClientSelfReport, "{code}");
        }
        // A clinic's measure: the first reporter the clinic lists.
        let mine = OutcomeMeasure {
            organization_id: Some(Uuid::nil()),
            reporters: vec![Source::Caregiver, Source::Therapist],
            ..measure("nrs")
        };
        assert_eq!(mine.primary_source(), Source::Caregiver);
        let cited = |code| measure(code).meaningful_change_source;
        assert!(cited("quickdash").starts_with("Sorensen et al. 2013"));
        assert!(!cited("quickdash").contains("Institute for Work"));
        assert!(cited("psfs").contains("3 points for a single activity"));
        assert!(cited("lefs").starts_with("Binkley et al. 1999"));
        assert!(cited("copm").contains("Ohno et al. 2021"));
    }

    #[test]
    fn who_may_report_is_part_of_the_measure() {
        assert!(measure("copm").allows(Source::ClientSelfReport));
        assert!(!measure("copm").allows(Source::Caregiver));
        assert!(measure("gas").allows(Source::Caregiver));
        assert!(measure("lefs").allows(Source::Imported));
    }

    #[test]
    fn direction_decides_what_improvement_means() {
        assert_eq!(measure("quickdash").improvement(60.0, 40.0), 20.0);
        assert_eq!(measure("lefs").improvement(40.0, 30.0), -10.0);
        assert!(measure("quickdash").better(10.0, 20.0));
    }

    #[test]
    fn clinic_measures_are_checked() {
        let org = Uuid::nil();
        let def = |code, name, (min, max, step), mcid, reporters| MeasureDefinition {
            code,
            name,
            unit: Some("kg"),
            min,
            max,
            step,
            direction: Direction::HigherIsBetter,
            meaningful_change: mcid,
            reporters,
        };
        let ok = custom(
            org,
            def(
                "grip-kg",
                "Grip strength",
                (0.0, 90.0, 0.5),
                5.0,
                vec![Source::Therapist],
            ),
        );
        assert!(ok.is_ok());
        let bad = custom(org, def("COPM!", "", (10.0, 0.0, -1.0), 0.0, vec![]));
        assert_eq!(
            bad.map_err(fields),
            Err(vec![
                "code".into(),
                "name".into(),
                "max".into(),
                "step".into(),
                "meaningful_change".into(),
                "reporters".into()
            ])
        );
        let dup = custom(
            org,
            def(
                "copm",
                "Mine",
                (0.0, 10.0, 1.0),
                1.0,
                vec![Source::Therapist],
            ),
        );
        assert_eq!(dup.map_err(fields), Err(vec!["code".into()]));
        let grip = |unit| MeasureDefinition {
            unit: Some(unit),
            ..def(
                "grip",
                "Grip",
                (0.0, 90.0, 0.5),
                5.0,
                vec![Source::Therapist],
            )
        };
        let long = "x".repeat(UNIT_MAX + 1);
        for unit in ["", "  ", "kg\nlb", &long] {
            let refused = custom(org, grip(unit)).map_err(fields);
            assert_eq!(refused, Err(vec!["unit".into()]), "{unit:?}");
        }
        let spaced = custom(org, grip(" kg ")).map(|m| m.unit);
        assert_eq!(spaced, Ok(Some("kg".into())));
    }
}

text_enum!(
    /// A measurement's standing (FHIR Observation.status): corrections supersede.
    MeasurementStatus {
        Final => "final",
        /// A correction of an earlier measurement.
        Amended => "amended",
        /// Withdrawn: recorded by mistake. Kept, never counted.
        EnteredInError => "entered-in-error",
    }
);

/// A recorded measurement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Measurement {
    pub id: Uuid,
    pub client_id: Uuid,
    pub episode_id: Uuid,
    pub goal_id: Option<Uuid>,
    pub measure_code: String,
    pub observed_at: chrono::DateTime<chrono::Utc>,
    pub source: Source,
    pub recorded_by: Uuid,
    pub values: Values,
    pub score: Score,
    pub note: Option<String>,
    pub status: MeasurementStatus,
    pub supersedes: Option<Uuid>,
    pub superseded_by: Option<Uuid>,
    pub reason: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl Measurement {
    /// Its version, for entity tags: a measurement changes once at most, when a
    /// correction supersedes it (its values never change), so it is 1 while current
    /// and 2 once superseded.
    pub fn version(&self) -> i32 {
        if self.superseded_by.is_some() {
            2
        } else {
            1
        }
    }

    /// Whether it counts toward progress: current, and not withdrawn.
    pub fn counts(&self) -> bool {
        self.superseded_by.is_none() && self.status != MeasurementStatus::EnteredInError
    }

    /// The new version `who` makes of this measurement with `change`: refused when it
    /// is not theirs to correct ([`crate::policy::may_correct`]); amended values are
    /// checked and scored against `measure` (what storage found for its code) as the
    /// original source reported them; refused when this is not the current version.
    pub fn corrected(
        &self,
        who: &crate::identity::Principal,
        measure: Option<&OutcomeMeasure>,
        change: Change,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Revision, CorrectionRefused> {
        if !crate::policy::may_correct(who, self.recorded_by).is_allowed() {
            return Err(CorrectionRefused::NotYours);
        }
        let revision = match change {
            Change::Withdraw => Revision {
                status: MeasurementStatus::EnteredInError,
                observed_at: self.observed_at,
                values: self.values.clone(),
                score: self.score,
                note: self.note.clone(),
            },
            Change::Amend(a) => {
                let observed_at = a.observed_at.unwrap_or(self.observed_at);
                let report = Report {
                    source: self.source,
                    for_goal: self.goal_id.is_some(),
                    observed_at,
                    values: &a.values,
                };
                let score = score_report(measure, report, now)?;
                Revision {
                    status: MeasurementStatus::Amended,
                    observed_at,
                    values: a.values,
                    score,
                    note: a.note.or_else(|| self.note.clone()),
                }
            }
        };
        if !self.counts() {
            return Err(CorrectionRefused::AlreadyCorrected);
        }
        Ok(revision)
    }
}

#[cfg(test)]
mod correction_tests {
    use super::*;
    use crate::identity::{Principal, Role, Scopes};

    fn person(role: Role, n: u128) -> Principal {
        Principal {
            user_id: Uuid::from_u128(n),
            organization_id: Uuid::from_u128(100),
            role,
            client_id: (role == Role::Client).then(|| Uuid::from_u128(7)),
            scopes: Scopes::default(),
        }
    }

    fn at(day: u32) -> chrono::DateTime<chrono::Utc> {
        chrono::NaiveDate::from_ymd_opt(2026, 3, day)
            .and_then(|d| d.and_hms_opt(12, 0, 0))
            .unwrap_or_default()
            .and_utc()
    }

    fn nrs() -> OutcomeMeasure {
        built_in("nrs").unwrap_or_else(|| panic!("nrs"))
    }

    fn value(v: f64) -> Values {
        Values {
            value: Some(v),
            ..Default::default()
        }
    }

    /// A self-report of 4 on the NRS by the client (user 1).
    fn recorded() -> Measurement {
        Measurement {
            id: Uuid::from_u128(50),
            client_id: Uuid::from_u128(7),
            episode_id: Uuid::from_u128(8),
            goal_id: None,
            measure_code: "nrs".into(),
            observed_at: at(1),
            source: Source::ClientSelfReport,
            recorded_by: Uuid::from_u128(1),
            values: value(4.0),
            score: Score {
                score: 4.0,
                satisfaction: None,
            },
            note: Some("after the walk".into()),
            status: MeasurementStatus::Final,
            supersedes: None,
            superseded_by: None,
            reason: None,
            created_at: at(1),
        }
    }

    fn amend(v: f64) -> Change {
        Change::Amend(Amendment {
            values: value(v),
            observed_at: None,
            note: None,
        })
    }

    #[test]
    fn an_amendment_is_scored_as_the_original_source_reported_it() {
        let client = person(Role::Client, 1);
        let r = recorded().corrected(&client, Some(&nrs()), amend(6.0), at(2));
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, MeasurementStatus::Amended);
        assert_eq!(r.score.score, 6.0);
        assert_eq!(r.observed_at, at(1), "the observation time is kept");
        assert_eq!(r.note.as_deref(), Some("after the walk"));
        let off_scale = recorded().corrected(&client, Some(&nrs()), amend(11.0), at(2));
        assert!(matches!(off_scale, Err(CorrectionRefused::Invalid(_))));
    }

    #[test]
    fn a_withdrawal_keeps_the_values_and_marks_them_entered_in_error() {
        let therapist = person(Role::Therapist, 2);
        let r = recorded().corrected(&therapist, None, Change::Withdraw, at(2));
        let r = r.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.status, MeasurementStatus::EnteredInError);
        assert_eq!(r.values, value(4.0));
        assert_eq!(r.score.score, 4.0);
    }

    #[test]
    fn clients_and_caregivers_correct_only_what_they_recorded() {
        for who in [person(Role::Client, 3), person(Role::Caregiver, 4)] {
            assert_eq!(
                recorded().corrected(&who, Some(&nrs()), Change::Withdraw, at(2)),
                Err(CorrectionRefused::NotYours)
            );
        }
        let admin = person(Role::Admin, 5);
        assert_eq!(
            recorded().corrected(&admin, Some(&nrs()), Change::Withdraw, at(2)),
            Err(CorrectionRefused::NotYours)
        );
    }

    #[test]
    fn only_the_current_version_is_corrected() {
        let therapist = person(Role::Therapist, 2);
        let superseded = Measurement {
            superseded_by: Some(Uuid::from_u128(51)),
            ..recorded()
        };
        let withdrawn = Measurement {
            status: MeasurementStatus::EnteredInError,
            ..recorded()
        };
        for old in [superseded, withdrawn] {
            assert_eq!(
                old.corrected(&therapist, Some(&nrs()), amend(5.0), at(2)),
                Err(CorrectionRefused::AlreadyCorrected)
            );
        }
        // Not yours comes first: a client learns nothing about another's versions.
        let stranger = person(Role::Client, 9);
        let superseded = Measurement {
            superseded_by: Some(Uuid::from_u128(51)),
            ..recorded()
        };
        assert_eq!(
            superseded.corrected(&stranger, Some(&nrs()), amend(5.0), at(2)),
            Err(CorrectionRefused::NotYours)
        );
    }

    #[test]
    fn a_note_is_trimmed_and_a_blank_one_dropped() {
        assert_eq!(note(Some("  ok \n".into())).as_deref(), Some("ok"));
        assert_eq!(note(Some(" \t ".into())), None);
        assert_eq!(note(None), None);
    }
}
