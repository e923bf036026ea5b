//! Orders: made from a conversation, a lead or by hand; edited while editable; confirmed
//! (checked, blacklist verdict, override with a reason), pushed to fulfillment as Standard
//! Webhooks (queued in the confirming transaction), moved through packing and shipping by the
//! fulfillment board or its signed callback, cancelled. Every change is an `order_event` row
//! (the timeline) and an `order.created` / `order.updated` frame `{"order": <view>}`.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::lead::Stage;
use crate::domain::order::{self as rules, ConfirmInput, Item, OrderStatus, Problem, Totals};
use crate::domain::phone::Phone;
use crate::domain::role::{Permission, Role};
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::services::blacklist::{self, PhoneRecord, Verdict};
use crate::services::conversations::Page;
use crate::services::conversations::{decode_cursor, encode_cursor};
use crate::services::normalize::{Outgoing, publish};
use crate::services::{audit, feedback, pipeline, webhooks_out};
use crate::state::AppState;
use crate::store::entities::{
    contact, conversation, inbound_event, lead, order, order_event, order_item, webhook_endpoint,
    webhook_message,
};

// ---------------------------------------------------------------------------------------------
// DTOs

/// An address as sent by the agent UI (every part optional until confirming).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct AddressIn {
    /// House number and street.
    pub street: Option<String>,
    /// Ward.
    pub ward: Option<String>,
    /// District, where the carrier still needs it.
    pub district: Option<String>,
    /// Province or city.
    pub province: Option<String>,
}

/// The recipient (name and phone default from the contact).
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
pub struct RecipientIn {
    /// Name.
    pub name: Option<String>,
    /// Phone as typed (normalized to E.164 when valid).
    pub phone: Option<String>,
    /// Address.
    pub address: Option<AddressIn>,
}

/// A new order.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrderIn {
    /// Made from this conversation.
    pub conversation_id: Option<Uuid>,
    /// Made from this lead.
    pub lead_id: Option<Uuid>,
    /// Lines.
    #[serde(default)]
    pub items: Vec<Item>,
    /// Recipient.
    #[serde(default)]
    pub recipient: RecipientIn,
    /// Shipping fee charged to the buyer (VND).
    #[serde(default)]
    pub shipping_fee: i64,
    /// Discount (VND).
    #[serde(default)]
    pub discount: i64,
    /// Cash on delivery (VND); default: the total.
    pub cod_amount: Option<i64>,
    /// Note for the carrier.
    pub note: Option<String>,
}

/// An edit: what is given replaces what was there (items wholesale).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct OrderPatch {
    /// New lines (replace all).
    pub items: Option<Vec<Item>>,
    /// Recipient fields to change (the address is replaced as a whole when given).
    pub recipient: Option<RecipientIn>,
    /// Shipping fee.
    pub shipping_fee: Option<i64>,
    /// Discount.
    pub discount: Option<i64>,
    /// COD amount (when absent and it equalled the total, it follows the new total).
    pub cod_amount: Option<i64>,
    /// Note.
    pub note: Option<String>,
}

/// Confirm.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ConfirmIn {
    /// Required (non-empty) when the phone is on the blacklist.
    pub blacklist_override_reason: Option<String>,
}

/// Cancel.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct CancelIn {
    /// Why.
    pub reason: Option<String>,
}

/// A fulfillment step from the packing board.
#[derive(Debug, Deserialize, ToSchema)]
pub struct StatusIn {
    /// `packed`, `shipped`, `delivered` or `returned`.
    pub status: OrderStatus,
    /// Carrier tracking code.
    pub tracking_code: Option<String>,
    /// Carrier.
    pub carrier: Option<String>,
    /// Note (kept in the timeline).
    pub note: Option<String>,
}

/// Filters of the order list.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct OrderFilter {
    /// One status.
    pub status: Option<String>,
    /// Search in recipient name, phone and the shop's order id.
    pub q: Option<String>,
    /// Orders to this phone (any Vietnamese form).
    pub phone: Option<String>,
    /// Orders of this contact.
    pub contact_id: Option<Uuid>,
    /// Where it came from: `manual`, `conversation`, `lead`, `shop`, a marketplace.
    pub source: Option<String>,
    /// Orders of this channel (a page, an account or a shop channel).
    pub channel_account_id: Option<Uuid>,
    /// Page size (1–100, default 50).
    pub limit: Option<u64>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
}

/// Address of an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AddressOut {
    /// Street.
    pub street: Option<String>,
    /// Ward.
    pub ward: Option<String>,
    /// District.
    pub district: Option<String>,
    /// Province.
    pub province: Option<String>,
}

/// Recipient of an order.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecipientOut {
    /// Name.
    pub name: Option<String>,
    /// Phone (E.164 once valid).
    pub phone: Option<String>,
    /// Address.
    pub address: AddressOut,
}

/// An order as listed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderOut {
    /// Id.
    pub id: Uuid,
    /// Status.
    pub status: String,
    /// `manual`, `conversation`, `lead`, `shop`, a marketplace.
    pub source: String,
    /// Contact.
    pub contact_id: Option<Uuid>,
    /// Lead it was made from.
    pub lead_id: Option<Uuid>,
    /// Conversation it was made from.
    pub conversation_id: Option<Uuid>,
    /// Channel (shop channel for shop orders).
    pub channel_account_id: Option<Uuid>,
    /// The shop's / marketplace's order id.
    pub external_id: Option<String>,
    /// Recipient.
    pub recipient: RecipientOut,
    /// Lines.
    pub items: Vec<Item>,
    /// Money.
    pub totals: Totals,
    /// Cash on delivery.
    pub cod_amount: i64,
    /// Note.
    pub note: Option<String>,
    /// The platform's own status.
    pub platform_status: Option<String>,
    /// Tracking code.
    pub tracking_code: Option<String>,
    /// Carrier.
    pub carrier: Option<String>,
    /// Why it was confirmed although blacklisted.
    pub blacklist_override: Option<String>,
    /// The phone's active blacklist entry (the flag shown everywhere).
    pub blacklisted: Option<Verdict>,
    /// Who made it.
    pub created_by: Option<Uuid>,
    /// Made.
    pub created_at: DateTime<Utc>,
    /// Changed.
    pub updated_at: DateTime<Utc>,
    /// Confirmed.
    pub confirmed_at: Option<DateTime<Utc>>,
    /// Delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// One timeline entry.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventOut {
    /// Id.
    pub id: i64,
    /// `created`, `updated`, `status`, `override`, `blacklisted`.
    pub kind: String,
    /// From status.
    pub from_status: Option<String>,
    /// To status.
    pub to_status: Option<String>,
    /// Who.
    pub actor_user_id: Option<Uuid>,
    /// `agent`, `fulfillment`, `shop`, `system`.
    pub source: String,
    /// Details.
    pub data: Option<Value>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// One order with its timeline, the phone's record and the deliveries to fulfillment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
    /// The order.
    #[serde(flatten)]
    pub order: OrderOut,
    /// Timeline, oldest first.
    pub timeline: Vec<EventOut>,
    /// The recipient phone's record (when the phone is valid).
    pub phone_record: Option<PhoneRecord>,
    /// Outbound webhook messages, oldest first.
    pub deliveries: Vec<crate::services::fulfillment::MessageOut>,
}

