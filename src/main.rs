//! The `tongdai` binary: parse the command line, load the configuration, set up logging, run.

use anyhow::Context;
use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = tongdai::cli::Cli::parse();
    let cfg = tongdai::config::Config::load().context("reading configuration")?;
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(&cfg.log))
        .with_target(false)
        .init();
    tongdai::cli::run(cli, cfg).await
}
