//! The FHIR R4 interactions Headway serves. Each handler keeps the JSON API's
//! sentence (who is calling, may they, do it, answer) and calls the same `Clinic`
//! operations, so the policy, the 404 outside a caller's reach and the audit event
//! come with them; none of them touches storage itself.

use actix_web::{get, web, HttpRequest, HttpResponse};
use domain::{
    client::{Client, ExternalIdentifier},
    measure::{catalogue, Instrument, Measurement, OutcomeMeasure},
};
use fhirkit::r4::{Bundle, BundleEntry, BundleEntrySearch, BundleLink, Resource};
use persistence::{
    ops::{
        clients::ClientFilter,
        search::{GoalStanding, Goals, MeasurementPage, MeasurementSearch, Versioned},
    },
    PageRequest,
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    base_url, map, outcome,
    search::{self, bad, Common, Params},
    Answer, Doc,
};
use crate::{auth::Bearer, error::ApiError, state::State};

/// A search parameter a resource serves, as the CapabilityStatement lists it.
pub struct SearchParam {
    pub name: &'static str,
    pub kind: &'static str,
    pub doc: &'static str,
}

pub(super) const fn param(
    name: &'static str,
    kind: &'static str,
    doc: &'static str,
) -> SearchParam {
    SearchParam { name, kind, doc }
}

pub const PATIENT_SEARCH: &[SearchParam] = &[
    param("identifier", "token", "An identifier another system gives the client: `system|value`, or the value in any system."),
    param("name", "string", "Part of the client's name or preferred name, any case."),
    param("birthdate", "date", "Date of birth, with the prefixes eq, ge, gt, le and lt."),
];

pub const GOAL_SEARCH: &[SearchParam] = &[
    param(
        "patient",
        "reference",
        "The client (`Patient/{id}` or the id); a client's own login may leave it out.",
    ),
    param("subject", "reference", "The same as `patient`."),
    param(
        "lifecycle-status",
        "token",
        "proposed, active, on-hold, completed or cancelled; commas for any of them.",
    ),
    param(
        "achievement-status",
        "token",
        "in-progress, improving, worsening, no-change, achieved or not-achieved.",
    ),
    param(
        "target-date",
        "date",
        "The goal's target date, with the prefixes eq, ge, gt, le and lt.",
    ),
    param("_lastUpdated", "date", "When the goal last changed."),
];

pub const OBSERVATION_SEARCH: &[SearchParam] = &[
    param("patient", "reference", "The client (`Patient/{id}` or the id); a client's own login may leave it out."),
    param("subject", "reference", "The same as `patient`."),
    param("code", "token", "A measure: Headway's code (`urn:headway:fhir:CodeSystem:outcome-measure|copm`, or `copm`), or a LOINC GAS code."),
    param("category", "token", "`survey` (standardised instruments) or `therapy` (a clinic's own scales)."),
    param("date", "date", "When it was observed, with the prefixes eq, ge, gt, le and lt; repeat for a range."),
    param("focus", "reference", "The goal it rates (`Goal/{id}`)."),
    param("_lastUpdated", "date", "When its current version was recorded."),
    param("_sort", "special", "`date` (oldest first, the default) or `-date` (newest first)."),
];

pub const OBSERVATION_INCLUDES: &[&str] = &[
    "Observation:focus",
    "Observation:patient",
    "Observation:subject",
];
pub const GOAL_REVINCLUDES: &[&str] = &["Observation:focus"];

pub(super) fn names(params: &[SearchParam]) -> Vec<&'static str> {
    params.iter().map(|p| p.name).collect()
}

