//! The API's one error type and its one mapping to RFC 9457 problem details: for
//! handler errors, for actix's own error responses, and for bad path parameters.
//!
//! Policy: every error has its true status and a stable `type` URI that clients may
//! match on (`urn:headway:problem:<slug>`); `title` is fixed per type, `detail` is
//! for humans. Validation errors list every bad field. Internal details (SQL, paths,
//! panics) are logged with the request id and never sent.

use actix_web::{
    body::{BoxBody, EitherBody, MessageBody},
    dev::ServiceResponse,
    http::{header, StatusCode},
    middleware::ErrorHandlerResponse,
    HttpRequest, HttpResponse, ResponseError,
};

use crate::middleware::REQUEST_ID;
use persistence::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// One invalid field.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field as the caller wrote it, e.g. `identifiers[0].system`.
    pub field: String,
    /// JSON Pointer (RFC 6901) to the field in the request body, as a URI fragment.
    pub pointer: String,
    pub detail: String,
}

impl FieldProblem {
    pub fn new(field: &str, detail: impl Into<String>) -> Self {
        FieldProblem {
            field: field.to_owned(),
            pointer: pointer_of(field),
            detail: detail.into(),
        }
    }
}

/// `identifiers[0].system` -> `#/identifiers/0/system`.
fn pointer_of(field: &str) -> String {
    let mut out = String::from("#");
    for part in field.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        while let Some(open) = rest.find('[') {
            let (name, tail) = rest.split_at(open);
            if !name.is_empty() {
                out.push('/');
                out.push_str(&name.replace('~', "~0").replace('/', "~1"));
            }
            let close = tail.find(']').unwrap_or(tail.len());
            out.push('/');
            out.push_str(&tail[1..close]);
            rest = tail.get(close + 1..).unwrap_or("");
        }
        if !rest.is_empty() {
            out.push('/');
            out.push_str(&rest.replace('~', "~0").replace('/', "~1"));
        }
    }
    out
}

