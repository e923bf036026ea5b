//! [`Bus`]: per-workspace sequenced broadcast, local or through Redis.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::ws::Utf8Bytes;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Frames kept per workspace for `?since=` catch-up.
const BUFFER: usize = 2048;
/// Frames a client may fall behind before it is told to resync.
const CLIENT_LAG: usize = 512;
const REDIS_CHANNEL: &str = "tongdai:bus";

/// One event as sent to clients: `{type, seq, data}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frame {
    /// Event type, e.g. `message.created`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Position in the workspace's sequence.
    pub seq: u64,
    /// Payload.
    pub data: serde_json::Value,
    /// The serialized frame, made once and shared (reference-counted, not copied) by every
    /// socket that sends it.
    #[serde(skip)]
    json: std::sync::OnceLock<Utf8Bytes>,
}

impl Frame {
    /// A frame.
    pub fn new(kind: impl Into<String>, seq: u64, data: serde_json::Value) -> Frame {
        Frame {
            kind: kind.into(),
            seq,
            data,
            json: std::sync::OnceLock::new(),
        }
    }

    /// The frame as JSON text (serialized on first use).
    pub fn json(&self) -> &str {
        self.encoded().as_str()
    }

    /// The frame as a websocket text payload: the shared serialization, no copy.
    pub fn text(&self) -> Utf8Bytes {
        self.encoded().clone()
    }

    fn encoded(&self) -> &Utf8Bytes {
        self.json.get_or_init(|| {
            serde_json::to_string(self)
                .expect("frames serialize")
                .into()
        })
    }
}

/// `SET NX` the starting value, `INCR`, then `PUBLISH "<seq>|<json>"`, atomically.
const PUBLISH_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SET', KEYS[1], ARGV[1]) end
local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[2], string.format('%d', seq) .. '|' .. ARGV[3])
return seq
";

#[derive(Serialize)]
struct Unsequenced<'a> {
    workspace_id: Uuid,
    kind: &'a str,
    data: &'a serde_json::Value,
}

#[derive(Deserialize)]
struct Received {
    workspace_id: Uuid,
    kind: String,
    data: serde_json::Value,
}

/// Parse `"<seq>|<json>"` from the Redis channel.
fn parse_published(payload: &[u8]) -> Option<(Uuid, Frame)> {
    let text = std::str::from_utf8(payload).ok()?;
    let (seq, json) = text.split_once('|')?;
    let r: Received = serde_json::from_str(json).ok()?;
    Some((
        r.workspace_id,
        Frame::new(r.kind, seq.parse().ok()?, r.data),
    ))
}

struct Topic {
    tx: broadcast::Sender<Arc<Frame>>,
    buffer: Mutex<VecDeque<Arc<Frame>>>,
    next_seq: AtomicU64,
}

impl Topic {
    fn new() -> Topic {
        // Sequences start at the clock (µs) so they keep growing across restarts: a client
        // holding a number from before a restart gets `resync`, never a wrong replay.
        let start = chrono::Utc::now().timestamp_micros().max(1) as u64;
        Topic {
            tx: broadcast::channel(CLIENT_LAG).0,
            buffer: Mutex::new(VecDeque::with_capacity(64)),
            next_seq: AtomicU64::new(start),
        }
    }

    fn deliver(&self, frame: Arc<Frame>) {
        let mut buf = self.buffer.lock().expect("bus buffer lock");
        // Frames from other nodes may arrive slightly out of order: keep the buffer sorted.
        let pos = buf.partition_point(|f| f.seq < frame.seq);
        if buf.get(pos).is_some_and(|f| f.seq == frame.seq) {
            return;
        }
        buf.insert(pos, frame.clone());
        while buf.len() > BUFFER {
            buf.pop_front();
        }
        // Sent under the lock so a subscriber's snapshot + receiver never miss or repeat a frame.
        let _ = self.tx.send(frame);
    }
}

/// What a new websocket client starts from.
pub struct Subscription {
    /// Frames after the client's `since`, or `None` when they are no longer buffered (resync).
    pub replay: Option<Vec<Arc<Frame>>>,
    /// The newest sequence number known at subscription time.
    pub current: u64,
    /// Live frames from now on.
    pub rx: broadcast::Receiver<Arc<Frame>>,
}

