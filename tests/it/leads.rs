//! Leads through the real routes: phone numbers in comments and chats become leads (once per
//! message), per-channel hiding and private replies reach the Graph sandbox, stages with their
//! audit trail and frames, website cart hand-offs with an API key, round-robin distribution
//! with caps and the queue, untouched leads back to the queue, manual assignment, telesales
//! calls with a call-back reminder on the websocket, canned categories and `/shortcut`s.

use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ActiveValue::Set};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::services::assignment;
use tongdai::store::entities::{blacklist, job, lead};
use tongdai_connectors::facebook::sandbox::{Moderation, SandboxComment};

use crate::helpers::*;

pub(crate) const PAGE: &str = "105";

fn comment_body(comment: &str, from: &str, text: &str, at: chrono::DateTime<Utc>) -> Value {
    json!({"object": "page", "entry": [{"id": PAGE, "time": at.timestamp(), "changes": [{"field": "feed", "value": {
        "item": "comment", "verb": "add", "post_id": format!("{PAGE}_p1"), "comment_id": comment, "parent_id": format!("{PAGE}_p1"),
        "from": {"id": from, "name": "Khách Hàng"}, "created_time": at.timestamp(), "message": text}}]}]})
}

/// A customer comment under the page's post, known to the sandbox and delivered by webhook;
/// returns the webhook body (to redeliver it).
pub(crate) async fn customer_comments(
    app: &TestApp,
    comment: &str,
    from: &str,
    text: &str,
) -> Value {
    let at = Utc::now() - Duration::minutes(5);
    app.graph.add_comment(SandboxComment::new(
        comment,
        &format!("{PAGE}_p1"),
        (from, "Khách Hàng"),
        text,
        at,
    ));
    let body = comment_body(comment, from, text, at);
    app.post_meta("facebook", &body).await;
    app.drain().await;
    app.run_jobs().await;
    body
}

async fn leads(agent: &Agent, query: &str) -> Value {
    agent.json(&format!("/api/v1/leads{query}")).await
}

fn hides(app: &TestApp) -> Vec<String> {
    app.graph
        .moderation()
        .into_iter()
        .filter_map(|m| match m {
            Moderation::SetHidden {
                comment_id,
                hidden: true,
                ..
            } => Some(comment_id),
            _ => None,
        })
        .collect()
}

