//! Entity for the `order` table: an order, made here or imported; amounts are integers in the
//! smallest currency unit.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel, Eq)]
#[sea_orm(table_name = "order")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub workspace_id: Uuid,
    pub contact_id: Option<Uuid>,
    pub lead_id: Option<Uuid>,
    pub channel_account_id: Option<Uuid>,
    pub external_id: Option<String>,
    pub status: String,
    pub recipient_name: Option<String>,
    pub phone: Option<String>,
    #[sea_orm(column_type = "Text")]
    pub address: Option<String>,
    pub cod_amount: i64,
    pub total_amount: i64,
    #[sea_orm(column_type = "Text")]
    pub note: Option<String>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// The conversation it was made from.
    pub conversation_id: Option<Uuid>,
    /// Where it came from: `manual`, `lead`, `conversation`, `shop`, a marketplace.
    pub source: String,
    /// Address parts (`address` is the street line).
    pub province: Option<String>,
    /// District, where the carrier still needs it.
    pub district: Option<String>,
    /// Ward.
    pub ward: Option<String>,
    /// Shipping fee charged to the buyer.
    pub shipping_fee: i64,
    /// Discount.
    pub discount: i64,
    /// The platform's own status (marketplaces, shops, fulfillment).
    pub platform_status: Option<String>,
    /// The payload it was imported from.
    #[sea_orm(column_type = "JsonBinary", nullable)]
    pub raw: Option<Json>,
    /// Carrier tracking code.
    pub tracking_code: Option<String>,
    /// Carrier.
    pub carrier: Option<String>,
    /// Why it was confirmed although the phone is blacklisted.
    #[sea_orm(column_type = "Text", nullable)]
    pub blacklist_override: Option<String>,
    /// Who made it.
    pub created_by: Option<Uuid>,
    /// When it was confirmed.
    pub confirmed_at: Option<DateTimeUtc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTimeUtc>,
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
        on_delete = "SetNull"
    )]
    Contact,
    #[sea_orm(
        belongs_to = "super::lead::Entity",
        from = "Column::LeadId",
        to = "super::lead::Column::Id",
        on_delete = "SetNull"
    )]
    Lead,
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

impl Related<super::contact::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Contact.def()
    }
}

impl Related<super::lead::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Lead.def()
    }
}

impl Related<super::channel_account::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::ChannelAccount.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
