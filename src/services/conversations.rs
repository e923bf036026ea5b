//! Conversations and messages: the inbox list with filters and cursor pagination, status,
//! assignment and labels, the thread, and replies (queued as a `send_message` job, sent by the
//! connector, status published live).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::phone::Phone;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::services::jobs;
use crate::services::views::{self, ConversationOut, MessageOut};
use crate::state::AppState;
use crate::store::entities::{
    blacklist, channel_account, contact, conversation, conversation_label, label, membership,
    message, message_revision, user,
};

/// Filters of the conversation list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationFilter {
    /// `open`, `pending` or `resolved`.
    pub status: Option<String>,
    /// Only this channel account.
    pub channel_account_id: Option<Uuid>,
    /// Only this platform (`facebook`, …).
    pub channel: Option<String>,
    /// `me`, `none`, `any` or a user id.
    pub assignee: Option<String>,
    /// Only conversations with this label name.
    pub label: Option<String>,
    /// Only conversations with unread messages.
    pub unread: Option<bool>,
    /// Search: the contact's name, phone (any Vietnamese format, or 4+ digits of it) or the
    /// text of a message of the last 90 days (3+ characters).
    pub q: Option<String>,
    /// Only conversations whose contact has a phone.
    pub has_phone: Option<bool>,
    /// Only conversations whose contact's phone has an active blacklist entry.
    pub blacklisted: Option<bool>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
    /// Page size (1–100, default 50).
    pub limit: Option<u64>,
}

/// A page of results.
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct Page<T> {
    /// Items.
    pub items: Vec<T>,
    /// Cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// A keyset cursor `(time, id)` for newest-first lists, opaque to clients.
pub(crate) fn encode_cursor(t: DateTime<Utc>, id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(format!("{}|{}", t.to_rfc3339(), id))
}

/// Read a cursor of [`encode_cursor`] (400 when it is not one).
pub(crate) fn decode_cursor(c: &str) -> AppResult<(DateTime<Utc>, Uuid)> {
    let bad = || AppError::bad_request("invalid_cursor", "cursor is not valid");
    let raw = URL_SAFE_NO_PAD.decode(c).map_err(|_| bad())?;
    let s = String::from_utf8(raw).map_err(|_| bad())?;
    let (t, id) = s.split_once('|').ok_or_else(bad)?;
    Ok((
        DateTime::parse_from_rfc3339(t)
            .map_err(|_| bad())?
            .with_timezone(&Utc),
        id.parse().map_err(|_| bad())?,
    ))
}

/// Conversations per status (with the list's other filters applied).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct StatusCounts {
    /// Open.
    pub open: u64,
    /// Pending.
    pub pending: u64,
    /// Resolved.
    pub resolved: u64,
}

/// A page of conversations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationPage {
    /// Newest activity first.
    pub items: Vec<ConversationOut>,
    /// Cursor of the next page, when there is one.
    pub next_cursor: Option<String>,
    /// Conversations per status, for the same filters without `status`.
    pub counts: StatusCounts,
}

/// Message text search looks at messages of this many recent days only.
const TEXT_SEARCH_DAYS: i64 = 90;
/// Message text search needs at least this many characters.
const TEXT_SEARCH_MIN_CHARS: usize = 3;

/// `q` as a LIKE pattern `%q%`, lower-cased, its wildcards removed.
fn like_pattern(q: &str) -> String {
    format!("%{}%", q.replace(['%', '_', '\\'], "").to_lowercase())
}

/// The contacts of `workspace` matching `q`: phone in any format (exact E.164, index-friendly),
/// a run of at least 4 digits inside the phone, or part of the name (case-insensitive).
fn contacts_matching(workspace: Uuid, q: &str) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::Func;
    let mut any = Condition::any().add(
        Expr::expr(Func::lower(Expr::col((
            contact::Entity,
            contact::Column::Name,
        ))))
        .like(like_pattern(q)),
    );
    if let Some(ph) = Phone::parse(q) {
        any = any.add(contact::Column::Phone.eq(ph.as_str()));
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let only_digits = q
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '.' | '-' | '+'));
    if only_digits && digits.len() >= 4 {
        // "0912 345" → "912345": E.164 drops the national 0.
        let tail = digits.strip_prefix('0').unwrap_or(&digits);
        any = any.add(contact::Column::Phone.contains(tail));
    }
    contact::Entity::find()
        .select_only()
        .column(contact::Column::Id)
        .filter(contact::Column::WorkspaceId.eq(workspace))
        .filter(any)
        .into_query()
}

