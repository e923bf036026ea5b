//! Polling platforms that push nothing (YouTube comments): one self-rescheduling `poll` job per
//! active account whose connector has a [`Poller`](tongdai_connectors::Poller). Each run reads
//! pages while the connector says more are waiting (for at most half the job lease), applies
//! each page's events exactly like backfill ([`normalize::apply_fetched`]: the same platform
//! ids, so a page read twice stores nothing twice), saves the connector's state after every
//! page (a restart resumes where the last page ended), then queues the next run.
//!
//! Quota (platforms that count units per day, see [`crate::domain::quota`]): the units of
//! every call — polls, replies, moderation — are recorded in the account's
//! `channel_account.poll_state`; polling keeps a reserve for replies and moderation and spaces
//! its passes so the rest lasts the day; a write that would overdraw the day is refused with
//! the reason; a `quotaExceeded` (or any "slow down") answer stops every call until the time
//! the platform gave.
//!
//! `poll_state` = `{connector, quota: {day, used, exhausted_until}, last_poll_at,
//! next_poll_at, last_error, polls, events}`; its public part is shown on the channel
//! ([`public_view`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tongdai_connectors::youtube::quota as yt_quota;
use tongdai_connectors::{AccountCtx, ConnectorError, HttpCtx, Platform};
use uuid::Uuid;

use crate::domain::quota::{Budget, QuotaUse, Refusal};
use crate::services::jobs::{self, JobFailure};
use crate::services::outbound::note_failure;
use crate::services::profiles::payload_id;
use crate::services::{normalize, tokens};
use crate::state::AppState;
use crate::store::entities::{channel_account, job};

/// Websocket frame published after every poll run: `{channel_account_id, poll}`.
pub const FRAME: &str = "channel.poll";

/// A write that spends quota units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// A public reply to a comment.
    Reply,
    /// Hiding, unhiding or removing a comment.
    Moderate,
}

/// `channel_account.poll_state`, as stored.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PollState {
    /// The connector's opaque state.
    #[serde(default)]
    pub connector: Option<Value>,
    /// Quota units spent today.
    #[serde(default)]
    pub quota: QuotaUse,
    /// When the last poll call answered.
    #[serde(default)]
    pub last_poll_at: Option<DateTime<Utc>>,
    /// When the next run is queued for.
    #[serde(default)]
    pub next_poll_at: Option<DateTime<Utc>>,
    /// The last poll error, cleared by a successful call.
    #[serde(default)]
    pub last_error: Option<String>,
    /// Poll calls made.
    #[serde(default)]
    pub polls: u64,
    /// Events read.
    #[serde(default)]
    pub events: u64,
}

impl PollState {
    fn from_model(acc: &channel_account::Model) -> Self {
        acc.poll_state
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default()
    }
}

/// The daily budget of accounts of `platform`, when its calls cost quota units.
pub fn budget(state: &AppState, platform: Platform) -> Option<Budget> {
    match platform {
        Platform::Youtube => Some(Budget {
            daily: state.cfg.youtube.daily_quota,
            min_interval: Duration::from_secs(u64::from(state.cfg.youtube.poll_min_seconds.max(1))),
        }),
        _ => None,
    }
}

/// The default shortest time between passes of platforms without a unit budget.
const DEFAULT_INTERVAL: Duration = Duration::from_secs(60);

/// Units a write costs on `platform`, when it counts them.
fn write_cost(platform: Platform, w: Write) -> Option<u32> {
    match (platform, w) {
        (Platform::Youtube, Write::Reply) => Some(yt_quota::COST_INSERT),
        (Platform::Youtube, Write::Moderate) => Some(yt_quota::COST_MODERATE),
        _ => None,
    }
}

