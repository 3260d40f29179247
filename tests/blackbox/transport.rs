//! The connection itself: slow clients are cut off, oversized heads refused, browser
//! apps on other origins allowed by an explicit list, and signing keys rotated.
//!
//! Slow-client tests talk raw HTTP/1.1 over a TcpStream. They assert what happens
//! (the answer, the connection closed), never how long it took: every read has a
//! generous timeout that only turns a hang into a failure.

use std::{
    io::{ErrorKind, Read, Write},
    net::TcpStream,
    thread,
    time::Duration,
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use headway_tests::{TestApp, SECRET};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{json, Value};

/// Long enough that only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(30);

fn connect(app: &TestApp) -> TcpStream {
    let addr = app.base.trim_start_matches("http://");
    let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect: {e}"));
    stream
        .set_read_timeout(Some(PATIENCE))
        .unwrap_or_else(|e| panic!("{e}"));
    stream
}

/// What the server said before it closed the connection.
#[derive(Debug)]
struct Ending {
    text: String,
    closed: bool,
}

impl Ending {
    fn status(&self) -> Option<u16> {
        self.text.strip_prefix("HTTP/1.1 ")?.get(..3)?.parse().ok()
    }

    fn has_header(&self, line: &str) -> bool {
        let head = self.text.split("\r\n\r\n").next().unwrap_or_default();
        head.lines().any(|l| l.eq_ignore_ascii_case(line))
    }
}

/// Reads until the server closes the connection (or PATIENCE runs out: not closed).
fn read_until_closed(stream: &mut TcpStream) -> Ending {
    let mut bytes = Vec::new();
    let mut buf = [0u8; 8192];
    let closed = loop {
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            // A reset after the answer is also the server hanging up.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break true,
            Err(_) => break false,
        }
    };
    Ending {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        closed,
    }
}

/// Sends `head`, then trickles `trickle` one byte at a time from another thread, a few
/// bytes a second, until the server stops listening or it runs out; returns what the
/// server answered before closing the connection.
fn trickle(app: &TestApp, head: &str, trickle: &'static [u8]) -> Ending {
    let mut stream = connect(app);
    stream
        .write_all(head.as_bytes())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut writer = stream.try_clone().unwrap_or_else(|e| panic!("{e}"));
    let sender = thread::spawn(move || {
        for byte in trickle {
            thread::sleep(Duration::from_millis(250));
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
        }
    });
    let ending = read_until_closed(&mut stream);
    drop(stream);
    let _ = sender.join();
    ending
}

/// Plenty of bytes to trickle: at four a second, far longer than any deadline here.
const SLOW_BODY: &[u8] = &[b' '; 240];
/// The same, as the value of a header that never ends.
const SLOW_HEADER: &[u8] = &[b'a'; 240];

fn app_with_short_deadlines() -> TestApp {
    TestApp::spawn_with(|c| {
        c.request_body_timeout_secs = 1;
        c.request_head_timeout_secs = 1;
        c.keep_alive_secs = 1;
    })
}

#[test]
fn a_trickled_json_body_is_answered_408_and_the_connection_closed() {
    let app = app_with_short_deadlines();
    let admin = app.login("admin@riverside.example").access;
    let before = app.get(&admin, "/api/v1/clients?limit=100").ok(200)["items"]
        .as_array()
        .map_or(0, Vec::len);
    let head = format!(
        "POST /api/v1/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nContent-Length: 400\r\n\r\n{{\"name\":"
    );
    let ending = trickle(&app, &head, SLOW_BODY);
    assert_eq!(ending.status(), Some(408), "{ending:?}");
    assert!(ending.closed, "still open: {ending:?}");
    assert!(
        ending.has_header("content-type: application/problem+json"),
        "{ending:?}"
    );
    assert!(
        ending.text.contains("urn:headway:problem:request-timeout"),
        "{ending:?}"
    );
    let after = app.get(&admin, "/api/v1/clients?limit=100").ok(200)["items"]
        .as_array()
        .map_or(0, Vec::len);
    assert_eq!(before, after, "a timed-out request wrote something");
}

