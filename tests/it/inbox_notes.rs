//! Private notes and @mentions, and the inbox list's search, phone/blacklist filters and counts.

use serde_json::{Value, json};
use tongdai::domain::role::Role;

use crate::helpers::*;

/// A workspace with one Messenger conversation; returns (owner, conversation id).
async fn conversation(app: &TestApp) -> (Agent, String) {
    let owner = app.user("chu@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    app.customer_says("105", "psid-1", "m_in", "Giá bao nhiêu shop?")
        .await;
    app.drain().await;
    app.run_jobs().await;
    let page: Value = owner.json("/api/v1/conversations").await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    (owner, id)
}

/// The frames of `ws` until one of `kind` or until none comes for a moment: the kinds seen.
async fn kinds_until(ws: &mut Ws, kind: &str) -> Vec<Value> {
    use futures_util::StreamExt;
    let mut seen = Vec::new();
    loop {
        match tokio::time::timeout(std::time::Duration::from_millis(700), ws.next()).await {
            Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Text(t)))) => {
                let f: Value = serde_json::from_str(&t).unwrap();
                let done = f["type"] == kind;
                seen.push(f);
                if done {
                    return seen;
                }
            }
            Ok(Some(Ok(_))) => {}
            _ => return seen,
        }
    }
}

#[tokio::test]
async fn a_note_stays_internal_and_its_mention_reaches_only_the_mentioned_member() {
    let app = spawn_app().await;
    let (owner, conv) = conversation(&app).await;
    let lan = app.user("lan@a.vn", Role::Agent, "Shop A").await;
    let minh = app.user("minh@a.vn", Role::Agent, "Shop A").await;
    let lan_id = lan.me["user"]["id"].as_str().unwrap().to_owned();
    let before: Value = owner.json(&format!("/api/v1/conversations/{conv}")).await;
    let sent_before = app.graph.sent_messages().len();
    let requests_before = app.graph.requests().len();

    let mut ws_lan = app.ws(&lan, None).await;
    let mut ws_minh = app.ws(&minh, None).await;
    let mut ws_owner = app.ws(&owner, None).await;
    for ws in [&mut ws_lan, &mut ws_minh, &mut ws_owner] {
        frame_of(ws, "hello").await;
    }

    let res = owner
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            json!({"text": "Khách quen, @lan gọi lại giúp chị nhé"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let note: Value = res.json().await.unwrap();
    assert_eq!(note["kind"], "note");
    assert_eq!(note["direction"], "out");
    assert_eq!(note["sender_kind"], "agent");
    assert_eq!(note["status"], "sent");
    assert_eq!(note["author_user_id"], owner.me["user"]["id"]);
    assert_eq!(note["meta"]["mentions"], json!([lan_id]));

    // Lan gets message.created and her mention; Minh and the author get the message only.
    let lan_frames = kinds_until(&mut ws_lan, "mention").await;
    let mention = lan_frames.last().unwrap();
    assert_eq!(mention["type"], "mention");
    assert_eq!(mention["data"]["user_id"], lan_id.as_str());
    assert_eq!(mention["data"]["conversation_id"], conv.as_str());
    assert_eq!(mention["data"]["message_id"], note["id"]);
    assert_eq!(mention["data"]["by_user_id"], owner.me["user"]["id"]);
    assert_eq!(mention["data"]["by_name"], "Tester");
    assert!(
        lan_frames
            .iter()
            .any(|f| f["type"] == "message.created" && f["data"]["message"]["id"] == note["id"])
    );
    for ws in [&mut ws_minh, &mut ws_owner] {
        let frames = kinds_until(ws, "never").await;
        assert!(
            frames.iter().any(|f| f["type"] == "message.created"),
            "the note is live for everyone: {frames:?}"
        );
        assert!(
            !frames.iter().any(|f| f["type"] == "mention"),
            "a mention frame reached someone else: {frames:?}"
        );
    }

    // Nothing was queued or sent to the platform; the conversation's customer-facing state
    // did not move.
    assert_eq!(app.run_jobs().await, 0);
    assert_eq!(app.graph.sent_messages().len(), sent_before);
    assert_eq!(app.graph.requests().len(), requests_before);
    let after: Value = owner.json(&format!("/api/v1/conversations/{conv}")).await;
    assert_eq!(
        after["last_message_preview"],
        before["last_message_preview"]
    );
    assert_eq!(after["last_message_at"], before["last_message_at"]);
    assert_eq!(after["reply"], before["reply"]);
    let thread: Value = owner
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await;
    let kinds: Vec<&str> = thread["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["message", "note"]);

    // An explicit mention list works too, and must name members.
    let minh_id = minh.me["user"]["id"].as_str().unwrap().to_owned();
    let res = lan
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            json!({"text": "đã gọi", "mentions": [minh_id]}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let f = frame_of(&mut ws_minh, "mention").await;
    assert_eq!(f["data"]["user_id"], minh_id.as_str());
    let res = lan
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            json!({"text": "x", "mentions": [uuid::Uuid::now_v7()]}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = lan
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            json!({"text": "   "}),
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn read_only_roles_cannot_write_notes_and_other_workspaces_cannot_see_the_conversation() {
    let app = spawn_app().await;
    let (_owner, conv) = conversation(&app).await;
    let marketer = app.user("mkt@a.vn", Role::Marketer, "Shop A").await;
    let res = marketer
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            json!({"text": "ghi chú"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let kho = app.user("kho@a.vn", Role::Fulfillment, "Shop A").await;
    let res = kho
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            json!({"text": "ghi chú"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let other = app.user("b@b.vn", Role::Owner, "Shop B").await;
    let res = other
        .post(
            &format!("/api/v1/conversations/{conv}/notes"),
            json!({"text": "ghi chú"}),
        )
        .await;
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn search_phone_and_blacklist_filters_narrow_the_list_and_counts_ignore_status() {
    let app = spawn_app().await;
    let owner = app.user("chu@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    app.customer_says("105", "psid-1", "m_1", "Cho em hỏi áo len đỏ còn không")
        .await;
    app.customer_says("105", "psid-2", "m_2", "sđt em 0912.345.678 nhé")
        .await;
    app.customer_says("105", "psid-3", "m_3", "Ship về Đà Nẵng bao lâu?")
        .await;
    app.drain().await;
    app.run_jobs().await;
    let all: Value = owner.json("/api/v1/conversations?status=open").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 3);
    assert_eq!(
        all["counts"],
        json!({"open": 3, "pending": 0, "resolved": 0})
    );
    let ids = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_owned())
            .collect()
    };

    // Phone in another format, and a few of its digits.
    for q in ["%2B84%20912%20345%20678", "0912345678", "345678"] {
        let found: Value = owner.json(&format!("/api/v1/conversations?q={q}")).await;
        let items = found["items"].as_array().unwrap();
        assert_eq!(items.len(), 1, "q={q}: {found}");
        assert_eq!(items[0]["contact"]["phone"], "+84912345678");
    }
    // Message text, case-insensitive (ASCII letters: SQLite lowers those only).
    let found: Value = owner
        .json("/api/v1/conversations?q=LEN%20%C4%91%E1%BB%8F")
        .await;
    assert_eq!(ids(&found).len(), 1, "{found}");
    assert_eq!(
        found["items"][0]["last_message_preview"],
        "Cho em hỏi áo len đỏ còn không"
    );
    let nothing: Value = owner.json("/api/v1/conversations?q=zzzz").await;
    assert_eq!(nothing["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        nothing["counts"],
        json!({"open": 0, "pending": 0, "resolved": 0})
    );

    // has_phone.
    let with_phone: Value = owner.json("/api/v1/conversations?has_phone=true").await;
    assert_eq!(with_phone["items"].as_array().unwrap().len(), 1);

    // blacklisted: none until the phone is blacklisted, then that one.
    let bl: Value = owner.json("/api/v1/conversations?blacklisted=true").await;
    assert_eq!(bl["items"].as_array().unwrap().len(), 0);
    let res = owner
        .post(
            "/api/v1/blacklist",
            json!({"phone": "0912 345 678", "reason": "bom hàng 2 lần"}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let bl: Value = owner.json("/api/v1/conversations?blacklisted=true").await;
    assert_eq!(ids(&bl), ids(&with_phone));

    // Counts are per status with the other filters: resolve one, the counts follow.
    let target = ids(&with_phone)[0].clone();
    let res = owner
        .patch(
            &format!("/api/v1/conversations/{target}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let open: Value = owner.json("/api/v1/conversations?status=open").await;
    assert_eq!(open["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        open["counts"],
        json!({"open": 2, "pending": 0, "resolved": 1})
    );
    let phone_open: Value = owner
        .json("/api/v1/conversations?status=open&has_phone=true")
        .await;
    assert_eq!(phone_open["items"].as_array().unwrap().len(), 0);
    assert_eq!(
        phone_open["counts"],
        json!({"open": 0, "pending": 0, "resolved": 1})
    );

    // A note's text is searchable; too long a query is refused.
    owner
        .post(
            &format!("/api/v1/conversations/{target}/notes"),
            json!({"text": "khách hẹn thứ bảy"}),
        )
        .await;
    let by_note: Value = owner
        .json("/api/v1/conversations?q=h%E1%BA%B9n%20th%E1%BB%A9")
        .await;
    assert_eq!(ids(&by_note), vec![target]);
    let long = "a".repeat(101);
    let res = owner.get(&format!("/api/v1/conversations?q={long}")).await;
    assert_eq!(res.status(), 400);
}
