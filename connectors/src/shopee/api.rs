//! The signed Shopee Open Platform v2 API (`shared/specs/commerce.md` §1.2–1.8): the request
//! envelope and error mapping, OAuth (authorization link, token get and single-use refresh,
//! shop info), orders (detail by `order_sn`, updated-order listing in 15-day windows), lost
//! pushes and seller chat. Every call carries `partner_id`, `timestamp` (seconds) and `sign`;
//! no error message ever carries a token, key or code.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::Method;
use serde_json::{Map, Value, json};
use url::Url;

use super::Shopee;
use super::order::{ListCursor, ceil_seconds, market_order, window};
use super::sign::{self, ApiScope};
use super::wire::{chat_message, id_text, int, text};
use crate::commerce::{MarketOrder, OrderIdPage, Orders};
use crate::error::ConnectorError;
use crate::outbound::{
    AccessToken, MediaKind, OAuthAccount, OAuthCallback, OutboundContent, OutboundMessage,
    Recipient, Sent, TokenSet, Usage,
};
use crate::traits::{Messaging, OAuth};
use crate::types::{AccountCtx, HttpCtx, NormalizedEvent};

/// The authorization page a seller approves the app on.
pub const PATH_AUTH_PARTNER: &str = "/api/v2/shop/auth_partner";
/// Code → tokens.
pub const PATH_TOKEN_GET: &str = "/api/v2/auth/token/get";
/// Refresh token → new tokens (the refresh token is spent).
pub const PATH_TOKEN_REFRESH: &str = "/api/v2/auth/access_token/get";
/// A shop's name and region.
pub const PATH_SHOP_INFO: &str = "/api/v2/shop/get_shop_info";
/// Order ids by time range.
pub const PATH_ORDER_LIST: &str = "/api/v2/order/get_order_list";
/// Orders by `order_sn`.
pub const PATH_ORDER_DETAIL: &str = "/api/v2/order/get_order_detail";
/// Pushes Shopee could not deliver in the last 3 days.
pub const PATH_LOST_PUSH: &str = "/api/v2/push/get_lost_push_message";
/// Mark lost pushes up to an id as handled.
pub const PATH_CONFIRM_LOST_PUSH: &str = "/api/v2/push/confirm_consumed_lost_push_message";
/// Seller chat: send.
pub const PATH_SEND_MESSAGE: &str = "/api/v2/sellerchat/send_message";
/// Seller chat: a conversation's messages.
pub const PATH_GET_MESSAGE: &str = "/api/v2/sellerchat/get_message";

/// The optional order fields [`Orders::get_orders`] asks `get_order_detail` for.
pub const ORDER_DETAIL_FIELDS: &str = "buyer_user_id,buyer_username,estimated_shipping_fee,recipient_address,actual_shipping_fee,note,item_list,pay_time,package_list,shipping_carrier,payment_method,total_amount";
/// Most `order_sn` per `get_order_detail` call.
pub const MAX_ORDER_BATCH: usize = 50;
/// `page_size` of `get_order_list` (Shopee's maximum).
pub const ORDER_LIST_PAGE_SIZE: u32 = 100;
/// Lifetime of a refresh token (documented, not returned by Shopee): 30 days.
pub const REFRESH_TOKEN_SECONDS: u64 = 30 * 86_400;
/// Shopee's day (for the daily call quota `error_limit`) starts at 00:00 UTC+8.
const QUOTA_OFFSET_SECONDS: i64 = 8 * 3_600;
/// How much of a non-JSON answer is kept in an error message.
const SNIPPET_CHARS: usize = 200;
/// The header our sandbox dedupes sends by (Shopee ignores it).
const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

// ---- errors --------------------------------------------------------------------------------

/// How long until Shopee's daily quota resets: the next 00:00 UTC+8 after `now`.
pub fn until_daily_reset(now: DateTime<Utc>) -> Duration {
    let day = 86_400;
    let into_day = (now.timestamp() + QUOTA_OFFSET_SECONDS).rem_euclid(day);
    Duration::from_secs(u64::try_from(day - into_day).unwrap_or(86_400))
}

