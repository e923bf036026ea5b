//! The history listings of the Meta connector ([`History`]): a Page's or Instagram account's
//! recent conversations, and the comments under its posts or media.
//!
//! Graph lists conversations with their newest messages, and posts with their first comments,
//! as nested lists that have pages of their own. Every call makes exactly one Graph request,
//! so the hub saves progress after each; the cursor handed back ([`HistoryCursor`]) says where
//! the outer listing stands and which nested lists still have pages to read.

use std::collections::VecDeque;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Graph, IdAnswer, List, Party, lenient_id, lenient_time, require};
use crate::error::ConnectorError;
use crate::facebook::Facebook;
use crate::outbound::{HistoryPage, Usage};
use crate::traits::History;
use crate::types::{
    AccountCtx, Attachment, CommentAction, CommentEvent, ContactRef, HttpCtx, InboundMessage,
    NormalizedEvent, Platform, PostRef,
};

/// Conversations with their newest messages (the fields of [`MESSAGE_FIELDS`]).
const CONVERSATION_FIELDS: &str =
    "participants,updated_time,messages.limit(50){id,message,from,to,created_time,attachments}";
/// `GET /{conversation}/messages`: the further messages of a conversation, newest first.
const MESSAGE_FIELDS: &str = "id,message,from,to,created_time,attachments";
/// Messages per page of `/{conversation}/messages`, as nested in [`CONVERSATION_FIELDS`].
const MESSAGES_PER_PAGE: &str = "50";
/// Posts created in the window, with their first comments. `filter(stream)` lists replies too
/// (with `parent`); Graph's default lists only top-level comments. Comments come oldest first
/// (Graph's default order), so a reply never comes before its parent.
const FB_POST_FIELDS: &str = "id,message,permalink_url,created_time,updated_time,comments.limit(100).filter(stream){id,message,from,created_time,parent{id},attachment}";
/// Posts older than the window: only what tells whether they were commented on since.
const FB_OLD_POST_FIELDS: &str = "id,message,permalink_url,created_time,updated_time";
/// `GET /{post}/comments?filter=stream`, as nested in [`FB_POST_FIELDS`].
const FB_COMMENT_FIELDS: &str = "id,message,from,created_time,parent{id},attachment";
/// Comments per page of `/{post}/comments`, as nested in [`FB_POST_FIELDS`].
const FB_COMMENTS_PER_PAGE: &str = "100";
/// Media with their first comments, each with its first replies.
const IG_MEDIA_FIELDS: &str = "id,caption,permalink,timestamp,media_product_type,comments{id,text,username,from,timestamp,replies{id,text,username,from,timestamp}}";
/// `GET /{media}/comments`, as nested in [`IG_MEDIA_FIELDS`].
const IG_COMMENT_FIELDS: &str =
    "id,text,username,from,timestamp,replies{id,text,username,from,timestamp}";
/// `GET /{comment}/replies`, as nested in [`IG_COMMENT_FIELDS`].
const IG_REPLY_FIELDS: &str = "id,text,username,from,timestamp";

// ---- the cursor ----------------------------------------------------------------------------

/// Where a history listing stands between two calls, handed to the hub as compact JSON (the
/// opaque cursor of [`History`]). A cursor that is not a JSON object is a plain Graph `after`
/// of the outer listing, as earlier versions handed out.
#[derive(Debug, Default, PartialEq, Serialize, Deserialize)]
struct HistoryCursor {
    /// `after` of the outer listing's next page; `None` before its first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after: Option<String>,
    /// The outer listing has no page left (or reached `since`).
    #[serde(default, skip_serializing_if = "is_false")]
    done: bool,
    /// Facebook posts: the listing passed the first post created before `since`, so its
    /// next pages ask for [`FB_OLD_POST_FIELDS`] only.
    #[serde(default, skip_serializing_if = "is_false")]
    old_posts: bool,
    /// Nested lists with pages left to read, the next one first.
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    pending: VecDeque<Nested>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A nested list with pages left to read, with what its events need.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "list", rename_all = "snake_case")]
enum Nested {
    /// `GET /{conversation}/messages`, newest first, until `since`.
    Messages {
        conversation: String,
        /// The conversation's customer, from its participants.
        customer: Option<ContactRef>,
        after: String,
    },
    /// `GET /{post}/comments?filter=stream` (Facebook), oldest first; `after: None` starts
    /// with the first page (an older post commented on since).
    PostComments {
        post: PostRef,
        #[serde(default)]
        after: Option<String>,
    },
    /// `GET /{media}/comments` (Instagram): top-level comments with their first replies.
    MediaComments { post: PostRef, after: String },
    /// `GET /{comment}/replies` (Instagram).
    Replies {
        post: PostRef,
        comment: String,
        after: String,
    },
}

