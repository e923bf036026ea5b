//! External shops (a website, a POS) pushing their orders into tongdai: the documented JSON
//! order schema of `POST /webhooks/shop/{channel_id}`, parsed with clear errors. Requests are
//! Standard Webhooks signed with the channel's own secret ([`crate::standard_webhooks`]).
//!
//! ```json
//! {"type": "order.created",            // or order.updated, order.cancelled
//!  "timestamp": "2026-12-01T03:04:05Z",
//!  "data": {"id": "WEB-1001",          // the shop's order id: string or number
//!           "items": [{"sku": "POLO-M", "name": "Áo Polo M", "quantity": 1, "unit_price": 250000}],
//!           "recipient": {"name": "Nguyễn Văn A", "phone": "0912345678",
//!                         "address": {"street": "72 Thành Thái", "ward": "Phường 14",
//!                                     "district": "Quận 10", "province": "TP. Hồ Chí Minh"}},
//!           "shipping_fee": 30000, "discount": 0, "cod_amount": 280000,
//!           "note": "Gọi trước khi giao", "created_at": "2026-12-01T03:00:00Z"}}
//! ```
//!
//! Amounts are integers in VND; `district` is optional (Vietnam's 2025 reform removed that
//! level); `cod_amount` defaults to the total; `order.cancelled` needs only `data.id`.

use serde::Deserialize;
use serde_json::Value;

use crate::error::ParseError;

/// What happened to the shop's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    /// A new order (or a retry of one already received: treated as an update).
    Created,
    /// The order changed.
    Updated,
    /// The shop cancelled it.
    Cancelled,
}

impl EventType {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Created => "order.created",
            EventType::Updated => "order.updated",
            EventType::Cancelled => "order.cancelled",
        }
    }
}

/// One line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Item {
    /// The shop's SKU.
    #[serde(default)]
    pub sku: Option<String>,
    /// Product name.
    pub name: String,
    /// How many (positive).
    pub quantity: i32,
    /// Price of one, integer VND.
    pub unit_price: i64,
}

/// Where to deliver.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Address {
    /// House number and street.
    pub street: String,
    /// Ward (phường/xã).
    pub ward: String,
    /// District, where the carrier still needs it.
    #[serde(default)]
    pub district: Option<String>,
    /// Province or city.
    pub province: String,
}

/// Who receives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Recipient {
    /// Name.
    pub name: String,
    /// Phone as the buyer typed it.
    pub phone: String,
    /// Address.
    pub address: Address,
}

/// The shop's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    /// The shop's order id (numbers are turned into their decimal string).
    pub id: String,
    /// Lines (empty for `order.cancelled`).
    pub items: Vec<Item>,
    /// Recipient (`None` only for `order.cancelled`).
    pub recipient: Option<Recipient>,
    /// Shipping fee charged to the buyer.
    pub shipping_fee: i64,
    /// Discount.
    pub discount: i64,
    /// Cash to collect on delivery; `None`: the total.
    pub cod_amount: Option<i64>,
    /// Note for the carrier.
    pub note: Option<String>,
    /// When the shop took it (ISO 8601, kept as sent).
    pub created_at: Option<String>,
    /// Why it was cancelled (`order.cancelled`).
    pub reason: Option<String>,
}

/// One verified request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventType,
    /// When (as sent).
    pub timestamp: Option<String>,
    /// The order.
    pub order: Order,
}

#[derive(Deserialize)]
struct WireEvent {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    timestamp: Option<String>,
    data: Value,
}

#[derive(Deserialize)]
struct WireOrder {
    id: Value,
    #[serde(default)]
    items: Vec<Item>,
    recipient: Option<Recipient>,
    #[serde(default)]
    shipping_fee: i64,
    #[serde(default)]
    discount: i64,
    #[serde(default)]
    cod_amount: Option<i64>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    created_at: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// An id sent as a string or an integer, as its string.
pub fn id_string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() && s.len() <= 128 => Some(s.trim().to_owned()),
        Value::Number(n) if n.is_u64() || n.is_i64() => Some(n.to_string()),
        _ => None,
    }
}