/// Map a Shopee error answer (HTTP status, `error`, `message`) to a [`ConnectorError`]:
///
/// | `error` | error |
/// |---|---|
/// | `error_auth`, `invalid_access_token`, `error_invalid_access_token`, `shop_no_linked`, or a message about an invalid/expired access token | [`ConnectorError::Unauthorized`] |
/// | `error_rate_limit`, or HTTP 429 | [`ConnectorError::RateLimited`] (no wait given) |
/// | `error_limit` (daily quota) | [`ConnectorError::RateLimited`] until 00:00 UTC+8 |
/// | `error_permission`, `error_not_whitelisted`, or any error or message naming a permission or whitelist | [`ConnectorError::Forbidden`] with the reason |
/// | `error_server`, `error_inner`, `error_busy`, or HTTP ≥ 500 | [`ConnectorError::Api`], transient |
/// | anything else (`error_sign`, `error_param`, …) | [`ConnectorError::Api`], not transient |
pub fn classify(status: u16, error: &str, message: &str, now: DateTime<Utc>) -> ConnectorError {
    let lower_msg = message.to_ascii_lowercase();
    let reason = if message.is_empty() {
        error.to_owned()
    } else {
        format!("{error}: {message}")
    };
    match error {
        "error_auth" | "invalid_access_token" | "error_invalid_access_token" | "shop_no_linked" => {
            return ConnectorError::Unauthorized(reason);
        }
        "error_rate_limit" => {
            return ConnectorError::RateLimited {
                retry_after: None,
                message: reason,
            };
        }
        "error_limit" => {
            return ConnectorError::RateLimited {
                retry_after: Some(until_daily_reset(now)),
                message: reason,
            };
        }
        _ => {}
    }
    if lower_msg.contains("access_token")
        && (lower_msg.contains("invalid") || lower_msg.contains("expired"))
    {
        return ConnectorError::Unauthorized(reason);
    }
    if status == 429 {
        return ConnectorError::RateLimited {
            retry_after: None,
            message: reason,
        };
    }
    let lower_err = error.to_ascii_lowercase();
    if ["permission", "whitelist", "not_allowed"]
        .iter()
        .any(|w| lower_err.contains(w) || lower_msg.contains(w))
    {
        return ConnectorError::Forbidden {
            code: i64::from(status),
            subcode: None,
            message: reason,
        };
    }
    let transient = status >= 500 || matches!(error, "error_server" | "error_inner" | "error_busy");
    ConnectorError::Api {
        status,
        code: None,
        subcode: None,
        message: reason,
        transient,
    }
}

/// Replace every secret in `s` with `<redacted>`.
fn scrub(s: &str, secrets: &[&str]) -> String {
    secrets
        .iter()
        .filter(|x| x.len() >= 4)
        .fold(s.to_owned(), |acc, x| acc.replace(x, "<redacted>"))
}

fn shop_id(external_id: &str) -> Result<u64, ConnectorError> {
    external_id.trim().parse().map_err(|_| {
        ConnectorError::Invalid(format!("Shopee shop id {external_id:?} is not a number"))
    })
}

fn bad_answer(what: &str) -> ConnectorError {
    ConnectorError::Transport(format!("unexpected Shopee answer: {what}"))
}

/// The `response` object of an answer.
fn response(v: &Value) -> Result<&Map<String, Value>, ConnectorError> {
    v.get("response")
        .and_then(Value::as_object)
        .ok_or_else(|| bad_answer("no `response` object"))
}

// ---- transport -----------------------------------------------------------------------------

/// One API call: where, how it is signed, and what it carries.
struct Call<'a> {
    method: Method,
    path: &'static str,
    scope: ApiScope<'a>,
    query: Vec<(&'static str, String)>,
    body: Option<Value>,
    idempotency_key: Option<&'a str>,
}

