//! A loopback fake of the Shopee Open Platform v2, for tests and `tongdai demo`. It checks
//! every request the way Shopee does (`shared/specs/commerce.md` §1.2–1.8): `partner_id`, a
//! `timestamp` within 5 minutes, the `sign` of the call's API type, and for shop calls an
//! unexpired `access_token` of that `shop_id`. It plays the authorization page (redirect with
//! `code` and `shop_id`, or `main_account_id` for a main account's several shops), token get
//! and refresh (single use per shop; the old access token stays valid for 5 minutes), shop
//! info, order list and detail over seeded orders (optional fields only
//! when asked for), the lost-push store and its confirmation, and seller chat (send, with
//! `Idempotency-Key` dedupe, and message listing). Failures can be queued per path, and
//! [`signed_push`] builds push requests signed like Shopee's.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::api::{
    PATH_AUTH_PARTNER, PATH_CONFIRM_LOST_PUSH, PATH_GET_MESSAGE, PATH_LOST_PUSH, PATH_ORDER_DETAIL,
    PATH_ORDER_LIST, PATH_SEND_MESSAGE, PATH_SHOP_INFO, PATH_TOKEN_GET, PATH_TOKEN_REFRESH,
};
use super::order::ORDER_WINDOW_SECONDS;
use super::sign::{self, ApiScope, push_authorization};
use crate::verify::constant_time_eq;

/// The shop that approves the app on the authorization page unless a test sets another.
pub const SANDBOX_SHOP_ID: u64 = 336_094_210;
/// `expire_in` of access tokens unless a test sets another (4 hours, as Shopee).
pub const DEFAULT_TOKEN_SECONDS: u64 = 14_400;
/// How far a request's `timestamp` may be from the sandbox's clock.
pub const TIMESTAMP_WINDOW_SECONDS: i64 = 300;
/// How long an authorization code is valid.
pub const CODE_SECONDS: i64 = 600;
/// How long the previous access token keeps working after a refresh.
pub const OLD_TOKEN_GRACE_SECONDS: i64 = 300;
/// Most lost pushes one `get_lost_push_message` returns.
pub const LOST_PUSH_PAGE: usize = 100;
/// The fields `get_order_detail` returns without `response_optional_fields`.
pub const DEFAULT_ORDER_FIELDS: [&str; 11] = [
    "order_sn",
    "region",
    "currency",
    "cod",
    "order_status",
    "message_to_seller",
    "create_time",
    "update_time",
    "days_to_ship",
    "ship_by_date",
    "booking_sn",
];

/// One HTTP request the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET` or `POST`.
    pub method: String,
    /// Path, e.g. `/api/v2/order/get_order_list`.
    pub path: String,
    /// Raw query string without `?`.
    pub query: String,
    /// Body, lossily decoded as UTF-8.
    pub body: String,
}

