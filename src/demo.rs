//! `tongdai demo`: the same server on a fresh SQLite database with a seeded workspace (an owner
//! an agent and a fulfillment member), a demo Facebook Page and its Instagram account wired to the built-in Graph
//! sandbox on loopback, and generators of signed webhook traffic in Vietnamese: Messenger
//! messages, comments and replies under a Page post, Instagram DMs and comments (some carry
//! phone numbers), so a newcomer sees the inbox move within a minute. The sandbox knows the
//! customers' profiles, the post and the photos, so the lookups after ingest succeed. A demo
//! Zalo Official Account is wired the same way to the built-in Zalo sandbox (connected with
//! tokens the sandbox issued, refreshed by the usual job), with signed `user_send_text`
//! webhooks from Zalo customers; replies to them go to the sandbox.
//! A demo shop page on its own port carries the website chat widget ([`webchat`]).

mod webchat;

mod youtube;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use secrecy::SecretString;
use serde_json::{Value, json};
use tongdai_connectors::facebook::sandbox::{
    GraphSandbox, SandboxInstagram, SandboxPage, SandboxPost, SandboxProfile, meta_json,
};
use tongdai_connectors::facebook::{sandbox, signature_header};
use tongdai_connectors::standard_webhooks::{self, Secret};
use tongdai_connectors::zalo::sandbox::{SandboxOa, ZaloSandbox, signed_webhook};
use uuid::Uuid;

use crate::config::Config;
use crate::domain::role::Role;
use crate::services::auth::create_user;
use crate::services::tokens::{self, Secrets};
use crate::startup::Application;
use crate::store::Db;
use crate::store::entities::{channel_account, webhook_endpoint};

const OWNER: (&str, &str) = ("owner@demo.tongdai.vn", "demo-owner-123");
const AGENT: (&str, &str) = ("agent@demo.tongdai.vn", "demo-agent-123");
const FULFILLMENT: (&str, &str) = ("kho@demo.tongdai.vn", "demo-kho-123");
/// The signing secret of the demo's loopback fulfillment receiver.
const RECEIVER_SECRET: &str = "whsec_ZGVtby1mdWxmaWxsbWVudC1yZWNlaXZlci0yNDI=";
/// The demo Facebook Page.
pub const PAGE_ID: &str = "105000000000001";
/// The demo Instagram professional account (linked to the Page).
pub const IG_ID: &str = "17841400000000001";
/// The access token of the demo Page (the Instagram account uses it too).
pub const PAGE_TOKEN: &str = "demo-page-token";
/// The Page post the demo comments are under.
pub const POST_ID: &str = "105000000000001_900000000000001";
/// The Instagram media the demo comments are under.
pub const IG_MEDIA_ID: &str = "18000000000000001";
/// The text of the demo post.
pub const POST_TEXT: &str =
    "🔥 Áo thun cotton 4 màu, giá chỉ 199k! Comment số điện thoại để shop tư vấn size nhé.";
/// The caption of the demo Instagram media.
pub const IG_CAPTION: &str = "Bộ sưu tập hè 2025 ☀️ Inbox shop để đặt hàng nha!";
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
/// People who comment under the Page post (ids as the Page sees them), each with the phone
/// number they give (one number per person, so the demo merges nobody by mistake).
const COMMENTERS: [(&str, &str, &str); 4] = [
    ("7200000000000001", "Đỗ Thị Hương", "0914 567 890"),
    ("7200000000000002", "Bùi Văn Nam", "0983.456.789"),
    ("7200000000000003", "Hoàng Thị Lan", "0905 123 456"),
    ("7200000000000004", "Ngô Đức Thắng", "+84 932 111 222"),
];
/// Top-level comments; `{phone}` is the commenter's number.
const COMMENTS: [&str; 6] = [
    "Áo này còn size L không shop? Inbox em {phone}",
    "Giá bao nhiêu ạ?",
    "Em đặt 1 cái màu trắng, sđt {phone}",
    "Ship COD về Hà Nội được không shop?",
    "Tư vấn giúp em với, {phone}",
    "Màu xanh còn không ạ?",
];
/// Replies under another person's comment.
const REPLIES: [&str; 4] = [
    "Mình cũng quan tâm, sđt {phone}",
    "Shop ơi trả lời bạn ấy với",
    "Cho mình 1 cái size M nữa nhé, {phone}",
    "Hóng shop trả lời 😄",
];
/// Instagram customers (IGSID, username, name, phone).
const IG_USERS: [(&str, &str, &str, &str); 3] = [
    (
        "5614879045270001",
        "thu.trang.99",
        "Thu Trang",
        "0938 765 432",
    ),
    (
        "5614879045270002",
        "minhkhoa.sg",
        "Minh Khoa",
        "0976.543.210",
    ),
    ("5614879045270003", "ngoc.han", "Ngọc Hân", "0967 888 999"),
];
const IG_DMS: [&str; 4] = [
    "Chào shop, mẫu này còn không ạ?",
    "Cho mình xin bảng size với",
    "Mình ở Sài Gòn, sđt {phone}, ship nhanh giúp mình nha",
    "Mình gửi ảnh mẫu muốn đặt nè",
];
const IG_COMMENTS: [&str; 3] = [
    "Đẹp quá 😍 giá sao shop?",
    "Còn màu be không ạ? {phone}",
    "Inbox mình nha shop",
];

