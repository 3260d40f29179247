//! The OAuth 2.0 token endpoint (RFC 6749), revocation (RFC 7009), invitations.

use actix_web::{
    http::{header, StatusCode},
    post, web, HttpRequest, HttpResponse,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::Duration;
use domain::{
    audit::RequestMeta,
    identity::{check_new_password, Lockout, Login, ScopeRequest, Scopes, SignIn, User},
};
use persistence::ops::auth::{Attempt, Refreshed};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::{
    auth::{address, request_meta, tokens},
    error::{ApiError, ApiResult, Problem},
    extract::Body,
    state::{AppState, State},
};

/// A token request, form-encoded as RFC 6749 requires.
#[derive(Debug, Deserialize, ToSchema)]
pub struct TokenRequest {
    /// `password`, `client_credentials` or `refresh_token`.
    #[schema(schema_with = grant_type_schema)]
    pub grant_type: String,
    /// Login e-mail (password grant).
    pub username: Option<String>,
    pub password: Option<String>,
    /// Requested scopes, space-separated (service accounts).
    pub scope: Option<String>,
    pub refresh_token: Option<String>,
    /// Service account id (client_credentials), unless sent with HTTP Basic.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// Read as text so that an unknown grant answers `unsupported_grant_type` (RFC 6749
/// §5.2), but documented as the three grants there are.
fn grant_type_schema() -> utoipa::openapi::Object {
    crate::wire::one_of(["password", "client_credentials", "refresh_token"])
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(schema_with = token_type_schema)]
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// Present for people (not for service accounts); single use, rotated on every refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub scope: String,
}

fn token_type_schema() -> utoipa::openapi::Object {
    crate::wire::one_of(["Bearer"])
}

fn oauth(status: StatusCode, error: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::OAuth {
        status,
        error,
        description: description.into(),
    }
}

fn invalid_request(description: impl Into<String>) -> ApiError {
    oauth(StatusCode::BAD_REQUEST, "invalid_request", description)
}

fn invalid_grant() -> ApiError {
    oauth(
        StatusCode::BAD_REQUEST,
        "invalid_grant",
        "The credentials or refresh token are not valid.",
    )
}

fn invalid_client() -> ApiError {
    oauth(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        "Unknown client or wrong secret.",
    )
}

fn invalid_scope(description: &str) -> ApiError {
    oauth(StatusCode::BAD_REQUEST, "invalid_scope", description)
}

/// Issue tokens.
///
/// `password` for people, `client_credentials` for integrations (HTTP Basic or form
/// credentials), `refresh_token` to rotate. Responses carry `Cache-Control: no-store`.
/// Repeated failures for one login from one client address lock that login for that
/// address for a while, and many failures from one address (any logins) lock the
/// address (429 with Retry-After). When every password-hashing thread is busy and the
/// short queue is full, the request is refused at once (503 with Retry-After) and
/// nothing is counted.
#[utoipa::path(
    tag = "auth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, body = TokenResponse),
        (status = 400, description = "invalid_request, invalid_grant, invalid_scope or unsupported_grant_type", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "invalid_client: service account credentials are wrong", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many failed attempts for this login from this address, or from this address; see Retry-After", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unreachable, or too many sign-ins at once (nothing was done; see Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/auth/token")]
pub async fn token(req: HttpRequest, body: web::Bytes, state: State) -> ApiResult<HttpResponse> {
    let form: TokenRequest = parse_form(&req, &body)?;
    let mut meta = request_meta(&req);
    let address = sign_in_address(&req, &state, &mut meta);
    let issued = match form.grant_type.as_str() {
        "password" => password_grant(&state, form, address, meta).await?,
        "client_credentials" => client_credentials_grant(&state, &req, form, address, meta).await?,
        "refresh_token" => refresh_grant(&state, form, meta).await?,
        other => {
            return Err(oauth(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type `{other}` is not supported"),
            ))
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(issued))
}

/// Reads a form-encoded body, as RFC 6749 and RFC 7009 require.
fn parse_form<T: serde::de::DeserializeOwned>(req: &HttpRequest, body: &[u8]) -> ApiResult<T> {
    let form_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim()
                .to_ascii_lowercase()
                .starts_with("application/x-www-form-urlencoded")
        });
    if !form_type {
        return Err(ApiError::UnsupportedMediaType(
            "Send the request as application/x-www-form-urlencoded.".into(),
        ));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(body));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        invalid_request(format!("{field}: {}", e.into_inner()))
    })
}

