use chrono::TimeZone;

use super::*;
use crate::types::CommentAction;

/// `shared/specs/social.md` §5.1, the constructed example, inside a list answer.
const SPEC_THREAD: &str = r#"{"kind":"youtube#commentThread","etag":"abc","id":"UgzX1y2Z3_thread",
 "snippet":{"channelId":"UCxxxxxxxxxxxxxxxxxxxxxx","videoId":"dQw4w9WgXcQ","canReply":true,"totalReplyCount":1,"isPublic":true,
  "topLevelComment":{"kind":"youtube#comment","etag":"def","id":"UgzX1y2Z3_thread",
   "snippet":{"channelId":"UCxxxxxxxxxxxxxxxxxxxxxx","videoId":"dQw4w9WgXcQ","textDisplay":"Gi\u00e1 bao nhi\u00eau v\u1eady shop?","textOriginal":"Gi\u00e1 bao nhi\u00eau v\u1eady shop?",
    "authorDisplayName":"@lannguyen","authorProfileImageUrl":"https://yt3.ggpht.com/x","authorChannelUrl":"http://www.youtube.com/@lannguyen",
    "authorChannelId":{"value":"UCyyyyyyyyyyyyyyyyyyyyyy"},"canRate":true,"viewerRating":"none","likeCount":0,
    "publishedAt":"2024-06-10T03:20:00Z","updatedAt":"2024-06-10T03:20:00Z"}}},
 "replies":{"comments":[{"kind":"youtube#comment","etag":"ghi","id":"UgzX1y2Z3_thread.AbCdEfGh",
   "snippet":{"parentId":"UgzX1y2Z3_thread","textDisplay":"D\u1ea1 250k \u1ea1","authorDisplayName":"@shopabc","authorChannelId":{"value":"UCxxxxxxxxxxxxxxxxxxxxxx"},
    "publishedAt":"2024-06-10T03:25:00Z","updatedAt":"2024-06-10T03:25:00Z","likeCount":0,"canRate":true,"viewerRating":"none","channelId":"UCxxxxxxxxxxxxxxxxxxxxxx","videoId":"dQw4w9WgXcQ"}}]}}"#;

const CHANNEL: &str = "UCxxxxxxxxxxxxxxxxxxxxxx";

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 10, h, m, 0)
        .single()
        .expect("valid")
}

fn comments(events: &[NormalizedEvent]) -> Vec<&crate::types::CommentEvent> {
    events
        .iter()
        .map(|e| match e {
            NormalizedEvent::Comment(c) => c,
            other => panic!("not a comment: {other:?}"),
        })
        .collect()
}

fn thread(id: &str, published: &str, updated: &str, text: &str, replies: u64) -> String {
    format!(
        r#"{{"id":"{id}","snippet":{{"videoId":"vid1","totalReplyCount":{replies},"topLevelComment":{{"id":"{id}","snippet":{{"textDisplay":"{text}","textOriginal":"{text}","authorDisplayName":"@a","authorChannelId":{{"value":"UCa"}},"publishedAt":"{published}","updatedAt":"{updated}"}}}}}}}}"#
    )
}

#[test]
fn the_spec_example_becomes_a_comment_and_the_channels_own_reply() {
    let t: wire::CommentThread = serde_json::from_str(SPEC_THREAD).expect("parses");
    assert!(!t.has_more_replies());
    let events = t.events(CHANNEL);
    let c = comments(&events);
    assert_eq!(c.len(), 2);
    let top = c[0];
    assert_eq!(top.action, CommentAction::Added);
    assert_eq!(top.account_external_id, CHANNEL);
    assert_eq!(top.external_comment_id, "UgzX1y2Z3_thread");
    assert_eq!(top.parent_external_id, None);
    assert_eq!(top.post.external_id, "dQw4w9WgXcQ");
    assert_eq!(
        top.post.permalink.as_deref(),
        Some("https://www.youtube.com/watch?v=dQw4w9WgXcQ")
    );
    assert_eq!(top.text.as_deref(), Some("Giá bao nhiêu vậy shop?"));
    let author = top.author.as_ref().expect("author");
    assert_eq!(author.external_id, "UCyyyyyyyyyyyyyyyyyyyyyy");
    assert_eq!(author.display_name.as_deref(), Some("@lannguyen"));
    assert!(!top.by_account);
    assert_eq!(top.at, at(3, 20));
    let reply = c[1];
    assert_eq!(reply.external_comment_id, "UgzX1y2Z3_thread.AbCdEfGh");
    assert_eq!(
        reply.parent_external_id.as_deref(),
        Some("UgzX1y2Z3_thread")
    );
    // Written by the channel itself: an echo of the seller's own answer.
    assert!(reply.by_account);
    // No textOriginal for a reader who is not the author: the displayed text.
    assert_eq!(reply.text.as_deref(), Some("Dạ 250k ạ"));
}

