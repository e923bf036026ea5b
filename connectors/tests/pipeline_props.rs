//! Property tests of the pipeline's inbound surface against bad input: the external-shop order
//! parser (`shop::parse`) and the Standard Webhooks check (`standard_webhooks::verify`) that
//! guards both shop orders and fulfillment's status reports. Nothing may panic, whatever the
//! bytes and headers; a parse is an event, `None` (a type we ignore) or a `ParseError` naming
//! the field; a valid body parses to exactly what was sent, with ids as strings or numbers; a
//! signature verifies only for the exact bytes, id and timestamp it was made over.
//!
//! `PROPTEST_CASES` cases per property (256 when unset). A longer run:
//!
//! ```text
//! PROPTEST_CASES=1000000 cargo test --release -p tongdai-connectors --test pipeline_props
//! ```

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use proptest::sample::select;
use serde_json::{Map, Value, json};
use tongdai_connectors::VerifyError;
use tongdai_connectors::shop::{EventType, parse};
use tongdai_connectors::standard_webhooks::{self, Secret, TOLERANCE_SECONDS};

const KEYS: &[&str] = &[
    "type",
    "timestamp",
    "data",
    "id",
    "items",
    "sku",
    "name",
    "quantity",
    "unit_price",
    "recipient",
    "phone",
    "address",
    "street",
    "ward",
    "district",
    "province",
    "shipping_fee",
    "discount",
    "cod_amount",
    "note",
    "reason",
    "created_at",
];
const TYPES: &[&str] = &[
    "order.created",
    "order.updated",
    "order.cancelled",
    "order.paid",
];

/// Arbitrary JSON whose object keys are mostly ones the parser reads.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        "\\PC{0,12}".prop_map(Value::String),
        select(TYPES).prop_map(|t| json!(t)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![select(KEYS).prop_map(str::to_owned), "[a-z]{1,6}"],
                    inner
                ),
                0..6
            )
            .prop_map(|kv| Value::Object(kv.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// A valid order body: (body, the id as the parser must give it back).
fn valid_order() -> impl Strategy<Value = (Vec<u8>, String, usize)> {
    let id = prop_oneof![
        (1u64..u64::MAX / 2).prop_map(|n| (json!(n), n.to_string())),
        "[A-Za-z0-9-]{1,20}".prop_map(|s| (json!(s), s)),
    ];
    let item = ("\\PC{1,20}", 1i32..1000, 0i64..100_000_000).prop_map(
        |(name, q, p)| json!({"sku": "SKU-1", "name": name, "quantity": q, "unit_price": p}),
    );
    (
        id,
        prop::collection::vec(item, 1..5),
        select(&TYPES[..2]),
        any::<bool>(),
    )
        .prop_map(|((id, want), items, kind, district)| {
            let mut address = json!({"street": "72 Thành Thái", "ward": "Phường 14",
                                     "province": "TP. Hồ Chí Minh"});
            if district {
                address["district"] = json!("Quận 10");
            }
            let n = items.len();
            let body = json!({"type": kind, "timestamp": "2026-11-30T01:02:03Z",
                "data": {"id": id, "items": items, "shipping_fee": 30000,
                         "recipient": {"name": "Nguyễn Văn A", "phone": "0912345678", "address": address}}});
            (serde_json::to_vec(&body).unwrap(), want, n)
        })
}

proptest! {
    #[test]
    fn shop_parse_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }

    #[test]
    fn shop_parse_never_panics_on_json(v in json_value()) {
        if let Ok(Some(e)) = parse(&serde_json::to_vec(&v).unwrap()) {
            prop_assert!(!e.order.id.is_empty());
        }
    }

    #[test]
    fn shop_parse_reads_valid_orders_exactly((body, id, n) in valid_order()) {
        let e = parse(&body).unwrap().unwrap();
        prop_assert!(matches!(e.kind, EventType::Created | EventType::Updated));
        prop_assert_eq!(e.order.id, id);
        prop_assert_eq!(e.order.items.len(), n);
        prop_assert!(e.order.recipient.is_some());
    }

    #[test]
    fn shop_parse_survives_every_truncation((body, _id, _n) in valid_order(), cut in any::<prop::sample::Index>()) {
        let at = cut.index(body.len());
        let _ = parse(&body[..at]);
    }

    #[test]
    fn verify_never_panics_on_arbitrary_headers(
        id in "\\PC{0,40}",
        ts in "\\PC{0,20}",
        sig in "\\PC{0,120}",
        body in prop::collection::vec(any::<u8>(), 0..256),
        now in any::<i64>(),
    ) {
        let secret = Secret::from_bytes(vec![7; 24]).unwrap();
        let mut h = HeaderMap::new();
        for (name, value) in [("webhook-id", id), ("webhook-timestamp", ts), ("webhook-signature", sig)] {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(HeaderName::from_static(name), v);
            }
        }
        let _ = standard_webhooks::verify(&secret, &h, &body, now);
    }

    #[test]
    fn a_signature_holds_for_its_exact_bytes_only(
        key in prop::collection::vec(any::<u8>(), 24..=64),
        id in "msg_[A-Za-z0-9]{1,30}",
        ts in 1_000_000_000i64..4_000_000_000,
        skew in -TOLERANCE_SECONDS..=TOLERANCE_SECONDS,
        body in prop::collection::vec(any::<u8>(), 1..256),
        flip in any::<prop::sample::Index>(),
    ) {
        let secret = Secret::from_bytes(key).unwrap();
        let mut h = HeaderMap::new();
        for (name, value) in standard_webhooks::headers(&[&secret], &id, ts, &body) {
            h.insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(&value).unwrap());
        }
        let d = standard_webhooks::verify(&secret, &h, &body, ts + skew).unwrap();
        prop_assert_eq!(d.id, id);
        let mut tampered = body.clone();
        let i = flip.index(tampered.len());
        tampered[i] ^= 1;
        prop_assert_eq!(
            standard_webhooks::verify(&secret, &h, &tampered, ts),
            Err(VerifyError::BadSignature)
        );
        prop_assert_eq!(
            standard_webhooks::verify(&secret, &h, &body, ts + TOLERANCE_SECONDS + 1),
            Err(VerifyError::StaleTimestamp)
        );
    }
}
