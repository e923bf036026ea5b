//! The Lazada Open Platform API client (`shared/specs/commerce.md` §2.1–2.7): signed GET/POST
//! calls and their error mapping, seller OAuth (consent page, token create / refresh, the
//! seller behind a grant), orders (`/order/get`, `/order/items/get`, `/orders/get` paging) and
//! the IM chat (`/im/session/list`, `/im/message/list`, `/im/message/send`).
//!
//! Every call carries the system parameters of [`super::sign::signed_params`]; no error
//! message ever contains a token, secret or code.

use async_trait::async_trait;
use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeDelta, TimeZone, Utc};
use serde_json::{Value, json};

use super::Lazada;
use super::sign::signed_params;
use super::wire::{epoch_time, id_value, int_value};
use crate::commerce::{
    MarketItem, MarketOrder, MarketRecipient, MarketStatus, OrderIdPage, Orders, parse_dong,
};
use crate::error::ConnectorError;
use crate::outbound::{
    AccessToken, MediaKind, OAuthAccount, OAuthCallback, OutboundContent, OutboundMessage,
    Recipient, Sent, TokenSet, Usage,
};
use crate::traits::{Messaging, OAuth};
use crate::types::{AccountCtx, Attachment, ContactRef, HttpCtx, InboundMessage, NormalizedEvent};

/// Lazada error codes meaning "this token is not accepted": reconnect the seller.
/// `IllegalRefreshToken` is what a refused refresh token is believed to answer (UNVERIFIED).
pub const UNAUTHORIZED_CODES: [&str; 2] = ["IllegalAccessToken", "IllegalRefreshToken"];
/// Lazada error codes meaning "throttled".
pub const RATE_LIMIT_CODES: [&str; 1] = ["AppCallLimit"];
/// Lazada error codes meaning "the app may not call this API for this seller" (the IM API
/// needs an IM app category). Names from §2.2; their exact meaning is UNVERIFIED.
pub const PERMISSION_CODES: [&str; 2] = ["AppNotSubscribed", "InsufficientPermission"];
/// `template_id` of a text IM message (`txt`).
pub const IM_TEMPLATE_TEXT: i64 = 1;
/// `template_id` of an image IM message (`img_url`).
pub const IM_TEMPLATE_IMAGE: i64 = 3;
/// How many order ids one [`Orders::get_orders`] call takes (two API calls per id).
pub const MAX_ORDER_BATCH: usize = 20;
/// How much of a non-JSON answer is kept in an error message.
const SNIPPET_CHARS: usize = 200;
/// Vietnam's offset: Lazada VN writes its times in it, and `/orders/get` filters are sent in it.
const VN_OFFSET_SECONDS: i32 = 7 * 3600;

// ---- calls and errors ----------------------------------------------------------------------

fn vn() -> FixedOffset {
    FixedOffset::east_opt(VN_OFFSET_SECONDS).expect("valid offset")
}

/// `{base}/rest` for an OAuth base given with or without `/rest`.
pub fn token_base(oauth_base: &str) -> String {
    let base = oauth_base.trim_end_matches('/');
    if base.ends_with("/rest") {
        base.to_owned()
    } else {
        format!("{base}/rest")
    }
}

/// `{base}/oauth/authorize` for an OAuth base given with or without `/rest`.
pub fn authorize_endpoint(oauth_base: &str) -> String {
    let base = oauth_base.trim_end_matches('/');
    let base = base.strip_suffix("/rest").unwrap_or(base);
    format!("{base}/oauth/authorize")
}

fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "<redacted>");
    }
    out
}

/// A Lazada error answer → the connector error class (§2.2 error codes).
pub fn classify_error(status: u16, kind: &str, code: &str, message: &str) -> ConnectorError {
    let text = format!("{kind} {code}: {message}").trim().to_owned();
    if UNAUTHORIZED_CODES.contains(&code) {
        ConnectorError::Unauthorized(text)
    } else if RATE_LIMIT_CODES.contains(&code) {
        ConnectorError::RateLimited {
            retry_after: None,
            message: text,
        }
    } else if PERMISSION_CODES.contains(&code) {
        // Lazada's codes are words, not numbers: the word is in the message.
        ConnectorError::Forbidden {
            code: 0,
            subcode: None,
            message: text,
        }
    } else {
        ConnectorError::Api {
            status,
            code: None,
            subcode: None,
            message: text,
            // ISP: the service provider failed; SYSTEM errors and 5xx may pass on retry.
            transient: status >= 500 || kind == "ISP" || kind == "SYSTEM",
        }
    }
}

