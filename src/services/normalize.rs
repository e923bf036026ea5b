//! The ingest worker's work: stored webhook bodies → connector `parse` → contacts,
//! conversations and messages, applied in one transaction per batch, then published.
//!
//! Claiming happens inside the transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has
//! one writer), so a crash simply rolls the batch back to `pending`. A batch that fails to
//! apply is retried one event at a time, so one bad event cannot hold up the others.

use std::collections::HashMap;

use chrono::Utc;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, FromQueryResult, IntoActiveModel, QueryFilter, QuerySelect, Statement,
    TransactionTrait,
};
use serde_json::json;
use tongdai_connectors::{
    DeliveryReceipt, DeliveryState, InboundMessage, NormalizedEvent, Platform,
};
use uuid::Uuid;

use crate::domain::phone::find_phones;
use crate::services::{contacts, views};
use crate::state::AppState;
use crate::store::entities::{
    channel_account, contact, contact_identity, conversation, inbound_event, message,
};

/// Events per normalize transaction: small, because on SQLite the transaction holds the one
/// writer that webhook acknowledgements also wait for.
const BATCH: u64 = 4;
/// Attempts before an event that keeps failing to apply is dead-lettered.
const MAX_APPLY_ATTEMPTS: i32 = 5;

/// A frame to publish once the transaction that produced it has committed.
pub struct Outgoing {
    /// Workspace.
    pub workspace: Uuid,
    /// Frame type.
    pub kind: &'static str,
    /// Payload.
    pub data: serde_json::Value,
}

/// Publish frames (after commit).
pub async fn publish(state: &AppState, frames: Vec<Outgoing>) {
    for f in frames {
        state.bus.publish(f.workspace, f.kind, f.data).await;
    }
}

/// Normalize every pending inbound event. Returns how many were handled.
pub async fn drain(state: &AppState) -> Result<usize, sea_orm::DbErr> {
    let mut total = 0;
    loop {
        let n = process_batch(state).await?;
        if n == 0 {
            return Ok(total);
        }
        total += n;
    }
}

async fn claim(
    txn: &DatabaseTransaction,
    only: Option<i64>,
) -> Result<Vec<inbound_event::Model>, sea_orm::DbErr> {
    let backend = txn.get_database_backend();
    let lock = if backend == DbBackend::Postgres {
        " FOR UPDATE SKIP LOCKED"
    } else {
        ""
    };
    let (cond, values): (&str, Vec<sea_orm::Value>) = match only {
        Some(id) => ("status = 'pending' AND id = $1", vec![id.into()]),
        None => ("status = 'pending'", vec![]),
    };
    let sql = format!("SELECT * FROM inbound_event WHERE {cond} ORDER BY id LIMIT {BATCH}{lock}");
    let sql = if backend == DbBackend::Sqlite {
        sql.replace("$1", "?")
    } else {
        sql
    };
    inbound_event::Model::find_by_statement(Statement::from_sql_and_values(backend, sql, values))
        .all(txn)
        .await
}

async fn process_batch(state: &AppState) -> Result<usize, sea_orm::DbErr> {
    let txn = state.db.write.begin().await?;
    let rows = claim(&txn, None).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let mut frames = Vec::new();
    let mut failed = 0;
    let mut applied = Ok(());
    for row in &rows {
        match apply_row(state, &txn, row, &mut frames).await {
            Ok(ok) => failed += u64::from(!ok),
            Err(e) => {
                applied = Err(e);
                break;
            }
        }
    }
    match applied {
        Ok(()) => {
            txn.commit().await?;
            state.metrics.events(rows.len() as u64 - failed, failed);
            publish(state, frames).await;
        }
        Err(e) => {
            tracing::warn!(error = %e, "batch failed to apply; retrying events one by one");
            txn.rollback().await?;
            for row in &rows {
                process_one(state, row.id).await?;
            }
        }
    }
    Ok(rows.len())
}

