//! What every handler shares: the clinic's records (the one door to the data), the
//! token keys, the configuration, and the password hashing pool.

use actix_web::{web, HttpRequest};
use persistence::{Clinic, StoreResult};

use crate::{auth::tokens::TokenKeys, config::Config, error::ApiResult};

pub struct AppState {
    /// Every operation on the clinic's data (see `persistence::ops`).
    pub clinic: Clinic,
    pub tokens: TokenKeys,
    pub config: Config,
    /// A real Argon2id hash, verified against when a login name is unknown, so that
    /// unknown and known accounts take the same time to refuse.
    pub dummy_hash: String,
    /// Every Argon2 hash a request needs runs here (bounded; see `auth::passwords`).
    pub passwords: crate::auth::passwords::HashPool,
    /// The instance's broadcast of the change log, for live event streams.
    pub hub: std::sync::Arc<crate::live::Hub>,
}

pub type State = web::Data<AppState>;

impl AppState {
    /// Runs one operation off the async workers (sync diesel + r2d2): the only way a
    /// handler reaches the clinic's data.
    pub async fn run<T, F>(&self, op: F) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Clinic) -> StoreResult<T> + Send + 'static,
    {
        let clinic = self.clinic.clone();
        Ok(web::block(move || op(&clinic)).await??)
    }
}

/// The configured body limit, for error messages.
pub fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<State>()
        .map_or(262_144, |s| s.config.max_body_bytes)
}
