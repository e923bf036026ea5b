//! Fulfillment endpoints (outbound Standard Webhooks), their delivery log and redelivery.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use uuid::Uuid;

use crate::error::AppResult;
use crate::http::extract::{AppJson, Auth};
use crate::services::fulfillment::{
    self, EndpointCreated, EndpointIn, EndpointOut, EndpointPatch, MessageDetail, MessageFilter,
    MessageOut,
};
use crate::state::AppState;

/// Fulfillment endpoints of the workspace (never their secrets).
#[utoipa::path(get, path = "/api/v1/webhook-endpoints", tag = "fulfillment", responses((status = 200, body = Vec<EndpointOut>)))]
pub async fn list_endpoints(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<EndpointOut>>> {
    Ok(Json(fulfillment::list_endpoints(&s, &p).await?))
}

/// Add an endpoint. The `whsec_…` secret is in this response only. Non-public hosts are
/// refused with `400 endpoint_not_public` unless the instance allows private targets.
#[utoipa::path(post, path = "/api/v1/webhook-endpoints", tag = "fulfillment", request_body = EndpointIn, responses((status = 201, body = EndpointCreated), (status = 400, body = crate::error::ErrorOut)))]
pub async fn create_endpoint(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(i): AppJson<EndpointIn>,
) -> AppResult<(StatusCode, Json<EndpointCreated>)> {
    Ok((
        StatusCode::CREATED,
        Json(fulfillment::create_endpoint(&s, &p, i).await?),
    ))
}

/// One endpoint.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}", tag = "fulfillment", params(("id" = Uuid, Path)), responses((status = 200, body = EndpointOut), (status = 404, body = crate::error::ErrorOut)))]
pub async fn get_endpoint(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<EndpointOut>> {
    Ok(Json(fulfillment::get_endpoint(&s, &p, id).await?))
}

/// Change an endpoint; `{"enabled": true}` re-enables it and clears its failure state.
#[utoipa::path(patch, path = "/api/v1/webhook-endpoints/{id}", tag = "fulfillment", params(("id" = Uuid, Path)), request_body = EndpointPatch, responses((status = 200, body = EndpointOut), (status = 400, body = crate::error::ErrorOut)))]
pub async fn update_endpoint(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(i): AppJson<EndpointPatch>,
) -> AppResult<Json<EndpointOut>> {
    Ok(Json(fulfillment::update_endpoint(&s, &p, id, i).await?))
}

/// Remove an endpoint with its messages and delivery log.
#[utoipa::path(delete, path = "/api/v1/webhook-endpoints/{id}", tag = "fulfillment", params(("id" = Uuid, Path)), responses((status = 204)))]
pub async fn delete_endpoint(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    fulfillment::delete_endpoint(&s, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The delivery log of an endpoint: its messages, newest first.
#[utoipa::path(get, path = "/api/v1/webhook-endpoints/{id}/messages", tag = "fulfillment", params(("id" = Uuid, Path), MessageFilter), responses((status = 200, body = Vec<MessageOut>)))]
pub async fn list_messages(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    Query(f): Query<MessageFilter>,
) -> AppResult<Json<Vec<MessageOut>>> {
    Ok(Json(fulfillment::list_messages(&s, &p, id, f).await?))
}

/// One message: its exact body and every delivery attempt.
#[utoipa::path(get, path = "/api/v1/webhook-messages/{id}", tag = "fulfillment", params(("id" = String, Path)), responses((status = 200, body = MessageDetail), (status = 404, body = crate::error::ErrorOut)))]
pub async fn get_message(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<Json<MessageDetail>> {
    Ok(Json(fulfillment::get_message(&s, &p, &id).await?))
}

/// Deliver a message again (same `webhook-id`, fresh retry schedule); 409 if its endpoint is
/// disabled.
#[utoipa::path(post, path = "/api/v1/webhook-messages/{id}/redeliver", tag = "fulfillment", params(("id" = String, Path)), responses((status = 202, body = MessageOut), (status = 409, body = crate::error::ErrorOut)))]
pub async fn redeliver(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<String>,
) -> AppResult<(StatusCode, Json<MessageOut>)> {
    Ok((
        StatusCode::ACCEPTED,
        Json(fulfillment::redeliver(&s, &p, &id).await?),
    ))
}

/// The OpenAPI part of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    list_endpoints,
    create_endpoint,
    get_endpoint,
    update_endpoint,
    delete_endpoint,
    list_messages,
    get_message,
    redeliver
))]
pub struct Api;

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/webhook-endpoints",
            get(list_endpoints).post(create_endpoint),
        )
        .route(
            "/api/v1/webhook-endpoints/{id}",
            get(get_endpoint)
                .patch(update_endpoint)
                .delete(delete_endpoint),
        )
        .route(
            "/api/v1/webhook-endpoints/{id}/messages",
            get(list_messages),
        )
        .route("/api/v1/webhook-messages/{id}", get(get_message))
        .route("/api/v1/webhook-messages/{id}/redeliver", post(redeliver))
}
