//! The measures operations against a real database (SQLite, or PostgreSQL with
//! `HEADWAY_TEST_PG`): who is refused, what changes, and the one audit event each
//! operation leaves.

use crate::versions::Expected;
use domain::measure::{
    custom, Change, Correction, Direction, MeasureDefinition, Measurement, MeasurementStatus,
    OutcomeMeasure, Source, Values,
};
use uuid::Uuid;

use crate::{
    measurements,
    ops::measures::{MeasurementFilter, NewReport},
    testing::{Event, Person, Riverside},
    PageRequest, StoreError, StoreResult,
};

fn value(v: f64) -> Values {
    Values {
        value: Some(v),
        ..Default::default()
    }
}

fn nrs(v: f64) -> NewReport {
    NewReport {
        goal_id: None,
        measure_code: "nrs".into(),
        observed_at: None,
        values: value(v),
        note: Some("after the walk".into()),
    }
}

fn ok<T>(r: StoreResult<T>) -> T {
    r.unwrap_or_else(|e| panic!("{e}"))
}

/// Everything stored since `before` events, as (action, outcome) pairs.
fn since(clinic: &Riverside, before: usize) -> Vec<(String, String)> {
    clinic.events()[before..]
        .iter()
        .map(
            |Event {
                 action, outcome, ..
             }| (action.clone(), outcome.clone()),
        )
        .collect()
}

fn one(action: &str, outcome: &str) -> Vec<(String, String)> {
    vec![(action.to_owned(), outcome.to_owned())]
}

fn record(clinic: &Riverside, who: &Person, episode: Uuid, v: f64) -> StoreResult<Measurement> {
    let caller = clinic.caller(who);
    clinic
        .door
        .record_measurement(&caller, clinic.maria, episode, nrs(v))
}

fn strength(clinic: &Riverside) -> OutcomeMeasure {
    ok(custom(
        clinic.organization,
        MeasureDefinition {
            code: "grip-kg",
            name: "Grip strength",
            unit: Some("kg"),
            min: 0.0,
            max: 90.0,
            step: 0.0,
            direction: Direction::HigherIsBetter,
            meaningful_change: 6.0,
            reporters: vec![Source::Therapist],
        },
    )
    .map_err(StoreError::from))
}

#[test]
fn an_admin_defines_a_measure_once_and_the_clinic_can_use_it() {
    let clinic = Riverside::new();
    let before = clinic.events().len();
    let admin = clinic.caller(&clinic.admin);
    let defined = ok(clinic.door.define_measure(&admin, strength(&clinic)));
    assert_eq!(defined.code, "grip-kg");
    assert_eq!(since(&clinic, before), one("measure.create", "success"));

    let again = clinic.door.define_measure(&admin, strength(&clinic));
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(
        since(&clinic, before).len(),
        2,
        "one event for the conflict"
    );

    let therapist = clinic.caller(&clinic.therapist);
    let all = ok(clinic.door.measures(&therapist));
    let mine = all.iter().find(|m| m.code == "grip-kg");
    assert_eq!(
        mine.map(|m| m.reporters.clone()),
        Some(vec![Source::Therapist])
    );
    let elsewhere = clinic.caller(&clinic.other_clinic_therapist);
    assert!(ok(clinic.door.measures(&elsewhere))
        .iter()
        .all(|m| m.code != "grip-kg"));
}

#[test]
fn only_admins_define_measures() {
    let clinic = Riverside::new();
    for person in [&clinic.therapist, &clinic.other_clinic_therapist] {
        let before = clinic.events().len();
        let caller = clinic.caller(person);
        let refused = clinic.door.define_measure(&caller, strength(&clinic));
        assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
        assert_eq!(since(&clinic, before), one("measure.create", "denied"));
    }
    let therapist = clinic.caller(&clinic.therapist);
    assert!(ok(clinic.door.measures(&therapist))
        .iter()
        .all(|m| m.code != "grip-kg"));
}

