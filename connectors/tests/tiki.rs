//! The Tiki connector against the loopback Tiki sandbox, over real HTTP: seller OAuth
//! (consent page, code, refresh), the app's client-credentials token, orders (detail and
//! paging), the event queue (create, subscribe, pull with at-least-once redelivery) and the
//! error classes. Every test name starts with `tiki_` so
//! `cargo test -p tongdai-connectors --features sandbox tiki` runs them all.
#![cfg(feature = "sandbox")]

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tongdai_connectors::commerce::{MarketStatus, Orders};
use tongdai_connectors::tiki::sandbox::{SandboxFailure, SandboxOrder, TikiSandbox};
use tongdai_connectors::tiki::wire::{EVENT_ORDER_CREATED, EVENT_ORDER_STATUS};
use tongdai_connectors::tiki::{Tiki, TikiConfig};
use tongdai_connectors::{
    AccountCtx, ConnectorError, HttpCtx, NormalizedEvent, OAuth, OAuthCallback, OrderNotice,
    Poller, TokenSet,
};

const CLIENT_ID: &str = "tiki-client-1";
const CLIENT_SECRET: &str = "sandbox_client_secret_tiki";
const REDIRECT: &str = "https://shop.tongdai.example/api/v1/channels/tiki/oauth/callback";

fn tiki() -> Tiki {
    Tiki::new(TikiConfig {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some(CLIENT_SECRET.into()),
    })
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("time")
}

async fn start() -> TikiSandbox {
    TikiSandbox::start(CLIENT_ID, CLIENT_SECRET)
        .await
        .expect("sandbox")
}

/// Consent page → code → tokens, the way the hub's connect flow drives it.
async fn connect(tk: &Tiki, sb: &TikiSandbox, http: &reqwest::Client) -> TokenSet {
    let url = tk
        .authorize_url(&sb.oauth_url(), REDIRECT, "csrf-state-0001", None)
        .expect("authorize url");
    let resp = http.get(&url).send().await.expect("consent page");
    assert_eq!(resp.status(), 302);
    let location = resp.headers()["location"].to_str().unwrap().to_owned();
    let back = url::Url::parse(&location).unwrap();
    assert!(location.starts_with(REDIRECT));
    let q: std::collections::BTreeMap<String, String> = back.query_pairs().into_owned().collect();
    assert_eq!(q["state"], "csrf-state-0001");
    let oauth = sb.oauth_url();
    let cx = HttpCtx {
        http,
        base_url: &oauth,
    };
    tk.exchange_code(&cx, REDIRECT, &OAuthCallback::code(q["code"].clone()), None)
        .await
        .expect("code exchange")
}

