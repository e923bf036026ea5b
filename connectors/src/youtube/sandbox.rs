//! A loopback fake of Google OAuth 2 and the YouTube Data API v3 comment endpoints, for tests
//! and `tongdai demo` (`shared/specs/social.md` §5). It answers the way Google does: the
//! consent page redirects back with `code` and `state`; the token endpoint checks the client
//! id and secret, spends each code once and refreshes access tokens (which expire); every
//! Data API call needs a live `Bearer` token and costs its published quota units, counted per
//! Pacific day, with a 403 `quotaExceeded` body shaped like Google's once the day's allocation
//! would be overdrawn; `commentThreads.list` pages by `nextPageToken`, newest first; replies
//! must name a top-level comment; moderation answers 204 and follows Google's rules
//! (`rejected` cannot go back to `published`, held and rejected comments leave the listing).
//!
//! Tests seed the channel, videos, comments and replies (also "over time", for the demo),
//! queue failures (401, 403 quota, 500), and read back what the sandbox recorded.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::quota;
use crate::verify::constant_time_eq;

/// The channel the sandbox's signed-in user owns, unless a test sets another.
pub const SANDBOX_CHANNEL_ID: &str = "UCsandbox0000000000000001";
/// Its title.
pub const SANDBOX_CHANNEL_TITLE: &str = "Shop Sandbox";
/// `expires_in` of access tokens unless a test sets another (seconds).
pub const ACCESS_TOKEN_SECONDS: u64 = 3599;
/// The longest reply `comments.insert` accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 10_000;
/// Replies a `commentThreads.list` item includes at most (the rest: `comments.list`).
pub const REPLIES_IN_LISTING: usize = 5;

/// One HTTP request the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`.
    pub method: String,
    /// Path, e.g. `/youtube/v3/commentThreads`.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Body, lossily decoded.
    pub body: String,
    /// The bearer token sent, when one was.
    pub bearer: Option<String>,
}

impl RecordedRequest {
    /// The decoded query parameter `name`.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
    /// The decoded form-body parameter `name`.
    pub fn form_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.body.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
    /// The Data API method path after `/youtube/v3/`, e.g. `commentThreads`.
    pub fn api_path(&self) -> Option<&str> {
        self.path.strip_prefix("/youtube/v3/")
    }
}

/// How the next matching Data API call fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxFailure {
    /// 401 `authError`: the token is not accepted.
    Unauthorized,
    /// 403 `quotaExceeded`.
    QuotaExceeded,
    /// 500 `backendError`.
    ServerError,
}

/// A comment as the sandbox holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxComment {
    /// Id (`<thread>.<suffix>` for replies).
    pub id: String,
    /// The video.
    pub video_id: String,
    /// The thread, for replies.
    pub parent_id: Option<String>,
    /// The author's channel id.
    pub author_id: String,
    /// The author's name.
    pub author_name: String,
    /// Text.
    pub text: String,
    /// Written at.
    pub published_at: DateTime<Utc>,
    /// Last changed at.
    pub updated_at: DateTime<Utc>,
    /// `published`, `heldForReview`, `likelySpam`, `rejected`.
    pub moderation_status: String,
}

#[derive(Debug, Clone)]
struct Thread {
    top: SandboxComment,
    replies: Vec<SandboxComment>,
}

#[derive(Debug, Default)]
struct State {
    channel_id: String,
    channel_title: String,
    videos: Vec<String>,
    threads: Vec<Thread>,
    next_id: u64,
    codes: HashMap<String, (String, bool)>,
    used_codes: HashSet<String>,
    refresh_tokens: HashSet<String>,
    access_tokens: HashMap<String, DateTime<Utc>>,
    token_seconds: u64,
    daily_quota: u32,
    quota_day: Option<NaiveDate>,
    quota_used: u32,
    failures: VecDeque<(Option<String>, u32, SandboxFailure)>,
    requests: Vec<RecordedRequest>,
}

impl State {
    fn id(&mut self, prefix: &str) -> String {
        self.next_id += 1;
        format!("{prefix}{:06}sbx", self.next_id)
    }

    fn issue_access(&mut self) -> String {
        let t = format!("ya29.{}", self.id("at"));
        let exp = Utc::now() + TimeDelta::seconds(i64::try_from(self.token_seconds).unwrap_or(0));
        self.access_tokens.insert(t.clone(), exp);
        t
    }

