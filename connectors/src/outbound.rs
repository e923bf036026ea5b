//! What outbound calls take and return beyond a plain text reply: rich messages and their
//! sending policy, the messaging-window rules, comment moderation results, account connection
//! (OAuth tokens and the pages a user manages), profiles, history pages and the platform's
//! usage figures. The HTTP code lives in each platform module; everything here is plain data
//! and pure functions.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::types::NormalizedEvent;

/// Most quick-reply buttons one Messenger or Instagram message may carry.
pub const MAX_QUICK_REPLIES: usize = 13;
/// How long after a customer's last message an ordinary reply may be sent (Meta: 24 h).
pub const STANDARD_WINDOW: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// How long after a customer's last message a human agent may still reply with the
/// `HUMAN_AGENT` tag (Meta: 7 days).
pub const HUMAN_AGENT_WINDOW: chrono::TimeDelta = chrono::TimeDelta::days(7);
/// How long after a comment a private reply to it may be sent (Meta: 7 days).
pub const PRIVATE_REPLY_WINDOW: chrono::TimeDelta = chrono::TimeDelta::days(7);

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// A person, by the platform's id scoped to the account (PSID, IGSID).
    User(String),
    /// The author of a comment, by the comment's id: a private reply (Meta
    /// `recipient.comment_id`). Allowed once per comment, within 7 days of it.
    Comment(String),
}

/// The kind of media an attachment is, as the Send API names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MediaKind {
    /// A picture (`image`).
    Image,
    /// A video (`video`).
    Video,
    /// A sound clip (`audio`).
    Audio,
    /// Any other file (`file`).
    File,
}

impl MediaKind {
    /// The Send API's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            MediaKind::Image => "image",
            MediaKind::Video => "video",
            MediaKind::Audio => "audio",
            MediaKind::File => "file",
        }
    }
}

/// What a message says or shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundContent {
    /// Plain text.
    Text(String),
    /// One file the platform downloads from `url`.
    Media {
        /// Image, video, audio or file.
        kind: MediaKind,
        /// A public URL the platform can fetch.
        url: String,
        /// Ask the platform to keep the upload for reuse (Meta `is_reusable`).
        is_reusable: bool,
    },
}

/// A quick-reply button shown under a message; tapping it sends `title` back with `payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReplyButton {
    /// The button's label (Meta shows at most 20 characters).
    pub title: String,
    /// What the platform hands back when the customer taps it.
    pub payload: String,
}

/// Under which rule a message is sent. Pick it with [`reply_window`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SendPolicy {
    /// Inside the standard window (Meta `messaging_type: RESPONSE`).
    #[default]
    Standard,
    /// A human agent answering after the standard window (Meta `messaging_type: MESSAGE_TAG`,
    /// `tag: HUMAN_AGENT`; up to 7 days after the customer's last message).
    HumanAgent,
}

/// A message to send. Build it with [`OutboundMessage::text`] or [`OutboundMessage::media`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundMessage {
    /// Who receives it.
    pub recipient: Recipient,
    /// What it says or shows.
    pub content: OutboundContent,
    /// Quick-reply buttons (at most [`MAX_QUICK_REPLIES`]).
    pub quick_replies: Vec<QuickReplyButton>,
    /// The messaging-window rule it is sent under.
    pub policy: SendPolicy,
    /// The same on every attempt to send this one message, sent as the `Idempotency-Key`
    /// header (honoured by our sandboxes, ignored by Meta).
    pub idempotency_key: Option<String>,
}

impl OutboundMessage {
    /// A text message under the standard policy, without quick replies.
    pub fn text(recipient: Recipient, text: impl Into<String>) -> Self {
        OutboundMessage {
            recipient,
            content: OutboundContent::Text(text.into()),
            quick_replies: Vec::new(),
            policy: SendPolicy::Standard,
            idempotency_key: None,
        }
    }

    /// A media message by URL under the standard policy (`is_reusable` off).
    pub fn media(recipient: Recipient, kind: MediaKind, url: impl Into<String>) -> Self {
        OutboundMessage {
            recipient,
            content: OutboundContent::Media {
                kind,
                url: url.into(),
                is_reusable: false,
            },
            quick_replies: Vec::new(),
            policy: SendPolicy::Standard,
            idempotency_key: None,
        }
    }