async fn new_lead(agent: &Agent, phone: &str, text: &str) -> Value {
    let res = agent
        .post("/api/v1/leads", json!({ "phone": phone, "text": text }))
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

async fn member_id(owner: &Agent, user_id: &Value) -> String {
    let members = owner.json("/api/v1/members").await;
    members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["id"] == *user_id)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

pub(crate) async fn put(agent: &Agent, path: &str, body: Value) -> reqwest::Response {
    agent
        .client
        .put(format!("{}{path}", agent.base))
        .header("x-csrf-token", &agent.csrf)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_comment_with_a_phone_makes_one_lead_and_a_chat_refreshes_it() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    let mut ws = app.ws(&owner, None).await;
    let body = customer_comments(&app, "p1_c1", "u-77", "Lấy em 1 cái, sđt 0912.345.678 nhé").await;
    let page = leads(&owner, "").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    let l = &items[0];
    assert_eq!(l["source"], "comment");
    assert_eq!(l["phone"], "+84912345678");
    assert_eq!(l["phone_display"], "0912 345 678");
    assert_eq!(l["stage"], "new");
    assert_eq!(l["source_ref"], "p1_c1");
    assert_eq!(l["post_external_id"], "105_p1");
    assert_eq!(l["platform"], "facebook");
    assert_eq!(l["contact"]["phone"], "+84912345678");
    assert!(l["blacklist"].is_null());
    assert_eq!(page["counts"]["new"], 1);
    let frame = frame_of(&mut ws, "lead.created").await;
    assert_eq!(frame["data"]["lead"]["id"], l["id"]);

    // Redelivered webhook, and the same comment again: still one lead, untouched.
    app.post_meta("facebook", &body).await;
    app.drain().await;
    let again = comment_body(
        "p1_c1",
        "u-77",
        "Lấy em 1 cái, sđt 0912.345.678 nhé",
        Utc::now(),
    );
    app.post_meta("facebook", &again).await;
    app.drain().await;
    let page = leads(&owner, "").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["updated_at"], l["updated_at"]);

    // The same person writes in Messenger with the phone: the open lead is refreshed.
    app.customer_says(PAGE, "u-77", "m-1", "Đổi sang 2 cái nha, gọi 0912345678")
        .await;
    app.drain().await;
    let page = leads(&owner, "").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], l["id"]);
    assert_eq!(items[0]["text"], "Đổi sang 2 cái nha, gọi 0912345678");
    assert_eq!(items[0]["stage"], "new");
    assert_ne!(items[0]["conversation_id"], l["conversation_id"]);
    let frame = frame_of(&mut ws, "lead.updated").await;
    assert_eq!(frame["data"]["lead"]["id"], l["id"]);

    // Search and filters.
    assert_eq!(
        leads(&owner, "?q=0912345678").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        leads(&owner, "?stage=won").await["items"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // The channel settings were off: nothing hidden, no private reply.
    assert!(hides(&app).is_empty());
    assert!(app.graph.sent_messages().is_empty());
}

#[tokio::test]
async fn channel_settings_hide_phone_comments_and_send_the_private_reply_once() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let acc = app.connect_page(&owner, PAGE).await;
    let res = owner
        .patch(
            &format!("/api/v1/channel-accounts/{}", acc["id"].as_str().unwrap()),
            json!({"settings": {"hide_phone_comments": true, "phone_private_reply": "Shop đã nhận SĐT, sẽ gọi lại ngay ạ"}}),
        )
        .await;
    assert_eq!(res.status(), 200);

    customer_comments(&app, "p1_c1", "u-77", "Giá bao nhiêu shop").await;
    assert!(hides(&app).is_empty(), "no phone, nothing hidden");
    let body = customer_comments(&app, "p1_c2", "u-77", "sđt em 0987 654 321").await;
    assert_eq!(hides(&app), vec!["p1_c2".to_owned()]);
    let sent = app.graph.sent_messages();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].comment_id.as_deref(), Some("p1_c2"));
    assert_eq!(sent[0].text, "Shop đã nhận SĐT, sẽ gọi lại ngay ạ");
    // Redelivery: no second hide, no second private reply.
    app.post_meta("facebook", &body).await;
    app.drain().await;
    app.run_jobs().await;
    assert_eq!(hides(&app).len(), 1);
    assert_eq!(app.graph.sent_messages().len(), 1);
    // Our copy of the comment is hidden and marked privately answered.
    let mut c2 = Value::Null;
    for conv in owner.json("/api/v1/conversations").await["items"]
        .as_array()
        .unwrap()
    {
        let msgs = owner
            .json(&format!(
                "/api/v1/conversations/{}/messages",
                conv["id"].as_str().unwrap()
            ))
            .await;
        if let Some(m) = msgs["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["external_id"] == "p1_c2")
        {
            c2 = m.clone();
        }
    }
    assert_eq!(c2["hidden"], true);
    assert!(c2["private_replied_at"].is_string());
    assert_eq!(leads(&owner, "").await["items"][0]["phone"], "+84987654321");

    // Turned off: the next phone comment stays visible and unanswered.
    owner
        .patch(
            &format!("/api/v1/channel-accounts/{}", acc["id"].as_str().unwrap()),
            json!({"settings": {}}),
        )
        .await;
    customer_comments(&app, "p1_c3", "u-88", "0912 345 678 gọi em").await;
    assert_eq!(hides(&app).len(), 1);
    assert_eq!(app.graph.sent_messages().len(), 1);
    assert_eq!(
        leads(&owner, "").await["items"].as_array().unwrap().len(),
        2
    );
}

