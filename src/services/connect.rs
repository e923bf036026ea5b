//! Connecting Facebook Pages and their Instagram accounts through Facebook Login
//! (`shared/specs/social.md` §2.8): start an attempt (a hashed CSRF `state`), send the browser
//! to Meta's dialog, take the code back, keep the long-lived user token sealed on the attempt
//! while the marketer picks Pages and Instagram accounts, then store each pick with its Page
//! token (sealed) and subscribe the app to its Page. Disconnecting removes the app from the
//! Page and forgets the token.
//!
//! No token (user or Page) is ever returned or logged; the attempt is single use and expires.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionTrait,
};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tongdai_connectors::facebook::{LOGIN_SCOPES, PAGE_WEBHOOK_FIELDS};
use tongdai_connectors::{
    AccessToken, Connector, ConnectorError, HttpCtx, ManagedPage, MetaLogin, Platform,
};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::crypto::{random_token, token_hash};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::{self, Principal};
use crate::services::backfill;
use crate::services::channels::{self, ChannelAccountOut, account_token, seal};
use crate::state::AppState;
use crate::store::entities::{channel_account, oauth_state};

/// `oauth_state.platform` of Facebook Login attempts.
const PLATFORM: &str = "facebook";
/// How long a connect attempt stays usable: to come back from the dialog, then to pick.
const ATTEMPT_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// Where the browser starts connecting Facebook Pages.
pub const START_PATH: &str = "/api/v1/channels/facebook/connect";
/// The path Meta's dialog sends the browser back to.
pub const CALLBACK_PATH: &str = "/api/v1/channels/facebook/callback";

/// Where to send the browser to log in with Facebook.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectUrlOut {
    /// The Facebook Login dialog URL.
    pub url: String,
}

/// A connect attempt whose login succeeded: pick Pages next.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptOut {
    /// Use it with `/api/v1/channels/facebook/connect/{attempt_id}/…`.
    pub attempt_id: Uuid,
}

/// What a consent page (Meta's dialog, an OAuth 2 authorization page) appends to the
/// callback URL.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackIn {
    /// The authorization code (on success).
    pub code: Option<String>,
    /// The `state` tongdai sent to the dialog.
    pub state: Option<String>,
    /// `access_denied` when the user cancelled or refused.
    pub error: Option<String>,
    /// Meta's explanation of `error`.
    pub error_description: Option<String>,
    /// Meta's reason code (`user_denied`).
    pub error_reason: Option<String>,
}

/// A Page the signed-in Facebook user manages (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct ManagedPageOut {
    /// The Page id.
    pub id: String,
    /// The Page's name.
    pub name: Option<String>,
    /// The Page's category.
    pub category: Option<String>,
    /// What the user may do on it (`MESSAGING`, `MODERATE`, `MANAGE`, …).
    pub tasks: Vec<String>,
    /// Whether it is already connected (and not disabled) in this workspace.
    pub already_connected: bool,
    /// Its linked Instagram professional account.
    pub instagram: Option<LinkedInstagramOut>,
}

/// The Instagram professional account linked to a Page.
#[derive(Debug, Serialize, ToSchema)]
pub struct LinkedInstagramOut {
    /// The Instagram account id.
    pub id: String,
    /// `@username`, without the `@`.
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Whether it is already connected (and not disabled) in this workspace.
    pub already_connected: bool,
}

/// Which of the listed Pages and Instagram accounts to connect.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ConnectIn {
    /// Page ids.
    #[serde(default)]
    pub pages: Vec<String>,
    /// Instagram account ids (each linked to one of the user's Pages).
    #[serde(default)]
    pub instagram: Vec<String>,
}

