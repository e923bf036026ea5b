//! The website chat: `/widget.js` (the embeddable script), the visitor endpoints under
//! `/widget/v1/…` (called cross-origin from shops' pages: CORS from the channel's allowed
//! origins) and the agent's endpoints for website chat channels and typing.

use axum::Json;
use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::http::extract::{AppJson, Auth, ClientIp};
use crate::realtime::Subscription;
use crate::services::ingest::Stored;
use crate::services::webchat::{
    self, HistoryOut, SessionIn, SessionOut, Visitor, WebchatChannelIn, WebchatChannelOut,
    WebchatChannelPatch,
};
use crate::state::AppState;

fn origin(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::ORIGIN).and_then(|v| v.to_str().ok())
}

/// CORS headers for a widget answer: the caller's origin is echoed (the service has checked
/// it against the channel's list); no cookies are involved.
fn cors(headers: &HeaderMap, mut res: Response) -> Response {
    if let Some(o) = origin(headers).and_then(|o| HeaderValue::from_str(o).ok()) {
        let h = res.headers_mut();
        h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, o);
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
    }
    res
}

/// Preflight of the widget endpoints. It carries no website token, so it allows the
/// requesting origin; the request itself is checked against the channel's list.
async fn preflight(headers: HeaderMap) -> Response {
    let mut res = StatusCode::NO_CONTENT.into_response();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("content-type, x-visitor-token"),
    );
    h.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    cors(&headers, res)
}

/// Start or resume a visitor's session.
#[utoipa::path(post, path = "/widget/v1/session", tag = "widget", request_body = SessionIn, responses((status = 200, body = SessionOut), (status = 401, body = crate::error::ErrorOut), (status = 403, body = crate::error::ErrorOut), (status = 404, body = crate::error::ErrorOut), (status = 429, body = crate::error::ErrorOut)))]
pub async fn create_session(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    AppJson(input): AppJson<SessionIn>,
) -> Response {
    let res = webchat::start_session(&s, origin(&headers), ip, input)
        .await
        .map(Json);
    cors(&headers, res.into_response())
}

/// Query of the history endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct HistoryQuery {
    /// Messages older than this message id.
    pub before: Option<Uuid>,
}

/// An older page of the visitor's messages (`X-Visitor-Token` header).
#[utoipa::path(get, path = "/widget/v1/messages", tag = "widget", params(HistoryQuery, ("x-visitor-token" = String, Header)), responses((status = 200, body = HistoryOut), (status = 401, body = crate::error::ErrorOut)))]
pub async fn list_messages(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(q): Query<HistoryQuery>,
) -> Response {
    let token = headers
        .get("x-visitor-token")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let res = webchat::history(&s, origin(&headers), ip, token, q.before)
        .await
        .map(Json);
    cors(&headers, res.into_response())
}

/// Query of the widget websocket.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    /// The session's visitor token.
    pub visitor_token: String,
}

/// A frame from the widget.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMsg {
    Message {
        text: String,
        echo_id: String,
    },
    Typing,
    Read,
    Contact {
        name: Option<String>,
        phone: Option<String>,
    },
}

/// The visitor's live connection.
pub async fn connect_ws(
    State(s): State<AppState>,
    ClientIp(ip): ClientIp,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let (v, conv) = webchat::open_socket(&s, origin(&headers), ip, &q.visitor_token).await?;
    let sub = s.bus.subscribe(v.acc.workspace_id, None);
    Ok(ws
        .max_message_size(64 * 1024)
        .on_upgrade(move |socket| visitor_session(s, socket, v, conv, sub, ip)))
}

fn frame(v: Value) -> Message {
    Message::Text(v.to_string().into())
}

