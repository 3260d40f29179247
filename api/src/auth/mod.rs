//! Who is calling: passwords, tokens, and the extractor that turns a bearer token
//! into a [`Caller`] for the policy.

pub mod passwords;
pub mod tokens;

use std::ops::Deref;

use actix_web::{dev::Payload, http::header, FromRequest, HttpMessage, HttpRequest};
use domain::audit::RequestMeta;
use futures_util::future::LocalBoxFuture;

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
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<State>().cloned();
        let token = bearer(req);
        let meta = request_meta(req);
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Internal("application state missing".into()))?;
            let claims = state.tokens.verify(&token?)?;
            let writer = state.writer.clone();
            let who = state
                .db(move |conn| {
                    persistence::accounts::principal(
                        conn,
                        claims.user_id,
                        claims.session_id,
                        &claims.scopes,
                    )
                    .map_err(ApiError::from)
                })
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "This token's account or session is no longer active.".into(),
                    )
                })?;
            Ok(Caller(persistence::gate::Caller { who, meta, writer }))
        })
    }
}
