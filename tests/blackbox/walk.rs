//! Walking the whole API: every operation in the committed OpenAPI document, against
//! real records, so a promise is checked on every route it covers, not on an example.
//!
//! The walkers here check the promises the README makes about a client's record:
//! outside a caller's reach every operation answers 404 and changes nothing; a
//! view-only caregiver is refused (403) every change; every operation on a client's
//! record leaves exactly one audit event. `revocation.rs` walks dead tokens.

use headway_tests::{Reply, TestApp};
use serde_json::{json, Value};

use crate::goals::{content, episode};

/// Real records for every path parameter, so each request names something that exists
/// and a caller who may act on it would succeed.
pub struct World {
    pub client: String,
    pub episode: String,
    pub goal: String,
    pub measurement: String,
    pub member: String,
    pub link: String,
    pub user: String,
    /// A service account (the demo clinic's integration): its keys are registered
    /// at `/users/{user_id}/jwks`, which only a service account has.
    pub service: String,
    /// A webhook endpoint of the clinic (on an address that never answers) and one of
    /// its deliveries.
    pub webhook: String,
    pub delivery: String,
    /// A draft progress report of the episode, and a signed one (addenda are made to
    /// signed reports only).
    pub report: String,
    pub signed_report: String,
    /// A home activity serving the goal, a practice the client logged, and a question
    /// the client asked (`home.rs`).
    pub activity: String,
    pub practice: String,
    pub question: String,
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

impl World {
    /// An episode with a goal and a measurement for the named demo client, recorded by
    /// `therapist` (on their care team), and a caregiver link (made if there is none).
    pub fn around(app: &TestApp, client_name: &str, therapist: &str) -> World {
        let clinician = app.login(therapist).access;
        let admin = app.login("admin@riverside.example").access;
        let client = app.client_id(client_name);
        let episode = episode(app, &clinician, &client);
        let hook = json!({"url": "https://receiver.example/hooks", "types": ["goal.proposed"]});
        let webhook = id(&app.post(&admin, "/api/v1/webhooks", &hook).ok(201)["webhook"]);
        let goal = id(app
            .post(
                &clinician,
                &format!("/api/v1/clients/{client}/episodes/{episode}/goals"),
                &json!({"content": content("Cook dinner for my kids")}),
            )
            .ok(201));
        let measurement = id(app
            .post(
                &clinician,
                &format!("/api/v1/clients/{client}/episodes/{episode}/measurements"),
                &json!({"goal_id": goal, "measure_code": "nrs", "values": {"value": 3}}),
            )
            .ok(201));
        let (activity, practice, question) =
            crate::home::records(app, &clinician, &client, &episode, &goal);
        let first = |path: &str| {
            app.get(&admin, path)
                .ok(200)
                .as_array()
                .and_then(|items| items.first())
                .map(id)
        };
        let member = first(&format!("/api/v1/clients/{client}/care-team"))
            .unwrap_or_else(|| panic!("{client_name} has no care team"));
        let caregivers = format!("/api/v1/clients/{client}/caregivers");
        let link = first(&caregivers).unwrap_or_else(|| {
            let body = json!({"email": "kin@family.example", "name": "Kin", "permission": "view"});
            id(&app.post(&admin, &caregivers, &body).ok(201)["link"])
        });
        let deliveries = format!("/api/v1/webhooks/{webhook}/deliveries");
        let delivery = crate::webhooks::until("a webhook delivery", || {
            let r = app.get(&admin, &deliveries);
            r.ok(200)["items"].get(0).map(id)
        });
        let today = chrono::Utc::now().date_naive().to_string();
        let reports = format!("/api/v1/clients/{client}/episodes/{episode}/reports");
        let period = json!({"period_start": today, "period_end": today});
        let report = id(app.post(&clinician, &reports, &period).ok(201));
        let signed_report = id(app.post(&clinician, &reports, &period).ok(201));
        let signature = format!("/api/v1/clients/{client}/reports/{signed_report}/signature");
        app.post(&clinician, &signature, &json!({})).ok(200);
        World {
            report,
            signed_report,
            webhook,
            delivery,
            client,
            episode,
            goal,
            measurement,
            member,
            link,
            user: app.user_id(therapist),
            service: app.service_client_id.clone(),
            activity,
            practice,
            question,
        }
    }

