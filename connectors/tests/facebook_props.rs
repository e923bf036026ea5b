//! Property tests of the Facebook webhook surface against bad input: the body parser
//! (`WebhookInbound::parse`, `wire::parse_body`, `account_hints`), the signature check and the
//! subscription handshake. Nothing here may panic, whatever the bytes; valid bodies must give
//! exactly the events the model below predicts.
//!
//! The file needs no cargo feature: valid bodies are built here in Meta's form (compact JSON,
//! non-ASCII `\u`-escaped by `wire::meta_escape`) rather than with the `sandbox` builders, so a
//! plain `cargo test -p tongdai-connectors` runs it too.
//!
//! Each property runs `PROPTEST_CASES` cases (proptest's default, 256, when unset); the whole
//! file takes a few seconds in debug. A longer run:
//!
//! ```text
//! PROPTEST_CASES=1000000 cargo test --release -p tongdai-connectors --features sandbox --test facebook_props
//! ```
//!
//! took 31 minutes on the 2-core dev machine, 19 of them in the every-prefix property.
//!
//! Failures are not persisted to `proptest-regressions/`: a failing case is printed with its
//! minimal input, to be turned into a plain test.

use hmac::{Hmac, Mac};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::Config as ProptestConfig;
use serde_json::{Map, Value, json};
use sha1::Sha1;
use sha2::Sha256;
use tongdai_connectors::facebook::wire::{meta_escape, parse_body};
use tongdai_connectors::facebook::{
    Facebook, FacebookConfig, LEGACY_SIGNATURE_HEADER, SIGNATURE_HEADER,
};
use tongdai_connectors::{
    DeliveryState, InboundRequest, NormalizedEvent, ParseError, VerifyError, WebhookInbound,
};

const SECRET: &str = "test_app_secret";
const VERIFY_TOKEN: &str = "verify-me";
const APP_ID: &str = "1517776481860111";

/// Epoch milliseconds of valid timestamps: 1973-03-03 (the smallest value read as
/// milliseconds) to 2100-01-01.
const MIN_MS: i64 = 100_000_000_000;
const MAX_MS: i64 = 4_102_444_800_000;

/// Keys the parser knows, so arbitrary JSON hits its fields and not only unknown ones.
const KEYS: &[&str] = &[
    "object",
    "entry",
    "id",
    "time",
    "messaging",
    "standby",
    "changes",
    "field",
    "value",
    "sender",
    "recipient",
    "timestamp",
    "message",
    "delivery",
    "read",
    "postback",
    "reaction",
    "message_edit",
    "mid",
    "mids",
    "watermark",
    "text",
    "is_echo",
    "is_deleted",
    "app_id",
    "metadata",
    "attachments",
    "type",
    "payload",
    "url",
    "title",
    "sticker_id",
    "reply_to",
    "quick_reply",
    "action",
    "emoji",
];

/// Messaging-item keys the parser ignores: any value under them must change nothing.
const IGNORED_ITEM_KEYS: &[&str] = &[
    "optin",
    "referral",
    "account_linking",
    "pass_thread_control",
    "take_thread_control",
    "policy_enforcement",
    "x_tongdai_fuzz",
];

/// Fragments of Meta bodies, glued at random into byte soup that is almost JSON.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    " ",
    "\"",
    "\\",
    "\"object\"",
    "\"page\"",
    "\"instagram\"",
    "\"entry\"",
    "\"id\"",
    "\"time\"",
    "\"messaging\"",
    "\"standby\"",
    "\"sender\"",
    "\"recipient\"",
    "\"timestamp\"",
    "\"message\"",
    "\"mid\"",
    "\"text\"",
    "\"is_echo\"",
    "\"delivery\"",
    "\"read\"",
    "\"watermark\"",
    "\"mids\"",
    "\"m_1\"",
    "\"105123456789012\"",
    "105123456789012",
    "1718000000",
    "1718000000123",
    "-1",
    "0",
    "1e999",
    "-1e999",
    "1.5",
    "18446744073709551616",
    "9223372036854775808",
    "-9223372036854775809",
    "null",
    "true",
    "false",
    "\"\\u01a1\"",
    "\"\\ud83d\\ude22\"",
    "\"\\ud83d\"",
    "\"\\ude22\"",
    "\"\\u00\"",
    "\"\\x41\"",
    "\u{fffd}",
    "\u{1f622}",
    "\u{0}",
    "\u{feff}",
];

fn config() -> ProptestConfig {
    // `..default()` keeps proptest's reading of PROPTEST_CASES; `with_cases` would not.
    ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn facebook() -> Facebook {
    facebook_with(Some(SECRET), Some(VERIFY_TOKEN))
}

fn facebook_with(secret: Option<&str>, verify_token: Option<&str>) -> Facebook {
    Facebook::new(FacebookConfig {
        app_id: Some(APP_ID.into()),
        app_secret: secret.map(str::to_owned),
        verify_token: verify_token.map(str::to_owned),
    })
}

/// Parse through the trait and through `wire::parse_body`, which must agree, and ask for the
/// account hints too. A panic anywhere fails the property.
fn parse(body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
    let fb = facebook();
    let via_trait = fb.parse(body);
    assert_eq!(
        via_trait,
        parse_body(body),
        "trait and wire::parse_body disagree"
    );
    let _ = fb.account_hints(body);
    via_trait
}

/// Compact JSON as Meta sends it (non-ASCII escaped), or as plain UTF-8, or pretty-printed.
fn encode(value: &Value, style: u8) -> Vec<u8> {
    match style % 3 {
        0 => meta_escape(&value.to_string()).into_bytes(),
        1 => value.to_string().into_bytes(),
        _ => serde_json::to_vec_pretty(value).expect("a Value always serializes"),
    }
}

fn object(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    Value::Object(pairs.into_iter().collect::<Map<String, Value>>())
}

// ---- Strategies: arbitrary input -------------------------------------------------------------

/// Any string, short: arbitrary Unicode scalar values including controls and astral ones.
fn text(max: usize) -> BoxedStrategy<String> {
    prop::collection::vec(any::<char>(), 0..max)
        .prop_map(String::from_iter)
        .boxed()
}

/// Vietnamese-flavoured text: letters with every tone mark, digits, punctuation, emoji.
fn vietnamese(max: usize) -> BoxedStrategy<String> {
    let chars = prop_oneof![
        4 => select("aăâbcdđeêghiklmnoôơpqrstuưvxyàảãáạằẳẵắặầẩẫấậèẻẽéẹềểễếệìỉĩíịòỏõóọồổỗốộờởỡớợùủũúụừửữứựỳỷỹýỵĐƠƯ".chars().collect::<Vec<_>>()),
        1 => select(" ,.!?-:;/()\n\t\"'…–0123456789😢❤️".chars().collect::<Vec<_>>()),
        1 => any::<char>(),
    ];
    prop::collection::vec(chars, 0..max)
        .prop_map(String::from_iter)
        .boxed()
}

fn key() -> BoxedStrategy<String> {
    prop_oneof![
        3 => select(KEYS).prop_map(str::to_owned),
        1 => text(8),
    ]
    .boxed()
}

fn json_leaf() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        text(16).prop_map(Value::String),
        select(KEYS).prop_map(Value::from),
    ]
    .boxed()
}

