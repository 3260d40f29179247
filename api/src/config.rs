//! Configuration from environment variables, with defaults that suit a laptop.

use std::{env, net::SocketAddr};

/// Everything the server reads at start.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://path` or `postgres://...`.
    pub database_url: String,
    pub listen: SocketAddr,
    /// Connections per instance (SQLite caps this at 8).
    pub db_pool_size: u32,
    /// HS256 signing secret (at least 32 bytes). `None` only in demo mode.
    pub jwt_secret: Option<String>,
    pub jwt_issuer: String,
    pub jwt_audience: String,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_secs: i64,
    pub invitation_ttl_secs: i64,
    pub login_max_failures: i32,
    pub login_window_secs: i64,
    /// Failed sign-ins from one address (any logins) before it is locked.
    pub address_max_failures: i32,
    /// Proxies whose `X-Forwarded-For` is believed (see `auth::address`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Argon2 threads; 0 means one per available core.
    pub hash_threads: usize,
    /// Requests that may wait for an Argon2 thread before the next is refused (503).
    pub hash_queue: usize,
    /// `pretty` (human) or `json`.
    pub log_format: String,
    pub max_body_bytes: usize,
    /// Keys still accepted for verifying access tokens during a key rotation.
    pub jwt_previous_secrets: Vec<String>,
    /// Seconds a new connection has to send its first request head.
    pub request_head_timeout_secs: u64,
    /// Seconds a request has to send its whole body, counted from its head.
    pub request_body_timeout_secs: u64,
    /// Seconds an idle connection is kept open between requests.
    pub keep_alive_secs: u64,
    /// Largest single request header (name and value), bytes.
    pub max_header_bytes: usize,
    /// Largest request head (request line and all headers), bytes.
    pub max_head_bytes: usize,
    /// Browser origins allowed to call the API (exact `scheme://host[:port]`); empty: no CORS.
    pub cors_origins: Vec<String>,
    /// How long the change log keeps events for streams to resume from, seconds.
    pub events_retention_secs: i64,
    /// Seconds between heartbeat comments on an idle event stream.
    pub events_heartbeat_secs: u64,
    /// Seconds between checks that a stream's sign-in still stands.
    pub events_recheck_secs: u64,
    /// Events a stream may fall behind by before it is dropped (it then resumes).
    pub events_buffer: usize,
    /// Webhook URLs may be plain `http://` (tests only).
    pub webhooks_allow_insecure: bool,
    /// Webhook URLs may point to loopback, private, link-local... addresses (tests only).
    pub webhooks_allow_private: bool,
    /// Gaps before each retry of a failed delivery, seconds.
    pub webhooks_retry: domain::webhook::RetrySchedule,
    /// Whether this instance sends webhooks (its dispatcher runs).
    pub webhooks_deliver: bool,
    /// The server's public base URL (`https://headway.example`), no trailing slash:
    /// the absolute URLs of the SMART configuration, and the `aud` client assertions
    /// must name. Unset: from each request's connection info (as FHIR links are).
    pub public_url: Option<String>,
}

impl std::fmt::Debug for Config {
    // Never print the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("jwt_secret", &self.jwt_secret.as_ref().map(|_| "<set>"))
            .field("jwt_previous_secrets", &self.jwt_previous_secrets.len())
            .finish_non_exhaustive()
    }
}

