//! Property tests of the Meta webhook surface against bad input: the body parser
//! (`WebhookInbound::parse`, `wire::parse_body`, `account_hints`) for Facebook Page and
//! Instagram bodies — messaging and standby items of every kind, Page `feed` comments in both
//! author shapes, Instagram comments and mentions, messaging items under `changes` — the
//! signature check and the subscription handshake. Nothing here may panic, whatever the bytes;
//! every outcome is events or a `ParseError`; valid bodies must give exactly the events the
//! model below predicts.
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
//! took 31 minutes on the 2-core dev machine, 19 of them in the every-prefix property (before
//! the Instagram, feed and reaction generators were added).
//!
//! Failures are not persisted to `proptest-regressions/`: a failing case is printed with its
//! minimal input, to be turned into a plain test.

use chrono::{DateTime, Utc};
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
    Attachment, CommentAction, CommentEvent, ContactRef, DeliveryReceipt, DeliveryState,
    IgnoredEvent, InboundMessage, InboundRequest, Mention, MessageDeletion, MessageEdit,
    MessageReaction, NormalizedEvent, ParseError, PostRef, Referral, ReferralEvent, VerifyError,
    WebhookInbound,
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
    "referral",
    "reaction",
    "message_edit",
    "mid",
    "mids",
    "watermark",
    "text",
    "is_echo",
    "is_deleted",
    "is_unsupported",
    "app_id",
    "metadata",
    "attachments",
    "type",
    "payload",
    "url",
    "title",
    "sticker_id",
    "coordinates",
    "reply_to",
    "story",
    "quick_reply",
    "ref",
    "source",
    "ad_id",
    "ads_context_data",
    "action",
    "emoji",
    "num_edit",
    "item",
    "verb",
    "post_id",
    "comment_id",
    "parent_id",
    "from",
    "name",
    "username",
    "sender_id",
    "sender_name",
    "created_time",
    "photo",
    "video",
    "post",
    "permalink_url",
    "status_type",
    "media",
    "media_id",
    "media_product_type",
];

/// Messaging-item keys the parser does not act on: any value under them gives an `Ignored`
/// event naming the key, and beside a handled key changes nothing.
const IGNORED_ITEM_KEYS: &[&str] = &[
    "optin",
    "account_linking",
    "pass_thread_control",
    "take_thread_control",
    "request_thread_control",
    "app_roles",
    "policy_enforcement",
    "game_play",
    "payment",
    "checkout_update",
    "pre_checkout",
    "message_request",
    "messaging_handovers",
    "x_tongdai_fuzz",
];

/// Fields under `changes` that carry one messaging item in `value`.
const MESSAGING_FIELDS: &[&str] = &[
    "messages",
    "message_echoes",
    "message_reactions",
    "message_edits",
    "message_deliveries",
    "messaging_postbacks",
    "messaging_seen",
    "messaging_referral",
    "messaging_optins",
    "standby",
];

/// Fields under `changes` that are ignored whatever their value.
const IGNORED_FIELDS: &[&str] = &[
    "ratings",
    "leadgen",
    "mention",
    "story_insights",
    "quality_update",
    "x_tongdai_fuzz",
];

