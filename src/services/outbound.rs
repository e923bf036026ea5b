//! Everything sent to a platform on an agent's behalf: queued replies (messages, public comment
//! replies, private replies) run as `send_message` jobs; comment moderation (hide, delete) is
//! a direct call the agent waits for. Each platform error class has one effect on the channel:
//! a rejected token marks it `needs_reauth` (no retry storm), throttling holds its sends until
//! the platform's regain time, a missing permission fails with the platform's reason.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
    TransactionTrait,
};
use serde_json::json;
use tongdai_connectors::zalo::window as zalo_window;
use tongdai_connectors::{
    AccountCtx, Connector, ConnectorError, HttpCtx, MediaKind, OutboundContent, OutboundMessage,
    Platform, QuickReplyButton, Recipient, SendPolicy, SendQuota, private_reply_window,
    reply_window,
};
use uuid::Uuid;

use crate::domain::net::{self, UrlProblem};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::services::jobs::{self, JobFailure};
use crate::services::tokens;
use crate::services::views::{self, MessageOut};
use crate::state::AppState;
use crate::store::entities::{channel_account, contact_identity, conversation, job, message};

/// A channel account ready for an outbound call: its connector and decrypted token.
struct Channel {
    acc: channel_account::Model,
    platform: Platform,
    connector: Arc<dyn Connector>,
    token: String,
}

impl Channel {
    fn http<'a>(&self, state: &'a AppState) -> HttpCtx<'a> {
        HttpCtx {
            http: &state.http,
            base_url: state.api_base(self.platform),
        }
    }
    fn account(&self) -> AccountCtx<'_> {
        AccountCtx {
            external_id: &self.acc.external_id,
            access_token: &self.token,
        }
    }
}

/// The channel of `acc`, refusing before any call when it cannot send.
async fn channel(
    state: &AppState,
    acc: &channel_account::Model,
) -> Result<Channel, ConnectorError> {
    match acc.status.as_str() {
        "disabled" => {
            return Err(ConnectorError::Invalid(
                "channel account is disabled".into(),
            ));
        }
        "needs_reauth" => {
            return Err(ConnectorError::Unauthorized(
                "the channel must be reconnected before it can send".into(),
            ));
        }
        _ => {}
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
    let token = tokens::access_token(state, acc).await?;
    Ok(Channel {
        acc: acc.clone(),
        platform,
        connector,
        token,
    })
}

/// Wait for the account's pacing turn; a platform-imposed hold is returned as throttling so
/// the job comes back when it ends instead of blocking a worker.
async fn pace(state: &AppState, acc: Uuid, heavy: bool) -> Result<(), ConnectorError> {
    if let Some(left) = state.limits.held(acc) {
        return Err(ConnectorError::RateLimited {
            retry_after: Some(left),
            message: "the platform asked us to slow down for this account".into(),
        });
    }
    state.limits.send.until_key_ready(&acc).await;
    if heavy {
        state.limits.send_heavy.until_key_ready(&acc).await;
    }
    Ok(())
}

/// The effect of an outbound failure on its channel (health and state).
pub(crate) async fn note_failure(
    state: &AppState,
    acc: &channel_account::Model,
    e: &ConnectorError,
) {
    let now = Utc::now();
    let mut q = channel_account::Entity::update_many()
        .col_expr(
            channel_account::Column::LastError,
            Expr::value(e.to_string()),
        )
        .col_expr(channel_account::Column::LastErrorAt, Expr::value(now))
        .filter(channel_account::Column::Id.eq(acc.id));
    match e {
        ConnectorError::Unauthorized(_) => {
            q = q.col_expr(channel_account::Column::Status, Expr::value("needs_reauth"));
        }
        ConnectorError::RateLimited { retry_after, .. } => {
            state
                .limits
                .hold(acc.id, retry_after.unwrap_or(Duration::from_secs(60)));
            crate::services::poll::note_throttled(state, acc, *retry_after).await;
        }
        ConnectorError::Transport(_) | ConnectorError::Invalid(_) => return,
        _ => {}
    }
    if let Err(err) = q.exec(&state.db.write).await {
        tracing::warn!(error = %err, "could not record the channel's error");
    }
    if e.needs_reconnect() {
        state
            .bus
            .publish(
                acc.workspace_id,
                "channel.updated",
                json!({ "channel_account_id": acc.id, "status": "needs_reauth", "error": e.to_string() }),
            )
            .await;
    }
}

/// A connector error as an API error for the agent who asked.
fn to_app(e: ConnectorError) -> AppError {
    match e {
        ConnectorError::RateLimited { retry_after, .. } => AppError::RateLimited {
            retry_after: retry_after.unwrap_or(Duration::from_secs(60)),
        },
        ConnectorError::OutsideWindow(m) => AppError::refused("reply_window_closed", m),
        ConnectorError::Unsupported => {
            AppError::refused("unsupported", "this platform cannot do that")
        }
        ConnectorError::Unauthorized(m) => AppError::Platform {
            code: "channel_needs_reauth",
            message: m,
        },
        other => AppError::Platform {
            code: other.code(),
            message: other.to_string(),
        },
    }
}

/// Run a `send_message` job (`{"message_id"}` or `{"message_ids": [...]}`, sent in that
/// order): call the platform, record each outcome, publish it. A row that fails for good does
/// not hold back the next; a retryable failure stops here and the job comes back (rows already
/// sent are skipped then).
pub async fn deliver(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let ids: Vec<Uuid> = match (j.payload.get("message_ids"), j.payload.get("message_id")) {
        (Some(list), _) => list
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str()?.parse().ok()).collect())
            .unwrap_or_default(),
        (None, Some(one)) => one
            .as_str()
            .and_then(|s| s.parse().ok())
            .into_iter()
            .collect(),
        (None, None) => Vec::new(),
    };
    if ids.is_empty() {
        return Err(JobFailure::fatal("payload has no message ids"));
    }
    let mut fatal = None;
    for mid in ids {
        match deliver_one(state, j, mid).await {
            Ok(()) => {}
            Err(f) if f.retryable => return Err(f),
            Err(f) => fatal = Some(f),
        }
    }
    fatal.map_or(Ok(()), Err)
}

