//! Who may see and change what: each pair both ways.

use headway_tests::TestApp;
use serde_json::{json, Value};

fn update_body(name: &str) -> serde_json::Value {
    json!({"name": name, "status": "active", "identifiers": []})
}

#[test]
fn a_client_cannot_read_or_change_another_client() {
    let app = TestApp::spawn();
    let (maria, sam) = (app.client_id("Maria Lopez"), app.client_id("Samuel Osei"));
    let maria_s = app.login("maria@client.example");
    let sam_s = app.login("sam@client.example");
    for (me, mine, theirs) in [(&maria_s, &maria, &sam), (&sam_s, &sam, &maria)] {
        app.get(&me.access, &format!("/api/v1/clients/{mine}"))
            .ok(200);
        let r = app.get(&me.access, &format!("/api/v1/clients/{theirs}"));
        r.problem(404);
        app.put(
            &me.access,
            &format!("/api/v1/clients/{theirs}"),
            &update_body("Hijacked"),
        )
        .problem(404);
        app.get(&me.access, &format!("/api/v1/clients/{theirs}/care-team"))
            .problem(404);
        app.get(&me.access, &format!("/api/v1/clients/{theirs}/access-log"))
            .problem(404);
        // Their own record is visible but not theirs to change.
        app.put(
            &me.access,
            &format!("/api/v1/clients/{mine}"),
            &update_body("Renamed"),
        )
        .problem(403);
        let list = app.get(&me.access, "/api/v1/clients");
        let items = list.ok(200)["items"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["id"].as_str(), Some(mine.as_str()));
    }
    let admin = app.login("admin@riverside.example");
    assert_eq!(
        app.get(&admin.access, &format!("/api/v1/clients/{maria}"))
            .ok(200)["name"],
        "Maria Lopez"
    );
}

#[test]
fn a_therapist_reaches_only_clients_on_their_care_team() {
    let app = TestApp::spawn();
    let (maria, sam, jun) = (
        app.client_id("Maria Lopez"),
        app.client_id("Samuel Osei"),
        app.client_id("Jun Tanaka"),
    );
    let olivia = app.login("olivia.ot@riverside.example"); // Maria, Sam
    let peter = app.login("peter.pt@riverside.example"); // Maria, Jun
    for (t, outside, inside) in [(&olivia, &jun, &sam), (&peter, &sam, &jun)] {
        app.get(&t.access, &format!("/api/v1/clients/{inside}"))
            .ok(200);
        app.get(&t.access, &format!("/api/v1/clients/{maria}"))
            .ok(200);
        app.get(&t.access, &format!("/api/v1/clients/{outside}"))
            .problem(404);
        app.put(
            &t.access,
            &format!("/api/v1/clients/{outside}"),
            &update_body("X"),
        )
        .problem(404);
        let list = app.get(&t.access, "/api/v1/clients");
        let ids: Vec<String> = list.ok(200)["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["id"].as_str().map(str::to_owned))
            .collect();
        assert_eq!(ids.len(), 2);
        assert!(!ids.contains(outside));
        // Care teams are the admins' to change.
        let r = app.post(&t.access, &format!("/api/v1/clients/{inside}/care-team"), &json!({"therapist_id": app.user_id("olivia.ot@riverside.example"), "team_role": "supporting"}));
        r.problem(403);
    }
}

#[test]
fn removing_a_therapist_from_the_team_ends_their_access_and_keeps_history() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example");
    let jun = app.client_id("Jun Tanaka");
    let olivia_id = app.user_id("olivia.ot@riverside.example");
    let olivia = app.login("olivia.ot@riverside.example");
    app.get(&olivia.access, &format!("/api/v1/clients/{jun}"))
        .problem(404);
    let added = app.post(
        &admin.access,
        &format!("/api/v1/clients/{jun}/care-team"),
        &json!({"therapist_id": olivia_id, "team_role": "consulting"}),
    );
    let member = added.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    assert_eq!(added.body["team_role"], "consulting");
    assert_eq!(added.body["discipline"], "occupational-therapy");
    app.post(
        &admin.access,
        &format!("/api/v1/clients/{jun}/care-team"),
        &json!({"therapist_id": olivia_id, "team_role": "consulting"}),
    )
    .problem(409);
    app.get(&olivia.access, &format!("/api/v1/clients/{jun}"))
        .ok(200);
    app.delete(
        &admin.access,
        &format!("/api/v1/clients/{jun}/care-team/{member}"),
    )
    .ok(204);
    app.get(&olivia.access, &format!("/api/v1/clients/{jun}"))
        .problem(404);
    let current = app.get(&admin.access, &format!("/api/v1/clients/{jun}/care-team"));
    assert_eq!(current.ok(200).as_array().map(Vec::len), Some(1));
    let history = app.get(
        &admin.access,
        &format!("/api/v1/clients/{jun}/care-team?history=true"),
    );
    let entries = history.ok(200).as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2);
    assert!(entries
        .iter()
        .any(|m| m["therapist_id"] == olivia_id.as_str() && m["removed_at"].is_string()));
    // A client cannot be put in the care of someone who is not a therapist.
    let not_therapist = app.user_id("admin@riverside.example");
    let r = app.post(
        &admin.access,
        &format!("/api/v1/clients/{jun}/care-team"),
        &json!({"therapist_id": not_therapist, "team_role": "primary"}),
    );
    assert_eq!(r.problem(422).clone()["errors"][0]["field"], "therapist_id");
}

