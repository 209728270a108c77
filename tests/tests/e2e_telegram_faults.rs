//! Telegram robustness end to end (embedded gateway, the fake Bot API on `apiRoot`, the fake
//! model): a stalled long poll is visible in `channels.status` and polling recovers; a reply
//! survives a 429 (`retry_after` honoured) and a 400 for entities (resent as plain text); a
//! forum-topic message is answered in its topic (reply and typing carry `message_thread_id`);
//! an unreachable API root is a clear, masked `lastError` while the account keeps retrying.
//! Nothing sleeps: every wait is on a condition with a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::path::Path;
use std::time::Duration;

use openclaw_channels::backoff::BackoffPolicy;
use openclaw_channels::telegram::account::LoopConfig;
use openclaw_core::config::Config;
use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_io::channels::settings::ChannelSettings;
use openclaw_io::client::{Client, ConnectOptions};
use openclaw_io::Gateway;
use openclaw_tests::e2e::{gateway, within, TOKEN as GW_TOKEN};
use openclaw_tests::fake_model::{FakeApi, FakeModel};
use openclaw_tests::fake_telegram::{Fault, FakeTelegram, TOKEN};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(15);

fn agent(fake: &FakeModel) -> AgentConfig {
    let mut agent = AgentConfig::default();
    agent.providers.insert("fake".into(), ProviderConfig { base_url: fake.base_url(), api_key: None, api: Api::OpenAiCompletions });
    agent.model = Some(ModelChoice { primary: ModelRef { provider: "fake".into(), model: "echo".into() }, fallbacks: vec![] });
    agent.retry.max_attempts = 1;
    agent
}

async fn start(state: &Path, api_root: String, model: &FakeModel, telegram: Value) -> Gateway {
    let mut telegram = telegram;
    telegram["apiRoot"] = json!(api_root);
    let config: Config = serde_json::from_value(json!({"channels": {"telegram": telegram}})).unwrap();
    let settings = ChannelSettings::project(&config, &|_| None).unwrap();
    let (agent, state) = (agent(model), state.display().to_string());
    gateway(move |c| {
        c.state_dir = Some(state);
        c.settings.channels = settings;
        c.settings.agent = agent;
        c.channel_loop = LoopConfig { poll_timeout_s: 1, backoff: BackoffPolicy { initial_ms: 5, max_ms: 50, factor: 1.8, jitter: 0.25 }, seed: 1 };
        c.channel_poll_grace = Duration::from_millis(500);
    })
    .await
}

