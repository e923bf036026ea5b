//! The website chat: channels (`channel_account` with platform `webchat`, public
//! `website_token` as `external_id`, the identity-validation `hmac_token` sealed as its access
//! token), visitor sessions (a token signed with a key derived from the master key over the
//! channel and the visitor; no table), and what visitors do over the widget websocket.
//!
//! A visitor's message or contact form is not written to the inbox here: it is signed as a
//! `webchat` event and stored through the same group-commit path as platform webhooks
//! ([`crate::services::ingest`]), then normalized by the ingest worker, so it lands in the
//! inbox (leads, assignment, frames) like any platform message and a resent one is stored once.
//! Agents' replies go out through the ordinary `send_message` job: the Webchat connector marks
//! them sent, and the visitor's socket forwards every sent reply of its conversation.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tongdai_connectors::webchat::{self as wire, SIGNATURE_HEADER, VisitorEvent};
use tongdai_connectors::{InboundRequest, Platform, verify};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::realtime::bus::Frame;
use crate::services::auth::Principal;
use crate::services::ingest::Stored;
use crate::services::{audit, tokens};
use crate::state::AppState;
use crate::store::entities::{channel_account, conversation, message};

/// The platform name of website chat channels.
pub const PLATFORM: &str = "webchat";
/// Purpose of the derived key that signs visitor events for the ingest path.
pub const INGEST_KEY: &str = "webchat-ingest";
/// Purpose of the derived key that signs visitor tokens.
const TOKEN_KEY: &str = "webchat-visitor-token";
/// How long a visitor token stays valid (Chatwoot's default widget token expiry).
const TOKEN_DAYS: i64 = 180;
/// Messages a session or a history page carries.
const PAGE: u64 = 50;
/// Default greeting.
const GREETING_VI: &str = "Xin chào! Shop có thể giúp gì cho bạn?";
const DEFAULT_ACCENT: &str = "#0b6bcb";

// ---------------------------------------------------------------------------------------------
// Channel settings (pure)

/// What a website chat channel is configured with (`channel_account.settings`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WebchatSettings {
    /// Origins (`https://shop.example`) the widget may run on; empty = any origin.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// First words the widget shows.
    #[serde(default = "default_greeting")]
    pub greeting: String,
    /// Accent colour, `#rrggbb`.
    #[serde(default = "default_accent")]
    pub accent_color: String,
    /// Refuse visitors without a valid `identifier_hash` (logged-in customers only).
    #[serde(default)]
    pub require_identity: bool,
    /// The stored settings did not parse (edited through the generic channel-accounts
    /// route): refuse every origin rather than fall back to "any".
    #[serde(skip)]
    broken: bool,
}

fn default_greeting() -> String {
    GREETING_VI.to_owned()
}
fn default_accent() -> String {
    DEFAULT_ACCENT.to_owned()
}

impl WebchatSettings {
    fn of(v: &Value) -> WebchatSettings {
        serde_json::from_value(v.clone()).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "website chat settings do not parse; refusing every origin");
            WebchatSettings {
                allowed_origins: Vec::new(),
                greeting: default_greeting(),
                accent_color: default_accent(),
                require_identity: false,
                broken: true,
            }
        })
    }

    /// Whether a request from `origin` may use the channel. No list = any origin. With a
    /// list, a request without an `Origin` header (not a browser's) is refused too.
    pub fn origin_allowed(&self, origin: Option<&str>) -> bool {
        if self.broken {
            return false;
        }
        if self.allowed_origins.is_empty() {
            return true;
        }
        let Some(origin) = origin.map(normalize_origin) else {
            return false;
        };
        self.allowed_origins
            .iter()
            .any(|o| normalize_origin(o) == origin)
    }
}

fn normalize_origin(o: &str) -> String {
    o.trim().trim_end_matches('/').to_ascii_lowercase()
}

/// An origin as a browser sends it: `scheme://host[:port]`, nothing else.
fn valid_origin(o: &str) -> bool {
    let o = o.trim().trim_end_matches('/');
    let Ok(u) = url::Url::parse(o) else {
        return false;
    };
    matches!(u.scheme(), "http" | "https")
        && u.host_str().is_some()
        && u.path() == "/"
        && u.query().is_none()
        && !o.ends_with('/')
        && u.origin().ascii_serialization() == o.to_ascii_lowercase()
}

fn valid_color(c: &str) -> bool {
    c.len() == 7 && c.starts_with('#') && c[1..].chars().all(|x| x.is_ascii_hexdigit())
}