    fn find(&self, id: &str) -> Option<&SandboxComment> {
        self.threads.iter().find_map(|t| {
            if t.top.id == id {
                Some(&t.top)
            } else {
                t.replies.iter().find(|r| r.id == id)
            }
        })
    }

    fn find_mut(&mut self, id: &str) -> Option<&mut SandboxComment> {
        self.threads.iter_mut().find_map(|t| {
            if t.top.id == id {
                Some(&mut t.top)
            } else {
                t.replies.iter_mut().find(|r| r.id == id)
            }
        })
    }

    /// Charge `units` against today's quota; `false` when they would overdraw it.
    fn charge(&mut self, units: u32) -> bool {
        let today = quota::quota_day(Utc::now());
        if self.quota_day != Some(today) {
            self.quota_day = Some(today);
            self.quota_used = 0;
        }
        if self.quota_used.saturating_add(units) > self.daily_quota {
            return false;
        }
        self.quota_used += units;
        true
    }
}

struct Shared {
    client_id: String,
    client_secret: String,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

/// Handle to a running fake of Google OAuth and the YouTube Data API on `127.0.0.1`. Cheap to
/// clone; the server stops when the last clone drops or [`YoutubeSandbox::shutdown`] is called.
#[derive(Clone)]
pub struct YoutubeSandbox {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for YoutubeSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YoutubeSandbox")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl YoutubeSandbox {
    /// Bind `127.0.0.1:0` and serve, knowing the OAuth client `client_id` / `client_secret`.
    pub async fn start(client_id: &str, client_secret: &str) -> std::io::Result<YoutubeSandbox> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            state: Mutex::new(State {
                channel_id: SANDBOX_CHANNEL_ID.into(),
                channel_title: SANDBOX_CHANNEL_TITLE.into(),
                token_seconds: ACCESS_TOKEN_SECONDS,
                daily_quota: quota::DEFAULT_DAILY_QUOTA,
                ..State::default()
            }),
        });
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, Arc::clone(&shared), stop_rx));
        Ok(YoutubeSandbox {
            inner: Arc::new(Handle { addr, shared, stop }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.shared.state()
    }

    /// `http://127.0.0.1:<port>`: the Data API base URL (`TONGDAI_YOUTUBE_API_URL`).
    pub fn api_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// `http://127.0.0.1:<port>/o/oauth2`: the OAuth base URL (`TONGDAI_YOUTUBE_OAUTH_URL`).
    pub fn oauth_url(&self) -> String {
        format!("http://{}/o/oauth2", self.inner.addr)
    }

    /// Stop serving.
    pub fn shutdown(&self) {
        let _ = self.inner.stop.send(true);
    }

    /// The signed-in user's channel.
    pub fn set_channel(&self, id: &str, title: &str) {
        let mut s = self.state();
        s.channel_id = id.to_owned();
        s.channel_title = title.to_owned();
    }

    /// The channel id.
    pub fn channel_id(&self) -> String {
        self.state().channel_id.clone()
    }

    /// Add a video of the channel.
    pub fn add_video(&self, id: &str) {
        self.state().videos.push(id.to_owned());
    }

    /// A customer comments on `video` now; returns the thread id.
    pub fn add_comment(
        &self,
        video: &str,
        author_id: &str,
        author_name: &str,
        text: &str,
    ) -> String {
        self.add_comment_at(video, author_id, author_name, text, Utc::now())
    }

    /// A comment written at `at` (earlier than now: it shows up late in the listing).
    pub fn add_comment_at(
        &self,
        video: &str,
        author_id: &str,
        author_name: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> String {
        let mut s = self.state();
        let id = s.id("Ugz");
        s.threads.push(Thread {
            top: SandboxComment {
                id: id.clone(),
                video_id: video.to_owned(),
                parent_id: None,
                author_id: author_id.to_owned(),
                author_name: author_name.to_owned(),
                text: text.to_owned(),
                published_at: at,
                updated_at: at,
                moderation_status: "published".into(),
            },
            replies: Vec::new(),
        });
        id
    }

    /// Someone replies in `thread` now; returns the reply id (`<thread>.<suffix>`), `None`
    /// when the thread is unknown.
    pub fn add_reply(
        &self,
        thread: &str,
        author_id: &str,
        author_name: &str,
        text: &str,
    ) -> Option<String> {
        let mut s = self.state();
        let suffix = s.id("R");
        let now = Utc::now();
        let t = s.threads.iter_mut().find(|t| t.top.id == thread)?;
        let id = format!("{thread}.{suffix}");
        t.replies.push(SandboxComment {
            id: id.clone(),
            video_id: t.top.video_id.clone(),
            parent_id: Some(thread.to_owned()),
            author_id: author_id.to_owned(),
            author_name: author_name.to_owned(),
            text: text.to_owned(),
            published_at: now,
            updated_at: now,
            moderation_status: "published".into(),
        });
        Some(id)
    }

    /// The author edits comment `id` now; `false` when unknown.
    pub fn edit_comment(&self, id: &str, text: &str) -> bool {
        let mut s = self.state();
        let Some(c) = s.find_mut(id) else {
            return false;
        };
        c.text = text.to_owned();
        c.updated_at = Utc::now().max(c.published_at + TimeDelta::seconds(1));
        true
    }

    /// A comment as the sandbox holds it.
    pub fn comment(&self, id: &str) -> Option<SandboxComment> {
        self.state().find(id).cloned()
    }

    /// Every reply written by the channel (through `comments.insert`), oldest first.
    pub fn channel_replies(&self) -> Vec<SandboxComment> {
        let s = self.state();
        let mut out: Vec<SandboxComment> = s
            .threads
            .iter()
            .flat_map(|t| t.replies.iter())
            .filter(|r| r.author_id == s.channel_id)
            .cloned()
            .collect();
        out.sort_by_key(|c| c.published_at);
        out
    }

    /// Tokens the sandbox knows, as if the consent flow had run: `(access, refresh)`.
    pub fn grant_tokens(&self) -> (String, String) {
        let mut s = self.state();
        let refresh = format!("1//{}", s.id("rt"));
        s.refresh_tokens.insert(refresh.clone());
        (s.issue_access(), refresh)
    }

    /// `expires_in` of access tokens issued from now on.
    pub fn set_access_token_seconds(&self, secs: u64) {
        self.state().token_seconds = secs;
    }

    /// Revoke every refresh token (the user removed the app's access).
    pub fn revoke_refresh_tokens(&self) {
        self.state().refresh_tokens.clear();
    }

    /// The daily quota allocation (units).
    pub fn set_daily_quota(&self, units: u32) {
        self.state().daily_quota = units;
    }

    /// Units spent today.
    pub fn quota_used(&self) -> u32 {
        let s = self.state();
        if s.quota_day == Some(quota::quota_day(Utc::now())) {
            s.quota_used
        } else {
            0
        }
    }

    /// Start a new quota day now (as if midnight Pacific had passed).
    pub fn reset_quota(&self) {
        self.state().quota_used = 0;
    }

    /// The next Data API call whose method path is `path` (`commentThreads`, `comments`,
    /// `comments/setModerationStatus`, `channels`; `None`: any) fails this way.
    pub fn fail_next(&self, path: Option<&str>, failure: SandboxFailure) {
        self.fail_after(path, 0, failure);
    }

    /// Like [`YoutubeSandbox::fail_next`], after `skip` matching calls succeeded (fail the
    /// second page of a listing: `skip = 1`).
    pub fn fail_after(&self, path: Option<&str>, skip: u32, failure: SandboxFailure) {
        self.state()
            .failures
            .push_back((path.map(str::to_owned), skip, failure));
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Requests to Data API method `path`.
    pub fn api_calls(&self, path: &str) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|r| r.api_path() == Some(path))
            .collect()
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(Arc::clone(&shared), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                biased;
                () = stopped(&mut stop) => {}
                _ = conn => {}
            }
        });
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

type Reply = Response<Full<Bytes>>;

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let bearer = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let rec = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
        bearer,
    };
    let mut state = shared.state();
    state.requests.push(rec.clone());
    Ok(route(&shared, &mut state, &rec))
}

