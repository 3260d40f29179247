//! Offline delta sync (issue #9): a copy that applies every page of `GET /api/v1/sync`
//! holds exactly what a fresh snapshot gives, for every role, also while many writers
//! commit at once; lost access removes what the caller may no longer see; expired or
//! malformed cursors are problems, never a wrong copy.

use std::{
    collections::BTreeMap,
    sync::{Arc, Barrier},
    thread,
};

use headway_tests::TestApp;
use serde_json::{json, Value};

/// An app's local store: (type, id) -> (client id, record).
#[derive(Debug, Default, Clone, PartialEq)]
struct Copy {
    records: BTreeMap<(String, String), (String, Value)>,
    cursor: Option<String>,
}

impl Copy {
    /// Applies one page, in order, as an app would.
    fn apply(&mut self, page: &Value) {
        for change in page["changes"].as_array().into_iter().flatten() {
            let kind = change["type"].as_str().unwrap_or_default().to_owned();
            let id = change["id"].as_str().unwrap_or_default().to_owned();
            let client = change["client_id"].as_str().unwrap_or_default().to_owned();
            match change["op"].as_str() {
                Some("upsert") => {
                    self.records
                        .insert((kind, id), (client, change["data"].clone()));
                }
                Some("remove") if kind == "client" => {
                    self.records.retain(|_, (c, _)| *c != client);
                }
                Some("remove") => {
                    self.records.remove(&(kind, id));
                }
                other => panic!("unknown op {other:?}: {change}"),
            }
        }
        self.cursor = page["cursor"].as_str().map(str::to_owned);
    }

    fn has(&self, kind: &str, id: &str) -> bool {
        self.records.contains_key(&(kind.to_owned(), id.to_owned()))
    }

    fn of_kind(&self, kind: &str) -> usize {
        self.records.keys().filter(|(k, _)| k == kind).count()
    }
}

fn page(app: &TestApp, token: &str, cursor: Option<&str>, limit: u32) -> Value {
    let path = match cursor {
        Some(c) => format!("/api/v1/sync?cursor={c}&limit={limit}"),
        None => format!("/api/v1/sync?limit={limit}"),
    };
    app.get(token, &path).ok(200).clone()
}

/// Pages until the copy is in step (has_more false), from its cursor.
fn catch_up(app: &TestApp, token: &str, copy: &mut Copy, limit: u32) {
    for _ in 0..10_000 {
        let p = page(app, token, copy.cursor.as_deref(), limit);
        copy.apply(&p);
        if p["has_more"] == false {
            return;
        }
    }
    panic!("sync never caught up");
}

/// A fresh full snapshot, taken in pages.
fn snapshot(app: &TestApp, token: &str, limit: u32) -> Copy {
    let mut copy = Copy::default();
    catch_up(app, token, &mut copy, limit);
    copy
}

fn assert_in_step(app: &TestApp, who: &str, token: &str, copy: &Copy) {
    let fresh = snapshot(app, token, 50);
    let (mine, theirs) = (&copy.records, &fresh.records);
    for key in mine.keys().chain(theirs.keys()) {
        assert_eq!(
            mine.get(key),
            theirs.get(key),
            "{who}: the kept copy and a fresh snapshot differ at {key:?}"
        );
    }
}

fn created(r: &headway_tests::Reply) -> String {
    r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
}

fn open_episode(app: &TestApp, token: &str, client: &str) -> String {
    created(&app.post(
        token,
        &format!("/api/v1/clients/{client}/episodes"),
        &json!({"reason_for_referral": "Hand injury"}),
    ))
}

fn record(app: &TestApp, token: &str, client: &str, episode: &str, value: i64) -> String {
    created(&app.post(
        token,
        &format!("/api/v1/clients/{client}/episodes/{episode}/measurements"),
        &json!({"measure_code": "nrs", "values": {"value": value}}),
    ))
}

