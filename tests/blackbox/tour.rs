//! The README's "A short tour", run as written against a real server (twice: it must
//! be safe to paste again), and the demo clinic's story as a newcomer first sees it.

use std::{path::Path, process::Command};

use headway_tests::{TestApp, TestDb, SECRET};
use serde_json::Value;

/// The shell blocks of the README's "A short tour" section, in order.
fn tour_script() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .unwrap_or_else(|e| panic!("README.md: {e}"));
    let start = readme
        .find("\n## A short tour\n")
        .unwrap_or_else(|| panic!("README.md has no \"A short tour\" section"));
    let section = &readme[start + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut blocks = Vec::new();
    let mut rest = section;
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("```").unwrap_or_else(|| panic!("unclosed block"));
        blocks.push(&body[..close]);
        rest = &body[close + 3..];
    }
    assert!(blocks.len() >= 2, "the tour has its shell blocks");
    blocks.join("\n")
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs the tour with bash in `dir` against `app`, stopping at the first failing step
/// (`bash -e`, as the README says a saved tour runs), with extra environment `env`.
fn run_tour(app: &TestApp, dir: &Path, env: &[(&str, &str)]) -> Run {
    let script = dir.join("tour.sh");
    std::fs::write(&script, tour_script()).unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new("bash")
        .args(["-e", "-o", "pipefail"])
        .arg(&script)
        .current_dir(dir)
        .env("HEADWAY", &app.base)
        .env_remove("DEMO_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash: {e}"));
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn items(body: &Value) -> Vec<Value> {
    body["items"].as_array().cloned().unwrap_or_default()
}

#[test]
fn the_readme_tour_runs_twice_in_a_row_and_ends_with_progress_and_a_chart() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for run in 1..=2 {
        let r = run_tour(&app, dir.path(), &[]);
        assert!(
            r.ok,
            "run {run} of the tour failed\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        assert!(!r.stderr.contains("HTTP 4"), "run {run}: {}", r.stderr);
        // Readable: every answer on its own lines, none run into the next.
        assert!(!r.stdout.contains("}{"), "run {run}: {}", r.stdout);
        // It ends with the client's progress and a chart she can open.
        for shown in [
            "\"goals_by_status\"",
            "\"percent_to_target\"",
            "Cook dinner for my kids again",
        ] {
            assert!(
                r.stdout.contains(shown),
                "run {run} shows {shown}: {}",
                r.stdout
            );
        }
        assert!(
            r.stdout.contains("(macOS: open goal.svg)\n") && r.stdout.contains("xdg-open goal.svg"),
            "run {run} says how to open the chart: {}",
            r.stdout
        );
        // Then a signed progress report, saved as a PDF.
        assert!(
            r.stdout.trim_end().ends_with("report.pdf"),
            "run {run} ends with the report saved: {}",
            r.stdout
        );
        let pdf = std::fs::read(dir.path().join("report.pdf"))
            .unwrap_or_else(|e| panic!("run {run} wrote no report.pdf: {e}"));
        assert!(
            pdf.starts_with(b"%PDF"),
            "run {run}: report.pdf is not a PDF"
        );
        let svg = std::fs::read_to_string(dir.path().join("goal.svg"))
            .unwrap_or_else(|e| panic!("run {run} wrote no goal.svg: {e}"));
        assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{svg}");
    }
    // Both runs found Ana Silva rather than registering her again, and Olivia sits on
    // her care team once.
    let admin = app.login("admin@riverside.example");
    let found = app.get(
        &admin.access,
        "/api/v1/clients?identifier=urn:ehr:mrn%7CA-77",
    );
    let anas = items(found.ok(200));
    assert_eq!(anas.len(), 1, "{}", found.text);
    let ana = anas[0]["id"].as_str().unwrap_or_default();
    let team = app.get(&admin.access, &format!("/api/v1/clients/{ana}/care-team"));
    let olivia = app.user_id("olivia.ot@riverside.example");
    let members: Vec<_> = team
        .ok(200)
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["therapist_id"] == olivia.as_str())
        .collect();
    assert_eq!(members.len(), 1, "{}", team.text);
    // Each run opened an episode whose goal both the therapist and Maria rated.
    let maria = app.login("maria@client.example");
    let client = app.client_id("Maria Lopez");
    let episodes = app.get(&maria.access, &format!("/api/v1/clients/{client}/episodes"));
    let episodes = episodes.ok(200).as_array().cloned().unwrap_or_default();
    assert_eq!(episodes.len(), 2);
    for episode in &episodes {
        let id = episode["id"].as_str().unwrap_or_default();
        let list = app.get(
            &maria.access,
            &format!("/api/v1/clients/{client}/episodes/{id}/measurements"),
        );
        let mut sources: Vec<String> = items(list.ok(200))
            .iter()
            .filter_map(|m| m["source"].as_str().map(str::to_owned))
            .collect();
        sources.sort();
        assert_eq!(sources, ["client", "therapist"], "{}", list.text);
    }
}

