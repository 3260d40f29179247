//! Progress reports: drafted from the record for a period of an episode, edited by
//! the care team (If-Match, each edit a new draft version), signed, then never
//! changed; corrections are signed addenda. Served as JSON, HTML or PDF.

use actix_web::{get, http::header, post, put, web, HttpRequest, HttpResponse};
use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    progress::{shown, PERCENT_DECIMALS, T_SCORE_DECIMALS, VALUE_DECIMALS},
    report::{
        Addendum, Adherence, Narrative, Period, Report, Signature, TREATMENT_DAYS_PER_REPORT,
    },
};
use persistence::ops::reports::ReportRecord;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use validator::Validate;

use super::{created, goals::EpisodePath, tagged};
use crate::{
    auth::Bearer,
    error::{ApiResult, Problem},
    extract::{Body, IfMatch, IfNoneMatch},
    idempotent::{IdempotencyKey, Reply},
    report_doc,
    state::State,
};

fn v2(x: f64) -> f64 {
    shown(x, VALUE_DECIMALS)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportPath {
    pub client_id: Uuid,
    pub report_id: Uuid,
}

/// A report to draft for a period of the episode.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReportInput {
    /// The period's first day (inclusive).
    pub period_start: NaiveDate,
    /// The period's last day (inclusive); not in the future.
    pub period_end: NaiveDate,
    /// The therapist's assessment, up to 20000 characters; may be written later.
    #[serde(default)]
    #[validate(length(max = 20000))]
    #[schema(max_length = 20000)]
    pub assessment: String,
    /// The plan, up to 20000 characters; may be written later.
    #[serde(default)]
    #[validate(length(max = 20000))]
    #[schema(max_length = 20000)]
    pub plan: String,
}

/// A new draft version of the therapist's words.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportEdit {
    #[validate(length(max = 20000))]
    #[schema(max_length = 20000)]
    pub assessment: String,
    #[validate(length(max = 20000))]
    #[schema(max_length = 20000)]
    pub plan: String,
}

/// A correction or addition to a signed report, signed by its author as written.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAddendum {
    #[validate(length(min = 1, max = 20000))]
    #[schema(min_length = 1, max_length = 20000)]
    pub body: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SignatureView {
    pub user_id: Uuid,
    /// The signer's name as it stood when they signed.
    pub name: String,
    /// The signer's discipline (`occupational-therapy`, ...), if recorded.
    pub discipline: Option<String>,
    pub signed_at: DateTime<Utc>,
}

