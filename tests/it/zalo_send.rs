//! Zalo OA beyond webhooks, through the real routes against the Zalo sandbox: connecting an OA
//! by OAuth v4 with PKCE, refreshing its single-use refresh token (ahead of expiry, refused,
//! concurrently), replies of every kind, the 48-hour / 8 free replies rule enforced before any
//! call, and the profile lookup.

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait, IntoActiveModel};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::services::tokens;
use tongdai::store::entities::{channel_account, conversation};
use tongdai_connectors::zalo::sandbox::{SandboxOa, ZaloSandbox, ZaloSent, signed_webhook};
use uuid::Uuid;

use crate::helpers::*;

const OA: &str = "1357924680135792468";
const USER: &str = "2468013579246801357";

async fn zalo_app() -> (TestApp, ZaloSandbox) {
    zalo_app_with(Options::default()).await
}

async fn zalo_app_with(opts: Options) -> (TestApp, ZaloSandbox) {
    let z = ZaloSandbox::start(
        ZALO_APP_ID,
        ZALO_APP_SECRET,
        SandboxOa::new(OA, "Shop A trên Zalo"),
    )
    .await
    .unwrap();
    let app = spawn_with(Options {
        zalo: Some(z.clone()),
        ..opts
    })
    .await;
    (app, z)
}

/// Connect the sandbox's OA through the real routes: connect → permission page → callback.
async fn connect(owner: &Agent) -> Value {
    let start = owner
        .json("/api/v1/channels/zalo/oauth/connect?format=json")
        .await;
    let url = start["url"].as_str().expect("consent url").to_owned();
    let no_redirect = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = no_redirect.get(&url).send().await.unwrap();
    assert_eq!(res.status(), 302, "{url}");
    let back = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    assert_eq!(back.path(), "/api/v1/channels/zalo/oauth/callback");
    let res = owner
        .get(&format!(
            "{}?{}&format=json",
            back.path(),
            back.query().unwrap()
        ))
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body[0].clone()
}

async fn account(app: &TestApp, id: &str) -> channel_account::Model {
    channel_account::Entity::find_by_id(id.parse::<Uuid>().unwrap())
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap()
}

async fn secrets(app: &TestApp, id: &str) -> tokens::Secrets {
    tokens::open(&app.state, &account(app, id).await).expect("sealed secrets")
}

/// Post a signed `user_send_text` from the customer, ingest it, return the conversation.
async fn customer_writes(app: &TestApp, z: &ZaloSandbox, agent: &Agent, mid: &str) -> Value {
    let event = z.user_text_event(OA, USER, mid, "Cho mình hỏi giá áo size M", Utc::now());
    let (body, sig) = signed_webhook(ZALO_APP_ID, ZALO_OA_SECRET, &event);
    let res = app
        .http
        .post(app.url("/webhooks/zalo"))
        .header("content-type", "application/json")
        .header("x-zevent-signature", sig)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    app.drain().await;
    let convs = agent.json("/api/v1/conversations").await["items"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(convs.len(), 1, "{convs:#?}");
    convs[0].clone()
}

async fn reply(agent: &Agent, conv: &Value, body: Value) -> reqwest::Response {
    agent
        .post(
            &format!(
                "/api/v1/conversations/{}/messages",
                conv["id"].as_str().unwrap()
            ),
            body,
        )
        .await
}

async fn reply_ok(agent: &Agent, conv: &Value, body: Value) {
    let res = reply(agent, conv, body).await;
    let status = res.status();
    let text = res.text().await.unwrap();
    assert!(status.is_success(), "{status}: {text}");
}

/// Move the conversation's last customer message `hours` into the past.
async fn age_conversation(app: &TestApp, conv: &Value, hours: i64) {
    let c = conversation::Entity::find_by_id(conv["id"].as_str().unwrap().parse::<Uuid>().unwrap())
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    let mut am = c.into_active_model();
    am.last_inbound_at = Set(Some(Utc::now() - chrono::TimeDelta::hours(hours)));
    am.update(&app.state.db.write).await.unwrap();
}

async fn conv_view(agent: &Agent, conv: &Value) -> Value {
    agent
        .json(&format!(
            "/api/v1/conversations/{}",
            conv["id"].as_str().unwrap()
        ))
        .await
}

#[tokio::test]
async fn an_oa_connects_by_oauth_with_pkce_and_its_refresh_is_queued() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let acc = connect(&owner).await;
    assert_eq!(acc["external_id"], OA);
    assert_eq!(acc["name"], "Shop A trên Zalo");
    assert_eq!(acc["status"], "active");
    assert!(acc.to_string().find("zsbx_").is_none(), "no token in {acc}");

    // The consent URL carried the challenge; the token request the verifier that matches it
    // (the sandbox refuses a wrong one), the app id, and the app secret as `secret_key`.
    let reqs = z.requests();
    let permission = reqs.iter().find(|r| r.path == "/v4/oa/permission").unwrap();
    let challenge = permission.param("code_challenge").unwrap();
    assert_eq!(permission.param("app_id").as_deref(), Some(ZALO_APP_ID));
    let token = reqs
        .iter()
        .find(|r| r.path == "/v4/oa/access_token")
        .unwrap();
    assert!(token.had_secret_key);
    assert_eq!(
        token.param("grant_type").as_deref(),
        Some("authorization_code")
    );
    let verifier = token.param("code_verifier").unwrap();
    assert_eq!(tongdai_connectors::pkce_challenge(&verifier), challenge);
    let getoa = reqs.iter().find(|r| r.path == "/v2.0/oa/getoa").unwrap();
    assert!(
        getoa
            .access_token
            .as_deref()
            .unwrap()
            .starts_with("zsbx_at_")
    );

    // Stored: tokens sealed with their expiry; the OA profile in the settings; a refresh job.
    let row = account(&app, acc["id"].as_str().unwrap()).await;
    assert!(row.token_expires_at.is_some());
    assert_eq!(
        row.settings["zalo_oa"]["description"],
        "Shop A trên Zalo — tư vấn và đặt hàng qua Zalo"
    );
    let s = secrets(&app, acc["id"].as_str().unwrap()).await;
    assert!(s.refresh_token.is_some());
    let jobs = tongdai::store::entities::job::Entity::find()
        .all(&app.state.db.read)
        .await
        .unwrap();
    assert!(
        jobs.iter()
            .any(|j| j.kind == "refresh_token" && j.payload["channel_account_id"] == acc["id"]),
        "{jobs:#?}"
    );
}

