use actix_web::{get, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use crate::{
    error::{ApiError, ApiResult},
    state::State,
};

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok` when healthy.
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(tag = "health", responses((status = 200, body = Health)))]
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health { status: "ok" })
}

/// The database answers: route traffic here.
#[utoipa::path(tag = "health", responses((status = 200, body = Health)))]
#[get("/readyz")]
pub async fn readyz(state: State) -> ApiResult<HttpResponse> {
    state
        .db(|conn| persistence::db::ping(conn).map_err(|_| ApiError::Unavailable))
        .await?;
    Ok(HttpResponse::Ok().json(Health { status: "ok" }))
}
