//! Customer notifications on order status and the feedback loop: status templates sent
//! through the Graph sandbox within Meta's window (skipped and recorded outside it), the
//! feedback question after delivery, answers read from the customer's next message
//! (complaint or promoter), complaint categories and the feedback list.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
    TransactionTrait,
};
use serde_json::{Value, json};
use tongdai::domain::feedback::order_code;
use tongdai::domain::order::OrderStatus;
use tongdai::domain::role::Role;
use tongdai::services::feedback;
use tongdai::store::entities::{
    contact, conversation, feedback as fb, job, order, order_event, workspace,
};
use uuid::Uuid;

use crate::helpers::*;

const PAGE: &str = "105";

/// A shop with a Page and one customer who wrote (a real webhook); the customer's direct
/// conversation.
async fn shop(app: &TestApp) -> (Agent, conversation::Model) {
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    app.customer_says(PAGE, "psid-1", "m_in_1", "Chào shop, đặt áo size M")
        .await;
    app.drain().await;
    app.run_jobs().await; // the profile lookup: each test counts only its own sends
    let conv = conversation::Entity::find()
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    (owner, conv)
}

/// An order row of `conv`'s customer, as the orders service stores one.
async fn order_of(app: &TestApp, conv: &conversation::Model, status: OrderStatus) -> order::Model {
    let now = Utc::now();
    order::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(conv.workspace_id),
        contact_id: Set(Some(conv.contact_id)),
        lead_id: Set(None),
        channel_account_id: Set(Some(conv.channel_account_id)),
        external_id: Set(None),
        status: Set(status.as_str().to_owned()),
        recipient_name: Set(Some("Nguyễn Văn A".into())),
        phone: Set(Some("+84912345678".into())),
        address: Set(Some("12 Lý Thường Kiệt".into())),
        cod_amount: Set(250_000),
        total_amount: Set(250_000),
        note: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        conversation_id: Set(Some(conv.id)),
        source: Set("conversation".into()),
        province: Set(Some("Hà Nội".into())),
        district: Set(Some("Hoàn Kiếm".into())),
        ward: Set(Some("Phường Hàng Bài".into())),
        shipping_fee: Set(30_000),
        discount: Set(0),
        platform_status: Set(None),
        raw: Set(None),
        tracking_code: Set(Some("GHN123456".into())),
        carrier: Set(Some("GHN".into())),
        blacklist_override: Set(None),
        created_by: Set(None),
        confirmed_at: Set(Some(now)),
        delivered_at: Set((status == OrderStatus::Delivered).then_some(now)),
    }
    .insert(&app.state.db.write)
    .await
    .unwrap()
}

/// What the orders service does on a status change: the hooks inside its transaction.
async fn status_changed(app: &TestApp, o: &order::Model, status: OrderStatus) {
    let txn = app.state.db.write.begin().await.unwrap();
    feedback::on_status(&txn, o, status).await.unwrap();
    if status == OrderStatus::Delivered {
        feedback::on_delivered(&txn, o).await.unwrap();
    }
    txn.commit().await.unwrap();
}

async fn events(app: &TestApp, o: &order::Model) -> Vec<order_event::Model> {
    order_event::Entity::find()
        .filter(order_event::Column::OrderId.eq(o.id))
        .order_by_asc(order_event::Column::Id)
        .all(&app.state.db.write)
        .await
        .unwrap()
}

async fn set_last_inbound(app: &TestApp, conv: Uuid, at: chrono::DateTime<Utc>) {
    conversation::Entity::update_many()
        .col_expr(conversation::Column::LastInboundAt, Expr::value(at))
        .filter(conversation::Column::Id.eq(conv))
        .exec(&app.state.db.write)
        .await
        .unwrap();
}

async fn feedback_of(app: &TestApp, o: &order::Model) -> fb::Model {
    fb::Entity::find()
        .filter(fb::Column::OrderId.eq(o.id))
        .one(&app.state.db.write)
        .await
        .unwrap()
        .expect("a feedback row")
}

/// Make the order's feedback job due now.
async fn feedback_job_due(app: &TestApp, f: &fb::Model) -> job::Model {
    let jobs = job::Entity::find()
        .filter(job::Column::Kind.eq("request_feedback"))
        .all(&app.state.db.write)
        .await
        .unwrap();
    let j = jobs
        .into_iter()
        .find(|j| j.payload["feedback_id"] == f.id.to_string())
        .expect("a request_feedback job");
    job::Entity::update_many()
        .col_expr(job::Column::RunAt, Expr::value(Utc::now()))
        .filter(job::Column::Id.eq(j.id))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    j
}

