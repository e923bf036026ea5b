//! Facebook Pages: Messenger webhooks (`X-Hub-Signature-256`), the subscription handshake and
//! the Send API. Contract: `shared/specs/social.md` §2.
//!
//! SKELETON — being completed (see the brief in the session); the public API below is fixed.

#[cfg(feature = "sandbox")]
pub mod sandbox;

use async_trait::async_trait;

use crate::error::{ConnectorError, ParseError, VerifyError};
use crate::traits::{Connector, Messaging, WebhookInbound};
use crate::types::{
    AccountCtx, HandshakeReply, HttpCtx, InboundRequest, NormalizedEvent, OutboundText, Platform,
    SendReceipt,
};

/// App-level Facebook settings (`TONGDAI_FACEBOOK_*`).
#[derive(Debug, Clone, Default)]
pub struct FacebookConfig {
    /// The Meta app id (used to recognise echoes of our own sends).
    pub app_id: Option<String>,
    /// The Meta app secret: key of `X-Hub-Signature-256` and of `appsecret_proof`.
    pub app_secret: Option<String>,
    /// The verify token Meta echoes in the subscription handshake.
    pub verify_token: Option<String>,
}

/// The Facebook connector.
pub struct Facebook {
    cfg: FacebookConfig,
}

impl Facebook {
    /// Build from app-level settings.
    pub fn new(cfg: FacebookConfig) -> Self {
        Facebook { cfg }
    }
}

/// `sha256=<lowercase hex HMAC-SHA256(app_secret, body)>`: the `X-Hub-Signature-256` value
/// Meta would send for `body`.
pub fn signature_header(app_secret: &str, body: &[u8]) -> String {
    format!("sha256={}", crate::verify::hmac_sha256_hex(app_secret.as_bytes(), body))
}

impl Connector for Facebook {
    fn platform(&self) -> Platform {
        Platform::Facebook
    }
    fn webhook(&self) -> Option<&dyn WebhookInbound> {
        Some(self)
    }
    fn messaging(&self) -> Option<&dyn Messaging> {
        Some(self)
    }
}

impl WebhookInbound for Facebook {
    fn handshake(&self, _req: &InboundRequest<'_>) -> Option<Result<HandshakeReply, VerifyError>> {
        let _ = &self.cfg;
        None
    }
    fn verify(&self, _req: &InboundRequest<'_>) -> Result<(), VerifyError> {
        Err(VerifyError::NotConfigured("facebook"))
    }
    fn parse(&self, _body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
        Ok(vec![])
    }
}

#[async_trait]
impl Messaging for Facebook {
    async fn send_text(
        &self,
        _cx: &HttpCtx<'_>,
        _account: &AccountCtx<'_>,
        _msg: &OutboundText<'_>,
    ) -> Result<SendReceipt, ConnectorError> {
        Err(ConnectorError::Unsupported)
    }
}
