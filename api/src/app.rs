//! Assembling the application: routes, the OpenAPI document, middleware, server.

use std::{
    net::TcpListener,
    time::{Duration, Instant},
};

use actix_cors::Cors;

use actix_web::{
    body::MessageBody,
    dev::{ResourceDef, ServiceRequest, ServiceResponse},
    http::header,
    middleware::{from_fn, Condition, DefaultHeaders, ErrorHandlers},
    web, App, HttpMessage, HttpRequest, HttpServer,
};
use tracing::Span;
use tracing_actix_web::{RootSpanBuilder, TracingLogger};
use utoipa::{openapi::OpenApi as Doc, Modify, OpenApi};
use utoipa_actix_web::{scope, service_config::ServiceConfig, AppExt};
use utoipa_swagger_ui::SwaggerUi;

use crate::{
    error::ApiError,
    fhir::resources as fhir_more,
    fhir::{routes as fhir, smart},
    middleware::{self, RequestId, TransportLimits},
    openapi::{ApiDoc, Shared},
    routes::{
        audit, auth, care, clients, events, goals, health, home, me, measures, progress, reports,
        sync, users, webhooks,
    },
    state::AppState,
};

/// Every documented route. Anything served must be registered here, so it is in
/// the OpenAPI document by construction.
fn routes(cfg: &mut ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::readyz)
        .service(smart::smart_configuration)
        .service(
            scope("/api/v1")
                .service(auth::token)
                .service(auth::revoke)
                .service(auth::accept_invitation)
                .service(me::me)
                .service(users::create_user)
                .service(users::list_users)
                .service(users::get_user)
                .service(users::update_user)
                .service(users::get_jwks)
                .service(users::put_jwks)
                .service(clients::list_clients)
                .service(clients::create_client)
                .service(clients::get_client)
                .service(clients::update_client)
                .service(clients::patch_client)
                .service(clients::client_versions)
                .service(clients::invite_client)
                .service(care::care_team)
                .service(care::add_member)
                .service(care::remove_member)
                .service(care::caregivers)
                .service(care::add_caregiver)
                .service(care::revoke_caregiver)
                .service(care::get_caregiver)
                .service(care::change_caregiver)
                .service(audit::search)
                .service(audit::access_log)
                .service(goals::create_episode)
                .service(goals::list_episodes)
                .service(goals::get_episode)
                .service(goals::update_episode)
                .service(goals::propose_goal)
                .service(goals::list_goals)
                .service(goals::get_goal)
                .service(goals::patch_goal)
                .service(goals::revise_goal)
                .service(goals::goal_revisions)
                .service(goals::agree_to_goal)
                .service(goals::set_goal_status)
                .service(goals::comments)
                .service(goals::add_comment)
                .service(measures::list_measures)
                .service(measures::create_measure)
                .service(measures::choose_primary_source)
                .service(measures::record)
                .service(measures::list)
                .service(measures::get)
                .service(measures::history)
                .service(measures::correct)
                .service(progress::episode_progress_view)
                .service(progress::series)
                .service(progress::chart_svg)
                .service(progress::milestones)
                .service(reports::draft_report)
                .service(reports::list_reports)
                .service(reports::get_report)
                .service(reports::edit_report)
                .service(reports::sign_report)
                .service(reports::add_addendum)
                .service(home::prescribe)
                .service(home::programme)
                .service(home::adherence)
                .service(home::get_activity)
                .service(home::revise)
                .service(home::stop)
                .service(home::log_practice)
                .service(home::practice_log)
                .service(home::get_practice)
                .service(home::correct_practice)
                .service(home::record_check_in)
                .service(home::check_ins)
                .service(home::flagged)
                .service(home::ask)
                .service(home::questions)
                .service(home::get_question)
                .service(home::answer)
                .service(home::add_note)
                .service(home::unanswered)
                .service(events::events)
                .service(events::stream_ticket)
                .service(sync::sync)
                .service(webhooks::create_webhook)
                .service(webhooks::list_webhooks)
                .service(webhooks::get_webhook)
                .service(webhooks::update_webhook)
                .service(webhooks::delete_webhook)
                .service(webhooks::rotate_secret)
                .service(webhooks::deliveries)
                .service(webhooks::redeliver),
        )
        .service(
            scope("/fhir/r4")
                .service(fhir::metadata)
                .service(smart::fhir_smart_configuration)
                .service(fhir::read_patient)
                .service(fhir::search_patients)
                .service(fhir::read_goal)
                .service(fhir::search_goals)
                .service(fhir::read_observation)
                .service(fhir::vread_observation)
                .service(fhir::observation_history)
                .service(fhir::search_observations)
                .service(crate::fhir::write::create_observation)
                .service(crate::fhir::write::create_goal)
                .service(crate::fhir::write::bundle)
                // The rest of the read side (`fhir/resources.rs`).
                .service(fhir_more::read_practitioner)
                .service(fhir_more::search_practitioners)
                .service(fhir_more::read_practitioner_role)
                .service(fhir_more::search_practitioner_roles)
                .service(fhir_more::read_related_person)
                .service(fhir_more::search_related_persons)
                .service(fhir_more::read_care_team)
                .service(fhir_more::search_care_teams)
                .service(fhir_more::read_episode_of_care)
                .service(fhir_more::search_episodes_of_care)
                .service(fhir_more::read_care_plan)
                .service(fhir_more::search_care_plans)
                .service(fhir_more::vread_goal)
                .service(fhir_more::goal_history)
                .service(fhir_more::search_audit_events),
        );
}

