//! `openclaw-bench`: drives any protocol-v4 gateway over loopback — ours and the reference in
//! one run — and writes the figures side by side to `BENCHMARKS.md`.

pub mod conn;
pub mod openai;
pub mod report;
pub mod scenarios;
pub mod soak;
pub mod stats;
pub mod target;
pub mod telegram;

use std::path::PathBuf;

use scenarios::Scale;
use stats::{Better, Metric};
use target::{Kind, Launch, Target};

/// What to run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub kinds: Vec<Kind>,
    pub runs: usize,
    pub scale: Scale,
    pub launch: Launch,
    pub out: Option<PathBuf>,
    /// Run only these scenarios (empty = all): startup, handshake, rpc, fanout, memory,
    /// slow-consumer, shutdown, soak (ours only), openai, telegram.
    pub only: Vec<String>,
}

impl Plan {
    fn wants(&self, scenario: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == scenario)
    }
}

/// One full pass over every scenario against a fresh process of `kind`.
pub async fn run_once(kind: Kind, plan: &Plan) -> anyhow::Result<Vec<Metric>> {
    let mut out = Vec::new();
    if plan.wants("startup") {
        let (idle, started) = Target::start(kind, &plan.launch).await?;
        out.push(Metric::ms("startup", "spawn to first hello-ok", started));
        let (stopped, _) = idle.terminate().await?;
        out.push(Metric::ms("startup", "SIGTERM to exit (idle)", stopped));
        if kind == Kind::Ours {
            // The file as built (the release profile strips it).
            let bytes = std::fs::metadata(&plan.launch.ours_bin)?.len();
            out.push(Metric::new("startup", "release binary", "MiB", bytes as f64 / (1024.0 * 1024.0), Better::Lower));
        }
    }
    let scale = &plan.scale;
    if plan.wants("memory") {
        // A fresh process: after other scenarios the allocator keeps freed memory, which
        // would hide the per-connection cost.
        let (fresh, _) = Target::start(kind, &plan.launch).await?;
        out.extend(scenarios::idle_memory(&fresh, scale).await?);
    }
    let (t, _) = Target::start(kind, &plan.launch).await?;
    if plan.wants("handshake") {
        out.extend(scenarios::handshakes(&t, scale).await?);
    }
    if plan.wants("rpc") {
        out.extend(scenarios::rpc(&t, scale).await?);
    }
    if plan.wants("fanout") {
        out.extend(scenarios::fanout(&t, scale).await?);
    }
    if plan.wants("slow-consumer") {
        out.extend(scenarios::slow_consumer(&t, scale).await?);
    }
    if plan.wants("shutdown") {
        out.extend(scenarios::shutdown(t, scale).await?);
    }
    if plan.wants("telegram") {
        out.extend(telegram::telegram(kind, &plan.launch, scale.telegram_turns).await?);
    }
    if plan.wants("openai") {
        out.extend(openai::chat_completions(kind, &plan.launch, scale.openai_requests).await?);
    }
    if plan.wants("soak") && kind == Kind::Ours {
        for sessions in [soak::Sessions::Reuse(50), soak::Sessions::New] {
            out.extend(soak::soak(&plan.launch, scale.soak_conns, scale.soak_turns, sessions).await?);
        }
    }
    Ok(out)
}

/// Runs the plan; returns the medians per kind. Runs of the kinds are interleaved (ours 1,
/// reference 1, ours 2, …) so that whatever else the machine does weighs on both alike.
pub async fn run(plan: &Plan) -> anyhow::Result<Vec<(Kind, Vec<Metric>)>> {
    target::raise_fd_limit();
    let mut runs: Vec<Vec<Vec<Metric>>> = vec![Vec::new(); plan.kinds.len()];
    for i in 0..plan.runs {
        for (k, &kind) in plan.kinds.iter().enumerate() {
            eprintln!("bench: {} run {}/{}", kind.label(), i + 1, plan.runs);
            runs[k].push(run_once(kind, plan).await?);
        }
    }
    Ok(plan.kinds.iter().zip(runs).map(|(&kind, r)| (kind, report::medians(&r))).collect())
}
