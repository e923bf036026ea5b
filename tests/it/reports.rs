//! `GET /reports`: conversations, leads, first response, conversion, deliveries, complaints and
//! where customers came from, with exact figures over local days (a message at 23:30 UTC
//! belongs to the next day in Vietnam), and who may read them.

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter,
};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::store::entities::{
    contact, conversation, feedback as fb, lead, message, order, order_event,
};
use uuid::Uuid;

use crate::helpers::*;

const PAGE_A: &str = "201";
const PAGE_B: &str = "202";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The conversation of `psid`, after the customer wrote.
async fn conv_of(app: &TestApp, psid: &str) -> conversation::Model {
    conversation::Entity::find()
        .filter(conversation::Column::ExternalThreadId.eq(psid))
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no conversation of {psid}"))
}

/// Move a conversation, its contact and its customer messages to `t`.
async fn opened_at(app: &TestApp, c: &conversation::Model, t: DateTime<Utc>) {
    let db = &app.state.db.write;
    let mut am = c.clone().into_active_model();
    am.created_at = Set(t);
    am.update(db).await.unwrap();
    let ct = contact::Entity::find_by_id(c.contact_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut am = ct.into_active_model();
    am.created_at = Set(t);
    am.update(db).await.unwrap();
    for m in message::Entity::find()
        .filter(message::Column::ConversationId.eq(c.id))
        .filter(message::Column::Direction.eq("in"))
        .all(db)
        .await
        .unwrap()
    {
        let mut am = m.into_active_model();
        am.sent_at = Set(t);
        am.update(db).await.unwrap();
    }
}

/// An agent's reply through the API, then moved to `t` (and made a private note if asked).
async fn reply_at(
    app: &TestApp,
    agent: &Agent,
    c: &conversation::Model,
    t: DateTime<Utc>,
    note: bool,
) {
    let res = agent
        .post(
            &format!("/api/v1/conversations/{}/messages", c.id),
            json!({ "text": "Dạ shop chào anh/chị ạ" }),
        )
        .await;
    assert_eq!(
        res.status(),
        202,
        "{}",
        res.text().await.unwrap_or_default()
    );
    let out: Value = res.json().await.unwrap();
    let id: Uuid = out["id"].as_str().unwrap().parse().unwrap();
    let m = message::Entity::find_by_id(id)
        .one(&app.state.db.write)
        .await
        .unwrap()
        .unwrap();
    let mut am = m.into_active_model();
    am.sent_at = Set(t);
    if note {
        am.kind = Set("note".into());
    }
    am.update(&app.state.db.write).await.unwrap();
}

async fn lead_of(app: &TestApp, c: &conversation::Model) -> lead::Model {
    lead::Entity::find()
        .filter(lead::Column::ContactId.eq(c.contact_id))
        .one(&app.state.db.write)
        .await
        .unwrap()
        .expect("a lead from the phone in the message")
}

async fn set_lead(
    app: &TestApp,
    l: lead::Model,
    t: DateTime<Utc>,
    stage: &str,
    assignee: Option<Uuid>,
) {
    let mut am = l.into_active_model();
    am.created_at = Set(t);
    am.stage = Set(stage.into());
    am.assignee_id = Set(assignee);
    am.update(&app.state.db.write).await.unwrap();
}

/// An order of `c`'s customer, and its status event to `status` at `t`.
async fn order_with(
    app: &TestApp,
    c: &conversation::Model,
    lead_id: Option<Uuid>,
    status: &str,
    cod: i64,
    t: DateTime<Utc>,
) -> order::Model {
    let o = order::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(c.workspace_id),
        contact_id: Set(Some(c.contact_id)),
        lead_id: Set(lead_id),
        channel_account_id: Set(Some(c.channel_account_id)),
        external_id: Set(None),
        status: Set(status.into()),
        recipient_name: Set(Some("Nguyễn Văn A".into())),
        phone: Set(Some("+84912345678".into())),
        address: Set(Some("12 Lý Thường Kiệt".into())),
        cod_amount: Set(cod),
        total_amount: Set(cod),
        note: Set(None),
        created_at: Set(t - Duration::days(2)),
        updated_at: Set(t),
        conversation_id: Set(Some(c.id)),
        source: Set("conversation".into()),
        province: Set(None),
        district: Set(None),
        ward: Set(None),
        shipping_fee: Set(0),
        discount: Set(0),
        platform_status: Set(None),
        raw: Set(None),
        tracking_code: Set(None),
        carrier: Set(None),
        blacklist_override: Set(None),
        created_by: Set(None),
        confirmed_at: Set(Some(t - Duration::days(2))),
        delivered_at: Set((status == "delivered").then_some(t)),
    }
    .insert(&app.state.db.write)
    .await
    .unwrap();
    if status == "delivered" || status == "returned" {
        order_event::ActiveModel {
            workspace_id: Set(c.workspace_id),
            order_id: Set(o.id),
            kind: Set("status".into()),
            from_status: Set(Some("shipped".into())),
            to_status: Set(Some(status.into())),
            actor_user_id: Set(None),
            source: Set("fulfillment".into()),
            data: Set(None),
            created_at: Set(t),
            ..Default::default()
        }
        .insert(&app.state.db.write)
        .await
        .unwrap();
    }
    o
}

