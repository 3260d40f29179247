//! The progress view, series, chart and milestones, against figures worked by hand.

use chrono::{Duration, Utc};
use headway_tests::TestApp;
use serde_json::{json, Value};

use crate::goals::episode;

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-3)
}

struct Scenario {
    app: TestApp,
    maria: String,
    ep: String,
    g1: String,
    olivia: String,
    me: String,
    start: chrono::DateTime<Utc>,
}

/// Maria's episode: two agreed goals with GAS scales (importance 8 and 4); goal 1
/// targets NRS 8 in eight weeks, rated 2, 3, 4 by the therapist a week apart and 7 by
/// Maria; GAS +1 on goal 1; COPM 4.0/4.0 then 7.0/6.0 in the therapist's interviews.
fn scenario() -> Scenario {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.login("maria@client.example").access;
    let ep = episode(&app, &olivia, &maria);
    let start = Utc::now() - Duration::days(14);
    let gas = json!({"levels": ["cannot", "with help", "alone, slowly", "alone", "for guests"], "baseline": -1});
    let goal = |words: &str, importance: i64, target: Option<f64>| {
        let mut c = json!({"client_words": words, "statement": format!("Measurable: {words}"), "occupation_area": "iadl", "importance": importance, "gas": gas, "start_date": start.date_naive(), "target_date": (start + Duration::weeks(8)).date_naive()});
        if let Some(t) = target {
            c["measure_code"] = json!("nrs");
            c["target_value"] = json!(t);
        }
        let r = app.post(
            &olivia,
            &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
            &json!({"content": c}),
        );
        let id = r.ok(201)["id"].as_str().unwrap_or_default().to_owned();
        app.post(
            &me,
            &format!("/api/v1/clients/{maria}/goals/{id}/agreement"),
            &json!({}),
        )
        .ok(200);
        id
    };
    let g1 = goal("Cook dinner for my kids again", 8, Some(8.0));
    let _g2 = goal("Get dressed by myself", 4, None);
    let record = |who: &str, body: Value| {
        app.post(
            who,
            &format!("/api/v1/clients/{maria}/episodes/{ep}/measurements"),
            &body,
        )
        .ok(201);
    };
    for (week, value) in [(0, 2), (1, 3), (2, 4)] {
        record(
            &olivia,
            json!({"goal_id": g1, "measure_code": "nrs", "values": {"value": value}, "observed_at": start + Duration::weeks(week)}),
        );
    }
    record(
        &me,
        json!({"goal_id": g1, "measure_code": "nrs", "values": {"value": 7}, "observed_at": start + Duration::weeks(2)}),
    );
    record(
        &olivia,
        json!({"goal_id": g1, "measure_code": "gas", "values": {"value": 1}}),
    );
    let copm = |perf: [i32; 3], sat: [i32; 3]| {
        json!({"measure_code": "copm", "values": {"problems": [
            {"problem": "cooking", "importance": 9, "performance": perf[0], "satisfaction": sat[0]},
            {"problem": "dressing", "importance": 8, "performance": perf[1], "satisfaction": sat[1]},
            {"problem": "gardening", "importance": 6, "performance": perf[2], "satisfaction": sat[2]}
        ]}})
    };
    let mut first = copm([3, 5, 4], [2, 4, 6]);
    first["observed_at"] = json!(start);
    // COPM is a therapist-led interview: the therapist records it (a client's own
    // self-report is kept apart; see figures.rs).
    record(&olivia, first);
    record(&olivia, copm([6, 7, 8], [5, 6, 7]));
    Scenario {
        app,
        maria,
        ep,
        g1,
        olivia,
        me,
        start,
    }
}

