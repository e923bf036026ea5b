//! The Facebook connector against the loopback Graph API sandbox: Send API calls, error
//! mapping end to end, and webhook bodies built the way Meta sends them.
#![cfg(feature = "sandbox")]

use std::time::Duration;

use serde_json::json;
use tongdai_connectors::facebook::sandbox::{
    GraphSandbox, RATE_LIMIT_MINUTES, SandboxFailure, messenger_delivery_body, messenger_echo_body,
    messenger_text_body, meta_json,
};
use tongdai_connectors::facebook::{Facebook, FacebookConfig, appsecret_proof, signature_header};
use tongdai_connectors::{
    AccountCtx, ConnectorError, DeliveryState, HttpCtx, InboundRequest, Messaging, NormalizedEvent,
    OutboundText, WebhookInbound,
};

const SECRET: &str = "test_app_secret";
const PAGE: &str = "105123456789012";
const PSID: &str = "6789012345678901";
const TOKEN: &str = "EAAB_example_page_token";

fn facebook(app_secret: Option<&str>) -> Facebook {
    Facebook::new(FacebookConfig {
        app_id: Some("1517776481860111".into()),
        app_secret: app_secret.map(str::to_owned),
        verify_token: Some("verify-me".into()),
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client")
}

async fn send(
    fb: &Facebook,
    sandbox: &GraphSandbox,
    text: &str,
    outside_window: bool,
) -> Result<tongdai_connectors::SendReceipt, ConnectorError> {
    let http = client();
    let base = sandbox.base_url();
    fb.send_text(
        &HttpCtx {
            http: &http,
            base_url: &base,
        },
        &AccountCtx {
            external_id: PAGE,
            access_token: TOKEN,
        },
        &OutboundText {
            recipient_external_id: PSID,
            text,
            outside_standard_window: outside_window,
            idempotency_key: None,
        },
    )
    .await
}

#[tokio::test]
async fn send_text_posts_to_the_page_and_returns_the_message_id() {
    let sandbox = GraphSandbox::start(Some(SECRET.into()))
        .await
        .expect("sandbox");
    let fb = facebook(Some(SECRET));

    let receipt = send(&fb, &sandbox, "Dạ còn size M ạ 😊", false)
        .await
        .expect("sent");
    assert_eq!(receipt.external_message_id, "m_sandbox_1");
    let receipt = send(&fb, &sandbox, "Cảm ơn bạn", false)
        .await
        .expect("sent");
    assert_eq!(receipt.external_message_id, "m_sandbox_2");

    let sent = sandbox.sent_messages();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].page_id, PAGE);
    assert_eq!(sent[0].recipient_id, PSID);
    assert_eq!(sent[0].text, "Dạ còn size M ạ 😊");
    assert_eq!(sent[0].messaging_type, "RESPONSE");
    assert_eq!(sent[0].tag, None);
    assert_eq!(sent[0].message_id, "m_sandbox_1");

    let req = &sandbox.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/v21.0/{PAGE}/messages"));
    assert_eq!(req.content_type.as_deref(), Some("application/json"));
    assert_eq!(req.query_param("access_token").as_deref(), Some(TOKEN));
    // §7.2 S4.
    assert_eq!(
        req.query_param("appsecret_proof").as_deref(),
        Some("25e81d86a49419bb3024d63ae7cae94170514928b79be67ef1c52dfa8b271222")
    );
    let body: serde_json::Value = serde_json::from_str(&req.body).expect("JSON body");
    assert_eq!(
        body,
        json!({
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "Dạ còn size M ạ 😊"}
        })
    );
}

#[tokio::test]
async fn outside_the_window_the_human_agent_tag_is_used() {
    let sandbox = GraphSandbox::start(None).await.expect("sandbox");
    let fb = facebook(Some(SECRET));
    send(&fb, &sandbox, "Shop trả lời muộn, xin lỗi bạn", true)
        .await
        .expect("sent");
    let sent = sandbox.sent_messages();
    assert_eq!(sent[0].messaging_type, "MESSAGE_TAG");
    assert_eq!(sent[0].tag.as_deref(), Some("HUMAN_AGENT"));
}

#[tokio::test]
async fn without_an_app_secret_no_proof_is_sent() {
    let sandbox = GraphSandbox::start(Some(SECRET.into()))
        .await
        .expect("sandbox");
    send(&facebook(None), &sandbox, "hi", false)
        .await
        .expect("sent");
    assert_eq!(sandbox.requests()[0].query_param("appsecret_proof"), None);
}