/// Drops a password from a database URL before it reaches a log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***@{}", &url[..scheme], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// The variables, their defaults and meaning; the README lists the same.
pub const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "DATABASE_URL",
        "sqlite://headway.db",
        "sqlite://<file> or postgres://user:pass@host/db",
    ),
    (
        "HEADWAY_LISTEN",
        "127.0.0.1:8080",
        "address and port to serve on",
    ),
    (
        "HEADWAY_DB_POOL_SIZE",
        "16",
        "database connections per instance (SQLite: at most 32)",
    ),
    (
        "HEADWAY_JWT_SECRET",
        "(none)",
        "HS256 signing secret, at least 32 bytes; required except in demo mode",
    ),
    ("HEADWAY_JWT_ISSUER", "headway", "`iss` of access tokens"),
    (
        "HEADWAY_JWT_AUDIENCE",
        "headway-api",
        "`aud` of access tokens",
    ),
    (
        "HEADWAY_ACCESS_TOKEN_TTL",
        "900",
        "access token lifetime, seconds",
    ),
    (
        "HEADWAY_REFRESH_TOKEN_TTL",
        "2592000",
        "refresh token lifetime, seconds",
    ),
    (
        "HEADWAY_INVITATION_TTL",
        "604800",
        "invitation lifetime, seconds",
    ),
    (
        "HEADWAY_LOGIN_MAX_FAILURES",
        "5",
        "failed sign-ins before a login is locked",
    ),
    (
        "HEADWAY_LOGIN_WINDOW",
        "900",
        "window for counting failures and lock length, seconds",
    ),
    (
        "HEADWAY_ADDRESS_MAX_FAILURES",
        "50",
        "failed sign-ins from one client address (any logins) before it is locked",
    ),
    (
        "HEADWAY_TRUSTED_PROXIES",
        "(none)",
        "comma-separated proxy IPs/CIDRs whose X-Forwarded-For names the client address",
    ),
    (
        "HEADWAY_HASH_THREADS",
        "0",
        "threads for password hashing (Argon2); 0 = one per core",
    ),
    (
        "HEADWAY_HASH_QUEUE",
        "16",
        "sign-ins that may wait for a hashing thread; beyond, 503 with Retry-After",
    ),
    ("HEADWAY_LOG_FORMAT", "pretty", "pretty or json"),
    (
        "HEADWAY_MAX_BODY_BYTES",
        "262144",
        "largest request body accepted",
    ),
    (
        "HEADWAY_JWT_PREVIOUS_SECRETS",
        "(none)",
        "comma-separated old signing secrets still accepted (never signed with) during a key rotation",
    ),
    (
        "HEADWAY_REQUEST_HEAD_TIMEOUT",
        "5",
        "seconds a new connection has to send its request head (then 408, closed)",
    ),
    (
        "HEADWAY_REQUEST_BODY_TIMEOUT",
        "15",
        "seconds a request has to send its whole body (then 408, closed)",
    ),
    (
        "HEADWAY_KEEP_ALIVE",
        "5",
        "seconds an idle connection stays open between requests",
    ),
    (
        "HEADWAY_MAX_HEADER_BYTES",
        "8192",
        "largest single request header, name and value (else 431)",
    ),
    (
        "HEADWAY_MAX_HEAD_BYTES",
        "32768",
        "largest request head, request line and headers (else 431)",
    ),
    (
        "HEADWAY_CORS_ORIGINS",
        "(none)",
        "comma-separated browser origins allowed (exact scheme://host[:port]); none: no CORS",
    ),
    (
        "HEADWAY_EVENTS_RETENTION",
        "604800",
        "seconds the change log keeps events for streams to resume from (else a `reset` event)",
    ),
    (
        "HEADWAY_EVENTS_HEARTBEAT",
        "15",
        "seconds between heartbeat comments on an idle event stream",
    ),
    (
        "HEADWAY_EVENTS_RECHECK",
        "2",
        "seconds between checks that an event stream's sign-in still stands",
    ),
    (
        "HEADWAY_EVENTS_BUFFER",
        "1024",
        "events a stream may fall behind by before it is dropped (the app resumes)",
    ),
    (
        "HEADWAY_WEBHOOKS_RETRY_SECS",
        "5,300,1800,7200,18000,36000",
        "seconds before each retry of a failed webhook delivery (full jitter); then dead",
    ),
    (
        "HEADWAY_WEBHOOKS_DELIVER",
        "true",
        "whether this instance sends webhooks (runs the dispatcher)",
    ),
    (
        "HEADWAY_WEBHOOKS_ALLOW_INSECURE",
        "false",
        "accept plain http:// webhook URLs (tests only)",
    ),
    (
        "HEADWAY_WEBHOOKS_ALLOW_PRIVATE",
        "false",
        "accept webhook URLs on loopback, private, link-local... addresses (tests only)",
    ),
    (
        "HEADWAY_PUBLIC_URL",
        "(none)",
        "public base URL, e.g. `https://headway.example`: SMART's absolute URLs and the `aud` of client assertions; unset: from each request",
    ),
    ("RUST_LOG", "info", "log filter"),
];

