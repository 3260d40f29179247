//! Webhooks for integrators (issue #9): admins register endpoints; every change to a
//! client's record that an admin may hear of reaches them signed the Standard Webhooks
//! way (verified here with the `standardwebhooks` crate); failures are retried with
//! backoff, then dead-lettered and visible; the change log is the outbox, so a change
//! committed before a stop is delivered after the restart. A real receiver runs in
//! each test: a tiny HTTP server on 127.0.0.1 that records what it gets and answers
//! as told.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Read, Write},
    net::TcpListener,
    sync::{Arc, Condvar, Mutex},
    thread,
    time::{Duration, Instant},
};

use headway_tests::TestApp;
use serde_json::{json, Value};

use crate::goals::episode;

/// What the receiver answers.
#[derive(Clone)]
enum Answer {
    Ok,
    Fail(u16, &'static str),
    /// 503 to the first `n` requests, 200 after.
    FailFirst(usize),
    /// Hold every request until `release`, then answer 200.
    Hold,
}

#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, String>,
    body: String,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map_or("", String::as_str)
    }

    /// Verifies the signature with the Standard Webhooks reference library.
    fn verifies_with(&self, secret: &str) -> bool {
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &self.headers {
            if let (Ok(n), Ok(v)) = (
                reqwest::header::HeaderName::from_bytes(name.as_bytes()),
                reqwest::header::HeaderValue::from_str(value),
            ) {
                headers.insert(n, v);
            }
        }
        let webhook = standardwebhooks::Webhook::new(secret).unwrap_or_else(|e| panic!("{e:?}"));
        webhook.verify(self.body.as_bytes(), &headers).is_ok()
    }
}

struct Receiver {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    answer: Arc<Mutex<Answer>>,
    /// (released, held right now)
    gate: Arc<(Mutex<(bool, usize)>, Condvar)>,
}

impl Receiver {
    fn start(answer: Answer) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let port = listener.local_addr().map(|a| a.port()).unwrap_or_default();
        let receiver = Receiver {
            url: format!("http://127.0.0.1:{port}/hook"),
            seen: Arc::default(),
            answer: Arc::new(Mutex::new(answer)),
            gate: Arc::default(),
        };
        let (seen, answer, gate) = (
            receiver.seen.clone(),
            receiver.answer.clone(),
            receiver.gate.clone(),
        );
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (seen, answer, gate) = (seen.clone(), answer.clone(), gate.clone());
                thread::spawn(move || serve(stream, &seen, &answer, &gate));
            }
        });
        receiver
    }

    fn answer(&self, answer: Answer) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = answer;
    }

    fn seen(&self) -> Vec<Received> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn of_type(&self, kind: &str) -> Vec<Received> {
        let seen = self.seen().into_iter();
        seen.filter(|r| r.json()["type"] == kind).collect()
    }

    /// Waits (30 s at most, then fails) until `enough` holds of what arrived.
    #[track_caller]
    fn until(&self, what: &str, enough: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        until(what, || {
            let seen = self.seen();
            enough(&seen).then_some(seen)
        })
    }

    fn held(&self) -> usize {
        self.gate.0.lock().unwrap_or_else(|e| e.into_inner()).1
    }

    fn release(&self) {
        let (lock, wake) = &*self.gate;
        lock.lock().unwrap_or_else(|e| e.into_inner()).0 = true;
        wake.notify_all();
    }
}

