//! Sign-in throttling per (login, address) and per address, trusted proxies, and the
//! bounded password-hashing pool under a flood.
//!
//! Distinct client addresses are real: the test client binds to 127.0.0.2 or 127.0.0.3
//! (all of 127/8 is loopback on Linux), so the server sees a different TCP peer.

use std::{
    net::IpAddr,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Barrier,
    },
    thread,
};

use headway_tests::{Reply, TestApp, PASSWORD};
use reqwest::blocking::Client;
use serde_json::json;

const A: &str = "127.0.0.2";
const B: &str = "127.0.0.3";

/// An HTTP client whose connections come from `address`.
fn client_from(address: &str) -> Client {
    let ip: IpAddr = address.parse().unwrap_or_else(|e| panic!("{e}"));
    Client::builder()
        .local_address(ip)
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A password grant through `http`, with an optional X-Forwarded-For header.
fn sign_in(
    app: &TestApp,
    http: &Client,
    login: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> Reply {
    let mut req = http.post(app.url("/api/v1/auth/token")).form(&[
        ("grant_type", "password"),
        ("username", login),
        ("password", password),
    ]);
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    app.send(req)
}

#[track_caller]
fn assert_locked(r: &Reply) {
    r.problem(429);
    let retry: i64 = r
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    assert!(retry > 0 && retry <= 900, "Retry-After {retry}");
}

#[test]
fn a_locked_login_is_locked_only_for_the_address_that_failed() {
    let app = TestApp::spawn_with(|c| c.login_max_failures = 3);
    let (a, b) = (client_from(A), client_from(B));
    for _ in 0..2 {
        sign_in(&app, &a, "jun@client.example", "wrong-password!", None).problem(400);
    }
    assert_locked(&sign_in(
        &app,
        &a,
        "jun@client.example",
        "wrong-password!",
        None,
    ));
    // From A, even the right password waits now.
    assert_locked(&sign_in(&app, &a, "jun@client.example", PASSWORD, None));
    // Jun, from elsewhere, signs in: knowing a login is not enough to lock its owner out.
    sign_in(&app, &b, "jun@client.example", PASSWORD, None).ok(200);
    // And address A is not locked for other people.
    sign_in(&app, &a, "sam@client.example", PASSWORD, None).ok(200);
    // Jun's success from B did not unlock A.
    assert_locked(&sign_in(&app, &a, "jun@client.example", PASSWORD, None));
}

#[test]
fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    let app = TestApp::spawn_with(|c| {
        c.login_max_failures = 3;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap_or_else(|e| panic!("{e}"))];
    });
    // The test client's peer address is 127.0.0.1: the trusted proxy.
    let proxy = app.http.clone();
    for _ in 0..2 {
        sign_in(
            &app,
            &proxy,
            "jun@client.example",
            "wrong-password!",
            Some("203.0.113.7"),
        )
        .problem(400);
    }
    assert_locked(&sign_in(
        &app,
        &proxy,
        "jun@client.example",
        "wrong-password!",
        Some("203.0.113.7"),
    ));
    // What the client wrote to the left proves nothing: the rightmost address that is
    // not a trusted proxy is the client, still 203.0.113.7.
    assert_locked(&sign_in(
        &app,
        &proxy,
        "jun@client.example",
        PASSWORD,
        Some("198.51.100.1, 203.0.113.7"),
    ));
    assert_locked(&sign_in(
        &app,
        &proxy,
        "jun@client.example",
        PASSWORD,
        Some("203.0.113.7, 127.0.0.1"),
    ));
    // Jun at another address behind the same proxy signs in.
    sign_in(
        &app,
        &proxy,
        "jun@client.example",
        PASSWORD,
        Some("203.0.113.8"),
    )
    .ok(200);
    // The audit trail names the client's address, not the proxy's.
    let admin = app.login("admin@riverside.example").access;
    let jun = app.user_id("jun@client.example");
    let events = app.get(
        &admin,
        &format!("/api/v1/audit-events?actor_id={jun}&action=auth.login&limit=100"),
    );
    let sources: Vec<(&str, &str)> = events.ok(200)["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e["outcome"].as_str()?, e["source_ip"].as_str()?)))
        .collect();
    assert!(sources.contains(&("failed", "203.0.113.7")), "{sources:?}");
    assert!(sources.contains(&("success", "203.0.113.8")), "{sources:?}");
    assert!(
        !sources.iter().any(|(_, ip)| *ip == "127.0.0.1"),
        "{sources:?}"
    );
}

#[test]
fn forwarded_for_from_an_untrusted_peer_is_ignored() {
    let app = TestApp::spawn_with(|c| {
        c.login_max_failures = 3;
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap_or_else(|e| panic!("{e}"))];
    });
    let (a, b) = (client_from(A), client_from(B));
    // A claims a new address on every try; it is not a proxy, so the header is ignored
    // and all three failures count against A.
    for (n, claimed) in ["203.0.113.1", "203.0.113.2"].iter().enumerate() {
        let r = sign_in(
            &app,
            &a,
            "jun@client.example",
            "wrong-password!",
            Some(claimed),
        );
        assert_eq!(r.status.as_u16(), 400, "attempt {n}: {}", r.text);
    }
    assert_locked(&sign_in(
        &app,
        &a,
        "jun@client.example",
        "wrong-password!",
        Some("203.0.113.3"),
    ));
    assert_locked(&sign_in(
        &app,
        &a,
        "jun@client.example",
        PASSWORD,
        Some("203.0.113.9"),
    ));
    sign_in(&app, &b, "jun@client.example", PASSWORD, None).ok(200);
}

