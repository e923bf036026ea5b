//! The YouTube connector (`shared/specs/social.md` §5): comments under a channel's videos.
//! YouTube pushes no comment events, so comments are polled ([`Poller`]: `commentThreads.list`
//! pages newest first down to a high-water mark minus an overlap, and `comments.list` for
//! threads whose replies were left out); replies and moderation go through `comments.insert`
//! and `comments.setModerationStatus`; channels connect with Google OAuth 2 (offline access,
//! refresh tokens). Every Data API call costs quota units ([`quota`]); the hub budgets them.
//! Wire types and their conversion live in [`wire`].

pub mod quota;
#[cfg(feature = "sandbox")]
pub mod sandbox;
pub mod wire;

#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, TimeDelta, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use url::Url;

use crate::error::ConnectorError;
use crate::outbound::{
    AccessToken, CommentReply, OAuthAccount, OAuthCallback, PollPage, TokenSet, Usage,
};
use crate::traits::{Comments, Connector, OAuth, Poller};
use crate::types::{AccountCtx, HttpCtx, NormalizedEvent, Platform};

/// The one scope tongdai asks for: read, reply to and moderate comments.
pub const SCOPE: &str = "https://www.googleapis.com/auth/youtube.force-ssl";
/// Threads per `commentThreads.list` page (the API's maximum).
pub const PAGE_SIZE: u32 = 100;
/// How far below the high-water mark each pass reads again, to catch comments that show up
/// late in the listing.
pub const OVERLAP: TimeDelta = TimeDelta::minutes(10);
/// How long a thread counts as recently active (its replies are read again).
pub const RECENT_WINDOW: TimeDelta = TimeDelta::hours(48);
/// How many recently active threads are read again.
pub const RECENT_MAX: usize = 10;
/// How often the recently active threads are read again (at most 10 units each time).
pub const RECHECK_EVERY: TimeDelta = TimeDelta::minutes(15);
/// How far back the first pass of a newly connected channel reads.
pub const FIRST_POLL_LOOKBACK: TimeDelta = TimeDelta::days(30);
/// How long to wait after a per-minute throttle (`rateLimitExceeded`, HTTP 429).
pub const THROTTLE_BACKOFF: Duration = Duration::from_secs(60);

/// App-level Google OAuth client (`TONGDAI_YOUTUBE_CLIENT_ID` / `_SECRET`).
#[derive(Debug, Clone, Default)]
pub struct YoutubeConfig {
    /// OAuth client id.
    pub client_id: Option<String>,
    /// OAuth client secret.
    pub client_secret: Option<String>,
}

impl YoutubeConfig {
    /// Whether channels can be connected: client id and secret both set.
    pub fn is_configured(&self) -> bool {
        self.client_id().is_some() && self.client_secret().is_some()
    }
    fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref().filter(|s| !s.is_empty())
    }
    fn client_secret(&self) -> Option<&str> {
        self.client_secret.as_deref().filter(|s| !s.is_empty())
    }
    fn credentials(&self) -> Result<(&str, &str), ConnectorError> {
        match (self.client_id(), self.client_secret()) {
            (Some(id), Some(secret)) => Ok((id, secret)),
            _ => Err(ConnectorError::Invalid(
                "the Google OAuth client id and secret are not configured".into(),
            )),
        }
    }
}

/// The YouTube connector.
pub struct Youtube {
    cfg: YoutubeConfig,
}

impl Youtube {
    /// From app-level settings.
    pub fn new(cfg: YoutubeConfig) -> Self {
        Youtube { cfg }
    }
}

impl Connector for Youtube {
    fn platform(&self) -> Platform {
        Platform::Youtube
    }
    fn comments(&self) -> Option<&dyn Comments> {
        Some(self)
    }
    fn oauth(&self) -> Option<&dyn OAuth> {
        Some(self)
    }
    fn poller(&self) -> Option<&dyn Poller> {
        Some(self)
    }
}

/// `{api}/youtube/v3/{path}` with `params`.
pub fn api_url(base: &str, path: &str, params: &[(&str, &str)]) -> Result<Url, ConnectorError> {
    let raw = format!("{}/youtube/v3/{path}", base.trim_end_matches('/'));
    Url::parse_with_params(&raw, params)
        .map_err(|e| ConnectorError::Invalid(format!("bad YouTube API URL: {e}")))
}

