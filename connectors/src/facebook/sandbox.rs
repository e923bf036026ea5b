//! A loopback fake of the Graph API, for tests and `tongdai demo`. It answers the way Facebook
//! does (success bodies, Graph error JSON, paging, usage headers) and enforces the rules of
//! `shared/specs/social.md` §2.6–2.9 and §3.2: the Send API's messaging windows and private
//! replies, comment replies / hiding / deletion, the Facebook Login dialog and token
//! exchanges, `/me/accounts`, Page subscriptions, profiles, posts and media, conversation and
//! comment listings (nested `messages`, `comments` and `replies` paged like Graph's, with their
//! edges `/{conversation}/messages`, `/{post}/comments`, `/{comment}/replies`), and
//! `appsecret_proof`. Tests configure what the fake user, Pages and customers look like, queue
//! failures per path, and read back what the sandbox recorded. It also serves registered bytes
//! under `/cdn/{name}` and builds webhook bodies byte-for-byte in the form Meta sends them.
//!
//! Unknown tokens, customers and Pages are accepted (the hub's tests send without setting
//! anything up); the rules apply to what a test registered.

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

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

use super::appsecret_proof;
use super::wire::meta_escape;
use crate::outbound::{
    HUMAN_AGENT_WINDOW, MAX_QUICK_REPLIES, PRIVATE_REPLY_WINDOW, STANDARD_WINDOW,
};
use crate::types::Platform;
use crate::verify::constant_time_eq;

/// The version segment of [`GraphSandbox::base_url`].
pub const GRAPH_VERSION: &str = "v21.0";
/// `estimated_time_to_regain_access` (minutes) the sandbox reports for
/// [`SandboxFailure::RateLimited`].
pub const RATE_LIMIT_MINUTES: u64 = 5;
/// The id of the user who logs in through the sandbox's dialog (see [`GraphSandbox::set_user`]).
pub const SANDBOX_USER_ID: &str = "10160000000000001";
/// Items per page of every listing unless a test or the request's `limit` says otherwise.
pub const DEFAULT_PAGE_SIZE: usize = 25;
/// `expires_in` of a user token from the code exchange (seconds).
pub const SHORT_TOKEN_SECONDS: u64 = 5_400;
/// `expires_in` of a long-lived user token (seconds, about 60 days).
pub const LONG_TOKEN_SECONDS: u64 = 5_183_944;
/// The longest `message.text` the Send API accepts, in characters.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// The Page webhook fields `subscribed_apps` accepts.
pub const KNOWN_PAGE_FIELDS: [&str; 17] = [
    "messages",
    "messaging_postbacks",
    "message_echoes",
    "message_deliveries",
    "message_reads",
    "messaging_referrals",
    "message_reactions",
    "message_edits",
    "messaging_optins",
    "messaging_handovers",
    "messaging_policy_enforcement",
    "messaging_account_linking",
    "standby",
    "inbox_labels",
    "feed",
    "mention",
    "message_context",
];
/// The most items a page of a nested list (a conversation's `messages`, a post's `comments`,
/// a comment's `replies`) or of its edge holds, whatever `limit` asks, unless a test sets
/// another with [`GraphSandbox::set_nested_page_size`]. Without `limit`, such a page holds
/// [`DEFAULT_PAGE_SIZE`] items.
pub const MAX_NESTED_PAGE_SIZE: usize = 100;

/// One HTTP request the sandbox received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path, e.g. `/v21.0/105123456789012/messages`.
    pub path: String,
    /// Raw query string without `?`; empty when there was none.
    pub query: String,
    /// `Content-Type` header, when sent.
    pub content_type: Option<String>,
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

    /// The URL-decoded value of `name` in the query or, for a form body, in the body.
    pub fn param(&self, name: &str) -> Option<String> {
        self.query_param(name).or_else(|| {
            self.is_form()
                .then(|| {
                    url::form_urlencoded::parse(self.body.as_bytes())
                        .find(|(k, _)| k == name)
                        .map(|(_, v)| v.into_owned())
                })
                .flatten()
        })
    }

    fn is_form(&self) -> bool {
        self.content_type
            .as_deref()
            .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    }

    /// The path without the version prefix and surrounding slashes, e.g. `105/messages`.
    pub fn graph_path(&self) -> String {
        graph_path(&self.path)
    }
}

/// A Send API call the sandbox accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMessage {
    /// The node from the path; `me` resolved to the Page when the token is a registered Page
    /// token (kept as `me` otherwise).
    pub page_id: String,
    /// `recipient.id`; for a private reply, the commenter when the comment is registered
    /// (else empty).
    pub recipient_id: String,
    /// `message.text`; empty for an attachment.
    pub text: String,
    /// `messaging_type` (`RESPONSE`, `UPDATE`, `MESSAGE_TAG`; `RESPONSE` when a private reply
    /// left it out).
    pub messaging_type: String,
    /// `tag`, for `MESSAGE_TAG` sends.
    pub tag: Option<String>,
    /// The `message_id` the sandbox answered with (`m_sandbox_<n>`).
    pub message_id: String,
    /// `recipient.comment_id`, for a private reply.
    pub comment_id: Option<String>,
    /// `message.attachment`, for a media message.
    pub attachment: Option<SentAttachment>,
    /// `message.quick_replies`.
    pub quick_replies: Vec<SentQuickReply>,
    /// The `Idempotency-Key` header, when sent.
    pub idempotency_key: Option<String>,
}

/// `message.attachment` of an accepted send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentAttachment {
    /// `image`, `video`, `audio`, `file`.
    pub kind: String,
    /// `payload.url`.
    pub url: String,
    /// `payload.is_reusable`.
    pub is_reusable: bool,
}

/// One `message.quick_replies[]` button of an accepted send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentQuickReply {
    /// `title`.
    pub title: String,
    /// `payload`.
    pub payload: String,
}

/// How the next matching call fails, as Facebook would answer it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SandboxFailure {
    /// HTTP 400, `OAuthException` code 190 subcode 463: the token expired.
    TokenExpired,
    /// HTTP 400, code 32 (Page request limit), with an `X-Business-Use-Case-Usage` header whose
    /// `estimated_time_to_regain_access` is [`RATE_LIMIT_MINUTES`].
    RateLimited,
    /// HTTP 400, code 4 (application request limit), with `X-App-Usage` at 100% and no
    /// business-use-case header.
    AppRateLimited,
    /// HTTP 500, code 2 (unexpected error, retry later).
    ServerError,
    /// HTTP 500, code 1 (unknown error).
    UnknownError,
    /// HTTP 400, code 10 subcode 2018278: sent outside the allowed messaging window.
    OutsideWindow,
    /// HTTP 403, code 200: a permission the call needs was not granted.
    PermissionDenied,
    /// Any Graph error: HTTP status, code and sub code.
    Graph {
        /// HTTP status.
        status: u16,
        /// `error.code`.
        code: i64,
        /// `error.error_subcode`.
        subcode: Option<i64>,
    },
}

/// A comment moderation call the sandbox accepted, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Moderation {
    /// A public reply (`POST /{id}/comments` or `/{id}/replies`).
    Reply {
        /// The comment replied to.
        comment_id: String,
        /// `comments` (Facebook) or `replies` (Instagram).
        edge: String,
        /// The reply text.
        message: String,
        /// The id the sandbox answered with.
        reply_id: String,
    },
    /// `POST /{id}` with `is_hidden` (Facebook) or `hide` (Instagram).
    SetHidden {
        /// The comment.
        comment_id: String,
        /// The parameter used.
        param: String,
        /// The new state.
        hidden: bool,
    },
    /// `DELETE /{id}`.
    Delete {
        /// The deleted comment.
        comment_id: String,
    },
}

/// Usage headers to put on answers (`X-App-Usage`, `X-Business-Use-Case-Usage`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UsageHeaders {
    /// The `X-App-Usage` JSON.
    pub app: Option<Value>,
    /// The `X-Business-Use-Case-Usage` JSON.
    pub buc: Option<Value>,
}

impl UsageHeaders {
    /// `X-App-Usage: {"call_count":…,"total_time":…,"total_cputime":…}`.
    pub fn app(call_count: u32, total_time: u32, total_cputime: u32) -> Self {
        UsageHeaders {
            app: Some(json!({
                "call_count": call_count,
                "total_time": total_time,
                "total_cputime": total_cputime,
            })),
            buc: None,
        }
    }

    /// `X-Business-Use-Case-Usage` for one account: `{account: [{type, call_count, …,
    /// estimated_time_to_regain_access}]}` (minutes).
    pub fn buc(account_id: &str, call_count: u32, regain_minutes: u32) -> Self {
        let mut map = serde_json::Map::new();
        map.insert(
            account_id.to_owned(),
            json!([{
                "type": "messenger",
                "call_count": call_count,
                "total_cputime": 1,
                "total_time": 1,
                "estimated_time_to_regain_access": regain_minutes,
            }]),
        );
        UsageHeaders {
            app: None,
            buc: Some(Value::Object(map)),
        }
    }
}

/// The Instagram professional account linked to a [`SandboxPage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxInstagram {
    /// The Instagram account id.
    pub id: String,
    /// `username`.
    pub username: String,
    /// Display name.
    pub name: Option<String>,
    /// Profile picture URL.
    pub profile_picture_url: Option<String>,
}

impl SandboxInstagram {
    /// An account with an id and a username.
    pub fn new(id: &str, username: &str) -> Self {
        SandboxInstagram {
            id: id.to_owned(),
            username: username.to_owned(),
            name: None,
            profile_picture_url: None,
        }
    }
}

/// A Page the sandbox user manages (listed by `/me/accounts`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPage {
    /// The Page id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its Page token; calls with it act as the Page (`me` = the Page).
    pub access_token: String,
    /// Its category.
    pub category: String,
    /// The user's tasks on it.
    pub tasks: Vec<String>,
    /// Its linked Instagram account.
    pub instagram: Option<SandboxInstagram>,
}

impl SandboxPage {
    /// A Page with every task (`MANAGE`, `CREATE_CONTENT`, `MODERATE`, `MESSAGING`, …).
    pub fn new(id: &str, name: &str, access_token: &str) -> Self {
        SandboxPage {
            id: id.to_owned(),
            name: name.to_owned(),
            access_token: access_token.to_owned(),
            category: "Clothing Store".to_owned(),
            tasks: [
                "ANALYZE",
                "ADVERTISE",
                "MESSAGING",
                "MODERATE",
                "CREATE_CONTENT",
                "MANAGE",
            ]
            .map(str::to_owned)
            .to_vec(),
            instagram: None,
        }
    }

