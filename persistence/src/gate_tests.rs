//! The gate, against a real database: who is refused, what runs, and the one audit
//! event every operation leaves.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use domain::{
    client::ClientStatus,
    identity::{Role, Scope, Scopes},
    policy::{ClientAction, OrgAction},
};
use uuid::Uuid;

use crate::{
    accounts, clients, db,
    gate::Caller,
    now,
    testing::{renamed, subject, Event, Person, Riverside},
    Conn, StoreError, StoreResult,
};

/// A flag the operation raises when (if ever) it runs.
fn raised_flag() -> (Arc<AtomicBool>, Arc<AtomicBool>) {
    let flag = Arc::new(AtomicBool::new(false));
    (flag.clone(), flag)
}

/// Reads Maria's record through the gate as `action`, then waits for its event.
fn read(clinic: &Riverside, caller: &Caller, action: ClientAction) -> (StoreResult<String>, bool) {
    let (flag, seen) = raised_flag();
    let maria = clinic.maria;
    let org = clinic.organization;
    let result = clinic.door.on_client(
        caller,
        maria,
        action,
        subject("client.read"),
        move |c: &mut Conn, _| {
            flag.store(true, Ordering::SeqCst);
            Ok(clients::get(c, org, maria)?.name)
        },
    );
    (result, seen.load(Ordering::SeqCst))
}

/// Renames Maria through the gate as `action`; `then` decides how the operation ends
/// after its change is made.
fn rename(
    clinic: &Riverside,
    caller: &Caller,
    action: ClientAction,
    then: fn() -> StoreResult<()>,
) -> (StoreResult<String>, bool) {
    let (flag, seen) = raised_flag();
    let maria = clinic.maria;
    let actor = caller.who.user_id;
    let result = clinic.door.on_client(
        caller,
        maria,
        action,
        subject("client.update"),
        move |c: &mut Conn, reached| {
            flag.store(true, Ordering::SeqCst);
            let updated = clients::update(
                c,
                reached,
                1,
                renamed("Maria Renamed"),
                ClientStatus::Active,
                actor,
                now(),
            )?;
            then()?;
            Ok(updated.name)
        },
    );
    (result, seen.load(Ordering::SeqCst))
}

fn succeed() -> StoreResult<()> {
    Ok(())
}

fn clash() -> StoreResult<()> {
    Err(StoreError::Conflict("identifier already in use".into()))
}

fn one(action: &str, outcome: &str, client: Uuid) -> Vec<Event> {
    vec![Event {
        action: action.to_owned(),
        outcome: outcome.to_owned(),
        client_id: Some(client.to_string()),
    }]
}

