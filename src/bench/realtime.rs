//! P2 (webhook → `message.created` on every agent socket, open loop at a fixed rate) and P3
//! (resident memory of idle authenticated sockets).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::client::{self, Conn, PAGE_ID};
use super::server::{
    Perf, PgSchema, Proc, Session, TempDir, batch_stats_of, connect_page, login, user_add,
};
use super::stats::Summary;
use super::ws::{CLOSE, TEXT, WsClient, marker};

/// Agent users the sockets are spread over (each socket signs in as one of them).
const AGENT_USERS: usize = 10;
/// Customers writing in; each has one conversation.
const CUSTOMERS: u64 = 1000;
/// Webhook connections of the open-loop sender.
const SENDERS: usize = 32;

/// Open `n` sockets, `parallel` handshakes at a time, each past its `hello`.
async fn open_sockets(
    addr: SocketAddr,
    sessions: &[Session],
    n: usize,
    capacity: usize,
    parallel: usize,
) -> anyhow::Result<Vec<WsClient>> {
    let sem = Arc::new(Semaphore::new(parallel));
    let mut set = JoinSet::new();
    for i in 0..n {
        let cookie = sessions[i % sessions.len()].cookie.clone();
        let permit = sem.clone().acquire_owned().await?;
        set.spawn(async move {
            let _permit = permit;
            let mut ws = WsClient::connect(addr, &cookie, capacity).await?;
            ws.hello().await?;
            anyhow::Ok(ws)
        });
    }
    let mut out = Vec::with_capacity(n);
    while let Some(r) = set.join_next().await {
        out.push(r??);
    }
    Ok(out)
}

/// What one P2 point measured.
#[derive(Debug, Clone)]
pub struct EndToEnd {
    /// Target webhook rate (events/s).
    pub rate: u64,
    /// Agent sockets.
    pub agents: usize,
    /// Server processes.
    pub nodes: usize,
    /// Webhooks sent in the measured window.
    pub sent: u64,
    /// Of which answered 200.
    pub acked: u64,
    /// `message.created` frames expected on all sockets (acked × agents).
    pub expected: u64,
    /// Matching frames received.
    pub received: u64,
    /// Matching frames received per second, from the start of the load to the last frame.
    pub frames_per_second: f64,
    /// `resync` frames received (a socket fell too far behind).
    pub resyncs: u64,
    /// Webhook → frame latency over the frames received (µs).
    pub latency: Summary,
    /// Webhook → 200 latency (µs).
    pub ack: Summary,
    /// Achieved send rate (events/s).
    pub achieved_rate: f64,
    /// Server CPU seconds per wall second during the measured window (all nodes).
    pub server_cpu: f64,
    /// The same, per node.
    pub node_cpu: Vec<f64>,
    /// Bench CPU seconds per wall second during the measured window.
    pub client_cpu: f64,
    /// Mean webhooks per group-commit batch and mean ms per batch, over the whole run.
    pub batches: Option<(f64, f64)>,
}

impl EndToEnd {
    /// Share of the expected frames that arrived.
    pub fn delivered(&self) -> f64 {
        if self.expected == 0 {
            0.0
        } else {
            self.received as f64 / self.expected as f64
        }
    }
}

struct SocketStats {
    latencies: Vec<u64>,
    resyncs: u64,
}

/// Where P2 runs.
#[derive(Debug, Clone, Copy)]
pub enum Cluster<'a> {
    /// One `tongdai serve` on a SQLite file, its bus in process.
    Single,
    /// `nodes` processes of `tongdai serve` on one PostgreSQL schema and one Redis: webhooks go
    /// to the nodes in turn, and the agents' sockets are split evenly over them.
    Shared {
        /// PostgreSQL URL (a fresh schema is made in it and dropped afterwards).
        postgres: &'a str,
        /// Redis URL (the realtime bus between the nodes).
        redis: &'a str,
        /// How many server processes.
        nodes: usize,
    },
}