#[tokio::test]
async fn tiki_oauth_code_refresh_and_accounts() {
    let sb = start().await;
    let tk = tiki();
    let http = client();
    let url = tk
        .authorize_url(&sb.oauth_url(), REDIRECT, "csrf-state-0001", None)
        .unwrap();
    assert!(url.contains("/sc/oauth2/auth?response_type=code&client_id=tiki-client-1"));
    assert!(url.contains("scope=offline+order"));
    assert!(matches!(
        tk.authorize_url(&sb.oauth_url(), REDIRECT, "short", None),
        Err(ConnectorError::Invalid(_))
    ));

    let grant = connect(&tk, &sb, &http).await;
    assert!(grant.refresh_token.is_some());
    assert_eq!(grant.expires_in, Some(3_600));
    // The token call was a Basic-authenticated form with the documented fields.
    let req = sb
        .requests()
        .into_iter()
        .find(|r| r.path == "/sc/oauth2/token")
        .unwrap();
    assert!(req.authorization.as_deref().unwrap().starts_with("Basic "));
    assert_eq!(req.param("grant_type"), Some("authorization_code"));
    assert_eq!(req.param("redirect_uri"), Some(REDIRECT));
    assert_eq!(req.param("client_id"), Some(CLIENT_ID));

    let api = sb.api_url();
    let cx = HttpCtx {
        http: &http,
        base_url: &api,
    };
    let accounts = tk.accounts(&cx, &grant).await.unwrap();
    assert_eq!(accounts.len(), 1);
    let seller = sb.seller();
    assert_eq!(accounts[0].external_id, seller.sid);
    assert_eq!(accounts[0].name.as_deref(), Some(seller.name.as_str()));
    assert_eq!(
        accounts[0].picture_url.as_deref(),
        Some(seller.logo.as_str())
    );
    assert_eq!(accounts[0].details["id"], json!(seller.id));

    // Refresh: a new pair; the spent refresh token is refused afterwards → Unauthorized.
    let oauth = sb.oauth_url();
    let ocx = HttpCtx {
        http: &http,
        base_url: &oauth,
    };
    let rt = grant.refresh_token.as_ref().unwrap().expose().to_owned();
    let fresh = tk.refresh(&ocx, &seller.sid, &rt).await.unwrap();
    assert_ne!(fresh.access_token.expose(), grant.access_token.expose());
    assert!(tk.accounts(&cx, &fresh).await.is_ok());
    match tk.refresh(&ocx, &seller.sid, &rt).await {
        Err(ConnectorError::Unauthorized(m)) => assert!(!m.contains(&rt), "{m}"),
        other => panic!("{other:?}"),
    }
    // A code is single use.
    let code_again = tk
        .exchange_code(&ocx, REDIRECT, &OAuthCallback::code("code-1"), None)
        .await;
    assert!(matches!(code_again, Err(ConnectorError::Unauthorized(_))));
}

#[tokio::test]
async fn tiki_wrong_client_secret_is_unauthorized_and_never_leaks() {
    let sb = start().await;
    let http = client();
    let bad = Tiki::new(TikiConfig {
        client_id: Some(CLIENT_ID.into()),
        client_secret: Some("not-the-secret".into()),
    });
    let oauth = sb.oauth_url();
    let cx = HttpCtx {
        http: &http,
        base_url: &oauth,
    };
    match bad.client_credentials(&cx).await {
        Err(ConnectorError::Unauthorized(m)) => assert!(!m.contains("not-the-secret")),
        other => panic!("{other:?}"),
    }
    let unconfigured = Tiki::new(TikiConfig::default());
    assert!(matches!(
        unconfigured.client_credentials(&cx).await,
        Err(ConnectorError::Invalid(_))
    ));
}

#[tokio::test]
async fn tiki_orders_fetch_by_code_and_page_updated() {
    let sb = start().await;
    let tk = tiki().with_page_limit(2);
    let http = client();
    let grant = connect(&tk, &sb, &http).await;
    let sid = sb.seller().sid;
    for (n, status) in [
        "queueing",
        "shipping",
        "canceled",
        "successful_delivery",
        "mystery",
    ]
    .iter()
    .enumerate()
    {
        let n = i64::try_from(n).unwrap();
        sb.add_order(
            SandboxOrder::new(&format!("23954506{n}"), status, at(1_736_900_000 + n * 60))
                .item("AO-1", "Áo thun", 2, 99_500),
        );
    }
    let api = sb.api_url();
    let cx = HttpCtx {
        http: &http,
        base_url: &api,
    };
    let acc = AccountCtx {
        external_id: &sid,
        access_token: grant.access_token.expose(),
    };
    let orders = tk
        .get_orders(
            &cx,
            &acc,
            &["239545061".into(), "no-such".into(), "239545064".into()],
        )
        .await
        .unwrap();
    assert_eq!(orders.len(), 2, "unknown codes are left out");
    let o = &orders[0];
    assert_eq!(o.external_id, "239545061");
    assert_eq!(o.account_external_id, sid);
    assert_eq!(o.status, MarketStatus::Shipped);
    assert_eq!(o.total, 2 * 99_500 + 30_000);
    assert_eq!(o.cod_amount, 229_000);
    assert_eq!(o.items[0].sku.as_deref(), Some("AO-1"));
    assert_eq!(o.recipient.district.as_deref(), Some("Quận 1"));
    assert_eq!(o.created_at, at(1_736_900_060));
    assert_eq!(orders[1].platform_status, "mystery");
    assert_eq!(orders[1].status, MarketStatus::ToShip);

    // Paging: updated from the 2nd order on, strictly before the 5th; 2 per page.
    let (from, to) = (at(1_736_900_060), at(1_736_900_240));
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let page = tk
            .list_updated(&cx, &acc, from, to, cursor.as_deref())
            .await
            .unwrap();
        pages += 1;
        ids.extend(page.ids);
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(pages, 2);
    assert_eq!(ids, ["239545061", "239545062", "239545063"]);
    let listed: Vec<_> = sb
        .requests()
        .into_iter()
        .filter(|r| r.path == "/integration/v2/orders")
        .collect();
    assert_eq!(
        listed[0].param("updated_from_date"),
        Some("2025-01-15 07:14:20")
    );
    assert_eq!(listed[1].param("page"), Some("2"));
    assert_eq!(listed[1].param("limit"), Some("2"));
}

