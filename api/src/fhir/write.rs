//! FHIR writes: an EHR creates Observations (imported measurements) and Goals
//! (proposals), alone, conditionally (If-None-Exist), or in `batch` and
//! `transaction` Bundles. Each resource is read into the same domain request the
//! JSON API builds, and goes through the same operations: the same rules, policy and
//! audit trail. Nothing an EHR sends is silently dropped: an element Headway does
//! not keep is refused by name.

use actix_web::{http::StatusCode, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    goal::{Goal, GoalDraft, GoalInput},
    measure::{catalogue, CopmProblem, Item, Measurement, Values},
};
use fhirkit::r4::{
    Bundle, BundleEntry, BundleEntryResponse, Goal as FhirGoal, GoalStart, GoalTargetDetail,
    GoalTargetDue, Observation, ObservationComponentValue, ObservationEffective, ObservationValue,
    Reference, Resource,
};
use persistence::{
    ops::{measures::NewReport, search::GoalStanding, search::Versioned},
    Abandoned, Caller,
};
use serde_json::Value;
use uuid::Uuid;

use super::{base_url, map, outcome, routes::FormatQuery, search::Params, Answer, Doc};
use crate::{
    auth::Bearer,
    error::{ApiError, FieldProblem},
    state::State,
};

/// The most entries a Bundle may carry: a bigger one is refused before anything runs.
pub const MAX_BUNDLE_ENTRIES: usize = 100;

// --- Reading a resource ------------------------------------------------------------

/// A problem with the resource, named by its FHIRPath: 422, nothing stored.
fn invalid(path: &str, detail: impl Into<String>) -> ApiError {
    ApiError::Invalid(vec![FieldProblem::new(path, detail)])
}

/// The resource's JSON, checked for its type and for elements Headway does not keep.
fn parsed(body: &[u8], kind: &str, kept: &[&str]) -> Result<Value, ApiError> {
    let json: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("The body is not JSON: {e}")))?;
    let Some(object) = json.as_object() else {
        return Err(ApiError::BadRequest(format!(
            "The body must be a FHIR {kind} resource (a JSON object)"
        )));
    };
    match object.get("resourceType").and_then(Value::as_str) {
        Some(t) if t == kind => {}
        Some(t) => {
            return Err(invalid(
                &format!("{kind}.resourceType"),
                format!("must be {kind}, not {t}"),
            ))
        }
        None => return Err(invalid(&format!("{kind}.resourceType"), "is required")),
    }
    let refused: Vec<FieldProblem> = object
        .keys()
        .filter(|k| !kept.contains(&k.as_str()))
        .map(|k| {
            FieldProblem::new(
                &format!("{kind}.{k}"),
                "is not an element Headway keeps for a new record; nothing was stored",
            )
        })
        .collect();
    if !refused.is_empty() {
        return Err(ApiError::Invalid(refused));
    }
    Ok(json)
}

/// The resource as fhirkit reads it, strictly: an unknown element or a wrong type is
/// refused with its path.
fn strict<T: fhirkit::FhirJson>(json: &Value) -> Result<T, ApiError> {
    fhirkit::from_json_strict::<T>(&json.to_string()).map_err(|e| match e {
        fhirkit::Error::Json(e) => ApiError::BadRequest(format!("The body is not JSON: {e}")),
        fhirkit::Error::Invalid(issues) => ApiError::Malformed(
            issues
                .iter()
                .map(|i| FieldProblem::new(&i.path, &i.message))
                .collect(),
        ),
    })
}

fn value<T: Clone>(p: &Option<fhirkit::primitive::Primitive<T>>) -> Option<T> {
    p.as_ref().and_then(|p| p.value.clone())
}

/// The id a reference names, as `Kind/{id}` or an absolute URL ending so.
fn referenced(r: &Reference, kind: &str, path: &str) -> Result<Uuid, ApiError> {
    let Some(target) = value(&r.reference) else {
        return Err(invalid(
            path,
            format!("must reference a {kind} (`{kind}/{{id}}`)"),
        ));
    };
    let mut parts = target.rsplit('/');
    let (id, k) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    if k != kind {
        return Err(invalid(
            path,
            format!("must reference a {kind}, not {target}"),
        ));
    }
    // An id Headway never gave names nothing: answered as any record out of reach.
    Ok(Uuid::parse_str(id).unwrap_or(Uuid::nil()))
}

/// A FHIR dateTime with a time zone, as UTC.
fn instant(raw: &str, path: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            invalid(
                path,
                "must be a date and time with a time zone, e.g. 2026-12-03T10:00:00Z",
            )
        })
}

fn day(raw: &str, path: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| invalid(path, "must be a full date, e.g. 2026-12-03"))
}

/// A code of `system` among a concept's codings.
fn code_in(c: &fhirkit::r4::CodeableConcept, system: &str) -> Option<String> {
    c.coding
        .iter()
        .find(|k| value(&k.system).as_deref() == Some(system))
        .and_then(|k| value(&k.code))
}

const OBSERVATION_KEPT: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "text",
    "extension",
    "status",
    "category",
    "code",
    "subject",
    "focus",
    "effectiveDateTime",
    "effectiveInstant",
    "issued",
    "performer",
    "valueQuantity",
    "valueInteger",
    "valueCodeableConcept",
    "note",
    "component",
];

