//! Push verification, event keys and parsing of the §1.5.4 payloads.

use http::{HeaderMap, HeaderValue, Method};
use serde_json::json;

use super::sign::{PUSH_SIGNATURE_HEADER, push_authorization};
use super::*;
use crate::types::{Attachment, IgnoredEvent, OrderNotice};

const KEY: &str = "hub-test-partner-key";
const CALLBACK: &str = "https://hub.example.vn/webhooks/shopee";
const B1: &str = r#"{"msg_id":"64ca21a145e29bda3a6e31203c800e00","data":{"completed_scenario":null,"items":[],"ordersn":"251214B9XAB0ST","status":"READY_TO_SHIP","update_time":1765689439},"shop_id":336094210,"code":3,"timestamp":1765689440}"#;
/// The observed code 3 push (no `msg_id`).
const OBSERVED_3: &str = r#"{"data":{"items":[],"ordersn":"220810QSK8S7BX","status":"PROCESSED","completed_scenario":"","update_time":1660123127},"shop_id":727720655,"code":3,"timestamp":1660123127}"#;
/// The observed code 10 push: ids beyond 2^53.
const OBSERVED_10: &str = r#"{"msg_id":"a1b2c3d4e5f60718293a4b5c6d7e8f90","data":{"type":"message","region":"ID","content":{"message_id":"2302748948493123953","shop_id":165103149,"request_id":"req-1","from_id":165105353,"from_user_name":"pembeli","to_id":947151379,"to_user_name":"toko","message_type":"text","content":{"text":"Halo, masih ada?"},"conversation_id":"709122092476686867","created_timestamp":1726044721,"region":"ID","is_in_chatbot_session":false,"source_content":{},"quoted_msg":{"message_id":""},"sub_account_id":0,"sub_account_name":0}},"shop_id":165103149,"code":10,"timestamp":1726044722}"#;

fn shopee() -> Shopee {
    Shopee::new(ShopeeConfig {
        partner_id: Some(2_001_887),
        partner_key: Some(KEY.to_owned()),
        callback_url: Some(CALLBACK.to_owned()),
        ..ShopeeConfig::default()
    })
}

fn headers(auth: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("application/json"));
    if let Some(a) = auth {
        h.insert(PUSH_SIGNATURE_HEADER, HeaderValue::from_str(a).unwrap());
    }
    h
}

fn req<'a>(h: &'a HeaderMap, body: &'a [u8]) -> InboundRequest<'a> {
    InboundRequest {
        method: &Method::POST,
        headers: h,
        query: None,
        body,
    }
}

#[test]
fn a_push_signed_over_the_configured_url_verifies() {
    let h = headers(Some(
        "32c3e209226fd00ee462d752c854a0b7a2c96cba436fc6fb535f9f18082b1cc7",
    ));
    assert_eq!(shopee().verify(&req(&h, B1.as_bytes())), Ok(()));
    let verified = crate::verify::verify(
        Platform::Shopee,
        &shopee(),
        &req(&h, B1.as_bytes()),
        B1.into(),
    )
    .unwrap();
    assert_eq!(
        verified.event_key(),
        "shopee:msg:64ca21a145e29bda3a6e31203c800e00"
    );
}