#[tokio::test]
async fn a_wrong_pkce_verifier_is_refused_by_the_sandbox() {
    // The sandbox really checks PKCE: a code exchanged with another verifier fails.
    let z = ZaloSandbox::start(ZALO_APP_ID, ZALO_APP_SECRET, SandboxOa::new(OA, "A"))
        .await
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let challenge = tongdai_connectors::pkce_challenge("right-verifier");
    let res = http
        .get(format!(
            "{}/oa/permission?app_id={ZALO_APP_ID}&redirect_uri=http://cb/x&code_challenge={challenge}&state=s",
            z.oauth_url()
        ))
        .send()
        .await
        .unwrap();
    let loc = url::Url::parse(res.headers()["location"].to_str().unwrap()).unwrap();
    let code = loc
        .query_pairs()
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned();
    let answer: Value = http
        .post(format!("{}/oa/access_token", z.oauth_url()))
        .header("secret_key", ZALO_APP_SECRET)
        .form(&[
            ("app_id", ZALO_APP_ID),
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", "wrong-verifier"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer["access_token"].is_null(), "{answer}");
    assert!(answer["error"].as_i64().unwrap() < 0);
}

#[tokio::test]
async fn the_refresh_job_rotates_the_single_use_refresh_token_ahead_of_expiry() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    z.set_expires_in(60); // inside the 10 minutes ahead of expiry: due at once
    let acc = connect(&owner).await;
    let id = acc["id"].as_str().unwrap().to_owned();
    let before = secrets(&app, &id).await;
    let old_rt = before.refresh_token.clone().unwrap();
    z.set_expires_in(90_000);
    z.set_expires_in_as_number(true);
    app.run_jobs().await;

    let after = secrets(&app, &id).await;
    assert_ne!(after.access_token, before.access_token);
    let new_rt = after.refresh_token.clone().unwrap();
    assert_ne!(new_rt, old_rt);
    assert!(!z.refresh_token_live(&old_rt), "the old one is spent");
    assert!(z.refresh_token_live(&new_rt));
    assert!(after.expires_at.unwrap() > Utc::now() + chrono::TimeDelta::hours(24));
    let row = account(&app, &id).await;
    assert_eq!(row.status, "active");
    // PostgreSQL keeps microseconds, the sealed secrets nanoseconds.
    let drift = row.token_expires_at.unwrap() - after.expires_at.unwrap();
    assert!(drift.num_milliseconds().abs() < 1, "{drift}");
    let refreshes: Vec<_> = z
        .requests()
        .into_iter()
        .filter(|r| r.param("grant_type").as_deref() == Some("refresh_token"))
        .collect();
    assert_eq!(refreshes.len(), 1);
    assert_eq!(
        refreshes[0].param("refresh_token").as_deref(),
        Some(old_rt.as_str())
    );
}

#[tokio::test]
async fn a_refused_refresh_marks_the_channel_needs_reauth() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    z.set_expires_in(60);
    let acc = connect(&owner).await;
    let id = acc["id"].as_str().unwrap().to_owned();
    let rt = secrets(&app, &id).await.refresh_token.unwrap();
    z.revoke_refresh_token(&rt);
    app.run_jobs().await;
    let row = account(&app, &id).await;
    assert_eq!(row.status, "needs_reauth");
    assert!(row.last_error.unwrap().contains("refresh token"));
}

