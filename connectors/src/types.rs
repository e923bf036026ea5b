//! Types shared by every connector: the raw request a webhook arrives as, the normalized
//! events every platform is turned into, and what outbound calls take and return.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A platform tongdai connects to. The string form is the URL segment of
/// `/webhooks/{platform}` and the value stored in `channel_account.platform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Facebook Page: Messenger and post comments.
    Facebook,
    /// Instagram professional account.
    Instagram,
    /// Zalo Official Account.
    Zalo,
    /// YouTube channel comments.
    Youtube,
    /// The shop's own website chat widget.
    Webchat,
    /// Shopee shop.
    Shopee,
    /// Lazada seller.
    Lazada,
    /// Tiki seller.
    Tiki,
    /// An external shop pushing orders over signed webhooks.
    Shop,
    /// The fulfillment partner's status callbacks.
    Fulfillment,
}

impl Platform {
    /// Every platform, in display order.
    pub const ALL: [Platform; 10] = [
        Platform::Facebook,
        Platform::Instagram,
        Platform::Zalo,
        Platform::Youtube,
        Platform::Webchat,
        Platform::Shopee,
        Platform::Lazada,
        Platform::Tiki,
        Platform::Shop,
        Platform::Fulfillment,
    ];

    /// The lowercase name used in URLs, config keys and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Facebook => "facebook",
            Platform::Instagram => "instagram",
            Platform::Zalo => "zalo",
            Platform::Youtube => "youtube",
            Platform::Webchat => "webchat",
            Platform::Shopee => "shopee",
            Platform::Lazada => "lazada",
            Platform::Tiki => "tiki",
            Platform::Shop => "shop",
            Platform::Fulfillment => "fulfillment",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Platform {
    type Err = UnknownPlatform;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Platform::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| UnknownPlatform(s.to_owned()))
    }
}

/// A platform name tongdai does not know.
#[derive(Debug, Clone, thiserror::Error)]
#[error("unknown platform {0:?}")]
pub struct UnknownPlatform(pub String);

/// A webhook request exactly as it arrived: the signature covers these raw bytes, so nothing
/// may be re-serialized before [`crate::verify`] runs.
#[derive(Debug, Clone, Copy)]
pub struct InboundRequest<'a> {
    /// HTTP method (GET for subscription handshakes, POST for events).
    pub method: &'a http::Method,
    /// Request headers.
    pub headers: &'a http::HeaderMap,
    /// Raw query string, without the `?`.
    pub query: Option<&'a str>,
    /// Raw body bytes.
    pub body: &'a [u8],
}

/// What to answer a platform's subscription handshake with (e.g. Meta's `hub.challenge`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeReply {
    /// HTTP status, normally 200.
    pub status: u16,
    /// `Content-Type` of the body.
    pub content_type: &'static str,
    /// Body, sent as-is.
    pub body: String,
}

/// A person on a platform, as the platform identifies them within one account (a Facebook
/// PSID is scoped to one Page).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactRef {
    /// The platform's id of the person (opaque string).
    pub external_id: String,
    /// Display name, when the payload carries one.
    pub display_name: Option<String>,
}

/// A file, image or other media attached to a message, kept as a URL (never bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// `image`, `video`, `audio`, `file`, `sticker`, `location`, `fallback`, …
    pub kind: String,
    /// Where the platform serves it, when it has a URL.
    pub url: Option<String>,
}

/// A message in a conversation, from either side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The platform's id of the account (Page id, OA id, shop id) the message belongs to.
    pub account_external_id: String,
    /// The customer side of the conversation (for echoes: the recipient).
    pub contact: ContactRef,
    /// The platform's id of the thread. For one-to-one chats this is the customer's id.
    pub thread_external_id: String,
    /// The platform's message id; the dedupe key within the account.
    pub external_message_id: String,
    /// When the platform says the message was sent.
    pub sent_at: DateTime<Utc>,
    /// Text, when the message has any.
    pub text: Option<String>,
    /// Attachments, in order.
    pub attachments: Vec<Attachment>,
    /// The platform id of the message this one replies to.
    pub reply_to: Option<String>,
    /// The id of the app that sent an echo, when the platform says (Meta `app_id`).
    pub app_id: Option<String>,
}

/// How far an outgoing message got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// It reached the customer's device.
    Delivered,
    /// The customer saw it.
    Read,
}

/// A delivery or read receipt for messages we sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReceipt {
    /// The platform's id of the account.
    pub account_external_id: String,
    /// The customer who received or read the messages.
    pub contact_external_id: String,
    /// Messages named explicitly (Messenger `delivery.mids`); may be empty.
    pub external_message_ids: Vec<String>,
    /// Everything we sent at or before this instant has reached `state`.
    pub watermark: Option<DateTime<Utc>>,
    /// Delivered or read.
    pub state: DeliveryState,
}

/// One fact from a platform, in tongdai's terms. The ingest worker routes each event to the
/// channel account named by its `account_external_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NormalizedEvent {
    /// A customer wrote to the account.
    MessageReceived(InboundMessage),
    /// The account sent a message (from tongdai or from the platform's own app).
    MessageEcho(InboundMessage),
    /// Messages we sent were delivered or read.
    DeliveryStatus(DeliveryReceipt),
}

impl NormalizedEvent {
    /// The platform id of the account this event belongs to.
    pub fn account_external_id(&self) -> &str {
        match self {
            NormalizedEvent::MessageReceived(m) | NormalizedEvent::MessageEcho(m) => {
                &m.account_external_id
            }
            NormalizedEvent::DeliveryStatus(d) => &d.account_external_id,
        }
    }
}

/// Where and with what an outbound call is made: the hub's shared HTTP client and the
/// platform's API base URL from config (the seam tests point at a loopback sandbox).
#[derive(Debug, Clone, Copy)]
pub struct HttpCtx<'a> {
    /// Shared client (timeouts set by the hub).
    pub http: &'a reqwest::Client,
    /// API base URL without a trailing slash, e.g. `https://graph.facebook.com/v21.0`.
    pub base_url: &'a str,
}

/// One connected account's identity and decrypted credentials, for outbound calls.
#[derive(Clone)]
pub struct AccountCtx<'a> {
    /// The platform's id of the account (Page id, OA id, …).
    pub external_id: &'a str,
    /// The account's access token.
    pub access_token: &'a str,
}

impl fmt::Debug for AccountCtx<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccountCtx")
            .field("external_id", &self.external_id)
            .field("access_token", &"<redacted>")
            .finish()
    }
}

/// A text reply to a customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundText<'a> {
    /// The customer's platform id (PSID, Zalo user id, …).
    pub recipient_external_id: &'a str,
    /// The text to send.
    pub text: &'a str,
    /// Whether the customer's last message is older than the platform's standard reply window
    /// (Messenger: 24 h), so the platform's human-agent tag must be used.
    pub outside_standard_window: bool,
    /// A key that is the same on every attempt to send this one message, sent as the
    /// `Idempotency-Key` header. Platforms that honour it (and our sandboxes) deliver the
    /// message once however often a crashed send is retried; others ignore it.
    pub idempotency_key: Option<&'a str>,
}

/// What the platform answered to a successful send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// The platform's id of the message it created.
    pub external_message_id: String,
}