#[test]
fn an_admin_of_another_clinic_gets_404_and_vice_versa() {
    let app = TestApp::spawn();
    let other_admin = app.second_clinic("lee@lakeside.example");
    let lee = app.login(&other_admin);
    let ada = app.login("admin@riverside.example");
    let maria = app.client_id("Maria Lopez");
    app.get(&lee.access, &format!("/api/v1/clients/{maria}"))
        .problem(404);
    app.put(
        &lee.access,
        &format!("/api/v1/clients/{maria}"),
        &update_body("X"),
    )
    .problem(404);
    app.get(&lee.access, &format!("/api/v1/clients/{maria}/access-log"))
        .problem(404);
    assert_eq!(
        app.get(&lee.access, "/api/v1/clients").ok(200)["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let olivia_id = app.user_id("olivia.ot@riverside.example");
    app.get(&lee.access, &format!("/api/v1/users/{olivia_id}"))
        .problem(404);
    app.patch(
        &lee.access,
        &format!("/api/v1/users/{olivia_id}"),
        &json!({"active": false}),
    )
    .problem(404);

    // Lakeside registers a client; Riverside's admin cannot see it.
    let created = app.post(&lee.access, "/api/v1/clients", &json!({"name": "Lake Client", "identifiers": [{"system": "urn:demo-ehr:mrn", "value": "MRN-1001"}]}));
    let theirs = created.ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.get(&ada.access, &format!("/api/v1/clients/{theirs}"))
        .problem(404);
    app.get(&lee.access, &format!("/api/v1/clients/{theirs}"))
        .ok(200);
    // Identifiers are unique per organization, not across them.
    assert_eq!(created.body["identifiers"][0]["value"], "MRN-1001");
    let ada_list = app.get(
        &ada.access,
        "/api/v1/clients?identifier=urn:demo-ehr:mrn%7CMRN-1001",
    );
    assert_eq!(ada_list.ok(200)["items"].as_array().map(Vec::len), Some(1));
    assert_eq!(ada_list.body["items"][0]["name"], "Maria Lopez");
}

#[test]
fn a_caregiver_sees_only_the_client_who_invited_them_until_revoked() {
    let app = TestApp::spawn();
    let (maria, sam) = (app.client_id("Maria Lopez"), app.client_id("Samuel Osei"));
    let lucia = app.login("lucia@family.example");
    app.get(&lucia.access, &format!("/api/v1/clients/{maria}"))
        .ok(200);
    app.get(&lucia.access, &format!("/api/v1/clients/{sam}"))
        .problem(404);
    // Read-only by default.
    app.put(
        &lucia.access,
        &format!("/api/v1/clients/{maria}"),
        &update_body("X"),
    )
    .problem(403);
    app.get(
        &lucia.access,
        &format!("/api/v1/clients/{maria}/access-log"),
    )
    .problem(403);
    let me = app.get(&lucia.access, "/api/v1/me");
    assert_eq!(
        me.ok(200)["clients"][0]["client_id"].as_str(),
        Some(maria.as_str())
    );
    assert_eq!(me.body["clients"][0]["permission"], "view");

    // Sam invites his own caregiver: a new account with an invitation.
    let sam_s = app.login("sam@client.example");
    let invited = app.post(
        &sam_s.access,
        &format!("/api/v1/clients/{sam}/caregivers"),
        &json!({"email": "ama@family.example", "name": "Ama Osei", "relationship": "spouse"}),
    );
    let token = invited.ok(201)["invitation"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.send(
        app.http
            .post(app.url("/api/v1/invitations/accept"))
            .json(&json!({"token": token, "password": "ama's long password"})),
    )
    .ok(200);
    let ama = app.login_with("ama@family.example", "ama's long password");
    app.get(&ama.access, &format!("/api/v1/clients/{sam}"))
        .ok(200);
    app.get(&ama.access, &format!("/api/v1/clients/{maria}"))
        .problem(404);
    // Sam cannot manage Maria's caregivers; a caregiver cannot manage any.
    app.post(
        &sam_s.access,
        &format!("/api/v1/clients/{maria}/caregivers"),
        &json!({"email": "x@family.example", "name": "X"}),
    )
    .problem(404);
    app.post(
        &ama.access,
        &format!("/api/v1/clients/{sam}/caregivers"),
        &json!({"email": "y@family.example", "name": "Y"}),
    )
    .problem(403);

    // Maria revokes Lucia: access ends at once.
    let maria_s = app.login("maria@client.example");
    let links = app.get(
        &maria_s.access,
        &format!("/api/v1/clients/{maria}/caregivers"),
    );
    let link = links.ok(200)[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.delete(
        &maria_s.access,
        &format!("/api/v1/clients/{maria}/caregivers/{link}"),
    )
    .ok(204);
    app.get(&lucia.access, &format!("/api/v1/clients/{maria}"))
        .problem(404);
    assert_eq!(
        app.get(&lucia.access, "/api/v1/me").ok(200)["clients"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    assert_eq!(
        app.get(&lucia.access, "/api/v1/clients").ok(200)["items"]
            .as_array()
            .map(Vec::len),
        Some(0)
    );
    let history = app.get(
        &maria_s.access,
        &format!("/api/v1/clients/{maria}/caregivers?history=true"),
    );
    assert!(history.ok(200)[0]["revoked_at"].is_string());
    app.delete(
        &maria_s.access,
        &format!("/api/v1/clients/{maria}/caregivers/{link}"),
    )
    .problem(404);
}

#[test]
fn a_service_account_is_held_to_its_scopes() {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let reader = app.service_token("clients:read");
    app.get(&reader, &format!("/api/v1/clients/{maria}"))
        .ok(200);
    assert_eq!(
        app.get(&reader, "/api/v1/clients").ok(200)["items"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    app.post(&reader, "/api/v1/clients", &json!({"name": "New"}))
        .problem(403);
    app.put(
        &reader,
        &format!("/api/v1/clients/{maria}"),
        &update_body("X"),
    )
    .problem(403);
    app.get(&reader, "/api/v1/audit-events").problem(403);
    app.get(&reader, "/api/v1/users").problem(403);
    // The access log is outside the reach of an integration without audit:read.
    app.get(&reader, &format!("/api/v1/clients/{maria}/access-log"))
        .problem(404);

    // A token narrowed to clinical:read cannot read client records: they are outside
    // its reach, so a real id answers exactly like a made-up one (404), and it cannot
    // tell which ids exist.
    let clinical = app.service_token("clinical:read");
    let real = app.get(&clinical, &format!("/api/v1/clients/{maria}"));
    let made_up = app.get(
        &clinical,
        &format!("/api/v1/clients/{}", uuid::Uuid::now_v7()),
    );
    assert_eq!(real.problem(404)["detail"], made_up.problem(404)["detail"]);
    app.put(
        &clinical,
        &format!("/api/v1/clients/{maria}"),
        &update_body("X"),
    )
    .problem(404);
    app.get(&clinical, "/api/v1/clients").problem(403);
    // Its clinical scope still reaches the clinical record.
    app.get(&clinical, &format!("/api/v1/clients/{maria}/episodes"))
        .ok(200);

    // An admin widens the account's scopes; a fresh token can then write.
    let admin = app.login("admin@riverside.example");
    let r = app.patch(
        &admin.access,
        &format!("/api/v1/users/{}", app.service_client_id),
        &json!({"scopes": "clients:read clients:write"}),
    );
    assert_eq!(r.ok(200)["scopes"], "clients:read clients:write");
    let writer = app.service_token("clients:write clients:read");
    app.post(&writer, "/api/v1/clients", &json!({"name": "From the EHR"}))
        .ok(201);
    // And narrowing takes effect on existing tokens at once: a token wider than what
    // the account now holds is no longer backed by the database.
    app.patch(
        &admin.access,
        &format!("/api/v1/users/{}", app.service_client_id),
        &json!({"scopes": "clinical:read"}),
    )
    .ok(200);
    app.post(&writer, "/api/v1/clients", &json!({"name": "Again"}))
        .problem(401);
}

#[test]
fn only_admins_manage_accounts_and_fields_they_may_not_set_are_rejected() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example");
    let maria = app.login("maria@client.example");
    let body = json!({"role": "admin", "display_name": "Me Too", "email": "me@x.example"});
    app.post(&olivia.access, "/api/v1/users", &body)
        .problem(403);
    app.post(&maria.access, "/api/v1/users", &body).problem(403);
    app.get(&maria.access, "/api/v1/users").problem(403);
    let admin = app.login("admin@riverside.example");
    let id = app.user_id("olivia.ot@riverside.example");
    for field in [
        json!({"role": "admin"}),
        json!({"organization_id": "x"}),
        json!({"created_at": "2020-01-01T00:00:00Z"}),
    ] {
        let r = app.patch(&admin.access, &format!("/api/v1/users/{id}"), &field);
        let key = field
            .as_object()
            .and_then(|o| o.keys().next().cloned())
            .unwrap_or_default();
        r.problem(400);
        assert_eq!(r.fields(), vec![key]);
    }
    let r = app.post(
        &admin.access,
        "/api/v1/users",
        &json!({"role": "client", "display_name": "C", "email": "c@x.example"}),
    );
    assert_eq!(r.problem(422).clone()["errors"][0]["field"], "role");
    let r = app.post(&admin.access, "/api/v1/users", &json!({"role": "therapist", "display_name": "T", "email": "admin@riverside.example", "discipline": "nursing"}));
    assert_eq!(r.problem(422).clone()["errors"][0]["field"], "email");
}

/// Who appears in the directory (`GET /users`) for a therapist: staff, and the people on
/// their caseload (clients and their caregivers), never anyone else's clients.
fn directory(app: &TestApp, token: &str) -> Vec<String> {
    let mut emails: Vec<String> = app.get(token, "/api/v1/users?limit=100").ok(200)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|u| u["email"].as_str().unwrap_or("(service)").to_owned())
        .collect();
    emails.sort();
    emails
}

#[test]
fn the_staff_directory_shows_a_therapist_only_their_own_caseload() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access; // Maria, Sam
    let peter = app.login("peter.pt@riverside.example").access; // Maria, Jun
    let staff = [
        "(service)",
        "admin@riverside.example",
        "olivia.ot@riverside.example",
        "peter.pt@riverside.example",
    ];
    let expect = |extra: &[&str]| {
        let mut v: Vec<String> = staff.iter().chain(extra).map(|s| s.to_string()).collect();
        v.sort();
        v
    };
    assert_eq!(
        directory(&app, &olivia),
        expect(&[
            "lucia@family.example",
            "maria@client.example",
            "sam@client.example"
        ])
    );
    assert_eq!(
        directory(&app, &peter),
        expect(&[
            "jun@client.example",
            "lucia@family.example",
            "maria@client.example"
        ])
    );
    // One by one: a client outside the caseload is as absent as a made-up id.
    let jun = app.user_id("jun@client.example");
    let sam = app.user_id("sam@client.example");
    let absent = app.get(&olivia, &format!("/api/v1/users/{}", uuid::Uuid::now_v7()));
    let outside = app.get(&olivia, &format!("/api/v1/users/{jun}"));
    assert_eq!(
        outside.problem(404)["detail"],
        absent.problem(404)["detail"]
    );
    assert_eq!(
        app.get(&olivia, &format!("/api/v1/users/{sam}")).ok(200)["email"],
        "sam@client.example"
    );
    // Filters cannot widen it either.
    let clients: Vec<Value> = app
        .get(&olivia, "/api/v1/users?role=client&limit=100")
        .ok(200)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(clients.len(), 2);
    assert!(clients.iter().all(|c| c["email"] != "jun@client.example"));

    // Leaving Sam's care team takes Sam out of Olivia's directory at once.
    let admin = app.login("admin@riverside.example").access;
    let sam_record = app.client_id("Samuel Osei");
    let olivia_id = app.user_id("olivia.ot@riverside.example");
    let team = app.get(&admin, &format!("/api/v1/clients/{sam_record}/care-team"));
    let member = team
        .ok(200)
        .as_array()
        .and_then(|m| m.iter().find(|m| m["therapist_id"] == olivia_id.as_str()))
        .and_then(|m| m["id"].as_str())
        .unwrap_or_default()
        .to_owned();
    app.delete(
        &admin,
        &format!("/api/v1/clients/{sam_record}/care-team/{member}"),
    )
    .ok(204);
    assert_eq!(
        directory(&app, &olivia),
        expect(&["lucia@family.example", "maria@client.example"])
    );
    app.get(&olivia, &format!("/api/v1/users/{sam}"))
        .problem(404);
    // The admin still sees everyone.
    assert_eq!(directory(&app, &admin).len(), 8);
}