#[tokio::test]
async fn two_concurrent_refreshes_spend_the_refresh_token_once() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let acc = connect(&owner).await;
    let id: Uuid = acc["id"].as_str().unwrap().parse().unwrap();
    let rt0 = secrets(&app, &id.to_string()).await.refresh_token.unwrap();
    let (a, b) = tokio::join!(
        tokens::refresh(&app.state, id, true),
        tokens::refresh(&app.state, id, true)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    // A double spend of rt0 would have been refused by the sandbox (needs_reauth).
    let spent_rt0 = z
        .requests()
        .into_iter()
        .filter(|r| r.param("refresh_token").as_deref() == Some(rt0.as_str()))
        .count();
    assert_eq!(spent_rt0, 1);
    assert_eq!(account(&app, &id.to_string()).await.status, "active");
    let now = secrets(&app, &id.to_string()).await;
    assert!(z.refresh_token_live(now.refresh_token.as_deref().unwrap()));
    assert!([a.access_token, b.access_token].contains(&now.access_token));
}

fn by_user(sent: &[ZaloSent]) -> Vec<&ZaloSent> {
    sent.iter().filter(|s| s.user_id == USER).collect()
}

#[tokio::test]
async fn replies_of_every_kind_reach_zalo_with_the_oa_token() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let acc = connect(&owner).await;
    let token = secrets(&app, acc["id"].as_str().unwrap())
        .await
        .access_token;
    let conv = customer_writes(&app, &z, &owner, "m1").await;
    assert_eq!(conv["reply"]["mode"], "standard");
    assert_eq!(conv["reply"]["free_left"], 8);

    z.add_cdn_file(
        "bang-gia.pdf",
        "application/pdf",
        b"%PDF-1.4 bang gia".to_vec(),
    );
    let replies = [
        json!({"text": "Dạ shop chào bạn"}),
        json!({"text": "", "attachment": {"kind": "image", "url": "https://cdn.example/ao.jpg"}}),
        json!({"text": "", "attachment": {"kind": "file", "url": z.cdn_url("bang-gia.pdf")}}),
        json!({"text": "Bạn chọn size nào?", "quick_replies": [
            {"title": "Size M", "payload": "SIZE_M"}, {"title": "Size L", "payload": "SIZE_L"}]}),
    ];
    for r in replies {
        // One at a time: separate replies are separate jobs.
        reply_ok(&owner, &conv, r).await;
        app.run_jobs().await;
    }

    let sent = z.sent();
    let sent = by_user(&sent);
    assert_eq!(sent.len(), 4, "{sent:#?}");
    assert!(sent.iter().all(|s| s.access_token == token));
    assert_eq!(sent[0].text.as_deref(), Some("Dạ shop chào bạn"));
    assert_eq!(
        sent[1].attachment.as_ref().unwrap()["payload"]["elements"][0],
        json!({"media_type": "image", "url": "https://cdn.example/ao.jpg"})
    );
    let (name, bytes) = sent[2].file.clone().expect("uploaded file");
    assert_eq!(name, "bang-gia.pdf");
    assert_eq!(bytes, b"%PDF-1.4 bang gia");
    assert_eq!(
        sent[3].attachment.as_ref().unwrap()["payload"]["buttons"],
        json!([{"title": "Size M", "type": "oa.query.show", "payload": "SIZE_M"},
               {"title": "Size L", "type": "oa.query.show", "payload": "SIZE_L"}])
    );
    // The hub stored Zalo's message ids: the `oa_send_*` echoes match them.
    let msgs = thread(&owner, &conv).await;
    let out: Vec<_> = msgs.iter().filter(|m| m["direction"] == "out").collect();
    assert_eq!(out.len(), 4);
    for (m, s) in out.iter().zip(&sent) {
        assert_eq!(m["status"], "sent", "{m}");
        assert_eq!(m["external_id"], s.message_id.as_str());
    }
    let view = conv_view(&owner, &conv).await;
    assert_eq!(view["reply"]["free_left"], 4);
}

