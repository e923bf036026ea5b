//! Operations: `/healthz` (process up), `/readyz` (database reachable, workers alive),
//! `/metrics` (Prometheus).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::metrics::Gauges;
use crate::services::jobs;
use crate::state::AppState;

/// Liveness.
pub async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the database answers and (when this node runs them) the workers loop.
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let db = state.db.ping().await;
    let now = chrono::Utc::now().timestamp();
    let alive = |cell: &std::sync::atomic::AtomicI64| now - cell.load(Ordering::Relaxed) < 30;
    let workers =
        !state.cfg.workers || (alive(&state.heartbeats.ingest) && alive(&state.heartbeats.jobs));
    let status = if db && workers {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({ "database": db, "workers": workers })))
}

/// Prometheus metrics.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let events_pending =
        crate::store::entities::inbound_event::Entity::find_pending_count(&state.db.read).await;
    let g = Gauges {
        jobs_pending: jobs::pending_count(&state).await,
        events_pending,
        ws_clients: state.bus.clients(),
    };
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&g),
    )
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}
