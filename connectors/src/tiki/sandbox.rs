//! A loopback fake of the Tiki Open API, for tests and `tongdai demo`
//! (`shared/specs/commerce.md` §3). It serves, from one address:
//!
//! - `GET /sc/oauth2/auth`: the seller's consent page, which redirects at once to
//!   `redirect_uri?code=…&state=…&scope=…` (`response_type=code`, the app's `client_id`, a
//!   `redirect_uri` and a `state` of 8 characters or more are required);
//! - `POST /sc/oauth2/token`: the token endpoint (form body, `Authorization: Basic
//!   base64(client_id:client_secret)` checked): grants `authorization_code` (the code is
//!   single use and bound to its `redirect_uri`), `refresh_token` and `client_credentials`;
//! - `GET /integration/v2/sellers/me`, `GET /integration/v2/orders`,
//!   `GET /integration/v2/orders/{code}` (a seller's Bearer token);
//! - `POST /integration/v1/queues` (the app's client-credentials token),
//!   `POST /integration/v1/queues/{code}/subscriptions` (a seller's token),
//!   `POST /integration/v1/queues/{code}/events/pull` (the app's token).
//!
//! The queue has real at-least-once semantics: a pull returns the oldest unacknowledged batch
//! (up to [`TikiSandbox::set_batch_size`] events, in order) with an `ack_id`; the same batch,
//! with the same `ack_id`, comes back on every pull until a pull sends that `ack_id`, which
//! removes it and returns the next batch.
//!
//! Sandbox choices where Tiki's behaviour is UNVERIFIED (documented, not Tiki facts): the
//! pull answer is `{ack_id, events[{id, type, sid, created_at, payload, version}]}`, with
//! `ack_id: ""` for an empty batch; refresh tokens rotate (a used one is refused with
//! `invalid_grant`); OAuth errors are `{error, error_description}`, API errors `{message}`;
//! `limit` above 50 is a 400; `updated_from_date` is `YYYY-MM-DD HH:MM:SS` in Vietnam's time;
//! a seller's token may not create queues (403) and only the queue's owner (the app) may pull.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use base64::Engine;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::wire::{filter_date, parse_time};
use crate::verify::constant_time_eq;

/// `expires_in` of issued access tokens unless set.
pub const DEFAULT_ACCESS_SECONDS: u64 = 3_600;
/// Largest `limit` of `GET /integration/v2/orders`.
pub const MAX_LIMIT: u32 = 50;
/// Events per pulled batch unless set.
pub const DEFAULT_BATCH_SIZE: usize = 10;

/// One HTTP request the sandbox received (secrets are recorded: it is a test fake).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query and form parameters, decoded, in arrival order.
    pub params: Vec<(String, String)>,
    /// The JSON body, when there was one.
    pub json: Value,
    /// The `Authorization` header.
    pub authorization: Option<String>,
}

impl RecordedRequest {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// How the next matching call fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxFailure {
    /// 401: the token expired or was revoked.
    Unauthorized,
    /// 429 with `Retry-After: <seconds>`.
    RateLimited(u64),
    /// 403 with a reason.
    Forbidden(String),
    /// 500.
    ServerError,
}

/// The seller who consents on the authorize page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSeller {
    /// `id` (numeric).
    pub id: i64,
    /// `sid` (hex string; events carry it).
    pub sid: String,
    /// Shop name.
    pub name: String,
    /// `logo`.
    pub logo: String,
}

impl Default for SandboxSeller {
    fn default() -> Self {
        SandboxSeller {
            id: 185_263,
            sid: "969BEA75AF1C4E3D8B2A".into(),
            name: "Shop Sandbox Tiki".into(),
            logo: "https://salt.tikicdn.com/sandbox/logo.png".into(),
        }
    }
}

/// One order line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxItem {
    /// `product.seller_product_code`.
    pub sku: String,
    /// `product.name`.
    pub name: String,
    /// `invoice.quantity`.
    pub quantity: i32,
    /// `invoice.price`, integer đồng (sent as `"…00.00"` text).
    pub price: i64,
}