/// The channel's public view of its poll state: `{last_poll_at, next_poll_at, last_error,
/// quota_day, quota_used, daily_quota, quota_exhausted_until, polls, events}` (no cursors).
pub fn public_view(state: &AppState, acc: &channel_account::Model) -> Option<Value> {
    acc.poll_state.as_ref()?;
    let ps = PollState::from_model(acc);
    let daily = acc
        .platform
        .parse()
        .ok()
        .and_then(|p| budget(state, p))
        .map(|b| b.daily);
    let mut q = ps.quota.clone();
    q.roll(Utc::now());
    Some(json!({
        "last_poll_at": ps.last_poll_at,
        "next_poll_at": ps.next_poll_at,
        "last_error": ps.last_error,
        "polls": ps.polls,
        "events": ps.events,
        "quota_day": q.day,
        "quota_used": q.used,
        "daily_quota": daily,
        "quota_exhausted_until": q.exhausted_until,
    }))
}

/// One lock per account on this node around read-modify-writes of its poll state, so a reply's
/// units and a poll page's state are never written over each other.
fn account_lock(account: Uuid) -> Arc<tokio::sync::Mutex<()>> {
    static LOCKS: OnceLock<Mutex<HashMap<Uuid, Arc<tokio::sync::Mutex<()>>>>> = OnceLock::new();
    let mut map = LOCKS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    map.entry(account).or_default().clone()
}

/// Read, change and write the account's poll state under its lock; returns what `f` returned
/// and the new state.
async fn update<T>(
    state: &AppState,
    account: Uuid,
    f: impl FnOnce(&mut PollState) -> T,
) -> Result<(T, PollState), sea_orm::DbErr> {
    let lock = account_lock(account);
    let _held = lock.lock().await;
    let acc = channel_account::Entity::find_by_id(account)
        .one(&state.db.write)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("channel account".into()))?;
    let mut ps = PollState::from_model(&acc);
    ps.quota.roll(Utc::now());
    let out = f(&mut ps);
    channel_account::Entity::update_many()
        .col_expr(
            channel_account::Column::PollState,
            Expr::value(serde_json::to_value(&ps).unwrap_or(Value::Null)),
        )
        .filter(channel_account::Column::Id.eq(account))
        .exec(&state.db.write)
        .await?;
    Ok((out, ps))
}

/// Before a reply or a moderation call: spend its units, or refuse with the reason when it
/// would overdraw the account's daily quota (or the platform said the quota is used up).
/// Platforms without a unit budget always pass.
pub async fn spend_write(
    state: &AppState,
    acc: &channel_account::Model,
    w: Write,
) -> Result<(), ConnectorError> {
    let Some(platform) = acc.platform.parse::<Platform>().ok() else {
        return Ok(());
    };
    let (Some(b), Some(units)) = (budget(state, platform), write_cost(platform, w)) else {
        return Ok(());
    };
    let now = Utc::now();
    let (verdict, _) = update(state, acc.id, |ps| {
        let v = b.may_write(&ps.quota, units, now);
        if v.is_ok() {
            // Google charges a call whatever its outcome.
            ps.quota.spend(units, now);
        }
        v
    })
    .await
    .map_err(|e| ConnectorError::Transport(format!("database: {e}")))?;
    verdict.map_err(|r: Refusal| {
        tracing::info!(account = %acc.id, reason = %r.reason, "write refused for quota");
        ConnectorError::Api {
            status: 429,
            code: None,
            subcode: None,
            message: format!("refused to protect the {platform} quota: {}", r.reason),
            transient: false,
        }
    })
}

/// The platform refused a call of `acc` for quota (or asked to slow down) for `retry_after`:
/// on platforms with a unit budget, nothing is spent before then, on any node (replies and
/// polls alike).
pub async fn note_throttled(
    state: &AppState,
    acc: &channel_account::Model,
    retry_after: Option<Duration>,
) {
    let budgeted = acc
        .platform
        .parse::<Platform>()
        .ok()
        .and_then(|p| budget(state, p))
        .is_some();
    if !budgeted {
        return;
    }
    let now = Utc::now();
    let until = now
        + chrono::Duration::from_std(retry_after.unwrap_or(DEFAULT_INTERVAL)).unwrap_or_default();
    if let Err(e) = update(state, acc.id, |ps| ps.quota.exhaust(until, now)).await {
        tracing::warn!(account = %acc.id, error = %e, "could not record the quota pause");
    }
}

