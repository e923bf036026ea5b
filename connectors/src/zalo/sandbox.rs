//! A loopback fake of Zalo's OAuth v4 and OA OpenAPI, for tests and `tongdai demo`. It follows
//! `shared/specs/social.md` §4.3–4.4: the OA permission page (a redirect back with `code` and
//! `state`, remembering the PKCE challenge), the token endpoint (checks the `secret_key` header
//! against the app secret, the `app_id`, the PKCE verifier; codes and refresh tokens are
//! single use), and under `/` the OpenAPI calls `v2.0/oa/getoa`, `v3.0/oa/user/detail`,
//! `v3.0/oa/message/cs`, `v2.0/oa/upload/file` and `v2.0/oa/upload/image`, each checking the
//! `access_token` header against the tokens it issued and their expiry. It records what was
//! sent and uploaded, injects failures as Zalo answers them, serves registered bytes under
//! `/cdn/{name}`, and builds signed webhook requests (body + `X-ZEvent-Signature`).
//!
//! Use [`ZaloSandbox::oauth_url`] as `TONGDAI_ZALO_OAUTH_URL` and [`ZaloSandbox::base_url`] as
//! `TONGDAI_ZALO_OPENAPI_URL`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::api::{ACCESS_TOKEN_HEADER, IDEMPOTENCY_HEADER, SECRET_KEY_HEADER};
use super::signature_header;
use crate::outbound::pkce_challenge;
use crate::verify::constant_time_eq;

/// `expires_in` of issued access tokens unless a test sets another (25 hours, §4.4).
pub const DEFAULT_EXPIRES_IN: u64 = 90_000;
/// The sandbox's answer to an unknown, expired or spent refresh token or code.
pub const INVALID_GRANT_ERROR: i64 = -14_014;
/// The sandbox's answer to a wrong `secret_key` or `app_id`.
pub const INVALID_APP_ERROR: i64 = -14_002;
/// The sandbox's answer to a wrong PKCE verifier.
pub const INVALID_VERIFIER_ERROR: i64 = -14_019;

/// One HTTP request the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`.
    pub method: String,
    /// Path, e.g. `/v3.0/oa/message/cs`.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// The `access_token` header, when sent.
    pub access_token: Option<String>,
    /// Whether a `secret_key` header was sent (its value is never recorded).
    pub had_secret_key: bool,
    /// `Content-Type`, when sent.
    pub content_type: Option<String>,
    /// Body, lossily decoded as UTF-8.
    pub body: String,
}

impl RecordedRequest {
    /// The URL-decoded value of `name` in the query or in a form body.
    pub fn param(&self, name: &str) -> Option<String> {
        let find = |s: &str| {
            url::form_urlencoded::parse(s.as_bytes())
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        };
        find(&self.query).or_else(|| {
            self.content_type
                .as_deref()
                .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
                .then(|| find(&self.body))
                .flatten()
        })
    }
}

/// A consultation message the sandbox accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct ZaloSent {
    /// `recipient.user_id`.
    pub user_id: String,
    /// The access token it was sent with.
    pub access_token: String,
    /// `message.text`, when any.
    pub text: Option<String>,
    /// `message.attachment`, when any, as sent.
    pub attachment: Option<Value>,
    /// The uploaded file a `file` attachment's token names: (file name, bytes).
    pub file: Option<(String, Vec<u8>)>,
    /// The `message_id` the sandbox answered with.
    pub message_id: String,
}

/// How the next matching call fails, as Zalo answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ZaloFailure {
    /// `error: -216`, access token invalid.
    TokenInvalid,
    /// `error: -124`, access token expired.
    TokenExpired,
    /// `error: -32`, too many requests.
    RateLimited,
    /// `error: -230`, the user has not interacted with the OA recently.
    OutsideWindow,
    /// `error: -244`, no quota left for this message type.
    QuotaSpent,
    /// HTTP 500 without a body.
    ServerError,
    /// Any `error` code.
    Code(i64),
}

