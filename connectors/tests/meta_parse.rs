//! Meta webhook bodies (Facebook Pages and Instagram, `shared/specs/social.md` §2.4, §2.5, §3.1)
//! → normalized events, fixture by fixture.
//!
//! Every body is parsed through both connectors (the `/webhooks/facebook` and
//! `/webhooks/instagram` routes), which must agree, and its events are asserted exactly. Each
//! `*_numeric.json` fixture is the same body with ids as JSON numbers and timestamps as numeric
//! strings, compact like Meta sends it; it must give exactly the same events.

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use tongdai_connectors::facebook::{Facebook, FacebookConfig};
use tongdai_connectors::{
    Attachment, CommentAction, CommentEvent, ContactRef, DeliveryReceipt, DeliveryState,
    IgnoredEvent, InboundMessage, Mention, MessageDeletion, MessageEdit, MessageReaction,
    NormalizedEvent, ParseError, PostRef, Referral, ReferralEvent, WebhookInbound,
};

const PAGE: &str = "105123456789012";
const PSID: &str = "6789012345678901";
const PSID2: &str = "6789012345678902";
const IG: &str = "17841400000000001";
const IGSID: &str = "5614879045272581";
const APP_ID: &str = "1517776481860111";

fn config() -> FacebookConfig {
    FacebookConfig {
        app_id: Some(APP_ID.into()),
        app_secret: Some("test_app_secret".into()),
        verify_token: Some("verify-me".into()),
    }
}

