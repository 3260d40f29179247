//! Between sessions: the care team prescribes home activities linked to a client's
//! goals; the client (or a contributing caregiver) logs practice, records check-ins and
//! asks questions; the team answers, and keeps its own notes on a question.
//!
//! The rules are `domain::home`'s: a prescription's ranges and versions, when an
//! activity may be logged, adherence per ISO week, the sharp-drop flag, a question's
//! state. Who may do what is the one policy's (`ClientAction`, `OrgAction`), and
//! `home::speaks_for_client` keeps logs, check-ins and questions in the client's voice.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    change::{Audience, ChangeKind},
    home::{
        fully_done_weeks, overall, sharp_drop, speaks_for_client, weekly_adherence,
        weeks_completed_by, Activity, CheckIn, Feelings, LogStatus, Practice, PracticeLog,
        Prescription, Question, QuestionNote, QuestionState, Refused, WeekAdherence,
    },
    identity::Principal,
    policy::{decide, sees_team_notes, ClientAction, Decision, OrgAction},
    progress::{Milestone, MilestoneKind},
    Invalid,
};
use uuid::Uuid;

use crate::{
    audit::Subject,
    changes::{self, NewChange},
    clients,
    gate::Caller,
    goals,
    home::{self, NewActivity},
    now,
    versions::{expect, Expected},
    Clinic, Conn, Reached, StoreError, StoreResult,
};

/// One activity's adherence: per ISO week, and over the weeks shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityAdherence {
    pub activity: Activity,
    pub weeks: Vec<WeekAdherence>,
    /// Done (capped per week) over prescribed, over the weeks; None: nothing prescribed.
    pub overall: Option<f64>,
}

/// The home programme serving one goal, with its adherence.
#[derive(Debug, Clone, PartialEq)]
pub struct GoalAdherence {
    pub goal_id: Uuid,
    pub activities: Vec<ActivityAdherence>,
    /// Over all its activities' weeks.
    pub overall: Option<f64>,
}

/// A correction of a practice log: new values, or a withdrawal.
#[derive(Debug, Clone)]
pub struct PracticeCorrection {
    pub reason: String,
    /// None: withdraw the entry as entered in error.
    pub practice: Option<Practice>,
}

/// A check-in in the list the care team reviews, with the client it is about.
#[derive(Debug, Clone)]
pub struct FlaggedCheckIn {
    pub check_in: CheckIn,
    pub client_name: String,
}

/// A question waiting for an answer, with the client who asked and how long it waited.
#[derive(Debug, Clone)]
pub struct WaitingQuestion {
    pub question: Question,
    pub client_name: String,
    pub waited_minutes: i64,
}

fn today() -> NaiveDate {
    now().date_naive()
}

/// The client's voice only: a therapist, admin or integration is refused (403) what
/// the policy would let them reach as `Participate`.
fn as_client_side(who: &Principal) -> StoreResult<()> {
    if speaks_for_client(who) {
        Ok(())
    } else {
        Err(StoreError::Forbidden)
    }
}

fn conflict(message: &str) -> StoreError {
    StoreError::Conflict(message.to_owned())
}

/// Adherence of every activity in `activities`, grouped by the goal each serves, over
/// `[from, to]` (whole ISO weeks), from the logs given (all of the client's).
pub fn adherence_by_goal(
    activities: Vec<Activity>,
    logs: &[PracticeLog],
    from: Option<NaiveDate>,
    to: NaiveDate,
) -> Vec<GoalAdherence> {
    let mut by_goal: Vec<GoalAdherence> = Vec::new();
    for activity in activities {
        let own: Vec<PracticeLog> = logs
            .iter()
            .filter(|l| l.activity_id == activity.id)
            .cloned()
            .collect();
        let weeks = weekly_adherence(&activity, &own, from, to);
        let line = ActivityAdherence {
            overall: overall(&weeks),
            weeks,
            activity,
        };
        match by_goal
            .iter_mut()
            .find(|g| g.goal_id == line.activity.goal_id)
        {
            Some(g) => g.activities.push(line),
            None => by_goal.push(GoalAdherence {
                goal_id: line.activity.goal_id,
                activities: vec![line],
                overall: None,
            }),
        }
    }
    for g in &mut by_goal {
        let weeks: Vec<WeekAdherence> = g
            .activities
            .iter()
            .flat_map(|a| a.weeks.iter().cloned())
            .collect();
        g.overall = overall(&weeks);
    }
    by_goal
}

