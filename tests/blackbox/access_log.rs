//! A client's access log: every read that showed their record, lists included, in
//! plain words (who, with name and role, did what, and when), without their own
//! actions unless they ask for them.

use headway_tests::TestApp;
use serde_json::{json, Value};

use crate::goals::{content, episode};

fn display_name(app: &TestApp, token: &str) -> String {
    app.get(token, "/api/v1/me").ok(200)["user"]["display_name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Every entry of a client's access log as `reader` sees it (all pages).
fn log(app: &TestApp, reader: &str, client: &str, query: &str) -> Vec<Value> {
    let mut entries = Vec::new();
    let mut after = String::new();
    loop {
        let r = app.get(
            reader,
            &format!("/api/v1/clients/{client}/access-log?limit=100{query}{after}"),
        );
        let body = r.ok(200);
        entries.extend(body["items"].as_array().cloned().unwrap_or_default());
        match body["next_cursor"].as_str() {
            Some(c) => after = format!("&after={c}"),
            None => return entries,
        }
    }
}

fn events(app: &TestApp, admin: &str, client: &str, action: &str) -> Vec<Value> {
    app.audit_for_client(admin, client)
        .into_iter()
        .filter(|e| e["action"] == action)
        .collect()
}

#[test]
fn a_list_that_shows_a_client_leaves_an_event_in_each_shown_clients_log() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let (maria, sam, jun) = (
        app.client_id("Maria Lopez"),
        app.client_id("Samuel Osei"),
        app.client_id("Jun Tanaka"),
    );
    let olivia = app.login("olivia.ot@riverside.example").access;
    let olivia_id = app.user_id("olivia.ot@riverside.example");
    let before: Vec<usize> = [&maria, &sam, &jun]
        .iter()
        .map(|c| events(&app, &admin, c, "client.list").len())
        .collect();
    let trail_before = app
        .get(&admin, "/api/v1/audit-events?action=client.list&limit=100")
        .ok(200)["items"]
        .as_array()
        .map_or(0, Vec::len);

    // Olivia's caseload is Maria and Sam: her list shows both names and record numbers.
    let list = app.get(&olivia, "/api/v1/clients");
    let names: Vec<&str> = list.ok(200)["items"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names.len(), 2, "{names:?}");

    // One event in each shown client's trail, naming Olivia; none for Jun, not shown.
    for (client, was, shown) in [
        (&maria, before[0], true),
        (&sam, before[1], true),
        (&jun, before[2], false),
    ] {
        let now = events(&app, &admin, client, "client.list");
        assert_eq!(now.len(), was + usize::from(shown), "client {client}");
        if shown {
            assert_eq!(now[0]["actor_id"].as_str(), Some(olivia_id.as_str()));
            assert_eq!(now[0]["outcome"], "success");
            assert_eq!(now[0]["resource_id"].as_str(), Some(client.as_str()));
        }
    }
    // The list keeps its one organization-level event (no client): one plus one per
    // client shown, three in all.
    let trail = app
        .get(&admin, "/api/v1/audit-events?action=client.list&limit=100")
        .ok(200)["items"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(trail.len(), trail_before + 3);
    assert_eq!(
        trail[..3]
            .iter()
            .filter(|e| e["client_id"].is_null())
            .count(),
        1
    );

    // And Maria reads it, in plain words.
    let me = app.login("maria@client.example").access;
    let olivia_name = display_name(&app, &olivia);
    let entries = log(&app, &me, &maria, "");
    assert!(
        entries.iter().any(|e| e["action"] == "client.list"
            && e["description"]
                == format!(
                    "{olivia_name} (therapist) saw your name and record numbers in the client list"
                )),
        "{entries:#?}"
    );
}

#[test]
fn the_user_directory_showing_a_clients_login_is_in_their_log() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let before = events(&app, &admin, &maria, "user.list").len();
    let users = app.get(&admin, "/api/v1/users?limit=100");
    let maria_login = users.ok(200)["items"]
        .as_array()
        .and_then(|a| a.iter().find(|u| u["client_id"] == maria.as_str()))
        .map(|u| u["id"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert!(!maria_login.is_empty(), "{}", users.text);
    let after = events(&app, &admin, &maria, "user.list");
    assert_eq!(after.len(), before + 1);
    assert_eq!(after[0]["resource_id"].as_str(), Some(maria_login.as_str()));

    // One account read by id: the same.
    let before = events(&app, &admin, &maria, "user.read").len();
    app.get(&admin, &format!("/api/v1/users/{maria_login}"))
        .ok(200);
    assert_eq!(events(&app, &admin, &maria, "user.read").len(), before + 1);
}

#[test]
fn a_client_reads_who_saw_or_changed_what_in_plain_words_without_their_own_reads() {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.login("maria@client.example").access;
    let olivia_name = display_name(&app, &olivia);
    let ep = episode(&app, &olivia, &maria);
    let goal = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
        &json!({"content": content("Cook dinner for my kids again")}),
    );
    let goal = goal.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    app.post(
        &me,
        &format!("/api/v1/clients/{maria}/goals/{goal}/agreement"),
        &json!({}),
    )
    .ok(200);
    app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes/{ep}/measurements"),
        &json!({"goal_id": goal, "measure_code": "nrs", "values": {"value": 3}}),
    )
    .ok(201);
    let chart = app.get(
        &olivia,
        &format!("/api/v1/clients/{maria}/goals/{goal}/chart.svg"),
    );
    assert_eq!(chart.status.as_u16(), 200, "{}", chart.text);
    // Maria looks at her own chart and progress, several times.
    for _ in 0..3 {
        app.get(
            &me,
            &format!("/api/v1/clients/{maria}/goals/{goal}/chart.svg"),
        );
        app.get(
            &me,
            &format!("/api/v1/clients/{maria}/episodes/{ep}/progress"),
        );
    }

    // By default: what others did, in sentences, with the code kept for integrators.
    let entries = log(&app, &me, &maria, "");
    let said: Vec<&str> = entries
        .iter()
        .filter_map(|e| e["description"].as_str())
        .collect();
    for sentence in [
        format!("{olivia_name} (therapist) viewed your progress chart"),
        format!("{olivia_name} (therapist) recorded a measurement"),
        format!("{olivia_name} (therapist) proposed a goal"),
        format!("{olivia_name} (therapist) opened an episode of care"),
    ] {
        assert!(
            said.contains(&sentence.as_str()),
            "{sentence:?} not in {said:#?}"
        );
    }
    let chart_entry = entries
        .iter()
        .find(|e| e["action"] == "progress.chart")
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        chart_entry["actor_name"].as_str(),
        Some(olivia_name.as_str())
    );
    assert_eq!(chart_entry["actor_role"], "therapist");
    assert_eq!(chart_entry["by_you"], false);
    assert!(chart_entry["occurred_at"].is_string());
    // None of Maria's own actions (her agreement, her reads, reading this log).
    assert!(
        entries
            .iter()
            .all(|e| e["by_you"] == false && e["actor_role"] != "client"),
        "{entries:#?}"
    );
    // No internal code reads as a sentence.
    assert!(said
        .iter()
        .all(|s| !s.contains("progress.") && !s.contains("measurement.")));

    // Asked for, her own actions are there too, as "You ...".
    let all = log(&app, &me, &maria, "&include_own=true");
    let mine: Vec<&str> = all
        .iter()
        .filter(|e| e["by_you"] == true)
        .filter_map(|e| e["description"].as_str())
        .collect();
    assert!(mine.contains(&"You agreed to a goal"), "{mine:#?}");
    assert_eq!(
        mine.iter()
            .filter(|s| **s == "You viewed your progress chart")
            .count(),
        3
    );
    assert!(mine.contains(&"You viewed your access log"));
    assert_eq!(all.len(), entries.len() + mine.len());

    // A bad flag is a problem naming it (400, as for every malformed query).
    let bad = app.get(
        &me,
        &format!("/api/v1/clients/{maria}/access-log?include_own=maybe"),
    );
    bad.problem(400);
    assert_eq!(bad.fields(), ["include_own"]);
}
