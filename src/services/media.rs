//! Customers' files copied from platform CDNs (their links expire) into
//! `<data_dir>/media/<id>`, and served back to the workspace that owns them.
//!
//! A `fetch_media` job downloads each attachment of an inbound message, only from allowed hosts
//! (`media_hosts`, or the platform API's own origin), following at most
//! [`MAX_REDIRECTS`] redirects that stay on allowed hosts, with a hard size cap and a list of
//! accepted content types. Every attempt leaves a `media` row (`stored` or `failed` with the
//! reason); a stored file's id is added to its attachment as `media_id`. A failure never
//! touches the message.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    IntoActiveModel, QueryFilter, QuerySelect, TransactionTrait,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tongdai_connectors::Platform;
use url::Url;
use uuid::Uuid;

use crate::config::Config;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::services::jobs::JobFailure;
use crate::services::profiles::{db_err, payload_id};
use crate::services::views::MessageOut;
use crate::state::AppState;
use crate::store::entities::{channel_account, job, media, message};

/// Redirects followed per download (each to an allowed host).
pub const MAX_REDIRECTS: usize = 3;

/// Attachment kinds whose URL is a web page or a map, not a file: never downloaded.
const LINK_KINDS: [&str; 5] = ["fallback", "share", "location", "template", "link"];

/// The directory stored files live in.
pub fn media_dir(cfg: &Config) -> PathBuf {
    cfg.data_dir.join("media")
}

/// The client for CDN downloads: no automatic redirects (each one is checked here), bounded time.
fn client() -> &'static reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("tongdai/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default()
    })
}

/// Where downloads may come from.
pub struct HostPolicy<'a> {
    hosts: &'a [String],
    api: Option<(String, Option<u16>)>,
}

impl<'a> HostPolicy<'a> {
    /// `hosts` (each with its subdomains) and the origin of `api_base` (host and port).
    pub fn new(hosts: &'a [String], api_base: &str) -> Self {
        let api = Url::parse(api_base).ok().and_then(|u| {
            let host = u.host_str()?.to_ascii_lowercase();
            Some((host, u.port_or_known_default()))
        });
        HostPolicy { hosts, api }
    }

    /// Whether `url` is an http(s) URL on an allowed host.
    pub fn allows(&self, url: &Url) -> bool {
        if !matches!(url.scheme(), "http" | "https") {
            return false;
        }
        let Some(host) = url.host_str() else {
            return false;
        };
        let host = host.to_ascii_lowercase();
        let host = host.trim_end_matches('.');
        if let Some((api_host, api_port)) = &self.api
            && host == api_host
            && url.port_or_known_default() == *api_port
        {
            return true;
        }
        self.hosts.iter().any(|d| {
            let d = d.trim().trim_matches('.').to_ascii_lowercase();
            !d.is_empty()
                && (host == d
                    || host
                        .strip_suffix(d.as_str())
                        .is_some_and(|rest| rest.ends_with('.')))
        })
    }
}

/// Whether a file of `content_type` (a lowercase media type, no parameters) is kept for an
/// attachment of `kind`.
pub fn accepted_type(content_type: &str, kind: &str) -> bool {
    let Some((top, sub)) = content_type.split_once('/') else {
        return false;
    };
    match top {
        // SVG is a document that can run scripts: not served from our origin.
        "image" => sub != "svg+xml",
        "video" | "audio" => true,
        "application" => {
            matches!(
                sub,
                "pdf"
                    | "zip"
                    | "x-zip-compressed"
                    | "x-rar-compressed"
                    | "vnd.rar"
                    | "x-7z-compressed"
                    | "msword"
                    | "vnd.ms-excel"
                    | "vnd.ms-powerpoint"
                    | "rtf"
            ) || sub.starts_with("vnd.openxmlformats-officedocument.")
                || sub.starts_with("vnd.oasis.opendocument.")
                || (sub == "octet-stream" && kind == "file")
        }
        _ => false,
    }
}

/// Whether a stored file of `content_type` is shown in the browser rather than downloaded.
pub fn shown_inline(content_type: &str) -> bool {
    ["image/", "video/", "audio/"]
        .iter()
        .any(|p| content_type.starts_with(p))
        && content_type != "image/svg+xml"
}

/// Why a download did not produce a file.
#[derive(Debug)]
enum Failure {
    /// It never will (host, type, size, 4xx): recorded, not retried.
    Refused(String),
    /// A later attempt may succeed (network, 5xx, throttling): recorded, retried.
    Transient(String),
}

impl Failure {
    fn reason(&self) -> &str {
        match self {
            Failure::Refused(m) | Failure::Transient(m) => m,
        }
    }
}

/// A file written to the media directory.
struct Fetched {
    content_type: String,
    size: u64,
    sha256: String,
}

