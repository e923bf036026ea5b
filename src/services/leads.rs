//! Leads: a customer's phone number on its way to an order. They come from inbound messages
//! and comments that carry a Vietnamese mobile number (in the normalizer's transaction), and
//! from website cart hand-offs (`POST /leads`, usually with an API key). One open lead per
//! contact: a new phone message refreshes it. Stages move by hand or by a call's outcome, each
//! change audited and published; a "call back at" schedules a reminder for the lead's agent.

use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::lead::{CallOutcome, Stage};
use crate::domain::phone::{Phone, find_phones};
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::assignment::{self, OPEN_STAGES};
use crate::services::audit::{self, AuditOut};
use crate::services::auth::Principal;
use crate::services::blacklist::{self, PhoneRecord, Verdict};
use crate::services::conversations::{decode_cursor, encode_cursor};
use crate::services::jobs::{self, JobFailure};
use crate::services::normalize::{Outgoing, publish};
use crate::services::pipeline::{self, ChannelLeadSettings};
use crate::services::{outbound, views};
use crate::state::AppState;
use crate::store::entities::{
    call_log, channel_account, contact, conversation, job, lead, membership, message,
};

/// The contact of a lead.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadContact {
    /// Contact id.
    pub id: Uuid,
    /// Name.
    pub name: Option<String>,
    /// The contact's phone (E.164).
    pub phone: Option<String>,
}

/// A lead.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LeadOut {
    /// Id.
    pub id: Uuid,
    /// Who.
    pub contact: LeadContact,
    /// The conversation it came from.
    pub conversation_id: Option<Uuid>,
    /// The channel account it came from.
    pub channel_account_id: Option<Uuid>,
    /// That account's platform.
    pub platform: Option<String>,
    /// Stage.
    pub stage: Stage,
    /// Why it was lost.
    pub lost_reason: Option<String>,
    /// Phone (E.164).
    pub phone: String,
    /// Phone as Vietnamese write it (`0912 345 678`).
    pub phone_display: String,
    /// `message`, `comment` or `api`.
    pub source: String,
    /// The platform message or comment id (or the shop's reference).
    pub source_ref: Option<String>,
    /// The post a comment lead came from.
    pub post_external_id: Option<String>,
    /// What the customer wrote.
    pub text: Option<String>,
    /// The agent working it.
    pub assignee_id: Option<Uuid>,
    /// When they got it.
    pub assigned_at: Option<DateTime<Utc>>,
    /// A call back is due then.
    pub next_call_at: Option<DateTime<Utc>>,
    /// Last worked on.
    pub touched_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// The phone's active blacklist entry: flagged.
    pub blacklist: Option<Verdict>,
}

/// The view of a lead.
pub async fn view(db: &impl ConnectionTrait, l: lead::Model) -> Result<LeadOut, sea_orm::DbErr> {
    let ct = contact::Entity::find_by_id(l.contact_id).one(db).await?;
    let platform = match l.channel_account_id {
        Some(a) => channel_account::Entity::find_by_id(a)
            .one(db)
            .await?
            .map(|a| a.platform),
        None => None,
    };
    let blacklist = blacklist::active_entry(db, l.workspace_id, &l.phone).await?;
    let phone_display = Phone::parse(&l.phone)
        .map(|p| p.national())
        .unwrap_or_else(|| l.phone.clone());
    Ok(LeadOut {
        id: l.id,
        contact: LeadContact {
            id: l.contact_id,
            name: ct.as_ref().and_then(|c| c.name.clone()),
            phone: ct.and_then(|c| c.phone),
        },
        conversation_id: l.conversation_id,
        channel_account_id: l.channel_account_id,
        platform,
        stage: Stage::parse(&l.stage).unwrap_or(Stage::New),
        lost_reason: l.lost_reason,
        phone: l.phone,
        phone_display,
        source: l.source,
        source_ref: l.source_ref,
        post_external_id: l.post_external_id,
        text: l.text,
        assignee_id: l.assignee_id,
        assigned_at: l.assigned_at,
        next_call_at: l.next_call_at,
        touched_at: l.touched_at,
        created_at: l.created_at,
        updated_at: l.updated_at,
        blacklist,
    })
}

