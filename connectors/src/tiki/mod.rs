//! The Tiki Open API connector (`shared/specs/commerce.md` §3): OAuth 2 (authorization code
//! with refresh for sellers, client credentials for the app itself), orders
//! (`/integration/v2/orders…`) and the pull-based event queue (`/integration/v1/queues…`)
//! that replaces webhooks. A loopback fake of Tiki lives in `sandbox` (feature `sandbox`).
//!
//! Not registered in [`crate::Registry::builtin`] yet: the hub side (queue setup, poller
//! scheduling, order upsert) comes with it.
//!
//! Base URLs: the hub passes them in [`crate::HttpCtx::base_url`]. API calls go to
//! `{api}/integration/…` with `api` = [`DEFAULT_API_URL`]; the OAuth base is
//! [`DEFAULT_OAUTH_URL`], from which the consent page (`{base}/oauth2/auth`, UNVERIFIED) and the
//! token endpoint (`{base}/oauth2/token`) derive.
//!
//! ## The event queue and at-least-once delivery
//! Tiki delivers events "at least once and in order" from a queue the app owns. The
//! [`crate::Poller`] impl pulls ONE batch per call. Its state is `{queue_code, ack_id}`, where
//! `ack_id` is the id of the batch returned by the previous call. That id is sent (which
//! acknowledges the batch) only on the NEXT call, i.e. after the hub has committed the previous
//! batch's events and stored the returned state. If the hub crashes before that, the stored
//! state still holds the older ack id, so Tiki redelivers the same batch: no event is lost, and
//! the hub dedupes the repeats by order code and status. Start the state with
//! [`Tiki::poll_state`] once the queue exists ([`Tiki::create_queue`], then
//! [`Tiki::subscribe_orders`] for each seller).

pub mod api;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod wire;

use crate::commerce::Orders;
use crate::traits::{Connector, OAuth, Poller};
use crate::types::Platform;

/// The API base (calls go to `{base}/integration/…`).
pub const DEFAULT_API_URL: &str = "https://api.tiki.vn";
/// The OAuth base: consent page at `/oauth2/auth` (UNVERIFIED), tokens at `/oauth2/token`.
pub const DEFAULT_OAUTH_URL: &str = "https://api.tiki.vn/sc";
/// The scopes asked of a seller: `offline` (a refresh token) and `order`.
pub const SCOPES: &str = "offline order";
/// Largest `limit` of `GET /integration/v2/orders` used (the doc says 100, integrators 50).
pub const ORDERS_PAGE_LIMIT: u32 = 50;

/// App-level Tiki settings (from the Tiki Open Platform console).
#[derive(Debug, Clone, Default)]
pub struct TikiConfig {
    /// The app's `client_id`.
    pub client_id: Option<String>,
    /// The app's `client_secret`.
    pub client_secret: Option<String>,
}

impl TikiConfig {
    /// Whether tokens can be asked for: id and secret both set.
    pub fn is_configured(&self) -> bool {
        self.client_id().is_some() && self.client_secret().is_some()
    }
    pub(crate) fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref().filter(|s| !s.is_empty())
    }
    pub(crate) fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref().filter(|s| !s.is_empty())
    }
}

/// The Tiki connector.
pub struct Tiki {
    cfg: TikiConfig,
    page_limit: u32,
}

impl Tiki {
    /// From app-level settings.
    pub fn new(cfg: TikiConfig) -> Self {
        Tiki {
            cfg,
            page_limit: ORDERS_PAGE_LIMIT,
        }
    }

    /// The same connector listing orders with another page `limit` (1 to 50; tests).
    pub fn with_page_limit(mut self, limit: u32) -> Self {
        self.page_limit = limit.clamp(1, ORDERS_PAGE_LIMIT);
        self
    }
}

impl Connector for Tiki {
    fn platform(&self) -> Platform {
        Platform::Tiki
    }
    fn oauth(&self) -> Option<&dyn OAuth> {
        Some(self)
    }
    fn orders(&self) -> Option<&dyn Orders> {
        Some(self)
    }
    fn poller(&self) -> Option<&dyn Poller> {
        Some(self)
    }
}
