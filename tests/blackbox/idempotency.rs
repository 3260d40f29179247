//! Idempotent retries (issue #9): every POST a signed-in caller makes accepts an
//! `Idempotency-Key`. The same key and request replays the first answer, marked
//! `Idempotent-Replayed: true`, and writes nothing again; the same key with another
//! body is a 422; a retry while the first runs is a 409; keys are the caller's own;
//! only successes are kept; a key outlives a restart.

use std::{
    collections::BTreeSet,
    sync::{Arc, Barrier},
    thread,
};

use headway_tests::{Reply, TestApp};
use serde_json::{json, Value};

use crate::{goals::episode, walk::World};

const KEY: &str = "Idempotency-Key";
const REPLAYED: &str = "Idempotent-Replayed";

fn post_with_key(app: &TestApp, token: &str, path: &str, key: &str, body: Option<&Value>) -> Reply {
    post_with_key_at(app, token, path, key, body, &app.etag_of(token, path))
}

/// A keyed POST sending `If-Match: tag` where it updates a record in place.
fn post_with_key_at(
    app: &TestApp,
    token: &str,
    path: &str,
    key: &str,
    body: Option<&Value>,
    tag: &str,
) -> Reply {
    let mut req = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header(KEY, key);
    if headway_tests::UPDATE_ACTIONS
        .iter()
        .any(|end| path.ends_with(end))
    {
        req = req.header("If-Match", tag);
    }
    if let Some(body) = body {
        req = req.json(body);
    }
    app.send(req)
}

/// Every POST the committed OpenAPI document says accepts an Idempotency-Key.
fn keyed_posts() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut keyed = Vec::new();
    for (path, item) in doc["paths"].as_object().cloned().unwrap_or_default() {
        let Some(post) = item.get("post") else {
            continue;
        };
        let params = post["parameters"].as_array().cloned().unwrap_or_default();
        let documented = params
            .iter()
            .any(|p| p["name"] == KEY && p["in"] == "header");
        // The token endpoints and stream tickets never store an answer (credentials);
        // accepting an invitation has no account to key it to (a retry answers 404: used).
        let exempt = [
            "/api/v1/auth/token",
            "/api/v1/auth/revoke",
            "/api/v1/events/ticket",
            "/api/v1/invitations/accept",
        ];
        // FHIR's writes are made safe to retry in FHIR's own way: If-None-Exist
        // (fhir_write.rs).
        let fhir = path.starts_with("/fhir/");
        assert_eq!(
            documented,
            !exempt.contains(&path.as_str()) && !fhir,
            "POST {path}"
        );
        if documented {
            assert!(post["responses"]["409"].is_object(), "POST {path}: no 409");
            assert!(post["responses"]["422"].is_object(), "POST {path}: no 422");
            let ok = post["responses"]
                .as_object()
                .into_iter()
                .flatten()
                .find(|(c, _)| c.starts_with('2'));
            let headers = ok.map(|(_, r)| r["headers"][REPLAYED].is_object());
            assert_eq!(
                headers,
                Some(true),
                "POST {path}: Idempotent-Replayed undocumented"
            );
            keyed.push(path);
        }
    }
    assert!(keyed.len() >= 14, "{} keyed POSTs", keyed.len());
    keyed
}

/// The audit action each POST leaves: a new POST must be named here.
fn action_of(path: &str) -> &'static str {
    match path.rsplit('/').next().unwrap_or_default() {
        "revisions" if path.contains("/activities/") => "activity.revise",
        "corrections" if path.contains("/practice/") => "practice.correct",
        "activities" => "activity.prescribe",
        "practice" => "practice.log",
        "check-ins" => "check_in.record",
        "questions" => "question.ask",
        "notes" => "question.note",
        "clients" => "client.create",
        "care-team" => "care_team.add",
        "caregivers" => "caregiver.grant",
        "invitation" => "client.invite",
        "episodes" => "episode.create",
        "goals" => "goal.propose",
        "revisions" => "goal.revise",
        "agreement" => "goal.agree",
        "status" => "goal.status",
        "comments" => "goal.comment",
        "measurements" => "measurement.record",
        "corrections" => "measurement.correct",
        "measures" => "measure.create",
        "users" => "user.create",
        "webhooks" => "webhook.create",
        "secret" => "webhook.rotate_secret",
        "redeliver" => "webhook.redeliver",
        "reports" => "report.draft",
        "signature" => "report.sign",
        "addenda" => "report.addendum",
        other => panic!("POST .../{other}: which audit action does it leave?"),
    }
}

