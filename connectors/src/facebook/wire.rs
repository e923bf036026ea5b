//! Serde mirrors of Meta's webhook JSON for Facebook Pages and Instagram professional accounts
//! (`shared/specs/social.md` §2.4, §2.5, §3.1) and their conversion into [`NormalizedEvent`]s,
//! plus the escaping Meta applies to the bytes it signs.
//!
//! The mirrors are deliberately lenient where Meta has been inconsistent: every id accepts a
//! JSON string or number, every timestamp accepts a number or a numeric string in seconds or
//! milliseconds, and unknown fields are ignored. They are strict where a wrong value would be
//! stored wrongly: a field tongdai reads must have the documented type, and a message must have
//! a `mid`. Such a body is a [`ParseError`] naming the item, e.g. `entry[1].messaging[0]: …`.
//!
//! Every `messaging[]` / `standby[]` item and every `changes[]` item becomes exactly one event,
//! in body order (per entry: `messaging`, then `standby`, then `changes`); what tongdai does
//! not act on becomes [`NormalizedEvent::Ignored`] naming it. Choices made where Meta's
//! documentation leaves room:
//!
//! - An Instagram story reply (`reply_to.story {id, url}`) is not a reply to a message:
//!   `reply_to` stays `None` (or the `reply_to.mid`, when there is one) and the story comes
//!   first in `attachments`, as kind `story_reply` with the story's URL and `{"id": …}` payload.
//! - `is_unsupported` messages keep what they carry plus a last attachment of kind
//!   `unsupported`, so an agent sees that something arrived.
//! - Attachment kinds are Meta's word as sent (a Messenger sticker is `image` with
//!   `sticker_id` in the payload). `url` and `title` come from the payload or, in the older
//!   shapes, from the attachment itself; whatever else the payload holds stays in
//!   [`Attachment::payload`].
//! - A postback without `mid` (before Graph v11.0) gets the id `postback:{sender}:{millis}`,
//!   the same on every redelivery of the same bytes.
//! - An item whose payload key tongdai does not handle is `Ignored` as `messaging.<key>` (the
//!   alphabetically first such key); an item with no payload key at all as `messaging.empty`.
//!   When an item carries several handled keys, the first of [`HANDLED_ITEM_KEYS`] wins.
//! - Under `changes`, a field whose name starts with `message` or `messaging` (`messages`,
//!   `message_reactions`, `messaging_postbacks`, `messaging_seen`, …) carries one messaging
//!   item in `value`, as the Instagram dashboard "Test" button sends it, and `standby` one
//!   standby item. The account is `entry.id` even when that test shape says `"0"`: such an
//!   event belongs to no account.
//! - A feed comment's `parent_id` equal to its `post_id` is a top-level comment (no parent).
//!   Its `post.permalink_url`, `post.message` and `post.status_type` fill the [`PostRef`]'s
//!   permalink, text and media kind when present. Other feed items are `feed.<item>`, unknown
//!   verbs `feed.comment.<verb>`, other fields `changes.<field>`.
//! - Instagram comments carry no time of their own: they happen at `entry.time`.
//! - A reaction's or an edit's contact is its sender, whoever that is.
//! - Bodies whose `object` is neither `page` nor `instagram` are for other Meta products and
//!   parse to no events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use crate::error::ParseError;
use crate::types::{
    Attachment, CommentAction, CommentEvent, ContactRef, DeliveryReceipt, DeliveryState,
    IgnoredEvent, InboundMessage, Mention, MessageDeletion, MessageReaction, NormalizedEvent,
    PostRef, Referral, ReferralEvent,
};

/// The `object` of Facebook Page webhooks.
pub const OBJECT_PAGE: &str = "page";
/// The `object` of Instagram webhooks; same envelope, parsed by the same code.
pub const OBJECT_INSTAGRAM: &str = "instagram";

/// The payload keys of a messaging item that become events other than `Ignored`, in the order
/// they are looked for.
pub const HANDLED_ITEM_KEYS: [&str; 7] = [
    "message",
    "postback",
    "referral",
    "delivery",
    "read",
    "reaction",
    "message_edit",
];

/// Keys every messaging item may carry besides its payload.
const ITEM_HEADER_KEYS: [&str; 3] = ["sender", "recipient", "timestamp"];

/// Epoch values below this are seconds, at or above it milliseconds. 10^11 s is in the year
/// 5138 and 10^11 ms is March 1973, so no real timestamp is ambiguous.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// An id that Meta sends as a JSON string or a JSON number, as a string.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct WireId(#[serde(deserialize_with = "string_or_number::deserialize")] pub String);

/// An epoch timestamp in seconds or milliseconds, number or numeric string, as milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EpochMs(pub i64);

impl<'de> Deserialize<'de> for EpochMs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match epoch_ms::option(d)? {
            Some(ms) => Ok(EpochMs(ms)),
            None => Err(serde::de::Error::custom("a timestamp cannot be null")),
        }
    }
}

/// `sender` / `recipient` of a messaging item.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Party {
    /// PSID / IGSID of a person, or id of the Page / Instagram account (string or number).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub id: Option<String>,
}

