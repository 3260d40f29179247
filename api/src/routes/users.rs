//! Accounts of a clinic: staff, integrations. Clients and caregivers get accounts
//! through their own endpoints (invitation, caregiver link).

use actix_web::{get, patch, post, put, web, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use domain::{
    identity::{
        AccountChanges, AccountChangesInput, Discipline, NewStaff, NewStaffInput, Role, User,
    },
    jwks::Jwks,
};
use persistence::ops::users::{Enrolled, Enrolment, KeySet, UserFilter};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{created, PageView};
use crate::{
    auth::{tokens, Bearer},
    error::{ApiError, ApiResult, Problem},
    extract::{Body, PageParams, Query},
    idempotent::IdempotencyKey,
    state::State,
};

#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: Uuid,
    pub organization_id: Uuid,
    pub email: Option<String>,
    pub display_name: String,
    #[schema(schema_with = crate::wire::role)]
    pub role: Role,
    #[schema(schema_with = crate::wire::discipline_or_null)]
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
    #[schema(schema_with = crate::wire::staff_role)]
    pub role: String,
    #[validate(
        length(min = 1, max = 200),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(schema_with = crate::wire::not_blank_200)]
    pub display_name: String,
    /// Required for people; service accounts have none.
    #[schema(schema_with = crate::wire::email_or_null)]
    pub email: Option<String>,
    /// Required for therapists.
    #[schema(schema_with = crate::wire::discipline_or_null)]
    pub discipline: Option<String>,
    #[schema(schema_with = crate::wire::scopes_or_null)]
    pub scopes: Option<String>,
}

impl NewUserInput {
    fn parse(&self) -> Result<NewStaff, domain::Invalid> {
        NewStaff::parse(NewStaffInput {
            role: &self.role,
            display_name: &self.display_name,
            email: self.email.as_deref(),
            discipline: self.discipline.as_deref(),
            scopes: self.scopes.as_deref(),
        })
    }
}

/// Create an account (admins): staff get an invitation, integrations get credentials.
#[utoipa::path(
    tag = "users",
    request_body = NewUserInput,
    responses(
        (status = 201, body = CreatedUser),
        (status = 503, description = "Database unreachable, or too many password operations at once (nothing was done; see Retry-After)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/users")]
pub async fn create_user(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    body: Body<NewUserInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let account = body.0.parse()?;
    // A service account's secret is hashed on the bounded pool (503 when it is full)
    // before anything is written; people get an invitation instead.
    let (secret, invitation) = match account.role {
        Role::Service => (Some(tokens::opaque_secret()), None),
        _ => (None, Some(tokens::opaque_secret())),
    };
    let enrolment = match (&secret, &invitation) {
        (Some(s), _) => Enrolment::Secret {
            secret_hash: state.passwords.hash(s.clone()).await?,
        },
        (None, token) => Enrolment::Invitation {
            token_hash: tokens::digest(token.as_deref().unwrap_or_default()),
            valid_for: Duration::seconds(state.config.invitation_ttl_secs),
        },
    };
    let reply = move |enrolled: &Enrolled| {
        let user_id = enrolled.user.id;
        let body = CreatedUser {
            invitation: (invitation.clone())
                .zip(enrolled.invitation_expires_at)
                .map(|(token, expires_at)| Invitation { token, expires_at }),
            credentials: secret.clone().map(|client_secret| ClientCredentials {
                client_id: user_id.to_string(),
                client_secret,
            }),
            user: UserView::from(enrolled.user.clone()),
        };
        created(format!("/api/v1/users/{user_id}"), &body)
    };
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.create_user(caller, account, enrolment),
            reply,
        )
        .await
}

#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// Only this role.
    #[param(schema_with = crate::wire::role)]
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
        (status = 200, body = PageView<UserView>),
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
    let users = state
        .run(move |clinic| clinic.users(&caller, filter, page))
        .await?;
    Ok(HttpResponse::Ok().json(PageView::from(users, UserView::from)))
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
    ),
    security(("bearer" = []))
)]
#[get("/users/{user_id}")]
pub async fn get_user(
    Bearer(caller): Bearer,
    path: web::Path<UserPath>,
    held: crate::extract::IfNoneMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let user_id = path.user_id;
    let user = state
        .run(move |clinic| clinic.user(&caller, user_id))
        .await?;
    super::read_tagged(&held, user.version, &UserView::from(user))
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserUpdate {
    #[validate(
        length(min = 1, max = 200),
        custom(function = "crate::extract::not_blank")
    )]
    #[schema(schema_with = crate::wire::not_blank_200_or_null)]
    pub display_name: Option<String>,
    #[schema(schema_with = crate::wire::discipline_or_null)]
    pub discipline: Option<String>,
    #[schema(schema_with = crate::wire::scopes_or_null)]
    pub scopes: Option<String>,
    /// `false` deactivates: every session and token of the account stops working at once.
    pub active: Option<bool>,
}