/// Whether an envelope's `code` says success (`"0"`, or `0`).
fn is_success(v: &Value) -> bool {
    match v.get("code") {
        Some(Value::String(s)) => s == "0",
        Some(Value::Number(n)) => n.as_i64() == Some(0),
        // The spec lists the token answer's fields without `code` (UNVERIFIED whether Lazada
        // always adds it): an answer carrying an access token counts as success.
        None => v.get("access_token").is_some(),
        _ => false,
    }
}

/// One signed call.
struct Call<'a> {
    cx: &'a HttpCtx<'a>,
    base: String,
    app_key: &'a str,
    app_secret: &'a str,
    access_token: Option<&'a str>,
}

impl<'a> Call<'a> {
    fn new(
        lz: &'a Lazada,
        cx: &'a HttpCtx<'a>,
        base: String,
        access_token: Option<&'a str>,
    ) -> Result<Self, ConnectorError> {
        let (Some(app_key), Some(app_secret)) = (lz.cfg.app_key(), lz.cfg.app_secret()) else {
            return Err(ConnectorError::Invalid(
                "Lazada app key and secret are not configured".into(),
            ));
        };
        if access_token.is_some_and(str::is_empty) {
            return Err(ConnectorError::Invalid("no Lazada access token".into()));
        }
        Ok(Call {
            cx,
            base,
            app_key,
            app_secret,
            access_token,
        })
    }

    async fn get(&self, api: &str, params: &[(&str, String)]) -> Result<Value, ConnectorError> {
        self.send(false, api, params, None).await
    }

    async fn post(
        &self,
        api: &str,
        params: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, ConnectorError> {
        self.send(true, api, params, idempotency_key).await
    }

    async fn send(
        &self,
        post: bool,
        api: &str,
        params: &[(&str, String)],
        idempotency_key: Option<&str>,
    ) -> Result<Value, ConnectorError> {
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let all = signed_params(
            self.app_key,
            self.app_secret,
            api,
            self.access_token,
            Utc::now().timestamp_millis(),
            &owned,
        );
        let url = format!("{}{}", self.base.trim_end_matches('/'), api);
        let mut req = if post {
            self.cx.http.post(&url).form(&all)
        } else {
            self.cx.http.get(&url).query(&all)
        };
        if let Some(key) = idempotency_key {
            req = req.header(crate::facebook::IDEMPOTENCY_HEADER, key);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let secrets: Vec<&str> = [Some(self.app_secret), self.access_token]
            .into_iter()
            .flatten()
            .chain(
                params
                    .iter()
                    .filter(|(k, _)| is_secret_param(k))
                    .map(|(_, v)| v.as_str()),
            )
            .collect();
        let Ok(v) = serde_json::from_slice::<Value>(&bytes) else {
            let snippet: String = String::from_utf8_lossy(&bytes)
                .chars()
                .take(SNIPPET_CHARS)
                .collect();
            let message = format!(
                "non-JSON answer from Lazada {api}: {}",
                scrub(&snippet, &secrets)
            );
            return Err(if status >= 500 {
                ConnectorError::Api {
                    status,
                    code: None,
                    subcode: None,
                    message,
                    transient: true,
                }
            } else {
                ConnectorError::Transport(message)
            });
        };
        if is_success(&v) && status < 400 {
            return Ok(v);
        }
        let text = |k: &str| match v.get(k) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        Err(classify_error(
            status,
            &text("type"),
            &text("code"),
            &scrub(&text("message"), &secrets),
        ))
    }
}

fn is_secret_param(name: &str) -> bool {
    matches!(name, "code" | "refresh_token" | "access_token")
}

// ---- OAuth -----------------------------------------------------------------------------------

/// A token answer (create or refresh) → [`TokenSet`]; the fields sit at the top level or
/// under `data` depending on the gateway, both are read. Sellers come from
/// `country_user_info[].seller_id`.
pub fn token_set(answer: &Value) -> Result<TokenSet, ConnectorError> {
    let body = match answer.get("data") {
        Some(d) if d.get("access_token").is_some() => d,
        _ => answer,
    };
    let access = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ConnectorError::Transport("Lazada token answer without access_token".into())
        })?;
    let mut account_ids: Vec<String> = Vec::new();
    for info in body
        .get("country_user_info")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = info.get("seller_id").and_then(id_value)
            && !account_ids.contains(&id)
        {
            account_ids.push(id);
        }
    }
    let secs = |k: &str| {
        body.get(k)
            .and_then(int_value)
            .and_then(|n| u64::try_from(n).ok())
    };
    Ok(TokenSet {
        access_token: AccessToken::new(access),
        refresh_token: body
            .get("refresh_token")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(AccessToken::new),
        expires_in: secs("expires_in"),
        refresh_expires_in: secs("refresh_expires_in"),
        account_ids,
    })
}

impl Lazada {
    async fn token_call(
        &self,
        cx: &HttpCtx<'_>,
        api: &str,
        params: &[(&str, String)],
    ) -> Result<TokenSet, ConnectorError> {
        let call = Call::new(self, cx, token_base(cx.base_url), None)?;
        let answer = call.post(api, params, None).await?;
        token_set(&answer)
    }
}