/// `hex(HMAC-SHA256(key = hmac_token, msg = identifier))` equals `hash` (constant time).
pub fn identifier_hash_ok(hmac_token: &str, identifier: &str, hash: &str) -> bool {
    let expected =
        tongdai_connectors::verify::hmac_sha256_hex(hmac_token.as_bytes(), identifier.as_bytes());
    tongdai_connectors::verify::constant_time_eq(
        expected.as_bytes(),
        hash.trim().to_ascii_lowercase().as_bytes(),
    )
}

// ---------------------------------------------------------------------------------------------
// Visitor tokens

/// Who a visitor token names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorClaims {
    /// Channel account id.
    pub c: Uuid,
    /// Visitor id within the channel: the verified identifier, or `visitor:<uuid>`.
    pub v: String,
    /// Identity checked with `identifier_hash`.
    #[serde(default)]
    pub ok: bool,
    /// Name the shop gave, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// Expiry, unix seconds.
    pub exp: i64,
}

/// `base64url(claims JSON) . base64url(HMAC-SHA256(key, first part))`.
pub fn sign_token(key: &[u8], claims: &VisitorClaims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    let mac = tongdai_connectors::verify::hmac_sha256_hex(key, payload.as_bytes());
    format!("{payload}.{mac}")
}

/// The claims of a token signed with `key` and not expired at `now`.
pub fn open_token(key: &[u8], token: &str, now: DateTime<Utc>) -> Option<VisitorClaims> {
    let (payload, mac) = token.split_once('.')?;
    let expected = tongdai_connectors::verify::hmac_sha256_hex(key, payload.as_bytes());
    if !tongdai_connectors::verify::constant_time_eq(expected.as_bytes(), mac.as_bytes()) {
        return None;
    }
    let claims: VisitorClaims =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    (claims.exp > now.timestamp()).then_some(claims)
}

fn token_key(state: &AppState) -> [u8; 32] {
    state.secrets.subkey(TOKEN_KEY)
}

// ---------------------------------------------------------------------------------------------
// Channels (agent API)

/// A new website chat channel.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebchatChannelIn {
    /// Shown in the inbox ("Website").
    pub name: String,
    /// Origins the widget may run on; empty or absent = any.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Greeting; default a Vietnamese "how can we help?".
    pub greeting: Option<String>,
    /// `#rrggbb`.
    pub accent_color: Option<String>,
    /// Logged-in customers only (a valid `identifier_hash` required).
    #[serde(default)]
    pub require_identity: bool,
}

/// Changes to a website chat channel.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebchatChannelPatch {
    /// Name.
    pub name: Option<String>,
    /// Allowed origins (replaces the list).
    pub allowed_origins: Option<Vec<String>>,
    /// Greeting.
    pub greeting: Option<String>,
    /// Accent colour.
    pub accent_color: Option<String>,
    /// Identity validation required.
    pub require_identity: Option<bool>,
}

/// A website chat channel. `hmac_token` is only in the answer that creates it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebchatChannelOut {
    /// Channel account id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Public id of the channel, put in the script tag.
    pub website_token: String,
    /// The tag to paste into the shop's pages.
    pub script_tag: String,
    /// Settings.
    #[serde(flatten)]
    pub settings: WebchatSettings,
    /// Secret for identity validation: `identifier_hash = hex(HMAC-SHA256(hmac_token,
    /// identifier))`, computed on the shop's server. Shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hmac_token: Option<String>,
    /// Created.
    pub created_at: DateTime<Utc>,
}

fn channel_out(
    state: &AppState,
    acc: &channel_account::Model,
    hmac: Option<String>,
) -> WebchatChannelOut {
    WebchatChannelOut {
        id: acc.id,
        name: acc.name.clone(),
        website_token: acc.external_id.clone(),
        script_tag: format!(
            "<script src=\"{}/widget.js\" data-website-token=\"{}\" async></script>",
            state.cfg.public_url(),
            acc.external_id
        ),
        settings: WebchatSettings::of(&acc.settings),
        hmac_token: hmac,
        created_at: acc.created_at,
    }
}

fn check_settings(s: &WebchatSettings, name: &str) -> AppResult<()> {
    if name.trim().is_empty() || name.chars().count() > 200 {
        return Err(AppError::bad_request(
            "invalid_name",
            "a name of 1 to 200 characters",
        ));
    }
    if let Some(bad) = s.allowed_origins.iter().find(|o| !valid_origin(o)) {
        return Err(AppError::bad_request(
            "invalid_origin",
            format!("{bad:?} is not an origin like https://shop.example"),
        ));
    }
    if s.allowed_origins.len() > 50 {
        return Err(AppError::bad_request(
            "invalid_origin",
            "at most 50 origins",
        ));
    }
    if s.greeting.chars().count() > 500 {
        return Err(AppError::bad_request(
            "invalid_greeting",
            "a greeting of at most 500 characters",
        ));
    }
    if !valid_color(&s.accent_color) {
        return Err(AppError::bad_request(
            "invalid_color",
            "the accent colour is #rrggbb",
        ));
    }
    Ok(())
}