/// Run a `fetch_media` job: copy each attachment of an inbound message.
pub async fn fetch_media(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let id = payload_id(j, "message_id")?;
    let db = &state.db.write;
    let Some(m) = message::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    if m.direction != "in" {
        return Ok(());
    }
    let ws = m.workspace_id;
    let Some(acc) = channel_account::Entity::find_by_id(m.channel_account_id)
        .filter(channel_account::Column::WorkspaceId.eq(ws))
        .one(db)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    let api_base = acc
        .platform
        .parse::<Platform>()
        .map(|p| state.api_base(p))
        .unwrap_or_default();
    let policy = HostPolicy::new(&state.cfg.media_hosts, api_base);
    let attachments = m.attachments.as_array().cloned().unwrap_or_default();
    let mut retry: Option<String> = None;
    let mut linked: Option<message::Model> = None;
    for a in &attachments {
        let Some(url) = a.get("url").and_then(|v| v.as_str()) else {
            continue;
        };
        if a.get("media_id").is_some_and(|v| !v.is_null()) {
            continue;
        }
        let kind = a.get("kind").and_then(|v| v.as_str()).unwrap_or("file");
        if LINK_KINDS.contains(&kind) {
            continue;
        }
        let existing = media::Entity::find()
            .filter(media::Column::WorkspaceId.eq(ws))
            .filter(media::Column::MessageId.eq(m.id))
            .filter(media::Column::SourceUrl.eq(url))
            .one(db)
            .await
            .map_err(db_err)?;
        if let Some(row) = &existing
            && row.status == "stored"
        {
            // Stored by an earlier attempt that could not link it.
            if let Some(updated) = link(state, ws, m.id, url, row.id).await.map_err(db_err)? {
                linked = Some(updated);
            }
            continue;
        }
        let media_id = existing.as_ref().map_or_else(Uuid::now_v7, |r| r.id);
        match download(state, &policy, url, kind, media_id).await {
            Ok(f) => {
                match store(state, &m, url, media_id, existing, &f).await {
                    Ok(Some(updated)) => linked = Some(updated),
                    Ok(None) => {}
                    Err(e) => {
                        // The row says nothing about this file: do not keep it.
                        let _ = tokio::fs::remove_file(
                            media_dir(&state.cfg).join(media_id.to_string()),
                        )
                        .await;
                        return Err(db_err(e));
                    }
                }
            }
            Err(f) => {
                let host = Url::parse(url)
                    .ok()
                    .and_then(|u| u.host_str().map(str::to_owned))
                    .unwrap_or_default();
                tracing::warn!(message = %m.id, %host, reason = f.reason(), "customer media not copied");
                record_failure(state, &m, url, media_id, existing, f.reason())
                    .await
                    .map_err(db_err)?;
                if let Failure::Transient(msg) = f {
                    retry = Some(msg);
                }
            }
        }
    }
    if let Some(m) = linked {
        state
            .bus
            .publish(
                ws,
                "message.updated",
                json!({ "message": MessageOut::from(m) }),
            )
            .await;
    }
    match retry {
        Some(msg) => Err(JobFailure::retry(msg)),
        None => Ok(()),
    }
}

/// Insert or update the media row as failed with `reason`.
async fn record_failure(
    state: &AppState,
    m: &message::Model,
    url: &str,
    id: Uuid,
    existing: Option<media::Model>,
    reason: &str,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    match existing {
        Some(row) => {
            let mut am = row.into_active_model();
            am.status = Set("failed".into());
            am.error = Set(Some(reason.to_owned()));
            am.updated_at = Set(now);
            am.update(&state.db.write).await?;
        }
        None => {
            media::ActiveModel {
                id: Set(id),
                workspace_id: Set(m.workspace_id),
                message_id: Set(Some(m.id)),
                source_url: Set(url.to_owned()),
                content_type: Set(None),
                size: Set(None),
                sha256: Set(None),
                status: Set("failed".into()),
                error: Set(Some(reason.to_owned())),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&state.db.write)
            .await?;
        }
    }
    Ok(())
}