#[tokio::test]
async fn a_proof_made_with_another_secret_is_refused_by_the_sandbox() {
    let sandbox = GraphSandbox::start(Some(SECRET.into()))
        .await
        .expect("sandbox");
    let err = send(&facebook(Some("other_secret")), &sandbox, "hi", false)
        .await
        .expect_err("proof mismatch");
    assert!(
        matches!(&err, ConnectorError::Api { status: 400, code: Some(100), transient: false, message, .. } if message.contains("appsecret_proof")),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(sandbox.sent_messages().is_empty());
    assert_eq!(
        sandbox.requests()[0].query_param("appsecret_proof"),
        Some(appsecret_proof("other_secret", TOKEN))
    );
}

#[tokio::test]
async fn sandbox_failures_map_to_the_right_connector_errors() {
    let sandbox = GraphSandbox::start(Some(SECRET.into()))
        .await
        .expect("sandbox");
    let fb = facebook(Some(SECRET));
    for f in [
        SandboxFailure::TokenExpired,
        SandboxFailure::RateLimited,
        SandboxFailure::ServerError,
        SandboxFailure::OutsideWindow,
    ] {
        sandbox.push_failure(f);
    }

    let e = send(&fb, &sandbox, "1", false)
        .await
        .expect_err("token expired");
    assert!(matches!(e, ConnectorError::Unauthorized(_)), "{e:?}");
    assert!(!e.is_retryable());

    let e = send(&fb, &sandbox, "2", false)
        .await
        .expect_err("rate limited");
    let ConnectorError::RateLimited { retry_after, .. } = &e else {
        panic!("expected RateLimited, got {e:?}");
    };
    assert_eq!(
        *retry_after,
        Some(Duration::from_secs(RATE_LIMIT_MINUTES * 60))
    );
    assert!(e.is_retryable());

    let e = send(&fb, &sandbox, "3", false)
        .await
        .expect_err("server error");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                status: 500,
                code: Some(2),
                transient: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.is_retryable());

    let e = send(&fb, &sandbox, "4", true)
        .await
        .expect_err("outside window");
    // Graph's `10/2018278` is its own class: the window is closed, retrying cannot help.
    assert!(
        matches!(&e, ConnectorError::OutsideWindow(m) if m.contains("outside of allowed window")),
        "{e:?}"
    );
    assert!(!e.is_retryable());

    assert!(!e.to_string().contains(TOKEN), "{e}");

    // The queue is drained: the next call succeeds.
    let receipt = send(&fb, &sandbox, "5", false).await.expect("sent");
    assert_eq!(receipt.external_message_id, "m_sandbox_1");
    assert_eq!(sandbox.requests().len(), 5);
    assert_eq!(sandbox.sent_messages().len(), 1);
}

#[tokio::test]
async fn the_sandbox_answers_bad_requests_like_the_graph_api() {
    let sandbox = GraphSandbox::start(Some(SECRET.into()))
        .await
        .expect("sandbox");
    let http = client();
    let base = sandbox.base_url();
    let graph_error = |v: serde_json::Value| v["error"]["code"].as_i64();

    let r = http
        .post(format!("{base}/me/messages"))
        .json(&json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "x"}}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(graph_error(v.clone()), Some(190));
    assert_eq!(v["error"]["type"], "OAuthException");

    let r = http
        .post(format!("{base}/me/messages?access_token=t"))
        .json(&json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE"}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
    assert_eq!(graph_error(r.json().await.expect("json")), Some(100));

    let r = http
        .post(format!("{base}/me/messages?access_token=t"))
        .body("recipient=not-json")
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 400);
    assert_eq!(graph_error(r.json().await.expect("json")), Some(100));

    let r = http
        .post(format!("{base}/me/messages?access_token=t"))
        .json(&json!({"recipient": {"id": PSID}, "messaging_type": "RESPONSE", "message": {"text": "via me"}}))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.expect("json");
    assert_eq!(
        v,
        json!({"recipient_id": PSID, "message_id": "m_sandbox_1"})
    );
    assert_eq!(sandbox.sent_messages()[0].page_id, "me");

    let r = http
        .get(format!("{base}/{PAGE}/feed?access_token=t"))
        .send()
        .await
        .expect("request");
    assert_eq!(r.status(), 404);
    assert!(graph_error(r.json().await.expect("json")).is_some());

    assert_eq!(sandbox.requests().len(), 5);
    assert_eq!(sandbox.requests()[4].method, "GET");
    assert_eq!(sandbox.requests()[4].path, format!("/v21.0/{PAGE}/feed"));
}

#[tokio::test]
async fn after_shutdown_sends_fail_as_retryable_transport_errors() {
    let sandbox = GraphSandbox::start(None).await.expect("sandbox");
    let fb = facebook(None);
    send(&fb, &sandbox, "before", false).await.expect("sent");
    sandbox.shutdown();
    let e = send(&fb, &sandbox, "after", false)
        .await
        .expect_err("stopped");
    assert!(matches!(e, ConnectorError::Transport(_)), "{e:?}");
    assert!(e.is_retryable());
    assert!(!e.to_string().contains(TOKEN), "{e}");
}

