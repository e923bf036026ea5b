//! The ingest worker's work: stored webhook bodies → connector `parse` → contacts,
//! conversations and messages, applied in one transaction per batch, then published.
//!
//! Claiming happens inside the transaction (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite has
//! one writer), so a crash simply rolls the batch back to `pending`. A batch that fails to
//! apply is retried one event at a time, so one bad event cannot hold up the others.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, FromQueryResult, IntoActiveModel, QueryFilter, QuerySelect,
    RelationTrait, Statement, TransactionTrait,
};
use serde_json::json;
use tongdai_connectors::{
    CommentAction, CommentEvent, ContactRef, DeliveryReceipt, DeliveryState, InboundMessage,
    MessageReaction, NormalizedEvent, ParseError, Platform, PostRef, Referral, ReferralEvent,
    WebhookInbound,
};
use uuid::Uuid;

use crate::domain::phone::find_phones;
use crate::services::{contacts, feedback, jobs, views};
use crate::state::AppState;
use crate::store::entities::{
    channel_account, contact, contact_identity, conversation, inbound_event, message,
    message_revision,
};

/// Stored webhooks per normalize transaction. Their rows are looked up together
/// ([`Prefetch`]) and marked processed together, so a bigger batch costs fewer round trips per
/// event; on SQLite a batch holds the one writer that webhook acknowledgements also wait for
/// (for a few milliseconds), and its frames are published when it commits.
const BATCH: u64 = 16;
/// At most this long the ingest worker waits for webhooks being committed before it takes
/// SQLite's writer for its next batch.
const GIVE_WAY: std::time::Duration = std::time::Duration::from_millis(10);
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
    if state.db.backend() == DbBackend::Sqlite {
        // One writer: let a batch of webhooks being committed go first (never more than
        // GIVE_WAY, so a flood of webhooks slows normalizing down without stopping it).
        state.ingest.give_way(GIVE_WAY).await;
    }
    let txn = state.db.write.begin().await?;
    let rows = claim(&txn, None).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(0);
    }
    let mut frames = Vec::new();
    let mut failed = 0;
    let mut accounts = Accounts::new();
    let applied: Result<(), sea_orm::DbErr> = async {
        let parsed: Vec<Parsed<'_>> = rows.iter().map(|r| Parsed::new(state, r)).collect();
        let mut pre = prefetch(&txn, &parsed, &mut accounts).await?;
        let mut done = Vec::with_capacity(rows.len());
        for row in parsed {
            let ok = apply_row(
                state,
                &txn,
                row,
                &mut accounts,
                &mut pre,
                &mut done,
                &mut frames,
            )
            .await?;
            failed += u64::from(!ok);
        }
        mark_done(&txn, done).await
    }
    .await;
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
    let mut done = Vec::with_capacity(1);
    let applied = match apply_row(
        state,
        &txn,
        Parsed::new(state, &row),
        &mut Accounts::new(),
        &mut Prefetch::default(),
        &mut done,
        &mut frames,
    )
    .await
    {
        Ok(ok) => mark_done(&txn, done).await.map(|()| ok),
        Err(e) => Err(e),
    };
    match applied {
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

/// Channel accounts looked up during one transaction, by stored platform and platform id
/// (`None`: no such account), so a batch of webhooks for one Page reads its row once.
type Accounts = HashMap<(String, String), Option<channel_account::Model>>;

/// A stored webhook, parsed once by its platform's connector.
struct Parsed<'a> {
    row: &'a inbound_event::Model,
    /// The platforms whose channel accounts its events may name.
    platforms: Vec<String>,
    /// `None` when no connector of this build receives the row's platform.
    inbound: Option<&'a dyn WebhookInbound>,
    events: Result<Vec<NormalizedEvent>, ParseError>,
}

impl<'a> Parsed<'a> {
    fn new(state: &'a AppState, row: &'a inbound_event::Model) -> Parsed<'a> {
        let platform: Option<Platform> = row.platform.parse().ok();
        let connector = platform.and_then(|p| state.connectors.get(p));
        let inbound = connector.and_then(|c| c.webhook());
        let platforms = match connector {
            Some(c) => c
                .account_platforms()
                .iter()
                .map(|p| p.as_str().to_owned())
                .collect(),
            None => vec![row.platform.clone()],
        };
        let events = match inbound {
            Some(i) => i.parse(&row.body),
            None => Ok(Vec::new()),
        };
        Parsed {
            row,
            platforms,
            inbound,
            events,
        }
    }
}