#[test]
fn only_admins_choose_a_measures_primary_source_and_each_choice_is_audited_once() {
    let clinic = Riverside::new();
    let choose = |person, source| {
        let caller = clinic.caller(person);
        clinic
            .door
            .choose_primary_source(&caller, "copm".into(), Expected::Any, source)
    };
    for person in [&clinic.therapist, &clinic.other_clinic_therapist] {
        let before = clinic.events().len();
        let refused = choose(person, Source::ClientSelfReport);
        assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
        assert_eq!(
            since(&clinic, before),
            one("measure.primary_source", "denied")
        );
    }
    let before = clinic.events().len();
    let chosen = ok(choose(&clinic.admin, Source::ClientSelfReport));
    assert_eq!(chosen.measure.primary_source(), Source::ClientSelfReport);
    assert_eq!(chosen.version, 1);
    assert_eq!(
        since(&clinic, before),
        one("measure.primary_source", "success")
    );
    let therapist = clinic.caller(&clinic.therapist);
    let copm = ok(clinic.door.measures(&therapist))
        .into_iter()
        .find(|m| m.code == "copm");
    assert_eq!(
        copm.map(|m| m.primary_source()),
        Some(Source::ClientSelfReport)
    );
}

#[test]
fn the_care_team_records_and_a_measurement_is_checked_against_its_measure() {
    let clinic = Riverside::new();
    let episode = clinic.episode_of(clinic.maria);
    let before = clinic.events().len();
    let m = ok(record(&clinic, &clinic.therapist, episode, 7.0));
    assert_eq!((m.score.score, m.source), (7.0, Source::Therapist));
    assert_eq!(m.recorded_by, clinic.therapist.who.user_id);
    assert_eq!(m.status, MeasurementStatus::Final);
    assert_eq!(since(&clinic, before), one("measurement.record", "success"));

    let before = clinic.events().len();
    let off_scale = record(&clinic, &clinic.therapist, episode, 11.0);
    assert!(
        matches!(off_scale, Err(StoreError::Invalid(_))),
        "{off_scale:?}"
    );
    let elsewhere = record(
        &clinic,
        &clinic.therapist,
        clinic.episode_of(clinic.sam),
        5.0,
    );
    assert!(
        matches!(elsewhere, Err(StoreError::NotFound)),
        "{elsewhere:?}"
    );
    assert_eq!(since(&clinic, before).len(), 2);
    assert_eq!(clinic.measurement_rows(), 1);
}

#[test]
fn whoever_is_outside_the_clients_reach_records_nothing() {
    let clinic = Riverside::new();
    let episode = clinic.episode_of(clinic.maria);
    for person in [&clinic.off_team_therapist, &clinic.other_clinic_therapist] {
        let before = clinic.events().len();
        let refused = record(&clinic, person, episode, 5.0);
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
        assert_eq!(
            since(&clinic, before),
            one("measurement.record", "not-found")
        );
    }
    // An admin sees Maria's record but documents nothing in it.
    let before = clinic.events().len();
    let refused = record(&clinic, &clinic.admin, episode, 5.0);
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
    assert_eq!(since(&clinic, before), one("measurement.record", "denied"));
    assert_eq!(clinic.measurement_rows(), 0);
}

#[test]
fn a_client_records_a_self_report() {
    let clinic = Riverside::new();
    let episode = clinic.episode_of(clinic.maria);
    let maria = clinic.client_account(clinic.maria);
    let before = clinic.events().len();
    let m = ok(record(&clinic, &maria, episode, 4.0));
    assert_eq!(m.source, Source::ClientSelfReport);
    assert_eq!(since(&clinic, before), one("measurement.record", "success"));
}

