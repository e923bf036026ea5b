//! Two nodes on one PostgreSQL and one Redis: a webhook on node A reaches a websocket on node
//! B, and a job runs once. Runs when `TONGDAI_TEST_DATABASE_URL` (postgres) and
//! `TONGDAI_TEST_REDIS_URL` are both set.

use serde_json::{Value, json};
use tongdai::domain::role::Role;

use crate::helpers::*;

fn enabled() -> Option<String> {
    // Two nodes only share state on PostgreSQL.
    std::env::var("TONGDAI_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))?;
    std::env::var("TONGDAI_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

#[tokio::test]
async fn a_webhook_on_node_a_reaches_a_websocket_on_node_b_and_a_job_runs_once() {
    let Some(redis) = enabled() else {
        eprintln!("skipped: set TONGDAI_TEST_DATABASE_URL=postgres://… and TONGDAI_TEST_REDIS_URL");
        return;
    };
    let a = spawn_with(Options {
        workers: true,
        redis: Some(redis.clone()),
        ..Default::default()
    })
    .await;
    let b = spawn_with(Options {
        workers: true,
        redis: Some(redis),
        database: Some((a.db_url.clone(), a.schema.clone())),
        graph: Some(a.graph.clone()),
    })
    .await;
    let owner_a = a.user("o@a.vn", Role::Owner, "Shop A").await;
    a.connect_page(&owner_a, "105").await;
    let owner_b = b.login("o@a.vn").await;
    let mut ws_b = b.ws(&owner_b, None).await;
    assert_eq!(next_frame(&mut ws_b).await["type"], "hello");

    // Agents on both nodes; webhooks spread over both nodes.
    let mut sockets = vec![ws_b];
    for node in [&a, &b, &a] {
        let agent = node.login("o@a.vn").await;
        let mut ws = node.ws(&agent, None).await;
        assert_eq!(next_frame(&mut ws).await["type"], "hello");
        sockets.push(ws);
    }
    let n = 20;
    for i in 0..n {
        let node = if i % 2 == 0 { &a } else { &b };
        node.customer_says(
            "105",
            &format!("psid-{}", i % 3),
            &format!("m_cross_{i}"),
            &format!("tin {i}"),
        )
        .await;
    }
    for ws in sockets.iter_mut() {
        let mut texts = Vec::new();
        let mut last_seq = 0u64;
        while texts.len() < n {
            let f = next_frame(ws).await;
            assert_ne!(f["type"], "resync");
            let seq = f["seq"].as_u64().unwrap();
            assert!(seq > last_seq, "frames in seq order");
            last_seq = seq;
            if f["type"] == "message.created" {
                texts.push(f["data"]["message"]["text"].as_str().unwrap().to_owned());
            }
        }
        texts.sort();
        texts.dedup();
        assert_eq!(texts.len(), n, "every agent sees every event once");
    }

    let page: Value = owner_b.json("/api/v1/conversations").await;
    let conv = page["items"][0]["id"].as_str().unwrap().to_owned();
    for i in 0..5 {
        let r = owner_b
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                json!({ "text": format!("trả lời {i}") }),
            )
            .await;
        assert_eq!(r.status(), 202);
    }
    // Both nodes' workers compete for the jobs; each reply is sent exactly once.
    let _ = tokio::join!(a.run_jobs(), b.run_jobs());
    let sent = eventually(|| async {
        let s = a.graph.sent_messages();
        (s.len() >= 5).then_some(s)
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let sent_after = a.graph.sent_messages();
    assert_eq!(sent_after.len(), 5, "no reply sent twice: {sent_after:?}");
    let mut texts: Vec<String> = sent.iter().map(|m| m.text.clone()).collect();
    texts.sort();
    assert_eq!(
        texts,
        (0..5).map(|i| format!("trả lời {i}")).collect::<Vec<_>>()
    );
}
