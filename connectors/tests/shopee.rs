//! The Shopee connector against the loopback Shopee sandbox, over real HTTP: OAuth from the
//! authorization page to shop info, single-use refresh tokens, orders (detail and 15-day
//! windowed listing), lost pushes, seller chat, signed pushes and error mapping.
#![cfg(feature = "sandbox")]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::json;
use tongdai_connectors::commerce::{MarketStatus, Orders};
use tongdai_connectors::shopee::api::{
    ORDER_DETAIL_FIELDS, PATH_ORDER_DETAIL, PATH_ORDER_LIST, PATH_SEND_MESSAGE, PATH_SHOP_INFO,
    PATH_TOKEN_REFRESH,
};
use tongdai_connectors::shopee::sandbox::{
    SANDBOX_SHOP_ID, SandboxFailure, SandboxOrder, SandboxShop, ShopeeSandbox, chat_push,
    order_status_push,
};
use tongdai_connectors::shopee::{Shopee, ShopeeConfig};
use tongdai_connectors::{
    AccountCtx, ConnectorError, HttpCtx, InboundRequest, MediaKind, Messaging, NormalizedEvent,
    OAuth, OAuthCallback, OutboundMessage, Recipient, WebhookInbound,
};

const PID: u64 = 2_001_887;
const KEY: &str = "hub-test-partner-key";
const CALLBACK: &str = "https://hub.example.vn/webhooks/shopee";
const REDIRECT: &str = "https://hub.example.vn/api/v1/channels/shopee/oauth/callback";
const SHOP: &str = "336094210";
const BUYER: u64 = 900_000_000_001;

struct Env {
    sandbox: ShopeeSandbox,
    shopee: Shopee,
    http: reqwest::Client,
    base: String,
}

impl Env {
    async fn new() -> Env {
        let sandbox = ShopeeSandbox::start(PID, KEY).await.unwrap();
        let base = sandbox.base_url();
        let shopee = Shopee::new(ShopeeConfig {
            partner_id: Some(PID),
            partner_key: Some(KEY.to_owned()),
            callback_url: Some(CALLBACK.to_owned()),
            api_url: base.clone(),
        });
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Env {
            sandbox,
            shopee,
            http,
            base,
        }
    }

    fn cx(&self) -> HttpCtx<'_> {
        HttpCtx {
            http: &self.http,
            base_url: &self.base,
        }
    }

    /// Open the authorization link and follow it to the callback's query parameters.
    async fn authorize(&self, state: &str) -> BTreeMap<String, String> {
        let link = self
            .shopee
            .authorize_url(&self.base, REDIRECT, state, None)
            .unwrap();
        let resp = self.http.get(&link).send().await.unwrap();
        assert_eq!(resp.status(), 302, "{}", resp.text().await.unwrap());
        let location = resp.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.starts_with(REDIRECT), "{location}");
        url::Url::parse(&location)
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect()
    }
}

fn account<'a>(token: &'a str) -> AccountCtx<'a> {
    AccountCtx {
        external_id: SHOP,
        access_token: token,
    }
}

fn now() -> i64 {
    Utc::now().timestamp()
}

/// Named `shopee` so `cargo test -p tongdai-connectors --features sandbox shopee` runs them.
mod shopee {
    use super::*;

