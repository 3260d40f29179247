//! Who is calling: passwords, tokens, and the extractor that turns a bearer token
//! into a [`Caller`] for the policy.

pub mod address;
pub mod passwords;
pub mod tokens;

use std::ops::Deref;

use actix_web::{dev::Payload, http::header, FromRequest, HttpMessage, HttpRequest};
use domain::{audit::RequestMeta, identity::Principal};

use crate::{error::ApiError, middleware::RequestId, state::State};

/// The authenticated caller of this request, checked against the database now:
/// a deactivated account or a revoked session is refused at once.
#[derive(Debug, Clone)]
pub struct Caller(pub persistence::gate::Caller);

impl Deref for Caller {
    type Target = persistence::gate::Caller;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

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

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    /// Verifies the token only (no I/O): the database check happens with the
    /// request's own work, in one blocking call (see `gate::Caller::confirm`).
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
            Ok(Caller(persistence::gate::Caller::new(
                who,
                claims.session_id,
                request_meta(req),
                state.writer.clone(),
            )))
        })();
        std::future::ready(caller)
    }
}