async fn process_one(state: &AppState, id: i64) -> Result<(), sea_orm::DbErr> {
    let txn = state.db.write.begin().await?;
    let Some(row) = claim(&txn, Some(id)).await?.pop() else {
        return txn.commit().await;
    };
    let mut frames = Vec::new();
    match apply_row(state, &txn, &row, &mut frames).await {
        Ok(ok) => {
            txn.commit().await?;
            state.metrics.events(u64::from(ok), u64::from(!ok));
            publish(state, frames).await;
        }
        Err(e) => {
            txn.rollback().await?;
            let attempts = row.attempts + 1;
            let status = if attempts >= MAX_APPLY_ATTEMPTS {
                "failed"
            } else {
                "pending"
            };
            tracing::error!(event = id, attempts, error = %e, "inbound event failed to apply");
            inbound_event::Entity::update_many()
                .col_expr(inbound_event::Column::Attempts, Expr::value(attempts))
                .col_expr(inbound_event::Column::Status, Expr::value(status))
                .col_expr(
                    inbound_event::Column::Error,
                    Expr::value(format!("apply failed: {e}")),
                )
                .filter(inbound_event::Column::Id.eq(id))
                .exec(&state.db.write)
                .await?;
        }
    }
    Ok(())
}

/// Parse and apply one stored event inside `txn`. `Ok(false)` = dead-lettered (parse error).
async fn apply_row(
    state: &AppState,
    txn: &DatabaseTransaction,
    row: &inbound_event::Model,
    frames: &mut Vec<Outgoing>,
) -> Result<bool, sea_orm::DbErr> {
    let now = Utc::now();
    let platform: Option<Platform> = row.platform.parse().ok();
    let inbound = platform
        .and_then(|p| state.connectors.get(p))
        .and_then(|c| c.webhook());
    let mut am = row.clone().into_active_model();
    am.attempts = Set(row.attempts + 1);
    am.processed_at = Set(Some(now));
    let Some(inbound) = inbound else {
        am.status = Set("failed".into());
        am.error = Set(Some(format!("no connector for platform {}", row.platform)));
        am.update(txn).await?;
        return Ok(false);
    };
    let events = match inbound.parse(&row.body) {
        Ok(ev) => ev,
        Err(e) => {
            // Dead-letter: keep the body and the reason; `replay` re-queues it after a fix.
            let mut ws = None;
            for hint in inbound.account_hints(&row.body) {
                if let Some(acc) = find_account(txn, &row.platform, &hint).await? {
                    ws = Some(acc);
                    break;
                }
            }
            am.status = Set("failed".into());
            am.error = Set(Some(e.to_string()));
            am.workspace_id = Set(ws.as_ref().map(|a| a.workspace_id));
            am.channel_account_id = Set(ws.as_ref().map(|a| a.id));
            am.update(txn).await?;
            tracing::warn!(event = row.id, error = %e, "inbound event dead-lettered");
            return Ok(false);
        }
    };
    let mut accounts: HashMap<String, Option<channel_account::Model>> = HashMap::new();
    let mut unknown: Vec<String> = Vec::new();
    let mut first: Option<channel_account::Model> = None;
    for ev in &events {
        let key = ev.account_external_id().to_owned();
        if !accounts.contains_key(&key) {
            let acc = find_account(txn, &row.platform, &key).await?;
            accounts.insert(key.clone(), acc);
        }
        let Some(acc) = accounts.get(&key).cloned().flatten() else {
            if !unknown.contains(&key) {
                unknown.push(key);
            }
            continue;
        };
        first.get_or_insert_with(|| acc.clone());
        if acc.status == "disabled" {
            // Kept like an unknown account's: enabling the account again re-queues it.
            let note = format!("{key} (disabled)");
            if !unknown.contains(&note) {
                unknown.push(note);
            }
            continue;
        }
        apply_event(state, txn, &acc, ev, frames).await?;
    }
    am.workspace_id = Set(first.as_ref().map(|a| a.workspace_id));
    am.channel_account_id = Set(first.as_ref().map(|a| a.id));
    if unknown.is_empty() {
        am.status = Set("processed".into());
        am.error = Set(None);
    } else {
        // Kept, not dropped: connecting the account re-queues these events.
        am.status = Set("unrouted".into());
        am.error = Set(Some(format!(
            "no channel account for {} account(s) {}",
            row.platform,
            unknown.join(", ")
        )));
    }
    am.update(txn).await?;
    Ok(true)
}

async fn find_account(
    db: &impl ConnectionTrait,
    platform: &str,
    external_id: &str,
) -> Result<Option<channel_account::Model>, sea_orm::DbErr> {
    channel_account::Entity::find()
        .filter(channel_account::Column::Platform.eq(platform))
        .filter(channel_account::Column::ExternalId.eq(external_id))
        .one(db)
        .await
}