#[tokio::test]
async fn replies_outside_48_hours_are_refused_without_calling_zalo() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner).await;
    let conv = customer_writes(&app, &z, &owner, "m1").await;

    // Queued inside the window, then the window closed while it waited: failed, no call.
    reply_ok(&owner, &conv, json!({"text": "Dạ"})).await;
    age_conversation(&app, &conv, 49).await;
    app.run_jobs().await;
    assert!(by_user(&z.sent()).is_empty());
    let msgs = thread(&owner, &conv).await;
    let m = msgs.iter().find(|m| m["direction"] == "out").unwrap();
    assert_eq!(m["status"], "failed");
    assert!(m["error"].as_str().unwrap().contains("48 hours"), "{m}");

    // Asked directly now: 422, nothing queued.
    let res = reply(&owner, &conv, json!({"text": "Còn hàng không ạ"})).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "reply_window_closed");
    let view = conv_view(&owner, &conv).await;
    assert_eq!(view["reply"]["can_reply"], false);
    assert_eq!(view["reply"]["reason_code"], "expired_48h");
    assert!(z.requests().iter().all(|r| r.path != "/v3.0/oa/message/cs"));
}

#[tokio::test]
async fn beyond_eight_free_replies_only_the_paid_quota_pays() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner).await;
    let conv = customer_writes(&app, &z, &owner, "m1").await;
    for i in 0..8 {
        reply_ok(&owner, &conv, json!({"text": format!("Tin {i}")})).await;
    }
    app.run_jobs().await;
    assert_eq!(by_user(&z.sent()).len(), 8);

    // No paid quota known yet (Zalo reports it only in answers to paid sends): the ninth
    // goes to Zalo, which is the judge; its quota refusal fails the reply with its reason.
    let view = conv_view(&owner, &conv).await;
    assert_eq!(view["reply"]["mode"], "paid", "{view}");
    assert_eq!(view["reply"]["free_left"], 0, "{view}");
    z.push_failure(tongdai_connectors::zalo::sandbox::ZaloFailure::QuotaSpent);
    reply_ok(&owner, &conv, json!({"text": "Tin 9"})).await;
    app.run_jobs().await;
    assert_eq!(by_user(&z.sent()).len(), 8);
    let msgs = thread(&owner, &conv).await;
    let ninth = msgs
        .iter()
        .find(|m| m["text"] == "Tin 9")
        .expect("the ninth reply is in the thread");
    assert_eq!(ninth["status"], "failed", "{ninth}");

    // A new customer message opens a new frame; sends there report a paid quota.
    let conv = customer_writes(&app, &z, &owner, "m2").await;
    assert_eq!(conv["reply"]["free_left"], 8);
    z.set_quota(Some(
        json!({"quota_type": "purchase_quota", "remain": "1", "total": 100}),
    ));
    for i in 0..8 {
        reply_ok(&owner, &conv, json!({"text": format!("Lần 2 tin {i}")})).await;
    }
    app.run_jobs().await;
    let view = conv_view(&owner, &conv).await;
    assert_eq!(view["reply"]["mode"], "paid", "{view}");
    z.set_quota(Some(
        json!({"quota_type": "purchase_quota", "remain": 0, "total": 100}),
    ));
    reply_ok(&owner, &conv, json!({"text": "Tin trả phí"})).await;
    app.run_jobs().await;
    assert_eq!(by_user(&z.sent()).len(), 17);
    let row = channel_account::Entity::find()
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.settings["zalo_quota"]["remain"], 0);
    let res = reply(&owner, &conv, json!({"text": "Hết quota"})).await;
    assert_eq!(res.status(), 422);
    assert_eq!(by_user(&z.sent()).len(), 17);
}

#[tokio::test]
async fn zalo_errors_have_their_effect_on_the_channel() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let acc = connect(&owner).await;
    let conv = customer_writes(&app, &z, &owner, "m1").await;

    // The platform's own window refusal: failed for good, the channel stays active.
    z.push_failure(tongdai_connectors::zalo::sandbox::ZaloFailure::OutsideWindow);
    reply_ok(&owner, &conv, json!({"text": "Một"})).await;
    app.run_jobs().await;
    let msgs = thread(&owner, &conv).await;
    assert_eq!(msgs.iter().filter(|m| m["status"] == "failed").count(), 1);
    assert_eq!(
        account(&app, acc["id"].as_str().unwrap()).await.status,
        "active"
    );

    // An expired token: the channel must be reconnected.
    z.push_failure(tongdai_connectors::zalo::sandbox::ZaloFailure::TokenExpired);
    reply_ok(&owner, &conv, json!({"text": "Hai"})).await;
    app.run_jobs().await;
    assert_eq!(
        account(&app, acc["id"].as_str().unwrap()).await.status,
        "needs_reauth"
    );
}

