//! Outcome measures defined by clinics, and measurements: recorded, listed, and
//! corrected by new versions that supersede the old. Nothing is overwritten or lost.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use domain::measure::{
    catalogue, Direction, Measurement, MeasurementStatus, OutcomeMeasure, Revision, Score, Source,
    Values,
};
use uuid::Uuid;

use crate::{
    gate::Reached,
    goals::touch_progress,
    rows::{id, opt_id, parse_stored, utc},
    schema::{measure_settings, measurements, outcome_measures},
    versions::bump,
    Conn, Page, PageRequest, StoreError, StoreResult,
};

// --- Measures ---------------------------------------------------------------------

type MeasureRow = (
    String,
    String,
    Option<String>,
    f64,
    f64,
    f64,
    String,
    f64,
    String,
);

fn measure_from(org_id: Uuid, row: MeasureRow) -> StoreResult<OutcomeMeasure> {
    let (code, name, unit, min, max, step, direction, mcid, reporters) = row;
    let reporters = reporters
        .split_whitespace()
        .map(|r| parse_stored(r, |s| Source::parse("reporters", s)))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(OutcomeMeasure {
        code,
        name,
        instrument: domain::measure::Instrument::Scale,
        min,
        max,
        step,
        unit,
        direction: parse_stored(&direction, |s| Direction::parse("direction", s))?,
        meaningful_change: mcid,
        meaningful_change_source: "defined by the clinic".to_owned(),
        reporters,
        organization_id: Some(org_id),
        chosen_primary: None,
    })
}

/// The built-in catalogue followed by the clinic's own measures.
pub fn measures(conn: &mut Conn, org_id: Uuid) -> StoreResult<Vec<OutcomeMeasure>> {
    let rows: Vec<MeasureRow> = outcome_measures::table
        .filter(outcome_measures::organization_id.eq(org_id.to_string()))
        .order(outcome_measures::code.asc())
        .select((
            outcome_measures::code,
            outcome_measures::name,
            outcome_measures::unit,
            outcome_measures::min_value,
            outcome_measures::max_value,
            outcome_measures::step,
            outcome_measures::direction,
            outcome_measures::meaningful_change,
            outcome_measures::reporters,
        ))
        .load(conn)?;
    let mut all = catalogue();
    for row in rows {
        all.push(measure_from(org_id, row)?);
    }
    let chosen = chosen_primaries(conn, org_id, None)?;
    Ok(all.into_iter().map(|m| with_choice(m, &chosen)).collect())
}

/// The clinic's choices of primary source, by measure code (one measure's, or all).
fn chosen_primaries(
    conn: &mut Conn,
    org_id: Uuid,
    code: Option<&str>,
) -> StoreResult<Vec<(String, Source)>> {
    let mut q = measure_settings::table
        .filter(measure_settings::organization_id.eq(org_id.to_string()))
        .select((
            measure_settings::measure_code,
            measure_settings::primary_source,
        ))
        .into_boxed();
    if let Some(code) = code {
        q = q.filter(measure_settings::measure_code.eq(code.to_owned()));
    }
    q.load::<(String, String)>(conn)?
        .into_iter()
        .map(|(code, source)| Ok((code, parse_stored(&source, |s| Source::parse("source", s))?)))
        .collect()
}

fn with_choice(mut m: OutcomeMeasure, chosen: &[(String, Source)]) -> OutcomeMeasure {
    m.chosen_primary = chosen.iter().find(|(c, _)| *c == m.code).map(|(_, s)| *s);
    m
}