fn serve(
    stream: std::net::TcpStream,
    seen: &Mutex<Vec<Received>>,
    answer: &Mutex<Answer>,
    gate: &(Mutex<(bool, usize)>, Condvar),
) {
    let mut reader = BufReader::new(&stream);
    let mut headers = HashMap::new();
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    loop {
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length = (headers.get("content-length"))
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let body = String::from_utf8_lossy(&body).into_owned();
    seen.lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Received { headers, body });
    let answer = answer.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let received = seen.lock().unwrap_or_else(|e| e.into_inner()).len();
    let (status, text) = match answer {
        Answer::Ok => (200, "ok"),
        Answer::FailFirst(n) if received <= n => (503, "busy"),
        Answer::FailFirst(_) => (200, "ok"),
        Answer::Fail(status, text) => (status, text),
        Answer::Hold => {
            let (lock, wake) = gate;
            let mut state = lock.lock().unwrap_or_else(|e| e.into_inner());
            state.1 += 1;
            while !state.0 {
                state = wake.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            state.1 -= 1;
            (200, "ok, at last")
        }
    };
    let reply = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = (&stream).write_all(reply.as_bytes());
}

/// Polls `f` until it answers (30 s at most, then fails naming `what`).
#[track_caller]
pub fn until<T>(what: &str, f: impl Fn() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = f() {
            return value;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "gave up waiting: {what}"
        );
        thread::sleep(Duration::from_millis(50));
    }
}

/// A server whose webhooks may go to the test's receivers on loopback over http,
/// retrying quickly (gaps of up to 1 s, three retries).
fn app_for_receivers() -> TestApp {
    TestApp::spawn_with(allow_receivers)
}

fn allow_receivers(c: &mut api::Config) {
    c.webhooks_allow_insecure = true;
    c.webhooks_allow_private = true;
    c.webhooks_retry =
        domain::webhook::RetrySchedule::parse("1,1,1").unwrap_or_else(|e| panic!("{e}"));
}