/// An order of the seller.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxOrder {
    /// `code` (sent as a string).
    pub code: String,
    /// `status`.
    pub status: String,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// `updated_at`.
    pub updated_at: DateTime<Utc>,
    /// `shipping.address`.
    pub address: Value,
    /// Lines.
    pub items: Vec<SandboxItem>,
    /// `invoice.shipping_amount_after_discount`.
    pub shipping_fee: i64,
}

impl SandboxOrder {
    /// An order created and updated at `updated_at`, COD, 30 000 đ shipping, no items.
    pub fn new(code: &str, status: &str, updated_at: DateTime<Utc>) -> Self {
        SandboxOrder {
            code: code.to_owned(),
            status: status.to_owned(),
            created_at: updated_at,
            updated_at,
            address: json!({"full_name": "Nguyễn Văn A", "phone": "0901234567",
                "street": "12 Lê Lợi", "ward": "Phường Bến Nghé", "district": "Quận 1",
                "region": "Hồ Chí Minh", "country": "VN"}),
            items: Vec::new(),
            shipping_fee: 30_000,
        }
    }

    /// The same order with one more line.
    pub fn item(mut self, sku: &str, name: &str, quantity: i32, price: i64) -> Self {
        self.items.push(SandboxItem {
            sku: sku.to_owned(),
            name: name.to_owned(),
            quantity,
            price,
        });
        self
    }