/// Whether the account's platform is polled here.
fn polled(state: &AppState, platform: &str) -> bool {
    platform
        .parse::<Platform>()
        .ok()
        .and_then(|p| state.connectors.get(p))
        .is_some_and(|c| c.poller().is_some())
}

/// Whether a `poll` job for `account` is waiting or running.
async fn job_active(db: &impl ConnectionTrait, account: Uuid) -> Result<bool, sea_orm::DbErr> {
    let jobs = job::Entity::find()
        .filter(job::Column::Kind.eq(jobs::kind::POLL))
        .filter(job::Column::Status.is_in(["pending", "running"]))
        .all(db)
        .await?;
    let id = account.to_string();
    Ok(jobs
        .iter()
        .any(|j| j.payload.get("channel_account_id").and_then(|v| v.as_str()) == Some(&id)))
}

/// Queue a poll of `account` now (inside the caller's transaction) unless one is already
/// waiting or its platform is not polled. Notify `state.jobs_notify` after commit.
pub async fn queue(
    state: &AppState,
    db: &impl ConnectionTrait,
    account: &channel_account::Model,
) -> Result<bool, sea_orm::DbErr> {
    if !polled(state, &account.platform) || job_active(db, account.id).await? {
        return Ok(false);
    }
    jobs::enqueue(
        db,
        jobs::kind::POLL,
        json!({ "channel_account_id": account.id }),
        Utc::now(),
    )
    .await?;
    Ok(true)
}

/// At startup: queue a poll for every active polled account that has none (its job was lost,
/// or the platform's credentials were configured since).
pub async fn requeue_all(state: &AppState) -> Result<u64, sea_orm::DbErr> {
    let mut n = 0;
    for acc in channel_account::Entity::find()
        .filter(channel_account::Column::Status.eq("active"))
        .all(&state.db.write)
        .await?
    {
        if queue(state, &state.db.write, &acc).await? {
            n += 1;
        }
    }
    if n > 0 {
        state.jobs_notify.notify_one();
    }
    Ok(n)
}

/// Queue the next run at `at` and record it.
async fn reschedule(
    state: &AppState,
    acc: &channel_account::Model,
    at: DateTime<Utc>,
) -> Result<(), JobFailure> {
    let db_err = |e: sea_orm::DbErr| JobFailure::retry(format!("database: {e}"));
    let (_, ps) = update(state, acc.id, |ps| ps.next_poll_at = Some(at))
        .await
        .map_err(db_err)?;
    jobs::enqueue(
        &state.db.write,
        jobs::kind::POLL,
        json!({ "channel_account_id": acc.id }),
        at,
    )
    .await
    .map_err(db_err)?;
    state.jobs_notify.notify_one();
    publish(state, acc, &ps).await;
    Ok(())
}

async fn publish(state: &AppState, acc: &channel_account::Model, _ps: &PollState) {
    let Ok(Some(fresh)) = channel_account::Entity::find_by_id(acc.id)
        .one(&state.db.write)
        .await
    else {
        return;
    };
    state
        .bus
        .publish(
            acc.workspace_id,
            FRAME,
            json!({ "channel_account_id": acc.id, "poll": public_view(state, &fresh) }),
        )
        .await;
}