impl HistoryCursor {
    fn decode(cursor: Option<&str>) -> Result<Self, ConnectorError> {
        match cursor.map(str::trim) {
            None | Some("") => Ok(HistoryCursor::default()),
            Some(c) if c.starts_with('{') => serde_json::from_str(c)
                .map_err(|e| ConnectorError::Invalid(format!("unreadable history cursor: {e}"))),
            // A Graph cursor is never JSON: one stored by an earlier version.
            Some(c) => Ok(HistoryCursor {
                after: Some(c.to_owned()),
                ..HistoryCursor::default()
            }),
        }
    }

    /// `None` once the outer listing is done and no nested list is left.
    fn encode(&self) -> Result<Option<String>, ConnectorError> {
        if self.done && self.pending.is_empty() {
            return Ok(None);
        }
        serde_json::to_string(self)
            .map(Some)
            .map_err(|e| ConnectorError::Invalid(format!("history cursor: {e}")))
    }

    /// Record the outer listing's next page (`None`: it has none).
    fn advance(&mut self, next: Option<String>) {
        self.done = next.is_none();
        self.after = next;
    }

    /// The outer listing reached `since`: nothing after this is read.
    fn stop(&mut self) {
        self.done = true;
        self.after = None;
    }
}

/// The next page's `after` of a nested list, unless Graph handed back the same cursor (which
/// would read the same page forever).
fn next_after(next: Option<String>, current: Option<&str>) -> Option<String> {
    next.filter(|n| Some(n.as_str()) != current)
}

// ---- Graph's answers -----------------------------------------------------------------------

#[derive(Deserialize)]
struct ConversationEntry {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    updated_time: Option<DateTime<Utc>>,
    #[serde(default)]
    participants: List<Party>,
    #[serde(default)]
    messages: List<MessageEntry>,
}

#[derive(Deserialize)]
struct MessageEntry {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    from: Option<Party>,
    #[serde(default)]
    to: List<Party>,
    #[serde(default, deserialize_with = "lenient_time")]
    created_time: Option<DateTime<Utc>>,
    #[serde(default)]
    attachments: List<MessageAttachment>,
}

#[derive(Deserialize)]
struct MessageAttachment {
    #[serde(default)]
    mime_type: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    image_data: Option<MediaData>,
    #[serde(default)]
    video_data: Option<MediaData>,
    #[serde(default)]
    file_url: Option<String>,
}

#[derive(Deserialize)]
struct MediaData {
    #[serde(default)]
    url: Option<String>,
}

impl MessageAttachment {
    /// The same words the webhooks use: `image`, `video`, `audio`, `file`.
    fn normalize(self) -> Attachment {
        let mime = self.mime_type.as_deref().unwrap_or_default();
        let (kind, url) = if let Some(img) = self.image_data {
            ("image", img.url)
        } else if let Some(video) = self.video_data {
            ("video", video.url)
        } else if mime.starts_with("audio/") {
            ("audio", self.file_url)
        } else if mime.starts_with("image/") {
            ("image", self.file_url)
        } else if mime.starts_with("video/") {
            ("video", self.file_url)
        } else {
            ("file", self.file_url)
        };
        Attachment {
            kind: kind.to_owned(),
            url,
            title: self.name,
            payload: None,
        }
    }
}

