//! The website chat widget: sessions, identity validation (vector S3), the visitor websocket,
//! agents' replies, typing and read, limits and origins, the contact form → lead.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tongdai::domain::role::Role;
use tongdai::services::tokens::Secrets;
use tongdai::store::entities::channel_account;

use crate::helpers::*;

/// Spec §7.2 S3.
const S3_KEY: &str = "hmac_token_example";
const S3_IDENTIFIER: &str = "customer-42";
const S3_HASH: &str = "ad4401f6c3ee70d3e441e42623f8bd05b26a9563c387c6369ee97dd151c1d235";

async fn create_channel(owner: &Agent, body: Value) -> Value {
    let res = owner.post("/api/v1/webchat-channels", body).await;
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json().await.unwrap()
}

async fn session(app: &TestApp, origin: Option<&str>, body: Value) -> reqwest::Response {
    let mut req = app.http.post(app.url("/widget/v1/session")).json(&body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    req.send().await.unwrap()
}

async fn session_ok(app: &TestApp, body: Value) -> Value {
    let res = session(app, None, body).await;
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
    res.json().await.unwrap()
}

async fn visitor_ws(app: &TestApp, token: &str, origin: Option<&str>) -> Result<Ws, String> {
    let mut req = format!("ws://{}/widget/v1/ws?visitor_token={token}", app.addr)
        .into_client_request()
        .unwrap();
    if let Some(o) = origin {
        req.headers_mut().insert("origin", o.parse().unwrap());
    }
    tokio_tungstenite::connect_async(req)
        .await
        .map(|(ws, _)| ws)
        .map_err(|e| e.to_string())
}

async fn say(ws: &mut Ws, frame: Value) {
    ws.send(Message::Text(frame.to_string().into()))
        .await
        .unwrap();
}

/// The next widget frame of type `kind` (others skipped), within 5 s.
async fn widget_frame(ws: &mut Ws, kind: &str) -> Value {
    frame_of(ws, kind).await
}

/// No frame of type `kind` arrives within a short while (used after a frame that must have
/// come first, so the wait is not what the test relies on).
async fn no_frame_of(ws: &mut Ws, kind: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_millis(300);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            assert_ne!(v["type"], kind, "unexpected {v}");
        }
    }
}

/// Give the channel the spec's S3 hmac_token (a channel's own is random).
async fn use_s3_key(app: &TestApp, channel_id: &str) {
    let acc = channel_account::Entity::find_by_id(channel_id.parse::<uuid::Uuid>().unwrap())
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    let mut am: channel_account::ActiveModel = acc.into();
    am.secrets_enc = Set(Some(
        Secrets {
            access_token: S3_KEY.into(),
            ..Default::default()
        }
        .seal(&app.state),
    ));
    am.update(&app.state.db.write).await.unwrap();
}