/// The Official Account the sandbox's tokens reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxOa {
    /// `oa_id`.
    pub oa_id: String,
    /// `name`.
    pub name: String,
    /// `avatar`.
    pub avatar: String,
    /// `description`.
    pub description: String,
}

impl SandboxOa {
    /// An OA with a generated avatar URL and description.
    pub fn new(oa_id: &str, name: &str) -> Self {
        SandboxOa {
            oa_id: oa_id.to_owned(),
            name: name.to_owned(),
            avatar: format!("https://s160-ava-talk.zadn.vn/sandbox/{oa_id}.jpg"),
            description: format!("{name} — tư vấn và đặt hàng qua Zalo"),
        }
    }
}

struct CodeGrant {
    challenge: String,
}

struct State {
    requests: Vec<RecordedRequest>,
    oa: SandboxOa,
    consent: bool,
    codes: HashMap<String, CodeGrant>,
    access: HashMap<String, DateTime<Utc>>,
    refresh: HashSet<String>,
    expires_in: u64,
    expires_in_as_number: bool,
    failures: VecDeque<(String, ZaloFailure)>,
    sent: Vec<ZaloSent>,
    uploads: HashMap<String, (String, Vec<u8>)>,
    profiles: HashMap<String, (String, String)>,
    quota: Option<Value>,
    idempotent: HashMap<String, Value>,
    cdn: HashMap<String, (String, Bytes)>,
    next: u64,
}

impl State {
    fn next_id(&mut self) -> u64 {
        self.next += 1;
        self.next
    }

    fn issue(&mut self, expires_in: u64) -> (String, String) {
        let n = self.next_id();
        let access = format!("zsbx_at_{n}");
        let refresh = format!("zsbx_rt_{n}");
        let secs = i64::try_from(expires_in).unwrap_or(i64::MAX / 2);
        self.access
            .insert(access.clone(), Utc::now() + TimeDelta::seconds(secs));
        self.refresh.insert(refresh.clone());
        (access, refresh)
    }

    fn take_failure(&mut self, path: &str) -> Option<ZaloFailure> {
        let i = self.failures.iter().position(|(p, _)| p == path)?;
        self.failures.remove(i).map(|(_, f)| f)
    }
}

