//! Connecting accounts by OAuth 2 — one flow for every platform whose connector offers
//! [`tongdai_connectors::OAuth`] (Zalo OA v4 with PKCE, Google for YouTube, later the
//! marketplaces): start an attempt (a hashed CSRF `state`, and the PKCE verifier sealed on it),
//! send the browser to the platform's consent page, take the code back, exchange it, store
//! every account the grant reaches with its tokens sealed, and schedule the refresh ahead of
//! expiry. Reconnecting an account that needs it is the same flow.
//!
//! The attempt is single use (deleted when the callback claims it) and expires; no token is
//! ever returned or logged.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    TransactionTrait,
};
use serde::Serialize;
use serde_json::json;
use tongdai_connectors::{
    Connector, ConnectorError, HttpCtx, OAuth, OAuthAccount, OAuthCallback, Platform,
    pkce_challenge,
};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::crypto::{random_token, token_hash};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::audit;
use crate::services::auth::{self, Principal};
use crate::services::channels::{self, ChannelAccountOut};
use crate::services::connect::ConnectUrlOut;
use crate::services::tokens::{self, Secrets};
use crate::state::AppState;
use crate::store::entities::{channel_account, oauth_state};

/// How long a connect attempt stays usable.
const ATTEMPT_TTL: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// A platform a marketer can connect accounts of here, and where the browser goes to start.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConnectableOut {
    /// The platform (`facebook` covers Instagram too, `zalo`, `youtube` …).
    pub platform: String,
    /// Open this URL in the browser (a full navigation): it redirects to the platform.
    pub connect_url: String,
}

/// `GET /channels/connectable`: the platforms whose app credentials are configured, so the
/// settings screen offers only buttons that work.
pub fn connectable(state: &AppState, p: &Principal) -> AppResult<Vec<ConnectableOut>> {
    p.require(Permission::ManageChannels)?;
    let mut out = Vec::new();
    if crate::services::connect::configured(state) {
        out.push(ConnectableOut {
            platform: Platform::Facebook.as_str().to_owned(),
            connect_url: crate::services::connect::START_PATH.to_owned(),
        });
    }
    for platform in state.connectors.platforms() {
        if state
            .connectors
            .get(platform)
            .is_some_and(|c| c.oauth().is_some())
        {
            out.push(ConnectableOut {
                platform: platform.as_str().to_owned(),
                connect_url: format!("/api/v1/channels/{}/oauth/connect", platform.as_str()),
            });
        }
    }
    Ok(out)
}

/// The path a platform's consent page sends the browser back to.
pub fn callback_path(platform: Platform) -> String {
    format!("/api/v1/channels/{}/oauth/callback", platform.as_str())
}

fn redirect_uri(state: &AppState, platform: Platform) -> String {
    format!("{}{}", state.cfg.public_url(), callback_path(platform))
}

/// The platform named in a URL, when it connects by OAuth 2 here.
fn oauth_connector(state: &AppState, platform: &str) -> AppResult<(Platform, Arc<dyn Connector>)> {
    let platform: Platform = platform
        .parse()
        .map_err(|_| AppError::NotFound("platform"))?;
    let connector = state
        .connectors
        .get(platform)
        .filter(|c| c.oauth().is_some())
        .cloned()
        .ok_or_else(|| {
            AppError::bad_request(
                "not_configured",
                format!(
                    "{platform} cannot be connected: its app credentials are not configured \
                     (see docs/configuration.md)"
                ),
            )
        })?;
    Ok((platform, connector))
}

fn oauth(c: &Arc<dyn Connector>) -> AppResult<&dyn OAuth> {
    c.oauth()
        .ok_or_else(|| AppError::bad_request("not_configured", "this platform has no OAuth"))
}

/// A platform failure during the connect flow, for the marketer.
fn platform_error(platform: Platform, e: &ConnectorError) -> AppError {
    AppError::Platform {
        code: "platform_refused",
        message: format!("{platform} refused the connection: {e}"),
    }
}

/// `GET /channels/{platform}/oauth/connect`: start an attempt; the consent page URL.
pub async fn start(state: &AppState, p: &Principal, platform: &str) -> AppResult<ConnectUrlOut> {
    p.require(Permission::ManageChannels)?;
    let user_id = p.user_id.ok_or_else(|| {
        AppError::bad_request(
            "session_required",
            "connecting an account needs a signed-in user, not an API key",
        )
    })?;
    let (platform, connector) = oauth_connector(state, platform)?;
    let flow = oauth(&connector)?;
    let now = Utc::now();
    oauth_state::Entity::delete_many()
        .filter(oauth_state::Column::WorkspaceId.eq(p.workspace_id))
        .filter(oauth_state::Column::ExpiresAt.lt(now))
        .exec(&state.db.write)
        .await?;
    let csrf = random_token(32);
    let verifier = flow.uses_pkce().then(|| random_token(32));
    let sealed = state
        .secrets
        .seal(json!({ "code_verifier": verifier }).to_string().as_bytes());
    oauth_state::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(p.workspace_id),
        user_id: Set(user_id),
        platform: Set(platform.as_str().to_owned()),
        state_hash: Set(token_hash(&csrf)),
        grant_enc: Set(Some(sealed)),
        expires_at: Set(now + ATTEMPT_TTL),
        created_at: Set(now),
    }
    .insert(&state.db.write)
    .await?;
    let challenge = verifier.as_deref().map(pkce_challenge);
    let url = flow
        .authorize_url(
            state.oauth_base(platform),
            &redirect_uri(state, platform),
            &csrf,
            challenge.as_deref(),
        )
        .map_err(|e| {
            AppError::bad_request(
                "not_configured",
                format!("cannot build the consent URL: {e}"),
            )
        })?;
    Ok(ConnectUrlOut { url })
}