/// A new Observation, read into what recording a measurement takes: the client
/// and the report. Who reported it follows from who calls (an EHR's service account
/// records `imported`), as it does at the JSON API; `category`, `performer` and
/// `issued` are Headway's to say and are not read.
pub fn observation_report(body: &[u8]) -> Result<(Uuid, NewReport), ApiError> {
    let json = parsed(body, "Observation", OBSERVATION_KEPT)?;
    let o: Observation = strict(&json)?;
    match value(&o.status).as_deref() {
        Some("final") => {}
        _ => {
            return Err(invalid(
                "Observation.status",
                "must be final: a new Observation is a first version (corrections are made as new versions in Headway)",
            ))
        }
    }
    let code = o.code.as_ref().and_then(|c| {
        code_in(c, map::MEASURE_SYSTEM).or_else(|| {
            c.coding
                .iter()
                .filter(|k| value(&k.system).as_deref() == Some(map::LOINC))
                .filter_map(|k| value(&k.code))
                .find(|k| map::gas_sources_of_loinc(k).is_some())
                .map(|_| "gas".to_owned())
        })
    });
    let Some(measure_code) = code else {
        return Err(invalid(
            "Observation.code",
            format!(
                "must name a measure: {}|<code> (e.g. copm, quickdash) or a GAS LOINC code",
                map::MEASURE_SYSTEM
            ),
        ));
    };
    let Some(subject) = &o.subject else {
        return Err(invalid(
            "Observation.subject",
            "is required: the Patient it is about",
        ));
    };
    let client_id = referenced(subject, "Patient", "Observation.subject")?;
    let goal_id = match o.focus.as_slice() {
        [] => None,
        [goal] => Some(referenced(goal, "Goal", "Observation.focus")?),
        _ => return Err(invalid("Observation.focus", "may name one Goal")),
    };
    let observed_at = match &o.effective {
        None => None,
        Some(ObservationEffective::DateTime(t)) | Some(ObservationEffective::Instant(t)) => {
            Some(instant(
                t.value.as_deref().unwrap_or_default(),
                "Observation.effective",
            )?)
        }
        Some(_) => {
            return Err(invalid(
                "Observation.effective",
                "must be a dateTime: a measurement is taken at one time",
            ))
        }
    };
    let values = observation_values(&o)?;
    let notes: Vec<String> = o.note.iter().filter_map(|n| value(&n.text)).collect();
    let note = (!notes.is_empty()).then(|| notes.join("\n"));
    let note = domain::measure::note(note);
    Ok((
        client_id,
        NewReport {
            goal_id,
            measure_code,
            observed_at,
            values,
            note,
        },
    ))
}

fn component_number(v: &Option<ObservationComponentValue>, path: &str) -> Result<f64, ApiError> {
    match v {
        Some(ObservationComponentValue::Quantity(q)) => q
            .value
            .as_ref()
            .and_then(|d| d.value.as_ref())
            .map(|d| d.to_f64())
            .ok_or_else(|| invalid(path, "must have a value")),
        Some(ObservationComponentValue::Integer(i)) => i
            .value
            .map(f64::from)
            .ok_or_else(|| invalid(path, "must have a value")),
        _ => Err(invalid(path, "must be a valueQuantity or valueInteger")),
    }
}

/// The problem a COPM component is about: the text Headway writes,
/// `Problem n (what): part`, or the whole text as an EHR wrote it.
fn copm_problem(text: &str) -> String {
    let inner = text
        .strip_prefix("Problem ")
        .and_then(|rest| rest.split_once(" ("))
        .and_then(|(_, rest)| rest.rsplit_once("): "))
        .map(|(what, _)| what);
    inner.unwrap_or(text).trim().to_owned()
}