/// `messaging[].message`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Message {
    /// Message id; the dedupe key.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub mid: Option<String>,
    /// Text, when the message has any.
    #[serde(default)]
    pub text: Option<String>,
    /// True for echoes of messages the account sent.
    #[serde(default)]
    pub is_echo: Option<bool>,
    /// The app that sent an echoed message (number on the wire, historically).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub app_id: Option<String>,
    /// Attachments, in order; `null` is none.
    #[serde(default)]
    pub attachments: Option<Vec<WireAttachment>>,
    /// The message (or Instagram story) this one replies to.
    #[serde(default)]
    pub reply_to: Option<ReplyTo>,
    /// The quick-reply button the person tapped.
    #[serde(default)]
    pub quick_reply: Option<QuickReply>,
    /// The ad or link the message came through.
    #[serde(default)]
    pub referral: Option<WireReferral>,
    /// True when the person unsent the message.
    #[serde(default)]
    pub is_deleted: Option<bool>,
    /// True when Meta could not render the message for the API (Instagram).
    #[serde(default)]
    pub is_unsupported: Option<bool>,
}

/// `message.attachments[]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireAttachment {
    /// `image`, `video`, `audio`, `file`, `location`, `fallback`, `template`, `share`,
    /// `story_mention`, `ig_reel`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Title of a `fallback` or `location` attachment (older shape, outside the payload).
    #[serde(default)]
    pub title: Option<String>,
    /// URL of a `fallback` or `location` attachment (older shape, outside the payload).
    #[serde(default)]
    pub url: Option<String>,
    /// Type-specific payload (`url`, `title`, `coordinates`, `sticker_id`, …), kept raw.
    #[serde(default)]
    pub payload: Option<Value>,
}

/// `message.reply_to`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReplyTo {
    /// The id of the message replied to.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub mid: Option<String>,
    /// The Instagram story replied to.
    #[serde(default)]
    pub story: Option<Story>,
}

/// `message.reply_to.story` (Instagram).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Story {
    /// The story's media id.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub id: Option<String>,
    /// Where the story's media is served (expires with the story).
    #[serde(default)]
    pub url: Option<String>,
}

/// `message.quick_reply`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuickReply {
    /// The developer payload of the tapped button.
    #[serde(default)]
    pub payload: Option<String>,
}

/// `referral` (standalone, or inside a `message` or `postback`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireReferral {
    /// The `ref` parameter of the link or ad.
    #[serde(default, rename = "ref", deserialize_with = "string_or_number::option")]
    pub ref_param: Option<String>,
    /// `ADS`, `SHORTLINK`, `CUSTOMER_CHAT_PLUGIN`, …
    #[serde(default)]
    pub source: Option<String>,
    /// `OPEN_THREAD`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The ad clicked.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub ad_id: Option<String>,
    /// The post the customer came from.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub post_id: Option<String>,
    /// Details of the ad (click-to-Messenger ads).
    #[serde(default)]
    pub ads_context_data: Option<AdsContext>,
}

/// `referral.ads_context_data`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AdsContext {
    /// The post behind the ad.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub post_id: Option<String>,
}

/// `messaging[].delivery`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Delivery {
    /// Messages named explicitly; may be absent.
    #[serde(default, deserialize_with = "string_or_number::vec")]
    pub mids: Vec<String>,
    /// Everything sent before this instant (epoch ms) was delivered.
    #[serde(default, deserialize_with = "epoch_ms::option")]
    pub watermark: Option<i64>,
}

/// `messaging[].read`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Read {
    /// Everything sent before this instant (epoch ms) was read.
    #[serde(default, deserialize_with = "epoch_ms::option")]
    pub watermark: Option<i64>,
    /// The message read (Instagram's variant of the event).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub mid: Option<String>,
}

/// `messaging[].postback`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Postback {
    /// Button title.
    #[serde(default)]
    pub title: Option<String>,
    /// Developer payload of the button.
    #[serde(default)]
    pub payload: Option<String>,
    /// Message id of the postback (v11.0+).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub mid: Option<String>,
    /// The ad or link that led to the button (Get Started).
    #[serde(default)]
    pub referral: Option<WireReferral>,
}

/// `messaging[].reaction`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Reaction {
    /// The message reacted to.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub mid: Option<String>,
    /// `react` or `unreact`.
    #[serde(default)]
    pub action: Option<String>,
    /// The emoji.
    #[serde(default)]
    pub emoji: Option<String>,
    /// The reaction name (`love`, `sad`, …).
    #[serde(default)]
    pub reaction: Option<String>,
}

/// `messaging[].message_edit`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessageEdit {
    /// The edited message.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub mid: Option<String>,
    /// The new text.
    #[serde(default)]
    pub text: Option<String>,
    /// How many times the message has been edited (number or numeric string; else ignored).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub num_edit: Option<i64>,
}

/// `changes[].value` of the Page `feed` field when `item` is `comment`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeedComment {
    /// `add`, `edited`, `remove`, `hide`, `unhide`.
    #[serde(default)]
    pub verb: Option<String>,
    /// `<pageid>_<postid>`.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub post_id: Option<String>,
    /// `<postid>_<commentid>`.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub comment_id: Option<String>,
    /// The post for a top-level comment, the parent comment for a reply.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub parent_id: Option<String>,
    /// The author (Graph v2.11+).
    #[serde(default)]
    pub from: Option<FeedAuthor>,
    /// The author's id, in older API versions (often a JSON number).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub sender_id: Option<String>,
    /// The author's name, in older API versions.
    #[serde(default)]
    pub sender_name: Option<String>,
    /// When the comment was written (epoch seconds on the wire).
    #[serde(default, deserialize_with = "epoch_ms::option")]
    pub created_time: Option<i64>,
    /// The comment's text.
    #[serde(default)]
    pub message: Option<String>,
    /// URL of a photo on the comment.
    #[serde(default)]
    pub photo: Option<String>,
    /// URL of a video on the comment.
    #[serde(default)]
    pub video: Option<String>,
    /// The post commented on, when Meta includes it.
    #[serde(default)]
    pub post: Option<FeedPost>,
}

