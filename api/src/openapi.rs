//! The OpenAPI document: built from the handlers' annotations, with the bearer
//! scheme and the error responses every operation shares.

use utoipa::{
    openapi::{
        security::{
            ClientCredentials, Flow, HttpAuthScheme, HttpBuilder, OAuth2, Password, Scopes,
            SecurityScheme,
        },
        ContentBuilder, OpenApi as Doc, Ref, RefOr, ResponseBuilder,
    },
    Modify, OpenApi,
};

use crate::error::{Problem, PROBLEM_JSON};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Headway",
        description = "Client-centred occupational therapy: goals set together, outcomes measured, progress seen by the client.\n\nErrors are RFC 9457 problem details (`application/problem+json`) with a stable `type`.",
        license(name = "Apache-2.0")
    ),
    components(schemas(Problem)),
    tags(
        (name = "auth", description = "Tokens, sign-in, invitations"),
        (name = "me", description = "The caller"),
        (name = "users", description = "Accounts of a clinic"),
        (name = "clients", description = "Client records"),
        (name = "care", description = "Care teams and caregivers"),
        (name = "audit", description = "Who did what"),
        (name = "goals", description = "Episodes of care and goals set together"),
        (name = "measures", description = "Outcome measures and measurements"),
        (name = "progress", description = "Progress views, charts and milestones"),
        (name = "reports", description = "Progress reports: drafted from the record, edited, signed, with signed addenda; JSON, HTML or PDF"),
        (name = "home", description = "Between sessions: the home programme, practice and adherence, check-ins, questions to the care team"),
        (name = "events", description = "Live events: changes as they commit"),
        (name = "webhooks", description = "Webhook endpoints and their deliveries (admins)"),
        (name = "health", description = "Liveness and readiness"),
    )
)]
pub struct ApiDoc;

/// Adds what every operation shares. Applied after the routes are collected.
pub struct Shared;

/// The responses every operation can give, added where an operation did not say more.
const SHARED: &[(&str, &str)] = &[
    (
        "400",
        "Malformed request: bad JSON, wrong types, unknown fields, bad query or path.",
    ),
    ("500", "Internal error; quote the X-Request-Id."),
    ("503", "Database unreachable."),
];

/// Added to operations that take a body.
const WITH_BODY: &[(&str, &str)] = &[
    ("413", "Request body too large."),
    ("415", "Body is not of the documented media type."),
];

/// Added to operations that take a JSON body: it is validated after it is read.
const WITH_JSON_BODY: &[(&str, &str)] = &[(
    "422",
    "Well-formed, but a field breaks a rule; `errors` names every such field.",
)];

/// Secured operations that only read the caller's own account or the catalogue: the
/// policy is not asked, so they never answer 403.
const NEVER_FORBIDDEN: &[&str] = &["/api/v1/me", "/api/v1/measures"];

/// The POSTs that change a record in place (besides every PUT and PATCH): they
/// need If-Match like any update.
const CONDITIONAL_POSTS: &[&str] = &["/status", "/revisions", "/agreement", "/corrections"];

/// Whether an operation updates a record, and so requires If-Match (RFC 9110 §13.1.1).
pub fn is_update(method: &str, path: &str) -> bool {
    matches!(method, "put" | "patch")
        || (method == "post" && CONDITIONAL_POSTS.iter().any(|end| path.ends_with(end)))
}

/// Whether a GET reads one record (its path ends in the record's id), and so answers
/// with its ETag and honours If-None-Match.
pub fn is_single_read(method: &str, path: &str) -> bool {
    method == "get" && path.starts_with("/api/") && path.ends_with('}')
}

fn string_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .build()
}

/// An entity-tag list as `domain::version` reads it (RFC 9110 §8.8.3): `*`, or tags
/// separated by commas (empty elements allowed, at least one tag), each optionally weak.
fn tag_list_pattern(weak: bool) -> String {
    let tag = format!(
        r#"[ \t]*{}"[^",\u0000-\u0020\u007f]*"[ \t]*"#,
        if weak { "(W/)?" } else { "" }
    );
    // If-None-Match may be an empty list (it matches nothing); If-Match needs a tag.
    let empty = if weak { r"|^[ \t,]*$" } else { "" };
    format!(r"^[ \t]*\*[ \t]*$|^([ \t]*,)*{tag}(,({tag}|[ \t]*))*${empty}")
}

