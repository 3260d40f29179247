//! What every handler shares: the database pool, the token keys, the configuration.

use actix_web::{web, HttpRequest};
use domain::policy::{ClientAction, OrgAction};
use persistence::{audit::Subject, Conn, Pool, StoreResult};
use uuid::Uuid;

use crate::{
    auth::{tokens::TokenKeys, Caller},
    config::Config,
    error::{ApiError, ApiResult},
};

/// Progress views held in memory, by episode, with the version each reflects. The
/// database says which version is current on every read, so an entry is served only
/// while it is current: several instances never disagree.
#[derive(Default)]
pub struct ViewCache {
    views: std::sync::RwLock<std::collections::HashMap<uuid::Uuid, (i64, actix_web::web::Bytes)>>,
}

/// Enough for a clinic's active episodes; past it, the cache starts over.
const VIEW_CACHE_ENTRIES: usize = 50_000;

impl ViewCache {
    pub fn get(&self, episode: uuid::Uuid, version: i64) -> Option<actix_web::web::Bytes> {
        let views = self.views.read().ok()?;
        views
            .get(&episode)
            .filter(|(v, _)| *v == version)
            .map(|(_, body)| body.clone())
    }

    pub fn put(&self, episode: uuid::Uuid, version: i64, body: actix_web::web::Bytes) {
        if let Ok(mut views) = self.views.write() {
            if views.len() >= VIEW_CACHE_ENTRIES {
                views.clear();
            }
            views.insert(episode, (version, body));
        }
    }
}

pub struct AppState {
    pub views: ViewCache,
    pub pool: Pool,
    /// Group-commits every audited write (see `persistence::writer`).
    pub writer: persistence::Writer,
    pub tokens: TokenKeys,
    pub config: Config,
    /// A real Argon2id hash, verified against when a login name is unknown, so that
    /// unknown and known accounts take the same time to refuse.
    pub dummy_hash: String,
    /// Every Argon2 hash a request needs runs here (bounded; see `auth::passwords`).
    pub passwords: crate::auth::passwords::HashPool,
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
            let result = match pool.get() {
                Ok(mut conn) => f(&mut conn),
                Err(e) => Err(ApiError::from(persistence::StoreError::from(e))),
            };
            // The connection is back in the pool; now wait for this request's audit
            // events to be committed. No answer leaves before its audit trail is durable.
            persistence::gate::settle_audits()?;
            result
        })
        .await?
    }
}

impl AppState {
    /// Runs `op` on one client's record through the gate (the policy decides, then the
    /// operation runs, then its audit event is written), off the async workers.
    pub async fn on_client<T, F>(
        &self,
        caller: Caller,
        client_id: Uuid,
        action: ClientAction,
        subject: Subject,
        op: F,
    ) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> StoreResult<T> + Send + 'static,
    {
        self.db(move |conn| Ok(caller.on_client(conn, client_id, action, subject, op)?))
            .await
    }

    /// Runs an organization-wide `op` through the gate, off the async workers.
    pub async fn on_organization<T, F>(
        &self,
        caller: Caller,
        action: OrgAction,
        subject: Subject,
        op: F,
    ) -> ApiResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Conn) -> StoreResult<T> + Send + 'static,
    {
        self.db(move |conn| Ok(caller.on_organization(conn, action, &subject, op)?))
            .await
    }
}

/// The configured body limit, for error messages.
pub fn body_limit(req: &HttpRequest) -> usize {
    req.app_data::<State>()
        .map_or(262_144, |s| s.config.max_body_bytes)
}
