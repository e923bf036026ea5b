//! Contacts, phones, merges, conversation filters and pagination.

use serde_json::{Value, json};
use tongdai::domain::role::Role;

use crate::helpers::*;

#[tokio::test]
async fn a_phone_in_a_message_is_normalized_and_joins_identities_across_pages() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "111").await;
    app.connect_page(&owner, "222").await;
    app.customer_says(
        "111",
        "u-on-111",
        "m_1",
        "Em lấy 2 cái, sđt 0912.345.678 nhé",
    )
    .await;
    app.drain().await;
    app.customer_says("222", "u-on-222", "m_2", "Số em +84 912 345 678")
        .await;
    app.drain().await;

    let found: Value = owner.json("/api/v1/contacts?q=0912%20345%20678").await;
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "one person: {found:?}");
    assert_eq!(found[0]["phone"], "+84912345678");
    assert_eq!(found[0]["identities"].as_array().unwrap().len(), 2);
    let page: Value = owner.json("/api/v1/conversations").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["contact"]["id"], items[1]["contact"]["id"]);

    // Unmerge gives the second contact its identity and conversation back.
    let kept = found[0]["id"].as_str().unwrap();
    let moved = found[0]["identities"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|i| i["original_contact_id"].as_str())
        .unwrap()
        .to_owned();
    let res = owner
        .post(&format!("/api/v1/contacts/{moved}/unmerge"), json!({}))
        .await;
    assert_eq!(res.status(), 200);
    let back: Value = res.json().await.unwrap();
    assert_eq!(back["identities"].as_array().unwrap().len(), 1);
    let page: Value = owner.json("/api/v1/conversations").await;
    let items = page["items"].as_array().unwrap();
    assert_ne!(items[0]["contact"]["id"], items[1]["contact"]["id"]);
    // And merge by hand joins them again.
    let res = owner
        .post(
            &format!("/api/v1/contacts/{moved}/merge"),
            json!({"into_id": kept}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let merged: Value = res.json().await.unwrap();
    assert_eq!(merged["identities"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn conversations_filter_by_status_label_unread_and_paginate() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    for i in 0..5 {
        app.customer_says(
            "105",
            &format!("u{i}"),
            &format!("m_{i}"),
            &format!("khách {i}"),
        )
        .await;
    }
    app.drain().await;
    let all: Value = owner.json("/api/v1/conversations?limit=2").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let mut seen: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    let mut cursor = all["next_cursor"].as_str().map(str::to_owned);
    while let Some(c) = cursor {
        let p: Value = owner
            .json(&format!("/api/v1/conversations?limit=2&cursor={c}"))
            .await;
        seen.extend(
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        cursor = p["next_cursor"].as_str().map(str::to_owned);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(
        seen.len(),
        5,
        "every conversation exactly once across pages"
    );

    let first = seen[0].clone();
    let me = owner.me["user"]["id"].as_str().unwrap().to_owned();
    let res = owner
        .patch(
            &format!("/api/v1/conversations/{first}"),
            json!({"status":"resolved","labels":["VIP","COD"],"assignee_id": me}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let c: Value = res.json().await.unwrap();
    assert_eq!(c["labels"], json!(["COD", "VIP"]));
    assert_eq!(c["assignee_id"], me.as_str());
    let resolved: Value = owner.json("/api/v1/conversations?status=resolved").await;
    assert_eq!(resolved["items"].as_array().unwrap().len(), 1);
    let vip: Value = owner.json("/api/v1/conversations?label=VIP").await;
    assert_eq!(vip["items"][0]["id"], first.as_str());
    let mine: Value = owner.json("/api/v1/conversations?assignee=me").await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let unassign = owner
        .patch(
            &format!("/api/v1/conversations/{first}"),
            json!({"assignee_id": null}),
        )
        .await;
    let c: Value = unassign.json().await.unwrap();
    assert!(c["assignee_id"].is_null());

    assert_eq!(
        owner
            .post(&format!("/api/v1/conversations/{first}/read"), json!({}))
            .await
            .status(),
        200
    );
    let unread: Value = owner.json("/api/v1/conversations?unread=true").await;
    assert_eq!(unread["items"].as_array().unwrap().len(), 4);
    let by_channel: Value = owner
        .json("/api/v1/conversations?channel=facebook&limit=100")
        .await;
    assert_eq!(by_channel["items"].as_array().unwrap().len(), 5);

    // A new message from that customer reopens the resolved conversation.
    let before: Value = owner.json(&format!("/api/v1/conversations/{first}")).await;
    assert_eq!(before["status"], "resolved");
    let contact: Value = owner
        .json(&format!(
            "/api/v1/contacts/{}",
            before["contact"]["id"].as_str().unwrap()
        ))
        .await;
    let psid = contact["identities"][0]["external_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.customer_says("105", &psid, "m_again", "Shop ơi còn đó không?")
        .await;
    app.drain().await;
    let after: Value = owner.json(&format!("/api/v1/conversations/{first}")).await;
    assert_eq!(after["status"], "open");
    assert_eq!(after["last_message_preview"], "Shop ơi còn đó không?");
}

#[tokio::test]
async fn labels_and_canned_responses_are_managed_per_workspace() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    let other = app.user("x@b.vn", Role::Owner, "Shop B").await;
    let c: Value = owner
        .post(
            "/api/v1/canned-responses",
            json!({"shortcut":"gia","content":"Dạ giá 250.000đ ạ"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        owner
            .post(
                "/api/v1/canned-responses",
                json!({"shortcut":"gia","content":"x"})
            )
            .await
            .status(),
        409
    );
    let list: Value = owner.json("/api/v1/canned-responses").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(
        other
            .json("/api/v1/canned-responses")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );
    let id = c["id"].as_str().unwrap();
    let del = other
        .client
        .delete(format!("{}/api/v1/canned-responses/{id}", other.base))
        .header("x-csrf-token", &other.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 404);
    let del = owner
        .client
        .delete(format!("{}/api/v1/canned-responses/{id}", owner.base))
        .header("x-csrf-token", &owner.csrf)
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
}

/// Several webhooks normalized in one transaction (the ingest worker's batch reads the
/// people and conversations they need together): the same person and thread twice, a label
/// carried into the frames, and a phone that merges two people in the middle of the batch
/// give what they would give one at a time.
#[tokio::test]
async fn one_batch_with_repeats_labels_and_a_merge_is_applied_as_if_one_by_one() {
    let app = spawn_app().await;
    let owner = app.user("o@a.vn", Role::Owner, "Shop A").await;
    app.connect_page(&owner, "105").await;
    app.customer_says("105", "u-an", "m_a1", "chào shop").await;
    app.customer_says("105", "u-binh", "m_b1", "còn hàng không")
        .await;
    app.drain().await;
    let page: Value = owner.json("/api/v1/conversations").await;
    let conv_of = |page: &Value, preview: &str| -> Value {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["last_message_preview"] == preview)
            .cloned()
            .unwrap_or_else(|| panic!("no conversation with {preview:?}: {page}"))
    };
    let an = conv_of(&page, "chào shop")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let binh = conv_of(&page, "còn hàng không")["contact"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let res = owner
        .patch(
            &format!("/api/v1/conversations/{an}"),
            json!({"labels": ["VIP"]}),
        )
        .await;
    assert_eq!(res.status(), 200);

    let mut ws = app.ws(&owner, None).await;
    // Six webhooks, all stored before the worker looks: one batch.
    app.customer_says("105", "u-an", "m_a2", "hai").await;
    app.customer_says("105", "u-an", "m_a3", "ba").await;
    app.customer_says("105", "u-binh", "m_b2", "số em 0912 345 678")
        .await;
    app.customer_says("105", "u-chi", "m_c1", "em là vợ anh Bình, 0912345678")
        .await;
    app.customer_says("105", "u-an", "m_a4", "bốn").await;
    app.customer_says("105", "u-binh", "m_b3", "ship COD nhé")
        .await;
    app.drain().await;

    let mut created = Vec::new();
    while created.len() < 6 {
        let f = frame_of(&mut ws, "message.created").await;
        created.push(f["data"].clone());
    }
    for f in created
        .iter()
        .filter(|f| f["conversation"]["id"] == an.as_str())
    {
        assert_eq!(f["conversation"]["labels"], json!(["VIP"]), "{f}");
    }
    let texts: Vec<&str> = created
        .iter()
        .map(|f| f["message"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "hai",
            "ba",
            "số em 0912 345 678",
            "em là vợ anh Bình, 0912345678",
            "bốn",
            "ship COD nhé"
        ]
    );

    let page: Value = owner.json("/api/v1/conversations").await;
    let an_conv = conv_of(&page, "bốn");
    assert_eq!(an_conv["id"], an.as_str());
    assert_eq!(an_conv["unread_count"], 4, "no increment lost: {an_conv}");
    assert_eq!(an_conv["labels"], json!(["VIP"]));
    let binh_conv = conv_of(&page, "ship COD nhé");
    assert_eq!(binh_conv["unread_count"], 3, "{binh_conv}");
    // Chi's phone is Bình's: one person, the older contact kept.
    let chi_conv = conv_of(&page, "em là vợ anh Bình, 0912345678");
    assert_eq!(chi_conv["contact"]["id"], binh.as_str(), "{chi_conv}");
    assert_eq!(binh_conv["contact"]["id"], binh.as_str());
    let found: Value = owner.json("/api/v1/contacts?q=0912345678").await;
    let found = found.as_array().unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["phone"], "+84912345678");
    assert_eq!(found[0]["identities"].as_array().unwrap().len(), 2);
    let events: Value = owner.json("/api/v1/inbound-events?status=processed").await;
    assert_eq!(events.as_array().map_or(0, Vec::len), 8, "{events}");
}
