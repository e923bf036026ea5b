//! The servers under test run as separate processes of this same executable, so their memory
//! and CPU are their own: `tongdai serve` with a throw-away data directory, or the baseline
//! (`tongdai bench --baseline-server ADDR`, a bare axum handler). Also: users through
//! `tongdai user add`, sign-in over HTTP, connecting the bench Page, `/proc` readings.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use axum::Router;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::routing::{get, post};
use http::Method;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::client::{APP_SECRET, Conn};

/// Password of every bench user.
pub const PASSWORD: &str = "bench-password-123";
/// Workspace of every bench user.
pub const WORKSPACE: &str = "Bench Shop";

/// A temporary directory, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory under the system temp dir.
    pub fn new(tag: &str) -> anyhow::Result<TempDir> {
        let p = std::env::temp_dir().join(format!(
            "tongdai-bench-{tag}-{}",
            crate::crypto::random_token(6)
                .to_lowercase()
                .replace(['-', '_'], "x")
        ));
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(TempDir(p))
    }

    /// The SQLite URL of a database file in this directory.
    pub fn sqlite_url(&self) -> String {
        format!("sqlite://{}?mode=rwc", self.0.join("tongdai.db").display())
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A free loopback port (bound, then released).
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// This executable with a clean `TONGDAI_*` environment for `dir` and `db_url`.
fn command(dir: &Path, db_url: &str, workers: bool) -> anyhow::Result<Command> {
    let exe = std::env::current_exe().context("locating the tongdai executable")?;
    let mut cmd = Command::new(exe);
    cmd.current_dir(dir);
    for (k, _) in std::env::vars_os() {
        if k.to_string_lossy().starts_with("TONGDAI_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("TONGDAI_CONFIG", dir.join("absent.toml"))
        .env("TONGDAI_DATA_DIR", dir)
        .env("TONGDAI_DATABASE_URL", db_url)
        .env("TONGDAI_FACEBOOK_APP_SECRET", APP_SECRET)
        .env("TONGDAI_SECRET_KEY", "ab".repeat(32))
        .env("TONGDAI_LOG", "warn")
        .env("TONGDAI_WORKERS", if workers { "true" } else { "false" })
        .env("TONGDAI_LOGIN_PER_MINUTE_IP", "1000000")
        .env("TONGDAI_LOGIN_PER_MINUTE_ACCOUNT", "1000000")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    Ok(cmd)
}

/// `tongdai user add` on the database at `db_url`.
pub async fn user_add(dir: &Path, db_url: &str, email: &str, role: &str) -> anyhow::Result<()> {
    let out = command(dir, db_url, false)?
        .args(["user", "add", "--email", email, "--password", PASSWORD])
        .args(["--role", role, "--workspace", WORKSPACE, "--name", email])
        .output()
        .await
        .context("running tongdai user add")?;
    if !out.status.success() {
        bail!(
            "tongdai user add {email} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A server process.
pub struct Proc {
    child: Child,
    /// Its pid.
    pub pid: u32,
    /// Where it listens.
    pub addr: SocketAddr,
    /// When it was spawned.
    pub spawned: Instant,
    log: PathBuf,
}

fn log_file(dir: &Path, name: &str) -> anyhow::Result<(PathBuf, Stdio, Stdio)> {
    let path = dir.join(name);
    let f = std::fs::File::create(&path)?;
    let g = f.try_clone()?;
    Ok((path, Stdio::from(f), Stdio::from(g)))
}

impl Proc {
    /// `tongdai serve` on a free port.
    pub async fn serve(dir: &Path, db_url: &str, workers: bool) -> anyhow::Result<Proc> {
        Self::serve_node(dir, db_url, workers, None).await
    }

    /// `tongdai serve` on a free port, one node of several when `redis` is given (its realtime
    /// bus then goes through that Redis).
    pub async fn serve_node(
        dir: &Path,
        db_url: &str,
        workers: bool,
        redis: Option<&str>,
    ) -> anyhow::Result<Proc> {
        let addr = free_addr()?;
        let (log, out, err) = log_file(dir, "server.log")?;
        let mut cmd = command(dir, db_url, workers)?;
        cmd.arg("serve")
            .env("TONGDAI_LISTEN", addr.to_string())
            .stdout(out)
            .stderr(err);
        if let Some(url) = redis {
            cmd.env("TONGDAI_REDIS_URL", url);
        }
        Self::start(cmd, addr, log)
    }

    /// The baseline server on a free port.
    pub async fn baseline(dir: &Path) -> anyhow::Result<Proc> {
        let addr = free_addr()?;
        let (log, out, err) = log_file(dir, "baseline.log")?;
        let mut cmd = command(dir, "sqlite::memory:", false)?;
        cmd.args(["bench", "--baseline-server", &addr.to_string()])
            .stdout(out)
            .stderr(err);
        Self::start(cmd, addr, log)
    }

    fn start(mut cmd: Command, addr: SocketAddr, log: PathBuf) -> anyhow::Result<Proc> {
        let spawned = Instant::now();
        let child = cmd.spawn().context("spawning the server")?;
        let pid = child.id().context("the server has no pid")?;
        Ok(Proc {
            child,
            pid,
            addr,
            spawned,
            log,
        })
    }

    /// Poll `GET path` until it answers 200; returns the time since spawn.
    pub async fn wait_ready(&mut self, path: &str, timeout: Duration) -> anyhow::Result<Duration> {
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "the server exited ({status}) before it was ready:\n{}",
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                );
            }
            if let Ok(mut c) = Conn::connect(self.addr).await
                && let Ok(a) = c.get(path, None).await
                && a.status == StatusCode::OK
            {
                return Ok(self.spawned.elapsed());
            }
            if self.spawned.elapsed() > timeout {
                bail!("the server was not ready within {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Resident memory (VmRSS) in bytes.
    pub fn rss(&self) -> anyhow::Result<u64> {
        proc_status_kb(self.pid, "VmRSS:").map(|kb| kb * 1024)
    }

    /// Open file descriptors.
    pub fn fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.pid))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// CPU time (user + system) used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid)
    }

    /// Kill the process and wait for it.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A throw-away PostgreSQL schema (`bench_<random>`), for the runs on PostgreSQL.
pub struct PgSchema {
    admin: DatabaseConnection,
    name: String,
    /// The database URL with this schema as its search path, for the server processes.
    pub url: String,
}

impl PgSchema {
    /// Create a fresh schema on the PostgreSQL at `url`.
    pub async fn create(url: &str) -> anyhow::Result<PgSchema> {
        let name = format!(
            "bench_{}",
            crate::crypto::random_token(6)
                .to_lowercase()
                .replace(['-', '_'], "x")
        );
        let admin = Database::connect(url)
            .await
            .context("connecting to PostgreSQL")?;
        admin
            .execute_unprepared(&format!("CREATE SCHEMA \"{name}\""))
            .await?;
        let sep = if url.contains('?') { '&' } else { '?' };
        let url = format!("{url}{sep}options=-c%20search_path%3D{name}");
        Ok(PgSchema { admin, name, url })
    }

    /// Drop the schema and everything in it.
    pub async fn drop_schema(self) {
        let _ = self
            .admin
            .execute_unprepared(&format!("DROP SCHEMA \"{}\" CASCADE", self.name))
            .await;
    }
}

/// A `kB` field of `/proc/<pid>/status`.
pub fn proc_status_kb(pid: u32, field: &str) -> anyhow::Result<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// User + system CPU time of a process (from `/proc/<pid>/stat`, 100 ticks a second).
pub fn cpu_time(pid: u32) -> Duration {
    let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return Duration::ZERO;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = s.rsplit_once(')').map(|(_, r)| r).unwrap_or_default();
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    /// `tongdai_session=…`.
    pub cookie: String,
    /// The CSRF token.
    pub csrf: String,
}

/// Sign in over HTTP.
pub async fn login(addr: SocketAddr, email: &str) -> anyhow::Result<Session> {
    let mut c = Conn::connect(addr).await?;
    let body = json!({ "email": email, "password": PASSWORD }).to_string();
    let a = c
        .send(
            Method::POST,
            "/api/v1/auth/login",
            &[("content-type", "application/json")],
            Bytes::from(body),
        )
        .await?;
    if a.status != StatusCode::OK {
        bail!(
            "login of {email}: {} {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
    }
    let cookie = a
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("tongdai_session="))
        .and_then(|v| v.split(';').next())
        .context("no session cookie")?
        .to_owned();
    let me: Value = serde_json::from_slice(&a.body)?;
    let csrf = me["csrf_token"]
        .as_str()
        .context("no csrf_token")?
        .to_owned();
    Ok(Session { cookie, csrf })
}

/// Connect a Facebook Page to the signed-in owner's workspace.
pub async fn connect_page(addr: SocketAddr, s: &Session, page_id: &str) -> anyhow::Result<()> {
    let mut c = Conn::connect(addr).await?;
    let body = json!({ "platform": "facebook", "external_id": page_id, "name": format!("Bench Page {page_id}"), "access_token": "bench-page-token" });
    let a = c
        .send(
            Method::POST,
            "/api/v1/channel-accounts",
            &[
                ("content-type", "application/json"),
                ("cookie", &s.cookie),
                ("x-csrf-token", &s.csrf),
            ],
            Bytes::from(body.to_string()),
        )
        .await?;
    if a.status != StatusCode::CREATED {
        bail!(
            "connecting the page: {} {}",
            a.status,
            String::from_utf8_lossy(&a.body)
        );
    }
    Ok(())
}

/// `tongdai bench --baseline-server ADDR`: a bare axum handler answering 200 to the webhook
/// POST (reading its body), plus `/readyz`.
pub async fn baseline_server(addr: SocketAddr) -> anyhow::Result<()> {
    async fn accept(_body: Bytes) -> StatusCode {
        StatusCode::OK
    }
    let app = Router::new()
        .route("/webhooks/facebook", post(accept))
        .route("/readyz", get(|| async { StatusCode::OK }));
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// `GET /metrics` as `name{labels}` → value.
pub async fn metrics(addr: SocketAddr) -> anyhow::Result<std::collections::HashMap<String, f64>> {
    let mut c = Conn::connect(addr).await?;
    let a = c.get("/metrics", None).await?;
    Ok(String::from_utf8_lossy(&a.body)
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter_map(|(k, v)| Some((k.to_owned(), v.parse().ok()?)))
        .collect())
}

/// Mean webhooks per group-commit batch and mean milliseconds per batch, from `/metrics`.
pub async fn batch_stats(addr: SocketAddr) -> Option<(f64, f64)> {
    batch_stats_of(&[addr]).await
}

/// [`batch_stats`] over the batches of several nodes.
pub async fn batch_stats_of(addrs: &[SocketAddr]) -> Option<(f64, f64)> {
    let (mut n, mut size, mut ms) = (0.0, 0.0, 0.0);
    for addr in addrs {
        let m = metrics(*addr).await.ok()?;
        n += *m.get("tongdai_ingest_batch_size_count")?;
        size += m.get("tongdai_ingest_batch_size_sum")?;
        ms += m.get("tongdai_ingest_batch_latency_ms_sum")?;
    }
    (n > 0.0).then(|| (size / n, ms / n))
}

/// A `perf record` of one process (a flat `cpu-clock` profile), when asked for.
pub struct Perf(Option<Child>);

impl Perf {
    /// Start `perf record` on `pid` into `<dir>/<name>.data` when `dir` is given.
    pub fn start(dir: Option<&Path>, pid: u32, name: &str) -> Perf {
        let Some(dir) = dir else { return Perf(None) };
        let _ = std::fs::create_dir_all(dir);
        let out = dir.join(format!("{name}.data"));
        let child = Command::new("perf")
            .args(["record", "-q", "-e", "cpu-clock", "-F", "999", "-p"])
            .arg(pid.to_string())
            .arg("-o")
            .arg(&out)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        match child {
            Ok(c) => Perf(Some(c)),
            Err(e) => {
                eprintln!("  perf record could not start: {e}");
                Perf(None)
            }
        }
    }

    /// Stop recording (SIGINT, so perf writes its file) and wait for it.
    pub async fn stop(self) {
        let Some(mut c) = self.0 else { return };
        if let Some(pid) = c.id() {
            let _ = Command::new("kill")
                .args(["-INT", &pid.to_string()])
                .status()
                .await;
        }
        let _ = tokio::time::timeout(Duration::from_secs(20), c.wait()).await;
    }
}
