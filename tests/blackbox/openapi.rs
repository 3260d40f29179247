//! The committed OpenAPI document is what the server serves, and it covers every route.

use headway_tests::TestApp;
use serde_json::json;

fn committed() -> serde_json::Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}; run `make openapi`"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_committed_document_matches_the_served_one() {
    let app = TestApp::spawn();
    let served = app.send(app.http.get(app.url("/openapi.json")));
    // Compared whole, reported briefly: a dump of both documents helps nobody.
    assert!(
        *served.ok(200) == committed(),
        "openapi/openapi.json differs from the served document: run `make openapi` and commit it"
    );
    let docs = app.send(app.http.get(app.url("/docs/")));
    assert_eq!(docs.status.as_u16(), 200);
    assert!(
        docs.text.contains("swagger-ui"),
        "Swagger UI is served from the binary"
    );
}

#[test]
fn every_documented_operation_is_served_and_documents_its_errors() {
    let app = TestApp::spawn();
    let doc = committed();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    assert!(paths.len() >= 15);
    let id = "01890a5d-ac96-774b-bcce-b302099a8057";
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|seg| if seg.starts_with('{') { id } else { seg })
            .collect::<Vec<_>>()
            .join("/");
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            let responses = op["responses"].as_object().cloned().unwrap_or_default();
            assert!(
                responses.keys().any(|c| c.starts_with('4')),
                "{method} {path} documents no 4xx"
            );
            assert!(
                responses.contains_key("500"),
                "{method} {path} documents no 500"
            );
            let secured = op["security"].as_array().is_some_and(|s| !s.is_empty());
            if secured {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} documents no 401"
                );
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                .unwrap_or(reqwest::Method::GET);
            let r = app.send(app.http.request(m, app.url(&concrete)));
            let status = r.status.as_u16();
            assert!(
                status != 404 && status != 405 || (status == 404 && !secured && path.contains('{')),
                "{method} {path} is not served: {status}"
            );
            if secured {
                assert_eq!(status, 401, "{method} {path} must require a token");
            }
        }
    }
}

fn schema<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    &doc["components"]["schemas"][name]
}

fn param<'a>(doc: &'a serde_json::Value, path: &str, name: &str) -> &'a serde_json::Value {
    doc["paths"][path]["get"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .map_or(&serde_json::Value::Null, |p| &p["schema"])
}

/// Whether a value is allowed by a schema's `type` and `enum` (enough for these fields).
fn allows(schema: &serde_json::Value, value: &serde_json::Value) -> bool {
    let kind = match value {
        serde_json::Value::Null => "null",
        serde_json::Value::String(_) => "string",
        serde_json::Value::Array(_) => "array",
        _ => "other",
    };
    let typed = match &schema["type"] {
        serde_json::Value::String(t) => t == kind,
        serde_json::Value::Array(ts) => ts.iter().any(|t| t == kind),
        _ => true,
    };
    typed
        && schema["enum"]
            .as_array()
            .is_none_or(|values| values.contains(value))
}

