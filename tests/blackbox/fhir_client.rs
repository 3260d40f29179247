//! A stock Python FHIR client (fhirpy, in .venv-fhir/ that `make deps` makes) signs in
//! with SMART Backend Services and searches, pages, creates and reads against the
//! running server: tests/fhir_client/backend_services.py does what an EHR's backend
//! would, and this test checks what it saw against the JSON API's records.

use std::{collections::BTreeSet, process::Command};

use headway_tests::TestApp;
use serde_json::{json, Value};

use crate::goals::{content, episode};

#[test]
fn fhirpy_signs_in_with_backend_services_then_searches_pages_and_creates() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    // The demo EHR bridge, allowed to write clinical records; the script registers
    // its own key and signs in with it alone (no client secret).
    let bridge = app.service_client_id.clone();
    app.patch(
        &admin,
        &format!("/api/v1/users/{bridge}"),
        &json!({"scopes": "clients:read clinical:read clinical:write"}),
    )
    .ok(200);
    let maria = app.client_id("Maria Lopez");
    let ep = episode(&app, &olivia, &maria);
    let goal = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
        &json!({"content": content("Cook dinner for my kids")}),
    );
    let goal = goal.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    let measurements = format!("/api/v1/clients/{maria}/episodes/{ep}/measurements");
    for value in [2, 3, 3, 4, 5, 5, 6] {
        app.post(
            &olivia,
            &measurements,
            &json!({"goal_id": goal, "measure_code": "nrs", "values": {"value": value}}),
        )
        .ok(201);
    }
    let ids = |items: &Value| -> BTreeSet<String> {
        items["items"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let before = ids(app.get(&olivia, &measurements).ok(200));
    assert_eq!(before.len(), 7);

    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("../.venv-fhir/bin/python");
    assert!(
        python.exists(),
        "the FHIR client is missing: run ./scripts/fhir-validator.sh (make deps does)"
    );
    let out = Command::new(python)
        .arg(root.join("fhir_client/backend_services.py"))
        .env("HEADWAY_BASE", app.url(""))
        .env("HEADWAY_CLIENT_ID", &bridge)
        .env("HEADWAY_ADMIN_TOKEN", &admin)
        .env("HEADWAY_PATIENT", &maria)
        .env("HEADWAY_GOAL", &goal)
        .env("HEADWAY_PAGE", "3")
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "the client failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let saw: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");

    // Signed in with the scopes it asked for, as a bearer.
    assert_eq!(saw["token_type"], "Bearer", "{saw}");
    let scope: BTreeSet<&str> = saw["scope"]
        .as_str()
        .unwrap_or_default()
        .split(' ')
        .collect();
    assert_eq!(
        scope,
        BTreeSet::from(["system/Patient.rs", "system/Observation.cruds"]),
        "{saw}"
    );
    // Read the client as a Patient.
    assert_eq!(saw["patient_id"], maria.as_str());
    assert_eq!(saw["patient_name"], "Maria Lopez");
    // Paged through every measurement, 3 to a page, each once: by hand and by fetch_all.
    assert_eq!(saw["pages"], 3, "{saw}");
    let listed = |k: &str| -> Vec<String> {
        saw[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    for key in ["searched", "fetch_all"] {
        let seen = listed(key);
        assert_eq!(seen.len(), 7, "{key}: {saw}");
        assert_eq!(seen.into_iter().collect::<BTreeSet<_>>(), before, "{key}");
    }
    // Created one, which reads back, and which the care team sees as imported.
    assert_eq!(saw["read_back_status"], "final");
    assert_eq!(saw["read_back_value"], 6.0);
    assert_eq!(saw["read_back_focus"], format!("Goal/{goal}"));
    let created = saw["created"].as_str().unwrap_or_default();
    let after = app.get(&olivia, &measurements);
    let items = after.ok(200)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(items.len(), 8);
    let new = items
        .iter()
        .find(|m| m["id"] == created)
        .unwrap_or_else(|| panic!("{created} is not among {items:?}"));
    assert_eq!(new["source"], "imported", "{new}");
    assert_eq!(new["goal_id"], goal.as_str());
}
