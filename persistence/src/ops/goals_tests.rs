//! The goal operations, against a real database: each refuses a caller outside its
//! reach (nothing runs, nothing changes), each success leaves exactly one audit event,
//! and the child queries answer only for the client they are handed.

use crate::versions::Expected;
use chrono::Utc;
use domain::goal::{
    EpisodeDraft, EpisodeStatus, Goal, GoalContent, GoalDraft, GoalInput, GoalStatus, Side,
};
use uuid::Uuid;

use crate::{
    gate::Caller,
    goals,
    testing::{Event, Person, Riverside},
    Clinic, Reached, StoreError, StoreResult,
};

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

fn content(words: &str) -> GoalContent {
    ok(GoalContent::parse(
        &GoalInput {
            client_words: words,
            statement: Some("Prepare a two-course meal within 45 minutes"),
            occupation_area: "iadl",
            importance: 8,
            measure_code: Some("nrs"),
            target_value: Some(8.0),
            ..Default::default()
        },
        Utc::now().date_naive(),
    ))
}

fn long_term(words: &str) -> GoalDraft {
    GoalDraft {
        term: domain::goal::Term::LongTerm,
        parent_id: None,
        content: content(words),
    }
}

fn episode_draft() -> EpisodeDraft {
    ok(EpisodeDraft::parse(
        "Stroke, left hemiparesis",
        vec![],
        None,
        None,
        Utc::now().date_naive(),
    ))
}

/// Maria's record with an episode and a proposed goal (with a comment and a team
/// note), set up by her therapist.
struct Scene {
    clinic: Riverside,
    episode: Uuid,
    goal: Goal,
}

fn scene() -> Scene {
    let clinic = Riverside::new();
    let olivia = clinic.caller(&clinic.therapist);
    let episode = ok(clinic
        .door
        .open_episode(&olivia, clinic.maria, episode_draft()))
    .id;
    let goal =
        ok(clinic
            .door
            .propose_goal(&olivia, clinic.maria, episode, long_term("Cook dinner")));
    ok(clinic
        .door
        .comment_on_goal(&olivia, clinic.maria, goal.id, "Good start".into(), false));
    ok(clinic
        .door
        .comment_on_goal(&olivia, clinic.maria, goal.id, "Watch fatigue".into(), true));
    Scene {
        clinic,
        episode,
        goal,
    }
}

impl Scene {
    fn reach(&self, client: Uuid) -> Reached {
        Reached::without_caller(client, self.clinic.organization)
    }

    /// Everything stored of Maria's goals, read directly.
    fn stored(&self) -> String {
        let mut c = self.clinic.connect();
        let maria = self.reach(self.clinic.maria);
        format!(
            "{:?}",
            (
                ok(goals::episodes_of(&mut c, maria)),
                ok(goals::goals_of_client(&mut c, maria)),
                ok(goals::revisions(&mut c, maria, self.goal.id)),
                ok(goals::comments(&mut c, maria, self.goal.id, true)),
                ok(goals::events_of_client(&mut c, maria)),
            )
        )
    }

    /// Runs `op` as `person`, and returns its result and the audit events it left.
    fn audited<T>(
        &self,
        person: &Person,
        op: impl FnOnce(&Clinic, &Caller) -> StoreResult<T>,
    ) -> (StoreResult<T>, Vec<Event>) {
        let before = self.clinic.events().len();
        let result = op(&self.clinic.door, &self.clinic.caller(person));
        let events = self.clinic.events().split_off(before);
        (result, events)
    }
}

type Op = Box<dyn Fn(&Clinic, &Caller, Uuid, Uuid, Uuid) -> StoreResult<()>>;