/// An episode's home programme with adherence up to today, for the progress view.
pub(crate) fn episode_adherence(
    c: &mut Conn,
    client: Reached,
    episode_id: Uuid,
) -> StoreResult<Vec<GoalAdherence>> {
    let activities = home::activities_of(c, client, Some(episode_id))?;
    if activities.is_empty() {
        return Ok(Vec::new());
    }
    let logs = home::logs(c, client, None)?;
    Ok(adherence_by_goal(activities, &logs, None, today()))
}

/// Every ISO week of practice fully done, as a milestone of the goal it serves.
pub(crate) fn practice_milestones(
    c: &mut Conn,
    client: Reached,
) -> StoreResult<Vec<(Uuid, Milestone)>> {
    let activities = home::activities_of(c, client, None)?;
    if activities.is_empty() {
        return Ok(Vec::new());
    }
    let logs = home::logs(c, client, None)?;
    let mut found = Vec::new();
    for a in &activities {
        let own: Vec<PracticeLog> = logs
            .iter()
            .filter(|l| l.activity_id == a.id)
            .cloned()
            .collect();
        for (_, at) in fully_done_weeks(a, &own, today()) {
            let kind = MilestoneKind::PracticeWeekDone;
            found.push((
                a.goal_id,
                Milestone {
                    kind,
                    at,
                    value: None,
                },
            ));
        }
    }
    Ok(found)
}

fn note(
    c: &mut Conn,
    client: Reached,
    kind: ChangeKind,
    resource: (&str, Uuid),
    audience: Audience,
    by: Uuid,
    detail: Option<String>,
) -> StoreResult<()> {
    changes::note(
        c,
        NewChange {
            organization_id: client.organization_id(),
            client_id: client.client_id(),
            kind,
            resource_type: resource.0.to_owned(),
            resource_id: Some(resource.1.to_string()),
            audience,
            actor_id: Some(by),
            occurred_at: now(),
            detail,
        },
    )
}

/// The clients of the clinic `who` may review (clinical record and team notes), of
/// those named, with their names: what a caseload list may show.
fn reviewable(
    c: &mut Conn,
    who: &Principal,
    client_ids: impl IntoIterator<Item = Uuid>,
) -> StoreResult<Vec<(Uuid, String)>> {
    let mut seen: Vec<Uuid> = Vec::new();
    let mut allowed = Vec::new();
    for client_id in client_ids {
        if seen.contains(&client_id) {
            continue;
        }
        seen.push(client_id);
        let relation = clients::relation(c, who, client_id)?;
        if decide(who, relation, ClientAction::ViewClinical) == Decision::Allow
            && sees_team_notes(who)
        {
            let name = clients::get(c, who.organization_id, client_id)?.name;
            allowed.push((client_id, name));
        }
    }
    Ok(allowed)
}