/// The OpenAPI document the server serves (and `openapi/openapi.json` holds).
pub fn openapi() -> Doc {
    let (_, mut doc) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(routes)
        .split_for_parts();
    Shared.modify(&mut doc);
    doc
}

/// Known paths and their methods, to answer 405 (with Allow) rather than 404.
#[derive(Clone)]
struct KnownRoutes(std::sync::Arc<Vec<(ResourceDef, Vec<String>)>>);

impl KnownRoutes {
    fn from_doc(doc: &Doc) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter(|(_, has)| *has)
                .map(|(m, _)| m.to_owned())
                .collect();
                (ResourceDef::new(path.as_str()), methods)
            })
            .collect();
        KnownRoutes(std::sync::Arc::new(routes))
    }
}

async fn fallback(
    req: HttpRequest,
    known: web::Data<KnownRoutes>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let path = req.path();
    Err(match known.0.iter().find(|(def, _)| def.is_match(path)) {
        Some((_, methods)) => ApiError::MethodNotAllowed(methods.clone()),
        None => ApiError::NotFound,
    })
}

/// Spans carry the request id and the route pattern, never the raw path or query
/// (which could carry identifiers), and never headers or bodies.
pub struct RequestSpan;

#[derive(Clone, Copy)]
struct Started(Instant);

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request.extensions_mut().insert(Started(Instant::now()));
        let request_id = request
            .extensions()
            .get::<RequestId>()
            .map(|r| r.0.clone())
            .unwrap_or_default();
        // The route is recorded at the end: matching it here would route every request twice.
        tracing::info_span!("request", method = %request.method(), request_id = %request_id, route = tracing::field::Empty)
    }

    fn on_request_end<B: MessageBody>(
        span: Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        let _entered = span.enter();
        match outcome {
            Ok(res) => {
                let status = res.status().as_u16();
                // Cheap for most requests: only errors and warnings pay for the route pattern.
                if tracing::enabled!(tracing::Level::INFO) || status >= 500 {
                    let route = res
                        .request()
                        .match_pattern()
                        .unwrap_or_else(|| "unmatched".into());
                    span.record("route", route.as_str());
                }
                let elapsed = res
                    .request()
                    .extensions()
                    .get::<Started>()
                    .map(|s| s.0.elapsed());
                let ms = elapsed.map_or(0.0, |e| e.as_secs_f64() * 1000.0);
                if status >= 500 {
                    tracing::error!(status, latency_ms = ms, "request failed");
                } else {
                    tracing::info!(status, latency_ms = ms, "request");
                }
            }
            Err(e) => tracing::error!(error = %e, "request error"),
        }
    }
}

