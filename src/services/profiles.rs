//! Lookups through a channel account, each run once as a job after ingest committed: a new
//! person's platform profile (name, picture) and the text and link of the post a new comment
//! thread hangs under. Platform errors have the effect they have on sends (a rejected token
//! marks the channel `needs_reauth`, throttling holds the account); a profile the platform will
//! never give (Graph `100/2018218`, a missing permission) is marked fetched so it is not asked
//! for again.

use std::sync::Arc;

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, DbBackend, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;
use tongdai_connectors::{AccountCtx, Connector, ConnectorError, HttpCtx, Platform, Profile};
use uuid::Uuid;

use crate::services::jobs::JobFailure;
use crate::services::outbound::note_failure;
use crate::services::tokens;
use crate::services::views;
use crate::state::AppState;
use crate::store::entities::{channel_account, contact, contact_identity, conversation, job};

/// Conversations of one person refreshed (re-published) after their profile arrives.
const REFRESHED_CONVERSATIONS: u64 = 20;

/// The uuid at `key` of a job's payload.
pub(crate) fn payload_id(j: &job::Model, key: &str) -> Result<Uuid, JobFailure> {
    j.payload
        .get(key)
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobFailure::fatal(format!("payload has no {key}")))
}

/// A database error during a job: worth another attempt.
pub(crate) fn db_err(e: sea_orm::DbErr) -> JobFailure {
    JobFailure::retry(format!("database: {e}"))
}

/// A channel account ready for lookups: its connector and decrypted token.
struct LookupAccount {
    acc: channel_account::Model,
    platform: Platform,
    connector: Arc<dyn Connector>,
    token: String,
}

impl LookupAccount {
    fn http<'a>(&self, state: &'a AppState) -> HttpCtx<'a> {
        HttpCtx {
            http: &state.http,
            base_url: state.api_base(self.platform),
        }
    }

    fn ctx(&self) -> AccountCtx<'_> {
        AccountCtx {
            external_id: &self.acc.external_id,
            access_token: &self.token,
        }
    }
}

/// Whether a lookup can run for `acc`.
enum Ready {
    /// It can.
    Yes(Box<LookupAccount>),
    /// This platform has nothing to look up.
    Unsupported,
    /// Not now (disabled, must be reconnected, no token): the job ends with this reason.
    No(String),
}

async fn ready(state: &AppState, acc: &channel_account::Model) -> Ready {
    match acc.status.as_str() {
        "disabled" => return Ready::No("channel account is disabled".into()),
        "needs_reauth" => {
            return Ready::No("the channel must be reconnected before lookups".into());
        }
        _ => {}
    }
    let Ok(platform) = acc.platform.parse::<Platform>() else {
        return Ready::Unsupported;
    };
    let Some(connector) = state.connectors.get(platform).cloned() else {
        return Ready::Unsupported;
    };
    if connector.lookup().is_none() {
        return Ready::Unsupported;
    }
    let token = match tokens::access_token(state, acc).await {
        Ok(t) => t,
        Err(e) => return Ready::No(e.to_string()),
    };
    Ready::Yes(Box::new(LookupAccount {
        acc: acc.clone(),
        platform,
        connector,
        token,
    }))
}

/// A platform-imposed hold on the account, as a job failure that comes back when it ends.
fn held(state: &AppState, acc: Uuid) -> Result<(), JobFailure> {
    match state.limits.held(acc) {
        Some(left) => Err(JobFailure {
            retryable: true,
            message: "the platform asked us to slow down for this account".into(),
            retry_after: Some(left),
        }),
        None => Ok(()),
    }
}

