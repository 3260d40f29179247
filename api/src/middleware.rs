//! Request ids and the shape of every error response.

use actix_web::{
    body::{BoxBody, EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderName, HeaderValue},
    middleware::{ErrorHandlerResponse, Next},
    HttpMessage, ResponseError,
};

use crate::error::{ApiError, PROBLEM_JSON};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of this request: the caller's `X-Request-Id` if sensible, else a new UUIDv7.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn acceptable(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
}

/// Accepts or generates the request id, stores it for handlers and logs, echoes it.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = req
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(|| uuid::Uuid::now_v7().to_string(), str::to_owned);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut res = next.call(req).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(res)
}

/// Turns any error response that is not already problem+json (actix's own 404s,
/// 405s, 413s, extractor errors) into one, so clients parse one error shape.
pub fn problem_for_plain_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(PROBLEM_JSON));
    if is_problem || res.request().path().starts_with("/docs") {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let error = match status.as_u16() {
        404 => ApiError::NotFound,
        413 => ApiError::PayloadTooLarge(crate::state::body_limit(res.request())),
        415 => ApiError::UnsupportedMediaType("Unsupported content type.".into()),
        500..=599 => ApiError::Internal(format!("plain {status} response")),
        _ => ApiError::BadRequest(
            status
                .canonical_reason()
                .unwrap_or("Bad request")
                .to_owned(),
        ),
    };
    let (req, old) = res.into_parts();
    let mut fresh = error.error_response();
    // Keep the headers that matter (Allow, Retry-After, request id).
    for name in [header::ALLOW, header::RETRY_AFTER, REQUEST_ID] {
        if let Some(v) = old.headers().get(&name) {
            fresh.headers_mut().insert(name.clone(), v.clone());
        }
    }
    *fresh.status_mut() = status;
    let res: ServiceResponse<EitherBody<B, BoxBody>> =
        ServiceResponse::new(req, fresh).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}
