//! A Shopee order (`get_order_detail`, `shared/specs/commerce.md` §1.6–1.7) in tongdai's
//! terms: status mapping, money as integer đồng, recipient and lines.

use chrono::DateTime;
use serde_json::{Map, Value};

use super::wire::{epoch, id_text, int, text};
use crate::commerce::{MarketItem, MarketOrder, MarketRecipient, MarketStatus, parse_dong};

/// Shopee's order statuses (§1.7) and what they are in tongdai's words:
///
/// | Shopee | tongdai | why |
/// |---|---|---|
/// | `UNPAID` | `unpaid` | created, not paid |
/// | `PENDING` | `unpaid` | only with `request_order_status_pending`: held by Shopee's checks |
/// | `INVOICE_PENDING` | `unpaid` | waiting for the invoice (BR flow): not shippable yet |
/// | `READY_TO_SHIP` | `to_ship` | the seller must arrange shipment |
/// | `PROCESSED` | `packed` | shipment arranged, tracking number obtained |
/// | `RETRY_SHIP` | `packed` | the carrier's pick-up failed; waiting for a new one |
/// | `SHIPPED` | `shipped` | handed to the carrier |
/// | `TO_CONFIRM_RECEIVE` | `delivered` | the buyer received it |
/// | `COMPLETED` | `delivered` | closed |
/// | `IN_CANCEL` | `cancelled` | cancellation requested: must not ship; a refused request comes back as a new status push |
/// | `CANCELLED` | `cancelled` | |
/// | `TO_RETURN` | `returned` | return in progress |
pub fn map_status(status: &str) -> Option<MarketStatus> {
    Some(match status {
        "UNPAID" | "PENDING" | "INVOICE_PENDING" => MarketStatus::Unpaid,
        "READY_TO_SHIP" => MarketStatus::ToShip,
        "PROCESSED" | "RETRY_SHIP" => MarketStatus::Packed,
        "SHIPPED" => MarketStatus::Shipped,
        "TO_CONFIRM_RECEIVE" | "COMPLETED" => MarketStatus::Delivered,
        "IN_CANCEL" | "CANCELLED" => MarketStatus::Cancelled,
        "TO_RETURN" => MarketStatus::Returned,
        _ => return None,
    })
}

/// Why an order object could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadOrder(pub String);

/// One `get_order_detail` order of shop `shop` → [`MarketOrder`]. A status this table does
/// not know is kept verbatim and counted as `unpaid` (not shippable) with a warning.
///
/// Recipient (VN, UNVERIFIED field semantics): `state` → province, `city` → district,
/// `district` (else `town`) → ward, `full_address` → street. Shipping fee: the
/// `actual_shipping_fee` once Shopee has it, else `estimated_shipping_fee`. Discounts are
/// not in this answer (they are in the escrow detail) and stay 0; the tracking number needs
/// the logistics API and stays `None`. The buyer's note is `message_to_seller`.
pub fn market_order(shop: &str, o: &Value) -> Result<MarketOrder, BadOrder> {
    let obj = o
        .as_object()
        .ok_or_else(|| BadOrder("an order is not an object".to_owned()))?;
    let get = |k: &str| obj.get(k);
    let order_sn =
        text(get("order_sn")).ok_or_else(|| BadOrder("order without order_sn".into()))?;
    let platform_status = text(get("order_status")).unwrap_or_default();
    let status = map_status(&platform_status).unwrap_or_else(|| {
        tracing::warn!(%order_sn, status = %platform_status, "unknown Shopee order status");
        MarketStatus::Unpaid
    });
    let created_at = epoch(get("create_time"))
        .ok_or_else(|| BadOrder(format!("order {order_sn} without create_time")))?;
    let updated_at = epoch(get("update_time")).unwrap_or(created_at);
    let total = get("total_amount").and_then(parse_dong).unwrap_or(0);
    let cod = matches!(get("cod"), Some(Value::Bool(true)));
    let shipping_fee = get("actual_shipping_fee")
        .and_then(parse_dong)
        .filter(|f| *f > 0)
        .or_else(|| get("estimated_shipping_fee").and_then(parse_dong))
        .unwrap_or(0);
    let carrier = text(get("shipping_carrier")).or_else(|| {
        get("package_list")
            .and_then(Value::as_array)
            .and_then(|ps| ps.iter().find_map(|p| text(p.get("shipping_carrier"))))
    });
    let items = get("item_list")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_object).map(item).collect())
        .unwrap_or_default();
    Ok(MarketOrder {
        account_external_id: shop.to_owned(),
        external_id: order_sn,
        platform_status,
        status,
        buyer_id: id_text(get("buyer_user_id")).filter(|s| s != "0"),
        buyer_name: text(get("buyer_username")),
        recipient: get("recipient_address")
            .and_then(Value::as_object)
            .map(recipient)
            .unwrap_or_default(),
        items,
        shipping_fee,
        discount: 0,
        total,
        cod_amount: if cod { total } else { 0 },
        payment_method: text(get("payment_method")),
        carrier,
        tracking_code: None,
        note: text(get("message_to_seller")),
        created_at,
        updated_at,
        raw: o.clone(),
    })
}

