//! Read models: what the API returns and the websocket carries. Built from committed rows, in
//! the caller's workspace only.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use tongdai_connectors::Attachment;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::store::entities::{
    channel_account, contact, contact_identity, conversation, conversation_label, label, message,
};

/// A channel account as shown next to a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ChannelRefOut {
    /// Id.
    pub id: Uuid,
    /// `facebook`, `zalo`, …
    pub platform: String,
    /// Display name (the Page name).
    pub name: String,
}

/// A contact as shown next to a conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ContactRefOut {
    /// Id.
    pub id: Uuid,
    /// Name, when known.
    pub name: Option<String>,
    /// E.164 phone, when known.
    pub phone: Option<String>,
    /// Profile picture of the conversation's customer on this channel, when the platform gave
    /// one (a platform CDN link; it may expire).
    pub avatar_url: Option<String>,
}

/// A conversation.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ConversationOut {
    /// Id.
    pub id: Uuid,
    /// `direct` or `comment_thread`.
    pub kind: String,
    /// `open`, `pending` or `resolved`.
    pub status: String,
    /// The channel account.
    pub channel_account: ChannelRefOut,
    /// The customer.
    pub contact: ContactRefOut,
    /// Assigned user.
    pub assignee_id: Option<Uuid>,
    /// Label names.
    pub labels: Vec<String>,
    /// Inbound messages not yet read by an agent.
    pub unread_count: i32,
    /// Time of the newest message.
    pub last_message_at: Option<DateTime<Utc>>,
    /// Start of the newest message.
    pub last_message_preview: Option<String>,
    /// Time of the customer's newest message.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Comment threads: the post they are under.
    pub post: Option<PostOut>,
    /// How the customer arrived (ad, link, post), when the platform said.
    #[schema(value_type = Option<Object>)]
    pub referral: Option<serde_json::Value>,
    /// Whether and until when an agent can reply here.
    pub reply: ReplyStateOut,
    /// A complaint opened from unhappy feedback: `pending` until customer care picks its
    /// category (`delivery`, `product_quality`, `online_staff`, `store_staff`, `sales_policy`).
    pub complaint: Option<String>,
}

/// Whether an agent can reply in a conversation now, and until when.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReplyStateOut {
    /// A reply would be sent.
    pub can_reply: bool,
    /// `standard` (the platform's normal window; on Zalo one of the free replies),
    /// `human_agent` (Messenger's HUMAN_AGENT tag, after 24 h and up to 7 days), `paid` (Zalo:
    /// the free replies are used, the OA's paid quota pays), `comment` (public comment
    /// replies: no window), `open` (platforms without a window) or `closed`.
    pub mode: String,
    /// When the current mode ends (`standard` → `human_agent` → `closed`).
    pub until: Option<DateTime<Utc>>,
    /// Why not, when `closed`.
    pub reason: Option<String>,
    /// Why not, as a code, when `closed`: `no_customer_message`, `expired` (Meta: 7 days),
    /// `expired_48h` (Zalo: 48 hours), `quota_spent` (Zalo: free replies used, no paid
    /// quota left), `already_replied`.
    pub reason_code: Option<String>,
    /// Zalo: free replies left in the current 48-hour window.
    pub free_left: Option<u32>,
}

/// What a platform's reply rule needs beyond the conversation row (Zalo: the replies already
/// sent since the customer's last message, the OA's last known remaining paid quota).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyFacts {
    /// Replies sent (or queued) since the customer's last message.
    pub replies_since: u32,
    /// The OA's last known remaining paid message quota (`None`: never seen).
    pub paid_remain: Option<i64>,
}

/// The settings key where the last paid quota a Zalo send reported is kept.
pub const ZALO_QUOTA_KEY: &str = "zalo_quota";

/// The OA's last known remaining paid quota, from its channel settings.
pub fn zalo_paid_remain(ch: &channel_account::Model) -> Option<i64> {
    ch.settings.get(ZALO_QUOTA_KEY)?.get("remain")?.as_i64()
}

