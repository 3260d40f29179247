//! The rest of the FHIR read side: therapists (Practitioner, PractitionerRole),
//! caregivers (RelatedPerson), care teams, episodes and plans of care, and every
//! version of a goal. Each handler keeps the sentence of `routes`: who is calling,
//! may they (the `Clinic` operation asks the policy), do it, answer.

use actix_web::{get, web, HttpRequest, HttpResponse};
use fhirkit::r4::{
    Bundle, BundleEntry, BundleEntryRequest, BundleEntryResponse, BundleLink, Resource,
};
use persistence::{
    ops::{ehr::PractitionerFilter, search::GoalStanding},
    PageRequest,
};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    base_url, care_map, map,
    routes::{
        confirmed, entry, goal_resource, logical, names, param, searched_client, FormatQuery,
        SearchParam, Searchset,
    },
    search::{self, bad, Common, Params},
    Answer, Doc,
};
use crate::{auth::Bearer, error::ApiError, state::State};

pub const PRACTITIONER_SEARCH: &[SearchParam] = &[
    param(
        "_id",
        "token",
        "The therapist's id; commas for any of several.",
    ),
    param("name", "string", "Part of the therapist's name, any case."),
    param(
        "email",
        "token",
        "Part of the therapist's e-mail address, any case.",
    ),
    param(
        "active",
        "token",
        "`true` or `false`: whether the account is active.",
    ),
];

pub const PRACTITIONER_ROLE_SEARCH: &[SearchParam] = &[
    param(
        "_id",
        "token",
        "The role's id (the therapist's id); commas for any of several.",
    ),
    param(
        "practitioner",
        "reference",
        "The therapist (`Practitioner/{id}` or the id).",
    ),
    param(
        "active",
        "token",
        "`true` or `false`: whether the account is active.",
    ),
];
pub const PRACTITIONER_ROLE_INCLUDES: &[&str] = &["PractitionerRole:practitioner"];

pub const RELATED_PERSON_SEARCH: &[SearchParam] = &[
    param(
        "patient",
        "reference",
        "The client (`Patient/{id}` or the id); a client's own login may leave it out.",
    ),
    param(
        "_id",
        "token",
        "The caregiver link's id; commas for any of several.",
    ),
    param(
        "active",
        "token",
        "`true` (the link stands) or `false` (revoked).",
    ),
];

pub const CARE_TEAM_SEARCH: &[SearchParam] = &[
    param(
        "patient",
        "reference",
        "The client (`Patient/{id}` or the id); a client's own login may leave it out.",
    ),
    param("subject", "reference", "The same as `patient`."),
    param("_id", "token", "The care team's id (its client's id)."),
    param(
        "status",
        "token",
        "`active` (someone serves on it now) or `inactive`.",
    ),
];

pub const EPISODE_SEARCH: &[SearchParam] = &[
    param(
        "patient",
        "reference",
        "The client (`Patient/{id}` or the id); a client's own login may leave it out.",
    ),
    param(
        "_id",
        "token",
        "The episode's id; commas for any of several.",
    ),
    param(
        "status",
        "token",
        "planned, active, finished or cancelled; commas for any of them.",
    ),
];

pub const CARE_PLAN_SEARCH: &[SearchParam] = &[
    param(
        "patient",
        "reference",
        "The client (`Patient/{id}` or the id); a client's own login may leave it out.",
    ),
    param("subject", "reference", "The same as `patient`."),
    param(
        "_id",
        "token",
        "The plan's id (its episode's id); commas for any of several.",
    ),
    param(
        "status",
        "token",
        "draft, active, completed or revoked; commas for any of them.",
    ),
    param(
        "intent",
        "token",
        "`plan`: every plan Headway keeps is one.",
    ),
];
pub const CARE_PLAN_INCLUDES: &[&str] = &["CarePlan:goal"];

/// The parameters every search of this module documents besides its own.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PagingDoc {
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

/// The ids a `_id` parameter names (commas for any of them), if given.
fn ids(params: &Params) -> Result<Option<Vec<Uuid>>, ApiError> {
    let Some(v) = params.one("_id")? else {
        return Ok(None);
    };
    // An id Headway never gave matches nothing, as any unknown id would.
    Ok(Some(v.split(',').map(logical).collect()))
}

