use http::{HeaderMap, HeaderName, HeaderValue, Method};
use serde_json::json;

use super::*;
use crate::types::{DeliveryState, NormalizedEvent};

const APP_ID: &str = "1234567890123456789";
const SECRET: &str = "oa_secret_key_example";
const OA: &str = "1357924680135792468";
const USER: &str = "2468013579246801357";
/// §7.2 S2: 282 bytes of literal UTF-8.
const S2_BODY: &str = r#"{"app_id":"1234567890123456789","user_id_by_app":"5555555555555555555","event_name":"user_send_text","timestamp":"1718000000000","sender":{"id":"2468013579246801357"},"recipient":{"id":"1357924680135792468"},"message":{"msg_id":"abcdef0123456789abcd","text":"Cho mình hỏi giá"}}"#;
const S2_MAC: &str = "mac=c76baa096bcbac2851a0fe986e94618178cc49ddbfbdd8f1f2ed5170dce62f80";
const S2_NOW: i64 = 1_718_000_000_000;

fn zalo() -> Zalo {
    Zalo::new(ZaloConfig {
        app_id: Some(APP_ID.into()),
        app_secret: Some("app_secret".into()),
        oa_secret_key: Some(SECRET.into()),
        ..ZaloConfig::default()
    })
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            HeaderName::from_static(k),
            HeaderValue::from_str(v).expect("header"),
        );
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

fn verify(h: &HeaderMap, body: &[u8], now: i64) -> Result<(), VerifyError> {
    zalo().verify_at(&req(h, body), now)
}

fn parse_one(v: serde_json::Value) -> NormalizedEvent {
    let mut evs = zalo().parse(v.to_string().as_bytes()).expect("parses");
    assert_eq!(evs.len(), 1, "{evs:?}");
    evs.remove(0)
}

fn user_event(name: &str, message: serde_json::Value) -> serde_json::Value {
    json!({"app_id": APP_ID, "user_id_by_app": "555", "event_name": name,
        "timestamp": "1718000000000", "sender": {"id": USER}, "recipient": {"id": OA},
        "message": message})
}

// ---- signature ---------------------------------------------------------------------------

#[test]
fn s2_vector() {
    assert_eq!(S2_BODY.len(), 282);
    assert_eq!(
        signature_header(APP_ID, S2_BODY.as_bytes(), "1718000000000", SECRET),
        S2_MAC
    );
    let h = headers(&[("x-zevent-signature", S2_MAC)]);
    assert_eq!(verify(&h, S2_BODY.as_bytes(), S2_NOW), Ok(()));
    // Upper-case hex and prefix are accepted too.
    let upper = format!("MAC={}", S2_MAC[4..].to_uppercase());
    let h = headers(&[("x-zevent-signature", &upper)]);
    assert_eq!(verify(&h, S2_BODY.as_bytes(), S2_NOW), Ok(()));
}

#[test]
fn timestamp_from_the_body_else_the_header() {
    // Body without a timestamp: the header's is the signed one.
    let body = br#"{"app_id":"1234567890123456789","event_name":"user_send_text"}"#;
    let sig = signature_header(APP_ID, body, "1718000000500", SECRET);
    let h = headers(&[
        ("x-zevent-signature", &sig),
        ("x-zevent-timestamp", "1718000000500"),
    ]);
    assert_eq!(verify(&h, body, S2_NOW), Ok(()));
    // Body timestamp present but the sender signed the header's: the header is tried next.
    let sig = signature_header(APP_ID, S2_BODY.as_bytes(), "1718000000999", SECRET);
    let h = headers(&[
        ("x-zevent-signature", &sig),
        ("x-zevent-timestamp", "1718000000999"),
    ]);
    assert_eq!(verify(&h, S2_BODY.as_bytes(), S2_NOW), Ok(()));
    // Neither: no timestamp to check.
    let h = headers(&[("x-zevent-signature", &sig)]);
    assert_eq!(
        verify(&h, body, S2_NOW),
        Err(VerifyError::MissingSignature(TIMESTAMP_HEADER))
    );
    // A number timestamp in the body signs as its digits.
    let body = br#"{"app_id":1234567890123456789,"timestamp":1718000000000,"event_name":"x"}"#;
    let sig = signature_header(APP_ID, body, "1718000000000", SECRET);
    let h = headers(&[("x-zevent-signature", &sig)]);
    assert_eq!(verify(&h, body, S2_NOW), Ok(()));
}

