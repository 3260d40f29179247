//! Outcome measures and measurements: a clinic defines its own measures; the care
//! team, integrations, clients and contributing caregivers record measurements,
//! which are read, listed, and corrected only by new versions.
//!
//! The rules are the domain's: `measure::custom` (a clinic measure),
//! `measure::score_report` and `measure::may_rate` (a report), `policy::recording_as`
//! (who records as which source), `Measurement::corrected` (who corrects what, and
//! only the current version). These operations fetch the facts and store the result.

use chrono::{DateTime, Utc};
use domain::{
    goal::Goal,
    measure::{
        may_rate, score_report, Change, Correction, CorrectionRefused, Measurement, OutcomeMeasure,
        Report, Source, Values,
    },
    policy::{recording_as, ClientAction, OrgAction},
    progress::{milestone_state, milestones_reached, next_milestones, Milestone},
};
use uuid::Uuid;

pub use crate::measurements::MeasurementFilter;
use crate::{
    audit::Subject,
    gate::{Caller, ClientWrite},
    goals,
    measurements::{self, MeasurementSearch, NewMeasurement},
    now,
    versions::{expect, Expected},
    Clinic, Conn, Page, PageRequest, Reached, StoreError, StoreResult,
};

/// A measure with the clinic's choice of its primary source, and that choice's
/// version (0 while the built-in rule applies).
#[derive(Debug, Clone)]
pub struct PrimarySource {
    pub measure: OutcomeMeasure,
    pub version: i32,
}

/// A measurement as reported, parsed: the domain checks and scores it against its
/// measure.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// The goal measured; None for the client as a whole (e.g. a COPM interview).
    pub goal_id: Option<Uuid>,
    pub measure_code: String,
    /// Defaults to now.
    pub observed_at: Option<DateTime<Utc>>,
    pub values: Values,
    /// Already trimmed (`domain::measure::note`).
    pub note: Option<String>,
}

impl From<CorrectionRefused> for StoreError {
    fn from(refused: CorrectionRefused) -> Self {
        match refused {
            CorrectionRefused::NotYours => StoreError::Forbidden,
            CorrectionRefused::AlreadyCorrected => StoreError::Conflict(refused.to_string()),
            CorrectionRefused::Invalid(invalid) => StoreError::Invalid(invalid),
        }
    }
}

/// The milestones `recorded` reaches for its goal, from where they stood (kept beside
/// the goal, so a value that follows on reads nothing more), keeping where they stand
/// now. Without a kept state, or for a value dated before the latest, the goal's values
/// are read again.
fn milestones_by(
    c: &mut Conn,
    client: Reached,
    goal: &Goal,
    measure: &OutcomeMeasure,
    recorded: &Measurement,
) -> StoreResult<Vec<Milestone>> {
    let kept = goals::milestone_state(c, client, goal, &measure.code)?;
    // The first value's values matter only where they set the threshold (PSFS).
    let first = match kept.as_ref().and_then(|s| s.first) {
        Some(first) if measure.threshold_reads_values() => {
            Some(measurements::measurement(c, client, first)?.values)
        }
        _ => None,
    };
    let stepped = kept
        .as_ref()
        .and_then(|s| next_milestones(Some(s), goal, measure, first.as_ref(), recorded));
    let (reached, now) = match stepped {
        Some((reached, now)) => (reached, Some(now)),
        None => {
            let all = measurements::counting_in_episode(c, client, recorded.episode_id)?;
            let before: Vec<Measurement> = all
                .iter()
                .filter(|m| m.id != recorded.id)
                .cloned()
                .collect();
            let reached = milestones_reached(goal, measure, &before, recorded);
            (reached, milestone_state(goal, measure, &all))
        }
    };
    if let Some(now) = now {
        goals::keep_milestone_state(c, client, goal, &measure.code, &now)?;
    }
    Ok(reached)
}

/// Which episode a new measurement goes in.
#[derive(Debug, Clone, Copy)]
pub enum EpisodeOf {
    /// The one the request named.
    Named(Uuid),
    /// The episode of the goal it rates, or else the client's one open episode.
    InPlace,
}

/// A FHIR Observation's write, to run alone or in a transaction Bundle.
/// With `unless`, a conditional create (FHIR If-None-Exist): when a measurement of
/// the client matches it by the time this runs, nothing is recorded (Conflict). Two
/// instances checking the same client at once take turns (PostgreSQL).
pub fn recording_in_place(
    caller: &Caller,
    client_id: Uuid,
    report: NewReport,
    unless: Option<MeasurementSearch>,
) -> ClientWrite<Measurement> {
    recording(caller, client_id, EpisodeOf::InPlace, report, unless)
}