// ---------------------------------------------------------------------------------------------
// Reading

fn items_of(rows: &[order_item::Model]) -> Vec<Item> {
    rows.iter()
        .map(|i| Item {
            sku: i.sku.clone(),
            name: i.name.clone(),
            quantity: i.quantity,
            unit_price: i.unit_price,
        })
        .collect()
}

async fn find(
    db: &impl ConnectionTrait,
    ws: Uuid,
    id: Uuid,
) -> Result<Option<order::Model>, sea_orm::DbErr> {
    order::Entity::find_by_id(id)
        .filter(order::Column::WorkspaceId.eq(ws))
        .one(db)
        .await
}

async fn items(db: &impl ConnectionTrait, order_id: Uuid) -> Result<Vec<Item>, sea_orm::DbErr> {
    let rows = order_item::Entity::find()
        .filter(order_item::Column::OrderId.eq(order_id))
        .order_by_asc(order_item::Column::Id)
        .all(db)
        .await?;
    Ok(items_of(&rows))
}

fn status_of(o: &order::Model) -> OrderStatus {
    OrderStatus::parse(&o.status).unwrap_or(OrderStatus::Draft)
}

fn valid_phone(o: &order::Model) -> Option<Phone> {
    o.phone.as_deref().and_then(Phone::parse)
}

async fn out(
    db: &impl ConnectionTrait,
    o: &order::Model,
    items: Vec<Item>,
) -> Result<OrderOut, sea_orm::DbErr> {
    let blacklisted = match valid_phone(o) {
        Some(p) => blacklist::active_entry(db, o.workspace_id, p.as_str()).await?,
        None => None,
    };
    let totals = rules::totals(&items, o.shipping_fee, o.discount);
    Ok(OrderOut {
        id: o.id,
        status: o.status.clone(),
        source: o.source.clone(),
        contact_id: o.contact_id,
        lead_id: o.lead_id,
        conversation_id: o.conversation_id,
        channel_account_id: o.channel_account_id,
        external_id: o.external_id.clone(),
        recipient: RecipientOut {
            name: o.recipient_name.clone(),
            phone: o.phone.clone(),
            address: AddressOut {
                street: o.address.clone(),
                ward: o.ward.clone(),
                district: o.district.clone(),
                province: o.province.clone(),
            },
        },
        items,
        totals: Totals {
            total: o.total_amount,
            ..totals
        },
        cod_amount: o.cod_amount,
        note: o.note.clone(),
        platform_status: o.platform_status.clone(),
        tracking_code: o.tracking_code.clone(),
        carrier: o.carrier.clone(),
        blacklist_override: o.blacklist_override.clone(),
        blacklisted,
        created_by: o.created_by,
        created_at: o.created_at,
        updated_at: o.updated_at,
        confirmed_at: o.confirmed_at,
        delivered_at: o.delivered_at,
    })
}

/// The full view of one order.
pub async fn view(
    db: &impl ConnectionTrait,
    o: &order::Model,
) -> Result<OrderView, sea_orm::DbErr> {
    let its = items(db, o.id).await?;
    let order = out(db, o, its).await?;
    let timeline = order_event::Entity::find()
        .filter(order_event::Column::WorkspaceId.eq(o.workspace_id))
        .filter(order_event::Column::OrderId.eq(o.id))
        .order_by_asc(order_event::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|e| EventOut {
            id: e.id,
            kind: e.kind,
            from_status: e.from_status,
            to_status: e.to_status,
            actor_user_id: e.actor_user_id,
            source: e.source,
            data: e.data,
            created_at: e.created_at,
        })
        .collect();
    let phone_record = match valid_phone(o) {
        Some(p) => Some(blacklist::phone_record(db, o.workspace_id, p.as_str()).await?),
        None => None,
    };
    let deliveries = webhook_message::Entity::find()
        .filter(webhook_message::Column::WorkspaceId.eq(o.workspace_id))
        .filter(webhook_message::Column::OrderId.eq(o.id))
        .order_by_asc(webhook_message::Column::CreatedAt)
        .order_by_asc(webhook_message::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(OrderView {
        order,
        timeline,
        phone_record,
        deliveries,
    })
}

async fn frame(
    db: &impl ConnectionTrait,
    kind: &'static str,
    o: &order::Model,
) -> Result<Outgoing, sea_orm::DbErr> {
    let v = view(db, o).await?;
    Ok(Outgoing {
        workspace: o.workspace_id,
        kind,
        data: json!({ "order": v }),
    })
}

/// The body of every outbound order event (`order.confirmed`, `order.updated`,
/// `order.cancelled`, `order.status_changed`): what a carrier needs (commerce.md §4.4(b), §5.3).
pub fn fulfillment_payload(o: &order::Model, items: &[Item]) -> Value {
    let t = rules::totals(items, o.shipping_fee, o.discount);
    let phone = valid_phone(o)
        .map(|p| p.national().replace(' ', ""))
        .or_else(|| o.phone.clone());
    json!({
        "order_id": o.id.to_string(),
        "channel": o.source,
        "channel_order_id": o.external_id.clone().unwrap_or_else(|| o.id.to_string()),
        "currency": "VND",
        "cod_amount": o.cod_amount,
        "declared_value": (t.subtotal - o.discount).max(0),
        "recipient": {
            "name": o.recipient_name,
            "phone": phone,
            "address": {
                "street": o.address,
                "ward": o.ward,
                "district": o.district,
                "province": o.province,
                "country": "VN",
            },
        },
        "items": items.iter().map(|i| json!({
            "sku": i.sku, "name": i.name, "quantity": i.quantity, "unit_price": i.unit_price,
        })).collect::<Vec<_>>(),
        "shipping_fee": o.shipping_fee,
        "discount": o.discount,
        "total": o.total_amount,
        "note": o.note,
        "status": o.status,
        "tracking_code": o.tracking_code,
        "carrier": o.carrier,
    })
}

// ---------------------------------------------------------------------------------------------
// Writing helpers

struct Ev<'a> {
    kind: &'a str,
    from: Option<OrderStatus>,
    to: Option<OrderStatus>,
    actor: Option<Uuid>,
    source: &'a str,
    data: Value,
}

