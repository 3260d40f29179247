//! Several stateless instances over one database, as deployed: two real `headway`
//! server processes (the binary itself, not a server in this test's process) share the
//! test's database. A token one issues opens the other; an event committed through one
//! reaches a stream on the other (PostgreSQL LISTEN/NOTIFY; on SQLite the log read once
//! a second), in both directions.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    thread,
    time::Duration,
};

use headway_tests::{TestApp, SECRET};
use serde_json::json;

/// A `headway serve` process, killed when dropped.
struct Process {
    child: Child,
    base: String,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The `headway` binary: `HEADWAY_BIN`, or beside this test's own (`make test` builds it).
fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HEADWAY_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .unwrap_or_else(|| panic!("no target directory above {}", exe.display()));
    let bin = dir.join("headway");
    assert!(
        bin.exists(),
        "{} is missing: build it first (`cargo build -p headway-api --bin headway`; `make test` does)",
        bin.display()
    );
    bin
}

fn serve(database_url: &str) -> Process {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(binary())
        .arg("serve")
        .env("DATABASE_URL", database_url)
        .env("HEADWAY_LISTEN", format!("127.0.0.1:{port}"))
        .env("HEADWAY_JWT_SECRET", SECRET)
        .env("HEADWAY_DB_POOL_SIZE", "4")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary().display()));
    let process = Process {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::blocking::Client::new();
    for _ in 0..200 {
        let up = http
            .get(format!("{}/healthz", process.base))
            .send()
            .is_ok_and(|r| r.status().is_success());
        if up {
            return process;
        }
        thread::sleep(Duration::from_millis(50));
    }
    panic!("headway serve did not come up on {}", process.base);
}

#[test]
fn two_server_processes_on_one_database_hear_each_others_commits() {
    // This test's own server seeds the demo clinic; the two processes share its database.
    let app = TestApp::spawn();
    let sam = app.client_id("Samuel Osei");
    let (a, b) = (serve(&app.db.url), serve(&app.db.url));
    // Signed in through process A; the token opens process B (stateless instances).
    let token = app.send(
        app.http
            .post(format!("{}/api/v1/auth/token", a.base))
            .form(&[
                ("grant_type", "password"),
                ("username", "olivia.ot@riverside.example"),
                ("password", headway_tests::PASSWORD),
            ]),
    );
    let token = token.ok(200)["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let on_a = app.events_at(&a.base, Some(&token), "", None);
    let on_b = app.events_at(&b.base, Some(&token), "", None);
    assert_eq!((on_a.status.as_u16(), on_b.status.as_u16()), (200, 200));
    let episode = |base: &str| {
        let r = app.send(
            app.http
                .post(format!("{base}/api/v1/clients/{sam}/episodes"))
                .bearer_auth(&token)
                .json(&json!({"reason_for_referral": "Hand injury"})),
        );
        r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
    };
    for (writer, stream) in [(&a, &on_b), (&b, &on_a)] {
        let written = episode(&writer.base);
        let heard = stream.until(15, |e| e.data["resource_id"] == written.as_str());
        assert!(
            heard
                .iter()
                .any(|e| e.data["resource_id"] == written.as_str()),
            "a commit through {} never reached the other process: {heard:?}",
            writer.base
        );
    }
}