/// `from` of a feed comment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeedAuthor {
    /// App-scoped user id, or the Page id for the Page's own replies.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub id: Option<String>,
    /// Display name.
    #[serde(default)]
    pub name: Option<String>,
}

/// `post` of a feed comment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FeedPost {
    /// Public link of the post.
    #[serde(default)]
    pub permalink_url: Option<String>,
    /// Text of the post.
    #[serde(default)]
    pub message: Option<String>,
    /// `added_photos`, `mobile_status_update`, …
    #[serde(default)]
    pub status_type: Option<String>,
}

/// `changes[].value` of the Instagram `comments` and `live_comments` fields.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IgComment {
    /// The comment id; the dedupe key.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub id: Option<String>,
    /// The comment's text.
    #[serde(default)]
    pub text: Option<String>,
    /// The author.
    #[serde(default)]
    pub from: Option<IgUser>,
    /// The media commented on.
    #[serde(default)]
    pub media: Option<IgMedia>,
    /// The comment replied to, for replies.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub parent_id: Option<String>,
}

/// `from` of an Instagram comment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IgUser {
    /// The author's Instagram user id (the account's own id for its replies).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub id: Option<String>,
    /// The author's handle.
    #[serde(default)]
    pub username: Option<String>,
}

/// `media` of an Instagram comment.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IgMedia {
    /// The media id.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub id: Option<String>,
    /// `FEED`, `REELS`, `STORY`, `AD`, …
    #[serde(default)]
    pub media_product_type: Option<String>,
}

/// `changes[].value` of the Instagram `mentions` field.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct IgMention {
    /// The comment carrying the @mention.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub comment_id: Option<String>,
    /// The media the comment is on.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub media_id: Option<String>,
}

/// The Send API's success answer: `{"recipient_id": …, "message_id": …}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SendResponse {
    /// The PSID the message went to (absent for `user_ref` recipients).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub recipient_id: Option<String>,
    /// The id of the created message.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub message_id: Option<String>,
}

/// A Graph API error answer: `{"error": {…}}`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphErrorBody {
    /// The error.
    pub error: GraphError,
}

/// The `error` object of a Graph API error answer.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct GraphError {
    /// Human-readable message (English, for developers).
    #[serde(default)]
    pub message: Option<String>,
    /// Exception class, e.g. `OAuthException`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Numeric error code (number or numeric string on the wire).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub code: Option<i64>,
    /// Numeric sub code.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub error_subcode: Option<i64>,
    /// Meta's request id for support tickets.
    #[serde(default)]
    pub fbtrace_id: Option<String>,
}

/// The Send API request body for a text message.
#[derive(Debug, Clone, Serialize)]
pub struct SendTextRequest<'a> {
    /// `{"id": PSID}`.
    pub recipient: SendRecipient<'a>,
    /// `RESPONSE`, or `MESSAGE_TAG` outside the standard window.
    pub messaging_type: &'static str,
    /// The message tag (`HUMAN_AGENT`) when `messaging_type` is `MESSAGE_TAG`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<&'static str>,
    /// `{"text": …}`.
    pub message: SendTextMessage<'a>,
}

/// `recipient` of a Send API request.
#[derive(Debug, Clone, Serialize)]
pub struct SendRecipient<'a> {
    /// The customer's PSID.
    pub id: &'a str,
}

/// `message` of a Send API text request.
#[derive(Debug, Clone, Serialize)]
pub struct SendTextMessage<'a> {
    /// The text.
    pub text: &'a str,
}

/// Parse a verified Page or Instagram webhook body into normalized events, one per messaging
/// item and one per change, in order (see the module docs for the mapping).
pub fn parse_body(body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
    let value: Value = serde_json::from_slice(body)?;
    let object = match value.get("object") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(ParseError("\"object\" is not a string".into())),
        None => return Err(ParseError("missing \"object\"".into())),
    };
    if object != OBJECT_PAGE && object != OBJECT_INSTAGRAM {
        return Ok(Vec::new());
    }
    let entries = match value.get("entry") {
        Some(Value::Array(a)) => a,
        Some(_) => return Err(ParseError("\"entry\" is not an array".into())),
        None => return Err(ParseError("missing \"entry\" array".into())),
    };
    let mut out = Vec::new();
    for (i, raw) in entries.iter().enumerate() {
        push_entry_events(raw, &format!("entry[{i}]"), &mut out)?;
    }
    Ok(out)
}