fn tag_list_param(
    name: &str,
    required: bool,
    weak: bool,
    description: &str,
) -> utoipa::openapi::path::Parameter {
    let mut param = header_param(name, required, description);
    param.schema = Some(
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(tag_list_pattern(weak)))
            .into(),
    );
    param
}

fn header_param(name: &str, required: bool, description: &str) -> utoipa::openapi::path::Parameter {
    use utoipa::openapi::{path::ParameterBuilder, path::ParameterIn, Required};
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Header)
        .required(if required {
            Required::True
        } else {
            Required::False
        })
        .description(Some(description))
        .schema(Some(string_schema()))
        .build()
}

/// The ETag response header and the conditional request headers and answers, on
/// every single read and every update.
fn conditional(op: &mut utoipa::openapi::path::Operation, update: bool) {
    let etag = utoipa::openapi::HeaderBuilder::new()
        .schema(string_schema())
        .description(Some(
            "The record's version as a strong entity tag (`\"3\"`): send it as If-Match to update it.",
        ))
        .build();
    for (code, response) in op.responses.responses.iter_mut() {
        if let (true, RefOr::T(response)) = (code.starts_with('2'), response) {
            response.headers.insert("ETag".to_owned(), etag.clone());
        }
    }
    let params = op.parameters.get_or_insert_with(Vec::new);
    let responses = &mut op.responses.responses;
    if update {
        params.push(tag_list_param(
            "If-Match",
            true,
            false,
            "The ETag of the version this update was made against, or `*` for any version. Strong tags only.",
        ));
        responses.entry("428".to_owned()).or_insert_with(|| {
            problem("No If-Match header: nothing was changed. Read the record and send its ETag.")
        });
        responses.entry("412".to_owned()).or_insert_with(|| {
            problem("The record changed since that ETag: nothing was changed; `current_etag` is its tag now.")
        });
    } else {
        params.push(tag_list_param(
            "If-None-Match",
            false,
            true,
            "ETags the caller holds: if one is the record's current version the answer is 304, without a body.",
        ));
        responses.entry("304".to_owned()).or_insert_with(|| {
            RefOr::T(
                ResponseBuilder::new()
                    .description("Not modified: the caller holds the current version.")
                    .header("ETag", etag.clone())
                    .build(),
            )
        });
    }
}