/// `GET /conversations`.
pub async fn list(
    state: &AppState,
    p: &Principal,
    f: ConversationFilter,
) -> AppResult<ConversationPage> {
    p.require(Permission::ReadInbox)?;
    let db = &state.db.read;
    let limit = f.limit.unwrap_or(50).clamp(1, 100);
    let mut cond = Condition::all()
        .add(conversation::Column::WorkspaceId.eq(p.workspace_id))
        .add(conversation::Column::LastMessageAt.is_not_null());
    if let Some(id) = f.channel_account_id {
        cond = cond.add(conversation::Column::ChannelAccountId.eq(id));
    }
    if let Some(platform) = f.channel.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(
            conversation::Column::ChannelAccountId.in_subquery(
                channel_account::Entity::find()
                    .select_only()
                    .column(channel_account::Column::Id)
                    .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
                    .filter(channel_account::Column::Platform.eq(platform))
                    .into_query(),
            ),
        );
    }
    match f.assignee.as_deref() {
        None | Some("") | Some("any") => {}
        Some("none") => cond = cond.add(conversation::Column::AssigneeId.is_null()),
        Some("me") => cond = cond.add(conversation::Column::AssigneeId.eq(p.user_id)),
        Some(id) => {
            let id: Uuid = id.parse().map_err(|_| {
                AppError::bad_request("invalid_assignee", "assignee is me, none or a user id")
            })?;
            cond = cond.add(conversation::Column::AssigneeId.eq(id));
        }
    }
    if let Some(name) = f.label.as_deref().filter(|s| !s.is_empty()) {
        cond = cond.add(
            conversation::Column::Id.in_subquery(
                conversation_label::Entity::find()
                    .select_only()
                    .column(conversation_label::Column::ConversationId)
                    .inner_join(label::Entity)
                    .filter(label::Column::WorkspaceId.eq(p.workspace_id))
                    .filter(label::Column::Name.eq(name))
                    .into_query(),
            ),
        );
    }
    if f.unread == Some(true) {
        cond = cond.add(conversation::Column::UnreadCount.gt(0));
    }
    if f.has_phone == Some(true) {
        cond = cond.add(
            conversation::Column::ContactId.in_subquery(
                contact::Entity::find()
                    .select_only()
                    .column(contact::Column::Id)
                    .filter(contact::Column::WorkspaceId.eq(p.workspace_id))
                    .filter(contact::Column::Phone.is_not_null())
                    .into_query(),
            ),
        );
    }
    if f.blacklisted == Some(true) {
        cond = cond.add(
            conversation::Column::ContactId.in_subquery(
                contact::Entity::find()
                    .select_only()
                    .column(contact::Column::Id)
                    .filter(contact::Column::WorkspaceId.eq(p.workspace_id))
                    .filter(
                        contact::Column::Phone.in_subquery(
                            blacklist::Entity::find()
                                .select_only()
                                .column(blacklist::Column::Phone)
                                .filter(blacklist::Column::WorkspaceId.eq(p.workspace_id))
                                .filter(blacklist::Column::LiftedAt.is_null())
                                .into_query(),
                        ),
                    )
                    .into_query(),
            ),
        );
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        if q.chars().count() > 100 {
            return Err(AppError::bad_request(
                "query_too_long",
                "search at most 100 characters",
            ));
        }
        let mut any = Condition::any()
            .add(conversation::Column::ContactId.in_subquery(contacts_matching(p.workspace_id, q)));
        if q.chars().count() >= TEXT_SEARCH_MIN_CHARS {
            use sea_orm::sea_query::Func;
            let since = Utc::now() - chrono::Duration::days(TEXT_SEARCH_DAYS);
            any = any.add(
                conversation::Column::Id.in_subquery(
                    message::Entity::find()
                        .select_only()
                        .column(message::Column::ConversationId)
                        .filter(message::Column::WorkspaceId.eq(p.workspace_id))
                        .filter(message::Column::SentAt.gte(since))
                        .filter(
                            Expr::expr(Func::lower(Expr::col((
                                message::Entity,
                                message::Column::Text,
                            ))))
                            .like(like_pattern(q)),
                        )
                        .into_query(),
                ),
            );
        }
        cond = cond.add(any);
    }
    let rows: Vec<(String, i64)> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::Status)
        .column_as(Expr::col(conversation::Column::Id).count(), "n")
        .filter(cond.clone())
        .group_by(conversation::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts = StatusCounts::default();
    for (status, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        match status.as_str() {
            "open" => counts.open = n,
            "pending" => counts.pending = n,
            "resolved" => counts.resolved = n,
            _ => {}
        }
    }
    if let Some(s) = f.status.as_deref().filter(|s| !s.is_empty()) {
        if !matches!(s, "open" | "pending" | "resolved") {
            return Err(AppError::bad_request(
                "invalid_status",
                "status is open, pending or resolved",
            ));
        }
        cond = cond.add(conversation::Column::Status.eq(s));
    }
    if let Some(c) = &f.cursor {
        let (t, id) = decode_cursor(c)?;
        cond = cond.add(
            Condition::any()
                .add(conversation::Column::LastMessageAt.lt(t))
                .add(
                    Condition::all()
                        .add(conversation::Column::LastMessageAt.eq(t))
                        .add(conversation::Column::Id.lt(id)),
                ),
        );
    }
    let mut rows = conversation::Entity::find()
        .filter(cond)
        .order_by_desc(conversation::Column::LastMessageAt)
        .order_by_desc(conversation::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last()
            .and_then(|c| c.last_message_at.map(|t| encode_cursor(t, c.id)))
    } else {
        None
    };
    Ok(ConversationPage {
        items: views::conversations_out(db, rows).await?,
        next_cursor,
        counts,
    })
}