#[derive(Deserialize)]
struct FbPostEntry {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    permalink_url: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    created_time: Option<DateTime<Utc>>,
    /// When the post was created, edited or last commented on.
    #[serde(default, deserialize_with = "lenient_time")]
    updated_time: Option<DateTime<Utc>>,
    /// Only asked for posts of the window (see [`FB_POST_FIELDS`]).
    #[serde(default)]
    comments: List<FbCommentEntry>,
}

#[derive(Deserialize)]
struct FbCommentEntry {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    from: Option<Party>,
    #[serde(default, deserialize_with = "lenient_time")]
    created_time: Option<DateTime<Utc>>,
    #[serde(default)]
    parent: Option<IdAnswer>,
    #[serde(default)]
    attachment: Option<FbCommentAttachment>,
}

#[derive(Deserialize)]
struct FbCommentAttachment {
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    media: Option<FbAttachmentMedia>,
}

#[derive(Deserialize)]
struct FbAttachmentMedia {
    #[serde(default)]
    image: Option<FbImage>,
    #[serde(default)]
    source: Option<String>,
}

#[derive(Deserialize)]
struct FbImage {
    #[serde(default)]
    src: Option<String>,
}

impl FbCommentAttachment {
    /// The webhook's words: `image` for photos, `video` for videos, else Graph's type.
    fn normalize(self) -> Attachment {
        let kind = match self.kind.as_deref() {
            Some("photo") | None => "image".to_owned(),
            Some(k) if k.starts_with("video") => "video".to_owned(),
            Some(k) => k.to_owned(),
        };
        let media = self.media;
        let url = if kind == "video" {
            media.as_ref().and_then(|m| m.source.clone())
        } else {
            None
        }
        .or_else(|| media.and_then(|m| m.image).and_then(|i| i.src))
        .or(self.url);
        Attachment {
            kind,
            url,
            ..Attachment::default()
        }
    }
}

#[derive(Deserialize)]
struct IgMediaEntry {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    caption: Option<String>,
    #[serde(default)]
    permalink: Option<String>,
    #[serde(default, deserialize_with = "lenient_time")]
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    media_product_type: Option<String>,
    #[serde(default)]
    comments: List<IgCommentEntry>,
}

#[derive(Deserialize)]
struct IgCommentEntry {
    #[serde(default, deserialize_with = "lenient_id")]
    id: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    from: Option<Party>,
    #[serde(default, deserialize_with = "lenient_time")]
    timestamp: Option<DateTime<Utc>>,
    #[serde(default)]
    replies: List<IgCommentEntry>,
}

fn bad_answer(what: &str) -> ConnectorError {
    ConnectorError::Transport(format!("Graph API answered {what}"))
}

// ---- events --------------------------------------------------------------------------------

/// The customer of a conversation: whichever participant is not the account.
fn conversation_customer(account_id: &str, participants: &List<Party>) -> Option<ContactRef> {
    participants
        .data
        .iter()
        .find(|p| p.id.as_deref().is_some_and(|id| id != account_id))
        .and_then(Party::contact)
}

/// A page of one conversation's messages as normalized events, oldest first, leaving out those
/// before `since`; and whether one was before `since` (the list is newest first: its further
/// pages are older still).
fn message_events(
    account_id: &str,
    customer: Option<&ContactRef>,
    messages: Vec<MessageEntry>,
    since: DateTime<Utc>,
) -> Result<(Vec<NormalizedEvent>, bool), ConnectorError> {
    let mut events = Vec::new();
    let mut reached_since = false;
    for m in messages {
        let Some(mid) = m.id else {
            return Err(bad_answer("a message without id"));
        };
        let sent_at = m
            .created_time
            .ok_or_else(|| bad_answer("a message without a readable created_time"))?;
        if sent_at < since {
            reached_since = true;
            continue;
        }
        let from_account = m.from.as_ref().and_then(|f| f.id.as_deref()) == Some(account_id);
        let contact = if from_account {
            m.to.data
                .iter()
                .find(|p| p.id.as_deref().is_some_and(|id| id != account_id))
                .and_then(Party::contact)
        } else {
            m.from.as_ref().and_then(Party::contact)
        }
        .or_else(|| customer.cloned())
        .ok_or_else(|| bad_answer("a message without a customer"))?;
        let inbound = InboundMessage {
            account_external_id: account_id.to_owned(),
            thread_external_id: contact.external_id.clone(),
            contact,
            external_message_id: mid,
            sent_at,
            text: m.message.filter(|t| !t.is_empty()),
            attachments: m
                .attachments
                .data
                .into_iter()
                .map(MessageAttachment::normalize)
                .collect(),
            reply_to: None,
            app_id: None,
            quick_reply: None,
            postback: None,
            referral: None,
            standby: false,
        };
        events.push(if from_account {
            NormalizedEvent::MessageEcho(inbound)
        } else {
            NormalizedEvent::MessageReceived(inbound)
        });
    }
    events.sort_by_key(|e| match e {
        NormalizedEvent::MessageEcho(m) | NormalizedEvent::MessageReceived(m) => m.sent_at,
        _ => DateTime::<Utc>::MIN_UTC,
    });
    Ok((events, reached_since))
}