/// A 16×16 profile picture the sandbox CDN serves for every demo customer.
const AVATAR_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x10, 0x08, 0x02, 0x00, 0x00, 0x00, 0x90, 0x91, 0x68,
    0x36, 0x00, 0x00, 0x00, 0x16, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0x63, 0x78, 0x91, 0x65, 0x4c,
    0x12, 0x62, 0x18, 0xd5, 0x30, 0xaa, 0x61, 0xf8, 0x6a, 0x00, 0x00, 0x82, 0xfc, 0x85, 0x10, 0x61,
    0xe4, 0x24, 0xd1, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];
/// A 48×48 "product photo" a customer sends.
const PHOTO_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x30, 0x00, 0x00, 0x00, 0x30, 0x08, 0x02, 0x00, 0x00, 0x00, 0xd8, 0x60, 0x6e,
    0xd0, 0x00, 0x00, 0x00, 0x53, 0x49, 0x44, 0x41, 0x54, 0x78, 0xda, 0xed, 0xd7, 0x31, 0x0d, 0x00,
    0x20, 0x0c, 0x04, 0x40, 0xfc, 0x60, 0x0d, 0x71, 0x58, 0x40, 0x0a, 0x1e, 0x10, 0x80, 0x84, 0xd2,
    0x84, 0xc0, 0x72, 0xc9, 0xcf, 0xdf, 0xdb, 0xda, 0x96, 0x35, 0x47, 0x98, 0xda, 0x7a, 0x98, 0x5b,
    0x3d, 0x05, 0x08, 0x08, 0x08, 0x08, 0x08, 0x28, 0x09, 0x7a, 0x39, 0xec, 0xa4, 0x07, 0x08, 0x08,
    0x08, 0x08, 0x08, 0x28, 0x0b, 0xb2, 0xed, 0x81, 0x80, 0x80, 0x80, 0x80, 0xfc, 0x65, 0xce, 0x0f,
    0x20, 0x20, 0x20, 0x20, 0xa0, 0xaf, 0xa0, 0x0d, 0x7f, 0xc1, 0x63, 0x80, 0x50, 0x17, 0x42, 0x2b,
    0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];
const PHOTO_NAME: &str = "ao-mau.png";
/// The demo Zalo app (ids are digits on Zalo).
pub const ZALO_APP_ID: &str = "4300000000000000001";
/// The demo Zalo Official Account.
pub const ZALO_OA_ID: &str = "1357900000000000001";
/// The demo OA's secret key (signs its webhooks).
const ZALO_OA_SECRET: &str = "tongdai-demo-oa-secret";
/// The demo Zalo app's secret (OAuth token requests).
const ZALO_APP_SECRET: &str = "tongdai-demo-zalo-app-secret";
/// Zalo customers (OA-scoped user ids) and their names.
const ZALO_USERS: [(&str, &str); 4] = [
    ("2460000000000000001", "Đặng Thị Thu"),
    ("2460000000000000002", "Vũ Hoàng Long"),
    ("2460000000000000003", "Phan Mỹ Linh"),
    ("2460000000000000004", "Trịnh Văn Hậu"),
];
/// What Zalo customers write.
const ZALO_LINES: [&str; 6] = [
    "Shop ơi, váy hoa còn size S không ạ?",
    "Mình muốn đặt 1 bộ, sđt mình 0908 765 432",
    "Bao lâu thì hàng về Cần Thơ vậy shop?",
    "Cho mình xin bảng giá sỉ với ạ",
    "Gọi cho mình qua số 0935.246.810 nhé",
    "Đã nhận hàng, cảm ơn shop nhiều 🥰",
];

