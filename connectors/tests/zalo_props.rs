//! Property tests of the Zalo OA webhook surface against bad input: the signature check, the
//! registration probe, the event key, the account hints and the body parser. Nothing here may
//! panic, whatever the bytes; every parse outcome is events (at most one) or a `ParseError`;
//! a correctly signed, fresh body always verifies and any flipped byte never does; valid
//! events of every known name give exactly one event for the right OA.
//!
//! Each property runs `PROPTEST_CASES` cases (proptest's default, 256, when unset). Failures
//! are not persisted: a failing case is printed with its minimal input, to be turned into a
//! plain test.

use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};
use tongdai_connectors::zalo::{Zalo, ZaloConfig, signature_header};
use tongdai_connectors::{InboundRequest, NormalizedEvent, VerifyError, WebhookInbound};

const APP_ID: &str = "1234567890123456789";
const SECRET: &str = "oa_secret_key_example";
const NOW: i64 = 1_718_000_000_000;

const EVENTS: &[&str] = &[
    "user_send_text",
    "user_send_image",
    "user_send_sticker",
    "user_send_gif",
    "user_send_link",
    "user_send_file",
    "user_send_audio",
    "user_send_video",
    "user_send_location",
    "user_send_business_card",
    "anonymous_send_text",
    "user_submit_info",
    "user_submitted_info",
    "user_reacted_message",
    "oa_reacted_message",
    "oa_send_text",
    "oa_send_image",
    "oa_send_file",
    "user_received_message",
    "user_seen_message",
    "follow",
    "unfollow",
    "add_user_to_tag",
    "shop_has_order",
    "",
];

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn zalo() -> Zalo {
    Zalo::new(ZaloConfig {
        app_id: Some(APP_ID.into()),
        oa_secret_key: Some(SECRET.into()),
        ..ZaloConfig::default()
    })
}

fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        if let Ok(v) = HeaderValue::from_str(v) {
            h.insert(HeaderName::from_static(k), v);
        }
    }
    h
}

/// Everything the hub may call on a body; a panic anywhere fails the property.
fn exercise(body: &[u8], h: &HeaderMap) {
    let z = zalo();
    let req = InboundRequest {
        method: &Method::POST,
        headers: h,
        query: None,
        body,
    };
    let _ = z.handshake(&req);
    let _ = z.verify_at(&req, NOW);
    let _ = z.event_key(&req);
    let _ = z.account_hints(body);
    if let Ok(evs) = z.parse(body) {
        assert!(evs.len() <= 1, "one event per body: {evs:?}");
    }
}

fn id() -> BoxedStrategy<Value> {
    prop_oneof![
        "[0-9]{1,20}".prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        ".{0,8}".prop_map(Value::from),
    ]
    .boxed()
}

fn time() -> BoxedStrategy<Value> {
    prop_oneof![
        (0i64..4_000_000_000_000).prop_map(|t| Value::from(t.to_string())),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,12}".prop_map(Value::from),
        Just(Value::Null),
    ]
    .boxed()
}

fn leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        ".{0,16}".prop_map(Value::from),
    ]
    .boxed()
}

fn json_value() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            ]
        })
        .boxed()
}

fn attachment() -> BoxedStrategy<Value> {
    (
        prop_oneof![
            select(vec![
                "image", "gif", "sticker", "file", "audio", "video", "link", "location"
            ])
            .prop_map(Value::from),
            leaf()
        ],
        prop_oneof![json_value(), Just(json!({"url": "https://f.zalo.me/x"}))],
    )
        .prop_map(|(t, p)| json!({"type": t, "payload": p}))
        .boxed()
}

fn message() -> BoxedStrategy<Value> {
    prop_oneof![
        json_value(),
        (
            id(),
            leaf(),
            prop::collection::vec(attachment(), 0..3),
            prop::collection::vec(id(), 0..3),
            leaf()
        )
            .prop_map(|(msg_id, text, attachments, msg_ids, react)| {
                json!({"msg_id": msg_id, "text": text, "attachments": attachments,
                    "msg_ids": msg_ids, "react_icon": react, "quote_msg_id": "q"})
            }),
    ]
    .boxed()
}

