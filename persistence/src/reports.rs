//! Progress reports, their draft versions and addenda: the queries. What may be done
//! is decided in `domain::report` and asked by the operations in `ops/reports.rs`;
//! every query takes the [`Reached`] proof and is scoped to that client.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::report::{Addendum, Narrative, Period, Report, ReportFigures, ReportStatus, Signature};
use uuid::Uuid;

use crate::{
    rows::{id, parse_stored, utc},
    schema::{progress_report_addenda, progress_report_versions, progress_reports},
    versions::bump,
    Conn, Reached, StoreError, StoreResult,
};

#[derive(Queryable, Selectable)]
#[diesel(table_name = progress_reports)]
struct ReportRow {
    id: String,
    client_id: String,
    episode_id: String,
    period_start: NaiveDate,
    period_end: NaiveDate,
    status: String,
    figures: String,
    assessment: String,
    plan: String,
    drafted_by: String,
    signed_by: Option<String>,
    signed_name: Option<String>,
    signed_discipline: Option<String>,
    signed_at: Option<NaiveDateTime>,
    version: i32,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn unreadable(what: &str) -> StoreError {
    StoreError::Database(diesel::result::Error::DeserializationError(
        format!("stored {what} is unreadable").into(),
    ))
}

impl ReportRow {
    fn into_report(self) -> StoreResult<Report> {
        let figures: ReportFigures =
            serde_json::from_str(&self.figures).map_err(|_| unreadable("report figures"))?;
        let signature = match (self.signed_by, self.signed_name, self.signed_at) {
            (Some(by), Some(name), Some(at)) => Some(Signature {
                user_id: id(&by)?,
                name,
                discipline: self.signed_discipline,
                at: utc(at),
            }),
            _ => None,
        };
        Ok(Report {
            id: id(&self.id)?,
            client_id: id(&self.client_id)?,
            episode_id: id(&self.episode_id)?,
            period: Period {
                from: self.period_start,
                to: self.period_end,
            },
            status: parse_stored(&self.status, |s| ReportStatus::parse("status", s))?,
            figures,
            narrative: Narrative {
                assessment: self.assessment,
                plan: self.plan,
            },
            drafted_by: id(&self.drafted_by)?,
            signature,
            version: self.version,
            created_at: utc(self.created_at),
            updated_at: utc(self.updated_at),
        })
    }
}

macro_rules! of_client {
    ($q:expr, $client:expr) => {
        $q.filter(progress_reports::client_id.eq($client.client_id().to_string()))
            .filter(progress_reports::organization_id.eq($client.organization_id().to_string()))
    };
}

/// A new draft, version 1, with its first narrative kept as version 1.
#[allow(clippy::too_many_arguments)]
pub fn insert(
    conn: &mut Conn,
    client: Reached,
    report_id: Uuid,
    episode_id: Uuid,
    period: Period,
    figures: &ReportFigures,
    narrative: &Narrative,
    by: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Report> {
    let figures = serde_json::to_string(figures).map_err(|_| unreadable("report figures"))?;
    diesel::insert_into(progress_reports::table)
        .values((
            progress_reports::id.eq(report_id.to_string()),
            progress_reports::organization_id.eq(client.organization_id().to_string()),
            progress_reports::client_id.eq(client.client_id().to_string()),
            progress_reports::episode_id.eq(episode_id.to_string()),
            progress_reports::period_start.eq(period.from),
            progress_reports::period_end.eq(period.to),
            progress_reports::status.eq(ReportStatus::Draft.as_str()),
            progress_reports::figures.eq(figures),
            progress_reports::assessment.eq(&narrative.assessment),
            progress_reports::plan.eq(&narrative.plan),
            progress_reports::drafted_by.eq(by.to_string()),
            progress_reports::version.eq(1),
            progress_reports::created_at.eq(now.naive_utc()),
            progress_reports::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    keep_version(conn, report_id, 1, narrative, by, now)?;
    report(conn, client, report_id)
}

fn keep_version(
    conn: &mut Conn,
    report_id: Uuid,
    version: i32,
    narrative: &Narrative,
    by: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    diesel::insert_into(progress_report_versions::table)
        .values((
            progress_report_versions::id.eq(domain::new_id().to_string()),
            progress_report_versions::report_id.eq(report_id.to_string()),
            progress_report_versions::version.eq(version),
            progress_report_versions::assessment.eq(&narrative.assessment),
            progress_report_versions::plan.eq(&narrative.plan),
            progress_report_versions::edited_by.eq(by.to_string()),
            progress_report_versions::edited_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// One report of this client (NotFound when it is another's).
pub fn report(conn: &mut Conn, client: Reached, report_id: Uuid) -> StoreResult<Report> {
    of_client!(progress_reports::table, client)
        .filter(progress_reports::id.eq(report_id.to_string()))
        .select(ReportRow::as_select())
        .first(conn)?
        .into_report()
}

/// An episode's reports, oldest first.
pub fn of_episode(conn: &mut Conn, client: Reached, episode_id: Uuid) -> StoreResult<Vec<Report>> {
    of_client!(progress_reports::table, client)
        .filter(progress_reports::episode_id.eq(episode_id.to_string()))
        .order(progress_reports::id.asc())
        .select(ReportRow::as_select())
        .load(conn)?
        .into_iter()
        .map(ReportRow::into_report)
        .collect()
}

/// A new draft version with this narrative, made against version `read`.
pub fn edit(
    conn: &mut Conn,
    client: Reached,
    report_id: Uuid,
    read: i32,
    narrative: &Narrative,
    by: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<Report> {
    let (rid, cid) = (report_id.to_string(), client.client_id().to_string());
    let row = || {
        progress_reports::table
            .filter(progress_reports::id.eq(rid.as_str()))
            .filter(progress_reports::client_id.eq(cid.as_str()))
    };
    let version = bump!(conn, progress_reports, row(), read)?;
    diesel::update(row())
        .set((
            progress_reports::assessment.eq(&narrative.assessment),
            progress_reports::plan.eq(&narrative.plan),
            progress_reports::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    keep_version(conn, report_id, version, narrative, by, now)?;
    report(conn, client, report_id)
}

/// Signs the draft at version `read`: its last change.
pub fn sign(
    conn: &mut Conn,
    client: Reached,
    report_id: Uuid,
    read: i32,
    signature: &Signature,
) -> StoreResult<Report> {
    let (rid, cid) = (report_id.to_string(), client.client_id().to_string());
    let row = || {
        progress_reports::table
            .filter(progress_reports::id.eq(rid.as_str()))
            .filter(progress_reports::client_id.eq(cid.as_str()))
            .filter(progress_reports::status.eq(ReportStatus::Draft.as_str()))
    };
    let changed = diesel::update(row().filter(progress_reports::version.eq(read)))
        .set((
            progress_reports::status.eq(ReportStatus::Signed.as_str()),
            progress_reports::signed_by.eq(signature.user_id.to_string()),
            progress_reports::signed_name.eq(&signature.name),
            progress_reports::signed_discipline.eq(&signature.discipline),
            progress_reports::signed_at.eq(signature.at.naive_utc()),
            progress_reports::updated_at.eq(signature.at.naive_utc()),
            progress_reports::version.eq(progress_reports::version + 1),
        ))
        .execute(conn)?;
    if changed != 1 {
        let current = report(conn, client, report_id)?.version;
        return Err(StoreError::Stale { current });
    }
    report(conn, client, report_id)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = progress_report_addenda)]
struct AddendumRow {
    id: String,
    report_id: String,
    body: String,
    signed_by: String,
    signed_name: String,
    signed_discipline: Option<String>,
    signed_at: NaiveDateTime,
}

impl AddendumRow {
    fn into_addendum(self) -> StoreResult<Addendum> {
        Ok(Addendum {
            id: id(&self.id)?,
            report_id: id(&self.report_id)?,
            body: self.body,
            signature: Signature {
                user_id: id(&self.signed_by)?,
                name: self.signed_name,
                discipline: self.signed_discipline,
                at: utc(self.signed_at),
            },
        })
    }
}

pub fn add_addendum(
    conn: &mut Conn,
    client: Reached,
    addendum_id: Uuid,
    report_id: Uuid,
    body: &str,
    signature: &Signature,
) -> StoreResult<Addendum> {
    diesel::insert_into(progress_report_addenda::table)
        .values((
            progress_report_addenda::id.eq(addendum_id.to_string()),
            progress_report_addenda::report_id.eq(report_id.to_string()),
            progress_report_addenda::organization_id.eq(client.organization_id().to_string()),
            progress_report_addenda::client_id.eq(client.client_id().to_string()),
            progress_report_addenda::body.eq(body),
            progress_report_addenda::signed_by.eq(signature.user_id.to_string()),
            progress_report_addenda::signed_name.eq(&signature.name),
            progress_report_addenda::signed_discipline.eq(&signature.discipline),
            progress_report_addenda::signed_at.eq(signature.at.naive_utc()),
        ))
        .execute(conn)?;
    Ok(Addendum {
        id: addendum_id,
        report_id,
        body: body.to_owned(),
        signature: signature.clone(),
    })
}

/// A report's addenda, oldest first.
pub fn addenda(conn: &mut Conn, client: Reached, report_id: Uuid) -> StoreResult<Vec<Addendum>> {
    progress_report_addenda::table
        .filter(progress_report_addenda::client_id.eq(client.client_id().to_string()))
        .filter(progress_report_addenda::organization_id.eq(client.organization_id().to_string()))
        .filter(progress_report_addenda::report_id.eq(report_id.to_string()))
        .order(progress_report_addenda::id.asc())
        .select(AddendumRow::as_select())
        .load(conn)?
        .into_iter()
        .map(AddendumRow::into_addendum)
        .collect()
}
