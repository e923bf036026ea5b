//! `tongdai bench`: the performance benchmark, in one run on one machine.
//!
//! - **B0** a bare axum handler answering 200 to the webhook POST: the ceiling of this client,
//!   this HTTP stack and this machine.
//! - **P1** signed Messenger webhooks through the real `/webhooks/facebook` (verify, group
//!   commit in SQLite WAL `synchronous=FULL`, 200), closed loop; on PostgreSQL too with
//!   `--postgres`.
//! - **P2** webhook → `message.created` on every agent websocket, open loop at a fixed rate.
//! - **P3** resident memory per idle authenticated websocket.
//! - **P4** the conversation list and a thread page over a seeded inbox of 100k conversations
//!   and 1M messages.
//! - **P5** start-up time, idle memory, binary size.
//!
//! Every server runs as a separate process of this executable (`serve`, or the hidden
//! `bench --baseline-server`) so that its memory and CPU are its own. See
//! `docs/performance.md` for a full run and what it found.

pub mod client;
pub mod footprint;
pub mod inbox;
pub mod ingest;
pub mod realtime;
pub mod server;
pub mod stats;
pub mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use stats::{Row, bytes, ms, render_table};

/// `tongdai bench` options.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// A smoke run of every scenario in under a minute (small sizes, 2 s windows).
    #[arg(long)]
    pub quick: bool,
    /// Only these scenarios, comma-separated: b0,p1,p2,p3,p4,p5 (p1 brings b0 along).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Measured seconds of each load window (B0, P1, P2) [default: 10, 2 with --quick].
    #[arg(long)]
    pub duration: Option<f64>,
    /// Connections of the closed-loop load (B0, P1).
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// Also run P1 on this PostgreSQL (in a fresh schema, dropped afterwards).
    #[arg(long, env = "TONGDAI_BENCH_PG_URL")]
    pub postgres: Option<String>,
    /// With --postgres: also run P2 with two server processes on that PostgreSQL and this
    /// Redis (webhooks to both in turn, agents split over both).
    #[arg(long, env = "TONGDAI_BENCH_REDIS_URL")]
    pub redis: Option<String>,
    /// P2 webhook rate, events/s [default: 2000, 200 with --quick].
    #[arg(long)]
    pub rate: Option<u64>,
    /// P2 agent websockets [default: 1000, 50 with --quick].
    #[arg(long)]
    pub agents: Option<usize>,
    /// Skip the extra P2 points (fewer agents, lower rates) that locate the limit.
    #[arg(long)]
    pub no_sweep: bool,
    /// P3 idle websockets [default: 10000, 1000 with --quick].
    #[arg(long)]
    pub sockets: Option<usize>,
    /// P4 conversations [default: 100000, 2000 with --quick].
    #[arg(long)]
    pub conversations: Option<usize>,
    /// P4 messages [default: 1000000, 20000 with --quick].
    #[arg(long)]
    pub messages: Option<usize>,
    /// P4 timed requests of each kind [default: 500, 100 with --quick].
    #[arg(long)]
    pub requests: Option<usize>,
    /// Record a `perf record -e cpu-clock` profile of the server during each load window
    /// (B0, P1, P2) into this directory.
    #[arg(long)]
    pub perf: Option<std::path::PathBuf>,
    /// Internal: serve the B0 baseline handler on this address.
    #[arg(long, hide = true)]
    pub baseline_server: Option<SocketAddr>,
}

impl BenchArgs {
    fn wants(&self, s: &str) -> bool {
        self.only.is_empty()
            || self.only.iter().any(|o| o.trim().eq_ignore_ascii_case(s))
            || (s == "b0" && self.wants_explicit("p1"))
    }

    fn wants_explicit(&self, s: &str) -> bool {
        self.only.iter().any(|o| o.trim().eq_ignore_ascii_case(s))
    }

    fn pick<T>(&self, v: Option<T>, full: T, quick: T) -> T {
        v.unwrap_or(if self.quick { quick } else { full })
    }
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// One line about the machine: cores, CPU model, memory, kernel, load.
pub fn machine() -> String {
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, m)| m.trim().to_owned())
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem_kb: u64 = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    format!(
        "{cores} cores · {model} · {:.1} GiB RAM · Linux {} · load {}",
        mem_kb as f64 / (1024.0 * 1024.0),
        read("/proc/sys/kernel/osrelease").trim(),
        load_average()
    )
}

/// The 1/5/15-minute load averages.
pub fn load_average() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Latencies (µs) of 200 × (append 4 KiB, `fdatasync`) in the temp dir: what one durable
/// SQLite WAL commit costs at least.
fn fsync_probe() -> std::io::Result<Vec<u64>> {
    use std::io::Write;
    let dir = server::TempDir::new("fsync").map_err(std::io::Error::other)?;
    let mut f = std::fs::File::create(dir.0.join("probe"))?;
    let block = [0x5au8; 4096];
    let mut out = Vec::with_capacity(200);
    for _ in 0..200 {
        f.write_all(&block)?;
        let t = std::time::Instant::now();
        f.sync_data()?;
        out.push(t.elapsed().as_micros() as u64);
    }
    Ok(out)
}

