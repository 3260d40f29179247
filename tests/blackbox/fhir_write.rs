//! FHIR writes: an EHR creates Observations and Goals, alone, conditionally and in
//! batch and transaction Bundles, through the same rules, policy and audit trail as
//! the JSON API. Every resource served back is put through the independent validator.

use headway_tests::{Reply, TestApp};
use serde_json::{json, Value};

use crate::fhir::validate;
use crate::goals::{content, episode};

const FHIR_JSON: &str = "application/fhir+json";

fn post_fhir(
    app: &TestApp,
    token: &str,
    path: &str,
    body: &Value,
    headers: &[(&str, &str)],
) -> Reply {
    let mut req = app
        .http
        .post(app.url(path))
        .bearer_auth(token)
        .header("content-type", FHIR_JSON)
        .body(body.to_string());
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    app.send(req)
}

/// An EHR's service account that may write clinical records (an admin widens the
/// demo integration's scopes), and a token for it.
fn ehr(app: &TestApp) -> String {
    let admin = app.login("admin@riverside.example").access;
    app.patch(
        &admin,
        &format!("/api/v1/users/{}", app.service_client_id),
        &json!({"scopes": "clients:read clinical:read clinical:write"}),
    )
    .ok(200);
    app.service_token("")
}

/// A numeric-rating Observation of `client`'s goal, observed at `at`.
fn nrs(client: &str, goal: Option<&str>, at: &str, value: f64) -> Value {
    let mut o = json!({
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": "urn:headway:fhir:CodeSystem:outcome-measure", "code": "nrs"}]},
        "subject": {"reference": format!("Patient/{client}")},
        "effectiveDateTime": at,
        "valueQuantity": {"value": value}
    });
    if let Some(g) = goal {
        o["focus"] = json!([{"reference": format!("Goal/{g}")}]);
    }
    o
}

fn fhir_goal(client: &str, words: &str) -> Value {
    json!({
        "resourceType": "Goal",
        "extension": [
            {"url": "urn:headway:fhir:StructureDefinition:client-words", "valueString": words},
            {"url": "urn:headway:fhir:StructureDefinition:goal-importance", "valueInteger": 7}
        ],
        "lifecycleStatus": "proposed",
        "category": [{"coding": [{"system": "urn:headway:fhir:CodeSystem:occupation-area", "code": "iadl"}]}],
        "description": {"text": format!("Measurable: {words}")},
        "subject": {"reference": format!("Patient/{client}")},
        "target": [{
            "measure": {"coding": [{"system": "urn:headway:fhir:CodeSystem:outcome-measure", "code": "nrs"}]},
            "detailQuantity": {"value": 8}
        }]
    })
}

struct Scene {
    app: TestApp,
    token: String,
    olivia: String,
    maria: String,
    episode: String,
    goal: String,
}

fn scene() -> Scene {
    let app = TestApp::spawn();
    let token = ehr(&app);
    let olivia = app.login("olivia.ot@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let episode = episode(&app, &olivia, &maria);
    let goal = app
        .post(
            &olivia,
            &format!("/api/v1/clients/{maria}/episodes/{episode}/goals"),
            &json!({"content": content("Cook dinner for my kids")}),
        )
        .ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    Scene {
        app,
        token,
        olivia,
        maria,
        episode,
        goal,
    }
}

/// How many Observations the client has, as a FHIR search counts them.
fn observations(s: &Scene) -> u64 {
    s.app
        .get(
            &s.olivia,
            &format!("/fhir/r4/Observation?patient={}&_summary=count", s.maria),
        )
        .ok(200)["total"]
        .as_u64()
        .unwrap_or(u64::MAX)
}

/// The episode's goals, as the JSON API lists them.
fn goals(s: &Scene) -> usize {
    s.app
        .get(
            &s.olivia,
            &format!("/api/v1/clients/{}/episodes/{}/goals", s.maria, s.episode),
        )
        .ok(200)
        .as_array()
        .map_or(usize::MAX, Vec::len)
}

fn path_of(location: &str) -> String {
    location[location.find("/fhir/r4/").unwrap_or(0)..].to_owned()
}

#[test]
fn an_ehr_creates_an_observation_that_is_imported_versioned_and_valid() {
    let s = scene();
    let before = observations(&s);
    let sent = nrs(&s.maria, Some(&s.goal), "2026-11-30T09:15:00Z", 6.0);
    let r = post_fhir(&s.app, &s.token, "/fhir/r4/Observation", &sent, &[]);
    let created = r.ok(201).clone();
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let location = r.header("location").unwrap_or_default().to_owned();
    assert!(
        location.ends_with(&format!("/fhir/r4/Observation/{id}/_history/1")),
        "{location}"
    );
    // What was stored reads back as what was answered, from FHIR and the JSON API.
    let read = s.app.get(&s.olivia, &path_of(&location)).ok(200).clone();
    assert_eq!(read["id"], created["id"]);
    assert_eq!(read["valueQuantity"]["value"], 6.0);
    assert_eq!(read["focus"][0]["reference"], format!("Goal/{}", s.goal));
    assert_eq!(read["effectiveDateTime"], "2026-11-30T09:15:00Z");
    let json_api = s
        .app
        .get(
            &s.olivia,
            &format!("/api/v1/clients/{}/measurements/{id}", s.maria),
        )
        .ok(200)
        .clone();
    assert_eq!(json_api["source"], "imported", "{json_api}");
    assert_eq!(
        json_api["episode_id"],
        s.episode.as_str(),
        "the goal's episode"
    );
    assert_eq!(observations(&s), before + 1);
    validate(&[&created, &read]);

    // Prefer: return=minimal answers no body, still with Location.
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4/Observation",
        &nrs(&s.maria, Some(&s.goal), "2026-11-30T10:00:00Z", 7.0),
        &[("prefer", "return=minimal")],
    );
    assert_eq!(r.status.as_u16(), 201);
    assert!(r.text.is_empty(), "{}", r.text);
    assert!(r.header("location").is_some());
}