/// Stores the clinic's choice of a measure's primary source (checked by
/// `OutcomeMeasure::choose_primary`), replacing an earlier one.
pub fn choose_primary(
    conn: &mut Conn,
    org_id: Uuid,
    measure: &OutcomeMeasure,
    read: i32,
    by: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let Some(source) = measure.chosen_primary else {
        return Ok(());
    };
    let org = org_id.to_string();
    let row = || {
        measure_settings::table
            .filter(measure_settings::organization_id.eq(org.as_str()))
            .filter(measure_settings::measure_code.eq(measure.code.as_str()))
    };
    if read > 0 {
        bump!(conn, measure_settings, row(), read)?;
        diesel::update(row())
            .set((
                measure_settings::primary_source.eq(source.as_str()),
                measure_settings::updated_by.eq(by.to_string()),
                measure_settings::updated_at.eq(now.naive_utc()),
            ))
            .execute(conn)?;
        return Ok(());
    }
    diesel::insert_into(measure_settings::table)
        .values((
            measure_settings::organization_id.eq(org_id.to_string()),
            measure_settings::measure_code.eq(&measure.code),
            measure_settings::primary_source.eq(source.as_str()),
            measure_settings::updated_by.eq(by.to_string()),
            measure_settings::updated_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

/// The version of the clinic's choice of a measure's primary source: 0 while it
/// has made none (the built-in rule applies), then one more with every choice.
pub fn primary_version(conn: &mut Conn, org_id: Uuid, code: &str) -> StoreResult<i32> {
    Ok(measure_settings::table
        .filter(measure_settings::organization_id.eq(org_id.to_string()))
        .filter(measure_settings::measure_code.eq(code))
        .select(measure_settings::version)
        .first(conn)
        .optional()?
        .unwrap_or(0))
}

/// One measure by code, built in or the clinic's, with the clinic's choice of its
/// primary source: for what shows figures (a series, a chart).
pub fn measure_as_chosen(
    conn: &mut Conn,
    org_id: Uuid,
    code: &str,
) -> StoreResult<Option<OutcomeMeasure>> {
    let chosen = chosen_primaries(conn, org_id, Some(code))?;
    Ok(measure(conn, org_id, code)?.map(|m| with_choice(m, &chosen)))
}

/// One measure by code, built in or the clinic's: its scale and scoring, for
/// checking and recording values (which never depend on whose values lead, so the
/// hot path reads no choice).
pub fn measure(conn: &mut Conn, org_id: Uuid, code: &str) -> StoreResult<Option<OutcomeMeasure>> {
    if let Some(m) = catalogue().into_iter().find(|m| m.code == code) {
        return Ok(Some(m));
    }
    let row: Option<MeasureRow> = outcome_measures::table
        .filter(outcome_measures::organization_id.eq(org_id.to_string()))
        .filter(outcome_measures::code.eq(code))
        .select((
            outcome_measures::code,
            outcome_measures::name,
            outcome_measures::unit,
            outcome_measures::min_value,
            outcome_measures::max_value,
            outcome_measures::step,
            outcome_measures::direction,
            outcome_measures::meaningful_change,
            outcome_measures::reporters,
        ))
        .first(conn)
        .optional()?;
    row.map(|r| measure_from(org_id, r)).transpose()
}

pub fn create_measure(
    conn: &mut Conn,
    m: &OutcomeMeasure,
    actor: Uuid,
    now: DateTime<Utc>,
) -> StoreResult<()> {
    let org = m
        .organization_id
        .ok_or_else(|| StoreError::Config("a clinic measure needs its organization".into()))?;
    if measure(conn, org, &m.code)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "measure code `{}` is taken",
            m.code
        )));
    }
    diesel::insert_into(outcome_measures::table)
        .values((
            outcome_measures::id.eq(domain::new_id().to_string()),
            outcome_measures::organization_id.eq(org.to_string()),
            outcome_measures::code.eq(&m.code),
            outcome_measures::name.eq(&m.name),
            outcome_measures::unit.eq(&m.unit),
            outcome_measures::min_value.eq(m.min),
            outcome_measures::max_value.eq(m.max),
            outcome_measures::step.eq(m.step),
            outcome_measures::direction.eq(m.direction.as_str()),
            outcome_measures::meaningful_change.eq(m.meaningful_change),
            outcome_measures::reporters.eq(m
                .reporters
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(" ")),
            outcome_measures::created_by.eq(actor.to_string()),
            outcome_measures::created_at.eq(now.naive_utc()),
        ))
        .execute(conn)?;
    Ok(())
}

// --- Measurements -----------------------------------------------------------------

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = measurements, treat_none_as_default_value = false)]
struct MeasurementRow {
    id: String,
    organization_id: String,
    client_id: String,
    episode_id: String,
    goal_id: Option<String>,
    measure_code: String,
    observed_at: NaiveDateTime,
    source: String,
    recorded_by: String,
    reported: String,
    score: f64,
    satisfaction: Option<f64>,
    note: Option<String>,
    status: String,
    supersedes: Option<String>,
    superseded_by: Option<String>,
    reason: Option<String>,
    created_at: NaiveDateTime,
}

