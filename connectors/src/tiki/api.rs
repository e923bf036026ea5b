//! The Tiki Open API client (`shared/specs/commerce.md` §3): Bearer calls to
//! `{api}/integration/…` and their error mapping, OAuth 2 (consent page, authorization code,
//! refresh, client credentials, the seller behind a grant), orders, and the event queue
//! (create, subscribe, pull) with the [`Poller`] that drives it.
//!
//! Errors by HTTP status: 401 → [`ConnectorError::Unauthorized`], 429 →
//! [`ConnectorError::RateLimited`] (with `Retry-After`), 403 → [`ConnectorError::Forbidden`]
//! with Tiki's reason, 5xx → retryable [`ConnectorError::Api`], other 4xx → non-retryable
//! `Api`. No error message ever contains a token, secret or code.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::wire::{
    ORDER_EVENT_TYPES, PulledBatch, filter_date, id_value, int_value, map_order, parse_time,
    pull_batch, queue_event, seller_external_id,
};
use super::{SCOPES, Tiki};
use crate::commerce::{MarketOrder, OrderIdPage, Orders};
use crate::error::ConnectorError;
use crate::outbound::{AccessToken, OAuthAccount, OAuthCallback, PollPage, TokenSet};
use crate::traits::{OAuth, Poller};
use crate::types::{AccountCtx, HttpCtx};

/// How many order codes one [`Orders::get_orders`] call takes (one request per code).
pub const MAX_ORDER_BATCH: usize = 10;
/// How much of an error answer is kept in an error message.
const SNIPPET_CHARS: usize = 200;
/// OAuth error codes meaning "this grant or client is refused" (RFC 6749 §5.2).
const REFUSED_GRANT_ERRORS: [&str; 3] = ["invalid_grant", "invalid_client", "unauthorized_client"];

/// The consent page URL for an OAuth base. UNVERIFIED (§3.1: the doc's URL is truncated):
/// `{base}/oauth2/auth`, the likely value next to the verified `{base}/oauth2/token`.
pub fn authorize_endpoint(oauth_base: &str) -> String {
    format!("{}/oauth2/auth", oauth_base.trim_end_matches('/'))
}

/// The token endpoint for an OAuth base: `{base}/oauth2/token`.
pub fn token_endpoint(oauth_base: &str) -> String {
    format!("{}/oauth2/token", oauth_base.trim_end_matches('/'))
}

fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "<redacted>");
    }
    out
}

/// `Retry-After` as seconds or an HTTP date (relative to `now`).
pub fn retry_after(value: Option<&str>, now: DateTime<Utc>) -> Option<Duration> {
    let v = value?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?.with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

/// The human part of a Tiki error answer: `error_description`, `message`, `error`
/// (string or `{message}`), or `errors[]`; else a snippet of the body.
fn error_text(body: &[u8]) -> String {
    let snippet = || {
        String::from_utf8_lossy(body)
            .chars()
            .take(SNIPPET_CHARS)
            .collect::<String>()
    };
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return snippet();
    };
    let s = |x: Option<&Value>| x.and_then(Value::as_str).map(str::to_owned);
    s(v.get("error_description"))
        .or_else(|| s(v.get("message")))
        .or_else(|| s(v.get("error").and_then(|e| e.get("message"))))
        .or_else(|| s(v.get("error")))
        .or_else(|| {
            v.get("errors")
                .and_then(Value::as_array)
                .and_then(|a| a.first())
                .and_then(|e| s(Some(e)).or_else(|| s(e.get("message"))))
        })
        .unwrap_or_else(snippet)
}

/// A Tiki error answer → the connector error class (see the module docs). `message` must
/// already be scrubbed of secrets.
pub fn classify_error(
    status: u16,
    retry_after: Option<Duration>,
    message: String,
) -> ConnectorError {
    match status {
        401 => ConnectorError::Unauthorized(message),
        429 => ConnectorError::RateLimited {
            retry_after,
            message,
        },
        403 => ConnectorError::Forbidden {
            code: 403,
            subcode: None,
            message,
        },
        _ => ConnectorError::Api {
            status,
            code: None,
            subcode: None,
            message,
            transient: status >= 500,
        },
    }
}

