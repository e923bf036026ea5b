//! Crash safety: the release server is killed with SIGKILL at random moments while many
//! clients send signed webhooks and agents reply; after each restart, every webhook that got a
//! 2xx must be in the inbox exactly once, every accepted reply must reach the platform exactly
//! once, and SQLite's `integrity_check` must pass.
//!
//! Run by `.ci/run` (20 kills): `cargo test --release --test it crash -- --ignored`.
//! Longer run: `TONGDAI_CRASH_KILLS=100 cargo test --release --test it crash -- --ignored --nocapture`.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sea_orm::{ConnectionTrait, Database, DbBackend, Statement};
use serde_json::{Value, json};
use tongdai_connectors::facebook::sandbox::{self, GraphSandbox};
use tongdai_connectors::facebook::signature_header;

use crate::helpers::{APP_SECRET, TempDir};

const PAGE: &str = "105000000000777";

struct Server {
    child: Child,
    base: String,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn env_cmd(dir: &std::path::Path, db: &str, graph: &str) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tongdai"));
    c.env("TONGDAI_DATA_DIR", dir)
        .env("TONGDAI_DATABASE_URL", db)
        .env("TONGDAI_FACEBOOK_APP_SECRET", APP_SECRET)
        .env("TONGDAI_FACEBOOK_GRAPH_URL", graph)
        .env("TONGDAI_LOG", "error")
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

async fn start(dir: &std::path::Path, db: &str, graph: &str, http: &reqwest::Client) -> Server {
    let base = format!("http://127.0.0.1:{}", free_port());
    let child = env_cmd(dir, db, graph)
        .env("TONGDAI_LISTEN", base.trim_start_matches("http://"))
        .spawn()
        .expect("start tongdai");
    for _ in 0..500 {
        if let Ok(r) = http.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return Server { child, base };
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    panic!("server did not become ready");
}

fn kill(mut s: Server) {
    s.child.kill().expect("SIGKILL"); // std's kill() is SIGKILL on Unix
    let _ = s.child.wait();
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[tokio::test]
#[ignore = "needs the release binary; run by .ci/run with --release --ignored"]
async fn acknowledged_webhooks_and_replies_survive_sigkill_exactly_once() {
    let kills: usize = std::env::var("TONGDAI_CRASH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let dir = TempDir(std::env::temp_dir().join(format!(
        "tongdai-crash-{}",
        tongdai::crypto::random_token(6)
    )));
    std::fs::create_dir_all(&dir.0).unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.0.join("crash.db").display());
    let graph = GraphSandbox::start(Some(APP_SECRET.to_owned()))
        .await
        .unwrap();
    // Sends take effect at once but answer late: kills land between effect and answer.
    graph.set_response_delay(Duration::from_millis(250));
    let graph_url = graph.base_url();
    let out = env_cmd(&dir.0, &db, &graph_url)
        .args([
            "user",
            "add",
            "--email",
            "o@crash.vn",
            "--password",
            "crash-pass-1",
            "--role",
            "owner",
            "--workspace",
            "Crash",
        ])
        .status()
        .unwrap();
    assert!(out.success());

