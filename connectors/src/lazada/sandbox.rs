//! A loopback fake of the Lazada Open Platform, for tests and `tongdai demo`
//! (`shared/specs/commerce.md` §2). It serves, from one address:
//!
//! - `GET /oauth/authorize`: the seller's consent page, which redirects at once to
//!   `redirect_uri?code=…&state=…` (the app key must be the `client_id`);
//! - `/rest/<api>`: the API gateway **and** the auth service — `/auth/token/create`,
//!   `/auth/token/refresh`, `/seller/get`, `/orders/get`, `/order/get`, `/order/items/get`,
//!   `/im/session/list`, `/im/message/list`, `/im/message/send`.
//!
//! Every `/rest` call is checked like Lazada checks it: the `sign` recomputed from the query
//! (GET) or form (POST) parameters with the app secret, the SDK way; `app_key` the configured
//! one; `sign_method=sha256`; `timestamp` in **milliseconds** within
//! [`DEFAULT_TIMESTAMP_WINDOW`] of the sandbox's clock; then, except for the token calls, an
//! `access_token` the sandbox issued (or a test registered), not expired nor revoked.
//!
//! Sandbox choices where Lazada's behaviour is UNVERIFIED (documented, not Lazada facts):
//! errors are HTTP 200 with `{"type","code","message","request_id"}`; a stale timestamp is
//! `InvalidTimestamp`, a refused refresh token `IllegalRefreshToken`, an unknown code
//! `InvalidCode`; refresh tokens stay valid after use unless
//! [`LazadaSandbox::set_refresh_reusable`] is off (then a used one is refused); `/orders/get`
//! filters `update_after <= updated_at < update_before`; an unknown `/order/get` id answers
//! empty `data`; IM messages list newest first, before `start_time`.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, FixedOffset, TimeDelta, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::sign::{SIGN_METHOD, push_signature, sign};
use crate::verify::constant_time_eq;

/// How far a request's `timestamp` may be from the sandbox's clock.
pub const DEFAULT_TIMESTAMP_WINDOW: Duration = Duration::from_secs(10 * 60);
/// `expires_in` of issued access tokens unless set (a test-status app: 7 days).
pub const DEFAULT_ACCESS_SECONDS: u64 = 7 * 86_400;
/// `refresh_expires_in` of issued refresh tokens unless set (14 days).
pub const DEFAULT_REFRESH_SECONDS: u64 = 14 * 86_400;
/// Largest `limit` of `/orders/get`.
pub const MAX_LIMIT: u32 = 100;
/// Default largest `offset` of `/orders/get` (Lazada's 5000).
pub const DEFAULT_MAX_OFFSET: u32 = 5_000;
/// Largest `page_size` of `/im/message/list`.
pub const MAX_IM_PAGE: usize = 50;

/// One HTTP request the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Path, e.g. `/rest/order/get`.
    pub path: String,
    /// Query and form parameters, decoded, in arrival order.
    pub params: Vec<(String, String)>,
    /// The `Idempotency-Key` header, when sent.
    pub idempotency_key: Option<String>,
}

impl RecordedRequest {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The API name: the path after `/rest`, e.g. `/order/get`.
    pub fn api(&self) -> &str {
        self.path.strip_prefix("/rest").unwrap_or(&self.path)
    }
}

/// How the next matching call fails, as Lazada answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SandboxFailure {
    /// `IllegalAccessToken`: the token expired or was revoked.
    IllegalAccessToken,
    /// `AppCallLimit`: throttled.
    AppCallLimit,
    /// `AppNotSubscribed`: the app may not call this API (e.g. IM without an IM app).
    MissingPermission,
    /// Any Lazada error answer.
    Error {
        /// HTTP status.
        status: u16,
        /// `type`: `ISV`, `ISP` or `SYSTEM`.
        kind: String,
        /// `code`.
        code: String,
        /// `message`.
        message: String,
    },
}

impl SandboxFailure {
    fn parts(&self) -> (u16, &str, &str, &str) {
        match self {
            SandboxFailure::IllegalAccessToken => (
                200,
                "ISV",
                "IllegalAccessToken",
                "The specified access token is invalid or expired",
            ),
            SandboxFailure::AppCallLimit => (
                200,
                "ISV",
                "AppCallLimit",
                "The request has exceeded the allowed limit",
            ),
            SandboxFailure::MissingPermission => (
                200,
                "ISV",
                "AppNotSubscribed",
                "The app has not subscribed to this API",
            ),
            SandboxFailure::Error {
                status,
                kind,
                code,
                message,
            } => (*status, kind, code, message),
        }
    }
}

