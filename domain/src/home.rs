//! Between sessions: the home programme a care team prescribes (activities linked to a
//! client's goals), the practice the client logs, adherence per ISO week, the short
//! check-ins a client records, and the questions they ask their care team.
//!
//! Plain rules and arithmetic; storage keeps what these decide.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::{error::Problems, identity::text_enum, identity::Principal, identity::Role, Invalid};

// --- Prescriptions -------------------------------------------------------------------

/// What a therapist prescribes: one activity or exercise, in plain words.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Prescription {
    pub instructions: String,
    /// How many times a week, 1..=21.
    pub times_per_week: u8,
    pub sets: Option<u16>,
    pub repetitions: Option<u16>,
    pub duration_minutes: Option<u16>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
}

/// A prescription as given, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct PrescriptionDraft {
    pub instructions: String,
    pub times_per_week: i64,
    pub sets: Option<i64>,
    pub repetitions: Option<i64>,
    pub duration_minutes: Option<i64>,
    pub start_date: Option<NaiveDate>,
    pub end_date: Option<NaiveDate>,
}

fn small(problems: &mut Problems, field: &str, v: Option<i64>, max: i64) -> Option<u16> {
    match v {
        Some(n) if (1..=max).contains(&n) => Some(n as u16),
        Some(_) => {
            problems.add(field, format!("must be between 1 and {max}"));
            None
        }
        None => None,
    }
}

impl PrescriptionDraft {
    /// Checks a prescription; `today` is the start date when none is given. Every bad
    /// field is named.
    pub fn check(self, today: NaiveDate) -> Result<Prescription, Invalid> {
        let mut problems = Problems::default();
        let instructions = self.instructions.trim().to_owned();
        if instructions.is_empty() || instructions.chars().count() > 2000 {
            problems.add("instructions", "must be 1 to 2000 characters, not blank");
        }
        if !(1..=21).contains(&self.times_per_week) {
            problems.add("times_per_week", "must be between 1 and 21");
        }
        let sets = small(&mut problems, "sets", self.sets, 100);
        let repetitions = small(&mut problems, "repetitions", self.repetitions, 1000);
        let duration_minutes = small(
            &mut problems,
            "duration_minutes",
            self.duration_minutes,
            600,
        );
        let start_date = self.start_date.unwrap_or(today);
        if let Some(end) = self.end_date {
            if end < start_date {
                problems.add("end_date", "must not be before start_date");
            }
        }
        problems.finish()?;
        Ok(Prescription {
            instructions,
            times_per_week: self.times_per_week as u8,
            sets,
            repetitions,
            duration_minutes,
            start_date,
            end_date: self.end_date,
        })
    }
}

text_enum!(
    /// Where a prescription stands.
    ActivityStatus {
        Active => "active",
        /// Ended by the care team, with a reason.
        Stopped => "stopped",
    }
);

/// One version of a prescription: each change is a new version, never an overwrite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ActivityVersion {
    pub version: i32,
    pub prescription: Prescription,
    /// From which day this version applies (the first: its start date; later ones:
    /// the day they were made, or their start date if later).
    pub effective_from: NaiveDate,
    pub prescribed_by: Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// A prescribed home activity, as it stands, with every version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activity {
    pub id: Uuid,
    pub client_id: Uuid,
    pub episode_id: Uuid,
    pub goal_id: Uuid,
    pub status: ActivityStatus,
    /// The record's version: one more with each change or the stop.
    pub version: i32,
    /// The current prescription.
    pub prescription: Prescription,
    pub stopped_on: Option<NaiveDate>,
    pub stop_reason: Option<String>,
    pub stopped_by: Option<Uuid>,
    /// Oldest first; the last is the current one.
    pub versions: Vec<ActivityVersion>,
    pub created_at: DateTime<Utc>,
}

impl Activity {
    /// The prescription in effect on `day`, if the activity is active then: within its
    /// start and end dates and not after the day it was stopped.
    pub fn in_effect(&self, day: NaiveDate) -> Option<&Prescription> {
        if self.stopped_on.is_some_and(|s| day > s) {
            return None;
        }
        let version = self
            .versions
            .iter()
            .rev()
            .find(|v| v.effective_from <= day)
            .or_else(|| self.versions.first())?;
        let p = &version.prescription;
        (day >= p.start_date && p.end_date.is_none_or(|end| day <= end)).then_some(p)
    }