struct Shared {
    app_id: String,
    app_secret: String,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated in a way that matters.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

/// Handle to a running fake Zalo on `127.0.0.1`. Cheap to clone; the server stops when
/// [`ZaloSandbox::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct ZaloSandbox {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for ZaloSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ZaloSandbox")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl ZaloSandbox {
    /// Bind `127.0.0.1:0` and serve on a spawned tokio task, for the app `app_id` with
    /// `app_secret`; its tokens reach `oa`.
    pub async fn start(app_id: &str, app_secret: &str, oa: SandboxOa) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            app_id: app_id.to_owned(),
            app_secret: app_secret.to_owned(),
            state: Mutex::new(State {
                requests: Vec::new(),
                oa,
                consent: true,
                codes: HashMap::new(),
                access: HashMap::new(),
                refresh: HashSet::new(),
                expires_in: DEFAULT_EXPIRES_IN,
                expires_in_as_number: false,
                failures: VecDeque::new(),
                sent: Vec::new(),
                uploads: HashMap::new(),
                profiles: HashMap::new(),
                quota: None,
                idempotent: HashMap::new(),
                cdn: HashMap::new(),
                next: 0,
            }),
        });
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, Arc::clone(&shared), stop_rx));
        Ok(ZaloSandbox {
            inner: Arc::new(Handle { addr, shared, stop }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.shared.state()
    }

    /// `http://127.0.0.1:<port>`: the OpenAPI base URL (`TONGDAI_ZALO_OPENAPI_URL`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// `http://127.0.0.1:<port>/v4`: the OAuth base URL (`TONGDAI_ZALO_OAUTH_URL`).
    pub fn oauth_url(&self) -> String {
        format!("{}/v4", self.base_url())
    }

    /// `http://127.0.0.1:<port>/cdn/{name}`, where [`ZaloSandbox::add_cdn_file`] bytes are served.
    pub fn cdn_url(&self, name: &str) -> String {
        format!("{}/cdn/{name}", self.base_url())
    }

    /// Stop accepting connections and close the open ones.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Every accepted consultation message, in order.
    pub fn sent(&self) -> Vec<ZaloSent> {
        self.state().sent.clone()
    }

    /// `expires_in` of the tokens issued from now on, in seconds.
    pub fn set_expires_in(&self, secs: u64) {
        self.state().expires_in = secs;
    }

    /// Answer `expires_in` as a JSON number (`true`) or as a string, as Zalo does (`false`).
    pub fn set_expires_in_as_number(&self, on: bool) {
        self.state().expires_in_as_number = on;
    }

    /// Whether the permission page's user grants access (`false`: redirects with
    /// `error=access_denied`).
    pub fn set_consent(&self, consent: bool) {
        self.state().consent = consent;
    }

    /// Issue a token pair now (as if an OA had been connected): (access, refresh).
    pub fn issue_tokens(&self) -> (String, String) {
        let mut s = self.state();
        let secs = s.expires_in;
        s.issue(secs)
    }

    /// Whether `refresh_token` may still be used.
    pub fn refresh_token_live(&self, refresh_token: &str) -> bool {
        self.state().refresh.contains(refresh_token)
    }

    /// Make an access token invalid (calls with it get `-216`).
    pub fn revoke_token(&self, access_token: &str) {
        self.state().access.remove(access_token);
    }

    /// Spend or revoke a refresh token: a refresh with it is refused.
    pub fn revoke_refresh_token(&self, refresh_token: &str) {
        self.state().refresh.remove(refresh_token);
    }

    /// A user `v3.0/oa/user/detail` knows (others get a generated name).
    pub fn add_profile(&self, user_id: &str, display_name: &str, avatar: &str) {
        self.state().profiles.insert(
            user_id.to_owned(),
            (display_name.to_owned(), avatar.to_owned()),
        );
    }

    /// The `data.quota` every send answers with from now on (`None`: none).
    pub fn set_quota(&self, quota: Option<Value>) {
        self.state().quota = quota;
    }

    /// Make the next Send API call fail as `f`.
    pub fn push_failure(&self, f: ZaloFailure) {
        self.push_failure_at("/v3.0/oa/message/cs", f);
    }

    /// Make the next request to `path` (e.g. `/v4/oa/access_token`, `/v2.0/oa/getoa`) fail
    /// as `f`.
    pub fn push_failure_at(&self, path: &str, f: ZaloFailure) {
        self.state().failures.push_back((path.to_owned(), f));
    }

    /// Serve `bytes` with `content_type` at [`ZaloSandbox::cdn_url`]`(name)`.
    pub fn add_cdn_file(&self, name: &str, content_type: &str, bytes: impl Into<Bytes>) {
        self.state()
            .cdn
            .insert(name.to_owned(), (content_type.to_owned(), bytes.into()));
    }

    /// A `user_send_text` event from `user_id` to `oa_id`, timestamped `at`, as Zalo sends it.
    pub fn user_text_event(
        &self,
        oa_id: &str,
        user_id: &str,
        msg_id: &str,
        text: &str,
        at: DateTime<Utc>,
    ) -> Value {
        json!({
            "app_id": self.inner.shared.app_id,
            "user_id_by_app": format!("9{user_id}"),
            "event_name": "user_send_text",
            "timestamp": at.timestamp_millis().to_string(),
            "sender": {"id": user_id},
            "recipient": {"id": oa_id},
            "message": {"msg_id": msg_id, "text": text},
        })
    }
}

/// A webhook request as Zalo sends `event`: the body bytes and its `X-ZEvent-Signature`
/// (signed with the event's own `timestamp`, `shared/specs/social.md` §4.1).
pub fn signed_webhook(app_id: &str, oa_secret_key: &str, event: &Value) -> (Vec<u8>, String) {
    let body = serde_json::to_vec(event).unwrap_or_default();
    let ts = match event.get("timestamp") {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let sig = signature_header(app_id, &body, &ts, oa_secret_key);
    (body, sig)
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

fn header(parts: &http::request::Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        access_token: header(&parts, ACCESS_TOKEN_HEADER),
        had_secret_key: parts.headers.contains_key(SECRET_KEY_HEADER),
        content_type: header(&parts, "content-type"),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let call = Call {
        shared: &shared,
        req: &recorded,
        body: &body,
        secret_key: header(&parts, SECRET_KEY_HEADER),
        idempotency_key: header(&parts, IDEMPOTENCY_HEADER),
    };
    let mut state = shared.state();
    state.requests.push(recorded.clone());
    Ok(route(&mut state, &call))
}

struct Call<'a> {
    shared: &'a Shared,
    req: &'a RecordedRequest,
    body: &'a [u8],
    secret_key: Option<String>,
    idempotency_key: Option<String>,
}

fn json_response(status: StatusCode, body: &Value) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn ok(data: Value) -> Reply {
    json_response(
        StatusCode::OK,
        &json!({"error": 0, "message": "Success", "data": data}),
    )
}

fn zalo_error(code: i64, message: &str) -> Reply {
    // Zalo answers its errors with HTTP 200.
    json_response(StatusCode::OK, &json!({"error": code, "message": message}))
}

fn failure_reply(f: ZaloFailure) -> Reply {
    match f {
        ZaloFailure::TokenInvalid => zalo_error(-216, "Access token is invalid"),
        ZaloFailure::TokenExpired => zalo_error(-124, "Access token has expired"),
        ZaloFailure::RateLimited => zalo_error(-32, "Request exceeds the rate limit"),
        ZaloFailure::OutsideWindow => zalo_error(
            -230,
            "User has not interacted with the OA in the last 7 days",
        ),
        ZaloFailure::QuotaSpent => zalo_error(-244, "Quota for this message type is exhausted"),
        ZaloFailure::ServerError => {
            let mut r = Response::new(Full::new(Bytes::new()));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
        ZaloFailure::Code(code) => zalo_error(code, "Sandbox error"),
    }
}

fn not_found() -> Reply {
    json_response(
        StatusCode::NOT_FOUND,
        &json!({"error": 404, "message": "not found"}),
    )
}

fn route(state: &mut State, call: &Call<'_>) -> Reply {
    let path = call.req.path.as_str();
    if let Some(f) = state.take_failure(path) {
        return failure_reply(f);
    }
    match (call.req.method.as_str(), path) {
        ("GET", "/v4/oa/permission") => permission(state, call),
        ("POST", "/v4/oa/access_token") => access_token(state, call),
        ("GET", "/v2.0/oa/getoa") => with_token(state, call, |state, _| {
            let oa = &state.oa;
            ok(json!({
                "oa_id": oa.oa_id, "name": oa.name, "avatar": oa.avatar,
                "description": oa.description, "cover": "", "is_verified": true,
            }))
        }),
        ("GET", "/v3.0/oa/user/detail") => with_token(state, call, user_detail),
        ("POST", "/v3.0/oa/message/cs") => with_token(state, call, send),
        ("POST", "/v2.0/oa/upload/file") => with_token(state, call, |s, c| upload(s, c, true)),
        ("POST", "/v2.0/oa/upload/image") => with_token(state, call, |s, c| upload(s, c, false)),
        ("GET", p) if p.starts_with("/cdn/") => match state.cdn.get(&p["/cdn/".len()..]) {
            Some((ct, bytes)) => {
                let mut r = Response::new(Full::new(bytes.clone()));
                if let Ok(v) = http::HeaderValue::from_str(ct) {
                    r.headers_mut().insert(http::header::CONTENT_TYPE, v);
                }
                r
            }
            None => not_found(),
        },
        _ => not_found(),
    }
}

/// `GET /v4/oa/permission`: the OA admin grants access at once (or refuses, per
/// [`ZaloSandbox::set_consent`]) and is sent back to `redirect_uri`.
fn permission(state: &mut State, call: &Call<'_>) -> Reply {
    let app_id = call.req.param("app_id").unwrap_or_default();
    let redirect_uri = call.req.param("redirect_uri").unwrap_or_default();
    let challenge = call.req.param("code_challenge").unwrap_or_default();
    let csrf = call.req.param("state").unwrap_or_default();
    if app_id != call.shared.app_id {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": INVALID_APP_ERROR, "message": "Invalid app_id"}),
        );
    }
    let Ok(mut target) = url::Url::parse(&redirect_uri) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": -14003, "message": "Invalid redirect_uri"}),
        );
    };
    if challenge.is_empty() {
        return json_response(
            StatusCode::BAD_REQUEST,
            &json!({"error": -14004, "message": "Missing code_challenge"}),
        );
    }
    if state.consent {
        let code = format!("zsbx_code_{}", state.next_id());
        state.codes.insert(code.clone(), CodeGrant { challenge });
        target
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &csrf)
            .append_pair("oa_id", &state.oa.oa_id);
    } else {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_description", "The OA admin did not grant access")
            .append_pair("state", &csrf);
    }
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = http::HeaderValue::from_str(target.as_str()) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp
}