    fn json(&self) -> Value {
        let subtotal: i64 = self
            .items
            .iter()
            .map(|i| i.price * i64::from(i.quantity))
            .sum();
        let total = subtotal + self.shipping_fee;
        json!({
            "code": self.code,
            "status": self.status,
            "created_at": self.created_at.to_rfc3339(),
            "updated_at": self.updated_at.to_rfc3339(),
            "customer": {"id": 5_550_001, "full_name": "Nguyễn Văn A"},
            "invoice": {"subtotal": subtotal, "shipping_amount_after_discount": self.shipping_fee,
                "discount_amount": 0, "grand_total": format!("{total}.00"),
                "collectible_amount": total},
            "payment": {"method": "cod"},
            "shipping": {"partner_name": "TikiNOW Smart Logistics", "tracking_code": format!("TNSL{}", self.code),
                "address": self.address},
            "items": self.items.iter().enumerate().map(|(n, i)| json!({
                "id": n + 1,
                "product": {"id": 7_000 + n, "sku": format!("TIKI-{}", i.sku), "seller_product_code": i.sku, "name": i.name},
                "invoice": {"quantity": i.quantity, "price": format!("{}.00", i.price)}
            })).collect::<Vec<_>>(),
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Owner {
    App,
    Seller,
}

struct Subscribed {
    sid: String,
    event_type: String,
}

struct QueueState {
    name: String,
    subscriptions: Vec<Subscribed>,
    events: VecDeque<Value>,
    /// The delivered, unacknowledged batch: its ack id and size.
    pending: Option<(String, usize)>,
}

struct State {
    seller: SandboxSeller,
    access_seconds: u64,
    batch_size: usize,
    codes: HashMap<String, String>,
    access: HashMap<String, Owner>,
    refresh: HashMap<String, ()>,
    orders: Vec<SandboxOrder>,
    queues: HashMap<String, QueueState>,
    failures: VecDeque<(Option<String>, SandboxFailure)>,
    requests: Vec<RecordedRequest>,
    next_id: u64,
}

impl State {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }
}

struct Shared {
    client_id: String,
    client_secret: String,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

/// Handle to a running fake Tiki on `127.0.0.1`. Cheap to clone; the server stops when
/// [`TikiSandbox::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct TikiSandbox {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for TikiSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TikiSandbox")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl TikiSandbox {
    /// Bind `127.0.0.1:0` and serve, checking Basic auth with this app's id and secret.
    pub async fn start(client_id: &str, client_secret: &str) -> std::io::Result<TikiSandbox> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            state: Mutex::new(State {
                seller: SandboxSeller::default(),
                access_seconds: DEFAULT_ACCESS_SECONDS,
                batch_size: DEFAULT_BATCH_SIZE,
                codes: HashMap::new(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                orders: Vec::new(),
                queues: HashMap::new(),
                failures: VecDeque::new(),
                requests: Vec::new(),
                next_id: 0,
            }),
        });
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, Arc::clone(&shared), stop_rx));
        Ok(TikiSandbox {
            inner: Arc::new(Handle { addr, shared, stop }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.shared.state()
    }

    /// `http://127.0.0.1:<port>`: the API base URL.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// `http://127.0.0.1:<port>/sc`: the OAuth base URL.
    pub fn oauth_url(&self) -> String {
        format!("http://{}/sc", self.inner.addr)
    }

    /// Stop accepting connections and close the open ones.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Fail the next API call (any `/integration` path) this way.
    pub fn push_failure(&self, f: SandboxFailure) {
        self.state().failures.push_back((None, f));
    }

    /// Fail the next call whose path starts with `prefix` this way (also the token endpoint).
    pub fn push_failure_at(&self, prefix: &str, f: SandboxFailure) {
        self.state()
            .failures
            .push_back((Some(prefix.to_owned()), f));
    }

    /// The seller who consents.
    pub fn set_seller(&self, seller: SandboxSeller) {
        self.state().seller = seller;
    }

    /// The seller who consents.
    pub fn seller(&self) -> SandboxSeller {
        self.state().seller.clone()
    }

    /// `expires_in` of tokens issued from now on.
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state().access_seconds = seconds;
    }

    /// How many events a pull returns at most.
    pub fn set_batch_size(&self, n: usize) {
        self.state().batch_size = n.max(1);
    }

    /// Accept this seller access token (as if issued).
    pub fn add_seller_token(&self, token: &str) {
        self.state().access.insert(token.to_owned(), Owner::Seller);
    }

    /// Refuse this access token from now on.
    pub fn revoke_token(&self, token: &str) {
        self.state().access.remove(token);
    }

    /// Add (or replace, by code) an order.
    pub fn add_order(&self, order: SandboxOrder) {
        let mut st = self.state();
        st.orders.retain(|o| o.code != order.code);
        st.orders.push(order);
    }

    /// Change an order's status (without an event: see [`TikiSandbox::push_event`]).
    pub fn set_order_status(&self, code: &str, status: &str, updated_at: DateTime<Utc>) {
        if let Some(o) = self.state().orders.iter_mut().find(|o| o.code == code) {
            o.status = status.to_owned();
            o.updated_at = updated_at;
        }
    }

    /// Route an event of seller `sid` to every queue with a subscription of that seller to
    /// `event_type`; returns the event id.
    pub fn push_event(
        &self,
        sid: &str,
        event_type: &str,
        payload: Value,
        at: DateTime<Utc>,
    ) -> String {
        let mut st = self.state();
        let id = format!("evt-{}", st.next_id());
        let ev = json!({"id": id, "type": event_type, "sid": sid, "created_at": at.to_rfc3339(),
            "payload": payload, "version": "v1"});
        for q in st.queues.values_mut() {
            if q.subscriptions
                .iter()
                .any(|s| s.sid == sid && s.event_type == event_type)
            {
                q.events.push_back(ev.clone());
            }
        }
        id
    }

    /// [`TikiSandbox::push_event`] of an order event `{order_code, status}`.
    pub fn push_order_event(
        &self,
        sid: &str,
        event_type: &str,
        code: &str,
        status: &str,
        at: DateTime<Utc>,
    ) -> String {
        self.push_event(
            sid,
            event_type,
            json!({"order_code": code, "status": status}),
            at,
        )
    }

    /// Events of a queue not acknowledged yet (delivered or not).
    pub fn queue_len(&self, queue_code: &str) -> usize {
        self.state()
            .queues
            .get(queue_code)
            .map_or(0, |q| q.events.len())
    }

    /// The event types each seller (`sid`) subscribed a queue to.
    pub fn subscriptions(&self, queue_code: &str) -> Vec<(String, String)> {
        self.state()
            .queues
            .get(queue_code)
            .map(|q| {
                q.subscriptions
                    .iter()
                    .map(|s| (s.sid.clone(), s.event_type.clone()))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The names of the queues created so far, by code.
    pub fn queues(&self) -> Vec<(String, String)> {
        self.state()
            .queues
            .iter()
            .map(|(c, q)| (c.clone(), q.name.clone()))
            .collect()
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            biased;
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, _)) = accepted else { continue };
        let shared = Arc::clone(&shared);
        let mut stop = stop.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(Arc::clone(&shared), req));
            let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
            tokio::select! {
                biased;
                () = stopped(&mut stop) => {}
                _ = conn => {}
            }
        });
    }
}