/// The reply facts of conversation `c` on `ch`: counted for Zalo direct conversations only
/// (messages out, not failed, since the customer's last message), `exclude` left out.
pub async fn reply_facts(
    db: &impl ConnectionTrait,
    c: &conversation::Model,
    ch: &channel_account::Model,
    only_sent: bool,
    exclude: Option<Uuid>,
) -> Result<ReplyFacts, sea_orm::DbErr> {
    use sea_orm::PaginatorTrait;
    let (true, true, Some(last)) = (
        ch.platform == "zalo",
        c.kind != "comment_thread",
        c.last_inbound_at,
    ) else {
        return Ok(ReplyFacts::default());
    };
    let mut q = message::Entity::find()
        .filter(message::Column::ConversationId.eq(c.id))
        .filter(message::Column::Direction.eq("out"))
        .filter(message::Column::Kind.eq("message"))
        .filter(message::Column::SentAt.gte(last));
    q = if only_sent {
        q.filter(message::Column::Status.is_in(["sent", "delivered", "read"]))
    } else {
        q.filter(message::Column::Status.ne("failed"))
    };
    if let Some(id) = exclude {
        q = q.filter(message::Column::Id.ne(id));
    }
    let n = q.count(db).await?;
    Ok(ReplyFacts {
        replies_since: u32::try_from(n).unwrap_or(u32::MAX),
        paid_remain: zalo_paid_remain(ch),
    })
}

/// The reply state of a conversation on `platform` whose customer last wrote at
/// `last_inbound`: Meta's windows for Facebook and Instagram (`shared/specs/social.md` §2.6),
/// Zalo's 48 hours with 8 free replies then the paid quota (§4.3, UNVERIFIED numbers).
pub fn reply_state(
    platform: &str,
    kind: &str,
    last_inbound: Option<DateTime<Utc>>,
    facts: ReplyFacts,
    now: DateTime<Utc>,
) -> ReplyStateOut {
    use tongdai_connectors::outbound::{ReplyWindow, WindowClosedReason, reply_window};
    use tongdai_connectors::zalo::window::{self as zalo, ZaloClosedReason, ZaloWindow};
    let open = |mode: &str, until| ReplyStateOut {
        can_reply: true,
        mode: mode.to_owned(),
        until,
        reason: None,
        reason_code: None,
        free_left: None,
    };
    let closed = |until, code: &str, reason: String| ReplyStateOut {
        can_reply: false,
        mode: "closed".into(),
        until,
        reason: Some(reason),
        reason_code: Some(code.to_owned()),
        free_left: None,
    };
    if kind == "comment_thread" {
        return open("comment", None);
    }
    if platform == "zalo" {
        let w = zalo::reply_window(last_inbound, facts.replies_since, facts.paid_remain, now);
        let why = w.refusal().unwrap_or_default();
        return match w {
            ZaloWindow::Free { left, until } => ReplyStateOut {
                free_left: Some(left),
                ..open("standard", Some(until))
            },
            ZaloWindow::Paid { until, .. } => ReplyStateOut {
                free_left: Some(0),
                ..open("paid", Some(until))
            },
            ZaloWindow::Closed { reason, since } => {
                let code = match reason {
                    ZaloClosedReason::NoCustomerMessage => "no_customer_message",
                    ZaloClosedReason::Expired => "expired_48h",
                    ZaloClosedReason::QuotaSpent => "quota_spent",
                };
                closed(since, code, why)
            }
        };
    }
    if !matches!(platform, "facebook" | "instagram") {
        return open("open", None);
    }
    match reply_window(last_inbound, now) {
        ReplyWindow::Standard => open(
            "standard",
            last_inbound.map(|t| t + chrono::Duration::hours(24)),
        ),
        ReplyWindow::HumanAgent => open(
            "human_agent",
            last_inbound.map(|t| t + chrono::Duration::days(7)),
        ),
        ReplyWindow::Closed { reason, since } => match reason {
            WindowClosedReason::NoCustomerMessage => closed(
                since,
                "no_customer_message",
                "the customer has not written yet: the platform allows no message first".into(),
            ),
            WindowClosedReason::AlreadyReplied => {
                closed(since, "already_replied", "already replied".into())
            }
            WindowClosedReason::Expired => closed(
                since,
                "expired",
                "the customer last wrote more than 7 days ago: Meta allows no reply until they write again".into(),
            ),
        },
    }
}

/// The post a comment thread hangs under.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PostOut {
    /// The platform's id of the post or media.
    pub external_id: String,
    /// Public link, when known.
    pub permalink: Option<String>,
    /// Its text, when known.
    pub text: Option<String>,
}

