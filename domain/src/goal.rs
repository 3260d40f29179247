//! Episodes of care and goals set together: the client's words, the therapist's
//! measurable statement, agreement by both sides, and a lifecycle that maps onto FHIR.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{error::Problems, identity::text_enum, Invalid};

text_enum!(
    /// An episode's state.
    EpisodeStatus {
        Planned => "planned",
        Active => "active",
        Finished => "finished",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// Occupation areas (OT Practice Framework, 4th ed.).
    OccupationArea {
        Adl => "adl",
        Iadl => "iadl",
        HealthManagement => "health-management",
        RestAndSleep => "rest-and-sleep",
        Education => "education",
        Work => "work",
        Play => "play",
        Leisure => "leisure",
        SocialParticipation => "social-participation",
    }
);

text_enum!(
    Term {
        LongTerm => "long-term",
        ShortTerm => "short-term",
    }
);

text_enum!(
    /// Where a goal stands.
    GoalStatus {
        Proposed => "proposed",
        Active => "active",
        OnHold => "on-hold",
        Achieved => "achieved",
        NotAchieved => "not-achieved",
        Cancelled => "cancelled",
    }
);

text_enum!(
    /// The two sides that set a goal together.
    Side {
        /// The client, or a caregiver the client allowed to take part.
        Client => "client",
        /// A therapist on the client's care team.
        Team => "team",
    }
);

impl EpisodeStatus {
    /// The statuses an episode may open with: it is never already over.
    pub const OPENING: &'static [EpisodeStatus] = &[EpisodeStatus::Planned, EpisodeStatus::Active];
}

impl GoalStatus {
    pub fn is_closed(self) -> bool {
        matches!(
            self,
            GoalStatus::Achieved | GoalStatus::NotAchieved | GoalStatus::Cancelled
        )
    }

    /// FHIR Goal.lifecycleStatus.
    pub fn fhir_lifecycle(self) -> &'static str {
        match self {
            GoalStatus::Proposed => "proposed",
            GoalStatus::Active => "active",
            GoalStatus::OnHold => "on-hold",
            GoalStatus::Achieved | GoalStatus::NotAchieved => "completed",
            GoalStatus::Cancelled => "cancelled",
        }
    }

    /// FHIR Goal.achievementStatus, where the status itself settles it.
    pub fn fhir_achievement(self) -> Option<&'static str> {
        match self {
            GoalStatus::Achieved => Some("achieved"),
            GoalStatus::NotAchieved => Some("not-achieved"),
            _ => None,
        }
    }

    /// Status changes the care team may make directly (activation needs agreement).
    pub fn may_become(self, next: GoalStatus) -> bool {
        use GoalStatus::*;
        matches!(
            (self, next),
            (Active, OnHold)
                | (OnHold, Active)
                | (Active | OnHold, Achieved | NotAchieved | Cancelled)
                | (Proposed, Cancelled)
        )
    }
}

/// Who has agreed to a goal's current revision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Agreement {
    pub client: bool,
    pub team: bool,
}

impl Agreement {
    /// A new revision starts with only its proposer's side agreed.
    pub fn proposed_by(side: Side) -> Self {
        Agreement {
            client: side == Side::Client,
            team: side == Side::Team,
        }
    }

    pub fn with(self, side: Side) -> Self {
        match side {
            Side::Client => Agreement {
                client: true,
                ..self
            },
            Side::Team => Agreement { team: true, ..self },
        }
    }

    pub fn complete(self) -> bool {
        self.client && self.team
    }
}

/// What agreeing does to a goal: proposed goals turn active once both sides agree.
pub fn after_agreement(
    status: GoalStatus,
    agreement: Agreement,
    side: Side,
) -> Result<(GoalStatus, Agreement), Invalid> {
    if status != GoalStatus::Proposed {
        return Err(Invalid::field(
            "goal",
            format!("is {status}; only proposed goals await agreement"),
        ));
    }
    let agreement = agreement.with(side);
    let status = if agreement.complete() {
        GoalStatus::Active
    } else {
        GoalStatus::Proposed
    };
    Ok((status, agreement))
}

/// A diagnosis on an episode: a code from a code system, and its text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub system: String,
    pub code: String,
    pub text: String,
}

/// Goal Attainment Scaling descriptions for levels -2..+2 and the expected baseline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GasScale {
    /// Descriptions of levels -2, -1, 0, +1, +2, in that order.
    pub levels: [String; 5],
    /// Usually -1, or -2 when the client could get worse.
    pub baseline: i32,
}

/// The agreed (or proposed) content of a goal: what a revision holds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalContent {
    pub client_words: String,
    /// The care team's measurable statement; empty while it is still to be written
    /// (a goal the client proposed in their own words), see [`GoalContent::awaits_statement`].
    pub statement: String,
    pub occupation_area: OccupationArea,
    pub importance: i32,
    pub start_date: NaiveDate,
    pub target_date: Option<NaiveDate>,
    /// Optional target on a chosen outcome measure.
    pub measure_code: Option<String>,
    pub target_value: Option<f64>,
    pub gas: Option<GasScale>,
}

/// Raw goal content as a caller sent it.
#[derive(Debug, Clone, Default)]
pub struct GoalInput<'a> {
    pub client_words: &'a str,
    /// Absent or blank: still to be written (allowed on the client's side only, see
    /// [`statement_rule`]).
    pub statement: Option<&'a str>,
    pub occupation_area: &'a str,
    pub importance: i64,
    pub start_date: Option<NaiveDate>,
    pub target_date: Option<NaiveDate>,
    pub measure_code: Option<&'a str>,
    pub target_value: Option<f64>,
    pub gas_levels: Option<Vec<&'a str>>,
    pub gas_baseline: Option<i64>,
}

fn text(p: &mut Problems, field: &str, raw: &str, max: usize) -> String {
    let v = raw.trim();
    if v.is_empty() {
        p.add(field, "must not be blank");
    } else if v.chars().count() > max {
        p.add(field, format!("must be at most {max} characters"));
    }
    v.to_owned()
}