async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

type Reply = Response<Full<Bytes>>;

async fn handle(shared: Arc<Shared>, req: Request<Incoming>) -> Result<Reply, Infallible> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut params: Vec<(String, String)> =
        url::form_urlencoded::parse(parts.uri.query().unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut json_body = Value::Null;
    if content_type.starts_with("application/x-www-form-urlencoded") {
        params.extend(url::form_urlencoded::parse(&body).into_owned());
    } else if content_type.starts_with("application/json") {
        json_body = serde_json::from_slice(&body).unwrap_or(Value::Null);
    }
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        params,
        json: json_body,
        authorization: parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    let mut state = shared.state();
    state.requests.push(recorded.clone());
    Ok(route(&shared, &mut state, &recorded))
}

fn reply(status: StatusCode, body: &Value) -> Reply {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

fn api_error(status: StatusCode, message: &str) -> Reply {
    reply(status, &json!({"message": message}))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Reply {
    reply(
        status,
        &json!({"error": error, "error_description": description}),
    )
}

fn failure_reply(f: &SandboxFailure) -> Reply {
    match f {
        SandboxFailure::Unauthorized => api_error(StatusCode::UNAUTHORIZED, "token is expired"),
        SandboxFailure::RateLimited(secs) => Response::builder()
            .status(StatusCode::TOO_MANY_REQUESTS)
            .header(http::header::RETRY_AFTER, secs.to_string())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(
                json!({"message": "too many requests"}).to_string(),
            )))
            .expect("valid response"),
        SandboxFailure::Forbidden(reason) => api_error(StatusCode::FORBIDDEN, reason),
        SandboxFailure::ServerError => {
            api_error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

fn take_failure(state: &mut State, path: &str) -> Option<SandboxFailure> {
    let pos = state.failures.iter().position(|(target, _)| match target {
        None => path.starts_with("/integration"),
        Some(prefix) => path.starts_with(prefix.as_str()),
    })?;
    state.failures.remove(pos).map(|(_, f)| f)
}

fn route(shared: &Shared, state: &mut State, req: &RecordedRequest) -> Reply {
    if let Some(f) = take_failure(state, &req.path) {
        return failure_reply(&f);
    }
    let path = req.path.trim_end_matches('/');
    match (req.method.as_str(), path) {
        ("GET", "/sc/oauth2/auth") => return authorize(shared, state, req),
        ("POST", "/sc/oauth2/token") => return token(shared, state, req),
        _ => {}
    }
    let Some(path) = path.strip_prefix("/integration") else {
        return api_error(StatusCode::NOT_FOUND, "not found");
    };
    let owner = req
        .authorization
        .as_deref()
        .and_then(|h| h.strip_prefix("Bearer "))
        .and_then(|t| state.access.get(t).cloned());
    let Some(owner) = owner else {
        return api_error(StatusCode::UNAUTHORIZED, "invalid or expired access token");
    };
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (req.method.as_str(), segs.as_slice(), owner) {
        ("GET", ["v2", "sellers", "me"], Owner::Seller) => seller_me(state),
        ("GET", ["v2", "orders"], Owner::Seller) => orders_list(state, req),
        ("GET", ["v2", "orders", code], Owner::Seller) => order_get(state, code),
        ("POST", ["v1", "queues"], Owner::App) => queue_create(state, req),
        ("POST", ["v1", "queues"], Owner::Seller) => api_error(
            StatusCode::FORBIDDEN,
            "queues belong to the app: use a client credentials token",
        ),
        ("POST", ["v1", "queues", code, "subscriptions"], Owner::Seller) => {
            subscribe(state, code, req)
        }
        ("POST", ["v1", "queues", code, "events", "pull"], Owner::App) => pull(state, code, req),
        (_, ["v2", ..], Owner::App) | (_, ["v1", "queues", _, "subscriptions"], Owner::App) => {
            api_error(StatusCode::FORBIDDEN, "a seller token is required")
        }
        (_, ["v1", "queues", _, "events", "pull"], Owner::Seller) => api_error(
            StatusCode::FORBIDDEN,
            "only the queue's owner may pull its events",
        ),
        _ => api_error(StatusCode::NOT_FOUND, "not found"),
    }
}

fn redirect(location: &str) -> Reply {
    Response::builder()
        .status(StatusCode::FOUND)
        .header(http::header::LOCATION, location)
        .body(Full::new(Bytes::new()))
        .expect("valid response")
}

fn authorize(shared: &Shared, state: &mut State, req: &RecordedRequest) -> Reply {
    if req.param("response_type") != Some("code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "response_type must be code",
        );
    }
    if req.param("client_id") != Some(shared.client_id.as_str()) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "unknown client_id",
        );
    }
    let Some(redirect_uri) = req.param("redirect_uri").filter(|r| !r.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is required",
        );
    };
    let Some(st) = req.param("state").filter(|s| s.chars().count() >= 8) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_state",
            "state must have at least 8 characters",
        );
    };
    let scope = req.param("scope").unwrap_or_default().to_owned();
    let code = format!("code-{}", state.next_id());
    state.codes.insert(code.clone(), redirect_uri.to_owned());
    let mut url = match url::Url::parse(redirect_uri) {
        Ok(u) => u,
        Err(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "bad redirect_uri",
            );
        }
    };
    url.query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("scope", &scope)
        .append_pair("state", st);
    redirect(url.as_str())
}