/// An attachment as the platform described it, plus our stored copy of the file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AttachmentOut {
    /// The platform's attachment.
    #[serde(flatten)]
    pub attachment: Attachment,
    /// The stored copy (`GET /api/v1/media/{id}`), once downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_id: Option<Uuid>,
}

/// A message.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MessageOut {
    /// Id.
    pub id: Uuid,
    /// Conversation.
    pub conversation_id: Uuid,
    /// `in` (from the customer) or `out`.
    pub direction: String,
    /// `contact`, `agent`, `page` (sent from the platform's own app) or `system` (automatic:
    /// order status, feedback question).
    pub sender_kind: String,
    /// The agent who wrote it.
    pub author_user_id: Option<Uuid>,
    /// Text.
    pub text: Option<String>,
    /// Attachments; `media_id` names our stored copy (`GET /api/v1/media/{id}`) once it is
    /// downloaded.
    #[schema(value_type = Vec<Object>)]
    pub attachments: Vec<AttachmentOut>,
    /// `received`, `queued`, `sent`, `delivered`, `read` or `failed`.
    pub status: String,
    /// The platform's error when `failed` (or the last retryable error while `queued`).
    pub error: Option<String>,
    /// When it was sent.
    pub sent_at: DateTime<Utc>,
    /// The platform's message id.
    pub external_id: Option<String>,
    /// `message` or `comment`.
    pub kind: String,
    /// The platform id of the message or comment this one answers.
    pub in_reply_to: Option<String>,
    /// Comments: the platform id of who wrote it.
    pub author_external_id: Option<String>,
    /// Comments: the name of who wrote it.
    pub author_name: Option<String>,
    /// Quick-reply or postback payload, referral, standby.
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
    /// Reactions by person: platform id → emoji.
    #[schema(value_type = Option<Object>)]
    pub reactions: Option<serde_json::Value>,
    /// A comment hidden from the public.
    pub hidden: bool,
    /// When the author last edited it (earlier texts: `GET /messages/{id}/revisions`).
    pub edited_at: Option<DateTime<Utc>>,
    /// When it was unsent or removed; the text stays for the record.
    pub removed_at: Option<DateTime<Utc>>,
    /// Comments: when the one allowed private reply was sent.
    pub private_replied_at: Option<DateTime<Utc>>,
}

impl From<message::Model> for MessageOut {
    fn from(m: message::Model) -> Self {
        MessageOut {
            id: m.id,
            conversation_id: m.conversation_id,
            direction: m.direction,
            sender_kind: m.sender_kind,
            author_user_id: m.author_user_id,
            text: m.text,
            attachments: serde_json::from_value(m.attachments).unwrap_or_default(),
            status: m.status,
            error: m.error,
            sent_at: m.sent_at,
            external_id: m.external_id,
            kind: m.kind,
            in_reply_to: m.in_reply_to,
            author_external_id: m.author_external_id,
            author_name: m.author_name,
            meta: m.meta,
            reactions: m.reactions,
            hidden: m.hidden,
            edited_at: m.edited_at,
            removed_at: m.removed_at,
            private_replied_at: m.private_replied_at,
        }
    }
}

/// Build the views of `convs` (all of one workspace) with their channel, contact and labels.
pub async fn conversations_out(
    db: &impl ConnectionTrait,
    convs: Vec<conversation::Model>,
) -> AppResult<Vec<ConversationOut>> {
    if convs.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = convs.iter().map(|c| c.id).collect();
    let channel_ids: Vec<Uuid> = convs.iter().map(|c| c.channel_account_id).collect();
    let contact_ids: Vec<Uuid> = convs.iter().map(|c| c.contact_id).collect();
    let channels = channel_account::Entity::find()
        .filter(channel_account::Column::Id.is_in(channel_ids))
        .all(db)
        .await?;
    let identity_ids: Vec<Uuid> = convs.iter().map(|c| c.identity_id).collect();
    let identities = contact_identity::Entity::find()
        .filter(contact_identity::Column::Id.is_in(identity_ids))
        .all(db)
        .await?;
    let contacts = contact::Entity::find()
        .filter(contact::Column::Id.is_in(contact_ids))
        .all(db)
        .await?;
    let links = conversation_label::Entity::find()
        .filter(conversation_label::Column::ConversationId.is_in(ids))
        .all(db)
        .await?;
    let labels = label::Entity::find()
        .filter(label::Column::Id.is_in(links.iter().map(|l| l.label_id).collect::<Vec<_>>()))
        .order_by_asc(label::Column::Name)
        .all(db)
        .await?;
    let mut out = Vec::with_capacity(convs.len());
    for c in convs {
        let ch = channels
            .iter()
            .find(|x| x.id == c.channel_account_id)
            .ok_or_else(|| AppError::Internal(anyhow::anyhow!("conversation without channel")))?;
        let ct = contacts.iter().find(|x| x.id == c.contact_id);
        let names = labels
            .iter()
            .filter(|lab| {
                links
                    .iter()
                    .any(|l| l.conversation_id == c.id && l.label_id == lab.id)
            })
            .map(|lab| lab.name.clone())
            .collect();
        let avatar = identities
            .iter()
            .find(|i| i.id == c.identity_id)
            .and_then(|i| i.avatar_url.clone());
        let facts = reply_facts(db, &c, ch, false, None).await?;
        let mut view = conversation_view(c, ch, ct, names, facts);
        view.contact.avatar_url = avatar;
        out.push(view);
    }
    Ok(out)
}

