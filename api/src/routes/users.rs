//! Accounts of a clinic: staff, integrations. Clients and caregivers get accounts
//! through their own endpoints (invitation, caregiver link).

use actix_web::{get, patch, post, web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use domain::{
    identity::{parse_email, Discipline, Role, Scopes, User},
    policy::{directory_scope, OrgAction},
    Invalid,
};
use persistence::{
    accounts::{self, NewUser, UserChanges, UserFilter},
    now,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{created, subject, subject_of_many, Page};
use crate::{
    auth::{tokens, Bearer},
    error::{ApiError, ApiResult, Problem},
    extract::{Body, PageParams, Query},
    state::State,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    #[schema(schema_with = super::role_schema)]
    pub role: Role,
    #[schema(schema_with = super::discipline_or_null_schema)]
    pub discipline: Option<Discipline>,
    /// For a client's login: their client record.
    pub client_id: Option<Uuid>,
    /// For service accounts: the scopes they may be granted, space-separated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scopes: Option<String>,
    pub active: bool,
    /// False while an invitation is pending.
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<User> for UserView {
    fn from(u: User) -> Self {
        UserView {
            id: u.id,
            organization_id: u.organization_id,
            email: u.email,
            display_name: u.display_name,
            role: u.role,
            discipline: u.discipline,
            client_id: u.client_id,
            scopes: (u.role == Role::Service).then(|| u.scopes.to_string()),
            active: u.active,
            has_password: u.has_password,
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A one-time invitation: hand the token to the person (e.g. in an e-mail link);
/// they set their password with `POST /api/v1/invitations/accept`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invitation {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// A new service account's credentials. The secret is shown once and stored hashed.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    pub user: UserView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation: Option<Invitation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credentials: Option<ClientCredentials>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserInput {
    /// `admin`, `therapist` or `service`. Clients and caregivers are invited through
    /// their client record.
    #[schema(schema_with = super::role_schema)]
    pub role: String,
    #[validate(
        length(min = 1, max = 200),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub display_name: String,
    /// Required for people; service accounts have none.
    #[schema(
        pattern = r"^[\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000@]+@[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000.][^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*\.[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000.][\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$"
    )]
    pub email: Option<String>,
    /// Required for therapists.
    #[schema(schema_with = super::discipline_or_null_schema)]
    pub discipline: Option<String>,
    /// Service accounts: space-separated scopes.
    pub scopes: Option<String>,
}

/// A parsed, checked new account.
struct StaffAccount {
    role: Role,
    display_name: String,
    email: Option<String>,
    discipline: Option<Discipline>,
    scopes: Scopes,
}

impl TryFrom<NewUserInput> for StaffAccount {
    type Error = Invalid;
    fn try_from(input: NewUserInput) -> Result<Self, Invalid> {
        let mut problems = domain::error::Problems::default();
        let role = problems.check(Role::parse("role", &input.role));
        if matches!(role, Some(Role::Client | Role::Caregiver)) {
            problems.add(
                "role",
                "clients and caregivers are invited through their client record",
            );
        }
        let email = match (&input.email, role) {
            (Some(_), Some(Role::Service)) => {
                problems.add("email", "service accounts have no e-mail");
                None
            }
            (Some(e), _) => problems.check(parse_email("email", e)),
            (None, Some(Role::Service)) | (None, None) => None,
            (None, Some(_)) => {
                problems.add("email", "is required");
                None
            }
        };
        let discipline = input
            .discipline
            .as_deref()
            .and_then(|d| problems.check(Discipline::parse("discipline", d)));
        if role == Some(Role::Therapist) && input.discipline.is_none() {
            problems.add("discipline", "is required for therapists");
        }
        let scopes = match (input.scopes.as_deref(), role) {
            (Some(s), Some(Role::Service)) => problems.check(Scopes::parse(s)).unwrap_or_default(),
            (Some(_), _) => {
                problems.add("scopes", "only service accounts have scopes");
                Scopes::default()
            }
            (None, _) => Scopes::default(),
        };
        problems.finish()?;
        Ok(StaffAccount {
            role: role.ok_or_else(|| Invalid::field("role", "is required"))?,
            display_name: input.display_name.trim().to_owned(),
            email,
            discipline,
            scopes,
        })
    }
}

/// Create an account (admins): staff get an invitation, integrations get credentials.
#[utoipa::path(
    tag = "users",
    request_body = NewUserInput,
    responses(
        (status = 201, body = CreatedUser),
        (status = 403, description = "Only admins manage accounts", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule (e.g. e-mail already registered)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unreachable, or too many password operations at once (nothing was done; see Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    Bearer(caller): Bearer,
    body: Body<NewUserInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let account = StaffAccount::try_from(body.0)?;
    let user_id = domain::new_id();
    let secret = (account.role == Role::Service).then(tokens::opaque_secret);
    // On the bounded password pool (503 when it is full), before anything is written.
    let secret_hash = match &secret {
        Some(s) => Some(state.passwords.hash(s.clone()).await?),
        None => None,
    };
    let invitation = (account.role != Role::Service).then(tokens::opaque_secret);
    let invitation_hash = invitation.as_deref().map(tokens::digest);
    let invitation_ttl = Duration::seconds(state.config.invitation_ttl_secs);
    let org = caller.who.organization_id;
    let new = NewUser {
        id: user_id,
        organization_id: org,
        email: account.email,
        display_name: account.display_name,
        role: account.role,
        discipline: account.discipline,
        client_id: None,
        password_hash: secret_hash,
        scopes: account.scopes,
    };
    let actor = caller.who.user_id;
    let (user, expires) = state
        .on_organization(
            caller,
            OrgAction::ManageUsers,
            subject("user.create", "user", user_id),
            move |c| {
                let user = accounts::insert_user(c, new, now())?;
                let expires = match invitation_hash {
                    Some(h) => Some(accounts::create_invitation(
                        c,
                        org,
                        user_id,
                        &h,
                        Some(actor),
                        now(),
                        invitation_ttl,
                    )?),
                    None => None,
                };
                Ok((user, expires))
            },
        )
        .await?;
    let body = CreatedUser {
        invitation: invitation
            .zip(expires)
            .map(|(token, expires_at)| Invitation { token, expires_at }),
        credentials: secret.map(|client_secret| ClientCredentials {
            client_id: user.id.to_string(),
            client_secret,
        }),
        user: UserView::from(user),
    };
    Ok(created(format!("/api/v1/users/{user_id}"), &body))
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only this role.
    #[param(schema_with = super::role_schema)]
    pub role: Option<String>,
    /// Only active (or inactive) accounts.
    pub active: Option<bool>,
    /// Items per page, 1 to 100 (default 50).
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    pub after: Option<Uuid>,
}

/// List the clinic's accounts (admins; therapists see the directory).
#[utoipa::path(
    tag = "users",
    params(UserQuery),
    responses(
        (status = 200, body = Page<UserView>),
        (status = 403, description = "Clients, caregivers and integrations cannot list accounts", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users")]
pub async fn list_users(
    Bearer(caller): Bearer,
    query: Query<UserQuery>,
    state: State,
) -> ApiResult<HttpResponse> {
    let q = query.0;
    let role = q
        .role
        .as_deref()
        .map(|r| Role::parse("role", r))
        .transpose()
        .map_err(|e| ApiError::Malformed(ApiError::from(e).problem().errors))?;
    let filter = UserFilter {
        role,
        active: q.active,
    };
    let page = PageParams {
        limit: q.limit,
        after: q.after,
    }
    .page();
    let (org, scope) = (caller.who.organization_id, directory_scope(&caller.who));
    let users = state
        .on_organization(
            caller,
            OrgAction::ListUsers,
            subject_of_many("user.list", "user"),
            move |c| accounts::list_users(c, org, scope, &filter, page),
        )
        .await?;
    Ok(HttpResponse::Ok().json(Page::from(users, UserView::from)))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UserPath {
    pub user_id: Uuid,
}

/// One account of the clinic.
#[utoipa::path(
    tag = "users",
    params(UserPath),
    responses(
        (status = 200, body = UserView),
        (status = 403, description = "Not allowed to see accounts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account in this organization", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users/{user_id}")]
pub async fn get_user(
    Bearer(caller): Bearer,
    path: web::Path<UserPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let user_id = path.user_id;
    let (org, scope) = (caller.who.organization_id, directory_scope(&caller.who));
    let user = state
        .on_organization(
            caller,
            OrgAction::ListUsers,
            subject("user.read", "user", user_id),
            move |c| accounts::directory_entry(c, org, scope, user_id),
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[validate(
        length(min = 1, max = 200),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"[^\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"
    )]
    pub display_name: Option<String>,
    #[schema(schema_with = super::discipline_or_null_schema)]
    pub discipline: Option<String>,
    /// Service accounts only.
    pub scopes: Option<String>,
    /// `false` deactivates: every session and token of the account stops working at once.
    pub active: Option<bool>,
}

/// Change an account (admins). Role and organization cannot be changed.
#[utoipa::path(
    tag = "users",
    params(UserPath),
    request_body = UserUpdate,
    responses(
        (status = 200, body = UserView),
        (status = 403, description = "Only admins manage accounts", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such account in this organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A field breaks a rule", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/users/{user_id}")]
pub async fn update_user(
    Bearer(caller): Bearer,
    path: web::Path<UserPath>,
    body: Body<UserUpdate>,
    state: State,
) -> ApiResult<HttpResponse> {
    let user_id = path.user_id;
    let input = body.0;
    let mut problems = domain::error::Problems::default();
    let discipline = input
        .discipline
        .as_deref()
        .and_then(|d| problems.check(Discipline::parse("discipline", d)));
    let scopes = input
        .scopes
        .as_deref()
        .and_then(|s| problems.check(Scopes::parse(s)));
    if input.active == Some(false) && user_id == caller.who.user_id {
        problems.add("active", "you cannot deactivate your own account");
    }
    problems.finish()?;
    let changes = UserChanges {
        display_name: input.display_name.map(|n| n.trim().to_owned()),
        discipline,
        scopes,
        active: input.active,
    };
    let org = caller.who.organization_id;
    let user = state
        .on_organization(
            caller,
            OrgAction::ManageUsers,
            subject("user.update", "user", user_id),
            move |c| {
                let before = accounts::user(c, org, user_id)?;
                if changes.scopes.is_some() && before.role != Role::Service {
                    return Err(
                        Invalid::field("scopes", "only service accounts have scopes").into(),
                    );
                }
                if changes.discipline.is_some() && before.role != Role::Therapist {
                    return Err(
                        Invalid::field("discipline", "only therapists have a discipline").into(),
                    );
                }
                accounts::update_user(c, org, user_id, changes, now())
            },
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}