/// A Data API error answer as a [`ConnectorError`], at `now` (a `quotaExceeded` lasts until
/// the next Pacific midnight).
pub fn classify_error(status: u16, body: &[u8], now: DateTime<Utc>) -> ConnectorError {
    let parsed = serde_json::from_slice::<wire::ApiErrorBody>(body).ok();
    let reason = parsed
        .as_ref()
        .and_then(|b| b.error.errors.iter().find_map(|e| e.reason.clone()))
        .unwrap_or_default();
    let message = parsed
        .as_ref()
        .and_then(|b| b.error.message.clone())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let described = if reason.is_empty() {
        message.clone()
    } else {
        format!("{reason}: {message}")
    };
    match (status, reason.as_str()) {
        (401, _) => ConnectorError::Unauthorized(described),
        (403, "quotaExceeded" | "dailyLimitExceeded") => {
            let reset = quota::next_reset(now);
            ConnectorError::RateLimited {
                retry_after: (reset - now).to_std().ok(),
                message: format!(
                    "the YouTube daily quota is used up until midnight Pacific time ({reset}): {described}"
                ),
            }
        }
        (403 | 429, "rateLimitExceeded" | "userRateLimitExceeded") | (429, _) => {
            ConnectorError::RateLimited {
                retry_after: Some(THROTTLE_BACKOFF),
                message: described,
            }
        }
        (403, _) => ConnectorError::Forbidden {
            code: 403,
            subcode: None,
            message: described,
        },
        _ => ConnectorError::Api {
            status,
            code: Some(i64::from(status)),
            subcode: None,
            message: described,
            transient: status >= 500,
        },
    }
}

/// Send a Data API request and read its JSON answer (`None` for an empty 204).
async fn call<T: DeserializeOwned>(
    req: reqwest::RequestBuilder,
    what: &str,
) -> Result<Option<T>, ConnectorError> {
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    tracing::debug!(status, call = what, "youtube api answered");
    if !(200..300).contains(&status) {
        return Err(classify_error(status, &bytes, Utc::now()));
    }
    if status == 204 || bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice::<T>(&bytes).map(Some).map_err(|e| {
        ConnectorError::Transport(format!(
            "{what} answered {status} with unexpected JSON: {e}"
        ))
    })
}

async fn get<T: DeserializeOwned>(
    cx: &HttpCtx<'_>,
    token: &str,
    path: &str,
    params: &[(&str, &str)],
) -> Result<T, ConnectorError> {
    let url = api_url(cx.base_url, path, params)?;
    call(cx.http.get(url).bearer_auth(token), path)
        .await?
        .ok_or_else(|| ConnectorError::Transport(format!("{path} answered without a body")))
}

/// A token endpoint answer, mapping Google's OAuth errors (`invalid_grant`: the code or
/// refresh token is refused → [`ConnectorError::Unauthorized`]).
async fn token_call(cx: &HttpCtx<'_>, form: &[(&str, &str)]) -> Result<TokenSet, ConnectorError> {
    let url = format!("{}/token", cx.base_url.trim_end_matches('/'));
    let resp = cx.http.post(url).form(form).send().await?;
    let status = resp.status().as_u16();
    let bytes = resp.bytes().await?;
    if !(200..300).contains(&status) {
        let err = serde_json::from_slice::<wire::OAuthError>(&bytes).ok();
        let (code, why) = err
            .map(|e| (e.error, e.error_description.unwrap_or_default()))
            .unwrap_or_else(|| (format!("HTTP {status}"), String::new()));
        let message = format!("{code}: {why}");
        return Err(match code.as_str() {
            "invalid_grant" => ConnectorError::Unauthorized(message),
            _ if status == 429 => ConnectorError::RateLimited {
                retry_after: Some(THROTTLE_BACKOFF),
                message,
            },
            _ => ConnectorError::Api {
                status,
                code: None,
                subcode: None,
                message,
                transient: status >= 500,
            },
        });
    }
    let t: wire::TokenResponse = serde_json::from_slice(&bytes).map_err(|e| {
        ConnectorError::Transport(format!("the token endpoint answered unexpected JSON: {e}"))
    })?;
    Ok(TokenSet {
        access_token: AccessToken::new(t.access_token),
        refresh_token: t.refresh_token.map(AccessToken::new),
        expires_in: t.expires_in,
        refresh_expires_in: None,
        account_ids: Vec::new(),
    })
}

