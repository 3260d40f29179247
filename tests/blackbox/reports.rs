//! Progress reports: drafted from recorded data with the progress view's figures,
//! edited with If-Match, signed and then never changed, corrected by signed addenda,
//! read by those the policy allows, served as JSON, HTML and PDF.

use chrono::{Duration, Utc};
use headway_tests::TestApp;
use serde_json::{json, Value};

use crate::goals::episode;

struct Story {
    app: TestApp,
    maria: String,
    ep: String,
    goal: String,
    olivia: String,
    me: String,
}

/// Maria's episode: an agreed goal on NRS (target 8) rated 2, 3 and 4 by Olivia on
/// three days and 7 by Maria, and a GAS rating.
fn story() -> Story {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.login("maria@client.example").access;
    let ep = episode(&app, &olivia, &maria);
    let start = Utc::now() - Duration::days(10);
    let gas = json!({"levels": ["cannot", "with help", "alone, slowly", "alone", "for guests"], "baseline": -1});
    let content = json!({"client_words": "Cook dinner for my kids again", "statement": "Prepare a two-course meal alone", "occupation_area": "iadl", "importance": 8, "measure_code": "nrs", "target_value": 8.0, "gas": gas, "start_date": start.date_naive()});
    let goal = app
        .post(
            &olivia,
            &format!("/api/v1/clients/{maria}/episodes/{ep}/goals"),
            &json!({"content": content}),
        )
        .ok(201)["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.post(
        &me,
        &format!("/api/v1/clients/{maria}/goals/{goal}/agreement"),
        &json!({}),
    )
    .ok(200);
    let record = |who: &str, body: Value| {
        app.post(
            who,
            &format!("/api/v1/clients/{maria}/episodes/{ep}/measurements"),
            &body,
        )
        .ok(201);
    };
    for (day, value) in [(0, 2), (3, 3), (6, 4)] {
        record(
            &olivia,
            json!({"goal_id": goal, "measure_code": "nrs", "values": {"value": value}, "observed_at": start + Duration::days(day)}),
        );
    }
    record(
        &me,
        json!({"goal_id": goal, "measure_code": "nrs", "values": {"value": 7}, "observed_at": start + Duration::days(6)}),
    );
    record(
        &olivia,
        json!({"goal_id": goal, "measure_code": "gas", "values": {"value": 1}, "observed_at": start + Duration::days(6)}),
    );
    Story {
        app,
        maria,
        ep,
        goal,
        olivia,
        me,
    }
}

impl Story {
    fn draft(&self, from: chrono::NaiveDate) -> Value {
        let today = Utc::now().date_naive();
        self.app
            .post(
                &self.olivia,
                &format!("/api/v1/clients/{}/episodes/{}/reports", self.maria, self.ep),
                &json!({"period_start": from, "period_end": today, "assessment": "Cooking with supervision."}),
            )
            .ok(201)
            .clone()
    }

    fn path(&self, report: &Value) -> String {
        format!(
            "/api/v1/clients/{}/reports/{}",
            self.maria,
            report["id"].as_str().unwrap_or_default()
        )
    }

    fn fetch(&self, token: &str, path: &str, accept: &str) -> reqwest::blocking::Response {
        self.app
            .http
            .get(self.app.url(path))
            .bearer_auth(token)
            .header("Accept", accept)
            .send()
            .unwrap_or_else(|e| panic!("{e}"))
    }
}

fn actions(app: &TestApp, admin: &str, client: &str, action: &str) -> usize {
    app.audit_for_client(admin, client)
        .iter()
        .filter(|e| e["action"] == action)
        .count()
}

