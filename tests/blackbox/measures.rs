//! Measurements: checked against their measure, corrected by new versions, never lost.

use headway_tests::TestApp;
use serde_json::{json, Value};

use crate::goals::{content, episode};

struct Setup {
    app: TestApp,
    maria: String,
    olivia: String,
    me: String,
    ep: String,
    goal: String,
}

fn setup() -> Setup {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.login("maria@client.example").access;
    let ep = episode(&app, &olivia, &maria);
    let g = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
        &json!({"content": content("Cook dinner")}),
    );
    let goal = g.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    Setup {
        app,
        maria,
        olivia,
        me,
        ep,
        goal,
    }
}

impl Setup {
    fn record(&self, who: &str, body: &Value) -> headway_tests::Reply {
        self.app.post(
            who,
            &format!(
                "/api/v1/clients/{}/episodes/{}/measurements",
                self.maria, self.ep
            ),
            body,
        )
    }
    fn count(&self) -> usize {
        let r = self.app.get(
            &self.olivia,
            &format!(
                "/api/v1/clients/{}/episodes/{}/measurements?history=true&limit=100",
                self.maria, self.ep
            ),
        );
        r.ok(200)["items"].as_array().map_or(0, Vec::len)
    }
}

#[test]
fn out_of_range_and_malformed_measurements_are_refused_naming_the_field() {
    let s = setup();
    let before = s.count();
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"goal_id": s.goal, "measure_code": "nrs", "values": {"value": 11}}),
            422,
            "values.value",
        ),
        (
            json!({"goal_id": s.goal, "measure_code": "nrs", "values": {"value": 4.5}}),
            422,
            "values.value",
        ),
        (
            json!({"goal_id": s.goal, "measure_code": "nrs", "values": {"value": "four"}}),
            400,
            "values.value",
        ),
        (
            json!({"goal_id": s.goal, "measure_code": "nrs", "values": {"items": []}}),
            422,
            "values.value",
        ),
        (
            json!({"measure_code": "quickdash", "values": {"items": [{"value": 3}, {"value": 3}]}}),
            422,
            "values.items",
        ),
        (
            json!({"measure_code": "lefs", "values": {"items": (0..20).map(|i| json!({"value": if i == 7 { 5 } else { 2 }})).collect::<Vec<_>>()}}),
            422,
            "values.items[7].value",
        ),
        (
            json!({"measure_code": "gas", "values": {"value": 1}}),
            422,
            "goal_id",
        ),
        (
            json!({"measure_code": "copm", "values": {"problems": [{"problem": "dressing", "importance": 0, "performance": 3, "satisfaction": 2}]}}),
            422,
            "values.problems[0].importance",
        ),
        (
            json!({"measure_code": "barthel", "values": {"value": 3}}),
            422,
            "measure_code",
        ),
        (
            json!({"measure_code": "nrs", "values": {"value": 3}, "observed_at": "2999-01-01T00:00:00Z"}),
            422,
            "observed_at",
        ),
        (
            json!({"measure_code": "nrs", "values": {"value": 3}, "score": 10}),
            400,
            "score",
        ),
        (
            json!({"measure_code": "nrs", "values": {"value": 3}, "source": "therapist"}),
            400,
            "source",
        ),
    ];
    for (body, status, field) in cases {
        let r = s.record(&s.olivia, &body);
        r.problem(status);
        assert!(
            r.fields().contains(&field.to_owned()),
            "{body}: expected {field} in {:?}",
            r.fields()
        );
    }
    // A self-report on a measure that does not take them.
    let admin = s.app.login("admin@riverside.example").access;
    let m = s.app.post(&admin, "/api/v1/measures", &json!({"code": "grip-kg", "name": "Grip strength", "unit": "kg", "min": 0, "max": 90, "step": 0.5, "direction": "higher-is-better", "meaningful_change": 5, "reporters": ["therapist"]}));
    assert_eq!(m.ok(201)["clinic_defined"], true);
    s.app.post(&s.olivia, "/api/v1/measures", &json!({"code": "x", "name": "X", "min": 0, "max": 1, "step": 0, "direction": "higher-is-better", "meaningful_change": 1, "reporters": ["therapist"]})).problem(403);
    let r = s.record(
        &s.me,
        &json!({"measure_code": "grip-kg", "values": {"value": 20}}),
    );
    assert_eq!(r.problem(422).clone()["errors"][0]["field"], "measure_code");
    // A caregiver may not report COPM; a view-only caregiver may not report at all.
    let lucia = s.app.login("lucia@family.example").access;
    s.record(
        &lucia,
        &json!({"measure_code": "nrs", "goal_id": s.goal, "values": {"value": 5}}),
    )
    .problem(403);
    assert_eq!(s.count(), before, "nothing was stored");
    // The same measure is fine from the therapist, exact to the half-kilo.
    assert_eq!(
        s.record(
            &s.olivia,
            &json!({"measure_code": "grip-kg", "values": {"value": 20.5}})
        )
        .ok(201)["score"],
        20.5
    );
    // Scores follow the instrument: QuickDASH ((sum / n) - 1) * 25 with one missing item.
    let items: Vec<Value> = (0..11)
        .map(
            |i| json!({"value": if i == 10 { Value::Null } else { json!([1, 2, 3, 4, 5][i % 5]) }}),
        )
        .collect();
    let qd = s.record(
        &s.me,
        &json!({"measure_code": "quickdash", "values": {"items": items}}),
    );
    assert_eq!(qd.ok(201)["score"], 50.0);
    assert_eq!(qd.body["source"], "client");
}