/// Any JSON value, up to 4 levels deep.
fn json_value() -> BoxedStrategy<Value> {
    json_leaf()
        .prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::vec((key(), inner), 0..8).prop_map(object),
            ]
        })
        .boxed()
}

// ---- Strategies: near-valid envelopes ----------------------------------------------------------

/// An id as Meta might send it, or as a broken sender might.
fn chaos_id() -> BoxedStrategy<Value> {
    prop_oneof![
        12 => text(12).prop_map(Value::String),
        12 => any::<u64>().prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f).map(Value::Number)),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(Value::Null),
        1 => prop::collection::vec(any::<u64>().prop_map(Value::from), 0..3).prop_map(Value::Array),
        1 => Just(json!({})),
    ]
    .boxed()
}

/// A timestamp in any form: seconds, milliseconds, strings, negative, huge, float, garbage.
fn chaos_time() -> BoxedStrategy<Value> {
    prop_oneof![
        12 => (MIN_MS..MAX_MS).prop_map(Value::from),
        12 => (MIN_MS / 1000..MAX_MS / 1000).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => (i64::MIN..0).prop_map(Value::from),
        1 => any::<f64>().prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        1 => (-1.0e20..1.0e20f64).prop_filter_map("finite", |f| serde_json::Number::from_f64(f)
            .map(Value::Number)),
        1 => any::<i64>().prop_map(|n| Value::from(n.to_string())),
        1 => any::<f64>().prop_map(|f| Value::from(f.to_string())),
        1 => select(vec![
            " 1718000000 ",
            "1718000000123",
            "1e3",
            "1e400",
            "-1e400",
            "NaN",
            "inf",
            "-inf",
            "",
            "0x10",
            "yesterday",
            "1_718_000_000",
            "+1718000000",
            "-0",
            "١٧١٨",
        ])
        .prop_map(Value::from),
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        1 => Just(json!([1718000000])),
    ]
    .boxed()
}

fn chaos_party() -> BoxedStrategy<Value> {
    prop_oneof![
        20 => chaos_id().prop_map(|id| json!({ "id": id })),
        1 => Just(json!({})),
        1 => Just(Value::Null),
        1 => json_leaf(),
    ]
    .boxed()
}

/// `Some(v)` puts `key: v` in the object, `None` leaves the key out.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

fn chaos_message() -> BoxedStrategy<Value> {
    let attachment = prop_oneof![
        (
            prop::option::of(select(vec![
                "image", "video", "audio", "file", "location", "fallback", "template", "sticker"
            ])),
            prop::option::of(text(12)),
            prop::option::of(chaos_id()),
        )
            .prop_map(|(kind, url, sticker)| {
                let mut payload = Map::new();
                put(&mut payload, "url", url.map(Value::from));
                put(&mut payload, "sticker_id", sticker);
                let mut a = Map::new();
                put(&mut a, "type", kind.map(Value::from));
                a.insert("payload".into(), Value::Object(payload));
                Value::Object(a)
            }),
        json_leaf(),
    ];
    (
        prop::option::weighted(0.9, chaos_id()),
        prop::option::of(prop_oneof![3 => text(24).prop_map(Value::from), 1 => json_leaf()]),
        prop::option::of(prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            json_leaf()
        ]),
        prop::option::of(chaos_id()),
        prop::option::of(prop_oneof![
            prop::collection::vec(attachment, 0..3).prop_map(Value::Array),
            json_leaf(),
        ]),
        prop::option::of(prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            json_leaf()
        ]),
        prop::option::of(chaos_id().prop_map(|mid| json!({ "mid": mid }))),
    )
        .prop_map(
            |(mid, text, echo, app_id, attachments, deleted, reply_to)| {
                let mut m = Map::new();
                put(&mut m, "mid", mid);
                put(&mut m, "text", text);
                put(&mut m, "is_echo", echo);
                put(&mut m, "app_id", app_id);
                put(&mut m, "attachments", attachments);
                put(&mut m, "is_deleted", deleted);
                put(&mut m, "reply_to", reply_to);
                Value::Object(m)
            },
        )
        .boxed()
}

fn chaos_item() -> BoxedStrategy<Value> {
    let delivery = (
        prop::option::of(prop_oneof![
            prop::collection::vec(chaos_id(), 0..3).prop_map(Value::Array),
            json_leaf(),
        ]),
        prop::option::of(chaos_time()),
    )
        .prop_map(|(mids, watermark)| {
            let mut d = Map::new();
            put(&mut d, "mids", mids);
            put(&mut d, "watermark", watermark);
            Value::Object(d)
        });
    let read = (prop::option::of(chaos_time()), prop::option::of(chaos_id())).prop_map(
        |(watermark, mid)| {
            let mut r = Map::new();
            put(&mut r, "watermark", watermark);
            put(&mut r, "mid", mid);
            Value::Object(r)
        },
    );
    let postback = (prop::option::of(text(8)), prop::option::of(chaos_id()))
        .prop_map(|(title, mid)| json!({ "title": title, "payload": "P", "mid": mid }));
    (
        prop::option::weighted(0.9, chaos_party()),
        prop::option::weighted(0.9, chaos_party()),
        prop::option::weighted(0.9, chaos_time()),
        prop::option::of(prop_oneof![12 => chaos_message(), 1 => json_leaf()]),
        prop::option::of(prop_oneof![12 => delivery, 1 => json_leaf()]),
        prop::option::of(prop_oneof![12 => read, 1 => json_leaf()]),
        prop::option::of(prop_oneof![12 => postback, 1 => json_leaf()]),
        prop::option::of((select(IGNORED_ITEM_KEYS), json_value())),
    )
        .prop_map(
            |(sender, recipient, timestamp, message, delivery, read, postback, extra)| {
                let mut item = Map::new();
                put(&mut item, "sender", sender);
                put(&mut item, "recipient", recipient);
                put(&mut item, "timestamp", timestamp);
                put(&mut item, "message", message);
                put(&mut item, "delivery", delivery);
                put(&mut item, "read", read);
                put(&mut item, "postback", postback);
                if let Some((k, v)) = extra {
                    item.insert(k.to_owned(), v);
                }
                Value::Object(item)
            },
        )
        .boxed()
}