/// The outcome of a disconnect.
#[derive(Debug, Serialize, ToSchema)]
pub struct DisconnectOut {
    /// The account, now `disabled` and without a token.
    pub account: ChannelAccountOut,
    /// Whether the app was removed from the Page. `false` without `error` when nothing had to
    /// be removed (an Instagram account whose Page stays connected, a Page whose Instagram
    /// account stays connected, a platform without subscriptions).
    pub unsubscribed: bool,
    /// Why removing the app from the Page failed (the local disconnect happened anyway).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The Meta app id and secret, or a clear refusal.
fn app_credentials(state: &AppState) -> AppResult<(String, SecretString)> {
    let fb = &state.cfg.facebook;
    match (fb.app_id.as_deref(), fb.app_secret.as_ref()) {
        (Some(id), Some(secret))
            if !id.is_empty() && !secrecy::ExposeSecret::expose_secret(secret).is_empty() =>
        {
            Ok((id.to_owned(), secret.clone()))
        }
        _ => Err(AppError::bad_request(
            "not_configured",
            "Facebook Login needs TONGDAI_FACEBOOK_APP_ID and TONGDAI_FACEBOOK_APP_SECRET",
        )),
    }
}

/// Whether Facebook Login can run: app id and secret set, and a connector that logs in.
pub fn configured(state: &AppState) -> bool {
    app_credentials(state).is_ok() && login_connector(state).is_ok()
}

fn login_connector(state: &AppState) -> AppResult<Arc<dyn Connector>> {
    state
        .connectors
        .get(Platform::Facebook)
        .filter(|c| c.meta_login().is_some())
        .cloned()
        .ok_or_else(|| {
            AppError::bad_request("not_configured", "this build has no Facebook connector")
        })
}

fn login(c: &Arc<dyn Connector>) -> AppResult<&dyn MetaLogin> {
    c.meta_login().ok_or_else(|| {
        AppError::bad_request("not_configured", "this build has no Facebook connector")
    })
}

fn graph(state: &AppState) -> HttpCtx<'_> {
    HttpCtx {
        http: &state.http,
        base_url: state.api_base(Platform::Facebook),
    }
}

fn redirect_uri(state: &AppState) -> String {
    format!("{}{CALLBACK_PATH}", state.cfg.public_url())
}

/// A platform failure during the connect flow, for the marketer.
fn platform_error(what: &str, e: &ConnectorError) -> AppError {
    match e {
        ConnectorError::RateLimited { retry_after, .. } => AppError::RateLimited {
            retry_after: retry_after.unwrap_or(std::time::Duration::from_secs(60)),
        },
        _ => AppError::Platform {
            code: e.code(),
            message: format!("{what}: {e}"),
        },
    }
}

fn session_required() -> AppError {
    AppError::forbidden(
        "session_required",
        "connecting through Facebook Login needs a signed-in user, not an API key",
    )
}

fn secret(s: &SecretString) -> &str {
    secrecy::ExposeSecret::expose_secret(s)
}

/// `GET /channels/facebook/connect`: start an attempt; the dialog URL to send the browser to.
pub async fn start(state: &AppState, p: &Principal) -> AppResult<ConnectUrlOut> {
    p.require(Permission::ManageChannels)?;
    let user_id = p.user_id.ok_or_else(session_required)?;
    let (app_id, _) = app_credentials(state)?;
    let connector = login_connector(state)?;
    let now = Utc::now();
    // Attempts nobody finished: forget them.
    oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::WorkspaceId.eq(p.workspace_id))
        .filter(oauth_state::Column::ExpiresAt.lt(now))
        .exec(&state.db.write)
        .await?;
    let csrf = random_token(32);
    oauth_state::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(p.workspace_id),
        user_id: Set(user_id),
        platform: Set(PLATFORM.into()),
        state_hash: Set(token_hash(&csrf)),
        grant_enc: Set(None),
        expires_at: Set(now + ATTEMPT_TTL),
        created_at: Set(now),
    }
    .insert(&state.db.write)
    .await?;
    let url = login(&connector)?
        .authorize_url(
            &state.cfg.facebook.oauth_url,
            &app_id,
            &redirect_uri(state),
            &csrf,
            &LOGIN_SCOPES,
        )
        .map_err(|e| {
            AppError::bad_request("not_configured", format!("cannot build the login URL: {e}"))
        })?;
    Ok(ConnectUrlOut { url })
}

async fn delete_attempt(db: &impl ConnectionTrait, id: Uuid) -> Result<(), sea_orm::DbErr> {
    oauth_state::Entity::delete_by_id(id).exec(db).await?;
    Ok(())
}

