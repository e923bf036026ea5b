//! What the job worker adds after ingest, over real HTTP to the Graph sandbox on loopback:
//! people's profiles (fetched once, failures not retried forever), the post a comment thread
//! is under, and customers' files copied from the CDN (allowed hosts only, capped, typed) and
//! served back to their workspace only.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tongdai::domain::role::Role;
use tongdai::store::entities::{contact_identity, job, media};
use tongdai_connectors::facebook::sandbox::{SandboxFailure, SandboxPost, SandboxProfile};
use tongdai_connectors::facebook::signature_header;

use crate::helpers::*;

const PAGE: &str = "105000000000777";
const IG: &str = "17841400000000777";

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A direct message from `psid` to `account` (`object` = `page` or `instagram`).
fn dm(object: &str, account: &str, psid: &str, message: Value) -> Value {
    json!({"object": object, "entry": [{"id": account, "time": now_ms(), "messaging": [
        {"sender": {"id": psid}, "recipient": {"id": account}, "timestamp": now_ms(), "message": message}
    ]}]})
}

/// A Messenger message carrying one attachment.
fn with_attachment(mid: &str, kind: &str, url: &str) -> Value {
    json!({"mid": mid, "text": "ảnh mẫu nè shop", "attachments": [{"type": kind, "payload": {"url": url}}]})
}

async fn connect(owner: &Agent, platform: &str, id: &str) {
    let res = owner
        .post(
            "/api/v1/channel-accounts",
            json!({ "platform": platform, "external_id": id, "name": format!("{platform} {id}"), "access_token": "page-token-secret" }),
        )
        .await;
    assert_eq!(res.status(), 201);
}

/// GETs of the Graph node `id` so far (profile and post lookups).
fn lookups(app: &TestApp, id: &str) -> usize {
    app.graph
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.graph_path() == id)
        .count()
}

