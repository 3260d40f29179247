//! Who cares for a client: the care team (admins assign therapists) and caregivers
//! (the client, or an admin for them, finds or invites them and grants access).

use chrono::{DateTime, Utc};
use domain::{
    client::{CareTeamMember, CaregiverLink, TeamRole},
    identity::{Role, Scopes},
    policy::{may_join_care_team, may_link_caregiver, CaregiverPermission, ClientAction},
};
use uuid::Uuid;

use crate::{
    accounts::{self, NewUser},
    audit::Subject,
    clients::{self, NewLink, NewMember},
    gate::Caller,
    now,
    ops::clients::NewInvitation,
    versions::{expect, Expected},
    Clinic, StoreError, StoreResult,
};

/// A caregiver to find by e-mail, or to invite if no account has it.
#[derive(Debug, Clone)]
pub struct NewCaregiver {
    /// Parsed and normalised.
    pub email: String,
    /// The name a new account gets, trimmed.
    pub name: String,
    pub relationship: Option<String>,
    pub permission: CaregiverPermission,
}

/// A caregiver's new link, and when a new account's invitation expires (`None` when
/// the caregiver already had an account).
#[derive(Debug, Clone)]
pub struct CaregiverGranted {
    pub link: CaregiverLink,
    pub invitation_expires_at: Option<DateTime<Utc>>,
}

impl Clinic {
    /// A client's care team; with `history`, past members too.
    pub fn care_team(
        &self,
        caller: &Caller,
        client_id: Uuid,
        history: bool,
    ) -> StoreResult<Vec<CareTeamMember>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::View,
            Subject::one("care_team.read", "care_team", client_id),
            move |c, client| clients::care_team(c, client, history),
        )
    }

    /// Puts a therapist of the clinic on a client's care team.
    pub fn add_care_team_member(
        &self,
        caller: &Caller,
        client_id: Uuid,
        therapist_id: Uuid,
        team_role: TeamRole,
    ) -> StoreResult<CareTeamMember> {
        let member_id = domain::new_id();
        let actor = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::ManageCareTeam,
            Subject::one("care_team.add", "care_team_member", member_id),
            move |c, client| {
                let therapist = match accounts::user(c, client.organization_id(), therapist_id) {
                    Ok(user) => Some(user),
                    Err(StoreError::NotFound) => None,
                    Err(e) => return Err(e),
                };
                let already =
                    therapist.is_some() && clients::is_on_care_team(c, client, therapist_id)?;
                may_join_care_team(therapist.as_ref(), already)?;
                let member = NewMember {
                    id: member_id,
                    therapist_id,
                    team_role,
                };
                clients::add_to_care_team(c, client, member, actor, now())
            },
        )
    }

    /// Takes a therapist off a care team; the membership stays in history.
    pub fn remove_care_team_member(
        &self,
        caller: &Caller,
        client_id: Uuid,
        member_id: Uuid,
    ) -> StoreResult<()> {
        let actor = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::ManageCareTeam,
            Subject::one("care_team.remove", "care_team_member", member_id),
            move |c, client| clients::remove_from_care_team(c, client, member_id, actor, now()),
        )
    }

    /// A client's caregivers; with `history`, revoked links too.
    pub fn caregivers(
        &self,
        caller: &Caller,
        client_id: Uuid,
        history: bool,
    ) -> StoreResult<Vec<CaregiverLink>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::View,
            Subject::one("caregiver.read", "caregiver_link", client_id),
            move |c, client| clients::caregivers(c, client, history),
        )
    }

    /// One active caregiver link of the client.
    pub fn caregiver(
        &self,
        caller: &Caller,
        client_id: Uuid,
        link_id: Uuid,
    ) -> StoreResult<CaregiverLink> {
        self.on_client(
            caller,
            client_id,
            ClientAction::View,
            Subject::one("caregiver.read", "caregiver_link", link_id),
            move |c, client| clients::live_link(c, client, link_id),
        )
    }

    /// Grants a caregiver access to the client: the account with this e-mail, or a new
    /// caregiver account with an invitation (`secret`) when none has it.
    pub fn grant_caregiver(
        &self,
        caller: &Caller,
        client_id: Uuid,
        caregiver: NewCaregiver,
        secret: NewInvitation,
    ) -> StoreResult<CaregiverGranted> {
        let link_id = domain::new_id();
        let actor = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::ManageCaregivers,
            Subject::one("caregiver.grant", "caregiver_link", link_id),
            move |c, client| {
                let org = client.organization_id();
                let existing = accounts::credentials_by_email(c, &caregiver.email)?.map(|(u, _)| u);
                let (caregiver_id, invitation_expires_at) = match existing {
                    Some(account) => {
                        let linked = clients::is_caregiver_of(c, client, account.id)?;
                        may_link_caregiver(&account, org, linked)?;
                        (account.id, None)
                    }
                    None => {
                        let id = domain::new_id();
                        let new = NewUser {
                            id,
                            organization_id: org,
                            email: Some(caregiver.email),
                            display_name: caregiver.name,
                            role: Role::Caregiver,
                            discipline: None,
                            client_id: None,
                            password_hash: None,
                            scopes: Scopes::default(),
                        };
                        accounts::insert_user(c, new, now())?;
                        let expires = accounts::create_invitation(
                            c,
                            org,
                            id,
                            &secret.token_hash,
                            Some(actor),
                            now(),
                            secret.valid_for,
                        )?;
                        (id, Some(expires))
                    }
                };
                let new = NewLink {
                    id: link_id,
                    caregiver_id,
                    relationship: caregiver.relationship,
                    permission: caregiver.permission,
                };
                let link = clients::link_caregiver(c, client, new, actor, now())?;
                Ok(CaregiverGranted {
                    link,
                    invitation_expires_at,
                })
            },
        )
    }

    /// Changes what a caregiver may do.
    pub fn change_caregiver(
        &self,
        caller: &Caller,
        client_id: Uuid,
        link_id: Uuid,
        expected: Expected,
        permission: CaregiverPermission,
    ) -> StoreResult<CaregiverLink> {
        self.on_client(
            caller,
            client_id,
            ClientAction::ManageCaregivers,
            Subject::one("caregiver.change", "caregiver_link", link_id),
            move |c, client| {
                let before = clients::live_link(c, client, link_id)?;
                expect(&expected, before.version)?;
                let read = before.version;
                clients::set_caregiver_permission(c, client, link_id, read, permission)
            },
        )
    }

    /// Revokes a caregiver's access at once; the link stays in history.
    pub fn revoke_caregiver(
        &self,
        caller: &Caller,
        client_id: Uuid,
        link_id: Uuid,
    ) -> StoreResult<()> {
        let actor = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::ManageCaregivers,
            Subject::one("caregiver.revoke", "caregiver_link", link_id),
            move |c, client| clients::revoke_caregiver(c, client, link_id, actor, now()),
        )
    }
}