/// `GET /conversations/{id}`.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ConversationOut> {
    p.require(Permission::ReadInbox)?;
    views::conversation_out(&state.db.read, p.workspace_id, id).await
}

/// Changes to a conversation.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ConversationPatch {
    /// `open`, `pending` or `resolved`.
    pub status: Option<String>,
    /// Assignee; `null` unassigns.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub assignee_id: Option<Option<Uuid>>,
    /// Replace the labels (names; unknown names are created).
    pub labels: Option<Vec<String>>,
}

/// Distinguish an absent field (`None`) from an explicit `null` (`Some(None)`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<Uuid>>, D::Error> {
    Ok(Some(Option::<Uuid>::deserialize(d)?))
}

/// `PATCH /conversations/{id}`.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    patch: ConversationPatch,
) -> AppResult<ConversationOut> {
    p.require(Permission::WorkInbox)?;
    let txn = state.db.write.begin().await?;
    let c = conversation::Entity::find_by_id(id)
        .filter(conversation::Column::WorkspaceId.eq(p.workspace_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    let was_resolved = c.status == "resolved";
    let mut resolved_now = false;
    let mut am = c.into_active_model();
    if let Some(s) = patch.status {
        resolved_now = s == "resolved" && !was_resolved;
        if !matches!(s.as_str(), "open" | "pending" | "resolved") {
            return Err(AppError::bad_request(
                "invalid_status",
                "status is open, pending or resolved",
            ));
        }
        am.status = Set(s);
    }
    if let Some(a) = patch.assignee_id {
        if let Some(uid) = a {
            let member = crate::store::entities::membership::Entity::find()
                .filter(crate::store::entities::membership::Column::WorkspaceId.eq(p.workspace_id))
                .filter(crate::store::entities::membership::Column::UserId.eq(uid))
                .one(&txn)
                .await?;
            if member.is_none() {
                return Err(AppError::bad_request(
                    "invalid_assignee",
                    "assignee is not a member of this workspace",
                ));
            }
        }
        am.assignee_id = Set(a);
    }
    am.updated_at = Set(Utc::now());
    am.update(&txn).await?;
    if let Some(names) = patch.labels {
        conversation_label::Entity::delete_many()
            .filter(conversation_label::Column::ConversationId.eq(id))
            .exec(&txn)
            .await?;
        for name in names.iter().map(|n| n.trim()).filter(|n| !n.is_empty()) {
            let l = crate::services::settings::ensure_label(&txn, p.workspace_id, name).await?;
            conversation_label::ActiveModel {
                conversation_id: Set(id),
                label_id: Set(l.id),
            }
            .insert(&txn)
            .await?;
        }
    }
    let out = views::conversation_out(&txn, p.workspace_id, id).await?;
    txn.commit().await?;
    state
        .bus
        .publish(
            p.workspace_id,
            "conversation.updated",
            json!({ "conversation": out }),
        )
        .await;
    if resolved_now && out.assignee_id.is_some() {
        // Its agent has room for queued work now.
        crate::services::assignment::hand_out_quietly(state, p.workspace_id).await;
    }
    Ok(out)
}

/// `POST /conversations/{id}/read`: the agent has seen everything.
pub async fn mark_read(state: &AppState, p: &Principal, id: Uuid) -> AppResult<ConversationOut> {
    p.require(Permission::ReadInbox)?;
    let res = conversation::Entity::update_many()
        .col_expr(conversation::Column::UnreadCount, Expr::value(0))
        .filter(conversation::Column::Id.eq(id))
        .filter(conversation::Column::WorkspaceId.eq(p.workspace_id))
        .exec(&state.db.write)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("conversation"));
    }
    let out = views::conversation_out(&state.db.write, p.workspace_id, id).await?;
    state
        .bus
        .publish(
            p.workspace_id,
            "conversation.updated",
            json!({ "conversation": out }),
        )
        .await;
    // The customer's side may show it (the website chat widget's "Đã xem").
    state
        .bus
        .publish(
            p.workspace_id,
            "conversation.read",
            json!({ "conversation_id": id, "at": Utc::now() }),
        )
        .await;
    Ok(out)
}

