//! Who is calling: passwords, tokens, and the extractor that turns a bearer token
//! into the [`Caller`] every operation takes.

pub mod address;
pub mod assertion;
pub mod passwords;
pub mod tokens;

use actix_web::{dev::Payload, http::header, FromRequest, HttpMessage, HttpRequest};
use domain::{audit::RequestMeta, identity::Principal};
use persistence::Caller;

use crate::{error::ApiError, middleware::RequestId, state::State};

/// The caller a bearer token names. Only the token is checked here (no I/O): every
/// operation confirms the caller against the database, in the same blocking call as
/// its work, so a deactivated account or a revoked session is refused at once.
#[derive(Debug, Clone)]
pub struct Bearer(pub Caller);

/// The request id and peer address, for audit events.
pub fn request_meta(req: &HttpRequest) -> RequestMeta {
    RequestMeta {
        request_id: req.extensions().get::<RequestId>().map(|r| r.0.clone()),
        source_ip: req.peer_addr().map(|a| a.ip().to_string()),
    }
}

fn bearer(req: &HttpRequest) -> Result<String, ApiError> {
    let value = req.headers().get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthorized("Send an access token: Authorization: Bearer <token>.".into())
    })?;
    let value = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("Malformed Authorization header.".into()))?;
    match value.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim().to_owned())
        }
        _ => Err(ApiError::Unauthorized(
            "Use the Bearer scheme: Authorization: Bearer <token>.".into(),
        )),
    }
}

impl FromRequest for Bearer {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = (|| {
            let state = req
                .app_data::<State>()
                .ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let claims = state.tokens.verify(&bearer(req)?)?;
            let who = Principal {
                user_id: claims.user_id,
                organization_id: claims.organization_id,
                role: claims.role,
                client_id: claims.client_id,
                scopes: claims.scopes,
            };
            let caller = Caller::new(who, claims.session_id, request_meta(req));
            Ok(Bearer(caller.with_smart(claims.smart)))
        })();
        std::future::ready(caller)
    }
}
