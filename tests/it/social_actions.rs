//! Agent actions through the API to the Graph sandbox: public comment replies, the one
//! private reply, hide/unhide, deleting our reply, Messenger's reply windows, attachments and
//! quick replies, and what each platform error class does to the channel.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai_connectors::facebook::sandbox::{
    Moderation, SandboxComment, SandboxFailure, SandboxPost, messenger_text_body,
};

use crate::helpers::*;

const PAGE: &str = "105";

/// A customer comment under a post, known to the sandbox and delivered by webhook.
async fn customer_comments(app: &TestApp, entry: &str, comment: &str, from: &str, text: &str) {
    let post = format!("{entry}_p1");
    let at = Utc::now() - Duration::minutes(5);
    app.graph.add_comment(SandboxComment::new(
        comment,
        &post,
        (from, "Khách Hàng"),
        text,
        at,
    ));
    app.post_meta("facebook",
        &json!({"object": "page", "entry": [{"id": entry, "time": at.timestamp(), "changes": [{"field": "feed", "value": {
            "item": "comment", "verb": "add", "post_id": post, "comment_id": comment, "parent_id": post,
            "from": {"id": from, "name": "Khách Hàng"}, "created_time": at.timestamp(), "message": text}}]}]}),
    )
    .await;
    app.drain().await;
    app.run_jobs().await;
}

async fn first_conversation(agent: &Agent) -> Value {
    agent.json("/api/v1/conversations").await["items"][0].clone()
}