/// `POST /webchat-channels`.
pub async fn create_channel(
    state: &AppState,
    p: &Principal,
    input: WebchatChannelIn,
) -> AppResult<WebchatChannelOut> {
    p.require(Permission::ManageChannels)?;
    let settings = WebchatSettings {
        allowed_origins: input
            .allowed_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .collect(),
        greeting: input
            .greeting
            .map(|g| g.trim().to_owned())
            .filter(|g| !g.is_empty())
            .unwrap_or_else(default_greeting),
        accent_color: input.accent_color.unwrap_or_else(default_accent),
        require_identity: input.require_identity,
        broken: false,
    };
    check_settings(&settings, &input.name)?;
    let hmac = crate::crypto::random_token(24);
    let id = Uuid::now_v7();
    let now = Utc::now();
    let sealed = tokens::Secrets {
        access_token: hmac.clone(),
        ..Default::default()
    }
    .seal(state);
    let txn = state.db.write.begin().await?;
    let acc = channel_account::ActiveModel {
        id: Set(id),
        workspace_id: Set(p.workspace_id),
        platform: Set(PLATFORM.into()),
        external_id: Set(crate::crypto::random_token(18)),
        name: Set(input.name.trim().to_owned()),
        settings: Set(json!(settings)),
        secrets_enc: Set(Some(sealed)),
        status: Set("active".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "webchat_channel.created",
        ("channel_account", id.to_string()),
        json!({ "name": acc.name, "allowed_origins": settings.allowed_origins }),
    )
    .await?;
    txn.commit().await?;
    Ok(channel_out(state, &acc, Some(hmac)))
}

/// `GET /webchat-channels`.
pub async fn list_channels(state: &AppState, p: &Principal) -> AppResult<Vec<WebchatChannelOut>> {
    p.require(Permission::ManageChannels)?;
    let rows = channel_account::Entity::find()
        .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
        .filter(channel_account::Column::Platform.eq(PLATFORM))
        .order_by_asc(channel_account::Column::CreatedAt)
        .all(&state.db.read)
        .await?;
    Ok(rows.iter().map(|a| channel_out(state, a, None)).collect())
}

/// `PATCH /webchat-channels/{id}`.
pub async fn update_channel(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    patch: WebchatChannelPatch,
) -> AppResult<WebchatChannelOut> {
    p.require(Permission::ManageChannels)?;
    let txn = state.db.write.begin().await?;
    let acc = channel_account::Entity::find_by_id(id)
        .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
        .filter(channel_account::Column::Platform.eq(PLATFORM))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("webchat channel"))?;
    let mut s = WebchatSettings::of(&acc.settings);
    if let Some(o) = patch.allowed_origins {
        s.allowed_origins = o
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .collect();
    }
    if let Some(g) = patch.greeting {
        let g = g.trim();
        s.greeting = if g.is_empty() {
            default_greeting()
        } else {
            g.to_owned()
        };
    }
    if let Some(c) = patch.accent_color {
        s.accent_color = c;
    }
    if let Some(r) = patch.require_identity {
        s.require_identity = r;
    }
    let name = patch
        .name
        .map(|n| n.trim().to_owned())
        .unwrap_or_else(|| acc.name.clone());
    check_settings(&s, &name)?;
    let mut am = acc.into_active_model();
    am.name = Set(name);
    am.settings = Set(json!(s));
    am.updated_at = Set(Utc::now());
    let acc = am.update(&txn).await?;
    audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "webchat_channel.updated",
        ("channel_account", id.to_string()),
        json!({ "settings": s }),
    )
    .await?;
    txn.commit().await?;
    Ok(channel_out(state, &acc, None))
}

// ---------------------------------------------------------------------------------------------
// Visitors

/// `POST /widget/v1/session`.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SessionIn {
    /// The channel's public token (from the script tag).
    pub website_token: String,
    /// The token of an earlier session on this browser (resumes its conversation).
    pub visitor_token: Option<String>,
    /// The shop's id of a logged-in customer.
    pub identifier: Option<String>,
    /// `hex(HMAC-SHA256(hmac_token, identifier))`, computed by the shop's server.
    pub identifier_hash: Option<String>,
    /// Customer's name, if the shop knows it.
    pub name: Option<String>,
    /// Customer's phone, if the shop knows it (recorded like the contact form).
    pub phone: Option<String>,
}

