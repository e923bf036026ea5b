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
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use crate::error::AppError;
use crate::http::extract::Auth;
use crate::realtime::Subscription;
use crate::realtime::bus::{ClientGuard, Frame, resync_frame};
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
    use crate::domain::role::Permission;
    // The inbox roles see everything; the fulfillment role sees orders only (the packing
    // board), never customers' messages.
    let scope = if p.role.can(Permission::ReadInbox) {
        Scope::All(p.user_id)
    } else {
        p.require(Permission::ReadOrders)?;
        Scope::Orders
    };
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
    // The session future is the upgrade callback's future itself: wrapping it in another
    // `async` block would keep a second copy of the socket in every connection's task.
    Ok(ws
        .read_buffer_size(READ_BUFFER)
        .on_upgrade(move |socket: WebSocket| session(socket, sub, scope, guard)))
}

/// Read buffer of a socket. tungstenite keeps it allocated for the socket's life and zero-fills
/// it on every read (its default is 128 KiB). Agents send nothing but control frames (ping,
/// close); a bigger frame still gets in, the buffer grows for it.
const READ_BUFFER: usize = 1024;

/// Frames already waiting on the bus are written together, up to this many bytes, in one
/// flush (one `write` instead of one per frame). It also bounds the write buffer a socket
/// keeps after a burst.
const BATCH_BYTES: usize = 8 * 1024;

fn text(frame: &Frame) -> Message {
    Message::Text(frame.text())
}

/// The `hello` frame. Built here, not in [`session`], so that its frame does not stay in the
/// socket's future for the whole connection.
fn hello(seq: u64) -> Message {
    text(&Frame::new("hello", seq, serde_json::json!({ "seq": seq })))
}

/// Which frames a socket gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every frame of the workspace, except frames addressed to another user (`mention`,
    /// whose `data.user_id` names its one recipient). Holds the socket's user.
    All(Option<uuid::Uuid>),
    /// `order.*` frames only (and `hello`/`resync`).
    Orders,
}

impl Scope {
    fn allows(self, f: &Frame) -> bool {
        match self {
            Scope::All(user) => !targeted(f) || addressed_to(f, user),
            Scope::Orders => f.kind.starts_with("order.") || f.kind == "resync",
        }
    }
}

/// Frames meant for one user only (the shell toasts them): `mention`.
fn targeted(f: &Frame) -> bool {
    f.kind == "mention"
}

/// Whether a targeted frame names `user` as its recipient (`data.user_id`).
fn addressed_to(f: &Frame, user: Option<uuid::Uuid>) -> bool {
    user.is_some_and(|u| {
        f.data.get("user_id").and_then(|v| v.as_str()) == Some(u.to_string().as_str())
    })
}

/// The socket loop, generic so it can be driven without a network. One task per socket: the
/// socket is not split, the loop waits on the client and on the bus at once. `_client` counts
/// the socket as connected until the loop ends.
pub async fn session<S>(mut socket: S, mut sub: Subscription, scope: Scope, _client: ClientGuard)
where
    S: Sink<Message> + Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    if socket.feed(hello(sub.current)).await.is_err() {
        return;
    }
    let mut last = sub.current;
    match sub.replay.take() {
        Some(frames) => {
            for f in frames {
                last = last.max(f.seq);
                if !scope.allows(&f) {
                    continue;
                }
                if socket.feed(text(&f)).await.is_err() {
                    return;
                }
            }
        }
        None => {
            if socket.feed(text(&resync_frame(sub.current))).await.is_err() {
                return;
            }
        }
    }
    if socket.flush().await.is_err() {
        return;
    }
    loop {
        tokio::select! {
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(Message::Ping(p))) => { if socket.send(Message::Pong(p)).await.is_err() { return; } }
                Some(Ok(_)) => {}
            },
            frame = sub.rx.recv() => {
                let mut frame = frame;
                let mut queued = 0;
                loop {
                    let out = match frame {
                        // Skip what the replay already sent.
                        Ok(f) if f.kind != "resync" && f.seq <= last => None,
                        Ok(f) if !scope.allows(&f) => {
                            last = last.max(f.seq);
                            None
                        }
                        Ok(f) => {
                            last = last.max(f.seq);
                            Some(f.text())
                        }
                        Err(RecvError::Lagged(_)) => Some(resync_frame(last).text()),
                        Err(RecvError::Closed) => {
                            let _ = socket.flush().await;
                            return;
                        }
                    };
                    if let Some(t) = out {
                        queued += t.len();
                        if socket.feed(Message::Text(t)).await.is_err() {
                            return;
                        }
                    }
                    if queued >= BATCH_BYTES {
                        break;
                    }
                    frame = match sub.rx.try_recv() {
                        Ok(f) => Ok(f),
                        Err(TryRecvError::Empty) => break,
                        Err(TryRecvError::Lagged(n)) => Err(RecvError::Lagged(n)),
                        Err(TryRecvError::Closed) => Err(RecvError::Closed),
                    };
                }
                if socket.flush().await.is_err() {
                    return;
                }
            },
        }
    }
}

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/ws", get(connect_ws))
}