    /// The same Page with a linked Instagram account.
    pub fn with_instagram(mut self, ig: SandboxInstagram) -> Self {
        self.instagram = Some(ig);
        self
    }
}

/// A person's profile as `GET /{psid|igsid}` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SandboxProfile {
    /// PSID or IGSID.
    pub id: String,
    /// `name`.
    pub name: Option<String>,
    /// `first_name` (Facebook).
    pub first_name: Option<String>,
    /// `last_name` (Facebook).
    pub last_name: Option<String>,
    /// `username` (Instagram).
    pub username: Option<String>,
    /// `profile_pic`.
    pub profile_pic: Option<String>,
}

/// A Page post or Instagram media of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxPost {
    /// Post id (`{page}_{post}`) or media id.
    pub id: String,
    /// The Page or Instagram account it belongs to.
    pub account_id: String,
    /// Facebook post or Instagram media.
    pub platform: Platform,
    /// Post `message` / media `caption`.
    pub text: Option<String>,
    /// `permalink_url` / `permalink`.
    pub permalink: Option<String>,
    /// Instagram `media_product_type`.
    pub media_product_type: Option<String>,
    /// `created_time` / `timestamp`.
    pub created_time: DateTime<Utc>,
}

impl SandboxPost {
    /// A Facebook Page post.
    pub fn facebook(id: &str, page_id: &str, message: &str, created_time: DateTime<Utc>) -> Self {
        SandboxPost {
            id: id.to_owned(),
            account_id: page_id.to_owned(),
            platform: Platform::Facebook,
            text: Some(message.to_owned()),
            permalink: Some(format!("https://www.facebook.com/{id}")),
            media_product_type: None,
            created_time,
        }
    }

    /// An Instagram feed media.
    pub fn instagram(id: &str, ig_id: &str, caption: &str, created_time: DateTime<Utc>) -> Self {
        SandboxPost {
            id: id.to_owned(),
            account_id: ig_id.to_owned(),
            platform: Platform::Instagram,
            text: Some(caption.to_owned()),
            permalink: Some(format!("https://www.instagram.com/p/{id}/")),
            media_product_type: Some("FEED".to_owned()),
            created_time,
        }
    }
}

/// A comment under a [`SandboxPost`] (or a reply under another comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxComment {
    /// The comment id.
    pub id: String,
    /// The post or media it is under.
    pub post_id: String,
    /// The comment it replies to.
    pub parent_id: Option<String>,
    /// The author's id (absent when Graph would hide it).
    pub from_id: Option<String>,
    /// The author's name (Facebook) or username (Instagram).
    pub from_name: Option<String>,
    /// The text.
    pub message: Option<String>,
    /// When it was written; private replies are allowed for 7 days after.
    pub created_time: DateTime<Utc>,
    /// A photo on the comment (Facebook `attachment`).
    pub photo_url: Option<String>,
    /// Whether the account hid it.
    pub hidden: bool,
}

impl SandboxComment {
    /// A top-level comment by `from_id` / `from_name`.
    pub fn new(
        id: &str,
        post_id: &str,
        from: (&str, &str),
        message: &str,
        created_time: DateTime<Utc>,
    ) -> Self {
        SandboxComment {
            id: id.to_owned(),
            post_id: post_id.to_owned(),
            parent_id: None,
            from_id: Some(from.0.to_owned()),
            from_name: Some(from.1.to_owned()),
            message: Some(message.to_owned()),
            created_time,
            photo_url: None,
            hidden: false,
        }
    }

    /// The same comment as a reply under `parent_id`.
    pub fn reply_to(mut self, parent_id: &str) -> Self {
        self.parent_id = Some(parent_id.to_owned());
        self
    }
}

/// A message in a [`SandboxConversation`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxMessage {
    /// The message id (the webhook's `mid`).
    pub id: String,
    /// Sent by the account (an echo) rather than the customer.
    pub from_account: bool,
    /// The text.
    pub text: Option<String>,
    /// When.
    pub created_time: DateTime<Utc>,
    /// `(mime type, url)` of one attachment.
    pub attachment: Option<(String, String)>,
}

impl SandboxMessage {
    /// A message from the customer.
    pub fn inbound(id: &str, text: &str, created_time: DateTime<Utc>) -> Self {
        SandboxMessage {
            id: id.to_owned(),
            from_account: false,
            text: Some(text.to_owned()),
            created_time,
            attachment: None,
        }
    }

    /// A message from the account.
    pub fn outbound(id: &str, text: &str, created_time: DateTime<Utc>) -> Self {
        SandboxMessage {
            from_account: true,
            ..SandboxMessage::inbound(id, text, created_time)
        }
    }
}

/// A conversation between an account and one customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxConversation {
    /// The thread id (`t_…`).
    pub id: String,
    /// The Page or Instagram account.
    pub account_id: String,
    /// Messenger or Instagram.
    pub platform: Platform,
    /// The customer's PSID / IGSID.
    pub user_id: String,
    /// The customer's name (Facebook) or username (Instagram).
    pub user_name: String,
    /// The messages, in any order.
    pub messages: Vec<SandboxMessage>,
}

impl SandboxConversation {
    /// `updated_time`: the newest message, or the epoch for an empty thread.
    pub fn updated_time(&self) -> DateTime<Utc> {
        self.messages
            .iter()
            .map(|m| m.created_time)
            .max()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }
}

/// What a queued failure applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FailureTarget {
    /// Any `POST …/messages` (the original `push_failure`).
    SendApi,
    /// Any request whose versionless path is this (e.g. `105/subscribed_apps`).
    Path(String),
}

/// An authorization code the dialog handed out.
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    used: bool,
}

struct State {
    requests: Vec<RecordedRequest>,
    sent: Vec<SentMessage>,
    /// `Idempotency-Key` → the message id answered the first time.
    by_key: HashMap<String, String>,
    duplicates: u64,
    delay: Duration,
    failures: VecDeque<(FailureTarget, SandboxFailure)>,
    next_message: u64,
    next_trace: u64,
    next_id: u64,
    now: Option<DateTime<Utc>>,
    // Login.
    app_id: Option<String>,
    require_proof: bool,
    strict_tokens: bool,
    consent: bool,
    user_id: String,
    user_name: String,
    pages: Vec<SandboxPage>,
    codes: HashMap<String, CodeGrant>,
    user_tokens: HashSet<String>,
    revoked: HashSet<String>,
    subscriptions: HashMap<String, Vec<String>>,
    // Data.
    accounts_page_size: usize,
    list_page_size: usize,
    nested_page_size: usize,
    last_inbound: HashMap<(String, String), DateTime<Utc>>,
    private_replied: HashSet<String>,
    profiles: HashMap<String, SandboxProfile>,
    posts: Vec<SandboxPost>,
    comments: Vec<SandboxComment>,
    conversations: Vec<SandboxConversation>,
    moderation: Vec<Moderation>,
    // Answers.
    usage: Option<UsageHeaders>,
    usage_once: VecDeque<UsageHeaders>,
    cdn: HashMap<String, (String, Bytes)>,
}

impl Default for State {
    fn default() -> Self {
        State {
            requests: Vec::new(),
            sent: Vec::new(),
            by_key: HashMap::new(),
            duplicates: 0,
            delay: Duration::ZERO,
            failures: VecDeque::new(),
            next_message: 0,
            next_trace: 0,
            next_id: 0,
            now: None,
            app_id: None,
            require_proof: false,
            strict_tokens: false,
            consent: true,
            user_id: SANDBOX_USER_ID.to_owned(),
            user_name: "Nguyễn Thị Chủ Shop".to_owned(),
            pages: Vec::new(),
            codes: HashMap::new(),
            user_tokens: HashSet::new(),
            revoked: HashSet::new(),
            subscriptions: HashMap::new(),
            accounts_page_size: DEFAULT_PAGE_SIZE,
            list_page_size: DEFAULT_PAGE_SIZE,
            nested_page_size: MAX_NESTED_PAGE_SIZE,
            last_inbound: HashMap::new(),
            private_replied: HashSet::new(),
            profiles: HashMap::new(),
            posts: Vec::new(),
            comments: Vec::new(),
            conversations: Vec::new(),
            moderation: Vec::new(),
            usage: None,
            usage_once: VecDeque::new(),
            cdn: HashMap::new(),
        }
    }
}

impl State {
    fn now(&self) -> DateTime<Utc> {
        self.now.unwrap_or_else(Utc::now)
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// The Page a Page token belongs to.
    fn page_of_token(&self, token: &str) -> Option<&SandboxPage> {
        self.pages.iter().find(|p| p.access_token == token)
    }

    /// A path node as an account id: `me` → the token's Page (kept as `me` otherwise).
    fn resolve_node(&self, node: &str, token: &str) -> String {
        match (node, self.page_of_token(token)) {
            ("me", Some(page)) => page.id.clone(),
            _ => node.to_owned(),
        }
    }

    /// The Instagram account linked to Page `id`, or `id` itself.
    fn instagram_of(&self, id: &str) -> String {
        self.pages
            .iter()
            .find(|p| p.id == id)
            .and_then(|p| p.instagram.as_ref())
            .map_or_else(|| id.to_owned(), |ig| ig.id.clone())
    }

    /// Every account a send through `node` may be for: the node, the token's Page and its
    /// Instagram account.
    fn send_accounts(&self, node: &str, token: &str) -> Vec<String> {
        let mut ids = vec![node.to_owned()];
        if let Some(page) = self.page_of_token(token) {
            ids.push(page.id.clone());
            ids.extend(page.instagram.as_ref().map(|ig| ig.id.clone()));
        }
        ids
    }

    fn post(&self, id: &str) -> Option<&SandboxPost> {
        self.posts.iter().find(|p| p.id == id)
    }

    fn comment(&self, id: &str) -> Option<&SandboxComment> {
        self.comments.iter().find(|c| c.id == id)
    }

    /// The platform of a registered comment, from its post.
    fn comment_platform(&self, c: &SandboxComment) -> Platform {
        self.post(&c.post_id)
            .map_or(Platform::Facebook, |p| p.platform)
    }

    fn conversation(&self, id: &str) -> Option<&SandboxConversation> {
        self.conversations.iter().find(|c| c.id == id)
    }

    /// A post's `updated_time`: when it was created or last commented on.
    fn post_updated_time(&self, post: &SandboxPost) -> DateTime<Utc> {
        self.comments
            .iter()
            .filter(|c| c.post_id == post.id)
            .map(|c| c.created_time)
            .fold(post.created_time, DateTime::max)
    }

    fn take_failure(&mut self, req: &RecordedRequest) -> Option<SandboxFailure> {
        let path = req.graph_path();
        let is_send = req.method == "POST" && path.ends_with("/messages");
        let i = self.failures.iter().position(|(target, _)| match target {
            FailureTarget::SendApi => is_send,
            FailureTarget::Path(p) => *p == path,
        })?;
        self.failures.remove(i).map(|(_, f)| f)
    }
}

struct Shared {
    app_secret: Option<String>,
    addr: SocketAddr,
    state: Mutex<State>,
}

impl Shared {
    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave `State` half-updated in a way that matters.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Owns the stop signal: when the last [`GraphSandbox`] clone drops, the sender drops and the
/// server task and its connections end.
struct Handle {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
}

/// Handle to a running fake Graph API on `127.0.0.1`. Cheap to clone; the server stops when
/// [`GraphSandbox::shutdown`] is called or the last clone is dropped.
#[derive(Clone)]
pub struct GraphSandbox {
    inner: Arc<Handle>,
}

impl std::fmt::Debug for GraphSandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphSandbox")
            .field("addr", &self.inner.addr)
            .finish_non_exhaustive()
    }
}