/// The view of one conversation from rows already in hand.
pub fn conversation_view(
    c: conversation::Model,
    ch: &channel_account::Model,
    ct: Option<&contact::Model>,
    labels: Vec<String>,
    facts: ReplyFacts,
) -> ConversationOut {
    let reply = reply_state(&ch.platform, &c.kind, c.last_inbound_at, facts, Utc::now());
    let post = c.post_external_id.map(|external_id| PostOut {
        external_id,
        permalink: c.post_permalink,
        text: c.post_text,
    });
    ConversationOut {
        id: c.id,
        kind: c.kind,
        status: c.status,
        channel_account: ChannelRefOut {
            id: ch.id,
            platform: ch.platform.clone(),
            name: ch.name.clone(),
        },
        contact: ContactRefOut {
            id: c.contact_id,
            name: ct.and_then(|x| x.name.clone()),
            phone: ct.and_then(|x| x.phone.clone()),
            avatar_url: None,
        },
        assignee_id: c.assignee_id,
        labels,
        unread_count: c.unread_count,
        last_message_at: c.last_message_at,
        last_message_preview: c.last_message_preview,
        last_inbound_at: c.last_inbound_at,
        created_at: c.created_at,
        post,
        reply,
        referral: c.referral,
        complaint: c.complaint,
    }
}

/// The names of a conversation's labels, sorted.
pub async fn label_names(
    db: &impl ConnectionTrait,
    conversation: Uuid,
) -> Result<Vec<String>, sea_orm::DbErr> {
    use sea_orm::{JoinType, QuerySelect, RelationTrait};
    label::Entity::find()
        .join(
            JoinType::InnerJoin,
            conversation_label::Relation::Label.def().rev(),
        )
        .filter(conversation_label::Column::ConversationId.eq(conversation))
        .order_by_asc(label::Column::Name)
        .all(db)
        .await
        .map(|ls| ls.into_iter().map(|l| l.name).collect())
}

/// (conversation, label name) of every label on `conversations`, by name.
pub async fn label_names_of(
    db: &impl ConnectionTrait,
    conversations: impl IntoIterator<Item = Uuid>,
) -> Result<Vec<(Uuid, String)>, sea_orm::DbErr> {
    use sea_orm::{JoinType, QuerySelect, RelationTrait};
    let rows = conversation_label::Entity::find()
        .select_also(label::Entity)
        .join(
            JoinType::InnerJoin,
            conversation_label::Relation::Label.def(),
        )
        .filter(conversation_label::Column::ConversationId.is_in(conversations))
        .order_by_asc(label::Column::Name)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(link, l)| l.map(|l| (link.conversation_id, l.name)))
        .collect())
}

/// One conversation of `workspace`, as a view; 404 when it is not in that workspace.
pub async fn conversation_out(
    db: &impl ConnectionTrait,
    workspace: Uuid,
    id: Uuid,
) -> AppResult<ConversationOut> {
    let c = conversation::Entity::find_by_id(id)
        .filter(conversation::Column::WorkspaceId.eq(workspace))
        .one(db)
        .await?
        .ok_or(AppError::NotFound("conversation"))?;
    conversations_out(db, vec![c])
        .await?
        .pop()
        .ok_or(AppError::NotFound("conversation"))
}
