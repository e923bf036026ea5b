//! Serde mirrors of the YouTube Data API v3 and Google OAuth JSON (`shared/specs/social.md`
//! §5), and their conversion into normalized comment events. Every field the hub does not
//! need to work is optional: Google omits fields depending on who asks (`textOriginal` only
//! for the author, `moderationStatus` only for the owner).

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::types::{CommentAction, CommentEvent, ContactRef, NormalizedEvent, PostRef};

/// `commentThreads.list` answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentThreadList {
    /// The next page, when there is one.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// Threads, newest first under `order=time`.
    #[serde(default)]
    pub items: Vec<CommentThread>,
}

/// A top-level comment and (some of) its replies.
#[derive(Debug, Clone, Deserialize)]
pub struct CommentThread {
    /// The thread id (equal to its top-level comment's id).
    pub id: String,
    /// Video, top-level comment and reply count.
    pub snippet: ThreadSnippet,
    /// The replies Google chose to include (may be a subset).
    #[serde(default)]
    pub replies: Option<Replies>,
}

/// `commentThread.snippet`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThreadSnippet {
    /// The channel the thread belongs to.
    #[serde(default)]
    pub channel_id: Option<String>,
    /// The video commented on (absent for channel discussion comments).
    #[serde(default)]
    pub video_id: Option<String>,
    /// The top-level comment.
    pub top_level_comment: Comment,
    /// How many replies the thread has in all.
    #[serde(default)]
    pub total_reply_count: u64,
    /// Whether the channel may reply.
    #[serde(default)]
    pub can_reply: Option<bool>,
}

/// `commentThread.replies`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Replies {
    /// Reply comments.
    #[serde(default)]
    pub comments: Vec<Comment>,
}

/// `comments.list` answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentList {
    /// The next page, when there is one.
    #[serde(default)]
    pub next_page_token: Option<String>,
    /// Comments.
    #[serde(default)]
    pub items: Vec<Comment>,
}

/// A `youtube#comment` resource.
#[derive(Debug, Clone, Deserialize)]
pub struct Comment {
    /// Comment id; replies are `<thread id>.<suffix>`.
    pub id: String,
    /// What it says and who wrote it.
    pub snippet: CommentSnippet,
}

/// `comment.snippet`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommentSnippet {
    /// The author's channel.
    #[serde(default)]
    pub author_channel_id: Option<AuthorChannelId>,
    /// The author's name (`@handle` today).
    #[serde(default)]
    pub author_display_name: Option<String>,
    /// The author's picture.
    #[serde(default)]
    pub author_profile_image_url: Option<String>,
    /// The video (absent on some replies).
    #[serde(default)]
    pub video_id: Option<String>,
    /// The top-level comment a reply answers.
    #[serde(default)]
    pub parent_id: Option<String>,
    /// The text as shown (HTML unless `textFormat=plainText`).
    #[serde(default)]
    pub text_display: Option<String>,
    /// The text as written (only returned to the author).
    #[serde(default)]
    pub text_original: Option<String>,
    /// `published`, `heldForReview`, `likelySpam`, `rejected` (owner only).
    #[serde(default)]
    pub moderation_status: Option<String>,
    /// When it was written.
    pub published_at: DateTime<Utc>,
    /// When it was last changed (equal to `publishedAt` when never edited).
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
}

/// `{"value": "UC…"}`.
#[derive(Debug, Clone, Deserialize)]
pub struct AuthorChannelId {
    /// The channel id.
    pub value: String,
}

impl Comment {
    /// The text: the original when Google returned it, else what it displays.
    pub fn text(&self) -> Option<String> {
        self.snippet
            .text_original
            .clone()
            .or_else(|| self.snippet.text_display.clone())
    }

    /// When it was last written or changed.
    pub fn last_activity(&self) -> DateTime<Utc> {
        self.snippet
            .updated_at
            .map_or(self.snippet.published_at, |u| {
                u.max(self.snippet.published_at)
            })
    }

    /// Whether the comment changed after it was written.
    pub fn is_edited(&self) -> bool {
        self.snippet
            .updated_at
            .is_some_and(|u| u > self.snippet.published_at)
    }

    /// The author's channel id.
    pub fn author_id(&self) -> Option<&str> {
        self.snippet
            .author_channel_id
            .as_ref()
            .map(|a| a.value.as_str())
            .filter(|v| !v.is_empty())
    }

    /// The thread this comment belongs to: its `parentId`, else the id before the dot of a
    /// reply id, else its own id (a top-level comment).
    pub fn thread_id(&self) -> &str {
        if let Some(p) = self.snippet.parent_id.as_deref().filter(|p| !p.is_empty()) {
            return p;
        }
        self.id.split_once('.').map_or(self.id.as_str(), |(t, _)| t)
    }

    /// The comment as normalized events of `channel_id`'s account under `video_id`: an
    /// addition, and an edit when it changed after it was written (applying both is
    /// idempotent: an edit with the stored text changes nothing).
    pub fn events(&self, channel_id: &str, video_id: &str, reply: bool) -> Vec<NormalizedEvent> {
        let by_account = self.author_id() == Some(channel_id);
        let author = self.author_id().map(|id| ContactRef {
            external_id: id.to_owned(),
            display_name: self.snippet.author_display_name.clone(),
        });
        let parent = reply.then(|| self.thread_id().to_owned());
        let base = CommentEvent {
            account_external_id: channel_id.to_owned(),
            action: CommentAction::Added,
            post: video_ref(video_id),
            external_comment_id: self.id.clone(),
            parent_external_id: parent,
            author,
            by_account,
            text: self.text(),
            attachments: Vec::new(),
            at: self.snippet.published_at,
        };
        let mut out = Vec::with_capacity(2);
        if let (true, Some(updated)) = (self.is_edited(), self.snippet.updated_at) {
            let edit = CommentEvent {
                action: CommentAction::Edited,
                at: updated,
                ..base.clone()
            };
            out.push(NormalizedEvent::Comment(base));
            out.push(NormalizedEvent::Comment(edit));
        } else {
            out.push(NormalizedEvent::Comment(base));
        }
        out
    }
}

