//! Property tests of the Tiki pull-answer reader against bad input: it never panics on any JSON,
//! and every order event of any id form, time unit and payload encoding (object or JSON
//! string) gives one `OrderChanged` for the event's seller and order, in order. Test names
//! start with `tiki_` for `cargo test -p tongdai-connectors tiki`.
//!
//! Each property runs `PROPTEST_CASES` cases (proptest's default, 256, when unset). Failures
//! are not persisted.

use proptest::prelude::*;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Value, json};
use tongdai_connectors::NormalizedEvent;
use tongdai_connectors::tiki::wire::{pull_batch, queue_event};

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "[a-z_]{0,12}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("ack_id".to_owned()),
                    Just("events".to_owned()),
                    Just("data".to_owned()),
                    Just("type".to_owned()),
                    Just("payload".to_owned()),
                    Just("created_at".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn tiki_pull_reader_never_panics(v in any_json()) {
        if let Ok(b) = pull_batch(&v) {
            for e in &b.events {
                let _ = queue_event(e, "fallback");
            }
        }
    }

    #[test]
    fn tiki_order_events_of_any_form_become_order_changed(
        codes in prop::collection::vec(1u64..=9_999_999_999, 1..8),
        numeric_ids in any::<bool>(),
        string_payload in any::<bool>(),
        millis in any::<bool>(),
        wrapped in any::<bool>(),
        secs in 1_500_000_000i64..2_000_000_000,
    ) {
        let events: Vec<Value> = codes.iter().enumerate().map(|(n, c)| {
            let payload = json!({"order_code": if numeric_ids { json!(c) } else { json!(c.to_string()) },
                "status": "shipping"});
            json!({"id": if numeric_ids { json!(n) } else { json!(format!("e{n}")) },
                "type": "ORDER_STATUS_UPDATED", "sid": "SELLER",
                "created_at": if millis { json!(secs * 1000) } else { json!(secs) },
                "payload": if string_payload { json!(payload.to_string()) } else { payload }})
        }).collect();
        let body = json!({"ack_id": "a1", "events": events});
        let answer = if wrapped { json!({"data": body}) } else { body };
        let b = pull_batch(&answer).unwrap();
        prop_assert_eq!(b.ack_id.as_deref(), Some("a1"));
        prop_assert_eq!(b.events.len(), codes.len());
        for (e, c) in b.events.iter().zip(&codes) {
            match queue_event(e, "fallback") {
                NormalizedEvent::OrderChanged(n) => {
                    prop_assert_eq!(n.account_external_id, "SELLER");
                    prop_assert_eq!(n.order_external_id, c.to_string());
                    prop_assert_eq!(n.platform_status.as_deref(), Some("shipping"));
                    prop_assert_eq!(n.updated_at.map(|t| t.timestamp()), Some(secs));
                }
                other => prop_assert!(false, "{other:?}"),
            }
        }
    }
}
