//! `headway-bench seed DATABASE_URL FILLER_CLIENTS MEASUREMENTS_PER_FILLER`
//!
//! Seeds the demo clinic, gives Maria an episode with 10 agreed goals of 50
//! measurements each plus two COPM assessments and GAS levels, then (optionally)
//! bulk-loads filler clients with one episode, one goal and their measurements.
//! Prints the ids the load generator needs, as JSON.
//!
//! `headway-bench streams ...`: live events under load (see `streams.rs`).

use chrono::{Duration, Utc};
use diesel::prelude::*;
use domain::{
    audit::RequestMeta,
    goal::{EpisodeDraft, GasScale, GoalContent, GoalDraft, OccupationArea, Term},
    identity::{Principal, Role, Scopes},
    measure::{CopmProblem, Values},
};
use persistence::versions::Expected;
use persistence::{
    db,
    db::DbConnection as Conn,
    ops::measures::NewReport,
    schema::{clients, episodes, goals as goals_t, measurements as m_t, users},
    Backend, Caller, Clinic, StoreError,
};
use uuid::Uuid;

mod streams;

#[allow(clippy::print_stdout)]
fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("streams") {
        println!("{}", streams::run(&args[1..])?);
        return Ok(());
    }
    let [cmd, url, filler, per] = args.as_slice() else {
        return Err(
            "usage: headway-bench seed DATABASE_URL FILLER_CLIENTS MEASUREMENTS_PER_FILLER".into(),
        );
    };
    if cmd != "seed" {
        return Err(format!("unknown command {cmd}"));
    }
    let filler: usize = filler
        .parse()
        .map_err(|_| "FILLER_CLIENTS must be a number")?;
    let per: usize = per
        .parse()
        .map_err(|_| "MEASUREMENTS_PER_FILLER must be a number")?;
    let backend = Backend::from_url(url).map_err(|e| e.to_string())?;
    // Migrates, and seeds the demo clinic through the one door.
    let (clinic, _) = persistence::Clinic::open(&backend, 1).map_err(|e| e.to_string())?;
    api::demo::seed_if_empty(&clinic)?.ok_or("database not empty")?;
    let mut conn = db::connect(&backend).map_err(|e| e.to_string())?;
    let ids = subject(&clinic, &mut conn).map_err(|e| e.to_string())?;
    drop(clinic);
    let started = std::time::Instant::now();
    bulk_filler(&mut conn, filler, per).map_err(|e| e.to_string())?;
    let total: i64 = m_t::table
        .count()
        .get_result(&mut conn)
        .map_err(|e| e.to_string())?;
    let clients_total: i64 = clients::table
        .count()
        .get_result(&mut conn)
        .map_err(|e| e.to_string())?;
    println!(
        "{}",
        serde_json::json!({
            "client_id": ids.0, "episode_id": ids.1, "goal_id": ids.2,
            "clients": clients_total, "measurements": total,
            "filler_seconds": started.elapsed().as_secs_f64()
        })
    );
    Ok(())
}

fn user_id(conn: &mut Conn, email: &str) -> Result<(Uuid, Uuid), StoreError> {
    let (id, org): (String, String) = users::table
        .filter(users::email.eq(email))
        .select((users::id, users::organization_id))
        .first(conn)?;
    Ok((
        Uuid::parse_str(&id).unwrap_or_default(),
        Uuid::parse_str(&org).unwrap_or_default(),
    ))
}

/// A signed-in caller for the demo account `email`, as a request would carry it.
fn caller(clinic: &Clinic, conn: &mut Conn, email: &str) -> Result<Caller, StoreError> {
    let (user_id, organization_id) = user_id(conn, email)?;
    let (role, client_id): (String, Option<String>) = users::table
        .find(user_id.to_string())
        .select((users::role, users::client_id))
        .first(conn)?;
    let session = clinic.start_session(user_id, format!("bench-{user_id}"), Duration::hours(1))?;
    let who = Principal {
        user_id,
        organization_id,
        role: Role::parse("role", &role)?,
        client_id: client_id.and_then(|c| Uuid::parse_str(&c).ok()),
        scopes: Scopes::default(),
    };
    Ok(Caller::new(who, Some(session), RequestMeta::default()))
}