impl From<&Signature> for SignatureView {
    fn from(s: &Signature) -> Self {
        SignatureView {
            user_id: s.user_id,
            name: s.name.clone(),
            discipline: s.discipline.clone(),
            signed_at: s.at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AddendumView {
    pub id: Uuid,
    pub report_id: Uuid,
    pub body: String,
    pub signature: SignatureView,
}

impl From<&Addendum> for AddendumView {
    fn from(a: &Addendum) -> Self {
        AddendumView {
            id: a.id,
            report_id: a.report_id,
            body: a.body.clone(),
            signature: SignatureView::from(&a.signature),
        }
    }
}

/// Home-programme adherence for a goal over the period.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdherenceView {
    /// `not-recorded` (no home programme recorded for this goal) or `recorded`.
    #[schema(example = "not-recorded")]
    pub status: &'static str,
    pub prescribed: Option<u32>,
    pub completed: Option<u32>,
    /// Completed over prescribed, percent, 1 decimal.
    pub percent: Option<f64>,
    /// In words, as the report shows it.
    pub summary: String,
}

impl From<&Adherence> for AdherenceView {
    fn from(a: &Adherence) -> Self {
        match a {
            Adherence::NotRecorded => AdherenceView {
                status: "not-recorded",
                prescribed: None,
                completed: None,
                percent: None,
                summary: "No home programme recorded".into(),
            },
            Adherence::Recorded {
                prescribed,
                completed,
                percent,
            } => AdherenceView {
                status: "recorded",
                prescribed: Some(*prescribed),
                completed: Some(*completed),
                percent: Some(shown(*percent, PERCENT_DECIMALS)),
                summary: format!("{completed} of {prescribed} sessions practised"),
            },
        }
    }
}

/// One goal in the report: the progress view's figures as they stood at the end of
/// the period (values 2 decimals, percentages 1, as the progress view shows them).
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportGoalView {
    pub goal_id: Uuid,
    /// The goal's stable label (`G1`, `G1.2`).
    pub label: String,
    /// The goal in the client's own words.
    pub client_words: String,
    pub statement: String,
    pub status: String,
    /// FHIR Goal.achievementStatus.
    pub achievement_status: String,
    pub measure_code: Option<String>,
    pub measure_name: Option<String>,
    /// Whose values the figures follow (the measure's primary source).
    #[schema(schema_with = crate::wire::source_or_null)]
    pub primary_source: Option<domain::measure::Source>,
    pub baseline: Option<f64>,
    /// The latest value by the end of the period.
    pub current: Option<f64>,
    pub current_at: Option<DateTime<Utc>>,
    pub target: Option<f64>,
    pub target_date: Option<NaiveDate>,
    pub change: Option<f64>,
    pub percent_to_target: Option<f64>,
    /// The change that matters on this measure.
    pub meaningful_change_threshold: Option<f64>,
    /// The change improves by at least the threshold (judged on exact values).
    pub meaningful_change: bool,
    /// GAS baseline level and current level, -2..+2.
    pub gas_baseline: Option<i32>,
    pub gas_level: Option<i32>,
    /// Values recorded in the period on the goal's measure, all sources.
    pub values_in_period: usize,
    pub adherence: AdherenceView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportGasView {
    pub goals: usize,
    /// Kiresuk-Sherman T-scores, 1 decimal.
    pub baseline_t: Option<f64>,
    pub current_t: Option<f64>,
    pub weighted_baseline_t: Option<f64>,
    pub weighted_current_t: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportCopmView {
    #[schema(schema_with = crate::wire::source)]
    pub source: domain::measure::Source,
    pub assessments: usize,
    pub performance_first: f64,
    pub performance_latest: f64,
    pub performance_change: f64,
    /// At least 2 points better.
    pub performance_meaningful: bool,
    pub satisfaction_first: f64,
    pub satisfaction_latest: f64,
    pub satisfaction_change: f64,
    pub satisfaction_meaningful: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportClientView {
    pub name: String,
    pub date_of_birth: Option<NaiveDate>,
    /// `system|value` of each identifier.
    pub identifiers: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReportEpisodeView {
    pub reason_for_referral: String,
    pub diagnoses: Vec<String>,
    pub start_date: NaiveDate,
    pub end_date: Option<NaiveDate>,
    pub status: String,
}

/// A progress report: the record's figures for the period, frozen when drafted, the
/// therapist's assessment and plan, the signature and any signed addenda.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportView {
    pub id: Uuid,
    pub client_id: Uuid,
    pub episode_id: Uuid,
    /// `draft` (the care team's, still edited) or `signed` (never changes again).
    #[schema(example = "draft")]
    pub status: &'static str,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Days in the period with at least one therapist-assessed measurement (the
    /// session records of this build).
    pub treatment_days: usize,
    /// Clinics report at least every this many treatment days (10).
    pub treatment_days_per_report: usize,
    pub clinic: String,
    pub client: ReportClientView,
    pub episode: ReportEpisodeView,
    pub goals: Vec<ReportGoalView>,
    pub gas: Option<ReportGasView>,
    pub copm: Option<ReportCopmView>,
    pub assessment: String,
    pub plan: String,
    pub drafted_by: Uuid,
    /// Null while a draft.
    pub signature: Option<SignatureView>,
    /// Signed corrections or additions, oldest first.
    pub addenda: Vec<AddendumView>,
    /// The ETag: every draft edit and the signature move it on.
    pub version: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn report_view(r: &Report, addenda: &[Addendum]) -> ReportView {
    let f = &r.figures;
    let t = |x: Option<f64>| x.map(|x| shown(x, T_SCORE_DECIMALS));
    ReportView {
        id: r.id,
        client_id: r.client_id,
        episode_id: r.episode_id,
        status: r.status.as_str(),
        period_start: r.period.from,
        period_end: r.period.to,
        treatment_days: f.treatment_days,
        treatment_days_per_report: TREATMENT_DAYS_PER_REPORT,
        clinic: f.subject.clinic_name.clone(),
        client: ReportClientView {
            name: f.subject.client_name.clone(),
            date_of_birth: f.subject.date_of_birth,
            identifiers: f.subject.identifiers.clone(),
        },
        episode: ReportEpisodeView {
            reason_for_referral: f.subject.reason_for_referral.clone(),
            diagnoses: f.subject.diagnoses.clone(),
            start_date: f.subject.episode_start,
            end_date: f.subject.episode_end,
            status: f.subject.episode_status.clone(),
        },
        goals: f
            .goals
            .iter()
            .map(|g| ReportGoalView {
                goal_id: g.goal_id,
                label: g.label.clone(),
                client_words: g.client_words.clone(),
                statement: g.statement.clone(),
                status: g.status.clone(),
                achievement_status: g.achievement_status.clone(),
                measure_code: g.measure_code.clone(),
                measure_name: g.measure_name.clone(),
                primary_source: g.primary_source,
                baseline: g.baseline.map(v2),
                current: g.current.map(v2),
                current_at: g.current_at,
                target: g.target,
                target_date: g.target_date,
                change: g.change.map(v2),
                percent_to_target: g.percent_to_target.map(|x| shown(x, PERCENT_DECIMALS)),
                meaningful_change_threshold: g.meaningful_change_threshold,
                meaningful_change: g.meaningful_change,
                gas_baseline: g.gas_baseline,
                gas_level: g.gas_level,
                values_in_period: g.lines.iter().map(|l| l.points.len()).sum(),
                adherence: AdherenceView::from(&g.adherence),
            })
            .collect(),
        gas: f.gas.as_ref().map(|g| ReportGasView {
            goals: g.goals,
            baseline_t: t(g.baseline_t),
            current_t: t(g.current_t),
            weighted_baseline_t: t(g.weighted_baseline_t),
            weighted_current_t: t(g.weighted_current_t),
        }),
        copm: f.copm.as_ref().map(|c| ReportCopmView {
            source: c.source,
            assessments: c.assessments,
            performance_first: v2(c.performance_first),
            performance_latest: v2(c.performance_latest),
            performance_change: v2(c.performance_change),
            performance_meaningful: c.performance_meaningful,
            satisfaction_first: v2(c.satisfaction_first),
            satisfaction_latest: v2(c.satisfaction_latest),
            satisfaction_change: v2(c.satisfaction_change),
            satisfaction_meaningful: c.satisfaction_meaningful,
        }),
        assessment: r.narrative.assessment.clone(),
        plan: r.narrative.plan.clone(),
        drafted_by: r.drafted_by,
        signature: r.signature.as_ref().map(SignatureView::from),
        addenda: addenda.iter().map(AddendumView::from).collect(),
        version: r.version,
        created_at: r.created_at,
        updated_at: r.updated_at,
    }
}

/// One line of an episode's list of reports.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportSummaryView {
    pub id: Uuid,
    #[schema(example = "signed")]
    pub status: &'static str,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub treatment_days: usize,
    pub signed_at: Option<DateTime<Utc>>,
    pub version: i32,
}

fn reply(status: actix_web::http::StatusCode, r: &Report) -> Reply {
    Reply::json(status, &report_view(r, &[])).tagged(r.version)
}

/// Draft a progress report of a period of the episode from what is recorded (a
/// therapist on the care team). Its figures are the progress view's as they stood
/// at the period's end, frozen in the report; it states how many treatment days the
/// period covers.
#[utoipa::path(
    tag = "reports",
    params(EpisodePath),
    request_body = NewReportInput,
    responses(
        (status = 201, body = ReportView),
        (status = 404, description = "No such client or episode", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/episodes/{episode_id}/reports")]
pub async fn draft_report(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<EpisodePath>,
    body: Body<NewReportInput>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let input = body.0;
    let period = Period::parse(
        input.period_start,
        input.period_end,
        Utc::now().date_naive(),
    )?;
    let narrative = Narrative::parse(&input.assessment, &input.plan)?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| {
                clinic.draft_report(caller, client_id, episode_id, period, narrative)
            },
            move |r| {
                created(
                    format!("/api/v1/clients/{client_id}/reports/{}", r.id),
                    &report_view(r, &[]),
                )
                .tagged(r.version)
            },
        )
        .await
}

/// An episode's progress reports, oldest first: drafts for the care team and admins,
/// signed reports for everyone who may read the record.
#[utoipa::path(
    tag = "reports",
    params(EpisodePath),
    responses(
        (status = 200, body = Vec<ReportSummaryView>),
        (status = 404, description = "No such client or episode", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/episodes/{episode_id}/reports")]
pub async fn list_reports(
    Bearer(caller): Bearer,
    path: web::Path<EpisodePath>,
    state: State,
) -> ApiResult<HttpResponse> {
    let EpisodePath {
        client_id,
        episode_id,
    } = path.into_inner();
    let list = state
        .run(move |clinic| clinic.episode_reports(&caller, client_id, episode_id))
        .await?;
    let body: Vec<ReportSummaryView> = list
        .iter()
        .map(|r| ReportSummaryView {
            id: r.id,
            status: r.status.as_str(),
            period_start: r.period.from,
            period_end: r.period.to,
            treatment_days: r.figures.treatment_days,
            signed_at: r.signature.as_ref().map(|s| s.at),
            version: r.version,
        })
        .collect();
    Ok(HttpResponse::Ok().json(body))
}

/// How the caller asked to see a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    Json,
    Html,
    Pdf,
}

/// The first of the media types we serve that `Accept` lists (JSON when none is).
fn shown_as(req: &HttpRequest) -> Shown {
    let accept = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    accept
        .split(',')
        .filter_map(|part| {
            let media = part.split(';').next().unwrap_or("").trim();
            let refused = part.split(';').skip(1).any(|p| {
                let p = p.trim().replace(' ', "");
                p == "q=0" || p == "q=0.0" || p == "q=0.00" || p == "q=0.000"
            });
            if refused {
                return None;
            }
            match media {
                "application/pdf" => Some(Shown::Pdf),
                "text/html" => Some(Shown::Html),
                "application/json" => Some(Shown::Json),
                _ => None,
            }
        })
        .next()
        .unwrap_or(Shown::Json)
}

/// A progress report with its addenda, as JSON, HTML (`Accept: text/html`: a page to
/// print, charts inline as SVG) or PDF (`Accept: application/pdf`: drawn in-process,
/// charts as vector drawings, page numbers). A draft is the care team's: a client,
/// a caregiver or an integration gets 404 until it is signed.
#[utoipa::path(
    tag = "reports",
    params(ReportPath),
    responses(
        (status = 200, description = "The report, in the media type asked for with Accept", content(
            (ReportView = "application/json"),
            (String = "text/html"),
            (String = "application/pdf"),
        )),
        (status = 404, description = "No such report, a draft the caller may not see, or a client outside reach", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{client_id}/reports/{report_id}")]
pub async fn get_report(
    Bearer(caller): Bearer,
    path: web::Path<ReportPath>,
    held: IfNoneMatch,
    req: HttpRequest,
    state: State,
) -> ApiResult<HttpResponse> {
    let ReportPath {
        client_id,
        report_id,
    } = path.into_inner();
    let shown = shown_as(&req);
    let ReportRecord {
        report,
        addenda,
        measures,
    } = state
        .run(move |clinic| clinic.report(&caller, client_id, report_id))
        .await?;
    // Addenda come after signing without moving the report's version: the tag of
    // what is shown counts them too.
    let version = report.version + addenda.len() as i32;
    let etag = domain::version::etag(version);
    if held.holds(version)? {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .finish());
    }
    let view = report_view(&report, &addenda);
    let name = format!(
        "progress-report-{}-{}",
        report.period.from, report.period.to
    );
    Ok(match shown {
        Shown::Json => HttpResponse::Ok()
            .insert_header((header::ETAG, etag))
            .insert_header((header::VARY, "Accept"))
            .json(view),
        Shown::Html => HttpResponse::Ok()
            .insert_header((header::ETAG, etag))
            .insert_header((header::VARY, "Accept"))
            .content_type("text/html; charset=utf-8")
            .body(report_doc::html(&report, &view, &measures)),
        Shown::Pdf => {
            let pdf = report_doc::pdf(&report, &view, &measures)?;
            HttpResponse::Ok()
                .insert_header((header::ETAG, etag))
                .insert_header((header::VARY, "Accept"))
                .insert_header((
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"{name}.pdf\""),
                ))
                .content_type("application/pdf")
                .body(pdf)
        }
    })
}

/// Edit a draft's assessment and plan (a therapist on the care team): a new draft
/// version, each kept. Needs `If-Match`. A signed report is never changed: 409, and
/// it stays as signed (add an addendum instead).
#[utoipa::path(
    tag = "reports",
    params(ReportPath),
    request_body = ReportEdit,
    responses(
        (status = 200, body = ReportView),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The report is signed and never changes", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names another version", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is required", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[put("/clients/{client_id}/reports/{report_id}")]
pub async fn edit_report(
    Bearer(caller): Bearer,
    path: web::Path<ReportPath>,
    IfMatch(expected): IfMatch,
    body: Body<ReportEdit>,
    state: State,
) -> ApiResult<HttpResponse> {
    let ReportPath {
        client_id,
        report_id,
    } = path.into_inner();
    let narrative = Narrative::parse(&body.0.assessment, &body.0.plan)?;
    let r = state
        .run(move |clinic| clinic.edit_report(&caller, client_id, report_id, expected, narrative))
        .await?;
    Ok(tagged(r.version, &report_view(&r, &[])))
}

/// Sign a draft as the caller (a therapist on the care team): their name, discipline
/// and the time go in the signature block, and the report never changes again.
/// Needs `If-Match` (the version signed is the version read).
#[utoipa::path(
    tag = "reports",
    params(ReportPath),
    responses(
        (status = 200, body = ReportView),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The report is signed already", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match names another version", body = Problem, content_type = "application/problem+json"),
        (status = 428, description = "If-Match is required", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/reports/{report_id}/signature")]
pub async fn sign_report(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ReportPath>,
    IfMatch(expected): IfMatch,
    state: State,
) -> ApiResult<HttpResponse> {
    let ReportPath {
        client_id,
        report_id,
    } = path.into_inner();
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.sign_report(caller, client_id, report_id, expected),
            move |r| reply(actix_web::http::StatusCode::OK, r),
        )
        .await
}

/// Add a signed addendum to a signed report (a therapist on the care team): the
/// correction or addition, signed by its author as written, listed with the report.
#[utoipa::path(
    tag = "reports",
    params(ReportPath),
    request_body = NewAddendum,
    responses(
        (status = 201, body = AddendumView),
        (status = 404, description = "No such report", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The report is still a draft: edit it instead", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients/{client_id}/reports/{report_id}/addenda")]
pub async fn add_addendum(
    Bearer(caller): Bearer,
    key: IdempotencyKey,
    path: web::Path<ReportPath>,
    body: Body<NewAddendum>,
    state: State,
) -> ApiResult<HttpResponse> {
    let ReportPath {
        client_id,
        report_id,
    } = path.into_inner();
    let text = domain::report::addendum_body(&body.0.body)?;
    state
        .run_once(
            key,
            caller,
            move |clinic, caller| clinic.add_report_addendum(caller, client_id, report_id, text),
            move |a| {
                created(
                    format!("/api/v1/clients/{client_id}/reports/{report_id}"),
                    &AddendumView::from(a),
                )
            },
        )
        .await
}