async fn conversations(agent: &Agent) -> Vec<Value> {
    agent.json("/api/v1/conversations").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn thread(agent: &Agent, conv: &Value) -> Vec<Value> {
    let id = conv["id"].as_str().unwrap();
    agent
        .json(&format!("/api/v1/conversations/{id}/messages"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn identity(app: &TestApp, external_id: &str) -> contact_identity::Model {
    contact_identity::Entity::find()
        .filter(contact_identity::Column::ExternalId.eq(external_id))
        .one(&app.state.db.write)
        .await
        .unwrap()
        .expect("identity stored")
}

async fn jobs_of(app: &TestApp, kind: &str) -> Vec<job::Model> {
    job::Entity::find()
        .filter(job::Column::Kind.eq(kind))
        .all(&app.state.db.write)
        .await
        .unwrap()
}

async fn media_rows(app: &TestApp) -> Vec<media::Model> {
    media::Entity::find()
        .all(&app.state.db.write)
        .await
        .unwrap()
}

/// Frames until one of type `kind` satisfies `pred`.
async fn frame_where(ws: &mut Ws, kind: &str, pred: impl Fn(&Value) -> bool) -> Value {
    loop {
        let f = frame_of(ws, kind).await;
        if pred(&f["data"]) {
            return f;
        }
    }
}

#[tokio::test]
async fn a_new_customer_gets_name_and_picture_once() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner, "facebook", PAGE).await;
    connect(&owner, "instagram", IG).await;
    let psid = "7100000000000777";
    let igsid = "5614879045270777";
    let pic = "https://scontent.xx.fbcdn.net/v/t1.0-1/ha.jpg";
    app.graph.add_profile(SandboxProfile {
        id: psid.into(),
        name: Some("Nguyễn Thu Hà".into()),
        first_name: Some("Hà".into()),
        last_name: Some("Nguyễn".into()),
        profile_pic: Some(pic.into()),
        ..Default::default()
    });
    app.graph.add_profile(SandboxProfile {
        id: igsid.into(),
        username: Some("lan.nguyen".into()),
        profile_pic: Some("https://scontent.cdninstagram.com/lan.jpg".into()),
        ..Default::default()
    });
    let mut ws = app.ws(&owner, None).await;

    app.customer_says(PAGE, psid, "m_1", "Shop ơi còn áo không?")
        .await;
    app.post_meta(
        "instagram",
        &dm(
            "instagram",
            IG,
            igsid,
            json!({"mid": "ig_m_1", "text": "Còn màu đen không?"}),
        ),
    )
    .await;
    app.drain().await;
    app.run_jobs().await;

    let updated = frame_of(&mut ws, "contact.updated").await;
    assert!(updated["data"]["contact_id"].is_string());
    let convs = conversations(&owner).await;
    let fb = convs
        .iter()
        .find(|c| c["channel_account"]["platform"] == "facebook")
        .unwrap();
    assert_eq!(fb["contact"]["name"], "Nguyễn Thu Hà");
    assert_eq!(fb["contact"]["avatar_url"], pic);
    let ig = convs
        .iter()
        .find(|c| c["channel_account"]["platform"] == "instagram")
        .unwrap();
    assert_eq!(ig["contact"]["name"], "lan.nguyen", "username when no name");
    let contact: Value = owner
        .json(&format!(
            "/api/v1/contacts/{}",
            fb["contact"]["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(contact["identities"][0]["display_name"], "Nguyễn Thu Hà");
    assert_eq!(contact["identities"][0]["avatar_url"], pic);
    assert!(identity(&app, psid).await.profile_fetched_at.is_some());
    assert_eq!(lookups(&app, psid), 1);
    assert_eq!(lookups(&app, igsid), 1);

    // The same person again: no second lookup.
    app.customer_says(PAGE, psid, "m_2", "Em lấy size M nhé")
        .await;
    app.drain().await;
    app.run_jobs().await;
    assert_eq!(lookups(&app, psid), 1, "fetched once per person");
    assert!(
        jobs_of(&app, "fetch_profile")
            .await
            .iter()
            .all(|j| j.status == "done"),
        "no profile job left"
    );
}

#[tokio::test]
async fn a_profile_the_platform_refuses_is_not_asked_for_again() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner, "facebook", PAGE).await;
    // One person has no profile (the sandbox answers 100/2018218 for unknown people); for
    // another the Page lacks a permission.
    app.graph
        .push_failure_at("7100000000000002", SandboxFailure::PermissionDenied);
    app.customer_says(PAGE, "7100000000000001", "m_1", "alo")
        .await;
    app.customer_says(PAGE, "7100000000000002", "m_2", "alo")
        .await;
    app.drain().await;
    app.run_jobs().await;
    for psid in ["7100000000000001", "7100000000000002"] {
        assert_eq!(lookups(&app, psid), 1, "{psid}");
        let idn = identity(&app, psid).await;
        assert!(idn.profile_fetched_at.is_some(), "recorded: {psid}");
        assert_eq!(idn.avatar_url, None);
    }
    assert!(
        jobs_of(&app, "fetch_profile")
            .await
            .iter()
            .all(|j| j.status == "done" && j.attempts == 1)
    );
    // Nothing comes back later, and the channel is not blamed.
    app.run_jobs().await;
    assert_eq!(lookups(&app, "7100000000000001"), 1);
    let accounts: Value = owner.json("/api/v1/channel-accounts").await;
    assert_eq!(accounts[0]["status"], "active");
    assert_eq!(accounts[0]["health"]["state"], "ok");

    // Throttled: the job comes back when the platform said, not at once.
    app.graph
        .push_failure_at("7100000000000003", SandboxFailure::RateLimited);
    app.customer_says(PAGE, "7100000000000003", "m_3", "alo")
        .await;
    app.drain().await;
    app.run_jobs().await;
    assert_eq!(lookups(&app, "7100000000000003"), 1);
    let idn = identity(&app, "7100000000000003").await;
    let throttled = jobs_of(&app, "fetch_profile")
        .await
        .into_iter()
        .find(|j| j.payload["identity_id"] == json!(idn.id))
        .unwrap();
    assert_eq!(throttled.status, "pending");
    assert!(throttled.run_at > chrono::Utc::now() + chrono::Duration::minutes(4));
    assert!(idn.profile_fetched_at.is_none());
}

#[tokio::test]
async fn a_rejected_token_during_a_lookup_marks_the_channel_for_reconnection() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner, "facebook", PAGE).await;
    app.graph
        .push_failure_at("7100000000000009", SandboxFailure::TokenExpired);
    app.customer_says(PAGE, "7100000000000009", "m_1", "alo")
        .await;
    app.drain().await;
    app.run_jobs().await;
    let accounts: Value = owner.json("/api/v1/channel-accounts").await;
    assert_eq!(accounts[0]["status"], "needs_reauth");
    let jobs = jobs_of(&app, "fetch_profile").await;
    assert_eq!(jobs[0].status, "dead", "not retried against a dead token");
    // A new person while the channel must be reconnected: no call at all.
    let before = app.graph.requests().len();
    app.customer_says(PAGE, "7100000000000010", "m_2", "alo")
        .await;
    app.drain().await;
    app.run_jobs().await;
    assert_eq!(app.graph.requests().len(), before);
}

#[tokio::test]
async fn comment_threads_get_the_text_and_link_of_their_post() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner, "facebook", PAGE).await;
    connect(&owner, "instagram", IG).await;
    let post = format!("{PAGE}_998877665544777");
    let t = chrono::Utc::now() - chrono::Duration::hours(2);
    app.graph.add_post(SandboxPost::facebook(
        &post,
        PAGE,
        "Áo thun cotton 4 màu, giá 199k. Comment SĐT để shop tư vấn!",
        t,
    ));
    app.graph.add_post(SandboxPost::instagram(
        "18172143295340777",
        IG,
        "Bộ sưu tập mùa hè ☀️",
        t,
    ));
    let mut ws = app.ws(&owner, None).await;

    app.post_meta("facebook",
        &json!({"object": "page", "entry": [{"id": PAGE, "time": now_ms() / 1000, "changes": [{"field": "feed", "value":
            {"item": "comment", "verb": "add", "post_id": post, "comment_id": "998877665544777_1",
             "parent_id": post, "from": {"id": "7012345678900777", "name": "Lê Thị Mai"},
             "created_time": now_ms() / 1000, "message": "Còn size L không shop? 0912 345 678"}}]}]}),
    )
    .await;
    app.post_meta(
        "facebook",
        &json!({"object": "instagram", "entry": [{"id": IG, "time": now_ms() / 1000,
            "changes": [{"field": "comments", "value": {"id": "17900000000000777",
                "text": "Đẹp quá, giá sao ạ?",
                "from": {"id": "5614879045270778", "username": "mai.le"},
                "media": {"id": "18172143295340777", "media_product_type": "FEED"}}}]}]}),
    )
    .await;
    app.drain().await;
    let before = conversations(&owner).await;
    assert!(
        before.iter().all(|c| c["post"]["text"].is_null()),
        "{before:#?}"
    );
    app.run_jobs().await;

    frame_where(&mut ws, "conversation.updated", |d| {
        d["conversation"]["post"]["text"].is_string()
    })
    .await;
    let convs = conversations(&owner).await;
    let fb = convs
        .iter()
        .find(|c| c["channel_account"]["platform"] == "facebook")
        .unwrap();
    assert_eq!(fb["kind"], "comment_thread");
    assert_eq!(
        fb["post"]["text"],
        "Áo thun cotton 4 màu, giá 199k. Comment SĐT để shop tư vấn!"
    );
    assert_eq!(
        fb["post"]["permalink"],
        format!("https://www.facebook.com/{post}")
    );
    let ig = convs
        .iter()
        .find(|c| c["channel_account"]["platform"] == "instagram")
        .unwrap();
    assert_eq!(ig["post"]["text"], "Bộ sưu tập mùa hè ☀️");
    assert_eq!(
        ig["post"]["permalink"],
        "https://www.instagram.com/p/18172143295340777/"
    );
    assert_eq!(lookups(&app, &post), 1);
    assert!(
        jobs_of(&app, "fetch_post")
            .await
            .iter()
            .all(|j| j.status == "done")
    );
}