    pub fn concrete(&self, path: &str) -> String {
        let report = if path.ends_with("/addenda") {
            &self.signed_report
        } else {
            &self.report
        };
        let user = if path.ends_with("/jwks") {
            &self.service
        } else {
            &self.user
        };
        path.replace("{client_id}", &self.client)
            .replace("{episode_id}", &self.episode)
            .replace("{goal_id}", &self.goal)
            .replace("{measurement_id}", &self.measurement)
            .replace("{member_id}", &self.member)
            .replace("{link_id}", &self.link)
            .replace("{user_id}", user)
            .replace("{code}", "copm")
            .replace("{webhook_id}", &self.webhook)
            .replace("{delivery_id}", &self.delivery)
            .replace("{version_id}", "1")
            .replace("{report_id}", report)
            .replace("{activity_id}", &self.activity)
            .replace("{practice_id}", &self.practice)
            .replace("{question_id}", &self.question)
    }

    /// A body that a caller with the right to do it would have had accepted.
    pub fn body(&self, method: &str, path: &str) -> Option<Value> {
        let body = match (method, path.rsplit('/').next().unwrap_or_default()) {
            ("post", "clients") => json!({"name": "Ana Silva"}),
            ("post", "activities") => json!({
                "goal_id": self.goal, "prescription": crate::home::prescription(5)
            }),
            ("post", "revisions") if path.contains("/activities/") => crate::home::prescription(3),
            ("patch", "{activity_id}") => json!({"status": "stopped", "reason": "Goal met"}),
            ("post", "practice") => json!({"outcome": "done", "effort": 4}),
            ("post", "corrections") if path.contains("/practice/") => {
                json!({"reason": "Wrong day", "practice": {"outcome": "skipped"}})
            }
            ("post", "check-ins") => json!({"mood": 6, "pain": 2}),
            ("post", "questions") => json!({"body": "May I do the exercises twice a day?"}),
            ("patch", "{question_id}") => json!({"answer": "Yes, gently"}),
            ("post", "notes") => json!({"body": "Check her shoulder next time"}),
            ("patch", "{client_id}") => json!({"preferred_name": "Mari"}),
            ("patch", "{goal_id}") => json!({"client_words": "Walk to the park"}),
            ("put", "{client_id}") => {
                json!({"name": "Maria Lopez", "status": "active", "identifiers": []})
            }
            ("put", "primary-source") => json!({"source": "client"}),
            ("post", "care-team") => {
                json!({"therapist_id": self.user, "team_role": "consulting"})
            }
            ("post", "caregivers") => json!({"email": "kin2@family.example", "name": "Kin"}),
            ("patch", "{link_id}") => json!({"permission": "contribute"}),
            ("post", "episodes") => json!({"reason_for_referral": "Hip fracture"}),
            ("patch", "{episode_id}") => json!({"status": "finished"}),
            ("post", "goals") => json!({"content": content("Walk")}),
            ("post", "revisions") => content("Walk to the shop"),
            ("post", "measurements") => json!({
                "goal_id": self.goal, "measure_code": "nrs", "values": {"value": 5}
            }),
            ("post", "comments") => json!({"body": "Well done"}),
            ("post", "status") => json!({"status": "on-hold"}),
            ("post", "invitation") => json!({"email": "new.login@client.example"}),
            ("post", "corrections") => json!({"reason": "Misread", "values": {"value": 4}}),
            ("post", "measures") => json!({
                "code": "steps", "name": "Steps", "min": 0, "max": 10, "step": 1,
                "direction": "higher-is-better", "meaningful_change": 2,
                "reporters": ["therapist"]
            }),
            ("post", "users") => json!({
                "role": "therapist", "display_name": "Tess", "email": "tess@riverside.example",
                "discipline": "occupational-therapy"
            }),
            ("patch", "{user_id}") => json!({"display_name": "Olivia O."}),
            // An empty set: valid, and lets no assertion in.
            ("put", "jwks") => json!({"keys": []}),
            ("post", "webhooks") => json!({"url": "https://other.example/hooks"}),
            ("patch", "{webhook_id}") => json!({"description": "Billing system"}),
            ("post", "reports") => {
                let today = chrono::Utc::now().date_naive().to_string();
                json!({"period_start": today, "period_end": today})
            }
            ("put", "{report_id}") => json!({"assessment": "Improving", "plan": "Continue"}),
            ("post", "addenda") => json!({"body": "Corrected the plan"}),
            ("post", _) | ("put", _) | ("patch", _) => json!({}),
            _ => return None,
        };
        Some(body)
    }