async fn event(
    db: &impl ConnectionTrait,
    o: &order::Model,
    ev: Ev<'_>,
) -> Result<(), sea_orm::DbErr> {
    order_event::ActiveModel {
        workspace_id: Set(o.workspace_id),
        order_id: Set(o.id),
        kind: Set(ev.kind.to_owned()),
        from_status: Set(ev.from.map(|s| s.as_str().to_owned())),
        to_status: Set(ev.to.map(|s| s.as_str().to_owned())),
        actor_user_id: Set(ev.actor),
        source: Set(ev.source.to_owned()),
        data: Set(Some(ev.data)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

async fn replace_items(
    db: &impl ConnectionTrait,
    order_id: Uuid,
    items: &[Item],
) -> Result<(), sea_orm::DbErr> {
    order_item::Entity::delete_many()
        .filter(order_item::Column::OrderId.eq(order_id))
        .exec(db)
        .await?;
    for i in items {
        order_item::ActiveModel {
            id: Set(Uuid::now_v7()),
            order_id: Set(order_id),
            sku: Set(i.sku.clone().filter(|s| !s.trim().is_empty())),
            name: Set(i.name.trim().to_owned()),
            quantity: Set(i.quantity),
            unit_price: Set(i.unit_price),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// A typed phone in its stored form: E.164 when valid, else as typed (trimmed).
fn stored_phone(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    Some(Phone::parse(s).map_or_else(|| s.to_owned(), |p| p.as_str().to_owned()))
}

fn clean(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn check_amounts(fee: i64, discount: i64, cod: Option<i64>) -> AppResult<()> {
    if fee < 0 || discount < 0 || cod.is_some_and(|c| c < 0) {
        return Err(AppError::bad_request(
            "invalid_amount",
            "shipping_fee, discount and cod_amount cannot be negative",
        ));
    }
    Ok(())
}

fn confirm_input<'a>(o: &'a order::Model, items: &'a [Item]) -> ConfirmInput<'a> {
    ConfirmInput {
        recipient_name: o.recipient_name.as_deref(),
        phone: o.phone.as_deref(),
        street: o.address.as_deref(),
        ward: o.ward.as_deref(),
        province: o.province.as_deref(),
        items,
        cod_amount: o.cod_amount,
        total: o.total_amount,
    }
}

/// 422 `not_confirmable` with `details.problems`.
pub fn problems_error(problems: Vec<Problem>) -> AppError {
    let list = problems
        .iter()
        .map(|p| format!("{}: {}", p.field, p.message))
        .collect::<Vec<_>>()
        .join("; ");
    AppError::Detailed {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        code: "not_confirmable",
        message: format!("the order cannot be confirmed: {list}"),
        details: json!({ "problems": problems }),
    }
}

/// Mark the open lead an order was made from as won (stage change, audit, `lead.updated`).
async fn win_lead(
    db: &impl ConnectionTrait,
    ws: Uuid,
    lead_id: Uuid,
    actor: Option<Uuid>,
) -> AppResult<Option<Outgoing>> {
    let Some(l) = lead::Entity::find_by_id(lead_id)
        .filter(lead::Column::WorkspaceId.eq(ws))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    // A lead already won (or lost and not reopened) stays as it is.
    if !Stage::parse(&l.stage)
        .unwrap_or(Stage::New)
        .can_move_to(Stage::Won)
    {
        return Ok(None);
    }
    let l = crate::services::leads::move_stage(db, actor, l, Stage::Won, None).await?;
    // The same frame the leads service sends on any stage change.
    Ok(Some(Outgoing {
        workspace: ws,
        kind: "lead.updated",
        data: json!({ "lead": crate::services::leads::view(db, l).await? }),
    }))
}

/// Confirm a draft inside `db` (a transaction): the checks, the blacklist verdict (an override
/// needs a reason), the normalized phone, the timeline, the lead won, and `order.confirmed`
/// queued for fulfillment. Returns the confirmed order and frames to publish after commit.
async fn confirm_in(
    db: &impl ConnectionTrait,
    o: order::Model,
    items: &[Item],
    actor: Option<Uuid>,
    source: &str,
    override_reason: Option<&str>,
) -> AppResult<(order::Model, Vec<Outgoing>)> {
    let from = status_of(&o);
    if !from.can_move_to(OrderStatus::Confirmed) {
        return Err(AppError::Conflict(format!(
            "the order is {}; only a draft can be confirmed",
            from.as_str()
        )));
    }
    let phone = rules::check_confirmable(&confirm_input(&o, items)).map_err(problems_error)?;
    let verdict = blacklist::active_entry(db, o.workspace_id, phone.as_str()).await?;
    let reason = override_reason.map(str::trim).filter(|r| !r.is_empty());
    if let Some(v) = &verdict
        && reason.is_none()
    {
        return Err(AppError::Detailed {
            status: axum::http::StatusCode::CONFLICT,
            code: "blacklisted",
            message: format!(
                "{} is on the blacklist ({}); confirm with blacklist_override_reason",
                phone.as_str(),
                v.reason
            ),
            details: json!({ "verdict": v }),
        });
    }
    let now = Utc::now();
    let ws = o.workspace_id;
    let lead_id = o.lead_id;
    let mut am = o.into_active_model();
    am.phone = Set(Some(phone.as_str().to_owned()));
    am.status = Set(OrderStatus::Confirmed.as_str().to_owned());
    am.confirmed_at = Set(Some(now));
    am.updated_at = Set(now);
    let overridden = verdict.as_ref().and(reason);
    if let Some(r) = overridden {
        am.blacklist_override = Set(Some(r.to_owned()));
    }
    let o = am.update(db).await?;
    event(
        db,
        &o,
        Ev {
            kind: "status",
            from: Some(from),
            to: Some(OrderStatus::Confirmed),
            actor,
            source,
            data: json!({}),
        },
    )
    .await?;
    if let (Some(r), Some(v)) = (overridden, &verdict) {
        event(
            db,
            &o,
            Ev {
                kind: "override",
                from: None,
                to: None,
                actor,
                source,
                data: json!({ "reason": r, "verdict": v }),
            },
        )
        .await?;
        audit::record(
            db,
            ws,
            actor,
            "order.blacklist_override",
            ("order", o.id.to_string()),
            json!({ "reason": r, "phone": phone.as_str(), "blacklist_id": v.id }),
        )
        .await?;
    }
    let mut frames = Vec::new();
    if let Some(lead_id) = lead_id
        && let Some(f) = win_lead(db, ws, lead_id, actor).await?
    {
        frames.push(f);
    }
    webhooks_out::emit(db, ws, "order.confirmed", fulfillment_payload(&o, items)).await?;
    Ok((o, frames))
}

// ---------------------------------------------------------------------------------------------
// Status changes (agents, the packing board, the fulfillment callback, shops)

/// Who reports a status change, and what they add.
#[derive(Debug, Clone, Default)]
pub struct StatusSource<'a> {
    /// `agent`, `fulfillment`, `shop`, `system`.
    pub source: &'a str,
    /// The user, for people.
    pub actor: Option<Uuid>,
    /// Tracking code to store.
    pub tracking_code: Option<String>,
    /// Carrier to store.
    pub carrier: Option<String>,
    /// Why (cancellations, returns) or a note.
    pub reason: Option<String>,
    /// The reporter's own status name, kept on the order.
    pub platform_status: Option<String>,
}

/// A status change that happened (inside the caller's transaction).
pub struct StatusChange {
    /// The order after the change.
    pub order: order::Model,
    /// Where it was.
    pub from: OrderStatus,
    /// Frames to publish after commit: `order.updated` (and `blacklist.updated` when a return
    /// blacklisted the phone).
    pub frames: Vec<Outgoing>,
}

/// Why a status change did not happen.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// No such order in the workspace.
    #[error("order not found")]
    NotFound,
    /// The state machine forbids it.
    #[error("an order cannot go from {from} to {to}")]
    Forbidden {
        /// Current status.
        from: &'static str,
        /// Requested status.
        to: &'static str,
    },
    /// Storage.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl From<StatusError> for AppError {
    fn from(e: StatusError) -> Self {
        match e {
            StatusError::NotFound => AppError::NotFound("order"),
            StatusError::Forbidden { .. } => AppError::Conflict(e.to_string()),
            StatusError::Db(e) => e.into(),
        }
    }
}

/// Move an order to `to` (not `confirmed`: that is [`confirm`]) inside `db` (a transaction):
/// the state machine, tracking code and carrier, `delivered_at` and the feedback hook on
/// delivery, the automatic blacklist on a returned COD order, the timeline, and the outbound
/// event (`order.cancelled` when a confirmed order is cancelled, else `order.status_changed`).
pub async fn apply_status(
    db: &impl ConnectionTrait,
    ws: Uuid,
    order_id: Uuid,
    to: OrderStatus,
    src: StatusSource<'_>,
) -> Result<StatusChange, StatusError> {
    let o = find(db, ws, order_id).await?.ok_or(StatusError::NotFound)?;
    let from = status_of(&o);
    if to == OrderStatus::Confirmed || !from.can_move_to(to) {
        return Err(StatusError::Forbidden {
            from: from.as_str(),
            to: to.as_str(),
        });
    }
    let now = Utc::now();
    let mut am = o.into_active_model();
    am.status = Set(to.as_str().to_owned());
    am.updated_at = Set(now);
    if let Some(t) = clean(src.tracking_code.clone()) {
        am.tracking_code = Set(Some(t));
    }
    if let Some(c) = clean(src.carrier.clone()) {
        am.carrier = Set(Some(c));
    }
    if let Some(p) = clean(src.platform_status.clone()) {
        am.platform_status = Set(Some(p));
    }
    if to == OrderStatus::Delivered {
        am.delivered_at = Set(Some(now));
    }
    let o = am.update(db).await?;
    event(
        db,
        &o,
        Ev {
            kind: "status",
            from: Some(from),
            to: Some(to),
            actor: src.actor,
            source: src.source,
            data: json!({
                "tracking_code": src.tracking_code, "carrier": src.carrier,
                "reason": src.reason, "platform_status": src.platform_status,
            }),
        },
    )
    .await?;
    let its = items(db, o.id).await?;
    if to == OrderStatus::Cancelled {
        if from != OrderStatus::Draft {
            webhooks_out::emit(db, ws, "order.cancelled", fulfillment_payload(&o, &its)).await?;
        }
    } else if src.source != "fulfillment" {
        // What fulfillment reported itself is not echoed back to it.
        webhooks_out::emit(
            db,
            ws,
            "order.status_changed",
            fulfillment_payload(&o, &its),
        )
        .await?;
    }
    if to == OrderStatus::Delivered {
        feedback::on_delivered(db, &o).await?;
    }
    feedback::on_status(db, &o, to).await?;
    let mut frames = Vec::new();
    if to == OrderStatus::Returned
        && o.cod_amount > 0
        && let Some(f) = auto_blacklist(db, &o).await?
    {
        frames.push(f);
    }
    frames.insert(0, frame(db, "order.updated", &o).await?);
    Ok(StatusChange {
        order: o,
        from,
        frames,
    })
}

/// After a returned COD order: blacklist the phone automatically once it has
/// `blacklist_after_returns` returned COD orders (unless an entry is already active).
async fn auto_blacklist(
    db: &impl ConnectionTrait,
    o: &order::Model,
) -> Result<Option<Outgoing>, sea_orm::DbErr> {
    let threshold = pipeline::load(db, o.workspace_id)
        .await?
        .blacklist_after_returns;
    let Some(phone) = valid_phone(o) else {
        return Ok(None);
    };
    if threshold <= 0 {
        return Ok(None);
    }
    let returned = order::Entity::find()
        .filter(order::Column::WorkspaceId.eq(o.workspace_id))
        .filter(order::Column::Phone.eq(phone.as_str()))
        .filter(order::Column::Status.eq(OrderStatus::Returned.as_str()))
        .filter(order::Column::CodAmount.gt(0))
        .count(db)
        .await?;
    if returned < threshold as u64
        || blacklist::active_entry(db, o.workspace_id, phone.as_str())
            .await?
            .is_some()
    {
        return Ok(None);
    }
    let entry = blacklist::insert_entry(
        db,
        o.workspace_id,
        phone.as_str(),
        &format!("{returned} đơn COD bị hoàn"),
        "automatic",
        None,
    )
    .await?;
    Ok(Some(Outgoing {
        workspace: o.workspace_id,
        kind: "blacklist.updated",
        data: json!({ "entry": entry }),
    }))
}

/// The delivery worker, after a 2xx to `message_id`: a confirmed order becomes `pushed`
/// (no-op otherwise). Returns the `order.updated` frame data (`{"order": <view>}`) to publish
/// after commit, or `None` when nothing changed.
pub async fn mark_pushed(
    db: &impl ConnectionTrait,
    ws: Uuid,
    order_id: Uuid,
    message_id: &str,
) -> Result<Option<Value>, sea_orm::DbErr> {
    let Some(o) = find(db, ws, order_id).await? else {
        return Ok(None);
    };
    if status_of(&o) != OrderStatus::Confirmed {
        return Ok(None);
    }
    let mut am = o.into_active_model();
    am.status = Set(OrderStatus::Pushed.as_str().to_owned());
    am.updated_at = Set(Utc::now());
    let o = am.update(db).await?;
    event(
        db,
        &o,
        Ev {
            kind: "status",
            from: Some(OrderStatus::Confirmed),
            to: Some(OrderStatus::Pushed),
            actor: None,
            source: "fulfillment",
            data: json!({ "message_id": message_id }),
        },
    )
    .await?;
    Ok(Some(frame(db, "order.updated", &o).await?.data))
}

// ---------------------------------------------------------------------------------------------
// Use-cases behind the routes

/// `POST /orders`: a draft from a conversation, a lead or by hand.
pub async fn create(state: &AppState, p: &Principal, input: OrderIn) -> AppResult<OrderView> {
    p.require(Permission::WorkOrders)?;
    check_amounts(input.shipping_fee, input.discount, input.cod_amount)?;
    let txn = state.db.write.begin().await?;
    let ws = p.workspace_id;
    let (mut contact_id, mut conversation_id, mut channel_id) = (None, None, None);
    let mut lead_phone = None;
    let mut source = "manual";
    if let Some(cid) = input.conversation_id {
        let c = conversation::Entity::find_by_id(cid)
            .filter(conversation::Column::WorkspaceId.eq(ws))
            .one(&txn)
            .await?
            .ok_or(AppError::NotFound("conversation"))?;
        contact_id = Some(c.contact_id);
        conversation_id = Some(c.id);
        channel_id = Some(c.channel_account_id);
        source = "conversation";
    }
    if let Some(lid) = input.lead_id {
        let l = lead::Entity::find_by_id(lid)
            .filter(lead::Column::WorkspaceId.eq(ws))
            .one(&txn)
            .await?
            .ok_or(AppError::NotFound("lead"))?;
        contact_id = Some(l.contact_id);
        conversation_id = conversation_id.or(l.conversation_id);
        channel_id = channel_id.or(l.channel_account_id);
        lead_phone = Some(l.phone);
        source = "lead";
    }
    let contact = match contact_id {
        Some(id) => contact::Entity::find_by_id(id).one(&txn).await?,
        None => None,
    };
    let r = input.recipient;
    let name = clean(r.name).or_else(|| contact.as_ref().and_then(|c| c.name.clone()));
    let phone = clean(r.phone)
        .or(lead_phone)
        .or_else(|| contact.as_ref().and_then(|c| c.phone.clone()))
        .and_then(|s| stored_phone(&s));
    let addr = r.address.unwrap_or_default();
    let t = rules::totals(&input.items, input.shipping_fee, input.discount);
    let now = Utc::now();
    let o = order::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws),
        contact_id: Set(contact_id),
        lead_id: Set(input.lead_id),
        channel_account_id: Set(channel_id),
        external_id: Set(None),
        status: Set(OrderStatus::Draft.as_str().to_owned()),
        recipient_name: Set(name),
        phone: Set(phone),
        address: Set(clean(addr.street)),
        ward: Set(clean(addr.ward)),
        district: Set(clean(addr.district)),
        province: Set(clean(addr.province)),
        cod_amount: Set(input.cod_amount.unwrap_or(t.total)),
        total_amount: Set(t.total),
        shipping_fee: Set(input.shipping_fee),
        discount: Set(input.discount),
        note: Set(clean(input.note)),
        conversation_id: Set(conversation_id),
        source: Set(source.to_owned()),
        created_by: Set(p.user_id),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    replace_items(&txn, o.id, &input.items).await?;
    event(
        &txn,
        &o,
        Ev {
            kind: "created",
            from: None,
            to: Some(OrderStatus::Draft),
            actor: p.user_id,
            source: "agent",
            data: json!({ "source": source }),
        },
    )
    .await?;
    let v = view(&txn, &o).await?;
    txn.commit().await?;
    publish(
        state,
        vec![Outgoing {
            workspace: ws,
            kind: "order.created",
            data: json!({ "order": v }),
        }],
    )
    .await;
    Ok(v)
}

/// `PATCH /orders/{id}`: edit while editable. A confirmed or pushed order must stay
/// confirmable and its change goes to fulfillment as `order.updated`.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    patch: OrderPatch,
) -> AppResult<OrderView> {
    p.require(Permission::WorkOrders)?;
    let txn = state.db.write.begin().await?;
    let o = find(&txn, p.workspace_id, id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let status = status_of(&o);
    if !status.is_editable() {
        return Err(AppError::refused(
            "not_editable",
            format!("a {} order can no longer be edited", status.as_str()),
        ));
    }
    let old_items = items(&txn, o.id).await?;
    let new_items = patch.items.clone().unwrap_or_else(|| old_items.clone());
    let fee = patch.shipping_fee.unwrap_or(o.shipping_fee);
    let discount = patch.discount.unwrap_or(o.discount);
    check_amounts(fee, discount, patch.cod_amount)?;
    let t = rules::totals(&new_items, fee, discount);
    let cod = patch
        .cod_amount
        .unwrap_or(if o.cod_amount == o.total_amount {
            t.total
        } else {
            o.cod_amount
        });
    let mut changed = Vec::new();
    let mut am = o.clone().into_active_model();
    if let Some(r) = patch.recipient {
        if let Some(n) = r.name {
            am.recipient_name = Set(clean(Some(n)));
            changed.push("recipient.name");
        }
        if let Some(ph) = r.phone {
            am.phone = Set(stored_phone(&ph));
            changed.push("recipient.phone");
        }
        if let Some(a) = r.address {
            am.address = Set(clean(a.street));
            am.ward = Set(clean(a.ward));
            am.district = Set(clean(a.district));
            am.province = Set(clean(a.province));
            changed.push("recipient.address");
        }
    }
    if patch.items.is_some() {
        changed.push("items");
    }
    if let Some(n) = patch.note {
        am.note = Set(clean(Some(n)));
        changed.push("note");
    }
    am.shipping_fee = Set(fee);
    am.discount = Set(discount);
    am.total_amount = Set(t.total);
    am.cod_amount = Set(cod);
    am.updated_at = Set(Utc::now());
    let o = am.update(&txn).await?;
    if status != OrderStatus::Draft {
        let phone =
            rules::check_confirmable(&confirm_input(&o, &new_items)).map_err(problems_error)?;
        if o.phone.as_deref() != Some(phone.as_str()) {
            let mut am = o.clone().into_active_model();
            am.phone = Set(Some(phone.as_str().to_owned()));
            am.update(&txn).await?;
        }
    }
    let o = find(&txn, p.workspace_id, id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    if patch.items.is_some() {
        replace_items(&txn, o.id, &new_items).await?;
    }
    event(
        &txn,
        &o,
        Ev {
            kind: "updated",
            from: None,
            to: None,
            actor: p.user_id,
            source: "agent",
            data: json!({ "changed": changed }),
        },
    )
    .await?;
    if status != OrderStatus::Draft {
        webhooks_out::emit(
            &txn,
            p.workspace_id,
            "order.updated",
            fulfillment_payload(&o, &new_items),
        )
        .await?;
    }
    let v = view(&txn, &o).await?;
    txn.commit().await?;
    publish(
        state,
        vec![Outgoing {
            workspace: p.workspace_id,
            kind: "order.updated",
            data: json!({ "order": v }),
        }],
    )
    .await;
    Ok(v)
}

/// `POST /orders/{id}/confirm`.
pub async fn confirm(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: ConfirmIn,
) -> AppResult<OrderView> {
    p.require(Permission::WorkOrders)?;
    let txn = state.db.write.begin().await?;
    let o = find(&txn, p.workspace_id, id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let its = items(&txn, o.id).await?;
    let (o, mut frames) = confirm_in(
        &txn,
        o,
        &its,
        p.user_id,
        "agent",
        input.blacklist_override_reason.as_deref(),
    )
    .await?;
    let v = view(&txn, &o).await?;
    txn.commit().await?;
    frames.insert(
        0,
        Outgoing {
            workspace: p.workspace_id,
            kind: "order.updated",
            data: json!({ "order": v }),
        },
    );
    let won_a_lead = frames.iter().any(|f| f.kind == "lead.updated");
    publish(state, frames).await;
    if won_a_lead {
        // Its agent has one open item fewer: hand out what waits in the queue.
        crate::services::assignment::hand_out_quietly(state, p.workspace_id).await;
    }
    Ok(v)
}

async fn change_status(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    to: OrderStatus,
    src: StatusSource<'_>,
) -> AppResult<OrderView> {
    let txn = state.db.write.begin().await?;
    let change = apply_status(&txn, p.workspace_id, id, to, src).await?;
    let v = view(&txn, &change.order).await?;
    txn.commit().await?;
    publish(state, change.frames).await;
    Ok(v)
}

/// `POST /orders/{id}/cancel`.
pub async fn cancel(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: CancelIn,
) -> AppResult<OrderView> {
    p.require(Permission::WorkOrders)?;
    let src = StatusSource {
        source: "agent",
        actor: p.user_id,
        reason: clean(input.reason),
        ..Default::default()
    };
    change_status(state, p, id, OrderStatus::Cancelled, src).await
}

/// `POST /orders/{id}/status`: the packing board (packed, shipped, delivered, returned).
pub async fn set_status(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: StatusIn,
) -> AppResult<OrderView> {
    p.require(Permission::FulfillOrders)?;
    if !matches!(
        input.status,
        OrderStatus::Packed | OrderStatus::Shipped | OrderStatus::Delivered | OrderStatus::Returned
    ) {
        return Err(AppError::bad_request(
            "invalid_status",
            "status is packed, shipped, delivered or returned (confirm and cancel have their own routes)",
        ));
    }
    let src = StatusSource {
        source: if p.role == Role::Fulfillment {
            "fulfillment"
        } else {
            "agent"
        },
        actor: p.user_id,
        tracking_code: input.tracking_code,
        carrier: input.carrier,
        reason: clean(input.note),
        platform_status: None,
    };
    change_status(state, p, id, input.status, src).await
}

/// `GET /orders/{id}`.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<OrderView> {
    p.require(Permission::ReadOrders)?;
    let db = &state.db.read;
    let o = find(db, p.workspace_id, id)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    Ok(view(db, &o).await?)
}

/// `GET /orders/phone-record?phone=`.
pub async fn phone_record(state: &AppState, p: &Principal, phone: &str) -> AppResult<PhoneRecord> {
    p.require(Permission::ReadOrders)?;
    let phone = Phone::parse(phone).ok_or_else(|| {
        AppError::bad_request("invalid_phone", "not a valid Vietnamese mobile number")
    })?;
    Ok(blacklist::phone_record(&state.db.read, p.workspace_id, phone.as_str()).await?)
}

/// `GET /orders`: newest first.
pub async fn list(state: &AppState, p: &Principal, f: OrderFilter) -> AppResult<Page<OrderOut>> {
    p.require(Permission::ReadOrders)?;
    let db = &state.db.read;
    let limit = f.limit.unwrap_or(50).clamp(1, 100);
    let mut q = order::Entity::find().filter(order::Column::WorkspaceId.eq(p.workspace_id));
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        let st = OrderStatus::parse(s).ok_or_else(|| {
            AppError::bad_request("invalid_status", format!("unknown order status {s:?}"))
        })?;
        q = q.filter(order::Column::Status.eq(st.as_str()));
    }
    if let Some(src) = f.source.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        q = q.filter(order::Column::Source.eq(src));
    }
    if let Some(ch) = f.channel_account_id {
        q = q.filter(order::Column::ChannelAccountId.eq(ch));
    }
    if let Some(ph) = f.phone.as_deref().filter(|s| !s.trim().is_empty()) {
        let ph = Phone::parse(ph).ok_or_else(|| {
            AppError::bad_request("invalid_phone", "not a valid Vietnamese mobile number")
        })?;
        q = q.filter(order::Column::Phone.eq(ph.as_str()));
    }
    if let Some(c) = f.contact_id {
        q = q.filter(order::Column::ContactId.eq(c));
    }
    if let Some(text) = f.q.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let mut any = Condition::any()
            .add(order::Column::RecipientName.contains(text))
            .add(order::Column::Phone.contains(text))
            .add(order::Column::ExternalId.contains(text));
        if let Some(ph) = Phone::parse(text) {
            any = any.add(order::Column::Phone.eq(ph.as_str()));
        }
        if let Ok(id) = text.parse::<Uuid>() {
            any = any.add(order::Column::Id.eq(id));
        }
        q = q.filter(any);
    }
    if let Some(c) = &f.cursor {
        let (t, id) = decode_cursor(c)?;
        q = q.filter(
            Condition::any().add(order::Column::CreatedAt.lt(t)).add(
                Condition::all()
                    .add(order::Column::CreatedAt.eq(t))
                    .add(order::Column::Id.lt(id)),
            ),
        );
    }
    let mut rows = q
        .order_by_desc(order::Column::CreatedAt)
        .order_by_desc(order::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|o| encode_cursor(o.created_at, o.id))
    } else {
        None
    };
    let mut items_out = Vec::with_capacity(rows.len());
    for o in &rows {
        let its = items(db, o.id).await?;
        items_out.push(out(db, o, its).await?);
    }
    Ok(Page {
        items: items_out,
        next_cursor,
    })
}

/// A ward already used in the workspace's orders, with how often.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WardSuggestion {
    /// The ward as typed on the orders.
    pub ward: String,
    /// Orders to it.
    pub count: i64,
}