/// What the Observation reports, in the shape its measure takes: components for
/// COPM problems or items, otherwise one value. The measure itself then checks it.
fn observation_values(o: &Observation) -> Result<Values, ApiError> {
    let mut items: Vec<(usize, Item)> = Vec::new();
    let mut problems: Vec<CopmProblem> = Vec::new();
    for (i, c) in o.component.iter().enumerate() {
        let path = format!("Observation.component[{i}]");
        let code = c
            .code
            .as_ref()
            .and_then(|k| code_in(k, map::MEASURE_PART_SYSTEM))
            .ok_or_else(|| {
                invalid(
                    &format!("{path}.code"),
                    format!("must be a code of {}", map::MEASURE_PART_SYSTEM),
                )
            })?;
        let label = c.code.as_ref().and_then(|k| value(&k.text));
        let number = component_number(&c.value, &format!("{path}.value"))?;
        match code.as_str() {
            // Scores Headway computes from the problems: not read.
            "copm-performance" | "copm-satisfaction" => {}
            "copm-problem-importance" => problems.push(CopmProblem {
                problem: copm_problem(label.as_deref().unwrap_or_default()),
                importance: number,
                performance: f64::NAN,
                satisfaction: f64::NAN,
            }),
            "copm-problem-performance" | "copm-problem-satisfaction" => {
                let Some(last) = problems.last_mut() else {
                    return Err(invalid(
                        &format!("{path}.code"),
                        "follows its problem's copm-problem-importance component",
                    ));
                };
                if code == "copm-problem-performance" {
                    last.performance = number;
                } else {
                    last.satisfaction = number;
                }
            }
            other => {
                let n = other
                    .rsplit_once("-item-")
                    .and_then(|(_, n)| n.parse::<usize>().ok())
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| {
                        invalid(
                            &format!("{path}.code"),
                            "must be an item (`<measure>-item-<n>`) or a COPM problem part",
                        )
                    })?;
                items.push((
                    n,
                    Item {
                        label,
                        value: Some(number),
                    },
                ));
            }
        }
    }
    if let Some(p) = problems
        .iter()
        .position(|p| p.performance.is_nan() || p.satisfaction.is_nan() || p.problem.is_empty())
    {
        return Err(invalid(
            "Observation.component",
            format!(
                "COPM problem {} needs its text, importance, performance and satisfaction",
                p + 1
            ),
        ));
    }
    let value = match &o.value {
        None => None,
        Some(ObservationValue::Quantity(q)) => q
            .value
            .as_ref()
            .and_then(|d| d.value.as_ref())
            .map(|d| d.to_f64()),
        Some(ObservationValue::Integer(i)) => i.value.map(f64::from),
        Some(ObservationValue::CodeableConcept(c)) => {
            let level = code_in(c, map::LOINC).and_then(|code| map::gas_level_of_answer(&code));
            Some(level.map(f64::from).ok_or_else(|| {
                invalid(
                    "Observation.value",
                    "must be a GAS answer code (LA34479-8 ... LA34484-8)",
                )
            })?)
        }
        Some(_) => {
            return Err(invalid(
                "Observation.value",
                "must be a valueQuantity, valueInteger or GAS answer",
            ))
        }
    };
    // Items with a value only when given; the measure says how many it takes.
    let items = (!items.is_empty()).then(|| {
        let len = items.iter().map(|(n, _)| *n).max().unwrap_or(0);
        let mut all = vec![
            Item {
                label: None,
                value: None
            };
            len
        ];
        for (n, item) in items {
            all[n - 1] = item;
        }
        all
    });
    // A total beside items is Headway's own scoring: items decide.
    let value = if items.is_some() || !problems.is_empty() {
        None
    } else {
        value
    };
    Ok(Values {
        value,
        items,
        problems: (!problems.is_empty()).then_some(problems),
    })
}

const GOAL_KEPT: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "text",
    "extension",
    "lifecycleStatus",
    "category",
    "description",
    "subject",
    "startDate",
    "target",
    "expressedBy",
];

/// A new Goal, read into a proposal: it arrives `proposed`, and the client and a
/// therapist still agree to it in Headway. The client's own words (an extension)
/// and the occupation area are required, as at the JSON API.
pub fn goal_draft(body: &[u8], today: NaiveDate) -> Result<(Uuid, GoalDraft), ApiError> {
    let json = parsed(body, "Goal", GOAL_KEPT)?;
    let g: FhirGoal = strict(&json)?;
    if value(&g.lifecycle_status).as_deref() != Some("proposed") {
        return Err(invalid(
            "Goal.lifecycleStatus",
            "must be proposed: a goal becomes active once the client and a therapist agree to it in Headway",
        ));
    }
    let Some(subject) = &g.subject else {
        return Err(invalid(
            "Goal.subject",
            "is required: the Patient whose goal it is",
        ));
    };
    let client_id = referenced(subject, "Patient", "Goal.subject")?;
    let ext = |url: &str| g.extension.iter().find(|e| value_url(e) == Some(url));
    let client_words = ext(map::CLIENT_WORDS_URL).and_then(|e| match &e.value {
        Some(fhirkit::r4::ExtensionValue::String(s)) => s.value.clone(),
        _ => None,
    });
    let importance = ext(map::IMPORTANCE_URL).and_then(|e| match &e.value {
        Some(fhirkit::r4::ExtensionValue::Integer(i)) => i.value,
        _ => None,
    });
    let term = ext(map::TERM_URL).and_then(|e| match &e.value {
        Some(fhirkit::r4::ExtensionValue::Code(c)) => c.value.clone(),
        _ => None,
    });
    let Some(client_words) = client_words else {
        return Err(invalid(
            &format!("Goal.extension('{}')", map::CLIENT_WORDS_URL),
            "is required: the goal in the client's own words (valueString)",
        ));
    };
    let Some(importance) = importance else {
        return Err(invalid(
            &format!("Goal.extension('{}')", map::IMPORTANCE_URL),
            "is required: how important the goal is to the client, 1 to 10 (valueInteger)",
        ));
    };
    let area = g
        .category
        .iter()
        .find_map(|c| code_in(c, map::OCCUPATION_SYSTEM))
        .ok_or_else(|| {
            invalid(
                "Goal.category",
                format!(
                    "must name the occupation area: {}|<area>",
                    map::OCCUPATION_SYSTEM
                ),
            )
        })?;
    let statement = g.description.as_ref().and_then(|d| value(&d.text));
    let start_date = match &g.start {
        None => None,
        Some(GoalStart::Date(d)) => Some(day(
            d.value.as_deref().unwrap_or_default(),
            "Goal.startDate",
        )?),
        Some(_) => return Err(invalid("Goal.start", "must be a startDate")),
    };
    let (mut measure_code, mut target_value, mut target_date) = (None, None, None);
    match g.target.as_slice() {
        [] => {}
        [t] => {
            measure_code = t
                .measure
                .as_ref()
                .and_then(|m| code_in(m, map::MEASURE_SYSTEM));
            if t.measure.is_some() && measure_code.is_none() {
                return Err(invalid(
                    "Goal.target[0].measure",
                    format!("must be a code of {}", map::MEASURE_SYSTEM),
                ));
            }
            if measure_code.as_deref() == Some("gas") {
                return Err(invalid(
                    "Goal.target[0].measure",
                    "a GAS goal's five levels are written in Headway",
                ));
            }
            target_value = match &t.detail {
                None => None,
                Some(GoalTargetDetail::Quantity(q)) => q
                    .value
                    .as_ref()
                    .and_then(|d| d.value.as_ref())
                    .map(|d| d.to_f64()),
                Some(_) => {
                    return Err(invalid("Goal.target[0].detail", "must be a detailQuantity"))
                }
            };
            target_date = match &t.due {
                None => None,
                Some(GoalTargetDue::Date(d)) => Some(day(
                    d.value.as_deref().unwrap_or_default(),
                    "Goal.target[0].dueDate",
                )?),
                Some(_) => return Err(invalid("Goal.target[0].due", "must be a dueDate")),
            };
        }
        _ => return Err(invalid("Goal.target", "may hold one target")),
    }
    let input = GoalInput {
        client_words: &client_words,
        statement: statement.as_deref(),
        occupation_area: &area,
        importance: i64::from(importance),
        start_date,
        target_date,
        measure_code: measure_code.as_deref(),
        target_value,
        gas_levels: None,
        gas_baseline: None,
    };
    let draft = GoalDraft::parse(term.as_deref(), None, &input, today).map_err(|e| {
        ApiError::Invalid(
            e.0.iter()
                .map(|f| FieldProblem::new(&goal_path(&f.field), &f.message))
                .collect(),
        )
    })?;
    Ok((client_id, draft))
}

