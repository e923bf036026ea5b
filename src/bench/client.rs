//! The load client: one keep-alive HTTP/1.1 connection per task (hyper's client connection
//! over a tokio socket, `TCP_NODELAY`), so N tasks are a pool of N connections. Closed-loop
//! load (each task sends its next request as soon as the previous answered) for the throughput
//! scenarios, and an open-loop sender at a fixed rate for the end-to-end one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use tongdai_connectors::facebook::{sandbox, signature_header};

/// The Page every generated webhook is addressed to.
pub const PAGE_ID: &str = "105000000000001";
/// The app secret the bench servers check signatures with.
pub const APP_SECRET: &str = "tongdai-bench-app-secret";
/// Size the generated webhook bodies are padded to.
pub const BODY_SIZE: usize = 1024;

/// One keep-alive HTTP/1.1 connection.
pub struct Conn {
    tx: SendRequest<Full<Bytes>>,
    host: String,
}

/// An answer: status, headers, body.
pub struct Answer {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

impl Conn {
    /// Connect to `addr`.
    pub async fn connect(addr: SocketAddr) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (tx, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Conn {
            tx,
            host: addr.to_string(),
        })
    }

    /// Send one request and read the whole answer.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> anyhow::Result<Answer> {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::HOST, &self.host);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body))?;
        self.tx.ready().await?;
        let res = self.tx.send_request(req).await?;
        let (parts, body) = res.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok(Answer {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }

    /// `GET path` with optional cookie.
    pub async fn get(&mut self, path: &str, cookie: Option<&str>) -> anyhow::Result<Answer> {
        let h: Vec<(&str, &str)> = cookie.map(|c| ("cookie", c)).into_iter().collect();
        self.send(Method::GET, path, &h, Bytes::new()).await
    }

    /// POST a signed Messenger webhook body.
    pub async fn post_webhook(&mut self, body: Bytes) -> anyhow::Result<StatusCode> {
        let sig = signature_header(APP_SECRET, &body);
        let a = self
            .send(
                Method::POST,
                "/webhooks/facebook",
                &[
                    ("content-type", "application/json"),
                    ("x-hub-signature-256", &sig),
                ],
                body,
            )
            .await?;
        Ok(a.status)
    }
}

/// A Messenger text webhook body of about [`BODY_SIZE`] bytes from customer `psid`; its text
/// carries the marker `[bench#<seq>#]` so the frame it produces can be recognised.
pub fn webhook_body(run: &str, seq: u64, psid: &str) -> Bytes {
    let ts = chrono::Utc::now().timestamp_millis();
    let mid = format!("m_bench_{run}_{seq}");
    let mut text = format!("[bench#{seq}#] Shop ơi, áo này còn size M không ạ? Giao về Đà Nẵng");
    let first = sandbox::messenger_text_body(PAGE_ID, psid, &mid, &text, ts);
    if first.len() < BODY_SIZE {
        const FILL: &str = " xin cam on shop nhieu nhe";
        let missing = BODY_SIZE - first.len();
        text.extend(FILL.chars().cycle().take(missing));
    }
    Bytes::from(sandbox::messenger_text_body(PAGE_ID, psid, &mid, &text, ts))
}

/// The customer (PSID) of event `seq` among `customers`.
pub fn psid(seq: u64, customers: u64) -> String {
    format!("71000{:011}", seq % customers.max(1))
}

/// What a closed-loop run measured.
#[derive(Debug, Clone, Copy)]
pub struct Throughput {
    /// 2xx answers in the measured window.
    pub ok: u64,
    /// Other answers or errors in the measured window.
    pub failed: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
}

impl Throughput {
    /// Successful requests per second.
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Closed loop: `concurrency` connections each POST signed webhooks back to back for
/// `warmup + duration`; only the last `duration` counts.
pub async fn closed_loop(
    addr: SocketAddr,
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    run: &str,
) -> anyhow::Result<Throughput> {
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let seq = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let end = start + warmup + duration;
    let mut tasks = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let mut conn = Conn::connect(addr).await?;
        let (ok, failed, seq, run) = (ok.clone(), failed.clone(), seq.clone(), run.to_owned());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < end {
                let n = seq.fetch_add(1, Ordering::Relaxed);
                let body = webhook_body(&run, n, &psid(n, 1000));
                let res = conn.post_webhook(body).await;
                let counted = Instant::now() >= start + warmup;
                match res {
                    Ok(s) if s.is_success() => {
                        if counted {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(_) => {
                        if counted {
                            failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(_) => {
                        failed.fetch_add(1, Ordering::Relaxed);
                        // A broken connection: reconnect, or give up when the server is gone.
                        match Conn::connect(addr).await {
                            Ok(c) => conn = c,
                            Err(_) => return,
                        }
                    }
                }
            }
        }));
    }
    let measured_from = start + warmup;
    tokio::time::sleep_until(measured_from.into()).await;
    let t0 = Instant::now();
    for t in tasks {
        let _ = t.await;
    }
    // Until the last in-flight request answered (those are counted too).
    let elapsed = t0.elapsed();
    Ok(Throughput {
        ok: ok.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        elapsed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_bodies_are_about_a_kilobyte_and_carry_the_marker() {
        let b = webhook_body("r1", 42, &psid(42, 10));
        assert!(
            (BODY_SIZE..BODY_SIZE + 64).contains(&b.len()),
            "{}",
            b.len()
        );
        let s = std::str::from_utf8(&b).unwrap();
        assert!(s.contains("[bench#42#]"));
        assert!(s.contains("m_bench_r1_42"));
        assert_eq!(psid(42, 10), "7100000000000002");
    }
}