/// `GET /channels/{platform}/oauth/callback`: the consent page came back. Exchanges the code,
/// stores every account the grant reaches, schedules their token refresh. `session` is the
/// caller's session cookie when the browser sent one: the attempt must then belong to its
/// workspace.
pub async fn callback(
    state: &AppState,
    platform: &str,
    session: Option<&str>,
    mut query: BTreeMap<String, String>,
) -> AppResult<Vec<ChannelAccountOut>> {
    let (platform, connector) = oauth_connector(state, platform)?;
    query.remove("format");
    let csrf = query.remove("state").unwrap_or_default();
    if csrf.is_empty() {
        return Err(AppError::bad_request(
            "invalid_state",
            "the callback carries no state",
        ));
    }
    let attempt = oauth_state::Entity::find()
        .filter(oauth_state::Column::StateHash.eq(token_hash(&csrf)))
        .filter(oauth_state::Column::Platform.eq(platform.as_str()))
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
    // Claim it: whoever deletes the row owns the attempt, so a replayed callback cannot race.
    let claimed = oauth_state::Entity::delete_by_id(attempt.id)
        .exec(&state.db.write)
        .await?;
    if claimed.rows_affected == 0 {
        return Err(AppError::bad_request(
            "state_used",
            "this connect attempt was already used",
        ));
    }
    if attempt.expires_at < Utc::now() {
        return Err(AppError::bad_request(
            "state_expired",
            "the connect attempt expired: start again",
        ));
    }
    if let Some(error) = query.get("error").filter(|e| !e.is_empty()) {
        let why = query
            .get("error_description")
            .map(String::as_str)
            .unwrap_or("no reason given");
        tracing::info!(attempt = %attempt.id, %platform, error, "OAuth consent not given");
        return Err(AppError::bad_request(
            "login_cancelled",
            format!("{platform} did not grant access ({error}): {why}"),
        ));
    }
    let code = query.remove("code").unwrap_or_default();
    if code.is_empty() {
        return Err(AppError::bad_request(
            "missing_code",
            "the callback carries no code",
        ));
    }
    let verifier = attempt
        .grant_enc
        .as_deref()
        .and_then(|g| state.secrets.open(g))
        .and_then(|plain| serde_json::from_slice::<serde_json::Value>(&plain).ok())
        .and_then(|v| v.get("code_verifier")?.as_str().map(str::to_owned));
    let flow = oauth(&connector)?;
    let oauth_cx = HttpCtx {
        http: &state.http,
        base_url: state.oauth_base(platform),
    };
    let set = flow
        .exchange_code(
            &oauth_cx,
            &redirect_uri(state, platform),
            &OAuthCallback {
                code,
                params: query,
            },
            verifier.as_deref(),
        )
        .await
        .map_err(|e| {
            tracing::warn!(attempt = %attempt.id, %platform, error = %e, "OAuth code exchange failed");
            platform_error(platform, &e)
        })?;
    let api_cx = HttpCtx {
        http: &state.http,
        base_url: state.api_base(platform),
    };
    let found = flow
        .accounts(&api_cx, &set)
        .await
        .map_err(|e| platform_error(platform, &e))?;
    if found.is_empty() {
        return Err(AppError::bad_request(
            "no_account",
            format!("the {platform} grant reaches no account to connect"),
        ));
    }
    let secrets = Secrets::from_set(&set, None, Utc::now());
    let txn = state.db.write.begin().await?;
    let mut accounts = Vec::new();
    for a in &found {
        let acc = upsert(state, &txn, attempt.workspace_id, platform, a, &secrets).await?;
        tokens::schedule(&txn, acc.id, secrets.expires_at).await?;
        // Platforms that push nothing are polled from now on.
        crate::services::poll::queue(state, &txn, &acc).await?;
        audit::record(
            &txn,
            acc.workspace_id,
            Some(attempt.user_id),
            "channel.connected",
            ("channel_account", acc.id.to_string()),
            json!({ "platform": platform.as_str(), "external_id": acc.external_id, "via": "oauth" }),
        )
        .await?;
        accounts.push(acc);
    }
    txn.commit().await?;
    state.jobs_notify.notify_one();
    channels::requeue_unrouted(state, platform).await?;
    for acc in &accounts {
        tracing::info!(%platform, account = %acc.id, "channel account connected by OAuth");
        state
            .bus
            .publish(
                acc.workspace_id,
                "channel.updated",
                json!({ "channel_account_id": acc.id, "status": acc.status, "error": null }),
            )
            .await;
    }
    Ok(accounts
        .into_iter()
        .map(|a| channels::out(state, a))
        .collect())
}

/// Create or renew the channel account of `a` with the new tokens.
async fn upsert(
    state: &AppState,
    txn: &impl ConnectionTrait,
    workspace: Uuid,
    platform: Platform,
    a: &OAuthAccount,
    secrets: &Secrets,
) -> AppResult<channel_account::Model> {
    let mut settings = a.details.as_object().cloned().unwrap_or_default();
    if let Some(pic) = &a.picture_url {
        settings.insert("picture_url".into(), pic.clone().into());
    }
    settings.insert("connected_via".into(), "oauth".into());
    let name = a
        .name
        .clone()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| format!("{platform} {}", a.external_id));
    channels::upsert_granted(
        txn,
        workspace,
        channels::Granted {
            platform,
            external_id: &a.external_id,
            name,
            settings,
            sealed: secrets.seal(state),
            token_expires_at: secrets.expires_at,
        },
    )
    .await
}