fn json_reply(status: StatusCode, v: &Value) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(v.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

/// Google's Data API error body.
fn api_error(status: StatusCode, reason: &str, domain: &str, message: &str) -> Reply {
    json_reply(
        status,
        &json!({ "error": {
            "code": status.as_u16(),
            "message": message,
            "errors": [{ "message": message, "domain": domain, "reason": reason }],
        }}),
    )
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    json_reply(
        status,
        &json!({ "error": error, "error_description": description }),
    )
}

fn route(shared: &Shared, state: &mut State, rec: &RecordedRequest) -> Reply {
    match (rec.method.as_str(), rec.path.as_str()) {
        ("GET", "/o/oauth2/auth") => consent(shared, state, rec),
        ("POST", "/o/oauth2/token") => token(shared, state, rec),
        _ => match rec.api_path() {
            Some(path) => data_api(state, rec, path),
            None => api_error(StatusCode::NOT_FOUND, "notFound", "global", "Not Found"),
        },
    }
}

/// The consent page: the user grants at once; redirect back with `code` and `state`.
fn consent(shared: &Shared, state: &mut State, rec: &RecordedRequest) -> Reply {
    let q = |k: &str| rec.query_param(k).unwrap_or_default();
    if q("client_id") != shared.client_id {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "The OAuth client was not found.",
        );
    }
    if q("response_type") != "code" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    if !q("scope").split(' ').any(|s| s == super::SCOPE) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "the YouTube force-ssl scope is required",
        );
    }
    let redirect = q("redirect_uri");
    let Ok(mut target) = url::Url::parse(&redirect) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "redirect_uri_mismatch",
            "redirect_uri is not a URL",
        );
    };
    let code = format!("4/{}", state.id("code"));
    let offline = q("access_type") == "offline";
    state.codes.insert(code.clone(), (redirect, offline));
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("scope", super::SCOPE)
        .append_pair("state", &q("state"));
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = http::HeaderValue::from_str(target.as_str()) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp
}

