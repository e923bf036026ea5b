//! The Graph API calls of the Meta connector (`shared/specs/social.md` §2.6–2.9, §3.2): the
//! Send API, comment moderation, Facebook Login and Page subscription, profiles and posts,
//! history listings, and the mapping of Graph errors and usage headers. Every call carries
//! `access_token` and, when the app secret is configured, `appsecret_proof`; no error message
//! ever contains a token, secret or code.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::{Value, json};
use url::Url;

use super::{Facebook, IDEMPOTENCY_HEADER, appsecret_proof};
use crate::error::ConnectorError;
use crate::outbound::{
    AccessToken, CommentReply, LinkedInstagram, MAX_QUICK_REPLIES, ManagedPage, OutboundContent,
    OutboundMessage, Profile, Recipient, SendPolicy, Sent, Usage, UserToken,
};
use crate::traits::{Comments, Lookup, Messaging, MetaLogin};
use crate::types::{AccountCtx, ContactRef, HttpCtx, Platform, PostRef};

/// The Facebook Login dialog in production; pass the sandbox's to test.
pub const DEFAULT_OAUTH_DIALOG: &str = "https://www.facebook.com/v21.0/dialog/oauth";
/// The Page webhook fields tongdai subscribes to (§2.8.5, plus reactions and edits).
pub const PAGE_WEBHOOK_FIELDS: [&str; 9] = [
    "messages",
    "messaging_postbacks",
    "message_echoes",
    "message_deliveries",
    "message_reads",
    "messaging_referrals",
    "message_reactions",
    "message_edits",
    "feed",
];
/// The permissions tongdai asks for in the login dialog: list Pages, message and moderate on
/// Facebook and on linked Instagram accounts.
pub const LOGIN_SCOPES: [&str; 9] = [
    "pages_show_list",
    "pages_messaging",
    "pages_manage_metadata",
    "pages_read_engagement",
    "pages_manage_engagement",
    "business_management",
    "instagram_basic",
    "instagram_manage_messages",
    "instagram_manage_comments",
];
/// The fields of `/me/accounts` that [`MetaLogin::list_pages`] asks for.
pub const PAGE_LIST_FIELDS: &str = "id,name,access_token,category,tasks,instagram_business_account{id,username,name,profile_picture_url}";
/// Meta's app-level usage header: `{"call_count":…,"total_time":…,"total_cputime":…}` in %.
pub const APP_USAGE_HEADER: &str = "X-App-Usage";
/// How long to back off when `X-App-Usage` reports 100% and no header says how long: the app
/// budget is a rolling hour, so a few minutes lets part of it recover.
pub const DEFAULT_APP_USAGE_BACKOFF: Duration = Duration::from_secs(5 * 60);

/// Graph error codes that mean "throttled" (§2.9): app, user, page, custom and application
/// level limits.
pub const RATE_LIMIT_CODES: [i64; 5] = [4, 17, 32, 613, 341];
/// Sub code of code 10 meaning "sent outside of allowed window".
pub const OUTSIDE_WINDOW_SUBCODE: i64 = 2_018_278;
/// How much of a non-JSON error body is kept in the error message.
const ERROR_SNIPPET_CHARS: usize = 200;
/// At most this many result pages are followed in one call (a loop guard).
const MAX_PAGES: usize = 100;

mod history;

// ---- errors and usage ----------------------------------------------------------------------

/// A failed Graph answer, read but not yet classified.
struct Failure {
    status: u16,
    code: Option<i64>,
    subcode: Option<i64>,
    /// Scrubbed, with the `fbtrace_id` appended.
    message: String,
    /// Graph's own `is_transient` flag.
    is_transient: bool,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorObject,
}

#[derive(Deserialize)]
struct ErrorObject {
    #[serde(default)]
    message: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    code: Option<i64>,
    #[serde(default, deserialize_with = "lenient_i64")]
    error_subcode: Option<i64>,
    #[serde(default)]
    is_transient: Option<bool>,
    #[serde(default)]
    fbtrace_id: Option<String>,
}

/// Replace every secret (and its URL-encoded form) in `s` with `<redacted>`.
fn scrub(s: &str, secrets: &[&str]) -> String {
    let mut out = s.to_owned();
    for secret in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(secret, "<redacted>");
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        if encoded != *secret {
            out = out.replace(&encoded, "<redacted>");
        }
    }
    out
}

fn read_failure(status: u16, body: &[u8], secrets: &[&str]) -> Failure {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => {
            let mut message = error
                .message
                .unwrap_or_else(|| "unknown Graph API error".to_owned());
            if let Some(trace) = &error.fbtrace_id {
                message.push_str(&format!(" (fbtrace_id {trace})"));
            }
            Failure {
                status,
                code: error.code,
                subcode: error.error_subcode,
                message: scrub(&message, secrets),
                is_transient: error.is_transient == Some(true),
            }
        }
        Err(_) => {
            // Scrub before truncating, so a token cut in half cannot survive.
            let text = scrub(String::from_utf8_lossy(body).trim(), secrets);
            let snippet: String = text.chars().take(ERROR_SNIPPET_CHARS).collect();
            Failure {
                status,
                code: None,
                subcode: None,
                message: format!("HTTP {status}: {snippet}"),
                is_transient: false,
            }
        }
    }
}