/// Apply one parsed stored event inside `txn`. `Ok(false)` = dead-lettered (parse error).
async fn apply_row(
    state: &AppState,
    txn: &DatabaseTransaction,
    parsed: Parsed<'_>,
    accounts: &mut Accounts,
    pre: &mut Prefetch,
    done: &mut Vec<Done>,
    frames: &mut Vec<Outgoing>,
) -> Result<bool, sea_orm::DbErr> {
    let now = Utc::now();
    let Parsed {
        row,
        platforms,
        inbound,
        events,
    } = parsed;
    let Some(inbound) = inbound else {
        done.push(Done {
            id: row.id,
            status: "failed",
            error: Some(format!("no connector for platform {}", row.platform)),
            account: None,
        });
        return Ok(false);
    };
    let events = match events {
        Ok(ev) => ev,
        Err(e) => {
            // Dead-letter: keep the body and the reason; `replay` re-queues it after a fix.
            let mut ws = None;
            for hint in inbound.account_hints(&row.body) {
                if let Some(acc) = find_account(txn, &platforms, &hint).await? {
                    ws = Some(acc);
                    break;
                }
            }
            done.push(Done {
                id: row.id,
                status: "failed",
                error: Some(e.to_string()),
                account: ws.as_ref().map(|a| (a.workspace_id, a.id)),
            });
            tracing::warn!(event = row.id, error = %e, "inbound event dead-lettered");
            return Ok(false);
        }
    };
    let mut unknown: Vec<String> = Vec::new();
    let mut first: Option<channel_account::Model> = None;
    let mut heard: Vec<(String, String)> = Vec::new();
    for ev in &events {
        let key = ev.account_external_id().to_owned();
        let cache_key = (row.platform.clone(), key.clone());
        if !accounts.contains_key(&cache_key) {
            let acc = find_account(txn, &platforms, &key).await?;
            accounts.insert(cache_key.clone(), acc);
        }
        let Some(acc) = accounts.get(&cache_key).cloned().flatten() else {
            if !unknown.contains(&key) {
                unknown.push(key);
            }
            continue;
        };
        first.get_or_insert_with(|| acc.clone());
        if !heard.contains(&cache_key) {
            heard.push(cache_key);
        }
        if acc.status == "disabled" {
            // Kept like an unknown account's: enabling the account again re-queues it.
            let note = format!("{key} (disabled)");
            if !unknown.contains(&note) {
                unknown.push(note);
            }
            continue;
        }
        apply_event(state, txn, &acc, ev, pre, frames).await?;
    }
    for key in &heard {
        // Channel health: when the account last heard from its platform (to the minute, so
        // the hot path writes it rarely).
        let Some(Some(acc)) = accounts.get_mut(key) else {
            continue;
        };
        if acc
            .last_event_at
            .is_none_or(|t| now - t > chrono::Duration::seconds(60))
        {
            channel_account::Entity::update_many()
                .col_expr(channel_account::Column::LastEventAt, Expr::value(now))
                .filter(channel_account::Column::Id.eq(acc.id))
                .exec(txn)
                .await?;
            acc.last_event_at = Some(now);
        }
    }
    let account = first.as_ref().map(|a| (a.workspace_id, a.id));
    done.push(if unknown.is_empty() {
        Done {
            id: row.id,
            status: "processed",
            error: None,
            account,
        }
    } else {
        // Kept, not dropped: connecting the account re-queues these events.
        Done {
            id: row.id,
            status: "unrouted",
            error: Some(format!(
                "no channel account for {} account(s) {}",
                row.platform,
                unknown.join(", ")
            )),
            account,
        }
    });
    Ok(true)
}

/// Rows a batch of message webhooks needs, read with one statement per table at the start of
/// its transaction instead of a few statements per event (on SQLite each statement is a round
/// trip to the database thread). Each entry is handed out once ([`Prefetch::identity`],
/// [`Prefetch::thread`]): a second event of the same person or thread reads the row again,
/// as written by the first. Only batches made of messages alone are prefetched; anything
/// that moves contacts (a merge) empties it.
#[derive(Default)]
struct Prefetch {
    /// (channel account, person's platform id) → identity and contact.
    identities: HashMap<(Uuid, String), (contact_identity::Model, contact::Model)>,
    /// (channel account, platform thread id) → conversation.
    threads: HashMap<(Uuid, String), conversation::Model>,
    /// Conversation → its label names (an entry for every prefetched conversation).
    labels: HashMap<Uuid, Vec<String>>,
}

impl Prefetch {
    fn identity(
        &mut self,
        acc: &channel_account::Model,
        external_id: &str,
    ) -> Option<(contact_identity::Model, contact::Model)> {
        self.identities.remove(&(acc.id, external_id.to_owned()))
    }

    fn thread(
        &mut self,
        acc: &channel_account::Model,
        thread: &str,
    ) -> Option<conversation::Model> {
        self.threads.remove(&(acc.id, thread.to_owned()))
    }

    /// Drop what was read of `contact` (just written: another identity of the same person
    /// must read it again).
    fn forget_contact(&mut self, contact: Uuid) {
        self.identities.retain(|_, (_, c)| c.id != contact);
    }
}

