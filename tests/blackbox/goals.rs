//! Goals set together: proposal, agreement by both sides, revision, lifecycle, comments.

use headway_tests::TestApp;
use serde_json::{json, Value};

pub fn content(words: &str) -> Value {
    json!({
        "client_words": words,
        "statement": format!("Measurable: {words}"),
        "occupation_area": "iadl",
        "importance": 8,
        "measure_code": "nrs",
        "target_value": 8.0
    })
}

/// Opens an episode for a client as a therapist; returns its id.
pub fn episode(app: &TestApp, therapist: &str, client: &str) -> String {
    let r = app.post(therapist, &format!("/api/v1/clients/{client}/episodes"), &json!({"reason_for_referral": "Stroke, left hemiparesis", "diagnoses": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I63.9", "text": "Cerebral infarction"}]}));
    r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn goals_become_active_when_client_and_therapist_agree_either_way_round() {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.login("maria@client.example").access;
    let ep = episode(&app, &olivia, &maria);

    // A therapist proposes; the client agrees; the goal turns active.
    let r = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
        &json!({"content": content("Cook dinner for my kids again")}),
    );
    let g1 = r.ok(201).clone();
    assert_eq!(
        (
            g1["status"].as_str(),
            g1["label"].as_str(),
            g1["expressed_by"].as_str()
        ),
        (Some("proposed"), Some("1"), Some("team"))
    );
    assert_eq!(g1["agreement"], json!({"client": false, "team": true}));
    let g1_id = id(&g1);
    let agreed = app.post(
        &me,
        &format!("/api/v1/clients/{maria}/goals/{g1_id}/agreement"),
        &json!({}),
    );
    assert_eq!(agreed.ok(200)["status"], "active");
    assert_eq!(agreed.body["lifecycle_status"], "active");

    // The client proposes; a therapist on the team agrees.
    let r = app.post(
        &me,
        &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
        &json!({"content": content("Get dressed by myself")}),
    );
    let g2 = r.ok(201).clone();
    assert_eq!(
        (
            g2["status"].as_str(),
            g2["label"].as_str(),
            g2["expressed_by"].as_str()
        ),
        (Some("proposed"), Some("2"), Some("client"))
    );
    let g2_id = id(&g2);
    // Agreeing twice for the same side changes nothing.
    assert_eq!(
        app.post(
            &me,
            &format!("/api/v1/clients/{maria}/goals/{g2_id}/agreement"),
            &json!({})
        )
        .ok(200)["status"],
        "proposed"
    );
    let peter = app.login("peter.pt@riverside.example").access;
    assert_eq!(
        app.post(
            &peter,
            &format!("/api/v1/clients/{maria}/goals/{g2_id}/agreement"),
            &json!({})
        )
        .ok(200)["status"],
        "active"
    );

    // An edit after agreement is a new revision that needs agreement again.
    let mut changed = content("Cook dinner for my kids again");
    changed["target_value"] = json!(9.0);
    let r = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/goals/{g1_id}/revisions"),
        &changed,
    );
    assert_eq!(r.ok(201)["status"], "proposed");
    assert_eq!(r.body["revision"], 2);
    assert_eq!(r.body["agreement"], json!({"client": false, "team": true}));
    app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/goals/{g1_id}/revisions"),
        &changed,
    )
    .problem(422);
    assert_eq!(
        app.post(
            &me,
            &format!("/api/v1/clients/{maria}/goals/{g1_id}/agreement"),
            &json!({})
        )
        .ok(200)["status"],
        "active"
    );

    // Every revision stays readable, with who agreed and when.
    let revisions = app.get(
        &me,
        &format!("/api/v1/clients/{maria}/goals/{g1_id}/revisions"),
    );
    let revs = revisions.ok(200).as_array().cloned().unwrap_or_default();
    assert_eq!(revs.len(), 2);
    assert_eq!(revs[0]["target_value"], 8.0);
    assert_eq!(revs[1]["target_value"], 9.0);
    for r in &revs {
        let sides: Vec<&str> = r["agreements"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["side"].as_str())
            .collect();
        assert_eq!(sides, vec!["team", "client"]);
        assert!(r["agreements"][1]["agreed_at"].is_string());
    }
    // A short-term goal sits under a long-term one, with a nested label.
    let st = app.post(&olivia, &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"), &json!({"term": "short-term", "parent_id": g1_id, "content": content("Chop vegetables safely")}));
    assert_eq!(st.ok(201)["label"], "1.1");
    let orphan = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
        &json!({"term": "short-term", "content": content("Alone")}),
    );
    assert_eq!(
        orphan.problem(422).clone()["errors"][0]["field"],
        "parent_id"
    );
}

#[test]
fn who_may_propose_and_agree_is_held_to_the_policy() {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let ep = episode(&app, &olivia, &maria);
    let g = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
        &json!({"content": content("Walk to the shop")}),
    );
    let g = id(g.ok(201));
    let agreement = format!("/api/v1/clients/{maria}/goals/{g}/agreement");
    // A view-only caregiver, an admin and an integration cannot agree; another client cannot see it.
    let lucia = app.login("lucia@family.example").access;
    app.post(&lucia, &agreement, &json!({})).problem(403);
    app.post(
        &app.login("admin@riverside.example").access,
        &agreement,
        &json!({}),
    )
    .problem(403);
    app.post(&app.service_token(""), &agreement, &json!({}))
        .problem(403);
    app.post(
        &app.login("sam@client.example").access,
        &agreement,
        &json!({}),
    )
    .problem(404);
    // A therapist off the team cannot see the goal at all.
    let jun_only = app.login("peter.pt@riverside.example").access;
    let sam = app.client_id("Samuel Osei");
    app.get(&jun_only, &format!("/api/v1/clients/{sam}/episodes"))
        .problem(404);
    // Once Maria lets Lucia contribute, Lucia can agree for the client side.
    let me = app.login("maria@client.example").access;
    let link = app
        .get(&me, &format!("/api/v1/clients/{maria}/caregivers"))
        .body[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.patch(
        &me,
        &format!("/api/v1/clients/{maria}/caregivers/{link}"),
        &json!({"permission": "contribute"}),
    )
    .ok(200);
    assert_eq!(
        app.post(&lucia, &agreement, &json!({})).ok(200)["status"],
        "active"
    );
    let revs = app.get(&me, &format!("/api/v1/clients/{maria}/goals/{g}/revisions"));
    assert_eq!(revs.ok(200)[0]["agreements"][1]["role"], "caregiver");
}

#[test]
fn the_goal_lifecycle_maps_to_fhir_and_closed_goals_stay_closed() {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.login("maria@client.example").access;
    let ep = episode(&app, &olivia, &maria);
    let g = id(app
        .post(
            &olivia,
            &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
            &json!({"content": content("Garden")}),
        )
        .ok(201));
    let status = format!("/api/v1/clients/{maria}/goals/{g}/status");
    // Proposed goals become active only by agreement.
    assert_eq!(
        app.post(&olivia, &status, &json!({"status": "active"}))
            .problem(422)
            .clone()["errors"][0]["field"],
        "status"
    );
    app.post(
        &me,
        &format!("/api/v1/clients/{maria}/goals/{g}/agreement"),
        &json!({}),
    )
    .ok(200);
    assert_eq!(
        app.post(&olivia, &status, &json!({"status": "on-hold"}))
            .ok(200)["lifecycle_status"],
        "on-hold"
    );
    app.post(&olivia, &status, &json!({"status": "active"}))
        .ok(200);
    app.post(&me, &status, &json!({"status": "achieved"}))
        .problem(403);
    let done = app.post(&olivia, &status, &json!({"status": "achieved"}));
    assert_eq!(
        (
            done.ok(200)["status"].as_str(),
            done.body["lifecycle_status"].as_str()
        ),
        (Some("achieved"), Some("completed"))
    );
    app.post(&olivia, &status, &json!({"status": "active"}))
        .problem(422);
    app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/goals/{g}/revisions"),
        &content("Garden more"),
    )
    .problem(422);
    app.post(&olivia, &status, &json!({"status": "finished"}))
        .problem(422);
}

