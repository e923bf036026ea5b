//! Runs every migration up, down and up again on SQLite, and on PostgreSQL when
//! `TONGDAI_TEST_DATABASE_URL` points at one.

use std::collections::BTreeSet;
use std::time::{SystemTime, UNIX_EPOCH};

use migration::sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend, Statement,
};
use migration::{Migrator, MigratorTrait};

const TABLES: &[&str] = &[
    "api_key",
    "audit_log",
    "blacklist",
    "call_log",
    "canned_response",
    "channel_account",
    "contact",
    "contact_identity",
    "conversation",
    "conversation_label",
    "delivery_attempt",
    "feedback",
    "inbound_event",
    "job",
    "label",
    "lead",
    "media",
    "membership",
    "message",
    "message_revision",
    "oauth_state",
    "order",
    "order_event",
    "order_item",
    "session",
    "user",
    "webhook_endpoint",
    "webhook_message",
    "workspace",
];

const INDEXES: &[&str] = &[
    "idx_audit_log_workspace_id_id",
    "idx_blacklist_workspace_id_phone",
    "idx_call_log_lead_id",
    "idx_channel_account_workspace_id",
    "idx_contact_identity_contact_id",
    "idx_contact_workspace_id_created_at",
    "idx_contact_workspace_id_name",
    "idx_contact_workspace_id_phone",
    "idx_conversation_contact_id",
    "idx_conversation_label_label_id",
    "idx_conversation_workspace_id_created_at",
    "idx_conversation_workspace_id_last_message_at",
    "idx_conversation_workspace_id_status",
    "idx_delivery_attempt_endpoint_id_id",
    "idx_feedback_conversation_id",
    "idx_inbound_event_status_id",
    "idx_inbound_event_workspace_id_status",
    "idx_job_status_run_at",
    "idx_lead_next_call_at",
    "idx_lead_workspace_id_assignee_id_stage",
    "idx_lead_workspace_id_created_at",
    "idx_lead_workspace_id_phone",
    "idx_lead_workspace_id_stage",
    "idx_media_message_id",
    "idx_membership_user_id",
    "idx_message_conversation_id_sent_at",
    "idx_message_revision_message_id",
    "idx_order_event_order_id_id",
    "idx_order_item_order_id",
    "idx_order_workspace_id_created_at",
    "idx_order_workspace_id_phone",
    "idx_order_workspace_id_status",
    "idx_session_expires_at",
    "idx_webhook_message_endpoint_id_created_at",
    "idx_webhook_message_order_id",
    "uq_api_key_key_hash",
    "uq_canned_response_workspace_id_shortcut",
    "uq_channel_account_platform_external_id",
    "uq_contact_identity_channel_account_id_external_id",
    "uq_conversation_channel_account_id_external_thread_id",
    "uq_feedback_order_id",
    "uq_inbound_event_platform_event_key",
    "uq_label_workspace_id_name",
    "uq_membership_workspace_id_user_id",
    "uq_message_channel_account_id_external_id",
    "uq_oauth_state_state_hash",
    "uq_order_workspace_id_channel_account_id_external_id",
    "uq_session_token_hash",
    "uq_user_email",
    "uq_workspace_slug",
];

const FOREIGN_KEYS: i64 = 61;

async fn names(db: &DatabaseConnection, sql: &str) -> BTreeSet<String> {
    let backend = db.get_database_backend();
    db.query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("catalog query")
        .iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("name column"))
        .collect()
}

/// Tables of ours in the current schema (sea-orm's own `seaql_migrations` left out).
async fn tables(db: &DatabaseConnection) -> BTreeSet<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        }
        _ => {
            "SELECT table_name::text FROM information_schema.tables \
             WHERE table_schema = current_schema()"
        }
    };
    let mut found = names(db, sql).await;
    found.remove("seaql_migrations");
    found
}

/// Named `idx_…`/`uq_…` indexes in the current schema.
async fn indexes(db: &DatabaseConnection) -> BTreeSet<String> {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => "SELECT name FROM sqlite_master WHERE type = 'index'",
        _ => "SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()",
    };
    names(db, sql)
        .await
        .into_iter()
        .filter(|name| name.starts_with("idx_") || name.starts_with("uq_"))
        .collect()
}

/// Number of foreign keys in the current schema.
async fn foreign_keys(db: &DatabaseConnection) -> i64 {
    let sql = match db.get_database_backend() {
        DbBackend::Sqlite => {
            "SELECT count(*) FROM sqlite_master AS m, pragma_foreign_key_list(m.name) AS f \
             WHERE m.type = 'table'"
        }
        _ => {
            "SELECT count(*) FROM pg_constraint \
             WHERE contype = 'f' AND connamespace = current_schema()::regnamespace"
        }
    };
    let backend = db.get_database_backend();
    db.query_one_raw(Statement::from_string(backend, sql))
        .await
        .expect("foreign key query")
        .expect("one row")
        .try_get_by_index::<i64>(0)
        .expect("count")
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

async fn up_down_up(db: &DatabaseConnection) {
    Migrator::up(db, None).await.expect("first up");
    assert_eq!(tables(db).await, set(TABLES));
    assert_eq!(indexes(db).await, set(INDEXES));
    assert_eq!(foreign_keys(db).await, FOREIGN_KEYS);

    Migrator::down(db, None).await.expect("down");
    assert_eq!(tables(db).await, BTreeSet::new());
    assert_eq!(indexes(db).await, BTreeSet::new());
    assert!(
        Migrator::get_applied_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );

    Migrator::up(db, None).await.expect("second up");
    assert_eq!(tables(db).await, set(TABLES));
    assert_eq!(indexes(db).await, set(INDEXES));
    assert!(
        Migrator::get_pending_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_sqlite() {
    let db = Database::connect("sqlite::memory:").await.unwrap();
    up_down_up(&db).await;
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again_on_postgres() {
    let Ok(url) = std::env::var("TONGDAI_TEST_DATABASE_URL") else {
        eprintln!("TONGDAI_TEST_DATABASE_URL not set; skipping the PostgreSQL run");
        return;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let schema = format!("mig_{nanos}_{}", std::process::id());

    let admin = Database::connect(&url).await.unwrap();
    admin
        .execute_unprepared(&format!(r#"CREATE SCHEMA "{schema}""#))
        .await
        .unwrap();

    let mut options = ConnectOptions::new(&url);
    options.set_schema_search_path(&schema);
    let db = Database::connect(options).await.unwrap();
    // Run the checks in a task so the schema is dropped even when one fails.
    let run = tokio::spawn(async move {
        up_down_up(&db).await;
        db.close().await.unwrap();
    })
    .await;

    admin
        .execute_unprepared(&format!(r#"DROP SCHEMA "{schema}" CASCADE"#))
        .await
        .unwrap();
    if let Err(panic) = run {
        std::panic::resume_unwind(panic.into_panic());
    }
}