#[test]
fn forged_missing_malformed_wrong_app_and_stale_are_refused() {
    let none = HeaderMap::new();
    assert_eq!(
        verify(&none, S2_BODY.as_bytes(), S2_NOW),
        Err(VerifyError::MissingSignature(SIGNATURE_HEADER))
    );
    // Forged: signed with the app secret instead of the OA secret.
    let forged = signature_header(APP_ID, S2_BODY.as_bytes(), "1718000000000", "app_secret");
    let h = headers(&[("x-zevent-signature", &forged)]);
    assert_eq!(
        verify(&h, S2_BODY.as_bytes(), S2_NOW),
        Err(VerifyError::BadSignature)
    );
    // Tampered body.
    let tampered = S2_BODY.replace("giá", "gia");
    let h = headers(&[("x-zevent-signature", S2_MAC)]);
    assert_eq!(
        verify(&h, tampered.as_bytes(), S2_NOW),
        Err(VerifyError::BadSignature)
    );
    for bad in ["c76baa", "sha256=c76b", "mac=zz", "mac=c76baa09"] {
        let h = headers(&[("x-zevent-signature", bad)]);
        assert_eq!(
            verify(&h, S2_BODY.as_bytes(), S2_NOW),
            Err(VerifyError::MalformedSignature(SIGNATURE_HEADER)),
            "{bad}"
        );
    }
    // Another app's event, correctly signed with its app id.
    let other = S2_BODY.replace(APP_ID, "999");
    let sig = signature_header("999", other.as_bytes(), "1718000000000", SECRET);
    let h = headers(&[("x-zevent-signature", &sig)]);
    let err = verify(&h, other.as_bytes(), S2_NOW).unwrap_err();
    assert_eq!(err, VerifyError::WrongApp);
    assert_eq!(err.code(), "wrong_app");
    // Stale and future beyond the window; inside it fine.
    let h = headers(&[("x-zevent-signature", S2_MAC)]);
    assert_eq!(
        verify(&h, S2_BODY.as_bytes(), S2_NOW + 86_401_000),
        Err(VerifyError::StaleTimestamp)
    );
    assert_eq!(
        verify(&h, S2_BODY.as_bytes(), S2_NOW - 86_401_000),
        Err(VerifyError::StaleTimestamp)
    );
    assert_eq!(verify(&h, S2_BODY.as_bytes(), S2_NOW + 86_399_000), Ok(()));
    // Unconfigured.
    let z = Zalo::new(ZaloConfig::default());
    assert!(!ZaloConfig::default().is_configured());
    assert_eq!(
        z.verify_at(&req(&h, S2_BODY.as_bytes()), S2_NOW),
        Err(VerifyError::NotConfigured("zalo"))
    );
}

#[test]
fn registration_probe_is_answered_without_verification() {
    let z = zalo();
    let none = HeaderMap::new();
    for body in [&b""[..], b"{}", b" { }\n"] {
        let r = z.handshake(&req(&none, body)).expect("a probe");
        assert_eq!(r.expect("ok").status, 200);
    }
    // Not probes: a real body, a signed empty object, a GET.
    assert!(z.handshake(&req(&none, S2_BODY.as_bytes())).is_none());
    let h = headers(&[("x-zevent-signature", S2_MAC)]);
    assert!(z.handshake(&req(&h, b"{}")).is_none());
    let get = InboundRequest {
        method: &Method::GET,
        headers: &none,
        query: None,
        body: b"",
    };
    assert!(z.handshake(&get).is_none());
}

