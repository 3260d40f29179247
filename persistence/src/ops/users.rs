//! The clinic's accounts: staff and integrations (clients and caregivers get theirs
//! through their client record). Admins manage them; the directory shows each role
//! what the policy's directory scope allows.

use chrono::{DateTime, Duration, Utc};
use domain::{
    identity::{AccountChanges, NewStaff, User},
    jwks::Jwks,
    policy::{directory_scope, OrgAction},
};
use uuid::Uuid;

pub use crate::accounts::UserFilter;
pub use crate::service_keys::KeySet;
use crate::{
    accounts::{self, NewUser},
    audit::Subject,
    gate::Caller,
    now, service_keys,
    versions::{expect, Expected},
    Clinic, Page, PageRequest, StoreResult,
};

/// How a new account will first sign in: a service account with its secret (hashed
/// by the caller, who owns the hashing policy), a person through an invitation.
#[derive(Debug, Clone)]
pub enum Enrolment {
    /// The hash of the service account's secret.
    Secret { secret_hash: String },
    /// The hash of the invitation token, and how long it stays valid.
    Invitation {
        token_hash: String,
        valid_for: Duration,
    },
}

/// A new account, and when its invitation expires (for people).
#[derive(Debug, Clone)]
pub struct Enrolled {
    pub user: User,
    pub invitation_expires_at: Option<DateTime<Utc>>,
}

impl Clinic {
    /// Creates a staff or integration account (admins; `user.create`).
    pub fn create_user(
        &self,
        caller: &Caller,
        account: NewStaff,
        enrolment: Enrolment,
    ) -> StoreResult<Enrolled> {
        let user_id = domain::new_id();
        let (org, by) = (caller.who.organization_id, caller.who.user_id);
        self.on_organization(
            caller,
            OrgAction::ManageUsers,
            Subject::one("user.create", "user", user_id),
            move |conn, _| {
                let (password_hash, invitation) = match enrolment {
                    Enrolment::Secret { secret_hash } => (Some(secret_hash), None),
                    Enrolment::Invitation {
                        token_hash,
                        valid_for,
                    } => (None, Some((token_hash, valid_for))),
                };
                let new = NewUser {
                    id: user_id,
                    organization_id: org,
                    email: account.email,
                    display_name: account.display_name,
                    role: account.role,
                    discipline: account.discipline,
                    client_id: None,
                    password_hash,
                    scopes: account.scopes,
                };
                let user = accounts::insert_user(conn, new, now())?;
                let invitation_expires_at = invitation
                    .map(|(hash, ttl)| {
                        accounts::create_invitation(conn, org, user_id, &hash, Some(by), now(), ttl)
                    })
                    .transpose()?;
                Ok(Enrolled {
                    user,
                    invitation_expires_at,
                })
            },
        )
    }

    /// The accounts the caller's directory shows (`user.list`).
    pub fn users(
        &self,
        caller: &Caller,
        filter: UserFilter,
        page: PageRequest,
    ) -> StoreResult<Page<User>> {
        // A client's own login shows their name: it goes in their access log too.
        self.on_organization_showing(
            caller,
            OrgAction::ListUsers,
            Subject::many("user.list", "user"),
            move |conn, who| {
                let scope = directory_scope(who);
                accounts::list_users(conn, who.organization_id, scope, &filter, page)
            },
            |list: &Page<User>| {
                let clients = list.items.iter().filter_map(|u| Some((u.id, u.client_id?)));
                clients.collect()
            },
        )
    }

    /// One account, if the caller's directory shows it (`user.read`).
    pub fn user(&self, caller: &Caller, user_id: Uuid) -> StoreResult<User> {
        // A client's own login shows their name: it goes in their access log too.
        self.on_organization_showing(
            caller,
            OrgAction::ListUsers,
            Subject::one("user.read", "user", user_id),
            move |conn, who| {
                let scope = directory_scope(who);
                accounts::directory_entry(conn, who.organization_id, scope, user_id)
            },
            |user: &User| user.client_id.map(|c| (user.id, c)).into_iter().collect(),
        )
    }

    /// Changes an account (admins; `user.update`). Deactivating ends every session of
    /// the account at once.
    pub fn update_user(
        &self,
        caller: &Caller,
        user_id: Uuid,
        expected: Expected,
        changes: AccountChanges,
    ) -> StoreResult<User> {
        self.on_organization(
            caller,
            OrgAction::ManageUsers,
            Subject::one("user.update", "user", user_id),
            move |conn, who| {
                let org = who.organization_id;
                let before = accounts::user(conn, org, user_id)?;
                expect(&expected, before.version)?;
                changes.fit(&before)?;
                accounts::update_user(conn, org, user_id, before.version, changes, now())
            },
        )
    }
}

/// The service account `user_id` names, in the caller's clinic: NotFound outside it,
/// and a refusal naming the account for a person's account (people sign in with
/// passwords, never keys).
fn service_account(conn: &mut crate::Conn, org: Uuid, user_id: Uuid) -> StoreResult<User> {
    let user = accounts::user(conn, org, user_id)?;
    if user.role != domain::identity::Role::Service {
        return Err(domain::Invalid::field(
            "id",
            "is not a service account: only integrations sign in with keys",
        )
        .into());
    }
    Ok(user)
}

impl Clinic {
    /// A service account's current JWK Set (admins; `user.jwks.read`).
    pub fn service_keys(&self, caller: &Caller, user_id: Uuid) -> StoreResult<KeySet> {
        self.on_organization(
            caller,
            OrgAction::ManageUsers,
            Subject::one("user.jwks.read", "service_keys", user_id),
            move |conn, who| {
                service_account(conn, who.organization_id, user_id)?;
                service_keys::current(conn, user_id)
            },
        )
    }

    /// Registers a service account's JWK Set as its next version (admins;
    /// `user.jwks.update`). The set replaces the current one for verifying; the
    /// versions before it are kept. Rotating a key is registering a set with both
    /// keys, then (once the client signs with the new one) a set without the old.
    pub fn register_service_keys(
        &self,
        caller: &Caller,
        user_id: Uuid,
        expected: Expected,
        jwks: Jwks,
    ) -> StoreResult<KeySet> {
        self.on_organization(
            caller,
            OrgAction::ManageUsers,
            Subject::one("user.jwks.update", "service_keys", user_id),
            move |conn, who| {
                let org = who.organization_id;
                service_account(conn, org, user_id)?;
                service_keys::register(conn, org, user_id, &expected, &jwks, who.user_id, now())
            },
        )
    }
}
