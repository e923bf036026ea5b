//! The leads API: leads (from chats, comments and website hand-offs), their stages, calls and
//! assignment; the caller's availability for distribution; pipeline settings; canned-response
//! shortcut expansion.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::AppResult;
use crate::http::extract::{AppJson, Auth};
use crate::services::assignment::{self, Availability};
use crate::services::leads::{
    self, AssignIn, CallIn, CallLogged, CallOut, LeadDetail, LeadFilter, LeadIn, LeadOut, LeadPage,
    LeadPatch,
};
use crate::services::pipeline::{self, PipelineSettings};
use crate::services::settings::{self, ExpandedOut};
use crate::state::AppState;

/// Leads, newest first, with counts per stage.
#[utoipa::path(get, path = "/api/v1/leads", tag = "leads", params(LeadFilter), responses((status = 200, body = LeadPage)))]
pub async fn list(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<LeadFilter>,
) -> AppResult<Json<LeadPage>> {
    Ok(Json(leads::list(&s, &p, f).await?))
}

/// A website cart hand-off (API key) or a lead typed in by staff.
#[utoipa::path(post, path = "/api/v1/leads", tag = "leads", request_body = LeadIn, responses((status = 201, body = LeadOut), (status = 400, body = crate::error::ErrorOut), (status = 401, body = crate::error::ErrorOut)))]
pub async fn create(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(i): AppJson<LeadIn>,
) -> AppResult<(StatusCode, Json<LeadOut>)> {
    Ok((StatusCode::CREATED, Json(leads::create(&s, &p, i).await?)))
}

/// A lead with its calls, audit trail and phone record.
#[utoipa::path(get, path = "/api/v1/leads/{id}", tag = "leads", params(("id" = Uuid, Path)), responses((status = 200, body = LeadDetail)))]
pub async fn get_one(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<LeadDetail>> {
    Ok(Json(leads::get(&s, &p, id).await?))
}

/// Move a lead to another stage.
#[utoipa::path(patch, path = "/api/v1/leads/{id}", tag = "leads", params(("id" = Uuid, Path)), request_body = LeadPatch, responses((status = 200, body = LeadOut), (status = 422, body = crate::error::ErrorOut)))]
pub async fn update(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(i): AppJson<LeadPatch>,
) -> AppResult<Json<LeadOut>> {
    Ok(Json(leads::update(&s, &p, id, i).await?))
}

/// Assign a lead (managers: anyone or nobody; agents: an unassigned lead to themselves).
#[utoipa::path(post, path = "/api/v1/leads/{id}/assign", tag = "leads", params(("id" = Uuid, Path)), request_body = AssignIn, responses((status = 200, body = LeadOut), (status = 403, body = crate::error::ErrorOut)))]
pub async fn assign(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(i): AppJson<AssignIn>,
) -> AppResult<Json<LeadOut>> {
    Ok(Json(leads::assign(&s, &p, id, i).await?))
}

/// The calls of a lead, newest first.
#[utoipa::path(get, path = "/api/v1/leads/{id}/calls", tag = "leads", params(("id" = Uuid, Path)), responses((status = 200, body = Vec<CallOut>)))]
pub async fn calls(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<Vec<CallOut>>> {
    Ok(Json(leads::calls(&s, &p, id).await?))
}

/// Log a call on a lead.
#[utoipa::path(post, path = "/api/v1/leads/{id}/calls", tag = "leads", params(("id" = Uuid, Path)), request_body = CallIn, responses((status = 201, body = CallLogged), (status = 422, body = crate::error::ErrorOut)))]
pub async fn log_call(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(i): AppJson<CallIn>,
) -> AppResult<(StatusCode, Json<CallLogged>)> {
    Ok((
        StatusCode::CREATED,
        Json(leads::log_call(&s, &p, id, i).await?),
    ))
}

/// Come on or go off shift.
#[utoipa::path(put, path = "/api/v1/me/availability", tag = "leads", request_body = Availability, responses((status = 200, body = Availability)))]
pub async fn availability(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(i): AppJson<Availability>,
) -> AppResult<Json<Availability>> {
    Ok(Json(assignment::set_availability(&s, &p, i).await?))
}

/// The workspace's pipeline settings.
#[utoipa::path(get, path = "/api/v1/pipeline-settings", tag = "leads", responses((status = 200, body = PipelineSettings)))]
pub async fn get_settings(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<PipelineSettings>> {
    Ok(Json(pipeline::get(&s, &p).await?))
}

/// Replace the pipeline settings.
#[utoipa::path(put, path = "/api/v1/pipeline-settings", tag = "leads", request_body = PipelineSettings, responses((status = 200, body = PipelineSettings)))]
pub async fn put_settings(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(i): AppJson<PipelineSettings>,
) -> AppResult<Json<PipelineSettings>> {
    Ok(Json(pipeline::put(&s, &p, i).await?))
}

/// The text to expand.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExpandQuery {
    /// A reply text, e.g. `/gia size M`.
    pub text: String,
}

/// What a reply text becomes when sent (`/shortcut rest` → canned content + rest).
#[utoipa::path(get, path = "/api/v1/canned-responses/expand", tag = "settings", params(ExpandQuery), responses((status = 200, body = ExpandedOut)))]
pub async fn expand(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ExpandQuery>,
) -> AppResult<Json<ExpandedOut>> {
    Ok(Json(settings::expand(&s, &p, &q.text).await?))
}

/// The OpenAPI part of this module.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list,
    create,
    get_one,
    update,
    assign,
    calls,
    log_call,
    availability,
    get_settings,
    put_settings,
    expand
))]
pub struct Api;

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/leads", get(list).post(create))
        .route("/api/v1/leads/{id}", get(get_one).patch(update))
        .route("/api/v1/leads/{id}/assign", post(assign))
        .route("/api/v1/leads/{id}/calls", get(calls).post(log_call))
        .route("/api/v1/me/availability", put(availability))
        .route(
            "/api/v1/pipeline-settings",
            get(get_settings).put(put_settings),
        )
        .route("/api/v1/canned-responses/expand", get(expand))
}