/// One answer: status, `Retry-After`, body.
struct Answer {
    status: u16,
    retry_after: Option<Duration>,
    body: bytes::Bytes,
}

async fn read(resp: reqwest::Response) -> Result<Answer, ConnectorError> {
    let status = resp.status().as_u16();
    let retry = retry_after(
        resp.headers()
            .get(http::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Utc::now(),
    );
    Ok(Answer {
        status,
        retry_after: retry,
        body: resp.bytes().await?,
    })
}

fn json_of(answer: &Answer, what: &str, secrets: &[&str]) -> Result<Value, ConnectorError> {
    serde_json::from_slice(&answer.body).map_err(|_| {
        let snippet: String = String::from_utf8_lossy(&answer.body)
            .chars()
            .take(SNIPPET_CHARS)
            .collect();
        ConnectorError::Transport(format!(
            "non-JSON answer from Tiki {what}: {}",
            scrub(&snippet, secrets)
        ))
    })
}

/// One Bearer call to `{base}{path}` (GET with a query, or POST with a JSON body).
async fn call(
    cx: &HttpCtx<'_>,
    token: &str,
    post: Option<&Value>,
    path: &str,
    query: &[(&str, String)],
) -> Result<Value, ConnectorError> {
    if token.is_empty() {
        return Err(ConnectorError::Invalid("no Tiki access token".into()));
    }
    let url = format!("{}{}", cx.base_url.trim_end_matches('/'), path);
    let req = match post {
        Some(body) => cx.http.post(&url).json(body),
        None => cx.http.get(&url).query(query),
    };
    let answer = read(req.bearer_auth(token).send().await?).await?;
    let secrets = [token];
    if answer.status >= 400 {
        let message = format!(
            "Tiki {path}: {}",
            scrub(&error_text(&answer.body), &secrets)
        );
        return Err(classify_error(answer.status, answer.retry_after, message));
    }
    json_of(&answer, path, &secrets)
}

/// The object of an answer: the top level, or `data` when it is an object.
fn data(v: &Value) -> &Value {
    match v.get("data") {
        Some(d @ Value::Object(_)) => d,
        _ => v,
    }
}

// ---- OAuth -----------------------------------------------------------------------------------

/// A token answer → [`TokenSet`] (`access_token`, `refresh_token`, `expires_in`,
/// `refresh_token_expires_in` when given; token lifetimes are UNVERIFIED, so `expires_in` is
/// used as sent).
pub fn token_set(answer: &Value) -> Result<TokenSet, ConnectorError> {
    let body = data(answer);
    let access = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            ConnectorError::Transport("Tiki token answer without access_token".into())
        })?;
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
        refresh_expires_in: secs("refresh_token_expires_in").or_else(|| secs("refresh_expires_in")),
        account_ids: Vec::new(),
    })
}

impl Tiki {
    fn credentials(&self) -> Result<(&str, &str), ConnectorError> {
        match (self.cfg.client_id(), self.cfg.client_secret()) {
            (Some(id), Some(secret)) => Ok((id, secret)),
            _ => Err(ConnectorError::Invalid(
                "Tiki client id and secret are not configured".into(),
            )),
        }
    }

    /// `POST {oauth_base}/oauth2/token` as a form with `Authorization: Basic
    /// base64(client_id:client_secret)`. A refused grant or client (401, or 400
    /// `invalid_grant`/`invalid_client`/`unauthorized_client`) is
    /// [`ConnectorError::Unauthorized`].
    async fn token_call(
        &self,
        cx: &HttpCtx<'_>,
        form: &[(&str, &str)],
    ) -> Result<TokenSet, ConnectorError> {
        let (id, secret) = self.credentials()?;
        let resp = cx
            .http
            .post(token_endpoint(cx.base_url))
            .basic_auth(id, Some(secret))
            .form(form)
            .send()
            .await?;
        let answer = read(resp).await?;
        let secrets: Vec<&str> = std::iter::once(secret)
            .chain(
                form.iter()
                    .filter(|(k, _)| matches!(*k, "code" | "refresh_token"))
                    .map(|(_, v)| *v),
            )
            .collect();
        if answer.status >= 400 {
            let code = serde_json::from_slice::<Value>(&answer.body)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            let message = format!(
                "Tiki token endpoint: {}",
                scrub(&error_text(&answer.body), &secrets)
            );
            if answer.status == 400 && REFUSED_GRANT_ERRORS.contains(&code.as_str()) {
                return Err(ConnectorError::Unauthorized(message));
            }
            return Err(classify_error(answer.status, answer.retry_after, message));
        }
        token_set(&json_of(&answer, "token endpoint", &secrets)?)
    }