fn chaos_items() -> BoxedStrategy<Value> {
    prop_oneof![
        12 => prop::collection::vec(chaos_item(), 0..4).prop_map(Value::Array),
        1 => prop::collection::vec(json_value(), 0..3).prop_map(Value::Array),
        1 => json_leaf(),
    ]
    .boxed()
}

fn chaos_entry() -> BoxedStrategy<Value> {
    (
        prop::option::weighted(0.9, chaos_id()),
        prop::option::of(chaos_time()),
        prop::option::weighted(0.9, chaos_items()),
        prop::option::weighted(0.3, chaos_items()),
        prop::option::weighted(
            0.3,
            prop_oneof![
                4 => Just(json!([{"field": "feed", "value": {"item": "comment"}}])),
                1 => json_value(),
            ],
        ),
    )
        .prop_map(|(id, time, messaging, standby, changes)| {
            let mut e = Map::new();
            put(&mut e, "id", id);
            put(&mut e, "time", time);
            put(&mut e, "messaging", messaging);
            put(&mut e, "standby", standby);
            put(&mut e, "changes", changes);
            Value::Object(e)
        })
        .boxed()
}

fn chaos_envelope() -> BoxedStrategy<Value> {
    let object = prop_oneof![
        6 => Just(Some(Value::from("page"))),
        1 => Just(Some(Value::from("instagram"))),
        1 => Just(Some(Value::from("user"))),
        1 => text(8).prop_map(|s| Some(Value::from(s))),
        1 => json_leaf().prop_map(Some),
        1 => Just(None),
    ];
    let entry = prop_oneof![
        8 => prop::collection::vec(chaos_entry(), 0..4).prop_map(|e| Some(Value::Array(e))),
        1 => json_value().prop_map(Some),
        1 => Just(None),
    ];
    (object, entry)
        .prop_map(|(object, entry)| {
            let mut env = Map::new();
            put(&mut env, "object", object);
            put(&mut env, "entry", entry);
            Value::Object(env)
        })
        .boxed()
}

// ---- Strategies: valid envelopes with the events they must produce -----------------------------

/// An id as written on the wire and the string it must come out as.
#[derive(Debug, Clone)]
struct Id {
    json: Value,
    text: String,
}

/// A non-empty id: any string, or any integer (which must come out in decimal).
fn id() -> BoxedStrategy<Id> {
    prop_oneof![
        (any::<char>(), text(16)).prop_map(|(c, s)| {
            let s = format!("{c}{s}");
            Id {
                json: Value::from(s.as_str()),
                text: s,
            }
        }),
        any::<u64>().prop_map(|n| Id {
            json: Value::from(n),
            text: n.to_string()
        }),
        (1_000_000_000_000_000u64..10_000_000_000_000_000).prop_map(|n| Id {
            json: Value::from(n),
            text: n.to_string()
        }),
        any::<i64>().prop_map(|n| Id {
            json: Value::from(n),
            text: n.to_string()
        }),
    ]
    .boxed()
}

/// A timestamp as written on the wire and the epoch milliseconds it must mean.
#[derive(Debug, Clone)]
struct Ts {
    json: Value,
    millis: i64,
}

fn ts() -> BoxedStrategy<Ts> {
    (MIN_MS..MAX_MS, 0u8..7, 0u16..1000)
        .prop_map(|(ms, style, frac)| {
            let s = ms / 1000;
            match style {
                0 => Ts {
                    json: Value::from(ms),
                    millis: ms,
                },
                1 => Ts {
                    json: Value::from(s),
                    millis: s * 1000,
                },
                2 => Ts {
                    json: Value::from(ms.to_string()),
                    millis: ms,
                },
                3 => Ts {
                    json: Value::from(format!(" {s}\t")),
                    millis: s * 1000,
                },
                4 => Ts {
                    json: Value::from(s as f64 + f64::from(frac) / 1000.0),
                    millis: s * 1000,
                },
                5 => Ts {
                    json: Value::from(ms as f64),
                    millis: ms,
                },
                _ => Ts {
                    json: Value::from(format!("{s}.{frac:03}")),
                    millis: s * 1000,
                },
            }
        })
        .boxed()
}

/// What one valid messaging item is.
#[derive(Debug, Clone)]
enum Kind {
    Message {
        mid: Id,
        text: Option<String>,
        /// `None`: no `is_echo` key; `Some(false)` written explicitly.
        echo: Option<bool>,
        app_id: Option<Id>,
        /// `None`: no `is_deleted` key.
        deleted: Option<bool>,
        attachments: Vec<(Option<String>, Option<String>)>,
        reply_to: Option<Id>,
    },
    Delivery {
        mids: Option<Vec<Id>>,
        watermark: Option<Ts>,
    },
    Read {
        watermark: Option<Ts>,
        mid: Option<Id>,
    },
    Postback {
        title: String,
        mid: Id,
    },
    Reaction {
        mid: Id,
    },
    Edit {
        mid: Id,
        text: String,
    },
    /// Only an ignored key (optin, referral, …).
    Ignored,
}

#[derive(Debug, Clone)]
struct Item {
    sender: Id,
    recipient: Id,
    timestamp: Option<Ts>,
    kind: Kind,
    extra: Option<(&'static str, Value)>,
}

#[derive(Debug, Clone)]
struct Entry {
    id: Id,
    time: Option<Ts>,
    /// `None`: no `messaging` key; `Some(None)`: `"messaging": null`.
    messaging: Option<Option<Vec<Item>>>,
    standby: Option<Vec<Item>>,
}

/// An event reduced to what the model predicts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Want {
    Message {
        echo: bool,
        account: String,
        contact: String,
        mid: String,
        millis: i64,
        text: Option<String>,
        attachments: Vec<(String, Option<String>)>,
        reply_to: Option<String>,
        app_id: Option<String>,
    },
    Receipt {
        account: String,
        contact: String,
        mids: Vec<String>,
        watermark: Option<i64>,
        state: DeliveryState,
    },
}

fn want(event: &NormalizedEvent) -> Want {
    match event {
        NormalizedEvent::MessageReceived(m) | NormalizedEvent::MessageEcho(m) => Want::Message {
            echo: matches!(event, NormalizedEvent::MessageEcho(_)),
            account: m.account_external_id.clone(),
            contact: m.contact.external_id.clone(),
            mid: m.external_message_id.clone(),
            millis: m.sent_at.timestamp_millis(),
            text: m.text.clone(),
            attachments: m
                .attachments
                .iter()
                .map(|a| (a.kind.clone(), a.url.clone()))
                .collect(),
            reply_to: m.reply_to.clone(),
            app_id: m.app_id.clone(),
        },
        NormalizedEvent::DeliveryStatus(d) => Want::Receipt {
            account: d.account_external_id.clone(),
            contact: d.contact_external_id.clone(),
            mids: d.external_message_ids.clone(),
            watermark: d.watermark.map(|w| w.timestamp_millis()),
            state: d.state,
        },
        other => panic!("unexpected event kind {other:?}"),
    }
}

