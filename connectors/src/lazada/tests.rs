use chrono::{DateTime, TimeZone, Utc};
use http::{HeaderMap, HeaderValue, Method};
use serde_json::{Value, json};

use super::api::{
    OrderCursor, buyer_from_session, classify_error, filter_time, group_items, im_message_event,
    map_order, map_status, next_order_cursor, order_amounts, order_status, parse_time, token_set,
    vn_recipient,
};
use super::wire::{epoch_ms, normalize_site};
use super::*;
use crate::ConnectorError;
use crate::commerce::MarketStatus;
use crate::types::{ChatNotice, IgnoredEvent, OrderNotice};

const APP_KEY: &str = "123456";
const APP_SECRET: &str = "helloworld";
/// §2.5.4 body L1, byte-exact, and its V10 signature.
const L1: &str = r#"{"seller_id":"1234567","message_type":0,"data":{"order_status":"unpaid","trade_order_id":"260422900198363","trade_order_line_id":"260422900298363","status_update_time":1603698638},"timestamp":1603766859530,"site":"lazada_vn"}"#;
const V10: &str = "b0cfd0349e915667babf3c35e2335fb09653527421c46a94bd9e70e874c16322";

fn lazada() -> Lazada {
    Lazada::new(LazadaConfig {
        app_key: Some(APP_KEY.into()),
        app_secret: Some(APP_SECRET.into()),
    })
}

fn headers(auth: Option<&str>) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(a) = auth {
        h.insert("authorization", HeaderValue::from_str(a).expect("header"));
    }
    h
}

fn req<'a>(h: &'a HeaderMap, body: &'a [u8]) -> InboundRequest<'a> {
    InboundRequest {
        method: &Method::POST,
        headers: h,
        query: None,
        body,
    }
}

fn parse_one(body: &str) -> NormalizedEvent {
    let mut evs = lazada().parse(body.as_bytes()).expect("parses");
    assert_eq!(evs.len(), 1, "{evs:?}");
    evs.remove(0)
}

fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(secs, 0).expect("time")
}

// ---- webhook verification ----------------------------------------------------------------

#[test]
fn lazada_push_l1_verifies_with_v10() {
    let h = headers(Some(V10));
    assert_eq!(lazada().verify(&req(&h, L1.as_bytes())), Ok(()));
    let upper = V10.to_uppercase();
    let h = headers(Some(&upper));
    assert_eq!(lazada().verify(&req(&h, L1.as_bytes())), Ok(()));
}

#[test]
fn lazada_push_refusals_match_verify_errors() {
    let lz = lazada();
    let none = headers(None);
    assert_eq!(
        lz.verify(&req(&none, L1.as_bytes())),
        Err(VerifyError::MissingSignature("Authorization"))
    );
    let garbled = headers(Some("Bearer abc"));
    assert_eq!(
        lz.verify(&req(&garbled, L1.as_bytes())),
        Err(VerifyError::MalformedSignature("Authorization"))
    );
    let h = headers(Some(V10));
    let tampered = L1.replace("unpaid", "paid!!");
    assert_eq!(
        lz.verify(&req(&h, tampered.as_bytes())),
        Err(VerifyError::BadSignature)
    );
    // A signature made with another secret.
    let other = sign::push_signature(APP_KEY, "not-the-secret", L1.as_bytes());
    let h = headers(Some(&other));
    assert_eq!(
        lz.verify(&req(&h, L1.as_bytes())),
        Err(VerifyError::BadSignature)
    );
    for cfg in [
        LazadaConfig::default(),
        LazadaConfig {
            app_key: Some(APP_KEY.into()),
            app_secret: Some(String::new()),
        },
    ] {
        let h = headers(Some(V10));
        assert_eq!(
            Lazada::new(cfg).verify(&req(&h, L1.as_bytes())),
            Err(VerifyError::NotConfigured("lazada"))
        );
    }
}

