//! Between sessions: the home programme, practice and adherence, check-ins, questions.
//! What the client, their caregivers and the care team see, each rule, each role.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use headway_tests::TestApp;
use serde_json::{json, Value};

use crate::goals::{content, episode};

const OLIVIA: &str = "olivia.ot@riverside.example";
const PETER: &str = "peter.pt@riverside.example";
const MARIA: &str = "maria@client.example";
const SAM: &str = "sam@client.example";
const LUCIA: &str = "lucia@family.example";
const ADMIN: &str = "admin@riverside.example";

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_owned()
}

/// A prescription `times` a week, started long enough ago to be in effect today.
pub fn prescription(times: u8) -> Value {
    let start = Utc::now().date_naive() - Duration::days(21);
    json!({
        "instructions": "Sit to stand from a kitchen chair, slowly",
        "times_per_week": times, "sets": 3, "repetitions": 10,
        "start_date": start.to_string()
    })
}

/// The login of a demo client, by their record's name.
fn login_of(app: &TestApp, therapist: &str, client: &str) -> &'static str {
    let r = app.get(therapist, &format!("/api/v1/clients/{client}"));
    match r.ok(200)["name"].as_str() {
        Some("Samuel Osei") => SAM,
        _ => MARIA,
    }
}

/// For the walk's world: an activity serving `goal`, a practice the client logged and a
/// question the client asked.
pub fn records(
    app: &TestApp,
    therapist: &str,
    client: &str,
    episode: &str,
    goal: &str,
) -> (String, String, String) {
    let own = app.login(login_of(app, therapist, client)).access;
    let activity = id(app
        .post(
            therapist,
            &format!("/api/v1/clients/{client}/episodes/{episode}/activities"),
            &json!({"goal_id": goal, "prescription": prescription(5)}),
        )
        .ok(201));
    let practice = id(app
        .post(
            &own,
            &format!("/api/v1/clients/{client}/activities/{activity}/practice"),
            &json!({"outcome": "done", "effort": 5, "pain": 2}),
        )
        .ok(201));
    let question = id(app
        .post(
            &own,
            &format!("/api/v1/clients/{client}/questions"),
            &json!({"body": "Can I walk to the shop yet?"}),
        )
        .ok(201));
    (activity, practice, question)
}

fn at(day: NaiveDate) -> String {
    format!("{day}T10:00:00Z")
}

struct Scene {
    app: TestApp,
    maria: String,
    episode: String,
    goal: String,
    olivia: String,
    me: String,
}

fn scene() -> Scene {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login(OLIVIA).access;
    let me = app.login(MARIA).access;
    let episode = episode(&app, &olivia, &maria);
    let goal = id(app
        .post(
            &olivia,
            &format!("/api/v1/clients/{maria}/episodes/{episode}/goals"),
            &json!({"content": content("Stand up from a chair without help")}),
        )
        .ok(201));
    Scene {
        app,
        maria,
        episode,
        goal,
        olivia,
        me,
    }
}

impl Scene {
    fn prescribe(&self, body: Value) -> (u16, Value) {
        let path = format!(
            "/api/v1/clients/{}/episodes/{}/activities",
            self.maria, self.episode
        );
        let r = self.app.post(&self.olivia, &path, &body);
        (r.status.as_u16(), r.body.clone())
    }

    fn log(&self, token: &str, activity: &str, body: Value) -> headway_tests::Reply {
        let path = format!(
            "/api/v1/clients/{}/activities/{activity}/practice",
            self.maria
        );
        self.app.post(token, &path, &body)
    }

    fn logs(&self, activity: &str, query: &str) -> Vec<Value> {
        let path = format!(
            "/api/v1/clients/{}/activities/{activity}/practice{query}",
            self.maria
        );
        let r = self.app.get(&self.olivia, &path);
        r.ok(200).as_array().cloned().unwrap_or_default()
    }

    fn access_log(&self) -> String {
        let path = format!(
            "/api/v1/clients/{}/access-log?limit=100&include_own=true",
            self.maria
        );
        self.app.get(&self.me, &path).text
    }
}