fn basic_ok(shared: &Shared, req: &RecordedRequest) -> bool {
    let Some(encoded) = req
        .authorization
        .as_deref()
        .and_then(|h| h.strip_prefix("Basic "))
    else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let want = format!("{}:{}", shared.client_id, shared.client_secret);
    constant_time_eq(&decoded, want.as_bytes())
}

fn issue(state: &mut State, owner: Owner) -> Value {
    let n = state.next_id();
    let access = format!("tiki-at-{n}");
    let with_refresh = owner == Owner::Seller;
    state.access.insert(access.clone(), owner);
    let mut out = json!({"access_token": access, "expires_in": state.access_seconds,
        "token_type": "bearer", "scope": "offline order"});
    if with_refresh {
        let refresh = format!("tiki-rt-{n}");
        state.refresh.insert(refresh.clone(), ());
        out["refresh_token"] = json!(refresh);
    }
    out
}

fn token(shared: &Shared, state: &mut State, req: &RecordedRequest) -> Reply {
    if !basic_ok(shared, req) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
    }
    let client_ok = || req.param("client_id") == Some(shared.client_id.as_str());
    match req.param("grant_type") {
        Some("authorization_code") => {
            if !client_ok() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id is required",
                );
            }
            let code = req.param("code").unwrap_or_default();
            match state.codes.remove(code) {
                Some(uri) if Some(uri.as_str()) == req.param("redirect_uri") => {
                    let body = issue(state, Owner::Seller);
                    reply(StatusCode::OK, &body)
                }
                _ => oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the authorization code is invalid",
                ),
            }
        }
        Some("refresh_token") => {
            if !client_ok() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "client_id is required",
                );
            }
            let rt = req.param("refresh_token").unwrap_or_default();
            if state.refresh.remove(rt).is_none() {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "the refresh token is invalid",
                );
            }
            let body = issue(state, Owner::Seller);
            reply(StatusCode::OK, &body)
        }
        Some("client_credentials") => {
            let body = issue(state, Owner::App);
            reply(StatusCode::OK, &body)
        }
        _ => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant_type",
        ),
    }
}

fn seller_me(state: &State) -> Reply {
    let s = &state.seller;
    reply(
        StatusCode::OK,
        &json!({"id": s.id, "sid": s.sid, "name": s.name, "active": 1, "logo": s.logo,
            "operation_models": ["dropship"], "can_update_product": 1,
            "registration_status": "completed", "live_at": "2024-01-02 09:00:00"}),
    )
}

