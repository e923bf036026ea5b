//! The history listings of the Meta connector ([`History`]): a Page's or Instagram account's
//! recent conversations, and the comments under its recent posts or media.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::{Graph, IdAnswer, List, Party, lenient_id, lenient_time, require};
use crate::error::ConnectorError;
use crate::facebook::Facebook;
use crate::outbound::{HistoryPage, Usage};
use crate::traits::History;
use crate::types::{
    AccountCtx, Attachment, CommentAction, CommentEvent, ContactRef, HttpCtx, InboundMessage,
    NormalizedEvent, Platform, PostRef,
};

const CONVERSATION_FIELDS: &str =
    "participants,updated_time,messages.limit(50){id,message,from,to,created_time,attachments}";
/// `filter(stream)` lists replies too (with `parent`); Graph's default lists only top-level
/// comments.
const FB_POST_FIELDS: &str = "id,message,permalink_url,created_time,comments.limit(100).filter(stream){id,message,from,created_time,parent{id},attachment}";
const IG_MEDIA_FIELDS: &str = "id,caption,permalink,timestamp,media_product_type,comments{id,text,username,from,timestamp,replies{id,text,username,from,timestamp}}";

#[derive(Deserialize)]
struct ConversationEntry {
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

/// One conversation's messages as normalized events, oldest first, leaving out those before
/// `since`. The customer is whichever participant is not the account.
fn conversation_events(
    account_id: &str,
    conv: ConversationEntry,
    since: DateTime<Utc>,
) -> Result<Vec<NormalizedEvent>, ConnectorError> {
    let customer = conv
        .participants
        .data
        .iter()
        .find(|p| p.id.as_deref().is_some_and(|id| id != account_id))
        .and_then(Party::contact);
    let mut events = Vec::new();
    for m in conv.messages.data {
        let Some(mid) = m.id else {
            return Err(bad_answer("a message without id"));
        };
        let sent_at = m
            .created_time
            .ok_or_else(|| bad_answer("a message without a readable created_time"))?;
        if sent_at < since {
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
        .or_else(|| customer.clone())
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
    Ok(events)
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

fn event_time(e: &NormalizedEvent) -> DateTime<Utc> {
    match e {
        NormalizedEvent::Comment(c) => c.at,
        _ => DateTime::<Utc>::MIN_UTC,
    }
}

impl Facebook {
    async fn facebook_comments(
        &self,
        graph: &Graph<'_>,
        account_id: &str,
        since: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, ConnectorError> {
        let mut params = vec![("fields", FB_POST_FIELDS)];
        if let Some(after) = cursor {
            params.push(("after", after));
        }
        let (list, _): (List<FbPostEntry>, Usage) = graph
            .get(&[account_id, "posts"], &params, "post list")
            .await?;
        let mut next = list.next_cursor();
        let mut events = Vec::new();
        for p in list.data {
            let created = p
                .created_time
                .ok_or_else(|| bad_answer("a post without a readable created_time"))?;
            if created < since {
                // Posts come newest first: everything after this one is older too.
                next = None;
                break;
            }
            let post = PostRef {
                external_id: p.id.ok_or_else(|| bad_answer("a post without id"))?,
                permalink: p.permalink_url,
                text: p.message,
                media_kind: None,
            };
            let mut post_events = Vec::new();
            for c in p.comments.data {
                if c.created_time.is_some_and(|t| t < since) {
                    continue;
                }
                let listed = ListedComment {
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
                };
                post_events.push(listed.into_event(account_id, &post)?);
            }
            post_events.sort_by_key(event_time);
            events.extend(post_events);
        }
        Ok(HistoryPage {
            events,
            next_cursor: next,
        })
    }

    async fn instagram_comments(
        &self,
        graph: &Graph<'_>,
        account_id: &str,
        since: DateTime<Utc>,
        cursor: Option<&str>,
    ) -> Result<HistoryPage, ConnectorError> {
        let mut params = vec![("fields", IG_MEDIA_FIELDS)];
        if let Some(after) = cursor {
            params.push(("after", after));
        }
        let (list, _): (List<IgMediaEntry>, Usage) = graph
            .get(&[account_id, "media"], &params, "media list")
            .await?;
        let mut next = list.next_cursor();
        let mut events = Vec::new();
        for m in list.data {
            let created = m
                .timestamp
                .ok_or_else(|| bad_answer("a media without a readable timestamp"))?;
            if created < since {
                next = None;
                break;
            }
            let post = PostRef {
                external_id: m.id.ok_or_else(|| bad_answer("a media without id"))?,
                permalink: m.permalink,
                text: m.caption,
                media_kind: m.media_product_type,
            };
            let mut post_events = Vec::new();
            for c in m.comments.data {
                let parent_id = c.id.clone();
                let replies = c.replies.data;
                let top = [(c.id, None, c.from, c.username, c.text, c.timestamp)];
                let nested = replies.into_iter().map(|r| {
                    (
                        r.id,
                        parent_id.clone(),
                        r.from,
                        r.username,
                        r.text,
                        r.timestamp,
                    )
                });
                for (id, parent, from, username, text, at) in top.into_iter().chain(nested) {
                    if at.is_some_and(|t| t < since) {
                        continue;
                    }
                    let author = from.and_then(|f| {
                        f.id.map(|external_id| ContactRef {
                            external_id,
                            display_name: f.username.or(username),
                        })
                    });
                    let listed = ListedComment {
                        id,
                        parent,
                        author,
                        text,
                        attachments: Vec::new(),
                        at,
                    };
                    post_events.push(listed.into_event(account_id, &post)?);
                }
            }
            post_events.sort_by_key(event_time);
            events.extend(post_events);
        }
        Ok(HistoryPage {
            events,
            next_cursor: next,
        })
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
        let mut params = vec![("fields", CONVERSATION_FIELDS)];
        // Instagram threads are listed through the Page token's node, filtered by platform.
        let node = match self.platform {
            Platform::Instagram => {
                params.push(("platform", "instagram"));
                "me"
            }
            _ => account.external_id,
        };
        if let Some(after) = cursor {
            params.push(("after", after));
        }
        let (list, _): (List<ConversationEntry>, Usage) = graph
            .get(&[node, "conversations"], &params, "conversation list")
            .await?;
        let mut next = list.next_cursor();
        let mut events = Vec::new();
        for conv in list.data {
            let updated = conv
                .updated_time
                .ok_or_else(|| bad_answer("a conversation without a readable updated_time"))?;
            if updated < since {
                // Conversations come most recently updated first: the rest are older.
                next = None;
                break;
            }
            events.extend(conversation_events(account.external_id, conv, since)?);
        }
        Ok(HistoryPage {
            events,
            next_cursor: next,
        })
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
        match self.platform {
            Platform::Instagram => {
                self.instagram_comments(&graph, account.external_id, since, cursor)
                    .await
            }
            _ => {
                self.facebook_comments(&graph, account.external_id, since, cursor)
                    .await
            }
        }
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
        let events = conversation_events("105", conv.data.into_iter().next().expect("one"), since)
            .expect("events");
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
}