/// What a new lead (or the refresh of an open one) carries.
pub struct NewLead {
    /// The contact.
    pub contact_id: Uuid,
    /// Phone.
    pub phone: Phone,
    /// `message`, `comment`, `api`.
    pub source: &'static str,
    /// Channel account.
    pub channel_account_id: Option<Uuid>,
    /// Conversation.
    pub conversation_id: Option<Uuid>,
    /// Platform message/comment id.
    pub source_ref: Option<String>,
    /// Post of a comment.
    pub post_external_id: Option<String>,
    /// Text.
    pub text: Option<String>,
}

/// Create a lead on the contact, or refresh its open lead (text, conversation, time; stage and
/// assignee stay). A new lead goes to the next agent when the workspace distributes leads.
/// Frames (`lead.created` / `lead.updated`, `lead.assigned`) go to `frames`.
pub async fn upsert(
    txn: &DatabaseTransaction,
    ws: Uuid,
    n: NewLead,
    frames: &mut Vec<Outgoing>,
) -> Result<(lead::Model, bool), sea_orm::DbErr> {
    let now = Utc::now();
    let open = lead::Entity::find()
        .filter(lead::Column::WorkspaceId.eq(ws))
        .filter(lead::Column::ContactId.eq(n.contact_id))
        .filter(lead::Column::Stage.is_in(OPEN_STAGES))
        .order_by_desc(lead::Column::CreatedAt)
        .one(txn)
        .await?;
    if let Some(l) = open {
        let mut am = l.into_active_model();
        if n.text.is_some() {
            am.text = Set(n.text);
        }
        if n.conversation_id.is_some() {
            am.conversation_id = Set(n.conversation_id);
        }
        am.updated_at = Set(now);
        let l = am.update(txn).await?;
        frames.push(Outgoing {
            workspace: ws,
            kind: "lead.updated",
            data: json!({ "lead": view(txn, l.clone()).await? }),
        });
        return Ok((l, false));
    }
    let s = pipeline::load(txn, ws).await?;
    let assignee = if s.distribute_leads {
        assignment::pick_in(txn, ws, &s).await?
    } else {
        None
    };
    let l = lead::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(ws),
        contact_id: Set(n.contact_id),
        conversation_id: Set(n.conversation_id),
        channel_account_id: Set(n.channel_account_id),
        stage: Set(Stage::New.as_str().to_owned()),
        phone: Set(n.phone.as_str().to_owned()),
        source: Set(n.source.to_owned()),
        source_ref: Set(n.source_ref),
        text: Set(n.text),
        assignee_id: Set(assignee),
        created_at: Set(now),
        updated_at: Set(now),
        post_external_id: Set(n.post_external_id),
        lost_reason: Set(None),
        next_call_at: Set(None),
        touched_at: Set(None),
        assigned_at: Set(assignee.map(|_| now)),
        closed_at: Set(None),
    }
    .insert(txn)
    .await?;
    let out = view(txn, l.clone()).await?;
    if let Some(a) = assignee {
        audit::record(
            txn,
            ws,
            None,
            "lead.assigned",
            ("lead", l.id.to_string()),
            json!({ "from": null, "to": a, "by": "distribution" }),
        )
        .await?;
    }
    frames.push(Outgoing {
        workspace: ws,
        kind: "lead.created",
        data: json!({ "lead": out }),
    });
    if assignee.is_some() {
        frames.push(Outgoing {
            workspace: ws,
            kind: "lead.assigned",
            data: json!({ "lead": out }),
        });
    }
    Ok((l, true))
}

