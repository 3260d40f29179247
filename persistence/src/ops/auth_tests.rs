//! Signing in and out, against a real database: the lockout rule, rehashing, refresh
//! rotation with replay detection, sign-out and invitations, each leaving one event.

use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};

use chrono::Duration;
use domain::{
    audit::RequestMeta,
    identity::{Lockout, Login, PasswordCheck, Role, SignIn, Verdict},
};

use crate::{
    accounts, db, now,
    ops::auth::{Attempt, Refreshed},
    testing::{Event, Riverside},
    StoreError,
};

/// Stored hashes are `plain:<password>` (current) or `old:<password>` (outdated).
struct Plain(Arc<AtomicBool>);

impl PasswordCheck for Plain {
    fn check(self, stored: Option<&str>, secret: &str) -> Result<Verdict, String> {
        self.0.store(true, Ordering::SeqCst);
        Ok(match stored {
            Some(s) if s == format!("plain:{secret}") => Verdict::Right { rehashed: None },
            Some(s) if s == format!("old:{secret}") => Verdict::Right {
                rehashed: Some(format!("plain:{secret}")),
            },
            _ => Verdict::Wrong,
        })
    }
}

fn lockout() -> Lockout {
    Lockout {
        login_max_failures: 3,
        address_max_failures: 100,
        window: Duration::minutes(15),
    }
}

fn meta() -> RequestMeta {
    RequestMeta {
        request_id: Some("req".into()),
        source_ip: Some("192.0.2.1".into()),
    }
}

/// Signs in as `email` with `password` from `address`; whether the secret was checked.
fn sign_in(clinic: &Riverside, email: &str, password: &str, address: &str) -> (SignIn, bool) {
    let checked = Arc::new(AtomicBool::new(false));
    let attempt = Attempt {
        login: Login::Person {
            email: email.into(),
        },
        address: address.into(),
        secret: password.into(),
    };
    let result = clinic
        .door
        .sign_in(attempt, meta(), lockout(), Plain(checked.clone()))
        .unwrap_or_else(|e| panic!("{e}"));
    (result, checked.load(Ordering::SeqCst))
}

fn event(action: &str, outcome: &str) -> Event {
    Event {
        action: action.into(),
        outcome: outcome.into(),
        client_id: None,
    }
}

#[test]
fn the_right_password_signs_in_and_an_outdated_hash_is_replaced() {
    let clinic = Riverside::new();
    clinic.login("ada@riverside.example", Role::Therapist, "old:secret pass");
    let (result, checked) = sign_in(&clinic, "ada@riverside.example", "secret pass", "a");
    assert!(checked);
    assert!(matches!(result, SignIn::Accepted(u) if u.role == Role::Therapist));
    assert_eq!(
        clinic.password_hash_of("ada@riverside.example").as_deref(),
        Some("plain:secret pass")
    );
    assert_eq!(clinic.events(), [event("auth.login", "success")]);
}

#[test]
fn failures_lock_the_login_for_that_address_only_and_each_leaves_one_event() {
    let clinic = Riverside::new();
    clinic.login("ada@riverside.example", Role::Therapist, "plain:right one");
    for _ in 0..2 {
        let (result, _) = sign_in(&clinic, "ada@riverside.example", "wrong", "a");
        assert_eq!(result, SignIn::Refused);
    }
    // The third failure locks.
    let (result, _) = sign_in(&clinic, "ada@riverside.example", "wrong", "a");
    assert!(matches!(result, SignIn::Locked { retry_after_secs } if retry_after_secs > 0));
    // Locked: refused before the secret is even checked, right or not.
    let (result, checked) = sign_in(&clinic, "ada@riverside.example", "right one", "a");
    assert!(matches!(result, SignIn::Locked { .. }) && !checked);
    // Another address is not locked out.
    let (result, _) = sign_in(&clinic, "ada@riverside.example", "right one", "b");
    assert!(matches!(result, SignIn::Accepted(_)));
    let failed = event("auth.login", "failed");
    assert_eq!(
        clinic.events(),
        [
            failed.clone(),
            failed.clone(),
            failed,
            event("auth.login", "denied"),
            event("auth.login", "success"),
        ]
    );
}

