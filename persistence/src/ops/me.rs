//! The caller's own account, and what every signed-in caller may read: the catalogue.

use domain::{
    client::Client,
    goal::EpisodeStatus,
    identity::{Organization, Role, User},
    measure::OutcomeMeasure,
    policy::{CaregiverPermission, ClientAction},
};
use uuid::Uuid;

use crate::{
    accounts, audit::Subject, clients, gate::Caller, goals, measurements, Clinic, StoreResult,
};

/// How the caller is related to a client record they follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Following {
    /// The client's own record.
    Themself,
    /// A caregiver the client granted access.
    Caregiver(CaregiverPermission),
}

/// A client record the caller follows, for a home screen.
#[derive(Debug, Clone)]
pub struct FollowedClient {
    pub client: Client,
    pub following: Following,
    /// The newest active episode, if any.
    pub active_episode_id: Option<Uuid>,
}

/// The caller's account, organization, and the client records they follow.
#[derive(Debug, Clone)]
pub struct Whoami {
    pub user: User,
    pub organization: Organization,
    pub clients: Vec<FollowedClient>,
}

impl Clinic {
    /// Who am I. Each followed client's record is read through the gate, so the read
    /// shows in that client's access log.
    pub fn whoami(&self, caller: &Caller) -> StoreResult<Whoami> {
        let who = caller.who.clone();
        let (user, organization, followed) = self.confirmed_read(caller, move |conn| {
            let user = accounts::user(conn, who.organization_id, who.user_id)?;
            let organization = accounts::organization(conn, who.organization_id)?;
            let followed: Vec<(Uuid, Following)> = match who.role {
                Role::Client => who
                    .client_id
                    .map(|c| (c, Following::Themself))
                    .into_iter()
                    .collect(),
                Role::Caregiver => clients::followed_by(conn, who.user_id)?
                    .into_iter()
                    .map(|(c, p)| (c, Following::Caregiver(p)))
                    .collect(),
                _ => vec![],
            };
            Ok((user, organization, followed))
        })?;
        let mut seen = Vec::with_capacity(followed.len());
        for (client_id, following) in followed {
            let (client, episodes) = self.on_client(
                caller,
                client_id,
                ClientAction::View,
                Subject::one("me.read", "client", client_id),
                move |c, client| {
                    Ok((
                        clients::get(c, client.organization_id(), client.client_id())?,
                        goals::episodes_of(c, client)?,
                    ))
                },
            )?;
            let active_episode_id = episodes
                .iter()
                .rev()
                .find(|e| e.status == EpisodeStatus::Active)
                .map(|e| e.id);
            seen.push(FollowedClient {
                client,
                following,
                active_episode_id,
            });
        }
        Ok(Whoami {
            user,
            organization,
            clients: seen,
        })
    }

    /// The outcome measures the caller's clinic can use: built-in and its own.
    pub fn measures(&self, caller: &Caller) -> StoreResult<Vec<OutcomeMeasure>> {
        let org = caller.who.organization_id;
        self.confirmed_read(caller, move |conn| measurements::measures(conn, org))
    }
}
