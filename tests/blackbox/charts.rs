//! A goal's series and chart by source, and a chart a client can read without help:
//! a legend for every line and the meaningful-change band, which way is better, the
//! trend and its projection, GAS levels in words, and labels that do not collide.
//!
//! Set `HEADWAY_CHART_DIR` to keep each chart drawn here as an SVG file to look at
//! (`rsvg-convert -o chart.png chart.svg`).

use chrono::{Duration, Utc};
use serde_json::{json, Value};

use crate::figures::Clinic;

fn clinic() -> Clinic {
    Clinic::open_from(Utc::now() - Duration::days(21))
}

impl Clinic {
    /// An agreed goal with a GAS scale whose baseline is -2.
    fn gas_goal(&self, words: &str, measure: &str, target: Option<f64>) -> String {
        let mut content = json!({"client_words": words, "statement": format!("Measurable: {words}"), "occupation_area": "iadl", "importance": 6,
            "gas": {"levels": ["cannot", "with help", "alone, slowly", "alone", "for guests"], "baseline": -2},
            "start_date": self.start.date_naive(), "target_date": (self.start + Duration::weeks(8)).date_naive(), "measure_code": measure});
        if let Some(t) = target {
            content["target_value"] = json!(t);
        }
        let r = self.app.post(
            &self.olivia,
            &format!("/api/v1/clients/{}/episodes/{}/goals", self.maria, self.ep),
            &json!({ "content": content }),
        );
        let id = r.ok(201)["id"].as_str().unwrap_or_default().to_owned();
        self.app
            .post(
                &self.me,
                &format!("/api/v1/clients/{}/goals/{id}/agreement", self.maria),
                &json!({}),
            )
            .ok(200);
        id
    }

    fn rate_on_week(&self, who: &str, goal: &str, measure: &str, values: Value, week: f64) {
        let at = self.start + Duration::minutes((week * 7.0 * 24.0 * 60.0) as i64);
        self.app
            .post(
                who,
                &format!("/api/v1/clients/{}/episodes/{}/measurements", self.maria, self.ep),
                &json!({"goal_id": goal, "measure_code": measure, "values": values, "observed_at": at}),
            )
            .ok(201);
    }

    fn get(&self, goal: &str, rest: &str) -> Value {
        self.app
            .get(
                &self.me,
                &format!("/api/v1/clients/{}/goals/{goal}/{rest}", self.maria),
            )
            .ok(200)
            .clone()
    }

    fn chart(&self, goal: &str, query: &str, keep_as: &str) -> String {
        let r = self.app.send(
            self.app
                .http
                .get(self.app.url(&format!(
                    "/api/v1/clients/{}/goals/{goal}/chart.svg{query}",
                    self.maria
                )))
                .bearer_auth(&self.me),
        );
        assert_eq!(r.status.as_u16(), 200, "{}", r.text);
        if let Some(dir) = std::env::var_os("HEADWAY_CHART_DIR") {
            let _ = std::fs::write(std::path::Path::new(&dir).join(keep_as), &r.text);
        }
        r.text
    }
}

/// Each source's values as the series lists them.
fn by_source(series: &Value) -> Vec<(String, bool, Vec<f64>)> {
    series["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|s| {
            (
                s["source"].as_str().unwrap_or_default().to_owned(),
                s["primary"] == true,
                s["points"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|p| p["value"].as_f64())
                    // Scores as stored (QuickDASH's 55 arrives as 55.00000000000001).
                    .map(|v| (v * 1e6).round() / 1e6)
                    .collect(),
            )
        })
        .collect()
}

fn parse(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("invalid SVG: {e}\n{svg}"))
}

fn class<'a, 'i>(doc: &'a roxmltree::Document<'i>, class: &str) -> Vec<roxmltree::Node<'a, 'i>> {
    doc.descendants()
        .filter(|n| n.attribute("class") == Some(class))
        .collect()
}

/// All the text a node shows, its own and its children's (not tooltips).
fn shown(n: roxmltree::Node<'_, '_>) -> String {
    n.descendants()
        .filter(|d| d.is_text() && d.parent().is_some_and(|p| !p.has_tag_name("title")))
        .filter_map(|d| d.text())
        .collect()
}

/// The legend's entries, in order.
fn legend(doc: &roxmltree::Document<'_>) -> Vec<(String, String)> {
    class(doc, "legend-item")
        .into_iter()
        .map(|n| {
            (
                n.attribute("data-for").unwrap_or_default().to_owned(),
                shown(n),
            )
        })
        .collect()
}

