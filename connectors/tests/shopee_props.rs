//! Property tests of the Shopee push surface against bad input: the signature check, the URL
//! probe, the event key, the account hints and the body parser never panic, whatever the
//! bytes; a push signed over the configured URL always verifies and any flipped byte of the
//! body, or another URL, never does; order pushes with ids of either shape give exactly one
//! order change for the right shop; chat ids of any size come back digit for digit.
//!
//! Each property runs `PROPTEST_CASES` cases (proptest's default, 256, when unset).

use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::json;
use tongdai_connectors::shopee::sign::push_authorization;
use tongdai_connectors::shopee::{Shopee, ShopeeConfig};
use tongdai_connectors::{InboundRequest, NormalizedEvent, VerifyError, WebhookInbound};

const KEY: &str = "hub-test-partner-key";
const CALLBACK: &str = "https://hub.example.vn/webhooks/shopee";

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn shopee() -> Shopee {
    Shopee::new(ShopeeConfig {
        partner_id: Some(1),
        partner_key: Some(KEY.to_owned()),
        callback_url: Some(CALLBACK.to_owned()),
        ..ShopeeConfig::default()
    })
}

fn headers(auth: Option<&[u8]>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(a) = auth.and_then(|a| HeaderValue::from_bytes(a).ok()) {
        h.insert("authorization", a);
    }
    h
}

fn post<'a>(h: &'a HeaderMap, body: &'a [u8]) -> InboundRequest<'a> {
    InboundRequest {
        method: &Method::POST,
        headers: h,
        query: None,
        body,
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn nothing_panics_on_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512),
                                         auth in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..80))) {
        let s = shopee();
        let h = headers(auth.as_deref());
        let req = post(&h, &body);
        let _ = s.handshake(&req);
        let _ = s.verify(&req);
        let _ = s.event_key(&req);
        let _ = s.account_hints(&body);
        let _ = s.parse(&body);
    }

    #[test]
    fn arbitrary_json_parses_to_at_most_one_event(v in proptest_json()) {
        let body = v.to_string();
        if let Ok(events) = shopee().parse(body.as_bytes()) {
            prop_assert!(events.len() <= 1);
        }
    }

    #[test]
    fn a_signed_push_verifies_and_a_flipped_byte_or_other_url_never_does(
        body in proptest::collection::vec(any::<u8>(), 1..300),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
        suffix in "[a-z0-9/?=]{1,8}",
    ) {
        let s = shopee();
        let auth = push_authorization(KEY, CALLBACK, &body);
        let h = headers(Some(auth.as_bytes()));
        prop_assert_eq!(s.verify(&post(&h, &body)), Ok(()));
        let mut tampered = body.clone();
        let i = flip.index(tampered.len());
        tampered[i] ^= 1 << bit;
        prop_assert_eq!(s.verify(&post(&h, &tampered)), Err(VerifyError::BadSignature));
        let other = push_authorization(KEY, &format!("{CALLBACK}{suffix}"), &body);
        let h = headers(Some(other.as_bytes()));
        prop_assert_eq!(s.verify(&post(&h, &body)), Err(VerifyError::BadSignature));
    }

    #[test]
    fn order_pushes_name_their_shop_and_order_whatever_the_id_shape(
        shop in 1u64..u64::MAX,
        as_string in any::<bool>(),
        order in "[0-9A-Z]{14}",
        status in select(&["UNPAID", "READY_TO_SHIP", "PROCESSED", "SHIPPED", "COMPLETED", "CANCELLED", "X"][..]),
        update_time in 1_500_000_000i64..2_000_000_000,
        millis in any::<bool>(),
        code in select(&[3i64, 4][..]),
    ) {
        let shop_value = if as_string { json!(shop.to_string()) } else { json!(shop) };
        let t = if millis { update_time * 1000 } else { update_time };
        let body = json!({"shop_id": shop_value, "code": code, "timestamp": t,
            "data": {"ordersn": order, "status": status, "update_time": t}}).to_string();
        let events = shopee().parse(body.as_bytes()).unwrap();
        prop_assert_eq!(events.len(), 1);
        match &events[0] {
            NormalizedEvent::OrderChanged(o) => {
                prop_assert_eq!(&o.account_external_id, &shop.to_string());
                prop_assert_eq!(&o.order_external_id, &order);
                prop_assert_eq!(o.updated_at.map(|d| d.timestamp()), Some(update_time));
            }
            other => prop_assert!(false, "{:?}", other),
        }
        prop_assert_eq!(shopee().account_hints(body.as_bytes()), vec![shop.to_string()]);
    }

    #[test]
    fn chat_ids_come_back_digit_for_digit(
        message_id in 1u64..u64::MAX,
        conversation in 1u64..u64::MAX,
        buyer in 1u64..u64::MAX,
        numbers in any::<bool>(),
    ) {
        let id = |n: u64| if numbers { json!(n) } else { json!(n.to_string()) };
        let body = json!({"shop_id": 7, "code": 10, "timestamp": 1_726_044_721,
            "data": {"type": "message", "content": {
                "message_id": id(message_id), "from_id": id(buyer), "to_id": 7,
                "message_type": "text", "content": {"text": "hi"},
                "conversation_id": id(conversation), "created_timestamp": 1_726_044_721}}}).to_string();
        let events = shopee().parse(body.as_bytes()).unwrap();
        match events.as_slice() {
            [NormalizedEvent::MessageReceived(m)] => {
                prop_assert_eq!(&m.external_message_id, &message_id.to_string());
                prop_assert_eq!(&m.thread_external_id, &conversation.to_string());
                prop_assert_eq!(&m.contact.external_id, &buyer.to_string());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}

fn proptest_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<u64>().prop_map(|n| json!(n)),
        "[a-z_0-9]{0,12}".prop_map(serde_json::Value::String),
        select(&["message", "text", "image", "3", "10"][..]).prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            proptest::collection::btree_map(
                select(
                    &[
                        "shop_id",
                        "code",
                        "timestamp",
                        "data",
                        "msg_id",
                        "type",
                        "content",
                        "message_id",
                        "from_id",
                        "to_id",
                        "from_shop_id",
                        "conversation_id",
                        "ordersn",
                        "status",
                        "update_time",
                        "message_type",
                        "created_timestamp",
                        "text",
                        "url",
                        "quoted_msg"
                    ][..]
                )
                .prop_map(str::to_owned),
                inner,
                0..6,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}
