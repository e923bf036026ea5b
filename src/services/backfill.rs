//! History backfill: a `backfill` job pages through a connected account's recent conversations,
//! then the comments under its recent posts, and applies each page exactly like webhooks
//! ([`normalize::apply_fetched`]: the same platform ids, so history and live webhooks never
//! store a message twice).
//!
//! Progress lives in `channel_account.backfill` and is saved after every page, cursors
//! included, so a job re-run after a crash or a retry resumes where the last page ended. A run
//! works for at most half the job lease, then queues its own continuation, so a long history
//! never outlives the lease another node would take the job over at.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tongdai_connectors::{AccountCtx, ConnectorError, HttpCtx, NormalizedEvent, Platform};
use uuid::Uuid;

use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::services::channels::{self, ChannelAccountOut};
use crate::services::jobs::{self, JobFailure};
use crate::services::normalize;
use crate::services::tokens;
use crate::state::AppState;
use crate::store::entities::{channel_account, job};

/// Websocket frame published after every page: `{channel_account_id, backfill}`.
pub const FRAME: &str = "channel.backfill";

/// Which listing a backfill is in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Phase {
    /// Messages of recent conversations.
    #[default]
    Conversations,
    /// Comments under recent posts.
    Comments,
}

/// `channel_account.backfill`, as stored and as shown in `ChannelAccountOut.backfill`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Progress {
    /// `queued`, `running`, `done` or `failed`.
    state: String,
    /// Nothing older than this is imported.
    since: DateTime<Utc>,
    #[serde(default)]
    phase: Phase,
    /// Listing calls made, one platform request each: a page of conversations or of one
    /// conversation's older messages.
    #[serde(default)]
    conversations_pages: u64,
    /// Likewise: a page of posts or of one post's further comments.
    #[serde(default)]
    comments_pages: u64,
    /// Messages (both directions) read from the platform.
    #[serde(default)]
    messages: u64,
    /// Comments read from the platform.
    #[serde(default)]
    comments: u64,
    /// The connector's opaque cursor, passed back as is (it covers the nested lists still to
    /// read as well as the listing itself); `None` before the first page.
    #[serde(default)]
    cursor_conversations: Option<String>,
    #[serde(default)]
    cursor_comments: Option<String>,
    #[serde(default)]
    started_at: Option<DateTime<Utc>>,
    #[serde(default)]
    finished_at: Option<DateTime<Utc>>,
    /// Why it failed, or the last error it is waiting to retry past.
    #[serde(default)]
    error: Option<String>,
    /// When a throttled or failed run tries again.
    #[serde(default)]
    retry_at: Option<DateTime<Utc>>,
}

