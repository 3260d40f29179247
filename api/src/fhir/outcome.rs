//! Errors at the FHIR door as OperationOutcome. Every refusal Headway makes is first
//! a problem (RFC 9457) from the one error type; this is the one translation of a
//! problem into an OperationOutcome, so the two doors refuse alike.

use actix_web::http::StatusCode;
use fhirkit::r4::{OperationOutcome, OperationOutcomeIssue};
use serde_json::Value;

use super::map::text;

/// The FHIR issue type for an HTTP status (R4 `issue-type` value set).
fn issue_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "invalid",
        401 => "login",
        403 => "forbidden",
        404 => "not-found",
        405 | 406 | 415 => "not-supported",
        408 => "timeout",
        409 | 412 | 428 => "conflict",
        410 => "deleted",
        413 | 431 => "too-costly",
        422 => "processing",
        429 | 503 => "throttled",
        _ => "exception",
    }
}

pub fn issue(
    severity: &str,
    code: &str,
    diagnostics: &str,
    expression: Option<&str>,
) -> OperationOutcomeIssue {
    OperationOutcomeIssue {
        severity: text(severity),
        code: text(code),
        diagnostics: text(diagnostics),
        expression: expression
            .map(|e| fhirkit::primitive::Primitive::new(e.to_owned()))
            .into_iter()
            .collect(),
        ..OperationOutcomeIssue::default()
    }
}

pub fn outcome(issues: Vec<OperationOutcomeIssue>) -> OperationOutcome {
    OperationOutcome {
        issue: issues,
        ..OperationOutcome::default()
    }
}

/// The OperationOutcome saying what `problem` (a problem+json body) says: one issue
/// per invalid field, each naming it; otherwise one issue with the problem's detail.
pub fn from_problem(status: StatusCode, problem: &Value) -> OperationOutcome {
    let code = issue_code(status);
    let detail = problem
        .get("detail")
        .and_then(Value::as_str)
        .or_else(|| problem.get("title").and_then(Value::as_str))
        .unwrap_or("The request was refused.");
    let fields: Vec<OperationOutcomeIssue> = problem
        .get("errors")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let field = e.get("field").and_then(Value::as_str)?;
            let message = e.get("detail").and_then(Value::as_str).unwrap_or(detail);
            Some(issue(
                "error",
                code,
                &format!("{field}: {message}"),
                Some(field),
            ))
        })
        .collect();
    if fields.is_empty() {
        outcome(vec![issue("error", code, detail, None)])
    } else {
        outcome(fields)
    }
}