/// The normalizer's hook for a message or comment it has just stored (called once per new row,
/// so a redelivery does nothing): an inbound text with a phone makes or refreshes the
/// contact's lead; a customer comment with a phone is hidden and/or answered privately when the
/// channel says so; a new conversation is handed to the next agent when the workspace
/// distributes conversations. `conv` is updated in place.
pub async fn on_inbound(
    txn: &DatabaseTransaction,
    acc: &channel_account::Model,
    person: &contact::Model,
    conv: &mut conversation::Model,
    msg: &message::Model,
    fresh_conversation: bool,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    if msg.direction != "in" {
        return Ok(());
    }
    let phone = msg
        .text
        .as_deref()
        .and_then(|t| find_phones(t).into_iter().next());
    if phone.is_none() && !fresh_conversation {
        return Ok(());
    }
    let s = pipeline::load(txn, acc.workspace_id).await?;
    if fresh_conversation {
        assignment::distribute_new_conversation(txn, &s, conv).await?;
    }
    let Some(phone) = phone else {
        return Ok(());
    };
    let is_comment = msg.kind == "comment";
    upsert(
        txn,
        acc.workspace_id,
        NewLead {
            contact_id: person.id,
            phone,
            source: if is_comment { "comment" } else { "message" },
            channel_account_id: Some(acc.id),
            conversation_id: Some(conv.id),
            source_ref: msg.external_id.clone(),
            post_external_id: if is_comment {
                conv.post_external_id.clone()
            } else {
                None
            },
            text: msg.text.clone(),
        },
        frames,
    )
    .await?;
    if is_comment {
        let cs = ChannelLeadSettings::of(&acc.settings);
        if cs.hide_phone_comments {
            outbound::enqueue_hide(txn, msg.id).await?;
        }
        if let Some(text) = cs
            .phone_private_reply
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let open = !matches!(
                tongdai_connectors::private_reply_window(
                    msg.sent_at,
                    msg.private_replied_at.is_some(),
                    Utc::now()
                ),
                tongdai_connectors::ReplyWindow::Closed { .. }
            );
            // Meta allows one private reply per comment, within 7 days of it.
            if open
                && let Some(reply) =
                    outbound::queue_private_reply(txn, acc, conv.id, msg, text, None).await?
            {
                frames.push(Outgoing {
                    workspace: acc.workspace_id,
                    kind: "message.created",
                    data: json!({ "message": views::MessageOut::from(reply), "conversation_id": conv.id }),
                });
            }
        }
    }
    Ok(())
}

/// A website cart hand-off (or a lead typed in by staff).
#[derive(Debug, Deserialize, ToSchema)]
pub struct LeadIn {
    /// The customer's name.
    pub name: Option<String>,
    /// Phone, any common Vietnamese way of writing it.
    pub phone: String,
    /// What they want (cart contents, a note).
    pub text: Option<String>,
    /// The shop's own reference (cart or checkout id).
    pub source_ref: Option<String>,
    /// The channel account it belongs to, if any.
    pub channel_account_id: Option<Uuid>,
}

/// `POST /leads`.
pub async fn create(state: &AppState, p: &Principal, input: LeadIn) -> AppResult<LeadOut> {
    p.require(Permission::WorkLeads)?;
    let phone = Phone::parse(input.phone.trim()).ok_or_else(|| {
        AppError::bad_request(
            "invalid_phone",
            format!(
                "{:?} is not a valid Vietnamese mobile number",
                input.phone.trim()
            ),
        )
    })?;
    let txn = state.db.write.begin().await?;
    if let Some(a) = input.channel_account_id {
        channel_account::Entity::find_by_id(a)
            .filter(channel_account::Column::WorkspaceId.eq(p.workspace_id))
            .one(&txn)
            .await?
            .ok_or_else(|| {
                AppError::bad_request("invalid_channel_account", "no such channel account")
            })?;
    }
    let name = input
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let now = Utc::now();
    let existing = contact::Entity::find()
        .filter(contact::Column::WorkspaceId.eq(p.workspace_id))
        .filter(contact::Column::Phone.eq(phone.as_str()))
        .filter(contact::Column::MergedInto.is_null())
        .order_by_asc(contact::Column::CreatedAt)
        .one(&txn)
        .await?;
    let person = match existing {
        Some(c) if c.name.is_none() && name.is_some() => {
            let mut am = c.into_active_model();
            am.name = Set(name.map(str::to_owned));
            am.updated_at = Set(now);
            am.update(&txn).await?
        }
        Some(c) => c,
        None => {
            contact::ActiveModel {
                id: Set(Uuid::now_v7()),
                workspace_id: Set(p.workspace_id),
                name: Set(name.map(str::to_owned)),
                phone: Set(Some(phone.as_str().to_owned())),
                merged_into: Set(None),
                created_at: Set(now),
                updated_at: Set(now),
                promoter: Set(false),
                note: Set(None),
            }
            .insert(&txn)
            .await?
        }
    };
    let mut frames = Vec::new();
    let (l, _) = upsert(
        &txn,
        p.workspace_id,
        NewLead {
            contact_id: person.id,
            phone,
            source: "api",
            channel_account_id: input.channel_account_id,
            conversation_id: None,
            source_ref: input.source_ref,
            post_external_id: None,
            text: input.text,
        },
        &mut frames,
    )
    .await?;
    let out = view(&txn, l).await?;
    txn.commit().await?;
    publish(state, frames).await;
    Ok(out)
}

