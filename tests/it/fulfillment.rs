//! The push to fulfillment: endpoints through the API, deliveries to a loopback receiver that
//! verifies every request with the reference Standard Webhooks library (`standardwebhooks`,
//! not our signing code), retries with the same `webhook-id`, the delivery log, redelivery,
//! 410 / abort-message / prolonged failure, and the SSRF refusals.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{Duration, Utc};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait,
};
use serde_json::{Value, json};
use tongdai::domain::role::Role;
use tongdai::services::{jobs, webhooks_out};
use tongdai::store::entities::{audit_log, job, order, order_event, webhook_endpoint};
use uuid::Uuid;

use crate::helpers::*;

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// 200 (after `fail_first` 500s).
    Ok,
    /// 410 Gone.
    Gone,
    /// 422 with `webhook-delivery: abort-message`.
    Abort,
    /// 503 with `retry-after: 120`.
    Throttle,
}

pub(crate) struct Seen {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: Vec<u8>,
    pub verified: Result<(), String>,
}

struct Inner {
    secret: Option<String>,
    fail_first: usize,
    mode: Mode,
    seen: Vec<Seen>,
}

/// A fulfillment service on loopback.
#[derive(Clone)]
pub(crate) struct Receiver {
    inner: Arc<Mutex<Inner>>,
    url: String,
}

impl Receiver {
    pub(crate) async fn start(mode: Mode, fail_first: usize) -> Receiver {
        let inner = Arc::new(Mutex::new(Inner {
            secret: None,
            fail_first,
            mode,
            seen: Vec::new(),
        }));
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { inner, url }
    }

    fn set_secret(&self, s: &str) {
        self.inner.lock().unwrap().secret = Some(s.to_owned());
    }

    pub(crate) fn count(&self) -> usize {
        self.inner.lock().unwrap().seen.len()
    }

    pub(crate) fn with_seen<T>(&self, f: impl FnOnce(&[Seen]) -> T) -> T {
        f(&self.inner.lock().unwrap().seen)
    }
}

async fn hook(State(inner): State<Arc<Mutex<Inner>>>, headers: HeaderMap, body: Bytes) -> Response {
    let mut g = inner.lock().unwrap();
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    // The independent implementation: the reference Rust library of standardwebhooks.com.
    let verified = match &g.secret {
        Some(s) => standardwebhooks::Webhook::new(s)
            .map_err(|e| format!("{e:?}"))
            .and_then(|w| w.verify(&body, &headers).map_err(|e| format!("{e:?}"))),
        None => Err("no secret yet".into()),
    };
    g.seen.push(Seen {
        id: h("webhook-id"),
        timestamp: h("webhook-timestamp"),
        signature: h("webhook-signature"),
        body: body.to_vec(),
        verified,
    });
    if g.fail_first > 0 {
        g.fail_first -= 1;
        return (StatusCode::INTERNAL_SERVER_ERROR, "temporarily broken").into_response();
    }
    match g.mode {
        Mode::Ok => (StatusCode::OK, "received").into_response(),
        Mode::Gone => (StatusCode::GONE, "no such hook any more").into_response(),
        Mode::Abort => (
            StatusCode::UNPROCESSABLE_ENTITY,
            [("webhook-delivery", "abort-message")],
            "we do not want this one",
        )
            .into_response(),
        Mode::Throttle => (
            StatusCode::SERVICE_UNAVAILABLE,
            [("retry-after", "120")],
            "slow down",
        )
            .into_response(),
    }
}

