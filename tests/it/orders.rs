//! Orders through the real routes: confirm checks and the push queued for fulfillment, the
//! blacklist (manual, override, lift, automatic after returned COD orders), fulfillment's
//! signed status callback, external shops pushing orders in, the packing board's websocket.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter,
};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::store::entities::{
    audit_log, inbound_event, lead, order, webhook_endpoint, webhook_message,
};
use tongdai_connectors::standard_webhooks::Secret;
use uuid::Uuid;

use crate::helpers::*;

const ENDPOINT_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

fn ws_of(a: &Agent) -> Uuid {
    a.me["workspace"]["id"].as_str().unwrap().parse().unwrap()
}

/// A fulfillment endpoint row (the endpoint API is another part's), enabled, all events.
async fn endpoint(app: &TestApp, ws: Uuid) -> (Uuid, Secret) {
    let secret = Secret::parse(ENDPOINT_SECRET).unwrap();
    let id = Uuid::now_v7();
    let now = Utc::now();
    webhook_endpoint::ActiveModel {
        id: Set(id),
        workspace_id: Set(ws),
        url: Set("http://127.0.0.1:9/hook".into()),
        secret_enc: Set(app.state.secrets.seal(secret.bytes())),
        description: Set(Some("kho".into())),
        event_types: Set(json!([])),
        enabled: Set(true),
        created_at: Set(now),
        updated_at: Set(now),
        failing_since: Set(None),
        last_success_at: Set(None),
        disabled_reason: Set(None),
    }
    .insert(&app.state.db.write)
    .await
    .unwrap();
    (id, secret)
}

async fn post_sw(
    app: &TestApp,
    path: &str,
    secret: &Secret,
    id: &str,
    ts: i64,
    body: &[u8],
) -> reqwest::Response {
    app.http
        .post(app.url(path))
        .header("content-type", "application/json")
        .header("webhook-id", id)
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", secret.sign(id, ts, body))
        .body(body.to_vec())
        .send()
        .await
        .unwrap()
}

fn full_order(phone: &str) -> Value {
    json!({
        "items": [{"sku": "POLO-M", "name": "Áo Polo xanh M", "quantity": 2, "unit_price": 125000}],
        "recipient": {"name": "Nguyễn Văn A", "phone": phone,
            "address": {"street": "72 Thành Thái", "ward": "Phường 14", "district": "Quận 10", "province": "TP. Hồ Chí Minh"}},
        "shipping_fee": 30000, "discount": 10000, "note": "Gọi trước khi giao"
    })
}

async fn confirmed_order(by: &Agent, phone: &str) -> String {
    let res = by.post("/api/v1/orders", full_order(phone)).await;
    assert_eq!(res.status(), 201);
    let o: Value = res.json().await.unwrap();
    let id = o["id"].as_str().unwrap().to_owned();
    let res = by
        .post(&format!("/api/v1/orders/{id}/confirm"), json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    id
}

async fn messages_of(app: &TestApp, ws: Uuid) -> Vec<webhook_message::Model> {
    webhook_message::Entity::find()
        .filter(webhook_message::Column::WorkspaceId.eq(ws))
        .all(&app.state.db.write)
        .await
        .unwrap()
}

async fn audit_actions(app: &TestApp, ws: Uuid) -> Vec<(String, Option<Value>)> {
    audit_log::Entity::find()
        .filter(audit_log::Column::WorkspaceId.eq(ws))
        .all(&app.state.db.write)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.action, a.data))
        .collect()
}

