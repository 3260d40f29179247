//! Care teams (admins assign therapists) and caregivers (clients invite them).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use domain::{
    client::{CareTeamMember, CaregiverLink, TeamRole},
    identity::{parse_email, Discipline},
    policy::CaregiverPermission,
};
use persistence::ops::care::NewCaregiver as Caregiver;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{
    clients::{invitation_secret, ClientPath},
    created,
    users::Invitation,
};
use crate::{
    auth::Bearer,
    error::{ApiResult, Problem},
    extract::{Body, Query},
    idempotent::IdempotencyKey,
    state::State,
};

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Include past members / revoked links.
    #[serde(default)]
    pub history: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CareTeamMemberView {
    pub id: Uuid,
    pub therapist_id: Uuid,
    pub therapist_name: String,
    #[schema(schema_with = crate::wire::discipline_or_null)]
    pub discipline: Option<Discipline>,
    #[schema(schema_with = crate::wire::team_role)]
    pub team_role: TeamRole,
    pub added_by: Uuid,
    pub added_at: DateTime<Utc>,
    pub removed_by: Option<Uuid>,
    pub removed_at: Option<DateTime<Utc>>,
}

impl From<CareTeamMember> for CareTeamMemberView {
    fn from(m: CareTeamMember) -> Self {
        CareTeamMemberView {
            id: m.id,
            therapist_id: m.therapist_id,
            therapist_name: m.therapist_name,
            discipline: m.discipline,
            team_role: m.team_role,
            added_by: m.added_by,
            added_at: m.added_at,
            removed_by: m.removed_by,
            removed_at: m.removed_at,
        }
    }
}

