//! YouTube through the real app and the YouTube sandbox (`shared/specs/social.md` §5):
//! connecting a channel by Google OAuth, token refresh ahead of expiry, the comment poller
//! (pages, restarts, overlap, edits), quota budgets and `quotaExceeded`, replies and
//! moderation, and leads from comments with a phone number.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::store::entities::{channel_account, job, message};
use tongdai_connectors::youtube::quota::next_reset;
use tongdai_connectors::youtube::sandbox::{SANDBOX_CHANNEL_ID, SandboxFailure, YoutubeSandbox};

use crate::helpers::*;

const VIDEO: &str = "vid_ao_dai_01";

async fn sandbox() -> YoutubeSandbox {
    let yt = YoutubeSandbox::start(YT_CLIENT_ID, YT_CLIENT_SECRET)
        .await
        .unwrap();
    yt.add_video(VIDEO);
    yt
}

async fn app_with(yt: &YoutubeSandbox) -> TestApp {
    spawn_with(Options {
        youtube: Some(yt.clone()),
        ..Options::default()
    })
    .await
}

/// The whole browser flow: connect → sandbox consent (302 back with code and state) →
/// callback. Returns the connected channel account.
async fn connect_channel(app: &TestApp, owner: &Agent) -> Value {
    let start = owner
        .json("/api/v1/channels/youtube/oauth/connect?format=json")
        .await;
    let consent = start["url"].as_str().unwrap().to_owned();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = browser.get(&consent).send().await.unwrap();
    assert_eq!(
        res.status(),
        302,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let back = url::Url::parse(res.headers().get("location").unwrap().to_str().unwrap()).unwrap();
    assert_eq!(back.path(), "/api/v1/channels/youtube/oauth/callback");
    let q: std::collections::HashMap<_, _> = back.query_pairs().into_owned().collect();
    let res = owner
        .get(&format!(
            "/api/v1/channels/youtube/oauth/callback?format=json&code={}&state={}",
            urlencode(&q["code"]),
            urlencode(&q["state"])
        ))
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let accounts = body.as_array().unwrap();
    assert_eq!(accounts.len(), 1);
    let _ = app;
    accounts[0].clone()
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Make the account's waiting poll due now (the next pass is normally a minute or more away).
async fn poll_now(app: &TestApp) {
    job::Entity::update_many()
        .col_expr(job::Column::RunAt, Expr::value(Utc::now()))
        .filter(job::Column::Kind.eq("poll"))
        .filter(job::Column::Status.eq("pending"))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    app.run_jobs().await;
}

async fn pending_polls(app: &TestApp) -> Vec<job::Model> {
    job::Entity::find()
        .filter(job::Column::Kind.eq("poll"))
        .filter(job::Column::Status.eq("pending"))
        .all(&app.state.db.write)
        .await
        .unwrap()
}

async fn comment_count(app: &TestApp) -> u64 {
    message::Entity::find()
        .filter(message::Column::Kind.eq("comment"))
        .count(&app.state.db.write)
        .await
        .unwrap()
}

async fn comment_ids(app: &TestApp) -> Vec<String> {
    let mut ids: Vec<String> = message::Entity::find()
        .filter(message::Column::Kind.eq("comment"))
        .all(&app.state.db.write)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|m| m.external_id)
        .collect();
    ids.sort();
    ids
}

async fn conversations(agent: &Agent) -> Vec<Value> {
    agent.json("/api/v1/conversations").await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn messages(agent: &Agent, conv: &str) -> Vec<Value> {
    agent
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_channel_connects_by_google_oauth_and_its_comments_arrive_as_threads_and_leads() {
    let yt = sandbox().await;
    let thread = yt.add_comment(
        VIDEO,
        "UCcust1",
        "@lannguyen",
        "Áo này giá bao nhiêu vậy shop?",
    );
    let reply = yt
        .add_reply(&thread, SANDBOX_CHANNEL_ID, "@shopsandbox", "Dạ 250k ạ")
        .unwrap();
    yt.add_comment(
        VIDEO,
        "UCcust2",
        "@minhtran",
        "Lấy 2 cái, sđt 0912 345 678 nhé",
    );
    let app = app_with(&yt).await;
    let owner = app.user("owner@yt.vn", Role::Owner, "Shop YT").await;

    let acc = connect_channel(&app, &owner).await;
    assert_eq!(acc["platform"], "youtube");
    assert_eq!(acc["external_id"], SANDBOX_CHANNEL_ID);
    assert_eq!(acc["name"], "Shop Sandbox");
    assert_eq!(acc["status"], "active");
    assert_eq!(acc["has_access_token"], true);
    assert!(acc["token_expires_at"].is_string());
    assert_eq!(acc["settings"]["youtube_handle"], "@shopsandbox");
    let raw = acc.to_string();
    assert!(!raw.contains("ya29."), "no access token in the API: {raw}");
    assert!(!raw.contains("1//"), "no refresh token in the API: {raw}");
    // The token exchange sent the client secret in the form, the consent page never saw it.
    let token_calls: Vec<_> = yt
        .requests()
        .into_iter()
        .filter(|r| r.path == "/o/oauth2/token")
        .collect();
    assert_eq!(token_calls.len(), 1);
    assert_eq!(
        token_calls[0].form_param("grant_type").as_deref(),
        Some("authorization_code")
    );
    let consent = yt
        .requests()
        .into_iter()
        .find(|r| r.path == "/o/oauth2/auth")
        .unwrap();
    assert_eq!(
        consent.query_param("access_type").as_deref(),
        Some("offline")
    );
    assert!(!consent.query.contains("GOCSPX"));

    // Connecting queued the first poll.
    assert_eq!(pending_polls(&app).await.len(), 1);
    app.run_jobs().await;
    let calls = yt.api_calls("commentThreads");
    assert_eq!(calls.len(), 1);
    let c = &calls[0];
    assert_eq!(
        c.query_param("allThreadsRelatedToChannelId").as_deref(),
        Some(SANDBOX_CHANNEL_ID)
    );
    assert_eq!(c.query_param("part").as_deref(), Some("snippet,replies"));
    assert_eq!(c.query_param("order").as_deref(), Some("time"));
    assert_eq!(c.query_param("maxResults").as_deref(), Some("100"));
    assert!(c.bearer.as_deref().is_some_and(|b| b.starts_with("ya29.")));

    let convs = conversations(&owner).await;
    assert_eq!(convs.len(), 2, "{convs:#?}");
    assert!(
        convs.iter().all(|c| c["kind"] == "comment_thread"),
        "{convs:#?}"
    );
    // The thread: the customer's comment, then the channel's own answer as outgoing.
    let all_msgs: Vec<Value> = {
        let mut v = Vec::new();
        for c in &convs {
            v.extend(messages(&owner, c["id"].as_str().unwrap()).await);
        }
        v
    };
    let ours = all_msgs
        .iter()
        .find(|m| m["external_id"] == reply.as_str())
        .expect("the channel's own reply is in the thread");
    assert_eq!(ours["direction"], "out");
    assert_eq!(ours["in_reply_to"], thread.as_str());
    let theirs = all_msgs
        .iter()
        .find(|m| m["external_id"] == thread.as_str())
        .unwrap();
    assert_eq!(theirs["direction"], "in");
    assert_eq!(theirs["text"], "Áo này giá bao nhiêu vậy shop?");
    assert_eq!(theirs["conversation_id"], ours["conversation_id"]);

    // The comment with a phone number made a lead.
    let leads = owner.json("/api/v1/leads").await;
    let items = leads["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{leads}");
    assert_eq!(items[0]["phone"], "+84912345678");
    assert_eq!(items[0]["platform"], "youtube");

    // The channel shows its poll health and quota use.
    let accounts = owner.json("/api/v1/channel-accounts").await;
    let poll = &accounts.as_array().unwrap()[0]["poll"];
    assert!(poll["last_poll_at"].is_string(), "{poll}");
    assert!(poll["next_poll_at"].is_string(), "{poll}");
    assert_eq!(poll["daily_quota"], 10_000);
    assert_eq!(poll["quota_used"], 1);
    assert!(
        poll.get("connector").is_none(),
        "cursors stay private: {poll}"
    );
    // And the next pass is queued, not sooner than the 60 s floor.
    let next = pending_polls(&app).await;
    assert_eq!(next.len(), 1);
    assert!(next[0].run_at >= Utc::now() + Duration::seconds(50));
}

#[tokio::test]
async fn an_access_token_about_to_expire_is_refreshed_before_polling() {
    let yt = sandbox().await;
    yt.add_comment(VIDEO, "UCcust1", "@lan", "Còn size M không shop");
    // Tokens live 10 minutes and 5 seconds: 5 seconds after the exchange they are within the
    // 10 minutes the hub refreshes ahead of expiry.
    yt.set_access_token_seconds(605);
    let app = app_with(&yt).await;
    let owner = app.user("owner@yt.vn", Role::Owner, "Shop YT").await;
    let acc = connect_channel(&app, &owner).await;
    let first_token = yt.api_calls("channels")[0].bearer.clone().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5_200)).await;
    // The refresh job is due now, and the poll refreshes on demand before its call anyway.
    app.run_jobs().await;
    let refreshes: Vec<_> = yt
        .requests()
        .into_iter()
        .filter(|r| {
            r.path == "/o/oauth2/token"
                && r.form_param("grant_type").as_deref() == Some("refresh_token")
        })
        .collect();
    assert!(!refreshes.is_empty());
    assert_eq!(
        refreshes[0].form_param("client_secret").as_deref(),
        Some(YT_CLIENT_SECRET)
    );
    let polled = yt.api_calls("commentThreads");
    assert_eq!(polled.len(), 1);
    let used = polled[0].bearer.clone().unwrap();
    assert_ne!(used, first_token, "the poll used the refreshed token");
    assert_eq!(comment_count(&app).await, 1);
    // The refresh token is kept (Google sends none back on refresh): the next refresh works.
    let id: uuid::Uuid = acc["id"].as_str().unwrap().parse().unwrap();
    let fresh = tongdai::services::tokens::refresh(&app.state, id, true)
        .await
        .unwrap();
    assert!(fresh.refresh_token.is_some());
    // A revoked grant marks the channel for reconnection; polling stops.
    yt.revoke_refresh_tokens();
    assert!(
        tongdai::services::tokens::refresh(&app.state, id, true)
            .await
            .is_err()
    );
    let acc = channel_account::Entity::find_by_id(id)
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(acc.status, "needs_reauth");
    poll_now(&app).await;
    assert_eq!(yt.api_calls("commentThreads").len(), 1);
    assert!(pending_polls(&app).await.is_empty());
}

#[tokio::test]
async fn the_poller_pages_resumes_after_a_restart_and_neither_duplicates_nor_misses() {
    let yt = sandbox().await;
    let now = Utc::now();
    // 230 threads over the last 230 minutes: three pages of 100.
    for i in 0..230 {
        yt.add_comment_at(
            VIDEO,
            &format!("UCc{i}"),
            &format!("@khach{i}"),
            &format!("Bình luận số {i}"),
            now - Duration::minutes(i + 1),
        );
    }
    // One thread with more replies than a listing includes: read with comments.list.
    let busy = yt.add_comment_at(
        VIDEO,
        "UCbusy",
        "@busy",
        "Hỏi nhiều",
        now - Duration::seconds(30),
    );
    for i in 0..8 {
        yt.add_reply(
            &busy,
            &format!("UCr{i}"),
            &format!("@r{i}"),
            &format!("trả lời {i}"),
        )
        .unwrap();
    }
    let app = app_with(&yt).await;
    let owner = app.user("owner@yt.vn", Role::Owner, "Shop YT").await;
    connect_channel(&app, &owner).await;
    // Page one goes through (with the busy thread's replies), page two fails: the state saved
    // after each page keeps what was read.
    yt.fail_after(Some("commentThreads"), 1, SandboxFailure::ServerError);
    app.run_jobs().await;
    let calls = yt.api_calls("commentThreads");
    assert_eq!(calls.len(), 2, "{calls:#?}");
    let replies_calls = yt.api_calls("comments");
    assert_eq!(replies_calls.len(), 1);
    assert_eq!(
        replies_calls[0].query_param("parentId").as_deref(),
        Some(busy.as_str())
    );
    assert_eq!(comment_count(&app).await, 100 + 8);
    assert_eq!(pending_polls(&app).await.len(), 1);

    // Restart: a new node on the same database, with nothing in memory.
    let app2 = spawn_with(Options {
        youtube: Some(yt.clone()),
        database: Some((app.db_url.clone(), app.schema.clone())),
        ..Options::default()
    })
    .await;
    // The waiting poll survived; startup did not add a second one.
    assert_eq!(pending_polls(&app2).await.len(), 1);
    poll_now(&app2).await;
    let calls = yt.api_calls("commentThreads");
    assert_eq!(calls.len(), 4, "{calls:#?}");
    assert_eq!(
        calls[2].query_param("pageToken").as_deref(),
        Some("QURTX0100")
    );
    assert_eq!(
        calls[3].query_param("pageToken").as_deref(),
        Some("QURTX0200")
    );
    assert_eq!(comment_count(&app2).await, 231 + 8);

    // Between polls: a new comment, a late one inside the overlap, a reply on a recent thread.
    let newest = yt.add_comment(VIDEO, "UCnew", "@moi", "Mới nè");
    let late = yt.add_comment_at(
        VIDEO,
        "UClate",
        "@tre",
        "Đến muộn",
        now - Duration::minutes(4),
    );
    let recent_thread_reply = yt.add_reply(&busy, "UCr9", "@r9", "thêm một câu").unwrap();
    poll_now(&app2).await;
    let ids = comment_ids(&app2).await;
    assert!(ids.contains(&newest));
    assert!(
        ids.contains(&late),
        "a comment inside the overlap is caught"
    );
    assert!(ids.contains(&recent_thread_reply));
    assert_eq!(comment_count(&app2).await, 231 + 8 + 3, "nothing twice");
    // The pass stopped at the overlap: one page, not three.
    let after = yt.api_calls("commentThreads");
    assert_eq!(after.len(), 5, "{:#?}", &after[4..]);
    assert_eq!(after[4].query_param("pageToken"), None);

    // Polling again changes nothing.
    poll_now(&app2).await;
    assert_eq!(comment_count(&app2).await, 231 + 8 + 3);

    // A disabled channel stops polling; enabling it again resumes.
    let acc = owner.json("/api/v1/channel-accounts").await[0].clone();
    let id = acc["id"].as_str().unwrap();
    let res = owner
        .patch(
            &format!("/api/v1/channel-accounts/{id}"),
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    poll_now(&app2).await;
    assert!(pending_polls(&app2).await.is_empty());
    let res = owner
        .patch(
            &format!("/api/v1/channel-accounts/{id}"),
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(pending_polls(&app2).await.len(), 1);
}

#[tokio::test]
async fn an_edited_comment_becomes_an_edit() {
    let yt = sandbox().await;
    let thread = yt.add_comment(VIDEO, "UCcust1", "@lan", "Giá bao nhiêu");
    let app = app_with(&yt).await;
    let owner = app.user("owner@yt.vn", Role::Owner, "Shop YT").await;
    connect_channel(&app, &owner).await;
    app.run_jobs().await;
    assert!(yt.edit_comment(&thread, "Giá bao nhiêu, gọi em 0987 654 321"));
    poll_now(&app).await;
    let convs = conversations(&owner).await;
    assert_eq!(convs.len(), 1);
    let msgs = messages(&owner, convs[0]["id"].as_str().unwrap()).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0]["text"], "Giá bao nhiêu, gọi em 0987 654 321");
    assert!(msgs[0]["edited_at"].is_string());
    let mid = msgs[0]["id"].as_str().unwrap();
    let revs = owner
        .json(&format!("/api/v1/messages/{mid}/revisions"))
        .await;
    let revs = revs
        .as_array()
        .or_else(|| revs["items"].as_array())
        .cloned()
        .unwrap_or_default();
    assert_eq!(revs.len(), 1, "{revs:#?}");
    assert_eq!(revs[0]["text"], "Giá bao nhiêu");
    // Reading the same edit again adds no revision.
    poll_now(&app).await;
    let revs = owner
        .json(&format!("/api/v1/messages/{mid}/revisions"))
        .await;
    let revs = revs
        .as_array()
        .or_else(|| revs["items"].as_array())
        .cloned()
        .unwrap_or_default();
    assert_eq!(revs.len(), 1);
}

#[tokio::test]
async fn replies_and_moderation_reach_youtube() {
    let yt = sandbox().await;
    let thread = yt.add_comment(VIDEO, "UCcust1", "@lan", "Ship Hà Nội bao lâu?");
    let their_reply = yt
        .add_reply(&thread, "UCcust2", "@minh", "Mình cũng muốn biết")
        .unwrap();
    let app = app_with(&yt).await;
    let owner = app.user("owner@yt.vn", Role::Owner, "Shop YT").await;
    connect_channel(&app, &owner).await;
    app.run_jobs().await;
    let convs = conversations(&owner).await;
    assert_eq!(convs.len(), 1);
    let cid = convs[0]["id"].as_str().unwrap().to_owned();
    let msgs = messages(&owner, &cid).await;
    let reply_row = msgs
        .iter()
        .find(|m| m["external_id"] == their_reply.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Answering the reply answers its thread (YouTube has one level of replies).
    let res = owner
        .post(
            &format!("/api/v1/conversations/{cid}/messages"),
            json!({"text": "Dạ 2-3 ngày ạ", "reply_to": reply_row}),
        )
        .await;
    assert_eq!(
        res.status(),
        202,
        "{}",
        res.text().await.unwrap_or_default()
    );
    app.run_jobs().await;
    let inserts = yt.api_calls("comments");
    let insert = inserts.iter().find(|r| r.method == "POST").unwrap();
    let body: Value = serde_json::from_str(&insert.body).unwrap();
    assert_eq!(body["snippet"]["parentId"], thread.as_str());
    assert_eq!(body["snippet"]["textOriginal"], "Dạ 2-3 ngày ạ");
    let sent = yt.channel_replies();
    assert_eq!(sent.len(), 1);
    let msgs = messages(&owner, &cid).await;
    let ours = msgs.iter().find(|m| m["direction"] == "out").unwrap();
    assert_eq!(ours["status"], "sent");
    assert_eq!(ours["external_id"], sent[0].id.as_str());
    // Its echo in the next poll is the same row.
    poll_now(&app).await;
    assert_eq!(messages(&owner, &cid).await.len(), 3);

    // Hide (held for review), unhide (published).
    let comment_row = msgs
        .iter()
        .find(|m| m["external_id"] == thread.as_str())
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = owner
        .post(
            &format!("/api/v1/messages/{comment_row}/hide"),
            json!({"hidden": true}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        yt.comment(&thread).unwrap().moderation_status,
        "heldForReview"
    );
    let res = owner
        .post(
            &format!("/api/v1/messages/{comment_row}/hide"),
            json!({"hidden": false}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(yt.comment(&thread).unwrap().moderation_status, "published");
    // Removing our own reply rejects it.
    let ours_id = ours["id"].as_str().unwrap();
    let res = owner
        .client
        .delete(app.url(&format!("/api/v1/messages/{ours_id}")))
        .header("x-csrf-token", &owner.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        yt.comment(&sent[0].id).unwrap().moderation_status,
        "rejected"
    );
    // Units: list calls 1 each, the reply 50, three moderation calls 50 each.
    let accounts = owner.json("/api/v1/channel-accounts").await;
    let used = accounts[0]["poll"]["quota_used"].as_u64().unwrap();
    // The sandbox also counted the `channels.list` of the connect flow (1 unit), made before
    // the account existed.
    assert_eq!(u64::from(yt.quota_used()), used + 1);
    assert!(used >= 200, "{used}");
}

#[tokio::test]
async fn quota_exceeded_pauses_polling_until_midnight_pacific_and_refuses_replies() {
    let yt = sandbox().await;
    yt.add_comment(VIDEO, "UCcust1", "@lan", "Còn hàng không shop");
    let app = app_with(&yt).await;
    let owner = app.user("owner@yt.vn", Role::Owner, "Shop YT").await;
    connect_channel(&app, &owner).await;
    app.run_jobs().await;
    assert_eq!(comment_count(&app).await, 1);

    yt.fail_next(None, SandboxFailure::QuotaExceeded);
    poll_now(&app).await;
    let polls = pending_polls(&app).await;
    assert_eq!(polls.len(), 1);
    let reset = next_reset(Utc::now());
    assert!(
        (polls[0].run_at - reset).num_seconds().abs() <= 5,
        "paused until {} instead of {reset}",
        polls[0].run_at
    );
    let accounts = owner.json("/api/v1/channel-accounts").await;
    let poll = &accounts[0]["poll"];
    assert!(poll["quota_exhausted_until"].is_string(), "{poll}");
    assert!(
        poll["last_error"].as_str().unwrap().contains("quota"),
        "{poll}"
    );

    // A reply is refused with the reason, without calling YouTube.
    let calls_before = yt.requests().len();
    let convs = conversations(&owner).await;
    let cid = convs[0]["id"].as_str().unwrap();
    let res = owner
        .post(
            &format!("/api/v1/conversations/{cid}/messages"),
            json!({"text": "Dạ còn ạ"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let msgs = messages(&owner, cid).await;
    let ours = msgs.iter().find(|m| m["direction"] == "out").unwrap();
    assert_eq!(ours["status"], "failed");
    assert!(ours["error"].as_str().unwrap().contains("quota"), "{ours}");
    // Hiding too.
    let comment_row = msgs.iter().find(|m| m["direction"] == "in").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = owner
        .post(
            &format!("/api/v1/messages/{comment_row}/hide"),
            json!({"hidden": true}),
        )
        .await;
    assert!(!res.status().is_success());
    let body: Value = res.json().await.unwrap();
    assert!(
        body["message"].as_str().unwrap().contains("quota"),
        "{body}"
    );
    assert_eq!(yt.requests().len(), calls_before, "nothing reached YouTube");

    // After the reset (moved to now here) polling resumes.
    let acc = channel_account::Entity::find()
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    let mut ps = acc.poll_state.clone().unwrap();
    ps["quota"]["exhausted_until"] = json!(Utc::now() - Duration::seconds(1));
    channel_account::Entity::update_many()
        .col_expr(channel_account::Column::PollState, Expr::value(ps))
        .filter(channel_account::Column::Id.eq(acc.id))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    yt.add_comment(VIDEO, "UCcust2", "@minh", "Mình lấy 1 cái");
    let before = yt.api_calls("commentThreads").len();
    // A node started after the reset (this one also holds the account in memory until then).
    let app2 = spawn_with(Options {
        youtube: Some(yt.clone()),
        database: Some((app.db_url.clone(), app.schema.clone())),
        ..Options::default()
    })
    .await;
    poll_now(&app2).await;
    assert_eq!(yt.api_calls("commentThreads").len(), before + 1);
    // The first comment, our failed reply, the new comment.
    assert_eq!(
        comment_count(&app2).await,
        3,
        "{:?}",
        comment_ids(&app2).await
    );
}

#[tokio::test]
async fn a_small_daily_quota_keeps_a_reserve_and_refuses_what_would_overdraw_it() {
    let yt = sandbox().await;
    yt.add_comment(VIDEO, "UCcust1", "@lan", "Giá sao shop");
    // 120 units: 24 kept for replies and moderation, 96 for polling.
    let app = spawn_with(Options {
        youtube: Some(yt.clone()),
        youtube_daily_quota: Some(120),
        ..Options::default()
    })
    .await;
    let owner = app.user("owner@yt.vn", Role::Owner, "Shop YT").await;
    connect_channel(&app, &owner).await;
    app.run_jobs().await;
    let cid = conversations(&owner).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Two replies fit (1 + 50 + 50 = 101 ≤ 120), the third would overdraw.
    for (i, expect) in [(1, "sent"), (2, "sent"), (3, "failed")] {
        let res = owner
            .post(
                &format!("/api/v1/conversations/{cid}/messages"),
                json!({"text": format!("Trả lời {i}")}),
            )
            .await;
        assert_eq!(res.status(), 202);
        app.run_jobs().await;
        let msgs = messages(&owner, &cid).await;
        let m = msgs
            .iter()
            .find(|m| m["text"] == format!("Trả lời {i}").as_str())
            .unwrap();
        assert_eq!(m["status"], expect, "{m}");
        if expect == "failed" {
            assert!(m["error"].as_str().unwrap().contains("overdraw"), "{m}");
        }
    }
    assert_eq!(yt.channel_replies().len(), 2);
    // Polling is past its share (101 > 96): it waits for the reset without calling.
    let before = yt.api_calls("commentThreads").len();
    poll_now(&app).await;
    assert_eq!(yt.api_calls("commentThreads").len(), before);
    let polls = pending_polls(&app).await;
    assert_eq!(polls.len(), 1);
    assert!(
        (polls[0].run_at - next_reset(Utc::now()))
            .num_seconds()
            .abs()
            <= 5
    );
}

#[tokio::test]
async fn a_quota_exceeded_answer_to_a_reply_keeps_it_queued_and_stops_other_calls() {
    let yt = sandbox().await;
    yt.add_comment(VIDEO, "UCcust1", "@lan", "Shop ơi còn size S không");
    let app = app_with(&yt).await;
    let owner = app.user("owner@yt.vn", Role::Owner, "Shop YT").await;
    connect_channel(&app, &owner).await;
    app.run_jobs().await;
    let cid = conversations(&owner).await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    yt.fail_next(Some("comments"), SandboxFailure::QuotaExceeded);
    let res = owner
        .post(
            &format!("/api/v1/conversations/{cid}/messages"),
            json!({"text": "Dạ còn ạ"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let msgs = messages(&owner, &cid).await;
    let ours = msgs.iter().find(|m| m["direction"] == "out").unwrap();
    // Sent again after the reset: the job waits until midnight Pacific.
    assert_eq!(ours["status"], "queued", "{ours}");
    let send = job::Entity::find()
        .filter(job::Column::Kind.eq("send_message"))
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(send.status, "pending");
    assert!((send.run_at - next_reset(Utc::now())).num_seconds().abs() <= 5);
    // Recorded on the channel, so every node stops calling, polls included.
    let accounts = owner.json("/api/v1/channel-accounts").await;
    assert!(accounts[0]["poll"]["quota_exhausted_until"].is_string());
    let calls = yt.requests().len();
    let comment_row = msgs.iter().find(|m| m["direction"] == "in").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = owner
        .post(
            &format!("/api/v1/messages/{comment_row}/hide"),
            json!({"hidden": true}),
        )
        .await;
    assert!(!res.status().is_success());
    poll_now(&app).await;
    assert_eq!(yt.requests().len(), calls, "nothing reached YouTube");
}
