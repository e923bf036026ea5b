//! The order API (create, edit, confirm, cancel, fulfillment steps, list, view, a phone's
//! record), the blacklist, and shop channels.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::error::AppResult;
use crate::http::extract::{AppJson, Auth};
use crate::services::blacklist::{
    self, BlacklistFilter, BlacklistIn, EntryOut, LiftIn, PhoneRecord,
};
use crate::services::conversations::Page;
use crate::services::orders::{
    self, CancelIn, ConfirmIn, OrderFilter, OrderIn, OrderOut, OrderPatch, OrderView, StatusIn,
    SuggestionQuery, WardSuggestion,
};
use crate::services::shop::{self, ShopChannelIn, ShopChannelOut};
use crate::state::AppState;

/// Create a draft order (from a conversation, a lead, or neither).
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders", request_body = OrderIn, responses((status = 201, body = OrderView), (status = 404, body = crate::error::ErrorOut)))]
pub async fn create_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(input): AppJson<OrderIn>,
) -> AppResult<(StatusCode, Json<OrderView>)> {
    Ok((
        StatusCode::CREATED,
        Json(orders::create(&s, &p, input).await?),
    ))
}

/// List orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders", params(OrderFilter), responses((status = 200, body = Page<OrderOut>)))]
pub async fn list_orders(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<OrderFilter>,
) -> AppResult<Json<Page<OrderOut>>> {
    Ok(Json(orders::list(&s, &p, f).await?))
}

/// One order with its timeline, the phone's record and the deliveries to fulfillment.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = Uuid, Path)), responses((status = 200, body = OrderView), (status = 404, body = crate::error::ErrorOut)))]
pub async fn get_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
) -> AppResult<Json<OrderView>> {
    Ok(Json(orders::get(&s, &p, id).await?))
}

/// Edit an order while it is editable (draft, confirmed, pushed).
#[utoipa::path(patch, path = "/api/v1/orders/{id}", tag = "orders", params(("id" = Uuid, Path)), request_body = OrderPatch, responses((status = 200, body = OrderView), (status = 422, description = "not editable, or no longer confirmable (`details.problems`)", body = crate::error::ErrorOut)))]
pub async fn update_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(patch): AppJson<OrderPatch>,
) -> AppResult<Json<OrderView>> {
    Ok(Json(orders::update(&s, &p, id, patch).await?))
}

/// Confirm: 422 `not_confirmable` with `details.problems`; 409 `blacklisted` with
/// `details.verdict` unless `blacklist_override_reason` is given.
#[utoipa::path(post, path = "/api/v1/orders/{id}/confirm", tag = "orders", params(("id" = Uuid, Path)), request_body = ConfirmIn, responses((status = 200, body = OrderView), (status = 409, description = "blacklisted, or not a draft", body = crate::error::ErrorOut), (status = 422, description = "problems", body = crate::error::ErrorOut)))]
pub async fn confirm_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<ConfirmIn>,
) -> AppResult<Json<OrderView>> {
    Ok(Json(orders::confirm(&s, &p, id, input).await?))
}

/// Cancel (until shipped).
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders", params(("id" = Uuid, Path)), request_body = CancelIn, responses((status = 200, body = OrderView), (status = 409, body = crate::error::ErrorOut)))]
pub async fn cancel_order(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<CancelIn>,
) -> AppResult<Json<OrderView>> {
    Ok(Json(orders::cancel(&s, &p, id, input).await?))
}

/// A fulfillment step (the packing board): packed, shipped, delivered, returned.
#[utoipa::path(post, path = "/api/v1/orders/{id}/status", tag = "orders", params(("id" = Uuid, Path)), request_body = StatusIn, responses((status = 200, body = OrderView), (status = 409, description = "the state machine forbids it", body = crate::error::ErrorOut)))]
pub async fn set_order_status(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<StatusIn>,
) -> AppResult<Json<OrderView>> {
    Ok(Json(orders::set_status(&s, &p, id, input).await?))
}

/// The phone to look up.
#[derive(Debug, Deserialize, IntoParams)]
pub struct PhoneQuery {
    /// Any Vietnamese mobile form.
    pub phone: String,
}

