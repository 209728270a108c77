//! Telegram end to end through an embedded gateway: the fake Bot API (`apiRoot`) and the fake
//! model. Unknown DM → pairing code; approval → the agent answers via `sendMessage`; long
//! replies chunked; `channels.status`; `send` idempotent; restart resumes at the stored offset;
//! a frozen poll is abandoned and polling resumes; a token for another bot keeps receiving; a
//! revoked token stops the account with a masked `lastError` (no crash loop). Nothing sleeps:
//! every wait is on a condition with a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::path::Path;
use std::time::Duration;

use openclaw_channels::backoff::BackoffPolicy;
use openclaw_channels::telegram::account::LoopConfig;
use openclaw_core::config::Config;
use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_io::channels::settings::ChannelSettings;
use openclaw_io::channels::store;
use openclaw_io::client::{Client, ClientError, ConnectOptions};
use openclaw_io::state_db::StateDb;
use openclaw_io::Gateway;
use openclaw_tests::e2e::{gateway, within, TOKEN as GW_TOKEN};
use openclaw_tests::fake_model::{FakeApi, FakeModel, Script};
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

fn channels(telegram: Value) -> ChannelSettings {
    let config: Config = serde_json::from_value(json!({"channels": {"telegram": telegram}})).unwrap();
    ChannelSettings::project(&config, &|_| None).unwrap()
}

