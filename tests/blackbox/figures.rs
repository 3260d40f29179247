//! The figures a client and a therapist read (issue #8): thresholds, the GAS summary
//! rule, COPM and every other measure kept apart by source, display precision, the
//! trend's window, milestones, cited thresholds and error texts in plain words. Each
//! figure is worked out by hand in a comment.

use chrono::{DateTime, Duration, SubsecRound, Utc};
use headway_tests::TestApp;
use serde_json::{json, Value};

use crate::goals::episode;

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-9)
}

/// Maria's episode, with Olivia (her therapist) and Maria signed in; values are dated
/// from `start`. The charts tests use it too.
pub(crate) struct Clinic {
    pub(crate) app: TestApp,
    pub(crate) maria: String,
    pub(crate) ep: String,
    pub(crate) olivia: String,
    pub(crate) me: String,
    pub(crate) start: DateTime<Utc>,
}

impl Clinic {
    fn open() -> Clinic {
        // Whole seconds, so times read back compare equal.
        Clinic::open_from((Utc::now() - Duration::weeks(9) - Duration::days(1)).trunc_subsecs(0))
    }

    pub(crate) fn open_from(start: DateTime<Utc>) -> Clinic {
        let app = TestApp::spawn();
        let maria = app.client_id("Maria Lopez");
        let olivia = app.login("olivia.ot@riverside.example").access;
        let me = app.login("maria@client.example").access;
        let ep = episode(&app, &olivia, &maria);
        Clinic {
            app,
            maria,
            ep,
            olivia,
            me,
            start,
        }
    }

    /// A goal the therapist proposes with `extra` content; Maria agrees unless `agreed` is false.
    fn goal(&self, words: &str, extra: Value, agreed: bool) -> String {
        let mut content = json!({"client_words": words, "statement": format!("Measurable: {words}"), "occupation_area": "iadl", "importance": 5, "start_date": self.start.date_naive()});
        for (k, v) in extra.as_object().into_iter().flatten() {
            content[k] = v.clone();
        }
        let r = self.app.post(
            &self.olivia,
            &format!("/api/v1/clients/{}/episodes/{}/goals", self.maria, self.ep),
            &json!({"content": content}),
        );
        let id = r.ok(201)["id"].as_str().unwrap_or_default().to_owned();
        if agreed {
            self.agree(&id);
        }
        id
    }

    fn agree(&self, goal: &str) {
        let path = format!("/api/v1/clients/{}/goals/{goal}/agreement", self.maria);
        self.app.post(&self.me, &path, &json!({})).ok(200);
    }

    fn record(&self, who: &str, body: Value) -> headway_tests::Reply {
        let path = format!(
            "/api/v1/clients/{}/episodes/{}/measurements",
            self.maria, self.ep
        );
        self.app.post(who, &path, &body)
    }

    /// Records `values` on `week` after the start.
    fn rate(&self, who: &str, goal: Option<&str>, code: &str, values: Value, week: i64) {
        let mut body = json!({"measure_code": code, "values": values, "observed_at": self.start + Duration::weeks(week)});
        if let Some(g) = goal {
            body["goal_id"] = json!(g);
        }
        self.record(who, body).ok(201);
    }

    fn view(&self) -> Value {
        let path = format!(
            "/api/v1/clients/{}/episodes/{}/progress",
            self.maria, self.ep
        );
        self.app.get(&self.me, &path).ok(200).clone()
    }

    fn line(&self, view: &Value, goal: &str) -> Value {
        view["goals"]
            .as_array()
            .and_then(|gs| gs.iter().find(|g| g["goal"]["id"] == goal))
            .cloned()
            .unwrap_or_default()
    }