/// Map a failed Graph answer to a [`ConnectorError`] the hub can act on (§2.8.7, §2.9):
///
/// | Graph answer | error |
/// |---|---|
/// | code 190 or 102 (any subcode) | [`ConnectorError::Unauthorized`] |
/// | code 4, 17, 32, 613, 341, or HTTP 429 | [`ConnectorError::RateLimited`] (see [`retry_after`]) |
/// | code 10 subcode 2018278, or code 551 | [`ConnectorError::OutsideWindow`] |
/// | code 10 (other), 200–299 | [`ConnectorError::Forbidden`] |
/// | code 1 or 2, `is_transient`, or HTTP ≥ 500 | [`ConnectorError::Api`], transient |
/// | anything else | [`ConnectorError::Api`], not transient |
///
/// Every string in `secrets` (tokens, app secret, OAuth code) is scrubbed from the message.
pub fn classify_error(
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    secrets: &[&str],
) -> ConnectorError {
    let f = read_failure(status, body, secrets);
    match (f.code, f.subcode) {
        (Some(190 | 102), _) => return ConnectorError::Unauthorized(f.message),
        (Some(code), _) if RATE_LIMIT_CODES.contains(&code) => {
            return rate_limited(headers, f.message);
        }
        _ if status == 429 => return rate_limited(headers, f.message),
        (Some(10), Some(OUTSIDE_WINDOW_SUBCODE)) | (Some(551), _) => {
            return ConnectorError::OutsideWindow(f.message);
        }
        (Some(code @ (10 | 200..=299)), subcode) => {
            return ConnectorError::Forbidden {
                code,
                subcode,
                message: f.message,
            };
        }
        _ => {}
    }
    api_error(f)
}

fn rate_limited(headers: &HeaderMap, message: String) -> ConnectorError {
    ConnectorError::RateLimited {
        retry_after: retry_after(headers),
        message,
    }
}

fn api_error(f: Failure) -> ConnectorError {
    ConnectorError::Api {
        transient: f.is_transient || matches!(f.code, Some(1 | 2)) || f.status >= 500,
        status: f.status,
        code: f.code,
        subcode: f.subcode,
        message: f.message,
    }
}

/// How long Meta asks us to wait: the largest `estimated_time_to_regain_access` (minutes) in
/// `X-Business-Use-Case-Usage`, else a `Retry-After` in seconds, else
/// [`DEFAULT_APP_USAGE_BACKOFF`] when `X-App-Usage` reports a budget at 100%. `None` when
/// nothing says.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    if let Some(d) = parse_usage(headers).regain_after {
        return Some(d);
    }
    let retry = headers
        .get(http::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .filter(|s| *s > 0)
        .map(Duration::from_secs);
    if retry.is_some() {
        return retry;
    }
    let app = header_json(headers, APP_USAGE_HEADER)?;
    let spent = ["call_count", "total_time", "total_cputime"]
        .into_iter()
        .filter_map(|k| app.get(k).and_then(number))
        .any(|pct| pct >= 100.0);
    spent.then_some(DEFAULT_APP_USAGE_BACKOFF)
}

/// The usage Meta reports in `X-App-Usage` and `X-Business-Use-Case-Usage`. Absent or
/// unreadable headers leave the fields `None`.
pub fn parse_usage(headers: &HeaderMap) -> Usage {
    let app_call_pct =
        header_json(headers, APP_USAGE_HEADER).and_then(|v| v.get("call_count").and_then(number));
    let buc = header_json(headers, super::BUC_USAGE_HEADER);
    let regain_after = buc
        .as_ref()
        .and_then(|v| max_key(v, "estimated_time_to_regain_access"))
        .filter(|m| *m > 0.0)
        .map(|minutes| Duration::from_secs_f64(minutes * 60.0));
    Usage {
        app_call_pct,
        buc: buc.as_ref().and_then(|v| max_key(v, "call_count")),
        regain_after,
    }
}

fn header_json(headers: &HeaderMap, name: &str) -> Option<Value> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
}

fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1.0e6)
}

/// The largest numeric `key` anywhere in `v`, however nested.
fn max_key(v: &Value, key: &str) -> Option<f64> {
    let own = v.as_object().and_then(|m| m.get(key)).and_then(number);
    let nested: Box<dyn Iterator<Item = &Value>> = match v {
        Value::Object(map) => Box::new(map.values()),
        Value::Array(items) => Box::new(items.iter()),
        _ => Box::new(std::iter::empty()),
    };
    nested
        .filter_map(|child| max_key(child, key))
        .chain(own)
        .reduce(f64::max)
}

// ---- the call plumbing ---------------------------------------------------------------------

/// One Graph API caller: where, with which token, and what to scrub from errors.
struct Graph<'a> {
    cx: &'a HttpCtx<'a>,
    /// Sent as `access_token` unless empty.
    token: &'a str,
    app_secret: Option<&'a str>,
    /// Everything that must never appear in an error (the token included).
    secrets: Vec<&'a str>,
}

