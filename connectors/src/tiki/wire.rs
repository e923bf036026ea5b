//! Tiki wire formats (`shared/specs/commerce.md` §3): the event-queue pull answer, event types,
//! order statuses, orders and sellers. Pure functions, no HTTP.
//!
//! Several shapes are UNVERIFIED in the spec (§6 item 4). Each assumption lives in exactly one
//! function here, named for what it decides, with a unit test that documents it:
//! [`pull_batch`] (pull answer), [`seller_external_id`] (which seller id names an account),
//! [`recipient`] (shipping address field names), [`map_status`] (the status list),
//! [`parse_time`] (time formats) and [`filter_date`] (the list filter's date format).

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::Value;

use crate::commerce::{MarketItem, MarketOrder, MarketRecipient, MarketStatus, parse_dong};
use crate::error::ConnectorError;
use crate::types::{IgnoredEvent, NormalizedEvent, OrderNotice};

/// A new order reached `queueing` (Tiki accepted it).
pub const EVENT_ORDER_CREATED: &str = "ORDER_CREATED_SUCCESSFULLY";
/// An order's status changed.
pub const EVENT_ORDER_STATUS: &str = "ORDER_STATUS_UPDATED";
/// The event types the hub subscribes a queue to.
pub const ORDER_EVENT_TYPES: [&str; 2] = [EVENT_ORDER_CREATED, EVENT_ORDER_STATUS];
/// Epoch values at or above this are milliseconds.
const MS_THRESHOLD: i64 = 1_000_000_000_000;
/// Vietnam's offset: Tiki writes local times without an offset in it.
const VN_OFFSET_SECONDS: i32 = 7 * 3600;

fn vn() -> FixedOffset {
    FixedOffset::east_opt(VN_OFFSET_SECONDS).expect("valid offset")
}

/// An id written as a JSON string or integer, as text (`None` for empty, null, other types).
pub fn id_value(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// An integer written as a JSON number or a string of digits.
pub fn int_value(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(id_value)
}

/// A Tiki time. UNVERIFIED formats, all accepted: RFC 3339 with an offset
/// (`2025-01-15T10:04:05+07:00`), a local `YYYY-MM-DD HH:MM:SS` or `YYYY-MM-DDTHH:MM:SS`
/// read in Vietnam's time (+07:00), and epoch numbers (or digit strings) in seconds or
/// milliseconds (≥ 10^12).
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    if let Some(n) = int_value(v) {
        return if n >= MS_THRESHOLD {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        };
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .and_then(|n| vn().from_local_datetime(&n).single())
    .map(|t| t.with_timezone(&Utc))
}

/// The value of `updated_from_date` (and other date filters) of `GET /integration/v2/orders`:
/// `YYYY-MM-DD HH:MM:SS` in Vietnam's time. UNVERIFIED: the doc names the filter, not its
/// format; this is the format Tiki's own order times use.
pub fn filter_date(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn())
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

// ---- event queue -----------------------------------------------------------------------------

/// One event of a pulled batch.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueEvent {
    /// The event's id (string or number in the answer).
    pub id: Option<String>,
    /// `type`, e.g. `ORDER_STATUS_UPDATED`.
    pub kind: String,
    /// `sid`: the seller the event is about.
    pub sid: Option<String>,
    /// `created_at`.
    pub created_at: Option<DateTime<Utc>>,
    /// `payload`, parsed when it came as a JSON string.
    pub payload: Value,
    /// `version`, when given.
    pub version: Option<String>,
}

/// One pull answer: the batch's ack id (to send on the next pull) and its events, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct PulledBatch {
    /// `ack_id`; `None` when the answer has none (an empty batch).
    pub ack_id: Option<String>,
    /// The events, in queue order.
    pub events: Vec<QueueEvent>,
}

