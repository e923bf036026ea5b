//! Background loops of a node: the ingest worker (normalize stored webhooks) and the job
//! worker (the outbox). Each wakes on its `Notify`, or on a short tick as a safety net
//! (events re-queued by another process, due retries), and never lets an error escape.
//!
//! With SQLite the ingest worker runs on a thread and runtime of its own ([`dedicated`]): each
//! of its statements is a round trip to SQLite's own thread, and on the main runtime every one
//! of those wake-ups would queue behind the request handlers and the websocket fan-out of the
//! frames it just published (measured: the normalizer ran at a third of its speed with 1,000
//! agents connected). PostgreSQL connections belong to the runtime that opened them, so there
//! the worker stays on the main runtime.

use std::future::Future;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinSet;

use crate::services::{jobs, normalize};
use crate::state::{AppState, Heartbeats};

/// Spawn the workers into `set`.
pub fn spawn_all(state: &AppState, set: &mut JoinSet<anyhow::Result<()>>) -> std::io::Result<()> {
    let s = state.clone();
    if state.db.backend() == sea_orm::DbBackend::Sqlite {
        let done = dedicated("tongdai-normalize", ingest_loop(s))?;
        set.spawn(async move {
            let _ = done.await;
            Ok(())
        });
    } else {
        set.spawn(async move {
            ingest_loop(s).await;
            Ok(())
        });
    }
    let s = state.clone();
    set.spawn(async move {
        jobs_loop(s).await;
        Ok(())
    });
    Ok(())
}

async fn ingest_loop(state: AppState) {
    let mut backoff = Duration::from_millis(100);
    loop {
        Heartbeats::beat(&state.heartbeats.ingest);
        match normalize::drain(&state).await {
            Ok(_) => backoff = Duration::from_millis(100),
            Err(e) => {
                tracing::error!(error = %e, "ingest worker failed; backing off");
                backoff = (backoff * 2).min(Duration::from_secs(10));
                tokio::select! { _ = state.stop.cancelled() => return, _ = tokio::time::sleep(backoff) => {} }
                continue;
            }
        }
        tokio::select! {
            _ = state.stop.cancelled() => return,
            _ = state.ingest_notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(2)) => {}
        }
    }
}

async fn jobs_loop(state: AppState) {
    let mut last_sweep = std::time::Instant::now();
    loop {
        Heartbeats::beat(&state.heartbeats.jobs);
        if let Err(e) = jobs::run_due(&state).await {
            tracing::error!(error = %e, "job worker failed; backing off");
        }
        if last_sweep.elapsed() >= Duration::from_secs(5) {
            last_sweep = std::time::Instant::now();
            if let Err(e) = crate::services::assignment::sweep(&state).await {
                tracing::error!(error = %e, "distribution sweep failed");
            }
        }
        tokio::select! {
            _ = state.stop.cancelled() => return,
            _ = state.jobs_notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}

/// Run `task` on a new OS thread with a single-threaded tokio runtime of its own; the receiver
/// resolves when it has finished (or fails if the runtime could not be built).
pub fn dedicated<F>(name: &str, task: F) -> std::io::Result<oneshot::Receiver<()>>
where
    F: Future<Output = ()> + Send + 'static,
{
    let (done, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(task),
                Err(e) => tracing::error!(error = %e, "could not start a worker runtime"),
            }
            let _ = done.send(());
        })?;
    Ok(rx)
}