#[test]
fn lazada_push_ack_is_empty_and_hints_name_the_seller() {
    let lz = lazada();
    assert!(lz.empty_ack());
    assert_eq!(lz.account_hints(L1.as_bytes()), vec!["1234567".to_owned()]);
    let im = r#"{"seller_id":20240305,"message_type":19,"data":{"session_id":"s"}}"#;
    assert_eq!(lz.account_hints(im.as_bytes()), vec!["20240305".to_owned()]);
    assert!(lz.account_hints(b"not json").is_empty());
}

// ---- event keys ----------------------------------------------------------------------------

#[test]
fn lazada_order_push_key_is_seller_order_status_time() {
    let h = headers(None);
    let key = lazada().event_key(&req(&h, L1.as_bytes()));
    assert_eq!(
        key.as_deref(),
        Some("lazada:order:1234567:260422900198363:unpaid:1603698638000")
    );
    // The same change with numeric ids, ms time and another envelope timestamp: same key.
    let again = r#"{"seller_id":1234567,"message_type":0,"data":{"order_status":"unpaid","trade_order_id":260422900198363,"trade_order_line_id":"260422900298364","status_update_time":1603698638000},"timestamp":1603766999999,"site":"LAZADA-VN"}"#;
    assert_eq!(lazada().event_key(&req(&h, again.as_bytes())), key);
    // Another status is another key.
    let shipped = L1.replace("unpaid", "shipped");
    assert_ne!(lazada().event_key(&req(&h, shipped.as_bytes())), key);
    // Other types fall back to the body hash.
    let im =
        r#"{"seller_id":"1","message_type":19,"data":{"session_id":"s"},"timestamp":1627038397}"#;
    assert_eq!(lazada().event_key(&req(&h, im.as_bytes())), None);
    assert_eq!(lazada().event_key(&req(&h, b"{")), None);
}

// ---- parsing ---------------------------------------------------------------------------------

#[test]
fn lazada_parses_l1_forward_order_push() {
    assert_eq!(
        parse_one(L1),
        NormalizedEvent::OrderChanged(OrderNotice {
            account_external_id: "1234567".into(),
            order_external_id: "260422900198363".into(),
            platform_status: Some("unpaid".into()),
            updated_at: Some(at(1_603_698_638)),
        })
    );
}

#[test]
fn lazada_parses_reverse_order_push_type_0() {
    let body = r#"{"seller_id":"1234567","message_type":0,"data":{"order_status":"returned","trade_order_id":"260422900198363","trade_order_line_id":"260422900298363","reverse_order_id":"5001","reverse_order_line_id":"5002","status_update_time":1603698638},"timestamp":1603766859530,"site":"lazada_vn"}"#;
    let NormalizedEvent::OrderChanged(n) = parse_one(body) else {
        panic!("not an order change");
    };
    assert_eq!(n.platform_status.as_deref(), Some("returned"));
    assert_eq!(n.order_external_id, "260422900198363");
}

#[test]
fn lazada_parses_type_10_with_ids_beyond_2_pow_53_exactly() {
    // 2^53 + 1 cannot survive a trip through f64.
    let body = r#"{"seller_id":9007199254740993,"message_type":10,"data":{"trade_order_id":416557324702006,"reverse_order_id":9007199254740995,"status_update_time":"1627038397"},"timestamp":1627038397,"site":"lazada_sg"}"#;
    assert_eq!(
        parse_one(body),
        NormalizedEvent::OrderChanged(OrderNotice {
            account_external_id: "9007199254740993".into(),
            order_external_id: "416557324702006".into(),
            platform_status: None,
            updated_at: Some(at(1_627_038_397)),
        })
    );
    // An order id too large for u64 (would be read as f64) is refused, not rounded.
    let huge =
        r#"{"seller_id":"1","message_type":10,"data":{"trade_order_id":123456789012345678901234}}"#;
    assert!(lazada().parse(huge.as_bytes()).is_err());
}