#[async_trait]
impl OAuth for Lazada {
    /// `{oauth_base}/oauth/authorize?response_type=code&force_auth=true&redirect_uri=…&client_id=<app key>&state=…`.
    fn authorize_url(
        &self,
        oauth_base: &str,
        redirect_uri: &str,
        state: &str,
        _code_challenge: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let app_key = self
            .cfg
            .app_key()
            .ok_or_else(|| ConnectorError::Invalid("Lazada app key is not configured".into()))?;
        let mut url = url::Url::parse(&authorize_endpoint(oauth_base))
            .map_err(|e| ConnectorError::Invalid(format!("bad Lazada OAuth base URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("force_auth", "true")
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("client_id", app_key)
            .append_pair("state", state);
        Ok(url.into())
    }

    /// `POST {oauth}/rest/auth/token/create` with `code`, signed without `access_token`.
    async fn exchange_code(
        &self,
        cx: &HttpCtx<'_>,
        _redirect_uri: &str,
        callback: &OAuthCallback,
        _code_verifier: Option<&str>,
    ) -> Result<TokenSet, ConnectorError> {
        if callback.code.is_empty() {
            return Err(ConnectorError::Invalid("no authorization code".into()));
        }
        self.token_call(cx, "/auth/token/create", &[("code", callback.code.clone())])
            .await
    }

    /// `POST {oauth}/rest/auth/token/refresh` with `refresh_token`. Lazada answers a new pair;
    /// the hub stores it before anything else.
    async fn refresh(
        &self,
        cx: &HttpCtx<'_>,
        _account: &str,
        refresh_token: &str,
    ) -> Result<TokenSet, ConnectorError> {
        if refresh_token.is_empty() {
            return Err(ConnectorError::Unauthorized(
                "no Lazada refresh token".into(),
            ));
        }
        self.token_call(
            cx,
            "/auth/token/refresh",
            &[("refresh_token", refresh_token.to_owned())],
        )
        .await
    }

    /// `GET /seller/get` with the new token: the seller's id, name and short code. When that
    /// call is refused for anything but the token, the sellers the token answer named.
    async fn accounts(
        &self,
        cx: &HttpCtx<'_>,
        grant: &TokenSet,
    ) -> Result<Vec<OAuthAccount>, ConnectorError> {
        let token = grant.access_token.expose();
        let call = Call::new(self, cx, cx.base_url.to_owned(), Some(token))?;
        match call.get("/seller/get", &[]).await {
            Ok(answer) => {
                let data = answer.get("data").cloned().unwrap_or(Value::Null);
                let id = data
                    .get("seller_id")
                    .and_then(id_value)
                    .or_else(|| grant.account_ids.first().cloned())
                    .ok_or_else(|| {
                        ConnectorError::Transport("Lazada /seller/get without seller_id".into())
                    })?;
                let text = |k: &str| {
                    data.get(k)
                        .and_then(Value::as_str)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                };
                Ok(vec![OAuthAccount {
                    external_id: id,
                    name: text("name"),
                    picture_url: text("logo_url"),
                    details: json!({
                        "short_code": text("short_code"),
                        "location": text("location"),
                    }),
                }])
            }
            Err(e) if !e.needs_reconnect() && !grant.account_ids.is_empty() => {
                tracing::warn!(error = %e, "Lazada /seller/get failed; using the token's sellers");
                Ok(grant
                    .account_ids
                    .iter()
                    .map(|id| OAuthAccount {
                        external_id: id.clone(),
                        name: None,
                        picture_url: None,
                        details: json!({}),
                    })
                    .collect())
            }
            Err(e) => Err(e),
        }
    }
}

// ---- orders ----------------------------------------------------------------------------------

/// A Lazada order status → tongdai's. Lazada's "Seller Center ASC statuses" and the legacy
/// ones; `None` for one this table does not know.
pub fn map_status(status: &str) -> Option<MarketStatus> {
    Some(match status.trim().to_ascii_lowercase().as_str() {
        "unpaid" => MarketStatus::Unpaid,
        "pending" | "topack" | "repacked" => MarketStatus::ToShip,
        "packed" | "toship" | "ready_to_ship" | "ready_to_ship_pending" => MarketStatus::Packed,
        "shipped" | "in_transit" => MarketStatus::Shipped,
        "delivered" | "confirmed" => MarketStatus::Delivered,
        "canceled" | "cancelled" => MarketStatus::Cancelled,
        "returned"
        | "failed"
        | "failed_delivery"
        | "shipped_back"
        | "shipped_back_success"
        | "shipped_back_failed"
        | "package_scrapped"
        | "lost_by_3pl"
        | "damaged_by_3pl" => MarketStatus::Returned,
        _ => return None,
    })
}

fn stage(s: MarketStatus) -> u8 {
    match s {
        MarketStatus::Unpaid => 0,
        MarketStatus::ToShip => 1,
        MarketStatus::Packed => 2,
        MarketStatus::Shipped => 3,
        MarketStatus::Delivered => 4,
        MarketStatus::Returned => 5,
        MarketStatus::Cancelled => 6,
    }
}

/// An order's status from its items' statuses (Lazada's `statuses[]`): cancelled only when
/// every known status is; otherwise the least advanced of the others (a partly packed order
/// is still to ship). Unknown statuses are left out; with none known, `ToShip` (the order
/// exists and nothing says it is done).
pub fn order_status(statuses: &[String]) -> MarketStatus {
    let known: Vec<MarketStatus> = statuses.iter().filter_map(|s| map_status(s)).collect();
    if known.is_empty() {
        return MarketStatus::ToShip;
    }
    known
        .iter()
        .copied()
        .filter(|s| *s != MarketStatus::Cancelled)
        .min_by_key(|s| stage(*s))
        .unwrap_or(MarketStatus::Cancelled)
}

/// A Lazada time: `2024-01-01 10:00:00 +0700`, RFC 3339, or epoch seconds/ms. A time without
/// an offset is read as Vietnam time.
pub fn parse_time(v: &Value) -> Option<DateTime<Utc>> {
    if let Some(n) = v.as_i64() {
        return epoch_time(n);
    }
    let s = v.as_str()?.trim();
    if let Ok(t) = DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S %z") {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(n) = s.parse::<i64>() {
        return epoch_time(n);
    }
    let naive = NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()?;
    vn().from_local_datetime(&naive)
        .single()
        .map(|t| t.with_timezone(&Utc))
}

/// A filter time for `/orders/get`: ISO 8601 with Vietnam's offset, to the second.
pub fn filter_time(t: DateTime<Utc>) -> String {
    t.with_timezone(&vn())
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn text_of(v: &Value, k: &str) -> Option<String> {
    match v.get(k) {
        Some(Value::String(s)) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn join_names(a: Option<String>, b: Option<String>) -> Option<String> {
    let name = [a, b].into_iter().flatten().collect::<Vec<_>>().join(" ");
    (!name.is_empty()).then_some(name)
}

/// `address_shipping` → recipient, for Vietnam. UNVERIFIED (§2.6): `address1` is read as the
/// street line (with `address2` appended), `address3` as the province (else `city`),
/// `address4` as the district and `address5` as the ward. Lazada documents none of this for
/// VN; the raw order is kept in [`MarketOrder::raw`] to re-map later.
pub fn vn_recipient(addr: &Value) -> MarketRecipient {
    let street = match (text_of(addr, "address1"), text_of(addr, "address2")) {
        (Some(a), Some(b)) => Some(format!("{a}, {b}")),
        (a, b) => a.or(b),
    };
    MarketRecipient {
        name: join_names(text_of(addr, "first_name"), text_of(addr, "last_name")),
        phone: text_of(addr, "phone").or_else(|| text_of(addr, "phone2")),
        street,
        ward: text_of(addr, "address5"),
        district: text_of(addr, "address4"),
        province: text_of(addr, "address3").or_else(|| text_of(addr, "city")),
    }
}

/// Order items → lines. One Lazada item is one unit (UNVERIFIED, widely reported): items
/// are grouped by SKU (else shop SKU, else name) and unit price, in first-seen order.
/// Cancelled items are left out unless every item is cancelled.
pub fn group_items(items: &[Value]) -> Vec<MarketItem> {
    let cancelled = |i: &Value| {
        i.get("status").and_then(Value::as_str).and_then(map_status)
            == Some(MarketStatus::Cancelled)
    };
    let all_cancelled = !items.is_empty() && items.iter().all(cancelled);
    let mut lines: Vec<MarketItem> = Vec::new();
    for item in items.iter().filter(|i| all_cancelled || !cancelled(i)) {
        let sku = text_of(item, "sku").or_else(|| text_of(item, "shop_sku"));
        let base = text_of(item, "name").unwrap_or_default();
        let name = match text_of(item, "variation") {
            Some(v) if !base.is_empty() => format!("{base} ({v})"),
            Some(v) => v,
            None => base,
        };
        let unit_price = item
            .get("paid_price")
            .and_then(parse_dong)
            .or_else(|| item.get("item_price").and_then(parse_dong))
            .unwrap_or(0);
        let same = |l: &&mut MarketItem| {
            l.unit_price == unit_price
                && match (&l.sku, &sku) {
                    (Some(a), Some(b)) => a == b,
                    (None, None) => l.name == name,
                    _ => false,
                }
        };
        if let Some(line) = lines.iter_mut().find(|l| same(l)) {
            line.quantity += 1;
            continue;
        }
        lines.push(MarketItem {
            item_id: text_of(item, "product_id"),
            sku,
            name,
            quantity: 1,
            unit_price,
        });
    }
    lines
}

/// Totals (UNVERIFIED, §2.6): `price` is the items' total before vouchers, `voucher` the
/// vouchers, `shipping_fee` what the buyer pays for shipping; the buyer pays
/// `price − voucher + shipping_fee`. Returns (shipping, discount, total).
pub fn order_amounts(order: &Value) -> (i64, i64, i64) {
    let money = |k: &str| order.get(k).and_then(parse_dong).unwrap_or(0);
    let shipping = money("shipping_fee");
    let discount = money("voucher").abs();
    let total = (money("price") - discount + shipping).max(0);
    (shipping, discount, total)
}

/// `/order/get` data and `/order/items/get` data → [`MarketOrder`].
pub fn map_order(
    account_id: &str,
    order: &Value,
    items: &[Value],
) -> Result<MarketOrder, ConnectorError> {
    let id = order
        .get("order_id")
        .and_then(id_value)
        .ok_or_else(|| ConnectorError::Transport("Lazada order without order_id".into()))?;
    let statuses: Vec<String> = order
        .get("statuses")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let statuses = if statuses.is_empty() {
        // Fall back to the items' own statuses.
        let mut from_items: Vec<String> = Vec::new();
        for s in items.iter().filter_map(|i| text_of(i, "status")) {
            if !from_items.contains(&s) {
                from_items.push(s);
            }
        }
        from_items
    } else {
        statuses
    };
    let updated_at = order.get("updated_at").and_then(parse_time);
    let created_at = order.get("created_at").and_then(parse_time).or(updated_at);
    let (Some(created_at), updated_at) = (created_at, updated_at) else {
        return Err(ConnectorError::Transport(format!(
            "Lazada order {id} without a readable created_at"
        )));
    };
    let (shipping_fee, discount, total) = order_amounts(order);
    let payment_method = text_of(order, "payment_method");
    let cod = payment_method
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("COD") || p.eq_ignore_ascii_case("CashOnDelivery"));
    let first_item = |k: &str| items.iter().find_map(|i| text_of(i, k));
    Ok(MarketOrder {
        account_external_id: account_id.to_owned(),
        external_id: id,
        platform_status: statuses.join(","),
        status: order_status(&statuses),
        buyer_id: text_of(order, "buyer_id"),
        buyer_name: join_names(
            text_of(order, "customer_first_name"),
            text_of(order, "customer_last_name"),
        ),
        recipient: order
            .get("address_shipping")
            .map(vn_recipient)
            .unwrap_or_default(),
        items: group_items(items),
        shipping_fee,
        discount,
        total,
        cod_amount: if cod { total } else { 0 },
        payment_method,
        carrier: first_item("shipment_provider"),
        tracking_code: first_item("tracking_code"),
        note: text_of(order, "remarks"),
        created_at,
        updated_at: updated_at.unwrap_or(created_at),
        raw: json!({"order": order, "items": items}),
    })
}

/// Where [`Orders::list_updated`] is in a range: the window start (moved forward when the
/// offset cap is reached) and the offset in it. Text form `v1:<start unix seconds>:<offset>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderCursor {
    /// `update_after` of the current window.
    pub start: DateTime<Utc>,
    /// `offset` of the next page.
    pub offset: u32,
}

impl OrderCursor {
    /// The cursor's text.
    pub fn encode(&self) -> String {
        format!("v1:{}:{}", self.start.timestamp(), self.offset)
    }

    /// Read a cursor's text.
    pub fn decode(s: &str) -> Result<Self, ConnectorError> {
        let bad = || ConnectorError::Invalid(format!("not a Lazada order cursor: {s:?}"));
        let mut parts = s.split(':');
        if parts.next() != Some("v1") {
            return Err(bad());
        }
        let start: i64 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let offset: u32 = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(OrderCursor {
            start: DateTime::from_timestamp(start, 0).ok_or_else(bad)?,
            offset,
        })
    }
}

/// The cursor after a page of `/orders/get`: `None` at the end of the range (an empty page;
/// `countTotal` reached; without `countTotal`, a page shorter than `limit`), else the offset
/// after this page's orders, or — when that would pass `max_offset` — a window starting a
/// second before the last order's update time (Lazada's inclusiveness of `update_after` is
/// UNVERIFIED: the overlap re-lists a few ids rather than miss any), always later than the
/// current start.
pub fn next_order_cursor(
    cur: OrderCursor,
    page_len: usize,
    count_total: Option<i64>,
    last_updated: Option<DateTime<Utc>>,
    limit: u32,
    max_offset: u32,
) -> Option<OrderCursor> {
    let seen = i64::from(cur.offset) + page_len as i64;
    let done = match count_total {
        _ if page_len == 0 => true,
        Some(total) => seen >= total,
        None => page_len < limit as usize,
    };
    if done {
        return None;
    }
    let next = u32::try_from(seen).unwrap_or(u32::MAX);
    if next <= max_offset {
        return Some(OrderCursor {
            start: cur.start,
            offset: next,
        });
    }
    let moved = last_updated
        .map(|t| t - TimeDelta::seconds(1))
        .filter(|t| *t > cur.start)
        .unwrap_or(cur.start + TimeDelta::seconds(1));
    if last_updated.is_none_or(|t| t <= cur.start) {
        tracing::warn!(
            "Lazada /orders/get: more than {max_offset} orders updated in one second; some may be skipped"
        );
    }
    Some(OrderCursor {
        start: moved,
        offset: 0,
    })
}

#[async_trait]
impl Orders for Lazada {
    /// `/order/get` and `/order/items/get` per id. An order Lazada answers with empty data is
    /// left out (the answer for an unknown id is UNVERIFIED).
    async fn get_orders(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        ids: &[String],
    ) -> Result<Vec<MarketOrder>, ConnectorError> {
        let call = Call::new(self, cx, cx.base_url.to_owned(), Some(account.access_token))?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let answer = call.get("/order/get", &[("order_id", id.clone())]).await?;
            let order = answer.get("data").cloned().unwrap_or(Value::Null);
            if order.get("order_id").and_then(id_value).is_none() {
                continue;
            }
            let items = call
                .get("/order/items/get", &[("order_id", id.clone())])
                .await?;
            let items = match items.get("data") {
                Some(Value::Array(a)) => a.clone(),
                _ => Vec::new(),
            };
            out.push(map_order(account.external_id, &order, &items)?);
        }
        Ok(out)
    }

    fn max_batch(&self) -> usize {
        MAX_ORDER_BATCH
    }

    /// `/orders/get` by `update_after`/`update_before`, `sort_by=updated_at` ascending,
    /// `limit` 100 and `offset` up to 5000, then a later window (see [`next_order_cursor`]).
    async fn list_updated(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<OrderIdPage, ConnectorError> {
        let cur = match cursor {
            Some(c) => OrderCursor::decode(c)?,
            None => OrderCursor {
                start: from,
                offset: 0,
            },
        };
        if cur.start >= to {
            return Ok(OrderIdPage {
                ids: Vec::new(),
                next_cursor: None,
            });
        }
        let call = Call::new(self, cx, cx.base_url.to_owned(), Some(account.access_token))?;
        let answer = call
            .get(
                "/orders/get",
                &[
                    ("update_after", filter_time(cur.start)),
                    ("update_before", filter_time(to)),
                    ("sort_by", "updated_at".to_owned()),
                    ("sort_direction", "ASC".to_owned()),
                    ("offset", cur.offset.to_string()),
                    ("limit", self.page_limit.to_string()),
                ],
            )
            .await?;
        let data = answer.get("data").cloned().unwrap_or(Value::Null);
        let orders = data
            .get("orders")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ids: Vec<String> = orders
            .iter()
            .filter_map(|o| o.get("order_id").and_then(id_value))
            .collect();
        let last_updated = orders
            .last()
            .and_then(|o| o.get("updated_at"))
            .and_then(parse_time);
        let count_total = data
            .get("countTotal")
            .or_else(|| data.get("count_total"))
            .and_then(int_value);
        let next = next_order_cursor(
            cur,
            orders.len(),
            count_total,
            last_updated,
            self.page_limit,
            self.max_offset,
        )
        .filter(|c| c.start < to);
        Ok(OrderIdPage {
            ids,
            next_cursor: next.map(|c| c.encode()),
        })
    }
}

// ---- IM chat (UNVERIFIED API, §2.7) ----------------------------------------------------------

/// Where to read a session's messages from: `start_time` (ms) and the last message id seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImCursor {
    /// `start_time` of the next `/im/message/list` call, ms.
    pub start_time_ms: i64,
    /// `last_message_id` of the next call.
    pub last_message_id: Option<String>,
}

/// One page of a session's messages.
#[derive(Debug, Clone, PartialEq)]
pub struct ImMessagePage {
    /// Buyer messages as [`NormalizedEvent::MessageReceived`], the seller's as
    /// [`NormalizedEvent::MessageEcho`], in the order Lazada listed them.
    pub events: Vec<NormalizedEvent>,
    /// The next page, when Lazada says there is more.
    pub next: Option<ImCursor>,
}

/// The buyer's id in a session id shaped `<seller user>_2_<buyer>_1_<n>` (as in the type-19
/// sample `100094063_2_1011822749_1_103`, where 2 marks the seller side and 1 the buyer
/// side). UNVERIFIED: only that sample shows the shape.
pub fn buyer_from_session(session_id: &str) -> Option<String> {
    let parts: Vec<&str> = session_id.split('_').collect();
    (0..parts.len().saturating_sub(1))
        .find(|i| parts[i + 1] == "1" && *i > 0 && parts[i - 1] == "2")
        .map(|i| parts[i].to_owned())
        .filter(|s| !s.is_empty())
}

/// One `message_list[]` entry → event. UNVERIFIED shape (§2.7): `from_account_type` 1 = buyer,
/// 2 = seller; `content` is a JSON string (`{"txt": …}` for template 1, an image URL under
/// `img_url`/`imgUrl`/`url` for template 3); `send_time` in ms (or seconds). Other templates
/// become an attachment of kind `lazada_template_<id>` carrying the parsed content. `None`
/// for an entry without id, or from another side than buyer or seller (system notices).
pub fn im_message_event(seller_id: &str, session_id: &str, m: &Value) -> Option<NormalizedEvent> {
    let id = m.get("message_id").and_then(id_value)?;
    let side = m
        .get("from_account_type")
        .and_then(int_value)
        .filter(|s| matches!(s, 1 | 2))?;
    let template = m
        .get("template_id")
        .and_then(int_value)
        .unwrap_or(IM_TEMPLATE_TEXT);
    let content: Value = match m.get("content") {
        Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| json!({"txt": s})),
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Null,
    };
    let mut text = None;
    let mut attachments = Vec::new();
    match template {
        IM_TEMPLATE_TEXT => text = text_of(&content, "txt"),
        IM_TEMPLATE_IMAGE => attachments.push(Attachment {
            kind: "image".into(),
            url: ["img_url", "imgUrl", "url"]
                .iter()
                .find_map(|k| text_of(&content, k)),
            title: None,
            payload: None,
        }),
        other => attachments.push(Attachment {
            kind: format!("lazada_template_{other}"),
            url: None,
            title: None,
            payload: Some(content.clone()),
        }),
    }
    let buyer = match side {
        1 => m.get("from_account_id").and_then(id_value),
        _ => m.get("to_account_id").and_then(id_value),
    }
    .or_else(|| buyer_from_session(session_id))
    .unwrap_or_default();
    let msg = InboundMessage {
        account_external_id: seller_id.to_owned(),
        contact: ContactRef {
            external_id: buyer,
            display_name: None,
        },
        thread_external_id: session_id.to_owned(),
        external_message_id: id,
        sent_at: m
            .get("send_time")
            .and_then(int_value)
            .and_then(epoch_time)
            .unwrap_or(DateTime::UNIX_EPOCH),
        text,
        attachments,
        reply_to: None,
        app_id: None,
        quick_reply: None,
        postback: None,
        referral: None,
        standby: false,
    };
    match side {
        1 => Some(NormalizedEvent::MessageReceived(msg)),
        2 => Some(NormalizedEvent::MessageEcho(msg)),
        _ => None,
    }
}

fn bool_flag(v: Option<&Value>) -> bool {
    match v {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        _ => false,
    }
}

impl Lazada {
    /// One page of a session's messages: `GET /im/message/list` with `session_id`,
    /// `start_time` (ms; now for the first page), `page_size` and `last_message_id`. Meant to
    /// follow a type-19 push ([`NormalizedEvent::ChatChanged`]). UNVERIFIED API (§2.7).
    pub async fn im_messages(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        session_id: &str,
        page_size: u32,
        cursor: Option<&ImCursor>,
    ) -> Result<ImMessagePage, ConnectorError> {
        let call = Call::new(self, cx, cx.base_url.to_owned(), Some(account.access_token))?;
        let start = cursor.map_or_else(|| Utc::now().timestamp_millis(), |c| c.start_time_ms);
        let mut params = vec![
            ("session_id", session_id.to_owned()),
            ("start_time", start.to_string()),
            ("page_size", page_size.max(1).to_string()),
        ];
        if let Some(last) = cursor.and_then(|c| c.last_message_id.clone()) {
            params.push(("last_message_id", last));
        }
        let answer = call.get("/im/message/list", &params).await?;
        let data = answer.get("data").cloned().unwrap_or(Value::Null);
        let events = data
            .get("message_list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|m| im_message_event(account.external_id, session_id, m))
            .collect();
        let next = bool_flag(data.get("has_more"))
            .then(|| {
                Some(ImCursor {
                    start_time_ms: data.get("next_start_time").and_then(int_value)?,
                    last_message_id: data.get("last_message_id").and_then(id_value),
                })
            })
            .flatten();
        Ok(ImMessagePage { events, next })
    }
}

/// One chat session of the seller, as `/im/session/list` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImSession {
    /// `session_id`: the thread id, and the recipient of [`Messaging::send`].
    pub session_id: String,
    /// `buyer_id`.
    pub buyer_id: Option<String>,
    /// `title` (the buyer's display name).
    pub title: Option<String>,
    /// `summary` (the last message, shortened).
    pub summary: Option<String>,
    /// `unread_count`.
    pub unread_count: i64,
    /// `last_message_time`.
    pub last_message_at: Option<DateTime<Utc>>,
}

/// Where to read the session list from: `start_time` (ms) and the last session id seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImSessionCursor {
    /// `start_time` of the next `/im/session/list` call, ms.
    pub start_time_ms: i64,
    /// `last_session_id` of the next call.
    pub last_session_id: Option<String>,
}