fn required<'a>(value: &'a Option<String>, name: &str) -> ApiResult<&'a str> {
    value
        .as_deref()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| invalid_request(format!("`{name}` is required for this grant")))
}

fn lockout(state: &AppState) -> Lockout {
    Lockout {
        login_max_failures: state.config.login_max_failures,
        address_max_failures: state.config.address_max_failures,
        window: Duration::seconds(state.config.login_window_secs),
    }
}

/// Who is signing in from where: the key failures are counted under, and the audit
/// events' source address (the client's, when a trusted proxy forwards the request).
fn sign_in_address(req: &HttpRequest, state: &AppState, meta: &mut RequestMeta) -> String {
    match address::client_address(req, &state.config.trusted_proxies) {
        Some(ip) => {
            meta.source_ip = Some(ip.to_string());
            address::throttle_key(ip)
        }
        None => "unknown".to_owned(),
    }
}

/// Checks a secret (see `Clinic::sign_in`). The place in the hashing pool is taken
/// first: when none is free the attempt is refused (503) before anything is read,
/// counted or audited.
async fn sign_in(
    state: &State,
    attempt: Attempt,
    meta: RequestMeta,
    refused: ApiError,
) -> ApiResult<User> {
    let check = state
        .passwords
        .reserve()?
        .for_sign_in(state.dummy_hash.clone());
    let lockout = lockout(state);
    match state
        .run(move |clinic| clinic.sign_in(attempt, meta, lockout, check))
        .await?
    {
        SignIn::Accepted(user) => Ok(user),
        SignIn::Refused => Err(refused),
        SignIn::Locked { retry_after_secs } => Err(ApiError::TooManyRequests { retry_after_secs }),
    }
}

async fn password_grant(
    state: &State,
    form: TokenRequest,
    address: String,
    meta: RequestMeta,
) -> ApiResult<TokenResponse> {
    let email = required(&form.username, "username")?.trim().to_lowercase();
    let password = required(&form.password, "password")?.to_owned();
    if password.len() > 1024 {
        return Err(invalid_grant());
    }
    let login = Login::Person { email };
    let attempt = Attempt {
        login: login.clone(),
        address,
        secret: password,
    };
    let user = sign_in(state, attempt, meta, invalid_grant()).await?;
    if !login.admits(user.role) {
        return Err(oauth(
            StatusCode::BAD_REQUEST,
            "unauthorized_client",
            "Service accounts use the client_credentials grant.",
        ));
    }
    let refresh = tokens::opaque_secret();
    let (refresh_hash, ttl) = (tokens::digest(&refresh), refresh_ttl(state));
    let session = user.clone();
    let session_id = state
        .run(move |clinic| clinic.start_session(session.id, refresh_hash, ttl))
        .await?;
    person_tokens(state, &user, session_id, refresh)
}

fn refresh_ttl(state: &AppState) -> Duration {
    Duration::seconds(state.config.refresh_token_ttl_secs)
}

/// A person's tokens: an access token for their session, and its refresh token.
/// People hold no scopes; their rights come from role and relationships.
fn person_tokens(
    state: &State,
    user: &User,
    session_id: Uuid,
    refresh: String,
) -> ApiResult<TokenResponse> {
    let who = user.principal(Scopes::default());
    let (access_token, expires_in) = state.tokens.issue(&who, Some(session_id))?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(refresh),
        scope: who.scopes.to_string(),
    })
}

fn basic_credentials(req: &HttpRequest) -> Option<(String, String)> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