#[test]
fn team_notes_are_never_shown_to_the_client_or_caregivers() {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.login("maria@client.example").access;
    let lucia = app.login("lucia@family.example").access;
    let ep = episode(&app, &olivia, &maria);
    let g = id(app
        .post(
            &olivia,
            &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
            &json!({"content": content("Bake bread")}),
        )
        .ok(201));
    let path = format!("/api/v1/clients/{maria}/goals/{g}/comments");
    app.post(&olivia, &path, &json!({"body": "Great start this week!"}))
        .ok(201);
    app.post(
        &olivia,
        &path,
        &json!({"body": "Watch for fatigue; consider cognitive screen", "team_only": true}),
    )
    .ok(201);
    app.post(
        &me,
        &path,
        &json!({"body": "Thank you, I made bread on Sunday"}),
    )
    .ok(201);
    app.post(&me, &path, &json!({"body": "secret", "team_only": true}))
        .problem(403);
    app.post(&lucia, &path, &json!({"body": "Proud of you"}))
        .problem(403);
    for (who, expected) in [(&me, 2), (&lucia, 2), (&olivia, 3)] {
        let list = app.get(who, &path);
        let items = list.ok(200).as_array().cloned().unwrap_or_default();
        assert_eq!(items.len(), expected);
        if expected == 2 {
            assert!(items.iter().all(|c| c["team_only"] == false
                && !c["body"].as_str().unwrap_or_default().contains("fatigue")));
        }
    }
    let thread = app.get(&olivia, &path);
    assert_eq!(thread.ok(200)[2]["author_name"], "Maria");
}