/// The channel as the widget shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct WidgetChannelOut {
    /// Name.
    pub name: String,
    /// Greeting.
    pub greeting: String,
    /// Accent colour.
    pub accent_color: String,
}

/// A message as the visitor sees it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitorMessageOut {
    /// Message id.
    pub id: Uuid,
    /// The widget's id of a visitor's message.
    pub echo_id: Option<String>,
    /// `visitor` or `agent`.
    pub from: String,
    /// Text.
    pub text: Option<String>,
    /// When.
    pub sent_at: DateTime<Utc>,
    /// `received` (visitor's), `sent` or `read` (agent's, `read` once the visitor saw it).
    pub status: String,
}

/// A started or resumed session.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionOut {
    /// Keep it (the widget stores it in localStorage) and send it back to resume.
    pub visitor_token: String,
    /// The conversation, once the visitor has written.
    pub conversation_id: Option<Uuid>,
    /// The latest messages, oldest first.
    pub messages: Vec<VisitorMessageOut>,
    /// Older messages exist (page with `GET /widget/v1/messages?before=`).
    pub has_more: bool,
    /// The identity was verified with `identifier_hash`.
    pub verified: bool,
    /// How the widget looks.
    pub channel: WidgetChannelOut,
}

/// An older page of the visitor's messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryOut {
    /// Oldest first.
    pub messages: Vec<VisitorMessageOut>,
    /// Still older ones exist.
    pub has_more: bool,
}

/// A visitor with a valid token.
#[derive(Debug, Clone)]
pub struct Visitor {
    /// The channel.
    pub acc: channel_account::Model,
    /// The token's claims.
    pub claims: VisitorClaims,
}

async fn channel_by_token(
    state: &AppState,
    website_token: &str,
) -> AppResult<channel_account::Model> {
    channel_account::Entity::find()
        .filter(channel_account::Column::Platform.eq(PLATFORM))
        .filter(channel_account::Column::ExternalId.eq(website_token.trim()))
        .filter(channel_account::Column::Status.ne("disabled"))
        .one(&state.db.read)
        .await?
        .ok_or(AppError::NotFound("website chat channel"))
}

fn check_origin(acc: &channel_account::Model, origin: Option<&str>) -> AppResult<WebchatSettings> {
    let s = WebchatSettings::of(&acc.settings);
    if !s.origin_allowed(origin) {
        return Err(AppError::forbidden(
            "origin_not_allowed",
            "this website is not among the chat channel's allowed origins",
        ));
    }
    Ok(s)
}

fn check_ip(state: &AppState, ip: std::net::IpAddr) -> AppResult<()> {
    state
        .limits
        .widget_ip
        .check_key(&ip)
        .map_err(|not_until| AppError::RateLimited {
            retry_after: not_until.wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            )),
        })
}

/// The session's visitor, refusing an invalid identity with a reason.
fn session_claims(
    state: &AppState,
    acc: &channel_account::Model,
    s: &WebchatSettings,
    input: &SessionIn,
) -> AppResult<VisitorClaims> {
    let exp = (Utc::now() + chrono::Duration::days(TOKEN_DAYS)).timestamp();
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| n.chars().take(200).collect::<String>());
    if let Some(identifier) = input
        .identifier
        .as_deref()
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        if identifier.chars().count() > 200 {
            return Err(AppError::bad_request(
                "invalid_identifier",
                "an identifier of at most 200 characters",
            ));
        }
        // A channel without a secret (made through the generic channel-accounts route) can
        // verify no one.
        let hmac = tokens::open(state, acc).map(|s| s.access_token);
        let ok = match (hmac.as_deref(), input.identifier_hash.as_deref()) {
            (Some(key), Some(h)) if !key.is_empty() => identifier_hash_ok(key, identifier, h),
            _ => false,
        };
        if !ok {
            return Err(AppError::unauthorized(
                "invalid_identifier_hash",
                "HMAC failed: the identifier_hash does not match the identifier (compute it on \
                 your server as hex HMAC-SHA256 of the identifier with the channel's hmac_token)",
            ));
        }
        return Ok(VisitorClaims {
            c: acc.id,
            v: identifier.to_owned(),
            ok: true,
            n: name,
            exp,
        });
    }
    if s.require_identity {
        return Err(AppError::unauthorized(
            "identity_required",
            "this chat is for signed-in customers: pass identifier and identifier_hash",
        ));
    }
    // Resume the browser's anonymous visitor when its token is ours and for this channel.
    let resumed = input
        .visitor_token
        .as_deref()
        .and_then(|t| open_token(&token_key(state), t, Utc::now()))
        .filter(|c| c.c == acc.id && !c.ok);
    Ok(match resumed {
        Some(c) => VisitorClaims {
            n: name.or(c.n),
            exp,
            ..c
        },
        None => VisitorClaims {
            c: acc.id,
            v: format!("visitor:{}", crate::crypto::random_token(16)),
            ok: false,
            n: name,
            exp,
        },
    })
}

