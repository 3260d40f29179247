//! Reading requests at the edge: bodies and queries become typed values or a
//! problem that names every bad field. Nothing past here sees raw input.

use std::{borrow::Cow, collections::BTreeMap};

use actix_web::{dev::Payload, http::header, web, FromRequest, HttpMessage, HttpRequest};
use futures_util::future::LocalBoxFuture;
use serde::{de::DeserializeOwned, Deserialize};
use utoipa::IntoParams;
use validator::{Validate, ValidationErrors, ValidationErrorsKind};

use crate::error::{ApiError, FieldProblem};

/// A JSON request body, deserialized with field paths in its errors and validated.
pub struct Body<T>(pub T);

fn is_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// Deserializes JSON, naming the field that failed.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        // A syntax error is about the body as a whole, wherever the parser stopped.
        let problem = if inner.is_syntax() || inner.is_eof() || path == "." {
            FieldProblem::new("body", format!("is not valid JSON ({inner})"))
        } else {
            FieldProblem::new(&path, inner.to_string())
        };
        ApiError::Malformed(vec![problem])
    })?;
    de.end().map_err(|e| {
        ApiError::Malformed(vec![FieldProblem::new(
            "body",
            format!("is not valid JSON ({e})"),
        )])
    })?;
    Ok(value)
}

impl<T: DeserializeOwned + Validate + 'static> FromRequest for Body<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json = is_json(req);
        let limit = crate::state::body_limit(req);
        let bytes = web::Bytes::from_request(req, payload);
        let request = req.clone();
        Box::pin(async move {
            if !json {
                return Err(ApiError::UnsupportedMediaType(
                    "Send the body as application/json.".into(),
                ));
            }
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code()
                    == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                {
                    ApiError::PayloadTooLarge(limit)
                } else {
                    ApiError::BadRequest("The request body could not be read.".into())
                }
            })?;
            let digest = <sha2::Sha256 as sha2::Digest>::digest(&bytes);
            request
                .extensions_mut()
                .insert(crate::idempotent::BodyDigest(digest.into()));
            let value: T = parse_json(&bytes)?;
            value
                .validate()
                .map_err(|e| ApiError::Invalid(flatten(&e)))?;
            Ok(Body(value))
        })
    }
}

/// The media type of a JSON Merge Patch (RFC 7396).
pub const MERGE_PATCH: &str = "application/merge-patch+json";

/// A JSON Merge Patch body (RFC 7396), sent as `application/merge-patch+json` (any
/// other type is 415), read into `T`: a struct whose fields are all
/// [`merge::Field`]s, so a member left out, set, or `null` (remove) are told apart;
/// an unknown member or a wrong type is a 400 naming it, as for any body.
pub struct MergePatch<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for MergePatch<T> {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let patch = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|mime| mime.trim().eq_ignore_ascii_case(MERGE_PATCH));
        let limit = crate::state::body_limit(req);
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !patch {
                return Err(ApiError::UnsupportedMediaType(format!(
                    "Send the patch as {MERGE_PATCH} (RFC 7396)."
                )));
            }
            let bytes = bytes.await.map_err(|e| {
                if e.as_response_error().status_code()
                    == actix_web::http::StatusCode::PAYLOAD_TOO_LARGE
                {
                    ApiError::PayloadTooLarge(limit)
                } else {
                    ApiError::BadRequest("The request body could not be read.".into())
                }
            })?;
            parse_json(&bytes).map(MergePatch)
        })
    }
}

/// The members of a merge patch (RFC 7396 §2).
pub mod merge {
    use serde::{Deserialize, Deserializer};

    /// One member of a merge patch: left out (keep), `null` (remove) or a new value.
    #[derive(Debug, Clone, Default, PartialEq)]
    pub enum Field<T> {
        #[default]
        Keep,
        Remove,
        Set(T),
    }

