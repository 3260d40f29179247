//! Progress reports: what a clinic sends a payer or a referrer for a period of an
//! episode of care. A report is drafted from the recorded data (its figures are the
//! progress view's, from `progress.rs`, as they stood at the end of the period),
//! edited by the care team (each edit a new draft version), then signed; a signed
//! report never changes, and a correction is a signed addendum listed with it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    client::Refusal,
    goal::{GasScale, Goal},
    identity::{text_enum, Principal, Role},
    measure::{Measurement, OutcomeMeasure, Source},
    progress::{EpisodeProgress, Point},
    Invalid,
};

/// Clinics report at least every this many treatment days.
pub const TREATMENT_DAYS_PER_REPORT: usize = 10;
/// The longest free text a therapist writes in one field of a report.
pub const MAX_TEXT: usize = 20_000;

text_enum!(
    /// Where a report stands.
    ReportStatus {
        /// Being written by the care team; seen by the team and admins only.
        Draft => "draft",
        /// Signed: never changes again; corrections are addenda.
        Signed => "signed",
    }
);

/// The dates a report covers, both inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// A period as sent: `from` on or before `to`, and not ending after `today` (a
    /// report speaks of what happened).
    pub fn parse(from: NaiveDate, to: NaiveDate, today: NaiveDate) -> Result<Self, Invalid> {
        if to < from {
            return Err(Invalid::field(
                "period_end",
                "must not be before period_start",
            ));
        }
        if to > today {
            return Err(Invalid::field("period_end", "must not be in the future"));
        }
        Ok(Period { from, to })
    }

    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        let day = at.date_naive();
        self.from <= day && day <= self.to
    }

    /// Whether `at` is on or before the period's last day.
    pub fn reached_by(&self, at: DateTime<Utc>) -> bool {
        at.date_naive() <= self.to
    }
}

/// Treatment days in `period`: days (UTC) with at least one therapist-assessed
/// measurement. The clinic records no separate session notes yet; a therapist's
/// measurement is the record of a session.
pub fn treatment_days(measurements: &[Measurement], period: &Period) -> usize {
    let mut days: Vec<NaiveDate> = measurements
        .iter()
        .filter(|m| m.counts() && m.source == Source::Therapist && period.contains(m.observed_at))
        .map(|m| m.observed_at.date_naive())
        .collect();
    days.sort();
    days.dedup();
    days.len()
}

/// Home-programme adherence for one goal over the period.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Adherence {
    /// No home programme is recorded for this goal.
    NotRecorded,
    /// Practice logged against what was prescribed in the period.
    Recorded {
        prescribed: u32,
        completed: u32,
        /// Completed over prescribed, in percent.
        percent: f64,
    },
}

/// One source's values on a goal's measure within the report, for its chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportLine {
    pub source: Source,
    pub points: Vec<ReportPoint>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ReportPoint {
    pub at: DateTime<Utc>,
    pub value: f64,
}

impl From<ReportPoint> for Point {
    fn from(p: ReportPoint) -> Point {
        Point {
            at: p.at,
            value: p.value,
        }
    }
}

/// One goal's figures as they stood at the end of the period: the progress view's
/// numbers for that goal, exact (rounded only when shown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportGoal {
    pub goal_id: Uuid,
    /// The goal's stable label (`G1`, `G1.2`).
    pub label: String,
    pub client_words: String,
    pub statement: String,
    pub status: String,
    /// FHIR Goal.achievementStatus, as in the progress view.
    pub achievement_status: String,
    pub measure_code: Option<String>,
    pub measure_name: Option<String>,
    pub unit: Option<String>,
    pub primary_source: Option<Source>,
    pub baseline: Option<f64>,
    pub current: Option<f64>,
    pub current_at: Option<DateTime<Utc>>,
    pub target: Option<f64>,
    pub target_date: Option<NaiveDate>,
    pub change: Option<f64>,
    pub percent_to_target: Option<f64>,
    pub meaningful_change_threshold: Option<f64>,
    pub meaningful_change: bool,
    pub gas_baseline: Option<i32>,
    pub gas_level: Option<i32>,
    pub gas: Option<GasScale>,
    /// Values of the goal's measure, per source, recorded in the period: the chart.
    pub lines: Vec<ReportLine>,
    pub adherence: Adherence,
}