/// Filters of the lead list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LeadFilter {
    /// Only this stage.
    pub stage: Option<String>,
    /// `me`, `none` or a user id.
    pub assignee: Option<String>,
    /// Search the phone, the text and the source reference.
    pub q: Option<String>,
    /// Only the leads of this contact.
    pub contact_id: Option<Uuid>,
    /// Page size (1–100, default 50).
    pub limit: Option<u64>,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
}

/// Leads per stage.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct StageCounts {
    /// New.
    pub new: u64,
    /// Contacted.
    pub contacted: u64,
    /// Qualified.
    pub qualified: u64,
    /// Won.
    pub won: u64,
    /// Lost.
    pub lost: u64,
}

/// A page of leads.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadPage {
    /// Newest first.
    pub items: Vec<LeadOut>,
    /// Cursor of the next page.
    pub next_cursor: Option<String>,
    /// Leads per stage (with the other filters applied).
    pub counts: StageCounts,
}

/// `GET /leads`.
pub async fn list(state: &AppState, p: &Principal, f: LeadFilter) -> AppResult<LeadPage> {
    p.require(Permission::WorkLeads)?;
    let db = &state.db.read;
    let limit = f.limit.unwrap_or(50).clamp(1, 100);
    let mut cond = Condition::all().add(lead::Column::WorkspaceId.eq(p.workspace_id));
    match f.assignee.as_deref() {
        None | Some("") => {}
        Some("none") => cond = cond.add(lead::Column::AssigneeId.is_null()),
        Some("me") => cond = cond.add(lead::Column::AssigneeId.eq(p.user_id)),
        Some(id) => {
            let id: Uuid = id.parse().map_err(|_| {
                AppError::bad_request("invalid_assignee", "assignee is me, none or a user id")
            })?;
            cond = cond.add(lead::Column::AssigneeId.eq(id));
        }
    }
    if let Some(c) = f.contact_id {
        cond = cond.add(lead::Column::ContactId.eq(c));
    }
    if let Some(q) = f.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let mut any = Condition::any()
            .add(lead::Column::Phone.contains(q))
            .add(lead::Column::Text.contains(q))
            .add(lead::Column::SourceRef.eq(q));
        if let Some(ph) = Phone::parse(q) {
            any = any.add(lead::Column::Phone.eq(ph.as_str()));
        }
        cond = cond.add(any);
    }
    let rows: Vec<(String, i64)> = lead::Entity::find()
        .select_only()
        .column(lead::Column::Stage)
        .column_as(Expr::col(lead::Column::Id).count(), "n")
        .filter(cond.clone())
        .group_by(lead::Column::Stage)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts = StageCounts::default();
    for (stage, n) in rows {
        let n = u64::try_from(n).unwrap_or(0);
        match Stage::parse(&stage) {
            Some(Stage::New) => counts.new = n,
            Some(Stage::Contacted) => counts.contacted = n,
            Some(Stage::Qualified) => counts.qualified = n,
            Some(Stage::Won) => counts.won = n,
            Some(Stage::Lost) => counts.lost = n,
            None => {}
        }
    }
    if let Some(s) = f.stage.as_deref().filter(|s| !s.is_empty()) {
        let st = Stage::parse(s).ok_or_else(|| {
            AppError::bad_request(
                "invalid_stage",
                "stage is new, contacted, qualified, won or lost",
            )
        })?;
        cond = cond.add(lead::Column::Stage.eq(st.as_str()));
    }
    if let Some(c) = &f.cursor {
        let (t, id) = decode_cursor(c)?;
        cond = cond.add(
            Condition::any().add(lead::Column::CreatedAt.lt(t)).add(
                Condition::all()
                    .add(lead::Column::CreatedAt.eq(t))
                    .add(lead::Column::Id.lt(id)),
            ),
        );
    }
    let mut rows = lead::Entity::find()
        .filter(cond)
        .order_by_desc(lead::Column::CreatedAt)
        .order_by_desc(lead::Column::Id)
        .limit(limit + 1)
        .all(db)
        .await?;
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|l| encode_cursor(l.created_at, l.id))
    } else {
        None
    };
    let mut items = Vec::with_capacity(rows.len());
    for l in rows {
        items.push(view(db, l).await?);
    }
    Ok(LeadPage {
        items,
        next_cursor,
        counts,
    })
}