/// `POST /widget/v1/session`: start or resume a visitor's session.
pub async fn start_session(
    state: &AppState,
    origin: Option<&str>,
    ip: std::net::IpAddr,
    input: SessionIn,
) -> AppResult<SessionOut> {
    check_ip(state, ip)?;
    let acc = channel_by_token(state, &input.website_token).await?;
    let s = check_origin(&acc, origin)?;
    let claims = session_claims(state, &acc, &s, &input)?;
    let phone = input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty());
    let visitor = Visitor { acc, claims };
    if let Some(phone) = phone {
        // The shop knows the phone: record it once (the same name and phone dedupe).
        leave_contact(state, &visitor, visitor.claims.n.as_deref(), Some(phone))
            .await
            .map_err(|e| match e.code {
                "unavailable" => AppError::Unavailable,
                code => AppError::bad_request(code, e.message),
            })?;
    }
    let conv = conversation_of(state, &visitor).await?;
    let (messages, has_more) = match conv {
        Some(c) => page(state, &visitor, c, None).await?,
        None => (Vec::new(), false),
    };
    Ok(SessionOut {
        visitor_token: sign_token(&token_key(state), &visitor.claims),
        conversation_id: conv,
        messages,
        has_more,
        verified: visitor.claims.ok,
        channel: WidgetChannelOut {
            name: visitor.acc.name.clone(),
            greeting: s.greeting,
            accent_color: s.accent_color,
        },
    })
}

/// The visitor of `token`, when it is valid, its channel active and `origin` allowed.
pub async fn visitor(state: &AppState, origin: Option<&str>, token: &str) -> AppResult<Visitor> {
    let claims = open_token(&token_key(state), token.trim(), Utc::now())
        .ok_or_else(|| AppError::unauthorized("invalid_visitor_token", "start a new session"))?;
    let acc = channel_account::Entity::find_by_id(claims.c)
        .filter(channel_account::Column::Platform.eq(PLATFORM))
        .filter(channel_account::Column::Status.ne("disabled"))
        .one(&state.db.read)
        .await?
        .ok_or(AppError::NotFound("website chat channel"))?;
    let s = check_origin(&acc, origin)?;
    if s.require_identity && !claims.ok {
        return Err(AppError::unauthorized(
            "identity_required",
            "this chat is for signed-in customers",
        ));
    }
    Ok(Visitor { acc, claims })
}

/// `GET /widget/v1/ws`: the visitor of `token` and their conversation (if they have written),
/// within the per-IP limit.
pub async fn open_socket(
    state: &AppState,
    origin: Option<&str>,
    ip: std::net::IpAddr,
    token: &str,
) -> AppResult<(Visitor, Option<Uuid>)> {
    check_ip(state, ip)?;
    let v = visitor(state, origin, token).await?;
    let conv = conversation_of(state, &v).await?;
    Ok((v, conv))
}

/// `GET /widget/v1/messages?before=`: an older page.
pub async fn history(
    state: &AppState,
    origin: Option<&str>,
    ip: std::net::IpAddr,
    token: &str,
    before: Option<Uuid>,
) -> AppResult<HistoryOut> {
    check_ip(state, ip)?;
    let v = visitor(state, origin, token).await?;
    let Some(conv) = conversation_of(state, &v).await? else {
        return Ok(HistoryOut {
            messages: Vec::new(),
            has_more: false,
        });
    };
    let (messages, has_more) = page(state, &v, conv, before).await?;
    Ok(HistoryOut { messages, has_more })
}

/// The visitor's conversation, once they have written.
pub async fn conversation_of(state: &AppState, v: &Visitor) -> AppResult<Option<Uuid>> {
    Ok(conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Id)
        .filter(conversation::Column::ChannelAccountId.eq(v.acc.id))
        .filter(conversation::Column::ExternalThreadId.eq(&v.claims.v))
        .into_tuple::<Uuid>()
        .one(&state.db.read)
        .await?)
}

