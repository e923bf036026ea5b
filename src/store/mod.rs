//! Persistence: sea-orm entities and the named queries the services use. Query functions take
//! `&impl ConnectionTrait` so the same function runs on a pool or inside a transaction.
//!
//! SQLite allows one writer at a time, so a SQLite database gets two pools: a single-connection
//! writer (every write transaction queues there instead of failing with `SQLITE_BUSY`) and a
//! small read pool. On PostgreSQL both are the same pool.

pub mod entities;

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, DbErr};

/// The database handles of one node.
#[derive(Clone, Debug)]
pub struct Db {
    /// Writes and read-your-writes queries.
    pub write: DatabaseConnection,
    /// Reads that may see a snapshot a few milliseconds old.
    pub read: DatabaseConnection,
    /// A SQLite file whose writer leaves checkpoints to [`Db::checkpoint_loop`].
    checkpoints: bool,
}

impl Db {
    /// Connect to `url` (`sqlite://…` or `postgres://…`). `schema` sets the PostgreSQL
    /// search path (tests give each test its own schema).
    pub async fn connect(url: &str, schema: Option<&str>) -> Result<Db, DbErr> {
        if url.starts_with("sqlite:") {
            ensure_sqlite_dir(url);
            let memory = url.contains(":memory:");
            // The writer leaves checkpoints to `checkpoint_loop`, off the webhook hot path.
            let mut opts = sqlite_options(url, 1);
            opts.map_sqlx_sqlite_opts(move |o| {
                o.pragma("wal_autocheckpoint", if memory { "1000" } else { "0" })
            });
            let write = Database::connect(opts).await?;
            let read = if memory {
                write.clone()
            } else {
                Database::connect(sqlite_options(url, 4)).await?
            };
            Ok(Db {
                write,
                read,
                checkpoints: !memory,
            })
        } else {
            let mut opts = ConnectOptions::new(url.to_owned());
            opts.max_connections(16)
                .min_connections(1)
                .acquire_timeout(Duration::from_secs(10))
                .sqlx_logging(false);
            if let Some(s) = schema {
                opts.set_schema_search_path(s.to_owned());
            }
            let pool = Database::connect(opts).await?;
            Ok(Db {
                write: pool.clone(),
                read: pool,
                checkpoints: false,
            })
        }
    }

    /// Which SQL dialect this is.
    pub fn backend(&self) -> DbBackend {
        self.write.get_database_backend()
    }

    /// Apply every pending migration.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        Migrator::up(&self.write, None).await
    }

    /// SQLite: copy the write-ahead log back into the database file every 250 ms, from a read
    /// connection, until `stop`. The writer connection does not checkpoint by itself, so the
    /// copy and its fsync never hold up a commit (a `PASSIVE` checkpoint runs beside the
    /// writer). Nothing to do on PostgreSQL or an in-memory database.
    pub async fn checkpoint_loop(&self, stop: tokio_util::sync::CancellationToken) {
        if !self.checkpoints {
            return;
        }
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_millis(250)) => {}
            }
            if let Err(e) = self
                .read
                .execute_unprepared("PRAGMA wal_checkpoint(PASSIVE)")
                .await
            {
                tracing::warn!(error = %e, "WAL checkpoint failed; will try again");
            }
        }
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> bool {
        self.read.ping().await.is_ok()
    }
}

fn sqlite_options(url: &str, max: u32) -> ConnectOptions {
    let mut opts = ConnectOptions::new(url.to_owned());
    opts.max_connections(max)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(30))
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|o| {
            o.journal_mode(SqliteJournalMode::Wal)
                // FULL: a commit is on disk before we acknowledge a webhook.
                .synchronous(SqliteSynchronous::Full)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .create_if_missing(true)
        });
    opts
}

fn ensure_sqlite_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if path.is_empty() || path.contains(":memory:") {
        return;
    }
    if let Some(parent) = std::path::Path::new(path).parent() {
        let _ = std::fs::create_dir_all(parent);
    }
}

impl entities::inbound_event::Entity {
    /// Events waiting for the ingest worker (a metric; 0 when the count fails).
    pub async fn find_pending_count(db: &impl ConnectionTrait) -> u64 {
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        entities::inbound_event::Entity::find()
            .filter(entities::inbound_event::Column::Status.eq("pending"))
            .count(db)
            .await
            .unwrap_or(0)
    }
}