/// How many successful `action` events the clinic's audit trail holds.
fn events_of(app: &TestApp, admin: &str, action: &str) -> usize {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let body = app
            .get(admin, &format!("/api/v1/audit-events?limit=100{after}"))
            .ok(200)
            .clone();
        let items = body["items"].as_array().cloned().unwrap_or_default();
        count += (items.iter())
            .filter(|e| e["action"] == action && e["outcome"] == "success")
            .count();
        match body["next_cursor"].as_str() {
            Some(c) => after = format!("&after={c}"),
            None => return count,
        }
    }
}

#[track_caller]
fn same_answer(first: &Reply, again: &Reply, what: &str) {
    assert_eq!(again.status, first.status, "{what}: {}", again.text);
    assert_eq!(again.text, first.text, "{what}: body");
    assert_eq!(
        again.header("location"),
        first.header("location"),
        "{what}: Location"
    );
    assert_eq!(
        again.header("content-type"),
        first.header("content-type"),
        "{what}"
    );
    assert_eq!(
        again.header(REPLAYED),
        Some("true"),
        "{what}: not marked replayed"
    );
    assert_eq!(
        first.header(REPLAYED),
        None,
        "{what}: the first answer is no replay"
    );
}

#[test]
fn every_keyed_post_replays_its_first_answer_and_writes_once() {
    let app = TestApp::spawn();
    let world = World::around(&app, "Maria Lopez", "olivia.ot@riverside.example");
    let admin = app.login("admin@riverside.example").access;
    let callers = [
        admin.clone(),
        app.login("olivia.ot@riverside.example").access,
        app.login("maria@client.example").access,
    ];
    let mut paths = keyed_posts();
    // The goal is agreed to and revised before it is cancelled.
    paths.sort_by_key(|p| p.ends_with("/status"));
    // Someone not yet on the care team, and a client without a login, to invite.
    let new_user = json!({
        "role": "therapist", "display_name": "Rae", "email": "rae@riverside.example",
        "discipline": "occupational-therapy"
    });
    let rae = app.post(&admin, "/api/v1/users", &new_user).ok(201)["user"]["id"].clone();
    let ana = app
        .post(&admin, "/api/v1/clients", &json!({"name": "Ana"}))
        .ok(201)["id"]
        .clone();
    let (mut replayed, mut missing) = (BTreeSet::new(), Vec::new());
    for (n, path) in paths.iter().enumerate() {
        let mut concrete = world.concrete(path);
        let mut body = world.body("post", path);
        if path.ends_with("/care-team") {
            body = Some(json!({"therapist_id": rae, "team_role": "consulting"}));
        } else if path.ends_with("/status") {
            body = Some(json!({"status": "cancelled"}));
        } else if path.ends_with("/invitation") {
            concrete = concrete.replace(&world.client, ana.as_str().unwrap_or_default());
        }
        let action = action_of(path);
        let before = events_of(&app, &admin, action);
        // The first caller for whom the example succeeds (admin, therapist, client).
        let mut refused = Vec::new();
        let found = callers.iter().enumerate().find_map(|(i, token)| {
            let key = format!("walk-{n}-{i}");
            let tag = app.etag_of(token, &concrete);
            let r = post_with_key_at(&app, token, &concrete, &key, body.as_ref(), &tag);
            refused.push(format!("{} {}", r.status, r.text));
            r.status.is_success().then_some((token, key, tag, r))
        });
        let Some((token, key, tag, first)) = found else {
            missing.push(format!("{path}: {refused:?}"));
            continue;
        };
        // A retry resends the same request: its If-Match names the version the first
        // one changed (stale now), and it still gets the first answer, ETag included.
        let again = post_with_key_at(&app, token, &concrete, &key, body.as_ref(), &tag);
        same_answer(&first, &again, path);
        assert_eq!(again.header("etag"), first.header("etag"), "{path}: ETag");
        assert_eq!(
            events_of(&app, &admin, action),
            before + 1,
            "POST {path}: {action} events"
        );
        replayed.insert(path.clone());
    }
    assert!(missing.is_empty(), "no successful example for {missing:#?}");
    assert_eq!(replayed.len(), paths.len());
}