/// Record a stored file and put its id on the attachment, in one transaction. Returns the
/// message when it changed.
async fn store(
    state: &AppState,
    m: &message::Model,
    url: &str,
    id: Uuid,
    existing: Option<media::Model>,
    f: &Fetched,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    let now = Utc::now();
    let txn = state.db.write.begin().await?;
    let size = i64::try_from(f.size).unwrap_or(i64::MAX);
    match existing {
        Some(row) => {
            let mut am = row.into_active_model();
            am.status = Set("stored".into());
            am.error = Set(None);
            am.content_type = Set(Some(f.content_type.clone()));
            am.size = Set(Some(size));
            am.sha256 = Set(Some(f.sha256.clone()));
            am.updated_at = Set(now);
            am.update(&txn).await?;
        }
        None => {
            media::ActiveModel {
                id: Set(id),
                workspace_id: Set(m.workspace_id),
                message_id: Set(Some(m.id)),
                source_url: Set(url.to_owned()),
                content_type: Set(Some(f.content_type.clone())),
                size: Set(Some(size)),
                sha256: Set(Some(f.sha256.clone())),
                status: Set("stored".into()),
                error: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(&txn)
            .await?;
        }
    }
    let changed = link_in(&txn, m.workspace_id, m.id, url, id).await?;
    txn.commit().await?;
    Ok(changed)
}

async fn link(
    state: &AppState,
    ws: Uuid,
    message_id: Uuid,
    url: &str,
    media_id: Uuid,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    let txn = state.db.write.begin().await?;
    let changed = link_in(&txn, ws, message_id, url, media_id).await?;
    txn.commit().await?;
    Ok(changed)
}

/// Add `"media_id"` to the first attachment of the message with `url` that has none.
async fn link_in(
    txn: &sea_orm::DatabaseTransaction,
    ws: Uuid,
    message_id: Uuid,
    url: &str,
    media_id: Uuid,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    let mut find =
        message::Entity::find_by_id(message_id).filter(message::Column::WorkspaceId.eq(ws));
    if txn.get_database_backend() == DbBackend::Postgres {
        // Ingest may edit the same message (an edit event): no lost update.
        find = find.lock_exclusive();
    }
    let Some(m) = find.one(txn).await? else {
        return Ok(None);
    };
    let mut attachments = m.attachments.clone();
    let Some(slot) = attachments.as_array_mut().and_then(|a| {
        a.iter_mut().find(|x| {
            x.get("url").and_then(|u| u.as_str()) == Some(url)
                && x.get("media_id").is_none_or(|v| v.is_null())
        })
    }) else {
        return Ok(None);
    };
    let Some(obj) = slot.as_object_mut() else {
        return Ok(None);
    };
    obj.insert("media_id".into(), json!(media_id));
    let mut am = m.into_active_model();
    am.attachments = Set(attachments);
    am.updated_at = Set(Utc::now());
    Ok(Some(am.update(txn).await?))
}

/// The media type of a response, lowercase without parameters (`application/octet-stream` when
/// absent).
fn media_type(resp: &reqwest::Response) -> String {
    resp.headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| "application/octet-stream".to_owned())
}

/// Fetch `url` (checking every hop) into `<media dir>/<id>`.
async fn download(
    state: &AppState,
    policy: &HostPolicy<'_>,
    url: &str,
    kind: &str,
    id: Uuid,
) -> Result<Fetched, Failure> {
    let mut url = Url::parse(url).map_err(|_| Failure::Refused("not a valid URL".into()))?;
    let mut hops = 0;
    let resp = loop {
        if !policy.allows(&url) {
            return Err(Failure::Refused(format!(
                "{} is not an allowed media host",
                url.host_str().unwrap_or("(no host)")
            )));
        }
        let resp = client()
            .get(url.clone())
            .send()
            .await
            .map_err(|e| Failure::Transient(format!("download failed: {}", e.without_url())))?;
        if !resp.status().is_redirection() {
            break resp;
        }
        if hops == MAX_REDIRECTS {
            return Err(Failure::Refused(format!(
                "more than {MAX_REDIRECTS} redirects"
            )));
        }
        let next = resp
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|loc| url.join(loc).ok())
            .ok_or_else(|| Failure::Refused("a redirect without a usable location".into()))?;
        url = next;
        hops += 1;
    };
    let status = resp.status();
    if !status.is_success() {
        let msg = format!("the file server answered HTTP {}", status.as_u16());
        return Err(
            if status.is_server_error() || matches!(status.as_u16(), 408 | 429) {
                Failure::Transient(msg)
            } else {
                Failure::Refused(msg)
            },
        );
    }
    let content_type = media_type(&resp);
    if !accepted_type(&content_type, kind) {
        return Err(Failure::Refused(format!(
            "content type {content_type} is not accepted for a {kind} attachment"
        )));
    }
    let max = state.cfg.media_max_bytes;
    if let Some(len) = resp.content_length()
        && len > max
    {
        return Err(Failure::Refused(format!(
            "the file is {len} bytes, over the limit of {max}"
        )));
    }
    let dir = media_dir(&state.cfg);
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| Failure::Transient(format!("creating the media directory: {e}")))?;
    let part = dir.join(format!(".{id}.part"));
    let result = write_capped(resp, &part, max).await;
    match result {
        Ok((size, sha256)) => {
            let path = dir.join(id.to_string());
            if let Err(e) = tokio::fs::rename(&part, &path).await {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(Failure::Transient(format!("storing the file: {e}")));
            }
            sync_dir(&dir).await;
            Ok(Fetched {
                content_type,
                size,
                sha256,
            })
        }
        Err(f) => {
            let _ = tokio::fs::remove_file(&part).await;
            Err(f)
        }
    }
}