fn kind() -> BoxedStrategy<Kind> {
    let message = (
        id(),
        prop::option::of(vietnamese(40)),
        prop::option::of(any::<bool>()),
        prop::option::of(id()),
        prop_oneof![4 => Just(None), 1 => Just(Some(false)), 1 => Just(Some(true))],
        prop::collection::vec(
            (
                prop::option::of(
                    select(vec!["image", "video", "file", "location", "fallback"])
                        .prop_map(str::to_owned),
                ),
                prop::option::of(text(16)),
            ),
            0..3,
        ),
        prop::option::of(id()),
    )
        .prop_map(
            |(mid, text, echo, app_id, deleted, attachments, reply_to)| Kind::Message {
                mid,
                text,
                echo,
                app_id,
                deleted,
                attachments,
                reply_to,
            },
        );
    prop_oneof![
        6 => message,
        2 => (prop::option::of(prop::collection::vec(id(), 0..3)), prop::option::of(ts()))
            .prop_map(|(mids, watermark)| Kind::Delivery { mids, watermark }),
        2 => (prop::option::of(ts()), prop::option::of(id()))
            .prop_map(|(watermark, mid)| Kind::Read { watermark, mid }),
        1 => (text(12), id()).prop_map(|(title, mid)| Kind::Postback { title, mid }),
        1 => id().prop_map(|mid| Kind::Reaction { mid }),
        1 => (vietnamese(12), id()).prop_map(|(text, mid)| Kind::Edit { mid, text }),
        1 => Just(Kind::Ignored),
    ]
    .boxed()
}

fn item() -> BoxedStrategy<Item> {
    (
        id(),
        id(),
        prop::option::of(ts()),
        kind(),
        prop::option::of((select(IGNORED_ITEM_KEYS), json_value())),
    )
        .prop_map(|(sender, recipient, timestamp, kind, extra)| Item {
            sender,
            recipient,
            timestamp,
            kind,
            extra,
        })
        .boxed()
}

fn entry() -> BoxedStrategy<Entry> {
    (
        id(),
        prop::option::of(ts()),
        ts(),
        prop_oneof![
            6 => prop::collection::vec(item(), 0..6).prop_map(|v| Some(Some(v))),
            1 => Just(Some(None)),
            1 => Just(None),
        ],
        prop::option::of(prop::collection::vec(item(), 0..3)),
    )
        .prop_map(|(id, time, fallback, messaging, standby)| {
            let mut entry = Entry {
                id,
                time,
                messaging,
                standby,
            };
            // A message needs its own timestamp or the entry's time.
            if entry.time.is_none() {
                let messaging = entry.messaging.iter_mut().flatten().flatten();
                for item in messaging.chain(entry.standby.iter_mut().flatten()) {
                    if item.timestamp.is_none() && matches!(item.kind, Kind::Message { .. }) {
                        item.timestamp = Some(fallback.clone());
                    }
                }
            }
            entry
        })
        .boxed()
}

fn id_json(id: &Id) -> Value {
    json!({ "id": id.json })
}

impl Item {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("sender".into(), id_json(&self.sender));
        m.insert("recipient".into(), id_json(&self.recipient));
        put(
            &mut m,
            "timestamp",
            self.timestamp.as_ref().map(|t| t.json.clone()),
        );
        match &self.kind {
            Kind::Message {
                mid,
                text,
                echo,
                app_id,
                deleted,
                attachments,
                reply_to,
            } => {
                let mut msg = Map::new();
                msg.insert("mid".into(), mid.json.clone());
                put(&mut msg, "text", text.clone().map(Value::from));
                put(&mut msg, "is_echo", echo.map(Value::from));
                put(&mut msg, "app_id", app_id.as_ref().map(|a| a.json.clone()));
                put(&mut msg, "is_deleted", deleted.map(Value::from));
                if !attachments.is_empty() {
                    let list = attachments
                        .iter()
                        .map(|(kind, url)| json!({ "type": kind, "payload": { "url": url } }))
                        .collect();
                    msg.insert("attachments".into(), Value::Array(list));
                }
                put(
                    &mut msg,
                    "reply_to",
                    reply_to.as_ref().map(|r| json!({ "mid": r.json })),
                );
                m.insert("message".into(), Value::Object(msg));
            }
            Kind::Delivery { mids, watermark } => {
                let mut d = Map::new();
                put(
                    &mut d,
                    "mids",
                    mids.as_ref()
                        .map(|ids| ids.iter().map(|i| i.json.clone()).collect()),
                );
                put(
                    &mut d,
                    "watermark",
                    watermark.as_ref().map(|w| w.json.clone()),
                );
                m.insert("delivery".into(), Value::Object(d));
            }
            Kind::Read { watermark, mid } => {
                let mut r = Map::new();
                put(
                    &mut r,
                    "watermark",
                    watermark.as_ref().map(|w| w.json.clone()),
                );
                put(&mut r, "mid", mid.as_ref().map(|i| i.json.clone()));
                m.insert("read".into(), Value::Object(r));
            }
            Kind::Postback { title, mid } => {
                m.insert(
                    "postback".into(),
                    json!({ "title": title, "payload": "GET_STARTED", "mid": mid.json }),
                );
            }
            Kind::Reaction { mid } => {
                m.insert(
                    "reaction".into(),
                    json!({ "mid": mid.json, "action": "react", "emoji": "\u{2764}", "reaction": "love" }),
                );
            }
            Kind::Edit { mid, text } => {
                m.insert(
                    "message_edit".into(),
                    json!({ "mid": mid.json, "text": text }),
                );
            }
            Kind::Ignored => {}
        }
        if let Some((k, v)) = &self.extra {
            m.insert((*k).to_owned(), v.clone());
        }
        Value::Object(m)
    }

    fn want(&self, account: &str, entry_time: Option<i64>) -> Option<Want> {
        match &self.kind {
            Kind::Message {
                deleted: Some(true),
                ..
            } => None,
            Kind::Message {
                mid,
                text,
                echo,
                app_id,
                attachments,
                reply_to,
                ..
            } => {
                let echo = *echo == Some(true);
                let contact = if echo { &self.recipient } else { &self.sender };
                Some(Want::Message {
                    echo,
                    account: account.to_owned(),
                    contact: contact.text.clone(),
                    mid: mid.text.clone(),
                    millis: self
                        .timestamp
                        .as_ref()
                        .map(|t| t.millis)
                        .or(entry_time)
                        .expect("the generator gives every message a time"),
                    text: text.clone(),
                    attachments: attachments
                        .iter()
                        .map(|(kind, url)| {
                            (
                                kind.clone().unwrap_or_else(|| "unknown".into()),
                                url.clone(),
                            )
                        })
                        .collect(),
                    reply_to: reply_to.as_ref().map(|r| r.text.clone()),
                    app_id: app_id.as_ref().map(|a| a.text.clone()),
                })
            }
            Kind::Delivery { mids, watermark } => Some(Want::Receipt {
                account: account.to_owned(),
                contact: self.sender.text.clone(),
                mids: mids.iter().flatten().map(|i| i.text.clone()).collect(),
                watermark: watermark.as_ref().map(|w| w.millis),
                state: DeliveryState::Delivered,
            }),
            Kind::Read { watermark, mid } => Some(Want::Receipt {
                account: account.to_owned(),
                contact: self.sender.text.clone(),
                mids: mid.iter().map(|i| i.text.clone()).collect(),
                watermark: watermark.as_ref().map(|w| w.millis),
                state: DeliveryState::Read,
            }),
            Kind::Postback { .. } | Kind::Reaction { .. } | Kind::Edit { .. } | Kind::Ignored => {
                None
            }
        }
    }

    /// Whether the item counts as an event: a non-deleted message, a delivery or a read.
    fn counts(&self) -> bool {
        match &self.kind {
            Kind::Message { deleted, .. } => *deleted != Some(true),
            Kind::Delivery { .. } | Kind::Read { .. } => true,
            _ => false,
        }
    }
}

