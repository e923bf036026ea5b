//! The agent UI in `web/`: every file embedded in release builds (listed by `build.rs`), read
//! from disk in debug builds (edit and reload). Client-side routes (`/inbox/…`, `/leads/…`,
//! `/orders/…`, `/settings/…`, `/login`, …) get `index.html`. Every answer carries a
//! Content-Security-Policy that allows scripts and styles from this origin only (no inline
//! script, no `eval`), so text a customer wrote can never become code in an agent's browser.

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::error::AppError;
use crate::state::AppState;

include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// Scripts, styles, fonts and sockets from this origin only; customers' pictures from any
/// http(s) host (they are shown as `<img>`, never fetched by script); nothing may frame us.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' https: http: data: blob:; media-src 'self' https: http: blob:; \
    connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

/// First path segments the client-side router handles (they all get `index.html`).
const CLIENT_ROUTES: &[&str] = &[
    "login",
    "setup",
    "inbox",
    "leads",
    "orders",
    "fulfillment",
    "reports",
    "settings",
    "channels",
];

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn lookup(name: &str) -> Option<Vec<u8>> {
    let embedded = FILES.iter().find(|(n, _)| *n == name).map(|(_, b)| *b)?;
    if cfg!(debug_assertions) {
        // Only names that are part of the UI; the embedded copy if the file went away.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        if let Ok(bytes) = std::fs::read(dir.join(name)) {
            return Some(bytes);
        }
    }
    Some(embedded.to_vec())
}

/// The bytes of a file of `web/` (for routes that serve one with other headers).
pub fn file(name: &str) -> Option<Vec<u8>> {
    lookup(name)
}

fn serve(name: &str) -> Response {
    match lookup(name) {
        Some(body) => {
            let mut res = (
                [
                    (header::CONTENT_TYPE, content_type(name)),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                body,
            )
                .into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            );
            h.insert(
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            );
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            res
        }
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn index() -> Response {
    serve("index.html")
}

async fn asset(Path(path): Path<String>) -> Response {
    if FILES.iter().any(|(n, _)| *n == path) {
        return serve(&path);
    }
    let first = path.split('/').next().unwrap_or("");
    if CLIENT_ROUTES.contains(&first) {
        return serve("index.html");
    }
    AppError::NotFound("route").into_response()
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        // Other methods on unknown paths stay a 404, as without this catch-all.
        .route(
            "/{*path}",
            get(asset).fallback(|| async { AppError::NotFound("route") }),
        )
}