#[test]
fn spraying_many_logins_from_one_address_is_throttled() {
    let app = TestApp::spawn_with(|c| {
        c.login_max_failures = 5;
        c.address_max_failures = 4;
    });
    let (a, b) = (client_from(A), client_from(B));
    sign_in(&app, &a, "jun@client.example", "wrong-password!", None).problem(400);
    sign_in(
        &app,
        &a,
        "nobody-1@unknown.example",
        "wrong-password!",
        None,
    )
    .problem(400);
    // Signing in to one's own account does not wipe the address's count.
    sign_in(&app, &a, "sam@client.example", PASSWORD, None).ok(200);
    sign_in(&app, &a, "sam@client.example", "wrong-password!", None).problem(400);
    // The fourth failure, each for a different login, locks the address.
    assert_locked(&sign_in(
        &app,
        &a,
        "nobody-2@unknown.example",
        "wrong-password!",
        None,
    ));
    // Nobody signs in from A now, whatever the login or password...
    assert_locked(&sign_in(
        &app,
        &a,
        "olivia.ot@riverside.example",
        PASSWORD,
        None,
    ));
    // ...and everyone else is unaffected.
    sign_in(&app, &b, "olivia.ot@riverside.example", PASSWORD, None).ok(200);
    sign_in(&app, &b, "jun@client.example", PASSWORD, None).ok(200);
}

/// Failed sign-ins of one account, as the admin sees them in the audit trail.
fn failed_sign_ins(app: &TestApp, admin: &str, user_id: &str) -> usize {
    let mut count = 0;
    let mut after = String::new();
    loop {
        let r = app.get(
            admin,
            &format!(
                "/api/v1/audit-events?actor_id={user_id}&action=auth.login&outcome=failed&limit=100{after}"
            ),
        );
        let body = r.ok(200);
        count += body["items"].as_array().map_or(0, Vec::len);
        match body["next_cursor"].as_str() {
            Some(c) => after = format!("&after={c}"),
            None => return count,
        }
    }
}

