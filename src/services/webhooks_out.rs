//! Outbound webhooks (the push to fulfillment): events go out as Standard Webhooks to every
//! enabled endpoint of the workspace subscribed to their type. [`emit`] is called inside the
//! transaction of the change, so an event is queued exactly when the change commits; each
//! endpoint gets its own `webhook_message` (its id is the `webhook-id`, constant across
//! retries) and a `deliver_webhook` job.

use chrono::{SecondsFormat, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
};
use uuid::Uuid;

use crate::services::jobs;
use crate::store::entities::{webhook_endpoint, webhook_message};

/// Event types an endpoint may subscribe to.
pub const EVENT_TYPES: [&str; 4] = [
    "order.confirmed",
    "order.updated",
    "order.cancelled",
    "order.status_changed",
];

/// Whether an endpoint subscribed to `event_type` (an empty list subscribes to everything).
pub fn subscribed(event_types: &serde_json::Value, event_type: &str) -> bool {
    match event_types.as_array() {
        Some(list) if !list.is_empty() => list
            .iter()
            .any(|t| t.as_str() == Some(event_type) || t.as_str() == Some("*")),
        _ => true,
    }
}

/// Queue `{type, timestamp, data}` for every enabled endpoint of `workspace` subscribed to
/// `event_type`. Returns the message ids.
pub async fn emit(
    db: &impl ConnectionTrait,
    workspace: Uuid,
    event_type: &str,
    data: serde_json::Value,
) -> Result<Vec<String>, sea_orm::DbErr> {
    let endpoints = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::WorkspaceId.eq(workspace))
        .filter(webhook_endpoint::Column::Enabled.eq(true))
        .all(db)
        .await?;
    let now = Utc::now();
    let order_id = data
        .get("order_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<Uuid>().ok());
    let body = serde_json::json!({
        "type": event_type,
        "timestamp": now.to_rfc3339_opts(SecondsFormat::Secs, true),
        "data": data,
    })
    .to_string();
    let mut ids = Vec::new();
    for e in endpoints
        .into_iter()
        .filter(|e| subscribed(&e.event_types, event_type))
    {
        let id = format!("msg_{}", Uuid::now_v7().simple());
        webhook_message::ActiveModel {
            id: Set(id.clone()),
            workspace_id: Set(workspace),
            endpoint_id: Set(e.id),
            event_type: Set(event_type.to_owned()),
            order_id: Set(order_id),
            payload: Set(body.clone()),
            status: Set("pending".into()),
            attempts: Set(0),
            last_status_code: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await?;
        jobs::enqueue(
            db,
            jobs::kind::DELIVER_WEBHOOK,
            serde_json::json!({ "message_id": id }),
            now,
        )
        .await?;
        ids.push(id);
    }
    Ok(ids)
}
