//! Reading the audit trail, through the one door: the clinic's search and a client's
//! access log are themselves audited, once each.

use domain::audit::Outcome;

use crate::{
    audit::AuditFilter,
    testing::{event, Event, Riverside},
    PageRequest, StoreError,
};

fn first_page() -> PageRequest {
    PageRequest {
        after: None,
        limit: 50,
    }
}

#[test]
fn an_admin_searches_the_clinics_trail_and_a_therapist_may_not() {
    let r = Riverside::new();
    r.door
        .client(&r.caller(&r.therapist), r.maria)
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = r.door.search_audit(
        &r.caller(&r.therapist),
        AuditFilter::default(),
        first_page(),
    );
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
    let reads = AuditFilter {
        client_id: Some(r.maria),
        outcome: Some(Outcome::Success),
        ..AuditFilter::default()
    };
    let before = r.events().len();
    let found = r
        .door
        .search_audit(&r.caller(&r.admin), reads, first_page())
        .unwrap_or_else(|e| panic!("{e}"));
    let actions: Vec<&str> = found.items.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["client.read"]);
    assert_eq!(
        r.events_since(before),
        vec![Event {
            action: "audit.search".into(),
            outcome: "success".into(),
            client_id: None,
        }]
    );
    // Another clinic's trail is not searched: its therapist's refusal is not in ours.
    let theirs = r
        .door
        .search_audit(
            &r.caller(&r.admin),
            AuditFilter {
                action: Some("audit.search".into()),
                ..AuditFilter::default()
            },
            first_page(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(theirs
        .items
        .iter()
        .all(|e| e.organization_id == Some(r.organization)));
}

#[test]
fn the_access_log_names_who_touched_the_record_and_is_hidden_from_outsiders() {
    let r = Riverside::new();
    r.door
        .client(&r.caller(&r.therapist), r.maria)
        .unwrap_or_else(|e| panic!("{e}"));
    r.refuses_outsiders("client.access_log", |caller| {
        r.door.access_log(caller, r.maria, false, first_page())
    });
    let before = r.events().len();
    let log = r
        .door
        .access_log(&r.caller(&r.admin), r.maria, false, first_page())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.events_since(before),
        vec![event("client.access_log", "success", r.maria)]
    );
    // Newest first; the off-team therapist's refusal is there, another clinic's is not.
    let seen: Vec<(&str, &str)> = log
        .items
        .iter()
        .map(|e| (e.action.as_str(), e.outcome.as_str()))
        .collect();
    assert_eq!(
        seen,
        [
            ("client.access_log", "not-found"),
            ("client.read", "success")
        ]
    );
}
