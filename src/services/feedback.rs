//! The customer side of an order after it leaves: status messages from the workspace's
//! templates, the feedback question some hours after delivery, and its answer (a rating and a
//! comment read from the customer's next message). Unhappy answers open a complaint on the
//! conversation for customer care; happy ones make the contact a promoter.
//!
//! [`on_status`] and [`on_delivered`] run inside the orders service's transaction and publish
//! nothing (see [`crate::services::notify`]); [`note_answer`] runs inside the normalizer's
//! transaction and hands its frames to it.

use chrono::{DateTime, Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::domain::feedback::{
    COMPLAINT_LABEL, COMPLAINT_PENDING, ComplaintCategory, fill, order_code, parse_answer,
};
use crate::domain::order::OrderStatus;
use crate::domain::role::Permission;
use crate::error::{AppError, AppResult};
use crate::services::auth::Principal;
use crate::services::jobs::{self, JobFailure};
use crate::services::normalize::Outgoing;
use crate::services::{audit, notify, pipeline, settings, views};
use crate::state::AppState;
use crate::store::entities::{
    channel_account, contact, conversation, conversation_label, feedback, job, message, order,
    order_event,
};

/// How long after the question an answer is still read as one.
const ANSWER_WITHIN_DAYS: i64 = 7;

/// Add an entry to an order's timeline.
async fn timeline(
    db: &impl ConnectionTrait,
    o: &order::Model,
    kind: &str,
    source: &str,
    data: serde_json::Value,
) -> Result<(), sea_orm::DbErr> {
    order_event::ActiveModel {
        workspace_id: Set(o.workspace_id),
        order_id: Set(o.id),
        kind: Set(kind.to_owned()),
        from_status: Set(None),
        to_status: Set(None),
        actor_user_id: Set(None),
        source: Set(source.to_owned()),
        data: Set(Some(data)),
        created_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The conversation to message an order's customer in: the one it was made from, else the
/// contact's (or the contact it was merged into) most recent direct conversation.
pub async fn order_conversation(
    db: &impl ConnectionTrait,
    o: &order::Model,
) -> Result<Option<conversation::Model>, sea_orm::DbErr> {
    if let Some(id) = o.conversation_id {
        let c = conversation::Entity::find_by_id(id)
            .filter(conversation::Column::WorkspaceId.eq(o.workspace_id))
            .one(db)
            .await?;
        if c.is_some() {
            return Ok(c);
        }
    }
    let Some(contact_id) = o.contact_id else {
        return Ok(None);
    };
    let contact_id = contact::Entity::find_by_id(contact_id)
        .one(db)
        .await?
        .and_then(|c| c.merged_into)
        .unwrap_or(contact_id);
    conversation::Entity::find()
        .filter(conversation::Column::WorkspaceId.eq(o.workspace_id))
        .filter(conversation::Column::ContactId.eq(contact_id))
        .filter(conversation::Column::Kind.eq("direct"))
        .filter(conversation::Column::LastInboundAt.is_not_null())
        .order_by_desc(conversation::Column::LastInboundAt)
        .one(db)
        .await
}

/// Queue `text` for the customer of `o` and record the outcome on its timeline:
/// `on_ok(message)` when queued, `notify_skipped` with the reason when not.
async fn send_for_order(
    db: &impl ConnectionTrait,
    o: &order::Model,
    conv: Option<conversation::Model>,
    text: &str,
    what: serde_json::Value,
) -> Result<Option<message::Model>, sea_orm::DbErr> {
    let outcome = match conv {
        Some(c) => notify::queue_automatic_why(db, &c, text).await?,
        None => Err("the order has no conversation with the customer".into()),
    };
    match outcome {
        Ok(m) => Ok(Some(m)),
        Err(reason) => {
            let mut data = what;
            data["reason"] = json!(reason);
            timeline(db, o, "notify_skipped", "system", data).await?;
            Ok(None)
        }
    }
}

/// An order's status changed (inside the same transaction): message the customer when the
/// workspace has a template for `status` and the platform allows a message now.
pub async fn on_status(
    db: &impl ConnectionTrait,
    order: &order::Model,
    status: OrderStatus,
) -> Result<(), sea_orm::DbErr> {
    let settings = pipeline::load(db, order.workspace_id).await?;
    let Some(template) = settings
        .status_templates
        .get(status.as_str())
        .filter(|t| !t.trim().is_empty())
    else {
        return Ok(());
    };
    let code = order_code(order.id);
    let text = fill(
        template,
        &[
            ("order", &code),
            (
                "tracking_code",
                order.tracking_code.as_deref().unwrap_or(""),
            ),
            ("carrier", order.carrier.as_deref().unwrap_or("")),
        ],
    );
    let conv = order_conversation(db, order).await?;
    let what = json!({ "status": status.as_str() });
    if let Some(m) = send_for_order(db, order, conv, &text, what).await? {
        timeline(
            db,
            order,
            "customer_notified",
            "system",
            json!({ "message_id": m.id, "status": status.as_str(), "conversation_id": m.conversation_id }),
        )
        .await?;
    }
    Ok(())
}

/// An order just became `delivered` (inside the transaction of that change): schedule the
/// feedback question `feedback_delay_hours` after delivery (once per order).
pub async fn on_delivered(
    db: &impl ConnectionTrait,
    order: &order::Model,
) -> Result<(), sea_orm::DbErr> {
    let settings = pipeline::load(db, order.workspace_id).await?;
    if settings.feedback_delay_hours <= 0 {
        return Ok(());
    }
    let now = Utc::now();
    let conv = order_conversation(db, order).await?;
    let id = Uuid::now_v7();
    let inserted = feedback::Entity::insert(feedback::ActiveModel {
        id: Set(id),
        workspace_id: Set(order.workspace_id),
        order_id: Set(order.id),
        contact_id: Set(order.contact_id),
        conversation_id: Set(conv.as_ref().map(|c| c.id)),
        requested_at: Set(None),
        rating: Set(None),
        comment: Set(None),
        category: Set(None),
        answered_at: Set(None),
        created_at: Set(now),
    })
    .on_conflict_do_nothing_on([feedback::Column::OrderId])
    .exec_without_returning(db)
    .await?;
    if !matches!(inserted, sea_orm::TryInsertResult::Inserted(n) if n > 0) {
        return Ok(()); // already scheduled
    }
    let run_at = order.delivered_at.unwrap_or(now)
        + Duration::hours(settings.feedback_delay_hours.min(24 * 365));
    jobs::enqueue(
        db,
        jobs::kind::REQUEST_FEEDBACK,
        json!({ "feedback_id": id }),
        run_at,
    )
    .await?;
    timeline(
        db,
        order,
        "feedback_scheduled",
        "system",
        json!({ "feedback_id": id, "at": run_at }),
    )
    .await
}

/// Run a `request_feedback` job (`{"feedback_id"}`): send the question if the platform allows
/// it now. When it does not, the reason goes on the order's timeline and the job ends (a closed
/// window stays closed until the customer writes: retrying would only repeat the refusal).
pub async fn request(state: &AppState, j: &job::Model) -> Result<(), JobFailure> {
    let db_err = |e: sea_orm::DbErr| JobFailure::retry(format!("database: {e}"));
    let id: Uuid = j
        .payload
        .get("feedback_id")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| JobFailure::fatal("payload has no feedback_id"))?;
    let txn = state.db.write.begin().await.map_err(db_err)?;
    let Some(f) = feedback::Entity::find_by_id(id)
        .one(&txn)
        .await
        .map_err(db_err)?
    else {
        return Ok(()); // the order was deleted since
    };
    if f.requested_at.is_some() || f.answered_at.is_some() {
        return Ok(()); // asked by an earlier run
    }
    let Some(o) = order::Entity::find_by_id(f.order_id)
        .one(&txn)
        .await
        .map_err(db_err)?
    else {
        return Ok(());
    };
    let settings = pipeline::load(&txn, o.workspace_id).await.map_err(db_err)?;
    let what = json!({ "purpose": "feedback", "feedback_id": f.id });
    let conv = match f.conversation_id {
        Some(cid) => conversation::Entity::find_by_id(cid)
            .one(&txn)
            .await
            .map_err(db_err)?,
        None => None,
    };
    let conv = match conv {
        Some(c) => Some(c),
        None => order_conversation(&txn, &o).await.map_err(db_err)?,
    };
    let text = fill(&settings.feedback_template, &[("order", &order_code(o.id))]);
    let sent = if text.trim().is_empty() {
        let mut data = what;
        data["reason"] = json!("no feedback question is configured");
        timeline(&txn, &o, "notify_skipped", "system", data)
            .await
            .map_err(db_err)?;
        None
    } else {
        send_for_order(&txn, &o, conv, &text, what)
            .await
            .map_err(db_err)?
    };
    let mut out = None;
    if let Some(m) = sent {
        let now = Utc::now();
        let mut am = f.into_active_model();
        am.requested_at = Set(Some(now));
        // The answer comes where the question went (a comment thread's customer is asked in
        // their direct conversation).
        am.conversation_id = Set(Some(m.conversation_id));
        let f = am.update(&txn).await.map_err(db_err)?;
        timeline(
            &txn,
            &o,
            "feedback_requested",
            "system",
            json!({ "feedback_id": f.id, "message_id": m.id }),
        )
        .await
        .map_err(db_err)?;
        let conv = views::conversation_out(&txn, o.workspace_id, m.conversation_id)
            .await
            .map_err(|e| JobFailure::retry(e.to_string()))?;
        out = Some((m, conv));
    }
    txn.commit().await.map_err(db_err)?;
    if let Some((m, conv)) = out {
        state
            .bus
            .publish(
                m.workspace_id,
                "message.created",
                json!({ "message": views::MessageOut::from(m), "conversation": conv }),
            )
            .await;
        state.jobs_notify.notify_one();
    }
    Ok(())
}

/// A customer's message on `conv` (inside the normalizer's transaction, after `msg` is
/// stored): when the conversation awaits an answer to a feedback question (asked within the
/// last 7 days) and the text carries a rating, store the answer and act on it. Anything else
/// is just a message.
pub async fn note_answer(
    db: &impl ConnectionTrait,
    conv: &conversation::Model,
    msg: &message::Model,
    frames: &mut Vec<Outgoing>,
) -> Result<(), sea_orm::DbErr> {
    if msg.direction != "in" || msg.kind != "message" {
        return Ok(());
    }
    // The text first: most messages carry no rating and cost no query.
    let Some(answer) = msg.text.as_deref().and_then(parse_answer) else {
        return Ok(());
    };
    let now = Utc::now();
    let Some(f) = feedback::Entity::find()
        .filter(feedback::Column::WorkspaceId.eq(conv.workspace_id))
        .filter(feedback::Column::ConversationId.eq(conv.id))
        .filter(feedback::Column::AnsweredAt.is_null())
        .filter(feedback::Column::RequestedAt.gte(now - Duration::days(ANSWER_WITHIN_DAYS)))
        .order_by_desc(feedback::Column::RequestedAt)
        .one(db)
        .await?
    else {
        return Ok(());
    };
    let ws = conv.workspace_id;
    let mut am = f.into_active_model();
    am.rating = Set(Some(i32::from(answer.rating)));
    am.comment = Set(answer.comment.clone());
    am.answered_at = Set(Some(now));
    let f = am.update(db).await?;
    if let Some(o) = order::Entity::find_by_id(f.order_id).one(db).await? {
        timeline(
            db,
            &o,
            "feedback",
            "customer",
            json!({ "feedback_id": f.id, "rating": answer.rating, "comment": answer.comment, "message_id": msg.id }),
        )
        .await?;
    }
    audit::record(
        db,
        ws,
        None,
        "feedback.received",
        ("feedback", f.id.to_string()),
        json!({ "order_id": f.order_id, "rating": answer.rating, "comment": answer.comment, "message_id": msg.id }),
    )
    .await?;
    frames.push(Outgoing {
        workspace: ws,
        kind: "feedback.received",
        data: json!({ "feedback": FeedbackOut::from(f.clone()) }),
    });
    if answer.is_complaint() {
        let c = conversation::Entity::find_by_id(conv.id)
            .one(db)
            .await?
            .unwrap_or_else(|| conv.clone());
        let mut am = c.clone().into_active_model();
        if c.complaint.is_none() {
            am.complaint = Set(Some(COMPLAINT_PENDING.to_owned()));
        }
        // Customer care picks it up: open, with the assignee it has (or in the queue).
        am.status = Set("open".into());
        am.updated_at = Set(now);
        let c = am.update(db).await?;
        attach_label(db, ws, c.id, COMPLAINT_LABEL).await?;
        audit::record(
            db,
            ws,
            None,
            "conversation.complaint_opened",
            ("conversation", c.id.to_string()),
            json!({ "feedback_id": f.id, "order_id": f.order_id, "rating": answer.rating }),
        )
        .await?;
        frames.push(Outgoing {
            workspace: ws,
            kind: "conversation.updated",
            data: json!({ "conversation": conversation_view(db, c).await? }),
        });
    } else if answer.is_promoter() {
        let contact_id = f.contact_id.unwrap_or(conv.contact_id);
        let contact_id = contact::Entity::find_by_id(contact_id)
            .one(db)
            .await?
            .and_then(|c| c.merged_into)
            .unwrap_or(contact_id);
        let changed = contact::Entity::update_many()
            .col_expr(contact::Column::Promoter, Expr::value(true))
            .col_expr(contact::Column::UpdatedAt, Expr::value(now))
            .filter(contact::Column::Id.eq(contact_id))
            .filter(contact::Column::Promoter.eq(false))
            .exec(db)
            .await?;
        if changed.rows_affected > 0 {
            audit::record(
                db,
                ws,
                None,
                "contact.promoter",
                ("contact", contact_id.to_string()),
                json!({ "feedback_id": f.id, "order_id": f.order_id, "rating": answer.rating }),
            )
            .await?;
            frames.push(Outgoing {
                workspace: ws,
                kind: "contact.updated",
                data: json!({ "contact_id": contact_id, "promoter": true }),
            });
        }
    }
    Ok(())
}

/// Put the label `name` on a conversation (kept if it is there already).
async fn attach_label(
    db: &impl ConnectionTrait,
    ws: Uuid,
    conversation: Uuid,
    name: &str,
) -> Result<(), sea_orm::DbErr> {
    let l = settings::ensure_label(db, ws, name).await?;
    conversation_label::Entity::insert(conversation_label::ActiveModel {
        conversation_id: Set(conversation),
        label_id: Set(l.id),
    })
    .on_conflict_do_nothing_on([
        conversation_label::Column::ConversationId,
        conversation_label::Column::LabelId,
    ])
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// The view of a conversation in hand (as the inbox frames carry it).
async fn conversation_view(
    db: &impl ConnectionTrait,
    c: conversation::Model,
) -> Result<views::ConversationOut, sea_orm::DbErr> {
    let acc = channel_account::Entity::find_by_id(c.channel_account_id)
        .one(db)
        .await?
        .ok_or_else(|| sea_orm::DbErr::RecordNotFound("channel account".into()))?;
    let person = contact::Entity::find_by_id(c.contact_id).one(db).await?;
    let labels = views::label_names(db, c.id).await?;
    let facts = views::reply_facts(db, &c, &acc, false, None).await?;
    Ok(views::conversation_view(
        c,
        &acc,
        person.as_ref(),
        labels,
        facts,
    ))
}

/// An answer to a feedback question.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FeedbackOut {
    /// Id.
    pub id: Uuid,
    /// The order.
    pub order_id: Uuid,
    /// The order's short code, as the customer saw it.
    pub order_code: String,
    /// The customer.
    pub contact_id: Option<Uuid>,
    /// Where it was asked and answered.
    pub conversation_id: Option<Uuid>,
    /// 1–5.
    pub rating: Option<i32>,
    /// What else the customer wrote.
    pub comment: Option<String>,
    /// Complaint category (`delivery`, `product_quality`, `online_staff`, `store_staff`,
    /// `sales_policy`), once customer care chose it.
    pub category: Option<String>,
    /// The category as staff read it.
    pub category_label: Option<String>,
    /// When the question was sent.
    pub requested_at: Option<DateTime<Utc>>,
    /// When the answer came.
    pub answered_at: Option<DateTime<Utc>>,
}

impl From<feedback::Model> for FeedbackOut {
    fn from(f: feedback::Model) -> Self {
        FeedbackOut {
            id: f.id,
            order_id: f.order_id,
            order_code: order_code(f.order_id),
            contact_id: f.contact_id,
            conversation_id: f.conversation_id,
            rating: f.rating,
            comment: f.comment,
            category_label: f
                .category
                .as_deref()
                .and_then(ComplaintCategory::parse)
                .map(|c| c.label_vi().to_owned()),
            category: f.category,
            requested_at: f.requested_at,
            answered_at: f.answered_at,
        }
    }
}

/// Filters of the feedback list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedbackFilter {
    /// Only ratings at most this (1–5): `2` lists the complaints.
    pub rating_lte: Option<i32>,
    /// How many (1–200, default 50), newest answers first.
    pub limit: Option<u64>,
}

/// `GET /feedback`: answered feedback, newest first.
pub async fn list(
    state: &AppState,
    p: &Principal,
    f: FeedbackFilter,
) -> AppResult<Vec<FeedbackOut>> {
    p.require(Permission::ReadInbox)?;
    let mut q = feedback::Entity::find()
        .filter(feedback::Column::WorkspaceId.eq(p.workspace_id))
        .filter(feedback::Column::AnsweredAt.is_not_null());
    if let Some(r) = f.rating_lte {
        if !(1..=5).contains(&r) {
            return Err(AppError::bad_request(
                "invalid_rating",
                "rating_lte is 1 to 5",
            ));
        }
        q = q.filter(feedback::Column::Rating.lte(r));
    }
    Ok(q.order_by_desc(feedback::Column::AnsweredAt)
        .order_by_desc(feedback::Column::Id)
        .limit(f.limit.unwrap_or(50).clamp(1, 200))
        .all(&state.db.read)
        .await?
        .into_iter()
        .map(FeedbackOut::from)
        .collect())
}

/// A complaint's category.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ComplaintIn {
    /// The category; `null` closes the complaint (the conversation's labels stay as they are).
    pub category: Option<ComplaintCategory>,
}

