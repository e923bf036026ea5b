//! The outbound side of the Meta connector against the loopback Graph sandbox, over real HTTP:
//! the Send API and its windows, comment moderation, error classes and usage headers,
//! Facebook Login end to end, profiles and posts, and history listings with paging.
#![cfg(feature = "sandbox")]

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use tongdai_connectors::facebook::graph::{
    DEFAULT_APP_USAGE_BACKOFF, LOGIN_SCOPES, PAGE_WEBHOOK_FIELDS,
};
use tongdai_connectors::facebook::sandbox::{
    GraphSandbox, LONG_TOKEN_SECONDS, Moderation, RATE_LIMIT_MINUTES, RecordedRequest,
    SandboxComment, SandboxConversation, SandboxFailure, SandboxInstagram, SandboxMessage,
    SandboxPage, SandboxPost, SandboxProfile, SentAttachment, SentQuickReply, UsageHeaders,
};
use tongdai_connectors::facebook::{Facebook, FacebookConfig, appsecret_proof};
use tongdai_connectors::{
    AccessToken, AccountCtx, CommentAction, Comments, ConnectorError, History, HttpCtx, Lookup,
    MediaKind, Messaging, MetaLogin, NormalizedEvent, OutboundMessage, OutboundText, Recipient,
    ReplyWindow, SendPolicy, reply_window,
};

const SECRET: &str = "test_app_secret";
const APP_ID: &str = "1517776481860111";
const PAGE: &str = "105123456789012";
const PAGE_TOKEN: &str = "EAAB_sandbox_page_token_105";
const IG: &str = "17841400000000001";
const PSID: &str = "6789012345678901";
const IGSID: &str = "5614879045272581";
const REDIRECT: &str = "https://shop.tongdai.example/oauth/facebook/callback";

fn config(app_secret: Option<&str>) -> FacebookConfig {
    FacebookConfig {
        app_id: Some(APP_ID.into()),
        app_secret: app_secret.map(str::to_owned),
        verify_token: Some("verify-me".into()),
    }
}

fn facebook() -> Facebook {
    Facebook::new(config(Some(SECRET)))
}

fn instagram() -> Facebook {
    Facebook::instagram(config(Some(SECRET)))
}

fn now() -> DateTime<Utc> {
    Utc::now()
}

fn hours_ago(h: i64) -> DateTime<Utc> {
    now() - TimeDelta::hours(h)
}

/// A sandbox that knows the app, the Page (with its Instagram account) and a client.
struct Env {
    sandbox: GraphSandbox,
    http: reqwest::Client,
    base: String,
}

impl Env {
    async fn start() -> Env {
        let sandbox = GraphSandbox::start(Some(SECRET.into()))
            .await
            .expect("sandbox");
        sandbox.set_app_id(APP_ID);
        sandbox.add_page(
            SandboxPage::new(PAGE, "Tiệm Áo Lan", PAGE_TOKEN)
                .with_instagram(SandboxInstagram::new(IG, "tiemaolan")),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        let base = sandbox.base_url();
        Env {
            sandbox,
            http,
            base,
        }
    }

    fn cx(&self) -> HttpCtx<'_> {
        HttpCtx {
            http: &self.http,
            base_url: &self.base,
        }
    }
}

fn page() -> AccountCtx<'static> {
    AccountCtx {
        external_id: PAGE,
        access_token: PAGE_TOKEN,
    }
}

fn ig_account() -> AccountCtx<'static> {
    AccountCtx {
        external_id: IG,
        access_token: PAGE_TOKEN,
    }
}

fn text_to(user: &str, text: &str) -> OutboundMessage {
    OutboundMessage::text(Recipient::User(user.into()), text)
}

fn body_json(body: &str) -> Value {
    serde_json::from_str(body).expect("JSON body")
}

fn form(body: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body.as_bytes())
        .into_owned()
        .collect()
}

fn assert_no_secret(e: &ConnectorError, secrets: &[&str]) {
    let shown = format!("{e} {e:?}");
    for s in secrets {
        assert!(!shown.contains(s), "{s} leaked in {shown}");
    }
}

// ---- 1. Send API ---------------------------------------------------------------------------

#[tokio::test]
async fn a_standard_text_goes_to_the_page_messages_edge_with_token_proof_and_usage() {
    let env = Env::start().await;
    env.sandbox.set_usage(Some(UsageHeaders {
        app: UsageHeaders::app(28, 25, 25).app,
        buc: UsageHeaders::buc(PAGE, 71, 0).buc,
    }));
    let msg = text_to(PSID, "Dạ còn size M ạ 😊").with_idempotency_key("msg-1");
    let sent = facebook()
        .send(&env.cx(), &page(), &msg)
        .await
        .expect("sent");
    assert_eq!(sent.external_message_id, "m_sandbox_1");
    assert_eq!(sent.recipient_id.as_deref(), Some(PSID));
    assert_eq!(sent.usage.app_call_pct, Some(28.0));
    assert_eq!(sent.usage.buc, Some(71.0));
    assert_eq!(sent.usage.regain_after, None);
    assert!(!sent.usage.is_throttled());

    let req = &env.sandbox.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/v21.0/{PAGE}/messages"));
    assert_eq!(req.query_param("access_token").as_deref(), Some(PAGE_TOKEN));
    assert_eq!(
        req.query_param("appsecret_proof"),
        Some(appsecret_proof(SECRET, PAGE_TOKEN))
    );
    assert_eq!(
        body_json(&req.body),
        json!({
            "recipient": {"id": PSID},
            "messaging_type": "RESPONSE",
            "message": {"text": "Dạ còn size M ạ 😊"}
        })
    );
    let s = &env.sandbox.sent_messages()[0];
    assert_eq!(s.page_id, PAGE);
    assert_eq!(s.idempotency_key.as_deref(), Some("msg-1"));
}

#[tokio::test]
async fn media_with_quick_replies_is_sent_as_an_attachment_by_url() {
    let env = Env::start().await;
    let url = env.sandbox.cdn_url("ao-lan.jpg");
    let mut msg = OutboundMessage::media(Recipient::User(PSID.into()), MediaKind::Image, &url)
        .with_quick_reply("Size S", "SIZE_S")
        .with_quick_reply("Size M", "SIZE_M");
    if let tongdai_connectors::OutboundContent::Media { is_reusable, .. } = &mut msg.content {
        *is_reusable = true;
    }
    facebook()
        .send(&env.cx(), &page(), &msg)
        .await
        .expect("sent");
    let s = &env.sandbox.sent_messages()[0];
    assert_eq!(s.text, "");
    assert_eq!(
        s.attachment,
        Some(SentAttachment {
            kind: "image".into(),
            url: url.clone(),
            is_reusable: true,
        })
    );
    assert_eq!(
        s.quick_replies,
        vec![
            SentQuickReply {
                title: "Size S".into(),
                payload: "SIZE_S".into()
            },
            SentQuickReply {
                title: "Size M".into(),
                payload: "SIZE_M".into()
            },
        ]
    );
    assert_eq!(
        body_json(&env.sandbox.requests()[0].body)["message"]["attachment"],
        json!({"type": "image", "payload": {"url": url, "is_reusable": true}})
    );
}

#[tokio::test]
async fn instagram_sends_through_me_messages_with_the_page_token() {
    let env = Env::start().await;
    instagram()
        .send(&env.cx(), &ig_account(), &text_to(IGSID, "Còn màu đen ạ"))
        .await
        .expect("sent");
    let req = &env.sandbox.requests()[0];
    assert_eq!(req.path, "/v21.0/me/messages");
    assert_eq!(req.query_param("access_token").as_deref(), Some(PAGE_TOKEN));
    // `me` is the Page the token belongs to.
    assert_eq!(env.sandbox.sent_messages()[0].page_id, PAGE);
    assert_eq!(env.sandbox.sent_messages()[0].recipient_id, IGSID);
}

#[tokio::test]
async fn after_24_hours_only_a_human_agent_reply_goes_out_and_after_7_days_nothing() {
    let env = Env::start().await;
    let fb = facebook();

    env.sandbox.set_last_inbound(PAGE, PSID, hours_ago(23));
    fb.send(&env.cx(), &page(), &text_to(PSID, "trong 24h"))
        .await
        .expect("inside the standard window");

    let last = hours_ago(25);
    env.sandbox.set_last_inbound(PAGE, PSID, last);
    let e = fb
        .send(&env.cx(), &page(), &text_to(PSID, "quá 24h"))
        .await
        .expect_err("standard send outside 24 h");
    assert!(matches!(e, ConnectorError::OutsideWindow(_)), "{e:?}");
    assert!(!e.is_retryable());
    // The pure window function picks the policy that passes.
    let window = reply_window(Some(last), now());
    assert_eq!(window, ReplyWindow::HumanAgent);
    let msg = text_to(PSID, "nhân viên trả lời").with_policy(window.policy().expect("open"));
    fb.send(&env.cx(), &page(), &msg)
        .await
        .expect("human agent inside 7 days");
    let s = env.sandbox.sent_messages();
    assert_eq!(s.len(), 2);
    assert_eq!(s[1].messaging_type, "MESSAGE_TAG");
    assert_eq!(s[1].tag.as_deref(), Some("HUMAN_AGENT"));

    let last = now() - TimeDelta::days(8);
    env.sandbox.set_last_inbound(PAGE, PSID, last);
    assert!(matches!(
        reply_window(Some(last), now()),
        ReplyWindow::Closed { .. }
    ));
    let e = fb
        .send(
            &env.cx(),
            &page(),
            &text_to(PSID, "quá 7 ngày").with_policy(SendPolicy::HumanAgent),
        )
        .await
        .expect_err("human agent after 7 days");
    assert!(matches!(e, ConnectorError::OutsideWindow(_)), "{e:?}");
    assert_eq!(env.sandbox.sent_messages().len(), 2);
}