/// Maria's episode's measurements path, and how many measurements it holds.
fn measurements<'a>(app: &'a TestApp, therapist: &str) -> (String, impl Fn() -> usize + 'a) {
    let client = app.client_id("Maria Lopez");
    let episode = episode(app, therapist, &client);
    let path = format!("/api/v1/clients/{client}/episodes/{episode}/measurements");
    let list = path.clone();
    let token = therapist.to_owned();
    let count = move || {
        let body = app
            .get(&token, &format!("{list}?limit=100"))
            .ok(200)
            .clone();
        body["items"].as_array().map_or(0, Vec::len)
    };
    (path, count)
}

fn rating(value: u8) -> Value {
    json!({"measure_code": "nrs", "values": {"value": value}})
}

#[test]
fn the_same_key_with_another_body_is_refused_and_writes_nothing() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let (path, count) = measurements(&app, &olivia);
    let first = post_with_key(&app, &olivia, &path, "rating-1", Some(&rating(3)));
    first.ok(201);
    let other = post_with_key(&app, &olivia, &path, "rating-1", Some(&rating(4)));
    let problem = other.problem(422);
    assert_eq!(
        problem["type"],
        "urn:headway:problem:idempotency-key-reused"
    );
    assert_eq!(count(), 1, "the second body was not recorded");
    // Another path with the same key is another request, too.
    let client = app.client_id("Maria Lopez");
    let episodes = format!("/api/v1/clients/{client}/episodes");
    let body = json!({"reason_for_referral": "Hip fracture"});
    post_with_key(&app, &olivia, &episodes, "rating-1", Some(&body)).problem(422);
}

#[test]
fn a_key_belongs_to_its_account_so_another_account_gets_its_own_answer() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let peter = app.login("peter.pt@riverside.example").access;
    let (path, count) = measurements(&app, &olivia);
    let hers = post_with_key(&app, &olivia, &path, "shared-key", Some(&rating(5)));
    let his = post_with_key(&app, &peter, &path, "shared-key", Some(&rating(5)));
    assert_eq!(his.status.as_u16(), 201, "{}", his.text);
    assert_eq!(his.header(REPLAYED), None, "Peter saw Olivia's answer");
    assert_ne!(his.ok(201)["id"], hers.ok(201)["id"]);
    assert_eq!(
        his.ok(201)["recorded_by"],
        app.user_id("peter.pt@riverside.example")
    );
    assert_eq!(count(), 2);
    // And each replays their own.
    let again = post_with_key(&app, &peter, &path, "shared-key", Some(&rating(5)));
    same_answer(&his, &again, "Peter's retry");
}

#[test]
fn eight_retries_at_once_write_once_and_each_gets_the_answer_or_a_409() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let (path, count) = measurements(&app, &olivia);
    let start = Arc::new(Barrier::new(8));
    let answers: Vec<Reply> = thread::scope(|s| {
        let senders: Vec<_> = (0..8)
            .map(|_| {
                let (start, app, olivia, path) = (start.clone(), &app, &olivia, &path);
                s.spawn(move || {
                    start.wait();
                    post_with_key(app, olivia, path, "flaky-phone", Some(&rating(6)))
                })
            })
            .collect();
        senders
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|_| panic!("sender")))
            .collect()
    });
    let created: BTreeSet<_> = answers
        .iter()
        .filter(|r| r.status.as_u16() == 201)
        .map(|r| r.text.clone())
        .collect();
    for r in &answers {
        match r.status.as_u16() {
            201 => {}
            409 => assert_eq!(
                r.problem(409)["type"],
                "urn:headway:problem:idempotency-key-in-flight"
            ),
            other => panic!("{other}: {}", r.text),
        }
    }
    assert_eq!(created.len(), 1, "every 201 is the same answer");
    assert_eq!(count(), 1, "exactly one measurement was recorded");
    // Once settled, a retry replays it.
    let settled = post_with_key(&app, &olivia, &path, "flaky-phone", Some(&rating(6)));
    assert_eq!(settled.header(REPLAYED), Some("true"));
    assert!(created.contains(&settled.text));
}