#[tokio::test]
async fn dropping_the_last_handle_stops_the_server() {
    let sandbox = GraphSandbox::start(None).await.expect("sandbox");
    let addr = sandbox.addr();
    let clone = sandbox.clone();
    drop(sandbox);
    // One handle left: still serving.
    tokio::net::TcpStream::connect(addr)
        .await
        .expect("still listening");
    drop(clone);
    let refused = tokio::time::timeout(Duration::from_secs(2), async {
        // The server task notices on its next poll; yield until it has closed the listener.
        while tokio::net::TcpStream::connect(addr).await.is_ok() {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(
        refused.is_ok(),
        "listener still open 2 s after the last handle dropped"
    );
}

#[test]
fn meta_json_escapes_like_meta() {
    let body = meta_json(&json!({"text": "Còn bạn nhé 😢", "url": "https://a.b/c"}));
    assert_eq!(
        String::from_utf8(body).expect("ascii"),
        r#"{"text":"C\u00f2n b\u1ea1n nh\u00e9 \ud83d\ude22","url":"https://a.b/c"}"#
    );
}

#[test]
fn messenger_text_body_matches_the_spec_example_byte_for_byte() {
    let body = messenger_text_body(
        PAGE,
        PSID,
        "m_AbCdEf123",
        "Shop ơi, áo này còn size M không?",
        1_718_000_000_123,
    );
    // The §2.4 example, with the message timestamp equal to the entry time.
    let expected = r#"{"object":"page","entry":[{"id":"105123456789012","time":1718000000123,"messaging":[{"sender":{"id":"6789012345678901"},"recipient":{"id":"105123456789012"},"timestamp":1718000000123,"message":{"mid":"m_AbCdEf123","text":"Shop \u01a1i, \u00e1o n\u00e0y c\u00f2n size M kh\u00f4ng?"}}]}]}"#;
    assert_eq!(String::from_utf8(body.clone()).expect("ascii"), expected);
}

#[test]
fn built_bodies_verify_and_round_trip_through_parse() {
    let fb = facebook(Some(SECRET));
    let text = "Áo này còn không shop? 👗 /size M";
    let bodies = [
        messenger_text_body(PAGE, PSID, "m_in_1", text, 1_718_000_000_000),
        messenger_echo_body(
            PAGE,
            PSID,
            "m_out_1",
            "Dạ còn ạ",
            "1517776481860111",
            1_718_000_001_000,
        ),
        messenger_delivery_body(PAGE, PSID, &["m_out_1", "m_out_2"], 1_718_000_002_000),
    ];
    let mut events = Vec::new();
    for body in &bodies {
        assert!(body.is_ascii());
        let headers = {
            let mut h = http::HeaderMap::new();
            h.insert(
                "x-hub-signature-256",
                signature_header(SECRET, body).parse().expect("header"),
            );
            h
        };
        let req = InboundRequest {
            method: &http::Method::POST,
            headers: &headers,
            query: None,
            body,
        };
        fb.verify(&req).expect("signed body verifies");
        assert_eq!(fb.account_hints(body), vec![PAGE.to_owned()]);
        events.extend(fb.parse(body).expect("parses"));
    }
    assert_eq!(events.len(), 3);

    let NormalizedEvent::MessageReceived(m) = &events[0] else {
        panic!("expected MessageReceived, got {:?}", events[0]);
    };
    assert_eq!(m.account_external_id, PAGE);
    assert_eq!(m.contact.external_id, PSID);
    assert_eq!(m.external_message_id, "m_in_1");
    assert_eq!(m.text.as_deref(), Some(text));
    assert_eq!(m.sent_at.timestamp_millis(), 1_718_000_000_000);

    let NormalizedEvent::MessageEcho(e) = &events[1] else {
        panic!("expected MessageEcho, got {:?}", events[1]);
    };
    assert_eq!(e.contact.external_id, PSID);
    assert_eq!(e.text.as_deref(), Some("Dạ còn ạ"));
    assert_eq!(e.app_id.as_deref(), Some("1517776481860111"));
    assert!(fb.is_own_app(e.app_id.as_deref()));

    let NormalizedEvent::DeliveryStatus(d) = &events[2] else {
        panic!("expected DeliveryStatus, got {:?}", events[2]);
    };
    assert_eq!(d.state, DeliveryState::Delivered);
    assert_eq!(
        d.external_message_ids,
        vec!["m_out_1".to_owned(), "m_out_2".to_owned()]
    );
    assert_eq!(
        d.watermark.map(|w| w.timestamp_millis()),
        Some(1_718_000_002_000)
    );
}

#[test]
fn echo_body_writes_numeric_app_ids_as_numbers() {
    let body = messenger_echo_body(PAGE, PSID, "m_1", "ok", "1517776481860111", 1);
    let s = String::from_utf8(body).expect("ascii");
    assert!(
        s.contains(r#""is_echo":true,"app_id":1517776481860111,"#),
        "{s}"
    );
    let body = messenger_echo_body(PAGE, PSID, "m_1", "ok", "app-x", 1);
    assert!(
        String::from_utf8(body)
            .expect("ascii")
            .contains(r#""app_id":"app-x""#)
    );
}