/// A listed comment, before it becomes a [`CommentEvent`].
struct ListedComment {
    id: Option<String>,
    parent: Option<String>,
    author: Option<ContactRef>,
    text: Option<String>,
    attachments: Vec<Attachment>,
    at: Option<DateTime<Utc>>,
}

impl ListedComment {
    /// An `Added` event, shaped like the webhook's: a top-level comment has no parent, and
    /// the account's own comments are flagged.
    fn into_event(
        self,
        account_id: &str,
        post: &PostRef,
    ) -> Result<NormalizedEvent, ConnectorError> {
        let id = self.id.ok_or_else(|| bad_answer("a comment without id"))?;
        let at = self
            .at
            .ok_or_else(|| bad_answer("a comment without a readable time"))?;
        Ok(NormalizedEvent::Comment(CommentEvent {
            account_external_id: account_id.to_owned(),
            action: CommentAction::Added,
            post: post.clone(),
            external_comment_id: id,
            parent_external_id: self
                .parent
                .filter(|p| !p.is_empty() && *p != post.external_id),
            by_account: self
                .author
                .as_ref()
                .is_some_and(|a| a.external_id == account_id),
            author: self.author,
            text: self.text.filter(|t| !t.is_empty()),
            attachments: self.attachments,
            at,
        }))
    }
}

impl From<FbCommentEntry> for ListedComment {
    fn from(c: FbCommentEntry) -> Self {
        ListedComment {
            id: c.id,
            parent: c.parent.and_then(|p| p.id),
            author: c.from.as_ref().and_then(Party::contact),
            text: c.message,
            attachments: c
                .attachment
                .map(FbCommentAttachment::normalize)
                .into_iter()
                .collect(),
            at: c.created_time,
        }
    }
}

impl IgCommentEntry {
    /// This comment (a reply under `parent`, when given), without its replies.
    fn listed(self, parent: Option<String>) -> ListedComment {
        let username = self.username;
        let author = self.from.and_then(|f| {
            f.id.map(|external_id| ContactRef {
                external_id,
                display_name: f.username.or(username),
            })
        });
        ListedComment {
            id: self.id,
            parent,
            author,
            text: self.text,
            attachments: Vec::new(),
            at: self.timestamp,
        }
    }
}

/// Comments of one post as events in time order, leaving out those before `since`.
fn comment_events(
    account_id: &str,
    post: &PostRef,
    comments: impl IntoIterator<Item = ListedComment>,
    since: DateTime<Utc>,
) -> Result<Vec<NormalizedEvent>, ConnectorError> {
    let mut events = Vec::new();
    for c in comments {
        if c.at.is_some_and(|t| t < since) {
            continue;
        }
        events.push(c.into_event(account_id, post)?);
    }
    events.sort_by_key(|e| match e {
        NormalizedEvent::Comment(c) => c.at,
        _ => DateTime::<Utc>::MIN_UTC,
    });
    Ok(events)
}