/// `true` or `false`, if given.
fn flag(params: &Params, name: &str) -> Result<Option<bool>, ApiError> {
    match params.one(name)? {
        None => Ok(None),
        Some("true") => Ok(Some(true)),
        Some("false") => Ok(Some(false)),
        Some(_) => Err(bad(name, "must be true or false")),
    }
}

/// The codes a token parameter names (commas for any of them), checked against the
/// codes it may take.
fn codes(params: &Params, name: &str, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    let Some(v) = params.one(name)? else {
        return Ok(Vec::new());
    };
    search::tokens(v)
        .into_iter()
        .map(|(_, code)| match allowed.contains(&code) {
            true => Ok(code.to_owned()),
            false => Err(bad(name, format!("must be one of: {}", allowed.join(", ")))),
        })
        .collect()
}

/// Where a page by id starts: the id a `next` link carried.
fn id_cursor(common: &Common) -> Result<Option<Uuid>, ApiError> {
    common
        .cursor
        .as_deref()
        .map(|c| Uuid::parse_str(c).map_err(|_| bad("_cursor", "is not a cursor this server gave")))
        .transpose()
}

/// A page, the cursor after it while more follow, and the total when asked.
type Paged<T> = (Vec<T>, Option<String>, Option<i64>);

/// One page of what a search found in memory (a client's caregivers, episodes,
/// plans: tens, not thousands), by id after the cursor; with the next cursor while
/// more follow, and the total when asked.
fn page_by_id<T>(
    mut found: Vec<T>,
    id: impl Fn(&T) -> Uuid,
    common: &Common,
) -> Result<Paged<T>, ApiError> {
    found.sort_by_key(&id);
    let total = common.total.then_some(found.len() as i64);
    let after = id_cursor(common)?;
    let mut page: Vec<T> = found
        .into_iter()
        .filter(|t| after.is_none_or(|a| id(t) > a))
        .take(common.count as usize + 1)
        .collect();
    let more = page.len() > common.count as usize;
    page.truncate(common.count as usize);
    let next = match more {
        true => page.last().map(|t| id(t).to_string()),
        false => None,
    };
    Ok((page, next, total))
}

fn searchset(
    req: &HttpRequest,
    params: &Params,
    path: &'static str,
    ignored: Vec<String>,
    common: &Common,
) -> Searchset {
    Searchset {
        base: base_url(req),
        path,
        query: params.understood(&ignored),
        ignored,
        cursor: common.cursor.clone(),
    }
}

// --- Practitioner and PractitionerRole ------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct PractitionerPath {
    /// The therapist's id (their account's).
    pub user_id: String,
}

/// Read a Practitioner (a therapist of the clinic).
#[utoipa::path(
    tag = "fhir",
    params(PractitionerPath, FormatQuery),
    responses(
        (status = 200, description = "Practitioner", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such therapist within the caller's reach (staff see the clinic's therapists; a client or caregiver those of the care team)", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Practitioner/{user_id}")]
pub async fn read_practitioner(
    Bearer(caller): Bearer,
    path: web::Path<PractitionerPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.user_id);
    let user = state
        .run(move |clinic| clinic.practitioner(&caller, id))
        .await?;
    Ok(Answer::ok(&care_map::practitioner(&user), &req)
        .versioned(user.version, user.updated_at)
        .into())
}

/// Read a PractitionerRole (a therapist's discipline in the clinic; its id is the
/// therapist's).
#[utoipa::path(
    tag = "fhir",
    params(PractitionerPath, FormatQuery),
    responses(
        (status = 200, description = "PractitionerRole", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such therapist within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/PractitionerRole/{user_id}")]
pub async fn read_practitioner_role(
    Bearer(caller): Bearer,
    path: web::Path<PractitionerPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.user_id);
    let user = state
        .run(move |clinic| clinic.practitioner(&caller, id))
        .await?;
    Ok(Answer::ok(&care_map::practitioner_role(&user), &req)
        .versioned(user.version, user.updated_at)
        .into())
}

/// The Practitioner search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PractitionerSearchDoc {
    /// The therapist's id; commas for any of several.
    #[serde(rename = "_id")]
    id: Option<String>,
    /// Part of the therapist's name, any case.
    name: Option<String>,
    /// Part of the therapist's e-mail address, any case.
    email: Option<String>,
    /// `true` or `false`: whether the account is active.
    active: Option<String>,
}