/// `GET /channels/facebook/callback`: the dialog came back. Exchanges the code for a
/// long-lived user token, kept sealed on the attempt. `session` is the caller's session
/// cookie, when the browser sent one: the attempt must then belong to its workspace.
pub async fn callback(
    state: &AppState,
    session: Option<&str>,
    input: CallbackIn,
) -> AppResult<AttemptOut> {
    let csrf = input.state.as_deref().unwrap_or_default();
    if csrf.is_empty() {
        return Err(AppError::bad_request(
            "invalid_state",
            "the callback carries no state",
        ));
    }
    let attempt = oauth_state::Entity::find()
        .filter(oauth_state::Column::StateHash.eq(token_hash(csrf)))
        .filter(oauth_state::Column::Platform.eq(PLATFORM))
        .one(&state.db.write)
        .await?
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_state",
                "unknown or finished connect attempt: start again",
            )
        })?;
    if let Some(token) = session
        && let Some(p) = auth::principal_from_session(state, token).await?
        && p.workspace_id != attempt.workspace_id
    {
        return Err(AppError::bad_request(
            "state_mismatch",
            "this connect attempt was started in another workspace",
        ));
    }
    if attempt.expires_at < Utc::now() {
        delete_attempt(&state.db.write, attempt.id).await?;
        return Err(AppError::bad_request(
            "state_expired",
            "the connect attempt expired: start again",
        ));
    }
    if attempt.grant_enc.is_some() {
        return Err(AppError::bad_request(
            "state_used",
            "this connect attempt was already used",
        ));
    }
    if let Some(error) = input.error.as_deref().filter(|e| !e.is_empty()) {
        delete_attempt(&state.db.write, attempt.id).await?;
        let why = input
            .error_description
            .as_deref()
            .or(input.error_reason.as_deref())
            .unwrap_or("no reason given");
        tracing::info!(attempt = %attempt.id, error, "Facebook Login cancelled");
        return Err(AppError::bad_request(
            "login_cancelled",
            format!("Facebook Login did not complete ({error}): {why}"),
        ));
    }
    let code = input.code.as_deref().unwrap_or_default();
    if code.is_empty() {
        delete_attempt(&state.db.write, attempt.id).await?;
        return Err(AppError::bad_request(
            "missing_code",
            "the callback carries no code",
        ));
    }
    let (app_id, app_secret) = app_credentials(state)?;
    // Claim the attempt (an empty grant) so that a replayed callback cannot race this one.
    let claimed = oauth_state::Entity::update_many()
        .col_expr(
            oauth_state::Column::GrantEnc,
            Expr::value(Some(Vec::<u8>::new())),
        )
        .filter(oauth_state::Column::Id.eq(attempt.id))
        .filter(oauth_state::Column::GrantEnc.is_null())
        .exec(&state.db.write)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(AppError::bad_request(
            "state_used",
            "this connect attempt was already used",
        ));
    }
    let connector = login_connector(state)?;
    let meta = login(&connector)?;
    let cx = graph(state);
    let exchanged = async {
        let short = meta
            .exchange_code(
                &cx,
                &app_id,
                secret(&app_secret),
                &redirect_uri(state),
                code,
            )
            .await?;
        meta.long_lived(&cx, &app_id, secret(&app_secret), &short.access_token)
            .await
    }
    .await;
    let grant = match exchanged {
        Ok(g) => g,
        Err(e) => {
            delete_attempt(&state.db.write, attempt.id).await?;
            tracing::warn!(attempt = %attempt.id, error = %e, "Facebook Login code exchange failed");
            return Err(platform_error("Facebook refused the login", &e));
        }
    };
    let sealed = state.secrets.seal(
        json!({
            "access_token": grant.access_token.expose(),
            "expires_in": grant.expires_in,
        })
        .to_string()
        .as_bytes(),
    );
    oauth_state::Entity::update_many()
        .col_expr(oauth_state::Column::GrantEnc, Expr::value(Some(sealed)))
        .col_expr(
            oauth_state::Column::ExpiresAt,
            Expr::value(Utc::now() + ATTEMPT_TTL),
        )
        .filter(oauth_state::Column::Id.eq(attempt.id))
        .exec(&state.db.write)
        .await?;
    tracing::info!(attempt = %attempt.id, "Facebook Login completed");
    Ok(AttemptOut {
        attempt_id: attempt.id,
    })
}

