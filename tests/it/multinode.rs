//! Two nodes as two OS processes: `tongdai serve` twice (the built binary), on one PostgreSQL
//! schema and one Redis, with the Graph sandbox as the Facebook API. Webhooks and agents are
//! spread over both nodes; every agent sees every event once, in `seq` order with no gap, and
//! every reply, whichever node it was sent through, reaches the platform once. Runs when
//! `TONGDAI_TEST_DATABASE_URL` (postgres) and `TONGDAI_TEST_REDIS_URL` are both set.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tongdai::services::jobs;
use tongdai::store::entities::job;
use tongdai_connectors::facebook::sandbox::{self, GraphSandbox};
use tongdai_connectors::facebook::signature_header;

use crate::helpers::*;

const WORKSPACE: &str = "Shop A";
const OWNER: &str = "o@a.vn";
const PAGE: &str = "105";

fn enabled() -> Option<String> {
    // Two nodes only share state on PostgreSQL.
    std::env::var("TONGDAI_TEST_DATABASE_URL")
        .ok()
        .filter(|u| u.starts_with("postgres"))?;
    std::env::var("TONGDAI_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

/// The test's PostgreSQL schema, dropped when the test ends (however it ends).
struct Schema {
    url: String,
    name: String,
}

impl Schema {
    /// The URL the server processes get: the schema as their search path.
    fn node_url(&self) -> String {
        let sep = if self.url.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-c%20search_path%3D{}", self.url, self.name)
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Drop may run while the test's runtime unwinds a panic: use a runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sea_orm::{ConnectionTrait, Database};
                if let Ok(db) = Database::connect(&url).await {
                    let _ = db
                        .execute_unprepared(&format!("DROP SCHEMA \"{name}\" CASCADE"))
                        .await;
                }
            });
        })
        .join();
    }
}

/// `tongdai …` with a clean `TONGDAI_*` environment: only what a node of this test needs.
fn tongdai(dir: &Path, db_url: &str, redis: &str, graph: &GraphSandbox) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_tongdai"));
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TONGDAI_") {
            c.env_remove(k);
        }
    }
    c.current_dir(dir)
        .env("TONGDAI_CONFIG", dir.join("absent.toml"))
        .env("TONGDAI_DATA_DIR", dir)
        .env("TONGDAI_DATABASE_URL", db_url)
        .env("TONGDAI_REDIS_URL", redis)
        .env("TONGDAI_WORKERS", "true")
        // Both nodes must open the Page token the other sealed.
        .env("TONGDAI_SECRET_KEY", "ab".repeat(32))
        .env("TONGDAI_FACEBOOK_APP_SECRET", APP_SECRET)
        .env("TONGDAI_FACEBOOK_VERIFY_TOKEN", VERIFY_TOKEN)
        .env("TONGDAI_FACEBOOK_GRAPH_URL", graph.base_url())
        .env("TONGDAI_LOGIN_PER_MINUTE_IP", "10000")
        .env("TONGDAI_LOGIN_PER_MINUTE_ACCOUNT", "10000")
        .env("TONGDAI_LOG", "warn")
        .stdin(Stdio::null());
    c
}