/// Paging of a thread.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessageFilter {
    /// Cursor of an older page.
    pub before: Option<String>,
    /// Page size (1–200, default 50).
    pub limit: Option<u64>,
}

/// `GET /conversations/{id}/messages`: newest page first, items oldest → newest.
pub async fn messages(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    f: MessageFilter,
) -> AppResult<Page<MessageOut>> {
    p.require(Permission::ReadInbox)?;
    let db = &state.db.read;
    views::conversation_out(db, p.workspace_id, id).await?;
    let limit = f.limit.unwrap_or(50).clamp(1, 200);
    let mut q = message::Entity::find()
        .filter(message::Column::ConversationId.eq(id))
        .filter(message::Column::WorkspaceId.eq(p.workspace_id));
    if let Some(c) = &f.before {
        let (t, mid) = decode_cursor(c)?;
        q = q.filter(
            Condition::any().add(message::Column::SentAt.lt(t)).add(
                Condition::all()
                    .add(message::Column::SentAt.eq(t))
                    .add(message::Column::Id.lt(mid)),
            ),
        );
    }
    let mut rows = q
        .order_by_desc(message::Column::SentAt)
        .order_by_desc(message::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|m| encode_cursor(m.sent_at, m.id))
    } else {
        None
    };
    rows.reverse();
    Ok(Page {
        items: rows.into_iter().map(MessageOut::from).collect(),
        next_cursor,
    })
}

/// An earlier text of an edited message or comment.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RevisionOut {
    /// The text before the edit.
    pub text: Option<String>,
    /// When it was replaced.
    pub edited_at: DateTime<Utc>,
}