impl<'a> Graph<'a> {
    fn new(cx: &'a HttpCtx<'a>, token: &'a str, app_secret: Option<&'a str>) -> Self {
        let mut secrets = vec![token];
        secrets.extend(app_secret);
        Graph {
            cx,
            token,
            app_secret,
            secrets,
        }
    }

    /// `{base}/{segments…}?{params…}&access_token=…&appsecret_proof=…`; each segment is
    /// percent-encoded.
    fn url(&self, segments: &[&str], params: &[(&str, &str)]) -> Result<Url, ConnectorError> {
        let mut url = Url::parse(self.cx.base_url)
            .map_err(|e| ConnectorError::Invalid(format!("bad Graph API base URL: {e}")))?;
        url.path_segments_mut()
            .map_err(|()| ConnectorError::Invalid("Graph API base URL cannot have a path".into()))?
            .pop_if_empty()
            .extend(segments);
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in params {
                q.append_pair(k, v);
            }
            if !self.token.is_empty() {
                q.append_pair("access_token", self.token);
                if let Some(secret) = self.app_secret {
                    q.append_pair("appsecret_proof", &appsecret_proof(secret, self.token));
                }
            }
        }
        Ok(url)
    }

    /// Send `req` and read a JSON answer of type `T`, with the usage headers.
    async fn call<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
    ) -> Result<(T, Usage), ConnectorError> {
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        tracing::debug!(status, call = what, "graph api answered");
        if !(200..300).contains(&status) {
            return Err(classify_error(status, &headers, &bytes, &self.secrets));
        }
        let parsed = serde_json::from_slice::<T>(&bytes).map_err(|e| {
            ConnectorError::Transport(format!(
                "{what} answered {status} with unexpected JSON: {e}"
            ))
        })?;
        Ok((parsed, parse_usage(&headers)))
    }

    async fn get<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        params: &[(&str, &str)],
        what: &str,
    ) -> Result<(T, Usage), ConnectorError> {
        let url = self.url(segments, params)?;
        self.call(self.cx.http.get(url), what).await
    }

    /// POST with form parameters in the body (as Graph's own SDKs do).
    async fn post_form<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        form: &[(&str, &str)],
        what: &str,
    ) -> Result<(T, Usage), ConnectorError> {
        let url = self.url(segments, &[])?;
        self.call(self.cx.http.post(url).form(form), what).await
    }

    async fn delete<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        what: &str,
    ) -> Result<(T, Usage), ConnectorError> {
        let url = self.url(segments, &[])?;
        self.call(self.cx.http.delete(url), what).await
    }
}

/// `{"success": true}`: anything else is an error (the platform did not do it).
#[derive(Deserialize)]
struct SuccessAnswer {
    #[serde(default)]
    success: Option<bool>,
}

fn expect_success(answer: SuccessAnswer, what: &str) -> Result<(), ConnectorError> {
    if answer.success == Some(true) {
        Ok(())
    } else {
        Err(ConnectorError::Api {
            status: 200,
            code: None,
            subcode: None,
            message: format!("{what} answered without \"success\": true"),
            transient: false,
        })
    }
}

fn require(value: &str, what: &str) -> Result<(), ConnectorError> {
    if value.trim().is_empty() {
        Err(ConnectorError::Invalid(format!("no {what}")))
    } else {
        Ok(())
    }
}

/// Ids arrive as JSON strings or numbers.
fn lenient_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::String(s)) if !s.is_empty() => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

/// Graph times: `2024-06-10T06:13:20+0000` (no colon in the offset), RFC 3339, or epoch
/// seconds.
pub fn parse_graph_time(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%z")
            .or_else(|_| DateTime::parse_from_rfc3339(s))
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n
            .as_i64()
            .and_then(|secs| DateTime::from_timestamp(secs, 0)),
        _ => None,
    }
}

fn lenient_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    Ok(Option::<Value>::deserialize(d)?.and_then(|v| parse_graph_time(&v)))
}

#[derive(Deserialize, Default)]
struct Cursors {
    #[serde(default)]
    after: Option<String>,
}

#[derive(Deserialize, Default)]
struct Paging {
    #[serde(default)]
    cursors: Option<Cursors>,
    #[serde(default)]
    next: Option<String>,
}

impl Paging {
    /// The `after` cursor, only when Graph says there is a next page.
    fn next_cursor(&self) -> Option<String> {
        self.next.as_ref()?;
        self.cursors
            .as_ref()
            .and_then(|c| c.after.clone())
            .filter(|c| !c.is_empty())
    }
}

/// A Graph list: `{"data": […], "paging": {…}}`.
#[derive(Deserialize)]
struct List<T> {
    #[serde(default = "Vec::new")]
    data: Vec<T>,
    #[serde(default)]
    paging: Option<Paging>,
}

impl<T> Default for List<T> {
    fn default() -> Self {
        List {
            data: Vec::new(),
            paging: None,
        }
    }
}

impl<T> List<T> {
    fn next_cursor(&self) -> Option<String> {
        self.paging.as_ref().and_then(Paging::next_cursor)
    }
}

/// `from` / participant / `to` entry.
#[derive(Deserialize, Default, Clone)]
struct Party {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    username: Option<String>,
}