// ---- keys and hints ----------------------------------------------------------------------

#[test]
fn event_keys_and_account_hints() {
    let z = zalo();
    let none = HeaderMap::new();
    assert_eq!(
        z.event_key(&req(&none, S2_BODY.as_bytes())).as_deref(),
        Some("zalo:user_send_text:abcdef0123456789abcd")
    );
    let seen = json!({"event_name":"user_seen_message","timestamp":"1718000060000",
        "sender":{"id":OA},"recipient":{"id":USER},"message":{"msg_ids":["a","b"]}});
    let body = seen.to_string();
    assert_eq!(
        z.event_key(&req(&none, body.as_bytes())).as_deref(),
        Some(format!("zalo:user_seen_message:1718000060000:{OA}").as_str())
    );
    assert_eq!(z.account_hints(body.as_bytes()), vec![OA.to_owned()]);
    assert_eq!(z.account_hints(S2_BODY.as_bytes()), vec![OA.to_owned()]);
    let follow = json!({"event_name":"follow","oa_id":OA,"timestamp":"1","follower":{"id":USER}});
    assert_eq!(
        z.account_hints(follow.to_string().as_bytes()),
        vec![OA.to_owned()]
    );
    assert!(z.account_hints(b"not json").is_empty());
    assert_eq!(z.event_key(&req(&none, b"[1]")), None);
}

// ---- parsing -----------------------------------------------------------------------------

#[test]
fn user_text_with_exact_fields() {
    let NormalizedEvent::MessageReceived(m) = zalo().parse(S2_BODY.as_bytes()).unwrap().remove(0)
    else {
        panic!("not a message");
    };
    assert_eq!(m.account_external_id, OA);
    assert_eq!(m.contact.external_id, USER);
    assert_eq!(m.thread_external_id, USER);
    assert_eq!(m.external_message_id, "abcdef0123456789abcd");
    assert_eq!(m.text.as_deref(), Some("Cho mình hỏi giá"));
    assert_eq!(m.sent_at.timestamp_millis(), 1_718_000_000_000);
    assert!(m.attachments.is_empty());
}

#[test]
fn every_attachment_kind() {
    for kind in [
        "image", "sticker", "gif", "link", "file", "audio", "video", "location",
    ] {
        let payload = match kind {
            "location" => json!({"coordinates": {"latitude": "10.77", "longitude": "106.70"}}),
            "file" => {
                json!({"url": "https://f.zalo.me/x.pdf", "name": "bao-gia.pdf", "size": "12"})
            }
            _ => {
                json!({"url": format!("https://f.zalo.me/{kind}"), "thumbnail": "https://f.zalo.me/t"})
            }
        };
        let ev = parse_one(user_event(
            &format!("user_send_{kind}"),
            json!({"msg_id": format!("m-{kind}"), "text": "cap",
                "attachments": [{"type": kind, "payload": payload}], "quote_msg_id": "q1"}),
        ));
        let NormalizedEvent::MessageReceived(m) = ev else {
            panic!("{kind}: not a message");
        };
        assert_eq!(m.external_message_id, format!("m-{kind}"));
        assert_eq!(m.reply_to.as_deref(), Some("q1"));
        let a = &m.attachments[0];
        assert_eq!(a.kind, kind);
        match kind {
            "location" => {
                assert_eq!(a.url, None);
                assert_eq!(
                    a.payload.as_ref().unwrap()["coordinates"]["latitude"],
                    "10.77"
                );
            }
            "file" => {
                assert_eq!(a.url.as_deref(), Some("https://f.zalo.me/x.pdf"));
                assert_eq!(a.title.as_deref(), Some("bao-gia.pdf"));
            }
            _ => assert_eq!(
                a.url.as_deref(),
                Some(format!("https://f.zalo.me/{kind}").as_str())
            ),
        }
    }
}