/// An RFC 9457 problem details object.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// Stable identifier of the problem type: `urn:headway:problem:<slug>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Every invalid field, for validation problems.
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub errors: Vec<FieldProblem>,
    /// OAuth 2.0 error code (RFC 6749 §5.2), on token endpoint errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// OAuth 2.0 error description, on token endpoint errors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
    /// On 412: the record's entity tag now; send it as If-Match after a fresh read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub current_etag: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    /// The body or query could not be read as the operation's type.
    #[error("malformed request")]
    Malformed(Vec<FieldProblem>),
    /// Well-formed, but breaks a rule.
    #[error("invalid input")]
    Invalid(Vec<FieldProblem>),
    #[error("{0}")]
    Unauthorized(String),
    #[error("forbidden")]
    Forbidden,
    /// The account may do this, the token's SMART scopes do not (RFC 6750 §3.1).
    #[error("insufficient scope")]
    InsufficientScope,
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed(Vec<String>),
    #[error("{0}")]
    Conflict(String),
    /// An update without If-Match (RFC 6585 §3).
    #[error("This update needs an If-Match header with the record's current ETag (read it first), or If-Match: * to change it whatever its version.")]
    PreconditionRequired,
    /// If-Match named another version than the stored one (RFC 9110 §13.1.1).
    #[error("The record changed since you read it: nothing was changed. Read it again (its ETag is now {current_etag}) and retry.")]
    PreconditionFailed { current_etag: String },
    /// The first request with this Idempotency-Key is still running.
    #[error(
        "A request with this Idempotency-Key is still in progress; retry once it has finished."
    )]
    KeyInFlight,
    /// This Idempotency-Key was used for a different request.
    #[error("This Idempotency-Key was already used for a different request (method, path or body); use a new key for a new request.")]
    KeyReused,
    /// A sync cursor the change log no longer holds (or never reached).
    #[error("This sync cursor has expired (older than the change log keeps, or from another database). Start again without a cursor: a full snapshot.")]
    CursorExpired,
    #[error("request body too large")]
    PayloadTooLarge(usize),
    /// A condition the request set did not hold (a FHIR If-None-Exist matching
    /// several records): nothing was done.
    #[error("{0}")]
    ConditionFailed(String),
    /// A FHIR Bundle with more entries than one request may carry.
    #[error("A Bundle may carry at most {0} entries; nothing was done. Send several.")]
    TooManyEntries(usize),
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body did not arrive within the configured time.
    #[error("request timeout")]
    RequestTimeout(u64),
    /// A header, or the head as a whole, is larger than configured.
    #[error("{0}")]
    HeadersTooLarge(String),
    #[error("too many requests")]
    TooManyRequests { retry_after_secs: i64 },
    /// An OAuth 2.0 token endpoint error (RFC 6749 §5.2).
    #[error("{description}")]
    OAuth {
        status: StatusCode,
        error: &'static str,
        description: String,
    },
    #[error("service unavailable")]
    Unavailable,
    /// Every password-hashing thread is busy and the queue is full; nothing was done.
    #[error("busy")]
    Busy { retry_after_secs: i64 },
    /// Never shown; logged.
    #[error("internal error: {0}")]
    Internal(String),
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "Malformed request",
            ),
            Invalid(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Invalid input",
            ),
            Unauthorized(_) => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Authentication required",
            ),
            Forbidden => (StatusCode::FORBIDDEN, "forbidden", "Not allowed"),
            InsufficientScope => (
                StatusCode::FORBIDDEN,
                "insufficient-scope",
                "Insufficient scope",
            ),
            NotFound => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            PreconditionRequired => (
                StatusCode::PRECONDITION_REQUIRED,
                "precondition-required",
                "Precondition required",
            ),
            PreconditionFailed { .. } => (
                StatusCode::PRECONDITION_FAILED,
                "precondition-failed",
                "Precondition failed",
            ),
            KeyInFlight => (
                StatusCode::CONFLICT,
                "idempotency-key-in-flight",
                "Request in progress",
            ),
            CursorExpired => (
                StatusCode::GONE,
                "sync-cursor-expired",
                "Sync cursor expired",
            ),
            KeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reused",
                "Idempotency-Key reused",
            ),
            PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Request body too large",
            ),
            ConditionFailed(_) => (
                StatusCode::PRECONDITION_FAILED,
                "condition-failed",
                "Condition failed",
            ),
            TooManyEntries(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too-many-entries",
                "Too many entries",
            ),
            UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            RequestTimeout(_) => (
                StatusCode::REQUEST_TIMEOUT,
                "request-timeout",
                "Request timeout",
            ),
            HeadersTooLarge(_) => (
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                "headers-too-large",
                "Request header fields too large",
            ),
            TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too-many-requests",
                "Too many requests",
            ),
            OAuth { status, .. } => (*status, "oauth", "OAuth error"),
            Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy", "Busy"),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    pub fn problem(&self) -> Problem {
        let (status, slug, title) = self.parts();
        let detail = match self {
            ApiError::Malformed(e) | ApiError::Invalid(e) => e
                .iter()
                .map(|f| format!("{}: {}", f.field, f.detail))
                .collect::<Vec<_>>()
                .join("; "),
            ApiError::Forbidden => "You may see this record but not do this to it.".into(),
            ApiError::InsufficientScope => "This token's scopes do not cover this: ask for a \
                token with the scope it needs (SMART scopes name a resource type and \
                interactions, e.g. system/Goal.c)."
                .into(),
            ApiError::NotFound => "No such resource, or it is not yours to see.".into(),
            ApiError::MethodNotAllowed(allowed) => {
                format!("Allowed methods: {}", allowed.join(", "))
            }
            ApiError::PayloadTooLarge(limit) => {
                format!("The body exceeds the limit of {limit} bytes.")
            }
            ApiError::RequestTimeout(secs) => {
                format!(
                    "The request body did not arrive within {}.",
                    seconds(i64::try_from(*secs).unwrap_or(i64::MAX))
                )
            }
            ApiError::TooManyRequests { retry_after_secs } => format!(
                "Too many failed attempts; try again in {}.",
                seconds(*retry_after_secs)
            ),
            ApiError::Unavailable => "The database is not reachable; try again shortly.".into(),
            ApiError::Busy { retry_after_secs } => format!(
                "Too many sign-ins or password changes at once; nothing was done. Try again in {}.",
                seconds(*retry_after_secs)
            ),
            ApiError::Internal(_) => {
                "Something went wrong on our side. Quote the X-Request-Id when reporting it.".into()
            }
            other => other.to_string(),
        };
        let (error, error_description) = match self {
            ApiError::OAuth {
                error, description, ..
            } => (Some((*error).to_owned()), Some(description.clone())),
            _ => (None, None),
        };
        Problem {
            problem_type: format!("urn:headway:problem:{slug}"),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            errors: match self {
                ApiError::Malformed(e) | ApiError::Invalid(e) => e.clone(),
                _ => vec![],
            },
            error,
            error_description,
            current_etag: match self {
                ApiError::PreconditionFailed { current_etag } => Some(current_etag.clone()),
                _ => None,
            },
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.parts().0
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(detail) = self {
            tracing::error!(error = %detail, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, PROBLEM_JSON));
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        match self {
            ApiError::Unauthorized(_) => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="headway", error="invalid_token""#,
                ));
            }
            ApiError::InsufficientScope => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    r#"Bearer realm="headway", error="insufficient_scope""#,
                ));
            }
            ApiError::TooManyRequests { retry_after_secs }
            | ApiError::Busy { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::RequestTimeout(_) => {
                // The rest of the body may still be on its way: this connection is done.
                response.force_close();
            }
            ApiError::MethodNotAllowed(allowed) => {
                response.insert_header((header::ALLOW, allowed.join(", ")));
            }
            ApiError::PreconditionFailed { current_etag } => {
                response.insert_header((header::ETAG, current_etag.as_str()));
            }
            ApiError::OAuth { status, .. } if *status == StatusCode::UNAUTHORIZED => {
                response.insert_header((header::WWW_AUTHENTICATE, r#"Basic realm="headway""#));
            }
            _ => {}
        }
        response.body(serde_json::to_string(&self.problem()).unwrap_or_default())
    }
}