/// Read a pull answer leniently. UNVERIFIED shape (§3.3): `{ack_id, events: [{id, type, sid,
/// created_at, payload, version}]}`; this also accepts the same object under `data`, the
/// event list under `data` or `items`, ids as strings or numbers, the type under `type`,
/// `event_type` or `eventType`, `sid` or `seller_id`, and `payload` as an object or a JSON
/// string. An event without a type is skipped; an answer that is not an object is an error.
pub fn pull_batch(answer: &Value) -> Result<PulledBatch, ConnectorError> {
    let body = match answer.get("data") {
        Some(d @ Value::Object(_)) => d,
        _ => answer,
    };
    if !body.is_object() {
        return Err(ConnectorError::Transport(
            "Tiki pull answer is not an object".into(),
        ));
    }
    let list = ["events", "data", "items"]
        .iter()
        .find_map(|k| body.get(*k).and_then(Value::as_array))
        .cloned()
        .unwrap_or_default();
    let events = list
        .iter()
        .filter_map(|e| {
            let kind = ["type", "event_type", "eventType"]
                .iter()
                .find_map(|k| text(e, k))?;
            let payload = match e.get("payload") {
                Some(Value::String(s)) => {
                    serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone()))
                }
                Some(v) => v.clone(),
                None => Value::Null,
            };
            Some(QueueEvent {
                id: text(e, "id"),
                kind,
                sid: text(e, "sid").or_else(|| text(e, "seller_id")),
                created_at: e.get("created_at").and_then(parse_time),
                payload,
                version: text(e, "version"),
            })
        })
        .collect();
    Ok(PulledBatch {
        ack_id: text(body, "ack_id").or_else(|| text(body, "ackId")),
        events,
    })
}

/// A queue event in tongdai's terms. Order events become [`NormalizedEvent::OrderChanged`]
/// for the seller named by the event's `sid` (or `fallback_account` when it has none),
/// carrying `order_code`, `status` and `created_at`; an order event without `order_code`,
/// product events and unknown types become [`NormalizedEvent::Ignored`] named
/// `tiki.<TYPE>`.
pub fn queue_event(ev: &QueueEvent, fallback_account: &str) -> NormalizedEvent {
    let account = ev
        .sid
        .clone()
        .unwrap_or_else(|| fallback_account.to_owned());
    let is_order = ev.kind == EVENT_ORDER_CREATED || ev.kind == EVENT_ORDER_STATUS;
    match text(&ev.payload, "order_code").filter(|_| is_order) {
        Some(code) => NormalizedEvent::OrderChanged(OrderNotice {
            account_external_id: account,
            order_external_id: code,
            platform_status: text(&ev.payload, "status"),
            updated_at: ev.created_at,
        }),
        None => NormalizedEvent::Ignored(IgnoredEvent {
            account_external_id: account,
            kind: format!("tiki.{}", ev.kind),
        }),
    }
}

// ---- sellers, statuses, orders ------------------------------------------------------------------

/// The account id of a seller from `GET /integration/v2/sellers/me`. UNVERIFIED choice: `sid`
/// (documented as deprecated, but it is what queue events and subscriptions carry, so events
/// route to the account without a lookup), falling back to `id` when `sid` is missing.
pub fn seller_external_id(seller: &Value) -> Option<String> {
    text(seller, "sid").or_else(|| text(seller, "id"))
}

