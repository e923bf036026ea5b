//! The `tongdai` binary: parse the command line, set up logging, run.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let filter =
        std::env::var("TONGDAI_LOG").unwrap_or_else(|_| "tongdai=info,tower_http=warn".to_owned());
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_target(false)
        .init();
    tongdai::cli::run(tongdai::cli::Cli::parse()).await
}