/// Read, in a few statements, the identities, conversations and labels the messages among
/// `rows` will need (routing their accounts into `accounts` on the way). Empty when the rows
/// carry anything but messages, or too little to be worth it.
async fn prefetch(
    txn: &DatabaseTransaction,
    rows: &[Parsed<'_>],
    accounts: &mut Accounts,
) -> Result<Prefetch, sea_orm::DbErr> {
    let mut pre = Prefetch::default();
    if rows.len() < 2 {
        return Ok(pre);
    }
    let mut people: Vec<String> = Vec::new();
    let mut threads: Vec<String> = Vec::new();
    let mut account_ids: Vec<Uuid> = Vec::new();
    for parsed in rows {
        let (Some(_), Ok(events)) = (parsed.inbound, &parsed.events) else {
            return Ok(pre);
        };
        let (row, platforms) = (parsed.row, &parsed.platforms);
        for ev in events {
            let m = match ev {
                NormalizedEvent::MessageReceived(m) | NormalizedEvent::MessageEcho(m) => m,
                _ => return Ok(pre),
            };
            let key = (row.platform.clone(), ev.account_external_id().to_owned());
            if !accounts.contains_key(&key) {
                let acc = find_account(txn, platforms, &key.1).await?;
                accounts.insert(key.clone(), acc);
            }
            if let Some(Some(acc)) = accounts.get(&key) {
                if !account_ids.contains(&acc.id) {
                    account_ids.push(acc.id);
                }
                people.push(m.contact.external_id.clone());
                threads.push(m.thread_external_id.clone());
            }
        }
    }
    if account_ids.is_empty() {
        return Ok(pre);
    }
    people.sort_unstable();
    people.dedup();
    threads.sort_unstable();
    threads.dedup();
    let found = contact_identity::Entity::find()
        .select_also(contact::Entity)
        .join(
            sea_orm::JoinType::InnerJoin,
            contact_identity::Relation::Contact.def(),
        )
        .filter(contact_identity::Column::ChannelAccountId.is_in(account_ids.clone()))
        .filter(contact_identity::Column::ExternalId.is_in(people))
        .all(txn)
        .await?;
    for (idn, person) in found {
        if let Some(person) = person {
            pre.identities.insert(
                (idn.channel_account_id, idn.external_id.clone()),
                (idn, person),
            );
        }
    }
    let mut find = conversation::Entity::find()
        .filter(conversation::Column::ChannelAccountId.is_in(account_ids))
        .filter(conversation::Column::ExternalThreadId.is_in(threads));
    if txn.get_database_backend() == DbBackend::Postgres {
        // As in `find_thread`: the rows this transaction will update, locked.
        find = find.lock_exclusive();
    }
    let convs = find.all(txn).await?;
    for c in &convs {
        pre.labels.insert(c.id, Vec::new());
    }
    if !convs.is_empty() {
        for (id, name) in views::label_names_of(txn, convs.iter().map(|c| c.id)).await? {
            pre.labels.entry(id).or_default().push(name);
        }
    }
    for c in convs {
        pre.threads
            .insert((c.channel_account_id, c.external_thread_id.clone()), c);
    }
    Ok(pre)
}

/// What became of a stored webhook in this transaction.
struct Done {
    id: i64,
    /// `processed`, `unrouted` or `failed`.
    status: &'static str,
    error: Option<String>,
    /// Workspace and channel account it was routed to (or, when failed, most likely belongs to).
    account: Option<(Uuid, Uuid)>,
}

/// Record what became of the transaction's webhooks: one `UPDATE` per distinct outcome (all
/// of them, usually, "processed" for one Page).
async fn mark_done(txn: &DatabaseTransaction, done: Vec<Done>) -> Result<(), sea_orm::DbErr> {
    let now = Utc::now();
    let mut groups: Vec<(Done, Vec<i64>)> = Vec::new();
    for d in done {
        match groups
            .iter_mut()
            .find(|(g, _)| g.status == d.status && g.error == d.error && g.account == d.account)
        {
            Some((_, ids)) => ids.push(d.id),
            None => {
                let id = d.id;
                groups.push((d, vec![id]));
            }
        }
    }
    for (d, ids) in groups {
        inbound_event::Entity::update_many()
            .col_expr(
                inbound_event::Column::Attempts,
                Expr::col(inbound_event::Column::Attempts).add(1),
            )
            .col_expr(inbound_event::Column::ProcessedAt, Expr::value(now))
            .col_expr(inbound_event::Column::Status, Expr::value(d.status))
            .col_expr(inbound_event::Column::Error, Expr::value(d.error))
            .col_expr(
                inbound_event::Column::WorkspaceId,
                Expr::value(d.account.map(|a| a.0)),
            )
            .col_expr(
                inbound_event::Column::ChannelAccountId,
                Expr::value(d.account.map(|a| a.1)),
            )
            .filter(inbound_event::Column::Id.is_in(ids))
            .exec(txn)
            .await?;
    }
    Ok(())
}

/// The channel account with this platform id among `platforms` (one Meta webhook may carry
/// events of Facebook Pages and of Instagram accounts).
async fn find_account(
    db: &impl ConnectionTrait,
    platforms: &[String],
    external_id: &str,
) -> Result<Option<channel_account::Model>, sea_orm::DbErr> {
    channel_account::Entity::find()
        .filter(channel_account::Column::Platform.is_in(platforms.iter().map(String::as_str)))
        .filter(channel_account::Column::ExternalId.eq(external_id))
        .one(db)
        .await
}

/// Apply events fetched from a platform's API (history backfill) to `acc` in one
/// transaction, exactly as if they had come by webhook (the same ids dedupe both), then
/// publish their frames.
pub async fn apply_fetched(
    state: &AppState,
    acc: &channel_account::Model,
    events: &[NormalizedEvent],
) -> Result<(), sea_orm::DbErr> {
    let txn = state.db.write.begin().await?;
    let mut frames = Vec::new();
    let mut pre = Prefetch::default();
    for ev in events {
        apply_event(state, &txn, acc, ev, &mut pre, &mut frames).await?;
    }
    txn.commit().await?;
    publish(state, frames).await;
    Ok(())
}

async fn apply_event(
    state: &AppState,
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    ev: &NormalizedEvent,
    pre: &mut Prefetch,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    match ev {
        NormalizedEvent::MessageReceived(m) => apply_message(txn, acc, m, true, pre, frames).await,
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
            apply_message(txn, acc, m, false, pre, frames).await
        }
        NormalizedEvent::DeliveryStatus(d) => apply_receipt(txn, acc, d, frames).await,
        NormalizedEvent::MessageEdited(e) => edit_message(
            txn,
            acc,
            &e.external_message_id,
            e.text.as_deref(),
            e.edited_at,
            frames,
        )
        .await
        .map(drop),
        NormalizedEvent::MessageDeleted(d) => {
            mark_removed(txn, acc, &d.external_message_id, d.at, frames).await
        }
        NormalizedEvent::Reaction(r) => apply_reaction(txn, acc, r, frames).await,
        NormalizedEvent::Comment(c) => apply_comment(txn, acc, c, frames).await,
        NormalizedEvent::Referred(r) => apply_referral(txn, acc, r, frames).await,
        // Mentions and the documented events we do not act on: the raw body stays stored.
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
    // The identity and its contact in one statement.
    let found = contact_identity::Entity::find()
        .select_also(contact::Entity)
        .join(
            sea_orm::JoinType::InnerJoin,
            contact_identity::Relation::Contact.def(),
        )
        .filter(contact_identity::Column::ChannelAccountId.eq(acc.id))
        .filter(contact_identity::Column::ExternalId.eq(external_id))
        .one(txn)
        .await?;
    if let Some((idn, c)) = found {
        let c = c.ok_or_else(|| sea_orm::DbErr::RecordNotFound("contact of identity".into()))?;
        return Ok((idn, named(txn, c, display_name).await?));
    }
    let c = contact::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acc.workspace_id),
        name: Set(display_name.map(str::to_owned)),
        phone: Set(None),
        merged_into: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        promoter: Set(false),
        note: Set(None),
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
        avatar_url: Set(None),
        profile_fetched_at: Set(None),
    }
    .insert(txn)
    .await?;
    if profiles_supported(acc) {
        // Name and picture come from the platform, once, outside this transaction.
        jobs::enqueue(
            txn,
            jobs::kind::FETCH_PROFILE,
            json!({ "identity_id": idn.id }),
            now,
        )
        .await?;
    }
    Ok((idn, c))
}

