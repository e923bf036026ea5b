//! Workspaces, users and how they get in: membership, session, api_key, audit_log.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Workspace {
    Table,
    Id,
    Name,
    Slug,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum User {
    Table,
    Id,
    Email,
    Name,
    PasswordHash,
    IsInstanceAdmin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Membership {
    Table,
    Id,
    WorkspaceId,
    UserId,
    Role,
    Available,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Session {
    Table,
    Id,
    TokenHash,
    UserId,
    WorkspaceId,
    CsrfToken,
    CreatedAt,
    ExpiresAt,
    LastSeenAt,
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    WorkspaceId,
    Name,
    Prefix,
    KeyHash,
    Role,
    CreatedBy,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum AuditLog {
    Table,
    Id,
    WorkspaceId,
    ActorUserId,
    Action,
    TargetType,
    TargetId,
    Data,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Workspace::Table)
                    .col(pk_uuid(Workspace::Id))
                    .col(string(Workspace::Name))
                    .col(string(Workspace::Slug))
                    .col(timestamp_with_time_zone(Workspace::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_workspace_slug")
                    .table(Workspace::Table)
                    .col(Workspace::Slug)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(User::Table)
                    .col(pk_uuid(User::Id))
                    .col(string(User::Email))
                    .col(string(User::Name))
                    .col(string(User::PasswordHash))
                    .col(boolean(User::IsInstanceAdmin).default(false))
                    .col(timestamp_with_time_zone(User::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_user_email")
                    .table(User::Table)
                    .col(User::Email)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Membership::Table)
                    .col(pk_uuid(Membership::Id))
                    .col(uuid(Membership::WorkspaceId))
                    .col(uuid(Membership::UserId))
                    .col(string(Membership::Role))
                    .col(boolean(Membership::Available).default(true))
                    .col(timestamp_with_time_zone(Membership::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_membership_workspace_id")
                            .from(Membership::Table, Membership::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_membership_user_id")
                            .from(Membership::Table, Membership::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_membership_workspace_id_user_id")
                    .table(Membership::Table)
                    .col(Membership::WorkspaceId)
                    .col(Membership::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_membership_user_id")
                    .table(Membership::Table)
                    .col(Membership::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Session::Table)
                    .col(pk_uuid(Session::Id))
                    .col(string(Session::TokenHash))
                    .col(uuid(Session::UserId))
                    .col(uuid(Session::WorkspaceId))
                    .col(string(Session::CsrfToken))
                    .col(timestamp_with_time_zone(Session::CreatedAt))
                    .col(timestamp_with_time_zone(Session::ExpiresAt))
                    .col(timestamp_with_time_zone(Session::LastSeenAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_session_user_id")
                            .from(Session::Table, Session::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_session_workspace_id")
                            .from(Session::Table, Session::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_session_token_hash")
                    .table(Session::Table)
                    .col(Session::TokenHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_session_expires_at")
                    .table(Session::Table)
                    .col(Session::ExpiresAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ApiKey::Table)
                    .col(pk_uuid(ApiKey::Id))
                    .col(uuid(ApiKey::WorkspaceId))
                    .col(string(ApiKey::Name))
                    .col(string(ApiKey::Prefix))
                    .col(string(ApiKey::KeyHash))
                    .col(string(ApiKey::Role))
                    .col(uuid_null(ApiKey::CreatedBy))
                    .col(timestamp_with_time_zone(ApiKey::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKey::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKey::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_key_workspace_id")
                            .from(ApiKey::Table, ApiKey::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_key_created_by")
                            .from(ApiKey::Table, ApiKey::CreatedBy)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_api_key_key_hash")
                    .table(ApiKey::Table)
                    .col(ApiKey::KeyHash)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditLog::Table)
                    .col(big_pk_auto(AuditLog::Id))
                    .col(uuid_null(AuditLog::WorkspaceId))
                    .col(uuid_null(AuditLog::ActorUserId))
                    .col(string(AuditLog::Action))
                    .col(string_null(AuditLog::TargetType))
                    .col(string_null(AuditLog::TargetId))
                    .col(json_binary_null(AuditLog::Data))
                    .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_log_workspace_id")
                            .from(AuditLog::Table, AuditLog::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_log_workspace_id_id")
                    .table(AuditLog::Table)
                    .col(AuditLog::WorkspaceId)
                    .col(AuditLog::Id)
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditLog::Table.into_iden(),
            ApiKey::Table.into_iden(),
            Session::Table.into_iden(),
            Membership::Table.into_iden(),
            User::Table.into_iden(),
            Workspace::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
