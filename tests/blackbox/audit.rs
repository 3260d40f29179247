//! Every read or write of a client's data leaves exactly one audit event, and the
//! trail's hash chain shows any later change to it.

use std::thread;

use diesel::{connection::SimpleConnection, ExpressionMethods, QueryDsl, RunQueryDsl};
use headway_tests::{TestApp, SECRET};
use persistence::{
    audit::{verify_chain, ChainBreak, ChainProblem, VerifyReport, NO_ORGANIZATION},
    schema::audit_events,
};
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
    // The ETag an app holds, read before counting; a success names the next one.
    let held = std::cell::RefCell::new(app.etag_of(&admin, &format!("/api/v1/clients/{maria}")));
    let put = |token: &str, body: &serde_json::Value| {
        let path = format!("/api/v1/clients/{maria}");
        let tag = held.borrow().clone();
        let r = app.update_at(reqwest::Method::PUT, token, &path, &tag, body);
        if let (true, Some(next)) = (r.status.is_success(), r.header("etag")) {
            *held.borrow_mut() = next.to_owned();
        }
        r.status.as_u16()
    };
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
            Box::new(|| put(&olivia, &update)),
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
            Box::new(|| put(&lucia, &update)),
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
            Box::new(|| put(&service, &update)),
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
                put(
                    &admin,
                    &json!({"name": "M", "status": "active", "identifiers": [{"system": "urn:demo-ehr:mrn", "value": "MRN-1002"}]}),
                )
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

/// Another instance of the server on the test's database (as behind a load balancer).
fn second_instance(app: &TestApp) -> (String, actix_web::dev::ServerHandle) {
    let mut config = api::Config::for_database(&app.db.url, SECRET);
    config.db_pool_size = 4;
    let state = api::prepare(config, false).unwrap_or_else(|e| panic!("prepare: {e}"));
    let (addr, handle) = headway_tests::serve_on_thread(state);
    (format!("http://{addr}"), handle)
}

fn verify(app: &TestApp) -> VerifyReport {
    let mut conn = app.pool.get().unwrap_or_else(|e| panic!("{e}"));
    verify_chain(&mut conn).unwrap_or_else(|e| panic!("verify: {e}"))
}

/// Events checked in a chain (0 if it has none yet).
fn checked(report: &VerifyReport, chain: &str) -> u64 {
    report.chain(chain).map_or(0, |c| c.events_checked)
}

/// The organization (chain) and place in it of an event, read from the database.
fn place_of(app: &TestApp, event_id: &str) -> (String, i64) {
    let mut conn = app.pool.get().unwrap_or_else(|e| panic!("{e}"));
    let (org, seq): (Option<String>, Option<i64>) = audit_events::table
        .find(event_id)
        .select((audit_events::organization_id, audit_events::chain_seq))
        .first(&mut *conn)
        .unwrap_or_else(|e| panic!("{e}"));
    (
        org.unwrap_or_else(|| NO_ORGANIZATION.into()),
        seq.unwrap_or_else(|| panic!("event {event_id} has no place in a chain")),
    )
}