async fn apply_event(
    state: &AppState,
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    ev: &NormalizedEvent,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    match ev {
        NormalizedEvent::MessageReceived(m) => apply_message(txn, acc, m, true, frames).await,
        NormalizedEvent::MessageEcho(m) => {
            // Our own sends are recorded by the job that sent them (with the returned id).
            let ours = state
                .cfg
                .facebook
                .app_id
                .as_deref()
                .is_some_and(|id| m.app_id.as_deref() == Some(id));
            if ours {
                return Ok(());
            }
            apply_message(txn, acc, m, false, frames).await
        }
        NormalizedEvent::DeliveryStatus(d) => apply_receipt(txn, acc, d, frames).await,
        _ => Ok(()),
    }
}

/// Find or create the identity (and its contact) of a person on one channel account.
async fn upsert_identity(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    external_id: &str,
    display_name: Option<&str>,
) -> Result<(contact_identity::Model, contact::Model), sea_orm::DbErr> {
    let now = Utc::now();
    let found = contact_identity::Entity::find()
        .filter(contact_identity::Column::ChannelAccountId.eq(acc.id))
        .filter(contact_identity::Column::ExternalId.eq(external_id))
        .one(txn)
        .await?;
    if let Some(idn) = found {
        let mut c = contact::Entity::find_by_id(idn.contact_id)
            .one(txn)
            .await?
            .ok_or_else(|| sea_orm::DbErr::RecordNotFound("contact of identity".into()))?;
        if let (None, Some(name)) = (&c.name, display_name) {
            let mut am = c.clone().into_active_model();
            am.name = Set(Some(name.to_owned()));
            am.updated_at = Set(now);
            c = am.update(txn).await?;
        }
        return Ok((idn, c));
    }
    let c = contact::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acc.workspace_id),
        name: Set(display_name.map(str::to_owned)),
        phone: Set(None),
        merged_into: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    let idn = contact_identity::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acc.workspace_id),
        contact_id: Set(c.id),
        channel_account_id: Set(acc.id),
        external_id: Set(external_id.to_owned()),
        display_name: Set(display_name.map(str::to_owned)),
        original_contact_id: Set(None),
        created_at: Set(now),
    }
    .insert(txn)
    .await?;
    Ok((idn, c))
}