#[test]
fn lazada_parses_im_session_update_with_numeric_seller() {
    let body = r#"{"seller_id":20240305,"message_type":19,"data":{"sync_type":"SESSION_UPDATE","user_account_id":100094063,"user_account_type":2,"session_id":"100094063_2_1011822749_1_103","unread_count":1,"to_position":1709611200000,"self_position":1709611100000,"site_id":"VN"},"timestamp":1709611200,"site":"lazada_vn"}"#;
    assert_eq!(
        parse_one(body),
        NormalizedEvent::ChatChanged(ChatNotice {
            account_external_id: "20240305".into(),
            session_external_id: "100094063_2_1011822749_1_103".into(),
        })
    );
    // Without seller_id, the seller-side user account names the account.
    let no_seller = r#"{"message_type":19,"data":{"user_account_id":100094063,"user_account_type":2,"session_id":"x"}}"#;
    assert_eq!(parse_one(no_seller).account_external_id(), "100094063");
}

#[test]
fn lazada_other_types_are_ignored_by_name() {
    for (ty, seller) in [
        (8, "\"1\""),
        (3, "\"1\""),
        (4, "\"1\""),
        (5, "\"1\""),
        (11, "\"1\""),
        (13, "\"1\""),
        (14, "\"1\""),
        (35, "\"1\""),
        (77, "\"1\""),
    ] {
        let body = format!(
            r#"{{"seller_id":{seller},"message_type":{ty},"data":{{"status_update_time":1623238942696}},"timestamp":1627038397,"site":"lazada_vn"}}"#
        );
        assert_eq!(
            parse_one(&body),
            NormalizedEvent::Ignored(IgnoredEvent {
                account_external_id: "1".into(),
                kind: format!("lazada.type_{ty}"),
            })
        );
    }
    // Type 12 is a broadcast without seller.
    let body = r#"{"message_type":12,"data":{"status_update_time":1623238942696},"timestamp":1627038397,"site":"LAZADA_SG"}"#;
    assert_eq!(
        parse_one(body),
        NormalizedEvent::Ignored(IgnoredEvent {
            account_external_id: String::new(),
            kind: "lazada.type_12".into(),
        })
    );
}

#[test]
fn lazada_malformed_pushes_are_parse_errors() {
    let lz = lazada();
    for body in [
        "not json",
        r#"{"seller_id":"1","data":{}}"#,
        r#"{"seller_id":"1","message_type":0,"data":{"order_status":"pending"}}"#,
        r#"{"message_type":0,"data":{"trade_order_id":"5"}}"#,
        r#"{"seller_id":"1","message_type":19,"data":{}}"#,
    ] {
        assert!(lz.parse(body.as_bytes()).is_err(), "{body}");
    }
}

