//! tongdai's database schema as hand-written migrations that run on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261129_000001_create_people;
mod m20261129_000002_create_channels_and_events;
mod m20261129_000003_create_inbox;
mod m20261129_000004_create_commerce;
mod m20261130_000005_social_surface;
mod m20261201_000006_pipeline;
mod m20261202_000007_agent_app;
mod m20261203_000008_oauth_and_polling;

/// Every migration of the schema, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261129_000001_create_people::Migration),
            Box::new(m20261129_000002_create_channels_and_events::Migration),
            Box::new(m20261129_000003_create_inbox::Migration),
            Box::new(m20261129_000004_create_commerce::Migration),
            Box::new(m20261130_000005_social_surface::Migration),
            Box::new(m20261201_000006_pipeline::Migration),
            Box::new(m20261202_000007_agent_app::Migration),
            Box::new(m20261203_000008_oauth_and_polling::Migration),
        ]
    }
}