impl Party {
    fn contact(&self) -> Option<ContactRef> {
        self.id.clone().map(|external_id| ContactRef {
            external_id,
            display_name: self.name.clone().or_else(|| self.username.clone()),
        })
    }
}

// ---- 1. the Send API -----------------------------------------------------------------------

#[derive(Deserialize)]
struct SendAnswer {
    #[serde(default, deserialize_with = "lenient_id")]
    recipient_id: Option<String>,
    #[serde(default, deserialize_with = "lenient_id")]
    message_id: Option<String>,
}

/// The Send API JSON body for `msg` (§2.6).
fn send_body(msg: &OutboundMessage) -> Result<Value, ConnectorError> {
    let recipient = match &msg.recipient {
        Recipient::User(id) => {
            require(id, "recipient id")?;
            json!({ "id": id })
        }
        Recipient::Comment(id) => {
            require(id, "comment id for the private reply")?;
            if msg.policy == SendPolicy::HumanAgent {
                return Err(ConnectorError::Invalid(
                    "a private reply cannot be sent with the human-agent tag".into(),
                ));
            }
            json!({ "comment_id": id })
        }
    };
    let mut message = match &msg.content {
        OutboundContent::Text(text) => {
            require(text, "message text")?;
            json!({ "text": text })
        }
        OutboundContent::Media {
            kind,
            url,
            is_reusable,
        } => {
            let parsed = Url::parse(url)
                .map_err(|e| ConnectorError::Invalid(format!("bad attachment URL: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConnectorError::Invalid(
                    "attachment URL must be http or https".into(),
                ));
            }
            let mut payload = json!({ "url": url });
            if *is_reusable {
                payload["is_reusable"] = true.into();
            }
            json!({ "attachment": { "type": kind.as_str(), "payload": payload } })
        }
    };
    if !msg.quick_replies.is_empty() {
        if msg.quick_replies.len() > MAX_QUICK_REPLIES {
            return Err(ConnectorError::Invalid(format!(
                "{} quick replies; at most {MAX_QUICK_REPLIES} are allowed",
                msg.quick_replies.len()
            )));
        }
        let mut buttons = Vec::with_capacity(msg.quick_replies.len());
        for b in &msg.quick_replies {
            require(&b.title, "quick reply title")?;
            require(&b.payload, "quick reply payload")?;
            buttons.push(json!({"content_type": "text", "title": b.title, "payload": b.payload}));
        }
        message["quick_replies"] = Value::Array(buttons);
    }
    let mut body = json!({ "recipient": recipient, "message": message });
    match msg.policy {
        SendPolicy::Standard => body["messaging_type"] = "RESPONSE".into(),
        SendPolicy::HumanAgent => {
            // Outside the 24 h window only a human agent's reply may go out, tagged (§2.6).
            body["messaging_type"] = "MESSAGE_TAG".into();
            body["tag"] = "HUMAN_AGENT".into();
        }
    }
    Ok(body)
}

#[async_trait]
impl Messaging for Facebook {
    async fn send(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        msg: &OutboundMessage,
    ) -> Result<Sent, ConnectorError> {
        require(account.access_token, "Page access token")?;
        require(account.external_id, "account id")?;
        let body = send_body(msg)?;
        let graph = Graph::new(cx, account.access_token, self.app_secret());
        // Instagram with Facebook Login sends through the Page token's own node (§3.2).
        let node = match self.platform {
            Platform::Instagram => "me",
            _ => account.external_id,
        };
        let url = graph.url(&[node, "messages"], &[])?;
        let mut req = cx.http.post(url).json(&body);
        if let Some(key) = msg.idempotency_key.as_deref() {
            req = req.header(IDEMPOTENCY_HEADER, key);
        }
        let (answer, usage): (SendAnswer, Usage) = graph.call(req, "Send API").await?;
        match answer.message_id {
            Some(id) => Ok(Sent {
                external_message_id: id,
                recipient_id: answer.recipient_id,
                usage,
                quota: None,
            }),
            // The message may have gone out: not retryable, or the customer could get it twice.
            None => Err(ConnectorError::Api {
                status: 200,
                code: None,
                subcode: None,
                message: "Send API answered without message_id".into(),
                transient: false,
            }),
        }
    }
}

// ---- 2. comments ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct IdAnswer {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
}

#[async_trait]
impl Comments for Facebook {
    async fn reply_to_comment(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        comment_id: &str,
        text: &str,
    ) -> Result<CommentReply, ConnectorError> {
        require(account.access_token, "access token")?;
        require(comment_id, "comment id")?;
        require(text, "reply text")?;
        let graph = Graph::new(cx, account.access_token, self.app_secret());
        let edge = match self.platform {
            Platform::Instagram => "replies",
            _ => "comments",
        };
        let (answer, usage): (IdAnswer, Usage) = graph
            .post_form(&[comment_id, edge], &[("message", text)], "comment reply")
            .await?;
        let id = answer.id.ok_or_else(|| ConnectorError::Api {
            status: 200,
            code: None,
            subcode: None,
            message: "comment reply answered without id".into(),
            transient: false,
        })?;
        Ok(CommentReply {
            external_comment_id: id,
            usage,
        })
    }