/// Parse a request body. Errors name the field (`data.items[0].unit_price: invalid type…`).
/// An event type this schema does not define (a shop's `order.paid`, say) is `Ok(None)`:
/// acknowledged and ignored, never refused.
pub fn parse(body: &[u8]) -> Result<Option<Event>, ParseError> {
    let wire: WireEvent = serde_json::from_slice(body)?;
    let kind = match wire.kind.as_str() {
        "order.created" => EventType::Created,
        "order.updated" => EventType::Updated,
        "order.cancelled" => EventType::Cancelled,
        _ => return Ok(None),
    };
    let data: WireOrder = serde_json::from_value(wire.data).map_err(|e| {
        let what = e.to_string();
        ParseError(format!("data: {what}"))
    })?;
    let id = id_string(&data.id)
        .ok_or_else(|| ParseError("data.id: a non-empty string or an integer".into()))?;
    if kind != EventType::Cancelled {
        if data.recipient.is_none() {
            return Err(ParseError("data.recipient: missing".into()));
        }
        if data.items.is_empty() {
            return Err(ParseError("data.items: at least one item".into()));
        }
        for (i, it) in data.items.iter().enumerate() {
            if it.quantity <= 0 {
                return Err(ParseError(format!(
                    "data.items[{i}].quantity: must be positive"
                )));
            }
            if it.unit_price < 0 {
                return Err(ParseError(format!(
                    "data.items[{i}].unit_price: cannot be negative"
                )));
            }
        }
        if data.shipping_fee < 0 || data.discount < 0 || data.cod_amount.is_some_and(|c| c < 0) {
            return Err(ParseError(
                "data: shipping_fee, discount and cod_amount cannot be negative".into(),
            ));
        }
    }
    Ok(Some(Event {
        kind,
        timestamp: wire.timestamp,
        order: Order {
            id,
            items: data.items,
            recipient: data.recipient,
            shipping_fee: data.shipping_fee,
            discount: data.discount,
            cod_amount: data.cod_amount,
            note: data.note,
            created_at: data.created_at,
            reason: data.reason,
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = r#"{"type":"order.created","timestamp":"2026-12-01T03:04:05Z",
      "data":{"id":1001,"items":[{"sku":"POLO-M","name":"Áo Polo M","quantity":2,"unit_price":250000}],
      "recipient":{"name":"Nguyễn Văn A","phone":"0912 345 678",
        "address":{"street":"72 Thành Thái","ward":"Phường 14","province":"TP. Hồ Chí Minh"}},
      "shipping_fee":30000,"note":"Gọi trước"}}"#;

    #[test]
    fn parses_the_documented_schema_with_numeric_ids_and_no_district() {
        let e = parse(BODY.as_bytes()).unwrap().unwrap();
        assert_eq!(e.kind, EventType::Created);
        assert_eq!(e.order.id, "1001");
        assert_eq!(e.order.items[0].quantity, 2);
        assert_eq!(e.order.shipping_fee, 30000);
        assert_eq!(e.order.discount, 0);
        assert_eq!(e.order.cod_amount, None);
        let r = e.order.recipient.unwrap();
        assert_eq!(r.address.district, None);
        let s = BODY.replace("1001", "\"WEB-1001\"");
        assert_eq!(parse(s.as_bytes()).unwrap().unwrap().order.id, "WEB-1001");
    }

    #[test]
    fn explains_what_is_wrong() {
        let e = parse(BODY.replace("250000", "250000.5").as_bytes()).unwrap_err();
        assert!(e.0.starts_with("data:"), "{e}");
        assert!(
            parse(BODY.replace("order.created", "order.paid").as_bytes())
                .unwrap()
                .is_none(),
            "unknown types are ignored"
        );
        let e = parse(BODY.replace("\"quantity\":2", "\"quantity\":0").as_bytes()).unwrap_err();
        assert_eq!(e.0, "data.items[0].quantity: must be positive");
        let e = parse(BODY.replace("1001", "null").as_bytes()).unwrap_err();
        assert!(e.0.starts_with("data.id"), "{e}");
        assert!(parse(b"not json").is_err());
        let cancel = parse(br#"{"type":"order.cancelled","data":{"id":"7","reason":"het hang"}}"#)
            .unwrap()
            .unwrap();
        assert_eq!(cancel.kind, EventType::Cancelled);
        assert_eq!(cancel.order.reason.as_deref(), Some("het hang"));
    }
}