/// The token endpoint: the code grant and the refresh grant.
fn token(shared: &Shared, state: &mut State, rec: &RecordedRequest) -> Reply {
    let f = |k: &str| rec.form_param(k).unwrap_or_default();
    let id_ok = constant_time_eq(f("client_id").as_bytes(), shared.client_id.as_bytes());
    let secret_ok = constant_time_eq(
        f("client_secret").as_bytes(),
        shared.client_secret.as_bytes(),
    );
    if !id_ok || !secret_ok {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client", "Unauthorized");
    }
    match f("grant_type").as_str() {
        "authorization_code" => {
            let code = f("code");
            if state.used_codes.contains(&code) {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            }
            let Some((redirect, offline)) = state.codes.remove(&code) else {
                return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", "Bad Request");
            };
            state.used_codes.insert(code);
            if redirect != f("redirect_uri") {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "redirect_uri_mismatch",
                    "Bad Request",
                );
            }
            let access = state.issue_access();
            let mut body = json!({
                "access_token": access,
                "expires_in": state.token_seconds,
                "scope": super::SCOPE,
                "token_type": "Bearer",
            });
            if offline {
                let refresh = format!("1//{}", state.id("rt"));
                state.refresh_tokens.insert(refresh.clone());
                body["refresh_token"] = refresh.into();
            }
            json_reply(StatusCode::OK, &body)
        }
        "refresh_token" => {
            if !state.refresh_tokens.contains(&f("refresh_token")) {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "Token has been expired or revoked.",
                );
            }
            let access = state.issue_access();
            json_reply(
                StatusCode::OK,
                &json!({
                    "access_token": access,
                    "expires_in": state.token_seconds,
                    "scope": super::SCOPE,
                    "token_type": "Bearer",
                }),
            )
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "Invalid grant_type",
        ),
    }
}

fn cost(method: &str, path: &str) -> u32 {
    match (method, path) {
        ("POST", "comments") | ("POST", "commentThreads") => quota::COST_INSERT,
        ("POST", "comments/setModerationStatus") => quota::COST_MODERATE,
        _ => 1,
    }
}