#[test]
fn a_failed_sign_in_stops_the_tour_with_a_clear_message_and_no_problem_in_the_token() {
    let app = TestApp::spawn();
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let r = run_tour(&app, dir.path(), &[("DEMO_PASSWORD", "not-the-password")]);
    assert!(!r.ok, "the tour went on: {}", r.stdout);
    assert!(
        r.stderr
            .contains("sign-in failed for olivia.ot@riverside.example: "),
        "{}",
        r.stderr
    );
    // Nothing was called with a problem document as its token, nothing was printed.
    assert_eq!(r.stdout.trim(), "", "{}", r.stdout);
    assert!(!r.stderr.contains("urn:headway:problem"), "{}", r.stderr);
    assert!(!dir.path().join("goal.svg").exists());
    // Pasted into a shell that goes on after a failure, every call refuses to run.
    let script = format!("{}\n", tour_script());
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir.path())
        .env("HEADWAY", &app.base)
        .env("DEMO_PASSWORD", "not-the-password")
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("api: no token (did a sign-in fail? see above)"),
        "{stderr}"
    );
    assert!(!stderr.contains("Bearer {"), "{stderr}");
    let maria = app.client_id("Maria Lopez");
    let admin = app.login("admin@riverside.example");
    let episodes = app.get(&admin.access, &format!("/api/v1/clients/{maria}/episodes"));
    assert_eq!(episodes.ok(200).as_array().map(Vec::len), Some(0));
}

/// The story's first episode (Maria's): what she sees.
#[test]
fn the_demo_story_gives_a_newcomer_progress_values_from_both_sources_milestones_and_an_access_log()
{
    let app = TestApp::spawn();
    let story = api::demo::seed_story(&app.clinic)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("the story was not seeded into the fresh demo clinic"));
    assert_eq!(story.episodes.len(), 2);
    let by_login = |login: &str| {
        story
            .episodes
            .iter()
            .find(|e| e.login == login)
            .unwrap_or_else(|| panic!("no episode for {login}"))
            .clone()
    };
    let maria_ep = by_login("maria@client.example");
    let sam_ep = by_login("sam@client.example");
    let olivia = app.login("olivia.ot@riverside.example");
    for (login, ep, statuses) in [
        (
            "maria@client.example",
            &maria_ep,
            &["active", "proposed", "achieved"][..],
        ),
        ("sam@client.example", &sam_ep, &["active"][..]),
    ] {
        let who = app.login(login);
        let client = ep.client_id;
        let base = format!("/api/v1/clients/{client}");
        // The progress view: goals in the client's own words, by status.
        let progress = app.get(
            &who.access,
            &format!("{base}/episodes/{}/progress", ep.episode_id),
        );
        let view = progress.ok(200);
        for status in statuses {
            assert!(
                view["goals_by_status"][status].as_u64().unwrap_or(0) >= 1,
                "{login}: a {status} goal: {}",
                progress.text
            );
        }
        let goals = view["goals"].as_array().cloned().unwrap_or_default();
        assert!(goals.len() >= 2, "{}", progress.text);
        assert!(goals
            .iter()
            .all(|g| !g["goal"]["client_words"].as_str().unwrap_or("").is_empty()));
        // Weeks of values on GAS, COPM, PSFS and QuickDASH, from therapist and client.
        let list = app.get(
            &who.access,
            &format!("{base}/episodes/{}/measurements?limit=100", ep.episode_id),
        );
        let values = items(list.ok(200));
        assert!(values.len() >= 20, "{login}: {} values", values.len());
        for code in ["gas", "copm", "psfs", "quickdash"] {
            let of = |source: &str| {
                values
                    .iter()
                    .filter(|m| m["measure_code"] == code && m["source"] == source)
                    .count()
            };
            assert!(of("therapist") >= 1, "{login}: a therapist's {code}");
            if code != "copm" || login == "maria@client.example" {
                assert!(of("client") >= 1, "{login}: the client's own {code}");
            }
        }
        let observed: Vec<chrono::DateTime<chrono::Utc>> = values
            .iter()
            .filter_map(|m| m["observed_at"].as_str()?.parse().ok())
            .collect();
        let span = observed.iter().max().copied().unwrap_or_default()
            - observed.iter().min().copied().unwrap_or_default();
        assert!(
            span >= chrono::Duration::weeks(6),
            "{login}: weeks of values"
        );
        // Milestones to celebrate, and a chart with points on it.
        let milestones = app.get(&who.access, &format!("{base}/milestones"));
        let kinds: Vec<String> = milestones
            .ok(200)
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .filter_map(|m| m["kind"].as_str().map(str::to_owned))
            .collect();
        assert!(kinds.iter().any(|k| k == "goal-agreed"), "{kinds:?}");
        assert!(kinds.len() > 3, "{login}: {kinds:?}");
        let chart = app.get(
            &who.access,
            &format!("{base}/goals/{}/chart.svg", ep.featured_goal_id),
        );
        assert_eq!(chart.status.as_u16(), 200);
        assert!(chart.text.matches("<circle").count() >= 3, "{}", chart.text);
        // The access log: the therapist's work on the record, done as herself.
        let log = app.get(&who.access, &format!("{base}/access-log?limit=100"));
        assert!(items(log.ok(200)).len() >= 10, "{}", log.text);
        assert!(log.text.contains("Olivia Okafor, OT"), "{}", log.text);
        // Comments: the client's and the therapist's, and a team-only note she does not see.
        let mut comments = 0;
        for g in &goals {
            let id = g["goal"]["id"].as_str().unwrap_or_default();
            let thread = app.get(&who.access, &format!("{base}/goals/{id}/comments"));
            comments += thread.ok(200).as_array().map_or(0, Vec::len);
            assert!(
                !thread.text.contains("Left-sided inattention"),
                "{}",
                thread.text
            );
        }
        assert!(comments >= 2, "{login}: comments");
    }
    // Maria's record shows her caregiver looking in, and the achieved goal's milestone.
    let maria = app.login("maria@client.example");
    let base = format!("/api/v1/clients/{}", maria_ep.client_id);
    let log = app.get(&maria.access, &format!("{base}/access-log?limit=100"));
    assert!(log.text.contains("Lucia Lopez"), "{}", log.text);
    assert!(log.text.contains("Peter Park, PT"), "{}", log.text);
    let milestones = app.get(&maria.access, &format!("{base}/milestones"));
    assert!(
        milestones.text.contains("goal-achieved"),
        "{}",
        milestones.text
    );
    // The care team sees its own note.
    let thread = app.get(
        &olivia.access,
        &format!("{base}/goals/{}/comments", maria_ep.featured_goal_id),
    );
    assert!(thread
        .ok(200)
        .to_string()
        .contains("Left-sided inattention"));
}

