//! What the agent web app adds: a free-text note on a contact ("gọi sau 18h", "khách sỉ"), kept
//! with the contact across channels and merges.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Contact {
    Table,
    Note,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Contact::Table)
                    .add_column(text_null(Contact::Note))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Contact::Table)
                    .drop_column(Contact::Note)
                    .to_owned(),
            )
            .await
    }
}
