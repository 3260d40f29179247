//! Many writers at once: 32 people, each in their own session, write at the same
//! moment; every one is answered 2xx (never a 500, never "database is locked"), and
//! every write is there afterwards, with its audit event.

use std::{collections::HashSet, sync::Barrier, thread};

use headway_tests::{Reply, TestApp};
use serde_json::json;

use crate::goals::{content, episode};

const WRITERS: usize = 32;
const WRITES_EACH: usize = 6;

/// Who signs in for writer `n`: therapists on Maria's team, Maria herself, the admin.
const PEOPLE: [&str; 4] = [
    "olivia.ot@riverside.example",
    "peter.pt@riverside.example",
    "maria@client.example",
    "admin@riverside.example",
];

/// What one writer wrote and was told was done.
#[derive(Default)]
struct Written {
    measurements: Vec<String>,
    goals: Vec<String>,
    comments: Vec<String>,
    clients: Vec<String>,
}

#[track_caller]
fn created(r: &Reply, what: &str) -> String {
    assert!(
        r.status.is_success() && !r.text.contains("database is locked"),
        "{what}: {} {}",
        r.status,
        r.text
    );
    r.body["id"].as_str().unwrap_or_default().to_owned()
}

struct Paths {
    recordings: String,
    goals: String,
    comments: String,
}

/// Writer `n`'s `i`-th write: the admin registers clients; therapists and Maria
/// record ratings; therapists also propose goals, and Maria comments on hers.
fn write(app: &TestApp, paths: &Paths, me: &str, n: usize, i: usize, w: &mut Written) {
    let tag = format!("writer {n}, write {i}");
    match (n % PEOPLE.len(), i % 3) {
        (3, _) => {
            let client = json!({
                "name": format!("Client {n}-{i}"),
                "date_of_birth": "1961-04-02",
                "identifiers": [{"system": "urn:ehr:mrn", "value": format!("D-{n}-{i}")}],
            });
            let r = app.post(me, "/api/v1/clients", &client);
            w.clients.push(created(&r, &tag));
        }
        (_, 0 | 1) => {
            let rating = json!({"measure_code": "nrs", "values": {"value": (n + i) % 11}});
            let r = app.post(me, &paths.recordings, &rating);
            w.measurements.push(created(&r, &tag));
        }
        (0 | 1, _) => {
            let r = app.post(me, &paths.goals, &json!({"content": content(&tag)}));
            w.goals.push(created(&r, &tag));
        }
        _ => {
            let r = app.post(me, &paths.comments, &json!({"body": tag}));
            w.comments.push(created(&r, &tag));
        }
    }
}

#[test]
fn thirty_two_concurrent_writers_are_all_answered_and_all_kept() {
    // The production pool size: 32 connections, as many as writers.
    let app = TestApp::spawn_with(|c| c.db_pool_size = 32);
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login(PEOPLE[0]).access;
    let ep = episode(&app, &olivia, &maria);
    let goal = created(
        &app.post(
            &olivia,
            &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
            &json!({"content": content("Cook dinner for my kids again")}),
        ),
        "goal",
    );

    let paths = Paths {
        recordings: format!("/api/v1/clients/{maria}/episodes/{ep}/measurements"),
        goals: format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
        comments: format!("/api/v1/clients/{maria}/goals/{goal}/comments"),
    };
    let start = Barrier::new(WRITERS);
    let written: Vec<Written> = thread::scope(|s| {
        let workers: Vec<_> = (0..WRITERS)
            .map(|n| {
                let (app, start, paths) = (&app, &start, &paths);
                s.spawn(move || {
                    // All at once from here; signing in writes too (the session and
                    // its audit event). Nothing can panic before the barrier.
                    start.wait();
                    let me = sign_in(app, PEOPLE[n % PEOPLE.len()]);
                    let mut w = Written::default();
                    for i in 0..WRITES_EACH {
                        write(app, paths, &me, n, i, &mut w);
                    }
                    w
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("a writer failed")))
            .collect()
    });

    // Everything answered 2xx is there, read back as a user would.
    let admin = app.login(PEOPLE[3]).access;
    let all = |f: fn(&Written) -> &Vec<String>| -> Vec<String> {
        written.iter().flat_map(|w| f(w).iter().cloned()).collect()
    };
    let (measurements, goals, notes, clients) = (
        all(|w| &w.measurements),
        all(|w| &w.goals),
        all(|w| &w.comments),
        all(|w| &w.clients),
    );
    assert_eq!(
        measurements.len() + goals.len() + notes.len() + clients.len(),
        WRITERS * WRITES_EACH
    );
    for id in &measurements {
        app.get(
            &olivia,
            &format!("/api/v1/clients/{maria}/measurements/{id}"),
        )
        .ok(200);
    }
    for id in &goals {
        app.get(&olivia, &format!("/api/v1/clients/{maria}/goals/{id}"))
            .ok(200);
    }
    let thread = app.get(&olivia, &paths.comments);
    let on_goal: HashSet<&str> = thread.ok(200).as_array().map_or(HashSet::new(), |a| {
        a.iter().filter_map(|c| c["id"].as_str()).collect()
    });
    for id in &notes {
        assert!(on_goal.contains(id.as_str()), "comment {id} is missing");
    }
    for id in &clients {
        app.get(&admin, &format!("/api/v1/clients/{id}")).ok(200);
    }
    // And each of Maria's writes has its success event in the audit trail.
    let audited: HashSet<String> = app
        .audit_for_client(&admin, &maria)
        .iter()
        .filter(|e| e["outcome"] == "success")
        .filter_map(|e| e["resource_id"].as_str().map(str::to_owned))
        .collect();
    for id in measurements.iter().chain(&goals).chain(&notes) {
        assert!(audited.contains(id), "no audit event for {id}");
    }
}

/// Signs in as a real app does: when the server is busy hashing (503 with
/// Retry-After), it waits as told and tries again.
fn sign_in(app: &TestApp, email: &str) -> String {
    let r = app.patiently(|| {
        app.token(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", headway_tests::PASSWORD),
        ])
    });
    r.ok(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