/// Run the demo until ctrl-c.
pub async fn run(mut cfg: Config, dir: PathBuf, every: u64) -> anyhow::Result<()> {
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let app_secret = "tongdai-demo-app-secret".to_owned();
    let graph = sandbox::GraphSandbox::start(Some(app_secret.clone()))
        .await
        .context("starting the Graph sandbox")?;
    seed_sandbox(&graph);
    cfg.data_dir = dir.clone();
    cfg.database_url = Some(format!(
        "sqlite://{}?mode=rwc",
        dir.join("demo.db").display()
    ));
    cfg.facebook.app_secret = Some(SecretString::from(app_secret.clone()));
    cfg.facebook.verify_token = Some(SecretString::from("tongdai-demo-verify".to_owned()));
    cfg.facebook.graph_url = graph.base_url();
    // "Connect Facebook" works too: the sandbox plays the login dialog.
    cfg.facebook.app_id = Some("tongdai-demo-app".to_owned());
    cfg.facebook.oauth_url = graph.oauth_dialog_url();
    // Zalo: OAuth, sending and lookups against the Zalo sandbox; its webhooks are signed with
    // the demo OA's secret.
    let zalo = ZaloSandbox::start(
        ZALO_APP_ID,
        ZALO_APP_SECRET,
        SandboxOa::new(ZALO_OA_ID, "Shop Demo Zalo OA"),
    )
    .await
    .context("starting the Zalo sandbox")?;
    for (id, name) in ZALO_USERS {
        zalo.add_profile(id, name, &graph.cdn_url("avatar.png"));
    }
    cfg.zalo.app_id = Some(ZALO_APP_ID.to_owned());
    cfg.zalo.app_secret = Some(SecretString::from(ZALO_APP_SECRET.to_owned()));
    cfg.zalo.oa_secret_key = Some(SecretString::from(ZALO_OA_SECRET.to_owned()));
    cfg.zalo.oauth_url = zalo.oauth_url();
    cfg.zalo.openapi_url = zalo.base_url();
    // The demo's own fulfillment receiver listens on loopback.
    cfg.allow_private_webhook_targets = true;
    let receiver = fulfillment_receiver()
        .await
        .context("starting the demo fulfillment receiver")?;

    // YouTube: the sandbox plays Google and the Data API (src/demo/youtube.rs).
    let yt = youtube::configure(&mut cfg)
        .await
        .context("starting the YouTube sandbox")?;

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
    create_user(
        &db,
        FULFILLMENT.0,
        FULFILLMENT.1,
        "Kho đóng gói",
        Role::Fulfillment,
        "Shop Demo",
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let app = Application::build_with_db(cfg, db.clone()).await?;
    let now = Utc::now();
    let token = format!(r#"{{"access_token":"{PAGE_TOKEN}"}}"#);
    for (platform, external_id, name) in [
        ("facebook", PAGE_ID, "Shop Demo Fanpage"),
        ("instagram", IG_ID, "@shopdemo.vn"),
    ] {
        channel_account::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(ws.id),
            platform: Set(platform.into()),
            external_id: Set(external_id.into()),
            name: Set(name.into()),
            settings: Set(serde_json::json!({})),
            secrets_enc: Set(Some(app.state().secrets.seal(token.as_bytes()))),
            status: Set("active".into()),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&db.write)
        .await?;
    }
    // The demo OA, connected as if by OAuth: tokens the sandbox issued, refreshed ahead of
    // expiry by the usual job.
    let (access, refresh) = zalo.issue_tokens();
    let zalo_secrets = Secrets {
        access_token: access,
        refresh_token: Some(refresh),
        expires_at: Some(now + chrono::Duration::seconds(90_000)),
        refresh_expires_at: None,
    };
    let oa = channel_account::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws.id),
        platform: Set("zalo".into()),
        external_id: Set(ZALO_OA_ID.into()),
        name: Set("Shop Demo Zalo OA".into()),
        settings: Set(json!({"connected_via": "oauth",
            "zalo_oa": {"description": "Shop Demo — tư vấn và đặt hàng qua Zalo"}})),
        secrets_enc: Set(Some(zalo_secrets.seal(app.state()))),
        status: Set("active".into()),
        created_at: Set(now),
        updated_at: Set(now),
        token_expires_at: Set(zalo_secrets.expires_at),
        ..Default::default()
    }
    .insert(&db.write)
    .await?;
    tokens::schedule(&db.write, oa.id, zalo_secrets.expires_at).await?;
    youtube::seed(&app, &db, ws.id, &yt)
        .await
        .context("seeding the demo YouTube channel")?;
    let secret = Secret::parse(RECEIVER_SECRET).expect("the demo secret is well formed");
    webhook_endpoint::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws.id),
        url: Set(format!("http://{receiver}/fulfillment")),
        secret_enc: Set(app.state().secrets.seal(secret.bytes())),
        description: Set(Some("Kho demo (loopback)".into())),
        event_types: Set(json!([])),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        failing_since: Set(None),
        last_success_at: Set(None),
        disabled_reason: Set(None),
    }
    .insert(&db.write)
    .await?;
    let shop_page = webchat::start(app.state(), ws.id)
        .await
        .context("starting the demo shop page")?;
    let addr = app.local_addr();
    println!("\ntongdai demo is running on http://{addr}\n");
    println!("  owner: {} / {}", OWNER.0, OWNER.1);
    println!("  agent: {} / {}", AGENT.0, AGENT.1);
    println!("  fulfillment: {} / {}\n", FULFILLMENT.0, FULFILLMENT.1);
    println!(
        "Confirmed orders are pushed (signed Standard Webhooks) to a demo fulfillment receiver on http://{receiver}/fulfillment."
    );
    println!(
        "A demo fanpage and its Instagram account are wired to a local Facebook sandbox; signed Messenger messages arrive every {every} s,"
    );
    println!("with comments under a Page post and Instagram DMs and comments in between.");
    println!(
        "A demo Zalo Official Account is wired to a local Zalo sandbox ({}); Zalo customers write now and then.",
        zalo.base_url()
    );
    println!(
        "Demo shop page: http://{shop_page}/ (the website chat widget; chats land in the inbox)."
    );
    println!(
        "Replies you send go to the sandbox ({}). Press Ctrl-C to stop.\n",
        graph.base_url()
    );
    println!(
        "A demo YouTube channel ({}) is polled from a local YouTube sandbox; viewers comment under its video every {} s.\n",
        youtube::CHANNEL_TITLE,
        every.max(1) * 3
    );
    let base = format!("http://{addr}");
    let every = Duration::from_secs(every.max(1));
    tokio::spawn(youtube::traffic(yt, every * 3));
    tokio::spawn(traffic(
        format!("{base}/webhooks/facebook"),
        app_secret.clone(),
        every,
    ));
    tokio::spawn(zalo_traffic(
        format!("{base}/webhooks/zalo"),
        zalo.clone(),
        every * 2,
    ));
    tokio::spawn(social_traffic(
        base,
        app_secret,
        graph.cdn_url(PHOTO_NAME),
        every,
    ));
    app.run_until_stopped(true).await
}