/// `PATCH /conversations/{id}/complaint`: choose (or change) the category of the conversation's
/// complaint, or close it with `null`. A category also goes on the conversation's latest
/// unhappy feedback, and marks the conversation with the complaint label.
pub async fn set_complaint(
    state: &AppState,
    p: &Principal,
    id: Uuid,
    input: ComplaintIn,
) -> AppResult<views::ConversationOut> {
    p.require(Permission::WorkInbox)?;
    let txn = state.db.write.begin().await?;
    let c = conversation::Entity::find_by_id(id)
        .filter(conversation::Column::WorkspaceId.eq(p.workspace_id))
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    let category = input.category.map(|c| c.as_str().to_owned());
    let mut am = c.into_active_model();
    am.complaint = Set(category.clone());
    am.updated_at = Set(Utc::now());
    am.update(&txn).await?;
    let mut feedback_id = None;
    if let Some(cat) = &category {
        let latest = feedback::Entity::find()
            .filter(feedback::Column::WorkspaceId.eq(p.workspace_id))
            .filter(feedback::Column::ConversationId.eq(id))
            .filter(feedback::Column::Rating.lte(2))
            .order_by_desc(feedback::Column::AnsweredAt)
            .one(&txn)
            .await?;
        if let Some(f) = latest {
            feedback_id = Some(f.id);
            let mut fam = f.into_active_model();
            fam.category = Set(Some(cat.clone()));
            fam.update(&txn).await?;
        }
        attach_label(&txn, p.workspace_id, id, COMPLAINT_LABEL).await?;
    }
    audit::record(
        &txn,
        p.workspace_id,
        p.user_id,
        "conversation.complaint_set",
        ("conversation", id.to_string()),
        json!({ "category": category, "feedback_id": feedback_id }),
    )
    .await?;
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
    Ok(out)
}