fn data_api(state: &mut State, rec: &RecordedRequest, path: &str) -> Reply {
    let live = rec
        .bearer
        .as_ref()
        .and_then(|t| state.access_tokens.get(t))
        .is_some_and(|exp| *exp > Utc::now());
    if !live {
        return unauthorized();
    }
    let matching = state
        .failures
        .iter_mut()
        .enumerate()
        .find(|(_, (p, _, _))| p.as_deref().is_none_or(|p| p == path));
    let due = match matching {
        Some((_, (_, skip, _))) if *skip > 0 => {
            *skip -= 1;
            None
        }
        Some((i, _)) => Some(i),
        None => None,
    };
    if let Some(i) = due
        && let Some((_, _, failure)) = state.failures.remove(i)
    {
        return match failure {
            SandboxFailure::Unauthorized => unauthorized(),
            SandboxFailure::QuotaExceeded => quota_exceeded(),
            SandboxFailure::ServerError => api_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "backendError",
                "global",
                "Backend Error",
            ),
        };
    }
    // Every request costs, invalid ones included.
    if !state.charge(cost(&rec.method, path)) {
        return quota_exceeded();
    }
    match (rec.method.as_str(), path) {
        ("GET", "channels") => channels(state, rec),
        ("GET", "commentThreads") => comment_threads(state, rec),
        ("GET", "comments") => list_comments(state, rec),
        ("POST", "comments") => insert_reply(state, rec),
        ("POST", "comments/setModerationStatus") => moderate(state, rec),
        _ => api_error(StatusCode::NOT_FOUND, "notFound", "global", "Not Found"),
    }
}

fn unauthorized() -> Reply {
    api_error(
        StatusCode::UNAUTHORIZED,
        "authError",
        "global",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
    )
}

fn quota_exceeded() -> Reply {
    api_error(
        StatusCode::FORBIDDEN,
        "quotaExceeded",
        "youtube.quota",
        "The request cannot be completed because you have exceeded your <a href=\"/youtube/v3/getting-started#quota\">quota</a>.",
    )
}

fn bad_request(reason: &str, message: &str) -> Reply {
    api_error(
        StatusCode::BAD_REQUEST,
        reason,
        "youtube.parameter",
        message,
    )
}

fn channels(state: &State, rec: &RecordedRequest) -> Reply {
    if rec.query_param("part").is_none() {
        return bad_request("missingRequiredParameter", "No filter selected.");
    }
    if rec.query_param("mine").as_deref() != Some("true") {
        return json_reply(
            StatusCode::OK,
            &json!({ "kind": "youtube#channelListResponse", "items": [] }),
        );
    }
    let id = &state.channel_id;
    json_reply(
        StatusCode::OK,
        &json!({
            "kind": "youtube#channelListResponse",
            "pageInfo": { "totalResults": 1, "resultsPerPage": 5 },
            "items": [{
                "kind": "youtube#channel",
                "id": id,
                "snippet": {
                    "title": state.channel_title,
                    "customUrl": "@shopsandbox",
                    "thumbnails": { "default": { "url": format!("https://yt3.ggpht.com/{id}=s88") } },
                },
            }],
        }),
    )
}

fn comment_json(c: &SandboxComment, channel_id: &str) -> Value {
    let mut snippet = json!({
        "channelId": channel_id,
        "videoId": c.video_id,
        "textDisplay": c.text,
        "authorDisplayName": c.author_name,
        "authorProfileImageUrl": format!("https://yt3.ggpht.com/{}", c.author_id),
        "authorChannelUrl": format!("http://www.youtube.com/channel/{}", c.author_id),
        "authorChannelId": { "value": c.author_id },
        "canRate": true,
        "viewerRating": "none",
        "likeCount": 0,
        "moderationStatus": c.moderation_status,
        "publishedAt": c.published_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "updatedAt": c.updated_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    });
    if let Some(p) = &c.parent_id {
        snippet["parentId"] = p.clone().into();
    }
    // textOriginal is only returned to the author.
    if c.author_id == channel_id {
        snippet["textOriginal"] = c.text.clone().into();
    }
    json!({ "kind": "youtube#comment", "etag": format!("e{}", c.id.len()), "id": c.id, "snippet": snippet })
}

/// `maxResults` (1..=`max`, default `default`) and the offset of `pageToken`; an error answer
/// (reason, message) when either is invalid.
fn paging(
    rec: &RecordedRequest,
    default: usize,
    max: usize,
) -> Result<(usize, usize), (&'static str, &'static str)> {
    let size = match rec.query_param("maxResults") {
        None => default,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => return Err(("invalidParameter", "maxResults is out of range")),
        },
    };
    let offset = match rec.query_param("pageToken") {
        None => 0,
        Some(t) => match t.strip_prefix("QURTX0").and_then(|n| n.parse().ok()) {
            Some(n) => n,
            None => return Err(("invalidPageToken", "The page token is invalid.")),
        },
    };
    Ok((size, offset))
}

