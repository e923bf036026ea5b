//! Entity for the `conversation` table: a direct thread or a comment thread with one contact
//! identity.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "conversation")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub channel_account_id: Uuid,
    pub contact_id: Uuid,
    pub identity_id: Uuid,
    pub kind: String,
    pub external_thread_id: String,
    pub status: String,
    pub assignee_id: Option<Uuid>,
    pub unread_count: i32,
    pub last_message_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub last_message_preview: Option<String>,
    pub last_inbound_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    /// Comment threads: the post (or Instagram media) they hang under.
    pub post_external_id: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub post_permalink: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub post_text: Option<String>,
    /// How the customer arrived (ad, link, post), as the connector's `Referral`.
    #[sea_orm(column_type = "JsonBinary")]
    pub referral: Option<Json>,
    pub updated_at: DateTimeUtc,
    /// When its assignee got it.
    pub assigned_at: Option<DateTimeUtc>,
    /// A complaint opened from unhappy feedback: its category.
    pub complaint: Option<String>,
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
        belongs_to = "super::channel_account::Entity",
        from = "Column::ChannelAccountId",
        to = "super::channel_account::Column::Id",
        on_delete = "Cascade"
    )]
    ChannelAccount,
    #[sea_orm(
        belongs_to = "super::contact::Entity",
        from = "Column::ContactId",
        to = "super::contact::Column::Id",
        on_delete = "Cascade"
    )]
    Contact,
    #[sea_orm(
        belongs_to = "super::contact_identity::Entity",
        from = "Column::IdentityId",
        to = "super::contact_identity::Column::Id",
        on_delete = "Cascade"
    )]
    Identity,
    #[sea_orm(
        belongs_to = "super::user::Entity",
        from = "Column::AssigneeId",
        to = "super::user::Column::Id",
        on_delete = "SetNull"
    )]
    Assignee,
}

impl Related<super::workspace::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl Related<super::channel_account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChannelAccount.def()
    }
}

impl Related<super::contact::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Contact.def()
    }
}

impl Related<super::contact_identity::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Identity.def()
    }
}

impl Related<super::user::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Assignee.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
