//! A loopback fake of the Graph API's Send API, for tests and `tongdai demo`: it answers the
//! way Facebook does (success bodies, Graph error JSON, throttling headers), records every
//! request, and can be told to fail the next sends. Also builds webhook bodies byte-for-byte
//! in the form Meta sends them.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::appsecret_proof;
use super::wire::meta_escape;
use crate::verify::constant_time_eq;

/// The version segment of [`GraphSandbox::base_url`].
pub const GRAPH_VERSION: &str = "v21.0";
/// `estimated_time_to_regain_access` (minutes) the sandbox reports for
/// [`SandboxFailure::RateLimited`].
pub const RATE_LIMIT_MINUTES: u64 = 5;

/// One HTTP request the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path, e.g. `/v21.0/105123456789012/messages`.
    pub path: String,
    /// Raw query string without `?`; empty when there was none.
    pub query: String,
    /// `Content-Type` header, when sent.
    pub content_type: Option<String>,
    /// Body, lossily decoded as UTF-8.
    pub body: String,
}

impl RecordedRequest {
    /// The URL-decoded value of query parameter `name`, when present.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// A Send API call the sandbox accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The Page id from the path (`me` for `/me/messages`).
    pub page_id: String,
    /// `recipient.id`.
    pub recipient_id: String,
    /// `message.text`.
    pub text: String,
    /// `messaging_type` (`RESPONSE`, `UPDATE`, `MESSAGE_TAG`).
    pub messaging_type: String,
    /// `tag`, for `MESSAGE_TAG` sends.
    pub tag: Option<String>,
    /// The `message_id` the sandbox answered with (`m_sandbox_<n>`).
    pub message_id: String,
}

/// How the next Send API call fails, as Facebook would answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxFailure {
    /// HTTP 400, `OAuthException` code 190 subcode 463: the Page token expired.
    TokenExpired,
    /// HTTP 400, code 32 (Page request limit), with an `X-Business-Use-Case-Usage` header whose
    /// `estimated_time_to_regain_access` is [`RATE_LIMIT_MINUTES`].
    RateLimited,
    /// HTTP 500, code 2 (unexpected error, retry later).
    ServerError,
    /// HTTP 400, code 10 subcode 2018278: sent outside the allowed messaging window.
    OutsideWindow,
}

#[derive(Default)]
struct State {
    requests: Vec<RecordedRequest>,
    sent: Vec<SentMessage>,
    /// `Idempotency-Key` → the message id answered the first time.
    by_key: std::collections::HashMap<String, String>,
    duplicates: u64,
    delay: std::time::Duration,
    failures: VecDeque<SandboxFailure>,
    next_message: u64,
    next_trace: u64,
}

struct Shared {
    app_secret: Option<String>,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated in a way that matters.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Owns the stop signal: when the last [`GraphSandbox`] clone drops, the sender drops and the
/// server task and its connections end.
struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

/// Handle to a running fake Graph API on `127.0.0.1`. Cheap to clone; the server stops when
/// [`GraphSandbox::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct GraphSandbox {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for GraphSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphSandbox")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl GraphSandbox {
    /// Bind `127.0.0.1:0` and serve on a spawned tokio task. With `app_secret`, an
    /// `appsecret_proof` sent by a client must match it.
    pub async fn start(app_secret: Option<String>) -> std::io::Result<GraphSandbox> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            app_secret: app_secret.filter(|s| !s.is_empty()),
            state: Mutex::new(State::default()),
        });
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, Arc::clone(&shared), stop_rx));
        Ok(GraphSandbox {
            inner: Arc::new(Handle { addr, shared, stop }),
        })
    }

    /// `http://127.0.0.1:<port>/v21.0`, to use as the Graph API base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/{GRAPH_VERSION}", self.inner.addr)
    }

    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.inner.shared.state().requests.clone()
    }

    /// Every Send API call that succeeded, in order.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.inner.shared.state().sent.clone()
    }

    /// How many sends repeated an `Idempotency-Key` already seen (answered, not re-sent).
    pub fn duplicate_sends(&self) -> u64 {
        self.inner.shared.state().duplicates
    }

    /// Delay every answer by `d` after its effect has happened (a slow or lost response).
    pub fn set_response_delay(&self, d: std::time::Duration) {
        self.inner.shared.state().delay = d;
    }

    /// Make the next Send API call fail as `f`. Queued failures are used first-in first-out,
    /// one per call.
    pub fn push_failure(&self, f: SandboxFailure) {
        self.inner.shared.state().failures.push_back(f);
    }

    /// Stop accepting connections and close the open ones.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        // `biased`: once stopped, never accept (or serve) again, even if work is ready too.
        let accepted = tokio::select! {
            biased;
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => accepted,
        };
        // A failed accept (e.g. too many open files) only loses that one connection.
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