/// The PractitionerRole search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PractitionerRoleSearchDoc {
    /// The role's id (the therapist's id); commas for any of several.
    #[serde(rename = "_id")]
    id: Option<String>,
    /// The therapist (`Practitioner/{id}` or the id).
    practitioner: Option<String>,
    /// `true` or `false`: whether the account is active.
    active: Option<String>,
    /// `PractitionerRole:practitioner`: the therapists too.
    #[serde(rename = "_include")]
    include: Option<String>,
}

/// A page of the therapists a search asks for, within the caller's reach.
async fn therapists(
    caller: persistence::Caller,
    common: &Common,
    state: &State,
    filter: PractitionerFilter,
) -> Result<persistence::Page<domain::identity::User>, ApiError> {
    if common.total {
        return Err(bad(
            "_summary",
            "this search gives no total; page through it",
        ));
    }
    let after = id_cursor(common)?;
    let limit = common.count;
    // Even an empty page asks the gate, so it is audited like any other.
    let page = state
        .run(move |clinic| {
            clinic.practitioners(
                &caller,
                filter,
                PageRequest {
                    after,
                    limit: limit.max(1),
                },
            )
        })
        .await?;
    Ok(match limit {
        0 => persistence::Page {
            items: Vec::new(),
            next_cursor: None,
        },
        _ => page,
    })
}

/// Search Practitioners (the therapists the caller may see).
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, PractitionerSearchDoc, PagingDoc),
    responses(
        (status = 200, description = "searchset Bundle of Practitioners", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Practitioner")]
pub async fn search_practitioners(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(
        &state,
        &who,
        search_practitioners_of(caller, &req, &state).await,
    )
    .await
}

async fn search_practitioners_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(req);
    let ignored = params.check(&names(PRACTITIONER_SEARCH))?;
    let common = params.common()?;
    let text_of = |name: &str| -> Result<Option<String>, ApiError> {
        match params.one(name)?.map(str::trim) {
            None => Ok(None),
            Some(v) if !v.is_empty() && v.chars().count() <= 200 => Ok(Some(v.to_owned())),
            Some(_) => Err(bad(name, "must be 1 to 200 characters")),
        }
    };
    let filter = PractitionerFilter {
        ids: ids(&params)?,
        active: flag(&params, "active")?,
        name_contains: text_of("name")?,
        email: text_of("email")?,
    };
    let page = therapists(caller, &common, state, filter).await?;
    let set = searchset(req, &params, "Practitioner", ignored, &common);
    let entries = page
        .items
        .iter()
        .map(|u| {
            entry(
                &set.base,
                Resource::Practitioner(Box::new(care_map::practitioner(u))),
                "match",
            )
        })
        .collect();
    Ok(Answer::ok(&set.bundle(entries, page.next_cursor, None), req).into())
}

/// Search PractitionerRoles (each therapist's discipline in the clinic).
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, PractitionerRoleSearchDoc, PagingDoc),
    responses(
        (status = 200, description = "searchset Bundle of PractitionerRoles", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/PractitionerRole")]
pub async fn search_practitioner_roles(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(
        &state,
        &who,
        search_practitioner_roles_of(caller, &req, &state).await,
    )
    .await
}

async fn search_practitioner_roles_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(req);
    let mut known = names(PRACTITIONER_ROLE_SEARCH);
    known.push("_include");
    let ignored = params.check(&known)?;
    let common = params.common()?;
    let include = match params.all("_include").as_slice() {
        [] => false,
        ["PractitionerRole:practitioner"] => true,
        _ => {
            return Err(bad(
                "_include",
                "only PractitionerRole:practitioner is supported",
            ))
        }
    };
    let mut wanted = ids(&params)?;
    if let Some(v) = params.one("practitioner")? {
        let ids = v
            .split(',')
            .map(|r| search::reference_id("practitioner", r, "Practitioner"))
            .collect::<Result<Vec<_>, _>>()?;
        wanted = Some(match wanted {
            None => ids,
            Some(had) => had.into_iter().filter(|i| ids.contains(i)).collect(),
        });
    }
    let filter = PractitionerFilter {
        ids: wanted,
        active: flag(&params, "active")?,
        ..PractitionerFilter::default()
    };
    let page = therapists(caller, &common, state, filter).await?;
    let set = searchset(req, &params, "PractitionerRole", ignored, &common);
    let mut entries: Vec<BundleEntry> = page
        .items
        .iter()
        .map(|u| {
            entry(
                &set.base,
                Resource::PractitionerRole(Box::new(care_map::practitioner_role(u))),
                "match",
            )
        })
        .collect();
    if include {
        entries.extend(page.items.iter().map(|u| {
            entry(
                &set.base,
                Resource::Practitioner(Box::new(care_map::practitioner(u))),
                "include",
            )
        }));
    }
    Ok(Answer::ok(&set.bundle(entries, page.next_cursor, None), req).into())
}

// --- RelatedPerson ----------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct RelatedPersonPath {
    /// The caregiver link's id.
    pub link_id: String,
}