/// The effect of a failed lookup: on the channel (like a failed send), then on the job.
/// `None` means permanent for this item: record it as done and do not retry.
async fn failed(
    state: &AppState,
    acc: &channel_account::Model,
    what: &str,
    e: &ConnectorError,
) -> Option<JobFailure> {
    match e {
        ConnectorError::Unauthorized(_) => {
            note_failure(state, acc, e).await;
            Some(JobFailure::fatal(e.to_string()))
        }
        ConnectorError::RateLimited { retry_after, .. } => {
            note_failure(state, acc, e).await;
            Some(JobFailure {
                retryable: true,
                message: e.to_string(),
                retry_after: *retry_after,
            })
        }
        _ if e.is_retryable() => Some(JobFailure::retry(e.to_string())),
        ConnectorError::Api {
            code: Some(100),
            subcode: Some(2_018_218),
            ..
        } => {
            tracing::info!(channel = %acc.id, "{what}: the platform has no profile for this person");
            None
        }
        _ => {
            tracing::warn!(channel = %acc.id, error = %e, "{what}: the platform refused; not retried");
            None
        }
    }
}

/// Run a `fetch_profile` job: the name and picture of a new person, once per identity.
pub async fn fetch_profile(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let id = payload_id(j, "identity_id")?;
    let db = &state.db.write;
    let Some(idn) = contact_identity::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(db_err)?
    else {
        return Ok(()); // deleted since
    };
    if idn.profile_fetched_at.is_some() {
        return Ok(()); // fetched once already
    }
    let Some(acc) = channel_account::Entity::find_by_id(idn.channel_account_id)
        .filter(channel_account::Column::WorkspaceId.eq(idn.workspace_id))
        .one(db)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    let la = match ready(state, &acc).await {
        Ready::Yes(la) => la,
        Ready::Unsupported => return mark_fetched(state, &idn).await,
        Ready::No(why) => return Err(JobFailure::fatal(why)),
    };
    held(state, acc.id)?;
    let lookup = la
        .connector
        .lookup()
        .ok_or_else(|| JobFailure::fatal("no lookups"))?;
    match lookup
        .fetch_profile(&la.http(state), &la.ctx(), &idn.external_id)
        .await
    {
        Ok(p) => store_profile(state, idn, p).await,
        Err(e) => match failed(state, &acc, "profile", &e).await {
            Some(f) => Err(f),
            None => mark_fetched(state, &idn).await,
        },
    }
}

/// Remember that the profile was asked for (whatever came back), so it is never asked again.
async fn mark_fetched(state: &AppState, idn: &contact_identity::Model) -> Result<(), JobFailure> {
    contact_identity::Entity::update_many()
        .col_expr(
            contact_identity::Column::ProfileFetchedAt,
            sea_orm::sea_query::Expr::value(Utc::now()),
        )
        .filter(contact_identity::Column::Id.eq(idn.id))
        .filter(contact_identity::Column::WorkspaceId.eq(idn.workspace_id))
        .exec(&state.db.write)
        .await
        .map_err(db_err)?;
    Ok(())
}

