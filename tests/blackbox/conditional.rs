//! Safe concurrent edits (RFC 9110 §13): every update needs If-Match (428 without,
//! 412 with a stale tag, naming the current one, nothing changed); every single read
//! answers 304 to the tag the caller holds; of N editors holding the same tag exactly
//! one wins; JSON Merge Patch (RFC 7396) on a client and a goal.

use std::sync::Barrier;

use headway_tests::{merge_patched, Reply, TestApp, UPDATE_ACTIONS};
use reqwest::Method;
use serde_json::{json, Value};

use crate::goals::content;
use crate::walk::World;

const NEVER: &str = "\"999999\"";

fn openapi() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"))
}

/// (method, path) of every operation the document says answers `status`.
fn documenting(status: &str) -> Vec<(String, String)> {
    let doc = openapi();
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().cloned().unwrap_or_default() {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            if op["responses"][status].is_object() {
                ops.push((method, path.clone()));
            }
        }
    }
    ops
}

/// A request with `If-Match` as given (or none), the walk's body for it.
fn send(
    app: &TestApp,
    world: &World,
    token: &str,
    method: &str,
    path: &str,
    if_match: Option<&str>,
) -> Reply {
    let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap_or(Method::POST);
    let mut req = app
        .http
        .request(m, app.url(&world.concrete(path)))
        .bearer_auth(token);
    if let Some(tag) = if_match {
        req = req.header("If-Match", tag);
    }
    let mut body = world.body(method, path).unwrap_or_else(|| json!({}));
    if path.ends_with("/status") {
        // Allowed whether the goal is still proposed or active.
        body = json!({"status": "cancelled"});
    }
    let kind = if method == "patch" && merge_patched(path) {
        "application/merge-patch+json"
    } else {
        "application/json"
    };
    app.send(req.header("content-type", kind).body(body.to_string()))
}

/// The one-record read that shows what an update at `path` changes, if there is one.
fn record_of(path: &str) -> Option<&str> {
    // A service account's key set is read where it is registered.
    if path.ends_with("/jwks") {
        return Some(path);
    }
    let record = UPDATE_ACTIONS
        .iter()
        .find_map(|end| path.strip_suffix(end))
        .unwrap_or(path);
    record.ends_with('}').then_some(record)
}

/// What an update at `path` could change, as `token` sees it: the record (without
/// its ETag), or the measure catalogue for a primary source.
fn state(app: &TestApp, world: &World, token: &str, path: &str) -> (String, Option<String>) {
    let read = record_of(path).unwrap_or("/api/v1/measures");
    let r = app.get(token, &world.concrete(read));
    assert_eq!(r.status, 200, "GET {read}: {}", r.text);
    (r.text.clone(), r.header("etag").map(str::to_owned))
}

