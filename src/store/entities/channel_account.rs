//! Entity for the `channel_account` table: a connected page, shop or account on a platform;
//! `secrets_enc` is encrypted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "channel_account")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub platform: String,
    pub external_id: String,
    pub name: String,
    #[sea_orm(column_type = "JsonBinary")]
    pub settings: Json,
    #[sea_orm(column_type = "Blob")]
    pub secrets_enc: Option<Vec<u8>>,
    pub status: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// Health: the newest event received for this account.
    pub last_event_at: Option<DateTimeUtc>,
    #[sea_orm(column_type = "Text")]
    pub last_error: Option<String>,
    pub last_error_at: Option<DateTimeUtc>,
    /// History import progress.
    #[sea_orm(column_type = "JsonBinary")]
    pub backfill: Option<Json>,
    /// When the access token expires (accounts connected by OAuth 2 with refresh).
    pub token_expires_at: Option<DateTimeUtc>,
    /// A refresh in progress holds this lease, so one refresh runs at a time across nodes.
    pub refresh_locked_until: Option<DateTimeUtc>,
    /// The poller's state (platforms without push): high-water mark, cursors, quota used.
    #[sea_orm(column_type = "JsonBinary")]
    pub poll_state: Option<Json>,
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
}

impl Related<super::workspace::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Workspace.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