impl RecordedRequest {
    /// The URL-decoded value of query parameter `name`, when present.
    pub fn query_param(&self, name: &str) -> Option<String> {
        url::form_urlencoded::parse(self.query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A shop the sandbox knows (answered by `get_shop_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxShop {
    /// `shop_id`.
    pub shop_id: u64,
    /// `shop_name`.
    pub name: String,
    /// `region`, e.g. `VN`.
    pub region: String,
}

/// An order the sandbox lists and details. `detail` is the full `get_order_detail` object,
/// optional fields included; the sandbox leaves out the ones a request does not ask for.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxOrder {
    /// The shop it belongs to.
    pub shop_id: u64,
    /// The full order object.
    pub detail: Value,
}

impl SandboxOrder {
    /// A VND order of one line (2 × 79,500 đ) with a recipient in Hồ Chí Minh City, COD, an
    /// estimated shipping fee of 30,000 đ and total 189,000 đ. Times are epoch seconds.
    pub fn new(
        shop_id: u64,
        order_sn: &str,
        status: &str,
        create_time: i64,
        update_time: i64,
    ) -> Self {
        let detail = json!({
            "order_sn": order_sn,
            "region": "VN",
            "currency": "VND",
            "cod": true,
            "order_status": status,
            "message_to_seller": "",
            "create_time": create_time,
            "update_time": update_time,
            "days_to_ship": 2,
            "ship_by_date": create_time + 2 * 86_400,
            "booking_sn": "",
            "buyer_user_id": 900_000_000_001u64,
            "buyer_username": "khach_sandbox",
            "estimated_shipping_fee": 30000.0,
            "actual_shipping_fee": 0,
            "note": "",
            "pay_time": null,
            "payment_method": "Cash on Delivery",
            "shipping_carrier": "SPX Express",
            "total_amount": 189000.0,
            "recipient_address": {
                "name": "Nguyễn Văn A", "phone": "******789", "town": "",
                "district": "Phường Bến Nghé", "city": "Quận 1", "state": "TP. Hồ Chí Minh",
                "region": "VN", "zipcode": "700000",
                "full_address": "12 Lê Lợi, Phường Bến Nghé, Quận 1, TP. Hồ Chí Minh"
            },
            "item_list": [{
                "item_id": 2_200_000_000_001u64, "item_name": "Áo thun", "item_sku": "AT",
                "model_id": 3_300_000_000_001u64, "model_name": "Đỏ, L", "model_sku": "AT-RED-L",
                "model_quantity_purchased": 2, "model_original_price": 99000.0,
                "model_discounted_price": 79500.0
            }],
            "package_list": [{
                "package_number": format!("OFG{order_sn}"), "logistics_status": "LOGISTICS_READY",
                "shipping_carrier": "SPX Express", "item_list": []
            }]
        });
        SandboxOrder { shop_id, detail }
    }

    /// The same order with field `key` set to `value`.
    pub fn with(mut self, key: &str, value: Value) -> Self {
        if let Some(o) = self.detail.as_object_mut() {
            o.insert(key.to_owned(), value);
        }
        self
    }

    fn order_sn(&self) -> &str {
        self.detail["order_sn"].as_str().unwrap_or_default()
    }

    fn time(&self, field: &str) -> i64 {
        self.detail[field].as_i64().unwrap_or_default()
    }
}

/// A `send_message` call the sandbox accepted.
#[derive(Debug, Clone, PartialEq)]
pub struct SentChat {
    /// The sending shop.
    pub shop_id: u64,
    /// `to_id`, as decimal text.
    pub to_id: String,
    /// `message_type`.
    pub message_type: String,
    /// `content`, as sent.
    pub content: Value,
    /// The `message_id` answered.
    pub message_id: String,
    /// The conversation it was added to.
    pub conversation_id: String,
    /// The `Idempotency-Key` header, when sent.
    pub idempotency_key: Option<String>,
}

/// How the next matching call fails, as Shopee answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxFailure {
    /// HTTP 403 `error_auth` "Invalid access_token." (an expired or revoked token).
    TokenExpired,
    /// HTTP 429 `error_rate_limit`.
    RateLimited,
    /// HTTP 403 `error_limit`: the app's daily quota is spent until 00:00 UTC+8.
    DailyLimit,
    /// HTTP 403 `error_permission`: the shop is not whitelisted for the chat module.
    ChatNotWhitelisted,
    /// HTTP 500 `error_server`.
    ServerError,
}

/// An access token and the shops it is valid for (several for a fresh main-account grant).
struct TokenInfo {
    shops: Vec<u64>,
    expires_at: i64,
}

/// Who an authorization code was issued to.
#[derive(Clone, PartialEq, Eq)]
enum Grantee {
    Shop(u64),
    Main {
        main_account_id: u64,
        shops: Vec<u64>,
    },
}

impl Grantee {
    fn shops(&self) -> Vec<u64> {
        match self {
            Grantee::Shop(id) => vec![*id],
            Grantee::Main { shops, .. } => shops.clone(),
        }
    }
}

struct CodeInfo {
    grantee: Grantee,
    expires_at: i64,
}

#[derive(Default)]
struct State {
    now: Option<i64>,
    token_seconds: Option<u64>,
    authorizing: Option<Grantee>,
    counter: u64,
    requests: Vec<RecordedRequest>,
    shops: HashMap<u64, SandboxShop>,
    codes: HashMap<String, CodeInfo>,
    access: HashMap<String, TokenInfo>,
    refresh: HashMap<String, Vec<u64>>,
    orders: Vec<SandboxOrder>,
    order_page_size: Option<usize>,
    lost: Vec<(u64, Value)>,
    conversations: HashMap<String, Vec<Value>>,
    conversation_of: HashMap<(u64, String), String>,
    sent: Vec<SentChat>,
    sent_by_key: HashMap<String, Value>,
    failures: VecDeque<(String, SandboxFailure)>,
}

impl State {
    fn now(&self) -> i64 {
        self.now.unwrap_or_else(|| Utc::now().timestamp())
    }
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }
    /// A 32-hex-digit token, unique within this sandbox.
    fn token(&mut self, salt: &str) -> String {
        let n = self.next();
        let digest = Sha256::digest(format!("{salt}:{n}:{:p}", self as *const State).as_bytes());
        hex::encode(&digest[..16])
    }
    /// A token pair valid for `shops` (one shop, or every shop of a main-account grant).
    fn issue(&mut self, shops: Vec<u64>) -> (String, String, u64) {
        let access = self.token("access");
        let refresh = self.token("refresh");
        let secs = self.token_seconds.unwrap_or(DEFAULT_TOKEN_SECONDS);
        let expires_at = self.now() + i64::try_from(secs).unwrap_or(i64::MAX / 2);
        self.access.insert(
            access.clone(),
            TokenInfo {
                shops: shops.clone(),
                expires_at,
            },
        );
        self.refresh.insert(refresh.clone(), shops);
        (access, refresh, secs)
    }
}

struct Shared {
    partner_id: u64,
    partner_key: String,
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

/// Handle to a running fake Shopee on `127.0.0.1`. Cheap to clone; the server stops when
/// [`ShopeeSandbox::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct ShopeeSandbox {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for ShopeeSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShopeeSandbox")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl ShopeeSandbox {
    /// Bind `127.0.0.1:0` and serve the app `partner_id` signed with `partner_key`, on a
    /// spawned tokio task. The shop [`SANDBOX_SHOP_ID`] ("Shop Sandbox") is known.
    pub async fn start(partner_id: u64, partner_key: &str) -> std::io::Result<ShopeeSandbox> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            partner_id,
            partner_key: partner_key.to_owned(),
            state: Mutex::new(State::default()),
        });
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, Arc::clone(&shared), stop_rx));
        let sandbox = ShopeeSandbox {
            inner: Arc::new(Handle { addr, shared, stop }),
        };
        sandbox.add_shop(SandboxShop {
            shop_id: SANDBOX_SHOP_ID,
            name: "Shop Sandbox".to_owned(),
            region: "VN".to_owned(),
        });
        Ok(sandbox)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.shared.state()
    }

    /// `http://127.0.0.1:<port>`: the API base and the authorization host.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Pretend the time is `now` (epoch seconds) for timestamps and expiries (`None`: the
    /// real clock).
    pub fn set_now(&self, now: Option<i64>) {
        self.state().now = now;
    }

    /// `expire_in` of access tokens issued from now on.
    pub fn set_token_seconds(&self, secs: u64) {
        self.state().token_seconds = Some(secs);
    }

    /// The shop that approves the app on the authorization page.
    pub fn set_authorizing_shop(&self, shop_id: u64) {
        self.state().authorizing = Some(Grantee::Shop(shop_id));
    }

    /// A main account approves the app for several shops: the page redirects with
    /// `main_account_id`, the token answer lists the shops in `shop_id_list`, and the one
    /// token pair works for all of them until a refresh gives each shop its own.
    pub fn set_authorizing_main_account(&self, main_account_id: u64, shops: &[u64]) {
        self.state().authorizing = Some(Grantee::Main {
            main_account_id,
            shops: shops.to_vec(),
        });
    }

    /// A shop `get_shop_info` answers for.
    pub fn add_shop(&self, shop: SandboxShop) {
        self.state().shops.insert(shop.shop_id, shop);
    }

    /// Tokens for `shop_id` without the authorization page: `(access, refresh)`.
    pub fn issue_tokens(&self, shop_id: u64) -> (String, String) {
        let (a, r, _) = self.state().issue(vec![shop_id]);
        (a, r)
    }

    /// Make an access token invalid from now on (as if it expired).
    pub fn expire_access_token(&self, token: &str) {
        let mut s = self.state();
        let now = s.now();
        if let Some(t) = s.access.get_mut(token) {
            t.expires_at = now - 1;
        }
    }

    /// Add or replace (by `order_sn`) an order.
    pub fn add_order(&self, order: SandboxOrder) {
        let mut s = self.state();
        s.orders.retain(|o| o.order_sn() != order.order_sn());
        s.orders.push(order);
    }

    /// The most order ids one `get_order_list` page holds, whatever `page_size` asks.
    pub fn set_order_page_size(&self, n: usize) {
        self.state().order_page_size = Some(n.max(1));
    }

    /// Store a push Shopee "could not deliver" (`{shop_id, code, timestamp, data}`; `data`
    /// is kept as a JSON string, as `get_lost_push_message` returns it). Returns its id.
    pub fn add_lost_push(&self, shop_id: u64, code: i64, timestamp: i64, data: &Value) -> u64 {
        let mut s = self.state();
        let id = 1_000 + s.next();
        let message = json!({"shop_id": shop_id, "code": code, "timestamp": timestamp, "data": data.to_string()});
        s.lost.push((id, message));
        id
    }

    /// How many lost pushes are still unconfirmed.
    pub fn lost_push_count(&self) -> usize {
        self.state().lost.len()
    }

    /// Add a message (a `get_message` item) to a conversation.
    pub fn add_chat_message(&self, conversation_id: &str, message: Value) {
        self.state()
            .conversations
            .entry(conversation_id.to_owned())
            .or_default()
            .push(message);
    }

    /// Every accepted `send_message`, in order.
    pub fn sent_chats(&self) -> Vec<SentChat> {
        self.state().sent.clone()
    }

    /// Make the next request to `path` (e.g. [`PATH_SEND_MESSAGE`]) fail as `f`, after its
    /// signature was checked. Queued failures are used first-in first-out.
    pub fn push_failure(&self, path: &str, f: SandboxFailure) {
        self.state().failures.push_back((path.to_owned(), f));
    }

    /// A push of `body` to `callback_url` as Shopee sends it: the body bytes and the
    /// `Authorization` value.
    pub fn push_request(&self, callback_url: &str, body: &str) -> (Vec<u8>, String) {
        signed_push(&self.inner.shared.partner_key, callback_url, body)
    }

    /// Stop accepting connections and close the open ones.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }
}