/// `GET /messages/{id}/revisions`: the texts an edited message had, oldest first.
pub async fn revisions(state: &AppState, p: &Principal, id: Uuid) -> AppResult<Vec<RevisionOut>> {
    p.require(Permission::ReadInbox)?;
    let db = &state.db.read;
    message::Entity::find_by_id(id)
        .filter(message::Column::WorkspaceId.eq(p.workspace_id))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("message"))?;
    Ok(message_revision::Entity::find()
        .filter(message_revision::Column::MessageId.eq(id))
        .order_by_asc(message_revision::Column::EditedAt)
        .order_by_asc(message_revision::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(|r| RevisionOut {
            text: r.text,
            edited_at: r.edited_at,
        })
        .collect())
}

/// A reply.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplyIn {
    /// Text to send (may be empty when an attachment is given).
    #[serde(default)]
    pub text: String,
    /// Direct conversations: an image, video, audio clip or file to send by URL (sent before
    /// the text when both are given).
    pub attachment: Option<AttachmentIn>,
    /// Direct conversations: quick-reply buttons under the text (at most 13).
    #[serde(default)]
    pub quick_replies: Vec<QuickReplyIn>,
    /// Comment threads: the comment to answer publicly (default: the thread's first comment).
    pub reply_to: Option<Uuid>,
}

/// A file to send by URL.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct AttachmentIn {
    /// `image`, `video`, `audio` or `file`.
    pub kind: String,
    /// A public `https://` (or `http://`) URL the platform fetches it from.
    pub url: String,
}

/// A quick-reply button.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
pub struct QuickReplyIn {
    /// What the button says (at most 20 characters).
    pub title: String,
    /// What comes back when it is tapped (at most 1000 characters).
    pub payload: String,
}

fn check_reply(input: &ReplyIn) -> AppResult<()> {
    let text = input.text.trim();
    if text.is_empty() && input.attachment.is_none() {
        return Err(AppError::bad_request(
            "empty_message",
            "message text is empty",
        ));
    }
    if text.chars().count() > 2000 {
        return Err(AppError::bad_request(
            "message_too_long",
            "messages are limited to 2000 characters",
        ));
    }
    if let Some(a) = &input.attachment {
        if !matches!(a.kind.as_str(), "image" | "video" | "audio" | "file") {
            return Err(AppError::bad_request(
                "bad_attachment",
                "attachment kind must be image, video, audio or file",
            ));
        }
        let ok = url::Url::parse(&a.url)
            .is_ok_and(|u| matches!(u.scheme(), "https" | "http") && u.host().is_some());
        if !ok {
            return Err(AppError::bad_request(
                "bad_attachment",
                "attachment url must be an http(s) URL",
            ));
        }
    }
    if input.quick_replies.len() > 13 {
        return Err(AppError::bad_request(
            "too_many_quick_replies",
            "at most 13 quick replies",
        ));
    }
    if input.quick_replies.iter().any(|q| {
        q.title.trim().is_empty() || q.title.chars().count() > 20 || q.payload.len() > 1000
    }) {
        return Err(AppError::bad_request(
            "bad_quick_reply",
            "quick replies need a title of 1–20 characters and a payload of at most 1000",
        ));
    }
    if !input.quick_replies.is_empty() && text.is_empty() {
        return Err(AppError::bad_request(
            "bad_quick_reply",
            "quick replies go under a text",
        ));
    }
    Ok(())
}

/// One outgoing row of a reply: (kind, in_reply_to, attachments, meta, text).
type QueuedRow<'a> = (
    &'static str,
    Option<String>,
    serde_json::Value,
    Option<serde_json::Value>,
    Option<&'a str>,
);

