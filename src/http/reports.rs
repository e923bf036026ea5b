//! The reports API: one JSON with every figure of a range of local days.

use axum::extract::{Query, State};
use axum::routing::get;
use axum::{Json, Router};

use crate::error::AppResult;
use crate::http::extract::Auth;
use crate::services::reports::{self, ReportOut, ReportQuery};
use crate::state::AppState;

/// The report of local days `from`..=`to` (at most 366) in time zone `tz`.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports", params(ReportQuery), responses((status = 200, body = ReportOut), (status = 400, body = crate::error::ErrorOut), (status = 403, body = crate::error::ErrorOut)))]
pub async fn get_report(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<ReportQuery>,
) -> AppResult<Json<ReportOut>> {
    Ok(Json(reports::report(&s, &p, q).await?))
}

/// The OpenAPI part of these routes.
#[derive(utoipa::OpenApi)]
#[openapi(paths(get_report))]
pub struct Api;

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/reports", get(get_report))
}