/// Best-effort `entry[].id` values of a body, in order and without repeats; empty when the
/// body is not JSON or has no entries.
pub fn entry_ids(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = Vec::new();
    let entries = value.get("entry").and_then(|e| e.as_array());
    for entry in entries.into_iter().flatten() {
        let id = match entry.get("id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

/// What every event of one entry shares.
struct EntryCx<'a> {
    /// `entry.id`: the Page or Instagram account.
    account: &'a str,
    /// `entry.time` in epoch milliseconds.
    time: Option<i64>,
}

/// Append one entry's events to `out`; `at` names the entry in error messages.
fn push_entry_events(
    raw: &Value,
    at: &str,
    out: &mut Vec<NormalizedEvent>,
) -> Result<(), ParseError> {
    let obj = as_object(raw, at)?;
    let account = field::<WireId>(obj, "id", at)?
        .map(|id| id.0)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| ParseError(format!("{at}: missing \"id\"")))?;
    let time = field::<EpochMs>(obj, "time", at)?.map(|t| t.0);
    let cx = EntryCx {
        account: &account,
        time,
    };
    for (list, standby) in [("messaging", false), ("standby", true)] {
        for (j, item) in array(obj, list, at)?.iter().enumerate() {
            out.push(messaging_event(
                item,
                &cx,
                standby,
                &format!("{at}.{list}[{j}]"),
            )?);
        }
    }
    for (j, change) in array(obj, "changes", at)?.iter().enumerate() {
        out.push(change_event(change, &cx, &format!("{at}.changes[{j}]"))?);
    }
    Ok(())
}

/// The `sender`, `recipient` and `timestamp` of a messaging item, with its location.
struct Item<'a> {
    cx: &'a EntryCx<'a>,
    at: &'a str,
    sender: Option<String>,
    recipient: Option<String>,
    timestamp: Option<i64>,
    standby: bool,
}

/// One `messaging[]` / `standby[]` item (or the `value` of a messaging field under `changes`).
fn messaging_event(
    raw: &Value,
    cx: &EntryCx<'_>,
    standby: bool,
    at: &str,
) -> Result<NormalizedEvent, ParseError> {
    let obj = as_object(raw, at)?;
    let party = |key| -> Result<Option<String>, ParseError> {
        Ok(field::<Party>(obj, key, at)?
            .and_then(|p| p.id)
            .filter(|id| !id.is_empty()))
    };
    let item = Item {
        cx,
        at,
        sender: party("sender")?,
        recipient: party("recipient")?,
        timestamp: field::<EpochMs>(obj, "timestamp", at)?.map(|t| t.0),
        standby,
    };
    let handled = HANDLED_ITEM_KEYS
        .into_iter()
        .find_map(|key| obj.get(key).filter(|v| !v.is_null()).map(|v| (key, v)));
    let Some((key, payload)) = handled else {
        // Keys are picked by name, not position, so the same bytes always give the same kind.
        let other = obj
            .keys()
            .filter(|k| !ITEM_HEADER_KEYS.contains(&k.as_str()))
            .filter(|k| !HANDLED_ITEM_KEYS.contains(&k.as_str()))
            .min();
        return Ok(ignored(
            cx.account,
            format!("messaging.{}", other.map_or("empty", String::as_str)),
        ));
    };
    match key {
        "message" => item.message(&decode(payload, key, at)?),
        "postback" => item.postback(decode(payload, key, at)?),
        "referral" => item.referral(&decode(payload, key, at)?),
        "delivery" => {
            let d: Delivery = decode(payload, key, at)?;
            item.receipt(d.mids, d.watermark, DeliveryState::Delivered)
        }
        "read" => {
            let r: Read = decode(payload, key, at)?;
            item.receipt(
                r.mid.into_iter().collect(),
                r.watermark,
                DeliveryState::Read,
            )
        }
        "reaction" => item.reaction(decode(payload, key, at)?),
        _ => item.edit(decode(payload, key, at)?),
    }
}

