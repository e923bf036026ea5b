//! P5: time from spawning `tongdai serve` to `/readyz` 200, idle resident memory, binary size.

use std::time::Duration;

use super::server::{Proc, TempDir};

/// What P5 measured.
#[derive(Debug, Clone)]
pub struct Footprint {
    /// Spawn → `/readyz` 200 on an empty data directory (creates the database, migrates).
    pub first_start: Duration,
    /// The same on the existing database.
    pub restart: Duration,
    /// VmRSS two seconds after ready (bytes).
    pub idle_rss: u64,
    /// Size of this executable (bytes).
    pub binary: u64,
    /// Whether this is an optimized build.
    pub release: bool,
}

/// Start a server twice on a fresh SQLite data directory.
pub async fn footprint() -> anyhow::Result<Footprint> {
    let dir = TempDir::new("p5")?;
    let db_url = dir.sqlite_url();
    let mut p = Proc::serve(&dir.0, &db_url, true).await?;
    let first_start = p.wait_ready("/readyz", Duration::from_secs(30)).await?;
    p.stop().await;
    let mut p = Proc::serve(&dir.0, &db_url, true).await?;
    let r = async {
        let restart = p.wait_ready("/readyz", Duration::from_secs(30)).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let idle_rss = p.rss()?;
        anyhow::Ok((restart, idle_rss))
    }
    .await;
    p.stop().await;
    let (restart, idle_rss) = r?;
    let binary = std::fs::metadata(std::env::current_exe()?)?.len();
    Ok(Footprint {
        first_start,
        restart,
        idle_rss,
        binary,
        release: !cfg!(debug_assertions),
    })
}
