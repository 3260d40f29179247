//! The black-box test harness: the real server, on a random port, against a real
//! database — a temporary SQLite file, or (with `HEADWAY_TEST_PG` set) a fresh schema
//! in a real PostgreSQL. Each test gets its own server and data.

use std::{
    net::{SocketAddr, TcpListener},
    sync::mpsc,
    thread,
};

use diesel::{connection::SimpleConnection, Connection, PgConnection};
use reqwest::{
    blocking::{Client, RequestBuilder, Response},
    header::HeaderMap,
    Method, StatusCode,
};
use serde_json::Value;

pub const SECRET: &str = "test-signing-secret-that-is-long-enough-0123456789";
pub const PASSWORD: &str = api::demo::DEMO_PASSWORD;

/// A database for one test.
pub struct TestDb {
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    pub fn new() -> Self {
        match std::env::var("HEADWAY_TEST_PG")
            .ok()
            .filter(|v| !v.is_empty())
        {
            Some(base) => {
                // One schema per test in a shared database: cheap, and no cluster-wide lock.
                let schema = format!("t_{}", uuid::Uuid::now_v7().simple());
                let mut conn = PgConnection::establish(&base)
                    .unwrap_or_else(|e| panic!("cannot reach test PostgreSQL: {e}"));
                conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
                    .unwrap_or_else(|e| panic!("{e}"));
                let sep = if base.contains('?') { '&' } else { '?' };
                TestDb {
                    url: format!("{base}{sep}options=-csearch_path%3D{schema}"),
                    _dir: None,
                }
            }
            None => {
                let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
                let url = format!("sqlite://{}", dir.path().join("headway.db").display());
                TestDb {
                    url,
                    _dir: Some(dir),
                }
            }
        }
    }

    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }
}

impl Default for TestDb {
    fn default() -> Self {
        Self::new()
    }
}

/// A running server with the demo clinic seeded.
pub struct TestApp {
    pub base: String,
    pub http: Client,
    pub service_client_id: String,
    pub service_secret: String,
    pub db: TestDb,
    pub pool: persistence::db::Pool,
    /// The server's own door to the data (seeding, a second clinic).
    pub clinic: persistence::Clinic,
    handle: actix_web::dev::ServerHandle,
}

/// A response, read once: status, headers, JSON body (Null when not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    fn from(r: Response) -> Self {
        let status = r.status();
        let headers = r.headers().clone();
        // A live event stream never ends: its answer is its status and headers (the
        // `events` tests read streams themselves).
        let streaming = headers
            .get("content-type")
            .is_some_and(|v| v.as_bytes().starts_with(b"text/event-stream"));
        let text = if streaming {
            String::from("(event stream)")
        } else {
            r.text().unwrap_or_default()
        };
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts an RFC 9457 problem with this status, and returns it.
    #[track_caller]
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text
        );
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "{}",
            self.text
        );
        assert_eq!(self.body["status"].as_u64(), Some(u64::from(status)));
        assert!(
            self.body["type"]
                .as_str()
                .is_some_and(|t| t.starts_with("urn:headway:problem:")),
            "{}",
            self.text
        );
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
        &self.body
    }

    /// Asserts a refusal with this status in the terms of the door it came through:
    /// a FHIR OperationOutcome under `/fhir/` (every issue an error with a message),
    /// otherwise an RFC 9457 problem.
    #[track_caller]
    pub fn refusal(&self, status: u16) -> &Value {
        let fhir = self
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/fhir+json"));
        if !fhir {
            return self.problem(status);
        }
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text
        );
        assert_eq!(
            self.body["resourceType"], "OperationOutcome",
            "{}",
            self.text
        );
        let issues = self.body["issue"].as_array().cloned().unwrap_or_default();
        assert!(!issues.is_empty(), "{}", self.text);
        for issue in &issues {
            assert_eq!(issue["severity"], "error", "{}", self.text);
            assert!(issue["code"].is_string(), "{}", self.text);
            assert!(
                issue["diagnostics"].as_str().is_some_and(|d| !d.is_empty()),
                "{}",
                self.text
            );
        }
        &self.body
    }

    /// Asserts a status and returns the body.
    #[track_caller]
    pub fn ok(&self, status: u16) -> &Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "expected {status}, got {}: {}",
            self.status,
            self.text
        );
        &self.body
    }

    /// The fields named by a validation problem.
    pub fn fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A signed-in person.
#[derive(Debug, Clone)]
pub struct Session {
    pub access: String,
    pub refresh: Option<String>,
}

/// The POSTs that update a record in place (they need If-Match).
pub const UPDATE_ACTIONS: [&str; 5] = [
    "/status",
    "/revisions",
    "/agreement",
    "/corrections",
    "/signature",
];