#[tokio::test]
async fn the_hubs_send_text_follows_the_same_rules() {
    let env = Env::start().await;
    env.sandbox.set_last_inbound(PAGE, PSID, hours_ago(30));
    let text = |outside| OutboundText {
        recipient_external_id: PSID,
        text: "Shop trả lời muộn",
        outside_standard_window: outside,
        idempotency_key: Some("k-1"),
    };
    let e = facebook()
        .send_text(&env.cx(), &page(), &text(false))
        .await
        .expect_err("untagged");
    assert!(matches!(e, ConnectorError::OutsideWindow(_)), "{e:?}");
    let receipt = facebook()
        .send_text(&env.cx(), &page(), &text(true))
        .await
        .expect("tagged");
    assert_eq!(receipt.external_message_id, "m_sandbox_1");
    assert_eq!(
        env.sandbox.sent_messages()[0].tag.as_deref(),
        Some("HUMAN_AGENT")
    );
}

#[tokio::test]
async fn instagram_windows_are_kept_per_instagram_account() {
    let env = Env::start().await;
    env.sandbox.set_last_inbound(IG, IGSID, hours_ago(30));
    let e = instagram()
        .send(&env.cx(), &ig_account(), &text_to(IGSID, "hi"))
        .await
        .expect_err("outside 24 h on Instagram");
    assert!(matches!(e, ConnectorError::OutsideWindow(_)), "{e:?}");
    instagram()
        .send(
            &env.cx(),
            &ig_account(),
            &text_to(IGSID, "hi").with_policy(SendPolicy::HumanAgent),
        )
        .await
        .expect("human agent");
}

#[tokio::test]
async fn a_private_reply_goes_once_and_only_within_7_days_of_the_comment() {
    let env = Env::start().await;
    let post = format!("{PAGE}_998877665544332");
    env.sandbox.add_post(SandboxPost::facebook(
        &post,
        PAGE,
        "Áo mới về",
        hours_ago(72),
    ));
    let fresh = "998877665544332_112233445566778";
    env.sandbox.add_comment(SandboxComment::new(
        fresh,
        &post,
        ("7012345678901234", "Nguyễn Văn A"),
        "Giá bao nhiêu shop?",
        hours_ago(48),
    ));
    let old = "998877665544332_112233445566000";
    env.sandbox.add_comment(SandboxComment::new(
        old,
        &post,
        ("7012345678900000", "Trần B"),
        "Còn hàng không?",
        now() - TimeDelta::days(8),
    ));
    let fb = facebook();
    let private =
        |id: &str| OutboundMessage::text(Recipient::Comment(id.into()), "Shop inbox bạn nhé");

    let sent = fb
        .send(&env.cx(), &page(), &private(fresh))
        .await
        .expect("first private reply");
    assert_eq!(sent.recipient_id.as_deref(), Some("7012345678901234"));
    let req = &env.sandbox.requests()[0];
    assert_eq!(
        body_json(&req.body)["recipient"],
        json!({"comment_id": fresh})
    );
    assert_eq!(
        env.sandbox.sent_messages()[0].comment_id.as_deref(),
        Some(fresh)
    );

    let e = fb
        .send(&env.cx(), &page(), &private(fresh))
        .await
        .expect_err("second private reply");
    assert!(
        matches!(
            e,
            ConnectorError::Forbidden {
                code: 10,
                subcode: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.is_retryable());

    let e = fb
        .send(&env.cx(), &page(), &private(old))
        .await
        .expect_err("after 7 days");
    assert!(matches!(e, ConnectorError::OutsideWindow(_)), "{e:?}");
    assert_eq!(env.sandbox.sent_messages().len(), 1);
}

#[tokio::test]
async fn a_retried_send_with_the_same_idempotency_key_is_delivered_once() {
    let env = Env::start().await;
    let msg = text_to(PSID, "một lần thôi").with_idempotency_key("job-42");
    let a = facebook()
        .send(&env.cx(), &page(), &msg)
        .await
        .expect("first");
    let b = facebook()
        .send(&env.cx(), &page(), &msg)
        .await
        .expect("retry");
    assert_eq!(a.external_message_id, b.external_message_id);
    assert_eq!(env.sandbox.sent_messages().len(), 1);
    assert_eq!(env.sandbox.duplicate_sends(), 1);
    let headers: Vec<_> = env
        .sandbox
        .requests()
        .iter()
        .map(|r| r.method.clone())
        .collect();
    assert_eq!(headers, ["POST", "POST"]);
}

#[tokio::test]
async fn invalid_messages_are_refused_before_any_request() {
    let env = Env::start().await;
    let too_many = (0..14).fold(text_to(PSID, "chọn size"), |m, i| {
        m.with_quick_reply(format!("S{i}"), format!("P{i}"))
    });
    let bad = [
        too_many,
        text_to(PSID, ""),
        text_to("", "x"),
        OutboundMessage::media(Recipient::User(PSID.into()), MediaKind::File, "not a url"),
    ];
    for m in &bad {
        let e = facebook()
            .send(&env.cx(), &page(), m)
            .await
            .expect_err("invalid");
        assert!(matches!(e, ConnectorError::Invalid(_)), "{m:?}: {e:?}");
    }
    let e = facebook()
        .send(
            &env.cx(),
            &AccountCtx {
                external_id: PAGE,
                access_token: "",
            },
            &text_to(PSID, "x"),
        )
        .await
        .expect_err("no token");
    assert!(matches!(e, ConnectorError::Invalid(_)), "{e:?}");
    assert!(env.sandbox.requests().is_empty());
}

// ---- 2. comments ---------------------------------------------------------------------------

#[tokio::test]
async fn facebook_comments_are_replied_to_hidden_unhidden_and_deleted() {
    let env = Env::start().await;
    let post = format!("{PAGE}_998877665544332");
    let comment = "998877665544332_112233445566778";
    env.sandbox.add_post(SandboxPost::facebook(
        &post,
        PAGE,
        "Áo mới về",
        hours_ago(3),
    ));
    env.sandbox.add_comment(SandboxComment::new(
        comment,
        &post,
        ("7012345678901234", "Nguyễn Văn A"),
        "Giá bao nhiêu shop?",
        hours_ago(2),
    ));
    let fb = facebook();

    let reply = fb
        .reply_to_comment(&env.cx(), &page(), comment, "Dạ 250k ạ")
        .await
        .expect("public reply");
    assert!(reply.external_comment_id.starts_with("998877665544332_"));
    let req = &env.sandbox.requests()[0];
    assert_eq!(req.method, "POST");
    assert_eq!(req.path, format!("/v21.0/{comment}/comments"));
    assert_eq!(
        form(&req.body),
        [("message".to_owned(), "Dạ 250k ạ".to_owned())]
    );
    assert_eq!(
        req.query_param("appsecret_proof"),
        Some(appsecret_proof(SECRET, PAGE_TOKEN))
    );
    let created = env
        .sandbox
        .comment(&reply.external_comment_id)
        .expect("reply exists");
    assert_eq!(created.parent_id.as_deref(), Some(comment));
    assert_eq!(created.from_id.as_deref(), Some(PAGE));

    fb.set_comment_hidden(&env.cx(), &page(), comment, true)
        .await
        .expect("hide");
    assert!(env.sandbox.comment(comment).expect("comment").hidden);
    assert_eq!(
        form(&env.sandbox.requests()[1].body),
        [("is_hidden".to_owned(), "true".to_owned())]
    );
    fb.set_comment_hidden(&env.cx(), &page(), comment, false)
        .await
        .expect("unhide");
    assert!(!env.sandbox.comment(comment).expect("comment").hidden);

    fb.delete_comment(&env.cx(), &page(), &reply.external_comment_id)
        .await
        .expect("delete our reply");
    assert_eq!(env.sandbox.comment(&reply.external_comment_id), None);
    assert_eq!(env.sandbox.requests()[3].method, "DELETE");

    let e = fb
        .delete_comment(&env.cx(), &page(), &reply.external_comment_id)
        .await
        .expect_err("already gone");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(100),
                subcode: Some(33),
                transient: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(
        env.sandbox.moderation(),
        vec![
            Moderation::Reply {
                comment_id: comment.into(),
                edge: "comments".into(),
                message: "Dạ 250k ạ".into(),
                reply_id: reply.external_comment_id.clone(),
            },
            Moderation::SetHidden {
                comment_id: comment.into(),
                param: "is_hidden".into(),
                hidden: true,
            },
            Moderation::SetHidden {
                comment_id: comment.into(),
                param: "is_hidden".into(),
                hidden: false,
            },
            Moderation::Delete {
                comment_id: reply.external_comment_id,
            },
        ]
    );
}

#[tokio::test]
async fn instagram_comments_use_replies_and_hide() {
    let env = Env::start().await;
    let media = "18172143295349192";
    let comment = "17900000000000042";
    env.sandbox
        .add_post(SandboxPost::instagram(media, IG, "Váy hoa", hours_ago(5)));
    env.sandbox.add_comment(SandboxComment::new(
        comment,
        media,
        (IGSID, "lan.nguyen"),
        "Ship về Đà Nẵng bao lâu ạ?",
        hours_ago(1),
    ));
    let ig = instagram();
    let reply = ig
        .reply_to_comment(&env.cx(), &ig_account(), comment, "2-3 ngày ạ")
        .await
        .expect("reply");
    assert_eq!(
        env.sandbox.requests()[0].path,
        format!("/v21.0/{comment}/replies")
    );
    ig.set_comment_hidden(&env.cx(), &ig_account(), comment, true)
        .await
        .expect("hide");
    assert_eq!(
        form(&env.sandbox.requests()[1].body),
        [("hide".to_owned(), "true".to_owned())]
    );
    assert!(env.sandbox.comment(comment).expect("comment").hidden);
    ig.delete_comment(&env.cx(), &ig_account(), &reply.external_comment_id)
        .await
        .expect("delete");

    // The Facebook words on an Instagram comment are refused, as Graph would.
    let e = facebook()
        .reply_to_comment(&env.cx(), &page(), comment, "x")
        .await
        .expect_err("`comments` edge on an IG comment");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(100),
                ..
            }
        ),
        "{e:?}"
    );
    let e = facebook()
        .set_comment_hidden(&env.cx(), &page(), comment, false)
        .await
        .expect_err("`is_hidden` on an IG comment");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(100),
                ..
            }
        ),
        "{e:?}"
    );
}