impl GoalContent {
    pub fn parse(i: &GoalInput<'_>, today: NaiveDate) -> Result<Self, Invalid> {
        let mut p = Problems::default();
        let client_words = text(&mut p, "client_words", i.client_words, 1000);
        let statement = i.statement.map_or("", str::trim).to_owned();
        if statement.chars().count() > 2000 {
            p.add("statement", "must be at most 2000 characters");
        }
        let area = p.check(OccupationArea::parse("occupation_area", i.occupation_area));
        if !(1..=10).contains(&i.importance) {
            p.add("importance", "must be between 1 and 10");
        }
        let start_date = i.start_date.unwrap_or(today);
        if let Some(target) = i.target_date {
            if target < start_date {
                p.add("target_date", "must not be before start_date");
            }
        }
        if i.target_value.is_some() && i.measure_code.is_none() {
            p.add("measure_code", "is required with target_value");
        }
        if i.target_value.is_some_and(|v| !v.is_finite()) {
            p.add("target_value", "must be a number");
        }
        let gas = match (&i.gas_levels, i.gas_baseline) {
            (None, None) => None,
            (Some(levels), baseline) => {
                if levels.len() != 5 {
                    p.add(
                        "gas_levels",
                        "must describe the five levels -2, -1, 0, +1, +2",
                    );
                }
                let described: Vec<String> = levels
                    .iter()
                    .enumerate()
                    .map(|(n, l)| text(&mut p, &format!("gas_levels[{n}]"), l, 500))
                    .collect();
                let baseline = baseline.unwrap_or(-1);
                if !(-2..=0).contains(&baseline) {
                    p.add("gas_baseline", "must be -2, -1 or 0");
                }
                described.try_into().ok().map(|levels| GasScale {
                    levels,
                    baseline: i32::try_from(baseline).unwrap_or(-1),
                })
            }
            (None, Some(_)) => {
                p.add("gas_levels", "are required with gas_baseline");
                None
            }
        };
        p.finish()?;
        Ok(GoalContent {
            client_words,
            statement,
            occupation_area: area.unwrap_or(OccupationArea::Adl),
            importance: i32::try_from(i.importance).unwrap_or(1),
            start_date,
            target_date: i.target_date,
            measure_code: i.measure_code.map(str::to_owned),
            target_value: i.target_value,
            gas,
        })
    }
}

/// The stable label of a goal within its episode: long-term goals are numbered
/// 1, 2, 3...; short-term goals under goal 2 are 2.1, 2.2... Progress reports refer
/// to goals by it.
pub fn label(parent_label: Option<&str>, sequence: i32) -> String {
    match parent_label {
        Some(parent) => format!("{parent}.{sequence}"),
        None => sequence.to_string(),
    }
}

/// Checks an episode's diagnoses, as sent, and trims them.
pub fn diagnoses(sent: Vec<Diagnosis>) -> Result<Vec<Diagnosis>, Invalid> {
    let mut p = Problems::default();
    for (i, d) in sent.iter().enumerate() {
        for (name, v) in [("system", &d.system), ("code", &d.code), ("text", &d.text)] {
            if v.trim().is_empty() || v.chars().count() > 500 {
                p.add(
                    format!("diagnoses[{i}].{name}"),
                    "must be 1 to 500 characters",
                );
            }
        }
    }
    p.finish()?;
    Ok(sent
        .into_iter()
        .map(|d| Diagnosis {
            system: d.system.trim().into(),
            code: d.code.trim().into(),
            text: d.text.trim().into(),
        })
        .collect())
}

/// A new episode's diagnoses and status (`active` unless sent): an episode opens
/// planned or active, never already over.
pub fn new_episode(
    sent_diagnoses: Vec<Diagnosis>,
    status: Option<&str>,
) -> Result<(Vec<Diagnosis>, EpisodeStatus), Invalid> {
    let mut p = Problems::default();
    let diagnoses = p.check(diagnoses(sent_diagnoses));
    let status = p.check(EpisodeStatus::parse("status", status.unwrap_or("active")));
    if status.is_some_and(|s| !EpisodeStatus::OPENING.contains(&s)) {
        p.add("status", "a new episode is planned or active");
    }
    p.finish()?;
    Ok((
        diagnoses.unwrap_or_default(),
        status.unwrap_or(EpisodeStatus::Active),
    ))
}

/// An episode ends on or after the day it started.
pub fn may_end(start_date: NaiveDate, end_date: Option<NaiveDate>) -> Result<(), Invalid> {
    if end_date.is_some_and(|d| d < start_date) {
        return Err(Invalid::field(
            "end_date",
            "must not be before the episode's start_date",
        ));
    }
    Ok(())
}

/// Where a new goal may sit: in an open episode of this client; a long-term goal
/// on its own, a short-term goal under a long-term goal of the same episode.
/// `episode` and `parent` are what storage found of this client (None: not theirs).
pub fn may_place(
    episode: Option<&Episode>,
    term: Term,
    parent_id: Option<uuid::Uuid>,
    parent: Option<&Goal>,
) -> Result<(), Invalid> {
    let episode =
        episode.ok_or_else(|| Invalid::field("episode_id", "is not an episode of this client"))?;
    if matches!(
        episode.status,
        EpisodeStatus::Finished | EpisodeStatus::Cancelled
    ) {
        return Err(Invalid::field(
            "episode_id",
            format!("the episode is {}", episode.status),
        ));
    }
    match (term, parent_id) {
        (Term::LongTerm, Some(_)) => Err(Invalid::field(
            "parent_id",
            "long-term goals have no parent",
        )),
        (Term::LongTerm, None) => Ok(()),
        (Term::ShortTerm, None) => Err(Invalid::field(
            "parent_id",
            "a short-term goal sits under a long-term goal",
        )),
        (Term::ShortTerm, Some(_)) => {
            let parent = parent
                .ok_or_else(|| Invalid::field("parent_id", "is not a goal of this client"))?;
            if parent.term != Term::LongTerm || parent.episode_id != episode.id {
                return Err(Invalid::field(
                    "parent_id",
                    "must be a long-term goal of the same episode",
                ));
            }
            Ok(())
        }
    }
}