#[test]
fn lazada_times_and_sites_are_normalized() {
    assert_eq!(epoch_ms(1_603_698_638), 1_603_698_638_000);
    assert_eq!(epoch_ms(1_603_766_859_530), 1_603_766_859_530);
    // Type 0 with status_update_time in ms, envelope timestamp in seconds: both fine.
    let body = L1
        .replace("1603698638}", "1603698638123}")
        .replace("1603766859530", "1603766859");
    let NormalizedEvent::OrderChanged(n) = parse_one(&body) else {
        panic!("not an order change")
    };
    assert_eq!(
        n.updated_at,
        DateTime::from_timestamp_millis(1_603_698_638_123)
    );
    // Without status_update_time the envelope's timestamp (ms here) is used.
    let body = r#"{"seller_id":"1","message_type":0,"data":{"trade_order_id":"9","order_status":"pending"},"timestamp":1603766859530}"#;
    let NormalizedEvent::OrderChanged(n) = parse_one(body) else {
        panic!("not an order change")
    };
    assert_eq!(
        n.updated_at,
        DateTime::from_timestamp_millis(1_603_766_859_530)
    );
    for s in ["lazada_vn", "lazada-vn", "LAZADA_VN", "Lazada-VN "] {
        assert_eq!(normalize_site(s), "lazada_vn");
    }
    let env = wire::envelope(br#"{"site":"LAZADA-SG"}"#).expect("env");
    assert_eq!(env.site().as_deref(), Some("lazada_sg"));
    assert_eq!(gateway_for_site("lazada-vn"), Some(DEFAULT_API_URL));
    assert_eq!(gateway_for_site("SG"), Some("https://api.lazada.sg/rest"));
    assert_eq!(gateway_for_site("lazada_xx"), None);
}

// ---- API mappings ----------------------------------------------------------------------------

#[test]
fn lazada_error_codes_map_to_connector_errors() {
    assert!(matches!(
        classify_error(200, "ISV", "IllegalAccessToken", "bad token"),
        ConnectorError::Unauthorized(_)
    ));
    assert!(matches!(
        classify_error(200, "ISV", "IllegalRefreshToken", "expired"),
        ConnectorError::Unauthorized(_)
    ));
    let e = classify_error(200, "ISV", "AppCallLimit", "slow down");
    assert!(matches!(e, ConnectorError::RateLimited { .. }) && e.is_retryable());
    let e = classify_error(200, "ISV", "AppNotSubscribed", "no IM");
    assert!(matches!(e, ConnectorError::Forbidden { .. }) && !e.is_retryable());
    let ConnectorError::Api {
        message, transient, ..
    } = classify_error(200, "ISV", "InvalidApi", "no such api")
    else {
        panic!("not an Api error")
    };
    assert_eq!(message, "ISV InvalidApi: no such api");
    assert!(!transient);
    assert!(classify_error(200, "ISP", "ServiceTimeout", "later").is_retryable());
    assert!(classify_error(503, "", "", "").is_retryable());
}

#[test]
fn lazada_status_table() {
    use MarketStatus::*;
    let table = [
        ("unpaid", Unpaid),
        ("pending", ToShip),
        ("topack", ToShip),
        ("packed", Packed),
        ("ready_to_ship", Packed),
        ("READY_TO_SHIP", Packed),
        ("shipped", Shipped),
        ("delivered", Delivered),
        ("confirmed", Delivered),
        ("canceled", Cancelled),
        ("returned", Returned),
        ("failed", Returned),
        ("shipped_back_success", Returned),
    ];
    for (s, want) in table {
        assert_eq!(map_status(s), Some(want), "{s}");
    }
    assert_eq!(map_status("something_new"), None);
    let s = |v: &[&str]| order_status(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(s(&["canceled"]), Cancelled);
    assert_eq!(s(&["canceled", "shipped"]), Shipped);
    assert_eq!(s(&["packed", "pending"]), ToShip);
    assert_eq!(s(&["weird"]), ToShip);
    assert_eq!(s(&[]), ToShip);
}

#[test]
fn lazada_vn_address_mapping_is_the_documented_assumption() {
    // UNVERIFIED (§2.6): address3 = province, address4 = district, address5 = ward.
    let addr = json!({"first_name": "Nguyễn", "last_name": "Văn A", "phone": "84901234567",
        "address1": "12 Lê Lợi", "address2": "", "address3": "Hồ Chí Minh",
        "address4": "Quận 1", "address5": "Phường Bến Nghé", "city": "Hồ Chí Minh",
        "country": "Vietnam"});
    let r = vn_recipient(&addr);
    assert_eq!(r.name.as_deref(), Some("Nguyễn Văn A"));
    assert_eq!(r.phone.as_deref(), Some("84901234567"));
    assert_eq!(r.street.as_deref(), Some("12 Lê Lợi"));
    assert_eq!(r.province.as_deref(), Some("Hồ Chí Minh"));
    assert_eq!(r.district.as_deref(), Some("Quận 1"));
    assert_eq!(r.ward.as_deref(), Some("Phường Bến Nghé"));
    let sparse = vn_recipient(
        &json!({"address1": "a", "address2": "b", "city": "Hà Nội", "phone2": "0900"}),
    );
    assert_eq!(sparse.street.as_deref(), Some("a, b"));
    assert_eq!(sparse.province.as_deref(), Some("Hà Nội"));
    assert_eq!(sparse.phone.as_deref(), Some("0900"));
}

fn item(id: u64, sku: &str, paid: &str, status: &str) -> Value {
    json!({"order_item_id": id, "order_id": 1, "name": "Áo thun", "variation": "Đỏ, M",
        "sku": sku, "paid_price": paid, "item_price": "200000.00", "status": status,
        "shipment_provider": "GHN", "tracking_code": if id == 1 { "" } else { "TRK1" }})
}

#[test]
fn lazada_items_group_by_sku_and_price_one_unit_each() {
    let items = [
        item(1, "A", "189000.00", "pending"),
        item(2, "B", "50000", "pending"),
        item(3, "A", "189000.00", "pending"),
        item(4, "A", "150000.00", "pending"),
        item(5, "C", "1", "canceled"),
    ];
    let lines = group_items(&items);
    let summary: Vec<(Option<&str>, i32, i64)> = lines
        .iter()
        .map(|l| (l.sku.as_deref(), l.quantity, l.unit_price))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Some("A"), 2, 189_000),
            (Some("B"), 1, 50_000),
            (Some("A"), 1, 150_000)
        ]
    );
    assert_eq!(lines[0].name, "Áo thun (Đỏ, M)");
    // An all-cancelled order keeps its lines.
    let all = group_items(&[item(5, "C", "1", "canceled")]);
    assert_eq!(all.len(), 1);
}

