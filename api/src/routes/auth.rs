//! The OAuth 2.0 token endpoint (RFC 6749), revocation (RFC 7009), invitations.

use actix_web::{http::header, post, web, HttpRequest, HttpResponse};
use base64::{engine::general_purpose::STANDARD, Engine};
use chrono::Duration;
use domain::{
    audit::{Outcome, RequestMeta},
    identity::{check_new_password, Role, Scopes, User},
};
use persistence::{
    accounts::{self, Refresh, ThrottlePolicy},
    audit::{self, Actor, Subject},
    db, now, Conn, StoreError,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;
use validator::Validate;

use crate::{
    auth::{
        address,
        passwords::Verified,
        request_meta,
        tokens::{self, Subject as TokenSubject},
    },
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
    super::one_of(["password", "client_credentials", "refresh_token"])
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
    super::one_of(["Bearer"])
}

fn oauth(status: u16, error: &'static str, description: impl Into<String>) -> ApiError {
    ApiError::OAuth {
        status: actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
        error,
        description: description.into(),
    }
}

fn invalid_grant() -> ApiError {
    oauth(
        400,
        "invalid_grant",
        "The credentials or refresh token are not valid.",
    )
}

fn login_subject() -> Subject {
    Subject {
        action: "auth.login",
        resource_type: "session",
        resource_id: None,
        client_id: None,
    }
}

fn audit_auth(
    conn: &mut Conn,
    user: Option<&User>,
    subject: &Subject,
    outcome: Outcome,
    meta: &RequestMeta,
) -> Result<(), StoreError> {
    let actor = user.map_or_else(Actor::default, |u| Actor {
        organization_id: Some(u.organization_id),
        user_id: Some(u.id),
        role: Some(u.role),
    });
    db::write(conn, move |c| {
        audit::record(c, actor, subject, outcome, meta, now())
    })
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
    let form = parse_form(&req, &body)?;
    let mut meta = request_meta(&req);
    let address = sign_in_address(&req, &state, &mut meta);
    let issued = match form.grant_type.as_str() {
        "password" => password_grant(&state, form, address, meta).await?,
        "client_credentials" => client_credentials_grant(&state, &req, form, address, meta).await?,
        "refresh_token" => refresh_grant(&state, form, meta).await?,
        other => {
            return Err(oauth(
                400,
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

fn parse_form(req: &HttpRequest, body: &[u8]) -> ApiResult<TokenRequest> {
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
            "Send the token request as application/x-www-form-urlencoded.".into(),
        ));
    }
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(body));
    serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        oauth(
            400,
            "invalid_request",
            format!("{field}: {}", e.into_inner()),
        )
    })
}

fn required<'a>(value: &'a Option<String>, name: &str) -> ApiResult<&'a str> {
    value.as_deref().filter(|v| !v.is_empty()).ok_or_else(|| {
        oauth(
            400,
            "invalid_request",
            format!("`{name}` is required for this grant"),
        )
    })
}

