//! The Zalo Official Account connector: inbound OA webhooks (`X-ZEvent-Signature`) and the
//! URL-registration probe (§4.1–4.2, wire types in [`wire`]); connecting an OA by OAuth v4
//! with PKCE, consultation replies, uploads and profile lookups (§4.3–4.4, in [`api`]); the
//! 48-hour / 8 free replies rule checked before sending ([`window`]). Contract:
//! `shared/specs/social.md` §4.

pub mod api;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod window;
pub mod wire;

use chrono::Utc;
use http::Method;
use sha2::{Digest, Sha256};

use crate::error::{ParseError, VerifyError};
use crate::traits::{Connector, Lookup, Messaging, OAuth, WebhookInbound};
use crate::types::{HandshakeReply, InboundRequest, NormalizedEvent, Platform};
use crate::verify::constant_time_eq;

/// Header carrying `mac=<hex sha256(app_id + body + timestamp + oa_secret_key)>`.
pub const SIGNATURE_HEADER: &str = "X-ZEvent-Signature";
/// Header some senders put the signed timestamp in (tried when the body's does not match).
pub const TIMESTAMP_HEADER: &str = "X-ZEvent-Timestamp";
/// Default replay window: an event whose signed timestamp is further than this from now is
/// refused. A day, not the 300 s of §4.1's WordPress plugin: Zalo resends an unacknowledged
/// event for up to 12 hours, and refusing those resends after an outage would lose customers'
/// messages; an old request replayed inside the window is stored once anyway (event key).
pub const DEFAULT_REPLAY_WINDOW_SECONDS: u32 = 86_400;
/// Default OAuth v4 base URL.
pub const DEFAULT_OAUTH_URL: &str = "https://oauth.zaloapp.com/v4";
/// Default OpenAPI base URL.
pub const DEFAULT_OPENAPI_URL: &str = "https://openapi.zalo.me";

/// App-level Zalo settings (`TONGDAI_ZALO_*`).
#[derive(Debug, Clone)]
pub struct ZaloConfig {
    /// The Zalo app id: part of the signature and checked against the body's `app_id`.
    pub app_id: Option<String>,
    /// The app secret: the `secret_key` header of OAuth token requests. Not used by webhooks.
    pub app_secret: Option<String>,
    /// The OA secret key: the secret part of `X-ZEvent-Signature`.
    pub oa_secret_key: Option<String>,
    /// Largest accepted distance between the signed timestamp and now, in seconds (0 = off).
    pub replay_window_seconds: u32,
}

impl Default for ZaloConfig {
    fn default() -> Self {
        ZaloConfig {
            app_id: None,
            app_secret: None,
            oa_secret_key: None,
            replay_window_seconds: DEFAULT_REPLAY_WINDOW_SECONDS,
        }
    }
}

impl ZaloConfig {
    /// Whether webhooks can be verified: app id and OA secret key both set.
    pub fn is_configured(&self) -> bool {
        self.app_id().is_some() && self.oa_secret().is_some()
    }
    /// Whether OAs can be connected by OAuth: app id and app secret both set.
    pub fn oauth_configured(&self) -> bool {
        self.app_id().is_some() && self.app_secret().is_some()
    }
    /// Whether any capability is configured (the connector is registered then).
    pub fn any_configured(&self) -> bool {
        self.is_configured() || self.oauth_configured()
    }
    fn app_secret(&self) -> Option<&str> {
        self.app_secret.as_deref().filter(|s| !s.is_empty())
    }
    fn app_id(&self) -> Option<&str> {
        self.app_id.as_deref().filter(|s| !s.is_empty())
    }
    fn oa_secret(&self) -> Option<&str> {
        self.oa_secret_key.as_deref().filter(|s| !s.is_empty())
    }
}

/// The Zalo OA connector.
pub struct Zalo {
    cfg: ZaloConfig,
}

impl Zalo {
    /// From app-level settings.
    pub fn new(cfg: ZaloConfig) -> Self {
        Zalo { cfg }
    }