#[async_trait]
impl OAuth for Youtube {
    fn authorize_url(
        &self,
        oauth_base: &str,
        redirect_uri: &str,
        state: &str,
        _code_challenge: Option<&str>,
    ) -> Result<String, ConnectorError> {
        let (client_id, _) = self.cfg.credentials()?;
        let raw = format!("{}/auth", oauth_base.trim_end_matches('/'));
        let url = Url::parse_with_params(
            &raw,
            &[
                ("client_id", client_id),
                ("redirect_uri", redirect_uri),
                ("response_type", "code"),
                ("scope", SCOPE),
                ("access_type", "offline"),
                ("prompt", "consent"),
                ("include_granted_scopes", "true"),
                ("state", state),
            ],
        )
        .map_err(|e| ConnectorError::Invalid(format!("bad Google OAuth URL: {e}")))?;
        Ok(url.into())
    }

    async fn exchange_code(
        &self,
        cx: &HttpCtx<'_>,
        redirect_uri: &str,
        callback: &OAuthCallback,
        _code_verifier: Option<&str>,
    ) -> Result<TokenSet, ConnectorError> {
        let code = callback.code.as_str();
        let (client_id, client_secret) = self.cfg.credentials()?;
        token_call(
            cx,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("client_id", client_id),
                ("client_secret", client_secret),
                ("redirect_uri", redirect_uri),
            ],
        )
        .await
    }

    async fn refresh(
        &self,
        cx: &HttpCtx<'_>,
        _account: &str,
        refresh_token: &str,
    ) -> Result<TokenSet, ConnectorError> {
        let (client_id, client_secret) = self.cfg.credentials()?;
        token_call(
            cx,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ],
        )
        .await
    }

    async fn accounts(
        &self,
        cx: &HttpCtx<'_>,
        grant: &TokenSet,
    ) -> Result<Vec<OAuthAccount>, ConnectorError> {
        let list: wire::ChannelList = get(
            cx,
            grant.access_token.expose(),
            "channels",
            &[("part", "snippet"), ("mine", "true")],
        )
        .await?;
        Ok(list.items.into_iter().map(channel_account).collect())
    }
}

/// A channel as an account to connect.
fn channel_account(c: wire::Channel) -> OAuthAccount {
    let snippet = c.snippet;
    let thumbs = snippet.as_ref().and_then(|s| s.thumbnails.as_ref());
    let picture = thumbs.and_then(|t| {
        t.medium
            .as_ref()
            .or(t.default.as_ref())
            .or(t.high.as_ref())
            .map(|p| p.url.clone())
    });
    let custom = snippet.as_ref().and_then(|s| s.custom_url.clone());
    OAuthAccount {
        name: snippet.and_then(|s| s.title),
        picture_url: picture,
        details: match custom {
            Some(handle) => json!({ "youtube_handle": handle }),
            None => json!({}),
        },
        external_id: c.id,
    }
}

#[async_trait]
impl Comments for Youtube {
    async fn reply_to_comment(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        comment_id: &str,
        text: &str,
    ) -> Result<CommentReply, ConnectorError> {
        // Replies hang under the top-level comment: answering a reply answers its thread.
        let parent = thread_of(comment_id);
        let url = api_url(cx.base_url, "comments", &[("part", "snippet")])?;
        let body = json!({ "snippet": { "parentId": parent, "textOriginal": text } });
        let c: wire::Comment = call(
            cx.http
                .post(url)
                .bearer_auth(account.access_token)
                .json(&body),
            "comments.insert",
        )
        .await?
        .ok_or_else(|| ConnectorError::Transport("comments.insert answered no body".into()))?;
        Ok(CommentReply {
            external_comment_id: c.id,
            usage: Usage::default(),
        })
    }

    async fn set_comment_hidden(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        comment_id: &str,
        hidden: bool,
    ) -> Result<(), ConnectorError> {
        let status = if hidden { "heldForReview" } else { "published" };
        moderate(cx, account, comment_id, status).await
    }

    async fn delete_comment(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        comment_id: &str,
    ) -> Result<(), ConnectorError> {
        // A channel removes comments under its videos by rejecting them (irreversible).
        moderate(cx, account, comment_id, "rejected").await
    }
}

/// The thread (top-level comment) id of a comment id: the part before the dot of a reply id.
pub fn thread_of(comment_id: &str) -> &str {
    comment_id.split_once('.').map_or(comment_id, |(t, _)| t)
}