fn value_url(e: &fhirkit::r4::Extension) -> Option<&str> {
    e.url.as_deref()
}

/// A goal field as the JSON API names it, as the FHIR Goal's element.
fn goal_path(field: &str) -> String {
    let at = match field.trim_start_matches("content.") {
        "client_words" => format!("Goal.extension('{}')", map::CLIENT_WORDS_URL),
        "importance" => format!("Goal.extension('{}')", map::IMPORTANCE_URL),
        "statement" => "Goal.description".into(),
        "occupation_area" => "Goal.category".into(),
        "start_date" => "Goal.startDate".into(),
        "target_date" => "Goal.target[0].dueDate".into(),
        "measure_code" => "Goal.target[0].measure".into(),
        "target_value" => "Goal.target[0].detailQuantity".into(),
        "term" | "parent_id" => format!("Goal.extension('{}')", map::TERM_URL),
        "episode" | "episode_id" => "Goal.subject".into(),
        other => format!("Goal ({other})"),
    };
    at
}

/// A measurement field as the JSON API names it, as the FHIR Observation's element.
fn observation_path(field: &str) -> String {
    let head = field.split(['.', '[']).next().unwrap_or(field);
    match head {
        "values" if field.contains("items") || field.contains("problems") => {
            "Observation.component".into()
        }
        "values" | "value" => "Observation.value".into(),
        "observed_at" => "Observation.effectiveDateTime".into(),
        "goal" | "goal_id" | "episode" | "episode_id" => "Observation.focus".into(),
        "measure_code" => "Observation.code".into(),
        "note" => "Observation.note".into(),
        other => format!("Observation ({other})"),
    }
}

/// The operation's refusal, with fields named as the resource names them.
fn in_fhir_terms(e: ApiError, path: fn(&str) -> String) -> ApiError {
    match e {
        ApiError::Invalid(fields) => ApiError::Invalid(
            fields
                .into_iter()
                .map(|f| FieldProblem::new(&path(&f.field), f.detail))
                .collect(),
        ),
        other => other,
    }
}

// --- Answering ---------------------------------------------------------------------

/// What a created (or, for a conditional create, found) resource answers with.
pub struct Written {
    pub kind: &'static str,
    pub id: Uuid,
    pub version: i32,
    pub at: DateTime<Utc>,
    pub resource: Resource,
    pub created: bool,
}

fn measure_of_code(code: &str) -> Option<domain::measure::OutcomeMeasure> {
    catalogue().into_iter().find(|m| m.code == code)
}

fn observation_written(m: Measurement, logical_id: Uuid, version: i32, created: bool) -> Written {
    let at = m.created_at;
    let measure = measure_of_code(&m.measure_code);
    let v = Versioned {
        logical_id,
        version,
        record: m,
    };
    Written {
        kind: "Observation",
        id: logical_id,
        version,
        at,
        resource: Resource::Observation(Box::new(map::observation(&v, measure.as_ref()))),
        created,
    }
}