/// The id of the event at a place in a chain.
fn event_at(app: &TestApp, org: &str, seq: i64) -> String {
    let mut conn = app.pool.get().unwrap_or_else(|e| panic!("{e}"));
    audit_events::table
        .filter(audit_events::organization_id.eq(org))
        .filter(audit_events::chain_seq.eq(seq))
        .select(audit_events::id)
        .first(&mut *conn)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// What someone with database access might do: switch off the append-only guard,
/// then change the trail.
fn tamper(app: &TestApp, sql: &str) {
    let unguard = if app.db.is_postgres() {
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;"
    } else {
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;"
    };
    let mut conn = app.pool.get().unwrap_or_else(|e| panic!("{e}"));
    conn.batch_execute(&format!("{unguard} {sql}"))
        .unwrap_or_else(|e| panic!("tamper: {e}"));
}

/// Some ordinary traffic: a therapist reads and opens an episode; returns the id of
/// the therapist's read of Maria's record, as the admin sees it in the trail.
fn some_traffic(app: &TestApp) -> String {
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let admin = app.login("admin@riverside.example").access;
    app.get(&olivia, &format!("/api/v1/clients/{maria}"))
        .ok(200);
    let read = app.audit_for_client(&admin, &maria)[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    super::goals::episode(app, &olivia, &maria);
    app.get(&olivia, &format!("/api/v1/clients/{maria}/care-team"))
        .ok(200);
    read
}

#[test]
fn the_hash_chain_holds_under_concurrent_traffic_through_two_instances() {
    let app = TestApp::spawn();
    let (other_base, other) = second_instance(&app);
    let maria = app.client_id("Maria Lopez");
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let lucia = app.login("lucia@family.example").access;
    let sam = app.login("sam@client.example").access;
    let service = app.service_token("clients:read");
    let lee = app.login(&app.second_clinic("lee@lakeside.example")).access;
    let me: serde_json::Value = app.get(&admin, "/api/v1/me").ok(200).clone();
    let riverside = me["organization"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no organization in {me}"))
        .to_owned();
    let lee_me = app.get(&lee, "/api/v1/me").ok(200).clone();
    let lakeside = lee_me["organization"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let before = verify(&app);
    assert!(before.is_intact(), "{before:?}");

    // Six workers, three per instance, at once: reads and writes as several roles,
    // refusals, another clinic's probes and failed sign-ins for unknown logins.
    const ROUNDS: usize = 4;
    let bases = [app.base.clone(), other_base];
    let episode = json!({"reason_for_referral": "Falls at home"});
    let (maria_path, care_team) = (
        format!("/api/v1/clients/{maria}"),
        format!("/api/v1/clients/{maria}/care-team"),
    );
    let episodes = format!("{maria_path}/episodes");
    thread::scope(|s| {
        for worker in 0..6 {
            let base = &bases[worker % 2];
            let (app, episode) = (&app, &episode);
            let (olivia, lucia, sam, service, admin, lee) =
                (&olivia, &lucia, &sam, &service, &admin, &lee);
            let (maria_path, care_team, episodes) = (&maria_path, &care_team, &episodes);
            s.spawn(move || {
                let get = |token: &str, path: &str| {
                    app.send(app.http.get(format!("{base}{path}")).bearer_auth(token))
                        .status
                        .as_u16()
                };
                for round in 0..ROUNDS {
                    assert_eq!(get(olivia, maria_path), 200);
                    assert_eq!(get(lucia, care_team), 200);
                    assert_eq!(get(service, maria_path), 200);
                    assert_eq!(get(sam, maria_path), 404);
                    assert_eq!(get(lee, maria_path), 404);
                    let created = app.send(
                        app.http
                            .post(format!("{base}{episodes}"))
                            .bearer_auth(olivia)
                            .json(episode),
                    );
                    assert_eq!(created.status.as_u16(), 201, "{}", created.text);
                    let refused = app.send(
                        app.http
                            .post(format!("{base}{episodes}"))
                            .bearer_auth(lucia)
                            .json(episode),
                    );
                    assert_eq!(refused.status.as_u16(), 403, "{}", refused.text);
                    assert_eq!(get(admin, &format!("{maria_path}/versions")), 200);
                    let failed =
                        app.send(app.http.post(format!("{base}/api/v1/auth/token")).form(&[
                            ("grant_type", "password"),
                            (
                                "username",
                                &format!("nobody-{worker}-{round}@nowhere.example"),
                            ),
                            ("password", "not a password at all"),
                        ]));
                    assert_eq!(failed.status.as_u16(), 400, "{}", failed.text);
                }
            });
        }
    });
    drop(other.stop(false));

    let after = verify(&app);
    assert!(after.is_intact(), "{after:?}");
    // Each audited request left exactly one event, each in its own organization's chain.
    let workers_rounds = (6 * ROUNDS) as u64;
    assert_eq!(
        checked(&after, &riverside) - checked(&before, &riverside),
        7 * workers_rounds
    );
    assert_eq!(
        checked(&after, &lakeside) - checked(&before, &lakeside),
        workers_rounds
    );
    assert_eq!(
        checked(&after, NO_ORGANIZATION) - checked(&before, NO_ORGANIZATION),
        workers_rounds
    );
    // Every event in the database was checked: none stands outside a chain.
    let mut conn = app.pool.get().unwrap_or_else(|e| panic!("{e}"));
    let stored: i64 = audit_events::table
        .count()
        .get_result(&mut *conn)
        .unwrap_or_else(|e| panic!("{e}"));
    let total: u64 = after.chains.iter().map(|c| c.events_checked).sum();
    assert_eq!(total, stored as u64);
    assert!(after.chains.iter().all(|c| c.events_before_chain == 0));
}

#[test]
fn a_changed_audit_event_is_named_by_verification() {
    let app = TestApp::spawn();
    let read = some_traffic(&app);
    assert!(verify(&app).is_intact());
    let (org, seq) = place_of(&app, &read);
    // Someone hides that the therapist looked at the record.
    tamper(
        &app,
        &format!("UPDATE audit_events SET actor_id = NULL WHERE id = '{read}'"),
    );
    let report = verify(&app);
    assert!(!report.is_intact());
    let chain = report
        .chain(&org)
        .unwrap_or_else(|| panic!("no chain {org}"));
    assert_eq!(
        chain.broken,
        Some(ChainBreak {
            event_id: Some(read),
            problem: ChainProblem::HashMismatch { seq }
        })
    );
    assert_eq!(chain.events_checked, (seq - 1) as u64);
}

#[test]
fn a_removed_audit_event_is_named_by_verification() {
    let app = TestApp::spawn();
    let read = some_traffic(&app);
    let (org, seq) = place_of(&app, &read);
    let next = event_at(&app, &org, seq + 1);
    tamper(
        &app,
        &format!("DELETE FROM audit_events WHERE id = '{read}'"),
    );
    let report = verify(&app);
    assert_eq!(
        report.chain(&org).and_then(|c| c.broken.clone()),
        Some(ChainBreak {
            event_id: Some(next),
            problem: ChainProblem::SequenceGap {
                expected: seq,
                found: seq + 1
            }
        })
    );
}

#[test]
fn swapped_audit_events_are_named_by_verification() {
    let app = TestApp::spawn();
    let read = some_traffic(&app);
    let (org, seq) = place_of(&app, &read);
    let next = event_at(&app, &org, seq + 1);
    // The two trade places in the order.
    tamper(
        &app,
        &format!(
            "UPDATE audit_events SET chain_seq = -1 WHERE id = '{read}';
             UPDATE audit_events SET chain_seq = {seq} WHERE id = '{next}';
             UPDATE audit_events SET chain_seq = {} WHERE id = '{read}';",
            seq + 1
        ),
    );
    let report = verify(&app);
    assert_eq!(
        report.chain(&org).and_then(|c| c.broken.clone()),
        Some(ChainBreak {
            event_id: Some(next),
            problem: ChainProblem::HashMismatch { seq }
        })
    );
}