/// The seller who consents on the authorize page and whom issued tokens belong to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSeller {
    /// `seller_id`.
    pub seller_id: String,
    /// Shop name.
    pub name: String,
    /// `short_code`.
    pub short_code: String,
    /// Country code (`vn`).
    pub country: String,
}

impl Default for SandboxSeller {
    fn default() -> Self {
        SandboxSeller {
            seller_id: "1000123456".into(),
            name: "Shop Sandbox Lazada".into(),
            short_code: "VN1A2B3C".into(),
            country: "vn".into(),
        }
    }
}

/// One order line (one unit, as Lazada lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxItem {
    /// `sku`.
    pub sku: String,
    /// `name`.
    pub name: String,
    /// `paid_price` (and `item_price`), e.g. `"189000.00"`.
    pub paid_price: String,
}

/// An order of the seller, listed by `/orders/get` and answered by `/order/get`.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxOrder {
    /// `order_id` (sent as a JSON number when it is all digits).
    pub order_id: String,
    /// Status of every item (`statuses` of the order).
    pub status: String,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// `updated_at`.
    pub updated_at: DateTime<Utc>,
    /// `payment_method`.
    pub payment_method: String,
    /// `shipping_fee`.
    pub shipping_fee: String,
    /// `address_shipping`.
    pub address: Value,
    /// Units.
    pub items: Vec<SandboxItem>,
}

impl SandboxOrder {
    /// An order updated (and created) at `updated_at`, COD, 30 000 đ shipping, no items.
    pub fn new(order_id: &str, status: &str, updated_at: DateTime<Utc>) -> Self {
        SandboxOrder {
            order_id: order_id.to_owned(),
            status: status.to_owned(),
            created_at: updated_at,
            updated_at,
            payment_method: "COD".into(),
            shipping_fee: "30000.00".into(),
            address: json!({"first_name": "Nguyễn Văn A", "last_name": "", "phone": "84901234567",
                "address1": "12 Lê Lợi", "address3": "Hồ Chí Minh", "address4": "Quận 1",
                "address5": "Phường Bến Nghé", "city": "Hồ Chí Minh", "country": "Vietnam"}),
            items: Vec::new(),
        }
    }

    /// The same order with one more unit.
    pub fn item(mut self, sku: &str, name: &str, paid_price: &str) -> Self {
        self.items.push(SandboxItem {
            sku: sku.to_owned(),
            name: name.to_owned(),
            paid_price: paid_price.to_owned(),
        });
        self
    }

    fn price(&self) -> i64 {
        self.items
            .iter()
            .filter_map(|i| crate::commerce::parse_dong(&json!(i.paid_price)))
            .sum()
    }

    fn id_json(&self) -> Value {
        self.order_id
            .parse::<u64>()
            .map_or_else(|_| json!(self.order_id), |n| json!(n))
    }

    fn json(&self) -> Value {
        json!({
            "order_id": self.id_json(),
            "order_number": self.id_json(),
            "created_at": lazada_time(self.created_at),
            "updated_at": lazada_time(self.updated_at),
            "statuses": [self.status],
            "price": format!("{}.00", self.price()),
            "items_count": self.items.len(),
            "payment_method": self.payment_method,
            "shipping_fee": self.shipping_fee,
            "voucher": "0.00",
            "customer_first_name": "Nguyễn",
            "customer_last_name": "Văn A",
            "remarks": "",
            "address_shipping": self.address,
        })
    }

    fn items_json(&self) -> Vec<Value> {
        self.items
            .iter()
            .enumerate()
            .map(|(n, i)| {
                json!({
                    "order_item_id": format!("{}{:02}", self.order_id, n + 1),
                    "order_id": self.id_json(),
                    "name": i.name, "sku": i.sku, "shop_sku": format!("{}-shop", i.sku),
                    "item_price": i.paid_price, "paid_price": i.paid_price, "currency": "VND",
                    "status": self.status, "shipment_provider": "LEX VN",
                    "tracking_code": format!("LZVN{}", self.order_id),
                    "created_at": lazada_time(self.created_at),
                    "updated_at": lazada_time(self.updated_at),
                })
            })
            .collect()
    }
}

/// `2024-01-01 10:00:00 +0700`, as Lazada VN writes times.
pub fn lazada_time(t: DateTime<Utc>) -> String {
    let vn = FixedOffset::east_opt(7 * 3600).expect("valid offset");
    t.with_timezone(&vn)
        .format("%Y-%m-%d %H:%M:%S %z")
        .to_string()
}