/// A push of `body` to `callback_url` signed with `partner_key`: the bytes and the
/// `Authorization` header value.
pub fn signed_push(partner_key: &str, callback_url: &str, body: &str) -> (Vec<u8>, String) {
    let auth = push_authorization(partner_key, callback_url, body.as_bytes());
    (body.as_bytes().to_vec(), auth)
}

/// An order status push (code 3) in the field order Shopee uses (§1.5.6).
pub fn order_status_push(
    shop_id: u64,
    msg_id: &str,
    order_sn: &str,
    status: &str,
    update_time: i64,
) -> String {
    format!(
        r#"{{"msg_id":"{msg_id}","data":{{"completed_scenario":null,"items":[],"ordersn":"{order_sn}","status":"{status}","update_time":{update_time}}},"shop_id":{shop_id},"code":3,"timestamp":{}}}"#,
        update_time + 1
    )
}

/// A webchat push (code 10) of a buyer's text message, ids as Shopee writes them.
pub fn chat_push(
    shop_id: u64,
    message_id: &str,
    conversation_id: &str,
    buyer_id: u64,
    buyer_name: &str,
    text: &str,
    created: i64,
) -> String {
    let body = json!({
        "msg_id": format!("{:032x}", u128::from(buyer_id) * 31 + u128::from(shop_id)),
        "data": {"type": "message", "region": "VN", "content": {
            "message_id": message_id, "shop_id": shop_id, "request_id": "sandbox",
            "from_id": buyer_id, "from_user_name": buyer_name, "to_id": shop_id,
            "to_user_name": "shop", "message_type": "text", "content": {"text": text},
            "conversation_id": conversation_id, "created_timestamp": created, "region": "VN",
            "is_in_chatbot_session": false, "source_content": {},
            "quoted_msg": {"message_id": ""}, "sub_account_id": 0, "sub_account_name": 0}},
        "shop_id": shop_id, "code": 10, "timestamp": created
    });
    body.to_string()
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
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().unwrap_or_default().to_owned(),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut state = shared.state();
    state.requests.push(recorded.clone());
    Ok(route(&shared, &mut state, &recorded, key))
}

