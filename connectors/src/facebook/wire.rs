//! Serde mirrors of Meta's Page webhook JSON (`shared/specs/social.md` §2.4) and their
//! conversion into [`NormalizedEvent`]s, plus the escaping Meta applies to the bytes it signs.
//!
//! The mirrors are deliberately lenient where Meta has been inconsistent: every id accepts a
//! JSON string or number, every timestamp accepts a number or a numeric string in seconds or
//! milliseconds, and unknown fields are ignored.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};

use crate::error::ParseError;
use crate::types::{
    Attachment, ContactRef, DeliveryReceipt, DeliveryState, InboundMessage, NormalizedEvent,
};

/// The only `object` this connector interprets; other objects (`instagram`, `user`, …) belong
/// to other connectors and parse to no events.
pub const OBJECT_PAGE: &str = "page";

/// Epoch values below this are seconds, at or above it milliseconds. 10^11 s is in the year
/// 5138 and 10^11 ms is March 1973, so no real timestamp is ambiguous.
const SECONDS_BELOW: i64 = 100_000_000_000;

/// One entry of the envelope's `entry[]`: everything that happened to one Page in one batch.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Entry {
    /// The Page id (string or number on the wire).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub id: Option<String>,
    /// When Meta built the entry, in epoch milliseconds (normalised from seconds when needed;
    /// `changes` entries carry seconds).
    #[serde(default, deserialize_with = "epoch_ms::option")]
    pub time: Option<i64>,
    /// Messaging events for the app that owns the conversation.
    #[serde(default, deserialize_with = "indexed_vec::messaging")]
    pub messaging: Vec<MessagingEvent>,
    /// Messaging events seen by this app while another app owns the thread (handover).
    #[serde(default, deserialize_with = "indexed_vec::standby")]
    pub standby: Vec<MessagingEvent>,
    /// Page field changes (`feed`, …). Kept raw; comments are handled elsewhere.
    #[serde(default)]
    pub changes: Vec<Change>,
}

/// One item of `entry[].changes[]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Change {
    /// The subscribed Page field, e.g. `feed`.
    #[serde(default)]
    pub field: Option<String>,
    /// The field-specific payload, unparsed.
    #[serde(default)]
    pub value: Option<serde_json::Value>,
}

/// One item of `messaging[]` or `standby[]`. Exactly one of the payload keys is normally set;
/// the connector dispatches on which.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct MessagingEvent {
    /// Who caused the event (the customer, or the Page for echoes).
    #[serde(default)]
    pub sender: Option<Party>,
    /// Who the event was addressed to.
    #[serde(default)]
    pub recipient: Option<Party>,
    /// When the event happened, epoch milliseconds (normalised from seconds when needed).
    #[serde(default, deserialize_with = "epoch_ms::option")]
    pub timestamp: Option<i64>,
    /// A message, or an echo of one when `is_echo` is true.
    #[serde(default)]
    pub message: Option<Message>,
    /// Delivery receipt for messages the Page sent.
    #[serde(default)]
    pub delivery: Option<Delivery>,
    /// Read receipt for messages the Page sent.
    #[serde(default)]
    pub read: Option<Read>,
    /// A button or persistent-menu tap (not turned into events yet).
    #[serde(default)]
    pub postback: Option<Postback>,
    /// A reaction to a message (not turned into events yet).
    #[serde(default)]
    pub reaction: Option<Reaction>,
    /// An edit of an earlier message (not turned into events yet).
    #[serde(default)]
    pub message_edit: Option<MessageEdit>,
}

/// `sender` / `recipient`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Party {
    /// PSID of a person or id of a Page (string or number on the wire).
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
    /// True for echoes of messages the Page sent.
    #[serde(default)]
    pub is_echo: Option<bool>,
    /// The app that sent an echoed message (number on the wire, historically).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub app_id: Option<String>,
    /// Developer metadata attached by the sending app (echoes only).
    #[serde(default)]
    pub metadata: Option<String>,
    /// Attachments, in order.
    #[serde(default)]
    pub attachments: Vec<WireAttachment>,
    /// The message this one replies to.
    #[serde(default)]
    pub reply_to: Option<ReplyTo>,
    /// The quick-reply button the person tapped.
    #[serde(default)]
    pub quick_reply: Option<QuickReply>,
    /// True when the person unsent the message.
    #[serde(default)]
    pub is_deleted: Option<bool>,
}

/// `message.attachments[]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireAttachment {
    /// `image`, `video`, `audio`, `file`, `location`, `fallback`, `template`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// Type-specific payload.
    #[serde(default)]
    pub payload: Option<AttachmentPayload>,
}

