//! Zalo OA webhooks through the real route (`POST /webhooks/zalo`) into the inbox: every event
//! type, signed as Zalo signs (`shared/specs/social.md` §4.1), the registration probe, bad and
//! missing signatures, and redeliveries.

use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::store::entities::inbound_event;
use tongdai_connectors::zalo::signature_header;

use crate::helpers::*;

const OA: &str = "1357924680135792468";
const USER: &str = "2468013579246801357";

async fn stored_events(app: &TestApp) -> u64 {
    inbound_event::Entity::find()
        .count(&app.state.db.read)
        .await
        .unwrap()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A user → OA event, timestamp as Zalo sends it (a string of ms).
fn user_event(name: &str, message: Value) -> Value {
    json!({"app_id": ZALO_APP_ID, "user_id_by_app": "5555555555555555555", "event_name": name,
        "timestamp": now_ms().to_string(), "sender": {"id": USER}, "recipient": {"id": OA},
        "message": message})
}

/// An OA → user event (echoes, receipts).
fn oa_event(name: &str, message: Value) -> Value {
    json!({"app_id": ZALO_APP_ID, "user_id_by_app": "5555555555555555555", "event_name": name,
        "timestamp": now_ms().to_string(), "sender": {"id": OA}, "recipient": {"id": USER},
        "message": message})
}

impl TestApp {
    async fn post_zalo_raw(&self, body: &[u8], signature: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .post(self.url("/webhooks/zalo"))
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header("x-zevent-signature", s);
        }
        req.send().await.unwrap()
    }

    /// Sign `event` with its own timestamp as Zalo does and post it; asserts 200.
    async fn post_zalo(&self, event: &Value) -> Value {
        let body = serde_json::to_vec(event).unwrap();
        let ts = event["timestamp"].as_str().unwrap();
        let sig = signature_header(ZALO_APP_ID, &body, ts, ZALO_OA_SECRET);
        let res = self.post_zalo_raw(&body, Some(&sig)).await;
        let status = res.status();
        let out: Value = res.json().await.unwrap();
        assert_eq!(status, 200, "{out}");
        out
    }
}

async fn connect_oa(app: &TestApp, owner: &Agent) {
    let res = owner
        .post(
            "/api/v1/channel-accounts",
            json!({"platform": "zalo", "external_id": OA, "name": "Shop A Zalo", "access_token": "oa-token"}),
        )
        .await;
    assert_eq!(
        res.status(),
        201,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let _ = app;
}

async fn the_conversation(agent: &Agent) -> Value {
    let convs = agent.json("/api/v1/conversations").await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(convs.len(), 1, "{convs:#?}");
    convs[0].clone()
}

#[tokio::test]
async fn every_zalo_event_type_reaches_the_inbox() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect_oa(&app, &owner).await;

    // The user follows, then writes text and every attachment kind.
    app.post_zalo(
        &json!({"app_id": ZALO_APP_ID, "oa_id": OA, "user_id_by_app": "5555",
        "event_name": "follow", "source": "oa_profile", "timestamp": now_ms().to_string(),
        "follower": {"id": USER}}),
    )
    .await;
    app.post_zalo(&user_event(
        "user_send_text",
        json!({"msg_id": "t1", "text": "Cho mình hỏi giá"}),
    ))
    .await;
    let kinds = [
        "image", "sticker", "gif", "link", "file", "audio", "video", "location",
    ];
    for kind in kinds {
        let payload = if kind == "location" {
            json!({"coordinates": {"latitude": "10.77", "longitude": "106.70"}})
        } else {
            json!({"url": format!("https://f.zalo.me/{kind}"), "name": format!("{kind}.bin")})
        };
        app.post_zalo(&user_event(
            &format!("user_send_{kind}"),
            json!({"msg_id": format!("a-{kind}"), "attachments": [{"type": kind, "payload": payload}]}),
        ))
        .await;
    }
    app.post_zalo(&user_event(
        "user_send_business_card",
        json!({"msg_id": "bc1", "attachments": [{"type": "business_card",
            "payload": {"description": "Anh Nam", "thumbnail": "https://f.zalo.me/bc"}}]}),
    ))
    .await;
    // The OA answered from Zalo's own app: an echo; then receipts for it.
    app.post_zalo(&oa_event(
        "oa_send_text",
        json!({"msg_id": "e1", "text": "Dạ 250k ạ"}),
    ))
    .await;
    app.post_zalo(&oa_event(
        "oa_send_image",
        json!({"msg_id": "e2",
        "attachments": [{"type": "image", "payload": {"url": "https://f.zalo.me/e2"}}]}),
    ))
    .await;
    app.drain().await;

    let conv = the_conversation(&owner).await;
    assert_eq!(conv["referral"]["kind"], "follow");
    let msgs = thread(&owner, &conv).await;
    assert_eq!(by_ext(&msgs, "t1")["text"], "Cho mình hỏi giá");
    assert_eq!(by_ext(&msgs, "t1")["direction"], "in");
    for kind in kinds {
        let m = by_ext(&msgs, &format!("a-{kind}"));
        assert_eq!(m["attachments"][0]["kind"], kind, "{m}");
    }
    assert_eq!(by_ext(&msgs, "bc1")["text"], "Anh Nam");
    let echo = by_ext(&msgs, "e1");
    assert_eq!(echo["direction"], "out");
    assert_eq!(echo["text"], "Dạ 250k ạ");
    assert_eq!(by_ext(&msgs, "e2")["direction"], "out");

    // Receipts: e1 delivered, then e1 and e2 seen.
    app.post_zalo(&oa_event("user_received_message", json!({"msg_id": "e1"})))
        .await;
    app.drain().await;
    let msgs = thread(&owner, &conv).await;
    assert_eq!(by_ext(&msgs, "e1")["status"], "delivered");
    app.post_zalo(&oa_event(
        "user_seen_message",
        json!({"msg_ids": ["e1", "e2"]}),
    ))
    .await;
    // A reaction from the user on the echo.
    app.post_zalo(&user_event(
        "user_reacted_message",
        json!({"msg_id": "e1", "react_icon": "/-heart"}),
    ))
    .await;
    app.drain().await;
    let msgs = thread(&owner, &conv).await;
    assert_eq!(by_ext(&msgs, "e1")["status"], "read");
    assert_eq!(by_ext(&msgs, "e2")["status"], "read");
    assert_eq!(by_ext(&msgs, "e1")["reactions"][USER], "/-heart");

    // The user submits their details: the contact gets the phone and a lead appears.
    let mut info = user_event("user_submit_info", Value::Null);
    info["info"] = json!({"name": "Chị Lan", "phone": "0912345678", "address": "12 Lê Lợi",
        "district": "Quận 1", "city": "Hồ Chí Minh"});
    app.post_zalo(&info).await;
    app.drain().await;
    let conv = the_conversation(&owner).await;
    assert_eq!(conv["contact"]["phone"], "+84912345678");
    assert_eq!(conv["contact"]["name"], "Chị Lan");
    let leads = owner.json("/api/v1/leads").await;
    let items = leads["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{leads:#}");
    assert_eq!(items[0]["phone"], "+84912345678");
    assert_eq!(items[0]["platform"], "zalo");

    // Unfollow and an unknown event: accepted, nothing new in the inbox.
    app.post_zalo(
        &json!({"app_id": ZALO_APP_ID, "oa_id": OA, "event_name": "unfollow",
        "timestamp": now_ms().to_string(), "follower": {"id": USER}}),
    )
    .await;
    app.post_zalo(
        &json!({"app_id": ZALO_APP_ID, "event_name": "shop_has_order",
        "timestamp": now_ms().to_string()}),
    )
    .await;
    app.drain().await;
    let before = msgs.len();
    let msgs = thread(&owner, &the_conversation(&owner).await).await;
    assert_eq!(msgs.len(), before + 1, "only the submitted info was added");
}