    /// The same message under `policy`.
    pub fn with_policy(mut self, policy: SendPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The same message with this idempotency key.
    pub fn with_idempotency_key(mut self, key: impl Into<String>) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    /// The same message with one more quick-reply button.
    pub fn with_quick_reply(
        mut self,
        title: impl Into<String>,
        payload: impl Into<String>,
    ) -> Self {
        self.quick_replies.push(QuickReplyButton {
            title: title.into(),
            payload: payload.into(),
        });
        self
    }
}

/// What the platform answered to a successful send.
#[derive(Debug, Clone, PartialEq)]
pub struct Sent {
    /// The platform's id of the message it created (equal to the `mid` of its echo webhook).
    pub external_message_id: String,
    /// The person it went to, when the platform says (for a private reply: the commenter).
    pub recipient_id: Option<String>,
    /// The platform's usage figures on this answer, for pacing.
    pub usage: Usage,
    /// The messaging quota the platform reported with this send (Zalo `data.quota`), when it
    /// did.
    pub quota: Option<SendQuota>,
}

/// A messaging quota as a platform reports it with a send (Zalo `data.quota`: which quota the
/// message used and what is left of it). Every field is `None` when the platform did not say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SendQuota {
    /// Which quota the message counted against (Zalo: `reply` for the free replies after a
    /// customer's message; `sub_quota`, `purchase_quota`, `reward_quota` for paid packages).
    pub quota_type: Option<String>,
    /// Messages left in that quota.
    pub remain: Option<i64>,
    /// The quota's size.
    pub total: Option<i64>,
    /// When the quota expires, as the platform wrote it.
    pub expired_date: Option<String>,
}

impl SendQuota {
    /// Whether this is a paid package (anything but Zalo's free `reply` frame).
    pub fn is_paid(&self) -> bool {
        self.quota_type.as_deref().is_some_and(|t| t != "reply")
    }
}

/// Rate-limit usage the platform reported on an answer (Meta `X-App-Usage` and
/// `X-Business-Use-Case-Usage`). Every field is `None` when the platform did not say.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    /// Percentage of the app's hourly call budget used (`X-App-Usage.call_count`).
    pub app_call_pct: Option<f64>,
    /// The highest `call_count` percentage among the business-use-case entries.
    pub buc: Option<f64>,
    /// How long until calls are allowed again (`estimated_time_to_regain_access`, given in
    /// minutes), when the platform says it is above zero.
    pub regain_after: Option<Duration>,
}

impl Usage {
    /// Whether the platform says a budget is spent: some percentage reached 100, or it named
    /// a time to regain access.
    pub fn is_throttled(&self) -> bool {
        self.app_call_pct.is_some_and(|p| p >= 100.0)
            || self.buc.is_some_and(|p| p >= 100.0)
            || self.regain_after.is_some()
    }