#[tokio::test]
async fn a_visitor_chats_and_the_agent_answers_live_and_after_a_reload() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let ch = create_channel(&owner, json!({ "name": "Website" })).await;
    let token = ch["website_token"].as_str().unwrap();
    assert!(ch["hmac_token"].as_str().unwrap().len() >= 32);
    assert!(
        ch["script_tag"]
            .as_str()
            .unwrap()
            .contains(&format!("data-website-token=\"{token}\""))
    );
    assert_eq!(ch["greeting"], "Xin chào! Shop có thể giúp gì cho bạn?");
    // The secret is shown once.
    let listed = owner.json("/api/v1/webchat-channels").await;
    assert_eq!(listed[0]["website_token"], token);
    assert!(listed[0].get("hmac_token").is_none());

    let s = session_ok(&app, json!({ "website_token": token })).await;
    assert_eq!(s["conversation_id"], Value::Null);
    assert_eq!(s["messages"], json!([]));
    let vt = s["visitor_token"].as_str().unwrap().to_owned();

    let mut agent_ws = app.ws(&owner, None).await;
    let mut ws = visitor_ws(&app, &vt, None).await.unwrap();
    say(
        &mut ws,
        json!({ "type": "message", "text": "Áo này còn size M không?", "echo_id": "e-1" }),
    )
    .await;
    let ack = widget_frame(&mut ws, "ack").await;
    assert_eq!(ack["echo_id"], "e-1");
    assert_eq!(ack["duplicate"], false);
    app.drain().await;

    // The agent sees it live, in a webchat conversation.
    let created = frame_of(&mut agent_ws, "message.created").await;
    assert_eq!(
        created["data"]["message"]["text"],
        "Áo này còn size M không?"
    );
    let conv = created["data"]["conversation"].clone();
    assert_eq!(conv["channel_account"]["platform"], "webchat");
    assert_eq!(conv["kind"], "direct");
    let conv_id = conv["id"].as_str().unwrap().to_owned();
    // The visitor gets its own message back with its echo id.
    let echo = widget_frame(&mut ws, "message").await;
    assert_eq!(echo["message"]["echo_id"], "e-1");
    assert_eq!(echo["message"]["from"], "visitor");

    // Typing, then the answer.
    let res = owner
        .post(
            &format!("/api/v1/conversations/{conv_id}/typing"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 204);
    widget_frame(&mut ws, "typing").await;
    let res = owner
        .post(
            &format!("/api/v1/conversations/{conv_id}/messages"),
            json!({ "text": "Còn ạ, bạn cao bao nhiêu?" }),
        )
        .await;
    assert_eq!(
        res.status(),
        202,
        "{}",
        res.text().await.unwrap_or_default()
    );
    assert!(app.run_jobs().await >= 1);
    let reply = widget_frame(&mut ws, "message").await;
    assert_eq!(reply["message"]["from"], "agent");
    assert_eq!(reply["message"]["text"], "Còn ạ, bạn cao bao nhiêu?");
    assert_eq!(reply["message"]["status"], "sent");

    // The agent opens the thread: the visitor sees "read".
    let res = owner
        .post(&format!("/api/v1/conversations/{conv_id}/read"), json!({}))
        .await;
    assert!(res.status().is_success());
    widget_frame(&mut ws, "read").await;

    // The visitor reads the reply: it is marked read for the agent.
    say(&mut ws, json!({ "type": "read" })).await;
    let updated = eventually(|| async {
        app.drain().await;
        let msgs = thread(&owner, &json!({ "id": conv_id })).await;
        msgs.iter()
            .find(|m| m["direction"] == "out" && m["status"] == "read")
            .cloned()
    })
    .await;
    assert_eq!(updated["text"], "Còn ạ, bạn cao bao nhiêu?");

    // A reload resumes the same conversation with its history.
    let again = session_ok(&app, json!({ "website_token": token, "visitor_token": vt })).await;
    assert_eq!(again["conversation_id"], conv_id.as_str());
    let texts: Vec<&str> = again["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        ["Áo này còn size M không?", "Còn ạ, bạn cao bao nhiêu?"]
    );
    assert_eq!(again["messages"][0]["echo_id"], "e-1");

    // Another browser is another visitor: it sees none of it.
    let other = session_ok(&app, json!({ "website_token": token })).await;
    assert_eq!(other["conversation_id"], Value::Null);
    assert_eq!(other["messages"], json!([]));
    // A forged token is a new visitor, not the old one.
    let forged = format!("{}x", &vt[..vt.len() - 1]);
    let f = session_ok(
        &app,
        json!({ "website_token": token, "visitor_token": forged }),
    )
    .await;
    assert_eq!(f["conversation_id"], Value::Null);
    assert!(visitor_ws(&app, &forged, None).await.is_err());
}

