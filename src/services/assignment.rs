//! Distribution of work among the agents on shift: new leads (and new conversations when the
//! workspace says so) go round-robin to available agents under their cap
//! ([`crate::domain::assignment`]); what finds nobody free waits unassigned (the queue) and is
//! handed out when someone frees up — an agent comes on shift, closes a lead or a conversation,
//! or the periodic [`sweep`] runs. The sweep also returns leads nobody touched in time to the
//! queue.

use chrono::{DateTime, Utc};
use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::assignment::{Candidate, distribute, pick};
use crate::domain::lead::Stage;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::services::normalize::{Outgoing, publish};
use crate::services::pipeline::{self, PipelineSettings};
use crate::services::{audit, leads, views};
use crate::state::AppState;
use crate::store::entities::{conversation, lead, membership, workspace};

/// Queued items handed out per pass.
const HAND_OUT_BATCH: u64 = 200;

/// Stages of a lead still being worked.
pub const OPEN_STAGES: [&str; 3] = ["new", "contacted", "qualified"];

/// The agents of `ws` who take work now (role agent, available), with their load and turn.
pub async fn candidates(
    db: &impl ConnectionTrait,
    ws: Uuid,
    s: &PipelineSettings,
) -> Result<Vec<Candidate>, sea_orm::DbErr> {
    let members = membership::Entity::find()
        .filter(membership::Column::WorkspaceId.eq(ws))
        .filter(membership::Column::Role.eq("agent"))
        .filter(membership::Column::Available.eq(true))
        .all(db)
        .await?;
    if members.is_empty() {
        return Ok(Vec::new());
    }
    // Open items per agent: two grouped counts, whatever the number of agents.
    let ids: Vec<Uuid> = members.iter().map(|m| m.user_id).collect();
    let mut open: HashMap<Uuid, u64> = HashMap::new();
    let leads: Vec<(Option<Uuid>, i64)> = lead::Entity::find()
        .select_only()
        .column(lead::Column::AssigneeId)
        .column_as(Expr::col(lead::Column::Id).count(), "n")
        .filter(lead::Column::WorkspaceId.eq(ws))
        .filter(lead::Column::AssigneeId.is_in(ids.clone()))
        .filter(lead::Column::Stage.is_in(OPEN_STAGES))
        .group_by(lead::Column::AssigneeId)
        .into_tuple()
        .all(db)
        .await?;
    let convs: Vec<(Option<Uuid>, i64)> = conversation::Entity::find()
        .select_only()
        .column(conversation::Column::AssigneeId)
        .column_as(Expr::col(conversation::Column::Id).count(), "n")
        .filter(conversation::Column::WorkspaceId.eq(ws))
        .filter(conversation::Column::AssigneeId.is_in(ids))
        .filter(conversation::Column::Status.ne("resolved"))
        .group_by(conversation::Column::AssigneeId)
        .into_tuple()
        .all(db)
        .await?;
    for (who, n) in leads.into_iter().chain(convs) {
        if let Some(who) = who {
            *open.entry(who).or_default() += u64::try_from(n).unwrap_or(0);
        }
    }
    Ok(members
        .into_iter()
        .map(|m| Candidate {
            user_id: m.user_id,
            open: open.get(&m.user_id).copied().unwrap_or(0),
            cap: u64::try_from(m.max_open.unwrap_or(s.max_open_per_agent)).unwrap_or(0),
            last_assigned_at: m.last_assigned_at,
        })
        .collect())
}

async fn stamp(
    db: &impl ConnectionTrait,
    ws: Uuid,
    user: Uuid,
    at: DateTime<Utc>,
) -> Result<(), sea_orm::DbErr> {
    membership::Entity::update_many()
        .col_expr(membership::Column::LastAssignedAt, Expr::value(at))
        .filter(membership::Column::WorkspaceId.eq(ws))
        .filter(membership::Column::UserId.eq(user))
        .exec(db)
        .await?;
    Ok(())
}

/// The agent whose turn it is for one new item (inside the caller's transaction), marking the
/// turn taken; `None`: nobody is free, the item stays in the queue.
pub async fn pick_in(
    db: &impl ConnectionTrait,
    ws: Uuid,
    s: &PipelineSettings,
) -> Result<Option<Uuid>, sea_orm::DbErr> {
    let cands = candidates(db, ws, s).await?;
    let Some(who) = pick(&cands) else {
        return Ok(None);
    };
    stamp(db, ws, who, Utc::now()).await?;
    Ok(Some(who))
}

