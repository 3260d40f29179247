//! The FHIR R4 door: what an EHR sees at /fhir/r4, checked against the JSON API's
//! records and, resource by resource, against an independent implementation of the
//! R4 models (fhir.resources, in .venv-fhir/ that `make deps` makes).

use std::{
    collections::BTreeSet,
    io::Write,
    process::{Command, Stdio},
};

use chrono::{Duration, Utc};
use headway_tests::{Reply, TestApp};
use serde_json::{json, Value};

use crate::goals::{content, episode};

/// Runs every resource (and every resource inside a Bundle) through the independent
/// validator; fails naming each one it refuses.
#[track_caller]
pub fn validate(bodies: &[&Value]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join("../.venv-fhir/bin/python");
    assert!(
        python.exists(),
        "the FHIR validator is missing: run ./scripts/fhir-validator.sh (make deps does)"
    );
    let mut input = String::new();
    for body in bodies {
        input.push_str(&body.to_string());
        input.push('\n');
    }
    let mut child = Command::new(python)
        .arg(root.join("fhir_validate.py"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the validator starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input.as_bytes())
        .expect("the validator reads");
    let out = child.wait_with_output().expect("the validator ends");
    let said = String::from_utf8_lossy(&out.stdout);
    let refused: Vec<&str> = said.lines().filter(|l| l.starts_with("invalid")).collect();
    assert!(refused.is_empty(), "fhir.resources refused: {refused:#?}");
    assert_eq!(said.lines().count(), bodies.len(), "{said}");
}

/// A FHIR answer: 200, FHIR JSON, the given resource type.
#[track_caller]
pub fn fhir<'a>(r: &'a Reply, kind: &str) -> &'a Value {
    assert_eq!(r.status.as_u16(), 200, "{}", r.text);
    assert_eq!(
        r.header("content-type"),
        Some("application/fhir+json; fhirVersion=4.0")
    );
    assert_eq!(r.body["resourceType"], kind, "{}", r.text);
    &r.body
}

pub fn entries<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

