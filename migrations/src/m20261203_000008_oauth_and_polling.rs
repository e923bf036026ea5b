//! What accounts connected by OAuth 2 and polled platforms need on `channel_account`: when the
//! access token expires (health, and the refresh scheduled ahead of it), a short lease so one
//! refresh runs at a time across nodes (single-use refresh tokens must never be spent twice),
//! and the poller's state (high-water mark, cursors, quota used today).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum ChannelAccount {
    Table,
    TokenExpiresAt,
    RefreshLockedUntil,
    PollState,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for col in [
            timestamp_with_time_zone_null(ChannelAccount::TokenExpiresAt),
            timestamp_with_time_zone_null(ChannelAccount::RefreshLockedUntil),
            json_binary_null(ChannelAccount::PollState),
        ] {
            let mut col = col;
            manager
                .alter_table(
                    Table::alter()
                        .table(ChannelAccount::Table)
                        .add_column(&mut col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for col in [
            ChannelAccount::PollState,
            ChannelAccount::RefreshLockedUntil,
            ChannelAccount::TokenExpiresAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(ChannelAccount::Table)
                        .drop_column(col)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