fn token_error(code: i64, name: &str, description: &str) -> Reply {
    json_response(
        StatusCode::OK,
        &json!({"error": code, "error_name": name, "error_description": description}),
    )
}

/// `POST /v4/oa/access_token`: the code grant (with the PKCE verifier) or a refresh. Codes
/// and refresh tokens are single use.
fn access_token(state: &mut State, call: &Call<'_>) -> Reply {
    let secret_ok = call
        .secret_key
        .as_deref()
        .is_some_and(|k| constant_time_eq(k.as_bytes(), call.shared.app_secret.as_bytes()));
    let app_ok = call.req.param("app_id").as_deref() == Some(call.shared.app_id.as_str());
    if !secret_ok || !app_ok {
        return token_error(
            INVALID_APP_ERROR,
            "invalid_app",
            "Invalid app_id or secret_key",
        );
    }
    match call.req.param("grant_type").as_deref() {
        Some("authorization_code") => {
            let code = call.req.param("code").unwrap_or_default();
            let Some(grant) = state.codes.remove(&code) else {
                return token_error(
                    INVALID_GRANT_ERROR,
                    "invalid_grant",
                    "The authorization code is invalid or was already used",
                );
            };
            let verifier = call.req.param("code_verifier").unwrap_or_default();
            if !constant_time_eq(
                pkce_challenge(&verifier).as_bytes(),
                grant.challenge.as_bytes(),
            ) {
                return token_error(
                    INVALID_VERIFIER_ERROR,
                    "invalid_code_verifier",
                    "The code verifier does not match the code challenge",
                );
            }
        }
        Some("refresh_token") => {
            let rt = call.req.param("refresh_token").unwrap_or_default();
            // Single use: spent by this request, whatever follows.
            if !state.refresh.remove(&rt) {
                return token_error(
                    INVALID_GRANT_ERROR,
                    "invalid_refresh_token",
                    "The refresh token is invalid, expired or was already used",
                );
            }
        }
        _ => {
            return token_error(-14_005, "unsupported_grant_type", "Unknown grant_type");
        }
    }
    let secs = state.expires_in;
    let (access, refresh) = state.issue(secs);
    let expires_in = if state.expires_in_as_number {
        json!(secs)
    } else {
        json!(secs.to_string())
    };
    json_response(
        StatusCode::OK,
        &json!({"access_token": access, "refresh_token": refresh, "expires_in": expires_in}),
    )
}