#[test]
fn forged_missing_garbled_and_wrong_url_signatures_are_refused() {
    let s = shopee();
    let body = B1.as_bytes();
    let forged = push_authorization("another-key", CALLBACK, body);
    assert_eq!(
        s.verify(&req(&headers(Some(&forged)), body)),
        Err(VerifyError::BadSignature)
    );
    let other_url = push_authorization(KEY, "https://hub.example.vn/webhooks/shopee?x=1", body);
    assert_eq!(
        s.verify(&req(&headers(Some(&other_url)), body)),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(
        s.verify(&req(&headers(None), body)),
        Err(VerifyError::MissingSignature(PUSH_SIGNATURE_HEADER))
    );
    assert_eq!(
        s.verify(&req(&headers(Some("Bearer xyz")), body)),
        Err(VerifyError::MalformedSignature(PUSH_SIGNATURE_HEADER))
    );
}

#[test]
fn without_key_or_callback_url_nothing_verifies() {
    let h = headers(Some(&push_authorization(KEY, CALLBACK, B1.as_bytes())));
    for cfg in [
        ShopeeConfig {
            partner_key: Some(KEY.to_owned()),
            ..ShopeeConfig::default()
        },
        ShopeeConfig {
            callback_url: Some(CALLBACK.to_owned()),
            partner_key: Some(String::new()),
            ..ShopeeConfig::default()
        },
    ] {
        assert!(!cfg.webhooks_configured());
        assert_eq!(
            Shopee::new(cfg).verify(&req(&h, B1.as_bytes())),
            Err(VerifyError::NotConfigured("shopee"))
        );
    }
}

#[test]
fn the_unsigned_url_check_is_answered_empty_and_signed_requests_are_not_probes() {
    let s = shopee();
    for body in [&b""[..], b"{}", b" { } "] {
        let h = headers(None);
        let reply = s.handshake(&req(&h, body)).expect("probe").unwrap();
        assert_eq!(reply.status, 200);
        assert!(reply.body.is_empty());
    }
    let h = headers(Some("00"));
    assert!(s.handshake(&req(&h, b"{}")).is_none());
    let h = headers(None);
    assert!(s.handshake(&req(&h, B1.as_bytes())).is_none());
    let get = InboundRequest {
        method: &Method::GET,
        headers: &h,
        query: None,
        body: b"",
    };
    assert!(s.handshake(&get).is_none());
    assert!(s.empty_ack());
}

#[test]
fn event_keys_use_msg_id_else_the_order_change_else_the_body() {
    let s = shopee();
    let h = headers(None);
    assert_eq!(
        s.event_key(&req(&h, OBSERVED_3.as_bytes())).as_deref(),
        Some("shopee:3:727720655:220810QSK8S7BX:PROCESSED:1660123127")
    );
    let empty_msg_id = OBSERVED_3.replacen("{\"data\"", "{\"msg_id\":\"\",\"data\"", 1);
    assert_eq!(
        s.event_key(&req(&h, empty_msg_id.as_bytes())).as_deref(),
        Some("shopee:3:727720655:220810QSK8S7BX:PROCESSED:1660123127")
    );
    assert_eq!(
        s.event_key(&req(&h, OBSERVED_10.as_bytes())).as_deref(),
        Some("shopee:msg:a1b2c3d4e5f60718293a4b5c6d7e8f90")
    );
    let code_12 = br#"{"code":12,"shop_id":1,"timestamp":1,"data":{}}"#;
    assert_eq!(s.event_key(&req(&h, code_12)), None);
    assert_eq!(s.account_hints(OBSERVED_3.as_bytes()), ["727720655"]);
    assert_eq!(s.account_hints(b"not json"), Vec::<String>::new());
}

#[test]
fn order_pushes_become_order_changes() {
    let events = shopee().parse(OBSERVED_3.as_bytes()).unwrap();
    assert_eq!(
        events,
        [NormalizedEvent::OrderChanged(OrderNotice {
            account_external_id: "727720655".to_owned(),
            order_external_id: "220810QSK8S7BX".to_owned(),
            platform_status: Some("PROCESSED".to_owned()),
            updated_at: chrono::DateTime::from_timestamp(1_660_123_127, 0),
        })]
    );
    // Ids as strings, times in milliseconds, tracking pushes (code 4) without a status.
    let body = json!({"shop_id": "727720655", "code": 4, "timestamp": 1660123127000i64,
        "data": {"ordersn": "220810QSK8S7BX", "tracking_no": "SPXVN01", "update_time": 1660123127000i64}});
    let events = shopee().parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(
        events,
        [NormalizedEvent::OrderChanged(OrderNotice {
            account_external_id: "727720655".to_owned(),
            order_external_id: "220810QSK8S7BX".to_owned(),
            platform_status: None,
            updated_at: chrono::DateTime::from_timestamp(1_660_123_127, 0),
        })]
    );
    let no_order = br#"{"shop_id":1,"code":3,"timestamp":1,"data":{"status":"SHIPPED"}}"#;
    assert!(shopee().parse(no_order).is_err());
}

#[test]
fn a_chat_push_keeps_huge_ids_exact() {
    let events = shopee().parse(OBSERVED_10.as_bytes()).unwrap();
    let [NormalizedEvent::MessageReceived(m)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(m.account_external_id, "165103149");
    assert_eq!(m.external_message_id, "2302748948493123953");
    assert_eq!(m.thread_external_id, "709122092476686867");
    assert_eq!(m.contact.external_id, "165105353");
    assert_eq!(m.contact.display_name.as_deref(), Some("pembeli"));
    assert_eq!(m.text.as_deref(), Some("Halo, masih ada?"));
    assert_eq!(m.sent_at.timestamp(), 1_726_044_721);
    assert_eq!(m.reply_to, None);
    // The same ids as JSON numbers (beyond 2^53) are read exactly, never through f64.
    let numeric = OBSERVED_10
        .replace("\"2302748948493123953\"", "2302748948493123953")
        .replace("\"709122092476686867\"", "709122092476686867");
    let events = shopee().parse(numeric.as_bytes()).unwrap();
    let [NormalizedEvent::MessageReceived(n)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(n.external_message_id, "2302748948493123953");
    assert_eq!(n.thread_external_id, "709122092476686867");
}

#[test]
fn messages_the_shop_sent_are_echoes_and_images_are_attachments() {
    let body = json!({"shop_id": 165103149, "code": 10, "timestamp": 1726044800,
        "data": {"type": "message", "content": {
            "message_id": "2302748948493123999", "from_id": 165103149, "from_shop_id": 165103149,
            "to_id": 947151379, "to_user_name": "pembeli", "message_type": "image",
            "content": {"url": "https://cf.shopee.vn/file/abc"},
            "conversation_id": "709122092476686867", "created_timestamp": 1726044800123i64,
            "quoted_msg": {"message_id": "2302748948493123953"}}}});
    let events = shopee().parse(body.to_string().as_bytes()).unwrap();
    let [NormalizedEvent::MessageEcho(m)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(m.contact.external_id, "947151379");
    assert_eq!(m.text, None);
    assert_eq!(
        m.attachments,
        [Attachment {
            kind: "image".to_owned(),
            url: Some("https://cf.shopee.vn/file/abc".to_owned()),
            title: None,
            payload: None,
        }]
    );
    assert_eq!(m.sent_at.timestamp_millis(), 1_726_044_800_123);
    assert_eq!(m.reply_to.as_deref(), Some("2302748948493123953"));
}

#[test]
fn other_codes_and_chat_types_are_ignored_by_name() {
    let s = shopee();
    let ignored = |body: serde_json::Value| s.parse(body.to_string().as_bytes()).unwrap();
    assert_eq!(
        ignored(json!({"shop_id": 5, "code": 12, "timestamp": 1, "data": {"expire_before": 1}})),
        [NormalizedEvent::Ignored(IgnoredEvent {
            account_external_id: "5".to_owned(),
            kind: "shopee.code_12".to_owned(),
        })]
    );
    assert_eq!(
        ignored(
            json!({"shop_id": 5, "code": 10, "timestamp": 1, "data": {"type": "notification"}})
        ),
        [NormalizedEvent::Ignored(IgnoredEvent {
            account_external_id: "5".to_owned(),
            kind: "shopee.chat.notification".to_owned(),
        })]
    );
    assert_eq!(
        ignored(
            json!({"shop_id": 5, "code": 22, "msg_id": "9a1e", "data": {"update_field": "price"}})
        ),
        [NormalizedEvent::Ignored(IgnoredEvent {
            account_external_id: "5".to_owned(),
            kind: "shopee.code_22".to_owned(),
        })]
    );
    // Partner-level pushes name no shop: nothing to route.
    assert_eq!(ignored(json!({"code": 2, "timestamp": 1, "data": {}})), []);
    assert_eq!(s.parse(b"{}").unwrap(), []);
    assert_eq!(s.parse(b"").unwrap(), []);
    assert!(s.parse(b"[]").is_err());
    assert!(s.parse(br#"{"shop_id":1}"#).is_err());
}

#[test]
fn lost_push_bodies_with_string_data_parse_like_live_pushes() {
    let body = json!({"shop_id": 727720655, "code": 3, "timestamp": 1660123127,
        "data": "{\"ordersn\":\"220810QSK8S7BX\",\"status\":\"SHIPPED\",\"update_time\":1660123999}"});
    let events = shopee().parse(body.to_string().as_bytes()).unwrap();
    let [NormalizedEvent::OrderChanged(o)] = events.as_slice() else {
        panic!("{events:?}");
    };
    assert_eq!(o.platform_status.as_deref(), Some("SHIPPED"));
}

#[test]
fn the_config_never_prints_the_partner_key() {
    let printed = format!("{:?}", shopee().config());
    assert!(!printed.contains(KEY));
    assert!(printed.contains("<redacted>"));
}
