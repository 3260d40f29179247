//! The FHIR R4 (4.0.1) front door, at `/fhir/r4`: the same records as `/api/v1`,
//! through the same operations (so the same policy and audit trail), as standard
//! resources for EHRs. This module is the only place that knows FHIR; the mapping
//! is in `map`, the search grammar in `search`, errors in `outcome`.

pub mod care_map;
pub mod map;
pub mod metadata;
pub mod outcome;
pub mod resources;
pub mod routes;
pub mod search;
pub mod smart;
pub mod write;

use actix_web::{
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        header::{self, HeaderValue},
        StatusCode,
    },
    middleware::Next,
    HttpRequest, HttpResponse,
};
use chrono::{DateTime, Utc};
use fhirkit::FhirJson;
use serde::Serialize;
use utoipa::ToSchema;

pub const BASE: &str = "/fhir/r4";
pub const FHIR_JSON: &str = "application/fhir+json; fhirVersion=4.0";

/// The base URL of this FHIR server as the caller reached it, for `fullUrl`s and
/// links (behind a proxy, the `Forwarded` / `X-Forwarded-*` headers it sets).
pub fn base_url(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}{BASE}", info.scheme(), info.host())
}

/// A FHIR resource, as the OpenAPI document describes it: the resource types and
/// their elements are the FHIR R4 specification's (http://hl7.org/fhir/R4/).
#[derive(Serialize, ToSchema)]
#[schema(as = FhirResource)]
pub struct Doc {
    /// The FHIR resource type, e.g. `Patient`, `Bundle`, `OperationOutcome`.
    #[serde(rename = "resourceType")]
    pub resource_type: String,
    pub id: Option<String>,
}

/// An answer in FHIR JSON.
pub struct Answer {
    status: StatusCode,
    body: String,
    version: Option<(i32, DateTime<Utc>)>,
}

impl Answer {
    pub fn ok<T: FhirJson>(resource: &T, req: &HttpRequest) -> Self {
        Answer::new(StatusCode::OK, resource, pretty(req))
    }

    pub fn new<T: FhirJson>(status: StatusCode, resource: &T, pretty: bool) -> Self {
        let body = json(resource, pretty);
        Answer {
            status,
            body,
            version: None,
        }
    }

    /// With the version's entity tag (`W/"n"`, as FHIR writes it) and Last-Modified.
    pub fn versioned(mut self, version: i32, at: DateTime<Utc>) -> Self {
        self.version = Some((version, at));
        self
    }
}

impl From<Answer> for HttpResponse {
    fn from(a: Answer) -> HttpResponse {
        let mut r = HttpResponse::build(a.status);
        r.insert_header((header::CONTENT_TYPE, FHIR_JSON));
        if let Some((version, at)) = a.version {
            r.insert_header((header::ETAG, format!("W/\"{version}\"")));
            r.insert_header((
                header::LAST_MODIFIED,
                at.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
            ));
        }
        r.body(a.body)
    }
}

/// A resource as FHIR JSON, indented when asked (`_pretty=true`).
pub fn json<T: FhirJson>(resource: &T, pretty: bool) -> String {
    if pretty {
        fhirkit::to_json_pretty(resource)
    } else {
        fhirkit::to_json(resource)
    }
}

fn pretty(req: &HttpRequest) -> bool {
    form_urlencoded::parse(req.query_string().as_bytes())
        .any(|(k, v)| k == "_pretty" && v == "true")
}

/// A media type without its parameters, in lower case.
pub(crate) fn essence(media: &str) -> String {
    media
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Whether a media type (from `_format` or Accept) is one Headway serves: JSON.
fn serves(media: &str) -> bool {
    let media = essence(media);
    matches!(
        media.as_str(),
        "json" | "application/json" | "application/fhir+json" | "*/*" | "application/*" | ""
    )
}

/// Why a request asks for a format Headway does not serve, if it does.
fn refused_format(req: &ServiceRequest) -> Option<String> {
    let format = form_urlencoded::parse(req.query_string().as_bytes())
        .find(|(k, _)| k == "_format")
        .map(|(_, v)| v.into_owned());
    if let Some(f) = format {
        return (!serves(&f))
            .then(|| format!("_format {f} is not served: only JSON (application/fhir+json)"));
    }
    let accept = req.headers().get(header::ACCEPT)?.to_str().ok()?;
    let wanted = accept.split(',').any(serves);
    (!wanted).then(|| format!("Accept {accept} is not served: only JSON (application/fhir+json)"))
}

/// The door's own layer, around everything under `/fhir/`: a format other than JSON
/// is refused (406), and every problem any layer answered (a missing token, a body
/// too large, a record out of reach, an unknown path) leaves as an OperationOutcome
/// with the same status, headers and message.
pub async fn door(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    if !req.path().starts_with("/fhir/") {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    if let Some(why) = refused_format(&req) {
        let o = outcome::outcome(vec![outcome::issue("error", "not-supported", &why, None)]);
        let answer: HttpResponse = Answer::new(StatusCode::NOT_ACCEPTABLE, &o, false).into();
        return Ok(req.into_response(answer));
    }
    let res = next.call(req).await?;
    let problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    if !problem {
        return Ok(res.map_into_boxed_body());
    }
    let status = res.status();
    let (req, res) = res.into_parts();
    let headers = res.headers().clone();
    let bytes = actix_web::body::to_bytes(res.into_body())
        .await
        .unwrap_or_default();
    let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    let o = outcome::from_problem(status, &problem);
    let mut answer: HttpResponse = Answer::new(status, &o, false).into();
    for (name, value) in headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    answer
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    Ok(ServiceResponse::new(req, answer))
}