#[tokio::test]
async fn stages_follow_the_rules_with_an_audit_trail_and_frames() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let mut ws = app.ws(&owner, None).await;
    let l = new_lead(&owner, "0912345678", "áo size M").await;
    let id = l["id"].as_str().unwrap();
    let path = format!("/api/v1/leads/{id}");

    let res = owner.patch(&path, json!({"stage": "contacted"})).await;
    assert_eq!(res.status(), 200);
    let f = frame_of(&mut ws, "lead.updated").await;
    assert_eq!(f["data"]["lead"]["stage"], "contacted");

    let res = owner.patch(&path, json!({"stage": "new"})).await;
    assert_eq!(res.status(), 422);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "invalid_transition");
    let res = owner.patch(&path, json!({"stage": "lost"})).await;
    assert_eq!(res.status(), 422);
    let res = owner
        .patch(&path, json!({"stage": "lost", "lost_reason": "hết hàng"}))
        .await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["stage"], "lost");
    assert_eq!(out["lost_reason"], "hết hàng");
    let f = frame_of(&mut ws, "lead.updated").await;
    assert_eq!(f["data"]["lead"]["stage"], "lost");

    let detail = owner.json(&path).await;
    let trail: Vec<&Value> = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "lead.stage_changed")
        .collect();
    assert_eq!(trail.len(), 2);
    assert_eq!(trail[0]["data"]["from"], "new");
    assert_eq!(trail[0]["data"]["to"], "contacted");
    assert_eq!(trail[1]["data"]["to"], "lost");
    assert_eq!(trail[1]["data"]["reason"], "hết hàng");
    assert_eq!(trail[1]["actor_user_id"], owner.me["user"]["id"]);
    assert_eq!(detail["phone_record"]["phone"], "+84912345678");
    assert_eq!(detail["phone_record"]["delivered"], 0);
    let page = leads(&owner, "?stage=lost").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["counts"]["lost"], 1);

    // Marketers do not work leads.
    let m = app.user("m@a.vn", Role::Marketer, "Shop A").await;
    assert_eq!(m.get("/api/v1/leads").await.status(), 403);
}

