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
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment {
    /// `image`, `video`, `audio`, `file`, `sticker`, `location`, `fallback`, `share`,
    /// `story_mention`, `ig_reel`, … (the platform's word, lowercase).
    pub kind: String,
    /// Where the platform serves it, when it has a URL.
    pub url: Option<String>,
    /// A title the platform gives it (fallback link title, location name, file name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Anything else the payload carries that a viewer may need (`coordinates {lat, long}`,
    /// `sticker_id`, …), as the platform sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload: Option<serde_json::Value>,
}

/// How a customer arrived at a conversation: an ad, an `m.me` link, a post, a shop page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Referral {
    /// Meta `source`: `ADS`, `SHORTLINK`, `CUSTOMER_CHAT_PLUGIN`, `POST`, …
    pub source: Option<String>,
    /// Meta `type`, e.g. `OPEN_THREAD`.
    pub kind: Option<String>,
    /// The `ref` parameter of the link.
    pub ref_param: Option<String>,
    /// The ad the customer clicked.
    pub ad_id: Option<String>,
    /// The post the customer came from.
    pub post_id: Option<String>,
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
    /// The payload of the quick-reply button the customer tapped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quick_reply: Option<String>,
    /// The payload of a button (postback) the customer pressed; `text` holds its title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postback: Option<String>,
    /// Where the customer came from (ad, link, post), when the platform says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    /// Delivered on Meta's `standby` channel: another app holds the thread; recorded, shown,
    /// but the customer is being answered elsewhere.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub standby: bool,
}

/// A customer edited a message they sent earlier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageEdit {
    /// The platform's id of the account.
    pub account_external_id: String,
    /// The customer who edited it.
    pub contact_external_id: String,
    /// The edited message.
    pub external_message_id: String,
    /// The new text.
    pub text: Option<String>,
    /// When the edit happened.
    pub edited_at: DateTime<Utc>,
    /// How many times it has been edited, when the platform says (Meta `num_edit`).
    pub edit_count: Option<u32>,
}

/// A message was withdrawn (Meta "unsend", `is_deleted`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageDeletion {
    /// The platform's id of the account.
    pub account_external_id: String,
    /// The customer side of the conversation.
    pub contact_external_id: String,
    /// The withdrawn message.
    pub external_message_id: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// Someone reacted to a message (or took the reaction back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageReaction {
    /// The platform's id of the account.
    pub account_external_id: String,
    /// Who reacted (the customer, or for echoes the account itself).
    pub contact_external_id: String,
    /// The message reacted to.
    pub external_message_id: String,
    /// The emoji, e.g. `❤`; `None` when the platform only names it.
    pub emoji: Option<String>,
    /// The platform's name for it (`love`, `like`, …).
    pub reaction: Option<String>,
    /// `true` when the reaction was taken back.
    pub removed: bool,
    /// When.
    pub at: DateTime<Utc>,
}

/// The post (or Instagram media) a comment belongs to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostRef {
    /// The platform's id of the post or media.
    pub external_id: String,
    /// Its public link, when the payload carries it.
    pub permalink: Option<String>,
    /// Its text, when the payload carries it.
    pub text: Option<String>,
    /// The platform's kind of media (Instagram `media_product_type`: `FEED`, `REELS`, …).
    pub media_kind: Option<String>,
}

/// What happened to a comment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentAction {
    /// A new comment or reply.
    Added,
    /// Its text changed.
    Edited,
    /// It was deleted (by its author or a moderator).
    Removed,
    /// The account hid it.
    Hidden,
    /// The account unhid it.
    Unhidden,
}