impl Progress {
    fn queued(since: DateTime<Utc>) -> Self {
        Progress {
            state: "queued".into(),
            since,
            phase: Phase::Conversations,
            conversations_pages: 0,
            comments_pages: 0,
            messages: 0,
            comments: 0,
            cursor_conversations: None,
            cursor_comments: None,
            started_at: None,
            finished_at: None,
            error: None,
            retry_at: None,
        }
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn fail(&mut self, reason: String) {
        self.state = "failed".into();
        self.error = Some(reason);
        self.retry_at = None;
        self.finished_at = Some(Utc::now());
    }
}

/// The start of the history window from now, or `None` when backfill is switched off.
fn window_start(state: &AppState) -> Option<DateTime<Utc>> {
    let days = state.cfg.facebook.backfill_days;
    (days > 0).then(|| Utc::now() - chrono::Duration::days(i64::from(days)))
}

/// Whether a backfill can run for accounts of `platform`.
fn supported(state: &AppState, platform: &str) -> bool {
    platform
        .parse::<Platform>()
        .ok()
        .and_then(|p| state.connectors.get(p))
        .is_some_and(|c| c.history().is_some())
}

/// Mark `account` queued and insert its job, inside the caller's transaction. Returns the
/// progress stored, or `None` when backfill is switched off (`backfill_days = 0`) or the
/// platform cannot list its history. Notify `state.jobs_notify` after commit.
pub(crate) async fn queue(
    state: &AppState,
    db: &impl ConnectionTrait,
    account: &channel_account::Model,
) -> Result<Option<serde_json::Value>, sea_orm::DbErr> {
    let Some(since) = window_start(state) else {
        return Ok(None);
    };
    if !supported(state, &account.platform) {
        return Ok(None);
    }
    let progress = Progress::queued(since).to_json();
    channel_account::Entity::update_many()
        .col_expr(
            channel_account::Column::Backfill,
            Expr::value(progress.clone()),
        )
        .filter(channel_account::Column::Id.eq(account.id))
        .exec(db)
        .await?;
    jobs::enqueue(
        db,
        jobs::kind::BACKFILL,
        json!({ "channel_account_id": account.id }),
        Utc::now(),
    )
    .await?;
    Ok(Some(progress))
}

/// Whether a `backfill` job for `account` is waiting or running.
pub(crate) async fn job_active(state: &AppState, account: Uuid) -> Result<bool, sea_orm::DbErr> {
    let jobs = job::Entity::find()
        .filter(job::Column::Kind.eq(jobs::kind::BACKFILL))
        .filter(job::Column::Status.is_in(["pending", "running"]))
        .all(&state.db.write)
        .await?;
    let id = account.to_string();
    Ok(jobs
        .iter()
        .any(|j| j.payload.get("channel_account_id").and_then(|v| v.as_str()) == Some(&id)))
}

/// `POST /channel-accounts/{id}/backfill`: import the account's recent history again (from
/// the start of the window; what is already stored is not duplicated).
pub async fn restart(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ChannelAccountOut> {
    p.require(Permission::ManageChannels)?;
    let acc = channel_account::Entity::find_by_id(id)
        .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("channel account"))?;
    if acc.status != "active" {
        return Err(AppError::refused(
            "channel_not_active",
            format!(
                "the account is {}: reconnect it before importing its history",
                acc.status
            ),
        ));
    }
    if !supported(state, &acc.platform) {
        return Err(AppError::refused(
            "unsupported",
            format!("{} history cannot be imported", acc.platform),
        ));
    }
    if window_start(state).is_none() {
        return Err(AppError::refused(
            "backfill_disabled",
            "history import is switched off (TONGDAI_FACEBOOK_BACKFILL_DAYS = 0)",
        ));
    }
    if job_active(state, acc.id).await? {
        return Err(AppError::Conflict(
            "a history import of this account is already under way".into(),
        ));
    }
    let txn = state.db.write.begin().await?;
    let progress = queue(state, &txn, &acc).await?;
    txn.commit().await?;
    state.jobs_notify.notify_one();
    if let Some(progress) = progress {
        publish(state, &acc, progress).await;
    }
    tracing::info!(account = %acc.id, "history import queued");
    channels::list(state, p)
        .await?
        .into_iter()
        .find(|a| a.id == acc.id)
        .ok_or(AppError::NotFound("channel account"))
}

async fn publish(state: &AppState, acc: &channel_account::Model, progress: serde_json::Value) {
    state
        .bus
        .publish(
            acc.workspace_id,
            FRAME,
            json!({ "channel_account_id": acc.id, "backfill": progress }),
        )
        .await;
}

/// Store `progress` on the account, then publish it.
async fn save(
    state: &AppState,
    acc: &channel_account::Model,
    progress: &Progress,
) -> Result<(), JobFailure> {
    let v = progress.to_json();
    channel_account::Entity::update_many()
        .col_expr(channel_account::Column::Backfill, Expr::value(v.clone()))
        .filter(channel_account::Column::Id.eq(acc.id))
        .exec(&state.db.write)
        .await
        .map_err(|e| JobFailure::retry(format!("database: {e}")))?;
    publish(state, acc, v).await;
    Ok(())
}

/// Stop for good: the reason is stored on the progress and on the job.
async fn give_up(
    state: &AppState,
    acc: &channel_account::Model,
    progress: &mut Progress,
    reason: String,
) -> Result<(), JobFailure> {
    progress.fail(reason.clone());
    save(state, acc, progress).await?;
    tracing::warn!(account = %acc.id, error = %reason, "history import failed");
    Err(JobFailure::fatal(reason))
}

/// Run a `backfill` job (`{"channel_account_id": …}`).
pub async fn run(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let db_err = |e: sea_orm::DbErr| JobFailure::retry(format!("database: {e}"));
    let id: Uuid = j
        .payload
        .get("channel_account_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobFailure::fatal("payload has no channel_account_id"))?;
    let Some(acc) = channel_account::Entity::find_by_id(id)
        .one(&state.db.write)
        .await
        .map_err(db_err)?
    else {
        return Ok(()); // deleted since
    };
    let mut progress = match acc
        .backfill
        .clone()
        .and_then(|v| serde_json::from_value::<Progress>(v).ok())
    {
        Some(p) => p,
        None => match window_start(state) {
            Some(since) => Progress::queued(since),
            None => return Ok(()),
        },
    };
    if matches!(progress.state.as_str(), "done" | "failed") {
        return Ok(()); // a stale copy of a finished import
    }
    match acc.status.as_str() {
        "active" => {}
        "disabled" => {
            return give_up(
                state,
                &acc,
                &mut progress,
                "the account was disconnected".into(),
            )
            .await;
        }
        other => {
            return give_up(
                state,
                &acc,
                &mut progress,
                format!("the account is {other}: reconnect it, then import again"),
            )
            .await;
        }
    }
    let platform: Option<Platform> = acc.platform.parse().ok();
    let connector = platform.and_then(|p| state.connectors.get(p)).cloned();
    let (Some(platform), Some(connector)) = (platform, connector) else {
        return give_up(
            state,
            &acc,
            &mut progress,
            "no connector for this platform".into(),
        )
        .await;
    };
    let Some(history) = connector.history() else {
        return give_up(
            state,
            &acc,
            &mut progress,
            "this platform has no history listing".into(),
        )
        .await;
    };
    let token = match tokens::access_token(state, &acc).await {
        Ok(t) => t,
        Err(e) => return give_up(state, &acc, &mut progress, e.to_string()).await,
    };
    if let Some(left) = state.limits.held(acc.id) {
        // The platform already asked us to slow down for this account.
        return throttled(
            state,
            &acc,
            &mut progress,
            j,
            left,
            "the platform asked us to slow down".into(),
        )
        .await;
    }
    if progress.state != "running" {
        progress.state = "running".into();
        progress.started_at = Some(Utc::now());
        save(state, &acc, &progress).await?;
    }
    let cx = HttpCtx {
        http: &state.http,
        base_url: state.api_base(platform),
    };
    let account = AccountCtx {
        external_id: &acc.external_id,
        access_token: &token,
    };
    let budget = Duration::from_secs(u64::from(state.cfg.job_lease_seconds.max(2) / 2));
    let started = Instant::now();
    loop {
        let page = match progress.phase {
            Phase::Conversations => {
                history
                    .list_conversations(
                        &cx,
                        &account,
                        progress.since,
                        progress.cursor_conversations.as_deref(),
                    )
                    .await
            }
            Phase::Comments => {
                history
                    .list_post_comments(
                        &cx,
                        &account,
                        progress.since,
                        progress.cursor_comments.as_deref(),
                    )
                    .await
            }
        };
        let page = match page {
            Ok(page) => page,
            Err(e) => return platform_failure(state, &acc, &mut progress, j, e).await,
        };
        normalize::apply_fetched(state, &acc, &page.events)
            .await
            .map_err(db_err)?;
        for ev in &page.events {
            match ev {
                NormalizedEvent::MessageReceived(_) | NormalizedEvent::MessageEcho(_) => {
                    progress.messages += 1;
                }
                NormalizedEvent::Comment(_) => progress.comments += 1,
                _ => {}
            }
        }
        progress.error = None;
        progress.retry_at = None;
        match progress.phase {
            Phase::Conversations => {
                progress.conversations_pages += 1;
                progress.cursor_conversations = page.next_cursor;
                if progress.cursor_conversations.is_none() {
                    progress.phase = Phase::Comments;
                }
            }
            Phase::Comments => {
                progress.comments_pages += 1;
                progress.cursor_comments = page.next_cursor;
                if progress.cursor_comments.is_none() {
                    progress.state = "done".into();
                    progress.finished_at = Some(Utc::now());
                }
            }
        }
        save(state, &acc, &progress).await?;
        if progress.state == "done" {
            tracing::info!(
                account = %acc.id,
                messages = progress.messages,
                comments = progress.comments,
                "history import done"
            );
            return Ok(());
        }
        if started.elapsed() >= budget {
            // Hand over to a fresh job (and lease) instead of outliving this one.
            jobs::enqueue(
                &state.db.write,
                jobs::kind::BACKFILL,
                json!({ "channel_account_id": acc.id }),
                Utc::now(),
            )
            .await
            .map_err(db_err)?;
            state.jobs_notify.notify_one();
            return Ok(());
        }
    }
}

/// Keep the progress and come back after `after`, unless this was the last attempt.
async fn throttled(
    state: &AppState,
    acc: &channel_account::Model,
    progress: &mut Progress,
    j: &job::Model,
    after: Duration,
    message: String,
) -> Result<(), JobFailure> {
    if j.attempts >= j.max_attempts {
        return give_up(state, acc, progress, message).await;
    }
    progress.error = Some(message.clone());
    progress.retry_at = Some(Utc::now() + chrono::Duration::from_std(after).unwrap_or_default());
    save(state, acc, progress).await?;
    Err(JobFailure {
        retryable: true,
        message,
        retry_after: Some(after),
    })
}

/// What a failed listing call means for the import and the account.
async fn platform_failure(
    state: &AppState,
    acc: &channel_account::Model,
    progress: &mut Progress,
    j: &job::Model,
    e: ConnectorError,
) -> Result<(), JobFailure> {
    let message = e.to_string();
    match &e {
        ConnectorError::Unauthorized(_) => {
            let now = Utc::now();
            channel_account::Entity::update_many()
                .col_expr(channel_account::Column::Status, Expr::value("needs_reauth"))
                .col_expr(
                    channel_account::Column::LastError,
                    Expr::value(message.clone()),
                )
                .col_expr(channel_account::Column::LastErrorAt, Expr::value(now))
                .col_expr(channel_account::Column::UpdatedAt, Expr::value(now))
                .filter(channel_account::Column::Id.eq(acc.id))
                .exec(&state.db.write)
                .await
                .map_err(|e| JobFailure::retry(format!("database: {e}")))?;
            state
                .bus
                .publish(
                    acc.workspace_id,
                    "channel.updated",
                    json!({ "channel_account_id": acc.id, "status": "needs_reauth", "error": message }),
                )
                .await;
            give_up(
                state,
                acc,
                progress,
                format!("the platform refused the account's token ({message}): reconnect it"),
            )
            .await
        }
        ConnectorError::RateLimited { retry_after, .. } => {
            let after = retry_after.unwrap_or(Duration::from_secs(60));
            throttled(state, acc, progress, j, after, message).await
        }
        _ if e.is_retryable() && j.attempts < j.max_attempts => {
            tracing::warn!(account = %acc.id, error = %message, "history import page failed; will retry");
            progress.error = Some(message.clone());
            save(state, acc, progress).await?;
            Err(JobFailure::retry(message))
        }
        _ => give_up(state, acc, progress, message).await,
    }
}