impl GraphSandbox {
    /// Bind `127.0.0.1:0` and serve on a spawned tokio task. With `app_secret`, an
    /// `appsecret_proof` sent by a client must match it, and so must the `client_secret` of
    /// token exchanges.
    pub async fn start(app_secret: Option<String>) -> std::io::Result<GraphSandbox> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            app_secret: app_secret.filter(|s| !s.is_empty()),
            addr,
            state: Mutex::new(State::default()),
        });
        let (stop, stop_rx) = watch::channel(false);
        tokio::spawn(serve(listener, Arc::clone(&shared), stop_rx));
        Ok(GraphSandbox {
            inner: Arc::new(Handle { addr, shared, stop }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.shared.state()
    }

    /// `http://127.0.0.1:<port>/v21.0`, to use as the Graph API base URL.
    pub fn base_url(&self) -> String {
        format!("http://{}/{GRAPH_VERSION}", self.inner.addr)
    }

    /// `http://127.0.0.1:<port>/v21.0/dialog/oauth`: the login dialog (Meta serves it from
    /// `www.facebook.com`, the sandbox from the same address).
    pub fn oauth_dialog_url(&self) -> String {
        format!("{}/dialog/oauth", self.base_url())
    }

    /// `http://127.0.0.1:<port>/cdn/{name}`, where [`GraphSandbox::add_cdn_file`] bytes are served.
    pub fn cdn_url(&self, name: &str) -> String {
        format!("http://{}/cdn/{name}", self.inner.addr)
    }

    /// The address the sandbox listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.state().requests.clone()
    }

    /// Every Send API call that succeeded, in order.
    pub fn sent_messages(&self) -> Vec<SentMessage> {
        self.state().sent.clone()
    }

    /// How many sends repeated an `Idempotency-Key` already seen (answered, not re-sent).
    pub fn duplicate_sends(&self) -> u64 {
        self.state().duplicates
    }

    /// Delay every answer by `d` after its effect has happened (a slow or lost response).
    pub fn set_response_delay(&self, d: Duration) {
        self.state().delay = d;
    }

    /// Make the next Send API call fail as `f`. Queued failures are used first-in first-out,
    /// one per call.
    pub fn push_failure(&self, f: SandboxFailure) {
        self.state().failures.push_back((FailureTarget::SendApi, f));
    }

    /// Make the next request to `path` fail as `f`, whatever its method. `path` is matched
    /// without the version and slashes, e.g. `105/subscribed_apps`, `me/accounts`,
    /// `c_1/comments`, `oauth/access_token`.
    pub fn push_failure_at(&self, path: &str, f: SandboxFailure) {
        self.state()
            .failures
            .push_back((FailureTarget::Path(graph_path(path)), f));
    }

    /// Pretend the time is `now` for every rule (`None`: the real clock).
    pub fn set_now(&self, now: Option<DateTime<Utc>>) {
        self.state().now = now;
    }

    /// Stop accepting connections and close the open ones.
    pub fn shutdown(&self) {
        self.inner.stop.send_replace(true);
    }

    // ---- login --------------------------------------------------------------------------

    /// The app id the dialog and token exchanges require as `client_id` (any when unset).
    pub fn set_app_id(&self, app_id: &str) {
        self.state().app_id = Some(app_id.to_owned());
    }

    /// Refuse calls without `appsecret_proof` (Meta's "Require App Secret" setting) with
    /// code 100. A wrong proof is always refused when the sandbox has the secret.
    pub fn require_appsecret_proof(&self, on: bool) {
        self.state().require_proof = on;
    }

    /// Refuse tokens the sandbox did not issue or register (code 190). Off by default.
    pub fn set_strict_tokens(&self, on: bool) {
        self.state().strict_tokens = on;
    }

    /// Whether the dialog's user consents (`false`: redirects with `error=access_denied`).
    pub fn set_consent(&self, consent: bool) {
        self.state().consent = consent;
    }

    /// Who logs in through the dialog.
    pub fn set_user(&self, id: &str, name: &str) {
        let mut s = self.state();
        s.user_id = id.to_owned();
        s.user_name = name.to_owned();
    }

    /// Give the user a Page (listed by `/me/accounts`, in insertion order). Its token and
    /// Instagram account become known to the sandbox.
    pub fn add_page(&self, page: SandboxPage) {
        let mut s = self.state();
        s.pages.retain(|p| p.id != page.id);
        s.pages.push(page);
    }

    /// Items per page of `/me/accounts` (at least 1).
    pub fn set_accounts_page_size(&self, n: usize) {
        self.state().accounts_page_size = n.max(1);
    }

    /// Items per page of conversation, post and media listings (at least 1).
    pub fn set_list_page_size(&self, n: usize) {
        self.state().list_page_size = n.max(1);
    }

    /// The most items per page of nested lists (a conversation's `messages`, a post's or
    /// media's `comments`, an Instagram comment's `replies`) and of their edges
    /// (`/{conversation}/messages`, `/{post}/comments`, `/{comment}/replies`), even when the
    /// request asks a larger `limit` (at least 1; [`MAX_NESTED_PAGE_SIZE`] by default).
    pub fn set_nested_page_size(&self, n: usize) {
        self.state().nested_page_size = n.max(1);
    }

    /// Invalidate a token: calls with it get code 190 subcode 460 (password changed).
    pub fn revoke_token(&self, token: &str) {
        self.state().revoked.insert(token.to_owned());
    }

    /// The webhook fields the app is subscribed to on Page `page_id`; `None` when it is not
    /// installed there.
    pub fn subscriptions(&self, page_id: &str) -> Option<Vec<String>> {
        self.state().subscriptions.get(page_id).cloned()
    }

    // ---- messaging ------------------------------------------------------------------------

    /// Record that customer `user_id` last wrote to `account_id` (Page or Instagram account)
    /// at `at`: sends to them then follow the 24 h / 7 day rules. Without this, sends to a
    /// customer are not checked.
    pub fn set_last_inbound(&self, account_id: &str, user_id: &str, at: DateTime<Utc>) {
        self.state()
            .last_inbound
            .insert((account_id.to_owned(), user_id.to_owned()), at);
    }

    // ---- data -----------------------------------------------------------------------------

    /// A profile `GET /{id}` answers with.
    pub fn add_profile(&self, profile: SandboxProfile) {
        self.state().profiles.insert(profile.id.clone(), profile);
    }

    /// A post or media (answered by `GET /{id}`, listed by `/{page}/posts` or `/{ig}/media`).
    /// A Facebook post's `updated_time` is its newest comment's time, else its `created_time`.
    pub fn add_post(&self, post: SandboxPost) {
        let mut s = self.state();
        s.posts.retain(|p| p.id != post.id);
        s.posts.push(post);
    }

    /// A comment: it can be replied to (publicly or privately, once, within 7 days of its
    /// `created_time`), hidden and deleted, and is listed under its post.
    pub fn add_comment(&self, comment: SandboxComment) {
        let mut s = self.state();
        s.comments.retain(|c| c.id != comment.id);
        s.comments.push(comment);
    }

    /// A comment as it stands (hidden or not; replies the sandbox created included); `None`
    /// once deleted or never added.
    pub fn comment(&self, id: &str) -> Option<SandboxComment> {
        self.state().comment(id).cloned()
    }

    /// A conversation listed by `/{page}/conversations` (Instagram: `?platform=instagram`),
    /// whose messages `/{conversation}/messages` lists too.
    pub fn add_conversation(&self, conversation: SandboxConversation) {
        let mut s = self.state();
        s.conversations.retain(|c| c.id != conversation.id);
        s.conversations.push(conversation);
    }

    /// Every accepted moderation call, in order.
    pub fn moderation(&self) -> Vec<Moderation> {
        self.state().moderation.clone()
    }

    // ---- answers --------------------------------------------------------------------------

    /// Put these usage headers on every answer from now on (`None`: stop).
    pub fn set_usage(&self, usage: Option<UsageHeaders>) {
        self.state().usage = usage;
    }

    /// Put these usage headers on the next answer only (overriding [`GraphSandbox::set_usage`]).
    pub fn push_usage(&self, usage: UsageHeaders) {
        self.state().usage_once.push_back(usage);
    }

    /// Serve `bytes` with `content_type` at [`GraphSandbox::cdn_url`]`(name)`.
    pub fn add_cdn_file(&self, name: &str, content_type: &str, bytes: impl Into<Bytes>) {
        self.state()
            .cdn
            .insert(name.to_owned(), (content_type.to_owned(), bytes.into()));
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    loop {
        // `biased`: once stopped, never accept (or serve) again, even if work is ready too.
        let accepted = tokio::select! {
            biased;
            () = stopped(&mut stop) => return,
            accepted = listener.accept() => accepted,
        };
        // A failed accept (e.g. too many open files) only loses that one connection.
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

/// Resolves once `shutdown()` was called or every handle dropped.
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
        content_type: parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    let key = parts
        .headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (response, delay) = {
        let mut state = shared.state();
        state.requests.push(recorded.clone());
        let mut response = route(&shared, &mut state, &recorded, &body, key.as_deref());
        let usage = state.usage_once.pop_front().or_else(|| state.usage.clone());
        if let Some(usage) = usage {
            add_usage_headers(&mut response, &usage);
        }
        (response, state.delay)
    };
    // The effect (the message "sent") has happened; only the answer is slow, like a Graph call
    // that times out after delivering.
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    Ok(response)
}

fn add_usage_headers(resp: &mut Reply, usage: &UsageHeaders) {
    for (name, value) in [
        ("x-app-usage", &usage.app),
        ("x-business-use-case-usage", &usage.buc),
    ] {
        if let Some(v) = value
            && let Ok(v) = http::HeaderValue::from_str(&v.to_string())
        {
            resp.headers_mut().insert(name, v);
        }
    }
}

/// `/v21.0/105/messages/` → `105/messages`.
fn graph_path(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    match trimmed.split_once('/') {
        Some((first, rest)) if is_version(first) => rest.trim_matches('/').to_owned(),
        None if is_version(trimmed) => String::new(),
        _ => trimmed.to_owned(),
    }
}

fn is_version(segment: &str) -> bool {
    segment
        .strip_prefix('v')
        .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

/// One request, as the routes see it.
struct Call<'a> {
    shared: &'a Shared,
    req: &'a RecordedRequest,
    body: &'a [u8],
    idempotency_key: Option<&'a str>,
}

impl Call<'_> {
    fn param(&self, name: &str) -> Option<String> {
        self.req.param(name)
    }

    fn token(&self) -> String {
        self.param("access_token").unwrap_or_default()
    }
}

fn route(
    shared: &Shared,
    state: &mut State,
    req: &RecordedRequest,
    body: &[u8],
    idempotency_key: Option<&str>,
) -> Reply {
    let call = Call {
        shared,
        req,
        body,
        idempotency_key,
    };
    let path = req.graph_path();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let method = req.method.as_str();
    // Routes that are not Graph API calls: no token, no injected failures.
    match (method, segments.as_slice()) {
        ("GET", ["cdn", name]) => return cdn(state, name),
        ("GET", ["dialog", "oauth"]) => return dialog(state, &call),
        ("GET", ["_sandbox", "sent"]) => return sent_log(state),
        _ => {}
    }
    let known = matches!(
        segments.as_slice(),
        ["oauth", "access_token"]
            | ["me", "accounts"]
            | [_, "messages" | "subscribed_apps" | "comments" | "replies"]
            | [_, "conversations" | "posts" | "media"]
            | [_]
    );
    if !known {
        return graph_error(
            state,
            StatusCode::NOT_FOUND,
            "OAuthException",
            2500,
            None,
            &format!("Unknown path components: {}", req.path),
        );
    }
    // `POST /{page}/messages` is the Send API; only a conversation has a `messages` list.
    if let [node, "messages"] = segments.as_slice()
        && method != "POST"
        && !(method == "GET" && state.conversation(node).is_some())
    {
        return unsupported(state, method, &path);
    }
    if let Some(failure) = state.take_failure(req) {
        let account = segments.first().copied().unwrap_or_default().to_owned();
        return failure_response(state, failure, &account);
    }
    if let ["oauth", "access_token"] = segments.as_slice() {
        return if method == "GET" {
            access_token(state, &call)
        } else {
            unsupported(state, method, &path)
        };
    }
    if let Some(refusal) = authorize(state, &call) {
        return refusal;
    }
    match (method, segments.as_slice()) {
        ("GET", ["me", "accounts"]) => me_accounts(state, &call),
        ("POST", [node, "messages"]) => send(state, &call, node),
        ("GET", [id, "messages"]) => conversation_messages(state, &call, id),
        ("GET", [id, edge @ ("comments" | "replies")]) => comment_edge(state, &call, id, edge),
        (_, [page, "subscribed_apps"]) => subscribed_apps(state, &call, page),
        ("POST", [id, edge @ ("comments" | "replies")]) => reply(state, &call, id, edge),
        ("GET", [node, "conversations"]) => conversations(state, &call, node),
        ("GET", [node, "posts"]) => posts(state, &call, node),
        ("GET", [node, "media"]) => media(state, &call, node),
        ("GET", [id]) => object(state, &call, id),
        ("POST", [id]) => hide(state, &call, id),
        ("DELETE", [id]) => delete(state, id),
        _ => unsupported(state, method, &path),
    }
}

/// Token and `appsecret_proof` checks every Graph call goes through: the refusal, if any.
fn authorize(state: &mut State, call: &Call<'_>) -> Option<Reply> {
    let token = call.token();
    if token.is_empty() {
        return Some(graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            190,
            None,
            "An access token is required to request this resource.",
        ));
    }
    if state.revoked.contains(&token) {
        return Some(graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            190,
            Some(460),
            "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons.",
        ));
    }
    if state.strict_tokens
        && !state.user_tokens.contains(&token)
        && state.page_of_token(&token).is_none()
    {
        return Some(graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        ));
    }
    if let Some(secret) = &call.shared.app_secret {
        match call.param("appsecret_proof") {
            Some(proof) => {
                let expected = appsecret_proof(secret, &token);
                if !constant_time_eq(expected.as_bytes(), proof.to_ascii_lowercase().as_bytes()) {
                    return Some(graph_error(
                        state,
                        StatusCode::BAD_REQUEST,
                        "GraphMethodException",
                        100,
                        None,
                        "Invalid appsecret_proof provided in the API argument",
                    ));
                }
            }
            None if state.require_proof => {
                return Some(graph_error(
                    state,
                    StatusCode::BAD_REQUEST,
                    "GraphMethodException",
                    100,
                    None,
                    "API calls from the server require an appsecret_proof argument",
                ));
            }
            None => {}
        }
    }
    None
}