/// Read a RelatedPerson (a caregiver's link to a client, revoked ones too).
#[utoipa::path(
    tag = "fhir",
    params(RelatedPersonPath, FormatQuery),
    responses(
        (status = 200, description = "RelatedPerson", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such caregiver link within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/RelatedPerson/{link_id}")]
pub async fn read_related_person(
    Bearer(caller): Bearer,
    path: web::Path<RelatedPersonPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.link_id);
    let link = state
        .run(move |clinic| clinic.caregiver_by_id(&caller, id))
        .await?;
    Ok(Answer::ok(&care_map::related_person(&link), &req).into())
}

/// The RelatedPerson search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RelatedPersonSearchDoc {
    /// The client (`Patient/{id}` or the id); a client's own login may leave it out.
    patient: Option<String>,
    /// The caregiver link's id; commas for any of several.
    #[serde(rename = "_id")]
    id: Option<String>,
    /// `true` (the link stands) or `false` (revoked).
    active: Option<String>,
}

/// Search a client's RelatedPersons (their caregivers, revoked links too).
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, RelatedPersonSearchDoc, PagingDoc),
    responses(
        (status = 200, description = "searchset Bundle of RelatedPersons", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter, or no patient", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "The patient is not within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/RelatedPerson")]
pub async fn search_related_persons(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(
        &state,
        &who,
        search_related_persons_of(caller, &req, &state).await,
    )
    .await
}

async fn search_related_persons_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(req);
    let ignored = params.check(&names(RELATED_PERSON_SEARCH))?;
    let common = params.common()?;
    let client_id = searched_client(&params, &caller)?;
    let wanted = ids(&params)?;
    let active = flag(&params, "active")?;
    let links = state
        .run(move |clinic| clinic.caregivers(&caller, client_id, true))
        .await?;
    let matching: Vec<_> = links
        .into_iter()
        .filter(|l| wanted.as_ref().is_none_or(|w| w.contains(&l.id)))
        .filter(|l| active.is_none_or(|a| a == l.revoked_at.is_none()))
        .collect();
    let (page, next, total) = page_by_id(matching, |l| l.id, &common)?;
    let set = searchset(req, &params, "RelatedPerson", ignored, &common);
    let entries = page
        .iter()
        .map(|l| {
            entry(
                &set.base,
                Resource::RelatedPerson(Box::new(care_map::related_person(l))),
                "match",
            )
        })
        .collect();
    Ok(Answer::ok(&set.bundle(entries, next, total), req).into())
}

// --- CareTeam ---------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CareTeamPath {
    /// The CareTeam's id: its client's id (one care team per client).
    pub client_id: String,
}