#[test]
fn every_update_needs_if_match_refuses_a_stale_tag_and_succeeds_with_the_current_one() {
    let app = TestApp::spawn();
    let world = World::around(&app, "Maria Lopez", "olivia.ot@riverside.example");
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let maria = app.login("maria@client.example").access;
    let mut ops = documenting("428");
    // The goal is revised, then agreed to (so active), then its status changes.
    // A home activity is revised before it is stopped (a stopped one is not revised).
    ops.sort_by_key(|(m, p)| {
        u8::from(p.ends_with("/agreement"))
            + 2 * u8::from(p.ends_with("/status"))
            + 4 * u8::from(m == "patch" && p.ends_with("{activity_id}"))
    });
    let expected = [
        ("put", "/api/v1/clients/{client_id}"),
        ("patch", "/api/v1/clients/{client_id}"),
        ("patch", "/api/v1/clients/{client_id}/episodes/{episode_id}"),
        ("patch", "/api/v1/users/{user_id}"),
        ("patch", "/api/v1/clients/{client_id}/caregivers/{link_id}"),
        ("post", "/api/v1/clients/{client_id}/goals/{goal_id}/status"),
        (
            "post",
            "/api/v1/clients/{client_id}/goals/{goal_id}/revisions",
        ),
        (
            "post",
            "/api/v1/clients/{client_id}/goals/{goal_id}/agreement",
        ),
        ("patch", "/api/v1/clients/{client_id}/goals/{goal_id}"),
        (
            "post",
            "/api/v1/clients/{client_id}/measurements/{measurement_id}/corrections",
        ),
        ("put", "/api/v1/measures/{code}/primary-source"),
    ];
    for (m, p) in expected {
        assert!(
            ops.iter().any(|(om, op)| om == m && op == p),
            "{m} {p} does not document 428"
        );
    }
    for (method, path) in &ops {
        let what = format!("{method} {path}");
        let before = state(&app, &world, &admin, path);

        let r = send(&app, &world, &admin, method, path, None);
        assert_eq!(
            r.problem(428)["type"],
            "urn:headway:problem:precondition-required"
        );
        assert_eq!(
            state(&app, &world, &admin, path),
            before,
            "{what}: 428 changed it"
        );

        // The first caller who may make this change (admin, therapist, client); the
        // team proposed the goal, so its agreement is the client's to give.
        let callers = if path.ends_with("/agreement") {
            [&maria, &olivia, &admin]
        } else {
            [&admin, &olivia, &maria]
        };
        let mut tried = Vec::new();
        let who = callers.into_iter().find(|token| {
            let r = send(&app, &world, token, method, path, Some(NEVER));
            tried.push(format!("{} {}", r.status, r.text));
            r.status == 412
        });
        let Some(token) = who else {
            panic!("{what}: nobody got 412 with a stale tag: {tried:?}")
        };
        let stale = send(&app, &world, token, method, path, Some(NEVER));
        let current = stale.problem(412)["current_etag"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(stale.header("etag"), Some(current.as_str()), "{what}");
        let after = state(&app, &world, &admin, path);
        assert_eq!(after, before, "{what}: 412 changed it");
        if let Some(shown) = &after.1 {
            assert_eq!(&current, shown, "{what}: current_etag is what a GET shows");
        }

        let ok = send(&app, &world, token, method, path, Some(&current));
        assert!(ok.status.is_success(), "{what}: {} {}", ok.status, ok.text);
        let new = ok.header("etag").unwrap_or_default().to_owned();
        assert!(new.starts_with('"'), "{what}: ETag {new:?}");
        let now = state(&app, &world, &admin, path).1;
        match (&now, ok.header("location")) {
            // A correction is a new measurement: the answer tags it, at its Location.
            (_, Some(at)) if path.ends_with("/corrections") => {
                let shown = app.get(&admin, at).header("etag").map(str::to_owned);
                assert_eq!(Some(new.clone()), shown, "{what}: the new record's ETag");
            }
            (Some(shown), _) => assert_eq!(&new, shown, "{what}: the ETag a GET now shows"),
            (None, _) => assert_ne!(new, current, "{what}: the ETag changed"),
        }
        if let Some(shown) = &now {
            assert_ne!(shown, &current, "{what}: the record's ETag changed");
        }
    }
}

#[test]
fn every_single_read_answers_304_to_the_tag_the_caller_holds() {
    let app = TestApp::spawn();
    let world = World::around(&app, "Maria Lopez", "olivia.ot@riverside.example");
    let admin = app.login("admin@riverside.example").access;
    let doc = openapi();
    let mut walked = 0;
    for (path, item) in doc["paths"].as_object().cloned().unwrap_or_default() {
        if item["get"]["responses"]["200"]["headers"]["ETag"].is_null() {
            continue;
        }
        assert!(item["get"]["responses"]["304"].is_object(), "{path}: 304");
        let url = app.url(&world.concrete(&path));
        let first = app.get(&admin, &world.concrete(&path));
        let tag = first.header("etag").unwrap_or_default().to_owned();
        assert!(tag.starts_with('"'), "GET {path}: ETag {tag:?}");
        let held = app.send(
            app.http
                .get(&url)
                .bearer_auth(&admin)
                .header("If-None-Match", &tag),
        );
        assert_eq!(held.status, 304, "GET {path}");
        assert_eq!(held.text, "", "GET {path}: a 304 has no body");
        assert_eq!(held.header("etag"), Some(tag.as_str()), "GET {path}");
        let stale = app.send(
            app.http
                .get(&url)
                .bearer_auth(&admin)
                .header("If-None-Match", NEVER),
        );
        assert_eq!(stale.status, 200, "GET {path} with a stale tag");
        assert_eq!(stale.text, first.text, "GET {path}");
        walked += 1;
    }
    // Client, goal, measurement, user, episode, caregiver link.
    assert!(walked >= 6, "{walked} single reads");
}

/// 8 editors holding the same ETag send `send(tag)` at once.
fn race(send: impl Fn() -> Reply + Sync) -> Vec<u16> {
    let barrier = Barrier::new(8);
    std::thread::scope(|s| {
        let runs: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    barrier.wait();
                    send().status.as_u16()
                })
            })
            .collect();
        runs.into_iter()
            .map(|r| r.join().unwrap_or(0))
            .collect::<Vec<_>>()
    })
}