// ---- Send API ----------------------------------------------------------------------------

struct ParsedSend {
    recipient_id: Option<String>,
    comment_id: Option<String>,
    text: Option<String>,
    attachment: Option<SentAttachment>,
    quick_replies: Vec<SentQuickReply>,
    messaging_type: String,
    tag: Option<String>,
}

fn id_value(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

/// Validate a Send API JSON body the way Graph does, with Graph's `(#100)` messages.
fn parse_send(body: &[u8]) -> Result<ParsedSend, String> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| "(#100) The request body must be a JSON object".to_owned())?;
    let recipient_id = id_value(v.pointer("/recipient/id"));
    let comment_id = id_value(v.pointer("/recipient/comment_id"));
    if recipient_id.is_none() == comment_id.is_none() {
        return Err("(#100) The parameter recipient is required".into());
    }
    let text = match v.pointer("/message/text") {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        _ => None,
    };
    if text
        .as_ref()
        .is_some_and(|t| t.chars().count() > MAX_TEXT_CHARS)
    {
        return Err(format!(
            "(#100) Length of param message[text] must be less than or equal to {MAX_TEXT_CHARS}"
        ));
    }
    let attachment = match v.pointer("/message/attachment") {
        None | Some(Value::Null) => None,
        Some(a) => {
            let kind = a.get("type").and_then(Value::as_str).unwrap_or_default();
            if !matches!(kind, "image" | "video" | "audio" | "file") {
                return Err(
                    "(#100) param message[attachment][type] must be one of {image, video, audio, file, template}"
                        .into(),
                );
            }
            let url = a.pointer("/payload/url").and_then(Value::as_str);
            let Some(url) = url.filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            else {
                return Err(
                    "(#100) param message[attachment][payload][url] must be a valid URL".into(),
                );
            };
            Some(SentAttachment {
                kind: kind.to_owned(),
                url: url.to_owned(),
                is_reusable: a.pointer("/payload/is_reusable").and_then(Value::as_bool)
                    == Some(true),
            })
        }
    };
    if text.is_some() == attachment.is_some() {
        return Err("(#100) The parameter message is required".into());
    }
    let quick_replies = match v.pointer("/message/quick_replies") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_QUICK_REPLIES {
                return Err(format!(
                    "(#100) param message[quick_replies] must have at most {MAX_QUICK_REPLIES} elements"
                ));
            }
            let mut out = Vec::new();
            for q in items {
                let field = |k: &str| q.get(k).and_then(Value::as_str).filter(|s| !s.is_empty());
                match (field("content_type"), field("title"), field("payload")) {
                    (Some("text"), Some(title), Some(payload)) => out.push(SentQuickReply {
                        title: title.to_owned(),
                        payload: payload.to_owned(),
                    }),
                    _ => {
                        return Err(
                            "(#100) param message[quick_replies] needs content_type text, title and payload"
                                .into(),
                        );
                    }
                }
            }
            out
        }
        Some(_) => return Err("(#100) param message[quick_replies] must be an array".into()),
    };
    // Private replies may leave `messaging_type` out.
    let messaging_type = match v.get("messaging_type").and_then(Value::as_str) {
        Some(t @ ("RESPONSE" | "UPDATE" | "MESSAGE_TAG")) => t.to_owned(),
        None if comment_id.is_some() => "RESPONSE".to_owned(),
        _ => {
            return Err(
                "(#100) Param messaging_type must be one of {RESPONSE, UPDATE, MESSAGE_TAG}".into(),
            );
        }
    };
    let tag = v.get("tag").and_then(Value::as_str).map(str::to_owned);
    if messaging_type == "MESSAGE_TAG" && tag.is_none() {
        return Err("(#100) Param tag is required when messaging_type is MESSAGE_TAG".into());
    }
    Ok(ParsedSend {
        recipient_id,
        comment_id,
        text,
        attachment,
        quick_replies,
        messaging_type,
        tag,
    })
}

fn outside_window(state: &mut State) -> Reply {
    graph_error(
        state,
        StatusCode::BAD_REQUEST,
        "OAuthException",
        10,
        Some(2_018_278),
        "(#10) This message is sent outside of allowed window.",
    )
}