/// Run a `poll` job (`{"channel_account_id"}`).
pub async fn run(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let db_err = |e: sea_orm::DbErr| JobFailure::retry(format!("database: {e}"));
    let account = payload_id(j, "channel_account_id")?;
    let Some(acc) = channel_account::Entity::find_by_id(account)
        .one(&state.db.write)
        .await
        .map_err(db_err)?
    else {
        return Ok(()); // deleted since
    };
    if acc.status != "active" {
        // Disconnected or waiting for a reconnect: connecting again queues a new poll.
        return Ok(());
    }
    let Some(platform) = acc.platform.parse::<Platform>().ok() else {
        return Ok(());
    };
    let Some(connector) = state.connectors.get(platform).cloned() else {
        return Ok(()); // not configured any more; queued again at startup once it is
    };
    let Some(poller) = connector.poller() else {
        return Ok(());
    };
    let budget = budget(state, platform);
    let per_call = poller.units_per_call();
    let run_budget = Duration::from_secs(u64::from(state.cfg.job_lease_seconds.max(2) / 2));
    let started = Instant::now();
    let mut pages = 0u32;
    loop {
        let now = Utc::now();
        let current = PollState::from_model(
            &channel_account::Entity::find_by_id(acc.id)
                .one(&state.db.write)
                .await
                .map_err(db_err)?
                .ok_or_else(|| JobFailure::fatal("channel account gone"))?,
        );
        let mut q = current.quota.clone();
        q.roll(now);
        if let Some(b) = budget
            && let Err(r) = b.may_poll(&q, per_call, now)
        {
            tracing::info!(account = %acc.id, until = %r.until, reason = %r.reason, "polling paused for quota");
            update(state, acc.id, |ps| ps.last_error = Some(r.reason.clone()))
                .await
                .map_err(db_err)?;
            return reschedule(state, &acc, r.until).await;
        }
        if let Some(left) = state.limits.held(acc.id) {
            let at = now + chrono::Duration::from_std(left).unwrap_or_default();
            return reschedule(state, &acc, at).await;
        }
        let token = match tokens::access_token(state, &acc).await {
            Ok(t) => t,
            Err(e) if e.needs_reconnect() => {
                // tokens:: marked the account needs_reauth; a reconnect queues a new poll.
                update(state, acc.id, |ps| ps.last_error = Some(e.to_string()))
                    .await
                    .map_err(db_err)?;
                return Ok(());
            }
            Err(e) => {
                update(state, acc.id, |ps| ps.last_error = Some(e.to_string()))
                    .await
                    .map_err(db_err)?;
                return reschedule(state, &acc, next_at(budget, &q, per_call, now)).await;
            }
        };
        let cx = HttpCtx {
            http: &state.http,
            base_url: state.api_base(platform),
        };
        let ctx = AccountCtx {
            external_id: &acc.external_id,
            access_token: &token,
        };
        let result = poller.poll(&cx, &ctx, current.connector.as_ref()).await;
        let now = Utc::now();
        match result {
            Ok(page) => {
                normalize::apply_fetched(state, &acc, &page.events)
                    .await
                    .map_err(db_err)?;
                let n = page.events.len() as u64;
                let (_, ps) = update(state, acc.id, |ps| {
                    ps.connector = Some(page.state.clone());
                    ps.quota.spend(page.units, now);
                    ps.last_poll_at = Some(now);
                    ps.last_error = None;
                    ps.polls += 1;
                    ps.events += n;
                })
                .await
                .map_err(db_err)?;
                pages += 1;
                if !page.more {
                    let at = next_at(budget, &ps.quota, per_call.max(1) * pages, now);
                    return reschedule(state, &acc, at).await;
                }
                if started.elapsed() >= run_budget {
                    return reschedule(state, &acc, now).await;
                }
            }
            Err(e) => {
                tracing::warn!(account = %acc.id, error = %e, "poll failed");
                note_failure(state, &acc, &e).await;
                let message = e.to_string();
                let (_, ps) = update(state, acc.id, |ps| {
                    ps.quota.spend(per_call, now);
                    if let ConnectorError::RateLimited { retry_after, .. } = &e {
                        let wait = retry_after.unwrap_or(DEFAULT_INTERVAL);
                        ps.quota.exhaust(
                            now + chrono::Duration::from_std(wait).unwrap_or_default(),
                            now,
                        );
                    }
                    ps.last_error = Some(message.clone());
                })
                .await
                .map_err(db_err)?;
                if e.needs_reconnect() {
                    return Ok(()); // marked needs_reauth; a reconnect queues a new poll
                }
                let at = next_at(budget, &ps.quota, per_call, now);
                return reschedule(state, &acc, at).await;
            }
        }
    }
}

/// When the next pass should run.
fn next_at(budget: Option<Budget>, q: &QuotaUse, units: u32, now: DateTime<Utc>) -> DateTime<Utc> {
    match budget {
        Some(b) => b.next_poll(q, units, now),
        None => now + chrono::Duration::from_std(DEFAULT_INTERVAL).unwrap_or_default(),
    }
}