async fn deliver_one(state: &AppState, j: &job::Model, mid: Uuid) -> Result<(), JobFailure> {
    let db_err = |e: sea_orm::DbErr| JobFailure::retry(format!("database: {e}"));
    let Some(m) = message::Entity::find_by_id(mid)
        .one(&state.db.write)
        .await
        .map_err(db_err)?
    else {
        return Ok(()); // deleted since: nothing to send
    };
    if m.status != "queued" {
        return Ok(()); // already sent by an earlier attempt
    }
    let c = conversation::Entity::find_by_id(m.conversation_id)
        .one(&state.db.write)
        .await
        .map_err(db_err)?
        .ok_or_else(|| JobFailure::fatal("conversation gone"))?;
    let acc = channel_account::Entity::find_by_id(c.channel_account_id)
        .one(&state.db.write)
        .await
        .map_err(db_err)?
        .ok_or_else(|| JobFailure::fatal("channel account gone"))?;

    let result = match channel(state, &acc).await {
        Ok(ch) => send_row(state, &ch, &c, &m).await,
        Err(e) => Err(e),
    };
    let last_attempt = j.attempts >= j.max_attempts;
    let (status, sent, error, outcome) = match result {
        Ok(sent) => ("sent", Some(sent), None, Ok(())),
        Err(e) => {
            note_failure(state, &acc, &e).await;
            let retry = e.is_retryable() && !last_attempt;
            (
                if retry { "queued" } else { "failed" },
                None,
                Some(e.to_string()),
                Err(JobFailure {
                    retryable: e.is_retryable(),
                    message: e.to_string(),
                    retry_after: e.retry_after(),
                }),
            )
        }
    };
    let txn = state.db.write.begin().await.map_err(db_err)?;
    let mut frames = Vec::new();
    if let Some(s) = &sent {
        // The platform's echo of this very send may have been stored first (when the app id is
        // not configured, echoes cannot be told apart; a page's comment webhook carries no app
        // id at all): this row supersedes it.
        message::Entity::delete_many()
            .filter(message::Column::ChannelAccountId.eq(m.channel_account_id))
            .filter(message::Column::ExternalId.eq(s.external_id.as_str()))
            .filter(message::Column::SenderKind.eq("page"))
            .exec(&txn)
            .await
            .map_err(db_err)?;
        if m.kind == "private_reply" {
            link_private_reply(&txn, &acc, &m, s.recipient_id.as_deref())
                .await
                .map_err(db_err)?;
        }
    } else if status == "failed" && m.kind == "private_reply" {
        // The one allowed private reply did not go out: the agent may try again.
        if let Some(target) = &m.in_reply_to {
            let changed = clear_private_reply(&txn, &acc, target)
                .await
                .map_err(db_err)?;
            frames.extend(changed);
        }
    }
    let mut am = m.into_active_model();
    am.status = Set(status.to_owned());
    if let Some(s) = sent {
        am.external_id = Set(Some(s.external_id));
    }
    am.error = Set(error);
    am.updated_at = Set(Utc::now());
    let m = am.update(&txn).await.map_err(db_err)?;
    txn.commit().await.map_err(db_err)?;
    frames.insert(0, m);
    for m in frames {
        state
            .bus
            .publish(
                m.workspace_id,
                "message.updated",
                json!({ "message": MessageOut::from(m) }),
            )
            .await;
    }
    outcome
}