#[test]
fn the_demo_story_is_seeded_into_nothing_but_a_fresh_demo_clinic() {
    // Once told, never again.
    let app = TestApp::spawn();
    let told = api::demo::seed_story(&app.clinic).unwrap_or_else(|e| panic!("{e}"));
    assert!(told.is_some());
    let again = api::demo::seed_story(&app.clinic).unwrap_or_else(|e| panic!("{e}"));
    assert!(again.is_none());
    let admin = app.login("admin@riverside.example");
    let maria = app.client_id("Maria Lopez");
    let episodes = app.get(&admin.access, &format!("/api/v1/clients/{maria}/episodes"));
    assert_eq!(episodes.ok(200).as_array().map(Vec::len), Some(1));

    // A demo clinic someone has used (one sign-in is enough): nothing.
    let app = TestApp::spawn();
    let admin = app.login("admin@riverside.example");
    let told = api::demo::seed_story(&app.clinic).unwrap_or_else(|e| panic!("{e}"));
    assert!(told.is_none());
    for name in ["Maria Lopez", "Samuel Osei"] {
        let client = app.client_id(name);
        let episodes = app.get(&admin.access, &format!("/api/v1/clients/{client}/episodes"));
        assert_eq!(episodes.ok(200).as_array().map(Vec::len), Some(0), "{name}");
    }

    // A database holding another clinic besides the demo: nothing.
    let app = TestApp::spawn();
    app.second_clinic("lee@lakeside.example");
    let told = api::demo::seed_story(&app.clinic).unwrap_or_else(|e| panic!("{e}"));
    assert!(told.is_none());
    let admin = app.login("admin@riverside.example");
    let maria = app.client_id("Maria Lopez");
    let episodes = app.get(&admin.access, &format!("/api/v1/clients/{maria}/episodes"));
    assert_eq!(episodes.ok(200).as_array().map(Vec::len), Some(0));

    // An empty database: nothing (the story needs the demo clinic's people).
    let db = TestDb::new();
    let config = api::Config::for_database(&db.url, SECRET);
    let state = api::prepare(config, false).unwrap_or_else(|e| panic!("prepare: {e}"));
    let told = api::demo::seed_story(&state.clinic).unwrap_or_else(|e| panic!("{e}"));
    assert!(told.is_none());
    assert!(state.clinic.is_empty().unwrap_or_else(|e| panic!("{e}")));
}