/// `person` with `display_name` as their name when they had none yet.
async fn named(
    txn: &DatabaseTransaction,
    person: contact::Model,
    display_name: Option<&str>,
) -> Result<contact::Model, sea_orm::DbErr> {
    let (None, Some(name)) = (&person.name, display_name) else {
        return Ok(person);
    };
    let mut am = person.into_active_model();
    am.name = Set(Some(name.to_owned()));
    am.updated_at = Set(Utc::now());
    am.update(txn).await
}

/// Platforms whose connector can look people and posts up.
fn profiles_supported(acc: &channel_account::Model) -> bool {
    matches!(acc.platform.as_str(), "facebook" | "instagram" | "zalo")
}

/// The conversation of `thread` on `acc`, locked for update on PostgreSQL.
async fn find_thread(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    thread: &str,
) -> Result<Option<conversation::Model>, sea_orm::DbErr> {
    let mut find = conversation::Entity::find()
        .filter(conversation::Column::ChannelAccountId.eq(acc.id))
        .filter(conversation::Column::ExternalThreadId.eq(thread));
    if txn.get_database_backend() == DbBackend::Postgres {
        // Several workers may apply messages of one conversation at once (several nodes, or a
        // replay beside the worker): lock the row so counters and "latest" fields are not lost
        // updates. SQLite has a single writer already.
        find = find.lock_exclusive();
    }
    find.one(txn).await
}

/// What a new conversation is about.
struct NewThread<'a> {
    kind: &'static str,
    thread: &'a str,
    post: Option<&'a PostRef>,
}