#[tokio::test]
async fn an_order_from_a_conversation_is_checked_then_confirmed_and_queued_for_fulfillment() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let ws = ws_of(&owner);
    app.connect_page(&owner, "105").await;
    app.customer_says("105", "psid-1", "m_1", "Lấy em áo polo size M")
        .await;
    app.drain().await;
    let page: Value = owner.json("/api/v1/conversations").await;
    let conv = &page["items"][0];
    let conv_id: Uuid = conv["id"].as_str().unwrap().parse().unwrap();
    let contact_id: Uuid = conv["contact"]["id"]
        .as_str()
        .or(conv["contact_id"].as_str())
        .unwrap()
        .parse()
        .unwrap();
    let now = Utc::now();
    let lead_id = Uuid::now_v7();
    lead::ActiveModel {
        id: Set(lead_id),
        workspace_id: Set(ws),
        contact_id: Set(contact_id),
        conversation_id: Set(Some(conv_id)),
        stage: Set("contacted".into()),
        phone: Set("+84912345678".into()),
        source: Set("message".into()),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(&app.state.db.write)
    .await
    .unwrap();
    let (endpoint_id, _) = endpoint(&app, ws).await;

    let res = owner
        .post(
            "/api/v1/orders",
            json!({"conversation_id": conv_id, "lead_id": lead_id,
                   "items": [{"sku": "POLO-M", "name": "Áo Polo xanh M", "quantity": 2, "unit_price": 125000}],
                   "recipient": {"phone": "12345", "address": {"street": "72 Thành Thái"}},
                   "shipping_fee": 30000}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["status"], "draft");
    assert_eq!(o["source"], "lead");
    assert_eq!(o["conversation_id"], conv_id.to_string());
    assert_eq!(o["contact_id"], contact_id.to_string());
    assert_eq!(o["totals"]["subtotal"], 250000);
    assert_eq!(o["totals"]["total"], 280000);
    assert_eq!(o["cod_amount"], 280000, "COD defaults to the total");
    let id = o["id"].as_str().unwrap().to_owned();

    let res = owner
        .post(&format!("/api/v1/orders/{id}/confirm"), json!({}))
        .await;
    assert_eq!(res.status(), 422);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "not_confirmable");
    let fields: Vec<&str> = err["details"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"phone"), "{fields:?}");
    assert!(fields.contains(&"address.ward"), "{fields:?}");
    assert!(fields.contains(&"address.province"), "{fields:?}");
    assert!(messages_of(&app, ws).await.is_empty());

    let res = owner
        .patch(
            &format!("/api/v1/orders/{id}"),
            json!({"recipient": {"name": "Nguyễn Văn A", "phone": "0912.345.678",
                   "address": {"street": "72 Thành Thái", "ward": "Phường 14", "province": "TP. Hồ Chí Minh"}},
                   "discount": 20000}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["recipient"]["phone"], "+84912345678");
    assert_eq!(o["totals"]["total"], 260000);
    assert_eq!(o["cod_amount"], 260000, "the default COD follows the total");

    let res = owner
        .post(&format!("/api/v1/orders/{id}/confirm"), json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["status"], "confirmed");
    assert!(o["confirmed_at"].is_string());

    let msgs = messages_of(&app, ws).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].endpoint_id, endpoint_id);
    assert_eq!(msgs[0].event_type, "order.confirmed");
    assert_eq!(msgs[0].status, "pending");
    let body: Value = serde_json::from_str(&msgs[0].payload).unwrap();
    assert_eq!(body["type"], "order.confirmed");
    let d = &body["data"];
    assert_eq!(d["order_id"], id);
    assert_eq!(d["currency"], "VND");
    assert_eq!(d["cod_amount"], 260000);
    assert_eq!(d["declared_value"], 230000);
    assert_eq!(d["total"], 260000);
    assert_eq!(d["recipient"]["phone"], "0912345678");
    assert_eq!(d["recipient"]["address"]["country"], "VN");
    assert_eq!(d["recipient"]["address"]["ward"], "Phường 14");
    assert_eq!(d["items"][0]["sku"], "POLO-M");
    assert_eq!(d["items"][0]["quantity"], 2);

    let view: Value = owner.json(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(view["deliveries"][0]["event_type"], "order.confirmed");
    assert_eq!(view["deliveries"][0]["status"], "pending");
    let kinds: Vec<&str> = view["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["created", "updated", "status"]);
    assert_eq!(view["timeline"][2]["to_status"], "confirmed");
    assert_eq!(view["phone_record"]["phone"], "+84912345678");

    let l = lead::Entity::find_by_id(lead_id)
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(l.stage, "won");
    assert!(l.closed_at.is_some());
    assert!(
        audit_actions(&app, ws)
            .await
            .iter()
            .any(|(a, d)| a == "lead.stage_changed" && d.as_ref().unwrap()["to"] == "won")
    );

    // An edit of a confirmed order goes to fulfillment too; an invalid one is refused.
    let res = owner
        .patch(
            &format!("/api/v1/orders/{id}"),
            json!({"note": "Giao giờ hành chính"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = owner
        .patch(&format!("/api/v1/orders/{id}"), json!({"items": []}))
        .await;
    assert_eq!(res.status(), 422);
    let types: Vec<String> = messages_of(&app, ws)
        .await
        .into_iter()
        .map(|m| m.event_type)
        .collect();
    assert_eq!(types.len(), 2);
    assert!(types.contains(&"order.updated".to_owned()));

    // Listing and searching.
    let list: Value = owner.json("/api/v1/orders?status=confirmed").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let list: Value = owner.json("/api/v1/orders?phone=0912345678").await;
    assert_eq!(list["items"][0]["id"], id);
    let list: Value = owner.json("/api/v1/orders?q=Nguy%E1%BB%85n").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let list: Value = owner.json("/api/v1/orders?status=draft").await;
    assert!(list["items"].as_array().unwrap().is_empty());

    // Cancelling a confirmed order tells fulfillment.
    let res = owner
        .post(
            &format!("/api/v1/orders/{id}/cancel"),
            json!({"reason": "Khách đổi ý"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        messages_of(&app, ws)
            .await
            .iter()
            .any(|m| m.event_type == "order.cancelled")
    );
    let res = owner
        .post(&format!("/api/v1/orders/{id}/cancel"), json!({}))
        .await;
    assert_eq!(res.status(), 409);
}

#[tokio::test]
async fn a_blacklisted_phone_needs_an_override_with_a_reason_and_lifting_is_logged() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let agent = app.user("agent@a.vn", Role::Agent, "Shop A").await;
    let ws = ws_of(&owner);

    let res = owner
        .post(
            "/api/v1/blacklist",
            json!({"phone": "0912 345 678", "reason": "Bom hàng 3 lần"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let entry: Value = res.json().await.unwrap();
    assert_eq!(entry["phone"], "+84912345678");
    assert_eq!(entry["source"], "manual");
    let res = owner
        .post(
            "/api/v1/blacklist",
            json!({"phone": "+84912345678", "reason": "lại"}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let res = owner
        .post(
            "/api/v1/blacklist",
            json!({"phone": "12345", "reason": "x"}),
        )
        .await;
    assert_eq!(res.status(), 400);
    let res = agent
        .post(
            "/api/v1/blacklist",
            json!({"phone": "0987654321", "reason": "x"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let list: Value = agent.json("/api/v1/blacklist?q=0912").await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let res = agent.post("/api/v1/orders", full_order("0912345678")).await;
    assert_eq!(res.status(), 201);
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["blacklisted"]["reason"], "Bom hàng 3 lần", "flagged");
    let id = o["id"].as_str().unwrap().to_owned();
    let record: Value = agent
        .json("/api/v1/orders/phone-record?phone=0912.345.678")
        .await;
    assert_eq!(record["blacklist"]["reason"], "Bom hàng 3 lần");

    let res = agent
        .post(&format!("/api/v1/orders/{id}/confirm"), json!({}))
        .await;
    assert_eq!(res.status(), 409);
    let err: Value = res.json().await.unwrap();
    assert_eq!(err["code"], "blacklisted");
    assert_eq!(err["details"]["verdict"]["reason"], "Bom hàng 3 lần");
    let res = agent
        .post(
            &format!("/api/v1/orders/{id}/confirm"),
            json!({"blacklist_override_reason": "   "}),
        )
        .await;
    assert_eq!(res.status(), 409);
    let res = agent
        .post(
            &format!("/api/v1/orders/{id}/confirm"),
            json!({"blacklist_override_reason": "Khách quen, đã gọi xác nhận"}),
        )
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let o: Value = res.json().await.unwrap();
    assert_eq!(o["status"], "confirmed");
    assert_eq!(o["blacklist_override"], "Khách quen, đã gọi xác nhận");
    let ov = o["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "override")
        .expect("the override is in the timeline");
    assert_eq!(ov["data"]["reason"], "Khách quen, đã gọi xác nhận");
    assert_eq!(ov["actor_user_id"], agent.me["user"]["id"]);
    let audit = audit_actions(&app, ws).await;
    assert!(audit.iter().any(|(a, d)| a == "order.blacklist_override"
        && d.as_ref().unwrap()["reason"] == "Khách quen, đã gọi xác nhận"));
    assert!(audit.iter().any(|(a, _)| a == "blacklist.added"));

    let entry_id = entry["id"].as_str().unwrap();
    let res = agent
        .post(
            &format!("/api/v1/blacklist/{entry_id}/lift"),
            json!({"reason": "Nhầm số"}),
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = owner
        .post(
            &format!("/api/v1/blacklist/{entry_id}/lift"),
            json!({"reason": "Nhầm số"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let lifted: Value = res.json().await.unwrap();
    assert!(lifted["lifted_at"].is_string());
    assert_eq!(lifted["lifted_by"], owner.me["user"]["id"]);
    assert_eq!(lifted["lift_reason"], "Nhầm số");
    assert!(
        audit_actions(&app, ws)
            .await
            .iter()
            .any(|(a, d)| a == "blacklist.lifted" && d.as_ref().unwrap()["reason"] == "Nhầm số")
    );
    let list: Value = owner.json("/api/v1/blacklist").await;
    assert!(list.as_array().unwrap().is_empty());
    let list: Value = owner.json("/api/v1/blacklist?include_lifted=true").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let res = owner
        .post(
            &format!("/api/v1/blacklist/{entry_id}/lift"),
            json!({"reason": "lại"}),
        )
        .await;
    assert_eq!(res.status(), 409);
}

#[tokio::test]
async fn two_returned_cod_orders_blacklist_the_phone_automatically() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let packer = app.user("kho@a.vn", Role::Fulfillment, "Shop A").await;
    let mut owner_ws = app.ws(&owner, None).await;
    let a = confirmed_order(&owner, "0912345678").await;
    let b = confirmed_order(&owner, "+84 912 345 678").await;

    let res = packer
        .post(&format!("/api/v1/orders/{a}/confirm"), json!({}))
        .await;
    assert_eq!(res.status(), 403, "the packing board cannot confirm");
    let res = packer
        .post(
            &format!("/api/v1/orders/{a}/status"),
            json!({"status": "returned"}),
        )
        .await;
    assert_eq!(res.status(), 409, "returned only once shipped");
    for (id, n) in [(&a, 1), (&b, 2)] {
        let res = packer
            .post(
                &format!("/api/v1/orders/{id}/status"),
                json!({"status": "shipped", "tracking_code": format!("GHN{n}"), "carrier": "GHN"}),
            )
            .await;
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        let o: Value = res.json().await.unwrap();
        assert_eq!(o["tracking_code"], format!("GHN{n}"));
        assert_eq!(last_status_event(&o)["source"], "fulfillment");
        let res = packer
            .post(
                &format!("/api/v1/orders/{id}/status"),
                json!({"status": "returned", "note": "Khách không nhận"}),
            )
            .await;
        assert_eq!(res.status(), 200);
        let list: Value = owner.json("/api/v1/blacklist").await;
        assert_eq!(list.as_array().unwrap().len(), n - 1, "after {n} returns");
    }
    let list: Value = owner.json("/api/v1/blacklist").await;
    assert_eq!(list[0]["source"], "automatic");
    assert_eq!(list[0]["phone"], "+84912345678");
    assert_eq!(list[0]["reason"], "2 đơn COD bị hoàn");
    let f = frame_of(&mut owner_ws, "blacklist.updated").await;
    assert_eq!(f["data"]["entry"]["source"], "automatic");
    let record: Value = owner
        .json("/api/v1/orders/phone-record?phone=0912345678")
        .await;
    assert_eq!(record["returned"], 2);
    assert_eq!(record["blacklist"]["source"], "automatic");
}

fn status_body(order_id: &str, status: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"type": "order.status", "timestamp": Utc::now().to_rfc3339(),
        "data": {"order_id": order_id, "status": status, "tracking_code": "GHN123", "carrier": "GHN"}}))
    .unwrap()
}

#[tokio::test]
async fn fulfillment_reports_status_on_a_signed_idempotent_callback() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let ws = ws_of(&owner);
    let (endpoint_id, secret) = endpoint(&app, ws).await;
    let id = confirmed_order(&owner, "0912345678").await;
    let path = format!("/webhooks/fulfillment/{endpoint_id}");
    let now = Utc::now().timestamp();

    // The delivery worker's hook after a 2xx: confirmed → pushed, once.
    let oid: Uuid = id.parse().unwrap();
    let frame = tongdai::services::orders::mark_pushed(&app.state.db.write, ws, oid, "msg_out")
        .await
        .unwrap()
        .expect("a confirmed order becomes pushed");
    assert_eq!(frame["order"]["status"], "pushed");
    assert_eq!(
        frame["order"]["timeline"]
            .as_array()
            .unwrap()
            .last()
            .unwrap()["data"]["message_id"],
        "msg_out"
    );
    assert!(
        tongdai::services::orders::mark_pushed(&app.state.db.write, ws, oid, "msg_out")
            .await
            .unwrap()
            .is_none()
    );

    let body = status_body(&id, "in_transit");
    let res = post_sw(&app, &path, &secret, "msg_1", now, &body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "processed");
    assert_eq!(v["order_status"], "shipped");
    let o: Value = owner.json(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(o["status"], "shipped");
    assert_eq!(o["tracking_code"], "GHN123");
    assert_eq!(o["carrier"], "GHN");
    assert_eq!(o["platform_status"], "in_transit");
    let last = last_status_event(&o);
    assert_eq!(last["source"], "fulfillment");
    assert_eq!(last["to_status"], "shipped");

    // The same delivery again (a retry): acknowledged, nothing changes.
    let res = post_sw(&app, &path, &secret, "msg_1", now + 5, &body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "duplicate");
    let o2: Value = owner.json(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(
        o2["timeline"].as_array().unwrap().len(),
        o["timeline"].as_array().unwrap().len()
    );
    let stored = inbound_event::Entity::find()
        .filter(inbound_event::Column::Platform.eq("fulfillment"))
        .all(&app.state.db.write)
        .await
        .unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].event_key, format!("{endpoint_id}:msg_1"));
    assert_eq!(stored[0].status, "processed");
    assert_eq!(stored[0].workspace_id, Some(ws));

    // Forged, stale, unsigned.
    let forged = Secret::parse("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").unwrap();
    let delivered = status_body(&id, "delivered");
    let res = post_sw(&app, &path, &forged, "msg_2", now, &delivered).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "bad_signature");
    let res = post_sw(&app, &path, &secret, "msg_2", now - 600, &delivered).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "stale_timestamp"
    );
    let res = app
        .http
        .post(app.url(&path))
        .body(delivered.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "missing_signature"
    );
    let o3: Value = owner.json(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(o3["status"], "shipped");

    // A step back is refused, and nothing is stored.
    let res = post_sw(
        &app,
        &path,
        &secret,
        "msg_3",
        now,
        &status_body(&id, "packed"),
    )
    .await;
    assert_eq!(res.status(), 409);
    assert!(
        !inbound_event::Entity::find()
            .filter(inbound_event::Column::EventKey.eq(format!("{endpoint_id}:msg_3")))
            .all(&app.state.db.write)
            .await
            .unwrap()
            .iter()
            .any(|_| true)
    );

    // Unknown endpoint, unknown order.
    let res = post_sw(
        &app,
        &format!("/webhooks/fulfillment/{}", Uuid::now_v7()),
        &secret,
        "msg_4",
        now,
        &delivered,
    )
    .await;
    assert_eq!(res.status(), 404);
    let res = post_sw(
        &app,
        &path,
        &secret,
        "msg_5",
        now,
        &status_body(&Uuid::now_v7().to_string(), "delivered"),
    )
    .await;
    assert_eq!(res.status(), 404);

    // Delivered (a synonym), with its time.
    let res = post_sw(
        &app,
        &path,
        &secret,
        "msg_6",
        now,
        &status_body(&id, "completed"),
    )
    .await;
    assert_eq!(res.status(), 200);
    let o: Value = owner.json(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(o["status"], "delivered");
    assert!(o["delivered_at"].is_string());
    assert_eq!(o["phone_record"]["delivered"], 1);
}

fn shop_body(kind: &str, id: Value, quantity: i64, ward: Option<&str>) -> Vec<u8> {
    let mut address = json!({"street": "12 Lý Thường Kiệt", "province": "Hà Nội"});
    if let Some(w) = ward {
        address["ward"] = json!(w);
    }
    serde_json::to_vec(&json!({"type": kind, "timestamp": Utc::now().to_rfc3339(),
        "data": {"id": id,
          "items": [{"sku": "MUG-01", "name": "Cốc sứ", "quantity": quantity, "unit_price": 90000}],
          "recipient": {"name": "Trần Thị B", "phone": "0987 654 321", "address": address},
          "shipping_fee": 20000, "note": "Hàng dễ vỡ"}}))
    .unwrap()
}

#[tokio::test]
async fn an_external_shop_pushes_signed_orders_in() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let ws = ws_of(&owner);
    let (endpoint_id, _) = endpoint(&app, ws).await;
    let res = owner
        .post("/api/v1/shop-channels", json!({"name": "Website"}))
        .await;
    assert_eq!(res.status(), 201);
    let ch: Value = res.json().await.unwrap();
    assert_eq!(ch["orders_land_as"], "confirmed");
    let secret = Secret::parse(ch["secret"].as_str().unwrap()).unwrap();
    assert!(ch["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(secret.bytes().len(), 24);
    let path = ch["webhook_path"].as_str().unwrap().to_owned();
    let channel_id = ch["id"].as_str().unwrap().to_owned();
    let now = Utc::now().timestamp();

    let body = shop_body("order.created", json!(1001), 1, Some("Phường Tràng Tiền"));
    let res = post_sw(&app, &path, &secret, "evt_1", now, &body).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["status"], "processed");
    assert_eq!(v["order_status"], "confirmed");
    let order_id = v["order_id"].as_str().unwrap().to_owned();
    let o: Value = owner.json(&format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(o["source"], "shop");
    assert_eq!(o["external_id"], "1001");
    assert_eq!(o["channel_account_id"], channel_id);
    assert_eq!(o["recipient"]["phone"], "+84987654321");
    assert_eq!(o["recipient"]["address"]["district"], Value::Null);
    assert_eq!(o["totals"]["total"], 110000);
    assert_eq!(o["cod_amount"], 110000);
    assert_eq!(o["platform_status"], "order.created");
    let msgs = messages_of(&app, ws).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].endpoint_id, endpoint_id);
    assert_eq!(msgs[0].event_type, "order.confirmed");
    let pushed: Value = serde_json::from_str(&msgs[0].payload).unwrap();
    assert_eq!(pushed["data"]["channel"], "shop");
    assert_eq!(pushed["data"]["channel_order_id"], "1001");
    let raw = order::Entity::find_by_id(order_id.parse::<Uuid>().unwrap())
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap()
        .raw
        .unwrap();
    assert_eq!(raw["data"]["id"], 1001);

    // The same delivery again → duplicate; the same shop order again (as a string id, a new
    // delivery) → the one order is updated.
    let res = post_sw(&app, &path, &secret, "evt_1", now, &body).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "duplicate");
    let body2 = shop_body("order.updated", json!("1001"), 3, Some("Phường Tràng Tiền"));
    let res = post_sw(&app, &path, &secret, "evt_2", now, &body2).await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    assert_eq!(res.json::<Value>().await.unwrap()["order_id"], order_id);
    let count = order::Entity::find()
        .filter(order::Column::WorkspaceId.eq(ws))
        .count(&app.state.db.write)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let o: Value = owner.json(&format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(o["items"][0]["quantity"], 3);
    assert_eq!(o["totals"]["total"], 290000);
    assert_eq!(o["platform_status"], "order.updated");
    assert!(
        messages_of(&app, ws)
            .await
            .iter()
            .any(|m| m.event_type == "order.updated")
    );

    // Forged and stale.
    let forged = Secret::parse(ENDPOINT_SECRET).unwrap();
    let body3 = shop_body(
        "order.created",
        json!("WEB-2"),
        1,
        Some("Phường Tràng Tiền"),
    );
    let res = post_sw(&app, &path, &forged, "evt_3", now, &body3).await;
    assert_eq!(res.status(), 401);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "bad_signature");
    let res = post_sw(&app, &path, &secret, "evt_3", now - 301, &body3).await;
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.json::<Value>().await.unwrap()["code"],
        "stale_timestamp"
    );

    // Not confirmable (no ward) → 422 with the problems, nothing stored; malformed → 422.
    let bad = shop_body("order.created", json!("WEB-3"), 1, None);
    let res = post_sw(&app, &path, &secret, "evt_4", now, &bad).await;
    assert_eq!(res.status(), 422);
    let err: Value = res.json().await.unwrap();
    assert!(err.to_string().contains("ward"), "{err}");
    let bad = String::from_utf8(shop_body("order.created", json!("WEB-4"), 1, Some("P1")))
        .unwrap()
        .replace("90000", "90000.5");
    let res = post_sw(&app, &path, &secret, "evt_5", now, bad.as_bytes()).await;
    assert_eq!(res.status(), 422);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_order");
    let count = order::Entity::find()
        .filter(order::Column::WorkspaceId.eq(ws))
        .count(&app.state.db.write)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let keys: Vec<String> = inbound_event::Entity::find()
        .filter(inbound_event::Column::Platform.eq("shop"))
        .all(&app.state.db.write)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event_key)
        .collect();
    assert_eq!(
        keys,
        [format!("{channel_id}:evt_1"), format!("{channel_id}:evt_2")]
    );

    // An event type the schema does not define: acknowledged, ignored, nothing changes.
    let paid = serde_json::to_vec(&json!({"type": "order.paid", "data": {"id": 1001}})).unwrap();
    let res = post_sw(&app, &path, &secret, "evt_5", now, &paid).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ignored");

    // The shop cancels it.
    let cancel = serde_json::to_vec(
        &json!({"type": "order.cancelled", "data": {"id": 1001, "reason": "Hết hàng"}}),
    )
    .unwrap();
    let res = post_sw(&app, &path, &secret, "evt_6", now, &cancel).await;
    assert_eq!(res.status(), 200);
    let o: Value = owner.json(&format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(o["status"], "cancelled");

    // A draft-landing channel; the schema is in the OpenAPI document.
    let res = owner
        .post(
            "/api/v1/shop-channels",
            json!({"name": "POS", "orders_land_as": "draft"}),
        )
        .await;
    let pos: Value = res.json().await.unwrap();
    let pos_secret = Secret::parse(pos["secret"].as_str().unwrap()).unwrap();
    let res = post_sw(
        &app,
        pos["webhook_path"].as_str().unwrap(),
        &pos_secret,
        "evt_1",
        now,
        &shop_body("order.created", json!(1001), 1, Some("P1")),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["order_status"], "draft");
    let doc: Value = owner.json("/api/openapi.json").await;
    assert!(doc["paths"]["/webhooks/shop/{channel_id}"]["post"].is_object());
    assert!(doc["components"]["schemas"]["ShopOrderBody"].is_object());
    assert!(doc["paths"]["/api/v1/orders/{id}/confirm"]["post"].is_object());
}

#[tokio::test]
async fn the_packing_board_gets_order_frames_and_no_messages() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let packer = app.user("kho@a.vn", Role::Fulfillment, "Shop A").await;
    app.connect_page(&owner, "105").await;
    let mut board = app.ws(&packer, None).await;
    let mut staff = app.ws(&owner, None).await;
    app.customer_says("105", "psid-1", "m_1", "Chốt đơn nhé shop")
        .await;
    app.drain().await;
    frame_of(&mut staff, "message.created").await;
    let id = confirmed_order(&owner, "0912345678").await;
    let res = packer
        .post(
            &format!("/api/v1/orders/{id}/status"),
            json!({"status": "packed"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut seen = Vec::new();
    loop {
        let f = next_frame(&mut board).await;
        let kind = f["type"].as_str().unwrap().to_owned();
        seen.push(kind.clone());
        if kind == "order.updated" && f["data"]["order"]["status"] == "packed" {
            break;
        }
    }
    assert!(seen.contains(&"order.created".to_owned()), "{seen:?}");
    assert!(
        seen.iter().all(|k| k.starts_with("order.") || k == "hello"),
        "{seen:?}"
    );
    let res = packer.get("/api/v1/conversations").await;
    assert_eq!(res.status(), 403);
}

/// The newest status change of an order's timeline (customer notifications come after it).
fn last_status_event(order: &Value) -> Value {
    order["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .find(|e| e["kind"] == "status")
        .cloned()
        .expect("a status event")
}
