//! The benchmark scenarios. Each is bounded in count and time and returns its metrics; any
//! step that hangs fails the scenario instead of the run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc;

use super::conn::{within, Closed, Conn, Identity};
use super::stats::{percentile, Better, Metric};
use super::target::{Target, TOKEN};

/// How big each scenario is.
#[derive(Clone, Debug)]
pub struct Scale {
    pub handshakes_c1: usize,
    pub handshakes_c32: usize,
    pub rpc_per_conn: usize,
    pub pipelined: usize,
    pub fanout: Vec<usize>,
    pub fanout_rounds: usize,
    pub idle: Vec<usize>,
    pub slow_healthy: usize,
    pub slow_requests: usize,
    pub shutdown_clients: usize,
    /// Agent soak: connections and turns (each shape).
    pub soak_conns: usize,
    pub soak_turns: usize,
    /// `/v1/chat/completions` overhead: measured requests per mode.
    pub openai_requests: usize,
    /// Telegram: timed inbound DMs.
    pub telegram_turns: usize,
}

impl Scale {
    /// The recorded benchmark.
    pub fn full() -> Self {
        Self {
            handshakes_c1: 300,
            handshakes_c32: 1_600,
            rpc_per_conn: 300,
            pipelined: 20_000,
            fanout: vec![100, 1_000, 5_000],
            fanout_rounds: 20,
            // 20 000 was asked for; this sandbox caps open files at 20 000 per process (hard
            // limit, not raisable), and the gateway needs a few descriptors besides its sockets.
            idle: vec![1_000, 5_000, 19_000],
            slow_healthy: 1_000,
            // ~60 KiB answers: 1600 of them (≈ 94 MiB) exceed the 50 MiB outbound cap with room
            // for the kernel's socket buffers.
            slow_requests: 1_600,
            shutdown_clients: 1_000,
            soak_conns: 10,
            soak_turns: 6_000,
            openai_requests: 200,
            telegram_turns: 200,
        }
    }

    /// A few of everything: keeps the harness from rotting (runs in CI).
    pub fn smoke() -> Self {
        Self {
            handshakes_c1: 5,
            handshakes_c32: 64,
            rpc_per_conn: 20,
            pipelined: 200,
            fanout: vec![10],
            fanout_rounds: 3,
            idle: vec![50],
            slow_healthy: 10,
            // 1600 answers of ~60 KiB (≈ 94 MiB) exceed the 50 MiB outbound cap even after the
            // kernel's loopback socket buffers (several MiB each way) have absorbed their share.
            slow_requests: 1_600,
            shutdown_clients: 20,
            soak_conns: 2,
            soak_turns: 40,
            openai_requests: 5,
            telegram_turns: 5,
        }
    }
}

const STEP: Duration = Duration::from_secs(60);

fn reader() -> Identity {
    Identity::cli(TOKEN, &["operator.read"])
}

fn admin() -> Identity {
    Identity::cli(TOKEN, &["operator.admin"])
}

/// Opens `n` authenticated connections, 32 at a time.
pub async fn connect_many(port: u16, n: usize, who: &Identity) -> anyhow::Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    let mut pending = tokio::task::JoinSet::new();
    let mut started = 0;
    while conns.len() < n {
        while started < n && pending.len() < 32 {
            let who = who.clone();
            pending.spawn(async move { within(STEP, Conn::connect(port, &who)).await });
            started += 1;
        }
        match pending.join_next().await {
            Some(done) => conns.push(done??),
            None => break,
        }
    }
    Ok(conns)
}

/// Handshake latency at c=1 and rate at c=32.
pub async fn handshakes(t: &Target, scale: &Scale) -> anyhow::Result<Vec<Metric>> {
    let mut lat = Vec::with_capacity(scale.handshakes_c1);
    for _ in 0..scale.handshakes_c1 {
        let start = Instant::now();
        let c = within(STEP, Conn::connect(t.port, &reader())).await?;
        lat.push(start.elapsed());
        drop(c);
    }
    let start = Instant::now();
    let per_worker = scale.handshakes_c32 / 32;
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..32 {
        let port = t.port;
        workers.spawn(async move {
            for _ in 0..per_worker {
                let c = within(STEP, Conn::connect(port, &reader())).await?;
                drop(c);
            }
            anyhow::Ok(())
        });
    }
    while let Some(done) = workers.join_next().await {
        done??;
    }
    let rate = (per_worker * 32) as f64 / start.elapsed().as_secs_f64();
    Ok(vec![
        Metric::ms("handshake", "latency c=1 p50", percentile(&mut lat, 50.0)),
        Metric::ms("handshake", "latency c=1 p99", percentile(&mut lat, 99.0)),
        Metric::new("handshake", "rate c=32", "/s", rate, Better::Higher),
    ])
}