    async fn set_comment_hidden(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        comment_id: &str,
        hidden: bool,
    ) -> Result<(), ConnectorError> {
        require(account.access_token, "access token")?;
        require(comment_id, "comment id")?;
        let graph = Graph::new(cx, account.access_token, self.app_secret());
        // Facebook calls the flag `is_hidden`, Instagram `hide`.
        let param = match self.platform {
            Platform::Instagram => "hide",
            _ => "is_hidden",
        };
        let value = if hidden { "true" } else { "false" };
        let (answer, _): (SuccessAnswer, Usage) = graph
            .post_form(&[comment_id], &[(param, value)], "comment hide")
            .await?;
        expect_success(answer, "comment hide")
    }

    async fn delete_comment(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        comment_id: &str,
    ) -> Result<(), ConnectorError> {
        require(account.access_token, "access token")?;
        require(comment_id, "comment id")?;
        let graph = Graph::new(cx, account.access_token, self.app_secret());
        let (answer, _): (SuccessAnswer, Usage) =
            graph.delete(&[comment_id], "comment delete").await?;
        expect_success(answer, "comment delete")
    }
}

// ---- 4. Facebook Login ---------------------------------------------------------------------

/// The login dialog URL: `{oauth_base}?client_id&redirect_uri&state&response_type=code&scope`
/// (scopes comma-separated; omitted when empty).
pub fn authorize_url(
    oauth_base: &str,
    app_id: &str,
    redirect_uri: &str,
    state: &str,
    scopes: &[&str],
) -> Result<String, ConnectorError> {
    require(app_id, "app id")?;
    require(state, "OAuth state")?;
    Url::parse(redirect_uri)
        .map_err(|e| ConnectorError::Invalid(format!("bad redirect URI: {e}")))?;
    let mut url = Url::parse(oauth_base)
        .map_err(|e| ConnectorError::Invalid(format!("bad OAuth dialog URL: {e}")))?;
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", app_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("state", state)
            .append_pair("response_type", "code");
        if !scopes.is_empty() {
            q.append_pair("scope", &scopes.join(","));
        }
    }
    Ok(url.into())
}

#[derive(Deserialize)]
struct TokenAnswer {
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_u64")]
    expires_in: Option<u64>,
}

impl TokenAnswer {
    fn into_token(self) -> Result<UserToken, ConnectorError> {
        let token =
            self.access_token
                .filter(|t| !t.is_empty())
                .ok_or_else(|| ConnectorError::Api {
                    status: 200,
                    code: None,
                    subcode: None,
                    message: "token exchange answered without access_token".into(),
                    transient: false,
                })?;
        Ok(UserToken {
            access_token: AccessToken::new(token),
            token_type: self.token_type,
            expires_in: self.expires_in,
        })
    }
}

#[derive(Deserialize)]
struct PageEntry {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    tasks: Vec<String>,
    #[serde(default)]
    instagram_business_account: Option<IgAccountEntry>,
}

#[derive(Deserialize)]
struct IgAccountEntry {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    profile_picture_url: Option<String>,
}

/// Meta answers a wrong `client_secret` on `/oauth/access_token` with code 1, which elsewhere
/// means "unknown error, try again": on the token endpoint it is permanent.
fn token_endpoint_error(e: ConnectorError) -> ConnectorError {
    match e {
        ConnectorError::Api {
            status,
            code: Some(1),
            subcode,
            message,
            ..
        } if status < 500 => ConnectorError::Api {
            status,
            code: Some(1),
            subcode,
            message,
            transient: false,
        },
        other => other,
    }
}

#[async_trait]
impl MetaLogin for Facebook {
    fn authorize_url(
        &self,
        oauth_base: &str,
        app_id: &str,
        redirect_uri: &str,
        state: &str,
        scopes: &[&str],
    ) -> Result<String, ConnectorError> {
        authorize_url(oauth_base, app_id, redirect_uri, state, scopes)
    }

    async fn exchange_code(
        &self,
        cx: &HttpCtx<'_>,
        app_id: &str,
        app_secret: &str,
        redirect_uri: &str,
        code: &str,
    ) -> Result<UserToken, ConnectorError> {
        require(app_id, "app id")?;
        require(app_secret, "app secret")?;
        require(code, "OAuth code")?;
        let mut graph = Graph::new(cx, "", None);
        graph.secrets = vec![app_secret, code];
        let params = [
            ("client_id", app_id),
            ("redirect_uri", redirect_uri),
            ("client_secret", app_secret),
            ("code", code),
        ];
        let (answer, _): (TokenAnswer, Usage) = graph
            .get(&["oauth", "access_token"], &params, "code exchange")
            .await
            .map_err(token_endpoint_error)?;
        answer.into_token()
    }

    async fn long_lived(
        &self,
        cx: &HttpCtx<'_>,
        app_id: &str,
        app_secret: &str,
        short: &AccessToken,
    ) -> Result<UserToken, ConnectorError> {
        require(app_id, "app id")?;
        require(app_secret, "app secret")?;
        require(short.expose(), "user token")?;
        let mut graph = Graph::new(cx, "", None);
        graph.secrets = vec![app_secret, short.expose()];
        let params = [
            ("grant_type", "fb_exchange_token"),
            ("client_id", app_id),
            ("client_secret", app_secret),
            ("fb_exchange_token", short.expose()),
        ];
        let (answer, _): (TokenAnswer, Usage) = graph
            .get(&["oauth", "access_token"], &params, "long-lived exchange")
            .await
            .map_err(token_endpoint_error)?;
        answer.into_token()
    }

