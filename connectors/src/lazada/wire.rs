//! Lazada push bodies (`shared/specs/commerce.md` §2.5.3) and the lenient readers every
//! Lazada answer needs: ids as strings or numbers (numbers beyond 2^53 read exactly, never
//! through `f64`), epoch times in seconds or milliseconds, `site` spelled four ways.
//!
//! These helpers are Lazada's own; the Shopee connector keeps its own copy (no shared helper
//! module yet).

use std::fmt;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use serde_json::Value;

use crate::error::ParseError;
use crate::types::{ChatNotice, IgnoredEvent, NormalizedEvent, OrderNotice};

/// Epoch values at or above this are milliseconds (§2.5.3: "treat values above 10^12 as ms").
pub const MS_THRESHOLD: i64 = 1_000_000_000_000;

/// Trade order status change, forward and reverse.
pub const TYPE_TRADE_ORDER: i64 = 0;
/// Reverse order (return / refund) status.
pub const TYPE_REVERSE_ORDER: i64 = 10;
/// IM session update.
pub const TYPE_IM_SESSION: i64 = 19;

/// An id written as a JSON string or integer, as text. Integers are read as `u64`/`i64` by
/// the deserializer (exact up to 2^64), never as `f64`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LenientId(pub Option<String>);

impl<'de> Deserialize<'de> for LenientId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LenientId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id as a string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LenientId, E> {
                let v = v.trim();
                Ok(LenientId((!v.is_empty()).then(|| v.to_owned())))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LenientId, E> {
                Ok(LenientId(Some(v.to_string())))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LenientId, E> {
                Ok(LenientId(Some(v.to_string())))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LenientId, E> {
                Err(E::custom(format!(
                    "id {v} is not an integer (or too large to read exactly)"
                )))
            }
            fn visit_unit<E: de::Error>(self) -> Result<LenientId, E> {
                Ok(LenientId(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<LenientId, E> {
                Ok(LenientId(None))
            }
        }
        d.deserialize_any(V)
    }
}

impl LenientId {
    /// The id, if present and not empty.
    pub fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

/// An integer written as a JSON number or a string of digits (`"1603698638"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LenientInt(pub Option<i64>);

impl<'de> Deserialize<'de> for LenientInt {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        Ok(LenientInt(int_value(&v)))
    }
}

/// An integer from a JSON number (integral) or a string of digits.
pub fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An id from a JSON string or integer, as text.
pub fn id_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// An epoch value in seconds or milliseconds (≥ 10^12) → milliseconds.
pub fn epoch_ms(value: i64) -> i64 {
    if value.abs() >= MS_THRESHOLD {
        value
    } else {
        value.saturating_mul(1000)
    }
}

/// An epoch value in seconds or milliseconds → an instant.
pub fn epoch_time(value: i64) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp_millis(epoch_ms(value))
}

/// `site` as one spelling: lowercase, `-` → `_` (`LAZADA-SG` → `lazada_sg`).
pub fn normalize_site(site: &str) -> String {
    site.trim().to_ascii_lowercase().replace('-', "_")
}

/// The envelope of every push.
#[derive(Debug, Clone, Deserialize)]
pub struct PushEnvelope {
    /// The seller the push is for (absent on broadcasts such as type 12).
    #[serde(default)]
    pub seller_id: LenientId,
    /// The message type (0 orders, 19 IM, …).
    #[serde(default)]
    pub message_type: LenientInt,
    /// Type-specific fields.
    #[serde(default)]
    pub data: Value,
    /// When Lazada sent it, seconds or milliseconds.
    #[serde(default)]
    pub timestamp: LenientInt,
    /// `lazada_vn`, `lazada-sg`, `LAZADA_SG` …; see [`PushEnvelope::site`].
    #[serde(default, rename = "site")]
    pub raw_site: Option<String>,
}

impl PushEnvelope {
    /// The site, normalized ([`normalize_site`]).
    pub fn site(&self) -> Option<String> {
        self.raw_site
            .as_deref()
            .filter(|s| !s.trim().is_empty())
            .map(normalize_site)
    }

    /// When Lazada sent it.
    pub fn sent_at(&self) -> Option<DateTime<Utc>> {
        self.timestamp.0.and_then(epoch_time)
    }

    /// The seller, else (IM pushes) the seller-side `user_account_id`.
    pub fn seller(&self) -> Option<String> {
        if let Some(id) = self.seller_id.get() {
            return Some(id.to_owned());
        }
        let seller_side = self
            .data
            .get("user_account_type")
            .and_then(int_value)
            .is_some_and(|t| t == 2);
        seller_side
            .then(|| self.data.get("user_account_id").and_then(id_value))
            .flatten()
    }
}

/// Read the envelope of a push body.
pub fn envelope(body: &[u8]) -> Result<PushEnvelope, ParseError> {
    let env: PushEnvelope = serde_json::from_slice(body)?;
    Ok(env)
}

/// The fields of a type-0 push that identify one status change (§2.8 dedupe key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderChangeKey {
    /// Seller id.
    pub seller_id: String,
    /// `trade_order_id`.
    pub trade_order_id: String,
    /// `order_status`, verbatim.
    pub order_status: String,
    /// `status_update_time` in milliseconds (sent in seconds or ms).
    pub status_update_ms: Option<i64>,
}

/// The dedupe fields of a type-0 push; `None` for other types or when an id is missing.
pub fn order_change_key(env: &PushEnvelope) -> Option<OrderChangeKey> {
    if env.message_type.0 != Some(TYPE_TRADE_ORDER) {
        return None;
    }
    Some(OrderChangeKey {
        seller_id: env.seller()?,
        trade_order_id: env.data.get("trade_order_id").and_then(id_value)?,
        order_status: env
            .data
            .get("order_status")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        status_update_ms: env
            .data
            .get("status_update_time")
            .and_then(int_value)
            .map(epoch_ms),
    })
}

/// A verified push body → normalized events (§2.5.3): order pushes (types 0 and 10) →
/// [`NormalizedEvent::OrderChanged`], IM session updates (19) →
/// [`NormalizedEvent::ChatChanged`], every other type → [`NormalizedEvent::Ignored`] named
/// `lazada.type_<n>`.
pub fn parse_body(body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
    let env = envelope(body)?;
    let Some(kind) = env.message_type.0 else {
        return Err(ParseError("Lazada push without message_type".into()));
    };
    let seller = env.seller();
    let need_seller = || {
        seller
            .clone()
            .ok_or_else(|| ParseError(format!("Lazada push type {kind} without seller_id")))
    };
    let event = match kind {
        TYPE_TRADE_ORDER | TYPE_REVERSE_ORDER => {
            let order = env
                .data
                .get("trade_order_id")
                .and_then(id_value)
                .ok_or_else(|| {
                    ParseError(format!("Lazada push type {kind} without trade_order_id"))
                })?;
            let updated_at = env
                .data
                .get("status_update_time")
                .and_then(int_value)
                .and_then(epoch_time)
                .or_else(|| env.sent_at());
            NormalizedEvent::OrderChanged(OrderNotice {
                account_external_id: need_seller()?,
                order_external_id: order,
                platform_status: env
                    .data
                    .get("order_status")
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
                updated_at,
            })
        }
        TYPE_IM_SESSION => {
            let session = env
                .data
                .get("session_id")
                .and_then(id_value)
                .ok_or_else(|| ParseError("Lazada IM push without session_id".into()))?;
            NormalizedEvent::ChatChanged(ChatNotice {
                account_external_id: need_seller()?,
                session_external_id: session,
            })
        }
        other => NormalizedEvent::Ignored(IgnoredEvent {
            account_external_id: seller.unwrap_or_default(),
            kind: format!("lazada.type_{other}"),
        }),
    };
    Ok(vec![event])
}
