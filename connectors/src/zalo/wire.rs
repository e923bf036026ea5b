//! Zalo OA webhook bodies (`shared/specs/social.md` §4.2) and their conversion into
//! normalized events. One event per body; ids may arrive as strings or numbers and the
//! `timestamp` as a string or a number of milliseconds.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::ParseError;
use crate::facebook::wire::{epoch_ms, string_or_number};
use crate::types::{
    Attachment, ContactRef, DeliveryReceipt, DeliveryState, IgnoredEvent, InboundMessage,
    MessageReaction, NormalizedEvent, Referral, ReferralEvent,
};

/// The envelope every Zalo OA event shares.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Envelope {
    /// The Zalo app id (part of the signature).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub app_id: Option<String>,
    /// The user's app-scoped id.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub user_id_by_app: Option<String>,
    /// `user_send_text`, `follow`, `user_seen_message`, …
    #[serde(default)]
    pub event_name: Option<String>,
    /// Milliseconds since the epoch.
    #[serde(default, deserialize_with = "epoch_ms::option")]
    pub timestamp: Option<i64>,
    /// Who sent it (the user for user events, the OA for `oa_send_*` and receipts).
    #[serde(default)]
    pub sender: Option<Party>,
    /// Who it was sent to.
    #[serde(default)]
    pub recipient: Option<Party>,
    /// The OA (on `follow` / `unfollow`).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub oa_id: Option<String>,
    /// The user who followed or unfollowed.
    #[serde(default)]
    pub follower: Option<Party>,
    /// Where a follow came from.
    #[serde(default)]
    pub source: Option<String>,
    /// The message, for message, reaction and receipt events.
    #[serde(default)]
    pub message: Option<WireMessage>,
    /// What the user submitted on `user_submit_info`.
    #[serde(default)]
    pub info: Option<Map<String, Value>>,
}

/// `{ "id": … }`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Party {
    /// The id (OA id or OA-scoped user id).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub id: Option<String>,
}

/// `message` of an event.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireMessage {
    /// The message id (dedupe key).
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub msg_id: Option<String>,
    /// Text or caption.
    #[serde(default)]
    pub text: Option<String>,
    /// Attachments.
    #[serde(default)]
    pub attachments: Option<Vec<WireAttachment>>,
    /// The quoted message.
    #[serde(default, deserialize_with = "string_or_number::option")]
    pub quote_msg_id: Option<String>,
    /// The messages seen (`user_seen_message`).
    #[serde(default, deserialize_with = "string_or_number::vec")]
    pub msg_ids: Vec<String>,
    /// The reaction (`user_reacted_message`, `oa_reacted_message`).
    #[serde(default)]
    pub react_icon: Option<String>,
}

/// `message.attachments[]`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct WireAttachment {
    /// `image`, `gif`, `sticker`, `file`, `audio`, `video`, `link`, `location`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `{url, thumbnail?, name?, coordinates?, …}`.
    #[serde(default)]
    pub payload: Option<Value>,
}

/// Which side of an event the OA is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A user wrote or acted: sender = user, recipient = OA.
    User,
    /// The OA sent, or a receipt for what it sent: sender = OA, recipient = user.
    Oa,
    /// `follow` / `unfollow`: `oa_id` and `follower`.
    Follow,
}

/// The events this connector knows, and which side the OA is on. `None` for names Zalo may
/// send that tongdai does not know.
pub fn side(event: &str) -> Option<Side> {
    match event {
        "follow" | "unfollow" => Some(Side::Follow),
        "user_received_message" | "user_seen_message" | "oa_reacted_message" => Some(Side::Oa),
        e if e.starts_with("oa_send_") => Some(Side::Oa),
        e if e.starts_with("user_") || e.starts_with("anonymous_") => Some(Side::User),
        _ => None,
    }
}