#[test]
fn an_edited_comment_also_yields_an_edit_at_its_update_time() {
    let raw = thread(
        "T1",
        "2024-06-10T03:20:00Z",
        "2024-06-10T04:00:00Z",
        "sdt 0912345678",
        0,
    );
    let t: wire::CommentThread = serde_json::from_str(&raw).expect("parses");
    let events = t.events(CHANNEL);
    let c = comments(&events);
    assert_eq!(c.len(), 2);
    assert_eq!(c[0].action, CommentAction::Added);
    assert_eq!(c[0].at, at(3, 20));
    assert_eq!(c[1].action, CommentAction::Edited);
    assert_eq!(c[1].at, at(4, 0));
    assert_eq!(c[1].text.as_deref(), Some("sdt 0912345678"));
}

#[test]
fn reply_ids_name_their_thread() {
    assert_eq!(thread_of("Ugz.Abc"), "Ugz");
    assert_eq!(thread_of("Ugz"), "Ugz");
    let c: wire::Comment = serde_json::from_str(
        r#"{"id":"T9.x1","snippet":{"publishedAt":"2024-06-10T03:20:00Z","textDisplay":"hi"}}"#,
    )
    .expect("parses");
    assert_eq!(c.thread_id(), "T9");
    assert!(!c.is_edited());
    assert_eq!(c.author_id(), None);
}

#[test]
fn a_pass_pages_until_a_thread_older_than_the_mark_minus_the_overlap() {
    let mut st = PollState {
        high_water: Some(at(4, 0)),
        ..PollState::default()
    };
    let pass = st.new_pass(at(5, 0));
    assert_eq!(pass.stop_before, Some(at(3, 50)));
    // A full page of new threads: the pass goes on.
    let page: wire::CommentThreadList = serde_json::from_str(&format!(
        r#"{{"nextPageToken":"p2","items":[{},{}]}}"#,
        thread("A", "2024-06-10T04:30:00Z", "2024-06-10T04:30:00Z", "a", 0),
        thread("B", "2024-06-10T04:10:00Z", "2024-06-10T04:10:00Z", "b", 7),
    ))
    .expect("parses");
    let events = st.take_threads(pass, CHANNEL, page);
    assert_eq!(events.len(), 2);
    assert_eq!(
        st.pass.as_ref().and_then(|p| p.page_token.as_deref()),
        Some("p2")
    );
    assert_eq!(
        st.high_water,
        Some(at(4, 0)),
        "unchanged until the pass ends"
    );
    // B has 7 replies and none included: they are read next.
    assert_eq!(st.replies.len(), 1);
    assert_eq!(st.replies[0].thread, "B");
    assert_eq!(st.replies[0].video, "vid1");
    assert!(st.more());
    // The next page reaches a thread older than 03:50: the pass ends there, even though
    // Google offers another page; the one inside the overlap (03:55) is read again.
    let pass = st.pass.take().expect("pass");
    let page: wire::CommentThreadList = serde_json::from_str(&format!(
        r#"{{"nextPageToken":"p3","items":[{},{}]}}"#,
        thread("C", "2024-06-10T03:55:00Z", "2024-06-10T03:55:00Z", "c", 0),
        thread("D", "2024-06-10T03:00:00Z", "2024-06-10T03:00:00Z", "d", 0),
    ))
    .expect("parses");
    let events = st.take_threads(pass, CHANNEL, page);
    assert_eq!(events.len(), 2);
    assert!(st.pass.is_none());
    assert_eq!(st.high_water, Some(at(4, 30)));
    assert!(st.more(), "B's replies are still to read");
    // The state survives a round trip through JSON (the hub stores it).
    let again = PollState::from_json(Some(&st.to_json()));
    assert_eq!(again, st);
    // Something unreadable starts afresh.
    assert_eq!(
        PollState::from_json(Some(&json!("garbage"))),
        PollState::default()
    );
}