    /// Calls one operation on this world's records as `token`.
    pub fn call(&self, app: &TestApp, token: &str, method: &str, path: &str) -> Reply {
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
            .unwrap_or(reqwest::Method::GET);
        let mut req = app
            .http
            .request(m, app.url(&self.concrete(path)))
            .bearer_auth(token);
        // Updates need If-Match (`conditional.rs` walks that); `*` is any version,
        // so what is walked here is who may do what.
        if method != "get" {
            req = req.header("If-Match", "*");
        }
        if let Some(body) = self.body(method, path) {
            req = if method == "patch" && headway_tests::merge_patched(path) {
                req.header("content-type", "application/merge-patch+json")
                    .body(body.to_string())
            } else {
                req.json(&body)
            };
        }
        app.send(req)
    }

    /// What the given viewers see through every GET that shows clinical or account
    /// data (audit views excepted: they record the attempts themselves).
    pub fn what_users_see(&self, app: &TestApp, viewers: &[&str]) -> Vec<String> {
        let mut seen = Vec::new();
        for (method, path) in secured_operations() {
            // Webhook deliveries move on by themselves (retries): not a user's view.
            let moving = path.contains("/webhooks");
            let audit = path.contains("audit") || path.contains("AuditEvent");
            if method != "get" || audit || path.contains("access-log") || moving {
                continue;
            }
            for viewer in viewers {
                let r = app.get(viewer, &self.concrete(&path));
                seen.push(format!("{path} {} {}", r.status, r.text));
            }
        }
        seen
    }
}

/// A fresh server, a world around one client (Olivia on their care team), and the
/// admin's and Olivia's tokens: the viewers whose view must not change.
fn scene(client: &str) -> (TestApp, World, String, String) {
    let app = TestApp::spawn();
    let world = World::around(&app, client, "olivia.ot@riverside.example");
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    (app, world, admin, olivia)
}

/// Every secured operation in the committed OpenAPI document: (method, path template).
pub fn secured_operations() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().cloned().unwrap_or_default() {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            if op["security"].as_array().is_some_and(|s| !s.is_empty()) {
                ops.push((method, path.clone()));
            }
        }
    }
    assert!(
        ops.len() >= 40,
        "the document lists {} operations",
        ops.len()
    );
    ops
}

/// Asserts a refusal with this status (a problem, or an OperationOutcome under
/// `/fhir/`), saying who called what when it is not.
#[track_caller]
pub fn answers(r: &Reply, status: u16, who: &str, method: &str, path: &str) {
    assert_eq!(
        r.status.as_u16(),
        status,
        "{who}: {method} {path} answered {}: {}",
        r.status,
        r.text
    );
    r.refusal(status);
}

/// A fresh service account with these scopes (space-separated): its client id and secret.
pub fn service_account(app: &TestApp, admin: &str, scopes: &str) -> (String, String) {
    let r = app.post(
        admin,
        "/api/v1/users",
        &json!({"role": "service", "display_name": "EHR bridge", "scopes": scopes}),
    );
    let credentials = &r.ok(201)["credentials"];
    let text = |k: &str| credentials[k].as_str().unwrap_or_default().to_owned();
    (text("client_id"), text("client_secret"))
}

