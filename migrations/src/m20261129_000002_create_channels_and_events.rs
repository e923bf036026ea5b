//! Connected channel accounts, the durable inbound webhook log and the job queue.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261129_000001_create_people::Workspace;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum ChannelAccount {
    Table,
    Id,
    WorkspaceId,
    Platform,
    ExternalId,
    Name,
    Settings,
    SecretsEnc,
    Status,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum InboundEvent {
    Table,
    Id,
    Platform,
    EventKey,
    WorkspaceId,
    ChannelAccountId,
    Body,
    Status,
    Error,
    Attempts,
    ReceivedAt,
    ProcessedAt,
}

#[derive(DeriveIden)]
enum Job {
    Table,
    Id,
    Kind,
    Payload,
    Status,
    RunAt,
    Attempts,
    MaxAttempts,
    LockedUntil,
    LockedBy,
    LastError,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ChannelAccount::Table)
                    .col(pk_uuid(ChannelAccount::Id))
                    .col(uuid(ChannelAccount::WorkspaceId))
                    .col(string(ChannelAccount::Platform))
                    .col(string(ChannelAccount::ExternalId))
                    .col(string(ChannelAccount::Name))
                    // No DEFAULT '{}': JSON defaults are not portable; the app always sets it.
                    .col(json_binary(ChannelAccount::Settings))
                    .col(blob_null(ChannelAccount::SecretsEnc))
                    .col(string(ChannelAccount::Status))
                    .col(timestamp_with_time_zone(ChannelAccount::CreatedAt))
                    .col(timestamp_with_time_zone(ChannelAccount::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_channel_account_workspace_id")
                            .from(ChannelAccount::Table, ChannelAccount::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_channel_account_platform_external_id")
                    .table(ChannelAccount::Table)
                    .col(ChannelAccount::Platform)
                    .col(ChannelAccount::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_channel_account_workspace_id")
                    .table(ChannelAccount::Table)
                    .col(ChannelAccount::WorkspaceId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InboundEvent::Table)
                    .col(big_pk_auto(InboundEvent::Id))
                    .col(string(InboundEvent::Platform))
                    .col(string(InboundEvent::EventKey))
                    .col(uuid_null(InboundEvent::WorkspaceId))
                    .col(uuid_null(InboundEvent::ChannelAccountId))
                    .col(blob(InboundEvent::Body))
                    .col(string(InboundEvent::Status))
                    .col(text_null(InboundEvent::Error))
                    .col(integer(InboundEvent::Attempts).default(0))
                    .col(timestamp_with_time_zone(InboundEvent::ReceivedAt))
                    .col(timestamp_with_time_zone_null(InboundEvent::ProcessedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_inbound_event_workspace_id")
                            .from(InboundEvent::Table, InboundEvent::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_inbound_event_channel_account_id")
                            .from(InboundEvent::Table, InboundEvent::ChannelAccountId)
                            .to(ChannelAccount::Table, ChannelAccount::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_inbound_event_platform_event_key")
                    .table(InboundEvent::Table)
                    .col(InboundEvent::Platform)
                    .col(InboundEvent::EventKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_inbound_event_status_id")
                    .table(InboundEvent::Table)
                    .col(InboundEvent::Status)
                    .col(InboundEvent::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_inbound_event_workspace_id_status")
                    .table(InboundEvent::Table)
                    .col(InboundEvent::WorkspaceId)
                    .col(InboundEvent::Status)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Job::Table)
                    .col(big_pk_auto(Job::Id))
                    .col(string(Job::Kind))
                    .col(json_binary(Job::Payload))
                    .col(string(Job::Status))
                    .col(timestamp_with_time_zone(Job::RunAt))
                    .col(integer(Job::Attempts).default(0))
                    .col(integer(Job::MaxAttempts))
                    .col(timestamp_with_time_zone_null(Job::LockedUntil))
                    .col(string_null(Job::LockedBy))
                    .col(text_null(Job::LastError))
                    .col(timestamp_with_time_zone(Job::CreatedAt))
                    .col(timestamp_with_time_zone(Job::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_job_status_run_at")
                    .table(Job::Table)
                    .col(Job::Status)
                    .col(Job::RunAt)
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Job::Table.into_iden(),
            InboundEvent::Table.into_iden(),
            ChannelAccount::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