/// The caller's own attempt, logged in and not expired, with its user token.
async fn open_attempt(
    state: &AppState,
    p: &Principal,
    attempt_id: Uuid,
) -> AppResult<(oauth_state::Model, AccessToken)> {
    p.require(Permission::ManageChannels)?;
    let user = p.user_id.ok_or_else(session_required)?;
    // Attempts are personal: the grant is the user's own Facebook login.
    let attempt = oauth_state::Entity::find_by_id(attempt_id)
        .filter(oauth_state::Column::WorkspaceId.eq(p.workspace_id))
        .filter(oauth_state::Column::UserId.eq(user))
        .filter(oauth_state::Column::Platform.eq(PLATFORM))
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("connect attempt"))?;
    if attempt.expires_at < Utc::now() {
        delete_attempt(&state.db.write, attempt.id).await?;
        return Err(AppError::bad_request(
            "attempt_expired",
            "the connect attempt expired: log in with Facebook again",
        ));
    }
    let token = attempt
        .grant_enc
        .as_deref()
        .filter(|g| !g.is_empty())
        .and_then(|g| state.secrets.open(g))
        .and_then(|plain| serde_json::from_slice::<serde_json::Value>(&plain).ok())
        .and_then(|v| v.get("access_token")?.as_str().map(AccessToken::new))
        .ok_or_else(|| {
            AppError::bad_request(
                "attempt_not_logged_in",
                "this connect attempt has not come back from Facebook Login",
            )
        })?;
    Ok((attempt, token))
}

/// The Pages the user manages, as the platform lists them now.
async fn managed_pages(state: &AppState, user_token: &AccessToken) -> AppResult<Vec<ManagedPage>> {
    let connector = login_connector(state)?;
    login(&connector)?
        .list_pages(&graph(state), user_token)
        .await
        .map_err(|e| platform_error("could not list your Facebook Pages", &e))
}

/// `(platform, external_id)` of the accounts connected (not disabled) in the workspace.
async fn connected_here(state: &AppState, workspace: Uuid) -> AppResult<HashSet<(String, String)>> {
    Ok(channel_account::Entity::find()
        .filter(channel_account::Column::WorkspaceId.eq(workspace))
        .filter(channel_account::Column::Platform.is_in(["facebook", "instagram"]))
        .filter(channel_account::Column::Status.ne("disabled"))
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(|a| (a.platform, a.external_id))
        .collect())
}

/// `GET /channels/facebook/connect/{attempt_id}/pages`.
pub async fn pages(
    state: &AppState,
    p: &Principal,
    attempt_id: Uuid,
) -> AppResult<Vec<ManagedPageOut>> {
    let (_, user_token) = open_attempt(state, p, attempt_id).await?;
    let pages = managed_pages(state, &user_token).await?;
    let here = connected_here(state, p.workspace_id).await?;
    let is = |platform: &str, id: &str| here.contains(&(platform.to_owned(), id.to_owned()));
    Ok(pages
        .into_iter()
        .map(|pg| ManagedPageOut {
            already_connected: is("facebook", &pg.id),
            instagram: pg.instagram.map(|ig| LinkedInstagramOut {
                already_connected: is("instagram", &ig.id),
                id: ig.id,
                username: ig.username,
                name: ig.name,
            }),
            id: pg.id,
            name: pg.name,
            category: pg.category,
            tasks: pg.tasks,
        })
        .collect())
}

/// One account to store.
struct Pick<'a> {
    platform: Platform,
    external_id: &'a str,
    name: String,
    /// The Page it lives on (for Instagram: the linked Page, whose token it uses).
    page: &'a ManagedPage,
}

/// Create or update the account of `pick` in the workspace (active, token sealed).
async fn upsert_account(
    state: &AppState,
    txn: &impl ConnectionTrait,
    workspace: Uuid,
    pick: &Pick<'_>,
) -> AppResult<channel_account::Model> {
    let mut settings = serde_json::Map::new();
    if pick.platform == Platform::Instagram {
        settings.insert("page_id".into(), pick.page.id.clone().into());
    }
    settings.insert("connected_via".into(), "facebook_login".into());
    let sealed = seal(
        state,
        &SecretString::from(pick.page.access_token.expose().to_owned()),
    );
    channels::upsert_granted(
        txn,
        workspace,
        channels::Granted {
            platform: pick.platform,
            external_id: pick.external_id,
            name: pick.name.clone(),
            settings,
            sealed,
            token_expires_at: None,
        },
    )
    .await
}

