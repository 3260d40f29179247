//! Bad input gets a 4xx problem naming the field, never a 500, and changes nothing.

use headway_tests::TestApp;
use serde_json::{json, Value};

fn client_count(app: &TestApp, token: &str) -> usize {
    app.get(token, "/api/v1/clients?limit=100").ok(200)["items"]
        .as_array()
        .map_or(0, Vec::len)
}

#[test]
fn bad_bodies_are_refused_and_change_nothing() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let before = client_count(&app, &admin);
    let raw = |body: &str, content_type: &str| {
        app.send(
            app.http
                .post(app.url("/api/v1/clients"))
                .bearer_auth(&admin)
                .header("content-type", content_type)
                .body(body.to_owned()),
        )
    };
    let malformed = raw(r#"{"name": "Ana""#, "application/json");
    assert_eq!(
        malformed.problem(400)["type"],
        "urn:headway:problem:malformed-request"
    );
    assert_eq!(malformed.fields(), vec!["body"]);
    let wrong_type = raw(r#"{"name": ["Ana"]}"#, "application/json");
    wrong_type.problem(400);
    assert_eq!(wrong_type.fields(), vec!["name"]);
    let nested = raw(
        r#"{"name": "Ana", "identifiers": [{"system": "s", "value": 7}]}"#,
        "application/json",
    );
    nested.problem(400);
    assert_eq!(nested.fields(), vec!["identifiers[0].value"]);
    assert_eq!(nested.body["errors"][0]["pointer"], "#/identifiers/0/value");
    for field in ["organization_id", "id", "version", "created_at", "status"] {
        let r = app.post(
            &admin,
            "/api/v1/clients",
            &json!({"name": "Ana", field: "x"}),
        );
        r.problem(400);
        assert_eq!(r.fields(), vec![field.to_owned()], "{field}");
    }
    raw(r#"{"name": "Ana"}"#, "text/plain").problem(415);
    let huge = format!(r#"{{"name": "{}"}}"#, "a".repeat(300_000));
    raw(&huge, "application/json").problem(413);
    let r = app.post(&admin, "/api/v1/clients", &json!({"name": " ", "email": "nope", "date_of_birth": "2999-01-01", "identifiers": [{"system": "", "value": "1"}]}));
    r.problem(422);
    // Every broken rule, in one answer.
    let mut fields = r.fields();
    fields.sort();
    assert_eq!(
        fields,
        vec!["date_of_birth", "email", "identifiers[0].system", "name"]
    );
    let bad_date = app.post(
        &admin,
        "/api/v1/clients",
        &json!({"name": "Ana", "date_of_birth": "31/12/1990"}),
    );
    bad_date.problem(400);
    assert_eq!(bad_date.fields(), vec!["date_of_birth"]);
    assert_eq!(client_count(&app, &admin), before, "nothing was created");
}

#[test]
fn a_refused_update_leaves_the_record_as_it_was() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let sam = app.client_id("Samuel Osei");
    let before = app
        .get(&admin, &format!("/api/v1/clients/{maria}"))
        .body
        .clone();
    // Taking Sam's identifier is a conflict; nothing of the update applies.
    let r = app.put(
        &admin,
        &format!("/api/v1/clients/{maria}"),
        &json!({"name": "Maria L.", "status": "active", "identifiers": [{"system": "urn:demo-ehr:mrn", "value": "MRN-1002"}]}),
    );
    r.problem(409);
    let r = app.put(
        &admin,
        &format!("/api/v1/clients/{maria}"),
        &json!({"name": "Maria L.", "status": "gone"}),
    );
    assert_eq!(r.problem(422).clone()["errors"][0]["field"], "status");
    let after = app
        .get(&admin, &format!("/api/v1/clients/{maria}"))
        .body
        .clone();
    assert_eq!(before, after);
    assert_eq!(
        app.get(&admin, &format!("/api/v1/clients/{sam}")).ok(200)["identifiers"][0]["value"],
        "MRN-1002"
    );
}

#[test]
fn bad_queries_paths_and_routes_get_problems() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    for (path, field) in [
        ("/api/v1/clients?limit=100000", "limit"),
        ("/api/v1/clients?limit=0", "limit"),
        ("/api/v1/clients?limit=-5", "limit"),
        ("/api/v1/clients?limit=abc", "limit"),
        ("/api/v1/clients?after=not-a-uuid", "after"),
        ("/api/v1/clients?status=sleeping", "status"),
        ("/api/v1/clients?colour=blue", "query"),
        ("/api/v1/audit-events?from=yesterday", "from"),
    ] {
        let r = app.get(&admin, path);
        r.problem(400);
        let fields = r.fields();
        assert!(
            fields.iter().any(|f| f == field || f.contains(field))
                || r.body["detail"]
                    .as_str()
                    .is_some_and(|d| d.contains("colour")),
            "{path}: {fields:?} {}",
            r.text
        );
    }
    let r = app.get(&admin, "/api/v1/clients/12345");
    r.problem(400);
    assert_eq!(r.fields(), vec!["path"]);
    app.get(&admin, "/api/v1/nothing-here").problem(404);
    let r = app.send(
        app.http
            .delete(app.url("/api/v1/clients"))
            .bearer_auth(&admin),
    );
    r.problem(405);
    assert_eq!(r.header("allow"), Some("GET, POST"));
    // Unknown but well-formed ids are 404, like records outside one's reach.
    app.get(
        &admin,
        "/api/v1/clients/01890a5d-ac96-774b-bcce-b302099a8057",
    )
    .problem(404);
}

#[test]
fn pagination_is_stable_and_bounded() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    for i in 0..7 {
        app.post(
            &admin,
            "/api/v1/clients",
            &json!({"name": format!("Client {i}")}),
        )
        .ok(201);
    }
    let mut seen = Vec::new();
    let mut after = String::new();
    let mut pages = 0;
    loop {
        let r = app.get(&admin, &format!("/api/v1/clients?limit=4{after}"));
        let body = r.ok(200).clone();
        let items = body["items"].as_array().cloned().unwrap_or_default();
        assert!(items.len() <= 4);
        seen.extend(
            items
                .iter()
                .filter_map(|c| c["id"].as_str().map(str::to_owned)),
        );
        pages += 1;
        match body["next_cursor"].as_str() {
            Some(c) => after = format!("&after={c}"),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 10);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(
        sorted, seen,
        "ids come in one stable order, without repeats"
    );
}

#[test]
fn responses_carry_request_ids_and_no_store() {
    let app = TestApp::spawn();
    let r = app.send(
        app.http
            .get(app.url("/healthz"))
            .header("x-request-id", "abc-123"),
    );
    assert_eq!(r.ok(200)["status"], "ok");
    assert_eq!(r.header("x-request-id"), Some("abc-123"));
    let r = app.send(app.http.get(app.url("/readyz")));
    r.ok(200);
    let generated = r.header("x-request-id").unwrap_or_default().to_owned();
    assert_eq!(
        uuid::Uuid::parse_str(&generated)
            .map(|u| u.get_version_num())
            .ok(),
        Some(7)
    );
    let admin = app.login("admin@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let r = app.get(&admin, &format!("/api/v1/clients/{maria}"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    // A hostile request id is replaced, not echoed.
    let r = app.send(
        app.http
            .get(app.url("/healthz"))
            .header("x-request-id", "bad id\twith spaces"),
    );
    assert_ne!(r.header("x-request-id"), Some("bad id\twith spaces"));
}

#[test]
fn an_integral_number_is_an_integer_and_a_fraction_is_not() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let ep = crate::goals::episode(&app, &olivia, &maria);
    let goals = format!("/api/v1/clients/{maria}/episodes/{ep}/goals");
    let mut content = crate::goals::content("Walk to the shop");
    // JSON Schema counts 9.0 as an integer, so a conformant client may send it.
    content["importance"] = json!(9.0);
    content["gas"] = json!({"levels": ["a", "b", "c", "d", "e"], "baseline": -1.0});
    let r = app.post(&olivia, &goals, &json!({ "content": content }));
    assert_eq!(r.ok(201)["importance"], 9);
    assert_eq!(r.body["gas"]["baseline"], -1);
    content["importance"] = json!(9.5);
    let r = app.post(&olivia, &goals, &json!({ "content": content }));
    r.problem(400);
    assert_eq!(r.fields(), vec!["content.importance"]);
}

#[test]
fn blank_text_is_refused_not_stored_empty() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let r = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes"),
        &json!({"reason_for_referral": "   "}),
    );
    r.problem(422);
    assert_eq!(r.fields(), vec!["reason_for_referral"]);
    let ep = crate::goals::episode(&app, &olivia, &maria);
    let goal = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
        &json!({"content": crate::goals::content("Garden again")}),
    );
    let goal = goal.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    let comments = format!("/api/v1/clients/{maria}/goals/{goal}/comments");
    let r = app.post(&olivia, &comments, &json!({"body": " \n "}));
    r.problem(422);
    assert_eq!(r.fields(), vec!["body"]);
    assert_eq!(app.get(&olivia, &comments).ok(200), &json!([]));
    let admin = app.login("admin@riverside.example").access;
    let r = app.post(
        &admin,
        "/api/v1/users",
        &json!({"role": "admin", "display_name": "  ", "email": "new.admin@riverside.example"}),
    );
    r.problem(422);
    assert_eq!(r.fields(), vec!["display_name"]);
    let r = app.post(
        &admin,
        &format!("/api/v1/clients/{maria}/caregivers"),
        &json!({"email": "carer@example.org", "name": " "}),
    );
    r.problem(422);
    assert_eq!(r.fields(), vec!["name"]);
}