impl From<domain::Invalid> for ApiError {
    fn from(e: domain::Invalid) -> Self {
        ApiError::Invalid(
            e.0.iter()
                .map(|f| FieldProblem::new(&f.field, &f.message))
                .collect(),
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Forbidden => ApiError::Forbidden,
            StoreError::InsufficientScope => ApiError::InsufficientScope,
            StoreError::Unauthenticated => ApiError::Unauthorized(
                "This token's account or session is no longer active.".into(),
            ),
            StoreError::Conflict(what) => ApiError::Conflict(what),
            StoreError::Stale { current } => ApiError::PreconditionFailed {
                current_etag: domain::version::etag(current),
            },
            StoreError::KeyInFlight => ApiError::KeyInFlight,
            StoreError::KeyReused => ApiError::KeyReused,
            StoreError::Gone => ApiError::CursorExpired,
            StoreError::Invalid(invalid) => invalid.into(),
            StoreError::Unavailable(why) => {
                tracing::warn!(error = %why, "database unavailable");
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(_: actix_web::error::BlockingError) -> Self {
        ApiError::Internal("blocking task was cancelled".into())
    }
}

/// "1 second", "30 seconds".
fn seconds(n: i64) -> String {
    match n {
        1 => "1 second".to_owned(),
        n => format!("{n} seconds"),
    }
}

// --- Errors raised outside the handlers: actix's own, path parameters ----------

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
    // Keep the headers that matter (Allow, Retry-After, request id, CORS).
    for (name, v) in old.headers() {
        let cors = name.as_str().starts_with("access-control-") || name == header::VARY;
        if cors || [header::ALLOW, header::RETRY_AFTER, REQUEST_ID].contains(name) {
            fresh.headers_mut().append(name.clone(), v.clone());
        }
    }
    *fresh.status_mut() = status;
    let res: ServiceResponse<EitherBody<B, BoxBody>> =
        ServiceResponse::new(req, fresh).map_into_right_body();
    Ok(ErrorHandlerResponse::Response(res))
}

/// A path parameter that is not what the route expects (ids are UUIDs).
pub fn path_error(err: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    let detail = match &err {
        actix_web::error::PathError::Deserialize(e) => format!("is not valid ({e}); ids are UUIDs"),
        _ => "is not valid".to_owned(),
    };
    ApiError::Malformed(vec![FieldProblem::new("path", detail)]).into()
}

impl ApiError {
    /// Query problems are the caller's syntax, reported as 400 like other malformed input.
    pub(crate) fn into_malformed(self) -> ApiError {
        match self {
            ApiError::Invalid(e) => ApiError::Malformed(e),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointers_follow_rfc_6901() {
        assert_eq!(pointer_of("name"), "#/name");
        assert_eq!(
            pointer_of("identifiers[0].system"),
            "#/identifiers/0/system"
        );
        assert_eq!(pointer_of("a/b"), "#/a~1b");
    }

    #[test]
    fn internal_errors_do_not_leak() {
        let p = ApiError::Internal("SELECT secret FROM users".into()).problem();
        assert!(!p.detail.contains("SELECT"));
        assert_eq!(p.status, 500);
    }
}