#[test]
fn a_client_proposes_in_their_own_words_and_the_team_writes_the_statement_before_agreeing() {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.login("maria@client.example").access;
    let ep = episode(&app, &olivia, &maria);
    let goals = format!("/api/v1/clients/{maria}/episodes/{ep}/goals");

    // Maria writes what matters to her; no clinical statement (absent, or left blank).
    let words = json!({"client_words": "Walk my dog to the park again", "occupation_area": "leisure", "importance": 9});
    let proposed = app.post(&me, &goals, &json!({"content": words}));
    let g = proposed.ok(201).clone();
    assert_eq!(g["status"], "proposed");
    assert_eq!(g["expressed_by"], "client");
    assert_eq!(g["client_words"], "Walk my dog to the park again");
    assert_eq!(g["statement"], Value::Null);
    assert_eq!(g["awaits_statement"], true);
    let blank = json!({"client_words": "Read to my grandson", "statement": "  ", "occupation_area": "leisure", "importance": 7});
    let b = app.post(&me, &goals, &json!({"content": blank}));
    assert_eq!(b.ok(201)["awaits_statement"], true);

    // The team may not agree to a goal without its measurable statement.
    let g_id = id(&g);
    let agreement = format!("/api/v1/clients/{maria}/goals/{g_id}/agreement");
    let refused = app.post(&olivia, &agreement, &json!({}));
    refused.problem(422);
    assert_eq!(refused.fields(), ["content.statement"]);
    assert_eq!(
        app.get(&me, &format!("/api/v1/clients/{maria}/goals/{g_id}"))
            .ok(200)["status"],
        "proposed"
    );

    // Nor propose or revise without one.
    let team_words = app.post(&olivia, &goals, &json!({"content": {"client_words": "Swim", "occupation_area": "leisure", "importance": 5}}));
    team_words.problem(422);
    assert_eq!(team_words.fields(), ["content.statement"]);
    let revisions = format!("/api/v1/clients/{maria}/goals/{g_id}/revisions");
    let bare = app.post(&olivia, &revisions, &words);
    bare.problem(422);
    assert_eq!(bare.fields(), ["statement"]);

    // The team adds the statement in a revision (Maria's words kept); Maria agrees to
    // it and the goal is active.
    let with_statement = json!({"client_words": "Walk my dog to the park again", "statement": "Walk 800 m to the park with the dog on a lead, independently, 3 times a week", "occupation_area": "leisure", "importance": 9});
    let revised = app.post(&olivia, &revisions, &with_statement);
    let revised = revised.ok(201).clone();
    assert_eq!(revised["awaits_statement"], false);
    assert_eq!(revised["agreement"], json!({"client": false, "team": true}));
    assert_eq!(revised["client_words"], "Walk my dog to the park again");
    assert_eq!(
        app.post(&me, &agreement, &json!({})).ok(200)["status"],
        "active"
    );
    // The history shows the first revision in Maria's words alone.
    let history = app.get(
        &me,
        &format!("/api/v1/clients/{maria}/goals/{g_id}/revisions"),
    );
    let first = &history.ok(200)[0];
    assert_eq!(first["awaits_statement"], true);
    assert_eq!(first["statement"], Value::Null);
}