/// Read a CareTeam (a client's care team, past members with their period).
#[utoipa::path(
    tag = "fhir",
    params(CareTeamPath, FormatQuery),
    responses(
        (status = 200, description = "CareTeam", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such client within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/CareTeam/{client_id}")]
pub async fn read_care_team(
    Bearer(caller): Bearer,
    path: web::Path<CareTeamPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let client_id = logical(&path.client_id);
    let members = state
        .run(move |clinic| clinic.care_team(&caller, client_id, true))
        .await?;
    Ok(Answer::ok(&care_map::care_team(client_id, &members), &req).into())
}

/// The CareTeam search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CareTeamSearchDoc {
    /// The client (`Patient/{id}` or the id); a client's own login may leave it out.
    patient: Option<String>,
    /// The same as `patient`.
    subject: Option<String>,
    /// The care team's id (its client's id).
    #[serde(rename = "_id")]
    id: Option<String>,
    /// `active` (someone serves on it now) or `inactive`.
    status: Option<String>,
}

/// Search CareTeams (a client's care team).
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, CareTeamSearchDoc, PagingDoc),
    responses(
        (status = 200, description = "searchset Bundle of CareTeams", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter, or no patient", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "The patient is not within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/CareTeam")]
pub async fn search_care_teams(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(
        &state,
        &who,
        search_care_teams_of(caller, &req, &state).await,
    )
    .await
}

async fn search_care_teams_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(req);
    let ignored = params.check(&names(CARE_TEAM_SEARCH))?;
    let common = params.common()?;
    let client_id = searched_client(&params, &caller)?;
    let wanted = ids(&params)?;
    let status = codes(&params, "status", &["active", "inactive"])?;
    let members = state
        .run(move |clinic| clinic.care_team(&caller, client_id, true))
        .await?;
    let team = care_map::care_team(client_id, &members);
    let status_of = team
        .status
        .as_ref()
        .map(|s| s.value.clone())
        .unwrap_or_default();
    let matching: Vec<_> = [team]
        .into_iter()
        .filter(|_| wanted.as_ref().is_none_or(|w| w.contains(&client_id)))
        .filter(|_| status.is_empty() || status.iter().any(|s| Some(s) == status_of.as_ref()))
        .collect();
    let (page, next, total) = page_by_id(matching, |_| client_id, &common)?;
    let set = searchset(req, &params, "CareTeam", ignored, &common);
    let entries = page
        .into_iter()
        .map(|t| entry(&set.base, Resource::CareTeam(Box::new(t)), "match"))
        .collect();
    Ok(Answer::ok(&set.bundle(entries, next, total), req).into())
}

// --- EpisodeOfCare ----------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EpisodePath {
    /// The episode's id.
    pub episode_id: String,
}

/// Read an EpisodeOfCare (an episode of therapy).
#[utoipa::path(
    tag = "fhir",
    params(EpisodePath, FormatQuery),
    responses(
        (status = 200, description = "EpisodeOfCare", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such episode within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/EpisodeOfCare/{episode_id}")]
pub async fn read_episode_of_care(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.episode_id);
    let found = state
        .run(move |clinic| clinic.episode_of_care(&caller, id))
        .await?;
    let e = &found.episode;
    Ok(Answer::ok(&care_map::episode_of_care(e, &found.team), &req)
        .versioned(e.version, e.updated_at)
        .into())
}

/// The EpisodeOfCare search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct EpisodeSearchDoc {
    /// The client (`Patient/{id}` or the id); a client's own login may leave it out.
    patient: Option<String>,
    /// The episode's id; commas for any of several.
    #[serde(rename = "_id")]
    id: Option<String>,
    /// planned, active, finished or cancelled; commas for any of them.
    status: Option<String>,
}

const EPISODE_STATES: &[&str] = &["planned", "active", "finished", "cancelled"];