fn answer(status: StatusCode, body: &Value) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    resp
}

fn error(status: StatusCode, error: &str, message: &str) -> Reply {
    answer(
        status,
        &json!({"request_id": "sandbox", "error": error, "message": message}),
    )
}

fn error_param(message: &str) -> Reply {
    error(StatusCode::BAD_REQUEST, "error_param", message)
}

fn ok(response: Value) -> Reply {
    answer(
        StatusCode::OK,
        &json!({"request_id": "sandbox", "error": "", "message": "", "response": response}),
    )
}

fn failure_reply(f: SandboxFailure) -> Reply {
    match f {
        SandboxFailure::TokenExpired => {
            error(StatusCode::FORBIDDEN, "error_auth", "Invalid access_token.")
        }
        SandboxFailure::RateLimited => error(
            StatusCode::TOO_MANY_REQUESTS,
            "error_rate_limit",
            "Too many requests, please try again later.",
        ),
        SandboxFailure::DailyLimit => error(
            StatusCode::FORBIDDEN,
            "error_limit",
            "You have reached the daily API call limit, please try again after 00:00 (UTC+08:00).",
        ),
        SandboxFailure::ChatNotWhitelisted => error(
            StatusCode::FORBIDDEN,
            "error_permission",
            "This partner is not in the whitelist of the chat module.",
        ),
        SandboxFailure::ServerError => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "error_server",
            "Internal error, please retry.",
        ),
    }
}