/// A loopback fulfillment receiver: verifies the Standard Webhooks signature of every push with
/// the demo endpoint's secret and answers 204 (401 when it does not verify). Returns its address.
async fn fulfillment_receiver() -> anyhow::Result<std::net::SocketAddr> {
    use axum::body::Bytes;
    use axum::http::{HeaderMap, StatusCode};
    let secret = Secret::parse(RECEIVER_SECRET).expect("the demo secret is well formed");
    let secret = std::sync::Arc::new(secret);
    let app = axum::Router::new().route(
        "/fulfillment",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let secret = secret.clone();
            async move {
                match standard_webhooks::verify(&secret, &headers, &body, Utc::now().timestamp()) {
                    Ok(d) => {
                        tracing::info!(webhook_id = %d.id, "demo fulfillment received a push");
                        StatusCode::NO_CONTENT
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "demo fulfillment refused a push");
                        StatusCode::UNAUTHORIZED
                    }
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "demo fulfillment receiver stopped");
        }
    });
    Ok(addr)
}

/// Register in the sandbox what the demo's lookups ask for: the Page with its Instagram
/// account, every customer's profile (name and picture), the post and the media, and the
/// photo a customer sends.
pub fn seed_sandbox(graph: &GraphSandbox) {
    graph.add_page(
        SandboxPage::new(PAGE_ID, "Shop Demo Fanpage", PAGE_TOKEN)
            .with_instagram(SandboxInstagram::new(IG_ID, "shopdemo.vn")),
    );
    graph.add_cdn_file("avatar.png", "image/png", AVATAR_PNG);
    graph.add_cdn_file(PHOTO_NAME, "image/png", PHOTO_PNG);
    let avatar = graph.cdn_url("avatar.png");
    let people = CUSTOMERS
        .iter()
        .copied()
        .chain(COMMENTERS.iter().map(|(id, name, _)| (*id, *name)));
    for (id, name) in people {
        let (last, first) = name.rsplit_once(' ').unwrap_or(("", name));
        graph.add_profile(SandboxProfile {
            id: id.to_owned(),
            name: Some(name.to_owned()),
            first_name: Some(first.to_owned()),
            last_name: (!last.is_empty()).then(|| last.to_owned()),
            username: None,
            profile_pic: Some(avatar.clone()),
        });
    }
    for (id, username, name, _) in IG_USERS {
        graph.add_profile(SandboxProfile {
            id: id.to_owned(),
            name: Some(name.to_owned()),
            username: Some(username.to_owned()),
            profile_pic: Some(avatar.clone()),
            ..Default::default()
        });
    }
    let posted = Utc::now() - chrono::Duration::hours(3);
    graph.add_post(SandboxPost::facebook(POST_ID, PAGE_ID, POST_TEXT, posted));
    graph.add_post(SandboxPost::instagram(
        IG_MEDIA_ID,
        IG_ID,
        IG_CAPTION,
        posted,
    ));
}

