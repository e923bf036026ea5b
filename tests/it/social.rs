//! Every Meta event shape through the real webhook routes into the inbox: comment threads
//! (add, reply, page reply, edit, hide, remove), Instagram DMs and comments on either route,
//! postbacks, quick replies, referrals, reactions, edits, unsends, standby, and events we do
//! not use. Bodies are written from `shared/specs/social.md` §2–§3, in both id styles.

use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai_connectors::facebook::signature_header;

use crate::helpers::*;

const PAGE: &str = "105123456789012";
const IG: &str = "17841400000000001";

impl TestApp {
    async fn connect(&self, owner: &Agent, platform: &str, id: &str) -> Value {
        let res = owner
            .post(
                "/api/v1/channel-accounts",
                json!({ "platform": platform, "external_id": id, "name": format!("{platform} {id}"), "access_token": "page-token-secret" }),
            )
            .await;
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }
}

fn now_s() -> i64 {
    chrono::Utc::now().timestamp()
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn feed(entry_id: Value, value: Value) -> Value {
    json!({"object": "page", "entry": [{"id": entry_id, "time": now_s(), "changes": [{"field": "feed", "value": value}]}]})
}

fn messaging(object: &str, entry_id: &str, items: Vec<Value>) -> Value {
    json!({"object": object, "entry": [{"id": entry_id, "time": now_ms(), "messaging": items}]})
}

async fn conversations(agent: &Agent) -> Vec<Value> {
    agent.json("/api/v1/conversations").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_comment_thread_collects_replies_edits_hides_and_removals() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    let post = format!("{PAGE}_998877665544332");
    let top = "998877665544332_112233445566778";
    let t = now_s() - 60;

    // A customer comments (v2.11+ `from`), with a phone number and a photo.
    app.post_meta(
        "facebook",
        &feed(
            json!(PAGE),
            json!({"item": "comment", "verb": "add", "post_id": post, "comment_id": top,
                   "parent_id": post, "from": {"id": "7012345678901234", "name": "Nguyễn Văn A"},
                   "created_time": t, "message": "Giá bao nhiêu shop? 0912 345 678 tư vấn em",
                   "photo": "https://scontent.xx.fbcdn.net/c.jpg",
                   "post": {"permalink_url": "https://www.facebook.com/105123456789012/posts/998877665544332"}}),
        ),
    )
    .await;
    // Another person answers in the thread, in the old shape: numeric entry id and sender_id.
    app.post_meta(
        "facebook",
        &feed(
            json!(105123456789012_u64),
            json!({"item": "comment", "verb": "add", "post_id": post,
                   "comment_id": "998877665544332_200", "parent_id": top,
                   "sender_id": 1234567890321_u64, "sender_name": "Trần Thị B",
                   "created_time": t + 1, "message": "Mình cũng hỏi"}),
        ),
    )
    .await;
    // The Page answers (typed on Facebook, not in tongdai).
    app.post_meta(
        "facebook",
        &feed(
            json!(PAGE),
            json!({"item": "comment", "verb": "add", "post_id": post,
                   "comment_id": "998877665544332_300", "parent_id": top,
                   "from": {"id": PAGE, "name": "Shop A"},
                   "created_time": t + 2, "message": "Shop inbox bạn nhé"}),
        ),
    )
    .await;
    // A like on the post and a status update: documented, not used.
    app.post_meta(
        "facebook",
        &feed(
            json!(PAGE),
            json!({"item": "reaction", "verb": "add", "post_id": post, "reaction_type": "like",
                   "from": {"id": "7012345678901234"}, "created_time": t}),
        ),
    )
    .await;
    app.drain().await;

    let convs = conversations(&owner).await;
    assert_eq!(convs.len(), 1, "one thread: {convs:#?}");
    let conv = &convs[0];
    assert_eq!(conv["kind"], "comment_thread");
    assert_eq!(conv["post"]["external_id"], post);
    assert_eq!(
        conv["post"]["permalink"],
        "https://www.facebook.com/105123456789012/posts/998877665544332"
    );
    assert_eq!(conv["contact"]["name"], "Nguyễn Văn A");
    assert_eq!(conv["contact"]["phone"], "+84912345678");
    assert_eq!(conv["unread_count"], 2, "two customer comments");
    let msgs = thread(&owner, conv).await;
    assert_eq!(msgs.len(), 3, "{msgs:#?}");
    let first = by_ext(&msgs, top);
    assert_eq!(first["kind"], "comment");
    assert_eq!(first["direction"], "in");
    assert_eq!(first["attachments"][0]["kind"], "image");
    let second = by_ext(&msgs, "998877665544332_200");
    assert_eq!(second["author_name"], "Trần Thị B");
    assert_eq!(second["author_external_id"], "1234567890321");
    assert_eq!(second["in_reply_to"], top);
    let ours = by_ext(&msgs, "998877665544332_300");
    assert_eq!(ours["direction"], "out");
    assert_eq!(ours["sender_kind"], "page");

    // Edit, hide, unhide, remove: the message changes in place and keeps its history.
    for (verb, extra) in [
        (
            "edited",
            json!({"message": "Giá bao nhiêu shop ơi?", "created_time": t + 10}),
        ),
        ("hide", json!({"created_time": t + 11})),
        ("unhide", json!({"created_time": t + 12})),
        ("hide", json!({"created_time": t + 13})),
        ("remove", json!({})),
    ] {
        let mut v = json!({"item": "comment", "verb": verb, "post_id": post, "comment_id": top,
                           "parent_id": post, "from": {"id": "7012345678901234", "name": "Nguyễn Văn A"}});
        v.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        app.post_meta("facebook", &feed(json!(PAGE), v)).await;
    }
    app.drain().await;
    let msgs = thread(&owner, conv).await;
    assert_eq!(msgs.len(), 3, "nothing deleted: {msgs:#?}");
    let first = by_ext(&msgs, top);
    assert_eq!(first["text"], "Giá bao nhiêu shop ơi?");
    assert!(first["edited_at"].is_string());
    assert_eq!(first["hidden"], true);
    assert!(
        first["removed_at"].is_string(),
        "marked removed: {first:#?}"
    );
    let revs: Value = owner
        .json(&format!(
            "/api/v1/messages/{}/revisions",
            first["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        revs[0]["text"],
        "Giá bao nhiêu shop? 0912 345 678 tư vấn em"
    );
    assert_eq!(revs.as_array().unwrap().len(), 1);

    // A new top-level comment by the same person is a new thread; every event was processed.
    app.post_meta(
        "facebook",
        &feed(
            json!(PAGE),
            json!({"item": "comment", "verb": "add", "post_id": post,
                   "comment_id": "998877665544332_400", "parent_id": post,
                   "from": {"id": "7012345678901234", "name": "Nguyễn Văn A"},
                   "created_time": t + 20, "message": "Còn hàng không?"}),
        ),
    )
    .await;
    app.drain().await;
    assert_eq!(conversations(&owner).await.len(), 2);
    assert_all_processed(&app).await;
}

/// Every stored webhook was applied: none dead-lettered, none unrouted.
async fn assert_all_processed(app: &TestApp) {
    use sea_orm::EntityTrait;
    let rows = tongdai::store::entities::inbound_event::Entity::find()
        .all(&app.state.db.read)
        .await
        .unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(r.status, "processed", "event {}: {:?}", r.id, r.error);
    }
}

#[tokio::test]
async fn instagram_dms_and_comments_route_to_the_instagram_account_on_either_route() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect(&owner, "instagram", IG).await;

    // A DM on /webhooks/instagram.
    app.post_meta(
        "instagram",
        &messaging(
            "instagram",
            IG,
            vec![json!({"sender": {"id": "5614879045272581"}, "recipient": {"id": IG},
                        "timestamp": now_ms(), "message": {"mid": "aWdfZAG1faXRlbToxOklH", "text": "Còn màu đen không?"}})],
        ),
    )
    .await;
    // A comment on /webhooks/facebook (one callback URL for both products), numeric ids.
    app.post_meta(
        "facebook",
        &json!({"object": "instagram", "entry": [{"id": 17841400000000001_u64, "time": now_s(),
            "changes": [{"field": "comments", "value": {"id": 17900000000000042_u64,
                "text": "Ship về Đà Nẵng bao lâu ạ?",
                "from": {"id": "5614879045272581", "username": "lan.nguyen"},
                "media": {"id": "18172143295349192", "media_product_type": "FEED"}}}]}]}),
    )
    .await;
    // The dashboard "Test" button's shape: a messaging item under `changes`.
    app.post_meta(
        "instagram",
        &json!({"object": "instagram", "entry": [{"id": IG, "time": now_ms(),
            "changes": [{"field": "messages", "value": {"sender": {"id": "12334"}, "recipient": {"id": IG},
                "timestamp": now_ms().to_string(), "message": {"mid": "random_mid", "text": "random_text"}}}]}]}),
    )
    .await;
    app.drain().await;

    let convs = conversations(&owner).await;
    assert_eq!(convs.len(), 3, "{convs:#?}");
    assert!(
        convs
            .iter()
            .all(|c| c["channel_account"]["platform"] == "instagram")
    );
    let comment = convs
        .iter()
        .find(|c| c["kind"] == "comment_thread")
        .expect("comment thread");
    assert_eq!(comment["post"]["external_id"], "18172143295349192");
    assert_eq!(comment["contact"]["name"], "lan.nguyen");
    let msgs = thread(&owner, comment).await;
    assert_eq!(msgs[0]["external_id"], "17900000000000042");
    assert_eq!(msgs[0]["text"], "Ship về Đà Nẵng bao lâu ạ?");
    let test_dm = convs
        .iter()
        .find(|c| c["last_message_preview"] == "random_text")
        .expect("dashboard test message stored");
    assert_eq!(test_dm["kind"], "direct");
    assert_all_processed(&app).await;
}

#[tokio::test]
async fn messenger_extras_postbacks_referrals_reactions_edits_unsends_and_standby() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    let psid = "6789012345678901";
    let t = now_ms() - 10_000;
    let from = json!({"id": psid});
    let to = json!({"id": PAGE});

    app.post_meta(
        "facebook",
        &messaging(
            "page",
            PAGE,
            vec![
                // Arrived from an ad (standalone referral), then pressed a button, then tapped a
                // quick reply, then wrote and edited, then unsent another message.
                json!({"sender": from, "recipient": to, "timestamp": t,
                       "referral": {"ref": "spring_sale", "source": "ADS", "type": "OPEN_THREAD", "ad_id": "6045246247433"}}),
                json!({"sender": from, "recipient": to, "timestamp": t + 1,
                       "postback": {"mid": "m_pb1", "title": "Xem giá", "payload": "PRICE_LIST"}}),
                json!({"sender": from, "recipient": to, "timestamp": t + 2,
                       "message": {"mid": "m_qr1", "text": "Size M", "quick_reply": {"payload": "SIZE_M"}}}),
                json!({"sender": from, "recipient": to, "timestamp": t + 3,
                       "message": {"mid": "m_txt", "text": "Giao hôm nay đc ko"}}),
                json!({"sender": from, "recipient": to, "timestamp": t + 4,
                       "message_edit": {"mid": "m_txt", "text": "Giao hôm nay được không?", "num_edit": 1}}),
                json!({"sender": from, "recipient": to, "timestamp": t + 5,
                       "message": {"mid": "m_oops", "text": "nhầm"}}),
                json!({"sender": from, "recipient": to, "timestamp": t + 6,
                       "message": {"mid": "m_oops", "is_deleted": true}}),
                json!({"sender": from, "recipient": to, "timestamp": t + 7,
                       "reaction": {"mid": "m_qr1", "action": "react", "emoji": "\u{2764}", "reaction": "love"}}),
                // Optin and account linking: documented, not used.
                json!({"sender": from, "recipient": to, "timestamp": t + 8, "optin": {"ref": "x"}}),
            ],
        ),
    )
    .await;
    // Standby: another app holds the thread; recorded all the same.
    app.post_meta(
        "facebook",
        &json!({"object": "page", "entry": [{"id": PAGE, "time": t + 9, "standby": [
            {"sender": from, "recipient": to, "timestamp": t + 9, "message": {"mid": "m_sb", "text": "alo"}}]}]}),
    )
    .await;
    app.drain().await;

    let convs = conversations(&owner).await;
    assert_eq!(convs.len(), 1, "{convs:#?}");
    assert_eq!(convs[0]["referral"]["ad_id"], "6045246247433");
    assert_eq!(convs[0]["referral"]["source"], "ADS");
    let msgs = thread(&owner, &convs[0]).await;
    let pb = by_ext(&msgs, "m_pb1");
    assert_eq!(pb["text"], "Xem giá");
    assert_eq!(pb["meta"]["postback"], "PRICE_LIST");
    let qr = by_ext(&msgs, "m_qr1");
    assert_eq!(qr["meta"]["quick_reply"], "SIZE_M");
    assert_eq!(qr["reactions"][psid], "\u{2764}");
    let txt = by_ext(&msgs, "m_txt");
    assert_eq!(txt["text"], "Giao hôm nay được không?");
    assert!(txt["edited_at"].is_string());
    let oops = by_ext(&msgs, "m_oops");
    assert!(oops["removed_at"].is_string());
    assert_eq!(oops["text"], "nhầm", "kept for the record");
    assert_eq!(by_ext(&msgs, "m_sb")["meta"]["standby"], true);

    // Taking the reaction back clears it.
    app.post_meta(
        "facebook",
        &messaging(
            "page",
            PAGE,
            vec![json!({"sender": from, "recipient": to, "timestamp": t + 20,
                        "reaction": {"mid": "m_qr1", "action": "unreact"}})],
        ),
    )
    .await;
    app.drain().await;
    let msgs = thread(&owner, &convs[0]).await;
    assert!(by_ext(&msgs, "m_qr1")["reactions"].is_null());
    assert_all_processed(&app).await;
}