/// A logical id in a path. An id Headway never gave names nothing (the nil id), so
/// the operation still runs: it confirms the caller (a dead token hears 401) and
/// answers 404 as for any id outside the caller's reach.
pub(super) fn logical(id: &str) -> Uuid {
    Uuid::parse_str(id).unwrap_or(Uuid::nil())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PatientPath {
    /// The Patient's logical id (Headway's client id).
    pub client_id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GoalPath {
    /// The Goal's logical id.
    pub goal_id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ObservationPath {
    /// The Observation's logical id: its first version's measurement id.
    pub measurement_id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ObservationVersionPath {
    /// The Observation's logical id: its first version's measurement id.
    pub measurement_id: String,
    /// Its version, from 1.
    pub version_id: String,
}

/// Parameters every FHIR request may carry.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` or `application/fhir+json` (XML is not served: 406).
    #[serde(rename = "_format")]
    pub format: Option<String>,
    /// `true` for indented JSON.
    #[serde(rename = "_pretty")]
    pub pretty: Option<String>,
}

pub(super) fn entry(base: &str, resource: Resource, mode: &str) -> BundleEntry {
    let id = resource.id().unwrap_or_default().to_owned();
    BundleEntry {
        full_url: map::text(format!("{base}/{}/{id}", resource.resource_type())),
        resource: Some(resource),
        search: Some(BundleEntrySearch {
            mode: map::text(mode),
            ..BundleEntrySearch::default()
        }),
        ..BundleEntry::default()
    }
}

/// The searchset: `self` (and `next` while more follow) links, and an outcome
/// entry naming the parameters ignored under `Prefer: handling=lenient`.
pub(super) struct Searchset {
    pub(super) base: String,
    pub(super) path: &'static str,
    pub(super) query: Vec<(String, String)>,
    pub(super) ignored: Vec<String>,
    pub(super) cursor: Option<String>,
}

impl Searchset {
    fn link(&self, relation: &str, cursor: Option<&str>) -> BundleLink {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &self.query {
            q.append_pair(k, v);
        }
        if let Some(c) = cursor {
            q.append_pair("_cursor", c);
        }
        let q = q.finish();
        let url = match q.is_empty() {
            true => format!("{}/{}", self.base, self.path),
            false => format!("{}/{}?{q}", self.base, self.path),
        };
        BundleLink {
            relation: map::text(relation),
            url: map::text(url),
            ..BundleLink::default()
        }
    }

    pub(super) fn bundle(
        self,
        entries: Vec<BundleEntry>,
        next: Option<String>,
        total: Option<i64>,
    ) -> Bundle {
        let mut link = vec![self.link("self", self.cursor.as_deref())];
        if let Some(next) = &next {
            link.push(self.link("next", Some(next)));
        }
        let mut entry = entries;
        if !self.ignored.is_empty() {
            let said = format!("Ignored search parameters: {}", self.ignored.join(", "));
            let issues = self
                .ignored
                .iter()
                .map(|p| outcome::issue("warning", "not-supported", &said, Some(p)))
                .collect();
            let mut e = entry_outcome(outcome::outcome(issues));
            e.search = Some(BundleEntrySearch {
                mode: map::text("outcome"),
                ..BundleEntrySearch::default()
            });
            entry.push(e);
        }
        Bundle {
            type_: map::text("searchset"),
            total: total
                .map(|t| fhirkit::primitive::Primitive::new(t.min(i64::from(i32::MAX)) as i32)),
            link,
            entry,
            ..Bundle::default()
        }
    }
}

fn entry_outcome(o: fhirkit::r4::OperationOutcome) -> BundleEntry {
    BundleEntry {
        resource: Some(Resource::OperationOutcome(Box::new(o))),
        ..BundleEntry::default()
    }
}

/// A request refused before any operation ran (a malformed search) still confirms
/// the caller first, so a dead token answers 401 on every route, however malformed
/// the rest.
pub(crate) async fn confirmed<T>(
    state: &State,
    caller: &persistence::Caller,
    answer: Result<T, ApiError>,
) -> Result<T, ApiError> {
    let Err(why @ ApiError::Malformed(_)) = answer else {
        return answer;
    };
    let caller = caller.clone();
    match state.run(move |clinic| clinic.confirm(&caller)).await {
        Ok(()) => Err(why),
        Err(e) => Err(e),
    }
}

/// The client a search is about: `patient` or `subject`, or the caller's own record.
pub(super) fn searched_client(
    params: &Params,
    caller: &persistence::Caller,
) -> Result<Uuid, ApiError> {
    let given: Vec<(&str, &str)> = ["patient", "subject"]
        .into_iter()
        .flat_map(|n| params.all(n).into_iter().map(move |v| (n, v)))
        .collect();
    match given.as_slice() {
        [] => caller.who.client_id.ok_or_else(|| {
            bad(
                "patient",
                "is required: a search runs within one client's record",
            )
        }),
        [(name, value)] => search::reference_id(name, value, "Patient"),
        _ => Err(bad(
            "patient",
            "give one client, as patient or subject, once",
        )),
    }
}

pub(super) fn measure_of<'a>(
    measures: &'a [OutcomeMeasure],
    code: &str,
) -> Option<&'a OutcomeMeasure> {
    measures.iter().find(|m| m.code == code)
}

/// The server's CapabilityStatement: what is served, made from the route table.
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery),
    responses(
        (status = 200, description = "CapabilityStatement (FHIR R4)", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    )
)]
#[get("/metadata")]
pub async fn metadata(req: HttpRequest) -> HttpResponse {
    let statement = super::metadata::statement(&base_url(&req));
    Answer::ok(&statement, &req).into()
}