fn goal_written(goal: Goal) -> Written {
    let (id, version, at) = (goal.id, goal.version, goal.updated_at);
    let measure = goal
        .content
        .measure_code
        .as_deref()
        .and_then(measure_of_code);
    let standing = GoalStanding {
        achievement: None,
        measurements: Vec::new(),
        goal,
    };
    Written {
        kind: "Goal",
        id,
        version,
        at,
        resource: Resource::Goal(Box::new(map::goal(&standing, &[], measure.as_ref()))),
        created: true,
    }
}

/// `Prefer: return=minimal` (no body) or `return=OperationOutcome`; otherwise the
/// resource (representation).
#[derive(Clone, Copy, PartialEq)]
enum Return {
    Minimal,
    Outcome,
    Representation,
}

fn preferred(req: &HttpRequest) -> Return {
    let prefer: Vec<String> = req
        .headers()
        .get_all("prefer")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_ascii_lowercase())
        .collect();
    if prefer.iter().any(|p| p == "return=minimal") {
        Return::Minimal
    } else if prefer.iter().any(|p| p == "return=operationoutcome") {
        Return::Outcome
    } else {
        Return::Representation
    }
}

fn location(base: &str, w: &Written) -> String {
    format!("{base}/{}/{}/_history/{}", w.kind, w.id, w.version)
}

fn answer(req: &HttpRequest, w: Written) -> HttpResponse {
    let base = base_url(req);
    let status = if w.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let place = location(&base, &w);
    let mut r: HttpResponse = match preferred(req) {
        Return::Representation => match &w.resource {
            Resource::Observation(o) => Answer::new(status, o.as_ref(), false),
            Resource::Goal(g) => Answer::new(status, g.as_ref(), false),
            _ => Answer::new(status, &outcome::outcome(Vec::new()), false),
        }
        .versioned(w.version, w.at)
        .into(),
        Return::Outcome => {
            let said = if w.created {
                "Created"
            } else {
                "Found: nothing was created"
            };
            let o = outcome::outcome(vec![outcome::issue(
                "information",
                "informational",
                said,
                None,
            )]);
            Answer::new(status, &o, false)
                .versioned(w.version, w.at)
                .into()
        }
        Return::Minimal => {
            let mut r = HttpResponse::build(status);
            r.insert_header((
                actix_web::http::header::ETAG,
                format!("W/\"{}\"", w.version),
            ));
            r.finish()
        }
    };
    if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&place) {
        r.headers_mut().insert(actix_web::http::header::LOCATION, v);
    }
    r
}

fn today() -> NaiveDate {
    Utc::now().date_naive()
}

// --- Conditional create ------------------------------------------------------------

/// The search an `If-None-Exist` header names (a query string of Observation search
/// parameters, with or without `Observation?`), for one client.
fn condition(
    raw: &str,
    report_client: Uuid,
) -> Result<persistence::ops::search::MeasurementSearch, ApiError> {
    let query = raw
        .trim()
        .trim_start_matches("Observation?")
        .trim_start_matches('?');
    let params = Params::from_query(query, false);
    super::routes::observation_condition(&params, report_client)
}

/// The Observations that already match a conditional create, with their logical ids.
async fn matches(
    state: &State,
    caller: &Caller,
    client_id: Uuid,
    search: persistence::ops::search::MeasurementSearch,
) -> Result<Vec<Versioned<Measurement>>, ApiError> {
    let caller = caller.clone();
    let found = state
        .run(move |clinic| clinic.search_measurements(&caller, client_id, search, false))
        .await?;
    Ok(found.items)
}

/// Creates an Observation, or with `if_none_exist` finds the one that matches.
async fn create_observation_of(
    state: &State,
    caller: Caller,
    req: &HttpRequest,
    body: &[u8],
    if_none_exist: Option<&str>,
) -> Result<Written, ApiError> {
    fhir_body(req)?;
    let (client_id, report) = observation_report(body)?;
    run_observation(state, &caller, client_id, report, if_none_exist).await
}