#[test]
fn lazada_order_maps_to_market_order() {
    let order = json!({"order_id": 416557324702006_u64, "order_number": 416557324702006_u64,
        "created_at": "2024-01-01 10:00:00 +0700", "updated_at": "2024-01-02 08:30:00 +0700",
        "statuses": ["pending"], "price": "428000.00", "shipping_fee": "30000.00",
        "voucher": "20000.00", "payment_method": "COD", "customer_first_name": "Trần",
        "customer_last_name": "B", "remarks": "Giao giờ hành chính",
        "address_shipping": {"first_name": "Trần B", "phone": "84900000000", "address1": "1 Hai Bà Trưng",
            "address3": "Hà Nội", "address4": "Hoàn Kiếm", "address5": "Tràng Tiền"}});
    let items = [
        item(1, "A", "189000.00", "pending"),
        item(2, "A", "189000.00", "pending"),
        item(3, "B", "50000", "pending"),
    ];
    let o = map_order("1234567", &order, &items).expect("maps");
    assert_eq!(o.external_id, "416557324702006");
    assert_eq!(o.account_external_id, "1234567");
    assert_eq!(o.platform_status, "pending");
    assert_eq!(o.status, MarketStatus::ToShip);
    assert_eq!(o.buyer_name.as_deref(), Some("Trần B"));
    assert_eq!(
        (o.shipping_fee, o.discount, o.total),
        (30_000, 20_000, 438_000)
    );
    assert_eq!(o.cod_amount, 438_000);
    assert_eq!(o.carrier.as_deref(), Some("GHN"));
    assert_eq!(o.tracking_code.as_deref(), Some("TRK1"));
    assert_eq!(o.note.as_deref(), Some("Giao giờ hành chính"));
    assert_eq!(o.recipient.ward.as_deref(), Some("Tràng Tiền"));
    assert_eq!(o.items.len(), 2);
    assert_eq!(o.items[0].quantity, 2);
    assert_eq!(
        o.created_at,
        Utc.with_ymd_and_hms(2024, 1, 1, 3, 0, 0).unwrap()
    );
    assert_eq!(
        o.updated_at,
        Utc.with_ymd_and_hms(2024, 1, 2, 1, 30, 0).unwrap()
    );
    assert_eq!(o.raw["items"].as_array().map(Vec::len), Some(3));
    // Prepaid: nothing to collect.
    let mut paid = order.clone();
    paid["payment_method"] = json!("MIXEDCARD");
    assert_eq!(map_order("1", &paid, &items).expect("maps").cod_amount, 0);
    // No readable time is an error, not "now".
    let mut timeless = order.clone();
    timeless["created_at"] = json!("yesterday");
    timeless["updated_at"] = Value::Null;
    assert!(map_order("1", &timeless, &items).is_err());
}

