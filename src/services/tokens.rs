//! Access tokens of accounts connected by OAuth 2 (Zalo OA, YouTube, the marketplaces): sealed
//! with their refresh token and expiry, refreshed ahead of expiry by a `refresh_token` job and
//! on demand before a call, one refresh at a time per account across nodes.
//!
//! Zalo refresh tokens are single use: a refresh spends the old one, so the new set is written
//! in one statement before anything else, and a lease on the account row keeps a second node
//! (or a second job) from spending the same refresh token. A refresh the platform refuses marks
//! the account `needs_reauth`: the marketer reconnects; nothing loops.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::sea_query::ExprTrait;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};
use serde_json::json;
use tongdai_connectors::{ConnectorError, HttpCtx, Platform, TokenSet};
use uuid::Uuid;

use crate::services::jobs::{self, JobFailure};
use crate::services::outbound::note_failure;
use crate::services::profiles::payload_id;
use crate::state::AppState;
use crate::store::entities::{channel_account, job};

/// Refresh when less than this is left of the access token's life.
pub const REFRESH_AHEAD: chrono::TimeDelta = chrono::TimeDelta::minutes(10);
/// How long a refresh may hold the account's lease.
const LEASE: chrono::TimeDelta = chrono::TimeDelta::seconds(30);

/// What `channel_account.secrets_enc` holds, sealed. Accounts connected with a plain token
/// (Facebook Pages) have only `access_token`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Secrets {
    /// The access token.
    pub access_token: String,
    /// The refresh token, when the platform issued one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the refresh token expires.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_expires_at: Option<DateTime<Utc>>,
}

impl Secrets {
    /// The secrets a token endpoint's answer at `now` gives, keeping `previous_refresh` when
    /// the answer carries no new refresh token (Google).
    pub fn from_set(set: &TokenSet, previous_refresh: Option<&str>, now: DateTime<Utc>) -> Self {
        let at = |secs: Option<u64>| {
            secs.and_then(|s| i64::try_from(s).ok())
                .map(|s| now + chrono::TimeDelta::seconds(s))
        };
        Secrets {
            access_token: set.access_token.expose().to_owned(),
            refresh_token: set
                .refresh_token
                .as_ref()
                .map(|t| t.expose().to_owned())
                .or_else(|| previous_refresh.map(str::to_owned)),
            expires_at: at(set.expires_in),
            refresh_expires_at: at(set.refresh_expires_in),
        }
    }

    /// Sealed for `channel_account.secrets_enc`.
    pub fn seal(&self, state: &AppState) -> Vec<u8> {
        let plain = serde_json::to_vec(self).unwrap_or_default();
        state.secrets.seal(&plain)
    }

    /// Whether the access token should be refreshed at `now`.
    pub fn due(&self, now: DateTime<Utc>) -> bool {
        self.refresh_token.is_some() && self.expires_at.is_some_and(|t| t - REFRESH_AHEAD <= now)
    }
}

/// The sealed secrets of an account.
pub fn open(state: &AppState, acc: &channel_account::Model) -> Option<Secrets> {
    let plain = state.secrets.open(acc.secrets_enc.as_deref()?)?;
    serde_json::from_slice(&plain).ok()
}

/// When the `refresh_token` job for an access token expiring at `expires_at` should run.
pub fn refresh_at(expires_at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    std::cmp::max(expires_at - REFRESH_AHEAD, now)
}

/// Queue the refresh of `account`'s token ahead of `expires_at` (inside the caller's
/// transaction). Extra jobs are harmless: a run finds the token fresh and does nothing.
pub async fn schedule(
    db: &impl ConnectionTrait,
    account: Uuid,
    expires_at: Option<DateTime<Utc>>,
) -> Result<(), sea_orm::DbErr> {
    if let Some(exp) = expires_at {
        jobs::enqueue(
            db,
            jobs::kind::REFRESH_TOKEN,
            json!({ "channel_account_id": account }),
            refresh_at(exp, Utc::now()),
        )
        .await?;
    }
    Ok(())
}

/// A usable access token for an outbound call: the stored one, refreshed first when it is
/// about to expire. When a refresh fails for a passing reason and the old token still has
/// life, the old one is used.
pub async fn access_token(
    state: &AppState,
    acc: &channel_account::Model,
) -> Result<String, ConnectorError> {
    let secrets = open(state, acc)
        .ok_or_else(|| ConnectorError::Invalid("channel account has no access token".into()))?;
    let now = Utc::now();
    if !secrets.due(now) {
        return Ok(secrets.access_token);
    }
    match refresh(state, acc.id, false).await {
        Ok(fresh) => Ok(fresh.access_token),
        Err(e) if !e.needs_reconnect() && secrets.expires_at.is_some_and(|t| t > now) => {
            tracing::warn!(account = %acc.id, error = %e, "token refresh failed; using the current token");
            Ok(secrets.access_token)
        }
        Err(e) => Err(e),
    }
}

