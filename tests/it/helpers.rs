//! `spawn_app()` and the typed helpers the tests use.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use secrecy::SecretString;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tongdai::config::Config;
use tongdai::domain::role::Role;
use tongdai::services::{auth, jobs, normalize};
use tongdai::startup::Application;
use tongdai::state::AppState;
use tongdai_connectors::facebook::{sandbox, sandbox::GraphSandbox, signature_header};
use tongdai_connectors::zalo::sandbox::ZaloSandbox;

pub const APP_SECRET: &str = "test_app_secret";
pub const VERIFY_TOKEN: &str = "verify-me";
pub const ZALO_APP_ID: &str = "1234567890123456789";
pub const ZALO_OA_SECRET: &str = "oa_secret_key_example";
pub const ZALO_APP_SECRET: &str = "zalo_app_secret_example";
pub const PASSWORD: &str = "correct horse battery";
pub const YT_CLIENT_ID: &str = "1234-test.apps.googleusercontent.com";
pub const YT_CLIENT_SECRET: &str = "GOCSPX-test-secret";

pub type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One running node.
pub struct TestApp {
    pub addr: String,
    pub state: AppState,
    pub graph: GraphSandbox,
    pub http: reqwest::Client,
    // Where this node's data is (no test reads them since the two-node test runs processes).
    #[allow(dead_code)]
    pub db_url: String,
    #[allow(dead_code)]
    pub schema: Option<String>,
    _dir: TempDir,
    shutdown: tokio_util::sync::CancellationToken,
}

pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn unique(prefix: &str) -> String {
    format!(
        "{prefix}_{}",
        tongdai::crypto::random_token(9)
            .to_lowercase()
            .replace(['-', '_'], "x")
    )
}

/// The database every test of this run uses: a fresh SQLite file, or a fresh PostgreSQL schema.
pub async fn test_database(dir: &std::path::Path) -> (String, Option<String>) {
    match std::env::var("TONGDAI_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            use sea_orm::{ConnectionTrait, Database};
            let schema = unique("t");
            let admin = Database::connect(&url)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .expect("create schema");
            (url, Some(schema))
        }
        _ => (
            format!("sqlite://{}?mode=rwc", dir.join("tongdai.db").display()),
            None,
        ),
    }
}

#[derive(Default)]
pub struct Options {
    pub workers: bool,
    pub redis: Option<String>,
    /// Share this database (another node).
    pub database: Option<(String, Option<String>)>,
    pub graph: Option<GraphSandbox>,
    /// Override `media_max_bytes`.
    pub media_max_bytes: Option<u64>,
    /// Override `media_hosts`.
    pub media_hosts: Option<Vec<String>>,
    /// Set `public_url` (the Facebook Login callback is built on it).
    pub public_url: Option<String>,
    /// Override `facebook.backfill_days`.
    pub backfill_days: Option<u32>,
    /// Leave the Meta app id and secret unset.
    pub without_facebook_app: bool,
    /// Refuse non-public fulfillment endpoint targets (by default tests allow loopback ones).
    pub public_webhook_targets_only: bool,
    /// Point Zalo's OAuth and OpenAPI at this sandbox (and set the Zalo app secret).
    pub zalo: Option<ZaloSandbox>,
    /// Point YouTube (OAuth and Data API) at this sandbox, with client [`YT_CLIENT_ID`].
    pub youtube: Option<tongdai_connectors::youtube::sandbox::YoutubeSandbox>,
    /// Override `youtube.daily_quota`.
    pub youtube_daily_quota: Option<u32>,
}

pub async fn spawn_app() -> TestApp {
    spawn_with(Options::default()).await
}