/// Parse the envelope; anything that is not a JSON object is a [`ParseError`].
pub fn envelope(body: &[u8]) -> Result<Envelope, ParseError> {
    let value: Value = serde_json::from_slice(body)?;
    if !value.is_object() {
        return Err(ParseError("a Zalo event must be a JSON object".into()));
    }
    serde_json::from_value(value).map_err(|e| ParseError(format!("invalid Zalo event: {e}")))
}

/// The OA id an event belongs to: recipient for user events, sender for OA events, `oa_id`
/// for follows.
pub fn oa_id(env: &Envelope) -> Option<String> {
    let id = |p: &Option<Party>| p.as_ref().and_then(|p| p.id.clone());
    match side(env.event_name.as_deref()?)? {
        Side::User => id(&env.recipient),
        Side::Oa => id(&env.sender),
        Side::Follow => env.oa_id.clone().or_else(|| id(&env.recipient)),
    }
}

/// A body → normalized events (at most one).
pub fn parse_body(body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
    let env = envelope(body)?;
    let name = env
        .event_name
        .clone()
        .ok_or_else(|| ParseError("Zalo event without event_name".into()))?;
    let Some(side) = side(&name) else {
        return Ok(Vec::new());
    };
    let cx = Cx::new(&env, &name, side)?;
    let ev = match name.as_str() {
        "follow" => NormalizedEvent::Referred(ReferralEvent {
            account_external_id: cx.oa,
            contact: ContactRef {
                external_id: cx.user,
                display_name: None,
            },
            referral: Referral {
                source: env.source.clone(),
                kind: Some("follow".into()),
                ..Referral::default()
            },
            at: cx.at,
        }),
        "unfollow" | "add_user_to_tag" | "user_asking_product" => {
            NormalizedEvent::Ignored(IgnoredEvent {
                account_external_id: cx.oa,
                kind: name,
            })
        }
        "user_received_message" | "user_seen_message" => {
            let msg = env.message.clone().unwrap_or_default();
            let mut ids = msg.msg_ids;
            if let Some(id) = msg.msg_id
                && !ids.contains(&id)
            {
                ids.push(id);
            }
            if ids.is_empty() {
                return Err(ParseError(format!("{name} without msg_id or msg_ids")));
            }
            NormalizedEvent::DeliveryStatus(DeliveryReceipt {
                account_external_id: cx.oa,
                contact_external_id: cx.user,
                external_message_ids: ids,
                watermark: None,
                state: if name == "user_seen_message" {
                    DeliveryState::Read
                } else {
                    DeliveryState::Delivered
                },
            })
        }
        "user_reacted_message" | "oa_reacted_message" => {
            let msg = env.message.clone().unwrap_or_default();
            let id = msg
                .msg_id
                .ok_or_else(|| ParseError(format!("{name} without message.msg_id")))?;
            let icon = msg.react_icon.filter(|s| !s.trim().is_empty());
            NormalizedEvent::Reaction(MessageReaction {
                account_external_id: cx.oa.clone(),
                // Who reacted: the user, or the OA itself.
                contact_external_id: if side == Side::Oa { cx.oa } else { cx.user },
                external_message_id: id,
                removed: icon.is_none(),
                emoji: icon,
                reaction: None,
                at: cx.at,
            })
        }
        "user_submit_info" | "user_submitted_info" => submitted_info(&env, cx),
        n if n.starts_with("user_send_")
            || n.starts_with("oa_send_")
            || n == "anonymous_send_text" =>
        {
            let msg = env
                .message
                .clone()
                .ok_or_else(|| ParseError(format!("{name} without message")))?;
            let id = msg
                .msg_id
                .clone()
                .ok_or_else(|| ParseError(format!("{name} without message.msg_id")))?;
            let attachments: Vec<Attachment> = msg
                .attachments
                .unwrap_or_default()
                .iter()
                .map(attachment)
                .collect();
            let text = msg.text.filter(|t| !t.is_empty()).or_else(|| {
                // A business card carries its details as a description.
                attachments
                    .iter()
                    .find_map(|a| a.payload.as_ref()?.get("description")?.as_str())
                    .filter(|_| name.contains("business_card"))
                    .map(str::to_owned)
            });
            let m = InboundMessage {
                account_external_id: cx.oa,
                contact: ContactRef {
                    external_id: cx.user.clone(),
                    display_name: None,
                },
                thread_external_id: cx.user,
                external_message_id: id,
                sent_at: cx.at,
                text,
                attachments,
                reply_to: msg.quote_msg_id,
                app_id: None,
                quick_reply: None,
                postback: None,
                referral: None,
                standby: false,
            };
            if side == Side::Oa {
                NormalizedEvent::MessageEcho(m)
            } else {
                NormalizedEvent::MessageReceived(m)
            }
        }
        _ => return Ok(Vec::new()),
    };
    Ok(vec![ev])
}

