//! Property tests of the Lazada push surface against bad input: the signature check, the event
//! key, the account hints and the body parser never panic; a correctly signed body always
//! verifies (either hex case) and any flipped byte of body or signature never does; every
//! order push of any id form and time unit gives one `OrderChanged` for the right seller and
//! order. Test names start with `lazada_` for `cargo test -p tongdai-connectors lazada`.
//!
//! Each property runs `PROPTEST_CASES` cases (proptest's default, 256, when unset). Failures
//! are not persisted.

use http::{HeaderMap, HeaderValue, Method};
use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Value, json};
use tongdai_connectors::lazada::sign::push_signature;
use tongdai_connectors::lazada::{Lazada, LazadaConfig};
use tongdai_connectors::{InboundRequest, NormalizedEvent, VerifyError, WebhookInbound};

const APP_KEY: &str = "123456";
const APP_SECRET: &str = "helloworld";

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn lazada() -> Lazada {
    Lazada::new(LazadaConfig {
        app_key: Some(APP_KEY.into()),
        app_secret: Some(APP_SECRET.into()),
    })
}

fn verify(auth: Option<&[u8]>, body: &[u8]) -> Result<(), VerifyError> {
    let mut h = HeaderMap::new();
    if let Some(a) = auth
        && let Ok(v) = HeaderValue::from_bytes(a)
    {
        h.insert("authorization", v);
    }
    lazada().verify(&InboundRequest {
        method: &Method::POST,
        headers: &h,
        query: None,
        body,
    })
}

fn id_json(id: u64, as_string: bool) -> Value {
    if as_string {
        json!(id.to_string())
    } else {
        json!(id)
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn lazada_arbitrary_input_never_panics(body in proptest::collection::vec(any::<u8>(), 0..400),
            auth in proptest::collection::vec(any::<u8>(), 0..80)) {
        let lz = lazada();
        let _ = verify(Some(&auth), &body);
        let h = HeaderMap::new();
        let req = InboundRequest { method: &Method::POST, headers: &h, query: None, body: &body };
        let _ = lz.event_key(&req);
        let _ = lz.account_hints(&body);
        let _ = lz.parse(&body);
    }

    #[test]
    fn lazada_signature_holds_for_exact_bytes_only(body in proptest::collection::vec(any::<u8>(), 1..300),
            flip in any::<prop::sample::Index>(), bit in 0u8..8, upper in any::<bool>()) {
        let sig = push_signature(APP_KEY, APP_SECRET, &body);
        let sig = if upper { sig.to_uppercase() } else { sig };
        prop_assert_eq!(verify(Some(sig.as_bytes()), &body), Ok(()));
        let mut changed = body.clone();
        let i = flip.index(changed.len());
        changed[i] ^= 1 << bit;
        prop_assert_eq!(verify(Some(sig.as_bytes()), &changed), Err(VerifyError::BadSignature));
        // Flipping one hex digit of the signature to another hex digit.
        let mut forged = sig.into_bytes();
        let j = flip.index(forged.len());
        forged[j] = if forged[j] == b'0' { b'1' } else { b'0' };
        prop_assert_eq!(verify(Some(&forged), &body), Err(VerifyError::BadSignature));
    }

    #[test]
    fn lazada_order_pushes_of_every_form_parse(seller in 1u64..u64::MAX, order in 1u64..u64::MAX,
            seller_str in any::<bool>(), order_str in any::<bool>(), secs in 1_000_000_000i64..4_000_000_000,
            ms in any::<bool>(), kind in prop::sample::select(vec![0i64, 10])) {
        let time = if ms { secs * 1000 } else { secs };
        let body = json!({"seller_id": id_json(seller, seller_str), "message_type": kind,
            "data": {"trade_order_id": id_json(order, order_str), "order_status": "pending",
                "status_update_time": time},
            "timestamp": time, "site": "LAZADA-VN"}).to_string();
        let events = lazada().parse(body.as_bytes()).expect("parses");
        prop_assert_eq!(events.len(), 1);
        let NormalizedEvent::OrderChanged(n) = &events[0] else {
            return Err(TestCaseError::fail(format!("{events:?}")));
        };
        prop_assert_eq!(&n.account_external_id, &seller.to_string());
        prop_assert_eq!(&n.order_external_id, &order.to_string());
        prop_assert_eq!(n.updated_at.map(|t| t.timestamp()), Some(secs));
    }
}