#[tokio::test]
async fn an_image_is_copied_from_the_cdn_and_served_to_its_workspace_only() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner, "facebook", PAGE).await;
    let bytes: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    app.graph
        .add_cdn_file("ao-mau.jpg", "image/jpeg", bytes.clone());
    let url = app.graph.cdn_url("ao-mau.jpg");
    let mut ws = app.ws(&owner, None).await;
    app.post_meta(
        "facebook",
        &dm(
            "page",
            PAGE,
            "7100000000000001",
            with_attachment("m_img", "image", &url),
        ),
    )
    .await;
    app.drain().await;
    app.run_jobs().await;

    let updated = frame_where(&mut ws, "message.updated", |d| {
        d["message"]["attachments"][0]["media_id"].is_string()
    })
    .await;
    let conv = conversations(&owner).await.remove(0);
    let msgs = thread(&owner, &conv).await;
    let att = &msgs[0]["attachments"][0];
    assert_eq!(att["kind"], "image");
    assert_eq!(att["url"], url, "the platform link stays");
    let media_id = att["media_id"]
        .as_str()
        .expect("media_id on the attachment");
    assert_eq!(
        updated["data"]["message"]["attachments"][0]["media_id"],
        media_id
    );

    let res = owner.get(&format!("/api/v1/media/{media_id}")).await;
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-disposition"], "inline");
    assert_eq!(h["cache-control"], "private, max-age=86400");
    assert_eq!(res.bytes().await.unwrap().to_vec(), bytes);

    let rows = media_rows(&app).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].status, "stored");
    assert_eq!(rows[0].size, Some(bytes.len() as i64));
    assert_eq!(
        rows[0].sha256.as_deref(),
        Some(hex::encode(Sha256::digest(&bytes)).as_str())
    );
    let on_disk = app.state.cfg.data_dir.join("media").join(media_id);
    assert_eq!(std::fs::read(on_disk).unwrap(), bytes);

    // An agent of the same shop may see it; another shop, or no session, may not.
    let agent = app.user("a@a.vn", Role::Agent, "Shop A").await;
    assert_eq!(
        agent
            .get(&format!("/api/v1/media/{media_id}"))
            .await
            .status(),
        200
    );
    let other = app.user("o@b.vn", Role::Owner, "Shop B").await;
    assert_eq!(
        other
            .get(&format!("/api/v1/media/{media_id}"))
            .await
            .status(),
        404
    );
    let anonymous = app
        .http
        .get(app.url(&format!("/api/v1/media/{media_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let unknown = uuid::Uuid::now_v7();
    assert_eq!(
        owner
            .get(&format!("/api/v1/media/{unknown}"))
            .await
            .status(),
        404
    );

    // Copied once: the job does not run again for the same message.
    let cdn_hits = || {
        app.graph
            .requests()
            .iter()
            .filter(|r| r.path == "/cdn/ao-mau.jpg")
            .count()
    };
    assert_eq!(cdn_hits(), 1);
    app.run_jobs().await;
    assert_eq!(cdn_hits(), 1);
}

/// A file server for what the Graph sandbox's CDN cannot do (redirects, chunked bodies,
/// errors), recording the paths it was asked for.
struct Files {
    addr: SocketAddr,
    hits: Arc<Mutex<Vec<String>>>,
}

impl Files {
    async fn start(trap: SocketAddr) -> Files {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let hits = Arc::new(Mutex::new(Vec::new()));
        let seen = hits.clone();
        let router = axum::Router::new().fallback(move |uri: Uri| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(uri.path().to_owned());
                serve_file(addr, trap, uri.path())
            }
        });
        tokio::spawn(async move { axum::serve(listener, router).await });
        Files { addr, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://localhost:{}{path}", self.addr.port())
    }

    fn hits(&self) -> Vec<String> {
        self.hits.lock().unwrap().clone()
    }
}

fn redirect(to: String) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, to)]).into_response()
}