impl Entry {
    fn items(&self) -> impl Iterator<Item = &Item> {
        self.messaging
            .iter()
            .flatten()
            .flatten()
            .chain(self.standby.iter().flatten())
    }

    fn to_json(&self) -> Value {
        let mut e = Map::new();
        e.insert("id".into(), self.id.json.clone());
        put(&mut e, "time", self.time.as_ref().map(|t| t.json.clone()));
        match &self.messaging {
            Some(Some(items)) => {
                e.insert(
                    "messaging".into(),
                    items.iter().map(Item::to_json).collect(),
                );
            }
            Some(None) => {
                e.insert("messaging".into(), Value::Null);
            }
            None => {}
        }
        put(
            &mut e,
            "standby",
            self.standby
                .as_ref()
                .map(|s| s.iter().map(Item::to_json).collect()),
        );
        Value::Object(e)
    }
}

fn envelope_json(entries: &[Entry]) -> Value {
    json!({ "object": "page", "entry": entries.iter().map(Entry::to_json).collect::<Vec<_>>() })
}

/// A valid text body in Meta's form, built by hand (the `sandbox` builder's shape).
fn text_body(page: &str, psid: &str, mid: &str, text: &str, millis: i64, escaped: bool) -> Vec<u8> {
    let value = json!({
        "object": "page",
        "entry": [{
            "id": page,
            "time": millis,
            "messaging": [{
                "sender": { "id": psid },
                "recipient": { "id": page },
                "timestamp": millis,
                "message": { "mid": mid, "text": text },
            }],
        }],
    });
    encode(&value, if escaped { 0 } else { 1 })
}

// ---- Signatures -----------------------------------------------------------------------------

fn sha256_header(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn sha1_header(secret: &str, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(body);
    format!("sha1={}", hex::encode(mac.finalize().into_bytes()))
}

/// How a header value is spoiled (or, for `Case` and `Pad`, kept correct).
#[derive(Debug, Clone)]
enum Spoil {
    /// Arbitrary bytes instead of the signature.
    Bytes(Vec<u8>),
    /// An arbitrary string (non-ASCII is common).
    Text(String),
    /// The right hex with another prefix.
    Prefix(String),
    /// One hex digit replaced.
    Digit(usize, char),
    /// Cut to this many characters (odd lengths included).
    Cut(usize),
    /// Something appended.
    Append(String),
    /// Bytes spliced in at a position (non-ASCII, controls, …).
    Splice(usize, Vec<u8>),
    /// Random upper/lower case of prefix and hex: still correct.
    Case(Vec<bool>),
    /// Spaces and tabs around the value: still correct.
    Pad(String, String),
}

fn spoil() -> BoxedStrategy<Spoil> {
    let blank = || prop::collection::vec(select(vec![' ', '\t']), 0..3).prop_map(String::from_iter);
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..80).prop_map(Spoil::Bytes),
        text(70).prop_map(Spoil::Text),
        prop_oneof![
            select(vec![
                "",
                "sha256",
                "sha256:",
                "sha256 =",
                "sha1=",
                "sha512=",
                "=",
                "md5=",
                "sha256==",
                " sha256=x",
                "sha256=0x"
            ])
            .prop_map(str::to_owned),
            text(8),
        ]
        .prop_map(Spoil::Prefix),
        (
            any::<usize>(),
            prop_oneof![
                select("0123456789abcdefABCDEF".chars().collect::<Vec<_>>()),
                any::<char>()
            ]
        )
            .prop_map(|(i, c)| Spoil::Digit(i, c)),
        any::<usize>().prop_map(Spoil::Cut),
        prop_oneof![
            select(vec!["0", "00", "f", " 0", ",sha256=00"]).prop_map(str::to_owned),
            text(4)
        ]
        .prop_map(Spoil::Append),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..4))
            .prop_map(|(i, b)| Spoil::Splice(i, b)),
        prop::collection::vec(any::<bool>(), 72).prop_map(Spoil::Case),
        (blank(), blank()).prop_map(|(a, b)| Spoil::Pad(a, b)),
    ]
    .boxed()
}

fn apply(correct: &str, spoil: &Spoil) -> Vec<u8> {
    let (prefix, hex) = correct.split_once('=').expect("prefix=hex");
    match spoil {
        Spoil::Bytes(b) => b.clone(),
        Spoil::Text(t) => t.clone().into_bytes(),
        Spoil::Prefix(p) => format!("{p}{hex}").into_bytes(),
        Spoil::Digit(i, c) => {
            let mut chars: Vec<char> = correct.chars().collect();
            let at = prefix.len() + 1 + i % hex.len();
            chars[at] = *c;
            String::from_iter(chars).into_bytes()
        }
        Spoil::Cut(n) => correct.as_bytes()[..n % correct.len()].to_vec(),
        Spoil::Append(s) => format!("{correct}{s}").into_bytes(),
        Spoil::Splice(i, b) => {
            let mut v = correct.as_bytes().to_vec();
            let at = i % (v.len() + 1);
            v.splice(at..at, b.iter().copied());
            v
        }
        Spoil::Case(flags) => correct
            .chars()
            .zip(flags.iter().cycle())
            .map(|(c, up)| if *up { c.to_ascii_uppercase() } else { c })
            .collect::<String>()
            .into_bytes(),
        Spoil::Pad(a, b) => format!("{a}{correct}{b}").into_bytes(),
    }
}