async fn thread(agent: &Agent, conv: Uuid) -> Vec<Value> {
    agent
        .json(&format!("/api/v1/conversations/{conv}/messages"))
        .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test]
async fn a_status_template_reaches_the_customer_and_a_closed_window_is_recorded() {
    let app = spawn_app().await;
    let (owner, conv) = shop(&app).await;
    let mut ws = app.ws(&owner, None).await;

    let o = order_of(&app, &conv, OrderStatus::Shipped).await;
    status_changed(&app, &o, OrderStatus::Shipped).await;
    app.run_jobs().await;
    let sent = app.graph.sent_messages();
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert_eq!(sent[0].recipient_id, "psid-1");
    assert_eq!(
        sent[0].text,
        format!(
            "Đơn {} của bạn đã được giao cho GHN, mã vận đơn GHN123456.",
            order_code(o.id)
        )
    );
    assert_eq!(sent[0].messaging_type, "RESPONSE");
    let ev = events(&app, &o).await;
    let notified = ev.iter().find(|e| e.kind == "customer_notified").unwrap();
    let data = notified.data.clone().unwrap();
    assert_eq!(data["status"], "shipped");
    let mid = data["message_id"].as_str().unwrap().to_owned();

    // The automatic message is in the thread, from the system, and went live when sent.
    let msgs = thread(&owner, conv.id).await;
    let auto = msgs.iter().find(|m| m["id"] == mid.as_str()).unwrap();
    assert_eq!(auto["sender_kind"], "system");
    assert_eq!(auto["direction"], "out");
    assert_eq!(auto["status"], "sent");
    let f = frame_of(&mut ws, "message.updated").await;
    assert_eq!(f["data"]["message"]["id"], mid.as_str());
    assert_eq!(f["data"]["message"]["status"], "sent");
    assert_eq!(f["data"]["message"]["sender_kind"], "system");

    // A status without a template says nothing and records nothing.
    status_changed(&app, &o, OrderStatus::Packed).await;
    assert_eq!(events(&app, &o).await.len(), ev.len());

    // 2 days since the customer wrote: only a person may answer (HUMAN_AGENT), not a template.
    set_last_inbound(&app, conv.id, Utc::now() - Duration::days(2)).await;
    let o2 = order_of(&app, &conv, OrderStatus::Shipped).await;
    status_changed(&app, &o2, OrderStatus::Shipped).await;
    // 8 days: Meta's window is closed.
    set_last_inbound(&app, conv.id, Utc::now() - Duration::days(8)).await;
    let o3 = order_of(&app, &conv, OrderStatus::Shipped).await;
    status_changed(&app, &o3, OrderStatus::Shipped).await;
    app.run_jobs().await;
    assert_eq!(app.graph.sent_messages().len(), 1, "nothing more was sent");
    for (o, why) in [(&o2, "HUMAN_AGENT"), (&o3, "7 days")] {
        let ev = events(&app, o).await;
        assert_eq!(ev.len(), 1, "{ev:?}");
        assert_eq!(ev[0].kind, "notify_skipped");
        let data = ev[0].data.clone().unwrap();
        assert_eq!(data["status"], "shipped");
        assert!(data["reason"].as_str().unwrap().contains(why), "{data}");
    }
    assert_eq!(thread(&owner, conv.id).await.len(), msgs.len());
}

