//! Stored inbound events: the dead-letter list and replay.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::state::AppState;
use crate::store::Db;
use crate::store::entities::inbound_event;

/// A stored webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct InboundEventOut {
    /// Id.
    pub id: i64,
    /// Platform.
    pub platform: String,
    /// `pending`, `processed`, `failed` or `unrouted`.
    pub status: String,
    /// Why it failed.
    pub error: Option<String>,
    /// Processing attempts.
    pub attempts: i32,
    /// Received.
    pub received_at: DateTime<Utc>,
    /// The raw body (lossy UTF-8).
    pub body: String,
}

/// Filter.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Status (default `failed`).
    pub status: Option<String>,
    /// Page size (default 50, max 200).
    pub limit: Option<u64>,
}

fn scope(p: &Principal) -> Condition {
    let mut c = Condition::any().add(inbound_event::Column::WorkspaceId.eq(p.workspace_id));
    // Events that name no known account belong to no workspace; the instance admin sees them.
    if p.instance_admin {
        c = c.add(inbound_event::Column::WorkspaceId.is_null());
    }
    c
}

/// `GET /inbound-events?status=failed`.
pub async fn list(
    state: &AppState,
    p: &Principal,
    f: EventFilter,
) -> AppResult<Vec<InboundEventOut>> {
    p.require(Permission::ManageEvents)?;
    let status = f.status.unwrap_or_else(|| "failed".into());
    Ok(inbound_event::Entity::find()
        .filter(scope(p))
        .filter(inbound_event::Column::Status.eq(status))
        .order_by_desc(inbound_event::Column::Id)
        .limit(f.limit.unwrap_or(50).clamp(1, 200))
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(|e| InboundEventOut {
            id: e.id,
            platform: e.platform,
            status: e.status,
            error: e.error,
            attempts: e.attempts,
            received_at: e.received_at,
            body: String::from_utf8_lossy(&e.body).into_owned(),
        })
        .collect())
}

/// `POST /inbound-events/{id}/replay`.
pub async fn replay(state: &AppState, p: &Principal, id: i64) -> AppResult<()> {
    p.require(Permission::ManageEvents)?;
    let res = inbound_event::Entity::update_many()
        .col_expr(inbound_event::Column::Status, Expr::value("pending"))
        .filter(inbound_event::Column::Id.eq(id))
        .filter(inbound_event::Column::Status.is_in(["failed", "unrouted"]))
        .filter(scope(p))
        .exec(&state.db.write)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("failed inbound event"));
    }
    state.ingest_notify.notify_one();
    Ok(())
}

/// `tongdai replay`: re-queue failed events (all, or the given ids). Returns how many.
pub async fn requeue_failed(db: &Db, ids: &[i64]) -> Result<u64, sea_orm::DbErr> {
    let mut q = inbound_event::Entity::update_many()
        .col_expr(inbound_event::Column::Status, Expr::value("pending"))
        .filter(inbound_event::Column::Status.eq("failed"));
    if !ids.is_empty() {
        q = q.filter(inbound_event::Column::Id.is_in(ids.to_vec()));
    }
    Ok(q.exec(&db.write).await?.rows_affected)
}