/// Resolves once `shutdown()` was called or every handle dropped.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
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
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (response, delay) = {
        let mut state = shared.state();
        state.requests.push(recorded.clone());
        let response = route(&shared, &mut state, &recorded, &body, key.as_deref());
        (response, state.delay)
    };
    // The effect (the message "sent") has happened; only the answer is slow, like a Graph call
    // that times out after delivering.
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(response)
}

/// `/{version}/{page}/messages` or `/{page}/messages` → the page segment.
fn messages_page(path: &str) -> Option<&str> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segments.as_slice() {
        [version, rest @ ..] if is_version(version) => rest,
        all => all,
    };
    match rest {
        [page, "messages"] if !page.is_empty() => Some(page),
        _ => None,
    }
}

fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn route(
    shared: &Shared,
    state: &mut State,
    req: &RecordedRequest,
    body: &[u8],
    idempotency_key: Option<&str>,
) -> Response<Full<Bytes>> {
    let Some(page_id) = messages_page(&req.path) else {
        return graph_error(
            state,
            StatusCode::NOT_FOUND,
            "OAuthException",
            2500,
            None,
            &format!("Unknown path components: {}", req.path),
        );
    };
    if req.method != "POST" {
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "GraphMethodException",
            100,
            Some(33),
            &format!("Unsupported {} request.", req.method.to_lowercase()),
        );
    }
    if let Some(failure) = state.failures.pop_front() {
        return failure_response(state, failure, page_id);
    }
    let token = req.query_param("access_token").unwrap_or_default();
    if token.is_empty() {
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            190,
            None,
            "An access token is required to request this resource.",
        );
    }
    if let (Some(secret), Some(proof)) = (&shared.app_secret, req.query_param("appsecret_proof")) {
        let expected = appsecret_proof(secret, &token);
        if !constant_time_eq(expected.as_bytes(), proof.to_ascii_lowercase().as_bytes()) {
            return graph_error(
                state,
                StatusCode::BAD_REQUEST,
                "GraphMethodException",
                100,
                None,
                "Invalid appsecret_proof provided in the API argument",
            );
        }
    }
    let parsed = match parse_send(body) {
        Ok(p) => p,
        Err(msg) => {
            return graph_error(
                state,
                StatusCode::BAD_REQUEST,
                "OAuthException",
                100,
                None,
                &msg,
            );
        }
    };
    if let Some(first) = idempotency_key.and_then(|k| state.by_key.get(k)).cloned() {
        // A retry of a send that already happened: same answer, no second message.
        state.duplicates += 1;
        return json_response(
            StatusCode::OK,
            &json!({"recipient_id": parsed.recipient_id, "message_id": first}),
        );
    }
    state.next_message += 1;
    let message_id = format!("m_sandbox_{}", state.next_message);
    if let Some(k) = idempotency_key {
        state.by_key.insert(k.to_owned(), message_id.clone());
    }
    state.sent.push(SentMessage {
        page_id: page_id.to_owned(),
        recipient_id: parsed.recipient_id.clone(),
        text: parsed.text,
        messaging_type: parsed.messaging_type,
        tag: parsed.tag,
        message_id: message_id.clone(),
    });
    json_response(
        StatusCode::OK,
        &json!({"recipient_id": parsed.recipient_id, "message_id": message_id}),
    )
}

struct ParsedSend {
    recipient_id: String,
    text: String,
    messaging_type: String,
    tag: Option<String>,
}

/// Validate a Send API JSON body the way Graph does, with Graph's `(#100)` messages.
fn parse_send(body: &[u8]) -> Result<ParsedSend, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| "(#100) The request body must be a JSON object".to_owned())?;
    let recipient_id = match v.pointer("/recipient/id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => return Err("(#100) The parameter recipient is required".into()),
    };
    let text = match v.pointer("/message/text") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        _ => return Err("(#100) The parameter message is required".into()),
    };
    let messaging_type = match v.get("messaging_type").and_then(Value::as_str) {
        Some(t @ ("RESPONSE" | "UPDATE" | "MESSAGE_TAG")) => t.to_owned(),
        _ => {
            return Err(
                "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}".into(),
            );
        }
    };
    let tag = v.get("tag").and_then(Value::as_str).map(str::to_owned);
    if messaging_type == "MESSAGE_TAG" && tag.is_none() {
        return Err("(#100) Param tag is required when messaging_type is MESSAGE_TAG".into());
    }
    Ok(ParsedSend {
        recipient_id,
        text,
        messaging_type,
        tag,
    })
}

