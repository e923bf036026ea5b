//! The full social surface (Facebook and Instagram): comment threads under posts, message
//! edits (with their history), unsends, reactions, hidden comments, private replies, where a
//! customer came from, cached sender profiles, channel health, the account-connection flow,
//! and media downloaded from platform CDNs.

use sea_orm_migration::{prelude::*, schema::*};

use super::m20261129_000001_create_people::{User, Workspace};
use super::m20261129_000003_create_inbox::Message;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Conversation {
    Table,
    PostExternalId,
    PostPermalink,
    PostText,
    Referral,
}

#[derive(DeriveIden)]
enum MessageCol {
    #[sea_orm(iden = "message")]
    Table,
    Kind,
    InReplyTo,
    AuthorExternalId,
    AuthorName,
    Meta,
    Reactions,
    Hidden,
    EditedAt,
    RemovedAt,
    PrivateRepliedAt,
}

#[derive(DeriveIden)]
enum ContactIdentity {
    Table,
    AvatarUrl,
    ProfileFetchedAt,
}

#[derive(DeriveIden)]
enum ChannelAccountCol {
    #[sea_orm(iden = "channel_account")]
    Table,
    LastEventAt,
    LastError,
    LastErrorAt,
    Backfill,
}

#[derive(DeriveIden)]
enum MessageRevision {
    Table,
    Id,
    MessageId,
    Text,
    EditedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum OauthState {
    Table,
    Id,
    WorkspaceId,
    UserId,
    Platform,
    StateHash,
    GrantEnc,
    ExpiresAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Media {
    Table,
    Id,
    WorkspaceId,
    MessageId,
    SourceUrl,
    ContentType,
    Size,
    Sha256,
    Status,
    Error,
    CreatedAt,
    UpdatedAt,
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
    table: impl IntoIden,
    col: impl IntoIden,
) -> Result<(), DbErr> {
    manager
        .alter_table(Table::alter().table(table).drop_column(col).to_owned())
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Comment threads: the post they hang under. Any conversation: how the customer came.
        add(
            manager,
            Conversation::Table,
            string_null(Conversation::PostExternalId),
        )
        .await?;
        add(
            manager,
            Conversation::Table,
            text_null(Conversation::PostPermalink),
        )
        .await?;
        add(
            manager,
            Conversation::Table,
            text_null(Conversation::PostText),
        )
        .await?;
        add(
            manager,
            Conversation::Table,
            json_binary_null(Conversation::Referral),
        )
        .await?;

        // Messages: `message` or `comment`; who wrote a comment in a thread with several
        // people; quick-reply/postback payloads and the like; reactions; moderation state.
        add(
            manager,
            MessageCol::Table,
            string(MessageCol::Kind).default("message").to_owned(),
        )
        .await?;
        add(
            manager,
            MessageCol::Table,
            string_null(MessageCol::InReplyTo),
        )
        .await?;
        add(
            manager,
            MessageCol::Table,
            string_null(MessageCol::AuthorExternalId),
        )
        .await?;
        add(
            manager,
            MessageCol::Table,
            string_null(MessageCol::AuthorName),
        )
        .await?;
        add(
            manager,
            MessageCol::Table,
            json_binary_null(MessageCol::Meta),
        )
        .await?;
        add(
            manager,
            MessageCol::Table,
            json_binary_null(MessageCol::Reactions),
        )
        .await?;
        add(
            manager,
            MessageCol::Table,
            boolean(MessageCol::Hidden).default(false).to_owned(),
        )
        .await?;
        add(
            manager,
            MessageCol::Table,
            timestamp_with_time_zone_null(MessageCol::EditedAt),
        )
        .await?;
        add(
            manager,
            MessageCol::Table,
            timestamp_with_time_zone_null(MessageCol::RemovedAt),
        )
        .await?;
        add(
            manager,
            MessageCol::Table,
            timestamp_with_time_zone_null(MessageCol::PrivateRepliedAt),
        )
        .await?;

        // Sender profiles (name, picture) fetched once per identity.
        add(
            manager,
            ContactIdentity::Table,
            text_null(ContactIdentity::AvatarUrl),
        )
        .await?;
        add(
            manager,
            ContactIdentity::Table,
            timestamp_with_time_zone_null(ContactIdentity::ProfileFetchedAt),
        )
        .await?;

        // Channel health and history backfill progress.
        add(
            manager,
            ChannelAccountCol::Table,
            timestamp_with_time_zone_null(ChannelAccountCol::LastEventAt),
        )
        .await?;
        add(
            manager,
            ChannelAccountCol::Table,
            text_null(ChannelAccountCol::LastError),
        )
        .await?;
        add(
            manager,
            ChannelAccountCol::Table,
            timestamp_with_time_zone_null(ChannelAccountCol::LastErrorAt),
        )
        .await?;
        add(
            manager,
            ChannelAccountCol::Table,
            json_binary_null(ChannelAccountCol::Backfill),
        )
        .await?;

        // Earlier texts of edited messages and comments.
        manager
            .create_table(
                Table::create()
                    .table(MessageRevision::Table)
                    .col(pk_uuid(MessageRevision::Id))
                    .col(uuid(MessageRevision::MessageId))
                    .col(text_null(MessageRevision::Text))
                    .col(timestamp_with_time_zone(MessageRevision::EditedAt))
                    .col(timestamp_with_time_zone(MessageRevision::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MessageRevision::Table, MessageRevision::MessageId)
                            .to(Message::Table, Message::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_message_revision_message_id")
                    .table(MessageRevision::Table)
                    .col(MessageRevision::MessageId)
                    .to_owned(),
            )
            .await?;

        // One connect attempt (OAuth): the hashed `state`, then the sealed user grant while the
        // marketer picks which pages to connect.
        manager
            .create_table(
                Table::create()
                    .table(OauthState::Table)
                    .col(pk_uuid(OauthState::Id))
                    .col(uuid(OauthState::WorkspaceId))
                    .col(uuid(OauthState::UserId))
                    .col(string(OauthState::Platform))
                    .col(string(OauthState::StateHash))
                    .col(blob_null(OauthState::GrantEnc))
                    .col(timestamp_with_time_zone(OauthState::ExpiresAt))
                    .col(timestamp_with_time_zone(OauthState::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OauthState::Table, OauthState::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OauthState::Table, OauthState::UserId)
                            .to(User::Table, User::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_oauth_state_state_hash")
                    .table(OauthState::Table)
                    .col(OauthState::StateHash)
                    .unique()
                    .to_owned(),
            )
            .await?;

        // Customer media copied from platform CDNs (their URLs expire).
        manager
            .create_table(
                Table::create()
                    .table(Media::Table)
                    .col(pk_uuid(Media::Id))
                    .col(uuid(Media::WorkspaceId))
                    .col(uuid_null(Media::MessageId))
                    .col(text(Media::SourceUrl))
                    .col(string_null(Media::ContentType))
                    .col(big_integer_null(Media::Size))
                    .col(string_null(Media::Sha256))
                    .col(string(Media::Status))
                    .col(text_null(Media::Error))
                    .col(timestamp_with_time_zone(Media::CreatedAt))
                    .col(timestamp_with_time_zone(Media::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Media::Table, Media::WorkspaceId)
                            .to(Workspace::Table, Workspace::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Media::Table, Media::MessageId)
                            .to(Message::Table, Message::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_media_message_id")
                    .table(Media::Table)
                    .col(Media::MessageId)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            Media::Table.into_iden(),
            OauthState::Table.into_iden(),
            MessageRevision::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for col in [
            ChannelAccountCol::Backfill,
            ChannelAccountCol::LastErrorAt,
            ChannelAccountCol::LastError,
            ChannelAccountCol::LastEventAt,
        ] {
            drop_col(manager, ChannelAccountCol::Table, col).await?;
        }
        for col in [
            ContactIdentity::ProfileFetchedAt,
            ContactIdentity::AvatarUrl,
        ] {
            drop_col(manager, ContactIdentity::Table, col).await?;
        }
        for col in [
            MessageCol::PrivateRepliedAt,
            MessageCol::RemovedAt,
            MessageCol::EditedAt,
            MessageCol::Hidden,
            MessageCol::Reactions,
            MessageCol::Meta,
            MessageCol::AuthorName,
            MessageCol::AuthorExternalId,
            MessageCol::InReplyTo,
            MessageCol::Kind,
        ] {
            drop_col(manager, MessageCol::Table, col).await?;
        }
        for col in [
            Conversation::Referral,
            Conversation::PostText,
            Conversation::PostPermalink,
            Conversation::PostExternalId,
        ] {
            drop_col(manager, Conversation::Table, col).await?;
        }
        Ok(())
    }
}