fn page_token(next: usize) -> String {
    format!("QURTX0{next}")
}

fn visible(c: &SandboxComment) -> bool {
    c.moderation_status == "published"
}

fn comment_threads(state: &State, rec: &RecordedRequest) -> Reply {
    let part = rec.query_param("part").unwrap_or_default();
    let parts: Vec<&str> = part.split(',').map(str::trim).collect();
    if !parts.contains(&"snippet") && !parts.contains(&"id") {
        return bad_request("missingRequiredParameter", "part is required");
    }
    let filters = ["allThreadsRelatedToChannelId", "videoId", "id"]
        .iter()
        .filter(|f| rec.query_param(f).is_some())
        .count();
    if filters != 1 {
        return bad_request(
            "incompatibleParameters",
            "Exactly one of allThreadsRelatedToChannelId, videoId and id is required.",
        );
    }
    if let Some(o) = rec.query_param("order")
        && o != "time"
        && o != "relevance"
    {
        return bad_request("invalidParameter", "order");
    }
    let (size, offset) = match paging(rec, 20, 100) {
        Ok(p) => p,
        Err((reason, message)) => return bad_request(reason, message),
    };
    let mut threads: Vec<&Thread> = state
        .threads
        .iter()
        .filter(|t| visible(&t.top))
        .filter(|t| {
            match (
                rec.query_param("allThreadsRelatedToChannelId"),
                rec.query_param("videoId"),
            ) {
                (Some(ch), _) => ch == state.channel_id,
                (_, Some(v)) => v == t.top.video_id,
                _ => rec
                    .query_param("id")
                    .is_some_and(|ids| ids.split(',').any(|i| i == t.top.id)),
            }
        })
        .collect();
    // order=time: newest top-level comment first.
    threads.sort_by(|a, b| {
        b.top
            .published_at
            .cmp(&a.top.published_at)
            .then(b.top.id.cmp(&a.top.id))
    });
    let total = threads.len();
    let with_replies = parts.contains(&"replies");
    let items: Vec<Value> = threads
        .iter()
        .skip(offset)
        .take(size)
        .map(|t| {
            let replies: Vec<&SandboxComment> = t.replies.iter().filter(|r| visible(r)).collect();
            let mut item = json!({
                "kind": "youtube#commentThread",
                "etag": "t",
                "id": t.top.id,
                "snippet": {
                    "channelId": state.channel_id,
                    "videoId": t.top.video_id,
                    "topLevelComment": comment_json(&t.top, &state.channel_id),
                    "canReply": true,
                    "totalReplyCount": replies.len(),
                    "isPublic": true,
                },
            });
            if with_replies && !replies.is_empty() {
                let shown: Vec<Value> = replies
                    .iter()
                    .take(REPLIES_IN_LISTING)
                    .map(|r| comment_json(r, &state.channel_id))
                    .collect();
                item["replies"] = json!({ "comments": shown });
            }
            item
        })
        .collect();
    let mut body = json!({
        "kind": "youtube#commentThreadListResponse",
        "etag": "l",
        "pageInfo": { "totalResults": total, "resultsPerPage": size },
        "items": items,
    });
    if offset + size < total {
        body["nextPageToken"] = page_token(offset + size).into();
    }
    json_reply(StatusCode::OK, &body)
}

fn list_comments(state: &State, rec: &RecordedRequest) -> Reply {
    let (size, offset) = match paging(rec, 20, 100) {
        Ok(p) => p,
        Err((reason, message)) => return bad_request(reason, message),
    };
    let found: Vec<&SandboxComment> = match (rec.query_param("parentId"), rec.query_param("id")) {
        (Some(parent), None) => {
            let Some(t) = state.threads.iter().find(|t| t.top.id == parent) else {
                return api_error(
                    StatusCode::NOT_FOUND,
                    "commentNotFound",
                    "youtube.comment",
                    "The comment identified by the parentId parameter could not be found.",
                );
            };
            let mut r: Vec<&SandboxComment> = t.replies.iter().filter(|c| visible(c)).collect();
            r.sort_by_key(|c| c.published_at);
            r
        }
        (None, Some(ids)) => ids.split(',').filter_map(|i| state.find(i)).collect(),
        _ => {
            return bad_request(
                "incompatibleParameters",
                "Exactly one of parentId and id is required.",
            );
        }
    };
    let total = found.len();
    let items: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(size)
        .map(|c| comment_json(c, &state.channel_id))
        .collect();
    let mut body = json!({ "kind": "youtube#commentListResponse", "items": items });
    if offset + size < total {
        body["nextPageToken"] = page_token(offset + size).into();
    }
    json_reply(StatusCode::OK, &body)
}

