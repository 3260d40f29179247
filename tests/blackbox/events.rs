//! Live events: each caller hears, as it commits, what they may read and nothing else;
//! a stream resumes after its Last-Event-ID with nothing lost or repeated, across a
//! restart and across instances; ended sign-ins and lost access close or narrow it.

use headway_tests::{EventStream, SseEvent, TestApp};
use serde_json::{json, Value};

const WAIT: u64 = 10;

fn open_episode(app: &TestApp, base: &str, token: &str, client: &str) -> String {
    let r = app.send(
        app.http
            .post(format!("{base}/api/v1/clients/{client}/episodes"))
            .bearer_auth(token)
            .json(&json!({"reason_for_referral": "Hand injury"})),
    );
    r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
}

fn record(app: &TestApp, token: &str, client: &str, episode: &str, value: i64) -> String {
    let r = app.post(
        token,
        &format!("/api/v1/clients/{client}/episodes/{episode}/measurements"),
        &json!({"measure_code": "nrs", "values": {"value": value}}),
    );
    r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
}

fn kinds(events: &[SseEvent]) -> Vec<String> {
    events.iter().map(|e| e.event.clone()).collect()
}

fn about(events: &[SseEvent], client: &str) -> usize {
    events
        .iter()
        .filter(|e| e.data["client_id"] == client)
        .count()
}

fn ids(events: &[SseEvent]) -> Vec<i64> {
    events
        .iter()
        .filter_map(|e| e.id.as_deref().and_then(|i| i.parse().ok()))
        .collect()
}

/// Waits until `stream` has seen the event with this resource id (the barrier after
/// which every stream has had the same chance to hear of it).
fn through(stream: &EventStream, resource: &str) -> Vec<SseEvent> {
    let seen = stream.until(WAIT, |e| e.data["resource_id"] == resource);
    assert!(
        seen.iter().any(|e| e.data["resource_id"] == resource),
        "never heard of {resource}: {seen:?}"
    );
    seen
}