async fn messages(agent: &Agent, conv: &str) -> Vec<Value> {
    agent
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn comment_replies_private_replies_hiding_and_deleting_go_through_the_graph() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    customer_comments(&app, PAGE, "p1_c1", "u-77", "Giá sao shop").await;
    let conv = first_conversation(&owner).await;
    assert_eq!(conv["kind"], "comment_thread");
    assert_eq!(conv["reply"]["mode"], "comment");
    let cid = conv["id"].as_str().unwrap().to_owned();
    let comment_id = messages(&owner, &cid).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Public reply under the thread's comment.
    let res = owner
        .post(
            &format!("/api/v1/conversations/{cid}/messages"),
            json!({"text": "Dạ 250k ạ"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let reply_id = match app.graph.moderation().as_slice() {
        [
            Moderation::Reply {
                comment_id,
                edge,
                message,
                reply_id,
            },
        ] => {
            assert_eq!(comment_id, "p1_c1");
            assert_eq!(edge, "comments");
            assert_eq!(message, "Dạ 250k ạ");
            reply_id.clone()
        }
        other => panic!("one public reply expected: {other:?}"),
    };
    let msgs = messages(&owner, &cid).await;
    let ours = msgs
        .iter()
        .find(|m| m["kind"] == "comment" && m["direction"] == "out")
        .unwrap();
    assert_eq!(ours["status"], "sent");
    assert_eq!(ours["external_id"], reply_id);
    assert_eq!(ours["in_reply_to"], "p1_c1");
    // Its own feed webhook arrives: still one copy.
    app.post_meta("facebook",
        &json!({"object": "page", "entry": [{"id": PAGE, "time": Utc::now().timestamp(), "changes": [{"field": "feed", "value": {
            "item": "comment", "verb": "add", "post_id": "105_p1", "comment_id": reply_id, "parent_id": "p1_c1",
            "from": {"id": PAGE, "name": "Shop"}, "created_time": Utc::now().timestamp(), "message": "Dạ 250k ạ"}}]}]}),
    )
    .await;
    app.drain().await;
    assert_eq!(messages(&owner, &cid).await.len(), 2);

    // The one private reply, then a second is refused before calling Facebook.
    let res = owner
        .post(
            &format!("/api/v1/messages/{comment_id}/private-reply"),
            json!({"text": "Shop inbox giá chi tiết nhé"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let sent = app.graph.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].comment_id.as_deref(), Some("p1_c1"));
    assert_eq!(sent[0].text, "Shop inbox giá chi tiết nhé");
    let res = owner
        .post(
            &format!("/api/v1/messages/{comment_id}/private-reply"),
            json!({"text": "lần hai"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "private_reply_closed");
    assert_eq!(app.graph.sent_messages().len(), 1);
    let msgs = messages(&owner, &cid).await;
    let comment = msgs
        .iter()
        .find(|m| m["id"] == comment_id.as_str())
        .unwrap();
    assert!(comment["private_replied_at"].is_string());
    let private = msgs.iter().find(|m| m["kind"] == "private_reply").unwrap();
    assert_eq!(private["status"], "sent");

    // The commenter answers in Messenger: same contact as the comment thread.
    app.customer_says(
        &sent[0].page_id,
        &sent[0].recipient_id,
        "m_after",
        "Dạ em cảm ơn",
    )
    .await;
    app.drain().await;
    let all: Value = owner.json("/api/v1/conversations").await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["contact"]["id"], items[1]["contact"]["id"]);

    // Hide, unhide.
    for hidden in [true, false, true] {
        let res = owner
            .post(
                &format!("/api/v1/messages/{comment_id}/hide"),
                json!({"hidden": hidden}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let m: Value = res.json().await.unwrap();
        assert_eq!(m["hidden"], hidden);
    }
    assert!(app.graph.comment("p1_c1").unwrap().hidden);
    assert!(app.graph.moderation().iter().any(|m| matches!(m,
        Moderation::SetHidden { comment_id, param, hidden: false } if comment_id == "p1_c1" && param == "is_hidden")));

    // Delete our reply (kept here, marked removed); a customer's comment cannot be deleted.
    let ours_id = ours["id"].as_str().unwrap();
    let res = owner
        .client
        .delete(app.url(&format!("/api/v1/messages/{ours_id}")))
        .header("x-csrf-token", &owner.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let m: Value = res.json().await.unwrap();
    assert!(m["removed_at"].is_string());
    assert!(
        app.graph
            .moderation()
            .iter()
            .any(|m| matches!(m, Moderation::Delete { comment_id } if *comment_id == reply_id))
    );
    let res = owner
        .client
        .delete(app.url(&format!("/api/v1/messages/{comment_id}")))
        .header("x-csrf-token", &owner.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn instagram_comments_are_answered_and_hidden_through_instagram_endpoints() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let res = owner
        .post(
            "/api/v1/channel-accounts",
            json!({"platform": "instagram", "external_id": "1784", "name": "shop.ig", "access_token": "page-token-secret"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    app.graph.add_post(SandboxPost::instagram(
        "1817",
        "1784",
        "Áo thun",
        Utc::now(),
    ));
    app.graph.add_comment(SandboxComment::new(
        "1790001",
        "1817",
        ("igsid-9", "mai.tran"),
        "Còn size S không?",
        Utc::now(),
    ));
    app.post_meta("instagram",
        &json!({"object": "instagram", "entry": [{"id": "1784", "time": Utc::now().timestamp(), "changes": [{"field": "comments", "value": {
            "id": "1790001", "text": "Còn size S không?", "from": {"id": "igsid-9", "username": "mai.tran"},
            "media": {"id": "1817", "media_product_type": "REELS"}}}]}]}),
    )
    .await;
    app.drain().await;
    app.run_jobs().await;
    let conv = first_conversation(&owner).await;
    let cid = conv["id"].as_str().unwrap();
    let res = owner
        .post(
            &format!("/api/v1/conversations/{cid}/messages"),
            json!({"text": "Còn ạ"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let comment_id = messages(&owner, cid).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = owner
        .post(
            &format!("/api/v1/messages/{comment_id}/hide"),
            json!({"hidden": true}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let res = owner
        .post(
            &format!("/api/v1/messages/{comment_id}/private-reply"),
            json!({"text": "Shop nhắn riêng bạn nhé"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let sent = app.graph.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].comment_id.as_deref(), Some("1790001"));
    let moderation = app.graph.moderation();
    assert!(moderation.iter().any(|m| matches!(m,
        Moderation::Reply { comment_id, edge, .. } if comment_id == "1790001" && edge == "replies")));
    assert!(moderation.iter().any(|m| matches!(m,
        Moderation::SetHidden { comment_id, param, hidden: true } if comment_id == "1790001" && param == "hide")));
}

/// A Messenger customer who last wrote `ago`.
async fn wrote(app: &TestApp, psid: &str, ago: Duration) {
    let at = Utc::now() - ago;
    app.graph.set_last_inbound(PAGE, psid, at);
    let body = messenger_text_body(
        PAGE,
        psid,
        &format!("m_{psid}"),
        "alo shop",
        at.timestamp_millis(),
    );
    let res = app.post_signed(&body).await;
    assert_eq!(res.status(), 200);
    app.drain().await;
    app.run_jobs().await;
}

/// The one open conversation (earlier ones are resolved as the test goes).
async fn open_conversation(agent: &Agent) -> Value {
    let all: Value = agent.json("/api/v1/conversations?status=open").await;
    let items = all["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{items:#?}");
    items[0].clone()
}

#[tokio::test]
async fn messenger_reply_windows_pick_the_policy_or_refuse_before_calling() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;

    // Within 24 h: RESPONSE.
    wrote(&app, "fresh", Duration::hours(2)).await;
    let conv = open_conversation(&owner).await;
    assert_eq!(conv["reply"]["mode"], "standard");
    assert_eq!(conv["reply"]["can_reply"], true);
    let cid = conv["id"].as_str().unwrap();
    owner
        .post(
            &format!("/api/v1/conversations/{cid}/messages"),
            json!({"text": "Dạ"}),
        )
        .await;
    app.run_jobs().await;
    let sent = app.graph.sent_messages();
    assert_eq!(sent.last().unwrap().messaging_type, "RESPONSE");
    assert_eq!(sent.last().unwrap().tag, None);
    let resolved = owner
        .patch(
            &format!("/api/v1/conversations/{cid}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(resolved.status(), 200);

    // After 24 h, within 7 days: HUMAN_AGENT.
    wrote(&app, "older", Duration::days(3)).await;
    let conv = open_conversation(&owner).await;
    assert_eq!(conv["reply"]["mode"], "human_agent");
    let until: chrono::DateTime<Utc> = conv["reply"]["until"].as_str().unwrap().parse().unwrap();
    assert!(
        (until - (Utc::now() + Duration::days(4)))
            .num_minutes()
            .abs()
            < 5
    );
    let cid = conv["id"].as_str().unwrap();
    let res = owner
        .post(
            &format!("/api/v1/conversations/{cid}/messages"),
            json!({"text": "Dạ shop xin lỗi trả lời muộn"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let last = app.graph.sent_messages().last().unwrap().clone();
    assert_eq!(last.messaging_type, "MESSAGE_TAG");
    assert_eq!(last.tag.as_deref(), Some("HUMAN_AGENT"));
    owner
        .patch(
            &format!("/api/v1/conversations/{cid}"),
            json!({"status": "resolved"}),
        )
        .await;

    // After 7 days: refused with the reason, Facebook never called.
    wrote(&app, "gone", Duration::days(8)).await;
    let conv = open_conversation(&owner).await;
    assert_eq!(conv["reply"]["mode"], "closed");
    assert_eq!(conv["reply"]["can_reply"], false);
    assert!(conv["reply"]["reason"].as_str().unwrap().contains("7 days"));
    let before = app.graph.requests().len();
    let cid = conv["id"].as_str().unwrap();
    let res = owner
        .post(
            &format!("/api/v1/conversations/{cid}/messages"),
            json!({"text": "alo"}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "reply_window_closed");
    app.run_jobs().await;
    assert_eq!(app.graph.requests().len(), before);
}

#[tokio::test]
async fn an_image_and_quick_replies_are_sent_as_two_messages_in_order() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    wrote(&app, "buyer", Duration::minutes(1)).await;
    let conv = first_conversation(&owner).await;
    let cid = conv["id"].as_str().unwrap();
    let res = owner
        .post(
            &format!("/api/v1/conversations/{cid}/messages"),
            json!({"text": "Chị chọn size nhé", "attachment": {"kind": "image", "url": "https://shop.example.vn/bang-size.jpg"},
                   "quick_replies": [{"title": "Size S", "payload": "S"}, {"title": "Size M", "payload": "M"}]}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let sent = app.graph.sent_messages();
    assert_eq!(sent.len(), 2, "{sent:#?}");
    let image = sent[0].attachment.as_ref().expect("image first");
    assert_eq!(image.kind, "image");
    assert_eq!(image.url, "https://shop.example.vn/bang-size.jpg");
    assert_eq!(sent[1].text, "Chị chọn size nhé");
    let titles: Vec<&str> = sent[1]
        .quick_replies
        .iter()
        .map(|q| q.title.as_str())
        .collect();
    assert_eq!(titles, ["Size S", "Size M"]);
    // Bad input is refused with a reason.
    for bad in [
        json!({"text": "x", "attachment": {"kind": "image", "url": "javascript:alert(1)"}}),
        json!({"text": "x", "attachment": {"kind": "sticker", "url": "https://a.vn/x.png"}}),
        json!({"text": "", "quick_replies": [{"title": "A", "payload": "a"}], "attachment": {"kind": "image", "url": "https://a.vn/x.png"}}),
    ] {
        let res = owner
            .post(&format!("/api/v1/conversations/{cid}/messages"), bad)
            .await;
        assert_eq!(res.status(), 400);
    }
}

#[tokio::test]
async fn each_graph_error_class_has_its_effect_on_the_channel() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    wrote(&app, "buyer", Duration::minutes(1)).await;
    let conv = first_conversation(&owner).await;
    let cid = conv["id"].as_str().unwrap();
    let say = |text: &'static str| {
        let owner = &owner;
        async move {
            owner
                .post(
                    &format!("/api/v1/conversations/{cid}/messages"),
                    json!({"text": text}),
                )
                .await
        }
    };

    // A missing permission: the message fails with Facebook's reason; the channel stays usable.
    app.graph.push_failure(SandboxFailure::PermissionDenied);
    say("one").await;
    app.run_jobs().await;
    let msgs = messages(&owner, cid).await;
    let failed = msgs.iter().find(|m| m["text"] == "one").unwrap();
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("code 200"),
        "{failed:#?}"
    );
    let accounts: Value = owner.json("/api/v1/channel-accounts").await;
    assert_eq!(accounts[0]["status"], "active");
    assert!(
        accounts[0]["health"]["last_error"]
            .as_str()
            .unwrap()
            .contains("200")
    );
    assert_eq!(accounts[0]["health"]["state"], "error");

    // A rejected token: needs_reauth, and later replies fail without calling Facebook.
    app.graph.push_failure(SandboxFailure::TokenExpired);
    say("two").await;
    app.run_jobs().await;
    let accounts: Value = owner.json("/api/v1/channel-accounts").await;
    assert_eq!(accounts[0]["status"], "needs_reauth");
    let before = app.graph.requests().len();
    say("three").await;
    app.run_jobs().await;
    assert_eq!(
        app.graph.requests().len(),
        before,
        "no call while the token is known bad"
    );
    let msgs = messages(&owner, cid).await;
    assert_eq!(
        msgs.iter().find(|m| m["text"] == "three").unwrap()["status"],
        "failed"
    );
    // A new token brings it back.
    let id = accounts[0]["id"].as_str().unwrap();
    let res = owner
        .patch(
            &format!("/api/v1/channel-accounts/{id}"),
            json!({"access_token": "new-token"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let acc: Value = res.json().await.unwrap();
    assert_eq!(acc["status"], "active");
}