    impl<'de, T: Deserialize<'de>> Deserialize<'de> for Field<T> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            Ok(match Option::<T>::deserialize(d)? {
                None => Field::Remove,
                Some(v) => Field::Set(v),
            })
        }
    }

    impl<T> Field<T> {
        /// An optional member merged onto its current value.
        pub fn onto(self, current: Option<T>) -> Option<T> {
            match self {
                Field::Keep => current,
                Field::Remove => None,
                Field::Set(v) => Some(v),
            }
        }

        /// A required member merged onto its current value: `null` cannot remove it.
        pub fn required(self, field: &str, current: T) -> Result<T, domain::Invalid> {
            match self {
                Field::Keep => Ok(current),
                Field::Set(v) => Ok(v),
                Field::Remove => Err(removed(field)),
            }
        }

        pub fn is_remove(&self) -> bool {
            matches!(self, Field::Remove)
        }
    }

    fn removed(field: &str) -> domain::Invalid {
        domain::Invalid::field(
            field,
            "is required: it can be changed but not removed (null)",
        )
    }

    /// Refuses a patch that removes (`null`) any of these required members: 422
    /// naming each, before anything is read or written.
    pub fn keeps_required(members: &[(&str, bool)]) -> Result<(), domain::Invalid> {
        let removed: Vec<_> = members
            .iter()
            .filter(|(_, gone)| *gone)
            .flat_map(|(field, _)| removed(field).0)
            .collect();
        if removed.is_empty() {
            Ok(())
        } else {
            Err(domain::Invalid(removed))
        }
    }
}

/// Query parameters, deserialized with the failing parameter named, and validated.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for Query<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(req.query_string()))
    }
}

fn parse_query<T: DeserializeOwned + Validate>(query: &str) -> Result<Query<T>, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    let value: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." {
            "query".to_owned()
        } else {
            field
        };
        ApiError::Malformed(vec![FieldProblem::new(&field, e.into_inner().to_string())])
    })?;
    value
        .validate()
        .map_err(|e| ApiError::Invalid(flatten(&e)).into_malformed())?;
    Ok(Query(value))
}

/// Flattens validator's nested errors into one list of field paths, sorted.
pub fn flatten(errors: &ValidationErrors) -> Vec<FieldProblem> {
    let mut out = Vec::new();
    walk(errors, "", &mut out);
    out.sort_by(|a, b| a.field.cmp(&b.field));
    out
}

fn walk(errors: &ValidationErrors, prefix: &str, out: &mut Vec<FieldProblem>) {
    for (field, kind) in errors.errors() {
        let path = if prefix.is_empty() {
            field.to_string()
        } else {
            format!("{prefix}.{field}")
        };
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    out.push(FieldProblem::new(&path, describe(e)));
                }
            }
            ValidationErrorsKind::Struct(inner) => walk(inner, &path, out),
            ValidationErrorsKind::List(items) => {
                let items: &BTreeMap<usize, Box<ValidationErrors>> = items;
                for (i, inner) in items {
                    walk(inner, &format!("{path}[{i}]"), out);
                }
            }
        }
    }
}

fn describe(e: &validator::ValidationError) -> String {
    if let Some(message) = &e.message {
        return message.to_string();
    }
    let param = |name: &str| e.params.get(name).map(|v| v.to_string());
    match e.code.as_ref() {
        "length" => match (param("min"), param("max"), param("equal")) {
            (_, _, Some(eq)) => format!("must have length {eq}"),
            (Some(min), Some(max), _) => format!("must have length between {min} and {max}"),
            (Some(min), None, _) => format!("must have length at least {min}"),
            (None, Some(max), _) => format!("must have length at most {max}"),
            _ => "has the wrong length".into(),
        },
        "range" => match (param("min"), param("max")) {
            (Some(min), Some(max)) => format!("must be between {min} and {max}"),
            (Some(min), None) => format!("must be at least {min}"),
            (None, Some(max)) => format!("must be at most {max}"),
            _ => "is out of range".into(),
        },
        "email" => "must be an e-mail address".into(),
        other => Cow::from(other).replace('_', " "),
    }
}

/// A validator rule for text that is trimmed before use: blank text would be stored
/// empty. Documented in schemas as `pattern: \S`.
pub fn not_blank(value: &str) -> Result<(), validator::ValidationError> {
    if value.trim().is_empty() {
        Err(validator::ValidationError::new("blank").with_message("must not be blank".into()))
    } else {
        Ok(())
    }
}

/// Integer fields as JSON Schema defines them: `3258.0` is the integer 3258, so it
/// is read as one; `3258.5` is not an integer and is refused.
pub mod integer {
    use serde::{de::Error, Deserialize, Deserializer};

    fn whole<E: Error>(n: serde_json::Number) -> Result<i64, E> {
        if let Some(i) = n.as_i64() {
            return Ok(i);
        }
        match n.as_f64() {
            // The range check keeps the cast exact: every integral f64 inside it is an i64.
            Some(f) if f.fract() == 0.0 && f >= -(2f64.powi(63)) && f < 2f64.powi(63) => {
                Ok(f as i64)
            }
            _ => Err(E::custom(format!(
                "invalid value: {n}, expected an integer"
            ))),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
        whole(serde_json::Number::deserialize(d)?)
    }

    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Option::<serde_json::Number>::deserialize(d)?
            .map(whole)
            .transpose()
    }
}