/// One generated webhook delivery: the route under `/webhooks/` and the body as Meta sends it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// `facebook` or `instagram`.
    pub route: &'static str,
    /// The JSON body, with Meta's escaping.
    pub body: Vec<u8>,
}

/// Steps of one round of [`social_delivery`].
pub const SOCIAL_ROUND: usize = 6;

/// The `n`th delivery of comment and Instagram traffic at `now`: in each round of
/// [`SOCIAL_ROUND`], a comment under the Page post, an Instagram DM, a reply under that
/// comment, an Instagram comment, another comment on the post, and an Instagram DM (every
/// other round with a photo at `photo_url`). Ids are unique within a run.
pub fn social_delivery(n: usize, now: DateTime<Utc>, photo_url: &str) -> Delivery {
    let round = n / SOCIAL_ROUND;
    let secs = now.timestamp();
    let ms = now.timestamp_millis();
    let post_suffix = POST_ID.rsplit('_').next().unwrap_or(POST_ID);
    let comment_id = |k: usize| format!("{post_suffix}_{}", 1_000 + k);
    let pick = |k: usize, len: usize| (round * 7 + k) % len;
    match n % SOCIAL_ROUND {
        0 | 4 => {
            let k = n % SOCIAL_ROUND / 4; // 0 or 1: two top-level comments per round
            let (uid, name, phone) = COMMENTERS[(round * 2 + k) % COMMENTERS.len()];
            let text = COMMENTS[pick(k * 3, COMMENTS.len())].replace("{phone}", phone);
            page_comment(&comment_id(round * 4 + k), POST_ID, uid, name, &text, secs)
        }
        2 => {
            // A reply in the thread of this round's first comment, by someone else.
            let (uid, name, phone) = COMMENTERS[(round * 2 + 1) % COMMENTERS.len()];
            let text = REPLIES[round % REPLIES.len()].replace("{phone}", phone);
            let parent = comment_id(round * 4);
            page_comment(&comment_id(round * 4 + 2), &parent, uid, name, &text, secs)
        }
        3 => {
            let (igsid, username, _, phone) = IG_USERS[(round + 1) % IG_USERS.len()];
            let text = IG_COMMENTS[round % IG_COMMENTS.len()].replace("{phone}", phone);
            let value = json!({"id": format!("179000000{:08}", round), "text": text,
                "from": {"id": igsid, "username": username},
                "media": {"id": IG_MEDIA_ID, "media_product_type": "FEED"}});
            Delivery {
                route: "instagram",
                body: meta_json(
                    &json!({"object": "instagram", "entry": [{"id": IG_ID, "time": secs,
                    "changes": [{"field": "comments", "value": value}]}]}),
                ),
            }
        }
        step => {
            let (igsid, _, _, phone) = IG_USERS[round % IG_USERS.len()];
            let mid = format!("ig_demo_{round}_{step}");
            let text = IG_DMS[pick(step, IG_DMS.len())].replace("{phone}", phone);
            let mut message = json!({"mid": mid, "text": text});
            if step == 5 && round % 2 == 1 {
                message["text"] = json!(IG_DMS[3]);
                message["attachments"] = json!([{"type": "image", "payload": {"url": photo_url}}]);
            }
            Delivery {
                route: "instagram",
                body: meta_json(
                    &json!({"object": "instagram", "entry": [{"id": IG_ID, "time": ms,
                    "messaging": [{"sender": {"id": igsid}, "recipient": {"id": IG_ID},
                                   "timestamp": ms, "message": message}]}]}),
                ),
            }
        }
    }
}