struct Queue {
    sb: TikiSandbox,
    tk: Tiki,
    http: reqwest::Client,
    app_token: String,
    code: String,
    sid: String,
}

impl Queue {
    async fn poll(
        &self,
        state: Option<&Value>,
    ) -> Result<tongdai_connectors::PollPage, ConnectorError> {
        let api = self.sb.api_url();
        let cx = HttpCtx {
            http: &self.http,
            base_url: &api,
        };
        let acc = AccountCtx {
            external_id: &self.sid,
            access_token: &self.app_token,
        };
        self.tk.poll(&cx, &acc, state).await
    }
}

/// App token → queue → the seller subscribes to the order events.
async fn queue() -> Queue {
    let sb = start().await;
    let tk = tiki();
    let http = client();
    let grant = connect(&tk, &sb, &http).await;
    let oauth = sb.oauth_url();
    let app = tk
        .client_credentials(&HttpCtx {
            http: &http,
            base_url: &oauth,
        })
        .await
        .unwrap();
    assert!(app.refresh_token.is_none());
    let api = sb.api_url();
    let cx = HttpCtx {
        http: &http,
        base_url: &api,
    };
    // A seller's token may not own a queue.
    assert!(matches!(
        tk.create_queue(&cx, grant.access_token.expose(), "tongdai")
            .await,
        Err(ConnectorError::Forbidden { .. })
    ));
    let q = tk
        .create_queue(&cx, app.access_token.expose(), "tongdai")
        .await
        .unwrap();
    assert_eq!(q.status.as_deref(), Some("ACTIVE"));
    let subs = tk
        .subscribe_orders(&cx, grant.access_token.expose(), &q.code)
        .await
        .unwrap();
    let sid = sb.seller().sid;
    assert!(
        subs.iter()
            .all(|s| s.active && s.sid.as_deref() == Some(sid.as_str()))
    );
    assert_eq!(
        sb.subscriptions(&q.code),
        [
            (sid.clone(), EVENT_ORDER_CREATED.to_owned()),
            (sid.clone(), EVENT_ORDER_STATUS.to_owned())
        ]
    );
    Queue {
        sb,
        tk,
        http,
        app_token: app.access_token.expose().to_owned(),
        code: q.code,
        sid,
    }
}

fn order_codes(events: &[NormalizedEvent]) -> Vec<(String, Option<String>)> {
    events
        .iter()
        .map(|e| match e {
            NormalizedEvent::OrderChanged(OrderNotice {
                order_external_id,
                platform_status,
                ..
            }) => (order_external_id.clone(), platform_status.clone()),
            other => panic!("{other:?}"),
        })
        .collect()
}