async fn page(
    state: &AppState,
    v: &Visitor,
    conv: Uuid,
    before: Option<Uuid>,
) -> AppResult<(Vec<VisitorMessageOut>, bool)> {
    let mut q = message::Entity::find()
        .filter(message::Column::ConversationId.eq(conv))
        .filter(message::Column::Kind.eq("message"))
        .filter(message::Column::Status.is_in(["received", "sent", "delivered", "read"]));
    if let Some(b) = before {
        // Ids are UUIDv7: ordered by creation.
        q = q.filter(message::Column::Id.lt(b));
    }
    let mut rows = q
        .order_by_desc(message::Column::SentAt)
        .order_by_desc(message::Column::Id)
        .limit(PAGE + 1)
        .all(&state.db.read)
        .await?;
    let has_more = rows.len() as u64 > PAGE;
    rows.truncate(PAGE as usize);
    rows.reverse();
    Ok((
        rows.iter().filter_map(|m| visitor_view(v, m)).collect(),
        has_more,
    ))
}

/// The fields of a message the visitor's view is made of.
struct Parts<'a> {
    id: Uuid,
    kind: &'a str,
    direction: &'a str,
    status: &'a str,
    external_id: Option<&'a str>,
    text: Option<&'a str>,
    sent_at: DateTime<Utc>,
}

/// What the visitor may see of a message: their own messages and agents' sent replies, never
/// notes, comments, queued or failed rows.
fn view(v: &Visitor, m: Parts<'_>) -> Option<VisitorMessageOut> {
    if m.kind != "message" {
        return None;
    }
    let from = match m.direction {
        "in" => "visitor",
        "out" if matches!(m.status, "sent" | "delivered" | "read") => "agent",
        _ => return None,
    };
    Some(VisitorMessageOut {
        id: m.id,
        echo_id: m
            .external_id
            .filter(|_| from == "visitor")
            .and_then(|e| wire::echo_id_of(&v.claims.v, e))
            .map(str::to_owned),
        from: from.to_owned(),
        text: m.text.map(str::to_owned),
        sent_at: m.sent_at,
        status: m.status.to_owned(),
    })
}

/// [`view`] of a stored message.
pub fn visitor_view(v: &Visitor, m: &message::Model) -> Option<VisitorMessageOut> {
    view(
        v,
        Parts {
            id: m.id,
            kind: &m.kind,
            direction: &m.direction,
            status: &m.status,
            external_id: m.external_id.as_deref(),
            text: m.text.as_deref(),
            sent_at: m.sent_at,
        },
    )
}

/// Why a visitor's frame was refused (sent back as an `error` frame).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitorError {
    /// `too_long`, `empty`, `rate_limited`, `invalid`, `unavailable`.
    pub code: &'static str,
    /// For people.
    pub message: String,
}

impl VisitorError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        VisitorError {
            code,
            message: message.into(),
        }
    }
}

fn limit_visitor(state: &AppState, v: &Visitor, ip: std::net::IpAddr) -> Result<(), VisitorError> {
    let limited = || VisitorError::new("rate_limited", "too many messages; wait a moment");
    state
        .limits
        .widget_visitor
        .check_key(&(v.acc.id, v.claims.v.clone()))
        .map_err(|_| limited())?;
    state.limits.widget_ip.check_key(&ip).map_err(|_| limited())
}

/// Sign `ev` and store it on the durable ingest path; resolves once it is committed.
async fn store(state: &AppState, ev: &VisitorEvent) -> Result<Stored, VisitorError> {
    let key = state.secrets.subkey(INGEST_KEY);
    let (body, sig) = ev.sign(&key);
    let mut headers = http::HeaderMap::new();
    headers.insert(
        SIGNATURE_HEADER,
        http::HeaderValue::from_str(&sig).map_err(|_| VisitorError::new("invalid", "signature"))?,
    );
    let body = bytes::Bytes::from(body);
    let req = InboundRequest {
        method: &http::Method::POST,
        headers: &headers,
        query: None,
        body: &body,
    };
    let inbound = state
        .connectors
        .get(Platform::Webchat)
        .and_then(|c| c.webhook())
        .ok_or_else(|| VisitorError::new("unavailable", "website chat is not available"))?;
    let verified = verify(Platform::Webchat, inbound, &req, body.clone())
        .map_err(|e| VisitorError::new("unavailable", e.to_string()))?;
    let stored = state.ingest.store(verified).await.map_err(|_| {
        VisitorError::new("unavailable", "could not save the message; send it again")
    })?;
    state.metrics.webhook(
        Platform::Webchat.as_str(),
        match stored {
            Stored::New => "accepted",
            Stored::Duplicate => "duplicate",
        },
    );
    Ok(stored)
}

