//! The command line, run as a real process against a real SQLite file.

use std::process::Command;

use sea_orm::EntityTrait;
use tongdai::store::entities::inbound_event;

use crate::helpers::*;

fn tongdai(db: &str, dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tongdai"))
        .args(args)
        .env("TONGDAI_DATABASE_URL", db)
        .env("TONGDAI_DATA_DIR", dir)
        .env("TONGDAI_LOG", "warn")
        .current_dir(dir)
        .output()
        .expect("run tongdai")
}

#[tokio::test]
async fn migrate_user_add_and_replay_work_from_the_command_line() {
    let dir = TempDir(
        std::env::temp_dir().join(format!("tongdai-cli-{}", tongdai::crypto::random_token(6))),
    );
    std::fs::create_dir_all(&dir.0).unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.0.join("cli.db").display());

    let out = tongdai(&db, &dir.0, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let args = [
        "user",
        "add",
        "--email",
        "Boss@Shop.vn",
        "--password",
        "12345678",
        "--role",
        "owner",
        "--workspace",
        "Shop Hoa",
    ];
    let out = tongdai(&db, &dir.0, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("boss@shop.vn (owner)"));
    let again = tongdai(&db, &dir.0, &args);
    assert!(!again.status.success(), "the same email twice is refused");
    let bad_role = tongdai(
        &db,
        &dir.0,
        &[
            "user",
            "add",
            "--email",
            "a@b.vn",
            "--password",
            "12345678",
            "--role",
            "king",
            "--workspace",
            "S",
        ],
    );
    assert!(!bad_role.status.success());

    // A dead-lettered event, then `tongdai replay`.
    let app = spawn_with(Options {
        database: Some((db.clone(), None)),
        ..Default::default()
    })
    .await;
    assert_eq!(app.post_signed(b"{not json").await.status(), 200);
    app.drain().await;
    let out = tongdai(&db, &dir.0, &["replay"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("1 event(s) queued"));
    let row = inbound_event::Entity::find()
        .one(&app.state.db.read)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.status, "pending");
}