#[test]
fn a_draft_states_the_progress_views_figures_and_the_treatment_days() {
    let s = story();
    let from = (Utc::now() - Duration::days(30)).date_naive();
    let report = s.draft(from);
    assert_eq!(report["status"], "draft");
    assert_eq!(report["treatment_days"], 3, "{report}");
    assert_eq!(report["treatment_days_per_report"], 10);
    assert_eq!(report["client"]["name"], "Maria Lopez");
    assert_eq!(
        report["episode"]["reason_for_referral"],
        "Stroke, left hemiparesis"
    );
    let progress = s
        .app
        .get(
            &s.olivia,
            &format!("/api/v1/clients/{}/episodes/{}/progress", s.maria, s.ep),
        )
        .ok(200)
        .clone();
    let line = &progress["goals"][0];
    let goal = &report["goals"][0];
    assert_eq!(goal["goal_id"], s.goal.as_str());
    assert_eq!(goal["label"], line["goal"]["label"]);
    assert_eq!(goal["client_words"], "Cook dinner for my kids again");
    assert_eq!(goal["baseline"], line["progress"]["baseline"]);
    assert_eq!(goal["current"], line["progress"]["latest"]);
    assert_eq!(goal["change"], line["progress"]["change"]);
    assert_eq!(
        goal["percent_to_target"],
        line["progress"]["percent_to_target"]
    );
    assert_eq!(
        goal["meaningful_change"],
        line["progress"]["meaningful_change"]
    );
    assert_eq!(goal["gas_level"], line["gas_level"]);
    assert_eq!(goal["achievement_status"], line["achievement_status"]);
    // By hand: therapist-assessed 2 -> 4 on NRS (the client's 7 is beside it, never
    // merged), 2 points is a meaningful change; GAS -1 -> +1; T-scores 40 -> 60.
    assert_eq!(goal["baseline"], 2.0);
    assert_eq!(goal["current"], 4.0);
    assert_eq!(goal["target"], 8.0);
    assert_eq!(goal["meaningful_change"], true);
    assert_eq!(
        (goal["gas_baseline"].clone(), goal["gas_level"].clone()),
        (json!(-1), json!(1))
    );
    assert_eq!(report["gas"]["baseline_t"], progress["gas"]["baseline_t"]);
    assert_eq!(report["gas"]["current_t"], progress["gas"]["current_t"]);
    assert_eq!(goal["adherence"]["status"], "not-recorded");
    // A shorter period counts only its own treatment days; the figures are as at its end.
    let recent = s.draft((Utc::now() - Duration::days(5)).date_naive());
    assert_eq!(recent["treatment_days"], 1, "{recent}");
    assert_eq!(recent["goals"][0]["baseline"], 2.0);
    // A period that ends before it starts, or in the future, is refused, naming it.
    let bad = s.app.post(
        &s.olivia,
        &format!("/api/v1/clients/{}/episodes/{}/reports", s.maria, s.ep),
        &json!({"period_start": "2026-01-10", "period_end": "2026-01-01"}),
    );
    bad.problem(422);
    assert_eq!(bad.fields(), ["period_end"]);
}

#[test]
fn edits_need_if_match_signing_freezes_the_report_and_addenda_are_signed() {
    let s = story();
    let admin = s.app.login("admin@riverside.example").access;
    let report = s.draft((Utc::now() - Duration::days(30)).date_naive());
    let path = s.path(&report);
    let edit = json!({"assessment": "Cooks a simple meal with cues.", "plan": "Two more weeks."});
    // Without If-Match: 428, nothing changed.
    let r = s.app.send(
        s.app
            .http
            .put(s.app.url(&path))
            .bearer_auth(&s.olivia)
            .json(&edit),
    );
    r.problem(428);
    // A stale tag: 412.
    let r = s
        .app
        .update_at(reqwest::Method::PUT, &s.olivia, &path, "\"9\"", &edit);
    r.problem(412);
    // The current tag: a new draft version.
    let r = s
        .app
        .update_at(reqwest::Method::PUT, &s.olivia, &path, "\"1\"", &edit);
    assert_eq!(r.ok(200)["version"], 2);
    assert_eq!(r.header("etag"), Some("\"2\""));
    assert_eq!(r.body["plan"], "Two more weeks.");
    // The client may not edit (403: she sees her record, it is not hers to write).
    s.app.put(&s.me, &path, &edit).problem(403);
    // Sign.
    let signed = s
        .app
        .post(&s.olivia, &format!("{path}/signature"), &json!({}));
    let signed = signed.ok(200).clone();
    assert_eq!(signed["status"], "signed");
    assert_eq!(signed["signature"]["name"], "Olivia Okafor, OT");
    assert_eq!(signed["signature"]["discipline"], "occupational-therapy");
    let before = s.app.get(&s.olivia, &path).ok(200).clone();
    // Any edit after signing: 409, nothing changed.
    let late = s
        .app
        .put(&s.olivia, &path, &json!({"assessment": "x", "plan": "y"}));
    let problem = late.problem(409);
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("signed"),
        "{problem}"
    );
    s.app
        .post(&s.olivia, &format!("{path}/signature"), &json!({}))
        .problem(409);
    assert_eq!(s.app.get(&s.olivia, &path).ok(200), &before);
    // A correction is a signed addendum, listed with the report.
    let add = s.app.post(
        &s.olivia,
        &format!("{path}/addenda"),
        &json!({"body": "Correction: the meal was cooked with one verbal cue."}),
    );
    assert_eq!(add.ok(201)["signature"]["name"], "Olivia Okafor, OT");
    let shown = s.app.get(&s.olivia, &path).ok(200).clone();
    assert_eq!(shown["addenda"].as_array().map(Vec::len), Some(1));
    assert_eq!(shown["assessment"], before["assessment"]);
    // An empty addendum: 422 naming the field.
    let empty = s
        .app
        .post(&s.olivia, &format!("{path}/addenda"), &json!({"body": " "}));
    empty.problem(422);
    assert_eq!(empty.fields(), ["body"]);
    // Each step left its audit event.
    for action in [
        "report.draft",
        "report.edit",
        "report.sign",
        "report.addendum",
        "report.read",
    ] {
        assert!(actions(&s.app, &admin, &s.maria, action) >= 1, "{action}");
    }
}

