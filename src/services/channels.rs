//! Channel accounts: a Facebook Page, a Zalo OA … connected to a workspace. Secrets (access
//! tokens) are write-only: sealed with the master key, never returned, never logged.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use tongdai_connectors::Platform;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::state::AppState;
use crate::store::entities::{channel_account, inbound_event};

/// A channel account (never its secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelAccountOut {
    /// Id.
    pub id: Uuid,
    /// Platform.
    pub platform: String,
    /// The platform's id of the account (Page id …).
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Non-secret settings.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// `active`, `disabled` or `needs_reauth` (the platform refused its token: reconnect).
    pub status: String,
    /// Whether an access token is stored.
    pub has_access_token: bool,
    /// When the access token expires (accounts connected by OAuth 2; it is refreshed ahead).
    pub token_expires_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// How the channel is doing.
    pub health: ChannelHealthOut,
    /// History import progress (`{state, since, conversations, messages, comments, …}`).
    #[schema(value_type = Option<Object>)]
    pub backfill: Option<serde_json::Value>,
    /// Polled platforms (YouTube): `{last_poll_at, next_poll_at, last_error, quota_day,
    /// quota_used, daily_quota, quota_exhausted_until, polls, events}`; read only.
    #[schema(value_type = Option<Object>)]
    pub poll: Option<serde_json::Value>,
}

/// A channel's health, for marketers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChannelHealthOut {
    /// `ok`, `needs_reauth` (reconnect), `quiet` (nothing received for an unusual time),
    /// `error` (the last call failed) or `disabled`.
    pub state: String,
    /// The newest event received from the platform.
    pub last_event_at: Option<DateTime<Utc>>,
    /// The platform's last error on an outbound call.
    pub last_error: Option<String>,
    /// When that error happened.
    pub last_error_at: Option<DateTime<Utc>>,
}

/// The health of `a` now; `quiet_hours` is how long without events is unusual.
pub fn health(
    a: &channel_account::Model,
    quiet_hours: u32,
    now: DateTime<Utc>,
) -> ChannelHealthOut {
    let quiet_since = now - chrono::Duration::hours(i64::from(quiet_hours));
    let recent_error = a.last_error_at.is_some_and(|t| {
        a.last_event_at.is_none_or(|e| t > e) && now - t < chrono::Duration::hours(24)
    });
    let state = match a.status.as_str() {
        "disabled" => "disabled",
        "needs_reauth" => "needs_reauth",
        _ if recent_error => "error",
        // A channel connected long enough ago that has heard nothing for the quiet period.
        _ if a.last_event_at.unwrap_or(a.created_at) < quiet_since => "quiet",
        _ => "ok",
    };
    ChannelHealthOut {
        state: state.to_owned(),
        last_event_at: a.last_event_at,
        last_error: a.last_error.clone(),
        last_error_at: a.last_error_at,
    }
}

/// Connect an account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChannelAccountIn {
    /// Platform (`facebook`, …).
    pub platform: String,
    /// The platform's id of the account (the Page id).
    pub external_id: String,
    /// Display name.
    pub name: String,
    /// Access token (write-only).
    #[schema(value_type = Option<String>)]
    pub access_token: Option<SecretString>,
    /// Non-secret settings.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub settings: Option<serde_json::Value>,
}

/// Change an account.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ChannelAccountPatch {
    /// Display name.
    pub name: Option<String>,
    /// Replace the access token (write-only).
    #[schema(value_type = Option<String>)]
    pub access_token: Option<SecretString>,
    /// Replace the settings.
    #[schema(value_type = Option<Object>)]
    pub settings: Option<serde_json::Value>,
    /// `active` or `disabled`.
    pub status: Option<String>,
}

pub(crate) fn out(state: &AppState, a: channel_account::Model) -> ChannelAccountOut {
    ChannelAccountOut {
        health: health(&a, state.cfg.channel_quiet_hours, Utc::now()),
        backfill: a.backfill.clone(),
        poll: crate::services::poll::public_view(state, &a),
        id: a.id,
        platform: a.platform,
        external_id: a.external_id,
        name: a.name,
        settings: a.settings,
        status: a.status,
        has_access_token: a.secrets_enc.is_some(),
        token_expires_at: a.token_expires_at,
        created_at: a.created_at,
    }
}

/// An account a connect flow (Facebook Login, OAuth 2) grants access to.
pub(crate) struct Granted<'a> {
    /// Its platform.
    pub platform: Platform,
    /// The platform's id of it.
    pub external_id: &'a str,
    /// Its display name.
    pub name: String,
    /// Settings to set on it (merged over the ones it has).
    pub settings: serde_json::Map<String, serde_json::Value>,
    /// Its sealed secrets.
    pub sealed: Vec<u8>,
    /// When its access token expires, when it does.
    pub token_expires_at: Option<DateTime<Utc>>,
}