#[tokio::test]
async fn feedback_is_asked_after_delivery_and_answers_open_complaints_or_make_promoters() {
    let app = spawn_app().await;
    let (owner, conv) = shop(&app).await;
    // Only the feedback question is sent in this test: no status templates.
    let mut settings = tongdai::services::pipeline::PipelineSettings::default();
    settings.status_templates.clear();
    workspace::Entity::update_many()
        .col_expr(
            workspace::Column::Settings,
            Expr::value(serde_json::to_value(&settings).unwrap()),
        )
        .filter(workspace::Column::Id.eq(conv.workspace_id))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    let mut ws = app.ws(&owner, None).await;

    let a = order_of(&app, &conv, OrderStatus::Delivered).await;
    status_changed(&app, &a, OrderStatus::Delivered).await;
    // Delivered twice (a repeated callback): still one question.
    status_changed(&app, &a, OrderStatus::Delivered).await;
    let f = feedback_of(&app, &a).await;
    assert_eq!(f.conversation_id, Some(conv.id));
    assert!(f.requested_at.is_none());
    let jobs_for = job::Entity::find()
        .filter(job::Column::Kind.eq("request_feedback"))
        .all(&app.state.db.write)
        .await
        .unwrap();
    assert_eq!(jobs_for.len(), 1);
    let delay = jobs_for[0].run_at - a.delivered_at.unwrap();
    assert!(
        (delay - Duration::hours(24)).num_seconds().abs() <= 1,
        "asked 24 h (the default) after delivery: {delay}"
    );
    assert_eq!(app.run_jobs().await, 0, "not due yet");
    assert!(app.graph.sent_messages().is_empty());

    feedback_job_due(&app, &f).await;
    app.run_jobs().await;
    let sent = app.graph.sent_messages();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].text.contains(&order_code(a.id)), "{}", sent[0].text);
    assert!(sent[0].text.contains("1–5"));
    let f = feedback_of(&app, &a).await;
    assert!(f.requested_at.is_some());
    let created = frame_of(&mut ws, "message.created").await;
    assert_eq!(created["data"]["message"]["sender_kind"], "system");
    assert!(
        events(&app, &a)
            .await
            .iter()
            .any(|e| e.kind == "feedback_requested")
    );

    // A message without a rating is just a message.
    app.customer_says(PAGE, "psid-1", "m_in_2", "Shop ơi cho hỏi")
        .await;
    app.drain().await;
    assert!(feedback_of(&app, &a).await.answered_at.is_none());

    // An unhappy answer: stored, and the conversation becomes a complaint for customer care.
    app.customer_says(PAGE, "psid-1", "m_in_3", "2 giao hàng chậm quá")
        .await;
    app.drain().await;
    let f = feedback_of(&app, &a).await;
    assert_eq!(f.rating, Some(2));
    assert_eq!(f.comment.as_deref(), Some("giao hàng chậm quá"));
    assert!(f.answered_at.is_some());
    let received = frame_of(&mut ws, "feedback.received").await;
    assert_eq!(received["data"]["feedback"]["rating"], 2);
    assert_eq!(received["data"]["feedback"]["order_id"], a.id.to_string());
    let updated = frame_of(&mut ws, "conversation.updated").await;
    assert_eq!(updated["data"]["conversation"]["id"], conv.id.to_string());
    assert_eq!(updated["data"]["conversation"]["complaint"], "pending");
    assert_eq!(updated["data"]["conversation"]["status"], "open");
    assert_eq!(
        updated["data"]["conversation"]["labels"],
        json!(["Khiếu nại"])
    );
    let view = owner
        .json(&format!("/api/v1/conversations/{}", conv.id))
        .await;
    assert_eq!(view["complaint"], "pending");
    assert_eq!(view["labels"], json!(["Khiếu nại"]));
    let listed = owner
        .json("/api/v1/conversations?label=Khi%E1%BA%BFu%20n%E1%BA%A1i")
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");

    // A later message is not a second answer.
    app.customer_says(PAGE, "psid-1", "m_in_4", "1 sao luôn")
        .await;
    app.drain().await;
    assert_eq!(feedback_of(&app, &a).await.rating, Some(2));

    // Customer care picks the category.
    let res = owner
        .patch(
            &format!("/api/v1/conversations/{}/complaint", conv.id),
            json!({ "category": "delivery" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["complaint"], "delivery");
    let updated = frame_of(&mut ws, "conversation.updated").await;
    assert_eq!(updated["data"]["conversation"]["complaint"], "delivery");
    let bad = owner
        .patch(
            &format!("/api/v1/conversations/{}/complaint", conv.id),
            json!({ "category": "weather" }),
        )
        .await;
    assert!(bad.status().is_client_error(), "{}", bad.status());
    let fulfillment = app.user("kho@a.vn", Role::Fulfillment, "Shop A").await;
    let res = fulfillment
        .patch(
            &format!("/api/v1/conversations/{}/complaint", conv.id),
            json!({ "category": null }),
        )
        .await;
    assert_eq!(res.status(), 403);

    // A happy answer to another order: the contact becomes a promoter.
    let b = order_of(&app, &conv, OrderStatus::Delivered).await;
    status_changed(&app, &b, OrderStatus::Delivered).await;
    let fb_b = feedback_of(&app, &b).await;
    feedback_job_due(&app, &fb_b).await;
    app.run_jobs().await;
    assert_eq!(app.graph.sent_messages().len(), 2);
    app.customer_says(PAGE, "psid-1", "m_in_5", "5 sao").await;
    app.drain().await;
    let fb_b = feedback_of(&app, &b).await;
    assert_eq!(fb_b.rating, Some(5));
    assert_eq!(fb_b.comment, None);
    let promoted = loop {
        let f = frame_of(&mut ws, "contact.updated").await;
        if f["data"]["promoter"] == true {
            break f;
        }
    };
    assert_eq!(promoted["data"]["contact_id"], conv.contact_id.to_string());
    assert_eq!(promoted["data"]["promoter"], true);
    let person = contact::Entity::find_by_id(conv.contact_id)
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    assert!(person.promoter);

    // The list of answers.
    let all: Value = owner.json("/api/v1/feedback").await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all[0]["order_id"], b.id.to_string(), "newest first");
    let complaints: Value = owner.json("/api/v1/feedback?rating_lte=2").await;
    assert_eq!(complaints.as_array().unwrap().len(), 1);
    let c = &complaints[0];
    assert_eq!(c["order_id"], a.id.to_string());
    assert_eq!(c["order_code"], order_code(a.id));
    assert_eq!(c["rating"], 2);
    assert_eq!(c["comment"], "giao hàng chậm quá");
    assert_eq!(c["category"], "delivery");
    assert_eq!(c["category_label"], "Giao hàng");
    assert_eq!(
        owner.get("/api/v1/feedback?rating_lte=9").await.status(),
        400
    );
    assert_eq!(fulfillment.get("/api/v1/feedback").await.status(), 403);
}