/// Maria's episode, the progress view the benchmark reads: opened, proposed, agreed
/// and rated through the same operations the API calls.
fn subject(clinic: &Clinic, conn: &mut Conn) -> Result<(Uuid, Uuid, Uuid), StoreError> {
    let olivia = caller(clinic, conn, "olivia.ot@riverside.example")?;
    let maria = caller(clinic, conn, "maria@client.example")?;
    let client = maria.who.client_id.ok_or(StoreError::NotFound)?;
    let now = Utc::now();
    let start = now - Duration::weeks(50);
    let draft = EpisodeDraft::parse(
        "Benchmark",
        vec![],
        Some(start.date_naive()),
        None,
        now.date_naive(),
    )?;
    let episode = clinic.open_episode(&olivia, client, draft)?;
    let mut first_goal = None;
    for g in 0..10 {
        let content = GoalContent {
            client_words: format!("Goal {g} in my own words"),
            statement: format!("Measurable statement {g}"),
            occupation_area: OccupationArea::Iadl,
            importance: g % 10 + 1,
            start_date: start.date_naive(),
            target_date: Some((now + Duration::weeks(8)).date_naive()),
            measure_code: Some("nrs".into()),
            target_value: Some(9.0),
            gas: Some(GasScale {
                levels: ["-2", "-1", "0", "+1", "+2"].map(String::from),
                baseline: -1,
            }),
        };
        let draft = GoalDraft {
            term: Term::LongTerm,
            parent_id: None,
            content,
        };
        let goal = clinic.propose_goal(&olivia, client, episode.id, draft)?;
        clinic.agree_to_goal(&maria, client, goal.id, Expected::Any)?;
        first_goal.get_or_insert(goal.id);
        let rating = |code: &str, at, values| NewReport {
            goal_id: Some(goal.id),
            measure_code: code.into(),
            observed_at: Some(at),
            values,
            note: None,
        };
        for i in 0..50_i64 {
            let value =
                f64::from(u8::try_from(2 + (i * 6 / 50) + (i % 3 == 0) as i64).unwrap_or(2));
            let values = Values {
                value: Some(value),
                ..Default::default()
            };
            let report = rating("nrs", start + Duration::weeks(i), values);
            clinic.record_measurement(&olivia, client, episode.id, report)?;
        }
        let values = Values {
            value: Some(f64::from(g % 3) - 1.0),
            ..Default::default()
        };
        clinic.record_measurement(&olivia, client, episode.id, rating("gas", now, values))?;
    }
    for (at, perf) in [(start, 3.0), (now, 7.0)] {
        let values = Values {
            problems: Some(
                (0..5)
                    .map(|i| CopmProblem {
                        problem: format!("problem {i}"),
                        importance: 8.0,
                        performance: perf,
                        satisfaction: perf - 1.0,
                    })
                    .collect(),
            ),
            ..Default::default()
        };
        let report = NewReport {
            goal_id: None,
            measure_code: "copm".into(),
            observed_at: Some(at),
            values,
            note: None,
        };
        clinic.record_measurement(&maria, client, episode.id, report)?;
    }
    Ok((client, episode.id, first_goal.unwrap_or_default()))
}

#[derive(Insertable)]
#[diesel(table_name = clients)]
struct ClientRow {
    id: String,
    organization_id: String,
    name: String,
    status: String,
    version: i32,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = episodes)]
struct EpisodeRow {
    id: String,
    organization_id: String,
    client_id: String,
    reason_for_referral: String,
    diagnoses: String,
    start_date: chrono::NaiveDate,
    status: String,
    goal_count: i32,
    progress_version: i64,
    created_by: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = goals_t)]
struct GoalRow {
    id: String,
    organization_id: String,
    client_id: String,
    episode_id: String,
    label: String,
    term: String,
    child_count: i32,
    status: String,
    expressed_by: String,
    revision: i32,
    client_agreed: bool,
    team_agreed: bool,
    client_words: String,
    statement: String,
    occupation_area: String,
    importance: i32,
    start_date: chrono::NaiveDate,
    measure_code: Option<String>,
    target_value: Option<f64>,
    created_by: String,
    created_at: chrono::NaiveDateTime,
    updated_at: chrono::NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = m_t)]
