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

#[test]
fn progress_events_carry_the_new_summary_and_milestones_are_heard_as_reached() {
    let app = TestApp::spawn();
    let maria = app.client_id("Maria Lopez");
    let olivia = app.login("olivia.ot@riverside.example").access;
    let me = app.login("maria@client.example").access;
    let episode = open_episode(&app, &app.base, &olivia, &maria);
    let goal = app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/episodes/{episode}/goals"),
        &json!({"content": {"client_words": "Cook dinner again", "statement": "Cooks a meal",
                "occupation_area": "iadl", "importance": 8, "measure_code": "nrs",
                "target_value": 8}}),
    );
    let goal = goal.ok(201)["id"].as_str().unwrap_or_default().to_owned();
    app.post(
        &me,
        &format!("/api/v1/clients/{maria}/goals/{goal}/agreement"),
        &json!({}),
    )
    .ok(200);
    let mine = app.events(&me, "?types=progress.updated,milestone.reached", None);
    let rate = |value: i64| {
        let r = app.post(
            &olivia,
            &format!("/api/v1/clients/{maria}/episodes/{episode}/measurements"),
            &json!({"goal_id": goal, "measure_code": "nrs", "values": {"value": value}}),
        );
        r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
    };
    // The baseline: progress moves, no milestone yet.
    rate(2);
    let first = mine.until(WAIT, |e| e.event == "progress.updated");
    assert_eq!(kinds(&first), vec!["progress.updated"], "{first:?}");
    // +4 on the numeric rating scale: a meaningful change and a personal best.
    rate(6);
    let second = mine.until(WAIT, |e| e.event == "progress.updated");
    let more = mine.for_secs(1);
    let heard: Vec<SseEvent> = second.into_iter().chain(more).collect();
    let milestones: Vec<&str> = heard
        .iter()
        .filter(|e| e.event == "milestone.reached")
        .map(|e| {
            e.data["milestone"]["milestone"]
                .as_str()
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(
        milestones,
        vec!["meaningful-change", "personal-best"],
        "{heard:?}"
    );
    for e in heard.iter().filter(|e| e.event == "milestone.reached") {
        assert_eq!(e.data["milestone"]["goal_id"], goal.as_str());
        assert_eq!(e.data["milestone"]["value"], 6.0);
    }
    // The summary the event carries is the progress view's, as it now stands.
    let summary = heard
        .iter()
        .rev()
        .find(|e| e.event == "progress.updated")
        .map(|e| e.data["progress"].clone())
        .unwrap_or_default();
    let view = app.get(
        &me,
        &format!("/api/v1/clients/{maria}/episodes/{episode}/progress"),
    );
    let view = view.ok(200);
    assert_eq!(summary["episode_id"], episode.as_str());
    assert_eq!(summary["version"], view["version"], "{summary}");
    let line = &summary["goals"][0];
    let shown = &view["goals"][0];
    assert_eq!(line["goal_id"], goal.as_str());
    assert_eq!(line["client_words"], "Cook dinner again");
    for field in [
        "baseline",
        "latest",
        "percent_to_target",
        "meaningful_change",
    ] {
        assert_eq!(line[field], shown["progress"][field], "{field}: {summary}");
    }
    assert_eq!(line["latest"], 6.0);
    assert_eq!(line["meaningful_change"], true);
    assert_eq!(line["achievement_status"], shown["achievement_status"]);
    // Achieving the goal is a milestone too.
    app.post(
        &olivia,
        &format!("/api/v1/clients/{maria}/goals/{goal}/status"),
        &json!({"status": "achieved"}),
    )
    .ok(200);
    let done = mine.until(WAIT, |e| e.event == "milestone.reached");
    let last = done.last().map(|e| e.data["milestone"].clone());
    assert_eq!(
        last.map(|m| m["milestone"].clone()),
        Some(json!("goal-achieved"))
    );
    // Every milestone heard is one the milestones list shows.
    let listed = app.get(&me, &format!("/api/v1/clients/{maria}/milestones"));
    let listed = listed.ok(200).to_string();
    for kind in ["meaningful-change", "personal-best", "goal-achieved"] {
        assert!(listed.contains(kind), "{kind} not listed: {listed}");
    }
}

/// A consumer that stalls: a raw connection with a tiny receive window, asking for the
/// stream and never reading it.
/// A stream whose reader never reads, once the server has answered it: the head has
/// come, so it follows from before the first write (from "now", as any stream does).
fn stalled_stream(app: &TestApp, token: &str) -> (std::net::TcpStream, Vec<u8>) {
    use socket2::{Domain, Socket, Type};
    use std::io::Write;
    let addr: std::net::SocketAddr = app
        .base
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap_or_else(|e| panic!("{e}"));
    socket
        .set_recv_buffer_size(4096)
        .unwrap_or_else(|e| panic!("{e}"));
    socket
        .connect(&addr.into())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut stream: std::net::TcpStream = socket.into();
    let request = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .unwrap_or_else(|e| panic!("{e}"));
    let head = read_until(&mut stream, b"\r\n\r\n");
    (stream, head)
}

/// Reads from `stream` until `end` has come (or ten seconds pass): what it read.
fn read_until(stream: &mut std::net::TcpStream, end: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut raw = Vec::new();
    while !raw.windows(end.len()).any(|w| w == end) && std::time::Instant::now() < deadline {
        let mut byte = [0u8; 1];
        match stream.read(&mut byte) {
            Ok(0) => break,
            Ok(_) => raw.push(byte[0]),
            Err(_) => {}
        }
    }
    assert!(
        raw.windows(end.len()).any(|w| w == end),
        "the stream never answered: {}",
        String::from_utf8_lossy(&raw)
    );
    raw
}

/// Reads what a stalled stream was sent, to its end; the ids of the events in it, and
/// whether the server ended it.
fn drain(
    (mut stream, head): (std::net::TcpStream, Vec<u8>),
    secs: u64,
) -> (Vec<(i64, Value)>, bool) {
    use std::io::Read;
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(1)))
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    let mut raw = head;
    // Until the server ends it, or `secs` pass (heartbeats would keep it open).
    let ended = loop {
        let mut chunk = [0u8; 65536];
        match stream.read(&mut chunk) {
            Ok(0) => break true,
            Ok(n) => raw.extend_from_slice(&chunk[..n]),
            Err(_) if std::time::Instant::now() < deadline => {}
            Err(_) => break false,
        }
    };
    let text = String::from_utf8_lossy(&raw).to_string();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    // De-chunk: size line, data, CRLF.
    let (mut plain, mut rest) = (String::new(), body);
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        plain.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    let events = plain
        .split("\n\n")
        .filter_map(|frame| {
            let id = frame.lines().find_map(|l| l.strip_prefix("id: "))?;
            let data = frame.lines().find_map(|l| l.strip_prefix("data: "))?;
            Some((id.parse().ok()?, serde_json::from_str(data).ok()?))
        })
        .collect();
    (events, ended)
}

