//! Access tokens (short-lived JWTs) and opaque secrets (refresh tokens, invitations).
//!
//! Access tokens: HS256 only (the algorithm is pinned, so `alg: none` or a swapped
//! algorithm fails), header `typ: at+jwt` (RFC 9068), and `iss`, `aud`, `exp`, `nbf`,
//! `sub` all required and checked, with 30 seconds of leeway for clock skew.
//!
//! Every token names its signing key in the `kid` header, derived from the key itself
//! (see [`key_id`]) so that instances sharing a key agree on it without coordination.
//! Tokens are signed only with the current key; verification also accepts the keys
//! listed as previous, so the key can be rotated without signing everyone out.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use chrono::Utc;
use domain::{
    identity::{Principal, Role, Scopes},
    smart::SmartScopes,
};
use jsonwebtoken::{
    decode, decode_header, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation,
};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::error::ApiError;

pub const TOKEN_TYPE: &str = "at+jwt";
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    iss: String,
    aud: String,
    sub: String,
    exp: i64,
    nbf: i64,
    iat: i64,
    jti: String,
    /// Login session (refresh-token family); absent for service tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    scope: String,
    role: String,
    org: String,
    /// A client login's client record.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    cid: Option<String>,
    /// SMART scopes granted (Backend Services): every operation is held to them.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    smart: Option<String>,
}

/// What a verified token says. Identity facts (user, organization, role, client
/// record) never change for an account; whether the account and session are live,
/// and which scopes it holds now, the database decides on every request.
#[derive(Debug, Clone)]
pub struct Verified {
    pub user_id: Uuid,
    pub organization_id: Uuid,
    pub role: Role,
    pub client_id: Option<Uuid>,
    pub session_id: Option<Uuid>,
    pub scopes: Scopes,
    pub smart: Option<SmartScopes>,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    /// The current key's id, put in every token's `kid`.
    current_kid: String,
    /// Every key accepted for verification, by id: the current one and the previous ones.
    decoding: Vec<(String, DecodingKey)>,
    validation: Validation,
    issuer: String,
    audience: String,
    pub access_ttl_secs: i64,
}

/// The `kid` of a signing secret: the first 96 bits of its SHA-256, base64url. Public
/// (it reveals nothing usable about a secret of 32 bytes or more) and the same on every
/// instance that holds the key.
pub fn key_id(secret: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(&Sha256::digest(secret)[..12])
}

impl TokenKeys {
    /// `previous` are keys still accepted during a rotation; tokens are never signed with them.
    pub fn new(
        secret: &[u8],
        previous: &[String],
        issuer: &str,
        audience: &str,
        access_ttl_secs: i64,
    ) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[issuer]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.leeway = LEEWAY_SECS;
        let decoding = std::iter::once(secret)
            .chain(previous.iter().map(String::as_bytes))
            .map(|key| (key_id(key), DecodingKey::from_secret(key)))
            .collect();
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            current_kid: key_id(secret),
            decoding,
            validation,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            access_ttl_secs,
        }
    }

    /// Signs an access token for `who` (a person's names their session); returns it
    /// with its lifetime in seconds.
    pub fn issue(
        &self,
        who: &Principal,
        session_id: Option<Uuid>,
    ) -> Result<(String, i64), ApiError> {
        self.issue_scoped(who, session_id, None, self.access_ttl_secs)
    }

    /// The same, held to SMART scopes `smart` when given, living `ttl_secs`.
    pub fn issue_scoped(
        &self,
        who: &Principal,
        session_id: Option<Uuid>,
        smart: Option<&SmartScopes>,
        ttl_secs: i64,
    ) -> Result<(String, i64), ApiError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: who.user_id.to_string(),
            exp: now + ttl_secs,
            nbf: now,
            iat: now,
            jti: Uuid::now_v7().to_string(),
            sid: session_id.map(|s| s.to_string()),
            scope: who.scopes.to_string(),
            role: who.role.as_str().to_owned(),
            org: who.organization_id.to_string(),
            cid: who.client_id.map(|c| c.to_string()),
            smart: smart.map(|s| s.to_string()),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(self.current_kid.clone());
        let token = encode(&header, &claims, &self.encoding)
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        Ok((token, ttl_secs))
    }

    pub fn verify(&self, token: &str) -> Result<Verified, ApiError> {
        let refuse =
            |why: &str| ApiError::Unauthorized(format!("The access token is not valid: {why}."));
        // The header is read unverified only to pick the key; the signature check follows.
        let kid = decode_header(token)
            .map_err(|_| refuse("malformed"))?
            .kid
            .ok_or_else(|| refuse("it names no signing key (kid)"))?;
        let key = self
            .decoding
            .iter()
            .find(|(id, _)| *id == kid)
            .map(|(_, key)| key)
            .ok_or_else(|| refuse("it was signed with a key this server does not accept (kid)"))?;
        let data = decode::<Claims>(token, key, &self.validation).map_err(|e| {
            use jsonwebtoken::errors::ErrorKind::*;
            match e.kind() {
                ExpiredSignature => refuse("it has expired"),
                ImmatureSignature => refuse("it is not valid yet"),
                InvalidIssuer => refuse("wrong issuer"),
                InvalidAudience => refuse("wrong audience"),
                MissingRequiredClaim(c) => refuse(&format!("the `{c}` claim is missing")),
                InvalidAlgorithm => refuse("wrong algorithm"),
                InvalidSignature => refuse("bad signature"),
                _ => refuse("malformed"),
            }
        })?;
        if data
            .header
            .typ
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
            != Some(TOKEN_TYPE)
        {
            return Err(refuse("not an access token (typ)"));
        }
        let claims = data.claims;
        let user_id = Uuid::parse_str(&claims.sub).map_err(|_| refuse("malformed subject"))?;
        let session_id = claims
            .sid
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|_| refuse("malformed session"))?;
        let scopes = Scopes::parse(&claims.scope).map_err(|_| refuse("malformed scope"))?;
        let organization_id =
            Uuid::parse_str(&claims.org).map_err(|_| refuse("malformed organization"))?;
        let role = Role::parse("role", &claims.role).map_err(|_| refuse("malformed role"))?;
        let client_id = claims
            .cid
            .as_deref()
            .map(Uuid::parse_str)
            .transpose()
            .map_err(|_| refuse("malformed client"))?;
        let smart = claims
            .smart
            .as_deref()
            .map(SmartScopes::parse)
            .transpose()
            .map_err(|_| refuse("malformed SMART scope"))?;
        Ok(Verified {
            user_id,
            organization_id,
            role,
            client_id,
            session_id,
            scopes,
            smart,
        })
    }
}

/// A fresh opaque secret (refresh token, invitation, client secret): 256 random bits.
pub fn opaque_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How opaque secrets are stored: a SHA-256 digest. They carry 256 random bits, so a
/// fast hash is enough; only a database reader could try, and they cannot invert it.
pub fn digest(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// A random secret for demo mode, which says so loudly when it uses one.
pub fn throwaway_key() -> String {
    opaque_secret()
}