fn outsiders(clinic: &Riverside) -> [(&'static str, &Person); 2] {
    [
        ("a therapist off the care team", &clinic.off_team_therapist),
        (
            "a therapist of another clinic",
            &clinic.other_clinic_therapist,
        ),
    ]
}

#[test]
fn a_read_outside_the_callers_reach_is_not_found_runs_nothing_and_is_audited_once() {
    for index in 0..2 {
        // A fresh clinic per caller, so each leaves its own trail.
        let clinic = Riverside::new();
        let (label, person) = outsiders(&clinic)[index];
        let (result, ran) = read(&clinic, &clinic.caller(person), ClientAction::View);
        assert!(
            matches!(result, Err(StoreError::NotFound)),
            "{label}: {result:?}"
        );
        assert!(!ran, "{label}: the read ran");
        assert_eq!(
            clinic.events(),
            one("client.read", "not-found", clinic.maria),
            "{label}"
        );
    }
}

#[test]
fn a_write_outside_the_callers_reach_is_not_found_changes_nothing_and_is_audited_once() {
    for index in 0..2 {
        let clinic = Riverside::new();
        let (label, person) = outsiders(&clinic)[index];
        let (result, ran) = rename(
            &clinic,
            &clinic.caller(person),
            ClientAction::UpdateDemographics,
            succeed,
        );
        assert!(
            matches!(result, Err(StoreError::NotFound)),
            "{label}: {result:?}"
        );
        assert!(!ran, "{label}: the write ran");
        assert_eq!(clinic.name_of(clinic.maria), "Maria Lopez", "{label}");
        assert_eq!(
            clinic.events(),
            one("client.update", "not-found", clinic.maria),
            "{label}"
        );
    }
}

#[test]
fn a_client_on_no_care_team_is_out_of_a_therapists_reach() {
    let clinic = Riverside::new();
    let sam = clinic.sam;
    let org = clinic.organization;
    let (flag, seen) = raised_flag();
    let result = clinic.door.on_client(
        &clinic.caller(&clinic.therapist),
        sam,
        ClientAction::ViewClinical,
        subject("client.read"),
        move |c: &mut Conn, _| {
            flag.store(true, Ordering::SeqCst);
            Ok(clients::get(c, org, sam)?.name)
        },
    );
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert!(!seen.load(Ordering::SeqCst));
    assert_eq!(clinic.events(), one("client.read", "not-found", sam));
}

#[test]
fn a_visible_but_forbidden_read_is_forbidden_and_denied_once() {
    let clinic = Riverside::new();
    // A therapist on the team sees the record, but not who has looked at it.
    let (result, ran) = read(
        &clinic,
        &clinic.caller(&clinic.therapist),
        ClientAction::ViewAccessLog,
    );
    assert!(matches!(result, Err(StoreError::Forbidden)), "{result:?}");
    assert!(!ran);
    assert_eq!(clinic.events(), one("client.read", "denied", clinic.maria));
}

#[test]
fn a_visible_but_forbidden_write_is_forbidden_changes_nothing_and_is_denied_once() {
    let clinic = Riverside::new();
    // Only an admin manages the care team.
    let (result, ran) = rename(
        &clinic,
        &clinic.caller(&clinic.therapist),
        ClientAction::ManageCareTeam,
        succeed,
    );
    assert!(matches!(result, Err(StoreError::Forbidden)), "{result:?}");
    assert!(!ran);
    assert_eq!(clinic.name_of(clinic.maria), "Maria Lopez");
    assert_eq!(
        clinic.events(),
        one("client.update", "denied", clinic.maria)
    );
}

#[test]
fn an_allowed_read_returns_the_record_and_is_audited_once() {
    let clinic = Riverside::new();
    let (result, ran) = read(
        &clinic,
        &clinic.caller(&clinic.therapist),
        ClientAction::View,
    );
    assert_eq!(result.ok().as_deref(), Some("Maria Lopez"));
    assert!(ran);
    assert_eq!(clinic.events(), one("client.read", "success", clinic.maria));
}

#[test]
fn an_allowed_write_commits_its_change_with_exactly_one_success_event() {
    let clinic = Riverside::new();
    let (result, ran) = rename(
        &clinic,
        &clinic.caller(&clinic.therapist),
        ClientAction::UpdateDemographics,
        succeed,
    );
    assert_eq!(result.ok().as_deref(), Some("Maria Renamed"));
    assert!(ran);
    // Both are visible to another connection as soon as the gate returns: they
    // committed together, before the answer.
    assert_eq!(clinic.name_of(clinic.maria), "Maria Renamed");
    assert_eq!(
        clinic.events(),
        one("client.update", "success", clinic.maria)
    );
}

#[test]
fn a_failing_write_changes_nothing_and_leaves_one_failed_event() {
    let clinic = Riverside::new();
    let (result, ran) = rename(
        &clinic,
        &clinic.caller(&clinic.therapist),
        ClientAction::UpdateDemographics,
        clash,
    );
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");
    assert!(ran, "the write should have run and then failed");
    assert_eq!(clinic.name_of(clinic.maria), "Maria Lopez");
    let versions = clients::versions(
        &mut clinic.connect(),
        crate::Reached::without_caller(clinic.maria, clinic.organization),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(versions.is_empty(), "a rolled-back version was kept");
    assert_eq!(
        clinic.events(),
        one("client.update", "failed", clinic.maria)
    );
}

#[test]
fn a_write_whose_record_vanishes_midway_is_not_found_once() {
    let clinic = Riverside::new();
    let (result, _) = rename(
        &clinic,
        &clinic.caller(&clinic.therapist),
        ClientAction::UpdateDemographics,
        || Err(StoreError::NotFound),
    );
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert_eq!(clinic.name_of(clinic.maria), "Maria Lopez");
    assert_eq!(
        clinic.events(),
        one("client.update", "not-found", clinic.maria)
    );
}

/// Each way a token can stop being backed by the account as stored now.
fn unbacked_callers(clinic: &mut Riverside) -> Vec<(&'static str, Caller)> {
    let mut cases = Vec::new();
    let mut conn = clinic.connect();

    let revoked = clinic.therapist.clone();
    db::write(&mut conn, |c| {
        accounts::revoke_session(c, revoked.session_id, "signed out", now())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    cases.push(("a revoked session", clinic.caller(&revoked)));

    let deactivated = clinic.off_team_therapist.clone();
    db::write(&mut conn, |c| {
        let read = accounts::user(c, clinic.organization, deactivated.who.user_id)?.version;
        accounts::update_user(
            c,
            clinic.organization,
            deactivated.who.user_id,
            read,
            domain::identity::AccountChanges {
                active: Some(false),
                ..Default::default()
            },
            now(),
        )
    })
    .unwrap_or_else(|e| panic!("{e}"));
    cases.push(("a deactivated account", clinic.caller(&deactivated)));

    let mut admin_claim = clinic.other_clinic_therapist.clone();
    admin_claim.who.role = Role::Admin;
    cases.push(("a token claiming another role", clinic.caller(&admin_claim)));

    let mut wider: Person = clinic.admin.clone();
    wider.who.scopes = [Scope::ClientsWrite].into_iter().collect::<Scopes>();
    cases.push(("a token claiming wider scopes", clinic.caller(&wider)));

    let mut elsewhere = clinic.admin.clone();
    elsewhere.who.organization_id = domain::new_id();
    cases.push((
        "a token claiming another organization",
        clinic.caller(&elsewhere),
    ));

    let mut no_session = clinic.admin.clone();
    no_session.session_id = domain::new_id();
    cases.push((
        "a token naming an unknown session",
        clinic.caller(&no_session),
    ));
    cases
}

#[test]
fn a_caller_the_database_no_longer_backs_is_unauthenticated_runs_nothing_and_leaves_no_event() {
    let mut clinic = Riverside::new();
    for (label, caller) in unbacked_callers(&mut clinic) {
        let (result, ran) = read(&clinic, &caller, ClientAction::View);
        assert!(
            matches!(result, Err(StoreError::Unauthenticated)),
            "{label}, read: {result:?}"
        );
        assert!(!ran, "{label}: the read ran");
        let (result, ran) = rename(&clinic, &caller, ClientAction::UpdateDemographics, succeed);
        assert!(
            matches!(result, Err(StoreError::Unauthenticated)),
            "{label}, write: {result:?}"
        );
        assert!(!ran, "{label}: the write ran");
        let (flag, seen) = raised_flag();
        let result = clinic.door.on_organization(
            &caller,
            OrgAction::ListClients,
            subject("client.list"),
            move |_, _| {
                flag.store(true, Ordering::SeqCst);
                Ok(())
            },
        );
        assert!(
            matches!(result, Err(StoreError::Unauthenticated)),
            "{label}, organization: {result:?}"
        );
        assert!(!seen.load(Ordering::SeqCst), "{label}: the list ran");
    }
    // What the code does: refuses before the policy is asked, and records nothing.
    assert_eq!(clinic.events(), Vec::new());
    assert_eq!(clinic.name_of(clinic.maria), "Maria Lopez");
}

#[test]
fn organization_actions_are_decided_and_audited_once() {
    let clinic = Riverside::new();
    let org = clinic.organization;
    let create = |who: &Person| {
        let (flag, seen) = raised_flag();
        let result = clinic.door.on_organization(
            &clinic.caller(who),
            OrgAction::CreateClient,
            subject("client.create"),
            move |c: &mut Conn, _| {
                flag.store(true, Ordering::SeqCst);
                let d = renamed("Jun Tanaka");
                Ok(clients::create(c, org, domain::new_id(), d, now())?.id)
            },
        );
        (result, seen.load(Ordering::SeqCst))
    };
    let (refused, ran) = create(&clinic.therapist);
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
    assert!(!ran);
    let (created, ran) = create(&clinic.admin);
    let jun = created.unwrap_or_else(|e| panic!("{e}"));
    assert!(ran);
    assert_eq!(clinic.name_of(jun), "Jun Tanaka");
    let events: Vec<(String, String)> = clinic
        .events()
        .into_iter()
        .map(|e| (e.action, e.outcome))
        .collect();
    assert_eq!(
        events,
        vec![
            ("client.create".into(), "denied".into()),
            ("client.create".into(), "success".into()),
        ]
    );
}

/// Every operation's audit action says what a SMART-scoped token needs for it (the
/// gate holds the token to that), except the few no scope grants: following live
/// changes and the sync feed, which a scoped token is refused.
#[test]
fn every_operation_names_what_a_scoped_token_needs() {
    const NO_SCOPE_GRANTS: &[&str] = &["events.follow", "events.receive", "sync.read"];
    let sources = [
        include_str!("ops/admin.rs"),
        include_str!("ops/audit.rs"),
        include_str!("ops/care.rs"),
        include_str!("ops/clients.rs"),
        include_str!("ops/events.rs"),
        include_str!("ops/goals.rs"),
        include_str!("ops/home.rs"),
        include_str!("ops/me.rs"),
        include_str!("ops/measures.rs"),
        include_str!("ops/progress.rs"),
        include_str!("ops/reports.rs"),
        include_str!("ops/search.rs"),
        include_str!("ops/sync.rs"),
        include_str!("ops/users.rs"),
        include_str!("ops/webhooks.rs"),
    ];
    let action = |s: &str| {
        let mut parts = s.split('.');
        let shaped = s.split('.').count() >= 2
            && parts
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        shaped && !s.ends_with(".rs")
    };
    let mut seen = 0;
    for source in sources {
        for literal in source.split('"').skip(1).step_by(2).filter(|s| action(s)) {
            seen += 1;
            assert!(
                domain::smart::need_of(literal).is_some() || NO_SCOPE_GRANTS.contains(&literal),
                "`{literal}` names no SMART need (domain::smart::need_of)"
            );
        }
    }
    assert!(seen > 80, "only {seen} actions found");
}

fn scoped(clinic: &Riverside, person: &Person, scopes: &str) -> Caller {
    let smart = domain::smart::SmartScopes::parse(scopes).unwrap_or_else(|e| panic!("{e}"));
    clinic.caller(person).with_smart(Some(smart))
}

#[test]
fn smart_scopes_narrow_what_the_policy_allows_and_the_refusal_is_audited() {
    let clinic = Riverside::new();
    // Allowed by the policy, but not by the scopes: refused before it runs.
    let observations = scoped(&clinic, &clinic.therapist, "user/Observation.rs");
    let (result, ran) = read(&clinic, &observations, ClientAction::View);
    assert!(
        matches!(result, Err(StoreError::InsufficientScope)),
        "{result:?}"
    );
    assert!(!ran);
    assert_eq!(clinic.events(), one("client.read", "denied", clinic.maria));
    let (result, ran) = rename(
        &clinic,
        &observations,
        ClientAction::UpdateDemographics,
        succeed,
    );
    assert!(
        matches!(result, Err(StoreError::InsufficientScope)),
        "{result:?}"
    );
    assert!(!ran);
    // Allowed by both.
    let patients = scoped(&clinic, &clinic.therapist, "user/Patient.r");
    let (result, ran) = read(&clinic, &patients, ClientAction::View);
    assert_eq!(result.ok().as_deref(), Some("Maria Lopez"));
    assert!(ran);
    // Scopes never widen: a record the policy hides stays hidden, whatever they say.
    let everything = scoped(
        &clinic,
        &clinic.off_team_therapist,
        "user/*.cruds system/*.cruds",
    );
    let (result, ran) = read(&clinic, &everything, ClientAction::View);
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    assert!(!ran);
}