impl UserUpdate {
    fn parse(&self, by: Uuid, target: Uuid) -> Result<AccountChanges, domain::Invalid> {
        let input = AccountChangesInput {
            display_name: self.display_name.as_deref(),
            discipline: self.discipline.as_deref(),
            scopes: self.scopes.as_deref(),
            active: self.active,
        };
        AccountChanges::parse(input, by, target)
    }
}

/// Change an account (admins). Role and organization cannot be changed.
#[utoipa::path(
    tag = "users",
    params(UserPath),
    request_body = UserUpdate,
    responses(
        (status = 200, body = UserView),
    ),
    security(("bearer" = []))
)]
#[patch("/users/{user_id}")]
pub async fn update_user(
    Bearer(caller): Bearer,
    path: web::Path<UserPath>,
    crate::extract::IfMatch(expected): crate::extract::IfMatch,
    body: Body<UserUpdate>,
    state: State,
) -> ApiResult<HttpResponse> {
    let user_id = path.user_id;
    let changes = body.0.parse(caller.who.user_id, user_id)?;
    let user = state
        .run(move |clinic| clinic.update_user(&caller, user_id, expected, changes))
        .await?;
    Ok(super::tagged(user.version, &UserView::from(user)))
}

/// A JWK Set (RFC 7517) of a service account's public keys, for SMART Backend
/// Services client assertions.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JwksInput {
    /// Public keys: RSA (`kty` RSA, `n`, `e`; at least 2048 bits; verifies RS384) or
    /// EC P-384 (`kty` EC, `crv` P-384, `x`, `y`; verifies ES384), each with a unique
    /// `kid`. Private members (`d`, `p`, `q`, ...) are refused. At most 10 keys; an
    /// empty set lets no assertion in.
    #[schema(value_type = Vec<Object>, max_items = 10)]
    pub keys: Vec<serde_json::Value>,
}

/// A service account's registered JWK Set, as it verifies assertions now.
#[derive(Debug, Serialize, ToSchema)]
pub struct JwksView {
    pub user_id: Uuid,
    /// The set's version (also its ETag): 0 while none was ever registered. Each
    /// registration adds a version; the earlier ones are kept.
    pub version: i32,
    #[schema(value_type = Vec<Object>)]
    pub keys: Vec<serde_json::Value>,
    pub registered_at: Option<DateTime<Utc>>,
    pub registered_by: Option<Uuid>,
}

impl From<KeySet> for JwksView {
    fn from(k: KeySet) -> Self {
        let keys = k.jwks.to_json()["keys"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        JwksView {
            user_id: k.user_id,
            version: k.version,
            keys,
            registered_at: k.registered_at,
            registered_by: k.registered_by,
        }
    }
}

/// A service account's public keys (admins).
///
/// The JWK Set its client assertions are verified against, with its version (also
/// sent as the ETag, for the If-Match of the next registration).
#[utoipa::path(
    tag = "users",
    params(UserPath),
    responses(
        (status = 200, body = JwksView),
        (status = 422, description = "The account is not a service account", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/users/{user_id}/jwks")]
pub async fn get_jwks(
    Bearer(caller): Bearer,
    path: web::Path<UserPath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let user_id = path.user_id;
    let keys = state
        .run(move |clinic| clinic.service_keys(&caller, user_id))
        .await?;
    Ok(super::tagged(keys.version, &JwksView::from(keys)))
}

/// Register a service account's public keys (admins).
///
/// Replaces the set assertions are verified against, as a new version (the earlier
/// ones are kept, and the change is audited). To rotate a key: register a set with
/// the old and the new key, move the client to the new one, then register a set
/// without the old key; assertions signed with it fail from then on.
#[utoipa::path(
    tag = "users",
    params(UserPath),
    request_body = JwksInput,
    responses(
        (status = 200, body = JwksView),
        (status = 422, description = "A key is not an acceptable public key (the field is named, e.g. `keys[0].d` for private key material), or the account is not a service account", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/users/{user_id}/jwks")]
pub async fn put_jwks(
    Bearer(caller): Bearer,
    path: web::Path<UserPath>,
    crate::extract::IfMatch(expected): crate::extract::IfMatch,
    body: Body<JwksInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let user_id = path.user_id;
    let jwks = Jwks::parse(&body.0.keys)?;
    let keys = state
        .run(move |clinic| clinic.register_service_keys(&caller, user_id, expected, jwks))
        .await?;
    Ok(super::tagged(keys.version, &JwksView::from(keys)))
}
