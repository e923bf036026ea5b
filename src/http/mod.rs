//! HTTP: routes, extractors and DTO mapping only. Handlers extract, call one service, map the
//! result; no database code lives here.

pub mod admin;
pub mod auth;
pub mod connect;
pub mod extract;
pub mod feedback;
pub mod fulfillment;
pub mod inbox;
pub mod leads;
pub mod media;
pub mod openapi;
pub mod ops;
pub mod orders;
pub mod pipeline_webhooks;
pub mod reports;
pub mod web;
pub mod webhooks;
pub mod widget;
pub mod ws;

use axum::Router;
use axum::response::IntoResponse;
use tower_http::trace::TraceLayer;

use crate::error::AppError;
use crate::state::AppState;

async fn api_not_found() -> impl IntoResponse {
    AppError::NotFound("route")
}

/// The whole application router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhooks::router())
        .merge(orders::router())
        .merge(pipeline_webhooks::router())
        .merge(auth::router())
        .merge(inbox::router())
        .merge(leads::router())
        .merge(media::router())
        .merge(admin::router())
        .merge(fulfillment::router())
        .merge(connect::router())
        .merge(ws::router())
        .merge(widget::router())
        .merge(feedback::router())
        .merge(reports::router())
        .merge(ops::router())
        .merge(openapi::router())
        .merge(web::router())
        .fallback(api_not_found)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