/// `message.attachments[].payload`. Only the fields tongdai uses are mirrored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AttachmentPayload {
    /// Where Meta serves the media.
    #[serde(default)]
    pub url: Option<String>,
    /// Title of a `fallback` or shared link.
    #[serde(default)]
    pub title: Option<String>,
    /// Sticker id, for stickers (number on the wire).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub sticker_id: Option<String>,
}

/// `message.reply_to`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ReplyTo {
    /// The id of the message replied to.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub mid: Option<String>,
}

/// `message.quick_reply`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct QuickReply {
    /// The developer payload of the tapped button.
    #[serde(default)]
    pub payload: Option<String>,
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

/// Parse a verified Page webhook body into normalized events.
///
/// Bodies whose `object` is not `page` yield no events. Every entry and every `messaging` and
/// `standby` item is visited; only messages, echoes, deliveries and reads produce events
/// (deleted messages and every other event type are skipped).
pub fn parse_body(body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
    let value: serde_json::Value = serde_json::from_slice(body)?;
    let object = match value.get("object") {
        Some(serde_json::Value::String(s)) => s.as_str(),
        Some(_) => return Err(ParseError("\"object\" is not a string".into())),
        None => return Err(ParseError("missing \"object\"".into())),
    };
    if object != OBJECT_PAGE {
        return Ok(Vec::new());
    }
    let entries = match value.get("entry") {
        Some(serde_json::Value::Array(a)) => a,
        Some(_) => return Err(ParseError("\"entry\" is not an array".into())),
        None => return Err(ParseError("missing \"entry\" array".into())),
    };
    let mut out = Vec::new();
    for (i, raw) in entries.iter().enumerate() {
        let entry = Entry::deserialize(raw).map_err(|e| ParseError(format!("entry[{i}]: {e}")))?;
        entry.push_events(i, &mut out)?;
    }
    Ok(out)
}

