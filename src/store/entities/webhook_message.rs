//! Entity for the `webhook_message` table: one event for one outbound webhook endpoint. Its id
//! is the `webhook-id` header, the same on every attempt; its attempts are `delivery_attempt`
//! rows with `event_id` = this id.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "webhook_message")]
pub struct Model {
    /// `msg_…`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub workspace_id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: String,
    /// The order it is about (`data.order_id`), for the order's delivery list.
    pub order_id: Option<Uuid>,
    /// The exact body sent (signed as is).
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// `pending`, `delivered`, `failed` (attempts exhausted or refused for good).
    pub status: String,
    pub attempts: i32,
    pub last_status_code: Option<i32>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::webhook_endpoint::Entity",
        from = "Column::EndpointId",
        to = "super::webhook_endpoint::Column::Id",
        on_delete = "Cascade"
    )]
    Endpoint,
}

impl Related<super::webhook_endpoint::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Endpoint.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