impl Item<'_> {
    fn error(&self, what: &str) -> ParseError {
        ParseError(format!("{}: {what}", self.at))
    }

    /// The customer's id: the sender, or for echoes (account → customer) the recipient.
    fn contact(&self, what: &str, echo: bool) -> Result<String, ParseError> {
        let (party, role) = if echo {
            (&self.recipient, "recipient")
        } else {
            (&self.sender, "sender")
        };
        party
            .clone()
            .ok_or_else(|| self.error(&format!("{what} without {role}.id")))
    }

    /// When the item happened: its `timestamp`, else the entry's `time`.
    fn instant(&self, what: &str) -> Result<(i64, DateTime<Utc>), ParseError> {
        let millis = self.timestamp.or(self.cx.time).ok_or_else(|| {
            self.error(&format!(
                "{what} without \"timestamp\" and entry without \"time\""
            ))
        })?;
        let at = datetime(millis)
            .ok_or_else(|| self.error(&format!("timestamp {millis} out of range")))?;
        Ok((millis, at))
    }

    fn message(&self, msg: &Message) -> Result<NormalizedEvent, ParseError> {
        let mid = msg
            .mid
            .clone()
            .filter(|m| !m.is_empty())
            .ok_or_else(|| self.error("message without \"mid\""))?;
        let echo = msg.is_echo == Some(true);
        let contact = self.contact("message", echo)?;
        let (_, sent_at) = self.instant("message")?;
        if msg.is_deleted == Some(true) {
            return Ok(NormalizedEvent::MessageDeleted(MessageDeletion {
                account_external_id: self.cx.account.to_owned(),
                contact_external_id: contact,
                external_message_id: mid,
                at: sent_at,
            }));
        }
        let reply_to = msg.reply_to.as_ref();
        let story = reply_to.and_then(|r| r.story.as_ref()).map(|s| Attachment {
            kind: "story_reply".to_owned(),
            url: s.url.clone(),
            title: None,
            payload: s.id.as_ref().map(|id| serde_json::json!({ "id": id })),
        });
        let unsupported = (msg.is_unsupported == Some(true)).then(|| Attachment {
            kind: "unsupported".to_owned(),
            ..Attachment::default()
        });
        let attachments = story
            .into_iter()
            .chain(msg.attachments.iter().flatten().map(attachment))
            .chain(unsupported)
            .collect();
        let inbound = InboundMessage {
            account_external_id: self.cx.account.to_owned(),
            contact: ContactRef {
                external_id: contact.clone(),
                display_name: None,
            },
            thread_external_id: contact,
            external_message_id: mid,
            sent_at,
            text: msg.text.clone(),
            attachments,
            reply_to: reply_to
                .and_then(|r| r.mid.clone())
                .filter(|m| !m.is_empty()),
            app_id: msg.app_id.clone(),
            quick_reply: msg.quick_reply.as_ref().and_then(|q| q.payload.clone()),
            postback: None,
            referral: msg.referral.as_ref().map(referral),
            standby: self.standby,
        };
        Ok(if echo {
            NormalizedEvent::MessageEcho(inbound)
        } else {
            NormalizedEvent::MessageReceived(inbound)
        })
    }

    fn postback(&self, postback: Postback) -> Result<NormalizedEvent, ParseError> {
        let contact = self.contact("postback", false)?;
        let (millis, sent_at) = self.instant("postback")?;
        // Before v11.0 a postback has no mid: derive one from what identifies it in the bytes.
        let mid = postback
            .mid
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| format!("postback:{contact}:{millis}"));
        Ok(NormalizedEvent::MessageReceived(InboundMessage {
            account_external_id: self.cx.account.to_owned(),
            contact: ContactRef {
                external_id: contact.clone(),
                display_name: None,
            },
            thread_external_id: contact,
            external_message_id: mid,
            sent_at,
            text: postback.title,
            attachments: Vec::new(),
            reply_to: None,
            app_id: None,
            quick_reply: None,
            postback: postback.payload,
            referral: postback.referral.as_ref().map(referral),
            standby: self.standby,
        }))
    }

    fn referral(&self, wire: &WireReferral) -> Result<NormalizedEvent, ParseError> {
        let contact = self.contact("referral", false)?;
        let (_, at) = self.instant("referral")?;
        Ok(NormalizedEvent::Referred(ReferralEvent {
            account_external_id: self.cx.account.to_owned(),
            contact: ContactRef {
                external_id: contact,
                display_name: None,
            },
            referral: referral(wire),
            at,
        }))
    }

    fn receipt(
        &self,
        mids: Vec<String>,
        watermark: Option<i64>,
        state: DeliveryState,
    ) -> Result<NormalizedEvent, ParseError> {
        // Receipts travel customer → account: the customer is the sender.
        let contact = self.contact("receipt", false)?;
        let watermark = match watermark {
            Some(ms) => Some(
                datetime(ms).ok_or_else(|| self.error(&format!("watermark {ms} out of range")))?,
            ),
            None => None,
        };
        Ok(NormalizedEvent::DeliveryStatus(DeliveryReceipt {
            account_external_id: self.cx.account.to_owned(),
            contact_external_id: contact,
            external_message_ids: mids,
            watermark,
            state,
        }))
    }

    fn reaction(&self, reaction: Reaction) -> Result<NormalizedEvent, ParseError> {
        let mid = reaction
            .mid
            .filter(|m| !m.is_empty())
            .ok_or_else(|| self.error("reaction without \"mid\""))?;
        let contact = self.contact("reaction", false)?;
        let (_, at) = self.instant("reaction")?;
        Ok(NormalizedEvent::Reaction(MessageReaction {
            account_external_id: self.cx.account.to_owned(),
            contact_external_id: contact,
            external_message_id: mid,
            emoji: reaction.emoji,
            reaction: reaction.reaction,
            removed: reaction.action.as_deref() == Some("unreact"),
            at,
        }))
    }

    fn edit(&self, edit: MessageEdit) -> Result<NormalizedEvent, ParseError> {
        let mid = edit
            .mid
            .filter(|m| !m.is_empty())
            .ok_or_else(|| self.error("message_edit without \"mid\""))?;
        let contact = self.contact("message_edit", false)?;
        let (_, edited_at) = self.instant("message_edit")?;
        Ok(NormalizedEvent::MessageEdited(crate::types::MessageEdit {
            account_external_id: self.cx.account.to_owned(),
            contact_external_id: contact,
            external_message_id: mid,
            text: edit.text,
            edited_at,
            edit_count: edit.num_edit.and_then(|n| u32::try_from(n).ok()),
        }))
    }
}

/// One `changes[]` item.
fn change_event(raw: &Value, cx: &EntryCx<'_>, at: &str) -> Result<NormalizedEvent, ParseError> {
    let obj = as_object(raw, at)?;
    let name = match obj.get("field") {
        Some(Value::String(s)) => s.as_str(),
        Some(_) => return Err(ParseError(format!("{at}: \"field\" is not a string"))),
        None => return Err(ParseError(format!("{at}: missing \"field\""))),
    };
    let messaging = name.starts_with("message") || name.starts_with("messaging");
    let handled = messaging
        || matches!(
            name,
            "feed" | "comments" | "live_comments" | "mentions" | "standby"
        );
    if !handled {
        return Ok(ignored(cx.account, format!("changes.{name}")));
    }
    let value = obj
        .get("value")
        .filter(|v| !v.is_null())
        .ok_or_else(|| ParseError(format!("{at}: {name} change without \"value\"")))?;
    match name {
        "feed" => feed_event(value, cx, at),
        "comments" | "live_comments" => ig_comment_event(decode(value, "value", at)?, cx, at),
        "mentions" => {
            let m: IgMention = decode(value, "value", at)?;
            Ok(NormalizedEvent::Mention(Mention {
                account_external_id: cx.account.to_owned(),
                external_comment_id: m.comment_id.filter(|s| !s.is_empty()),
                media_external_id: m.media_id.filter(|s| !s.is_empty()),
                at: entry_instant(cx, at, "mention")?,
            }))
        }
        "standby" => messaging_event(value, cx, true, &format!("{at}.value")),
        _ => messaging_event(value, cx, false, &format!("{at}.value")),
    }
}

