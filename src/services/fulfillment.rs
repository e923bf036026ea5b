//! The push to fulfillment: outbound webhook endpoints (CRUD, secrets), the delivery job that
//! sends one queued `webhook_message` as a signed Standard Webhook, the delivery log and manual
//! redelivery.
//!
//! Messages are queued by [`crate::services::webhooks_out::emit`] (one per subscribed endpoint,
//! id `msg_…` = `webhook-id`, the same on every attempt). Each attempt gets a fresh
//! `webhook-timestamp` and signature, runs on the job schedule of [`crate::domain::retry`]
//! (throttling answers with `retry-after` choose their own delay), and leaves a
//! `delivery_attempt` row. Success is 2xx only; redirects are not followed; `410 Gone` disables
//! the endpoint; `webhook-delivery: abort-message` stops the message. An endpoint that has
//! failed without a success for `webhook_disable_after_days` is disabled at its next failure
//! and admins are told over the websocket.
//!
//! SSRF: unless `allow_private_webhook_targets` is on, endpoint URLs must name public hosts;
//! this is checked when an endpoint is saved and again at delivery, where a dedicated client
//! resolves names through [`PublicResolver`] (non-public addresses are dropped, so a name that
//! re-resolves to a private address after it was saved cannot be reached).

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tongdai_connectors::standard_webhooks::{self, Secret};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::net::{self, Host, UrlProblem};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::services::jobs::{self, JobFailure};
use crate::services::webhooks_out::EVENT_TYPES;
use crate::state::AppState;
use crate::store::entities::{delivery_attempt, job, webhook_endpoint, webhook_message};

/// Request timeout of one delivery attempt (the spec says 15 to 30 s; Svix uses 15 s).
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(15);

/// Bytes of a receiver's response kept in the delivery log.
pub const RESPONSE_EXCERPT_BYTES: usize = 1024;

/// Secret length (bytes): 24 gives 32 base64 characters without padding, which every
/// Standard Webhooks library accepts.
const SECRET_BYTES: usize = 24;

// ---------------------------------------------------------------------------------------------
// Endpoints
// ---------------------------------------------------------------------------------------------

/// A new endpoint.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EndpointIn {
    /// Where to POST (http or https; a public host unless the instance allows private ones).
    pub url: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// Event types to receive (see `webhooks_out::EVENT_TYPES`, or `*`); empty or missing: all.
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
}

/// Changes to an endpoint (missing fields stay).
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct EndpointPatch {
    /// New URL.
    pub url: Option<String>,
    /// New description (an empty string clears it).
    pub description: Option<String>,
    /// New event types (empty: all).
    pub event_types: Option<Vec<String>>,
    /// Enable or disable; enabling clears the failure state.
    pub enabled: Option<bool>,
}

/// An endpoint (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointOut {
    /// Id.
    pub id: Uuid,
    /// URL.
    pub url: String,
    /// Description.
    pub description: Option<String>,
    /// Subscribed event types (empty: all).
    pub event_types: Vec<String>,
    /// Whether deliveries go out.
    pub enabled: bool,
    /// Failing without a success since then.
    pub failing_since: Option<DateTime<Utc>>,
    /// Last 2xx.
    pub last_success_at: Option<DateTime<Utc>>,
    /// Why it was disabled automatically.
    pub disabled_reason: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A new endpoint with its signing secret (shown in this response only).
#[derive(Debug, Serialize, ToSchema)]
pub struct EndpointCreated {
    /// The endpoint.
    #[serde(flatten)]
    pub endpoint: EndpointOut,
    /// `whsec_…`: verify deliveries with it (any Standard Webhooks library).
    pub secret: String,
}