/// The province whose wards to suggest.
#[derive(Debug, Deserialize, IntoParams)]
pub struct SuggestionQuery {
    /// Province or city, as the order form stores it.
    pub province: String,
}

/// `GET /orders/address-suggestions?province=`: the distinct wards of this workspace's orders in
/// that province (exact name, trimmed), most used first, at most 50. There is no bundled ward
/// dataset: the order form offers these as suggestions for its free-text ward input.
pub async fn address_suggestions(
    state: &AppState,
    p: &Principal,
    province: &str,
) -> AppResult<Vec<WardSuggestion>> {
    p.require(Permission::ReadOrders)?;
    let province = province.trim();
    if province.is_empty() {
        return Err(AppError::bad_request(
            "invalid_province",
            "province is required",
        ));
    }
    let rows: Vec<(Option<String>, i64)> = order::Entity::find()
        .select_only()
        .column(order::Column::Ward)
        .column_as(order::Column::Id.count(), "n")
        .filter(order::Column::WorkspaceId.eq(p.workspace_id))
        .filter(order::Column::Province.eq(province))
        .filter(order::Column::Ward.is_not_null())
        .group_by(order::Column::Ward)
        .into_tuple()
        .all(&state.db.read)
        .await?;
    let mut merged: Vec<WardSuggestion> = Vec::new();
    for (ward, n) in rows {
        let Some(w) = ward.map(|w| w.trim().to_owned()).filter(|w| !w.is_empty()) else {
            continue;
        };
        match merged.iter_mut().find(|s| s.ward == w) {
            Some(s) => s.count += n,
            None => merged.push(WardSuggestion { ward: w, count: n }),
        }
    }
    merged.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.ward.cmp(&b.ward)));
    merged.truncate(50);
    Ok(merged)
}