fn is_public(path: &str) -> bool {
    matches!(
        path,
        PATH_AUTH_PARTNER
            | PATH_TOKEN_GET
            | PATH_TOKEN_REFRESH
            | PATH_LOST_PUSH
            | PATH_CONFIRM_LOST_PUSH
    )
}

/// Check the common parameters and the sign; for shop calls also the token. Returns the shop.
// The error is the reply to send as is; boxing it buys nothing in a test fake.
#[allow(clippy::result_large_err)]
fn authenticate(
    shared: &Shared,
    state: &State,
    req: &RecordedRequest,
) -> Result<Option<u64>, Reply> {
    let q = |k: &str| req.query_param(k).unwrap_or_default();
    let Ok(partner_id) = q("partner_id").parse::<u64>() else {
        return Err(error_param(
            "partner_id is required and must be an integer.",
        ));
    };
    if partner_id != shared.partner_id {
        return Err(error_param("No partner_id matched."));
    }
    let Ok(ts) = q("timestamp").parse::<i64>() else {
        return Err(error_param("timestamp is required and must be an integer."));
    };
    if (state.now() - ts).abs() > TIMESTAMP_WINDOW_SECONDS {
        return Err(error_param("Timestamp is expired."));
    }
    let given = q("sign");
    let (scope, shop) = if is_public(&req.path) {
        (None, None)
    } else {
        let Ok(shop_id) = q("shop_id").parse::<u64>() else {
            return Err(error_param("shop_id is required and must be an integer."));
        };
        (Some(q("access_token")), Some(shop_id))
    };
    let want = match (&scope, shop) {
        (Some(token), Some(shop_id)) => sign::sign(
            &shared.partner_key,
            partner_id,
            &req.path,
            ts,
            ApiScope::Shop {
                access_token: token,
                shop_id,
            },
        ),
        _ => sign::sign(
            &shared.partner_key,
            partner_id,
            &req.path,
            ts,
            ApiScope::Public,
        ),
    };
    if !constant_time_eq(want.as_bytes(), given.as_bytes()) {
        return Err(error(StatusCode::FORBIDDEN, "error_sign", "Wrong sign."));
    }
    if let (Some(token), Some(shop_id)) = (&scope, shop) {
        let valid = state
            .access
            .get(token)
            .is_some_and(|t| t.shops.contains(&shop_id) && t.expires_at > state.now());
        if !valid {
            return Err(error(
                StatusCode::FORBIDDEN,
                "error_auth",
                "Invalid access_token.",
            ));
        }
    }
    Ok(shop)
}

fn route(shared: &Shared, state: &mut State, req: &RecordedRequest, key: Option<String>) -> Reply {
    let known = [
        ("GET", PATH_AUTH_PARTNER),
        ("POST", PATH_TOKEN_GET),
        ("POST", PATH_TOKEN_REFRESH),
        ("GET", PATH_SHOP_INFO),
        ("GET", PATH_ORDER_LIST),
        ("GET", PATH_ORDER_DETAIL),
        ("GET", PATH_LOST_PUSH),
        ("POST", PATH_CONFIRM_LOST_PUSH),
        ("POST", PATH_SEND_MESSAGE),
        ("GET", PATH_GET_MESSAGE),
    ];
    if !known.contains(&(req.method.as_str(), req.path.as_str())) {
        return error(
            StatusCode::NOT_FOUND,
            "error_not_found",
            "Wrong API path or method.",
        );
    }
    let shop = match authenticate(shared, state, req) {
        Ok(shop) => shop,
        Err(reply) => return reply,
    };
    if let Some(i) = state.failures.iter().position(|(p, _)| *p == req.path)
        && let Some((_, f)) = state.failures.remove(i)
    {
        return failure_reply(f);
    }
    let shop = shop.unwrap_or_default();
    match req.path.as_str() {
        PATH_AUTH_PARTNER => auth_page(state, req),
        PATH_TOKEN_GET => token_get(shared, state, req),
        PATH_TOKEN_REFRESH => token_refresh(shared, state, req),
        PATH_SHOP_INFO => shop_info(state, shop),
        PATH_ORDER_LIST => order_list(state, req, shop),
        PATH_ORDER_DETAIL => order_detail(state, req, shop),
        PATH_LOST_PUSH => lost_push(state),
        PATH_CONFIRM_LOST_PUSH => confirm_lost(state, req),
        PATH_SEND_MESSAGE => send_message(state, req, shop, key),
        _ => get_message(state, req),
    }
}