#[test]
fn the_progress_view_matches_hand_computed_figures() {
    let s = scenario();
    let path = format!("/api/v1/clients/{}/episodes/{}/progress", s.maria, s.ep);
    let r = s.app.get(&s.me, &path);
    let v = r.ok(200).clone();
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(v["goals_by_status"], json!({"active": 2}));
    // GAS: goal 2 was never rated, so only goal 1 counts (issue #8: a goal never rated
    // no longer counts as if rated): baseline -1, now +1. One goal: T = 50 + 10x, so
    // 40 then 60; weighted by its importance 8 alone: 50 + 10(8x)/sqrt(0.7*64 + 0.3*64)
    // = 50 + 10x as well.
    let gas = &v["gas"];
    assert_eq!(gas["goals"], 1);
    assert_eq!(
        gas["excluded"],
        json!([{"reason": "not-rated", "goals": 1}])
    );
    assert!(
        close(&gas["baseline_t"], 40.0) && close(&gas["current_t"], 60.0),
        "{gas}"
    );
    assert!(
        close(&gas["weighted_baseline_t"], 40.0) && close(&gas["weighted_current_t"], 60.0),
        "{gas}"
    );
    // COPM: performance 4.0 -> 7.0, satisfaction 4.0 -> 6.0; both meet the 2-point threshold.
    let copm = &v["copm"];
    assert_eq!(copm["assessments"], 2);
    assert!(
        close(&copm["performance"]["first"], 4.0)
            && close(&copm["performance"]["latest"], 7.0)
            && close(&copm["performance"]["change"], 3.0)
    );
    assert!(
        close(&copm["satisfaction"]["first"], 4.0) && close(&copm["satisfaction"]["change"], 2.0)
    );
    assert_eq!(
        (
            copm["performance"]["meaningful"].as_bool(),
            copm["satisfaction"]["meaningful"].as_bool()
        ),
        (Some(true), Some(true))
    );
    // Goal 1: therapist values 2, 3, 4 a week apart: slope 1/week; baseline 2, latest 4;
    // (4-2)/(8-2) = 33.3% of the way; the fitted line (mean week 1, mean value 3) reaches 8
    // at week 6, before the target date at week 8: on track.
    let g = v["goals"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["goal"]["id"] == s.g1.as_str()))
        .cloned()
        .unwrap_or_default();
    let p = &g["progress"];
    assert_eq!(p["values"], 3);
    assert!(close(&p["baseline"], 2.0) && close(&p["latest"], 4.0) && close(&p["change"], 2.0));
    // 33.33...% is shown to 1 decimal (issue #8).
    assert!(close(&p["percent_to_target"], 33.3) && close(&p["trend_per_week"], 1.0));
    assert_eq!(p["meaningful_change"], true);
    assert_eq!(
        p["projected_date"].as_str().map(str::to_owned),
        Some((s.start + Duration::weeks(6)).date_naive().to_string())
    );
    assert_eq!(p["outlook"], "on-track");
    assert_eq!(g["achievement_status"], "improving");
    assert_eq!(g["gas_level"], 1);
    assert_eq!(g["goal"]["label"], "1");
    // Client and therapist side by side: 7 against 4 differs by more than 2: disagreement.
    let reports: Vec<(String, f64)> = g["reports"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                r["source"].as_str().unwrap_or_default().to_owned(),
                r["value"].as_f64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        reports,
        vec![("therapist".to_owned(), 4.0), ("client".to_owned(), 7.0)]
    );
    assert_eq!(g["disagreement"], true);

    // A new value is reflected at once (no stale view), and the version moves.
    let version = v["version"].as_i64().unwrap_or_default();
    s.app
        .post(
            &s.olivia,
            &format!("/api/v1/clients/{}/episodes/{}/measurements", s.maria, s.ep),
            &json!({"goal_id": s.g1, "measure_code": "nrs", "values": {"value": 6}}),
        )
        .ok(201);
    let after = s.app.get(&s.me, &path);
    assert!(after.ok(200)["version"].as_i64().unwrap_or_default() > version);
    let g = after.body["goals"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["goal"]["id"] == s.g1.as_str()))
        .cloned()
        .unwrap_or_default();
    assert!(close(&g["progress"]["latest"], 6.0));
    assert_eq!(g["disagreement"], false, "7 and 6 are within 2 points");
    // Served twice from the store, the view is identical.
    assert_eq!(s.app.get(&s.me, &path).body, after.body);
}

#[test]
fn only_those_who_may_see_the_client_see_their_progress() {
    let s = scenario();
    let path = format!("/api/v1/clients/{}/episodes/{}/progress", s.maria, s.ep);
    s.app
        .get(&s.app.login("lucia@family.example").access, &path)
        .ok(200);
    s.app
        .get(&s.app.service_token("clinical:read"), &path)
        .ok(200);
    // Clinical records are outside the reach of an integration without clinical:read.
    s.app
        .get(&s.app.service_token("clients:read"), &path)
        .problem(404);
    s.app
        .get(&s.app.login("sam@client.example").access, &path)
        .problem(404);
    let lee = s
        .app
        .login(&s.app.second_clinic("lee@lakeside.example"))
        .access;
    s.app.get(&lee, &path).problem(404);
    // Each read leaves one audit event in the client's trail.
    let admin = s.app.login("admin@riverside.example").access;
    let before = s.app.audit_for_client(&admin, &s.maria).len();
    s.app.get(&s.me, &path).ok(200);
    let events = s.app.audit_for_client(&admin, &s.maria);
    assert_eq!(events.len(), before + 1);
    assert_eq!(events[0]["action"], "progress.read");
    // The client's home screen: /me names the active episode.
    let me = s.app.get(&s.me, "/api/v1/me");
    assert_eq!(
        me.ok(200)["clients"][0]["active_episode_id"].as_str(),
        Some(s.ep.as_str())
    );
}