impl From<webhook_endpoint::Model> for EndpointOut {
    fn from(e: webhook_endpoint::Model) -> Self {
        EndpointOut {
            id: e.id,
            url: e.url,
            description: e.description,
            event_types: e
                .event_types
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default(),
            enabled: e.enabled,
            failing_since: e.failing_since,
            last_success_at: e.last_success_at,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

fn require_read(p: &Principal) -> AppResult<()> {
    p.require(Permission::ManagePipeline)
        .or_else(|_| p.require(Permission::ReadOrders))
}

fn event_types(list: Option<Vec<String>>) -> AppResult<serde_json::Value> {
    let mut out: Vec<String> = Vec::new();
    for t in list.unwrap_or_default() {
        let t = t.trim().to_owned();
        if t != "*" && !EVENT_TYPES.contains(&t.as_str()) {
            return Err(AppError::bad_request(
                "invalid_event_type",
                format!(
                    "unknown event type {t:?} (known: {}, or *)",
                    EVENT_TYPES.join(", ")
                ),
            ));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(json!(out))
}

fn description(d: Option<String>) -> AppResult<Option<String>> {
    let d = d.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
    if d.as_ref().is_some_and(|s| s.chars().count() > 500) {
        return Err(AppError::bad_request(
            "invalid_description",
            "the description is limited to 500 characters",
        ));
    }
    Ok(d)
}

/// Check an endpoint URL: http(s), a host, and (unless the instance allows private targets)
/// a host that is public and does not resolve to a non-public address. Returns it normalized.
pub async fn check_url(state: &AppState, raw: &str) -> AppResult<String> {
    let raw = raw.trim();
    if raw.len() > 2048 {
        return Err(AppError::bad_request("invalid_url", "the URL is too long"));
    }
    let url = url::Url::parse(raw)
        .map_err(|e| AppError::bad_request("invalid_url", format!("not a URL: {e}")))?;
    let (host, port) = net::endpoint_host(&url).map_err(|p| match p {
        UrlProblem::Invalid(why) => AppError::bad_request("invalid_url", why),
        UrlProblem::NotPublic(why) => AppError::bad_request("endpoint_not_public", why),
    })?;
    if !state.cfg.allow_private_webhook_targets {
        if let Some(why) = net::host_reason(&host) {
            return Err(not_public(why));
        }
        if let Host::Name(name) = &host {
            // A name that resolves now is checked now; one that does not resolve (yet) is left
            // to delivery time, where every resolved address is checked anyway.
            let lookup = tokio::time::timeout(
                Duration::from_secs(3),
                tokio::net::lookup_host((name.as_str(), port)),
            )
            .await;
            if let Ok(Ok(addrs)) = lookup {
                for a in addrs {
                    if let Some(why) = net::non_public_reason(a.ip()) {
                        return Err(not_public(format!(
                            "{name} resolves to {}, which is {why}",
                            a.ip()
                        )));
                    }
                }
            }
        }
    }
    Ok(url.to_string())
}

fn not_public(why: String) -> AppError {
    AppError::bad_request(
        "endpoint_not_public",
        format!(
            "the endpoint must be a public address: {why} (an administrator can allow private targets with TONGDAI_ALLOW_PRIVATE_WEBHOOK_TARGETS)"
        ),
    )
}

async fn find_endpoint(
    db: &impl ConnectionTrait,
    ws: Uuid,
    id: Uuid,
) -> AppResult<webhook_endpoint::Model> {
    webhook_endpoint::Entity::find_by_id(id)
        .filter(webhook_endpoint::Column::WorkspaceId.eq(ws))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("webhook endpoint"))
}

/// `POST /webhook-endpoints`: a new endpoint with a fresh 24-byte secret, returned once.
pub async fn create_endpoint(
    state: &AppState,
    p: &Principal,
    i: EndpointIn,
) -> AppResult<EndpointCreated> {
    p.require(Permission::ManagePipeline)?;
    let url = check_url(state, &i.url).await?;
    let types = event_types(i.event_types)?;
    let description = description(i.description)?;
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::thread_rng().fill_bytes(&mut bytes);
    let secret = Secret::from_bytes(bytes).expect("24 bytes is a valid secret length");
    let now = Utc::now();
    let id = Uuid::now_v7();
    let txn = state.db.write.begin().await?;
    let e = webhook_endpoint::ActiveModel {
        id: Set(id),
        workspace_id: Set(p.workspace_id),
        url: Set(url.clone()),
        secret_enc: Set(state.secrets.seal(secret.bytes())),
        description: Set(description),
        event_types: Set(types.clone()),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        failing_since: Set(None),
        last_success_at: Set(None),
        disabled_reason: Set(None),
    }
    .insert(&txn)
    .await?;
    crate::services::audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "webhook_endpoint.created",
        ("webhook_endpoint", id.to_string()),
        json!({ "url": url, "event_types": types }),
    )
    .await?;
    txn.commit().await?;
    Ok(EndpointCreated {
        endpoint: e.into(),
        secret: secret.expose(),
    })
}

/// `GET /webhook-endpoints`.
pub async fn list_endpoints(state: &AppState, p: &Principal) -> AppResult<Vec<EndpointOut>> {
    require_read(p)?;
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::WorkspaceId.eq(p.workspace_id))
        .order_by_asc(webhook_endpoint::Column::CreatedAt)
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

/// `GET /webhook-endpoints/{id}`.
pub async fn get_endpoint(state: &AppState, p: &Principal, id: Uuid) -> AppResult<EndpointOut> {
    require_read(p)?;
    Ok(find_endpoint(&state.db.read, p.workspace_id, id)
        .await?
        .into())
}

/// `PATCH /webhook-endpoints/{id}`.
pub async fn update_endpoint(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    i: EndpointPatch,
) -> AppResult<EndpointOut> {
    p.require(Permission::ManagePipeline)?;
    let url = match &i.url {
        Some(u) => Some(check_url(state, u).await?),
        None => None,
    };
    let types = i.event_types.map(|t| event_types(Some(t))).transpose()?;
    let txn = state.db.write.begin().await?;
    let e = find_endpoint(&txn, p.workspace_id, id).await?;
    let mut am = e.into_active_model();
    let mut changes = serde_json::Map::new();
    if let Some(u) = url {
        changes.insert("url".into(), json!(u));
        am.url = Set(u);
    }
    if i.description.is_some() {
        let d = description(i.description)?;
        changes.insert("description".into(), json!(d));
        am.description = Set(d);
    }
    if let Some(t) = types {
        changes.insert("event_types".into(), t.clone());
        am.event_types = Set(t);
    }
    if let Some(enabled) = i.enabled {
        changes.insert("enabled".into(), json!(enabled));
        am.enabled = Set(enabled);
        if enabled {
            am.failing_since = Set(None);
            am.disabled_reason = Set(None);
        }
    }
    am.updated_at = Set(Utc::now());
    let e = am.update(&txn).await?;
    crate::services::audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "webhook_endpoint.updated",
        ("webhook_endpoint", id.to_string()),
        serde_json::Value::Object(changes),
    )
    .await?;
    txn.commit().await?;
    Ok(e.into())
}

/// `DELETE /webhook-endpoints/{id}` (its messages and delivery log go with it).
pub async fn delete_endpoint(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    p.require(Permission::ManagePipeline)?;
    let txn = state.db.write.begin().await?;
    let e = find_endpoint(&txn, p.workspace_id, id).await?;
    // Explicitly, so it does not depend on the backend enforcing foreign keys.
    delivery_attempt::Entity::delete_many()
        .filter(delivery_attempt::Column::EndpointId.eq(id))
        .exec(&txn)
        .await?;
    webhook_message::Entity::delete_many()
        .filter(webhook_message::Column::EndpointId.eq(id))
        .exec(&txn)
        .await?;
    webhook_endpoint::Entity::delete_by_id(id)
        .exec(&txn)
        .await?;
    crate::services::audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "webhook_endpoint.deleted",
        ("webhook_endpoint", id.to_string()),
        json!({ "url": e.url }),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Delivery log and redelivery
// ---------------------------------------------------------------------------------------------

/// Filter of the delivery log.
#[derive(Debug, Default, Deserialize, IntoParams)]
pub struct MessageFilter {
    /// `pending`, `delivered` or `failed`.
    pub status: Option<String>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u64>,
}

/// One queued event for one endpoint.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageOut {
    /// `msg_…`, the `webhook-id` of every attempt.
    pub id: String,
    /// Endpoint.
    pub endpoint_id: Uuid,
    /// Event type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts made so far.
    pub attempts: i32,
    /// HTTP status of the last attempt that got an answer.
    pub last_status_code: Option<i32>,
    /// Queued.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl From<webhook_message::Model> for MessageOut {
    fn from(m: webhook_message::Model) -> Self {
        MessageOut {
            id: m.id,
            endpoint_id: m.endpoint_id,
            event_type: m.event_type,
            status: m.status,
            attempts: m.attempts,
            last_status_code: m.last_status_code,
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// One delivery attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    /// 1, 2, … across every delivery of the message.
    pub attempt: i32,
    /// HTTP status, when the receiver answered.
    pub status_code: Option<i32>,
    /// The first KiB of the answer (lossy UTF-8).
    pub response: Option<String>,
    /// What went wrong (transport error, refusal, non-2xx).
    pub error: Option<String>,
    /// Time to the answer (or the error).
    pub duration_ms: Option<i64>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A message with its payload and every attempt.
#[derive(Debug, Serialize, ToSchema)]
pub struct MessageDetail {
    /// The message.
    #[serde(flatten)]
    pub message: MessageOut,
    /// The exact body sent (and signed).
    pub body: String,
    /// The body as JSON.
    pub payload: serde_json::Value,
    /// Every attempt, oldest first.
    pub deliveries: Vec<AttemptOut>,
}

/// `GET /webhook-endpoints/{id}/messages`: newest first.
pub async fn list_messages(
    state: &AppState,
    p: &Principal,
    endpoint: Uuid,
    f: MessageFilter,
) -> AppResult<Vec<MessageOut>> {
    require_read(p)?;
    find_endpoint(&state.db.read, p.workspace_id, endpoint).await?;
    let mut q = webhook_message::Entity::find()
        .filter(webhook_message::Column::WorkspaceId.eq(p.workspace_id))
        .filter(webhook_message::Column::EndpointId.eq(endpoint));
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        if !matches!(s, "pending" | "delivered" | "failed") {
            return Err(AppError::bad_request(
                "invalid_status",
                "status is pending, delivered or failed",
            ));
        }
        q = q.filter(webhook_message::Column::Status.eq(s));
    }
    Ok(q.order_by_desc(webhook_message::Column::CreatedAt)
        .order_by_desc(webhook_message::Column::Id)
        .limit(f.limit.unwrap_or(50).clamp(1, 500))
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(Into::into)
        .collect())
}

async fn find_message(
    db: &impl ConnectionTrait,
    ws: Uuid,
    id: &str,
) -> AppResult<webhook_message::Model> {
    webhook_message::Entity::find_by_id(id.to_owned())
        .filter(webhook_message::Column::WorkspaceId.eq(ws))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("webhook message"))
}

/// `GET /webhook-messages/{id}`.
pub async fn get_message(state: &AppState, p: &Principal, id: &str) -> AppResult<MessageDetail> {
    require_read(p)?;
    let m = find_message(&state.db.read, p.workspace_id, id).await?;
    let deliveries = delivery_attempt::Entity::find()
        .filter(delivery_attempt::Column::WorkspaceId.eq(p.workspace_id))
        .filter(delivery_attempt::Column::EventId.eq(m.id.clone()))
        .order_by_asc(delivery_attempt::Column::Id)
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(|a| AttemptOut {
            attempt: a.attempt,
            status_code: a.status_code,
            response: a.response,
            error: a.error,
            duration_ms: a.duration_ms,
            created_at: a.created_at,
        })
        .collect();
    let payload = serde_json::from_str(&m.payload)
        .unwrap_or_else(|_| serde_json::Value::String(m.payload.clone()));
    Ok(MessageDetail {
        body: m.payload.clone(),
        payload,
        message: m.into(),
        deliveries,
    })
}

/// `POST /webhook-messages/{id}/redeliver`: deliver the same message (same `webhook-id`) again,
/// on a fresh retry schedule. 409 when its endpoint is disabled.
pub async fn redeliver(state: &AppState, p: &Principal, id: &str) -> AppResult<MessageOut> {
    p.require(Permission::ManagePipeline)?;
    let txn = state.db.write.begin().await?;
    let m = find_message(&txn, p.workspace_id, id).await?;
    let e = find_endpoint(&txn, p.workspace_id, m.endpoint_id).await?;
    if !e.enabled {
        return Err(AppError::Conflict(
            "the endpoint is disabled: enable it before redelivering".into(),
        ));
    }
    let now = Utc::now();
    let mut am = m.into_active_model();
    am.status = Set("pending".into());
    am.updated_at = Set(now);
    let m = am.update(&txn).await?;
    // One delivery job per message at a time: a retry already waiting is made due now
    // instead of adding a second job (which would send the message twice).
    let waiting: Vec<job::Model> = job::Entity::find()
        .filter(job::Column::Kind.eq(jobs::kind::DELIVER_WEBHOOK))
        .filter(job::Column::Status.is_in(["pending", "running"]))
        .all(&txn)
        .await?
        .into_iter()
        .filter(|j| j.payload.get("message_id").and_then(|v| v.as_str()) == Some(m.id.as_str()))
        .collect();
    if waiting.iter().any(|j| j.status == "running") {
        return Err(AppError::Conflict(
            "this message is being delivered right now".into(),
        ));
    }
    match waiting.first() {
        Some(j) => {
            job::Entity::update_many()
                .col_expr(job::Column::RunAt, Expr::value(now))
                .filter(job::Column::Id.eq(j.id))
                .exec(&txn)
                .await?;
        }
        None => {
            jobs::enqueue(
                &txn,
                jobs::kind::DELIVER_WEBHOOK,
                json!({ "message_id": m.id }),
                now,
            )
            .await?;
        }
    }
    crate::services::audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "webhook_message.redelivered",
        ("webhook_message", m.id.clone()),
        json!({ "endpoint_id": m.endpoint_id }),
    )
    .await?;
    txn.commit().await?;
    state.jobs_notify.notify_one();
    Ok(m.into())
}

// ---------------------------------------------------------------------------------------------
// Delivery
// ---------------------------------------------------------------------------------------------

/// Resolves names for deliveries and keeps only public addresses (DNS rebinding: a name that
/// passed the check when the endpoint was saved may point elsewhere later).
#[derive(Debug, Clone, Copy)]
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            if let Some(why) = net::host_reason(&Host::Name(host.to_ascii_lowercase())) {
                return Err(why.into());
            }
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| net::is_public(a.ip()))
                .collect();
            if public.is_empty() {
                let listed: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                return Err(format!(
                    "{host} resolves to no public address ({}): refused",
                    listed.join(", ")
                )
                .into());
            }
            let addrs: reqwest::dns::Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

/// The delivery client: no redirects, no proxy, a 15 s timeout; with `allow_private` false it
/// resolves through [`PublicResolver`]. Built once per mode.
pub fn client(allow_private: bool) -> &'static reqwest::Client {
    static STRICT: OnceLock<reqwest::Client> = OnceLock::new();
    static OPEN: OnceLock<reqwest::Client> = OnceLock::new();
    let build = |strict: bool| {
        let mut b = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(DELIVERY_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("tongdai-webhooks/", env!("CARGO_PKG_VERSION")));
        if strict {
            b = b.dns_resolver(Arc::new(PublicResolver));
        }
        b.build().expect("the delivery client builds")
    };
    if allow_private {
        OPEN.get_or_init(|| build(false))
    } else {
        STRICT.get_or_init(|| build(true))
    }
}