fn ws_id(agent: &Agent) -> Uuid {
    agent.me["workspace"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn delete(agent: &Agent, path: &str) -> reqwest::Response {
    agent
        .client
        .delete(format!("{}{path}", agent.base))
        .header("x-csrf-token", &agent.csrf)
        .send()
        .await
        .unwrap()
}

/// Create an endpoint for `r` and hand the secret to the receiver.
pub(crate) async fn endpoint(owner: &Agent, r: &Receiver) -> Value {
    let res = owner
        .post(
            "/api/v1/webhook-endpoints",
            json!({ "url": r.url, "description": "kho Quận 10", "event_types": ["order.confirmed", "order.cancelled"] }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let e: Value = res.json().await.unwrap();
    r.set_secret(e["secret"].as_str().unwrap());
    e
}

/// A confirmed order row (the orders service is not this module's subject).
async fn confirmed_order(app: &TestApp, ws: Uuid) -> Uuid {
    let now = Utc::now();
    let id = Uuid::now_v7();
    order::ActiveModel {
        id: Set(id),
        workspace_id: Set(ws),
        status: Set("confirmed".into()),
        recipient_name: Set(Some("Nguyễn Văn A".into())),
        phone: Set(Some("+84912345678".into())),
        address: Set(Some("72 Thành Thái".into())),
        cod_amount: Set(250_000),
        total_amount: Set(250_000),
        created_at: Set(now),
        updated_at: Set(now),
        source: Set("manual".into()),
        shipping_fee: Set(0),
        discount: Set(0),
        confirmed_at: Set(Some(now)),
        ..Default::default()
    }
    .insert(&app.state.db.write)
    .await
    .unwrap();
    id
}

/// Queue an event the way the orders service does (inside its transaction).
async fn emit(app: &TestApp, ws: Uuid, kind: &str, data: Value) -> Vec<String> {
    let txn = app.state.db.write.begin().await.unwrap();
    let ids = webhooks_out::emit(&txn, ws, kind, data).await.unwrap();
    txn.commit().await.unwrap();
    ids
}

/// Make every waiting delivery job due now, then run due jobs.
pub(crate) async fn retry_now(app: &TestApp) -> usize {
    job::Entity::update_many()
        .col_expr(job::Column::RunAt, Expr::value(Utc::now()))
        .filter(job::Column::Kind.eq(jobs::kind::DELIVER_WEBHOOK))
        .filter(job::Column::Status.eq("pending"))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    app.run_jobs().await
}

#[tokio::test]
async fn confirmed_order_is_pushed_signed_retried_with_the_same_id_logged_and_redelivered() {
    let app = spawn_app().await;
    let owner = app.user("o@push.vn", Role::Owner, "Shop Push").await;
    let ws = ws_id(&owner);
    let r = Receiver::start(Mode::Ok, 1).await;
    let e = endpoint(&owner, &r).await;
    let eid = e["id"].as_str().unwrap().to_owned();
    let secret = e["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    // The secret is shown once: never again by the API.
    let one = owner
        .json(&format!("/api/v1/webhook-endpoints/{eid}"))
        .await;
    assert!(one.get("secret").is_none());
    assert_eq!(
        one["event_types"],
        json!(["order.confirmed", "order.cancelled"])
    );
    assert_eq!(one["enabled"], true);
    let list = owner.json("/api/v1/webhook-endpoints").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(secret));

    let mut sock = app.ws(&owner, None).await;
    let order_id = confirmed_order(&app, ws).await;
    // Not subscribed: no message.
    assert!(
        emit(
            &app,
            ws,
            "order.status_changed",
            json!({ "order_id": order_id })
        )
        .await
        .is_empty()
    );
    let ids = emit(&app, ws, "order.confirmed", json!({ "order_id": order_id })).await;
    assert_eq!(ids.len(), 1);
    let msg_id = ids[0].clone();

    // First attempt: the receiver fails it.
    app.run_jobs().await;
    assert_eq!(r.count(), 1);
    let failed = frame_of(&mut sock, "webhook.attempt_failed").await;
    assert_eq!(failed["data"]["message_id"], msg_id.as_str());
    assert_eq!(failed["data"]["status_code"], 500);
    let m = owner
        .json(&format!("/api/v1/webhook-messages/{msg_id}"))
        .await;
    assert_eq!(m["status"], "pending");
    assert_eq!(m["attempts"], 1);
    assert_eq!(m["last_status_code"], 500);
    let ep = owner
        .json(&format!("/api/v1/webhook-endpoints/{eid}"))
        .await;
    assert!(ep["failing_since"].is_string());
    // The retry is scheduled (5 s later), not run at once.
    assert_eq!(app.run_jobs().await, 0);

    // The retry: same webhook-id, a valid signature of its own, 2xx.
    retry_now(&app).await;
    assert_eq!(r.count(), 2);
    r.with_seen(|seen| {
        for s in seen {
            assert_eq!(s.id, msg_id, "webhook-id is constant across retries");
            assert_eq!(s.verified, Ok(()), "the reference library verifies it");
            assert!(s.signature.starts_with("v1,"));
            assert!(s.timestamp.parse::<i64>().is_ok());
        }
        assert_eq!(seen[0].body, seen[1].body);
        let body: Value = serde_json::from_slice(&seen[1].body).unwrap();
        assert_eq!(body["type"], "order.confirmed");
        assert_eq!(body["data"]["order_id"], order_id.to_string());
    });
    let delivered = frame_of(&mut sock, "webhook.delivered").await;
    assert_eq!(delivered["data"]["message_id"], msg_id.as_str());
    assert_eq!(delivered["data"]["attempt"], 2);
    let upd = frame_of(&mut sock, "order.updated").await;
    assert_eq!(upd["data"]["order"]["id"], order_id.to_string());
    assert_eq!(upd["data"]["order"]["status"], "pushed");

    let m = owner
        .json(&format!("/api/v1/webhook-messages/{msg_id}"))
        .await;
    assert_eq!(m["status"], "delivered");
    assert_eq!(m["attempts"], 2);
    assert_eq!(m["payload"]["data"]["order_id"], order_id.to_string());
    let d = m["deliveries"].as_array().unwrap();
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["attempt"], 1);
    assert_eq!(d[0]["status_code"], 500);
    assert_eq!(d[0]["response"], "temporarily broken");
    assert_eq!(d[1]["attempt"], 2);
    assert_eq!(d[1]["status_code"], 200);
    assert_eq!(d[1]["response"], "received");
    assert!(d.iter().all(|a| a["duration_ms"].as_i64().is_some()));
    let ep = owner
        .json(&format!("/api/v1/webhook-endpoints/{eid}"))
        .await;
    assert!(ep["failing_since"].is_null());
    assert!(ep["last_success_at"].is_string());

    // The order moved to pushed, with a timeline entry.
    let o = order::Entity::find_by_id(order_id)
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.status, "pushed");
    let ev = order_event::Entity::find()
        .filter(order_event::Column::OrderId.eq(order_id))
        .all(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].to_status.as_deref(), Some("pushed"));
    assert_eq!(ev[0].source, "fulfillment");
    assert_eq!(ev[0].data.as_ref().unwrap()["message_id"], msg_id.as_str());

    // The log of the endpoint, newest first, filterable.
    let log = owner
        .json(&format!(
            "/api/v1/webhook-endpoints/{eid}/messages?status=delivered&limit=10"
        ))
        .await;
    assert_eq!(log.as_array().unwrap().len(), 1);
    assert_eq!(log[0]["id"], msg_id.as_str());
    assert_eq!(log[0]["attempts"], 2);
    assert_eq!(log[0]["last_status_code"], 200);
    let none = owner
        .json(&format!(
            "/api/v1/webhook-endpoints/{eid}/messages?status=failed"
        ))
        .await;
    assert!(none.as_array().unwrap().is_empty());

    // Manual redelivery: a third request with the same id; the order stays pushed, once.
    let res = owner
        .post(
            &format!("/api/v1/webhook-messages/{msg_id}/redeliver"),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 202);
    app.run_jobs().await;
    assert_eq!(r.count(), 3);
    r.with_seen(|seen| {
        assert_eq!(seen[2].id, msg_id);
        assert_eq!(seen[2].verified, Ok(()));
    });
    let m = owner
        .json(&format!("/api/v1/webhook-messages/{msg_id}"))
        .await;
    assert_eq!(m["status"], "delivered");
    assert_eq!(m["attempts"], 3);
    assert_eq!(m["deliveries"].as_array().unwrap().len(), 3);
    let ev = order_event::Entity::find()
        .filter(order_event::Column::OrderId.eq(order_id))
        .all(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(ev.len(), 1);

    // Another workspace sees none of it.
    let other = app.user("x@other.vn", Role::Owner, "Other Shop").await;
    for path in [
        format!("/api/v1/webhook-messages/{msg_id}"),
        format!("/api/v1/webhook-endpoints/{eid}"),
        format!("/api/v1/webhook-endpoints/{eid}/messages"),
    ] {
        assert_eq!(other.get(&path).await.status(), 404, "{path}");
    }
    assert_eq!(
        other
            .post(
                &format!("/api/v1/webhook-messages/{msg_id}/redeliver"),
                json!({})
            )
            .await
            .status(),
        404
    );
    assert_eq!(
        other
            .patch(
                &format!("/api/v1/webhook-endpoints/{eid}"),
                json!({ "enabled": false })
            )
            .await
            .status(),
        404
    );
    assert!(
        other
            .json("/api/v1/webhook-endpoints")
            .await
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Reads for order readers; changes for pipeline managers only.
    let agent = app.user("a@push.vn", Role::Agent, "Shop Push").await;
    assert_eq!(
        agent
            .get(&format!("/api/v1/webhook-messages/{msg_id}"))
            .await
            .status(),
        200
    );
    assert_eq!(
        agent
            .post(
                &format!("/api/v1/webhook-messages/{msg_id}/redeliver"),
                json!({})
            )
            .await
            .status(),
        403
    );
    assert_eq!(
        agent
            .post("/api/v1/webhook-endpoints", json!({ "url": r.url }))
            .await
            .status(),
        403
    );

    // Delete: gone with its log.
    assert_eq!(
        delete(&owner, &format!("/api/v1/webhook-endpoints/{eid}"))
            .await
            .status(),
        204
    );
    assert_eq!(
        owner
            .get(&format!("/api/v1/webhook-messages/{msg_id}"))
            .await
            .status(),
        404
    );
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_abort_message_stops_retries() {
    let app = spawn_app().await;
    let owner = app.user("o@gone.vn", Role::Owner, "Shop Gone").await;
    let ws = ws_id(&owner);

    let gone = Receiver::start(Mode::Gone, 0).await;
    let e = endpoint(&owner, &gone).await;
    let eid = e["id"].as_str().unwrap().to_owned();
    let ids = emit(
        &app,
        ws,
        "order.cancelled",
        json!({ "order_id": Uuid::now_v7() }),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(gone.count(), 1);
    let ep = owner
        .json(&format!("/api/v1/webhook-endpoints/{eid}"))
        .await;
    assert_eq!(ep["enabled"], false);
    assert!(ep["disabled_reason"].as_str().unwrap().contains("410"));
    let m = owner
        .json(&format!("/api/v1/webhook-messages/{}", ids[0]))
        .await;
    assert_eq!(m["status"], "failed");
    assert_eq!(m["last_status_code"], 410);
    // No retry, and no redelivery while disabled.
    assert_eq!(retry_now(&app).await, 0);
    assert_eq!(gone.count(), 1);
    let res = owner
        .post(
            &format!("/api/v1/webhook-messages/{}/redeliver", ids[0]),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 409);
    // A disabled endpoint gets no new messages; re-enabling clears the failure state.
    assert!(
        emit(&app, ws, "order.cancelled", json!({}))
            .await
            .is_empty()
    );
    let ep = owner
        .patch(
            &format!("/api/v1/webhook-endpoints/{eid}"),
            json!({ "enabled": true }),
        )
        .await;
    assert_eq!(ep.status(), 200);
    let ep: Value = ep.json().await.unwrap();
    assert_eq!(ep["enabled"], true);
    assert!(ep["disabled_reason"].is_null());
    assert!(ep["failing_since"].is_null());
    // Take it out of the way of the next part.
    let res = owner
        .patch(
            &format!("/api/v1/webhook-endpoints/{eid}"),
            json!({ "enabled": false, "description": "" }),
        )
        .await;
    assert_eq!(res.status(), 200);

    let abort = Receiver::start(Mode::Abort, 0).await;
    let e2 = endpoint(&owner, &abort).await;
    let ids = emit(
        &app,
        ws,
        "order.confirmed",
        json!({ "order_id": Uuid::now_v7() }),
    )
    .await;
    assert_eq!(ids.len(), 1);
    app.run_jobs().await;
    assert_eq!(abort.count(), 1);
    abort.with_seen(|s| assert_eq!(s[0].verified, Ok(())));
    let m = owner
        .json(&format!("/api/v1/webhook-messages/{}", ids[0]))
        .await;
    assert_eq!(m["status"], "failed");
    assert_eq!(m["deliveries"][0]["status_code"], 422);
    assert_eq!(retry_now(&app).await, 0);
    assert_eq!(abort.count(), 1);
    // The endpoint itself stays enabled.
    let ep = owner
        .json(&format!(
            "/api/v1/webhook-endpoints/{}",
            e2["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(ep["enabled"], true);

    // Bad input.
    let bad = owner
        .post(
            "/api/v1/webhook-endpoints",
            json!({ "url": abort.url, "event_types": ["order.exploded"] }),
        )
        .await;
    assert_eq!(bad.status(), 400);
    let bad = owner
        .post(
            "/api/v1/webhook-endpoints",
            json!({ "url": "ftp://example.com/x" }),
        )
        .await;
    assert_eq!(bad.status(), 400);
    assert_eq!(bad.json::<Value>().await.unwrap()["code"], "invalid_url");
}

#[tokio::test]
async fn an_endpoint_failing_past_the_threshold_is_disabled_and_admins_are_told() {
    let app = spawn_app().await;
    let owner = app.user("o@fail.vn", Role::Owner, "Shop Fail").await;
    let admin = app.user("ad@fail.vn", Role::Admin, "Shop Fail").await;
    let ws = ws_id(&owner);
    let r = Receiver::start(Mode::Ok, usize::MAX).await;
    let e = endpoint(&owner, &r).await;
    let eid: Uuid = e["id"].as_str().unwrap().parse().unwrap();
    let ids = emit(
        &app,
        ws,
        "order.confirmed",
        json!({ "order_id": Uuid::now_v7() }),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(r.count(), 1);
    let ep = owner
        .json(&format!("/api/v1/webhook-endpoints/{eid}"))
        .await;
    assert_eq!(ep["enabled"], true);
    assert!(ep["failing_since"].is_string());

    // Failing for six days (threshold: five).
    webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::FailingSince,
            Expr::value(Some(Utc::now() - Duration::days(6))),
        )
        .filter(webhook_endpoint::Column::Id.eq(eid))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    let mut sock = app.ws(&admin, None).await;
    retry_now(&app).await;
    assert_eq!(r.count(), 2);
    let f = frame_of(&mut sock, "webhook_endpoint.disabled").await;
    assert_eq!(f["data"]["endpoint_id"], eid.to_string());
    assert_eq!(f["data"]["url"], r.url.as_str());
    assert!(f["data"]["reason"].as_str().unwrap().contains("5 days"));
    let ep = owner
        .json(&format!("/api/v1/webhook-endpoints/{eid}"))
        .await;
    assert_eq!(ep["enabled"], false);
    assert!(ep["disabled_reason"].as_str().unwrap().contains("5 days"));
    let m = owner
        .json(&format!("/api/v1/webhook-messages/{}", ids[0]))
        .await;
    assert_eq!(m["status"], "failed");
    let audit = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("webhook_endpoint.disabled"))
        .filter(audit_log::Column::TargetId.eq(eid.to_string()))
        .all(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].workspace_id, Some(ws));
    // Nothing more is tried.
    assert_eq!(retry_now(&app).await, 0);
    assert_eq!(r.count(), 2);
}

#[tokio::test]
async fn non_public_targets_are_refused_when_saved_and_when_delivered() {
    let app = spawn_with(Options {
        public_webhook_targets_only: true,
        ..Default::default()
    })
    .await;
    let owner = app.user("o@ssrf.vn", Role::Owner, "Shop SSRF").await;
    let ws = ws_id(&owner);
    let r = Receiver::start(Mode::Ok, 0).await;
    for url in [
        r.url.clone(),
        "http://localhost/".to_owned(),
        "http://169.254.169.254/latest/meta-data/".to_owned(),
        "http://10.0.0.1/".to_owned(),
        "http://[::1]/".to_owned(),
        "http://[::ffff:127.0.0.1]:8080/".to_owned(),
        "http://100.64.0.1/".to_owned(),
    ] {
        let res = owner
            .post("/api/v1/webhook-endpoints", json!({ "url": url }))
            .await;
        assert_eq!(res.status(), 400, "{url}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["code"], "endpoint_not_public", "{url}");
        assert!(!body["message"].as_str().unwrap().is_empty());
    }
    let res = owner
        .post(
            "/api/v1/webhook-endpoints",
            json!({ "url": "https://fulfil.example.com/hook" }),
        )
        .await;
    assert_eq!(res.status(), 201);
    let ok: Value = res.json().await.unwrap();
    assert_eq!(ok["url"], "https://fulfil.example.com/hook");
    // Changing it to a private target is refused too.
    let res = owner
        .patch(
            &format!("/api/v1/webhook-endpoints/{}", ok["id"].as_str().unwrap()),
            json!({ "url": "http://192.168.1.10/hook" }),
        )
        .await;
    assert_eq!(res.status(), 400);
    // No delivery is attempted here: take it out of the way.
    let res = owner
        .patch(
            &format!("/api/v1/webhook-endpoints/{}", ok["id"].as_str().unwrap()),
            json!({ "enabled": false }),
        )
        .await;
    assert_eq!(res.status(), 200);

    // At delivery time too: an endpoint stored before the setting changed (or a name that now
    // resolves to loopback) is never reached.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap_or_default()
        .trim()
        .to_owned();
    let port = r
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let mut urls = vec![r.url.clone()];
    let resolves_to_loopback = !host.is_empty()
        && tokio::net::lookup_host((host.as_str(), 0))
            .await
            .map(|a| {
                let a: Vec<_> = a.collect();
                !a.is_empty() && a.iter().all(|x| x.ip().is_loopback())
            })
            .unwrap_or(false);
    if resolves_to_loopback {
        urls.push(format!("http://{host}:{port}/hook"));
    }
    for url in urls {
        let now = Utc::now();
        let eid = Uuid::now_v7();
        webhook_endpoint::ActiveModel {
            id: Set(eid),
            workspace_id: Set(ws),
            url: Set(url.clone()),
            secret_enc: Set(app.state.secrets.seal(&[7u8; 24])),
            description: Set(None),
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
        let ids = emit(
            &app,
            ws,
            "order.confirmed",
            json!({ "order_id": Uuid::now_v7() }),
        )
        .await;
        assert_eq!(ids.len(), 1);
        app.run_jobs().await;
        retry_now(&app).await;
        let m = owner
            .json(&format!("/api/v1/webhook-messages/{}", ids[0]))
            .await;
        let err = m["deliveries"][0]["error"].as_str().unwrap().to_owned();
        assert!(
            err.contains("not public")
                || err.contains("no public address")
                || err.contains("endpoint_not_public"),
            "{url}: {err}"
        );
        assert!(m["deliveries"][0]["status_code"].is_null());
        let res = owner
            .patch(
                &format!("/api/v1/webhook-endpoints/{eid}"),
                json!({ "enabled": false }),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(r.count(), 0, "the loopback receiver was never reached");
}

#[tokio::test]
async fn throttling_waits_as_told_and_exhausted_attempts_fail_the_message() {
    let app = spawn_app().await;
    let owner = app.user("o@slow.vn", Role::Owner, "Shop Slow").await;
    let ws = ws_id(&owner);
    let r = Receiver::start(Mode::Throttle, 0).await;
    endpoint(&owner, &r).await;
    let ids = emit(
        &app,
        ws,
        "order.confirmed",
        json!({ "order_id": Uuid::now_v7() }),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(r.count(), 1);
    let j = job::Entity::find()
        .filter(job::Column::Kind.eq(jobs::kind::DELIVER_WEBHOOK))
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.status, "pending");
    // retry-after (120 s) instead of the schedule's 5 s: both are set from the same instant.
    assert_eq!((j.run_at - j.updated_at).num_seconds(), 120);

    // The last allowed attempt fails too: the message is failed for good.
    job::Entity::update_many()
        .col_expr(job::Column::Attempts, Expr::value(j.max_attempts - 1))
        .filter(job::Column::Id.eq(j.id))
        .exec(&app.state.db.write)
        .await
        .unwrap();
    let mut sock = app.ws(&owner, None).await;
    retry_now(&app).await;
    assert_eq!(r.count(), 2);
    let f = frame_of(&mut sock, "webhook.failed").await;
    assert_eq!(f["data"]["message_id"], ids[0].as_str());
    let m = owner
        .json(&format!("/api/v1/webhook-messages/{}", ids[0]))
        .await;
    assert_eq!(m["status"], "failed");
    assert_eq!(m["attempts"], 2);
    assert_eq!(m["last_status_code"], 503);
    let j = job::Entity::find_by_id(j.id)
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(j.status, "dead");
}

#[tokio::test]
async fn redelivering_while_a_retry_waits_sends_the_message_once() {
    let app = spawn_app().await;
    let owner = app.user("o@once.vn", Role::Owner, "Shop Once").await;
    let ws = ws_id(&owner);
    let r = Receiver::start(Mode::Ok, 1).await;
    endpoint(&owner, &r).await;
    let ids = emit(
        &app,
        ws,
        "order.confirmed",
        json!({ "order_id": Uuid::now_v7() }),
    )
    .await;
    app.run_jobs().await;
    assert_eq!(r.count(), 1, "the first attempt failed; a retry waits");
    let res = owner
        .post(
            &format!("/api/v1/webhook-messages/{}/redeliver", ids[0]),
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 202, "{}", res.text().await.unwrap());
    let waiting = job::Entity::find()
        .filter(job::Column::Kind.eq(jobs::kind::DELIVER_WEBHOOK))
        .filter(job::Column::Status.eq("pending"))
        .all(&app.state.db.read)
        .await
        .unwrap();
    assert_eq!(waiting.len(), 1, "the waiting retry is reused, not doubled");
    assert!(waiting[0].run_at <= Utc::now());
    app.run_jobs().await;
    assert_eq!(r.count(), 2, "sent once more, not twice");
    r.with_seen(|seen| assert!(seen.iter().all(|s| s.id == ids[0])));
}
