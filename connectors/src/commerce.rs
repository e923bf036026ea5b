//! Marketplace orders in tongdai's terms (Shopee, Lazada, Tiki): what a connector hands the hub
//! after fetching an order, and the `Orders` capability that fetches them. Pushes only say that
//! something changed ([`crate::NormalizedEvent::OrderChanged`],
//! [`crate::NormalizedEvent::ChatChanged`]); the hub then fetches the order or the chat through
//! the connector and upserts it by the platform's order id.
//!
//! Money is integer đồng: platforms send floats ("189000.00", 189000.0) which connectors parse as
//! decimals and round, never through `f64` arithmetic on totals.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::ConnectorError;
use crate::types::{AccountCtx, HttpCtx};

/// Where a marketplace order is in its life, in tongdai's words. The platform's own status is
/// kept beside it ([`MarketOrder::platform_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MarketStatus {
    /// Placed, not paid yet (non-COD) or waiting for the platform's checks.
    Unpaid,
    /// Paid or COD accepted: the seller must prepare it.
    ToShip,
    /// Packed / shipment arranged, waiting for pick-up.
    Packed,
    /// Handed to the carrier.
    Shipped,
    /// The buyer received it.
    Delivered,
    /// Came back to the seller (refused, failed delivery, return).
    Returned,
    /// Cancelled before delivery.
    Cancelled,
}

/// One line of a marketplace order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketItem {
    /// The platform's item (product) id.
    pub item_id: Option<String>,
    /// The seller's SKU (model SKU first, then item SKU).
    pub sku: Option<String>,
    /// Product name, with the variation when there is one.
    pub name: String,
    /// Units.
    pub quantity: i32,
    /// Price of one unit as the buyer paid it, integer đồng.
    pub unit_price: i64,
}

/// Who receives a marketplace order. Platforms may mask parts of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketRecipient {
    /// Name.
    pub name: Option<String>,
    /// Phone as the platform gives it (possibly masked, e.g. `******789`).
    pub phone: Option<String>,
    /// Street and house number, or the platform's full address line.
    pub street: Option<String>,
    /// Ward.
    pub ward: Option<String>,
    /// District.
    pub district: Option<String>,
    /// Province or city.
    pub province: Option<String>,
}

/// A marketplace order as fetched from the platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketOrder {
    /// The platform's id of the shop/seller account.
    pub account_external_id: String,
    /// The platform's order id (Shopee `order_sn`, Lazada `order_id`, Tiki `code`).
    pub external_id: String,
    /// The platform's status, verbatim.
    pub platform_status: String,
    /// The same in tongdai's words.
    pub status: MarketStatus,
    /// The buyer's platform id, when given.
    pub buyer_id: Option<String>,
    /// The buyer's name or username, when given.
    pub buyer_name: Option<String>,
    /// Delivery recipient.
    pub recipient: MarketRecipient,
    /// Lines.
    pub items: Vec<MarketItem>,
    /// Shipping fee the buyer pays, integer đồng.
    pub shipping_fee: i64,
    /// Discounts (vouchers) on the order, integer đồng.
    pub discount: i64,
    /// What the buyer pays in total, integer đồng.
    pub total: i64,
    /// Cash to collect on delivery (0 when prepaid).
    pub cod_amount: i64,
    /// The platform's payment method name.
    pub payment_method: Option<String>,
    /// Carrier name.
    pub carrier: Option<String>,
    /// Tracking number.
    pub tracking_code: Option<String>,
    /// Buyer's note to the seller.
    pub note: Option<String>,
    /// When it was placed.
    pub created_at: DateTime<Utc>,
    /// When the platform last changed it.
    pub updated_at: DateTime<Utc>,
    /// The platform's order object(s), verbatim, for support and replays.
    pub raw: serde_json::Value,
}

/// A page of order ids changed in a time range (reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderIdPage {
    /// Order ids, as the platform lists them.
    pub ids: Vec<String>,
    /// Pass back to read the next page; `None` at the end of the range.
    pub next_cursor: Option<String>,
}

/// Fetching a marketplace shop's orders.
#[async_trait]
pub trait Orders: Send + Sync {
    /// The orders with these ids (at most [`Orders::max_batch`] at once); ids the platform
    /// does not know are left out.
    async fn get_orders(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        ids: &[String],
    ) -> Result<Vec<MarketOrder>, ConnectorError>;

    /// How many ids one [`Orders::get_orders`] call takes (Shopee 50).
    fn max_batch(&self) -> usize;

    /// One page of the ids of orders updated in `[from, to)`; `cursor` is `None` first, then
    /// the previous page's. A range longer than the platform allows is the connector's to
    /// split (Shopee: 15 days).
    async fn list_updated(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<OrderIdPage, ConnectorError>;
}

/// Parse a platform money value ("189000.00", 189000, 189000.5) as integer đồng, rounding half
/// away from zero; `None` for anything that is not a number.
pub fn parse_dong(v: &serde_json::Value) -> Option<i64> {
    let text = match v {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    let (neg, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.as_str()),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if int.is_empty() || !int.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut whole: i64 = int.parse().ok()?;
    if frac.as_bytes().first().is_some_and(|d| *d >= b'5') {
        whole = whole.checked_add(1)?;
    }
    Some(if neg { -whole } else { whole })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn money_parses_as_integer_dong_from_strings_and_numbers() {
        assert_eq!(parse_dong(&json!("189000.00")), Some(189_000));
        assert_eq!(parse_dong(&json!(189000)), Some(189_000));
        assert_eq!(parse_dong(&json!(189000.5)), Some(189_001));
        assert_eq!(parse_dong(&json!("1234.49")), Some(1234));
        assert_eq!(parse_dong(&json!("-30000")), Some(-30_000));
        assert_eq!(parse_dong(&json!("abc")), None);
        assert_eq!(parse_dong(&json!("1e5")), None);
        assert_eq!(parse_dong(&json!(null)), None);
        assert_eq!(parse_dong(&json!("")), None);
    }
}
