//! Orders: the state machine draft → confirmed → pushed → packed → shipped →
//! delivered | returned | cancelled, the amounts, and what confirming requires.

use serde::{Deserialize, Serialize};

use crate::domain::phone::Phone;

/// Where an order is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Being written by an agent.
    Draft,
    /// Checked and confirmed; goes to fulfillment.
    Confirmed,
    /// Fulfillment received it (2xx to the push).
    Pushed,
    /// Packed.
    Packed,
    /// Handed to the carrier.
    Shipped,
    /// Delivered (and, for COD, paid).
    Delivered,
    /// Came back (refused or undeliverable).
    Returned,
    /// Cancelled before shipping.
    Cancelled,
}

impl OrderStatus {
    /// Every status, in flow order.
    pub const ALL: [OrderStatus; 8] = [
        OrderStatus::Draft,
        OrderStatus::Confirmed,
        OrderStatus::Pushed,
        OrderStatus::Packed,
        OrderStatus::Shipped,
        OrderStatus::Delivered,
        OrderStatus::Returned,
        OrderStatus::Cancelled,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            OrderStatus::Draft => "draft",
            OrderStatus::Confirmed => "confirmed",
            OrderStatus::Pushed => "pushed",
            OrderStatus::Packed => "packed",
            OrderStatus::Shipped => "shipped",
            OrderStatus::Delivered => "delivered",
            OrderStatus::Returned => "returned",
            OrderStatus::Cancelled => "cancelled",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<OrderStatus> {
        OrderStatus::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// No further change is possible.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            OrderStatus::Delivered | OrderStatus::Returned | OrderStatus::Cancelled
        )
    }

    /// Whether the order may still be edited (items, recipient, amounts).
    pub fn is_editable(self) -> bool {
        matches!(
            self,
            OrderStatus::Draft | OrderStatus::Confirmed | OrderStatus::Pushed
        )
    }

    fn rank(self) -> u8 {
        match self {
            OrderStatus::Draft => 0,
            OrderStatus::Confirmed => 1,
            OrderStatus::Pushed => 2,
            OrderStatus::Packed => 3,
            OrderStatus::Shipped => 4,
            OrderStatus::Delivered | OrderStatus::Returned => 5,
            OrderStatus::Cancelled => 6,
        }
    }

    /// Whether an order may go from `self` to `to`. Forward along the flow (fulfillment may
    /// report a later step without the earlier ones: shipped right after confirmed), never back;
    /// delivered or returned only once shipped (a carrier may report it from packed);
    /// cancelled until shipped; a final status stays.
    pub fn can_move_to(self, to: OrderStatus) -> bool {
        if self == to || self.is_final() {
            return false;
        }
        match to {
            OrderStatus::Draft => false,
            OrderStatus::Confirmed => self == OrderStatus::Draft,
            OrderStatus::Cancelled => self.rank() < OrderStatus::Shipped.rank(),
            OrderStatus::Delivered | OrderStatus::Returned => {
                self.rank() >= OrderStatus::Pushed.rank()
            }
            _ => self != OrderStatus::Draft && to.rank() > self.rank(),
        }
    }
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Item {
    /// Stock-keeping unit.
    pub sku: Option<String>,
    /// Product name.
    pub name: String,
    /// How many.
    pub quantity: i32,
    /// Price of one, in VND.
    pub unit_price: i64,
}

/// The money of an order, in VND.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Totals {
    /// Sum of the lines.
    pub subtotal: i64,
    /// Shipping charged to the buyer.
    pub shipping_fee: i64,
    /// Discount.
    pub discount: i64,
    /// subtotal + shipping − discount.
    pub total: i64,
}

/// The totals of `items` with a fee and a discount (saturating, never negative).
pub fn totals(items: &[Item], shipping_fee: i64, discount: i64) -> Totals {
    let subtotal = items.iter().fold(0i64, |acc, i| {
        acc.saturating_add(i64::from(i.quantity).saturating_mul(i.unit_price))
    });
    let total = subtotal
        .saturating_add(shipping_fee)
        .saturating_sub(discount)
        .max(0);
    Totals {
        subtotal,
        shipping_fee,
        discount,
        total,
    }
}

/// What an order must have before it can be confirmed.
pub struct ConfirmInput<'a> {
    /// Recipient name.
    pub recipient_name: Option<&'a str>,
    /// Recipient phone as typed or stored.
    pub phone: Option<&'a str>,
    /// Street line.
    pub street: Option<&'a str>,
    /// Ward.
    pub ward: Option<&'a str>,
    /// Province.
    pub province: Option<&'a str>,
    /// Lines.
    pub items: &'a [Item],
    /// COD amount.
    pub cod_amount: i64,
    /// Order total.
    pub total: i64,
}