fn send(state: &mut State, call: &Call<'_>, node: &str) -> Reply {
    let parsed = match parse_send(call.body) {
        Ok(p) => p,
        Err(msg) => {
            return graph_error(
                state,
                StatusCode::BAD_REQUEST,
                "OAuthException",
                100,
                None,
                &msg,
            );
        }
    };
    let token = call.token();
    let page_id = state.resolve_node(node, &token);
    let answer_recipient = |state: &State| match (&parsed.recipient_id, &parsed.comment_id) {
        (Some(id), _) => Some(id.clone()),
        (None, Some(c)) => state.comment(c).and_then(|c| c.from_id.clone()),
        (None, None) => None,
    };
    if let Some(first) = call
        .idempotency_key
        .and_then(|k| state.by_key.get(k))
        .cloned()
    {
        // A retry of a send that already happened: same answer, no second message.
        state.duplicates += 1;
        return send_answer(answer_recipient(state), &first);
    }
    let now = state.now();
    if let Some(user) = &parsed.recipient_id {
        let accounts = state.send_accounts(&page_id, &token);
        let last = accounts
            .iter()
            .filter_map(|a| state.last_inbound.get(&(a.clone(), user.clone())))
            .max()
            .copied();
        if let Some(last) = last {
            let age = now.signed_duration_since(last);
            let human_agent = parsed.messaging_type == "MESSAGE_TAG"
                && parsed.tag.as_deref() == Some("HUMAN_AGENT");
            let allowed = age <= STANDARD_WINDOW || (human_agent && age <= HUMAN_AGENT_WINDOW);
            if !allowed {
                return outside_window(state);
            }
        }
    }
    if let Some(comment_id) = &parsed.comment_id {
        if state.private_replied.contains(comment_id) {
            return graph_error(
                state,
                StatusCode::BAD_REQUEST,
                "OAuthException",
                10,
                None,
                "(#10) Only one private reply can be sent to a comment.",
            );
        }
        let written = state.comment(comment_id).map(|c| c.created_time);
        if written.is_some_and(|t| now.signed_duration_since(t) > PRIVATE_REPLY_WINDOW) {
            return outside_window(state);
        }
        state.private_replied.insert(comment_id.clone());
    }
    state.next_message += 1;
    let message_id = format!("m_sandbox_{}", state.next_message);
    if let Some(k) = call.idempotency_key {
        state.by_key.insert(k.to_owned(), message_id.clone());
    }
    let recipient = answer_recipient(state);
    state.sent.push(SentMessage {
        page_id,
        recipient_id: recipient.clone().unwrap_or_default(),
        text: parsed.text.unwrap_or_default(),
        messaging_type: parsed.messaging_type,
        tag: parsed.tag,
        message_id: message_id.clone(),
        comment_id: parsed.comment_id,
        attachment: parsed.attachment,
        quick_replies: parsed.quick_replies,
        idempotency_key: call.idempotency_key.map(str::to_owned),
    });
    send_answer(recipient, &message_id)
}

/// `GET /_sandbox/sent`: what the sandbox accepted from the Send API, oldest first. Not a Graph
/// route: it lets a test in another process (a browser test against `tongdai demo`) check that
/// a reply really left tongdai.
fn sent_log(state: &State) -> Reply {
    let sent: Vec<Value> = state
        .sent
        .iter()
        .map(|m| {
            json!({"page_id": m.page_id, "recipient_id": m.recipient_id, "text": m.text,
                "message_id": m.message_id, "comment_id": m.comment_id,
                "messaging_type": m.messaging_type,
                "attachment_url": m.attachment.as_ref().map(|a| a.url.clone())})
        })
        .collect();
    json_response(StatusCode::OK, &json!({ "data": sent }))
}

fn send_answer(recipient: Option<String>, message_id: &str) -> Reply {
    let body = match recipient {
        Some(r) => json!({"recipient_id": r, "message_id": message_id}),
        None => json!({"message_id": message_id}),
    };
    json_response(StatusCode::OK, &body)
}

// ---- comments ----------------------------------------------------------------------------

fn no_object(state: &mut State, method: &str, id: &str) -> Reply {
    graph_error(
        state,
        StatusCode::BAD_REQUEST,
        "GraphMethodException",
        100,
        Some(33),
        &format!(
            "Unsupported {} request. Object with ID '{id}' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
            method.to_lowercase()
        ),
    )
}

fn unsupported(state: &mut State, method: &str, path: &str) -> Reply {
    graph_error(
        state,
        StatusCode::BAD_REQUEST,
        "GraphMethodException",
        100,
        Some(33),
        &format!("Unsupported {} request on {path}.", method.to_lowercase()),
    )
}

fn bad_param(state: &mut State, message: &str) -> Reply {
    graph_error(
        state,
        StatusCode::BAD_REQUEST,
        "OAuthException",
        100,
        None,
        message,
    )
}

fn success() -> Reply {
    json_response(StatusCode::OK, &json!({"success": true}))
}

/// `POST /{comment}/comments` (Facebook) or `/{comment}/replies` (Instagram).
fn reply(state: &mut State, call: &Call<'_>, id: &str, edge: &str) -> Reply {
    let Some(parent) = state.comment(id).cloned() else {
        return no_object(state, "POST", id);
    };
    let platform = state.comment_platform(&parent);
    let wanted = match platform {
        Platform::Instagram => "replies",
        _ => "comments",
    };
    if edge != wanted {
        return bad_param(
            state,
            &format!("(#100) Tried accessing nonexisting field ({edge}) on this comment"),
        );
    }
    let Some(message) = call.param("message").filter(|m| !m.trim().is_empty()) else {
        return bad_param(state, "(#100) Missing message or attachment");
    };
    let n = state.next_id();
    let reply_id = match platform {
        Platform::Instagram => format!("1790000{n:010}"),
        // Facebook comment ids are `{post}_{comment}`.
        _ => {
            let post_part = id.split('_').next().unwrap_or(id);
            format!("{post_part}_{}", 900_000_000 + n)
        }
    };
    let account = state
        .post(&parent.post_id)
        .map(|p| p.account_id.clone())
        .unwrap_or_default();
    let created = state.now();
    state.comments.push(SandboxComment {
        id: reply_id.clone(),
        post_id: parent.post_id.clone(),
        parent_id: Some(id.to_owned()),
        from_id: Some(account),
        from_name: Some("Shop".to_owned()),
        message: Some(message.clone()),
        created_time: created,
        photo_url: None,
        hidden: false,
    });
    state.moderation.push(Moderation::Reply {
        comment_id: id.to_owned(),
        edge: edge.to_owned(),
        message,
        reply_id: reply_id.clone(),
    });
    json_response(StatusCode::OK, &json!({ "id": reply_id }))
}

/// `POST /{comment}` with `is_hidden` (Facebook) or `hide` (Instagram).
fn hide(state: &mut State, call: &Call<'_>, id: &str) -> Reply {
    let Some(comment) = state.comment(id).cloned() else {
        return no_object(state, "POST", id);
    };
    let (param, other) = match state.comment_platform(&comment) {
        Platform::Instagram => ("hide", "is_hidden"),
        _ => ("is_hidden", "hide"),
    };
    if call.param(other).is_some() {
        return bad_param(
            state,
            &format!("(#100) Param {other} is not a valid parameter for this comment"),
        );
    }
    let hidden = match call.param(param).as_deref() {
        Some("true") => true,
        Some("false") => false,
        _ => return bad_param(state, &format!("(#100) Param {param} must be a boolean")),
    };
    if let Some(c) = state.comments.iter_mut().find(|c| c.id == id) {
        c.hidden = hidden;
    }
    state.moderation.push(Moderation::SetHidden {
        comment_id: id.to_owned(),
        param: param.to_owned(),
        hidden,
    });
    success()
}

fn delete(state: &mut State, id: &str) -> Reply {
    if state.comment(id).is_none() {
        return no_object(state, "DELETE", id);
    }
    state.comments.retain(|c| c.id != id);
    state.moderation.push(Moderation::Delete {
        comment_id: id.to_owned(),
    });
    success()
}

// ---- login -------------------------------------------------------------------------------

fn dialog(state: &mut State, call: &Call<'_>) -> Reply {
    let client_id = call.param("client_id").unwrap_or_default();
    let redirect_uri = call.param("redirect_uri").unwrap_or_default();
    let state_param = call.param("state").unwrap_or_default();
    if client_id.is_empty() || state.app_id.as_ref().is_some_and(|id| *id != client_id) {
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    }
    let Ok(mut target) = url::Url::parse(&redirect_uri) else {
        return bad_param(state, "(#100) Invalid redirect_uri: not a valid URL");
    };
    if state_param.is_empty() {
        return bad_param(state, "(#100) The parameter state is required");
    }
    if !state.consent {
        target
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair("error_code", "200")
            .append_pair("error_description", "Permissions error")
            .append_pair("error_reason", "user_denied")
            .append_pair("state", &state_param);
        return redirect(target.as_str());
    }
    let code = format!("AQD_sandbox_code_{}", state.next_id());
    state.codes.insert(
        code.clone(),
        CodeGrant {
            client_id,
            redirect_uri,
            used: false,
        },
    );
    target
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &state_param);
    redirect(target.as_str())
}

fn redirect(location: &str) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::new()));
    *resp.status_mut() = StatusCode::FOUND;
    if let Ok(v) = http::HeaderValue::from_str(location) {
        resp.headers_mut().insert(http::header::LOCATION, v);
    }
    resp
}