impl<'a> Call<'a> {
    fn get(path: &'static str, scope: ApiScope<'a>) -> Self {
        Call {
            method: Method::GET,
            path,
            scope,
            query: Vec::new(),
            body: None,
            idempotency_key: None,
        }
    }
    fn post(path: &'static str, scope: ApiScope<'a>, body: Value) -> Self {
        Call {
            method: Method::POST,
            body: Some(body),
            ..Call::get(path, scope)
        }
    }
    fn param(mut self, k: &'static str, v: impl ToString) -> Self {
        self.query.push((k, v.to_string()));
        self
    }
}

impl Shopee {
    fn creds(&self) -> Result<(u64, &str), ConnectorError> {
        match (self.cfg.partner_id, self.cfg.key()) {
            (Some(id), Some(key)) => Ok((id, key)),
            _ => Err(ConnectorError::Invalid(
                "Shopee partner id and partner key are not configured".to_owned(),
            )),
        }
    }

    /// Sign and send `call`, and return the whole answer once its `error` is empty.
    async fn call(
        &self,
        cx: &HttpCtx<'_>,
        call: Call<'_>,
        secrets: &[&str],
    ) -> Result<Value, ConnectorError> {
        let (partner_id, key) = self.creds()?;
        let now = Utc::now();
        let ts = now.timestamp();
        let signature = sign::sign(key, partner_id, call.path, ts, call.scope);
        let mut url = Url::parse(&format!(
            "{}{}",
            cx.base_url.trim_end_matches('/'),
            call.path
        ))
        .map_err(|e| ConnectorError::Invalid(format!("Shopee API URL: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("partner_id", &partner_id.to_string())
                .append_pair("timestamp", &ts.to_string())
                .append_pair("sign", &signature);
            match call.scope {
                ApiScope::Public => {}
                ApiScope::Shop {
                    access_token,
                    shop_id,
                } => {
                    q.append_pair("access_token", access_token)
                        .append_pair("shop_id", &shop_id.to_string());
                }
                ApiScope::Merchant {
                    access_token,
                    merchant_id,
                } => {
                    q.append_pair("access_token", access_token)
                        .append_pair("merchant_id", &merchant_id.to_string());
                }
            }
            for (k, v) in &call.query {
                q.append_pair(k, v);
            }
        }
        let mut req = cx.http.request(call.method, url);
        if let Some(body) = &call.body {
            req = req.json(body);
        }
        if let Some(k) = call.idempotency_key {
            req = req.header(IDEMPOTENCY_HEADER, k);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let mut all_secrets = vec![key];
        all_secrets.extend_from_slice(secrets);
        if let ApiScope::Shop { access_token, .. } | ApiScope::Merchant { access_token, .. } =
            call.scope
        {
            all_secrets.push(access_token);
        }
        let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
            let text = scrub(String::from_utf8_lossy(&bytes).trim(), &all_secrets);
            let snippet: String = text.chars().take(SNIPPET_CHARS).collect();
            if (200..300).contains(&status) {
                return Err(bad_answer("not JSON"));
            }
            return Err(classify(
                status,
                "http_error",
                &format!("HTTP {status}: {snippet}"),
                now,
            ));
        };
        let error = value
            .get("error")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !error.is_empty() || !(200..300).contains(&status) {
            let message = value
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let error = if error.is_empty() {
                "http_error"
            } else {
                error
            };
            return Err(classify(
                status,
                &scrub(error, &all_secrets),
                &scrub(message, &all_secrets),
                now,
            ));
        }
        Ok(value)
    }

    // ---- lost pushes ---------------------------------------------------------------------

    /// The earliest (up to 100) pushes Shopee could not deliver in the last 3 days, each
    /// rebuilt as a push body (`{shop_id, code, timestamp, data}`, `data` as an object) that
    /// [`crate::WebhookInbound::parse`] reads like a live push. Confirm them with
    /// [`Shopee::confirm_lost_pushes`] once stored. `cx.base_url` is the API base URL.
    pub async fn get_lost_pushes(&self, cx: &HttpCtx<'_>) -> Result<LostPushPage, ConnectorError> {
        let v = self
            .call(cx, Call::get(PATH_LOST_PUSH, ApiScope::Public), &[])
            .await?;
        let r = response(&v)?;
        let mut bodies = Vec::new();
        for m in r
            .get("push_message_list")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let Some(m) = m.as_object() else {
                return Err(bad_answer("a lost push is not an object"));
            };
            let mut body = m.clone();
            if let Some(Value::String(s)) = m.get("data")
                && let Ok(data @ Value::Object(_)) = serde_json::from_str::<Value>(s)
            {
                body.insert("data".to_owned(), data);
            }
            let bytes =
                serde_json::to_vec(&Value::Object(body)).map_err(|e| bad_answer(&e.to_string()))?;
            bodies.push(bytes);
        }
        Ok(LostPushPage {
            bodies,
            has_next_page: matches!(r.get("has_next_page"), Some(Value::Bool(true))),
            last_message_id: int(r.get("last_message_id"))
                .and_then(|n| u64::try_from(n).ok())
                .filter(|n| *n > 0),
        })
    }

    /// Tell Shopee every lost push up to `last_message_id` is handled (they are not listed
    /// again).
    pub async fn confirm_lost_pushes(
        &self,
        cx: &HttpCtx<'_>,
        last_message_id: u64,
    ) -> Result<(), ConnectorError> {
        let call = Call::post(
            PATH_CONFIRM_LOST_PUSH,
            ApiScope::Public,
            json!({ "last_message_id": last_message_id }),
        );
        self.call(cx, call, &[]).await.map(|_| ())
    }

    // ---- chat ----------------------------------------------------------------------------

    /// One page of a seller-chat conversation's messages as [`NormalizedEvent::MessageReceived`]
    /// (from the buyer) and [`NormalizedEvent::MessageEcho`] (from the shop), oldest first.
    /// `offset` is `None` first, then the previous page's `next_offset`.
    pub async fn get_messages(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        conversation_id: &str,
        offset: Option<&str>,
        page_size: u32,
    ) -> Result<ChatPage, ConnectorError> {
        let shop = shop_id(account.external_id)?;
        let mut call = Call::get(
            PATH_GET_MESSAGE,
            ApiScope::Shop {
                access_token: account.access_token,
                shop_id: shop,
            },
        )
        .param("conversation_id", conversation_id)
        .param("page_size", page_size.clamp(1, 50));
        if let Some(o) = offset.filter(|o| !o.is_empty()) {
            call = call.param("offset", o);
        }
        let v = self.call(cx, call, &[]).await?;
        let r = response(&v)?;
        let shop_text = shop.to_string();
        let mut events = Vec::new();
        for m in r
            .get("messages")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            let m = m
                .as_object()
                .ok_or_else(|| bad_answer("a message is not an object"))?;
            events.push(chat_message(&shop_text, m, None).map_err(|e| bad_answer(&e.0))?);
        }
        events.sort_by_key(|e| match e {
            NormalizedEvent::MessageReceived(m) | NormalizedEvent::MessageEcho(m) => m.sent_at,
            _ => DateTime::<Utc>::MIN_UTC,
        });
        let page = r.get("page_result").and_then(Value::as_object);
        let more = page.is_some_and(|p| matches!(p.get("has_more"), Some(Value::Bool(true))));
        let next_offset = page
            .and_then(|p| id_text(p.get("next_offset")))
            .filter(|_| more);
        Ok(ChatPage {
            events,
            next_offset,
        })
    }
}