#[test]
fn each_caller_hears_what_they_may_read_as_it_commits() {
    let app = TestApp::spawn();
    let sam = app.client_id("Samuel Osei");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let tokens = [
        ("admin", app.login("admin@riverside.example").access),
        ("olivia", olivia.clone()),
        ("peter", app.login("peter.pt@riverside.example").access),
        ("sam", app.login("sam@client.example").access),
        ("maria", app.login("maria@client.example").access),
        ("lucia", app.login("lucia@family.example").access),
    ];
    let streams: Vec<_> = tokens
        .iter()
        .map(|(who, token)| (*who, app.events(token, "", None)))
        .collect();
    for (who, stream) in &streams {
        assert_eq!(stream.status, 200, "{who}");
    }
    let episode = open_episode(&app, &app.base, &olivia, &sam);
    let goal = app.post(
        &olivia,
        &format!("/api/v1/clients/{sam}/episodes/{episode}/goals"),
        &json!({"content": {"client_words": "Open jars", "statement": "Opens a jar unaided",
                "occupation_area": "adl", "importance": 8}}),
    );
    let goal = goal.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    record(&app, &olivia, &sam, &episode, 4);
    let note = app.post(
        &olivia,
        &format!("/api/v1/clients/{sam}/goals/{goal}/comments"),
        &json!({"body": "Check grip first", "team_only": true}),
    );
    let note = note.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    let said = app.post(
        &olivia,
        &format!("/api/v1/clients/{sam}/goals/{goal}/comments"),
        &json!({"body": "Well done today"}),
    );
    let said = said.ok(201)["id"].as_str().unwrap_or_default().to_owned();

    let heard: Vec<(&str, Vec<SseEvent>)> = streams
        .iter()
        .map(|(who, stream)| {
            // The last write is the barrier for those who may hear of it; the others
            // get the same wait.
            let seen = if matches!(*who, "admin" | "olivia" | "sam") {
                let mut seen = through(stream, &said);
                seen.extend(stream.for_secs(1));
                seen
            } else {
                stream.for_secs(2)
            };
            (*who, seen)
        })
        .collect();
    // What Sam's therapist heard of Sam's record: the reference for the others.
    let reference: Vec<SseEvent> = heard[1]
        .1
        .iter()
        .filter(|e| e.data["client_id"] == sam.as_str())
        .cloned()
        .collect();
    for (who, seen) in &heard {
        let sams: Vec<SseEvent> = seen
            .iter()
            .filter(|e| e.data["client_id"] == sam.as_str())
            .cloned()
            .collect();
        let team_note = sams.iter().any(|e| e.data["resource_id"] == note.as_str());
        match *who {
            "admin" | "olivia" => {
                let mut got = kinds(&sams);
                got.sort();
                got.dedup();
                let want = [
                    "comment.added",
                    "episode.opened",
                    "goal.proposed",
                    "measurement.recorded",
                    "progress.updated",
                ];
                assert_eq!(got, want, "{who}");
                assert!(team_note, "{who} hears the team's note");
                assert_eq!(
                    sams.len(),
                    reference.len(),
                    "{who} hears what the team hears"
                );
            }
            "sam" => {
                assert!(!team_note, "the client never hears of the team's notes");
                assert_eq!(sams.len(), reference.len() - 1, "{sams:?}");
            }
            _ => assert_eq!(sams.len(), 0, "{who} may not read Sam's record: {sams:?}"),
        }
        // In commit order, each once.
        let order = ids(seen);
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{who}: {order:?}");
        assert!(seen
            .iter()
            .all(|e| e.data["id"] == e.id.clone().unwrap_or_default().as_str()));
    }
    // Hearing of a record is reading it: it is in Sam's access log.
    let admin = &tokens[0].1;
    let log = app.get(
        admin,
        &format!("/api/v1/clients/{sam}/access-log?limit=100"),
    );
    let actions: Vec<Value> = log.ok(200)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| e["action"].clone())
        .collect();
    assert!(actions.contains(&json!("events.receive")), "{actions:?}");
}

#[test]
fn a_stream_resumes_after_its_last_event_with_nothing_lost_or_repeated_across_a_restart() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let sam = app.client_id("Samuel Osei");
    let first = app.events(&admin, "", None);
    let episode = open_episode(&app, &app.base, &olivia, &sam);
    let m1 = record(&app, &olivia, &sam, &episode, 3);
    let heard = through(&first, &m1);
    let resume_from = heard
        .iter()
        .find(|e| e.event == "episode.opened")
        .and_then(|e| e.id.clone())
        .unwrap_or_default();
    drop(first);

    // The server goes away; another starts on the same database; more is recorded.
    app.stop();
    let next = app.start_instance(|_| {});
    let m2 = {
        let r = app.send(
            app.http
                .post(next.url(&format!(
                    "/api/v1/clients/{sam}/episodes/{episode}/measurements"
                )))
                .bearer_auth(&olivia)
                .json(&json!({"measure_code": "nrs", "values": {"value": 6}})),
        );
        r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
    };
    let resumed = app.events_at(&next.base, Some(&admin), "", Some(&resume_from));
    assert_eq!(resumed.status, 200);
    let replayed = through(&resumed, &m2);
    // Everything after the resumed id, in order, once: the log read from the start
    // and cut at that id must say the same.
    let all = app.events_at(&next.base, Some(&admin), "", Some("0"));
    let everything = through(&all, &m2);
    let start: i64 = resume_from.parse().unwrap_or(-1);
    let expected: Vec<i64> = ids(&everything)
        .into_iter()
        .filter(|i| *i > start)
        .collect();
    assert_eq!(ids(&replayed), expected);
    assert!(expected.len() >= 4, "{expected:?}");
    assert_eq!(
        about(&replayed, &m1),
        0,
        "nothing before the resumed id comes again"
    );
    let kinds = kinds(&replayed);
    assert!(
        kinds.contains(&"measurement.recorded".to_owned()),
        "{kinds:?}"
    );
}