async fn start(state: &Path, tg: &FakeTelegram, model: &FakeModel, telegram: Value) -> Gateway {
    let mut telegram = telegram;
    telegram["apiRoot"] = json!(tg.api_root());
    let (settings, agent, state) = (channels(telegram), agent(model), state.display().to_string());
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

/// The texts sent to `chat`, in order.
fn sent_to(tg: &FakeTelegram, chat: i64) -> Vec<String> {
    tg.bodies("sendMessage").into_iter().filter(|b| b["chat_id"] == json!(chat)).map(|b| b["text"].as_str().unwrap_or_default().to_owned()).collect()
}

async fn wait_sent(tg: &FakeTelegram, chat: i64, n: usize) -> Vec<String> {
    tg.wait_until(DEADLINE, |_| sent_to(tg, chat).len() >= n).await.unwrap();
    sent_to(tg, chat)
}

fn code_of(reply: &str) -> String {
    reply.split("<pre><code>").nth(1).and_then(|s| s.split('\n').next()).unwrap().to_owned()
}

#[tokio::test]
async fn pairing_then_the_agent_answers_and_long_replies_are_chunked() {
    let dir = tempfile::tempdir().unwrap();
    let tg = FakeTelegram::start().await;
    let long = format!("{}\n\n{}", "a".repeat(3000), "b".repeat(3000));
    let model = FakeModel::start(FakeApi::OpenAi, vec![Script::Echo, Script::Reply(vec![long.clone()])]).await;
    let gw = start(dir.path(), &tg, &model, json!({"botToken": TOKEN})).await;

    // The reference's start-up sequence, then long polls.
    tg.wait_for("getUpdates", 1, DEADLINE).await.unwrap();
    let methods = tg.methods();
    assert_eq!(&methods[..6], ["getMe", "deleteWebhook", "deleteMyCommands", "deleteMyCommands", "setMyCommands", "setMyCommands"]);

    // An unknown sender gets the captured pairing reply (HTML), and no agent run.
    tg.push_dm(111, "hello");
    let replies = wait_sent(&tg, 111, 1).await;
    let code = code_of(&replies[0]);
    let db = StateDb::in_state_dir(dir.path());
    let listed = store::pairing_list(&db, "telegram", u64::MAX / 2).unwrap_or_default();
    assert_eq!(replies[0], openclaw_channels::telegram::pairing_reply(111, &openclaw_channels::pairing::PairingCode::parse(&code).unwrap()));
    assert_eq!(tg.bodies("sendMessage")[0]["parse_mode"], "HTML");
    assert!(model.requests().is_empty(), "no agent run for an unpaired sender");
    // Writing again while pending: no second code (waits until that update is handled).
    let again = tg.push_dm(111, "hello?");
    tokio::time::timeout(DEADLINE, async {
        while store::read_offset(&db, "default", 123456, TOKEN).unwrap() != Some(again) || !store::pending(&db, "telegram", "default").unwrap().is_empty() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the second DM is handled");
    assert_eq!(store::pairing_list(&db, "telegram", 0).unwrap().len(), 1, "{listed:?}");

    // The operator approves (what `openclaw pairing approve telegram <code>` does).
    let approved = store::pairing_approve(&db, "telegram", &code, 0).unwrap();
    assert_eq!(approved.id, "111");
    tg.push_dm(111, "what is up");
    let replies = wait_sent(&tg, 111, 2).await;
    assert_eq!(replies[1], "echo: what is up");
    assert_eq!(replies.len(), 2, "the second unpaired DM got no reply");
    let typing = tg.bodies("sendChatAction");
    assert!(typing.iter().any(|b| b["chat_id"] == json!(111) && b["action"] == "typing"), "{typing:?}");

    // A reply over 4096 characters arrives in chunks, cut at the paragraph.
    tg.push_dm(111, "long please");
    let replies = wait_sent(&tg, 111, 4).await;
    assert_eq!(replies[2..], ["a".repeat(3000), "b".repeat(3000)]);

    // channels.status in the reference's shape.
    let mut c = client(&gw).await;
    let status = within("channels.status", c.call("channels.status", json!({}))).await.unwrap();
    let acct = &status["channelAccounts"]["telegram"][0];
    assert_eq!(status["channelOrder"], json!(["telegram"]));
    assert_eq!(status["channels"]["telegram"]["configured"], true);
    assert_eq!((acct["accountId"].as_str(), acct["running"].as_bool(), acct["connected"].as_bool()), (Some("default"), Some(true), Some(true)), "{status}");
    assert_eq!((acct["tokenSource"].as_str(), acct["mode"].as_str(), acct["lifecycle"].as_str()), (Some("config"), Some("polling"), Some("ready")));
    assert!(acct["lastInboundAt"].is_u64() && acct["lastOutboundAt"].is_u64(), "{acct}");
    let capture: Value = serde_json::from_str(&std::fs::read_to_string(capture_path()).unwrap()).unwrap();
    let want: Vec<&String> = capture["channelAccounts"]["telegram"][0].as_object().unwrap().keys().collect();
    let got: Vec<&String> = acct.as_object().unwrap().keys().collect();
    assert_eq!(sorted(got), sorted(want), "the account fields of the capture");

    // `send`: delivered once, the same answer for the same key.
    let params = json!({"to": "tg:111", "message": "from the operator", "idempotencyKey": "s-1"});
    let first = within("send", c.call("send", params.clone())).await.unwrap();
    let again = within("send again", c.call("send", params)).await.unwrap();
    assert_eq!(first, again);
    assert_eq!((first["runId"].as_str(), first["channel"].as_str(), first["chatId"].as_str()), (Some("s-1"), Some("telegram"), Some("111")));
    assert_eq!(sent_to(&tg, 111).iter().filter(|t| *t == "from the operator").count(), 1);
    let bad = within("send", c.call("send", json!({"to": "111", "message": " ", "idempotencyKey": "s-2"}))).await;
    let Err(ClientError::Rejected { error, .. }) = bad else { panic!("{bad:?}") };
    assert_eq!(error.message, "invalid send params: text or media is required");
    let bad = within("send", c.call("send", json!({"to": "111", "message": "x", "channel": "whatsapp", "idempotencyKey": "s-3"}))).await;
    let Err(ClientError::Rejected { error, .. }) = bad else { panic!("{bad:?}") };
    assert_eq!(error.message, "unsupported channel: whatsapp");
    tg.script("sendMessage", [Fault::Error { status: 403, description: "Forbidden: bot was blocked by the user".into() }]);
    let failed = within("send", c.call("send", json!({"to": "111", "message": "x", "idempotencyKey": "s-4"}))).await;
    let Err(ClientError::Rejected { error, .. }) = failed else { panic!("{failed:?}") };
    assert_eq!(error.code, openclaw_core::wire::frames::ErrorCode::Unavailable);
    assert!(error.message.contains("blocked"), "{error:?}");
    within("close", c.close()).await;
    stop(gw).await;
}

fn sorted(mut v: Vec<&String>) -> Vec<&String> {
    v.sort();
    v
}

fn capture_path() -> std::path::PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let local = here.join("../../shared/captures/openclaw-2026.9.6-telegram-channels-status.json");
    if local.exists() {
        local
    } else {
        std::path::PathBuf::from("/work/shared/captures/openclaw-2026.9.6-telegram-channels-status.json")
    }
}

#[tokio::test]
async fn a_restart_resumes_at_the_stored_offset_and_a_frozen_poll_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let tg = FakeTelegram::start().await;
    let model = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let open = json!({"botToken": TOKEN, "dmPolicy": "open", "allowFrom": ["*"]});
    let gw = start(dir.path(), &tg, &model, open.clone()).await;
    let first = tg.push_dm(222, "one");
    assert_eq!(wait_sent(&tg, 222, 1).await, ["echo: one"]);
    stop(gw).await;

    // Queued while down: answered after the restart, and the first poll starts past `first`.
    let polls_before = tg.bodies("getUpdates").len();
    tg.push_dm(222, "two");
    let gw = start(dir.path(), &tg, &model, open.clone()).await;
    assert_eq!(wait_sent(&tg, 222, 2).await, ["echo: one", "echo: two"]);
    assert_eq!(tg.bodies("getUpdates")[polls_before]["offset"], json!(first + 1));

    // A poll that never answers is abandoned (timeout + grace) and polling resumes.
    tg.script("getUpdates", [Fault::Freeze]);
    tg.wait_hangups(1, DEADLINE).await.unwrap();
    tg.push_dm(222, "three");
    assert_eq!(wait_sent(&tg, 222, 3).await[2], "echo: three");
    stop(gw).await;
    assert_eq!(model.requests().len(), 3, "each update ran the agent once");
}

#[tokio::test]
async fn another_bot_token_keeps_receiving_and_a_revoked_token_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let tg = FakeTelegram::start().await;
    let model = FakeModel::start(FakeApi::OpenAi, vec![]).await;
    let open = |token: &str| json!({"botToken": token, "dmPolicy": "open", "allowFrom": ["*"]});
    let gw = start(dir.path(), &tg, &model, open(TOKEN)).await;
    for _ in 0..3 {
        tg.push_dm(333, "old bot");
    }
    wait_sent(&tg, 333, 3).await;
    stop(gw).await;

    // Another bot (its own update ids start low): its updates are not dropped as "old".
    let other = "777:AAOtherBotTokenForLoopbackTests000";
    tg.add_bot(other, "other_bot");
    let gw = start(dir.path(), &tg, &model, open(other)).await;
    tg.wait_until(DEADLINE, |r| r.iter().any(|r| r.token == other && r.method == "getUpdates")).await.unwrap();
    let first_poll = tg.requests().into_iter().find(|r| r.token == other && r.method == "getUpdates").unwrap();
    assert!(first_poll.body.get("offset").is_none(), "a new bot starts without the old bot's offset: {:?}", first_poll.body);
    tg.push_dm(333, "new bot");
    assert_eq!(wait_sent(&tg, 333, 4).await[3], "echo: new bot");

    // Revoked: the account stops with a masked lastError; no retry loop.
    tg.revoke(other);
    let mut c = client(&gw).await;
    // Asks until the account reports stopped (each ask is a round trip; bounded by DEADLINE).
    let status = tokio::time::timeout(DEADLINE, async {
        loop {
            let s = c.call("channels.status", json!({})).await.unwrap();
            if s["channelAccounts"]["telegram"][0]["running"] == false {
                return s;
            }
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("the account stops after the 401");
    let err = status["channelAccounts"]["telegram"][0]["lastError"].as_str().unwrap().to_owned();
    assert!(err.contains("401"), "{err}");
    assert!(!err.contains("AAOtherBotToken"), "the token is masked: {err}");
    let calls = tg.requests().iter().filter(|r| r.token == other).count();
    within("close", c.close()).await;
    stop(gw).await;
    assert_eq!(tg.requests().iter().filter(|r| r.token == other).count(), calls, "no calls after the 401");
}
