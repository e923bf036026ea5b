//! Administration API: members, API keys, channel accounts and stored inbound events.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, patch, post};
use axum::{Json, Router};
use uuid::Uuid;

use crate::error::AppResult;
use crate::http::extract::{AppJson, Auth};
use crate::services::auth::{self, ApiKeyIn, ApiKeyOut, MemberIn, MemberOut, MemberPatch};
use crate::services::channels::{self, ChannelAccountIn, ChannelAccountOut, ChannelAccountPatch};
use crate::services::events::{self, EventFilter, InboundEventOut};
use crate::state::AppState;

/// Members of the workspace.
#[utoipa::path(get, path = "/api/v1/members", tag = "members", responses((status = 200, body = Vec<MemberOut>)))]
pub async fn list_members(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<MemberOut>>> {
    Ok(Json(auth::list_members(&s, &p).await?))
}

/// Add a member.
#[utoipa::path(post, path = "/api/v1/members", tag = "members", request_body = MemberIn, responses((status = 201, body = MemberOut)))]
pub async fn add_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(i): AppJson<MemberIn>,
) -> AppResult<(StatusCode, Json<MemberOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(auth::add_member(&s, &p, i).await?),
    ))
}

/// Change a member's role or availability.
#[utoipa::path(patch, path = "/api/v1/members/{id}", tag = "members", params(("id" = Uuid, Path)), request_body = MemberPatch, responses((status = 200, body = MemberOut)))]
pub async fn update_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(i): AppJson<MemberPatch>,
) -> AppResult<Json<MemberOut>> {
    Ok(Json(auth::update_member(&s, &p, id, i).await?))
}

/// Remove a member.
#[utoipa::path(delete, path = "/api/v1/members/{id}", tag = "members", params(("id" = Uuid, Path)), responses((status = 204)))]
pub async fn remove_member(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    auth::remove_member(&s, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// API keys.
#[utoipa::path(get, path = "/api/v1/api-keys", tag = "members", responses((status = 200, body = Vec<ApiKeyOut>)))]
pub async fn list_api_keys(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<ApiKeyOut>>> {
    Ok(Json(auth::list_api_keys(&s, &p).await?))
}

/// Create an API key (the key is in this response only).
#[utoipa::path(post, path = "/api/v1/api-keys", tag = "members", request_body = ApiKeyIn, responses((status = 201, body = ApiKeyOut)))]
pub async fn create_api_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(i): AppJson<ApiKeyIn>,
) -> AppResult<(StatusCode, Json<ApiKeyOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(auth::create_api_key(&s, &p, i).await?),
    ))
}

/// Revoke an API key.
#[utoipa::path(delete, path = "/api/v1/api-keys/{id}", tag = "members", params(("id" = Uuid, Path)), responses((status = 204)))]
pub async fn revoke_api_key(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    auth::revoke_api_key(&s, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Channel accounts.
#[utoipa::path(get, path = "/api/v1/channel-accounts", tag = "channels", responses((status = 200, body = Vec<ChannelAccountOut>)))]
pub async fn list_channel_accounts(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<ChannelAccountOut>>> {
    Ok(Json(channels::list(&s, &p).await?))
}

/// Connect a channel account.
#[utoipa::path(post, path = "/api/v1/channel-accounts", tag = "channels", request_body = ChannelAccountIn, responses((status = 201, body = ChannelAccountOut), (status = 409, body = crate::error::ErrorOut)))]
pub async fn create_channel_account(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(i): AppJson<ChannelAccountIn>,
) -> AppResult<(StatusCode, Json<ChannelAccountOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(channels::create(&s, &p, i).await?),
    ))
}

/// Change a channel account (secrets are write-only).
#[utoipa::path(patch, path = "/api/v1/channel-accounts/{id}", tag = "channels", params(("id" = Uuid, Path)), request_body = ChannelAccountPatch, responses((status = 200, body = ChannelAccountOut)))]
pub async fn update_channel_account(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(i): AppJson<ChannelAccountPatch>,
) -> AppResult<Json<ChannelAccountOut>> {
    Ok(Json(channels::update(&s, &p, id, i).await?))
}

/// Disable a channel account.
#[utoipa::path(post, path = "/api/v1/channel-accounts/{id}/disable", tag = "channels", params(("id" = Uuid, Path)), responses((status = 200, body = ChannelAccountOut)))]
pub async fn disable_channel_account(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<ChannelAccountOut>> {
    Ok(Json(channels::disable(&s, &p, id).await?))
}

/// Stored inbound events (default: the dead-lettered ones).
#[utoipa::path(get, path = "/api/v1/inbound-events", tag = "events", params(EventFilter), responses((status = 200, body = Vec<InboundEventOut>)))]
pub async fn list_inbound_events(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<EventFilter>,
) -> AppResult<Json<Vec<InboundEventOut>>> {
    Ok(Json(events::list(&s, &p, f).await?))
}

/// Re-process a failed or unrouted event.
#[utoipa::path(post, path = "/api/v1/inbound-events/{id}/replay", tag = "events", params(("id" = i64, Path)), responses((status = 202)))]
pub async fn replay_inbound_event(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<i64>,
) -> AppResult<StatusCode> {
    events::replay(&s, &p, id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/members", get(list_members).post(add_member))
        .route(
            "/api/v1/members/{id}",
            patch(update_member).delete(remove_member),
        )
        .route("/api/v1/api-keys", get(list_api_keys).post(create_api_key))
        .route("/api/v1/api-keys/{id}", delete(revoke_api_key))
        .route(
            "/api/v1/channel-accounts",
            get(list_channel_accounts).post(create_channel_account),
        )
        .route(
            "/api/v1/channel-accounts/{id}",
            patch(update_channel_account),
        )
        .route(
            "/api/v1/channel-accounts/{id}/disable",
            post(disable_channel_account),
        )
        .route("/api/v1/inbound-events", get(list_inbound_events))
        .route(
            "/api/v1/inbound-events/{id}/replay",
            post(replay_inbound_event),
        )
}