struct MeasurementRow {
    id: String,
    organization_id: String,
    client_id: String,
    episode_id: String,
    goal_id: Option<String>,
    measure_code: String,
    observed_at: chrono::NaiveDateTime,
    source: String,
    recorded_by: String,
    reported: String,
    score: f64,
    status: String,
    created_at: chrono::NaiveDateTime,
}

/// Multi-row inserts are backend-specific in diesel; the transaction stays the caller's.
macro_rules! batch_insert {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            persistence::db::DbConnection::Sqlite(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
            persistence::db::DbConnection::Postgresql(c) => {
                diesel::insert_into($table).values($rows).execute(c)
            }
        }
    };
}

/// Bulk-loads filler clients in large transactions (rows per statement kept under
/// both backends' bind-parameter limits).
fn bulk_filler(conn: &mut Conn, count: usize, per: usize) -> Result<(), StoreError> {
    if count == 0 {
        return Ok(());
    }
    let (olivia, org) = user_id(conn, "olivia.ot@riverside.example")?;
    let (org, olivia) = (org.to_string(), olivia.to_string());
    let now = Utc::now().naive_utc();
    let start = now - Duration::weeks(i64::try_from(per).unwrap_or(50));
    const CLIENTS_PER_TX: usize = 1000;
    for chunk in 0..count.div_ceil(CLIENTS_PER_TX) {
        let n = CLIENTS_PER_TX.min(count - chunk * CLIENTS_PER_TX);
        db::write(conn, |c| {
            let (mut cs, mut es, mut gs, mut ms) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for k in 0..n {
                let (client, episode, goal) = (
                    domain::new_id().to_string(),
                    domain::new_id().to_string(),
                    domain::new_id().to_string(),
                );
                cs.push(ClientRow {
                    id: client.clone(),
                    organization_id: org.clone(),
                    name: format!("Client {}", chunk * CLIENTS_PER_TX + k),
                    status: "active".into(),
                    version: 1,
                    created_at: now,
                    updated_at: now,
                });
                es.push(EpisodeRow {
                    id: episode.clone(),
                    organization_id: org.clone(),
                    client_id: client.clone(),
                    reason_for_referral: "Filler".into(),
                    diagnoses: "[]".into(),
                    start_date: start.date(),
                    status: "active".into(),
                    goal_count: 1,
                    progress_version: 0,
                    created_by: olivia.clone(),
                    created_at: now,
                    updated_at: now,
                });
                gs.push(GoalRow {
                    id: goal.clone(),
                    organization_id: org.clone(),
                    client_id: client.clone(),
                    episode_id: episode.clone(),
                    label: "1".into(),
                    term: "long-term".into(),
                    child_count: 0,
                    status: "active".into(),
                    expressed_by: "team".into(),
                    revision: 1,
                    client_agreed: true,
                    team_agreed: true,
                    client_words: "Filler goal".into(),
                    statement: "Filler".into(),
                    occupation_area: "adl".into(),
                    importance: 5,
                    start_date: start.date(),
                    measure_code: Some("nrs".into()),
                    target_value: Some(8.0),
                    created_by: olivia.clone(),
                    created_at: now,
                    updated_at: now,
                });
                for i in 0..per {
                    let value = (i % 11) as f64;
                    ms.push(MeasurementRow {
                        id: domain::new_id().to_string(),
                        organization_id: org.clone(),
                        client_id: client.clone(),
                        episode_id: episode.clone(),
                        goal_id: Some(goal.clone()),
                        measure_code: "nrs".into(),
                        observed_at: start + Duration::days(i64::try_from(i).unwrap_or(0)),
                        source: "therapist".into(),
                        recorded_by: olivia.clone(),
                        reported: format!("{{\"value\":{value}}}"),
                        score: value,
                        status: "final".into(),
                        created_at: now,
                    });
                }
            }
            batch_insert!(&mut *c, clients::table, &cs)?;
            batch_insert!(&mut *c, episodes::table, &es)?;
            for g in gs.chunks(500) {
                batch_insert!(&mut *c, goals_t::table, g)?;
            }
            for m in ms.chunks(2000) {
                batch_insert!(&mut *c, m_t::table, m)?;
            }
            Ok::<_, StoreError>(())
        })?;
    }
    Ok(())
}