async fn moderate(
    cx: &HttpCtx<'_>,
    account: &AccountCtx<'_>,
    comment_id: &str,
    status: &str,
) -> Result<(), ConnectorError> {
    let url = api_url(
        cx.base_url,
        "comments/setModerationStatus",
        &[("id", comment_id), ("moderationStatus", status)],
    )?;
    call::<Value>(
        cx.http.post(url).bearer_auth(account.access_token),
        "comments.setModerationStatus",
    )
    .await?;
    Ok(())
}

/// The poller's state (`channel_account.poll_state.connector` in the hub).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct PollState {
    /// The newest top-level comment seen by a finished pass.
    #[serde(default)]
    pub high_water: Option<DateTime<Utc>>,
    /// The pass under way, when one is.
    #[serde(default)]
    pub pass: Option<Pass>,
    /// Threads whose replies the listing left out, still to read with `comments.list`.
    #[serde(default)]
    pub replies: VecDeque<ReplyFetch>,
    /// Threads with activity in the last [`RECENT_WINDOW`] (at most [`RECENT_MAX`], most
    /// recently active first). Whether a new reply moves its thread up `order=time` is not
    /// documented: a thread older than a pass reaches may get replies the pass never sees,
    /// so the replies of these threads are read again every [`RECHECK_EVERY`] (§5.1).
    #[serde(default)]
    pub recent: Vec<RecentThread>,
    /// When the recent threads are read again next.
    #[serde(default)]
    pub recheck_at: Option<DateTime<Utc>>,
}

/// A thread that was active lately.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RecentThread {
    /// Thread id.
    pub thread: String,
    /// Its video.
    #[serde(default)]
    pub video: String,
    /// Its latest comment, reply or edit seen.
    pub active: DateTime<Utc>,
    /// When a pass last listed it (its included replies seen).
    pub seen: DateTime<Utc>,
}

/// A pass through `commentThreads.list`, newest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Pass {
    /// The next page to read.
    #[serde(default)]
    pub page_token: Option<String>,
    /// The pass ends at the first page holding a thread older than this.
    #[serde(default)]
    pub stop_before: Option<DateTime<Utc>>,
    /// The newest top-level comment this pass saw.
    #[serde(default)]
    pub newest: Option<DateTime<Utc>>,
    /// When the pass started (the clock of the recent-thread bookkeeping).
    #[serde(default)]
    pub started_at: Option<DateTime<Utc>>,
}

/// A thread's replies to read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ReplyFetch {
    /// Thread id.
    pub thread: String,
    /// Its video.
    #[serde(default)]
    pub video: String,
    /// The next page, after the first.
    #[serde(default)]
    pub page_token: Option<String>,
}

impl PollState {
    /// From the stored JSON; anything unreadable starts afresh (reading again is harmless).
    pub fn from_json(v: Option<&Value>) -> Self {
        v.and_then(|v| serde_json::from_value(v.clone()).ok())
            .unwrap_or_default()
    }

    fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    fn more(&self) -> bool {
        self.pass.is_some() || !self.replies.is_empty()
    }

    /// Take one page of threads into the state: its events, the reply lists to read, and
    /// whether the pass ends here.
    pub fn take_threads(
        &mut self,
        mut pass: Pass,
        channel_id: &str,
        page: wire::CommentThreadList,
    ) -> Vec<NormalizedEvent> {
        let mut events = Vec::new();
        let mut reached_old = false;
        for t in &page.items {
            let published = t.published_at();
            if let Some(now) = pass.started_at {
                self.note_activity(&t.id, &t.video_id(), t.last_activity(), now);
            }
            // Every thread of a page read is applied (again: dedupe is free), so a thread an
            // answer moved up the listing is not skipped.
            events.extend(t.events(channel_id));
            if pass.stop_before.is_some_and(|s| published < s) {
                reached_old = true;
                continue;
            }
            pass.newest = Some(pass.newest.map_or(published, |n| n.max(published)));
            if t.has_more_replies() && !self.replies.iter().any(|r| r.thread == t.id) {
                self.replies.push_back(ReplyFetch {
                    thread: t.id.clone(),
                    video: t.video_id(),
                    page_token: None,
                });
            }
        }
        match page.next_page_token.filter(|_| !reached_old) {
            Some(next) => {
                pass.page_token = Some(next);
                self.pass = Some(pass);
            }
            None => {
                if let Some(newest) = pass.newest {
                    self.high_water = Some(self.high_water.map_or(newest, |h| h.max(newest)));
                }
                if let Some(now) = pass.started_at {
                    self.queue_recheck(now);
                }
                self.pass = None;
            }
        }
        events
    }