#[test]
fn the_first_pass_reads_back_thirty_days() {
    let st = PollState::default();
    assert_eq!(
        st.new_pass(at(5, 0)).stop_before,
        Some(at(5, 0) - FIRST_POLL_LOOKBACK)
    );
}

#[test]
fn the_consent_url_asks_for_offline_access_to_comments() {
    let yt = Youtube::new(YoutubeConfig {
        client_id: Some("cid.apps.googleusercontent.com".into()),
        client_secret: Some("sec".into()),
    });
    let url = yt
        .authorize_url(
            "https://accounts.google.com/o/oauth2/",
            "https://shop.example/api/v1/channels/youtube/oauth/callback",
            "st4te",
            None,
        )
        .expect("url");
    let u = Url::parse(&url).expect("parses");
    assert_eq!(u.path(), "/o/oauth2/auth");
    let q: std::collections::HashMap<_, _> = u.query_pairs().into_owned().collect();
    assert_eq!(q["client_id"], "cid.apps.googleusercontent.com");
    assert_eq!(
        q["redirect_uri"],
        "https://shop.example/api/v1/channels/youtube/oauth/callback"
    );
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["scope"], SCOPE);
    assert_eq!(q["access_type"], "offline");
    assert_eq!(q["prompt"], "consent");
    assert_eq!(q["state"], "st4te");
    assert!(!url.contains("sec"), "the secret never goes to the browser");
    let unconfigured = Youtube::new(YoutubeConfig::default());
    assert!(
        unconfigured
            .authorize_url("https://x", "https://y", "s", None)
            .is_err()
    );
    assert!(!YoutubeConfig::default().is_configured());
}

#[test]
fn api_urls_carry_the_path_and_encoded_parameters() {
    let u = api_url(
        "https://www.googleapis.com/",
        "comments/setModerationStatus",
        &[("id", "Ugz.a b"), ("moderationStatus", "heldForReview")],
    )
    .expect("url");
    assert_eq!(
        u.as_str(),
        "https://www.googleapis.com/youtube/v3/comments/setModerationStatus?id=Ugz.a+b&moderationStatus=heldForReview"
    );
}

#[test]
fn errors_map_to_what_the_hub_does_about_them() {
    let now = Utc
        .with_ymd_and_hms(2026, 1, 15, 12, 0, 0)
        .single()
        .expect("valid");
    let body = |reason: &str, code: u16| {
        format!(
            r#"{{"error":{{"code":{code},"message":"m","errors":[{{"reason":"{reason}","domain":"youtube.quota","message":"m"}}]}}}}"#
        )
    };
    match classify_error(403, body("quotaExceeded", 403).as_bytes(), now) {
        ConnectorError::RateLimited {
            retry_after,
            message,
        } => {
            // Until midnight Pacific (08:00 UTC in January): 20 hours.
            assert_eq!(retry_after, Some(Duration::from_secs(20 * 3600)));
            assert!(message.contains("quotaExceeded"));
        }
        other => panic!("expected RateLimited, got {other:?}"),
    }
    assert!(matches!(
        classify_error(401, body("authError", 401).as_bytes(), now),
        ConnectorError::Unauthorized(_)
    ));
    match classify_error(403, body("forbidden", 403).as_bytes(), now) {
        ConnectorError::Forbidden { message, .. } => assert!(message.starts_with("forbidden")),
        other => panic!("expected Forbidden, got {other:?}"),
    }
    let e = classify_error(400, body("operationNotSupported", 400).as_bytes(), now);
    assert!(matches!(e, ConnectorError::Api { status: 400, .. }));
    assert!(!e.is_retryable());
    assert!(e.to_string().contains("operationNotSupported"));
    assert!(classify_error(500, b"oops", now).is_retryable());
    assert!(matches!(
        classify_error(403, body("rateLimitExceeded", 403).as_bytes(), now),
        ConnectorError::RateLimited {
            retry_after: Some(THROTTLE_BACKOFF),
            ..
        }
    ));
}