pub async fn spawn_with(opts: Options) -> TestApp {
    let dir = std::env::temp_dir().join(unique("tongdai-it"));
    std::fs::create_dir_all(&dir).unwrap();
    let graph = match opts.graph {
        Some(g) => g,
        None => GraphSandbox::start(Some(APP_SECRET.to_owned()))
            .await
            .unwrap(),
    };
    let (db_url, schema) = match opts.database {
        Some(d) => d,
        None => test_database(&dir).await,
    };
    let mut cfg = Config::defaults();
    cfg.listen = "127.0.0.1:0".parse().unwrap();
    cfg.data_dir = dir.clone();
    cfg.database_url = Some(db_url.clone());
    cfg.workers = opts.workers;
    cfg.webhook_body_timeout_seconds = 1;
    cfg.redis_url = opts.redis;
    cfg.secret_key = Some(SecretString::from("0".repeat(64)));
    cfg.facebook.app_id = Some("424242".into());
    cfg.facebook.app_secret = Some(SecretString::from(APP_SECRET.to_owned()));
    cfg.facebook.verify_token = Some(SecretString::from(VERIFY_TOKEN.to_owned()));
    cfg.facebook.graph_url = graph.base_url();
    cfg.zalo.app_id = Some(ZALO_APP_ID.into());
    cfg.zalo.oa_secret_key = Some(SecretString::from(ZALO_OA_SECRET.to_owned()));
    cfg.allow_private_webhook_targets = !opts.public_webhook_targets_only;
    if let Some(n) = opts.media_max_bytes {
        cfg.media_max_bytes = n;
    }
    if let Some(hosts) = opts.media_hosts {
        cfg.media_hosts = hosts;
    }
    cfg.facebook.oauth_url = graph.oauth_dialog_url();
    if opts.public_url.is_some() {
        cfg.public_url = opts.public_url;
    }
    if let Some(days) = opts.backfill_days {
        cfg.facebook.backfill_days = days;
    }
    if let Some(z) = &opts.zalo {
        cfg.zalo.app_secret = Some(SecretString::from(ZALO_APP_SECRET.to_owned()));
        cfg.zalo.oauth_url = z.oauth_url();
        cfg.zalo.openapi_url = z.base_url();
    }
    if let Some(yt) = &opts.youtube {
        cfg.youtube.client_id = Some(YT_CLIENT_ID.into());
        cfg.youtube.client_secret = Some(SecretString::from(YT_CLIENT_SECRET.to_owned()));
        cfg.youtube.api_url = yt.api_url();
        cfg.youtube.oauth_url = yt.oauth_url();
    }
    if let Some(q) = opts.youtube_daily_quota {
        cfg.youtube.daily_quota = q;
    }
    if opts.without_facebook_app {
        cfg.facebook.app_id = None;
        cfg.facebook.app_secret = None;
    }
    let app = Application::build(cfg, schema.as_deref())
        .await
        .expect("build app");
    let addr = app.local_addr().to_string();
    let state = app.state().clone();
    let shutdown = app.shutdown_token();
    tokio::spawn(app.run_until_stopped(false));
    TestApp {
        addr,
        state,
        graph,
        http: reqwest::Client::new(),
        db_url,
        schema,
        _dir: TempDir(dir),
        shutdown,
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A signed-in browser-like client.
pub struct Agent {
    pub client: reqwest::Client,
    pub csrf: String,
    pub cookie: String,
    pub base: String,
    pub me: Value,
}

impl Agent {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap()
    }
    pub async fn post(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
    pub async fn patch(&self, path: &str, body: Value) -> reqwest::Response {
        self.client
            .patch(format!("{}{path}", self.base))
            .header("x-csrf-token", &self.csrf)
            .json(&body)
            .send()
            .await
            .unwrap()
    }
    pub async fn json(&self, path: &str) -> Value {
        let r = self.get(path).await;
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Create a user in `workspace` and sign in as them.
    pub async fn user(&self, email: &str, role: Role, workspace: &str) -> Agent {
        auth::create_user(&self.state.db, email, PASSWORD, "Tester", role, workspace)
            .await
            .unwrap();
        self.login(email).await
    }

    pub async fn login(&self, email: &str) -> Agent {
        login_at(&self.addr, email).await
    }

    /// Connect a Facebook Page to the agent's workspace.
    pub async fn connect_page(&self, owner: &Agent, page_id: &str) -> Value {
        let res = owner
            .post("/api/v1/channel-accounts", json!({ "platform": "facebook", "external_id": page_id, "name": format!("Page {page_id}"), "access_token": "page-token-secret" }))
            .await;
        assert_eq!(res.status(), 201);
        res.json().await.unwrap()
    }

    /// POST a body to the Facebook webhook, signed with the app secret.
    pub async fn post_signed(&self, body: &[u8]) -> reqwest::Response {
        self.http
            .post(self.url("/webhooks/facebook"))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature_header(APP_SECRET, body))
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
    }

    /// POST a Meta body (JSON, non-ASCII escaped like Meta does) to `/webhooks/{route}`, signed
    /// with the app secret; asserts 200.
    pub async fn post_meta(&self, route: &str, body: &Value) {
        let bytes = sandbox::meta_json(body);
        let res = self
            .http
            .post(self.url(&format!("/webhooks/{route}")))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature_header(APP_SECRET, &bytes))
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(
            res.status(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
    }

    /// A customer message, signed and posted; asserts 200.
    pub async fn customer_says(&self, page: &str, psid: &str, mid: &str, text: &str) {
        let ts = chrono::Utc::now().timestamp_millis();
        let res = self
            .post_signed(&sandbox::messenger_text_body(page, psid, mid, text, ts))
            .await;
        assert_eq!(
            res.status(),
            200,
            "{}",
            res.text().await.unwrap_or_default()
        );
    }

    /// Run the ingest worker's work until nothing is pending.
    pub async fn drain(&self) {
        normalize::drain(&self.state).await.unwrap();
    }

    /// One more normalizer competing with the others (returns how many events it handled).
    pub async fn state_drain(&self) -> Result<usize, sea_orm::DbErr> {
        normalize::drain(&self.state).await
    }

    /// Run due jobs until none is due.
    pub async fn run_jobs(&self) -> usize {
        jobs::run_due(&self.state).await.unwrap()
    }

    pub async fn ws(&self, agent: &Agent, since: Option<u64>) -> Ws {
        ws_at(&self.addr, agent, since).await
    }
}

/// The next frame, within 5 s.
pub async fn next_frame(ws: &mut Ws) -> Value {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("a frame within 5 s")
            .expect("socket open")
            .unwrap();
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            return serde_json::from_str(&t).unwrap();
        }
    }
}

/// Frames until one of type `kind` arrives; returns it.
pub async fn frame_of(ws: &mut Ws, kind: &str) -> Value {
    loop {
        let f = next_frame(ws).await;
        if f["type"] == kind {
            return f;
        }
    }
}

/// Poll `f` until it returns Some, for at most 5 s (for effects of background workers).
pub async fn eventually<T, F, Fut>(mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sign `email` in on the server at `addr` (password [`PASSWORD`]).
pub async fn login_at(addr: &str, email: &str) -> Agent {
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let res = client
        .post(format!("http://{addr}/api/v1/auth/login"))
        .json(&json!({ "email": email, "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "login of {email} on {addr}");
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tongdai_session="))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .unwrap();
    let me: Value = res.json().await.unwrap();
    Agent {
        client,
        csrf: me["csrf_token"].as_str().unwrap().to_owned(),
        cookie,
        base: format!("http://{addr}"),
        me,
    }
}

/// `agent`'s websocket on the server at `addr`, from `since` when given.
pub async fn ws_at(addr: &str, agent: &Agent, since: Option<u64>) -> Ws {
    let q = since.map(|s| format!("?since={s}")).unwrap_or_default();
    let mut req = format!("ws://{addr}/api/ws{q}")
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("cookie", agent.cookie.parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket connects");
    ws
}

/// The messages of conversation `conv` (a `ConversationOut`), newest page, as the API lists them.
pub async fn thread(agent: &Agent, conv: &Value) -> Vec<Value> {
    let id = conv["id"].as_str().unwrap();
    agent
        .json(&format!("/api/v1/conversations/{id}/messages"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// The message with platform id `ext` among `msgs`.
pub fn by_ext<'a>(msgs: &'a [Value], ext: &str) -> &'a Value {
    msgs.iter()
        .find(|m| m["external_id"] == ext)
        .unwrap_or_else(|| panic!("no message {ext} in {msgs:#?}"))
}
