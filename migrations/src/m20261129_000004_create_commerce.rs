//! Selling: leads and call logs, orders and their items, the phone blacklist, and outbound
//! webhook endpoints with their delivery attempts.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261129_000001_create_people::{User, Workspace};
use super::m20261129_000002_create_channels_and_events::ChannelAccount;
use super::m20261129_000003_create_inbox::{Contact, Conversation};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Lead {
    Table,
    Id,
    WorkspaceId,
    ContactId,
    ConversationId,
    ChannelAccountId,
    Stage,
    Phone,
    Source,
    SourceRef,
    Text,
    AssigneeId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CallLog {
    Table,
    Id,
    WorkspaceId,
    LeadId,
    UserId,
    Outcome,
    Note,
    NextCallAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Order {
    Table,
    Id,
    WorkspaceId,
    ContactId,
    LeadId,
    ChannelAccountId,
    ExternalId,
    Status,
    RecipientName,
    Phone,
    Address,
    CodAmount,
    TotalAmount,
    Note,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum OrderItem {
    Table,
    Id,
    OrderId,
    Sku,
    Name,
    Quantity,
    UnitPrice,
}

#[derive(DeriveIden)]
enum Blacklist {
    Table,
    Id,
    WorkspaceId,
    Phone,
    Reason,
    Source,
    CreatedBy,
    CreatedAt,
    LiftedAt,
}

#[derive(DeriveIden)]
enum WebhookEndpoint {
    Table,
    Id,
    WorkspaceId,
    Url,
    SecretEnc,
    Description,
    EventTypes,
    Enabled,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DeliveryAttempt {
    Table,
    Id,
    WorkspaceId,
    EndpointId,
    EventId,
    EventType,
    StatusCode,
    Response,
    Error,
    Attempt,
    DurationMs,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Lead::Table)
                    .col(pk_uuid(Lead::Id))
                    .col(uuid(Lead::WorkspaceId))
                    .col(uuid(Lead::ContactId))
                    .col(uuid_null(Lead::ConversationId))
                    .col(uuid_null(Lead::ChannelAccountId))
                    .col(string(Lead::Stage))
                    .col(string(Lead::Phone))
                    .col(string(Lead::Source))
                    .col(string_null(Lead::SourceRef))
                    .col(text_null(Lead::Text))
                    .col(uuid_null(Lead::AssigneeId))
                    .col(timestamp_with_time_zone(Lead::CreatedAt))
                    .col(timestamp_with_time_zone(Lead::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lead_workspace_id")
                            .from(Lead::Table, Lead::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lead_contact_id")
                            .from(Lead::Table, Lead::ContactId)
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lead_conversation_id")
                            .from(Lead::Table, Lead::ConversationId)
                            .to(Conversation::Table, Conversation::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lead_channel_account_id")
                            .from(Lead::Table, Lead::ChannelAccountId)
                            .to(ChannelAccount::Table, ChannelAccount::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_lead_assignee_id")
                            .from(Lead::Table, Lead::AssigneeId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lead_workspace_id_stage")
                    .table(Lead::Table)
                    .col(Lead::WorkspaceId)
                    .col(Lead::Stage)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lead_workspace_id_phone")
                    .table(Lead::Table)
                    .col(Lead::WorkspaceId)
                    .col(Lead::Phone)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CallLog::Table)
                    .col(pk_uuid(CallLog::Id))
                    .col(uuid(CallLog::WorkspaceId))
                    .col(uuid(CallLog::LeadId))
                    .col(uuid_null(CallLog::UserId))
                    .col(string(CallLog::Outcome))
                    .col(text_null(CallLog::Note))
                    .col(timestamp_with_time_zone_null(CallLog::NextCallAt))
                    .col(timestamp_with_time_zone(CallLog::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_call_log_workspace_id")
                            .from(CallLog::Table, CallLog::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_call_log_lead_id")
                            .from(CallLog::Table, CallLog::LeadId)
                            .to(Lead::Table, Lead::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_call_log_user_id")
                            .from(CallLog::Table, CallLog::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_call_log_lead_id")
                    .table(CallLog::Table)
                    .col(CallLog::LeadId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Order::Table)
                    .col(pk_uuid(Order::Id))
                    .col(uuid(Order::WorkspaceId))
                    .col(uuid_null(Order::ContactId))
                    .col(uuid_null(Order::LeadId))
                    .col(uuid_null(Order::ChannelAccountId))
                    .col(string_null(Order::ExternalId))
                    .col(string(Order::Status))
                    .col(string_null(Order::RecipientName))
                    .col(string_null(Order::Phone))
                    .col(text_null(Order::Address))
                    .col(big_integer(Order::CodAmount).default(0))
                    .col(big_integer(Order::TotalAmount).default(0))
                    .col(text_null(Order::Note))
                    .col(timestamp_with_time_zone(Order::CreatedAt))
                    .col(timestamp_with_time_zone(Order::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_workspace_id")
                            .from(Order::Table, Order::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_contact_id")
                            .from(Order::Table, Order::ContactId)
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_lead_id")
                            .from(Order::Table, Order::LeadId)
                            .to(Lead::Table, Lead::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_channel_account_id")
                            .from(Order::Table, Order::ChannelAccountId)
                            .to(ChannelAccount::Table, ChannelAccount::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_order_workspace_id_channel_account_id_external_id")
                    .table(Order::Table)
                    .col(Order::WorkspaceId)
                    .col(Order::ChannelAccountId)
                    .col(Order::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_workspace_id_status")
                    .table(Order::Table)
                    .col(Order::WorkspaceId)
                    .col(Order::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_workspace_id_phone")
                    .table(Order::Table)
                    .col(Order::WorkspaceId)
                    .col(Order::Phone)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderItem::Table)
                    .col(pk_uuid(OrderItem::Id))
                    .col(uuid(OrderItem::OrderId))
                    .col(string_null(OrderItem::Sku))
                    .col(string(OrderItem::Name))
                    .col(integer(OrderItem::Quantity))
                    .col(big_integer(OrderItem::UnitPrice))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_item_order_id")
                            .from(OrderItem::Table, OrderItem::OrderId)
                            .to(Order::Table, Order::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_item_order_id")
                    .table(OrderItem::Table)
                    .col(OrderItem::OrderId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Blacklist::Table)
                    .col(pk_uuid(Blacklist::Id))
                    .col(uuid(Blacklist::WorkspaceId))
                    .col(string(Blacklist::Phone))
                    .col(text(Blacklist::Reason))
                    .col(string(Blacklist::Source))
                    .col(uuid_null(Blacklist::CreatedBy))
                    .col(timestamp_with_time_zone(Blacklist::CreatedAt))
                    .col(timestamp_with_time_zone_null(Blacklist::LiftedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_blacklist_workspace_id")
                            .from(Blacklist::Table, Blacklist::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_blacklist_created_by")
                            .from(Blacklist::Table, Blacklist::CreatedBy)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_blacklist_workspace_id_phone")
                    .table(Blacklist::Table)
                    .col(Blacklist::WorkspaceId)
                    .col(Blacklist::Phone)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoint::Table)
                    .col(pk_uuid(WebhookEndpoint::Id))
                    .col(uuid(WebhookEndpoint::WorkspaceId))
                    .col(text(WebhookEndpoint::Url))
                    .col(blob(WebhookEndpoint::SecretEnc))
                    .col(string_null(WebhookEndpoint::Description))
                    .col(json_binary(WebhookEndpoint::EventTypes))
                    .col(boolean(WebhookEndpoint::Enabled).default(true))
                    .col(timestamp_with_time_zone(WebhookEndpoint::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoint::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_endpoint_workspace_id")
                            .from(WebhookEndpoint::Table, WebhookEndpoint::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeliveryAttempt::Table)
                    .col(big_pk_auto(DeliveryAttempt::Id))
                    .col(uuid(DeliveryAttempt::WorkspaceId))
                    .col(uuid(DeliveryAttempt::EndpointId))
                    .col(string(DeliveryAttempt::EventId))
                    .col(string(DeliveryAttempt::EventType))
                    .col(integer_null(DeliveryAttempt::StatusCode))
                    .col(text_null(DeliveryAttempt::Response))
                    .col(text_null(DeliveryAttempt::Error))
                    .col(integer(DeliveryAttempt::Attempt))
                    .col(big_integer_null(DeliveryAttempt::DurationMs))
                    .col(timestamp_with_time_zone(DeliveryAttempt::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_delivery_attempt_workspace_id")
                            .from(DeliveryAttempt::Table, DeliveryAttempt::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_delivery_attempt_endpoint_id")
                            .from(DeliveryAttempt::Table, DeliveryAttempt::EndpointId)
                            .to(WebhookEndpoint::Table, WebhookEndpoint::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_delivery_attempt_endpoint_id_id")
                    .table(DeliveryAttempt::Table)
                    .col(DeliveryAttempt::EndpointId)
                    .col(DeliveryAttempt::Id)
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DeliveryAttempt::Table.into_iden(),
            WebhookEndpoint::Table.into_iden(),
            Blacklist::Table.into_iden(),
            OrderItem::Table.into_iden(),
            Order::Table.into_iden(),
            CallLog::Table.into_iden(),
            Lead::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