/// Search a client's EpisodeOfCares.
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, EpisodeSearchDoc, PagingDoc),
    responses(
        (status = 200, description = "searchset Bundle of EpisodeOfCares", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter, or no patient", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "The patient is not within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/EpisodeOfCare")]
pub async fn search_episodes_of_care(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(&state, &who, search_episodes_of(caller, &req, &state).await).await
}

async fn search_episodes_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(req);
    let ignored = params.check(&names(EPISODE_SEARCH))?;
    let common = params.common()?;
    let client_id = searched_client(&params, &caller)?;
    let wanted = ids(&params)?;
    let status = codes(&params, "status", EPISODE_STATES)?;
    let (episodes, team) = state
        .run(move |clinic| clinic.episodes_of_care(&caller, client_id))
        .await?;
    let matching: Vec<_> = episodes
        .into_iter()
        .filter(|e| wanted.as_ref().is_none_or(|w| w.contains(&e.id)))
        .filter(|e| {
            status.is_empty()
                || status
                    .iter()
                    .any(|s| s == care_map::episode_status(e.status))
        })
        .collect();
    let (page, next, total) = page_by_id(matching, |e| e.id, &common)?;
    let set = searchset(req, &params, "EpisodeOfCare", ignored, &common);
    let entries = page
        .iter()
        .map(|e| {
            entry(
                &set.base,
                Resource::EpisodeOfCare(Box::new(care_map::episode_of_care(e, &team))),
                "match",
            )
        })
        .collect();
    Ok(Answer::ok(&set.bundle(entries, next, total), req).into())
}

// --- CarePlan ---------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct CarePlanPath {
    /// The CarePlan's id: its episode's id (one plan of care per episode).
    pub episode_id: String,
}

/// Read a CarePlan (an episode's plan of care: its goals and home programme).
#[utoipa::path(
    tag = "fhir",
    params(CarePlanPath, FormatQuery),
    responses(
        (status = 200, description = "CarePlan", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such episode within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/CarePlan/{episode_id}")]
pub async fn read_care_plan(
    Bearer(caller): Bearer,
    path: web::Path<CarePlanPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.episode_id);
    let plan = state
        .run(move |clinic| clinic.plan_of_care(&caller, id))
        .await?;
    Ok(Answer::ok(&care_map::care_plan(&plan), &req).into())
}

/// The CarePlan search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct CarePlanSearchDoc {
    /// The client (`Patient/{id}` or the id); a client's own login may leave it out.
    patient: Option<String>,
    /// The same as `patient`.
    subject: Option<String>,
    /// The plan's id (its episode's id); commas for any of several.
    #[serde(rename = "_id")]
    id: Option<String>,
    /// draft, active, completed or revoked; commas for any of them.
    status: Option<String>,
    /// `plan`: every plan Headway keeps is one.
    intent: Option<String>,
    /// `CarePlan:goal`: the plans' goals too.
    #[serde(rename = "_include")]
    include: Option<String>,
}

/// Search a client's CarePlans (one per episode).
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, CarePlanSearchDoc, PagingDoc),
    responses(
        (status = 200, description = "searchset Bundle of CarePlans", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter, or no patient", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "The patient is not within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/CarePlan")]
pub async fn search_care_plans(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(
        &state,
        &who,
        search_care_plans_of(caller, &req, &state).await,
    )
    .await
}

async fn search_care_plans_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(req);
    let mut known = names(CARE_PLAN_SEARCH);
    known.push("_include");
    let ignored = params.check(&known)?;
    let common = params.common()?;
    let client_id = searched_client(&params, &caller)?;
    let wanted = ids(&params)?;
    let status = codes(
        &params,
        "status",
        &["draft", "active", "completed", "revoked"],
    )?;
    // Every plan is a plan; another intent matches none.
    let intent = codes(&params, "intent", &["plan", "proposal", "order", "option"])?;
    let any_plan = intent.is_empty() || intent.iter().any(|i| i == "plan");
    let include = match params.all("_include").as_slice() {
        [] => false,
        ["CarePlan:goal"] => true,
        _ => return Err(bad("_include", "only CarePlan:goal is supported")),
    };
    let for_plans = caller.clone();
    let plans = state
        .run(move |clinic| clinic.plans_of_care(&for_plans, client_id))
        .await?;
    let matching: Vec<_> = plans
        .into_iter()
        .filter(|_| any_plan)
        .filter(|p| wanted.as_ref().is_none_or(|w| w.contains(&p.episode.id)))
        .filter(|p| {
            status.is_empty()
                || status
                    .iter()
                    .any(|s| s == care_map::plan_status(p.episode.status))
        })
        .collect();
    let (page, next, total) = page_by_id(matching, |p| p.episode.id, &common)?;
    let set = searchset(req, &params, "CarePlan", ignored, &common);
    let mut entries: Vec<BundleEntry> = page
        .iter()
        .map(|p| {
            entry(
                &set.base,
                Resource::CarePlan(Box::new(care_map::care_plan(p))),
                "match",
            )
        })
        .collect();
    let planned: std::collections::BTreeSet<Uuid> = page
        .iter()
        .flat_map(|p| p.goals.iter().map(|g| g.id))
        .collect();
    if include && !planned.is_empty() {
        let goals = state
            .run(move |clinic| clinic.client_goals(&caller, client_id))
            .await?;
        entries.extend(
            goals
                .standings
                .iter()
                .filter(|s| planned.contains(&s.goal.id))
                .map(|s| {
                    entry(
                        &set.base,
                        Resource::Goal(Box::new(goal_resource(s, &goals.measures))),
                        "include",
                    )
                }),
        );
    }
    Ok(Answer::ok(&set.bundle(entries, next, total), req).into())
}

// --- Goal versions ------------------------------------------------------------------

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GoalHistoryPath {
    /// The Goal's logical id.
    pub goal_id: String,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Path)]
