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
    smart::{grantable_to_service, is_smart_word, SmartScopes},
};
use persistence::ops::auth::{Attempt, Refreshed};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::{
    auth::{address, assertion, request_meta, tokens},
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
    /// Service account id (client_credentials), unless sent with HTTP Basic or as
    /// the `iss` of a client assertion.
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` (SMART Backend Services).
    pub client_assertion_type: Option<String>,
    /// A JWT signed with one of the client's registered keys (RS384 or ES384).
    pub client_assertion: Option<String>,
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
/// `password` for people, `client_credentials` for integrations, `refresh_token` to
/// rotate. Responses carry `Cache-Control: no-store`.
///
/// An integration authenticates with its secret (HTTP Basic or form credentials) or,
/// as SMART Backend Services do, with a client assertion:
/// `client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer` and
/// `client_assertion`, a JWT signed RS384 or ES384 with a key of its registered JWK
/// Set (`PUT /api/v1/users/{user_id}/jwks`), naming that key's `kid`, with `iss` and
/// `sub` its client id, `aud` this endpoint's absolute URL, `exp` at most five
/// minutes ahead and a `jti` never used before. It asks for Headway's scopes
/// (`clinical:read`) or SMART's (`system/Observation.rs`): a SMART token is granted
/// what was asked within what the account holds (`scope` in the answer; none of it:
/// `invalid_scope`), lives at most five minutes, and every operation, on `/fhir/r4`
/// and `/api/v1` alike, is held to it (403 insufficient scope).
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
        (status = 401, description = "invalid_client: service account credentials are wrong, or the client assertion is refused (the description says why: algorithm, kid, signature, iss/sub, aud, exp, a replayed jti)", body = Problem, content_type = "application/problem+json"),
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
    let requested = Requested::parse(form.scope.as_deref())?;
    let user = match (&form.client_assertion_type, &form.client_assertion) {
        (None, None) => secret_client(state, req, &form, address, meta).await?,
        (kind, assertion) => {
            if kind.as_deref() != Some(assertion::JWT_BEARER) {
                return Err(invalid_request(format!(
                    "client_assertion_type must be {}",
                    assertion::JWT_BEARER
                )));
            }
            let assertion = required(assertion, "client_assertion")?;
            // One way of authenticating per request (RFC 6749 §2.3).
            if form.client_secret.is_some() || basic_credentials(req).is_some() {
                return Err(invalid_request(
                    "authenticate with a client assertion or a client secret, not both",
                ));
            }
            let form_client_id = form.client_id.as_deref();
            assertion::authenticate(state, req, assertion, form_client_id, meta).await?
        }
    };
    let (who, smart, ttl) = match requested {
        Requested::Headway(requested) => {
            let granted = requested.grant(&user.scopes).map_err(|_| {
                invalid_scope("The requested scope exceeds what this client holds.")
            })?;
            (user.principal(granted), None, state.tokens.access_ttl_secs)
        }
        Requested::Smart(asked) => {
            let granted = asked.intersection(&grantable_to_service(&user.scopes));
            if granted.is_empty() {
                return Err(invalid_scope(&format!(
                    "None of the requested scopes is within what this client may be granted \
                     (system/ scopes of its areas: {}).",
                    grantable_to_service(&user.scopes)
                )));
            }
            let ttl = state.tokens.access_ttl_secs.min(SMART_TOKEN_TTL_SECS);
            (user.principal(user.scopes.clone()), Some(granted), ttl)
        }
    };
    let (access_token, expires_in) = state.tokens.issue_scoped(&who, None, smart.as_ref(), ttl)?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: None,
        scope: smart.map_or_else(|| who.scopes.to_string(), |s| s.to_string()),
    })
}

/// SMART-scoped access tokens live five minutes at most, as Backend Services expect.
const SMART_TOKEN_TTL_SECS: i64 = 300;

/// What a client asks for in `scope`: Headway's own scopes, or SMART scopes.
enum Requested {
    Headway(ScopeRequest),
    Smart(SmartScopes),
}

impl Requested {
    fn parse(scope: Option<&str>) -> ApiResult<Self> {
        let words = scope.unwrap_or_default().split_whitespace();
        let smart = words.clone().filter(|w| is_smart_word(w)).count();
        if smart == 0 {
            return ScopeRequest::parse(scope)
                .map(Requested::Headway)
                .map_err(|_| invalid_scope("The requested scope is unknown."));
        }
        if smart != words.count() {
            return Err(invalid_scope(
                "Ask for SMART scopes (system/Observation.rs) or Headway's own \
                 (clinical:read), not both in one request.",
            ));
        }
        SmartScopes::parse(scope.unwrap_or_default())
            .map(Requested::Smart)
            .map_err(|e| invalid_scope(&e.to_string()))
    }
}

/// A service client that authenticates with its secret (HTTP Basic or the form).
async fn secret_client(
    state: &State,
    req: &HttpRequest,
    form: &TokenRequest,
    address: String,
    meta: RequestMeta,
) -> ApiResult<User> {
    let (client_id, secret) = match basic_credentials(req) {
        Some(pair) => pair,
        None => (
            required(&form.client_id, "client_id")?.to_owned(),
            required(&form.client_secret, "client_secret")?.to_owned(),
        ),
    };
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
    Ok(user)
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
