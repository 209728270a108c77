//! The agent soak (issue #11 §3): 10 connections run agent turns back to back over an instant
//! fake model (`fake_model`, OpenAI-compatible, echoing), and the gateway's RSS is read before
//! the first turn, after 1000 and at the end. Two shapes: turns spread over 50 sessions (the
//! transcripts grow) and a new session per turn. Ours only: the reference would need its own
//! model configuration, and its figures are not what the goal compares against.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::conn::{within, Conn, Identity};
use super::stats::{Better, Metric};
use super::target::{Kind, Launch, Target, TOKEN};
use crate::fake_model::{FakeApi, FakeModel};

const STEP: Duration = Duration::from_secs(60);
/// RSS is also read after this many turns (the warm-up).
const WARM_UP: usize = 1000;

/// Where the turns go.
#[derive(Clone, Copy, Debug)]
pub enum Sessions {
    /// `turn % n`: transcripts grow.
    Reuse(usize),
    /// A session key per turn.
    New,
}

impl Sessions {
    fn label(self) -> String {
        match self {
            Sessions::Reuse(n) => format!("reuse {n} sessions"),
            Sessions::New => "new session per turn".to_owned(),
        }
    }

    fn key(self, turn: usize) -> String {
        match self {
            Sessions::Reuse(n) => format!("agent:main:soak-{}", turn % n),
            Sessions::New => format!("agent:main:soak-new-{turn}"),
        }
    }
}

fn config(model: &FakeModel) -> String {
    format!(
        "{{ models: {{ providers: {{ fake: {{ baseUrl: '{}', apiKey: 'sk-fake', api: 'openai-completions' }} }} }},
           agents: {{ defaults: {{ model: 'fake/echo-1' }} }} }}",
        model.base_url()
    )
}

/// `turns` agent turns over `conns` connections against a fresh gateway.
pub async fn soak(launch: &Launch, conns: usize, turns: usize, sessions: Sessions) -> anyhow::Result<Vec<Metric>> {
    let model = FakeModel::start(FakeApi::OpenAi, Vec::new()).await;
    let (t, _) = Target::start_configured(Kind::Ours, launch, Some(&config(&model))).await?;
    let who = Identity::cli(TOKEN, &["operator.admin"]);
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        clients.push(within(STEP, Conn::connect(t.port, &who)).await?);
    }
    let before = t.rss();
    let t = Arc::new(t);
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let warm = Arc::new(std::sync::Mutex::new(None));
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for mut conn in clients {
        let (t, next, done, warm) = (Arc::clone(&t), Arc::clone(&next), Arc::clone(&done), Arc::clone(&warm));
        workers.spawn(async move {
            loop {
                let turn = next.fetch_add(1, Ordering::Relaxed);
                if turn >= turns {
                    return anyhow::Ok(());
                }
                let params = json!({
                    "message": format!("soak turn {turn}: say something back"),
                    "sessionKey": sessions.key(turn),
                    "idempotencyKey": format!("soak-{turn}"),
                });
                let id = conn.send("agent", &params).await?;
                let accepted = within(STEP, conn.response(&id)).await?;
                anyhow::ensure!(accepted["ok"] == true, "agent refused: {accepted}");
                let last = within(STEP, conn.response(&id)).await?;
                anyhow::ensure!(last["ok"] == true, "agent turn failed: {last}");
                if done.fetch_add(1, Ordering::AcqRel) + 1 == WARM_UP.min(turns) {
                    *warm.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(t.rss());
                }
            }
        });
    }
    while let Some(worker) = workers.join_next().await {
        worker??;
    }
    let rate = turns as f64 / started.elapsed().as_secs_f64();
    let after = t.rss();
    let warm = warm.lock().unwrap_or_else(std::sync::PoisonError::into_inner).unwrap_or(after);
    let label = sessions.label();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    Ok(vec![
        Metric::new("agent soak", format!("{label}: RSS before"), "MiB", mib(before), Better::Lower),
        Metric::new("agent soak", format!("{label}: RSS after {}", WARM_UP.min(turns)), "MiB", mib(warm), Better::Lower),
        Metric::new("agent soak", format!("{label}: RSS after {turns}"), "MiB", mib(after), Better::Lower),
        Metric::new("agent soak", format!("{label}: growth over {turns} turns"), "MiB", mib(after.saturating_sub(before)), Better::Lower),
        Metric::new("agent soak", format!("{label}: turns"), "/s", rate, Better::Higher),
    ])
}