/// A visitor's message: checked (size, rate), then stored durably; a resent `echo_id` is
/// stored once.
pub async fn visitor_message(
    state: &AppState,
    v: &Visitor,
    ip: std::net::IpAddr,
    text: &str,
    echo_id: &str,
) -> Result<Stored, VisitorError> {
    let echo_id = echo_id.trim();
    if echo_id.is_empty() || echo_id.len() > 100 {
        return Err(VisitorError::new(
            "invalid",
            "echo_id of 1 to 100 characters",
        ));
    }
    let text = text.trim();
    if text.is_empty() {
        return Err(VisitorError::new("empty", "the message is empty"));
    }
    let max = state.cfg.widget.max_message_chars;
    if text.chars().count() > max {
        return Err(VisitorError::new(
            "too_long",
            format!("a message may have at most {max} characters"),
        ));
    }
    limit_visitor(state, v, ip)?;
    store(
        state,
        &VisitorEvent::Message {
            account: v.acc.external_id.clone(),
            visitor: v.claims.v.clone(),
            name: v.claims.n.clone(),
            echo_id: echo_id.to_owned(),
            text: text.to_owned(),
            sent_at: Utc::now().timestamp_millis(),
        },
    )
    .await
}

/// The contact form (or a phone the shop passed): stored like a message (the agent sees it;
/// the phone makes a lead).
pub async fn visitor_contact(
    state: &AppState,
    v: &Visitor,
    ip: std::net::IpAddr,
    name: Option<&str>,
    phone: Option<&str>,
) -> Result<Stored, VisitorError> {
    limit_visitor(state, v, ip)?;
    leave_contact(state, v, name, phone).await
}

async fn leave_contact(
    state: &AppState,
    v: &Visitor,
    name: Option<&str>,
    phone: Option<&str>,
) -> Result<Stored, VisitorError> {
    let name = name.map(str::trim).filter(|n| !n.is_empty());
    let phone = phone.map(str::trim).filter(|p| !p.is_empty());
    if name.is_some_and(|n| n.chars().count() > 200) {
        return Err(VisitorError::new(
            "invalid_name",
            "a name of at most 200 characters",
        ));
    }
    if let Some(p) = phone
        && (p.chars().count() > 30 || crate::domain::phone::find_phones(p).is_empty())
    {
        return Err(VisitorError::new(
            "invalid_phone",
            "not a Vietnamese mobile number",
        ));
    }
    if name.is_none() && phone.is_none() {
        return Err(VisitorError::new("empty", "a name or a phone number"));
    }
    store(
        state,
        &VisitorEvent::Contact {
            account: v.acc.external_id.clone(),
            visitor: v.claims.v.clone(),
            name: name.map(str::to_owned),
            phone: phone.map(str::to_owned),
            sent_at: Utc::now().timestamp_millis(),
        },
    )
    .await
}

/// The visitor has read the thread: agents' replies up to now become `read` (through the
/// ingest path, as a platform's read receipt would).
pub async fn visitor_read(state: &AppState, v: &Visitor) -> Result<(), VisitorError> {
    state
        .limits
        .widget_visitor
        .check_key(&(v.acc.id, format!("read:{}", v.claims.v)))
        .map_err(|_| VisitorError::new("rate_limited", "too many read receipts"))?;
    store(
        state,
        &VisitorEvent::Read {
            account: v.acc.external_id.clone(),
            visitor: v.claims.v.clone(),
            at: Utc::now().timestamp_millis(),
        },
    )
    .await
    .map(|_| ())
}

/// The visitor is typing: agents looking at the conversation are told (nothing is stored).
pub async fn visitor_typing(state: &AppState, v: &Visitor, conv: Option<Uuid>) {
    if let Some(conv) = conv {
        state
            .bus
            .publish(
                v.acc.workspace_id,
                "conversation.typing",
                json!({ "conversation_id": conv, "by": "contact" }),
            )
            .await;
    }
}

/// `POST /conversations/{id}/typing`: the agent is composing a reply; the visitor's widget
/// shows it (only website chat visitors can be told; nothing is stored).
pub async fn agent_typing(state: &AppState, p: &Principal, id: Uuid) -> AppResult<()> {
    p.require(Permission::WorkInbox)?;
    let exists = conversation::Entity::find_by_id(id)
        .filter(conversation::Column::WorkspaceId.eq(p.workspace_id))
        .select_only()
        .column(conversation::Column::Id)
        .into_tuple::<Uuid>()
        .one(&state.db.read)
        .await?;
    if exists.is_none() {
        return Err(AppError::NotFound("conversation"));
    }
    state
        .bus
        .publish(
            p.workspace_id,
            "conversation.typing",
            json!({ "conversation_id": id, "by": "agent", "user_id": p.user_id }),
        )
        .await;
    Ok(())
}