impl MeasurementRow {
    fn into_measurement(self) -> StoreResult<Measurement> {
        Ok(Measurement {
            id: id(&self.id)?,
            client_id: id(&self.client_id)?,
            episode_id: id(&self.episode_id)?,
            goal_id: opt_id(self.goal_id.as_deref())?,
            measure_code: self.measure_code,
            observed_at: utc(self.observed_at),
            source: parse_stored(&self.source, |s| Source::parse("source", s))?,
            recorded_by: id(&self.recorded_by)?,
            values: serde_json::from_str::<Values>(&self.reported).map_err(|e| {
                StoreError::Database(diesel::result::Error::DeserializationError(Box::new(e)))
            })?,
            score: Score {
                score: self.score,
                satisfaction: self.satisfaction,
            },
            note: self.note,
            status: parse_stored(&self.status, |s| MeasurementStatus::parse("status", s))?,
            supersedes: opt_id(self.supersedes.as_deref())?,
            superseded_by: opt_id(self.superseded_by.as_deref())?,
            reason: self.reason,
            created_at: utc(self.created_at),
        })
    }
}

/// A scored measurement to store (scoring happened in the domain).
#[derive(Debug, Clone)]
pub struct NewMeasurement {
    pub id: Uuid,
    pub episode_id: Uuid,
    pub goal_id: Option<Uuid>,
    pub measure_code: String,
    pub observed_at: DateTime<Utc>,
    pub source: Source,
    pub values: Values,
    pub score: Score,
    pub note: Option<String>,
}

/// Who records, for whom, and when: only for [`seed`].
#[derive(Debug, Clone, Copy)]
pub struct Recording {
    pub org_id: Uuid,
    pub client_id: Uuid,
    pub actor: Uuid,
    pub now: DateTime<Utc>,
}

/// How a stored version stands to earlier ones.
struct Version<'a> {
    status: MeasurementStatus,
    supersedes: Option<Uuid>,
    reason: Option<&'a str>,
}

const FIRST: Version<'static> = Version {
    status: MeasurementStatus::Final,
    supersedes: None,
    reason: None,
};

fn insert(conn: &mut Conn, r: Recording, m: &NewMeasurement, v: Version<'_>) -> StoreResult<()> {
    let Recording {
        org_id,
        client_id,
        actor,
        now,
    } = r;
    let Version {
        status,
        supersedes,
        reason,
    } = v;
    let row = MeasurementRow {
        id: m.id.to_string(),
        organization_id: org_id.to_string(),
        client_id: client_id.to_string(),
        episode_id: m.episode_id.to_string(),
        goal_id: m.goal_id.map(|g| g.to_string()),
        measure_code: m.measure_code.clone(),
        observed_at: m.observed_at.naive_utc(),
        source: m.source.as_str().to_owned(),
        recorded_by: actor.to_string(),
        reported: serde_json::to_string(&m.values).unwrap_or_default(),
        score: m.score.score,
        satisfaction: m.score.satisfaction,
        note: m.note.clone(),
        status: status.as_str().to_owned(),
        supersedes: supersedes.map(|s| s.to_string()),
        superseded_by: None,
        reason: reason.map(str::to_owned),
        created_at: now.naive_utc(),
    };
    diesel::insert_into(measurements::table)
        .values(&row)
        .execute(conn)?;
    let client = Reached::without_caller(client_id, org_id);
    touch_progress(conn, client, &row.episode_id)
}

fn recording(client: Reached, actor: Uuid, now: DateTime<Utc>) -> Recording {
    Recording {
        org_id: client.organization_id(),
        client_id: client.client_id(),
        actor,
        now,
    }
}

/// Stores a checked, scored measurement of this client (the operation checked the
/// episode and the goal it rates) and reads it back.
pub fn record(
    conn: &mut Conn,
    client: Reached,
    actor: Uuid,
    now: DateTime<Utc>,
    m: &NewMeasurement,
) -> StoreResult<Measurement> {
    insert(conn, recording(client, actor, now), m, FIRST)?;
    measurement(conn, client, m.id)
}