/// A comment under one of the account's posts: added, edited, removed, hidden or unhidden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommentEvent {
    /// The platform's id of the account (Page id, Instagram account id, channel id).
    pub account_external_id: String,
    /// What happened.
    pub action: CommentAction,
    /// The post commented on.
    pub post: PostRef,
    /// The comment's id; the dedupe key within the account.
    pub external_comment_id: String,
    /// The comment this one replies to; `None` for a top-level comment on the post.
    pub parent_external_id: Option<String>,
    /// Who wrote it, when the payload says (absent on some removals).
    pub author: Option<ContactRef>,
    /// Written by the account itself (a Page reply typed on Facebook or sent by tongdai).
    pub by_account: bool,
    /// The text, when the payload carries it.
    pub text: Option<String>,
    /// Photo, video or sticker on the comment.
    pub attachments: Vec<Attachment>,
    /// When it happened (the comment's `created_time` for additions, else the delivery time).
    pub at: DateTime<Utc>,
}

/// The account was @mentioned in a comment on someone else's media (Instagram `mentions`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    /// The platform's id of the account mentioned.
    pub account_external_id: String,
    /// The comment carrying the mention.
    pub external_comment_id: Option<String>,
    /// The media it is on.
    pub media_external_id: Option<String>,
    /// When Meta reported it.
    pub at: DateTime<Utc>,
}

/// A customer entered (or re-entered) a conversation through a link, an ad or a plugin without
/// writing anything yet (Meta's standalone `referral` messaging event).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralEvent {
    /// The platform's id of the account.
    pub account_external_id: String,
    /// The customer who arrived.
    pub contact: ContactRef,
    /// Where they came from.
    pub referral: Referral,
    /// When.
    pub at: DateTime<Utc>,
}

/// A documented event tongdai does not act on (optin, account linking, handover, page
/// posts, likes, …): the raw body stays stored; this only names what it was.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IgnoredEvent {
    /// The platform's id of the account.
    pub account_external_id: String,
    /// What it was, e.g. `messaging.optin`, `feed.status`, `feed.reaction`.
    pub kind: String,
}

/// A marketplace order changed (Shopee push code 3, Lazada message type 0 …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderNotice {
    /// The platform's id of the shop/seller.
    pub account_external_id: String,
    /// The platform's order id.
    pub order_external_id: String,
    /// The status the push names, verbatim, when it names one.
    pub platform_status: Option<String>,
    /// When the platform says the order changed.
    pub updated_at: Option<DateTime<Utc>>,
}

/// A marketplace chat session has news (Lazada IM session update …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatNotice {
    /// The platform's id of the shop/seller.
    pub account_external_id: String,
    /// The platform's id of the chat session or conversation.
    pub session_external_id: String,
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
    /// A customer edited a message.
    MessageEdited(MessageEdit),
    /// A message was withdrawn.
    MessageDeleted(MessageDeletion),
    /// A reaction was added or removed.
    Reaction(MessageReaction),
    /// Something happened to a comment under the account's posts.
    Comment(CommentEvent),
    /// The account was mentioned in a comment elsewhere.
    Mention(Mention),
    /// A customer arrived through a link or ad without writing yet.
    Referred(ReferralEvent),
    /// A marketplace order changed: the hub fetches it (pushes only notify).
    OrderChanged(OrderNotice),
    /// A marketplace chat has news the push does not carry: the hub fetches its messages.
    ChatChanged(ChatNotice),
    /// A documented event type tongdai does not use.
    Ignored(IgnoredEvent),
}

impl NormalizedEvent {
    /// The platform id of the account this event belongs to.
    pub fn account_external_id(&self) -> &str {
        match self {
            NormalizedEvent::MessageReceived(m) | NormalizedEvent::MessageEcho(m) => {
                &m.account_external_id
            }
            NormalizedEvent::DeliveryStatus(d) => &d.account_external_id,
            NormalizedEvent::MessageEdited(e) => &e.account_external_id,
            NormalizedEvent::MessageDeleted(d) => &d.account_external_id,
            NormalizedEvent::Reaction(r) => &r.account_external_id,
            NormalizedEvent::Comment(c) => &c.account_external_id,
            NormalizedEvent::Mention(m) => &m.account_external_id,
            NormalizedEvent::Referred(r) => &r.account_external_id,
            NormalizedEvent::OrderChanged(o) => &o.account_external_id,
            NormalizedEvent::ChatChanged(c) => &c.account_external_id,
            NormalizedEvent::Ignored(i) => &i.account_external_id,
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