async fn client_credentials_grant(
    state: &State,
    req: &HttpRequest,
    form: TokenRequest,
    address: String,
    meta: RequestMeta,
) -> ApiResult<TokenResponse> {
    let (client_id, secret) = match basic_credentials(req) {
        Some(pair) => pair,
        None => (
            required(&form.client_id, "client_id")?.to_owned(),
            required(&form.client_secret, "client_secret")?.to_owned(),
        ),
    };
    let requested = ScopeRequest::parse(form.scope.as_deref())
        .map_err(|_| invalid_scope("The requested scope is unknown."))?;
    let login = Login::Service { client_id };
    let attempt = Attempt {
        login: login.clone(),
        address,
        secret,
    };
    let user = sign_in(state, attempt, meta, invalid_client()).await?;
    if !login.admits(user.role) {
        return Err(invalid_client());
    }
    let granted = requested
        .grant(&user.scopes)
        .map_err(|_| invalid_scope("The requested scope exceeds what this client holds."))?;
    let who = user.principal(granted);
    let (access_token, expires_in) = state.tokens.issue(&who, None)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: None,
        scope: who.scopes.to_string(),
    })
}

async fn refresh_grant(
    state: &State,
    form: TokenRequest,
    meta: RequestMeta,
) -> ApiResult<TokenResponse> {
    let presented = tokens::digest(required(&form.refresh_token, "refresh_token")?);
    let next = tokens::opaque_secret();
    let (next_hash, ttl) = (tokens::digest(&next), refresh_ttl(state));
    let refreshed = state
        .run(move |clinic| clinic.refresh(presented, next_hash, ttl, meta))
        .await?;
    match refreshed {
        Refreshed::Rotated { user, session_id } => person_tokens(state, &user, session_id, next),
        Refreshed::Refused => Err(invalid_grant()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeRequest {
    /// The refresh token to revoke; its whole session ends.
    pub token: String,
    pub token_type_hint: Option<String>,
}

/// Sign out: revoke a refresh token and its session (RFC 7009).
///
/// Access tokens of that session stop working at once too. Answers 200 whether or
/// not the token was known, as RFC 7009 asks.
#[utoipa::path(
    tag = "auth",
    request_body(content = RevokeRequest, content_type = "application/x-www-form-urlencoded"),
    responses((status = 200, description = "Revoked (or unknown)"))
)]
#[post("/auth/revoke")]
pub async fn revoke(req: HttpRequest, body: web::Bytes, state: State) -> ApiResult<HttpResponse> {
    let form: RevokeRequest = parse_form(&req, &body)?;
    let (hash, meta) = (tokens::digest(&form.token), request_meta(&req));
    state.run(move |clinic| clinic.sign_out(hash, meta)).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptInvitation {
    /// The invitation token, as received.
    #[validate(length(min = 1, max = 200))]
    #[schema(min_length = 1, max_length = 200)]
    pub token: String,
    /// 12 characters to 256 bytes.
    #[schema(min_length = 12)]
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationAccepted {
    pub user_id: Uuid,
    /// Sign in with this and the new password.
    pub email: Option<String>,
}

/// Accept an invitation: set a password for the invited account.
#[utoipa::path(
    tag = "auth",
    request_body = AcceptInvitation,
    responses(
        (status = 200, body = InvitationAccepted),
        (status = 404, description = "Unknown, used or expired invitation", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Database unreachable, or too many password operations at once (nothing was done; see Retry-After)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/invitations/accept")]
pub async fn accept_invitation(
    req: HttpRequest,
    body: Body<AcceptInvitation>,
    state: State,
) -> ApiResult<HttpResponse> {
    let Body(input) = body;
    check_new_password("password", &input.password)?;
    // On the bounded pool, before anything is written.
    let hash = state.passwords.hash(input.password).await?;
    let (token_hash, meta) = (tokens::digest(&input.token), request_meta(&req));
    let user = state
        .run(move |clinic| clinic.accept_invitation(token_hash, hash, meta))
        .await?;
    Ok(HttpResponse::Ok().json(InvitationAccepted {
        user_id: user.id,
        email: user.email,
    }))
}
