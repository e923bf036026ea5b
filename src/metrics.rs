//! Prometheus metrics, kept by hand (a few counters and histograms do not need a crate).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const LATENCY_BUCKETS_MS: [f64; 9] = [1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0];
const SIZE_BUCKETS: [f64; 8] = [1.0, 2.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0];

#[derive(Default)]
struct Histogram {
    buckets: Vec<AtomicU64>,
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn new(n: usize) -> Self {
        Histogram {
            buckets: (0..n).map(|_| AtomicU64::new(0)).collect(),
            ..Default::default()
        }
    }
    fn observe(&self, bounds: &[f64], v: f64) {
        for (b, bound) in self.buckets.iter().zip(bounds) {
            if v <= *bound {
                b.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_micros
            .fetch_add((v * 1000.0) as u64, Ordering::Relaxed);
    }
    fn render(&self, out: &mut String, name: &str, bounds: &[f64]) {
        for (b, bound) in self.buckets.iter().zip(bounds) {
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{bound}\"}} {}",
                b.load(Ordering::Relaxed)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let _ = writeln!(
            out,
            "{name}_sum {}",
            self.sum_micros.load(Ordering::Relaxed) as f64 / 1000.0
        );
        let _ = writeln!(out, "{name}_count {count}");
    }
}

/// The node's metrics.
pub struct Metrics {
    webhooks: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    batch_size: Histogram,
    batch_latency: Histogram,
    events_processed: AtomicU64,
    events_failed: AtomicU64,
    jobs_done: AtomicU64,
    jobs_failed: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            webhooks: Mutex::new(BTreeMap::new()),
            batch_size: Histogram::new(SIZE_BUCKETS.len()),
            batch_latency: Histogram::new(LATENCY_BUCKETS_MS.len()),
            events_processed: AtomicU64::new(0),
            events_failed: AtomicU64::new(0),
            jobs_done: AtomicU64::new(0),
            jobs_failed: AtomicU64::new(0),
        }
    }
}

/// Gauges read at scrape time.
pub struct Gauges {
    /// Jobs waiting to run.
    pub jobs_pending: u64,
    /// Inbound events waiting to be normalized.
    pub events_pending: u64,
    /// Connected websocket clients.
    pub ws_clients: i64,
}

impl Metrics {
    /// Count a webhook by platform and outcome (`accepted`, `duplicate`, `rejected`, `error`, `handshake`).
    pub fn webhook(&self, platform: &'static str, outcome: &'static str) {
        *self
            .webhooks
            .lock()
            .expect("metrics lock")
            .entry((platform, outcome))
            .or_default() += 1;
    }
    /// Record one group-commit batch.
    pub fn ingest_batch(&self, size: usize, latency_ms: f64) {
        self.batch_size.observe(&SIZE_BUCKETS, size as f64);
        self.batch_latency.observe(&LATENCY_BUCKETS_MS, latency_ms);
    }
    /// Count normalized events.
    pub fn events(&self, processed: u64, failed: u64) {
        self.events_processed
            .fetch_add(processed, Ordering::Relaxed);
        self.events_failed.fetch_add(failed, Ordering::Relaxed);
    }
    /// Count a finished job.
    pub fn job(&self, ok: bool) {
        if ok {
            &self.jobs_done
        } else {
            &self.jobs_failed
        }
        .fetch_add(1, Ordering::Relaxed);
    }

    /// Prometheus text exposition.
    pub fn render(&self, g: &Gauges) -> String {
        let mut out = String::new();
        out.push_str("# HELP tongdai_webhooks_total Webhook requests by platform and outcome.\n# TYPE tongdai_webhooks_total counter\n");
        for ((platform, outcome), n) in self.webhooks.lock().expect("metrics lock").iter() {
            let _ = writeln!(
                out,
                "tongdai_webhooks_total{{platform=\"{platform}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP tongdai_ingest_batch_size Webhooks committed per group-commit batch.\n# TYPE tongdai_ingest_batch_size histogram\n");
        self.batch_size
            .render(&mut out, "tongdai_ingest_batch_size", &SIZE_BUCKETS);
        out.push_str("# HELP tongdai_ingest_batch_latency_ms Time to commit one batch, in milliseconds.\n# TYPE tongdai_ingest_batch_latency_ms histogram\n");
        self.batch_latency.render(
            &mut out,
            "tongdai_ingest_batch_latency_ms",
            &LATENCY_BUCKETS_MS,
        );
        let _ = writeln!(
            out,
            "# TYPE tongdai_events_processed_total counter\ntongdai_events_processed_total {}",
            self.events_processed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE tongdai_events_failed_total counter\ntongdai_events_failed_total {}",
            self.events_failed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE tongdai_jobs_done_total counter\ntongdai_jobs_done_total {}",
            self.jobs_done.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE tongdai_jobs_failed_total counter\ntongdai_jobs_failed_total {}",
            self.jobs_failed.load(Ordering::Relaxed)
        );
        let _ = writeln!(
            out,
            "# HELP tongdai_job_queue_depth Jobs waiting to run.\n# TYPE tongdai_job_queue_depth gauge\ntongdai_job_queue_depth {}",
            g.jobs_pending
        );
        let _ = writeln!(
            out,
            "# HELP tongdai_inbound_pending Inbound events waiting to be normalized.\n# TYPE tongdai_inbound_pending gauge\ntongdai_inbound_pending {}",
            g.events_pending
        );
        let _ = writeln!(
            out,
            "# HELP tongdai_websocket_clients Connected websocket clients on this node.\n# TYPE tongdai_websocket_clients gauge\ntongdai_websocket_clients {}",
            g.ws_clients
        );
        out
    }
}
