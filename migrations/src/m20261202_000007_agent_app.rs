//! What the agent web app adds: a free-text note on a contact ("gọi sau 18h", "khách sỉ"), kept
//! with the contact across channels and merges; and the indexes the reports read by creation
//! time (new conversations, leads and contacts of a workspace per day).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Contact {
    Table,
    Note,
}

/// Tables the reports count by `(workspace_id, created_at)`.
const BY_CREATION: [&str; 3] = ["conversation", "lead", "contact"];

fn index_name(table: &str) -> String {
    format!("idx_{table}_workspace_id_created_at")
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
            .await?;
        for table in BY_CREATION {
            manager
                .create_index(
                    Index::create()
                        .name(index_name(table))
                        .table(Alias::new(table))
                        .col(Alias::new("workspace_id"))
                        .col(Alias::new("created_at"))
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in BY_CREATION {
            manager
                .drop_index(
                    Index::drop()
                        .name(index_name(table))
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
        }
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