impl CommentThread {
    /// The video the thread is under (the thread's, else its top-level comment's).
    pub fn video_id(&self) -> String {
        self.snippet
            .video_id
            .clone()
            .or_else(|| self.snippet.top_level_comment.snippet.video_id.clone())
            .unwrap_or_default()
    }

    /// When its top-level comment was written.
    pub fn published_at(&self) -> DateTime<Utc> {
        self.snippet.top_level_comment.snippet.published_at
    }

    /// Its latest comment, reply or edit among those included.
    pub fn last_activity(&self) -> DateTime<Utc> {
        self.included_replies()
            .iter()
            .map(Comment::last_activity)
            .fold(
                self.snippet.top_level_comment.last_activity(),
                DateTime::max,
            )
    }

    /// The replies included in the listing.
    pub fn included_replies(&self) -> &[Comment] {
        self.replies.as_ref().map_or(&[], |r| r.comments.as_slice())
    }

    /// Whether some replies were left out of the listing (fetch them with `comments.list`).
    pub fn has_more_replies(&self) -> bool {
        self.snippet.total_reply_count > self.included_replies().len() as u64
    }

    /// The top-level comment then the included replies (oldest first, so a reply never comes
    /// before its parent), as normalized events of `channel_id`'s account.
    pub fn events(&self, channel_id: &str) -> Vec<NormalizedEvent> {
        let video = self.video_id();
        let mut out = self
            .snippet
            .top_level_comment
            .events(channel_id, &video, false);
        let mut replies: Vec<&Comment> = self.included_replies().iter().collect();
        replies.sort_by_key(|c| c.snippet.published_at);
        for r in replies {
            out.extend(r.events(channel_id, &video, true));
        }
        out
    }
}

/// The video as the post a comment is under, with its public link.
pub fn video_ref(video_id: &str) -> PostRef {
    PostRef {
        external_id: video_id.to_owned(),
        permalink: (!video_id.is_empty())
            .then(|| format!("https://www.youtube.com/watch?v={video_id}")),
        text: None,
        media_kind: Some("VIDEO".into()),
    }
}

/// `channels.list` answer.
#[derive(Debug, Clone, Deserialize)]
pub struct ChannelList {
    /// The channels the token reaches (one for `mine=true`).
    #[serde(default)]
    pub items: Vec<Channel>,
}

/// A `youtube#channel` resource (the parts tongdai asks for).
#[derive(Debug, Clone, Deserialize)]
pub struct Channel {
    /// `UC…`.
    pub id: String,
    /// Title and pictures.
    #[serde(default)]
    pub snippet: Option<ChannelSnippet>,
}

/// `channel.snippet`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChannelSnippet {
    /// The channel's name.
    #[serde(default)]
    pub title: Option<String>,
    /// `@handle`.
    #[serde(default)]
    pub custom_url: Option<String>,
    /// Pictures by size.
    #[serde(default)]
    pub thumbnails: Option<Thumbnails>,
}

/// `thumbnails`.
#[derive(Debug, Clone, Deserialize)]
pub struct Thumbnails {
    /// 88×88.
    #[serde(default)]
    pub default: Option<Thumbnail>,
    /// 240×240.
    #[serde(default)]
    pub medium: Option<Thumbnail>,
    /// 800×800.
    #[serde(default)]
    pub high: Option<Thumbnail>,
}

/// One picture.
#[derive(Debug, Clone, Deserialize)]
pub struct Thumbnail {
    /// Its URL.
    pub url: String,
}

/// Google's token endpoint answer.
#[derive(Debug, Clone, Deserialize)]
pub struct TokenResponse {
    /// The access token.
    pub access_token: String,
    /// Seconds it lives (3599).
    #[serde(default)]
    pub expires_in: Option<u64>,
    /// Issued on the code exchange with `access_type=offline` (not on refresh).
    #[serde(default)]
    pub refresh_token: Option<String>,
    /// `Bearer`.
    #[serde(default)]
    pub token_type: Option<String>,
}

/// Google's token endpoint error: `{"error": "invalid_grant", "error_description": …}`.
#[derive(Debug, Clone, Deserialize)]
pub struct OAuthError {
    /// `invalid_grant`, `invalid_client`, `invalid_request` …
    pub error: String,
    /// Explanation.
    #[serde(default)]
    pub error_description: Option<String>,
}

/// Data API error: `{"error": {"code", "message", "errors": [{"reason", "domain", "message"}]}}`.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiErrorBody {
    /// The error.
    pub error: ApiError,
}

/// The `error` object.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiError {
    /// HTTP status repeated.
    #[serde(default)]
    pub code: Option<i64>,
    /// Explanation.
    #[serde(default)]
    pub message: Option<String>,
    /// Details, the first one's `reason` tells what happened.
    #[serde(default)]
    pub errors: Vec<ApiErrorItem>,
}

/// One `errors[]` item.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiErrorItem {
    /// `quotaExceeded`, `forbidden`, `operationNotSupported`, `commentNotFound` …
    #[serde(default)]
    pub reason: Option<String>,
    /// `youtube.quota`, `youtube.commentThread` …
    #[serde(default)]
    pub domain: Option<String>,
}