#[test]
fn series_charts_and_milestones() {
    let s = scenario();
    let base = format!("/api/v1/clients/{}/goals/{}", s.maria, s.g1);
    let series = s.app.get(&s.me, &format!("{base}/series?source=therapist"));
    let values: Vec<f64> = series.ok(200)["sources"][0]["points"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["value"].as_f64())
        .collect();
    assert_eq!(values, vec![2.0, 3.0, 4.0]);
    assert_eq!(series.body["measure"]["code"], "nrs");
    let reduced = s.app.get(
        &s.me,
        &format!("{base}/series?max_points=2&source=therapist"),
    );
    assert_eq!(
        reduced.ok(200)["sources"][0]["points"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(reduced.body["downsampled"], true);
    let ranged = s.app.get(
        &s.me,
        &format!(
            "{base}/series?source=therapist&from={}",
            (s.start + Duration::days(3))
                .to_rfc3339()
                .replace('+', "%2B")
        ),
    );
    assert_eq!(
        ranged.ok(200)["sources"][0]["points"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    s.app
        .get(&s.me, &format!("{base}/series?max_points=1"))
        .problem(400);

    // The SVG parses, and carries a title, a text alternative, labelled axes and each point.
    let chart = s.app.send(
        s.app
            .http
            .get(s.app.url(&format!("{base}/chart.svg?source=therapist")))
            .bearer_auth(&s.me),
    );
    assert_eq!(chart.status.as_u16(), 200);
    assert!(chart
        .header("content-type")
        .is_some_and(|c| c.starts_with("image/svg+xml")));
    let doc =
        roxmltree::Document::parse(&chart.text).unwrap_or_else(|e| panic!("invalid SVG: {e}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.attribute("role"), Some("img"));
    let text_of = |name: &str| {
        root.children()
            .find(|n| n.has_tag_name(name))
            .and_then(|n| n.text())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(text_of("title"), "Goal 1: Cook dinner for my kids again");
    let desc = text_of("desc");
    assert!(
        desc.contains("baseline 2") && desc.contains("latest 4") && desc.contains("target 8"),
        "{desc}"
    );
    let labels: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("axis-label"))
        .filter_map(|n| n.text())
        .collect();
    assert_eq!(labels, vec!["Date", "Numeric rating scale (0-10) (points)"]);
    assert_eq!(
        doc.descendants()
            .filter(|n| n.attribute("class") == Some("point"))
            .count(),
        3
    );
    for class in [
        "baseline",
        "target",
        "target-date",
        "meaningful-band",
        "values",
    ] {
        assert!(
            doc.descendants()
                .any(|n| n.attribute("class") == Some(class)),
            "missing {class}"
        );
    }

    // Milestones: both goals agreed; personal bests at 3 and 4; meaningful change at 4.
    let feed = s
        .app
        .get(&s.me, &format!("/api/v1/clients/{}/milestones", s.maria));
    let kinds: Vec<String> = feed
        .ok(200)
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["kind"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(kinds.iter().filter(|k| *k == "goal-agreed").count(), 2);
    assert!(kinds.contains(&"meaningful-change".to_owned()));
    let bests: Vec<f64> = feed
        .body
        .as_array()
        .into_iter()
        .flatten()
        .filter(|m| m["kind"] == "personal-best")
        .filter_map(|m| m["value"].as_f64())
        .collect();
    assert!(bests.contains(&3.0) && bests.contains(&4.0), "{bests:?}");
    // Achieving the goal adds the milestone.
    s.app
        .post(
            &s.olivia,
            &format!("{base}/status"),
            &json!({"status": "achieved"}),
        )
        .ok(200);
    let feed = s
        .app
        .get(&s.me, &format!("/api/v1/clients/{}/milestones", s.maria));
    assert_eq!(feed.ok(200)[0]["kind"], "goal-achieved");
    let progress = s.app.get(
        &s.me,
        &format!("/api/v1/clients/{}/episodes/{}/progress", s.maria, s.ep),
    );
    let g = progress.ok(200)["goals"]
        .as_array()
        .and_then(|gs| gs.iter().find(|g| g["goal"]["id"] == s.g1.as_str()))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        (
            g["achievement_status"].as_str(),
            g["goal"]["lifecycle_status"].as_str()
        ),
        (Some("achieved"), Some("completed"))
    );
}
