//! The ingest hot path: a verified webhook is appended to `inbound_event` and acknowledged only
//! once its row is committed. Concurrent requests share one statement and one fsync (group
//! commit): a single writer task takes whatever requests are waiting, writes them with one
//! multi-row `INSERT` (its own transaction: nothing else to make atomic with it) and answers
//! them all once it has returned. Nothing waits for a timer: a batch is simply everything that
//! arrived while the previous one was committing.
//!
//! On SQLite the writer runs on a thread of its own (see [`crate::workers::dedicated`]), so its
//! round trips to the database thread are not queued behind request handling and websocket
//! fan-out on the main runtime, and the ingest worker [gives way](IngestWriter::give_way) to
//! it for the single SQLite writer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tongdai_connectors::{HandshakeReply, InboundRequest, Platform, Verified, VerifyError, verify};

use crate::error::AppError;
use crate::state::AppState;
use crate::store::Db;
use crate::store::entities::inbound_event;

const MAX_BATCH: usize = 512;

/// What happened to an accepted webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// A new row.
    New,
    /// The same delivery was stored before.
    Duplicate,
}

struct Pending {
    verified: Verified,
    reply: oneshot::Sender<Result<Stored, ()>>,
}

/// Handle to the group-commit writer.
#[derive(Clone)]
pub struct IngestWriter {
    tx: mpsc::Sender<Pending>,
    lane: Arc<Lane>,
}

/// Whether the writer is committing (or about to commit) a batch right now.
#[derive(Default)]
struct Lane {
    writing: AtomicBool,
    /// Fired when a batch is done.
    done: Notify,
}

impl IngestWriter {
    /// Start the writer task (on a thread of its own with SQLite). It drains what is queued
    /// when `stop` fires, then exits; the returned receiver resolves then.
    pub fn spawn(
        db: Db,
        on_commit: Arc<Notify>,
        metrics: Arc<crate::metrics::Metrics>,
        stop: CancellationToken,
    ) -> std::io::Result<(IngestWriter, oneshot::Receiver<()>)> {
        let (tx, rx) = mpsc::channel(8192);
        let lane = Arc::new(Lane::default());
        let sqlite = db.backend() == sea_orm::DbBackend::Sqlite;
        let task = writer_loop(db, rx, lane.clone(), on_commit, metrics, stop);
        let done = if sqlite {
            crate::workers::dedicated("tongdai-ingest", task)?
        } else {
            let (done, rx) = oneshot::channel();
            tokio::spawn(async move {
                task.await;
                let _ = done.send(());
            });
            rx
        };
        Ok((IngestWriter { tx, lane }, done))
    }

    /// Store `verified`; resolves once it is durable.
    pub async fn store(&self, verified: Verified) -> Result<Stored, AppError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Pending { verified, reply })
            .await
            .map_err(|_| AppError::Unavailable)?;
        rx.await
            .map_err(|_| AppError::Unavailable)?
            .map_err(|_| AppError::Unavailable)
    }

    /// Wait, at most `max`, while a batch of webhooks is being committed: SQLite has one
    /// writer, and acknowledging webhooks comes before normalizing them. Returns at once when
    /// the writer is idle; the cap keeps the normalizer going (at a smaller share of the
    /// writer) while webhooks pour in without a pause.
    pub async fn give_way(&self, max: Duration) {
        let deadline = tokio::time::Instant::now() + max;
        loop {
            let done = self.lane.done.notified();
            if !self.lane.writing.load(Ordering::Acquire) {
                return;
            }
            if tokio::time::timeout_at(deadline, done).await.is_err() {
                return;
            }
        }
    }
}

async fn writer_loop(
    db: Db,
    mut rx: mpsc::Receiver<Pending>,
    lane: Arc<Lane>,
    on_commit: Arc<Notify>,
    metrics: Arc<crate::metrics::Metrics>,
    stop: CancellationToken,
) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    loop {
        let first = tokio::select! {
            biased;
            p = rx.recv() => p,
            _ = stop.cancelled() => { rx.close(); rx.recv().await }
        };
        let Some(first) = first else { return };
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(p) => batch.push(p),
                Err(_) => break,
            }
        }
        let started = Instant::now();
        lane.writing.store(true, Ordering::Release);
        let result = write_batch(&db, &batch).await;
        lane.writing.store(false, Ordering::Release);
        lane.done.notify_waiters();
        metrics.ingest_batch(batch.len(), started.elapsed().as_secs_f64() * 1000.0);
        match result {
            Ok(outcomes) => {
                for (p, o) in batch.drain(..).zip(outcomes) {
                    let _ = p.reply.send(Ok(o));
                }
                on_commit.notify_one();
            }
            Err(e) => {
                tracing::error!(error = %e, size = batch.len(), "could not persist webhook batch");
                for p in batch.drain(..) {
                    let _ = p.reply.send(Err(()));
                }
            }
        }
    }
}