    /// The app's own token (`grant_type=client_credentials`), which owns event queues.
    /// `cx.base_url` is the OAuth base URL.
    pub async fn client_credentials(&self, cx: &HttpCtx<'_>) -> Result<TokenSet, ConnectorError> {
        self.token_call(cx, &[("grant_type", "client_credentials")])
            .await
    }
}

#[async_trait]
impl OAuth for Tiki {
    /// `{oauth_base}/oauth2/auth?response_type=code&client_id&redirect_uri&scope=offline
    /// order&state` (see [`authorize_endpoint`]). Tiki wants a `state` of 8 characters or more.
    fn authorize_url(
        &self,
        oauth_base: &str,
        redirect_uri: &str,
        state: &str,
        _code_challenge: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let (id, _) = self.credentials()?;
        if state.chars().count() < 8 {
            return Err(ConnectorError::Invalid(
                "Tiki needs an OAuth state of at least 8 characters".into(),
            ));
        }
        let mut url = url::Url::parse(&authorize_endpoint(oauth_base))
            .map_err(|e| ConnectorError::Invalid(format!("bad Tiki OAuth base URL: {e}")))?;
        url.query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", SCOPES)
            .append_pair("state", state);
        Ok(url.into())
    }

    /// `grant_type=authorization_code` with `code`, `redirect_uri`, `client_id`.
    async fn exchange_code(
        &self,
        cx: &HttpCtx<'_>,
        redirect_uri: &str,
        callback: &OAuthCallback,
        _code_verifier: Option<&str>,
    ) -> Result<TokenSet, ConnectorError> {
        let (id, _) = self.credentials()?;
        self.token_call(
            cx,
            &[
                ("grant_type", "authorization_code"),
                ("code", callback.code.as_str()),
                ("redirect_uri", redirect_uri),
                ("client_id", id),
            ],
        )
        .await
    }

    /// `grant_type=refresh_token` with `refresh_token`, `client_id`. Tiki is assumed to
    /// possibly rotate the refresh token (UNVERIFIED): the hub stores the answer's one when
    /// there is one.
    async fn refresh(
        &self,
        cx: &HttpCtx<'_>,
        _account: &str,
        refresh_token: &str,
    ) -> Result<TokenSet, ConnectorError> {
        let (id, _) = self.credentials()?;
        self.token_call(
            cx,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", id),
            ],
        )
        .await
    }

    /// `GET {api}/integration/v2/sellers/me`: one account, its id by [`seller_external_id`],
    /// with the name and logo; `id`, `sid`, `active`, `operation_models` and `live_at` kept as
    /// details.
    async fn accounts(
        &self,
        cx: &HttpCtx<'_>,
        grant: &TokenSet,
    ) -> Result<Vec<OAuthAccount>, ConnectorError> {
        let answer = call(
            cx,
            grant.access_token.expose(),
            None,
            "/integration/v2/sellers/me",
            &[],
        )
        .await?;
        let seller = data(&answer);
        let external_id = seller_external_id(seller).ok_or_else(|| {
            ConnectorError::Transport("Tiki sellers/me answer without id or sid".into())
        })?;
        let s = |k: &str| seller.get(k).and_then(Value::as_str).map(str::to_owned);
        let mut details = serde_json::Map::new();
        for k in ["id", "sid", "active", "operation_models", "live_at"] {
            if let Some(v) = seller.get(k) {
                details.insert(k.to_owned(), v.clone());
            }
        }
        Ok(vec![OAuthAccount {
            external_id,
            name: s("name"),
            picture_url: s("logo").filter(|l| !l.is_empty()),
            details: Value::Object(details),
        }])
    }
}