/// Registers an endpoint; answers its id and secret.
fn register(app: &TestApp, admin: &str, url: &str, types: &[&str]) -> (String, String) {
    let r = app.post(
        admin,
        "/api/v1/webhooks",
        &json!({"url": url, "types": types}),
    );
    let body = r.ok(201);
    let id = body["webhook"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let secret = body["secret"].as_str().unwrap_or_default().to_owned();
    assert!(secret.starts_with("whsec_"), "{body}");
    (id, secret)
}

/// Records a measurement for Maria as her therapist; answers its id.
fn record(app: &TestApp, olivia: &str, maria: &str, episode: &str, value: u32) -> String {
    let path = format!("/api/v1/clients/{maria}/episodes/{episode}/measurements");
    let body = json!({"measure_code": "nrs", "values": {"value": value}});
    let r = app.post(olivia, &path, &body);
    r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
}

struct Scene {
    app: TestApp,
    admin: String,
    olivia: String,
    maria: String,
    episode: String,
}

fn scene(app: TestApp) -> Scene {
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let maria = app.client_id("Maria Lopez");
    let episode = episode(&app, &olivia, &maria);
    Scene {
        app,
        admin,
        olivia,
        maria,
        episode,
    }
}

fn deliveries(app: &TestApp, admin: &str, webhook: &str) -> Vec<Value> {
    let r = app.get(admin, &format!("/api/v1/webhooks/{webhook}/deliveries"));
    r.ok(200)["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_recorded_measurement_reaches_the_endpoint_signed_so_a_standard_library_verifies_it() {
    let s = scene(app_for_receivers());
    let receiver = Receiver::start(Answer::Ok);
    let (hook, secret) = register(&s.app, &s.admin, &receiver.url, &[]);
    let measurement = record(&s.app, &s.olivia, &s.maria, &s.episode, 6);
    let got = receiver.until("the measurement", |seen| {
        seen.iter()
            .any(|r| r.json()["data"]["resource_id"] == measurement.as_str())
    });
    let sent = got
        .iter()
        .find(|r| r.json()["data"]["resource_id"] == measurement.as_str())
        .unwrap_or_else(|| unreachable!());
    let body = sent.json();
    assert_eq!(body["type"], "measurement.recorded");
    assert_eq!(body["data"]["type"], "measurement.recorded");
    assert_eq!(body["data"]["client_id"], s.maria.as_str());
    assert_eq!(body["data"]["resource_type"], "measurement");
    assert!(body["timestamp"].is_string() && body["data"]["id"].is_string());
    // Ids and types only: no values, no names.
    assert!(!sent.body.contains("Maria") && body["data"].get("values").is_none());
    assert!(sent.verifies_with(&secret), "the signature does not verify");
    let wrong = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    assert!(!sent.verifies_with(wrong), "a wrong secret verified");
    // The webhook-id is the delivery's id; the delivery shows it succeeded.
    let id = sent.header("webhook-id").to_owned();
    let shown = until("the delivery marked succeeded", || {
        let list = deliveries(&s.app, &s.admin, &hook);
        let d = list.into_iter().find(|d| d["id"] == id.as_str())?;
        (d["status"] == "succeeded").then_some(d)
    });
    assert_eq!(shown["event_type"], "measurement.recorded");
    assert_eq!(shown["event_id"], body["data"]["id"]);
    assert_eq!(shown["attempts"], 1);
    assert_eq!(shown["last_response_status"], 200);
    assert_eq!(shown["last_response_body"], "ok");
    // The secret was shown once: never again.
    for path in [
        "/api/v1/webhooks".to_owned(),
        format!("/api/v1/webhooks/{hook}"),
    ] {
        let r = s.app.get(&s.admin, &path);
        r.ok(200);
        assert!(!r.text.contains(&secret), "GET {path} shows the secret");
        assert!(!r.text.contains("whsec_"), "GET {path} shows a secret");
    }
}

#[test]
fn an_endpoint_gets_only_its_types_and_a_paused_one_gets_nothing_until_resumed() {
    let s = scene(app_for_receivers());
    let (goals, all, paused) = (
        Receiver::start(Answer::Ok),
        Receiver::start(Answer::Ok),
        Receiver::start(Answer::Ok),
    );
    register(&s.app, &s.admin, &goals.url, &["goal.proposed"]);
    register(&s.app, &s.admin, &all.url, &[]);
    let (stopped, _) = register(&s.app, &s.admin, &paused.url, &[]);
    let hook = format!("/api/v1/webhooks/{stopped}");
    let r = s.app.patch(&s.admin, &hook, &json!({"paused": true}));
    assert_eq!(r.ok(200)["paused"], true);

    let measurement = record(&s.app, &s.olivia, &s.maria, &s.episode, 4);
    let goal_path = format!("/api/v1/clients/{}/episodes/{}/goals", s.maria, s.episode);
    let content = crate::goals::content("Walk to the bakery");
    s.app
        .post(&s.olivia, &goal_path, &json!({"content": content}))
        .ok(201);

    // The goal came after the measurement in the log: once it arrived, the
    // measurement had been dispatched too, and was not for this endpoint.
    goals.until("the goal", |seen| !seen.is_empty());
    all.until("both changes", |seen| {
        seen.iter().any(|r| r.json()["type"] == "goal.proposed")
            && seen
                .iter()
                .any(|r| r.json()["data"]["resource_id"] == measurement.as_str())
    });
    let types: Vec<Value> = goals
        .seen()
        .iter()
        .map(|r| r.json()["type"].clone())
        .collect();
    assert!(types.iter().all(|t| t == "goal.proposed"), "{types:?}");

    // The paused endpoint's deliveries wait, pending, never tried.
    let waiting = until("the paused endpoint's deliveries", || {
        let list = deliveries(&s.app, &s.admin, &stopped);
        (list.len() >= 2).then_some(list)
    });
    assert!(
        paused.seen().is_empty(),
        "a paused endpoint was sent something"
    );
    for d in &waiting {
        assert_eq!(d["status"], "pending", "{d}");
        assert_eq!(d["attempts"], 0, "{d}");
    }
    let r = s.app.patch(&s.admin, &hook, &json!({"paused": false}));
    assert_eq!(r.ok(200)["paused"], false);
    paused.until("what waited, once resumed", |seen| seen.len() >= 2);
    assert!(paused.of_type("measurement.recorded").len() == 1);
}

#[test]
fn a_failing_receiver_is_retried_then_dead_and_visible_then_redelivered_with_the_same_id() {
    let s = scene(app_for_receivers());
    let receiver = Receiver::start(Answer::Fail(500, "no thanks"));
    let (hook, _) = register(&s.app, &s.admin, &receiver.url, &["measurement.recorded"]);
    record(&s.app, &s.olivia, &s.maria, &s.episode, 7);
    // Tried once, then once per entry of the schedule (1,1,1): four attempts.
    let dead = until("the delivery dead-lettered", || {
        let list = deliveries(&s.app, &s.admin, &hook);
        let d = list.into_iter().next()?;
        (d["status"] == "dead").then_some(d)
    });
    assert_eq!(dead["attempts"], 4, "{dead}");
    assert_eq!(dead["last_response_status"], 500);
    assert_eq!(dead["last_response_body"], "no thanks");
    assert!(dead["next_attempt_at"].is_null());
    let tries = receiver.seen();
    assert_eq!(tries.len(), 4);
    let id = dead["id"].as_str().unwrap_or_default();
    for attempt in &tries {
        assert_eq!(attempt.header("webhook-id"), id, "a retry changed its id");
    }
    let stamps: Vec<i64> = (tries.iter())
        .map(|t| t.header("webhook-timestamp").parse().unwrap_or(0))
        .collect();
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]), "{stamps:?}");

    receiver.answer(Answer::Ok);
    let again = format!("/api/v1/webhooks/{hook}/deliveries/{id}/redeliver");
    let r = s.app.post(&s.admin, &again, &json!({}));
    assert_eq!(r.ok(202)["status"], "pending");
    receiver.until("the redelivery", |seen| seen.len() == 5);
    assert_eq!(receiver.seen()[4].header("webhook-id"), id);
    until("the redelivery marked succeeded", || {
        let d = deliveries(&s.app, &s.admin, &hook).into_iter().next()?;
        (d["status"] == "succeeded" && d["last_response_status"] == 200).then_some(())
    });
}