/// Every goal operation, by its audit action, on (client, episode, goal).
fn every_operation() -> Vec<(&'static str, Op)> {
    fn op<T>(f: impl Fn(&Clinic, &Caller, Uuid, Uuid, Uuid) -> StoreResult<T> + 'static) -> Op {
        Box::new(move |d, c, client, episode, goal| f(d, c, client, episode, goal).map(|_| ()))
    }
    vec![
        (
            "episode.create",
            op(|d, c, client, _, _| d.open_episode(c, client, episode_draft())),
        ),
        (
            "episode.list",
            op(|d, c, client, _, _| d.episodes(c, client)),
        ),
        (
            "episode.update",
            op(|d, c, client, episode, _| {
                d.update_episode(
                    c,
                    client,
                    episode,
                    Expected::Any,
                    EpisodeStatus::Finished,
                    None,
                )
            }),
        ),
        (
            "goal.propose",
            op(|d, c, client, episode, _| {
                d.propose_goal(c, client, episode, long_term("Walk to the shop"))
            }),
        ),
        (
            "goal.list",
            op(|d, c, client, episode, _| d.episode_goals(c, client, episode)),
        ),
        (
            "goal.read",
            op(|d, c, client, _, goal| d.goal(c, client, goal)),
        ),
        (
            "goal.revise",
            op(|d, c, client, _, goal| {
                d.revise_goal(c, client, goal, Expected::Any, content("Cook lunch"))
            }),
        ),
        (
            "goal.revisions",
            op(|d, c, client, _, goal| d.goal_revisions(c, client, goal)),
        ),
        (
            "goal.agree",
            op(|d, c, client, _, goal| d.agree_to_goal(c, client, goal, Expected::Any)),
        ),
        (
            "goal.status",
            op(|d, c, client, _, goal| {
                d.set_goal_status(c, client, goal, Expected::Any, GoalStatus::Cancelled)
            }),
        ),
        (
            "goal.comments",
            op(|d, c, client, _, goal| d.goal_comments(c, client, goal)),
        ),
        (
            "goal.comment",
            op(|d, c, client, _, goal| d.comment_on_goal(c, client, goal, "Hello".into(), false)),
        ),
    ]
}

#[test]
fn every_goal_operation_refuses_a_caller_outside_its_reach_and_changes_nothing() {
    let s = scene();
    let before = s.stored();
    for (label, person) in [
        ("off-team therapist", &s.clinic.off_team_therapist),
        ("other clinic's therapist", &s.clinic.other_clinic_therapist),
    ] {
        for (action, run) in every_operation() {
            let (result, events) = s.audited(person, |d, c| {
                run(d, c, s.clinic.maria, s.episode, s.goal.id)
            });
            assert!(
                matches!(result, Err(StoreError::NotFound)),
                "{label}, {action}: {result:?}"
            );
            assert_eq!(
                events,
                [Event {
                    action: action.to_owned(),
                    outcome: "not-found".to_owned(),
                    client_id: Some(s.clinic.maria.to_string()),
                }],
                "{label}, {action}"
            );
        }
    }
    assert_eq!(s.stored(), before, "a refused operation changed something");
}

#[test]
fn every_goal_operation_that_succeeds_leaves_exactly_one_audit_event() {
    for (action, run) in every_operation() {
        // A fresh scene each, so no operation depends on another.
        let s = scene();
        // The therapist proposed the goal, so their side has agreed: Maria agrees.
        let person = if action == "goal.agree" {
            s.clinic.client_account(s.clinic.maria)
        } else {
            s.clinic.therapist.clone()
        };
        let (result, events) = s.audited(&person, |d, c| {
            run(d, c, s.clinic.maria, s.episode, s.goal.id)
        });
        assert!(result.is_ok(), "{action}: {result:?}");
        assert_eq!(
            events,
            [Event {
                action: action.to_owned(),
                outcome: "success".to_owned(),
                client_id: Some(s.clinic.maria.to_string()),
            }],
            "{action}"
        );
    }
}