    /// Whether practice on `day` may be logged against it.
    pub fn may_log_on(&self, day: NaiveDate) -> Result<(), Invalid> {
        match self.in_effect(day) {
            Some(_) => Ok(()),
            None => Err(Invalid::field(
                "performed_at",
                "the activity is not prescribed on that day",
            )),
        }
    }

    /// Whether it may be changed (a new version) or stopped: only while active.
    pub fn may_change(&self) -> Result<(), &'static str> {
        match self.status {
            ActivityStatus::Active => Ok(()),
            ActivityStatus::Stopped => Err("this activity was stopped; prescribe a new one"),
        }
    }

    /// The day a new version made `today` applies from.
    pub fn effective_from(new: &Prescription, today: NaiveDate) -> NaiveDate {
        new.start_date.max(today)
    }
}

/// A stop reason, trimmed: 1 to 1000 characters.
pub fn stop_reason(reason: &str) -> Result<String, Invalid> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 1000 {
        return Err(Invalid::field(
            "reason",
            "must be 1 to 1000 characters, not blank",
        ));
    }
    Ok(r.to_owned())
}

// --- Practice logs -------------------------------------------------------------------

text_enum!(
    /// Whether the practice was done.
    PracticeOutcome {
        Done => "done",
        Skipped => "skipped",
    }
);

text_enum!(
    /// How a log entry stands to earlier ones (like a measurement's status).
    LogStatus {
        Final => "final",
        /// A correction: it supersedes an earlier entry.
        Amended => "amended",
        /// A withdrawal: the earlier entry was entered in error and no longer counts.
        EnteredInError => "entered-in-error",
    }
);

/// What a practice log says.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Practice {
    pub outcome: PracticeOutcome,
    pub effort: Option<u8>,
    pub pain: Option<u8>,
    pub note: Option<String>,
    pub performed_at: DateTime<Utc>,
}

/// A practice as reported, before it is checked.
#[derive(Debug, Clone)]
pub struct PracticeDraft {
    pub outcome: String,
    pub effort: Option<i64>,
    pub pain: Option<i64>,
    pub note: Option<String>,
    pub performed_at: Option<DateTime<Utc>>,
}

/// A 0..=10 rating, or the field named.
fn rating(problems: &mut Problems, field: &str, v: Option<i64>) -> Option<u8> {
    match v {
        Some(n) if (0..=10).contains(&n) => Some(n as u8),
        Some(_) => {
            problems.add(field, "must be between 0 and 10");
            None
        }
        None => None,
    }
}

fn note(problems: &mut Problems, field: &str, note: Option<String>) -> Option<String> {
    let n = note.map(|n| n.trim().to_owned()).filter(|n| !n.is_empty());
    if n.as_ref().is_some_and(|n| n.chars().count() > 2000) {
        problems.add(field, "must be at most 2000 characters");
    }
    n
}

impl PracticeDraft {
    /// Checks a report: ratings 0..=10, a known outcome, not in the future (a minute's
    /// grace for clocks).
    pub fn check(self, now: DateTime<Utc>) -> Result<Practice, Invalid> {
        let mut problems = Problems::default();
        let outcome = problems.check(PracticeOutcome::parse("outcome", &self.outcome));
        let effort = rating(&mut problems, "effort", self.effort);
        let pain = rating(&mut problems, "pain", self.pain);
        let note = note(&mut problems, "note", self.note);
        let performed_at = self.performed_at.unwrap_or(now);
        if performed_at > now + Duration::minutes(1) {
            problems.add("performed_at", "must not be in the future");
        }
        problems.finish()?;
        Ok(Practice {
            outcome: outcome.unwrap_or(PracticeOutcome::Done),
            effort,
            pain,
            note,
            performed_at,
        })
    }
}