#[test]
fn a_channel_becomes_an_account_with_its_picture() {
    let list: wire::ChannelList = serde_json::from_str(
        r#"{"items":[{"id":"UCabc","snippet":{"title":"Shop ABC","customUrl":"@shopabc","thumbnails":{"default":{"url":"https://yt3/88"},"medium":{"url":"https://yt3/240"}}}}]}"#,
    )
    .expect("parses");
    let a = channel_account(list.items[0].clone());
    assert_eq!(a.external_id, "UCabc");
    assert_eq!(a.name.as_deref(), Some("Shop ABC"));
    assert_eq!(a.picture_url.as_deref(), Some("https://yt3/240"));
    assert_eq!(a.details["youtube_handle"], "@shopabc");
}

#[test]
fn replies_of_recently_active_threads_the_pass_does_not_reach_are_read_again_every_quarter_hour() {
    // A thread written at 01:00 and answered at 04:20 (active lately), polled at 05:00 with a
    // high-water mark of 04:40: the pass stops at 04:30 and never reaches it.
    let mut st = PollState {
        high_water: Some(at(4, 40)),
        ..PollState::default()
    };
    st.note_activity("OLD", "vid1", at(4, 20), at(4, 30));
    // A thread quiet for three days is forgotten.
    st.note_activity("STALE", "vid1", at(0, 0) - TimeDelta::days(3), at(4, 30));
    assert_eq!(
        st.recent
            .iter()
            .map(|r| r.thread.as_str())
            .collect::<Vec<_>>(),
        ["OLD"]
    );
    let pass = st.new_pass(at(5, 0));
    let page: wire::CommentThreadList = serde_json::from_str(&format!(
        r#"{{"items":[{},{}]}}"#,
        thread(
            "NEW",
            "2024-06-10T04:50:00Z",
            "2024-06-10T04:50:00Z",
            "n",
            0
        ),
        thread(
            "OLDER",
            "2024-06-10T04:00:00Z",
            "2024-06-10T04:00:00Z",
            "o",
            0
        ),
    ))
    .expect("parses");
    st.take_threads(pass, CHANNEL, page);
    assert!(st.pass.is_none(), "the pass ended");
    // OLD's replies are queued (1 unit); NEW and OLDER were on the page the pass read.
    let queued: Vec<&str> = st.replies.iter().map(|r| r.thread.as_str()).collect();
    assert_eq!(queued, ["OLD"]);
    assert_eq!(st.recheck_at, Some(at(5, 15)));
    // The next pass, five minutes later, does not queue it again: not due yet.
    st.replies.clear();
    let pass = st.new_pass(at(5, 5));
    let page: wire::CommentThreadList = serde_json::from_str(&format!(
        r#"{{"items":[{},{}]}}"#,
        thread(
            "NEW",
            "2024-06-10T04:50:00Z",
            "2024-06-10T04:50:00Z",
            "n",
            0
        ),
        thread(
            "OLDER",
            "2024-06-10T04:00:00Z",
            "2024-06-10T04:00:00Z",
            "o",
            0
        ),
    ))
    .expect("parses");
    st.take_threads(pass, CHANNEL, page);
    assert!(st.replies.is_empty());
    // A quarter of an hour later it is read again.
    let pass = st.new_pass(at(5, 16));
    let page: wire::CommentThreadList = serde_json::from_str(&format!(
        r#"{{"items":[{},{}]}}"#,
        thread(
            "NEW",
            "2024-06-10T04:50:00Z",
            "2024-06-10T04:50:00Z",
            "n",
            0
        ),
        thread(
            "OLDER",
            "2024-06-10T04:00:00Z",
            "2024-06-10T04:00:00Z",
            "o",
            0
        ),
    ))
    .expect("parses");
    st.take_threads(pass, CHANNEL, page);
    assert_eq!(st.replies.len(), 1);
    assert_eq!(st.replies[0].thread, "OLD");
    // At most RECENT_MAX threads are remembered, the most recently active first.
    for i in 0..(RECENT_MAX + 5) {
        st.note_activity(
            &format!("T{i}"),
            "vid1",
            at(4, 55) + TimeDelta::minutes(i as i64),
            at(5, 20),
        );
    }
    assert_eq!(st.recent.len(), RECENT_MAX);
    assert_eq!(st.recent[0].thread, format!("T{}", RECENT_MAX + 4));
    assert!(
        st.recent.iter().all(|r| r.thread != "OLD"),
        "the least active dropped"
    );
}