fn problem(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

impl Modify for Shared {
    fn modify(&self, doc: &mut Doc) {
        let components = doc.components.get_or_insert_with(Default::default);
        // Where bearer tokens come from; operations ask for `bearer`.
        components.add_security_scheme(
            "oauth2",
            SecurityScheme::OAuth2(OAuth2::new([
                Flow::Password(Password::new("/api/v1/auth/token", Scopes::new())),
                Flow::ClientCredentials(ClientCredentials::new(
                    "/api/v1/auth/token",
                    Scopes::from_iter(
                        domain::identity::Scope::ALL
                            .iter()
                            .map(|s| (s.as_str(), "A service account's access")),
                    ),
                )),
            ])),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        for (path, item) in doc.paths.paths.iter_mut() {
            let ops = [
                ("get", &mut item.get),
                ("post", &mut item.post),
                ("put", &mut item.put),
                ("patch", &mut item.patch),
                ("delete", &mut item.delete),
            ];
            for (method, op) in ops {
                let Some(op) = op else { continue };
                let writes = method != "get";
                if is_update(method, path) || is_single_read(method, path) {
                    conditional(op, writes);
                }
                let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_body = op.request_body.is_some();
                let json_body = op
                    .request_body
                    .as_ref()
                    .is_some_and(|b| b.content.contains_key("application/json"));
                let responses = &mut op.responses.responses;
                let body_codes = if has_body { WITH_BODY } else { &[] };
                let json_codes = if json_body { WITH_JSON_BODY } else { &[] };
                for (code, description) in SHARED.iter().chain(body_codes).chain(json_codes) {
                    responses
                        .entry((*code).to_owned())
                        .or_insert_with(|| problem(description));
                }
                if secured {
                    responses.entry("401".to_owned()).or_insert_with(|| {
                        problem("Missing, invalid or expired access token, or inactive account.")
                    });
                    if path.contains('{') {
                        responses.entry("404".to_owned()).or_insert_with(|| {
                            problem(
                                "No such record, or not yours to see: the same answer for both.",
                            )
                        });
                    }
                    let reads_own = !writes && NEVER_FORBIDDEN.contains(&path.as_str());
                    if !reads_own {
                        responses.entry("403".to_owned()).or_insert_with(|| {
                            problem("Visible, but not yours to do this to (or a scope is missing).")
                        });
                    }
                }
            }
            // Every POST a signed-in caller makes runs once per Idempotency-Key (the
            // token endpoints and invitation acceptance have no account to key it to).
            // A stream ticket is a credential: never stored, so a retry gets a new one.
            if let Some(op) = item.post.as_mut() {
                let credential = path == "/api/v1/events/ticket";
                // FHIR writes are made safe to retry in FHIR's own way: If-None-Exist.
                let fhir = path.starts_with(crate::fhir::BASE);
                if !credential && !fhir && op.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    idempotent(op);
                }
            }
        }
    }
}

/// Documents the `Idempotency-Key` header, its replay marker and its problems on a POST.
fn idempotent(op: &mut utoipa::openapi::path::Operation) {
    use utoipa::openapi::{
        header::Header,
        path::{ParameterBuilder, ParameterIn},
        ObjectBuilder, Required, Type,
    };
    let key = ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(crate::idempotent::MAX_KEY_LEN))
        .pattern(Some("^[\\x20-\\x7E]+$"));
    op.parameters.get_or_insert_with(Vec::new).push(
        ParameterBuilder::new()
            .name(crate::idempotent::IDEMPOTENCY_KEY)
            .parameter_in(ParameterIn::Header)
            .required(Required::False)
            .description(Some(
                "A key of your choosing (1 to 255 printable ASCII characters, e.g. a UUID; the draft's quoted form `\"...\"` is read too) that makes a retry safe: the same key with the same request (method, path, body) within 24 hours replays the first successful answer (status, body, Location) marked `Idempotent-Replayed: true`, and writes nothing again. Keys belong to the signed-in account. Only successful answers are kept: after an error, a retry runs again.",
            ))
            .schema(Some(key))
            .build(),
    );
    let responses = &mut op.responses.responses;
    for (code, response) in responses.iter_mut() {
        if let (true, RefOr::T(response)) = (code.starts_with('2'), response) {
            let mut replayed = Header::new(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["true"])),
            );
            replayed.description =
                Some("Present on a replayed answer (same Idempotency-Key and request).".into());
            response
                .headers
                .insert(crate::idempotent::IDEMPOTENT_REPLAYED.to_owned(), replayed);
        }
    }
    let meanings = [
        ("400", "Or: a malformed `Idempotency-Key` (empty, over 255 characters, not printable ASCII, sent twice); the problem names the header."),
        ("409", "Or: a request with the same `Idempotency-Key` is still in progress (`urn:headway:problem:idempotency-key-in-flight`); retry once it has finished."),
        ("422", "Or: the `Idempotency-Key` was used for a different request (`urn:headway:problem:idempotency-key-reused`)."),
    ];
    for (code, meaning) in meanings {
        match responses
            .entry(code.to_owned())
            .or_insert_with(|| problem(""))
        {
            RefOr::T(response) if response.description.is_empty() => {
                response.description = meaning.trim_start_matches("Or: ").to_owned();
                let first = response.description.remove(0).to_ascii_uppercase();
                response.description.insert(0, first);
            }
            RefOr::T(response) => {
                let end = if response.description.ends_with('.') {
                    " "
                } else {
                    ". "
                };
                response.description = format!("{}{end}{meaning}", response.description);
            }
            RefOr::Ref(_) => {}
        }
    }
}

/// The document as served and committed: utoipa's, plus the rules across fields.
pub fn document(doc: &Doc) -> serde_json::Value {
    let mut value = serde_json::to_value(doc).unwrap_or_default();
    // An event id is what the server sent: digits (utoipa's header tuples take no pattern).
    let parameters = &mut value["paths"]["/api/v1/events"]["get"]["parameters"];
    for parameter in parameters.as_array_mut().into_iter().flatten() {
        if parameter["name"] == "Last-Event-ID" {
            parameter["schema"]["pattern"] = serde_json::json!("^[0-9]{1,18}$");
        }
    }
    let schemas = &mut value["components"]["schemas"];
    for (name, rule) in cross_field_rules() {
        let schema = schemas.get_mut(name).and_then(|s| s.as_object_mut());
        if let (Some(schema), serde_json::Value::Object(rule)) = (schema, rule) {
            for (keyword, constraint) in rule {
                // Only keywords utoipa did not write: a rule never replaces a field's schema.
                schema.entry(keyword).or_insert(constraint);
            }
        }
    }
    value
}