/// One entry of the practice log, as stored: append-only.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PracticeLog {
    pub id: Uuid,
    pub client_id: Uuid,
    pub activity_id: Uuid,
    pub practice: Practice,
    pub recorded_by: Uuid,
    pub recorded_role: Role,
    pub status: LogStatus,
    pub supersedes: Option<Uuid>,
    pub superseded_by: Option<Uuid>,
    pub reason: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl PracticeLog {
    /// Its version for If-Match: 1 while current, 2 once superseded.
    pub fn version(&self) -> i32 {
        if self.superseded_by.is_some() {
            2
        } else {
            1
        }
    }

    /// Whether it counts: current and not withdrawn.
    pub fn counts(&self) -> bool {
        self.superseded_by.is_none() && self.status != LogStatus::EnteredInError
    }

    /// Whether `who` may correct it: only the person who logged it, and only its
    /// current version.
    pub fn may_be_corrected_by(&self, who: &Principal) -> Result<(), Refused> {
        if self.recorded_by != who.user_id {
            return Err(Refused::NotYours);
        }
        if self.superseded_by.is_some() {
            return Err(Refused::AlreadyCorrected);
        }
        Ok(())
    }
}

/// Why a change is refused beyond the policy.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// Visible, but not the caller's (403).
    NotYours,
    /// A later version exists (409).
    AlreadyCorrected,
}

/// Who logs practice, records check-ins and asks questions: the client's side alone
/// (the client, a contributing caregiver). The gate asks `Participate`; therapists
/// may take part in other ways, but this is the client's voice.
pub fn speaks_for_client(who: &Principal) -> bool {
    matches!(who.role, Role::Client | Role::Caregiver)
}

// --- Adherence -----------------------------------------------------------------------

/// An ISO week: its year and number (`2026-W49`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u32,
}

impl IsoWeek {
    pub fn of(day: NaiveDate) -> Self {
        let w = day.iso_week();
        IsoWeek {
            year: w.year(),
            week: w.week(),
        }
    }
    /// Its Monday.
    pub fn monday(self) -> NaiveDate {
        NaiveDate::from_isoywd_opt(self.year, self.week, chrono::Weekday::Mon)
            .unwrap_or(NaiveDate::MIN)
    }
    pub fn label(self) -> String {
        format!("{}-W{:02}", self.year, self.week)
    }
}

/// One week of one activity: what was prescribed and what was done.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeekAdherence {
    /// `2026-W49`.
    pub week: String,
    /// Its Monday.
    pub starts_on: NaiveDate,
    /// Days of the week the activity was prescribed on (1..=7; fewer in a partial
    /// first or last week).
    pub days_prescribed: u32,
    /// Times prescribed that week: times per week prorated by the days prescribed
    /// (each day weighs a seventh of the week under the version in effect that day),
    /// rounded to the nearest whole time, at least 1.
    pub prescribed: u32,
    /// Times logged as done that week (current, not withdrawn entries).
    pub done: u32,
    pub skipped: u32,
    /// `min(done, prescribed) / prescribed`, 0..=1.
    pub adherence: f64,
    /// Every prescribed time done.
    pub fully_done: bool,
}

/// Adherence of one activity per ISO week: every week from the one holding its first
/// prescribed day (or `from`, if later) to the one holding `to` (or its last day, if
/// earlier), leaving out weeks without a prescribed day. A week counts all its days the
/// activity is in effect, so the current week shows what the whole week asks for. Logs
/// that do not count (superseded, withdrawn) are ignored, and so are logs on a day the
/// activity was not in effect (logging refused them when made).
pub fn weekly_adherence(
    activity: &Activity,
    logs: &[PracticeLog],
    from: Option<NaiveDate>,
    to: NaiveDate,
) -> Vec<WeekAdherence> {
    let first = activity
        .versions
        .first()
        .map_or(activity.prescription.start_date, |v| {
            v.prescription.start_date
        });
    let mut last = to;
    if let Some(end) = activity.stopped_on {
        last = last.min(end);
    }
    if let Some(end) = activity.prescription.end_date {
        last = last.min(end);
    }
    let start = from.map_or(first, |f| f.max(first));
    if IsoWeek::of(last) < IsoWeek::of(start) || last < first {
        return Vec::new();
    }
    let mut weeks = Vec::new();
    let mut monday = IsoWeek::of(start).monday();
    while monday <= last {
        let week = IsoWeek::of(monday);
        let (mut days, mut share) = (0u32, 0.0f64);
        for d in 0..7 {
            if let Some(p) = activity.in_effect(monday + Duration::days(d)) {
                days += 1;
                share += f64::from(p.times_per_week) / 7.0;
            }
        }
        if days > 0 {
            let in_week = |l: &&PracticeLog| {
                let day = l.practice.performed_at.date_naive();
                l.counts() && IsoWeek::of(day) == week && activity.in_effect(day).is_some()
            };
            let counted: Vec<&PracticeLog> = logs.iter().filter(in_week).collect();
            let done = counted
                .iter()
                .filter(|l| l.practice.outcome == PracticeOutcome::Done)
                .count() as u32;
            let skipped = counted.len() as u32 - done;
            let prescribed = (share.round() as u32).max(1);
            weeks.push(WeekAdherence {
                week: week.label(),
                starts_on: monday,
                days_prescribed: days,
                prescribed,
                done,
                skipped,
                adherence: f64::from(done.min(prescribed)) / f64::from(prescribed),
                fully_done: done >= prescribed,
            });
        }
        monday += Duration::days(7);
    }
    weeks
}