/// Create the channel account a connect flow granted, or renew it (new token, active again,
/// errors cleared). An account connected to another workspace is refused.
pub(crate) async fn upsert_granted(
    txn: &impl ConnectionTrait,
    workspace: Uuid,
    g: Granted<'_>,
) -> AppResult<channel_account::Model> {
    let now = Utc::now();
    let existing = channel_account::Entity::find()
        .filter(channel_account::Column::Platform.eq(g.platform.as_str()))
        .filter(channel_account::Column::ExternalId.eq(g.external_id))
        .one(txn)
        .await?;
    let mut settings = existing
        .as_ref()
        .map(|a| a.settings.clone())
        .filter(serde_json::Value::is_object)
        .unwrap_or_else(|| serde_json::json!({}));
    for (k, v) in g.settings {
        settings[k] = v;
    }
    let Some(existing) = existing else {
        return Ok(channel_account::ActiveModel {
            id: Set(Uuid::now_v7()),
            workspace_id: Set(workspace),
            platform: Set(g.platform.as_str().to_owned()),
            external_id: Set(g.external_id.to_owned()),
            name: Set(g.name),
            settings: Set(settings),
            secrets_enc: Set(Some(g.sealed)),
            status: Set("active".into()),
            created_at: Set(now),
            updated_at: Set(now),
            token_expires_at: Set(g.token_expires_at),
            ..Default::default()
        }
        .insert(txn)
        .await?);
    };
    if existing.workspace_id != workspace {
        return Err(AppError::Conflict(format!(
            "{} account {} is connected to another workspace",
            g.platform, g.external_id
        )));
    }
    let mut am = existing.into_active_model();
    am.name = Set(g.name);
    am.settings = Set(settings);
    am.secrets_enc = Set(Some(g.sealed));
    am.status = Set("active".into());
    am.last_error = Set(None);
    am.last_error_at = Set(None);
    am.token_expires_at = Set(g.token_expires_at);
    am.refresh_locked_until = Set(None);
    am.updated_at = Set(now);
    Ok(am.update(txn).await?)
}

/// Seal an access token the way channel accounts store it (`{"access_token": …}`, AES-GCM).
pub(crate) fn seal(state: &AppState, token: &SecretString) -> Vec<u8> {
    let secrets = serde_json::json!({ "access_token": token.expose_secret() });
    state.secrets.seal(secrets.to_string().as_bytes())
}

/// The decrypted access token of an account.
pub fn account_token(state: &AppState, a: &channel_account::Model) -> Option<String> {
    let plain = state.secrets.open(a.secrets_enc.as_deref()?)?;
    let v: serde_json::Value = serde_json::from_slice(&plain).ok()?;
    v.get("access_token")?.as_str().map(str::to_owned)
}

/// `GET /channel-accounts`.
pub async fn list(state: &AppState, p: &Principal) -> AppResult<Vec<ChannelAccountOut>> {
    p.require(Permission::ReadInbox)
        .or_else(|_| p.require(Permission::ManageChannels))?;
    Ok(channel_account::Entity::find()
        .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
        .order_by_asc(channel_account::Column::CreatedAt)
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(|a| out(state, a))
        .collect())
}

/// `POST /channel-accounts`: connect; events already received for it are processed now.
pub async fn create(
    state: &AppState,
    p: &Principal,
    input: ChannelAccountIn,
) -> AppResult<ChannelAccountOut> {
    p.require(Permission::ManageChannels)?;
    let platform: Platform = input.platform.parse().map_err(|_| {
        AppError::bad_request(
            "unknown_platform",
            format!("unknown platform {:?}", input.platform),
        )
    })?;
    let external_id = input.external_id.trim();
    if external_id.is_empty() || input.name.trim().is_empty() {
        return Err(AppError::bad_request(
            "invalid_channel_account",
            "external_id and name are required",
        ));
    }
    if channel_account::Entity::find()
        .filter(channel_account::Column::Platform.eq(platform.as_str()))
        .filter(channel_account::Column::ExternalId.eq(external_id))
        .one(&state.db.write)
        .await?
        .is_some()
    {
        return Err(AppError::Conflict(format!(
            "{platform} account {external_id} is already connected"
        )));
    }
    let now = Utc::now();
    let a = channel_account::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(p.workspace_id),
        platform: Set(platform.as_str().to_owned()),
        external_id: Set(external_id.to_owned()),
        name: Set(input.name.trim().to_owned()),
        settings: Set(input.settings.unwrap_or_else(|| serde_json::json!({}))),
        secrets_enc: Set(input.access_token.as_ref().map(|t| seal(state, t))),
        status: Set("active".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&state.db.write)
    .await?;
    requeue_unrouted(state, platform).await?;
    tracing::info!(platform = %platform, account = %a.id, "channel account connected");
    Ok(out(state, a))
}

