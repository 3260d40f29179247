//! Client records: registration, corrections as versions, invitations, /me.

use headway_tests::TestApp;
use serde_json::json;

#[test]
fn registering_and_correcting_a_client_keeps_every_version() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let r = app.post(
        &admin,
        "/api/v1/clients",
        &json!({"name": "Grace Hopper", "preferred_name": "Grace", "date_of_birth": "1950-12-09", "email": "Grace@Example.org", "phone": "+1 555 0100", "identifiers": [{"system": "urn:ehr:mrn", "value": "G-1"}]}),
    );
    let created = r.ok(201).clone();
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        r.header("location").map(str::to_owned),
        Some(format!("/api/v1/clients/{id}"))
    );
    assert_eq!(created["email"], "grace@example.org");
    assert_eq!(created["status"], "active");
    assert_eq!(created["version"], 1);
    assert_eq!(
        uuid::Uuid::parse_str(&id).map(|u| u.get_version_num()).ok(),
        Some(7)
    );
    assert!(created["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    let updated = app.put(&admin, &format!("/api/v1/clients/{id}"), &json!({"name": "Grace B. Hopper", "status": "discharged", "identifiers": [{"system": "urn:ehr:mrn", "value": "G-1"}]}));
    assert_eq!(updated.ok(200)["version"], 2);
    assert_eq!(updated.body["status"], "discharged");
    let versions = app.get(&admin, &format!("/api/v1/clients/{id}/versions"));
    let v = versions.ok(200).as_array().cloned().unwrap_or_default();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0]["version"], 1);
    assert_eq!(v[0]["record"]["name"], "Grace Hopper");
    assert_eq!(v[0]["record"]["status"], "active");
    let discharged = app.get(&admin, "/api/v1/clients?status=discharged");
    assert_eq!(
        discharged.ok(200)["items"].as_array().map(Vec::len),
        Some(1)
    );
    let by_mrn = app.get(&admin, "/api/v1/clients?identifier=urn:ehr:mrn%7CG-1");
    assert_eq!(by_mrn.ok(200)["items"][0]["id"].as_str(), Some(id.as_str()));
    // Identifiers are unique within the clinic.
    app.post(
        &admin,
        "/api/v1/clients",
        &json!({"name": "Dup", "identifiers": [{"system": "urn:ehr:mrn", "value": "G-1"}]}),
    )
    .problem(409);
}

#[test]
fn a_client_is_invited_to_their_own_login() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let created = app.post(&admin, "/api/v1/clients", &json!({"name": "Ken Adams"}));
    let id = created.ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let olivia = app.login("olivia.ot@riverside.example").access;
    app.post(
        &olivia,
        &format!("/api/v1/clients/{id}/invitation"),
        &json!({"email": "ken@client.example"}),
    )
    .problem(404);
    let inv = app.post(
        &admin,
        &format!("/api/v1/clients/{id}/invitation"),
        &json!({"email": "ken@client.example"}),
    );
    let token = inv.ok(201)["invitation"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.post(
        &admin,
        &format!("/api/v1/clients/{id}/invitation"),
        &json!({"email": "ken2@client.example"}),
    )
    .problem(409);
    app.send(
        app.http
            .post(app.url("/api/v1/invitations/accept"))
            .json(&json!({"token": token, "password": "kens long password"})),
    )
    .ok(200);
    let ken = app
        .login_with("ken@client.example", "kens long password")
        .access;
    let me = app.get(&ken, "/api/v1/me");
    assert_eq!(me.ok(200)["user"]["role"], "client");
    assert_eq!(
        me.body["clients"][0]["client_id"].as_str(),
        Some(id.as_str())
    );
    assert_eq!(me.body["clients"][0]["relationship"], "self");
    app.get(&ken, &format!("/api/v1/clients/{id}")).ok(200);
}

#[test]
fn me_describes_each_kind_of_caller() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.get(&olivia, "/api/v1/me");
    assert_eq!(me.ok(200)["user"]["discipline"], "occupational-therapy");
    assert_eq!(me.body["organization"]["name"], "Riverside Therapy (demo)");
    assert!(me.body["user"].get("password_hash").is_none());
    let service = app.service_token("");
    let me = app.get(&service, "/api/v1/me");
    assert_eq!(me.ok(200)["user"]["role"], "service");
    assert_eq!(me.body["user"]["scopes"], "clients:read clinical:read");
}

#[test]
fn the_demo_never_seeds_a_database_that_holds_data() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let before = app.get(&admin, "/api/v1/clients?limit=100").ok(200)["items"]
        .as_array()
        .map_or(0, Vec::len);
    let seeded = api::demo::seed_if_empty(&app.clinic).unwrap_or_else(|e| panic!("{e}"));
    assert!(seeded.is_none(), "a second seeding must do nothing");
    let after = app.get(&admin, "/api/v1/clients?limit=100").ok(200)["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!((before, after), (3, 3));
}
