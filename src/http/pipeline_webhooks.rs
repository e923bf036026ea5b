//! Signed inbound webhooks of the pipeline: fulfillment's status callback and external shops
//! pushing their orders. Both are Standard Webhooks (`webhook-id`, `webhook-timestamp`,
//! `webhook-signature: v1,…`, ±5 min), verified with the endpoint's / channel's own secret
//! over the raw body, idempotent by `webhook-id`.

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::webhooks::read_body;
use crate::services::{orders, shop};
use crate::state::AppState;

/// Fulfillment's status report (`type` is `order.status`).
#[derive(Serialize, ToSchema)]
pub struct FulfillmentStatusBody {
    /// `order.status`.
    #[serde(rename = "type")]
    #[schema(example = "order.status")]
    pub kind: String,
    /// ISO 8601 time of the event.
    pub timestamp: Option<String>,
    /// The report.
    pub data: FulfillmentStatusData,
}

/// What happened to the parcel.
#[derive(Serialize, ToSchema)]
pub struct FulfillmentStatusData {
    /// tongdai's order id (the `order_id` of the push).
    pub order_id: String,
    /// `packed`, `shipped`, `delivered`, `returned`, or a synonym: ready_to_pick,
    /// ready_to_ship (packed); picked, picked_up, in_transit, transporting, delivering
    /// (shipped); completed (delivered); return, refused, delivery_failed_returned (returned).
    pub status: String,
    /// Carrier tracking code.
    pub tracking_code: Option<String>,
    /// Carrier.
    pub carrier: Option<String>,
    /// Why (returns).
    pub reason: Option<String>,
}

/// An external shop's order event.
#[derive(Serialize, ToSchema)]
pub struct ShopOrderBody {
    /// `order.created`, `order.updated` or `order.cancelled`.
    #[serde(rename = "type")]
    #[schema(example = "order.created")]
    pub kind: String,
    /// ISO 8601 time of the event.
    pub timestamp: Option<String>,
    /// The order.
    pub data: ShopOrderData,
}

/// The shop's order (for `order.cancelled` only `id` and an optional `reason`).
#[derive(Serialize, ToSchema)]
pub struct ShopOrderData {
    /// The shop's order id: a string or an integer. One order per channel and id.
    #[schema(value_type = String, example = "WEB-1001")]
    pub id: serde_json::Value,
    /// At least one line.
    pub items: Vec<ShopOrderItem>,
    /// Who receives it.
    pub recipient: ShopRecipient,
    /// Shipping fee charged to the buyer, integer VND (default 0).
    pub shipping_fee: Option<i64>,
    /// Discount, integer VND (default 0).
    pub discount: Option<i64>,
    /// Cash to collect, integer VND (default: the total).
    pub cod_amount: Option<i64>,
    /// Note for the carrier.
    pub note: Option<String>,
    /// When the shop took the order (ISO 8601).
    pub created_at: Option<String>,
    /// Why it was cancelled (`order.cancelled`).
    pub reason: Option<String>,
}

/// One line of a shop order.
#[derive(Serialize, ToSchema)]
pub struct ShopOrderItem {
    /// SKU.
    pub sku: Option<String>,
    /// Product name.
    pub name: String,
    /// Positive integer.
    pub quantity: i32,
    /// Price of one, integer VND.
    pub unit_price: i64,
}

/// Recipient of a shop order.
#[derive(Serialize, ToSchema)]
pub struct ShopRecipient {
    /// Name.
    pub name: String,
    /// Vietnamese mobile number in any usual form.
    pub phone: String,
    /// Address.
    pub address: ShopAddress,
}

/// Address of a shop order.
#[derive(Serialize, ToSchema)]
pub struct ShopAddress {
    /// House number and street.
    pub street: String,
    /// Ward.
    pub ward: String,
    /// District (optional since the 2025 reform).
    pub district: Option<String>,
    /// Province or city.
    pub province: String,
}

/// Receive fulfillment's signed status report.
#[utoipa::path(post, path = "/webhooks/fulfillment/{endpoint_id}", tag = "webhooks",
    params(("endpoint_id" = Uuid, Path, description = "the fulfillment endpoint"),
           ("webhook-id" = String, Header), ("webhook-timestamp" = i64, Header), ("webhook-signature" = String, Header)),
    request_body = FulfillmentStatusBody,
    responses((status = 200, description = "`{status: processed|duplicate}`"),
              (status = 401, description = "missing_signature, malformed_signature, bad_signature, stale_timestamp", body = crate::error::ErrorOut),
              (status = 404, description = "unknown or disabled endpoint, unknown order", body = crate::error::ErrorOut),
              (status = 409, description = "the order's state machine forbids the change", body = crate::error::ErrorOut)))]
pub async fn fulfillment_callback(
    State(state): State<AppState>,
    Path(endpoint_id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(&state, body).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    match orders::receive_fulfillment(&state, endpoint_id, &headers, &body).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// Receive an external shop's signed order event (schema: `ShopOrderBody`; docs/pipeline.md).
#[utoipa::path(post, path = "/webhooks/shop/{channel_id}", tag = "webhooks",
    params(("channel_id" = Uuid, Path, description = "the shop channel"),
           ("webhook-id" = String, Header), ("webhook-timestamp" = i64, Header), ("webhook-signature" = String, Header)),
    request_body = ShopOrderBody,
    responses((status = 200, description = "`{status: processed|duplicate, order_id, order_status}`"),
              (status = 401, description = "missing_signature, malformed_signature, bad_signature, stale_timestamp", body = crate::error::ErrorOut),
              (status = 404, description = "unknown channel; unknown order for order.cancelled", body = crate::error::ErrorOut),
              (status = 409, description = "the order can no longer change", body = crate::error::ErrorOut),
              (status = 422, description = "invalid body or not confirmable (`details.problems`); nothing stored", body = crate::error::ErrorOut)))]
pub async fn shop_order(
    State(state): State<AppState>,
    Path(channel_id): Path<Uuid>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let body = match read_body(&state, body).await {
        Ok(b) => b,
        Err(res) => return res,
    };
    match shop::receive(&state, channel_id, &headers, &body).await {
        Ok(v) => axum::Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

/// The routes' OpenAPI part.
#[derive(utoipa::OpenApi)]
#[openapi(paths(fulfillment_callback, shop_order))]
pub struct Api;

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/webhooks/fulfillment/{endpoint_id}",
            post(fulfillment_callback),
        )
        .route("/webhooks/shop/{channel_id}", post(shop_order))
        .layer(DefaultBodyLimit::disable())
}