#[test]
fn a_receiver_that_fails_a_few_times_then_recovers_gets_the_delivery_once_it_does() {
    let s = scene(app_for_receivers());
    let receiver = Receiver::start(Answer::FailFirst(2));
    let (hook, secret) = register(&s.app, &s.admin, &receiver.url, &["measurement.recorded"]);
    let measurement = record(&s.app, &s.olivia, &s.maria, &s.episode, 6);
    let done = until("the delivery succeeded", || {
        let d = deliveries(&s.app, &s.admin, &hook).into_iter().next()?;
        (d["status"] == "succeeded").then_some(d)
    });
    assert_eq!(done["attempts"], 3, "{done}");
    assert_eq!(done["last_response_status"], 200);
    let tries = receiver.seen();
    assert_eq!(tries.len(), 3, "sent again after it succeeded");
    for attempt in &tries {
        assert_eq!(
            attempt.header("webhook-id"),
            done["id"].as_str().unwrap_or_default()
        );
        assert!(
            attempt.verifies_with(&secret),
            "an attempt's signature does not verify"
        );
        assert_eq!(attempt.json()["data"]["resource_id"], measurement.as_str());
    }
}

#[test]
fn a_slow_receiver_delays_neither_another_endpoint_nor_the_api() {
    let s = scene(app_for_receivers());
    let (slow, fast) = (Receiver::start(Answer::Hold), Receiver::start(Answer::Ok));
    register(&s.app, &s.admin, &slow.url, &["measurement.recorded"]);
    register(&s.app, &s.admin, &fast.url, &["measurement.recorded"]);
    let first = record(&s.app, &s.olivia, &s.maria, &s.episode, 3);
    fast.until("the first", |seen| seen.len() == 1);
    until("the slow receiver holding the first", || {
        (slow.held() >= 1).then_some(())
    });
    // While the slow receiver still holds the first, the API answers a write and the
    // fast receiver gets it.
    let second = record(&s.app, &s.olivia, &s.maria, &s.episode, 4);
    fast.until("the second", |seen| seen.len() == 2);
    assert!(
        slow.held() >= 1,
        "the slow receiver answered before the test let it"
    );
    let got: Vec<Value> = fast
        .seen()
        .iter()
        .map(|r| r.json()["data"]["resource_id"].clone())
        .collect();
    assert_eq!(got, vec![json!(first), json!(second)]);
    slow.release();
    slow.until("both, once released", |seen| seen.len() >= 2);
}

