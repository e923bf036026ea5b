//! `AppState`: everything a handler, service or worker may use, cheap to clone.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tongdai_connectors::Registry;
use uuid::Uuid;

use crate::config::Config;
use crate::crypto::SecretBox;
use crate::metrics::Metrics;
use crate::realtime::Bus;
use crate::services::ingest::IngestWriter;
use crate::store::Db;

/// Rate limiters (governor, keyed).
pub struct Limiters {
    /// Login attempts per account (lowercased email).
    pub login_account: DefaultKeyedRateLimiter<String>,
    /// Login attempts per client IP.
    pub login_ip: DefaultKeyedRateLimiter<std::net::IpAddr>,
    /// Outbound sends per channel account.
    pub send: DefaultKeyedRateLimiter<Uuid>,
    /// Audio and video sends per channel account (Messenger allows 10/s per Page for those).
    pub send_heavy: DefaultKeyedRateLimiter<Uuid>,
    /// Website chat messages per visitor (channel id, visitor id).
    pub widget_visitor: DefaultKeyedRateLimiter<(Uuid, String)>,
    /// Website chat requests per client IP.
    pub widget_ip: DefaultKeyedRateLimiter<std::net::IpAddr>,
    /// Accounts the platform told us to leave alone until an instant (usage headers, throttling).
    holds: std::sync::Mutex<std::collections::HashMap<Uuid, std::time::Instant>>,
}

impl Limiters {
    /// From config.
    pub fn new(cfg: &Config) -> Self {
        let per_min =
            |n: u32| Quota::per_minute(NonZeroU32::new(n.max(1)).expect("max(1) is non-zero"));
        Limiters {
            login_account: RateLimiter::keyed(per_min(cfg.login_per_minute_account)),
            login_ip: RateLimiter::keyed(per_min(cfg.login_per_minute_ip)),
            send: RateLimiter::keyed(Quota::per_second(
                NonZeroU32::new(cfg.send_rate_per_second.max(1)).expect("max(1) is non-zero"),
            )),
            send_heavy: RateLimiter::keyed(Quota::per_second(
                NonZeroU32::new(cfg.send_rate_per_second.clamp(1, 5)).expect("clamped ≥ 1"),
            )),
            widget_visitor: RateLimiter::keyed(per_min(cfg.widget.messages_per_minute)),
            widget_ip: RateLimiter::keyed(per_min(cfg.widget.requests_per_minute_ip)),
            holds: std::sync::Mutex::new(std::collections::HashMap::new()),
        }
    }

    /// Leave `account` alone for `d` (the longest hold wins).
    pub fn hold(&self, account: Uuid, d: std::time::Duration) {
        let until = std::time::Instant::now() + d;
        let mut holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        let now = std::time::Instant::now();
        holds.retain(|_, t| *t > now);
        let e = holds.entry(account).or_insert(until);
        if *e < until {
            *e = until;
        }
    }

    /// How long `account` is still held, if it is.
    pub fn held(&self, account: Uuid) -> Option<std::time::Duration> {
        let holds = self.holds.lock().unwrap_or_else(|p| p.into_inner());
        holds
            .get(&account)
            .map(|t| t.saturating_duration_since(std::time::Instant::now()))
            .filter(|d| !d.is_zero())
    }
}

/// Liveness of the background workers, for `/readyz`.
#[derive(Default)]
pub struct Heartbeats {
    /// Unix seconds of the ingest worker's last loop.
    pub ingest: AtomicI64,
    /// Unix seconds of the job worker's last loop.
    pub jobs: AtomicI64,
}

impl Heartbeats {
    /// Record a beat now.
    pub fn beat(cell: &AtomicI64) {
        cell.store(chrono::Utc::now().timestamp(), Ordering::Relaxed);
    }
}

/// Shared state: a reference-counted handle (cloned for every request by axum's `State`, so
/// one atomic increment instead of one per field), reading through to [`Shared`].
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Wrap the node's shared state.
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What every request handler and worker of a node shares.
pub struct Shared {
    /// Configuration.
    pub cfg: Arc<Config>,
    /// Database.
    pub db: Db,
    /// Realtime bus.
    pub bus: Bus,
    /// Built-in connectors.
    pub connectors: Arc<Registry>,
    /// Shared outbound HTTP client.
    pub http: reqwest::Client,
    /// Encryption of secrets at rest.
    pub secrets: SecretBox,
    /// Group-commit writer of inbound webhooks.
    pub ingest: IngestWriter,
    /// Wakes the ingest worker after a commit.
    pub ingest_notify: Arc<Notify>,
    /// Wakes the job worker after an enqueue.
    pub jobs_notify: Arc<Notify>,
    /// Rate limiters.
    pub limits: Arc<Limiters>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Worker heartbeats.
    pub heartbeats: Arc<Heartbeats>,
    /// One-time first-run setup token, while no user exists.
    pub setup_token: Arc<std::sync::Mutex<Option<String>>>,
    /// Identifies this node in job locks.
    pub node_id: Arc<str>,
    /// Cancelled when the workers must stop (after the HTTP server drained).
    pub stop: CancellationToken,
}

impl AppState {
    /// The API base URL configured for a platform.
    pub fn api_base(&self, platform: tongdai_connectors::Platform) -> &str {
        match platform {
            tongdai_connectors::Platform::Facebook | tongdai_connectors::Platform::Instagram => {
                &self.cfg.facebook.graph_url
            }
            tongdai_connectors::Platform::Zalo => &self.cfg.zalo.openapi_url,
            tongdai_connectors::Platform::Youtube => &self.cfg.youtube.api_url,
            _ => "",
        }
    }

    /// The OAuth base URL configured for a platform connected by [`tongdai_connectors::OAuth`].
    pub fn oauth_base(&self, platform: tongdai_connectors::Platform) -> &str {
        match platform {
            tongdai_connectors::Platform::Zalo => &self.cfg.zalo.oauth_url,
            tongdai_connectors::Platform::Youtube => &self.cfg.youtube.oauth_url,
            _ => "",
        }
    }
}