/// `GET /oauth/access_token`: the code grant or the `fb_exchange_token` grant.
fn access_token(state: &mut State, call: &Call<'_>) -> Reply {
    let client_id = call.param("client_id").unwrap_or_default();
    if client_id.is_empty() || state.app_id.as_ref().is_some_and(|id| *id != client_id) {
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            101,
            None,
            "Error validating application. Invalid application ID.",
        );
    }
    let given = call.param("client_secret").unwrap_or_default();
    let secret_ok = match &call.shared.app_secret {
        Some(secret) => constant_time_eq(secret.as_bytes(), given.as_bytes()),
        None => !given.is_empty(),
    };
    if !secret_ok {
        // Meta answers a wrong secret with code 1, which elsewhere means "try again".
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            1,
            None,
            "Error validating client secret.",
        );
    }
    if call.param("grant_type").as_deref() == Some("fb_exchange_token") {
        let short = call.param("fb_exchange_token").unwrap_or_default();
        if !state.user_tokens.contains(&short) || state.revoked.contains(&short) {
            return graph_error(
                state,
                StatusCode::BAD_REQUEST,
                "OAuthException",
                190,
                None,
                "Invalid OAuth access token - Cannot parse access token",
            );
        }
        let token = format!("EAAL_sandbox_user_{}", state.next_id());
        state.user_tokens.insert(token.clone());
        return json_response(
            StatusCode::OK,
            &json!({"access_token": token, "token_type": "bearer", "expires_in": LONG_TOKEN_SECONDS}),
        );
    }
    let code = call.param("code").unwrap_or_default();
    let redirect_uri = call.param("redirect_uri").unwrap_or_default();
    let (used, matches) = match state.codes.get(&code) {
        None => {
            return graph_error(
                state,
                StatusCode::BAD_REQUEST,
                "OAuthException",
                100,
                None,
                "Invalid verification code format.",
            );
        }
        Some(g) => (
            g.used,
            g.redirect_uri == redirect_uri && g.client_id == client_id,
        ),
    };
    if used {
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            100,
            Some(36009),
            "This authorization code has been used.",
        );
    }
    if !matches {
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            100,
            Some(36008),
            "Error validating verification code. Please make sure your redirect_uri is identical to the one you used in the OAuth dialog request",
        );
    }
    if let Some(g) = state.codes.get_mut(&code) {
        g.used = true;
    }
    let token = format!("EAAS_sandbox_user_{}", state.next_id());
    state.user_tokens.insert(token.clone());
    json_response(
        StatusCode::OK,
        &json!({"access_token": token, "token_type": "bearer", "expires_in": SHORT_TOKEN_SECONDS}),
    )
}

