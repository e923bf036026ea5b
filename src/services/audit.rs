//! The audit trail: who changed what, when (lead stages, assignments, blacklist entries,
//! order overrides, endpoint changes). Written in the same transaction as the change.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::entities::audit_log;

/// Record one change.
pub async fn record(
    db: &impl ConnectionTrait,
    workspace: Uuid,
    actor: Option<Uuid>,
    action: &str,
    target: (&str, String),
    data: serde_json::Value,
) -> Result<(), sea_orm::DbErr> {
    audit_log::ActiveModel {
        workspace_id: Set(Some(workspace)),
        actor_user_id: Set(actor),
        action: Set(action.to_owned()),
        target_type: Set(Some(target.0.to_owned())),
        target_id: Set(Some(target.1)),
        data: Set(Some(data)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// One audit entry.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditOut {
    /// Id.
    pub id: i64,
    /// Who (`None`: the system).
    pub actor_user_id: Option<Uuid>,
    /// What, e.g. `lead.stage_changed`.
    pub action: String,
    /// Details.
    pub data: Option<serde_json::Value>,
    /// When.
    pub created_at: chrono::DateTime<Utc>,
}

/// The trail of one target (oldest first).
pub async fn trail(
    db: &impl ConnectionTrait,
    workspace: Uuid,
    target: (&str, String),
) -> Result<Vec<AuditOut>, sea_orm::DbErr> {
    Ok(audit_log::Entity::find()
        .filter(audit_log::Column::WorkspaceId.eq(workspace))
        .filter(audit_log::Column::TargetType.eq(target.0))
        .filter(audit_log::Column::TargetId.eq(target.1))
        .order_by_asc(audit_log::Column::Id)
        .limit(500)
        .all(db)
        .await?
        .into_iter()
        .map(|a| AuditOut {
            id: a.id,
            actor_user_id: a.actor_user_id,
            action: a.action,
            data: a.data,
            created_at: a.created_at,
        })
        .collect())
}
