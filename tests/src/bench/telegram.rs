//! The Telegram scenario (issue #14): a gateway polls the fake Bot API (`fake_telegram`,
//! `channels.telegram.apiRoot`) with an instant fake model behind its agent; each inbound DM
//! (`dmPolicy: "open"`) is timed from the moment the fake queues the update to the moment the
//! reply's first `sendMessage` reaches it. The long poll is answered as soon as an update is queued,
//! so the time is the gateway's own: receive, record, run the agent over the instant model,
//! send. Also the memory of idle accounts: RSS with one account and with `IDLE_ACCOUNTS + 1`
//! (each polling), the difference per account. Both gateways get the same config.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::stats::{percentile, Better, Metric};
use super::target::{Kind, Launch, Target};
use crate::fake_model::{FakeApi, FakeModel};
use crate::fake_telegram::{FakeTelegram, TOKEN as BOT_TOKEN};

/// Start-up and the reference's first agent turn (it loads its agent runtime) take a while.
const FIRST: Duration = Duration::from_secs(180);
const STEP: Duration = Duration::from_secs(60);
/// Untimed turns first (warm-up).
const WARM_UP: usize = 3;
/// Extra idle accounts for the memory figure.
pub const IDLE_ACCOUNTS: usize = 10;

fn config(model: &FakeModel, tg: &FakeTelegram, extra_accounts: usize) -> String {
    let mut telegram = json!({"botToken": BOT_TOKEN, "apiRoot": tg.api_root(), "dmPolicy": "open", "allowFrom": ["*"]});
    if extra_accounts > 0 {
        let accounts: serde_json::Map<String, Value> = (0..extra_accounts)
            .map(|i| {
                let token = format!("{}:AAIdleBenchAccountToken{i:012}", 900_000 + i);
                tg.add_bot(&token, &format!("idle_{i}_bot"));
                (format!("idle{i}"), json!({"botToken": token}))
            })
            .collect();
        telegram["accounts"] = Value::Object(accounts);
    }
    json!({
        "models": { "providers": { "fake": { "baseUrl": model.base_url(), "apiKey": "sk-fake",
            "api": "openai-completions", "models": [{ "id": "echo-1", "name": "echo-1" }] } } },
        "agents": { "defaults": { "model": { "primary": "fake/echo-1" } } },
        "channels": { "telegram": telegram },
    })
    .to_string()
}

/// Waits until every one of `tokens` has long-polled at least once.
async fn polling(tg: &FakeTelegram, tokens: &[String]) -> anyhow::Result<()> {
    tg.wait_until(FIRST, |r| tokens.iter().all(|t| r.iter().any(|r| &r.token == t && r.method == "getUpdates")))
        .await
        .map(drop)
        .map_err(anyhow::Error::msg)
}

/// `turns` timed DMs (after the warm-up) against a fresh gateway of `kind`; then the idle
/// account memory.
pub async fn telegram(kind: Kind, launch: &Launch, turns: usize) -> anyhow::Result<Vec<Metric>> {
    let model = FakeModel::start(FakeApi::OpenAi, Vec::new()).await;
    let tg = FakeTelegram::start().await;
    let (t, _) = Target::start_configured(kind, launch, Some(&config(&model, &tg, 0))).await?;
    polling(&tg, &[BOT_TOKEN.to_owned()]).await?;
    let one_account = t.rss();
    let mut samples = Vec::with_capacity(turns);
    for i in 0..WARM_UP + turns {
        // The reply is the first sendMessage after the DM is queued: the reference's echo does
        // not repeat the user's text (its last user message is a context block), so replies
        // are counted, not matched.
        let text = format!("bench-{i}-end");
        let before = tg.bodies("sendMessage").len();
        let queued = Instant::now();
        tg.push_dm(4242, &text);
        let deadline = if i == 0 { FIRST } else { STEP };
        tg.wait_until(deadline, |r| r.iter().filter(|r| r.method == "sendMessage").count() > before)
            .await
            .map_err(|e| anyhow::anyhow!("{}: no reply to DM {i}: {e}", kind.label()))?;
        if i >= WARM_UP {
            samples.push(queued.elapsed());
        }
    }
    let mut out = vec![
        Metric::ms("telegram", "inbound update → sendMessage p50 (instant model)", percentile(&mut samples, 50.0)),
        Metric::ms("telegram", "inbound update → sendMessage p95 (instant model)", percentile(&mut samples, 95.0)),
    ];
    t.terminate().await?;

    // Idle accounts: the same gateway with IDLE_ACCOUNTS more bots, each polling.
    let tg = FakeTelegram::start().await;
    let config = config(&model, &tg, IDLE_ACCOUNTS);
    let (t, _) = Target::start_configured(kind, launch, Some(&config)).await?;
    let mut all = vec![BOT_TOKEN.to_owned()];
    all.extend((0..IDLE_ACCOUNTS).map(|i| format!("{}:AAIdleBenchAccountToken{i:012}", 900_000 + i)));
    polling(&tg, &all).await?;
    let many = t.rss();
    out.push(Metric::new("telegram", "RSS with 1 polling account", "MiB", one_account as f64 / (1024.0 * 1024.0), Better::Lower));
    out.push(Metric::new(
        "telegram",
        format!("RSS per idle polling account ({} vs 1)", IDLE_ACCOUNTS + 1),
        "KiB",
        many.saturating_sub(one_account) as f64 / 1024.0 / IDLE_ACCOUNTS as f64,
        Better::Lower,
    ));
    t.terminate().await?;
    Ok(out)
}