    /// The highest percentage reported, to slow down before the platform throttles.
    pub fn max_pct(&self) -> Option<f64> {
        match (self.app_call_pct, self.buc) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Why nothing may be sent (see [`ReplyWindow::Closed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowClosedReason {
    /// The customer never wrote to the account, so there is no window to reply in.
    NoCustomerMessage,
    /// The customer's last message (or the comment) is older than the longest window.
    Expired,
    /// The one private reply a comment allows was already sent.
    AlreadyReplied,
}

/// Whether and how a message may be sent now (Meta's messaging windows, §2.6). Serialized as
/// `{"state": "standard" | "human_agent" | "closed", "reason"?, "since"?}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ReplyWindow {
    /// Within 24 h of the customer's last message: send with [`SendPolicy::Standard`].
    Standard,
    /// Within 7 days: only a human agent may reply, with [`SendPolicy::HumanAgent`].
    HumanAgent,
    /// Nothing may be sent.
    Closed {
        /// Why.
        reason: WindowClosedReason,
        /// When the window closed, when there was one.
        since: Option<DateTime<Utc>>,
    },
}

impl ReplyWindow {
    /// The policy to send under, `None` when the window is closed.
    pub fn policy(self) -> Option<SendPolicy> {
        match self {
            ReplyWindow::Standard => Some(SendPolicy::Standard),
            ReplyWindow::HumanAgent => Some(SendPolicy::HumanAgent),
            ReplyWindow::Closed { .. } => None,
        }
    }
}

/// The window for replying in a conversation whose customer last wrote at `last_inbound`
/// (`None`: never): [`ReplyWindow::Standard`] up to 24 h after it (inclusive),
/// [`ReplyWindow::HumanAgent`] up to 7 days, else closed since `last_inbound + 7 days`. A
/// `last_inbound` in the future (clock skew) counts as just now.
pub fn reply_window(last_inbound: Option<DateTime<Utc>>, now: DateTime<Utc>) -> ReplyWindow {
    let Some(last) = last_inbound else {
        return ReplyWindow::Closed {
            reason: WindowClosedReason::NoCustomerMessage,
            since: None,
        };
    };
    let age = now.signed_duration_since(last);
    if age <= STANDARD_WINDOW {
        ReplyWindow::Standard
    } else if age <= HUMAN_AGENT_WINDOW {
        ReplyWindow::HumanAgent
    } else {
        ReplyWindow::Closed {
            reason: WindowClosedReason::Expired,
            since: Some(last + HUMAN_AGENT_WINDOW),
        }
    }
}

/// The window for a private reply to a comment written at `commented_at`: open
/// ([`ReplyWindow::Standard`]) up to 7 days after it (inclusive) and only while
/// `already_replied` is false; else closed.
pub fn private_reply_window(
    commented_at: DateTime<Utc>,
    already_replied: bool,
    now: DateTime<Utc>,
) -> ReplyWindow {
    if already_replied {
        return ReplyWindow::Closed {
            reason: WindowClosedReason::AlreadyReplied,
            since: None,
        };
    }
    if now.signed_duration_since(commented_at) <= PRIVATE_REPLY_WINDOW {
        ReplyWindow::Standard
    } else {
        ReplyWindow::Closed {
            reason: WindowClosedReason::Expired,
            since: Some(commented_at + PRIVATE_REPLY_WINDOW),
        }
    }
}

/// A comment the account wrote (a public reply).
#[derive(Debug, Clone, PartialEq)]
pub struct CommentReply {
    /// The platform's id of the new comment (equal to what its webhook will carry).
    pub external_comment_id: String,
    /// The platform's usage figures on this answer.
    pub usage: Usage,
}

/// A credential that must never be logged: `Debug` and `Display` print `<redacted>`; read it
/// with [`AccessToken::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    /// Wrap a token.
    pub fn new(token: impl Into<String>) -> Self {
        AccessToken(token.into())
    }

    /// The token itself, to put in a request or encrypt at rest.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

impl fmt::Display for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// A user access token from the OAuth code exchange or the long-lived exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserToken {
    /// The token.
    pub access_token: AccessToken,
    /// `bearer`, when the platform says.
    pub token_type: Option<String>,
    /// Seconds until it expires, when the platform says (long-lived Meta tokens: ~60 days).
    pub expires_in: Option<u64>,
}

/// The Instagram professional account linked to a Facebook Page.
/// What an OAuth token endpoint answered: the access token, the refresh token when the
/// platform issues one (a new one on every refresh where refresh tokens are single use), and
/// lifetimes in seconds from now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSet {
    /// The access token for API calls.
    pub access_token: AccessToken,
    /// The refresh token, when issued (Google issues none on refresh: keep the old one).
    pub refresh_token: Option<AccessToken>,
    /// Seconds until the access token expires, when the platform said.
    pub expires_in: Option<u64>,
    /// Seconds until the refresh token expires, when the platform said.
    pub refresh_expires_in: Option<u64>,
    /// The platform's ids of the accounts the grant names, when the token answer names them
    /// (Shopee `shop_id_list`, Lazada's seller); [`crate::OAuth::accounts`] may use them.
    pub account_ids: Vec<String>,
}

/// What a consent page sent the browser back with: the authorization code and every other
/// query parameter (`state` excluded), for platforms that add their own (Shopee `shop_id`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthCallback {
    /// The authorization code.
    pub code: String,
    /// The other query parameters, by name.
    pub params: std::collections::BTreeMap<String, String>,
}

impl OAuthCallback {
    /// A callback with only a code.
    pub fn code(code: impl Into<String>) -> Self {
        OAuthCallback {
            code: code.into(),
            params: Default::default(),
        }
    }