fn serve_file(addr: SocketAddr, trap: SocketAddr, path: &str) -> Response {
    let port = addr.port();
    match path {
        "/hop" => redirect(format!("http://localhost:{port}/hop2")),
        "/hop2" => redirect("/photo.png".into()),
        "/photo.png" => (
            [(header::CONTENT_TYPE, "image/png")],
            b"\x89PNG fake".to_vec(),
        )
            .into_response(),
        "/away" => redirect(format!("http://{trap}/stolen")),
        "/loop" => redirect("/loop".into()),
        "/page.html" => (
            [(header::CONTENT_TYPE, "text/html")],
            "<script>alert(1)</script>",
        )
            .into_response(),
        "/chunked.jpg" => {
            let chunks = (0..10).map(|_| Ok::<_, std::io::Error>(vec![7u8; 1000]));
            (
                [(header::CONTENT_TYPE, "image/jpeg")],
                axum::body::Body::from_stream(futures_util::stream::iter(chunks)),
            )
                .into_response()
        }
        "/busy.jpg" => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// A listener nobody may connect to; `true` when nothing did.
async fn untouched(trap: &tokio::net::TcpListener) -> bool {
    tokio::time::timeout(Duration::from_millis(200), trap.accept())
        .await
        .is_err()
}

/// Send one inbound message per attachment and run the jobs; the media rows by source URL.
async fn fetch_all(app: &TestApp, items: &[(&str, &str)]) -> Vec<media::Model> {
    for (i, (kind, url)) in items.iter().enumerate() {
        app.post_meta(
            "facebook",
            &dm(
                "page",
                PAGE,
                &format!("71000000000001{i:02}"),
                with_attachment(&format!("m_{i}"), kind, url),
            ),
        )
        .await;
    }
    app.drain().await;
    app.run_jobs().await;
    media_rows(app).await
}

fn row<'a>(rows: &'a [media::Model], url: &str) -> &'a media::Model {
    rows.iter()
        .find(|r| r.source_url == url)
        .unwrap_or_else(|| panic!("no media row for {url}: {rows:#?}"))
}

