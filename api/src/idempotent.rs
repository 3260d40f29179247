//! Idempotency-Key on POST (IETF httpapi draft, Stripe's semantics): a retry with
//! the same key and the same request replays the first successful answer, marked
//! `Idempotent-Replayed: true`, and writes nothing again. The key is read here; it is
//! claimed, completed in the write's own transaction, and replayed by the gate
//! (`persistence/src/idempotency.rs`).

use std::{any::Any, sync::Arc};

use actix_web::{
    dev::Payload,
    http::{header, StatusCode},
    web, FromRequest, HttpMessage, HttpRequest, HttpResponse,
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use persistence::{Caller, Clinic, Idempotency, Render, StoreError, StoreResult, StoredResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{
    error::{ApiError, ApiResult, FieldProblem},
    state::AppState,
};

/// The request header.
pub const IDEMPOTENCY_KEY: &str = "Idempotency-Key";
/// The response header marking a replayed answer.
pub const IDEMPOTENT_REPLAYED: &str = "Idempotent-Replayed";
/// The longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// The SHA-256 of the request body as read (set by the `Body` extractor).
#[derive(Clone)]
pub(crate) struct BodyDigest(pub [u8; 32]);

/// The request's `Idempotency-Key`, if it sent one. A key longer than 255
/// characters, empty, not printable ASCII, or sent twice is a 400 naming the header.
pub struct IdempotencyKey {
    key: Option<String>,
    req: HttpRequest,
}

/// An answer, ready to send now or to replay later byte for byte.
pub struct Reply(StoredResponse);

impl Reply {
    /// `status` with a JSON body.
    pub fn json(status: StatusCode, body: &impl Serialize) -> Reply {
        Reply(StoredResponse {
            status: status.as_u16(),
            headers: vec![(
                header::CONTENT_TYPE.to_string(),
                "application/json".to_owned(),
            )],
            body: serde_json::to_string(body).unwrap_or_default(),
        })
    }

    /// With a `Location` header.
    pub fn at(mut self, location: String) -> Reply {
        self.0
            .headers
            .push((header::LOCATION.to_string(), location));
        self
    }

    /// With the `ETag` of the version the answer shows (an update's answer); a
    /// replay repeats it, naming the version this request wrote.
    pub fn tagged(mut self, version: i32) -> Reply {
        self.0
            .headers
            .push((header::ETAG.to_string(), domain::version::etag(version)));
        self
    }

    pub fn into_response(self, replayed: bool) -> HttpResponse {
        let StoredResponse {
            status,
            headers,
            body,
        } = self.0;
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        let mut response = HttpResponse::build(status);
        for (name, value) in headers {
            response.insert_header((name, value));
        }
        if replayed {
            response.insert_header((IDEMPOTENT_REPLAYED, "true"));
        }
        response.body(body)
    }
}

fn parse_key(req: &HttpRequest) -> Result<Option<String>, ApiError> {
    let mut values = req.headers().get_all(IDEMPOTENCY_KEY);
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let bad = |detail: &str| ApiError::Malformed(vec![FieldProblem::new(IDEMPOTENCY_KEY, detail)]);
    if values.next().is_some() {
        return Err(bad("must be sent once"));
    }
    let raw = value.to_str().map_err(|_| bad("must be printable ASCII"))?;
    // The draft's form is a structured-field string ("..."); a bare key is read as is.
    let key = match raw.strip_prefix('"').and_then(|r| r.strip_suffix('"')) {
        Some(quoted) => quoted.replace("\\\"", "\"").replace("\\\\", "\\"),
        None => raw.to_owned(),
    };
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(bad("must be 1 to 255 characters"));
    }
    if !key.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
        return Err(bad("must be printable ASCII"));
    }
    Ok(Some(key))
}

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_key(req).map(|key| IdempotencyKey {
            key,
            req: req.clone(),
        }))
    }
}

impl IdempotencyKey {
    /// What "the same request" means: method, path and query, and the body's hash.
    ///
    /// `If-Match` is deliberately not part of it. A replay writes nothing: it repeats
    /// the answer of the one write this key made, and that write passed its own
    /// precondition (the compare-and-set inside its transaction). So a retry with the
    /// same key and body (the same request, resent) gets that first answer, with the
    /// ETag it wrote, even if the retry's If-Match is now stale; no replay can change
    /// a record whose version moved on. A 412 or 428 is an error and never kept, so a
    /// retry after one is checked afresh.
    fn fingerprint(&self) -> String {
        let body = self
            .req
            .extensions()
            .get::<BodyDigest>()
            .map_or_else(|| Sha256::digest(b"").into(), |d| d.0);
        let mut hash = Sha256::new();
        hash.update(self.req.method().as_str());
        hash.update(b" ");
        hash.update(self.req.uri().to_string());
        hash.update(b"\n");
        hash.update(body);
        URL_SAFE_NO_PAD.encode(hash.finalize())
    }
}

impl AppState {
    /// Runs one write operation, once per Idempotency-Key, and answers with `reply`
    /// of its result; a retry replays that answer (the same render, stored in the
    /// write's transaction).
    pub async fn run_once<T, F, R>(
        &self,
        key: IdempotencyKey,
        caller: Caller,
        op: F,
        reply: R,
    ) -> ApiResult<HttpResponse>
    where
        T: Send + 'static,
        F: FnOnce(&Clinic, &Caller) -> StoreResult<T> + Send + 'static,
        R: Fn(&T) -> Reply + Send + Sync + 'static,
    {
        let reply = Arc::new(reply);
        let caller = match &key.key {
            None => caller,
            Some(k) => {
                let render = reply.clone();
                let render: Arc<Render> =
                    Arc::new(move |value: &dyn Any| value.downcast_ref::<T>().map(|v| render(v).0));
                caller.with_idempotency(Idempotency::new(k.clone(), key.fingerprint(), render))
            }
        };
        let clinic = self.clinic.clone();
        match web::block(move || op(&clinic, &caller)).await? {
            Ok(value) => Ok(reply(&value).into_response(false)),
            Err(StoreError::Replayed(stored)) => Ok(Reply(*stored).into_response(true)),
            Err(e) => Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn key(value: &str) -> Result<Option<String>, String> {
        let req = TestRequest::default()
            .insert_header((IDEMPOTENCY_KEY, value))
            .to_http_request();
        parse_key(&req).map_err(|e| e.problem().detail)
    }

    #[test]
    fn keys_are_short_printable_ascii_bare_or_quoted() {
        assert_eq!(key("abc-123"), Ok(Some("abc-123".into())));
        assert_eq!(key("\"8e03978e\""), Ok(Some("8e03978e".into())));
        assert_eq!(
            key(&"k".repeat(255)).map(|k| k.map(|k| k.len())),
            Ok(Some(255))
        );
        assert!(key(&"k".repeat(256)).is_err_and(|d| d.contains(IDEMPOTENCY_KEY)));
        assert!(key("\"\"").is_err());
        assert!(key("tab\there").is_err());
        assert_eq!(
            parse_key(&TestRequest::default().to_http_request()).ok(),
            Some(None)
        );
    }
}