/// Best-effort `entry[].id` values of a body, in order and without repeats; empty when the
/// body is not JSON or has no entries.
pub fn entry_ids(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let mut ids: Vec<String> = Vec::new();
    let entries = value.get("entry").and_then(|e| e.as_array());
    for entry in entries.into_iter().flatten() {
        let id = match entry.get("id") {
            Some(serde_json::Value::String(s)) if !s.is_empty() => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids
}

impl Entry {
    /// Append this entry's events to `out`; `index` names the entry in error messages.
    fn push_events(&self, index: usize, out: &mut Vec<NormalizedEvent>) -> Result<(), ParseError> {
        let page_id = match self.id.as_deref() {
            Some(id) if !id.is_empty() => id,
            _ => return Err(ParseError(format!("entry[{index}]: missing \"id\""))),
        };
        let lists = [("messaging", &self.messaging), ("standby", &self.standby)];
        for (list, events) in lists {
            for (j, ev) in events.iter().enumerate() {
                let at = || format!("entry[{index}].{list}[{j}]");
                if let Some(event) = ev.to_event(page_id, self.time, &at)? {
                    out.push(event);
                }
            }
        }
        Ok(())
    }
}

impl MessagingEvent {
    /// The normalized event for this item, `None` for kinds tongdai does not handle.
    fn to_event(
        &self,
        page_id: &str,
        entry_time: Option<i64>,
        at: &dyn Fn() -> String,
    ) -> Result<Option<NormalizedEvent>, ParseError> {
        if let Some(msg) = &self.message {
            return self.message_event(msg, page_id, entry_time, at);
        }
        if let Some(delivery) = &self.delivery {
            return self
                .receipt(
                    page_id,
                    delivery.mids.clone(),
                    delivery.watermark,
                    DeliveryState::Delivered,
                    at,
                )
                .map(Some);
        }
        if let Some(read) = &self.read {
            let mids = read.mid.iter().cloned().collect();
            return self
                .receipt(page_id, mids, read.watermark, DeliveryState::Read, at)
                .map(Some);
        }
        // postback, reaction, message_edit, optin, referral, … : not handled (yet).
        Ok(None)
    }

    fn message_event(
        &self,
        msg: &Message,
        page_id: &str,
        entry_time: Option<i64>,
        at: &dyn Fn() -> String,
    ) -> Result<Option<NormalizedEvent>, ParseError> {
        // An unsend arrives as the original mid with `is_deleted`; there is nothing to ingest.
        if msg.is_deleted == Some(true) {
            return Ok(None);
        }
        let mid = match msg.mid.as_deref() {
            Some(m) if !m.is_empty() => m.to_owned(),
            _ => return Err(ParseError(format!("{}: message without \"mid\"", at()))),
        };
        let echo = msg.is_echo == Some(true);
        // Echoes go Page → customer, so the customer is the recipient.
        let (party, role) = if echo {
            (&self.recipient, "recipient")
        } else {
            (&self.sender, "sender")
        };
        let contact = party_id(party)
            .ok_or_else(|| ParseError(format!("{}: message without {role}.id", at())))?;
        let millis = self.timestamp.or(entry_time).ok_or_else(|| {
            ParseError(format!(
                "{}: message without \"timestamp\" and entry without \"time\"",
                at()
            ))
        })?;
        let sent_at = datetime(millis)
            .ok_or_else(|| ParseError(format!("{}: timestamp {millis} out of range", at())))?;
        let attachments = msg
            .attachments
            .iter()
            .map(|a| Attachment {
                kind: a.kind.clone().unwrap_or_else(|| "unknown".to_owned()),
                url: a.payload.as_ref().and_then(|p| p.url.clone()),
                ..Attachment::default()
            })
            .collect();
        let inbound = InboundMessage {
            account_external_id: page_id.to_owned(),
            contact: ContactRef {
                external_id: contact.to_owned(),
                display_name: None,
            },
            thread_external_id: contact.to_owned(),
            external_message_id: mid,
            sent_at,
            text: msg.text.clone(),
            attachments,
            reply_to: msg.reply_to.as_ref().and_then(|r| r.mid.clone()),
            app_id: msg.app_id.clone(),
            quick_reply: None,
            postback: None,
            referral: None,
            standby: false,
        };
        Ok(Some(if echo {
            NormalizedEvent::MessageEcho(inbound)
        } else {
            NormalizedEvent::MessageReceived(inbound)
        }))
    }

    fn receipt(
        &self,
        page_id: &str,
        mids: Vec<String>,
        watermark: Option<i64>,
        state: DeliveryState,
        at: &dyn Fn() -> String,
    ) -> Result<NormalizedEvent, ParseError> {
        // Receipts travel customer → Page: the customer is the sender.
        let contact = party_id(&self.sender)
            .ok_or_else(|| ParseError(format!("{}: receipt without sender.id", at())))?;
        let watermark = match watermark {
            Some(ms) => Some(
                datetime(ms)
                    .ok_or_else(|| ParseError(format!("{}: watermark {ms} out of range", at())))?,
            ),
            None => None,
        };
        Ok(NormalizedEvent::DeliveryStatus(DeliveryReceipt {
            account_external_id: page_id.to_owned(),
            contact_external_id: contact.to_owned(),
            external_message_ids: mids,
            watermark,
            state,
        }))
    }
}

fn party_id(party: &Option<Party>) -> Option<&str> {
    party
        .as_ref()
        .and_then(|p| p.id.as_deref())
        .filter(|id| !id.is_empty())
}

fn datetime(millis: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(millis)
}

/// Epoch seconds or milliseconds → milliseconds (see [`SECONDS_BELOW`]).
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

/// Sequences whose deserialization errors name the failing element, e.g. `messaging[2]: …`.
mod indexed_vec {
    use std::fmt;
    use std::marker::PhantomData;

    use serde::Deserialize;
    use serde::de::{self, Deserializer, SeqAccess, Visitor};

    use super::MessagingEvent;

    struct IndexedVisitor<T> {
        name: &'static str,
        marker: PhantomData<T>,
    }

    impl<'de, T: Deserialize<'de>> Visitor<'de> for IndexedVisitor<T> {
        type Value = Vec<T>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "an array for {}", self.name)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_seq(self)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
            loop {
                let i = out.len();
                match seq.next_element::<T>() {
                    Ok(Some(item)) => out.push(item),
                    Ok(None) => return Ok(out),
                    Err(e) => return Err(de::Error::custom(format!("{}[{i}]: {e}", self.name))),
                }
            }
        }
    }

    fn indexed<'de, D, T>(d: D, name: &'static str) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        d.deserialize_option(IndexedVisitor {
            name,
            marker: PhantomData,
        })
    }

    pub(super) fn messaging<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<MessagingEvent>, D::Error> {
        indexed(d, "messaging")
    }

    pub(super) fn standby<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<MessagingEvent>, D::Error> {
        indexed(d, "standby")
    }
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
            serde_json::from_value::<MessagingEvent>(json!({ "timestamp": v })).map(|e| e.timestamp)
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