/// Why an order cannot be confirmed (each problem once, with the field it concerns).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// The field: `recipient_name`, `phone`, `address.street`, `address.ward`,
    /// `address.province`, `items`, `cod_amount`.
    pub field: &'static str,
    /// What is wrong (English; the UI has its own wording per field).
    pub message: &'static str,
}

fn blank(s: Option<&str>) -> bool {
    s.is_none_or(|s| s.trim().is_empty())
}

/// Check an order for confirmation: a recipient, a valid Vietnamese mobile number, a street,
/// ward and province (district is optional since the 2025 reform), at least one item with a
/// positive quantity and a non-negative price, and a COD amount between 0 and the total.
/// Returns the normalized phone when everything holds.
pub fn check_confirmable(o: &ConfirmInput<'_>) -> Result<Phone, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut p = |field, message| problems.push(Problem { field, message });
    if blank(o.recipient_name) {
        p("recipient_name", "the recipient's name is missing");
    }
    let phone = o.phone.and_then(Phone::parse);
    if phone.is_none() {
        p("phone", "not a valid Vietnamese mobile number");
    }
    if blank(o.street) {
        p("address.street", "the street address is missing");
    }
    if blank(o.ward) {
        p("address.ward", "the ward is missing");
    }
    if blank(o.province) {
        p("address.province", "the province is missing");
    }
    if o.items.is_empty() {
        p("items", "an order needs at least one item");
    } else if o
        .items
        .iter()
        .any(|i| i.quantity <= 0 || i.unit_price < 0 || i.name.trim().is_empty())
    {
        p(
            "items",
            "every item needs a name, a positive quantity and a price",
        );
    }
    if o.cod_amount < 0 || o.cod_amount > o.total {
        p(
            "cod_amount",
            "the COD amount must be between 0 and the total",
        );
    }
    match phone {
        Some(ph) if problems.is_empty() => Ok(ph),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrderStatus::*;

    #[test]
    fn orders_move_forward_and_final_statuses_stay() {
        assert!(Draft.can_move_to(Confirmed));
        assert!(Draft.can_move_to(Cancelled));
        assert!(!Draft.can_move_to(Packed));
        assert!(Confirmed.can_move_to(Pushed));
        assert!(Confirmed.can_move_to(Packed));
        assert!(Pushed.can_move_to(Shipped));
        assert!(Shipped.can_move_to(Delivered));
        assert!(Shipped.can_move_to(Returned));
        assert!(!Shipped.can_move_to(Cancelled));
        assert!(!Shipped.can_move_to(Packed));
        assert!(!Confirmed.can_move_to(Delivered));
        assert!(!Delivered.can_move_to(Returned));
        assert!(!Cancelled.can_move_to(Confirmed));
        assert!(!Confirmed.can_move_to(Draft));
        for s in OrderStatus::ALL {
            assert_eq!(OrderStatus::parse(s.as_str()), Some(s));
            assert!(!s.can_move_to(s));
        }
    }

    fn item(q: i32, price: i64) -> Item {
        Item {
            sku: Some("POLO-M".into()),
            name: "Áo Polo".into(),
            quantity: q,
            unit_price: price,
        }
    }

    #[test]
    fn totals_add_lines_and_fee_minus_discount() {
        let t = totals(&[item(2, 150_000), item(1, 50_000)], 30_000, 20_000);
        assert_eq!(t.subtotal, 350_000);
        assert_eq!(t.total, 360_000);
        assert_eq!(totals(&[], 0, 10).total, 0);
    }

    #[test]
    fn confirming_needs_recipient_phone_address_and_items() {
        let items = [item(1, 250_000)];
        let ok = ConfirmInput {
            recipient_name: Some("Nguyễn Văn A"),
            phone: Some("0912.345.678"),
            street: Some("72 Thành Thái"),
            ward: Some("Phường 14"),
            province: Some("TP. Hồ Chí Minh"),
            items: &items,
            cod_amount: 250_000,
            total: 250_000,
        };
        assert_eq!(check_confirmable(&ok).unwrap().as_str(), "+84912345678");
        let bad = ConfirmInput {
            recipient_name: Some(" "),
            phone: Some("12345"),
            street: None,
            items: &[],
            cod_amount: 300_000,
            total: 0,
            ..ok
        };
        let fields: Vec<_> = check_confirmable(&bad)
            .unwrap_err()
            .into_iter()
            .map(|p| p.field)
            .collect();
        assert_eq!(
            fields,
            [
                "recipient_name",
                "phone",
                "address.street",
                "items",
                "cod_amount"
            ]
        );
    }
}