#[test]
fn business_card_text_comes_from_its_description() {
    let ev = parse_one(user_event(
        "user_send_business_card",
        json!({"msg_id": "bc1", "attachments": [{"type": "business_card",
            "payload": {"description": "Lan 0912345678", "thumbnail": "https://t"}}]}),
    ));
    let NormalizedEvent::MessageReceived(m) = ev else {
        panic!()
    };
    assert_eq!(m.text.as_deref(), Some("Lan 0912345678"));
    assert_eq!(m.attachments[0].kind, "business_card");
}

#[test]
fn follow_and_unfollow() {
    let ev = parse_one(json!({"app_id":APP_ID,"oa_id":OA,"event_name":"follow",
        "source":"oa_profile","timestamp":"1718000120000","follower":{"id":USER}}));
    let NormalizedEvent::Referred(r) = ev else {
        panic!()
    };
    assert_eq!(r.account_external_id, OA);
    assert_eq!(r.contact.external_id, USER);
    assert_eq!(r.referral.kind.as_deref(), Some("follow"));
    assert_eq!(r.referral.source.as_deref(), Some("oa_profile"));
    assert_eq!(r.at.timestamp_millis(), 1_718_000_120_000);
    let ev = parse_one(
        json!({"oa_id":OA,"event_name":"unfollow","timestamp":"1","follower":{"id":USER}}),
    );
    let NormalizedEvent::Ignored(i) = ev else {
        panic!()
    };
    assert_eq!(
        (i.account_external_id.as_str(), i.kind.as_str()),
        (OA, "unfollow")
    );
}

#[test]
fn submitted_info_becomes_a_message_with_the_phone() {
    for name in ["user_submit_info", "user_submitted_info"] {
        let mut v = user_event(name, json!(null));
        v["info"] = json!({"name":"Chị Lan","phone":"0912345678","address":"12 Lê Lợi",
            "ward":"Bến Nghé","district":"Quận 1","city":"Hồ Chí Minh"});
        let NormalizedEvent::MessageReceived(m) = parse_one(v) else {
            panic!()
        };
        assert_eq!(m.contact.display_name.as_deref(), Some("Chị Lan"));
        assert_eq!(
            m.text.as_deref(),
            Some(
                "Thông tin liên hệ: Chị Lan · 0912345678 · 12 Lê Lợi, Bến Nghé, Quận 1, Hồ Chí Minh"
            )
        );
        assert_eq!(
            m.external_message_id,
            format!("submit_info:{USER}:1718000000000")
        );
        assert_eq!(m.attachments[0].kind, "contact_info");
    }
}

#[test]
fn reactions_from_both_sides() {
    let NormalizedEvent::Reaction(r) = parse_one(user_event(
        "user_reacted_message",
        json!({"msg_id":"m1","react_icon":"/-heart"}),
    )) else {
        panic!()
    };
    assert_eq!(
        (
            r.account_external_id.as_str(),
            r.contact_external_id.as_str()
        ),
        (OA, USER)
    );
    assert_eq!(r.external_message_id, "m1");
    assert_eq!(r.emoji.as_deref(), Some("/-heart"));
    assert!(!r.removed);
    let v = json!({"event_name":"oa_reacted_message","timestamp":"1718000000000",
        "sender":{"id":OA},"recipient":{"id":USER},"message":{"msg_id":"m2","react_icon":""}});
    let NormalizedEvent::Reaction(r) = parse_one(v) else {
        panic!()
    };
    assert_eq!(r.account_external_id, OA);
    assert_eq!(r.contact_external_id, OA);
    assert!(r.removed);
}

