//! Every read or write of a client's data leaves exactly one audit event.

use headway_tests::TestApp;
use serde_json::json;

#[test]
fn every_client_data_request_leaves_exactly_one_audit_event() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let sam = app.login("sam@client.example").access;
    let lucia = app.login("lucia@family.example").access;
    let lee = {
        let email = app.second_clinic("lee@lakeside.example");
        app.login(&email).access
    };
    let service = app.service_token("clients:read");
    let lee_admin = lee.clone();
    let before = app.audit_for_client(&admin, &maria).len();
    let before_lakeside = app.audit_for_client(&lee_admin, &maria).len();

    let update = json!({"name": "Maria Lopez", "preferred_name": "Mari", "status": "active", "identifiers": [{"system": "urn:demo-ehr:mrn", "value": "MRN-1001"}]});
    // (what, request, expected status, expected outcome, whose trail holds it)
    type Request<'a> = (&'a str, Box<dyn Fn() -> u16 + 'a>, u16, &'a str, &'a str);
    let requests: Vec<Request> = vec![
        (
            "therapist reads",
            Box::new(|| {
                app.get(&olivia, &format!("/api/v1/clients/{maria}"))
                    .status
                    .as_u16()
            }),
            200,
            "success",
            "riverside",
        ),
        (
            "therapist corrects",
            Box::new(|| {
                app.put(&olivia, &format!("/api/v1/clients/{maria}"), &update)
                    .status
                    .as_u16()
            }),
            200,
            "success",
            "riverside",
        ),
        (
            "other client probes",
            Box::new(|| {
                app.get(&sam, &format!("/api/v1/clients/{maria}"))
                    .status
                    .as_u16()
            }),
            404,
            "not-found",
            "riverside",
        ),
        (
            "caregiver tries to change",
            Box::new(|| {
                app.put(&lucia, &format!("/api/v1/clients/{maria}"), &update)
                    .status
                    .as_u16()
            }),
            403,
            "denied",
            "riverside",
        ),
        (
            "caregiver reads care team",
            Box::new(|| {
                app.get(&lucia, &format!("/api/v1/clients/{maria}/care-team"))
                    .status
                    .as_u16()
            }),
            200,
            "success",
            "riverside",
        ),
        // Another clinic's probe is recorded in the prober's own trail: their admin sees their staff probing.
        (
            "other clinic probes",
            Box::new(|| {
                app.get(&lee, &format!("/api/v1/clients/{maria}"))
                    .status
                    .as_u16()
            }),
            404,
            "not-found",
            "lakeside",
        ),
        (
            "integration reads",
            Box::new(|| {
                app.get(&service, &format!("/api/v1/clients/{maria}"))
                    .status
                    .as_u16()
            }),
            200,
            "success",
            "riverside",
        ),
        (
            "integration tries to change",
            Box::new(|| {
                app.put(&service, &format!("/api/v1/clients/{maria}"), &update)
                    .status
                    .as_u16()
            }),
            403,
            "denied",
            "riverside",
        ),
        (
            "admin reads versions",
            Box::new(|| {
                app.get(&admin, &format!("/api/v1/clients/{maria}/versions"))
                    .status
                    .as_u16()
            }),
            200,
            "success",
            "riverside",
        ),
        (
            "conflicting write",
            Box::new(|| {
                app.put(&admin, &format!("/api/v1/clients/{maria}"), &json!({"name": "M", "status": "active", "identifiers": [{"system": "urn:demo-ehr:mrn", "value": "MRN-1002"}]})).status.as_u16()
            }),
            409,
            "failed",
            "riverside",
        ),
    ];
    let (mut riverside, mut lakeside) = (before, before_lakeside);
    for (what, run, status, outcome, trail) in &requests {
        assert_eq!(run(), *status, "{what}");
        if *trail == "riverside" {
            riverside += 1
        } else {
            lakeside += 1
        }
        let events = app.audit_for_client(&admin, &maria);
        let lake_events = app.audit_for_client(&lee_admin, &maria);
        assert_eq!(
            (events.len(), lake_events.len()),
            (riverside, lakeside),
            "{what} left exactly one event"
        );
        let newest = if *trail == "riverside" {
            &events[0]
        } else {
            &lake_events[0]
        };
        assert_eq!(newest["outcome"], *outcome, "{what}");
        assert!(
            newest["request_id"].is_string() && newest["source_ip"] == "127.0.0.1",
            "{what}"
        );
    }
    // The correction and the failed write: the record and history reflect only the first.
    let versions = app.get(&admin, &format!("/api/v1/clients/{maria}/versions"));
    assert_eq!(versions.ok(200).as_array().map(Vec::len), Some(1));
}

#[test]
fn logins_failures_and_permission_changes_are_audited() {
    let app = TestApp::spawn();
    app.login("maria@client.example");
    app.token(&[
        ("grant_type", "password"),
        ("username", "maria@client.example"),
        ("password", "wrong wrong wrong"),
    ])
    .problem(400);
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.user_id("olivia.ot@riverside.example");
    app.patch(
        &admin,
        &format!("/api/v1/users/{olivia}"),
        &json!({"display_name": "Olivia O."}),
    )
    .ok(200);
    let maria_user = app.user_id("maria@client.example");
    let logins = app.get(
        &admin,
        &format!("/api/v1/audit-events?actor_id={maria_user}&action=auth.login"),
    );
    let outcomes: Vec<&str> = logins.ok(200)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["outcome"].as_str())
        .collect();
    assert!(
        outcomes.contains(&"success") && outcomes.contains(&"failed"),
        "{outcomes:?}"
    );
    let changes = app.get(&admin, "/api/v1/audit-events?action=user.update");
    assert_eq!(
        changes.ok(200)["items"][0]["resource_id"].as_str(),
        Some(olivia.as_str())
    );
    // Non-admins cannot search the trail; there is no way to change it.
    app.get(
        &app.login("olivia.ot@riverside.example").access,
        "/api/v1/audit-events",
    )
    .problem(403);
    let event = changes.body["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.send(
        app.http
            .delete(app.url(&format!("/api/v1/audit-events/{event}")))
            .bearer_auth(&admin),
    )
    .problem(404);
}

#[test]
fn a_client_sees_who_has_viewed_or_changed_their_record() {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    app.get(&olivia, &format!("/api/v1/clients/{maria}"))
        .ok(200);
    let me = app.login("maria@client.example").access;
    let log = app.get(&me, &format!("/api/v1/clients/{maria}/access-log"));
    let entries = log.ok(200)["items"].as_array().cloned().unwrap_or_default();
    assert!(
        entries
            .iter()
            .any(|e| e["actor_name"] == "Olivia Okafor, OT"
                && e["action"] == "client.read"
                && e["actor_role"] == "therapist"),
        "{entries:?}"
    );
    // Another clinic's probe does not show up with that clinic's staff names.
    let lee = app.login(&app.second_clinic("lee@lakeside.example")).access;
    app.get(&lee, &format!("/api/v1/clients/{maria}"))
        .problem(404);
    let log = app.get(
        &me,
        &format!("/api/v1/clients/{maria}/access-log?limit=100"),
    );
    assert!(!log.ok(200)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["actor_name"] == "Lee Admin"));
}