#[tokio::test]
async fn tiki_queue_delivers_in_order_and_acks_on_the_next_pull() {
    let q = queue().await;
    q.sb.set_batch_size(2);
    q.sb.push_order_event(
        &q.sid,
        EVENT_ORDER_CREATED,
        "1001",
        "queueing",
        at(1_736_900_000),
    );
    q.sb.push_order_event(
        &q.sid,
        EVENT_ORDER_STATUS,
        "1001",
        "shipping",
        at(1_736_900_100),
    );
    q.sb.push_order_event(
        &q.sid,
        EVENT_ORDER_STATUS,
        "1002",
        "canceled",
        at(1_736_900_200),
    );
    // Not subscribed: never routed.
    q.sb.push_event(
        &q.sid,
        "PRODUCT_PRICE_UPDATED",
        json!({"product_id": 1}),
        at(1_736_900_300),
    );

    let s0 = tongdai_connectors::tiki::Tiki::poll_state(&q.code);
    let p1 = q.poll(Some(&s0)).await.unwrap();
    assert!(p1.more);
    assert_eq!(
        order_codes(&p1.events),
        [
            ("1001".into(), Some("queueing".into())),
            ("1001".into(), Some("shipping".into()))
        ]
    );
    let NormalizedEvent::OrderChanged(n) = &p1.events[0] else {
        unreachable!()
    };
    assert_eq!(n.account_external_id, q.sid);
    assert_eq!(n.updated_at, Some(at(1_736_900_000)));
    // The first pull sent no ack; the batch stays queued until its ack id comes back.
    assert_eq!(q.sb.queue_len(&q.code), 3);

    let p2 = q.poll(Some(&p1.state)).await.unwrap();
    assert_eq!(
        order_codes(&p2.events),
        [("1002".into(), Some("canceled".into()))]
    );
    assert_eq!(
        q.sb.queue_len(&q.code),
        1,
        "the first batch is acknowledged"
    );
    let pulls: Vec<_> =
        q.sb.requests()
            .into_iter()
            .filter(|r| r.path.ends_with("/events/pull"))
            .collect();
    assert_eq!(pulls[0].json, json!({"ack_id": ""}));
    assert_eq!(pulls[1].json["ack_id"], p1.state["ack_id"]);

    let p3 = q.poll(Some(&p2.state)).await.unwrap();
    assert!(p3.events.is_empty());
    assert!(!p3.more);
    assert_eq!(q.sb.queue_len(&q.code), 0);
    // Quiet queue: still empty, state still usable.
    let p4 = q.poll(Some(&p3.state)).await.unwrap();
    assert!(p4.events.is_empty());
    assert_eq!(p4.state["queue_code"], json!(q.code));
}

#[tokio::test]
async fn tiki_queue_redelivers_a_batch_after_a_crash_before_the_next_pull() {
    let q = queue().await;
    q.sb.push_order_event(
        &q.sid,
        EVENT_ORDER_CREATED,
        "2001",
        "queueing",
        at(1_736_900_000),
    );
    q.sb.push_order_event(
        &q.sid,
        EVENT_ORDER_STATUS,
        "2001",
        "packaging",
        at(1_736_900_060),
    );
    let s0 = Tiki::poll_state(&q.code);
    let p1 = q.poll(Some(&s0)).await.unwrap();
    assert_eq!(p1.events.len(), 2);
    // The hub crashed before committing p1: its stored state is still s0.
    let again = q.poll(Some(&s0)).await.unwrap();
    assert_eq!(again.events, p1.events, "the same batch, in the same order");
    assert_eq!(again.state, p1.state, "with the same ack id");
    // A new event arriving meanwhile waits behind the unacknowledged batch.
    q.sb.push_order_event(
        &q.sid,
        EVENT_ORDER_STATUS,
        "2001",
        "shipping",
        at(1_736_900_120),
    );
    let p2 = q.poll(Some(&again.state)).await.unwrap();
    assert_eq!(
        order_codes(&p2.events),
        [("2001".into(), Some("shipping".into()))]
    );
    // A failed pull leaves nothing acknowledged: the state is not advanced, same batch next.
    q.sb.push_failure(SandboxFailure::ServerError);
    assert!(matches!(
        q.poll(Some(&p2.state)).await,
        Err(ConnectorError::Api {
            status: 500,
            transient: true,
            ..
        })
    ));
    let p3 = q.poll(Some(&p1.state)).await.unwrap();
    assert_eq!(p3.events, p2.events, "the unacked batch comes back");
    let p4 = q.poll(Some(&p3.state)).await.unwrap();
    assert!(p4.events.is_empty());
    assert_eq!(q.sb.queue_len(&q.code), 0);
}