#[test]
fn the_document_states_the_ranges_lengths_and_enums_the_server_enforces() {
    let app = TestApp::spawn();
    let doc = committed();
    for path in [
        "/api/v1/clients",
        "/api/v1/users",
        "/api/v1/audit-events",
        "/api/v1/clients/{client_id}/access-log",
        "/api/v1/clients/{client_id}/episodes/{episode_id}/measurements",
    ] {
        let limit = param(&doc, path, "limit");
        assert_eq!(
            (&limit["minimum"], &limit["maximum"]),
            (&json!(1), &json!(100)),
            "{path}: limit"
        );
    }
    let admin = app.login("admin@riverside.example").access;
    let r = app.get(&admin, "/api/v1/clients?limit=101");
    r.problem(400);
    for path in [
        "/api/v1/clients/{client_id}/goals/{goal_id}/series",
        "/api/v1/clients/{client_id}/goals/{goal_id}/chart.svg",
    ] {
        let max_points = param(&doc, path, "max_points");
        assert_eq!(
            (&max_points["minimum"], &max_points["maximum"]),
            (&json!(2), &json!(1000)),
            "{path}: max_points"
        );
    }
    // Text the server refuses when empty or blank says so.
    for (name, field) in [
        ("NewClientInput", "name"),
        ("NewUserInput", "display_name"),
        ("UserUpdate", "display_name"),
        ("NewEpisodeInput", "reason_for_referral"),
        ("NewCommentInput", "body"),
        ("AcceptInvitation", "token"),
        ("CorrectionInput", "reason"),
        ("NewCaregiver", "name"),
    ] {
        let s = &schema(&doc, name)["properties"][field];
        let min = s["minLength"].as_u64().unwrap_or(0);
        let pattern = s["pattern"].as_str().unwrap_or("");
        assert!(
            min >= 1 || !pattern.is_empty(),
            "{name}.{field} must say it cannot be empty: {s}"
        );
    }
    let grant = &schema(&doc, "TokenRequest")["properties"]["grant_type"];
    assert_eq!(
        grant["enum"],
        json!(["password", "client_credentials", "refresh_token"])
    );
    // What the server returns fits: an admin's discipline is null; reporters a list.
    let me = app.get(&admin, "/api/v1/me");
    let discipline = &me.ok(200)["user"]["discipline"];
    assert_eq!(discipline, &serde_json::Value::Null);
    assert!(allows(
        &schema(&doc, "UserView")["properties"]["discipline"],
        discipline
    ));
    let measures = app.get(&admin, "/api/v1/measures");
    let reporters = &measures.ok(200)[0]["reporters"];
    let documented = &schema(&doc, "MeasureView")["properties"]["reporters"];
    assert!(reporters.is_array() && allows(documented, reporters));
    assert!(
        documented["items"]["enum"]
            .as_array()
            .is_some_and(|e| e.contains(&reporters[0])),
        "{documented}"
    );
    let importance = &schema(&doc, "GoalContentInput")["properties"]["importance"];
    assert_eq!(
        (
            &importance["type"],
            &importance["minimum"],
            &importance["maximum"]
        ),
        (&json!("integer"), &json!(1), &json!(10))
    );
}

#[test]
fn every_operation_documents_its_rule_breaking_answers() {
    let doc = committed();
    let paths = doc["paths"].as_object().cloned().unwrap_or_default();
    for (path, item) in &paths {
        for (method, op) in item.as_object().cloned().unwrap_or_default() {
            let json_body = !op["requestBody"]["content"]["application/json"].is_null();
            if json_body {
                assert!(
                    !op["responses"]["422"].is_null(),
                    "{method} {path} takes JSON but documents no 422"
                );
            }
        }
    }
    // Rules about stored data: closed goals, lifecycle, episode dates, measure codes.
    for (method, path, code) in [
        (
            "post",
            "/api/v1/clients/{client_id}/goals/{goal_id}/revisions",
            "422",
        ),
        (
            "post",
            "/api/v1/clients/{client_id}/goals/{goal_id}/status",
            "422",
        ),
        (
            "post",
            "/api/v1/clients/{client_id}/goals/{goal_id}/agreement",
            "422",
        ),
        (
            "post",
            "/api/v1/clients/{client_id}/goals/{goal_id}/comments",
            "422",
        ),
        (
            "patch",
            "/api/v1/clients/{client_id}/episodes/{episode_id}",
            "422",
        ),
        (
            "post",
            "/api/v1/clients/{client_id}/episodes/{episode_id}/goals",
            "422",
        ),
        (
            "post",
            "/api/v1/clients/{client_id}/episodes/{episode_id}/measurements",
            "422",
        ),
        (
            "get",
            "/api/v1/clients/{client_id}/goals/{goal_id}/series",
            "422",
        ),
        (
            "post",
            "/api/v1/clients/{client_id}/measurements/{measurement_id}/corrections",
            "409",
        ),
        ("post", "/api/v1/measures", "409"),
    ] {
        assert!(
            !doc["paths"][path][method]["responses"][code].is_null(),
            "{method} {path} documents no {code}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]["tokenUrl"],
        "/api/v1/auth/token"
    );
}
