//! `/api/v1/auth/*` and `/api/v1/setup`: sessions in an HttpOnly, SameSite=Lax cookie.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::AppResult;
use crate::http::extract::{AppJson, Auth, CSRF_COOKIE, ClientIp, SESSION_COOKIE};
use crate::services::auth::{self, LoginIn, MeOut, NewSession, SetupIn};
use crate::state::AppState;

fn with_cookies(state: &AppState, s: NewSession) -> Response {
    let secure = if state.cfg.secure_cookies() {
        "; Secure"
    } else {
        ""
    };
    let age = s.max_age.num_seconds();
    let session = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={age}{secure}",
        s.token
    );
    let csrf = format!(
        "{CSRF_COOKIE}={}; Path=/; SameSite=Lax; Max-Age={age}{secure}",
        s.me.csrf_token
    );
    let mut res = Json(s.me).into_response();
    for c in [session, csrf] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// Sign in.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginIn,
    responses((status = 200, body = MeOut), (status = 401, body = crate::error::ErrorOut), (status = 429, body = crate::error::ErrorOut)))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AppJson(input): AppJson<LoginIn>,
) -> AppResult<Response> {
    let s = auth::login(&state, input, ip).await?;
    Ok(with_cookies(&state, s))
}

/// Sign out.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", responses((status = 204)))]
pub async fn logout(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Response> {
    auth::logout(&state, &p).await?;
    let mut res = StatusCode::NO_CONTENT.into_response();
    for name in [SESSION_COOKIE, CSRF_COOKIE] {
        if let Ok(v) = HeaderValue::from_str(&format!("{name}=; Path=/; Max-Age=0")) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(res)
}

/// The signed-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", responses((status = 200, body = MeOut), (status = 401, body = crate::error::ErrorOut)))]
pub async fn me(State(state): State<AppState>, Auth(p): Auth) -> AppResult<Json<MeOut>> {
    Ok(Json(auth::me(&state, &p).await?))
}

/// Whether first-run setup is open.
#[derive(Serialize, ToSchema)]
pub struct SetupStatusOut {
    /// True until the first user exists.
    pub needed: bool,
}

/// Is setup needed?
#[utoipa::path(get, path = "/api/v1/setup/status", tag = "auth", responses((status = 200, body = SetupStatusOut)))]
pub async fn setup_status(State(state): State<AppState>) -> AppResult<Json<SetupStatusOut>> {
    Ok(Json(SetupStatusOut {
        needed: !auth::has_users(&state.db).await?,
    }))
}

/// Create the first owner with the one-time setup token.
#[utoipa::path(post, path = "/api/v1/setup", tag = "auth", request_body = SetupIn, responses((status = 200, body = MeOut), (status = 403, body = crate::error::ErrorOut)))]
pub async fn setup(
    State(state): State<AppState>,
    AppJson(input): AppJson<SetupIn>,
) -> AppResult<Response> {
    let s = auth::setup(&state, input).await?;
    Ok(with_cookies(&state, s))
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/login", post(login))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
        .route("/api/v1/setup/status", get(setup_status))
        .route("/api/v1/setup", post(setup))
}