#[test]
fn a_copy_kept_by_applying_every_page_is_what_a_fresh_snapshot_gives_for_every_role() {
    let app = TestApp::spawn();
    let (maria, sam) = (app.client_id("Maria Lopez"), app.client_id("Samuel Osei"));
    let olivia = app.login("olivia.ot@riverside.example").access;
    let callers = [
        ("admin", app.login("admin@riverside.example").access),
        ("olivia", olivia.clone()),
        ("peter", app.login("peter.pt@riverside.example").access),
        ("maria", app.login("maria@client.example").access),
        ("sam", app.login("sam@client.example").access),
        ("lucia", app.login("lucia@family.example").access),
    ];
    // Small pages, so the snapshot takes several.
    let mut copies: Vec<Copy> = callers
        .iter()
        .map(|(_, token)| snapshot(&app, token, 1))
        .collect();
    let admin_copy = &copies[0];
    assert_eq!(admin_copy.of_kind("client"), 3, "{admin_copy:?}");

    // Every kind of change to a record.
    let episode = open_episode(&app, &olivia, &sam);
    let goal = created(&app.post(
        &olivia,
        &format!("/api/v1/clients/{sam}/episodes/{episode}/goals"),
        &json!({"content": {"client_words": "Open jars", "statement": "Opens a jar unaided",
                "occupation_area": "adl", "importance": 8}}),
    ));
    let first = record(&app, &olivia, &sam, &episode, 4);
    let corrected = app.post(
        &olivia,
        &format!("/api/v1/clients/{sam}/measurements/{first}/corrections"),
        &json!({"reason": "Typo", "values": {"value": 5}}),
    );
    let corrected = created(&corrected);
    let withdrawn = record(&app, &olivia, &sam, &episode, 9);
    let withdrawal = created(&app.post(
        &olivia,
        &format!("/api/v1/clients/{sam}/measurements/{withdrawn}/corrections"),
        &json!({"reason": "Wrong client", "withdraw": true}),
    ));
    let note = created(&app.post(
        &olivia,
        &format!("/api/v1/clients/{sam}/goals/{goal}/comments"),
        &json!({"body": "Check grip first", "team_only": true}),
    ));
    let said = created(&app.post(
        &olivia,
        &format!("/api/v1/clients/{sam}/goals/{goal}/comments"),
        &json!({"body": "Well done today"}),
    ));
    let sam_s = &callers[4].1;
    app.post(
        sam_s,
        &format!("/api/v1/clients/{sam}/goals/{goal}/agreement"),
        &json!({}),
    )
    .ok(200);
    let maria_episode = open_episode(&app, &olivia, &maria);
    record(&app, &olivia, &maria, &maria_episode, 3);

    for ((who, token), copy) in callers.iter().zip(copies.iter_mut()) {
        catch_up(&app, token, copy, 2);
        assert_in_step(&app, who, token, copy);
    }
    let [admin, olivia_c, peter, _maria_c, sam_c, lucia] = &copies[..] else {
        unreachable!()
    };
    // What each holds, by the policy: the team and the admin see Sam's clinical
    // records and team notes; Sam sees his own, without team notes; Peter and Lucia
    // nothing of Sam.
    for copy in [admin, olivia_c, sam_c] {
        assert!(copy.has("goal", &goal) && copy.has("comment", &said));
        assert!(
            copy.has("measurement", &corrected),
            "the correction is kept"
        );
        assert!(
            !copy.has("measurement", &first),
            "the replaced version is gone"
        );
        assert!(copy.has("measurement", &withdrawal), "a withdrawal is seen");
        assert!(!copy.has("measurement", &withdrawn));
    }
    assert!(admin.has("comment", &note) && olivia_c.has("comment", &note));
    assert!(
        !sam_c.has("comment", &note),
        "a team note reached the client"
    );
    for copy in [peter, lucia] {
        assert!(copy.records.values().all(|(c, _)| *c != sam), "{copy:?}");
    }
    let status = |copy: &Copy, id: &str| {
        copy.records[&("measurement".to_owned(), id.to_owned())].1["status"].clone()
    };
    assert_eq!(status(sam_c, &withdrawal), "entered-in-error");
    assert_eq!(status(sam_c, &corrected), "amended");
}