fn auth_page(state: &mut State, req: &RecordedRequest) -> Reply {
    let Some(Ok(mut target)) = req.query_param("redirect").map(|r| url::Url::parse(&r)) else {
        return error_param("redirect is required and must be a URL.");
    };
    let grantee = state
        .authorizing
        .clone()
        .unwrap_or(Grantee::Shop(SANDBOX_SHOP_ID));
    let code = state.token("code");
    let expires_at = state.now() + CODE_SECONDS;
    let (who, id) = match &grantee {
        Grantee::Shop(id) => ("shop_id", *id),
        Grantee::Main {
            main_account_id, ..
        } => ("main_account_id", *main_account_id),
    };
    state.codes.insert(
        code.clone(),
        CodeInfo {
            grantee,
            expires_at,
        },
    );
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair(who, &id.to_string());
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = http::HeaderValue::from_str(target.as_str()) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp
}

fn body_u64(body: &Value, k: &str) -> Option<u64> {
    body.get(k).and_then(Value::as_u64)
}

fn token_answer(access: &str, refresh: &str, secs: u64, extra: Map<String, Value>) -> Reply {
    let mut body = json!({"request_id": "sandbox", "error": "", "message": "",
        "access_token": access, "refresh_token": refresh, "expire_in": secs});
    if let Some(o) = body.as_object_mut() {
        o.extend(extra);
    }
    answer(StatusCode::OK, &body)
}

fn token_get(shared: &Shared, state: &mut State, req: &RecordedRequest) -> Reply {
    let body = req.json();
    if body_u64(&body, "partner_id") != Some(shared.partner_id) {
        return error_param("partner_id in the body is required and must match.");
    }
    let code = body.get("code").and_then(Value::as_str).unwrap_or_default();
    let claimed = match (
        body_u64(&body, "shop_id"),
        body_u64(&body, "main_account_id"),
    ) {
        (Some(shop), None) => ("shop", shop),
        (None, Some(main)) => ("main", main),
        _ => return error_param("Exactly one of shop_id and main_account_id is required."),
    };
    let now = state.now();
    // A code is single use: taken out whatever the outcome.
    let grantee = match state.codes.remove(code) {
        Some(c) if c.expires_at > now => c.grantee,
        _ => return error(StatusCode::FORBIDDEN, "error_auth", "Invalid code."),
    };
    let matches = match (&grantee, claimed) {
        (Grantee::Shop(id), ("shop", given)) => *id == given,
        (
            Grantee::Main {
                main_account_id, ..
            },
            ("main", given),
        ) => *main_account_id == given,
        _ => false,
    };
    if !matches {
        return error(StatusCode::FORBIDDEN, "error_auth", "Invalid code.");
    }
    let shops = grantee.shops();
    let (a, r, secs) = state.issue(shops.clone());
    let mut extra = Map::new();
    extra.insert("shop_id_list".to_owned(), json!(shops));
    extra.insert("merchant_id_list".to_owned(), json!([]));
    token_answer(&a, &r, secs, extra)
}