/// `POST /channels/facebook/connect/{attempt_id}`: connect the chosen Pages and Instagram
/// accounts, subscribe the app to their Pages, queue their history import. The attempt is
/// used up.
pub async fn connect(
    state: &AppState,
    p: &Principal,
    attempt_id: Uuid,
    input: ConnectIn,
) -> AppResult<Vec<ChannelAccountOut>> {
    let (attempt, user_token) = open_attempt(state, p, attempt_id).await?;
    let wanted_pages: BTreeSet<&str> = input.pages.iter().map(String::as_str).collect();
    let wanted_ig: BTreeSet<&str> = input.instagram.iter().map(String::as_str).collect();
    if wanted_pages.is_empty() && wanted_ig.is_empty() {
        return Err(AppError::bad_request(
            "nothing_selected",
            "choose at least one Page or Instagram account",
        ));
    }
    let managed = managed_pages(state, &user_token).await?;
    let mut picks: Vec<Pick<'_>> = Vec::new();
    for id in &wanted_pages {
        let page = managed.iter().find(|pg| pg.id == *id).ok_or_else(|| {
            AppError::bad_request(
                "unknown_page",
                format!("Page {id} is not among the Pages you manage"),
            )
        })?;
        picks.push(Pick {
            platform: Platform::Facebook,
            external_id: &page.id,
            name: page
                .name
                .clone()
                .unwrap_or_else(|| format!("Page {}", page.id)),
            page,
        });
    }
    for id in &wanted_ig {
        let page = managed
            .iter()
            .find(|pg| pg.instagram.as_ref().is_some_and(|ig| ig.id == *id))
            .ok_or_else(|| {
                AppError::bad_request(
                    "unknown_instagram",
                    format!("Instagram account {id} is not linked to any Page you manage"),
                )
            })?;
        let ig = page
            .instagram
            .as_ref()
            .ok_or(AppError::NotFound("instagram account"))?;
        picks.push(Pick {
            platform: Platform::Instagram,
            external_id: &ig.id,
            name: ig
                .username
                .as_ref()
                .map(|u| format!("@{u}"))
                .or_else(|| ig.name.clone())
                .unwrap_or_else(|| format!("Instagram {}", ig.id)),
            page,
        });
    }
    // Refuse accounts of another workspace before touching anything at Meta.
    for pick in &picks {
        let taken = channel_account::Entity::find()
            .filter(channel_account::Column::Platform.eq(pick.platform.as_str()))
            .filter(channel_account::Column::ExternalId.eq(pick.external_id))
            .filter(channel_account::Column::WorkspaceId.ne(p.workspace_id))
            .one(&state.db.read)
            .await?;
        if taken.is_some() {
            return Err(AppError::Conflict(format!(
                "{} account {} is connected to another workspace",
                pick.platform, pick.external_id
            )));
        }
    }
    // Webhooks of a Page and of its Instagram account need the app installed on the Page.
    let connector = login_connector(state)?;
    let meta = login(&connector)?;
    let cx = graph(state);
    let mut subscribed: Vec<&str> = Vec::new();
    for pick in &picks {
        let page = pick.page;
        if subscribed.contains(&page.id.as_str()) {
            continue;
        }
        meta.subscribe_page(&cx, &page.id, &page.access_token, &PAGE_WEBHOOK_FIELDS)
            .await
            .map_err(|e| {
                platform_error(
                    &format!("could not subscribe the app to Page {}", page.id),
                    &e,
                )
            })?;
        subscribed.push(&page.id);
    }
    // A reconnected account whose import is still under way keeps that import.
    let mut importing = HashSet::new();
    for pick in &picks {
        if let Some(acc) = channel_account::Entity::find()
            .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
            .filter(channel_account::Column::Platform.eq(pick.platform.as_str()))
            .filter(channel_account::Column::ExternalId.eq(pick.external_id))
            .one(&state.db.write)
            .await?
            && backfill::job_active(state, acc.id).await?
        {
            importing.insert(acc.id);
        }
    }
    let txn = state.db.write.begin().await?;
    let mut accounts = Vec::new();
    let mut progress = Vec::new();
    for pick in &picks {
        let acc = upsert_account(state, &txn, p.workspace_id, pick).await?;
        progress.push(if importing.contains(&acc.id) {
            None
        } else {
            backfill::queue(state, &txn, &acc).await?
        });
        accounts.push(acc);
    }
    delete_attempt(&txn, attempt.id).await?;
    txn.commit().await?;
    state.jobs_notify.notify_one();
    channels::requeue_unrouted(state, Platform::Facebook).await?;
    channels::requeue_unrouted(state, Platform::Instagram).await?;
    for (acc, progress) in accounts.iter().zip(progress) {
        tracing::info!(platform = %acc.platform, account = %acc.id, "channel account connected through Facebook Login");
        state
            .bus
            .publish(
                acc.workspace_id,
                "channel.updated",
                json!({ "channel_account_id": acc.id, "status": acc.status, "error": null }),
            )
            .await;
        if let Some(progress) = progress {
            state
                .bus
                .publish(
                    acc.workspace_id,
                    backfill::FRAME,
                    json!({ "channel_account_id": acc.id, "backfill": progress }),
                )
                .await;
        }
    }
    let ids: Vec<Uuid> = accounts.iter().map(|a| a.id).collect();
    let mut out: Vec<ChannelAccountOut> = channels::list(state, p)
        .await?
        .into_iter()
        .filter(|a| ids.contains(&a.id))
        .collect();
    out.sort_by_key(|a| ids.iter().position(|id| *id == a.id));
    Ok(out)
}