/// Find the conversation of a thread, or start it with `idn` as its customer.
async fn thread_for(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    idn: &contact_identity::Model,
    t: NewThread<'_>,
) -> Result<(conversation::Model, bool), sea_orm::DbErr> {
    if let Some(c) = find_thread(txn, acc, t.thread).await? {
        return Ok((c, false));
    }
    let now = Utc::now();
    let c = conversation::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(acc.workspace_id),
        channel_account_id: Set(acc.id),
        contact_id: Set(idn.contact_id),
        identity_id: Set(idn.id),
        kind: Set(t.kind.into()),
        external_thread_id: Set(t.thread.to_owned()),
        status: Set("open".into()),
        assignee_id: Set(None),
        unread_count: Set(0),
        last_message_at: Set(None),
        last_message_preview: Set(None),
        last_inbound_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        post_external_id: Set(t.post.map(|p| p.external_id.clone())),
        post_permalink: Set(t.post.and_then(|p| p.permalink.clone())),
        post_text: Set(t.post.and_then(|p| p.text.clone())),
        referral: Set(None),
        assigned_at: Set(None),
        complaint: Set(None),
    }
    .insert(txn)
    .await?;
    Ok((c, true))
}

/// A message or comment to store.
struct NewMessage<'a> {
    kind: &'static str,
    external_id: &'a str,
    inbound: bool,
    text: Option<&'a str>,
    attachments: &'a [tongdai_connectors::Attachment],
    sent_at: DateTime<Utc>,
    in_reply_to: Option<&'a str>,
    author: Option<&'a ContactRef>,
    meta: Option<serde_json::Value>,
}

/// Insert a message once per platform id; `None` when it was already stored (a redelivery).
async fn insert_message(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    conv: &conversation::Model,
    n: NewMessage<'_>,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    let now = Utc::now();
    let model = message::Model {
        id: Uuid::now_v7(),
        workspace_id: acc.workspace_id,
        conversation_id: conv.id,
        channel_account_id: acc.id,
        external_id: Some(n.external_id.to_owned()),
        direction: if n.inbound { "in" } else { "out" }.into(),
        sender_kind: if n.inbound { "contact" } else { "page" }.into(),
        author_user_id: None,
        text: n.text.map(str::to_owned),
        attachments: json!(n.attachments),
        status: if n.inbound { "received" } else { "sent" }.into(),
        error: None,
        sent_at: n.sent_at,
        created_at: now,
        updated_at: now,
        kind: n.kind.into(),
        in_reply_to: n.in_reply_to.map(str::to_owned),
        author_external_id: n.author.map(|a| a.external_id.clone()),
        author_name: n.author.and_then(|a| a.display_name.clone()),
        meta: n.meta,
        reactions: None,
        hidden: false,
        edited_at: None,
        removed_at: None,
        private_replied_at: None,
    };
    let inserted = message::Entity::insert(model.clone().into_active_model())
        .on_conflict_do_nothing_on([
            message::Column::ChannelAccountId,
            message::Column::ExternalId,
        ])
        .exec_without_returning(txn)
        .await?;
    let fresh = matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0);
    if fresh && n.inbound && n.attachments.iter().any(|a| a.url.is_some()) {
        // Platform CDN links expire: copy the files while they are fresh.
        jobs::enqueue(
            txn,
            jobs::kind::FETCH_MEDIA,
            json!({ "message_id": model.id }),
            now,
        )
        .await?;
    }
    Ok(fresh.then_some(model))
}

/// Move the conversation's "latest" fields and counters for a new message.
async fn bump(
    txn: &DatabaseTransaction,
    conv: conversation::Model,
    sent_at: DateTime<Utc>,
    preview: String,
    inbound: bool,
) -> Result<conversation::Model, sea_orm::DbErr> {
    // Platforms do not guarantee order: the newest message by platform time wins the preview.
    let newer = conv.last_message_at.is_none_or(|t| sent_at >= t);
    let mut am = conv.clone().into_active_model();
    if newer {
        am.last_message_at = Set(Some(sent_at));
        am.last_message_preview = Set(Some(preview));
    }
    if inbound {
        am.unread_count = Set(conv.unread_count + 1);
        if conv.last_inbound_at.is_none_or(|t| sent_at > t) {
            am.last_inbound_at = Set(Some(sent_at));
        }
        if conv.status == "resolved" {
            am.status = Set("open".into());
        }
    }
    am.updated_at = Set(Utc::now());
    am.update(txn).await
}

/// A customer's text carrying a Vietnamese mobile number gives their contact a phone, and
/// contacts with the same phone are one person.
async fn note_phone(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    person: contact::Model,
    text: Option<&str>,
    frames: &mut Vec<Outgoing>,
) -> Result<(contact::Model, bool), sea_orm::DbErr> {
    if person.phone.is_some() {
        return Ok((person, false));
    }
    let Some(phone) = text.map(find_phones).and_then(|p| p.into_iter().next()) else {
        return Ok((person, false));
    };
    let mut pam = person.into_active_model();
    pam.phone = Set(Some(phone.as_str().to_owned()));
    pam.updated_at = Set(Utc::now());
    let person = pam.update(txn).await?;
    // Two identities with the same phone are one person: join them (the older contact stays).
    let other = contact::Entity::find()
        .filter(contact::Column::WorkspaceId.eq(acc.workspace_id))
        .filter(contact::Column::Phone.eq(phone.as_str()))
        .filter(contact::Column::MergedInto.is_null())
        .filter(contact::Column::Id.ne(person.id))
        .one(txn)
        .await?;
    if let Some(other) = &other {
        contacts::merge_into(txn, acc.workspace_id, person.id, other.id).await?;
    }
    frames.push(Outgoing {
        workspace: acc.workspace_id,
        kind: "contact.updated",
        data: json!({ "contact_id": person.id }),
    });
    Ok(match other {
        Some(other) => (other, true),
        None => (person, false),
    })
}