/// Take the account's refresh lease; `false` when another refresh holds it.
async fn lease(state: &AppState, account: Uuid) -> Result<bool, ConnectorError> {
    let now = Utc::now();
    let res = channel_account::Entity::update_many()
        .col_expr(
            channel_account::Column::RefreshLockedUntil,
            Expr::value(Some(now + LEASE)),
        )
        .filter(channel_account::Column::Id.eq(account))
        .filter(
            channel_account::Column::RefreshLockedUntil
                .is_null()
                .or(channel_account::Column::RefreshLockedUntil.lt(now)),
        )
        .exec(&state.db.write)
        .await
        .map_err(db)?;
    Ok(res.rows_affected == 1)
}

async fn release(state: &AppState, account: Uuid) {
    let res = channel_account::Entity::update_many()
        .col_expr(
            channel_account::Column::RefreshLockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(channel_account::Column::Id.eq(account))
        .exec(&state.db.write)
        .await;
    if let Err(e) = res {
        tracing::warn!(account = %account, error = %e, "could not release the refresh lease");
    }
}

fn db(e: sea_orm::DbErr) -> ConnectorError {
    ConnectorError::Transport(format!("database: {e}"))
}

async fn load(state: &AppState, account: Uuid) -> Result<channel_account::Model, ConnectorError> {
    channel_account::Entity::find_by_id(account)
        .one(&state.db.write)
        .await
        .map_err(db)?
        .ok_or_else(|| ConnectorError::Invalid("channel account gone".into()))
}

/// Refresh the account's access token now (`force`) or when it is due, one refresh at a time
/// per account: a caller that finds another refresh running waits for its outcome. Returns the
/// secrets in force afterwards.
pub async fn refresh(
    state: &AppState,
    account: Uuid,
    force: bool,
) -> Result<Secrets, ConnectorError> {
    let started = Utc::now();
    let mut waited = Duration::ZERO;
    while !lease(state, account).await? {
        // Another refresh holds the lease: its new token is what we want.
        if waited >= Duration::from_secs(35) {
            return Err(ConnectorError::RateLimited {
                retry_after: Some(Duration::from_secs(5)),
                message: "another token refresh of this account is still running".into(),
            });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        waited += Duration::from_millis(200);
        let acc = load(state, account).await?;
        if let Some(s) = open(state, &acc)
            && !s.due(Utc::now())
            && (!force || acc.updated_at >= started)
        {
            return Ok(s);
        }
    }
    let outcome = refresh_leased(state, account, force).await;
    release(state, account).await;
    outcome
}

async fn refresh_leased(
    state: &AppState,
    account: Uuid,
    force: bool,
) -> Result<Secrets, ConnectorError> {
    // Read again under the lease: a refresh that just finished wrote new secrets.
    let acc = load(state, account).await?;
    let current = open(state, &acc)
        .ok_or_else(|| ConnectorError::Invalid("channel account has no access token".into()))?;
    if !force && !current.due(Utc::now()) {
        return Ok(current);
    }
    if acc.status == "disabled" || acc.status == "needs_reauth" {
        return Err(ConnectorError::Unauthorized(
            "the channel must be reconnected".into(),
        ));
    }
    let platform: Platform = acc
        .platform
        .parse()
        .map_err(|_| ConnectorError::Unsupported)?;
    let connector = state
        .connectors
        .get(platform)
        .cloned()
        .ok_or(ConnectorError::Unsupported)?;
    let oauth = connector.oauth().ok_or(ConnectorError::Unsupported)?;
    let Some(rt) = current.refresh_token.as_deref() else {
        let e = ConnectorError::Unauthorized("no refresh token is stored: reconnect".into());
        note_failure(state, &acc, &e).await;
        return Err(e);
    };
    let cx = HttpCtx {
        http: &state.http,
        base_url: state.oauth_base(platform),
    };
    let set = match oauth.refresh(&cx, &acc.external_id, rt).await {
        Ok(set) => set,
        Err(e) => {
            tracing::warn!(account = %acc.id, platform = %acc.platform, error = %e, "token refresh failed");
            note_failure(state, &acc, &e).await;
            return Err(e);
        }
    };
    let fresh = Secrets::from_set(&set, Some(rt), Utc::now());
    store(state, &acc, &fresh).await?;
    tracing::info!(account = %acc.id, platform = %acc.platform, expires_at = ?fresh.expires_at, "access token refreshed");
    Ok(fresh)
}

/// Write refreshed secrets (one statement: the spent refresh token is never kept alone) and
/// queue the next refresh. A failed write is retried: losing a single-use refresh token would
/// force the marketer to reconnect.
async fn store(
    state: &AppState,
    acc: &channel_account::Model,
    fresh: &Secrets,
) -> Result<(), ConnectorError> {
    let sealed = fresh.seal(state);
    let mut last = None;
    for attempt in 0..5u64 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
        }
        let res = channel_account::Entity::update_many()
            .col_expr(
                channel_account::Column::SecretsEnc,
                Expr::value(Some(sealed.clone())),
            )
            .col_expr(
                channel_account::Column::TokenExpiresAt,
                Expr::value(fresh.expires_at),
            )
            .col_expr(channel_account::Column::UpdatedAt, Expr::value(Utc::now()))
            .filter(channel_account::Column::Id.eq(acc.id))
            .exec(&state.db.write)
            .await;
        match res {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
    }
    if let Some(e) = last {
        tracing::error!(account = %acc.id, error = %e, "could not store a refreshed token");
        return Err(db(e));
    }
    if let Err(e) = schedule(&state.db.write, acc.id, fresh.expires_at).await {
        tracing::warn!(account = %acc.id, error = %e, "could not schedule the next token refresh");
    }
    state.jobs_notify.notify_one();
    Ok(())
}

/// Run a `refresh_token` job (`{"channel_account_id"}`): refresh when due.
pub async fn refresh_job(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let account = payload_id(j, "channel_account_id")?;
    let acc = match channel_account::Entity::find_by_id(account)
        .one(&state.db.write)
        .await
    {
        Ok(Some(a)) => a,
        Ok(None) => return Ok(()),
        Err(e) => return Err(JobFailure::retry(format!("database: {e}"))),
    };
    if acc.status != "active" || !open(state, &acc).is_some_and(|s| s.due(Utc::now())) {
        return Ok(());
    }
    match refresh(state, account, false).await {
        Ok(_) => Ok(()),
        Err(e) if e.is_retryable() => Err(JobFailure {
            retryable: true,
            message: e.to_string(),
            retry_after: e.retry_after(),
        }),
        Err(e) => Err(JobFailure::fatal(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use tongdai_connectors::AccessToken;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0)
            .single()
            .expect("valid")
    }

    #[test]
    fn a_refresh_answer_keeps_the_old_refresh_token_when_none_comes_back() {
        let set = TokenSet {
            access_token: AccessToken::new("a2"),
            refresh_token: None,
            expires_in: Some(3599),
            refresh_expires_in: None,
            account_ids: Vec::new(),
        };
        let s = Secrets::from_set(&set, Some("r1"), t0());
        assert_eq!(s.access_token, "a2");
        assert_eq!(s.refresh_token.as_deref(), Some("r1"));
        assert_eq!(s.expires_at, Some(t0() + chrono::TimeDelta::seconds(3599)));
        let single_use = TokenSet {
            refresh_token: Some(AccessToken::new("r2")),
            ..set
        };
        let s = Secrets::from_set(&single_use, Some("r1"), t0());
        assert_eq!(s.refresh_token.as_deref(), Some("r2"));
    }

    #[test]
    fn a_token_is_due_ten_minutes_before_it_expires_and_only_with_a_refresh_token() {
        let mut s = Secrets {
            access_token: "a".into(),
            refresh_token: Some("r".into()),
            expires_at: Some(t0() + chrono::TimeDelta::minutes(11)),
            refresh_expires_at: None,
        };
        assert!(!s.due(t0()));
        assert!(s.due(t0() + chrono::TimeDelta::minutes(1)));
        assert_eq!(
            refresh_at(s.expires_at.expect("set"), t0()),
            t0() + chrono::TimeDelta::minutes(1)
        );
        s.refresh_token = None;
        assert!(!s.due(t0() + chrono::TimeDelta::hours(1)));
        let plain: Secrets =
            serde_json::from_str(r#"{"access_token":"page"}"#).expect("old secrets parse");
        assert!(!plain.due(t0()));
    }
}