#[test]
fn a_trickled_chunked_body_is_answered_408_and_the_connection_closed() {
    let app = app_with_short_deadlines();
    let admin = app.login("admin@riverside.example").access;
    let head = format!(
        "POST /api/v1/clients HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n{{\"name\":"
    );
    let ending = trickle(&app, &head, SLOW_BODY);
    assert_eq!(ending.status(), Some(408), "{ending:?}");
    assert!(ending.closed, "still open: {ending:?}");
}

#[test]
fn a_trickled_sign_in_form_is_answered_408_and_the_connection_closed() {
    let app = app_with_short_deadlines();
    let head = "POST /api/v1/auth/token HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 300\r\n\r\n\
                grant_type=password&username=";
    let ending = trickle(&app, head, SLOW_BODY);
    assert_eq!(ending.status(), Some(408), "{ending:?}");
    assert!(ending.closed, "still open: {ending:?}");
}

#[test]
fn a_trickled_body_to_a_route_that_ignores_it_does_not_hold_the_connection() {
    let app = app_with_short_deadlines();
    let admin = app.login("admin@riverside.example").access;
    for framing in ["Content-Length: 400", "Transfer-Encoding: chunked"] {
        let head = format!(
            "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\n{framing}\r\n\r\n"
        );
        let ending = trickle(&app, &head, SLOW_BODY);
        assert_eq!(ending.status(), Some(200), "{framing}: {ending:?}");
        assert!(ending.closed, "{framing}: still open: {ending:?}");
    }
    // Nor to a route that refuses the caller before reading anything.
    let head = "POST /api/v1/clients HTTP/1.1\r\nHost: x\r\n\
                Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    let ending = trickle(&app, head, SLOW_BODY);
    assert_eq!(ending.status(), Some(401), "{ending:?}");
    assert!(ending.closed, "still open: {ending:?}");
}

#[test]
fn a_slow_request_head_is_answered_408_and_the_connection_closed() {
    let app = app_with_short_deadlines();
    let ending = trickle(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        SLOW_HEADER,
    );
    assert_eq!(ending.status(), Some(408), "{ending:?}");
    assert!(ending.closed, "still open: {ending:?}");
}

#[test]
fn a_slow_head_after_a_first_request_does_not_hold_the_connection() {
    let app = app_with_short_deadlines();
    let ending = trickle(
        &app,
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ",
        SLOW_HEADER,
    );
    assert_eq!(ending.status(), Some(200), "{ending:?}");
    assert!(ending.closed, "still open: {ending:?}");
}

#[test]
fn an_idle_connection_is_closed_after_the_keep_alive() {
    let app = app_with_short_deadlines();
    let mut stream = connect(&app);
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let ending = read_until_closed(&mut stream);
    assert_eq!(ending.status(), Some(200), "{ending:?}");
    assert!(ending.closed, "an idle connection stayed open: {ending:?}");
}

#[test]
fn requests_within_the_limits_are_unaffected() {
    let app = app_with_short_deadlines();
    let admin = app.login("admin@riverside.example").access;
    let created = app.post(&admin, "/api/v1/clients", &json!({"name": "Ana Silva"}));
    created.ok(201);
    // A large header within the limit, on a keep-alive connection used twice.
    let mut stream = connect(&app);
    let padding = "a".repeat(4000);
    for _ in 0..2 {
        let request = format!(
            "GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {admin}\r\nX-Padding: {padding}\r\n\r\n"
        );
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|e| panic!("{e}"));
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        // Read the head, then exactly Content-Length bytes of body.
        let (head, body_start) = loop {
            let n = stream.read(&mut buf).unwrap_or_else(|e| panic!("{e}"));
            assert!(n > 0, "closed early");
            reply.extend_from_slice(&buf[..n]);
            if let Some(end) = reply.windows(4).position(|w| w == b"\r\n\r\n") {
                break (String::from_utf8_lossy(&reply[..end]).into_owned(), end + 4);
            }
        };
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let length: usize = head
            .lines()
            .find_map(|l| {
                l.to_ascii_lowercase()
                    .strip_prefix("content-length: ")
                    .map(str::to_owned)
            })
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no content-length: {head}"));
        while reply.len() < body_start + length {
            let n = stream.read(&mut buf).unwrap_or_else(|e| panic!("{e}"));
            assert!(n > 0, "closed early");
            reply.extend_from_slice(&buf[..n]);
        }
        let body: Value = serde_json::from_slice(&reply[body_start..body_start + length])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body["user"]["email"], "admin@riverside.example");
    }
}

