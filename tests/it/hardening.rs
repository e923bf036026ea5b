//! Retry storms, slow senders and malformed input at the HTTP edge.

use std::collections::HashSet;

use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tongdai::domain::role::Role;
use tongdai::store::entities::{inbound_event, message};
use tongdai_connectors::facebook::sandbox;

use crate::helpers::*;

fn event(i: usize) -> Value {
    json!({"sender":{"id":format!("u{}", i % 7)},"recipient":{"id":"105"},"timestamp":1_718_000_000_000u64 + i as u64,
           "message":{"mid":format!("m_storm_{i}"),"text":format!("tin nhắn {i}")}})
}

fn envelope(events: &[Value]) -> Vec<u8> {
    sandbox::meta_json(
        &json!({"object":"page","entry":[{"id":"105","time":1_718_000_000_000u64,"messaging":events}]}),
    )
}

#[tokio::test]
async fn every_event_delivered_three_times_interleaved_yields_exactly_one_message() {
    let app = spawn_with(Options {
        workers: true,
        ..Default::default()
    })
    .await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    let n = 40;
    let mut bodies: Vec<Vec<u8>> = Vec::new();
    for i in 0..n {
        // 1: alone; 2: the identical bytes again; 3: re-batched with a neighbour (new bytes).
        bodies.push(envelope(&[event(i)]));
        bodies.push(envelope(&[event(i)]));
        bodies.push(envelope(&[event((i + 1) % n), event(i)]));
    }
    // Interleave deterministically but thoroughly: a stride permutation.
    let len = bodies.len();
    let order: Vec<usize> = (0..len).map(|k| (k * 37) % len).collect();
    assert_eq!(order.iter().collect::<HashSet<_>>().len(), len);
    let sends = order.iter().map(|&k| app.post_signed(&bodies[k]));
    // All at once, while the ingest worker runs, plus two extra drainers competing with it.
    let (results, d1, d2) = tokio::join!(
        futures_util::future::join_all(sends),
        app.state_drain(),
        app.state_drain()
    );
    d1.unwrap();
    d2.unwrap();
    assert!(results.iter().all(|r| r.status() == 200));
    // On PostgreSQL the background worker may still hold rows it claimed (SKIP LOCKED): wait
    // until every stored event is applied before counting.
    eventually(|| async {
        app.drain().await;
        let pending = inbound_event::Entity::find()
            .filter(inbound_event::Column::Status.ne("processed"))
            .count(&app.state.db.read)
            .await
            .unwrap();
        (pending == 0).then_some(())
    })
    .await;
    let messages = message::Entity::find()
        .all(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(messages.len(), n, "exactly one message per event");
    let mids: HashSet<String> = messages
        .iter()
        .filter_map(|m| m.external_id.clone())
        .collect();
    assert_eq!(mids.len(), n);
    // Identical bytes were stored once: n singles + n re-batched envelopes.
    assert_eq!(
        inbound_event::Entity::find()
            .count(&app.state.db.read)
            .await
            .unwrap(),
        2 * n as u64
    );
    let page: Value = owner.json("/api/v1/conversations?limit=100").await;
    let unread: i64 = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["unread_count"].as_i64().unwrap())
        .sum();
    assert_eq!(unread, n as i64, "unread counts count each message once");
}

#[tokio::test]
async fn a_slow_sender_times_out_with_408_without_blocking_other_webhooks() {
    let app = spawn_app().await;
    let mut slow = tokio::net::TcpStream::connect(&app.addr).await.unwrap();
    slow.write_all(b"POST /webhooks/facebook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"object\":").await.unwrap();
    // While it dawdles, an ordinary webhook goes through.
    let body = sandbox::messenger_text_body("105", "u1", "m_ok", "hi", 1_718_000_000_000);
    assert_eq!(app.post_signed(&body).await.status(), 200);
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        slow.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"));
    assert_eq!(
        inbound_event::Entity::find()
            .count(&app.state.db.read)
            .await
            .unwrap(),
        1
    );
}

#[tokio::test]
async fn signed_bodies_of_every_odd_shape_are_accepted_and_kept_never_a_5xx() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    let odd: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"null".to_vec(),
        b"[]".to_vec(),
        b"{\"object\":\"page\"}".to_vec(),
        b"{\"object\":\"page\",\"entry\":{}}".to_vec(),
        b"{\"object\":\"page\",\"entry\":[{\"id\":105,\"messaging\":[{\"message\":{\"mid\":7}}]}]}".to_vec(),
        b"{\"object\":\"page\",\"entry\":[{\"id\":\"105\",\"time\":\"abc\",\"messaging\":[{\"sender\":{\"id\":1},\"message\":{\"mid\":\"x\",\"text\":42}}]}]}".to_vec(),
        b"{\"object\":\"instagram\",\"entry\":[]}".to_vec(),
        vec![0xff, 0xfe, 0x00, 0x7b],
        "{\"object\":\"page\",\"entry\":[{\"id\":\"105\",\"time\":1,\"messaging\":[{\"sender\":{\"id\":\"u\"},\"recipient\":{\"id\":\"105\"},\"timestamp\":1,\"message\":{\"mid\":\"m\",\"text\":\"\u{0}\u{202e}😀\"}}]}]}".as_bytes().to_vec(),
        br#"{"object":"page","entry":[{"id":"105","time":1718000000000,"messaging":[{"sender":{"id":"u"},"recipient":{"id":"105"},"timestamp":1718000000000,"unknown_event":{"x":1}}]}]}"#.to_vec(),
    ];
    for body in &odd {
        let r = app.post_signed(body).await;
        assert_eq!(r.status(), 200, "{:?}", String::from_utf8_lossy(body));
    }
    app.drain().await;
    let rows = inbound_event::Entity::find()
        .all(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(rows.len(), odd.len(), "every accepted body is kept");
    assert!(
        rows.iter()
            .all(|r| matches!(r.status.as_str(), "processed" | "failed")),
        "{:?}",
        rows.iter()
            .map(|r| (&r.status, &r.error))
            .collect::<Vec<_>>()
    );
    assert!(
        rows.iter()
            .filter(|r| r.status == "failed")
            .all(|r| r.error.as_deref().is_some_and(|e| !e.is_empty()))
    );
    // The server still works.
    app.customer_says("105", "u1", "m_after", "vẫn chạy").await;
    app.drain().await;
    let page: Value = owner.json("/api/v1/conversations").await;
    assert!(
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["last_message_preview"] == "vẫn chạy")
    );
}