fn last_monday() -> NaiveDate {
    let today = Utc::now().date_naive();
    today - Duration::days(i64::from(today.weekday().num_days_from_monday()) + 7)
}

#[test]
fn a_prescribed_activity_is_logged_and_its_weekly_adherence_shows_beside_the_goal() {
    let s = scene();
    let monday = last_monday();
    let body = json!({"goal_id": s.goal, "prescription": {
        "instructions": "Sit to stand, 10 times", "times_per_week": 3,
        "repetitions": 10, "start_date": monday.to_string()
    }});
    let (status, activity) = s.prescribe(body);
    assert_eq!(status, 201, "{activity}");
    let a = id(&activity);
    assert_eq!(activity["status"], "active");
    assert_eq!(activity["versions"].as_array().map(Vec::len), Some(1));
    // Maria does it three times last week: the week is fully done.
    for day in 0..3 {
        let when = at(monday + Duration::days(day));
        let body = json!({"outcome": "done", "effort": 6, "pain": 1, "performed_at": when});
        s.log(&s.me, &a, body).ok(201);
    }
    let body = json!({"outcome": "skipped", "note": "Too tired", "performed_at": at(monday + Duration::days(3))});
    s.log(&s.me, &a, body).ok(201);
    let path = format!("/api/v1/clients/{}/activities/{a}", s.maria);
    let read = s.app.get(&s.me, &path);
    let week = read.ok(200)["weeks"][0].clone();
    assert_eq!(
        (
            &week["prescribed"],
            &week["done"],
            &week["skipped"],
            &week["adherence"],
            &week["fully_done"]
        ),
        (&json!(3), &json!(3), &json!(1), &json!(1.0), &json!(true)),
        "{week}"
    );
    assert_eq!(read.header("etag"), Some("\"1\""));

    // Beside the goal it serves, in the progress view.
    let progress = s.app.get(
        &s.me,
        &format!(
            "/api/v1/clients/{}/episodes/{}/progress",
            s.maria, s.episode
        ),
    );
    let goals = progress.ok(200)["goals"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let line = goals
        .iter()
        .find(|g| g["goal"]["id"] == json!(s.goal))
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        line["home_programme"]["activities"][0]["id"],
        json!(a),
        "{line}"
    );
    assert_eq!(
        line["home_programme"]["activities"][0]["weeks"][0]["fully_done"],
        true
    );
    // A fully done week is a milestone of the goal.
    let milestones = s
        .app
        .get(&s.me, &format!("/api/v1/clients/{}/milestones", s.maria));
    assert!(
        milestones.text.contains("practice-week-done"),
        "{}",
        milestones.text
    );
    // The period function a progress report uses: adherence per goal.
    let period = s.app.get(
        &s.olivia,
        &format!(
            "/api/v1/clients/{}/episodes/{}/adherence?from={monday}&to={}",
            s.maria,
            s.episode,
            monday + Duration::days(6)
        ),
    );
    let by_goal = period.ok(200)[0].clone();
    assert_eq!(
        (&by_goal["goal_id"], &by_goal["adherence"]),
        (&json!(s.goal), &json!(1.0))
    );

    // A change is a new version; the first stays readable, the ETag moves on.
    let revise = format!("/api/v1/clients/{}/activities/{a}/revisions", s.maria);
    let r = s.app.post(
        &s.olivia,
        &revise,
        &json!({"instructions": "Sit to stand, 15 times", "times_per_week": 5,
                "start_date": monday.to_string()}),
    );
    let revised = r.ok(201).clone();
    assert_eq!(r.header("etag"), Some("\"2\""));
    let versions = revised["versions"].as_array().cloned().unwrap_or_default();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        versions[0]["prescription"]["instructions"],
        "Sit to stand, 10 times"
    );
    assert_eq!(
        versions[1]["effective_from"],
        json!(Utc::now().date_naive().to_string())
    );
    // Last week keeps the version it had: still 3 prescribed, fully done.
    let week = s.app.get(&s.me, &path).ok(200)["weeks"][0].clone();
    assert_eq!(week["prescribed"], 3, "{week}");

    // The client may not prescribe or change it.
    let r = s.app.post(&s.me, &revise, &prescription(2));
    r.problem(403);

    // Stopped with a reason: later changes are refused, and so is practice after today.
    let r = s.app.patch(
        &s.olivia,
        &path,
        &json!({"status": "stopped", "reason": "Goal reached"}),
    );
    let stopped = r.ok(200).clone();
    assert_eq!(
        (&stopped["status"], &stopped["stop_reason"]),
        (&json!("stopped"), &json!("Goal reached"))
    );
    s.app
        .post(&s.olivia, &revise, &prescription(2))
        .problem(409);
    s.app
        .patch(
            &s.olivia,
            &path,
            &json!({"status": "stopped", "reason": "again"}),
        )
        .problem(409);

    // Every step is in Maria's access log, in plain words.
    let log = s.access_log();
    for sentence in [
        "prescribed a home activity",
        "logged practice",
        "changed a home activity",
        "stopped a home activity",
        "viewed how you keep up with your home programme",
    ] {
        assert!(log.contains(sentence), "{sentence}: {log}");
    }
}