#[tokio::test]
async fn media_from_hosts_not_allowed_is_never_fetched() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner, "facebook", PAGE).await;
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = trap.local_addr().unwrap().port();
    let local = format!("http://localhost:{port}/x.jpg");
    let other_port = format!("http://127.0.0.1:{port}/x.jpg");
    let lookalike = "https://fbcdn.net.example.invalid/x.jpg";
    let scheme = "file:///etc/passwd";
    // A shared link is a web page, not a file: not even tried.
    let shared = app.graph.cdn_url("shared-page");
    let rows = fetch_all(
        &app,
        &[
            ("image", &local),
            ("image", &other_port),
            ("image", lookalike),
            ("file", scheme),
            ("share", &shared),
        ],
    )
    .await;
    assert!(untouched(&trap).await, "no request left the server");
    assert!(
        !app.graph
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/cdn/")),
        "nothing asked of the CDN"
    );
    assert_eq!(rows.len(), 4, "{rows:#?}");
    for url in [local.as_str(), &other_port, lookalike, scheme] {
        let r = row(&rows, url);
        assert_eq!(r.status, "failed", "{url}");
        assert!(
            r.error
                .as_deref()
                .unwrap_or_default()
                .contains("not an allowed"),
            "{r:?}"
        );
    }
    // The messages are there, without a copy.
    for conv in conversations(&owner).await {
        let msgs = thread(&owner, &conv).await;
        assert_eq!(msgs.len(), 1);
        assert!(msgs[0]["attachments"][0].get("media_id").is_none());
    }
    assert!(
        jobs_of(&app, "fetch_media")
            .await
            .iter()
            .all(|j| j.status == "done"),
        "refusals are not retried"
    );
}