// ---------------------------------------------------------------------------------------------
// Inbound: the shop channel's orders and fulfillment's status callback

/// Whether a delivery with this key was already processed.
pub(crate) async fn seen(
    db: &impl ConnectionTrait,
    platform: &str,
    key: &str,
) -> Result<bool, sea_orm::DbErr> {
    Ok(inbound_event::Entity::find()
        .filter(inbound_event::Column::Platform.eq(platform))
        .filter(inbound_event::Column::EventKey.eq(key))
        .one(db)
        .await?
        .is_some())
}

/// Store a verified, processed delivery (in the transaction of its change).
pub(crate) async fn record_inbound(
    db: &impl ConnectionTrait,
    platform: &str,
    key: &str,
    ws: Uuid,
    channel: Option<Uuid>,
    body: &[u8],
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    inbound_event::ActiveModel {
        platform: Set(platform.to_owned()),
        event_key: Set(key.to_owned()),
        workspace_id: Set(Some(ws)),
        channel_account_id: Set(channel),
        body: Set(body.to_vec()),
        status: Set("processed".into()),
        error: Set(None),
        attempts: Set(1),
        received_at: Set(now),
        processed_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// Map a fulfillment status (ours or a carrier's word for it) to ours:
/// `packed` ← packed, ready_to_pick, ready_to_ship; `shipped` ← shipped, picked, picked_up,
/// in_transit, transporting, delivering; `delivered` ← delivered, completed;
/// `returned` ← returned, return, refused, delivery_failed_returned.
pub fn fulfillment_status(s: &str) -> Option<OrderStatus> {
    match s.trim().to_ascii_lowercase().as_str() {
        "packed" | "ready_to_pick" | "ready_to_ship" => Some(OrderStatus::Packed),
        "shipped" | "picked" | "picked_up" | "in_transit" | "transporting" | "delivering" => {
            Some(OrderStatus::Shipped)
        }
        "delivered" | "completed" => Some(OrderStatus::Delivered),
        "returned" | "return" | "refused" | "delivery_failed_returned" => {
            Some(OrderStatus::Returned)
        }
        _ => None,
    }
}

#[derive(Deserialize)]
struct StatusCallback {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Value,
}

#[derive(Deserialize)]
struct StatusCallbackData {
    order_id: String,
    status: String,
    tracking_code: Option<String>,
    carrier: Option<String>,
    reason: Option<String>,
}

/// Verify a Standard-Webhooks request with a sealed secret; 401 with the reason otherwise.
pub(crate) fn verify_signed(
    state: &AppState,
    sealed: &[u8],
    headers: &http::HeaderMap,
    body: &[u8],
) -> AppResult<tongdai_connectors::standard_webhooks::Delivery> {
    use tongdai_connectors::standard_webhooks::{Secret, verify};
    let secret = state
        .secrets
        .open(sealed)
        .and_then(|b| Secret::from_bytes(b).ok())
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("a webhook secret does not open")))?;
    verify(&secret, headers, body, Utc::now().timestamp())
        .map_err(|e| AppError::unauthorized(e.code(), e.to_string()))
}