/// What the receiver answered.
struct Answer {
    status: u16,
    abort: bool,
    retry_after: Option<Duration>,
    excerpt: String,
}

/// Why nothing was answered.
struct NotSent {
    error: String,
    /// The URL itself is refused: no retry can help.
    permanent: bool,
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut src = e.source();
    while let Some(cause) = src {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        src = cause.source();
    }
    s
}

fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    let v = h.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(v).ok()?;
    let d = at.with_timezone(&Utc) - Utc::now();
    Some(d.to_std().unwrap_or_default())
}

async fn post(
    state: &AppState,
    url: &str,
    id: &str,
    body: &str,
    secret: &Secret,
) -> Result<Answer, NotSent> {
    let allow_private = state.cfg.allow_private_webhook_targets;
    let parsed = url::Url::parse(url).map_err(|e| NotSent {
        error: format!("invalid endpoint URL: {e}"),
        permanent: true,
    })?;
    let (host, _) = net::endpoint_host(&parsed).map_err(|p| NotSent {
        error: match p {
            UrlProblem::Invalid(w) | UrlProblem::NotPublic(w) => w,
        },
        permanent: true,
    })?;
    if !allow_private && let Some(why) = net::host_reason(&host) {
        return Err(NotSent {
            error: format!("endpoint_not_public: {why}"),
            permanent: true,
        });
    }
    let now = Utc::now().timestamp();
    let mut req = client(allow_private)
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/json");
    for (k, v) in standard_webhooks::headers(&[secret], id, now, body.as_bytes()) {
        req = req.header(k, v);
    }
    let mut res = req
        .body(body.to_owned())
        .send()
        .await
        .map_err(|e| NotSent {
            error: error_chain(&e),
            permanent: false,
        })?;
    let status = res.status().as_u16();
    let abort = res
        .headers()
        .get("webhook-delivery")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("abort-message"));
    let retry_after = retry_after(res.headers());
    let mut buf: Vec<u8> = Vec::new();
    while buf.len() < RESPONSE_EXCERPT_BYTES {
        match res.chunk().await {
            Ok(Some(c)) => buf.extend_from_slice(&c),
            _ => break,
        }
    }
    buf.truncate(RESPONSE_EXCERPT_BYTES);
    Ok(Answer {
        status,
        abort,
        retry_after,
        excerpt: String::from_utf8_lossy(&buf).into_owned(),
    })
}

