//! The whole business loop through the real routes, as the issue states it: a comment with a
//! phone → lead → assigned → call logged → order confirmed → push received by a test receiver
//! that verifies it with the reference Standard Webhooks library → retried after a failure with
//! the same id → a status callback signed by that same independent library → the customer
//! notified on Messenger; every state change seen on the websockets (the agent's, and the
//! packing board's, which sees orders only).

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use tongdai::domain::role::Role;

use crate::fulfillment::{Mode, Receiver, endpoint, retry_now};
use crate::helpers::*;
use crate::leads::{PAGE, customer_comments, put};

/// Every frame that arrives until the socket has been quiet for a moment.
async fn collect(ws: &mut Ws) -> Vec<Value> {
    let mut out = Vec::new();
    while let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(400), ws.next()).await
    {
        if let tokio_tungstenite::tungstenite::Message::Text(t) = msg {
            out.push(serde_json::from_str(&t).unwrap());
        }
    }
    out
}

fn kinds(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .map(|f| f["type"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// The order statuses the `order.*` frames carried, in order.
fn order_statuses(frames: &[Value]) -> Vec<String> {
    frames
        .iter()
        .filter(|f| f["type"].as_str().is_some_and(|k| k.starts_with("order.")))
        .filter_map(|f| f["data"]["order"]["status"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_comment_with_a_phone_becomes_a_delivered_order_and_the_customer_hears_of_it() {
    let app = spawn_app().await;
    let owner = app.user("chu@shop.vn", Role::Owner, "Shop Áo").await;
    let sale = app.user("sale@shop.vn", Role::Agent, "Shop Áo").await;
    let packer = app.user("kho@shop.vn", Role::Fulfillment, "Shop Áo").await;
    let acc = app.connect_page(&owner, PAGE).await;
    let res = owner
        .patch(
            &format!("/api/v1/channel-accounts/{}", acc["id"].as_str().unwrap()),
            json!({"settings": {"hide_phone_comments": true,
                                "phone_private_reply": "Shop đã nhận SĐT, sẽ gọi lại ngay ạ"}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let available = put(&sale, "/api/v1/me/availability", json!({"available": true})).await;
    assert_eq!(available.status(), 200);
    // Fulfillment's service: down for the first request.
    let receiver = Receiver::start(Mode::Ok, 1).await;
    let ep = endpoint(&owner, &receiver).await;
    let secret = ep["secret"].as_str().unwrap().to_owned();

    let mut sale_ws = app.ws(&sale, None).await;
    let mut board = app.ws(&packer, None).await;

    // 1. A comment with a phone: a lead, hidden from competitors, privately answered, and
    //    handed to the one agent on shift.
    customer_comments(&app, "p1_c9", "u-9", "Lấy 2 áo size M, sđt 0912.345.678").await;
    let leads = sale.json("/api/v1/leads?assignee=me").await;
    let lead = leads["items"][0].clone();
    assert_eq!(lead["phone"], "+84912345678");
    assert_eq!(lead["source"], "comment");
    assert_eq!(lead["assignee_id"], sale.me["user"]["id"], "{lead}");
    assert!(
        app.graph
            .moderation()
            .iter()
            .any(|m| format!("{m:?}").contains("p1_c9")),
        "the phone comment is hidden"
    );
    let private = app.graph.sent_messages();
    assert_eq!(private.len(), 1);
    assert_eq!(private[0].comment_id.as_deref(), Some("p1_c9"));
    let lead_id = lead["id"].as_str().unwrap().to_owned();

    // The customer answers the private reply in Messenger (same phone: one contact).
    app.customer_says(
        PAGE,
        "psid-9",
        "m-9",
        "Vâng, giao cho mình ở 0912 345 678 nhé",
    )
    .await;
    app.drain().await;
    app.run_jobs().await;

    // 2. The call: interested.
    let res = sale
        .post(
            &format!("/api/v1/leads/{lead_id}/calls"),
            json!({"outcome": "interested", "note": "Lấy 2 áo, giao giờ hành chính", "duration_seconds": 95}),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());

    // 3. The order, from the lead, confirmed.
    let res = sale
        .post(
            "/api/v1/orders",
            json!({
                "lead_id": lead_id,
                "items": [{"sku": "POLO-M", "name": "Áo Polo size M", "quantity": 2, "unit_price": 180000}],
                "recipient": {"name": "Nguyễn Văn A", "phone": "0912 345 678",
                              "address": {"street": "72 Thành Thái", "ward": "Phường 14",
                                          "district": "Quận 10", "province": "TP. Hồ Chí Minh"}},
                "shipping_fee": 30000,
                "note": "Gọi trước khi giao"
            }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    let order: Value = res.json().await.unwrap();
    let order_id = order["id"].as_str().unwrap().to_owned();
    assert_eq!(order["totals"]["total"], 390_000);
    let res = sale
        .post(&format!("/api/v1/orders/{order_id}/confirm"), json!({}))
        .await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    let lead_now = sale.json(&format!("/api/v1/leads/{lead_id}")).await;
    assert_eq!(lead_now["lead"]["stage"], "won");

    // 4. The push: refused once, retried with the same webhook-id, verified by the reference
    //    library both times; the order is then `pushed`.
    app.run_jobs().await;
    assert_eq!(receiver.count(), 1);
    retry_now(&app).await;
    assert_eq!(receiver.count(), 2);
    receiver.with_seen(|seen| {
        assert_eq!(
            seen[0].id, seen[1].id,
            "webhook-id is constant across retries"
        );
        for s in seen {
            assert_eq!(s.verified, Ok(()), "verified by the standardwebhooks crate");
        }
        let body: Value = serde_json::from_slice(&seen[1].body).unwrap();
        assert_eq!(body["type"], "order.confirmed");
        assert_eq!(body["data"]["order_id"], order_id.as_str());
        assert_eq!(body["data"]["cod_amount"], 390_000);
        assert_eq!(body["data"]["recipient"]["phone"], "0912345678");
        assert_eq!(body["data"]["recipient"]["address"]["ward"], "Phường 14");
        assert_eq!(body["data"]["items"][0]["sku"], "POLO-M");
    });
    let o = sale.json(&format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(o["status"], "pushed");
    assert_eq!(o["deliveries"][0]["status"], "delivered");
    assert_eq!(o["deliveries"][0]["attempts"], 2);

    // 5. Fulfillment reports back, signed by the independent library.
    let report = |id: &str, status: &str| {
        let body = json!({"type": "order.status", "timestamp": chrono::Utc::now().to_rfc3339(),
            "data": {"order_id": order_id, "status": status, "tracking_code": "GHN8899", "carrier": "GHN"}})
        .to_string();
        let ts = chrono::Utc::now().timestamp();
        let sig = standardwebhooks::Webhook::new(&secret)
            .unwrap()
            .sign(id, ts, body.as_bytes())
            .unwrap();
        app.http
            .post(app.url(&format!(
                "/webhooks/fulfillment/{}",
                ep["id"].as_str().unwrap()
            )))
            .header("content-type", "application/json")
            .header("webhook-id", id)
            .header("webhook-timestamp", ts.to_string())
            .header("webhook-signature", sig)
            .body(body)
            .send()
    };
    for (id, status) in [("msg_st_1", "packed"), ("msg_st_2", "shipped")] {
        let res = report(id, status).await.unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    }
    // The same report again (a retry of theirs): nothing changes.
    let again: Value = report("msg_st_2", "shipped")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(again["status"], "duplicate");
    // An event type of theirs we do not act on: acknowledged, ignored.
    let ts = chrono::Utc::now().timestamp();
    let other =
        json!({"type": "order.weight_updated", "data": {"order_id": order_id, "weight_g": 800}})
            .to_string();
    let sig = standardwebhooks::Webhook::new(&secret)
        .unwrap()
        .sign("msg_w_1", ts, other.as_bytes())
        .unwrap();
    let res = app
        .http
        .post(app.url(&format!(
            "/webhooks/fulfillment/{}",
            ep["id"].as_str().unwrap()
        )))
        .header("webhook-id", "msg_w_1")
        .header("webhook-timestamp", ts.to_string())
        .header("webhook-signature", sig)
        .body(other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "ignored");
    // The same status under a new id (a carrier re-sending its last scan): acknowledged.
    let res = report("msg_st_3", "shipped").await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.json::<Value>().await.unwrap()["status"], "unchanged");

    // 6. The customer hears that it shipped, on Messenger, with the tracking code.
    app.run_jobs().await;
    let sent = app.graph.sent_messages();
    let shipped = sent
        .iter()
        .find(|m| m.text.contains("GHN8899"))
        .unwrap_or_else(|| panic!("no shipping notice among {sent:?}"));
    assert_eq!(shipped.recipient_id, "psid-9");
    let o = sale.json(&format!("/api/v1/orders/{order_id}")).await;
    assert_eq!(o["status"], "shipped");
    assert_eq!(o["tracking_code"], "GHN8899");
    let timeline: Vec<&str> = o["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["to_status"].as_str())
        .collect();
    assert_eq!(
        timeline,
        ["draft", "confirmed", "pushed", "packed", "shipped"],
        "{o}"
    );

    // 7. Every state change reached the agent live; the packing board saw the order's way
    //    through its statuses and nothing of the conversations.
    let agent_frames = collect(&mut sale_ws).await;
    let k = kinds(&agent_frames);
    for expected in [
        "lead.created",
        "lead.assigned",
        "lead.updated",
        "order.created",
        "order.updated",
        "message.created",
    ] {
        assert!(
            k.iter().any(|x| x == expected),
            "{expected} missing in {k:?}"
        );
    }
    let board_frames = collect(&mut board).await;
    assert!(
        kinds(&board_frames)
            .iter()
            .all(|k| k.starts_with("order.") || k == "hello"),
        "{:?}",
        kinds(&board_frames)
    );
    let statuses = order_statuses(&board_frames);
    for s in ["draft", "confirmed", "pushed", "packed", "shipped"] {
        assert!(
            statuses.iter().any(|x| x == s),
            "{s} missing in {statuses:?}"
        );
    }
}