/// `POST /conversations/{id}/messages`: store the reply as `queued` and enqueue its sending.
/// In a direct conversation it goes to the customer (refused with 422 when the platform's
/// reply window is closed); in a comment thread it is a public reply under a comment.
#[tracing::instrument(skip_all, fields(conversation = %id))]
pub async fn reply(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: ReplyIn,
) -> AppResult<MessageOut> {
    p.require(Permission::WorkInbox)?;
    let mut input = input;
    input.text = crate::services::settings::expand_shortcut(
        &state.db.read,
        p.workspace_id,
        input.text.trim(),
    )
    .await?;
    check_reply(&input)?;
    let text = input.text.trim();
    let now = Utc::now();
    let txn = state.db.write.begin().await?;
    let c = conversation::Entity::find_by_id(id)
        .filter(conversation::Column::WorkspaceId.eq(p.workspace_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    let acc = channel_account::Entity::find_by_id(c.channel_account_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("channel account"))?;
    // The rows to queue, in sending order.
    let mut rows: Vec<QueuedRow<'_>> = Vec::new();
    if c.kind == "comment_thread" {
        if input.attachment.is_some() || !input.quick_replies.is_empty() {
            return Err(AppError::bad_request(
                "text_only",
                "public comment replies take text only",
            ));
        }
        let target = match input.reply_to {
            Some(mid) => {
                message::Entity::find_by_id(mid)
                    .filter(message::Column::ConversationId.eq(c.id))
                    .filter(message::Column::Kind.eq("comment"))
                    .one(&txn)
                    .await?
                    .ok_or(AppError::NotFound("comment"))?
                    .external_id
            }
            None => Some(c.external_thread_id.clone()),
        }
        .ok_or_else(|| AppError::bad_request("not_sent", "that comment has not been posted"))?;
        rows.push(("comment", Some(target), json!([]), None, Some(text)));
    } else {
        let facts = views::reply_facts(&txn, &c, &acc, false, None).await?;
        let window = views::reply_state(&acc.platform, &c.kind, c.last_inbound_at, facts, now);
        if !window.can_reply {
            return Err(AppError::refused(
                "reply_window_closed",
                window.reason.unwrap_or_default(),
            ));
        }
        if let Some(a) = &input.attachment {
            rows.push((
                "message",
                None,
                json!([{ "kind": a.kind, "url": a.url }]),
                None,
                None,
            ));
        }
        if !text.is_empty() {
            let meta = (!input.quick_replies.is_empty())
                .then(|| json!({ "quick_replies": input.quick_replies }));
            rows.push(("message", None, json!([]), meta, Some(text)));
        }
    }
    let mut created = Vec::new();
    for (i, (kind, in_reply_to, attachments, meta, body)) in rows.into_iter().enumerate() {
        // Consecutive rows a microsecond apart keep their order in the thread.
        let at = now + chrono::Duration::microseconds(i as i64);
        let m = message::ActiveModel {
            text: Set(body.map(str::to_owned)),
            attachments: Set(attachments),
            in_reply_to: Set(in_reply_to),
            meta: Set(meta),
            ..agent_message(p, &c, kind, "queued", at, now)
        }
        .insert(&txn)
        .await?;
        created.push(m);
    }
    // One job for the rows of one reply, so they reach the customer in order.
    let ids: Vec<Uuid> = created.iter().map(|m| m.id).collect();
    jobs::enqueue(
        &txn,
        jobs::kind::SEND_MESSAGE,
        json!({ "message_ids": ids }),
        now,
    )
    .await?;
    let last = created
        .last()
        .cloned()
        .ok_or_else(|| AppError::bad_request("empty_message", "nothing to send"))?;
    let preview = if text.is_empty() {
        input
            .attachment
            .as_ref()
            .map(|a| format!("[{}]", a.kind))
            .unwrap_or_default()
    } else {
        text.chars().take(140).collect()
    };
    let mut am = c.into_active_model();
    am.last_message_at = Set(Some(now));
    am.last_message_preview = Set(Some(preview));
    am.unread_count = Set(0);
    am.updated_at = Set(now);
    am.update(&txn).await?;
    let conv = views::conversation_out(&txn, p.workspace_id, id).await?;
    txn.commit().await?;
    for m in created {
        state
            .bus
            .publish(
                p.workspace_id,
                "message.created",
                json!({ "message": MessageOut::from(m), "conversation": conv }),
            )
            .await;
    }
    state.jobs_notify.notify_one();
    Ok(MessageOut::from(last))
}

/// A private note.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteIn {
    /// The note (1–5000 characters). `@Name` or `@emaillocalpart` of a member mentions them.
    pub text: String,
    /// Members to mention besides those written as `@…` in the text (user ids).
    #[serde(default)]
    pub mentions: Vec<Uuid>,
}

/// The members (user id, name, email) of a workspace.
async fn members_of(
    db: &impl sea_orm::ConnectionTrait,
    workspace: Uuid,
) -> Result<Vec<(Uuid, String, String)>, sea_orm::DbErr> {
    Ok(membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(workspace))
        .find_also_related(user::Entity)
        .all(db)
        .await?
        .into_iter()
        .filter_map(|(_, u)| u.map(|u| (u.id, u.name, u.email)))
        .collect())
}

