//! The feedback API: answers to the feedback question, and the category of a complaint.

use axum::extract::{Path, Query, State};
use axum::routing::{get, patch};
use axum::{Json, Router};
use uuid::Uuid;

use crate::error::AppResult;
use crate::http::extract::{AppJson, Auth};
use crate::services::feedback::{self, ComplaintIn, FeedbackFilter, FeedbackOut};
use crate::services::views::ConversationOut;
use crate::state::AppState;

/// Answered feedback, newest first (`rating_lte=2`: the complaints).
#[utoipa::path(get, path = "/api/v1/feedback", tag = "feedback", params(FeedbackFilter), responses((status = 200, body = Vec<FeedbackOut>), (status = 400, body = crate::error::ErrorOut)))]
pub async fn list_feedback(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<FeedbackFilter>,
) -> AppResult<Json<Vec<FeedbackOut>>> {
    Ok(Json(feedback::list(&s, &p, f).await?))
}

/// Choose the category of a conversation's complaint (`null` closes it).
#[utoipa::path(patch, path = "/api/v1/conversations/{id}/complaint", tag = "feedback", params(("id" = Uuid, Path)), request_body = ComplaintIn, responses((status = 200, body = ConversationOut), (status = 404, body = crate::error::ErrorOut)))]
pub async fn set_complaint(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<ComplaintIn>,
) -> AppResult<Json<ConversationOut>> {
    Ok(Json(feedback::set_complaint(&s, &p, id, input).await?))
}

/// The OpenAPI part of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list_feedback, set_complaint))]
pub struct Api;

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/feedback", get(list_feedback))
        .route("/api/v1/conversations/{id}/complaint", patch(set_complaint))
}