/// Parse through both routes; they must agree.
fn try_parse(body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError> {
    let facebook = Facebook::new(config()).parse(body);
    let instagram = Facebook::instagram(config()).parse(body);
    assert_eq!(facebook, instagram, "the two routes disagree");
    facebook
}

fn parse(body: &str) -> Vec<NormalizedEvent> {
    try_parse(body.as_bytes()).unwrap_or_else(|e| panic!("fixture refused: {e}"))
}

/// Parse a fixture and its numeric twin, which must give the same events.
fn parse_pair(original: &str, numeric: &str) -> Vec<NormalizedEvent> {
    let events = parse(original);
    let twin: Value = serde_json::from_str(numeric).expect("twin is JSON");
    assert!(has_numeric_id(&twin), "the twin has no numeric id");
    assert!(numeric.is_ascii(), "Meta escapes non-ASCII");
    assert_eq!(
        parse(numeric),
        events,
        "the numeric twin gives other events"
    );
    events
}

/// Whether some id in `v` is a JSON number.
fn has_numeric_id(v: &Value) -> bool {
    match v {
        Value::Object(map) => map.iter().any(|(k, x)| {
            ((k == "id" || k.ends_with("_id")) && x.is_number()) || has_numeric_id(x)
        }),
        Value::Array(items) => items.iter().any(has_numeric_id),
        _ => false,
    }
}

fn ms(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .expect("valid test timestamp")
}

fn contact(id: &str, name: Option<&str>) -> ContactRef {
    ContactRef {
        external_id: id.into(),
        display_name: name.map(str::to_owned),
    }
}

/// A text message in a one-to-one thread, every optional part empty.
fn message(account: &str, customer: &str, mid: &str, millis: i64, text: &str) -> InboundMessage {
    InboundMessage {
        account_external_id: account.into(),
        contact: contact(customer, None),
        thread_external_id: customer.into(),
        external_message_id: mid.into(),
        sent_at: ms(millis),
        text: (!text.is_empty()).then(|| text.to_owned()),
        attachments: vec![],
        reply_to: None,
        app_id: None,
        quick_reply: None,
        postback: None,
        referral: None,
        standby: false,
    }
}

fn attachment(kind: &str, url: Option<&str>) -> Attachment {
    Attachment {
        kind: kind.into(),
        url: url.map(str::to_owned),
        ..Attachment::default()
    }
}

fn receipt(
    account: &str,
    customer: &str,
    mids: &[&str],
    watermark: Option<i64>,
    state: DeliveryState,
) -> NormalizedEvent {
    NormalizedEvent::DeliveryStatus(DeliveryReceipt {
        account_external_id: account.into(),
        contact_external_id: customer.into(),
        external_message_ids: mids.iter().map(|m| (*m).to_owned()).collect(),
        watermark: watermark.map(ms),
        state,
    })
}

fn reaction(
    account: &str,
    customer: &str,
    mid: &str,
    emoji: Option<&str>,
    name: Option<&str>,
    removed: bool,
    millis: i64,
) -> NormalizedEvent {
    NormalizedEvent::Reaction(MessageReaction {
        account_external_id: account.into(),
        contact_external_id: customer.into(),
        external_message_id: mid.into(),
        emoji: emoji.map(str::to_owned),
        reaction: name.map(str::to_owned),
        removed,
        at: ms(millis),
    })
}

fn edited(
    account: &str,
    customer: &str,
    mid: &str,
    text: &str,
    millis: i64,
    count: u32,
) -> NormalizedEvent {
    NormalizedEvent::MessageEdited(MessageEdit {
        account_external_id: account.into(),
        contact_external_id: customer.into(),
        external_message_id: mid.into(),
        text: Some(text.into()),
        edited_at: ms(millis),
        edit_count: Some(count),
    })
}

fn deleted(account: &str, customer: &str, mid: &str, millis: i64) -> NormalizedEvent {
    NormalizedEvent::MessageDeleted(MessageDeletion {
        account_external_id: account.into(),
        contact_external_id: customer.into(),
        external_message_id: mid.into(),
        at: ms(millis),
    })
}

fn referral(source: &str, ref_param: &str) -> Referral {
    Referral {
        source: Some(source.into()),
        kind: Some("OPEN_THREAD".into()),
        ref_param: Some(ref_param.into()),
        ad_id: None,
        post_id: None,
    }
}

fn referred(account: &str, customer: &str, referral: Referral, millis: i64) -> NormalizedEvent {
    NormalizedEvent::Referred(ReferralEvent {
        account_external_id: account.into(),
        contact: contact(customer, None),
        referral,
        at: ms(millis),
    })
}

fn ignored(account: &str, kind: &str) -> NormalizedEvent {
    NormalizedEvent::Ignored(IgnoredEvent {
        account_external_id: account.into(),
        kind: kind.into(),
    })
}

fn post(id: &str) -> PostRef {
    PostRef {
        external_id: id.into(),
        ..PostRef::default()
    }
}

/// A comment with no parent, author, text or attachments: fill in with struct update.
fn comment(
    account: &str,
    action: CommentAction,
    post: PostRef,
    id: &str,
    millis: i64,
) -> CommentEvent {
    CommentEvent {
        account_external_id: account.into(),
        action,
        post,
        external_comment_id: id.into(),
        parent_external_id: None,
        author: None,
        by_account: false,
        text: None,
        attachments: vec![],
        at: ms(millis),
    }
}

// ---- Facebook Messenger ------------------------------------------------------------------------

#[test]
fn vietnamese_text_message_is_received() {
    let events = parse_pair(
        include_str!("../fixtures/facebook/text_vi.json"),
        include_str!("../fixtures/facebook/text_vi_numeric.json"),
    );
    assert_eq!(
        events,
        vec![NormalizedEvent::MessageReceived(message(
            PAGE,
            PSID,
            "m_AbCdEf123",
            1_718_000_000_000,
            "Shop ơi, áo này còn size M không?"
        ))]
    );
}

#[test]
fn batch_of_echo_delivery_and_read_yields_three_events_in_order() {
    let events = parse_pair(
        include_str!("../fixtures/facebook/batch_echo_delivery_read.json"),
        include_str!("../fixtures/facebook/batch_echo_delivery_read_numeric.json"),
    );
    assert_eq!(
        events,
        vec![
            // Echoes go account → customer: the contact and thread are the recipient.
            NormalizedEvent::MessageEcho(InboundMessage {
                app_id: Some(APP_ID.into()),
                ..message(PAGE, PSID, "m_Out001", 1_718_000_004_900, "Còn bạn nhé")
            }),
            receipt(
                PAGE,
                PSID,
                &["m_Out001"],
                Some(1_718_000_004_950),
                DeliveryState::Delivered
            ),
            receipt(
                PAGE,
                PSID,
                &[],
                Some(1_718_000_004_950),
                DeliveryState::Read
            ),
        ]
    );
    let NormalizedEvent::MessageEcho(echo) = &events[0] else {
        unreachable!("asserted above");
    };
    assert!(Facebook::new(config()).is_own_app(echo.app_id.as_deref()));
}

#[test]
fn numeric_ids_and_string_timestamps_are_accepted() {
    let events = parse(include_str!("../fixtures/facebook/numeric_ids.json"));
    assert_eq!(
        events,
        vec![
            NormalizedEvent::MessageReceived(message(
                "12345654332",
                "987654321432",
                "mid.1457764197618:41d102a3e1ae206a38",
                1_457_764_197_627,
                "hello, world!"
            )),
            NormalizedEvent::MessageEcho(InboundMessage {
                app_id: Some(APP_ID.into()),
                ..message(
                    "12345654332",
                    "987654321432",
                    "mid.1457764198000:echo",
                    1_457_764_198_000,
                    "hi back"
                )
            }),
        ]
    );
}

#[test]
fn timestamps_in_seconds_are_normalized_and_entry_time_is_the_fallback() {
    let events = parse(include_str!("../fixtures/facebook/seconds_timestamps.json"));
    assert_eq!(
        events,
        vec![
            NormalizedEvent::MessageReceived(message(
                PAGE,
                PSID,
                "m_seconds",
                1_718_000_000_000,
                "timestamp in seconds"
            )),
            NormalizedEvent::MessageReceived(message(
                PAGE,
                PSID,
                "m_no_timestamp",
                1_718_000_100_000,
                "falls back to entry.time (seconds)"
            )),
            receipt(
                PAGE,
                PSID,
                &[],
                Some(1_718_000_000_000),
                DeliveryState::Read
            ),
        ]
    );
}

#[test]
fn every_entry_of_a_batch_is_parsed_with_its_own_page() {
    let body = include_str!("../fixtures/facebook/multi_page.json");
    assert_eq!(
        parse(body),
        vec![
            NormalizedEvent::MessageReceived(message(
                PAGE,
                PSID,
                "m_page1_a",
                1_718_000_009_000,
                "first page, first message"
            )),
            NormalizedEvent::MessageReceived(message(
                PAGE,
                PSID2,
                "m_page1_b",
                1_718_000_009_500,
                "first page, second customer"
            )),
            NormalizedEvent::MessageReceived(message(
                "209876543210987",
                "7000000000000001",
                "m_page2_a",
                1_718_000_010_500,
                "second page"
            )),
            NormalizedEvent::MessageReceived(message(
                PAGE,
                PSID,
                "m_page1_c",
                1_718_000_011_900,
                "first page again, later entry"
            )),
        ]
    );
    for fb in [Facebook::new(config()), Facebook::instagram(config())] {
        assert_eq!(
            fb.account_hints(body.as_bytes()),
            vec![PAGE.to_owned(), "209876543210987".to_owned()]
        );
    }
}

#[test]
fn standby_items_are_parsed_like_messaging_items_and_flagged() {
    let events = parse_pair(
        include_str!("../fixtures/facebook/standby.json"),
        include_str!("../fixtures/facebook/standby_numeric.json"),
    );
    assert_eq!(
        events,
        vec![
            NormalizedEvent::MessageReceived(InboundMessage {
                standby: true,
                ..message(
                    PAGE,
                    PSID,
                    "m_standby_in",
                    1_718_000_019_000,
                    "while another app owns the thread"
                )
            }),
            NormalizedEvent::MessageEcho(InboundMessage {
                standby: true,
                app_id: Some("263902037430900".into()),
                ..message(
                    PAGE,
                    PSID,
                    "m_standby_echo",
                    1_718_000_019_500,
                    "reply from the primary receiver"
                )
            }),
        ]
    );
}

#[test]
fn every_attachment_kind_quick_reply_reply_to_and_ad_referral_are_kept() {
    let events = parse_pair(
        include_str!("../fixtures/facebook/message_attachments.json"),
        include_str!("../fixtures/facebook/message_attachments_numeric.json"),
    );
    let attachments = vec![
        attachment(
            "image",
            Some("https://scontent.xx.fbcdn.net/v/t1.15752-9/ao.jpg?_nc_cat=1&oh=abc"),
        ),
        // A Messenger sticker is an image with a sticker id.
        Attachment {
            payload: Some(json!({ "sticker_id": 369_239_263_222_822_u64 })),
            ..attachment("image", Some("https://scontent.xx.fbcdn.net/sticker.png"))
        },
        attachment("video", Some("https://video.xx.fbcdn.net/v/clip.mp4")),
        attachment("audio", Some("https://cdn.fbsbx.com/v/voice.mp4")),
        attachment("file", Some("https://cdn.fbsbx.com/v/bảng-giá.pdf")),
        Attachment {
            title: Some("Chợ Bến Thành".into()),
            payload: Some(json!({ "coordinates": { "lat": 10.7725, "long": 106.698 } })),
            ..attachment(
                "location",
                Some("https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps"),
            )
        },
        // Older fallback shape: title and url beside a null payload.
        Attachment {
            title: Some("Áo thun".into()),
            ..attachment("fallback", Some("https://shop.example.vn/p/123"))
        },
        Attachment {
            title: Some("Quần jean".into()),
            ..attachment("fallback", Some("https://shop.example.vn/p/456"))
        },
        Attachment {
            payload: Some(json!({ "template_type": "generic", "elements": [{ "title": "Áo" }] })),
            ..attachment("template", None)
        },
        Attachment {
            payload: Some(json!({ "depth": 3 })),
            ..attachment("hologram", Some("https://example.vn/h"))
        },
        attachment("unknown", Some("https://example.vn/no-type")),
        attachment("video", None),
    ];
    assert_eq!(
        events,
        vec![
            NormalizedEvent::MessageReceived(InboundMessage {
                attachments,
                ..message(PAGE, PSID, "m_media", 1_718_000_039_000, "")
            }),
            NormalizedEvent::MessageReceived(InboundMessage {
                reply_to: Some("m_Out001".into()),
                quick_reply: Some("SIZE_M".into()),
                ..message(PAGE, PSID, "m_reply", 1_718_000_039_500, "Size M")
            }),
            NormalizedEvent::MessageReceived(InboundMessage {
                referral: Some(Referral {
                    ad_id: Some("6045246247433".into()),
                    post_id: Some("998877665544332".into()),
                    ..referral("ADS", "tet-sale")
                }),
                ..message(
                    PAGE,
                    PSID2,
                    "m_from_ad",
                    1_718_000_039_900,
                    "Tư vấn giúp mình"
                )
            }),
        ]
    );
}

#[test]
fn postbacks_are_messages_with_their_title_and_payload() {
    let body = include_str!("../fixtures/facebook/postback.json");
    let events = parse_pair(
        body,
        include_str!("../fixtures/facebook/postback_numeric.json"),
    );
    assert_eq!(
        events,
        vec![
            NormalizedEvent::MessageReceived(InboundMessage {
                postback: Some("BUY_NOW".into()),
                ..message(PAGE, PSID, "m_postback_1", 1_718_000_059_000, "Mua ngay")
            }),
            // No mid before Graph v11.0: one is derived from sender and timestamp.
            NormalizedEvent::MessageReceived(InboundMessage {
                postback: Some("GET_STARTED".into()),
                ..message(
                    PAGE,
                    PSID,
                    "postback:6789012345678901:1718000059100",
                    1_718_000_059_100,
                    "Bắt đầu"
                )
            }),
            NormalizedEvent::MessageReceived(InboundMessage {
                postback: Some("GET_STARTED".into()),
                referral: Some(referral("SHORTLINK", "fanpage-link")),
                ..message(PAGE, PSID2, "m_postback_2", 1_718_000_059_200, "Bắt đầu")
            }),
        ]
    );
    // A redelivery of the same bytes gets the same derived id.
    assert_eq!(parse(body), events);
}

#[test]
fn a_standalone_referral_is_a_referred_event() {
    let events = parse_pair(
        include_str!("../fixtures/facebook/referral.json"),
        include_str!("../fixtures/facebook/referral_numeric.json"),
    );
    assert_eq!(
        events,
        vec![
            referred(
                PAGE,
                PSID,
                Referral {
                    ad_id: Some("6045246247433".into()),
                    post_id: Some("998877665544332".into()),
                    ..referral("ADS", "tet-sale")
                },
                1_718_000_069_000
            ),
            referred(
                PAGE,
                PSID2,
                referral("SHORTLINK", "zalo-bio"),
                1_718_000_069_500
            ),
            // No timestamp: the entry's time.
            referred(
                PAGE,
                PSID2,
                referral("CUSTOMER_CHAT_PLUGIN", "home"),
                1_718_000_070_000
            ),
        ]
    );
}

#[test]
fn reactions_edits_and_unsends_are_their_own_events() {
    let events = parse_pair(
        include_str!("../fixtures/facebook/reaction_edit_unsend.json"),
        include_str!("../fixtures/facebook/reaction_edit_unsend_numeric.json"),
    );
    assert_eq!(
        events,
        vec![
            reaction(
                PAGE,
                PSID,
                "m_Out001",
                Some("😢"),
                Some("sad"),
                false,
                1_718_000_079_000
            ),
            reaction(PAGE, PSID, "m_Out001", None, None, true, 1_718_000_079_100),
            edited(
                PAGE,
                PSID,
                "m_AbCdEf123",
                "Shop ơi, còn size L không?",
                1_718_000_079_200,
                2
            ),
            deleted(PAGE, PSID, "m_unsent", 1_718_000_079_300),
        ]
    );
}

#[test]
fn every_other_messaging_event_is_named_and_ignored() {
    let events = parse_pair(
        include_str!("../fixtures/facebook/ignored_messaging.json"),
        include_str!("../fixtures/facebook/ignored_messaging_numeric.json"),
    );
    let kinds = [
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
        "some_future_event",
        "empty",
    ];
    let expected: Vec<NormalizedEvent> = kinds
        .iter()
        .map(|k| ignored(PAGE, &format!("messaging.{k}")))
        .collect();
    assert_eq!(events, expected);
}

#[test]
fn a_mixed_batch_gives_one_event_per_item_in_order() {
    let events = parse(include_str!("../fixtures/facebook/mixed_batch.json"));
    assert_eq!(
        events,
        vec![
            deleted(PAGE, PSID, "m_unsent", 1_718_000_029_000),
            NormalizedEvent::MessageReceived(InboundMessage {
                postback: Some("BUY_NOW".into()),
                ..message(PAGE, PSID, "m_postback", 1_718_000_029_100, "Mua ngay")
            }),
            reaction(
                PAGE,
                PSID,
                "m_Out001",
                Some("😢"),
                Some("sad"),
                false,
                1_718_000_029_200
            ),
            edited(PAGE, PSID, "m_AbCdEf123", "edited", 1_718_000_029_300, 1),
            ignored(PAGE, "messaging.optin"),
            referred(PAGE, PSID, referral("ADS", "ad-42"), 1_718_000_029_500),
            ignored(PAGE, "messaging.some_future_event"),
            NormalizedEvent::MessageReceived(message(
                PAGE,
                PSID,
                "m_kept",
                1_718_000_029_700,
                "the only message that counts"
            )),
            NormalizedEvent::Comment(CommentEvent {
                author: Some(contact("7012345678901234", Some("Nguyễn Văn A"))),
                text: Some("Giá bao nhiêu shop?".into()),
                ..comment(
                    PAGE,
                    CommentAction::Added,
                    post("105123456789012_998877665544332"),
                    "998877665544332_112233445566778",
                    1_718_000_099_000
                )
            }),
            ignored(PAGE, "feed.reaction"),
        ]
    );
}

// ---- Facebook Page feed --------------------------------------------------------------------------

#[test]
fn feed_comments_are_added_replied_edited_removed_hidden_and_unhidden() {
    let events = parse_pair(
        include_str!("../fixtures/facebook/feed_comments.json"),
        include_str!("../fixtures/facebook/feed_comments_numeric.json"),
    );
    let post_id = "105123456789012_998877665544332";
    let top = "998877665544332_112233445566778";
    let a = || Some(contact("7012345678901234", Some("Nguyễn Văn A")));
    let b = || Some(contact("7012345678901235", Some("Trần Thị B")));
    let expected = vec![
        CommentEvent {
            author: a(),
            text: Some("Giá bao nhiêu shop?".into()),
            ..comment(
                PAGE,
                CommentAction::Added,
                PostRef {
                    external_id: post_id.into(),
                    permalink: Some(
                        "https://www.facebook.com/105123456789012/posts/998877665544332".into(),
                    ),
                    text: Some("Áo thun cotton, đủ size".into()),
                    media_kind: Some("added_photos".into()),
                },
                top,
                1_718_000_099_000,
            )
        },
        // The Page's own reply.
        CommentEvent {
            parent_external_id: Some(top.into()),
            author: Some(contact(PAGE, Some("Shop Áo Đẹp"))),
            by_account: true,
            text: Some("Dạ 199k ạ".into()),
            ..comment(
                PAGE,
                CommentAction::Added,
                post(post_id),
                "998877665544332_112233445566779",
                1_718_000_105_000,
            )
        },
        CommentEvent {
            parent_external_id: Some(top.into()),
            author: b(),
            attachments: vec![attachment(
                "image",
                Some("https://scontent.xx.fbcdn.net/v/comment-photo.jpg"),
            )],
            ..comment(
                PAGE,
                CommentAction::Added,
                post(post_id),
                "998877665544332_112233445566780",
                1_718_000_106_000,
            )
        },
        // No parent_id at all: top-level.
        CommentEvent {
            author: Some(contact("7012345678901235", None)),
            text: Some("xem video nè".into()),
            attachments: vec![attachment(
                "video",
                Some("https://video.xx.fbcdn.net/v/comment-video.mp4"),
            )],
            ..comment(
                PAGE,
                CommentAction::Added,
                post(post_id),
                "998877665544332_112233445566781",
                1_718_000_107_000,
            )
        },
        // Second entry: time and created_time in milliseconds.
        CommentEvent {
            author: a(),
            text: Some("Giá bao nhiêu vậy shop?".into()),
            ..comment(
                PAGE,
                CommentAction::Edited,
                post(post_id),
                top,
                1_718_000_199_000,
            )
        },
        // Older flat author (numeric sender_id); no created_time: the entry's time.
        CommentEvent {
            author: b(),
            ..comment(
                PAGE,
                CommentAction::Removed,
                post(post_id),
                "998877665544332_112233445566781",
                1_718_000_200_000,
            )
        },
        CommentEvent {
            parent_external_id: Some(top.into()),
            author: b(),
            ..comment(
                PAGE,
                CommentAction::Hidden,
                post(post_id),
                "998877665544332_112233445566780",
                1_718_000_210_000,
            )
        },
        CommentEvent {
            parent_external_id: Some(top.into()),
            author: b(),
            ..comment(
                PAGE,
                CommentAction::Unhidden,
                post(post_id),
                "998877665544332_112233445566780",
                1_718_000_220_000,
            )
        },
    ];
    assert_eq!(
        events,
        expected
            .into_iter()
            .map(NormalizedEvent::Comment)
            .collect::<Vec<_>>()
    );
}

#[test]
fn other_feed_items_verbs_and_fields_are_named_and_ignored() {
    let events = parse_pair(
        include_str!("../fixtures/facebook/feed_ignored.json"),
        include_str!("../fixtures/facebook/feed_ignored_numeric.json"),
    );
    let kinds = [
        "feed.status",
        "feed.post",
        "feed.photo",
        "feed.video",
        "feed.share",
        "feed.like",
        "feed.reaction",
        "feed.album",
        "feed.event",
        "feed.comment.block",
        "feed.comment",
        "feed",
        "changes.ratings",
        "changes.leadgen",
        "changes.mention",
    ];
    let expected: Vec<NormalizedEvent> = kinds.iter().map(|k| ignored(PAGE, k)).collect();
    assert_eq!(events, expected);
}

// ---- Instagram -----------------------------------------------------------------------------------

#[test]
fn instagram_text_dm_is_received_on_both_routes() {
    let body = include_str!("../fixtures/instagram/dm_text.json");
    let events = parse_pair(
        body,
        include_str!("../fixtures/instagram/dm_text_numeric.json"),
    );
    assert_eq!(
        events,
        vec![NormalizedEvent::MessageReceived(message(
            IG,
            IGSID,
            "aWdfZAG1faXRlbToxOklH...",
            1_718_000_300_400,
            "Còn màu đen không?"
        ))]
    );
    for fb in [Facebook::new(config()), Facebook::instagram(config())] {
        assert_eq!(fb.account_hints(body.as_bytes()), vec![IG.to_owned()]);
    }
}

#[test]
fn instagram_attachments_keep_their_kind_url_title_and_payload() {
    let events = parse_pair(
        include_str!("../fixtures/instagram/dm_attachments.json"),
        include_str!("../fixtures/instagram/dm_attachments_numeric.json"),
    );
    let cdn = |n: u8| format!("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id={n}");
    let attachments = vec![
        attachment("image", Some(&cdn(1))),
        attachment("video", Some(&cdn(2))),
        attachment("audio", Some(&cdn(3))),
        attachment("file", Some(&cdn(4))),
        attachment("share", Some("https://www.instagram.com/p/C7xyz/")),
        attachment("story_mention", Some(&cdn(5))),
        Attachment {
            title: Some("Phối đồ mùa hè".into()),
            payload: Some(json!({ "reel_video_id": "18034567890123456" })),
            ..attachment("ig_reel", Some(&cdn(6)))
        },
        Attachment {
            payload: Some(json!({ "reel_video_id": 18_034_567_890_123_457_u64 })),
            ..attachment("reel", Some("https://www.instagram.com/reel/C7abc/"))
        },
        attachment("ephemeral", Some(&cdn(7))),
    ];
    assert_eq!(
        events,
        vec![NormalizedEvent::MessageReceived(InboundMessage {
            attachments,
            ..message(
                IG,
                IGSID,
                "aWdfZAG1faXRlbToxOklHMedia",
                1_718_000_309_000,
                ""
            )
        })]
    );
}

#[test]
fn instagram_story_replies_become_a_story_reply_attachment() {
    let events = parse_pair(
        include_str!("../fixtures/instagram/dm_replies.json"),
        include_str!("../fixtures/instagram/dm_replies_numeric.json"),
    );
    assert_eq!(
        events,
        vec![
            NormalizedEvent::MessageReceived(InboundMessage {
                reply_to: Some("aWdfZAG1faXRlbToxOklHEarlier".into()),
                ..message(
                    IG,
                    IGSID,
                    "aWdfZAG1faXRlbToxOklHReply",
                    1_718_000_319_000,
                    "Cái này ạ"
                )
            }),
            NormalizedEvent::MessageReceived(InboundMessage {
                attachments: vec![Attachment {
                    payload: Some(json!({ "id": "17920000000000001" })),
                    ..attachment(
                        "story_reply",
                        Some("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=8"),
                    )
                }],
                ..message(
                    IG,
                    IGSID,
                    "aWdfZAG1faXRlbToxOklHStory",
                    1_718_000_319_500,
                    "Đẹp quá, bao nhiêu ạ?"
                )
            }),
            NormalizedEvent::MessageReceived(InboundMessage {
                quick_reply: Some("SIZE_S".into()),
                ..message(
                    IG,
                    IGSID,
                    "aWdfZAG1faXRlbToxOklHQuick",
                    1_718_000_319_800,
                    "Size S"
                )
            }),
        ]
    );
}

#[test]
fn instagram_echoes_unsends_and_unsupported_messages() {
    let events = parse_pair(
        include_str!("../fixtures/instagram/dm_echo_unsend_unsupported.json"),
        include_str!("../fixtures/instagram/dm_echo_unsend_unsupported_numeric.json"),
    );
    assert_eq!(
        events,
        vec![
            NormalizedEvent::MessageEcho(InboundMessage {
                app_id: Some(APP_ID.into()),
                ..message(
                    IG,
                    IGSID,
                    "aWdfZAG1faXRlbToxOklHEcho",
                    1_718_000_329_000,
                    "Dạ còn ạ"
                )
            }),
            deleted(IG, IGSID, "aWdfZAG1faXRlbToxOklHUnsent", 1_718_000_329_500),
            NormalizedEvent::MessageReceived(InboundMessage {
                attachments: vec![attachment("unsupported", None)],
                ..message(
                    IG,
                    IGSID,
                    "aWdfZAG1faXRlbToxOklHUnsupported",
                    1_718_000_329_800,
                    ""
                )
            }),
        ]
    );
}

#[test]
fn instagram_seen_reactions_postbacks_referrals_and_edits() {
    let events = parse_pair(
        include_str!("../fixtures/instagram/dm_other_events.json"),
        include_str!("../fixtures/instagram/dm_other_events_numeric.json"),
    );
    let echo = "aWdfZAG1faXRlbToxOklHEcho";
    assert_eq!(
        events,
        vec![
            // Instagram's read names the message, with no watermark.
            receipt(IG, IGSID, &[echo], None, DeliveryState::Read),
            reaction(
                IG,
                IGSID,
                echo,
                Some("❤"),
                Some("love"),
                false,
                1_718_000_339_100
            ),
            reaction(IG, IGSID, echo, None, Some("love"), true, 1_718_000_339_200),
            NormalizedEvent::MessageReceived(InboundMessage {
                postback: Some("PRICE_LIST".into()),
                ..message(
                    IG,
                    IGSID,
                    "aWdfZAG1faXRlbToxOklHPostback",
                    1_718_000_339_300,
                    "Xem bảng giá"
                )
            }),
            referred(
                IG,
                IGSID,
                Referral {
                    ad_id: Some("23851234567890123".into()),
                    ..referral("ADS", "ig-bio")
                },
                1_718_000_339_400
            ),
            edited(
                IG,
                IGSID,
                "aWdfZAG1faXRlbToxOklHReply",
                "Cái này nhé",
                1_718_000_339_500,
                1
            ),
        ]
    );
}

#[test]
fn instagram_standby_messages_are_flagged() {
    let events = parse_pair(
        include_str!("../fixtures/instagram/standby.json"),
        include_str!("../fixtures/instagram/standby_numeric.json"),
    );
    assert_eq!(
        events,
        vec![NormalizedEvent::MessageReceived(InboundMessage {
            standby: true,
            ..message(
                IG,
                IGSID,
                "aWdfZAG1faXRlbToxOklHStandby",
                1_718_000_349_000,
                "còn hàng không"
            )
        })]
    );
}

#[test]
fn instagram_comments_and_live_comments_are_added_comments() {
    let events = parse_pair(
        include_str!("../fixtures/instagram/comments.json"),
        include_str!("../fixtures/instagram/comments_numeric.json"),
    );
    let media = |id: &str, kind: &str| PostRef {
        external_id: id.into(),
        media_kind: Some(kind.into()),
        ..PostRef::default()
    };
    let expected = vec![
        // Entry time in seconds.
        CommentEvent {
            author: Some(contact(IGSID, Some("lan.nguyen"))),
            text: Some("Ship về Đà Nẵng bao lâu ạ?".into()),
            ..comment(
                IG,
                CommentAction::Added,
                media("18172143295349192", "FEED"),
                "17900000000000042",
                1_718_000_200_000,
            )
        },
        // The account's own reply.
        CommentEvent {
            parent_external_id: Some("17900000000000042".into()),
            author: Some(contact(IG, Some("shop.ao.dep"))),
            by_account: true,
            text: Some("@lan.nguyen 2-3 ngày ạ".into()),
            ..comment(
                IG,
                CommentAction::Added,
                media("18172143295349192", "FEED"),
                "17900000000000043",
                1_718_000_200_000,
            )
        },
        // Entry time in milliseconds.
        CommentEvent {
            author: Some(contact("5614879045272582", Some("minh.tran"))),
            text: Some("Giá?".into()),
            ..comment(
                IG,
                CommentAction::Added,
                media("18172143295349200", "REELS"),
                "17900000000000044",
                1_718_000_400_123,
            )
        },
        CommentEvent {
            author: Some(contact("5614879045272583", Some("hoa.le"))),
            text: Some("Chốt đơn!".into()),
            ..comment(
                IG,
                CommentAction::Added,
                media("18172143295349300", "LIVE"),
                "17900000000000045",
                1_718_000_400_123,
            )
        },
    ];
    assert_eq!(
        events,
        expected
            .into_iter()
            .map(NormalizedEvent::Comment)
            .collect::<Vec<_>>()
    );
}

#[test]
fn instagram_mentions_name_the_comment_and_media() {
    let events = parse_pair(
        include_str!("../fixtures/instagram/mentions.json"),
        include_str!("../fixtures/instagram/mentions_numeric.json"),
    );
    assert_eq!(
        events,
        vec![
            NormalizedEvent::Mention(Mention {
                account_external_id: IG.into(),
                external_comment_id: Some("17900000000000050".into()),
                media_external_id: Some("18172143295349400".into()),
                at: ms(1_718_000_500_000),
            }),
            NormalizedEvent::Mention(Mention {
                account_external_id: IG.into(),
                external_comment_id: None,
                media_external_id: Some("18172143295349401".into()),
                at: ms(1_718_000_500_000),
            }),
        ]
    );
}

#[test]
fn dashboard_test_events_under_changes_parse_like_messaging_items() {
    let events = parse_pair(
        include_str!("../fixtures/instagram/test_event.json"),
        include_str!("../fixtures/instagram/test_event_numeric.json"),
    );
    // The test shape's entry id is "0": the events belong to no connected account.
    let at = 1_527_459_824_000;
    assert_eq!(
        events,
        vec![
            NormalizedEvent::MessageReceived(message(
                "0",
                "12334",
                "random_mid",
                at,
                "random_text"
            )),
            NormalizedEvent::MessageReceived(InboundMessage {
                postback: Some("Payload".into()),
                ..message("0", "12334", "random_postback_mid", at, "Title")
            }),
            reaction(
                "0",
                "12334",
                "random_mid",
                Some("❤"),
                Some("love"),
                false,
                at
            ),
            receipt("0", "12334", &["random_mid"], None, DeliveryState::Read),
            NormalizedEvent::MessageReceived(InboundMessage {
                standby: true,
                ..message("0", "12334", "random_standby_mid", at, "random_text")
            }),
            ignored("0", "messaging.optin"),
        ]
    );
}

#[test]
fn other_instagram_fields_are_named_and_ignored() {
    let events = parse_pair(
        include_str!("../fixtures/instagram/ignored_changes.json"),
        include_str!("../fixtures/instagram/ignored_changes_numeric.json"),
    );
    assert_eq!(
        events,
        vec![
            ignored(IG, "changes.story_insights"),
            ignored(IG, "changes.quality_update"),
        ]
    );
}

// ---- Edge cases ----------------------------------------------------------------------------------

#[test]
fn other_objects_belong_to_other_connectors() {
    for body in [
        &br#"{"object":"user","entry":5}"#[..],
        br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{}}]}]}"#,
        br#"{"object":"permissions","entry":[]}"#,
    ] {
        assert_eq!(try_parse(body), Ok(vec![]));
    }
    assert_eq!(
        try_parse(br#"{"object":"instagram","entry":[]}"#),
        Ok(vec![])
    );
}

