//! What the `headway` command does to a database: migrate, verify, seed, create.

use domain::identity::Role;

use crate::{
    accounts,
    ops::admin::{DemoSecrets, FirstAdmin},
    testing::{empty_clinic, Riverside},
    Clinic,
};

fn secrets() -> DemoSecrets {
    DemoSecrets {
        password_hash: "plain:demo".into(),
        service_secret_hash: "plain:secret".into(),
    }
}

#[test]
fn the_demo_seeds_an_empty_database_once() {
    let (clinic, _backend, _dir) = empty_clinic();
    assert!(clinic.is_empty().unwrap_or_else(|e| panic!("{e}")));
    let demo = clinic
        .seed_demo(secrets())
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("not seeded"));
    assert_eq!(demo.people.len(), 7);
    assert!(
        demo.people
            .iter()
            .any(|(email, role, _)| email == "olivia.ot@riverside.example"
                && *role == Role::Therapist)
    );
    let again = clinic
        .seed_demo(secrets())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(again.is_none());
}

#[test]
fn a_database_with_a_clinic_is_never_seeded() {
    let riverside = Riverside::new();
    let seeded = riverside
        .door
        .seed_demo(secrets())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(seeded.is_none());
    assert!(riverside.events().is_empty());
}

#[test]
fn a_new_clinic_gets_its_first_admin() {
    let (clinic, _backend, _dir) = empty_clinic();
    let admin = FirstAdmin {
        email: "lee@lakeside.example".into(),
        display_name: " Lee Admin ".into(),
        password_hash: "plain:pw".into(),
    };
    let (org, admin_id) = clinic
        .create_organization(" Lakeside ", admin)
        .unwrap_or_else(|e| panic!("{e}"));
    let stored = clinic
        .read(move |c| {
            Ok((
                accounts::organization(c, org)?,
                accounts::user(c, org, admin_id)?,
            ))
        })
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(stored.0.name, "Lakeside");
    assert_eq!(
        (stored.1.role, stored.1.display_name.as_str()),
        (Role::Admin, "Lee Admin")
    );
    assert!(stored.1.has_password);
}

#[test]
fn migrating_twice_applies_nothing_and_the_audit_chain_verifies() {
    let riverside = Riverside::new();
    let applied = Clinic::migrate(&riverside.backend).unwrap_or_else(|e| panic!("{e}"));
    assert!(applied.is_empty());
    riverside
        .door
        .users(
            &riverside.caller(&riverside.admin),
            crate::ops::users::UserFilter::default(),
            crate::PageRequest {
                after: None,
                limit: 10,
            },
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let report = Clinic::verify_audit_chain(&riverside.backend).unwrap_or_else(|e| panic!("{e}"));
    assert!(!report.chains.is_empty());
    assert!(report.chains.iter().all(|c| c.broken.is_none()));
}