/// A revision changes an open goal's content.
pub fn may_revise(goal: &Goal, content: &GoalContent) -> Result<(), Invalid> {
    if goal.status.is_closed() {
        return Err(Invalid::field(
            "goal",
            format!("is {}; closed goals are not revised", goal.status),
        ));
    }
    if goal.content == *content {
        return Err(Invalid::field("goal", "the revision changes nothing"));
    }
    Ok(())
}

/// A status change the care team asks for, allowed only where [`GoalStatus::may_become`] says.
pub fn status_change(from: GoalStatus, next: GoalStatus) -> Result<(), Invalid> {
    if from.may_become(next) {
        return Ok(());
    }
    let why = if next == GoalStatus::Active && from == GoalStatus::Proposed {
        "a proposed goal becomes active when both sides agree".to_owned()
    } else {
        format!("a {from} goal cannot become {next}")
    };
    Err(Invalid::field("status", why))
}

impl GoalContent {
    /// Whether the measurable statement is still to be written by the care team.
    pub fn awaits_statement(&self) -> bool {
        self.statement.is_empty()
    }

    /// A goal's measure must be known (`measure` is what the catalogue holds for
    /// its code) and its target on that measure's scale.
    pub fn fits_measure(
        &self,
        measure: Option<&crate::measure::OutcomeMeasure>,
    ) -> Result<(), Invalid> {
        if self.measure_code.is_none() {
            return Ok(());
        }
        let m = measure.ok_or_else(|| Invalid::field("measure_code", "is not a known measure"))?;
        match self.target_value {
            Some(t) if t < m.min || t > m.max => Err(Invalid::field(
                "target_value",
                format!("must be on the measure's scale, {} to {}", m.min, m.max),
            )),
            _ => Ok(()),
        }
    }
}

/// A new episode of care, as the care team opens it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpisodeDraft {
    pub reason_for_referral: String,
    pub diagnoses: Vec<Diagnosis>,
    pub start_date: NaiveDate,
    pub status: EpisodeStatus,
}

impl EpisodeDraft {
    /// Checks a new episode as sent: the reason (1 to 2000 characters, trimmed), the
    /// diagnoses and status as [`new_episode`] decides; it starts `today` unless sent.
    pub fn parse(
        reason_for_referral: &str,
        diagnoses: Vec<Diagnosis>,
        start_date: Option<NaiveDate>,
        status: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, Invalid> {
        let mut p = Problems::default();
        let reason = text(&mut p, "reason_for_referral", reason_for_referral, 2000);
        let rest = p.check(new_episode(diagnoses, status));
        p.finish()?;
        let (diagnoses, status) = rest.unwrap_or((vec![], EpisodeStatus::Active));
        Ok(EpisodeDraft {
            reason_for_referral: reason,
            diagnoses,
            start_date: start_date.unwrap_or(today),
            status,
        })
    }
}

/// A goal being put forward: where it sits and what it says.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalDraft {
    pub term: Term,
    pub parent_id: Option<uuid::Uuid>,
    pub content: GoalContent,
}

/// Names the fields of `e` as sitting under `at` (`content.` for a proposal's content).
fn under(mut e: Invalid, at: &str) -> Invalid {
    for f in &mut e.0 {
        f.field = format!("{at}{}", f.field);
    }
    e
}

impl GoalDraft {
    /// Checks a proposal as sent: its term (`long-term` unless sent) and its content,
    /// whose fields are named under `content.` as the proposal holds them.
    pub fn parse(
        term: Option<&str>,
        parent_id: Option<uuid::Uuid>,
        content: &GoalInput<'_>,
        today: NaiveDate,
    ) -> Result<Self, Invalid> {
        let term = Term::parse("term", term.unwrap_or("long-term"))?;
        let content = GoalContent::parse(content, today).map_err(|e| under(e, "content."))?;
        Ok(GoalDraft {
            term,
            parent_id,
            content,
        })
    }
}

/// Client-centred practice starts from the client's words: the client's side (the
/// client, or a caregiver allowed to take part) may propose or revise a goal in their
/// own words alone, leaving the measurable statement to the care team; the team
/// writes one whenever it proposes or revises, and before it agrees
/// (see [`agreeing`]).
pub fn statement_rule(content: &GoalContent, side: Side) -> Result<(), Invalid> {
    if side == Side::Team && content.awaits_statement() {
        return Err(Invalid::field(
            "statement",
            "must be written when the care team proposes or revises a goal \
             (only the client's side may leave it to the team)",
        ));
    }
    Ok(())
}

/// Whether a proposal may be made by `side`: its statement by [`statement_rule`], its
/// target on its measure's scale (`measure` is what the catalogue holds for its
/// code), and its place by [`may_place`].
pub fn may_propose(
    draft: &GoalDraft,
    side: Side,
    measure: Option<&crate::measure::OutcomeMeasure>,
    episode: Option<&Episode>,
    parent: Option<&Goal>,
) -> Result<(), Invalid> {
    let content = &draft.content;
    statement_rule(content, side).map_err(|e| under(e, "content."))?;
    content
        .fits_measure(measure)
        .map_err(|e| under(e, "content."))?;
    may_place(episode, draft.term, draft.parent_id, parent)
}

/// Whether a revision may be made by `side`: its statement by [`statement_rule`], its
/// target on its measure's scale, then [`may_revise`] (open goals only, and it must
/// change something).
pub fn may_revise_to(
    goal: &Goal,
    content: &GoalContent,
    side: Side,
    measure: Option<&crate::measure::OutcomeMeasure>,
) -> Result<(), Invalid> {
    statement_rule(content, side)?;
    content.fits_measure(measure)?;
    may_revise(goal, content)
}

/// What one side agreeing to a goal's current revision does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgreementStep {
    /// The side had already agreed to this revision: nothing changes.
    AlreadyAgreed,
    /// The agreement is recorded; `event` says whether the goal became active.
    Agreed {
        status: GoalStatus,
        agreement: Agreement,
        event: GoalEventKind,
    },
}