fn token_refresh(shared: &Shared, state: &mut State, req: &RecordedRequest) -> Reply {
    let body = req.json();
    if body_u64(&body, "partner_id") != Some(shared.partner_id) {
        return error_param("partner_id in the body is required and must match.");
    }
    let Some(shop_id) = body_u64(&body, "shop_id") else {
        return error_param("shop_id is required.");
    };
    let token = body
        .get("refresh_token")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !state
        .refresh
        .get(token)
        .is_some_and(|shops| shops.contains(&shop_id))
    {
        return error(
            StatusCode::FORBIDDEN,
            "error_param",
            "Invalid refresh_token.",
        );
    }
    // Single use per shop: a main-account refresh token still serves its other shops.
    if let Some(shops) = state.refresh.get_mut(token) {
        shops.retain(|s| *s != shop_id);
        if shops.is_empty() {
            state.refresh.remove(token);
        }
    }
    // The shop's current access tokens keep working for five more minutes.
    let grace = state.now() + OLD_TOKEN_GRACE_SECONDS;
    for t in state
        .access
        .values_mut()
        .filter(|t| t.shops.contains(&shop_id))
    {
        t.expires_at = t.expires_at.min(grace);
    }
    // From the first refresh on, each shop of a main-account grant has its own pair.
    let (a, r, secs) = state.issue(vec![shop_id]);
    let mut extra = Map::new();
    extra.insert("shop_id".to_owned(), json!(shop_id));
    extra.insert("partner_id".to_owned(), json!(shared.partner_id));
    token_answer(&a, &r, secs, extra)
}

fn shop_info(state: &State, shop_id: u64) -> Reply {
    let Some(shop) = state.shops.get(&shop_id) else {
        return error(StatusCode::FORBIDDEN, "error_auth", "Shop not found.");
    };
    answer(
        StatusCode::OK,
        &json!({"request_id": "sandbox", "error": "", "message": "",
            "shop_name": shop.name, "region": shop.region, "status": "NORMAL",
            "is_cb": false, "auth_time": 1_700_000_000, "expire_time": 1_731_536_000}),
    )
}

fn order_list(state: &State, req: &RecordedRequest, shop: u64) -> Reply {
    let q = |k: &str| req.query_param(k).unwrap_or_default();
    let field = q("time_range_field");
    if field != "create_time" && field != "update_time" {
        return error_param("time_range_field must be create_time or update_time.");
    }
    let (Ok(from), Ok(to)) = (q("time_from").parse::<i64>(), q("time_to").parse::<i64>()) else {
        return error_param("time_from and time_to are required.");
    };
    if to < from || to - from > ORDER_WINDOW_SECONDS {
        return error(
            StatusCode::BAD_REQUEST,
            "order.order_list_invalid_time",
            "The time range is invalid: at most 15 days.",
        );
    }
    let Ok(page_size) = q("page_size").parse::<usize>() else {
        return error_param("page_size is required.");
    };
    if !(1..=100).contains(&page_size) {
        return error_param("page_size must be between 1 and 100.");
    }
    let cursor = q("cursor");
    let Ok(offset) = (if cursor.is_empty() {
        Ok(0)
    } else {
        cursor.parse::<usize>()
    }) else {
        return error_param("Invalid cursor.");
    };
    let size = page_size.min(state.order_page_size.unwrap_or(100));
    let mut matching: Vec<&SandboxOrder> = state
        .orders
        .iter()
        .filter(|o| o.shop_id == shop && (from..=to).contains(&o.time(&field)))
        .collect();
    matching.sort_by(|a, b| (a.time(&field), a.order_sn()).cmp(&(b.time(&field), b.order_sn())));
    let page: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(size)
        .map(|o| json!({"order_sn": o.order_sn(), "order_status": o.detail["order_status"]}))
        .collect();
    let more = offset + page.len() < matching.len();
    ok(json!({
        "more": more,
        "next_cursor": if more { (offset + page.len()).to_string() } else { String::new() },
        "order_list": page,
    }))
}

fn order_detail(state: &State, req: &RecordedRequest, shop: u64) -> Reply {
    let list = req.query_param("order_sn_list").unwrap_or_default();
    let wanted: Vec<&str> = list.split(',').filter(|s| !s.is_empty()).collect();
    if wanted.is_empty() || wanted.len() > 50 {
        return error_param("order_sn_list must hold 1 to 50 order_sn.");
    }
    let optional = req
        .query_param("response_optional_fields")
        .unwrap_or_default();
    let optional: Vec<&str> = optional.split(',').map(str::trim).collect();
    let orders: Vec<Value> = wanted
        .iter()
        .filter_map(|sn| {
            state
                .orders
                .iter()
                .find(|o| o.shop_id == shop && o.order_sn() == *sn)
        })
        .map(|o| {
            let mut out = Map::new();
            if let Some(obj) = o.detail.as_object() {
                for (k, v) in obj {
                    if DEFAULT_ORDER_FIELDS.contains(&k.as_str()) || optional.contains(&k.as_str())
                    {
                        out.insert(k.clone(), v.clone());
                    }
                }
            }
            Value::Object(out)
        })
        .collect();
    ok(json!({ "order_list": orders }))
}

