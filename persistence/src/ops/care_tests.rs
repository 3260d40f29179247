//! Care teams and caregivers, through the one door: who is refused, what changes,
//! and the one audit event each operation leaves.

use crate::versions::Expected;
use domain::{client::TeamRole, identity::Role, policy::CaregiverPermission};

use crate::{
    ops::{care::NewCaregiver, clients::NewInvitation},
    testing::{event, Riverside},
    Caller, StoreError,
};

fn secret() -> NewInvitation {
    NewInvitation {
        token_hash: format!("hash-{}", domain::new_id()),
        valid_for: chrono::Duration::hours(1),
    }
}

fn carer(email: &str) -> NewCaregiver {
    NewCaregiver {
        email: email.to_owned(),
        name: "Lucia Lopez".into(),
        relationship: Some("daughter".into()),
        permission: CaregiverPermission::View,
    }
}

fn team_of(r: &Riverside) -> Vec<uuid::Uuid> {
    r.door
        .care_team(&r.caller(&r.admin), r.maria, false)
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(|m| m.therapist_id)
        .collect()
}

#[test]
fn the_care_team_is_read_by_its_members_and_hidden_from_outsiders() {
    let r = Riverside::new();
    let team = r
        .door
        .care_team(&r.caller(&r.therapist), r.maria, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(team.len(), 1);
    assert_eq!(team[0].therapist_id, r.therapist.who.user_id);
    assert_eq!(team[0].team_role, TeamRole::PrimaryTherapist);
    assert_eq!(
        r.events(),
        vec![event("care_team.read", "success", r.maria)]
    );
    r.refuses_outsiders("care_team.read", |caller| {
        r.door.care_team(caller, r.maria, false)
    });
}

#[test]
fn an_admin_adds_an_active_therapist_of_the_clinic_once_and_removes_them() {
    let r = Riverside::new();
    let newcomer = r.off_team_therapist.who.user_id;
    let add = |caller: &Caller, therapist| {
        r.door
            .add_care_team_member(caller, r.maria, therapist, TeamRole::Consulting)
    };
    r.refuses_outsiders("care_team.add", |caller| add(caller, newcomer));
    let primary = r
        .door
        .care_team(&r.caller(&r.admin), r.maria, false)
        .unwrap_or_else(|e| panic!("{e}"))[0]
        .id;
    r.refuses_outsiders("care_team.remove", |caller| {
        r.door.remove_care_team_member(caller, r.maria, primary)
    });
    let refused = add(&r.caller(&r.therapist), newcomer);
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");

    let before = r.events().len();
    let member = add(&r.caller(&r.admin), newcomer).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(member.team_role, TeamRole::Consulting);
    assert_eq!(
        r.events_since(before),
        vec![event("care_team.add", "success", r.maria)]
    );
    assert_eq!(team_of(&r), [r.therapist.who.user_id, newcomer]);

    let admin = r.caller(&r.admin);
    let again = add(&admin, newcomer);
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    for not_a_therapist_here in [
        r.admin.who.user_id,
        r.other_clinic_therapist.who.user_id,
        domain::new_id(),
    ] {
        let bad = add(&admin, not_a_therapist_here);
        assert!(matches!(bad, Err(StoreError::Invalid(_))), "{bad:?}");
    }

    // Now on the team, the newcomer sees Maria but may not change her team.
    let remove = |caller: &Caller| r.door.remove_care_team_member(caller, r.maria, member.id);
    let refused = remove(&r.caller(&r.off_team_therapist));
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");
    let before = r.events().len();
    remove(&admin).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.events_since(before),
        vec![event("care_team.remove", "success", r.maria)]
    );
    assert_eq!(team_of(&r), [r.therapist.who.user_id]);
    let gone = remove(&admin);
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
}

#[test]
fn a_caregiver_is_found_or_invited_once_changed_and_revoked() {
    let r = Riverside::new();
    let admin = r.caller(&r.admin);
    let grant = |caller: &Caller, client, email: &str| {
        r.door
            .grant_caregiver(caller, client, carer(email), secret())
    };
    r.refuses_outsiders("caregiver.grant", |caller| {
        grant(caller, r.maria, "outsider@example.org")
    });
    let refused = grant(&r.caller(&r.therapist), r.maria, "t@example.org");
    assert!(matches!(refused, Err(StoreError::Forbidden)), "{refused:?}");

    // No account has the e-mail: one is made, with an invitation.
    let before = r.events().len();
    let invited = grant(&admin, r.maria, "lucia@example.org").unwrap_or_else(|e| panic!("{e}"));
    assert!(invited.invitation_expires_at.is_some());
    assert_eq!(invited.link.caregiver_name, "Lucia Lopez");
    assert_eq!(
        r.events_since(before),
        vec![event("caregiver.grant", "success", r.maria)]
    );
    // The same account is found for another client, without a new invitation.
    let found = grant(&admin, r.sam, "lucia@example.org").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(found.invitation_expires_at, None);
    assert_eq!(found.link.caregiver_id, invited.link.caregiver_id);
    let twice = grant(&admin, r.maria, "lucia@example.org");
    assert!(matches!(twice, Err(StoreError::Conflict(_))), "{twice:?}");

    let before = r.events().len();
    let links = r
        .door
        .caregivers(&admin, r.maria, false)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(links.len(), 1);
    assert_eq!(
        r.events_since(before),
        vec![event("caregiver.read", "success", r.maria)]
    );
    r.refuses_outsiders("caregiver.read", |caller| {
        r.door.caregivers(caller, r.maria, true)
    });

    let link = invited.link.id;
    let change = |caller: &Caller| {
        r.door.change_caregiver(
            caller,
            r.maria,
            link,
            Expected::Any,
            CaregiverPermission::Contribute,
        )
    };
    r.refuses_outsiders("caregiver.change", change);
    let before = r.events().len();
    let changed = change(&admin).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(changed.permission, CaregiverPermission::Contribute);
    assert_eq!(
        r.events_since(before),
        vec![event("caregiver.change", "success", r.maria)]
    );

    let revoke = |caller: &Caller| r.door.revoke_caregiver(caller, r.maria, link);
    r.refuses_outsiders("caregiver.revoke", revoke);
    let before = r.events().len();
    revoke(&admin).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        r.events_since(before),
        vec![event("caregiver.revoke", "success", r.maria)]
    );
    let history = r
        .door
        .caregivers(&admin, r.maria, true)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(history[0].revoked_at.is_some());
    let again = revoke(&admin);
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
}

#[test]
fn an_account_that_is_not_a_caregiver_here_is_a_bad_email() {
    let r = Riverside::new();
    let admin = r.caller(&r.admin);
    // Lucia becomes a caregiver of Maria; Maria's own login is not a caregiver account.
    let login = r
        .door
        .invite_client(&admin, r.maria, "maria@example.org".into(), secret())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(login.user.role, Role::Client);
    let bad = r
        .door
        .grant_caregiver(&admin, r.sam, carer("maria@example.org"), secret());
    match bad {
        Err(StoreError::Invalid(domain::Invalid(fields))) => assert_eq!(fields[0].field, "email"),
        other => panic!("{other:?}"),
    }
}
