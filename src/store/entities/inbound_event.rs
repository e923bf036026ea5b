//! Entity for the `inbound_event` table: a verified webhook body, stored before it is acknowledged.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "inbound_event")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = true)]
    pub id: i64,
    pub platform: String,
    pub event_key: String,
    pub workspace_id: Option<Uuid>,
    pub channel_account_id: Option<Uuid>,
    #[sea_orm(column_type = "Blob")]
    pub body: Vec<u8>,
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub error: Option<String>,
    pub attempts: i32,
    pub received_at: DateTimeUtc,
    pub processed_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::workspace::Entity",
        from = "Column::WorkspaceId",
        to = "super::workspace::Column::Id",
        on_delete = "SetNull"
    )]
    Workspace,
    #[sea_orm(
        belongs_to = "super::channel_account::Entity",
        from = "Column::ChannelAccountId",
        to = "super::channel_account::Column::Id",
        on_delete = "SetNull"
    )]
    ChannelAccount,
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
