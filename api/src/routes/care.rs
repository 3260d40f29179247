//! Care teams (admins assign therapists) and caregivers (clients invite them).

use actix_web::{delete, get, patch, post, web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use domain::{
    client::{CareTeamMember, CaregiverLink, TeamRole},
    identity::{parse_email, Discipline, Role, Scopes},
    policy::{CaregiverPermission, ClientAction},
};
use persistence::{
    accounts::{self, NewUser},
    clients::{self, NewLink, NewMember},
    now,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{clients::ClientPath, created, subject, users::Invitation};
use crate::{
    auth::{tokens, Bearer},
    error::{ApiResult, Problem},
    extract::{Body, Query},
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
    #[schema(schema_with = super::discipline_or_null_schema)]
    pub discipline: Option<Discipline>,
    #[schema(schema_with = super::team_role_schema)]
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
    responses(
        (status = 200, body = Vec<CareTeamMemberView>),
        (status = 404, description = "No such client, or not yours to see", body = Problem, content_type = "application/problem+json"),
    ),
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
        .on_client(
            caller,
            client_id,
            ClientAction::View,
            subject("care_team.read", "care_team", client_id),
            move |c| clients::care_team(c, client_id, history),
        )
        .await?;
    Ok(HttpResponse::Ok().json(
        team.into_iter()
            .map(CareTeamMemberView::from)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCareTeamMember {
    pub therapist_id: Uuid,
    /// `primary`, `consulting` or `supporting`.
    #[schema(schema_with = super::team_role_schema)]
    pub team_role: String,
}

/// Assign a therapist to a client's care team (admins).
#[utoipa::path(
    tag = "care",
    params(ClientPath),
    request_body = NewCareTeamMember,
    responses(
        (status = 201, body = CareTeamMemberView),
        (status = 403, description = "Only admins assign care teams", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client, or not yours to see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already on the team", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not an active therapist of this clinic, or bad team role", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/care-team")]
pub async fn add_member(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    body: Body<NewCareTeamMember>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let input = body.0;
    let team_role = TeamRole::parse("team_role", &input.team_role)?;
    let member_id = domain::new_id();
    let (org, actor) = (caller.who.organization_id, caller.who.user_id);
    let member = state
        .on_client(
            caller,
            client_id,
            ClientAction::ManageCareTeam,
            subject("care_team.add", "care_team_member", member_id),
            move |c| {
                let member = NewMember {
                    id: member_id,
                    therapist_id: input.therapist_id,
                    team_role,
                };
                clients::add_to_care_team(c, org, client_id, member, actor, now())
            },
        )
        .await?;
    Ok(created(
        format!("/api/v1/clients/{client_id}/care-team/{member_id}"),
        &CareTeamMemberView::from(member),
    ))
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
    responses(
        (status = 204, description = "Removed"),
        (status = 403, description = "Only admins change care teams", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or current member", body = Problem, content_type = "application/problem+json"),
    ),
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
    let actor = caller.who.user_id;
    state
        .on_client(
            caller,
            client_id,
            ClientAction::ManageCareTeam,
            subject("care_team.remove", "care_team_member", member_id),
            move |c| clients::remove_from_care_team(c, client_id, member_id, actor, now()),
        )
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
    #[schema(schema_with = super::permission_schema)]
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
    responses(
        (status = 200, body = Vec<CaregiverView>),
        (status = 404, description = "No such client, or not yours to see", body = Problem, content_type = "application/problem+json"),
    ),
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
        .on_client(
            caller,
            client_id,
            ClientAction::View,
            subject("caregiver.read", "caregiver_link", client_id),
            move |c| clients::caregivers(c, client_id, history),
        )
        .await?;
    Ok(HttpResponse::Ok().json(
        links
            .into_iter()
            .map(CaregiverView::from)
            .collect::<Vec<_>>(),
    ))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCaregiver {
    /// The caregiver's e-mail; an account is created (with an invitation) if needed.
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@]+@[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000.][^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\.[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000.][\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub email: String,
    #[validate(
        length(min = 1, max = 200),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub name: String,
    /// e.g. `daughter`, `spouse`.
    #[validate(length(min = 1, max = 100))]
    #[schema(min_length = 1, max_length = 100)]
    pub relationship: Option<String>,
    /// `view` (default) or `contribute`.
    #[schema(schema_with = super::permission_or_null_schema)]
    pub permission: Option<String>,
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
        (status = 403, description = "Only the client (or an admin) manages caregivers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client, or not yours to see", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already a caregiver of this client", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule, or the e-mail belongs to a non-caregiver account", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/caregivers")]
pub async fn add_caregiver(
    Bearer(caller): Bearer,
    path: web::Path<ClientPath>,
    body: Body<NewCaregiver>,
    state: State,
) -> ApiResult<HttpResponse> {
    let client_id = path.client_id;
    let input = body.0;
    let mut problems = domain::error::Problems::default();
    let email = problems.check(parse_email("email", &input.email));
    let permission = problems
        .check(CaregiverPermission::parse(
            "permission",
            input.permission.as_deref().unwrap_or("view"),
        ))
        .unwrap_or(CaregiverPermission::View);
    problems.finish()?;
    let email = email.unwrap_or_default();
    let token = tokens::opaque_secret();
    let token_hash = tokens::digest(&token);
    let ttl = Duration::seconds(state.config.invitation_ttl_secs);
    let link_id = domain::new_id();
    let (org, actor) = (caller.who.organization_id, caller.who.user_id);
    let (link, invited) = state
        .on_client(
            caller,
            client_id,
            ClientAction::ManageCaregivers,
            subject("caregiver.grant", "caregiver_link", link_id),
            move |c| {
                let existing = accounts::credentials_by_email(c, &email)?.map(|(u, _)| u);
                let (caregiver_id, invite) = match existing {
                    Some(u) => {
                        u.may_be_caregiver_in(org)?;
                        (u.id, None)
                    }
                    None => {
                        let id = domain::new_id();
                        let new = NewUser {
                            id,
                            organization_id: org,
                            email: Some(email),
                            display_name: input.name.trim().to_owned(),
                            role: Role::Caregiver,
                            discipline: None,
                            client_id: None,
                            password_hash: None,
                            scopes: Scopes::default(),
                        };
                        accounts::insert_user(c, new, now())?;
                        (
                            id,
                            Some(accounts::create_invitation(
                                c,
                                org,
                                id,
                                &token_hash,
                                Some(actor),
                                now(),
                                ttl,
                            )?),
                        )
                    }
                };
                let new = NewLink {
                    id: link_id,
                    caregiver_id,
                    relationship: input.relationship,
                    permission,
                };
                let link = clients::link_caregiver(c, org, client_id, new, actor, now())?;
                Ok((link, invite))
            },
        )
        .await?;
    let body = CaregiverInvited {
        link: CaregiverView::from(link),
        invitation: invited.map(|expires_at| Invitation { token, expires_at }),
    };
    Ok(created(
        format!("/api/v1/clients/{client_id}/caregivers/{link_id}"),
        &body,
    ))
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
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "Only the client (or an admin) manages caregivers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or active link", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[delete("/clients/{client_id}/caregivers/{link_id}")]
pub async fn revoke_caregiver(
    Bearer(caller): Bearer,
    path: web::Path<LinkPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let LinkPath { client_id, link_id } = path.into_inner();
    let actor = caller.who.user_id;
    state
        .on_client(
            caller,
            client_id,
            ClientAction::ManageCaregivers,
            subject("caregiver.revoke", "caregiver_link", link_id),
            move |c| clients::revoke_caregiver(c, client_id, link_id, actor, now()),
        )
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaregiverGrant {
    /// `view` (follow progress) or `contribute` (also comment, agree, report).
    #[schema(schema_with = super::permission_schema)]
    pub permission: String,
}

/// Change what a caregiver may do (the client, or an admin).
#[utoipa::path(
    tag = "care",
    params(LinkPath),
    request_body = CaregiverGrant,
    responses(
        (status = 200, body = CaregiverView),
        (status = 403, description = "Only the client (or an admin) manages caregivers", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such client or active link", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown permission", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/clients/{client_id}/caregivers/{link_id}")]
pub async fn change_caregiver(
    Bearer(caller): Bearer,
    path: web::Path<LinkPath>,
    body: Body<CaregiverGrant>,
    state: State,
) -> ApiResult<HttpResponse> {
    let LinkPath { client_id, link_id } = path.into_inner();
    let permission = CaregiverPermission::parse("permission", &body.0.permission)?;
    let subject = subject("caregiver.change", "caregiver_link", link_id);
    let link = state
        .on_client(
            caller,
            client_id,
            ClientAction::ManageCaregivers,
            subject,
            move |c| clients::set_caregiver_permission(c, client_id, link_id, permission),
        )
        .await?;
    Ok(HttpResponse::Ok().json(CaregiverView::from(link)))
}