/// A Page `feed` change: comments become events, every other item is `Ignored`.
fn feed_event(value: &Value, cx: &EntryCx<'_>, at: &str) -> Result<NormalizedEvent, ParseError> {
    let obj = as_object(value, &format!("{at}.value"))?;
    let item = text_field(obj, "item", at)?;
    let Some(item) = item else {
        return Ok(ignored(cx.account, "feed".to_owned()));
    };
    if item != "comment" {
        return Ok(ignored(cx.account, format!("feed.{item}")));
    }
    let action = match text_field(obj, "verb", at)? {
        Some("add") => CommentAction::Added,
        Some("edited") => CommentAction::Edited,
        Some("remove") => CommentAction::Removed,
        Some("hide") => CommentAction::Hidden,
        Some("unhide") => CommentAction::Unhidden,
        Some(verb) => return Ok(ignored(cx.account, format!("feed.comment.{verb}"))),
        None => return Ok(ignored(cx.account, "feed.comment".to_owned())),
    };
    let c: FeedComment = decode(value, "value", at)?;
    let err = |what: &str| ParseError(format!("{at}: feed comment without {what}"));
    let comment_id = c
        .comment_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err("\"comment_id\""))?;
    let post_id = c
        .post_id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err("\"post_id\""))?;
    // A top-level comment names the post as its parent.
    let parent = c.parent_id.filter(|p| !p.is_empty() && *p != post_id);
    let (from_id, from_name) = c.from.map(|f| (f.id, f.name)).unwrap_or_default();
    let author = from_id
        .or(c.sender_id)
        .filter(|id| !id.is_empty())
        .map(|external_id| ContactRef {
            external_id,
            display_name: from_name.or(c.sender_name),
        });
    let by_account = author.as_ref().is_some_and(|a| a.external_id == cx.account);
    let at_time = match c.created_time {
        Some(ms) => datetime(ms)
            .ok_or_else(|| ParseError(format!("{at}: created_time {ms} out of range")))?,
        None => entry_instant(cx, at, "feed comment without \"created_time\"")?,
    };
    let media = [("image", c.photo), ("video", c.video)];
    let attachments = media
        .into_iter()
        .filter_map(|(kind, url)| {
            url.map(|url| Attachment {
                kind: kind.to_owned(),
                url: Some(url),
                ..Attachment::default()
            })
        })
        .collect();
    let post = c.post.unwrap_or_default();
    Ok(NormalizedEvent::Comment(CommentEvent {
        account_external_id: cx.account.to_owned(),
        action,
        post: PostRef {
            external_id: post_id,
            permalink: post.permalink_url,
            text: post.message,
            media_kind: post.status_type,
        },
        external_comment_id: comment_id,
        parent_external_id: parent,
        author,
        by_account,
        text: c.message,
        attachments,
        at: at_time,
    }))
}

/// An Instagram `comments` / `live_comments` change: always a new comment.
fn ig_comment_event(
    c: IgComment,
    cx: &EntryCx<'_>,
    at: &str,
) -> Result<NormalizedEvent, ParseError> {
    let err = |what: &str| ParseError(format!("{at}: comment without {what}"));
    let comment_id =
        c.id.filter(|s| !s.is_empty())
            .ok_or_else(|| err("\"id\""))?;
    let media = c.media.unwrap_or_default();
    let media_id = media
        .id
        .filter(|s| !s.is_empty())
        .ok_or_else(|| err("media.id"))?;
    let author = c.from.and_then(|f| {
        f.id.filter(|id| !id.is_empty())
            .map(|external_id| ContactRef {
                external_id,
                display_name: f.username,
            })
    });
    let by_account = author.as_ref().is_some_and(|a| a.external_id == cx.account);
    Ok(NormalizedEvent::Comment(CommentEvent {
        account_external_id: cx.account.to_owned(),
        action: CommentAction::Added,
        post: PostRef {
            external_id: media_id,
            permalink: None,
            text: None,
            media_kind: media.media_product_type,
        },
        external_comment_id: comment_id,
        parent_external_id: c.parent_id.filter(|s| !s.is_empty()),
        author,
        by_account,
        text: c.text,
        attachments: Vec::new(),
        at: entry_instant(cx, at, "comment")?,
    }))
}

/// The entry's `time`, for changes that carry no time of their own.
fn entry_instant(cx: &EntryCx<'_>, at: &str, what: &str) -> Result<DateTime<Utc>, ParseError> {
    let ms = cx
        .time
        .ok_or_else(|| ParseError(format!("{at}: {what} in an entry without \"time\"")))?;
    datetime(ms).ok_or_else(|| ParseError(format!("{at}: entry time {ms} out of range")))
}

