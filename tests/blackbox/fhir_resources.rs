//! The rest of the FHIR read side: therapists, caregivers, care teams, episodes,
//! plans of care and goal versions, as each caller sees them, every resource checked
//! by the independent validator (`fhir.rs`).

use headway_tests::TestApp;
use serde_json::{json, Value};

use crate::{
    fhir::{entries, fhir, ids, next, scene, validate},
    goals::content,
};

const ADMIN: &str = "admin@riverside.example";
const OLIVIA: &str = "olivia.ot@riverside.example";
const PETER: &str = "peter.pt@riverside.example";
const MARIA: &str = "maria@client.example";
const SAM: &str = "sam@client.example";
const JUN: &str = "jun@client.example";
const LUCIA: &str = "lucia@family.example";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

fn token(app: &TestApp, login: &str) -> String {
    app.login(login).access
}

#[test]
fn therapists_are_practitioners_seen_by_staff_and_by_their_own_clients_only() {
    let app = TestApp::spawn();
    let (olivia, peter) = (app.user_id(OLIVIA), app.user_id(PETER));
    let admin = token(&app, ADMIN);

    let r = app.get(&admin, &format!("/fhir/r4/Practitioner/{olivia}"));
    let p = fhir(&r, "Practitioner").clone();
    assert_eq!(p["name"][0]["text"], "Olivia Okafor, OT");
    assert_eq!(
        p["telecom"][0],
        json!({"system": "email", "value": OLIVIA, "use": "work"})
    );
    assert_eq!(p["active"], true);
    assert_eq!(r.header("etag"), Some("W/\"1\""));
    let role = app.get(&admin, &format!("/fhir/r4/PractitionerRole/{peter}"));
    let role = fhir(&role, "PractitionerRole").clone();
    assert_eq!(
        role["practitioner"]["reference"],
        format!("Practitioner/{peter}")
    );
    assert_eq!(
        role["code"][0]["coding"][0],
        json!({"system": "http://snomed.info/sct", "code": "36682004", "display": "Physiotherapist"})
    );
    assert_eq!(
        role["organization"]["identifier"]["system"],
        "urn:headway:fhir:NamingSystem:organization"
    );

    // Staff search the clinic's therapists; the admin is no practitioner.
    let all = app.get(&admin, "/fhir/r4/Practitioner");
    assert_eq!(ids(&entries(fhir(&all, "Bundle"), "Practitioner")).len(), 2);
    let by_name = app.get(&admin, "/fhir/r4/Practitioner?name=OKAFOR");
    assert_eq!(
        ids(&entries(fhir(&by_name, "Bundle"), "Practitioner")),
        vec![olivia.clone()]
    );
    let admin_id = app.user_id(ADMIN);
    app.get(&admin, &format!("/fhir/r4/Practitioner/{admin_id}"))
        .refusal(404);
    let one_page = app.get(&admin, "/fhir/r4/PractitionerRole?_count=1");
    let first = fhir(&one_page, "Bundle").clone();
    let rest = next(&first).expect("a next link");
    let second = app.get(&admin, &rest);
    let mut both = ids(&entries(&first, "PractitionerRole"));
    both.extend(ids(&entries(fhir(&second, "Bundle"), "PractitionerRole")));
    both.sort();
    let mut expected = vec![olivia.clone(), peter.clone()];
    expected.sort();
    assert_eq!(both, expected);
    let included = app.get(
        &admin,
        &format!("/fhir/r4/PractitionerRole?practitioner=Practitioner/{olivia}&_include=PractitionerRole:practitioner"),
    );
    let included = fhir(&included, "Bundle").clone();
    assert_eq!(
        included["entry"][0]["resource"]["code"][0]["coding"][0]["code"], "80546007",
        "occupational therapist"
    );
    assert_eq!(
        ids(&entries(&included, "Practitioner")),
        vec![olivia.clone()]
    );

    // A client sees the therapists of their own care team; others are not there.
    let sam = token(&app, SAM);
    app.get(&sam, &format!("/fhir/r4/Practitioner/{olivia}"))
        .ok(200);
    app.get(&sam, &format!("/fhir/r4/Practitioner/{peter}"))
        .refusal(404);
    app.get(&sam, &format!("/fhir/r4/PractitionerRole/{peter}"))
        .refusal(404);
    let seen = app.get(&sam, "/fhir/r4/Practitioner");
    assert_eq!(
        ids(&entries(fhir(&seen, "Bundle"), "Practitioner")),
        vec![olivia.clone()]
    );
    let jun = token(&app, JUN);
    app.get(&jun, &format!("/fhir/r4/Practitioner/{olivia}"))
        .refusal(404);
    // Lucia follows Maria, whose team is both.
    let lucia = token(&app, LUCIA);
    let hers = app.get(&lucia, "/fhir/r4/PractitionerRole");
    assert_eq!(entries(fhir(&hers, "Bundle"), "PractitionerRole").len(), 2);

    validate(&[
        &p,
        &role,
        fhir(&all, "Bundle"),
        &first,
        &included,
        fhir(&seen, "Bundle"),
    ]);
}

