//! Extractors: the authenticated principal (session cookie + CSRF, or API key), JSON bodies
//! whose rejections use our error shape, and the client IP.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use serde::de::DeserializeOwned;

use crate::error::AppError;
use crate::services::auth::{self, Principal};
use crate::state::AppState;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "tongdai_session";
/// Name of the (readable) CSRF cookie.
pub const CSRF_COOKIE: &str = "tongdai_csrf";
/// Header that must echo the CSRF token on state-changing requests.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of cookie `name`.
pub fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The authenticated caller. Cookie sessions must send `X-CSRF-Token` on every method other
/// than GET/HEAD/OPTIONS; API keys (`Authorization: Bearer td_…`) are not cookies and need none.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(key) = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        {
            return auth::principal_from_api_key(state, key.trim())
                .await?
                .map(Auth)
                .ok_or_else(|| AppError::unauthorized("invalid_api_key", "API key is not valid"));
        }
        let token = cookie(parts, SESSION_COOKIE)
            .ok_or_else(|| AppError::unauthorized("unauthenticated", "sign in first"))?;
        let p = auth::principal_from_session(state, token)
            .await?
            .ok_or_else(|| {
                AppError::unauthorized("session_expired", "session expired, sign in again")
            })?;
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let expected = p.csrf_token.as_deref().unwrap_or_default();
            if expected.is_empty()
                || !tongdai_connectors::verify::constant_time_eq(
                    sent.as_bytes(),
                    expected.as_bytes(),
                )
            {
                return Err(AppError::forbidden(
                    "csrf",
                    "missing or wrong X-CSRF-Token header",
                ));
            }
        }
        Ok(Auth(p))
    }
}

/// The client's IP (the socket peer).
pub struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        Ok(ClientIp(ip))
    }
}

/// `Json<T>` whose rejections are `{code, message}` 400s.
pub struct AppJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for AppJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(AppJson(v)),
            Err(e) => Err(AppError::bad_request("invalid_body", e.body_text())),
        }
    }
}