async fn write_batch(db: &Db, batch: &[Pending]) -> Result<Vec<Stored>, sea_orm::DbErr> {
    use std::collections::HashSet;

    use inbound_event::Column as C;
    use sea_orm::sea_query::{Expr, OnConflict, Query};
    use sea_orm::{ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect};

    let now = chrono::Utc::now();
    // Each (platform, key) once, first come first served: later copies in the batch are
    // duplicates of it.
    let mut seen: HashSet<(Platform, &str)> = HashSet::with_capacity(batch.len());
    let first: Vec<bool> = batch
        .iter()
        .map(|p| seen.insert((p.verified.platform(), p.verified.event_key())))
        .collect();
    // One multi-row INSERT per batch, its own transaction: it returns once committed (with
    // synchronous=FULL on SQLite). A key stored by an earlier batch is skipped.
    let mut insert = Query::insert();
    insert
        .into_table(inbound_event::Entity)
        .columns([
            C::Platform,
            C::EventKey,
            C::Body,
            C::Status,
            C::Attempts,
            C::ReceivedAt,
        ])
        .on_conflict(
            OnConflict::columns([C::Platform, C::EventKey])
                .do_nothing()
                .to_owned(),
        );
    for (p, _) in batch.iter().zip(&first).filter(|(_, first)| **first) {
        let v = &p.verified;
        let values: [sea_orm::Value; 6] = [
            v.platform().as_str().into(),
            v.event_key().into(),
            sea_orm::Value::Bytes(Some(v.body().to_vec())),
            "pending".into(),
            0i32.into(),
            now.into(),
        ];
        insert.values_panic(values.map(Expr::val));
    }
    let unique = seen.len() as u64;
    // The keys this statement stored, when not all of them (some were stored before).
    let new: Option<HashSet<(String, String)>> = if db.backend() == DbBackend::Postgres {
        // Several nodes may write at once: RETURNING says which rows are ours.
        insert.returning(Query::returning().columns([C::Platform, C::EventKey]));
        let rows = db.write.query_all_raw(db.backend().build(&insert)).await?;
        let mut keys = HashSet::with_capacity(rows.len());
        for r in rows {
            keys.insert((r.try_get("", "platform")?, r.try_get("", "event_key")?));
        }
        Some(keys)
    } else {
        // No RETURNING on SQLite: each returned row is a wake-up of this task by the database
        // thread. The one writer gives the statement's rows consecutive ids ending at the last
        // one inserted, so only a partly new batch needs to look its keys up.
        let done = db.write.execute_raw(db.backend().build(&insert)).await?;
        let stored = done.rows_affected();
        if stored == unique {
            None
        } else {
            let last = done.last_insert_id() as i64;
            let rows: Vec<(String, String)> = inbound_event::Entity::find()
                .select_only()
                .columns([C::Platform, C::EventKey])
                .filter(C::Id.gt(last - stored as i64))
                .filter(C::Id.lte(last))
                .into_tuple()
                .all(&db.write)
                .await?;
            Some(rows.into_iter().collect())
        }
    };
    Ok(batch
        .iter()
        .zip(first)
        .map(|(p, first)| {
            let ours = first
                && new.as_ref().is_none_or(|keys| {
                    keys.contains(&(
                        p.verified.platform().as_str().to_owned(),
                        p.verified.event_key().to_owned(),
                    ))
                });
            if ours { Stored::New } else { Stored::Duplicate }
        })
        .collect())
}

/// The outcome of a webhook request, for the handler to render.
pub enum WebhookOutcome {
    /// Answer the handshake.
    Handshake(HandshakeReply),
    /// Stored (or already stored).
    Accepted(Stored),
    /// Stored (or already stored), for a platform that wants an empty 2xx answer.
    AcceptedEmpty,
}

/// A webhook failure, rendered as 4xx with a reason.
#[derive(Debug)]
pub enum WebhookError {
    /// No such platform in this build.
    UnknownPlatform,
    /// Refused by the connector's verification.
    Refused(VerifyError),
    /// A GET that is not a handshake.
    NotAHandshake,
    /// Could not persist.
    Unavailable,
}

/// `GET|POST /webhooks/{platform}`: handshake, or verify → store → acknowledge.
#[tracing::instrument(skip_all, fields(platform = %platform_name))]
pub async fn receive_webhook(
    state: &AppState,
    platform_name: &str,
    req: &InboundRequest<'_>,
    body: bytes::Bytes,
) -> Result<WebhookOutcome, WebhookError> {
    let platform: Platform = platform_name
        .parse()
        .map_err(|_| WebhookError::UnknownPlatform)?;
    let inbound = state
        .connectors
        .get(platform)
        .and_then(|c| c.webhook())
        .ok_or(WebhookError::UnknownPlatform)?;
    if let Some(h) = inbound.handshake(req) {
        let outcome = if h.is_ok() { "handshake" } else { "rejected" };
        state.metrics.webhook(platform.as_str(), outcome);
        return h
            .map(WebhookOutcome::Handshake)
            .map_err(WebhookError::Refused);
    }
    if req.method == http::Method::GET {
        return Err(WebhookError::NotAHandshake);
    }
    // Verify before anything: the signature covers the raw bytes.
    let verified = match verify(platform, inbound, req, body) {
        Ok(v) => v,
        Err(e) => {
            state.metrics.webhook(platform.as_str(), "rejected");
            tracing::warn!(reason = %e, "webhook refused");
            return Err(WebhookError::Refused(e));
        }
    };
    match state.ingest.store(verified).await {
        Ok(s) => {
            let outcome = if matches!(s, Stored::Duplicate) {
                "duplicate"
            } else {
                "accepted"
            };
            state.metrics.webhook(platform.as_str(), outcome);
            Ok(if inbound.empty_ack() {
                WebhookOutcome::AcceptedEmpty
            } else {
                WebhookOutcome::Accepted(s)
            })
        }
        Err(_) => {
            state.metrics.webhook(platform.as_str(), "error");
            Err(WebhookError::Unavailable)
        }
    }
}