/// A client's care team.
#[utoipa::path(
    tag = "care",
    params(ClientPath, HistoryQuery),
    responses((status = 200, body = Vec<CareTeamMemberView>)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/care-team")]
pub async fn care_team(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    query: Query<HistoryQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let (client_id, history) = (path.client_id, query.0.history);
    let team = state
        .run(move |clinic| clinic.care_team(&caller, client_id, history))
        .await?;
    let team: Vec<_> = team.into_iter().map(CareTeamMemberView::from).collect();
    Ok(HttpResponse::Ok().json(team))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCareTeamMember {
    pub therapist_id: Uuid,
    /// `primary`, `consulting` or `supporting`.
    #[schema(schema_with = crate::wire::team_role)]
    pub team_role: String,
}

/// Assign a therapist to a client's care team (admins).
#[utoipa::path(
    tag = "care",
    params(ClientPath),
    request_body = NewCareTeamMember,
    responses(
        (status = 201, body = CareTeamMemberView),
        (status = 409, description = "Already on the team", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/care-team")]
pub async fn add_member(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ClientPath>,
    body: Body<NewCareTeamMember>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let therapist_id = body.0.therapist_id;
    let team_role = TeamRole::parse("team_role", &body.0.team_role)?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| {
                clinic.add_care_team_member(caller, client_id, therapist_id, team_role)
            },
            move |member| {
                created(
                    format!("/api/v1/clients/{client_id}/care-team/{}", member.id),
                    &CareTeamMemberView::from(member.clone()),
                )
            },
        )
        .await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct MemberPath {
    pub client_id: Uuid,
    pub member_id: Uuid,
}

/// Remove a therapist from a care team (admins); the membership stays in history.
#[utoipa::path(
    tag = "care",
    params(MemberPath),
    responses((status = 204, description = "Removed")),
    security(("bearer" = []))
)]
#[delete("/clients/{client_id}/care-team/{member_id}")]
pub async fn remove_member(
    Bearer(caller): Bearer,
    path: web::Path<MemberPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let MemberPath {
        client_id,
        member_id,
    } = path.into_inner();
    state
        .run(move |clinic| clinic.remove_care_team_member(&caller, client_id, member_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaregiverView {
    pub id: Uuid,
    pub caregiver_id: Uuid,
    pub name: String,
    pub email: Option<String>,
    pub relationship: Option<String>,
    #[schema(schema_with = crate::wire::permission)]
    pub permission: CaregiverPermission,
    pub granted_by: Uuid,
    pub granted_at: DateTime<Utc>,
    pub revoked_by: Option<Uuid>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<CaregiverLink> for CaregiverView {
    fn from(l: CaregiverLink) -> Self {
        CaregiverView {
            id: l.id,
            caregiver_id: l.caregiver_id,
            name: l.caregiver_name,
            email: l.caregiver_email,
            relationship: l.relationship,
            permission: l.permission,
            granted_by: l.granted_by,
            granted_at: l.granted_at,
            revoked_by: l.revoked_by,
            revoked_at: l.revoked_at,
        }
    }
}

/// A client's caregivers.
#[utoipa::path(
    tag = "care",
    params(ClientPath, HistoryQuery),
    responses((status = 200, body = Vec<CaregiverView>)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/caregivers")]
pub async fn caregivers(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    query: Query<HistoryQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let (client_id, history) = (path.client_id, query.0.history);
    let links = state
        .run(move |clinic| clinic.caregivers(&caller, client_id, history))
        .await?;
    let links: Vec<_> = links.into_iter().map(CaregiverView::from).collect();
    Ok(HttpResponse::Ok().json(links))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCaregiver {
    /// The caregiver's e-mail; an account is created (with an invitation) if needed.
    #[schema(schema_with = crate::wire::email_address)]
    pub email: String,
    #[validate(
        length(min = 1, max = 200),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(schema_with = crate::wire::not_blank_200)]
    pub name: String,
    /// e.g. `daughter`, `spouse`.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub relationship: Option<String>,
    /// `view` (default) or `contribute`.
    #[schema(schema_with = crate::wire::permission_or_null)]
    pub permission: Option<String>,
}

impl NewCaregiver {
    /// Reports a bad e-mail and a bad permission at once.
    fn parse(self) -> Result<Caregiver, domain::Invalid> {
        let mut problems = domain::error::Problems::default();
        let email = problems.check(parse_email("email", &self.email));
        let permission = problems.check(CaregiverPermission::parse(
            "permission",
            self.permission.as_deref().unwrap_or("view"),
        ));
        problems.finish()?;
        Ok(Caregiver {
            email: email.unwrap_or_default(),
            name: self.name.trim().to_owned(),
            relationship: self.relationship,
            permission: permission.unwrap_or(CaregiverPermission::View),
        })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaregiverInvited {
    pub link: CaregiverView,
    /// Present when a new account was created for the caregiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<Invitation>,
}

/// Invite a caregiver to follow the client (the client, or an admin for them).
#[utoipa::path(
    tag = "care",
    params(ClientPath),
    request_body = NewCaregiver,
    responses(
        (status = 201, body = CaregiverInvited),
        (status = 409, description = "Already a caregiver of this client", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/caregivers")]
pub async fn add_caregiver(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ClientPath>,
    body: Body<NewCaregiver>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let caregiver = body.0.parse()?;
    let (token, secret) = invitation_secret(&state);
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.grant_caregiver(caller, client_id, caregiver, secret),
            move |granted| {
                let body = CaregiverInvited {
                    link: CaregiverView::from(granted.link.clone()),
                    invitation: granted.invitation_expires_at.map(|expires_at| Invitation {
                        token: token.clone(),
                        expires_at,
                    }),
                };
                let link_id = granted.link.id;
                created(
                    format!("/api/v1/clients/{client_id}/caregivers/{link_id}"),
                    &body,
                )
            },
        )
        .await
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct LinkPath {
    pub client_id: Uuid,
    pub link_id: Uuid,
}

/// Revoke a caregiver's access, at once (the client, or an admin).
#[utoipa::path(
    tag = "care",
    params(LinkPath),
    responses((status = 204, description = "Revoked")),
    security(("bearer" = []))
)]
#[delete("/clients/{client_id}/caregivers/{link_id}")]
pub async fn revoke_caregiver(
    Bearer(caller): Bearer,
    path: web::Path<LinkPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let LinkPath { client_id, link_id } = path.into_inner();
    state
        .run(move |clinic| clinic.revoke_caregiver(&caller, client_id, link_id))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaregiverGrant {
    /// `view` (follow progress) or `contribute` (also comment, agree, report).
    #[schema(schema_with = crate::wire::permission)]
    pub permission: String,
}

/// One active caregiver link of the client.
#[utoipa::path(
    tag = "care",
    params(LinkPath),
    responses((status = 200, body = CaregiverView)),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/caregivers/{link_id}")]
pub async fn get_caregiver(
    Bearer(caller): Bearer,
    path: web::Path<LinkPath>,
    held: crate::extract::IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let LinkPath { client_id, link_id } = path.into_inner();
    let link = state
        .run(move |clinic| clinic.caregiver(&caller, client_id, link_id))
        .await?;
    super::read_tagged(&held, link.version, &CaregiverView::from(link))
}

/// Change what a caregiver may do (the client, or an admin).
#[utoipa::path(
    tag = "care",
    params(LinkPath),
    request_body = CaregiverGrant,
    responses((status = 200, body = CaregiverView)),
    security(("bearer" = []))
)]
#[patch("/clients/{client_id}/caregivers/{link_id}")]
pub async fn change_caregiver(
    Bearer(caller): Bearer,
    path: web::Path<LinkPath>,
    crate::extract::IfMatch(expected): crate::extract::IfMatch,
    body: Body<CaregiverGrant>,
    state: State,
) -> ApiResult<HttpResponse> {
    let LinkPath { client_id, link_id } = path.into_inner();
    let permission = CaregiverPermission::parse("permission", &body.0.permission)?;
    let link = state
        .run(move |clinic| {
            clinic.change_caregiver(&caller, client_id, link_id, expected, permission)
        })
        .await?;
    Ok(super::tagged(link.version, &CaregiverView::from(link)))
}
