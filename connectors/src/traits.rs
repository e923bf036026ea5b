//! The connector contract. A connector is a bundle of optional capabilities; the hub asks for
//! the ones it needs and treats a `None` as "this platform cannot do that".

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::{ConnectorError, ParseError, VerifyError};
use crate::outbound::{
    AccessToken, CommentReply, HistoryPage, ManagedPage, OAuthAccount, OAuthCallback,
    OutboundMessage, PollPage, Profile, Recipient, SendPolicy, Sent, TokenSet, UserToken,
};
use crate::types::{
    AccountCtx, HandshakeReply, HttpCtx, InboundRequest, NormalizedEvent, OutboundText, Platform,
    PostRef, SendReceipt,
};

/// One platform. Built once at startup from config and shared as `Arc<dyn Connector>`.
pub trait Connector: Send + Sync + 'static {
    /// Which platform this is.
    fn platform(&self) -> Platform;
    /// The platforms whose channel accounts this connector's webhooks carry events for. Meta
    /// signs Page and Instagram events with the same app secret and an app may register one
    /// URL for both, so an event arriving on `/webhooks/facebook` may belong to an Instagram
    /// account: the hub looks the account up among all of these.
    fn account_platforms(&self) -> Vec<Platform> {
        vec![self.platform()]
    }
    /// Inbound webhooks, when the platform pushes events to us.
    fn webhook(&self) -> Option<&dyn WebhookInbound> {
        None
    }
    /// Sending messages back to customers.
    fn messaging(&self) -> Option<&dyn Messaging> {
        None
    }
    /// Replying to, hiding and deleting comments under the account's posts.
    fn comments(&self) -> Option<&dyn Comments> {
        None
    }
    /// Connecting accounts through Facebook Login (Meta platforms only).
    fn meta_login(&self) -> Option<&dyn MetaLogin> {
        None
    }
    /// Looking up people's profiles and the posts they comment on.
    fn lookup(&self) -> Option<&dyn Lookup> {
        None
    }
    /// Listing past conversations and comments, to backfill a newly connected account.
    fn history(&self) -> Option<&dyn History> {
        None
    }
    /// Connecting accounts by OAuth 2 and refreshing their tokens (Zalo OA, YouTube, the
    /// marketplaces). Facebook and Instagram use [`Connector::meta_login`] instead.
    fn oauth(&self) -> Option<&dyn OAuth> {
        None
    }
    /// Fetching marketplace orders (Shopee, Lazada, Tiki).
    fn orders(&self) -> Option<&dyn crate::commerce::Orders> {
        None
    }
    /// Pulling events from a platform that does not push them (YouTube comments; later the
    /// marketplaces' reconciliation polls and Tiki's event queue).
    fn poller(&self) -> Option<&dyn Poller> {
        None
    }
}