#[tokio::test]
async fn a_feedback_question_outside_the_window_is_recorded_once_and_not_retried() {
    let app = spawn_app().await;
    let (owner, conv) = shop(&app).await;
    let o = order_of(&app, &conv, OrderStatus::Delivered).await;
    let txn = app.state.db.write.begin().await.unwrap();
    feedback::on_delivered(&txn, &o).await.unwrap();
    txn.commit().await.unwrap();
    set_last_inbound(&app, conv.id, Utc::now() - Duration::days(8)).await;
    let f = feedback_of(&app, &o).await;
    let j = feedback_job_due(&app, &f).await;
    app.run_jobs().await;
    assert!(app.graph.sent_messages().is_empty());
    let j = job::Entity::find_by_id(j.id)
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.status, "done", "no retries against a closed window");
    assert!(feedback_of(&app, &o).await.requested_at.is_none());
    let ev = events(&app, &o).await;
    let skipped = ev.iter().find(|e| e.kind == "notify_skipped").unwrap();
    let data = skipped.data.clone().unwrap();
    assert_eq!(data["purpose"], "feedback");
    assert!(
        data["reason"].as_str().unwrap().contains("7 days"),
        "{data}"
    );
    // An answer-looking message later is not taken for an answer to a question never asked.
    app.customer_says(PAGE, "psid-1", "m_in_9", "1").await;
    app.drain().await;
    assert!(feedback_of(&app, &o).await.rating.is_none());
    assert!(
        owner
            .json("/api/v1/feedback")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_commenters_order_is_messaged_in_their_direct_conversation_once_there_is_one() {
    let app = spawn_app().await;
    let (owner, direct) = shop(&app).await;
    let at = Utc::now() - Duration::minutes(5);
    app.post_meta("facebook",
        &json!({"object": "page", "entry": [{"id": PAGE, "time": at.timestamp(), "changes": [{"field": "feed", "value": {
            "item": "comment", "verb": "add", "post_id": "105_p1", "comment_id": "p1_c1", "parent_id": "105_p1",
            "from": {"id": "u-77", "name": "Khách Hàng"}, "created_time": at.timestamp(), "message": "Còn size M không shop"}}]}]}),
    )
    .await;
    app.drain().await;
    let thread_conv = conversation::Entity::find()
        .filter(conversation::Column::Kind.eq("comment_thread"))
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(thread_conv.contact_id, direct.contact_id);

    // The commenter has no direct conversation: nothing can reach them privately.
    let o1 = order_of(&app, &thread_conv, OrderStatus::Shipped).await;
    status_changed(&app, &o1, OrderStatus::Shipped).await;
    app.run_jobs().await;
    assert!(app.graph.sent_messages().is_empty());
    let ev = events(&app, &o1).await;
    assert_eq!(ev[0].kind, "notify_skipped");
    assert!(
        ev[0].data.as_ref().unwrap()["reason"]
            .as_str()
            .unwrap()
            .contains("only commented")
    );

    // The agent finds they are the Messenger customer and merges them.
    let res = owner
        .post(
            &format!("/api/v1/contacts/{}/merge", thread_conv.contact_id),
            json!({ "into_id": direct.contact_id }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let thread_conv = conversation::Entity::find_by_id(thread_conv.id)
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    let o2 = order_of(&app, &thread_conv, OrderStatus::Shipped).await;
    status_changed(&app, &o2, OrderStatus::Shipped).await;
    app.run_jobs().await;
    let sent = app.graph.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipient_id, "psid-1");
    assert!(sent[0].text.contains(&order_code(o2.id)));
    let ev = events(&app, &o2).await;
    let data = ev[0].data.clone().unwrap();
    assert_eq!(ev[0].kind, "customer_notified");
    assert_eq!(data["conversation_id"], direct.id.to_string());
}