/// Whether a measurement of the client matches `search` now, in the write's own
/// transaction, with the client's conditional creates taking turns across instances.
fn already_recorded(
    c: &mut Conn,
    client: Reached,
    search: &MeasurementSearch,
) -> StoreResult<bool> {
    if let crate::DbConnection::Postgresql(pg) = c {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind::<diesel::sql_types::Text, _>(client.client_id().to_string())
            .execute(pg)?;
    }
    Ok(crate::measurements::search_count(c, client, search)? > 0)
}

/// Recording a measurement, as the caller's source: checked against its measure and
/// scored, never clamped or rounded.
fn recording(
    caller: &Caller,
    client_id: Uuid,
    episode: EpisodeOf,
    report: NewReport,
    unless: Option<MeasurementSearch>,
) -> ClientWrite<Measurement> {
    let (source, action) = recording_as(&caller.who);
    let id = domain::new_id();
    let user = caller.who.user_id;
    let subject = Subject::one("measurement.record", "measurement", id);
    ClientWrite::new(client_id, action, subject, move |c, client| {
        if let Some(search) = &unless {
            if already_recorded(c, client, search)? {
                return Err(StoreError::Conflict(
                    "a matching Observation was recorded meanwhile".into(),
                ));
            }
        }
        let t = now();
        let episode_id = match episode {
            EpisodeOf::Named(id) => id,
            EpisodeOf::InPlace => {
                let goal = match report.goal_id {
                    Some(goal_id) => goals::found(goals::goal(c, client, goal_id))?,
                    None => None,
                };
                let episodes = goals::episodes_of(c, client)?;
                domain::goal::episode_for(report.goal_id, goal.as_ref(), &episodes)?
            }
        };
        let observed_at = report.observed_at.unwrap_or(t);
        let measure = measurements::measure(c, client.organization_id(), &report.measure_code)?;
        let facts = Report {
            source,
            for_goal: report.goal_id.is_some(),
            observed_at,
            values: &report.values,
        };
        let score = score_report(measure.as_ref(), facts, Utc::now())?;
        goals::episode(c, client, episode_id)?;
        let goal = match report.goal_id {
            Some(goal_id) => goals::found(goals::goal(c, client, goal_id))?,
            None => None,
        };
        may_rate(episode_id, report.goal_id, goal.as_ref())?;
        // A value on the goal's own measure, from its primary source, may reach a
        // milestone.
        let rates_goal = goal.as_ref().zip(measure.as_ref()).filter(|(g, m)| {
            g.content.measure_code.as_deref() == Some(m.code.as_str())
                && source == m.primary_source()
        });
        let new = NewMeasurement {
            id,
            episode_id,
            goal_id: report.goal_id,
            measure_code: report.measure_code,
            observed_at,
            source,
            values: report.values,
            score,
            note: report.note,
        };
        let recorded = measurements::record(c, client, user, t, &new)?;
        if let Some((g, m)) = rates_goal {
            for reached in milestones_by(c, client, g, m, &recorded)? {
                goals::note_milestone(c, client, g.id, &reached, Some(user))?;
            }
        }
        Ok(recorded)
    })
}

impl Clinic {
    /// Defines a clinic measure (`measure` passed `domain::measure::custom` for the
    /// caller's organization). Conflict when the code is taken.
    pub fn define_measure(
        &self,
        caller: &Caller,
        measure: OutcomeMeasure,
    ) -> StoreResult<OutcomeMeasure> {
        let subject = Subject::one("measure.create", "measure", &measure.code);
        let org = caller.who.organization_id;
        self.on_organization(caller, OrgAction::ManageMeasures, subject, move |c, who| {
            if measure.organization_id != Some(org) {
                return Err(StoreError::Forbidden);
            }
            measurements::create_measure(c, &measure, who.user_id, now())?;
            Ok(measure)
        })
    }

    /// The clinic chooses whose values a measure's figures follow (one of the sources
    /// that report it); every progress view, series and chart follows it from then on.
    pub fn choose_primary_source(
        &self,
        caller: &Caller,
        code: String,
        expected: Expected,
        source: Source,
    ) -> StoreResult<PrimarySource> {
        let subject = Subject::one("measure.primary_source", "measure", &code);
        self.on_organization(caller, OrgAction::ManageMeasures, subject, move |c, who| {
            let org = who.organization_id;
            let measure = measurements::measure(c, org, &code)?.ok_or(StoreError::NotFound)?;
            let read = measurements::primary_version(c, org, &code)?;
            expect(&expected, read)?;
            let chosen = measure.choose_primary(source)?;
            measurements::choose_primary(c, org, &chosen, read, who.user_id, now())?;
            // Every episode's stored view may follow other values now.
            goals::touch_all_progress(c, org)?;
            Ok(PrimarySource {
                measure: chosen,
                version: read + 1,
            })
        })
    }

