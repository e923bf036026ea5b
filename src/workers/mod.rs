//! Background loops of a node: the ingest worker (normalize stored webhooks) and the job
//! worker (the outbox). Each wakes on its `Notify`, or on a short tick as a safety net
//! (events re-queued by another process, due retries), and never lets an error escape.

use std::time::Duration;

use tokio::task::JoinSet;

use crate::services::{jobs, normalize};
use crate::state::{AppState, Heartbeats};

/// Spawn the workers into `set`.
pub fn spawn_all(state: &AppState, set: &mut JoinSet<anyhow::Result<()>>) {
    let s = state.clone();
    set.spawn(async move {
        ingest_loop(s).await;
        Ok(())
    });
    let s = state.clone();
    set.spawn(async move {
        jobs_loop(s).await;
        Ok(())
    });
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
    loop {
        Heartbeats::beat(&state.heartbeats.jobs);
        if let Err(e) = jobs::run_due(&state).await {
            tracing::error!(error = %e, "job worker failed; backing off");
        }
        tokio::select! {
            _ = state.stop.cancelled() => return,
            _ = state.jobs_notify.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
        }
    }
}