#[test]
fn a_flood_beyond_the_hashing_pool_is_refused_and_the_server_stays_up() {
    // One hashing thread and one waiting place: the third sign-in at once is refused.
    let app = TestApp::spawn_with(|c| {
        c.hash_threads = 1;
        c.hash_queue = 1;
        c.login_max_failures = 1_000_000;
        c.address_max_failures = 1_000_000;
    });
    const PARALLEL: usize = 24;
    let (mut refused, mut failed, mut healthz) = (0, 0, 0);
    // Rounds until the pool has been seen full: how many arrive together is up to the
    // scheduler, so the test waits for the event rather than for a time.
    for _round in 0..20 {
        let barrier = Arc::new(Barrier::new(PARALLEL));
        let finished = Arc::new(AtomicUsize::new(0));
        let flood: Vec<_> = (0..PARALLEL)
            .map(|_| {
                let (barrier, finished) = (Arc::clone(&barrier), Arc::clone(&finished));
                let (http, url) = (app.http.clone(), app.url("/api/v1/auth/token"));
                thread::spawn(move || {
                    barrier.wait();
                    let r = http
                        .post(url)
                        .form(&[
                            ("grant_type", "password"),
                            ("username", "jun@client.example"),
                            ("password", "wrong-password!"),
                        ])
                        .send()
                        .unwrap_or_else(|e| panic!("{e}"));
                    let status = r.status().as_u16();
                    let retry = r
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<i64>().ok());
                    let content_type = r
                        .headers()
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    let body: serde_json::Value = r.json().unwrap_or_default();
                    finished.fetch_add(1, Ordering::SeqCst);
                    (status, retry, content_type, body)
                })
            })
            .collect();
        // /healthz answers while the flood is under way.
        loop {
            app.send(app.http.get(app.url("/healthz"))).ok(200);
            healthz += 1;
            if finished.load(Ordering::SeqCst) == PARALLEL {
                break;
            }
        }
        for t in flood {
            let (status, retry, content_type, body) =
                t.join().unwrap_or_else(|_| panic!("flood thread panicked"));
            match status {
                400 => failed += 1,
                503 => {
                    refused += 1;
                    assert!(retry.is_some_and(|s| s >= 1), "Retry-After {retry:?}");
                    assert_eq!(content_type.as_deref(), Some("application/problem+json"));
                    assert_eq!(body["status"], 503);
                    assert_eq!(body["type"], "urn:headway:problem:busy");
                }
                other => panic!("a flooded sign-in answered {other}: {body}"),
            }
        }
        if refused > 0 {
            break;
        }
    }
    assert!(refused > 0, "no sign-in was refused ({failed} failed)");
    assert!(healthz > 0);
    // Afterwards a normal sign-in works...
    app.login("jun@client.example");
    // ...and only the attempts really checked were counted and audited: a refused one
    // did nothing at all.
    let admin = app.login("admin@riverside.example").access;
    let jun = app.user_id("jun@client.example");
    assert_eq!(failed_sign_ins(&app, &admin, &jun), failed);
}

/// Invites a new therapist; returns the e-mail and the invitation token.
fn invite(app: &TestApp, admin: &str, n: usize) -> (String, String) {
    let email = format!("tess{n}@riverside.example");
    let created = app.post(
        admin,
        "/api/v1/users",
        &json!({"role": "therapist", "display_name": "Tess Flood", "email": email, "discipline": "occupational-therapy"}),
    );
    let token = created.ok(201)["invitation"]["token"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (email, token)
}

fn accept(app: &TestApp, token: &str, password: &str) -> Reply {
    app.send(
        app.http
            .post(app.url("/api/v1/invitations/accept"))
            .json(&json!({"token": token, "password": password})),
    )
}

#[test]
fn a_refused_invitation_acceptance_leaves_the_invitation_usable() {
    // One hashing thread, no waiting place: while sign-ins keep it busy, setting a
    // password is refused.
    let app = TestApp::spawn_with(|c| {
        c.hash_threads = 1;
        c.hash_queue = 0;
        c.login_max_failures = 1_000_000;
        c.address_max_failures = 1_000_000;
    });
    let admin = app.login("admin@riverside.example").access;
    let stop = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let (http, url) = (app.http.clone(), app.url("/api/v1/auth/token"));
            thread::spawn(move || {
                while stop.load(Ordering::SeqCst) == 0 {
                    let r = http
                        .post(&url)
                        .form(&[
                            ("grant_type", "password"),
                            ("username", "nobody@unknown.example"),
                            ("password", "wrong-password!"),
                        ])
                        .send()
                        .unwrap_or_else(|e| panic!("{e}"));
                    let status = r.status().as_u16();
                    assert!(matches!(status, 400 | 503), "{status}");
                }
            })
        })
        .collect();
    // Fresh invitations until one acceptance is refused (an accepted one is spent, so
    // each try needs its own).
    let mut refused = None;
    for n in 0..200 {
        let (email, token) = invite(&app, &admin, n);
        let r = accept(&app, &token, "a long enough password");
        if r.status.as_u16() == 503 {
            r.problem(503);
            assert!(r.header("retry-after").is_some());
            refused = Some((email, token));
            break;
        }
        r.ok(200);
    }
    stop.store(1, Ordering::SeqCst);
    for t in load {
        t.join().unwrap_or_else(|_| panic!("load thread panicked"));
    }
    let (email, token) = refused.unwrap_or_else(|| panic!("no acceptance was refused"));
    // Nothing was spent: the same invitation sets the password once the pool is free.
    // (The hashing thread frees its place just after its last answer, so a request that
    // follows at once may still be told to wait: it does, as an app would.)
    let r = app.patiently(|| accept(&app, &token, "tess's own long password"));
    r.ok(200);
    app.login_with(&email, "tess's own long password");
}