// ---- 3. error classes and usage ------------------------------------------------------------

#[tokio::test]
async fn expired_and_revoked_tokens_are_unauthorized_and_never_shown() {
    let env = Env::start().await;
    env.sandbox.push_failure_at(
        &format!("{PAGE}/conversations"),
        SandboxFailure::TokenExpired,
    );
    let e = facebook()
        .list_conversations(&env.cx(), &page(), hours_ago(24), None)
        .await
        .expect_err("expired");
    assert!(matches!(e, ConnectorError::Unauthorized(_)), "{e:?}");
    assert!(e.needs_reconnect() && !e.is_retryable());

    env.sandbox.revoke_token(PAGE_TOKEN);
    let e = facebook()
        .send(&env.cx(), &page(), &text_to(PSID, "x"))
        .await
        .expect_err("revoked");
    assert!(
        matches!(&e, ConnectorError::Unauthorized(m) if m.contains("invalidated")),
        "{e:?}"
    );
    assert_no_secret(&e, &[PAGE_TOKEN, SECRET]);
}

#[tokio::test]
async fn throttling_maps_to_rate_limited_with_the_advertised_wait() {
    let env = Env::start().await;
    let fb = facebook();
    let path = format!("{PAGE}/messages");

    // Code 32 with the BUC header: wait what it says (minutes).
    env.sandbox
        .push_failure_at(&path, SandboxFailure::RateLimited);
    let e = fb
        .send(&env.cx(), &page(), &text_to(PSID, "1"))
        .await
        .expect_err("page limit");
    assert_eq!(
        e.retry_after(),
        Some(Duration::from_secs(RATE_LIMIT_MINUTES * 60)),
        "{e:?}"
    );
    assert!(e.is_retryable());

    // Code 32 with a BUC header set for that answer.
    env.sandbox.push_usage(UsageHeaders::buc(PAGE, 100, 12));
    env.sandbox.push_failure_at(
        &path,
        SandboxFailure::Graph {
            status: 400,
            code: 32,
            subcode: None,
        },
    );
    let e = fb
        .send(&env.cx(), &page(), &text_to(PSID, "2"))
        .await
        .expect_err("page limit");
    assert!(matches!(e, ConnectorError::RateLimited { .. }), "{e:?}");
    assert_eq!(e.retry_after(), Some(Duration::from_secs(12 * 60)));

    // Code 4 with `X-App-Usage` at 100% and no BUC header: the default backoff.
    env.sandbox
        .push_failure_at(&path, SandboxFailure::AppRateLimited);
    let e = fb
        .send(&env.cx(), &page(), &text_to(PSID, "3"))
        .await
        .expect_err("app limit");
    assert_eq!(e.retry_after(), Some(DEFAULT_APP_USAGE_BACKOFF), "{e:?}");

    // HTTP 429 whatever the code.
    for code in [17, 613, 341, 999] {
        env.sandbox.push_failure_at(
            &path,
            SandboxFailure::Graph {
                status: 429,
                code,
                subcode: None,
            },
        );
        let e = fb
            .send(&env.cx(), &page(), &text_to(PSID, "4"))
            .await
            .expect_err("throttled");
        assert!(
            matches!(e, ConnectorError::RateLimited { .. }),
            "{code}: {e:?}"
        );
    }
    assert!(env.sandbox.sent_messages().is_empty());

    // A successful answer carries the usage too, so the hub can slow down first.
    env.sandbox.push_usage(UsageHeaders::app(100, 10, 10));
    let sent = fb
        .send(&env.cx(), &page(), &text_to(PSID, "5"))
        .await
        .expect("sent");
    assert!(sent.usage.is_throttled());
}

#[tokio::test]
async fn permission_errors_are_forbidden_and_not_retried() {
    let env = Env::start().await;
    let fb = facebook();
    let comment_path = "c_1/comments";
    let post = format!("{PAGE}_1");
    env.sandbox
        .add_post(SandboxPost::facebook(&post, PAGE, "p", hours_ago(1)));
    env.sandbox.add_comment(SandboxComment::new(
        "c_1",
        &post,
        ("u", "U"),
        "hi",
        hours_ago(1),
    ));
    env.sandbox
        .push_failure_at(comment_path, SandboxFailure::PermissionDenied);
    let e = fb
        .reply_to_comment(&env.cx(), &page(), "c_1", "x")
        .await
        .expect_err("code 200");
    assert!(
        matches!(&e, ConnectorError::Forbidden { code: 200, subcode: None, message } if message.contains("Permissions")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    for (code, subcode) in [(10, None), (10, Some(2_018_065)), (230, None), (299, None)] {
        env.sandbox.push_failure_at(
            comment_path,
            SandboxFailure::Graph {
                status: 403,
                code,
                subcode,
            },
        );
        let e = fb
            .reply_to_comment(&env.cx(), &page(), "c_1", "x")
            .await
            .expect_err("forbidden");
        assert!(
            matches!(e, ConnectorError::Forbidden { code: c, subcode: s, .. } if c == code && s == subcode),
            "{code}: {e:?}"
        );
    }
    // The injected failures were used up: the next call goes through.
    fb.reply_to_comment(&env.cx(), &page(), "c_1", "ok")
        .await
        .expect("reply");
}

#[tokio::test]
async fn transient_errors_are_retryable_api_errors() {
    let env = Env::start().await;
    let fb = facebook();
    for f in [SandboxFailure::ServerError, SandboxFailure::UnknownError] {
        env.sandbox.push_failure(f);
        let e = fb
            .send(&env.cx(), &page(), &text_to(PSID, "x"))
            .await
            .expect_err("transient");
        assert!(
            matches!(
                e,
                ConnectorError::Api {
                    status: 500,
                    transient: true,
                    ..
                }
            ),
            "{f:?}: {e:?}"
        );
        assert!(e.is_retryable());
    }
    env.sandbox.push_failure(SandboxFailure::Graph {
        status: 400,
        code: 2,
        subcode: None,
    });
    let e = fb
        .send(&env.cx(), &page(), &text_to(PSID, "x"))
        .await
        .expect_err("code 2 on a 400");
    assert!(e.is_retryable(), "{e:?}");
}

#[tokio::test]
async fn appsecret_proof_is_checked_on_every_call() {
    let env = Env::start().await;
    env.sandbox.add_profile(SandboxProfile {
        id: PSID.into(),
        name: Some("Lan".into()),
        ..SandboxProfile::default()
    });
    let wrong = Facebook::new(config(Some("another_secret")));
    let e = wrong
        .fetch_profile(&env.cx(), &page(), PSID)
        .await
        .expect_err("wrong proof");
    assert!(
        matches!(&e, ConnectorError::Api { code: Some(100), transient: false, message, .. } if message.contains("appsecret_proof")),
        "{e:?}"
    );
    assert_eq!(
        env.sandbox.requests()[0].query_param("appsecret_proof"),
        Some(appsecret_proof("another_secret", PAGE_TOKEN))
    );

    let none = Facebook::new(config(None));
    none.fetch_profile(&env.cx(), &page(), PSID)
        .await
        .expect("no proof is fine unless required");
    env.sandbox.require_appsecret_proof(true);
    let e = none
        .fetch_profile(&env.cx(), &page(), PSID)
        .await
        .expect_err("proof required");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(100),
                ..
            }
        ),
        "{e:?}"
    );
    facebook()
        .fetch_profile(&env.cx(), &page(), PSID)
        .await
        .expect("right proof");
}

