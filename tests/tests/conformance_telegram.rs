//! Telegram against the reference gateway (openclaw 2026.9.6, `openclaw-peer gateway run`) and
//! ours, each in front of its own fake Bot API (`channels.telegram.apiRoot`): the same scenario
//! (start-up, then an unknown DM under the default `dmPolicy: "pairing"`), compared on
//! - the start-up sequence: the Bot API methods called up to the first `getUpdates`, and the
//!   `deleteWebhook` / `deleteMyCommands` bodies;
//! - the pairing reply: its text with the 8-character code blanked out, `parse_mode`, `chat_id`;
//! - `channels.status` (the reference's own CLI asks the reference; our client asks ours): the
//!   top-level keys (minus the reference's event-loop probe, which we do not have), the
//!   `channels.telegram` and `channelAccounts.telegram[0]` keys with their value types where
//!   both are set, and the values that describe the account (`configured`, `running`,
//!   `connected`, `tokenSource`, `tokenStatus`, `mode`, `lifecycle`, `enabled`, `accountId`).
//!
//! Then, on the same two gateways: `channels.status {probe: true}` (the probe object, its bot,
//! `lastProbeAt`), `channels.stop` (the answer, and the account stopped in `channels.status`),
//! `channels.start` twice (handed off, then owned by the running task; it polls again) and an
//! unknown channel for `channels.start` and `channels.status` (the same error text).
//!
//! Our registered command list is deliberately shorter (the 5 commands this gateway answers, not
//! the reference's 48), so `setMyCommands` bodies are not compared. The peer must be installed
//! (`scripts/openclaw-peer install`, done by `.ci/run`); without it this test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use openclaw_channels::backoff::BackoffPolicy;
use openclaw_channels::telegram::account::LoopConfig;
use openclaw_core::config::Config;
use openclaw_io::channels::settings::ChannelSettings;
use openclaw_io::client::{Client, ConnectOptions};
use openclaw_tests::e2e::{gateway, within, TOKEN};
use openclaw_tests::fake_telegram::{FakeTelegram, TOKEN as BOT_TOKEN};
use openclaw_tests::reference::{Reference, PEER_START};
use serde_json::{json, Map, Value};

/// One step of ours.
const STEP: Duration = Duration::from_secs(15);
/// The user who writes first.
const STRANGER: i64 = 111;

/// What one gateway did in the scenario.
struct Observed {
    /// Bot API methods up to and including the first `getUpdates`.
    start_up: Vec<String>,
    delete_webhook: Value,
    delete_commands: Vec<Value>,
    /// The `sendMessage` body of the pairing reply.
    reply: Value,
}

/// Waits for the first long poll, sends an unknown DM and waits for the pairing reply.
async fn scenario(tg: &FakeTelegram, deadline: Duration) -> Observed {
    tg.wait_for("getUpdates", 1, deadline).await.unwrap();
    let methods = tg.methods();
    let first_poll = methods.iter().position(|m| m == "getUpdates").unwrap();
    tg.push_dm(STRANGER, "hello");
    let sent = tg.wait_for("sendMessage", 1, deadline).await.unwrap();
    Observed {
        start_up: methods[..=first_poll].to_vec(),
        delete_webhook: tg.bodies("deleteWebhook").first().cloned().unwrap_or_default(),
        delete_commands: tg.bodies("deleteMyCommands"),
        reply: sent[0].clone(),
    }
}