/// What the OpenAPI document states across fields (its `if`/`then` rules, the unit's
/// length, the built-in codes a clinic cannot reuse) is what the server refuses,
/// naming the field the document names; and a refused request creates nothing.
#[test]
fn rules_across_fields_are_refused_naming_the_documented_field() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let doc = app
        .send(app.http.get(app.url("/openapi.json")))
        .ok(200)
        .clone();
    let schema = |name: &str| doc["components"]["schemas"][name].clone();
    let users = app.get(&admin, "/api/v1/users?limit=100").ok(200)["items"]
        .as_array()
        .map_or(0, Vec::len);

    // A person needs an e-mail; a service account has none, and only it has scopes.
    assert!(schema("NewUserInput")["allOf"].is_array());
    let cases = [
        (json!({"role": "admin", "display_name": "A"}), "email"),
        (
            json!({"role": "therapist", "display_name": "T", "email": "t@x.example"}),
            "discipline",
        ),
        (
            json!({"role": "service", "display_name": "S", "email": "s@x.example"}),
            "email",
        ),
        (
            json!({"role": "admin", "display_name": "A", "email": "a@x.example", "scopes": "clients:read"}),
            "scopes",
        ),
        (
            json!({"role": "service", "display_name": "S", "scopes": "clients:read root"}),
            "scopes",
        ),
        (
            json!({"role": "client", "display_name": "C", "email": "c@x.example"}),
            "role",
        ),
    ];
    for (body, field) in cases {
        let r = app.post(&admin, "/api/v1/users", &body);
        assert!(
            matches!(r.status.as_u16(), 400 | 422),
            "{body}: {}",
            r.status
        );
        assert_eq!(r.fields(), vec![field.to_owned()], "{body}");
    }
    let after = app.get(&admin, "/api/v1/users?limit=100").ok(200)["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(after, users, "no account was created");

    // A clinic measure's unit is one short line; its code is not a built-in one.
    let unit = &schema("NewMeasureInput")["properties"]["unit"];
    assert!(unit["pattern"].is_string(), "{unit}");
    let measure = |unit: Value, code: &str| {
        json!({"code": code, "name": "Grip", "unit": unit, "min": 0, "max": 90, "step": 0.5,
               "direction": "higher-is-better", "meaningful_change": 5, "reporters": ["therapist"]})
    };
    for bad in [json!("x".repeat(33)), json!("kg\nlb"), json!("  ")] {
        let r = app.post(&admin, "/api/v1/measures", &measure(bad.clone(), "grip-kg"));
        r.problem(422);
        assert_eq!(r.fields(), vec!["unit"], "{bad}");
    }
    let built_in = &schema("NewMeasureInput")["allOf"][0]["properties"]["code"]["not"]["enum"];
    assert!(built_in
        .as_array()
        .is_some_and(|c| c.contains(&json!("copm"))));
    let r = app.post(&admin, "/api/v1/measures", &measure(json!("kg"), "copm"));
    assert_eq!(r.problem(422)["errors"][0]["field"], "code");
    let catalogue = app.get(&admin, "/api/v1/measures").ok(200).clone();
    let codes: Vec<_> = catalogue
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| m["code"].clone())
        .collect();
    assert!(!codes.contains(&json!("grip-kg")), "no measure was created");
    let r = app.post(
        &admin,
        "/api/v1/measures",
        &measure(json!(" kg "), "grip-kg"),
    );
    assert_eq!(r.ok(201)["unit"], "kg");
}
