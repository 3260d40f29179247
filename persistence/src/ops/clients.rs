//! Client records: register, list and search, read, correct (a new version each
//! time), earlier versions, and a client's own login.

use chrono::{DateTime, Duration, Utc};
use domain::{
    client::{Client, ClientStatus, Demographics, Refusal},
    identity::{Role, Scopes, User},
    policy::{client_scope, may_invite_client, ClientAction, OrgAction},
    Invalid,
};
use uuid::Uuid;

pub use crate::clients::{ClientFilter, ClientVersion};
use crate::{
    accounts::{self, NewUser},
    audit::Subject,
    clients,
    gate::Caller,
    now,
    versions::{expect, Expected},
    Clinic, Conn, Page, PageRequest, StoreError, StoreResult,
};

impl From<Refusal> for StoreError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::Invalid(e) => StoreError::Invalid(e),
            Refusal::Conflict(why) => StoreError::Conflict(why),
        }
    }
}

/// An invitation's secret as the API made it: only its digest is stored.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub token_hash: String,
    pub valid_for: Duration,
}

/// The account made for an invitation, and until when the invitation holds.
#[derive(Debug, Clone)]
pub struct Invited {
    pub user: User,
    pub expires_at: DateTime<Utc>,
}

/// Identifiers are unique within the clinic: asks the domain, with who holds each now.
fn identifiers_free(
    conn: &mut Conn,
    org: Uuid,
    client_id: Uuid,
    d: &Demographics,
) -> StoreResult<()> {
    let holders = clients::identifier_holders(conn, org, &d.identifiers)?;
    Ok(d.identifiers_free_for(client_id, &holders)?)
}

impl Clinic {
    /// The clients the caller may see, one page at a time: the list is scoped by the
    /// policy, so it cannot show what a direct read would hide. A list leaves one
    /// organization-level `client.list` event, plus one `client.list` event in the
    /// access log of each client it shows (their name and record numbers were seen).
    pub fn list_clients(
        &self,
        caller: &Caller,
        filter: ClientFilter,
        page: PageRequest,
    ) -> StoreResult<Page<Client>> {
        self.on_organization_showing(
            caller,
            OrgAction::ListClients,
            Subject::many("client.list", "client"),
            move |c, who| clients::list(c, who.organization_id, client_scope(who), &filter, page),
            |list: &Page<Client>| {
                list.items
                    .iter()
                    .map(|client| (client.id, client.id))
                    .collect()
            },
        )
    }

    /// Registers a client.
    pub fn register_client(&self, caller: &Caller, d: Demographics) -> StoreResult<Client> {
        let client_id = domain::new_id();
        let subject = Subject {
            client_id: Some(client_id),
            ..Subject::one("client.create", "client", client_id)
        };
        self.on_organization(caller, OrgAction::CreateClient, subject, move |c, who| {
            identifiers_free(c, who.organization_id, client_id, &d)?;
            clients::create(c, who.organization_id, client_id, d, now())
        })
    }

    /// One client record.
    pub fn client(&self, caller: &Caller, client_id: Uuid) -> StoreResult<Client> {
        self.on_client(
            caller,
            client_id,
            ClientAction::View,
            Subject::one("client.read", "client", client_id),
            move |c, client| clients::get(c, client.organization_id(), client.client_id()),
        )
    }

    /// Corrects or updates a client record; the state replaced is kept as a version.
    pub fn update_client(
        &self,
        caller: &Caller,
        client_id: Uuid,
        expected: Expected,
        d: Demographics,
        status: ClientStatus,
    ) -> StoreResult<Client> {
        self.update_client_with(caller, client_id, expected, move |_| Ok((d, status)))
    }

    /// Updates a client record to what `change` makes of the current one (a merge
    /// patch), read and written in one transaction: a new version, as a PUT makes.
    pub fn update_client_with(
        &self,
        caller: &Caller,
        client_id: Uuid,
        expected: Expected,
        change: impl FnOnce(&Client) -> Result<(Demographics, ClientStatus), Invalid> + Send + 'static,
    ) -> StoreResult<Client> {
        let actor = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::UpdateDemographics,
            Subject::one("client.update", "client", client_id),
            move |c, client| {
                let before = clients::get(c, client.organization_id(), client.client_id())?;
                expect(&expected, before.version)?;
                let (d, status) = change(&before)?;
                identifiers_free(c, client.organization_id(), client.client_id(), &d)?;
                clients::update(c, client, before.version, d, status, actor, now())
            },
        )
    }

    /// Earlier versions of a client record, oldest first.
    pub fn client_versions(
        &self,
        caller: &Caller,
        client_id: Uuid,
    ) -> StoreResult<Vec<ClientVersion>> {
        self.on_client(
            caller,
            client_id,
            ClientAction::View,
            Subject::one("client.versions", "client", client_id),
            clients::versions,
        )
    }

    /// Invites a client to a login of their own (one per client), signing in with `email`.
    pub fn invite_client(
        &self,
        caller: &Caller,
        client_id: Uuid,
        email: String,
        secret: NewInvitation,
    ) -> StoreResult<Invited> {
        let user_id = domain::new_id();
        let actor = caller.who.user_id;
        self.on_client(
            caller,
            client_id,
            ClientAction::InviteClient,
            Subject::one("client.invite", "user", user_id),
            move |c, client| {
                let (org, client_id) = (client.organization_id(), client.client_id());
                let record = clients::get(c, org, client_id)?;
                may_invite_client(accounts::client_login(c, client_id)?)?;
                let new = NewUser {
                    id: user_id,
                    organization_id: org,
                    email: Some(email),
                    display_name: record.preferred_name.unwrap_or(record.name),
                    role: Role::Client,
                    discipline: None,
                    client_id: Some(client_id),
                    password_hash: None,
                    scopes: Scopes::default(),
                };
                let user = accounts::insert_user(c, new, now())?;
                let expires_at = accounts::create_invitation(
                    c,
                    org,
                    user_id,
                    &secret.token_hash,
                    Some(actor),
                    now(),
                    secret.valid_for,
                )?;
                Ok(Invited { user, expires_at })
            },
        )
    }
}