/// `POST /webhooks/fulfillment/{endpoint_id}`: a signed status report. Idempotent by
/// `webhook-id`; the delivery is stored in the transaction of the change.
pub async fn receive_fulfillment(
    state: &AppState,
    endpoint_id: Uuid,
    headers: &http::HeaderMap,
    body: &[u8],
) -> AppResult<Value> {
    let db = &state.db.write;
    let e = webhook_endpoint::Entity::find_by_id(endpoint_id)
        .one(db)
        .await?
        .filter(|e| e.enabled)
        .ok_or(AppError::NotFound("endpoint"))?;
    let delivery = verify_signed(state, &e.secret_enc, headers, body)?;
    let key = format!("{endpoint_id}:{}", delivery.id);
    if seen(db, "fulfillment", &key).await? {
        return Ok(json!({ "status": "duplicate" }));
    }
    let cb: StatusCallback = serde_json::from_slice(body)
        .map_err(|err| AppError::bad_request("invalid_body", format!("invalid body: {err}")))?;
    if cb.kind != "order.status" {
        // Another event of theirs (a weight or fee update, say): acknowledged and ignored.
        let txn = db.begin().await?;
        record_inbound(&txn, "fulfillment", &key, e.workspace_id, None, body).await?;
        txn.commit().await?;
        return Ok(json!({ "status": "ignored" }));
    }
    let data: StatusCallbackData = serde_json::from_value(cb.data)
        .map_err(|err| AppError::bad_request("invalid_body", format!("invalid data: {err}")))?;
    let to = fulfillment_status(&data.status).ok_or_else(|| {
        AppError::bad_request(
            "invalid_status",
            format!(
                "status {:?} is not packed, shipped, delivered or returned",
                data.status
            ),
        )
    })?;
    let order_id: Uuid = data
        .order_id
        .trim()
        .parse()
        .map_err(|_| AppError::NotFound("order"))?;
    let txn = db.begin().await?;
    let change = match apply_status(
        &txn,
        e.workspace_id,
        order_id,
        to,
        StatusSource {
            source: "fulfillment",
            actor: None,
            tracking_code: data.tracking_code,
            carrier: data.carrier,
            reason: data.reason,
            platform_status: Some(data.status),
        },
    )
    .await
    {
        Ok(c) => c,
        // The status the order already has, reported again under a new id (a carrier
        // re-sending its last scan): acknowledged, nothing changes.
        Err(StatusError::Forbidden { from, to }) if from == to => {
            record_inbound(&txn, "fulfillment", &key, e.workspace_id, None, body).await?;
            txn.commit().await?;
            return Ok(json!({ "status": "unchanged", "order_id": order_id, "order_status": to }));
        }
        Err(err) => return Err(err.into()),
    };
    if let Err(err) = record_inbound(&txn, "fulfillment", &key, e.workspace_id, None, body).await {
        drop(txn);
        if seen(db, "fulfillment", &key).await? {
            return Ok(json!({ "status": "duplicate" }));
        }
        return Err(err.into());
    }
    txn.commit().await?;
    let status = change.order.status.clone();
    publish(state, change.frames).await;
    Ok(json!({ "status": "processed", "order_id": order_id, "order_status": status }))
}