fn failure_response(
    state: &mut State,
    failure: SandboxFailure,
    page_id: &str,
) -> Response<Full<Bytes>> {
    match failure {
        SandboxFailure::TokenExpired => graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            190,
            Some(463),
            "Error validating access token: Session has expired on Thursday, 01-Jan-26 00:00:00 PST.",
        ),
        SandboxFailure::RateLimited => {
            // Keyed by the Page id, like Meta's header.
            let mut usage = serde_json::Map::new();
            usage.insert(
                page_id.to_owned(),
                json!([{
                    "type": "messenger",
                    "call_count": 100,
                    "total_cputime": 12,
                    "total_time": 34,
                    "estimated_time_to_regain_access": RATE_LIMIT_MINUTES,
                }]),
            );
            let usage = Value::Object(usage);
            let mut resp = graph_error(
                state,
                StatusCode::BAD_REQUEST,
                "OAuthException",
                32,
                None,
                "(#32) Page request limit reached",
            );
            if let Ok(value) = http::HeaderValue::from_str(&usage.to_string()) {
                resp.headers_mut()
                    .insert("x-business-use-case-usage", value);
            }
            resp
        }
        SandboxFailure::ServerError => graph_error(
            state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "OAuthException",
            2,
            None,
            "An unexpected error has occurred. Please retry your request later.",
        ),
        SandboxFailure::OutsideWindow => graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            10,
            Some(2_018_278),
            "(#10) This message is sent outside of allowed window.",
        ),
    }
}

fn graph_error(
    state: &mut State,
    status: StatusCode,
    kind: &str,
    code: i64,
    subcode: Option<i64>,
    message: &str,
) -> Response<Full<Bytes>> {
    state.next_trace += 1;
    let mut error = serde_json::Map::new();
    error.insert("message".into(), message.into());
    error.insert("type".into(), kind.into());
    error.insert("code".into(), code.into());
    if let Some(sub) = subcode {
        error.insert("error_subcode".into(), sub.into());
    }
    if code == 2 {
        // Graph flags its "retry later" errors.
        error.insert("is_transient".into(), true.into());
    }
    error.insert(
        "fbtrace_id".into(),
        format!("SandboxTrace{}", state.next_trace).into(),
    );
    json_response(status, &json!({ "error": error }))
}

fn json_response(status: StatusCode, body: &Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(meta_json(body))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

/// `value` as compact JSON with Meta's escaping: non-ASCII as `\uXXXX` (lowercase hex,
/// surrogate pairs for astral characters), `/` left alone. Object keys come out in `value`'s
/// own order.
pub fn meta_json(value: &Value) -> Vec<u8> {
    meta_escape(&value.to_string()).into_bytes()
}

/// A JSON string literal for `s` (before Meta escaping).
fn q(s: &str) -> String {
    Value::from(s).to_string()
}

/// An id as Meta writes it for `app_id`: a JSON number when it is all digits, else a string.
fn numeric_id(s: &str) -> String {
    match s.parse::<u64>() {
        Ok(n) if !s.starts_with('0') || s == "0" => n.to_string(),
        _ => q(s),
    }
}

fn page_envelope(page_id: &str, time_ms: i64, event: &str) -> Vec<u8> {
    let json = format!(
        r#"{{"object":"page","entry":[{{"id":{},"time":{time_ms},"messaging":[{event}]}}]}}"#,
        q(page_id)
    );
    meta_escape(&json).into_bytes()
}

/// The webhook body Meta posts when customer `psid` writes `text` to Page `page_id` (the
/// §2.4 shape; `entry.time` = `timestamp_ms`).
pub fn messenger_text_body(
    page_id: &str,
    psid: &str,
    mid: &str,
    text: &str,
    timestamp_ms: i64,
) -> Vec<u8> {
    let event = format!(
        r#"{{"sender":{{"id":{}}},"recipient":{{"id":{}}},"timestamp":{timestamp_ms},"message":{{"mid":{},"text":{}}}}}"#,
        q(psid),
        q(page_id),
        q(mid),
        q(text)
    );
    page_envelope(page_id, timestamp_ms, &event)
}

/// The webhook body Meta posts to echo a message Page `page_id` sent to `psid` through app
/// `app_id` (sender = Page, recipient = customer; `app_id` as a JSON number when numeric).
pub fn messenger_echo_body(
    page_id: &str,
    psid: &str,
    mid: &str,
    text: &str,
    app_id: &str,
    timestamp_ms: i64,
) -> Vec<u8> {
    let event = format!(
        r#"{{"sender":{{"id":{}}},"recipient":{{"id":{}}},"timestamp":{timestamp_ms},"message":{{"mid":{},"is_echo":true,"app_id":{},"text":{}}}}}"#,
        q(page_id),
        q(psid),
        q(mid),
        numeric_id(app_id),
        q(text)
    );
    page_envelope(page_id, timestamp_ms, &event)
}

/// The webhook body Meta posts when `psid`'s device received `mids` (and everything sent
/// before `watermark_ms`); `entry.time` = `watermark_ms`.
pub fn messenger_delivery_body(
    page_id: &str,
    psid: &str,
    mids: &[&str],
    watermark_ms: i64,
) -> Vec<u8> {
    let mids: Vec<String> = mids.iter().map(|m| q(m)).collect();
    let event = format!(
        r#"{{"sender":{{"id":{}}},"recipient":{{"id":{}}},"delivery":{{"mids":[{}],"watermark":{watermark_ms}}}}}"#,
        q(psid),
        q(page_id),
        mids.join(",")
    );
    page_envelope(page_id, watermark_ms, &event)
}
