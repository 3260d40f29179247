//! SMART Backend Services client authentication: a `private_key_jwt` client
//! assertion (RFC 7523, SMART App Launch v2 "Backend Services").
//!
//! The assertion is a JWT the service client signs with its private key: RS384 or
//! ES384 only (no `none`, no HMAC, nothing else), verified against the public key
//! its `kid` names in the client's registered JWK Set. `iss` and `sub` are the
//! client id, `aud` this server's token endpoint URL, `exp` at most five minutes
//! ahead, and its `jti` is accepted once, ever, by any instance (the database
//! decides). Every refusal says what was wrong, and leaves an `auth.login` event.

use actix_web::{http::StatusCode, HttpRequest};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::{TimeZone, Utc};
use domain::{
    audit::RequestMeta,
    identity::User,
    jwks::{KeyMaterial, PublicKey},
};
use jsonwebtoken::{decode, Algorithm, DecodingKey, Validation};
use persistence::ops::auth::Assertion;
use serde::Deserialize;
use serde_json::Value;

use crate::{
    error::{ApiError, ApiResult},
    state::{AppState, State},
};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The token endpoint's path; its absolute URL is what `aud` must name.
pub const TOKEN_PATH: &str = "/api/v1/auth/token";
/// The signing algorithms accepted, as SMART Backend Services requires.
pub const ALGORITHMS: [&str; 2] = ["RS384", "ES384"];
/// How far ahead an assertion's `exp` may be (SMART: "no more than five minutes").
pub const MAX_LIFETIME_SECS: i64 = 300;
/// Clock skew allowed on `exp` and `nbf`.
const LEEWAY_SECS: i64 = 30;

/// This server's public base URL: `HEADWAY_PUBLIC_URL`, or the scheme and host the
/// request arrived with (behind a proxy, what its forwarding headers say).
pub fn public_base(req: &HttpRequest, state: &AppState) -> String {
    match &state.config.public_url {
        Some(url) => url.clone(),
        None => {
            let info = req.connection_info();
            format!("{}://{}", info.scheme(), info.host())
        }
    }
}

/// The token endpoint's absolute URL: an assertion's required `aud`.
pub fn token_endpoint(req: &HttpRequest, state: &AppState) -> String {
    format!("{}{TOKEN_PATH}", public_base(req, state))
}

fn invalid_client(description: impl Into<String>) -> ApiError {
    ApiError::OAuth {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: description.into(),
    }
}

#[derive(Debug, Deserialize)]
struct Claims {
    #[allow(dead_code)] // read by jsonwebtoken's validation, required there
    exp: i64,
    jti: Option<String>,
}

