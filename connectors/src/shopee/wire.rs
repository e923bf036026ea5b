//! Shopee's push bodies (`shared/specs/commerce.md` §1.5.3–1.5.4) and the field conventions
//! shared with API answers: ids come as strings or numbers (chat ids exceed 2^53, so numbers
//! are read as exact integers, never through `f64`), timestamps as seconds or milliseconds.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::ParseError;
use crate::types::{
    Attachment, ContactRef, IgnoredEvent, InboundMessage, NormalizedEvent, OrderNotice,
};

/// Push code of an order status change.
pub const CODE_ORDER_STATUS: i64 = 3;
/// Push code of a tracking number assigned or changed.
pub const CODE_TRACKING_NO: i64 = 4;
/// Push code of a seller-chat (webchat) event.
pub const CODE_WEBCHAT: i64 = 10;

/// Epoch values above this are milliseconds (10^12 ms is 2001; 10^12 s is year 33658).
const MS_THRESHOLD: i64 = 1_000_000_000_000;

/// An id given as a string or an integer, as decimal text. Empty strings, floats, booleans
/// and `null` are no id: a float would have lost digits already. serde_json keeps integers up
/// to 2^64 exact, which covers Shopee's 19-digit chat ids.
pub fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// An integer given as a number or a decimal string.
pub fn int(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An epoch timestamp in seconds or milliseconds (values above 10^12 are milliseconds), as
/// a number or a decimal string. Zero and negatives are "not set".
pub fn epoch(v: Option<&Value>) -> Option<DateTime<Utc>> {
    let n = int(v).filter(|n| *n > 0)?;
    if n > MS_THRESHOLD {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
}

/// A non-empty string field.
pub fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        _ => None,
    }
}

/// The push envelope `{msg_id?, shop_id, code, timestamp, data}`. `data` may arrive as an
/// object or, in lost-push answers, as a JSON-encoded string; both are read as an object.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `msg_id`, when present and non-empty.
    pub msg_id: Option<String>,
    /// `shop_id`, absent on partner-level pushes.
    pub shop_id: Option<String>,
    /// The push code.
    pub code: i64,
    /// `timestamp`: when Shopee sent it.
    pub timestamp: Option<DateTime<Utc>>,
    /// `data`, as an object (empty when absent).
    pub data: Map<String, Value>,
}

/// Read a body's envelope.
pub fn envelope(body: &[u8]) -> Result<Envelope, ParseError> {
    let value: Value = serde_json::from_slice(body)?;
    let Value::Object(obj) = value else {
        return Err(ParseError("a Shopee push is a JSON object".to_owned()));
    };
    let code = int(obj.get("code"))
        .ok_or_else(|| ParseError("Shopee push without an integer `code`".to_owned()))?;
    let data = match obj.get("data") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
        Some(Value::String(s)) => match serde_json::from_str::<Value>(s)? {
            Value::Object(m) => m,
            _ => return Err(ParseError("Shopee push `data` is not an object".to_owned())),
        },
        Some(_) => return Err(ParseError("Shopee push `data` is not an object".to_owned())),
    };
    Ok(Envelope {
        msg_id: text(obj.get("msg_id")).map(|s| s.trim().to_owned()),
        shop_id: id_text(obj.get("shop_id")),
        code,
        timestamp: epoch(obj.get("timestamp")),
        data,
    })
}

/// The shop a push belongs to: the envelope's `shop_id`, else a chat message's own.
pub fn shop_of(env: &Envelope) -> Option<String> {
    env.shop_id.clone().or_else(|| {
        env.data
            .get("content")
            .and_then(Value::as_object)
            .and_then(|c| id_text(c.get("shop_id")))
    })
}