/// A `feed` comment under the demo post; `parent` is the post for a top-level comment.
fn page_comment(id: &str, parent: &str, uid: &str, name: &str, text: &str, secs: i64) -> Delivery {
    let value: Value = json!({"item": "comment", "verb": "add", "post_id": POST_ID,
        "comment_id": id, "parent_id": parent, "from": {"id": uid, "name": name},
        "created_time": secs, "message": text});
    Delivery {
        route: "facebook",
        body: meta_json(
            &json!({"object": "page", "entry": [{"id": PAGE_ID, "time": secs,
            "changes": [{"field": "feed", "value": value}]}]}),
        ),
    }
}

async fn send_signed(client: &reqwest::Client, url: &str, secret: &str, body: Vec<u8>) {
    let sig = signature_header(secret, &body);
    let res = client
        .post(url)
        .header("content-type", "application/json")
        .header("x-hub-signature-256", sig)
        .body(body)
        .send()
        .await;
    if let Err(e) = res {
        tracing::warn!(error = %e, "demo traffic could not reach the server");
    }
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
        send_signed(&client, &url, &secret, body).await;
        n += 1;
        tokio::time::sleep(every).await;
    }
}

/// Comments and Instagram traffic, between the Messenger messages.
async fn social_traffic(base: String, secret: String, photo_url: String, every: Duration) {
    let client = reqwest::Client::new();
    tokio::time::sleep(every / 2).await;
    let mut n: usize = 0;
    loop {
        let d = social_delivery(n, Utc::now(), &photo_url);
        let url = format!("{base}/webhooks/{}", d.route);
        send_signed(&client, &url, &secret, d.body).await;
        n += 1;
        tokio::time::sleep(every).await;
    }
}

/// The `n`th Zalo customer message at `now`: a signed `user_send_text` webhook (body and
/// `X-ZEvent-Signature`), customers and lines in turn.
pub fn zalo_delivery(zalo: &ZaloSandbox, n: usize, now: DateTime<Utc>) -> (Vec<u8>, String) {
    let (user, _) = ZALO_USERS[n % ZALO_USERS.len()];
    let text = ZALO_LINES[(n * 5 + n / ZALO_USERS.len()) % ZALO_LINES.len()];
    let msg_id = format!("zdemo{:015x}", now.timestamp_millis() as u64 + n as u64);
    let event = zalo.user_text_event(ZALO_OA_ID, user, &msg_id, text, now);
    signed_webhook(ZALO_APP_ID, ZALO_OA_SECRET, &event)
}

/// Zalo customers writing to the demo OA now and then.
async fn zalo_traffic(url: String, zalo: ZaloSandbox, every: Duration) {
    let client = reqwest::Client::new();
    tokio::time::sleep(every / 3).await;
    let mut n: usize = 0;
    loop {
        let (body, sig) = zalo_delivery(&zalo, n, Utc::now());
        let res = client
            .post(&url)
            .header("content-type", "application/json")
            .header("x-zevent-signature", sig)
            .body(body)
            .send()
            .await;
        if let Err(e) = res {
            tracing::warn!(error = %e, "demo Zalo traffic could not reach the server");
        }
        n += 1;
        tokio::time::sleep(every).await;
    }
}