/// A segment of a compact JWS, decoded as JSON, unverified: only to pick the key.
fn segment(token: &str, index: usize) -> Option<serde_json::Map<String, Value>> {
    let part = token.split('.').nth(index)?;
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn text(map: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    map.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// What the assertion claims, read before its signature is checked.
struct Unverified {
    alg: Algorithm,
    kid: String,
    client_id: String,
}

fn read_unverified(token: &str, form_client_id: Option<&str>) -> ApiResult<Unverified> {
    if token.split('.').count() != 3 {
        return Err(invalid_client(
            "client_assertion is not a signed JWT (header.payload.signature)",
        ));
    }
    let header = segment(token, 0)
        .ok_or_else(|| invalid_client("client_assertion's header is not base64url JSON"))?;
    let alg = text(&header, "alg").unwrap_or_default();
    let alg = match alg.as_str() {
        "RS384" => Algorithm::RS384,
        "ES384" => Algorithm::ES384,
        other => {
            return Err(invalid_client(format!(
                "client_assertion is signed with alg `{other}`; only RS384 and ES384 are accepted"
            )))
        }
    };
    let kid = text(&header, "kid")
        .filter(|k| !k.is_empty())
        .ok_or_else(|| {
            invalid_client("client_assertion's header names no `kid`: name the registered key")
        })?;
    let claims = segment(token, 1)
        .ok_or_else(|| invalid_client("client_assertion's payload is not base64url JSON"))?;
    let iss = text(&claims, "iss").unwrap_or_default();
    let sub = text(&claims, "sub").unwrap_or_default();
    if iss.is_empty() || iss != sub {
        return Err(invalid_client(
            "client_assertion's `iss` and `sub` must both be the client_id",
        ));
    }
    if form_client_id.is_some_and(|id| id != iss) {
        return Err(invalid_client(
            "client_id differs from the client_assertion's `iss`",
        ));
    }
    Ok(Unverified {
        alg,
        kid,
        client_id: iss,
    })
}

fn decoding_key(key: &PublicKey, alg: Algorithm) -> ApiResult<DecodingKey> {
    let made = match (&key.material, alg) {
        (KeyMaterial::Rsa { n, e }, Algorithm::RS384) => DecodingKey::from_rsa_components(n, e),
        (KeyMaterial::Ec { x, y }, Algorithm::ES384) => DecodingKey::from_ec_components(x, y),
        (material, _) => {
            return Err(invalid_client(format!(
                "key `{}` verifies {} only; the assertion says {alg:?}",
                key.kid,
                material.algorithm()
            )))
        }
    };
    made.map_err(|_| invalid_client(format!("key `{}` cannot be used", key.kid)))
}

/// Checks the signature and claims against `key`; the `jti` and `exp` on success.
fn verify(
    token: &str,
    key: &PublicKey,
    alg: Algorithm,
    client_id: &str,
    audience: &str,
) -> ApiResult<(String, i64)> {
    let mut validation = Validation::new(alg);
    validation.set_audience(&[audience]);
    validation.set_issuer(&[client_id]);
    validation.sub = Some(client_id.to_owned());
    validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS.unsigned_abs();
    let data = decode::<Claims>(token, &decoding_key(key, alg)?, &validation).map_err(|e| {
        use jsonwebtoken::errors::ErrorKind::*;
        invalid_client(match e.kind() {
            InvalidSignature => format!(
                "client_assertion's signature does not verify with key `{}`",
                key.kid
            ),
            ExpiredSignature => "client_assertion has expired (`exp`)".to_owned(),
            ImmatureSignature => "client_assertion is not valid yet (`nbf`)".to_owned(),
            InvalidAudience => {
                format!("client_assertion's `aud` must be this token endpoint: {audience}")
            }
            InvalidIssuer | InvalidSubject => {
                "client_assertion's `iss` and `sub` must both be the client_id".to_owned()
            }
            MissingRequiredClaim(c) => format!("client_assertion has no `{c}` claim"),
            _ => "client_assertion is malformed".to_owned(),
        })
    })?;
    let now = Utc::now().timestamp();
    let exp = data.claims.exp;
    if exp > now + MAX_LIFETIME_SECS + LEEWAY_SECS {
        return Err(invalid_client(
            "client_assertion's `exp` is more than five minutes ahead",
        ));
    }
    let jti = data
        .claims
        .jti
        .filter(|j| !j.is_empty() && j.len() <= 255)
        .ok_or_else(|| {
            invalid_client("client_assertion needs a `jti` (1 to 255 characters), new each time")
        })?;
    Ok((jti, exp))
}

/// Authenticates a service client by its assertion: its account, or why not.
pub async fn authenticate(
    state: &State,
    req: &HttpRequest,
    token: &str,
    form_client_id: Option<&str>,
    meta: RequestMeta,
) -> ApiResult<User> {
    let refused = |user: Option<User>, meta: RequestMeta, error: ApiError| async move {
        state
            .run(move |clinic| clinic.refuse_assertion(user, meta))
            .await?;
        Err::<User, ApiError>(error)
    };
    let claimed = match read_unverified(token, form_client_id) {
        Ok(c) => c,
        Err(e) => return refused(None, meta, e).await,
    };
    let client_id = claimed.client_id.clone();
    let found = state
        .run(move |clinic| clinic.assertion_keys(&client_id))
        .await?;
    let Some((user, jwks)) = found else {
        let e = invalid_client("unknown client: `iss` names no active service account");
        return refused(None, meta, e).await;
    };
    let Some(key) = jwks.key(&claimed.kid) else {
        let e = invalid_client(format!(
            "no key registered for this client has kid `{}`",
            claimed.kid
        ));
        return refused(Some(user), meta, e).await;
    };
    let audience = token_endpoint(req, state);
    let (jti, exp) = match verify(token, key, claimed.alg, &claimed.client_id, &audience) {
        Ok(v) => v,
        Err(e) => return refused(Some(user), meta, e).await,
    };
    // Kept past the assertion's last acceptable moment (its exp plus the leeway).
    let keep_until = Utc
        .timestamp_opt(exp + 2 * LEEWAY_SECS, 0)
        .single()
        .unwrap_or_else(Utc::now);
    let account = user.clone();
    let spent = state
        .run(move |clinic| clinic.accept_assertion(account, jti, keep_until, meta))
        .await?;
    match spent {
        Assertion::Accepted => Ok(user),
        Assertion::Replayed => Err(invalid_client(
            "this client_assertion's `jti` was used before: sign a new assertion for each request",
        )),
    }
}