    /// A query parameter the page added.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// An account an OAuth grant reaches, to connect as a channel account.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OAuthAccount {
    /// The platform's id of the account (OA id, channel id, shop id …).
    pub external_id: String,
    /// Its display name.
    pub name: Option<String>,
    /// Its picture.
    pub picture_url: Option<String>,
    /// Non-secret details worth keeping in the channel's settings (object).
    pub details: serde_json::Value,
}

/// RFC 7636 S256: `base64url(SHA-256(verifier))` without padding.
pub fn pkce_challenge(verifier: &str) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkedInstagram {
    /// The Instagram account id (the `entry.id` of its webhooks).
    pub id: String,
    /// `@username`, without the `@`.
    pub username: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Profile picture URL.
    pub profile_picture_url: Option<String>,
}

/// A Facebook Page the logged-in user manages, with its Page token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedPage {
    /// The Page id.
    pub id: String,
    /// The Page's name.
    pub name: Option<String>,
    /// The Page token (does not expire when obtained from a long-lived user token).
    pub access_token: AccessToken,
    /// The Page's category.
    pub category: Option<String>,
    /// What the user may do on the Page (`MESSAGING`, `MODERATE`, `MANAGE`, …).
    pub tasks: Vec<String>,
    /// Its linked Instagram professional account, when there is one.
    pub instagram: Option<LinkedInstagram>,
}

/// A person's public profile as the platform shows it to the account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The platform's id (PSID, IGSID).
    pub external_id: String,
    /// Display name (`name`, else `first_name last_name`).
    pub name: Option<String>,
    /// Instagram `username`.
    pub username: Option<String>,
    /// Profile picture URL (expires after a while on Meta's CDN: download it if kept).
    pub picture_url: Option<String>,
}

/// One page of a history listing.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    /// Normalized events, with the same ids the webhooks carry so the hub dedupes them.
    pub events: Vec<NormalizedEvent>,
    /// Pass back to get the next page; `None` when the listing is done (the outer listing
    /// has no page left or reached `since`, and no nested list has pages left).
    pub next_cursor: Option<String>,
}

