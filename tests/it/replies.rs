//! Agent replies: queued, sent through the Graph sandbox, status live; platform errors.

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::store::entities::job;
use tongdai_connectors::facebook::sandbox::SandboxFailure;

use crate::helpers::*;

async fn conversation(app: &TestApp) -> (Agent, String) {
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    app.customer_says("105", "psid-1", "m_in", "Giá bao nhiêu shop?")
        .await;
    app.drain().await;
    // The new customer's profile lookup runs first, so each test counts only its own sends.
    app.run_jobs().await;
    let page: Value = owner.json("/api/v1/conversations").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    (owner, id)
}

#[tokio::test]
async fn a_reply_reaches_the_sandbox_and_its_status_goes_live() {
    let app = spawn_app().await;
    let (owner, conv) = conversation(&app).await;
    let mut ws = app.ws(&owner, None).await;
    let res = owner
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text":"Dạ 250.000đ ạ"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let queued: Value = res.json().await.unwrap();
    assert_eq!(queued["status"], "queued");
    assert_eq!(app.run_jobs().await, 1);

    let sent = app.graph.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].page_id, "105");
    assert_eq!(sent[0].recipient_id, "psid-1");
    assert_eq!(sent[0].text, "Dạ 250.000đ ạ");
    assert_eq!(
        sent[0].messaging_type, "RESPONSE",
        "within 24 h of the customer's message"
    );
    let req = app.graph.requests().pop().unwrap();
    assert_eq!(
        req.query_param("access_token").as_deref(),
        Some("page-token-secret"),
        "the sealed token was decrypted"
    );
    assert!(req.query_param("appsecret_proof").is_some());

    let created = frame_of(&mut ws, "message.created").await;
    assert_eq!(created["data"]["message"]["status"], "queued");
    let updated = frame_of(&mut ws, "message.updated").await;
    assert_eq!(updated["data"]["message"]["status"], "sent");
    assert_eq!(
        updated["data"]["message"]["external_id"],
        sent[0].message_id.as_str()
    );

    let thread: Value = owner
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    let texts: Vec<&str> = thread["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, vec!["Giá bao nhiêu shop?", "Dạ 250.000đ ạ"]);

    // The echo Meta sends for our own send does not duplicate the message.
    let echo = tongdai_connectors::facebook::sandbox::messenger_echo_body(
        "105",
        "psid-1",
        &sent[0].message_id,
        "Dạ 250.000đ ạ",
        "424242",
        chrono::Utc::now().timestamp_millis(),
    );
    assert_eq!(app.post_signed(&echo).await.status(), 200);
    app.drain().await;
    let thread: Value = owner
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    assert_eq!(thread["items"].as_array().unwrap().len(), 2);

    // Delivery receipts move it to delivered.
    let delivery = tongdai_connectors::facebook::sandbox::messenger_delivery_body(
        "105",
        "psid-1",
        &[sent[0].message_id.as_str()],
        chrono::Utc::now().timestamp_millis(),
    );
    assert_eq!(app.post_signed(&delivery).await.status(), 200);
    app.drain().await;
    let thread: Value = owner
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    assert_eq!(thread["items"][1]["status"], "delivered");
}

#[tokio::test]
async fn an_expired_token_fails_the_reply_with_the_platform_error() {
    let app = spawn_app().await;
    let (owner, conv) = conversation(&app).await;
    app.graph.push_failure(SandboxFailure::TokenExpired);
    owner
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text":"alo"}),
        )
        .await;
    app.run_jobs().await;
    let thread: Value = owner
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    let m = &thread["items"][1];
    assert_eq!(m["status"], "failed");
    assert!(m["error"].as_str().unwrap().contains("unauthorized"), "{m}");
    let accounts: Value = owner.json("/api/v1/channel-accounts").await;
    assert_eq!(accounts[0]["status"], "needs_reauth");
    assert!(
        accounts[0].get("access_token").is_none(),
        "secrets are never returned"
    );
    let j = job::Entity::find()
        .filter(job::Column::Kind.eq("send_message"))
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.status, "dead");
}

#[tokio::test]
async fn a_throttled_reply_stays_queued_and_is_retried_on_schedule() {
    let app = spawn_app().await;
    let (owner, conv) = conversation(&app).await;
    app.graph.push_failure(SandboxFailure::RateLimited);
    owner
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text":"alo"}),
        )
        .await;
    let before = chrono::Utc::now();
    app.run_jobs().await;
    let j = job::Entity::find()
        .filter(job::Column::Kind.eq("send_message"))
        .order_by_desc(job::Column::Id)
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.status, "pending");
    assert_eq!(j.attempts, 1);
    let wait = (j.run_at - before).num_seconds();
    // The sandbox answers code 32 with `estimated_time_to_regain_access: 5` (minutes) in
    // X-Business-Use-Case-Usage: the retry waits that long, not the default backoff.
    assert!(
        (295..=305).contains(&wait),
        "second attempt after the platform's 5 minutes, got {wait} s"
    );
    let thread: Value = owner
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    assert_eq!(thread["items"][1]["status"], "queued");
    assert_eq!(app.run_jobs().await, 0, "not due yet");
    assert!(app.graph.sent_messages().is_empty());
}

#[tokio::test]
async fn empty_replies_are_refused() {
    let app = spawn_app().await;
    let (owner, conv) = conversation(&app).await;
    let res = owner
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text":"   "}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = owner
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"wrong":"field"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_body");
}

#[tokio::test]
async fn an_echo_stored_before_the_send_completes_does_not_duplicate_the_reply() {
    let app = spawn_app().await;
    let (owner, conv) = conversation(&app).await;
    owner
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text":"Dạ có ạ"}),
        )
        .await;
    // Meta's echo of our send races the Send API answer and arrives first, from an app id we
    // cannot recognise (as when TONGDAI_FACEBOOK_APP_ID is unset).
    let echo = tongdai_connectors::facebook::sandbox::messenger_echo_body(
        "105",
        "psid-1",
        "m_sandbox_1",
        "Dạ có ạ",
        "777",
        chrono::Utc::now().timestamp_millis(),
    );
    assert_eq!(app.post_signed(&echo).await.status(), 200);
    app.drain().await;
    app.run_jobs().await;
    assert_eq!(app.graph.sent_messages()[0].message_id, "m_sandbox_1");
    let thread: Value = owner
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    let items = thread["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[1]["sender_kind"], "agent");
    assert_eq!(items[1]["status"], "sent");
    assert_eq!(app.run_jobs().await, 0, "nothing left to retry");
}
