use actix_web::{get, HttpResponse};
use persistence::ops::{
    self,
    me::{Following, Whoami},
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::users::UserView;
use crate::{auth::Bearer, error::ApiResult, state::State};

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
    #[schema(schema_with = crate::wire::permission_or_null)]
    pub permission: Option<&'static str>,
    /// The current episode of care, if any: its progress view is the home screen.
    pub active_episode_id: Option<Uuid>,
}

/// How a caller follows a client record, as the wire says it.
const RELATIONSHIPS: [&str; 2] = ["self", "caregiver"];

fn relationship_schema() -> utoipa::openapi::Object {
    crate::wire::one_of(RELATIONSHIPS)
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
pub async fn me(Bearer(caller): Bearer, state: State) -> ApiResult<HttpResponse> {
    let me = state.run(move |clinic| clinic.whoami(&caller)).await?;
    Ok(HttpResponse::Ok().json(Me::from(me)))
}

impl From<Whoami> for Me {
    fn from(w: Whoami) -> Self {
        Me {
            user: UserView::from(w.user),
            organization: OrganizationView {
                id: w.organization.id,
                name: w.organization.name,
            },
            clients: w.clients.into_iter().map(FollowedClient::from).collect(),
        }
    }
}

impl From<ops::me::FollowedClient> for FollowedClient {
    fn from(f: ops::me::FollowedClient) -> Self {
        let (relationship, permission) = match f.following {
            Following::Themself => (RELATIONSHIPS[0], None),
            Following::Caregiver(p) => (RELATIONSHIPS[1], Some(p.as_str())),
        };
        FollowedClient {
            client_id: f.client.id,
            name: f.client.name,
            preferred_name: f.client.preferred_name,
            relationship,
            permission,
            active_episode_id: f.active_episode_id,
        }
    }
}
