//! Progress reports: the care team drafts one for a period of an episode from the
//! recorded data, edits its assessment and plan (each edit a new draft version),
//! signs it; a signed report never changes, and is corrected by signed addenda.

use domain::{
    goal::Goal,
    policy::ClientAction,
    progress::episode_progress,
    report::{
        self, addendum_body, figures, sees_report, values_until, Addendum, Adherence, Narrative,
        Period, Report, ReportInput, ReportSubject, Signature,
    },
};
use uuid::Uuid;

use crate::{
    accounts,
    audit::Subject,
    clients,
    gate::Caller,
    goals, measurements, now, reports,
    versions::{expect, Expected},
    Clinic, Conn, Reached, StoreError, StoreResult,
};

/// A report with the addenda signed since.
#[derive(Debug, Clone)]
pub struct ReportRecord {
    pub report: Report,
    pub addenda: Vec<Addendum>,
    /// The clinic's catalogue, to draw each goal's chart on its measure.
    pub measures: Vec<domain::measure::OutcomeMeasure>,
}

/// Home-programme adherence for each of `goals` (in their order) over `period`: the
/// one place a report's adherence section comes from. It is the home programme's own
/// arithmetic (`ops::home::adherence_by_goal`, per ISO week, prorated, capped per
/// week), summed over the period's weeks; a goal no activity serves answers "no home
/// programme recorded".
pub(crate) fn home_programme_adherence(
    conn: &mut Conn,
    client: Reached,
    goals: &[Goal],
    period: &Period,
) -> StoreResult<Vec<Adherence>> {
    let episodes: std::collections::BTreeSet<Uuid> = goals.iter().map(|g| g.episode_id).collect();
    let mut activities = Vec::new();
    for episode in episodes {
        activities.extend(crate::home::activities_of(conn, client, Some(episode))?);
    }
    let logs = crate::home::logs(conn, client, None)?;
    let by_goal =
        crate::ops::home::adherence_by_goal(activities, &logs, Some(period.from), period.to);
    Ok(goals
        .iter()
        .map(|goal| {
            let weeks: Vec<_> = by_goal
                .iter()
                .filter(|g| g.goal_id == goal.id)
                .flat_map(|g| g.activities.iter().flat_map(|a| a.weeks.iter()))
                .collect();
            let prescribed: u32 = weeks.iter().map(|w| w.prescribed).sum();
            let completed: u32 = weeks.iter().map(|w| w.done.min(w.prescribed)).sum();
            match prescribed {
                0 => Adherence::NotRecorded,
                _ => Adherence::Recorded {
                    prescribed,
                    completed,
                    percent: f64::from(completed) / f64::from(prescribed) * 100.0,
                },
            }
        })
        .collect())
}

/// Who signs: the caller, by name and discipline, now.
fn signature_of(conn: &mut Conn, client: Reached, user_id: Uuid) -> StoreResult<Signature> {
    let user = accounts::user(conn, client.organization_id(), user_id)?;
    Ok(Signature {
        user_id,
        name: user.display_name,
        discipline: user.discipline.map(|d| d.as_str().to_owned()),
        at: now(),
    })
}

/// Only a therapist (on the care team: the gate asked for `Document`) writes or signs
/// a report; an integration may document measurements but never signs for a person.
fn authoring(caller: &Caller) -> StoreResult<()> {
    if report::may_author(&caller.who) {
        Ok(())
    } else {
        Err(StoreError::Forbidden)
    }
}