#[test]
fn an_item_with_several_payload_keys_gives_one_event() {
    // A handled key wins over ignored ones, in the order message, postback, referral, …
    let body = json!({"object": "page", "entry": [{"id": PAGE, "time": 1_718_000_000_000_i64, "messaging": [
        {"sender": {"id": PSID}, "optin": {"ref": "x"}, "delivery": {"mids": ["m_1"]},
         "message": {"mid": "m_2", "text": "hi"}},
        {"sender": {"id": PSID}, "zeta": 1, "alpha": {}, "optin": {}},
        {"sender": {"id": PSID}, "message": null, "delivery": {"mids": ["m_3"]}},
        {"sender": {"id": PSID}, "message": null},
    ]}]});
    let events = parse(&body.to_string());
    assert_eq!(
        events,
        vec![
            NormalizedEvent::MessageReceived(message(PAGE, PSID, "m_2", 1_718_000_000_000, "hi")),
            // Several unknown keys: the alphabetically first names the event.
            ignored(PAGE, "messaging.alpha"),
            receipt(PAGE, PSID, &["m_3"], None, DeliveryState::Delivered),
            ignored(PAGE, "messaging.empty"),
        ]
    );
}

#[test]
fn a_derived_postback_id_depends_only_on_sender_and_time() {
    let body = |title: &str, ts: i64| {
        json!({"object": "instagram", "entry": [{"id": IG, "messaging": [
            {"sender": {"id": IGSID}, "recipient": {"id": IG}, "timestamp": ts,
             "postback": {"title": title, "payload": "P"}}]}]})
        .to_string()
    };
    let id = |events: Vec<NormalizedEvent>| match &events[..] {
        [NormalizedEvent::MessageReceived(m)] => m.external_message_id.clone(),
        other => panic!("expected one message, got {other:?}"),
    };
    let a = id(parse(&body("Mua", 1_718_000_000_000)));
    assert_eq!(a, format!("postback:{IGSID}:1718000000000"));
    // Seconds or milliseconds, same instant: same id.
    assert_eq!(id(parse(&body("Mua", 1_718_000_000))), a);
    assert_ne!(id(parse(&body("Mua", 1_718_000_000_001))), a);
}

