//! Following a record live: who a caller may hear of, the change log in order, and
//! single-use tickets for browsers.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use domain::{
    audit::{Outcome, RequestMeta},
    change::{may_see, Change},
    identity::{token_is_backed, Principal, Role, Scopes},
    policy::{decide, CaregiverPermission, ClientAction, ClientRelation, Decision, OrgAction},
};
use uuid::Uuid;

use crate::{
    audit::{self, Actor, Subject},
    changes,
    rows::{id, parse_stored},
    schema::{care_team_members, caregiver_links, stream_tickets},
    Caller, Clinic, StoreError, StoreResult,
};

/// Whose changes a caller may hear of, as the policy decides today. A stream holds one
/// and asks for a fresh one when access may have changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reach {
    pub who: Principal,
    organization_wide: bool,
    clients: HashMap<Uuid, ClientRelation>,
}

impl Reach {
    /// The caller's standing to a client of an organization.
    pub(crate) fn relation(&self, organization_id: Uuid, client_id: Uuid) -> ClientRelation {
        if organization_id != self.who.organization_id {
            return ClientRelation::default();
        }
        let in_organization = ClientRelation {
            in_organization: true,
            ..Default::default()
        };
        if self.organization_wide {
            in_organization
        } else {
            self.clients
                .get(&client_id)
                .copied()
                .unwrap_or(in_organization)
        }
    }

    /// The clients the caller stands in a relation to (none listed when
    /// organization-wide: they reach every client of the clinic).
    pub(crate) fn clients(&self) -> impl Iterator<Item = Uuid> + '_ {
        self.clients.keys().copied()
    }

    /// Whether the caller hears of the whole clinic (admins, integrations): access
    /// changes to one client's record do not change that.
    pub fn is_organization_wide(&self) -> bool {
        self.organization_wide
    }

    /// Whether the caller may view the client's record at all (a stream filtered to
    /// a client outside their reach is refused as that client would be: not found).
    pub fn reaches(&self, organization_id: Uuid, client_id: Uuid) -> bool {
        let relation = self.relation(organization_id, client_id);
        decide(&self.who, relation, ClientAction::View) == Decision::Allow
    }

    /// Whether the caller may hear of `change` (the policy, through `domain::change`).
    pub fn hears(&self, change: &Change) -> bool {
        let relation = self.relation(change.organization_id, change.client_id);
        may_see(&self.who, relation, change.kind, change.audience)
    }
}

impl Clinic {
    /// Confirms the caller and works out whose changes they may hear of: a client
    /// their own record, a caregiver the clients who granted them access, a therapist
    /// their caseload, an admin (or an integration, within its scopes) the clinic.
    pub fn follow(&self, caller: &Caller) -> StoreResult<Reach> {
        self.on_organization(
            caller,
            OrgAction::FollowChanges,
            Subject::many("events.follow", "change"),
            reach_of,
        )
    }