/// One IM message in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxImMessage {
    /// `message_id`.
    pub message_id: String,
    /// 1 buyer, 2 seller.
    pub from_account_type: u8,
    /// `template_id`.
    pub template_id: i64,
    /// `content` (a JSON text).
    pub content: String,
    /// `send_time`, ms.
    pub send_time_ms: i64,
}

impl SandboxImMessage {
    /// A buyer's text message.
    pub fn buyer_text(id: &str, text: &str, at: DateTime<Utc>) -> Self {
        SandboxImMessage {
            message_id: id.to_owned(),
            from_account_type: 1,
            template_id: 1,
            content: json!({"txt": text}).to_string(),
            send_time_ms: at.timestamp_millis(),
        }
    }
}

#[derive(Debug, Clone)]
struct Session {
    buyer_id: String,
    messages: Vec<SandboxImMessage>,
}

/// A message `/im/message/send` accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentImMessage {
    /// `session_id`.
    pub session_id: String,
    /// `template_id`.
    pub template_id: i64,
    /// `txt` or `img_url`.
    pub body: String,
    /// The id answered.
    pub message_id: String,
}

#[derive(Debug, Clone)]
struct Token {
    expires_at: DateTime<Utc>,
}

enum FailureTarget {
    Any,
    Api(String),
}