    /// Remember that a pass started at `now` listed thread `thread`, last active at `active`,
    /// keeping the [`RECENT_MAX`] most recently active threads of the last [`RECENT_WINDOW`].
    pub fn note_activity(
        &mut self,
        thread: &str,
        video: &str,
        active: DateTime<Utc>,
        now: DateTime<Utc>,
    ) {
        match self.recent.iter_mut().find(|r| r.thread == thread) {
            Some(r) => {
                r.active = r.active.max(active);
                r.seen = r.seen.max(now);
            }
            None => self.recent.push(RecentThread {
                thread: thread.to_owned(),
                video: video.to_owned(),
                active,
                seen: now,
            }),
        }
        self.recent.retain(|r| now - r.active <= RECENT_WINDOW);
        self.recent.sort_by_key(|r| std::cmp::Reverse(r.active));
        self.recent.truncate(RECENT_MAX);
    }

    /// At the end of a pass started at `now`: when due, queue the replies of the recent
    /// threads the pass did not list.
    fn queue_recheck(&mut self, now: DateTime<Utc>) {
        if self.recheck_at.is_some_and(|at| now < at) {
            return;
        }
        self.recheck_at = Some(now + RECHECK_EVERY);
        for r in &self.recent {
            let listed = r.seen >= now;
            if listed || self.replies.iter().any(|q| q.thread == r.thread) {
                continue;
            }
            self.replies.push_back(ReplyFetch {
                thread: r.thread.clone(),
                video: r.video.clone(),
                page_token: None,
            });
        }
    }

    /// A new pass from the high-water mark (minus [`OVERLAP`]) or, the first time, from
    /// [`FIRST_POLL_LOOKBACK`] before `now`.
    pub fn new_pass(&self, now: DateTime<Utc>) -> Pass {
        Pass {
            page_token: None,
            stop_before: Some(
                self.high_water
                    .map_or(now - FIRST_POLL_LOOKBACK, |h| h - OVERLAP),
            ),
            newest: None,
            started_at: Some(now),
        }
    }
}

#[async_trait]
impl Poller for Youtube {
    fn units_per_call(&self) -> u32 {
        quota::COST_THREADS_LIST
    }

    async fn poll(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        state: Option<&Value>,
    ) -> Result<PollPage, ConnectorError> {
        let mut st = PollState::from_json(state);
        let max = PAGE_SIZE.to_string();
        if let Some(mut fetch) = st.replies.pop_front() {
            let mut params = vec![
                ("part", "snippet"),
                ("parentId", fetch.thread.as_str()),
                ("maxResults", max.as_str()),
                ("textFormat", "plainText"),
            ];
            let token = fetch.page_token.clone();
            if let Some(t) = token.as_deref() {
                params.push(("pageToken", t));
            }
            let list: wire::CommentList =
                get(cx, account.access_token, "comments", &params).await?;
            let mut replies = list.items;
            replies.sort_by_key(|c| c.snippet.published_at);
            if let Some(r) = st.recent.iter_mut().find(|r| r.thread == fetch.thread) {
                let latest = replies.iter().map(wire::Comment::last_activity).max();
                if let Some(latest) = latest {
                    r.active = r.active.max(latest);
                }
            }
            let events = replies
                .iter()
                .flat_map(|c| c.events(account.external_id, &fetch.video, true))
                .collect();
            if let Some(next) = list.next_page_token {
                fetch.page_token = Some(next);
                st.replies.push_front(fetch);
            }
            return Ok(PollPage {
                events,
                more: st.more(),
                state: st.to_json(),
                units: quota::COST_COMMENTS_LIST,
            });
        }
        let pass = st.pass.take().unwrap_or_else(|| st.new_pass(Utc::now()));
        let mut params = vec![
            ("part", "snippet,replies"),
            ("allThreadsRelatedToChannelId", account.external_id),
            ("order", "time"),
            ("maxResults", max.as_str()),
            ("textFormat", "plainText"),
        ];
        if let Some(t) = pass.page_token.as_deref() {
            params.push(("pageToken", t));
        }
        let page: wire::CommentThreadList =
            get(cx, account.access_token, "commentThreads", &params).await?;
        let events = st.take_threads(pass, account.external_id, page);
        Ok(PollPage {
            events,
            more: st.more(),
            state: st.to_json(),
            units: quota::COST_THREADS_LIST,
        })
    }
}