#[tokio::test]
async fn a_website_cart_hands_off_a_lead_with_an_api_key() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let res = owner
        .post("/api/v1/api-keys", json!({"name": "website"}))
        .await;
    assert_eq!(res.status(), 201);
    let key = res.json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let post = |body: Value, key: Option<String>| {
        let mut r = app.http.post(app.url("/api/v1/leads")).json(&body);
        if let Some(k) = key {
            r = r.bearer_auth(k);
        }
        r.send()
    };
    let mut ws = app.ws(&owner, None).await;
    let res = post(
        json!({"name": "Chị Lan", "phone": "+84 987 654 321", "text": "Giỏ hàng: 2 áo thun", "source_ref": "cart-1"}),
        Some(key.clone()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let l: Value = res.json().await.unwrap();
    assert_eq!(l["source"], "api");
    assert_eq!(l["phone"], "+84987654321");
    assert_eq!(l["contact"]["name"], "Chị Lan");
    assert_eq!(l["source_ref"], "cart-1");
    let f = frame_of(&mut ws, "lead.created").await;
    assert_eq!(f["data"]["lead"]["id"], l["id"]);

    // The same phone again refreshes the open lead.
    let res = post(
        json!({"phone": "0987654321", "text": "Giỏ hàng: 3 áo thun"}),
        Some(key.clone()),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let again: Value = res.json().await.unwrap();
    assert_eq!(again["id"], l["id"]);
    assert_eq!(again["text"], "Giỏ hàng: 3 áo thun");

    let res = post(json!({"phone": "12345"}), Some(key.clone()))
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_phone");
    let res = post(json!({"phone": "0987654321"}), None).await.unwrap();
    assert_eq!(res.status(), 401);
    let res = post(json!({"phone": "0987654321"}), Some("td_wrong".into()))
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        leads(&owner, "").await["items"].as_array().unwrap().len(),
        1
    );
}

#[tokio::test]
async fn leads_go_round_robin_under_caps_and_the_queue_goes_to_whoever_frees_up() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let a1 = app.user("a1@a.vn", Role::Agent, "Shop A").await;
    let a2 = app.user("a2@a.vn", Role::Agent, "Shop A").await;
    let (u1, u2) = (a1.me["user"]["id"].clone(), a2.me["user"]["id"].clone());
    for u in [&u1, &u2] {
        let mid = member_id(&owner, u).await;
        let res = owner
            .patch(&format!("/api/v1/members/{mid}"), json!({"max_open": 1}))
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.json::<Value>().await.unwrap()["max_open"], 1);
    }
    // Agents may not change caps.
    let mid = member_id(&owner, &u1).await;
    let res = a1
        .patch(&format!("/api/v1/members/{mid}"), json!({"max_open": 9}))
        .await;
    assert_eq!(res.status(), 403);

    let mut ws = app.ws(&a1, None).await;
    let l1 = new_lead(&owner, "0912000001", "một").await;
    let l2 = new_lead(&owner, "0912000002", "hai").await;
    let l3 = new_lead(&owner, "0912000003", "ba").await;
    let got = [l1["assignee_id"].clone(), l2["assignee_id"].clone()];
    assert!(got.contains(&u1) && got.contains(&u2), "{got:?}");
    assert!(l3["assignee_id"].is_null(), "third lead waits in the queue");
    assert_eq!(
        leads(&owner, "?assignee=none").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let mine = leads(&a1, "?assignee=me").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let a1_lead = mine["items"][0]["id"].as_str().unwrap().to_owned();

    // a1 closes their lead: the queued one goes to them.
    let res = a1
        .patch(&format!("/api/v1/leads/{a1_lead}"), json!({"stage": "won"}))
        .await;
    assert_eq!(res.status(), 200);
    let l3_now = owner
        .json(&format!("/api/v1/leads/{}", l3["id"].as_str().unwrap()))
        .await;
    assert_eq!(l3_now["lead"]["assignee_id"], u1);
    assert!(l3_now["lead"]["assigned_at"].is_string());
    loop {
        let f = frame_of(&mut ws, "lead.assigned").await;
        if f["data"]["lead"]["id"] == l3["id"] {
            assert_eq!(f["data"]["lead"]["assignee_id"], u1);
            break;
        }
    }

    // Off shift: no new work; back on: the queue is handed out at once.
    assert_eq!(
        put(&a2, "/api/v1/me/availability", json!({"available": false}))
            .await
            .status(),
        200
    );
    let l4 = new_lead(&owner, "0912000004", "bốn").await;
    assert!(l4["assignee_id"].is_null());
    let a2_lead = leads(&a2, "?assignee=me").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    a2.patch(
        &format!("/api/v1/leads/{a2_lead}"),
        json!({"stage": "lost", "lost_reason": "không nghe máy"}),
    )
    .await;
    assert!(
        owner
            .json(&format!("/api/v1/leads/{}", l4["id"].as_str().unwrap()))
            .await["lead"]["assignee_id"]
            .is_null(),
        "a2 is off shift"
    );
    assert_eq!(
        put(&a2, "/api/v1/me/availability", json!({"available": true}))
            .await
            .status(),
        200
    );
    assert_eq!(
        owner
            .json(&format!("/api/v1/leads/{}", l4["id"].as_str().unwrap()))
            .await["lead"]["assignee_id"],
        u2
    );
}