/// A page of Instagram top-level comments, each with its first replies, as events; and the
/// replies lists with pages left.
fn ig_comment_events(
    account_id: &str,
    post: &PostRef,
    comments: Vec<IgCommentEntry>,
    since: DateTime<Utc>,
) -> Result<(Vec<NormalizedEvent>, Vec<Nested>), ConnectorError> {
    let mut listed = Vec::new();
    let mut more = Vec::new();
    for mut c in comments {
        let replies = std::mem::take(&mut c.replies);
        let parent = c.id.clone();
        if let (Some(after), Some(comment)) = (replies.next_cursor(), parent.clone()) {
            more.push(Nested::Replies {
                post: post.clone(),
                comment,
                after,
            });
        }
        listed.push(c.listed(None));
        listed.extend(replies.data.into_iter().map(|r| r.listed(parent.clone())));
    }
    Ok((comment_events(account_id, post, listed, since)?, more))
}

// ---- the listings --------------------------------------------------------------------------

/// What a history call lists.
#[derive(Clone, Copy)]
enum Listing {
    Conversations,
    FacebookPosts,
    InstagramMedia,
}

impl Facebook {
    /// One Graph request: the next page of the first pending nested list, else the next page of
    /// the outer listing.
    async fn history_page(
        &self,
        graph: &Graph<'_>,
        account_id: &str,
        since: DateTime<Utc>,
        cursor: Option<&str>,
        listing: Listing,
    ) -> Result<HistoryPage, ConnectorError> {
        let mut cur = HistoryCursor::decode(cursor)?;
        let mut events = Vec::new();
        if let Some(nested) = cur.pending.pop_front() {
            let next = nested_page(graph, account_id, since, nested, &mut events).await?;
            // Finish this list (and the replies lists it opened) before the others.
            for n in next.into_iter().rev() {
                cur.pending.push_front(n);
            }
        } else if !cur.done {
            match listing {
                Listing::Conversations => {
                    self.conversation_page(graph, account_id, since, &mut cur, &mut events)
                        .await?;
                }
                Listing::FacebookPosts => {
                    post_page(graph, account_id, since, &mut cur, &mut events).await?;
                }
                Listing::InstagramMedia => {
                    media_page(graph, account_id, since, &mut cur, &mut events).await?;
                }
            }
        }
        Ok(HistoryPage {
            events,
            next_cursor: cur.encode()?,
        })
    }

    /// Conversations come most recently updated first; the listing stops at the first one
    /// updated before `since`. A conversation whose first messages are all in the window and
    /// that has more is queued for `/{conversation}/messages`.
    async fn conversation_page(
        &self,
        graph: &Graph<'_>,
        account_id: &str,
        since: DateTime<Utc>,
        cur: &mut HistoryCursor,
        events: &mut Vec<NormalizedEvent>,
    ) -> Result<(), ConnectorError> {
        let after = cur.after.clone();
        let mut params = vec![("fields", CONVERSATION_FIELDS)];
        // Instagram threads are listed through the Page token's node, filtered by platform.
        let node = match self.platform {
            Platform::Instagram => {
                params.push(("platform", "instagram"));
                "me"
            }
            _ => account_id,
        };
        if let Some(after) = after.as_deref() {
            params.push(("after", after));
        }
        let (list, _): (List<ConversationEntry>, Usage) = graph
            .get(&[node, "conversations"], &params, "conversation list")
            .await?;
        cur.advance(list.next_cursor());
        for conv in list.data {
            let updated = conv
                .updated_time
                .ok_or_else(|| bad_answer("a conversation without a readable updated_time"))?;
            if updated < since {
                // The rest are older.
                cur.stop();
                break;
            }
            let customer = conversation_customer(account_id, &conv.participants);
            let more = conv.messages.next_cursor();
            let (page, reached_since) =
                message_events(account_id, customer.as_ref(), conv.messages.data, since)?;
            events.extend(page);
            if let Some(after) = more.filter(|_| !reached_since) {
                let conversation = conv
                    .id
                    .ok_or_else(|| bad_answer("a conversation without id"))?;
                cur.pending.push_back(Nested::Messages {
                    conversation,
                    customer,
                    after,
                });
            }
        }
        Ok(())
    }
}