async fn find(db: &impl ConnectionTrait, ws: Uuid, id: Uuid) -> AppResult<lead::Model> {
    lead::Entity::find_by_id(id)
        .filter(lead::Column::WorkspaceId.eq(ws))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("lead"))
}

/// One logged call.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallOut {
    /// Id.
    pub id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// Who called.
    pub user_id: Option<Uuid>,
    /// How it went.
    pub outcome: CallOutcome,
    /// Note.
    pub note: Option<String>,
    /// Length.
    pub duration_seconds: Option<i32>,
    /// Call back then.
    pub next_call_at: Option<DateTime<Utc>>,
    /// When.
    pub created_at: DateTime<Utc>,
}

fn call_out(c: call_log::Model) -> CallOut {
    CallOut {
        id: c.id,
        lead_id: c.lead_id,
        user_id: c.user_id,
        outcome: CallOutcome::parse(&c.outcome).unwrap_or(CallOutcome::NoAnswer),
        note: c.note,
        duration_seconds: c.duration_seconds,
        next_call_at: c.next_call_at,
        created_at: c.created_at,
    }
}

async fn calls_of(db: &impl ConnectionTrait, lead: Uuid) -> Result<Vec<CallOut>, sea_orm::DbErr> {
    Ok(call_log::Entity::find()
        .filter(call_log::Column::LeadId.eq(lead))
        .order_by_desc(call_log::Column::CreatedAt)
        .order_by_desc(call_log::Column::Id)
        .limit(500)
        .all(db)
        .await?
        .into_iter()
        .map(call_out)
        .collect())
}

/// A lead with its calls, audit trail and the phone's record.
#[derive(Debug, Serialize, ToSchema)]
pub struct LeadDetail {
    /// The lead.
    pub lead: LeadOut,
    /// Its calls, newest first.
    pub calls: Vec<CallOut>,
    /// Its changes, oldest first.
    pub audit: Vec<AuditOut>,
    /// The phone's delivery record and blacklist verdict.
    pub phone_record: PhoneRecord,
}

/// `GET /leads/{id}`.
pub async fn get(state: &AppState, p: &Principal, id: Uuid) -> AppResult<LeadDetail> {
    p.require(Permission::WorkLeads)?;
    let db = &state.db.read;
    let l = find(db, p.workspace_id, id).await?;
    let phone_record = blacklist::phone_record(db, p.workspace_id, &l.phone).await?;
    Ok(LeadDetail {
        calls: calls_of(db, id).await?,
        audit: audit::trail(db, p.workspace_id, ("lead", id.to_string())).await?,
        lead: view(db, l).await?,
        phone_record,
    })
}

/// `GET /leads/{id}/calls`.
pub async fn calls(state: &AppState, p: &Principal, id: Uuid) -> AppResult<Vec<CallOut>> {
    p.require(Permission::WorkLeads)?;
    find(&state.db.read, p.workspace_id, id).await?;
    Ok(calls_of(&state.db.read, id).await?)
}