#[tokio::test]
async fn bad_and_missing_signatures_are_refused_and_probes_answered() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect_oa(&app, &owner).await;
    let ev = user_event("user_send_text", json!({"msg_id": "x1", "text": "hi"}));
    let body = serde_json::to_vec(&ev).unwrap();
    let ts = ev["timestamp"].as_str().unwrap();

    let res = app.post_zalo_raw(&body, None).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "missing_signature"
    );

    // Signed with the app secret instead of the OA secret key.
    let forged = signature_header(ZALO_APP_ID, &body, ts, "the-app-secret");
    let res = app.post_zalo_raw(&body, Some(&forged)).await;
    assert_eq!(res.status(), 401);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["code"], "bad_signature");
    assert!(out["message"].as_str().unwrap().contains("does not match"));

    let res = app.post_zalo_raw(&body, Some("mac=nothex")).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "malformed_signature"
    );

    // Another app, correctly signed with its own id.
    let mut other = ev.clone();
    other["app_id"] = json!("999");
    let other = serde_json::to_vec(&other).unwrap();
    let sig = signature_header("999", &other, ts, ZALO_OA_SECRET);
    let res = app.post_zalo_raw(&other, Some(&sig)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "wrong_app");

    // Too old: a replay.
    let mut old = ev.clone();
    old["timestamp"] = json!((now_ms() - 2 * 86_400_000).to_string());
    let old_body = serde_json::to_vec(&old).unwrap();
    let sig = signature_header(
        ZALO_APP_ID,
        &old_body,
        old["timestamp"].as_str().unwrap(),
        ZALO_OA_SECRET,
    );
    let res = app.post_zalo_raw(&old_body, Some(&sig)).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "stale_timestamp"
    );

    // The registration probe: unsigned `{}` or nothing → 200, nothing stored.
    for probe in [&b"{}"[..], b""] {
        let res = app.post_zalo_raw(probe, None).await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(stored_events(&app).await, 0);
    app.drain().await;
    assert!(
        owner.json("/api/v1/conversations").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_redelivery_is_stored_once() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect_oa(&app, &owner).await;
    let ev = user_event(
        "user_send_text",
        json!({"msg_id": "r1", "text": "Còn hàng không?"}),
    );
    let first = app.post_zalo(&ev).await;
    assert_eq!(first["duplicate"], false);
    let again = app.post_zalo(&ev).await;
    assert_eq!(again["duplicate"], true);
    assert_eq!(stored_events(&app).await, 1);
    app.drain().await;
    let msgs = thread(&owner, &the_conversation(&owner).await).await;
    assert_eq!(msgs.len(), 1);
}

#[tokio::test]
async fn events_for_an_oa_not_yet_connected_wait_for_it() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.post_zalo(&user_event(
        "user_send_text",
        json!({"msg_id": "early1", "text": "Shop ơi"}),
    ))
    .await;
    app.drain().await;
    assert!(
        owner.json("/api/v1/conversations").await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    connect_oa(&app, &owner).await;
    app.drain().await;
    let msgs = thread(&owner, &the_conversation(&owner).await).await;
    assert_eq!(by_ext(&msgs, "early1")["text"], "Shop ơi");
}