/// Facebook posts come newest first and are all walked, since an old post (a pinned product)
/// may still be commented on: a post counts when its `updated_time` (else `created_time`) is
/// at or after `since`. While posts are in the window the listing carries their first
/// comments; past them it asks [`FB_OLD_POST_FIELDS`] only, and each old post commented on
/// since is queued for `/{post}/comments`, so an old post with no new comment costs no comment
/// request.
async fn post_page(
    graph: &Graph<'_>,
    account_id: &str,
    since: DateTime<Utc>,
    cur: &mut HistoryCursor,
    events: &mut Vec<NormalizedEvent>,
) -> Result<(), ConnectorError> {
    let with_comments = !cur.old_posts;
    let fields = if with_comments {
        FB_POST_FIELDS
    } else {
        FB_OLD_POST_FIELDS
    };
    let after = cur.after.clone();
    let mut params = vec![("fields", fields)];
    if let Some(after) = after.as_deref() {
        params.push(("after", after));
    }
    let (list, _): (List<FbPostEntry>, Usage) = graph
        .get(&[account_id, "posts"], &params, "post list")
        .await?;
    cur.advance(list.next_cursor());
    for p in list.data {
        let created = p
            .created_time
            .ok_or_else(|| bad_answer("a post without a readable created_time"))?;
        if created < since {
            cur.old_posts = true;
        }
        if p.updated_time.unwrap_or(created) < since {
            continue;
        }
        let post = PostRef {
            external_id: p.id.ok_or_else(|| bad_answer("a post without id"))?,
            permalink: p.permalink_url,
            text: p.message,
            media_kind: None,
        };
        if !with_comments {
            cur.pending
                .push_back(Nested::PostComments { post, after: None });
            continue;
        }
        let more = p.comments.next_cursor();
        let comments = p.comments.data.into_iter().map(ListedComment::from);
        events.extend(comment_events(account_id, &post, comments, since)?);
        if let Some(after) = more {
            cur.pending.push_back(Nested::PostComments {
                post,
                after: Some(after),
            });
        }
    }
    Ok(())
}

/// Instagram media come newest first and the listing stops at the first one created before
/// `since`: media have no time of last activity, so comments under older media are not
/// imported. Each media's comments and each comment's replies are read to their last page.
async fn media_page(
    graph: &Graph<'_>,
    account_id: &str,
    since: DateTime<Utc>,
    cur: &mut HistoryCursor,
    events: &mut Vec<NormalizedEvent>,
) -> Result<(), ConnectorError> {
    let after = cur.after.clone();
    let mut params = vec![("fields", IG_MEDIA_FIELDS)];
    if let Some(after) = after.as_deref() {
        params.push(("after", after));
    }
    let (list, _): (List<IgMediaEntry>, Usage) = graph
        .get(&[account_id, "media"], &params, "media list")
        .await?;
    cur.advance(list.next_cursor());
    for m in list.data {
        let created = m
            .timestamp
            .ok_or_else(|| bad_answer("a media without a readable timestamp"))?;
        if created < since {
            cur.stop();
            break;
        }
        let post = PostRef {
            external_id: m.id.ok_or_else(|| bad_answer("a media without id"))?,
            permalink: m.permalink,
            text: m.caption,
            media_kind: m.media_product_type,
        };
        let more = m.comments.next_cursor();
        let (page, replies) = ig_comment_events(account_id, &post, m.comments.data, since)?;
        events.extend(page);
        cur.pending.extend(replies);
        if let Some(after) = more {
            cur.pending.push_back(Nested::MediaComments { post, after });
        }
    }
    Ok(())
}