/// The conversation again, after a merge moved it to another contact.
async fn reread(
    txn: &DatabaseTransaction,
    conv: conversation::Model,
) -> Result<conversation::Model, sea_orm::DbErr> {
    Ok(conversation::Entity::find_by_id(conv.id)
        .one(txn)
        .await?
        .unwrap_or(conv))
}

/// `message.created` with the conversation view built from the rows in hand (one query for
/// its labels instead of re-reading everything).
/// `labels`: the conversation's label names when known already (none for a new one); `None`
/// reads them.
async fn created_frame(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    conv: conversation::Model,
    person: Option<contact::Model>,
    msg: message::Model,
    labels: Option<Vec<String>>,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    let labels = match labels {
        Some(l) => l,
        None => views::label_names(txn, conv.id).await?,
    };
    // The conversation's customer may be another contact than the one in hand (someone else
    // in a comment thread): read it then.
    let person = match person {
        Some(p) if p.id == conv.contact_id => Some(p),
        _ => {
            contact::Entity::find_by_id(conv.contact_id)
                .one(txn)
                .await?
        }
    };
    let facts = views::reply_facts(txn, &conv, acc, false, None).await?;
    let conv_out = views::conversation_view(conv, acc, person.as_ref(), labels, facts);
    frames.push(Outgoing {
        workspace: acc.workspace_id,
        kind: "message.created",
        data: json!({ "message": views::MessageOut::from(msg), "conversation": conv_out }),
    });
    Ok(())
}

fn message_meta(m: &InboundMessage) -> Option<serde_json::Value> {
    let mut meta = serde_json::Map::new();
    if let Some(q) = &m.quick_reply {
        meta.insert("quick_reply".into(), json!(q));
    }
    if let Some(p) = &m.postback {
        meta.insert("postback".into(), json!(p));
    }
    if let Some(r) = &m.referral {
        meta.insert("referral".into(), json!(r));
    }
    if m.standby {
        meta.insert("standby".into(), json!(true));
    }
    (!meta.is_empty()).then_some(serde_json::Value::Object(meta))
}

async fn apply_message(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    m: &InboundMessage,
    inbound: bool,
    pre: &mut Prefetch,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    let name = m.contact.display_name.as_deref();
    let (idn, person) = match pre.identity(acc, &m.contact.external_id) {
        Some((idn, person)) => (idn, named(txn, person, name).await?),
        None => upsert_identity(txn, acc, &m.contact.external_id, name).await?,
    };
    let (conv, fresh) = match pre.thread(acc, &m.thread_external_id) {
        Some(conv) => (conv, false),
        None => {
            thread_for(
                txn,
                acc,
                &idn,
                NewThread {
                    kind: "direct",
                    thread: &m.thread_external_id,
                    post: None,
                },
            )
            .await?
        }
    };
    let Some(msg) = insert_message(
        txn,
        acc,
        &conv,
        NewMessage {
            kind: "message",
            external_id: &m.external_message_id,
            inbound,
            text: m.text.as_deref(),
            attachments: &m.attachments,
            sent_at: m.sent_at,
            in_reply_to: m.reply_to.as_deref(),
            author: None,
            meta: message_meta(m),
        },
    )
    .await?
    else {
        return Ok(()); // already stored: a redelivery
    };
    feedback::note_answer(txn, &conv, &msg, frames).await?;
    let mut conv = bump(
        txn,
        conv,
        m.sent_at,
        preview(m.text.as_deref(), &m.attachments),
        inbound,
    )
    .await?;
    if let Some(r) = &m.referral {
        conv = set_referral(txn, conv, r).await?;
    }
    let (person, merged) = if inbound {
        note_phone(txn, acc, person, m.text.as_deref(), frames).await?
    } else {
        (person, false)
    };
    if merged {
        // Contacts and conversations moved: nothing read before is current any more.
        *pre = Prefetch::default();
        conv = reread(txn, conv).await?;
    } else {
        pre.forget_contact(person.id);
    }
    crate::services::leads::on_inbound(txn, acc, &person, &mut conv, &msg, fresh, frames).await?;
    let labels = pre.labels.remove(&conv.id).or_else(|| fresh.then(Vec::new));
    created_frame(txn, acc, conv, Some(person), msg, labels, frames).await
}

fn preview(text: Option<&str>, attachments: &[tongdai_connectors::Attachment]) -> String {
    match text {
        Some(t) if !t.is_empty() => t.chars().take(140).collect(),
        _ => attachments
            .first()
            .map(|a| format!("[{}]", a.kind))
            .unwrap_or_default(),
    }
}

