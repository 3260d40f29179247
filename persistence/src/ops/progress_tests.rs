//! The progress operations and the caller's own reads, against a real database: each
//! refuses a caller outside its reach with one not-found event, and each success
//! leaves exactly one audit event.

use chrono::Utc;
use domain::goal::{EpisodeDraft, GoalContent, GoalDraft, GoalInput, Term};
use uuid::Uuid;

use crate::{
    ops::progress::{SeriesRange, ShownAs},
    testing::{event, Riverside},
};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Maria's episode with one goal on the rating scale, opened by her therapist.
fn scene() -> (Riverside, Uuid, Uuid) {
    let r = Riverside::new();
    let olivia = r.caller(&r.therapist);
    let today = Utc::now().date_naive();
    let draft = ok(EpisodeDraft::parse("Stroke", vec![], None, None, today));
    let episode = ok(r.door.open_episode(&olivia, r.maria, draft)).id;
    let content = ok(GoalContent::parse(
        &GoalInput {
            client_words: "Cook dinner again",
            statement: Some("Prepares a meal in 45 minutes"),
            occupation_area: "iadl",
            importance: 8,
            measure_code: Some("nrs"),
            target_value: Some(8.0),
            ..Default::default()
        },
        today,
    ));
    let draft = GoalDraft {
        term: Term::LongTerm,
        parent_id: None,
        content,
    };
    let goal = ok(r.door.propose_goal(&olivia, r.maria, episode, draft)).id;
    (r, episode, goal)
}

fn render(facts: &crate::ops::progress::EpisodeFacts) -> String {
    format!("{} goals, version {}", facts.goals.len(), facts.version)
}

#[test]
fn every_progress_operation_refuses_outsiders_and_leaves_one_event() {
    let (r, episode, goal) = scene();
    let maria = r.maria;
    r.refuses_outsiders("progress.read", |c| {
        r.door.progress_view(c, maria, episode, render)
    });
    r.refuses_outsiders("progress.series", |c| {
        r.door
            .goal_series(c, maria, goal, SeriesRange::default(), ShownAs::Series)
    });
    r.refuses_outsiders("progress.chart", |c| {
        r.door
            .goal_series(c, maria, goal, SeriesRange::default(), ShownAs::Chart)
    });
    r.refuses_outsiders("progress.milestones", |c| r.door.milestones(c, maria));

    let olivia = r.caller(&r.therapist);
    let once = |action: &str, run: &dyn Fn()| {
        let before = r.events().len();
        run();
        assert_eq!(
            r.events_since(before),
            vec![event(action, "success", maria)]
        );
    };
    once("progress.read", &|| {
        let body = ok(r.door.progress_view(&olivia, maria, episode, render));
        assert!(body.starts_with(b"1 goals"), "{body:?}");
    });
    // Served from memory the second time: still exactly one event.
    once("progress.read", &|| {
        ok(r.door.progress_view(&olivia, maria, episode, render));
    });
    once("progress.series", &|| {
        let s = ok(r.door.goal_series(
            &olivia,
            maria,
            goal,
            SeriesRange::default(),
            ShownAs::Series,
        ));
        assert_eq!(s.goal.id, goal);
    });
    once("progress.chart", &|| {
        ok(r.door
            .goal_series(&olivia, maria, goal, SeriesRange::default(), ShownAs::Chart));
    });
    once("progress.milestones", &|| {
        ok(r.door.milestones(&olivia, maria));
    });
}

#[test]
fn whoami_reads_each_followed_record_through_the_gate() {
    let r = Riverside::new();
    let maria = r.client_account(r.maria);
    let before = r.events().len();
    let me = ok(r.door.whoami(&r.caller(&maria)));
    assert_eq!(me.clients.len(), 1);
    assert_eq!(me.clients[0].client.id, r.maria);
    assert_eq!(
        r.events_since(before),
        vec![event("me.read", "success", r.maria)]
    );
    // The catalogue is no client's record: read, and no event in anyone's log.
    let before = r.events().len();
    assert!(!ok(r.door.measures(&r.caller(&r.therapist))).is_empty());
    assert_eq!(r.events_since(before), vec![]);
}