#[test]
fn caregivers_are_related_persons_of_their_client_as_the_caregiver_link_is_visible() {
    let s = scene();
    let (app, maria) = (&s.app, &s.maria);
    let r = app.get(
        &s.olivia,
        &format!("/fhir/r4/RelatedPerson?patient={maria}"),
    );
    let bundle = fhir(&r, "Bundle").clone();
    let found = entries(&bundle, "RelatedPerson");
    assert_eq!(found.len(), 1, "{}", r.text);
    let lucia = found[0].clone();
    assert_eq!(lucia["patient"]["reference"], format!("Patient/{maria}"));
    assert_eq!(lucia["name"][0]["text"], "Lucia Lopez");
    assert_eq!(lucia["active"], true);
    assert_eq!(
        lucia["relationship"][0]["coding"][0],
        json!({"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code": "CAREGIVER", "display": "caregiver"})
    );
    assert_eq!(lucia["relationship"][1]["coding"][0]["code"], "DAU");
    assert_eq!(lucia["relationship"][1]["text"], "daughter");
    let link = id(&lucia);
    let read = app.get(&s.olivia, &format!("/fhir/r4/RelatedPerson/{link}"));
    assert_eq!(fhir(&read, "RelatedPerson")["id"], link.as_str());
    // Maria and Lucia see the link; Sam and Jun's therapist do not.
    app.get(
        &token(app, MARIA),
        &format!("/fhir/r4/RelatedPerson/{link}"),
    )
    .ok(200);
    app.get(
        &token(app, LUCIA),
        &format!("/fhir/r4/RelatedPerson/{link}"),
    )
    .ok(200);
    app.get(&token(app, SAM), &format!("/fhir/r4/RelatedPerson/{link}"))
        .refusal(404);
    app.get(
        &token(app, PETER),
        &format!("/fhir/r4/RelatedPerson/{link}"),
    )
    .ok(200);
    let jun_team = token(app, JUN);
    app.get(
        &jun_team,
        &format!("/fhir/r4/RelatedPerson?patient={maria}"),
    )
    .refusal(404);

    // A revoked link is no longer active, and its period ends.
    let admin = token(app, ADMIN);
    app.delete(
        &admin,
        &format!("/api/v1/clients/{maria}/caregivers/{link}"),
    );
    let revoked = app.get(&s.olivia, &format!("/fhir/r4/RelatedPerson/{link}"));
    let revoked = fhir(&revoked, "RelatedPerson").clone();
    assert_eq!(revoked["active"], false);
    assert!(revoked["period"]["end"].is_string(), "{revoked}");
    let standing = app.get(
        &s.olivia,
        &format!("/fhir/r4/RelatedPerson?patient={maria}&active=true"),
    );
    assert!(entries(fhir(&standing, "Bundle"), "RelatedPerson").is_empty());
    validate(&[&bundle, &revoked]);
}