async fn set_referral(
    txn: &DatabaseTransaction,
    conv: conversation::Model,
    r: &Referral,
) -> Result<conversation::Model, sea_orm::DbErr> {
    let mut am = conv.into_active_model();
    am.referral = Set(Some(json!(r)));
    am.updated_at = Set(Utc::now());
    am.update(txn).await
}

/// A customer re-entered a thread from an ad or a link: remember where they came from.
async fn apply_referral(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    r: &ReferralEvent,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    let (idn, person) = upsert_identity(
        txn,
        acc,
        &r.contact.external_id,
        r.contact.display_name.as_deref(),
    )
    .await?;
    let (conv, fresh) = thread_for(
        txn,
        acc,
        &idn,
        NewThread {
            kind: "direct",
            thread: &r.contact.external_id,
            post: None,
        },
    )
    .await?;
    let conv = set_referral(txn, conv, &r.referral).await?;
    let labels = if fresh {
        Vec::new()
    } else {
        views::label_names(txn, conv.id).await?
    };
    let facts = views::reply_facts(txn, &conv, acc, false, None).await?;
    let view = views::conversation_view(conv, acc, Some(&person), labels, facts);
    frames.push(Outgoing {
        workspace: acc.workspace_id,
        kind: if fresh {
            "conversation.created"
        } else {
            "conversation.updated"
        },
        data: json!({ "conversation": view }),
    });
    Ok(())
}

/// The stored message or comment with this platform id on `acc`.
async fn find_message(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    external_id: &str,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    message::Entity::find()
        .filter(message::Column::ChannelAccountId.eq(acc.id))
        .filter(message::Column::ExternalId.eq(external_id))
        .one(txn)
        .await
}

fn updated(acc: &channel_account::Model, m: message::Model, frames: &mut Vec<Outgoing>) {
    frames.push(Outgoing {
        workspace: acc.workspace_id,
        kind: "message.updated",
        data: json!({ "message": views::MessageOut::from(m) }),
    });
}

/// A new text for a stored message or comment; the old one goes to its history. `false` when
/// the message is not stored (its creation was missed).
async fn edit_message(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    external_id: &str,
    text: Option<&str>,
    at: DateTime<Utc>,
    frames: &mut Vec<Outgoing>,
) -> Result<bool, sea_orm::DbErr> {
    let Some(m) = find_message(txn, acc, external_id).await? else {
        return Ok(false);
    };
    if m.text.as_deref() == text || m.edited_at.is_some_and(|t| t > at) {
        return Ok(true); // a redelivery, or an older edit arriving late
    }
    message_revision::ActiveModel {
        id: Set(Uuid::now_v7()),
        message_id: Set(m.id),
        text: Set(m.text.clone()),
        edited_at: Set(at),
        created_at: Set(Utc::now()),
    }
    .insert(txn)
    .await?;
    let mut am = m.into_active_model();
    am.text = Set(text.map(str::to_owned));
    am.edited_at = Set(Some(at));
    am.updated_at = Set(Utc::now());
    updated(acc, am.update(txn).await?, frames);
    Ok(true)
}

/// An unsent message or a removed comment: kept and marked, never deleted.
async fn mark_removed(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    external_id: &str,
    at: DateTime<Utc>,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    let Some(m) = find_message(txn, acc, external_id).await? else {
        return Ok(());
    };
    if m.removed_at.is_some() {
        return Ok(());
    }
    let mut am = m.into_active_model();
    am.removed_at = Set(Some(at));
    am.updated_at = Set(Utc::now());
    updated(acc, am.update(txn).await?, frames);
    Ok(())
}

async fn apply_reaction(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    r: &MessageReaction,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    let Some(m) = find_message(txn, acc, &r.external_message_id).await? else {
        return Ok(());
    };
    let mut all = match &m.reactions {
        Some(serde_json::Value::Object(o)) => o.clone(),
        _ => serde_json::Map::new(),
    };
    let before = all.clone();
    if r.removed {
        all.remove(&r.contact_external_id);
    } else {
        let shown = r
            .emoji
            .clone()
            .or_else(|| r.reaction.clone())
            .unwrap_or_default();
        all.insert(r.contact_external_id.clone(), json!(shown));
    }
    if all == before {
        return Ok(());
    }
    let mut am = m.into_active_model();
    am.reactions = Set((!all.is_empty()).then_some(serde_json::Value::Object(all)));
    am.updated_at = Set(Utc::now());
    updated(acc, am.update(txn).await?, frames);
    Ok(())
}

async fn apply_comment(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    c: &CommentEvent,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    match c.action {
        CommentAction::Added => add_comment(txn, acc, c, frames).await,
        CommentAction::Edited => {
            let known = edit_message(
                txn,
                acc,
                &c.external_comment_id,
                c.text.as_deref(),
                c.at,
                frames,
            )
            .await?;
            if known {
                Ok(())
            } else {
                // We missed its creation (before the page was connected, or lost upstream).
                add_comment(txn, acc, c, frames).await
            }
        }
        CommentAction::Removed => {
            mark_removed(txn, acc, &c.external_comment_id, c.at, frames).await
        }
        CommentAction::Hidden | CommentAction::Unhidden => {
            let hidden = c.action == CommentAction::Hidden;
            let Some(m) = find_message(txn, acc, &c.external_comment_id).await? else {
                return Ok(());
            };
            if m.hidden == hidden {
                return Ok(());
            }
            let mut am = m.into_active_model();
            am.hidden = Set(hidden);
            am.updated_at = Set(Utc::now());
            updated(acc, am.update(txn).await?, frames);
            Ok(())
        }
    }
}

