//! Entity for the `lead` table: a sales lead: a contact's phone number on its way to an order.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "lead")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub contact_id: Uuid,
    pub conversation_id: Option<Uuid>,
    pub channel_account_id: Option<Uuid>,
    pub stage: String,
    pub phone: String,
    pub source: String,
    pub source_ref: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub text: Option<String>,
    pub assignee_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The post a comment lead came from.
    pub post_external_id: Option<String>,
    /// Why it was lost.
    #[sea_orm(column_type = "Text", nullable)]
    pub lost_reason: Option<String>,
    /// A call back is due then.
    pub next_call_at: Option<DateTimeUtc>,
    /// When its agent last worked on it (a call, a stage change).
    pub touched_at: Option<DateTimeUtc>,
    /// When its assignee got it.
    pub assigned_at: Option<DateTimeUtc>,
    /// When it was won or lost.
    pub closed_at: Option<DateTimeUtc>,
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
        belongs_to = "super::contact::Entity",
        from = "Column::ContactId",
        to = "super::contact::Column::Id",
        on_delete = "Cascade"
    )]
    Contact,
    #[sea_orm(
        belongs_to = "super::conversation::Entity",
        from = "Column::ConversationId",
        to = "super::conversation::Column::Id",
        on_delete = "SetNull"
    )]
    Conversation,
    #[sea_orm(
        belongs_to = "super::channel_account::Entity",
        from = "Column::ChannelAccountId",
        to = "super::channel_account::Column::Id",
        on_delete = "SetNull"
    )]
    ChannelAccount,
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

impl Related<super::contact::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Contact.def()
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
        Relation::Assignee.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