/// The widget frame a bus frame makes for visitor `v` whose conversation is `conv`, if any.
pub fn visitor_frame(v: &Visitor, conv: Uuid, f: &Frame) -> Option<Value> {
    let for_conv = |d: &Value| {
        d.get("conversation_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<Uuid>().ok())
            == Some(conv)
    };
    match f.kind.as_str() {
        "message.created" | "message.updated" => {
            let m = f.data.get("message")?;
            if !for_conv(m) {
                return None;
            }
            let str_of = |k: &str| m.get(k).and_then(Value::as_str);
            let out = view(
                v,
                Parts {
                    id: str_of("id")?.parse().ok()?,
                    kind: str_of("kind")?,
                    direction: str_of("direction")?,
                    status: str_of("status")?,
                    external_id: str_of("external_id"),
                    text: str_of("text"),
                    sent_at: serde_json::from_value(m.get("sent_at")?.clone()).ok()?,
                },
            )?;
            Some(json!({ "type": "message", "message": out }))
        }
        "conversation.typing" if for_conv(&f.data) => {
            (f.data.get("by")?.as_str()? == "agent").then(|| json!({ "type": "typing" }))
        }
        "conversation.read" if for_conv(&f.data) => {
            Some(json!({ "type": "read", "at": f.data.get("at") }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_hash_matches_vector_s3() {
        let h = "ad4401f6c3ee70d3e441e42623f8bd05b26a9563c387c6369ee97dd151c1d235";
        assert!(identifier_hash_ok("hmac_token_example", "customer-42", h));
        assert!(identifier_hash_ok(
            "hmac_token_example",
            "customer-42",
            &h.to_uppercase()
        ));
        assert!(!identifier_hash_ok("hmac_token_example", "customer-43", h));
        assert!(!identifier_hash_ok("other", "customer-42", h));
        assert!(!identifier_hash_ok("hmac_token_example", "customer-42", ""));
    }

    #[test]
    fn visitor_tokens_open_only_untampered_unexpired_and_with_the_key() {
        let now = Utc::now();
        let claims = VisitorClaims {
            c: Uuid::now_v7(),
            v: "visitor:1".into(),
            ok: false,
            n: None,
            exp: (now + chrono::Duration::days(1)).timestamp(),
        };
        let t = sign_token(b"k", &claims);
        assert_eq!(open_token(b"k", &t, now), Some(claims.clone()));
        assert_eq!(open_token(b"other", &t, now), None);
        let forged = VisitorClaims {
            v: "customer-42".into(),
            ok: true,
            ..claims.clone()
        };
        let (_, mac) = t.split_once('.').unwrap();
        let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&forged).unwrap());
        assert_eq!(open_token(b"k", &format!("{payload}.{mac}"), now), None);
        assert_eq!(open_token(b"k", &t, now + chrono::Duration::days(2)), None);
        assert_eq!(open_token(b"k", "garbage", now), None);
    }

    #[test]
    fn origins_are_checked_against_the_list_and_an_empty_list_allows_any() {
        let mut s = WebchatSettings::of(&json!({}));
        assert!(s.origin_allowed(Some("https://evil.example")));
        assert!(s.origin_allowed(None));
        s.allowed_origins = vec!["https://shop.example".into()];
        assert!(s.origin_allowed(Some("https://shop.example")));
        assert!(s.origin_allowed(Some("HTTPS://SHOP.example/")));
        assert!(!s.origin_allowed(Some("https://shop.example.evil")));
        assert!(!s.origin_allowed(Some("http://shop.example")));
        assert!(!s.origin_allowed(None));
        let broken = WebchatSettings::of(&json!({ "allowed_origins": "https://shop.example" }));
        assert!(!broken.origin_allowed(Some("https://shop.example")));
        assert!(!broken.origin_allowed(None));
    }

    #[test]
    fn settings_default_to_a_vietnamese_greeting_and_only_origins_are_accepted() {
        let s = WebchatSettings::of(&json!({}));
        assert_eq!(s.greeting, GREETING_VI);
        assert!(valid_origin("https://shop.example"));
        assert!(valid_origin("http://127.0.0.1:8081"));
        assert!(!valid_origin("https://shop.example/path"));
        assert!(!valid_origin("shop.example"));
        assert!(!valid_origin("javascript:alert(1)"));
        assert!(valid_color("#A0b1c2"));
        assert!(!valid_color("red"));
    }
}