fn failed(rows: &mut Vec<Row>, scenario: &str, e: anyhow::Error) {
    eprintln!("  {scenario} failed: {e:#}");
    let first = e.to_string().lines().next().unwrap_or_default().to_owned();
    rows.push(Row::new(scenario, format!("error: {first}"), "runs", false));
}

/// The figure of one P2 point.
fn p2_figure(r: &realtime::EndToEnd) -> String {
    let server = if r.node_cpu.len() > 1 {
        let each: Vec<String> = r.node_cpu.iter().map(|c| format!("{c:.2}")).collect();
        format!("servers {:.2} CPU ({})", r.server_cpu, each.join(" + "))
    } else {
        format!("server {:.2} CPU", r.server_cpu)
    };
    let mut figure = format!(
        "{}; {:.1}% of {} frames arrived ({} frames/s), {} resyncs; sent {:.0} ev/s, {} of {} acked within 30 s, ack p99 {}; {server}, client {:.2} CPU",
        r.latency.millis(),
        r.delivered() * 100.0,
        r.expected,
        ingest::thousands(r.frames_per_second),
        r.resyncs,
        r.achieved_rate,
        r.acked,
        r.sent,
        ms(r.ack.p99),
        r.client_cpu
    );
    if let Some((size, ms)) = r.batches {
        figure.push_str(&format!("; commit batches {size:.1} × {ms:.2} ms"));
    }
    figure
}

