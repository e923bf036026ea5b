//! The websocket: live frames after commit, catch-up with `since`, workers running for real.

use serde_json::Value;
use tongdai::domain::role::Role;

use crate::helpers::*;

#[tokio::test]
async fn a_customer_message_reaches_a_connected_websocket() {
    // Real workers: nothing is drained by hand.
    let app = spawn_with(Options {
        workers: true,
        ..Default::default()
    })
    .await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    let mut ws = app.ws(&owner, None).await;
    let hello = next_frame(&mut ws).await;
    assert_eq!(hello["type"], "hello");
    app.customer_says("105", "u1", "m_live", "Shop ơi, áo này còn size M không?")
        .await;
    let f = frame_of(&mut ws, "message.created").await;
    assert_eq!(
        f["data"]["message"]["text"],
        "Shop ơi, áo này còn size M không?"
    );
    assert_eq!(f["data"]["message"]["direction"], "in");
    assert_eq!(f["data"]["conversation"]["unread_count"], 1);
    assert!(f["seq"].as_u64().unwrap() > hello["seq"].as_u64().unwrap());
}

#[tokio::test]
async fn a_reconnect_with_since_misses_nothing() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    let mut ws = app.ws(&owner, None).await;
    next_frame(&mut ws).await; // hello
    app.customer_says("105", "u1", "m_1", "một").await;
    app.drain().await;
    let first = frame_of(&mut ws, "message.created").await;
    let since = first["seq"].as_u64().unwrap();
    drop(ws);

    // While disconnected: two more messages.
    app.customer_says("105", "u1", "m_2", "hai").await;
    app.customer_says("105", "u2", "m_3", "ba").await;
    app.drain().await;

    let mut ws = app.ws(&owner, Some(since)).await;
    assert_eq!(next_frame(&mut ws).await["type"], "hello");
    let mut texts = Vec::new();
    let mut seqs = Vec::new();
    while texts.len() < 2 {
        let f = next_frame(&mut ws).await;
        assert_ne!(f["type"], "resync");
        seqs.push(f["seq"].as_u64().unwrap());
        if f["type"] == "message.created" {
            texts.push(f["data"]["message"]["text"].as_str().unwrap().to_owned());
        }
    }
    assert_eq!(texts, vec!["hai", "ba"]);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order: {seqs:?}");
    assert!(seqs[0] > since);
}

#[tokio::test]
async fn a_client_too_far_behind_gets_resync() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let mut ws = app.ws(&owner, Some(1)).await;
    assert_eq!(next_frame(&mut ws).await["type"], "hello");
    let f: Value = next_frame(&mut ws).await;
    assert_eq!(f["type"], "resync");
}

#[tokio::test]
async fn the_websocket_requires_a_session_and_the_same_origin() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let req = format!("ws://{}/api/ws", app.addr)
        .into_client_request()
        .unwrap();
    assert!(
        tokio_tungstenite::connect_async(req).await.is_err(),
        "no cookie, no socket"
    );
    let mut req = format!("ws://{}/api/ws", app.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", owner.cookie.parse().unwrap());
    req.headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    assert!(
        tokio_tungstenite::connect_async(req).await.is_err(),
        "foreign origin refused"
    );
}
