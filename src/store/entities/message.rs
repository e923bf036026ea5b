//! Entity for the `message` table: one message in a conversation, inbound or outbound.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "message")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub conversation_id: Uuid,
    pub channel_account_id: Uuid,
    pub external_id: Option<String>,
    pub direction: String,
    pub sender_kind: String,
    pub author_user_id: Option<Uuid>,
    #[sea_orm(column_type = "Text")]
    pub text: Option<String>,
    #[sea_orm(column_type = "JsonBinary")]
    pub attachments: Json,
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
    pub sent_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// `message` or `comment`.
    pub kind: String,
    /// The platform id of the message or comment this one answers.
    pub in_reply_to: Option<String>,
    /// Comments: the platform id and name of who wrote it (threads have several people).
    pub author_external_id: Option<String>,
    pub author_name: Option<String>,
    /// Quick-reply / postback payloads, standby, … (`MessageMeta`).
    #[sea_orm(column_type = "JsonBinary")]
    pub meta: Option<Json>,
    /// Reactions by person: `{"<platform id>": "<emoji>"}`.
    #[sea_orm(column_type = "JsonBinary")]
    pub reactions: Option<Json>,
    /// Comments hidden from the public by the account.
    pub hidden: bool,
    pub edited_at: Option<DateTimeUtc>,
    /// Unsent by the customer or removed from the post: kept, marked.
    pub removed_at: Option<DateTimeUtc>,
    /// Comments: when the one allowed private reply was sent.
    pub private_replied_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::workspace::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspace::Column::Id",
        on_delete = "Cascade"
    )]
    Workspace,
    #[sea_orm(
        belongs_to = "super::conversation::Entity",
        from = "Column::ConversationId",
        to = "super::conversation::Column::Id",
        on_delete = "Cascade"
    )]
    Conversation,
    #[sea_orm(
        belongs_to = "super::channel_account::Entity",
        from = "Column::ChannelAccountId",
        to = "super::channel_account::Column::Id",
        on_delete = "Cascade"
    )]
    ChannelAccount,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::AuthorUserId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Author,
}

impl Related<super::workspace::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<super::conversation::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Conversation.def()
    }
}

impl Related<super::channel_account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChannelAccount.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Author.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