fn attr(n: roxmltree::Node<'_, '_>, name: &str) -> f64 {
    n.attribute(name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

fn desc(doc: &roxmltree::Document<'_>) -> String {
    doc.root_element()
        .children()
        .find(|n| n.has_tag_name("desc"))
        .and_then(|n| n.text())
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn therapist_client_and_caregiver_values_are_series_side_by_side_never_one_line() {
    let c = clinic();
    let goal = c.gas_goal("Cook dinner for my kids again", "nrs", Some(8.0));
    // Lucia, Maria's caregiver, may report once Maria lets her contribute.
    let links = c
        .app
        .get(&c.me, &format!("/api/v1/clients/{}/caregivers", c.maria));
    let link = links.ok(200)[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    c.app
        .patch(
            &c.me,
            &format!("/api/v1/clients/{}/caregivers/{link}", c.maria),
            &json!({"permission": "contribute"}),
        )
        .ok(200);
    let lucia = c.app.login("lucia@family.example").access;
    // The therapist rates 1, 2, 3 a week apart; on the third day all three report: 3, 6, 5.
    for (week, v) in [(0.0, 1), (1.0, 2), (2.0, 3)] {
        c.rate_on_week(&c.olivia, &goal, "nrs", json!({"value": v}), week);
    }
    c.rate_on_week(&c.me, &goal, "nrs", json!({"value": 6}), 2.0);
    c.rate_on_week(&lucia, &goal, "nrs", json!({"value": 5}), 2.0);

    let series = c.get(&goal, "series");
    assert_eq!(series["primary_source"], "therapist");
    assert_eq!(
        by_source(&series),
        vec![
            ("therapist".to_owned(), true, vec![1.0, 2.0, 3.0]),
            ("client".to_owned(), false, vec![6.0]),
            ("caregiver".to_owned(), false, vec![5.0]),
        ]
    );
    let labels: Vec<&str> = series["sources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s["label"].as_str())
        .collect();
    assert_eq!(
        labels,
        vec![
            "Therapist-assessed",
            "Client-reported",
            "Caregiver-reported"
        ]
    );
    // The source filter keeps one source.
    assert_eq!(
        by_source(&c.get(&goal, "series?source=client")),
        vec![("client".to_owned(), false, vec![6.0])]
    );
    assert_eq!(
        by_source(&c.get(&goal, "series?source=therapist&max_points=2"))[0]
            .2
            .len(),
        2
    );

    // The chart draws one line per source, each with a legend entry saying whose it is.
    let svg = c.chart(&goal, "", "sources.svg");
    let doc = parse(&svg);
    let lines: Vec<&str> = class(&doc, "values")
        .into_iter()
        .filter_map(|n| n.attribute("data-source"))
        .collect();
    assert_eq!(
        lines,
        vec!["therapist"],
        "one line joins the therapist's three values only"
    );
    let points: Vec<String> = class(&doc, "point")
        .into_iter()
        .filter_map(|n| n.children().find(|t| t.has_tag_name("title")))
        .filter_map(|t| t.text().map(str::to_owned))
        .collect();
    assert_eq!(points.len(), 5, "{points:?}");
    let day = (c.start + Duration::weeks(2)).date_naive();
    for want in [
        format!("Therapist-assessed, {day}: 3"),
        format!("Client-reported, {day}: 6"),
        format!("Caregiver-reported, {day}: 5"),
    ] {
        assert!(points.contains(&want), "{want} in {points:?}");
    }
    let entries = legend(&doc);
    let sources: Vec<&str> = entries
        .iter()
        .filter(|(k, _)| k == "source")
        .map(|(_, t)| t.as_str())
        .collect();
    assert_eq!(
        sources,
        vec![
            "Therapist-assessed (used for progress)",
            "Client-reported",
            "Caregiver-reported"
        ]
    );
    assert!(
        entries.iter().any(|(k, t)| k == "meaningful-band"
            && t == "Change of less than 2 points from baseline: not yet meaningful"),
        "{entries:?}"
    );
    assert!(entries
        .iter()
        .any(|(k, t)| k == "target" && t == "Target (8)"));
    let text = desc(&doc);
    assert!(
        text.contains("Therapist-assessed values (used for progress): baseline 1, latest 3")
            && text.contains(&format!(
                "Client-reported values: latest 6 on {day} (1 value)"
            ))
            && text.contains(&format!(
                "Caregiver-reported values: latest 5 on {day} (1 value)"
            ))
            && text.contains("higher is better"),
        "{text}"
    );
    let cue = class(&doc, "direction-cue");
    assert_eq!(
        cue.iter().map(|n| shown(*n)).collect::<Vec<_>>(),
        vec!["Higher is better"]
    );

    // Filtered to the client's values, only the client's line and legend entry.
    let doc_svg = c.chart(&goal, "?source=client", "client-only.svg");
    let only = parse(&doc_svg);
    assert_eq!(class(&only, "point").len(), 1);
    let kinds: Vec<String> = legend(&only)
        .into_iter()
        .filter(|(k, _)| k == "source")
        .map(|(_, t)| t)
        .collect();
    assert_eq!(kinds, vec!["Client-reported"]);
}

/// QuickDASH answers for ten items (one left out): ((sum / 10) - 1) * 25.
fn quickdash(fours: usize, threes: usize, twos: usize) -> Value {
    let mut items: Vec<Value> = std::iter::repeat_n(4, fours)
        .chain(std::iter::repeat_n(3, threes))
        .chain(std::iter::repeat_n(2, twos))
        .map(|v| json!({ "value": v }))
        .collect();
    items.push(json!({ "value": null }));
    json!({ "items": items })
}

#[test]
fn a_lower_is_better_chart_says_so_and_draws_the_trend_projected_to_the_target_date() {
    let c = clinic();
    let goal = c.gas_goal("Carry my shopping home", "quickdash", Some(20.0));
    // QuickDASH is the client's questionnaire: their values are the primary line.
    // Maria: 8x4 + 2x3 = 38 -> (3.8 - 1) * 25 = 70; 4x4 + 6x3 = 34 -> 60;
    // 2x4 + 8x3 = 32 -> 55; 8x3 + 2x2 = 28 -> 45; weeks 0, 1, 2, 3.
    for (week, answers) in [
        (0.0, quickdash(8, 2, 0)),
        (1.0, quickdash(4, 6, 0)),
        (2.0, quickdash(2, 8, 0)),
        (3.0, quickdash(0, 8, 2)),
    ] {
        c.rate_on_week(&c.me, &goal, "quickdash", answers, week);
    }
    // Olivia, in clinic: 10x3 = 30 -> 50 at week 1.5; 4x3 + 6x2 = 24 -> 35 at week 3.
    c.rate_on_week(&c.olivia, &goal, "quickdash", quickdash(0, 10, 0), 1.5);
    c.rate_on_week(&c.olivia, &goal, "quickdash", quickdash(0, 4, 6), 3.0);
    assert_eq!(
        by_source(&c.get(&goal, "series")),
        vec![
            ("client".to_owned(), true, vec![70.0, 60.0, 55.0, 45.0]),
            ("therapist".to_owned(), false, vec![50.0, 35.0]),
        ]
    );

    let svg = c.chart(&goal, "", "quickdash.svg");
    let doc = parse(&svg);
    // Which way is better, at the head of the value axis.
    let cue = class(&doc, "direction-cue");
    assert_eq!(
        cue.iter().map(|n| shown(*n)).collect::<Vec<_>>(),
        vec!["Lower is better"]
    );
    let axis_x = class(&doc, "axes")
        .first()
        .and_then(|g| g.children().find(|n| n.has_tag_name("line")))
        .map_or(f64::NAN, |l| attr(l, "x1"));
    let arrow = cue[0]
        .children()
        .find(|n| n.has_tag_name("polygon"))
        .and_then(|p| p.attribute("points"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        arrow.starts_with(&format!("{axis_x:.1},")),
        "the arrow's tip sits on the axis: {arrow} vs x {axis_x}"
    );
    // Least squares over weeks 0..3 and 70, 60, 55, 45: x mean 1.5, y mean 57.5,
    // Sxy = -1.5*12.5 - 0.5*2.5 + 0.5*-2.5 + 1.5*-12.5 = -40, Sxx = 5: -8 a week.
    // Reaches 20 at 1.5 + (20 - 57.5) / -8 = 6.1875 weeks after the first value.
    let entries = legend(&doc);
    assert!(
        entries
            .iter()
            .any(|(k, t)| k == "trend" && t == "Trend of client-reported values (-8 a week)"),
        "{entries:?}"
    );
    let trend = class(&doc, "trend");
    assert_eq!(trend.len(), 1);
    assert!(
        attr(trend[0], "y2") > attr(trend[0], "y1"),
        "falling values, drawn going down"
    );
    let projection = class(&doc, "projection");
    assert_eq!(projection.len(), 1);
    assert!(
        (attr(projection[0], "x1") - attr(trend[0], "x2")).abs() < 0.2,
        "the projection continues the trend"
    );
    let due = class(&doc, "target-date");
    assert!(
        (attr(projection[0], "x2") - attr(due[0], "x1")).abs() < 0.2,
        "the projection runs to the target date"
    );
    assert!(entries
        .iter()
        .any(|(k, t)| k == "projection" && t.starts_with("At this pace: ")));
    let reached = (c.start + Duration::minutes((6.1875 * 7.0 * 24.0 * 60.0) as i64)).date_naive();
    let text = desc(&doc);
    assert!(
        text.contains("lower is better")
            && text.contains("Trend of client-reported values (last 4): -8 a week")
            && text.contains(&format!("the target is reached around {reached}")),
        "{text}"
    );
    assert!(entries.iter().any(|(k, t)| k == "meaningful-band"
        && t == "Change of less than 14 points from baseline: not yet meaningful"));
    // The band runs from the baseline 70 down to 56 (lower is better).
    let band = class(&doc, "meaningful-band");
    let baseline = class(&doc, "baseline");
    assert!(
        (attr(band[0], "y") - attr(baseline[0], "y1")).abs() < 0.2,
        "the band starts at the baseline and extends below it"
    );
}

#[test]
fn a_gas_chart_shows_the_expected_level_the_level_descriptions_and_a_clear_baseline() {
    let c = clinic();
    let goal = c.gas_goal("Have friends round for a meal", "gas", None);
    for (week, level) in [(0.0, -2), (1.0, -1), (2.0, -1), (3.0, 0)] {
        c.rate_on_week(&c.olivia, &goal, "gas", json!({ "value": level }), week);
    }
    c.rate_on_week(&c.me, &goal, "gas", json!({"value": 1}), 3.0);
    let series = c.get(&goal, "series");
    assert_eq!(
        series["primary_source"], "therapist",
        "GAS follows the therapist"
    );
    assert_eq!(
        by_source(&series),
        vec![
            ("therapist".to_owned(), true, vec![-2.0, -1.0, -1.0, 0.0]),
            ("client".to_owned(), false, vec![1.0]),
        ]
    );

    let svg = c.chart(&goal, "", "gas.svg");
    let doc = parse(&svg);
    // Each level in the goal's own words on the axis.
    let ticks: Vec<String> = class(&doc, "y-tick").into_iter().map(shown).collect();
    assert_eq!(
        ticks,
        vec![
            "-2 cannot",
            "-1 with help",
            "0 alone, slowly",
            "+1 alone",
            "+2 for guests"
        ]
    );
    // The expected level, 0, is a line, level with its tick, and in the legend.
    let expected = class(&doc, "expected-level");
    assert_eq!(expected.len(), 1);
    let zero = class(&doc, "y-tick")
        .into_iter()
        .find(|n| shown(*n) == "0 alone, slowly")
        .map_or(f64::NAN, |n| attr(n, "y"));
    assert!((attr(expected[0], "y1") - (zero - 4.0)).abs() < 0.2);
    let entries = legend(&doc);
    assert!(entries
        .iter()
        .any(|(k, t)| k == "expected-level" && t == "Expected outcome (level 0)"));
    assert!(entries.iter().any(|(k, t)| k == "meaningful-band"
        && t == "Change of less than 1 level from baseline: not yet meaningful"));
    assert!(entries
        .iter()
        .any(|(k, t)| k == "baseline" && t == "Baseline: the starting point (-2)"));
    assert!(entries.iter().any(|(k, _)| k == "trend"));
    // "Baseline -2" sits on the lowest level: its label stays above the date axis and
    // clear of the dates under it (12 px text: 10 px above its y, 3 px below).
    let label = class(&doc, "label baseline-label");
    assert_eq!(label.len(), 1);
    assert_eq!(shown(label[0]), "Baseline -2");
    let label_y = attr(label[0], "y");
    let axis_y = class(&doc, "axes")
        .first()
        .and_then(|g| g.children().nth(1))
        .map_or(f64::NAN, |l| attr(l, "y1"));
    assert!(
        label_y + 3.0 < axis_y,
        "label at {label_y}, axis at {axis_y}"
    );
    for tick in class(&doc, "x-tick") {
        assert!(
            attr(tick, "y") - 10.0 > label_y + 3.0,
            "date at {} overlaps the baseline label at {label_y}",
            attr(tick, "y")
        );
    }
    let text = desc(&doc);
    assert!(
        text.contains("Therapist-assessed values (used for progress): baseline -2, latest 0")
            && text.contains("Client-reported values: latest 1")
            && text.contains("Levels: -2 cannot; -1 with help; 0 alone, slowly; +1 alone; +2 for guests; 0 is the expected outcome."),
        "{text}"
    );
}