#[test]
fn the_client_reads_only_signed_reports_and_others_get_404() {
    let s = story();
    let report = s.draft((Utc::now() - Duration::days(30)).date_naive());
    let path = s.path(&report);
    let list = format!("/api/v1/clients/{}/episodes/{}/reports", s.maria, s.ep);
    let sam = s.app.login("sam@client.example").access;
    let lucia = s.app.login("lucia@family.example").access;
    let admin = s.app.login("admin@riverside.example").access;
    // A draft: the care team and admins only.
    s.app.get(&s.me, &path).problem(404);
    s.app.get(&lucia, &path).problem(404);
    assert_eq!(s.app.get(&s.me, &list).ok(200), &json!([]));
    s.app.get(&admin, &path).ok(200);
    s.app.get(&sam, &path).problem(404);
    s.app
        .post(&s.olivia, &format!("{path}/signature"), &json!({}))
        .ok(200);
    // Signed: the client and her caregiver read it; another client still gets 404.
    assert_eq!(s.app.get(&s.me, &path).ok(200)["status"], "signed");
    s.app.get(&lucia, &path).ok(200);
    assert_eq!(
        s.app.get(&s.me, &list).ok(200).as_array().map(Vec::len),
        Some(1)
    );
    s.app.get(&sam, &path).problem(404);
    s.app
        .put(&sam, &path, &json!({"assessment": "", "plan": ""}))
        .problem(404);
}

#[test]
fn the_report_is_served_as_html_and_as_a_pdf_with_the_goals_and_charts() {
    let s = story();
    let report = s.draft((Utc::now() - Duration::days(30)).date_naive());
    let path = s.path(&report);
    s.app
        .post(&s.olivia, &format!("{path}/signature"), &json!({}))
        .ok(200);
    let html = s.fetch(&s.me, &path, "text/html");
    assert_eq!(html.status(), 200);
    assert!(html
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/html")));
    let page = html.text().unwrap_or_default();
    for needle in [
        "Maria Lopez",
        "Cook dinner for my kids again",
        "Olivia Okafor, OT",
        "<svg",
        "No home programme recorded",
        "3 treatment days",
    ] {
        assert!(page.contains(needle), "HTML lacks {needle}");
    }
    let label = report["goals"][0]["label"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    // Baseline 2, current 4, target 8 in the goals table.
    assert!(
        page.contains(&format!("<td>{label}</td><td>Numeric rating scale"))
            || page.contains(&label)
    );
    for figure in [">2<", ">4<", ">8<", ">+2<"] {
        assert!(page.contains(figure), "HTML lacks {figure}");
    }
    let pdf = s.fetch(&s.me, &path, "application/pdf");
    assert_eq!(pdf.status(), 200);
    assert_eq!(
        pdf.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/pdf")
    );
    let bytes = pdf.bytes().unwrap_or_default();
    assert!(bytes.starts_with(b"%PDF"), "not a PDF");
    // Its text, as a reader extracts it (poppler's pdftotext, when installed).
    let file = std::env::temp_dir().join(format!(
        "headway-report-{}.pdf",
        report["id"].as_str().unwrap_or_default()
    ));
    std::fs::write(&file, &bytes).unwrap_or_else(|e| panic!("{e}"));
    if let Ok(out) = std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        for needle in [
            label.as_str(),
            "Maria Lopez",
            "Olivia Okafor, OT",
            "Page 1 of",
            "No home programme recorded",
        ] {
            assert!(text.contains(needle), "PDF text lacks {needle}: {text}");
        }
    }
    // HEADWAY_REPORT_PDF=path keeps a copy, to look at.
    if let Ok(keep) = std::env::var("HEADWAY_REPORT_PDF") {
        let _ = std::fs::copy(&file, keep);
    }
    let _ = std::fs::remove_file(&file);
    // JSON stays the default.
    let json = s.fetch(&s.me, &path, "*/*");
    assert!(json
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json")));
}
