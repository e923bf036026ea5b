//! The webhook hot path: handshake, signatures, duplicates, dead letters, unknown accounts.

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::store::entities::{inbound_event, message};
use tongdai_connectors::facebook::sandbox;

use crate::helpers::*;

async fn stored_events(app: &TestApp) -> u64 {
    inbound_event::Entity::find()
        .count(&app.state.db.read)
        .await
        .unwrap()
}

#[tokio::test]
async fn handshake_echoes_the_challenge_only_for_the_right_token() {
    let app = spawn_app().await;
    let ok = app.http.get(app.url(&format!("/webhooks/facebook?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444"))).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "1158201444");
    let bad = app
        .http
        .get(app.url("/webhooks/facebook?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["code"], "bad_verify_token");
}

#[tokio::test]
async fn webhook_with_good_signature_is_stored_and_bad_or_missing_is_refused_with_401() {
    let app = spawn_app().await;
    let body = sandbox::messenger_text_body("105", "u1", "m_1", "Xin chào", 1_718_000_000_000);
    let good = app.post_signed(&body).await;
    assert_eq!(good.status(), 200);
    assert_eq!(stored_events(&app).await, 1);

    let tampered = app
        .http
        .post(app.url("/webhooks/facebook"))
        .header(
            "x-hub-signature-256",
            tongdai_connectors::facebook::signature_header("wrong-secret", &body),
        )
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(tampered.status(), 401);
    let reason: Value = tampered.json().await.unwrap();
    assert_eq!(reason["code"], "bad_signature");

    let unsigned = app
        .http
        .post(app.url("/webhooks/facebook"))
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), 401);
    let reason: Value = unsigned.json().await.unwrap();
    assert_eq!(reason["code"], "missing_signature");
    assert_eq!(
        stored_events(&app).await,
        1,
        "refused webhooks store nothing"
    );

    let unknown = app
        .http
        .post(app.url("/webhooks/myspace"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn duplicate_delivery_is_acknowledged_and_stored_once() {
    let app = spawn_app().await;
    let owner = app.user("owner@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    let body = sandbox::messenger_text_body(
        "105",
        "u1",
        "m_dup",
        "Còn hàng không shop?",
        1_718_000_000_000,
    );
    let (a, b) = tokio::join!(app.post_signed(&body), app.post_signed(&body));
    assert_eq!(a.status(), 200);
    assert_eq!(b.status(), 200);
    let third: Value = app.post_signed(&body).await.json().await.unwrap();
    assert_eq!(third["duplicate"], true);
    app.drain().await;
    assert_eq!(stored_events(&app).await, 1);
    assert_eq!(
        message::Entity::find()
            .count(&app.state.db.read)
            .await
            .unwrap(),
        1
    );
}

/// New bodies, their copies and bodies stored before, sent at once (so batches mix them):
/// each new body is answered `duplicate: false` exactly once and stored once; every copy and
/// every body stored before is answered `duplicate: true`.
#[tokio::test]
async fn a_batch_mixing_new_bodies_copies_and_old_ones_tells_each_apart() {
    let app = spawn_app().await;
    let body = |i: i64| {
        sandbox::messenger_text_body(
            "105",
            "u1",
            &format!("m_mix{i}"),
            "hi",
            1_718_000_000_000 + i,
        )
    };
    for i in 0..5 {
        assert_eq!(app.post_signed(&body(i)).await.status(), 200);
    }
    // 5 old, 20 new, each new twice: 45 requests.
    let sent: Vec<(i64, Vec<u8>)> = (0..5)
        .chain(5..25)
        .chain(5..25)
        .map(|i| (i, body(i)))
        .collect();
    let app = &app;
    let answers = futures_util::future::join_all(sent.iter().map(|(i, b)| async move {
        let res = app.post_signed(b).await;
        assert_eq!(res.status(), 200);
        let v: Value = res.json().await.unwrap();
        (*i, v["duplicate"].as_bool().unwrap())
    }))
    .await;
    for i in 0..25 {
        let fresh = answers.iter().filter(|(j, dup)| *j == i && !dup).count();
        assert_eq!(fresh, usize::from(i >= 5), "body {i}: {answers:?}");
    }
    assert_eq!(stored_events(app).await, 25);
}

#[tokio::test]
async fn concurrent_webhooks_share_batches_and_are_all_durable() {
    let app = spawn_app().await;
    let bodies: Vec<Vec<u8>> = (0..60)
        .map(|i| {
            sandbox::messenger_text_body(
                "105",
                "u1",
                &format!("m_{i}"),
                "hi",
                1_718_000_000_000 + i,
            )
        })
        .collect();
    let results = futures_util::future::join_all(bodies.iter().map(|b| app.post_signed(b))).await;
    assert!(results.iter().all(|r| r.status() == 200));
    assert_eq!(stored_events(&app).await, 60);
}

#[tokio::test]
async fn malformed_signed_body_is_dead_lettered_listed_and_replayed() {
    let app = spawn_app().await;
    let owner = app.user("owner@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    // Signed correctly, but a message without "mid" is not what Meta documents.
    let body = br#"{"object":"page","entry":[{"id":"105","time":1718000000000,"messaging":[{"sender":{"id":"u1"},"recipient":{"id":"105"},"timestamp":1718000000000,"message":{"text":"no mid"}}]}]}"#;
    assert_eq!(
        app.post_signed(body).await.status(),
        200,
        "accepted: the bytes are durable"
    );
    let garbage = b"this is not json";
    assert_eq!(app.post_signed(garbage).await.status(), 200);
    app.drain().await;

    let failed: Vec<Value> = owner
        .json("/api/v1/inbound-events?status=failed")
        .await
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        failed.len(),
        2,
        "the first user is instance admin and sees both: {failed:?}"
    );
    let ours = failed
        .iter()
        .find(|e| e["body"].as_str().unwrap().contains("no mid"))
        .unwrap();
    assert!(ours["error"].as_str().unwrap().contains("mid"), "{ours}");
    assert_eq!(ours["attempts"], 1);

    // Replay: the event is parsed again (and, the parser being unchanged, fails again).
    let id = ours["id"].as_i64().unwrap();
    assert_eq!(
        owner
            .post(&format!("/api/v1/inbound-events/{id}/replay"), json!({}))
            .await
            .status(),
        202
    );
    app.drain().await;
    let row = inbound_event::Entity::find_by_id(id)
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.status.as_str(), row.attempts), ("failed", 2));

    // After a fix (here: the corrected body an operator re-imports), replay processes it.
    let fixed = sandbox::messenger_text_body("105", "u1", "m_fixed", "no mid", 1_718_000_000_000);
    use sea_orm::{ActiveModelTrait, ActiveValue::Set};
    let mut am: inbound_event::ActiveModel = row.into();
    am.body = Set(fixed);
    am.update(&app.state.db.write).await.unwrap();
    assert_eq!(
        tongdai::services::events::requeue_failed(&app.state.db, &[id])
            .await
            .unwrap(),
        1
    );
    app.drain().await;
    let row = inbound_event::Entity::find_by_id(id)
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "processed");
    assert_eq!(
        message::Entity::find()
            .filter(message::Column::ExternalId.eq("m_fixed"))
            .count(&app.state.db.read)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn events_for_an_unknown_page_are_kept_and_applied_once_it_is_connected() {
    let app = spawn_app().await;
    let owner = app.user("owner@a.vn", Role::Owner, "Shop A").await;
    app.customer_says("999", "u9", "m_early", "Ai trực page không?")
        .await;
    app.drain().await;
    let row = inbound_event::Entity::find()
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "unrouted");
    app.connect_page(&owner, "999").await;
    app.drain().await;
    let page: Value = owner.json("/api/v1/conversations").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        page["items"][0]["last_message_preview"],
        "Ai trực page không?"
    );
}