#[test]
fn the_team_reads_lists_and_follows_versions_others_get_not_found() {
    let clinic = Riverside::new();
    let episode = clinic.episode_of(clinic.maria);
    let first = ok(record(&clinic, &clinic.therapist, episode, 3.0));
    ok(record(&clinic, &clinic.therapist, episode, 5.0));
    let therapist = clinic.caller(&clinic.therapist);
    let (maria, id) = (clinic.maria, first.id);
    let page = PageRequest {
        after: None,
        limit: 1,
    };

    let before = clinic.events().len();
    let listed = ok(clinic.door.list_measurements(
        &therapist,
        maria,
        episode,
        MeasurementFilter::default(),
        page,
    ));
    assert_eq!(listed.items.len(), 1);
    assert!(listed.next_cursor.is_some());
    assert_eq!(ok(clinic.door.measurement(&therapist, maria, id)), first);
    let chain = ok(clinic.door.measurement_history(&therapist, maria, id));
    assert_eq!(chain, vec![first]);
    assert_eq!(
        since(&clinic, before),
        [
            one("measurement.list", "success"),
            one("measurement.read", "success"),
            one("measurement.history", "success"),
        ]
        .concat()
    );

    for person in [&clinic.off_team_therapist, &clinic.other_clinic_therapist] {
        let caller = clinic.caller(person);
        let before = clinic.events().len();
        let filter = MeasurementFilter::default();
        let list = clinic
            .door
            .list_measurements(&caller, maria, episode, filter, page);
        assert!(matches!(list, Err(StoreError::NotFound)), "{list:?}");
        let get = clinic.door.measurement(&caller, maria, id);
        assert!(matches!(get, Err(StoreError::NotFound)), "{get:?}");
        let history = clinic.door.measurement_history(&caller, maria, id);
        assert!(matches!(history, Err(StoreError::NotFound)), "{history:?}");
        assert_eq!(
            since(&clinic, before),
            [
                one("measurement.list", "not-found"),
                one("measurement.read", "not-found"),
                one("measurement.history", "not-found"),
            ]
            .concat()
        );
    }
}

#[test]
fn a_measurement_is_not_found_through_another_clients_record() {
    let clinic = Riverside::new();
    let episode = clinic.episode_of(clinic.maria);
    let m = ok(record(&clinic, &clinic.therapist, episode, 3.0));
    // The admin reaches Sam's record, but Maria's measurement is not Sam's.
    let admin = clinic.caller(&clinic.admin);
    let through_sam = clinic.door.measurement(&admin, clinic.sam, m.id);
    assert!(
        matches!(through_sam, Err(StoreError::NotFound)),
        "{through_sam:?}"
    );
    let filter = MeasurementFilter::default();
    let page = PageRequest {
        after: None,
        limit: 50,
    };
    let listed = clinic
        .door
        .list_measurements(&admin, clinic.sam, episode, filter, page);
    assert!(matches!(listed, Err(StoreError::NotFound)), "{listed:?}");
}

fn correction(change: Change) -> Correction {
    Correction {
        change,
        reason: "typo".into(),
    }
}

fn amend(v: f64) -> Correction {
    correction(Change::Amend(domain::measure::Amendment {
        values: value(v),
        observed_at: None,
        note: None,
    }))
}

#[test]
fn a_correction_supersedes_the_current_version_once() {
    let clinic = Riverside::new();
    let episode = clinic.episode_of(clinic.maria);
    let old = ok(record(&clinic, &clinic.therapist, episode, 3.0));
    let therapist = clinic.caller(&clinic.therapist);
    let maria = clinic.maria;

    let before = clinic.events().len();
    let new =
        ok(clinic
            .door
            .correct_measurement(&therapist, maria, old.id, Expected::Any, amend(4.0)));
    assert_eq!(
        (new.status, new.supersedes, new.score.score),
        (MeasurementStatus::Amended, Some(old.id), 4.0)
    );
    assert_eq!(new.reason.as_deref(), Some("typo"));
    assert_eq!(new.note, old.note, "the note is kept");
    assert_eq!(
        since(&clinic, before),
        one("measurement.correct", "success")
    );

    let before = clinic.events().len();
    let again =
        clinic
            .door
            .correct_measurement(&therapist, maria, old.id, Expected::Any, amend(5.0));
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    assert_eq!(since(&clinic, before), one("measurement.correct", "failed"));

    let withdrawn = ok(clinic.door.correct_measurement(
        &therapist,
        maria,
        new.id,
        Expected::Any,
        correction(Change::Withdraw),
    ));
    assert_eq!(withdrawn.status, MeasurementStatus::EnteredInError);
    assert_eq!(withdrawn.score.score, 4.0);
    let chain = ok(clinic.door.measurement_history(&therapist, maria, new.id));
    let ids: Vec<Uuid> = chain.iter().map(|m| m.id).collect();
    assert_eq!(ids, [old.id, new.id, withdrawn.id]);
    let current = ok(clinic.door.list_measurements(
        &therapist,
        maria,
        episode,
        MeasurementFilter::default(),
        PageRequest {
            after: None,
            limit: 50,
        },
    ));
    assert!(
        current.items.is_empty(),
        "a withdrawn measurement is not listed"
    );
    assert_eq!(clinic.measurement_rows(), 3);
}