#[tokio::test]
async fn redirects_are_followed_only_to_allowed_hosts_and_types_are_checked() {
    let app = spawn_with(Options {
        media_hosts: Some(vec!["localhost".into()]),
        ..Default::default()
    })
    .await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner, "facebook", PAGE).await;
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let files = Files::start(trap.local_addr().unwrap()).await;
    let (hop, away, looped, html, busy) = (
        files.url("/hop"),
        files.url("/away"),
        files.url("/loop"),
        files.url("/page.html"),
        files.url("/busy.jpg"),
    );
    let rows = fetch_all(
        &app,
        &[
            ("image", &hop),
            ("image", &away),
            ("image", &looped),
            ("file", &html),
            ("image", &busy),
        ],
    )
    .await;

    let stored = row(&rows, &hop);
    assert_eq!(stored.status, "stored", "{stored:?}");
    assert_eq!(stored.content_type.as_deref(), Some("image/png"));
    assert!(
        untouched(&trap).await,
        "the redirect off the allowed hosts was not followed"
    );
    let r = row(&rows, &away);
    assert_eq!(r.status, "failed");
    assert!(
        r.error.as_deref().unwrap().contains("not an allowed"),
        "{r:?}"
    );
    let r = row(&rows, &looped);
    assert_eq!(r.status, "failed");
    assert!(r.error.as_deref().unwrap().contains("redirects"), "{r:?}");
    assert_eq!(
        files.hits().iter().filter(|p| *p == "/loop").count(),
        4,
        "the first request and 3 redirects"
    );
    let r = row(&rows, &html);
    assert_eq!(r.status, "failed");
    assert!(r.error.as_deref().unwrap().contains("text/html"), "{r:?}");

    // A server error is worth another try later; the others are not.
    let r = row(&rows, &busy);
    assert_eq!(r.status, "failed");
    assert!(r.error.as_deref().unwrap().contains("503"), "{r:?}");
    let jobs = jobs_of(&app, "fetch_media").await;
    assert_eq!(jobs.iter().filter(|j| j.status == "pending").count(), 1);
    assert_eq!(jobs.iter().filter(|j| j.status == "done").count(), 4);

    // The retry (made due now) records the same row again.
    job::Entity::update_many()
        .col_expr(job::Column::RunAt, Expr::value(chrono::Utc::now()))
        .filter(job::Column::Status.eq("pending"))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    app.run_jobs().await;
    assert_eq!(files.hits().iter().filter(|p| *p == "/busy.jpg").count(), 2);
    let rows = media_rows(&app).await;
    assert_eq!(rows.len(), 5, "one row per file, also when retried");
    assert_eq!(row(&rows, &busy).status, "failed");
}

#[tokio::test]
async fn files_over_the_size_limit_are_refused_and_recorded() {
    let app = spawn_with(Options {
        media_max_bytes: Some(4_000),
        media_hosts: Some(vec!["localhost".into()]),
        ..Default::default()
    })
    .await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner, "facebook", PAGE).await;
    let trap = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let files = Files::start(trap.local_addr().unwrap()).await;
    app.graph
        .add_cdn_file("big.mp4", "video/mp4", vec![1u8; 5_000]);
    app.graph
        .add_cdn_file("small.jpg", "image/jpeg", vec![2u8; 3_000]);
    let big = app.graph.cdn_url("big.mp4");
    let small = app.graph.cdn_url("small.jpg");
    // Without a Content-Length: cut off while streaming.
    let chunked = files.url("/chunked.jpg");
    let rows = fetch_all(
        &app,
        &[("video", &big), ("image", &chunked), ("image", &small)],
    )
    .await;
    for url in [&big, &chunked] {
        let r = row(&rows, url);
        assert_eq!(r.status, "failed", "{url}");
        assert!(r.error.as_deref().unwrap().contains("limit"), "{r:?}");
    }
    assert_eq!(row(&rows, &small).status, "stored");
    // Only the stored file is on disk: no partial download is left behind.
    let dir = app.state.cfg.data_dir.join("media");
    let names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec![row(&rows, &small).id.to_string()]);
}