/// Run `f` when the `access_token` header names a live token the sandbox issued.
fn with_token(
    state: &mut State,
    call: &Call<'_>,
    f: impl FnOnce(&mut State, &Call<'_>) -> Reply,
) -> Reply {
    let token = call.req.access_token.clone().unwrap_or_default();
    match state.access.get(&token) {
        None => zalo_error(-216, "Access token is invalid"),
        Some(exp) if *exp <= Utc::now() => zalo_error(-124, "Access token has expired"),
        Some(_) => f(state, call),
    }
}

fn user_detail(state: &mut State, call: &Call<'_>) -> Reply {
    let user_id = call
        .req
        .param("data")
        .and_then(|d| serde_json::from_str::<Value>(&d).ok())
        .and_then(|d| match d.get("user_id") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        })
        .filter(|s| !s.is_empty());
    let Some(user_id) = user_id else {
        return zalo_error(-201, "user_id is invalid");
    };
    let (name, avatar) = state.profiles.get(&user_id).cloned().unwrap_or_else(|| {
        let tail: String = user_id
            .chars()
            .rev()
            .take(4)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        (
            format!("Khách Zalo {tail}"),
            format!("https://s120-ava-talk.zadn.vn/sandbox/{user_id}.jpg"),
        )
    });
    ok(json!({
        "user_id": user_id, "display_name": name, "avatar": avatar,
        "avatars": {"120": avatar, "240": avatar}, "user_is_follower": true,
    }))
}

