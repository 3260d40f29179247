//! Sending webhooks. One dispatcher per instance (started with the server): woken by
//! commits and once a second, it turns new changes into deliveries (the outbox step,
//! `Clinic::enqueue_webhook_deliveries`), claims due deliveries under a lease and
//! sends each on a task of its own, within a limit overall and per endpoint, so a
//! slow receiver holds up neither other receivers nor the API.
//!
//! Every request is signed the Standard Webhooks way and goes only to addresses the
//! domain rules allow, checked when the host is resolved for that very connection (no
//! DNS rebinding), with redirects never followed.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use base64::{engine::general_purpose::STANDARD, Engine};
use domain::webhook::{refused_address, RetrySchedule, UrlRules, WebhookUrl, SECRET_PREFIX};
use hmac::{Hmac, Mac};
use persistence::{
    ops::webhooks::{Attempt, Delivery, Outgoing},
    Clinic,
};
use rand::RngCore;
use serde::Serialize;
use sha2::Sha256;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::{config::Config, live::EventView};

/// Deliveries in flight at once, per instance.
const IN_FLIGHT: usize = 16;
/// Deliveries in flight at once to one endpoint, per instance.
const PER_ENDPOINT: usize = 2;
/// How long a receiver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a receiver's answer is kept.
const KEPT_BODY: usize = 2048;
/// Changes turned into deliveries per step.
const PAGE: i64 = 500;

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

/// The `webhook-signature` header: `v1,<base64 HMAC-SHA256 of "{id}.{ts}.{body}">`
/// per secret (keyed by the bytes after `whsec_`), space-separated.
pub fn signature(secrets: &[String], id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut signatures = Vec::new();
    for secret in secrets {
        let key = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
        let Ok(key) = STANDARD.decode(key) else {
            continue;
        };
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key) else {
            continue;
        };
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        signatures.push(format!(
            "v1,{}",
            STANDARD.encode(mac.finalize().into_bytes())
        ));
    }
    signatures.join(" ")
}

pub fn rules(config: &Config) -> UrlRules {
    UrlRules {
        allow_insecure: config.webhooks_allow_insecure,
        allow_private: config.webhooks_allow_private,
    }
}

/// Checks a URL an admin registers: the domain rules, then (for a host name) what it
/// resolves to now. A name that does not resolve yet is accepted: it is checked again,
/// address by address, every time it is delivered to.
pub async fn check_url(raw: &str, rules: UrlRules) -> Result<WebhookUrl, domain::Invalid> {
    let url = WebhookUrl::parse(raw, rules)?;
    if let (Some(host), false) = (url.domain(), rules.allow_private) {
        let found = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::lookup_host((host.to_owned(), url.port())),
        )
        .await;
        if let Ok(Ok(addresses)) = found {
            for address in addresses {
                if let Some(why) = refused_address(address.ip()) {
                    let message = format!("must not resolve to {why}");
                    return Err(domain::Invalid::field("url", message));
                }
            }
        }
    }
    Ok(url)
}

/// Resolves a receiver's host and refuses it when any address it names is refused:
/// the connection is made to exactly the addresses checked here.
struct GuardedResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private {
                if let Some(why) = found.iter().find_map(|a| refused_address(a.ip())) {
                    let refusal = format!("{host} resolves to {why}: refused");
                    return Err(refusal.into());
                }
            }
            let addresses: reqwest::dns::Addrs = Box::new(found.into_iter());
            Ok(addresses)
        })
    }
}

/// The body sent: the event as live streams show it, nothing more (no PHI).
#[derive(Serialize)]
struct Payload {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: chrono::DateTime<chrono::Utc>,
    data: EventView,
}

fn payload(delivery: &Delivery) -> Vec<u8> {
    let body = Payload {
        kind: delivery.event_type.as_str(),
        timestamp: delivery.occurred_at,
        data: EventView {
            id: delivery.change_seq.to_string(),
            kind: delivery.event_type.as_str(),
            client_id: delivery.client_id,
            resource_type: delivery.resource_type.clone(),
            resource_id: delivery.resource_id.clone(),
            occurred_at: delivery.occurred_at,
            // Thin events: ids only, never health values (the receiver reads them
            // through the API, audited, with its own service account).
            milestone: None,
            progress: None,
        },
    };
    serde_json::to_vec(&body).unwrap_or_default()
}

/// The least time between two passes of the dispatcher.
const PASS_GAP: Duration = Duration::from_millis(250);

struct Dispatcher {
    clinic: Clinic,
    http: reqwest::Client,
    rules: UrlRules,
    schedule: RetrySchedule,
    owner: String,
    slots: Arc<Semaphore>,
    busy: Arc<Mutex<HashMap<Uuid, usize>>>,
}

/// Starts this instance's dispatcher (on the server's runtime; it ends with it).
pub fn start(clinic: Clinic, config: &Config) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(TIMEOUT)
        .dns_resolver(Arc::new(GuardedResolver {
            allow_private: config.webhooks_allow_private,
        }))
        .user_agent("Headway-Webhooks/1")
        .build();
    let http = match http {
        Ok(http) => http,
        Err(e) => {
            tracing::error!(error = %e, "webhooks: cannot build the HTTP client; not delivering");
            return;
        }
    };
    let dispatcher = Arc::new(Dispatcher {
        clinic,
        http,
        rules: rules(config),
        schedule: config.webhooks_retry.clone(),
        owner: format!("instance-{}", Uuid::now_v7()),
        slots: Arc::new(Semaphore::new(IN_FLIGHT)),
        busy: Arc::default(),
    });
    actix_web::rt::spawn(dispatcher.run());
}