#[tokio::test]
async fn the_profile_lookup_names_the_zalo_customer() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner).await;
    z.add_profile(USER, "Nguyễn Thị Lan", "https://s120.zadn.vn/lan.jpg");
    let conv = customer_writes(&app, &z, &owner, "m1").await;
    app.run_jobs().await;
    let view = conv_view(&owner, &conv).await;
    assert_eq!(view["contact"]["name"], "Nguyễn Thị Lan");
    assert_eq!(
        view["contact"]["avatar_url"],
        "https://s120.zadn.vn/lan.jpg"
    );
    let detail = z
        .requests()
        .into_iter()
        .find(|r| r.path == "/v3.0/oa/user/detail")
        .unwrap();
    let data: Value = serde_json::from_str(&detail.param("data").unwrap()).unwrap();
    assert_eq!(data["user_id"], USER);
    assert!(detail.access_token.is_some());
}

#[tokio::test]
async fn replies_the_oa_sent_from_zalo_itself_count_against_the_free_ones() {
    let (app, z) = zalo_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let acc = connect(&owner).await;
    let acc: Uuid = acc["id"].as_str().unwrap().parse().unwrap();
    // The OA's last paid send said its paid quota is spent.
    let row = channel_account::Entity::find_by_id(acc)
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    let mut settings = row.settings.clone();
    settings["zalo_quota"] = json!({"quota_type": "purchase_quota", "remain": 0, "total": 100});
    let mut am = row.into_active_model();
    am.settings = Set(settings);
    am.update(&app.state.db.write).await.unwrap();
    let conv = customer_writes(&app, &z, &owner, "m1").await;
    // Queued while all 8 free replies were left …
    reply_ok(&owner, &conv, json!({"text": "Dạ shop trả lời ngay"})).await;
    // … then the OA answered 8 times from Zalo's own app (oa_send_text echoes).
    for i in 0..8 {
        let event = json!({"app_id": ZALO_APP_ID, "event_name": "oa_send_text",
            "timestamp": Utc::now().timestamp_millis().to_string(),
            "sender": {"id": OA}, "recipient": {"id": USER},
            "message": {"msg_id": format!("echo{i}"), "text": format!("Trả lời {i}")}});
        let (body, sig) = signed_webhook(ZALO_APP_ID, ZALO_OA_SECRET, &event);
        let res = app
            .http
            .post(app.url("/webhooks/zalo"))
            .header("x-zevent-signature", sig)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    app.drain().await;
    app.run_jobs().await;
    // The queued reply is refused when its turn comes: no call.
    assert!(by_user(&z.sent()).is_empty());
    let msgs = thread(&owner, &conv).await;
    let ours = msgs.iter().find(|m| m["sender_kind"] == "agent").unwrap();
    assert_eq!(ours["status"], "failed");
    assert!(
        ours["error"].as_str().unwrap().contains("8 free replies"),
        "{ours}"
    );
}

#[tokio::test]
async fn a_file_reply_from_a_non_public_address_is_not_downloaded() {
    let (app, z) = zalo_app_with(Options {
        public_webhook_targets_only: true,
        ..Options::default()
    })
    .await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    connect(&owner).await;
    let conv = customer_writes(&app, &z, &owner, "m1").await;
    z.add_cdn_file("noi-bo.pdf", "application/pdf", b"%PDF internal".to_vec());
    reply_ok(
        &owner,
        &conv,
        json!({"text": "", "attachment": {"kind": "file", "url": z.cdn_url("noi-bo.pdf")}}),
    )
    .await;
    app.run_jobs().await;
    let msgs = thread(&owner, &conv).await;
    let m = msgs.iter().find(|m| m["direction"] == "out").unwrap();
    assert_eq!(m["status"], "failed");
    assert!(m["error"].as_str().unwrap().contains("not public"), "{m}");
    assert!(
        z.requests()
            .iter()
            .all(|r| !r.path.starts_with("/cdn/") && r.path != "/v2.0/oa/upload/file")
    );
    assert!(by_user(&z.sent()).is_empty());
}