struct Inner {
    topics: Mutex<HashMap<Uuid, Arc<Topic>>>,
    redis: Option<redis::aio::MultiplexedConnection>,
    clients: AtomicI64,
}

/// The realtime bus of this node. Cheap to clone.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus::local()
    }
}

impl Bus {
    /// A bus for a single node.
    pub fn local() -> Bus {
        Bus {
            inner: Arc::new(Inner {
                topics: Mutex::new(HashMap::new()),
                redis: None,
                clients: AtomicI64::new(0),
            }),
        }
    }

    /// A bus shared by every node connected to the same Redis.
    pub async fn redis(url: &str, stop: CancellationToken) -> anyhow::Result<Bus> {
        let client = redis::Client::open(url)?;
        let conn = client.get_multiplexed_async_connection().await?;
        let bus = Bus {
            inner: Arc::new(Inner {
                topics: Mutex::new(HashMap::new()),
                redis: Some(conn),
                clients: AtomicI64::new(0),
            }),
        };
        // Subscribe before returning, so nothing published after this is missed.
        let mut pubsub = client.get_async_pubsub().await?;
        pubsub.subscribe(REDIS_CHANNEL).await?;
        let b = bus.clone();
        tokio::spawn(async move { b.redis_loop(client, pubsub, stop).await });
        Ok(bus)
    }

    async fn redis_loop(
        self,
        client: redis::Client,
        mut pubsub: redis::aio::PubSub,
        stop: CancellationToken,
    ) {
        loop {
            {
                let mut stream = pubsub.on_message();
                loop {
                    let msg = tokio::select! {
                        _ = stop.cancelled() => return,
                        m = stream.next() => m,
                    };
                    let Some(msg) = msg else { break };
                    let Ok(payload) = msg.get_payload::<Vec<u8>>() else {
                        continue;
                    };
                    match parse_published(&payload) {
                        Some((ws, frame)) => self.topic(ws).deliver(Arc::new(frame)),
                        None => tracing::warn!("unreadable frame on the bus"),
                    }
                }
            }
            tracing::warn!("redis bus subscription lost; reconnecting");
            loop {
                tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                }
                if let Ok(mut p) = client.get_async_pubsub().await
                    && p.subscribe(REDIS_CHANNEL).await.is_ok()
                {
                    pubsub = p;
                    break;
                }
            }
            // Frames may have been missed while disconnected: tell every client to refetch.
            let topics: Vec<(Uuid, Arc<Topic>)> = self
                .inner
                .topics
                .lock()
                .expect("bus topics lock")
                .iter()
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            for (_, t) in topics {
                t.buffer.lock().expect("bus buffer lock").clear();
                let _ = t.tx.send(Arc::new(resync_frame(0)));
            }
        }
    }

    fn topic(&self, workspace: Uuid) -> Arc<Topic> {
        self.inner
            .topics
            .lock()
            .expect("bus topics lock")
            .entry(workspace)
            .or_insert_with(|| Arc::new(Topic::new()))
            .clone()
    }

    /// Publish a committed fact to every client of `workspace` (on every node).
    pub async fn publish(&self, workspace: Uuid, kind: &str, data: serde_json::Value) {
        let topic = self.topic(workspace);
        match &self.inner.redis {
            None => {
                let seq = topic.next_seq.fetch_add(1, Ordering::SeqCst);
                topic.deliver(Arc::new(Frame::new(kind.to_owned(), seq, data)));
            }
            Some(conn) => {
                let mut conn = conn.clone();
                let body = Unsequenced {
                    workspace_id: workspace,
                    kind,
                    data: &data,
                };
                let payload = serde_json::to_string(&body).expect("frames serialize");
                // Number and publish in one atomic script: subscribers then receive every
                // workspace's frames in sequence order, whichever node published them.
                let res: redis::RedisResult<u64> = redis::Script::new(PUBLISH_SCRIPT)
                    .key(format!("tongdai:seq:{workspace}"))
                    .arg(chrono::Utc::now().timestamp_micros())
                    .arg(REDIS_CHANNEL)
                    .arg(payload)
                    .invoke_async(&mut conn)
                    .await;
                if let Err(e) = res {
                    tracing::error!(error = %e, "redis bus publish failed; delivering locally only");
                    let seq = topic.next_seq.fetch_add(1, Ordering::SeqCst);
                    topic.deliver(Arc::new(Frame::new(kind.to_owned(), seq, data)));
                }
            }
        }
    }

    /// Start following `workspace`, replaying what came after `since` when still buffered.
    pub fn subscribe(&self, workspace: Uuid, since: Option<u64>) -> Subscription {
        let topic = self.topic(workspace);
        let buf = topic.buffer.lock().expect("bus buffer lock");
        let rx = topic.tx.subscribe();
        let newest = buf.back().map(|f| f.seq);
        let current =
            newest.unwrap_or_else(|| topic.next_seq.load(Ordering::SeqCst).saturating_sub(1));
        let replay = match since {
            None => Some(Vec::new()),
            Some(s) if s >= current => Some(Vec::new()),
            Some(s) => match buf.front() {
                // Everything after `s` is still here when the oldest kept frame is at most s+1.
                Some(first) if first.seq <= s + 1 => {
                    Some(buf.iter().filter(|f| f.seq > s).cloned().collect())
                }
                _ => None,
            },
        };
        Subscription {
            replay,
            current,
            rx,
        }
    }

    /// Count of connected websocket clients on this node (a metric).
    pub fn clients(&self) -> i64 {
        self.inner.clients.load(Ordering::Relaxed)
    }

    pub(crate) fn client_guard(&self) -> ClientGuard {
        self.inner.clients.fetch_add(1, Ordering::Relaxed);
        ClientGuard(self.clone())
    }
}