struct State {
    seller: SandboxSeller,
    access_seconds: u64,
    refresh_seconds: u64,
    refresh_reusable: bool,
    window: Duration,
    max_offset: u32,
    codes: HashSet<String>,
    access: HashMap<String, Token>,
    refresh: HashMap<String, Token>,
    orders: Vec<SandboxOrder>,
    sessions: HashMap<String, Session>,
    sent: Vec<SentImMessage>,
    idempotent: HashMap<String, String>,
    failures: VecDeque<(FailureTarget, SandboxFailure)>,
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
    app_key: String,
    app_secret: String,
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

/// Handle to a running fake Lazada on `127.0.0.1`. Cheap to clone; the server stops when
/// [`LazadaSandbox::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct LazadaSandbox {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for LazadaSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LazadaSandbox")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl LazadaSandbox {
    /// Bind `127.0.0.1:0` and serve, checking signatures with this app's key and secret.
    pub async fn start(app_key: &str, app_secret: &str) -> std::io::Result<LazadaSandbox> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            app_key: app_key.to_owned(),
            app_secret: app_secret.to_owned(),
            state: Mutex::new(State {
                seller: SandboxSeller::default(),
                access_seconds: DEFAULT_ACCESS_SECONDS,
                refresh_seconds: DEFAULT_REFRESH_SECONDS,
                refresh_reusable: true,
                window: DEFAULT_TIMESTAMP_WINDOW,
                max_offset: DEFAULT_MAX_OFFSET,
                codes: HashSet::new(),
                access: HashMap::new(),
                refresh: HashMap::new(),
                orders: Vec::new(),
                sessions: HashMap::new(),
                sent: Vec::new(),
                idempotent: HashMap::new(),
                failures: VecDeque::new(),
                requests: Vec::new(),
                next_id: 0,
            }),
        });
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, Arc::clone(&shared), stop_rx));
        Ok(LazadaSandbox {
            inner: Arc::new(Handle { addr, shared, stop }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.shared.state()
    }

    /// `http://127.0.0.1:<port>/rest`: the API gateway base URL.
    pub fn api_url(&self) -> String {
        format!("http://{}/rest", self.inner.addr)
    }

    /// `http://127.0.0.1:<port>`: the OAuth base URL (consent page and token service).
    pub fn oauth_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// Stop accepting connections and close the open ones.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// The `Authorization` header Lazada would push `body` with.
    pub fn push_signature(&self, body: &[u8]) -> String {
        push_signature(
            &self.inner.shared.app_key,
            &self.inner.shared.app_secret,
            body,
        )
    }

    /// Push `body` to `webhook_url` (the hub's `/webhooks/lazada`) the way Lazada does:
    /// `POST`, `Content-Type: application/json`, `Authorization` signed with this app. Returns
    /// the answer's status and body.
    pub async fn deliver(
        &self,
        http: &reqwest::Client,
        webhook_url: &str,
        body: &str,
    ) -> Result<(u16, Bytes), reqwest::Error> {
        let resp = http
            .post(webhook_url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(
                super::sign::PUSH_SIGNATURE_HEADER,
                self.push_signature(body.as_bytes()),
            )
            .body(body.to_owned())
            .send()
            .await?;
        let status = resp.status().as_u16();
        Ok((status, resp.bytes().await?))
    }

    /// Make the next `/rest` call fail as `f` (after its signature checked out). Queued
    /// failures are used first-in first-out.
    pub fn push_failure(&self, f: SandboxFailure) {
        self.state().failures.push_back((FailureTarget::Any, f));
    }

    /// Make the next call of `api` (e.g. `/orders/get`) fail as `f`.
    pub fn push_failure_at(&self, api: &str, f: SandboxFailure) {
        self.state()
            .failures
            .push_back((FailureTarget::Api(api.to_owned()), f));
    }

    /// Who consents on the authorize page (and owns the data).
    pub fn set_seller(&self, seller: SandboxSeller) {
        self.state().seller = seller;
    }

    /// The seller.
    pub fn seller(&self) -> SandboxSeller {
        self.state().seller.clone()
    }

    /// `expires_in` and `refresh_expires_in` of tokens issued from now on (0: already
    /// expired when issued).
    pub fn set_token_lifetimes(&self, access_seconds: u64, refresh_seconds: u64) {
        let mut s = self.state();
        s.access_seconds = access_seconds;
        s.refresh_seconds = refresh_seconds;
    }

    /// Whether a refresh token stays valid after it was used (default) or is spent.
    pub fn set_refresh_reusable(&self, reusable: bool) {
        self.state().refresh_reusable = reusable;
    }

    /// How far a request's `timestamp` may be from the clock.
    pub fn set_timestamp_window(&self, window: Duration) {
        self.state().window = window;
    }

    /// The largest `offset` `/orders/get` accepts (at least 1).
    pub fn set_max_offset(&self, max_offset: u32) {
        self.state().max_offset = max_offset.max(1);
    }

    /// Accept `token` as the seller's access token (valid for a day).
    pub fn add_token(&self, token: &str) {
        self.state().access.insert(
            token.to_owned(),
            Token {
                expires_at: Utc::now() + TimeDelta::days(1),
            },
        );
    }

    /// Refuse `token` from now on (access or refresh token).
    pub fn revoke_token(&self, token: &str) {
        let mut s = self.state();
        s.access.remove(token);
        s.refresh.remove(token);
    }

    /// Add or replace an order of the seller.
    pub fn add_order(&self, order: SandboxOrder) {
        let mut s = self.state();
        s.orders.retain(|o| o.order_id != order.order_id);
        s.orders.push(order);
    }

    /// Change an order's status and update time (as a push would announce).
    pub fn set_order_status(&self, order_id: &str, status: &str, updated_at: DateTime<Utc>) {
        let mut s = self.state();
        if let Some(o) = s.orders.iter_mut().find(|o| o.order_id == order_id) {
            o.status = status.to_owned();
            o.updated_at = updated_at;
        }
    }

    /// Open an IM session with a buyer.
    pub fn add_session(&self, session_id: &str, buyer_id: &str) {
        self.state().sessions.insert(
            session_id.to_owned(),
            Session {
                buyer_id: buyer_id.to_owned(),
                messages: Vec::new(),
            },
        );
    }

    /// Add a message to a session (opened with [`LazadaSandbox::add_session`]).
    pub fn add_im_message(&self, session_id: &str, message: SandboxImMessage) {
        if let Some(s) = self.state().sessions.get_mut(session_id) {
            s.messages.push(message);
        }
    }

    /// Every message `/im/message/send` accepted, in order.
    pub fn sent_messages(&self) -> Vec<SentImMessage> {
        self.state().sent.clone()
    }
}

/// A type-0 push body as Lazada sends it (ids as strings, `status_update_time` in seconds,
/// `timestamp` in ms).
pub fn order_push_body(
    seller_id: &str,
    order_id: &str,
    status: &str,
    updated_at: DateTime<Utc>,
) -> String {
    json!({"seller_id": seller_id, "message_type": 0,
        "data": {"order_status": status, "trade_order_id": order_id,
            "trade_order_line_id": format!("{order_id}01"),
            "status_update_time": updated_at.timestamp()},
        "timestamp": updated_at.timestamp_millis(), "site": "lazada_vn"})
    .to_string()
}

/// A type-19 IM session update push body (`seller_id` as a number when it is all digits, as
/// in Lazada's sample).
pub fn session_push_body(seller_id: &str, session_id: &str, at: DateTime<Utc>) -> String {
    let seller = seller_id
        .parse::<u64>()
        .map_or_else(|_| json!(seller_id), |n| json!(n));
    json!({"seller_id": seller, "message_type": 19,
        "data": {"sync_type": "SESSION_UPDATE", "user_account_id": seller, "user_account_type": 2,
            "session_id": session_id, "unread_count": 1, "to_position": at.timestamp_millis(),
            "self_position": at.timestamp_millis(), "site_id": "VN"},
        "timestamp": at.timestamp(), "site": "lazada_vn"})
    .to_string()
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
    let is_form = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        params.extend(url::form_urlencoded::parse(&body).into_owned());
    }
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        params,
        idempotency_key: parts
            .headers
            .get("idempotency-key")
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
        .header(http::header::CONTENT_TYPE, "application/json;charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid response")
}

fn ok(state: &mut State, data: Value) -> Reply {
    let rid = format!("sandbox-{}", state.next_id());
    reply(
        StatusCode::OK,
        &json!({"code": "0", "data": data, "request_id": rid}),
    )
}

fn error(state: &mut State, status: u16, kind: &str, code: &str, message: &str) -> Reply {
    let rid = format!("sandbox-{}", state.next_id());
    reply(
        StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
        &json!({"type": kind, "code": code, "message": message, "request_id": rid}),
    )
}

fn isv(state: &mut State, code: &str, message: &str) -> Reply {
    error(state, 200, "ISV", code, message)
}

fn route(shared: &Shared, state: &mut State, req: &RecordedRequest) -> Reply {
    if req.method == "GET" && req.path.trim_end_matches('/') == "/oauth/authorize" {
        return authorize(shared, state, req);
    }
    let Some(api) = req
        .path
        .strip_prefix("/rest")
        .filter(|a| a.starts_with('/'))
    else {
        return reply(StatusCode::NOT_FOUND, &json!({"error": "not found"}));
    };
    if let Err((code, message)) = check_signature(shared, state, req, api) {
        return isv(state, code, message);
    }
    let i = state.failures.iter().position(|(t, _)| match t {
        FailureTarget::Any => true,
        FailureTarget::Api(a) => a == api,
    });
    if let Some((_, f)) = i.and_then(|i| state.failures.remove(i)) {
        let (status, kind, code, message) = f.parts();
        return error(state, status, kind, code, message);
    }
    match api {
        "/auth/token/create" => token_create(state, req),
        "/auth/token/refresh" => token_refresh(state, req),
        _ => {
            if !token_ok(state, req) {
                return isv(
                    state,
                    "IllegalAccessToken",
                    "The specified access token is invalid or expired",
                );
            }
            match api {
                "/seller/get" => seller_get(state),
                "/orders/get" => orders_get(state, req),
                "/order/get" => order_get(state, req),
                "/order/items/get" => order_items_get(state, req),
                "/im/session/list" => session_list(state, req),
                "/im/message/list" => im_list(state, req),
                "/im/message/send" => im_send(state, req),
                _ => isv(state, "InvalidApi", "The specified API is not found"),
            }
        }
    }
}

/// The consent page: the seller consents at once.
fn authorize(shared: &Shared, state: &mut State, req: &RecordedRequest) -> Reply {
    if req.param("client_id") != Some(shared.app_key.as_str()) {
        return reply(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_client", "message": "client_id is not a known app key"}),
        );
    }
    if req.param("response_type") != Some("code") {
        return reply(
            StatusCode::BAD_REQUEST,
            &json!({"error": "unsupported_response_type"}),
        );
    }
    let Some(Ok(mut target)) = req.param("redirect_uri").map(url::Url::parse) else {
        return reply(
            StatusCode::BAD_REQUEST,
            &json!({"error": "invalid_request", "message": "redirect_uri is required"}),
        );
    };
    let code = format!("0_{}_sandboxcode{}", shared.app_key, state.next_id());
    state.codes.insert(code.clone());
    {
        let mut q = target.query_pairs_mut();
        q.append_pair("code", &code);
        if let Some(s) = req.param("state") {
            q.append_pair("state", s);
        }
    }
    Response::builder()
        .status(StatusCode::FOUND)
        .header(http::header::LOCATION, target.as_str())
        .body(Full::new(Bytes::new()))
        .expect("valid response")
}

/// Why a call's signature was refused: Lazada's error code and message.
type Refusal = (&'static str, &'static str);

fn check_signature(
    shared: &Shared,
    state: &State,
    req: &RecordedRequest,
    api: &str,
) -> Result<(), Refusal> {
    let mut seen = HashSet::new();
    if req.params.iter().any(|(k, _)| !seen.insert(k.as_str())) {
        return Err(("IncompleteSignature", "Duplicate parameter"));
    }
    if req.param("app_key") != Some(shared.app_key.as_str()) {
        return Err(("InvalidAppKey", "The specified app key is invalid"));
    }
    if req.param("sign_method") != Some(SIGN_METHOD) {
        return Err(("IncompleteSignature", "Unsupported sign_method"));
    }
    let ts = req.param("timestamp").and_then(|t| t.parse::<i64>().ok());
    let now = Utc::now().timestamp_millis();
    let window = i64::try_from(state.window.as_millis()).unwrap_or(i64::MAX);
    match ts {
        Some(ts) if ts >= super::wire::MS_THRESHOLD && (now - ts).abs() <= window => {}
        _ => {
            return Err((
                "InvalidTimestamp",
                "timestamp must be Unix milliseconds close to the server time",
            ));
        }
    }
    let Some(given) = req.param("sign") else {
        return Err(("IncompleteSignature", "Missing sign"));
    };
    let want = sign(
        &shared.app_secret,
        api,
        req.params.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    );
    if !constant_time_eq(want.as_bytes(), given.as_bytes()) {
        return Err((
            "IncompleteSignature",
            "The request signature does not conform to platform standards",
        ));
    }
    Ok(())
}

/// Whether the call carries an access token the sandbox issued (or a test added), not
/// expired nor revoked. The sandbox has one seller, so every valid token reaches its data.
fn token_ok(state: &State, req: &RecordedRequest) -> bool {
    let token = req.param("access_token").unwrap_or_default();
    state
        .access
        .get(token)
        .is_some_and(|t| t.expires_at > Utc::now())
}

fn issue_tokens(state: &mut State) -> Value {
    let n = state.next_id();
    let access = format!("50000sandbox_access_{n}");
    let refresh = format!("50001sandbox_refresh_{n}");
    let seller = state.seller.clone();
    let now = Utc::now();
    let secs = |s: u64| TimeDelta::seconds(i64::try_from(s).unwrap_or(i64::MAX / 2_000));
    state.access.insert(
        access.clone(),
        Token {
            expires_at: now + secs(state.access_seconds),
        },
    );
    state.refresh.insert(
        refresh.clone(),
        Token {
            expires_at: now + secs(state.refresh_seconds),
        },
    );
    let seller_json = seller
        .seller_id
        .parse::<u64>()
        .map_or_else(|_| json!(seller.seller_id), |n| json!(n));
    let rid = format!("sandbox-{}", state.next_id());
    json!({
        "access_token": access, "refresh_token": refresh,
        "expires_in": state.access_seconds, "refresh_expires_in": state.refresh_seconds,
        "account": "seller@sandbox.lazada.vn", "account_platform": "seller_center",
        "country": seller.country,
        "country_user_info": [{"country": seller.country, "user_id": format!("u{}", seller.seller_id),
            "seller_id": seller_json, "short_code": seller.short_code}],
        "code": "0", "request_id": rid,
    })
}

fn token_create(state: &mut State, req: &RecordedRequest) -> Reply {
    if req.param("access_token").is_some() {
        return isv(
            state,
            "InvalidParameter",
            "access_token is not expected here",
        );
    }
    let code = req.param("code").unwrap_or_default();
    if !state.codes.remove(code) {
        return isv(state, "InvalidCode", "Invalid or used authorization code");
    }
    reply(StatusCode::OK, &issue_tokens(state))
}

fn token_refresh(state: &mut State, req: &RecordedRequest) -> Reply {
    let rt = req.param("refresh_token").unwrap_or_default();
    let valid = state
        .refresh
        .get(rt)
        .is_some_and(|t| t.expires_at > Utc::now());
    if !valid {
        return isv(
            state,
            "IllegalRefreshToken",
            "The specified refresh token is invalid or expired",
        );
    }
    if !state.refresh_reusable {
        state.refresh.remove(rt);
    }
    reply(StatusCode::OK, &issue_tokens(state))
}

fn seller_get(state: &mut State) -> Reply {
    let s = state.seller.clone();
    ok(
        state,
        json!({"seller_id": s.seller_id.parse::<u64>().map_or_else(|_| json!(s.seller_id), |n| json!(n)),
            "name": s.name, "short_code": s.short_code, "location": "Hồ Chí Minh",
            "email": "seller@sandbox.lazada.vn", "verified": true, "cb": false, "status": "ACTIVE"}),
    )
}

fn time_param(req: &RecordedRequest, name: &str) -> Result<Option<DateTime<Utc>>, ()> {
    match req.param(name) {
        None | Some("") => Ok(None),
        Some(s) => DateTime::parse_from_rfc3339(s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| ()),
    }
}

fn orders_get(state: &mut State, req: &RecordedRequest) -> Reply {
    let (Ok(ua), Ok(ub), Ok(ca), Ok(cb)) = (
        time_param(req, "update_after"),
        time_param(req, "update_before"),
        time_param(req, "created_after"),
        time_param(req, "created_before"),
    ) else {
        return isv(
            state,
            "InvalidParameter",
            "Times must be ISO 8601 with an offset",
        );
    };
    if ua.is_none() && ca.is_none() {
        return isv(
            state,
            "MissingParameter",
            "One of created_after and update_after is required",
        );
    }
    let num = |k: &str, d: u32| req.param(k).map_or(Ok(d), |v| v.parse::<u32>());
    let (Ok(limit), Ok(offset)) = (num("limit", MAX_LIMIT), num("offset", 0)) else {
        return isv(state, "InvalidParameter", "limit and offset are numbers");
    };
    if limit == 0 || limit > MAX_LIMIT {
        return isv(state, "InvalidParameter", "limit must be 1 to 100");
    }
    if offset > state.max_offset {
        return isv(
            state,
            "InvalidParameter",
            &format!("offset must not exceed {}", state.max_offset),
        );
    }
    let by_created = req.param("sort_by") == Some("created_at");
    let desc = req.param("sort_direction").is_none_or(|d| d != "ASC");
    let status = req.param("status").filter(|s| *s != "all");
    let mut hits: Vec<&SandboxOrder> = state
        .orders
        .iter()
        .filter(|o| ua.is_none_or(|t| o.updated_at >= t))
        .filter(|o| ub.is_none_or(|t| o.updated_at < t))
        .filter(|o| ca.is_none_or(|t| o.created_at >= t))
        .filter(|o| cb.is_none_or(|t| o.created_at < t))
        .filter(|o| status.is_none_or(|s| o.status == s))
        .collect();
    hits.sort_by_key(|o| {
        (
            if by_created {
                o.created_at
            } else {
                o.updated_at
            },
            o.order_id.clone(),
        )
    });
    if desc {
        hits.reverse();
    }
    let total = hits.len();
    let page: Vec<Value> = hits
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(SandboxOrder::json)
        .collect();
    ok(
        state,
        json!({"count": page.len(), "countTotal": total, "orders": page}),
    )
}

fn order_get(state: &mut State, req: &RecordedRequest) -> Reply {
    let id = req.param("order_id").unwrap_or_default();
    let data = state
        .orders
        .iter()
        .find(|o| o.order_id == id)
        .map_or_else(|| json!({}), SandboxOrder::json);
    ok(state, data)
}

fn order_items_get(state: &mut State, req: &RecordedRequest) -> Reply {
    let id = req.param("order_id").unwrap_or_default();
    let items = state
        .orders
        .iter()
        .find(|o| o.order_id == id)
        .map(SandboxOrder::items_json)
        .unwrap_or_default();
    ok(state, Value::Array(items))
}

fn session_list(state: &mut State, req: &RecordedRequest) -> Reply {
    let start: Option<i64> = req.param("start_time").and_then(|s| s.parse().ok());
    let size: Option<usize> = req.param("page_size").and_then(|s| s.parse().ok());
    let (Some(start), Some(size)) = (start, size) else {
        return isv(
            state,
            "MissingParameter",
            "start_time and page_size are required",
        );
    };
    let size = size.clamp(1, MAX_IM_PAGE);
    let last = req.param("last_session_id").map(str::to_owned);
    // Most recently active first; a page starts at `start_time` and, with
    // `last_session_id`, after it.
    let mut all: Vec<(i64, String, Value)> = state
        .sessions
        .iter()
        .map(|(id, s)| {
            let newest = s.messages.iter().max_by_key(|m| m.send_time_ms);
            let t = newest.map_or(0, |m| m.send_time_ms);
            let summary = newest
                .and_then(|m| serde_json::from_str::<Value>(&m.content).ok())
                .and_then(|c| c.get("txt").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            let unread = s
                .messages
                .iter()
                .filter(|m| m.from_account_type == 1)
                .count();
            let v = json!({"session_id": id, "buyer_id": s.buyer_id.parse::<u64>().map_or_else(|_| json!(s.buyer_id), |n| json!(n)),
                "title": format!("Buyer {}", s.buyer_id), "summary": summary,
                "unread_count": unread, "last_message_time": t, "head_url": ""});
            (t, id.clone(), v)
        })
        .filter(|(t, id, _)| match &last {
            Some(l) => (*t, id) < (start, l),
            None => *t <= start,
        })
        .collect();
    all.sort_by(|a, b| (b.0, &b.1).cmp(&(a.0, &a.1)));
    let has_more = all.len() > size;
    all.truncate(size);
    let mut data = json!({"has_more": has_more});
    if let Some((t, id, _)) = all.last() {
        data["next_start_time"] = json!(t);
        data["last_session_id"] = json!(id);
    }
    data["session_list"] = Value::Array(all.into_iter().map(|(_, _, v)| v).collect());
    ok(state, data)
}

fn im_list(state: &mut State, req: &RecordedRequest) -> Reply {
    let session_id = req.param("session_id").unwrap_or_default().to_owned();
    let start: Option<i64> = req.param("start_time").and_then(|s| s.parse().ok());
    let size: Option<usize> = req.param("page_size").and_then(|s| s.parse().ok());
    let (Some(start), Some(size)) = (start, size) else {
        return isv(
            state,
            "MissingParameter",
            "start_time and page_size are required",
        );
    };
    let size = size.clamp(1, MAX_IM_PAGE);
    let last = req.param("last_message_id").map(str::to_owned);
    let Some(session) = state.sessions.get(&session_id).cloned() else {
        return isv(state, "InvalidSession", "The session does not exist");
    };
    let mut msgs: Vec<&SandboxImMessage> = session.messages.iter().collect();
    // Newest first; a page starts at `start_time` and, with `last_message_id`, after it.
    msgs.sort_by(|a, b| (b.send_time_ms, &b.message_id).cmp(&(a.send_time_ms, &a.message_id)));
    let eligible: Vec<&SandboxImMessage> = msgs
        .into_iter()
        .filter(|m| match &last {
            Some(l) => (m.send_time_ms, &m.message_id) < (start, l),
            None => m.send_time_ms <= start,
        })
        .collect();
    let has_more = eligible.len() > size;
    let page: Vec<&SandboxImMessage> = eligible.into_iter().take(size).collect();
    let oldest = page.last().map(|m| (m.send_time_ms, m.message_id.clone()));
    let list: Vec<Value> = page
        .iter()
        .map(|m| {
            let (from, to) = if m.from_account_type == 1 {
                (session.buyer_id.clone(), state.seller.seller_id.clone())
            } else {
                (state.seller.seller_id.clone(), session.buyer_id.clone())
            };
            json!({"message_id": m.message_id, "template_id": m.template_id,
                "from_account_type": m.from_account_type, "from_account_id": from,
                "to_account_id": to, "content": m.content, "send_time": m.send_time_ms,
                "session_id": session_id})
        })
        .collect();
    let mut data =
        json!({"message_list": list, "has_more": if has_more { "true" } else { "false" }});
    if let Some((t, id)) = oldest {
        data["next_start_time"] = json!(t);
        data["last_message_id"] = json!(id);
    }
    ok(state, data)
}

fn im_send(state: &mut State, req: &RecordedRequest) -> Reply {
    let session_id = req.param("session_id").unwrap_or_default().to_owned();
    if !state.sessions.contains_key(&session_id) {
        return isv(state, "InvalidSession", "The session does not exist");
    }
    if let Some(id) = req
        .idempotency_key
        .as_ref()
        .and_then(|k| state.idempotent.get(k))
        .cloned()
    {
        return ok(state, json!({"message_id": id}));
    }
    let template: i64 = req
        .param("template_id")
        .and_then(|t| t.parse().ok())
        .unwrap_or(0);
    let (field, body) = match template {
        1 => ("txt", req.param("txt")),
        3 => ("img_url", req.param("img_url")),
        _ => return isv(state, "InvalidParameter", "Unsupported template_id"),
    };
    let Some(body) = body.filter(|b| !b.is_empty()).map(str::to_owned) else {
        return isv(state, "MissingParameter", &format!("{field} is required"));
    };
    let id = format!("lzim_{}", state.next_id());
    let now = Utc::now().timestamp_millis();
    if let Some(s) = state.sessions.get_mut(&session_id) {
        s.messages.push(SandboxImMessage {
            message_id: id.clone(),
            from_account_type: 2,
            template_id: template,
            content: json!({ field: body }).to_string(),
            send_time_ms: now,
        });
    }
    state.sent.push(SentImMessage {
        session_id,
        template_id: template,
        body,
        message_id: id.clone(),
    });
    if let Some(k) = &req.idempotency_key {
        state.idempotent.insert(k.clone(), id.clone());
    }
    ok(state, json!({"message_id": id}))
}