/// The next page of a nested list into `events`; returns what to read next, in order: the
/// rest of this list, and (Instagram comments) the replies lists this page opened.
async fn nested_page(
    graph: &Graph<'_>,
    account_id: &str,
    since: DateTime<Utc>,
    nested: Nested,
    events: &mut Vec<NormalizedEvent>,
) -> Result<Vec<Nested>, ConnectorError> {
    match nested {
        Nested::Messages {
            conversation,
            customer,
            after,
        } => {
            let params = [
                ("fields", MESSAGE_FIELDS),
                ("limit", MESSAGES_PER_PAGE),
                ("after", after.as_str()),
            ];
            let (list, _): (List<MessageEntry>, Usage) = graph
                .get(&[&conversation, "messages"], &params, "message list")
                .await?;
            let more = next_after(list.next_cursor(), Some(&after));
            let (page, reached_since) =
                message_events(account_id, customer.as_ref(), list.data, since)?;
            events.extend(page);
            Ok(more
                .filter(|_| !reached_since)
                .map(|after| Nested::Messages {
                    conversation,
                    customer,
                    after,
                })
                .into_iter()
                .collect())
        }
        Nested::PostComments { post, after } => {
            let mut params = vec![
                ("filter", "stream"),
                ("fields", FB_COMMENT_FIELDS),
                ("limit", FB_COMMENTS_PER_PAGE),
            ];
            if let Some(after) = after.as_deref() {
                params.push(("after", after));
            }
            let (list, _): (List<FbCommentEntry>, Usage) = graph
                .get(&[&post.external_id, "comments"], &params, "comment list")
                .await?;
            let more = next_after(list.next_cursor(), after.as_deref());
            let comments = list.data.into_iter().map(ListedComment::from);
            events.extend(comment_events(account_id, &post, comments, since)?);
            Ok(more
                .map(|after| Nested::PostComments {
                    post,
                    after: Some(after),
                })
                .into_iter()
                .collect())
        }
        Nested::MediaComments { post, after } => {
            let params = [("fields", IG_COMMENT_FIELDS), ("after", after.as_str())];
            let (list, _): (List<IgCommentEntry>, Usage) = graph
                .get(&[&post.external_id, "comments"], &params, "comment list")
                .await?;
            let more = next_after(list.next_cursor(), Some(&after));
            let (page, mut next) = ig_comment_events(account_id, &post, list.data, since)?;
            events.extend(page);
            next.extend(more.map(|after| Nested::MediaComments { post, after }));
            Ok(next)
        }
        Nested::Replies {
            post,
            comment,
            after,
        } => {
            let params = [("fields", IG_REPLY_FIELDS), ("after", after.as_str())];
            let (list, _): (List<IgCommentEntry>, Usage) = graph
                .get(&[&comment, "replies"], &params, "reply list")
                .await?;
            let more = next_after(list.next_cursor(), Some(&after));
            let replies = list
                .data
                .into_iter()
                .map(|r| r.listed(Some(comment.clone())));
            events.extend(comment_events(account_id, &post, replies, since)?);
            Ok(more
                .map(|after| Nested::Replies {
                    post,
                    comment,
                    after,
                })
                .into_iter()
                .collect())
        }
    }
}

#[async_trait]
impl History for Facebook {
    async fn list_conversations(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        since: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, ConnectorError> {
        require(account.access_token, "access token")?;
        require(account.external_id, "account id")?;
        let graph = Graph::new(cx, account.access_token, self.app_secret());
        self.history_page(
            &graph,
            account.external_id,
            since,
            cursor,
            Listing::Conversations,
        )
        .await
    }

    async fn list_post_comments(
        &self,
        cx: &HttpCtx<'_>,
        account: &AccountCtx<'_>,
        since: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, ConnectorError> {
        require(account.access_token, "access token")?;
        require(account.external_id, "account id")?;
        let graph = Graph::new(cx, account.access_token, self.app_secret());
        let listing = match self.platform {
            Platform::Instagram => Listing::InstagramMedia,
            _ => Listing::FacebookPosts,
        };
        self.history_page(&graph, account.external_id, since, cursor, listing)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_ids_may_be_numbers() {
        let conv: List<ConversationEntry> = serde_json::from_str(
            r#"{"data":[{"updated_time":"2024-06-10T06:13:20+0000",
                "participants":{"data":[{"id":6789012345678901,"name":"Lan"},{"id":105,"name":"Shop"}]},
                "messages":{"data":[
                  {"id":"m_2","message":"ok","from":{"id":105},"to":{"data":[{"id":6789012345678901}]},"created_time":"2024-06-10T06:13:20+0000"},
                  {"id":"m_1","message":"hi","from":{"id":6789012345678901,"name":"Lan"},"to":{"data":[{"id":105}]},"created_time":1717999000}
                ]}}]}"#,
        )
        .expect("conversations");
        let since = DateTime::from_timestamp(0, 0).expect("epoch");
        let conv = conv.data.into_iter().next().expect("one");
        let customer = conversation_customer("105", &conv.participants);
        let (events, reached_since) =
            message_events("105", customer.as_ref(), conv.messages.data, since).expect("events");
        assert!(!reached_since);
        let ids: Vec<(&str, &str, &str)> = events
            .iter()
            .map(|e| match e {
                NormalizedEvent::MessageReceived(m) => (
                    "in",
                    m.external_message_id.as_str(),
                    m.contact.external_id.as_str(),
                ),
                NormalizedEvent::MessageEcho(m) => (
                    "echo",
                    m.external_message_id.as_str(),
                    m.contact.external_id.as_str(),
                ),
                _ => ("other", "", ""),
            })
            .collect();
        assert_eq!(
            ids,
            [
                ("in", "m_1", "6789012345678901"),
                ("echo", "m_2", "6789012345678901")
            ]
        );
    }