async fn blocking<T: Send + 'static>(
    clinic: &Clinic,
    f: impl FnOnce(&Clinic) -> persistence::StoreResult<T> + Send + 'static,
) -> Option<T> {
    let clinic = clinic.clone();
    match actix_web::web::block(move || f(&clinic)).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(e)) => {
            tracing::debug!(error = %e, "webhooks: a step failed; it runs again");
            None
        }
        Err(_) => None,
    }
}

impl Dispatcher {
    async fn run(self: Arc<Self>) {
        let mut commits = self.clinic.commits();
        loop {
            let _ = tokio::time::timeout(Duration::from_secs(1), commits.changed()).await;
            // The outbox: every new change becomes its deliveries, page by page.
            while blocking(&self.clinic, |c| c.enqueue_webhook_deliveries(PAGE)).await
                == Some(PAGE as usize)
            {}
            self.send_due().await;
            // At most a few passes a second: a burst of commits makes one pass, not one
            // each (a pass is two reads even when there is nothing to send).
            tokio::time::sleep(PASS_GAP).await;
        }
    }

    async fn send_due(self: &Arc<Self>) {
        let free = self.slots.available_permits();
        if free == 0 {
            return;
        }
        let busy = self.busy.clone();
        let full = move |endpoint: Uuid| {
            let busy = busy.lock().unwrap_or_else(|e| e.into_inner());
            busy.get(&endpoint).copied().unwrap_or(0) >= PER_ENDPOINT
        };
        let owner = self.owner.clone();
        let lease = chrono::Duration::seconds(TIMEOUT.as_secs() as i64 * 3);
        let claimed = blocking(&self.clinic, move |c| {
            c.claim_webhook_deliveries(owner, free, lease, full)
        })
        .await
        .unwrap_or_default();
        for outgoing in claimed {
            let Ok(permit) = self.slots.clone().acquire_owned().await else {
                return;
            };
            let endpoint = outgoing.delivery.endpoint_id;
            *self.lock_busy().entry(endpoint).or_default() += 1;
            let me = self.clone();
            actix_web::rt::spawn(async move {
                me.deliver(outgoing).await;
                let mut busy = me.lock_busy();
                if let Some(n) = busy.get_mut(&endpoint) {
                    *n = n.saturating_sub(1);
                }
                drop(permit);
            });
        }
    }

    fn lock_busy(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, usize>> {
        self.busy.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn deliver(&self, outgoing: Outgoing) {
        let attempt = self.attempt(&outgoing).await;
        if !attempt.succeeded() {
            tracing::info!(delivery = %outgoing.delivery.id, status = ?attempt.status, error = ?attempt.error, "webhook delivery failed");
        }
        let (owner, schedule) = (self.owner.clone(), self.schedule.clone());
        let draw: f64 = rand::random();
        let delivery = outgoing.delivery;
        let _ = blocking(&self.clinic, move |c| {
            c.finish_webhook_attempt(owner, &delivery, attempt, &schedule, draw)
        })
        .await;
    }

    async fn attempt(&self, outgoing: &Outgoing) -> Attempt {
        // The stored URL is checked again under today's rules (an address literal is
        // never resolved, so the resolver's check does not see it).
        let url = match WebhookUrl::parse(&outgoing.url, self.rules) {
            Ok(url) => url,
            Err(e) => return failed(format!("refused: {e}")),
        };
        let body = payload(&outgoing.delivery);
        let id = outgoing.delivery.id.to_string();
        let timestamp = chrono::Utc::now().timestamp();
        let signed = signature(&outgoing.secrets, &id, timestamp, &body);
        let sent = self
            .http
            .post(url.as_str())
            .header("content-type", "application/json")
            .header("webhook-id", &id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signed)
            .body(body)
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(e) => return failed(error_text(&e)),
        };
        let status = response.status().as_u16();
        let mut kept = Vec::new();
        while kept.len() < KEPT_BODY {
            match response.chunk().await {
                Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
                _ => break,
            }
        }
        kept.truncate(KEPT_BODY);
        Attempt {
            status: Some(status),
            body: Some(String::from_utf8_lossy(&kept).into_owned()),
            error: None,
        }
    }
}

fn failed(error: String) -> Attempt {
    Attempt {
        status: None,
        body: None,
        error: Some(error),
    }
}

/// An error and its causes, in one line (a refused address says so).
fn error_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text.chars().take(500).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries:
    /// secret `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, id `msg_p5jXN8AQM9LWM0D4loKWxJek`,
    /// timestamp 1614265330, body `{"test": 2432232314}` sign to
    /// `v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=`.
    #[test]
    fn signatures_match_the_specification_example() {
        let secret = vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()];
        let signed = signature(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(signed, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn a_new_secret_is_32_random_bytes_after_the_prefix() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        let bytes = a
            .strip_prefix(SECRET_PREFIX)
            .and_then(|s| STANDARD.decode(s).ok());
        assert_eq!(bytes.map(|b| b.len()), Some(32));
    }
}