fn chaos_event() -> BoxedStrategy<Value> {
    (
        select(EVENTS),
        id(),
        time(),
        id(),
        id(),
        message(),
        prop_oneof![
            json_value(),
            Just(json!({"phone": "0912345678", "name": "Lan"}))
        ],
    )
        .prop_map(|(name, app, ts, s, r, msg, info)| {
            json!({"app_id": app, "event_name": name, "timestamp": ts,
                "sender": {"id": s}, "recipient": {"id": r}, "oa_id": r,
                "follower": {"id": s}, "message": msg, "info": info})
        })
        .boxed()
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512),
                                   sig in ".{0,80}", ts in ".{0,20}") {
        exercise(&body, &headers(&[("x-zevent-signature", sig), ("x-zevent-timestamp", ts)]));
        exercise(&body, &HeaderMap::new());
    }

    #[test]
    fn arbitrary_json_never_panics(v in json_value()) {
        let body = v.to_string().into_bytes();
        exercise(&body, &HeaderMap::new());
    }

    #[test]
    fn event_shaped_json_never_panics_and_signed_bodies_verify(ev in chaos_event(), flip in any::<prop::sample::Index>()) {
        let body = ev.to_string().into_bytes();
        exercise(&body, &HeaderMap::new());
        // Signed with a header timestamp (the body's may be anything): a body naming our
        // app (or none) verifies; a flipped byte never does.
        let ts = NOW.to_string();
        let sig = signature_header(APP_ID, &body, &ts, SECRET);
        let h = headers(&[("x-zevent-signature", sig), ("x-zevent-timestamp", ts)]);
        let z = zalo();
        let req = InboundRequest { method: &Method::POST, headers: &h, query: None, body: &body };
        let ours = match &ev["app_id"] {
            Value::String(s) => s == APP_ID,
            Value::Number(n) => n.to_string() == APP_ID,
            v => v.is_null(),
        };
        let res = z.verify_at(&req, NOW);
        if ours {
            // The body's own timestamp may also match (when equal), never worse.
            prop_assert!(res.is_ok() || res == Err(VerifyError::StaleTimestamp), "{res:?}");
        } else {
            prop_assert!(res.is_err());
        }
        let mut bad = body.clone();
        let i = flip.index(bad.len());
        bad[i] ^= 0x01;
        let req = InboundRequest { method: &Method::POST, headers: &h, query: None, body: &bad };
        prop_assert!(z.verify_at(&req, NOW).is_err());
    }

    #[test]
    fn valid_events_give_one_event_for_the_oa(name in select(&EVENTS[..20]),
                                              oa in "[1-9][0-9]{9,19}", user in "[1-9][0-9]{9,19}",
                                              numeric in any::<bool>()) {
        prop_assume!(oa != user);
        let idv = |s: &str| if numeric { json!(s.parse::<u64>().unwrap_or(1)) } else { json!(s) };
        let oa_side = name.starts_with("oa_") || name.starts_with("user_received")
            || name.starts_with("user_seen");
        let (sender, recipient) = if oa_side { (&oa, &user) } else { (&user, &oa) };
        let ev = json!({"app_id": APP_ID, "event_name": name, "timestamp": "1718000000000",
            "sender": {"id": idv(sender)}, "recipient": {"id": idv(recipient)},
            "message": {"msg_id": "m1", "msg_ids": ["m1"], "text": "hi", "react_icon": "/-heart"},
            "info": {"phone": "0912345678"}});
        let body = ev.to_string().into_bytes();
        let evs = zalo().parse(&body).expect("valid");
        prop_assert_eq!(evs.len(), 1);
        let want = if numeric { oa.parse::<u64>().unwrap_or(1).to_string() } else { oa.clone() };
        prop_assert_eq!(evs[0].account_external_id(), want.as_str());
        prop_assert_eq!(zalo().account_hints(&body), vec![want]);
        let echo = matches!(evs[0], NormalizedEvent::MessageEcho(_));
        prop_assert_eq!(echo, name.starts_with("oa_send_"));
    }
}