fn throttle(state: &AppState) -> ThrottlePolicy {
    ThrottlePolicy {
        max_failures: state.config.login_max_failures,
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

fn locked(until: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> ApiError {
    ApiError::TooManyRequests {
        retry_after_secs: (until - now).num_seconds().max(1),
    }
}

/// Checks a secret against an account, throttled per (login, address) and per
/// address, audited either way. Unknown logins are checked against a dummy hash so
/// they cost the same time.
///
/// Three steps, so that neither an async worker nor a database connection is held
/// while Argon2 runs: look up (and refuse a locked login), hash on the bounded pool,
/// record the outcome. The pool place is taken first: when none is free the attempt is
/// refused (503) before anything is read, counted or audited.
async fn authenticate(
    state: &State,
    attempt: Attempt,
    find: impl FnOnce(&mut Conn) -> Result<Option<(User, Option<String>)>, StoreError> + Send + 'static,
    failure: ApiError,
) -> ApiResult<User> {
    let slot = state.passwords.reserve()?;
    let policy = throttle(state);
    let Attempt {
        login,
        address,
        secret,
        meta,
    } = attempt;
    let (lookup_login, lookup_address, lookup_meta) =
        (login.clone(), address.clone(), meta.clone());
    let found = state
        .db(move |conn| {
            let now = now();
            if let Some(until) = accounts::locked_until(conn, &lookup_login, &lookup_address, now)?
            {
                audit_auth(conn, None, &login_subject(), Outcome::Denied, &lookup_meta)?;
                return Ok(Err(locked(until, now)));
            }
            Ok(Ok(find(conn)?))
        })
        .await??;
    let known = found.as_ref().map(|(u, _)| u.clone());
    let (user, stored) = match found {
        Some((u, Some(h))) if u.active => (Some(u), h),
        _ => (None, state.dummy_hash.clone()),
    };
    let (verdict, fresh) = slot.verify(secret, stored).await?;
    state
        .db(move |conn| {
            let now = now();
            match (user, verdict) {
                (Some(user), Verified::Yes | Verified::YesButRehash) => {
                    // Failures that landed while this one was hashing may have locked it.
                    if let Some(until) = accounts::locked_until(conn, &login, &address, now)? {
                        audit_auth(conn, Some(&user), &login_subject(), Outcome::Denied, &meta)?;
                        return Ok(Err(locked(until, now)));
                    }
                    if let Some(fresh) = fresh {
                        accounts::set_password_hash(conn, user.id, &fresh, now)?;
                    }
                    db::write(conn, |c| accounts::clear_failures(c, &login, &address))?;
                    audit_auth(conn, Some(&user), &login_subject(), Outcome::Success, &meta)?;
                    Ok(Ok(user))
                }
                _ => {
                    let lock = db::write(conn, |c| {
                        accounts::record_failure(c, &login, &address, now, policy)
                    })?;
                    audit_auth(
                        conn,
                        known.as_ref(),
                        &login_subject(),
                        Outcome::Failed,
                        &meta,
                    )?;
                    Ok(Err(match lock {
                        Some(until) => locked(until, now),
                        None => failure,
                    }))
                }
            }
        })
        .await?
}

/// One sign-in attempt: the login it names, where it comes from, and the secret.
struct Attempt {
    login: String,
    address: String,
    secret: String,
    meta: RequestMeta,
}

async fn password_grant(
    state: &State,
    form: TokenRequest,
    address: String,
    meta: RequestMeta,
) -> ApiResult<TokenResponse> {
    let username = required(&form.username, "username")?.trim().to_lowercase();
    let password = required(&form.password, "password")?.to_owned();
    if password.len() > 1024 {
        return Err(invalid_grant());
    }
    let attempt = Attempt {
        login: username.clone(),
        address,
        secret: password,
        meta,
    };
    let user = authenticate(
        state,
        attempt,
        move |conn| accounts::credentials_by_email(conn, &username),
        invalid_grant(),
    )
    .await?;
    if user.role == Role::Service {
        return Err(oauth(
            400,
            "unauthorized_client",
            "Service accounts use the client_credentials grant.",
        ));
    }
    start_session(state, user).await
}

async fn start_session(state: &State, user: User) -> ApiResult<TokenResponse> {
    let refresh = tokens::opaque_secret();
    let refresh_hash = tokens::digest(&refresh);
    let ttl = Duration::seconds(state.config.refresh_token_ttl_secs);
    let user_id = user.id;
    let session_id = state
        .db(move |conn| {
            db::write(conn, move |c| {
                accounts::start_session(c, user_id, &Scopes::default(), &refresh_hash, now(), ttl)
            })
            .map_err(ApiError::from)
        })
        .await?;
    person_tokens(state, &user, session_id, refresh)
}

/// A person's tokens: an access token for their session, and its refresh token.
/// People hold no scopes; their rights come from role and relationships.
fn person_tokens(
    state: &State,
    user: &User,
    session_id: Uuid,
    refresh: String,
) -> ApiResult<TokenResponse> {
    let scopes = Scopes::default();
    let (access_token, expires_in) = state.tokens.issue(&TokenSubject {
        user_id: user.id,
        organization_id: user.organization_id,
        role: user.role,
        client_id: user.client_id,
        session_id: Some(session_id),
        scopes: &scopes,
    })?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: Some(refresh),
        scope: scopes.to_string(),
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
    let invalid_client = || oauth(401, "invalid_client", "Unknown client or wrong secret.");
    let requested = Scopes::parse(form.scope.as_deref().unwrap_or(""))
        .map_err(|_| oauth(400, "invalid_scope", "The requested scope is unknown."))?;
    // A malformed client id cannot match; it still costs a hash check below.
    let account_id = Uuid::parse_str(&client_id).unwrap_or_else(|_| Uuid::nil());
    let attempt = Attempt {
        login: format!("client:{client_id}"),
        address,
        secret,
        meta,
    };
    let user = authenticate(
        state,
        attempt,
        move |conn| accounts::credentials_by_id(conn, account_id),
        invalid_client(),
    )
    .await?;
    if user.role != Role::Service {
        return Err(invalid_client());
    }
    let granted = if form.scope.as_deref().unwrap_or("").trim().is_empty() {
        user.scopes.clone()
    } else if requested.is_subset(&user.scopes) {
        requested
    } else {
        return Err(oauth(
            400,
            "invalid_scope",
            "The requested scope exceeds what this client holds.",
        ));
    };
    let (access_token, expires_in) = state.tokens.issue(&TokenSubject {
        user_id: user.id,
        organization_id: user.organization_id,
        role: user.role,
        client_id: user.client_id,
        session_id: None,
        scopes: &granted,
    })?;
    Ok(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token: None,
        scope: granted.to_string(),
    })
}

async fn refresh_grant(
    state: &State,
    form: TokenRequest,
    meta: RequestMeta,
) -> ApiResult<TokenResponse> {
    let presented = tokens::digest(required(&form.refresh_token, "refresh_token")?);
    let next = tokens::opaque_secret();
    let next_hash = tokens::digest(&next);
    let ttl = Duration::seconds(state.config.refresh_token_ttl_secs);
    let outcome = state
        .db(move |conn| {
            let outcome = db::write(conn, move |c| {
                accounts::rotate_refresh(c, &presented, &next_hash, now(), ttl)
            })?;
            let user = match &outcome {
                Refresh::Rotated { user_id, .. } | Refresh::ReuseDetected { user_id } => {
                    accounts::credentials_by_id(conn, *user_id)?.map(|(u, _)| u)
                }
                Refresh::Invalid => None,
            };
            let (action, result) = match &outcome {
                Refresh::Rotated { .. } if user.as_ref().is_some_and(|u| u.active) => {
                    ("auth.refresh", Outcome::Success)
                }
                Refresh::ReuseDetected { .. } => ("auth.refresh_reuse", Outcome::Denied),
                _ => ("auth.refresh", Outcome::Failed),
            };
            let subject = Subject {
                action,
                resource_type: "session",
                resource_id: None,
                client_id: None,
            };
            audit_auth(conn, user.as_ref(), &subject, result, &meta)?;
            Ok((outcome, user))
        })
        .await?;
    match outcome {
        (Refresh::Rotated { session_id, .. }, Some(user)) if user.active => {
            person_tokens(state, &user, session_id, next)
        }
        _ => Err(invalid_grant()),
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
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&body));
    let form: RevokeRequest = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        oauth(
            400,
            "invalid_request",
            format!("{field}: {}", e.into_inner()),
        )
    })?;
    let hash = tokens::digest(&form.token);
    let meta = request_meta(&req);
    state
        .db(move |conn| {
            if let Some((session_id, user_id)) = accounts::session_of_refresh(conn, &hash)? {
                db::write(conn, move |c| {
                    accounts::revoke_session(c, session_id, "signed out", now())
                })?;
                let user = accounts::credentials_by_id(conn, user_id)?.map(|(u, _)| u);
                let subject = Subject {
                    action: "auth.logout",
                    resource_type: "session",
                    resource_id: Some(session_id.to_string()),
                    client_id: None,
                };
                audit_auth(conn, user.as_ref(), &subject, Outcome::Success, &meta)?;
            }
            Ok(())
        })
        .await?;
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
        (status = 422, description = "Password too short or too long", body = Problem, content_type = "application/problem+json"),
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
    let token_hash = tokens::digest(&input.token);
    let meta = request_meta(&req);
    let user = state
        .db(move |conn| {
            let user = db::write(conn, move |c| {
                let user = accounts::accept_invitation(c, &token_hash, now())?;
                if let Some(u) = &user {
                    accounts::set_password_hash(c, u.id, &hash, now())?;
                    let subject = Subject {
                        action: "auth.invitation_accept",
                        resource_type: "user",
                        resource_id: Some(u.id.to_string()),
                        client_id: u.client_id,
                    };
                    audit::record(
                        c,
                        Actor {
                            organization_id: Some(u.organization_id),
                            user_id: Some(u.id),
                            role: Some(u.role),
                        },
                        &subject,
                        Outcome::Success,
                        &meta,
                        now(),
                    )?;
                }
                Ok::<_, StoreError>(user)
            })?;
            user.ok_or(ApiError::NotFound)
        })
        .await?;
    Ok(HttpResponse::Ok().json(InvitationAccepted {
        user_id: user.id,
        email: user.email,
    }))
}
