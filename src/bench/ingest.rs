//! B0 and P1: closed-loop webhook throughput against the bare axum baseline and against the
//! real `/webhooks/facebook` (verify → group commit → 200).

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database};

use super::client::{self, PAGE_ID, Throughput};
use super::server::{Perf, PgSchema, Proc, TempDir, batch_stats, connect_page, login, user_add};

/// Load settings shared by B0 and P1.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Connections (tasks).
    pub concurrency: usize,
    /// Unmeasured lead-in.
    pub warmup: Duration,
    /// Measured window.
    pub duration: Duration,
}

/// A throughput run with the CPU the server and the bench used during it.
#[derive(Debug, Clone, Copy)]
pub struct Measured {
    /// Throughput.
    pub t: Throughput,
    /// Server CPU seconds per wall second during the run.
    pub server_cpu: f64,
    /// Bench (client) CPU seconds per wall second during the run.
    pub client_cpu: f64,
}

impl Measured {
    /// `12 345 req/s (server 1.2 CPU, client 0.8 CPU)`.
    pub fn describe(&self, unit: &str) -> String {
        let mut s = format!(
            "{} {unit} (server {:.2} CPU, client {:.2} CPU",
            thousands(self.t.per_second()),
            self.server_cpu,
            self.client_cpu
        );
        if self.t.failed > 0 {
            s.push_str(&format!(", {} failed", self.t.failed));
        }
        s.push(')');
        s
    }
}

/// `12345.6` → `12 346`.
pub fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

async fn measure(p: &Proc, load: Load, run: &str, perf: Option<&Path>) -> anyhow::Result<Measured> {
    let rec = Perf::start(perf, p.pid, run);
    let s0 = p.cpu_time();
    let c0 = super::server::cpu_time(std::process::id());
    let wall = std::time::Instant::now();
    let t = client::closed_loop(p.addr, load.concurrency, load.warmup, load.duration, run).await?;
    let wall = wall.elapsed().as_secs_f64();
    let s1 = p.cpu_time();
    let c1 = super::server::cpu_time(std::process::id());
    rec.stop().await;
    Ok(Measured {
        t,
        server_cpu: (s1 - s0).as_secs_f64() / wall,
        client_cpu: (c1 - c0).as_secs_f64() / wall,
    })
}

/// B0: the bare handler.
pub async fn baseline(load: Load, perf: Option<&Path>) -> anyhow::Result<Measured> {
    let dir = TempDir::new("b0")?;
    let mut p = Proc::baseline(&dir.0).await?;
    p.wait_ready("/readyz", Duration::from_secs(10)).await?;
    let m = measure(&p, load, "b0", perf).await;
    p.stop().await;
    m
}

/// What P1 found on one database.
pub struct Ingest {
    /// The webhook load.
    pub m: Measured,
    /// Events the ingest worker had normalized when the load ended (workers on).
    pub processed: Option<u64>,
    /// Mean webhooks per group-commit batch and mean ms per batch (from `/metrics`).
    pub batches: Option<(f64, f64)>,
}

/// P1 against a real server on `db_url` (SQLite in `dir` when `None`).
pub async fn ingest(
    load: Load,
    pg: Option<&str>,
    workers: bool,
    perf: Option<&Path>,
) -> anyhow::Result<Ingest> {
    let dir = TempDir::new("p1")?;
    let schema = match pg {
        None => None,
        Some(url) => Some(PgSchema::create(url).await?),
    };
    let db_url = match &schema {
        None => dir.sqlite_url(),
        Some(s) => s.url.clone(),
    };
    let result = async {
        user_add(&dir.0, &db_url, "owner@bench.tongdai.vn", "owner").await?;
        let mut p = Proc::serve(&dir.0, &db_url, workers).await?;
        let r = async {
            p.wait_ready("/readyz", Duration::from_secs(30)).await?;
            let owner = login(p.addr, "owner@bench.tongdai.vn").await?;
            connect_page(p.addr, &owner, PAGE_ID).await?;
            let tag = format!(
                "p1-{}{}",
                if pg.is_some() { "pg" } else { "sqlite" },
                if workers { "" } else { "-noworkers" }
            );
            let m = measure(&p, load, &tag, perf).await?;
            let batches = batch_stats(p.addr).await;
            let processed = if workers {
                Some(processed_count(&db_url).await.unwrap_or(0))
            } else {
                None
            };
            anyhow::Ok(Ingest {
                m,
                processed,
                batches,
            })
        }
        .await;
        p.stop().await;
        r
    }
    .await;
    if let Some(s) = schema {
        s.drop_schema().await;
    }
    result
}

async fn processed_count(db_url: &str) -> anyhow::Result<u64> {
    let db = Database::connect(db_url).await?;
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM message".to_owned(),
        ))
        .await?
        .context("no count")?;
    let n: i64 = row.try_get("", "n")?;
    Ok(n as u64)
}

#[cfg(test)]
mod tests {
    use super::thousands;

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(thousands(0.4), "0");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1234.0), "1 234");
        assert_eq!(thousands(1_234_567.0), "1 234 567");
    }
}