#[test]
fn an_id_older_than_the_log_keeps_gets_one_reset() {
    // Keep nothing: everything is older than the window as soon as it is pruned.
    let app = TestApp::spawn_with(|c| c.events_retention_secs = 0);
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let sam = app.client_id("Samuel Osei");
    let live = app.events(&admin, "", None);
    let episode = open_episode(&app, &app.base, &olivia, &sam);
    through(&live, &episode);
    let mut first = None;
    for _ in 0..20 {
        // From the very start (0): the first change is gone once pruned.
        let stream = app.events(&admin, "", Some("0"));
        let event = stream.next_within(3);
        if event.as_ref().is_some_and(|e| e.event == "reset") {
            first = event.map(|e| (e, stream));
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let (reset, stream) = first.unwrap_or_else(|| panic!("no reset event"));
    assert_eq!(reset.data["type"], "reset");
    assert!(
        reset.id.is_some(),
        "the reset carries the place to resume from"
    );
    // Then the stream goes on live.
    let m = record(&app, &olivia, &sam, &episode, 5);
    let after = through(&stream, &m);
    assert!(after.iter().all(|e| e.event != "reset"), "one reset only");
}

#[test]
fn a_browser_opens_a_stream_with_a_single_use_ticket() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    let sam = app.client_id("Samuel Osei");
    let ticket = app.post(&olivia, "/api/v1/events/ticket", &json!({}));
    let ticket = ticket.ok(201)["ticket"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(ticket.len() >= 40);
    let stream = app.events_at(&app.base, None, &format!("?ticket={ticket}"), None);
    assert_eq!(stream.status, 200);
    let episode = open_episode(&app, &app.base, &olivia, &sam);
    through(&stream, &episode);
    // Used once; a made-up one, none, or an access token in the URL never open one.
    let again = app.events_at(&app.base, None, &format!("?ticket={ticket}"), None);
    assert_eq!(again.status, 401, "{:?}", again.body);
    let made_up = app.events_at(&app.base, None, "?ticket=abc", None);
    assert_eq!(made_up.status, 401);
    assert_eq!(app.events_at(&app.base, None, "", None).status, 401);
    let in_url = app.events_at(&app.base, None, &format!("?access_token={olivia}"), None);
    assert_eq!(in_url.status, 400);
}

#[test]
fn an_ended_sign_in_closes_the_stream_and_lost_access_narrows_it() {
    let app = TestApp::spawn_with(|c| c.events_recheck_secs = 1);
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let admin = app.login("admin@riverside.example").access;

    // Signed out: the stream says so and ends.
    let sam_session = app.login("sam@client.example");
    let sams = app.events(&sam_session.access, "", None);
    assert_eq!(sams.status, 200);
    app.send(
        app.http
            .post(app.url("/api/v1/auth/revoke"))
            .form(&[("token", sam_session.refresh.clone().unwrap_or_default())]),
    )
    .ok(200);
    let closed = sams.until(WAIT, |e| e.event == "closed");
    assert_eq!(
        closed.last().map(|e| e.event.as_str()),
        Some("closed"),
        "{closed:?}"
    );
    assert!(sams.next_within(2).is_none(), "nothing after closed");

    // Deactivated: the same.
    let peter = app.login("peter.pt@riverside.example").access;
    let peters = app.events(&peter, "", None);
    let peter_id = app.user_id("peter.pt@riverside.example");
    app.patch(
        &admin,
        &format!("/api/v1/users/{peter_id}"),
        &json!({"active": false}),
    )
    .ok(200);
    let closed = peters.until(WAIT, |e| e.event == "closed");
    assert_eq!(closed.last().map(|e| e.event.as_str()), Some("closed"));

    // A caregiver whose access ends hears nothing more of that client.
    let lucia = app.login("lucia@family.example").access;
    let lucias = app.events(&lucia, "", None);
    let admins = app.events(&admin, "", None);
    let before = open_episode(&app, &app.base, &olivia, &maria);
    through(&lucias, &before);
    let maria_s = app.login("maria@client.example").access;
    let links = app.get(&maria_s, &format!("/api/v1/clients/{maria}/caregivers"));
    let link = links.ok(200)[0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    app.delete(
        &maria_s,
        &format!("/api/v1/clients/{maria}/caregivers/{link}"),
    )
    .ok(204);
    let after = record(&app, &olivia, &maria, &before, 7);
    through(&admins, &after);
    let late = lucias.for_secs(2);
    assert_eq!(
        about(&late, &maria) - count_access_change(&late),
        0,
        "{late:?}"
    );
}

/// The caregiver may hear that their own access changed (it was theirs), nothing else.
fn count_access_change(events: &[SseEvent]) -> usize {
    events
        .iter()
        .filter(|e| e.event == "caregiver-access.changed")
        .count()
}

#[test]
fn bad_stream_requests_get_problems() {
    let app = TestApp::spawn();
    let peter = app.login("peter.pt@riverside.example").access;
    let sam = app.client_id("Samuel Osei");
    let malformed = app.events(&peter, "", Some("abc"));
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.body["errors"][0]["field"], "Last-Event-ID");
    // An id the log never reached (a restored backup, another database): start again.
    let ahead = app.events(&peter, "", Some("999999999"));
    assert_eq!(ahead.status, 200);
    assert_eq!(
        ahead.next_within(WAIT).map(|e| e.event),
        Some("reset".to_owned())
    );
    let unknown = app.events(&peter, "?types=goal.agreed,nope", None);
    assert_eq!(unknown.status, 422);
    assert_eq!(unknown.body["errors"][0]["field"], "types");
    // A client outside the caller's reach: as if it did not exist.
    let outside = app.events(&peter, &format!("?client_id={sam}"), None);
    assert_eq!(outside.status, 404);
    let unknown_param = app.events(&peter, "?since=1", None);
    assert_eq!(unknown_param.status, 400);
}

#[test]
fn filters_narrow_a_stream_and_heartbeats_keep_it_open() {
    let app = TestApp::spawn_with(|c| c.events_heartbeat_secs = 1);
    let olivia = app.login("olivia.ot@riverside.example").access;
    let sam = app.client_id("Samuel Osei");
    let maria = app.client_id("Maria Lopez");
    let only = app.events(
        &olivia,
        &format!("?client_id={sam}&types=measurement.recorded"),
        None,
    );
    let all = app.events(&olivia, "", None);
    let sams = open_episode(&app, &app.base, &olivia, &sam);
    let marias = open_episode(&app, &app.base, &olivia, &maria);
    record(&app, &olivia, &maria, &marias, 2);
    let m = record(&app, &olivia, &sam, &sams, 2);
    through(&all, &m);
    let heard = through(&only, &m);
    assert_eq!(kinds(&heard), vec!["measurement.recorded"], "{heard:?}");
    assert_eq!(about(&heard, &sam), 1);
    std::thread::sleep(std::time::Duration::from_secs(3));
    assert!(only.comments.load(std::sync::atomic::Ordering::SeqCst) >= 1);
}

#[test]
fn an_event_committed_on_one_instance_reaches_a_stream_on_another() {
    let app = TestApp::spawn();
    let b = app.start_instance(|_| {});
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let sam = app.client_id("Samuel Osei");
    let on_b = app.events_at(&b.base, Some(&admin), "", None);
    let on_a = app.events(&admin, "", None);
    assert_eq!(on_b.status, 200);
    // Written through A (the test's first server), heard on B, and the other way.
    let episode = open_episode(&app, &app.base, &olivia, &sam);
    through(&on_b, &episode);
    let other = open_episode(&app, &b.base, &olivia, &sam);
    through(&on_a, &other);
}