#[test]
fn a_change_committed_before_a_stop_is_delivered_after_the_restart() {
    // The first server sends nothing (its dispatcher is off): the change is only in
    // the log when it stops. The next one, on the same database, delivers it.
    let s = scene(TestApp::spawn_with(|c| {
        allow_receivers(c);
        c.webhooks_deliver = false;
    }));
    let receiver = Receiver::start(Answer::Ok);
    register(&s.app, &s.admin, &receiver.url, &["measurement.recorded"]);
    let measurement = record(&s.app, &s.olivia, &s.maria, &s.episode, 5);
    s.app.stop();
    let _next = s.app.start_instance(allow_receivers);
    let got = receiver.until("the measurement, after the restart", |seen| {
        !seen.is_empty()
    });
    assert_eq!(got[0].json()["data"]["resource_id"], measurement.as_str());
}

#[test]
fn after_a_rotation_deliveries_carry_two_signatures_and_both_verify() {
    let s = scene(app_for_receivers());
    let receiver = Receiver::start(Answer::Ok);
    let (hook, old) = register(&s.app, &s.admin, &receiver.url, &["measurement.recorded"]);
    let r = s.app.post(
        &s.admin,
        &format!("/api/v1/webhooks/{hook}/secret"),
        &json!({}),
    );
    let body = r.ok(200);
    let new = body["secret"].as_str().unwrap_or_default().to_owned();
    assert!(new.starts_with("whsec_") && new != old);
    assert!(body["webhook"]["previous_secret_until"].is_string());
    record(&s.app, &s.olivia, &s.maria, &s.episode, 2);
    let got = receiver.until("the measurement", |seen| !seen.is_empty());
    let signatures: Vec<&str> = got[0].header("webhook-signature").split(' ').collect();
    assert_eq!(signatures.len(), 2, "{signatures:?}");
    assert!(signatures.iter().all(|s| s.starts_with("v1,")));
    assert!(got[0].verifies_with(&new), "the new secret does not verify");
    assert!(got[0].verifies_with(&old), "the old secret does not verify");
    let get = s.app.get(&s.admin, &format!("/api/v1/webhooks/{hook}"));
    assert!(!get.text.contains(&new) && !get.text.contains(&old));
}

#[test]
fn urls_to_this_machine_private_networks_the_metadata_service_or_plain_http_are_refused() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    for url in [
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://[::1]/hook",
        "https://10.0.0.5/hook",
        "https://192.168.1.20/hook",
        "https://169.254.169.254/latest/meta-data/",
        "http://hooks.example.com/hook",
        "https://user:secret@hooks.example.com/hook",
        "not a url",
    ] {
        let r = app.post(&admin, "/api/v1/webhooks", &json!({"url": url}));
        r.problem(422);
        assert_eq!(r.fields(), vec!["url"], "{url}: {}", r.text);
    }
    let r = app.post(
        &admin,
        "/api/v1/webhooks",
        &json!({"url": "https://receiver.example/h", "types": ["nope"]}),
    );
    r.problem(422);
    assert_eq!(r.fields(), vec!["types[0]"]);
    // Nothing was registered.
    let list = app.get(&admin, "/api/v1/webhooks");
    assert_eq!(list.ok(200)["items"], json!([]));
}