/// One page of sessions, most recently active first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImSessionPage {
    /// The sessions.
    pub sessions: Vec<ImSession>,
    /// The next page, when Lazada says there is more.
    pub next: Option<ImSessionCursor>,
}

/// One `session_list[]` entry → [`ImSession`]; `None` without `session_id`. UNVERIFIED
/// shape (§2.7).
pub fn im_session(v: &Value) -> Option<ImSession> {
    Some(ImSession {
        session_id: v.get("session_id").and_then(id_value)?,
        buyer_id: v.get("buyer_id").and_then(id_value),
        title: text_of(v, "title"),
        summary: text_of(v, "summary"),
        unread_count: v.get("unread_count").and_then(int_value).unwrap_or(0),
        last_message_at: v
            .get("last_message_time")
            .and_then(int_value)
            .and_then(epoch_time),
    })
}

impl Lazada {
    /// One page of the seller's chat sessions: `GET /im/session/list` with `start_time` (ms;
    /// now for the first page), `page_size` and `last_session_id` (for a backfill of recent
    /// chats). UNVERIFIED API (§2.7).
    pub async fn im_sessions(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        page_size: u32,
        cursor: Option<&ImSessionCursor>,
    ) -> Result<ImSessionPage, ConnectorError> {
        let call = Call::new(self, cx, cx.base_url.to_owned(), Some(account.access_token))?;
        let start = cursor.map_or_else(|| Utc::now().timestamp_millis(), |c| c.start_time_ms);
        let mut params = vec![
            ("start_time", start.to_string()),
            ("page_size", page_size.max(1).to_string()),
        ];
        if let Some(last) = cursor.and_then(|c| c.last_session_id.clone()) {
            params.push(("last_session_id", last));
        }
        let answer = call.get("/im/session/list", &params).await?;
        let data = answer.get("data").cloned().unwrap_or(Value::Null);
        let sessions = data
            .get("session_list")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(im_session)
            .collect();
        let next = bool_flag(data.get("has_more"))
            .then(|| {
                Some(ImSessionCursor {
                    start_time_ms: data.get("next_start_time").and_then(int_value)?,
                    last_session_id: data.get("last_session_id").and_then(id_value),
                })
            })
            .flatten();
        Ok(ImSessionPage { sessions, next })
    }
}