fn db_err(e: sea_orm::DbErr) -> JobFailure {
    JobFailure::retry(format!("database: {e}"))
}

/// Frames to publish after a commit.
type Frames = Vec<(Uuid, &'static str, serde_json::Value)>;

async fn publish(state: &AppState, frames: Frames) {
    for (ws, kind, data) in frames {
        state.bus.publish(ws, kind, data).await;
    }
}

/// Mark `m` failed for good (`webhook.failed`).
async fn fail_message(
    db: &impl ConnectionTrait,
    m: &webhook_message::Model,
    reason: &str,
    frames: &mut Frames,
) -> Result<(), sea_orm::DbErr> {
    webhook_message::Entity::update_many()
        .col_expr(webhook_message::Column::Status, Expr::value("failed"))
        .col_expr(webhook_message::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(webhook_message::Column::Id.eq(m.id.clone()))
        .exec(db)
        .await?;
    frames.push((
        m.workspace_id,
        "webhook.failed",
        json!({ "message_id": m.id, "endpoint_id": m.endpoint_id, "event_type": m.event_type, "reason": reason }),
    ));
    Ok(())
}

/// Disable `e` (audit + `webhook_endpoint.disabled` for admins).
async fn disable_endpoint(
    db: &impl ConnectionTrait,
    e: &webhook_endpoint::Model,
    reason: &str,
    frames: &mut Frames,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    webhook_endpoint::Entity::update_many()
        .col_expr(webhook_endpoint::Column::Enabled, Expr::value(false))
        .col_expr(
            webhook_endpoint::Column::DisabledReason,
            Expr::value(Some(reason.to_owned())),
        )
        .col_expr(webhook_endpoint::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_endpoint::Column::Id.eq(e.id))
        .exec(db)
        .await?;
    crate::services::audit::record(
        db,
        e.workspace_id,
        None,
        "webhook_endpoint.disabled",
        ("webhook_endpoint", e.id.to_string()),
        json!({ "url": e.url, "reason": reason }),
    )
    .await?;
    frames.push((
        e.workspace_id,
        "webhook_endpoint.disabled",
        json!({ "endpoint_id": e.id, "url": e.url, "reason": reason }),
    ));
    Ok(())
}

/// The `deliver_webhook` job: send message `{"message_id"}` to its endpoint once.
pub async fn deliver(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let id = j
        .payload
        .get("message_id")
        .and_then(|v| v.as_str())
        .ok_or_else(|| JobFailure::fatal("payload has no message_id"))?
        .to_owned();
    let db = &state.db.write;
    let Some(m) = webhook_message::Entity::find_by_id(id.clone())
        .one(db)
        .await
        .map_err(db_err)?
    else {
        // Gone with its endpoint.
        return Ok(());
    };
    match m.status.as_str() {
        // Delivered by an earlier run whose follow-up did not finish: finish it only.
        "delivered" => return after_delivered(state, &m).await.map_err(db_err),
        "failed" => return Ok(()),
        _ => {}
    }
    let endpoint = webhook_endpoint::Entity::find_by_id(m.endpoint_id)
        .filter(webhook_endpoint::Column::WorkspaceId.eq(m.workspace_id))
        .one(db)
        .await
        .map_err(db_err)?;
    let mut frames = Frames::new();
    let e = match endpoint {
        Some(e) if e.enabled => e,
        _ => {
            fail_message(db, &m, "endpoint disabled or deleted", &mut frames)
                .await
                .map_err(db_err)?;
            publish(state, frames).await;
            return Ok(());
        }
    };
    let Some(secret) = state
        .secrets
        .open(&e.secret_enc)
        .and_then(|b| Secret::from_bytes(b).ok())
    else {
        fail_message(
            db,
            &m,
            "the endpoint secret cannot be decrypted",
            &mut frames,
        )
        .await
        .map_err(db_err)?;
        publish(state, frames).await;
        return Err(JobFailure::fatal("endpoint secret cannot be decrypted"));
    };

    let attempt = m.attempts + 1;
    let started = Instant::now();
    let outcome = post(state, &e.url, &m.id, &m.payload, &secret).await;
    let duration_ms = i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX);
    let now = Utc::now();
    let (status_code, response, error) = match &outcome {
        Ok(a) => (
            Some(i32::from(a.status)),
            Some(a.excerpt.clone()),
            (!(200..300).contains(&a.status)).then(|| format!("HTTP {}", a.status)),
        ),
        Err(n) => (None, None, Some(n.error.clone())),
    };
    let delivered = matches!(&outcome, Ok(a) if (200..300).contains(&a.status));

    let txn = db.begin().await.map_err(db_err)?;
    delivery_attempt::ActiveModel {
        workspace_id: Set(m.workspace_id),
        endpoint_id: Set(e.id),
        event_id: Set(m.id.clone()),
        event_type: Set(m.event_type.clone()),
        status_code: Set(status_code),
        response: Set(response),
        error: Set(error.clone()),
        attempt: Set(attempt),
        duration_ms: Set(Some(duration_ms)),
        created_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(db_err)?;
    let mut upd = webhook_message::Entity::update_many()
        .col_expr(webhook_message::Column::Attempts, Expr::value(attempt))
        .col_expr(webhook_message::Column::UpdatedAt, Expr::value(now))
        .filter(webhook_message::Column::Id.eq(m.id.clone()));
    if status_code.is_some() {
        upd = upd.col_expr(
            webhook_message::Column::LastStatusCode,
            Expr::value(status_code),
        );
    }
    if delivered {
        upd = upd.col_expr(webhook_message::Column::Status, Expr::value("delivered"));
    }
    upd.exec(&txn).await.map_err(db_err)?;
    let frame = json!({
        "message_id": m.id,
        "endpoint_id": e.id,
        "event_type": m.event_type,
        "attempt": attempt,
        "status_code": status_code,
    });

    if delivered {
        webhook_endpoint::Entity::update_many()
            .col_expr(
                webhook_endpoint::Column::LastSuccessAt,
                Expr::value(Some(now)),
            )
            .col_expr(
                webhook_endpoint::Column::FailingSince,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .filter(webhook_endpoint::Column::Id.eq(e.id))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        txn.commit().await.map_err(db_err)?;
        state
            .bus
            .publish(m.workspace_id, "webhook.delivered", frame)
            .await;
        let m = webhook_message::Model {
            status: "delivered".into(),
            attempts: attempt,
            last_status_code: status_code,
            ..m
        };
        return after_delivered(state, &m).await.map_err(db_err);
    }

    frames.push((m.workspace_id, "webhook.attempt_failed", frame));
    let error = error.unwrap_or_default();
    let result: Result<(), JobFailure> = match &outcome {
        Ok(a) if a.status == 410 => {
            let reason = "the endpoint answered 410 Gone";
            disable_endpoint(&txn, &e, reason, &mut frames)
                .await
                .map_err(db_err)?;
            fail_message(&txn, &m, reason, &mut frames)
                .await
                .map_err(db_err)?;
            Err(JobFailure::fatal(reason))
        }
        Ok(a) if a.abort => {
            let reason = "the receiver answered webhook-delivery: abort-message";
            fail_message(&txn, &m, reason, &mut frames)
                .await
                .map_err(db_err)?;
            Err(JobFailure::fatal(reason))
        }
        _ => {
            let permanent = matches!(&outcome, Err(n) if n.permanent);
            // The endpoint is failing: since now, or since long enough to be disabled.
            let threshold = chrono::Duration::days(i64::from(state.cfg.webhook_disable_after_days));
            match e.failing_since {
                None => {
                    webhook_endpoint::Entity::update_many()
                        .col_expr(
                            webhook_endpoint::Column::FailingSince,
                            Expr::value(Some(now)),
                        )
                        .filter(webhook_endpoint::Column::Id.eq(e.id))
                        .exec(&txn)
                        .await
                        .map_err(db_err)?;
                }
                Some(since) if now - since >= threshold => {
                    let reason = format!(
                        "every delivery failed for {} days (since {}); last error: {error}",
                        state.cfg.webhook_disable_after_days,
                        since.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                    );
                    disable_endpoint(&txn, &e, &reason, &mut frames)
                        .await
                        .map_err(db_err)?;
                    fail_message(&txn, &m, &reason, &mut frames)
                        .await
                        .map_err(db_err)?;
                    txn.commit().await.map_err(db_err)?;
                    publish(state, frames).await;
                    return Err(JobFailure::fatal(reason));
                }
                Some(_) => {}
            }
            if permanent || j.attempts >= j.max_attempts {
                let reason = if permanent {
                    error.clone()
                } else {
                    format!("{attempt} attempts failed; last error: {error}")
                };
                fail_message(&txn, &m, &reason, &mut frames)
                    .await
                    .map_err(db_err)?;
                Err(JobFailure::fatal(reason))
            } else {
                let throttled =
                    matches!(&outcome, Ok(a) if matches!(a.status, 429 | 502 | 503 | 504));
                let mut f = JobFailure::retry(error.clone());
                if throttled {
                    f.retry_after = outcome.as_ref().ok().and_then(|a| a.retry_after);
                }
                Err(f)
            }
        }
    };
    txn.commit().await.map_err(db_err)?;
    publish(state, frames).await;
    result
}

/// What follows a delivered message: a delivered `order.confirmed` moves its order from
/// `confirmed` to `pushed` (once; a later call changes nothing).
///
/// Merge note: the orders service will own this transition (`services::orders::mark_pushed`);
/// until then the change is made here.
pub async fn after_delivered(
    state: &AppState,
    m: &webhook_message::Model,
) -> Result<(), sea_orm::DbErr> {
    if m.event_type != "order.confirmed" {
        return Ok(());
    }
    let Some(order_id) = m.order_id else {
        tracing::warn!(message = %m.id, "order.confirmed message without a data.order_id");
        return Ok(());
    };
    let txn = state.db.write.begin().await?;
    let frame = crate::services::orders::mark_pushed(&txn, m.workspace_id, order_id, &m.id).await?;
    txn.commit().await?;
    if let Some(data) = frame {
        state
            .bus
            .publish(m.workspace_id, "order.updated", data)
            .await;
    }
    Ok(())
}