/// Only this client's rows, in the caller's organization.
macro_rules! of_client {
    ($q:expr, $client:expr) => {
        $q.filter(measurements::client_id.eq($client.client_id().to_string()))
            .filter(measurements::organization_id.eq($client.organization_id().to_string()))
    };
}

/// One measurement of this client (NotFound when it is another's).
pub fn measurement(
    conn: &mut Conn,
    client: Reached,
    measurement_id: Uuid,
) -> StoreResult<Measurement> {
    of_client!(measurements::table, client)
        .filter(measurements::id.eq(measurement_id.to_string()))
        .select(MeasurementRow::as_select())
        .first(conn)?
        .into_measurement()
}

/// This client's current measurements (not superseded; withdrawn ones included, so
/// a copy kept elsewhere learns of the withdrawal), in recording order.
pub fn current_of_client(conn: &mut Conn, client: Reached) -> StoreResult<Vec<Measurement>> {
    of_client!(measurements::table, client)
        .filter(measurements::superseded_by.is_null())
        .order(measurements::id.asc())
        .select(MeasurementRow::as_select())
        .load(conn)?
        .into_iter()
        .map(MeasurementRow::into_measurement)
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct MeasurementFilter {
    pub goal_id: Option<Uuid>,
    pub measure_code: Option<String>,
    /// Also list superseded versions and withdrawn ones.
    pub history: bool,
}

/// One of this client's episodes' measurements, one page at a time, in recording
/// order.
pub fn list(
    conn: &mut Conn,
    client: Reached,
    episode_id: Uuid,
    filter: &MeasurementFilter,
    page: PageRequest,
) -> StoreResult<Page<Measurement>> {
    let mut q = of_client!(measurements::table, client)
        .filter(measurements::episode_id.eq(episode_id.to_string()))
        .select(MeasurementRow::as_select())
        .order(measurements::id.asc())
        .limit(i64::from(page.limit) + 1)
        .into_boxed();
    if let Some(g) = filter.goal_id {
        q = q.filter(measurements::goal_id.eq(g.to_string()));
    }
    if let Some(code) = &filter.measure_code {
        q = q.filter(measurements::measure_code.eq(code.clone()));
    }
    if !filter.history {
        q = q
            .filter(measurements::superseded_by.is_null())
            .filter(measurements::status.ne(MeasurementStatus::EnteredInError.as_str()));
    }
    if let Some(after) = page.after {
        q = q.filter(measurements::id.gt(after.to_string()));
    }
    let items = q
        .load(conn)?
        .into_iter()
        .map(MeasurementRow::into_measurement)
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, page.limit, |m| m.id))
}

/// The measurements that count toward one of this client's episodes' progress, in
/// time order.
pub fn counting_in_episode(
    conn: &mut Conn,
    client: Reached,
    episode_id: Uuid,
) -> StoreResult<Vec<Measurement>> {
    of_client!(measurements::table, client)
        .filter(measurements::episode_id.eq(episode_id.to_string()))
        .filter(measurements::superseded_by.is_null())
        .filter(measurements::status.ne(MeasurementStatus::EnteredInError.as_str()))
        .order((measurements::observed_at.asc(), measurements::id.asc()))
        .select(MeasurementRow::as_select())
        .load(conn)?
        .into_iter()
        .map(MeasurementRow::into_measurement)
        .collect()
}