/// COPM change, as the progress view has it (the primary source's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportCopm {
    pub source: Source,
    pub assessments: usize,
    pub performance_first: f64,
    pub performance_latest: f64,
    pub performance_change: f64,
    pub performance_meaningful: bool,
    pub satisfaction_first: f64,
    pub satisfaction_latest: f64,
    pub satisfaction_change: f64,
    pub satisfaction_meaningful: bool,
}

/// GAS summary T-scores, as the progress view has them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportGas {
    pub goals: usize,
    pub baseline_t: Option<f64>,
    pub current_t: Option<f64>,
    pub weighted_baseline_t: Option<f64>,
    pub weighted_current_t: Option<f64>,
}

/// The client and episode as they stood when the report was drafted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportSubject {
    pub client_name: String,
    pub date_of_birth: Option<NaiveDate>,
    /// `system|value` of each identifier (an EHR's record number).
    pub identifiers: Vec<String>,
    pub clinic_name: String,
    pub reason_for_referral: String,
    pub diagnoses: Vec<String>,
    pub episode_start: NaiveDate,
    pub episode_end: Option<NaiveDate>,
    pub episode_status: String,
}

/// Everything a report states from the data. Frozen at drafting: later changes to
/// the record never alter a report already drafted (a new draft shows them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportFigures {
    pub subject: ReportSubject,
    pub treatment_days: usize,
    pub goals: Vec<ReportGoal>,
    pub gas: Option<ReportGas>,
    pub copm: Option<ReportCopm>,
}

/// The facts a report's figures are made of.
pub struct ReportInput<'a> {
    pub subject: ReportSubject,
    pub period: Period,
    pub goals: &'a [Goal],
    /// The episode's counting measurements up to the end of the period.
    pub values: &'a [Measurement],
    /// `progress::episode_progress` of exactly those goals and values.
    pub progress: &'a EpisodeProgress,
    pub measures: &'a [OutcomeMeasure],
    /// One per goal, in the same order.
    pub adherence: Vec<Adherence>,
}

/// The measurements of an episode that a report for `period` counts: those observed
/// on or before its last day (its figures are the progress as it stood then).
pub fn values_until(values: &[Measurement], period: &Period) -> Vec<Measurement> {
    values
        .iter()
        .filter(|m| period.reached_by(m.observed_at))
        .cloned()
        .collect()
}

/// The report's figures: the progress view's per-goal and episode figures, unchanged.
pub fn figures(input: ReportInput<'_>) -> ReportFigures {
    let ReportInput {
        subject,
        period,
        goals,
        values,
        progress,
        measures,
        adherence,
    } = input;
    let mut adherence = adherence.into_iter();
    let report_goals = goals
        .iter()
        .zip(&progress.goals)
        .map(|(g, s)| {
            let code = g.content.measure_code.clone();
            let measure = code
                .as_deref()
                .and_then(|c| measures.iter().find(|m| m.code == c));
            let p = s.progress.as_ref();
            let achievement =
                g.status
                    .fhir_achievement()
                    .unwrap_or_else(|| match p.map(|p| p.achievement) {
                        Some(a) => a.as_str(),
                        None => crate::progress::Achievement::InProgress.as_str(),
                    });
            let mut lines: Vec<ReportLine> = Vec::new();
            if let Some(code) = code.as_deref() {
                let primary = s.primary_source.unwrap_or(Source::Therapist);
                let order = std::iter::once(primary)
                    .chain(Source::ALL.iter().copied().filter(|x| *x != primary));
                for source in order {
                    let points: Vec<ReportPoint> = values
                        .iter()
                        .filter(|m| {
                            m.counts()
                                && m.goal_id == Some(g.id)
                                && m.measure_code == code
                                && m.source == source
                                && period.contains(m.observed_at)
                        })
                        .map(|m| ReportPoint {
                            at: m.observed_at,
                            value: m.score.score,
                        })
                        .collect();
                    if !points.is_empty() || source == primary {
                        lines.push(ReportLine { source, points });
                    }
                }
            }
            ReportGoal {
                goal_id: g.id,
                label: g.label.clone(),
                client_words: g.content.client_words.clone(),
                statement: g.content.statement.clone(),
                status: g.status.as_str().to_owned(),
                achievement_status: achievement.to_owned(),
                measure_name: measure.map(|m| m.name.clone()),
                unit: measure.and_then(|m| m.unit.clone()),
                measure_code: code,
                primary_source: s.primary_source,
                baseline: p.and_then(|p| p.baseline),
                current: p.and_then(|p| p.latest),
                current_at: p.and_then(|p| p.latest_at),
                target: g.content.target_value,
                target_date: g.content.target_date,
                change: p.and_then(|p| p.change),
                percent_to_target: p.and_then(|p| p.percent_to_target),
                meaningful_change_threshold: p.map(|p| p.threshold),
                meaningful_change: p.is_some_and(|p| p.meaningful_change),
                gas_baseline: s.gas.as_ref().and_then(|l| l.baseline),
                gas_level: s.gas_level,
                gas: g.content.gas.clone(),
                lines,
                adherence: adherence.next().unwrap_or(Adherence::NotRecorded),
            }
        })
        .collect();
    ReportFigures {
        subject,
        treatment_days: treatment_days(values, &period),
        goals: report_goals,
        gas: progress.gas.as_ref().map(|g| ReportGas {
            goals: g.goals,
            baseline_t: g.baseline_t,
            current_t: g.current_t,
            weighted_baseline_t: g.weighted_baseline_t,
            weighted_current_t: g.weighted_current_t,
        }),
        copm: progress.copm.as_ref().map(|c| ReportCopm {
            source: c.source,
            assessments: c.assessments,
            performance_first: c.performance.first,
            performance_latest: c.performance.latest,
            performance_change: c.performance.change,
            performance_meaningful: c.performance.meaningful,
            satisfaction_first: c.satisfaction.first,
            satisfaction_latest: c.satisfaction.latest,
            satisfaction_change: c.satisfaction.change,
            satisfaction_meaningful: c.satisfaction.meaningful,
        }),
    }
}

