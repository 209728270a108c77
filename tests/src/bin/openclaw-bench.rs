//! Benchmark harness: `cargo run --release -p openclaw-tests --bin openclaw-bench -- --help`.

use std::path::PathBuf;
use std::process::Command;

use clap::Parser;
use openclaw_tests::bench::report::{render, Header};
use openclaw_tests::bench::scenarios::Scale;
use openclaw_tests::bench::target::{Kind, Launch};
use openclaw_tests::bench::{run, Plan};

/// Drives our gateway and the reference over loopback with the same scenarios and writes the
/// medians side by side.
#[derive(Parser, Debug)]
#[command(name = "openclaw-bench")]
struct Args {
    /// Tiny counts, ours only, one run: proves the harness works (CI runs this).
    #[arg(long)]
    smoke: bool,
    /// Which gateways to measure.
    #[arg(long, value_enum, default_value = "both")]
    target: Which,
    /// Runs per gateway; the report shows medians.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Our binary (build it first: `cargo build --release -p openclaw-cli`).
    #[arg(long, default_value = "target/release/openclaw")]
    ours_bin: PathBuf,
    /// The reference runner script.
    #[arg(long, default_value = "scripts/openclaw-peer")]
    peer: PathBuf,
    /// Where to write the report (omit to print only).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Only these scenarios (repeatable): startup, handshake, rpc, fanout, memory,
    /// slow-consumer, shutdown, soak, openai (`/v1/chat/completions` overhead over the model),
    /// telegram (inbound update → reply `sendMessage` over an instant model; idle account RSS).
    #[arg(long = "only")]
    only: Vec<String>,
    /// Idle-connection counts for the memory scenario (comma-separated), e.g. 1000,5000.
    #[arg(long, value_delimiter = ',')]
    idle: Vec<usize>,
    /// Agent turns per soak shape (default 6000; smoke 40).
    #[arg(long)]
    soak_turns: Option<usize>,
}

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Which {
    Ours,
    Reference,
    Both,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let kinds = match (args.smoke, args.target) {
        (true, _) | (false, Which::Ours) => vec![Kind::Ours],
        (false, Which::Reference) => vec![Kind::Reference],
        (false, Which::Both) => vec![Kind::Ours, Kind::Reference],
    };
    let peer_home = Command::new(&args.peer).arg("where").output().ok().and_then(|o| {
        o.status.success().then(|| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    });
    let plan = Plan {
        kinds,
        runs: if args.smoke { 1 } else { args.runs.max(1) },
        scale: {
            let mut scale = if args.smoke { Scale::smoke() } else { Scale::full() };
            if !args.idle.is_empty() {
                scale.idle = args.idle.clone();
            }
            if let Some(turns) = args.soak_turns {
                scale.soak_turns = turns;
            }
            scale
        },
        launch: Launch { ours_bin: args.ours_bin.clone(), peer: args.peer.clone(), peer_home },
        out: args.out.clone(),
        only: args.only.clone(),
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let results = rt.block_on(run(&plan))?;
    let ours = results.iter().find(|(k, _)| *k == Kind::Ours).map(|(_, m)| m.as_slice());
    let reference = results.iter().find(|(k, _)| *k == Kind::Reference).map(|(_, m)| m.as_slice());
    let header = Header {
        machine: machine(),
        ours_version: version(Command::new(&args.ours_bin).arg("--version")),
        reference_version: format!("openclaw {}", version(Command::new(&args.peer).args(["cli", "--version"]))),
        command: std::env::args().collect::<Vec<_>>().join(" "),
        runs: plan.runs,
        date: version(Command::new("date").arg("-u").arg("+%Y-%m-%d %H:%M UTC")),
    };
    let text = render(&header, ours.or(reference).unwrap_or_default(), reference.filter(|_| ours.is_some()));
    match &plan.out {
        Some(path) => std::fs::write(path, &text)?,
        None => print!("{text}"),
    }
    Ok(())
}

fn version(cmd: &mut Command) -> String {
    cmd.output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("model name").map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let mem = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        .unwrap_or_default();
    format!("{cpu}, {cores} cores, {mem} RAM, {}", version(Command::new("uname").arg("-sr")))
}
