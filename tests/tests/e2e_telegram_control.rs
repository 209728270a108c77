//! `channels.stop`, `channels.start` and `channels.status {probe: true}` through an embedded
//! gateway in front of the fake Bot API: a stopped account stops polling and shows stopped; a DM
//! that arrives meanwhile is answered once the account is started again (it resumes at its
//! stored offset); a second start while running is owned by the running task; a disabled
//! account or one without a token is skipped; the probe is a live `getMe` (a revoked token
//! shows as a failed probe with Telegram's 401 and becomes `lastError`); unknown channels are
//! refused. `channels.logout` edits the config file, so it is tested through the binary
//! (`cli/tests/e2e_telegram.rs`). Nothing sleeps: every wait is on a condition with a deadline.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use openclaw_channels::backoff::BackoffPolicy;
use openclaw_channels::telegram::account::LoopConfig;
use openclaw_core::config::Config;
use openclaw_io::channels::settings::ChannelSettings;
use openclaw_io::client::{Client, ClientError, ConnectOptions};
use openclaw_io::Gateway;
use openclaw_tests::e2e::{gateway, within, TOKEN as GW_TOKEN};
use openclaw_tests::fake_telegram::{FakeTelegram, TOKEN};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(15);

async fn start(state: &std::path::Path, telegram: Value) -> Gateway {
    let config: Config = serde_json::from_value(json!({"channels": {"telegram": telegram}})).unwrap();
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

async fn client(gw: &Gateway) -> Client {
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(GW_TOKEN.into());
    within("connect", Client::connect(opts)).await.unwrap().0
}

async fn call(c: &mut Client, method: &str, params: Value) -> Value {
    within(method, c.call(method, params)).await.unwrap()
}

async fn refused(c: &mut Client, method: &str, params: Value) -> (String, String) {
    match within(method, c.call(method, params)).await {
        Err(ClientError::Rejected { error, .. }) => (format!("{:?}", error.code), error.message),
        other => panic!("{method}: expected a refusal, got {other:?}"),
    }
}

fn account(status: &Value, id: &str) -> Value {
    status["channelAccounts"]["telegram"].as_array().unwrap().iter().find(|a| a["accountId"] == id).cloned().unwrap()
}

#[tokio::test]
async fn stop_then_start_resumes_polling_and_answers_what_came_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let tg = FakeTelegram::start().await;
    let gw = start(dir.path(), json!({"botToken": TOKEN, "apiRoot": tg.api_root()})).await;
    let mut c = client(&gw).await;
    tg.wait_for("getUpdates", 1, DEADLINE).await.unwrap();

    let stop = call(&mut c, "channels.stop", json!({"channel": "telegram"})).await;
    assert_eq!(stop, json!({"channel": "telegram", "accountId": "default", "stopped": true}));
    let st = account(&call(&mut c, "channels.status", json!({})).await, "default");
    assert_eq!((st["running"].clone(), st["connected"].clone(), st["lifecycle"].clone()), (json!(false), json!(false), json!("stopped")), "{st}");
    assert!(st["lastStopAt"].is_u64(), "{st}");
    assert_eq!(st["healthState"], "not-running", "{st}");
    // Stopped again: nothing to stop, still an answer.
    assert_eq!(call(&mut c, "channels.stop", json!({"channel": "Telegram", "accountId": "default"})).await["stopped"], true);

    // A DM while stopped waits at Telegram; started again, the account answers it.
    let polls = tg.bodies("getUpdates").len();
    tg.push_dm(111, "hello while stopped");
    let start = call(&mut c, "channels.start", json!({"channel": "telegram"})).await;
    assert_eq!(start, json!({"channel": "telegram", "accountId": "default", "started": true, "outcome": {"status": "handed-off"}}));
    let again = call(&mut c, "channels.start", json!({"channel": "telegram"})).await;
    assert_eq!(again["outcome"], json!({"status": "retry", "reason": "task-owned"}));
    assert_eq!(again["started"], true);
    tg.wait_for("sendMessage", 1, DEADLINE).await.unwrap();
    assert!(tg.bodies("sendMessage")[0]["text"].as_str().unwrap().starts_with("OpenClaw: access not configured."));
    assert!(tg.bodies("getUpdates").len() > polls, "polling resumed");
    let st = account(&call(&mut c, "channels.status", json!({})).await, "default");
    assert_eq!(st["running"], true, "{st}");
    assert!(st.get("healthState").is_none(), "healthy: no healthState, as the reference: {st}");

    // Unknown channels are refused with the reference's texts.
    assert_eq!(refused(&mut c, "channels.start", json!({"channel": "nosuch"})).await.1, "invalid channels.start channel");
    assert_eq!(refused(&mut c, "channels.stop", json!({"channel": "nosuch"})).await.1, "invalid channels.stop channel");
    assert_eq!(refused(&mut c, "channels.status", json!({"channel": "nosuch"})).await.1, "unknown channel: nosuch");
    let (code, message) = refused(&mut c, "channels.start", json!({"channel": "telegram", "extra": 1})).await;
    assert_eq!(code, "InvalidRequest", "{message}");

    within("close", c.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}

#[tokio::test]
async fn disabled_and_tokenless_accounts_are_skipped_and_the_probe_is_a_live_get_me() {
    let dir = tempfile::tempdir().unwrap();
    let tg = FakeTelegram::start().await;
    let other = "777:AAOtherBotTokenForLoopbackTestsOnly00";
    tg.add_bot(other, "other_bot");
    let gw = start(
        dir.path(),
        json!({"botToken": TOKEN, "apiRoot": tg.api_root(), "accounts": {
            "off": {"enabled": false, "botToken": other},
            "work": {"botToken": other},
        }}),
    )
    .await;
    let mut c = client(&gw).await;
    tg.wait_until(DEADLINE, |r| r.iter().filter(|r| r.method == "getUpdates").map(|r| r.token.clone()).collect::<std::collections::BTreeSet<_>>().len() == 2)
        .await
        .unwrap();

    let off = call(&mut c, "channels.start", json!({"channel": "telegram", "accountId": "off"})).await;
    assert_eq!(off, json!({"channel": "telegram", "accountId": "off", "started": false, "outcome": {"status": "skipped", "reason": "disabled"}}));
    let nobody = call(&mut c, "channels.start", json!({"channel": "telegram", "accountId": "nobody"})).await;
    assert_eq!(nobody["outcome"], json!({"status": "skipped", "reason": "unconfigured"}));

    // The probe: every enabled, configured account asks getMe now.
    let me_before = tg.bodies("getMe").len();
    let probed = call(&mut c, "channels.status", json!({"probe": true, "timeoutMs": 5000})).await;
    assert_eq!(tg.bodies("getMe").len(), me_before + 2, "one getMe per enabled account");
    let d = account(&probed, "default");
    assert_eq!((d["probe"]["ok"].clone(), d["probe"]["bot"]["username"].clone()), (json!(true), json!("openclaw_test_bot")), "{d}");
    assert_eq!(d["probe"]["botInfo"]["id"], 123456);
    assert!(d["lastProbeAt"].is_u64() && d["probe"]["elapsedMs"].is_u64(), "{d}");
    assert_eq!(probed["channels"]["telegram"]["probe"]["ok"], true);
    assert!(account(&probed, "off").get("probe").is_none(), "a disabled account is not probed");
    // Without `probe`: no probe object, no getMe.
    let plain = call(&mut c, "channels.status", json!({})).await;
    assert!(account(&plain, "default").get("probe").is_none());

    // A revoked token: the probe fails with Telegram's answer, shown as lastError.
    tg.revoke(other);
    let probed = call(&mut c, "channels.status", json!({"probe": true})).await;
    let w = account(&probed, "work");
    assert_eq!((w["probe"]["ok"].clone(), w["probe"]["status"].clone(), w["probe"]["error"].clone()), (json!(false), json!(401), json!("Unauthorized")), "{w}");
    assert!(w["lastError"].as_str().is_some(), "{w}");
    assert!(!probed.to_string().contains("AAOtherBotToken"), "no token in the answer");

    within("close", c.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