fn insert_reply(state: &mut State, rec: &RecordedRequest) -> Reply {
    if rec.query_param("part").as_deref() != Some("snippet") {
        return bad_request("missingRequiredParameter", "part=snippet is required");
    }
    let body: Value = serde_json::from_str(&rec.body).unwrap_or(Value::Null);
    let parent = body["snippet"]["parentId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let text = body["snippet"]["textOriginal"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if parent.is_empty() {
        return bad_request("parentIdMissing", "No parent ID was specified.");
    }
    if text.trim().is_empty() {
        return bad_request("commentTextRequired", "The comment must contain text.");
    }
    if text.chars().count() > MAX_TEXT_CHARS {
        return bad_request("commentTextTooLong", "The comment text is too long.");
    }
    let Some(thread) = state.threads.iter().position(|t| t.top.id == parent) else {
        if state.find(&parent).is_some() {
            // A reply's id: replies hang under the top-level comment only.
            return bad_request(
                "operationNotSupported",
                "The parentId must identify a top-level comment.",
            );
        }
        return api_error(
            StatusCode::NOT_FOUND,
            "parentCommentNotFound",
            "youtube.comment",
            "The specified parent comment could not be found.",
        );
    };
    if !visible(&state.threads[thread].top) {
        return api_error(
            StatusCode::FORBIDDEN,
            "parentCommentIsPrivate",
            "youtube.comment",
            "The specified parent comment is private.",
        );
    }
    let suffix = state.id("R");
    let now = Utc::now();
    let channel = state.channel_id.clone();
    let title = state.channel_title.clone();
    let t = &mut state.threads[thread];
    let c = SandboxComment {
        id: format!("{parent}.{suffix}"),
        video_id: t.top.video_id.clone(),
        parent_id: Some(parent),
        author_id: channel.clone(),
        author_name: format!("@{}", title.replace(' ', "").to_lowercase()),
        text,
        published_at: now,
        updated_at: now,
        moderation_status: "published".into(),
    };
    t.replies.push(c.clone());
    json_reply(StatusCode::OK, &comment_json(&c, &channel))
}

fn moderate(state: &mut State, rec: &RecordedRequest) -> Reply {
    let ids = rec.query_param("id").unwrap_or_default();
    let status = rec.query_param("moderationStatus").unwrap_or_default();
    if !matches!(status.as_str(), "heldForReview" | "published" | "rejected") {
        return bad_request("invalidModerationStatus", "moderationStatus is invalid.");
    }
    if rec.query_param("banAuthor").as_deref() == Some("true") && status != "rejected" {
        return bad_request(
            "banWithoutReject",
            "banAuthor can only be used with moderationStatus=rejected.",
        );
    }
    let ids: Vec<&str> = ids.split(',').filter(|s| !s.is_empty()).collect();
    if ids.is_empty() || ids.len() > 50 {
        return bad_request("invalidParameter", "id must name 1 to 50 comments.");
    }
    for id in &ids {
        match state.find(id) {
            None => {
                return api_error(
                    StatusCode::NOT_FOUND,
                    "commentNotFound",
                    "youtube.comment",
                    "One or more comments could not be found.",
                );
            }
            Some(c) if c.moderation_status == "rejected" && status == "published" => {
                return bad_request(
                    "processingFailure",
                    "You can't change the moderation status of a rejected comment to published.",
                );
            }
            Some(_) => {}
        }
    }
    for id in ids {
        if let Some(c) = state.find_mut(id) {
            c.moderation_status = status.clone();
        }
        if status == "rejected" {
            // Rejecting a top-level comment hides its replies too.
            if let Some(t) = state.threads.iter_mut().find(|t| t.top.id == id) {
                for r in &mut t.replies {
                    r.moderation_status = "rejected".into();
                }
            }
        }
    }
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::NO_CONTENT;
    resp
}