#[test]
fn a_clients_care_team_episodes_and_plans_of_care() {
    let s = scene();
    let (app, maria) = (&s.app, &s.maria);
    let olivia_id = app.user_id(OLIVIA);

    let team = app.get(&s.olivia, &format!("/fhir/r4/CareTeam/{maria}"));
    let team = fhir(&team, "CareTeam").clone();
    assert_eq!(team["status"], "active");
    assert_eq!(team["subject"]["reference"], format!("Patient/{maria}"));
    let members: Vec<&str> = team["participant"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["member"]["display"].as_str())
        .collect();
    assert_eq!(members, vec!["Olivia Okafor, OT", "Peter Park, PT"]);
    assert_eq!(
        team["participant"][0]["role"][0]["coding"][0]["code"],
        "primary"
    );
    assert_eq!(
        team["participant"][0]["role"][1]["coding"][0]["code"],
        "80546007"
    );
    let searched = app.get(
        &s.olivia,
        &format!("/fhir/r4/CareTeam?patient={maria}&status=active"),
    );
    assert_eq!(
        ids(&entries(fhir(&searched, "Bundle"), "CareTeam")),
        vec![maria.clone()]
    );
    let inactive = app.get(
        &s.olivia,
        &format!("/fhir/r4/CareTeam?patient={maria}&status=inactive"),
    );
    assert!(entries(fhir(&inactive, "Bundle"), "CareTeam").is_empty());
    app.get(&token(app, JUN), &format!("/fhir/r4/CareTeam/{maria}"))
        .refusal(404);

    let episode = app.get(&s.olivia, &format!("/fhir/r4/EpisodeOfCare/{}", s.episode));
    let episode = fhir(&episode, "EpisodeOfCare").clone();
    let json_episode = app
        .get(
            &s.olivia,
            &format!("/api/v1/clients/{maria}/episodes/{}", s.episode),
        )
        .ok(200)
        .clone();
    assert_eq!(episode["status"], json_episode["status"]);
    assert_eq!(episode["patient"]["reference"], format!("Patient/{maria}"));
    assert_eq!(
        episode["careManager"]["reference"],
        format!("Practitioner/{olivia_id}")
    );
    assert_eq!(episode["team"][0]["reference"], format!("CareTeam/{maria}"));
    assert_eq!(episode["period"]["start"], json_episode["start_date"]);
    let status = json_episode["status"].as_str().unwrap_or_default();
    let found = app.get(
        &s.olivia,
        &format!("/fhir/r4/EpisodeOfCare?patient={maria}&status={status}"),
    );
    assert!(ids(&entries(fhir(&found, "Bundle"), "EpisodeOfCare")).contains(&s.episode));
    app.get(
        &token(app, SAM),
        &format!("/fhir/r4/EpisodeOfCare/{}", s.episode),
    )
    .refusal(404);

    // The plan of care lists the episode's goals and its home programme.
    let activity = app
        .post(
            &s.olivia,
            &format!("/api/v1/clients/{maria}/episodes/{}/activities", s.episode),
            &json!({"goal_id": s.goal, "prescription": crate::home::prescription(4)}),
        )
        .ok(201)
        .clone();
    let plan = app.get(&s.olivia, &format!("/fhir/r4/CarePlan/{}", s.episode));
    let plan = fhir(&plan, "CarePlan").clone();
    assert_eq!(plan["intent"], "plan");
    assert_eq!(plan["subject"]["reference"], format!("Patient/{maria}"));
    assert_eq!(
        plan["goal"],
        json!([{"reference": format!("Goal/{}", s.goal)}])
    );
    let detail = &plan["activity"][0]["detail"];
    assert_eq!(
        detail["code"]["text"],
        activity["prescription"]["instructions"]
    );
    assert_eq!(detail["status"], "in-progress");
    assert_eq!(detail["goal"][0]["reference"], format!("Goal/{}", s.goal));
    assert_eq!(
        detail["scheduledTiming"]["repeat"]["frequency"], 4,
        "four times a week: {detail}"
    );
    assert_eq!(detail["scheduledTiming"]["repeat"]["periodUnit"], "wk");
    let with_goals = app.get(
        &s.olivia,
        &format!(
            "/fhir/r4/CarePlan?patient={maria}&_id={}&_include=CarePlan:goal",
            s.episode
        ),
    );
    let with_goals = fhir(&with_goals, "Bundle").clone();
    assert_eq!(
        ids(&entries(&with_goals, "CarePlan")),
        vec![s.episode.clone()]
    );
    assert_eq!(ids(&entries(&with_goals, "Goal")), vec![s.goal.clone()]);
    let maria_own = app.get(&token(app, MARIA), "/fhir/r4/CarePlan");
    assert!(ids(&entries(fhir(&maria_own, "Bundle"), "CarePlan")).contains(&s.episode));
    app.get(
        &token(app, SAM),
        &format!("/fhir/r4/CarePlan/{}", s.episode),
    )
    .refusal(404);
    validate(&[&team, &episode, fhir(&found, "Bundle"), &plan, &with_goals]);
}