/// Adherence over a period: done (capped per week at what was prescribed) over
/// prescribed, summed over the weeks; None when nothing was prescribed.
pub fn overall(weeks: &[WeekAdherence]) -> Option<f64> {
    let prescribed: u32 = weeks.iter().map(|w| w.prescribed).sum();
    let done: u32 = weeks.iter().map(|w| w.done.min(w.prescribed)).sum();
    (prescribed > 0).then(|| f64::from(done) / f64::from(prescribed))
}

/// The weeks `new` (a log just added) made fully done: a milestone for the goal the
/// activity serves. Compares adherence before and after the log.
pub fn weeks_completed_by(
    activity: &Activity,
    before: &[PracticeLog],
    new: &PracticeLog,
    today: NaiveDate,
) -> Vec<String> {
    let day = new.practice.performed_at.date_naive();
    let week = IsoWeek::of(day).label();
    let monday = IsoWeek::of(day).monday();
    let end = today.max(day);
    let was = weekly_adherence(activity, before, Some(monday), end);
    let mut after = before.to_vec();
    after.push(new.clone());
    let now = weekly_adherence(activity, &after, Some(monday), end);
    let done = |ws: &[WeekAdherence]| ws.iter().any(|w| w.week == week && w.fully_done);
    // `today` only bounds which weeks exist; the week of the log is always among them.
    if done(&now) && !done(&was) {
        vec![week]
    } else {
        Vec::new()
    }
}

/// Every week fully done, with when: the practice that reached the week's prescribed
/// times (for the milestones a client celebrates).
pub fn fully_done_weeks(
    activity: &Activity,
    logs: &[PracticeLog],
    to: NaiveDate,
) -> Vec<(String, DateTime<Utc>)> {
    let weeks = weekly_adherence(activity, logs, None, to);
    let mut done: Vec<&PracticeLog> = logs
        .iter()
        .filter(|l| l.counts() && l.practice.outcome == PracticeOutcome::Done)
        .filter(|l| {
            activity
                .in_effect(l.practice.performed_at.date_naive())
                .is_some()
        })
        .collect();
    done.sort_by_key(|l| (l.practice.performed_at, l.id));
    weeks
        .into_iter()
        .filter(|w| w.fully_done)
        .filter_map(|w| {
            let in_week = done
                .iter()
                .filter(|l| IsoWeek::of(l.practice.performed_at.date_naive()).label() == w.week);
            let reached = in_week.clone().nth(w.prescribed as usize - 1)?;
            Some((w.week, reached.practice.performed_at))
        })
        .collect()
}

// --- Check-ins -----------------------------------------------------------------------

/// A short check-in between sessions: each 0..=10, at least one given.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Feelings {
    pub mood: Option<u8>,
    pub pain: Option<u8>,
    pub fatigue: Option<u8>,
    pub confidence: Option<u8>,
}

/// A check-in as reported, before it is checked.
#[derive(Debug, Clone, Default)]
pub struct CheckInDraft {
    pub mood: Option<i64>,
    pub pain: Option<i64>,
    pub fatigue: Option<i64>,
    pub confidence: Option<i64>,
    pub note: Option<String>,
    pub observed_at: Option<DateTime<Utc>>,
}