/// Move a lead to `to` (checked against [`Stage::can_move_to`], `422` otherwise), audited as
/// `lead.stage_changed` in `txn`; the model comes back updated. For other services (an order
/// confirmed from a lead makes it `won`): after commit, publish `lead.updated` with
/// [`view`] and, when the lead closed, call [`assignment::hand_out_quietly`].
pub async fn move_stage(
    txn: &impl ConnectionTrait,
    actor: Option<Uuid>,
    l: lead::Model,
    to: Stage,
    reason: Option<String>,
) -> AppResult<lead::Model> {
    let from = Stage::parse(&l.stage).unwrap_or(Stage::New);
    if !from.can_move_to(to) {
        return Err(AppError::refused(
            "invalid_transition",
            format!("a {} lead cannot become {}", from.as_str(), to.as_str()),
        ));
    }
    let reason = reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if to == Stage::Lost && reason.is_none() {
        return Err(AppError::refused(
            "lost_reason_required",
            "a lost lead needs a reason",
        ));
    }
    let now = Utc::now();
    let ws = l.workspace_id;
    let id = l.id;
    let mut am = l.into_active_model();
    am.stage = Set(to.as_str().to_owned());
    am.lost_reason = Set(if to == Stage::Lost {
        reason.clone()
    } else {
        None
    });
    am.closed_at = Set((!to.is_open()).then_some(now));
    if !to.is_open() {
        am.next_call_at = Set(None);
    }
    am.touched_at = Set(Some(now));
    am.updated_at = Set(now);
    let l = am.update(txn).await?;
    audit::record(
        txn,
        ws,
        actor,
        "lead.stage_changed",
        ("lead", id.to_string()),
        json!({ "from": from.as_str(), "to": to.as_str(), "reason": reason }),
    )
    .await?;
    Ok(l)
}

/// A stage change.
#[derive(Debug, Deserialize, ToSchema)]
pub struct LeadPatch {
    /// The new stage.
    pub stage: Stage,
    /// Why (required for `lost`).
    pub lost_reason: Option<String>,
}

/// `PATCH /leads/{id}`.
pub async fn update(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    patch: LeadPatch,
) -> AppResult<LeadOut> {
    p.require(Permission::WorkLeads)?;
    let txn = state.db.write.begin().await?;
    let l = find(&txn, p.workspace_id, id).await?;
    let l = move_stage(&txn, p.user_id, l, patch.stage, patch.lost_reason).await?;
    let out = view(&txn, l).await?;
    txn.commit().await?;
    state
        .bus
        .publish(p.workspace_id, "lead.updated", json!({ "lead": out }))
        .await;
    if !patch.stage.is_open() && out.assignee_id.is_some() {
        assignment::hand_out_quietly(state, p.workspace_id).await;
    }
    Ok(out)
}

/// Who gets a lead.
#[derive(Debug, Deserialize, ToSchema)]
pub struct AssignIn {
    /// The agent; `null` puts it back in the queue.
    pub assignee_id: Option<Uuid>,
}

/// `POST /leads/{id}/assign`: managers assign anyone (or nobody); an agent may take an
/// unassigned lead for themselves.
pub async fn assign(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: AssignIn,
) -> AppResult<LeadOut> {
    p.require(Permission::WorkLeads)?;
    let txn = state.db.write.begin().await?;
    let l = find(&txn, p.workspace_id, id).await?;
    let manager = p.role.can(Permission::ManageAssignment);
    if !manager {
        let taking = input.assignee_id.is_some()
            && input.assignee_id == p.user_id
            && l.assignee_id.is_none_or(|a| Some(a) == p.user_id);
        if !taking {
            return Err(AppError::forbidden(
                "forbidden",
                "agents may only take unassigned leads for themselves",
            ));
        }
    }
    if let Some(uid) = input.assignee_id {
        membership::Entity::find()
            .filter(membership::Column::WorkspaceId.eq(p.workspace_id))
            .filter(membership::Column::UserId.eq(uid))
            .one(&txn)
            .await?
            .ok_or_else(|| {
                AppError::bad_request(
                    "invalid_assignee",
                    "assignee is not a member of this workspace",
                )
            })?;
    }
    let from = l.assignee_id;
    let now = Utc::now();
    let mut am = l.into_active_model();
    am.assignee_id = Set(input.assignee_id);
    am.assigned_at = Set(input.assignee_id.map(|_| now));
    am.updated_at = Set(now);
    let l = am.update(&txn).await?;
    audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "lead.assigned",
        ("lead", id.to_string()),
        json!({ "from": from, "to": input.assignee_id, "by": "hand" }),
    )
    .await?;
    let out = view(&txn, l).await?;
    txn.commit().await?;
    state
        .bus
        .publish(p.workspace_id, "lead.assigned", json!({ "lead": out }))
        .await;
    Ok(out)
}

/// A call to log.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CallIn {
    /// How it went.
    pub outcome: CallOutcome,
    /// Note.
    pub note: Option<String>,
    /// Length in seconds.
    pub duration_seconds: Option<i32>,
    /// Call back then (required, in the future, for `call_back`).
    pub next_call_at: Option<DateTime<Utc>>,
}