#[async_trait]
impl Messaging for Lazada {
    /// `POST /im/message/send` to the session named by [`Recipient::User`] (Lazada chats are
    /// sessions, not people): text as template 1 (`txt`), an image as template 3 (`img_url`).
    /// UNVERIFIED API (§2.7); the answer's `data.message_id` is the message id.
    async fn send(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        msg: &OutboundMessage,
    ) -> Result<Sent, ConnectorError> {
        let Recipient::User(session_id) = &msg.recipient else {
            return Err(ConnectorError::Unsupported);
        };
        let mut params = vec![("session_id", session_id.clone())];
        match &msg.content {
            OutboundContent::Text(t) => {
                params.push(("template_id", IM_TEMPLATE_TEXT.to_string()));
                params.push(("txt", t.clone()));
            }
            OutboundContent::Media {
                kind: MediaKind::Image,
                url,
                ..
            } => {
                params.push(("template_id", IM_TEMPLATE_IMAGE.to_string()));
                params.push(("img_url", url.clone()));
            }
            OutboundContent::Media { .. } => return Err(ConnectorError::Unsupported),
        }
        let call = Call::new(self, cx, cx.base_url.to_owned(), Some(account.access_token))?;
        let answer = call
            .post("/im/message/send", &params, msg.idempotency_key.as_deref())
            .await?;
        let id = answer
            .get("data")
            .and_then(|d| d.get("message_id").or_else(|| d.get("msg_id")))
            .and_then(id_value)
            .ok_or_else(|| {
                ConnectorError::Transport(
                    "Lazada /im/message/send answer without message_id".into(),
                )
            })?;
        Ok(Sent {
            external_message_id: id,
            recipient_id: None,
            usage: Usage::default(),
            quota: None,
        })
    }
}