/// A new conversation of the normalizer: handed to the next agent when the workspace
/// distributes conversations. Updates `conv` in place.
pub async fn distribute_new_conversation(
    db: &impl ConnectionTrait,
    s: &PipelineSettings,
    conv: &mut conversation::Model,
) -> Result<bool, sea_orm::DbErr> {
    if !s.distribute_conversations || conv.assignee_id.is_some() {
        return Ok(false);
    }
    let Some(who) = pick_in(db, conv.workspace_id, s).await? else {
        return Ok(false);
    };
    let now = Utc::now();
    let mut am = conv.clone().into_active_model();
    am.assignee_id = Set(Some(who));
    am.assigned_at = Set(Some(now));
    *conv = am.update(db).await?;
    Ok(true)
}

/// Hand queued work of `ws` to the agents free now. Returns how many items were handed out.
pub async fn hand_out(state: &AppState, ws: Uuid) -> Result<usize, sea_orm::DbErr> {
    let s = pipeline::load(&state.db.write, ws).await?;
    if !s.distribute_leads && !s.distribute_conversations {
        return Ok(0);
    }
    let txn = state.db.write.begin().await?;
    // The queue first (one cheap query when it is empty, the common case).
    let queued_leads = if s.distribute_leads {
        lead::Entity::find()
            .filter(lead::Column::WorkspaceId.eq(ws))
            .filter(lead::Column::AssigneeId.is_null())
            .filter(lead::Column::Stage.is_in(OPEN_STAGES))
            .order_by_asc(lead::Column::CreatedAt)
            .order_by_asc(lead::Column::Id)
            .limit(HAND_OUT_BATCH)
            .all(&txn)
            .await?
    } else {
        Vec::new()
    };
    let queued_convs = if s.distribute_conversations {
        conversation::Entity::find()
            .filter(conversation::Column::WorkspaceId.eq(ws))
            .filter(conversation::Column::AssigneeId.is_null())
            .filter(conversation::Column::Status.ne("resolved"))
            .filter(conversation::Column::LastMessageAt.is_not_null())
            .order_by_asc(conversation::Column::CreatedAt)
            .order_by_asc(conversation::Column::Id)
            .limit(HAND_OUT_BATCH)
            .all(&txn)
            .await?
    } else {
        Vec::new()
    };
    if queued_leads.is_empty() && queued_convs.is_empty() {
        return Ok(0);
    }
    let mut cands = candidates(&txn, ws, &s).await?;
    if !cands.iter().any(Candidate::is_free) {
        return Ok(0);
    }
    let now = Utc::now();
    let who = distribute(&mut cands, queued_leads.len() + queued_convs.len(), now);
    let mut frames = Vec::new();
    let mut handed = 0;
    let mut leads_iter = queued_leads.into_iter();
    let mut convs_iter = queued_convs.into_iter();
    for user in &who {
        if let Some(l) = leads_iter.next() {
            let res = lead::Entity::update_many()
                .col_expr(lead::Column::AssigneeId, Expr::value(*user))
                .col_expr(lead::Column::AssignedAt, Expr::value(now))
                .col_expr(lead::Column::UpdatedAt, Expr::value(now))
                .filter(lead::Column::Id.eq(l.id))
                .filter(lead::Column::AssigneeId.is_null())
                .exec(&txn)
                .await?;
            if res.rows_affected == 1 {
                handed += 1;
                audit::record(
                    &txn,
                    ws,
                    None,
                    "lead.assigned",
                    ("lead", l.id.to_string()),
                    json!({ "from": null, "to": user, "by": "distribution" }),
                )
                .await?;
                let l = lead::Entity::find_by_id(l.id).one(&txn).await?;
                if let Some(l) = l {
                    frames.push(Outgoing {
                        workspace: ws,
                        kind: "lead.assigned",
                        data: json!({ "lead": leads::view(&txn, l).await? }),
                    });
                }
            }
        } else if let Some(c) = convs_iter.next() {
            let res = conversation::Entity::update_many()
                .col_expr(conversation::Column::AssigneeId, Expr::value(*user))
                .col_expr(conversation::Column::AssignedAt, Expr::value(now))
                .col_expr(conversation::Column::UpdatedAt, Expr::value(now))
                .filter(conversation::Column::Id.eq(c.id))
                .filter(conversation::Column::AssigneeId.is_null())
                .exec(&txn)
                .await?;
            if res.rows_affected == 1 {
                handed += 1;
                if let Ok(v) = views::conversation_out(&txn, ws, c.id).await {
                    frames.push(Outgoing {
                        workspace: ws,
                        kind: "conversation.updated",
                        data: json!({ "conversation": v }),
                    });
                }
            }
        }
    }
    for c in cands.iter().filter(|c| who.contains(&c.user_id)) {
        if let Some(at) = c.last_assigned_at {
            stamp(&txn, ws, c.user_id, at).await?;
        }
    }
    txn.commit().await?;
    publish(state, frames).await;
    Ok(handed)
}