async fn stop(gw: Gateway) {
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

async fn client(gw: &Gateway) -> Client {
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(GW_TOKEN.into());
    within("connect", Client::connect(opts)).await.unwrap().0
}

/// Asks `channels.status` until the default account's row satisfies `done` (each ask is a round
/// trip; bounded by [`DEADLINE`]); returns that row.
async fn account_until(c: &mut Client, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            let s = c.call("channels.status", json!({})).await.unwrap();
            last = s["channelAccounts"]["telegram"][0].clone();
            if done(&last) {
                return last.clone();
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("channels.status never showed {what}; last: {last}"))
}

/// Asks `health` until `health.channels.telegram` satisfies `done`; returns the whole answer.
async fn health_until(c: &mut Client, done: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    let found = tokio::time::timeout(DEADLINE, async {
        loop {
            last = c.call("health", json!({})).await.unwrap();
            if done(&last["channels"]["telegram"]) {
                return last.clone();
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("health never showed it; last: {last}"))
}

fn open() -> Value {
    json!({"botToken": TOKEN, "dmPolicy": "open", "allowFrom": ["*"]})
}

#[tokio::test]
async fn a_stalled_poll_shows_in_channels_status_and_polling_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let tg = FakeTelegram::start().await;
    let model = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    // Three polls in a row never answer: each is abandoned at its timeout + grace.
    tg.script("getUpdates", [Fault::Freeze, Fault::Freeze, Fault::Freeze]);
    let gw = start(dir.path(), tg.api_root(), &model, open()).await;
    let mut c = client(&gw).await;
    let stalled = account_until(&mut c, "the stall", |a| a["lastError"].as_str().is_some_and(|e| e.contains("getUpdates: no answer"))).await;
    assert_eq!(stalled["connected"], false, "{stalled}");
    assert_eq!(stalled["running"], true, "{stalled}");
    assert!(stalled["reconnectAttempts"].as_u64() >= Some(1), "{stalled}");
    let health = health_until(&mut c, |t| t["connected"] == false && t["lastError"].is_string()).await;
    assert_eq!(health["channelOrder"], json!(["telegram"]), "{health}");

    // Polling resumes by itself: a DM is answered and the row is healthy again.
    tg.push_dm(555, "still there?");
    tg.wait_until(DEADLINE, |_| tg.bodies("sendMessage").iter().any(|b| b["text"] == "echo: still there?")).await.unwrap();
    assert_eq!(tg.hangups(), 3, "each frozen poll was abandoned");
    let healthy = account_until(&mut c, "the recovery", |a| a["connected"] == true && a["lastError"].is_null()).await;
    assert_eq!(healthy["reconnectAttempts"], 0, "{healthy}");
    health_until(&mut c, |t| t["connected"] == true && t["lastError"].is_null()).await;
    within("close", c.close()).await;
    stop(gw).await;
}

#[tokio::test]
async fn replies_survive_429_and_bad_entities_and_topics_are_answered_in_the_topic() {
    let dir = tempfile::tempdir().unwrap();
    let tg = FakeTelegram::start().await;
    let model = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let mut telegram = open();
    telegram["groupPolicy"] = json!("open");
    telegram["groups"] = json!({"-100500": {"requireMention": false}});
    let gw = start(dir.path(), tg.api_root(), &model, telegram).await;

    // 429 with retry_after 1, then 400 for the HTML entities: the reply still arrives once,
    // the last attempt without parse_mode.
    tg.script("sendMessage", [Fault::RetryAfter(1), Fault::BadEntities]);
    tg.push_dm(444, "hi <b>");
    tg.wait_for("sendMessage", 3, DEADLINE).await.unwrap();
    let tries: Vec<Value> = tg.bodies("sendMessage").into_iter().filter(|b| b["chat_id"] == 444).collect();
    assert_eq!(tries.len(), 3, "{tries:?}");
    assert!(tries.iter().all(|b| b["text"] == tries[0]["text"]), "{tries:?}");
    assert_eq!((tries[0]["parse_mode"].as_str(), tries[1]["parse_mode"].as_str()), (Some("HTML"), Some("HTML")));
    assert!(tries[2].get("parse_mode").is_none(), "the fallback is plain text: {}", tries[2]);

    // A message in a forum topic: the reply and the typing indicator go to that topic.
    tg.push_update(json!({"message": {
        "message_id": 77, "message_thread_id": 42, "is_topic_message": true,
        "from": {"id": 444, "is_bot": false, "first_name": "Tester"},
        "chat": {"id": -100500, "type": "supergroup", "title": "Team", "is_forum": true},
        "date": 1796531474, "text": "topic question",
    }}));
    tg.wait_until(DEADLINE, |_| tg.bodies("sendMessage").iter().any(|b| b["chat_id"] == -100500)).await.unwrap();
    let reply = tg.bodies("sendMessage").into_iter().find(|b| b["chat_id"] == -100500).unwrap();
    assert_eq!((reply["text"].as_str(), reply["message_thread_id"].as_i64()), (Some("echo: topic question"), Some(42)), "{reply}");
    let typing: Vec<Value> = tg.bodies("sendChatAction").into_iter().filter(|b| b["chat_id"] == -100500).collect();
    assert!(!typing.is_empty() && typing.iter().all(|b| b["message_thread_id"] == 42), "{typing:?}");
    stop(gw).await;
    assert_eq!(model.requests().len(), 2, "one agent run per message, none repeated by the retries");
}

#[tokio::test]
async fn an_unreachable_api_root_is_a_clear_masked_last_error_and_the_account_keeps_trying() {
    let dir = tempfile::tempdir().unwrap();
    let model = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    // A loopback port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let root = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let gw = start(dir.path(), root, &model, open()).await;
    let mut c = client(&gw).await;
    let row = account_until(&mut c, "retries with a lastError", |a| a["reconnectAttempts"].as_u64() >= Some(2) && a["lastError"].is_string()).await;
    let err = row["lastError"].as_str().unwrap();
    assert!(err.contains("unreachable"), "{err}");
    assert!(!err.contains("AAFakeToken"), "the token is masked: {err}");
    assert_eq!((row["running"].as_bool(), row["connected"].as_bool()), (Some(true), Some(false)), "{row}");
    // The gateway itself is unaffected.
    within("health", c.call("health", json!({}))).await.unwrap();
    within("close", c.close()).await;
    stop(gw).await;
}