impl Clinic {
    /// Drafts a report of `period` of an episode from what is recorded: the progress
    /// view's figures as they stood at the period's end, frozen in the report.
    pub fn draft_report(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
        period: Period,
        narrative: Narrative,
    ) -> StoreResult<Report> {
        let report_id = domain::new_id();
        let by = caller.who.user_id;
        let who = caller.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("report.draft", "progress_report", report_id),
            move |c, client| {
                authoring(&who)?;
                let episode = goals::episode(c, client, episode_id)?;
                let record = clients::get(c, client.organization_id(), client_id)?;
                let clinic = accounts::organization(c, client.organization_id())?;
                let goal_list = goals::goals_of_episode(c, client, episode_id)?;
                let all = measurements::counting_in_episode(c, client, episode_id)?;
                let values = values_until(&all, &period);
                let measures = measurements::measures(c, client.organization_id())?;
                // The progress view's own arithmetic, on the values up to the period's end.
                let progress = episode_progress(&goal_list, &values, |code| {
                    measures.iter().find(|m| m.code == code)
                });
                let adherence = home_programme_adherence(c, client, &goal_list, &period)?;
                let subject = ReportSubject {
                    client_name: record.name,
                    date_of_birth: record.date_of_birth,
                    identifiers: record
                        .identifiers
                        .iter()
                        .map(|i| format!("{}|{}", i.system, i.value))
                        .collect(),
                    clinic_name: clinic.name,
                    reason_for_referral: episode.reason_for_referral,
                    diagnoses: episode
                        .diagnoses
                        .iter()
                        .map(|d| format!("{} ({} {})", d.text, d.system, d.code))
                        .collect(),
                    episode_start: episode.start_date,
                    episode_end: episode.end_date,
                    episode_status: episode.status.as_str().to_owned(),
                };
                let figures = figures(ReportInput {
                    subject,
                    period,
                    goals: &goal_list,
                    values: &values,
                    progress: &progress,
                    measures: &measures,
                    adherence,
                });
                reports::insert(
                    c,
                    client,
                    report_id,
                    episode_id,
                    period,
                    &figures,
                    &narrative,
                    by,
                    now(),
                )
            },
        )
    }

    /// An episode's reports the caller may see, oldest first (drafts for the care
    /// team and admins only).
    pub fn episode_reports(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
    ) -> StoreResult<Vec<Report>> {
        let who = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("report.list", "episode", episode_id),
            move |c, client| {
                goals::episode(c, client, episode_id)?;
                Ok(reports::of_episode(c, client, episode_id)?
                    .into_iter()
                    .filter(|r| sees_report(&who, r.status))
                    .collect())
            },
        )
    }

    /// One report with its addenda. A draft is the care team's: to a client, a
    /// caregiver or an integration it answers as absent.
    pub fn report(
        &self,
        caller: &Caller,
        client_id: Uuid,
        report_id: Uuid,
    ) -> StoreResult<ReportRecord> {
        let who = caller.who.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            Subject::one("report.read", "progress_report", report_id),
            move |c, client| {
                let report = reports::report(c, client, report_id)?;
                if !sees_report(&who, report.status) {
                    return Err(StoreError::NotFound);
                }
                let addenda = reports::addenda(c, client, report_id)?;
                let measures = measurements::measures(c, client.organization_id())?;
                Ok(ReportRecord {
                    report,
                    addenda,
                    measures,
                })
            },
        )
    }

    /// A new draft version with the therapist's assessment and plan. A signed report
    /// is refused (409) and stays as signed.
    pub fn edit_report(
        &self,
        caller: &Caller,
        client_id: Uuid,
        report_id: Uuid,
        expected: Expected,
        narrative: Narrative,
    ) -> StoreResult<Report> {
        let by = caller.who.user_id;
        let who = caller.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("report.edit", "progress_report", report_id),
            move |c, client| {
                authoring(&who)?;
                let before = reports::report(c, client, report_id)?;
                before.may_change()?;
                expect(&expected, before.version)?;
                reports::edit(c, client, report_id, before.version, &narrative, by, now())
            },
        )
    }

    /// Signs a draft as the caller (name, discipline, now). Signed, it never changes.
    pub fn sign_report(
        &self,
        caller: &Caller,
        client_id: Uuid,
        report_id: Uuid,
        expected: Expected,
    ) -> StoreResult<Report> {
        let by = caller.who.user_id;
        let who = caller.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("report.sign", "progress_report", report_id),
            move |c, client| {
                authoring(&who)?;
                let before = reports::report(c, client, report_id)?;
                before.may_change()?;
                expect(&expected, before.version)?;
                let signature = signature_of(c, client, by)?;
                reports::sign(c, client, report_id, before.version, &signature)
            },
        )
    }

    /// A correction or addition to a signed report, signed by its author as written.
    pub fn add_report_addendum(
        &self,
        caller: &Caller,
        client_id: Uuid,
        report_id: Uuid,
        body: String,
    ) -> StoreResult<Addendum> {
        let addendum_id = domain::new_id();
        let by = caller.who.user_id;
        let who = caller.clone();
        self.on_client(
            caller,
            client_id,
            ClientAction::Document,
            Subject::one("report.addendum", "progress_report", report_id),
            move |c, client| {
                authoring(&who)?;
                let body = addendum_body(&body)?;
                let report = reports::report(c, client, report_id)?;
                report.may_take_addendum()?;
                let signature = signature_of(c, client, by)?;
                reports::add_addendum(c, client, addendum_id, report_id, &body, &signature)
            },
        )
    }
}
