//! The group-committing writer, against a real database: concurrent jobs all commit,
//! a failing job rolls back alone, and no caller hears "done" before the commit.

use std::{sync::mpsc, thread, time::Duration};

use diesel::prelude::*;
use domain::audit::{Outcome, RequestMeta};
use uuid::Uuid;

use crate::{
    accounts,
    audit::{self, Actor},
    now,
    schema::{audit_events, organizations},
    testing::{subject, Riverside},
    Conn, StoreError, StoreResult, Writer,
};

fn organizations_named(clinic: &Riverside, prefix: &str) -> Vec<String> {
    organizations::table
        .filter(organizations::name.like(format!("{prefix}%")))
        .select(organizations::name)
        .order(organizations::name)
        .load(&mut clinic.connect())
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A job that registers an organization and records one audit event about it.
fn register(name: String) -> impl FnOnce(&mut Conn) -> StoreResult<Uuid> + Send + 'static {
    move |c: &mut Conn| {
        let org = accounts::create_organization(c, domain::new_id(), &name, now())?.id;
        audit::record(
            c,
            Actor {
                organization_id: Some(org),
                ..Default::default()
            },
            &subject("organization.create"),
            Outcome::Success,
            &RequestMeta::default(),
            now(),
        )?;
        Ok(org)
    }
}

fn audited_organizations(clinic: &Riverside) -> usize {
    audit_events::table
        .filter(audit_events::action.eq("organization.create"))
        .count()
        .get_result::<i64>(&mut clinic.connect())
        .unwrap_or_else(|e| panic!("{e}")) as usize
}

#[test]
fn many_concurrent_jobs_from_several_threads_all_commit() {
    let clinic = Riverside::new();
    let (threads, per_thread) = (8, 25);
    let ids: Vec<Uuid> = thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let writer = clinic.writer.clone();
                s.spawn(move || {
                    (0..per_thread)
                        .map(|j| {
                            writer
                                .run(register(format!("Load {t:02}-{j:02}")))
                                .unwrap_or_else(|e| panic!("job {t}-{j}: {e}"))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|_| panic!("a thread panicked")))
            .collect()
    });
    let mut distinct = ids.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), threads * per_thread);
    assert_eq!(
        organizations_named(&clinic, "Load ").len(),
        threads * per_thread
    );
    assert_eq!(audited_organizations(&clinic), threads * per_thread);
    assert!(crate::audit::verify_chain(&mut clinic.connect())
        .unwrap_or_else(|e| panic!("{e}"))
        .is_intact());
}

#[test]
fn a_failing_job_rolls_back_alone_while_the_rest_of_its_batch_commits() {
    let clinic = Riverside::new();
    // Hold the writer in a job of its own, so the jobs below queue up behind it and
    // are taken as one batch when it ends.
    let (started, is_started) = mpsc::channel::<()>();
    let (release, released) = mpsc::channel::<()>();
    let holder = {
        let writer = clinic.writer.clone();
        thread::spawn(move || {
            writer.run(move |_c: &mut Conn| {
                started
                    .send(())
                    .map_err(|e| StoreError::Config(e.to_string()))?;
                released
                    .recv()
                    .map_err(|e| StoreError::Config(e.to_string()))?;
                Ok(())
            })
        })
    };
    is_started.recv().unwrap_or_else(|e| panic!("{e}"));
    let jobs: Vec<_> = ["Batch A", "Batch B (fails)", "Batch C"]
        .into_iter()
        .map(|name| {
            let writer = clinic.writer.clone();
            thread::spawn(move || {
                let job = register(name.to_owned());
                writer.run(move |c: &mut Conn| {
                    let org = job(c)?;
                    if name.contains("fails") {
                        // Its insert and its event are made, then must be undone.
                        return Err(StoreError::Conflict("on purpose".into()));
                    }
                    Ok(org)
                })
            })
        })
        .collect();
    // Not an assertion, only a chance for the jobs to queue: what follows holds
    // whichever batches they land in.
    thread::sleep(Duration::from_millis(100));
    release.send(()).unwrap_or_else(|e| panic!("{e}"));
    holder
        .join()
        .unwrap_or_else(|_| panic!("holder panicked"))
        .unwrap_or_else(|e| panic!("{e}"));
    let results: Vec<StoreResult<Uuid>> = jobs
        .into_iter()
        .map(|j| j.join().unwrap_or_else(|_| panic!("a job panicked")))
        .collect();
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(
        matches!(results[1], Err(StoreError::Conflict(_))),
        "{:?}",
        results[1]
    );
    assert!(results[2].is_ok(), "{:?}", results[2]);
    assert_eq!(
        organizations_named(&clinic, "Batch "),
        vec!["Batch A".to_owned(), "Batch C".to_owned()]
    );
    assert_eq!(audited_organizations(&clinic), 2);
    // The writer carries on after a failure.
    clinic
        .writer
        .run(register("After".into()))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(organizations_named(&clinic, "After"), vec!["After"]);
}

#[test]
fn a_jobs_value_is_delivered_only_after_its_commit() {
    let clinic = Riverside::new();
    for i in 0..20 {
        let name = format!("Durable {i:02}");
        clinic
            .writer
            .run(register(name.clone()))
            .unwrap_or_else(|e| panic!("{e}"));
        // Another connection sees only committed rows.
        assert_eq!(organizations_named(&clinic, &name), vec![name.clone()]);
    }
    assert_eq!(audited_organizations(&clinic), 20);
}

#[test]
fn a_queued_audit_event_is_acknowledged_only_after_its_commit() {
    let clinic = Riverside::new();
    for i in 0..20 {
        let org = domain::new_id();
        let ack = clinic
            .writer
            .append_audit(audit::row(
                Actor {
                    organization_id: Some(org),
                    ..Default::default()
                },
                &subject("client.read"),
                Outcome::Success,
                &RequestMeta::default(),
                now(),
            ))
            .unwrap_or_else(|e| panic!("{e}"));
        ack.wait().unwrap_or_else(|e| panic!("{e}"));
        let stored: i64 = audit_events::table
            .filter(audit_events::organization_id.eq(org.to_string()))
            .count()
            .get_result(&mut clinic.connect())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(stored, 1, "event {i}");
    }
}

#[test]
fn a_writer_that_cannot_connect_does_not_start() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let missing = dir.path().join("no-such-dir").join("headway.db");
    let started = Writer::start(&crate::Backend::Sqlite(missing.display().to_string()));
    assert!(
        matches!(started, Err(StoreError::Unavailable(_))),
        "{started:?}"
    );
}

#[test]
fn the_fixture_runs_on_the_backend_asked_for() {
    let asked_for_postgres = std::env::var("HEADWAY_TEST_PG").is_ok_and(|v| !v.is_empty());
    let clinic = Riverside::new();
    assert_eq!(
        matches!(clinic.backend, crate::Backend::Postgres(_)),
        asked_for_postgres
    );
}