// ---- orders ----------------------------------------------------------------------------------

#[async_trait]
impl Orders for Tiki {
    /// `GET /integration/v2/orders/{code}` per code; a 404 (unknown code) is left out.
    async fn get_orders(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        ids: &[String],
    ) -> Result<Vec<MarketOrder>, ConnectorError> {
        let mut out = Vec::with_capacity(ids.len());
        for code in ids {
            let path = format!(
                "/integration/v2/orders/{}",
                url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>()
            );
            match call(cx, account.access_token, None, &path, &[]).await {
                Ok(answer) => out.push(map_order(account.external_id, data(&answer))?),
                Err(ConnectorError::Api { status: 404, .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    fn max_batch(&self) -> usize {
        MAX_ORDER_BATCH
    }

    /// `GET /integration/v2/orders?updated_from_date=…&page=…&limit=…` (cursor = the next page
    /// number). Orders whose `updated_at` is at or after `to` are left out of the ids; paging
    /// ends at `paging.last_page`, or when a page is not full if Tiki sends no paging.
    async fn list_updated(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<OrderIdPage, ConnectorError> {
        let page: u32 =
            match cursor {
                None => 1,
                Some(c) => c.parse().ok().filter(|p| *p >= 1).ok_or_else(|| {
                    ConnectorError::Invalid(format!("bad Tiki order cursor {c:?}"))
                })?,
            };
        if from >= to {
            return Ok(OrderIdPage {
                ids: Vec::new(),
                next_cursor: None,
            });
        }
        let answer = call(
            cx,
            account.access_token,
            None,
            "/integration/v2/orders",
            &[
                ("updated_from_date", filter_date(from)),
                ("page", page.to_string()),
                ("limit", self.page_limit.to_string()),
            ],
        )
        .await?;
        let orders = answer
            .get("data")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let ids = orders
            .iter()
            .filter(|o| {
                o.get("updated_at")
                    .and_then(parse_time)
                    .is_none_or(|t| t < to)
            })
            .filter_map(|o| o.get("code").and_then(id_value))
            .collect();
        let last_page = answer
            .get("paging")
            .and_then(|p| p.get("last_page"))
            .and_then(int_value);
        let more = match last_page {
            Some(last) => i64::from(page) < last,
            None => orders.len() >= self.page_limit as usize,
        };
        Ok(OrderIdPage {
            ids,
            next_cursor: more.then(|| (page + 1).to_string()),
        })
    }
}

// ---- event queue -----------------------------------------------------------------------------

/// An event queue, as `POST /integration/v1/queues` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queue {
    /// `code`: the queue's id in every other call.
    pub code: String,
    /// `name`.
    pub name: Option<String>,
    /// `status` (`ACTIVE`).
    pub status: Option<String>,
}

/// A queue subscription, as `POST …/subscriptions` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `code`.
    pub code: Option<String>,
    /// `event_type`.
    pub event_type: String,
    /// `active`.
    pub active: bool,
    /// `sid`: the seller whose events it routes.
    pub sid: Option<String>,
}

fn queue_path(code: &str, rest: &str) -> String {
    format!(
        "/integration/v1/queues/{}{rest}",
        url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>()
    )
}

impl Tiki {
    /// `POST /integration/v1/queues {name}` with the app's own token
    /// ([`Tiki::client_credentials`]): the queue belongs to the app.
    pub async fn create_queue(
        &self,
        cx: &HttpCtx<'_>,
        app_token: &str,
        name: &str,
    ) -> Result<Queue, ConnectorError> {
        let answer = call(
            cx,
            app_token,
            Some(&json!({"name": name})),
            "/integration/v1/queues",
            &[],
        )
        .await?;
        let q = data(&answer);
        Ok(Queue {
            code: q.get("code").and_then(id_value).ok_or_else(|| {
                ConnectorError::Transport("Tiki queue answer without code".into())
            })?,
            name: q.get("name").and_then(id_value),
            status: q.get("status").and_then(id_value),
        })
    }

    /// `POST /integration/v1/queues/{code}/subscriptions {event_type}` with the seller's token
    /// (public app) or the in-house token.
    pub async fn subscribe(
        &self,
        cx: &HttpCtx<'_>,
        token: &str,
        queue_code: &str,
        event_type: &str,
    ) -> Result<Subscription, ConnectorError> {
        let answer = call(
            cx,
            token,
            Some(&json!({"event_type": event_type})),
            &queue_path(queue_code, "/subscriptions"),
            &[],
        )
        .await?;
        let s = data(&answer);
        Ok(Subscription {
            code: s.get("code").and_then(id_value),
            event_type: s
                .get("event_type")
                .and_then(id_value)
                .unwrap_or_else(|| event_type.to_owned()),
            active: s.get("active").and_then(Value::as_bool).unwrap_or(true),
            sid: s.get("sid").and_then(id_value),
        })
    }

    /// Subscribe a seller to `ORDER_CREATED_SUCCESSFULLY` and `ORDER_STATUS_UPDATED`.
    pub async fn subscribe_orders(
        &self,
        cx: &HttpCtx<'_>,
        seller_token: &str,
        queue_code: &str,
    ) -> Result<Vec<Subscription>, ConnectorError> {
        let mut out = Vec::new();
        for t in ORDER_EVENT_TYPES {
            out.push(self.subscribe(cx, seller_token, queue_code, t).await?);
        }
        Ok(out)
    }

    /// `POST /integration/v1/queues/{code}/events/pull {ack_id}`: acknowledges the batch
    /// `ack_id` names (empty for none) and returns the next one (the same one again while it
    /// is not acknowledged). Answer read by [`pull_batch`].
    pub async fn pull(
        &self,
        cx: &HttpCtx<'_>,
        token: &str,
        queue_code: &str,
        ack_id: Option<&str>,
    ) -> Result<PulledBatch, ConnectorError> {
        let answer = call(
            cx,
            token,
            Some(&json!({"ack_id": ack_id.unwrap_or("")})),
            &queue_path(queue_code, "/events/pull"),
            &[],
        )
        .await?;
        pull_batch(&answer)
    }

    /// The first poll state of a queue: `{queue_code, ack_id: null}`.
    pub fn poll_state(queue_code: &str) -> Value {
        json!({"queue_code": queue_code, "ack_id": null})
    }
}

/// A poll state `{queue_code, ack_id}` → its parts; `None` when it has no queue code.
pub fn read_poll_state(state: Option<&Value>) -> Option<(String, Option<String>)> {
    let s = state?;
    let code = s.get("queue_code").and_then(id_value)?;
    Some((code, s.get("ack_id").and_then(id_value)))
}

/// A batch with events but no `ack_id` could never be acknowledged: Tiki would send it again
/// forever while the poller spins on it. That answer is an error (visible on the account)
/// rather than a silent loop; it would mean the UNVERIFIED pull shape is wrong.
pub fn check_ackable(batch: &PulledBatch) -> Result<(), ConnectorError> {
    if !batch.events.is_empty() && batch.ack_id.is_none() {
        return Err(ConnectorError::Transport(
            "Tiki pull answer has events but no ack_id".into(),
        ));
    }
    Ok(())
}

#[async_trait]
impl Poller for Tiki {
    /// Pulls ONE batch, sending the ack id stored in `state` (the previous batch's, which the
    /// hub committed before storing this state), and returns the new batch's events with the
    /// state `{queue_code, ack_id: <this batch's ack id>}`. That ack id goes out only on the
    /// next call: a crash in between redelivers the batch (at least once, in order). Events
    /// name their seller by `sid` (`account.external_id` when missing). `more` = the batch
    /// was not empty. `account.access_token` is the token that owns the queue. A state
    /// without a queue code is [`ConnectorError::Invalid`]: create the queue first
    /// ([`Tiki::create_queue`], [`Tiki::poll_state`]).
    async fn poll(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        state: Option<&Value>,
    ) -> Result<PollPage, ConnectorError> {
        let (queue_code, ack_id) = read_poll_state(state).ok_or_else(|| {
            ConnectorError::Invalid("no Tiki event queue in the poll state".into())
        })?;
        let batch = self
            .pull(cx, account.access_token, &queue_code, ack_id.as_deref())
            .await?;
        check_ackable(&batch)?;
        let events = batch
            .events
            .iter()
            .map(|e| queue_event(e, account.external_id))
            .collect();
        Ok(PollPage {
            events,
            state: json!({"queue_code": queue_code, "ack_id": batch.ack_id}),
            units: 0,
            more: !batch.events.is_empty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiki_authorize_endpoint_is_the_assumed_path() {
        assert_eq!(
            authorize_endpoint("https://api.tiki.vn/sc/"),
            "https://api.tiki.vn/sc/oauth2/auth"
        );
        assert_eq!(
            token_endpoint("https://api.tiki.vn/sc"),
            "https://api.tiki.vn/sc/oauth2/token"
        );
    }

    #[test]
    fn tiki_errors_map_by_status() {
        let m = || "x".to_owned();
        assert!(matches!(
            classify_error(401, None, m()),
            ConnectorError::Unauthorized(_)
        ));
        assert!(matches!(
            classify_error(429, Some(Duration::from_secs(7)), m()),
            ConnectorError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(7)
        ));
        assert!(matches!(
            classify_error(403, None, "no scope".into()),
            ConnectorError::Forbidden { code: 403, message, .. } if message == "no scope"
        ));
        assert!(matches!(
            classify_error(503, None, m()),
            ConnectorError::Api {
                status: 503,
                transient: true,
                ..
            }
        ));
        assert!(matches!(
            classify_error(422, None, m()),
            ConnectorError::Api {
                status: 422,
                transient: false,
                ..
            }
        ));
    }

    #[test]
    fn tiki_retry_after_reads_seconds_and_dates() {
        let now = DateTime::parse_from_rfc3339("2015-10-21T07:28:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(retry_after(Some("30"), now), Some(Duration::from_secs(30)));
        assert_eq!(
            retry_after(Some("Wed, 21 Oct 2015 07:29:00 GMT"), now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(retry_after(Some("soon"), now), None);
        assert_eq!(retry_after(None, now), None);
    }

    #[test]
    fn tiki_error_text_prefers_descriptions() {
        assert_eq!(
            error_text(br#"{"error":"invalid_grant","error_description":"bad code"}"#),
            "bad code"
        );
        assert_eq!(error_text(br#"{"error":{"message":"nope"}}"#), "nope");
        assert_eq!(error_text(br#"{"errors":["first"]}"#), "first");
        assert_eq!(error_text(b"<html>oops"), "<html>oops");
    }

    #[test]
    fn tiki_a_batch_without_ack_id_is_refused() {
        let with_events = pull_batch(&json!({"events": [{"id": 1, "type": "X"}]})).unwrap();
        assert!(matches!(
            check_ackable(&with_events),
            Err(ConnectorError::Transport(_))
        ));
        let empty = pull_batch(&json!({"events": []})).unwrap();
        assert!(check_ackable(&empty).is_ok());
        let acked =
            pull_batch(&json!({"ack_id": "a", "events": [{"id": 1, "type": "X"}]})).unwrap();
        assert!(check_ackable(&acked).is_ok());
    }

    #[test]
    fn tiki_poll_state_round_trips_and_rejects_missing_queue() {
        let s = Tiki::poll_state("q-1");
        assert_eq!(read_poll_state(Some(&s)), Some(("q-1".into(), None)));
        let s = json!({"queue_code": "q-1", "ack_id": "a-9"});
        assert_eq!(
            read_poll_state(Some(&s)),
            Some(("q-1".into(), Some("a-9".into())))
        );
        assert_eq!(read_poll_state(Some(&json!({"ack_id": "a"}))), None);
        assert_eq!(read_poll_state(None), None);
    }
}