/// Rules across fields that the domain applies when it parses a request and that
/// JSON Schema 2020-12 (OpenAPI 3.1's dialect) can state with `if`/`then`/`else` and
/// `not`, which utoipa's builders cannot write. Rules JSON Schema cannot state
/// (comparisons between fields, the clock, stored data, the caller's role) are in
/// the fields' descriptions and answered 422 naming the field.
fn cross_field_rules() -> Vec<(&'static str, serde_json::Value)> {
    use domain::identity::Role;
    use serde_json::json;
    let built_in: Vec<String> = domain::measure::catalogue()
        .into_iter()
        .map(|m| m.code)
        .collect();
    vec![
        // `domain::identity::NewStaff::parse`.
        (
            "NewUserInput",
            json!({"allOf": [
                {
                    "if": {"properties": {"role": {"const": Role::Service.as_str()}}},
                    "then": {"properties": {"email": {"type": "null"}}},
                    "else": {
                        "required": ["email"],
                        "properties": {"email": {"type": "string"}, "scopes": {"type": "null"}}
                    }
                },
                {
                    "if": {"properties": {"role": {"const": Role::Therapist.as_str()}}},
                    "then": {"required": ["discipline"], "properties": {"discipline": {"type": "string"}}}
                }
            ]}),
        ),
        // `domain::measure::Correction::parse`: withdraw, or bring new values.
        (
            "CorrectionInput",
            json!({
                "if": {"required": ["withdraw"], "properties": {"withdraw": {"const": true}}},
                "then": {"properties": {"values": {"type": "null"}}},
                "else": {"required": ["values"], "properties": {"values": {"not": {"type": "null"}}}}
            }),
        ),
        // `domain::goal::GoalContent::parse`: a target value is on a measure.
        (
            "GoalContentInput",
            json!({
                "if": {"required": ["target_value"], "properties": {"target_value": {"type": "number"}}},
                "then": {"required": ["measure_code"], "properties": {"measure_code": {"type": "string"}}}
            }),
        ),
        // RFC 6749 §4.3 and §6: what each grant needs (client credentials may come
        // in HTTP Basic instead, so that grant requires nothing more here).
        (
            "TokenRequest",
            json!({"allOf": [
                {
                    "if": {"properties": {"grant_type": {"const": "password"}}},
                    "then": {
                        "required": ["username", "password"],
                        "properties": {"username": {"type": "string"}, "password": {"type": "string"}}
                    }
                },
                {
                    "if": {"properties": {"grant_type": {"const": "refresh_token"}}},
                    "then": {"required": ["refresh_token"], "properties": {"refresh_token": {"type": "string"}}}
                }
            ]}),
        ),
        // `domain::measure::custom`: a clinic cannot reuse a built-in code.
        (
            "NewMeasureInput",
            json!({"allOf": [{"properties": {"code": {"not": {"enum": built_in}}}}]}),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4096))]
        /// The documented patterns accept exactly what the server reads: a client that
        /// follows the document is never refused, and one it refuses is refused too.
        #[test]
        fn tag_list_patterns_say_what_the_server_reads(
            value in r#"[ \t,"W/*a3\u{7f}é]{0,12}"#,
        ) {
            let strong = regex::Regex::new(&tag_list_pattern(false)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let weak = regex::Regex::new(&tag_list_pattern(true)).map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(strong.is_match(&value), domain::version::Expected::parse_if_match(&value).is_ok(), "If-Match {:?}", value);
            prop_assert_eq!(weak.is_match(&value), domain::version::none_match(&value, 3).is_ok(), "If-None-Match {:?}", value);
        }
    }

    /// A renamed type or a keyword utoipa starts writing would silently drop a rule.
    #[test]
    fn every_cross_field_rule_lands_on_its_schema() {
        let plain = serde_json::to_value(crate::app::openapi()).unwrap_or_default();
        let served = document(&crate::app::openapi());
        for (name, rule) in cross_field_rules() {
            let before = &plain["components"]["schemas"][name];
            assert!(before.is_object(), "no schema {name}");
            for (keyword, constraint) in rule.as_object().into_iter().flatten() {
                assert!(
                    before.get(keyword).is_none(),
                    "{name} already has {keyword}"
                );
                assert_eq!(&served["components"]["schemas"][name][keyword], constraint);
            }
        }
    }
}