// ---- 4. Facebook Login ---------------------------------------------------------------------

#[tokio::test]
async fn facebook_login_end_to_end() {
    let env = Env::start().await;
    env.sandbox
        .add_page(SandboxPage::new("200", "Shop Hai", "EAAB_page_200"));
    env.sandbox.add_page(
        SandboxPage::new("300", "Shop Ba", "EAAB_page_300")
            .with_instagram(SandboxInstagram::new("17841400000000003", "shopba")),
    );
    env.sandbox.set_accounts_page_size(1);
    let fb = facebook();

    // 1. The browser opens the dialog; the user consents; the sandbox redirects back.
    let url = fb
        .authorize_url(
            &env.sandbox.oauth_dialog_url(),
            APP_ID,
            REDIRECT,
            "csrf-123",
            &LOGIN_SCOPES,
        )
        .expect("dialog url");
    let resp = env.http.get(&url).send().await.expect("dialog");
    assert_eq!(resp.status(), 302);
    let location = url::Url::parse(resp.headers()["location"].to_str().expect("ascii location"))
        .expect("redirect url");
    assert!(location.as_str().starts_with(REDIRECT));
    let q: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "csrf-123");
    let code = q["code"].clone();

    // 2. Code → user token → long-lived user token.
    let short = fb
        .exchange_code(&env.cx(), APP_ID, SECRET, REDIRECT, &code)
        .await
        .expect("code exchange");
    assert_eq!(short.token_type.as_deref(), Some("bearer"));
    assert!(!format!("{short:?}").contains(short.access_token.expose()));
    let long = fb
        .long_lived(&env.cx(), APP_ID, SECRET, &short.access_token)
        .await
        .expect("long-lived");
    assert_eq!(long.expires_in, Some(LONG_TOKEN_SECONDS));
    assert_ne!(long.access_token, short.access_token);
    let exchange = &env.sandbox.requests()[2];
    assert_eq!(exchange.path, "/v21.0/oauth/access_token");
    assert_eq!(
        exchange.query_param("grant_type").as_deref(),
        Some("fb_exchange_token")
    );

    // 3. The Pages, across three result pages of one.
    let pages = fb
        .list_pages(&env.cx(), &long.access_token)
        .await
        .expect("pages");
    let ids: Vec<&str> = pages.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, [PAGE, "200", "300"]);
    assert_eq!(pages[0].access_token.expose(), PAGE_TOKEN);
    assert_eq!(pages[0].name.as_deref(), Some("Tiệm Áo Lan"));
    assert!(pages[0].tasks.iter().any(|t| t == "MESSAGING"));
    assert_eq!(pages[0].instagram.as_ref().map(|i| i.id.as_str()), Some(IG));
    assert_eq!(
        pages[0]
            .instagram
            .as_ref()
            .and_then(|i| i.username.as_deref()),
        Some("tiemaolan")
    );
    assert_eq!(pages[1].instagram, None);
    let listing: Vec<_> = env
        .sandbox
        .requests()
        .into_iter()
        .filter(|r| r.path.ends_with("/me/accounts"))
        .collect();
    assert_eq!(listing.len(), 3);
    assert_eq!(listing[0].query_param("after"), None);
    assert!(listing[1].query_param("after").is_some());
    assert!(listing[0].query_param("fields").is_some_and(|f| {
        f.contains("instagram_business_account{id,username,name,profile_picture_url}")
    }));
    assert_eq!(
        listing[0].query_param("appsecret_proof"),
        Some(appsecret_proof(SECRET, long.access_token.expose()))
    );

    // 4. Install the app on each Page, then remove it from one.
    for p in &pages {
        fb.subscribe_page(&env.cx(), &p.id, &p.access_token, &PAGE_WEBHOOK_FIELDS)
            .await
            .expect("subscribe");
    }
    assert_eq!(
        env.sandbox.subscriptions(PAGE),
        Some(PAGE_WEBHOOK_FIELDS.map(str::to_owned).to_vec())
    );
    let sub = env
        .sandbox
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/subscribed_apps"))
        .expect("subscription request");
    assert_eq!(sub.method, "POST");
    assert_eq!(
        sub.query_param("subscribed_fields").as_deref(),
        Some(
            "messages,messaging_postbacks,message_echoes,message_deliveries,message_reads,messaging_referrals,message_reactions,message_edits,feed"
        )
    );
    let listed: Value = env
        .http
        .get(format!(
            "{}/{PAGE}/subscribed_apps?access_token={PAGE_TOKEN}",
            env.base
        ))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["data"][0]["id"], APP_ID);
    fb.unsubscribe_page(&env.cx(), "200", &pages[1].access_token)
        .await
        .expect("unsubscribe");
    assert_eq!(env.sandbox.subscriptions("200"), None);
    assert!(env.sandbox.subscriptions("300").is_some());
}

#[tokio::test]
async fn the_login_dialog_and_token_endpoint_refuse_what_meta_refuses() {
    let env = Env::start().await;
    let fb = facebook();
    let dialog = |app: &str, state: &str| {
        fb.authorize_url(&env.sandbox.oauth_dialog_url(), app, REDIRECT, state, &[])
            .expect("url")
    };
    let r = env
        .http
        .get(dialog("999", "s"))
        .send()
        .await
        .expect("dialog");
    assert_eq!(r.status(), 400, "unknown app id");
    let r = env
        .http
        .get(format!(
            "{}?client_id={APP_ID}&redirect_uri=https%3A%2F%2Fa.example%2Fcb",
            env.sandbox.oauth_dialog_url()
        ))
        .send()
        .await
        .expect("dialog");
    assert_eq!(r.status(), 400, "no state");

    env.sandbox.set_consent(false);
    let r = env
        .http
        .get(dialog(APP_ID, "s1"))
        .send()
        .await
        .expect("dialog");
    assert_eq!(r.status(), 302);
    let loc = r.headers()["location"].to_str().expect("ascii").to_owned();
    assert!(
        loc.contains("error=access_denied") && loc.contains("state=s1"),
        "{loc}"
    );
    env.sandbox.set_consent(true);

    let code_of = |resp: reqwest::Response| {
        let loc =
            url::Url::parse(resp.headers()["location"].to_str().expect("ascii")).expect("url");
        loc.query_pairs()
            .find(|(k, _)| k == "code")
            .map(|(_, v)| v.into_owned())
            .expect("code")
    };
    let code = code_of(
        env.http
            .get(dialog(APP_ID, "s2"))
            .send()
            .await
            .expect("dialog"),
    );

    let e = fb
        .exchange_code(&env.cx(), APP_ID, "wrong_secret", REDIRECT, &code)
        .await
        .expect_err("wrong secret");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(1),
                transient: false,
                ..
            }
        ),
        "{e:?}"
    );
    assert_no_secret(&e, &["wrong_secret", &code]);
    let e = fb
        .exchange_code(&env.cx(), APP_ID, SECRET, "https://evil.example/cb", &code)
        .await
        .expect_err("other redirect_uri");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(100),
                subcode: Some(36008),
                ..
            }
        ),
        "{e:?}"
    );
    fb.exchange_code(&env.cx(), APP_ID, SECRET, REDIRECT, &code)
        .await
        .expect("first use");
    let e = fb
        .exchange_code(&env.cx(), APP_ID, SECRET, REDIRECT, &code)
        .await
        .expect_err("codes are single-use");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(100),
                subcode: Some(36009),
                ..
            }
        ),
        "{e:?}"
    );
    assert_no_secret(&e, &[SECRET, &code]);

    let e = fb
        .long_lived(
            &env.cx(),
            APP_ID,
            SECRET,
            &AccessToken::new("EAAS_never_issued"),
        )
        .await
        .expect_err("unknown short token");
    assert!(matches!(e, ConnectorError::Unauthorized(_)), "{e:?}");

    // A Page token is not a user token; another Page's token cannot subscribe this Page.
    let e = fb
        .list_pages(&env.cx(), &AccessToken::new(PAGE_TOKEN))
        .await
        .expect_err("page token");
    assert!(matches!(e, ConnectorError::Unauthorized(_)), "{e:?}");
    env.sandbox
        .add_page(SandboxPage::new("200", "Shop Hai", "EAAB_page_200"));
    let e = fb
        .subscribe_page(
            &env.cx(),
            PAGE,
            &AccessToken::new("EAAB_page_200"),
            &PAGE_WEBHOOK_FIELDS,
        )
        .await
        .expect_err("wrong page token");
    assert!(
        matches!(e, ConnectorError::Forbidden { code: 210, .. }),
        "{e:?}"
    );
    let e = fb
        .subscribe_page(
            &env.cx(),
            PAGE,
            &AccessToken::new(PAGE_TOKEN),
            &["messages", "nope"],
        )
        .await
        .expect_err("unknown field");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(100),
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(env.sandbox.subscriptions(PAGE), None);
}