#[test]
fn an_oversized_or_malformed_key_is_a_400_naming_the_header_and_writes_nothing() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let (path, count) = measurements(&app, &olivia);
    for key in ["k".repeat(256), String::new(), "\"\"".to_owned()] {
        let r = post_with_key(&app, &olivia, &path, &key, Some(&rating(2)));
        r.problem(400);
        assert_eq!(r.fields(), vec![KEY.to_owned()], "{key:?}: {}", r.text);
    }
    let at_most = post_with_key(&app, &olivia, &path, &"k".repeat(255), Some(&rating(2)));
    at_most.ok(201);
    assert_eq!(count(), 1, "only the 255-character key wrote");
}

#[test]
fn without_a_key_a_post_writes_every_time() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let (path, count) = measurements(&app, &olivia);
    let first = app.post(&olivia, &path, &rating(7));
    let second = app.post(&olivia, &path, &rating(7));
    assert_ne!(first.ok(201)["id"], second.ok(201)["id"]);
    assert_eq!(second.header(REPLAYED), None);
    assert_eq!(count(), 2);
}

#[test]
fn an_error_keeps_no_answer_and_a_retry_runs_again() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let mrn = json!({"system": "urn:ehr:mrn", "value": "MRN-77"});
    let taken = app.post(
        &admin,
        "/api/v1/clients",
        &json!({"name": "Ann", "identifiers": [mrn]}),
    );
    let ann = taken.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    let bea = json!({"name": "Bea", "identifiers": [mrn]});
    let clash = post_with_key(&app, &admin, "/api/v1/clients", "register-bea", Some(&bea));
    clash.problem(409);
    assert_eq!(clash.problem(409)["type"], "urn:headway:problem:conflict");
    // The clash is resolved; the same retry now runs, and succeeds.
    let fixed = json!({"name": "Ann", "status": "active", "identifiers": []});
    app.put(&admin, &format!("/api/v1/clients/{ann}"), &fixed)
        .ok(200);
    let retry = post_with_key(&app, &admin, "/api/v1/clients", "register-bea", Some(&bea));
    assert_eq!(retry.ok(201)["name"], "Bea");
    assert_eq!(retry.header(REPLAYED), None, "an error was not stored");
}

#[test]
fn a_key_survives_a_restart() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let (path, count) = measurements(&app, &olivia);
    let first = post_with_key(&app, &olivia, &path, "before-restart", Some(&rating(8)));
    first.ok(201);
    drop(count);
    let app = app.restart();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let again = post_with_key(&app, &olivia, &path, "before-restart", Some(&rating(8)));
    same_answer(&first, &again, "after a restart");
    let listed = app
        .get(&olivia, &format!("{path}?limit=100"))
        .ok(200)
        .clone();
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));
}

#[test]
fn a_kept_answer_is_sealed_so_the_table_alone_reveals_neither_key_nor_secret() {
    use diesel::prelude::*;
    use persistence::schema::idempotency_keys as keys;
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let body = json!({"role": "service", "display_name": "EHR bridge", "scopes": "clients:read"});
    let key = "service-account-3f9c2a";
    let first = post_with_key(&app, &admin, "/api/v1/users", key, Some(&body));
    let secret = first.ok(201)["credentials"]["client_secret"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(secret.len() >= 16, "{}", first.text);
    let again = post_with_key(&app, &admin, "/api/v1/users", key, Some(&body));
    same_answer(&first, &again, "a service account's answer, replayed");

    let mut conn = app.pool.get().unwrap_or_else(|e| panic!("{e}"));
    let rows: Vec<(String, Option<String>)> = keys::table
        .select((keys::idempotency_key, keys::response_body))
        .load(&mut *conn)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 1);
    for (stored_key, stored_body) in rows {
        let stored_body = stored_body.unwrap_or_default();
        assert!(!stored_key.contains(key), "the key is stored as sent");
        assert!(!stored_body.is_empty());
        assert!(
            !stored_body.contains(&secret),
            "the secret is stored readable"
        );
        assert!(
            !stored_body.contains("EHR bridge"),
            "the answer is stored readable"
        );
    }
}
