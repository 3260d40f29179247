//! The client-record operations, through the one door: who is refused, what changes,
//! and the one audit event each leaves.

use crate::versions::Expected;
use domain::{
    client::{ClientStatus, Demographics, DemographicsInput, ExternalIdentifier},
    identity::Role,
};
use uuid::Uuid;

use crate::{
    clients::ClientFilter,
    ops::clients::NewInvitation,
    testing::{event, renamed, Event, Riverside},
    PageRequest, StoreError,
};

fn first_page() -> PageRequest {
    PageRequest {
        after: None,
        limit: 50,
    }
}

fn with_identifier(name: &str, value: &str) -> Demographics {
    Demographics::parse(
        &DemographicsInput {
            name,
            identifiers: vec![("urn:ehr:mrn", value)],
            ..Default::default()
        },
        crate::now().date_naive(),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn secret() -> NewInvitation {
    NewInvitation {
        token_hash: format!("hash-{}", domain::new_id()),
        valid_for: chrono::Duration::hours(1),
    }
}

fn listed(r: &Riverside, person: &crate::testing::Person, filter: ClientFilter) -> Vec<String> {
    let page = r
        .door
        .list_clients(&r.caller(person), filter, first_page())
        .unwrap_or_else(|e| panic!("{e}"));
    page.items.into_iter().map(|c| c.name).collect()
}

#[test]
fn the_list_shows_only_what_each_caller_may_see_and_is_audited_once_and_per_client_shown() {
    let r = Riverside::new();
    let all = ClientFilter::default;
    assert_eq!(listed(&r, &r.admin, all()), ["Maria Lopez", "Samuel Osei"]);
    assert_eq!(listed(&r, &r.therapist, all()), ["Maria Lopez"]);
    assert!(listed(&r, &r.off_team_therapist, all()).is_empty());
    assert!(listed(&r, &r.other_clinic_therapist, all()).is_empty());
    // One organization-level event per list, and one in the access log of each
    // client the list showed (issue 8: list reads were missing from access logs).
    let list = |client: Option<Uuid>| Event {
        action: "client.list".into(),
        outcome: "success".into(),
        client_id: client.map(|c| c.to_string()),
    };
    assert_eq!(
        r.events(),
        vec![
            list(None),
            list(Some(r.maria)),
            list(Some(r.sam)),
            list(None),
            list(Some(r.maria)),
            list(None),
            list(None),
        ]
    );
    let discharged = ClientFilter {
        status: Some(ClientStatus::Discharged),
        ..ClientFilter::default()
    };
    assert!(listed(&r, &r.admin, discharged).is_empty());
}

#[test]
fn an_admin_registers_a_client_once_per_identifier_and_a_therapist_may_not() {
    let r = Riverside::new();
    let client = r
        .door
        .register_client(&r.caller(&r.admin), with_identifier("Jun Tanaka", "1003"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.events(),
        vec![event("client.create", "success", client.id)]
    );
    let by_identifier = ClientFilter {
        identifier: Some(ExternalIdentifier {
            system: "urn:ehr:mrn".into(),
            value: "1003".into(),
        }),
        ..ClientFilter::default()
    };
    assert_eq!(listed(&r, &r.admin, by_identifier), ["Jun Tanaka"]);

    let before = r.events().len();
    let clash = r
        .door
        .register_client(&r.caller(&r.admin), with_identifier("Someone Else", "1003"));
    assert!(matches!(clash, Err(StoreError::Conflict(_))), "{clash:?}");
    let refused = r
        .door
        .register_client(&r.caller(&r.therapist), renamed("Not Registered"));
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
    let outcomes: Vec<String> = r
        .events_since(before)
        .into_iter()
        .filter(|e| e.action == "client.create")
        .map(|e| e.outcome)
        .collect();
    assert_eq!(outcomes, ["failed", "denied"]);
    assert_eq!(listed(&r, &r.admin, ClientFilter::default()).len(), 3);
}

#[test]
fn the_care_team_reads_a_record_and_outsiders_are_not_told_it_exists() {
    let r = Riverside::new();
    let maria = r
        .door
        .client(&r.caller(&r.therapist), r.maria)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(maria.name, "Maria Lopez");
    assert_eq!(r.events(), vec![event("client.read", "success", r.maria)]);
    r.refuses_outsiders("client.read", |caller| r.door.client(caller, r.maria));
}

#[test]
fn an_update_is_a_new_version_and_outsiders_change_nothing() {
    let r = Riverside::new();
    let update = |caller: &crate::Caller| {
        r.door.update_client(
            caller,
            r.maria,
            Expected::Any,
            renamed("Maria Renamed"),
            ClientStatus::Active,
        )
    };
    r.refuses_outsiders("client.update", update);
    assert_eq!(r.name_of(r.maria), "Maria Lopez");

    let before = r.events().len();
    let updated = update(&r.caller(&r.therapist)).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (updated.name.as_str(), updated.version),
        ("Maria Renamed", 2)
    );
    assert_eq!(
        r.events_since(before),
        vec![event("client.update", "success", r.maria)]
    );

    let before = r.events().len();
    let versions = r
        .door
        .client_versions(&r.caller(&r.therapist), r.maria)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(versions.len(), 1);
    assert_eq!(versions[0].version, 1);
    assert_eq!(versions[0].record["name"], "Maria Lopez");
    assert_eq!(
        r.events_since(before),
        vec![event("client.versions", "success", r.maria)]
    );
    r.refuses_outsiders("client.versions", |caller| {
        r.door.client_versions(caller, r.maria)
    });
}

#[test]
fn a_client_is_invited_to_one_login_by_an_admin() {
    let r = Riverside::new();
    let invite = |caller: &crate::Caller, email: &str| {
        r.door
            .invite_client(caller, r.maria, email.to_owned(), secret())
    };
    r.refuses_outsiders("client.invite", |caller| invite(caller, "m1@example.org"));
    let refused = invite(&r.caller(&r.therapist), "m2@example.org");
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");

    let before = r.events().len();
    let invited =
        invite(&r.caller(&r.admin), "maria@example.org").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(invited.user.role, Role::Client);
    assert_eq!(invited.user.client_id, Some(r.maria));
    assert_eq!(invited.user.display_name, "Maria Lopez");
    assert!(invited.expires_at > crate::now());
    assert_eq!(
        r.events_since(before),
        vec![event("client.invite", "success", r.maria)]
    );

    let again = invite(&r.caller(&r.admin), "maria2@example.org");
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
}