#[test]
fn oa_sends_are_echoes() {
    for name in [
        "oa_send_text",
        "oa_send_image",
        "oa_send_file",
        "oa_send_gif",
    ] {
        let v = json!({"app_id":APP_ID,"event_name":name,"timestamp":"1718000000000",
            "sender":{"id":OA},"recipient":{"id":USER},"message":{"msg_id":"e1","text":"Dạ"}});
        let NormalizedEvent::MessageEcho(m) = parse_one(v) else {
            panic!("{name}")
        };
        assert_eq!(m.account_external_id, OA);
        assert_eq!(m.contact.external_id, USER);
        assert_eq!(m.external_message_id, "e1");
        assert_eq!(m.app_id, None);
    }
}

#[test]
fn receipts() {
    let v = json!({"event_name":"user_received_message","timestamp":"1718000000000",
        "sender":{"id":OA},"recipient":{"id":USER},"message":{"msg_id":"e1"}});
    let NormalizedEvent::DeliveryStatus(d) = parse_one(v) else {
        panic!()
    };
    assert_eq!(d.state, DeliveryState::Delivered);
    assert_eq!(d.external_message_ids, vec!["e1".to_owned()]);
    assert_eq!(
        (
            d.account_external_id.as_str(),
            d.contact_external_id.as_str()
        ),
        (OA, USER)
    );
    let v = json!({"event_name":"user_seen_message","timestamp":"1718000060000",
        "sender":{"id":OA},"recipient":{"id":USER},"message":{"msg_ids":["a",2]}});
    let NormalizedEvent::DeliveryStatus(d) = parse_one(v) else {
        panic!()
    };
    assert_eq!(d.state, DeliveryState::Read);
    assert_eq!(d.external_message_ids, vec!["a".to_owned(), "2".to_owned()]);
}

#[test]
fn ids_and_timestamps_as_numbers() {
    let v = json!({"app_id":1234567890123456789_u64,"event_name":"user_send_text",
        "timestamp":1718000000000_i64,"sender":{"id":2468013579246801357_u64},
        "recipient":{"id":1357924680135792468_u64},"message":{"msg_id":42,"text":"hi"}});
    let NormalizedEvent::MessageReceived(m) = parse_one(v) else {
        panic!()
    };
    assert_eq!(m.account_external_id, OA);
    assert_eq!(m.contact.external_id, USER);
    assert_eq!(m.external_message_id, "42");
    assert_eq!(m.sent_at.timestamp_millis(), 1_718_000_000_000);
}

#[test]
fn unknown_events_are_empty_and_malformed_ones_errors() {
    let z = zalo();
    let v = json!({"event_name":"shop_has_order","timestamp":"1"});
    assert!(z.parse(v.to_string().as_bytes()).unwrap().is_empty());
    assert!(z.parse(b"not json").is_err());
    assert!(z.parse(b"[]").is_err());
    assert!(z.parse(b"{}").is_err(), "no event_name");
    // A known event without its message id.
    let v = user_event("user_send_text", json!({"text":"x"}));
    assert!(z.parse(v.to_string().as_bytes()).is_err());
    // Without a timestamp.
    let v = json!({"event_name":"user_send_text","sender":{"id":USER},"recipient":{"id":OA},
        "message":{"msg_id":"x"}});
    assert!(z.parse(v.to_string().as_bytes()).is_err());
}

#[test]
fn an_app_id_that_is_not_an_id_is_another_app() {
    let body = br#"{"app_id":false,"timestamp":"1718000000000","event_name":"user_send_text"}"#;
    let sig = signature_header(APP_ID, body, "1718000000000", SECRET);
    let h = headers(&[("x-zevent-signature", &sig)]);
    assert_eq!(verify(&h, body, S2_NOW), Err(VerifyError::WrongApp));
    // `null` (or no app_id at all) falls back to the configured one.
    let body = br#"{"app_id":null,"timestamp":"1718000000000","event_name":"user_send_text"}"#;
    let sig = signature_header(APP_ID, body, "1718000000000", SECRET);
    let h = headers(&[("x-zevent-signature", &sig)]);
    assert_eq!(verify(&h, body, S2_NOW), Ok(()));
}