/// Run the benchmark (or, with `--baseline-server`, be the baseline server).
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    if let Some(addr) = args.baseline_server {
        return server::baseline_server(addr).await;
    }
    // 10,000 client sockets here and as many in the server, which inherits this limit.
    let nofile = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let duration = Duration::from_secs_f64(args.pick(args.duration, 10.0, 2.0).max(0.5));
    let warmup = Duration::from_secs_f64(if args.quick { 0.5 } else { 2.0 });
    let load = ingest::Load {
        concurrency: args.concurrency.max(1),
        warmup,
        duration,
    };
    let build = if cfg!(debug_assertions) {
        "DEBUG build: figures are not meaningful, use --release"
    } else {
        "release build"
    };
    println!("tongdai bench · {build}");
    println!("machine: {}", machine());
    println!("open files limit: {nofile}");
    let mut rows: Vec<Row> = Vec::new();
    match fsync_probe() {
        Ok(mut v) => {
            let s = stats::Summary::of(&mut v);
            rows.push(Row::info(
                "disk: 4 KiB append + fdatasync in the temp dir ×200",
                s.millis(),
            ));
        }
        Err(e) => eprintln!("fsync probe failed: {e}"),
    }

    if args.wants("p5") {
        eprintln!("P5 footprint …");
        match footprint::footprint().await {
            Ok(f) => {
                rows.push(Row::new(
                    "P5 start → /readyz 200",
                    format!(
                        "{} first start (empty dir, migrations), {} restart",
                        ms(f.first_start.as_micros() as u64),
                        ms(f.restart.as_micros() as u64)
                    ),
                    "≤ 1 s",
                    f.first_start <= Duration::from_secs(1) && f.restart <= Duration::from_secs(1),
                ));
                rows.push(Row::new(
                    "P5 idle RSS after start",
                    bytes(f.idle_rss),
                    "≤ 40 MiB",
                    f.idle_rss <= 40 * 1024 * 1024,
                ));
                rows.push(Row::info(
                    "P5 binary size",
                    format!(
                        "{}{}",
                        bytes(f.binary),
                        if f.release { "" } else { " (debug build)" }
                    ),
                ));
            }
            Err(e) => failed(&mut rows, "P5 footprint", e),
        }
    }

    let mut b0 = None;
    if args.wants("b0") {
        eprintln!("B0 baseline …");
        match ingest::baseline(load, args.perf.as_deref()).await {
            Ok(m) => {
                rows.push(Row::info(
                    format!("B0 bare axum 200, c={}", load.concurrency),
                    m.describe("req/s"),
                ));
                b0 = Some(m.t.per_second());
            }
            Err(e) => failed(&mut rows, "B0 baseline", e),
        }
    }
    if args.wants("p1") {
        let mut dbs: Vec<(&str, Option<&str>, bool)> = vec![
            ("P1 ingest SQLite", None, true),
            ("P1 ingest SQLite, workers off", None, false),
        ];
        if let Some(pg) = args.postgres.as_deref() {
            dbs.push(("P1 ingest PostgreSQL", Some(pg), true));
        }
        for (name, pg, workers) in dbs {
            eprintln!("{name} …");
            match ingest::ingest(load, pg, workers, args.perf.as_deref()).await {
                Ok(r) => {
                    let rate = r.m.t.per_second();
                    let ratio = b0.map(|b| rate / b);
                    let mut figure = r.m.describe("ev/s");
                    if let Some(x) = ratio {
                        figure = format!("{figure} = {x:.2} × B0");
                    }
                    if let Some(n) = r.processed {
                        figure.push_str(&format!("; {n} normalized by the end"));
                    }
                    if let Some((size, ms)) = r.batches {
                        figure.push_str(&format!("; commit batches {size:.1} × {ms:.2} ms"));
                    }
                    if workers {
                        rows.push(Row::new(
                            name,
                            figure,
                            "≥ 0.5 × B0",
                            ratio.is_some_and(|x| x >= 0.5),
                        ));
                    } else {
                        rows.push(Row::info(name, figure));
                    }
                }
                Err(e) => failed(&mut rows, name, e),
            }
        }
    }

    if args.wants("p2") {
        let rate = args.pick(args.rate, 2000, 200).max(1);
        let agents = args.pick(args.agents, 1000, 50).max(1);
        let mut points = vec![(rate, agents, true)];
        if !args.quick && !args.no_sweep {
            points.extend([
                (rate, 10.min(agents), false),
                (rate, 100.min(agents), false),
                ((rate / 10).max(1), agents, false),
                ((rate / 40).max(1), agents, false),
            ]);
        }
        let mut runs: Vec<(String, u64, usize, bool, realtime::Cluster<'_>)> = points
            .iter()
            .map(|&(rate, agents, judged)| {
                (
                    format!("P2 webhook → frame, {rate} ev/s × {agents} agents"),
                    rate,
                    agents,
                    judged,
                    realtime::Cluster::Single,
                )
            })
            .collect();
        match (args.postgres.as_deref(), args.redis.as_deref()) {
            (Some(postgres), Some(redis)) => {
                let cluster = realtime::Cluster::Shared {
                    postgres,
                    redis,
                    nodes: 2,
                };
                runs.push((
                    format!("P2 two nodes, {rate} ev/s × {agents} agents"),
                    rate,
                    agents,
                    true,
                    cluster,
                ));
                if !args.quick && !args.no_sweep {
                    let low = (rate / 40).max(1);
                    runs.push((
                        format!("P2 two nodes, {low} ev/s × {agents} agents"),
                        low,
                        agents,
                        false,
                        cluster,
                    ));
                }
            }
            (None, Some(_)) => eprintln!("--redis needs --postgres: P2 on two nodes skipped"),
            _ => {}
        }
        for (name, rate, agents, judged, cluster) in runs {
            eprintln!("{name} …");
            match realtime::end_to_end(rate, agents, duration, args.perf.as_deref(), cluster).await
            {
                Ok(r) => {
                    let figure = p2_figure(&r);
                    if judged {
                        let ok =
                            r.latency.p99 <= 10_000 && r.delivered() >= 0.999 && r.acked == r.sent;
                        rows.push(Row::new(name, figure, "p99 ≤ 10 ms, all frames", ok));
                    } else {
                        rows.push(Row::info(name, figure));
                    }
                }
                Err(e) => failed(&mut rows, &name, e),
            }
        }
    }

    if args.wants("p3") {
        let n = args.pick(args.sockets, 10_000, 1000).max(1);
        let name = format!("P3 idle websockets ({n})");
        eprintln!("{name} …");
        match realtime::idle_sockets(n).await {
            Ok(s) => {
                let per = s.per_socket();
                let mut figure = format!(
                    "{:.1} KiB/socket (server RSS {} → {}, {} sockets, {} fds)",
                    per / 1024.0,
                    bytes(s.before),
                    bytes(s.with),
                    s.opened,
                    s.fds
                );
                if let Some(note) = &s.note {
                    figure.push_str(&format!("; {note}"));
                }
                rows.push(Row::new(
                    name,
                    figure,
                    "≤ 8 KiB/socket",
                    per <= 8.0 * 1024.0 && s.opened == s.wanted,
                ));
            }
            Err(e) => failed(&mut rows, &name, e),
        }
    }

    if args.wants("p4") {
        let convs = args.pick(args.conversations, 100_000, 2000).max(1);
        let msgs = args.pick(args.messages, 1_000_000, 20_000);
        let requests = args.pick(args.requests, 500, 100).max(1);
        eprintln!("P4 inbox ({convs} conversations, {msgs} messages) …");
        match inbox::inbox(convs, msgs, requests).await {
            Ok(r) => {
                rows.push(Row::info(
                    "P4 seed",
                    format!(
                        "{} conversations, {} messages in {:.1} s; database {}",
                        r.conversations,
                        r.messages.max(r.conversations),
                        r.seed.as_secs_f64(),
                        bytes(r.db_bytes)
                    ),
                ));
                rows.push(Row::new(
                    format!(
                        "P4 GET conversations?status=open&channel=facebook&limit=50 ×{requests}"
                    ),
                    r.list.millis(),
                    "p99 ≤ 15 ms",
                    r.list.p99 <= 15_000,
                ));
                rows.push(Row::new(
                    format!("P4 GET conversations/{{random id}}/messages?limit=50 ×{requests}"),
                    format!("{} ({:.1} items/page)", r.thread.millis(), r.thread_items),
                    "p99 ≤ 15 ms",
                    r.thread.p99 <= 15_000,
                ));
            }
            Err(e) => failed(&mut rows, "P4 inbox", e),
        }
    }

    println!();
    print!("{}", render_table(&rows));
    println!("\nload average at the end: {}", load_average());
    Ok(())
}