fn ignored(account: &str, kind: String) -> NormalizedEvent {
    NormalizedEvent::Ignored(IgnoredEvent {
        account_external_id: account.to_owned(),
        kind,
    })
}

fn referral(wire: &WireReferral) -> Referral {
    let ads_post = wire
        .ads_context_data
        .as_ref()
        .and_then(|a| a.post_id.clone());
    Referral {
        source: wire.source.clone(),
        kind: wire.kind.clone(),
        ref_param: wire.ref_param.clone(),
        ad_id: wire.ad_id.clone(),
        post_id: wire.post_id.clone().or(ads_post),
    }
}

fn attachment(wire: &WireAttachment) -> Attachment {
    let mut payload = wire.payload.clone();
    // `url` and `title` get their own fields (a `null` one is dropped); the rest of the
    // payload is kept as sent.
    let mut take = |key: &str| match payload.as_mut() {
        Some(Value::Object(map)) if map.get(key).is_some_and(|v| v.is_string() || v.is_null()) => {
            map.remove(key).and_then(|v| v.as_str().map(str::to_owned))
        }
        _ => None,
    };
    let url = take("url").or_else(|| wire.url.clone());
    let title = take("title").or_else(|| wire.title.clone());
    let payload = payload.filter(|p| match p {
        Value::Object(map) => !map.is_empty(),
        other => !other.is_null(),
    });
    Attachment {
        kind: wire
            .kind
            .clone()
            .filter(|k| !k.is_empty())
            .unwrap_or_else(|| "unknown".to_owned()),
        url,
        title,
        payload,
    }
}

fn as_object<'a>(value: &'a Value, at: &str) -> Result<&'a Map<String, Value>, ParseError> {
    value
        .as_object()
        .ok_or_else(|| ParseError(format!("{at}: not an object")))
}

/// `obj[key]` as an array; absent or `null` is empty.
fn array<'a>(obj: &'a Map<String, Value>, key: &str, at: &str) -> Result<&'a [Value], ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ParseError(format!("{at}: \"{key}\" is not an array"))),
    }
}

/// `obj[key]` as a string; absent or `null` is `None`.
fn text_field<'a>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<&'a str>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(ParseError(format!("{at}: \"{key}\" is not a string"))),
    }
}

/// `obj[key]` as a `T`; absent or `null` is `None`.
fn field<'a, T: Deserialize<'a>>(
    obj: &'a Map<String, Value>,
    key: &str,
    at: &str,
) -> Result<Option<T>, ParseError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => decode(v, key, at).map(Some),
    }
}

/// `value` (found under `key`) as a `T`, the error naming where it was.
fn decode<'a, T: Deserialize<'a>>(value: &'a Value, key: &str, at: &str) -> Result<T, ParseError> {
    T::deserialize(value).map_err(|e| ParseError(format!("{at}: {key}: {e}")))
}

fn datetime(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
}

/// Epoch seconds or milliseconds → milliseconds: magnitudes below 10^11 are seconds (10^11 s
/// is in the year 5138, 10^11 ms in March 1973, so no real timestamp is ambiguous).
pub fn normalize_epoch_ms(value: i64) -> i64 {
    if value.unsigned_abs() < SECONDS_BELOW.unsigned_abs() {
        value.saturating_mul(1000)
    } else {
        value
    }
}

/// Escape every non-ASCII character of already-serialized JSON as `\uXXXX` with lowercase hex
/// (astral characters as a UTF-16 surrogate pair), leaving everything else — including `/` —
/// as is. This is the form Meta signs and sends, so test bodies built with it verify exactly
/// like real deliveries.
pub fn meta_escape(json: &str) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(json.len() + json.len() / 4);
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                // Writing into a String cannot fail.
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    out
}

/// `deserialize_with` helpers for ids that Meta sends as JSON strings or as JSON numbers.
pub mod string_or_number {
    use std::fmt;

    use serde::Deserialize;
    use serde::de::{self, Deserializer, Visitor};

    struct IdVisitor;

    impl<'de> Visitor<'de> for IdVisitor {
        type Value = String;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an id as a string or an integer")
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
            Ok(v.to_owned())
        }
        fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
            Ok(v.to_string())
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
            Ok(v.to_string())
        }
    }

    struct OptionVisitor;

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an id as a string, an integer or null")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            deserialize(d).map(Some)
        }
    }

    /// An id that must be present.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        d.deserialize_any(IdVisitor)
    }

    /// An optional id; `null` is `None`.
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_option(OptionVisitor)
    }

    /// A list of ids; `null` is empty.
    pub fn vec<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
        #[derive(Deserialize)]
        struct Id(#[serde(deserialize_with = "deserialize")] String);
        let ids: Option<Vec<Id>> = Option::deserialize(d)?;
        Ok(ids.unwrap_or_default().into_iter().map(|Id(s)| s).collect())
    }
}

/// `deserialize_with` helpers for epoch timestamps: integer, float or numeric string, in
/// seconds or milliseconds, always returned as milliseconds.
pub mod epoch_ms {
    use std::fmt;

    use serde::de::{self, Deserializer, Visitor};

    use super::normalize_epoch_ms;

    struct EpochVisitor;