/// Whether a `message.attachment` has a shape the Send API accepts; the uploaded file a file
/// attachment names.
#[allow(clippy::type_complexity)]
fn check_attachment(state: &State, a: &Value) -> Result<Option<(String, Vec<u8>)>, &'static str> {
    let payload = a.get("payload").ok_or("attachment.payload is required")?;
    if let Some(buttons) = payload.get("buttons") {
        let buttons = buttons.as_array().ok_or("buttons must be an array")?;
        if buttons.len() > 5 {
            return Err("at most 5 buttons");
        }
        for b in buttons {
            let ok = b
                .get("title")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty())
                && matches!(
                    b.get("type").and_then(Value::as_str),
                    Some(
                        "oa.query.show"
                            | "oa.query.hide"
                            | "oa.open.url"
                            | "oa.open.phone"
                            | "oa.open.sms"
                    )
                )
                && b.get("payload").is_some();
            if !ok {
                return Err("each button needs title, a known type and payload");
            }
        }
    }
    match a.get("type").and_then(Value::as_str) {
        Some("template") => {
            match payload.get("template_type").and_then(Value::as_str) {
                None => {
                    if payload.get("buttons").is_none() {
                        return Err("a template without template_type carries buttons");
                    }
                }
                Some("media") => {
                    let elements = payload
                        .get("elements")
                        .and_then(Value::as_array)
                        .filter(|e| e.len() == 1)
                        .ok_or("a media template has exactly one element")?;
                    let e = &elements[0];
                    let typed = matches!(
                        e.get("media_type").and_then(Value::as_str),
                        Some("image" | "gif" | "sticker")
                    );
                    let source = e.get("url").and_then(Value::as_str).is_some()
                        || e.get("attachment_id").and_then(Value::as_str).is_some();
                    if !typed || !source {
                        return Err("a media element needs media_type and url or attachment_id");
                    }
                }
                Some(_) => return Err("unsupported template_type"),
            }
            Ok(None)
        }
        Some("file") => {
            let token = payload
                .get("token")
                .and_then(Value::as_str)
                .ok_or("a file attachment needs payload.token")?;
            state
                .uploads
                .get(token)
                .cloned()
                .map(Some)
                .ok_or("unknown file token")
        }
        _ => Err("unsupported attachment type"),
    }
}