async fn visitor_session(
    s: AppState,
    mut socket: WebSocket,
    v: Visitor,
    mut conv: Option<Uuid>,
    mut sub: Subscription,
    ip: std::net::IpAddr,
) {
    let _client = s.bus.client_guard();
    loop {
        tokio::select! {
            incoming = socket.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(t))) => t,
                    Some(Ok(Message::Ping(p))) => {
                        if socket.send(Message::Pong(p)).await.is_err() { return; }
                        continue;
                    }
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                let reply = handle(&s, &v, conv, ip, text.as_str()).await;
                if let Some(r) = reply
                    && socket.send(frame(r)).await.is_err()
                {
                    return;
                }
            }
            f = sub.rx.recv() => {
                let f = match f {
                    Ok(f) => f,
                    Err(RecvError::Lagged(_)) => {
                        // Fell behind: the widget refetches its history.
                        if socket.send(frame(json!({ "type": "resync" }))).await.is_err() { return; }
                        continue;
                    }
                    Err(RecvError::Closed) => return,
                };
                if conv.is_none() && f.kind == "message.created" && belongs(&v, &f.data) {
                    // The visitor's first message has just made the conversation.
                    conv = webchat::conversation_of(&s, &v).await.ok().flatten();
                }
                let Some(c) = conv else { continue };
                if let Some(out) = webchat::visitor_frame(&v, c, &f)
                    && socket.send(frame(out)).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

/// Whether a `message.created` frame is about a conversation of the visitor's channel.
fn belongs(v: &Visitor, data: &Value) -> bool {
    data.pointer("/conversation/channel_account/id")
        .and_then(Value::as_str)
        == Some(v.acc.id.to_string().as_str())
}

async fn handle(
    s: &AppState,
    v: &Visitor,
    conv: Option<Uuid>,
    ip: std::net::IpAddr,
    text: &str,
) -> Option<Value> {
    let msg: ClientMsg = match serde_json::from_str(text) {
        Ok(m) => m,
        Err(_) => {
            return Some(json!({ "type": "error", "code": "invalid", "message": "unknown frame" }));
        }
    };
    let error = |e: webchat::VisitorError, echo: Option<&str>| json!({ "type": "error", "code": e.code, "message": e.message, "echo_id": echo });
    match msg {
        ClientMsg::Message { text, echo_id } => {
            match webchat::visitor_message(s, v, ip, &text, &echo_id).await {
                Ok(stored) => Some(json!({
                    "type": "ack",
                    "echo_id": echo_id,
                    "duplicate": stored == Stored::Duplicate,
                })),
                Err(e) => Some(error(e, Some(&echo_id))),
            }
        }
        ClientMsg::Contact { name, phone } => {
            match webchat::visitor_contact(s, v, ip, name.as_deref(), phone.as_deref()).await {
                Ok(_) => Some(json!({ "type": "contact_saved" })),
                Err(e) => Some(error(e, None)),
            }
        }
        ClientMsg::Typing => {
            webchat::visitor_typing(s, v, conv).await;
            None
        }
        ClientMsg::Read => webchat::visitor_read(s, v)
            .await
            .err()
            .filter(|e| e.code != "rate_limited")
            .map(|e| error(e, None)),
    }
}

/// The embeddable script: cacheable for a day, loadable from any page.
async fn widget_js() -> Response {
    let Some(body) = crate::http::web::file("widget/widget.js") else {
        return AppError::NotFound("route").into_response();
    };
    let mut res = (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response();
    let h = res.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        "cross-origin-resource-policy",
        HeaderValue::from_static("cross-origin"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// Create a website chat channel; its `hmac_token` is returned this once.
#[utoipa::path(post, path = "/api/v1/webchat-channels", tag = "widget", request_body = WebchatChannelIn, responses((status = 201, body = WebchatChannelOut)))]
pub async fn create_channel(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(input): AppJson<WebchatChannelIn>,
) -> AppResult<(StatusCode, Json<WebchatChannelOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(webchat::create_channel(&s, &p, input).await?),
    ))
}

/// The workspace's website chat channels (without their secrets).
#[utoipa::path(get, path = "/api/v1/webchat-channels", tag = "widget", responses((status = 200, body = [WebchatChannelOut])))]
pub async fn list_channels(
    State(s): State<AppState>,
    Auth(p): Auth,
) -> AppResult<Json<Vec<WebchatChannelOut>>> {
    Ok(Json(webchat::list_channels(&s, &p).await?))
}

/// Change a website chat channel's name or settings.
#[utoipa::path(patch, path = "/api/v1/webchat-channels/{id}", tag = "widget", params(("id" = Uuid, Path)), request_body = WebchatChannelPatch, responses((status = 200, body = WebchatChannelOut)))]
pub async fn update_channel(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<WebchatChannelPatch>,
) -> AppResult<Json<WebchatChannelOut>> {
    Ok(Json(webchat::update_channel(&s, &p, id, input).await?))
}

/// The agent is typing in a conversation (a website chat visitor sees it).
#[utoipa::path(post, path = "/api/v1/conversations/{id}/typing", tag = "inbox", params(("id" = Uuid, Path)), responses((status = 204)))]
pub async fn agent_typing(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<StatusCode> {
    webchat::agent_typing(&s, &p, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The routes' OpenAPI part.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_session,
    list_messages,
    create_channel,
    list_channels,
    update_channel,
    agent_typing,
))]
pub struct Api;

/// Routes.
pub fn router() -> Router<AppState> {
    let options = |r: axum::routing::MethodRouter<AppState>| {
        r.on(axum::routing::MethodFilter::OPTIONS, preflight)
    };
    Router::new()
        .route("/widget.js", get(widget_js))
        .route("/widget/v1/session", options(post(create_session)))
        .route("/widget/v1/messages", options(get(list_messages)))
        .route("/widget/v1/ws", get(connect_ws))
        .route(
            "/api/v1/webchat-channels",
            post(create_channel).get(list_channels),
        )
        .route("/api/v1/webchat-channels/{id}", patch(update_channel))
        .route("/api/v1/conversations/{id}/typing", post(agent_typing))
}