async fn create_goal_of(
    state: &State,
    caller: Caller,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Written, ApiError> {
    fhir_body(req)?;
    let (client_id, draft) = goal_draft(body, today())?;
    let goal = state
        .run(move |clinic| clinic.propose_goal_in_place(&caller, client_id, draft))
        .await
        .map_err(|e| in_fhir_terms(e, goal_path))?;
    Ok(goal_written(goal))
}

fn if_none_exist(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get("if-none-exist")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Create an Observation: a measurement recorded from an EHR (its source follows
/// the caller: `imported` for a service account), checked exactly as at the JSON
/// API. With `If-None-Exist` (Observation search parameters), an Observation that
/// already matches is answered instead (200) and nothing is created.
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery),
    request_body(content = Doc, content_type = "application/fhir+json", description = "An Observation"),
    responses(
        (status = 200, description = "If-None-Exist matched one Observation: it, and nothing created", body = Doc, content_type = "application/fhir+json"),
        (status = 201, description = "Created: Location names its first version", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "Not a FHIR resource, or an unknown element", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 403, description = "The caller may see the client but not record for them", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "The Patient or Goal referenced is not within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
        (status = 412, description = "If-None-Exist matched more than one Observation", body = Doc, content_type = "application/fhir+json"),
        (status = 415, description = "The body is not JSON", body = Doc, content_type = "application/fhir+json"),
        (status = 422, description = "A rule broken, or an element Headway does not keep; nothing stored", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[post("/Observation")]
pub async fn create_observation(
    Bearer(caller): Bearer,
    req: HttpRequest,
    body: web::Bytes,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let condition = if_none_exist(&req);
    let written = confirmed(
        &state,
        &caller,
        create_observation_of(&state, caller.clone(), &req, &body, condition.as_deref()).await,
    )
    .await?;
    Ok(answer(&req, written))
}

/// Create a Goal: it arrives `proposed`, in the client's one open episode; the
/// client and a therapist agree to it in Headway.
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery),
    request_body(content = Doc, content_type = "application/fhir+json", description = "A Goal"),
    responses(
        (status = 201, description = "Created, proposed: Location names its first version", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "Not a FHIR resource, or an unknown element", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 403, description = "The caller may see the client but not propose goals", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "The Patient referenced is not within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
        (status = 415, description = "The body is not JSON", body = Doc, content_type = "application/fhir+json"),
        (status = 422, description = "A rule broken, or an element Headway does not keep; nothing stored", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[post("/Goal")]
pub async fn create_goal(
    Bearer(caller): Bearer,
    req: HttpRequest,
    body: web::Bytes,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let written = confirmed(
        &state,
        &caller,
        create_goal_of(&state, caller.clone(), &req, &body).await,
    )
    .await?;
    Ok(answer(&req, written))
}

/// A refusal of what was sent (a malformed body, a broken rule found while reading
/// it) is given only to a caller the database still backs: a dead token hears 401
/// first, whatever it sent.
async fn confirmed<T>(
    state: &State,
    caller: &Caller,
    result: Result<T, ApiError>,
) -> Result<T, ApiError> {
    match result {
        Err(why) if !matches!(why, ApiError::Unauthorized(_)) => {
            let caller = caller.clone();
            state.run(move |clinic| clinic.confirm(&caller)).await?;
            Err(why)
        }
        other => other,
    }
}

/// A FHIR write's body is JSON: `application/fhir+json` or `application/json`.
fn fhir_body(req: &HttpRequest) -> Result<(), ApiError> {
    let media = req
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    match super::essence(media).as_str() {
        "application/fhir+json" | "application/json" => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType(
            "The body must be application/fhir+json".into(),
        )),
    }
}

// --- Bundles -----------------------------------------------------------------------

/// One entry of a Bundle, read: what to create, and its conditional search.
enum Step {
    Observation {
        client_id: Uuid,
        report: NewReport,
        if_none_exist: Option<String>,
    },
    Goal {
        client_id: Uuid,
        draft: GoalDraft,
    },
}

fn entry_path(i: usize, rest: &str) -> String {
    format!("Bundle.entry[{i}]{rest}")
}

/// Reads entry `i`: a POST of an Observation or a Goal.
fn step(i: usize, e: &BundleEntry) -> Result<Step, ApiError> {
    let Some(request) = &e.request else {
        return Err(invalid(
            &entry_path(i, ".request"),
            "is required in a batch or transaction",
        ));
    };
    let method = value(&request.method).unwrap_or_default();
    let url = value(&request.url).unwrap_or_default();
    if method != "POST" {
        return Err(invalid(
            &entry_path(i, ".request.method"),
            "must be POST: Bundles create Observations and Goals",
        ));
    }
    let Some(resource) = &e.resource else {
        return Err(invalid(
            &entry_path(i, ".resource"),
            "is required for a POST",
        ));
    };
    let rename = |e: ApiError| prefix_fields(e, &entry_path(i, ".resource."));
    match (resource, url.trim_end_matches('/')) {
        (Resource::Observation(o), "Observation") => {
            let body = fhirkit::to_json(o.as_ref());
            let (client_id, report) = observation_report(body.as_bytes()).map_err(rename)?;
            Ok(Step::Observation {
                client_id,
                report,
                if_none_exist: value(&request.if_none_exist),
            })
        }
        (Resource::Goal(g), "Goal") => {
            let body = fhirkit::to_json(g.as_ref());
            let (client_id, draft) = goal_draft(body.as_bytes(), today()).map_err(rename)?;
            Ok(Step::Goal { client_id, draft })
        }
        _ => Err(invalid(
            &entry_path(i, ".request.url"),
            "must be Observation or Goal, matching the entry's resource",
        )),
    }
}

fn prefix_fields(e: ApiError, at: &str) -> ApiError {
    let rename = |fields: Vec<FieldProblem>| {
        fields
            .into_iter()
            .map(|f| {
                let path = f
                    .field
                    .split_once('.')
                    .map_or(f.field.as_str(), |(_, rest)| rest);
                FieldProblem::new(&format!("{at}{path}"), f.detail)
            })
            .collect()
    };
    match e {
        ApiError::Invalid(f) => ApiError::Invalid(rename(f)),
        ApiError::Malformed(f) => ApiError::Malformed(rename(f)),
        other => other,
    }
}

fn response_entry(base: &str, w: Written) -> BundleEntry {
    let status = if w.created { "201 Created" } else { "200 OK" };
    BundleEntry {
        full_url: map::text(format!("{base}/{}/{}", w.kind, w.id)),
        response: Some(BundleEntryResponse {
            status: map::text(status),
            location: map::text(location(base, &w)),
            etag: map::text(format!("W/\"{}\"", w.version)),
            last_modified: map::text(map::instant(w.at)),
            ..BundleEntryResponse::default()
        }),
        resource: Some(w.resource),
        ..BundleEntry::default()
    }
}

fn failed_entry(e: &ApiError) -> BundleEntry {
    let status = actix_web::ResponseError::status_code(e);
    let problem = serde_json::to_value(e.problem()).unwrap_or_default();
    let o = outcome::from_problem(status, &problem);
    BundleEntry {
        response: Some(BundleEntryResponse {
            status: map::text(format!(
                "{} {}",
                status.as_u16(),
                status.canonical_reason().unwrap_or_default()
            )),
            outcome: Some(Resource::OperationOutcome(Box::new(o))),
            ..BundleEntryResponse::default()
        }),
        ..BundleEntry::default()
    }
}

/// Process a `batch` (each entry on its own) or a `transaction` (all or nothing)
/// Bundle of POSTs creating Observations and Goals. A transaction is one database
/// transaction: when an entry is refused, nothing is stored and the answer names it.
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery),
    request_body(content = Doc, content_type = "application/fhir+json", description = "A Bundle of type batch or transaction"),
    responses(
        (status = 200, description = "batch-response or transaction-response Bundle", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "Not a Bundle, or an unknown element", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 403, description = "A transaction entry the caller may not write: nothing stored", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "A transaction entry references a record outside the caller's reach: nothing stored", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
        (status = 413, description = "More entries than a Bundle may carry", body = Doc, content_type = "application/fhir+json"),
        (status = 415, description = "The body is not JSON", body = Doc, content_type = "application/fhir+json"),
        (status = 422, description = "A transaction entry breaks a rule: nothing stored", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[post("")]
pub async fn bundle(
    Bearer(caller): Bearer,
    req: HttpRequest,
    body: web::Bytes,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let answered = confirmed(
        &state,
        &caller,
        bundle_of(&state, caller.clone(), &req, &body).await,
    )
    .await?;
    Ok(answered)
}

const BUNDLE_KEPT: &[&str] = &[
    "resourceType",
    "id",
    "meta",
    "type",
    "entry",
    "timestamp",
    "identifier",
];

async fn bundle_of(
    state: &State,
    caller: Caller,
    req: &HttpRequest,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    fhir_body(req)?;
    let json = parsed(body, "Bundle", BUNDLE_KEPT)?;
    let entries = json
        .get("entry")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if entries > MAX_BUNDLE_ENTRIES {
        return Err(ApiError::TooManyEntries(MAX_BUNDLE_ENTRIES));
    }
    let b: Bundle = strict(&json)?;
    let kind = value(&b.type_).unwrap_or_default();
    let base = base_url(req);
    let (reply_type, entries) = match kind.as_str() {
        "batch" => (
            "batch-response",
            batch(state, &caller, &b.entry, &base).await?,
        ),
        "transaction" => (
            "transaction-response",
            transaction(state, caller, &b.entry, &base).await?,
        ),
        _ => return Err(invalid("Bundle.type", "must be batch or transaction")),
    };
    let reply = Bundle {
        type_: map::text(reply_type),
        entry: entries,
        ..Bundle::default()
    };
    Ok(Answer::ok(&reply, req).into())
}

async fn batch(
    state: &State,
    caller: &Caller,
    entries: &[BundleEntry],
    base: &str,
) -> Result<Vec<BundleEntry>, ApiError> {
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let done = match step(i, e) {
            Err(e) => Err(e),
            Ok(Step::Observation {
                client_id,
                report,
                if_none_exist,
            }) => run_observation(state, caller, client_id, report, if_none_exist.as_deref()).await,
            Ok(Step::Goal { client_id, draft }) => {
                let who = caller.clone();
                state
                    .run(move |clinic| clinic.propose_goal_in_place(&who, client_id, draft))
                    .await
                    .map(goal_written)
                    .map_err(|e| in_fhir_terms(e, goal_path))
            }
        };
        out.push(match done {
            Ok(w) => response_entry(base, w),
            // A dead token ends the whole batch, as for any request.
            Err(ApiError::Unauthorized(why)) => return Err(ApiError::Unauthorized(why)),
            Err(e) => failed_entry(&e),
        });
    }
    Ok(out)
}

async fn run_observation(
    state: &State,
    caller: &Caller,
    client_id: Uuid,
    report: NewReport,
    if_none_exist: Option<&str>,
) -> Result<Written, ApiError> {
    let unless = match settle(state, caller, client_id, if_none_exist).await? {
        Settled::Found(w) => return Ok(w),
        Settled::Create(unless) => unless,
    };
    let conditional = unless.is_some();
    let who = caller.clone();
    let recorded = state
        .run(move |clinic| clinic.record_measurement_in_place(&who, client_id, report, unless))
        .await;
    match recorded {
        Ok(m) => {
            let id = m.id;
            Ok(observation_written(m, id, 1, true))
        }
        // Another request recorded a match meanwhile: answer it, as if found first.
        Err(ApiError::Conflict(_)) if conditional => {
            let search = condition(if_none_exist.unwrap_or_default(), client_id)?;
            let mut found = matches(state, caller, client_id, search).await?;
            match found.len() {
                1 => {
                    let v = found.remove(0);
                    Ok(observation_written(
                        v.record,
                        v.logical_id,
                        v.version,
                        false,
                    ))
                }
                _ => Err(several()),
            }
        }
        Err(e) => Err(in_fhir_terms(e, observation_path)),
    }
}

/// What a conditional create's search found before anything is written.
enum Settled {
    /// One match: answered, nothing created.
    Found(Written),
    /// None (or no condition): create, unless a match appears meanwhile.
    Create(Option<persistence::ops::search::MeasurementSearch>),
}

async fn settle(
    state: &State,
    caller: &Caller,
    client_id: Uuid,
    if_none_exist: Option<&str>,
) -> Result<Settled, ApiError> {
    let Some(raw) = if_none_exist else {
        return Ok(Settled::Create(None));
    };
    let mut search = condition(raw, client_id)?;
    search.limit = 2;
    let mut found = matches(state, caller, client_id, search.clone()).await?;
    match found.len() {
        0 => Ok(Settled::Create(Some(search))),
        1 => {
            let v = found.remove(0);
            Ok(Settled::Found(observation_written(
                v.record,
                v.logical_id,
                v.version,
                false,
            )))
        }
        _ => Err(several()),
    }
}

fn several() -> ApiError {
    ApiError::ConditionFailed(
        "If-None-Exist matches more than one Observation: nothing was created".into(),
    )
}

async fn transaction(
    state: &State,
    caller: Caller,
    entries: &[BundleEntry],
    base: &str,
) -> Result<Vec<BundleEntry>, ApiError> {
    // Every entry is read before anything runs: one bad entry and nothing does.
    let steps = entries
        .iter()
        .enumerate()
        .map(|(i, e)| step(i, e))
        .collect::<Result<Vec<_>, _>>()?;
    // Conditional entries are settled first: a match is answered, not created.
    let mut found: Vec<Option<Written>> = Vec::with_capacity(steps.len());
    let mut writes = Vec::new();
    let mut kinds = Vec::new();
    for (i, s) in steps.into_iter().enumerate() {
        match s {
            Step::Observation {
                client_id,
                report,
                if_none_exist,
            } => {
                let settled = settle(state, &caller, client_id, if_none_exist.as_deref())
                    .await
                    .map_err(|e| match e {
                        ApiError::ConditionFailed(m) => {
                            ApiError::ConditionFailed(format!("Bundle.entry[{i}]: {m}"))
                        }
                        e => prefix_fields(e, &entry_path(i, ".request.ifNoneExist.")),
                    })?;
                let unless = match settled {
                    Settled::Found(w) => {
                        found.push(Some(w));
                        continue;
                    }
                    Settled::Create(unless) => unless,
                };
                writes.push(
                    persistence::ops::measures::recording_in_place(
                        &caller, client_id, report, unless,
                    )
                    .map(Done::Measurement),
                );
                kinds.push(i);
                found.push(None);
            }
            Step::Goal { client_id, draft } => {
                writes.push(
                    persistence::ops::goals::proposing_in_place(&caller, client_id, draft)
                        .map(Done::Goal),
                );
                kinds.push(i);
                found.push(None);
            }
        }
    }
    let who = caller.clone();
    let result = state
        .run(move |clinic| clinic.all_or_nothing(&who, writes))
        .await?;
    let done = match result {
        Ok(done) => done,
        Err(Abandoned { index, error }) => {
            let at = kinds.get(index).copied().unwrap_or(index);
            let e = ApiError::from(error);
            let e = match &found_kind(entries, at) {
                Some("Goal") => in_fhir_terms(e, goal_path),
                _ => in_fhir_terms(e, observation_path),
            };
            return Err(prefix_fields(e, &entry_path(at, ".resource.")));
        }
    };
    let mut done = done.into_iter();
    let out = found
        .into_iter()
        .map(|f| match f {
            Some(w) => response_entry(base, w),
            None => match done.next() {
                Some(Done::Measurement(m)) => {
                    let id = m.id;
                    response_entry(base, observation_written(m, id, 1, true))
                }
                Some(Done::Goal(g)) => response_entry(base, goal_written(g)),
                None => BundleEntry::default(),
            },
        })
        .collect();
    Ok(out)
}

fn found_kind(entries: &[BundleEntry], i: usize) -> Option<&'static str> {
    match entries.get(i).and_then(|e| e.resource.as_ref()) {
        Some(Resource::Goal(_)) => Some("Goal"),
        Some(Resource::Observation(_)) => Some("Observation"),
        _ => None,
    }
}

/// What one transaction entry made.
pub enum Done {
    Measurement(Measurement),
    Goal(Goal),
}