/// Whether `text` holds `@handle` (case-insensitive) not followed by a letter or digit.
/// A message the signed-in agent writes in `c` (a reply row, or a note), without text,
/// attachments or meta yet.
fn agent_message(
    p: &Principal,
    c: &conversation::Model,
    kind: &str,
    status: &str,
    at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> message::ActiveModel {
    message::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(p.workspace_id),
        conversation_id: Set(c.id),
        channel_account_id: Set(c.channel_account_id),
        external_id: Set(None),
        direction: Set("out".into()),
        sender_kind: Set("agent".into()),
        author_user_id: Set(p.user_id),
        text: Set(None),
        attachments: Set(json!([])),
        status: Set(status.into()),
        error: Set(None),
        sent_at: Set(at),
        created_at: Set(now),
        updated_at: Set(now),
        kind: Set(kind.into()),
        in_reply_to: Set(None),
        meta: Set(None),
        hidden: Set(false),
        ..Default::default()
    }
}

/// The members named after each `@` of `text` (case-insensitive; a handle is a member's name
/// or the local part of their email, ending at a character that cannot continue a handle).
/// Where several handles fit one `@`, the longest wins: `@Minh Anh` is Minh Anh, not also Minh.
fn mentioned_by_handle(members: &[(Uuid, String, String)], text: &str) -> Vec<Uuid> {
    let text = text.to_lowercase();
    let handles: Vec<(Uuid, String)> = members
        .iter()
        .flat_map(|(id, name, email)| {
            let local = email.split('@').next().unwrap_or_default();
            [
                (*id, name.trim().to_lowercase()),
                (*id, local.to_lowercase()),
            ]
        })
        .filter(|(_, h)| !h.is_empty())
        .collect();
    let mut out = Vec::new();
    for (at, _) in text.match_indices('@') {
        let rest = &text[at + 1..];
        let fits = |h: &str| {
            rest.starts_with(h)
                && !rest[h.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.')
        };
        let longest = handles
            .iter()
            .filter(|(_, h)| fits(h))
            .map(|(_, h)| h.len())
            .max();
        if let Some(len) = longest {
            out.extend(
                handles
                    .iter()
                    .filter(|(_, h)| h.len() == len && fits(h))
                    .map(|(id, _)| *id),
            );
        }
    }
    out
}

/// The members a note mentions: `@name` / `@emaillocalpart` in `text` plus `explicit` ids
/// (400 when an explicit id is not a member). In member order, without duplicates.
pub fn resolve_mentions(
    members: &[(Uuid, String, String)],
    text: &str,
    explicit: &[Uuid],
) -> AppResult<Vec<Uuid>> {
    if let Some(bad) = explicit
        .iter()
        .find(|id| !members.iter().any(|m| m.0 == **id))
    {
        return Err(AppError::bad_request(
            "invalid_mention",
            format!("{bad} is not a member of this workspace"),
        ));
    }
    let named = mentioned_by_handle(members, text);
    Ok(members
        .iter()
        .filter(|(id, _, _)| explicit.contains(id) || named.contains(id))
        .map(|m| m.0)
        .collect())
}

/// `POST /conversations/{id}/notes`: a private note for the team, never sent to the platform.
/// It is a message of kind `note` (direction `out`, sender `agent`, status `sent`) with the
/// mentioned user ids in `meta.mentions`. It leaves the conversation's last message, preview,
/// unread count and reply window alone (it is not a reply), is published as `message.created`,
/// and each mentioned member (other than the author) gets a `mention` frame.
pub async fn add_note(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: NoteIn,
) -> AppResult<MessageOut> {
    p.require(Permission::WorkInbox)?;
    let text = input.text.trim();
    if text.is_empty() {
        return Err(AppError::bad_request("empty_note", "the note is empty"));
    }
    if text.chars().count() > 5000 {
        return Err(AppError::bad_request(
            "note_too_long",
            "notes are limited to 5000 characters",
        ));
    }
    let now = Utc::now();
    let txn = state.db.write.begin().await?;
    let c = conversation::Entity::find_by_id(id)
        .filter(conversation::Column::WorkspaceId.eq(p.workspace_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    let members = members_of(&txn, p.workspace_id).await?;
    let mentioned = resolve_mentions(&members, text, &input.mentions)?;
    let m = message::ActiveModel {
        text: Set(Some(text.to_owned())),
        meta: Set(Some(json!({ "mentions": mentioned }))),
        ..agent_message(p, &c, "note", "sent", now, now)
    }
    .insert(&txn)
    .await?;
    let conv = views::conversation_out(&txn, p.workspace_id, id).await?;
    txn.commit().await?;
    let out = MessageOut::from(m);
    state
        .bus
        .publish(
            p.workspace_id,
            "message.created",
            json!({ "message": out, "conversation": conv }),
        )
        .await;
    let by_name = members
        .iter()
        .find(|m| Some(m.0) == p.user_id)
        .map(|m| m.1.clone())
        .unwrap_or_default();
    for uid in mentioned.into_iter().filter(|u| Some(*u) != p.user_id) {
        state
            .bus
            .publish(
                p.workspace_id,
                "mention",
                json!({
                    "user_id": uid,
                    "conversation_id": id,
                    "message_id": out.id,
                    "by_user_id": p.user_id,
                    "by_name": by_name,
                }),
            )
            .await;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<(Uuid, String, String)> {
        vec![
            (
                Uuid::from_u128(1),
                "Nguyễn Lan".into(),
                "lan@shop.vn".into(),
            ),
            (
                Uuid::from_u128(2),
                "Minh".into(),
                "minh.tran@shop.vn".into(),
            ),
            (Uuid::from_u128(3), "Minh Anh".into(), "anh@shop.vn".into()),
        ]
    }

    #[test]
    fn mentions_by_name_or_email_local_part() {
        let m = members();
        assert_eq!(
            resolve_mentions(&m, "nhờ @nguyễn lan gọi lại", &[]).unwrap(),
            vec![Uuid::from_u128(1)]
        );
        assert_eq!(
            resolve_mentions(&m, "@minh.tran xem giúp", &[]).unwrap(),
            vec![Uuid::from_u128(2)]
        );
        // The longest handle wins: "@Minh Anh" is Minh Anh only; "@Minh" alone is Minh.
        assert_eq!(
            resolve_mentions(&m, "@Minh Anh ơi", &[]).unwrap(),
            vec![Uuid::from_u128(3)]
        );
        assert_eq!(
            resolve_mentions(&m, "@minh và @Minh Anh", &[]).unwrap(),
            vec![Uuid::from_u128(2), Uuid::from_u128(3)]
        );
        assert!(
            resolve_mentions(&m, "email lan@shop.vn", &[])
                .unwrap()
                .is_empty()
        );
        assert!(resolve_mentions(&m, "@Minhx", &[]).unwrap().is_empty());
        assert_eq!(
            resolve_mentions(&m, "no at", &[Uuid::from_u128(3)]).unwrap(),
            vec![Uuid::from_u128(3)]
        );
        assert!(resolve_mentions(&m, "x", &[Uuid::from_u128(9)]).is_err());
    }
}