fn recipient(a: &Map<String, Value>) -> MarketRecipient {
    let t = |k: &str| text(a.get(k));
    MarketRecipient {
        name: t("name"),
        phone: t("phone"),
        street: t("full_address"),
        ward: t("district").or_else(|| t("town")),
        district: t("city"),
        province: t("state"),
    }
}

fn item(i: &Map<String, Value>) -> MarketItem {
    let t = |k: &str| text(i.get(k));
    let name = match (t("item_name"), t("model_name")) {
        (Some(n), Some(m)) => format!("{n} ({m})"),
        (Some(n), None) => n,
        (None, Some(m)) => m,
        (None, None) => String::new(),
    };
    let price = |k: &str| i.get(k).and_then(parse_dong);
    MarketItem {
        item_id: id_text(i.get("item_id")),
        sku: t("model_sku").or_else(|| t("item_sku")),
        name,
        quantity: int(i.get("model_quantity_purchased"))
            .and_then(|q| i32::try_from(q).ok())
            .unwrap_or(0),
        unit_price: price("model_discounted_price")
            .filter(|p| *p > 0)
            .or_else(|| price("model_original_price"))
            .unwrap_or(0),
    }
}

/// The epoch-seconds window `[from, to)` is cut into: at most 15 days.
pub const ORDER_WINDOW_SECONDS: i64 = 15 * 86_400;

/// A `list_updated` position: the start of the current window (epoch seconds) and Shopee's
/// cursor inside it. Encoded as `<window_start>:<shopee_cursor>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    /// Start of the window being read, epoch seconds.
    pub window_start: i64,
    /// `next_cursor` Shopee gave inside that window (`""` at its start).
    pub shopee_cursor: String,
}

impl ListCursor {
    /// `<window_start>:<shopee_cursor>`.
    pub fn encode(&self) -> String {
        format!("{}:{}", self.window_start, self.shopee_cursor)
    }

    /// Read an encoded cursor; `None` when it is not one.
    pub fn decode(s: &str) -> Option<ListCursor> {
        let (start, cursor) = s.split_once(':')?;
        Some(ListCursor {
            window_start: start.parse().ok()?,
            shopee_cursor: cursor.to_owned(),
        })
    }
}

/// The inclusive `(time_from, time_to)` Shopee is asked for when the window starts at
/// `start` and the whole range ends (exclusive) at `end`: at most 15 days, and the next
/// window starts at `time_to + 1`.
pub fn window(start: i64, end: i64) -> (i64, i64) {
    let stop = end.min(start.saturating_add(ORDER_WINDOW_SECONDS));
    (start, stop - 1)
}