/// A Tiki order status in tongdai's words; `None` for a status not in the table (the caller
/// keeps the raw status, see [`order_status`]). The list is UNVERIFIED (§3.2); the table:
///
/// | Tiki | tongdai |
/// |---|---|
/// | `waiting_payment`, `payment_review`, `processing` | Unpaid (not accepted by Tiki yet) |
/// | `queueing`, `paid`, `seller_confirmed`, `picking`, `packaging` | ToShip |
/// | `finished_packing`, `ready_to_ship` | Packed |
/// | `handover_to_partner`, `shipping` | Shipped |
/// | `successful_delivery`, `delivered`, `complete`, `closed` | Delivered |
/// | `returned` | Returned |
/// | `canceled`, `cancelled`, `seller_canceled` | Cancelled |
pub fn map_status(status: &str) -> Option<MarketStatus> {
    Some(match status.trim().to_ascii_lowercase().as_str() {
        "waiting_payment" | "payment_review" | "processing" => MarketStatus::Unpaid,
        "queueing" | "paid" | "seller_confirmed" | "picking" | "packaging" => MarketStatus::ToShip,
        "finished_packing" | "ready_to_ship" => MarketStatus::Packed,
        "handover_to_partner" | "shipping" => MarketStatus::Shipped,
        "successful_delivery" | "delivered" | "complete" | "closed" => MarketStatus::Delivered,
        "returned" => MarketStatus::Returned,
        "canceled" | "cancelled" | "seller_canceled" => MarketStatus::Cancelled,
        _ => return None,
    })
}

/// [`map_status`], with an unknown status as `ToShip`: the order exists and nothing says it is
/// done, so the seller keeps seeing it (the raw status stays in `platform_status`).
pub fn order_status(status: &str) -> MarketStatus {
    map_status(status).unwrap_or(MarketStatus::ToShip)
}

/// The recipient of a Tiki order. UNVERIFIED field names (read from integrators' code):
/// `shipping.address.{full_name, phone, street, ward, district, region}`; also accepted:
/// `name`, `province`/`city` for the province, `address` for the street, and the same object
/// at `shipping_address` or `address` on the order.
pub fn recipient(order: &Value) -> MarketRecipient {
    let addr = order
        .get("shipping")
        .and_then(|s| s.get("address"))
        .or_else(|| order.get("shipping_address"))
        .or_else(|| order.get("address").filter(|a| a.is_object()))
        .cloned()
        .unwrap_or(Value::Null);
    let first = |keys: &[&str]| keys.iter().find_map(|k| text(&addr, k));
    MarketRecipient {
        name: first(&["full_name", "name"]),
        phone: first(&["phone", "phone_number"]),
        street: first(&["street", "address"]),
        ward: first(&["ward"]),
        district: first(&["district"]),
        province: first(&["region", "province", "city"]),
    }
}

fn money(v: &Value, keys: &[&str]) -> Option<i64> {
    keys.iter().find_map(|k| v.get(*k).and_then(parse_dong))
}

/// One `items[]` line: `product.{id, sku, seller_product_code, name}` and
/// `invoice.{quantity, price}` (flat `quantity`/`price` also read).
fn item(line: &Value) -> MarketItem {
    let product = line.get("product").cloned().unwrap_or(Value::Null);
    let invoice = line.get("invoice").cloned().unwrap_or(Value::Null);
    let quantity = invoice
        .get("quantity")
        .or_else(|| line.get("quantity"))
        .and_then(int_value)
        .and_then(|q| i32::try_from(q).ok())
        .unwrap_or(1);
    MarketItem {
        item_id: text(&product, "id").or_else(|| text(line, "product_id")),
        sku: text(&product, "seller_product_code")
            .or_else(|| text(&product, "sku"))
            .or_else(|| text(line, "sku")),
        name: text(&product, "name")
            .or_else(|| text(line, "name"))
            .unwrap_or_default(),
        quantity,
        unit_price: money(&invoice, &["price"])
            .or_else(|| money(line, &["price"]))
            .unwrap_or(0),
    }
}

