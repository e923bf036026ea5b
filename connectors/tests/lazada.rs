//! The Lazada connector against the loopback Lazada sandbox, over real HTTP: seller OAuth
//! (consent page, token create, refresh), orders (detail and reconciliation paging across the
//! offset cap), IM (session push → messages → reply), signed pushes, the sandbox's signature
//! checks and the error classes. Every test name starts with `lazada_` so
//! `cargo test -p tongdai-connectors --features sandbox lazada` runs them all.
#![cfg(feature = "sandbox")]

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;
use tongdai_connectors::commerce::{MarketStatus, Orders};
use tongdai_connectors::lazada::sandbox::{
    LazadaSandbox, SandboxFailure, SandboxImMessage, SandboxOrder, order_push_body,
    session_push_body,
};
use tongdai_connectors::lazada::sign::signed_params;
use tongdai_connectors::lazada::{Lazada, LazadaConfig};
use tongdai_connectors::{
    AccountCtx, ConnectorError, HttpCtx, InboundRequest, Messaging, NormalizedEvent, OAuth,
    OAuthCallback, OutboundMessage, Recipient, TokenSet, VerifyError, WebhookInbound,
};

const APP_KEY: &str = "100001";
const APP_SECRET: &str = "sandbox_app_secret_lazada";
const REDIRECT: &str = "https://shop.tongdai.example/api/v1/channels/lazada/oauth/callback";

fn lazada() -> Lazada {
    Lazada::new(LazadaConfig {
        app_key: Some(APP_KEY.into()),
        app_secret: Some(APP_SECRET.into()),
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("time")
}

async fn start() -> LazadaSandbox {
    LazadaSandbox::start(APP_KEY, APP_SECRET)
        .await
        .expect("sandbox")
}

/// Consent page → code → tokens, the way the hub's connect flow drives it.
async fn connect(lz: &Lazada, sb: &LazadaSandbox, http: &reqwest::Client) -> TokenSet {
    let url = lz
        .authorize_url(&sb.oauth_url(), REDIRECT, "csrf-state-1", None)
        .expect("authorize url");
    let resp = http.get(&url).send().await.expect("consent page");
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"]
        .to_str()
        .expect("location")
        .to_owned();
    assert!(location.starts_with(REDIRECT), "{location}");
    let back = url::Url::parse(&location).expect("url");
    let q: std::collections::BTreeMap<String, String> = back.query_pairs().into_owned().collect();
    assert_eq!(q.get("state").map(String::as_str), Some("csrf-state-1"));
    let callback = OAuthCallback {
        code: q["code"].clone(),
        params: q,
    };
    let oauth = HttpCtx {
        http,
        base_url: &sb.oauth_url(),
    };
    lz.exchange_code(&oauth, REDIRECT, &callback, None)
        .await
        .expect("token create")
}

fn push_request<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> InboundRequest<'a> {
    InboundRequest {
        method: &Method::POST,
        headers,
        query: None,
        body,
    }
}

fn signed_headers(sb: &LazadaSandbox, body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&sb.push_signature(body)).expect("header"),
    );
    h
}