    #[test]
    fn nested_pages_ask_what_the_listing_nests() {
        let nested = |outer: &str, sub: &str| outer.contains(&format!("{{{sub}}}"));
        assert!(nested(CONVERSATION_FIELDS, MESSAGE_FIELDS));
        assert!(CONVERSATION_FIELDS.contains(&format!("messages.limit({MESSAGES_PER_PAGE})")));
        assert!(nested(FB_POST_FIELDS, FB_COMMENT_FIELDS));
        assert!(FB_POST_FIELDS.contains(&format!("comments.limit({FB_COMMENTS_PER_PAGE})")));
        assert!(FB_POST_FIELDS.starts_with(FB_OLD_POST_FIELDS));
        assert!(nested(IG_MEDIA_FIELDS, IG_COMMENT_FIELDS));
        assert!(nested(IG_COMMENT_FIELDS, IG_REPLY_FIELDS));
    }

    #[test]
    fn cursors_round_trip_and_plain_graph_cursors_are_the_outer_after() {
        assert_eq!(
            HistoryCursor::decode(None).expect("none"),
            HistoryCursor::default()
        );
        let legacy = HistoryCursor::decode(Some("QVFIUjRtc2c0N3dTVjE2")).expect("legacy");
        assert_eq!(legacy.after.as_deref(), Some("QVFIUjRtc2c0N3dTVjE2"));
        assert!(!legacy.done && !legacy.old_posts && legacy.pending.is_empty());

        let post = PostRef {
            external_id: "105_1".into(),
            permalink: Some("https://www.facebook.com/105_1".into()),
            text: Some("Áo \"mới\"".into()),
            media_kind: None,
        };
        let cur = HistoryCursor {
            after: None,
            done: true,
            old_posts: true,
            pending: VecDeque::from([
                Nested::PostComments {
                    post: post.clone(),
                    after: None,
                },
                Nested::Messages {
                    conversation: "t_1".into(),
                    customer: Some(ContactRef {
                        external_id: "u1".into(),
                        display_name: Some("Lan".into()),
                    }),
                    after: "c1".into(),
                },
                Nested::Replies {
                    post,
                    comment: "179".into(),
                    after: "c2".into(),
                },
            ]),
        };
        let encoded = cur.encode().expect("encode").expect("pending lists left");
        assert!(encoded.starts_with('{'), "{encoded}");
        assert_eq!(HistoryCursor::decode(Some(&encoded)).expect("decode"), cur);

        let finished = HistoryCursor {
            done: true,
            ..HistoryCursor::default()
        };
        assert_eq!(finished.encode().expect("encode"), None);
        assert!(matches!(
            HistoryCursor::decode(Some("{not json")),
            Err(ConnectorError::Invalid(_))
        ));
    }

    #[test]
    fn a_nested_list_handing_back_its_own_cursor_ends() {
        assert_eq!(next_after(Some("a".into()), Some("a")), None);
        assert_eq!(
            next_after(Some("b".into()), Some("a")).as_deref(),
            Some("b")
        );
        assert_eq!(next_after(Some("b".into()), None).as_deref(), Some("b"));
        assert_eq!(next_after(None, Some("a")), None);
    }
}