fn lost_push(state: &State) -> Reply {
    let page: Vec<&(u64, Value)> = state.lost.iter().take(LOST_PUSH_PAGE).collect();
    let last = page.last().map(|(id, _)| *id).unwrap_or_default();
    ok(json!({
        "push_message_list": page.iter().map(|(_, m)| m.clone()).collect::<Vec<_>>(),
        "has_next_page": state.lost.len() > page.len(),
        "last_message_id": last,
    }))
}

fn confirm_lost(state: &mut State, req: &RecordedRequest) -> Reply {
    let Some(last) = body_u64(&req.json(), "last_message_id") else {
        return error_param("last_message_id is required and must be an integer.");
    };
    state.lost.retain(|(id, _)| *id > last);
    ok(json!({}))
}

fn send_message(state: &mut State, req: &RecordedRequest, shop: u64, key: Option<String>) -> Reply {
    if let Some(previous) = key.as_ref().and_then(|k| state.sent_by_key.get(k)) {
        return ok(previous.clone());
    }
    let body = req.json();
    let Some(to_id) = body_u64(&body, "to_id") else {
        return error_param("to_id is required and must be an integer.");
    };
    let kind = body
        .get("message_type")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let content = body.get("content").cloned().unwrap_or(Value::Null);
    let needs = match kind.as_str() {
        "text" => "text",
        "image" => "image_url",
        "sticker" => "sticker_id",
        "item" => "item_id",
        "order" => "order_sn",
        _ => return error_param("message_type is invalid."),
    };
    let present = content.get(needs).is_some_and(|v| match v {
        Value::String(s) => !s.trim().is_empty(),
        Value::Null => false,
        _ => true,
    });
    if !present {
        return error_param(&format!("content.{needs} is required."));
    }
    let n = state.next();
    let message_id = (2_302_748_948_493_000_000u64 + n).to_string();
    let conv_key = (shop, to_id.to_string());
    let next_conv = 709_122_092_476_686_000u64 + state.conversation_of.len() as u64;
    let conversation_id = state
        .conversation_of
        .entry(conv_key)
        .or_insert_with(|| next_conv.to_string())
        .clone();
    let created = state.now();
    let stored = json!({
        "message_id": message_id, "from_id": shop, "from_shop_id": shop, "to_id": to_id,
        "to_shop_id": 0, "message_type": kind, "content": content,
        "conversation_id": conversation_id, "created_timestamp": created
    });
    state
        .conversations
        .entry(conversation_id.clone())
        .or_default()
        .push(stored);
    let response = json!({
        "message_id": message_id, "to_id": to_id, "message_type": kind, "content": content,
        "conversation_id": conversation_id, "created_timestamp": created, "message_option": 0
    });
    if let Some(k) = &key {
        state.sent_by_key.insert(k.clone(), response.clone());
    }
    state.sent.push(SentChat {
        shop_id: shop,
        to_id: to_id.to_string(),
        message_type: kind,
        content,
        message_id,
        conversation_id,
        idempotency_key: key,
    });
    ok(response)
}

fn get_message(state: &State, req: &RecordedRequest) -> Reply {
    let Some(conv) = req.query_param("conversation_id").filter(|c| !c.is_empty()) else {
        return error_param("conversation_id is required.");
    };
    let size = req
        .query_param("page_size")
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(25)
        .clamp(1, 50);
    let Ok(offset) = req
        .query_param("offset")
        .map_or(Ok(0), |o| o.parse::<usize>())
    else {
        return error_param("Invalid offset.");
    };
    let mut all: Vec<Value> = state.conversations.get(&conv).cloned().unwrap_or_default();
    // Newest first, as the chat lists them.
    all.sort_by_key(|m| std::cmp::Reverse(m["created_timestamp"].as_i64().unwrap_or_default()));
    let page: Vec<Value> = all.iter().skip(offset).take(size).cloned().collect();
    let more = offset + page.len() < all.len();
    ok(json!({
        "messages": page,
        "page_result": {"page_size": size, "has_more": more,
            "next_offset": if more { (offset + size).to_string() } else { String::new() }},
    }))
}
