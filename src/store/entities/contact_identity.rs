//! Entity for the `contact_identity` table: a contact as one channel account knows them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "contact_identity")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub contact_id: Uuid,
    pub channel_account_id: Uuid,
    pub external_id: String,
    pub display_name: Option<String>,
    pub original_contact_id: Option<Uuid>,
    pub created_at: DateTimeUtc,
    #[sea_orm(column_type = "Text")]
    pub avatar_url: Option<String>,
    /// When the platform profile was last fetched (once per identity).
    pub profile_fetched_at: Option<DateTimeUtc>,
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
        belongs_to = "super::channel_account::Entity",
        from = "Column::ChannelAccountId",
        to = "super::channel_account::Column::Id",
        on_delete = "Cascade"
    )]
    ChannelAccount,
    #[sea_orm(
        belongs_to = "super::contact::Entity",
        from = "Column::OriginalContactId",
        to = "super::contact::Column::Id",
        on_delete = "SetNull"
    )]
    OriginalContact,
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

impl ActiveModelBehavior for ActiveModel {}