#[test]
fn a_copm_observation_read_from_headway_goes_back_in_as_a_new_one() {
    let s = scene();
    let copm = json!({
        "goal_id": null,
        "measure_code": "copm",
        "values": {"problems": [
            {"problem": "Dressing (buttons)", "importance": 9, "performance": 3, "satisfaction": 2},
            {"problem": "Cooking", "importance": 7, "performance": 4, "satisfaction": 4}
        ]}
    });
    let m = s
        .app
        .post(
            &s.olivia,
            &format!(
                "/api/v1/clients/{}/episodes/{}/measurements",
                s.maria, s.episode
            ),
            &copm,
        )
        .ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let mut served = s
        .app
        .get(&s.olivia, &format!("/fhir/r4/Observation/{m}"))
        .ok(200)
        .clone();
    // What an EHR would send back: no id, meta or Headway's own extension.
    for k in ["id", "meta", "extension", "issued", "performer", "category"] {
        served.as_object_mut().map(|o| o.remove(k));
    }
    let r = post_fhir(&s.app, &s.token, "/fhir/r4/Observation", &served, &[]);
    let created = r.ok(201).clone();
    let components = |o: &Value| -> Vec<(String, f64)> {
        o["component"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                (
                    c["code"]["text"].as_str().unwrap_or_default().to_owned(),
                    c["valueQuantity"]["value"].as_f64().unwrap_or(f64::NAN),
                )
            })
            .collect()
    };
    assert_eq!(components(&created), components(&served), "{created}");
    assert!(!components(&created).is_empty());
    validate(&[&created]);
}

#[test]
fn bad_observations_are_refused_by_name_and_nothing_is_stored() {
    let s = scene();
    let before = observations(&s);
    let at = "2026-11-30T09:15:00Z";
    let good = nrs(&s.maria, Some(&s.goal), at, 6.0);
    let with = |f: &dyn Fn(&mut Value)| {
        let mut o = good.clone();
        f(&mut o);
        o
    };
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            with(&|o| o["resourceType"] = json!("Patient")),
            422,
            "Observation.resourceType",
        ),
        (
            with(&|o| o["valueFoo"] = json!(1)),
            422,
            "Observation.valueFoo",
        ),
        (
            with(&|o| o["device"] = json!({"reference": "Device/1"})),
            422,
            "Observation.device",
        ),
        (
            with(&|o| o["status"] = json!("preliminary")),
            422,
            "Observation.status",
        ),
        (
            with(&|o| {
                o["code"] = json!({"coding": [{"system": "http://loinc.org", "code": "8867-4"}]})
            }),
            422,
            "Observation.code",
        ),
        (
            with(&|o| o["valueQuantity"]["value"] = json!(11)),
            422,
            "Observation.value",
        ),
        (
            with(&|o| o["effectiveDateTime"] = json!("2026-11-30")),
            422,
            "Observation.effective",
        ),
        (
            with(&|o| o["subject"] = json!({"reference": "Group/1"})),
            422,
            "Observation.subject",
        ),
        (
            with(&|o| o["valueQuantity"]["value"] = json!("six")),
            400,
            "Observation.valueQuantity.value",
        ),
    ];
    for (body, status, expression) in cases {
        let r = post_fhir(&s.app, &s.token, "/fhir/r4/Observation", &body, &[]);
        let o = r.refusal(status);
        let named: Vec<&str> = o["issue"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|i| i["expression"].as_array().into_iter().flatten())
            .filter_map(Value::as_str)
            .collect();
        assert!(
            named.iter().any(|n| n.starts_with(expression)),
            "{expression} not named for {body}: {}",
            r.text
        );
        validate(&[o]);
    }
    // Not JSON at all, and not FHIR JSON.
    let r = s.app.send(
        s.app
            .http
            .post(s.app.url("/fhir/r4/Observation"))
            .bearer_auth(&s.token)
            .header("content-type", FHIR_JSON)
            .body("{"),
    );
    r.refusal(400);
    let r = s.app.send(
        s.app
            .http
            .post(s.app.url("/fhir/r4/Observation"))
            .bearer_auth(&s.token)
            .header("content-type", "text/plain")
            .body(good.to_string()),
    );
    r.refusal(415);
    assert_eq!(observations(&s), before, "nothing was stored");
}