/// A token for a service account, with every scope it holds.
pub fn service_token(app: &TestApp, client_id: &str, secret: &str) -> String {
    let r = app.token(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
    ]);
    r.ok(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The operations on one client's record: their path names the client, or, at the
/// FHIR door, a record of theirs by its id alone (a goal, a measurement, a caregiver
/// link, an episode).
fn client_operations() -> Vec<(String, String)> {
    let by_id = ["{goal_id}", "{measurement_id}", "{link_id}", "{episode_id}"];
    let ops: Vec<_> = secured_operations()
        .into_iter()
        .filter(|(_, path)| {
            path.contains("{client_id}")
                || (path.starts_with("/fhir/") && by_id.iter().any(|p| path.contains(p)))
        })
        .collect();
    assert!(ops.len() >= 30, "{} client operations", ops.len());
    ops
}

#[test]
fn outside_their_reach_every_operation_on_a_client_answers_404_and_changes_nothing() {
    // Sam's care team is Olivia alone; each of these callers is outside it.
    let (app, world, admin, olivia) = scene("Samuel Osei");
    let lakeside = app.login(&app.second_clinic("lee@lakeside.example")).access;
    // An integration that may write but read neither demographics nor clinical data.
    let (id, secret) = service_account(&app, &admin, "clients:write clinical:write");
    let writer = service_token(&app, &id, &secret);
    let outsiders = [
        (
            "therapist off the care team",
            app.login("peter.pt@riverside.example").access,
        ),
        ("another client", app.login("maria@client.example").access),
        (
            "another client's caregiver",
            app.login("lucia@family.example").access,
        ),
        ("another clinic's admin", lakeside),
        ("integration without read scopes", writer),
    ];
    // The same operations on a made-up client, for comparison.
    let made_up = World {
        client: uuid::Uuid::now_v7().to_string(),
        goal: uuid::Uuid::now_v7().to_string(),
        measurement: uuid::Uuid::now_v7().to_string(),
        link: uuid::Uuid::now_v7().to_string(),
        episode: uuid::Uuid::now_v7().to_string(),
        ..World::around(&app, "Samuel Osei", "olivia.ot@riverside.example")
    };
    let before = world.what_users_see(&app, &[&admin, &olivia]);
    for (who, token) in &outsiders {
        for (method, path) in client_operations() {
            let r = world.call(&app, token, &method, &path);
            let absent = made_up.call(&app, token, &method, &path);
            answers(&r, 404, who, &method, &path);
            assert_eq!(
                r.body["detail"], absent.body["detail"],
                "{who}: {method} {path} tells a real record from a made-up one"
            );
            assert_eq!(
                r.body["issue"], absent.body["issue"],
                "{who}: {method} {path} tells a real record from a made-up one"
            );
        }
    }
    assert_eq!(
        before,
        world.what_users_see(&app, &[&admin, &olivia]),
        "an outsider changed what users see"
    );
}

#[test]
fn a_view_only_caregiver_is_refused_every_change_and_changes_nothing() {
    let (app, world, admin, olivia) = scene("Maria Lopez");
    let lucia = app.login("lucia@family.example").access; // views Maria's progress
    app.get(&lucia, &format!("/api/v1/clients/{}", world.client))
        .ok(200);
    refused_every_change(
        &app,
        &world,
        [&admin, &olivia],
        &lucia,
        "view-only caregiver",
    );
}

/// `token` may see the record but change nothing on it: every change to a client's
/// record in the OpenAPI document answers 403, and what users see stays the same.
fn refused_every_change(app: &TestApp, world: &World, watchers: [&str; 2], token: &str, who: &str) {
    let before = world.what_users_see(app, &watchers);
    for (method, path) in client_operations() {
        if method == "get" {
            continue;
        }
        let r = world.call(app, token, &method, &path);
        answers(&r, 403, who, &method, &path);
    }
    assert_eq!(
        before,
        world.what_users_see(app, &watchers),
        "a refused change changed what users see"
    );
}

#[test]
fn an_integration_that_may_only_read_is_refused_every_change_and_changes_nothing() {
    let (app, world, admin, olivia) = scene("Maria Lopez");
    let (id, secret) = service_account(&app, &admin, "clients:read clinical:read audit:read");
    let reader = service_token(&app, &id, &secret);
    app.get(&reader, &format!("/api/v1/clients/{}", world.client))
        .ok(200);
    // The record is within its reach (it may read every area), so each change is
    // refused as not its to make, never hidden.
    refused_every_change(
        &app,
        &world,
        [&admin, &olivia],
        &reader,
        "read-only integration",
    );
}

#[test]
fn every_operation_on_a_client_leaves_exactly_one_audit_event() {
    let (app, world, admin, olivia) = scene("Maria Lopez");
    // Reads first, then changes, removals last, so each names a record that exists.
    let mut ops = client_operations();
    ops.sort_by_key(|(method, _)| match method.as_str() {
        "get" => 0,
        "delete" => 2,
        _ => 1,
    });
    for (method, path) in ops {
        let before = app.audit_for_client(&admin, &world.client).len();
        let r = world.call(&app, &olivia, &method, &path);
        assert!(
            r.status.as_u16() < 500 && r.status.as_u16() != 401,
            "{method} {path}: {}",
            r.text
        );
        let after = app.audit_for_client(&admin, &world.client);
        assert_eq!(
            after.len(),
            before + 1,
            "{method} {path} ({}) left {} audit events",
            r.status,
            after.len() - before
        );
        let outcome = after[0]["outcome"].as_str().unwrap_or_default();
        let expected = match r.status.as_u16() {
            200..=299 => "success",
            403 => "denied",
            404 => "not-found",
            _ => "failed",
        };
        assert_eq!(outcome, expected, "{method} {path} ({})", r.status);
    }
}

/// Operations that take a JSON body.
fn json_body_operations() -> Vec<(String, String)> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let doc: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().cloned().unwrap_or_default() {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            if op["requestBody"]["content"]["application/json"].is_object() {
                ops.push((method, path.clone()));
            }
        }
    }
    assert!(ops.len() >= 15, "{} operations take JSON", ops.len());
    ops
}