#[tokio::test]
async fn lazada_oauth_connect_refresh_and_seller() {
    let sb = start().await;
    let http = client();
    let lz = lazada();
    let grant = connect(&lz, &sb, &http).await;
    let seller = sb.seller();
    assert_eq!(grant.account_ids, vec![seller.seller_id.clone()]);
    assert_eq!(grant.expires_in, Some(7 * 86_400));
    assert!(grant.refresh_token.is_some());
    // The token calls were signed without access_token, on the auth service's /rest.
    let create = sb
        .requests()
        .into_iter()
        .find(|r| r.api() == "/auth/token/create")
        .expect("token create call");
    assert_eq!(create.method, "POST");
    assert!(create.param("access_token").is_none());
    assert!(create.param("sign").is_some());
    // A code is good once.
    let api = HttpCtx {
        http: &http,
        base_url: &sb.api_url(),
    };
    let accounts = lz.accounts(&api, &grant).await.expect("accounts");
    assert_eq!(accounts.len(), 1);
    assert_eq!(accounts[0].external_id, seller.seller_id);
    assert_eq!(accounts[0].name.as_deref(), Some(seller.name.as_str()));
    assert_eq!(
        accounts[0].details["short_code"],
        seller.short_code.as_str()
    );

    let oauth = HttpCtx {
        http: &http,
        base_url: &sb.oauth_url(),
    };
    let rt = grant
        .refresh_token
        .as_ref()
        .expect("refresh")
        .expose()
        .to_owned();
    let fresh = lz
        .refresh(&oauth, &seller.seller_id, &rt)
        .await
        .expect("refresh");
    assert_ne!(fresh.access_token, grant.access_token);
    // Reusable refresh tokens (the sandbox default) work again …
    lz.refresh(&oauth, &seller.seller_id, &rt)
        .await
        .expect("reuse");
    // … single-use ones are refused once spent, as Unauthorized (→ needs_reauth).
    sb.set_refresh_reusable(false);
    let rt2 = fresh
        .refresh_token
        .as_ref()
        .expect("refresh")
        .expose()
        .to_owned();
    lz.refresh(&oauth, &seller.seller_id, &rt2)
        .await
        .expect("first use");
    let err = lz
        .refresh(&oauth, &seller.seller_id, &rt2)
        .await
        .expect_err("spent");
    assert!(err.needs_reconnect(), "{err:?}");
    // A reused code is refused (not as Unauthorized: it is not a token problem).
    let used = OAuthCallback::code(create.param("code").expect("code sent").to_owned());
    let err = lz
        .exchange_code(&oauth, REDIRECT, &used, None)
        .await
        .expect_err("code reuse");
    assert!(matches!(err, ConnectorError::Api { .. }), "{err:?}");
}

#[tokio::test]
async fn lazada_consent_page_checks_the_app_key() {
    let sb = start().await;
    let http = client();
    let other = Lazada::new(LazadaConfig {
        app_key: Some("999".into()),
        app_secret: Some(APP_SECRET.into()),
    });
    let url = other
        .authorize_url(&sb.oauth_url(), REDIRECT, "s", None)
        .expect("url");
    let resp = http.get(&url).send().await.expect("page");
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn lazada_reconciliation_pages_across_the_offset_cap() {
    let sb = start().await;
    let http = client();
    sb.add_token("tok");
    sb.set_max_offset(10);
    let base = 1_704_078_000; // 2024-01-01 03:00 UTC
    // 37 orders, some sharing an update second, plus two outside the range.
    let mut want = BTreeSet::new();
    for i in 0..37_i64 {
        let id = format!("41655732470{i:04}");
        sb.add_order(SandboxOrder::new(&id, "pending", at(base + i / 2 * 60)));
        want.insert(id);
    }
    sb.add_order(SandboxOrder::new("1", "pending", at(base - 1)));
    sb.add_order(SandboxOrder::new("2", "pending", at(base + 86_400)));
    let lz = lazada().with_order_paging(5, 10);
    let cx = HttpCtx {
        http: &http,
        base_url: &sb.api_url(),
    };
    let acc = AccountCtx {
        external_id: "1000123456",
        access_token: "tok",
    };
    let (from, to) = (at(base), at(base + 3_600));
    let mut got = BTreeSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = lz
            .list_updated(&cx, &acc, from, to, cursor.as_deref())
            .await
            .expect("page");
        got.extend(page.ids);
        pages += 1;
        assert!(pages < 50, "paging does not end");
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(got, want);
    let calls: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.api() == "/orders/get")
        .collect();
    // Never past the cap, limit as configured, sorted by update time ascending.
    for c in &calls {
        let offset: u32 = c.param("offset").expect("offset").parse().expect("n");
        assert!(offset <= 10, "offset {offset}");
        assert_eq!(c.param("limit"), Some("5"));
        assert_eq!(c.param("sort_by"), Some("updated_at"));
        assert_eq!(c.param("sort_direction"), Some("ASC"));
        assert_eq!(c.param("update_before"), Some("2024-01-01T11:00:00+07:00"));
    }
    // The window start moved at least once (a later update_after with offset 0).
    let starts: BTreeSet<&str> = calls
        .iter()
        .filter_map(|c| c.param("update_after"))
        .collect();
    assert!(starts.len() >= 2, "{starts:?}");
    assert_eq!(
        calls[0].param("update_after"),
        Some("2024-01-01T10:00:00+07:00")
    );
}