/// The spec of the check: a value is accepted exactly when it is, up to surrounding blanks and
/// ASCII case, the signature Meta would send.
fn is_correct(value: &HeaderValue, correct: &str) -> bool {
    value
        .to_str()
        .is_ok_and(|v| v.trim_matches([' ', '\t']).eq_ignore_ascii_case(correct))
}

fn verify(fb: &Facebook, headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    fb.verify(&InboundRequest {
        method: &Method::POST,
        headers,
        query: None,
        body,
    })
}

fn headers(pairs: &[(&str, HeaderValue)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (name, value) in pairs {
        let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
        h.insert(name, value.clone());
    }
    h
}

fn secret() -> BoxedStrategy<String> {
    prop_oneof![
        Just(SECRET.to_owned()),
        (any::<char>(), text(40)).prop_map(|(c, s)| format!("{c}{s}"))
    ]
    .boxed()
}

fn body_bytes() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..256),
        vietnamese(60).prop_map(|t| text_body(
            "105123456789012",
            "6789012345678901",
            "m_1",
            &t,
            1_718_000_000_000,
            true
        )),
    ]
    .boxed()
}

// ---- Handshake --------------------------------------------------------------------------------

fn method() -> BoxedStrategy<Method> {
    prop_oneof![
        4 => Just(Method::GET),
        1 => select(vec![Method::POST, Method::HEAD, Method::PUT, Method::DELETE, Method::OPTIONS]),
    ]
    .boxed()
}

/// What the handshake must answer, from the decoded query (last value of a repeated key wins).
fn expected_handshake(
    method: &Method,
    query: Option<&str>,
    verify_token: Option<&str>,
) -> Option<Result<String, ()>> {
    if method != Method::GET {
        return None;
    }
    let (mut mode, mut token, mut challenge) = (None, None, None);
    for (k, v) in url::form_urlencoded::parse(query?.as_bytes()) {
        match &*k {
            "hub.mode" => mode = Some(v.into_owned()),
            "hub.verify_token" => token = Some(v.into_owned()),
            "hub.challenge" => challenge = Some(v.into_owned()),
            _ => {}
        }
    }
    if mode.is_none() && token.is_none() && challenge.is_none() {
        return None;
    }
    let ok = mode.as_deref() == Some("subscribe")
        && verify_token.is_some_and(|t| !t.is_empty() && token.as_deref() == Some(t));
    Some(match (ok, challenge) {
        (true, Some(c)) => Ok(c),
        _ => Err(()),
    })
}

fn query_soup() -> BoxedStrategy<String> {
    let piece = prop_oneof![
        4 => select(vec![
            "hub.mode", "hub.verify_token", "hub.challenge", "=", "&", ";", "subscribe", "unsubscribe",
            VERIFY_TOKEN, "verify%2Dme", "%", "%2", "%zz", "%FF", "%C3%A1", "+", "?", "#", "hub.mode=subscribe",
            "hub%2Emode", "1158201444", "",
        ])
        .prop_map(str::to_owned),
        1 => text(6),
    ];
    prop::collection::vec(piece, 0..12)
        .prop_map(|v| v.concat())
        .boxed()
}

// ---- Damage: one field of a valid envelope replaced or removed --------------------------------

#[derive(Debug, Clone)]
enum Damage {
    Replace(Value),
    Remove,
}

fn damage() -> BoxedStrategy<Damage> {
    prop_oneof![
        2 => chaos_time().prop_map(Damage::Replace),
        2 => chaos_id().prop_map(Damage::Replace),
        1 => json_value().prop_map(Damage::Replace),
        2 => Just(Damage::Remove),
    ]
    .boxed()
}

/// Every JSON pointer inside `value`, the root excluded, parents before children.
fn pointers(value: &Value, at: &str, out: &mut Vec<String>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v))
            .collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (segment, child) in children {
        let path = format!("{at}/{segment}");
        out.push(path.clone());
        pointers(child, &path, out);
    }
}