fn non_empty(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

async fn store_profile(
    state: &AppState,
    idn: contact_identity::Model,
    p: Profile,
) -> Result<(), JobFailure> {
    let ws = idn.workspace_id;
    let name = non_empty(p.name).or_else(|| non_empty(p.username));
    let avatar = non_empty(p.picture_url);
    let now = Utc::now();
    let txn = state.db.write.begin().await.map_err(db_err)?;
    let Some(idn) = contact_identity::Entity::find_by_id(idn.id)
        .filter(contact_identity::Column::WorkspaceId.eq(ws))
        .one(&txn)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    let contact_id = idn.contact_id;
    let identity_id = idn.id;
    let mut am = idn.clone().into_active_model();
    if name.is_some() {
        am.display_name = Set(name.clone());
    }
    if avatar.is_some() {
        am.avatar_url = Set(avatar);
    }
    am.profile_fetched_at = Set(Some(now));
    am.update(&txn).await.map_err(db_err)?;
    if let Some(name) = &name
        && let Some(c) = contact::Entity::find_by_id(contact_id)
            .filter(contact::Column::WorkspaceId.eq(ws))
            .one(&txn)
            .await
            .map_err(db_err)?
        && c.name.is_none()
    {
        let mut am = c.into_active_model();
        am.name = Set(Some(name.clone()));
        am.updated_at = Set(now);
        am.update(&txn).await.map_err(db_err)?;
    }
    txn.commit().await.map_err(db_err)?;

    state
        .bus
        .publish(
            ws,
            "contact.updated",
            json!({ "contact_id": contact_id, "identity_id": identity_id }),
        )
        .await;
    // The inbox list shows the name (and picture) next to each conversation.
    let convs = conversation::Entity::find()
        .filter(conversation::Column::WorkspaceId.eq(ws))
        .filter(conversation::Column::IdentityId.eq(identity_id))
        .order_by_desc(conversation::Column::UpdatedAt)
        .limit(REFRESHED_CONVERSATIONS)
        .all(&state.db.write)
        .await
        .map_err(db_err)?;
    match views::conversations_out(&state.db.write, convs).await {
        Ok(views) => {
            for v in views {
                state
                    .bus
                    .publish(ws, "conversation.updated", json!({ "conversation": v }))
                    .await;
            }
        }
        Err(e) => tracing::warn!(error = %e, "could not build conversation views"),
    }
    Ok(())
}

/// Run a `fetch_post` job: the text and link of the post a comment thread is under, filled
/// where the webhook did not carry them.
pub async fn fetch_post(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let id = payload_id(j, "conversation_id")?;
    let db = &state.db.write;
    let Some(conv) = conversation::Entity::find_by_id(id)
        .one(db)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    let Some(post_id) = conv.post_external_id.clone() else {
        return Ok(());
    };
    if conv.post_text.is_some() && conv.post_permalink.is_some() {
        return Ok(());
    }
    let Some(acc) = channel_account::Entity::find_by_id(conv.channel_account_id)
        .filter(channel_account::Column::WorkspaceId.eq(conv.workspace_id))
        .one(db)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    let la = match ready(state, &acc).await {
        Ready::Yes(la) => la,
        Ready::Unsupported => return Ok(()),
        Ready::No(why) => return Err(JobFailure::fatal(why)),
    };
    held(state, acc.id)?;
    let lookup = la
        .connector
        .lookup()
        .ok_or_else(|| JobFailure::fatal("no lookups"))?;
    let post = match lookup
        .fetch_post(&la.http(state), &la.ctx(), &post_id)
        .await
    {
        Ok(post) => post,
        Err(e) => {
            return match failed(state, &acc, "post", &e).await {
                Some(f) => Err(f),
                None => Ok(()),
            };
        }
    };
    let text = non_empty(post.text);
    let permalink = non_empty(post.permalink);
    if text.is_none() && permalink.is_none() {
        return Ok(());
    }
    let ws = conv.workspace_id;
    let txn = db.begin().await.map_err(db_err)?;
    let mut find =
        conversation::Entity::find_by_id(id).filter(conversation::Column::WorkspaceId.eq(ws));
    if state.db.write.get_database_backend() == DbBackend::Postgres {
        // Ingest updates the same row (counters, latest message): no lost update.
        find = find.lock_exclusive();
    }
    let Some(conv) = find.one(&txn).await.map_err(db_err)? else {
        return Ok(());
    };
    let mut changed = false;
    let mut am = conv.clone().into_active_model();
    if conv.post_text.is_none() && text.is_some() {
        am.post_text = Set(text);
        changed = true;
    }
    if conv.post_permalink.is_none() && permalink.is_some() {
        am.post_permalink = Set(permalink);
        changed = true;
    }
    if !changed {
        return Ok(());
    }
    am.updated_at = Set(Utc::now());
    am.update(&txn).await.map_err(db_err)?;
    let view = views::conversation_out(&txn, ws, id).await;
    txn.commit().await.map_err(db_err)?;
    match view {
        Ok(v) => {
            state
                .bus
                .publish(ws, "conversation.updated", json!({ "conversation": v }))
                .await;
        }
        Err(e) => tracing::warn!(error = %e, "could not build the conversation view"),
    }
    Ok(())
}