/// One `tongdai serve` process, killed when dropped (on every exit path, panics included).
struct Node {
    child: Child,
    addr: String,
    log: PathBuf,
    http: reqwest::Client,
    _dir: TempDir,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Node {
    fn start(name: &str, db_url: &str, redis: &str, graph: &GraphSandbox) -> Node {
        let dir = TempDir(std::env::temp_dir().join(format!(
            "tongdai-{name}-{}",
            tongdai::crypto::random_token(6)
                .to_lowercase()
                .replace(['-', '_'], "x")
        )));
        std::fs::create_dir_all(&dir.0).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let addr = format!("127.0.0.1:{port}");
        let log = dir.0.join("server.log");
        let out = std::fs::File::create(&log).unwrap();
        let child = tongdai(&dir.0, db_url, redis, graph)
            .arg("serve")
            .env("TONGDAI_LISTEN", &addr)
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .expect("start tongdai serve");
        Node {
            child,
            addr,
            log,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    async fn wait_ready(&mut self) {
        for _ in 0..1500 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "node {} exited ({status}):\n{}",
                    self.addr,
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(r) = self.http.get(self.url("/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "node {} not ready:\n{}",
            self.addr,
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn login(&self, email: &str) -> Agent {
        login_at(&self.addr, email).await
    }

    async fn ws(&self, agent: &Agent) -> Ws {
        ws_at(&self.addr, agent, None).await
    }

    async fn customer_says(&self, psid: &str, mid: &str, text: &str) {
        let ts = chrono::Utc::now().timestamp_millis();
        let body = sandbox::messenger_text_body(PAGE, psid, mid, text, ts);
        let res = self
            .http
            .post(self.url("/webhooks/facebook"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature_header(APP_SECRET, &body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "webhook on {}", self.addr);
    }
}

/// `tongdai user add` (the first one also creates the schema's tables).
fn user_add(db_url: &str, redis: &str, graph: &GraphSandbox, email: &str, role: &str) {
    let dir = std::env::temp_dir();
    let out = tongdai(&dir, db_url, redis, graph)
        .args(["user", "add", "--email", email, "--password", PASSWORD])
        .args(["--role", role, "--workspace", WORKSPACE])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "user add {email}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// One agent's websocket, checking every frame against the ones before it.
struct Feed {
    ws: Ws,
    /// Sequence number of the last frame (`hello` first).
    last: u64,
    /// Whether a frame after `hello` has arrived (from then on, numbers have no gap).
    live: bool,
}

impl Feed {
    async fn open(node: &Node, agent: &Agent) -> Feed {
        let mut ws = node.ws(agent).await;
        let hello = next_frame(&mut ws).await;
        assert_eq!(hello["type"], "hello");
        Feed {
            ws,
            last: hello["seq"].as_u64().unwrap(),
            live: false,
        }
    }

    /// The next frame: never `resync`, numbered after the previous one, and once live, exactly
    /// the next number of the workspace's sequence (no frame lost, none repeated).
    async fn next(&mut self) -> Value {
        let f = next_frame(&mut self.ws).await;
        assert_ne!(f["type"], "resync", "no agent falls behind");
        let seq = f["seq"].as_u64().unwrap();
        assert!(
            seq > self.last,
            "frames in seq order: {seq} after {}",
            self.last
        );
        if self.live {
            assert_eq!(seq, self.last + 1, "no frame missing before {f}");
        }
        self.last = seq;
        self.live = true;
        f
    }
}

#[tokio::test]
async fn two_server_processes_deliver_every_event_once_in_order_and_send_each_reply_once() {
    let Some(redis) = enabled() else {
        eprintln!("skipped: set TONGDAI_TEST_DATABASE_URL=postgres://… and TONGDAI_TEST_REDIS_URL");
        return;
    };
    let graph = GraphSandbox::start(Some(APP_SECRET.to_owned()))
        .await
        .unwrap();
    let (url, name) = test_database(&std::env::temp_dir()).await;
    // Declared before the nodes, so it drops after them: processes first, then the schema.
    let schema = Schema {
        url,
        name: name.expect("PostgreSQL gives each test a schema"),
    };
    let db_url = schema.node_url();
    user_add(&db_url, &redis, &graph, OWNER, "owner");
    for i in 0..4 {
        user_add(&db_url, &redis, &graph, &format!("a{i}@a.vn"), "agent");
    }
    let mut a = Node::start("node-a", &db_url, &redis, &graph);
    let mut b = Node::start("node-b", &db_url, &redis, &graph);
    a.wait_ready().await;
    b.wait_ready().await;
    let nodes = [&a, &b];

    let owner = a.login(OWNER).await;
    let res = owner
        .post(
            "/api/v1/channel-accounts",
            json!({ "platform": "facebook", "external_id": PAGE, "name": "Page 105", "access_token": "page-token-secret" }),
        )
        .await;
    assert_eq!(res.status(), 201);

    // Four agents, alternately on node A and node B.
    let mut agents = Vec::new();
    let mut feeds = Vec::new();
    for i in 0..4 {
        let node = nodes[i % 2];
        let agent = node.login(&format!("a{i}@a.vn")).await;
        feeds.push(Feed::open(node, &agent).await);
        agents.push((node, agent));
    }

    // Customer messages, alternately through node A and node B, three customers.
    let n = 24;
    for i in 0..n {
        nodes[i % 2]
            .customer_says(
                &format!("psid-{}", i % 3),
                &format!("m_cross_{i}"),
                &format!("tin {i}"),
            )
            .await;
    }
    let mut expected: Vec<String> = (0..n).map(|i| format!("tin {i}")).collect();
    expected.sort();
    for (k, feed) in feeds.iter_mut().enumerate() {
        let mut texts = Vec::new();
        while texts.len() < n {
            let f = feed.next().await;
            if f["type"] == "message.created" {
                texts.push(f["data"]["message"]["text"].as_str().unwrap().to_owned());
            }
        }
        texts.sort();
        assert_eq!(texts, expected, "agent {k} sees every event once");
    }

    // Replies through both nodes; both nodes' job workers compete for them.
    let page: Value = owner.json("/api/v1/conversations").await;
    let mut convs: Vec<(String, String)> = Vec::new();
    for c in page["items"].as_array().unwrap() {
        let id = c["id"].as_str().unwrap().to_owned();
        // Whose conversation it is, from its messages ("tin i" came from psid-(i % 3)).
        let thread: Value = owner
            .json(&format!("/api/v1/conversations/{id}/messages"))
            .await;
        let mut customers: Vec<String> = thread["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| {
                m["text"]
                    .as_str()?
                    .strip_prefix("tin ")?
                    .parse::<usize>()
                    .ok()
            })
            .map(|i| format!("psid-{}", i % 3))
            .collect();
        customers.dedup();
        assert_eq!(customers.len(), 1, "one customer per conversation");
        convs.push((id, customers.remove(0)));
    }
    assert_eq!(convs.len(), 3, "one conversation per customer");
    let replies = 6;
    let mut reply_ids = HashMap::new();
    for i in 0..replies {
        let (node, agent) = &agents[i % 4];
        let (conv, _) = &convs[i % 3];
        let text = format!("trả lời {i}");
        let r = agent
            .post(
                &format!("/api/v1/conversations/{conv}/messages"),
                json!({ "text": text }),
            )
            .await;
        assert_eq!(r.status(), 202, "reply through {}", node.addr);
        let m: Value = r.json().await.unwrap();
        reply_ids.insert(m["id"].as_str().unwrap().to_owned(), (text, conv.clone()));
    }

    // Every agent sees each reply created once and sent once, still in order, and no customer
    // message a second time.
    let mut external_ids = HashMap::new();
    for (k, feed) in feeds.iter_mut().enumerate() {
        let mut created = HashMap::new();
        let mut sent = HashMap::new();
        while sent.len() < replies {
            let f = feed.next().await;
            let m = &f["data"]["message"];
            match f["type"].as_str().unwrap() {
                "message.created" => {
                    let id = m["id"].as_str().unwrap().to_owned();
                    assert!(
                        reply_ids.contains_key(&id),
                        "agent {k}: unexpected message {f}"
                    );
                    assert!(created.insert(id, ()).is_none(), "agent {k}: twice: {f}");
                }
                "message.updated" if m["status"] == "sent" => {
                    let id = m["id"].as_str().unwrap().to_owned();
                    assert!(created.contains_key(&id), "agent {k}: sent before created");
                    let ext = m["external_id"].as_str().unwrap().to_owned();
                    assert!(
                        sent.insert(id.clone(), ()).is_none(),
                        "agent {k}: twice: {f}"
                    );
                    external_ids.insert(id, ext);
                }
                _ => {}
            }
        }
    }

    // The platform got each reply exactly once: no second request, not even one it would
    // have answered from its idempotency keys.
    let sends: Vec<_> = graph
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/messages"))
        .collect();
    assert_eq!(sends.len(), replies, "one Send API call per reply");
    assert_eq!(graph.duplicate_sends(), 0);
    let sent = graph.sent_messages();
    let by_external: HashMap<&str, &sandbox::SentMessage> =
        sent.iter().map(|m| (m.message_id.as_str(), m)).collect();
    assert_eq!(by_external.len(), replies);
    for (id, (text, conv)) in &reply_ids {
        let m = by_external[external_ids[id].as_str()];
        assert_eq!(&m.text, text);
        let psid = &convs.iter().find(|(c, _)| c == conv).unwrap().1;
        assert_eq!(&m.recipient_id, psid, "reply {text} to its customer");
    }

    // And each reply's job was claimed once, by one node (other jobs, such as profile
    // fetches, may still be running).
    let db = tongdai::store::Db::connect(&schema.url, Some(&schema.name))
        .await
        .unwrap();
    let jobs = job::Entity::find()
        .filter(job::Column::Kind.eq(jobs::kind::SEND_MESSAGE))
        .all(&db.read)
        .await
        .unwrap();
    assert_eq!(jobs.len(), replies, "one job per reply");
    for j in &jobs {
        assert_eq!((j.status.as_str(), j.attempts), ("done", 1), "job {}", j.id);
    }
    let mut runners: Vec<_> = jobs.iter().filter_map(|j| j.locked_by.clone()).collect();
    runners.sort();
    runners.dedup();
    eprintln!("reply jobs run by {} node(s)", runners.len());
    db.write.close_by_ref().await.ok();
}
