//! `GET|POST /webhooks/{platform}`: the ingest hot path. Raw bytes in, verified, stored,
//! acknowledged only once durable.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde_json::json;
use tongdai_connectors::InboundRequest;

use crate::services::ingest::{self, Stored, WebhookError, WebhookOutcome};
use crate::state::AppState;

/// Webhook bodies are JSON events, never media: 1 MiB is plenty.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// Receive a platform webhook.
#[utoipa::path(post, path = "/webhooks/{platform}", tag = "webhooks",
    params(("platform" = String, Path, description = "facebook, instagram or zalo")),
    responses((status = 200, description = "stored (or a duplicate)"), (status = 401, description = "bad or missing signature", body = crate::error::ErrorOut), (status = 503, description = "could not persist; retry")))]
pub async fn receive_webhook(
    State(state): State<AppState>,
    Path(platform): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let body = match read_body(&state, body).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    let req = InboundRequest {
        method: &method,
        headers: &headers,
        query: query.as_deref(),
        body: &body,
    };
    match ingest::receive_webhook(&state, &platform, &req, body.clone()).await {
        Ok(WebhookOutcome::Handshake(h)) => (
            StatusCode::from_u16(h.status).unwrap_or(StatusCode::OK),
            [(header::CONTENT_TYPE, h.content_type)],
            h.body,
        )
            .into_response(),
        Ok(WebhookOutcome::AcceptedEmpty) => StatusCode::OK.into_response(),
        Ok(WebhookOutcome::Accepted(s)) => (
            StatusCode::OK,
            axum::Json(
                json!({ "status": "accepted", "duplicate": matches!(s, Stored::Duplicate) }),
            ),
        )
            .into_response(),
        Err(e) => {
            let (status, code, message) = match e {
                WebhookError::UnknownPlatform => (
                    StatusCode::NOT_FOUND,
                    "unknown_platform".to_owned(),
                    format!("no webhook receiver for {platform:?}"),
                ),
                WebhookError::NotAHandshake => (
                    StatusCode::BAD_REQUEST,
                    "not_a_handshake".to_owned(),
                    "GET is only for the subscription handshake".to_owned(),
                ),
                WebhookError::Refused(v) => {
                    let status = if matches!(v, tongdai_connectors::VerifyError::BadVerifyToken) {
                        StatusCode::FORBIDDEN
                    } else {
                        StatusCode::UNAUTHORIZED
                    };
                    (status, v.code().to_owned(), v.to_string())
                }
                WebhookError::Unavailable => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "could_not_persist".to_owned(),
                    "could not persist, retry later".to_owned(),
                ),
            };
            (
                status,
                axum::Json(json!({ "code": code, "message": message })),
            )
                .into_response()
        }
    }
}

/// Read a webhook body ourselves: a size cap (413) and a deadline (408), so a slow sender holds
/// a connection for a bounded time and never a database writer (only complete bodies reach it).
pub async fn read_body(state: &AppState, body: Body) -> Result<axum::body::Bytes, Response> {
    let deadline =
        std::time::Duration::from_secs(u64::from(state.cfg.webhook_body_timeout_seconds.max(1)));
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, BODY_LIMIT)).await {
        Ok(Ok(b)) => Ok(b),
        Ok(Err(_)) => Err(reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body_too_large",
            "webhook bodies are limited to 1 MiB",
        )),
        Err(_) => Err(reject(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            "the body did not arrive in time",
        )),
    }
}

fn reject(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(json!({ "code": code, "message": message })),
    )
        .into_response()
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/webhooks/{platform}", any(receive_webhook))
        // The handler enforces the limit itself (with a JSON 413).
        .layer(DefaultBodyLimit::disable())
}