fn send(state: &mut State, call: &Call<'_>) -> Reply {
    if let Some(prev) = call
        .idempotency_key
        .as_ref()
        .and_then(|k| state.idempotent.get(k))
    {
        return ok(prev.clone());
    }
    let Ok(body) = serde_json::from_slice::<Value>(call.body) else {
        return zalo_error(-201, "Body is not JSON");
    };
    let user_id = match body.pointer("/recipient/user_id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return zalo_error(-201, "recipient.user_id is required"),
    };
    let Some(message) = body.get("message").filter(|m| m.is_object()) else {
        return zalo_error(-201, "message is required");
    };
    let text = message
        .get("text")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let attachment = message.get("attachment").cloned();
    if text.as_deref().is_none_or(str::is_empty) && attachment.is_none() {
        return zalo_error(-201, "message.text or message.attachment is required");
    }
    let file = match &attachment {
        Some(a) => match check_attachment(state, a) {
            Ok(f) => f,
            Err(why) => return zalo_error(-201, why),
        },
        None => None,
    };
    let message_id = format!("zsbx{:016x}", state.next_id());
    state.sent.push(ZaloSent {
        user_id: user_id.clone(),
        access_token: call.req.access_token.clone().unwrap_or_default(),
        text,
        attachment,
        file,
        message_id: message_id.clone(),
    });
    let mut data = json!({"message_id": message_id, "user_id": user_id});
    if let Some(q) = &state.quota {
        data["quota"] = q.clone();
    }
    if let Some(k) = &call.idempotency_key {
        state.idempotent.insert(k.clone(), data.clone());
    }
    ok(data)
}

/// The `file` part of a `multipart/form-data` body: (file name, bytes).
fn multipart_file(content_type: &str, body: &[u8]) -> Option<(String, Vec<u8>)> {
    let boundary = content_type
        .split(';')
        .map(str::trim)
        .find_map(|p| p.strip_prefix("boundary="))?
        .trim_matches('"');
    let delimiter = format!("--{boundary}");
    let d = delimiter.as_bytes();
    let find = |hay: &[u8], needle: &[u8], from: usize| {
        hay.get(from..)?
            .windows(needle.len())
            .position(|w| w == needle)
            .map(|i| i + from)
    };
    let mut at = find(body, d, 0)?;
    loop {
        let start = at + d.len();
        if body.get(start..start + 2) == Some(b"--") {
            return None;
        }
        let headers_end = find(body, b"\r\n\r\n", start)?;
        let headers = String::from_utf8_lossy(&body[start..headers_end]).to_string();
        let content_start = headers_end + 4;
        let next = find(body, format!("\r\n{delimiter}").as_bytes(), content_start)?;
        if headers.contains("name=\"file\"") {
            let name = headers
                .split("filename=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("file")
                .to_owned();
            return Some((name, body[content_start..next].to_vec()));
        }
        at = next + 2;
    }
}

fn upload(state: &mut State, call: &Call<'_>, file: bool) -> Reply {
    let ct = call.req.content_type.clone().unwrap_or_default();
    if !ct.starts_with("multipart/form-data") {
        return zalo_error(-201, "multipart/form-data is required");
    }
    let Some((name, bytes)) = multipart_file(&ct, call.body) else {
        return zalo_error(-201, "the multipart body has no file part");
    };
    if bytes.is_empty() {
        return zalo_error(-201, "the file is empty");
    }
    let n = state.next_id();
    let id = format!("zsbx_upload_{n}");
    state.uploads.insert(id.clone(), (name, bytes));
    if file {
        ok(json!({"token": id}))
    } else {
        ok(json!({"attachment_id": id}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zalo::api;

    #[test]
    fn the_sandbox_reads_back_the_connectors_multipart_body() {
        let (body, ct) = api::multipart_file("bảng giá.pdf", "application/pdf", b"%PDF-1.4\r\n--x");
        let (name, bytes) = multipart_file(&ct, &body).expect("file part");
        assert_eq!(name, "bảng giá.pdf");
        assert_eq!(bytes, b"%PDF-1.4\r\n--x");
    }
}