#[tokio::test]
async fn a_missing_cdn_file_is_recorded_and_the_message_still_works() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner, "facebook", PAGE).await;
    let url = app.graph.cdn_url("expired.jpg");
    let rows = fetch_all(&app, &[("image", &url)]).await;
    let r = row(&rows, &url);
    assert_eq!(r.status, "failed");
    assert!(r.error.as_deref().unwrap().contains("404"), "{r:?}");
    assert!(
        jobs_of(&app, "fetch_media")
            .await
            .iter()
            .all(|j| j.status == "done")
    );
    let conv = conversations(&owner).await.remove(0);
    assert_eq!(conv["last_message_preview"], "ảnh mẫu nè shop");
    let msgs = thread(&owner, &conv).await;
    assert_eq!(msgs[0]["text"], "ảnh mẫu nè shop");
    assert_eq!(msgs[0]["status"], "received");
    assert_eq!(msgs[0]["attachments"][0]["url"], url);
    assert!(msgs[0]["attachments"][0].get("media_id").is_none());
    assert_eq!(
        owner.get(&format!("/api/v1/media/{}", r.id)).await.status(),
        404,
        "a failed copy is not served"
    );
}

#[tokio::test]
async fn the_demo_traffic_goes_through_the_webhooks_and_every_lookup_succeeds() {
    use tongdai::demo;
    let app = spawn_app().await;
    demo::seed_sandbox(&app.graph);
    let owner = app.user("o@a.vn", Role::Owner, "Shop Demo").await;
    connect(&owner, "facebook", demo::PAGE_ID).await;
    connect(&owner, "instagram", demo::IG_ID).await;
    let photo = app.graph.cdn_url("ao-mau.png");
    app.customer_says(
        demo::PAGE_ID,
        "7100000000000001",
        "m_demo_1",
        "Giá bao nhiêu vậy shop?",
    )
    .await;
    for n in 0..demo::SOCIAL_ROUND * 2 {
        let d = demo::social_delivery(n, chrono::Utc::now(), &photo);
        let res = app
            .http
            .post(app.url(&format!("/webhooks/{}", d.route)))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", signature_header(APP_SECRET, &d.body))
            .body(d.body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "delivery {n}");
    }
    app.drain().await;
    app.run_jobs().await;

    let jobs = job::Entity::find().all(&app.state.db.write).await.unwrap();
    assert!(!jobs.is_empty());
    assert!(
        jobs.iter().all(|j| j.status == "done" && j.attempts == 1),
        "every lookup succeeded at once: {jobs:#?}"
    );
    let identities = contact_identity::Entity::find()
        .all(&app.state.db.write)
        .await
        .unwrap();
    assert!(
        identities
            .iter()
            .all(|i| i.avatar_url.is_some() && i.display_name.is_some()),
        "every person has a profile: {identities:#?}"
    );

    let convs = conversations(&owner).await;
    let threads: Vec<&Value> = convs
        .iter()
        .filter(|c| c["kind"] == "comment_thread")
        .collect();
    let fb: Vec<&&Value> = threads
        .iter()
        .filter(|c| c["channel_account"]["platform"] == "facebook")
        .collect();
    assert_eq!(fb.len(), 4, "two top-level comments per round: {fb:#?}");
    assert!(fb.iter().all(|c| c["post"]["text"] == demo::POST_TEXT));
    assert!(
        fb.iter().any(|c| c["contact"]["phone"].is_string()),
        "a phone number in a comment: {fb:#?}"
    );
    let mut replies = 0;
    for c in &fb {
        replies += thread(&owner, c).await.len() - 1;
    }
    assert_eq!(replies, 2, "one reply per round");
    let ig_threads: Vec<&&Value> = threads
        .iter()
        .filter(|c| c["channel_account"]["platform"] == "instagram")
        .collect();
    assert_eq!(ig_threads.len(), 2);
    assert!(
        ig_threads
            .iter()
            .all(|c| c["post"]["text"] == demo::IG_CAPTION)
    );
    let ig_dms: Vec<&Value> = convs
        .iter()
        .filter(|c| c["kind"] == "direct" && c["channel_account"]["platform"] == "instagram")
        .collect();
    assert!(!ig_dms.is_empty());
    assert!(
        ig_dms
            .iter()
            .all(|c| c["contact"]["name"].is_string() && c["contact"]["avatar_url"].is_string())
    );
    let rows = media_rows(&app).await;
    assert_eq!(rows.len(), 1, "the photo a customer sent: {rows:#?}");
    assert_eq!(rows[0].status, "stored");
}