/// A `GET /integration/v2/orders/{code}` order → [`MarketOrder`] for the seller
/// `account`. Fields (§3.2, CODE m28): `code`, `status`, `created_at`, `updated_at`,
/// `customer.{id, full_name}`, `invoice.{grand_total, shipping_amount_after_discount,
/// discount_amount, collectible_amount}`, `payment.method`, `shipping.{partner_name,
/// tracking_code}`, `note`, `items[]`; the recipient by [`recipient`]. An order without a
/// `code` is an error.
pub fn map_order(account: &str, order: &Value) -> Result<MarketOrder, ConnectorError> {
    let code = text(order, "code")
        .ok_or_else(|| ConnectorError::Transport("Tiki order without code".into()))?;
    let platform_status = text(order, "status").unwrap_or_default();
    let invoice = order.get("invoice").cloned().unwrap_or(Value::Null);
    let customer = order.get("customer").cloned().unwrap_or(Value::Null);
    let shipping = order.get("shipping").cloned().unwrap_or(Value::Null);
    let items: Vec<MarketItem> = order
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(item)
        .collect();
    let items_total: i64 = items
        .iter()
        .map(|i| i.unit_price * i64::from(i.quantity))
        .sum();
    let shipping_fee = money(
        &invoice,
        &["shipping_amount_after_discount", "shipping_fee"],
    )
    .unwrap_or(0);
    let discount = money(&invoice, &["discount_amount", "discount"])
        .unwrap_or(0)
        .abs();
    let total =
        money(&invoice, &["grand_total", "total"]).unwrap_or(items_total + shipping_fee - discount);
    let payment_method = order
        .get("payment")
        .and_then(|p| text(p, "method"))
        .or_else(|| text(&invoice, "payment_method"));
    let cod_amount = money(&invoice, &["collectible_amount", "cod_amount"]).unwrap_or_else(|| {
        if payment_method.as_deref() == Some("cod") {
            total
        } else {
            0
        }
    });
    let created_at = order
        .get("created_at")
        .and_then(parse_time)
        .unwrap_or(DateTime::UNIX_EPOCH);
    Ok(MarketOrder {
        account_external_id: account.to_owned(),
        external_id: code,
        status: order_status(&platform_status),
        platform_status,
        buyer_id: text(&customer, "id"),
        buyer_name: text(&customer, "full_name").or_else(|| text(&customer, "name")),
        recipient: recipient(order),
        items,
        shipping_fee,
        discount,
        total,
        cod_amount,
        payment_method,
        carrier: text(&shipping, "partner_name"),
        tracking_code: text(&shipping, "tracking_code"),
        note: text(order, "note").or_else(|| text(order, "customer_note")),
        created_at,
        updated_at: order
            .get("updated_at")
            .and_then(parse_time)
            .unwrap_or(created_at),
        raw: order.clone(),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn pull_answer_in_the_assumed_shape() {
        let b = pull_batch(&json!({"ack_id": "ack-1", "events": [
            {"id": "e1", "type": "ORDER_CREATED_SUCCESSFULLY", "sid": "969BEA75",
             "created_at": "2025-01-15T10:04:05+07:00",
             "payload": {"order_code": "239545064", "status": "queueing"}, "version": "v1"}
        ]}))
        .unwrap();
        assert_eq!(b.ack_id.as_deref(), Some("ack-1"));
        assert_eq!(b.events.len(), 1);
        let e = &b.events[0];
        assert_eq!(e.id.as_deref(), Some("e1"));
        assert_eq!(e.kind, EVENT_ORDER_CREATED);
        assert_eq!(e.sid.as_deref(), Some("969BEA75"));
        assert_eq!(e.created_at, Some(at("2025-01-15T03:04:05Z")));
        assert_eq!(e.payload["order_code"], "239545064");
        assert_eq!(e.version.as_deref(), Some("v1"));
    }

    #[test]
    fn pull_answer_variations_are_read() {
        // Under `data`, numeric ids, payload as a JSON string, epoch milliseconds, seller_id.
        let b = pull_batch(&json!({"data": {"ack_id": 77, "events": [
            {"id": 12, "event_type": "ORDER_STATUS_UPDATED", "seller_id": 4242,
             "created_at": 1_736_910_245_000_i64,
             "payload": "{\"order_code\":239545064,\"status\":\"shipping\"}"},
            {"id": 13, "payload": {}},
            {"id": "14", "type": "PRODUCT_PRICE_UPDATED", "created_at": 1_736_910_245}
        ]}}))
        .unwrap();
        assert_eq!(b.ack_id.as_deref(), Some("77"));
        assert_eq!(b.events.len(), 2, "an event without a type is skipped");
        assert_eq!(b.events[0].id.as_deref(), Some("12"));
        assert_eq!(b.events[0].sid.as_deref(), Some("4242"));
        assert_eq!(b.events[0].payload["status"], "shipping");
        assert_eq!(b.events[0].created_at, Some(at("2025-01-15T03:04:05Z")));
        assert_eq!(b.events[1].created_at, Some(at("2025-01-15T03:04:05Z")));
        let empty = pull_batch(&json!({"ack_id": null, "events": []})).unwrap();
        assert_eq!(
            empty,
            PulledBatch {
                ack_id: None,
                events: vec![]
            }
        );
        assert!(pull_batch(&json!([1, 2])).is_err());
    }

    #[test]
    fn order_events_become_order_changed_and_others_are_ignored() {
        let b = pull_batch(&json!({"ack_id": "a", "events": [
            {"id": 1, "type": "ORDER_STATUS_UPDATED", "sid": "S1", "created_at": 1_736_910_245,
             "payload": {"order_code": 239545064_i64, "status": "shipping"}},
            {"id": 2, "type": "PRODUCT_PRICE_UPDATED", "sid": "S1",
             "payload": {"product_id": 5, "price_from": 1, "price_to": 2}},
            {"id": 3, "type": "SOMETHING_NEW", "payload": {"order_code": "1"}},
            {"id": 4, "type": "ORDER_CREATED_SUCCESSFULLY", "payload": {"status": "queueing"}}
        ]}))
        .unwrap();
        let evs: Vec<NormalizedEvent> = b
            .events
            .iter()
            .map(|e| queue_event(e, "FALLBACK"))
            .collect();
        assert_eq!(
            evs[0],
            NormalizedEvent::OrderChanged(OrderNotice {
                account_external_id: "S1".into(),
                order_external_id: "239545064".into(),
                platform_status: Some("shipping".into()),
                updated_at: Some(at("2025-01-15T03:04:05Z")),
            })
        );
        assert_eq!(
            evs[1],
            NormalizedEvent::Ignored(IgnoredEvent {
                account_external_id: "S1".into(),
                kind: "tiki.PRODUCT_PRICE_UPDATED".into()
            })
        );
        assert_eq!(
            evs[2],
            NormalizedEvent::Ignored(IgnoredEvent {
                account_external_id: "FALLBACK".into(),
                kind: "tiki.SOMETHING_NEW".into()
            })
        );
        assert!(
            matches!(&evs[3], NormalizedEvent::Ignored(i) if i.kind == "tiki.ORDER_CREATED_SUCCESSFULLY")
        );
    }

    #[test]
    fn seller_account_id_is_sid_then_id() {
        assert_eq!(
            seller_external_id(&json!({"id": 123, "sid": "969BEA75", "name": "Shop"})).as_deref(),
            Some("969BEA75")
        );
        assert_eq!(
            seller_external_id(&json!({"id": 123})).as_deref(),
            Some("123")
        );
        assert_eq!(seller_external_id(&json!({"name": "x"})), None);
    }

    #[test]
    fn every_listed_status_maps_and_unknown_defaults_to_to_ship() {
        use MarketStatus::*;
        let table = [
            ("waiting_payment", Unpaid),
            ("payment_review", Unpaid),
            ("processing", Unpaid),
            ("queueing", ToShip),
            ("paid", ToShip),
            ("seller_confirmed", ToShip),
            ("picking", ToShip),
            ("packaging", ToShip),
            ("finished_packing", Packed),
            ("ready_to_ship", Packed),
            ("handover_to_partner", Shipped),
            ("shipping", Shipped),
            ("successful_delivery", Delivered),
            ("delivered", Delivered),
            ("complete", Delivered),
            ("closed", Delivered),
            ("returned", Returned),
            ("canceled", Cancelled),
            ("seller_canceled", Cancelled),
        ];
        for (raw, want) in table {
            assert_eq!(map_status(raw), Some(want), "{raw}");
        }
        assert_eq!(map_status(" Shipping "), Some(Shipped));
        assert_eq!(map_status("brand_new_status"), None);
        assert_eq!(order_status("brand_new_status"), ToShip);
    }

    #[test]
    fn recipient_reads_the_assumed_shipping_address() {
        let r = recipient(&json!({"shipping": {"address": {
            "full_name": "Nguyễn Văn A", "phone": "0901234567", "street": "12 Lê Lợi",
            "ward": "Phường Bến Nghé", "district": "Quận 1", "region": "Hồ Chí Minh"}}}));
        assert_eq!(r.name.as_deref(), Some("Nguyễn Văn A"));
        assert_eq!(r.phone.as_deref(), Some("0901234567"));
        assert_eq!(r.street.as_deref(), Some("12 Lê Lợi"));
        assert_eq!(r.ward.as_deref(), Some("Phường Bến Nghé"));
        assert_eq!(r.district.as_deref(), Some("Quận 1"));
        assert_eq!(r.province.as_deref(), Some("Hồ Chí Minh"));
        let alt = recipient(&json!({"shipping_address": {"name": "B", "province": "Hà Nội"}}));
        assert_eq!(alt.name.as_deref(), Some("B"));
        assert_eq!(alt.province.as_deref(), Some("Hà Nội"));
        assert_eq!(recipient(&json!({})), MarketRecipient::default());
    }

    #[test]
    fn order_maps_money_items_and_keeps_unknown_status() {
        let o = map_order(
            "S1",
            &json!({"code": 239545064_i64, "status": "mystery", "created_at": "2025-01-15 10:04:05",
                "updated_at": "2025-01-15T11:00:00+07:00",
                "customer": {"id": 77, "full_name": "Trần B"},
                "invoice": {"grand_total": "219000.00", "shipping_amount_after_discount": 30000,
                            "discount_amount": "-10000", "collectible_amount": 219000.4},
                "payment": {"method": "cod"},
                "shipping": {"partner_name": "TikiNOW", "tracking_code": "TK123"},
                "items": [{"product": {"id": 9, "name": "Áo", "sku": "T-9", "seller_product_code": "AO-1"},
                           "invoice": {"quantity": "2", "price": "99500.00"}}]}),
        )
        .unwrap();
        assert_eq!(o.external_id, "239545064");
        assert_eq!(o.platform_status, "mystery");
        assert_eq!(o.status, MarketStatus::ToShip);
        assert_eq!(o.total, 219_000);
        assert_eq!(o.shipping_fee, 30_000);
        assert_eq!(o.discount, 10_000);
        assert_eq!(o.cod_amount, 219_000);
        assert_eq!(o.buyer_name.as_deref(), Some("Trần B"));
        assert_eq!(o.created_at, at("2025-01-15T03:04:05Z"));
        assert_eq!(o.updated_at, at("2025-01-15T04:00:00Z"));
        assert_eq!(o.items[0].sku.as_deref(), Some("AO-1"));
        assert_eq!(o.items[0].quantity, 2);
        assert_eq!(o.items[0].unit_price, 99_500);
        assert_eq!(o.carrier.as_deref(), Some("TikiNOW"));
        assert!(map_order("S1", &json!({"status": "queueing"})).is_err());
    }

    #[test]
    fn filter_date_is_local_vietnam_time() {
        assert_eq!(
            filter_date(at("2025-01-15T03:04:05Z")),
            "2025-01-15 10:04:05"
        );
        assert_eq!(
            parse_time(&json!(filter_date(at("2025-01-15T03:04:05Z")))),
            Some(at("2025-01-15T03:04:05Z"))
        );
    }
}