/// Cursor pagination: `limit` items after the item whose id is `after`.
#[derive(Debug, Deserialize, Validate, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page, 1 to 100 (default 50).
    #[validate(range(min = 1, max = 100))]
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub after: Option<uuid::Uuid>,
}

impl PageParams {
    pub fn page(&self) -> persistence::PageRequest {
        persistence::PageRequest {
            after: self.after,
            limit: self.limit.unwrap_or(50),
        }
    }
}

/// `If-Match` (RFC 9110 §13.1.1), required on every update: the version the change
/// was made against. Missing: 428; weak or malformed: 400 naming the header.
pub struct IfMatch(pub domain::version::Expected);

impl FromRequest for IfMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let header = req.headers().get(header::IF_MATCH);
        std::future::ready(match header {
            None => Err(ApiError::PreconditionRequired),
            Some(v) => v
                .to_str()
                .map_err(|_| "is not visible ASCII".to_owned())
                .and_then(domain::version::Expected::parse_if_match)
                .map(IfMatch)
                .map_err(|why| ApiError::Malformed(vec![FieldProblem::new("If-Match", why)])),
        })
    }
}

/// `If-None-Match` (RFC 9110 §13.1.2) on a read, as sent (checked against the
/// record's version once it is read).
pub struct IfNoneMatch(pub Option<String>);

impl FromRequest for IfNoneMatch {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let value = req.headers().get(header::IF_NONE_MATCH).map(|v| {
            v.to_str().map(str::to_owned).map_err(|_| {
                ApiError::Malformed(vec![FieldProblem::new(
                    "If-None-Match",
                    "is not visible ASCII",
                )])
            })
        });
        std::future::ready(value.transpose().map(IfNoneMatch))
    }
}

impl IfNoneMatch {
    /// Whether the caller already holds the version: answer 304.
    pub fn holds(&self, version: i32) -> Result<bool, ApiError> {
        match &self.0 {
            None => Ok(false),
            Some(v) => domain::version::none_match(v, version)
                .map_err(|why| ApiError::Malformed(vec![FieldProblem::new("If-None-Match", why)])),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Sample {
        #[validate(length(min = 1, max = 3))]
        name: String,
        #[validate(nested)]
        items: Vec<Item>,
    }

    #[derive(Debug, Deserialize, Validate)]
    #[serde(deny_unknown_fields)]
    struct Item {
        #[validate(range(min = 1, max = 10))]
        n: u8,
    }

    fn fields(e: ApiError) -> Vec<String> {
        match e {
            ApiError::Malformed(f) | ApiError::Invalid(f) => {
                f.into_iter().map(|f| f.field).collect()
            }
            other => vec![other.to_string()],
        }
    }

    #[test]
    fn type_errors_name_the_field() {
        let e = parse_json::<Sample>(br#"{"name":"a","items":[{"n":"x"}]}"#)
            .err()
            .map(fields);
        assert_eq!(e, Some(vec!["items[0].n".to_owned()]));
        let e = parse_json::<Sample>(br#"{"name":"a","items":[],"role":"admin"}"#)
            .err()
            .map(fields);
        assert_eq!(e, Some(vec!["role".to_owned()]));
        let e = parse_json::<Sample>(br#"{"name":"a""#).err().map(fields);
        assert_eq!(e, Some(vec!["body".to_owned()]));
        let e = parse_json::<Sample>(br#"{"name":"a","items":[]} trailing"#)
            .err()
            .map(fields);
        assert_eq!(e, Some(vec!["body".to_owned()]));
    }

    #[test]
    fn rule_errors_are_flattened_with_paths() {
        let s: Sample = parse_json(br#"{"name":"toolong","items":[{"n":1},{"n":11}]}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        let e = s.validate().err().map(|e| {
            flatten(&e)
                .into_iter()
                .map(|f| (f.field, f.detail))
                .collect::<Vec<_>>()
        });
        assert_eq!(
            e,
            Some(vec![
                (
                    "items[1].n".to_owned(),
                    "must be between 1 and 10".to_owned()
                ),
                (
                    "name".to_owned(),
                    "must have length between 1 and 3".to_owned()
                ),
            ])
        );
    }

    #[test]
    fn absurd_page_sizes_are_refused() {
        assert!(parse_query::<PageParams>("limit=100000").is_err());
        assert!(parse_query::<PageParams>("limit=-1").is_err());
        assert!(parse_query::<PageParams>("limit=10&after=nope").is_err());
        assert!(parse_query::<PageParams>("limit=10").is_ok());
    }
}