/// A feedback answer at `t` on its own order of `c` (delivered before the range).
async fn answer(
    app: &TestApp,
    c: &conversation::Model,
    rating: i32,
    category: Option<&str>,
    t: DateTime<Utc>,
) {
    let o = order_with(app, c, None, "delivered", 1, at("2026-10-20T00:00:00Z")).await;
    fb::ActiveModel {
        id: Set(Uuid::now_v7()),
        workspace_id: Set(o.workspace_id),
        order_id: Set(o.id),
        contact_id: Set(o.contact_id),
        conversation_id: Set(o.conversation_id),
        requested_at: Set(Some(t - Duration::hours(1))),
        rating: Set(Some(rating)),
        comment: Set(None),
        category: Set(category.map(str::to_owned)),
        answered_at: Set(Some(t)),
        created_at: Set(t - Duration::hours(1)),
    }
    .insert(&app.state.db.write)
    .await
    .unwrap();
}

fn day_counts(v: &Value) -> Vec<(String, u64)> {
    v["by_day"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["day"].as_str().unwrap().to_owned(),
                d["count"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn days(pairs: &[(&str, u64)]) -> Vec<(String, u64)> {
    pairs.iter().map(|(d, n)| ((*d).to_owned(), *n)).collect()
}

#[tokio::test]
async fn the_report_counts_exact_figures_by_local_day() {
    let app = spawn_app().await;
    let owner = app.user("o@r.vn", Role::Owner, "Shop R").await;
    let agent = app.user("a@r.vn", Role::Agent, "Shop R").await;
    let agent_id: Uuid = agent.me["user"]["id"].as_str().unwrap().parse().unwrap();
    let a: Uuid = app.connect_page(&owner, PAGE_A).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let b: Uuid = app.connect_page(&owner, PAGE_B).await["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();

    // Three customers through the real webhook: two on Page A, one (with a phone) on Page B.
    app.customer_says(PAGE_A, "psid-1", "m1", "Chào shop, số em 0912345678 nhé")
        .await;
    app.customer_says(PAGE_A, "psid-2", "m2", "Áo này còn size M không ạ?")
        .await;
    app.customer_says(PAGE_B, "psid-3", "m3", "0987654321 tư vấn giúp em")
        .await;
    app.drain().await;
    app.run_jobs().await;
    let c1 = conv_of(&app, "psid-1").await;
    let c2 = conv_of(&app, "psid-2").await;
    let c3 = conv_of(&app, "psid-3").await;
    assert_eq!((c1.channel_account_id, c3.channel_account_id), (a, b));

    // c1: 23:30 UTC on 1 Nov is 06:30 on 2 Nov in Vietnam; answered 200 s later.
    opened_at(&app, &c1, at("2026-11-01T23:30:00Z")).await;
    reply_at(&app, &agent, &c1, at("2026-11-01T23:33:20Z"), false).await;
    // c2: 16:59 UTC is 23:59 on 1 Nov; never answered; came from an ad.
    opened_at(&app, &c2, at("2026-11-01T16:59:00Z")).await;
    let mut am = conv_of(&app, "psid-2").await.into_active_model();
    am.referral = Set(Some(
        json!({ "source": "ADS", "kind": "OPEN_THREAD", "ad_id": "ad-9" }),
    ));
    am.update(&app.state.db.write).await.unwrap();
    // c3: a private note after 10 s does not count; the reply after 60 s does.
    opened_at(&app, &c3, at("2026-11-02T10:00:00Z")).await;
    reply_at(&app, &owner, &c3, at("2026-11-02T10:00:10Z"), true).await;
    reply_at(&app, &agent, &c3, at("2026-11-02T10:01:00Z"), false).await;
    // A reply before the customer wrote (an old broadcast) is not a response.
    reply_at(&app, &owner, &c2, at("2026-11-01T16:00:00Z"), false).await;

    // Leads: c1's (won, the agent's, with a confirmed order) on 2 Nov local; c3's on 1 Nov.
    let l1 = lead_of(&app, &c1).await;
    let l3 = lead_of(&app, &c3).await;
    let l1_id = l1.id;
    set_lead(&app, l1, at("2026-11-01T23:30:00Z"), "won", Some(agent_id)).await;
    set_lead(&app, l3, at("2026-11-01T12:00:00Z"), "contacted", None).await;

    // Orders: one delivered (Page A, 250.000) and one returned at 01:00 local on 2 Nov
    // (Page B, 100.000); a delivery outside the range.
    order_with(
        &app,
        &c1,
        Some(l1_id),
        "delivered",
        250_000,
        at("2026-11-02T01:00:00Z"),
    )
    .await;
    order_with(
        &app,
        &c3,
        None,
        "returned",
        100_000,
        at("2026-11-01T18:00:00Z"),
    )
    .await;
    order_with(
        &app,
        &c3,
        None,
        "delivered",
        999_000,
        at("2026-11-03T18:00:00Z"),
    )
    .await;

    // Feedback: a 1 (delivery), a 2 (not categorised yet), a 5.
    answer(&app, &c1, 1, Some("delivery"), at("2026-11-02T02:00:00Z")).await;
    answer(&app, &c1, 2, None, at("2026-11-02T03:00:00Z")).await;
    answer(&app, &c3, 5, None, at("2026-11-02T04:00:00Z")).await;

    let r = owner
        .json("/api/v1/reports?from=2026-11-01&to=2026-11-02&tz=Asia/Ho_Chi_Minh")
        .await;
    assert_eq!(r["utc_offset_minutes"], 420);
    assert_eq!(r["channels"].as_array().unwrap().len(), 2);

    let conv = &r["conversations"];
    assert_eq!(conv["total"], 3);
    assert_eq!(
        day_counts(conv),
        days(&[("2026-11-01", 1), ("2026-11-02", 2)])
    );
    assert_eq!(conv["by_channel"][0]["channel_id"], a.to_string());
    assert_eq!(conv["by_channel"][0]["count"], 2);
    assert_eq!(conv["by_channel"][1]["count"], 1);
    assert_eq!(conv["by_day"][1]["by_channel"].as_array().unwrap().len(), 2);

    let leads = &r["leads"];
    assert_eq!(leads["total"], 2);
    assert_eq!(
        day_counts(leads),
        days(&[("2026-11-01", 1), ("2026-11-02", 1)])
    );
    assert_eq!(
        leads["by_source"],
        json!([{ "key": "message", "count": 2 }])
    );

    let fr = &r["first_response"];
    assert_eq!(fr["count"], 2);
    assert_eq!(fr["median_seconds"], 60);
    assert_eq!(fr["p90_seconds"], 200);
    assert_eq!(fr["unanswered"], 1);
    assert_eq!(fr["by_agent"].as_array().unwrap().len(), 1);
    assert_eq!(fr["by_agent"][0]["user_id"], agent_id.to_string());
    assert_eq!(fr["by_agent"][0]["count"], 2);
    assert_eq!(fr["by_channel"].as_array().unwrap().len(), 2);
    assert!(
        r["agents"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x["id"] == agent_id.to_string())
    );

    let cv = &r["conversion"];
    assert_eq!(
        (
            cv["leads"].as_u64(),
            cv["won"].as_u64(),
            cv["converted"].as_u64(),
            cv["orders_confirmed"].as_u64()
        ),
        (Some(2), Some(1), Some(1), Some(1))
    );
    assert_eq!(cv["rate"], 0.5);
    let by_agent = cv["by_agent"].as_array().unwrap();
    let mine = by_agent
        .iter()
        .find(|x| x["user_id"] == agent_id.to_string())
        .unwrap();
    assert_eq!(
        (mine["leads"].as_u64(), mine["rate"].as_f64()),
        (Some(1), Some(1.0))
    );
    let nobody = by_agent.iter().find(|x| x["user_id"].is_null()).unwrap();
    assert_eq!(
        (nobody["leads"].as_u64(), nobody["rate"].as_f64()),
        (Some(1), Some(0.0))
    );

    let o = &r["orders"];
    assert_eq!(
        (
            o["delivered"].as_u64(),
            o["returned"].as_u64(),
            o["delivered_cod"].as_i64(),
            o["returned_cod"].as_i64()
        ),
        (Some(1), Some(1), Some(250_000), Some(100_000))
    );
    assert_eq!(o["return_rate"], 0.5);
    assert_eq!(o["by_day"][0]["delivered"], 0);
    assert_eq!(o["by_day"][0]["returned"], 0);
    assert_eq!(o["by_day"][1]["delivered"], 1);
    assert_eq!(o["by_day"][1]["returned"], 1);
    assert_eq!(o["by_channel"].as_array().unwrap().len(), 2);

    let cp = &r["complaints"];
    assert_eq!(cp["total"], 2);
    let mut cats: Vec<(String, u64)> = cp["by_category"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["key"].as_str().unwrap().to_owned(),
                c["count"].as_u64().unwrap(),
            )
        })
        .collect();
    cats.sort();
    assert_eq!(cats, vec![("delivery".into(), 1), ("pending".into(), 1)]);
    assert_eq!(
        cp["ratings"],
        json!([{"key":"1","count":1},{"key":"2","count":1},{"key":"3","count":0},{"key":"4","count":0},{"key":"5","count":1}])
    );

    let f = &r["found_us"];
    assert_eq!(f["new_contacts"], 3);
    assert_eq!(f["by_channel"][0], json!({ "channel_id": a, "count": 2 }));
    assert_eq!(f["by_channel"][1], json!({ "channel_id": b, "count": 1 }));
    assert_eq!(f["referrals"], json!([{ "key": "ADS · ad-9", "count": 1 }]));

    // The same data in UTC days: c1 and the return move to 1 Nov.
    let u = owner
        .json("/api/v1/reports?from=2026-11-01&to=2026-11-02&tz=UTC")
        .await;
    assert_eq!(
        day_counts(&u["conversations"]),
        days(&[("2026-11-01", 2), ("2026-11-02", 1)])
    );
    assert_eq!(u["orders"]["by_day"][0]["returned"], 1);
    assert_eq!(u["orders"]["by_day"][1]["delivered"], 1);

    // Only 2 Nov in Vietnam: c2 (23:59 on 1 Nov) and c3's lead are out.
    let one = owner
        .json("/api/v1/reports?from=2026-11-02&to=2026-11-02")
        .await;
    assert_eq!(one["conversations"]["total"], 2);
    assert_eq!(one["leads"]["total"], 1);
    assert_eq!(one["first_response"]["unanswered"], 0);
    assert_eq!(one["found_us"]["referrals"], json!([]));
}

#[tokio::test]
async fn only_managers_and_marketers_read_reports_and_ranges_are_checked() {
    let app = spawn_app().await;
    let owner = app.user("o@p.vn", Role::Owner, "Shop P").await;
    let marketer = app.user("m@p.vn", Role::Marketer, "Shop P").await;
    let agent = app.user("a@p.vn", Role::Agent, "Shop P").await;
    let packer = app.user("f@p.vn", Role::Fulfillment, "Shop P").await;
    let other = app.user("o@q.vn", Role::Owner, "Shop Q").await;
    app.connect_page(&other, PAGE_A).await;
    app.customer_says(PAGE_A, "psid-9", "m9", "Chào shop").await;
    app.drain().await;

    let path = "/api/v1/reports?from=2026-01-01&to=2026-01-31";
    assert_eq!(owner.get(path).await.status(), 200);
    assert_eq!(marketer.get(path).await.status(), 200);
    for who in [&agent, &packer] {
        let res = who.get(path).await;
        assert_eq!(res.status(), 403);
    }

    // Another workspace's traffic never shows: today's report of Shop P is empty.
    let today = owner.json("/api/v1/reports").await;
    assert_eq!(today["conversations"]["total"], 0);
    assert_eq!(
        today["conversations"]["by_day"].as_array().unwrap().len(),
        30
    );
    let theirs = other.json("/api/v1/reports").await;
    assert_eq!(theirs["conversations"]["total"], 1);

    for (q, code) in [
        ("from=2026-02-01&to=2026-01-01", "invalid_range"),
        ("from=2025-01-01&to=2026-01-02", "invalid_range"),
        ("from=2026-13-01&to=2026-12-01", "invalid_date"),
        ("from=2026-01-01&to=2026-01-02&tz=Mars/Base", "invalid_tz"),
    ] {
        let res = owner.get(&format!("/api/v1/reports?{q}")).await;
        assert_eq!(res.status(), 400, "{q}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], code, "{q}");
    }
    // The route is in the OpenAPI document.
    let doc: Value = app
        .http
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["paths"]["/api/v1/reports"]["get"].is_object());
    // A whole year is fine.
    assert_eq!(
        owner
            .get("/api/v1/reports?from=2025-01-01&to=2025-12-31")
            .await
            .status(),
        200
    );
}