fn var(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A comma-separated list; blanks dropped.
fn list(name: &str) -> Vec<String> {
    var(name)
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// An origin as browsers send it: `scheme://host[:port]`, nothing more. A wildcard is
/// refused: the allowlist is explicit.
fn check_origin(origin: &str) -> Result<(), String> {
    let uri: actix_web::http::Uri = origin
        .parse()
        .map_err(|_| format!("`{origin}` is not an origin"))?;
    let exact = match (uri.scheme_str(), uri.authority()) {
        (Some(scheme @ ("http" | "https")), Some(authority)) => {
            format!("{scheme}://{authority}") == origin
        }
        _ => false,
    };
    if exact && !origin.contains(['*', '@']) {
        Ok(())
    } else {
        Err(format!(
            "`{origin}` must be exactly scheme://host[:port] (http or https, no path, no wildcard)"
        ))
    }
}

fn default_of(name: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("", |(_, d, _)| d)
}

fn parsed<T: std::str::FromStr>(name: &str) -> Result<T, String> {
    let raw = var(name).unwrap_or_else(|| default_of(name).to_owned());
    raw.parse()
        .map_err(|_| format!("{name}: cannot parse `{raw}`"))
}

impl Config {
    pub fn from_env() -> Result<Self, String> {
        let config = Config {
            database_url: var("DATABASE_URL")
                .unwrap_or_else(|| default_of("DATABASE_URL").to_owned()),
            listen: parsed("HEADWAY_LISTEN")?,
            db_pool_size: parsed("HEADWAY_DB_POOL_SIZE")?,
            jwt_secret: var("HEADWAY_JWT_SECRET"),
            jwt_issuer: parsed("HEADWAY_JWT_ISSUER")?,
            jwt_audience: parsed("HEADWAY_JWT_AUDIENCE")?,
            access_token_ttl_secs: parsed("HEADWAY_ACCESS_TOKEN_TTL")?,
            refresh_token_ttl_secs: parsed("HEADWAY_REFRESH_TOKEN_TTL")?,
            invitation_ttl_secs: parsed("HEADWAY_INVITATION_TTL")?,
            login_max_failures: parsed("HEADWAY_LOGIN_MAX_FAILURES")?,
            login_window_secs: parsed("HEADWAY_LOGIN_WINDOW")?,
            address_max_failures: parsed("HEADWAY_ADDRESS_MAX_FAILURES")?,
            trusted_proxies: crate::auth::address::parse_trusted(
                &var("HEADWAY_TRUSTED_PROXIES").unwrap_or_default(),
            )?,
            hash_threads: parsed("HEADWAY_HASH_THREADS")?,
            hash_queue: parsed("HEADWAY_HASH_QUEUE")?,
            log_format: parsed("HEADWAY_LOG_FORMAT")?,
            max_body_bytes: parsed("HEADWAY_MAX_BODY_BYTES")?,
            jwt_previous_secrets: list("HEADWAY_JWT_PREVIOUS_SECRETS"),
            request_head_timeout_secs: parsed("HEADWAY_REQUEST_HEAD_TIMEOUT")?,
            request_body_timeout_secs: parsed("HEADWAY_REQUEST_BODY_TIMEOUT")?,
            keep_alive_secs: parsed("HEADWAY_KEEP_ALIVE")?,
            max_header_bytes: parsed("HEADWAY_MAX_HEADER_BYTES")?,
            max_head_bytes: parsed("HEADWAY_MAX_HEAD_BYTES")?,
            cors_origins: list("HEADWAY_CORS_ORIGINS"),
            events_retention_secs: parsed("HEADWAY_EVENTS_RETENTION")?,
            events_heartbeat_secs: parsed("HEADWAY_EVENTS_HEARTBEAT")?,
            events_recheck_secs: parsed("HEADWAY_EVENTS_RECHECK")?,
            events_buffer: parsed("HEADWAY_EVENTS_BUFFER")?,
            webhooks_allow_insecure: parsed("HEADWAY_WEBHOOKS_ALLOW_INSECURE")?,
            webhooks_allow_private: parsed("HEADWAY_WEBHOOKS_ALLOW_PRIVATE")?,
            webhooks_retry: domain::webhook::RetrySchedule::parse(
                &var("HEADWAY_WEBHOOKS_RETRY_SECS")
                    .unwrap_or_else(|| default_of("HEADWAY_WEBHOOKS_RETRY_SECS").to_owned()),
            )
            .map_err(|e| format!("HEADWAY_WEBHOOKS_RETRY_SECS: {e}"))?,
            webhooks_deliver: parsed("HEADWAY_WEBHOOKS_DELIVER")?,
            public_url: var("HEADWAY_PUBLIC_URL")
                .map(|url| public_url(&url))
                .transpose()
                .map_err(|e| format!("HEADWAY_PUBLIC_URL: {e}"))?,
        };
        if config.jwt_previous_secrets.iter().any(|s| s.len() < 32) {
            return Err(
                "HEADWAY_JWT_PREVIOUS_SECRETS: each secret must be at least 32 bytes".into(),
            );
        }
        for origin in &config.cors_origins {
            check_origin(origin).map_err(|e| format!("HEADWAY_CORS_ORIGINS: {e}"))?;
        }
        for (name, secs) in [
            (
                "HEADWAY_REQUEST_HEAD_TIMEOUT",
                config.request_head_timeout_secs,
            ),
            (
                "HEADWAY_REQUEST_BODY_TIMEOUT",
                config.request_body_timeout_secs,
            ),
        ] {
            if secs == 0 {
                return Err(format!("{name} must be at least 1 second"));
            }
        }
        if let Some(secret) = &config.jwt_secret {
            if secret.len() < 32 {
                return Err("HEADWAY_JWT_SECRET must be at least 32 bytes".into());
            }
        }
        if config.login_max_failures < 1 || config.address_max_failures < 1 {
            return Err(
                "HEADWAY_LOGIN_MAX_FAILURES and HEADWAY_ADDRESS_MAX_FAILURES must be at least 1"
                    .into(),
            );
        }
        if !matches!(config.log_format.as_str(), "pretty" | "json") {
            return Err("HEADWAY_LOG_FORMAT must be pretty or json".into());
        }
        Ok(config)
    }

    /// A configuration for tests and embedding: defaults, this database and secret.
    pub fn for_database(database_url: &str, jwt_secret: &str) -> Self {
        Config {
            database_url: database_url.to_owned(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db_pool_size: 8,
            jwt_secret: Some(jwt_secret.to_owned()),
            jwt_issuer: "headway".into(),
            jwt_audience: "headway-api".into(),
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 2_592_000,
            invitation_ttl_secs: 604_800,
            login_max_failures: 5,
            login_window_secs: 900,
            address_max_failures: 50,
            trusted_proxies: Vec::new(),
            hash_threads: 0,
            hash_queue: 16,
            log_format: "pretty".into(),
            max_body_bytes: 262_144,
            jwt_previous_secrets: Vec::new(),
            request_head_timeout_secs: 5,
            request_body_timeout_secs: 15,
            keep_alive_secs: 5,
            max_header_bytes: 8192,
            max_head_bytes: 32_768,
            cors_origins: Vec::new(),
            events_retention_secs: 604_800,
            events_heartbeat_secs: 15,
            events_recheck_secs: 2,
            events_buffer: 1024,
            webhooks_allow_insecure: false,
            webhooks_allow_private: false,
            webhooks_retry: domain::webhook::RetrySchedule::parse(default_of(
                "HEADWAY_WEBHOOKS_RETRY_SECS",
            ))
            .unwrap_or_else(|_| unreachable!("the default schedule parses")),
            webhooks_deliver: true,
            public_url: None,
        }
    }
}

/// A public base URL: http(s), a host, perhaps a path; no query or fragment. Kept
/// without a trailing slash, so paths append to it.
pub fn public_url(url: &str) -> Result<String, String> {
    let url = url.trim().trim_end_matches('/');
    let uri: actix_web::http::Uri = url.parse().map_err(|_| format!("`{url}` is not a URL"))?;
    match (uri.scheme_str(), uri.authority()) {
        (Some("http" | "https"), Some(_)) if uri.query().is_none() && !url.contains(['#', '@']) => {
            Ok(url.to_owned())
        }
        _ => Err(format!(
            "`{url}` must be http(s)://host[:port][/path], without query, fragment or user"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// README's configuration table lists every variable with the default the code
    /// uses, and nothing else: a newcomer configures from it.
    #[test]
    fn the_readme_table_is_the_configuration() {
        let readme = include_str!("../../README.md");
        let section = readme
            .split("\n## ")
            .find(|s| s.starts_with("Configuration"))
            .unwrap_or_default();
        let rows: Vec<(String, String)> = section
            .lines()
            .filter(|l| l.starts_with("| `"))
            .filter_map(|l| {
                let cells: Vec<&str> = l.split('|').map(str::trim).collect();
                Some((
                    cells.get(1)?.trim_matches('`').to_owned(),
                    cells.get(2)?.trim_matches('`').to_owned(),
                ))
            })
            .collect();
        let expected: Vec<(String, String)> = VARIABLES
            .iter()
            .map(|(name, default, _)| {
                let default = if *default == "(none)" { "—" } else { default };
                ((*name).to_owned(), default.to_owned())
            })
            .collect();
        assert_eq!(rows, expected);
    }

    #[test]
    fn passwords_never_reach_logs() {
        assert_eq!(
            redact_url("postgres://headway:s3cret@db:5432/headway"),
            "postgres://***@db:5432/headway"
        );
        assert_eq!(redact_url("sqlite://headway.db"), "sqlite://headway.db");
    }

    #[test]
    fn the_public_url_is_a_base_to_append_paths_to() {
        assert_eq!(
            public_url("https://headway.example/").as_deref(),
            Ok("https://headway.example")
        );
        assert_eq!(
            public_url("http://localhost:8080/clinic").as_deref(),
            Ok("http://localhost:8080/clinic")
        );
        for bad in [
            "headway.example",
            "ftp://x.example",
            "https://x.example/?a=1",
            "https://u@x.example",
        ] {
            assert!(public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cors_origins_are_exact() {
        assert!(check_origin("https://app.example").is_ok());
        assert!(check_origin("http://localhost:3000").is_ok());
        for bad in [
            "*",
            "https://app.example/",
            "https://app.example/path",
            "app.example",
            "ftp://app.example",
            "https://*.example",
            "https://user@app.example",
        ] {
            assert!(check_origin(bad).is_err(), "{bad}");
        }
    }
}