#[test]
fn bad_bodies_on_every_operation_get_problems_naming_the_field_and_change_nothing() {
    let (app, world, admin, olivia) = scene("Maria Lopez");
    let before = world.what_users_see(&app, &[&admin, &olivia]);
    let send = |token: &str, method: &str, path: &str, body: String| {
        let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
            .unwrap_or(reqwest::Method::POST);
        app.send(
            app.http
                .request(m, app.url(&world.concrete(path)))
                .bearer_auth(token)
                .header("If-Match", "*")
                .header("content-type", "application/json")
                .body(body),
        )
    };
    for (method, path) in json_body_operations() {
        // Admins manage accounts and measures; the therapist documents care.
        let token =
            if path.contains("/users") || path.ends_with("/measures") || path.contains("/webhooks")
            {
                &admin
            } else {
                &olivia
            };
        let what = format!("{method} {path}");
        let valid = world.body(&method, &path).unwrap_or_else(|| json!({}));

        let r = send(token, &method, &path, "{,}".to_owned());
        r.problem(400);
        assert_eq!(r.fields(), vec!["body"], "{what}: {}", r.text);

        let mut sneaky = valid.clone();
        if let Some(o) = sneaky.as_object_mut() {
            o.insert("organization_id".into(), json!("x"));
        }
        let r = send(token, &method, &path, sneaky.to_string());
        r.problem(400);
        assert_eq!(r.fields(), vec!["organization_id"], "{what}: {}", r.text);

        let r = send(token, &method, &path, "[1, 2, 3]".to_owned());
        assert!(
            matches!(r.status.as_u16(), 400 | 422),
            "{what}: an array body answered {}",
            r.status
        );
        r.problem(r.status.as_u16());

        let huge = format!(r#"{{"x": "{}"}}"#, "a".repeat(300_000));
        send(token, &method, &path, huge).problem(413);

        let r = app.send(
            app.http
                .request(
                    reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                        .unwrap_or(reqwest::Method::POST),
                    app.url(&world.concrete(&path)),
                )
                .bearer_auth(token)
                .header("If-Match", "*")
                .header("content-type", "text/plain")
                .body(valid.to_string()),
        );
        r.problem(415);
    }
    assert_eq!(
        before,
        world.what_users_see(&app, &[&admin, &olivia]),
        "bad input changed what users see"
    );
}

#[test]
fn every_read_that_shows_a_client_leaves_an_event_in_their_access_log() {
    // Whatever a GET answers (a record, a list, a directory), if it shows Maria's name
    // or her login, her access log gains an event: walked over every secured GET in
    // the OpenAPI document, as the admin and as her therapist.
    let (app, world, admin, olivia) = scene("Maria Lopez");
    let maria_login = app.user_id("maria@client.example");
    let shows_her =
        |text: &str| text.contains("Maria Lopez") || text.contains("maria@client.example");
    let mut showing = 0;
    for (method, path) in secured_operations() {
        if method != "get" {
            continue;
        }
        // A directory entry shows her when it is her own login.
        let path = path.replace("{user_id}", &maria_login);
        for token in [&admin, &olivia] {
            let before = app.audit_for_client(&admin, &world.client).len();
            let r = world.call(&app, token, &method, &path);
            if !r.status.is_success() || !shows_her(&r.text) {
                continue;
            }
            showing += 1;
            let after = app.audit_for_client(&admin, &world.client).len();
            assert!(
                after > before,
                "GET {path} showed Maria's record and left nothing in her access log"
            );
        }
    }
    // The client list, the directory and her own record at least.
    assert!(showing >= 6, "only {showing} reads showed her");
}