    let http = reqwest::Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let mut server = start(&dir.0, &db, &graph_url, &http).await;
    let me: Value = http
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&json!({"email":"o@crash.vn","password":"crash-pass-1"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let csrf = me["csrf_token"].as_str().unwrap().to_owned();
    let r = http.post(format!("{}/api/v1/channel-accounts", server.base)).header("x-csrf-token", &csrf)
        .json(&json!({"platform":"facebook","external_id":PAGE,"name":"Crash page","access_token":"tok"})).send().await.unwrap();
    assert_eq!(r.status(), 201);

    let acked: Arc<Mutex<HashSet<String>>> = Arc::default();
    let replies: Arc<Mutex<Vec<String>>> = Arc::default();
    let counter = Arc::new(AtomicU64::new(0));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ chrono::Utc::now().timestamp_micros() as u64);
    let mut forced = 0u64;

    for cycle in 0..kills {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for client in 0..16 {
            let (http, base, stop, acked, counter) = (
                reqwest::Client::new(),
                server.base.clone(),
                stop.clone(),
                acked.clone(),
                counter.clone(),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let n = counter.fetch_add(1, Ordering::Relaxed);
                    let mid = format!("m_crash_{n}");
                    let body = sandbox::messenger_text_body(
                        PAGE,
                        &format!("psid{}", client % 5),
                        &mid,
                        &format!("tin {n}"),
                        // Now-ish: the customer's messages keep Messenger's reply window open.
                        chrono::Utc::now().timestamp_millis() + n as i64,
                    );
                    let res = http
                        .post(format!("{base}/webhooks/facebook"))
                        .header("x-hub-signature-256", signature_header(APP_SECRET, &body))
                        .body(body)
                        .send()
                        .await;
                    match res {
                        Ok(r) if r.status().is_success() => {
                            acked.lock().unwrap().insert(mid);
                        }
                        Ok(r) => panic!("unexpected status {}", r.status()),
                        Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
                    }
                }
            }));
        }
        // An agent replies while the webhooks flow.
        let reply = async {
            let page: Value = match http
                .get(format!("{}/api/v1/conversations?limit=5", server.base))
                .send()
                .await
            {
                Ok(r) => r.json().await.unwrap_or(Value::Null),
                Err(_) => Value::Null,
            };
            let conv = page["items"].get(0).and_then(|c| c["id"].as_str())?;
            let marker = format!("trả lời #{cycle}");
            let r = http
                .post(format!(
                    "{}/api/v1/conversations/{conv}/messages",
                    server.base
                ))
                .header("x-csrf-token", &csrf)
                .json(&json!({"text": marker}))
                .send()
                .await
                .ok()?;
            (r.status() == 202).then_some(marker)
        };
        tokio::time::sleep(Duration::from_millis(50 + rng.next() % 150)).await;
        let marker = reply.await;
        if let Some(m) = &marker {
            replies.lock().unwrap().push(m.clone());
        }
        if cycle % 3 == 1 && marker.is_some() {
            // Kill exactly while the platform holds the send: its job must run again after restart.
            let m = marker.clone().unwrap();
            for _ in 0..200 {
                if graph.sent_messages().iter().any(|s| s.text == m) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            forced += 1;
        } else {
            tokio::time::sleep(Duration::from_millis(rng.next() % 400)).await;
        }
        kill(server);
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await.unwrap();
        }
        server = start(&dir.0, &db, &graph_url, &http).await;
    }

    // Let the last incarnation finish the backlog.
    let conn = Database::connect(&db).await.unwrap();
    let acked: HashSet<String> = acked.lock().unwrap().clone();
    let replies: Vec<String> = replies.lock().unwrap().clone();
    let count = |sql: &'static str| {
        let conn = conn.clone();
        async move {
            let row = conn
                .query_one_raw(Statement::from_string(DbBackend::Sqlite, sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<i64>(0).unwrap()
        }
    };
    for _ in 0..1500 {
        let pending = count("SELECT COUNT(*) FROM inbound_event WHERE status = 'pending'").await
            + count("SELECT COUNT(*) FROM job WHERE status IN ('pending','running')").await;
        if pending == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    kill(server);

    let ok = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check",
        ))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ok.try_get_by_index::<String>(0).unwrap(), "ok");
    let rows = conn
        .query_all_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT external_id FROM message WHERE direction = 'in'",
        ))
        .await
        .unwrap();
    let stored: Vec<String> = rows
        .iter()
        .map(|r| r.try_get_by_index::<String>(0).unwrap())
        .collect();
    let unique: HashSet<&String> = stored.iter().collect();
    assert_eq!(unique.len(), stored.len(), "a message stored twice");
    let missing: Vec<&String> = acked.iter().filter(|m| !unique.contains(m)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged webhooks lost, e.g. {:?}",
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>()
    );

    let sent = graph.sent_messages();
    // The reply half of the test must not pass by having nothing to check.
    assert!(
        replies.len() >= kills / 2,
        "only {} of {kills} replies were accepted",
        replies.len()
    );
    for r in &replies {
        let n = sent.iter().filter(|s| &s.text == r).count();
        assert_eq!(n, 1, "reply {r:?} reached the platform {n} times");
        let st = conn
            .query_one_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "SELECT status FROM message WHERE text = ?",
                [r.clone().into()],
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            st.try_get_by_index::<String>(0).unwrap(),
            "sent",
            "reply {r:?}"
        );
    }
    assert!(
        graph.duplicate_sends() >= 1 || forced == 0,
        "a reply killed in flight was never retried"
    );
    eprintln!(
        "crash test: {kills} kills, {} webhooks acknowledged and all present, {} replies sent once each ({} resent after a crash and deduplicated by idempotency key)",
        acked.len(),
        replies.len(),
        graph.duplicate_sends()
    );
}