/// A phone's record: delivered and returned orders, the blacklist verdict.
#[utoipa::path(get, path = "/api/v1/orders/phone-record", tag = "orders", params(PhoneQuery), responses((status = 200, body = PhoneRecord), (status = 400, body = crate::error::ErrorOut)))]
pub async fn phone_record(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<PhoneQuery>,
) -> AppResult<Json<PhoneRecord>> {
    Ok(Json(orders::phone_record(&s, &p, &q.phone).await?))
}

/// Wards already used in this workspace's orders in a province, most used first (at most 50):
/// the order form's suggestions (there is no bundled ward dataset).
#[utoipa::path(get, path = "/api/v1/orders/address-suggestions", tag = "orders", params(SuggestionQuery), responses((status = 200, body = Vec<WardSuggestion>), (status = 400, body = crate::error::ErrorOut)))]
pub async fn address_suggestions(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(q): Query<SuggestionQuery>,
) -> AppResult<Json<Vec<WardSuggestion>>> {
    Ok(Json(
        orders::address_suggestions(&s, &p, &q.province).await?,
    ))
}

/// The blacklist.
#[utoipa::path(get, path = "/api/v1/blacklist", tag = "blacklist", params(BlacklistFilter), responses((status = 200, body = Vec<EntryOut>)))]
pub async fn list_blacklist(
    State(s): State<AppState>,
    Auth(p): Auth,
    Query(f): Query<BlacklistFilter>,
) -> AppResult<Json<Vec<EntryOut>>> {
    Ok(Json(blacklist::list(&s, &p, f).await?))
}

/// Add a phone by hand (400 invalid phone, 409 already active).
#[utoipa::path(post, path = "/api/v1/blacklist", tag = "blacklist", request_body = BlacklistIn, responses((status = 201, body = EntryOut), (status = 409, body = crate::error::ErrorOut)))]
pub async fn add_blacklist(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(input): AppJson<BlacklistIn>,
) -> AppResult<(StatusCode, Json<EntryOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(blacklist::add(&s, &p, input).await?),
    ))
}

/// Lift an entry (logged with who, when and why).
#[utoipa::path(post, path = "/api/v1/blacklist/{id}/lift", tag = "blacklist", params(("id" = Uuid, Path)), request_body = LiftIn, responses((status = 200, body = EntryOut), (status = 409, body = crate::error::ErrorOut)))]
pub async fn lift_blacklist(
    State(s): State<AppState>,
    Auth(p): Auth,
    Path(id): Path<Uuid>,
    AppJson(input): AppJson<LiftIn>,
) -> AppResult<Json<EntryOut>> {
    Ok(Json(blacklist::lift(&s, &p, id, input).await?))
}

/// Create a shop channel; its `whsec_` secret is returned this once.
#[utoipa::path(post, path = "/api/v1/shop-channels", tag = "orders", request_body = ShopChannelIn, responses((status = 201, body = ShopChannelOut)))]
pub async fn create_shop_channel(
    State(s): State<AppState>,
    Auth(p): Auth,
    AppJson(input): AppJson<ShopChannelIn>,
) -> AppResult<(StatusCode, Json<ShopChannelOut>)> {
    Ok((
        StatusCode::CREATED,
        Json(shop::create_channel(&s, &p, input).await?),
    ))
}

/// The routes' OpenAPI part.
#[derive(utoipa::OpenApi)]
#[openapi(paths(
    create_order,
    list_orders,
    get_order,
    update_order,
    confirm_order,
    cancel_order,
    set_order_status,
    phone_record,
    address_suggestions,
    list_blacklist,
    add_blacklist,
    lift_blacklist,
    create_shop_channel,
))]
pub struct Api;

/// Routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orders", get(list_orders).post(create_order))
        .route("/api/v1/orders/phone-record", get(phone_record))
        .route(
            "/api/v1/orders/address-suggestions",
            get(address_suggestions),
        )
        .route("/api/v1/orders/{id}", get(get_order).patch(update_order))
        .route("/api/v1/orders/{id}/confirm", post(confirm_order))
        .route("/api/v1/orders/{id}/cancel", post(cancel_order))
        .route("/api/v1/orders/{id}/status", post(set_order_status))
        .route("/api/v1/blacklist", get(list_blacklist).post(add_blacklist))
        .route("/api/v1/blacklist/{id}/lift", post(lift_blacklist))
        .route("/api/v1/shop-channels", post(create_shop_channel))
}