/// A push body → normalized events: code 3 and 4 → [`NormalizedEvent::OrderChanged`], a
/// code 10 `message` → [`NormalizedEvent::MessageReceived`] or, sent by the shop,
/// [`NormalizedEvent::MessageEcho`]; every other code or chat type →
/// [`NormalizedEvent::Ignored`] (`shopee.code_<n>`, `shopee.chat.<type>`), or nothing when
/// the push names no shop (partner-level pushes). An empty body or `{}` yields nothing.
pub fn parse_body(body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
    // A signed empty body or `{}` (a URL check, shape UNVERIFIED) carries no event.
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() || trimmed == b"{}" {
        return Ok(Vec::new());
    }
    let env = envelope(body)?;
    let shop = shop_of(&env);
    match env.code {
        CODE_ORDER_STATUS | CODE_TRACKING_NO => {
            let shop = shop.ok_or_else(|| {
                ParseError(format!(
                    "Shopee order push (code {}) without shop_id",
                    env.code
                ))
            })?;
            let order = text(env.data.get("ordersn"))
                .or_else(|| text(env.data.get("order_sn")))
                .ok_or_else(|| {
                    ParseError(format!(
                        "Shopee order push (code {}) without ordersn",
                        env.code
                    ))
                })?;
            Ok(vec![NormalizedEvent::OrderChanged(OrderNotice {
                account_external_id: shop,
                order_external_id: order,
                platform_status: text(env.data.get("status")),
                updated_at: epoch(env.data.get("update_time")),
            })])
        }
        CODE_WEBCHAT => {
            let kind = text(env.data.get("type")).unwrap_or_default();
            if kind == "message" {
                let content = env
                    .data
                    .get("content")
                    .and_then(Value::as_object)
                    .ok_or_else(|| ParseError("Shopee chat push without content".to_owned()))?;
                let shop =
                    shop.ok_or_else(|| ParseError("Shopee chat push without shop_id".to_owned()))?;
                let msg = chat_message(&shop, content, env.timestamp)?;
                return Ok(vec![msg]);
            }
            Ok(ignored(shop, format!("shopee.chat.{}", kind_word(&kind))))
        }
        code => Ok(ignored(shop, format!("shopee.code_{code}"))),
    }
}

fn kind_word(kind: &str) -> &str {
    if kind.is_empty() { "unknown" } else { kind }
}

fn ignored(shop: Option<String>, kind: String) -> Vec<NormalizedEvent> {
    shop.map(|account_external_id| {
        NormalizedEvent::Ignored(IgnoredEvent {
            account_external_id,
            kind,
        })
    })
    .into_iter()
    .collect()
}

/// One seller-chat message (a push's `data.content`, or an item of `get_message`) of `shop`.
/// The shop sent it when `from_shop_id` is the shop, or `from_id` is the shop id itself;
/// then it is an echo whose contact is the receiver. `fallback_at` is used when the message
/// carries no `created_timestamp`.
pub fn chat_message(
    shop: &str,
    m: &Map<String, Value>,
    fallback_at: Option<DateTime<Utc>>,
) -> Result<NormalizedEvent, ParseError> {
    let missing = |what: &str| ParseError(format!("Shopee chat message without {what}"));
    let id = id_text(m.get("message_id")).ok_or_else(|| missing("message_id"))?;
    let from = id_text(m.get("from_id"));
    let from_shop = id_text(m.get("from_shop_id")).filter(|s| s != "0");
    let by_shop = from_shop.as_deref() == Some(shop) || from.as_deref() == Some(shop);
    let contact = if by_shop {
        ContactRef {
            external_id: id_text(m.get("to_id")).ok_or_else(|| missing("to_id"))?,
            display_name: text(m.get("to_user_name")),
        }
    } else {
        ContactRef {
            external_id: from.ok_or_else(|| missing("from_id"))?,
            display_name: text(m.get("from_user_name")),
        }
    };
    let thread = id_text(m.get("conversation_id")).ok_or_else(|| missing("conversation_id"))?;
    let sent_at = epoch(m.get("created_timestamp"))
        .or_else(|| epoch(m.get("created_at")))
        .or(fallback_at)
        .ok_or_else(|| missing("created_timestamp"))?;
    let kind = text(m.get("message_type")).unwrap_or_else(|| "text".to_owned());
    let content = m.get("content").and_then(Value::as_object);
    let field = |k: &str| content.and_then(|c| text(c.get(k)));
    let (text_body, attachments) = match kind.as_str() {
        "text" => (field("text"), Vec::new()),
        "image" => {
            let url = field("url").or_else(|| field("image_url"));
            (
                None,
                vec![Attachment {
                    kind: "image".to_owned(),
                    url,
                    title: None,
                    payload: None,
                }],
            )
        }
        other => (
            field("text"),
            vec![Attachment {
                kind: other.to_ascii_lowercase(),
                url: field("url"),
                title: None,
                payload: content.map(|c| Value::Object(c.clone())),
            }],
        ),
    };
    let reply_to = m
        .get("quoted_msg")
        .and_then(Value::as_object)
        .and_then(|q| id_text(q.get("message_id")));
    let msg = InboundMessage {
        account_external_id: shop.to_owned(),
        contact,
        thread_external_id: thread,
        external_message_id: id,
        sent_at,
        text: text_body,
        attachments,
        reply_to,
        app_id: None,
        quick_reply: None,
        postback: None,
        referral: None,
        standby: false,
    };
    Ok(if by_shop {
        NormalizedEvent::MessageEcho(msg)
    } else {
        NormalizedEvent::MessageReceived(msg)
    })
}