/// Counts a websocket client as connected while it lives (made by the bus of the node).
pub struct ClientGuard(Bus);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.inner.clients.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The frame telling a client to refetch over REST.
pub fn resync_frame(seq: u64) -> Frame {
    Frame::new("resync", seq, serde_json::json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn a_reconnecting_client_gets_exactly_what_it_missed() {
        let bus = Bus::local();
        let ws = Uuid::now_v7();
        bus.publish(ws, "a", json!(1)).await;
        let first = bus.subscribe(ws, None);
        bus.publish(ws, "b", json!(2)).await;
        bus.publish(ws, "c", json!(3)).await;
        let again = bus.subscribe(ws, Some(first.current));
        let kinds: Vec<String> = again
            .replay
            .unwrap()
            .iter()
            .map(|f| f.kind.clone())
            .collect();
        assert_eq!(kinds, vec!["b", "c"]);
    }

    #[tokio::test]
    async fn a_client_too_far_behind_is_told_to_resync() {
        let bus = Bus::local();
        let ws = Uuid::now_v7();
        bus.publish(ws, "a", json!(0)).await;
        let since = bus.subscribe(ws, None).current;
        for i in 0..BUFFER + 5 {
            bus.publish(ws, "x", json!(i)).await;
        }
        assert!(bus.subscribe(ws, Some(since)).replay.is_none());
        assert!(bus.subscribe(ws, Some(1)).replay.is_none());
    }

    #[test]
    fn frames_from_redis_keep_their_exact_sequence_number() {
        let ws = Uuid::now_v7();
        let payload =
            format!("1795966003554129|{{\"workspace_id\":\"{ws}\",\"kind\":\"x\",\"data\":1}}");
        let (got_ws, f) = parse_published(payload.as_bytes()).unwrap();
        assert_eq!(
            (got_ws, f.seq, f.kind.as_str()),
            (ws, 1_795_966_003_554_129, "x")
        );
        assert!(parse_published(b"1.7e+15|{}").is_none());
    }

    #[tokio::test]
    async fn workspaces_do_not_see_each_other() {
        let bus = Bus::local();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let mut sub_b = bus.subscribe(b, None);
        bus.publish(a, "secret", json!({})).await;
        assert!(sub_b.rx.try_recv().is_err());
    }
}