    fn milestones(&self) -> Vec<Value> {
        let path = format!("/api/v1/clients/{}/milestones", self.maria);
        self.app
            .get(&self.me, &path)
            .ok(200)
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

fn activities(ratings: &[i64]) -> Value {
    json!({"items": ratings.iter().map(|r| json!({"label": "climb the stairs", "value": r})).collect::<Vec<_>>()})
}

#[test]
fn a_single_psfs_activity_changing_by_two_is_not_meaningful() {
    let c = Clinic::open();
    let one = c.goal(
        "Climb the stairs at home",
        json!({"measure_code": "psfs", "target_value": 9}),
        true,
    );
    let three = c.goal(
        "Get about the house",
        json!({"measure_code": "psfs", "target_value": 9}),
        true,
    );
    // One activity, 4 -> 6: +2, below the 3 points a single activity needs (Stratford 1995).
    c.rate(&c.me, Some(&one), "psfs", activities(&[4]), 0);
    c.rate(&c.me, Some(&one), "psfs", activities(&[6]), 1);
    // Three activities, means (3+4+5)/3 = 4 -> (5+6+7)/3 = 6: +2 meets the 2 points for a mean.
    c.rate(&c.me, Some(&three), "psfs", activities(&[3, 4, 5]), 0);
    c.rate(&c.me, Some(&three), "psfs", activities(&[5, 6, 7]), 1);
    let v = c.view();
    let single = c.line(&v, &one);
    // PSFS is the client's own questionnaire, so the client's values are the headline.
    assert_eq!(single["primary_source"], "client");
    let p = &single["progress"];
    assert!(
        close(&p["change"], 2.0) && close(&p["threshold"], 3.0),
        "{p}"
    );
    assert_eq!(p["meaningful_change"], false);
    let mean = &c.line(&v, &three)["progress"];
    assert!(
        close(&mean["change"], 2.0) && close(&mean["threshold"], 2.0),
        "{mean}"
    );
    assert_eq!(mean["meaningful_change"], true);
    // The milestones agree: a meaningful change only on the goal of three activities.
    let meaningful: Vec<String> = c
        .milestones()
        .iter()
        .filter(|m| m["kind"] == "meaningful-change")
        .filter_map(|m| m["goal_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(meaningful, vec![three]);
}

#[test]
fn the_gas_summary_and_each_goal_line_follow_one_rule() {
    let c = Clinic::open();
    let scale = json!({"levels": ["cannot", "with help", "alone, slowly", "alone", "for guests"], "baseline": -1});
    // Rated: expected baseline -1, first (and only) rating 0.
    let rated = c.goal(
        "Cook dinner",
        json!({"gas": scale, "measure_code": "gas", "target_value": 0}),
        true,
    );
    // Agreed, never rated.
    let unrated = c.goal("Get dressed", json!({"gas": scale}), true);
    // Proposed, not yet agreed by Maria, though the therapist rated it +2.
    let proposed = c.goal("Go to the market", json!({"gas": scale}), false);
    c.rate(&c.olivia, Some(&rated), "gas", json!({"value": 0}), 1);
    c.rate(&c.olivia, Some(&proposed), "gas", json!({"value": 2}), 1);
    // Maria's own rating of the unrated goal is hers, not the therapist's rating.
    c.rate(&c.me, Some(&unrated), "gas", json!({"value": 1}), 1);
    let v = c.view();
    // The goal line: baseline -1 (recorded), now 0, change +1, counted.
    let line = c.line(&v, &rated);
    assert_eq!(
        line["gas"],
        json!({"baseline": -1, "baseline_from": "recorded", "level": 0, "change": 1, "excluded": null})
    );
    let p = &line["progress"];
    assert!(
        close(&p["baseline"], -1.0) && close(&p["latest"], 0.0) && close(&p["change"], 1.0),
        "{p}"
    );
    assert_eq!(p["baseline_from"], "recorded");
    assert_eq!(c.line(&v, &unrated)["gas"]["excluded"], "not-rated");
    assert_eq!(c.line(&v, &unrated)["gas_level"], Value::Null);
    assert_eq!(c.line(&v, &proposed)["gas"]["excluded"], "not-agreed");
    // The summary counts the rated goal alone: T = 50 + 10x for one goal, so baseline
    // -1 -> T 40, now 0 -> T 50; weighted by one importance, the same.
    let gas = &v["gas"];
    assert_eq!(gas["source"], "therapist");
    assert_eq!(gas["goals"], 1);
    assert_eq!(
        gas["excluded"],
        json!([{"reason": "not-agreed", "goals": 1}, {"reason": "not-rated", "goals": 1}])
    );
    assert!(
        close(&gas["baseline_t"], 40.0) && close(&gas["current_t"], 50.0),
        "{gas}"
    );
    assert!(close(&gas["weighted_baseline_t"], 40.0) && close(&gas["weighted_current_t"], 50.0));
}

fn copm(performance: [i64; 3], satisfaction: [i64; 3]) -> Value {
    json!({"problems": [
        {"problem": "cooking", "importance": 9, "performance": performance[0], "satisfaction": satisfaction[0]},
        {"problem": "dressing", "importance": 8, "performance": performance[1], "satisfaction": satisfaction[1]},
        {"problem": "gardening", "importance": 6, "performance": performance[2], "satisfaction": satisfaction[2]}
    ]})
}

#[test]
fn a_clients_own_copm_never_becomes_the_episodes_copm() {
    let c = Clinic::open();
    // Maria's own COPM: performance (3+5+4)/3 = 4 -> (6+7+8)/3 = 7.
    c.rate(&c.me, None, "copm", copm([3, 5, 4], [2, 4, 6]), 0);
    c.rate(&c.me, None, "copm", copm([6, 7, 8], [5, 6, 7]), 2);
    let v = c.view();
    assert_eq!(v["copm"], Value::Null, "COPM is a therapist-led interview");
    let mine = &v["copm_by_source"];
    assert_eq!(mine.as_array().map(Vec::len), Some(1));
    assert_eq!(mine[0]["source"], "client");
    assert!(
        close(&mine[0]["performance"]["first"], 4.0)
            && close(&mine[0]["performance"]["change"], 3.0)
    );
    // The therapist's interview, later, is the episode's baseline: (2+3+4)/3 = 3.
    c.rate(&c.olivia, None, "copm", copm([2, 3, 4], [2, 2, 2]), 3);
    let v = c.view();
    let copm = &v["copm"];
    assert_eq!(
        (copm["source"].as_str(), copm["assessments"].as_u64()),
        (Some("therapist"), Some(1))
    );
    assert!(
        close(&copm["performance"]["first"], 3.0) && close(&copm["performance"]["change"], 0.0)
    );
    let sources: Vec<&str> = v["copm_by_source"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["source"].as_str())
        .collect();
    assert_eq!(sources, vec!["therapist", "client"]);
}

#[test]
fn a_clinic_chooses_whose_values_a_measure_follows() {
    let c = Clinic::open();
    let admin = c.app.login("admin@riverside.example").access;
    let primary_of = |code: &str| {
        let all = c.app.get(&c.olivia, "/api/v1/measures").ok(200).clone();
        all.as_array()
            .and_then(|ms| ms.iter().find(|m| m["code"] == code))
            .map(|m| m["primary_source"].clone())
            .unwrap_or_default()
    };
    assert_eq!(primary_of("copm"), "therapist");
    assert_eq!(primary_of("quickdash"), "client");
    // Therapist (2+3+4)/3 = 3 and Maria (3+5+4)/3 = 4 -> (6+7+8)/3 = 7.
    c.rate(&c.olivia, None, "copm", copm([2, 3, 4], [2, 2, 2]), 0);
    c.rate(&c.me, None, "copm", copm([3, 5, 4], [2, 4, 6]), 1);
    c.rate(&c.me, None, "copm", copm([6, 7, 8], [5, 6, 7]), 2);
    assert_eq!(c.view()["copm"]["source"], "therapist");

    let path = "/api/v1/measures/copm/primary-source";
    // Only the clinic's admins choose; only someone who reports COPM may lead it.
    c.app
        .put(&c.olivia, path, &json!({"source": "client"}))
        .problem(403);
    let refused = c.app.put(&admin, path, &json!({"source": "caregiver"}));
    assert_eq!(refused.problem(422)["errors"][0]["field"], "source");
    c.app
        .put(
            &admin,
            "/api/v1/measures/no-such-measure/primary-source",
            &json!({"source": "client"}),
        )
        .problem(404);
    assert_eq!(
        c.view()["copm"]["source"],
        "therapist",
        "a refused choice changes nothing"
    );

    let chosen = c.app.put(&admin, path, &json!({"source": "client"}));
    assert_eq!(chosen.ok(200)["primary_source"], "client");
    assert_eq!(primary_of("copm"), "client");
    // The episode's COPM now follows Maria's own ratings: 4 -> 7.
    let copm = &c.view()["copm"];
    assert_eq!(copm["source"], "client");
    assert!(
        close(&copm["performance"]["first"], 4.0) && close(&copm["performance"]["change"], 3.0),
        "{copm}"
    );
    // A goal's series and chart follow the choice too.
    let nrs = "/api/v1/measures/nrs/primary-source";
    c.app.put(&admin, nrs, &json!({"source": "client"})).ok(200);
    let g = c.goal(
        "Walk to the shop",
        json!({"measure_code": "nrs", "target_value": 9}),
        true,
    );
    let series = format!("/api/v1/clients/{}/goals/{g}/series", c.maria);
    assert_eq!(
        c.app.get(&c.me, &series).ok(200)["primary_source"],
        "client"
    );
}

#[test]
fn sources_stand_side_by_side_and_personal_bests_come_from_the_primary_one() {
    let c = Clinic::open();
    let g = c.goal(
        "Walk to the shop",
        json!({"measure_code": "nrs", "target_value": 9}),
        true,
    );
    // Therapist 2, 3, 4; Maria 3 then 9; her daughter Lucia, once Maria lets her
    // contribute, 5.
    let lucia = c.app.login("lucia@family.example").access;
    let caregivers = format!("/api/v1/clients/{}/caregivers", c.maria);
    let link = c.app.get(&c.me, &caregivers).ok(200)[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    c.app
        .patch(
            &c.me,
            &format!("{caregivers}/{link}"),
            &json!({"permission": "contribute"}),
        )
        .ok(200);
    for (week, value) in [(0, 2), (1, 3), (2, 4)] {
        c.rate(&c.olivia, Some(&g), "nrs", json!({"value": value}), week);
    }
    c.rate(&c.me, Some(&g), "nrs", json!({"value": 3}), 0);
    c.rate(&c.me, Some(&g), "nrs", json!({"value": 9}), 1);
    c.rate(&lucia, Some(&g), "nrs", json!({"value": 5}), 2);
    let line = c.line(&c.view(), &g);
    assert_eq!(line["primary_source"], "therapist");
    assert!(close(&line["progress"]["latest"], 4.0) && close(&line["progress"]["change"], 2.0));
    let sides: Vec<(String, f64, f64)> = line["by_source"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["source"].as_str().unwrap_or_default().to_owned(),
                s["progress"]["latest"].as_f64().unwrap_or(f64::NAN),
                s["progress"]["change"].as_f64().unwrap_or(f64::NAN),
            )
        })
        .collect();
    assert_eq!(
        sides,
        vec![
            ("therapist".to_owned(), 4.0, 2.0),
            ("client".to_owned(), 9.0, 6.0),
            ("caregiver".to_owned(), 5.0, 0.0)
        ]
    );
    // Personal bests: the therapist's 3 and 4; Maria's own 9 is shown, not celebrated.
    let bests: Vec<f64> = c
        .milestones()
        .iter()
        .filter(|m| m["kind"] == "personal-best")
        .filter_map(|m| m["value"].as_f64())
        .collect();
    assert_eq!(bests, vec![4.0, 3.0], "newest first");
}

/// Every number in `v` not listed in `exact` has at most `decimals` decimals.
fn rounded(v: &Value, key: &str, exact: &[&str], decimals: i32, bad: &mut Vec<String>) {
    match v {
        Value::Number(n) if !exact.contains(&key) => {
            let x = n.as_f64().unwrap_or_default();
            let scale = 10f64.powi(decimals);
            if ((x * scale).round() / scale - x).abs() > 0.0 {
                bad.push(format!("{key}: {x}"));
            }
        }
        Value::Array(a) => a.iter().for_each(|x| rounded(x, key, exact, decimals, bad)),
        Value::Object(o) => o.iter().for_each(|(k, x)| {
            let d = if k.ends_with("_t") || k == "percent_to_target" {
                1
            } else {
                decimals
            };
            rounded(x, k, exact, d, bad)
        }),
        _ => {}
    }
}

#[test]
fn figures_reach_apps_rounded_and_thresholds_use_exact_values() {
    let c = Clinic::open();
    // NRS 2 -> 3 toward 8: (3-2)/(8-2) = 16.666...% is shown as 16.7.
    let g = c.goal(
        "Walk to the shop",
        json!({"measure_code": "nrs", "target_value": 8}),
        true,
    );
    c.rate(&c.olivia, Some(&g), "nrs", json!({"value": 2}), 0);
    c.rate(&c.olivia, Some(&g), "nrs", json!({"value": 3}), 1);
    // COPM performance (3+3+4)/3 = 3.333... -> (5+5+6)/3 = 5.333...; in floating point the
    // change is 1.9999999999999996, shown as 2, and meaningful: exactly 2 points.
    c.rate(&c.olivia, None, "copm", copm([3, 3, 4], [3, 3, 4]), 0);
    c.rate(&c.olivia, None, "copm", copm([5, 5, 6], [4, 4, 5]), 2);
    let v = c.view();
    let p = &c.line(&v, &g)["progress"];
    assert!(close(&p["percent_to_target"], 16.7), "{p}");
    let perf = &v["copm"]["performance"];
    assert!(
        close(&perf["first"], 3.33) && close(&perf["latest"], 5.33),
        "{perf}"
    );
    assert!(close(&perf["change"], 2.0), "{perf}");
    assert_eq!(perf["meaningful"], true);
    // Satisfaction 3.333... -> 4.333...: +1, not meaningful.
    assert_eq!(v["copm"]["satisfaction"]["meaningful"], false);
    let mut bad = Vec::new();
    rounded(&v, "", &["version"], 2, &mut bad);
    assert!(bad.is_empty(), "{bad:?}");
    for long in ["99999", "66666", "33333"] {
        assert!(!v.to_string().contains(long), "{v}");
    }
}

#[test]
fn the_trend_follows_a_recent_change_of_pace_and_says_which_values_it_used() {
    let c = Clinic::open();
    // Target 10 by week 14.
    let due = (c.start + Duration::weeks(14)).date_naive();
    let g = c.goal(
        "Walk to the park",
        json!({"measure_code": "nrs", "target_value": 10, "target_date": due}),
        true,
    );
    for (week, value) in [2, 2, 2, 2, 2, 2, 3, 4, 5, 6].into_iter().enumerate() {
        c.rate(
            &c.olivia,
            Some(&g),
            "nrs",
            json!({"value": value}),
            week as i64,
        );
    }
    // The last four weeks up to week 9 hold weeks 5-9: 2, 3, 4, 5, 6, a line of 1/week,
    // y = 2 + (week - 5), reaching 10 at week 13, before the target at week 14: on track.
    // (The last eight values gave 25/42 = 0.6/week and "at risk".)
    let p = &c.line(&c.view(), &g)["progress"];
    assert!(close(&p["trend_per_week"], 1.0), "{p}");
    let window = &p["trend_window"];
    let at = |v: &Value| {
        v.as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
    };
    assert_eq!(
        at(&window["from"]),
        Some(c.start + Duration::weeks(5)),
        "{window}"
    );
    assert_eq!(
        at(&window["to"]),
        Some(c.start + Duration::weeks(9)),
        "{window}"
    );
    assert_eq!(window["values"], 5);
    assert_eq!(p["outlook"], "on-track");
    assert_eq!(
        p["projected_date"].as_str().map(str::to_owned),
        Some((c.start + Duration::weeks(13)).date_naive().to_string())
    );
}

#[test]
fn a_goal_is_agreed_once_however_often_it_is_revised() {
    let c = Clinic::open();
    let g = c.goal(
        "Cook dinner for my kids again",
        json!({"measure_code": "nrs", "target_value": 8}),
        true,
    );
    let mut revised = crate::goals::content("Cook dinner for my kids again");
    revised["start_date"] = json!(c.start.date_naive());
    for target in [9.0, 10.0] {
        revised["target_value"] = json!(target);
        let path = format!("/api/v1/clients/{}/goals/{g}/revisions", c.maria);
        assert_eq!(
            c.app.post(&c.olivia, &path, &revised).ok(201)["status"],
            "proposed"
        );
        c.agree(&g);
    }
    let agreed = c
        .milestones()
        .iter()
        .filter(|m| m["kind"] == "goal-agreed" && m["goal_id"] == g.as_str())
        .count();
    assert_eq!(agreed, 1, "three agreed revisions, one goal agreed");
}

#[test]
fn each_threshold_cites_its_source_and_errors_read_in_plain_words() {
    let c = Clinic::open();
    let measures = c.app.get(&c.olivia, "/api/v1/measures");
    let source = |code: &str| {
        measures
            .body
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["code"] == code)
            .and_then(|m| m["meaningful_change_source"].as_str())
            .unwrap_or_default()
            .to_owned()
    };
    measures.ok(200);
    assert!(
        source("quickdash").starts_with("Sorensen et al. 2013"),
        "{}",
        source("quickdash")
    );
    assert!(!source("quickdash").contains("Institute for Work"));
    assert!(source("psfs").contains("3 points for a single activity"));
    assert!(source("lefs").starts_with("Binkley et al. 1999"));
    let detail = |r: headway_tests::Reply| -> Vec<(String, String)> {
        r.problem(422)["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["field"].as_str().unwrap_or_default().to_owned(),
                    e["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let g = c.goal("Walk to the shop", json!({}), true);
    let half = detail(c.record(
        &c.olivia,
        json!({"goal_id": g, "measure_code": "gas", "values": {"value": 0.5}}),
    ));
    assert_eq!(
        half,
        vec![(
            "values.value".to_owned(),
            "must be a whole number".to_owned()
        )]
    );
    let mut lefs: Vec<Value> = (0..19).map(|_| json!({"value": 2})).collect();
    lefs.push(json!({"value": null}));
    let unanswered = detail(c.record(
        &c.me,
        json!({"measure_code": "lefs", "values": {"items": lefs}}),
    ));
    assert_eq!(
        unanswered,
        vec![
            (
                "values.items[19].value".to_owned(),
                "is required".to_owned()
            ),
            (
                "values.items".to_owned(),
                "every item must be answered".to_owned()
            )
        ]
    );
    let mut quick: Vec<Value> = (0..9).map(|_| json!({"value": 3})).collect();
    quick.extend([json!({"value": null}), json!({"value": null})]);
    let two = detail(c.record(
        &c.me,
        json!({"measure_code": "quickdash", "values": {"items": quick}}),
    ));
    assert_eq!(
        two,
        vec![(
            "values.items".to_owned(),
            "one item may be left unanswered, not 2".to_owned()
        )]
    );
}
