//! Connecting accounts through Facebook Login, disconnecting them, and importing their history
//! again. Browser steps answer `302`; `?format=json` answers the same as JSON for API clients.

use std::collections::BTreeMap;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::http::extract::{AppJson, Auth, SESSION_COOKIE, cookie};
use crate::services::backfill;
use crate::services::channels::ChannelAccountOut;
use crate::services::connect::{
    self, AttemptOut, CallbackIn, ConnectIn, ConnectUrlOut, DisconnectOut, ManagedPageOut,
};
use crate::services::oauth::{self, ConnectableOut};
use crate::state::AppState;

/// `?format=json`: answer with JSON instead of a redirect.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FormatQuery {
    /// `json` for a JSON answer instead of the `302`.
    pub format: Option<String>,
}

impl FormatQuery {
    fn json(&self) -> bool {
        self.format.as_deref() == Some("json")
    }
}

/// The session cookie, when the browser sent one (the callback works without it).
pub struct SessionCookie(pub Option<String>);

impl FromRequestParts<AppState> for SessionCookie {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        Ok(SessionCookie(
            cookie(parts, SESSION_COOKIE).map(str::to_owned),
        ))
    }
}

fn found(location: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, location.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// Start connecting Facebook Pages: redirects to the Facebook Login dialog.
#[utoipa::path(get, path = "/api/v1/channels/facebook/connect", tag = "channels", params(FormatQuery),
    responses((status = 302, description = "to the Facebook Login dialog"), (status = 200, body = ConnectUrlOut, description = "with `format=json`"), (status = 400, body = crate::error::ErrorOut, description = "`not_configured`")))]
pub async fn start_connect(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<FormatQuery>,
) -> AppResult<Response> {
    let out = connect::start(&s, &p).await?;
    Ok(if f.json() {
        Json(out).into_response()
    } else {
        found(&out.url)
    })
}

/// Where Facebook Login sends the browser back; redirects to the web app's page picker.
#[utoipa::path(get, path = "/api/v1/channels/facebook/callback", tag = "channels", params(CallbackIn, FormatQuery),
    responses((status = 302, description = "to `/channels/connect/{attempt_id}`"), (status = 200, body = AttemptOut, description = "with `format=json`"),
        (status = 400, body = crate::error::ErrorOut, description = "`invalid_state`, `state_expired`, `state_used`, `state_mismatch`, `login_cancelled`, `missing_code`"),
        (status = 502, body = crate::error::ErrorOut, description = "Facebook refused the code")))]
pub async fn facebook_callback(
    State(s): State<AppState>,
    SessionCookie(session): SessionCookie,
    Query(f): Query<FormatQuery>,
    Query(i): Query<CallbackIn>,
) -> AppResult<Response> {
    let out = connect::callback(&s, session.as_deref(), i).await?;
    Ok(if f.json() {
        Json(out).into_response()
    } else {
        found(&format!("/channels/connect/{}", out.attempt_id))
    })
}

/// The Pages (and linked Instagram accounts) the logged-in Facebook user manages.
#[utoipa::path(get, path = "/api/v1/channels/facebook/connect/{attempt_id}/pages", tag = "channels", params(("attempt_id" = Uuid, Path)),
    responses((status = 200, body = Vec<ManagedPageOut>)))]
pub async fn list_managed_pages(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(attempt_id): Path<Uuid>,
) -> AppResult<Json<Vec<ManagedPageOut>>> {
    Ok(Json(connect::pages(&s, &p, attempt_id).await?))
}

/// Connect the chosen Pages and Instagram accounts (uses the attempt up).
#[utoipa::path(post, path = "/api/v1/channels/facebook/connect/{attempt_id}", tag = "channels", params(("attempt_id" = Uuid, Path)), request_body = ConnectIn,
    responses((status = 200, body = Vec<ChannelAccountOut>), (status = 400, body = crate::error::ErrorOut), (status = 409, body = crate::error::ErrorOut)))]
pub async fn connect_pages(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(attempt_id): Path<Uuid>,
    AppJson(i): AppJson<ConnectIn>,
) -> AppResult<Json<Vec<ChannelAccountOut>>> {
    Ok(Json(connect::connect(&s, &p, attempt_id, i).await?))
}