#[test]
fn oversized_headers_are_refused_with_431() {
    let app = TestApp::spawn();
    // One header above 8 KiB.
    let r = app.send(
        app.http
            .get(app.url("/healthz"))
            .header("x-padding", "a".repeat(9 * 1024)),
    );
    assert_eq!(
        r.problem(431)["type"],
        "urn:headway:problem:headers-too-large"
    );
    assert!(r.body["detail"]
        .as_str()
        .is_some_and(|d| d.contains("x-padding")));
    // Many headers, each within the limit, together above 32 KiB.
    let mut req = app.http.get(app.url("/healthz"));
    for i in 0..40 {
        req = req.header(format!("x-padding-{i}"), "a".repeat(1000));
    }
    app.send(req).problem(431);
    // Far above: actix refuses before our code runs (431 without a body, closed).
    let mut stream = connect(&app);
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let _ = stream.write_all(request.as_bytes());
    let ending = read_until_closed(&mut stream);
    assert!(ending.closed, "{ending:?}");
    assert!(matches!(ending.status(), Some(431) | None), "{ending:?}");
    // The server is unharmed.
    app.send(app.http.get(app.url("/healthz"))).ok(200);
}

// ---- CORS ----

const APP_ORIGIN: &str = "https://app.riverside.example";

fn app_with_cors() -> TestApp {
    TestApp::spawn_with(|c| c.cors_origins = vec![APP_ORIGIN.to_owned()])
}

fn header_list(r: &headway_tests::Reply, name: &str) -> Vec<String> {
    r.headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .collect()
}

fn preflight(app: &TestApp, origin: &str, path: &str, method: &str) -> headway_tests::Reply {
    app.send(
        app.http
            .request(Method::OPTIONS, app.url(path))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization, content-type, if-match, idempotency-key",
            ),
    )
}

#[test]
fn a_preflight_from_an_allowed_origin_is_answered() {
    let app = app_with_cors();
    let client = uuid::Uuid::now_v7();
    for (path, method) in [
        ("/api/v1/clients".to_owned(), "POST"),
        (format!("/api/v1/clients/{client}"), "PATCH"),
        (
            format!("/api/v1/clients/{client}/care-team/{client}"),
            "DELETE",
        ),
        ("/api/v1/auth/token".to_owned(), "POST"),
    ] {
        let r = preflight(&app, APP_ORIGIN, &path, method);
        assert!(
            matches!(r.status.as_u16(), 200 | 204),
            "{path}: {} {}",
            r.status,
            r.text
        );
        assert_eq!(r.header("access-control-allow-origin"), Some(APP_ORIGIN));
        assert!(
            header_list(&r, "access-control-allow-methods").contains(&method.to_ascii_lowercase())
        );
        let allowed = header_list(&r, "access-control-allow-headers");
        for h in [
            "authorization",
            "content-type",
            "if-match",
            "if-none-match",
            "idempotency-key",
            "last-event-id",
        ] {
            assert!(allowed.contains(&h.to_owned()), "{h} not in {allowed:?}");
        }
        assert!(r
            .header("access-control-max-age")
            .and_then(|v| v.parse::<u32>().ok())
            .is_some_and(|s| s > 0));
        // Tokens travel in headers, not cookies: no credentials, ever.
        assert_eq!(r.header("access-control-allow-credentials"), None);
    }
}