// ---- 5. profiles and posts -----------------------------------------------------------------

#[tokio::test]
async fn profiles_are_fetched_with_each_platforms_fields() {
    let env = Env::start().await;
    env.sandbox.add_profile(SandboxProfile {
        id: PSID.into(),
        first_name: Some("Lan".into()),
        last_name: Some("Nguyễn".into()),
        profile_pic: Some("https://cdn.example/lan.jpg".into()),
        ..SandboxProfile::default()
    });
    env.sandbox.add_profile(SandboxProfile {
        id: IGSID.into(),
        name: Some("Lan Nguyễn".into()),
        username: Some("lan.nguyen".into()),
        profile_pic: Some("https://cdn.example/ig.jpg".into()),
        ..SandboxProfile::default()
    });
    let p = facebook()
        .fetch_profile(&env.cx(), &page(), PSID)
        .await
        .expect("profile");
    assert_eq!(p.external_id, PSID);
    assert_eq!(p.name.as_deref(), Some("Lan Nguyễn"));
    assert_eq!(
        p.picture_url.as_deref(),
        Some("https://cdn.example/lan.jpg")
    );
    assert_eq!(
        env.sandbox.requests()[0].query_param("fields").as_deref(),
        Some("first_name,last_name,name,profile_pic")
    );
    let p = instagram()
        .fetch_profile(&env.cx(), &ig_account(), IGSID)
        .await
        .expect("profile");
    assert_eq!(p.name.as_deref(), Some("Lan Nguyễn"));
    assert_eq!(p.username.as_deref(), Some("lan.nguyen"));
    assert_eq!(
        env.sandbox.requests()[1].query_param("fields").as_deref(),
        Some("name,username,profile_pic")
    );
    let e = facebook()
        .fetch_profile(&env.cx(), &page(), "404404")
        .await
        .expect_err("unknown user");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(100),
                subcode: Some(2_018_218),
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn posts_and_media_are_fetched_as_post_refs() {
    let env = Env::start().await;
    let post = format!("{PAGE}_998877665544332");
    env.sandbox.add_post(SandboxPost::facebook(
        &post,
        PAGE,
        "Áo mới về 🎉",
        hours_ago(3),
    ));
    env.sandbox.add_post(SandboxPost::instagram(
        "18172143295349192",
        IG,
        "Váy hoa",
        hours_ago(3),
    ));
    let p = facebook()
        .fetch_post(&env.cx(), &page(), &post)
        .await
        .expect("post");
    assert_eq!(p.external_id, post);
    assert_eq!(p.text.as_deref(), Some("Áo mới về 🎉"));
    assert_eq!(
        p.permalink.as_deref(),
        Some(format!("https://www.facebook.com/{post}").as_str())
    );
    assert_eq!(p.media_kind, None);
    let m = instagram()
        .fetch_post(&env.cx(), &ig_account(), "18172143295349192")
        .await
        .expect("media");
    assert_eq!(m.text.as_deref(), Some("Váy hoa"));
    assert_eq!(m.media_kind.as_deref(), Some("FEED"));
    assert_eq!(
        env.sandbox.requests()[1].query_param("fields").as_deref(),
        Some("caption,permalink,media_product_type,timestamp")
    );
    let e = facebook()
        .fetch_post(&env.cx(), &page(), "nope")
        .await
        .expect_err("unknown post");
    assert!(
        matches!(
            e,
            ConnectorError::Api {
                code: Some(100),
                ..
            }
        ),
        "{e:?}"
    );
}

// ---- 6. history ----------------------------------------------------------------------------

fn conversation(
    id: &str,
    user: &str,
    name: &str,
    messages: Vec<SandboxMessage>,
) -> SandboxConversation {
    SandboxConversation {
        id: id.into(),
        account_id: PAGE.into(),
        platform: tongdai_connectors::Platform::Facebook,
        user_id: user.into(),
        user_name: name.into(),
        messages,
    }
}

/// `kind:message id:customer id` of each message event.
fn messages_of(events: &[NormalizedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            NormalizedEvent::MessageReceived(m) => {
                format!("in:{}:{}", m.external_message_id, m.contact.external_id)
            }
            NormalizedEvent::MessageEcho(m) => {
                format!("echo:{}:{}", m.external_message_id, m.contact.external_id)
            }
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn conversations_are_listed_page_by_page_until_since() {
    let env = Env::start().await;
    let mut recent = SandboxMessage::inbound("m_a2", "", hours_ago(1));
    recent.text = None;
    recent.attachment = Some(("image/jpeg".into(), "https://cdn.example/a.jpg".into()));
    env.sandbox.add_conversation(conversation(
        "t_a",
        "u_a",
        "Khách A",
        vec![
            SandboxMessage::inbound("m_a0", "cũ quá", hours_ago(24 * 6)),
            SandboxMessage::inbound("m_a1", "Còn size M không?", hours_ago(3)),
            SandboxMessage::outbound("m_a_echo", "Dạ còn ạ", hours_ago(2)),
            recent,
        ],
    ));
    env.sandbox.add_conversation(conversation(
        "t_b",
        "u_b",
        "Khách B",
        vec![SandboxMessage::inbound(
            "m_b1",
            "Ship COD không?",
            hours_ago(30),
        )],
    ));
    env.sandbox.add_conversation(conversation(
        "t_c",
        "u_c",
        "Khách C",
        vec![SandboxMessage::inbound("m_c1", "alo", hours_ago(24 * 10))],
    ));
    env.sandbox.set_list_page_size(1);
    let since = hours_ago(24 * 5);
    let fb = facebook();

    let first = fb
        .list_conversations(&env.cx(), &page(), since, None)
        .await
        .expect("page 1");
    assert_eq!(
        messages_of(&first.events),
        ["in:m_a1:u_a", "echo:m_a_echo:u_a", "in:m_a2:u_a"]
    );
    let NormalizedEvent::MessageReceived(m) = &first.events[0] else {
        unreachable!()
    };
    assert_eq!(m.account_external_id, PAGE);
    assert_eq!(m.thread_external_id, "u_a");
    assert_eq!(m.contact.display_name.as_deref(), Some("Khách A"));
    assert_eq!(m.text.as_deref(), Some("Còn size M không?"));
    let NormalizedEvent::MessageReceived(m) = &first.events[2] else {
        unreachable!()
    };
    assert_eq!(m.text, None);
    assert_eq!(m.attachments[0].kind, "image");
    assert_eq!(
        m.attachments[0].url.as_deref(),
        Some("https://cdn.example/a.jpg")
    );
    let req = &env.sandbox.requests()[0];
    assert_eq!(req.path, format!("/v21.0/{PAGE}/conversations"));
    assert_eq!(
        req.query_param("fields").as_deref(),
        Some(
            "participants,updated_time,messages.limit(50){id,message,from,to,created_time,attachments}"
        )
    );
    let cursor = first.next_cursor.expect("more");

    let second = fb
        .list_conversations(&env.cx(), &page(), since, Some(&cursor))
        .await
        .expect("page 2");
    assert_eq!(messages_of(&second.events), ["in:m_b1:u_b"]);
    let cursor = second.next_cursor.expect("more");
    let third = fb
        .list_conversations(&env.cx(), &page(), since, Some(&cursor))
        .await
        .expect("page 3");
    assert!(third.events.is_empty(), "{:?}", third.events);
    assert_eq!(
        third.next_cursor, None,
        "stops at conversations older than since"
    );
}

#[tokio::test]
async fn instagram_conversations_are_listed_with_platform_instagram() {
    let env = Env::start().await;
    env.sandbox.add_conversation(SandboxConversation {
        id: "aWdfdGhyZWFk".into(),
        account_id: IG.into(),
        platform: tongdai_connectors::Platform::Instagram,
        user_id: IGSID.into(),
        user_name: "lan.nguyen".into(),
        messages: vec![
            SandboxMessage::inbound("aWdfbWlkMQ", "Còn màu đen không?", hours_ago(2)),
            SandboxMessage::outbound("aWdfbWlkMg", "Dạ còn", hours_ago(1)),
        ],
    });
    // A Messenger thread of the same Page is not listed for Instagram.
    env.sandbox.add_conversation(conversation(
        "t_fb",
        PSID,
        "FB",
        vec![SandboxMessage::inbound("m_fb", "x", hours_ago(1))],
    ));
    let page = instagram()
        .list_conversations(&env.cx(), &ig_account(), hours_ago(48), None)
        .await
        .expect("listing");
    assert_eq!(
        messages_of(&page.events),
        [
            format!("in:aWdfbWlkMQ:{IGSID}"),
            format!("echo:aWdfbWlkMg:{IGSID}"),
        ]
    );
    assert_eq!(page.events[0].account_external_id(), IG);
    assert_eq!(page.next_cursor, None);
    let req = &env.sandbox.requests()[0];
    assert_eq!(req.path, "/v21.0/me/conversations");
    assert_eq!(req.query_param("platform").as_deref(), Some("instagram"));
}

#[tokio::test]
async fn post_comments_are_listed_as_comment_events_with_webhook_ids() {
    let env = Env::start().await;
    let new_post = format!("{PAGE}_2");
    let old_post = format!("{PAGE}_1");
    let ancient = format!("{PAGE}_0");
    env.sandbox.add_post(SandboxPost::facebook(
        &new_post,
        PAGE,
        "Sale 11/11",
        hours_ago(10),
    ));
    env.sandbox.add_post(SandboxPost::facebook(
        &old_post,
        PAGE,
        "Áo mới",
        hours_ago(50),
    ));
    env.sandbox.add_post(SandboxPost::facebook(
        &ancient,
        PAGE,
        "Khai trương",
        hours_ago(24 * 30),
    ));
    let mut with_photo = SandboxComment::new(
        "2_100",
        &new_post,
        ("u1", "Khách 1"),
        "Ảnh nè",
        hours_ago(9),
    );
    with_photo.photo_url = Some("https://cdn.example/p.jpg".into());
    env.sandbox.add_comment(with_photo);
    env.sandbox.add_comment(
        SandboxComment::new(
            "2_101",
            &new_post,
            (PAGE, "Tiệm Áo Lan"),
            "Dạ shop xem ạ",
            hours_ago(8),
        )
        .reply_to("2_100"),
    );
    env.sandbox.add_comment(SandboxComment::new(
        "1_200",
        &old_post,
        ("u2", "Khách 2"),
        "Giá?",
        hours_ago(49),
    ));
    env.sandbox.add_comment(SandboxComment::new(
        "0_300",
        &ancient,
        ("u3", "Khách 3"),
        "Chúc mừng",
        hours_ago(24 * 29),
    ));
    env.sandbox.set_list_page_size(1);
    let since = hours_ago(24 * 7);
    let fb = facebook();

    let first = fb
        .list_post_comments(&env.cx(), &page(), since, None)
        .await
        .expect("page 1");
    let comments: Vec<_> = first
        .events
        .iter()
        .map(|e| match e {
            NormalizedEvent::Comment(c) => c.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(comments.len(), 2);
    let (top, reply) = (&comments[0], &comments[1]);
    assert_eq!(top.action, CommentAction::Added);
    assert_eq!(top.account_external_id, PAGE);
    assert_eq!(top.external_comment_id, "2_100");
    assert_eq!(top.post.external_id, new_post);
    assert_eq!(top.post.text.as_deref(), Some("Sale 11/11"));
    assert_eq!(top.parent_external_id, None);
    assert_eq!(
        top.author
            .as_ref()
            .map(|a| (a.external_id.as_str(), a.display_name.as_deref())),
        Some(("u1", Some("Khách 1")))
    );
    assert!(!top.by_account);
    assert_eq!(top.attachments[0].kind, "image");
    assert_eq!(
        top.attachments[0].url.as_deref(),
        Some("https://cdn.example/p.jpg")
    );
    assert_eq!(reply.external_comment_id, "2_101");
    assert_eq!(reply.parent_external_id.as_deref(), Some("2_100"));
    assert!(reply.by_account);
    assert_eq!(
        env.sandbox.requests()[0].path,
        format!("/v21.0/{PAGE}/posts")
    );

    let second = fb
        .list_post_comments(&env.cx(), &page(), since, first.next_cursor.as_deref())
        .await
        .expect("page 2");
    assert_eq!(second.events.len(), 1);
    let cursor = second.next_cursor.expect("more");
    let third = fb
        .list_post_comments(&env.cx(), &page(), since, Some(&cursor))
        .await
        .expect("page 3");
    assert!(third.events.is_empty());
    assert_eq!(third.next_cursor, None, "stops at posts older than since");
}

#[tokio::test]
async fn instagram_media_comments_and_their_replies_are_listed() {
    let env = Env::start().await;
    let media = "18172143295349192";
    env.sandbox
        .add_post(SandboxPost::instagram(media, IG, "Váy hoa", hours_ago(5)));
    env.sandbox.add_comment(SandboxComment::new(
        "17900000000000042",
        media,
        (IGSID, "lan.nguyen"),
        "Ship về Đà Nẵng bao lâu ạ?",
        hours_ago(4),
    ));
    env.sandbox.add_comment(
        SandboxComment::new(
            "17900000000000043",
            media,
            (IG, "tiemaolan"),
            "2-3 ngày ạ",
            hours_ago(3),
        )
        .reply_to("17900000000000042"),
    );
    let page = instagram()
        .list_post_comments(&env.cx(), &ig_account(), hours_ago(48), None)
        .await
        .expect("listing");
    let comments: Vec<_> = page
        .events
        .iter()
        .map(|e| match e {
            NormalizedEvent::Comment(c) => c.clone(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(comments.len(), 2);
    assert_eq!(comments[0].external_comment_id, "17900000000000042");
    assert_eq!(comments[0].parent_external_id, None);
    assert_eq!(comments[0].post.media_kind.as_deref(), Some("FEED"));
    assert_eq!(
        comments[0].text.as_deref(),
        Some("Ship về Đà Nẵng bao lâu ạ?")
    );
    assert_eq!(
        comments[0]
            .author
            .as_ref()
            .and_then(|a| a.display_name.as_deref()),
        Some("lan.nguyen")
    );
    assert_eq!(
        comments[1].parent_external_id.as_deref(),
        Some("17900000000000042")
    );
    assert!(comments[1].by_account);
    let req = &env.sandbox.requests()[0];
    assert_eq!(req.path, format!("/v21.0/{IG}/media"));
    assert!(
        req.query_param("fields")
            .is_some_and(|f| f.contains("replies{id,text,username,from,timestamp}"))
    );
}

// ---- 6b. history: nested lists and old posts -----------------------------------------------

/// Which listing [`drain`] pages through.
#[derive(Clone, Copy)]
enum Listing {
    Conversations,
    Comments,
}

/// Call a listing from no cursor until its cursor is `None`, checking that every call makes
/// exactly one Graph request; returns every event, in order.
async fn drain(
    env: &Env,
    fb: &Facebook,
    account: &AccountCtx<'_>,
    since: DateTime<Utc>,
    listing: Listing,
    start: Option<String>,
) -> Vec<NormalizedEvent> {
    let mut events = Vec::new();
    let mut cursor = start;
    for call in 0..100 {
        let before = env.sandbox.requests().len();
        let page = match listing {
            Listing::Conversations => {
                fb.list_conversations(&env.cx(), account, since, cursor.as_deref())
                    .await
            }
            Listing::Comments => {
                fb.list_post_comments(&env.cx(), account, since, cursor.as_deref())
                    .await
            }
        }
        .unwrap_or_else(|e| panic!("call {call}: {e}"));
        assert_eq!(
            env.sandbox.requests().len(),
            before + 1,
            "call {call} made one Graph request"
        );
        events.extend(page.events);
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return events,
        }
    }
    panic!("the listing never ended");
}

/// `id` of each comment event, with `<parent` for a reply.
fn comments_of(events: &[NormalizedEvent]) -> Vec<String> {
    events
        .iter()
        .map(|e| match e {
            NormalizedEvent::Comment(c) => match &c.parent_external_id {
                Some(parent) => format!("{}<{parent}", c.external_comment_id),
                None => c.external_comment_id.clone(),
            },
            other => panic!("unexpected {other:?}"),
        })
        .collect()
}

/// The requests the sandbox received on `graph_path` (e.g. `t_1/messages`).
fn requests_to(env: &Env, graph_path: &str) -> Vec<RecordedRequest> {
    env.sandbox
        .requests()
        .into_iter()
        .filter(|r| r.graph_path() == graph_path)
        .collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn a_long_conversation_is_read_to_since_through_its_messages_edge() {
    let env = Env::start().await;
    // Seven messages in the window (m_1 oldest), six before it.
    let mut long: Vec<SandboxMessage> = (1..=7)
        .map(|i| {
            let text = format!("tin {i}");
            if i % 3 == 0 {
                SandboxMessage::outbound(&format!("m_{i}"), &text, hours_ago(20 - i))
            } else {
                SandboxMessage::inbound(&format!("m_{i}"), &text, hours_ago(20 - i))
            }
        })
        .collect();
    long.extend(
        (1..=6)
            .map(|i| SandboxMessage::inbound(&format!("m_old_{i}"), "cũ", hours_ago(24 * 3 + i))),
    );
    env.sandbox
        .add_conversation(conversation("t_long", "u_long", "Khách Dài", long));
    // Its first page already reaches before `since`: no request for its older messages.
    let mut short = vec![SandboxMessage::inbound("m_s1", "alo", hours_ago(1))];
    short
        .extend((1..=4).map(|i| {
            SandboxMessage::inbound(&format!("m_s_old_{i}"), "cũ", hours_ago(24 * 3 + i))
        }));
    env.sandbox
        .add_conversation(conversation("t_short", "u_short", "Khách Ngắn", short));
    env.sandbox.set_list_page_size(1);
    env.sandbox.set_nested_page_size(3);
    let since = hours_ago(48);

    let events = drain(
        &env,
        &facebook(),
        &page(),
        since,
        Listing::Conversations,
        None,
    )
    .await;
    let mut want: Vec<String> = (1..=7)
        .map(|i| {
            let kind = if i % 3 == 0 { "echo" } else { "in" };
            format!("{kind}:m_{i}:u_long")
        })
        .collect();
    want.push("in:m_s1:u_short".into());
    assert_eq!(
        sorted(messages_of(&events)),
        sorted(want),
        "each once, none older"
    );
    let NormalizedEvent::MessageEcho(echo) = &events
        .iter()
        .find(|e| matches!(e, NormalizedEvent::MessageEcho(m) if m.external_message_id == "m_3"))
        .expect("m_3")
    else {
        unreachable!()
    };
    assert_eq!(echo.thread_external_id, "u_long");
    assert_eq!(echo.contact.display_name.as_deref(), Some("Khách Dài"));
    assert_eq!(echo.text.as_deref(), Some("tin 3"));

    // Pages of three: m_7..m_5 nested, then m_4..m_2, then m_1 with the first older message.
    let edge = requests_to(&env, "t_long/messages");
    assert_eq!(edge.len(), 2, "stops at the first message before since");
    for r in &edge {
        assert_eq!(r.method, "GET");
        assert_eq!(
            r.query_param("fields").as_deref(),
            Some("id,message,from,to,created_time,attachments")
        );
        assert_eq!(r.query_param("limit").as_deref(), Some("50"));
        assert!(r.query_param("after").is_some());
        assert!(r.query_param("appsecret_proof").is_some());
    }
    assert!(requests_to(&env, "t_short/messages").is_empty());
}

#[tokio::test]
async fn a_post_with_more_comments_than_a_page_is_read_through_its_comments_edge() {
    let env = Env::start().await;
    let post = format!("{PAGE}_7");
    env.sandbox.add_post(SandboxPost::facebook(
        &post,
        PAGE,
        "Váy mới về",
        hours_ago(30),
    ));
    // Seven comments, oldest first, two of them replies.
    let thread = [
        ("7_1", None, 29),
        ("7_2", Some("7_1"), 28),
        ("7_3", None, 27),
        ("7_4", None, 26),
        ("7_5", Some("7_3"), 25),
        ("7_6", None, 24),
        ("7_7", Some("7_1"), 23),
    ];
    for (id, parent, h) in thread {
        let c = SandboxComment::new(id, &post, ("u1", "Khách 1"), id, hours_ago(h));
        env.sandbox.add_comment(match parent {
            Some(p) => c.reply_to(p),
            None => c,
        });
    }
    env.sandbox.set_nested_page_size(2);

    let events = drain(
        &env,
        &facebook(),
        &page(),
        hours_ago(48),
        Listing::Comments,
        None,
    )
    .await;
    assert_eq!(
        comments_of(&events),
        ["7_1", "7_2<7_1", "7_3", "7_4", "7_5<7_3", "7_6", "7_7<7_1"],
        "each once, a reply after its parent"
    );
    let NormalizedEvent::Comment(c) = &events[6] else {
        unreachable!()
    };
    assert_eq!(c.post.external_id, post);
    assert_eq!(c.post.text.as_deref(), Some("Váy mới về"));
    assert_eq!(
        c.post.permalink.as_deref(),
        Some(format!("https://www.facebook.com/{post}").as_str())
    );
    let edge = requests_to(&env, &format!("{post}/comments"));
    assert_eq!(edge.len(), 3, "two nested, then 2 + 2 + 1 through the edge");
    for r in &edge {
        assert_eq!(r.query_param("filter").as_deref(), Some("stream"));
        assert_eq!(r.query_param("limit").as_deref(), Some("100"));
        assert_eq!(
            r.query_param("fields").as_deref(),
            Some("id,message,from,created_time,parent{id},attachment")
        );
    }
}

#[tokio::test]
async fn an_old_post_commented_on_since_is_read_and_quiet_old_posts_cost_no_comment_request() {
    let env = Env::start().await;
    let fresh = format!("{PAGE}_40");
    let quiet_boundary = format!("{PAGE}_30");
    let pinned = format!("{PAGE}_20");
    let quiet = format!("{PAGE}_10");
    let bare = format!("{PAGE}_5");
    for (id, text, days) in [
        (&fresh, "Hàng mới", 0),
        (&quiet_boundary, "Tuần trước nữa", 20),
        (&pinned, "Bảng giá (ghim)", 30),
        (&quiet, "Khai trương", 40),
        (&bare, "Chào cả nhà", 50),
    ] {
        env.sandbox.add_post(SandboxPost::facebook(
            id,
            PAGE,
            text,
            hours_ago(24 * days + 10),
        ));
    }
    let comment = |id: &str, post: &str, h: i64| {
        SandboxComment::new(id, post, ("u9", "Khách 9"), id, hours_ago(h))
    };
    env.sandbox.add_comment(comment("40_1", &fresh, 5));
    env.sandbox
        .add_comment(comment("30_1", &quiet_boundary, 24 * 19));
    env.sandbox.add_comment(comment("20_1", &pinned, 24 * 29));
    env.sandbox.add_comment(comment("20_2", &pinned, 24 * 20));
    env.sandbox.add_comment(comment("20_3", &pinned, 3));
    env.sandbox
        .add_comment(comment("20_4", &pinned, 2).reply_to("20_1"));
    env.sandbox.add_comment(comment("10_1", &quiet, 24 * 39));
    env.sandbox.set_list_page_size(1);
    env.sandbox.set_nested_page_size(2);
    let since = hours_ago(24 * 7);

    let events = drain(&env, &facebook(), &page(), since, Listing::Comments, None).await;
    assert_eq!(comments_of(&events), ["40_1", "20_3", "20_4<20_1"]);
    let NormalizedEvent::Comment(c) = &events[1] else {
        unreachable!()
    };
    assert_eq!(c.post.external_id, pinned);
    assert_eq!(c.post.text.as_deref(), Some("Bảng giá (ghim)"));

    // The pinned post's comments are read from their first page; quiet posts cost nothing.
    assert_eq!(requests_to(&env, &format!("{pinned}/comments")).len(), 2);
    for post in [&fresh, &quiet_boundary, &quiet, &bare] {
        assert!(
            requests_to(&env, &format!("{post}/comments")).is_empty(),
            "{post}"
        );
    }
    // Every post is listed; past the first old post, without comments.
    let listings = requests_to(&env, &format!("{PAGE}/posts"));
    let fields: Vec<String> = listings
        .iter()
        .map(|r| r.query_param("fields").expect("fields"))
        .collect();
    assert_eq!(fields.len(), 5);
    assert!(
        fields[..2].iter().all(|f| f.contains("comments")),
        "{fields:?}"
    );
    assert!(
        fields[2..]
            .iter()
            .all(|f| f == "id,message,permalink_url,created_time,updated_time"),
        "{fields:?}"
    );
}

#[tokio::test]
async fn instagram_comments_and_replies_are_read_to_their_last_pages() {
    let env = Env::start().await;
    let media = "18000000000000001";
    let old_media = "18000000000000000";
    env.sandbox
        .add_post(SandboxPost::instagram(media, IG, "Lookbook", hours_ago(30)));
    env.sandbox.add_post(SandboxPost::instagram(
        old_media,
        IG,
        "Cũ",
        hours_ago(24 * 30),
    ));
    for (id, h) in [("c1", 29), ("c2", 28), ("c3", 27), ("c4", 26), ("c5", 25)] {
        env.sandbox.add_comment(SandboxComment::new(
            id,
            media,
            (IGSID, "lan.nguyen"),
            id,
            hours_ago(h),
        ));
    }
    for (id, h) in [("r1", 20), ("r2", 19), ("r3", 18)] {
        env.sandbox.add_comment(
            SandboxComment::new(id, media, (IG, "tiemaolan"), id, hours_ago(h)).reply_to("c1"),
        );
    }
    // Media have no time of last activity: a new comment under old media is not listed.
    env.sandbox.add_comment(SandboxComment::new(
        "c_old_media",
        old_media,
        (IGSID, "lan.nguyen"),
        "còn không?",
        hours_ago(1),
    ));
    env.sandbox.set_nested_page_size(2);

    let events = drain(
        &env,
        &instagram(),
        &ig_account(),
        hours_ago(48),
        Listing::Comments,
        None,
    )
    .await;
    assert_eq!(
        sorted(comments_of(&events)),
        sorted(
            ["c1", "c2", "c3", "c4", "c5", "r1<c1", "r2<c1", "r3<c1"]
                .map(str::to_owned)
                .to_vec()
        )
    );
    let position = |id: &str| comments_of(&events).iter().position(|c| c.starts_with(id));
    assert!(position("c1") < position("r3"), "a reply after its parent");
    assert!(events.iter().all(|e| e.account_external_id() == IG));
    assert_eq!(requests_to(&env, &format!("{media}/comments")).len(), 2);
    assert_eq!(requests_to(&env, "c1/replies").len(), 1);
    let replies = &requests_to(&env, "c1/replies")[0];
    assert_eq!(
        replies.query_param("fields").as_deref(),
        Some("id,text,username,from,timestamp")
    );
}

/// A Graph `after` of `/{node}/{edge}`'s first page, as the previous version stored it.
async fn graph_after(env: &Env, node: &str, edge: &str) -> String {
    let proof = appsecret_proof(SECRET, PAGE_TOKEN);
    let v: Value = env
        .http
        .get(format!("{}/{node}/{edge}", env.base))
        .query(&[("access_token", PAGE_TOKEN), ("appsecret_proof", &proof)])
        .send()
        .await
        .expect("listing")
        .json()
        .await
        .expect("json");
    v["paging"]["cursors"]["after"]
        .as_str()
        .expect("after")
        .to_owned()
}

#[tokio::test]
async fn a_plain_graph_cursor_from_the_previous_version_resumes_the_outer_listing() {
    let env = Env::start().await;
    for (id, user, h) in [("t_1", "u_1", 1), ("t_2", "u_2", 2), ("t_3", "u_3", 3)] {
        env.sandbox.add_conversation(conversation(
            id,
            user,
            "Khách",
            vec![SandboxMessage::inbound(
                &format!("m_{id}"),
                "alo",
                hours_ago(h),
            )],
        ));
    }
    for (id, h) in [("1", 1), ("2", 2), ("3", 3)] {
        let post = format!("{PAGE}_{id}");
        env.sandbox
            .add_post(SandboxPost::facebook(&post, PAGE, "p", hours_ago(h)));
        env.sandbox.add_comment(SandboxComment::new(
            &format!("c_{id}"),
            &post,
            ("u", "U"),
            "x",
            hours_ago(h) + TimeDelta::minutes(1),
        ));
    }
    env.sandbox.set_list_page_size(1);
    let since = hours_ago(24);

    let after = graph_after(&env, PAGE, "conversations").await;
    let events = drain(
        &env,
        &facebook(),
        &page(),
        since,
        Listing::Conversations,
        Some(after.clone()),
    )
    .await;
    assert_eq!(messages_of(&events), ["in:m_t_2:u_2", "in:m_t_3:u_3"]);
    let first = &requests_to(&env, &format!("{PAGE}/conversations"))[1];
    assert_eq!(first.query_param("after"), Some(after));

    let after = graph_after(&env, PAGE, "posts").await;
    let events = drain(
        &env,
        &facebook(),
        &page(),
        since,
        Listing::Comments,
        Some(after),
    )
    .await;
    assert_eq!(comments_of(&events), ["c_2", "c_3"]);
}

// ---- sandbox odds and ends -----------------------------------------------------------------

#[tokio::test]
async fn the_sandbox_pages_nested_lists_like_graph_with_working_next_urls() {
    let env = Env::start().await;
    let post = format!("{PAGE}_9");
    let t0 = hours_ago(10);
    env.sandbox
        .add_post(SandboxPost::facebook(&post, PAGE, "p", t0));
    for (id, parent, h) in [("9_1", None, 1), ("9_2", Some("9_1"), 2), ("9_3", None, 3)] {
        let c = SandboxComment::new(id, &post, ("u", "U"), id, t0 + TimeDelta::hours(h));
        env.sandbox.add_comment(match parent {
            Some(p) => c.reply_to(p),
            None => c,
        });
    }
    env.sandbox.add_conversation(conversation(
        "t_9",
        "u_9",
        "K",
        (1..=3)
            .map(|i| SandboxMessage::inbound(&format!("m_{i}"), "x", hours_ago(i)))
            .collect(),
    ));
    let proof = appsecret_proof(SECRET, PAGE_TOKEN);
    let auth = [
        ("access_token", PAGE_TOKEN),
        ("appsecret_proof", proof.as_str()),
    ];
    let get = |url: String, params: Vec<(&'static str, &'static str)>| {
        let req = env.http.get(url).query(&auth).query(&params);
        async move {
            let r = req.send().await.expect("request");
            (r.status().as_u16(), r.json::<Value>().await.expect("json"))
        }
    };
    let ids = |list: &Value| -> Vec<String> {
        list["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|c| c["id"].as_str().expect("id").to_owned())
            .collect()
    };

    // A nested list honours `.limit(n)` and its `next` is the sandbox's own edge.
    let (status, posts) = get(
        format!("{}/{PAGE}/posts", env.base),
        vec![(
            "fields",
            "id,updated_time,comments.limit(2).filter(stream){id,message,parent{id}}",
        )],
    )
    .await;
    assert_eq!(status, 200, "{posts}");
    let p = &posts["data"][0];
    assert_eq!(
        p["updated_time"].as_str(),
        Some(
            (t0 + TimeDelta::hours(3))
                .format("%Y-%m-%dT%H:%M:%S+0000")
                .to_string()
                .as_str()
        ),
        "the newest comment's time"
    );
    assert_eq!(ids(&p["comments"]), ["9_1", "9_2"]);
    let next = p["comments"]["paging"]["next"].as_str().expect("next");
    assert!(
        next.starts_with(&format!("{}/{post}/comments?", env.base)),
        "{next}"
    );
    let (status, rest) = get(next.to_owned(), vec![]).await;
    assert_eq!(status, 200, "{rest}");
    assert_eq!(ids(&rest), ["9_3"]);
    assert!(rest["paging"].get("next").is_none());

    // The edge: top-level comments by default, every one with `filter=stream`, in either order.
    let edge = format!("{}/{post}/comments", env.base);
    assert_eq!(ids(&get(edge.clone(), vec![]).await.1), ["9_1", "9_3"]);
    assert_eq!(
        ids(&get(
            edge.clone(),
            vec![("filter", "stream"), ("order", "reverse_chronological")]
        )
        .await
        .1),
        ["9_3", "9_2", "9_1"]
    );
    let (status, bad) = get(edge, vec![("after", "not-a-cursor")]).await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"]["code"], 100);
    assert_eq!(bad["error"]["message"], "(#100) Invalid cursor");

    // A conversation's messages, newest first, nested and through the edge.
    let (_, convs) = get(
        format!("{}/{PAGE}/conversations", env.base),
        vec![("fields", "messages.limit(2){id,created_time}")],
    )
    .await;
    assert_eq!(ids(&convs["data"][0]["messages"]), ["m_1", "m_2"]);
    let next = convs["data"][0]["messages"]["paging"]["next"]
        .as_str()
        .expect("next");
    assert!(next.starts_with(&format!("{}/t_9/messages?", env.base)));
    assert_eq!(ids(&get(next.to_owned(), vec![]).await.1), ["m_3"]);
    // `/{page}/messages` is the Send API: it still lists nothing.
    let (status, _) = get(format!("{}/{PAGE}/messages", env.base), vec![]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn the_cdn_serves_registered_bytes_with_their_content_type() {
    let env = Env::start().await;
    env.sandbox
        .add_cdn_file("ao.jpg", "image/jpeg", &b"\xff\xd8\xff\xe0fake-jpeg"[..]);
    let r = env
        .http
        .get(env.sandbox.cdn_url("ao.jpg"))
        .send()
        .await
        .expect("cdn");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "image/jpeg");
    assert_eq!(
        &r.bytes().await.expect("bytes")[..],
        b"\xff\xd8\xff\xe0fake-jpeg"
    );
    let r = env
        .http
        .get(env.sandbox.cdn_url("missing.jpg"))
        .send()
        .await
        .expect("cdn");
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn strict_tokens_refuse_tokens_the_sandbox_never_issued() {
    let env = Env::start().await;
    env.sandbox.set_strict_tokens(true);
    let stranger = AccountCtx {
        external_id: PAGE,
        access_token: "EAAB_made_up",
    };
    let e = facebook()
        .send(&env.cx(), &stranger, &text_to(PSID, "x"))
        .await
        .expect_err("unknown token");
    assert!(matches!(e, ConnectorError::Unauthorized(_)), "{e:?}");
    assert_no_secret(&e, &["EAAB_made_up"]);
    facebook()
        .send(&env.cx(), &page(), &text_to(PSID, "x"))
        .await
        .expect("registered page token");
}