#[test]
fn a_copy_synced_while_many_writers_commit_misses_nothing() {
    let app = Arc::new(TestApp::spawn());
    let (maria, sam, jun) = (
        app.client_id("Maria Lopez"),
        app.client_id("Samuel Osei"),
        app.client_id("Jun Tanaka"),
    );
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let peter = app.login("peter.pt@riverside.example").access;
    let episodes = [
        (
            olivia.clone(),
            sam.clone(),
            open_episode(&app, &olivia, &sam),
        ),
        (
            olivia.clone(),
            maria.clone(),
            open_episode(&app, &olivia, &maria),
        ),
        (peter.clone(), jun.clone(), open_episode(&app, &peter, &jun)),
        (
            peter.clone(),
            maria.clone(),
            open_episode(&app, &peter, &maria),
        ),
    ];
    let mut copy = snapshot(&app, &admin, 2);
    // Half the writers go through a second instance on the same database, so commits
    // from two writers interleave (on PostgreSQL: two processes' transactions racing).
    let other = app.start_instance(|_| {});
    let bases = [app.base.clone(), other.base.clone()];
    const WRITERS: usize = 8;
    const EACH: i64 = 12;
    let start = Arc::new(Barrier::new(WRITERS + 1));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (app, start) = (app.clone(), start.clone());
            let (token, client, episode) = episodes[w % episodes.len()].clone();
            let base = bases[w % 2].clone();
            thread::spawn(move || {
                start.wait();
                let path =
                    format!("{base}/api/v1/clients/{client}/episodes/{episode}/measurements");
                (0..EACH)
                    .map(|i| {
                        let r = app.patiently(|| {
                            let body = json!({"measure_code": "nrs", "values": {"value": i % 11}});
                            app.send(app.http.post(&path).bearer_auth(&token).json(&body))
                        });
                        r.ok(201)["id"].as_str().unwrap_or_default().to_owned()
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    start.wait();
    // Sync over and over while they write, as a phone polling would.
    let mut rounds = 0;
    while writers.iter().any(|w| !w.is_finished()) {
        catch_up(&app, &admin, &mut copy, 5);
        rounds += 1;
    }
    let written: Vec<String> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap_or_else(|_| panic!("a writer failed")))
        .collect();
    catch_up(&app, &admin, &mut copy, 5);
    assert!(rounds >= 1);
    assert_eq!(written.len(), WRITERS * EACH as usize);
    for id in &written {
        assert!(copy.has("measurement", id), "sync skipped measurement {id}");
    }
    assert_in_step(&app, "admin", &admin, &copy);
}

#[test]
fn lost_access_removes_the_client_from_the_copy_and_no_one_hears_of_others() {
    let app = TestApp::spawn();
    let (maria, jun) = (app.client_id("Maria Lopez"), app.client_id("Jun Tanaka"));
    let admin = app.login("admin@riverside.example").access;
    let olivia = app.login("olivia.ot@riverside.example").access;
    let peter = app.login("peter.pt@riverside.example").access;
    let lucia = app.login("lucia@family.example").access;
    let maria_s = app.login("maria@client.example").access;
    let episode = open_episode(&app, &olivia, &maria);
    record(&app, &olivia, &maria, &episode, 6);
    let mut peters = snapshot(&app, &peter, 10);
    let mut lucias = snapshot(&app, &lucia, 10);
    let mut olivias = snapshot(&app, &olivia, 10);
    assert!(peters.records.values().any(|(c, _)| *c == maria));
    assert!(lucias.has("client", &maria));
    assert!(!olivias.records.values().any(|(c, _)| *c == jun));

    // Peter leaves Maria's care team; Maria revokes Lucia's access.
    let team = app.get(&admin, &format!("/api/v1/clients/{maria}/care-team"));
    let peter_id = app.user_id("peter.pt@riverside.example");
    let member = team
        .ok(200)
        .as_array()
        .into_iter()
        .flatten()
        .find(|m| m["therapist_id"] == peter_id.as_str())
        .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_else(|| panic!("Peter is not on Maria's team: {}", team.text));
    app.delete(
        &admin,
        &format!("/api/v1/clients/{maria}/care-team/{member}"),
    )
    .ok(204);
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
    // And Jun's team changes, which is none of Olivia's business.
    let before = olivias.clone();
    app.post(
        &admin,
        &format!("/api/v1/clients/{jun}/care-team"),
        &json!({"therapist_id": app.user_id("olivia.ot@riverside.example"), "team_role": "supporting"}),
    )
    .ok(201);
    app.delete(
        &admin,
        &format!("/api/v1/clients/{jun}/care-team/{}", {
            let team = app.get(&admin, &format!("/api/v1/clients/{jun}/care-team"));
            team.ok(200)
                .as_array()
                .into_iter()
                .flatten()
                .find(|m| m["team_role"] == "supporting")
                .map(|m| m["id"].as_str().unwrap_or_default().to_owned())
                .unwrap_or_default()
        }),
    )
    .ok(204);
    record(&app, &olivia, &maria, &episode, 7);

    catch_up(&app, &peter, &mut peters, 10);
    // Lucia never saw Jun: nothing she is sent names him.
    let from = lucias.cursor.clone();
    let sent = page(&app, &lucia, from.as_deref(), 200);
    assert!(!sent.to_string().contains(jun.as_str()), "{sent}");
    catch_up(&app, &lucia, &mut lucias, 10);
    assert!(
        peters.records.values().all(|(c, _)| *c != maria),
        "Peter still holds Maria's records: {peters:?}"
    );
    assert!(lucias.records.is_empty(), "{lucias:?}");
    assert_in_step(&app, "peter", &peter, &peters);
    assert_in_step(&app, "lucia", &lucia, &lucias);
    // Olivia was on Jun's team for a moment: she got Jun's records, then lost them.
    let mut olivias_now = before.clone();
    catch_up(&app, &olivia, &mut olivias_now, 10);
    assert!(olivias_now.records.values().all(|(c, _)| *c != jun));
    assert_in_step(&app, "olivia", &olivia, &olivias_now);
    olivias = olivias_now;
    assert!(olivias.records.values().any(|(c, _)| *c == maria));
}

#[test]
fn a_bad_or_expired_cursor_is_a_problem_and_each_client_shown_sees_it_in_their_access_log() {
    let app = TestApp::spawn();
    let olivia = app.login("olivia.ot@riverside.example").access;
    for (cursor, field) in [
        ("x.1", "cursor"),
        ("d.abc", "cursor"),
        ("s.1.not-a-uuid", "cursor"),
        ("d.1.2", "cursor"),
    ] {
        let r = app.get(&olivia, &format!("/api/v1/sync?cursor={cursor}"));
        r.problem(400);
        assert_eq!(r.fields(), vec![field.to_owned()], "{cursor}: {}", r.text);
    }
    for limit in ["0", "201", "many"] {
        let r = app.get(&olivia, &format!("/api/v1/sync?limit={limit}"));
        assert!(
            matches!(r.status.as_u16(), 400 | 422),
            "{limit}: {}",
            r.text
        );
        assert_eq!(r.fields(), vec!["limit".to_owned()], "{limit}: {}", r.text);
    }
    let r = app.get(&olivia, "/api/v1/sync?unknown=1");
    r.problem(400);
    // A cursor the log never reached (a restored backup, another database).
    let r = app.get(&olivia, "/api/v1/sync?cursor=d.999999999");
    let problem = r.problem(410);
    assert_eq!(problem["type"], "urn:headway:problem:sync-cursor-expired");
    // Signed out: no sync.
    let r = app.get("not-a-token", "/api/v1/sync");
    r.problem(401);

    // Sam's access log shows that Olivia's app copied his record.
    let copy = snapshot(&app, &olivia, 50);
    let sam = app.client_id("Samuel Osei");
    assert!(copy.has("client", &sam));
    let sam_s = app.login("sam@client.example").access;
    let log = app.get(
        &sam_s,
        &format!("/api/v1/clients/{sam}/access-log?limit=100"),
    );
    let text = log.ok(200).to_string();
    assert!(text.contains("sync.read"), "{text}");
}
