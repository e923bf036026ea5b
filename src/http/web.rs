//! The agent UI in `web/`: embedded in release builds, read from disk in debug builds (edit and
//! reload). Client-side routes (`/inbox/…`, `/channels/connect/…`, `/setup`, `/login`) get
//! `index.html`.

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::state::AppState;

macro_rules! embedded {
    ($($name:literal),* $(,)?) => {
        /// Every file of `web/`, embedded.
        const FILES: &[(&str, &str)] = &[$(($name, include_str!(concat!("../../web/", $name)))),*];
    };
}

embedded!(
    "index.html",
    "app.js",
    "app.css",
    "api.js",
    "dom.js",
    "format.js",
    "i18n.js",
    "live.js"
);

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

fn serve(name: &str) -> Response {
    let body: Option<String> = if cfg!(debug_assertions) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        FILES
            .iter()
            .any(|(n, _)| *n == name)
            .then(|| std::fs::read_to_string(dir.join(name)).ok())
            .flatten()
            .or_else(|| {
                FILES
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, b)| (*b).to_owned())
            })
    } else {
        FILES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| (*b).to_owned())
    };
    match body {
        Some(b) => (
            [
                (header::CONTENT_TYPE, content_type(name)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            b,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

async fn index() -> Response {
    serve("index.html")
}

async fn asset(Path(name): Path<String>) -> Response {
    serve(&name)
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/login", get(index))
        .route("/setup", get(index))
        .route("/inbox", get(index))
        .route("/inbox/{id}", get(index))
        .route("/channels/connect/{id}", get(index))
        .route("/{name}", get(asset))
}