/// A logged call and the lead after it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallLogged {
    /// The call.
    pub call: CallOut,
    /// The lead.
    pub lead: LeadOut,
}

/// `POST /leads/{id}/calls`: log a call; its outcome may move the lead along, and a call back
/// schedules a reminder for the lead's agent.
pub async fn log_call(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: CallIn,
) -> AppResult<CallLogged> {
    p.require(Permission::WorkLeads)?;
    let now = Utc::now();
    // Microsecond precision, as both databases store it (the reminder compares it).
    let next = input
        .next_call_at
        .and_then(|t| DateTime::from_timestamp_micros(t.timestamp_micros()));
    let next = match input.outcome {
        CallOutcome::CallBack => match next {
            Some(t) if t > now => Some(t),
            _ => {
                return Err(AppError::refused(
                    "next_call_required",
                    "a call back needs next_call_at in the future",
                ));
            }
        },
        _ => None,
    };
    if input.duration_seconds.is_some_and(|d| d < 0) {
        return Err(AppError::bad_request(
            "invalid_duration",
            "duration_seconds cannot be negative",
        ));
    }
    let txn = state.db.write.begin().await?;
    let l = find(&txn, p.workspace_id, id).await?;
    let call = call_log::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(p.workspace_id),
        lead_id: Set(id),
        user_id: Set(p.user_id),
        outcome: Set(input.outcome.as_str().to_owned()),
        note: Set(input
            .note
            .map(|n| n.trim().to_owned())
            .filter(|n| !n.is_empty())),
        next_call_at: Set(next),
        created_at: Set(now),
        duration_seconds: Set(input.duration_seconds),
    }
    .insert(&txn)
    .await?;
    let current = Stage::parse(&l.stage).unwrap_or(Stage::New);
    let l = match input.outcome.next_stage(current) {
        Some((to, reason)) => move_stage(&txn, p.user_id, l, to, reason.map(str::to_owned)).await?,
        None => l,
    };
    let mut am = l.into_active_model();
    am.touched_at = Set(Some(now));
    am.next_call_at = Set(next);
    am.updated_at = Set(now);
    let l = am.update(&txn).await?;
    if let Some(t) = next {
        jobs::enqueue(
            &txn,
            jobs::kind::LEAD_CALLBACK,
            json!({ "lead_id": id, "next_call_at_us": t.timestamp_micros() }),
            t,
        )
        .await?;
    }
    let closed = !Stage::parse(&l.stage).unwrap_or(Stage::New).is_open();
    let out = view(&txn, l).await?;
    txn.commit().await?;
    let call = call_out(call);
    state
        .bus
        .publish(
            p.workspace_id,
            "lead.updated",
            json!({ "lead": out, "call": call }),
        )
        .await;
    if closed && out.assignee_id.is_some() {
        assignment::hand_out_quietly(state, p.workspace_id).await;
    }
    Ok(CallLogged { call, lead: out })
}

/// Run a `lead_callback` job: remind the lead's agent, unless the call back was rescheduled or
/// cleared since (then another job, or none, is due).
pub async fn callback_due(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let db_err = |e: sea_orm::DbErr| JobFailure::retry(format!("database: {e}"));
    let (Some(id), Some(at)) = (
        j.payload
            .get("lead_id")
            .and_then(|v| v.as_str())
            .and_then(|s| s.parse::<Uuid>().ok()),
        j.payload.get("next_call_at_us").and_then(|v| v.as_i64()),
    ) else {
        return Err(JobFailure::fatal(
            "payload needs lead_id and next_call_at_us",
        ));
    };
    let Some(l) = lead::Entity::find_by_id(id)
        .one(&state.db.write)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    if l.next_call_at.map(|t| t.timestamp_micros()) != Some(at) {
        return Ok(());
    }
    let ws = l.workspace_id;
    let assignee = l.assignee_id;
    let out = view(&state.db.write, l).await.map_err(db_err)?;
    state
        .bus
        .publish(
            ws,
            "lead.callback_due",
            json!({ "lead": out, "assignee_id": assignee }),
        )
        .await;
    Ok(())
}