#[tokio::test]
async fn tiki_poll_without_a_queue_or_with_a_seller_token_fails() {
    let q = queue().await;
    assert!(matches!(
        q.poll(None).await,
        Err(ConnectorError::Invalid(_))
    ));
    assert!(matches!(
        q.poll(Some(&json!({"something": "else"}))).await,
        Err(ConnectorError::Invalid(_))
    ));
    let api = q.sb.api_url();
    let cx = HttpCtx {
        http: &q.http,
        base_url: &api,
    };
    q.sb.add_seller_token("seller-token-x");
    assert!(matches!(
        q.tk.pull(&cx, "seller-token-x", &q.code, None).await,
        Err(ConnectorError::Forbidden { .. })
    ));
    assert!(matches!(
        q.tk.pull(&cx, &q.app_token, "no-such-queue", None).await,
        Err(ConnectorError::Api {
            status: 404,
            transient: false,
            ..
        })
    ));
}

#[tokio::test]
async fn tiki_error_classes_from_the_sandbox() {
    let sb = start().await;
    let tk = tiki();
    let http = client();
    let grant = connect(&tk, &sb, &http).await;
    let api = sb.api_url();
    let cx = HttpCtx {
        http: &http,
        base_url: &api,
    };
    let token = grant.access_token.expose().to_owned();
    let acc = AccountCtx {
        external_id: "S",
        access_token: &token,
    };
    let ids = ["1".to_owned()];
    sb.push_failure(SandboxFailure::Unauthorized);
    assert!(matches!(
        tk.get_orders(&cx, &acc, &ids).await,
        Err(ConnectorError::Unauthorized(_))
    ));
    sb.push_failure(SandboxFailure::RateLimited(17));
    match tk.get_orders(&cx, &acc, &ids).await {
        Err(e @ ConnectorError::RateLimited { .. }) => {
            assert_eq!(e.retry_after(), Some(Duration::from_secs(17)));
        }
        other => panic!("{other:?}"),
    }
    sb.push_failure(SandboxFailure::Forbidden("missing scope order".into()));
    match tk.get_orders(&cx, &acc, &ids).await {
        Err(ConnectorError::Forbidden { message, .. }) => {
            assert!(message.contains("missing scope order"));
        }
        other => panic!("{other:?}"),
    }
    sb.push_failure(SandboxFailure::ServerError);
    assert!(matches!(
        tk.get_orders(&cx, &acc, &ids).await,
        Err(ConnectorError::Api {
            status: 500,
            transient: true,
            ..
        })
    ));
    // A bad cursor is refused before any call.
    let bad = tk
        .list_updated(&cx, &acc, at(0), at(10), Some("zero"))
        .await;
    assert!(matches!(bad, Err(ConnectorError::Invalid(_))));
    // A revoked token: 401, and the token is not echoed.
    sb.revoke_token(&token);
    match tk.accounts(&cx, &grant).await {
        Err(ConnectorError::Unauthorized(m)) => assert!(!m.contains(&token)),
        other => panic!("{other:?}"),
    }
    // The token endpoint's 429 keeps its Retry-After too.
    let oauth = sb.oauth_url();
    sb.push_failure_at("/sc/oauth2/token", SandboxFailure::RateLimited(5));
    match tk
        .client_credentials(&HttpCtx {
            http: &http,
            base_url: &oauth,
        })
        .await
    {
        Err(e @ ConnectorError::RateLimited { .. }) => {
            assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
        }
        other => panic!("{other:?}"),
    }
}