/// Page `feed` items other than comments.
const FEED_ITEMS: &[&str] = &[
    "status", "post", "photo", "video", "share", "like", "reaction", "album", "event",
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
    "\"changes\"",
    "\"field\"",
    "\"value\"",
    "\"feed\"",
    "\"comments\"",
    "\"mentions\"",
    "\"messages\"",
    "\"item\"",
    "\"comment\"",
    "\"verb\"",
    "\"add\"",
    "\"from\"",
    "\"media\"",
    "\"sender\"",
    "\"recipient\"",
    "\"timestamp\"",
    "\"message\"",
    "\"postback\"",
    "\"reaction\"",
    "\"referral\"",
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

/// Parse through the trait (Facebook and Instagram routes) and through `wire::parse_body`, which
/// must all agree, and ask for the account hints too. A panic anywhere fails the property.
fn parse(body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
    let fb = facebook();
    let via_trait = fb.parse(body);
    assert_eq!(
        via_trait,
        parse_body(body),
        "trait and wire::parse_body disagree"
    );
    let instagram = Facebook::instagram(FacebookConfig {
        app_id: Some(APP_ID.into()),
        app_secret: Some(SECRET.into()),
        verify_token: None,
    });
    assert_eq!(
        via_trait,
        instagram.parse(body),
        "the Facebook and Instagram routes disagree"
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

fn chaos_text() -> BoxedStrategy<Value> {
    prop_oneof![3 => text(24).prop_map(Value::from), 1 => json_leaf()].boxed()
}

fn chaos_bool() -> BoxedStrategy<Value> {
    prop_oneof![any::<bool>().prop_map(Value::Bool), json_leaf()].boxed()
}

/// `{key: value, …}` with each `Some` value present.
fn obj<const N: usize>(pairs: [(&str, Option<Value>); N]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        put(&mut m, k, v);
    }
    Value::Object(m)
}

fn chaos_referral() -> BoxedStrategy<Value> {
    (
        prop::option::of(chaos_id()),
        prop::option::of(chaos_text()),
        prop::option::of(chaos_text()),
        prop::option::of(chaos_id()),
        prop::option::of(prop_oneof![
            chaos_id().prop_map(|p| json!({ "post_id": p })),
            json_leaf()
        ]),
    )
        .prop_map(|(r, source, kind, ad, ads)| {
            obj([
                ("ref", r),
                ("source", source),
                ("type", kind),
                ("ad_id", ad),
                ("ads_context_data", ads),
            ])
        })
        .boxed()
}

fn chaos_message() -> BoxedStrategy<Value> {
    let attachment = prop_oneof![
        (
            prop::option::of(select(vec![
                "image",
                "video",
                "audio",
                "file",
                "location",
                "fallback",
                "template",
                "sticker",
                "share",
                "story_mention",
                "ig_reel",
                "reel"
            ])),
            prop::option::of(chaos_text()),
            prop::option::of(chaos_text()),
            prop::option::of(chaos_id()),
            prop::option::of(json_value()),
        )
            .prop_map(|(kind, url, title, sticker, coordinates)| {
                let payload = obj([
                    ("url", url.clone()),
                    ("title", title),
                    ("sticker_id", sticker),
                    ("coordinates", coordinates),
                ]);
                obj([
                    ("type", kind.map(Value::from)),
                    ("url", url),
                    ("payload", Some(payload)),
                ])
            }),
        json_leaf(),
    ];
    let reply_to = prop_oneof![
        chaos_id().prop_map(|mid| json!({ "mid": mid })),
        (chaos_id(), prop::option::of(chaos_text()))
            .prop_map(|(id, url)| json!({ "story": { "id": id, "url": url } })),
        json_leaf(),
    ];
    (
        (
            prop::option::weighted(0.9, chaos_id()),
            prop::option::of(chaos_text()),
            prop::option::of(chaos_bool()),
            prop::option::of(chaos_id()),
            prop::option::of(prop_oneof![
                prop::collection::vec(attachment, 0..3).prop_map(Value::Array),
                json_leaf(),
            ]),
        ),
        (
            prop::option::of(chaos_bool()),
            prop::option::of(chaos_bool()),
            prop::option::of(reply_to),
            prop::option::of(prop_oneof![
                chaos_text().prop_map(|p| json!({ "payload": p })),
                json_leaf()
            ]),
            prop::option::of(chaos_referral()),
        ),
    )
        .prop_map(
            |(
                (mid, text, echo, app_id, attachments),
                (deleted, unsupported, reply_to, quick_reply, referral),
            )| {
                obj([
                    ("mid", mid),
                    ("text", text),
                    ("is_echo", echo),
                    ("app_id", app_id),
                    ("attachments", attachments),
                    ("is_deleted", deleted),
                    ("is_unsupported", unsupported),
                    ("reply_to", reply_to),
                    ("quick_reply", quick_reply),
                    ("referral", referral),
                ])
            },
        )
        .boxed()
}

/// The payload keys of a messaging item, each with something close to its documented shape.
fn chaos_payloads() -> BoxedStrategy<Vec<(&'static str, Value)>> {
    let delivery = (
        prop::option::of(prop_oneof![
            prop::collection::vec(chaos_id(), 0..3).prop_map(Value::Array),
            json_leaf(),
        ]),
        prop::option::of(chaos_time()),
    )
        .prop_map(|(mids, watermark)| obj([("mids", mids), ("watermark", watermark)]));
    let read = (prop::option::of(chaos_time()), prop::option::of(chaos_id()))
        .prop_map(|(watermark, mid)| obj([("watermark", watermark), ("mid", mid)]));
    let postback = (
        prop::option::of(chaos_text()),
        prop::option::of(chaos_text()),
        prop::option::of(chaos_id()),
        prop::option::of(chaos_referral()),
    )
        .prop_map(|(title, payload, mid, referral)| {
            obj([
                ("title", title),
                ("payload", payload),
                ("mid", mid),
                ("referral", referral),
            ])
        });
    let reaction = (
        prop::option::of(chaos_id()),
        prop::option::of(prop_oneof![
            select(vec!["react", "unreact"]).prop_map(Value::from),
            chaos_text()
        ]),
        prop::option::of(chaos_text()),
        prop::option::of(chaos_text()),
    )
        .prop_map(|(mid, action, emoji, reaction)| {
            obj([
                ("mid", mid),
                ("action", action),
                ("emoji", emoji),
                ("reaction", reaction),
            ])
        });
    let edit = (
        prop::option::of(chaos_id()),
        prop::option::of(chaos_text()),
        prop::option::of(prop_oneof![any::<i64>().prop_map(Value::from), json_leaf()]),
    )
        .prop_map(|(mid, text, n)| obj([("mid", mid), ("text", text), ("num_edit", n)]));
    let one = prop_oneof![
        6 => prop_oneof![12 => chaos_message(), 1 => json_leaf()].prop_map(|v| ("message", v)),
        2 => prop_oneof![12 => delivery, 1 => json_leaf()].prop_map(|v| ("delivery", v)),
        2 => prop_oneof![12 => read, 1 => json_leaf()].prop_map(|v| ("read", v)),
        2 => prop_oneof![12 => postback, 1 => json_leaf()].prop_map(|v| ("postback", v)),
        1 => prop_oneof![12 => chaos_referral(), 1 => json_leaf()].prop_map(|v| ("referral", v)),
        1 => prop_oneof![12 => reaction, 1 => json_leaf()].prop_map(|v| ("reaction", v)),
        1 => prop_oneof![12 => edit, 1 => json_leaf()].prop_map(|v| ("message_edit", v)),
        1 => (select(IGNORED_ITEM_KEYS), json_value()),
    ];
    prop::collection::vec(one, 0..3).boxed()
}

fn chaos_item() -> BoxedStrategy<Value> {
    (
        prop::option::weighted(0.9, chaos_party()),
        prop::option::weighted(0.9, chaos_party()),
        prop::option::weighted(0.9, chaos_time()),
        chaos_payloads(),
    )
        .prop_map(|(sender, recipient, timestamp, payloads)| {
            let mut item = Map::new();
            put(&mut item, "sender", sender);
            put(&mut item, "recipient", recipient);
            put(&mut item, "timestamp", timestamp);
            for (k, v) in payloads {
                item.insert(k.to_owned(), v);
            }
            Value::Object(item)
        })
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

/// A feed comment value, both author shapes, any field possibly missing or of the wrong type.
fn chaos_feed_value() -> BoxedStrategy<Value> {
    let author = prop_oneof![
        (prop::option::of(chaos_id()), prop::option::of(chaos_text()))
            .prop_map(|(id, name)| ("from", obj([("id", id), ("name", name)]))),
        (prop::option::of(chaos_id()), prop::option::of(chaos_text()))
            .prop_map(|(id, name)| ("flat", obj([("sender_id", id), ("sender_name", name)]))),
        json_leaf().prop_map(|v| ("from", v)),
    ];
    let item = prop_oneof![
        6 => Just(Value::from("comment")),
        2 => select(FEED_ITEMS).prop_map(Value::from),
        1 => json_leaf(),
    ];
    let verb = prop_oneof![
        6 => select(vec!["add", "edited", "remove", "hide", "unhide"]).prop_map(Value::from),
        1 => chaos_text(),
    ];
    (
        (
            prop::option::weighted(0.95, item),
            prop::option::weighted(0.9, verb),
            prop::option::weighted(0.9, chaos_id()),
            prop::option::weighted(0.9, chaos_id()),
            prop::option::of(chaos_id()),
            prop::option::of(author),
        ),
        (
            prop::option::of(chaos_time()),
            prop::option::of(chaos_text()),
            prop::option::of(chaos_text()),
            prop::option::of(chaos_text()),
            prop::option::of(prop_oneof![
                (
                    prop::option::of(chaos_text()),
                    prop::option::of(chaos_text())
                )
                    .prop_map(|(url, message)| obj([("permalink_url", url), ("message", message)])),
                json_leaf(),
            ]),
        ),
    )
        .prop_map(
            |(
                (item, verb, post_id, comment_id, parent_id, author),
                (created, message, photo, video, post),
            )| {
                let mut v = Map::new();
                put(&mut v, "item", item);
                put(&mut v, "verb", verb);
                put(&mut v, "post_id", post_id);
                put(&mut v, "comment_id", comment_id);
                put(&mut v, "parent_id", parent_id);
                match author {
                    Some(("flat", Value::Object(m))) => v.extend(m),
                    Some((key, a)) => {
                        v.insert(key.to_owned(), a);
                    }
                    None => {}
                }
                put(&mut v, "created_time", created);
                put(&mut v, "message", message);
                put(&mut v, "photo", photo);
                put(&mut v, "video", video);
                put(&mut v, "post", post);
                Value::Object(v)
            },
        )
        .boxed()
}

/// An Instagram comment value.
fn chaos_ig_comment() -> BoxedStrategy<Value> {
    (
        prop::option::weighted(0.9, chaos_id()),
        prop::option::of(chaos_text()),
        prop::option::of(prop_oneof![
            (prop::option::of(chaos_id()), prop::option::of(chaos_text()))
                .prop_map(|(id, username)| obj([("id", id), ("username", username)])),
            json_leaf(),
        ]),
        prop::option::weighted(
            0.9,
            prop_oneof![
                (prop::option::of(chaos_id()), prop::option::of(chaos_text()))
                    .prop_map(|(id, kind)| obj([("id", id), ("media_product_type", kind)])),
                json_leaf(),
            ],
        ),
        prop::option::of(chaos_id()),
    )
        .prop_map(|(id, text, from, media, parent)| {
            obj([
                ("id", id),
                ("text", text),
                ("from", from),
                ("media", media),
                ("parent_id", parent),
            ])
        })
        .boxed()
}

fn chaos_change() -> BoxedStrategy<Value> {
    let field_value = prop_oneof![
        4 => chaos_feed_value().prop_map(|v| (Value::from("feed"), v)),
        2 => (select(vec!["comments", "live_comments"]), chaos_ig_comment())
            .prop_map(|(f, v)| (Value::from(f), v)),
        1 => (prop::option::of(chaos_id()), prop::option::of(chaos_id()))
            .prop_map(|(c, m)| (Value::from("mentions"), obj([("comment_id", c), ("media_id", m)]))),
        2 => (select(MESSAGING_FIELDS), chaos_item()).prop_map(|(f, v)| (Value::from(f), v)),
        1 => (select(IGNORED_FIELDS), json_value()).prop_map(|(f, v)| (Value::from(f), v)),
        1 => (json_leaf(), json_value()),
    ];
    prop_oneof![
        12 => (prop::option::weighted(0.95, field_value)).prop_map(|fv| match fv {
            Some((field, value)) => json!({ "field": field, "value": value }),
            None => json!({ "value": {} }),
        }),
        1 => json_value(),
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
            0.4,
            prop_oneof![
                8 => prop::collection::vec(chaos_change(), 0..4).prop_map(Value::Array),
                1 => json_value(),
            ],
        ),
    )
        .prop_map(|(id, time, messaging, standby, changes)| {
            obj([
                ("id", id),
                ("time", time),
                ("messaging", messaging),
                ("standby", standby),
                ("changes", changes),
            ])
        })
        .boxed()
}

fn chaos_envelope() -> BoxedStrategy<Value> {
    let object = prop_oneof![
        5 => Just(Some(Value::from("page"))),
        4 => Just(Some(Value::from("instagram"))),
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
        .prop_map(|(object, entry)| obj([("object", object), ("entry", entry)]))
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

fn ms(millis: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(millis).expect("generated timestamps are in range")
}

/// A referral as written, and what it must come out as.
#[derive(Debug, Clone)]
struct Ref {
    ref_param: Option<String>,
    source: Option<String>,
    kind: Option<String>,
    ad_id: Option<Id>,
    post_id: Option<Id>,
    /// `ads_context_data.post_id`, used when `post_id` is absent.
    ads_post_id: Option<Id>,
}

fn referral_model() -> BoxedStrategy<Ref> {
    (
        prop::option::of(text(10)),
        prop::option::of(
            select(vec!["ADS", "SHORTLINK", "CUSTOMER_CHAT_PLUGIN"]).prop_map(str::to_owned),
        ),
        prop::option::of(Just("OPEN_THREAD".to_owned())),
        prop::option::of(id()),
        prop::option::of(id()),
        prop::option::of(id()),
    )
        .prop_map(
            |(ref_param, source, kind, ad_id, post_id, ads_post_id)| Ref {
                ref_param,
                source,
                kind,
                ad_id,
                post_id,
                ads_post_id,
            },
        )
        .boxed()
}

impl Ref {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        put(&mut m, "ref", self.ref_param.clone().map(Value::from));
        put(&mut m, "source", self.source.clone().map(Value::from));
        put(&mut m, "type", self.kind.clone().map(Value::from));
        put(&mut m, "ad_id", self.ad_id.as_ref().map(|i| i.json.clone()));
        put(
            &mut m,
            "post_id",
            self.post_id.as_ref().map(|i| i.json.clone()),
        );
        put(
            &mut m,
            "ads_context_data",
            self.ads_post_id
                .as_ref()
                .map(|i| json!({ "ad_title": "Sale", "post_id": i.json })),
        );
        Value::Object(m)
    }

    fn want(&self) -> Referral {
        Referral {
            source: self.source.clone(),
            kind: self.kind.clone(),
            ref_param: self.ref_param.clone(),
            ad_id: self.ad_id.as_ref().map(|i| i.text.clone()),
            post_id: self
                .post_id
                .as_ref()
                .or(self.ads_post_id.as_ref())
                .map(|i| i.text.clone()),
        }
    }
}

/// What one valid messaging item is.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a test model: clarity over size
enum Kind {
    Message {
        mid: Id,
        text: Option<String>,
        /// `None`: no `is_echo` key; `Some(false)` written explicitly.
        echo: Option<bool>,
        app_id: Option<Id>,
        /// `None`: no `is_deleted` key.
        deleted: Option<bool>,
        unsupported: Option<bool>,
        attachments: Vec<(Option<String>, Option<String>)>,
        reply_to: Option<Id>,
        /// An Instagram story replied to: id and URL.
        story: Option<(Id, Option<String>)>,
        quick_reply: Option<String>,
        referral: Option<Ref>,
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
        title: Option<String>,
        payload: Option<String>,
        /// `None`: before v11.0, the id is derived from sender and time.
        mid: Option<Id>,
        referral: Option<Ref>,
    },
    Referral(Ref),
    Reaction {
        mid: Id,
        unreact: bool,
        emoji: Option<String>,
        name: Option<String>,
    },
    Edit {
        mid: Id,
        text: String,
        count: Option<u32>,
    },
    /// Only an ignored key with any value, or (`None`) no payload at all.
    Ignored(Option<(&'static str, Value)>),
}

impl Kind {
    /// Whether the event needs a time: the item's `timestamp` or the entry's `time`.
    fn needs_time(&self) -> bool {
        !matches!(
            self,
            Kind::Delivery { .. } | Kind::Read { .. } | Kind::Ignored(_)
        )
    }
}

#[derive(Debug, Clone)]
struct Item {
    sender: Id,
    recipient: Id,
    timestamp: Option<Ts>,
    kind: Kind,
    /// An ignored key beside the payload: changes nothing unless the item has no payload.
    extra: Option<(&'static str, Value)>,
}

/// Who wrote a feed comment, in which of the two shapes.
#[derive(Debug, Clone)]
enum Author {
    None,
    /// `from: {id, name}` (v2.11+).
    From(Id, Option<String>),
    /// `sender_id` + `sender_name` (older versions).
    Flat(Id, Option<String>),
}

/// What a feed comment's `parent_id` is.
#[derive(Debug, Clone)]
enum Parent {
    Absent,
    /// The post itself: a top-level comment.
    Post,
    Comment(Id),
}

#[derive(Debug, Clone)]
struct FeedComment {
    /// `None`: no `verb` key.
    verb: Option<&'static str>,
    post_id: Id,
    comment_id: Id,
    parent: Parent,
    author: Author,
    /// The author's id is replaced by the entry's: the Page's own comment.
    by_account: bool,
    created: Option<Ts>,
    message: Option<String>,
    photo: Option<String>,
    video: Option<String>,
    /// `post: {permalink_url, message, status_type}`.
    post: Option<(Option<String>, Option<String>, Option<String>)>,
}

impl FeedComment {
    fn action(&self) -> Option<CommentAction> {
        match self.verb? {
            "add" => Some(CommentAction::Added),
            "edited" => Some(CommentAction::Edited),
            "remove" => Some(CommentAction::Removed),
            "hide" => Some(CommentAction::Hidden),
            "unhide" => Some(CommentAction::Unhidden),
            _ => None,
        }
    }
}

/// What one valid `changes[]` item is.
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // a test model: clarity over size
enum Change {
    Feed(FeedComment),
    FeedOther {
        item: &'static str,
        junk: Value,
    },
    IgComment {
        field: &'static str,
        id: Id,
        text: Option<String>,
        from: Option<(Id, Option<String>)>,
        by_account: bool,
        media: (Id, Option<String>),
        parent: Option<Id>,
    },
    Mention {
        comment_id: Option<Id>,
        media_id: Option<Id>,
    },
    Messaging {
        field: &'static str,
        item: Item,
    },
    Other {
        field: &'static str,
        value: Value,
    },
}

impl Change {
    /// Whether the event takes the entry's `time` (or a messaging item's time).
    fn needs_entry_time(&self) -> bool {
        match self {
            Change::Feed(c) => c.action().is_some() && c.created.is_none(),
            Change::IgComment { .. } | Change::Mention { .. } => true,
            _ => false,
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    id: Id,
    time: Option<Ts>,
    /// `None`: no `messaging` key; `Some(None)`: `"messaging": null`.
    messaging: Option<Option<Vec<Item>>>,
    standby: Option<Vec<Item>>,
    changes: Option<Vec<Change>>,
}

fn kind() -> BoxedStrategy<Kind> {
    let message = (
        (
            id(),
            prop::option::of(vietnamese(40)),
            prop::option::of(any::<bool>()),
            prop::option::of(id()),
            prop_oneof![4 => Just(None), 1 => Just(Some(false)), 1 => Just(Some(true))],
            prop_oneof![4 => Just(None), 1 => Just(Some(false)), 1 => Just(Some(true))],
        ),
        (
            prop::collection::vec(
                (
                    prop::option::of(
                        select(vec![
                            "image",
                            "video",
                            "audio",
                            "file",
                            "location",
                            "fallback",
                            "share",
                            "story_mention",
                            "ig_reel",
                            "reel",
                        ])
                        .prop_map(str::to_owned),
                    ),
                    prop::option::of(text(16)),
                ),
                0..3,
            ),
            prop::option::of(id()),
            prop::option::weighted(0.2, (id(), prop::option::of(text(16)))),
            prop::option::of(text(8)),
            prop::option::weighted(0.2, referral_model()),
        ),
    )
        .prop_map(
            |(
                (mid, text, echo, app_id, deleted, unsupported),
                (attachments, reply_to, story, quick_reply, referral),
            )| Kind::Message {
                mid,
                text,
                echo,
                app_id,
                deleted,
                unsupported,
                attachments,
                reply_to,
                story,
                quick_reply,
                referral,
            },
        );
    prop_oneof![
        6 => message,
        2 => (prop::option::of(prop::collection::vec(id(), 0..3)), prop::option::of(ts()))
            .prop_map(|(mids, watermark)| Kind::Delivery { mids, watermark }),
        2 => (prop::option::of(ts()), prop::option::of(id()))
            .prop_map(|(watermark, mid)| Kind::Read { watermark, mid }),
        2 => (
            prop::option::of(vietnamese(12)),
            prop::option::of(text(12)),
            prop::option::of(id()),
            prop::option::weighted(0.3, referral_model()),
        )
            .prop_map(|(title, payload, mid, referral)| Kind::Postback { title, payload, mid, referral }),
        1 => referral_model().prop_map(Kind::Referral),
        1 => (id(), any::<bool>(), prop::option::of(select(vec!["\u{2764}", "😢", "👍"]).prop_map(str::to_owned)), prop::option::of(text(6)))
            .prop_map(|(mid, unreact, emoji, name)| Kind::Reaction { mid, unreact, emoji, name }),
        1 => (vietnamese(12), id(), prop::option::of(0u32..50))
            .prop_map(|(text, mid, count)| Kind::Edit { mid, text, count }),
        1 => prop::option::weighted(0.8, (select(IGNORED_ITEM_KEYS), json_value())).prop_map(Kind::Ignored),
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

fn feed_comment() -> BoxedStrategy<FeedComment> {
    let author = prop_oneof![
        1 => Just(Author::None),
        3 => (id(), prop::option::of(vietnamese(16))).prop_map(|(i, n)| Author::From(i, n)),
        2 => (id(), prop::option::of(vietnamese(16))).prop_map(|(i, n)| Author::Flat(i, n)),
    ];
    let parent = prop_oneof![
        Just(Parent::Absent),
        Just(Parent::Post),
        id().prop_map(Parent::Comment),
    ];
    (
        (
            prop::option::weighted(
                0.95,
                prop_oneof![
                    8 => select(vec!["add", "edited", "remove", "hide", "unhide"]),
                    1 => select(vec!["block", "like"]),
                ],
            ),
            id(),
            id(),
            parent,
            author,
            prop::bool::weighted(0.2),
        ),
        (
            prop::option::of(ts()),
            prop::option::of(vietnamese(30)),
            prop::option::of(text(16)),
            prop::option::of(text(16)),
            prop::option::of((
                prop::option::of(text(16)),
                prop::option::of(vietnamese(16)),
                prop::option::of(
                    select(vec!["added_photos", "mobile_status_update"]).prop_map(str::to_owned),
                ),
            )),
        ),
    )
        .prop_map(
            |(
                (verb, post_id, comment_id, parent, author, by_account),
                (created, message, photo, video, post),
            )| FeedComment {
                verb,
                post_id,
                comment_id,
                parent,
                author,
                by_account,
                created,
                message,
                photo,
                video,
                post,
            },
        )
        .boxed()
}

fn change() -> BoxedStrategy<Change> {
    prop_oneof![
        5 => feed_comment().prop_map(Change::Feed),
        1 => (select(FEED_ITEMS), json_value()).prop_map(|(item, junk)| Change::FeedOther { item, junk }),
        3 => (
            select(vec!["comments", "live_comments"]),
            id(),
            prop::option::of(vietnamese(30)),
            prop::option::of((id(), prop::option::of(text(12)))),
            prop::bool::weighted(0.2),
            (id(), prop::option::of(select(vec!["FEED", "REELS", "STORY", "AD", "LIVE"]).prop_map(str::to_owned))),
            prop::option::of(id()),
        )
            .prop_map(|(field, id, text, from, by_account, media, parent)| Change::IgComment {
                field, id, text, from, by_account, media, parent,
            }),
        1 => (prop::option::of(id()), prop::option::of(id()))
            .prop_map(|(comment_id, media_id)| Change::Mention { comment_id, media_id }),
        2 => (select(MESSAGING_FIELDS), item()).prop_map(|(field, item)| Change::Messaging { field, item }),
        1 => (select(IGNORED_FIELDS), json_value()).prop_map(|(field, value)| Change::Other { field, value }),
    ]
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
        prop::option::weighted(0.5, prop::collection::vec(change(), 0..5)),
    )
        .prop_map(|(id, time, fallback, messaging, standby, changes)| {
            let mut entry = Entry {
                id,
                time,
                messaging,
                standby,
                changes,
            };
            // A timed event needs its own time or the entry's.
            if entry.time.is_none() {
                if entry.changes.iter().flatten().any(Change::needs_entry_time) {
                    entry.time = Some(fallback.clone());
                }
                let nested = entry.changes.iter_mut().flatten().filter_map(|c| match c {
                    Change::Messaging { item, .. } => Some(item),
                    _ => None,
                });
                let messaging = entry.messaging.iter_mut().flatten().flatten();
                for item in messaging
                    .chain(entry.standby.iter_mut().flatten())
                    .chain(nested)
                {
                    if item.timestamp.is_none() && item.kind.needs_time() {
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
        if let Some((k, v)) = &self.extra {
            m.insert((*k).to_owned(), v.clone());
        }
        let (key, payload) = match &self.kind {
            Kind::Message {
                mid,
                text,
                echo,
                app_id,
                deleted,
                unsupported,
                attachments,
                reply_to,
                story,
                quick_reply,
                referral,
            } => {
                let mut msg = Map::new();
                msg.insert("mid".into(), mid.json.clone());
                put(&mut msg, "text", text.clone().map(Value::from));
                put(&mut msg, "is_echo", echo.map(Value::from));
                put(&mut msg, "app_id", app_id.as_ref().map(|a| a.json.clone()));
                put(&mut msg, "is_deleted", deleted.map(Value::from));
                put(&mut msg, "is_unsupported", unsupported.map(Value::from));
                if !attachments.is_empty() {
                    let list = attachments
                        .iter()
                        .map(|(kind, url)| json!({ "type": kind, "payload": { "url": url } }))
                        .collect();
                    msg.insert("attachments".into(), Value::Array(list));
                }
                let mut reply = Map::new();
                put(&mut reply, "mid", reply_to.as_ref().map(|r| r.json.clone()));
                put(
                    &mut reply,
                    "story",
                    story
                        .as_ref()
                        .map(|(id, url)| json!({ "id": id.json, "url": url })),
                );
                if !reply.is_empty() {
                    msg.insert("reply_to".into(), Value::Object(reply));
                }
                put(
                    &mut msg,
                    "quick_reply",
                    quick_reply.as_ref().map(|p| json!({ "payload": p })),
                );
                put(&mut msg, "referral", referral.as_ref().map(Ref::to_json));
                ("message", Value::Object(msg))
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
                ("delivery", Value::Object(d))
            }
            Kind::Read { watermark, mid } => {
                let mut r = Map::new();
                put(
                    &mut r,
                    "watermark",
                    watermark.as_ref().map(|w| w.json.clone()),
                );
                put(&mut r, "mid", mid.as_ref().map(|i| i.json.clone()));
                ("read", Value::Object(r))
            }
            Kind::Postback {
                title,
                payload,
                mid,
                referral,
            } => {
                let mut p = Map::new();
                put(&mut p, "title", title.clone().map(Value::from));
                put(&mut p, "payload", payload.clone().map(Value::from));
                put(&mut p, "mid", mid.as_ref().map(|i| i.json.clone()));
                put(&mut p, "referral", referral.as_ref().map(Ref::to_json));
                ("postback", Value::Object(p))
            }
            Kind::Referral(r) => ("referral", r.to_json()),
            Kind::Reaction {
                mid,
                unreact,
                emoji,
                name,
            } => {
                let mut r = Map::new();
                r.insert("mid".into(), mid.json.clone());
                let action = if *unreact { "unreact" } else { "react" };
                r.insert("action".into(), action.into());
                put(&mut r, "emoji", emoji.clone().map(Value::from));
                put(&mut r, "reaction", name.clone().map(Value::from));
                ("reaction", Value::Object(r))
            }
            Kind::Edit { mid, text, count } => {
                let mut e = Map::new();
                e.insert("mid".into(), mid.json.clone());
                e.insert("text".into(), text.clone().into());
                put(&mut e, "num_edit", count.map(Value::from));
                ("message_edit", Value::Object(e))
            }
            Kind::Ignored(Some((k, v))) => (*k, v.clone()),
            Kind::Ignored(None) => return Value::Object(m),
        };
        m.insert(key.to_owned(), payload);
        Value::Object(m)
    }

    /// The one event this item must give.
    fn want(&self, account: &str, entry_time: Option<i64>, standby: bool) -> NormalizedEvent {
        let millis = || {
            self.timestamp
                .as_ref()
                .map(|t| t.millis)
                .or(entry_time)
                .expect("the generator gives every timed item a time")
        };
        let sender = self.sender.text.clone();
        let inbound = |contact: String, mid: String| InboundMessage {
            account_external_id: account.to_owned(),
            contact: ContactRef {
                external_id: contact.clone(),
                display_name: None,
            },
            thread_external_id: contact,
            external_message_id: mid,
            sent_at: ms(millis()),
            text: None,
            attachments: vec![],
            reply_to: None,
            app_id: None,
            quick_reply: None,
            postback: None,
            referral: None,
            standby,
        };
        match &self.kind {
            Kind::Message {
                mid,
                text,
                echo,
                app_id,
                deleted,
                unsupported,
                attachments,
                reply_to,
                story,
                quick_reply,
                referral,
            } => {
                let echo = *echo == Some(true);
                let contact = if echo { &self.recipient } else { &self.sender };
                if *deleted == Some(true) {
                    return NormalizedEvent::MessageDeleted(MessageDeletion {
                        account_external_id: account.to_owned(),
                        contact_external_id: contact.text.clone(),
                        external_message_id: mid.text.clone(),
                        at: ms(millis()),
                    });
                }
                let story = story.iter().map(|(id, url)| Attachment {
                    kind: "story_reply".into(),
                    url: url.clone(),
                    title: None,
                    payload: Some(json!({ "id": id.text })),
                });
                let wire = attachments.iter().map(|(kind, url)| Attachment {
                    kind: kind.clone().unwrap_or_else(|| "unknown".into()),
                    url: url.clone(),
                    ..Attachment::default()
                });
                let unsupported = (*unsupported == Some(true)).then(|| Attachment {
                    kind: "unsupported".into(),
                    ..Attachment::default()
                });
                let m = InboundMessage {
                    text: text.clone(),
                    attachments: story.chain(wire).chain(unsupported).collect(),
                    reply_to: reply_to.as_ref().map(|r| r.text.clone()),
                    app_id: app_id.as_ref().map(|a| a.text.clone()),
                    quick_reply: quick_reply.clone(),
                    referral: referral.as_ref().map(Ref::want),
                    ..inbound(contact.text.clone(), mid.text.clone())
                };
                if echo {
                    NormalizedEvent::MessageEcho(m)
                } else {
                    NormalizedEvent::MessageReceived(m)
                }
            }
            Kind::Delivery { mids, watermark } => {
                NormalizedEvent::DeliveryStatus(DeliveryReceipt {
                    account_external_id: account.to_owned(),
                    contact_external_id: sender,
                    external_message_ids: mids.iter().flatten().map(|i| i.text.clone()).collect(),
                    watermark: watermark.as_ref().map(|w| ms(w.millis)),
                    state: DeliveryState::Delivered,
                })
            }
            Kind::Read { watermark, mid } => NormalizedEvent::DeliveryStatus(DeliveryReceipt {
                account_external_id: account.to_owned(),
                contact_external_id: sender,
                external_message_ids: mid.iter().map(|i| i.text.clone()).collect(),
                watermark: watermark.as_ref().map(|w| ms(w.millis)),
                state: DeliveryState::Read,
            }),
            Kind::Postback {
                title,
                payload,
                mid,
                referral,
            } => {
                let mid = mid
                    .as_ref()
                    .map(|m| m.text.clone())
                    .unwrap_or_else(|| format!("postback:{sender}:{}", millis()));
                NormalizedEvent::MessageReceived(InboundMessage {
                    text: title.clone(),
                    postback: payload.clone(),
                    referral: referral.as_ref().map(Ref::want),
                    ..inbound(sender.clone(), mid)
                })
            }
            Kind::Referral(r) => NormalizedEvent::Referred(ReferralEvent {
                account_external_id: account.to_owned(),
                contact: ContactRef {
                    external_id: sender,
                    display_name: None,
                },
                referral: r.want(),
                at: ms(millis()),
            }),
            Kind::Reaction {
                mid,
                unreact,
                emoji,
                name,
            } => NormalizedEvent::Reaction(MessageReaction {
                account_external_id: account.to_owned(),
                contact_external_id: sender,
                external_message_id: mid.text.clone(),
                emoji: emoji.clone(),
                reaction: name.clone(),
                removed: *unreact,
                at: ms(millis()),
            }),
            Kind::Edit { mid, text, count } => NormalizedEvent::MessageEdited(MessageEdit {
                account_external_id: account.to_owned(),
                contact_external_id: sender,
                external_message_id: mid.text.clone(),
                text: Some(text.clone()),
                edited_at: ms(millis()),
                edit_count: *count,
            }),
            Kind::Ignored(own) => {
                // Several unknown keys: the alphabetically first names the event.
                let key = own
                    .iter()
                    .chain(self.extra.iter())
                    .map(|(k, _)| *k)
                    .min()
                    .unwrap_or("empty");
                ignored(account, &format!("messaging.{key}"))
            }
        }
    }
}

fn ignored(account: &str, kind: &str) -> NormalizedEvent {
    NormalizedEvent::Ignored(IgnoredEvent {
        account_external_id: account.to_owned(),
        kind: kind.to_owned(),
    })
}

impl Change {
    fn to_json(&self, entry_id: &Id) -> Value {
        match self {
            Change::Feed(c) => {
                let mut v = Map::new();
                v.insert("item".into(), "comment".into());
                put(&mut v, "verb", c.verb.map(Value::from));
                v.insert("post_id".into(), c.post_id.json.clone());
                v.insert("comment_id".into(), c.comment_id.json.clone());
                match &c.parent {
                    Parent::Absent => {}
                    Parent::Post => {
                        v.insert("parent_id".into(), c.post_id.json.clone());
                    }
                    Parent::Comment(p) => {
                        v.insert("parent_id".into(), p.json.clone());
                    }
                }
                let author_id = |id: &Id| {
                    if c.by_account {
                        entry_id.json.clone()
                    } else {
                        id.json.clone()
                    }
                };
                match &c.author {
                    Author::None => {}
                    Author::From(id, name) => {
                        let mut f = Map::new();
                        f.insert("id".into(), author_id(id));
                        put(&mut f, "name", name.clone().map(Value::from));
                        v.insert("from".into(), Value::Object(f));
                    }
                    Author::Flat(id, name) => {
                        v.insert("sender_id".into(), author_id(id));
                        put(&mut v, "sender_name", name.clone().map(Value::from));
                    }
                }
                put(
                    &mut v,
                    "created_time",
                    c.created.as_ref().map(|t| t.json.clone()),
                );
                put(&mut v, "message", c.message.clone().map(Value::from));
                put(&mut v, "photo", c.photo.clone().map(Value::from));
                put(&mut v, "video", c.video.clone().map(Value::from));
                if let Some((permalink, message, status)) = &c.post {
                    let mut p = Map::new();
                    put(&mut p, "permalink_url", permalink.clone().map(Value::from));
                    put(&mut p, "message", message.clone().map(Value::from));
                    put(&mut p, "status_type", status.clone().map(Value::from));
                    v.insert("post".into(), Value::Object(p));
                }
                json!({ "field": "feed", "value": v })
            }
            Change::FeedOther { item, junk } => json!({
                "field": "feed",
                "value": { "item": item, "verb": "add", "from": junk },
            }),
            Change::IgComment {
                field,
                id,
                text,
                from,
                by_account,
                media,
                parent,
            } => {
                let mut v = Map::new();
                v.insert("id".into(), id.json.clone());
                put(&mut v, "text", text.clone().map(Value::from));
                if let Some((from_id, username)) = from {
                    let from_id = if *by_account { entry_id } else { from_id };
                    v.insert(
                        "from".into(),
                        json!({ "id": from_id.json, "username": username }),
                    );
                }
                let mut m = Map::new();
                m.insert("id".into(), media.0.json.clone());
                put(
                    &mut m,
                    "media_product_type",
                    media.1.clone().map(Value::from),
                );
                v.insert("media".into(), Value::Object(m));
                put(&mut v, "parent_id", parent.as_ref().map(|p| p.json.clone()));
                json!({ "field": field, "value": v })
            }
            Change::Mention {
                comment_id,
                media_id,
            } => {
                let mut v = Map::new();
                put(
                    &mut v,
                    "comment_id",
                    comment_id.as_ref().map(|i| i.json.clone()),
                );
                put(
                    &mut v,
                    "media_id",
                    media_id.as_ref().map(|i| i.json.clone()),
                );
                json!({ "field": "mentions", "value": v })
            }
            Change::Messaging { field, item } => json!({ "field": field, "value": item.to_json() }),
            Change::Other { field, value } => json!({ "field": field, "value": value }),
        }
    }

    /// The one event this change must give.
    fn want(&self, account: &str, entry_time: Option<i64>) -> NormalizedEvent {
        let entry_at = || ms(entry_time.expect("the generator gives the entry a time"));
        match self {
            Change::Feed(c) => {
                let Some(action) = c.action() else {
                    return match c.verb {
                        Some(verb) => ignored(account, &format!("feed.comment.{verb}")),
                        None => ignored(account, "feed.comment"),
                    };
                };
                let author = match &c.author {
                    Author::None => None,
                    Author::From(id, name) | Author::Flat(id, name) => Some(ContactRef {
                        external_id: if c.by_account {
                            account.to_owned()
                        } else {
                            id.text.clone()
                        },
                        display_name: name.clone(),
                    }),
                };
                let parent = match &c.parent {
                    Parent::Comment(p) if p.text != c.post_id.text => Some(p.text.clone()),
                    _ => None,
                };
                let media = [("image", &c.photo), ("video", &c.video)];
                let (permalink, text, media_kind) = c.post.clone().unwrap_or_default();
                NormalizedEvent::Comment(CommentEvent {
                    account_external_id: account.to_owned(),
                    action,
                    post: PostRef {
                        external_id: c.post_id.text.clone(),
                        permalink,
                        text,
                        media_kind,
                    },
                    external_comment_id: c.comment_id.text.clone(),
                    parent_external_id: parent,
                    by_account: author.as_ref().is_some_and(|a| a.external_id == account),
                    author,
                    text: c.message.clone(),
                    attachments: media
                        .into_iter()
                        .filter_map(|(kind, url)| {
                            url.as_ref().map(|u| Attachment {
                                kind: kind.into(),
                                url: Some(u.clone()),
                                ..Attachment::default()
                            })
                        })
                        .collect(),
                    at: c.created.as_ref().map_or_else(entry_at, |t| ms(t.millis)),
                })
            }
            Change::FeedOther { item, .. } => ignored(account, &format!("feed.{item}")),
            Change::IgComment {
                id,
                text,
                from,
                by_account,
                media,
                parent,
                ..
            } => {
                let author = from.as_ref().map(|(from_id, username)| ContactRef {
                    external_id: if *by_account {
                        account.to_owned()
                    } else {
                        from_id.text.clone()
                    },
                    display_name: username.clone(),
                });
                NormalizedEvent::Comment(CommentEvent {
                    account_external_id: account.to_owned(),
                    action: CommentAction::Added,
                    post: PostRef {
                        external_id: media.0.text.clone(),
                        media_kind: media.1.clone(),
                        ..PostRef::default()
                    },
                    external_comment_id: id.text.clone(),
                    parent_external_id: parent.as_ref().map(|p| p.text.clone()),
                    by_account: author.as_ref().is_some_and(|a| a.external_id == account),
                    author,
                    text: text.clone(),
                    attachments: vec![],
                    at: entry_at(),
                })
            }
            Change::Mention {
                comment_id,
                media_id,
            } => NormalizedEvent::Mention(Mention {
                account_external_id: account.to_owned(),
                external_comment_id: comment_id.as_ref().map(|i| i.text.clone()),
                media_external_id: media_id.as_ref().map(|i| i.text.clone()),
                at: entry_at(),
            }),
            Change::Messaging { field, item } => {
                item.want(account, entry_time, *field == "standby")
            }
            Change::Other { field, .. } => ignored(account, &format!("changes.{field}")),
        }
    }
}

impl Entry {
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
        put(
            &mut e,
            "changes",
            self.changes
                .as_ref()
                .map(|c| c.iter().map(|c| c.to_json(&self.id)).collect()),
        );
        Value::Object(e)
    }

    /// The events this entry must give, in order: messaging, standby, changes.
    fn want(&self) -> Vec<NormalizedEvent> {
        let account = self.id.text.as_str();
        let time = self.time.as_ref().map(|t| t.millis);
        let messaging = self.messaging.iter().flatten().flatten();
        messaging
            .map(|i| i.want(account, time, false))
            .chain(
                self.standby
                    .iter()
                    .flatten()
                    .map(|i| i.want(account, time, true)),
            )
            .chain(self.changes.iter().flatten().map(|c| c.want(account, time)))
            .collect()
    }
}

fn envelope_json(object: &str, entries: &[Entry]) -> Value {
    json!({ "object": object, "entry": entries.iter().map(Entry::to_json).collect::<Vec<_>>() })
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
/// `object` is refused, and an accepted body gives one event per messaging, standby and change
/// item, each carrying the id of its entry.
fn check_result(
    env: &Value,
    result: &Result<Vec<NormalizedEvent>, ParseError>,
) -> Result<(), TestCaseError> {
    match env.get("object") {
        Some(Value::String(o)) if o != "page" && o != "instagram" => {
            prop_assert_eq!(result, &Ok(vec![]));
            return Ok(());
        }
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
            ["messaging", "standby", "changes"]
                .map(|k| e.get(k).and_then(Value::as_array).map_or(0, Vec::len))
        })
        .sum();
    // Every item and every change is exactly one event (`Ignored` when not acted on).
    prop_assert_eq!(
        events.len(),
        items,
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
    fn arbitrary_json_never_panics(
        value in json_value(),
        wrap in 0u8..5,
        object in select(vec!["page", "instagram"]),
        field in select(vec!["feed", "comments", "live_comments", "mentions", "messages", "standby", "ratings"]),
        style in 0u8..3,
    ) {
        // Wrapped, the value reaches the entry, item and change parsers too.
        let value = match wrap {
            0 => value,
            1 => json!({ "object": object, "entry": [value] }),
            2 => json!({ "object": object, "entry": [{ "id": "1", "time": 1, "messaging": [value] }] }),
            3 => json!({ "object": object, "entry": [{ "id": "1", "time": 1, "changes": [value] }] }),
            _ => json!({ "object": object, "entry": [{ "id": "1", "time": 1, "changes": [{ "field": field, "value": value }] }] }),
        };
        let body = encode(&value, style);
        let result = parse(&body);
        if let (Ok(events), 2..) = (&result, wrap) {
            prop_assert_eq!(events.len(), 1, "{} events from one item", events.len());
        }
    }

    #[test]
    fn near_valid_envelopes_never_panic(env in chaos_envelope(), style in 0u8..3) {
        let result = parse(&encode(&env, style));
        check_result(&env, &result)?;
    }

    #[test]
    fn valid_envelopes_with_damaged_fields_never_panic(
        object in select(vec!["page", "instagram"]),
        entries in prop::collection::vec(entry(), 1..4),
        damage in prop::collection::vec((any::<usize>(), damage()), 1..4),
        style in 0u8..3,
    ) {
        let mut env = envelope_json(object, &entries);
        for (pick, d) in &damage {
            apply_damage(&mut env, *pick, d);
        }
        let result = parse(&encode(&env, style));
        check_result(&env, &result)?;
    }

    #[test]
    fn valid_envelopes_give_exactly_the_modelled_events(
        object in select(vec!["page", "instagram"]),
        entries in prop::collection::vec(entry(), 0..4),
        style in 0u8..3,
    ) {
        let body = encode(&envelope_json(object, &entries), style);
        let events = parse(&body);
        prop_assert!(events.is_ok(), "valid body refused: {:?}", events);
        let events = events.unwrap_or_default();
        let expected: Vec<NormalizedEvent> = entries.iter().flat_map(Entry::want).collect();
        prop_assert_eq!(events, expected);

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
                // No timestamp and no mid: the entry's time and a derived id.
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
        assert_eq!(events.len(), ITEMS);
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