#[test]
fn a_client_corrects_only_what_they_recorded() {
    let clinic = Riverside::new();
    let episode = clinic.episode_of(clinic.maria);
    let maria = clinic.client_account(clinic.maria);
    let theirs = ok(record(&clinic, &clinic.therapist, episode, 3.0));
    let own = ok(record(&clinic, &maria, episode, 6.0));
    let caller = clinic.caller(&maria);

    let before = clinic.events().len();
    let refused = clinic.door.correct_measurement(
        &caller,
        clinic.maria,
        theirs.id,
        Expected::Any,
        amend(9.0),
    );
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
    assert_eq!(since(&clinic, before), one("measurement.correct", "denied"));
    assert_eq!(clinic.measurement_rows(), 2, "nothing changed");

    let fixed = ok(clinic.door.correct_measurement(
        &caller,
        clinic.maria,
        own.id,
        Expected::Any,
        amend(5.0),
    ));
    assert_eq!(
        (fixed.source, fixed.score.score),
        (Source::ClientSelfReport, 5.0)
    );
}

#[test]
fn whoever_is_outside_the_clients_reach_corrects_nothing() {
    let clinic = Riverside::new();
    let episode = clinic.episode_of(clinic.maria);
    let m = ok(record(&clinic, &clinic.therapist, episode, 3.0));
    for person in [&clinic.off_team_therapist, &clinic.other_clinic_therapist] {
        let caller = clinic.caller(person);
        let before = clinic.events().len();
        let refused =
            clinic
                .door
                .correct_measurement(&caller, clinic.maria, m.id, Expected::Any, amend(4.0));
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
        assert_eq!(
            since(&clinic, before),
            one("measurement.correct", "not-found")
        );
    }
    assert_eq!(clinic.measurement_rows(), 1);
    let therapist = clinic.caller(&clinic.therapist);
    let still = ok(clinic.door.measurement(&therapist, clinic.maria, m.id));
    assert_eq!(still.superseded_by, None);
}

#[test]
fn a_child_query_answers_only_for_the_client_it_was_reached_through() {
    let clinic = Riverside::new();
    let episode = clinic.episode_of(clinic.maria);
    let m = ok(record(&clinic, &clinic.therapist, episode, 3.0));
    let org = clinic.organization;
    let mut conn = clinic.connect();
    let maria = crate::Reached::without_caller(clinic.maria, org);
    let sam = crate::Reached::without_caller(clinic.sam, org);
    let elsewhere = crate::Reached::without_caller(clinic.maria, Uuid::from_u128(1));
    assert_eq!(ok(measurements::measurement(&mut conn, maria, m.id)), m);
    for other in [sam, elsewhere] {
        let found = measurements::measurement(&mut conn, other, m.id);
        assert!(matches!(found, Err(StoreError::NotFound)), "{found:?}");
        assert!(ok(measurements::counting_in_episode(&mut conn, other, episode)).is_empty());
        let series = measurements::series(&mut conn, other, Uuid::nil(), "nrs", None, None);
        assert!(ok(series).is_empty());
    }
    assert_eq!(
        ok(measurements::counting_in_episode(&mut conn, maria, episode)),
        vec![m]
    );
}