#[test]
fn lazada_amounts_assumption() {
    // UNVERIFIED (§2.6): total = price − voucher + shipping_fee.
    assert_eq!(
        order_amounts(&json!({"price": "100000.00", "voucher": "10000", "shipping_fee": 15000})),
        (15_000, 10_000, 105_000)
    );
    assert_eq!(order_amounts(&json!({})), (0, 0, 0));
}

#[test]
fn lazada_times_are_read_in_every_form() {
    let want = Utc.with_ymd_and_hms(2024, 1, 1, 3, 0, 0).unwrap();
    for v in [
        json!("2024-01-01 10:00:00 +0700"),
        json!("2024-01-01T10:00:00+07:00"),
        json!("2024-01-01 10:00:00"),
        json!(1_704_078_000),
        json!(1_704_078_000_000_i64),
        json!("1704078000"),
    ] {
        assert_eq!(parse_time(&v), Some(want), "{v}");
    }
    assert_eq!(filter_time(want), "2024-01-01T10:00:00+07:00");
}

#[test]
fn lazada_token_answers_map_to_token_sets() {
    let top = json!({"access_token": "at", "refresh_token": "rt", "expires_in": 604800,
        "refresh_expires_in": "1209600", "account": "shop@example.vn", "country": "vn",
        "country_user_info": [{"country": "vn", "user_id": "u1", "seller_id": 1234567, "short_code": "VN1"},
            {"country": "vn", "seller_id": "1234567"}], "code": "0", "request_id": "r"});
    let t = token_set(&top).expect("token");
    assert_eq!(t.access_token.expose(), "at");
    assert_eq!(t.refresh_token.as_ref().map(|r| r.expose()), Some("rt"));
    assert_eq!(t.expires_in, Some(604_800));
    assert_eq!(t.refresh_expires_in, Some(1_209_600));
    assert_eq!(t.account_ids, vec!["1234567".to_owned()]);
    let nested = json!({"code": "0", "data": {"access_token": "at2", "expires_in": 10}});
    assert_eq!(
        token_set(&nested).expect("token").access_token.expose(),
        "at2"
    );
    assert!(token_set(&json!({"code": "0"})).is_err());
}

#[test]
fn lazada_authorize_url_carries_every_parameter() {
    let url = lazada()
        .authorize_url(
            "https://auth.lazada.com",
            "https://shop.example.vn/cb?x=1",
            "st",
            None,
        )
        .expect("url");
    assert_eq!(
        url,
        "https://auth.lazada.com/oauth/authorize?response_type=code&force_auth=true&redirect_uri=https%3A%2F%2Fshop.example.vn%2Fcb%3Fx%3D1&client_id=123456&state=st"
    );
    // The SDK's `…/rest` base gives the same page.
    let same = lazada()
        .authorize_url(
            "https://auth.lazada.com/rest/",
            "https://shop.example.vn/cb?x=1",
            "st",
            None,
        )
        .expect("url");
    assert_eq!(same, url);
    assert_eq!(
        api::token_base("https://auth.lazada.com"),
        "https://auth.lazada.com/rest"
    );
    assert!(
        Lazada::new(LazadaConfig::default())
            .authorize_url("https://auth.lazada.com", "x", "s", None)
            .is_err()
    );
}