/// Decides one side's agreement to a goal: only proposed goals await agreement; the
/// care team agrees only to a goal with a measurable statement (a goal proposed in
/// the client's words alone is revised by the team to add it first); a side agreeing
/// again changes nothing; with both sides, the goal is active.
pub fn agreeing(goal: &Goal, side: Side) -> Result<AgreementStep, Invalid> {
    let (status, agreement) = after_agreement(goal.status, goal.agreement, side)?;
    if side == Side::Team && goal.content.awaits_statement() {
        return Err(Invalid::field(
            "content.statement",
            "must be written before the care team agrees: \
             revise the goal to add the measurable statement",
        ));
    }
    if agreement == goal.agreement {
        return Ok(AgreementStep::AlreadyAgreed);
    }
    let event = if status == GoalStatus::Active {
        GoalEventKind::Activated
    } else {
        GoalEventKind::Agreed
    };
    Ok(AgreementStep::Agreed {
        status,
        agreement,
        event,
    })
}

/// A comment as sent: 1 to 5000 characters, trimmed.
pub fn comment_body(raw: &str) -> Result<String, Invalid> {
    let mut p = Problems::default();
    let body = text(&mut p, "body", raw, 5000);
    p.finish()?;
    Ok(body)
}

/// The episode a record that names none goes in (a FHIR Observation or Goal has no
/// episode of its own): the episode of the goal it is about, when it names one;
/// otherwise the client's one open (planned or active) episode. `goal` is the goal
/// `goal_id` found, if any. Field names are the record's own words for what to add.
pub fn episode_for(
    goal_id: Option<uuid::Uuid>,
    goal: Option<&Goal>,
    episodes: &[Episode],
) -> Result<uuid::Uuid, Invalid> {
    match (goal_id, goal) {
        (Some(_), Some(g)) => return Ok(g.episode_id),
        (Some(_), None) => return Err(Invalid::field("goal", "is not a goal of this client")),
        (None, _) => {}
    }
    let open: Vec<&Episode> = episodes
        .iter()
        .filter(|e| EpisodeStatus::OPENING.contains(&e.status))
        .collect();
    match open.as_slice() {
        [one] => Ok(one.id),
        [] => Err(Invalid::field(
            "episode",
            "the client has no open episode of care: open one, or name a goal",
        )),
        _ => Err(Invalid::field(
            "episode",
            "the client has several open episodes of care: name the goal or the episode",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_record_naming_no_episode_goes_in_its_goals_or_the_one_open_episode() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        let episode = |status| Episode {
            id: crate::new_id(),
            client_id: uuid::Uuid::nil(),
            reason_for_referral: "stroke".into(),
            diagnoses: Vec::new(),
            start_date: day,
            end_date: None,
            status,
            version: 1,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let (active, finished, planned) = (
            episode(EpisodeStatus::Active),
            episode(EpisodeStatus::Finished),
            episode(EpisodeStatus::Planned),
        );
        let field = |r: Result<uuid::Uuid, Invalid>| r.err().map(|e| e.0[0].field.clone());
        // One open episode among closed ones: that one.
        let one = [finished.clone(), active.clone()];
        assert_eq!(episode_for(None, None, &one).ok(), Some(active.id));
        // None open, or two: the caller must say which.
        assert_eq!(
            field(episode_for(None, None, std::slice::from_ref(&finished))).as_deref(),
            Some("episode")
        );
        let two = [active.clone(), planned.clone()];
        assert_eq!(
            field(episode_for(None, None, &two)).as_deref(),
            Some("episode")
        );
        // A goal that was found decides, even among several open episodes; one that
        // was not is named.
        let goal_id = crate::new_id();
        assert_eq!(
            field(episode_for(Some(goal_id), None, &two)).as_deref(),
            Some("goal")
        );
    }

    #[test]
    fn a_goal_turns_active_only_when_both_sides_agree() {
        let proposed = Agreement::proposed_by(Side::Team);
        let (status, agreement) = after_agreement(GoalStatus::Proposed, proposed, Side::Team)
            .unwrap_or((GoalStatus::Cancelled, proposed));
        assert_eq!(
            status,
            GoalStatus::Proposed,
            "the proposer agreeing again changes nothing"
        );
        let (status, agreement) = after_agreement(status, agreement, Side::Client)
            .unwrap_or((GoalStatus::Cancelled, agreement));
        assert_eq!(status, GoalStatus::Active);
        assert!(agreement.complete());
        assert!(after_agreement(GoalStatus::Active, agreement, Side::Client).is_err());
    }

    #[test]
    fn statuses_map_to_fhir() {
        assert_eq!(GoalStatus::Achieved.fhir_lifecycle(), "completed");
        assert_eq!(GoalStatus::Achieved.fhir_achievement(), Some("achieved"));
        assert_eq!(
            GoalStatus::NotAchieved.fhir_achievement(),
            Some("not-achieved")
        );
        assert_eq!(GoalStatus::OnHold.fhir_lifecycle(), "on-hold");
        assert_eq!(GoalStatus::Proposed.fhir_lifecycle(), "proposed");
        assert_eq!(GoalStatus::Cancelled.fhir_lifecycle(), "cancelled");
    }

    #[test]
    fn goal_content_is_checked_field_by_field() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default();
        let bad = GoalContent::parse(
            &GoalInput {
                client_words: " ",
                statement: Some("Dress independently in 10 minutes"),
                occupation_area: "hobbies",
                importance: 11,
                target_date: NaiveDate::from_ymd_opt(2026, 1, 1),
                target_value: Some(6.0),
                gas_levels: Some(vec!["a", "b", "c"]),
                gas_baseline: Some(1),
                ..Default::default()
            },
            today,
        );
        let fields: Vec<String> = bad
            .err()
            .map(|e| e.0.into_iter().map(|f| f.field).collect())
            .unwrap_or_default();
        assert_eq!(
            fields,
            [
                "client_words",
                "occupation_area",
                "importance",
                "target_date",
                "measure_code",
                "gas_levels",
                "gas_baseline"
            ]
        );
        let good = GoalContent::parse(
            &GoalInput {
                client_words: "Cook dinner for my kids again",
                statement: Some("Prepare a two-course meal independently within 45 minutes"),
                occupation_area: "iadl",
                importance: 9,
                measure_code: Some("copm"),
                target_value: Some(7.0),
                gas_levels: Some(vec![
                    "none",
                    "with help",
                    "alone, slowly",
                    "alone",
                    "alone, for guests",
                ]),
                ..Default::default()
            },
            today,
        );
        let good = good.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(good.start_date, today);
        assert_eq!(good.gas.map(|g| g.baseline), Some(-1));
    }

    #[test]
    fn labels_are_stable_and_nested() {
        assert_eq!(label(None, 3), "3");
        assert_eq!(label(Some("2"), 1), "2.1");
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap_or_default()
    }

    fn content(words: &str) -> GoalContent {
        GoalContent {
            client_words: words.into(),
            statement: "Dress independently in 10 minutes".into(),
            occupation_area: OccupationArea::Adl,
            importance: 8,
            start_date: day(1),
            target_date: None,
            measure_code: Some("nrs".into()),
            target_value: Some(8.0),
            gas: None,
        }
    }

    fn episode(status: EpisodeStatus) -> Episode {
        Episode {
            id: uuid::Uuid::from_u128(1),
            client_id: uuid::Uuid::from_u128(2),
            reason_for_referral: "Stroke".into(),
            diagnoses: vec![],
            start_date: day(1),
            end_date: None,
            status,
            version: 1,
            created_at: chrono::DateTime::default(),
            updated_at: chrono::DateTime::default(),
        }
    }

    fn goal(term: Term, episode_id: u128, status: GoalStatus) -> Goal {
        Goal {
            id: uuid::Uuid::from_u128(10),
            client_id: uuid::Uuid::from_u128(2),
            episode_id: uuid::Uuid::from_u128(episode_id),
            label: "1".into(),
            term,
            parent_id: None,
            status,
            expressed_by: Side::Team,
            revision: 1,
            agreement: Agreement::proposed_by(Side::Team),
            content: content("Get dressed by myself"),
            version: 1,
            created_at: chrono::DateTime::default(),
            updated_at: chrono::DateTime::default(),
        }
    }

    fn message(r: Result<(), Invalid>) -> String {
        r.err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn goals_sit_in_an_open_episode_and_short_terms_under_a_long_term_goal() {
        let open = episode(EpisodeStatus::Active);
        let parent_id = Some(uuid::Uuid::from_u128(10));
        let long = goal(Term::LongTerm, 1, GoalStatus::Active);
        assert!(may_place(Some(&open), Term::LongTerm, None, None).is_ok());
        assert!(may_place(Some(&open), Term::ShortTerm, parent_id, Some(&long)).is_ok());
        assert!(may_place(
            Some(&episode(EpisodeStatus::Planned)),
            Term::LongTerm,
            None,
            None
        )
        .is_ok());
        for (r, expected) in [
            (
                may_place(None, Term::LongTerm, None, None),
                "episode_id: is not an episode of this client",
            ),
            (
                may_place(
                    Some(&episode(EpisodeStatus::Finished)),
                    Term::LongTerm,
                    None,
                    None,
                ),
                "episode_id: the episode is finished",
            ),
            (
                may_place(Some(&open), Term::LongTerm, parent_id, Some(&long)),
                "parent_id: long-term goals have no parent",
            ),
            (
                may_place(Some(&open), Term::ShortTerm, None, None),
                "parent_id: a short-term goal sits under a long-term goal",
            ),
            (
                may_place(Some(&open), Term::ShortTerm, parent_id, None),
                "parent_id: is not a goal of this client",
            ),
            (
                may_place(
                    Some(&open),
                    Term::ShortTerm,
                    parent_id,
                    Some(&goal(Term::ShortTerm, 1, GoalStatus::Active)),
                ),
                "parent_id: must be a long-term goal of the same episode",
            ),
            (
                may_place(
                    Some(&open),
                    Term::ShortTerm,
                    parent_id,
                    Some(&goal(Term::LongTerm, 9, GoalStatus::Active)),
                ),
                "parent_id: must be a long-term goal of the same episode",
            ),
        ] {
            assert_eq!(message(r), format!("invalid input ({expected})"));
        }
    }

    #[test]
    fn closed_goals_are_not_revised_and_a_revision_changes_something() {
        let active = goal(Term::LongTerm, 1, GoalStatus::Active);
        assert!(may_revise(&active, &content("Dress myself before breakfast")).is_ok());
        assert_eq!(
            message(may_revise(&active, &active.content)),
            "invalid input (goal: the revision changes nothing)"
        );
        let achieved = goal(Term::LongTerm, 1, GoalStatus::Achieved);
        assert_eq!(
            message(may_revise(&achieved, &content("Anything else"))),
            "invalid input (goal: is achieved; closed goals are not revised)"
        );
    }

    #[test]
    fn status_changes_say_why_they_are_refused() {
        assert!(status_change(GoalStatus::Active, GoalStatus::OnHold).is_ok());
        assert_eq!(
            message(status_change(GoalStatus::Proposed, GoalStatus::Active)),
            "invalid input (status: a proposed goal becomes active when both sides agree)"
        );
        assert_eq!(
            message(status_change(GoalStatus::Achieved, GoalStatus::Active)),
            "invalid input (status: a achieved goal cannot become active)"
        );
    }

    #[test]
    fn episodes_open_planned_or_active_with_checked_diagnoses() {
        let d = |system: &str, code: &str, text: &str| Diagnosis {
            system: system.into(),
            code: code.into(),
            text: text.into(),
        };
        let (diagnoses, status) = new_episode(vec![d(" icd-10 ", "I63", "Stroke")], None)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(diagnoses, [d("icd-10", "I63", "Stroke")]);
        assert_eq!(status, EpisodeStatus::Active);
        let fields: Vec<String> = new_episode(vec![d("icd-10", " ", "Stroke")], Some("finished"))
            .err()
            .map(|e| e.0.into_iter().map(|f| f.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["diagnoses[0].code", "status"]);
        assert!(may_end(day(2), Some(day(2))).is_ok());
        assert!(may_end(day(2), None).is_ok());
        assert_eq!(
            message(may_end(day(2), Some(day(1)))),
            "invalid input (end_date: must not be before the episode's start_date)"
        );
    }

    #[test]
    fn a_goal_target_sits_on_its_measure_scale() {
        let nrs = crate::measure::built_in("nrs");
        assert!(content("x").fits_measure(nrs.as_ref()).is_ok());
        assert_eq!(
            message(content("x").fits_measure(None)),
            "invalid input (measure_code: is not a known measure)"
        );
        let too_high = GoalContent {
            target_value: Some(11.0),
            ..content("x")
        };
        assert_eq!(
            message(too_high.fits_measure(nrs.as_ref())),
            "invalid input (target_value: must be on the measure's scale, 0 to 10)"
        );
        let no_measure = GoalContent {
            measure_code: None,
            target_value: None,
            ..content("x")
        };
        assert!(no_measure.fits_measure(None).is_ok());
    }

    #[test]
    fn an_episode_draft_is_trimmed_and_starts_today_unless_told() {
        let today = day(5);
        let draft = EpisodeDraft::parse(" Stroke ", vec![], None, None, today)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (
                draft.reason_for_referral.as_str(),
                draft.start_date,
                draft.status
            ),
            ("Stroke", today, EpisodeStatus::Active)
        );
        let fields: Vec<String> =
            EpisodeDraft::parse("  ", vec![], Some(day(1)), Some("finished"), today)
                .err()
                .map(|e| e.0.into_iter().map(|f| f.field).collect())
                .unwrap_or_default();
        assert_eq!(fields, ["reason_for_referral", "status"]);
    }

    #[test]
    fn a_proposal_names_its_content_fields_under_content() {
        let input = GoalInput {
            client_words: "Cook",
            statement: Some("Cook a meal"),
            occupation_area: "iadl",
            importance: 0,
            ..Default::default()
        };
        let fields: Vec<String> = GoalDraft::parse(None, None, &input, day(1))
            .err()
            .map(|e| e.0.into_iter().map(|f| f.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["content.importance"]);
        assert!(GoalDraft::parse(Some("medium-term"), None, &input, day(1)).is_err());
        let ok = GoalDraft::parse(
            Some("short-term"),
            Some(uuid::Uuid::from_u128(10)),
            &GoalInput {
                importance: 5,
                ..input
            },
            day(1),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.term, Term::ShortTerm);
    }

    #[test]
    fn a_proposal_fits_its_measure_before_its_place_is_checked() {
        let nrs = crate::measure::built_in("nrs");
        let open = episode(EpisodeStatus::Active);
        let draft = GoalDraft {
            term: Term::LongTerm,
            parent_id: None,
            content: content("Dress"),
        };
        assert!(may_propose(&draft, Side::Team, nrs.as_ref(), Some(&open), None).is_ok());
        assert_eq!(
            message(may_propose(&draft, Side::Team, None, None, None)),
            "invalid input (content.measure_code: is not a known measure)"
        );
        assert_eq!(
            message(may_propose(&draft, Side::Team, nrs.as_ref(), None, None)),
            "invalid input (episode_id: is not an episode of this client)"
        );
        let short = GoalDraft {
            term: Term::ShortTerm,
            ..draft
        };
        assert_eq!(
            message(may_propose(
                &short,
                Side::Team,
                nrs.as_ref(),
                Some(&open),
                None
            )),
            "invalid input (parent_id: a short-term goal sits under a long-term goal)"
        );
    }

    #[test]
    fn a_revision_fits_its_measure_and_changes_an_open_goal() {
        let nrs = crate::measure::built_in("nrs");
        let active = goal(Term::LongTerm, 1, GoalStatus::Active);
        assert!(
            may_revise_to(&active, &content("Dress quickly"), Side::Team, nrs.as_ref()).is_ok()
        );
        let off_scale = GoalContent {
            target_value: Some(12.0),
            ..content("Dress quickly")
        };
        assert_eq!(
            message(may_revise_to(&active, &off_scale, Side::Team, nrs.as_ref())),
            "invalid input (target_value: must be on the measure's scale, 0 to 10)"
        );
        let closed = goal(Term::LongTerm, 1, GoalStatus::Cancelled);
        assert_eq!(
            message(may_revise_to(
                &closed,
                &content("Dress quickly"),
                Side::Team,
                nrs.as_ref()
            )),
            "invalid input (goal: is cancelled; closed goals are not revised)"
        );
    }

    #[test]
    fn agreeing_again_changes_nothing_and_both_sides_activate() {
        let proposed = goal(Term::LongTerm, 1, GoalStatus::Proposed);
        assert_eq!(
            agreeing(&proposed, Side::Team).ok(),
            Some(AgreementStep::AlreadyAgreed)
        );
        assert_eq!(
            agreeing(&proposed, Side::Client).ok(),
            Some(AgreementStep::Agreed {
                status: GoalStatus::Active,
                agreement: Agreement {
                    client: true,
                    team: true
                },
                event: GoalEventKind::Activated,
            })
        );
        let client_first = Goal {
            agreement: Agreement::default(),
            ..proposed.clone()
        };
        assert_eq!(
            agreeing(&client_first, Side::Client).ok(),
            Some(AgreementStep::Agreed {
                status: GoalStatus::Proposed,
                agreement: Agreement::proposed_by(Side::Client),
                event: GoalEventKind::Agreed,
            })
        );
        let active = goal(Term::LongTerm, 1, GoalStatus::Active);
        assert_eq!(
            message(agreeing(&active, Side::Team).map(|_| ())),
            "invalid input (goal: is active; only proposed goals await agreement)"
        );
    }

    #[test]
    fn the_client_may_leave_the_statement_to_the_team_which_writes_it_before_agreeing() {
        let nrs = crate::measure::built_in("nrs");
        let open = episode(EpisodeStatus::Active);
        // In the client's words alone: no statement sent, or a blank one.
        let words_only = |statement| {
            GoalDraft::parse(
                None,
                None,
                &GoalInput {
                    client_words: "Walk my dog to the park again",
                    statement,
                    occupation_area: "leisure",
                    importance: 8,
                    ..Default::default()
                },
                day(1),
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        for draft in [words_only(None), words_only(Some("   "))] {
            assert!(draft.content.awaits_statement());
            assert!(may_propose(&draft, Side::Client, nrs.as_ref(), Some(&open), None).is_ok());
            assert_eq!(
                message(may_propose(
                    &draft,
                    Side::Team,
                    nrs.as_ref(),
                    Some(&open),
                    None
                )),
                "invalid input (content.statement: must be written when the care team \
                 proposes or revises a goal (only the client's side may leave it to the team))"
            );
        }
        // Proposed by the client without a statement: the client has agreed, the team
        // may not until a revision adds the statement.
        let proposed = Goal {
            agreement: Agreement::proposed_by(Side::Client),
            expressed_by: Side::Client,
            content: words_only(None).content,
            ..goal(Term::LongTerm, 1, GoalStatus::Proposed)
        };
        assert_eq!(
            message(agreeing(&proposed, Side::Team).map(|_| ())),
            "invalid input (content.statement: must be written before the care team \
             agrees: revise the goal to add the measurable statement)"
        );
        let bare = words_only(None).content;
        assert!(may_revise_to(&proposed, &content("Walk"), Side::Team, nrs.as_ref()).is_ok());
        assert!(may_revise_to(
            &proposed,
            &GoalContent {
                importance: 9,
                ..bare.clone()
            },
            Side::Client,
            nrs.as_ref()
        )
        .is_ok());
        assert_eq!(
            message(may_revise_to(
                &proposed,
                &GoalContent {
                    importance: 9,
                    ..bare
                },
                Side::Team,
                nrs.as_ref()
            )),
            "invalid input (statement: must be written when the care team \
             proposes or revises a goal (only the client's side may leave it to the team))"
        );
        // The team's revision (with a statement) starts a new revision agreed by the
        // team; the client agreeing then makes the goal active.
        let revised = Goal {
            agreement: Agreement::proposed_by(Side::Team),
            content: content("Walk my dog to the park again"),
            ..proposed
        };
        assert!(matches!(
            agreeing(&revised, Side::Client),
            Ok(AgreementStep::Agreed {
                status: GoalStatus::Active,
                ..
            })
        ));
    }

    #[test]
    fn comments_are_trimmed_and_never_blank() {
        assert_eq!(
            comment_body("  Well done ").ok().as_deref(),
            Some("Well done")
        );
        assert_eq!(
            message(comment_body(" \n ").map(|_| ())),
            "invalid input (body: must not be blank)"
        );
        assert!(comment_body(&"x".repeat(5001)).is_err());
    }

    fn any_status() -> impl Strategy<Value = GoalStatus> {
        proptest::sample::select(GoalStatus::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn closed_goals_stay_closed(from in any_status(), to in any_status()) {
            if from.is_closed() {
                prop_assert!(!from.may_become(to));
            }
            prop_assert!(!from.may_become(GoalStatus::Proposed), "only a revision re-proposes");
            prop_assert!(!from.may_become(GoalStatus::Active) || from == GoalStatus::OnHold, "activation needs agreement");
        }

        #[test]
        fn refused_status_changes_are_exactly_what_may_become_refuses(from in any_status(), to in any_status()) {
            prop_assert_eq!(status_change(from, to).is_ok(), from.may_become(to));
            if from.is_closed() {
                prop_assert!(status_change(from, to).is_err());
            }
        }

        #[test]
        fn agreement_needs_both_sides(sides in proptest::collection::vec(proptest::sample::select(Side::ALL.to_vec()), 1..6), first in proptest::sample::select(Side::ALL.to_vec())) {
            let mut status = GoalStatus::Proposed;
            let mut agreement = Agreement::proposed_by(first);
            for side in &sides {
                if status != GoalStatus::Proposed { break; }
                let (s, a) = after_agreement(status, agreement, *side).unwrap_or((status, agreement));
                status = s;
                agreement = a;
            }
            let both = sides.iter().chain(std::iter::once(&first)).any(|s| *s == Side::Client)
                && sides.iter().chain(std::iter::once(&first)).any(|s| *s == Side::Team);
            prop_assert_eq!(status == GoalStatus::Active, both);
        }
    }
}

/// A course of therapy: the goals and measurements of one referral.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Episode {
    pub id: uuid::Uuid,
    pub client_id: uuid::Uuid,
    pub reason_for_referral: String,
    pub diagnoses: Vec<Diagnosis>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub status: EpisodeStatus,
    /// Grows by one with every change; the entity tag is this number, quoted.
    pub version: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// A goal as it stands now (its current revision).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Goal {
    pub id: uuid::Uuid,
    pub client_id: uuid::Uuid,
    pub episode_id: uuid::Uuid,
    pub label: String,
    pub term: Term,
    pub parent_id: Option<uuid::Uuid>,
    pub status: GoalStatus,
    /// Who first put the goal forward (FHIR expressedBy).
    pub expressed_by: Side,
    pub revision: i32,
    pub agreement: Agreement,
    pub content: GoalContent,
    /// Grows by one with every change; the entity tag is this number, quoted.
    pub version: i32,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

/// Someone's agreement to a revision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgreementRecord {
    pub side: Side,
    pub user_id: uuid::Uuid,
    pub role: crate::identity::Role,
    pub agreed_at: chrono::DateTime<chrono::Utc>,
}

/// One revision of a goal, with who agreed to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalRevision {
    pub revision: i32,
    pub content: GoalContent,
    pub proposed_by: uuid::Uuid,
    pub proposed_side: Side,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub agreements: Vec<AgreementRecord>,
}

text_enum!(
    /// What happened to a goal, as its history records it.
    GoalEventKind {
        Proposed => "proposed",
        Revised => "revised",
        Agreed => "agreed",
        /// Both sides agreed, so the goal became active.
        Activated => "activated",
        StatusChanged => "status-changed",
    }
);

/// What happened to a goal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalEvent {
    pub kind: GoalEventKind,
    pub status: GoalStatus,
    pub revision: i32,
    pub actor_id: uuid::Uuid,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A comment on a goal; team-only notes are for the care team alone.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GoalComment {
    pub id: uuid::Uuid,
    pub goal_id: uuid::Uuid,
    pub author_id: uuid::Uuid,
    pub author_name: String,
    pub author_role: crate::identity::Role,
    pub body: String,
    pub team_only: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Every version of a goal, oldest first, rebuilt from what Headway keeps: each
/// change of a goal recorded one event (the status and revision it left), each
/// revision its whole content, each agreement its side and time. Version `n` is the
/// goal as the `n`-th change left it; the last is `current` itself.
///
/// `current.version` counts the changes since versions were counted; a goal older
/// than that has more events, and its earliest counted version is the state its
/// first counted change left (the events before it have no version number of their
/// own). A version whose revision was not kept is left out; when fewer events were
/// kept than versions counted, only `current` can be told truly, and it alone is given.
pub fn versions_of(current: &Goal, events: &[GoalEvent], revisions: &[GoalRevision]) -> Vec<Goal> {
    let counted = usize::try_from(current.version).unwrap_or(0);
    let Some(skip) = events.len().checked_sub(counted) else {
        return vec![current.clone()];
    };
    let mut versions = Vec::with_capacity(counted);
    for (n, event) in events[skip..].iter().enumerate() {
        let version = n as i32 + 1;
        if version == current.version {
            versions.push(current.clone());
            break;
        }
        let Some(revision) = revisions.iter().find(|r| r.revision == event.revision) else {
            // A revision not kept: this version cannot be told (the later ones can).
            continue;
        };
        let agreed = |side: Side| {
            revision
                .agreements
                .iter()
                .any(|a| a.side == side && a.agreed_at <= event.at)
        };
        versions.push(Goal {
            status: event.status,
            revision: event.revision,
            agreement: Agreement {
                client: agreed(Side::Client),
                team: agreed(Side::Team),
            },
            content: revision.content.clone(),
            version,
            updated_at: event.at,
            ..current.clone()
        });
    }
    if versions.last().map(|g| g.version) != Some(current.version) {
        return vec![current.clone()];
    }
    versions
}

#[cfg(test)]
mod version_tests {
    use super::*;
    use chrono::{Duration, TimeZone, Utc};

    fn at(minutes: i64) -> chrono::DateTime<chrono::Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::minutes(minutes)
    }

    fn content(words: &str) -> GoalContent {
        GoalContent {
            client_words: words.to_owned(),
            statement: String::new(),
            occupation_area: OccupationArea::Iadl,
            importance: 5,
            start_date: at(0).date_naive(),
            target_date: None,
            measure_code: None,
            target_value: None,
            gas: None,
        }
    }

    fn event(kind: GoalEventKind, status: GoalStatus, revision: i32, minute: i64) -> GoalEvent {
        GoalEvent {
            kind,
            status,
            revision,
            actor_id: uuid::Uuid::nil(),
            at: at(minute),
        }
    }

    fn agreement(side: Side, minute: i64) -> AgreementRecord {
        AgreementRecord {
            side,
            user_id: uuid::Uuid::nil(),
            role: crate::identity::Role::Therapist,
            agreed_at: at(minute),
        }
    }

    fn revision(
        n: i32,
        words: &str,
        minute: i64,
        agreements: Vec<AgreementRecord>,
    ) -> GoalRevision {
        GoalRevision {
            revision: n,
            content: content(words),
            proposed_by: uuid::Uuid::nil(),
            proposed_side: Side::Team,
            created_at: at(minute),
            agreements,
        }
    }

    /// Proposed by the team (1), agreed by the client (2, active), revised by the
    /// team (3, proposed again), put on hold (4).
    fn story() -> (Goal, Vec<GoalEvent>, Vec<GoalRevision>) {
        let events = vec![
            event(GoalEventKind::Proposed, GoalStatus::Proposed, 1, 0),
            event(GoalEventKind::Activated, GoalStatus::Active, 1, 10),
            event(GoalEventKind::Revised, GoalStatus::Proposed, 2, 20),
            event(GoalEventKind::StatusChanged, GoalStatus::OnHold, 2, 30),
        ];
        let revisions = vec![
            revision(
                1,
                "Cook",
                0,
                vec![agreement(Side::Team, 0), agreement(Side::Client, 10)],
            ),
            revision(2, "Cook dinner", 20, vec![agreement(Side::Team, 20)]),
        ];
        let current = Goal {
            id: uuid::Uuid::nil(),
            client_id: uuid::Uuid::nil(),
            episode_id: uuid::Uuid::nil(),
            label: "G1".to_owned(),
            term: Term::LongTerm,
            parent_id: None,
            status: GoalStatus::OnHold,
            expressed_by: Side::Team,
            revision: 2,
            agreement: Agreement::proposed_by(Side::Team),
            content: content("Cook dinner"),
            version: 4,
            created_at: at(0),
            updated_at: at(30),
        };
        (current, events, revisions)
    }

    #[test]
    fn each_change_is_a_version_as_it_left_the_goal() {
        let (current, events, revisions) = story();
        let versions = versions_of(&current, &events, &revisions);
        let seen: Vec<_> = versions
            .iter()
            .map(|g| {
                (
                    g.version,
                    g.status,
                    g.content.client_words.as_str(),
                    g.agreement.client,
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                (1, GoalStatus::Proposed, "Cook", false),
                (2, GoalStatus::Active, "Cook", true),
                (3, GoalStatus::Proposed, "Cook dinner", false),
                (4, GoalStatus::OnHold, "Cook dinner", false),
            ]
        );
        assert_eq!(versions[1].updated_at, at(10));
        assert_eq!(versions.last(), Some(&current));
    }

    #[test]
    fn changes_from_before_versions_were_counted_fold_into_the_first() {
        let (mut current, events, revisions) = story();
        current.version = 2;
        let versions = versions_of(&current, &events, &revisions);
        assert_eq!(versions.len(), 2);
        assert_eq!(versions[0].status, GoalStatus::Proposed);
        assert_eq!(versions[0].content.client_words, "Cook dinner");
        assert_eq!(versions[1], current);
    }

    #[test]
    fn what_cannot_be_told_truly_is_not_told() {
        let (current, events, revisions) = story();
        assert_eq!(
            versions_of(&current, &events[..2], &revisions),
            vec![current.clone()]
        );
        // Without the first revision, the versions it was in are left out.
        let told: Vec<i32> = versions_of(&current, &events, &revisions[1..])
            .iter()
            .map(|g| g.version)
            .collect();
        assert_eq!(told, vec![3, 4]);
    }
}