fn apply_damage(env: &mut Value, pick: usize, damage: &Damage) {
    let mut all = Vec::new();
    pointers(env, "", &mut all);
    if all.is_empty() {
        return;
    }
    let path = &all[pick % all.len()];
    match damage {
        Damage::Replace(v) => {
            if let Some(slot) = env.pointer_mut(path) {
                *slot = v.clone();
            }
        }
        Damage::Remove => {
            let (parent, last) = path.rsplit_once('/').expect("pointers start with '/'");
            match env.pointer_mut(parent) {
                Some(Value::Object(m)) => {
                    m.remove(&last.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = last.parse::<usize>() {
                        a.remove(i);
                    }
                }
                _ => {}
            }
        }
    }
}

/// What holds for any parse result: other objects give no events, a body without a string
/// `object` is refused, and every event comes from one messaging or standby item of an entry
/// whose id it carries.
fn check_result(
    env: &Value,
    result: &Result<Vec<NormalizedEvent>, ParseError>,
) -> Result<(), TestCaseError> {
    match env.get("object") {
        Some(Value::String(o)) if o != "page" => prop_assert_eq!(result, &Ok(vec![])),
        Some(Value::String(_)) => {}
        _ => prop_assert!(result.is_err(), "no string object, yet {:?}", result),
    }
    let Ok(events) = result else {
        return Ok(());
    };
    let entries = env["entry"].as_array().cloned().unwrap_or_default();
    let items: usize = entries
        .iter()
        .flat_map(|e| {
            ["messaging", "standby"].map(|k| e.get(k).and_then(Value::as_array).map_or(0, Vec::len))
        })
        .sum();
    prop_assert!(
        events.len() <= items,
        "{} events from {} items",
        events.len(),
        items
    );
    let ids: Vec<String> = entries
        .iter()
        .filter_map(|e| match e.get("id")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    for event in events {
        prop_assert!(
            ids.iter().any(|id| id == event.account_external_id()),
            "{:?} not in {:?}",
            event,
            ids
        );
    }
    Ok(())
}

// ---- Properties -------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop_oneof![
        prop::collection::vec(any::<u8>(), 0..512),
        prop::collection::vec(select(TOKENS), 0..64).prop_map(|t| t.concat().into_bytes()),
    ]) {
        let _ = parse(&body);
    }

    #[test]
    fn arbitrary_json_never_panics(value in json_value(), wrap in 0u8..3, style in 0u8..3) {
        // Wrapped, the value reaches the entry and the messaging-item parsers too.
        let value = match wrap {
            0 => value,
            1 => json!({ "object": "page", "entry": [value] }),
            _ => json!({ "object": "page", "entry": [{ "id": "1", "time": 1, "messaging": [value] }] }),
        };
        let body = encode(&value, style);
        let result = parse(&body);
        if let (Ok(events), 2) = (&result, wrap) {
            prop_assert!(events.len() <= 1, "{} events from one item", events.len());
        }
    }

    #[test]
    fn near_valid_envelopes_never_panic(env in chaos_envelope(), style in 0u8..3) {
        let result = parse(&encode(&env, style));
        check_result(&env, &result)?;
    }

    #[test]
    fn valid_envelopes_with_damaged_fields_never_panic(
        entries in prop::collection::vec(entry(), 1..4),
        damage in prop::collection::vec((any::<usize>(), damage()), 1..4),
        style in 0u8..3,
    ) {
        let mut env = envelope_json(&entries);
        for (pick, d) in &damage {
            apply_damage(&mut env, *pick, d);
        }
        let result = parse(&encode(&env, style));
        check_result(&env, &result)?;
    }

    #[test]
    fn valid_envelopes_give_one_event_per_message_delivery_and_read(
        entries in prop::collection::vec(entry(), 0..4),
        style in 0u8..3,
    ) {
        let body = encode(&envelope_json(&entries), style);
        let events = parse(&body);
        prop_assert!(events.is_ok(), "valid body refused: {:?}", events);
        let events = events.unwrap_or_default();

        let counted = entries.iter().flat_map(Entry::items).filter(|i| i.counts()).count();
        prop_assert_eq!(events.len(), counted);
        let expected: Vec<Want> = entries
            .iter()
            .flat_map(|e| {
                let time = e.time.as_ref().map(|t| t.millis);
                e.items().filter_map(move |i| i.want(&e.id.text, time))
            })
            .collect();
        let got: Vec<Want> = events.iter().map(want).collect();
        prop_assert_eq!(got, expected);

        // Hints: entry ids in order, numbers in decimal, each once.
        let mut hints: Vec<String> = Vec::new();
        for e in &entries {
            if !hints.contains(&e.id.text) {
                hints.push(e.id.text.clone());
            }
        }
        prop_assert_eq!(facebook().account_hints(&body), hints);
    }

    #[test]
    fn every_prefix_of_a_valid_body_is_refused_and_the_whole_body_is_one_event(
        page in id(),
        psid in id(),
        mid in id(),
        text in vietnamese(24),
        millis in MIN_MS..MAX_MS,
        escaped in any::<bool>(),
    ) {
        let body = text_body(&page.text, &psid.text, &mid.text, &text, millis, escaped);
        for n in 0..body.len() {
            // A strict prefix of one JSON object is never a complete JSON document.
            prop_assert!(parse(&body[..n]).is_err(), "prefix of {} bytes accepted", n);
        }
        let events = parse(&body);
        prop_assert!(events.is_ok(), "{:?}", events);
        let events = events.unwrap_or_default();
        prop_assert_eq!(events.len(), 1);
        let NormalizedEvent::MessageReceived(m) = &events[0] else {
            return Err(TestCaseError::fail(format!("expected a message, got {:?}", events[0])));
        };
        prop_assert_eq!(&m.account_external_id, &page.text);
        prop_assert_eq!(&m.contact.external_id, &psid.text);
        prop_assert_eq!(&m.external_message_id, &mid.text);
        prop_assert_eq!(m.text.as_deref(), Some(text.as_str()));
        prop_assert_eq!(m.sent_at.timestamp_millis(), millis);
    }

    #[test]
    fn edited_bytes_of_a_valid_body_never_panic(
        text in vietnamese(24),
        escaped in any::<bool>(),
        edits in prop::collection::vec((any::<usize>(), 0u8..3, any::<u8>()), 1..6),
    ) {
        let mut body = text_body("105123456789012", "6789012345678901", "m_1", &text, 1_718_000_000_000, escaped);
        for (at, op, byte) in edits {
            let at = at % (body.len() + 1);
            match op {
                0 if at < body.len() => { body.remove(at); }
                1 if at < body.len() => body[at] = byte,
                _ => body.insert(at, byte),
            }
        }
        let _ = parse(&body);
    }

    #[test]
    fn a_spoiled_signature_is_refused_unless_it_is_still_the_right_one(
        secret in secret(),
        body in body_bytes(),
        spoil in spoil(),
        legacy in any::<bool>(),
    ) {
        let fb = facebook_with(Some(&secret), None);
        let (header, correct) = if legacy {
            (LEGACY_SIGNATURE_HEADER, sha1_header(&secret, &body))
        } else {
            (SIGNATURE_HEADER, sha256_header(&secret, &body))
        };
        let raw = apply(&correct, &spoil);
        // Bytes no HTTP stack would deliver as a header value cannot reach `verify`.
        let Ok(value) = HeaderValue::from_bytes(&raw) else { return Ok(()) };
        let result = verify(&fb, &headers(&[(header, value.clone())]), &body);
        if is_correct(&value, &correct) {
            prop_assert_eq!(result, Ok(()));
        } else {
            prop_assert!(
                matches!(result, Err(VerifyError::BadSignature | VerifyError::MalformedSignature(_))),
                "{:?} → {:?}", value, result
            );
        }
    }

    #[test]
    fn the_right_signature_of_any_body_verifies(
        secret in secret(),
        body in prop::collection::vec(any::<u8>(), 0..1024),
        other in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        let fb = facebook_with(Some(&secret), None);
        let sig256 = HeaderValue::from_str(&sha256_header(&secret, &body)).expect("ASCII");
        let sig1 = HeaderValue::from_str(&sha1_header(&secret, &body)).expect("ASCII");
        prop_assert_eq!(verify(&fb, &headers(&[(SIGNATURE_HEADER, sig256.clone())]), &body), Ok(()));
        prop_assert_eq!(verify(&fb, &headers(&[(LEGACY_SIGNATURE_HEADER, sig1.clone())]), &body), Ok(()));
        prop_assert_eq!(
            verify(&fb, &headers(&[(SIGNATURE_HEADER, sig256.clone()), (LEGACY_SIGNATURE_HEADER, sig1.clone())]), &body),
            Ok(())
        );
        // The same signature over other bytes, or with another secret, is refused.
        if other != body {
            prop_assert_eq!(verify(&fb, &headers(&[(SIGNATURE_HEADER, sig256.clone())]), &other), Err(VerifyError::BadSignature));
            prop_assert_eq!(verify(&fb, &headers(&[(LEGACY_SIGNATURE_HEADER, sig1.clone())]), &other), Err(VerifyError::BadSignature));
        }
        let stranger = facebook_with(Some(&format!("{secret}x")), None);
        prop_assert_eq!(verify(&stranger, &headers(&[(SIGNATURE_HEADER, sig256)]), &body), Err(VerifyError::BadSignature));
        // No signature at all, or no secret configured, is never Ok.
        prop_assert_eq!(verify(&fb, &HeaderMap::new(), &body), Err(VerifyError::MissingSignature(SIGNATURE_HEADER)));
        let unconfigured = facebook_with(None, None);
        prop_assert!(verify(&unconfigured, &headers(&[(LEGACY_SIGNATURE_HEADER, sig1)]), &body).is_err());
    }

    #[test]
    fn a_wrong_sha256_signature_is_not_rescued_by_a_right_legacy_one(
        body in body_bytes(),
        spoil in spoil(),
    ) {
        let fb = facebook();
        let correct = sha256_header(SECRET, &body);
        let Ok(value) = HeaderValue::from_bytes(&apply(&correct, &spoil)) else { return Ok(()) };
        let legacy = HeaderValue::from_str(&sha1_header(SECRET, &body)).expect("ASCII");
        let result = verify(&fb, &headers(&[(SIGNATURE_HEADER, value.clone()), (LEGACY_SIGNATURE_HEADER, legacy)]), &body);
        prop_assert_eq!(result.is_ok(), is_correct(&value, &correct), "{:?} → {:?}", value, result);
    }

    #[test]
    fn handshake_never_panics_and_answers_only_the_right_token(
        method in method(),
        query in prop::option::of(prop_oneof![text(40), query_soup()]),
        verify_token in prop::option::of(prop_oneof![Just(VERIFY_TOKEN.to_owned()), Just(String::new()), text(8)]),
    ) {
        let fb = facebook_with(Some(SECRET), verify_token.as_deref());
        let got = fb.handshake(&InboundRequest {
            method: &method,
            headers: &HeaderMap::new(),
            query: query.as_deref(),
            body: b"",
        });
        let want = expected_handshake(&method, query.as_deref(), verify_token.as_deref());
        match (&got, &want) {
            (None, None) => {}
            (Some(Ok(reply)), Some(Ok(challenge))) => {
                prop_assert_eq!(reply.status, 200);
                prop_assert_eq!(&reply.body, challenge);
            }
            (Some(Err(e)), Some(Err(()))) => prop_assert_eq!(e, &VerifyError::BadVerifyToken),
            _ => return Err(TestCaseError::fail(format!("{method} {query:?}: got {got:?}, want {want:?}"))),
        }
    }

    #[test]
    fn handshake_echoes_any_challenge_for_the_right_token(
        mode in prop_oneof![3 => Just("subscribe".to_owned()), 1 => text(10)],
        token in prop_oneof![3 => Just(VERIFY_TOKEN.to_owned()), 1 => text(10)],
        challenge in prop::option::of(text(40)),
        noise in prop::collection::vec((text(6), text(6)), 0..3),
    ) {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &noise {
            q.append_pair(k, v);
        }
        q.append_pair("hub.mode", &mode);
        if let Some(c) = &challenge {
            q.append_pair("hub.challenge", c);
        }
        q.append_pair("hub.verify_token", &token);
        let query = q.finish();
        let got = facebook().handshake(&InboundRequest {
            method: &Method::GET,
            headers: &HeaderMap::new(),
            query: Some(&query),
            body: b"",
        });
        // Noise keys that happen to be hub.* are overridden: ours come last.
        let right = mode == "subscribe" && token == VERIFY_TOKEN;
        match (right, &challenge) {
            (true, Some(c)) => {
                let reply = got.and_then(Result::ok);
                prop_assert_eq!(reply.map(|r| r.body), Some(c.clone()));
            }
            _ => prop_assert_eq!(got, Some(Err(VerifyError::BadVerifyToken))),
        }
    }
}