#[tokio::test]
async fn a_batch_with_entries_for_several_pages_reaches_each_workspace() {
    let app = spawn_app().await;
    let a = app.user("a@a.vn", Role::Owner, "Shop A").await;
    let b = app.user("b@b.vn", Role::Owner, "Shop B").await;
    app.connect_page(&a, "111").await;
    app.connect_page(&b, "222").await;
    let body = sandbox::meta_json(&json!({"object":"page","entry":[
        {"id":"111","time":1718000000000u64,"messaging":[{"sender":{"id":"u1"},"recipient":{"id":"111"},"timestamp":1718000000000u64,"message":{"mid":"m_a","text":"cho A"}}]},
        {"id":"222","time":1718000000000u64,"messaging":[{"sender":{"id":"u2"},"recipient":{"id":"222"},"timestamp":1718000000000u64,"message":{"mid":"m_b","text":"cho B"}}]}
    ]}));
    assert_eq!(app.post_signed(&body).await.status(), 200);
    app.drain().await;
    let pa: Value = a.json("/api/v1/conversations").await;
    let pb: Value = b.json("/api/v1/conversations").await;
    assert_eq!(pa["items"][0]["last_message_preview"], "cho A");
    assert_eq!(pb["items"][0]["last_message_preview"], "cho B");
    assert_eq!(pa["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn oversized_webhook_is_refused() {
    let app = spawn_app().await;
    let body = vec![b' '; 1024 * 1024 + 10];
    let res = app.post_signed(&body).await;
    assert_eq!(res.status(), 413);
    assert_eq!(stored_events(&app).await, 0);
}

#[tokio::test]
async fn events_for_a_disabled_account_are_kept_and_applied_when_it_is_enabled_again() {
    let app = spawn_app().await;
    let owner = app.user("owner@a.vn", Role::Owner, "Shop A").await;
    let acc = app.connect_page(&owner, "105").await;
    let id = acc["id"].as_str().unwrap();
    assert_eq!(
        owner
            .post(&format!("/api/v1/channel-accounts/{id}/disable"), json!({}))
            .await
            .status(),
        200
    );
    app.customer_says("105", "u1", "m_while_off", "Alo?").await;
    app.drain().await;
    let page: Value = owner.json("/api/v1/conversations").await;
    assert!(page["items"].as_array().unwrap().is_empty());
    assert_eq!(
        owner
            .patch(
                &format!("/api/v1/channel-accounts/{id}"),
                json!({"status":"active"})
            )
            .await
            .status(),
        200
    );
    app.drain().await;
    let page: Value = owner.json("/api/v1/conversations").await;
    assert_eq!(page["items"][0]["last_message_preview"], "Alo?");
}