/// Whether a PATCH at `path` takes a JSON Merge Patch (a client, a goal).
pub fn merge_patched(path: &str) -> bool {
    let parent = path.rsplit('/').nth(1).unwrap_or_default();
    parent == "clients" || parent == "goals"
}

impl TestApp {
    /// Starts a server on a fresh database with the demo clinic.
    pub fn spawn() -> Self {
        Self::spawn_with(|_| {})
    }

    pub fn spawn_with(adjust: impl FnOnce(&mut api::Config)) -> Self {
        Self::spawn_on(TestDb::new(), adjust)
    }

    /// Stops this server and starts a fresh one on the same database (a restart):
    /// nothing carries over but what was stored.
    pub fn restart(mut self) -> Self {
        let db = TestDb {
            url: self.db.url.clone(),
            _dir: self.db._dir.take(),
        };
        let service = (self.service_client_id.clone(), self.service_secret.clone());
        actix_web::rt::System::new().block_on(self.handle.stop(true));
        drop(self);
        let mut app = Self::spawn_on(db, |_| {});
        (app.service_client_id, app.service_secret) = service;
        app
    }

    fn spawn_on(db: TestDb, adjust: impl FnOnce(&mut api::Config)) -> Self {
        let mut config = api::Config::for_database(&db.url, SECRET);
        config.db_pool_size = 4;
        adjust(&mut config);
        let state = api::prepare(config, false).unwrap_or_else(|e| panic!("prepare: {e}"));
        // The tests' own connections, to look at (and tamper with) what is stored.
        let backend = persistence::Backend::from_url(&db.url).unwrap_or_else(|e| panic!("{e}"));
        let pool = persistence::db::open_pool(&backend, 2).unwrap_or_else(|e| panic!("{e}"));
        let clinic = state.clinic.clone();
        let seeded = api::demo::seed_if_empty(&clinic)
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|s| (s.service_client_id, s.service_secret))
            .unwrap_or_default();
        let (addr, handle) = serve_on_thread(state);
        TestApp {
            base: format!("http://{addr}"),
            http: Client::builder().build().unwrap_or_else(|e| panic!("{e}")),
            service_client_id: seeded.0,
            service_secret: seeded.1,
            db,
            pool,
            clinic,
            handle,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn send(&self, req: RequestBuilder) -> Reply {
        Reply::from(req.send().unwrap_or_else(|e| panic!("request failed: {e}")))
    }

    pub fn get(&self, token: &str, path: &str) -> Reply {
        self.send(self.http.get(self.url(path)).bearer_auth(token))
    }

    pub fn delete(&self, token: &str, path: &str) -> Reply {
        self.send(self.http.delete(self.url(path)).bearer_auth(token))
    }

    /// A POST; one that updates a record in place (status, revisions, agreement,
    /// corrections) goes through [`TestApp::update`], with the record's current ETag.
    pub fn post(&self, token: &str, path: &str, body: &Value) -> Reply {
        if UPDATE_ACTIONS.iter().any(|end| path.ends_with(end)) {
            return self.update(Method::POST, token, path, body);
        }
        self.send(self.http.post(self.url(path)).bearer_auth(token).json(body))
    }

    /// A PUT, with the record's current ETag ([`TestApp::update`]).
    pub fn put(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.update(Method::PUT, token, path, body)
    }

    /// A PATCH, with the record's current ETag ([`TestApp::update`]).
    pub fn patch(&self, token: &str, path: &str, body: &Value) -> Reply {
        self.update(Method::PATCH, token, path, body)
    }

    /// An update as an app makes one: it reads the record, then sends `If-Match`
    /// with the ETag that read showed ([`TestApp::etag_of`]).
    pub fn update(&self, method: Method, token: &str, path: &str, body: &Value) -> Reply {
        let tag = self.etag_of(token, path);
        self.update_at(method, token, path, &tag, body)
    }

    /// An update with the ETag the test already holds (no read first: for tests that
    /// count what each request leaves behind).
    pub fn update_at(
        &self,
        method: Method,
        token: &str,
        path: &str,
        tag: &str,
        body: &Value,
    ) -> Reply {
        let mut req = self
            .http
            .request(method.clone(), self.url(path))
            .bearer_auth(token)
            .header("If-Match", tag);
        req = if method == Method::PATCH && merge_patched(path) {
            req.header("content-type", "application/merge-patch+json")
                .body(body.to_string())
        } else {
            req.json(body)
        };
        self.send(req)
    }

    /// The ETag of the record an update at `path` changes, as `token` reads it: the
    /// record itself for a PUT or PATCH, the goal or measurement for a POST to its
    /// `/status`, `/revisions`, `/agreement` or `/corrections`. `*` where there is
    /// no read of one record (a measure's primary source) or the caller may not read
    /// it (the update then answers 403 or 404 as it would anyway).
    pub fn etag_of(&self, token: &str, path: &str) -> String {
        let record = UPDATE_ACTIONS
            .iter()
            .find_map(|end| path.strip_suffix(end))
            .unwrap_or(path);
        let last = record.rsplit('/').next().unwrap_or_default();
        if last.len() != 36 || last.matches('-').count() != 4 {
            return "*".to_owned();
        }
        let r = self.get(token, record);
        match r.header("etag") {
            Some(tag) if r.status == 200 => tag.to_owned(),
            _ => "*".to_owned(),
        }
    }

    /// Sends a request as an app does when the server is busy: on 503 it waits as
    /// `Retry-After` says (100 ms when it says nothing) and tries again, a bounded
    /// number of times.
    pub fn patiently(&self, send: impl Fn() -> Reply) -> Reply {
        let mut r = send();
        for _ in 0..50 {
            if r.status.as_u16() != 503 {
                break;
            }
            let wait = r
                .header("retry-after")
                .and_then(|s| s.parse::<u64>().ok())
                .map_or(100, |s| s * 1000);
            thread::sleep(std::time::Duration::from_millis(wait));
            r = send();
        }
        r
    }

    /// The token endpoint, form-encoded.
    pub fn token(&self, form: &[(&str, &str)]) -> Reply {
        self.send(self.http.post(self.url("/api/v1/auth/token")).form(form))
    }

    /// Signs in with the password grant; panics if refused.
    #[track_caller]
    pub fn login(&self, email: &str) -> Session {
        self.login_with(email, PASSWORD)
    }

    #[track_caller]
    pub fn login_with(&self, email: &str, password: &str) -> Session {
        let r = self.token(&[
            ("grant_type", "password"),
            ("username", email),
            ("password", password),
        ]);
        let body = r.ok(200);
        Session {
            access: body["access_token"].as_str().unwrap_or_default().to_owned(),
            refresh: body["refresh_token"].as_str().map(str::to_owned),
        }
    }

    /// A service-account token with the given scope ("" for all it holds).
    #[track_caller]
    pub fn service_token(&self, scope: &str) -> String {
        let r = self.token(&[
            ("grant_type", "client_credentials"),
            ("client_id", &self.service_client_id),
            ("client_secret", &self.service_secret),
            ("scope", scope),
        ]);
        r.ok(200)["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The id of the demo client with this name, as the admin sees it.
    #[track_caller]
    pub fn client_id(&self, name: &str) -> String {
        let admin = self.login("admin@riverside.example");
        let list = self.get(&admin.access, "/api/v1/clients?limit=100");
        list.ok(200)["items"]
            .as_array()
            .and_then(|items| items.iter().find(|c| c["name"] == name))
            .and_then(|c| c["id"].as_str())
            .unwrap_or_else(|| panic!("no client {name}"))
            .to_owned()
    }

    /// The id of the demo user with this e-mail, as the admin sees it.
    #[track_caller]
    pub fn user_id(&self, email: &str) -> String {
        let admin = self.login("admin@riverside.example");
        let list = self.get(&admin.access, "/api/v1/users?limit=100");
        list.ok(200)["items"]
            .as_array()
            .and_then(|items| items.iter().find(|u| u["email"] == email))
            .and_then(|u| u["id"].as_str())
            .unwrap_or_else(|| panic!("no user {email}"))
            .to_owned()
    }

    /// Audit events that touch a client, as an admin sees them in the audit trail.
    #[track_caller]
    pub fn audit_for_client(&self, admin: &str, client_id: &str) -> Vec<Value> {
        let mut events = Vec::new();
        let mut after = String::new();
        loop {
            let r = self.get(
                admin,
                &format!("/api/v1/audit-events?client_id={client_id}&limit=100{after}"),
            );
            let body = r.ok(200);
            events.extend(body["items"].as_array().cloned().unwrap_or_default());
            match body["next_cursor"].as_str() {
                Some(c) => after = format!("&after={c}"),
                None => return events,
            }
        }
    }

    /// A second clinic with its own admin (as `headway create-org` makes one).
    pub fn second_clinic(&self, admin_email: &str) -> String {
        api::demo::create_organization(
            &self.clinic,
            "Lakeside Clinic",
            admin_email,
            "Lee Admin",
            PASSWORD,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        admin_email.to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sends the stop command now; the server thread winds down on its own.
        drop(self.handle.stop(false));
    }
}

/// Another server on the same database: its own pools, writer and event hub, sharing
/// nothing with the first but the data (as a second instance behind a load balancer,
/// or the same server after a restart).
pub struct Instance {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
}

impl Instance {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// One server-sent event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub id: Option<String>,
    pub event: String,
    pub data: Value,
}

/// An open event stream, read on its own thread.
pub struct EventStream {
    pub status: StatusCode,
    pub body: Value,
    events: mpsc::Receiver<SseEvent>,
    /// Heartbeat comments seen so far.
    pub comments: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl EventStream {
    /// The next event within `secs` seconds, if any (liveness, not speed: generous).
    pub fn next_within(&self, secs: u64) -> Option<SseEvent> {
        self.events
            .recv_timeout(std::time::Duration::from_secs(secs))
            .ok()
    }

    /// Events until one matches `stop` (included), or `secs` pass.
    pub fn until(&self, secs: u64, stop: impl Fn(&SseEvent) -> bool) -> Vec<SseEvent> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
        let mut seen = Vec::new();
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.events.recv_timeout(left) {
                Ok(event) => {
                    let done = stop(&event);
                    seen.push(event);
                    if done {
                        break;
                    }
                }
                Err(_) => break,
            }
        }
        seen
    }

    /// Every event that arrives within `secs` seconds.
    pub fn for_secs(&self, secs: u64) -> Vec<SseEvent> {
        self.until(secs, |_| false)
    }
}

impl TestApp {
    /// Starts another server on this test's database.
    pub fn start_instance(&self, adjust: impl FnOnce(&mut api::Config)) -> Instance {
        let mut config = api::Config::for_database(&self.db.url, SECRET);
        config.db_pool_size = 4;
        adjust(&mut config);
        let state = api::prepare(config, false).unwrap_or_else(|e| panic!("prepare: {e}"));
        let (addr, handle) = serve_on_thread(state);
        Instance {
            base: format!("http://{addr}"),
            handle,
        }
    }

    /// Stops this test's first server (its database stays).
    pub fn stop(&self) {
        actix_web::rt::System::new().block_on(self.handle.stop(false));
    }

    /// Opens `GET {base}/api/v1/events{query}` with a bearer token (or none, for a
    /// ticket in the query) and an optional Last-Event-ID.
    pub fn events_at(
        &self,
        base: &str,
        token: Option<&str>,
        query: &str,
        last_event_id: Option<&str>,
    ) -> EventStream {
        use std::io::BufRead;
        let mut req = self
            .http
            .get(format!("{base}/api/v1/events{query}"))
            .timeout(std::time::Duration::from_secs(60));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(id) = last_event_id {
            req = req.header("Last-Event-ID", id);
        }
        let response = req.send().unwrap_or_else(|e| panic!("request failed: {e}"));
        let status = response.status();
        let (tx, events) = mpsc::channel();
        let comments = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        if !status.is_success() {
            let body = response.json().unwrap_or(Value::Null);
            return EventStream {
                status,
                body,
                events,
                comments,
            };
        }
        let seen = comments.clone();
        thread::spawn(move || {
            let reader = std::io::BufReader::new(response);
            let (mut id, mut event, mut data) = (None, String::from("message"), String::new());
            for line in reader.lines() {
                let Ok(line) = line else { break };
                if line.is_empty() {
                    if !data.is_empty() {
                        let parsed = serde_json::from_str(&data).unwrap_or(Value::Null);
                        let sse = SseEvent {
                            id: id.take(),
                            event: std::mem::replace(&mut event, "message".into()),
                            data: parsed,
                        };
                        if tx.send(sse).is_err() {
                            break;
                        }
                    }
                    data.clear();
                } else if line.starts_with(':') {
                    seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                } else if let Some((field, value)) = line.split_once(':') {
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "id" => id = Some(value.to_owned()),
                        "event" => event = value.to_owned(),
                        "data" => data.push_str(value),
                        _ => {}
                    }
                }
            }
        });
        EventStream {
            status,
            body: Value::Null,
            events,
            comments,
        }
    }

    /// The same, on this test's first server.
    pub fn events(&self, token: &str, query: &str, last_event_id: Option<&str>) -> EventStream {
        self.events_at(&self.base, Some(token), query, last_event_id)
    }
}

/// Serves `state` on a random loopback port, on a thread of its own.
pub fn serve_on_thread(state: api::AppState) -> (SocketAddr, actix_web::dev::ServerHandle) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let addr: SocketAddr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = api::serve(state, listener, Some(1)).unwrap_or_else(|e| panic!("{e}"));
            let _ = tx.send(server.handle());
            let _ = server.await;
        });
    });
    let handle = rx
        .recv()
        .unwrap_or_else(|e| panic!("server did not start: {e}"));
    (addr, handle)
}