#[test]
fn answers_to_an_allowed_origin_carry_cors_headers_errors_included() {
    let app = app_with_cors();
    let admin = app.login("admin@riverside.example").access;
    let with_origin =
        |req: reqwest::blocking::RequestBuilder| app.send(req.header("origin", APP_ORIGIN));
    let check = |r: &headway_tests::Reply, what: &str| {
        assert_eq!(
            r.header("access-control-allow-origin"),
            Some(APP_ORIGIN),
            "{what}"
        );
        let exposed = header_list(r, "access-control-expose-headers");
        for h in [
            "location",
            "etag",
            "retry-after",
            "x-request-id",
            "www-authenticate",
        ] {
            assert!(
                exposed.contains(&h.to_owned()),
                "{what}: {h} not in {exposed:?}"
            );
        }
        assert!(
            header_list(r, "vary").contains(&"origin".to_owned()),
            "{what}"
        );
        assert_eq!(r.header("access-control-allow-credentials"), None, "{what}");
    };
    let ok = with_origin(app.http.get(app.url("/api/v1/me")).bearer_auth(&admin));
    ok.ok(200);
    check(&ok, "200");
    let created = with_origin(
        app.http
            .post(app.url("/api/v1/clients"))
            .bearer_auth(&admin)
            .json(&json!({"name": "Ana Silva"})),
    );
    created.ok(201);
    check(&created, "201");
    let unauthorized = with_origin(app.http.get(app.url("/api/v1/me")));
    unauthorized.problem(401);
    check(&unauthorized, "401");
    let missing = with_origin(
        app.http
            .get(app.url(&format!("/api/v1/clients/{}", uuid::Uuid::now_v7())))
            .bearer_auth(&admin),
    );
    missing.problem(404);
    check(&missing, "404");
    let unknown = with_origin(app.http.get(app.url("/nowhere")));
    unknown.problem(404);
    check(&unknown, "404 unrouted");
    let wrong_method = with_origin(app.http.put(app.url("/api/v1/me")).bearer_auth(&admin));
    wrong_method.problem(405);
    check(&wrong_method, "405");
    let invalid = with_origin(
        app.http
            .post(app.url("/api/v1/clients"))
            .bearer_auth(&admin)
            .json(&json!({"name": " "})),
    );
    invalid.problem(422);
    check(&invalid, "422");
    let too_large = with_origin(
        app.http
            .get(app.url("/healthz"))
            .header("x-padding", "a".repeat(9000)),
    );
    too_large.problem(431);
    check(&too_large, "431");
}

#[test]
fn other_origins_get_no_cors_headers() {
    let app = app_with_cors();
    let admin = app.login("admin@riverside.example").access;
    let evil = "https://evil.example";
    let r = app.send(
        app.http
            .get(app.url("/api/v1/me"))
            .bearer_auth(&admin)
            .header("origin", evil),
    );
    assert_eq!(r.header("access-control-allow-origin"), None);
    let r = preflight(&app, evil, "/api/v1/clients", "POST");
    assert_eq!(r.header("access-control-allow-origin"), None);
    assert!(r.status.is_client_error(), "{}", r.status);
    r.problem(r.status.as_u16());
    // A near miss is another origin.
    let r = preflight(
        &app,
        "http://app.riverside.example",
        "/api/v1/clients",
        "POST",
    );
    assert_eq!(r.header("access-control-allow-origin"), None);
}

#[test]
fn without_configured_origins_there_are_no_cors_headers() {
    let app = TestApp::spawn();
    let r = preflight(&app, APP_ORIGIN, "/api/v1/clients", "POST");
    assert!(
        r.headers
            .keys()
            .all(|k| !k.as_str().starts_with("access-control-")),
        "{:?}",
        r.headers
    );
    let r = app.send(
        app.http
            .get(app.url("/healthz"))
            .header("origin", APP_ORIGIN),
    );
    r.ok(200);
    assert!(r
        .headers
        .keys()
        .all(|k| !k.as_str().starts_with("access-control-")));
}

// ---- Signing keys ----

const OLD_SECRET: &str = "the-old-signing-secret-of-the-clinic-0123456789";

/// The JSON of a token's header and payload (unverified: the test reads its own token).
fn parts(token: &str) -> (Value, Value) {
    let decode = |part: &str| -> Value {
        URL_SAFE_NO_PAD
            .decode(part)
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or(Value::Null)
    };
    let mut it = token.split('.');
    let header = decode(it.next().unwrap_or_default());
    let payload = decode(it.next().unwrap_or_default());
    (header, payload)
}

