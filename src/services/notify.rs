//! Automatic messages to a customer (order status updates, the feedback question): queued like
//! an agent's reply (an outgoing `queued` row, `sender_kind = "system"`, and a `send_message`
//! job in the caller's transaction), but only when the platform allows a message right now.
//!
//! These run inside the transaction of the change that causes them, so they publish nothing:
//! the send job publishes `message.updated` when the row goes out, and the agent UI adds an
//! unknown message of the open thread from that frame. Callers that own their transaction (the
//! feedback job) publish `message.created` themselves after commit.

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter,
    QueryOrder,
};
use serde_json::json;
use uuid::Uuid;

use crate::services::{jobs, views};
use crate::store::entities::{channel_account, conversation, message};

/// The sender kind of automatic messages.
pub const SYSTEM: &str = "system";

/// The direct conversation that reaches the customer of `conv`: `conv` itself when it is
/// direct; for a comment thread, the same contact's most recent direct conversation on the
/// same channel account (a comment thread has no private channel of its own).
pub async fn direct_conversation(
    db: &impl ConnectionTrait,
    conv: &conversation::Model,
) -> Result<Option<conversation::Model>, sea_orm::DbErr> {
    if conv.kind == "direct" {
        return Ok(Some(conv.clone()));
    }
    conversation::Entity::find()
        .filter(conversation::Column::WorkspaceId.eq(conv.workspace_id))
        .filter(conversation::Column::ChannelAccountId.eq(conv.channel_account_id))
        .filter(conversation::Column::ContactId.eq(conv.contact_id))
        .filter(conversation::Column::Kind.eq("direct"))
        .filter(conversation::Column::LastInboundAt.is_not_null())
        .order_by_desc(conversation::Column::LastInboundAt)
        .one(db)
        .await
}

/// Queue `text` to the customer of `conv` (see [`direct_conversation`]) if the platform allows
/// a message now; otherwise say why not. Only the platform's standard window counts: Meta's
/// `HUMAN_AGENT` tag (24 h – 7 d) is for a person's answers, never for automated messages.
pub async fn queue_automatic_why(
    db: &impl ConnectionTrait,
    conv: &conversation::Model,
    text: &str,
) -> Result<Result<message::Model, String>, sea_orm::DbErr> {
    let Some(target) = direct_conversation(db, conv).await? else {
        return Ok(Err(
            "the customer only commented: there is no direct conversation to message them in"
                .into(),
        ));
    };
    let Some(acc) = channel_account::Entity::find_by_id(target.channel_account_id)
        .one(db)
        .await?
    else {
        return Ok(Err("the channel account is gone".into()));
    };
    if matches!(acc.status.as_str(), "disabled" | "needs_reauth") {
        return Ok(Err(format!("the channel cannot send ({})", acc.status)));
    }
    let now = Utc::now();
    let facts = views::reply_facts(db, &target, &acc, false, None).await?;
    let window = views::reply_state(
        &acc.platform,
        &target.kind,
        target.last_inbound_at,
        facts,
        now,
    );
    if !window.can_reply {
        return Ok(Err(window.reason.unwrap_or_else(|| {
            "the platform's reply window is closed".into()
        })));
    }
    if window.mode == "paid" {
        return Ok(Err(
            "the 8 free Zalo replies since the customer's last message are used: an automatic message would spend the OA's paid quota".into(),
        ));
    }
    if window.mode == "human_agent" {
        return Ok(Err(
            "the customer last wrote more than 24 hours ago: only a person may answer now (HUMAN_AGENT), not an automatic message".into(),
        ));
    }
    let text = text.trim();
    if text.is_empty() {
        return Ok(Err("the message is empty".into()));
    }
    let m = message::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(target.workspace_id),
        conversation_id: Set(target.id),
        channel_account_id: Set(target.channel_account_id),
        external_id: Set(None),
        direction: Set("out".into()),
        sender_kind: Set(SYSTEM.into()),
        author_user_id: Set(None),
        text: Set(Some(text.to_owned())),
        attachments: Set(json!([])),
        status: Set("queued".into()),
        error: Set(None),
        sent_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
        kind: Set("message".into()),
        in_reply_to: Set(None),
        meta: Set(Some(json!({ "automatic": true }))),
        hidden: Set(false),
        ..Default::default()
    }
    .insert(db)
    .await?;
    jobs::enqueue(
        db,
        jobs::kind::SEND_MESSAGE,
        json!({ "message_id": m.id }),
        now,
    )
    .await?;
    conversation::Entity::update_many()
        .col_expr(conversation::Column::LastMessageAt, Expr::value(now))
        .col_expr(
            conversation::Column::LastMessagePreview,
            Expr::value(text.chars().take(140).collect::<String>()),
        )
        .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
        .filter(conversation::Column::Id.eq(target.id))
        .exec(db)
        .await?;
    Ok(Ok(m))
}

/// Queue `text` to the customer of `conv` when the platform allows it now (`None` when not:
/// callers that keep a record of why use [`queue_automatic_why`]).
pub async fn queue_automatic(
    db: &impl ConnectionTrait,
    conv: &conversation::Model,
    text: &str,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    Ok(queue_automatic_why(db, conv, text).await?.ok())
}
