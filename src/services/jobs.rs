//! The `job` table is the outbox: work that must happen after a commit (send a reply, push an
//! order) is inserted in the same transaction as the change that needs it, then claimed by a
//! worker with a lease, run, and retried on the schedule of [`crate::domain::retry`].
//! On PostgreSQL several nodes claim with `FOR UPDATE SKIP LOCKED`, so each job runs once.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait,
    FromQueryResult, PaginatorTrait, QueryFilter, Statement,
};
use serde_json::Value;

use crate::domain::retry::{MAX_ATTEMPTS, next_delay};
use crate::state::AppState;
use crate::store::entities::job;

/// Job kinds.
pub mod kind {
    /// Send an agent's reply through the platform (`{"message_id": …}`).
    pub const SEND_MESSAGE: &str = "send_message";
    /// Fetch a new person's platform profile (name, picture) once (`{"identity_id": …}`).
    pub const FETCH_PROFILE: &str = "fetch_profile";
    /// Fetch the text and link of the post a new comment thread is under
    /// (`{"conversation_id": …}`).
    pub const FETCH_POST: &str = "fetch_post";
    /// Copy a customer's attachments from the platform CDN (`{"message_id": …}`).
    pub const FETCH_MEDIA: &str = "fetch_media";
    /// Import a newly connected account's recent history (`{"channel_account_id": …}`).
    pub const BACKFILL: &str = "backfill";
    /// Deliver one outbound webhook message to its endpoint (`{"message_id": "msg_…"}`).
    pub const DELIVER_WEBHOOK: &str = "deliver_webhook";
    /// Ask a delivered order's customer for feedback (`{"feedback_id": …}`).
    pub const REQUEST_FEEDBACK: &str = "request_feedback";
    /// Remind a lead's agent of a call back (`{"lead_id", "next_call_at_us"}`).
    pub const LEAD_CALLBACK: &str = "lead_callback";
    /// Hide a customer's comment on the platform (`{"message_id"}`).
    pub const HIDE_COMMENT: &str = "hide_comment";
    /// Refresh an OAuth account's access token ahead of expiry (`{"channel_account_id"}`).
    pub const REFRESH_TOKEN: &str = "refresh_token";
    /// Poll a platform that pushes nothing (YouTube comments), then queue the next poll
    /// (`{"channel_account_id"}`).
    pub const POLL: &str = "poll";
}

/// A failed run.
#[derive(Debug)]
pub struct JobFailure {
    /// Whether a later attempt may succeed.
    pub retryable: bool,
    /// What went wrong (stored on the job).
    pub message: String,
    /// When the platform said when to come back (throttling), instead of the backoff schedule.
    pub retry_after: Option<std::time::Duration>,
}

impl JobFailure {
    /// A failure a later attempt may get past.
    pub fn retry(message: impl Into<String>) -> Self {
        JobFailure {
            retryable: true,
            message: message.into(),
            retry_after: None,
        }
    }
    /// A failure no attempt will get past.
    pub fn fatal(message: impl Into<String>) -> Self {
        JobFailure {
            retryable: false,
            message: message.into(),
            retry_after: None,
        }
    }
}