/// The therapist's own words: assessment and plan, trimmed, each at most
/// [`MAX_TEXT`] characters (empty is allowed while drafting).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Narrative {
    pub assessment: String,
    pub plan: String,
}

impl Narrative {
    pub fn parse(assessment: &str, plan: &str) -> Result<Self, Invalid> {
        let mut errors = Vec::new();
        for (field, text) in [("assessment", assessment), ("plan", plan)] {
            if text.trim().chars().count() > MAX_TEXT {
                errors.push(crate::FieldError::new(
                    field,
                    format!("must be at most {MAX_TEXT} characters"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(Narrative {
                assessment: assessment.trim().to_owned(),
                plan: plan.trim().to_owned(),
            })
        } else {
            Err(Invalid(errors))
        }
    }
}

/// Who signed, in what discipline, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    pub user_id: Uuid,
    pub name: String,
    pub discipline: Option<String>,
    pub at: DateTime<Utc>,
}

/// A progress report as it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: Uuid,
    pub client_id: Uuid,
    pub episode_id: Uuid,
    pub period: Period,
    pub status: ReportStatus,
    pub figures: ReportFigures,
    pub narrative: Narrative,
    pub drafted_by: Uuid,
    pub signature: Option<Signature>,
    /// Grows by one with every edit (and the signature); the entity tag.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A signed correction or addition to a signed report.
#[derive(Debug, Clone, PartialEq)]
pub struct Addendum {
    pub id: Uuid,
    pub report_id: Uuid,
    pub body: String,
    pub signature: Signature,
}

impl Report {
    /// Whether the report may still be edited or signed: a signed report never
    /// changes again (409), and is corrected by an addendum instead.
    pub fn may_change(&self) -> Result<(), Refusal> {
        match self.status {
            ReportStatus::Draft => Ok(()),
            ReportStatus::Signed => Err(Refusal::Conflict(
                "this report is signed and never changes; add a signed addendum instead".into(),
            )),
        }
    }

    /// Whether an addendum may be added: only to a signed report (a draft is simply
    /// edited).
    pub fn may_take_addendum(&self) -> Result<(), Refusal> {
        match self.status {
            ReportStatus::Signed => Ok(()),
            ReportStatus::Draft => Err(Refusal::Conflict(
                "this report is still a draft: edit it instead of adding an addendum".into(),
            )),
        }
    }
}

/// The text of an addendum: 1 to [`MAX_TEXT`] characters, trimmed.
pub fn addendum_body(body: &str) -> Result<String, Invalid> {
    let body = body.trim();
    if body.is_empty() {
        return Err(Invalid::field("body", "must not be empty"));
    }
    if body.chars().count() > MAX_TEXT {
        return Err(Invalid::field(
            "body",
            format!("must be at most {MAX_TEXT} characters"),
        ));
    }
    Ok(body.to_owned())
}

/// Whether a caller who may read a client's clinical record sees a report in this
/// state: drafts are the care team's work in progress (the team and admins); a
/// signed report is also the client's, their caregivers' and integrations'. A draft
/// outside one's sight answers as absent (404).
pub fn sees_report(who: &Principal, status: ReportStatus) -> bool {
    match status {
        ReportStatus::Signed => true,
        ReportStatus::Draft => matches!(who.role, Role::Admin | Role::Therapist),
    }
}

/// Who writes, signs and adds to reports: a therapist (the policy has already put
/// them on the care team). Admins and integrations read reports but never author or
/// sign one for a clinician.
pub fn may_author(who: &Principal) -> bool {
    who.role == Role::Therapist
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Scopes;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("a date")
    }

    #[test]
    fn a_period_runs_forward_and_not_past_today() {
        let today = day("2026-12-03");
        assert!(Period::parse(day("2026-11-01"), day("2026-12-03"), today).is_ok());
        assert!(Period::parse(day("2026-11-01"), day("2026-11-01"), today).is_ok());
        let back = Period::parse(day("2026-11-02"), day("2026-11-01"), today);
        assert_eq!(back.expect_err("refused").0[0].field, "period_end");
        let ahead = Period::parse(day("2026-11-02"), day("2026-12-04"), today);
        assert_eq!(ahead.expect_err("refused").0[0].field, "period_end");
    }

    #[test]
    fn a_period_holds_its_first_and_last_day() {
        let p = Period {
            from: day("2026-11-01"),
            to: day("2026-11-30"),
        };
        let at = |s: &str| s.parse::<DateTime<Utc>>().expect("a time");
        assert!(p.contains(at("2026-11-01T00:00:00Z")));
        assert!(p.contains(at("2026-11-30T23:59:59Z")));
        assert!(!p.contains(at("2026-12-01T00:00:00Z")));
        assert!(!p.contains(at("2026-10-31T23:59:59Z")));
        assert!(p.reached_by(at("2026-10-01T00:00:00Z")));
        assert!(!p.reached_by(at("2026-12-01T00:00:00Z")));
    }

    #[test]
    fn signed_reports_never_change_and_drafts_take_no_addenda() {
        let mut r = Report {
            id: Uuid::nil(),
            client_id: Uuid::nil(),
            episode_id: Uuid::nil(),
            period: Period {
                from: day("2026-11-01"),
                to: day("2026-11-30"),
            },
            status: ReportStatus::Draft,
            figures: ReportFigures {
                subject: ReportSubject {
                    client_name: "A".into(),
                    date_of_birth: None,
                    identifiers: vec![],
                    clinic_name: "C".into(),
                    reason_for_referral: "R".into(),
                    diagnoses: vec![],
                    episode_start: day("2026-11-01"),
                    episode_end: None,
                    episode_status: "active".into(),
                },
                treatment_days: 0,
                goals: vec![],
                gas: None,
                copm: None,
            },
            narrative: Narrative::default(),
            drafted_by: Uuid::nil(),
            signature: None,
            version: 1,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        assert!(r.may_change().is_ok());
        assert!(matches!(r.may_take_addendum(), Err(Refusal::Conflict(_))));
        r.status = ReportStatus::Signed;
        assert!(matches!(r.may_change(), Err(Refusal::Conflict(_))));
        assert!(r.may_take_addendum().is_ok());
    }

    #[test]
    fn drafts_are_the_teams_and_signed_reports_everyone_who_reads_the_record() {
        for role in Role::ALL {
            let who = Principal {
                user_id: Uuid::nil(),
                organization_id: Uuid::nil(),
                role: *role,
                client_id: None,
                scopes: Scopes::default(),
            };
            assert!(sees_report(&who, ReportStatus::Signed));
            let team = matches!(role, Role::Admin | Role::Therapist);
            assert_eq!(sees_report(&who, ReportStatus::Draft), team, "{role}");
        }
    }

    #[test]
    fn narrative_and_addenda_are_bounded_and_trimmed() {
        let n = Narrative::parse("  better  ", "").expect("fine");
        assert_eq!(n.assessment, "better");
        let long = "x".repeat(MAX_TEXT + 1);
        let e = Narrative::parse(&long, &long).expect_err("refused");
        let fields: Vec<&str> = e.0.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["assessment", "plan"]);
        assert_eq!(addendum_body("  ").expect_err("refused").0[0].field, "body");
        assert_eq!(addendum_body(" fix ").expect("fine"), "fix");
    }
}