/// A comment joins the thread of its top-level comment (a conversation of kind
/// `comment_thread` with the top-level commenter as its customer).
async fn add_comment(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    c: &CommentEvent,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    // The thread: the parent's conversation when we have the parent, else the thread rooted at
    // the parent (or at this comment when it is top-level).
    let parent_conv = match &c.parent_external_id {
        Some(parent) => match find_message(txn, acc, parent).await? {
            Some(pm) => {
                conversation::Entity::find_by_id(pm.conversation_id)
                    .one(txn)
                    .await?
            }
            None => None,
        },
        None => None,
    };
    let root = c
        .parent_external_id
        .as_deref()
        .unwrap_or(&c.external_comment_id);
    let inbound = !c.by_account;
    let author = c.author.as_ref().filter(|_| inbound);
    let mut person = None;
    if let Some(a) = author {
        person = Some(upsert_identity(txn, acc, &a.external_id, a.display_name.as_deref()).await?);
    }
    let (conv, fresh) = match parent_conv {
        Some(conv) => match find_thread(txn, acc, &conv.external_thread_id).await? {
            Some(locked) => (locked, false),
            None => (conv, false),
        },
        None => match &person {
            Some((idn, _)) => {
                thread_for(
                    txn,
                    acc,
                    idn,
                    NewThread {
                        kind: "comment_thread",
                        thread: root,
                        post: Some(&c.post),
                    },
                )
                .await?
            }
            None => match find_thread(txn, acc, root).await? {
                Some(conv) => (conv, false),
                // The account answered a comment we never saw, and nobody else is in the thread
                // yet: nothing to attach it to. Its customer's next comment starts the thread.
                None => return Ok(()),
            },
        },
    };
    let conv = if conv.post_external_id.is_none() || conv.post_permalink.is_none() {
        fill_post(txn, conv, &c.post).await?
    } else {
        conv
    };
    if fresh
        && profiles_supported(acc)
        && (conv.post_permalink.is_none() || conv.post_text.is_none())
    {
        jobs::enqueue(
            txn,
            jobs::kind::FETCH_POST,
            json!({ "conversation_id": conv.id }),
            Utc::now(),
        )
        .await?;
    }
    let Some(msg) = insert_message(
        txn,
        acc,
        &conv,
        NewMessage {
            kind: "comment",
            external_id: &c.external_comment_id,
            inbound,
            text: c.text.as_deref(),
            attachments: &c.attachments,
            sent_at: c.at,
            in_reply_to: c.parent_external_id.as_deref(),
            author: c.author.as_ref(),
            meta: None,
        },
    )
    .await?
    else {
        return Ok(());
    };
    let mut conv = bump(
        txn,
        conv,
        c.at,
        preview(c.text.as_deref(), &c.attachments),
        inbound,
    )
    .await?;
    let person = match person {
        Some((_, p)) => {
            let (p, merged) = note_phone(txn, acc, p, c.text.as_deref(), frames).await?;
            if merged {
                conv = reread(txn, conv).await?;
            }
            crate::services::leads::on_inbound(txn, acc, &p, &mut conv, &msg, fresh, frames)
                .await?;
            Some(p)
        }
        None => None,
    };
    created_frame(txn, acc, conv, person, msg, fresh.then(Vec::new), frames).await
}

/// Keep what a comment says about its post on the thread, when the thread lacks it.
async fn fill_post(
    txn: &DatabaseTransaction,
    conv: conversation::Model,
    post: &PostRef,
) -> Result<conversation::Model, sea_orm::DbErr> {
    if post.external_id.is_empty()
        || (conv.post_external_id.is_some() && post.permalink.is_none() && post.text.is_none())
    {
        return Ok(conv);
    }
    let mut am = conv.clone().into_active_model();
    if conv.post_external_id.is_none() {
        am.post_external_id = Set(Some(post.external_id.clone()));
    }
    if conv.post_permalink.is_none() && post.permalink.is_some() {
        am.post_permalink = Set(post.permalink.clone());
    }
    if conv.post_text.is_none() && post.text.is_some() {
        am.post_text = Set(post.text.clone());
    }
    am.update(txn).await
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
        // Private notes are never sent: delivery and read receipts do not concern them.
        .filter(message::Column::Kind.ne("note"))
        .filter(message::Column::Status.is_in(from.iter().copied()))
        .filter(cond)
        .all(txn)
        .await?;
    let now = Utc::now();
    for m in changed {
        let mut am = m.into_active_model();
        am.status = Set(target.to_owned());
        am.updated_at = Set(now);
        updated(acc, am.update(txn).await?, frames);
    }
    Ok(())
}