#[test]
fn a_goal_is_agreed_by_both_sides_revised_and_closed() {
    let s = scene();
    let (door, maria_id) = (&s.clinic.door, s.clinic.maria);
    let olivia = s.clinic.caller(&s.clinic.therapist);
    let maria = s.clinic.caller(&s.clinic.client_account(maria_id));
    // Agreeing again for the proposer's side changes nothing.
    let again = ok(door.agree_to_goal(&olivia, maria_id, s.goal.id, Expected::Any));
    assert_eq!(again, s.goal);
    let active = ok(door.agree_to_goal(&maria, maria_id, s.goal.id, Expected::Any));
    assert_eq!(active.status, GoalStatus::Active);
    // A revision by the client needs the team's agreement again.
    let revised = ok(door.revise_goal(
        &maria,
        maria_id,
        s.goal.id,
        Expected::Any,
        content("Cook for friends"),
    ));
    assert_eq!(
        (revised.status, revised.revision, revised.agreement.team),
        (GoalStatus::Proposed, 2, false)
    );
    let same = door.revise_goal(
        &maria,
        maria_id,
        s.goal.id,
        Expected::Any,
        content("Cook for friends"),
    );
    assert!(matches!(same, Err(StoreError::Invalid(_))), "{same:?}");
    ok(door.agree_to_goal(&olivia, maria_id, s.goal.id, Expected::Any));
    let revisions = ok(door.goal_revisions(&maria, maria_id, s.goal.id));
    let sides: Vec<Vec<Side>> = revisions
        .iter()
        .map(|r| r.agreements.iter().map(|a| a.side).collect())
        .collect();
    assert_eq!(
        sides,
        [[Side::Team, Side::Client], [Side::Client, Side::Team]]
    );
    // Only the care team closes it; a closed goal is not agreed to or revised.
    assert!(matches!(
        door.set_goal_status(
            &maria,
            maria_id,
            s.goal.id,
            Expected::Any,
            GoalStatus::Achieved
        ),
        Err(StoreError::Forbidden)
    ));
    let done = ok(door.set_goal_status(
        &olivia,
        maria_id,
        s.goal.id,
        Expected::Any,
        GoalStatus::Achieved,
    ));
    assert_eq!(done.status, GoalStatus::Achieved);
    assert!(door
        .agree_to_goal(&maria, maria_id, s.goal.id, Expected::Any)
        .is_err());
    assert!(door
        .revise_goal(&olivia, maria_id, s.goal.id, Expected::Any, content("More"))
        .is_err());
    // The client never sees the team's note, nor may write one.
    assert_eq!(ok(door.goal_comments(&maria, maria_id, s.goal.id)).len(), 1);
    assert_eq!(
        ok(door.goal_comments(&olivia, maria_id, s.goal.id)).len(),
        2
    );
    assert!(matches!(
        door.comment_on_goal(&maria, maria_id, s.goal.id, "secret".into(), true),
        Err(StoreError::Forbidden)
    ));
}

#[test]
fn a_short_term_goal_sits_under_a_long_term_goal_of_an_open_episode() {
    let s = scene();
    let (door, maria) = (&s.clinic.door, s.clinic.maria);
    let olivia = s.clinic.caller(&s.clinic.therapist);
    let short = GoalDraft {
        term: domain::goal::Term::ShortTerm,
        parent_id: Some(s.goal.id),
        content: content("Chop vegetables"),
    };
    let child = ok(door.propose_goal(&olivia, maria, s.episode, short.clone()));
    assert_eq!(
        (child.label.as_str(), child.parent_id),
        ("1.1", Some(s.goal.id))
    );
    let orphan = GoalDraft {
        parent_id: None,
        ..short.clone()
    };
    assert!(matches!(
        door.propose_goal(&olivia, maria, s.episode, orphan),
        Err(StoreError::Invalid(_))
    ));
    ok(door.update_episode(
        &olivia,
        maria,
        s.episode,
        Expected::Any,
        EpisodeStatus::Finished,
        None,
    ));
    assert!(matches!(
        door.propose_goal(&olivia, maria, s.episode, long_term("Too late")),
        Err(StoreError::Invalid(_))
    ));
    // A goal whose measure is unknown is refused before anything is stored.
    let mut unknown = long_term("Mystery");
    unknown.content.measure_code = Some("no-such-measure".into());
    let before = s.stored();
    assert!(matches!(
        door.propose_goal(&olivia, maria, s.episode, unknown),
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(s.stored(), before);
}

#[test]
fn child_queries_answer_only_for_the_client_they_are_handed() {
    let s = scene();
    let mut c = s.clinic.connect();
    let sam = s.reach(s.clinic.sam);
    assert!(matches!(
        goals::goal(&mut c, sam, s.goal.id),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        goals::episode(&mut c, sam, s.episode),
        Err(StoreError::NotFound)
    ));
    assert!(ok(goals::goals_of_episode(&mut c, sam, s.episode)).is_empty());
    assert!(matches!(
        goals::revisions(&mut c, sam, s.goal.id),
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        goals::comments(&mut c, sam, s.goal.id, true),
        Err(StoreError::NotFound)
    ));
    assert!(ok(goals::events_of_client(&mut c, sam)).is_empty());
    let maria = s.reach(s.clinic.maria);
    assert_eq!(
        ok(goals::goals_of_episode(&mut c, maria, s.episode)).len(),
        1
    );
}