#[test]
fn a_reference_outside_reach_answers_as_if_it_did_not_exist() {
    let s = scene();
    let other = s.app.second_clinic("admin@elsewhere.example");
    let admin2 = s.app.login("admin@elsewhere.example").access;
    let theirs = s
        .app
        .post(
            &admin2,
            "/api/v1/clients",
            &json!({"name": "Elsewhere Client"}),
        )
        .ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let _ = other;
    let nobody = uuid::Uuid::now_v7().to_string();
    let mut answers = Vec::new();
    for patient in [&theirs, &nobody] {
        let r = post_fhir(
            &s.app,
            &s.token,
            "/fhir/r4/Observation",
            &nrs(patient, None, "2026-11-30T09:15:00Z", 6.0),
            &[],
        );
        answers.push(r.refusal(404).clone());
        let r = post_fhir(
            &s.app,
            &s.token,
            "/fhir/r4/Goal",
            &fhir_goal(patient, "Walk the dog"),
            &[],
        );
        answers.push(r.refusal(404).clone());
    }
    assert_eq!(
        answers[0], answers[2],
        "another clinic's Patient answers as a Patient that never was"
    );
    assert_eq!(answers[1], answers[3]);
    // A goal of another client named in focus: not found either, nothing stored.
    let before = observations(&s);
    let samuel = s.app.client_id("Samuel Osei");
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4/Observation",
        &nrs(&samuel, Some(&s.goal), "2026-11-30T09:15:00Z", 6.0),
        &[],
    );
    assert!(matches!(r.status.as_u16(), 404 | 422), "{}", r.text);
    assert_eq!(observations(&s), before);
}

#[test]
fn a_conditional_create_finds_instead_of_creating_and_refuses_an_ambiguous_match() {
    let s = scene();
    let at = "2026-11-29T08:00:00Z";
    let condition = format!("patient={}&code=nrs&date=eq{at}", s.maria);
    let sent = nrs(&s.maria, Some(&s.goal), at, 5.0);
    let first = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4/Observation",
        &sent,
        &[("if-none-exist", &condition)],
    );
    let id = first.ok(201)["id"].clone();
    let count = observations(&s);
    let again = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4/Observation",
        &sent,
        &[("if-none-exist", &condition)],
    );
    assert_eq!(again.ok(200)["id"], id, "the match is answered");
    assert_eq!(observations(&s), count, "and nothing is created");
    validate(&[&again.body]);

    // Several at once with the same condition: exactly one is created.
    let at2 = "2026-11-29T09:00:00Z";
    let condition2 = format!("patient={}&code=nrs&date=eq{at2}", s.maria);
    let sent2 = nrs(&s.maria, Some(&s.goal), at2, 5.0);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                scope.spawn(|| {
                    post_fhir(
                        &s.app,
                        &s.token,
                        "/fhir/r4/Observation",
                        &sent2,
                        &[("if-none-exist", &condition2)],
                    )
                    .status
                    .as_u16()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        5,
        "{statuses:?}"
    );
    assert_eq!(observations(&s), count + 1);

    // Two matches: 412, nothing created.
    let loose = format!("patient={}&code=nrs", s.maria);
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4/Observation",
        &nrs(&s.maria, Some(&s.goal), "2026-11-28T08:00:00Z", 4.0),
        &[("if-none-exist", &loose)],
    );
    r.refusal(412);
    // A condition that is not an Observation search: 400, naming it.
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4/Observation",
        &sent,
        &[("if-none-exist", "colour=blue")],
    );
    r.refusal(400);
    assert_eq!(observations(&s), count + 1);
}