    impl<'de> Visitor<'de> for EpochVisitor {
        type Value = Option<i64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an epoch timestamp as a number or a numeric string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(EpochVisitor)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(normalize_epoch_ms(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            i64::try_from(v)
                .map(|v| Some(normalize_epoch_ms(v)))
                .map_err(|_| E::custom(format!("timestamp {v} out of range")))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            if v.is_finite() && v.abs() < 9.0e15 {
                // Truncation is intended: sub-millisecond precision is never meaningful here.
                Ok(Some(normalize_epoch_ms(v.trunc() as i64)))
            } else {
                Err(E::custom(format!("timestamp {v} out of range")))
            }
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            let v = v.trim();
            if let Ok(n) = v.parse::<i64>() {
                return self.visit_i64(n);
            }
            match v.parse::<f64>() {
                Ok(f) => self.visit_f64(f),
                Err(_) => Err(E::custom(format!("timestamp {v:?} is not a number"))),
            }
        }
    }

    /// An optional timestamp in milliseconds; `null` is `None`.
    pub fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        d.deserialize_option(EpochVisitor)
    }
}

/// An integer that may arrive as a JSON number or a numeric string; anything else is `None`.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn ids_accept_strings_and_numbers() {
        let p: Party = serde_json::from_value(json!({"id": 12345654332_u64})).expect("number");
        assert_eq!(p.id.as_deref(), Some("12345654332"));
        let p: Party = serde_json::from_value(json!({"id": "6789012345678901"})).expect("string");
        assert_eq!(p.id.as_deref(), Some("6789012345678901"));
        let p: Party = serde_json::from_value(json!({"id": null})).expect("null");
        assert_eq!(p.id, None);
        let p: Party = serde_json::from_value(json!({})).expect("absent");
        assert_eq!(p.id, None);
        // Ids above 2^53 survive as numbers too (serde_json reads integers exactly).
        let p: Party = serde_json::from_slice(br#"{"id":18446744073709551615}"#).expect("u64::MAX");
        assert_eq!(p.id.as_deref(), Some("18446744073709551615"));
        assert!(serde_json::from_value::<Party>(json!({"id": 1.5})).is_err());
        assert!(serde_json::from_value::<Party>(json!({"id": {"nested": 1}})).is_err());

        let d: Delivery =
            serde_json::from_value(json!({"mids": ["m_1", 2], "watermark": 1})).expect("mids");
        assert_eq!(d.mids, vec!["m_1".to_owned(), "2".to_owned()]);
        let d: Delivery = serde_json::from_value(json!({"mids": null})).expect("null mids");
        assert!(d.mids.is_empty());
    }

    #[test]
    fn timestamps_accept_seconds_milliseconds_and_strings() {
        let ts = |v: serde_json::Value| {
            serde_json::from_value::<Delivery>(json!({ "watermark": v })).map(|d| d.watermark)
        };
        assert_eq!(
            ts(json!(1_718_000_000_123_i64)).ok(),
            Some(Some(1_718_000_000_123))
        );
        assert_eq!(ts(json!(1_718_000_000)).ok(), Some(Some(1_718_000_000_000)));
        assert_eq!(
            ts(json!("1718000000123")).ok(),
            Some(Some(1_718_000_000_123))
        );
        assert_eq!(
            ts(json!(" 1718000000 ")).ok(),
            Some(Some(1_718_000_000_000))
        );
        assert_eq!(
            ts(json!(1_718_000_000.9)).ok(),
            Some(Some(1_718_000_000_000))
        );
        assert_eq!(ts(json!(null)).ok(), Some(None));
        assert!(ts(json!("yesterday")).is_err());
        assert!(ts(json!(true)).is_err());
        assert_eq!(
            serde_json::from_value::<EpochMs>(json!("1718000000")).ok(),
            Some(EpochMs(1_718_000_000_000))
        );
        assert!(serde_json::from_value::<EpochMs>(json!(null)).is_err());
        assert_eq!(normalize_epoch_ms(99_999_999_999), 99_999_999_999_000);
        assert_eq!(normalize_epoch_ms(100_000_000_000), 100_000_000_000);
    }

    #[test]
    fn meta_escape_uses_lowercase_hex_and_surrogate_pairs() {
        let json =
            serde_json::Value::from("Shop ơi, áo này còn size M không? 😢 a/b \"q\"\n").to_string();
        assert_eq!(
            meta_escape(&json),
            r#""Shop \u01a1i, \u00e1o n\u00e0y c\u00f2n size M kh\u00f4ng? \ud83d\ude22 a/b \"q\"\n""#
        );
        // Escaping never changes what the JSON means.
        let back: String = serde_json::from_str(&meta_escape(&json)).expect("valid JSON");
        assert_eq!(back, "Shop ơi, áo này còn size M không? 😢 a/b \"q\"\n");
    }

    #[test]
    fn send_request_serializes_like_the_send_api_expects() {
        let req = SendTextRequest {
            recipient: SendRecipient {
                id: "6789012345678901",
            },
            messaging_type: "MESSAGE_TAG",
            tag: Some("HUMAN_AGENT"),
            message: SendTextMessage {
                text: "Dạ còn ạ"
            },
        };
        assert_eq!(
            serde_json::to_value(&req).expect("serializes"),
            json!({
                "recipient": {"id": "6789012345678901"},
                "messaging_type": "MESSAGE_TAG",
                "tag": "HUMAN_AGENT",
                "message": {"text": "Dạ còn ạ"}
            })
        );
        let plain = SendTextRequest {
            tag: None,
            messaging_type: "RESPONSE",
            ..req
        };
        let v = serde_json::to_value(&plain).expect("serializes");
        assert!(v.get("tag").is_none());
    }
}