impl Clinic {
    /// Prescribes a home activity serving one of the episode's goals (the care team).
    pub fn prescribe_activity(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
        goal_id: Uuid,
        prescription: Prescription,
    ) -> StoreResult<Activity> {
        let activity_id = domain::new_id();
        let by = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("activity.prescribe", "activity", activity_id),
            move |c, client| {
                goals::episode(c, client, episode_id)?;
                let goal = goals::found(goals::goal(c, client, goal_id))?;
                if goal.is_none_or(|g| g.episode_id != episode_id) {
                    return Err(Invalid::field("goal_id", "is not a goal of this episode").into());
                }
                let new = NewActivity {
                    id: activity_id,
                    episode_id,
                    goal_id,
                    prescription,
                };
                let activity = home::insert_activity(c, client, &new, by, now())?;
                goals::touch_progress(c, client, &episode_id.to_string())?;
                Ok(activity)
            },
        )
    }

    /// An episode's home programme, each activity with its adherence per ISO week.
    pub fn home_programme(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
    ) -> StoreResult<Vec<ActivityAdherence>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("activity.list", "episode", episode_id),
            move |c, client| {
                goals::episode(c, client, episode_id)?;
                let activities = home::activities_of(c, client, Some(episode_id))?;
                let logs = home::logs(c, client, None)?;
                Ok(adherence_by_goal(activities, &logs, None, today())
                    .into_iter()
                    .flat_map(|g| g.activities)
                    .collect())
            },
        )
    }

    /// One activity with every version and its adherence per ISO week.
    pub fn activity(
        &self,
        caller: &Caller,
        client_id: Uuid,
        activity_id: Uuid,
    ) -> StoreResult<ActivityAdherence> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("activity.read", "activity", activity_id),
            move |c, client| {
                let activity = home::activity(c, client, activity_id)?;
                let logs = home::logs(c, client, Some(activity_id))?;
                let weeks = weekly_adherence(&activity, &logs, None, today());
                Ok(ActivityAdherence {
                    overall: overall(&weeks),
                    weeks,
                    activity,
                })
            },
        )
    }

    /// Adherence to an episode's home programme per goal over `[from, to]` (whole ISO
    /// weeks; `to` defaults to today): for progress reports and the adherence route.
    pub fn adherence(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
        from: Option<NaiveDate>,
        to: Option<NaiveDate>,
    ) -> StoreResult<Vec<GoalAdherence>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("activity.adherence", "episode", episode_id),
            move |c, client| {
                goals::episode(c, client, episode_id)?;
                let to = to.unwrap_or_else(today);
                if from.is_some_and(|f| f > to) {
                    return Err(Invalid::field("from", "must not be after to").into());
                }
                let activities = home::activities_of(c, client, Some(episode_id))?;
                let logs = home::logs(c, client, None)?;
                Ok(adherence_by_goal(activities, &logs, from, to))
            },
        )
    }

    /// Changes a prescription: a new version, applying from today (or its start date,
    /// if later); earlier weeks keep the version they had. Conflict once stopped.
    pub fn revise_activity(
        &self,
        caller: &Caller,
        client_id: Uuid,
        activity_id: Uuid,
        expected: Expected,
        prescription: Prescription,
    ) -> StoreResult<Activity> {
        let by = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("activity.revise", "activity", activity_id),
            move |c, client| {
                let old = home::activity(c, client, activity_id)?;
                expect(&expected, old.version)?;
                old.may_change().map_err(conflict)?;
                let from = Activity::effective_from(&prescription, today());
                let new = home::revise_activity(c, client, &old, &prescription, from, by, now())?;
                goals::touch_progress(c, client, &old.episode_id.to_string())?;
                Ok(new)
            },
        )
    }

    /// Stops an activity today, with the reason: practice after today is refused.
    pub fn stop_activity(
        &self,
        caller: &Caller,
        client_id: Uuid,
        activity_id: Uuid,
        expected: Expected,
        reason: String,
    ) -> StoreResult<Activity> {
        let by = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("activity.stop", "activity", activity_id),
            move |c, client| {
                let old = home::activity(c, client, activity_id)?;
                expect(&expected, old.version)?;
                old.may_change().map_err(conflict)?;
                let stopped = home::stop_activity(c, client, &old, today(), &reason, by)?;
                goals::touch_progress(c, client, &old.episode_id.to_string())?;
                Ok(stopped)
            },
        )
    }

    /// Logs a practice of one of the client's activities (the client, a contributing
    /// caregiver). 404 for an activity that is not theirs; 422 naming `performed_at`
    /// when the activity is not in effect that day. A log that completes an ISO week's
    /// prescribed times is a milestone of the goal the activity serves.
    pub fn log_practice(
        &self,
        caller: &Caller,
        client_id: Uuid,
        activity_id: Uuid,
        practice: Practice,
    ) -> StoreResult<PracticeLog> {
        let log_id = domain::new_id();
        let who = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::Participate,
            Subject::one("practice.log", "practice_log", log_id),
            move |c, client| {
                as_client_side(&who)?;
                let activity = home::activity(c, client, activity_id)?;
                activity.may_log_on(practice.performed_at.date_naive())?;
                let t = now();
                let log = PracticeLog {
                    id: log_id,
                    client_id,
                    activity_id,
                    practice,
                    recorded_by: who.user_id,
                    recorded_role: who.role,
                    status: LogStatus::Final,
                    supersedes: None,
                    superseded_by: None,
                    reason: None,
                    created_at: t,
                };
                let before = home::logs(c, client, Some(activity_id))?;
                home::insert_log(c, client, &log)?;
                for week in weeks_completed_by(&activity, &before, &log, t.date_naive()) {
                    let milestone = Milestone {
                        kind: MilestoneKind::PracticeWeekDone,
                        at: log.practice.performed_at,
                        value: None,
                    };
                    goals::note_milestone(
                        c,
                        client,
                        activity.goal_id,
                        &milestone,
                        Some(who.user_id),
                    )?;
                    tracing::debug!(%activity_id, week, "a week of practice fully done");
                }
                goals::touch_progress(c, client, &activity.episode_id.to_string())?;
                Ok(log)
            },
        )
    }

    /// One practice log entry (any version).
    pub fn practice_log(
        &self,
        caller: &Caller,
        client_id: Uuid,
        log_id: Uuid,
    ) -> StoreResult<PracticeLog> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("practice.read", "practice_log", log_id),
            move |c, client| home::log(c, client, log_id),
        )
    }

    /// An activity's practice log in the order practice happened; with `history`,
    /// superseded and withdrawn entries too.
    pub fn practice_logs(
        &self,
        caller: &Caller,
        client_id: Uuid,
        activity_id: Uuid,
        history: bool,
    ) -> StoreResult<Vec<PracticeLog>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("practice.list", "activity", activity_id),
            move |c, client| {
                home::activity(c, client, activity_id)?;
                let all = home::logs(c, client, Some(activity_id))?;
                Ok(all.into_iter().filter(|l| history || l.counts()).collect())
            },
        )
    }

    /// Corrects a practice log with a new entry that supersedes it (`amended`), or
    /// withdraws it (`entered-in-error`); the old entry stays readable. Only the person
    /// who logged it, and only its current version.
    pub fn correct_practice(
        &self,
        caller: &Caller,
        client_id: Uuid,
        log_id: Uuid,
        expected: Expected,
        correction: PracticeCorrection,
    ) -> StoreResult<PracticeLog> {
        let who = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::Participate,
            Subject::one("practice.correct", "practice_log", log_id),
            move |c, client| {
                as_client_side(&who)?;
                let old = home::log(c, client, log_id)?;
                match old.may_be_corrected_by(&who) {
                    Err(Refused::NotYours) => return Err(StoreError::Forbidden),
                    Err(Refused::AlreadyCorrected) | Ok(()) => {}
                }
                expect(&expected, old.version())?;
                if old.superseded_by.is_some() {
                    return Err(conflict("already corrected: correct the latest version"));
                }
                let activity = home::activity(c, client, old.activity_id)?;
                let (status, practice) = match correction.practice {
                    Some(p) => {
                        activity.may_log_on(p.performed_at.date_naive())?;
                        (LogStatus::Amended, p)
                    }
                    None => (LogStatus::EnteredInError, old.practice.clone()),
                };
                let new = PracticeLog {
                    id: domain::new_id(),
                    practice,
                    recorded_by: who.user_id,
                    recorded_role: who.role,
                    status,
                    supersedes: Some(old.id),
                    superseded_by: None,
                    reason: Some(correction.reason),
                    created_at: now(),
                    ..old.clone()
                };
                home::insert_log(c, client, &new)?;
                home::supersede_log(c, client, old.id, new.id)?;
                goals::touch_progress(c, client, &activity.episode_id.to_string())?;
                Ok(new)
            },
        )
    }

    /// Records a check-in (the client, a contributing caregiver), flagged for the team
    /// when it shows a sharp drop against the previous check-ins
    /// (`domain::home::sharp_drop`).
    pub fn record_check_in(
        &self,
        caller: &Caller,
        client_id: Uuid,
        feelings: Feelings,
        note_text: Option<String>,
        observed_at: DateTime<Utc>,
    ) -> StoreResult<CheckIn> {
        let check_in_id = domain::new_id();
        let who = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::Participate,
            Subject::one("check_in.record", "check_in", check_in_id),
            move |c, client| {
                as_client_side(&who)?;
                let previous: Vec<Feelings> =
                    home::check_ins_of(c, client, Some(observed_at), Some(12))?
                        .into_iter()
                        .map(|c| c.feelings)
                        .collect();
                let check_in = CheckIn {
                    id: check_in_id,
                    client_id,
                    concerns: sharp_drop(&previous, &feelings),
                    feelings,
                    note: note_text,
                    observed_at,
                    recorded_by: who.user_id,
                    recorded_role: who.role,
                    created_at: now(),
                };
                home::insert_check_in(c, client, &check_in)?;
                Ok(check_in)
            },
        )
    }

    /// A client's check-ins in time order: the series the care team sees beside progress.
    pub fn check_ins(&self, caller: &Caller, client_id: Uuid) -> StoreResult<Vec<CheckIn>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("check_in.list", "client", client_id),
            move |c, client| home::check_ins_of(c, client, None, None),
        )
    }

    /// Flagged check-ins across the caller's caseload (an admin: the clinic), newest
    /// first. Each client shown sees it in their access log.
    pub fn flagged_check_ins(&self, caller: &Caller) -> StoreResult<Vec<FlaggedCheckIn>> {
        self.on_organization_showing(
            caller,
            OrgAction::ReviewCaseload,
            Subject::many("check_in.flagged", "check_in"),
            move |c, who| {
                let all = home::flagged_check_ins(c, who.organization_id)?;
                let allowed = reviewable(c, who, all.iter().map(|x| x.client_id))?;
                Ok(all
                    .into_iter()
                    .filter_map(|check_in| {
                        let name = allowed.iter().find(|(id, _)| *id == check_in.client_id)?;
                        Some(FlaggedCheckIn {
                            client_name: name.1.clone(),
                            check_in,
                        })
                    })
                    .collect())
            },
            |list: &Vec<FlaggedCheckIn>| {
                list.iter()
                    .map(|f| (f.check_in.id, f.check_in.client_id))
                    .collect()
            },
        )
    }

    /// The client (or a contributing caregiver) asks the care team a question.
    pub fn ask_question(
        &self,
        caller: &Caller,
        client_id: Uuid,
        body: String,
    ) -> StoreResult<Question> {
        let question_id = domain::new_id();
        let who = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::Participate,
            Subject::one("question.ask", "question", question_id),
            move |c, client| {
                as_client_side(&who)?;
                let question = Question {
                    id: question_id,
                    client_id,
                    body,
                    asked_by: who.user_id,
                    asked_role: who.role,
                    asked_at: now(),
                    state: QuestionState::Open,
                    answer: None,
                    answered_by: None,
                    answered_at: None,
                    version: 1,
                    team_notes: Vec::new(),
                };
                home::insert_question(c, client, &question)?;
                Ok(question)
            },
        )
    }

    /// A client's questions, oldest first; the team's notes only for the team.
    pub fn questions(&self, caller: &Caller, client_id: Uuid) -> StoreResult<Vec<Question>> {
        let team_notes = sees_team_notes(&caller.who);
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("question.list", "client", client_id),
            move |c, client| home::questions_of(c, client, None, team_notes),
        )
    }

    /// One question; the team's notes only for the team.
    pub fn question(
        &self,
        caller: &Caller,
        client_id: Uuid,
        question_id: Uuid,
    ) -> StoreResult<Question> {
        let team_notes = sees_team_notes(&caller.who);
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("question.read", "question", question_id),
            move |c, client| home::question(c, client, question_id, team_notes),
        )
    }

    /// A care team member answers a question; the client sees the answer. Once only:
    /// a second answer would overwrite the first (409).
    pub fn answer_question(
        &self,
        caller: &Caller,
        client_id: Uuid,
        question_id: Uuid,
        expected: Expected,
        answer: String,
    ) -> StoreResult<Question> {
        let by = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("question.answer", "question", question_id),
            move |c, client| {
                let q = home::question(c, client, question_id, false)?;
                expect(&expected, q.version)?;
                q.may_answer().map_err(conflict)?;
                home::answer_question(c, client, question_id, q.version, &answer, by, now())?;
                home::question(c, client, question_id, true)
            },
        )
    }

    /// A team-only note on a question: never shown to the client or caregivers, and
    /// heard live by the team alone.
    pub fn note_on_question(
        &self,
        caller: &Caller,
        client_id: Uuid,
        question_id: Uuid,
        body: String,
    ) -> StoreResult<QuestionNote> {
        let note_id = domain::new_id();
        let by = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("question.note", "question_note", note_id),
            move |c, client| {
                home::question(c, client, question_id, false)?;
                let added = QuestionNote {
                    id: note_id,
                    author_id: by,
                    body,
                    created_at: now(),
                };
                home::add_note(c, client, question_id, &added)?;
                let kind = ChangeKind::QuestionNoted;
                let resource = ("question_note", note_id);
                note(c, client, kind, resource, Audience::Team, by, None)?;
                Ok(added)
            },
        )
    }

    /// Questions waiting for an answer across the caller's caseload (an admin: the
    /// clinic), oldest first, with how long each has waited. Each client shown sees it
    /// in their access log.
    pub fn unanswered_questions(&self, caller: &Caller) -> StoreResult<Vec<WaitingQuestion>> {
        self.on_organization_showing(
            caller,
            OrgAction::ReviewCaseload,
            Subject::many("question.unanswered", "question"),
            move |c, who| {
                let open = home::open_questions(c, who.organization_id)?;
                let allowed = reviewable(c, who, open.iter().map(|q| q.client_id))?;
                let t = now();
                Ok(open
                    .into_iter()
                    .filter_map(|question| {
                        let name = allowed.iter().find(|(id, _)| *id == question.client_id)?;
                        Some(WaitingQuestion {
                            client_name: name.1.clone(),
                            waited_minutes: question.waited_minutes(t),
                            question,
                        })
                    })
                    .collect())
            },
            |list: &Vec<WaitingQuestion>| {
                list.iter()
                    .map(|w| (w.question.id, w.question.client_id))
                    .collect()
            },
        )
    }
}