/// Disconnect an account: remove the app from its Page, disable it, forget its token.
#[utoipa::path(post, path = "/api/v1/channel-accounts/{id}/disconnect", tag = "channels", params(("id" = Uuid, Path)),
    responses((status = 200, body = DisconnectOut)))]
pub async fn disconnect_channel_account(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<DisconnectOut>> {
    Ok(Json(connect::disconnect(&s, &p, id).await?))
}

/// Import the account's recent history again.
#[utoipa::path(post, path = "/api/v1/channel-accounts/{id}/backfill", tag = "channels", params(("id" = Uuid, Path)),
    responses((status = 202, body = ChannelAccountOut), (status = 409, body = crate::error::ErrorOut), (status = 422, body = crate::error::ErrorOut)))]
pub async fn backfill_channel_account(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<(StatusCode, Json<ChannelAccountOut>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(backfill::restart(&s, &p, id).await?),
    ))
}

/// Start connecting a Zalo OA, a YouTube channel … by OAuth 2: redirects to the platform's
/// consent page.
#[utoipa::path(get, path = "/api/v1/channels/{platform}/oauth/connect", tag = "channels", params(("platform" = String, Path, description = "`zalo`, `youtube`"), FormatQuery),
    responses((status = 302, description = "to the platform's consent page"), (status = 200, body = ConnectUrlOut, description = "with `format=json`"), (status = 400, body = crate::error::ErrorOut, description = "`not_configured`")))]
pub async fn start_oauth(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(platform): Path<String>,
    Query(f): Query<FormatQuery>,
) -> AppResult<Response> {
    let out = oauth::start(&s, &p, &platform).await?;
    Ok(if f.json() {
        Json(out).into_response()
    } else {
        found(&out.url)
    })
}

/// Where the consent page sends the browser back: connects the accounts, then redirects to
/// the channel settings (`?connected={platform}`, or `?connect_error={code}` on failure).
#[utoipa::path(get, path = "/api/v1/channels/{platform}/oauth/callback", tag = "channels", params(("platform" = String, Path), CallbackIn, FormatQuery),
    responses((status = 302, description = "to `/settings/channels`"), (status = 200, body = Vec<ChannelAccountOut>, description = "with `format=json`"),
        (status = 400, body = crate::error::ErrorOut, description = "`invalid_state`, `state_expired`, `state_used`, `state_mismatch`, `login_cancelled`, `missing_code`, `no_account`"),
        (status = 502, body = crate::error::ErrorOut, description = "the platform refused the code")))]
pub async fn oauth_callback(
    State(s): State<AppState>,
    SessionCookie(session): SessionCookie,
    Path(platform): Path<String>,
    Query(f): Query<FormatQuery>,
    Query(q): Query<BTreeMap<String, String>>,
) -> AppResult<Response> {
    let out = oauth::callback(&s, &platform, session.as_deref(), q).await;
    if f.json() {
        return Ok(Json(out?).into_response());
    }
    Ok(match out {
        Ok(_) => found(&format!("/settings/channels?connected={platform}")),
        Err(e) => {
            let code = e.code();
            found(&format!("/settings/channels?connect_error={code}"))
        }
    })
}

/// The platforms that can be connected here (their app credentials are configured).
#[utoipa::path(get, path = "/api/v1/channels/connectable", tag = "channels",
    responses((status = 200, body = Vec<ConnectableOut>)))]
pub async fn connectable(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<ConnectableOut>>> {
    Ok(Json(oauth::connectable(&s, &p)?))
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/channels/connectable", get(connectable))
        .route(
            "/api/v1/channels/{platform}/oauth/connect",
            get(start_oauth),
        )
        .route(
            "/api/v1/channels/{platform}/oauth/callback",
            get(oauth_callback),
        )
        .route(connect::START_PATH, get(start_connect))
        .route(connect::CALLBACK_PATH, get(facebook_callback))
        .route(
            "/api/v1/channels/facebook/connect/{attempt_id}/pages",
            get(list_managed_pages),
        )
        .route(
            "/api/v1/channels/facebook/connect/{attempt_id}",
            post(connect_pages),
        )
        .route(
            "/api/v1/channel-accounts/{id}/disconnect",
            post(disconnect_channel_account),
        )
        .route(
            "/api/v1/channel-accounts/{id}/backfill",
            post(backfill_channel_account),
        )
}
