//! The shared inbox: contacts and their per-channel identities, conversations, labels,
//! messages and canned responses.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261129_000001_create_people::{User, Workspace};
use super::m20261129_000002_create_channels_and_events::ChannelAccount;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
pub enum Contact {
    Table,
    Id,
    WorkspaceId,
    Name,
    Phone,
    MergedInto,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ContactIdentity {
    Table,
    Id,
    WorkspaceId,
    ContactId,
    ChannelAccountId,
    ExternalId,
    DisplayName,
    OriginalContactId,
    CreatedAt,
}

#[derive(DeriveIden)]
pub enum Conversation {
    Table,
    Id,
    WorkspaceId,
    ChannelAccountId,
    ContactId,
    IdentityId,
    Kind,
    ExternalThreadId,
    Status,
    AssigneeId,
    UnreadCount,
    LastMessageAt,
    LastMessagePreview,
    LastInboundAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Label {
    Table,
    Id,
    WorkspaceId,
    Name,
    Color,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ConversationLabel {
    Table,
    ConversationId,
    LabelId,
}

#[derive(DeriveIden)]
pub enum Message {
    Table,
    Id,
    WorkspaceId,
    ConversationId,
    ChannelAccountId,
    ExternalId,
    Direction,
    SenderKind,
    AuthorUserId,
    Text,
    Attachments,
    Status,
    Error,
    SentAt,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum CannedResponse {
    Table,
    Id,
    WorkspaceId,
    Shortcut,
    Content,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Contact::Table)
                    .col(pk_uuid(Contact::Id))
                    .col(uuid(Contact::WorkspaceId))
                    .col(string_null(Contact::Name))
                    .col(string_null(Contact::Phone))
                    .col(uuid_null(Contact::MergedInto))
                    .col(timestamp_with_time_zone(Contact::CreatedAt))
                    .col(timestamp_with_time_zone(Contact::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_workspace_id")
                            .from(Contact::Table, Contact::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_merged_into")
                            .from(Contact::Table, Contact::MergedInto)
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_contact_workspace_id_phone")
                    .table(Contact::Table)
                    .col(Contact::WorkspaceId)
                    .col(Contact::Phone)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_contact_workspace_id_name")
                    .table(Contact::Table)
                    .col(Contact::WorkspaceId)
                    .col(Contact::Name)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ContactIdentity::Table)
                    .col(pk_uuid(ContactIdentity::Id))
                    .col(uuid(ContactIdentity::WorkspaceId))
                    .col(uuid(ContactIdentity::ContactId))
                    .col(uuid(ContactIdentity::ChannelAccountId))
                    .col(string(ContactIdentity::ExternalId))
                    .col(string_null(ContactIdentity::DisplayName))
                    // Set when a merge moved this identity, so the merge can be undone.
                    .col(uuid_null(ContactIdentity::OriginalContactId))
                    .col(timestamp_with_time_zone(ContactIdentity::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_identity_workspace_id")
                            .from(ContactIdentity::Table, ContactIdentity::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_identity_contact_id")
                            .from(ContactIdentity::Table, ContactIdentity::ContactId)
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_identity_channel_account_id")
                            .from(ContactIdentity::Table, ContactIdentity::ChannelAccountId)
                            .to(ChannelAccount::Table, ChannelAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_contact_identity_original_contact_id")
                            .from(ContactIdentity::Table, ContactIdentity::OriginalContactId)
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_contact_identity_channel_account_id_external_id")
                    .table(ContactIdentity::Table)
                    .col(ContactIdentity::ChannelAccountId)
                    .col(ContactIdentity::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_contact_identity_contact_id")
                    .table(ContactIdentity::Table)
                    .col(ContactIdentity::ContactId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Conversation::Table)
                    .col(pk_uuid(Conversation::Id))
                    .col(uuid(Conversation::WorkspaceId))
                    .col(uuid(Conversation::ChannelAccountId))
                    .col(uuid(Conversation::ContactId))
                    .col(uuid(Conversation::IdentityId))
                    .col(string(Conversation::Kind))
                    .col(string(Conversation::ExternalThreadId))
                    .col(string(Conversation::Status))
                    .col(uuid_null(Conversation::AssigneeId))
                    .col(integer(Conversation::UnreadCount).default(0))
                    .col(timestamp_with_time_zone_null(Conversation::LastMessageAt))
                    .col(text_null(Conversation::LastMessagePreview))
                    .col(timestamp_with_time_zone_null(Conversation::LastInboundAt))
                    .col(timestamp_with_time_zone(Conversation::CreatedAt))
                    .col(timestamp_with_time_zone(Conversation::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_workspace_id")
                            .from(Conversation::Table, Conversation::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_channel_account_id")
                            .from(Conversation::Table, Conversation::ChannelAccountId)
                            .to(ChannelAccount::Table, ChannelAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_contact_id")
                            .from(Conversation::Table, Conversation::ContactId)
                            .to(Contact::Table, Contact::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_identity_id")
                            .from(Conversation::Table, Conversation::IdentityId)
                            .to(ContactIdentity::Table, ContactIdentity::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_assignee_id")
                            .from(Conversation::Table, Conversation::AssigneeId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_conversation_channel_account_id_external_thread_id")
                    .table(Conversation::Table)
                    .col(Conversation::ChannelAccountId)
                    .col(Conversation::ExternalThreadId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_workspace_id_last_message_at")
                    .table(Conversation::Table)
                    .col(Conversation::WorkspaceId)
                    .col(Conversation::LastMessageAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_workspace_id_status")
                    .table(Conversation::Table)
                    .col(Conversation::WorkspaceId)
                    .col(Conversation::Status)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_contact_id")
                    .table(Conversation::Table)
                    .col(Conversation::ContactId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Label::Table)
                    .col(pk_uuid(Label::Id))
                    .col(uuid(Label::WorkspaceId))
                    .col(string(Label::Name))
                    .col(string(Label::Color))
                    .col(timestamp_with_time_zone(Label::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_label_workspace_id")
                            .from(Label::Table, Label::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_label_workspace_id_name")
                    .table(Label::Table)
                    .col(Label::WorkspaceId)
                    .col(Label::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ConversationLabel::Table)
                    .col(uuid(ConversationLabel::ConversationId))
                    .col(uuid(ConversationLabel::LabelId))
                    .primary_key(
                        Index::create()
                            .name("pk_conversation_label")
                            .col(ConversationLabel::ConversationId)
                            .col(ConversationLabel::LabelId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_label_conversation_id")
                            .from(ConversationLabel::Table, ConversationLabel::ConversationId)
                            .to(Conversation::Table, Conversation::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversation_label_label_id")
                            .from(ConversationLabel::Table, ConversationLabel::LabelId)
                            .to(Label::Table, Label::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversation_label_label_id")
                    .table(ConversationLabel::Table)
                    .col(ConversationLabel::LabelId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Message::Table)
                    .col(pk_uuid(Message::Id))
                    .col(uuid(Message::WorkspaceId))
                    .col(uuid(Message::ConversationId))
                    .col(uuid(Message::ChannelAccountId))
                    .col(string_null(Message::ExternalId))
                    .col(string(Message::Direction))
                    .col(string(Message::SenderKind))
                    .col(uuid_null(Message::AuthorUserId))
                    .col(text_null(Message::Text))
                    .col(json_binary(Message::Attachments))
                    .col(string(Message::Status))
                    .col(text_null(Message::Error))
                    .col(timestamp_with_time_zone(Message::SentAt))
                    .col(timestamp_with_time_zone(Message::CreatedAt))
                    .col(timestamp_with_time_zone(Message::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_message_workspace_id")
                            .from(Message::Table, Message::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_message_conversation_id")
                            .from(Message::Table, Message::ConversationId)
                            .to(Conversation::Table, Conversation::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_message_channel_account_id")
                            .from(Message::Table, Message::ChannelAccountId)
                            .to(ChannelAccount::Table, ChannelAccount::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_message_author_user_id")
                            .from(Message::Table, Message::AuthorUserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // Outbound messages get their external_id only once sent; NULLs never collide.
        manager
            .create_index(
                Index::create()
                    .name("uq_message_channel_account_id_external_id")
                    .table(Message::Table)
                    .col(Message::ChannelAccountId)
                    .col(Message::ExternalId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_message_conversation_id_sent_at")
                    .table(Message::Table)
                    .col(Message::ConversationId)
                    .col(Message::SentAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CannedResponse::Table)
                    .col(pk_uuid(CannedResponse::Id))
                    .col(uuid(CannedResponse::WorkspaceId))
                    .col(string(CannedResponse::Shortcut))
                    .col(text(CannedResponse::Content))
                    .col(timestamp_with_time_zone(CannedResponse::CreatedAt))
                    .col(timestamp_with_time_zone(CannedResponse::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_canned_response_workspace_id")
                            .from(CannedResponse::Table, CannedResponse::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_canned_response_workspace_id_shortcut")
                    .table(CannedResponse::Table)
                    .col(CannedResponse::WorkspaceId)
                    .col(CannedResponse::Shortcut)
                    .unique()
                    .to_owned(),
            )
            .await?;

        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            CannedResponse::Table.into_iden(),
            Message::Table.into_iden(),
            ConversationLabel::Table.into_iden(),
            Label::Table.into_iden(),
            Conversation::Table.into_iden(),
            ContactIdentity::Table.into_iden(),
            Contact::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
