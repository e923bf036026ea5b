//! `GET /api/ws?since=<seq>`: the agent's live feed. Frames are `{type, seq, data}`; the first is
//! `hello` with the current sequence, then the frames the client missed (or `resync`), then
//! live frames. A slow client falls behind on its own receiver and gets `resync`; it never
//! slows the bus or other clients.

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::Response;
use axum::routing::get;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::Deserialize;
use tokio::sync::broadcast::error::RecvError;

use crate::error::AppError;
use crate::http::extract::Auth;
use crate::realtime::Subscription;
use crate::realtime::bus::{Frame, resync_frame};
use crate::state::AppState;

/// Query of the websocket URL.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    /// The last sequence number the client saw.
    pub since: Option<u64>,
}

/// Upgrade to the live feed (session cookie required; same-origin only).
pub async fn connect_ws(
    State(state): State<AppState>,
    Auth(p): Auth,
    headers: HeaderMap,
    Query(q): Query<WsQuery>,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    p.require(crate::domain::role::Permission::ReadInbox)?;
    // Cookies ride along on cross-site websocket handshakes: refuse foreign origins.
    if let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        let origin_host = origin.split("://").nth(1).unwrap_or(origin);
        if origin_host != host && !state.cfg.public_url().ends_with(origin_host) {
            return Err(AppError::forbidden(
                "bad_origin",
                "websocket from another origin",
            ));
        }
    }
    let sub = state.bus.subscribe(p.workspace_id, q.since);
    let guard = state.bus.client_guard();
    // tungstenite's default 128 KiB read buffer is resident per socket and zero-filled on every
    // read; agents send almost nothing, so 4 KiB is plenty.
    Ok(ws
        .read_buffer_size(4096)
        .on_upgrade(move |socket: WebSocket| async move {
            let _guard = guard;
            let (tx, rx) = socket.split();
            session(tx, rx, sub).await;
        }))
}

fn text(frame: &Frame) -> Message {
    Message::text(frame.json())
}

/// The socket loop, generic so it can be driven without a network.
pub async fn session<W, R>(mut tx: W, mut rx: R, mut sub: Subscription)
where
    W: Sink<Message> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let hello = Frame::new(
        "hello",
        sub.current,
        serde_json::json!({ "seq": sub.current }),
    );
    if tx.send(text(&hello)).await.is_err() {
        return;
    }
    let mut last = sub.current;
    match sub.replay.take() {
        Some(frames) => {
            for f in frames {
                last = last.max(f.seq);
                if tx.send(text(&f)).await.is_err() {
                    return;
                }
            }
        }
        None => {
            if tx.send(text(&resync_frame(sub.current))).await.is_err() {
                return;
            }
        }
    }
    loop {
        tokio::select! {
            incoming = rx.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(Message::Ping(p))) => { if tx.send(Message::Pong(p)).await.is_err() { return; } }
                Some(Ok(_)) => {}
            },
            frame = sub.rx.recv() => match frame {
                Ok(f) => {
                    // Skip what the replay already sent.
                    if f.kind != "resync" && f.seq <= last { continue; }
                    last = last.max(f.seq);
                    if tx.send(text(&f)).await.is_err() { return; }
                }
                Err(RecvError::Lagged(_)) => {
                    if tx.send(text(&resync_frame(last))).await.is_err() { return; }
                }
                Err(RecvError::Closed) => return,
            },
        }
    }
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/ws", get(connect_ws))
}