pub struct GoalVersionPath {
    /// The Goal's logical id.
    pub goal_id: String,
    /// Its version, from 1: each change of the goal (proposal, revision, agreement,
    /// status) is one.
    pub version_id: String,
}

/// A goal version as a FHIR Goal. The current one is the Goal a read gives; an
/// earlier one tells what that version said and where it stood (its achievement
/// only when it was closed, and no outcomes: what progress showed then is not kept).
fn goal_version(
    g: &domain::goal::Goal,
    found: &persistence::ops::ehr::GoalVersions,
) -> fhirkit::r4::Goal {
    let measures = &found.current.measures;
    match found.current.standings.first() {
        Some(now) if now.goal.version == g.version => goal_resource(now, measures),
        _ => {
            let then = GoalStanding {
                goal: g.clone(),
                achievement: g.status.fhir_achievement(),
                measurements: Vec::new(),
            };
            goal_resource(&then, measures)
        }
    }
}

/// Read one version of a Goal (vread).
#[utoipa::path(
    tag = "fhir",
    params(GoalVersionPath, FormatQuery),
    responses(
        (status = 200, description = "Goal, as that version was", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such Goal or version within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Goal/{goal_id}/_history/{version_id}")]
pub async fn vread_goal(
    Bearer(caller): Bearer,
    path: web::Path<GoalVersionPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.goal_id);
    // A version that is no number names none: answered after the read, like any other.
    let wanted: i32 = path.version_id.parse().unwrap_or(0);
    let found = state
        .run(move |clinic| clinic.goal_versions(&caller, id))
        .await?;
    let g = found
        .versions
        .iter()
        .find(|g| g.version == wanted)
        .ok_or(ApiError::NotFound)?;
    Ok(Answer::ok(&goal_version(g, &found), &req)
        .versioned(g.version, g.updated_at)
        .into())
}

/// Every version of a Goal, newest first (a history Bundle).
#[utoipa::path(
    tag = "fhir",
    params(GoalHistoryPath, FormatQuery),
    responses(
        (status = 200, description = "history Bundle", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "No such Goal within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/Goal/{goal_id}/_history")]
pub async fn goal_history(
    Bearer(caller): Bearer,
    path: web::Path<GoalHistoryPath>,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let id = logical(&path.goal_id);
    let found = state
        .run(move |clinic| clinic.goal_versions(&caller, id))
        .await?;
    let base = base_url(&req);
    let first = found.versions.first().map(|g| g.version);
    let entry: Vec<BundleEntry> = found
        .versions
        .iter()
        .rev()
        .map(|g| {
            let created = Some(g.version) == first && g.version == 1;
            BundleEntry {
                full_url: map::text(format!("{base}/Goal/{id}")),
                resource: Some(Resource::Goal(Box::new(goal_version(g, &found)))),
                request: Some(BundleEntryRequest {
                    method: map::text(if created { "POST" } else { "PUT" }),
                    url: map::text(if created {
                        "Goal".to_owned()
                    } else {
                        format!("Goal/{id}")
                    }),
                    ..Default::default()
                }),
                response: Some(BundleEntryResponse {
                    status: map::text(if created { "201 Created" } else { "200 OK" }),
                    ..Default::default()
                }),
                ..BundleEntry::default()
            }
        })
        .collect();
    let bundle = Bundle {
        type_: map::text("history"),
        total: Some(fhirkit::primitive::Primitive::new(entry.len() as i32)),
        link: vec![BundleLink {
            relation: map::text("self"),
            url: map::text(format!("{base}/Goal/{id}/_history")),
            ..BundleLink::default()
        }],
        entry,
        ..Bundle::default()
    };
    Ok(Answer::ok(&bundle, &req).into())
}

// --- AuditEvent -------------------------------------------------------------------

pub const AUDIT_EVENT_SEARCH: &[SearchParam] = &[param(
    "patient",
    "reference",
    "The client whose access log to read (`Patient/{id}` or the id); a client's own login may leave it out.",
)];

/// The AuditEvent search's parameters, for the document.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct AuditEventSearchDoc {
    /// The client whose access log to read (`Patient/{id}` or the id); a client's own login may leave it out.
    patient: Option<String>,
}