    async fn list_pages(
        &self,
        cx: &HttpCtx<'_>,
        user_token: &AccessToken,
    ) -> Result<Vec<ManagedPage>, ConnectorError> {
        require(user_token.expose(), "user token")?;
        let graph = Graph::new(cx, user_token.expose(), self.app_secret());
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut params = vec![("fields", PAGE_LIST_FIELDS)];
            if let Some(after) = cursor.as_deref() {
                params.push(("after", after));
            }
            let (list, _): (List<PageEntry>, Usage) =
                graph.get(&["me", "accounts"], &params, "page list").await?;
            for p in list.data {
                let (Some(id), Some(token)) = (p.id, p.access_token.filter(|t| !t.is_empty()))
                else {
                    // A Page without a token: the user lacks a task on it; nothing to connect.
                    continue;
                };
                pages.push(ManagedPage {
                    id,
                    name: p.name,
                    access_token: AccessToken::new(token),
                    category: p.category,
                    tasks: p.tasks,
                    instagram: p.instagram_business_account.and_then(|ig| {
                        ig.id.map(|id| LinkedInstagram {
                            id,
                            username: ig.username,
                            name: ig.name,
                            profile_picture_url: ig.profile_picture_url,
                        })
                    }),
                });
            }
            match list.paging.as_ref().and_then(Paging::next_cursor) {
                Some(next) if cursor.as_deref() != Some(next.as_str()) => cursor = Some(next),
                _ => return Ok(pages),
            }
        }
        Ok(pages)
    }

    async fn subscribe_page(
        &self,
        cx: &HttpCtx<'_>,
        page_id: &str,
        page_token: &AccessToken,
        fields: &[&str],
    ) -> Result<(), ConnectorError> {
        require(page_id, "Page id")?;
        require(page_token.expose(), "Page token")?;
        if fields.is_empty() {
            return Err(ConnectorError::Invalid(
                "no webhook fields to subscribe".into(),
            ));
        }
        let graph = Graph::new(cx, page_token.expose(), self.app_secret());
        let joined = fields.join(",");
        let url = graph.url(
            &[page_id, "subscribed_apps"],
            &[("subscribed_fields", &joined)],
        )?;
        let (answer, _): (SuccessAnswer, Usage) =
            graph.call(cx.http.post(url), "page subscription").await?;
        expect_success(answer, "page subscription")
    }

    async fn unsubscribe_page(
        &self,
        cx: &HttpCtx<'_>,
        page_id: &str,
        page_token: &AccessToken,
    ) -> Result<(), ConnectorError> {
        require(page_id, "Page id")?;
        require(page_token.expose(), "Page token")?;
        let graph = Graph::new(cx, page_token.expose(), self.app_secret());
        let (answer, _): (SuccessAnswer, Usage) = graph
            .delete(&[page_id, "subscribed_apps"], "page unsubscription")
            .await?;
        expect_success(answer, "page unsubscription")
    }
}

// ---- 5. profiles and posts -----------------------------------------------------------------

#[derive(Deserialize)]
struct ProfileAnswer {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    first_name: Option<String>,
    #[serde(default)]
    last_name: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    profile_pic: Option<String>,
}

#[derive(Deserialize)]
struct PostAnswer {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    /// Facebook post text.
    #[serde(default)]
    message: Option<String>,
    /// Instagram media text.
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    permalink_url: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default)]
    media_product_type: Option<String>,
}

impl PostAnswer {
    fn into_post(self, fallback_id: &str) -> PostRef {
        PostRef {
            external_id: self.id.unwrap_or_else(|| fallback_id.to_owned()),
            permalink: self.permalink_url.or(self.permalink),
            text: self.message.or(self.caption),
            media_kind: self.media_product_type,
        }
    }
}

#[async_trait]
impl Lookup for Facebook {
    async fn fetch_profile(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        user_id: &str,
    ) -> Result<Profile, ConnectorError> {
        require(account.access_token, "access token")?;
        require(user_id, "user id")?;
        let graph = Graph::new(cx, account.access_token, self.app_secret());
        let fields = match self.platform {
            Platform::Instagram => "name,username,profile_pic",
            _ => "first_name,last_name,name,profile_pic",
        };
        let (p, _): (ProfileAnswer, Usage) = graph
            .get(&[user_id], &[("fields", fields)], "profile")
            .await?;
        let joined = [p.first_name.as_deref(), p.last_name.as_deref()]
            .into_iter()
            .flatten()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        let name = p
            .name
            .filter(|n| !n.is_empty())
            .or_else(|| (!joined.is_empty()).then_some(joined));
        Ok(Profile {
            external_id: p.id.unwrap_or_else(|| user_id.to_owned()),
            name,
            username: p.username,
            picture_url: p.profile_pic,
        })
    }