#[tokio::test]
async fn a_resent_message_is_stored_once_and_notes_never_reach_the_visitor() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let ch = create_channel(&owner, json!({ "name": "Website" })).await;
    let s = session_ok(&app, json!({ "website_token": ch["website_token"] })).await;
    let mut ws = visitor_ws(&app, s["visitor_token"].as_str().unwrap(), None)
        .await
        .unwrap();
    for _ in 0..2 {
        say(
            &mut ws,
            json!({ "type": "message", "text": "Chào shop", "echo_id": "same" }),
        )
        .await;
    }
    assert_eq!(widget_frame(&mut ws, "ack").await["duplicate"], false);
    assert_eq!(widget_frame(&mut ws, "ack").await["duplicate"], true);
    app.drain().await;
    let convs = owner.json("/api/v1/conversations").await["items"].clone();
    assert_eq!(convs.as_array().unwrap().len(), 1);
    let msgs = thread(&owner, &convs[0]).await;
    assert_eq!(msgs.len(), 1, "{msgs:#?}");

    // A private note in the thread stays with the team.
    let conv_id = convs[0]["id"].as_str().unwrap();
    let res = owner
        .post(
            &format!("/api/v1/conversations/{conv_id}/notes"),
            json!({ "text": "khách quen" }),
        )
        .await;
    assert!(res.status().is_success());
    widget_frame(&mut ws, "message").await; // the visitor's own echo first
    no_frame_of(&mut ws, "message").await;
    let again = session_ok(
        &app,
        json!({ "website_token": ch["website_token"], "visitor_token": s["visitor_token"] }),
    )
    .await;
    assert_eq!(again["messages"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn identity_validation_follows_vector_s3_and_required_mode_refuses_anonymous_visitors() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let ch = create_channel(&owner, json!({ "name": "Website" })).await;
    use_s3_key(&app, ch["id"].as_str().unwrap()).await;
    let token = ch["website_token"].clone();

    let ok = session_ok(
        &app,
        json!({ "website_token": token, "identifier": S3_IDENTIFIER, "identifier_hash": S3_HASH, "name": "Chị Lan" }),
    )
    .await;
    assert_eq!(ok["verified"], true);

    let bad = session(
        &app,
        None,
        json!({ "website_token": token, "identifier": S3_IDENTIFIER, "identifier_hash": "00".repeat(32) }),
    )
    .await;
    assert_eq!(bad.status(), 401);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["code"], "invalid_identifier_hash");
    assert!(body["message"].as_str().unwrap().contains("HMAC"));
    // Another identifier with S3's hash is refused too.
    let other = session(
        &app,
        None,
        json!({ "website_token": token, "identifier": "customer-43", "identifier_hash": S3_HASH }),
    )
    .await;
    assert_eq!(other.status(), 401);

    // The verified visitor's messages land on the identity `customer-42`, from any browser.
    let mut ws = visitor_ws(&app, ok["visitor_token"].as_str().unwrap(), None)
        .await
        .unwrap();
    say(
        &mut ws,
        json!({ "type": "message", "text": "Đơn của tôi đâu?", "echo_id": "a" }),
    )
    .await;
    widget_frame(&mut ws, "ack").await;
    app.drain().await;
    let again = session_ok(
        &app,
        json!({ "website_token": token, "identifier": S3_IDENTIFIER, "identifier_hash": S3_HASH }),
    )
    .await;
    assert_eq!(again["messages"][0]["text"], "Đơn của tôi đâu?");
    let convs = owner.json("/api/v1/conversations").await["items"].clone();
    assert_eq!(convs[0]["contact"]["name"], "Chị Lan");

    // Required mode: anonymous sessions and sockets are refused, verified ones pass.
    let anon = session_ok(&app, json!({ "website_token": token })).await;
    let res = owner
        .patch(
            &format!("/api/v1/webchat-channels/{}", ch["id"].as_str().unwrap()),
            json!({ "require_identity": true }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let refused = session(&app, None, json!({ "website_token": token })).await;
    assert_eq!(refused.status(), 401);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["code"],
        "identity_required"
    );
    assert!(
        visitor_ws(&app, anon["visitor_token"].as_str().unwrap(), None)
            .await
            .is_err()
    );
    let verified = session_ok(
        &app,
        json!({ "website_token": token, "identifier": S3_IDENTIFIER, "identifier_hash": S3_HASH }),
    )
    .await;
    assert!(
        visitor_ws(&app, verified["visitor_token"].as_str().unwrap(), None)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn limits_sizes_and_origins_are_enforced() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let bad = owner
        .post(
            "/api/v1/webchat-channels",
            json!({ "name": "W", "allowed_origins": ["shop.example/path"] }),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let ch = create_channel(
        &owner,
        json!({ "name": "Website", "allowed_origins": ["https://shop.example"], "accent_color": "#aa3300" }),
    )
    .await;
    let token = ch["website_token"].clone();

    // Origin: refused from another site (and without an Origin), allowed with CORS from the shop.
    let evil = session(
        &app,
        Some("https://evil.example"),
        json!({ "website_token": token }),
    )
    .await;
    assert_eq!(evil.status(), 403);
    assert_eq!(
        evil.json::<Value>().await.unwrap()["code"],
        "origin_not_allowed"
    );
    assert_eq!(
        session(&app, None, json!({ "website_token": token }))
            .await
            .status(),
        403
    );
    let good = session(
        &app,
        Some("https://shop.example"),
        json!({ "website_token": token }),
    )
    .await;
    assert_eq!(good.status(), 200);
    assert_eq!(
        good.headers()["access-control-allow-origin"],
        "https://shop.example"
    );
    let s: Value = good.json().await.unwrap();
    assert_eq!(s["channel"]["accent_color"], "#aa3300");
    let vt = s["visitor_token"].as_str().unwrap();
    assert!(
        visitor_ws(&app, vt, Some("https://evil.example"))
            .await
            .is_err()
    );
    let mut ws = visitor_ws(&app, vt, Some("https://shop.example"))
        .await
        .unwrap();

    // Size: over 2,000 characters is an error frame, nothing stored.
    say(
        &mut ws,
        json!({ "type": "message", "text": "a".repeat(2001), "echo_id": "big" }),
    )
    .await;
    let err = widget_frame(&mut ws, "error").await;
    assert_eq!(err["code"], "too_long");
    assert_eq!(err["echo_id"], "big");

    // Rate: 20 messages a minute per visitor, then an error frame.
    for i in 0..20 {
        say(
            &mut ws,
            json!({ "type": "message", "text": format!("tin {i}"), "echo_id": format!("m{i}") }),
        )
        .await;
        assert_eq!(
            widget_frame(&mut ws, "ack").await["echo_id"],
            format!("m{i}")
        );
    }
    say(
        &mut ws,
        json!({ "type": "message", "text": "một tin nữa", "echo_id": "m20" }),
    )
    .await;
    let err = widget_frame(&mut ws, "error").await;
    assert_eq!(err["code"], "rate_limited");
    app.drain().await;
    let convs = owner.json("/api/v1/conversations").await["items"].clone();
    let msgs = thread(&owner, &convs[0]).await;
    assert_eq!(msgs.len(), 20);
    assert!(msgs.iter().all(|m| m["text"].as_str().unwrap().len() < 100));
}

#[tokio::test]
async fn a_phone_left_in_the_contact_form_or_a_message_makes_a_lead() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let ch = create_channel(&owner, json!({ "name": "Website" })).await;
    let s = session_ok(&app, json!({ "website_token": ch["website_token"] })).await;
    let mut ws = visitor_ws(&app, s["visitor_token"].as_str().unwrap(), None)
        .await
        .unwrap();
    say(
        &mut ws,
        json!({ "type": "contact", "name": "Lan", "phone": "not a phone" }),
    )
    .await;
    assert_eq!(
        widget_frame(&mut ws, "error").await["code"],
        "invalid_phone"
    );
    say(
        &mut ws,
        json!({ "type": "contact", "name": "Lan", "phone": "0912 345 678" }),
    )
    .await;
    widget_frame(&mut ws, "contact_saved").await;
    app.drain().await;
    let leads = owner.json("/api/v1/leads").await["items"].clone();
    assert_eq!(leads.as_array().unwrap().len(), 1, "{leads:#?}");
    assert_eq!(leads[0]["contact"]["phone"], "+84912345678");
    assert_eq!(leads[0]["contact"]["name"], "Lan");
    assert_eq!(leads[0]["platform"], "webchat");

    // A phone typed in a message works like on any channel.
    let s2 = session_ok(&app, json!({ "website_token": ch["website_token"] })).await;
    let mut ws2 = visitor_ws(&app, s2["visitor_token"].as_str().unwrap(), None)
        .await
        .unwrap();
    say(
        &mut ws2,
        json!({ "type": "message", "text": "Gọi mình nhé 0987.654.321", "echo_id": "p" }),
    )
    .await;
    widget_frame(&mut ws2, "ack").await;
    app.drain().await;
    let leads = owner.json("/api/v1/leads").await["items"].clone();
    assert_eq!(leads.as_array().unwrap().len(), 2, "{leads:#?}");
    assert!(
        leads
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["contact"]["phone"] == "+84987654321")
    );
}