// ---- Oversized and pathological bodies (deterministic) ------------------------------------------

#[test]
fn ten_thousand_items_and_a_one_mib_text_parse_without_panic() {
    const ITEMS: usize = 10_000;
    let unit = "Shop ơi, áo này còn size M không? 😢 ";
    let mut big = unit.repeat((1 << 20) / unit.len() + 1);
    let mut cut = 1 << 20;
    while !big.is_char_boundary(cut) {
        cut -= 1;
    }
    big.truncate(cut);
    let items: Vec<Value> = (0..ITEMS)
        .map(|i| {
            let text = if i == 0 { big.as_str() } else { "ok" };
            match i % 4 {
                0 | 1 => json!({
                    "sender": { "id": "6789012345678901" },
                    "recipient": { "id": "105123456789012" },
                    "timestamp": 1_718_000_000_000_i64 + i as i64,
                    "message": { "mid": format!("m_{i}"), "text": text },
                }),
                2 => json!({
                    "sender": { "id": 6_789_012_345_678_901_u64 },
                    "delivery": { "mids": [format!("m_{}", i - 1)], "watermark": 1_718_000_000 },
                }),
                _ => json!({ "sender": { "id": "1" }, "postback": { "title": "Mua", "payload": "BUY" } }),
            }
        })
        .collect();
    let value = json!({
        "object": "page",
        "entry": [{ "id": 105_123_456_789_012_u64, "time": 1_718_000_000_000_i64, "messaging": items }],
    });
    for style in [0, 1] {
        let body = encode(&value, style);
        assert!(body.len() > 1 << 20);
        let events = parse(&body).expect("big body parses");
        assert_eq!(events.len(), ITEMS / 4 * 3);
        let NormalizedEvent::MessageReceived(first) = &events[0] else {
            panic!("expected a message first, got {:?}", events[0]);
        };
        assert_eq!(first.text.as_deref(), Some(big.as_str()));
        assert_eq!(first.account_external_id, "105123456789012");
    }
}

#[test]
fn deep_nesting_and_huge_garbage_are_errors_not_crashes() {
    for depth in [200, 100_000] {
        let nested = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(parse(nested.as_bytes()).is_err());
        let inside = format!(
            r#"{{"object":"page","entry":[{{"id":"1","time":1,"messaging":[{}1{}]}}]}}"#,
            r#"{"message":"#.repeat(depth),
            "}".repeat(depth)
        );
        assert!(parse(inside.as_bytes()).is_err());
    }
    let garbage: Vec<u8> = (0..(1 << 20))
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    assert!(parse(&garbage).is_err());
    let long_string = format!(
        r#"{{"object":"page","entry":[{{"id":"{}"}}]}}"#,
        "9".repeat(1 << 20)
    );
    assert_eq!(parse(long_string.as_bytes()), Ok(vec![]));
}