    async fn fetch_post(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        post_id: &str,
    ) -> Result<PostRef, ConnectorError> {
        require(account.access_token, "access token")?;
        require(post_id, "post id")?;
        let graph = Graph::new(cx, account.access_token, self.app_secret());
        let fields = match self.platform {
            Platform::Instagram => "caption,permalink,media_product_type,timestamp",
            _ => "message,permalink_url,created_time",
        };
        let (p, _): (PostAnswer, Usage) =
            graph.get(&[post_id], &[("fields", fields)], "post").await?;
        Ok(p.into_post(post_id))
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_static(k),
                HeaderValue::from_str(v).expect("test header value"),
            );
        }
        h
    }

    fn classify(status: u16, body: &str) -> ConnectorError {
        classify_error(status, &HeaderMap::new(), body.as_bytes(), &["EAAB_tok"])
    }

    fn graph(code: i64, subcode: Option<i64>) -> String {
        let sub = subcode
            .map(|s| format!(r#","error_subcode":{s}"#))
            .unwrap_or_default();
        format!(r#"{{"error":{{"message":"m","type":"OAuthException","code":{code}{sub}}}}}"#)
    }

    #[test]
    fn each_graph_error_class_maps_to_its_variant() {
        for (code, sub) in [(190, None), (190, Some(460)), (102, None), (102, Some(1))] {
            let e = classify(400, &graph(code, sub));
            assert!(
                matches!(e, ConnectorError::Unauthorized(_)),
                "{code}: {e:?}"
            );
            assert!(e.needs_reconnect() && !e.is_retryable());
        }
        for code in RATE_LIMIT_CODES {
            let e = classify(400, &graph(code, None));
            assert!(
                matches!(e, ConnectorError::RateLimited { .. }),
                "{code}: {e:?}"
            );
            assert!(e.is_retryable());
        }
        assert!(matches!(
            classify(429, "slow down"),
            ConnectorError::RateLimited { .. }
        ));
        for (code, sub) in [
            (10, Some(OUTSIDE_WINDOW_SUBCODE)),
            (551, Some(1_545_041)),
            (551, None),
        ] {
            let e = classify(400, &graph(code, sub));
            assert!(
                matches!(e, ConnectorError::OutsideWindow(_)),
                "{code}: {e:?}"
            );
            assert!(!e.is_retryable());
        }
        for (code, sub) in [
            (10, None),
            (10, Some(2_018_065)),
            (200, None),
            (230, None),
            (299, Some(7)),
        ] {
            let e = classify(403, &graph(code, sub));
            assert_eq!(e.code(), "forbidden", "{code}: {e:?}");
            let ConnectorError::Forbidden {
                code: c, subcode, ..
            } = e
            else {
                unreachable!()
            };
            assert_eq!((c, subcode), (code, sub));
        }
        for code in [1, 2] {
            let e = classify(400, &graph(code, None));
            assert!(
                matches!(
                    e,
                    ConnectorError::Api {
                        transient: true,
                        ..
                    }
                ),
                "{e:?}"
            );
        }
        let e = classify(
            400,
            r#"{"error":{"message":"x","code":100,"is_transient":true}}"#,
        );
        assert!(e.is_retryable(), "{e:?}");
        for code in [100, 300, 9] {
            let e = classify(400, &graph(code, None));
            assert!(
                matches!(
                    e,
                    ConnectorError::Api {
                        transient: false,
                        ..
                    }
                ),
                "{e:?}"
            );
        }
    }

    #[test]
    fn secrets_are_scrubbed_even_when_cut_or_url_encoded() {
        let token = "EAAB/secret+token";
        let long = format!("{}{token}", "x".repeat(ERROR_SNIPPET_CHARS - 5));
        let encoded: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        for body in [long, format!("GET /me?access_token={encoded}")] {
            let e = classify_error(502, &HeaderMap::new(), body.as_bytes(), &[token]);
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("EAAB"), "{shown}");
        }
    }

    #[test]
    fn usage_headers_are_parsed() {
        let h = headers(&[
            (
                "x-app-usage",
                r#"{"call_count":28,"total_time":25,"total_cputime":25}"#,
            ),
            (
                "x-business-use-case-usage",
                r#"{"105":[{"type":"messenger","call_count":71,"estimated_time_to_regain_access":0},{"type":"pages","call_count":"93","estimated_time_to_regain_access":2}]}"#,
            ),
        ]);
        let u = parse_usage(&h);
        assert_eq!(u.app_call_pct, Some(28.0));
        assert_eq!(u.buc, Some(93.0));
        assert_eq!(u.regain_after, Some(Duration::from_secs(120)));
        assert_eq!(parse_usage(&HeaderMap::new()), Usage::default());
        assert_eq!(
            parse_usage(&headers(&[("x-app-usage", "nope")])),
            Usage::default()
        );
    }

    #[test]
    fn retry_after_prefers_buc_then_retry_after_then_app_usage() {
        let full = r#"{"call_count":100,"total_time":10,"total_cputime":10}"#;
        assert_eq!(
            retry_after(&headers(&[("x-app-usage", full)])),
            Some(DEFAULT_APP_USAGE_BACKOFF)
        );
        let cpu = r#"{"call_count":10,"total_time":10,"total_cputime":100}"#;
        assert_eq!(
            retry_after(&headers(&[("x-app-usage", cpu)])),
            Some(DEFAULT_APP_USAGE_BACKOFF)
        );
        let below = r#"{"call_count":99,"total_time":10,"total_cputime":10}"#;
        assert_eq!(retry_after(&headers(&[("x-app-usage", below)])), None);
        assert_eq!(
            retry_after(&headers(&[("x-app-usage", full), ("retry-after", "7")])),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            retry_after(&headers(&[
                ("x-app-usage", full),
                ("retry-after", "7"),
                (
                    "x-business-use-case-usage",
                    r#"{"1":[{"estimated_time_to_regain_access":3}]}"#
                ),
            ])),
            Some(Duration::from_secs(180))
        );
    }

    #[test]
    fn graph_times_are_read_in_every_form() {
        let want = DateTime::from_timestamp(1_718_000_000, 0).expect("valid");
        for v in [
            json!("2024-06-10T06:13:20+0000"),
            json!("2024-06-10T06:13:20Z"),
            json!("2024-06-10T13:13:20+07:00"),
            json!(1_718_000_000),
        ] {
            assert_eq!(parse_graph_time(&v), Some(want), "{v}");
        }
        assert_eq!(parse_graph_time(&json!("yesterday")), None);
    }

    #[test]
    fn send_bodies_follow_the_send_api() {
        let m = OutboundMessage::media(
            Recipient::User("u1".into()),
            crate::outbound::MediaKind::Video,
            "https://cdn.example/v.mp4",
        )
        .with_policy(SendPolicy::HumanAgent)
        .with_quick_reply("Có", "YES");
        assert_eq!(
            send_body(&m).expect("valid"),
            json!({
                "recipient": {"id": "u1"},
                "messaging_type": "MESSAGE_TAG",
                "tag": "HUMAN_AGENT",
                "message": {
                    "attachment": {"type": "video", "payload": {"url": "https://cdn.example/v.mp4"}},
                    "quick_replies": [{"content_type": "text", "title": "Có", "payload": "YES"}]
                }
            })
        );
        let private = OutboundMessage::text(Recipient::Comment("c1".into()), "Inbox ạ");
        assert_eq!(
            send_body(&private).expect("valid"),
            json!({
                "recipient": {"comment_id": "c1"},
                "messaging_type": "RESPONSE",
                "message": {"text": "Inbox ạ"}
            })
        );
        let invalid = [
            OutboundMessage::text(Recipient::User(String::new()), "x"),
            OutboundMessage::text(Recipient::User("u".into()), "  "),
            OutboundMessage::text(Recipient::Comment("c".into()), "x")
                .with_policy(SendPolicy::HumanAgent),
            OutboundMessage::media(
                Recipient::User("u".into()),
                crate::outbound::MediaKind::Image,
                "ftp://x/y",
            ),
            (0..=MAX_QUICK_REPLIES).fold(
                OutboundMessage::text(Recipient::User("u".into()), "x"),
                |m, i| m.with_quick_reply(format!("q{i}"), "p"),
            ),
        ];
        for m in invalid {
            assert!(
                matches!(send_body(&m), Err(ConnectorError::Invalid(_))),
                "{m:?}"
            );
        }
    }

    #[test]
    fn ids_may_be_numbers_in_answers() {
        let send: SendAnswer =
            serde_json::from_str(r#"{"recipient_id":6789012345678901,"message_id":"m_1"}"#)
                .expect("send answer");
        assert_eq!(send.recipient_id.as_deref(), Some("6789012345678901"));
        let id: IdAnswer = serde_json::from_str(r#"{"id":17900000000000043}"#).expect("id");
        assert_eq!(id.id.as_deref(), Some("17900000000000043"));
        let pages: List<PageEntry> = serde_json::from_str(
            r#"{"data":[{"id":105123456789012,"access_token":"t","instagram_business_account":{"id":17841400000000001}}]}"#,
        )
        .expect("pages");
        assert_eq!(pages.data[0].id.as_deref(), Some("105123456789012"));
    }

    #[test]
    fn authorize_url_carries_every_parameter() {
        let url = authorize_url(
            DEFAULT_OAUTH_DIALOG,
            "123",
            "https://shop.example/cb?x=1",
            "st@te",
            &["pages_show_list", "pages_messaging"],
        )
        .expect("valid");
        let parsed = Url::parse(&url).expect("url");
        assert_eq!(parsed.path(), "/v21.0/dialog/oauth");
        let q: std::collections::HashMap<_, _> = parsed.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "123");
        assert_eq!(q["redirect_uri"], "https://shop.example/cb?x=1");
        assert_eq!(q["state"], "st@te");
        assert_eq!(q["response_type"], "code");
        assert_eq!(q["scope"], "pages_show_list,pages_messaging");
        assert!(authorize_url(DEFAULT_OAUTH_DIALOG, "123", "not a url", "s", &[]).is_err());
        assert!(authorize_url(DEFAULT_OAUTH_DIALOG, "123", "https://a/b", "", &[]).is_err());
    }
}
