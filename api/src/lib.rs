//! Headway's HTTP API: actix-web handlers over the persistence gate, documented
//! with utoipa, errors as RFC 9457 problem details.

pub mod app;
pub mod auth;
pub mod chart;
pub mod config;
pub mod demo;
pub mod error;
pub mod extract;
pub mod fhir;
pub mod idempotent;
pub mod live;
pub mod middleware;
pub mod openapi;
pub mod report_doc;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod webhooks;
pub mod wire;

use persistence::Backend;

pub use app::{openapi, serve};
pub use config::Config;
pub use state::AppState;

/// Opens the database (migrating it) and prepares keys. Fails without a signing
/// secret unless `allow_throwaway_key` (demo mode), which warns loudly.
pub fn prepare(mut config: Config, allow_throwaway_key: bool) -> Result<AppState, String> {
    let backend = Backend::from_url(&config.database_url).map_err(|e| e.to_string())?;
    let (clinic, applied) = persistence::Clinic::open(&backend, config.db_pool_size)
        .map_err(|e| format!("cannot open the database: {e}"))?;
    for name in applied {
        tracing::info!(migration = %name, "applied migration");
    }
    let secret = match (&config.jwt_secret, allow_throwaway_key) {
        (Some(s), _) => s.clone(),
        (None, true) => {
            tracing::warn!("!!! DEMO MODE: HEADWAY_JWT_SECRET is not set; using a throwaway signing key. Tokens die with this process. Never use this for real data. !!!");
            let key = auth::tokens::throwaway_key();
            config.jwt_secret = Some(key.clone());
            key
        }
        (None, false) => return Err("HEADWAY_JWT_SECRET is required (at least 32 bytes); only `headway demo` may run without one".into()),
    };
    let tokens = auth::tokens::TokenKeys::new(
        secret.as_bytes(),
        &config.jwt_previous_secrets,
        &config.jwt_issuer,
        &config.jwt_audience,
        config.access_token_ttl_secs,
    );
    let dummy_hash =
        auth::passwords::hash("headway-timing-equaliser").map_err(|e| e.to_string())?;
    let passwords = auth::passwords::HashPool::start(config.hash_threads, config.hash_queue)
        .map_err(|e| format!("cannot start the password hashing threads: {e}"))?;
    let hub = std::sync::Arc::new(crate::live::Hub::new(
        config.events_buffer,
        config.events_retention_secs,
        std::time::Duration::from_secs(config.events_recheck_secs.max(1)),
    ));
    Ok(AppState {
        hub,
        clinic,
        tokens,
        config,
        dummy_hash,
        passwords,
    })
}