/// Put events that named no known account back in the queue (after an account is connected).
/// Events arrive under the route they were posted to, so every platform whose connector can
/// carry this platform's accounts is included (an Instagram event on `/webhooks/facebook`).
pub async fn requeue_unrouted(state: &AppState, platform: Platform) -> AppResult<u64> {
    let routes: Vec<&str> = state
        .connectors
        .platforms()
        .filter(|p| {
            state
                .connectors
                .get(*p)
                .is_some_and(|c| c.account_platforms().contains(&platform))
        })
        .map(Platform::as_str)
        .chain(std::iter::once(platform.as_str()))
        .collect();
    let res = inbound_event::Entity::update_many()
        .col_expr(inbound_event::Column::Status, Expr::value("pending"))
        .filter(inbound_event::Column::Status.eq("unrouted"))
        .filter(inbound_event::Column::Platform.is_in(routes))
        .exec(&state.db.write)
        .await?;
    if res.rows_affected > 0 {
        state.ingest_notify.notify_one();
    }
    Ok(res.rows_affected)
}

/// `PATCH /channel-accounts/{id}`.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    patch: ChannelAccountPatch,
) -> AppResult<ChannelAccountOut> {
    p.require(Permission::ManageChannels)?;
    let a = channel_account::Entity::find_by_id(id)
        .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
        .one(&state.db.write)
        .await?
        .ok_or(AppError::NotFound("channel account"))?;
    let mut am: channel_account::ActiveModel = a.into();
    if let Some(n) = patch.name.filter(|n| !n.trim().is_empty()) {
        am.name = Set(n.trim().to_owned());
    }
    if let Some(t) = &patch.access_token {
        am.secrets_enc = Set(Some(seal(state, t)));
        am.status = Set("active".into());
    }
    if let Some(s) = patch.settings {
        am.settings = Set(s);
    }
    if let Some(s) = patch.status {
        if !matches!(s.as_str(), "active" | "disabled") {
            return Err(AppError::bad_request(
                "invalid_status",
                "status is active or disabled",
            ));
        }
        am.status = Set(s);
    }
    am.updated_at = Set(Utc::now());
    let a = am.update(&state.db.write).await?;
    if a.status == "active"
        && let Ok(platform) = a.platform.parse::<Platform>()
    {
        // Events that arrived while it was disabled were kept; apply them now.
        requeue_unrouted(state, platform).await?;
        // A polled platform (YouTube) resumes polling.
        if crate::services::poll::queue(state, &state.db.write, &a).await? {
            state.jobs_notify.notify_one();
        }
    }
    Ok(out(state, a))
}

/// `POST /channel-accounts/{id}/disable`.
pub async fn disable(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ChannelAccountOut> {
    update(
        state,
        p,
        id,
        ChannelAccountPatch {
            name: None,
            access_token: None,
            settings: None,
            status: Some("disabled".into()),
        },
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(status: &str) -> channel_account::Model {
        let t = Utc::now() - chrono::Duration::days(30);
        channel_account::Model {
            id: Uuid::nil(),
            workspace_id: Uuid::nil(),
            platform: "facebook".into(),
            external_id: "105".into(),
            name: "Page".into(),
            settings: serde_json::json!({}),
            secrets_enc: None,
            status: status.into(),
            created_at: t,
            updated_at: t,
            last_event_at: None,
            last_error: None,
            last_error_at: None,
            backfill: None,
            token_expires_at: None,
            refresh_locked_until: None,
            poll_state: None,
        }
    }

    #[test]
    fn health_reports_reconnect_errors_and_unusual_quiet() {
        let now = Utc::now();
        let mut a = account("active");
        a.last_event_at = Some(now - chrono::Duration::hours(1));
        assert_eq!(health(&a, 72, now).state, "ok");
        // Nothing for four days on a page that usually talks: quiet.
        a.last_event_at = Some(now - chrono::Duration::hours(96));
        assert_eq!(health(&a, 72, now).state, "quiet");
        // Connected a month ago and never heard from: quiet too (webhooks not arriving).
        a.last_event_at = None;
        assert_eq!(health(&a, 72, now).state, "quiet");
        // A fresh failure after the last event wins over quiet.
        a.last_error = Some("forbidden (code 200)".into());
        a.last_error_at = Some(now - chrono::Duration::minutes(5));
        let h = health(&a, 72, now);
        assert_eq!(h.state, "error");
        assert_eq!(h.last_error.as_deref(), Some("forbidden (code 200)"));
        // An error older than the events that followed it is history.
        a.last_event_at = Some(now - chrono::Duration::minutes(1));
        assert_eq!(health(&a, 72, now).state, "ok");
        assert_eq!(
            health(&account("needs_reauth"), 72, now).state,
            "needs_reauth"
        );
        assert_eq!(health(&account("disabled"), 72, now).state, "disabled");
    }
}