#[test]
fn unknown_and_inactive_accounts_are_refused_alike_after_a_check() {
    let clinic = Riverside::new();
    let user = clinic.login("gone@riverside.example", Role::Therapist, "plain:password");
    let deactivate = domain::identity::AccountChanges {
        active: Some(false),
        ..Default::default()
    };
    db::write(&mut clinic.connect(), |c| {
        let read = accounts::user(c, clinic.organization, user.id)?.version;
        accounts::update_user(c, clinic.organization, user.id, read, deactivate, now())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    for email in ["gone@riverside.example", "nobody@riverside.example"] {
        let (result, checked) = sign_in(&clinic, email, "password", "a");
        assert_eq!(result, SignIn::Refused);
        assert!(checked, "{email} must cost a check too");
    }
    assert_eq!(clinic.events().len(), 2);
}

#[test]
fn a_refresh_token_rotates_once_and_a_replay_ends_the_session() {
    let clinic = Riverside::new();
    let user = clinic.login("ada@riverside.example", Role::Therapist, "plain:pw");
    let door = &clinic.door;
    let ttl = Duration::hours(1);
    let session = door
        .start_session(user.id, "r1".into(), ttl)
        .unwrap_or_else(|e| panic!("{e}"));
    let rotated = door.refresh("r1".into(), "r2".into(), ttl, meta());
    assert!(matches!(rotated, Ok(Refreshed::Rotated { session_id, .. }) if session_id == session));
    // r1 again: someone holds a copy. The session ends, so r2 dies with it.
    let replay = door.refresh("r1".into(), "r3".into(), ttl, meta());
    assert!(matches!(replay, Ok(Refreshed::Refused)));
    let after = door.refresh("r2".into(), "r4".into(), ttl, meta());
    assert!(matches!(after, Ok(Refreshed::Refused)));
    let unknown = door.refresh("nope".into(), "r5".into(), ttl, meta());
    assert!(matches!(unknown, Ok(Refreshed::Refused)));
    assert_eq!(
        clinic.events(),
        [
            event("auth.refresh", "success"),
            event("auth.refresh_reuse", "denied"),
            event("auth.refresh", "failed"),
            event("auth.refresh", "failed"),
        ]
    );
}

#[test]
fn signing_out_ends_the_session_and_an_unknown_token_records_nothing() {
    let clinic = Riverside::new();
    let user = clinic.login("ada@riverside.example", Role::Therapist, "plain:pw");
    let door = &clinic.door;
    let ttl = Duration::hours(1);
    door.start_session(user.id, "r1".into(), ttl)
        .unwrap_or_else(|e| panic!("{e}"));
    door.sign_out("unknown".into(), meta())
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(clinic.events().is_empty());
    door.sign_out("r1".into(), meta())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(clinic.events(), [event("auth.logout", "success")]);
    let refresh = door.refresh("r1".into(), "r2".into(), ttl, meta());
    assert!(matches!(refresh, Ok(Refreshed::Refused)));
}

#[test]
fn an_invitation_sets_a_password_once() {
    let clinic = Riverside::new();
    let invited = clinic.login("new@riverside.example", Role::Therapist, "unset");
    db::write(&mut clinic.connect(), |c| {
        accounts::create_invitation(
            c,
            clinic.organization,
            invited.id,
            "invite",
            None,
            now(),
            Duration::days(1),
        )
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let door = &clinic.door;
    let accepted = door
        .accept_invitation("invite".into(), "plain:new password".into(), meta())
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(accepted.id, invited.id);
    assert_eq!(
        clinic.password_hash_of("new@riverside.example").as_deref(),
        Some("plain:new password")
    );
    let again = door.accept_invitation("invite".into(), "plain:other".into(), meta());
    assert!(matches!(again, Err(StoreError::NotFound)));
    assert_eq!(
        clinic.events(),
        [Event {
            action: "auth.invitation_accept".into(),
            outcome: "success".into(),
            client_id: None,
        }]
    );
}