async fn apply_message(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    m: &InboundMessage,
    inbound: bool,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let (idn, mut person) = upsert_identity(
        txn,
        acc,
        &m.contact.external_id,
        m.contact.display_name.as_deref(),
    )
    .await?;
    let mut find = conversation::Entity::find()
        .filter(conversation::Column::ChannelAccountId.eq(acc.id))
        .filter(conversation::Column::ExternalThreadId.eq(&m.thread_external_id));
    if txn.get_database_backend() == DbBackend::Postgres {
        // Several workers may apply messages of one conversation at once (several nodes, or a
        // replay beside the worker): lock the row so counters and "latest" fields are not lost
        // updates. SQLite has a single writer already.
        find = find.lock_exclusive();
    }
    let conv = match find.one(txn).await? {
        Some(c) => c,
        None => {
            conversation::ActiveModel {
                id: Set(Uuid::now_v7()),
                workspace_id: Set(acc.workspace_id),
                channel_account_id: Set(acc.id),
                contact_id: Set(person.id),
                identity_id: Set(idn.id),
                kind: Set("direct".into()),
                external_thread_id: Set(m.thread_external_id.clone()),
                status: Set("open".into()),
                assignee_id: Set(None),
                unread_count: Set(0),
                last_message_at: Set(None),
                last_message_preview: Set(None),
                last_inbound_at: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
            }
            .insert(txn)
            .await?
        }
    };
    let msg = message::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acc.workspace_id),
        conversation_id: Set(conv.id),
        channel_account_id: Set(acc.id),
        external_id: Set(Some(m.external_message_id.clone())),
        direction: Set(if inbound { "in" } else { "out" }.into()),
        sender_kind: Set(if inbound { "contact" } else { "page" }.into()),
        author_user_id: Set(None),
        text: Set(m.text.clone()),
        attachments: Set(json!(m.attachments)),
        status: Set(if inbound { "received" } else { "sent" }.into()),
        error: Set(None),
        sent_at: Set(m.sent_at),
        created_at: Set(now),
        updated_at: Set(now),
    };
    let inserted = message::Entity::insert(msg.clone())
        .on_conflict_do_nothing_on([
            message::Column::ChannelAccountId,
            message::Column::ExternalId,
        ])
        .exec_without_returning(txn)
        .await?;
    if !matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
        return Ok(()); // already stored: a redelivery
    }
    let msg = message::Entity::find_by_id(msg.id.unwrap())
        .one(txn)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("message just inserted".into()))?;

    // Platforms do not guarantee order: the newest message by platform time wins the preview.
    let newer = conv.last_message_at.is_none_or(|t| m.sent_at >= t);
    let mut am = conv.clone().into_active_model();
    if newer {
        am.last_message_at = Set(Some(m.sent_at));
        am.last_message_preview = Set(Some(preview(m)));
    }
    if inbound {
        am.unread_count = Set(conv.unread_count + 1);
        if conv.last_inbound_at.is_none_or(|t| m.sent_at > t) {
            am.last_inbound_at = Set(Some(m.sent_at));
        }
        if conv.status == "resolved" {
            am.status = Set("open".into());
        }
    }
    am.updated_at = Set(now);
    am.update(txn).await?;

    if inbound
        && person.phone.is_none()
        && let Some(phone) = m
            .text
            .as_deref()
            .map(find_phones)
            .and_then(|p| p.into_iter().next())
    {
        let mut pam = person.clone().into_active_model();
        pam.phone = Set(Some(phone.as_str().to_owned()));
        pam.updated_at = Set(now);
        person = pam.update(txn).await?;
        // Two identities with the same phone are one person: join them (the older contact stays).
        if let Some(other) = contact::Entity::find()
            .filter(contact::Column::WorkspaceId.eq(acc.workspace_id))
            .filter(contact::Column::Phone.eq(phone.as_str()))
            .filter(contact::Column::MergedInto.is_null())
            .filter(contact::Column::Id.ne(person.id))
            .one(txn)
            .await?
        {
            contacts::merge_into(txn, acc.workspace_id, person.id, other.id).await?;
        }
        frames.push(Outgoing {
            workspace: acc.workspace_id,
            kind: "contact.updated",
            data: json!({ "contact_id": person.id }),
        });
    }
    let conv_out = views::conversation_out(txn, acc.workspace_id, conv.id)
        .await
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
    frames.push(Outgoing {
        workspace: acc.workspace_id,
        kind: "message.created",
        data: json!({ "message": views::MessageOut::from(msg), "conversation": conv_out }),
    });
    Ok(())
}

fn preview(m: &InboundMessage) -> String {
    match m.text.as_deref() {
        Some(t) if !t.is_empty() => t.chars().take(140).collect(),
        _ => m
            .attachments
            .first()
            .map(|a| format!("[{}]", a.kind))
            .unwrap_or_default(),
    }
}

async fn apply_receipt(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    d: &DeliveryReceipt,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    let Some(conv) = conversation::Entity::find()
        .filter(conversation::Column::ChannelAccountId.eq(acc.id))
        .filter(conversation::Column::ExternalThreadId.eq(&d.contact_external_id))
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let (target, from): (&str, &[&str]) = match d.state {
        DeliveryState::Delivered => ("delivered", &["sent"]),
        DeliveryState::Read => ("read", &["sent", "delivered"]),
    };
    let mut cond = sea_orm::Condition::any();
    if !d.external_message_ids.is_empty() {
        cond = cond.add(message::Column::ExternalId.is_in(d.external_message_ids.clone()));
    }
    if let Some(w) = d.watermark {
        cond = cond.add(message::Column::SentAt.lte(w));
    }
    let changed = message::Entity::find()
        .filter(message::Column::ConversationId.eq(conv.id))
        .filter(message::Column::Direction.eq("out"))
        .filter(message::Column::Status.is_in(from.iter().copied()))
        .filter(cond)
        .all(txn)
        .await?;
    let now = Utc::now();
    for m in changed {
        let mut am = m.into_active_model();
        am.status = Set(target.to_owned());
        am.updated_at = Set(now);
        let m = am.update(txn).await?;
        frames.push(Outgoing {
            workspace: acc.workspace_id,
            kind: "message.updated",
            data: json!({ "message": views::MessageOut::from(m) }),
        });
    }
    Ok(())
}