/// Stream the body into `path`, aborting past `max` bytes; fsync. Returns size and sha256.
async fn write_capped(
    mut resp: reqwest::Response,
    path: &Path,
    max: u64,
) -> Result<(u64, String), Failure> {
    let io = |e: std::io::Error| Failure::Transient(format!("writing the file: {e}"));
    let mut file = tokio::fs::File::create(path).await.map_err(io)?;
    let mut hash = Sha256::new();
    let mut size: u64 = 0;
    loop {
        let chunk = resp.chunk().await.map_err(|e| {
            Failure::Transient(format!("download interrupted: {}", e.without_url()))
        })?;
        let Some(chunk) = chunk else { break };
        size += chunk.len() as u64;
        if size > max {
            return Err(Failure::Refused(format!(
                "the file is over the limit of {max} bytes"
            )));
        }
        hash.update(&chunk);
        file.write_all(&chunk).await.map_err(io)?;
    }
    file.flush().await.map_err(io)?;
    file.sync_all().await.map_err(io)?;
    Ok((size, hex::encode(hash.finalize())))
}

/// Make a rename durable (the directory entry), where the platform allows it.
async fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = tokio::fs::File::open(dir).await {
        let _ = d.sync_all().await;
    }
    #[cfg(not(unix))]
    let _ = dir;
}

/// A stored file, opened for sending.
pub struct MediaFile {
    /// Its content type as the platform served it.
    pub content_type: String,
    /// Its size in bytes.
    pub size: u64,
    /// Hex sha256 of its bytes.
    pub sha256: Option<String>,
    /// Shown in the browser (images, video, audio) rather than downloaded.
    pub inline: bool,
    /// The open file.
    pub file: tokio::fs::File,
}

/// `GET /media/{id}`: a stored file of the caller's workspace.
pub async fn open(state: &AppState, p: &Principal, id: Uuid) -> AppResult<MediaFile> {
    p.require(Permission::ReadInbox)?;
    let row = media::Entity::find_by_id(id)
        .filter(media::Column::WorkspaceId.eq(p.workspace_id))
        .filter(media::Column::Status.eq("stored"))
        .one(&state.db.read)
        .await?
        .ok_or(AppError::NotFound("media"))?;
    let path = media_dir(&state.cfg).join(row.id.to_string());
    let file = match tokio::fs::File::open(&path).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(media = %row.id, error = %e, "stored media file is missing");
            return Err(AppError::NotFound("media"));
        }
    };
    let size = file
        .metadata()
        .await
        .map(|m| m.len())
        .map_err(|e| AppError::Internal(e.into()))?;
    let content_type = row
        .content_type
        .unwrap_or_else(|| "application/octet-stream".to_owned());
    Ok(MediaFile {
        inline: shown_inline(&content_type),
        content_type,
        size,
        sha256: row.sha256,
        file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts() -> Vec<String> {
        vec!["fbcdn.net".into(), "cdninstagram.com".into()]
    }

    #[test]
    fn hosts_match_on_a_dot_boundary_or_the_api_origin() {
        let h = hosts();
        let p = HostPolicy::new(&h, "http://127.0.0.1:4000/v21.0");
        let ok = |u: &str| p.allows(&Url::parse(u).unwrap());
        assert!(ok("https://scontent.xx.fbcdn.net/v/t1/x.jpg?oh=1"));
        assert!(ok("https://fbcdn.net/x.jpg"));
        assert!(ok("https://FBCDN.NET./x.jpg"));
        assert!(ok("http://127.0.0.1:4000/cdn/a.png"));
        assert!(!ok("https://evilfbcdn.net/x.jpg"));
        assert!(!ok("https://fbcdn.net.evil.com/x.jpg"));
        assert!(!ok("http://127.0.0.1:4001/cdn/a.png"), "another port");
        assert!(!ok("http://localhost:4000/cdn/a.png"));
        assert!(!ok("ftp://fbcdn.net/x.jpg"));
        assert!(!ok("file:///etc/passwd"));
    }

    #[test]
    fn content_types_depend_on_the_attachment_kind() {
        assert!(accepted_type("image/jpeg", "image"));
        assert!(accepted_type("video/mp4", "video"));
        assert!(accepted_type("audio/mpeg", "audio"));
        assert!(accepted_type("application/pdf", "file"));
        assert!(accepted_type(
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "file"
        ));
        assert!(accepted_type("application/octet-stream", "file"));
        assert!(!accepted_type("application/octet-stream", "image"));
        assert!(!accepted_type("image/svg+xml", "image"));
        assert!(!accepted_type("text/html", "file"));
        assert!(!accepted_type("application/javascript", "file"));
        assert!(shown_inline("image/png"));
        assert!(!shown_inline("application/pdf"));
    }
}