#[test]
fn every_change_of_a_goal_is_a_version_served_as_it_was() {
    let s = scene();
    let (app, maria, goal) = (&s.app, &s.maria, &s.goal);
    // Proposed by Olivia (1), agreed by Maria (2: active), revised by Olivia (3).
    let me = token(app, MARIA);
    app.post(
        &me,
        &format!("/api/v1/clients/{maria}/goals/{goal}/agreement"),
        &json!({}),
    )
    .ok(200);
    app.post(
        &s.olivia,
        &format!("/api/v1/clients/{maria}/goals/{goal}/revisions"),
        &content("Cook dinner for my kids again"),
    )
    .ok(201);

    let history = app.get(&s.olivia, &format!("/fhir/r4/Goal/{goal}/_history"));
    let history = fhir(&history, "Bundle").clone();
    assert_eq!(history["type"], "history");
    let versions: Vec<(String, String)> = entries(&history, "Goal")
        .iter()
        .map(|g| {
            (
                g["meta"]["versionId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                g["lifecycleStatus"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected = [("3", "proposed"), ("2", "active"), ("1", "proposed")]
        .map(|(v, s)| (v.to_owned(), s.to_owned()));
    assert_eq!(versions, expected);
    assert_eq!(history["entry"][2]["request"]["method"], "POST");

    let first = app.get(&s.olivia, &format!("/fhir/r4/Goal/{goal}/_history/1"));
    assert_eq!(first.header("etag"), Some("W/\"1\""));
    let first = fhir(&first, "Goal").clone();
    let words = |g: &Value| {
        g["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["url"] == "urn:headway:fhir:StructureDefinition:client-words")
            .map(|e| e["valueString"].clone())
    };
    assert_eq!(words(&first), Some(json!("Cook dinner for my kids")));
    let second = app.get(&s.olivia, &format!("/fhir/r4/Goal/{goal}/_history/2"));
    let second = fhir(&second, "Goal").clone();
    let agreement = |g: &Value| {
        g["extension"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["url"] == "urn:headway:fhir:StructureDefinition:goal-agreement")
            .cloned()
    };
    assert_eq!(
        agreement(&second).map(|a| a["extension"].clone()),
        Some(
            json!([{"url": "client", "valueBoolean": true}, {"url": "team", "valueBoolean": true}])
        )
    );
    // The current version is the Goal a read gives.
    let current = app.get(&s.olivia, &format!("/fhir/r4/Goal/{goal}/_history/3"));
    let read = app.get(&s.olivia, &format!("/fhir/r4/Goal/{goal}"));
    assert_eq!(fhir(&current, "Goal"), fhir(&read, "Goal"));
    assert_eq!(
        words(fhir(&read, "Goal")),
        Some(json!("Cook dinner for my kids again"))
    );
    for missing in ["0", "4", "x"] {
        app.get(
            &s.olivia,
            &format!("/fhir/r4/Goal/{goal}/_history/{missing}"),
        )
        .refusal(404);
    }
    app.get(&token(app, SAM), &format!("/fhir/r4/Goal/{goal}/_history"))
        .refusal(404);
    validate(&[&history, &first, &second]);
}

#[test]
fn a_clients_access_log_is_audit_events_for_those_who_may_read_it() {
    let s = scene();
    let (app, maria) = (&s.app, &s.maria);
    app.get(&s.olivia, &format!("/fhir/r4/Patient/{maria}"))
        .ok(200);
    let admin = token(app, ADMIN);
    let r = app.get(
        &admin,
        &format!("/fhir/r4/AuditEvent?patient={maria}&_count=2"),
    );
    let bundle = fhir(&r, "Bundle").clone();
    let events = entries(&bundle, "AuditEvent");
    assert_eq!(events.len(), 2, "{}", r.text);
    let olivia = app.user_id(OLIVIA);
    let read = events
        .iter()
        .find(|e| e["subtype"][0]["code"] == "client.read")
        .unwrap_or_else(|| panic!("Olivia's read is in the log: {}", r.text));
    assert_eq!(
        read["agent"][0]["who"]["reference"],
        format!("Practitioner/{olivia}")
    );
    assert_eq!(read["action"], "R");
    assert_eq!(read["outcome"], "0");
    assert_eq!(read["type"]["code"], "110110");
    assert_eq!(
        read["entity"][0]["what"]["reference"],
        format!("Patient/{maria}")
    );
    // Older entries page on.
    let older = app.get(&admin, &next(&bundle).expect("a next link"));
    let older = fhir(&older, "Bundle").clone();
    assert!(!entries(&older, "AuditEvent").is_empty());
    // Her own login reads her log; her therapist may not, another client's does not see it.
    let own = app.get(&token(app, MARIA), "/fhir/r4/AuditEvent?_count=3");
    assert_eq!(entries(fhir(&own, "Bundle"), "AuditEvent").len(), 3);
    app.get(&s.olivia, &format!("/fhir/r4/AuditEvent?patient={maria}"))
        .refusal(403);
    app.get(
        &token(app, JUN),
        &format!("/fhir/r4/AuditEvent?patient={maria}"),
    )
    .refusal(404);
    validate(&[&bundle, &older]);
}