/// P2 at `rate` events/s with `agents` sockets for `duration`.
pub async fn end_to_end(
    rate: u64,
    agents: usize,
    duration: Duration,
    perf: Option<&Path>,
    cluster: Cluster<'_>,
) -> anyhow::Result<EndToEnd> {
    let dir = TempDir::new("p2")?;
    let (schema, nodes, redis) = match cluster {
        Cluster::Single => (None, 1, None),
        Cluster::Shared {
            postgres,
            redis,
            nodes,
        } => (
            Some(PgSchema::create(postgres).await?),
            nodes.max(1),
            Some(redis),
        ),
    };
    let db_url = match &schema {
        None => dir.sqlite_url(),
        Some(s) => s.url.clone(),
    };
    let r = async {
        // The first `user add` also creates the tables, before any server starts.
        user_add(&dir.0, &db_url, "owner@bench.tongdai.vn", "owner").await?;
        let users = AGENT_USERS.min(agents.max(1));
        for i in 0..users {
            user_add(
                &dir.0,
                &db_url,
                &format!("agent{i}@bench.tongdai.vn"),
                "agent",
            )
            .await?;
        }
        let mut dirs = Vec::new();
        let mut procs = Vec::new();
        for i in 0..nodes {
            let d = TempDir::new(&format!("p2-node{i}"))?;
            procs.push(Proc::serve_node(&d.0, &db_url, true, redis).await?);
            dirs.push(d);
        }
        let r = async {
            for p in procs.iter_mut() {
                p.wait_ready("/readyz", Duration::from_secs(30)).await?;
            }
            let first = procs[0].addr;
            let owner = login(first, "owner@bench.tongdai.vn").await?;
            connect_page(first, &owner, PAGE_ID).await?;
            // Sessions live in the database: each works on every node.
            let mut sessions = Vec::new();
            for i in 0..users {
                sessions.push(login(first, &format!("agent{i}@bench.tongdai.vn")).await?);
            }
            warm_up(first, &owner).await?;
            let mut sockets = Vec::with_capacity(agents);
            for (i, p) in procs.iter().enumerate() {
                let share = agents / nodes + usize::from(i < agents % nodes);
                sockets.extend(open_sockets(p.addr, &sessions, share, 64 * 1024, 64).await?);
            }
            let tag = match cluster {
                Cluster::Single => format!("p2-{rate}x{agents}"),
                Cluster::Shared { .. } => format!("p2-{nodes}nodes-{rate}x{agents}"),
            };
            let recs: Vec<Perf> = procs
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let name = if nodes == 1 {
                        tag.clone()
                    } else {
                        format!("{tag}-node{i}")
                    };
                    Perf::start(perf, p.pid, &name)
                })
                .collect();
            let r = run_point(&procs, sockets, rate, duration).await;
            for rec in recs {
                rec.stop().await;
            }
            let mut r = r?;
            let addrs: Vec<SocketAddr> = procs.iter().map(|p| p.addr).collect();
            r.batches = batch_stats_of(&addrs).await;
            anyhow::Ok(r)
        }
        .await;
        for p in procs {
            p.stop().await;
        }
        drop(dirs);
        r
    }
    .await;
    if let Some(s) = schema {
        s.drop_schema().await;
    }
    r
}