#[test]
fn only_the_clinics_admins_see_or_manage_its_webhooks() {
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example").access;
    let (hook, _) = register(&app, &admin, "https://receiver.example/hook", &[]);
    let others = [
        ("therapist", app.login("olivia.ot@riverside.example").access),
        ("client", app.login("maria@client.example").access),
        ("caregiver", app.login("lucia@family.example").access),
        ("service", app.service_token("clients:read")),
    ];
    let one = format!("/api/v1/webhooks/{hook}");
    for (who, token) in &others {
        app.get(token, "/api/v1/webhooks").problem(403);
        app.get(token, &one).problem(403);
        let r = app.post(
            token,
            "/api/v1/webhooks",
            &json!({"url": "https://a.example/h"}),
        );
        assert_eq!(r.status.as_u16(), 403, "{who}: {}", r.text);
        app.patch(token, &one, &json!({"paused": true}))
            .problem(403);
        app.delete(token, &one).problem(403);
    }
    // Another clinic's admin: not found, word for word as a made-up id.
    let lakeside = app.second_clinic("lee@lakeside.example");
    let lee = app.login(&lakeside).access;
    let made_up = app.get(
        &lee,
        "/api/v1/webhooks/01890a5d-ac96-774b-bcce-b302099a8057",
    );
    made_up.problem(404);
    for r in [
        app.get(&lee, &one),
        app.get(&lee, &format!("{one}/deliveries")),
        app.patch(&lee, &one, &json!({"paused": true})),
        app.delete(&lee, &one),
        app.post(&lee, &format!("{one}/secret"), &json!({})),
    ] {
        r.problem(404);
        assert_eq!(r.body["detail"], made_up.body["detail"]);
    }
    assert_eq!(
        app.get(&lee, "/api/v1/webhooks").ok(200)["items"],
        json!([])
    );
    // Nothing changed; every attempt was audited.
    assert_eq!(app.get(&admin, &one).ok(200)["paused"], false);
    let audit = app
        .get(&admin, "/api/v1/audit-events?limit=100")
        .ok(200)
        .clone();
    let refused = (audit["items"].as_array().into_iter().flatten())
        .filter(|e| {
            e["action"]
                .as_str()
                .is_some_and(|a| a.starts_with("webhook."))
        })
        .filter(|e| e["outcome"] == "denied")
        .count();
    assert!(refused >= 4 * 5, "{refused} refusals audited");
    // Deleting stops it: gone from the list and not found.
    app.delete(&admin, &one);
    app.get(&admin, &one).problem(404);
}

#[test]
fn two_instances_on_one_database_send_each_delivery_once() {
    // Both dispatchers see every change and every due delivery; the cursor's
    // compare-and-set and the delivery's lease let only one of them act on each.
    let s = scene(app_for_receivers());
    let _second = s.app.start_instance(allow_receivers);
    let receiver = Receiver::start(Answer::Ok);
    register(&s.app, &s.admin, &receiver.url, &["measurement.recorded"]);
    let recorded: Vec<String> = (1..=6)
        .map(|v| record(&s.app, &s.olivia, &s.maria, &s.episode, v))
        .collect();
    receiver.until("all six", |seen| seen.len() >= 6);
    // Whatever might still come would be a second send of one of them: the list of
    // deliveries is complete and each succeeded in one attempt.
    let list = until("six deliveries succeeded", || {
        let list = deliveries(&s.app, &s.admin, &receiver_hook(&s.app, &s.admin));
        (list.len() == 6 && list.iter().all(|d| d["status"] == "succeeded")).then_some(list)
    });
    assert!(list.iter().all(|d| d["attempts"] == 1), "{list:?}");
    let mut ids: Vec<String> = (receiver.seen().iter())
        .map(|r| r.header("webhook-id").to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(
        ids.len(),
        receiver.seen().len(),
        "a delivery was sent twice"
    );
    let mut sent: Vec<String> = (receiver.seen().iter())
        .map(|r| {
            r.json()["data"]["resource_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    sent.sort();
    let mut expected = recorded;
    expected.sort();
    assert_eq!(sent, expected);
}

/// The one endpoint registered in a test.
fn receiver_hook(app: &TestApp, admin: &str) -> String {
    let list = app.get(admin, "/api/v1/webhooks");
    list.ok(200)["items"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}