#[tokio::test]
async fn lazada_order_push_then_fetch() {
    let sb = start().await;
    let http = client();
    sb.add_token("tok");
    let t0 = at(1_704_078_000);
    sb.add_order(
        SandboxOrder::new("416557324702006", "pending", t0)
            .item("AO-DO-M", "Áo thun", "189000.00")
            .item("AO-DO-M", "Áo thun", "189000.00")
            .item("QUAN-L", "Quần jean", "350000.00"),
    );
    let lz = lazada();
    let seller = sb.seller().seller_id;
    // The order ships; Lazada pushes it.
    let t1 = t0 + TimeDelta::hours(5);
    sb.set_order_status("416557324702006", "shipped", t1);
    let body = order_push_body(&seller, "416557324702006", "shipped", t1);
    let headers = signed_headers(&sb, body.as_bytes());
    let req = push_request(&headers, body.as_bytes());
    assert_eq!(lz.verify(&req), Ok(()));
    let key = lz.event_key(&req).expect("key");
    assert_eq!(
        key,
        format!(
            "lazada:order:{seller}:416557324702006:shipped:{}",
            t1.timestamp_millis()
        )
    );
    let events = lz.parse(body.as_bytes()).expect("parse");
    let [NormalizedEvent::OrderChanged(notice)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(notice.updated_at, Some(t1));
    // A forged copy does not verify.
    let forged = body.replace("shipped", "delivered");
    assert_eq!(
        lz.verify(&push_request(&headers, forged.as_bytes())),
        Err(VerifyError::BadSignature)
    );
    // The hub then fetches the order.
    let cx = HttpCtx {
        http: &http,
        base_url: &sb.api_url(),
    };
    let acc = AccountCtx {
        external_id: &notice.account_external_id,
        access_token: "tok",
    };
    let ids = vec![notice.order_external_id.clone(), "404".to_owned()];
    let orders = lz.get_orders(&cx, &acc, &ids).await.expect("orders");
    assert_eq!(orders.len(), 1, "unknown ids are left out");
    let o = &orders[0];
    assert_eq!(o.external_id, "416557324702006");
    assert_eq!(o.status, MarketStatus::Shipped);
    assert_eq!(o.platform_status, "shipped");
    assert_eq!(o.updated_at, t1);
    assert_eq!(o.items.len(), 2);
    assert_eq!(
        (o.items[0].sku.as_deref(), o.items[0].quantity),
        (Some("AO-DO-M"), 2)
    );
    assert_eq!(o.total, 189_000 * 2 + 350_000 + 30_000);
    assert_eq!(o.cod_amount, o.total);
    assert_eq!(o.tracking_code.as_deref(), Some("LZVN416557324702006"));
    assert_eq!(o.recipient.district.as_deref(), Some("Quận 1"));
    // Both calls carried and signed the access token.
    for r in sb
        .requests()
        .iter()
        .filter(|r| r.api().starts_with("/order/"))
    {
        assert_eq!(r.param("access_token"), Some("tok"));
        assert!(
            ids.iter()
                .any(|id| r.param("order_id") == Some(id.as_str()))
        );
    }
}

#[tokio::test]
async fn lazada_im_session_push_messages_and_reply() {
    let sb = start().await;
    let http = client();
    sb.add_token("tok");
    let lz = lazada();
    let seller = sb.seller().seller_id;
    let session = format!("100094063_2_1011822749_1_{}", 103);
    sb.add_session(&session, "1011822749");
    let t = at(1_709_611_200);
    for (i, text) in [
        "Chào shop",
        "Còn hàng size M không?",
        "Ship về Hà Nội bao lâu?",
    ]
    .iter()
    .enumerate()
    {
        sb.add_im_message(
            &session,
            SandboxImMessage::buyer_text(&format!("m{i}"), text, t + TimeDelta::seconds(i as i64)),
        );
    }
    // An older session with another buyer.
    sb.add_session("100094063_2_2000000001_1_104", "2000000001");
    sb.add_im_message(
        "100094063_2_2000000001_1_104",
        SandboxImMessage::buyer_text("old1", "Hôm qua mình hỏi rồi", t - TimeDelta::days(1)),
    );
    let body = session_push_body(&seller, &session, t);
    let headers = signed_headers(&sb, body.as_bytes());
    assert_eq!(lz.verify(&push_request(&headers, body.as_bytes())), Ok(()));
    let events = lz.parse(body.as_bytes()).expect("parse");
    let [NormalizedEvent::ChatChanged(notice)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(notice.account_external_id, seller);
    let cx = HttpCtx {
        http: &http,
        base_url: &sb.api_url(),
    };
    let acc = AccountCtx {
        external_id: &seller,
        access_token: "tok",
    };
    // The session list, one per page, most recently active first.
    let first = lz
        .im_sessions(&cx, &acc, 1, None)
        .await
        .expect("sessions 1");
    assert_eq!(first.sessions.len(), 1);
    assert_eq!(first.sessions[0].session_id, session);
    assert_eq!(first.sessions[0].buyer_id.as_deref(), Some("1011822749"));
    assert_eq!(first.sessions[0].unread_count, 3);
    assert_eq!(
        first.sessions[0].summary.as_deref(),
        Some("Ship về Hà Nội bao lâu?")
    );
    assert_eq!(
        first.sessions[0].last_message_at,
        Some(t + TimeDelta::seconds(2))
    );
    let second = lz
        .im_sessions(&cx, &acc, 1, first.next.as_ref())
        .await
        .expect("sessions 2");
    assert_eq!(second.sessions.len(), 1);
    assert_eq!(
        second.sessions[0].session_id,
        "100094063_2_2000000001_1_104"
    );
    assert!(second.next.is_none());
    // Two pages of two.
    let first = lz
        .im_messages(&cx, &acc, &notice.session_external_id, 2, None)
        .await
        .expect("page 1");
    assert_eq!(first.events.len(), 2);
    let next = first.next.clone().expect("more");
    let second = lz
        .im_messages(&cx, &acc, &notice.session_external_id, 2, Some(&next))
        .await
        .expect("page 2");
    assert!(second.next.is_none());
    let texts: Vec<String> = first
        .events
        .iter()
        .chain(&second.events)
        .map(|e| match e {
            NormalizedEvent::MessageReceived(m) => {
                assert_eq!(m.contact.external_id, "1011822749");
                assert_eq!(m.thread_external_id, session);
                m.text.clone().unwrap_or_default()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        texts,
        [
            "Ship về Hà Nội bao lâu?",
            "Còn hàng size M không?",
            "Chào shop"
        ]
    );
    // Reply in the session; a retried send with the same key is sent once.
    let msg = OutboundMessage::text(Recipient::User(session.clone()), "Dạ còn ạ")
        .with_idempotency_key("reply-1");
    let sent = lz.send(&cx, &acc, &msg).await.expect("send");
    let again = lz.send(&cx, &acc, &msg).await.expect("retry");
    assert_eq!(sent.external_message_id, again.external_message_id);
    let log = sb.sent_messages();
    assert_eq!(log.len(), 1);
    assert_eq!((log[0].template_id, log[0].body.as_str()), (1, "Dạ còn ạ"));
    // The reply comes back as the seller's echo.
    let page = lz
        .im_messages(&cx, &acc, &session, 1, None)
        .await
        .expect("latest");
    let [NormalizedEvent::MessageEcho(echo)] = page.events.as_slice() else {
        panic!("{:?}", page.events)
    };
    assert_eq!(echo.external_message_id, sent.external_message_id);
    assert_eq!(echo.contact.external_id, "1011822749");
    assert_eq!(echo.text.as_deref(), Some("Dạ còn ạ"));
    // Comments do not exist on Lazada.
    let err = lz
        .send(
            &cx,
            &acc,
            &OutboundMessage::text(Recipient::Comment("c".into()), "x"),
        )
        .await
        .expect_err("unsupported");
    assert!(matches!(err, ConnectorError::Unsupported));
}

#[tokio::test]
async fn lazada_errors_map_to_connector_errors() {
    let sb = start().await;
    let http = client();
    sb.add_token("tok");
    sb.add_session("s1", "b1");
    let lz = lazada();
    let cx = HttpCtx {
        http: &http,
        base_url: &sb.api_url(),
    };
    let acc = AccountCtx {
        external_id: "1000123456",
        access_token: "tok",
    };
    let ids = vec!["1".to_owned()];
    sb.push_failure(SandboxFailure::IllegalAccessToken);
    let e = lz.get_orders(&cx, &acc, &ids).await.expect_err("token");
    assert!(e.needs_reconnect(), "{e:?}");
    sb.push_failure_at("/orders/get", SandboxFailure::AppCallLimit);
    let e = lz
        .list_updated(&cx, &acc, at(0), at(60), None)
        .await
        .expect_err("limit");
    assert!(
        matches!(e, ConnectorError::RateLimited { .. }) && e.is_retryable(),
        "{e:?}"
    );
    sb.push_failure_at("/im/message/send", SandboxFailure::MissingPermission);
    let e = lz
        .send(
            &cx,
            &acc,
            &OutboundMessage::text(Recipient::User("s1".into()), "x"),
        )
        .await
        .expect_err("permission");
    assert!(matches!(e, ConnectorError::Forbidden { .. }), "{e:?}");
    assert!(sb.sent_messages().is_empty());
    // The failures were used up: the same calls now succeed.
    lz.get_orders(&cx, &acc, &ids).await.expect("orders");
    // An unknown, revoked or expired token is refused by the sandbox itself.
    sb.revoke_token("tok");
    let e = lz.get_orders(&cx, &acc, &ids).await.expect_err("revoked");
    assert!(e.needs_reconnect(), "{e:?}");
    sb.set_token_lifetimes(0, 0);
    let grant = connect(&lz, &sb, &http).await;
    let expired = AccountCtx {
        external_id: "1000123456",
        access_token: grant.access_token.expose(),
    };
    let e = lz
        .get_orders(&cx, &expired, &ids)
        .await
        .expect_err("expired");
    assert!(e.needs_reconnect(), "{e:?}");
    let oauth = HttpCtx {
        http: &http,
        base_url: &sb.oauth_url(),
    };
    let rt = grant.refresh_token.expect("rt");
    let e = lz
        .refresh(&oauth, "1000123456", rt.expose())
        .await
        .expect_err("refresh expired");
    assert!(e.needs_reconnect(), "{e:?}");
    // Error messages never carry the token.
    assert!(!format!("{e}").contains(rt.expose()));
}

/// One raw signed call, for checking what the sandbox refuses.
async fn raw_call(sb: &LazadaSandbox, params: Vec<(String, String)>) -> Value {
    client()
        .get(format!("{}/seller/get", sb.api_url()))
        .query(&params)
        .send()
        .await
        .expect("call")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn lazada_sandbox_checks_signatures_like_lazada() {
    let sb = start().await;
    sb.add_token("tok");
    let now = Utc::now().timestamp_millis();
    let good = signed_params(APP_KEY, APP_SECRET, "/seller/get", Some("tok"), now, &[]);
    assert_eq!(raw_call(&sb, good.clone()).await["code"], "0");
    // Any parameter changed after signing (here the access token) breaks the signature.
    let mut tampered = good.clone();
    for (k, v) in &mut tampered {
        if k == "access_token" {
            *v = "tok2".into();
        }
    }
    assert_eq!(raw_call(&sb, tampered).await["code"], "IncompleteSignature");
    // Lowercase hex is not Lazada's sign.
    let mut lower = good.clone();
    for (k, v) in &mut lower {
        if k == "sign" {
            *v = v.to_lowercase();
        }
    }
    assert_eq!(raw_call(&sb, lower).await["code"], "IncompleteSignature");
    // Without sign.
    let unsigned: Vec<_> = good.iter().filter(|(k, _)| k != "sign").cloned().collect();
    assert_eq!(raw_call(&sb, unsigned).await["code"], "IncompleteSignature");
    // Another secret.
    let other = signed_params(APP_KEY, "wrong", "/seller/get", Some("tok"), now, &[]);
    assert_eq!(raw_call(&sb, other).await["code"], "IncompleteSignature");
    // Timestamps in seconds, or too old, are refused.
    let secs = signed_params(
        APP_KEY,
        APP_SECRET,
        "/seller/get",
        Some("tok"),
        now / 1000,
        &[],
    );
    assert_eq!(raw_call(&sb, secs).await["code"], "InvalidTimestamp");
    let old = signed_params(
        APP_KEY,
        APP_SECRET,
        "/seller/get",
        Some("tok"),
        now - 3_600_000,
        &[],
    );
    assert_eq!(raw_call(&sb, old).await["code"], "InvalidTimestamp");
    // Another app key.
    let key = signed_params("999", APP_SECRET, "/seller/get", Some("tok"), now, &[]);
    assert_eq!(raw_call(&sb, key).await["code"], "InvalidAppKey");
    // The connector with a wrong secret gets a non-retryable platform error.
    let wrong = Lazada::new(LazadaConfig {
        app_key: Some(APP_KEY.into()),
        app_secret: Some("wrong".into()),
    });
    let http = client();
    let cx = HttpCtx {
        http: &http,
        base_url: &sb.api_url(),
    };
    let acc = AccountCtx {
        external_id: "1",
        access_token: "tok",
    };
    let e = wrong
        .get_orders(&cx, &acc, &["1".to_owned()])
        .await
        .expect_err("bad sign");
    let ConnectorError::Api { message, .. } = &e else {
        panic!("{e:?}")
    };
    assert!(message.contains("IncompleteSignature"), "{message}");
    assert!(!e.is_retryable());
}

/// A one-shot HTTP receiver on loopback: answers `200` with an empty body and hands back the
/// request's `authorization` header and body.
async fn one_shot_receiver() -> (String, tokio::task::JoinHandle<(Option<String>, Vec<u8>)>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let url = format!(
        "http://{}/webhooks/lazada",
        listener.local_addr().expect("addr")
    );
    let task = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.expect("accept");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let n = stream.read(&mut chunk).await.expect("read");
            assert!(n > 0, "connection closed early");
            buf.extend_from_slice(&chunk[..n]);
            let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                continue;
            };
            let head = String::from_utf8_lossy(&buf[..end]).to_string();
            let header = |name: &str| {
                head.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.trim()
                        .eq_ignore_ascii_case(name)
                        .then(|| v.trim().to_owned())
                })
            };
            let len: usize = header("content-length")
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                    .await
                    .expect("write");
                return (
                    header("authorization"),
                    buf[end + 4..end + 4 + len].to_vec(),
                );
            }
        }
    });
    (url, task)
}

#[tokio::test]
async fn lazada_sandbox_delivers_signed_pushes() {
    let sb = start().await;
    let (url, receiver) = one_shot_receiver().await;
    let body = order_push_body(
        "1000123456",
        "260422900198363",
        "ready_to_ship",
        at(1_704_078_000),
    );
    let (status, answer) = sb.deliver(&client(), &url, &body).await.expect("deliver");
    assert_eq!((status, answer.len()), (200, 0));
    let (auth, got) = receiver.await.expect("receiver");
    assert_eq!(got, body.as_bytes());
    let auth = auth.expect("authorization header");
    let mut h = HeaderMap::new();
    h.insert(
        "authorization",
        HeaderValue::from_str(&auth).expect("header"),
    );
    assert_eq!(lazada().verify(&push_request(&h, &got)), Ok(()));
    // Another app's connector refuses it.
    let other = Lazada::new(LazadaConfig {
        app_key: Some(APP_KEY.into()),
        app_secret: Some("another secret".into()),
    });
    assert_eq!(
        other.verify(&push_request(&h, &got)),
        Err(VerifyError::BadSignature)
    );
}