/// What a successful send gave back.
struct SentRow {
    external_id: String,
    recipient_id: Option<String>,
}

async fn send_row(
    state: &AppState,
    ch: &Channel,
    c: &conversation::Model,
    m: &message::Model,
) -> Result<SentRow, ConnectorError> {
    let text = m.text.clone().unwrap_or_default();
    let key = m.id.to_string();
    match m.kind.as_str() {
        "comment" => {
            let comments = ch.connector.comments().ok_or(ConnectorError::Unsupported)?;
            let target = m
                .in_reply_to
                .as_deref()
                .ok_or_else(|| ConnectorError::Invalid("comment reply without a target".into()))?;
            crate::services::poll::spend_write(state, &ch.acc, crate::services::poll::Write::Reply)
                .await?;
            pace(state, ch.acc.id, false).await?;
            let r = comments
                .reply_to_comment(&ch.http(state), &ch.account(), target, &text)
                .await?;
            Ok(SentRow {
                external_id: r.external_comment_id,
                recipient_id: None,
            })
        }
        "private_reply" => {
            let target = m
                .in_reply_to
                .as_deref()
                .ok_or_else(|| ConnectorError::Invalid("private reply without a comment".into()))?;
            let msg = OutboundMessage::text(Recipient::Comment(target.to_owned()), text)
                .with_idempotency_key(key);
            send_message(state, ch, &msg, false).await
        }
        _ => {
            let idn = contact_identity::Entity::find_by_id(c.identity_id)
                .one(&state.db.write)
                .await
                .map_err(|e| ConnectorError::Transport(format!("database: {e}")))?
                .ok_or_else(|| ConnectorError::Invalid("identity gone".into()))?;
            // The platform's window is checked again at sending time: the queue may have waited.
            let policy = match ch.platform {
                Platform::Facebook | Platform::Instagram => {
                    reply_window(c.last_inbound_at, Utc::now())
                        .policy()
                        .ok_or_else(|| {
                            ConnectorError::OutsideWindow(
                                "the customer last wrote more than 7 days ago".into(),
                            )
                        })?
                }
                Platform::Zalo => {
                    // Zalo: 48 h after the customer's message, 8 free replies, then the paid
                    // quota. Refused here, before any call: the replies already out count.
                    let facts = views::reply_facts(&state.db.write, c, &ch.acc, true, Some(m.id))
                        .await
                        .map_err(|e| ConnectorError::Transport(format!("database: {e}")))?;
                    let w = zalo_window::reply_window(
                        c.last_inbound_at,
                        facts.replies_since,
                        facts.paid_remain,
                        Utc::now(),
                    );
                    if let Some(why) = w.refusal() {
                        return Err(ConnectorError::OutsideWindow(why));
                    }
                    SendPolicy::Standard
                }
                _ => SendPolicy::Standard,
            };
            let recipient = Recipient::User(idn.external_id.clone());
            let attachment = m
                .attachments
                .as_array()
                .and_then(|a| a.first())
                .and_then(|a| Some((a.get("kind")?.as_str()?, a.get("url")?.as_str()?)));
            let (msg, heavy) = match attachment {
                Some((kind, url)) => {
                    let kind = match kind {
                        "image" => MediaKind::Image,
                        "video" => MediaKind::Video,
                        "audio" => MediaKind::Audio,
                        _ => MediaKind::File,
                    };
                    (
                        OutboundMessage::media(recipient, kind, url),
                        matches!(kind, MediaKind::Video | MediaKind::Audio),
                    )
                }
                None => {
                    let mut msg = OutboundMessage::text(recipient, text);
                    let buttons = m
                        .meta
                        .as_ref()
                        .and_then(|x| x.get("quick_replies"))
                        .and_then(|q| q.as_array())
                        .map(|qs| {
                            qs.iter()
                                .filter_map(|q| {
                                    Some(QuickReplyButton {
                                        title: q.get("title")?.as_str()?.to_owned(),
                                        payload: q.get("payload")?.as_str()?.to_owned(),
                                    })
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    msg.quick_replies = buttons;
                    (msg, false)
                }
            };
            let msg = msg.with_policy(policy).with_idempotency_key(key);
            send_message(state, ch, &msg, heavy).await
        }
    }
}

async fn send_message(
    state: &AppState,
    ch: &Channel,
    msg: &OutboundMessage,
    heavy: bool,
) -> Result<SentRow, ConnectorError> {
    let messaging = ch
        .connector
        .messaging()
        .ok_or(ConnectorError::Unsupported)?;
    pace(state, ch.acc.id, heavy).await?;
    // Zalo fetches no URL itself: tongdai downloads a file reply's URL and uploads it. That is
    // a request to an agent-given URL, so it goes through the public-only client (no
    // redirects, addresses checked after DNS resolution) like fulfillment deliveries.
    let downloads = match &msg.content {
        OutboundContent::Media { kind, url, .. }
            if ch.platform == Platform::Zalo && *kind != MediaKind::Image =>
        {
            Some(url.as_str())
        }
        _ => None,
    };
    let cx = match downloads {
        Some(url) => {
            let allow_private = state.cfg.allow_private_webhook_targets;
            check_public_url(url, allow_private)?;
            HttpCtx {
                http: crate::services::fulfillment::client(allow_private),
                base_url: state.api_base(ch.platform),
            }
        }
        None => ch.http(state),
    };
    let sent = messaging.send(&cx, &ch.account(), msg).await?;
    if let Some(q) = sent.quota.as_ref().filter(|q| q.is_paid()) {
        remember_quota(state, &ch.acc, q).await;
    }
    if let Some(wait) = sent
        .usage
        .regain_after
        .filter(|_| sent.usage.is_throttled())
    {
        state.limits.hold(ch.acc.id, wait);
    }
    Ok(SentRow {
        external_id: sent.external_message_id,
        recipient_id: sent.recipient_id,
    })
}

/// Refuse an attachment URL tongdai would download that is not an `http(s)` URL of a public
/// host (unless non-public targets are allowed).
fn check_public_url(url: &str, allow_private: bool) -> Result<(), ConnectorError> {
    let parsed = url::Url::parse(url)
        .map_err(|e| ConnectorError::Invalid(format!("bad attachment URL: {e}")))?;
    let (host, _) = net::endpoint_host(&parsed).map_err(|p| match p {
        UrlProblem::Invalid(w) | UrlProblem::NotPublic(w) => {
            ConnectorError::Invalid(format!("attachment URL: {w}"))
        }
    })?;
    if !allow_private && let Some(why) = net::host_reason(&host) {
        return Err(ConnectorError::Invalid(format!(
            "attachment URL is not public: {why}"
        )));
    }
    Ok(())
}

/// Keep the paid quota a send reported in the channel's settings (Zalo: what decides whether
/// replies beyond the free ones may go out). Best effort: the next send reports it again.
async fn remember_quota(state: &AppState, acc: &channel_account::Model, q: &SendQuota) {
    let fresh = channel_account::Entity::find_by_id(acc.id)
        .one(&state.db.write)
        .await;
    let Ok(Some(fresh)) = fresh else {
        return;
    };
    let mut settings = fresh.settings.clone();
    if !settings.is_object() {
        settings = json!({});
    }
    settings[views::ZALO_QUOTA_KEY] = json!({
        "quota_type": q.quota_type,
        "remain": q.remain,
        "total": q.total,
        "expired_date": q.expired_date,
        "seen_at": Utc::now(),
    });
    let res = channel_account::Entity::update_many()
        .col_expr(channel_account::Column::Settings, Expr::value(settings))
        .filter(channel_account::Column::Id.eq(acc.id))
        .exec(&state.db.write)
        .await;
    if let Err(e) = res {
        tracing::warn!(account = %acc.id, error = %e, "could not record the paid message quota");
    }
}

/// After a private reply went out: the commenter's Messenger id (the Send API's
/// `recipient_id`) becomes an identity of the same contact, so their answer in Messenger
/// continues with the same person.
async fn link_private_reply(
    txn: &sea_orm::DatabaseTransaction,
    acc: &channel_account::Model,
    m: &message::Model,
    recipient_id: Option<&str>,
) -> Result<(), sea_orm::DbErr> {
    let (Some(psid), Some(target)) = (recipient_id, m.in_reply_to.as_deref()) else {
        return Ok(());
    };
    let Some(comment) = message::Entity::find()
        .filter(message::Column::ChannelAccountId.eq(acc.id))
        .filter(message::Column::ExternalId.eq(target))
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let Some(author) = comment.author_external_id.as_deref() else {
        return Ok(());
    };
    let Some(commenter) = contact_identity::Entity::find()
        .filter(contact_identity::Column::ChannelAccountId.eq(acc.id))
        .filter(contact_identity::Column::ExternalId.eq(author))
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    if psid == author {
        return Ok(()); // Instagram scopes both by the same id
    }
    contact_identity::Entity::insert(contact_identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acc.workspace_id),
        contact_id: Set(commenter.contact_id),
        channel_account_id: Set(acc.id),
        external_id: Set(psid.to_owned()),
        display_name: Set(commenter.display_name.clone()),
        original_contact_id: Set(None),
        created_at: Set(Utc::now()),
        avatar_url: Set(commenter.avatar_url.clone()),
        profile_fetched_at: Set(commenter.profile_fetched_at),
    })
    .on_conflict_do_nothing_on([
        contact_identity::Column::ChannelAccountId,
        contact_identity::Column::ExternalId,
    ])
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

async fn clear_private_reply(
    txn: &sea_orm::DatabaseTransaction,
    acc: &channel_account::Model,
    target: &str,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    let Some(comment) = message::Entity::find()
        .filter(message::Column::ChannelAccountId.eq(acc.id))
        .filter(message::Column::ExternalId.eq(target))
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let mut am = comment.into_active_model();
    am.private_replied_at = Set(None);
    am.updated_at = Set(Utc::now());
    Ok(Some(am.update(txn).await?))
}

/// A comment of the caller's workspace, with its conversation and channel account.
async fn comment_of(
    state: &AppState,
    p: &Principal,
    id: Uuid,
) -> AppResult<(message::Model, conversation::Model, channel_account::Model)> {
    let db = &state.db.write;
    let m = message::Entity::find_by_id(id)
        .filter(message::Column::WorkspaceId.eq(p.workspace_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    if m.kind != "comment" {
        return Err(AppError::bad_request(
            "not_a_comment",
            "only comments can be moderated or answered privately",
        ));
    }
    if m.external_id.is_none() {
        return Err(AppError::bad_request(
            "not_sent",
            "that comment has not been posted yet",
        ));
    }
    let c = conversation::Entity::find_by_id(m.conversation_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    let acc = channel_account::Entity::find_by_id(c.channel_account_id)
        .one(db)
        .await?
        .ok_or(AppError::NotFound("channel account"))?;
    Ok((m, c, acc))
}

/// `POST /messages/{id}/private-reply`: the one private message Meta allows to a commenter
/// (within 7 days of the comment). Queued like any reply; shown in the comment thread.
pub async fn private_reply(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    text: &str,
) -> AppResult<MessageOut> {
    p.require(Permission::WorkInbox)?;
    let expanded =
        crate::services::settings::expand_shortcut(&state.db.read, p.workspace_id, text.trim())
            .await?;
    let text = expanded.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(AppError::bad_request(
            "bad_text",
            "a private reply needs 1–2000 characters of text",
        ));
    }
    let (comment, c, acc) = comment_of(state, p, id).await?;
    if comment.direction != "in" {
        return Err(AppError::bad_request(
            "not_a_customer_comment",
            "private replies go to a customer's comment",
        ));
    }
    let now = Utc::now();
    if let tongdai_connectors::ReplyWindow::Closed { reason, .. } =
        private_reply_window(comment.sent_at, comment.private_replied_at.is_some(), now)
    {
        let why = match reason {
            tongdai_connectors::WindowClosedReason::AlreadyReplied => {
                "this comment already had its one private reply"
            }
            _ => "private replies are allowed only within 7 days of the comment",
        };
        return Err(AppError::refused("private_reply_closed", why));
    }
    let txn = state.db.write.begin().await?;
    let Some(m) = queue_private_reply(&txn, &acc, c.id, &comment, text, p.user_id).await? else {
        return Err(AppError::refused(
            "private_reply_closed",
            "this comment already had its one private reply",
        ));
    };
    let comment = message::Entity::find_by_id(comment.id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    txn.commit().await?;
    let out = MessageOut::from(m);
    state
        .bus
        .publish(
            p.workspace_id,
            "message.created",
            json!({ "message": out, "conversation_id": c.id }),
        )
        .await;
    state
        .bus
        .publish(
            p.workspace_id,
            "message.updated",
            json!({ "message": MessageOut::from(comment) }),
        )
        .await;
    state.jobs_notify.notify_one();
    Ok(out)
}

/// Queue the one private reply to `comment` (inside the caller's transaction): claim it on the
/// comment, insert the queued row and its `send_message` job. `None`: it was claimed already.
/// `author`: the agent (`None`: automatic, by the channel's lead settings).
pub async fn queue_private_reply(
    txn: &sea_orm::DatabaseTransaction,
    acc: &channel_account::Model,
    conversation_id: Uuid,
    comment: &message::Model,
    text: &str,
    author: Option<Uuid>,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    let now = Utc::now();
    let claimed = message::Entity::update_many()
        .col_expr(message::Column::PrivateRepliedAt, Expr::value(now))
        .col_expr(message::Column::UpdatedAt, Expr::value(now))
        .filter(message::Column::Id.eq(comment.id))
        .filter(message::Column::PrivateRepliedAt.is_null())
        .exec(txn)
        .await?;
    if claimed.rows_affected == 0 {
        return Ok(None);
    }
    let m = message::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acc.workspace_id),
        conversation_id: Set(conversation_id),
        channel_account_id: Set(acc.id),
        external_id: Set(None),
        direction: Set("out".into()),
        sender_kind: Set(if author.is_some() { "agent" } else { "page" }.into()),
        author_user_id: Set(author),
        text: Set(Some(text.to_owned())),
        attachments: Set(json!([])),
        status: Set("queued".into()),
        error: Set(None),
        sent_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        kind: Set("private_reply".into()),
        in_reply_to: Set(comment.external_id.clone()),
        hidden: Set(false),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    jobs::enqueue(
        txn,
        jobs::kind::SEND_MESSAGE,
        json!({ "message_id": m.id }),
        now,
    )
    .await?;
    Ok(Some(m))
}

/// Hide or unhide comment `target` of `acc` on the platform (pacing, and the failure's effect
/// on the channel, included).
async fn platform_hide(
    state: &AppState,
    acc: &channel_account::Model,
    target: &str,
    hidden: bool,
) -> Result<(), ConnectorError> {
    let res = async {
        let ch = channel(state, acc).await?;
        let comments = ch.connector.comments().ok_or(ConnectorError::Unsupported)?;
        crate::services::poll::spend_write(state, acc, crate::services::poll::Write::Moderate)
            .await?;
        pace(state, acc.id, false).await?;
        comments
            .set_comment_hidden(&ch.http(state), &ch.account(), target, hidden)
            .await
    }
    .await;
    if let Err(e) = &res {
        note_failure(state, acc, e).await;
    }
    res
}

/// Record a comment as hidden (or not) and publish it.
async fn store_hidden(
    state: &AppState,
    m: message::Model,
    hidden: bool,
) -> Result<MessageOut, sea_orm::DbErr> {
    let ws = m.workspace_id;
    let mut am = m.into_active_model();
    am.hidden = Set(hidden);
    am.updated_at = Set(Utc::now());
    let m = am.update(&state.db.write).await?;
    let out = MessageOut::from(m);
    state
        .bus
        .publish(ws, "message.updated", json!({ "message": out }))
        .await;
    Ok(out)
}

/// Queue hiding a customer's comment on the platform (`hide_comment` job, in the caller's
/// transaction): the channel hides comments that carry a phone number.
pub async fn enqueue_hide(
    txn: &sea_orm::DatabaseTransaction,
    message_id: Uuid,
) -> Result<i64, sea_orm::DbErr> {
    jobs::enqueue(
        txn,
        jobs::kind::HIDE_COMMENT,
        json!({ "message_id": message_id }),
        Utc::now(),
    )
    .await
}

/// Run a `hide_comment` job (`{"message_id"}`).
pub async fn hide_job(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let db_err = |e: sea_orm::DbErr| JobFailure::retry(format!("database: {e}"));
    let Some(id) = j
        .payload
        .get("message_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse::<Uuid>().ok())
    else {
        return Err(JobFailure::fatal("payload has no message_id"));
    };
    let Some(m) = message::Entity::find_by_id(id)
        .one(&state.db.write)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    let (Some(target), false) = (m.external_id.clone(), m.hidden || m.removed_at.is_some()) else {
        return Ok(());
    };
    let acc = channel_account::Entity::find_by_id(m.channel_account_id)
        .one(&state.db.write)
        .await
        .map_err(db_err)?
        .ok_or_else(|| JobFailure::fatal("channel account gone"))?;
    platform_hide(state, &acc, &target, true)
        .await
        .map_err(|e| JobFailure {
            retryable: e.is_retryable(),
            message: e.to_string(),
            retry_after: e.retry_after(),
        })?;
    store_hidden(state, m, true).await.map_err(db_err)?;
    Ok(())
}

/// `POST /messages/{id}/hide`: hide or unhide a comment on the platform, then here.
pub async fn set_hidden(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    hidden: bool,
) -> AppResult<MessageOut> {
    p.require(Permission::WorkInbox)?;
    let (m, _, acc) = comment_of(state, p, id).await?;
    let target = m.external_id.clone().unwrap_or_default();
    platform_hide(state, &acc, &target, hidden)
        .await
        .map_err(to_app)?;
    Ok(store_hidden(state, m, hidden).await?)
}

/// `DELETE /messages/{id}`: delete one of the account's own comment replies on the platform;
/// here it stays, marked removed.
pub async fn delete_comment(state: &AppState, p: &Principal, id: Uuid) -> AppResult<MessageOut> {
    p.require(Permission::WorkInbox)?;
    let (m, _, acc) = comment_of(state, p, id).await?;
    if m.direction != "out" {
        return Err(AppError::bad_request(
            "not_ours",
            "only the account's own replies can be deleted; hide a customer's comment instead",
        ));
    }
    if m.removed_at.is_some() {
        return Ok(MessageOut::from(m));
    }
    let ch = channel(state, &acc).await.map_err(to_app)?;
    let comments = ch
        .connector
        .comments()
        .ok_or_else(|| to_app(ConnectorError::Unsupported))?;
    let target = m.external_id.clone().unwrap_or_default();
    let res = async {
        crate::services::poll::spend_write(state, &acc, crate::services::poll::Write::Moderate)
            .await?;
        pace(state, acc.id, false).await?;
        comments
            .delete_comment(&ch.http(state), &ch.account(), &target)
            .await
    }
    .await;
    if let Err(e) = res {
        note_failure(state, &acc, &e).await;
        return Err(to_app(e));
    }
    let now = Utc::now();
    let mut am = m.into_active_model();
    am.removed_at = Set(Some(now));
    am.updated_at = Set(now);
    let m = am.update(&state.db.write).await?;
    let out = MessageOut::from(m);
    state
        .bus
        .publish(p.workspace_id, "message.updated", json!({ "message": out }))
        .await;
    Ok(out)
}
