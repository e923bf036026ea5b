//! `tongdai demo`: the same server on a fresh SQLite database with a seeded workspace (an owner
//! and an agent), a demo Facebook Page wired to the built-in Graph sandbox on loopback, and a
//! generator of signed Messenger traffic in Vietnamese (some messages carry phone numbers), so
//! a newcomer sees the inbox move within a minute.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use secrecy::SecretString;
use tongdai_connectors::facebook::{sandbox, signature_header};
use uuid::Uuid;

use crate::config::Config;
use crate::domain::role::Role;
use crate::services::auth::create_user;
use crate::startup::Application;
use crate::store::Db;
use crate::store::entities::channel_account;

const OWNER: (&str, &str) = ("owner@demo.tongdai.vn", "demo-owner-123");
const AGENT: (&str, &str) = ("agent@demo.tongdai.vn", "demo-agent-123");
const PAGE_ID: &str = "105000000000001";
const CUSTOMERS: [(&str, &str); 5] = [
    ("7100000000000001", "Nguyễn Thu Hà"),
    ("7100000000000002", "Trần Minh Tuấn"),
    ("7100000000000003", "Lê Thị Mai"),
    ("7100000000000004", "Phạm Quốc Bảo"),
    ("7100000000000005", "Võ Ngọc Anh"),
];
const LINES: [&str; 10] = [
    "Shop ơi, áo này còn size M không ạ?",
    "Giá bao nhiêu vậy shop?",
    "Em lấy 2 cái, sđt em 0912 345 678 nhé",
    "Ship về Đà Nẵng mất mấy ngày ạ?",
    "Có màu đen không shop?",
    "Chị gọi lại cho em số 0987.654.321 với",
    "Cho em xem thêm ảnh thật với ạ",
    "Freeship không shop ơi?",
    "Em chuyển khoản rồi nhé, +84 903 111 222",
    "Cảm ơn shop, hàng đẹp lắm ❤️",
];

/// Run the demo until ctrl-c.
pub async fn run(mut cfg: Config, dir: PathBuf, every: u64) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let app_secret = "tongdai-demo-app-secret".to_owned();
    let graph = sandbox::GraphSandbox::start(Some(app_secret.clone()))
        .await
        .context("starting the Graph sandbox")?;
    cfg.data_dir = dir.clone();
    cfg.database_url = Some(format!(
        "sqlite://{}?mode=rwc",
        dir.join("demo.db").display()
    ));
    cfg.facebook.app_secret = Some(SecretString::from(app_secret.clone()));
    cfg.facebook.verify_token = Some(SecretString::from("tongdai-demo-verify".to_owned()));
    cfg.facebook.graph_url = graph.base_url();

    let db = Db::connect(&cfg.database_url(), None).await?;
    db.migrate().await?;
    let (_, ws) = create_user(&db, OWNER.0, OWNER.1, "Chủ shop", Role::Owner, "Shop Demo")
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    create_user(
        &db,
        AGENT.0,
        AGENT.1,
        "Nhân viên tư vấn",
        Role::Agent,
        "Shop Demo",
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = Application::build_with_db(cfg, db.clone()).await?;
    let now = Utc::now();
    channel_account::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws.id),
        platform: Set("facebook".into()),
        external_id: Set(PAGE_ID.into()),
        name: Set("Shop Demo Fanpage".into()),
        settings: Set(serde_json::json!({})),
        secrets_enc: Set(Some(
            app.state()
                .secrets
                .seal(br#"{"access_token":"demo-page-token"}"#),
        )),
        status: Set("active".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&db.write)
    .await?;
    let addr = app.local_addr();
    println!("\ntongdai demo is running on http://{addr}\n");
    println!("  owner: {} / {}", OWNER.0, OWNER.1);
    println!("  agent: {} / {}\n", AGENT.0, AGENT.1);
    println!(
        "A demo fanpage is wired to a local Facebook sandbox; signed Messenger messages arrive every {every} s."
    );
    println!(
        "Replies you send go to the sandbox ({}). Press Ctrl-C to stop.\n",
        graph.base_url()
    );
    let url = format!("http://{addr}/webhooks/facebook");
    tokio::spawn(traffic(url, app_secret, Duration::from_secs(every.max(1))));
    app.run_until_stopped(true).await
}

async fn traffic(url: String, secret: String, every: Duration) {
    let client = reqwest::Client::new();
    let mut n: usize = 0;
    loop {
        let (psid, _) = CUSTOMERS[n % CUSTOMERS.len()];
        let text = LINES[(n * 7 + n / CUSTOMERS.len()) % LINES.len()];
        let ts = Utc::now().timestamp_millis();
        let body =
            sandbox::messenger_text_body(PAGE_ID, psid, &format!("m_demo_{ts}_{n}"), text, ts);
        let sig = signature_header(&secret, &body);
        let res = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", sig)
            .body(body)
            .send()
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "demo traffic could not reach the server");
        }
        n += 1;
        tokio::time::sleep(every).await;
    }
}