    /// A measure's primary source as the clinic has it (its choice, or the rule).
    pub fn primary_source(&self, caller: &Caller, code: String) -> StoreResult<PrimarySource> {
        let subject = Subject::one("measure.primary_source.read", "measure", &code);
        self.on_organization(caller, OrgAction::ManageMeasures, subject, move |c, who| {
            let org = who.organization_id;
            let measure = measurements::measure_as_chosen(c, org, &code)?;
            Ok(PrimarySource {
                measure: measure.ok_or(StoreError::NotFound)?,
                version: measurements::primary_version(c, org, &code)?,
            })
        })
    }

    /// Records a measurement in one of a client's episodes, as the caller's source:
    /// checked against its measure and scored, never clamped or rounded.
    pub fn record_measurement(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
        report: NewReport,
    ) -> StoreResult<Measurement> {
        let write = recording(
            caller,
            client_id,
            EpisodeOf::Named(episode_id),
            report,
            None,
        );
        self.run_write(caller, write)
    }

    /// The same, for a record that names no episode (a FHIR Observation): it goes in
    /// the episode of the goal it rates, or else in the client's one open episode.
    /// `unless`: see [`recording_in_place`].
    pub fn record_measurement_in_place(
        &self,
        caller: &Caller,
        client_id: Uuid,
        report: NewReport,
        unless: Option<MeasurementSearch>,
    ) -> StoreResult<Measurement> {
        self.run_write(
            caller,
            recording_in_place(caller, client_id, report, unless),
        )
    }

    /// One of an episode's measurements, a page at a time, in recording order.
    pub fn list_measurements(
        &self,
        caller: &Caller,
        client_id: Uuid,
        episode_id: Uuid,
        filter: MeasurementFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Measurement>> {
        let subject = Subject::many("measurement.list", "measurement");
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject,
            move |c, client| {
                goals::episode(c, client, episode_id)?;
                measurements::list(c, client, episode_id, &filter, page)
            },
        )
    }

    /// One measurement (any version).
    pub fn measurement(
        &self,
        caller: &Caller,
        client_id: Uuid,
        measurement_id: Uuid,
    ) -> StoreResult<Measurement> {
        let subject = Subject::one("measurement.read", "measurement", measurement_id);
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject,
            move |c, client| measurements::measurement(c, client, measurement_id),
        )
    }

    /// Every version of a measurement, oldest first.
    pub fn measurement_history(
        &self,
        caller: &Caller,
        client_id: Uuid,
        measurement_id: Uuid,
    ) -> StoreResult<Vec<Measurement>> {
        let subject = Subject::one("measurement.history", "measurement", measurement_id);
        self.on_client(
            caller,
            client_id,
            ClientAction::ViewClinical,
            subject,
            move |c, client| measurements::history(c, client, measurement_id),
        )
    }

    /// Corrects a measurement with a new version (amended values, or withdrawn as
    /// entered in error) that supersedes it; the old one stays readable. Forbidden
    /// when it is not the caller's to correct; Conflict unless it is the current
    /// version.
    pub fn correct_measurement(
        &self,
        caller: &Caller,
        client_id: Uuid,
        measurement_id: Uuid,
        expected: Expected,
        correction: Correction,
    ) -> StoreResult<Measurement> {
        let (_, action) = recording_as(&caller.who);
        let subject = Subject::one("measurement.correct", "measurement", measurement_id);
        let who = caller.who.clone();
        self.on_client(caller, client_id, action, subject, move |c, client| {
            let old = measurements::measurement(c, client, measurement_id)?;
            expect(&expected, old.version())?;
            let measure = match correction.change {
                Change::Amend(_) => {
                    measurements::measure(c, client.organization_id(), &old.measure_code)?
                }
                Change::Withdraw => None,
            };
            let revision = old.corrected(&who, measure.as_ref(), correction.change, Utc::now())?;
            if let Some(goal_id) = old.goal_id {
                goals::forget_milestone_state(c, client, goal_id)?;
            }
            let reason = correction.reason;
            measurements::supersede(c, client, who.user_id, now(), &old, revision, &reason)
        })
    }
}
