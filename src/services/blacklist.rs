//! The blacklist of buyers who refuse COD deliveries ("bom hàng"), by normalized phone, and a
//! phone's delivery record. Lookups here are shared by leads, orders and the inbox.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::store::entities::{blacklist, order};

/// An active blacklist entry, as shown next to a lead or an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Verdict {
    /// Entry id.
    pub id: Uuid,
    /// Why.
    pub reason: String,
    /// `manual` or `automatic`.
    pub source: String,
    /// Who added it (manual entries).
    pub created_by: Option<Uuid>,
    /// When.
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// The active (not lifted) entry for `phone` (E.164) in `workspace`, if any.
pub async fn active_entry(
    db: &impl ConnectionTrait,
    workspace: Uuid,
    phone: &str,
) -> Result<Option<Verdict>, sea_orm::DbErr> {
    Ok(blacklist::Entity::find()
        .filter(blacklist::Column::WorkspaceId.eq(workspace))
        .filter(blacklist::Column::Phone.eq(phone))
        .filter(blacklist::Column::LiftedAt.is_null())
        .order_by_desc(blacklist::Column::CreatedAt)
        .one(db)
        .await?
        .map(|b| Verdict {
            id: b.id,
            reason: b.reason,
            source: b.source,
            created_by: b.created_by,
            created_at: b.created_at,
        }))
}

/// A phone's history with the shop: what staff see before confirming an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PhoneRecord {
    /// E.164.
    pub phone: String,
    /// Orders delivered to it.
    pub delivered: u64,
    /// Orders returned (refused or undeliverable).
    pub returned: u64,
    /// The active blacklist entry, if any.
    pub blacklist: Option<Verdict>,
}

/// The record of `phone` (E.164) in `workspace`.
pub async fn phone_record(
    db: &impl ConnectionTrait,
    workspace: Uuid,
    phone: &str,
) -> Result<PhoneRecord, sea_orm::DbErr> {
    let count = |status: &'static str| {
        order::Entity::find()
            .filter(order::Column::WorkspaceId.eq(workspace))
            .filter(order::Column::Phone.eq(phone))
            .filter(order::Column::Status.eq(status))
            .count(db)
    };
    Ok(PhoneRecord {
        phone: phone.to_owned(),
        delivered: count("delivered").await?,
        returned: count("returned").await?,
        blacklist: active_entry(db, workspace, phone).await?,
    })
}
