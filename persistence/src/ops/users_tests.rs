//! The clinic's accounts through their operations: who may manage and see them, and
//! the one audit event each leaves.

use crate::versions::Expected;
use chrono::Duration;
use domain::identity::{AccountChanges, Discipline, NewStaff, Role, Scopes};

use crate::{
    ops::users::{Enrolment, UserFilter},
    testing::{Event, Riverside},
    PageRequest, StoreError,
};

fn therapist(email: &str) -> NewStaff {
    NewStaff {
        role: Role::Therapist,
        display_name: "Tess".into(),
        email: Some(email.into()),
        discipline: Some(Discipline::OccupationalTherapy),
        scopes: Scopes::default(),
    }
}

fn invitation() -> Enrolment {
    Enrolment::Invitation {
        token_hash: format!("invite-{}", domain::new_id()),
        valid_for: Duration::days(1),
    }
}

fn event(action: &str, outcome: &str) -> Event {
    Event {
        action: action.into(),
        outcome: outcome.into(),
        client_id: None,
    }
}

fn page() -> PageRequest {
    PageRequest {
        after: None,
        limit: 100,
    }
}

#[test]
fn an_admin_invites_staff_and_others_are_refused_with_nothing_created() {
    let clinic = Riverside::new();
    let admin = clinic.caller(&clinic.admin);
    let enrolled = clinic
        .door
        .create_user(&admin, therapist("tess@riverside.example"), invitation())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(enrolled.invitation_expires_at.is_some());
    assert!(!enrolled.user.has_password);
    let service = NewStaff {
        role: Role::Service,
        display_name: "EHR".into(),
        email: None,
        discipline: None,
        scopes: Scopes::parse("clients:read").unwrap_or_default(),
    };
    let secret = Enrolment::Secret {
        secret_hash: "plain:s3cret".into(),
    };
    let integration = clinic
        .door
        .create_user(&admin, service, secret)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(integration.invitation_expires_at.is_none() && integration.user.has_password);
    for person in [&clinic.therapist, &clinic.other_clinic_therapist] {
        let refused = clinic.door.create_user(
            &clinic.caller(person),
            therapist("eve@riverside.example"),
            invitation(),
        );
        assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
    }
    let everyone = clinic
        .door
        .users(&admin, UserFilter::default(), page())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!everyone
        .items
        .iter()
        .any(|u| u.email.as_deref() == Some("eve@riverside.example")));
    assert_eq!(
        clinic.events(),
        [
            event("user.create", "success"),
            event("user.create", "success"),
            event("user.create", "denied"),
            event("user.create", "denied"),
            event("user.list", "success"),
        ]
    );
}

#[test]
fn a_taken_email_fails_and_changes_nothing_but_the_audit_trail() {
    let clinic = Riverside::new();
    let admin = clinic.caller(&clinic.admin);
    let door = &clinic.door;
    door.create_user(&admin, therapist("tess@riverside.example"), invitation())
        .unwrap_or_else(|e| panic!("{e}"));
    let again = door.create_user(&admin, therapist("tess@riverside.example"), invitation());
    assert!(matches!(again, Err(StoreError::Invalid(_))), "{again:?}");
    let filter = UserFilter {
        role: Some(Role::Therapist),
        active: None,
    };
    let therapists = door
        .users(&admin, filter, page())
        .unwrap_or_else(|e| panic!("{e}"));
    // The fixture's two therapists, and Tess once.
    assert_eq!(therapists.items.len(), 3);
    assert_eq!(
        clinic.events(),
        [
            event("user.create", "success"),
            event("user.create", "failed"),
            event("user.list", "success"),
        ]
    );
}

#[test]
fn accounts_of_another_clinic_are_out_of_reach() {
    let clinic = Riverside::new();
    let outsider = clinic.caller(&clinic.other_clinic_therapist);
    let admin_id = clinic.admin.who.user_id;
    let read = clinic.door.user(&outsider, admin_id);
    assert!(matches!(read, Err(StoreError::NotFound)), "{read:?}");
    let listed = clinic
        .door
        .users(&outsider, UserFilter::default(), page())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(listed.items.iter().all(|u| u.id != admin_id));
    let own = clinic
        .door
        .user(&clinic.caller(&clinic.therapist), admin_id)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(own.role, Role::Admin);
    assert_eq!(
        clinic.events(),
        [
            event("user.read", "not-found"),
            event("user.list", "success"),
            event("user.read", "success"),
        ]
    );
}

#[test]
fn only_an_admin_changes_accounts_and_deactivation_ends_their_sessions() {
    let clinic = Riverside::new();
    let door = &clinic.door;
    let target = clinic.off_team_therapist.who.user_id;
    let rename = AccountChanges {
        display_name: Some("Renamed".into()),
        ..Default::default()
    };
    let refused = door.update_user(
        &clinic.caller(&clinic.therapist),
        target,
        Expected::Any,
        rename.clone(),
    );
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
    let outsider = door.update_user(
        &clinic.caller(&clinic.other_clinic_therapist),
        target,
        Expected::Any,
        rename,
    );
    assert!(
        matches!(outsider, Err(StoreError::Forbidden)),
        "{outsider:?}"
    );
    let admin = clinic.caller(&clinic.admin);
    // A discipline is for therapists: the admin's own account refuses one.
    let misfit = AccountChanges {
        discipline: Some(Discipline::Nursing),
        ..Default::default()
    };
    let wrong = door.update_user(&admin, clinic.admin.who.user_id, Expected::Any, misfit);
    assert!(matches!(wrong, Err(StoreError::Invalid(_))), "{wrong:?}");
    let off = AccountChanges {
        active: Some(false),
        ..Default::default()
    };
    let deactivated = door
        .update_user(&admin, target, Expected::Any, off)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!deactivated.active);
    let unchanged = door.user(&admin, target).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(unchanged.display_name, "Renamed");
    // Their token no longer stands for anyone.
    let gone = door.users(
        &clinic.caller(&clinic.off_team_therapist),
        UserFilter::default(),
        page(),
    );
    assert!(matches!(gone, Err(StoreError::Unauthenticated)), "{gone:?}");
    assert_eq!(
        clinic.events(),
        [
            event("user.update", "denied"),
            event("user.update", "denied"),
            event("user.update", "failed"),
            event("user.update", "success"),
            event("user.read", "success"),
        ]
    );
}