#[test]
fn practice_out_of_reach_range_or_schedule_is_refused_and_nothing_is_stored() {
    let s = scene();
    let monday = last_monday();
    let body = json!({"goal_id": s.goal, "prescription": {
        "instructions": "Reach for the top shelf", "times_per_week": 5,
        "start_date": monday.to_string(), "end_date": (monday + Duration::days(20)).to_string()
    }});
    let (_, activity) = s.prescribe(body);
    let a = id(&activity);

    // Prescriptions out of range name the field.
    for (field, bad) in [
        (
            "times_per_week",
            json!({"instructions": "x", "times_per_week": 22}),
        ),
        (
            "times_per_week",
            json!({"instructions": "x", "times_per_week": 0}),
        ),
        (
            "instructions",
            json!({"instructions": "  ", "times_per_week": 3}),
        ),
        (
            "sets",
            json!({"instructions": "x", "times_per_week": 3, "sets": 0}),
        ),
        (
            "end_date",
            json!({"instructions": "x", "times_per_week": 3,
                   "start_date": "2026-12-10", "end_date": "2026-12-01"}),
        ),
    ] {
        let (status, problem) = s.prescribe(json!({"goal_id": s.goal, "prescription": bad}));
        assert_eq!(status, 422, "{problem}");
        let named: Vec<&str> = problem["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["field"].as_str())
            .collect();
        assert!(named.contains(&field), "{field}: {problem}");
    }
    // A goal of another episode (or none of this client's) is a 422 naming goal_id.
    let (status, problem) = s.prescribe(json!({"goal_id": uuid::Uuid::now_v7(),
        "prescription": prescription(3)}));
    assert_eq!(status, 422, "{problem}");

    // Logs out of range: 422 naming the field, nothing stored.
    for (field, bad) in [
        ("effort", json!({"outcome": "done", "effort": 11})),
        ("pain", json!({"outcome": "done", "pain": -1})),
        ("outcome", json!({"outcome": "maybe"})),
        (
            "performed_at",
            json!({"outcome": "done", "performed_at": "2099-01-01T00:00:00Z"}),
        ),
        // Before the activity's start date: not prescribed that day.
        (
            "performed_at",
            json!({"outcome": "done", "performed_at": at(monday - Duration::days(1))}),
        ),
    ] {
        let r = s.log(&s.me, &a, bad);
        r.problem(422);
        assert_eq!(r.fields(), vec![field], "{}", r.text);
    }
    assert!(s.logs(&a, "?history=true").is_empty());

    // An activity not prescribed to this client: 404, as a made-up one.
    let samuel = s.app.client_id("Samuel Osei");
    let sam_episode = episode(&s.app, &s.olivia, &samuel);
    let sam_goal = id(s
        .app
        .post(
            &s.olivia,
            &format!("/api/v1/clients/{samuel}/episodes/{sam_episode}/goals"),
            &json!({"content": content("Walk to the bus stop")}),
        )
        .ok(201));
    let sams = id(s
        .app
        .post(
            &s.olivia,
            &format!("/api/v1/clients/{samuel}/episodes/{sam_episode}/activities"),
            &json!({"goal_id": sam_goal, "prescription": prescription(3)}),
        )
        .ok(201));
    let theirs = s.log(&s.me, &sams, json!({"outcome": "done"}));
    theirs.problem(404);
    let made_up = s.log(
        &s.me,
        &uuid::Uuid::now_v7().to_string(),
        json!({"outcome": "done"}),
    );
    made_up.problem(404);
    assert_eq!(
        (&made_up.body["type"], &made_up.body["title"]),
        (&theirs.body["type"], &theirs.body["title"])
    );
    // Sam cannot log against Maria's activity either.
    let sam = s.app.login(SAM).access;
    s.log(&sam, &a, json!({"outcome": "done"})).problem(404);

    // The care team does not log for the client; a view-only caregiver may not.
    s.log(&s.olivia, &a, json!({"outcome": "done"}))
        .problem(403);
    let lucia = s.app.login(LUCIA).access;
    s.log(&lucia, &a, json!({"outcome": "done"})).problem(403);
    assert!(s.logs(&a, "?history=true").is_empty());

    // Once Maria lets Lucia contribute, she logs for her.
    let links = s
        .app
        .get(&s.me, &format!("/api/v1/clients/{}/caregivers", s.maria));
    let link = id(&links.ok(200)[0]);
    s.app
        .patch(
            &s.me,
            &format!("/api/v1/clients/{}/caregivers/{link}", s.maria),
            &json!({"permission": "contribute"}),
        )
        .ok(200);
    let by_lucia = s.log(&lucia, &a, json!({"outcome": "done", "effort": 3}));
    assert_eq!(by_lucia.ok(201)["recorded_role"], "caregiver");
    assert_eq!(s.logs(&a, "").len(), 1);
}

#[test]
fn a_correction_supersedes_a_log_and_a_withdrawal_stops_it_counting() {
    let s = scene();
    let (_, activity) = s.prescribe(json!({"goal_id": s.goal, "prescription": prescription(2)}));
    let a = id(&activity);
    let first = s.log(&s.me, &a, json!({"outcome": "done", "effort": 9}));
    let first_id = id(first.ok(201));
    assert_eq!(first.header("etag"), Some("\"1\""));
    let corrections = |log: &str| format!("/api/v1/clients/{}/practice/{log}/corrections", s.maria);

    // Only who logged it corrects it: the therapist and another client may not.
    let amend = json!({"reason": "Effort was lower", "practice": {"outcome": "done", "effort": 5}});
    s.app
        .post(&s.olivia, &corrections(&first_id), &amend)
        .problem(403);
    s.app
        .post(&s.app.login(SAM).access, &corrections(&first_id), &amend)
        .problem(404);
    // Out of range values are named within the correction.
    let bad = json!({"reason": "x", "practice": {"outcome": "done", "effort": 12}});
    let r = s.app.post(&s.me, &corrections(&first_id), &bad);
    r.problem(422);
    assert_eq!(r.fields(), vec!["practice.effort"]);

    let r = s.app.post(&s.me, &corrections(&first_id), &amend);
    let amended = r.ok(201).clone();
    assert_eq!(
        (
            &amended["status"],
            &amended["effort"],
            &amended["supersedes"]
        ),
        (&json!("amended"), &json!(5), &json!(first_id))
    );
    let old = s.app.get(
        &s.me,
        &format!("/api/v1/clients/{}/practice/{first_id}", s.maria),
    );
    assert_eq!(old.ok(200)["superseded_by"], amended["id"]);
    assert_eq!(old.header("etag"), Some("\"2\""));
    // The old version is not corrected again.
    s.app
        .post(&s.me, &corrections(&first_id), &amend)
        .problem(409);

    // Withdrawn as entered in error: it no longer counts, and stays in the history.
    let withdraw = json!({"reason": "Logged by mistake", "withdraw": true});
    let r = s.app.post(&s.me, &corrections(&id(&amended)), &withdraw);
    assert_eq!(r.ok(201)["status"], "entered-in-error");
    assert!(s.logs(&a, "").is_empty());
    assert_eq!(s.logs(&a, "?history=true").len(), 3);
    let read = s.app.get(
        &s.me,
        &format!("/api/v1/clients/{}/activities/{a}", s.maria),
    );
    let done: u64 = read.ok(200)["weeks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w["done"].as_u64())
        .sum();
    assert_eq!(done, 0);
    assert!(s.access_log().contains("corrected a practice log"));
}

#[test]
fn a_sharp_drop_is_flagged_on_the_check_in_and_in_the_care_teams_list() {
    let app = TestApp::spawn();
    let samuel = app.client_id("Samuel Osei");
    let sam = app.login(SAM).access;
    let path = format!("/api/v1/clients/{samuel}/check-ins");
    // Bad input names the field; nothing is stored.
    let r = app.post(&sam, &path, &json!({"note": "no values"}));
    r.problem(422);
    assert_eq!(r.fields(), vec!["mood"]);
    let r = app.post(&sam, &path, &json!({"fatigue": 11}));
    r.problem(422);
    assert_eq!(r.fields(), vec!["fatigue"]);
    for (mood, pain) in [(7, 2), (8, 3), (7, 1)] {
        let r = app.post(&sam, &path, &json!({"mood": mood, "pain": pain}));
        assert_eq!(r.ok(201)["flagged"], false);
    }
    // Mood 3 against a mean of 7.33; pain 5 against 2: both flagged.
    let r = app.post(
        &sam,
        &path,
        &json!({"mood": 3, "pain": 5, "note": "Bad week"}),
    );
    let flagged = r.ok(201).clone();
    assert_eq!(flagged["flagged"], true);
    assert_eq!(flagged["concerns"], json!(["mood-fell", "pain-rose"]));
    // The therapist is refused recording a check-in for him.
    let olivia = app.login(OLIVIA).access;
    app.post(&olivia, &path, &json!({"mood": 5})).problem(403);

    // The series beside progress, oldest first.
    let series = app.get(&olivia, &path);
    let moods: Vec<u64> = series
        .ok(200)
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["mood"].as_u64())
        .collect();
    assert_eq!(moods, [7, 8, 7, 3]);

    // The care team's list: Olivia is on Sam's team, Peter is not.
    let list = app.get(&olivia, "/api/v1/check-ins/flagged");
    let items = list.ok(200).as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "{}", list.text);
    assert_eq!(items[0]["client_name"], "Samuel Osei");
    assert_eq!(items[0]["check_in"]["id"], flagged["id"]);
    let peter = app.login(PETER).access;
    let theirs = app.get(&peter, "/api/v1/check-ins/flagged");
    assert!(!theirs.text.contains(&samuel), "{}", theirs.text);
    // Clients do not read the team's worklist.
    app.get(&sam, "/api/v1/check-ins/flagged").problem(403);
    // Showing him in the list is in his access log.
    let admin = app.login(ADMIN).access;
    let trail = app.audit_for_client(&admin, &samuel);
    assert!(trail.iter().any(|e| e["action"] == "check_in.flagged"));
}

