//! The YouTube part of `tongdai demo`: the YouTube sandbox on loopback plays Google OAuth and
//! the Data API; the demo workspace gets a connected channel (with tokens the sandbox issued,
//! sealed like a real connection) and a video, and Vietnamese comments — some with phone
//! numbers, some replies — appear under it every so often. The poller picks them up like it
//! would from YouTube, within the demo's poll interval.

use std::time::Duration;

use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, TransactionTrait};
use secrecy::SecretString;
use serde_json::json;
use tongdai_connectors::youtube::sandbox::YoutubeSandbox;
use uuid::Uuid;

use crate::config::Config;
use crate::services::{poll, tokens};
use crate::startup::Application;
use crate::store::Db;
use crate::store::entities::channel_account;

/// The demo channel.
pub const CHANNEL_ID: &str = "UCdemo0000000000000000001";
/// The demo channel's name.
pub const CHANNEL_TITLE: &str = "Shop Demo TV";
/// The video the demo comments are under.
pub const VIDEO_ID: &str = "demoAoThun01";
/// The demo's Google OAuth client (known to the sandbox only).
const CLIENT_ID: &str = "tongdai-demo.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "tongdai-demo-google-secret";
/// Polls in the demo come at most this often (production default: 60 s).
const DEMO_POLL_SECONDS: u32 = 15;

/// Viewers (channel id, handle, phone).
const VIEWERS: [(&str, &str, &str); 4] = [
    ("UCviewer00000000000000001", "@thaonguyen", "0916 234 567"),
    (
        "UCviewer00000000000000002",
        "@hoangvu.official",
        "0988.765.432",
    ),
    (
        "UCviewer00000000000000003",
        "@linhchi_review",
        "+84 901 234 999",
    ),
    ("UCviewer00000000000000004", "@baotran", "0935 678 123"),
];
/// Comments under the video; `{phone}` is the viewer's number.
const COMMENTS: [&str; 6] = [
    "Áo trong video còn size XL không shop?",
    "Chất vải có nóng không ạ? Mình ở Sài Gòn",
    "Đặt 2 áo màu đen, gọi mình {phone} nhé",
    "Giá bao nhiêu vậy shop ơi",
    "Review thật không shop, tư vấn giúp {phone}",
    "Video đẹp quá, shop có bán sỉ không?",
];
/// Replies under another viewer's comment.
const REPLIES: [&str; 3] = [
    "Mình cũng muốn hỏi câu này",
    "Shop ơi mình lấy 1 cái nữa, sđt {phone}",
    "Hóng shop trả lời 😄",
];

/// Start the YouTube sandbox and point the config's YouTube settings at it.
pub async fn configure(cfg: &mut Config) -> anyhow::Result<YoutubeSandbox> {
    let yt = YoutubeSandbox::start(CLIENT_ID, CLIENT_SECRET).await?;
    yt.set_channel(CHANNEL_ID, CHANNEL_TITLE);
    yt.add_video(VIDEO_ID);
    // A first conversation is waiting before the first poll.
    let (id, name, phone) = VIEWERS[0];
    yt.add_comment(
        VIDEO_ID,
        id,
        name,
        &format!("Shop ơi áo này giá sao, em {phone}"),
    );
    cfg.youtube.client_id = Some(CLIENT_ID.into());
    cfg.youtube.client_secret = Some(SecretString::from(CLIENT_SECRET.to_owned()));
    cfg.youtube.api_url = yt.api_url();
    cfg.youtube.oauth_url = yt.oauth_url();
    cfg.youtube.poll_min_seconds = DEMO_POLL_SECONDS;
    Ok(yt)
}

/// The connected demo channel: tokens the sandbox issued, sealed as an OAuth connection
/// stores them, with its token refresh and first poll queued.
pub async fn seed(
    app: &Application,
    db: &Db,
    workspace: Uuid,
    yt: &YoutubeSandbox,
) -> anyhow::Result<()> {
    let state = app.state();
    let (access, refresh) = yt.grant_tokens();
    let now = Utc::now();
    let secrets = tokens::Secrets {
        access_token: access,
        refresh_token: Some(refresh),
        expires_at: Some(now + chrono::TimeDelta::seconds(3_599)),
        refresh_expires_at: None,
    };
    let txn = db.write.begin().await?;
    let acc = channel_account::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace),
        platform: Set("youtube".into()),
        external_id: Set(CHANNEL_ID.into()),
        name: Set(CHANNEL_TITLE.into()),
        settings: Set(json!({ "connected_via": "oauth", "youtube_handle": "@shopdemotv" })),
        secrets_enc: Set(Some(secrets.seal(state))),
        status: Set("active".into()),
        token_expires_at: Set(secrets.expires_at),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    tokens::schedule(&txn, acc.id, secrets.expires_at).await?;
    poll::queue(state, &txn, &acc).await?;
    txn.commit().await?;
    state.jobs_notify.notify_one();
    Ok(())
}

/// New comments and replies under the demo video, one every `every` (a phone number in
/// every other one).
pub async fn traffic(yt: YoutubeSandbox, every: Duration) {
    let mut threads: Vec<String> = Vec::new();
    let mut n = 0usize;
    loop {
        tokio::time::sleep(every).await;
        let (id, name, phone) = VIEWERS[n % VIEWERS.len()];
        if n % 4 == 3
            && let Some(thread) = threads.last()
        {
            let text = REPLIES[n % REPLIES.len()].replace("{phone}", phone);
            yt.add_reply(thread, id, name, &text);
        } else {
            let text = COMMENTS[n % COMMENTS.len()].replace("{phone}", phone);
            threads.push(yt.add_comment(VIDEO_ID, id, name, &text));
        }
        n += 1;
    }
}