#[test]
fn a_stalled_stream_is_dropped_while_writers_and_other_streams_go_on_and_it_resumes() {
    // A buffer small enough that the stalled reader overruns it, large enough that a
    // reader that keeps up never does, even on a loaded machine.
    let app = TestApp::spawn_with(|c| c.events_buffer = 256);
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let sam = app.client_id("Samuel Osei");
    let episode = open_episode(&app, &app.base, &olivia, &sam);
    // Twenty goals in long words: each write's progress.updated event carries them
    // all (some 20 kB), so a few hundred writes fill every buffer between the server
    // and a reader that never reads, many times over.
    for n in 0..20 {
        let words = format!("{n} {}", "I want to cook for my family again. ".repeat(25));
        app.post(
            &olivia,
            &format!("/api/v1/clients/{sam}/episodes/{episode}/goals"),
            &json!({"content": {"client_words": words.trim(), "statement": "Cooks a meal",
                    "occupation_area": "iadl", "importance": 5}}),
        )
        .ok(201);
    }
    let steady = app.events(&admin, "?types=measurement.recorded", None);
    let stalled = stalled_stream(&app, &admin);
    const WRITES: usize = 600;
    let written: Vec<String> = (0..WRITES)
        .map(|i| record(&app, &olivia, &sam, &episode, (i % 11) as i64))
        .collect();
    let last = written.last().cloned().unwrap_or_default();
    // Every write succeeded, and the steady stream heard every one, in order.
    let heard = through(&steady, &last);
    let heard_ids: Vec<String> = heard
        .iter()
        .filter_map(|e| e.data["resource_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        heard_ids, written,
        "the steady stream missed or reordered events"
    );
    // The stalled one was dropped: what it was sent ends, short of the last write.
    let (got, ended) = drain(stalled, 30);
    assert!(
        ended,
        "the stalled stream was never dropped ({} events)",
        got.len()
    );
    let recorded = |events: &[(i64, Value)]| -> Vec<String> {
        events
            .iter()
            .filter(|(_, d)| d["type"] == "measurement.recorded")
            .filter_map(|(_, d)| d["resource_id"].as_str().map(str::to_owned))
            .collect()
    };
    let before = recorded(&got);
    assert!(
        before.len() < WRITES,
        "it was sent everything: never stalled"
    );
    // It resumes after the last event it got: the rest, nothing lost or repeated.
    let resume_from = got.last().map_or(0, |(id, _)| *id).to_string();
    let resumed = app.events(&admin, "", Some(&resume_from));
    let rest = through(&resumed, &last);
    let rest: Vec<(i64, Value)> = rest
        .into_iter()
        .filter_map(|e| Some((e.id?.parse().ok()?, e.data)))
        .collect();
    let (sent, after) = (before.len(), recorded(&rest));
    let all: Vec<String> = before.into_iter().chain(after.iter().cloned()).collect();
    // On a mismatch, say where: the whole lists are 600 ids each.
    let first_wrong = all.iter().zip(&written).position(|(a, b)| a != b);
    assert!(
        all == written,
        "resuming lost or repeated events: {sent} before the drop (last id {resume_from}), \
         {} after; {} in all for {WRITES} written; first difference at {first_wrong:?}; \
         the resumed stream began {:?}",
        after.len(),
        all.len(),
        rest.iter()
            .take(3)
            .map(|(id, d)| (id, d["type"].clone()))
            .collect::<Vec<_>>(),
    );
}