    /// Whether the caller's token is still backed (session live, account active).
    pub fn still_signed_in(&self, caller: &Caller) -> StoreResult<bool> {
        match self.confirmed_read(caller, |_| Ok(())) {
            Ok(()) => Ok(true),
            Err(StoreError::Unauthenticated) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Leaves, in the client's access log, that the caller heard of changes to their
    /// record live (once per client per stream; the stream calls it).
    pub fn heard_of(&self, caller: &Caller, client_id: Uuid) -> StoreResult<()> {
        let subject = Subject {
            client_id: Some(client_id),
            ..Subject::one("events.receive", "client", client_id)
        };
        let row = audit::row(
            Actor::from(&caller.who),
            &subject,
            Outcome::Success,
            &caller.meta,
            crate::now(),
        );
        self.writer.append_audit(row)?.wait()
    }

    /// Up to `limit` entries of the change log after `seq`, in order: ids and kinds
    /// only. Streams filter them through each caller's [`Reach`].
    pub fn changes_after(&self, seq: i64, limit: i64) -> StoreResult<Vec<Change>> {
        self.read(|conn| changes::after(conn, seq, limit))
    }

    /// The oldest place the log still keeps (none when empty) and its head.
    pub fn change_log_bounds(&self) -> StoreResult<(Option<i64>, i64)> {
        self.read(changes::bounds)
    }

    /// Wakes when this instance commits changes (with the new head); on PostgreSQL
    /// also when another instance does (LISTEN/NOTIFY, see [`Clinic::open`]).
    pub fn commits(&self) -> tokio::sync::watch::Receiver<i64> {
        self.writer.heads.subscribe()
    }

    /// Forgets changes older than `cutoff` (the retention window).
    pub fn prune_changes(&self, cutoff: DateTime<Utc>) -> StoreResult<usize> {
        self.write(move |conn| changes::prune(conn, cutoff))
    }

    /// Stores a stream ticket (by its hash) for the caller, valid until `expires_at`.
    pub fn issue_stream_ticket(
        &self,
        caller: &Caller,
        ticket_hash: String,
        expires_at: DateTime<Utc>,
    ) -> StoreResult<()> {
        let mut conn = self.pool.get().map_err(StoreError::from)?;
        caller.confirm(&mut conn)?;
        // A ticket names only the account: a token held to SMART scopes would leave
        // them behind, so it gets none (it may not follow changes either).
        if caller.smart.is_some() {
            return Err(StoreError::InsufficientScope);
        }
        let (user, session) = (caller.who.user_id, caller.session_id);
        let scopes = caller.who.scopes.to_string();
        self.write(move |conn| {
            diesel::insert_into(stream_tickets::table)
                .values((
                    stream_tickets::hash.eq(ticket_hash),
                    stream_tickets::user_id.eq(user.to_string()),
                    stream_tickets::session_id.eq(session.map(|s| s.to_string())),
                    stream_tickets::scopes.eq(scopes),
                    stream_tickets::expires_at.eq(expires_at.naive_utc()),
                ))
                .execute(conn)?;
            Ok(())
        })
    }

    /// Uses a stream ticket once: the caller it was issued to, still signed in, or
    /// `Unauthenticated` (unknown, expired, used, or the sign-in ended).
    pub fn redeem_stream_ticket(
        &self,
        ticket_hash: String,
        meta: RequestMeta,
    ) -> StoreResult<Caller> {
        let now = crate::now();
        let held = self.write(move |conn| {
            let row: Option<(String, Option<String>, String)> = stream_tickets::table
                .find(&ticket_hash)
                .filter(stream_tickets::used_at.is_null())
                .filter(stream_tickets::expires_at.gt(now.naive_utc()))
                .select((
                    stream_tickets::user_id,
                    stream_tickets::session_id,
                    stream_tickets::scopes,
                ))
                .first(conn)
                .optional()?;
            diesel::update(stream_tickets::table.find(&ticket_hash))
                .set(stream_tickets::used_at.eq(now.naive_utc()))
                .execute(conn)?;
            // Expired tickets are forgotten as new ones are used.
            diesel::delete(
                stream_tickets::table.filter(stream_tickets::expires_at.lt(now.naive_utc())),
            )
            .execute(conn)?;
            Ok(row)
        })?;
        let (user, session, scopes) = held.ok_or(StoreError::Unauthenticated)?;
        let (user, session) = (id(&user)?, session.as_deref().map(id).transpose()?);
        let stored = self.read(move |conn| crate::accounts::principal(conn, user, session))?;
        let (stored, live) = stored.ok_or(StoreError::Unauthenticated)?;
        // The ticket carries the token's scopes: never more than the account holds.
        let asked = parse_stored(&scopes, Scopes::parse)?;
        let who = Principal {
            scopes: stored.scopes.intersection(&asked),
            ..stored.clone()
        };
        if !token_is_backed(&who, &stored, live) {
            return Err(StoreError::Unauthenticated);
        }
        Ok(Caller::new(who, session, meta))
    }
}

/// Whose changes `who` may hear of, as stored now (see [`Clinic::follow`]).
pub(crate) fn reach_of(conn: &mut crate::Conn, who: &Principal) -> StoreResult<Reach> {
    let who = who.clone();
    let me = who.user_id.to_string();
    let mut clients = HashMap::new();
    let organization_wide = matches!(who.role, Role::Admin | Role::Service);
    match who.role {
        Role::Therapist => {
            let caseload: Vec<String> = care_team_members::table
                .filter(care_team_members::therapist_id.eq(&me))
                .filter(care_team_members::removed_at.is_null())
                .select(care_team_members::client_id)
                .load(conn)?;
            for client in caseload {
                let relation = ClientRelation {
                    in_organization: true,
                    on_care_team: true,
                    ..Default::default()
                };
                clients.insert(id(&client)?, relation);
            }
        }
        Role::Caregiver => {
            let links: Vec<(String, String)> = caregiver_links::table
                .filter(caregiver_links::caregiver_id.eq(&me))
                .filter(caregiver_links::revoked_at.is_null())
                .select((caregiver_links::client_id, caregiver_links::permission))
                .load(conn)?;
            for (client, permission) in links {
                let permission =
                    parse_stored(&permission, |p| CaregiverPermission::parse("permission", p))?;
                let relation = ClientRelation {
                    in_organization: true,
                    caregiver: Some(permission),
                    ..Default::default()
                };
                clients.insert(id(&client)?, relation);
            }
        }
        Role::Client => {
            let relation = ClientRelation {
                in_organization: true,
                is_self: true,
                ..Default::default()
            };
            clients.extend(who.client_id.map(|c| (c, relation)));
        }
        Role::Admin | Role::Service => {}
    }
    Ok(Reach {
        who,
        organization_wide,
        clients,
    })
}