/// Give every customer a conversation first (as in a live inbox), and wait until the ingest
/// worker has published the last of those messages.
async fn warm_up(addr: SocketAddr, owner: &Session) -> anyhow::Result<()> {
    let mut probe = WsClient::connect(addr, &owner.cookie, 64 * 1024).await?;
    probe.hello().await?;
    let mut conns = Vec::new();
    for _ in 0..16 {
        conns.push(Conn::connect(addr).await?);
    }
    let mut set = JoinSet::new();
    for (i, mut c) in conns.into_iter().enumerate() {
        set.spawn(async move {
            let mut seq = i as u64;
            while seq < CUSTOMERS {
                let body = client::webhook_body("warm", seq, &client::psid(seq, CUSTOMERS));
                let s = c.post_webhook(body).await?;
                anyhow::ensure!(s.is_success(), "warm-up webhook answered {s}");
                seq += 16;
            }
            anyhow::Ok(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while seen < CUSTOMERS {
        let f = tokio::time::timeout_at(deadline.into(), probe.next())
            .await
            .context("warm-up messages were not all published within 60 s")??;
        match f {
            Some((TEXT, r)) if marker(probe.payload(r.clone())).is_some() => seen += 1,
            Some((CLOSE, _)) | None => anyhow::bail!("probe socket closed during warm-up"),
            _ => {}
        }
    }
    Ok(())
}

async fn run_point(
    nodes: &[Proc],
    sockets: Vec<WsClient>,
    rate: u64,
    duration: Duration,
) -> anyhow::Result<EndToEnd> {
    let agents = sockets.len();
    let n = (rate as f64 * duration.as_secs_f64()).round() as u64;
    let base: u64 = 1_000_000; // measured sequence numbers start here (warm-up used 0..)
    let t0 = Instant::now() + Duration::from_millis(200);
    let period_ns = 1e9 / rate as f64;
    let scheduled_ns = move |seq: u64| ((seq - base) as f64 * period_ns) as u64;
    let stop = CancellationToken::new();
    let received = Arc::new(AtomicU64::new(0));
    // When the last measured frame arrived (ns after t0), for the delivered frames per second.
    let last_arrival = Arc::new(AtomicU64::new(0));

    // Agent sockets: every frame carrying a measured marker gives one latency sample.
    let mut readers = JoinSet::new();
    for mut ws in sockets {
        let (stop, received, last_arrival) = (stop.clone(), received.clone(), last_arrival.clone());
        readers.spawn(async move {
            let mut st = SocketStats {
                latencies: Vec::with_capacity((n as usize).min(4096)),
                resyncs: 0,
            };
            loop {
                let f = tokio::select! {
                    _ = stop.cancelled() => break,
                    f = ws.next() => f,
                };
                match f {
                    Ok(Some((TEXT, r))) => {
                        let payload = ws.payload(r);
                        if let Some(seq) = marker(payload) {
                            if seq >= base {
                                let now = t0.elapsed().as_nanos() as u64;
                                st.latencies
                                    .push(now.saturating_sub(scheduled_ns(seq)) / 1000);
                                received.fetch_add(1, Ordering::Relaxed);
                                last_arrival.fetch_max(now, Ordering::Relaxed);
                            }
                        } else if payload.starts_with(br#"{"type":"resync""#) {
                            st.resyncs += 1;
                        }
                    }
                    Ok(Some((CLOSE, _))) | Ok(None) | Err(_) => break,
                    Ok(Some(_)) => {}
                }
            }
            st
        });
    }

    // Webhook senders, each with its own keep-alive connection and queue.
    let acked = Arc::new(AtomicU64::new(0));
    let ack = Arc::new(std::sync::Mutex::new(Vec::with_capacity(n as usize)));
    let mut queues = Vec::new();
    let mut senders = JoinSet::new();
    for i in 0..SENDERS {
        let (tx, mut rx) = mpsc::unbounded_channel::<u64>();
        queues.push(tx);
        // Event `seq` goes to sender `seq % SENDERS`, so consecutive events alternate nodes.
        let mut c = Conn::connect(nodes[i % nodes.len()].addr).await?;
        let (acked, ack) = (acked.clone(), ack.clone());
        senders.spawn(async move {
            while let Some(seq) = rx.recv().await {
                let body = client::webhook_body("e2e", seq, &client::psid(seq, CUSTOMERS));
                if let Ok(s) = c.post_webhook(body).await
                    && s.is_success()
                {
                    acked.fetch_add(1, Ordering::Relaxed);
                }
                let now = t0.elapsed().as_nanos() as u64;
                ack.lock()
                    .expect("ack samples")
                    .push(now.saturating_sub(scheduled_ns(seq)) / 1000);
            }
        });
    }

    // Open loop: a 1 ms tick releases every event whose scheduled time has come.
    let node_cpu = || nodes.iter().map(Proc::cpu_time).collect::<Vec<_>>();
    let cpu0 = (node_cpu(), super::server::cpu_time(std::process::id()));
    tokio::time::sleep_until(t0.into()).await;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut next = 0u64;
    while next < n {
        tick.tick().await;
        let due = ((t0.elapsed().as_nanos() as f64 / period_ns) as u64 + 1).min(n);
        while next < due {
            let _ = queues[(next % SENDERS as u64) as usize].send(base + next);
            next += 1;
        }
    }
    let send_wall = t0.elapsed();
    drop(queues);
    // An overloaded server answers late: wait for the answers at most 30 s, then give up on
    // the rest (they count as not acknowledged).
    let acks_by = Instant::now() + Duration::from_secs(30);
    while let Ok(Some(r)) = tokio::time::timeout_at(acks_by.into(), senders.join_next()).await {
        r?;
    }
    senders.abort_all();
    let mut ack = std::mem::take(&mut *ack.lock().expect("ack samples"));
    let cpu1 = (node_cpu(), super::server::cpu_time(std::process::id()));
    let wall = t0.elapsed().as_secs_f64();

    // Wait for the frames still on their way: until all arrived, or 3 s without progress.
    let expected = acked.load(Ordering::Relaxed) * agents as u64;
    let mut last = (received.load(Ordering::Relaxed), Instant::now());
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        let now = received.load(Ordering::Relaxed);
        if now >= expected || Instant::now() > give_up {
            break;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    let mut latencies = Vec::new();
    let mut resyncs = 0;
    while let Some(r) = readers.join_next().await {
        let st = r?;
        resyncs += st.resyncs;
        latencies.extend(st.latencies);
    }
    let node_cpu: Vec<f64> = cpu1
        .0
        .iter()
        .zip(&cpu0.0)
        .map(|(b, a)| (*b - *a).as_secs_f64() / wall)
        .collect();
    let received = latencies.len() as u64;
    let delivery_secs = Duration::from_nanos(last_arrival.load(Ordering::Relaxed)).as_secs_f64();
    Ok(EndToEnd {
        rate,
        agents,
        nodes: nodes.len(),
        sent: n,
        acked: acked.load(Ordering::Relaxed),
        expected,
        received,
        frames_per_second: if delivery_secs > 0.0 {
            received as f64 / delivery_secs
        } else {
            0.0
        },
        resyncs,
        latency: Summary::of(&mut latencies),
        ack: Summary::of(&mut ack),
        achieved_rate: n as f64 / send_wall.as_secs_f64(),
        server_cpu: node_cpu.iter().sum(),
        node_cpu,
        client_cpu: (cpu1.1 - cpu0.1).as_secs_f64() / wall,
        batches: None,
    })
}

/// What P3 measured.
#[derive(Debug, Clone)]
pub struct Sockets {
    /// Sockets asked for.
    pub wanted: usize,
    /// Sockets opened (past `hello`).
    pub opened: usize,
    /// Server RSS before (bytes).
    pub before: u64,
    /// Server RSS with the sockets open (bytes).
    pub with: u64,
    /// Server file descriptors with the sockets open.
    pub fds: usize,
    /// Why fewer than wanted were opened.
    pub note: Option<String>,
}

impl Sockets {
    /// Bytes per socket.
    pub fn per_socket(&self) -> f64 {
        self.with.saturating_sub(self.before) as f64 / self.opened.max(1) as f64
    }
}

/// P3: `wanted` idle authenticated sockets on a separate server process.
pub async fn idle_sockets(wanted: usize) -> anyhow::Result<Sockets> {
    let dir = TempDir::new("p3")?;
    let db_url = dir.sqlite_url();
    user_add(&dir.0, &db_url, "agent@bench.tongdai.vn", "agent").await?;
    let mut p = Proc::serve(&dir.0, &db_url, true).await?;
    let r = async {
        p.wait_ready("/readyz", Duration::from_secs(30)).await?;
        let s = login(p.addr, "agent@bench.tongdai.vn").await?;
        // One socket first, so one-time allocations (the workspace's bus topic, the first
        // session lookup) are not charged to the 10,000.
        let first = open_sockets(p.addr, std::slice::from_ref(&s), 1, 4096, 1).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let before = p.rss()?;
        let mut held = Vec::with_capacity(wanted);
        let mut note = None;
        // In batches, so a file-descriptor limit shows as a count instead of a failure.
        while held.len() < wanted {
            let batch = (wanted - held.len()).min(1000);
            match open_sockets(p.addr, std::slice::from_ref(&s), batch, 4096, 100).await {
                Ok(v) => held.extend(v),
                Err(e) => {
                    note = Some(format!("stopped at {} sockets: {e:#}", held.len()));
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(3)).await;
        let with = p.rss()?;
        let fds = p.fds();
        let opened = held.len();
        drop(held);
        drop(first);
        anyhow::Ok(Sockets {
            wanted,
            opened,
            before,
            with,
            fds,
            note,
        })
    }
    .await;
    p.stop().await;
    r
}
