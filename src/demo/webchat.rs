//! The demo's website chat: a webchat channel in the demo workspace and a small shop page,
//! served on a port of its own (another origin than tongdai, as a real shop's site is), whose
//! only tie to tongdai is the one script tag.

use std::net::SocketAddr;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use uuid::Uuid;

use crate::services::{tokens, webchat};
use crate::state::AppState;
use crate::store::entities::channel_account;

/// Secret of the demo channel (identity validation), so the docs' example can be tried.
pub const DEMO_HMAC_TOKEN: &str = "tongdai-demo-webchat-hmac";

/// Create the demo's webchat channel and serve the shop page; returns the page's address.
pub async fn start(state: &AppState, workspace: Uuid) -> anyhow::Result<SocketAddr> {
    let now = Utc::now();
    let website_token = crate::crypto::random_token(18);
    channel_account::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace),
        platform: Set(webchat::PLATFORM.into()),
        external_id: Set(website_token.clone()),
        name: Set("Website Shop Demo".into()),
        settings: Set(serde_json::json!({
            "allowed_origins": [],
            "greeting": "Chào bạn! Shop Demo có thể giúp gì cho bạn?",
            "accent_color": "#c2185b",
            "require_identity": false,
        })),
        secrets_enc: Set(Some(
            tokens::Secrets {
                access_token: DEMO_HMAC_TOKEN.into(),
                ..Default::default()
            }
            .seal(state),
        )),
        status: Set("active".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db.write)
    .await?;
    let page = shop_page(&state.cfg.public_url(), &website_token);
    let app = Router::new().route(
        "/",
        get(move || {
            let page = page.clone();
            async move {
                (
                    [
                        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                        (header::CACHE_CONTROL, "no-cache"),
                    ],
                    page,
                )
                    .into_response()
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "demo shop page stopped");
        }
    });
    Ok(addr)
}

/// The shop's page: products, and the chat's one script tag.
fn shop_page(public_url: &str, website_token: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="vi">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop Demo — Thời trang</title>
</head>
<body>
<h1>Shop Demo</h1>
<p>Áo thun cotton 199.000đ · Váy hoa 349.000đ · Quần jean 429.000đ</p>
<p>Bấm vào bong bóng chat ở góc phải để hỏi shop.</p>
<script src="{public_url}/widget.js" data-website-token="{website_token}" async></script>
</body>
</html>
"#
    )
}