/// Seconds since the epoch, for a [`chrono::DateTime`] rounded up (an exclusive bound).
pub fn ceil_seconds(t: DateTime<chrono::Utc>) -> i64 {
    let s = t.timestamp();
    if t.timestamp_subsec_nanos() > 0 {
        s + 1
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_documented_status_has_a_mapping() {
        let table = [
            ("UNPAID", MarketStatus::Unpaid),
            ("PENDING", MarketStatus::Unpaid),
            ("INVOICE_PENDING", MarketStatus::Unpaid),
            ("READY_TO_SHIP", MarketStatus::ToShip),
            ("PROCESSED", MarketStatus::Packed),
            ("RETRY_SHIP", MarketStatus::Packed),
            ("SHIPPED", MarketStatus::Shipped),
            ("TO_CONFIRM_RECEIVE", MarketStatus::Delivered),
            ("COMPLETED", MarketStatus::Delivered),
            ("IN_CANCEL", MarketStatus::Cancelled),
            ("CANCELLED", MarketStatus::Cancelled),
            ("TO_RETURN", MarketStatus::Returned),
        ];
        for (shopee, ours) in table {
            assert_eq!(map_status(shopee), Some(ours), "{shopee}");
        }
        assert_eq!(map_status("ready_to_ship"), None);
        assert_eq!(map_status("SOMETHING_NEW"), None);
    }

    fn detail() -> Value {
        json!({
            "order_sn": "251214B9XAB0ST",
            "region": "VN",
            "currency": "VND",
            "cod": true,
            "order_status": "READY_TO_SHIP",
            "message_to_seller": "Giao giờ hành chính",
            "create_time": 1765689000,
            "update_time": 1765689439,
            "buyer_user_id": 123456789012345678u64,
            "buyer_username": "khach_hang",
            "total_amount": 189000.0,
            "estimated_shipping_fee": "30000.00",
            "actual_shipping_fee": 0,
            "payment_method": "Cash on Delivery",
            "shipping_carrier": "SPX Express",
            "recipient_address": {
                "name": "Nguyễn Văn A", "phone": "******789", "town": "",
                "district": "Phường Bến Nghé", "city": "Quận 1", "state": "TP. Hồ Chí Minh",
                "region": "VN", "zipcode": "", "full_address": "12 Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh"
            },
            "item_list": [
                {"item_id": 2200000000001u64, "item_name": "Áo thun", "item_sku": "AT",
                 "model_id": 1, "model_name": "Đỏ, L", "model_sku": "AT-RED-L",
                 "model_quantity_purchased": 2, "model_original_price": 99000.0,
                 "model_discounted_price": 79500.5},
                {"item_id": "2200000000002", "item_name": "Tất", "item_sku": "TAT",
                 "model_name": "", "model_sku": "", "model_quantity_purchased": 1,
                 "model_original_price": "30000", "model_discounted_price": 0}
            ]
        })
    }

    #[test]
    fn an_order_detail_maps_money_recipient_and_lines() {
        let o = market_order("336094210", &detail()).unwrap();
        assert_eq!(o.account_external_id, "336094210");
        assert_eq!(o.external_id, "251214B9XAB0ST");
        assert_eq!(o.status, MarketStatus::ToShip);
        assert_eq!(o.platform_status, "READY_TO_SHIP");
        assert_eq!(o.buyer_id.as_deref(), Some("123456789012345678"));
        assert_eq!(o.buyer_name.as_deref(), Some("khach_hang"));
        assert_eq!(o.total, 189_000);
        assert_eq!(o.cod_amount, 189_000);
        assert_eq!(o.shipping_fee, 30_000);
        assert_eq!(o.discount, 0);
        assert_eq!(o.payment_method.as_deref(), Some("Cash on Delivery"));
        assert_eq!(o.carrier.as_deref(), Some("SPX Express"));
        assert_eq!(o.note.as_deref(), Some("Giao giờ hành chính"));
        assert_eq!(o.created_at.timestamp(), 1_765_689_000);
        assert_eq!(o.updated_at.timestamp(), 1_765_689_439);
        assert_eq!(o.recipient.province.as_deref(), Some("TP. Hồ Chí Minh"));
        assert_eq!(o.recipient.district.as_deref(), Some("Quận 1"));
        assert_eq!(o.recipient.ward.as_deref(), Some("Phường Bến Nghé"));
        assert_eq!(o.recipient.phone.as_deref(), Some("******789"));
        assert_eq!(o.items.len(), 2);
        assert_eq!(o.items[0].item_id.as_deref(), Some("2200000000001"));
        assert_eq!(o.items[0].sku.as_deref(), Some("AT-RED-L"));
        assert_eq!(o.items[0].name, "Áo thun (Đỏ, L)");
        assert_eq!(o.items[0].quantity, 2);
        assert_eq!(o.items[0].unit_price, 79_501);
        assert_eq!(o.items[1].sku.as_deref(), Some("TAT"));
        assert_eq!(o.items[1].name, "Tất");
        assert_eq!(o.items[1].unit_price, 30_000);
        assert_eq!(o.raw, detail());
    }

    #[test]
    fn prepaid_orders_collect_nothing_and_unknown_statuses_are_kept() {
        let mut d = detail();
        d["cod"] = json!(false);
        d["order_status"] = json!("SOMETHING_NEW");
        d["actual_shipping_fee"] = json!(32000);
        let o = market_order("1", &d).unwrap();
        assert_eq!(o.cod_amount, 0);
        assert_eq!(o.status, MarketStatus::Unpaid);
        assert_eq!(o.platform_status, "SOMETHING_NEW");
        assert_eq!(o.shipping_fee, 32_000);
    }

    #[test]
    fn an_order_without_its_id_or_creation_time_is_refused() {
        let mut d = detail();
        d.as_object_mut().unwrap().remove("create_time");
        assert!(market_order("1", &d).is_err());
        assert!(market_order("1", &json!({"create_time": 1})).is_err());
        assert!(market_order("1", &json!([])).is_err());
    }

    #[test]
    fn windows_are_at_most_fifteen_days_and_cursors_round_trip() {
        let start = 1_700_000_000;
        assert_eq!(window(start, start + 100), (start, start + 99));
        let (from, to) = window(start, start + 40 * 86_400);
        assert_eq!(to - from, ORDER_WINDOW_SECONDS - 1);
        let c = ListCursor {
            window_start: start,
            shopee_cursor: "20:abc".to_owned(),
        };
        assert_eq!(ListCursor::decode(&c.encode()), Some(c));
        assert_eq!(ListCursor::decode("nope"), None);
        assert_eq!(ListCursor::decode("x:1"), None);
    }
}