pub fn ids(resources: &[&Value]) -> Vec<String> {
    resources
        .iter()
        .map(|r| r["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The next link's path and query, relative to the server.
pub fn next(bundle: &Value) -> Option<String> {
    bundle["link"]
        .as_array()?
        .iter()
        .find(|l| l["relation"] == "next")
        .and_then(|l| l["url"].as_str())
        .and_then(|u| u.find("/fhir/r4/").map(|i| u[i..].to_owned()))
}

pub struct Scene {
    pub app: TestApp,
    pub olivia: String,
    pub maria: String,
    pub episode: String,
    pub goal: String,
}

pub fn scene() -> Scene {
    let app = TestApp::spawn();
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
        olivia,
        maria,
        episode,
        goal,
    }
}

impl Scene {
    /// Records an NRS rating of the scene's goal, observed `days_ago`; its id.
    fn rate(&self, value: i64, days_ago: i64) -> String {
        let at = Utc::now() - Duration::days(days_ago);
        let r = self.app.post(
            &self.olivia,
            &format!(
                "/api/v1/clients/{}/episodes/{}/measurements",
                self.maria, self.episode
            ),
            &json!({"goal_id": self.goal, "measure_code": "nrs", "values": {"value": value},
                    "observed_at": at.to_rfc3339()}),
        );
        r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
    }

    fn get(&self, path: &str) -> Reply {
        self.app.get(&self.olivia, path)
    }
}

#[test]
fn the_capability_statement_lists_exactly_what_is_served() {
    let s = scene();
    let r = s.app.send(s.app.http.get(s.app.url("/fhir/r4/metadata")));
    let statement = fhir(&r, "CapabilityStatement").clone();
    assert_eq!(statement["fhirVersion"], "4.0.1");
    validate(&[&statement]);

    // What the route table serves under /fhir/r4, read from the served document.
    let doc = s.app.send(s.app.http.get(s.app.url("/openapi.json"))).body;
    let mut served = BTreeSet::new();
    let mut system = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        if path == "/fhir/r4" {
            assert!(item.get("post").is_some(), "{path}");
            system.extend(["transaction".to_owned(), "batch".to_owned()]);
            continue;
        }
        let Some(rest) = path.strip_prefix("/fhir/r4/") else {
            continue;
        };
        let parts: Vec<&str> = rest.split('/').collect();
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_none() {
                continue;
            }
            let code = match (parts.as_slice(), method) {
                (["metadata"], _) => continue,
                // SMART's discovery document, not a resource (`smart.rs`).
                ([".well-known", "smart-configuration"], _) => continue,
                ([_], "get") => "search-type",
                ([_], "post") => "create",
                ([_, _], "get") => "read",
                ([_, _, "_history"], "get") => "history-instance",
                ([_, _, "_history", _], "get") => "vread",
                _ => panic!("a FHIR route the statement cannot name: {method} {path}"),
            };
            served.insert((parts[0].to_owned(), code.to_owned()));
        }
    }
    let stated_system: BTreeSet<String> = statement["rest"][0]["interaction"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["code"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(stated_system, system);
    let mut stated = BTreeSet::new();
    let resources = statement["rest"][0]["resource"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for resource in &resources {
        let kind = resource["type"].as_str().unwrap_or_default().to_owned();
        for i in resource["interaction"].as_array().into_iter().flatten() {
            stated.insert((
                kind.clone(),
                i["code"].as_str().unwrap_or_default().to_owned(),
            ));
        }
    }
    assert!(served.len() >= 8, "{served:?}");
    assert_eq!(stated, served);

    // Each search parameter it lists is one the server reads; any other is refused
    // by name, or ignored and said to be under Prefer: handling=lenient.
    let olivia_id = s.app.user_id("olivia.ot@riverside.example");
    let sample = |kind: &str, name: &str| -> String {
        match (kind, name) {
            (_, "patient" | "subject") => format!("Patient/{}", s.maria),
            (_, "focus") => format!("Goal/{}", s.goal),
            (_, "birthdate" | "date" | "target-date" | "_lastUpdated") => "ge2000-01-01".into(),
            (_, "_sort") => "-date".into(),
            (_, "identifier") => "urn:demo-ehr:mrn|MRN-1001".into(),
            (_, "category") => "survey".into(),
            (_, "lifecycle-status") => "active".into(),
            (_, "achievement-status") => "in-progress".into(),
            (_, "active") => "true".into(),
            (_, "_id") => s.maria.clone(),
            (_, "practitioner") => format!("Practitioner/{olivia_id}"),
            ("CareTeam", "status") => "active".into(),
            ("CarePlan", "status") | ("EpisodeOfCare", "status") => "active".into(),
            (_, "intent") => "plan".into(),
            _ => "x".into(),
        }
    };
    // The access log is the admin's (and the client's) to read; the rest, her therapist's.
    let admin = s.app.login("admin@riverside.example").access;
    let reader = |kind: &str| match kind {
        "AuditEvent" => admin.as_str(),
        _ => s.olivia.as_str(),
    };
    // The searches that run within one client's record, and those of the clinic.
    let within_a_record =
        |kind: &str| !matches!(kind, "Patient" | "Practitioner" | "PractitionerRole");
    let mut answers = Vec::new();
    for resource in &resources {
        let kind = resource["type"].as_str().unwrap_or_default();
        for p in resource["searchParam"].as_array().into_iter().flatten() {
            let name = p["name"].as_str().unwrap_or_default();
            let mut q = format!("{name}={}", sample(kind, name).replace('|', "%7C"));
            if within_a_record(kind) && name != "patient" && name != "subject" {
                q.push_str(&format!("&patient={}", s.maria));
            }
            let r = s.app.get(reader(kind), &format!("/fhir/r4/{kind}?{q}"));
            answers.push(fhir(&r, "Bundle").clone());
        }
        let scope = match within_a_record(kind) {
            false => String::new(),
            true => format!("patient={}&", s.maria),
        };
        let r = s
            .app
            .get(reader(kind), &format!("/fhir/r4/{kind}?{scope}made-up=1"));
        let o = r.refusal(400);
        assert_eq!(
            o["issue"][0]["expression"][0], "made-up",
            "{kind}: {}",
            r.text
        );
        let lenient = s.app.send(
            s.app
                .http
                .get(s.app.url(&format!("/fhir/r4/{kind}?{scope}made-up=1")))
                .bearer_auth(reader(kind))
                .header("Prefer", "handling=lenient"),
        );
        let bundle = fhir(&lenient, "Bundle");
        let said = entries(bundle, "OperationOutcome");
        assert_eq!(said.len(), 1, "{kind}: {}", lenient.text);
        assert_eq!(said[0]["issue"][0]["expression"][0], "made-up");
        answers.push(bundle.clone());
    }
    validate(&answers.iter().collect::<Vec<_>>());
}

#[test]
fn patients_are_the_client_records_the_caller_may_see() {
    let s = scene();
    let record = s
        .get(&format!("/api/v1/clients/{}", s.maria))
        .ok(200)
        .clone();
    let r = s.get(&format!("/fhir/r4/Patient/{}", s.maria));
    let patient = fhir(&r, "Patient").clone();
    assert_eq!(patient["id"], s.maria.as_str());
    assert_eq!(patient["name"][0]["text"], record["name"]);
    assert_eq!(patient["birthDate"], record["date_of_birth"]);
    assert_eq!(
        patient["meta"]["versionId"],
        record["version"].to_string().as_str()
    );
    assert_eq!(
        r.header("etag"),
        Some(format!("W/\"{}\"", record["version"]).as_str())
    );
    let ident = &record["identifiers"][0];
    assert_eq!(patient["identifier"][0]["system"], ident["system"]);
    assert_eq!(patient["identifier"][0]["value"], ident["value"]);

    let by = |query: &str, token: &str| -> Vec<String> {
        let r = s.app.get(token, &format!("/fhir/r4/Patient?{query}"));
        ids(&entries(fhir(&r, "Bundle"), "Patient"))
    };
    let pair = format!(
        "identifier={}|{}",
        ident["system"].as_str().unwrap_or_default(),
        ident["value"].as_str().unwrap_or_default()
    );
    assert_eq!(by(&pair, &s.olivia), vec![s.maria.clone()]);
    let value_only = format!("identifier={}", ident["value"].as_str().unwrap_or_default());
    assert_eq!(by(&value_only, &s.olivia), vec![s.maria.clone()]);
    assert_eq!(by("name=LOPEZ", &s.olivia), vec![s.maria.clone()]);
    assert_eq!(
        by("name=%25", &s.olivia),
        Vec::<String>::new(),
        "a wildcard is taken literally"
    );
    // Birth dates, on a client registered with one.
    let admin = s.app.login("admin@riverside.example").access;
    let ana = s
        .app
        .post(
            &admin,
            "/api/v1/clients",
            &json!({"name": "Ana Silva", "date_of_birth": "1961-04-02"}),
        )
        .ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let born = |q: &str| by(&format!("name=silva&{q}"), &admin);
    assert_eq!(born("birthdate=1961-04-02"), vec![ana.clone()]);
    assert_eq!(born("birthdate=1961-04"), vec![ana.clone()]);
    assert_eq!(born("birthdate=gt1961-04-02"), Vec::<String>::new());
    assert_eq!(
        born("birthdate=ge1961-04-02&birthdate=lt1961-04-03"),
        vec![ana.clone()]
    );
    assert_eq!(born("birthdate=lt1961-04-02"), Vec::<String>::new());
    assert_eq!(born("birthdate=le1961"), vec![ana.clone()]);
    let r = s.app.get(&admin, &format!("/fhir/r4/Patient/{ana}"));
    assert_eq!(fhir(&r, "Patient")["birthDate"], "1961-04-02");
    let ana_patient = r.body.clone();

    // Peter is not on Samuel's care team: no Patient, by search or by id.
    let peter = s.app.login("peter.pt@riverside.example").access;
    let sam = s.app.client_id("Samuel Osei");
    assert_eq!(by("name=osei", &peter), Vec::<String>::new());
    assert_eq!(by("name=osei", &s.olivia), vec![sam.clone()]);
    let hidden = s.app.get(&peter, &format!("/fhir/r4/Patient/{sam}"));
    hidden.refusal(404);
    let made_up = s.app.get(
        &peter,
        &format!("/fhir/r4/Patient/{}", uuid::Uuid::now_v7()),
    );
    assert_eq!(
        hidden.body, made_up.body,
        "a hidden record reads like a missing one"
    );

    // Pages follow next links to the end without repeats.
    let mut seen = Vec::new();
    let mut url = Some("/fhir/r4/Patient?_count=1".to_owned());
    let mut bundles = Vec::new();
    while let Some(u) = url {
        let r = s.app.get(&admin, &u);
        let b = fhir(&r, "Bundle").clone();
        seen.extend(ids(&entries(&b, "Patient")));
        url = next(&b);
        bundles.push(b);
    }
    let all = s
        .app
        .get(&admin, "/api/v1/clients?limit=100")
        .ok(200)
        .clone();
    let listed: Vec<String> = all["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| c["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(seen, listed);
    bundles.extend([patient, ana_patient]);
    validate(&bundles.iter().collect::<Vec<_>>());
}

#[test]
fn observations_page_stably_and_filter_by_date_as_fhir_says() {
    let s = scene();
    // Seven ratings, one a day, the oldest first.
    let recorded: Vec<String> = (0..7).rev().map(|d| s.rate(3 + (d % 5), 10 + d)).collect();
    let search = |query: &str| -> Value {
        let r = s.get(&format!(
            "/fhir/r4/Observation?patient=Patient/{}&{query}",
            s.maria
        ));
        fhir(&r, "Bundle").clone()
    };
    let mut bundles = Vec::new();
    let mut seen = Vec::new();
    let mut url = Some(format!(
        "/fhir/r4/Observation?subject={}&code=nrs&_count=3",
        s.maria
    ));
    let mut page = 0;
    while let Some(u) = url {
        let r = s.get(&u);
        let b = fhir(&r, "Bundle").clone();
        seen.extend(ids(&entries(&b, "Observation")));
        url = next(&b);
        if page == 0 {
            // Recorded while the EHR pages, observed before its first page: the
            // pages already given stand, and nothing is skipped or repeated.
            s.rate(9, 30);
            s.rate(9, 1);
        }
        page += 1;
        bundles.push(b);
    }
    assert_eq!(page, 3, "7 + 1 newer ratings, 3 a page");
    assert_eq!(&seen[..7], &recorded[..], "oldest first, by time observed");
    assert_eq!(
        seen.len(),
        8,
        "the newer one comes on a later page: {seen:?}"
    );

    let newest = search("code=nrs&_sort=-date&_count=2");
    let first_two = ids(&entries(&newest, "Observation"));
    assert_eq!(first_two[1], recorded[6]);

    let count = search("code=nrs&_summary=count");
    assert_eq!(count["total"], 9);
    assert!(entries(&count, "Observation").is_empty());

    // Dates: day precision, each prefix.
    let day = |d: i64| (Utc::now() - Duration::days(d)).date_naive().to_string();
    let on = |q: String| ids(&entries(&search(&format!("code=nrs&{q}")), "Observation"));
    assert_eq!(on(format!("date={}", day(12))), vec![recorded[4].clone()]);
    assert_eq!(
        on(format!("date=ge{}&date=le{}", day(12), day(11))),
        vec![recorded[4].clone(), recorded[5].clone()]
    );
    assert_eq!(
        on(format!("date=gt{}&date=lt{}", day(13), day(11))),
        vec![recorded[4].clone()]
    );
    assert_eq!(
        on(format!("date=lt{}", day(29))).len(),
        1,
        "the rating of 30 days ago"
    );
    assert_eq!(on("date=le2000".into()), Vec::<String>::new());

    // A focus, a category and a code that Headway never records.
    assert_eq!(on(format!("focus=Goal/{}&_count=100", s.goal)).len(), 9);
    assert_eq!(on("category=survey".into()), Vec::<String>::new());
    assert_eq!(on("category=therapy&_count=100".into()).len(), 9);
    assert_eq!(
        on("code=http://loinc.org|9279-1".into()),
        Vec::<String>::new()
    );

    // _include the goal rated and the patient.
    let with = search("code=nrs&_count=1&_include=Observation:focus&_include=Observation:patient");
    assert_eq!(ids(&entries(&with, "Goal")), vec![s.goal.clone()]);
    assert_eq!(ids(&entries(&with, "Patient")), vec![s.maria.clone()]);
    bundles.extend([newest, count, with]);
    validate(&bundles.iter().collect::<Vec<_>>());
}

#[test]
fn a_correction_is_a_new_version_of_the_same_observation() {
    let s = scene();
    let first = s.rate(4, 2);
    let base = format!("/api/v1/clients/{}/measurements", s.maria);
    // The same search before and after the correction (a polling EHR's): the answer
    // follows the data, however it is served.
    let polled = format!("/fhir/r4/Observation?patient={}&code=nrs", s.maria);
    let before = s.get(&polled);
    assert_eq!(
        entries(fhir(&before, "Bundle"), "Observation")[0]["meta"]["versionId"],
        "1"
    );
    assert_eq!(s.get(&polled).text, before.text);
    let amended = s.app.post(
        &s.olivia,
        &format!("{base}/{first}/corrections"),
        &json!({"reason": "typo: it was 5", "values": {"value": 5}}),
    );
    let second = amended.ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();

    let r = s.get(&format!("/fhir/r4/Observation/{first}"));
    let now = fhir(&r, "Observation").clone();
    assert_eq!(
        (now["meta"]["versionId"].as_str(), now["status"].as_str()),
        (Some("2"), Some("amended"))
    );
    assert_eq!(now["valueQuantity"]["value"], 5);
    assert_eq!(r.header("etag"), Some("W/\"2\""));
    let v1 = s.get(&format!("/fhir/r4/Observation/{first}/_history/1"));
    let then = fhir(&v1, "Observation").clone();
    assert_eq!(
        (then["status"].as_str(), then["id"].as_str()),
        (Some("final"), Some(first.as_str()))
    );
    assert_eq!(then["valueQuantity"]["value"], 4);
    let history = s.get(&format!("/fhir/r4/Observation/{first}/_history"));
    let h = fhir(&history, "Bundle").clone();
    assert_eq!(h["type"], "history");
    let versions: Vec<&str> = entries(&h, "Observation")
        .iter()
        .filter_map(|o| o["meta"]["versionId"].as_str())
        .collect();
    assert_eq!(versions, vec!["2", "1"]);
    s.get(&format!("/fhir/r4/Observation/{first}/_history/3"))
        .refusal(404);
    // The later version's own id is no logical id of its own.
    s.get(&format!("/fhir/r4/Observation/{second}"))
        .refusal(404);
    // A search finds the Observation once, by its logical id, in its latest version.
    let found = s.get(&format!(
        "/fhir/r4/Observation?patient={}&code=nrs",
        s.maria
    ));
    let b = fhir(&found, "Bundle").clone();
    let listed = entries(&b, "Observation");
    assert_eq!(ids(&listed), vec![first.clone()]);
    assert_eq!(listed[0]["meta"]["versionId"], "2");

    // Withdrawn: entered-in-error, still there for the EHR to learn of.
    let withdrawn = s.app.post(
        &s.olivia,
        &format!("{base}/{second}/corrections"),
        &json!({"reason": "wrong client", "withdraw": true}),
    );
    withdrawn.ok(201);
    let r = s.get(&format!("/fhir/r4/Observation/{first}"));
    assert_eq!(fhir(&r, "Observation")["status"], "entered-in-error");
    validate(&[&now, &then, &h, &b, &r.body]);
}

#[test]
fn goals_carry_the_clients_words_their_status_and_their_ratings() {
    let s = scene();
    let rating = s.rate(6, 3);
    let r = s.get(&format!("/fhir/r4/Goal/{}", s.goal));
    let goal = fhir(&r, "Goal").clone();
    assert_eq!(goal["lifecycleStatus"], "proposed");
    assert_eq!(
        goal["subject"]["reference"],
        format!("Patient/{}", s.maria).as_str()
    );
    assert_eq!(
        goal["description"]["text"],
        "Measurable: Cook dinner for my kids"
    );
    let words = goal["extension"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["url"] == "urn:headway:fhir:StructureDefinition:client-words")
        .map(|e| e["valueString"].clone());
    assert_eq!(words, Some(json!("Cook dinner for my kids")));
    assert_eq!(goal["identifier"][0]["value"], "1");
    assert_eq!(goal["target"][0]["detailQuantity"]["value"], 8);
    assert_eq!(
        goal["outcomeReference"][0]["reference"],
        format!("Observation/{rating}").as_str()
    );

    // Maria agrees: the goal is active, as a search by status shows.
    let me = s.app.login("maria@client.example").access;
    s.app
        .post(
            &me,
            &format!("/api/v1/clients/{}/goals/{}/agreement", s.maria, s.goal),
            &json!({}),
        )
        .ok(200);
    let by = |q: &str| {
        let r = s.get(&format!("/fhir/r4/Goal?patient={}&{q}", s.maria));
        fhir(&r, "Bundle").clone()
    };
    assert_eq!(
        ids(&entries(&by("lifecycle-status=active"), "Goal")),
        vec![s.goal.clone()]
    );
    assert!(entries(&by("lifecycle-status=proposed,completed"), "Goal").is_empty());
    let with = by("lifecycle-status=active&_revinclude=Observation:focus");
    assert_eq!(ids(&entries(&with, "Observation")), vec![rating.clone()]);

    // A client's own login searches their own record without naming it.
    let own = s.app.get(&me, "/fhir/r4/Goal");
    assert_eq!(
        ids(&entries(fhir(&own, "Bundle"), "Goal")),
        vec![s.goal.clone()]
    );
    let sam = s.app.client_id("Samuel Osei");
    s.app
        .get(&me, &format!("/fhir/r4/Observation?patient={sam}"))
        .refusal(404);
    validate(&[&goal, &with, &own.body]);
}

#[test]
fn gas_and_copm_use_the_person_centered_outcomes_codes() {
    let s = scene();
    let gas = json!({"levels": ["cannot", "with help", "alone, slowly", "alone", "for guests"], "baseline": -1});
    let mut c = content("Have friends round for a meal");
    c["gas"] = gas;
    c["measure_code"] = json!("gas");
    c["target_value"] = json!(0);
    let goal = s
        .app
        .post(
            &s.olivia,
            &format!("/api/v1/clients/{}/episodes/{}/goals", s.maria, s.episode),
            &json!({"content": c}),
        )
        .ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let path = format!(
        "/api/v1/clients/{}/episodes/{}/measurements",
        s.maria, s.episode
    );
    s.app
        .post(
            &s.olivia,
            &path,
            &json!({"goal_id": goal, "measure_code": "gas", "values": {"value": 1}}),
        )
        .ok(201);
    let copm = json!({"problems": [
        {"problem": "Cooking dinner", "importance": 9, "performance": 4, "satisfaction": 3},
        {"problem": "Dressing", "importance": 7, "performance": 6, "satisfaction": 5}]});
    s.app
        .post(
            &s.olivia,
            &path,
            &json!({"measure_code": "copm", "values": copm}),
        )
        .ok(201);
    let r = s.get(&format!(
        "/fhir/r4/Observation?patient={}&code=http://loinc.org|107333-7",
        s.maria
    ));
    let b = fhir(&r, "Bundle").clone();
    let found = entries(&b, "Observation");
    assert_eq!(found.len(), 1, "{}", r.text);
    assert_eq!(found[0]["code"]["coding"][0]["code"], "107333-7");
    assert_eq!(
        found[0]["valueCodeableConcept"]["coding"][0]["code"],
        "LA34480-6"
    );
    assert_eq!(
        found[0]["focus"][0]["reference"],
        format!("Goal/{goal}").as_str()
    );
    assert_eq!(found[0]["category"][0]["coding"][0]["code"], "survey");
    // The patient's own follow-up code finds no therapist rating.
    let theirs = s.get(&format!(
        "/fhir/r4/Observation?patient={}&code=http://loinc.org|107334-5",
        s.maria
    ));
    assert!(entries(fhir(&theirs, "Bundle"), "Observation").is_empty());

    let r = s.get(&format!(
        "/fhir/r4/Observation?patient={}&code=copm",
        s.maria
    ));
    let cb = fhir(&r, "Bundle").clone();
    let o = entries(&cb, "Observation")[0].clone();
    let part = |code: &str| -> Vec<Value> {
        o["component"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|c| c["code"]["coding"][0]["code"] == code)
            .map(|c| c["valueQuantity"]["value"].clone())
            .collect()
    };
    assert_eq!(part("copm-performance"), vec![json!(5)]);
    assert_eq!(part("copm-satisfaction"), vec![json!(4)]);
    assert_eq!(part("copm-problem-importance"), vec![json!(9), json!(7)]);
    validate(&[&b, &cb]);
}

#[test]
fn bad_searches_and_other_formats_get_operation_outcomes_naming_the_parameter() {
    let s = scene();
    let obs = format!("/fhir/r4/Observation?patient={}", s.maria);
    let cases = [
        (format!("{obs}&date=ne2026-01-01"), 400, Some("date")),
        (format!("{obs}&date=yesterday"), 400, Some("date")),
        (format!("{obs}&_count=5000"), 400, Some("_count")),
        (format!("{obs}&_sort=code"), 400, Some("_sort")),
        (format!("{obs}&_cursor=abc"), 400, Some("_cursor")),
        (
            format!("{obs}&focus=Patient/{}", s.maria),
            400,
            Some("focus"),
        ),
        (format!("{obs}&code:text=x"), 400, Some("code:text")),
        ("/fhir/r4/Observation".to_owned(), 400, Some("patient")),
        (
            format!("/fhir/r4/Observation?patient={}", uuid::Uuid::now_v7()),
            404,
            None,
        ),
        (format!("{obs}&_format=xml"), 406, None),
        (
            format!("/fhir/r4/Observation/{}", uuid::Uuid::now_v7()),
            404,
            None,
        ),
        ("/fhir/r4/Observation/not-an-id".to_owned(), 404, None),
        ("/fhir/r4/Nothing".to_owned(), 404, None),
    ];
    let mut outcomes = Vec::new();
    for (path, status, field) in &cases {
        let r = s.get(path);
        let o = r.refusal(*status).clone();
        if let Some(field) = field {
            assert_eq!(o["issue"][0]["expression"][0], *field, "{path}: {}", r.text);
        }
        outcomes.push(o);
    }
    let xml = s.app.send(
        s.app
            .http
            .get(s.app.url(&obs))
            .bearer_auth(&s.olivia)
            .header("Accept", "application/fhir+xml"),
    );
    outcomes.push(xml.refusal(406).clone());
    let delete = s.app.delete(&s.olivia, &obs);
    outcomes.push(delete.refusal(405).clone());
    validate(&outcomes.iter().collect::<Vec<_>>());
}

#[test]
fn every_fhir_read_is_in_the_clients_access_log() {
    let s = scene();
    let rating = s.rate(5, 1);
    for path in [
        format!("/fhir/r4/Patient/{}", s.maria),
        format!("/fhir/r4/Goal/{}", s.goal),
        format!("/fhir/r4/Observation/{rating}"),
        format!("/fhir/r4/Observation?patient={}", s.maria),
        format!("/fhir/r4/Goal?patient={}", s.maria),
    ] {
        s.get(&path).ok(200);
    }
    let admin = s.app.login("admin@riverside.example").access;
    let actions: Vec<String> = s
        .app
        .audit_for_client(&admin, &s.maria)
        .iter()
        .filter(|e| e["outcome"] == "success")
        .filter_map(|e| e["action"].as_str().map(str::to_owned))
        .collect();
    for action in [
        "client.read",
        "goal.read",
        "measurement.history",
        "measurement.search",
        "goal.search",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not in {actions:?}"
        );
    }
}
