//! The lead-to-order pipeline: lead stages with calls and callbacks, distribution of work among
//! agents on shift, orders with their address, amounts and timeline, outbound webhook messages
//! (the fulfillment push) with their delivery log, order feedback, and the settings that steer
//! all of it.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261129_000001_create_people::{User, Workspace};
use super::m20261129_000003_create_inbox::{Contact, Conversation};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum WorkspaceCol {
    #[sea_orm(iden = "workspace")]
    Table,
    Settings,
}

#[derive(DeriveIden, Clone, Copy)]
enum Membership {
    Table,
    MaxOpen,
    LastAssignedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum ContactCol {
    #[sea_orm(iden = "contact")]
    Table,
    Promoter,
}

#[derive(DeriveIden, Clone, Copy)]
enum ConversationCol {
    #[sea_orm(iden = "conversation")]
    Table,
    AssignedAt,
    Complaint,
}

#[derive(DeriveIden, Clone, Copy)]
enum Lead {
    Table,
    WorkspaceId,
    AssigneeId,
    Stage,
    PostExternalId,
    LostReason,
    NextCallAt,
    TouchedAt,
    AssignedAt,
    ClosedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum CallLog {
    Table,
    DurationSeconds,
}

#[derive(DeriveIden, Clone, Copy)]
enum CannedResponse {
    Table,
    Category,
}

#[derive(DeriveIden, Clone, Copy)]
enum Order {
    Table,
    Id,
    WorkspaceId,
    ConversationId,
    Source,
    Province,
    District,
    Ward,
    ShippingFee,
    Discount,
    PlatformStatus,
    Raw,
    TrackingCode,
    Carrier,
    BlacklistOverride,
    CreatedBy,
    ConfirmedAt,
    DeliveredAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum OrderEvent {
    Table,
    Id,
    WorkspaceId,
    OrderId,
    Kind,
    FromStatus,
    ToStatus,
    ActorUserId,
    Source,
    Data,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Blacklist {
    Table,
    LiftedBy,
    LiftReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookEndpoint {
    Table,
    Id,
    FailingSince,
    LastSuccessAt,
    DisabledReason,
}

#[derive(DeriveIden, Clone, Copy)]
enum WebhookMessage {
    Table,
    Id,
    WorkspaceId,
    EndpointId,
    EventType,
    OrderId,
    Payload,
    Status,
    Attempts,
    LastStatusCode,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Feedback {
    Table,
    Id,
    WorkspaceId,
    OrderId,
    ContactId,
    ConversationId,
    RequestedAt,
    Rating,
    Comment,
    Category,
    AnsweredAt,
    CreatedAt,
}

/// `ALTER TABLE … ADD COLUMN` one column at a time (SQLite allows no more per statement).
async fn add(
    manager: &SchemaManager<'_>,
    table: impl IntoIden,
    mut col: ColumnDef,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).add_column(&mut col).to_owned())
        .await
}

async fn drop_col(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + Clone,
    cols: &[&str],
) -> Result<(), DbErr> {
    for c in cols {
        manager
            .alter_table(
                Table::alter()
                    .table(table.clone())
                    .drop_column(Alias::new(*c))
                    .to_owned(),
            )
            .await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Pipeline settings of a workspace (distribution, blacklist threshold, feedback, …).
        add(
            manager,
            WorkspaceCol::Table,
            json_binary_null(WorkspaceCol::Settings),
        )
        .await?;
        // Distribution: each agent's cap on open items, and whose turn it is.
        add(
            manager,
            Membership::Table,
            integer_null(Membership::MaxOpen),
        )
        .await?;
        add(
            manager,
            Membership::Table,
            timestamp_with_time_zone_null(Membership::LastAssignedAt),
        )
        .await?;
        add(
            manager,
            ContactCol::Table,
            boolean(ContactCol::Promoter).default(false).to_owned(),
        )
        .await?;
        add(
            manager,
            ConversationCol::Table,
            timestamp_with_time_zone_null(ConversationCol::AssignedAt),
        )
        .await?;
        // A complaint conversation: its category (delivery, product quality, …).
        add(
            manager,
            ConversationCol::Table,
            string_null(ConversationCol::Complaint),
        )
        .await?;

        for col in [
            string_null(Lead::PostExternalId),
            text_null(Lead::LostReason),
            timestamp_with_time_zone_null(Lead::NextCallAt),
            timestamp_with_time_zone_null(Lead::TouchedAt),
            timestamp_with_time_zone_null(Lead::AssignedAt),
            timestamp_with_time_zone_null(Lead::ClosedAt),
        ] {
            add(manager, Lead::Table, col).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_lead_workspace_id_assignee_id_stage")
                    .table(Lead::Table)
                    .col(Lead::WorkspaceId)
                    .col(Lead::AssigneeId)
                    .col(Lead::Stage)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_lead_next_call_at")
                    .table(Lead::Table)
                    .col(Lead::NextCallAt)
                    .to_owned(),
            )
            .await?;
        add(
            manager,
            CallLog::Table,
            integer_null(CallLog::DurationSeconds),
        )
        .await?;
        add(
            manager,
            CannedResponse::Table,
            string_null(CannedResponse::Category),
        )
        .await?;

        for col in [
            uuid_null(Order::ConversationId),
            string(Order::Source).default("manual").to_owned(),
            string_null(Order::Province),
            string_null(Order::District),
            string_null(Order::Ward),
            big_integer(Order::ShippingFee).default(0).to_owned(),
            big_integer(Order::Discount).default(0).to_owned(),
            string_null(Order::PlatformStatus),
            json_binary_null(Order::Raw),
            string_null(Order::TrackingCode),
            string_null(Order::Carrier),
            text_null(Order::BlacklistOverride),
            uuid_null(Order::CreatedBy),
            timestamp_with_time_zone_null(Order::ConfirmedAt),
            timestamp_with_time_zone_null(Order::DeliveredAt),
        ] {
            add(manager, Order::Table, col).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_order_workspace_id_created_at")
                    .table(Order::Table)
                    .col(Order::WorkspaceId)
                    .col(Alias::new("created_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OrderEvent::Table)
                    .col(big_pk_auto(OrderEvent::Id))
                    .col(uuid(OrderEvent::WorkspaceId))
                    .col(uuid(OrderEvent::OrderId))
                    .col(string(OrderEvent::Kind))
                    .col(string_null(OrderEvent::FromStatus))
                    .col(string_null(OrderEvent::ToStatus))
                    .col(uuid_null(OrderEvent::ActorUserId))
                    .col(string(OrderEvent::Source))
                    .col(json_binary_null(OrderEvent::Data))
                    .col(timestamp_with_time_zone(OrderEvent::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_event_workspace_id")
                            .from(OrderEvent::Table, OrderEvent::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_event_order_id")
                            .from(OrderEvent::Table, OrderEvent::OrderId)
                            .to(Order::Table, Order::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_event_actor_user_id")
                            .from(OrderEvent::Table, OrderEvent::ActorUserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_order_event_order_id_id")
                    .table(OrderEvent::Table)
                    .col(OrderEvent::OrderId)
                    .col(OrderEvent::Id)
                    .to_owned(),
            )
            .await?;

        add(manager, Blacklist::Table, uuid_null(Blacklist::LiftedBy)).await?;
        add(manager, Blacklist::Table, text_null(Blacklist::LiftReason)).await?;

        add(
            manager,
            WebhookEndpoint::Table,
            timestamp_with_time_zone_null(WebhookEndpoint::FailingSince),
        )
        .await?;
        add(
            manager,
            WebhookEndpoint::Table,
            timestamp_with_time_zone_null(WebhookEndpoint::LastSuccessAt),
        )
        .await?;
        add(
            manager,
            WebhookEndpoint::Table,
            text_null(WebhookEndpoint::DisabledReason),
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(WebhookMessage::Table)
                    .col(string(WebhookMessage::Id).primary_key())
                    .col(uuid(WebhookMessage::WorkspaceId))
                    .col(uuid(WebhookMessage::EndpointId))
                    .col(string(WebhookMessage::EventType))
                    .col(uuid_null(WebhookMessage::OrderId))
                    .col(text(WebhookMessage::Payload))
                    .col(string(WebhookMessage::Status))
                    .col(integer(WebhookMessage::Attempts).default(0))
                    .col(integer_null(WebhookMessage::LastStatusCode))
                    .col(timestamp_with_time_zone(WebhookMessage::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookMessage::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_message_workspace_id")
                            .from(WebhookMessage::Table, WebhookMessage::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_message_endpoint_id")
                            .from(WebhookMessage::Table, WebhookMessage::EndpointId)
                            .to(WebhookEndpoint::Table, WebhookEndpoint::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_message_endpoint_id_created_at")
                    .table(WebhookMessage::Table)
                    .col(WebhookMessage::EndpointId)
                    .col(WebhookMessage::CreatedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_message_order_id")
                    .table(WebhookMessage::Table)
                    .col(WebhookMessage::OrderId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Feedback::Table)
                    .col(pk_uuid(Feedback::Id))
                    .col(uuid(Feedback::WorkspaceId))
                    .col(uuid(Feedback::OrderId))
                    .col(uuid_null(Feedback::ContactId))
                    .col(uuid_null(Feedback::ConversationId))
                    .col(timestamp_with_time_zone_null(Feedback::RequestedAt))
                    .col(integer_null(Feedback::Rating))
                    .col(text_null(Feedback::Comment))
                    .col(string_null(Feedback::Category))
                    .col(timestamp_with_time_zone_null(Feedback::AnsweredAt))
                    .col(timestamp_with_time_zone(Feedback::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_feedback_workspace_id")
                            .from(Feedback::Table, Feedback::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_feedback_order_id")
                            .from(Feedback::Table, Feedback::OrderId)
                            .to(Order::Table, Order::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_feedback_contact_id")
                            .from(Feedback::Table, Feedback::ContactId)
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_feedback_conversation_id")
                            .from(Feedback::Table, Feedback::ConversationId)
                            .to(Conversation::Table, Conversation::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_feedback_order_id")
                    .table(Feedback::Table)
                    .col(Feedback::OrderId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_feedback_conversation_id")
                    .table(Feedback::Table)
                    .col(Feedback::ConversationId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for t in [
            Feedback::Table.into_iden(),
            WebhookMessage::Table.into_iden(),
            OrderEvent::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(t).to_owned())
                .await?;
        }
        for (name, table) in [
            (
                "idx_order_workspace_id_created_at",
                Order::Table.into_iden(),
            ),
            ("idx_lead_next_call_at", Lead::Table.into_iden()),
            (
                "idx_lead_workspace_id_assignee_id_stage",
                Lead::Table.into_iden(),
            ),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        drop_col(
            manager,
            WebhookEndpoint::Table,
            &["failing_since", "last_success_at", "disabled_reason"],
        )
        .await?;
        drop_col(manager, Blacklist::Table, &["lifted_by", "lift_reason"]).await?;
        drop_col(
            manager,
            Order::Table,
            &[
                "conversation_id",
                "source",
                "province",
                "district",
                "ward",
                "shipping_fee",
                "discount",
                "platform_status",
                "raw",
                "tracking_code",
                "carrier",
                "blacklist_override",
                "created_by",
                "confirmed_at",
                "delivered_at",
            ],
        )
        .await?;
        drop_col(manager, CannedResponse::Table, &["category"]).await?;
        drop_col(manager, CallLog::Table, &["duration_seconds"]).await?;
        drop_col(
            manager,
            Lead::Table,
            &[
                "post_external_id",
                "lost_reason",
                "next_call_at",
                "touched_at",
                "assigned_at",
                "closed_at",
            ],
        )
        .await?;
        drop_col(
            manager,
            ConversationCol::Table,
            &["assigned_at", "complaint"],
        )
        .await?;
        drop_col(manager, ContactCol::Table, &["promoter"]).await?;
        drop_col(
            manager,
            Membership::Table,
            &["max_open", "last_assigned_at"],
        )
        .await?;
        drop_col(manager, WorkspaceCol::Table, &["settings"]).await?;
        Ok(())
    }
}