/// `health` and `status` throughput and latency at c=1, 16, 64 and pipelined.
pub async fn rpc(t: &Target, scale: &Scale) -> anyhow::Result<Vec<Metric>> {
    let mut out = Vec::new();
    for method in ["health", "status"] {
        for c in [1usize, 16, 64] {
            let conns = connect_many(t.port, c, &reader()).await?;
            let start = Instant::now();
            let mut workers = tokio::task::JoinSet::new();
            for mut conn in conns {
                let n = scale.rpc_per_conn;
                workers.spawn(async move {
                    let mut lat = Vec::with_capacity(n);
                    for _ in 0..n {
                        let s = Instant::now();
                        within(STEP, conn.call(method, &json!({}))).await?;
                        lat.push(s.elapsed());
                    }
                    anyhow::Ok(lat)
                });
            }
            let mut lat = Vec::new();
            while let Some(done) = workers.join_next().await {
                lat.extend(done??);
            }
            let rate = lat.len() as f64 / start.elapsed().as_secs_f64();
            out.push(Metric::new("rpc", format!("{method} c={c}"), "/s", rate, Better::Higher));
            out.push(Metric::ms("rpc", format!("{method} c={c} p50"), percentile(&mut lat, 50.0)));
            out.push(Metric::ms("rpc", format!("{method} c={c} p99"), percentile(&mut lat, 99.0)));
        }
        let rate = pipelined(t.port, method, scale.pipelined).await?;
        out.push(Metric::new("rpc", format!("{method} pipelined (window 64)"), "/s", rate, Better::Higher));
    }
    Ok(out)
}

