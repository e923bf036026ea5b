//! What the agent's order form needs beyond the order routes: ward suggestions per province
//! (wards already used in the workspace's orders, most used first) and the list's filters.

use serde_json::{Value, json};
use tongdai::domain::role::Role;

use crate::helpers::*;

fn order_to(ward: &str, province: &str, phone: &str) -> Value {
    json!({
        "items": [{"sku": "TEE-M", "name": "Áo thun M", "quantity": 1, "unit_price": 199000}],
        "recipient": {"name": "Lê Thị Mai", "phone": phone,
            "address": {"street": "12 Trần Phú", "ward": ward, "province": province}},
        "shipping_fee": 0, "discount": 0
    })
}

#[tokio::test]
async fn ward_suggestions_are_the_workspaces_wards_in_that_province_most_used_first() {
    let app = spawn_app().await;
    let agent = app.user("agent@shop-a.vn", Role::Agent, "Shop A").await;
    let other = app.user("agent@shop-b.vn", Role::Agent, "Shop B").await;
    for (ward, province) in [
        ("Phường Hải Châu", "Thành phố Đà Nẵng"),
        ("Phường Hải Châu ", "Thành phố Đà Nẵng"),
        ("Phường Thanh Khê", "Thành phố Đà Nẵng"),
        ("Phường Hải Châu", "Thành phố Đà Nẵng"),
        ("Phường Bến Thành", "Thành phố Hồ Chí Minh"),
    ] {
        let res = agent
            .post("/api/v1/orders", order_to(ward, province, "0912345678"))
            .await;
        assert_eq!(res.status(), 201);
    }
    // Another workspace's wards never show.
    let res = other
        .post(
            "/api/v1/orders",
            order_to("Phường Sơn Trà", "Thành phố Đà Nẵng", "0912345678"),
        )
        .await;
    assert_eq!(res.status(), 201);

    let got: Value = agent
        .json("/api/v1/orders/address-suggestions?province=Th%C3%A0nh%20ph%E1%BB%91%20%C4%90%C3%A0%20N%E1%BA%B5ng")
        .await;
    assert_eq!(
        got,
        json!([
            {"ward": "Phường Hải Châu", "count": 3},
            {"ward": "Phường Thanh Khê", "count": 1}
        ])
    );
    let none: Value = agent
        .json("/api/v1/orders/address-suggestions?province=T%E1%BB%89nh%20Cao%20B%E1%BA%B1ng")
        .await;
    assert_eq!(none, json!([]));
    let res = agent
        .get("/api/v1/orders/address-suggestions?province=%20")
        .await;
    assert_eq!(res.status(), 400);
}

#[tokio::test]
async fn the_order_list_filters_by_source() {
    let app = spawn_app().await;
    let agent = app.user("agent@shop.vn", Role::Agent, "Shop").await;
    let res = agent
        .post(
            "/api/v1/orders",
            order_to("Phường 1", "Thành phố Hà Nội", "0912345678"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let manual: Value = agent.json("/api/v1/orders?source=manual").await;
    assert_eq!(manual["items"].as_array().unwrap().len(), 1);
    assert_eq!(manual["items"][0]["source"], "manual");
    let shop: Value = agent.json("/api/v1/orders?source=shop").await;
    assert_eq!(shop["items"].as_array().unwrap().len(), 0);
}
