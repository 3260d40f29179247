//! What every handler shares: the database pool, the token keys, the configuration.

use actix_web::{web, HttpRequest};
use persistence::{Conn, Pool};

use crate::{auth::tokens::TokenKeys, config::Config, error::ApiError};

pub struct AppState {
    pub pool: Pool,
    /// Group-commits every audited write (see `persistence::writer`).
    pub writer: persistence::Writer,
    pub tokens: TokenKeys,
    pub config: Config,
    /// A real Argon2id hash, verified against when a login name is unknown, so that
    /// unknown and known accounts take the same time to refuse.
    pub dummy_hash: String,
}

pub type State = web::Data<AppState>;

impl AppState {
    /// Runs blocking database work off the async workers (sync diesel + r2d2).
    pub async fn db<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> Result<T, ApiError> + Send + 'static,
    {
        let pool = self.pool.clone();
        web::block(move || {
            let mut conn = pool
                .get()
                .map_err(|e| ApiError::from(persistence::StoreError::from(e)))?;
            f(&mut conn)
        })
        .await?
    }
}

/// The configured body limit, for error messages.
pub fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<State>()
        .map_or(262_144, |s| s.config.max_body_bytes)
}