/// Search a client's access log as AuditEvents (newest first): who viewed or changed
/// the record, and how it went. Only those who may read the access log (the client,
/// the clinic's admins, integrations with `audit:read`).
#[utoipa::path(
    tag = "fhir",
    params(FormatQuery, AuditEventSearchDoc, PagingDoc),
    responses(
        (status = 200, description = "searchset Bundle of AuditEvents", body = Doc, content_type = "application/fhir+json"),
        (status = 400, description = "An unknown or malformed search parameter, or no patient", body = Doc, content_type = "application/fhir+json"),
        (status = 401, description = "No valid access token", body = Doc, content_type = "application/fhir+json"),
        (status = 403, description = "The caller sees the record but may not read its access log", body = Doc, content_type = "application/fhir+json"),
        (status = 404, description = "The patient is not within the caller's reach", body = Doc, content_type = "application/fhir+json"),
        (status = 406, description = "A format other than JSON was asked for", body = Doc, content_type = "application/fhir+json"),
    ),
    security(("bearer" = []))
)]
#[get("/AuditEvent")]
pub async fn search_audit_events(
    Bearer(caller): Bearer,
    req: HttpRequest,
    state: State,
) -> Result<HttpResponse, ApiError> {
    let who = caller.clone();
    confirmed(
        &state,
        &who,
        search_audit_events_of(caller, &req, &state).await,
    )
    .await
}

async fn search_audit_events_of(
    caller: persistence::Caller,
    req: &HttpRequest,
    state: &State,
) -> Result<HttpResponse, ApiError> {
    let params = Params::of(req);
    let ignored = params.check(&names(AUDIT_EVENT_SEARCH))?;
    let common = params.common()?;
    if common.total {
        return Err(bad(
            "_summary",
            "this search gives no total; page through it",
        ));
    }
    let client_id = searched_client(&params, &caller)?;
    let after = id_cursor(&common)?;
    let limit = common.count;
    // The whole log, the reader's own actions too: an EHR keeps all of it.
    let page = state
        .run(move |clinic| {
            clinic.access_log(
                &caller,
                client_id,
                true,
                PageRequest {
                    after,
                    limit: limit.max(1),
                },
            )
        })
        .await?;
    let (items, next) = match limit {
        0 => (Vec::new(), None),
        _ => (page.items, page.next_cursor),
    };
    let set = searchset(req, &params, "AuditEvent", ignored, &common);
    let entries = items
        .iter()
        .map(|e| {
            entry(
                &set.base,
                Resource::AuditEvent(Box::new(care_map::audit_event(client_id, e))),
                "match",
            )
        })
        .collect();
    Ok(Answer::ok(&set.bundle(entries, next, None), req).into())
}