fn orders_list(state: &State, req: &RecordedRequest) -> Reply {
    let page: usize = match req.param("page").map(str::parse) {
        None => 1,
        Some(Ok(p)) if p >= 1 => p,
        _ => return api_error(StatusCode::BAD_REQUEST, "page must be a positive integer"),
    };
    let limit: usize = match req.param("limit").map(str::parse::<u32>) {
        None => 20,
        Some(Ok(l)) if (1..=MAX_LIMIT).contains(&l) => l as usize,
        _ => return api_error(StatusCode::BAD_REQUEST, "limit must be between 1 and 50"),
    };
    let from = match req.param("updated_from_date") {
        None => None,
        Some(s) => match parse_time(&json!(s)) {
            Some(t) if filter_date(t) == s => Some(t),
            _ => return api_error(StatusCode::BAD_REQUEST, "bad updated_from_date"),
        },
    };
    let mut matching: Vec<&SandboxOrder> = state
        .orders
        .iter()
        .filter(|o| from.is_none_or(|f| o.updated_at >= f))
        .collect();
    matching.sort_by(|a, b| a.updated_at.cmp(&b.updated_at).then(a.code.cmp(&b.code)));
    let total = matching.len();
    let last_page = total.div_ceil(limit).max(1);
    let data: Vec<Value> = matching
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|o| o.json())
        .collect();
    reply(
        StatusCode::OK,
        &json!({"data": data, "paging": {"total": total, "per_page": limit,
            "current_page": page, "last_page": last_page}}),
    )
}

fn order_get(state: &State, code: &str) -> Reply {
    match state.orders.iter().find(|o| o.code == code) {
        Some(o) => reply(StatusCode::OK, &o.json()),
        None => api_error(StatusCode::NOT_FOUND, "order not found"),
    }
}

fn queue_create(state: &mut State, req: &RecordedRequest) -> Reply {
    let Some(name) = req
        .json
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
    else {
        return api_error(StatusCode::BAD_REQUEST, "name is required");
    };
    let code = format!("5a84289f-0000-4000-8000-{:012}", state.next_id());
    state.queues.insert(
        code.clone(),
        QueueState {
            name: name.to_owned(),
            subscriptions: Vec::new(),
            events: VecDeque::new(),
            pending: None,
        },
    );
    reply(
        StatusCode::OK,
        &json!({"code": code, "name": name, "status": "ACTIVE"}),
    )
}

fn subscribe(state: &mut State, code: &str, req: &RecordedRequest) -> Reply {
    let Some(event_type) = req
        .json
        .get("event_type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
    else {
        return api_error(StatusCode::BAD_REQUEST, "event_type is required");
    };
    let sid = state.seller.sid.clone();
    let id = state.next_id();
    let Some(q) = state.queues.get_mut(code) else {
        return api_error(StatusCode::NOT_FOUND, "queue not found");
    };
    if !q
        .subscriptions
        .iter()
        .any(|s| s.sid == sid && s.event_type == event_type)
    {
        q.subscriptions.push(Subscribed {
            sid: sid.clone(),
            event_type: event_type.to_owned(),
        });
    }
    reply(
        StatusCode::OK,
        &json!({"code": format!("38f9{id:08}"), "active": true, "event_type": event_type, "sid": sid}),
    )
}

fn pull(state: &mut State, code: &str, req: &RecordedRequest) -> Reply {
    let ack = req
        .json
        .get("ack_id")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let batch_size = state.batch_size;
    let id = state.next_id();
    let Some(q) = state.queues.get_mut(code) else {
        return api_error(StatusCode::NOT_FOUND, "queue not found");
    };
    if let Some((pending_ack, n)) = q.pending.clone() {
        if !ack.is_empty() && ack == pending_ack {
            q.events.drain(..n.min(q.events.len()));
            q.pending = None;
        } else {
            // Not acknowledged: the same batch again.
            let events: Vec<Value> = q.events.iter().take(n).cloned().collect();
            return reply(
                StatusCode::OK,
                &json!({"ack_id": pending_ack, "events": events}),
            );
        }
    }
    let events: Vec<Value> = q.events.iter().take(batch_size).cloned().collect();
    if events.is_empty() {
        return reply(StatusCode::OK, &json!({"ack_id": "", "events": []}));
    }
    let ack_id = format!("ack-{id}");
    q.pending = Some((ack_id.clone(), events.len()));
    reply(StatusCode::OK, &json!({"ack_id": ack_id, "events": events}))
}