/// Insert a job (inside the caller's transaction).
pub async fn enqueue(
    db: &impl ConnectionTrait,
    kind: &str,
    payload: Value,
    run_at: DateTime<Utc>,
) -> Result<i64, sea_orm::DbErr> {
    let now = Utc::now();
    let j = job::ActiveModel {
        kind: Set(kind.to_owned()),
        payload: Set(payload),
        status: Set("pending".into()),
        run_at: Set(run_at),
        attempts: Set(0),
        max_attempts: Set(MAX_ATTEMPTS),
        locked_until: Set(None),
        locked_by: Set(None),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(j.id)
}

/// Claim up to `limit` due jobs (pending and due, or running with an expired lease).
pub async fn claim(state: &AppState, limit: u32) -> Result<Vec<job::Model>, sea_orm::DbErr> {
    let db = &state.db.write;
    let backend = db.get_database_backend();
    let now = Utc::now();
    let until = now + chrono::Duration::seconds(i64::from(state.cfg.job_lease_seconds.max(1)));
    let (sql, values): (String, Vec<sea_orm::Value>) = match backend {
        DbBackend::Postgres => (
            format!(
                "UPDATE job SET status = 'running', attempts = attempts + 1, locked_until = $1, locked_by = $2, updated_at = $3 \
                 WHERE id IN (SELECT id FROM job WHERE (status = 'pending' AND run_at <= $3) OR (status = 'running' AND locked_until < $3) \
                 ORDER BY run_at, id LIMIT {limit} FOR UPDATE SKIP LOCKED) RETURNING *"
            ),
            vec![until.into(), state.node_id.to_string().into(), now.into()],
        ),
        _ => (
            format!(
                "UPDATE job SET status = 'running', attempts = attempts + 1, locked_until = ?, locked_by = ?, updated_at = ? \
                 WHERE id IN (SELECT id FROM job WHERE (status = 'pending' AND run_at <= ?) OR (status = 'running' AND locked_until < ?) \
                 ORDER BY run_at, id LIMIT {limit}) RETURNING *"
            ),
            vec![
                until.into(),
                state.node_id.to_string().into(),
                now.into(),
                now.into(),
                now.into(),
            ],
        ),
    };
    job::Model::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(db)
        .await
}

/// Record the outcome of a claimed job.
pub async fn finish(
    state: &AppState,
    j: &job::Model,
    outcome: Result<(), JobFailure>,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let mut q = job::Entity::update_many()
        .col_expr(job::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            job::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(job::Column::Id.eq(j.id));
    match outcome {
        Ok(()) => {
            q = q.col_expr(job::Column::Status, Expr::value("done"));
            state.metrics.job(true);
        }
        Err(f) => {
            state.metrics.job(false);
            let delay = if f.retryable && j.attempts < j.max_attempts {
                // The platform's own "come back in …" wins over the schedule (capped at a day).
                f.retry_after
                    .map(|d| d.min(std::time::Duration::from_secs(86_400)))
                    .or_else(|| next_delay(j.attempts))
            } else {
                None
            };
            q = q.col_expr(job::Column::LastError, Expr::value(f.message));
            q = match delay {
                Some(d) => q
                    .col_expr(job::Column::Status, Expr::value("pending"))
                    .col_expr(
                        job::Column::RunAt,
                        Expr::value(now + chrono::Duration::from_std(d).unwrap_or_default()),
                    ),
                None => q.col_expr(job::Column::Status, Expr::value("dead")),
            };
        }
    }
    q.exec(&state.db.write).await?;
    Ok(())
}

/// Claim and run due jobs until none is due. Returns how many ran.
pub async fn run_due(state: &AppState) -> Result<usize, sea_orm::DbErr> {
    let mut total = 0;
    loop {
        let jobs = claim(state, 16).await?;
        if jobs.is_empty() {
            return Ok(total);
        }
        total += jobs.len();
        let runs = jobs.into_iter().map(|j| {
            let state = state.clone();
            async move {
                let outcome = run(&state, &j).await;
                if let Err(f) = &outcome {
                    tracing::warn!(job = j.id, kind = %j.kind, attempt = j.attempts, error = %f.message, "job failed");
                }
                finish(&state, &j, outcome).await
            }
        });
        for r in futures_util::future::join_all(runs).await {
            r?;
        }
    }
}

async fn run(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    match j.kind.as_str() {
        kind::SEND_MESSAGE => crate::services::outbound::deliver(state, j).await,
        kind::FETCH_PROFILE => crate::services::profiles::fetch_profile(state, j).await,
        kind::FETCH_POST => crate::services::profiles::fetch_post(state, j).await,
        kind::FETCH_MEDIA => crate::services::media::fetch_media(state, j).await,
        kind::BACKFILL => crate::services::backfill::run(state, j).await,
        kind::REQUEST_FEEDBACK => crate::services::feedback::request(state, j).await,
        kind::DELIVER_WEBHOOK => crate::services::fulfillment::deliver(state, j).await,
        kind::LEAD_CALLBACK => crate::services::leads::callback_due(state, j).await,
        kind::HIDE_COMMENT => crate::services::outbound::hide_job(state, j).await,
        kind::REFRESH_TOKEN => crate::services::tokens::refresh_job(state, j).await,
        kind::POLL => crate::services::poll::run(state, j).await,
        other => Err(JobFailure::fatal(format!("unknown job kind {other}"))),
    }
}

/// On a single node (SQLite: one writer, one process), jobs still marked running belong to a
/// process that died; make them due again at once instead of waiting for their lease.
pub async fn release_orphans(db: &crate::store::Db) -> Result<u64, sea_orm::DbErr> {
    if db.backend() != DbBackend::Sqlite {
        return Ok(0);
    }
    let res = job::Entity::update_many()
        .col_expr(job::Column::Status, Expr::value("pending"))
        .col_expr(
            job::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(job::Column::RunAt, Expr::value(Utc::now()))
        .filter(job::Column::Status.eq("running"))
        .exec(&db.write)
        .await?;
    Ok(res.rows_affected)
}

/// Jobs waiting to run (metric).
pub async fn pending_count(state: &AppState) -> u64 {
    job::Entity::find()
        .filter(job::Column::Status.is_in(["pending", "running"]))
        .count(&state.db.read)
        .await
        .unwrap_or(0)
}