/// Request headers a browser app may send across origins.
const CORS_REQUEST_HEADERS: [&str; 6] = [
    "authorization",
    "content-type",
    "if-match",
    "if-none-match",
    "idempotency-key",
    "last-event-id",
];
/// Response headers a browser app on another origin may read.
const CORS_EXPOSED_HEADERS: [&str; 5] = [
    "location",
    "etag",
    "retry-after",
    "x-request-id",
    "www-authenticate",
];

/// CORS for the configured origins only (exact matches). Tokens travel in the
/// Authorization header, never in cookies, so credentials are not allowed and the
/// allowed origin is always named, never `*`.
fn cors(origins: &[String]) -> Cors {
    let cors = origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers(CORS_REQUEST_HEADERS)
        .expose_headers(CORS_EXPOSED_HEADERS)
        .max_age(3600)
        // Other origins get answers without CORS headers, which browsers refuse to expose.
        .block_on_origin_mismatch(false)
}

/// Starts serving on `listener`. Call inside an actix (tokio) runtime.
pub fn serve(
    state: AppState,
    listener: TcpListener,
    workers: Option<usize>,
) -> std::io::Result<actix_web::dev::Server> {
    let doc = openapi();
    let known = web::Data::new(KnownRoutes::from_doc(&doc));
    let document = crate::openapi::document(&doc);
    let limit = state.config.max_body_bytes;
    let transport = web::Data::new(TransportLimits {
        max_header_bytes: state.config.max_header_bytes,
        max_head_bytes: state.config.max_head_bytes,
        body_timeout: Duration::from_secs(state.config.request_body_timeout_secs),
    });
    let cors_origins = state.config.cors_origins.clone();
    let head_timeout = Duration::from_secs(state.config.request_head_timeout_secs);
    let keep_alive = Duration::from_secs(state.config.keep_alive_secs);
    let between_requests = keep_alive + head_timeout;
    if state.config.webhooks_deliver {
        crate::webhooks::start(state.clinic.clone(), &state.config);
    }
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        let (app, _) = App::new()
            .into_utoipa_app()
            .configure(routes)
            .split_for_parts();
        app.app_data(state.clone())
            .app_data(known.clone())
            .app_data(transport.clone())
            .app_data(web::PayloadConfig::new(limit))
            .app_data(web::PathConfig::default().error_handler(crate::error::path_error))
            .service(
                SwaggerUi::new("/docs/{_:.*}")
                    .external_url_unchecked("/openapi.json", document.clone()),
            )
            .default_service(web::to(fallback))
            .wrap(
                DefaultHeaders::new()
                    .add((header::CACHE_CONTROL, "no-store"))
                    .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff")),
            )
            .wrap(from_fn(middleware::transport_limits))
            // Outside the handlers and limits, so errors carry CORS headers too, and
            // preflights are answered before routing (which would say 405).
            .wrap(Condition::new(
                !cors_origins.is_empty(),
                cors(&cors_origins),
            ))
            .wrap(ErrorHandlers::new().default_handler(crate::error::problem_for_plain_errors))
            // Every answer under /fhir/ in FHIR's terms, refusals included.
            .wrap(from_fn(crate::fhir::door))
            .wrap(TracingLogger::<RequestSpan>::new())
            .wrap(from_fn(middleware::request_id))
            .wrap(from_fn(middleware::connection_activity))
    })
    .on_connect(move |connection, data| {
        if let Some(watch) = middleware::ConnectionWatch::start(connection, between_requests) {
            data.insert(watch);
        }
    })
    // A slow client gets 408 for its first request head and is closed; an idle
    // connection is closed after the keep-alive; a closing connection is given a moment
    // to read its answer before the socket goes.
    .client_request_timeout(head_timeout)
    .keep_alive(keep_alive)
    .client_disconnect_timeout(Duration::from_secs(1))
    .listen(listener)?;
    if let Some(n) = workers {
        server = server.workers(n);
    }
    Ok(server.run())
}
