use actix_web::{get, HttpResponse};
use domain::{goal::EpisodeStatus, identity::Role, policy::ClientAction};
use persistence::{accounts, clients};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{subject, users::UserView};
use crate::{auth::Caller, error::ApiResult, state::State};

/// A client record the caller may follow, with why.
#[derive(Debug, Serialize, ToSchema)]
pub struct FollowedClient {
    pub client_id: Uuid,
    pub name: String,
    pub preferred_name: Option<String>,
    /// `self` for the client's own login, `caregiver` for someone they invited.
    #[schema(schema_with = relationship_schema)]
    pub relationship: &'static str,
    /// For caregivers: `view` or `contribute`.
    #[schema(schema_with = super::permission_or_null_schema)]
    pub permission: Option<&'static str>,
    /// The current episode of care, if any: its progress view is the home screen.
    pub active_episode_id: Option<Uuid>,
}

fn relationship_schema() -> utoipa::openapi::Object {
    super::one_of(["self", "caregiver"])
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    pub user: UserView,
    pub organization: OrganizationView,
    /// For clients and caregivers: the client records they may see.
    pub clients: Vec<FollowedClient>,
}

/// Who am I: the account, its organization, and the client records it may follow.
#[utoipa::path(tag = "me", responses((status = 200, body = Me)), security(("bearer" = [])))]
#[get("/me")]
pub async fn me(caller: Caller, state: State) -> ApiResult<HttpResponse> {
    let me = state
        .db(move |conn| {
            let who = caller.confirm(conn)?.clone();
            let user = accounts::user(conn, who.organization_id, who.user_id)?;
            let org = accounts::organization(conn, who.organization_id)?;
            let followed: Vec<(Uuid, &'static str, Option<&'static str>)> = match who.role {
                Role::Client => who
                    .client_id
                    .map(|c| (c, "self", None))
                    .into_iter()
                    .collect(),
                Role::Caregiver => clients::followed_by(conn, who.user_id)?
                    .into_iter()
                    .map(|(c, p)| (c, "caregiver", Some(p.as_str())))
                    .collect(),
                _ => vec![],
            };
            let org_id = who.organization_id;
            let mut seen = Vec::new();
            for (client_id, relationship, permission) in followed {
                // Each client's record is read through the gate, so it shows in their access log.
                let (client, episodes) = caller.on_client(
                    conn,
                    client_id,
                    ClientAction::View,
                    subject("me.read", "client", client_id),
                    move |c| {
                        Ok((
                            clients::get(c, org_id, client_id)?,
                            persistence::goals::episodes_of(c, client_id)?,
                        ))
                    },
                )?;
                let active_episode_id = episodes
                    .iter()
                    .rev()
                    .find(|e| e.status == EpisodeStatus::Active)
                    .map(|e| e.id);
                seen.push(FollowedClient {
                    client_id,
                    name: client.name,
                    preferred_name: client.preferred_name,
                    relationship,
                    permission,
                    active_episode_id,
                });
            }
            Ok(Me {
                user: UserView::from(user),
                organization: OrganizationView {
                    id: org.id,
                    name: org.name,
                },
                clients: seen,
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(me))
}