#[test]
fn a_goal_from_an_ehr_arrives_proposed_and_waits_for_both_sides() {
    let s = scene();
    // Samuel has no open episode: a FHIR Goal names none, so it has nowhere to go.
    let samuel = s.app.client_id("Samuel Osei");
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4/Goal",
        &fhir_goal(&samuel, "Walk to the shop"),
        &[],
    );
    let said = r.refusal(422).to_string();
    assert!(
        said.contains("no open episode") && said.contains("Goal.subject"),
        "{said}"
    );

    // Maria has one (the scene's): the goal goes there, proposed, agreed by no one.
    let before = goals(&s);
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4/Goal",
        &fhir_goal(&s.maria, "Walk to the shop"),
        &[],
    );
    let created = r.ok(201).clone();
    assert_eq!(created["lifecycleStatus"], "proposed");
    assert_eq!(goals(&s), before + 1);
    let id = created["id"].as_str().unwrap_or_default().to_owned();
    let path = format!("/api/v1/clients/{}/goals/{id}", s.maria);
    let json_api = s.app.get(&s.olivia, &path).ok(200).clone();
    assert_eq!(json_api["status"], "proposed");
    assert_eq!(json_api["episode_id"], s.episode.as_str());
    assert_eq!(json_api["client_words"], "Walk to the shop");
    assert_eq!(json_api["importance"], 7);
    assert_eq!(
        json_api["agreement"],
        json!({"client": false, "team": false}),
        "{json_api}"
    );
    let read = s
        .app
        .get(&s.olivia, &format!("/fhir/r4/Goal/{id}"))
        .ok(200)
        .clone();
    validate(&[&created, &read]);
    // The therapist agreeing is not enough: the client still has to.
    let r = s
        .app
        .post(&s.olivia, &format!("{path}/agreement"), &json!({}));
    assert_eq!(r.ok(200)["status"], "proposed", "{}", r.text);

    // With a second open episode, which one is not the EHR's to guess.
    episode(&s.app, &s.olivia, &s.maria);
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4/Goal",
        &fhir_goal(&s.maria, "Walk to the park"),
        &[],
    );
    let said = r.refusal(422).to_string();
    assert!(said.contains("several open episodes"), "{said}");
    let before = goals(&s);
    let samuel = s.maria.clone();

    // Refused by name, nothing stored: no client's words, a status it cannot have.
    let mut no_words = fhir_goal(&samuel, "x");
    no_words["extension"] =
        json!([{"url": "urn:headway:fhir:StructureDefinition:goal-importance", "valueInteger": 7}]);
    let r = post_fhir(&s.app, &s.token, "/fhir/r4/Goal", &no_words, &[]);
    assert!(
        r.refusal(422).to_string().contains("client-words"),
        "{}",
        r.text
    );
    let mut active = fhir_goal(&samuel, "x");
    active["lifecycleStatus"] = json!("active");
    let r = post_fhir(&s.app, &s.token, "/fhir/r4/Goal", &active, &[]);
    assert!(
        r.refusal(422).to_string().contains("Goal.lifecycleStatus"),
        "{}",
        r.text
    );
    let mut note = fhir_goal(&samuel, "x");
    note["note"] = json!([{"text": "from the EHR"}]);
    let r = post_fhir(&s.app, &s.token, "/fhir/r4/Goal", &note, &[]);
    assert!(
        r.refusal(422).to_string().contains("Goal.note"),
        "{}",
        r.text
    );
    assert_eq!(goals(&s), before);
}