#[tokio::test]
async fn an_untouched_lead_returns_to_the_queue_and_is_handed_out_again() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let a1 = app.user("a1@a.vn", Role::Agent, "Shop A").await;
    let a2 = app.user("a2@a.vn", Role::Agent, "Shop A").await;
    put(&a2, "/api/v1/me/availability", json!({"available": false})).await;
    let l = new_lead(&owner, "0912000001", "một").await;
    assert_eq!(l["assignee_id"], a1.me["user"]["id"]);
    let id: uuid::Uuid = l["id"].as_str().unwrap().parse().unwrap();

    // Fresh: the sweep leaves it alone.
    assignment::sweep(&app.state).await.unwrap();
    let lead_now = owner.json(&format!("/api/v1/leads/{id}")).await;
    assert_eq!(lead_now["lead"]["assignee_id"], a1.me["user"]["id"]);

    // Assigned two hours ago and never touched (the default is 30 minutes).
    lead::Entity::update_many()
        .col_expr(
            lead::Column::AssignedAt,
            Expr::value(Utc::now() - Duration::hours(2)),
        )
        .filter(lead::Column::Id.eq(id))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    put(&a2, "/api/v1/me/availability", json!({"available": true})).await;
    let mut ws = app.ws(&owner, None).await;
    assert!(assignment::sweep(&app.state).await.unwrap() >= 2);
    let f = frame_of(&mut ws, "lead.updated").await;
    assert_eq!(f["data"]["returned_to_queue"], true);
    assert!(f["data"]["lead"]["assignee_id"].is_null());
    let f = frame_of(&mut ws, "lead.assigned").await;
    assert_eq!(f["data"]["lead"]["assignee_id"], a2.me["user"]["id"]);
    let detail = owner.json(&format!("/api/v1/leads/{id}")).await;
    assert_eq!(detail["lead"]["assignee_id"], a2.me["user"]["id"]);
    let actions: Vec<&str> = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert!(actions.contains(&"lead.returned_to_queue"), "{actions:?}");

    // A touched lead stays.
    let res = a2
        .post(
            &format!("/api/v1/leads/{id}/calls"),
            json!({"outcome": "no_answer"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    lead::Entity::update_many()
        .col_expr(
            lead::Column::AssignedAt,
            Expr::value(Utc::now() - Duration::hours(2)),
        )
        .filter(lead::Column::Id.eq(id))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    assignment::sweep(&app.state).await.unwrap();
    let detail = owner.json(&format!("/api/v1/leads/{id}")).await;
    assert_eq!(detail["lead"]["assignee_id"], a2.me["user"]["id"]);
}

#[tokio::test]
async fn managers_reassign_by_hand_and_agents_only_take_unassigned_leads() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let admin = app.user("ad@a.vn", Role::Admin, "Shop A").await;
    let a1 = app.user("a1@a.vn", Role::Agent, "Shop A").await;
    let a2 = app.user("a2@a.vn", Role::Agent, "Shop A").await;
    let mut settings = owner.json("/api/v1/pipeline-settings").await;
    settings["distribute_leads"] = json!(false);
    let res = put(&owner, "/api/v1/pipeline-settings", settings).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        put(&a1, "/api/v1/pipeline-settings", json!({}))
            .await
            .status(),
        403
    );
    let l = new_lead(&owner, "0912000001", "một").await;
    assert!(l["assignee_id"].is_null());
    let assign = format!("/api/v1/leads/{}/assign", l["id"].as_str().unwrap());
    let (u1, u2) = (a1.me["user"]["id"].clone(), a2.me["user"]["id"].clone());

    let res = admin.post(&assign, json!({"assignee_id": u1})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["assignee_id"], u1);
    // a2 taking a1's lead: refused.
    let res = a2.post(&assign, json!({"assignee_id": u2})).await;
    assert_eq!(res.status(), 403);
    // a1 giving it to a2: refused too (only managers reassign).
    let res = a1.post(&assign, json!({"assignee_id": u2})).await;
    assert_eq!(res.status(), 403);
    // Back to the queue by hand; then a2 takes it.
    let res = admin.post(&assign, json!({"assignee_id": null})).await;
    assert_eq!(res.status(), 200);
    let res = a2.post(&assign, json!({"assignee_id": u2})).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["assignee_id"], u2);
    let detail = owner
        .json(&format!("/api/v1/leads/{}", l["id"].as_str().unwrap()))
        .await;
    let assigned = detail["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "lead.assigned")
        .count();
    assert_eq!(assigned, 3);
}