#[test]
fn corrections_keep_history_and_nothing_is_lost() {
    let s = setup();
    let r = s.record(&s.olivia, &json!({"goal_id": s.goal, "measure_code": "nrs", "values": {"value": 4}, "note": "first session"}));
    let first = r.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    let base = format!("/api/v1/clients/{}/measurements", s.maria);
    // The client cannot correct the therapist's measurement.
    s.app
        .post(
            &s.me,
            &format!("{base}/{first}/corrections"),
            &json!({"reason": "wrong", "values": {"value": 9}}),
        )
        .problem(403);
    // An out-of-range correction is refused and changes nothing.
    s.app
        .post(
            &s.olivia,
            &format!("{base}/{first}/corrections"),
            &json!({"reason": "typo", "values": {"value": 12}}),
        )
        .problem(422);
    let amended = s.app.post(
        &s.olivia,
        &format!("{base}/{first}/corrections"),
        &json!({"reason": "typo: it was 5", "values": {"value": 5}}),
    );
    let second = amended.ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(
        (
            amended.body["status"].as_str(),
            amended.body["supersedes"].as_str()
        ),
        (Some("amended"), Some(first.as_str()))
    );
    assert_eq!(amended.body["note"], "first session");
    // Correcting a superseded version is a conflict: correct the latest.
    s.app
        .post(
            &s.olivia,
            &format!("{base}/{first}/corrections"),
            &json!({"reason": "again", "values": {"value": 6}}),
        )
        .problem(409);
    let withdrawn = s.app.post(
        &s.olivia,
        &format!("{base}/{second}/corrections"),
        &json!({"reason": "wrong client", "withdraw": true}),
    );
    assert_eq!(withdrawn.ok(201)["status"], "entered-in-error");
    let history = s.app.get(&s.me, &format!("{base}/{second}/history"));
    let chain: Vec<(String, f64)> = history
        .ok(200)
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            (
                m["status"].as_str().unwrap_or_default().to_owned(),
                m["score"].as_f64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        chain,
        vec![
            ("final".into(), 4.0),
            ("amended".into(), 5.0),
            ("entered-in-error".into(), 5.0)
        ]
    );
    // Current listings show nothing; the full history shows all three.
    let current = s.app.get(
        &s.olivia,
        &format!("/api/v1/clients/{}/episodes/{}/measurements", s.maria, s.ep),
    );
    assert_eq!(current.ok(200)["items"].as_array().map(Vec::len), Some(0));
    assert_eq!(s.count(), 3);
    // The original is still readable as it was.
    let original = s.app.get(&s.olivia, &format!("{base}/{first}"));
    assert_eq!(
        (
            original.ok(200)["score"].as_f64(),
            original.body["superseded_by"].as_str()
        ),
        (Some(4.0), Some(second.as_str()))
    );
}