fn count(app: &TestApp, token: &str, path: &str) -> usize {
    app.get(token, path).ok(200).as_array().map_or(0, Vec::len)
}

#[test]
fn of_eight_editors_with_the_same_tag_exactly_one_wins() {
    let app = TestApp::spawn();
    let world = World::around(&app, "Maria Lopez", "olivia.ot@riverside.example");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let client = format!("/api/v1/clients/{}", world.client);
    let goal = format!("{client}/goals/{}", world.goal);

    let revisions = count(&app, &olivia, &format!("{goal}/revisions"));
    let tag = app.etag_of(&olivia, &goal);
    let statuses = race(|| {
        let body = content("Walk to the shop");
        app.update_at(
            Method::POST,
            &olivia,
            &format!("{goal}/revisions"),
            &tag,
            &body,
        )
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(
        count(&app, &olivia, &format!("{goal}/revisions")),
        revisions + 1
    );

    let versions = count(&app, &olivia, &format!("{client}/versions"));
    let tag = app.etag_of(&olivia, &client);
    let statuses = race(|| {
        let body = json!({"name": "Maria Lopez", "preferred_name": "Mari", "status": "active"});
        app.update_at(Method::PUT, &olivia, &client, &tag, &body)
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 412).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(
        count(&app, &olivia, &format!("{client}/versions")),
        versions + 1
    );
}

fn merge_patch(app: &TestApp, token: &str, path: &str, tag: &str, body: &str) -> Reply {
    app.send(
        app.http
            .patch(app.url(path))
            .bearer_auth(token)
            .header("If-Match", tag)
            .header("content-type", "application/merge-patch+json")
            .body(body.to_owned()),
    )
}

#[test]
fn a_merge_patch_on_a_client_changes_what_it_names_and_nothing_else() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let path = format!("/api/v1/clients/{}", app.client_id("Maria Lopez"));
    let before = app.get(&olivia, &path).ok(200).clone();
    let versions = count(&app, &olivia, &format!("{path}/versions"));

    let tag = app.etag_of(&olivia, &path);
    let r = merge_patch(
        &app,
        &olivia,
        &path,
        &tag,
        r#"{"preferred_name": "Mari", "email": null}"#,
    );
    let after = r.ok(200).clone();
    assert_eq!(after["preferred_name"], "Mari");
    assert_eq!(after["email"], Value::Null, "null removes");
    for kept in ["name", "date_of_birth", "phone", "status", "identifiers"] {
        assert_eq!(after[kept], before[kept], "{kept} kept");
    }
    assert_eq!(
        after["version"],
        before["version"].as_i64().unwrap_or(0) + 1
    );
    assert_ne!(r.header("etag"), Some(tag.as_str()));
    assert_eq!(
        count(&app, &olivia, &format!("{path}/versions")),
        versions + 1
    );

    // Refused patches change nothing.
    let now = app.get(&olivia, &path).ok(200).clone();
    let tag = app.etag_of(&olivia, &path);
    let r = merge_patch(
        &app,
        &olivia,
        &path,
        &tag,
        r#"{"name": null, "status": null}"#,
    );
    r.problem(422);
    assert_eq!(r.fields(), vec!["name", "status"]);
    let r = merge_patch(&app, &olivia, &path, &tag, r#"{"nickname": "M"}"#);
    r.problem(400);
    assert_eq!(r.fields(), vec!["nickname"]);
    let r = merge_patch(&app, &olivia, &path, &tag, r#"{"email": "not an address"}"#);
    r.problem(422);
    assert_eq!(r.fields(), vec!["email"]);
    merge_patch(&app, &olivia, &path, NEVER, r#"{"preferred_name": "M"}"#).problem(412);
    let r = app.send(
        app.http
            .patch(app.url(&path))
            .bearer_auth(&olivia)
            .header("If-Match", &tag)
            .json(&json!({"preferred_name": "M"})),
    );
    r.problem(415);
    let r = app.send(
        app.http
            .patch(app.url(&path))
            .bearer_auth(&olivia)
            .header("content-type", "application/merge-patch+json")
            .body(r#"{"preferred_name": "M"}"#),
    );
    r.problem(428);
    assert_eq!(
        app.get(&olivia, &path).ok(200),
        &now,
        "refused patches changed it"
    );
}

#[test]
fn a_merge_patch_on_a_goal_is_a_new_revision_of_what_it_names() {
    let app = TestApp::spawn();
    let world = World::around(&app, "Maria Lopez", "olivia.ot@riverside.example");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let goal = format!("/api/v1/clients/{}/goals/{}", world.client, world.goal);
    let before = app.get(&olivia, &goal).ok(200).clone();

    let tag = app.etag_of(&olivia, &goal);
    let body = r#"{"importance": 9, "target_value": null, "measure_code": null}"#;
    let after = merge_patch(&app, &olivia, &goal, &tag, body)
        .ok(200)
        .clone();
    let (was, now) = (&before, &after);
    assert_eq!(now["importance"], 9);
    assert_eq!(now["measure_code"], Value::Null, "null removes");
    assert_eq!(now["target_value"], Value::Null, "null removes");
    for kept in ["client_words", "statement", "occupation_area", "start_date"] {
        assert_eq!(now[kept], was[kept], "{kept} kept");
    }
    assert_eq!(
        after["revision"],
        before["revision"].as_i64().unwrap_or(0) + 1
    );

    let held = app.get(&olivia, &goal).ok(200).clone();
    let tag = app.etag_of(&olivia, &goal);
    let r = merge_patch(&app, &olivia, &goal, &tag, r#"{"client_words": null}"#);
    r.problem(422);
    assert_eq!(r.fields(), vec!["client_words"]);
    let r = merge_patch(&app, &olivia, &goal, &tag, r#"{"importance": 11}"#);
    r.problem(422);
    assert_eq!(r.fields(), vec!["importance"]);
    let r = merge_patch(&app, &olivia, &goal, &tag, r#"{"label": "x"}"#);
    r.problem(400);
    assert_eq!(r.fields(), vec!["label"]);
    merge_patch(&app, &olivia, &goal, NEVER, r#"{"importance": 3}"#).problem(412);
    assert_eq!(
        app.get(&olivia, &goal).ok(200),
        &held,
        "refused patches changed it"
    );
}

#[test]
fn a_weak_or_malformed_if_match_is_a_bad_request_naming_the_header() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let path = format!("/api/v1/clients/{}", app.client_id("Maria Lopez"));
    let before = app.get(&olivia, &path).ok(200).clone();
    let body = json!({"name": "Maria Lopez", "status": "active"});
    let current = app.etag_of(&olivia, &path);
    for tag in [format!("W/{current}"), "3".to_owned(), "\"3".to_owned()] {
        let r = app.update_at(Method::PUT, &olivia, &path, &tag, &body);
        r.problem(400);
        assert_eq!(r.fields(), vec!["If-Match"], "If-Match: {tag}");
    }
    assert_eq!(app.get(&olivia, &path).ok(200), &before);
}