/// What one [`crate::traits::Poller::poll`] call returned.
#[derive(Debug, Clone, PartialEq)]
pub struct PollPage {
    /// Normalized events, with the ids webhooks (or earlier polls) carry, so the hub dedupes.
    pub events: Vec<NormalizedEvent>,
    /// The connector's state to pass to the next call. Store it once the events are
    /// committed, never before: a state stored ahead of its events would skip them after a
    /// crash (Tiki's queue acknowledges a batch when the next call sends this state back).
    pub state: serde_json::Value,
    /// Quota units the call spent (0 where the platform counts none).
    pub units: u32,
    /// Whether more pages are waiting right now: call again soon rather than at the next
    /// interval.
    pub more: bool,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2024, 6, 10, 0, 0, 0)
            .single()
            .expect("valid")
            + chrono::TimeDelta::hours(h)
    }

    #[test]
    fn a_reply_within_24_hours_is_standard() {
        assert_eq!(reply_window(Some(t(0)), t(0)), ReplyWindow::Standard);
        assert_eq!(reply_window(Some(t(0)), t(23)), ReplyWindow::Standard);
        assert_eq!(reply_window(Some(t(0)), t(24)), ReplyWindow::Standard);
        assert_eq!(ReplyWindow::Standard.policy(), Some(SendPolicy::Standard));
    }

    #[test]
    fn after_24_hours_and_up_to_7_days_only_a_human_agent_may_reply() {
        let just_after = t(24) + chrono::TimeDelta::seconds(1);
        assert_eq!(
            reply_window(Some(t(0)), just_after),
            ReplyWindow::HumanAgent
        );
        assert_eq!(reply_window(Some(t(0)), t(7 * 24)), ReplyWindow::HumanAgent);
        assert_eq!(
            ReplyWindow::HumanAgent.policy(),
            Some(SendPolicy::HumanAgent)
        );
    }

    #[test]
    fn after_7_days_the_window_is_closed_since_the_seventh_day() {
        let w = reply_window(Some(t(0)), t(7 * 24) + chrono::TimeDelta::seconds(1));
        assert_eq!(
            w,
            ReplyWindow::Closed {
                reason: WindowClosedReason::Expired,
                since: Some(t(7 * 24)),
            }
        );
        assert_eq!(w.policy(), None);
        assert_eq!(
            reply_window(Some(t(0)), t(30 * 24)),
            ReplyWindow::Closed {
                reason: WindowClosedReason::Expired,
                since: Some(t(7 * 24)),
            }
        );
    }

    #[test]
    fn without_a_customer_message_the_window_is_closed() {
        assert_eq!(
            reply_window(None, t(0)),
            ReplyWindow::Closed {
                reason: WindowClosedReason::NoCustomerMessage,
                since: None,
            }
        );
    }

    #[test]
    fn a_last_message_in_the_future_counts_as_now() {
        assert_eq!(reply_window(Some(t(5)), t(0)), ReplyWindow::Standard);
    }

    #[test]
    fn a_private_reply_is_allowed_once_within_7_days() {
        assert_eq!(
            private_reply_window(t(0), false, t(1)),
            ReplyWindow::Standard
        );
        assert_eq!(
            private_reply_window(t(0), false, t(7 * 24)),
            ReplyWindow::Standard
        );
        assert_eq!(
            private_reply_window(t(0), false, t(7 * 24 + 1)),
            ReplyWindow::Closed {
                reason: WindowClosedReason::Expired,
                since: Some(t(7 * 24)),
            }
        );
        assert_eq!(
            private_reply_window(t(0), true, t(1)),
            ReplyWindow::Closed {
                reason: WindowClosedReason::AlreadyReplied,
                since: None,
            }
        );
    }

    #[test]
    fn usage_reports_throttling_and_its_highest_percentage() {
        let u = Usage::default();
        assert!(!u.is_throttled());
        assert_eq!(u.max_pct(), None);
        let u = Usage {
            app_call_pct: Some(40.0),
            buc: Some(75.0),
            regain_after: None,
        };
        assert!(!u.is_throttled());
        assert_eq!(u.max_pct(), Some(75.0));
        assert!(
            Usage {
                app_call_pct: Some(100.0),
                ..Usage::default()
            }
            .is_throttled()
        );
        assert!(
            Usage {
                regain_after: Some(Duration::from_secs(60)),
                ..Usage::default()
            }
            .is_throttled()
        );
    }

    #[test]
    fn window_and_buttons_serialize_for_the_hub() {
        let closed = ReplyWindow::Closed {
            reason: WindowClosedReason::Expired,
            since: Some(t(0)),
        };
        let v = serde_json::to_value(closed).expect("json");
        assert_eq!(v["state"], "closed");
        assert_eq!(v["reason"], "expired");
        assert_eq!(
            serde_json::to_value(ReplyWindow::HumanAgent).expect("json"),
            serde_json::json!({"state": "human_agent"})
        );
        let b: Vec<QuickReplyButton> =
            serde_json::from_str(r#"[{"title":"Có","payload":"YES"}]"#).expect("buttons");
        assert_eq!(b[0].payload, "YES");
        assert_eq!(
            serde_json::to_value(MediaKind::Audio).expect("json"),
            serde_json::json!("audio")
        );
    }

    #[test]
    fn tokens_never_print() {
        let t = AccessToken::new("EAAB_secret");
        assert_eq!(format!("{t:?}"), "AccessToken(<redacted>)");
        assert_eq!(t.to_string(), "<redacted>");
        let u = UserToken {
            access_token: t.clone(),
            token_type: Some("bearer".into()),
            expires_in: Some(5_183_944),
        };
        assert!(!format!("{u:?}").contains("EAAB_secret"));
        assert_eq!(t.expose(), "EAAB_secret");
    }

    #[test]
    fn pkce_challenge_matches_rfc_7636_appendix_b() {
        // social.md §7.1 row 8.
        assert_eq!(
            pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