/// Read a Patient (a client record).
#[utoipa::path(
    tag = "fhir",
    params(PatientPath, FormatQuery),
    responses(
        (status = 200, description = "Patient", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such Patient within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Patient/{client_id}")]
pub async fn read_patient(
    Bearer(caller): Bearer,
    path: web::Path<PatientPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let client_id = logical(&path.client_id);
    let client = state
        .run(move |clinic| clinic.client(&caller, client_id))
        .await?;
    Ok(Answer::ok(&map::patient(&client), &req)
        .versioned(client.version, client.updated_at)
        .into())
}

/// Search Patients (the clients the caller may see).
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, PatientSearchDoc),
    responses(
        (status = 200, description = "searchset Bundle of Patients", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Patient")]
pub async fn search_patients(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(&state, &who, search_patients_of(caller, &req, &state).await).await
}

async fn search_patients_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let req = req.clone();
    let params = Params::of(&req);
    let ignored = params.check(&names(PATIENT_SEARCH))?;
    let common = params.common()?;
    if common.total {
        return Err(bad(
            "_summary",
            "a Patient search gives no total; page through it",
        ));
    }
    let filter = patient_filter(&params)?;
    let after = match &common.cursor {
        Some(c) => Some(
            Uuid::parse_str(c).map_err(|_| bad("_cursor", "is not a cursor this server gave"))?,
        ),
        None => None,
    };
    let limit = common.count;
    let page = match limit {
        0 => persistence::Page {
            items: Vec::new(),
            next_cursor: None,
        },
        _ => {
            state
                .run(move |clinic| {
                    clinic.list_clients(&caller, filter, PageRequest { after, limit })
                })
                .await?
        }
    };
    let base = base_url(&req);
    let entries = page
        .items
        .iter()
        .map(|c: &Client| entry(&base, Resource::Patient(Box::new(map::patient(c))), "match"))
        .collect();
    let set = Searchset {
        base,
        path: "Patient",
        query: params.understood(&ignored),
        ignored,
        cursor: common.cursor.clone(),
    };
    Ok(Answer::ok(&set.bundle(entries, page.next_cursor, None), &req).into())
}

fn patient_filter(params: &Params) -> Result<ClientFilter, ApiError> {
    let mut filter = ClientFilter::default();
    if let Some(v) = params.one("identifier")? {
        match search::tokens(v).as_slice() {
            [(Some(system), value)] if !system.is_empty() && !value.is_empty() => {
                filter.identifier = Some(ExternalIdentifier {
                    system: (*system).to_owned(),
                    value: (*value).to_owned(),
                })
            }
            [(None | Some(""), value)] if !value.is_empty() => {
                filter.identifier_value = Some((*value).to_owned())
            }
            _ => {
                return Err(bad(
                    "identifier",
                    "give one identifier, as system|value or value",
                ))
            }
        }
    }
    if let Some(v) = params.one("name")? {
        let v = v.trim();
        if v.is_empty() || v.chars().count() > 200 {
            return Err(bad("name", "must be 1 to 200 characters"));
        }
        filter.name_contains = Some(v.to_owned());
    }
    let born = search::dates("birthdate", &params.all("birthdate"))?;
    // A day is in range when its start is: birth dates are whole days.
    filter.born_from = born.from.map(|b| {
        let d = b.at.date_naive();
        let midnight = b.at.time() == chrono::NaiveTime::MIN;
        if midnight && b.inclusive {
            d
        } else {
            d.succ_opt().unwrap_or(d)
        }
    });
    filter.born_to = born.to.map(|b| {
        let d = b.at.date_naive();
        let midnight = b.at.time() == chrono::NaiveTime::MIN;
        if midnight && !b.inclusive {
            d.pred_opt().unwrap_or(d)
        } else {
            d
        }
    });
    Ok(filter)
}

/// The Patient search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PatientSearchDoc {
    /// An identifier another system gives the client: `system|value`, or the value in any system.
    identifier: Option<String>,
    /// Part of the client's name or preferred name, any case.
    name: Option<String>,
    /// Date of birth, with the prefixes eq, ge, gt, le and lt.
    birthdate: Option<String>,
    /// Page size, 0 to 1000 (default 50).
    #[serde(rename = "_count")]
    count: Option<u32>,
    /// Where a page starts: take it from the searchset's `next` link.
    #[serde(rename = "_cursor")]
    cursor: Option<String>,
}

/// Read a Goal.
#[utoipa::path(
    tag = "fhir",
    params(GoalPath, FormatQuery),
    responses(
        (status = 200, description = "Goal", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such Goal within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Goal/{goal_id}")]
pub async fn read_goal(
    Bearer(caller): Bearer,
    path: web::Path<GoalPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let goal_id = logical(&path.goal_id);
    let Goals {
        standings,
        measures,
    } = state
        .run(move |clinic| clinic.goal_by_id(&caller, goal_id))
        .await?;
    let standing = standings.first().ok_or(ApiError::NotFound)?;
    let g = &standing.goal;
    let resource = goal_resource(standing, &measures);
    Ok(Answer::ok(&resource, &req)
        .versioned(g.version, g.updated_at)
        .into())
}

pub(super) fn goal_resource(
    standing: &GoalStanding,
    measures: &[OutcomeMeasure],
) -> fhirkit::r4::Goal {
    let measure = standing
        .goal
        .content
        .measure_code
        .as_deref()
        .and_then(|c| measure_of(measures, c));
    map::goal(standing, &standing.measurements, measure)
}

/// The Goal search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct GoalSearchDoc {
    /// The client (`Patient/{id}` or the id); a client's own login may leave it out.
    patient: Option<String>,
    /// The same as `patient`.
    subject: Option<String>,
    /// proposed, active, on-hold, completed or cancelled; commas for any of them.
    #[serde(rename = "lifecycle-status")]
    lifecycle_status: Option<String>,
    /// in-progress, improving, worsening, no-change, achieved or not-achieved.
    #[serde(rename = "achievement-status")]
    achievement_status: Option<String>,
    /// The goal's target date, with the prefixes eq, ge, gt, le and lt.
    #[serde(rename = "target-date")]
    target_date: Option<String>,
    /// When the goal last changed, with the prefixes eq, ge, gt, le and lt.
    #[serde(rename = "_lastUpdated")]
    last_updated: Option<String>,
    /// `Observation:focus`: the Observations that rate the goals found.
    #[serde(rename = "_revinclude")]
    revinclude: Option<String>,
    /// Page size, 0 to 1000 (default 50).
    #[serde(rename = "_count")]
    count: Option<u32>,
    /// `count`: the total only.
    #[serde(rename = "_summary")]
    summary: Option<String>,
    /// Where a page starts: take it from the searchset's `next` link.
    #[serde(rename = "_cursor")]
    cursor: Option<String>,
}

/// Search a client's Goals.
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, GoalSearchDoc),
    responses(
        (status = 200, description = "searchset Bundle of Goals", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter, or no patient", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "The patient is not within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Goal")]
pub async fn search_goals(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(&state, &who, search_goals_of(caller, &req, &state).await).await
}

async fn search_goals_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let req = req.clone();
    let params = Params::of(&req);
    let mut known = names(GOAL_SEARCH);
    known.push("_revinclude");
    let ignored = params.check(&known)?;
    let common = params.common()?;
    let client_id = searched_client(&params, &caller)?;
    let lifecycle: Vec<String> = params
        .all("lifecycle-status")
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::to_owned)
        .collect();
    let achievement: Vec<String> = params
        .all("achievement-status")
        .iter()
        .flat_map(|v| search::tokens(v))
        .map(|(_, code)| code.to_owned())
        .collect();
    let due = search::dates("target-date", &params.all("target-date"))?;
    let updated = search::dates("_lastUpdated", &params.all("_lastUpdated"))?;
    let revinclude = match params.all("_revinclude").as_slice() {
        [] => false,
        ["Observation:focus"] => true,
        _ => return Err(bad("_revinclude", "only Observation:focus is supported")),
    };
    let after = match &common.cursor {
        Some(c) => Some(
            Uuid::parse_str(c).map_err(|_| bad("_cursor", "is not a cursor this server gave"))?,
        ),
        None => None,
    };
    let for_caller = caller.clone();
    let Goals {
        standings,
        measures,
    } = state
        .run(move |clinic| clinic.client_goals(&for_caller, client_id))
        .await?;
    let matching: Vec<&GoalStanding> = standings
        .iter()
        .filter(|s| {
            lifecycle.is_empty()
                || lifecycle
                    .iter()
                    .any(|l| l == s.goal.status.fhir_lifecycle())
        })
        .filter(|s| {
            achievement.is_empty()
                || s.achievement
                    .is_some_and(|a| achievement.iter().any(|x| x == a))
        })
        .filter(|s| {
            (due.from.is_none() && due.to.is_none())
                || s.goal
                    .content
                    .target_date
                    .is_some_and(|d| search::date_in(&due, d))
        })
        .filter(|s| search::instant_in(&updated, s.goal.updated_at))
        .collect();
    let total = common.total.then_some(matching.len() as i64);
    let page: Vec<&GoalStanding> = matching
        .iter()
        .filter(|s| after.is_none_or(|a| s.goal.id > a))
        .take(common.count as usize + 1)
        .copied()
        .collect();
    let more = page.len() > common.count as usize;
    let page = &page[..page.len().min(common.count as usize)];
    let next = match more {
        true => page.last().map(|s| s.goal.id.to_string()),
        false => None,
    };
    let base = base_url(&req);
    let mut entries: Vec<BundleEntry> = page
        .iter()
        .map(|s| {
            entry(
                &base,
                Resource::Goal(Box::new(goal_resource(s, &measures))),
                "match",
            )
        })
        .collect();
    if revinclude && !page.is_empty() {
        let search = MeasurementSearch {
            goal_ids: page.iter().map(|s| s.goal.id).collect(),
            limit: search::MAX_COUNT * 10,
            ..MeasurementSearch::default()
        };
        let found = state
            .run(move |clinic| clinic.search_measurements(&caller, client_id, search, false))
            .await?;
        entries.extend(found.items.iter().map(|v| {
            let m = measure_of(&found.measures, &v.record.measure_code);
            entry(
                &base,
                Resource::Observation(Box::new(map::observation(v, m))),
                "include",
            )
        }));
    }
    let set = Searchset {
        base,
        path: "Goal",
        query: params.understood(&ignored),
        ignored,
        cursor: common.cursor.clone(),
    };
    Ok(Answer::ok(&set.bundle(entries, next, total), &req).into())
}

/// Read an Observation (a measurement, in its current version).
#[utoipa::path(
    tag = "fhir",
    params(ObservationPath, FormatQuery),
    responses(
        (status = 200, description = "Observation", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such Observation within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Observation/{measurement_id}")]
pub async fn read_observation(
    Bearer(caller): Bearer,
    path: web::Path<ObservationPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.measurement_id);
    let (chain, measures) = state
        .run(move |clinic| clinic.measurement_versions(&caller, id))
        .await?;
    let version = chain.len() as i32;
    let current = chain.into_iter().next_back().ok_or(ApiError::NotFound)?;
    Ok(observation_answer(id, version, current, &measures, &req))
}

fn observation_answer(
    logical_id: Uuid,
    version: i32,
    record: Measurement,
    measures: &[OutcomeMeasure],
    req: &HttpRequest,
) -> HttpResponse {
    let at = record.created_at;
    let measure = measure_of(measures, &record.measure_code);
    let v = Versioned {
        logical_id,
        version,
        record,
    };
    Answer::ok(&map::observation(&v, measure), req)
        .versioned(version, at)
        .into()
}

/// Read one version of an Observation (vread).
#[utoipa::path(
    tag = "fhir",
    params(ObservationVersionPath, FormatQuery),
    responses(
        (status = 200, description = "Observation, as that version was", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such Observation or version within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Observation/{measurement_id}/_history/{version_id}")]
pub async fn vread_observation(
    Bearer(caller): Bearer,
    path: web::Path<ObservationVersionPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.measurement_id);
    // A version that is no number names none: answered after the read, like any other.
    let wanted: usize = path.version_id.parse().unwrap_or(0);
    let (chain, measures) = state
        .run(move |clinic| clinic.measurement_versions(&caller, id))
        .await?;
    let record = wanted
        .checked_sub(1)
        .and_then(|i| chain.into_iter().nth(i))
        .ok_or(ApiError::NotFound)?;
    Ok(observation_answer(
        id,
        wanted as i32,
        record,
        &measures,
        &req,
    ))
}

/// Every version of an Observation, newest first (a history Bundle).
#[utoipa::path(
    tag = "fhir",
    params(ObservationPath, FormatQuery),
    responses(
        (status = 200, description = "history Bundle", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such Observation within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Observation/{measurement_id}/_history")]
pub async fn observation_history(
    Bearer(caller): Bearer,
    path: web::Path<ObservationPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.measurement_id);
    let (chain, measures) = state
        .run(move |clinic| clinic.measurement_versions(&caller, id))
        .await?;
    let base = base_url(&req);
    let total = chain.len();
    let entry: Vec<BundleEntry> = chain
        .into_iter()
        .enumerate()
        .rev()
        .map(|(i, record)| {
            let version = i as i32 + 1;
            let method = if version == 1 { "POST" } else { "PUT" };
            let measure = measure_of(&measures, &record.measure_code);
            let v = Versioned {
                logical_id: id,
                version,
                record,
            };
            BundleEntry {
                full_url: map::text(format!("{base}/Observation/{id}")),
                resource: Some(Resource::Observation(Box::new(map::observation(
                    &v, measure,
                )))),
                request: Some(fhirkit::r4::BundleEntryRequest {
                    method: map::text(method),
                    url: map::text(if version == 1 {
                        "Observation".to_owned()
                    } else {
                        format!("Observation/{id}")
                    }),
                    ..Default::default()
                }),
                response: Some(fhirkit::r4::BundleEntryResponse {
                    status: map::text(if version == 1 {
                        "201 Created"
                    } else {
                        "200 OK"
                    }),
                    ..Default::default()
                }),
                ..BundleEntry::default()
            }
        })
        .collect();
    let bundle = Bundle {
        type_: map::text("history"),
        total: Some(fhirkit::primitive::Primitive::new(total as i32)),
        link: vec![BundleLink {
            relation: map::text("self"),
            url: map::text(format!("{base}/Observation/{id}/_history")),
            ..BundleLink::default()
        }],
        entry,
        ..Bundle::default()
    };
    Ok(Answer::ok(&bundle, &req).into())
}

/// The Observation search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ObservationSearchDoc {
    /// The client (`Patient/{id}` or the id); a client's own login may leave it out.
    patient: Option<String>,
    /// The same as `patient`.
    subject: Option<String>,
    /// A measure: Headway's code (`urn:headway:fhir:CodeSystem:outcome-measure|copm`, or `copm`), or a LOINC GAS code; commas for any of them.
    code: Option<String>,
    /// `survey` (standardised instruments) or `therapy` (a clinic's own scales).
    category: Option<String>,
    /// When it was observed, with the prefixes eq, ge, gt, le and lt; repeat for a range.
    date: Option<String>,
    /// The goal it rates (`Goal/{id}`).
    focus: Option<String>,
    /// When its current version was recorded, with the prefixes eq, ge, gt, le and lt.
    #[serde(rename = "_lastUpdated")]
    last_updated: Option<String>,
    /// `date` (oldest first, the default) or `-date` (newest first).
    #[serde(rename = "_sort")]
    sort: Option<String>,
    /// `Observation:focus` (the goals rated) or `Observation:patient`.
    #[serde(rename = "_include")]
    include: Option<String>,
    /// Page size, 0 to 1000 (default 50).
    #[serde(rename = "_count")]
    count: Option<u32>,
    /// `count`: the total only.
    #[serde(rename = "_summary")]
    summary: Option<String>,
    /// `accurate`: a total beside the page.
    #[serde(rename = "_total")]
    total: Option<String>,
    /// Where a page starts: take it from the searchset's `next` link.
    #[serde(rename = "_cursor")]
    cursor: Option<String>,
}

fn observation_entries(base: &str, found: &MeasurementPage) -> Vec<BundleEntry> {
    found
        .items
        .iter()
        .map(|v| {
            let m = measure_of(&found.measures, &v.record.measure_code);
            entry(
                base,
                Resource::Observation(Box::new(map::observation(v, m))),
                "match",
            )
        })
        .collect()
}

/// The cursor after this page, while more follow.
fn next_page(found: &MeasurementPage) -> Option<String> {
    match found.more {
        true => found
            .items
            .last()
            .map(|v| search::cursor(v.record.observed_at, v.record.id)),
        false => None,
    }
}

/// The measure codes of FHIR category `survey`: the built-in standardised instruments.
fn survey_codes() -> Vec<String> {
    catalogue()
        .into_iter()
        .filter(|m| m.instrument != Instrument::Scale)
        .map(|m| m.code)
        .collect()
}

fn observation_search(
    params: &Params,
    common: &Common,
) -> Result<Option<MeasurementSearch>, ApiError> {
    let mut s = MeasurementSearch {
        limit: common.count,
        ..MeasurementSearch::default()
    };
    // code: every value must match (AND); within one, any (OR).
    let mut wanted: Option<Vec<String>> = None;
    let mut narrow = |codes: Vec<String>| {
        wanted = Some(match wanted.take() {
            None => codes,
            Some(had) => had.into_iter().filter(|c| codes.contains(c)).collect(),
        });
    };
    for value in params.all("code") {
        let mut codes = Vec::new();
        let mut gas_sources = Vec::new();
        for (system, code) in search::tokens(value) {
            if code.is_empty() {
                return Err(bad("code", "each code must be given"));
            }
            match system {
                None | Some("") => codes.push(code.to_owned()),
                Some(map::MEASURE_SYSTEM) => codes.push(code.to_owned()),
                Some(map::LOINC) => {
                    if let Some(sources) = map::gas_sources_of_loinc(code) {
                        gas_sources.extend(sources);
                    }
                }
                Some(_) => {}
            }
        }
        if !gas_sources.is_empty() {
            if !codes.is_empty() {
                return Err(bad("code", "search LOINC GAS codes apart from other codes"));
            }
            codes.push("gas".to_owned());
            s.sources = gas_sources;
        }
        narrow(codes);
    }
    for value in params.all("category") {
        let mut survey = false;
        let mut therapy = false;
        for (_, c) in search::tokens(value) {
            match c {
                "survey" => survey = true,
                "therapy" => therapy = true,
                _ => {}
            }
        }
        match (survey, therapy) {
            (true, true) => {}
            (true, false) => narrow(survey_codes()),
            (false, true) => s.exclude_codes.extend(survey_codes()),
            (false, false) => return Ok(None),
        }
    }
    if let Some(codes) = wanted {
        if codes.is_empty() {
            return Ok(None);
        }
        s.codes = codes;
    }
    for value in params.all("focus") {
        let ids = value
            .split(',')
            .map(|v| search::reference_id("focus", v, "Goal"))
            .collect::<Result<Vec<_>, _>>()?;
        if !s.goal_ids.is_empty() {
            return Err(bad(
                "focus",
                "may be given once (commas for any of several goals)",
            ));
        }
        s.goal_ids = ids;
    }
    let observed = search::dates("date", &params.all("date"))?;
    (s.observed_from, s.observed_to) = (observed.from, observed.to);
    let recorded = search::dates("_lastUpdated", &params.all("_lastUpdated"))?;
    (s.recorded_from, s.recorded_to) = (recorded.from, recorded.to);
    s.newest_first = match params.one("_sort")? {
        None | Some("date") => false,
        Some("-date") => true,
        Some(_) => return Err(bad("_sort", "must be date or -date")),
    };
    if let Some(c) = &common.cursor {
        s.after = Some(search::read_cursor(c)?);
    }
    Ok(Some(s))
}

/// The search an If-None-Exist header names, for the client the new Observation is
/// about: the Observation search's parameters (a `patient` other than that client
/// is refused); a code Headway never records matches nothing.
pub fn observation_condition(
    params: &Params,
    client_id: Uuid,
) -> Result<MeasurementSearch, ApiError> {
    let known: Vec<&str> = names(OBSERVATION_SEARCH)
        .into_iter()
        .filter(|n| *n != "_sort")
        .collect();
    params.check(&known)?;
    for name in ["patient", "subject"] {
        for v in params.all(name) {
            if search::reference_id(name, v, "Patient")? != client_id {
                return Err(bad(
                    name,
                    "must be the Patient the new Observation is about",
                ));
            }
        }
    }
    let common = Common {
        count: 2,
        count_only: false,
        total: false,
        cursor: None,
        pretty: false,
    };
    Ok(
        observation_search(params, &common)?.unwrap_or(MeasurementSearch {
            limit: 2,
            codes: vec![String::new()],
            ..MeasurementSearch::default()
        }),
    )
}

/// Search a client's Observations (measurements, each in its current version).
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, ObservationSearchDoc),
    responses(
        (status = 200, description = "searchset Bundle of Observations", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter, or no patient", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "The patient is not within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Observation")]
pub async fn search_observations(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(
        &state,
        &who,
        search_observations_of(caller, &req, &state).await,
    )
    .await
}

async fn search_observations_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let req = req.clone();
    let params = Params::of(&req);
    let mut known = names(OBSERVATION_SEARCH);
    known.push("_include");
    let ignored = params.check(&known)?;
    let common = params.common()?;
    let client_id = searched_client(&params, &caller)?;
    let mut include_goals = false;
    let mut include_patient = false;
    for v in params.all("_include") {
        match v {
            "Observation:focus" => include_goals = true,
            "Observation:patient" | "Observation:subject" => include_patient = true,
            _ => {
                return Err(bad(
                    "_include",
                    "only Observation:focus and Observation:patient are supported",
                ))
            }
        }
    }
    let search = observation_search(&params, &common)?;
    let base = base_url(&req);
    let set = Searchset {
        base: base.clone(),
        path: "Observation",
        query: params.understood(&ignored),
        ignored,
        cursor: common.cursor.clone(),
    };
    let Some(search) = search else {
        // A code or category Headway never records: nothing matches. The caller's
        // reach is still asked, so this answers as any search of that client would.
        let nothing = MeasurementSearch {
            limit: 0,
            codes: vec![String::new()],
            ..Default::default()
        };
        let total = common.total;
        let found = state
            .run(move |clinic| clinic.search_measurements(&caller, client_id, nothing, total))
            .await?;
        return Ok(Answer::ok(&set.bundle(Vec::new(), None, found.total.map(|_| 0)), &req).into());
    };
    if !include_goals && !include_patient {
        // The common case, an EHR polling a client's observations: rendered on the
        // blocking pool, and served again from those bytes until a measurement of
        // this client changes.
        let request = format!("{base}?{}|{:?}", req.query_string(), set.ignored);
        let (total, pretty) = (common.total, common.pretty);
        let body = state
            .run(move |clinic| {
                clinic.search_measurements_rendered(
                    &caller,
                    client_id,
                    search,
                    total,
                    request,
                    move |found| {
                        let entries = observation_entries(&set.base, found);
                        let bundle = set.bundle(entries, next_page(found), found.total);
                        super::json(&bundle, pretty)
                    },
                )
            })
            .await?;
        return Ok(HttpResponse::Ok().content_type(super::FHIR_JSON).body(body));
    }
    let for_search = caller.clone();
    let found = state
        .run(move |clinic| clinic.search_measurements(&for_search, client_id, search, common.total))
        .await?;
    let next = next_page(&found);
    let mut entries = observation_entries(&base, &found);
    if include_goals && !found.items.is_empty() {
        let rated: std::collections::BTreeSet<Uuid> = found
            .items
            .iter()
            .filter_map(|v| v.record.goal_id)
            .collect();
        let for_goals = caller.clone();
        let Goals {
            standings,
            measures,
        } = state
            .run(move |clinic| clinic.client_goals(&for_goals, client_id))
            .await?;
        entries.extend(
            standings
                .iter()
                .filter(|s| rated.contains(&s.goal.id))
                .map(|s| {
                    entry(
                        &base,
                        Resource::Goal(Box::new(goal_resource(s, &measures))),
                        "include",
                    )
                }),
        );
    }
    if include_patient && !found.items.is_empty() {
        let client = state
            .run(move |clinic| clinic.client(&caller, client_id))
            .await?;
        entries.push(entry(
            &base,
            Resource::Patient(Box::new(map::patient(&client))),
            "include",
        ));
    }
    Ok(Answer::ok(&set.bundle(entries, next, found.total), &req).into())
}