    #[tokio::test]
    async fn a_shop_connects_and_its_orders_lost_pushes_and_chats_are_read() {
        let env = Env::new().await;
        let cx = env.cx();

        // Authorization page → callback with our state, a code and the shop.
        let params = env.authorize("csrf-123").await;
        assert_eq!(params["state"], "csrf-123");
        assert_eq!(params["shop_id"], SHOP);
        let mut callback = OAuthCallback {
            code: params["code"].clone(),
            params: BTreeMap::new(),
        };
        callback
            .params
            .insert("shop_id".to_owned(), params["shop_id"].clone());
        let grant = env
            .shopee
            .exchange_code(&cx, REDIRECT, &callback, None)
            .await
            .unwrap();
        assert_eq!(grant.account_ids, [SHOP]);
        assert_eq!(grant.expires_in, Some(14_400));
        assert!(grant.refresh_token.is_some());
        // The code is single use.
        let again = env
            .shopee
            .exchange_code(&cx, REDIRECT, &callback, None)
            .await;
        assert!(
            matches!(again, Err(ConnectorError::Unauthorized(_))),
            "{again:?}"
        );

        let accounts = env.shopee.accounts(&cx, &grant).await.unwrap();
        assert_eq!(accounts.len(), 1);
        assert_eq!(accounts[0].external_id, SHOP);
        assert_eq!(accounts[0].name.as_deref(), Some("Shop Sandbox"));
        assert_eq!(accounts[0].details["region"], "VN");
        let token = grant.access_token.expose().to_owned();
        let acc = account(&token);

        // Orders: a push names one; the detail is fetched with the optional fields.
        let t = now() - 3_600;
        env.sandbox.add_order(SandboxOrder::new(
            SANDBOX_SHOP_ID,
            "251214B9XAB0ST",
            "READY_TO_SHIP",
            t - 600,
            t,
        ));
        env.sandbox.add_order(
            SandboxOrder::new(
                SANDBOX_SHOP_ID,
                "251214B9XAB0SU",
                "COMPLETED",
                t - 900,
                t - 10,
            )
            .with("cod", json!(false)),
        );
        let (body, auth) = env.sandbox.push_request(
            CALLBACK,
            &order_status_push(
                SANDBOX_SHOP_ID,
                "64ca21a1",
                "251214B9XAB0ST",
                "READY_TO_SHIP",
                t,
            ),
        );
        let mut headers = HeaderMap::new();
        headers.insert("authorization", HeaderValue::from_str(&auth).unwrap());
        let req = InboundRequest {
            method: &Method::POST,
            headers: &headers,
            query: None,
            body: &body,
        };
        env.shopee.verify(&req).unwrap();
        let events = env.shopee.parse(&body).unwrap();
        let [NormalizedEvent::OrderChanged(notice)] = events.as_slice() else {
            panic!("{events:?}")
        };
        let orders = env
            .shopee
            .get_orders(
                &cx,
                &acc,
                &[notice.order_external_id.clone(), "UNKNOWN".to_owned()],
            )
            .await
            .unwrap();
        assert_eq!(orders.len(), 1);
        let o = &orders[0];
        assert_eq!(o.external_id, "251214B9XAB0ST");
        assert_eq!(o.status, MarketStatus::ToShip);
        assert_eq!(o.total, 189_000);
        assert_eq!(o.cod_amount, 189_000);
        assert_eq!(o.shipping_fee, 30_000);
        assert_eq!(o.items.len(), 1);
        assert_eq!(o.items[0].unit_price, 79_500);
        assert_eq!(o.recipient.province.as_deref(), Some("TP. Hồ Chí Minh"));
        assert_eq!(o.buyer_id.as_deref(), Some("900000000001"));
        let detail_call = env
            .sandbox
            .requests()
            .into_iter()
            .rfind(|r| r.path == PATH_ORDER_DETAIL)
            .unwrap();
        assert_eq!(
            detail_call
                .query_param("response_optional_fields")
                .as_deref(),
            Some(ORDER_DETAIL_FIELDS)
        );
        assert_eq!(detail_call.query_param("shop_id").as_deref(), Some(SHOP));

        // Reconciliation lists both, by update time.
        let page = env
            .shopee
            .list_updated(
                &cx,
                &acc,
                DateTime::from_timestamp(t - 86_400, 0).unwrap(),
                Utc::now(),
                None,
            )
            .await
            .unwrap();
        assert_eq!(page.ids, ["251214B9XAB0SU", "251214B9XAB0ST"]);
        assert_eq!(page.next_cursor, None);

        // Lost pushes come back as push bodies the webhook parser reads, then are confirmed.
        env.sandbox.add_lost_push(
            SANDBOX_SHOP_ID,
            3,
            t,
            &json!({"ordersn": "251214B9XAB0SU", "status": "COMPLETED", "update_time": t - 10}),
        );
        env.sandbox.add_lost_push(
            SANDBOX_SHOP_ID,
            12,
            t,
            &json!({"expire_time": t + 7 * 86_400}),
        );
        let lost = env.shopee.get_lost_pushes(&cx).await.unwrap();
        assert_eq!(lost.bodies.len(), 2);
        assert!(!lost.has_next_page);
        let first = env.shopee.parse(&lost.bodies[0]).unwrap();
        let [NormalizedEvent::OrderChanged(n)] = first.as_slice() else {
            panic!("{first:?}")
        };
        assert_eq!(
            (n.order_external_id.as_str(), n.platform_status.as_deref()),
            ("251214B9XAB0SU", Some("COMPLETED"))
        );
        let second = env.shopee.parse(&lost.bodies[1]).unwrap();
        assert!(
            matches!(second.as_slice(), [NormalizedEvent::Ignored(i)] if i.kind == "shopee.code_12")
        );
        env.shopee
            .confirm_lost_pushes(&cx, lost.last_message_id.unwrap())
            .await
            .unwrap();
        assert_eq!(env.sandbox.lost_push_count(), 0);
        assert!(
            env.shopee
                .get_lost_pushes(&cx)
                .await
                .unwrap()
                .bodies
                .is_empty()
        );

        // A buyer writes (push), the shop answers by text and image, the conversation is listed.
        let chat = chat_push(
            SANDBOX_SHOP_ID,
            "2302748948493123953",
            "709122092476686867",
            BUYER,
            "khach",
            "Còn hàng không?",
            t,
        );
        let (body, _) = env.sandbox.push_request(CALLBACK, &chat);
        let events = env.shopee.parse(&body).unwrap();
        let [NormalizedEvent::MessageReceived(m)] = events.as_slice() else {
            panic!("{events:?}")
        };
        assert_eq!(m.contact.external_id, BUYER.to_string());
        let sent = env
            .shopee
            .send(
                &cx,
                &acc,
                &OutboundMessage::text(Recipient::User(m.contact.external_id.clone()), "Dạ còn ạ"),
            )
            .await
            .unwrap();
        let image = OutboundMessage::media(
            Recipient::User(BUYER.to_string()),
            MediaKind::Image,
            "https://cdn.example.vn/a.jpg",
        );
        env.shopee.send(&cx, &acc, &image).await.unwrap();
        let chats = env.sandbox.sent_chats();
        assert_eq!(chats.len(), 2);
        assert_eq!(chats[0].to_id, BUYER.to_string());
        assert_eq!(chats[0].content, json!({"text": "Dạ còn ạ"}));
        assert_eq!(chats[0].message_id, sent.external_message_id);
        assert_eq!(
            chats[1].content,
            json!({"image_url": "https://cdn.example.vn/a.jpg"})
        );
        let send_call = env
            .sandbox
            .requests()
            .into_iter()
            .find(|r| r.path == PATH_SEND_MESSAGE)
            .unwrap();
        assert_eq!(
            send_call.json()["to_id"],
            json!(BUYER),
            "to_id goes as an integer"
        );

        let page = env
            .shopee
            .get_messages(&cx, &acc, &chats[0].conversation_id, None, 1)
            .await
            .unwrap();
        assert_eq!(page.events.len(), 1);
        assert!(page.next_offset.is_some());
        let older = env
            .shopee
            .get_messages(
                &cx,
                &acc,
                &chats[0].conversation_id,
                page.next_offset.as_deref(),
                1,
            )
            .await
            .unwrap();
        assert_eq!(older.next_offset, None);
        let ids: Vec<String> = older
            .events
            .iter()
            .chain(&page.events)
            .map(|e| match e {
                NormalizedEvent::MessageEcho(m) => {
                    assert_eq!(m.contact.external_id, BUYER.to_string());
                    m.external_message_id.clone()
                }
                other => panic!("{other:?}"),
            })
            .collect();
        let mut want: Vec<String> = chats.iter().map(|c| c.message_id.clone()).collect();
        want.sort();
        let mut got = ids.clone();
        got.sort();
        assert_eq!(got, want);
    }