/// Re-signs a real token's claims with `key`, naming `kid` (or none).
fn resign(token: &str, key: &str, kid: Option<String>) -> String {
    let (_, claims) = parts(token);
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = kid;
    encode(&header, &claims, &EncodingKey::from_secret(key.as_bytes()))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn kid(secret: &str) -> String {
    api::auth::tokens::key_id(secret.as_bytes())
}

#[track_caller]
fn refused(app: &TestApp, token: &str, why: &str) {
    let r = app.get(token, "/api/v1/me");
    assert_eq!(r.status.as_u16(), 401, "{why}: {}", r.text);
    r.problem(401);
    assert!(
        r.header("www-authenticate")
            .is_some_and(|h| h.starts_with("Bearer")),
        "{why}"
    );
}

/// Another instance of the server on the same database, with its own keys.
struct Instance {
    base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Instance {
    fn start(app: &TestApp, secret: &str, previous: &[&str]) -> Self {
        let mut config = api::Config::for_database(&app.db.url, secret);
        config.db_pool_size = 2;
        config.jwt_previous_secrets = previous.iter().map(|s| (*s).to_owned()).collect();
        let state = api::prepare(config, false).unwrap_or_else(|e| panic!("prepare: {e}"));
        let (addr, handle) = headway_tests::serve_on_thread(state);
        Instance {
            base: format!("http://{addr}"),
            handle,
        }
    }

    fn me(&self, app: &TestApp, token: &str) -> headway_tests::Reply {
        app.send(
            app.http
                .get(format!("{}/api/v1/me", self.base))
                .bearer_auth(token),
        )
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

#[test]
fn every_token_names_its_signing_key() {
    let app = TestApp::spawn();
    let token = app.login("olivia.ot@riverside.example").access;
    let (header, _) = parts(&token);
    assert_eq!(header["kid"], kid(SECRET));
    assert_eq!(header["alg"], "HS256");
    assert_eq!(header["typ"], "at+jwt");
    let service = app.service_token("");
    assert_eq!(parts(&service).0["kid"], kid(SECRET));
}

#[test]
fn a_previous_key_is_accepted_while_listed_and_refused_once_removed() {
    // Before the rotation: the clinic signs with the old key.
    let app = TestApp::spawn_with(|c| c.jwt_secret = Some(OLD_SECRET.to_owned()));
    let old_token = app.login("olivia.ot@riverside.example").access;
    assert_eq!(parts(&old_token).0["kid"], kid(OLD_SECRET));
    // During: the new key is current, the old one previous. Old tokens still work;
    // new ones are signed with the new key only.
    let rotating = Instance::start(&app, SECRET, &[OLD_SECRET]);
    rotating.me(&app, &old_token).ok(200);
    let new_token = app
        .send(
            app.http
                .post(format!("{}/api/v1/auth/token", rotating.base))
                .form(&[
                    ("grant_type", "password"),
                    ("username", "olivia.ot@riverside.example"),
                    ("password", headway_tests::PASSWORD),
                ]),
        )
        .ok(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert_eq!(parts(&new_token).0["kid"], kid(SECRET));
    rotating.me(&app, &new_token).ok(200);
    // After: the old key is removed. Old tokens are refused, new ones still work.
    let rotated = Instance::start(&app, SECRET, &[]);
    let r = rotated.me(&app, &old_token);
    r.problem(401);
    assert!(r
        .header("www-authenticate")
        .is_some_and(|h| h.starts_with("Bearer")));
    rotated.me(&app, &new_token).ok(200);
    // A token signed with the old key but claiming the new key's id is a bad signature.
    let r = rotated.me(&app, &resign(&old_token, OLD_SECRET, Some(kid(SECRET))));
    r.problem(401);
}

#[test]
fn a_token_without_a_known_kid_is_refused() {
    let app = TestApp::spawn();
    let token = app.login("olivia.ot@riverside.example").access;
    // The same claims, re-signed with the right key and its kid: accepted, so the
    // refusals below are about the kid alone.
    app.get(&resign(&token, SECRET, Some(kid(SECRET))), "/api/v1/me")
        .ok(200);
    refused(&app, &resign(&token, SECRET, None), "right key, no kid");
    refused(
        &app,
        &resign(&token, SECRET, Some("unknown-key".into())),
        "right key, unknown kid",
    );
    refused(
        &app,
        &resign(&token, OLD_SECRET, Some(kid(OLD_SECRET))),
        "a key the server never held",
    );
}