/// A goal's counting values on one measure, in time order, optionally within a range.
pub fn series(
    conn: &mut Conn,
    client: Reached,
    goal_id: Uuid,
    measure_code: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> StoreResult<Vec<(DateTime<Utc>, f64, Source)>> {
    let mut q = of_client!(measurements::table, client)
        .filter(measurements::goal_id.eq(goal_id.to_string()))
        .filter(measurements::measure_code.eq(measure_code))
        .filter(measurements::superseded_by.is_null())
        .filter(measurements::status.ne(MeasurementStatus::EnteredInError.as_str()))
        .order((measurements::observed_at.asc(), measurements::id.asc()))
        .select((
            measurements::observed_at,
            measurements::score,
            measurements::source,
        ))
        .into_boxed();
    if let Some(from) = from {
        q = q.filter(measurements::observed_at.ge(from.naive_utc()));
    }
    if let Some(to) = to {
        q = q.filter(measurements::observed_at.lt(to.naive_utc()));
    }
    let rows: Vec<(NaiveDateTime, f64, String)> = q.load(conn)?;
    rows.into_iter()
        .map(|(at, score, source)| {
            Ok((
                utc(at),
                score,
                parse_stored(&source, |s| Source::parse("source", s))?,
            ))
        })
        .collect()
}

/// Stores `revision` as the new version of `old` (one of this client's current
/// measurements, as the domain decided) and marks `old` superseded; the old one
/// stays readable.
pub fn supersede(
    conn: &mut Conn,
    client: Reached,
    actor: Uuid,
    now: DateTime<Utc>,
    old: &Measurement,
    revision: Revision,
    reason: &str,
) -> StoreResult<Measurement> {
    let new = NewMeasurement {
        id: domain::new_id(),
        episode_id: old.episode_id,
        goal_id: old.goal_id,
        measure_code: old.measure_code.clone(),
        observed_at: revision.observed_at,
        source: old.source,
        values: revision.values,
        score: revision.score,
        note: revision.note,
    };
    let version = Version {
        status: revision.status,
        supersedes: Some(old.id),
        reason: Some(reason),
    };
    insert(conn, recording(client, actor, now), &new, version)?;
    let changed = diesel::update(
        of_client!(measurements::table, client)
            .filter(measurements::id.eq(old.id.to_string()))
            .filter(measurements::superseded_by.is_null()),
    )
    .set(measurements::superseded_by.eq(new.id.to_string()))
    .execute(conn)?;
    if changed == 0 {
        // Another correction superseded it first (see `Measurement::version`).
        return Err(StoreError::Stale { current: 2 });
    }
    measurement(conn, client, new.id)
}

/// Every version of one of this client's measurements, oldest first.
pub fn history(
    conn: &mut Conn,
    client: Reached,
    measurement_id: Uuid,
) -> StoreResult<Vec<Measurement>> {
    let mut current = measurement(conn, client, measurement_id)?;
    while let Some(previous) = current.supersedes {
        current = measurement(conn, client, previous)?;
    }
    let mut chain = vec![current];
    while let Some(next) = chain.last().and_then(|m| m.superseded_by) {
        chain.push(measurement(conn, client, next)?);
    }
    Ok(chain)
}

/// One end of a time range in a search: `ge`/`le` include it, `gt`/`lt` do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    pub at: DateTime<Utc>,
    pub inclusive: bool,
}

/// What a search over one client's current measurements asks for (the FHIR
/// Observation search): the newest version of each, withdrawn ones included, so a
/// copy kept in an EHR learns of the withdrawal.
#[derive(Debug, Clone, Default)]
pub struct MeasurementSearch {
    /// Any of these measure codes (none: every measure).
    pub codes: Vec<String>,
    /// None of these measure codes.
    pub exclude_codes: Vec<String>,
    /// Reported by any of these sources (none: every source).
    pub sources: Vec<Source>,
    /// Measurements of any of these goals (none: every measurement).
    pub goal_ids: Vec<Uuid>,
    pub observed_from: Option<Bound>,
    pub observed_to: Option<Bound>,
    /// When the current version was recorded (FHIR `_lastUpdated`).
    pub recorded_from: Option<Bound>,
    pub recorded_to: Option<Bound>,
    /// Newest observation first; otherwise oldest first.
    pub newest_first: bool,
    /// Where the previous page ended: a keyset, so pages stay stable while
    /// measurements are recorded or corrected in between.
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u32,
}

type Boxed<'a> = measurements::BoxedQuery<'a, <Conn as Connection>::Backend>;