/// Shop orders: create or update the order of a shop channel (inside a transaction).
pub(crate) struct ShopUpsert<'a> {
    pub ws: Uuid,
    pub channel_id: Uuid,
    pub external_id: &'a str,
    pub items: Vec<Item>,
    pub name: String,
    pub phone: String,
    pub address: AddressIn,
    pub shipping_fee: i64,
    pub discount: i64,
    pub cod_amount: Option<i64>,
    pub note: Option<String>,
    pub raw: Value,
    pub platform_status: &'a str,
    pub land_confirmed: bool,
}

/// Create or update a shop's order. Returns the order and the frames to publish.
pub(crate) async fn upsert_shop_order(
    db: &impl ConnectionTrait,
    u: ShopUpsert<'_>,
) -> AppResult<(order::Model, Vec<Outgoing>)> {
    let existing = order::Entity::find()
        .filter(order::Column::WorkspaceId.eq(u.ws))
        .filter(order::Column::ChannelAccountId.eq(u.channel_id))
        .filter(order::Column::ExternalId.eq(u.external_id))
        .one(db)
        .await?;
    let t = rules::totals(&u.items, u.shipping_fee, u.discount);
    let now = Utc::now();
    let phone = stored_phone(&u.phone);
    let fill = |am: &mut order::ActiveModel| {
        am.recipient_name = Set(clean(Some(u.name.clone())));
        am.phone = Set(phone.clone());
        am.address = Set(clean(u.address.street.clone()));
        am.ward = Set(clean(u.address.ward.clone()));
        am.district = Set(clean(u.address.district.clone()));
        am.province = Set(clean(u.address.province.clone()));
        am.shipping_fee = Set(u.shipping_fee);
        am.discount = Set(u.discount);
        am.total_amount = Set(t.total);
        am.cod_amount = Set(u.cod_amount.unwrap_or(t.total));
        am.note = Set(clean(u.note.clone()));
        am.raw = Set(Some(u.raw.clone()));
        am.platform_status = Set(Some(u.platform_status.to_owned()));
        am.updated_at = Set(now);
    };
    if let Some(o) = existing {
        let status = status_of(&o);
        if !status.is_editable() {
            return Err(AppError::Conflict(format!(
                "the order is {}; it can no longer be changed",
                status.as_str()
            )));
        }
        let oid = o.id;
        let mut am = o.into_active_model();
        fill(&mut am);
        let o = am.update(db).await?;
        if status != OrderStatus::Draft {
            let ph =
                rules::check_confirmable(&confirm_input(&o, &u.items)).map_err(problems_error)?;
            let mut am = o.into_active_model();
            am.phone = Set(Some(ph.as_str().to_owned()));
            am.update(db).await?;
        }
        let o = find(db, u.ws, oid)
            .await?
            .ok_or(AppError::NotFound("order"))?;
        replace_items(db, o.id, &u.items).await?;
        event(
            db,
            &o,
            Ev {
                kind: "updated",
                from: None,
                to: None,
                actor: None,
                source: "shop",
                data: json!({ "changed": ["items", "recipient", "amounts"] }),
            },
        )
        .await?;
        if status != OrderStatus::Draft {
            webhooks_out::emit(db, u.ws, "order.updated", fulfillment_payload(&o, &u.items))
                .await?;
        }
        let f = frame(db, "order.updated", &o).await?;
        return Ok((o, vec![f]));
    }
    let contact_id = match phone.as_deref() {
        Some(ph) => contact::Entity::find()
            .filter(contact::Column::WorkspaceId.eq(u.ws))
            .filter(contact::Column::Phone.eq(ph))
            .filter(contact::Column::MergedInto.is_null())
            .one(db)
            .await?
            .map(|c| c.id),
        None => None,
    };
    let mut am = order::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(u.ws),
        contact_id: Set(contact_id),
        lead_id: Set(None),
        channel_account_id: Set(Some(u.channel_id)),
        external_id: Set(Some(u.external_id.to_owned())),
        status: Set(OrderStatus::Draft.as_str().to_owned()),
        source: Set("shop".into()),
        created_at: Set(now),
        ..Default::default()
    };
    fill(&mut am);
    let o = am.insert(db).await?;
    replace_items(db, o.id, &u.items).await?;
    event(
        db,
        &o,
        Ev {
            kind: "created",
            from: None,
            to: Some(OrderStatus::Draft),
            actor: None,
            source: "shop",
            data: json!({ "external_id": u.external_id }),
        },
    )
    .await?;
    let mut frames = Vec::new();
    let mut o = o;
    if u.land_confirmed {
        let ph = rules::check_confirmable(&confirm_input(&o, &u.items)).map_err(problems_error)?;
        // A blacklisted buyer's order stays a draft: staff confirm it with an override.
        if let Some(v) = blacklist::active_entry(db, u.ws, ph.as_str()).await? {
            event(
                db,
                &o,
                Ev {
                    kind: "blacklisted",
                    from: None,
                    to: None,
                    actor: None,
                    source: "shop",
                    data: json!({ "verdict": v, "note": "kept as draft: the phone is on the blacklist" }),
                },
            )
            .await?;
        } else {
            let (confirmed, more) = confirm_in(db, o, &u.items, None, "shop", None).await?;
            o = confirmed;
            frames.extend(more);
        }
    }
    frames.insert(0, frame(db, "order.created", &o).await?);
    Ok((o, frames))
}

/// Cancel a shop's order by its id (inside a transaction).
pub(crate) async fn cancel_shop_order(
    db: &impl ConnectionTrait,
    ws: Uuid,
    channel_id: Uuid,
    external_id: &str,
    reason: Option<String>,
) -> AppResult<(order::Model, Vec<Outgoing>)> {
    let o = order::Entity::find()
        .filter(order::Column::WorkspaceId.eq(ws))
        .filter(order::Column::ChannelAccountId.eq(channel_id))
        .filter(order::Column::ExternalId.eq(external_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("order"))?;
    let change = apply_status(
        db,
        ws,
        o.id,
        OrderStatus::Cancelled,
        StatusSource {
            source: "shop",
            reason,
            platform_status: Some("order.cancelled".into()),
            ..Default::default()
        },
    )
    .await?;
    Ok((change.order, change.frames))
}
