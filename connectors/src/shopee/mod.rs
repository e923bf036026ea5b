//! The Shopee Open Platform v2 connector (`shared/specs/commerce.md` §1): Live Push webhooks
//! (`Authorization` = HMAC of callback URL and body), the signed API client ([`api`]: OAuth
//! with single-use refresh tokens, orders, lost pushes, seller chat), and a loopback
//! [`sandbox`] fake of the platform. Signatures live in [`sign`], wire formats in [`wire`].
//!
//! Not registered in [`crate::Registry::builtin`] yet: the hub does not fetch orders or chats
//! from its events so far. [`Shopee::new`] and [`ShopeeConfig`] are ready for it.

pub mod api;
pub mod order;
pub mod sign;
pub mod wire;

#[cfg(feature = "sandbox")]
pub mod sandbox;

use http::Method;

use crate::commerce::Orders;
use crate::error::{ParseError, VerifyError};
use crate::traits::{Connector, Messaging, OAuth, WebhookInbound};
use crate::types::{HandshakeReply, InboundRequest, NormalizedEvent, Platform};

/// Production API host (Singapore); also the host of the authorization page.
pub const DEFAULT_API_URL: &str = "https://partner.shopeemobile.com";

/// App-level Shopee settings (`TONGDAI_SHOPEE_*`). Per-shop tokens live in the hub's database.
#[derive(Clone)]
pub struct ShopeeConfig {
    /// The app's `partner_id`.
    pub partner_id: Option<u64>,
    /// The app's partner key: signs every call and every push (used as UTF-8 text).
    pub partner_key: Option<String>,
    /// The push callback URL exactly as saved in the Shopee console (scheme, host, path and
    /// any query string): pushes are signed over this string, never over what a proxy
    /// forwards.
    pub callback_url: Option<String>,
    /// API and authorization host without a trailing slash (`TONGDAI_SHOPEE_API_URL`).
    pub api_url: String,
}

impl Default for ShopeeConfig {
    fn default() -> Self {
        ShopeeConfig {
            partner_id: None,
            partner_key: None,
            callback_url: None,
            api_url: DEFAULT_API_URL.to_owned(),
        }
    }
}

impl std::fmt::Debug for ShopeeConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopeeConfig")
            .field("partner_id", &self.partner_id)
            .field(
                "partner_key",
                &self.partner_key.as_ref().map(|_| "<redacted>"),
            )
            .field("callback_url", &self.callback_url)
            .field("api_url", &self.api_url)
            .finish()
    }
}

impl ShopeeConfig {
    /// Whether pushes can be verified: partner key and callback URL both set.
    pub fn webhooks_configured(&self) -> bool {
        self.key().is_some() && self.callback().is_some()
    }
    /// Whether API calls can be signed: partner id and partner key both set.
    pub fn api_configured(&self) -> bool {
        self.partner_id.is_some() && self.key().is_some()
    }
    fn key(&self) -> Option<&str> {
        self.partner_key.as_deref().filter(|s| !s.is_empty())
    }
    fn callback(&self) -> Option<&str> {
        self.callback_url.as_deref().filter(|s| !s.is_empty())
    }
}

/// The Shopee connector.
pub struct Shopee {
    cfg: ShopeeConfig,
}

impl Shopee {
    /// From app-level settings.
    pub fn new(cfg: ShopeeConfig) -> Self {
        Shopee { cfg }
    }

    /// The settings it was built with.
    pub fn config(&self) -> &ShopeeConfig {
        &self.cfg
    }
}

/// Whether `body` is the URL-verification probe's: empty, or an empty JSON object. The shape
/// of Shopee's verification POST is not documented (UNVERIFIED): it is treated like Zalo's.
fn is_probe_body(body: &[u8]) -> bool {
    let trimmed = body.trim_ascii();
    trimmed.is_empty()
        || matches!(
            serde_json::from_slice::<serde_json::Value>(trimmed),
            Ok(serde_json::Value::Object(o)) if o.is_empty()
        )
}

impl Connector for Shopee {
    fn platform(&self) -> Platform {
        Platform::Shopee
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

impl WebhookInbound for Shopee {
    /// Saving the callback URL makes Shopee POST to it and expect a 2xx. The body of that
    /// request is undocumented: an unsigned, empty (or `{}`) POST is answered `200` with an
    /// empty body and nothing is stored. A request with an `Authorization` header is never a
    /// probe: it goes through [`WebhookInbound::verify`].
    fn handshake(&self, req: &InboundRequest<'_>) -> Option<Result<HandshakeReply, VerifyError>> {
        if req.method != Method::POST
            || req.headers.contains_key(sign::PUSH_SIGNATURE_HEADER)
            || !is_probe_body(req.body)
        {
            return None;
        }
        Some(Ok(HandshakeReply {
            status: 200,
            content_type: "text/plain",
            body: String::new(),
        }))
    }

    fn verify(&self, req: &InboundRequest<'_>) -> Result<(), VerifyError> {
        let (Some(key), Some(url)) = (self.cfg.key(), self.cfg.callback()) else {
            return Err(VerifyError::NotConfigured("shopee"));
        };
        let header = req
            .headers
            .get(sign::PUSH_SIGNATURE_HEADER)
            .map(|v| v.as_bytes());
        sign::verify_push(key, url, req.body, header)
    }

    /// `shopee:msg:<msg_id>` when the push carries a non-empty `msg_id`; for an order status
    /// push without one, `shopee:3:<shop_id>:<ordersn>:<status>:<update_time>` (§1.10);
    /// otherwise `None` (the hub hashes the body: Shopee resends identical bytes).
    fn event_key(&self, req: &InboundRequest<'_>) -> Option<String> {
        let env = wire::envelope(req.body).ok()?;
        if let Some(id) = &env.msg_id {
            return Some(format!("shopee:msg:{id}"));
        }
        if env.code != wire::CODE_ORDER_STATUS {
            return None;
        }
        let shop = env.shop_id.as_deref()?;
        let order = wire::text(env.data.get("ordersn"))?;
        let status = wire::text(env.data.get("status")).unwrap_or_default();
        let at = wire::int(env.data.get("update_time")).unwrap_or_default();
        Some(format!("shopee:3:{shop}:{order}:{status}:{at}"))
    }

    fn empty_ack(&self) -> bool {
        true
    }

    fn account_hints(&self, body: &[u8]) -> Vec<String> {
        wire::envelope(body)
            .ok()
            .and_then(|e| wire::shop_of(&e))
            .into_iter()
            .collect()
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
        wire::parse_body(body)
    }
}

#[cfg(test)]
mod tests;