    /// [`WebhookInbound::verify`] at a given instant (unix milliseconds), for tests.
    pub fn verify_at(&self, req: &InboundRequest<'_>, now_ms: i64) -> Result<(), VerifyError> {
        let (Some(app_id), Some(secret)) = (self.cfg.app_id(), self.cfg.oa_secret()) else {
            return Err(VerifyError::NotConfigured("zalo"));
        };
        let value = req
            .headers
            .get(SIGNATURE_HEADER)
            .ok_or(VerifyError::MissingSignature(SIGNATURE_HEADER))?;
        let malformed = || VerifyError::MalformedSignature(SIGNATURE_HEADER);
        let value = value.to_str().map_err(|_| malformed())?.trim();
        let hex_part = value
            .get(..4)
            .filter(|p| p.eq_ignore_ascii_case("mac="))
            .map(|_| &value[4..])
            .ok_or_else(malformed)?;
        let given = hex::decode(hex_part).map_err(|_| malformed())?;
        if given.len() != 32 {
            return Err(malformed());
        }
        // The signed fields are read from the body (never re-serialized: the mac covers the
        // raw bytes). A body that is not JSON can still be signed with the header timestamp.
        let head = signed_fields(req.body);
        if let Some(theirs) = head.app_id.as_deref()
            && !constant_time_eq(theirs.as_bytes(), app_id.as_bytes())
        {
            return Err(VerifyError::WrongApp);
        }
        let header_ts = req
            .headers
            .get(TIMESTAMP_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
        let mut candidates: Vec<String> = head.timestamp.into_iter().collect();
        if let Some(h) = header_ts
            && !candidates.contains(&h)
        {
            candidates.push(h);
        }
        if candidates.is_empty() {
            return Err(VerifyError::MissingSignature(TIMESTAMP_HEADER));
        }
        let matched = candidates.into_iter().find(|ts| {
            let want = mac(app_id, req.body, ts, secret);
            constant_time_eq(&want, &given)
        });
        let Some(ts) = matched else {
            return Err(VerifyError::BadSignature);
        };
        let window = i64::from(self.cfg.replay_window_seconds);
        if window > 0 {
            let ms = ts
                .parse::<i64>()
                .map_err(|_| VerifyError::MalformedSignature(TIMESTAMP_HEADER))?;
            let ms = crate::facebook::wire::normalize_epoch_ms(ms);
            if (now_ms - ms).abs() > window * 1000 {
                return Err(VerifyError::StaleTimestamp);
            }
        }
        Ok(())
    }
}

/// `sha256(app_id ‖ body ‖ timestamp ‖ oa_secret_key)`, raw bytes.
fn mac(app_id: &str, body: &[u8], timestamp: &str, oa_secret_key: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(app_id.as_bytes());
    h.update(body);
    h.update(timestamp.as_bytes());
    h.update(oa_secret_key.as_bytes());
    h.finalize().into()
}

/// `mac=<lowercase hex>`: the `X-ZEvent-Signature` Zalo would send for `body` signed with
/// `timestamp` (the body's `timestamp` string).
pub fn signature_header(app_id: &str, body: &[u8], timestamp: &str, oa_secret_key: &str) -> String {
    format!(
        "mac={}",
        hex::encode(mac(app_id, body, timestamp, oa_secret_key))
    )
}

/// The body's `app_id` and `timestamp` as text (a number's decimal digits as written).
#[derive(Default)]
struct SignedFields {
    app_id: Option<String>,
    timestamp: Option<String>,
}

fn signed_fields(body: &[u8]) -> SignedFields {
    let Ok(serde_json::Value::Object(obj)) = serde_json::from_slice::<serde_json::Value>(body)
    else {
        return SignedFields::default();
    };
    let text = |k: &str| match obj.get(k) {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    // An `app_id` that is neither a string nor a number (nor null) names no app we know: it
    // must not pass for "absent".
    let app_id = match obj.get("app_id") {
        None | Some(serde_json::Value::Null) => None,
        Some(_) => Some(text("app_id").unwrap_or_default()),
    };
    SignedFields {
        app_id,
        timestamp: text("timestamp"),
    }
}

/// Whether `body` is the registration probe's: empty, or an empty JSON object.
fn is_probe_body(body: &[u8]) -> bool {
    let trimmed = body.trim_ascii();
    trimmed.is_empty()
        || matches!(
            serde_json::from_slice::<serde_json::Value>(trimmed),
            Ok(serde_json::Value::Object(o)) if o.is_empty()
        )
}

impl Connector for Zalo {
    fn platform(&self) -> Platform {
        Platform::Zalo
    }
    /// Only when the app id and OA secret key are set: without both nothing verifies.
    fn webhook(&self) -> Option<&dyn WebhookInbound> {
        self.cfg
            .is_configured()
            .then_some(self as &dyn WebhookInbound)
    }
    /// Consultation replies with each OA's own access token.
    fn messaging(&self) -> Option<&dyn Messaging> {
        Some(self)
    }
    /// User profiles with each OA's own access token.
    fn lookup(&self) -> Option<&dyn Lookup> {
        Some(self)
    }
    /// Only when the app id and app secret are set.
    fn oauth(&self) -> Option<&dyn OAuth> {
        self.cfg.oauth_configured().then_some(self as &dyn OAuth)
    }
}

impl WebhookInbound for Zalo {
    /// Zalo checks a newly saved webhook URL with an unsigned POST of `{}` (or nothing) and
    /// saves it only on a 200: answer it, store nothing. A signed request is never a probe.
    fn handshake(&self, req: &InboundRequest<'_>) -> Option<Result<HandshakeReply, VerifyError>> {
        if req.method != Method::POST
            || req.headers.contains_key(SIGNATURE_HEADER)
            || !is_probe_body(req.body)
        {
            return None;
        }
        Some(Ok(HandshakeReply {
            status: 200,
            content_type: "application/json",
            body: "{}".to_owned(),
        }))
    }

    fn verify(&self, req: &InboundRequest<'_>) -> Result<(), VerifyError> {
        self.verify_at(req, Utc::now().timestamp_millis())
    }

    /// `zalo:<event_name>:<msg_id>`, else `zalo:<event_name>:<timestamp>:<sender>`: a
    /// redelivery gets the same key. The event name is part of it because a receipt carries
    /// the id of the message it acknowledges.
    fn event_key(&self, req: &InboundRequest<'_>) -> Option<String> {
        let env = wire::envelope(req.body).ok()?;
        let name = env.event_name.as_deref()?;
        if let Some(id) = env.message.as_ref().and_then(|m| m.msg_id.as_deref()) {
            return Some(format!("zalo:{name}:{id}"));
        }
        let ts = env.timestamp?;
        let who = env
            .sender
            .as_ref()
            .and_then(|p| p.id.as_deref())
            .or_else(|| env.follower.as_ref().and_then(|p| p.id.as_deref()))
            .unwrap_or("");
        Some(format!("zalo:{name}:{ts}:{who}"))
    }

    fn account_hints(&self, body: &[u8]) -> Vec<String> {
        wire::envelope(body)
            .ok()
            .and_then(|e| wire::oa_id(&e))
            .into_iter()
            .collect()
    }

    fn parse(&self, body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
        wire::parse_body(body)
    }
}

#[cfg(test)]
mod tests;