/// The fields every event needs: the OA, the user and when.
struct Cx {
    oa: String,
    user: String,
    at: DateTime<Utc>,
}

impl Cx {
    fn new(env: &Envelope, name: &str, side: Side) -> Result<Cx, ParseError> {
        let id = |p: &Option<Party>| p.as_ref().and_then(|p| p.id.clone());
        let (oa, user) = match side {
            Side::User => (id(&env.recipient), id(&env.sender)),
            Side::Oa => (id(&env.sender), id(&env.recipient)),
            Side::Follow => (
                env.oa_id.clone().or_else(|| id(&env.recipient)),
                id(&env.follower).or_else(|| id(&env.sender)),
            ),
        };
        let oa = oa.ok_or_else(|| ParseError(format!("{name}: no OA id")))?;
        let user = user.ok_or_else(|| ParseError(format!("{name}: no user id")))?;
        let ms = env
            .timestamp
            .ok_or_else(|| ParseError(format!("{name} without timestamp")))?;
        let at = DateTime::from_timestamp_millis(ms)
            .ok_or_else(|| ParseError(format!("{name}: timestamp {ms} out of range")))?;
        Ok(Cx { oa, user, at })
    }
}

/// `user_submit_info`: the user shared their name, phone and address with the OA. It becomes
/// a message whose text carries them (so the phone reaches the contact, and a lead follows, by
/// the same path as a phone typed in a chat), with the submitted fields as a `contact_info`
/// attachment.
fn submitted_info(env: &Envelope, cx: Cx) -> NormalizedEvent {
    let info = env.info.clone().unwrap_or_default();
    let field = |k: &str| {
        info.get(k).and_then(|v| match v {
            Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let name = field("name");
    let phone = field("phone");
    let address: Vec<String> = ["address", "ward", "district", "city"]
        .into_iter()
        .filter_map(field)
        .collect();
    let mut parts = Vec::new();
    parts.extend(name.clone());
    parts.extend(phone);
    if !address.is_empty() {
        parts.push(address.join(", "));
    }
    let text = format!("Thông tin liên hệ: {}", parts.join(" · "));
    let ms = cx.at.timestamp_millis();
    NormalizedEvent::MessageReceived(InboundMessage {
        account_external_id: cx.oa,
        contact: ContactRef {
            external_id: cx.user.clone(),
            display_name: name,
        },
        external_message_id: format!("submit_info:{}:{ms}", cx.user),
        thread_external_id: cx.user,
        sent_at: cx.at,
        text: Some(text),
        attachments: vec![Attachment {
            kind: "contact_info".into(),
            url: None,
            title: None,
            payload: Some(Value::Object(info)),
        }],
        reply_to: None,
        app_id: None,
        quick_reply: None,
        postback: None,
        referral: None,
        standby: false,
    })
}

fn attachment(wire: &WireAttachment) -> Attachment {
    let payload = wire.payload.clone().filter(|p| !p.is_null());
    let str_of = |k: &str| {
        payload
            .as_ref()
            .and_then(|p| p.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Attachment {
        kind: wire
            .kind
            .clone()
            .unwrap_or_else(|| "unknown".into())
            .to_lowercase(),
        url: str_of("url").or_else(|| str_of("thumbnail")),
        title: str_of("name").or_else(|| str_of("title")),
        payload,
    }
}
