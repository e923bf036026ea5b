//! External shops: a `channel_account` with platform `shop` per shop, with its own Standard
//! Webhooks secret; the shop pushes its orders to `POST /webhooks/shop/{channel_id}`
//! (schema: `tongdai_connectors::shop`). Idempotent twice over: by `webhook-id` (the delivery,
//! kept in `inbound_event`) and by the shop's order id (one `order` per channel and id).

use chrono::Utc;
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tongdai_connectors::shop::{self as wire, EventType};
use tongdai_connectors::standard_webhooks::Secret;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::order::Item;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::audit;
use crate::services::auth::Principal;
use crate::services::normalize::publish;
use crate::services::orders::{self, AddressIn, ShopUpsert};
use crate::state::AppState;
use crate::store::entities::channel_account;

/// The platform name of shop channels.
pub const PLATFORM: &str = "shop";

/// A new shop channel.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ShopChannelIn {
    /// Shown in the hub ("Website", "POS Quận 1").
    pub name: String,
    /// `confirmed` (default: the order goes to fulfillment at once) or `draft` (staff confirm).
    pub orders_land_as: Option<String>,
}

/// A shop channel as created: the only time its secret is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopChannelOut {
    /// Channel id (the `{channel_id}` of the webhook URL).
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// `whsec_…`: sign every request with it (Standard Webhooks). Shown once.
    pub secret: String,
    /// `confirmed` or `draft`.
    pub orders_land_as: String,
    /// Where the shop posts its orders.
    pub webhook_path: String,
}

/// `POST /shop-channels`.
pub async fn create_channel(
    state: &AppState,
    p: &Principal,
    input: ShopChannelIn,
) -> AppResult<ShopChannelOut> {
    p.require(Permission::ManagePipeline)?;
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad_request(
            "invalid_name",
            "a name of 1 to 200 characters",
        ));
    }
    let land = input.orders_land_as.as_deref().unwrap_or("confirmed");
    if !matches!(land, "confirmed" | "draft") {
        return Err(AppError::bad_request(
            "invalid_setting",
            "orders_land_as is confirmed or draft",
        ));
    }
    let mut bytes = vec![0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = Secret::from_bytes(bytes).expect("24 bytes make a secret");
    let id = Uuid::now_v7();
    let now = Utc::now();
    let txn = state.db.write.begin().await?;
    channel_account::ActiveModel {
        id: Set(id),
        workspace_id: Set(p.workspace_id),
        platform: Set(PLATFORM.into()),
        external_id: Set(id.to_string()),
        name: Set(name.to_owned()),
        settings: Set(json!({ "orders_land_as": land })),
        secrets_enc: Set(Some(state.secrets.seal(secret.bytes()))),
        status: Set("active".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "shop_channel.created",
        ("channel_account", id.to_string()),
        json!({ "name": name, "orders_land_as": land }),
    )
    .await?;
    txn.commit().await?;
    Ok(ShopChannelOut {
        id,
        name: name.to_owned(),
        secret: secret.expose(),
        orders_land_as: land.to_owned(),
        webhook_path: format!("/webhooks/shop/{id}"),
    })
}

/// `POST /webhooks/shop/{channel_id}`: verify, dedupe by `webhook-id`, parse (422 with the
/// reason, nothing stored), create / update / cancel the order by the shop's id, store the
/// delivery in the same transaction, publish.
pub async fn receive(
    state: &AppState,
    channel_id: Uuid,
    headers: &http::HeaderMap,
    body: &[u8],
) -> AppResult<Value> {
    let db = &state.db.write;
    let acc = channel_account::Entity::find_by_id(channel_id)
        .filter(channel_account::Column::Platform.eq(PLATFORM))
        .one(db)
        .await?
        .filter(|a| a.status != "disabled")
        .ok_or(AppError::NotFound("shop channel"))?;
    let sealed = acc
        .secrets_enc
        .as_deref()
        .ok_or(AppError::NotFound("shop channel"))?;
    let delivery = orders::verify_signed(state, sealed, headers, body)?;
    let key = format!("{channel_id}:{}", delivery.id);
    if orders::seen(db, PLATFORM, &key).await? {
        return Ok(json!({ "status": "duplicate" }));
    }
    let ev = wire::parse(body).map_err(|e| AppError::Detailed {
        status: axum::http::StatusCode::UNPROCESSABLE_ENTITY,
        code: "invalid_order",
        message: e.0.clone(),
        details: json!({ "problems": [{ "field": "body", "message": e.0 }] }),
    })?;
    let Some(ev) = ev else {
        // An event type of theirs we do not act on: acknowledged (once) and ignored.
        let txn = db.begin().await?;
        orders::record_inbound(&txn, PLATFORM, &key, acc.workspace_id, Some(acc.id), body).await?;
        txn.commit().await?;
        return Ok(json!({ "status": "ignored" }));
    };
    let raw: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let land_confirmed = acc
        .settings
        .get("orders_land_as")
        .and_then(Value::as_str)
        .unwrap_or("confirmed")
        == "confirmed";
    let txn = db.begin().await?;
    let (order, frames) = match ev.kind {
        EventType::Cancelled => {
            orders::cancel_shop_order(
                &txn,
                acc.workspace_id,
                acc.id,
                &ev.order.id,
                ev.order.reason.clone(),
            )
            .await?
        }
        EventType::Created | EventType::Updated => {
            let r = ev
                .order
                .recipient
                .clone()
                .expect("parse requires a recipient");
            orders::upsert_shop_order(
                &txn,
                ShopUpsert {
                    ws: acc.workspace_id,
                    channel_id: acc.id,
                    external_id: &ev.order.id,
                    items: ev
                        .order
                        .items
                        .iter()
                        .map(|i| Item {
                            sku: i.sku.clone(),
                            name: i.name.clone(),
                            quantity: i.quantity,
                            unit_price: i.unit_price,
                        })
                        .collect(),
                    name: r.name,
                    phone: r.phone,
                    address: AddressIn {
                        street: Some(r.address.street),
                        ward: Some(r.address.ward),
                        district: r.address.district,
                        province: Some(r.address.province),
                    },
                    shipping_fee: ev.order.shipping_fee,
                    discount: ev.order.discount,
                    cod_amount: ev.order.cod_amount,
                    note: ev.order.note.clone(),
                    raw,
                    platform_status: ev.kind.as_str(),
                    land_confirmed,
                },
            )
            .await?
        }
    };
    if let Err(err) =
        orders::record_inbound(&txn, PLATFORM, &key, acc.workspace_id, Some(acc.id), body).await
    {
        drop(txn);
        if orders::seen(db, PLATFORM, &key).await? {
            return Ok(json!({ "status": "duplicate" }));
        }
        return Err(err.into());
    }
    let mut am: channel_account::ActiveModel = acc.into();
    am.last_event_at = Set(Some(Utc::now()));
    am.update(&txn).await?;
    txn.commit().await?;
    publish(state, frames).await;
    Ok(json!({ "status": "processed", "order_id": order.id, "order_status": order.status }))
}