/// The text with its 8-character pairing code (the line after the first `<pre><code>`) replaced
/// by `CODE` wherever it occurs.
fn blank_code(text: &str) -> String {
    let code = text.split("<pre><code>").nth(1).and_then(|rest| rest.split('\n').next()).unwrap_or_default();
    if code.len() == 8 && code.chars().all(|c| c.is_ascii_alphanumeric()) {
        text.replace(code, "CODE")
    } else {
        text.to_owned()
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Keys of an object, sorted.
fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().map(|m| m.keys().cloned().collect()).unwrap_or_default();
    k.sort();
    k
}

/// For keys both objects have: the ones whose types differ (a null on either side is allowed:
/// a timestamp not yet set).
fn type_differences(ours: &Map<String, Value>, theirs: &Map<String, Value>) -> Vec<String> {
    ours.iter()
        .filter_map(|(k, v)| {
            let t = theirs.get(k)?;
            (!v.is_null() && !t.is_null() && kind(v) != kind(t)).then(|| format!("{k}: ours {} theirs {}", kind(v), kind(t)))
        })
        .collect()
}

async fn start_ours(state: &std::path::Path, tg: &FakeTelegram) -> openclaw_io::Gateway {
    let config: Config = serde_json::from_value(json!({"channels": {"telegram": {"botToken": BOT_TOKEN, "apiRoot": tg.api_root()}}})).unwrap();
    let settings = ChannelSettings::project(&config, &|_| None).unwrap();
    let state = state.display().to_string();
    gateway(move |c| {
        c.state_dir = Some(state);
        c.settings.channels = settings;
        c.channel_loop = LoopConfig { poll_timeout_s: 1, backoff: BackoffPolicy { initial_ms: 5, max_ms: 50, factor: 1.8, jitter: 0.25 }, seed: 1 };
        c.channel_poll_grace = Duration::from_millis(500);
    })
    .await
}

/// What `channels.status {probe}`, `channels.stop`, `channels.start` and bad channel names
/// answered.
struct Control {
    probed: Value,
    stop: Value,
    stopped_status: Value,
    start: Value,
    start_again: Value,
    /// The error texts (ours: the message; theirs: the CLI's output, which contains it).
    bad_start: String,
    bad_status: String,
}

/// Probes, stops and starts the default account; `call` is one RPC on that gateway.
async fn control<F, Fut>(tg: &FakeTelegram, deadline: Duration, call: F) -> Control
where
    F: Fn(&'static str, Value) -> Fut,
    Fut: std::future::Future<Output = Result<Value, String>>,
{
    let probed = call("channels.status", json!({"probe": true, "timeoutMs": 5000})).await.unwrap();
    let stop = call("channels.stop", json!({"channel": "telegram"})).await.unwrap();
    let stopped_status = call("channels.status", json!({})).await.unwrap();
    let polls = tg.bodies("getUpdates").len();
    let start = call("channels.start", json!({"channel": "telegram"})).await.unwrap();
    let start_again = call("channels.start", json!({"channel": "telegram"})).await.unwrap();
    // Started again: it polls again.
    tg.wait_for("getUpdates", polls + 1, deadline).await.unwrap();
    let bad_start = call("channels.start", json!({"channel": "nosuchchannel"})).await.unwrap_err();
    let bad_status = call("channels.status", json!({"channel": "nosuchchannel"})).await.unwrap_err();
    Control { probed, stop, stopped_status, start, start_again, bad_start, bad_status }
}

fn compare_control(ours: &Control, theirs: &Control) {
    // The probe: where it shows, its keys, its bot's keys, its values.
    let (o, t) = (&ours.probed["channelAccounts"]["telegram"][0], &theirs.probed["channelAccounts"]["telegram"][0]);
    assert_eq!(keys(o), keys(t), "probed channelAccounts.telegram[0] keys\nours: {o}\ntheirs: {t}");
    assert_eq!(keys(&o["probe"]), keys(&t["probe"]), "probe keys\nours: {}\ntheirs: {}", o["probe"], t["probe"]);
    assert_eq!(keys(&o["probe"]["bot"]), keys(&t["probe"]["bot"]), "probe.bot keys");
    assert_eq!(keys(&o["probe"]["botInfo"]), keys(&t["probe"]["botInfo"]), "probe.botInfo keys");
    for key in ["ok", "status", "error"] {
        assert_eq!(o["probe"][key], t["probe"][key], "probe.{key}");
    }
    assert_eq!(o["probe"]["bot"], t["probe"]["bot"], "probe.bot");
    assert_eq!(o["probe"]["botInfo"], t["probe"]["botInfo"], "probe.botInfo");
    assert!(o["lastProbeAt"].is_u64() && t["lastProbeAt"].is_u64(), "lastProbeAt\nours: {o}\ntheirs: {t}");
    let (o, t) = (&ours.probed["channels"]["telegram"], &theirs.probed["channels"]["telegram"]);
    assert_eq!(keys(o), keys(t), "probed channels.telegram keys\nours: {o}\ntheirs: {t}");
    // Stop and start: the answers as they are (the outcome of a second start included).
    assert_eq!(ours.stop, theirs.stop, "channels.stop");
    let (o, t) = (&ours.stopped_status["channelAccounts"]["telegram"][0], &theirs.stopped_status["channelAccounts"]["telegram"][0]);
    assert_eq!(keys(o), keys(t), "after channels.stop: keys\nours: {o}\ntheirs: {t}");
    for key in ["running", "connected", "lifecycle", "lastError", "healthState"] {
        assert_eq!(o[key], t[key], "after channels.stop: {key}\nours: {o}\ntheirs: {t}");
    }
    assert!(o["lastStopAt"].is_u64() && t["lastStopAt"].is_u64(), "lastStopAt\nours: {o}\ntheirs: {t}");
    assert_eq!(ours.start, theirs.start, "channels.start");
    assert_eq!(ours.start_again, theirs.start_again, "channels.start while running");
    assert!(theirs.bad_start.contains(&ours.bad_start), "bad channel: ours {:?}, theirs {:?}", ours.bad_start, theirs.bad_start);
    assert!(theirs.bad_status.contains(&ours.bad_status), "bad status channel: ours {:?}, theirs {:?}", ours.bad_status, theirs.bad_status);
}

#[tokio::test]
async fn telegram_start_up_pairing_reply_and_channels_status_match_the_reference() {
    // The reference first (its start-up is the slow part).
    let their_tg = FakeTelegram::start().await;
    let config = json!({ "channels": { "telegram": { "botToken": BOT_TOKEN, "apiRoot": their_tg.api_root() } } });
    let reference = Reference::start(&config).await;
    let theirs = scenario(&their_tg, PEER_START).await;
    // The pairing reply is out, so the account has connected; ask for its status.
    let their_status = reference.call("channels.status").await;
    let their_health = reference.call("health").await;
    let their_control = control(&their_tg, PEER_START, |m, p| {
        let r = &reference;
        async move { r.call_with(m, &p).await }
    })
    .await;
    drop(reference);

    let dir = tempfile::tempdir().unwrap();
    let our_tg = FakeTelegram::start().await;
    let gw = start_ours(dir.path(), &our_tg).await;
    let ours = scenario(&our_tg, STEP).await;
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(TOKEN.into());
    let mut c = within("connect", Client::connect(opts)).await.unwrap().0;
    let our_status = within("channels.status", c.call("channels.status", json!({}))).await.unwrap();
    // `health` carries the account once the runtime has reported it (asked until it shows).
    let our_health = within("health with the channel", async {
        loop {
            let h = c.call("health", json!({})).await.unwrap();
            if h["channels"]["telegram"]["connected"] == true {
                return h;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    let c = std::sync::Arc::new(tokio::sync::Mutex::new(c));
    let our_control = control(&our_tg, STEP, |m, p| {
        let c = std::sync::Arc::clone(&c);
        async move { c.lock().await.call(m, p).await.map_err(|e| e.to_string()) }
    })
    .await;
    let c = std::sync::Arc::into_inner(c).unwrap().into_inner();
    within("close", c.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();

    // Start-up.
    assert_eq!(ours.start_up, theirs.start_up, "the Bot API calls up to the first getUpdates");
    assert_eq!(ours.delete_webhook, theirs.delete_webhook);
    assert_eq!(ours.delete_commands, theirs.delete_commands);

    // The pairing reply.
    for key in ["chat_id", "parse_mode"] {
        assert_eq!(ours.reply[key], theirs.reply[key], "sendMessage {key}");
    }
    let (our_text, their_text) = (ours.reply["text"].as_str().unwrap(), theirs.reply["text"].as_str().unwrap());
    assert_ne!(blank_code(their_text), their_text, "the reference's reply carries a code: {their_text}");
    assert_eq!(blank_code(our_text), blank_code(their_text));

    // channels.status.
    let mut their_top = keys(&their_status);
    their_top.retain(|k| k != "eventLoop");
    assert_eq!(keys(&our_status), their_top, "top-level keys\nours: {our_status}\ntheirs: {their_status}");
    for (what, o, t) in [
        ("channels.telegram", &our_status["channels"]["telegram"], &their_status["channels"]["telegram"]),
        ("channelAccounts.telegram[0]", &our_status["channelAccounts"]["telegram"][0], &their_status["channelAccounts"]["telegram"][0]),
    ] {
        assert_eq!(keys(o), keys(t), "{what} keys\nours: {o}\ntheirs: {t}");
        let diff = type_differences(o.as_object().unwrap(), t.as_object().unwrap());
        assert!(diff.is_empty(), "{what} value types: {diff:?}\nours: {o}\ntheirs: {t}");
    }
    let (o, t) = (&our_status["channelAccounts"]["telegram"][0], &their_status["channelAccounts"]["telegram"][0]);
    for key in ["accountId", "enabled", "configured", "running", "connected", "tokenSource", "tokenStatus", "mode", "lifecycle", "lastError"] {
        assert_eq!(o[key], t[key], "channelAccounts.telegram[0].{key}\nours: {o}\ntheirs: {t}");
    }
    for key in ["channelOrder", "channelLabels", "channelDetailLabels", "channelSystemImages", "channelMeta", "channelDefaultAccountId"] {
        assert_eq!(our_status[key], their_status[key], "{key}");
    }

    compare_control(&our_control, &their_control);

    // `health` shows the channel (the runbook's readiness check): the default account's row plus
    // `lastProbeAt` and `accounts.<id>`, with `channelOrder` and `channelLabels`.
    for key in ["channelOrder", "channelLabels"] {
        assert_eq!(our_health[key], their_health[key], "health.{key}");
    }
    let (o, t) = (&our_health["channels"]["telegram"], &their_health["channels"]["telegram"]);
    assert_eq!(keys(o), keys(t), "health.channels.telegram keys\nours: {o}\ntheirs: {t}");
    assert_eq!(keys(&o["accounts"]["default"]), keys(&t["accounts"]["default"]), "health.channels.telegram.accounts.default keys");
    for key in ["accountId", "configured", "running", "connected", "tokenSource", "mode", "lifecycle", "lastError"] {
        assert_eq!(o[key], t[key], "health.channels.telegram.{key}\nours: {o}\ntheirs: {t}");
    }
}