    #[tokio::test]
    async fn a_main_account_grant_connects_each_of_its_shops() {
        let env = Env::new().await;
        let cx = env.cx();
        let second: u64 = 336_094_211;
        env.sandbox.add_shop(SandboxShop {
            shop_id: second,
            name: "Shop Hai".to_owned(),
            region: "VN".to_owned(),
        });
        env.sandbox
            .set_authorizing_main_account(777_001, &[SANDBOX_SHOP_ID, second]);
        let params = env.authorize("csrf-main").await;
        assert_eq!(params["main_account_id"], "777001");
        assert!(!params.contains_key("shop_id"));
        let mut callback = OAuthCallback {
            code: params["code"].clone(),
            params: BTreeMap::new(),
        };
        callback.params.insert(
            "main_account_id".to_owned(),
            params["main_account_id"].clone(),
        );
        let grant = env
            .shopee
            .exchange_code(&cx, REDIRECT, &callback, None)
            .await
            .unwrap();
        assert_eq!(grant.account_ids, [SHOP, "336094211"]);
        let body = env.sandbox.requests().last().unwrap().json();
        assert_eq!(body["main_account_id"], json!(777_001));
        assert!(body.get("shop_id").is_none());
        let names: Vec<Option<String>> = env
            .shopee
            .accounts(&cx, &grant)
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.name)
            .collect();
        assert_eq!(
            names,
            [Some("Shop Sandbox".to_owned()), Some("Shop Hai".to_owned())]
        );
        // The shared refresh token serves each shop once; then each has its own pair.
        let refresh = grant.refresh_token.unwrap();
        let first = env
            .shopee
            .refresh(&cx, SHOP, refresh.expose())
            .await
            .unwrap();
        assert_eq!(first.account_ids, [SHOP]);
        env.shopee
            .refresh(&cx, "336094211", refresh.expose())
            .await
            .unwrap();
        assert!(
            env.shopee
                .refresh(&cx, SHOP, refresh.expose())
                .await
                .unwrap_err()
                .needs_reconnect()
        );
        // The first shop's new token is its own: it does not open the second shop.
        let own = first.access_token.expose().to_owned();
        let other = AccountCtx {
            external_id: "336094211",
            access_token: &own,
        };
        let refused = env
            .shopee
            .get_orders(&cx, &other, &["X".to_owned()])
            .await
            .unwrap_err();
        assert!(refused.needs_reconnect(), "{refused:?}");
    }

    #[tokio::test]
    async fn refresh_tokens_are_single_use_and_the_old_access_token_lapses_after_five_minutes() {
        let env = Env::new().await;
        let cx = env.cx();
        // The refresh happens at sandbox time `clock - 250`: the old token lapses at `clock + 50`.
        // (Requests carry the real clock, so the sandbox stays within its 5-minute window.)
        let clock = now();
        env.sandbox.set_now(Some(clock - 250));
        let (access, refresh) = env.sandbox.issue_tokens(SANDBOX_SHOP_ID);

        let next = env.shopee.refresh(&cx, SHOP, &refresh).await.unwrap();
        let new_refresh = next.refresh_token.clone().unwrap();
        assert_ne!(new_refresh.expose(), refresh);
        assert_ne!(next.access_token.expose(), access);
        assert_eq!(next.account_ids, [SHOP]);
        let body = env
            .sandbox
            .requests()
            .into_iter()
            .rfind(|r| r.path == PATH_TOKEN_REFRESH)
            .unwrap()
            .json();
        assert_eq!(body["shop_id"], json!(SANDBOX_SHOP_ID));
        assert_eq!(body["partner_id"], json!(PID));

        // The spent refresh token is refused, and the refusal means "reconnect".
        let spent = env.shopee.refresh(&cx, SHOP, &refresh).await.unwrap_err();
        assert!(spent.needs_reconnect(), "{spent:?}");
        // The new one works once.
        let latest = env
            .shopee
            .refresh(&cx, SHOP, new_refresh.expose())
            .await
            .unwrap();
        assert!(
            env.shopee
                .refresh(&cx, SHOP, new_refresh.expose())
                .await
                .unwrap_err()
                .needs_reconnect()
        );

        // The first access token keeps working for five minutes after the refresh, then not.
        let info = |tok: String| {
            let env = &env;
            async move {
                let grant = tongdai_connectors::TokenSet {
                    access_token: tongdai_connectors::AccessToken::new(tok),
                    refresh_token: None,
                    expires_in: None,
                    refresh_expires_in: None,
                    account_ids: vec![SHOP.to_owned()],
                };
                env.shopee.accounts(&env.cx(), &grant).await
            }
        };
        env.sandbox.set_now(Some(clock + 40));
        info(access.clone()).await.unwrap();
        env.sandbox.set_now(Some(clock + 60));
        let expired = info(access).await.unwrap_err();
        assert!(
            matches!(expired, ConnectorError::Unauthorized(_)),
            "{expired:?}"
        );
        // The newest access token is unaffected (earlier ones lapse with the same grace).
        info(latest.access_token.expose().to_owned()).await.unwrap();
        env.sandbox.set_now(None);

        // A throttled refresh is not a refusal: the refresh token is not spent and may be retried.
        let (_, r2) = env.sandbox.issue_tokens(SANDBOX_SHOP_ID);
        env.sandbox
            .push_failure(PATH_TOKEN_REFRESH, SandboxFailure::RateLimited);
        let throttled = env.shopee.refresh(&cx, SHOP, &r2).await.unwrap_err();
        assert!(
            matches!(throttled, ConnectorError::RateLimited { .. }),
            "{throttled:?}"
        );
        env.shopee.refresh(&cx, SHOP, &r2).await.unwrap();
    }

    #[tokio::test]
    async fn long_ranges_are_read_in_fifteen_day_windows_with_paging() {
        let env = Env::new().await;
        let cx = env.cx();
        let (token, _) = env.sandbox.issue_tokens(SANDBOX_SHOP_ID);
        let acc = account(&token);
        let to = now();
        let from = to - 40 * 86_400;
        // Orders at both ends, on a window boundary and in the middle; one outside the range.
        let times = [
            from,
            from + 15 * 86_400 - 1,
            from + 15 * 86_400,
            from + 20 * 86_400,
            from + 20 * 86_400 + 5,
            to - 1,
            to,
            from - 1,
        ];
        for (i, t) in times.iter().enumerate() {
            env.sandbox.add_order(SandboxOrder::new(
                SANDBOX_SHOP_ID,
                &format!("SN{i}"),
                "SHIPPED",
                from - 100,
                *t,
            ));
        }
        env.sandbox.set_order_page_size(1);
        let mut cursor: Option<String> = None;
        let mut ids = Vec::new();
        let mut calls = 0;
        loop {
            let page = env
                .shopee
                .list_updated(
                    &cx,
                    &acc,
                    DateTime::from_timestamp(from, 0).unwrap(),
                    DateTime::from_timestamp(to, 0).unwrap(),
                    cursor.as_deref(),
                )
                .await
                .unwrap();
            ids.extend(page.ids);
            calls += 1;
            assert!(calls < 30, "runaway paging");
            match page.next_cursor {
                Some(c) => cursor = Some(c),
                None => break,
            }
        }
        // [from, to): `to` itself and the order before `from` are out; the rest once each, in order.
        assert_eq!(ids, ["SN0", "SN1", "SN2", "SN3", "SN4", "SN5"]);
        let windows: Vec<(i64, i64)> = env
            .sandbox
            .requests()
            .iter()
            .filter(|r| r.path == PATH_ORDER_LIST)
            .map(|r| {
                assert_eq!(
                    r.query_param("time_range_field").as_deref(),
                    Some("update_time")
                );
                assert_eq!(r.query_param("page_size").as_deref(), Some("100"));
                (
                    r.query_param("time_from").unwrap().parse().unwrap(),
                    r.query_param("time_to").unwrap().parse().unwrap(),
                )
            })
            .collect();
        let mut distinct = windows.clone();
        distinct.dedup();
        assert_eq!(distinct.first().unwrap().0, from);
        assert_eq!(distinct.last().unwrap().1, to - 1);
        for pair in distinct.windows(2) {
            assert_eq!(pair[1].0, pair[0].1 + 1, "windows are contiguous");
        }
        assert!(distinct.iter().all(|(a, b)| b - a < 15 * 86_400));
        assert_eq!(distinct.len(), 3);

        // A cursor from another range is refused.
        let bogus = env
            .shopee
            .list_updated(
                &cx,
                &acc,
                DateTime::from_timestamp(from, 0).unwrap(),
                DateTime::from_timestamp(to, 0).unwrap(),
                Some("12:"),
            )
            .await;
        assert!(
            matches!(bogus, Err(ConnectorError::Invalid(_))),
            "{bogus:?}"
        );
        // An empty range asks nothing.
        let before = env.sandbox.requests().len();
        let empty = env
            .shopee
            .list_updated(
                &cx,
                &acc,
                DateTime::from_timestamp(to, 0).unwrap(),
                DateTime::from_timestamp(to, 0).unwrap(),
                None,
            )
            .await
            .unwrap();
        assert!(empty.ids.is_empty() && empty.next_cursor.is_none());
        assert_eq!(env.sandbox.requests().len(), before);
    }

    #[tokio::test]
    async fn shopee_errors_reach_the_hub_as_its_error_classes() {
        let env = Env::new().await;
        let cx = env.cx();
        let (token, _) = env.sandbox.issue_tokens(SANDBOX_SHOP_ID);
        let acc = account(&token);
        let ids = ["X".to_owned()];

        env.sandbox
            .push_failure(PATH_ORDER_DETAIL, SandboxFailure::TokenExpired);
        let e = env.shopee.get_orders(&cx, &acc, &ids).await.unwrap_err();
        assert!(e.needs_reconnect(), "{e:?}");
        assert!(!e.to_string().contains(&token), "no token in errors");

        env.sandbox
            .push_failure(PATH_ORDER_DETAIL, SandboxFailure::RateLimited);
        let e = env.shopee.get_orders(&cx, &acc, &ids).await.unwrap_err();
        assert!(
            matches!(
                e,
                ConnectorError::RateLimited {
                    retry_after: None,
                    ..
                }
            ),
            "{e:?}"
        );

        env.sandbox
            .push_failure(PATH_ORDER_DETAIL, SandboxFailure::DailyLimit);
        let e = env.shopee.get_orders(&cx, &acc, &ids).await.unwrap_err();
        let wait = e.retry_after().expect("daily limit says until when");
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(86_400),
            "{wait:?}"
        );

        env.sandbox
            .push_failure(PATH_ORDER_DETAIL, SandboxFailure::ServerError);
        let e = env.shopee.get_orders(&cx, &acc, &ids).await.unwrap_err();
        assert!(
            e.is_retryable() && matches!(e, ConnectorError::Api { status: 500, .. }),
            "{e:?}"
        );

        env.sandbox
            .push_failure(PATH_SEND_MESSAGE, SandboxFailure::ChatNotWhitelisted);
        let msg = OutboundMessage::text(Recipient::User(BUYER.to_string()), "xin chào");
        match env.shopee.send(&cx, &acc, &msg).await.unwrap_err() {
            ConnectorError::Forbidden { message, .. } => {
                assert!(message.contains("whitelist"), "{message}")
            }
            e => panic!("{e:?}"),
        }
        assert!(env.sandbox.sent_chats().is_empty());

        // The sandbox's clock is ahead by more than 5 minutes: Shopee says the timestamp expired.
        env.sandbox.set_now(Some(now() + 600));
        match env.shopee.get_orders(&cx, &acc, &ids).await.unwrap_err() {
            ConnectorError::Api {
                message,
                transient: false,
                ..
            } => assert!(message.starts_with("error_param"), "{message}"),
            e => panic!("{e:?}"),
        }
        env.sandbox.set_now(None);

        // Signed with another key: `error_sign`.
        let wrong = Shopee::new(ShopeeConfig {
            partner_id: Some(PID),
            partner_key: Some("another-key".to_owned()),
            callback_url: None,
            api_url: env.base.clone(),
        });
        match wrong.get_orders(&cx, &acc, &ids).await.unwrap_err() {
            ConnectorError::Api { message, .. } => {
                assert!(message.starts_with("error_sign"), "{message}")
            }
            e => panic!("{e:?}"),
        }
        // A token of another shop is refused.
        let other = AccountCtx {
            external_id: "1",
            access_token: &token,
        };
        assert!(
            env.shopee
                .get_orders(&cx, &other, &ids)
                .await
                .unwrap_err()
                .needs_reconnect()
        );

        // Expired tokens are refused even without injected failures.
        env.sandbox.expire_access_token(&token);
        let grant = tongdai_connectors::TokenSet {
            access_token: tongdai_connectors::AccessToken::new(token.clone()),
            refresh_token: None,
            expires_in: None,
            refresh_expires_in: None,
            account_ids: vec![SHOP.to_owned()],
        };
        assert!(
            env.shopee
                .accounts(&cx, &grant)
                .await
                .unwrap_err()
                .needs_reconnect()
        );
        assert!(
            env.sandbox
                .requests()
                .iter()
                .any(|r| r.path == PATH_SHOP_INFO)
        );
    }

    #[tokio::test]
    async fn bad_requests_are_refused_before_any_call() {
        let env = Env::new().await;
        let cx = env.cx();
        let acc = account("tok");
        let too_many: Vec<String> = (0..51).map(|i| format!("SN{i}")).collect();
        assert!(matches!(
            env.shopee.get_orders(&cx, &acc, &too_many).await,
            Err(ConnectorError::Invalid(_))
        ));
        assert!(
            env.shopee
                .get_orders(&cx, &acc, &[])
                .await
                .unwrap()
                .is_empty()
        );
        let not_a_buyer = OutboundMessage::text(Recipient::User("abc".to_owned()), "x");
        assert!(matches!(
            env.shopee.send(&cx, &acc, &not_a_buyer).await,
            Err(ConnectorError::Invalid(_))
        ));
        let comment = OutboundMessage::text(Recipient::Comment("c1".to_owned()), "x");
        assert!(matches!(
            env.shopee.send(&cx, &acc, &comment).await,
            Err(ConnectorError::Unsupported)
        ));
        let video = OutboundMessage::media(
            Recipient::User(BUYER.to_string()),
            MediaKind::Video,
            "https://x/v.mp4",
        );
        assert!(matches!(
            env.shopee.send(&cx, &acc, &video).await,
            Err(ConnectorError::Unsupported)
        ));
        let unconfigured = Shopee::new(ShopeeConfig::default());
        assert!(matches!(
            unconfigured.authorize_url(&env.base, REDIRECT, "s", None),
            Err(ConnectorError::Invalid(_))
        ));
        assert!(env.sandbox.requests().is_empty());
    }

    #[tokio::test]
    async fn a_retried_send_with_the_same_idempotency_key_is_delivered_once() {
        let env = Env::new().await;
        let cx = env.cx();
        let (token, _) = env.sandbox.issue_tokens(SANDBOX_SHOP_ID);
        let acc = account(&token);
        let msg = OutboundMessage::text(Recipient::User(BUYER.to_string()), "Cảm ơn bạn")
            .with_idempotency_key("job-42");
        let a = env.shopee.send(&cx, &acc, &msg).await.unwrap();
        let b = env.shopee.send(&cx, &acc, &msg).await.unwrap();
        assert_eq!(a.external_message_id, b.external_message_id);
        assert_eq!(env.sandbox.sent_chats().len(), 1);
        assert_eq!(
            env.sandbox.sent_chats()[0].idempotency_key.as_deref(),
            Some("job-42")
        );
    }

    #[tokio::test]
    async fn the_authorization_link_is_signed_and_expires_with_its_timestamp() {
        let env = Env::new().await;
        let link = env
            .shopee
            .authorize_url(&env.base, REDIRECT, "s1", None)
            .unwrap();
        let url = url::Url::parse(&link).unwrap();
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(url.path(), "/api/v2/shop/auth_partner");
        assert_eq!(q["partner_id"], PID.to_string());
        assert_eq!(q["redirect"], format!("{REDIRECT}?state=s1"));
        let ts: i64 = q["timestamp"].parse().unwrap();
        assert_eq!(
            q["sign"],
            tongdai_connectors::shopee::sign::sign(
                KEY,
                PID,
                "/api/v2/shop/auth_partner",
                ts,
                tongdai_connectors::shopee::sign::ApiScope::Public
            )
        );
        // Six minutes later the page refuses the link.
        env.sandbox.set_now(Some(ts + 360));
        let resp = env.http.get(&link).send().await.unwrap();
        assert_eq!(resp.status(), 400);
        let body: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(body["error"], "error_param");
    }
}