#[test]
fn lazada_order_cursor_pages_then_moves_the_window() {
    let start = at(1_700_000_000);
    let c = OrderCursor { start, offset: 0 };
    assert_eq!(OrderCursor::decode(&c.encode()).expect("decode"), c);
    assert!(OrderCursor::decode("v2:1:0").is_err());
    assert!(OrderCursor::decode("v1:x:0").is_err());
    // A short page ends the range.
    assert_eq!(next_order_cursor(c, 3, None, None, 5, 10), None);
    // countTotal reached ends it too.
    assert_eq!(next_order_cursor(c, 5, Some(5), None, 5, 10), None);
    // A short page while countTotal says more (Lazada gave fewer than asked): carry on after it.
    assert_eq!(
        next_order_cursor(c, 3, Some(50), None, 5, 10),
        Some(OrderCursor { start, offset: 3 })
    );
    // An empty page ends it whatever countTotal says.
    assert_eq!(next_order_cursor(c, 0, Some(50), None, 5, 10), None);
    // A full page: next offset.
    let c1 = next_order_cursor(c, 5, Some(50), None, 5, 10).expect("more");
    assert_eq!(c1, OrderCursor { start, offset: 5 });
    let c2 = next_order_cursor(c1, 5, Some(50), None, 5, 10).expect("more");
    assert_eq!(c2.offset, 10);
    // Past the cap: a window from a second before the last order's time, offset 0.
    let last = at(1_700_000_500);
    let c3 = next_order_cursor(c2, 5, Some(50), Some(last), 5, 10).expect("more");
    assert_eq!(
        c3,
        OrderCursor {
            start: at(1_700_000_499),
            offset: 0
        }
    );
    // No progress possible (every order in the same second as the start): one second later.
    let c4 = next_order_cursor(c2, 5, Some(50), Some(start), 5, 10).expect("more");
    assert_eq!(c4.start, at(1_700_000_001));
}

#[test]
fn lazada_im_messages_map_buyer_and_seller_sides() {
    let session = "100094063_2_1011822749_1_103";
    assert_eq!(buyer_from_session(session).as_deref(), Some("1011822749"));
    assert_eq!(buyer_from_session("abc"), None);
    let buyer = json!({"message_id": 9007199254740993_u64, "template_id": 1, "from_account_type": 1,
        "from_account_id": "1011822749", "content": "{\"txt\":\"Còn hàng không shop?\"}",
        "send_time": 1709611200000_i64});
    let Some(NormalizedEvent::MessageReceived(m)) = im_message_event("20240305", session, &buyer)
    else {
        panic!("not a received message")
    };
    assert_eq!(m.external_message_id, "9007199254740993");
    assert_eq!(m.text.as_deref(), Some("Còn hàng không shop?"));
    assert_eq!(m.contact.external_id, "1011822749");
    assert_eq!(m.thread_external_id, session);
    assert_eq!(m.account_external_id, "20240305");
    assert_eq!(m.sent_at, at(1_709_611_200));
    let seller = json!({"message_id": "m2", "template_id": 3, "from_account_type": 2,
        "from_account_id": "100094063", "content": "{\"img_url\":\"https://img/x.jpg\"}",
        "send_time": 1709611260});
    let Some(NormalizedEvent::MessageEcho(m)) = im_message_event("20240305", session, &seller)
    else {
        panic!("not an echo")
    };
    assert_eq!(m.contact.external_id, "1011822749");
    assert_eq!(m.attachments[0].kind, "image");
    assert_eq!(m.attachments[0].url.as_deref(), Some("https://img/x.jpg"));
    let card = json!({"message_id": "m3", "template_id": 10007, "from_account_type": 2,
        "content": "{\"orderId\":\"5\"}", "send_time": 1709611260});
    let Some(NormalizedEvent::MessageEcho(m)) = im_message_event("s", session, &card) else {
        panic!("not an echo")
    };
    assert_eq!(m.attachments[0].kind, "lazada_template_10007");
    assert_eq!(m.attachments[0].payload, Some(json!({"orderId": "5"})));
    assert_eq!(
        im_message_event("s", session, &json!({"template_id": 1})),
        None
    );
}