/// The Page whose subscription an account relies on, and whether another connected account
/// of the workspace still relies on it.
async fn page_subscription(
    state: &AppState,
    acc: &channel_account::Model,
) -> AppResult<Option<(String, bool)>> {
    let page_id = match acc.platform.as_str() {
        "facebook" => acc.external_id.clone(),
        "instagram" => match acc.settings.get("page_id").and_then(|v| v.as_str()) {
            Some(id) => id.to_owned(),
            None => return Ok(None),
        },
        _ => return Ok(None),
    };
    let others = channel_account::Entity::find()
        .filter(channel_account::Column::WorkspaceId.eq(acc.workspace_id))
        .filter(channel_account::Column::Id.ne(acc.id))
        .filter(channel_account::Column::Platform.is_in(["facebook", "instagram"]))
        .filter(channel_account::Column::Status.ne("disabled"))
        .all(&state.db.write)
        .await?;
    let still_needed = others.iter().any(|o| match o.platform.as_str() {
        "facebook" => o.external_id == page_id,
        _ => o.settings.get("page_id").and_then(|v| v.as_str()) == Some(page_id.as_str()),
    });
    Ok(Some((page_id, still_needed)))
}

/// `POST /channel-accounts/{id}/disconnect`: remove the app from the account's Page (unless
/// another connected account still uses that Page), then disable the account and forget its
/// token. A platform failure is reported, not fatal.
pub async fn disconnect(state: &AppState, p: &Principal, id: Uuid) -> AppResult<DisconnectOut> {
    p.require(Permission::ManageChannels)?;
    let acc = channel_account::Entity::find_by_id(id)
        .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("channel account"))?;
    let (unsubscribed, error) = match page_subscription(state, &acc).await? {
        Some((page_id, false)) => match account_token(state, &acc) {
            Some(token) => {
                let connector = login_connector(state)?;
                match login(&connector)?
                    .unsubscribe_page(&graph(state), &page_id, &AccessToken::new(token))
                    .await
                {
                    Ok(()) => (true, None),
                    Err(e) => {
                        tracing::warn!(account = %acc.id, error = %e, "could not remove the app from the Page");
                        (
                            false,
                            Some(format!("could not remove the app from Page {page_id}: {e}")),
                        )
                    }
                }
            }
            None => (
                false,
                Some(format!(
                    "no token is stored, so the app could not be removed from Page {page_id}; remove it in the Page's settings"
                )),
            ),
        },
        _ => (false, None),
    };
    let now: DateTime<Utc> = Utc::now();
    channel_account::Entity::update_many()
        .col_expr(channel_account::Column::Status, Expr::value("disabled"))
        .col_expr(
            channel_account::Column::SecretsEnc,
            Expr::value(Option::<Vec<u8>>::None),
        )
        .col_expr(channel_account::Column::UpdatedAt, Expr::value(now))
        .filter(channel_account::Column::Id.eq(acc.id))
        .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
        .exec(&state.db.write)
        .await?;
    tracing::info!(platform = %acc.platform, account = %acc.id, unsubscribed, "channel account disconnected");
    state
        .bus
        .publish(
            acc.workspace_id,
            "channel.updated",
            json!({ "channel_account_id": acc.id, "status": "disabled", "error": null }),
        )
        .await;
    let account = channels::list(state, p)
        .await?
        .into_iter()
        .find(|a| a.id == acc.id)
        .ok_or(AppError::NotFound("channel account"))?;
    Ok(DisconnectOut {
        account,
        unsubscribed,
        error,
    })
}