impl CheckInDraft {
    pub fn check(
        self,
        now: DateTime<Utc>,
    ) -> Result<(Feelings, Option<String>, DateTime<Utc>), Invalid> {
        let mut problems = Problems::default();
        let f = Feelings {
            mood: rating(&mut problems, "mood", self.mood),
            pain: rating(&mut problems, "pain", self.pain),
            fatigue: rating(&mut problems, "fatigue", self.fatigue),
            confidence: rating(&mut problems, "confidence", self.confidence),
        };
        let given = [self.mood, self.pain, self.fatigue, self.confidence];
        if given.iter().all(Option::is_none) {
            problems.add(
                "mood",
                "give at least one of mood, pain, fatigue, confidence",
            );
        }
        let note = note(&mut problems, "note", self.note);
        let at = self.observed_at.unwrap_or(now);
        if at > now + Duration::minutes(1) {
            problems.add("observed_at", "must not be in the future");
        }
        problems.finish()?;
        Ok((f, note, at))
    }
}

text_enum!(
    /// What a sharp drop flags.
    Concern {
        MoodFell => "mood-fell",
        ConfidenceFell => "confidence-fell",
        PainRose => "pain-rose",
        FatigueRose => "fatigue-rose",
    }
);

/// How far a value must move against the mean of the previous check-ins to flag.
pub const SHARP_CHANGE: f64 = 3.0;
/// How many previous check-ins the mean is taken over.
pub const PREVIOUS_CHECK_INS: usize = 3;

/// The rule for a sharp drop: against the mean of the previous 3 check-ins that gave
/// the same value (fewer when fewer exist, none: no flag), mood or confidence falling
/// by 3 or more, or pain or fatigue rising by 3 or more. `previous` is in time order,
/// oldest first; only its last three giving each value count.
pub fn sharp_drop(previous: &[Feelings], now: &Feelings) -> Vec<Concern> {
    let mean = |pick: Pick| {
        let values: Vec<f64> = previous
            .iter()
            .rev()
            .filter_map(pick)
            .take(PREVIOUS_CHECK_INS)
            .map(f64::from)
            .collect();
        (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
    };
    let rules: [(Pick, f64, Concern); 4] = [
        (|f| f.mood, -1.0, Concern::MoodFell),
        (|f| f.confidence, -1.0, Concern::ConfidenceFell),
        (|f| f.pain, 1.0, Concern::PainRose),
        (|f| f.fatigue, 1.0, Concern::FatigueRose),
    ];
    let mut concerns: Vec<Concern> = rules
        .into_iter()
        .filter_map(|(pick, sign, concern)| {
            let (value, mean) = (pick(now)?, mean(pick)?);
            ((f64::from(value) - mean) * sign >= SHARP_CHANGE).then_some(concern)
        })
        .collect();
    concerns.sort();
    concerns
}

/// Picks one value of a check-in.
type Pick = fn(&Feelings) -> Option<u8>;

/// A check-in as stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckIn {
    pub id: Uuid,
    pub client_id: Uuid,
    pub feelings: Feelings,
    pub note: Option<String>,
    pub observed_at: DateTime<Utc>,
    pub recorded_by: Uuid,
    pub recorded_role: Role,
    /// What the sharp-drop rule found (empty: not flagged).
    pub concerns: Vec<Concern>,
    pub created_at: DateTime<Utc>,
}

// --- Questions -----------------------------------------------------------------------

text_enum!(
    /// Where a question stands.
    QuestionState {
        Open => "open",
        Answered => "answered",
    }
);

/// Checked text of a question, an answer or a note: 1 to 4000 characters, not blank.
pub fn text(field: &str, body: &str) -> Result<String, Invalid> {
    let b = body.trim();
    if b.is_empty() || b.chars().count() > 4000 {
        return Err(Invalid::field(
            field,
            "must be 1 to 4000 characters, not blank",
        ));
    }
    Ok(b.to_owned())
}

/// A team-only note on a question: never shown to the client or caregivers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuestionNote {
    pub id: Uuid,
    pub author_id: Uuid,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

/// A question a client asked the care team.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Question {
    pub id: Uuid,
    pub client_id: Uuid,
    pub body: String,
    pub asked_by: Uuid,
    pub asked_role: Role,
    pub asked_at: DateTime<Utc>,
    pub state: QuestionState,
    pub answer: Option<String>,
    pub answered_by: Option<Uuid>,
    pub answered_at: Option<DateTime<Utc>>,
    pub version: i32,
    /// Team-only notes; always empty for a reader who does not see team notes.
    pub team_notes: Vec<QuestionNote>,
}

