//! The connector contract. A connector is a bundle of optional capabilities; the hub asks for
//! the ones it needs and treats a `None` as "this platform cannot do that".

use async_trait::async_trait;

use crate::error::{ConnectorError, ParseError, VerifyError};
use crate::types::{
    AccountCtx, HandshakeReply, HttpCtx, InboundRequest, NormalizedEvent, OutboundText, Platform,
    SendReceipt,
};

/// One platform. Built once at startup from config and shared as `Arc<dyn Connector>`.
pub trait Connector: Send + Sync + 'static {
    /// Which platform this is.
    fn platform(&self) -> Platform;
    /// The platforms whose channel accounts this connector's webhooks carry events for. Meta
    /// signs Page and Instagram events with the same app secret and an app may register one
    /// URL for both, so an event arriving on `/webhooks/facebook` may belong to an Instagram
    /// account: the hub looks the account up among all of these.
    fn account_platforms(&self) -> Vec<Platform> {
        vec![self.platform()]
    }
    /// Inbound webhooks, when the platform pushes events to us.
    fn webhook(&self) -> Option<&dyn WebhookInbound> {
        None
    }
    /// Sending messages back to customers.
    fn messaging(&self) -> Option<&dyn Messaging> {
        None
    }
}

/// Inbound webhooks: pure, synchronous functions over the raw request. No IO, no clock other
/// than what the request carries.
pub trait WebhookInbound: Send + Sync {
    /// A subscription handshake (Meta's `GET ?hub.mode=subscribe…`). `None` when the request is
    /// not a handshake this platform knows.
    fn handshake(&self, req: &InboundRequest<'_>) -> Option<Result<HandshakeReply, VerifyError>>;

    /// Authenticate the request from its raw bytes and headers, in constant time. Never parse
    /// or re-serialize the body before this returns `Ok`.
    fn verify(&self, req: &InboundRequest<'_>) -> Result<(), VerifyError>;

    /// A stable key for this delivery, so a retried delivery is stored once. `None` lets the
    /// hub use a hash of the body (platforms that resend identical bytes).
    fn event_key(&self, _req: &InboundRequest<'_>) -> Option<String> {
        None
    }

    /// Best-effort: the account ids a stored body belongs to, even when it does not fully
    /// parse (so a dead-lettered event can be shown to the right workspace).
    fn account_hints(&self, _body: &[u8]) -> Vec<String> {
        Vec::new()
    }

    /// A stored, verified body → normalized events. Event types this connector does not handle
    /// yield no events (never an error); a body that is not what the platform documents is a
    /// [`ParseError`].
    fn parse(&self, body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError>;
}

/// Replies to customers through the platform's API.
#[async_trait]
pub trait Messaging: Send + Sync {
    /// Send a text message.
    async fn send_text(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        msg: &OutboundText<'_>,
    ) -> Result<SendReceipt, ConnectorError>;
}
