//! The blacklist of buyers who refuse COD deliveries ("bom hàng"), by normalized phone, and a
//! phone's delivery record. Lookups here are shared by leads, orders and the inbox.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::phone::Phone;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::audit;
use crate::services::auth::Principal;
use crate::state::AppState;
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

/// One blacklist entry (active or lifted).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EntryOut {
    /// Id.
    pub id: Uuid,
    /// E.164.
    pub phone: String,
    /// Why.
    pub reason: String,
    /// `manual` or `automatic`.
    pub source: String,
    /// Who added it (manual entries).
    pub created_by: Option<Uuid>,
    /// When.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When it was lifted.
    pub lifted_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Who lifted it.
    pub lifted_by: Option<Uuid>,
    /// Why it was lifted.
    pub lift_reason: Option<String>,
}

impl From<blacklist::Model> for EntryOut {
    fn from(b: blacklist::Model) -> Self {
        EntryOut {
            id: b.id,
            phone: b.phone,
            reason: b.reason,
            source: b.source,
            created_by: b.created_by,
            created_at: b.created_at,
            lifted_at: b.lifted_at,
            lifted_by: b.lifted_by,
            lift_reason: b.lift_reason,
        }
    }
}

/// Add an entry for `phone` (E.164) and audit it (`blacklist.added`). The caller checks that
/// no entry is active and publishes `blacklist.updated` after commit.
pub async fn insert_entry(
    db: &impl ConnectionTrait,
    workspace: Uuid,
    phone: &str,
    reason: &str,
    source: &str,
    actor: Option<Uuid>,
) -> Result<EntryOut, sea_orm::DbErr> {
    let b = blacklist::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(workspace),
        phone: Set(phone.to_owned()),
        reason: Set(reason.to_owned()),
        source: Set(source.to_owned()),
        created_by: Set(actor),
        created_at: Set(Utc::now()),
        lifted_at: Set(None),
        lifted_by: Set(None),
        lift_reason: Set(None),
    }
    .insert(db)
    .await?;
    audit::record(
        db,
        workspace,
        actor,
        "blacklist.added",
        ("blacklist", b.id.to_string()),
        json!({ "phone": phone, "reason": reason, "source": source }),
    )
    .await?;
    Ok(b.into())
}

/// Filters of the blacklist.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct BlacklistFilter {
    /// Part of the phone (digits) or of the reason.
    pub q: Option<String>,
    /// Also lifted entries.
    pub include_lifted: Option<bool>,
}

/// A manual entry.
#[derive(Debug, Deserialize, ToSchema)]
pub struct BlacklistIn {
    /// Any Vietnamese mobile form.
    pub phone: String,
    /// Why.
    pub reason: String,
}

/// Lifting an entry.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LiftIn {
    /// Why.
    pub reason: String,
}

/// `GET /blacklist`: newest first.
pub async fn list(state: &AppState, p: &Principal, f: BlacklistFilter) -> AppResult<Vec<EntryOut>> {
    p.require(Permission::ReadOrders)?;
    let mut q = blacklist::Entity::find().filter(blacklist::Column::WorkspaceId.eq(p.workspace_id));
    if f.include_lifted != Some(true) {
        q = q.filter(blacklist::Column::LiftedAt.is_null());
    }
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let mut any = Condition::any().add(blacklist::Column::Reason.contains(text));
        let digits: String = text.chars().filter(char::is_ascii_digit).collect();
        if let Some(ph) = Phone::parse(text) {
            any = any.add(blacklist::Column::Phone.eq(ph.as_str()));
        } else if !digits.is_empty() {
            any = any.add(blacklist::Column::Phone.contains(digits.trim_start_matches('0')));
        }
        q = q.filter(any);
    }
    Ok(q.order_by_desc(blacklist::Column::CreatedAt)
        .limit(500)
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(EntryOut::from)
        .collect())
}

/// `POST /blacklist`: a manual entry (400 invalid phone, 409 already active).
pub async fn add(state: &AppState, p: &Principal, input: BlacklistIn) -> AppResult<EntryOut> {
    p.require(Permission::ManagePipeline)?;
    let phone = Phone::parse(&input.phone).ok_or_else(|| {
        AppError::bad_request("invalid_phone", "not a valid Vietnamese mobile number")
    })?;
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(AppError::bad_request("reason_required", "give a reason"));
    }
    let txn = state.db.write.begin().await?;
    if active_entry(&txn, p.workspace_id, phone.as_str())
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "{} is already on the blacklist",
            phone.as_str()
        )));
    }
    let e = insert_entry(
        &txn,
        p.workspace_id,
        phone.as_str(),
        reason,
        "manual",
        p.user_id,
    )
    .await?;
    txn.commit().await?;
    state
        .bus
        .publish(p.workspace_id, "blacklist.updated", json!({ "entry": e }))
        .await;
    Ok(e)
}

/// `POST /blacklist/{id}/lift`: logged (who, when, why) and audited.
pub async fn lift(state: &AppState, p: &Principal, id: Uuid, input: LiftIn) -> AppResult<EntryOut> {
    p.require(Permission::ManagePipeline)?;
    let reason = input.reason.trim();
    if reason.is_empty() {
        return Err(AppError::bad_request("reason_required", "give a reason"));
    }
    let txn = state.db.write.begin().await?;
    let b = blacklist::Entity::find_by_id(id)
        .filter(blacklist::Column::WorkspaceId.eq(p.workspace_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("blacklist entry"))?;
    if b.lifted_at.is_some() {
        return Err(AppError::Conflict("the entry is already lifted".into()));
    }
    let mut am = b.into_active_model();
    am.lifted_at = Set(Some(Utc::now()));
    am.lifted_by = Set(p.user_id);
    am.lift_reason = Set(Some(reason.to_owned()));
    let b = am.update(&txn).await?;
    audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "blacklist.lifted",
        ("blacklist", b.id.to_string()),
        json!({ "phone": b.phone, "reason": reason }),
    )
    .await?;
    txn.commit().await?;
    let e = EntryOut::from(b);
    state
        .bus
        .publish(p.workspace_id, "blacklist.updated", json!({ "entry": e }))
        .await;
    Ok(e)
}