impl Question {
    /// Whether it may be answered: once. A later answer would overwrite the first.
    pub fn may_answer(&self) -> Result<(), &'static str> {
        match self.state {
            QuestionState::Open => Ok(()),
            QuestionState::Answered => Err("this question is answered already"),
        }
    }

    /// How long it has waited for an answer, in whole minutes.
    pub fn waited_minutes(&self, now: DateTime<Utc>) -> i64 {
        let until = self.answered_at.unwrap_or(now);
        (until - self.asked_at).num_minutes().max(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or(NaiveDate::MIN)
    }

    fn prescription(times: u8, start: &str, end: Option<&str>) -> Prescription {
        Prescription {
            instructions: "Sit to stand".into(),
            times_per_week: times,
            sets: Some(3),
            repetitions: Some(10),
            duration_minutes: None,
            start_date: d(start),
            end_date: end.map(d),
        }
    }

    fn activity(p: Prescription) -> Activity {
        Activity {
            id: Uuid::nil(),
            client_id: Uuid::nil(),
            episode_id: Uuid::nil(),
            goal_id: Uuid::nil(),
            status: ActivityStatus::Active,
            version: 1,
            versions: vec![ActivityVersion {
                version: 1,
                effective_from: p.start_date,
                prescription: p.clone(),
                prescribed_by: Uuid::nil(),
                recorded_at: Utc::now(),
            }],
            prescription: p,
            stopped_on: None,
            stop_reason: None,
            stopped_by: None,
            created_at: Utc::now(),
        }
    }

    fn log(day: &str, outcome: PracticeOutcome) -> PracticeLog {
        PracticeLog {
            id: crate::new_id(),
            client_id: Uuid::nil(),
            activity_id: Uuid::nil(),
            practice: Practice {
                outcome,
                effort: None,
                pain: None,
                note: None,
                performed_at: d(day).and_hms_opt(10, 0, 0).unwrap_or_default().and_utc(),
            },
            recorded_by: Uuid::nil(),
            recorded_role: Role::Client,
            status: LogStatus::Final,
            supersedes: None,
            superseded_by: None,
            reason: None,
            created_at: Utc::now(),
        }
    }

    #[test]
    fn a_prescription_names_every_bad_field() {
        let draft = PrescriptionDraft {
            instructions: "  ".into(),
            times_per_week: 22,
            sets: Some(0),
            repetitions: Some(10),
            duration_minutes: Some(601),
            start_date: Some(d("2026-12-07")),
            end_date: Some(d("2026-12-01")),
        };
        let Err(Invalid(errors)) = draft.check(d("2026-12-01")) else {
            panic!("accepted")
        };
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "instructions",
                "times_per_week",
                "sets",
                "duration_minutes",
                "end_date"
            ]
        );
        let ok = PrescriptionDraft {
            instructions: "Walk".into(),
            times_per_week: 21,
            ..Default::default()
        };
        assert_eq!(
            ok.check(d("2026-12-01")).map(|p| p.start_date),
            Ok(d("2026-12-01"))
        );
    }

    #[test]
    fn a_full_week_counts_done_over_prescribed() {
        // 2026-12-07 is a Monday; 5 times a week.
        let a = activity(prescription(5, "2026-12-07", None));
        let logs: Vec<_> = ["2026-12-07", "2026-12-08", "2026-12-09"]
            .iter()
            .map(|day| log(day, PracticeOutcome::Done))
            .chain([log("2026-12-10", PracticeOutcome::Skipped)])
            .collect();
        let weeks = weekly_adherence(&a, &logs, None, d("2026-12-13"));
        assert_eq!(weeks.len(), 1);
        let w = &weeks[0];
        assert_eq!(w.week, "2026-W50");
        assert_eq!((w.prescribed, w.done, w.skipped), (5, 3, 1));
        assert!((w.adherence - 0.6).abs() < 1e-9);
        assert!(!w.fully_done);
    }

    #[test]
    fn partial_first_and_last_weeks_are_prorated() {
        // Starts Thursday 2026-12-10 (4 days: Thu-Sun), ends Tuesday 2026-12-15 (2 days).
        let a = activity(prescription(7, "2026-12-10", Some("2026-12-15")));
        let weeks = weekly_adherence(&a, &[], None, d("2026-12-31"));
        let shape: Vec<(u32, u32)> = weeks
            .iter()
            .map(|w| (w.days_prescribed, w.prescribed))
            .collect();
        assert_eq!(shape, [(4, 4), (2, 2)]);
        // 5 a week over 3 days is 2.14: 2 times.
        let b = activity(prescription(5, "2026-12-11", None));
        let w = weekly_adherence(&b, &[], None, d("2026-12-13"));
        assert_eq!((w[0].days_prescribed, w[0].prescribed), (3, 2));
        // 1 a week over 1 day still asks for it once.
        let c = activity(prescription(1, "2026-12-13", None));
        assert_eq!(
            weekly_adherence(&c, &[], None, d("2026-12-13"))[0].prescribed,
            1
        );
    }

    #[test]
    fn withdrawn_and_superseded_logs_do_not_count_and_extra_practice_is_capped() {
        let a = activity(prescription(2, "2026-12-07", None));
        let mut withdrawn = log("2026-12-07", PracticeOutcome::Done);
        withdrawn.status = LogStatus::EnteredInError;
        let mut superseded = log("2026-12-08", PracticeOutcome::Done);
        superseded.superseded_by = Some(Uuid::nil());
        let logs = vec![
            withdrawn,
            superseded,
            log("2026-12-09", PracticeOutcome::Done),
        ];
        let w = &weekly_adherence(&a, &logs, None, d("2026-12-13"))[0];
        assert_eq!(w.done, 1);
        let many: Vec<_> = (7..=11)
            .map(|n| log(&format!("2026-12-{n:02}"), PracticeOutcome::Done))
            .collect();
        let w = &weekly_adherence(&a, &many, None, d("2026-12-13"))[0];
        assert_eq!((w.done, w.adherence, w.fully_done), (5, 1.0, true));
    }

    #[test]
    fn a_new_version_applies_from_its_day_and_a_stop_ends_the_weeks() {
        let mut a = activity(prescription(7, "2026-12-07", None));
        let three = prescription(3, "2026-12-07", None);
        a.versions.push(ActivityVersion {
            version: 2,
            effective_from: d("2026-12-14"),
            prescription: three.clone(),
            prescribed_by: Uuid::nil(),
            recorded_at: Utc::now(),
        });
        a.prescription = three;
        a.stopped_on = Some(d("2026-12-20"));
        let weeks = weekly_adherence(&a, &[], None, d("2027-01-31"));
        let prescribed: Vec<u32> = weeks.iter().map(|w| w.prescribed).collect();
        assert_eq!(prescribed, [7, 3]);
        assert!(a.may_log_on(d("2026-12-20")).is_ok());
        assert_eq!(
            a.may_log_on(d("2026-12-21"))
                .map_err(|e| e.0[0].field.clone()),
            Err("performed_at".to_owned())
        );
        assert!(a.may_log_on(d("2026-12-06")).is_err());
    }

    #[test]
    fn the_log_that_completes_a_week_is_a_milestone_once() {
        let a = activity(prescription(2, "2026-12-07", None));
        let first = log("2026-12-07", PracticeOutcome::Done);
        let second = log("2026-12-08", PracticeOutcome::Done);
        let third = log("2026-12-09", PracticeOutcome::Done);
        let today = d("2026-12-09");
        assert!(weeks_completed_by(&a, &[], &first, today).is_empty());
        assert_eq!(
            weeks_completed_by(&a, std::slice::from_ref(&first), &second, today),
            ["2026-W50"]
        );
        let all = [first.clone(), second.clone(), third.clone()];
        assert!(weeks_completed_by(&a, &[first, second.clone()], &third, today).is_empty());
        assert_eq!(
            fully_done_weeks(&a, &all, today),
            [("2026-W50".to_owned(), second.practice.performed_at)]
        );
    }

    #[test]
    fn a_sharp_drop_is_three_points_against_the_mean_of_the_previous_three() {
        let f = |mood, pain| Feelings {
            mood: Some(mood),
            pain: Some(pain),
            fatigue: None,
            confidence: None,
        };
        // The oldest (mood 0) is beyond the last three and does not count.
        let previous = [f(0, 9), f(7, 2), f(8, 3), f(6, 1)];
        assert_eq!(
            sharp_drop(&previous, &f(4, 5)),
            [Concern::MoodFell, Concern::PainRose]
        );
        assert!(sharp_drop(&previous, &f(5, 4)).is_empty());
        assert!(sharp_drop(&[], &f(0, 10)).is_empty());
        // A value not given before or now is not compared.
        let conf = Feelings {
            confidence: Some(1),
            ..Default::default()
        };
        assert!(sharp_drop(&previous, &conf).is_empty());
    }

    #[test]
    fn a_check_in_needs_one_value_in_range() {
        let Err(Invalid(e)) = CheckInDraft::default().check(Utc::now()) else {
            panic!("accepted")
        };
        assert_eq!(e[0].field, "mood");
        let bad = CheckInDraft {
            pain: Some(11),
            ..Default::default()
        };
        let Err(Invalid(e)) = bad.check(Utc::now()) else {
            panic!("accepted")
        };
        assert_eq!(e[0].field, "pain");
    }

    proptest! {
        /// Adherence is a share, weeks are whole ISO weeks in order without repeats,
        /// a week is fully done exactly when what was done reaches what was prescribed,
        /// and prescribed never exceeds the weekly times.
        #[test]
        fn adherence_is_a_bounded_share_per_week(
            times in 1u8..=21,
            start in 0i64..60,
            length in 0i64..60,
            done_days in prop::collection::vec(0i64..120, 0..40),
        ) {
            let base = d("2026-11-02");
            let s = base + Duration::days(start);
            let e = s + Duration::days(length);
            let a = activity(Prescription {
                start_date: s,
                end_date: Some(e),
                ..prescription(times, "2026-11-02", None)
            });
            let logs: Vec<_> = done_days
                .iter()
                .map(|n| log(&(base + Duration::days(*n)).to_string(), PracticeOutcome::Done))
                .collect();
            let weeks = weekly_adherence(&a, &logs, None, base + Duration::days(200));
            let mut labels: Vec<_> = weeks.iter().map(|w| w.week.clone()).collect();
            let n = labels.len();
            labels.dedup();
            prop_assert_eq!(labels.len(), n);
            let days: u32 = weeks.iter().map(|w| w.days_prescribed).sum();
            prop_assert_eq!(i64::from(days), length + 1);
            for w in &weeks {
                prop_assert!((0.0..=1.0).contains(&w.adherence));
                prop_assert!(w.prescribed >= 1 && w.prescribed <= u32::from(times));
                prop_assert_eq!(w.fully_done, w.done >= w.prescribed);
                prop_assert_eq!(w.starts_on.weekday(), chrono::Weekday::Mon);
            }
            let counted: u32 = weeks.iter().map(|w| w.done).sum();
            let in_range = done_days.iter().filter(|n| **n >= start && **n <= start + length).count();
            prop_assert_eq!(counted as usize, in_range);
            if let Some(o) = overall(&weeks) {
                prop_assert!((0.0..=1.0).contains(&o));
            }
        }

        /// A flag needs a move of at least 3 points in the worrying direction.
        #[test]
        fn a_flag_needs_a_three_point_move_the_wrong_way(
            prev in prop::collection::vec((0u8..=10, 0u8..=10), 1..6),
            mood in 0u8..=10,
            pain in 0u8..=10,
        ) {
            let f = |m, p| Feelings { mood: Some(m), pain: Some(p), fatigue: None, confidence: None };
            let previous: Vec<_> = prev.iter().map(|(m, p)| f(*m, *p)).collect();
            let last3: Vec<_> = previous.iter().rev().take(3).collect();
            let mean_mood = last3.iter().map(|x| f64::from(x.mood.unwrap_or(0))).sum::<f64>() / last3.len() as f64;
            let mean_pain = last3.iter().map(|x| f64::from(x.pain.unwrap_or(0))).sum::<f64>() / last3.len() as f64;
            let flags = sharp_drop(&previous, &f(mood, pain));
            prop_assert_eq!(flags.contains(&Concern::MoodFell), mean_mood - f64::from(mood) >= 3.0);
            prop_assert_eq!(flags.contains(&Concern::PainRose), f64::from(pain) - mean_pain >= 3.0);
        }
    }
}
