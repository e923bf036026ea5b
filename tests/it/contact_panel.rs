//! What the contact panel needs: renaming a contact and its staff note (`PATCH /contacts/{id}`,
//! with a `contact.updated` frame), and the leads and orders of one contact
//! (`GET /leads?contact_id=`, `GET /orders?contact_id=`).

use serde_json::{Value, json};
use tongdai::domain::role::Role;

use crate::helpers::*;

async fn lead_for(agent: &Agent, phone: &str, name: &str) -> Value {
    let res = agent
        .post(
            "/api/v1/leads",
            json!({ "phone": phone, "name": name, "text": format!("sđt {phone}") }),
        )
        .await;
    assert_eq!(res.status(), 201);
    res.json().await.unwrap()
}

#[tokio::test]
async fn a_contact_is_renamed_and_noted_with_a_frame_and_permissions() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let agent = app.user("ag@a.vn", Role::Agent, "Shop A").await;
    let lead = lead_for(&owner, "0912345678", "Chị Lan").await;
    let cid = lead["contact"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/contacts/{cid}");

    let before: Value = agent.json(&path).await;
    assert_eq!(before["note"], Value::Null);
    assert_eq!(before["name"], "Chị Lan");

    let mut ws = app.ws(&owner, None).await;
    let res = agent
        .patch(
            &path,
            json!({ "name": "  Chị Lan Q10 ", "note": "Khách quen, thích giao buổi tối" }),
        )
        .await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["name"], "Chị Lan Q10");
    assert_eq!(out["note"], "Khách quen, thích giao buổi tối");
    let f = frame_of(&mut ws, "contact.updated").await;
    assert_eq!(f["data"]["contact_id"], cid.as_str());

    // Stored: a fresh read has it; the lead's contact shows the new name.
    let again: Value = owner.json(&path).await;
    assert_eq!(again["note"], "Khách quen, thích giao buổi tối");
    let l: Value = owner
        .json(&format!("/api/v1/leads/{}", lead["id"].as_str().unwrap()))
        .await;
    assert_eq!(l["lead"]["contact"]["name"], "Chị Lan Q10");

    // Only the note: the name stays. An empty note clears it.
    let res = agent.patch(&path, json!({ "note": "" })).await;
    assert_eq!(res.status(), 200);
    let out: Value = res.json().await.unwrap();
    assert_eq!(out["note"], Value::Null);
    assert_eq!(out["name"], "Chị Lan Q10");

    // Too long.
    let res = agent
        .patch(&path, json!({ "note": "x".repeat(5001) }))
        .await;
    assert_eq!(res.status(), 400);
    assert_eq!(res.json::<Value>().await.unwrap()["code"], "invalid_note");

    // A marketer reads the inbox but does not work it.
    let marketer = app.user("m@a.vn", Role::Marketer, "Shop A").await;
    let res = marketer.patch(&path, json!({ "name": "X" })).await;
    assert_eq!(res.status(), 403);

    // Another workspace does not see it.
    let other = app.user("o@b.vn", Role::Owner, "Shop B").await;
    let res = other.patch(&path, json!({ "name": "X" })).await;
    assert_eq!(res.status(), 404);
    let still: Value = owner.json(&path).await;
    assert_eq!(still["name"], "Chị Lan Q10");
}

#[tokio::test]
async fn leads_and_orders_filter_by_contact() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let a = lead_for(&owner, "0912345678", "An").await;
    let b = lead_for(&owner, "0987654321", "Bình").await;
    let ca = a["contact"]["id"].as_str().unwrap();
    let cb = b["contact"]["id"].as_str().unwrap();
    assert_ne!(ca, cb);

    let page: Value = owner.json(&format!("/api/v1/leads?contact_id={ca}")).await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], a["id"]);
    assert_eq!(page["counts"]["new"], 1);
    let all: Value = owner.json("/api/v1/leads").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);

    // An order made from lead b belongs to contact b.
    let res = owner
        .post(
            "/api/v1/orders",
            json!({
                "lead_id": b["id"],
                "items": [{"sku": "POLO-M", "name": "Áo Polo", "quantity": 1, "unit_price": 125000}],
                "recipient": {"name": "Bình", "phone": "0987654321"}
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.unwrap();
    let of_b: Value = owner.json(&format!("/api/v1/orders?contact_id={cb}")).await;
    let items = of_b["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], order["id"]);
    let of_a: Value = owner.json(&format!("/api/v1/orders?contact_id={ca}")).await;
    assert_eq!(of_a["items"].as_array().unwrap().len(), 0);
}