/// Leads of `ws` still `new` whose agent has not touched them for `minutes`: back to the queue.
async fn return_untouched(
    state: &AppState,
    ws: Uuid,
    minutes: i64,
) -> Result<usize, sea_orm::DbErr> {
    let cutoff = Utc::now() - chrono::Duration::minutes(minutes);
    let stale = lead::Entity::find()
        .filter(lead::Column::WorkspaceId.eq(ws))
        .filter(lead::Column::Stage.eq(Stage::New.as_str()))
        .filter(lead::Column::AssigneeId.is_not_null())
        .filter(lead::Column::AssignedAt.lt(cutoff))
        .filter(
            Condition::any()
                .add(lead::Column::TouchedAt.is_null())
                .add(lead::Column::TouchedAt.lt(cutoff)),
        )
        .limit(200)
        .all(&state.db.write)
        .await?;
    if stale.is_empty() {
        return Ok(0);
    }
    let txn = state.db.write.begin().await?;
    let mut frames = Vec::new();
    let now = Utc::now();
    for l in stale {
        let res = lead::Entity::update_many()
            .col_expr(lead::Column::AssigneeId, Expr::value(Option::<Uuid>::None))
            .col_expr(
                lead::Column::AssignedAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(lead::Column::UpdatedAt, Expr::value(now))
            .filter(lead::Column::Id.eq(l.id))
            .filter(lead::Column::AssigneeId.eq(l.assignee_id))
            .filter(lead::Column::Stage.eq(Stage::New.as_str()))
            .exec(&txn)
            .await?;
        if res.rows_affected != 1 {
            continue;
        }
        audit::record(
            &txn,
            ws,
            None,
            "lead.returned_to_queue",
            ("lead", l.id.to_string()),
            json!({ "from": l.assignee_id, "untouched_minutes": minutes }),
        )
        .await?;
        if let Some(l) = lead::Entity::find_by_id(l.id).one(&txn).await? {
            frames.push(Outgoing {
                workspace: ws,
                kind: "lead.updated",
                data: json!({ "lead": leads::view(&txn, l).await?, "returned_to_queue": true }),
            });
        }
    }
    let n = frames.len();
    txn.commit().await?;
    publish(state, frames).await;
    Ok(n)
}

/// The periodic pass over every workspace: untouched leads back to the queue, then the queue
/// handed out. Returns how many leads were returned plus how many items were handed out.
pub async fn sweep(state: &AppState) -> Result<usize, sea_orm::DbErr> {
    let mut total = 0;
    let workspaces = workspace::Entity::find().all(&state.db.read).await?;
    for w in workspaces {
        let s: PipelineSettings = w
            .settings
            .clone()
            .and_then(|v| serde_json::from_value(v).ok())
            .unwrap_or_default();
        if s.lead_untouched_minutes > 0 {
            total += return_untouched(state, w.id, s.lead_untouched_minutes).await?;
        }
        total += hand_out(state, w.id).await?;
    }
    Ok(total)
}

/// Hand out the queue of `ws`, logging instead of failing (the caller's change is committed).
pub async fn hand_out_quietly(state: &AppState, ws: Uuid) {
    if let Err(e) = hand_out(state, ws).await {
        tracing::warn!(error = %e, workspace = %ws, "could not hand out queued work");
    }
}

/// On shift or not.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Availability {
    /// Takes new assignments.
    pub available: bool,
}

/// `PUT /me/availability`: the caller comes on or goes off shift; coming on hands out queued
/// work at once.
pub async fn set_availability(
    state: &AppState,
    p: &Principal,
    input: Availability,
) -> AppResult<Availability> {
    let user = p.user_id.ok_or_else(|| {
        AppError::bad_request("not_a_user", "only signed-in members have an availability")
    })?;
    let res = membership::Entity::update_many()
        .col_expr(membership::Column::Available, Expr::value(input.available))
        .filter(membership::Column::WorkspaceId.eq(p.workspace_id))
        .filter(membership::Column::UserId.eq(user))
        .exec(&state.db.write)
        .await?;
    if res.rows_affected == 0 {
        return Err(AppError::NotFound("member"));
    }
    state
        .bus
        .publish(
            p.workspace_id,
            "member.updated",
            json!({ "user_id": user, "available": input.available }),
        )
        .await;
    if input.available {
        hand_out(state, p.workspace_id).await?;
    }
    Ok(input)
}