/// One connection, up to 64 requests in flight.
async fn pipelined(port: u16, method: &str, total: usize) -> anyhow::Result<f64> {
    let mut conn = within(STEP, Conn::connect(port, &reader())).await?;
    let start = Instant::now();
    let (mut sent, mut answered) = (0usize, 0usize);
    while answered < total {
        while sent < total && sent - answered < 64 {
            conn.send(method, &json!({})).await?;
            sent += 1;
        }
        let frame = within(STEP, conn.next()).await?;
        if frame["type"] == "res" {
            anyhow::ensure!(frame["ok"] == true, "{method} failed: {}", frame["error"]);
            answered += 1;
        }
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Listener tasks that report when each `presence` event arrives.
struct Listeners {
    arrivals: mpsc::UnboundedReceiver<(usize, Instant)>,
    tasks: tokio::task::JoinSet<()>,
}

fn listen(conns: Vec<Conn>) -> Listeners {
    let (tx, arrivals) = mpsc::unbounded_channel();
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let tx = tx.clone();
        tasks.spawn(async move {
            let mut round = 0;
            while let Ok(frame) = conn.next().await {
                if frame["event"] == "presence" {
                    let _ = tx.send((round, Instant::now()));
                    round += 1;
                }
            }
        });
    }
    Listeners { arrivals, tasks }
}

/// `system-event` from an admin broadcasting `presence` to `n` readers: the last receiver's
/// latency per round, and how many deliveries were missing.
async fn fanout_rounds(t: &Target, n: usize, rounds: usize, tag: &str) -> anyhow::Result<(Vec<Duration>, usize)> {
    // Listeners first: a connection nobody reads stops answering pings and is dropped after
    // two ping intervals, so the admin connects last and reads each answer.
    let mut ls = listen(connect_many(t.port, n, &reader()).await?);
    let mut admin_conn = within(STEP, Conn::connect(t.port, &admin())).await?;
    let mut last = Vec::with_capacity(rounds);
    let mut missing = 0;
    for round in 0..rounds {
        let sent = Instant::now();
        let id = admin_conn.send("system-event", &json!({ "text": format!("{tag} round {round}") })).await?;
        within(STEP, admin_conn.response(&id)).await?;
        let mut got = 0;
        let mut latest = sent;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while got < n {
            match tokio::time::timeout_at(deadline, ls.arrivals.recv()).await {
                Ok(Some((r, at))) if r == round => {
                    got += 1;
                    latest = latest.max(at);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        missing += n - got;
        last.push(latest - sent);
    }
    ls.tasks.abort_all();
    Ok((last, missing))
}

pub async fn fanout(t: &Target, scale: &Scale) -> anyhow::Result<Vec<Metric>> {
    let mut out = Vec::new();
    for &n in &scale.fanout {
        let (mut last, missing) = fanout_rounds(t, n, scale.fanout_rounds, &format!("fanout-{n}")).await?;
        out.push(Metric::ms("fanout", format!("{n} clients last receiver p50"), percentile(&mut last, 50.0)));
        out.push(Metric::ms("fanout", format!("{n} clients last receiver p99"), percentile(&mut last, 99.0)));
        out.push(Metric::new("fanout", format!("{n} clients missing"), "events", missing as f64, Better::Lower));
    }
    Ok(out)
}

/// Server RSS with no clients and per idle authenticated connection.
pub async fn idle_memory(t: &Target, scale: &Scale) -> anyhow::Result<Vec<Metric>> {
    let baseline = t.rss();
    let mut out = vec![Metric::new("memory", "idle RSS", "MiB", mib(baseline), Better::Lower)];
    for &n in &scale.idle {
        // Each connection is read from the moment it opens (so its keepalive pings are
        // answered) while the rest open, 32 handshakes at a time.
        let gate = Arc::new(tokio::sync::Semaphore::new(32));
        let (ready_tx, mut ready) = mpsc::unbounded_channel();
        let mut readers = tokio::task::JoinSet::new();
        for _ in 0..n {
            let (gate, ready_tx, port) = (Arc::clone(&gate), ready_tx.clone(), t.port);
            readers.spawn(async move {
                let permit = gate.acquire_owned().await;
                let conn = within(STEP, Conn::connect(port, &reader())).await;
                drop(permit);
                let ok = conn.is_ok();
                let _ = ready_tx.send(ok);
                if let Ok(mut conn) = conn {
                    while conn.next().await.is_ok() {}
                }
            });
        }
        for _ in 0..n {
            let ok = ready.recv().await.unwrap_or(false);
            anyhow::ensure!(ok, "an idle connection failed to open");
        }
        let with = t.rss();
        let per = with.saturating_sub(baseline) as f64 / n as f64 / 1024.0;
        out.push(Metric::new("memory", format!("RSS with {n} idle"), "MiB", mib(with), Better::Lower));
        out.push(Metric::new("memory", format!("per idle connection at {n}"), "KiB", per, Better::Lower));
        readers.abort_all();
    }
    Ok(out)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// One reader that never reads, flooding requests whose answers pile up, among healthy
/// readers whose fan-out latency is measured; the stalled one must be closed 1008.
pub async fn slow_consumer(t: &Target, scale: &Scale) -> anyhow::Result<Vec<Metric>> {
    let mut admin_conn = within(STEP, Conn::connect(t.port, &admin())).await?;
    // A 60 KiB presence row makes every `system-presence` answer large.
    let big = format!("slow-consumer-bench {}", "x".repeat(60 * 1024));
    within(STEP, admin_conn.call("system-event", &json!({ "text": big }))).await?;
    let rss_before = t.rss();
    let mut stalled = within(STEP, Conn::connect(t.port, &reader())).await?;
    let (mut before, _) = fanout_rounds(t, scale.slow_healthy, 5, "slow-before").await?;
    for _ in 0..scale.slow_requests {
        if stalled.send("system-presence", &json!({})).await.is_err() {
            break; // already closed by the server
        }
    }
    let (mut during, missing) = fanout_rounds(t, scale.slow_healthy, 5, "slow-during").await?;
    let rss_after = t.rss();
    // Now read: the queued answers, then the end. The server's 1008 close frame queues behind
    // everything unsent, so a reader this late usually finds the socket already terminated
    // after the close grace (as with the reference); either way the server disconnected it.
    let ended = tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            if let Err(e) = stalled.next().await {
                return Some(e.downcast::<Closed>().map(|c| c.code).unwrap_or(0));
            }
        }
    })
    .await
    .unwrap_or(None);
    Ok(vec![
        Metric::ms("slow consumer", "healthy last receiver p50 before", percentile(&mut before, 50.0)),
        Metric::ms("slow consumer", "healthy last receiver p50 during", percentile(&mut during, 50.0)),
        Metric::new("slow consumer", "healthy missing", "events", missing as f64, Better::Lower),
        Metric::new("slow consumer", "RSS growth", "MiB", mib(rss_after.saturating_sub(rss_before)), Better::Lower),
        Metric::new("slow consumer", "stalled disconnected", "yes=1", f64::from(u8::from(ended.is_some())), Better::Higher),
        Metric::new("slow consumer", "close code seen (0 = terminated)", "code", f64::from(ended.unwrap_or(0)), Better::Higher),
    ])
}

/// SIGTERM with `n` connected readers: time to exit, and how many saw `shutdown` then 1012.
pub async fn shutdown(t: Target, scale: &Scale) -> anyhow::Result<Vec<Metric>> {
    let n = scale.shutdown_clients;
    let conns = connect_many(t.port, n, &reader()).await?;
    let told = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in conns {
        let told = Arc::clone(&told);
        tasks.spawn(async move {
            let mut saw_shutdown = false;
            loop {
                match conn.next().await {
                    Ok(f) if f["event"] == "shutdown" => saw_shutdown = true,
                    Ok(_) => {}
                    Err(e) => {
                        let code = e.downcast_ref::<Closed>().map(|c| c.code);
                        if saw_shutdown && code == Some(1012) {
                            told.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        return;
                    }
                }
            }
        });
    }
    let (took, status) = t.terminate().await?;
    let _ = tokio::time::timeout(Duration::from_secs(10), async { while tasks.join_next().await.is_some() {} }).await;
    let told = told.load(std::sync::atomic::Ordering::Relaxed);
    Ok(vec![
        Metric::ms("shutdown", format!("SIGTERM to exit with {n} clients"), took),
        Metric::new("shutdown", format!("clients told (of {n})"), "clients", told as f64, Better::Higher),
        Metric::new("shutdown", "exit code 0", "yes=1", f64::from(u8::from(status.success())), Better::Higher),
    ])
}