/// Inbound webhooks: pure, synchronous functions over the raw request. No IO, no clock other
/// than what the request carries.
pub trait WebhookInbound: Send + Sync {
    /// A subscription handshake (Meta's `GET ?hub.mode=subscribe…`). `None` when the request is
    /// not a handshake this platform knows.
    fn handshake(&self, req: &InboundRequest<'_>) -> Option<Result<HandshakeReply, VerifyError>>;

    /// Authenticate the request from its raw bytes and headers, in constant time. Never parse
    /// or re-serialize the body before this returns `Ok`.
    fn verify(&self, req: &InboundRequest<'_>) -> Result<(), VerifyError>;

    /// A stable key for this delivery, so a retried delivery is stored once. `None` lets the
    /// hub use a hash of the body (platforms that resend identical bytes).
    fn event_key(&self, _req: &InboundRequest<'_>) -> Option<String> {
        None
    }

    /// Whether a stored event is acknowledged with an empty body (Shopee counts a push as
    /// delivered only when the answer is 2xx *and* empty). Otherwise the hub answers
    /// `200 {"status": "accepted", …}`.
    fn empty_ack(&self) -> bool {
        false
    }

    /// Best-effort: the account ids a stored body belongs to, even when it does not fully
    /// parse (so a dead-lettered event can be shown to the right workspace).
    fn account_hints(&self, _body: &[u8]) -> Vec<String> {
        Vec::new()
    }

    /// A stored, verified body → normalized events. Event types this connector does not handle
    /// yield no events (never an error); a body that is not what the platform documents is a
    /// [`ParseError`].
    fn parse(&self, body: &[u8]) -> Result<Vec<NormalizedEvent>, ParseError>;
}

/// Replies to customers through the platform's API.
#[async_trait]
pub trait Messaging: Send + Sync {
    /// Send a message: text or media, to a person or privately to a commenter, under the
    /// given policy. The platform enforces its windows; choose the policy with
    /// [`crate::outbound::reply_window`] first. A closed window comes back as
    /// [`ConnectorError::OutsideWindow`].
    async fn send(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        msg: &OutboundMessage,
    ) -> Result<Sent, ConnectorError>;

    /// Send a text message to a person: [`Messaging::send`] with a text, the human-agent
    /// policy when `outside_standard_window`, and the idempotency key.
    async fn send_text(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        msg: &OutboundText<'_>,
    ) -> Result<SendReceipt, ConnectorError> {
        let policy = if msg.outside_standard_window {
            SendPolicy::HumanAgent
        } else {
            SendPolicy::Standard
        };
        let mut out = OutboundMessage::text(
            Recipient::User(msg.recipient_external_id.to_owned()),
            msg.text,
        )
        .with_policy(policy);
        out.idempotency_key = msg.idempotency_key.map(str::to_owned);
        let sent = self.send(cx, account, &out).await?;
        Ok(SendReceipt {
            external_message_id: sent.external_message_id,
        })
    }
}

/// Public moderation of comments under the account's posts. Private replies to a commenter
/// go through [`Messaging::send`] with [`Recipient::Comment`].
#[async_trait]
pub trait Comments: Send + Sync {
    /// Reply publicly under comment `comment_id`; returns the new comment's id.
    async fn reply_to_comment(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        comment_id: &str,
        text: &str,
    ) -> Result<CommentReply, ConnectorError>;

    /// Hide (`true`) or unhide (`false`) a comment. Hidden comments stay visible to their
    /// author and the author's friends.
    async fn set_comment_hidden(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        comment_id: &str,
        hidden: bool,
    ) -> Result<(), ConnectorError>;

    /// Delete a comment the account wrote (or may moderate).
    async fn delete_comment(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        comment_id: &str,
    ) -> Result<(), ConnectorError>;
}

/// Connecting Facebook Pages (and their linked Instagram accounts) through Facebook Login:
/// dialog URL → code → user token → long-lived user token → Pages with their tokens →
/// webhook subscription of each Page.
#[async_trait]
pub trait MetaLogin: Send + Sync {
    /// The login dialog URL to send the user's browser to. `oauth_base` is the dialog
    /// endpoint (`https://www.facebook.com/v21.0/dialog/oauth` in production); `state` is the
    /// caller's CSRF token, checked when the browser comes back to `redirect_uri`.
    fn authorize_url(
        &self,
        oauth_base: &str,
        app_id: &str,
        redirect_uri: &str,
        state: &str,
        scopes: &[&str],
    ) -> Result<String, ConnectorError>;

    /// Exchange the `code` the dialog redirected with for a (short-lived) user token.
    /// `redirect_uri` must be the one the dialog was opened with.
    async fn exchange_code(
        &self,
        cx: &HttpCtx<'_>,
        app_id: &str,
        app_secret: &str,
        redirect_uri: &str,
        code: &str,
    ) -> Result<UserToken, ConnectorError>;

    /// Exchange a short-lived user token for a long-lived one (~60 days).
    async fn long_lived(
        &self,
        cx: &HttpCtx<'_>,
        app_id: &str,
        app_secret: &str,
        short: &AccessToken,
    ) -> Result<UserToken, ConnectorError>;

    /// Every Page the user manages, with its Page token and linked Instagram account, across
    /// all result pages.
    async fn list_pages(
        &self,
        cx: &HttpCtx<'_>,
        user_token: &AccessToken,
    ) -> Result<Vec<ManagedPage>, ConnectorError>;

    /// Install the app on a Page for the given webhook fields (required for webhooks).
    async fn subscribe_page(
        &self,
        cx: &HttpCtx<'_>,
        page_id: &str,
        page_token: &AccessToken,
        fields: &[&str],
    ) -> Result<(), ConnectorError>;

    /// Remove the app from a Page: its webhooks stop.
    async fn unsubscribe_page(
        &self,
        cx: &HttpCtx<'_>,
        page_id: &str,
        page_token: &AccessToken,
    ) -> Result<(), ConnectorError>;
}

/// Looking things up by id through the account.
#[async_trait]
pub trait Lookup: Send + Sync {
    /// A person's name and picture, as the account may see them.
    async fn fetch_profile(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        user_id: &str,
    ) -> Result<Profile, ConnectorError>;

    /// A post (or Instagram media) of the account: text, link and kind.
    async fn fetch_post(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        post_id: &str,
    ) -> Result<PostRef, ConnectorError>;
}

/// Listing what happened before the account was connected, most recent conversations and
/// posts first, one platform request per call, so the hub can save progress after each.
/// Events carry the ids webhooks carry, so ingesting both stores each message once.
///
/// Start with `cursor: None` and pass back each returned `next_cursor` until it is `None`. A
/// cursor is opaque and private to the connector: it covers the outer listing (conversations,
/// posts) and the lists nested in it that still have pages to read (a long conversation's
/// older messages, a post's further comments), and a call reads one page of one of them, so a
/// run resumed from a stored cursor carries on where it stopped. A connector accepts the
/// cursors its earlier versions handed out.
#[async_trait]
pub trait History: Send + Sync {
    /// One page of messages from conversations updated at or after `since`: every message at
    /// or after `since` comes once over the whole run, however long the conversation, and
    /// older ones are left out. Within a page, a conversation's messages come oldest first.
    async fn list_conversations(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        since: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, ConnectorError>;

    /// One page of comments (as [`NormalizedEvent::Comment`] additions) written at or after
    /// `since`, every one once over the whole run; paged like
    /// [`History::list_conversations`]. They are the comments under posts created at or after
    /// `since` and, where the platform tells when a post was last commented on (Facebook),
    /// under older posts commented on since. A post's comments come oldest first, so a reply
    /// never comes before its parent.
    async fn list_post_comments(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        since: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, ConnectorError>;
}

/// Connecting an account by OAuth 2 (authorization code, with PKCE where the platform wants
/// it) and keeping its access token fresh with the refresh token. App credentials (client id
/// and secret) are the connector's own configuration; the hub passes base URLs (the seam where
/// tests point at a sandbox), the redirect URI, the CSRF `state` and the PKCE pair, and keeps
/// the tokens sealed.
#[async_trait]
pub trait OAuth: Send + Sync {
    /// Whether the authorization request carries a PKCE challenge (RFC 7636 S256). When true,
    /// the hub makes a verifier per attempt, passes its challenge to
    /// [`OAuth::authorize_url`] and the verifier to [`OAuth::exchange_code`].
    fn uses_pkce(&self) -> bool {
        false
    }

    /// The consent page to send the marketer's browser to. `oauth_base` is the platform's
    /// configured OAuth base URL; `code_challenge` is set when [`OAuth::uses_pkce`].
    fn authorize_url(
        &self,
        oauth_base: &str,
        redirect_uri: &str,
        state: &str,
        code_challenge: Option<&str>,
    ) -> Result<String, ConnectorError>;

    /// Exchange the authorization code the consent page redirected with for tokens.
    /// `cx.base_url` is the OAuth base URL; `callback` carries the code and every other query
    /// parameter the page added (Shopee adds `shop_id`).
    async fn exchange_code(
        &self,
        cx: &HttpCtx<'_>,
        redirect_uri: &str,
        callback: &OAuthCallback,
        code_verifier: Option<&str>,
    ) -> Result<TokenSet, ConnectorError>;

    /// A new access token from the refresh token of `account` (the platform's id of the
    /// account: Shopee refreshes per shop). Where refresh tokens are single use (Zalo,
    /// Shopee), the answer carries the next one and the old one is spent: the hub stores the
    /// new set before anything else. A refused refresh token is
    /// [`ConnectorError::Unauthorized`]. `cx.base_url` is the OAuth base URL.
    async fn refresh(
        &self,
        cx: &HttpCtx<'_>,
        account: &str,
        refresh_token: &str,
    ) -> Result<TokenSet, ConnectorError>;

    /// The accounts the new grant reaches (the Official Account, the YouTube channel, the
    /// shop …), to store as channel accounts. `cx.base_url` is the API base URL.
    async fn accounts(
        &self,
        cx: &HttpCtx<'_>,
        grant: &TokenSet,
    ) -> Result<Vec<OAuthAccount>, ConnectorError>;
}

/// Pulling events, one platform request per call, for platforms that push nothing (or not
/// everything). The hub keeps the state between calls (saving it after each, so a restart
/// resumes), applies the events exactly like webhook events (same platform ids: nothing is
/// stored twice, so overlapping reads are harmless), and decides when to call again from
/// [`PollPage::more`] and its own budget.
///
/// The state is opaque JSON private to the connector: high-water marks, page tokens, nested
/// lists still to read. Start with `None`; pass back each returned [`PollPage::state`]. A
/// connector accepts the states its earlier versions returned, and treats one it cannot read
/// as `None`.
#[async_trait]
pub trait Poller: Send + Sync {
    /// Quota units one call costs when the platform counts units, also when it fails (the
    /// hub charges a failed call this much); 0 when it does not count.
    fn units_per_call(&self) -> u32 {
        0
    }

    /// One request: the events it yielded (as the platform's webhooks would carry them, for
    /// the account named by `account`), the state to pass next time, the units it spent, and
    /// whether more pages are waiting right now.
    async fn poll(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        state: Option<&serde_json::Value>,
    ) -> Result<PollPage, ConnectorError>;
}