#[test]
fn malformed_bodies_are_parse_errors_naming_the_item() {
    let cases: &[(&str, &str)] = &[
        ("not json", "invalid JSON"),
        ("", "invalid JSON"),
        (r#"{"entry":[]}"#, "missing \"object\""),
        (r#"{"object":7,"entry":[]}"#, "\"object\" is not a string"),
        (r#"{"object":"page"}"#, "missing \"entry\" array"),
        (r#"{"object":"instagram"}"#, "missing \"entry\" array"),
        (
            r#"{"object":"page","entry":{}}"#,
            "\"entry\" is not an array",
        ),
        (
            r#"{"object":"page","entry":[5]}"#,
            "entry[0]: not an object",
        ),
        (
            r#"{"object":"page","entry":[{"time":1718000000000,"messaging":[]}]}"#,
            "entry[0]: missing \"id\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"","messaging":[]}]}"#,
            "entry[0]: missing \"id\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":true}]}"#,
            "entry[0]: id: invalid type: boolean `true`",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":"abc"}]}"#,
            "entry[0]: time: timestamp \"abc\" is not a number",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","messaging":{}}]}"#,
            "entry[0]: \"messaging\" is not an array",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","messaging":[7]}]}"#,
            "entry[0].messaging[0]: not an object",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[]},{"id":"1","time":1,"messaging":[{"sender":{"id":"2"},"message":{"text":"hi"}}]}]}"#,
            "entry[1].messaging[0]: message without \"mid\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"message":{"mid":"m","text":"hi"}}]}]}"#,
            "entry[0].messaging[0]: message without \"timestamp\" and entry without \"time\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[{},{"sender":{"id":2.5}}]}]}"#,
            "entry[0].messaging[1]: sender: invalid type: floating point `2.5`",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"standby":[{"recipient":{"id":"1"},"timestamp":1,"message":{"mid":"m"}}]}]}"#,
            "entry[0].standby[0]: message without sender.id",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"2"},"message":{"mid":"m","is_echo":true}}]}]}"#,
            "entry[0].messaging[0]: message without recipient.id",
        ),
        (
            r#"{"object":"instagram","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"2"},"message":{"mid":"m","text":42}}]}]}"#,
            "entry[0].messaging[0]: message: invalid type: integer `42`, expected a string",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"2"},"delivery":{"watermark":9223372036854775807}}]}]}"#,
            "entry[0].messaging[0]: watermark 9223372036854775807 out of range",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"recipient":{"id":"1"},"postback":{"title":"t"}}]}]}"#,
            "entry[0].messaging[0]: postback without sender.id",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"2"},"reaction":{"action":"react"}}]}]}"#,
            "entry[0].messaging[0]: reaction without \"mid\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"messaging":[{"sender":{"id":"2"},"message_edit":{"text":"x"}}]}]}"#,
            "entry[0].messaging[0]: message_edit without \"mid\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","messaging":[{"sender":{"id":"2"},"referral":{"ref":"x"}}]}]}"#,
            "entry[0].messaging[0]: referral without \"timestamp\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"changes":[{"value":{}}]}]}"#,
            "entry[0].changes[0]: missing \"field\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"changes":[7]}]}"#,
            "entry[0].changes[0]: not an object",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"feed"}]}]}"#,
            "entry[0].changes[0]: feed change without \"value\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"feed","value":{"item":"status"}},{"field":"feed","value":{"item":"comment","verb":"add","post_id":"1_2"}}]}]}"#,
            "entry[0].changes[1]: feed comment without \"comment_id\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"feed","value":{"item":"comment","verb":"add","comment_id":"2_3"}}]}]}"#,
            "entry[0].changes[0]: feed comment without \"post_id\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","changes":[{"field":"feed","value":{"item":"comment","verb":"remove","comment_id":"2_3","post_id":"1_2"}}]}]}"#,
            "entry[0].changes[0]: feed comment without \"created_time\" in an entry without \"time\"",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"feed","value":{"item":"comment","verb":"add","comment_id":"2_3","post_id":"1_2","from":{"id":true}}}]}]}"#,
            "entry[0].changes[0]: value: invalid type: boolean `true`",
        ),
        (
            r#"{"object":"page","entry":[{"id":"1","time":1,"changes":[{"field":"feed","value":{"item":7}}]}]}"#,
            "entry[0].changes[0]: \"item\" is not a string",
        ),
        (
            r#"{"object":"instagram","entry":[{"id":"1","time":1,"changes":[{"field":"comments","value":{"id":"5","text":"x"}}]}]}"#,
            "entry[0].changes[0]: comment without media.id",
        ),
        (
            r#"{"object":"instagram","entry":[{"id":"1","time":1,"changes":[{"field":"comments","value":{"media":{"id":"5"}}}]}]}"#,
            "entry[0].changes[0]: comment without \"id\"",
        ),
        (
            r#"{"object":"instagram","entry":[{"id":"1","changes":[{"field":"mentions","value":{"media_id":"5"}}]}]}"#,
            "entry[0].changes[0]: mention in an entry without \"time\"",
        ),
        (
            r#"{"object":"instagram","entry":[{"id":"0","time":1,"changes":[{"field":"messages","value":{"sender":{"id":"1"},"message":{"text":"t"}}}]}]}"#,
            "entry[0].changes[0].value: message without \"mid\"",
        ),
        (
            r#"{"object":"instagram","entry":[{"id":"0","time":1,"changes":[{"field":"messages"}]}]}"#,
            "entry[0].changes[0]: messages change without \"value\"",
        ),
    ];
    for (body, expected) in cases {
        let err = try_parse(body.as_bytes()).expect_err(body);
        assert!(
            err.0.contains(expected),
            "{body:?} → {:?}, wanted {expected:?}",
            err.0
        );
    }
}

#[test]
fn account_hints_are_best_effort_for_both_objects() {
    for fb in [Facebook::new(config()), Facebook::instagram(config())] {
        assert!(fb.account_hints(b"not json").is_empty());
        assert_eq!(
            fb.account_hints(br#"{"object":"page","entry":[{"id":12345654332}]}"#),
            vec!["12345654332".to_owned()]
        );
        // Hints survive a body that does not parse.
        let broken = br#"{"object":"instagram","entry":[{"id":"17841400000000001","messaging":[{"message":{}}]},{"id":17841400000000002}]}"#;
        assert!(fb.parse(broken).is_err());
        assert_eq!(
            fb.account_hints(broken),
            vec![IG.to_owned(), "17841400000000002".to_owned()]
        );
    }
}