#[tokio::test]
async fn every_fixture_on_both_routes_is_applied_once_and_nothing_is_dead_lettered() {
    use sea_orm::EntityTrait;
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    app.connect_page(&owner, "209876543210987").await;
    app.connect_page(&owner, "12345654332").await;
    app.connect(&owner, "instagram", IG).await;
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/connectors/fixtures");
    let mut files: Vec<_> = ["facebook", "instagram"]
        .iter()
        .flat_map(|d| std::fs::read_dir(format!("{root}/{d}")).unwrap())
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 40, "fixtures: {}", files.len());
    // Each body on both routes (one app may register one URL for both products): stored
    // twice, applied once.
    for route in ["facebook", "instagram"] {
        for f in &files {
            let bytes = std::fs::read(f).unwrap();
            let res = app
                .http
                .post(app.url(&format!("/webhooks/{route}")))
                .header("content-type", "application/json")
                .header("x-hub-signature-256", signature_header(APP_SECRET, &bytes))
                .body(bytes)
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{} on {route}", f.display());
        }
        app.drain().await;
    }
    let rows = tongdai::store::entities::inbound_event::Entity::find()
        .all(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(rows.len(), files.len() * 2);
    for r in &rows {
        // The dashboard "Test" button names account "0", which no shop has: kept, unrouted.
        let test_event = r.error.as_deref().is_some_and(|e| e.contains(" 0"));
        let want = if test_event { "unrouted" } else { "processed" };
        assert_eq!(r.status, want, "event {}: {:?}", r.id, r.error);
    }
    let messages = tongdai::store::entities::message::Entity::find()
        .all(&app.state.db.read)
        .await
        .unwrap();
    let mut ids: Vec<_> = messages
        .iter()
        .map(|m| (m.channel_account_id, m.external_id.clone()))
        .collect();
    let n = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), n, "every message stored once");
    assert!(n >= 30, "messages and comments stored: {n}");
    assert!(messages.iter().any(|m| m.kind == "comment"));
    assert!(messages.iter().any(|m| m.removed_at.is_some()));
    assert!(messages.iter().any(|m| m.edited_at.is_some()));
}