#[test]
fn questions_wait_oldest_first_answers_reach_the_client_and_team_notes_never_do() {
    let s = scene();
    let lucia = s.app.login(LUCIA).access;
    let client_stream = s.app.events(&s.me, "", None);
    let caregiver_stream = s.app.events(&lucia, "", None);
    let team_stream = s.app.events(&s.olivia, "", None);
    let ask = |body: &str| {
        let r = s.app.post(
            &s.me,
            &format!("/api/v1/clients/{}/questions", s.maria),
            &json!({ "body": body }),
        );
        id(r.ok(201))
    };
    let first = ask("How often should I practise on a bad day?");
    let second = ask("Can Lucia help me with the stairs?");
    // A blank question names its field; the therapist does not ask for the client.
    let blank = s.app.post(
        &s.me,
        &format!("/api/v1/clients/{}/questions", s.maria),
        &json!({"body": "   "}),
    );
    blank.problem(422);
    s.app
        .post(
            &s.olivia,
            &format!("/api/v1/clients/{}/questions", s.maria),
            &json!({"body": "x"}),
        )
        .problem(403);

    let waiting = s.app.get(&s.olivia, "/api/v1/questions/unanswered");
    let ids: Vec<String> = waiting
        .ok(200)
        .as_array()
        .into_iter()
        .flatten()
        .map(|w| id(&w["question"]))
        .collect();
    assert_eq!(ids, [first.clone(), second.clone()], "oldest first");
    assert!(waiting.body[0]["waited_minutes"]
        .as_i64()
        .is_some_and(|m| m >= 0));
    assert_eq!(waiting.body[0]["client_name"], "Maria Lopez");
    s.app
        .get(&s.me, "/api/v1/questions/unanswered")
        .problem(403);

    // A team note: the team sees it; the client and her caregiver never do.
    const SECRET: &str = "Sounds low in mood: screen at next visit";
    let q = |question: &str| format!("/api/v1/clients/{}/questions/{question}", s.maria);
    s.app
        .post(
            &s.olivia,
            &format!("{}/notes", q(&first)),
            &json!({"body": SECRET}),
        )
        .ok(201);
    s.app
        .post(
            &s.me,
            &format!("{}/notes", q(&first)),
            &json!({"body": "mine"}),
        )
        .problem(403);
    let team_view = s.app.get(&s.olivia, &q(&first));
    assert!(team_view.text.contains(SECRET));
    for token in [&s.me, &lucia] {
        for path in [q(&first), format!("/api/v1/clients/{}/questions", s.maria)] {
            let r = s.app.get(token, &path);
            assert!(r.status.is_success(), "{path}: {}", r.text);
            assert!(
                !r.text.contains(SECRET) && !r.text.contains("team_notes"),
                "{path}"
            );
        }
    }

    // The answer: once, seen by the client; the question leaves the waiting list.
    let r = s.app.patch(
        &s.olivia,
        &q(&first),
        &json!({"answer": "Half the sets is fine"}),
    );
    let answered = r.ok(200).clone();
    assert_eq!(answered["state"], "answered");
    let seen = s.app.get(&s.me, &q(&first));
    assert_eq!(seen.ok(200)["answer"], "Half the sets is fine");
    s.app
        .patch(&s.olivia, &q(&first), &json!({"answer": "Again"}))
        .problem(409);
    s.app
        .patch(&s.me, &q(&second), &json!({"answer": "I answer myself"}))
        .problem(403);
    let waiting = s.app.get(&s.olivia, "/api/v1/questions/unanswered");
    assert_eq!(waiting.ok(200).as_array().map(Vec::len), Some(1));

    // Live: the team hears of the note; the client and caregiver hear of the answer only.
    let answered_event = |e: &headway_tests::SseEvent| e.event == "question.answered";
    let heard = team_stream.until(20, answered_event);
    assert!(
        heard.iter().any(|e| e.event == "question.noted"),
        "{heard:?}"
    );
    for stream in [&client_stream, &caregiver_stream] {
        let heard = stream.until(20, answered_event);
        assert!(heard.iter().any(answered_event), "{heard:?}");
        assert!(
            !heard.iter().any(|e| e.event == "question.noted"),
            "{heard:?}"
        );
        assert!(heard.iter().any(|e| e.event == "question.asked"));
    }
    let log = s.access_log();
    for sentence in [
        "asked the care team a question",
        "answered your question",
        "added a care team note to your question",
        "saw your question among those waiting for an answer",
    ] {
        assert!(log.contains(sentence), "{sentence}");
    }
}