#[tokio::test]
async fn a_call_back_reminds_the_agent_over_the_websocket() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let a1 = app.user("a1@a.vn", Role::Agent, "Shop A").await;
    let l = new_lead(&owner, "0912000001", "một").await;
    assert_eq!(l["assignee_id"], a1.me["user"]["id"]);
    let id = l["id"].as_str().unwrap();
    let calls = format!("/api/v1/leads/{id}/calls");

    let res = a1.post(&calls, json!({"outcome": "call_back"})).await;
    assert_eq!(res.status(), 422);
    let res = a1
        .post(
            &calls,
            json!({"outcome": "call_back", "next_call_at": Utc::now() - Duration::hours(1)}),
        )
        .await;
    assert_eq!(res.status(), 422);
    let at = Utc::now() + Duration::hours(1);
    let res = a1
        .post(
            &calls,
            json!({"outcome": "call_back", "note": "Chị hẹn 3h chiều", "duration_seconds": 42, "next_call_at": at}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["lead"]["stage"], "contacted");
    assert!(out["lead"]["next_call_at"].is_string());
    assert!(out["lead"]["touched_at"].is_string());
    assert_eq!(out["call"]["outcome"], "call_back");
    assert_eq!(out["call"]["duration_seconds"], 42);
    // Rescheduled: the first reminder becomes a no-op.
    let res = a1
        .post(
            &calls,
            json!({"outcome": "call_back", "next_call_at": at + Duration::hours(1)}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let second: Value = res.json().await.unwrap();
    let second_at = second["lead"]["next_call_at"].clone();
    assert_ne!(second_at, out["lead"]["next_call_at"]);

    // Not due yet: nothing runs.
    let mut ws = app.ws(&a1, None).await;
    app.run_jobs().await;
    // Make it due.
    job::Entity::update_many()
        .col_expr(
            job::Column::RunAt,
            Expr::value(Utc::now() - Duration::seconds(1)),
        )
        .filter(job::Column::Kind.eq("lead_callback"))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    app.run_jobs().await;
    // Both jobs ran; only the current call back reminded.
    let f = frame_of(&mut ws, "lead.callback_due").await;
    assert_eq!(f["data"]["lead"]["next_call_at"], second_at);
    assert_eq!(f["data"]["lead"]["id"], id);
    assert_eq!(f["data"]["assignee_id"], a1.me["user"]["id"]);

    // Interested: qualified, the call back cleared.
    let res = a1
        .post(
            &calls,
            json!({"outcome": "interested", "note": "lấy 2 cái"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    // Frames up to that change: no second reminder came (the rescheduled job was a no-op).
    loop {
        let f = next_frame(&mut ws).await;
        assert_ne!(
            f["type"], "lead.callback_due",
            "the rescheduled job reminded"
        );
        if f["type"] == "lead.updated" {
            break;
        }
    }
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["lead"]["stage"], "qualified");
    assert!(out["lead"]["next_call_at"].is_null());
    let list = a1.json(&calls).await;
    assert_eq!(list.as_array().unwrap().len(), 3);
    assert_eq!(list[0]["outcome"], "interested");
    let detail = a1.json(&format!("/api/v1/leads/{id}")).await;
    assert_eq!(detail["calls"].as_array().unwrap().len(), 3);
    // Refused: lost with the outcome as the reason.
    let res = a1.post(&calls, json!({"outcome": "refused"})).await;
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["lead"]["stage"], "lost");
    assert_eq!(out["lead"]["lost_reason"], "refused");
}

#[tokio::test]
async fn canned_categories_and_shortcuts_in_replies_reach_the_graph() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    for (shortcut, content, category) in [
        ("gia", "Dạ áo giá 250k ạ", "Kịch bản"),
        ("ship", "Shop ship COD toàn quốc ạ", "FAQ"),
    ] {
        let res = owner
            .post(
                "/api/v1/canned-responses",
                json!({"shortcut": shortcut, "content": content, "category": category}),
            )
            .await;
        assert_eq!(res.status(), 201);
        assert_eq!(res.json::<Value>().await.unwrap()["category"], category);
    }
    let faq = owner.json("/api/v1/canned-responses?category=FAQ").await;
    assert_eq!(faq.as_array().unwrap().len(), 1);
    assert_eq!(faq[0]["shortcut"], "ship");
    assert_eq!(
        owner
            .json("/api/v1/canned-responses")
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let e = owner
        .json("/api/v1/canned-responses/expand?text=%2Fgia%20size%20M")
        .await;
    assert_eq!(e["text"], "Dạ áo giá 250k ạ size M");
    assert_eq!(e["expanded"], true);
    let e = owner
        .json("/api/v1/canned-responses/expand?text=%2Fnope")
        .await;
    assert_eq!(e["expanded"], false);

    // A public comment reply typed as a shortcut.
    customer_comments(&app, "p1_c1", "u-77", "Giá sao shop").await;
    let conv = owner.json("/api/v1/conversations").await["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = owner
        .post(
            &format!("/api/v1/conversations/{conv}/messages"),
            json!({"text": "/gia"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    assert!(app.graph.moderation().iter().any(|m| matches!(m,
        Moderation::Reply { message, .. } if message == "Dạ áo giá 250k ạ")));

    // A Messenger reply: the shortcut and the rest.
    app.customer_says(PAGE, "u-99", "m-1", "ship không shop")
        .await;
    app.drain().await;
    let items = owner.json("/api/v1/conversations").await;
    let direct = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["kind"] == "direct")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = owner
        .post(
            &format!("/api/v1/conversations/{direct}/messages"),
            json!({"text": "/ship nhé chị"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    let sent = app.graph.sent_messages();
    assert_eq!(
        sent.last().unwrap().text,
        "Shop ship COD toàn quốc ạ nhé chị"
    );
}

#[tokio::test]
async fn new_conversations_are_distributed_when_the_workspace_says_so() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let a1 = app.user("a1@a.vn", Role::Agent, "Shop A").await;
    app.connect_page(&owner, PAGE).await;
    let mut settings = owner.json("/api/v1/pipeline-settings").await;
    settings["distribute_conversations"] = json!(true);
    settings["max_open_per_agent"] = json!(1);
    let res = put(&owner, "/api/v1/pipeline-settings", settings).await;
    assert_eq!(res.status(), 200);
    let u1 = a1.me["user"]["id"].clone();
    let mut ws = app.ws(&a1, None).await;

    app.customer_says(PAGE, "u-1", "m-1", "Shop ơi").await;
    app.drain().await;
    let f = frame_of(&mut ws, "message.created").await;
    assert_eq!(f["data"]["conversation"]["assignee_id"], u1);
    let first = f["data"]["conversation"]["id"].as_str().unwrap().to_owned();
    // a1 is at the cap: the second conversation waits.
    app.customer_says(PAGE, "u-2", "m-2", "Còn hàng không")
        .await;
    app.drain().await;
    let f = frame_of(&mut ws, "message.created").await;
    assert!(f["data"]["conversation"]["assignee_id"].is_null());
    let second = f["data"]["conversation"]["id"].as_str().unwrap().to_owned();
    // A later message in the first conversation does not hand it out again.
    app.customer_says(PAGE, "u-1", "m-3", "Alo").await;
    app.drain().await;
    assert!(owner.json(&format!("/api/v1/conversations/{second}")).await["assignee_id"].is_null());

    // a1 resolves the first: the second is theirs now.
    let res = a1
        .patch(
            &format!("/api/v1/conversations/{first}"),
            json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    loop {
        let f = frame_of(&mut ws, "conversation.updated").await;
        if f["data"]["conversation"]["id"] == second.as_str() {
            assert_eq!(f["data"]["conversation"]["assignee_id"], u1);
            break;
        }
    }
    assert_eq!(
        owner.json(&format!("/api/v1/conversations/{second}")).await["assignee_id"],
        u1
    );
}

#[tokio::test]
async fn a_lead_from_a_blacklisted_phone_is_flagged() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let ws_id: uuid::Uuid = owner.me["workspace"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    blacklist::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        workspace_id: Set(ws_id),
        phone: Set("+84912000009".into()),
        reason: Set("bom hàng 2 lần".into()),
        source: Set("manual".into()),
        created_by: Set(None),
        created_at: Set(Utc::now()),
        lifted_at: Set(None),
        lifted_by: Set(None),
        lift_reason: Set(None),
    }
    .insert(&app.state.db.write)
    .await
    .unwrap();
    let l = new_lead(&owner, "0912 000 009", "lấy 5 cái").await;
    assert_eq!(l["blacklist"]["reason"], "bom hàng 2 lần");
    assert_eq!(l["blacklist"]["source"], "manual");
    let detail = owner
        .json(&format!("/api/v1/leads/{}", l["id"].as_str().unwrap()))
        .await;
    assert_eq!(
        detail["phone_record"]["blacklist"]["reason"],
        "bom hàng 2 lần"
    );
    let clean = new_lead(&owner, "0912000001", "lấy 1 cái").await;
    assert!(clean["blacklist"].is_null());
}
