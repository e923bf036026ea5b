//! Customers' files copied from platform CDNs, served to their workspace.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use tokio::io::AsyncReadExt;
use uuid::Uuid;

use crate::error::AppResult;
use crate::http::extract::Auth;
use crate::services::media;
use crate::state::AppState;

/// Bytes read from disk per body frame.
const CHUNK: usize = 64 * 1024;

/// A stored customer file (an attachment's `media_id`), with the content type it was served
/// with. Images, video and audio are `inline`, anything else an `attachment`.
#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "inbox", params(("id" = Uuid, Path)), responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream"), (status = 404, body = crate::error::ErrorOut)))]
pub async fn get_media(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Response> {
    let f = media::open(&s, &p, id).await?;
    let disposition = if f.inline { "inline" } else { "attachment" };
    let mut headers = vec![
        (header::CONTENT_TYPE, f.content_type),
        (header::CONTENT_LENGTH, f.size.to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
        (header::CONTENT_DISPOSITION, disposition.to_owned()),
        (header::CACHE_CONTROL, "private, max-age=86400".to_owned()),
        // Opened directly, a file is never a document that runs in our origin.
        (header::CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
    ];
    if let Some(sha) = f.sha256 {
        headers.push((header::ETAG, format!("\"{sha}\"")));
    }
    let mut resp = Body::from_stream(file_stream(f.file)).into_response();
    for (name, value) in headers {
        if let Ok(v) = value.parse() {
            resp.headers_mut().insert(name, v);
        }
    }
    Ok(resp)
}

/// The file as a stream of chunks; ends after the first read error.
fn file_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = std::io::Result<Bytes>> + Send {
    futures_util::stream::unfold(Some(file), |file| async move {
        let mut file = file?;
        let mut buf = vec![0u8; CHUNK];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok(Bytes::from(buf)), Some(file)))
            }
            Err(e) => Some((Err(e), None)),
        }
    })
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/v1/media/{id}", get(get_media))
}