/// The rows a search matches, before order and paging.
fn matching(client: Reached, s: &MeasurementSearch) -> Boxed<'static> {
    let mut q = of_client!(measurements::table, client)
        .filter(measurements::superseded_by.is_null())
        .into_boxed();
    if !s.codes.is_empty() {
        q = q.filter(measurements::measure_code.eq_any(s.codes.clone()));
    }
    if !s.exclude_codes.is_empty() {
        q = q.filter(measurements::measure_code.ne_all(s.exclude_codes.clone()));
    }
    if !s.sources.is_empty() {
        let sources: Vec<&'static str> = s.sources.iter().map(|s| s.as_str()).collect();
        q = q.filter(measurements::source.eq_any(sources));
    }
    if !s.goal_ids.is_empty() {
        let goals: Vec<String> = s.goal_ids.iter().map(Uuid::to_string).collect();
        q = q.filter(measurements::goal_id.eq_any(goals));
    }
    if let Some(b) = s.observed_from {
        let at = b.at.naive_utc();
        q = if b.inclusive {
            q.filter(measurements::observed_at.ge(at))
        } else {
            q.filter(measurements::observed_at.gt(at))
        };
    }
    if let Some(b) = s.observed_to {
        let at = b.at.naive_utc();
        q = if b.inclusive {
            q.filter(measurements::observed_at.le(at))
        } else {
            q.filter(measurements::observed_at.lt(at))
        };
    }
    if let Some(b) = s.recorded_from {
        let at = b.at.naive_utc();
        q = if b.inclusive {
            q.filter(measurements::created_at.ge(at))
        } else {
            q.filter(measurements::created_at.gt(at))
        };
    }
    if let Some(b) = s.recorded_to {
        let at = b.at.naive_utc();
        q = if b.inclusive {
            q.filter(measurements::created_at.le(at))
        } else {
            q.filter(measurements::created_at.lt(at))
        };
    }
    q
}

/// One page of a search, in observation-time order, and whether more follow.
pub fn search(
    conn: &mut Conn,
    client: Reached,
    s: &MeasurementSearch,
) -> StoreResult<(Vec<Measurement>, bool)> {
    let mut q = matching(client, s).limit(i64::from(s.limit) + 1);
    q = if s.newest_first {
        q.order((measurements::observed_at.desc(), measurements::id.desc()))
    } else {
        q.order((measurements::observed_at.asc(), measurements::id.asc()))
    };
    if let Some((at, id)) = s.after {
        let (at, id) = (at.naive_utc(), id.to_string());
        q = if s.newest_first {
            q.filter(
                measurements::observed_at
                    .lt(at)
                    .or(measurements::observed_at
                        .eq(at)
                        .and(measurements::id.lt(id))),
            )
        } else {
            q.filter(
                measurements::observed_at
                    .gt(at)
                    .or(measurements::observed_at
                        .eq(at)
                        .and(measurements::id.gt(id))),
            )
        };
    }
    let mut items = q
        .select(MeasurementRow::as_select())
        .load(conn)?
        .into_iter()
        .map(MeasurementRow::into_measurement)
        .collect::<StoreResult<Vec<_>>>()?;
    let more = items.len() > s.limit as usize;
    items.truncate(s.limit as usize);
    Ok((items, more))
}

/// How many current measurements a search matches, whatever the page.
pub fn search_count(conn: &mut Conn, client: Reached, s: &MeasurementSearch) -> StoreResult<i64> {
    Ok(matching(client, s).count().get_result(conn)?)
}

/// Where each measurement's chain of versions starts, and which version it is (1 for
/// the first): a correction is a new row, but the same record in an EHR's eyes.
pub fn chain_positions(
    conn: &mut Conn,
    client: Reached,
    items: &[Measurement],
) -> StoreResult<std::collections::HashMap<Uuid, (Uuid, i32)>> {
    let mut found = std::collections::HashMap::with_capacity(items.len());
    for m in items {
        let (mut root, mut depth, mut previous) = (m.id, 1, m.supersedes);
        // Corrections are rare, so this walk is almost always empty.
        while let Some(p) = previous {
            let row = measurement(conn, client, p)?;
            (root, depth, previous) = (row.id, depth + 1, row.supersedes);
        }
        found.insert(m.id, (root, depth));
    }
    Ok(found)
}

/// Whose record a measurement of this clinic is in (NotFound when none has it).
pub fn client_of(conn: &mut Conn, org_id: Uuid, measurement_id: Uuid) -> StoreResult<Uuid> {
    let client: String = measurements::table
        .filter(measurements::id.eq(measurement_id.to_string()))
        .filter(measurements::organization_id.eq(org_id.to_string()))
        .select(measurements::client_id)
        .first(conn)?;
    crate::rows::id(&client)
}
