//! The command line: `tongdai` (serve), `migrate`, `user add`, `replay`, `demo`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::domain::role::Role;
use crate::startup::Application;
use crate::store::Db;

/// tongdai — tổng đài: one inbox for every channel a shop sells on.
#[derive(Debug, Parser)]
#[command(name = "tongdai", version, about)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage users.
    User {
        /// What to do with users.
        #[command(subcommand)]
        action: UserAction,
    },
    /// Re-queue dead-lettered inbound events (all failed ones, or the given ids) for processing.
    Replay {
        /// Event ids (default: every failed event).
        ids: Vec<i64>,
    },
    /// Start a demo: a seeded workspace wired to the Facebook sandbox, with live traffic.
    Demo {
        /// Where the demo keeps its database (recreated on every run).
        #[arg(long, default_value = "./data/demo")]
        dir: PathBuf,
        /// Seconds between generated messages.
        #[arg(long, default_value_t = 4)]
        every: u64,
    },
    /// Measure throughput, latency and memory against a local server (docs/performance.md).
    Bench(crate::bench::BenchArgs),
}

/// `tongdai user …`.
#[derive(Debug, Subcommand)]
pub enum UserAction {
    /// Create a user in a workspace (created when it does not exist).
    Add {
        /// Email (the login).
        #[arg(long)]
        email: String,
        /// Password (8+ characters).
        #[arg(long)]
        password: String,
        /// Role: owner, admin, marketer, agent or fulfillment.
        #[arg(long, default_value = "owner")]
        role: String,
        /// Workspace name.
        #[arg(long)]
        workspace: String,
        /// Display name.
        #[arg(long, default_value = "")]
        name: String,
    },
}

/// Run the command line with a loaded configuration.
pub async fn run(cli: Cli, cfg: Config) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(cfg).await,
        Command::Migrate => {
            let db = Db::connect(&cfg.database_url(), None).await?;
            db.migrate().await?;
            println!("migrations applied to {}", redact(&cfg.database_url()));
            Ok(())
        }
        Command::User {
            action:
                UserAction::Add {
                    email,
                    password,
                    role,
                    workspace,
                    name,
                },
        } => {
            let role: Role = role.parse().map_err(anyhow::Error::msg)?;
            let db = Db::connect(&cfg.database_url(), None).await?;
            db.migrate().await?;
            let (u, ws) =
                crate::services::auth::create_user(&db, &email, &password, &name, role, &workspace)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!(
                "created {} ({role}) in workspace {} [{}]",
                u.email, ws.name, ws.slug
            );
            Ok(())
        }
        Command::Replay { ids } => {
            let db = Db::connect(&cfg.database_url(), None).await?;
            db.migrate().await?;
            let n = crate::services::events::requeue_failed(&db, &ids).await?;
            println!(
                "{n} event(s) queued for replay; a running tongdai processes them within seconds (or at its next start)"
            );
            Ok(())
        }
        Command::Demo { dir, every } => crate::demo::run(cfg, dir, every).await,
        Command::Bench(args) => crate::bench::run(args).await,
    }
}

async fn serve(cfg: Config) -> anyhow::Result<()> {
    let app = Application::build(cfg, None).await?;
    let addr = app.local_addr();
    tracing::info!(%addr, "tongdai listening");
    println!("tongdai is listening on http://{addr}");
    if let Some(link) = app.setup_link() {
        println!(
            "\nNo user exists yet. Open this one-time link to create the owner:\n\n    {link}\n"
        );
    }
    app.run_until_stopped(true).await
}

/// A database URL without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_owned(),
    }
}