/// What [`Shopee::get_lost_pushes`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostPushPage {
    /// The lost pushes as push bodies, oldest first.
    pub bodies: Vec<Vec<u8>>,
    /// Whether more are waiting (confirm these, then ask again).
    pub has_next_page: bool,
    /// The id to confirm once these are stored; `None` when there were none.
    pub last_message_id: Option<u64>,
}

/// What [`Shopee::get_messages`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatPage {
    /// The messages, oldest first.
    pub events: Vec<NormalizedEvent>,
    /// Pass back for the next (older) page; `None` at the end.
    pub next_offset: Option<String>,
}

// ---- OAuth ---------------------------------------------------------------------------------

fn token_set(v: &Value, known: &[String]) -> Result<TokenSet, ConnectorError> {
    let access = text(v.get("access_token")).ok_or_else(|| bad_answer("no access_token"))?;
    let mut ids: BTreeSet<String> = known.iter().cloned().collect();
    ids.extend(id_text(v.get("shop_id")).filter(|s| s != "0"));
    let mut ordered: Vec<String> = Vec::new();
    for id in v
        .get("shop_id_list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|x| id_text(Some(x)))
        .chain(ids)
    {
        if !ordered.contains(&id) {
            ordered.push(id);
        }
    }
    Ok(TokenSet {
        access_token: AccessToken::new(access),
        refresh_token: text(v.get("refresh_token")).map(AccessToken::new),
        expires_in: int(v.get("expire_in")).and_then(|n| u64::try_from(n).ok()),
        refresh_expires_in: Some(REFRESH_TOKEN_SECONDS),
        account_ids: ordered,
    })
}

#[async_trait]
impl OAuth for Shopee {
    /// `{oauth_base}/api/v2/shop/auth_partner?partner_id&timestamp&sign&redirect=…`. Shopee
    /// does not echo a `state` parameter, so `state` rides inside the redirect URL's query;
    /// Shopee appends `code` and `shop_id` (or `main_account_id`) to it. The link expires
    /// five minutes after its timestamp.
    fn authorize_url(
        &self,
        oauth_base: &str,
        redirect_uri: &str,
        state: &str,
        _code_challenge: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let (partner_id, key) = self.creds()?;
        let mut redirect = Url::parse(redirect_uri)
            .map_err(|e| ConnectorError::Invalid(format!("redirect URI: {e}")))?;
        redirect.query_pairs_mut().append_pair("state", state);
        let ts = Utc::now().timestamp();
        let mut url = Url::parse(&format!(
            "{}{PATH_AUTH_PARTNER}",
            oauth_base.trim_end_matches('/')
        ))
        .map_err(|e| ConnectorError::Invalid(format!("Shopee authorization URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("partner_id", &partner_id.to_string())
            .append_pair("timestamp", &ts.to_string())
            .append_pair(
                "sign",
                &sign::sign(key, partner_id, PATH_AUTH_PARTNER, ts, ApiScope::Public),
            )
            .append_pair("redirect", redirect.as_str());
        Ok(url.into())
    }

    /// `POST /api/v2/auth/token/get` with `{code, shop_id | main_account_id, partner_id}`.
    /// The grant's `account_ids` are the shop of the callback and every `shop_id_list` entry.
    async fn exchange_code(
        &self,
        cx: &HttpCtx<'_>,
        _redirect_uri: &str,
        callback: &OAuthCallback,
        _code_verifier: Option<&str>,
    ) -> Result<TokenSet, ConnectorError> {
        let (partner_id, _) = self.creds()?;
        let number = |k: &str| -> Result<Option<u64>, ConnectorError> {
            callback
                .params
                .get(k)
                .map(|s| {
                    s.trim().parse::<u64>().map_err(|_| {
                        ConnectorError::Invalid(format!("callback `{k}` is not a number"))
                    })
                })
                .transpose()
        };
        let mut body = json!({ "code": callback.code, "partner_id": partner_id });
        let mut known = Vec::new();
        if let Some(shop) = number("shop_id")? {
            body["shop_id"] = json!(shop);
            known.push(shop.to_string());
        } else if let Some(main) = number("main_account_id")? {
            body["main_account_id"] = json!(main);
        } else {
            return Err(ConnectorError::Invalid(
                "the Shopee callback carries neither shop_id nor main_account_id".to_owned(),
            ));
        }
        let v = self
            .call(
                cx,
                Call::post(PATH_TOKEN_GET, ApiScope::Public, body),
                &[&callback.code],
            )
            .await?;
        token_set(&v, &known)
    }

    /// `POST /api/v2/auth/access_token/get` with `{refresh_token, partner_id, shop_id}`: the
    /// answer carries a new refresh token and the old one is spent. Any refusal (used,
    /// expired or unknown refresh token, revoked shop) is [`ConnectorError::Unauthorized`];
    /// throttling, server errors and transport failures keep their class (retry later).
    async fn refresh(
        &self,
        cx: &HttpCtx<'_>,
        account: &str,
        refresh_token: &str,
    ) -> Result<TokenSet, ConnectorError> {
        let (partner_id, _) = self.creds()?;
        let shop = shop_id(account)?;
        let body =
            json!({ "refresh_token": refresh_token, "partner_id": partner_id, "shop_id": shop });
        let v = match self
            .call(
                cx,
                Call::post(PATH_TOKEN_REFRESH, ApiScope::Public, body),
                &[refresh_token],
            )
            .await
        {
            Ok(v) => v,
            Err(e) if e.is_retryable() => return Err(e),
            Err(e @ ConnectorError::Invalid(_)) => return Err(e),
            Err(e) => return Err(ConnectorError::Unauthorized(e.to_string())),
        };
        token_set(&v, &[shop.to_string()])
    }

    /// `GET /api/v2/shop/get_shop_info` for every shop of the grant: name, and region and
    /// status as details.
    async fn accounts(
        &self,
        cx: &HttpCtx<'_>,
        grant: &TokenSet,
    ) -> Result<Vec<OAuthAccount>, ConnectorError> {
        if grant.account_ids.is_empty() {
            return Err(ConnectorError::Invalid(
                "the Shopee grant names no shop".to_owned(),
            ));
        }
        let mut out = Vec::new();
        for id in &grant.account_ids {
            let shop = shop_id(id)?;
            let scope = ApiScope::Shop {
                access_token: grant.access_token.expose(),
                shop_id: shop,
            };
            let v = self.call(cx, Call::get(PATH_SHOP_INFO, scope), &[]).await?;
            // get_shop_info answers at top level; accept a `response` object too.
            let info = v.get("response").filter(|r| r.is_object()).unwrap_or(&v);
            let mut details = Map::new();
            for k in ["region", "status", "auth_time", "expire_time"] {
                if let Some(x) = info.get(k).filter(|x| !x.is_null()) {
                    details.insert(k.to_owned(), x.clone());
                }
            }
            out.push(OAuthAccount {
                external_id: shop.to_string(),
                name: text(info.get("shop_name")),
                picture_url: None,
                details: Value::Object(details),
            });
        }
        Ok(out)
    }
}

// ---- orders --------------------------------------------------------------------------------

#[async_trait]
impl Orders for Shopee {
    async fn get_orders(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        ids: &[String],
    ) -> Result<Vec<MarketOrder>, ConnectorError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if ids.len() > MAX_ORDER_BATCH {
            return Err(ConnectorError::Invalid(format!(
                "at most {MAX_ORDER_BATCH} Shopee orders per call, got {}",
                ids.len()
            )));
        }
        let shop = shop_id(account.external_id)?;
        let call = Call::get(
            PATH_ORDER_DETAIL,
            ApiScope::Shop {
                access_token: account.access_token,
                shop_id: shop,
            },
        )
        .param("order_sn_list", ids.join(","))
        .param("response_optional_fields", ORDER_DETAIL_FIELDS);
        let v = self.call(cx, call, &[]).await?;
        let shop_text = shop.to_string();
        response(&v)?
            .get("order_list")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|o| market_order(&shop_text, o).map_err(|e| bad_answer(&e.0)))
            .collect()
    }

    fn max_batch(&self) -> usize {
        MAX_ORDER_BATCH
    }

    /// `get_order_list` by `update_time`, in windows of at most 15 days (Shopee's limit),
    /// `page_size` 100. The cursor is `<window start>:<Shopee cursor>`; a page may be empty
    /// while the next window is still to be read.
    async fn list_updated(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<OrderIdPage, ConnectorError> {
        let (start, end) = (from.timestamp(), ceil_seconds(to));
        let pos = match cursor {
            None => ListCursor {
                window_start: start,
                shopee_cursor: String::new(),
            },
            Some(c) => ListCursor::decode(c)
                .filter(|c| c.window_start >= start && c.window_start < end)
                .ok_or_else(|| {
                    ConnectorError::Invalid(
                        "not a Shopee order-list cursor for this range".to_owned(),
                    )
                })?,
        };
        if pos.window_start >= end {
            return Ok(OrderIdPage {
                ids: Vec::new(),
                next_cursor: None,
            });
        }
        let (time_from, time_to) = window(pos.window_start, end);
        let shop = shop_id(account.external_id)?;
        let call = Call::get(
            PATH_ORDER_LIST,
            ApiScope::Shop {
                access_token: account.access_token,
                shop_id: shop,
            },
        )
        .param("time_range_field", "update_time")
        .param("time_from", time_from)
        .param("time_to", time_to)
        .param("page_size", ORDER_LIST_PAGE_SIZE)
        .param("cursor", &pos.shopee_cursor);
        let v = self.call(cx, call, &[]).await?;
        let r = response(&v)?;
        let ids = r
            .get("order_list")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter_map(|o| text(o.get("order_sn")))
            .collect();
        let more = matches!(r.get("more"), Some(Value::Bool(true)));
        let next = text(r.get("next_cursor")).or_else(|| id_text(r.get("next_cursor")));
        let next_cursor = match (more, next) {
            (true, Some(c)) => Some(ListCursor {
                window_start: pos.window_start,
                shopee_cursor: c,
            }),
            (true, None) => return Err(bad_answer("`more` without `next_cursor`")),
            (false, _) if time_to + 1 < end => Some(ListCursor {
                window_start: time_to + 1,
                shopee_cursor: String::new(),
            }),
            (false, _) => None,
        };
        Ok(OrderIdPage {
            ids,
            next_cursor: next_cursor.map(|c| c.encode()),
        })
    }
}

// ---- messaging -----------------------------------------------------------------------------

#[async_trait]
impl Messaging for Shopee {
    /// `POST /api/v2/sellerchat/send_message` to the buyer (`to_id`): text, or an image by
    /// URL. Other media, quick replies and private replies to comments are
    /// [`ConnectorError::Unsupported`]. Shopee has no messaging window; the policy is
    /// ignored. A shop not whitelisted for chat is [`ConnectorError::Forbidden`].
    async fn send(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        msg: &OutboundMessage,
    ) -> Result<Sent, ConnectorError> {
        let Recipient::User(buyer) = &msg.recipient else {
            return Err(ConnectorError::Unsupported);
        };
        if !msg.quick_replies.is_empty() {
            return Err(ConnectorError::Unsupported);
        }
        let to_id: u64 = buyer.trim().parse().map_err(|_| {
            ConnectorError::Invalid(format!("Shopee buyer id {buyer:?} is not a number"))
        })?;
        let (kind, content) = match &msg.content {
            OutboundContent::Text(t) => ("text", json!({ "text": t })),
            OutboundContent::Media {
                kind: MediaKind::Image,
                url,
                ..
            } => ("image", json!({ "image_url": url })),
            OutboundContent::Media { .. } => return Err(ConnectorError::Unsupported),
        };
        let shop = shop_id(account.external_id)?;
        let mut call = Call::post(
            PATH_SEND_MESSAGE,
            ApiScope::Shop {
                access_token: account.access_token,
                shop_id: shop,
            },
            json!({ "to_id": to_id, "message_type": kind, "content": content }),
        );
        call.idempotency_key = msg.idempotency_key.as_deref();
        let v = self.call(cx, call, &[]).await?;
        let r = response(&v)?;
        let id = id_text(r.get("message_id")).ok_or_else(|| bad_answer("no message_id"))?;
        Ok(Sent {
            external_message_id: id,
            recipient_id: id_text(r.get("to_id")).or_else(|| Some(to_id.to_string())),
            usage: Usage::default(),
            quota: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn the_daily_quota_resets_at_midnight_utc_plus_eight() {
        // 15:00 UTC is 23:00 UTC+8: one hour to go.
        assert_eq!(
            until_daily_reset(at(2026, 11, 30, 15, 0)),
            Duration::from_secs(3_600)
        );
        // 16:00 UTC is midnight UTC+8: a whole day to the next reset.
        assert_eq!(
            until_daily_reset(at(2026, 11, 30, 16, 0)),
            Duration::from_secs(86_400)
        );
        assert_eq!(
            until_daily_reset(at(2026, 11, 30, 16, 30)),
            Duration::from_secs(86_400 - 1_800)
        );
    }

    #[test]
    fn shopee_errors_map_to_the_hubs_classes() {
        let now = at(2026, 11, 30, 15, 0);
        assert!(matches!(
            classify(403, "error_auth", "Invalid access_token.", now),
            ConnectorError::Unauthorized(_)
        ));
        assert!(matches!(
            classify(200, "invalid_acceess_token", "Invalid access_token", now),
            ConnectorError::Unauthorized(_)
        ));
        assert!(matches!(
            classify(403, "shop_no_linked", "", now),
            ConnectorError::Unauthorized(_)
        ));
        match classify(429, "error_rate_limit", "Too many requests", now) {
            ConnectorError::RateLimited { retry_after, .. } => assert_eq!(retry_after, None),
            e => panic!("{e:?}"),
        }
        match classify(403, "error_limit", "daily limit", now) {
            ConnectorError::RateLimited { retry_after, .. } => {
                assert_eq!(retry_after, Some(Duration::from_secs(3_600)));
            }
            e => panic!("{e:?}"),
        }
        for e in ["error_sign", "error_param"] {
            match classify(403, e, "Wrong sign.", now) {
                ConnectorError::Api {
                    transient, message, ..
                } => {
                    assert!(!transient);
                    assert!(message.starts_with(e));
                }
                other => panic!("{other:?}"),
            }
        }
        match classify(
            403,
            "error_permission",
            "This shop is not in the chat whitelist",
            now,
        ) {
            ConnectorError::Forbidden { message, .. } => assert!(message.contains("whitelist")),
            e => panic!("{e:?}"),
        }
        assert!(matches!(
            classify(500, "error_server", "", now),
            ConnectorError::Api {
                transient: true,
                ..
            }
        ));
        assert!(classify(200, "error_inner", "", now).is_retryable());
        // A proxy's HTML error page: classified by its status alone.
        assert!(classify(502, "http_error", "HTTP 502: <html>", now).is_retryable());
        assert!(matches!(
            classify(429, "http_error", "HTTP 429", now),
            ConnectorError::RateLimited { .. }
        ));
        assert!(!classify(400, "error_data", "", now).is_retryable());
    }

    #[test]
    fn token_answers_name_every_shop_once() {
        let v = json!({"access_token": "a", "refresh_token": "r", "expire_in": 14400,
                       "shop_id_list": [1, "2"], "merchant_id_list": []});
        let t = token_set(&v, &["2".to_owned(), "3".to_owned()]).unwrap();
        assert_eq!(t.account_ids, ["1", "2", "3"]);
        assert_eq!(t.expires_in, Some(14_400));
        assert_eq!(t.refresh_token.unwrap().expose(), "r");
        assert!(token_set(&json!({"access_token": ""}), &[]).is_err());
    }

    #[test]
    fn secrets_are_scrubbed_from_messages() {
        assert_eq!(
            scrub("bad token abcdef!", &["abcdef", "xy"]),
            "bad token <redacted>!"
        );
    }
}