/// Each entry's response status in a batch- or transaction-response.
fn statuses(reply: &Value) -> Vec<&str> {
    reply["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["response"]["status"].as_str().unwrap_or_default())
        .collect()
}

fn entry(resource: Value, url: &str) -> Value {
    json!({"resource": resource, "request": {"method": "POST", "url": url}})
}

fn bundle(kind: &str, entries: Vec<Value>) -> Value {
    json!({"resourceType": "Bundle", "type": kind, "entry": entries})
}

#[test]
fn a_transaction_stores_all_of_its_entries_or_none() {
    let s = scene();
    let before = observations(&s);
    let good = vec![
        entry(
            nrs(&s.maria, Some(&s.goal), "2026-11-27T08:00:00Z", 4.0),
            "Observation",
        ),
        entry(
            nrs(&s.maria, Some(&s.goal), "2026-11-28T08:00:00Z", 5.0),
            "Observation",
        ),
        entry(fhir_goal(&s.maria, "Play football with my son"), "Goal"),
    ];
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4",
        &bundle("transaction", good.clone()),
        &[],
    );
    let reply = r.ok(200).clone();
    assert_eq!(reply["type"], "transaction-response");
    let statuses = statuses(&reply);
    assert_eq!(statuses, ["201 Created", "201 Created", "201 Created"]);
    assert_eq!(observations(&s), before + 2);
    validate(&[&reply]);

    // One bad entry (a value out of range), or one out of reach: nothing is stored,
    // and the answer names the entry.
    let audit_before = s
        .app
        .audit_for_client(&s.app.login("admin@riverside.example").access, &s.maria)
        .len();
    let mut bad = good.clone();
    bad[1] = entry(
        nrs(&s.maria, Some(&s.goal), "2026-11-26T08:00:00Z", 42.0),
        "Observation",
    );
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4",
        &bundle("transaction", bad),
        &[],
    );
    assert!(
        r.refusal(422).to_string().contains("Bundle.entry[1]"),
        "{}",
        r.text
    );
    let nobody = uuid::Uuid::now_v7().to_string();
    let mut unreachable = good.clone();
    unreachable[2] = entry(fhir_goal(&nobody, "Swim"), "Goal");
    let r = post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4",
        &bundle("transaction", unreachable),
        &[],
    );
    r.refusal(404);
    assert_eq!(
        observations(&s),
        before + 2,
        "a refused transaction stores nothing"
    );
    // The failing entry's refusal is audited; the entries rolled back with it are not.
    let after = s
        .app
        .audit_for_client(&s.app.login("admin@riverside.example").access, &s.maria);
    let recorded = after[..after.len() - audit_before]
        .iter()
        .filter(|e| e["action"] == "measurement.record")
        .count();
    assert!(
        recorded >= 1,
        "the refusal of entry 1 is audited: {after:?}"
    );

    // Oversized, not a Bundle, a GET entry: refused before anything runs.
    let many: Vec<Value> = (0..101)
        .map(|i| {
            entry(
                nrs(
                    &s.maria,
                    None,
                    &format!("2026-10-01T08:{:02}:00Z", i % 60),
                    4.0,
                ),
                "Observation",
            )
        })
        .collect();
    post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4",
        &bundle("transaction", many),
        &[],
    )
    .refusal(413);
    post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4",
        &nrs(&s.maria, None, "2026-10-01T08:00:00Z", 4.0),
        &[],
    )
    .refusal(422);
    let get = json!({"request": {"method": "GET", "url": "Patient"}});
    post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4",
        &bundle("transaction", vec![get]),
        &[],
    )
    .refusal(422);
    post_fhir(
        &s.app,
        &s.token,
        "/fhir/r4",
        &bundle("collection", good),
        &[],
    )
    .refusal(422);
    assert_eq!(observations(&s), before + 2);
}

#[test]
fn a_batch_answers_each_entry_on_its_own() {
    let s = scene();
    let before = observations(&s);
    let entries = vec![
        entry(
            nrs(&s.maria, Some(&s.goal), "2026-11-27T08:00:00Z", 4.0),
            "Observation",
        ),
        entry(
            nrs(&s.maria, Some(&s.goal), "2026-11-28T08:00:00Z", 42.0),
            "Observation",
        ),
        entry(
            nrs(
                &uuid::Uuid::now_v7().to_string(),
                None,
                "2026-11-28T08:00:00Z",
                4.0,
            ),
            "Observation",
        ),
    ];
    let r = post_fhir(&s.app, &s.token, "/fhir/r4", &bundle("batch", entries), &[]);
    let reply = r.ok(200).clone();
    assert_eq!(reply["type"], "batch-response");
    let statuses = statuses(&reply);
    assert_eq!(
        statuses,
        ["201 Created", "422 Unprocessable Entity", "404 Not Found"]
    );
    assert_eq!(
        reply["entry"][1]["response"]["outcome"]["resourceType"],
        "OperationOutcome"
    );
    assert_eq!(
        observations(&s),
        before + 1,
        "only the good entry is stored"
    );
    validate(&[&reply]);
}

#[test]
fn a_read_only_integration_writes_nothing() {
    let s = scene();
    let before = observations(&s);
    let reader = s.app.service_token("clinical:read");
    let sent = nrs(&s.maria, Some(&s.goal), "2026-11-27T08:00:00Z", 4.0);
    let r = post_fhir(&s.app, &reader, "/fhir/r4/Observation", &sent, &[]);
    r.refusal(403);
    let r = post_fhir(
        &s.app,
        &reader,
        "/fhir/r4",
        &bundle("transaction", vec![entry(sent, "Observation")]),
        &[],
    );
    r.refusal(403);
    assert_eq!(observations(&s), before);
}
