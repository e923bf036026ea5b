//! The Lazada Open Platform connector (`shared/specs/commerce.md` §2): API signing
//! ([`sign`]), Lazada Push Mechanism deliveries on `POST /webhooks/lazada` ([`wire`]), and the
//! API client ([`api`]): seller OAuth, orders and the IM chat. A loopback fake of Lazada lives
//! in `sandbox` (feature `sandbox`).
//!
//! Not registered in [`crate::Registry::builtin`] yet: the hub side (fetch jobs, order upsert,
//! reconciliation) comes with it.
//!
//! Base URLs: the hub passes them in [`crate::HttpCtx::base_url`]. API calls go to the
//! seller's regional gateway ([`DEFAULT_API_URL`] for Vietnam, see [`gateway_for_site`]); the
//! OAuth base is [`DEFAULT_OAUTH_URL`] (`https://auth.lazada.com`), from which both the consent
//! page (`{base}/oauth/authorize`) and the token service (`{base}/rest/auth/token/…`) derive.

pub mod api;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod sign;
pub mod wire;

use crate::commerce::Orders;
use crate::error::{ParseError, VerifyError};
use crate::traits::{Connector, Messaging, OAuth, WebhookInbound};
use crate::types::{HandshakeReply, InboundRequest, NormalizedEvent, Platform};

/// Vietnam's API gateway (the default).
pub const DEFAULT_API_URL: &str = "https://api.lazada.vn/rest";
/// The OAuth base: consent page at `/oauth/authorize`, tokens at `/rest/auth/token/*`, for
/// every country.
pub const DEFAULT_OAUTH_URL: &str = "https://auth.lazada.com";
/// Largest `limit` of `/orders/get`.
pub const ORDERS_PAGE_LIMIT: u32 = 100;
/// Largest `offset` of `/orders/get`; beyond it the window start moves forward.
pub const ORDERS_MAX_OFFSET: u32 = 5_000;

/// The API gateway of a push's or token's site/country (`lazada_vn`, `vn`, `LAZADA-SG` …);
/// `None` for an unknown one.
pub fn gateway_for_site(site: &str) -> Option<&'static str> {
    let site = wire::normalize_site(site);
    let country = site.strip_prefix("lazada_").unwrap_or(&site);
    Some(match country {
        "vn" => "https://api.lazada.vn/rest",
        "sg" => "https://api.lazada.sg/rest",
        "my" => "https://api.lazada.com.my/rest",
        "th" => "https://api.lazada.co.th/rest",
        "ph" => "https://api.lazada.com.ph/rest",
        "id" => "https://api.lazada.co.id/rest",
        _ => return None,
    })
}

/// App-level Lazada settings (the app's key and secret from the Lazada Open Platform console).
#[derive(Debug, Clone, Default)]
pub struct LazadaConfig {
    /// App key: `client_id` of the consent page, `app_key` of every call, and the first part
    /// of the push signature base.
    pub app_key: Option<String>,
    /// App secret: signs calls and pushes.
    pub app_secret: Option<String>,
}

impl LazadaConfig {
    /// Whether calls and pushes can be signed: key and secret both set.
    pub fn is_configured(&self) -> bool {
        self.app_key().is_some() && self.app_secret().is_some()
    }
    pub(crate) fn app_key(&self) -> Option<&str> {
        self.app_key.as_deref().filter(|s| !s.is_empty())
    }
    pub(crate) fn app_secret(&self) -> Option<&str> {
        self.app_secret.as_deref().filter(|s| !s.is_empty())
    }
}

/// The Lazada connector.
pub struct Lazada {
    cfg: LazadaConfig,
    page_limit: u32,
    max_offset: u32,
}

impl Lazada {
    /// From app-level settings.
    pub fn new(cfg: LazadaConfig) -> Self {
        Lazada {
            cfg,
            page_limit: ORDERS_PAGE_LIMIT,
            max_offset: ORDERS_MAX_OFFSET,
        }
    }

    /// The same connector paging `/orders/get` with another `limit` and offset cap (tests
    /// against a sandbox with small caps). Both at least 1.
    pub fn with_order_paging(mut self, limit: u32, max_offset: u32) -> Self {
        self.page_limit = limit.max(1);
        self.max_offset = max_offset.max(1);
        self
    }
}

impl Connector for Lazada {
    fn platform(&self) -> Platform {
        Platform::Lazada
    }
    fn webhook(&self) -> Option<&dyn WebhookInbound> {
        Some(self)
    }
    fn messaging(&self) -> Option<&dyn Messaging> {
        Some(self)
    }
    fn oauth(&self) -> Option<&dyn OAuth> {
        Some(self)
    }
    fn orders(&self) -> Option<&dyn Orders> {
        Some(self)
    }
}

impl WebhookInbound for Lazada {
    /// Lazada verifies the URL in its console by the app's own checks; there is no handshake.
    fn handshake(&self, _req: &InboundRequest<'_>) -> Option<Result<HandshakeReply, VerifyError>> {
        None
    }

    /// `Authorization` = hex HMAC-SHA256(app_secret, app_key ‖ raw body).
    fn verify(&self, req: &InboundRequest<'_>) -> Result<(), VerifyError> {
        let (Some(key), Some(secret)) = (self.cfg.app_key(), self.cfg.app_secret()) else {
            return Err(VerifyError::NotConfigured("lazada"));
        };
        let header = req
            .headers
            .get(sign::PUSH_SIGNATURE_HEADER)
            .map(|v| v.as_bytes());
        sign::verify_push(key, secret, req.body, header)
    }

    /// Type 0: `lazada:order:<seller>:<trade_order_id>:<order_status>:<status_update_time ms>`
    /// (§2.8), so the "at least one" redeliveries of one change are stored once; other types
    /// use the body hash.
    fn event_key(&self, req: &InboundRequest<'_>) -> Option<String> {
        let env = wire::envelope(req.body).ok()?;
        let k = wire::order_change_key(&env)?;
        Some(format!(
            "lazada:order:{}:{}:{}:{}",
            k.seller_id,
            k.trade_order_id,
            k.order_status,
            k.status_update_ms
                .map(|t| t.to_string())
                .unwrap_or_default()
        ))
    }

    /// Lazada wants a quick 200; an empty body is the safe answer (§2.5.3).
    fn empty_ack(&self) -> bool {
        true
    }

    fn account_hints(&self, body: &[u8]) -> Vec<String> {
        wire::envelope(body)
            .ok()
            .and_then(|e| e.seller())
            .into_iter()
            .collect()
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
        wire::parse_body(body)
    }
}

#[cfg(test)]
mod tests;