fn encode_cursor(index: usize) -> String {
    hex::encode(format!("sandbox:{index}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let bytes = hex::decode(cursor).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("sandbox:")?
        .parse()
        .ok()
}

/// `items[start..start + size]` as Graph lists them: `{"data": […], "paging": {"cursors":
/// {"before", "after"}, "next"}}`, with `next` = `next_url(after)` when more items follow.
fn page_of(
    items: Vec<Value>,
    start: usize,
    size: usize,
    next_url: impl FnOnce(&str) -> Option<String>,
) -> Value {
    let total = items.len();
    let data: Vec<Value> = items.into_iter().skip(start).take(size).collect();
    if data.is_empty() {
        return json!({ "data": data });
    }
    let last = start + data.len() - 1;
    let after = encode_cursor(last);
    let mut paging = json!({
        "cursors": {"before": encode_cursor(start), "after": after}
    });
    if last + 1 < total
        && let Some(next) = next_url(&after)
    {
        paging["next"] = next.into();
    }
    json!({ "data": data, "paging": paging })
}

/// One page of `items` (already rendered) per the request's `after` and `limit` (`limit`, or
/// `default_size` without one, at most `cap`), as Graph lists it, with a `next` URL repeating
/// the request; `None` for a cursor the sandbox did not issue.
fn paged(call: &Call<'_>, items: Vec<Value>, default_size: usize, cap: usize) -> Option<Value> {
    let start = match call.param("after") {
        Some(c) => decode_cursor(&c)? + 1,
        None => 0,
    };
    let size = call
        .param("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(default_size)
        .min(cap);
    Some(page_of(items, start, size, |after| {
        let mut next =
            url::Url::parse(&format!("http://{}{}", call.shared.addr, call.req.path)).ok()?;
        {
            let mut q = next.query_pairs_mut();
            for (k, v) in url::form_urlencoded::parse(call.req.query.as_bytes()) {
                if k != "after" {
                    q.append_pair(&k, &v);
                }
            }
            q.append_pair("after", after);
        }
        Some(next.into())
    }))
}

/// [`paged`] as an answer: the page, or Graph's refusal of a cursor it did not issue.
fn paged_response(state: &mut State, call: &Call<'_>, items: Vec<Value>, size: usize) -> Reply {
    match paged(call, items, size, usize::MAX) {
        Some(v) => json_response(StatusCode::OK, &v),
        None => bad_param(state, "(#100) Invalid cursor"),
    }
}

/// An edge of a nested list (`/{conversation}/messages`, `/{post}/comments`, …): paged like
/// the nested list itself, so its cursors carry on from there.
fn edge_response(state: &mut State, call: &Call<'_>, items: Vec<Value>) -> Reply {
    match paged(call, items, DEFAULT_PAGE_SIZE, state.nested_page_size) {
        Some(v) => json_response(StatusCode::OK, &v),
        None => bad_param(state, "(#100) Invalid cursor"),
    }
}

/// The first page of a nested list (field expansion `edge.limit(n){sub}` on `node`), whose
/// `next` points at the edge `/{node}/{edge}` with the same sub-fields and modifiers, as
/// Graph's does.
fn nested_list(
    state: &State,
    call: &Call<'_>,
    node: &str,
    spec: &FieldSpec,
    items: Vec<Value>,
) -> Value {
    let size = spec
        .modifier("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0)
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .min(state.nested_page_size);
    page_of(items, 0, size, |after| {
        let mut next = url::Url::parse(&format!("http://{}", call.shared.addr)).ok()?;
        next.path_segments_mut()
            .ok()?
            .clear()
            .extend([GRAPH_VERSION, node, spec.name.as_str()]);
        {
            let mut q = next.query_pairs_mut();
            if !spec.sub.is_empty() {
                q.append_pair("fields", &spec.sub);
            }
            for (k, v) in spec.modifiers.iter().filter(|(k, _)| k != "limit") {
                q.append_pair(k, v);
            }
            q.append_pair("limit", &size.to_string());
            for k in ["access_token", "appsecret_proof"] {
                if let Some(v) = call.param(k) {
                    q.append_pair(k, &v);
                }
            }
            q.append_pair("after", after);
        }
        Some(next.into())
    })
}

fn me_accounts(state: &mut State, call: &Call<'_>) -> Reply {
    let token = call.token();
    if !state.user_tokens.contains(&token) {
        // A Page token (or an unknown one) is not a user's: `/me/accounts` needs a user.
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            190,
            None,
            "Invalid OAuth access token - Cannot parse access token",
        );
    }
    let fields = call.param("fields").unwrap_or_default();
    let with_ig = fields.contains("instagram_business_account");
    let items: Vec<Value> = state
        .pages
        .iter()
        .map(|p| {
            let mut v = json!({
                "id": p.id,
                "name": p.name,
                "access_token": p.access_token,
                "category": p.category,
                "category_list": [{"id": "2201", "name": p.category}],
                "tasks": p.tasks,
            });
            if let (true, Some(ig)) = (with_ig, &p.instagram) {
                let mut ig_v = json!({"id": ig.id, "username": ig.username});
                if let Some(n) = &ig.name {
                    ig_v["name"] = n.clone().into();
                }
                if let Some(u) = &ig.profile_picture_url {
                    ig_v["profile_picture_url"] = u.clone().into();
                }
                v["instagram_business_account"] = ig_v;
            }
            v
        })
        .collect();
    let size = state.accounts_page_size;
    paged_response(state, call, items, size)
}

fn subscribed_apps(state: &mut State, call: &Call<'_>, page: &str) -> Reply {
    let token = call.token();
    let page_id = state.resolve_node(page, &token);
    let known = state
        .pages
        .iter()
        .find(|p| p.id == page_id)
        .map(|p| p.access_token.clone());
    if known.is_some_and(|t| t != token) {
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            210,
            None,
            "(#210) A page access token is required to request this resource.",
        );
    }
    match call.req.method.as_str() {
        "GET" => {
            let app_id = state.app_id.clone().unwrap_or_else(|| "sandbox_app".into());
            let data: Vec<Value> = state
                .subscriptions
                .get(&page_id)
                .map(|fields| {
                    vec![json!({
                        "id": app_id,
                        "name": "tongdai",
                        "link": "https://tongdai.example/",
                        "category": "Business",
                        "subscribed_fields": fields,
                    })]
                })
                .unwrap_or_default();
            json_response(StatusCode::OK, &json!({ "data": data }))
        }
        "POST" => {
            let Some(list) = call.param("subscribed_fields").filter(|f| !f.is_empty()) else {
                return bad_param(state, "(#100) The parameter subscribed_fields is required");
            };
            let fields: Vec<String> = list.split(',').map(|f| f.trim().to_owned()).collect();
            if let Some((i, bad)) = fields
                .iter()
                .enumerate()
                .find(|(_, f)| !KNOWN_PAGE_FIELDS.contains(&f.as_str()))
            {
                return bad_param(
                    state,
                    &format!(
                        "(#100) Param subscribed_fields[{i}] must be one of {{{}}} - got \"{bad}\"",
                        KNOWN_PAGE_FIELDS.join(", ")
                    ),
                );
            }
            state.subscriptions.insert(page_id, fields);
            success()
        }
        "DELETE" => {
            state.subscriptions.remove(&page_id);
            success()
        }
        other => unsupported(state, other, &call.req.graph_path()),
    }
}

// ---- objects and listings ----------------------------------------------------------------

/// Graph's time format: `2024-06-10T06:13:20+0000`.
fn graph_time(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S+0000").to_string()
}

/// One field of a `fields` expression: `comments.limit(5).filter(stream){id,message}`.
#[derive(Debug, Default, PartialEq, Eq)]
struct FieldSpec {
    name: String,
    /// The `.modifier(value)` parts in order, e.g. `("limit", "5")`, `("filter", "stream")`.
    modifiers: Vec<(String, String)>,
    /// The sub-fields between the braces, as written (empty without braces).
    sub: String,
}

impl FieldSpec {
    fn modifier(&self, name: &str) -> Option<&str> {
        self.modifiers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The top-level fields of a `fields` expression (`a,b.limit(5){c,d{e}},f` → `a`, `b` with
/// `limit` 5 and sub-fields `c,d{e}`, `f`).
fn parse_fields(expr: &str) -> Vec<FieldSpec> {
    let mut pieces = Vec::new();
    let mut depth = 0i32;
    let mut current = String::new();
    for c in expr.chars() {
        match c {
            '{' | '(' => depth += 1,
            '}' | ')' => depth -= 1,
            ',' if depth == 0 => {
                pieces.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    pieces.push(current);
    pieces
        .iter()
        .filter_map(|p| parse_field(p.trim()))
        .collect()
}

fn parse_field(piece: &str) -> Option<FieldSpec> {
    let (head, sub) = match piece.split_once('{') {
        Some((head, rest)) => (head, rest.strip_suffix('}').unwrap_or(rest)),
        None => (piece, ""),
    };
    let mut parts = head.split('.');
    let name = parts.next()?.trim();
    if name.is_empty() {
        return None;
    }
    let modifiers = parts
        .filter_map(|m| {
            let (k, v) = m.split_once('(')?;
            Some((
                k.trim().to_owned(),
                v.trim_end_matches(')').trim().to_owned(),
            ))
        })
        .collect();
    Some(FieldSpec {
        name: name.to_owned(),
        modifiers,
        sub: sub.trim().to_owned(),
    })
}

/// The request's `fields`.
fn requested_fields(call: &Call<'_>) -> Vec<FieldSpec> {
    call.param("fields")
        .map(|f| parse_fields(&f))
        .unwrap_or_default()
}

/// The names of the request's `fields`.
fn requested(call: &Call<'_>) -> Vec<String> {
    requested_fields(call).into_iter().map(|f| f.name).collect()
}

/// `GET /{id}`: a profile, a post or media, or a comment.
fn object(state: &mut State, call: &Call<'_>, id: &str) -> Reply {
    let fields = requested(call);
    let want = |f: &str| fields.iter().any(|x| x == f);
    let mut out = serde_json::Map::new();
    out.insert("id".into(), id.into());
    let mut put = |k: &str, v: Option<Value>| {
        if want(k)
            && let Some(v) = v
        {
            out.insert(k.to_owned(), v);
        }
    };
    if let Some(p) = state.profiles.get(id) {
        put("name", p.name.clone().map(Value::from));
        put("first_name", p.first_name.clone().map(Value::from));
        put("last_name", p.last_name.clone().map(Value::from));
        put("username", p.username.clone().map(Value::from));
        put("profile_pic", p.profile_pic.clone().map(Value::from));
    } else if let Some(p) = state.post(id) {
        let time = Some(Value::from(graph_time(p.created_time)));
        match p.platform {
            Platform::Instagram => {
                put("caption", p.text.clone().map(Value::from));
                put("permalink", p.permalink.clone().map(Value::from));
                put(
                    "media_product_type",
                    p.media_product_type.clone().map(Value::from),
                );
                put("timestamp", time);
            }
            _ => {
                put("message", p.text.clone().map(Value::from));
                put("permalink_url", p.permalink.clone().map(Value::from));
                put("created_time", time);
                put(
                    "updated_time",
                    Some(graph_time(state.post_updated_time(p)).into()),
                );
            }
        }
    } else if let Some(c) = state.comment(id) {
        put("message", c.message.clone().map(Value::from));
        put("text", c.message.clone().map(Value::from));
        put("created_time", Some(graph_time(c.created_time).into()));
        put("is_hidden", Some(c.hidden.into()));
        put("hidden", Some(c.hidden.into()));
    } else if want("profile_pic") {
        return graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            100,
            Some(2_018_218),
            "No profile available for this user.",
        );
    } else {
        return no_object(state, "GET", id);
    }
    json_response(StatusCode::OK, &Value::Object(out))
}

fn message_attachment(mime: &str, url: &str) -> Value {
    let name = url.rsplit('/').next().unwrap_or("file");
    let mut a = json!({"id": format!("att_{name}"), "mime_type": mime, "name": name});
    if mime.starts_with("image/") {
        a["image_data"] = json!({"url": url, "preview_url": url, "width": 640, "height": 640});
    } else if mime.starts_with("video/") {
        a["video_data"] = json!({"url": url, "preview_url": url, "width": 640, "height": 360});
    } else {
        a["file_url"] = url.into();
    }
    a
}

fn conversations(state: &mut State, call: &Call<'_>, node: &str) -> Reply {
    let token = call.token();
    let page = state.resolve_node(node, &token);
    let instagram = call.param("platform").as_deref() == Some("instagram");
    let (account, platform) = if instagram {
        (state.instagram_of(&page), Platform::Instagram)
    } else {
        (page, Platform::Facebook)
    };
    let fields = requested_fields(call);
    let want = |f: &str| fields.iter().any(|x| x.name == f);
    let messages = fields.iter().find(|f| f.name == "messages");
    let mut convs: Vec<&SandboxConversation> = state
        .conversations
        .iter()
        .filter(|c| c.account_id == account && c.platform == platform)
        .collect();
    convs.sort_by_key(|c| std::cmp::Reverse(c.updated_time()));
    let items: Vec<Value> = convs
        .into_iter()
        .map(|c| {
            let mut v = json!({"id": c.id});
            if want("updated_time") {
                v["updated_time"] = graph_time(c.updated_time()).into();
            }
            if want("participants") {
                let (customer, shop) = parties(state, c);
                v["participants"] = json!({"data": [customer, shop]});
            }
            if let Some(spec) = messages {
                v["messages"] = nested_list(state, call, &c.id, spec, message_items(state, c));
            }
            v
        })
        .collect();
    let size = state.list_page_size;
    paged_response(state, call, items, size)
}

/// The customer and the account of a conversation, as its `participants` show them.
fn parties(state: &State, c: &SandboxConversation) -> (Value, Value) {
    let party = |id: &str, name: &str| match c.platform {
        Platform::Instagram => json!({"username": name, "id": id}),
        _ => json!({"name": name, "email": format!("{id}@facebook.com"), "id": id}),
    };
    let account_name = state
        .pages
        .iter()
        .find_map(|p| {
            if p.id == c.account_id {
                Some(p.name.clone())
            } else {
                p.instagram
                    .as_ref()
                    .filter(|ig| ig.id == c.account_id)
                    .map(|ig| ig.username.clone())
            }
        })
        .unwrap_or_else(|| "Shop".to_owned());
    (
        party(&c.user_id, &c.user_name),
        party(&c.account_id, &account_name),
    )
}

/// A conversation's messages, newest first, as Graph renders them.
fn message_items(state: &State, c: &SandboxConversation) -> Vec<Value> {
    let (customer, shop) = parties(state, c);
    let mut msgs: Vec<&SandboxMessage> = c.messages.iter().collect();
    msgs.sort_by_key(|m| std::cmp::Reverse(m.created_time));
    msgs.into_iter()
        .map(|m| {
            let (from, to) = if m.from_account {
                (shop.clone(), customer.clone())
            } else {
                (customer.clone(), shop.clone())
            };
            let mut mv = json!({
                "id": m.id,
                "message": m.text.clone().unwrap_or_default(),
                "from": from,
                "to": {"data": [to]},
                "created_time": graph_time(m.created_time),
            });
            if let Some((mime, url)) = &m.attachment {
                mv["attachments"] = json!({"data": [message_attachment(mime, url)]});
            }
            mv
        })
        .collect()
}

/// `GET /{conversation}/messages`: its messages, newest first.
fn conversation_messages(state: &mut State, call: &Call<'_>, id: &str) -> Reply {
    let Some(c) = state.conversation(id) else {
        return no_object(state, "GET", id);
    };
    let items = message_items(state, c);
    edge_response(state, call, items)
}

/// How a comment list is asked for, as modifiers of a nested list
/// (`comments.filter(stream).order(reverse_chronological){…}`) or as an edge's parameters.
struct CommentQuery {
    /// `filter=stream`: every comment of a Facebook post, replies included (Graph's default,
    /// `toplevel`, lists only the comments directly under the node).
    stream: bool,
    /// `order=reverse_chronological` (Graph's default is `chronological`).
    reverse: bool,
    /// The sub-fields, for nested `replies`.
    fields: Vec<FieldSpec>,
}

impl CommentQuery {
    fn of_spec(spec: &FieldSpec) -> Self {
        CommentQuery {
            stream: spec.modifier("filter") == Some("stream"),
            reverse: spec.modifier("order") == Some("reverse_chronological"),
            fields: parse_fields(&spec.sub),
        }
    }

    fn of_call(call: &Call<'_>) -> Self {
        CommentQuery {
            stream: call.param("filter").as_deref() == Some("stream"),
            reverse: call.param("order").as_deref() == Some("reverse_chronological"),
            fields: requested_fields(call),
        }
    }
}

/// A comment as Graph renders it on `platform`.
fn render_comment(c: &SandboxComment, platform: Platform) -> Value {
    let mut v = json!({"id": c.id});
    match platform {
        Platform::Instagram => {
            v["text"] = c.message.clone().unwrap_or_default().into();
            v["timestamp"] = graph_time(c.created_time).into();
            if let Some(name) = &c.from_name {
                v["username"] = name.clone().into();
            }
            if let Some(id) = &c.from_id {
                v["from"] = json!({"id": id, "username": c.from_name});
            }
        }
        _ => {
            v["message"] = c.message.clone().unwrap_or_default().into();
            v["created_time"] = graph_time(c.created_time).into();
            if let Some(id) = &c.from_id {
                v["from"] = json!({"id": id, "name": c.from_name});
            }
            if let Some(parent) = &c.parent_id {
                v["parent"] = json!({ "id": parent });
            }
            if let Some(url) = &c.photo_url {
                v["attachment"] = json!({
                    "type": "photo",
                    "url": url,
                    "media": {"image": {"src": url, "width": 720, "height": 720}},
                });
            }
        }
    }
    v
}

/// The comments under `node` (a post or media, or a comment for its replies) as Graph lists
/// them: the ones directly under it, or with `stream` every comment of the post; oldest first
/// unless `reverse`. Instagram comments carry their `replies` as a nested list when asked.
fn comment_items(
    state: &State,
    call: &Call<'_>,
    node: &str,
    platform: Platform,
    query: &CommentQuery,
) -> Vec<Value> {
    let stream = query.stream && platform != Platform::Instagram;
    let mut comments: Vec<&SandboxComment> = state
        .comments
        .iter()
        .filter(|c| match &c.parent_id {
            Some(parent) => parent == node || (stream && c.post_id == node),
            None => c.post_id == node,
        })
        .collect();
    comments.sort_by_key(|c| c.created_time);
    if query.reverse {
        comments.reverse();
    }
    let replies = query
        .fields
        .iter()
        .find(|f| f.name == "replies" && platform == Platform::Instagram);
    comments
        .into_iter()
        .map(|c| {
            let mut v = render_comment(c, platform);
            if let Some(spec) = replies {
                let items =
                    comment_items(state, call, &c.id, platform, &CommentQuery::of_spec(spec));
                if !items.is_empty() {
                    v["replies"] = nested_list(state, call, &c.id, spec, items);
                }
            }
            v
        })
        .collect()
}

/// `GET /{post}/comments`, `GET /{media}/comments`, `GET /{fb-comment}/comments` (its
/// replies) and `GET /{ig-comment}/replies`.
fn comment_edge(state: &mut State, call: &Call<'_>, id: &str, edge: &str) -> Reply {
    let (platform, on_comment) = if let Some(p) = state.post(id) {
        (p.platform, false)
    } else if let Some(c) = state.comment(id) {
        (state.comment_platform(c), true)
    } else {
        return no_object(state, "GET", id);
    };
    let wanted = match (platform, on_comment) {
        (Platform::Instagram, true) => "replies",
        _ => "comments",
    };
    if edge != wanted {
        return bad_param(
            state,
            &format!("(#100) Tried accessing nonexisting field ({edge}) on node type ({id})"),
        );
    }
    let items = comment_items(state, call, id, platform, &CommentQuery::of_call(call));
    edge_response(state, call, items)
}

fn posts(state: &mut State, call: &Call<'_>, node: &str) -> Reply {
    let token = call.token();
    let account = state.resolve_node(node, &token);
    listing(state, call, &account, Platform::Facebook)
}

fn media(state: &mut State, call: &Call<'_>, node: &str) -> Reply {
    listing(state, call, node, Platform::Instagram)
}

/// `/{page}/posts` or `/{ig}/media`, newest first, with their comments when asked.
fn listing(state: &mut State, call: &Call<'_>, account: &str, platform: Platform) -> Reply {
    let fields = requested_fields(call);
    let want = |f: &str| fields.iter().any(|x| x.name == f);
    let comments = fields.iter().find(|f| f.name == "comments");
    let mut posts: Vec<&SandboxPost> = state
        .posts
        .iter()
        .filter(|p| p.account_id == account && p.platform == platform)
        .collect();
    posts.sort_by_key(|p| std::cmp::Reverse(p.created_time));
    let items: Vec<Value> = posts
        .into_iter()
        .map(|p| {
            let mut v = json!({"id": p.id});
            let time = graph_time(p.created_time);
            let text = p.text.clone().map(Value::from).unwrap_or(Value::Null);
            let link = p.permalink.clone().map(Value::from).unwrap_or(Value::Null);
            match platform {
                Platform::Instagram => {
                    for (k, val) in [
                        ("caption", text),
                        ("permalink", link),
                        ("timestamp", time.into()),
                        (
                            "media_product_type",
                            p.media_product_type
                                .clone()
                                .map(Value::from)
                                .unwrap_or(Value::Null),
                        ),
                    ] {
                        if want(k) && !val.is_null() {
                            v[k] = val;
                        }
                    }
                }
                _ => {
                    for (k, val) in [
                        ("message", text),
                        ("permalink_url", link),
                        ("created_time", time.into()),
                        (
                            "updated_time",
                            graph_time(state.post_updated_time(p)).into(),
                        ),
                    ] {
                        if want(k) && !val.is_null() {
                            v[k] = val;
                        }
                    }
                }
            }
            if let Some(spec) = comments {
                let items =
                    comment_items(state, call, &p.id, platform, &CommentQuery::of_spec(spec));
                v["comments"] = nested_list(state, call, &p.id, spec, items);
            }
            v
        })
        .collect();
    let size = state.list_page_size;
    paged_response(state, call, items, size)
}

fn cdn(state: &State, name: &str) -> Reply {
    match state.cdn.get(name) {
        Some((content_type, bytes)) => {
            let mut resp = Response::new(Full::new(bytes.clone()));
            if let Ok(v) = http::HeaderValue::from_str(content_type) {
                resp.headers_mut().insert(http::header::CONTENT_TYPE, v);
            }
            resp
        }
        None => {
            let mut resp = Response::new(Full::new(Bytes::from_static(b"Not Found")));
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    }
}

// ---- failures and answers ----------------------------------------------------------------

fn failure_response(state: &mut State, failure: SandboxFailure, account: &str) -> Reply {
    match failure {
        SandboxFailure::TokenExpired => graph_error(
            state,
            StatusCode::BAD_REQUEST,
            "OAuthException",
            190,
            Some(463),
            "Error validating access token: Session has expired on Thursday, 01-Jan-26 00:00:00 PST.",
        ),
        SandboxFailure::RateLimited => {
            let mut resp = graph_error(
                state,
                StatusCode::BAD_REQUEST,
                "OAuthException",
                32,
                None,
                "(#32) Page request limit reached",
            );
            // Keyed by the Page id, like Meta's header.
            let minutes = u32::try_from(RATE_LIMIT_MINUTES).unwrap_or(u32::MAX);
            add_usage_headers(&mut resp, &UsageHeaders::buc(account, 100, minutes));
            resp
        }
        SandboxFailure::AppRateLimited => {
            let mut resp = graph_error(
                state,
                StatusCode::BAD_REQUEST,
                "OAuthException",
                4,
                None,
                "(#4) Application request limit reached",
            );
            add_usage_headers(&mut resp, &UsageHeaders::app(100, 40, 35));
            resp
        }
        SandboxFailure::ServerError => graph_error(
            state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "OAuthException",
            2,
            None,
            "An unexpected error has occurred. Please retry your request later.",
        ),
        SandboxFailure::UnknownError => graph_error(
            state,
            StatusCode::INTERNAL_SERVER_ERROR,
            "OAuthException",
            1,
            None,
            "An unknown error occurred",
        ),
        SandboxFailure::OutsideWindow => outside_window(state),
        SandboxFailure::PermissionDenied => graph_error(
            state,
            StatusCode::FORBIDDEN,
            "OAuthException",
            200,
            None,
            "(#200) Permissions error",
        ),
        SandboxFailure::Graph {
            status,
            code,
            subcode,
        } => graph_error(
            state,
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            "OAuthException",
            code,
            subcode,
            &format!("(#{code}) Sandbox failure"),
        ),
    }
}

fn graph_error(
    state: &mut State,
    status: StatusCode,
    kind: &str,
    code: i64,
    subcode: Option<i64>,
    message: &str,
) -> Reply {
    state.next_trace += 1;
    let mut error = serde_json::Map::new();
    error.insert("message".into(), message.into());
    error.insert("type".into(), kind.into());
    error.insert("code".into(), code.into());
    if let Some(sub) = subcode {
        error.insert("error_subcode".into(), sub.into());
    }
    if code == 2 {
        // Graph flags its "retry later" errors.
        error.insert("is_transient".into(), true.into());
    }
    error.insert(
        "fbtrace_id".into(),
        format!("SandboxTrace{}", state.next_trace).into(),
    );
    json_response(status, &json!({ "error": error }))
}

fn json_response(status: StatusCode, body: &Value) -> Reply {
    let mut resp = Response::new(Full::new(Bytes::from(meta_json(body))));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=UTF-8"),
    );
    resp
}

/// `value` as compact JSON with Meta's escaping: non-ASCII as `\uXXXX` (lowercase hex,
/// surrogate pairs for astral characters), `/` left alone. Object keys come out in `value`'s
/// own order.
pub fn meta_json(value: &Value) -> Vec<u8> {
    meta_escape(&value.to_string()).into_bytes()
}

/// A JSON string literal for `s` (before Meta escaping).
fn q(s: &str) -> String {
    Value::from(s).to_string()
}

/// An id as Meta writes it for `app_id`: a JSON number when it is all digits, else a string.
fn numeric_id(s: &str) -> String {
    match s.parse::<u64>() {
        Ok(n) if !s.starts_with('0') || s == "0" => n.to_string(),
        _ => q(s),
    }
}

fn page_envelope(page_id: &str, time_ms: i64, event: &str) -> Vec<u8> {
    let json = format!(
        r#"{{"object":"page","entry":[{{"id":{},"time":{time_ms},"messaging":[{event}]}}]}}"#,
        q(page_id)
    );
    meta_escape(&json).into_bytes()
}

/// The webhook body Meta posts when customer `psid` writes `text` to Page `page_id` (the
/// §2.4 shape; `entry.time` = `timestamp_ms`).
pub fn messenger_text_body(
    page_id: &str,
    psid: &str,
    mid: &str,
    text: &str,
    timestamp_ms: i64,
) -> Vec<u8> {
    let event = format!(
        r#"{{"sender":{{"id":{}}},"recipient":{{"id":{}}},"timestamp":{timestamp_ms},"message":{{"mid":{},"text":{}}}}}"#,
        q(psid),
        q(page_id),
        q(mid),
        q(text)
    );
    page_envelope(page_id, timestamp_ms, &event)
}

/// The webhook body Meta posts to echo a message Page `page_id` sent to `psid` through app
/// `app_id` (sender = Page, recipient = customer; `app_id` as a JSON number when numeric).
pub fn messenger_echo_body(
    page_id: &str,
    psid: &str,
    mid: &str,
    text: &str,
    app_id: &str,
    timestamp_ms: i64,
) -> Vec<u8> {
    let event = format!(
        r#"{{"sender":{{"id":{}}},"recipient":{{"id":{}}},"timestamp":{timestamp_ms},"message":{{"mid":{},"is_echo":true,"app_id":{},"text":{}}}}}"#,
        q(page_id),
        q(psid),
        q(mid),
        numeric_id(app_id),
        q(text)
    );
    page_envelope(page_id, timestamp_ms, &event)
}

/// The webhook body Meta posts when `psid`'s device received `mids` (and everything sent
/// before `watermark_ms`); `entry.time` = `watermark_ms`.
pub fn messenger_delivery_body(
    page_id: &str,
    psid: &str,
    mids: &[&str],
    watermark_ms: i64,
) -> Vec<u8> {
    let mids: Vec<String> = mids.iter().map(|m| q(m)).collect();
    let event = format!(
        r#"{{"sender":{{"id":{}}},"recipient":{{"id":{}}},"delivery":{{"mids":[{}],"watermark":{watermark_ms}}}}}"#,
        q(psid),
        q(page_id),
        mids.join(",")
    );
    page_envelope(page_id, watermark_ms, &event)
}
