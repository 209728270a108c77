//! Telegram webhook mode through an embedded gateway in front of the fake Bot API: with
//! `webhookUrl` + `webhookSecret` the account calls `setWebhook` (the secret, the allowed
//! updates) instead of polling and listens on `webhookHost:webhookPort`; a POST with the right
//! `X-Telegram-Bot-Api-Secret-Token` is answered 200 once recorded and then handled like a polled
//! update (an unknown DM gets the pairing reply; a re-delivered update is not answered twice);
//! a missing or wrong secret is 401, a body that is not JSON 400, `GET /healthz` 200 `ok`.
//! Switched back to polling, start-up deletes the webhook and polling works again.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use openclaw_channels::backoff::BackoffPolicy;
use openclaw_channels::telegram::account::LoopConfig;
use openclaw_core::config::Config;
use openclaw_io::channels::settings::ChannelSettings;
use openclaw_io::client::{Client, ConnectOptions};
use openclaw_io::Gateway;
use openclaw_tests::bench::target::free_port;
use openclaw_tests::e2e::{gateway, within, TOKEN as GW_TOKEN};
use openclaw_tests::fake_telegram::{FakeTelegram, TOKEN};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const DEADLINE: Duration = Duration::from_secs(15);
const SECRET: &str = "s3cret-Tok_en";

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

/// One HTTP/1.1 request on a fresh connection: the status and the body.
async fn http(port: u16, method: &str, path: &str, secret: Option<&str>, body: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let secret = secret.map(|s| format!("x-telegram-bot-api-secret-token: {s}\r\n")).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n{secret}content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    within("webhook answer", stream.read_to_end(&mut out)).await.unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status = text.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

fn sent_to(tg: &FakeTelegram, chat: i64) -> usize {
    tg.bodies("sendMessage").iter().filter(|b| b["chat_id"] == json!(chat)).count()
}

#[tokio::test]
async fn webhook_mode_then_back_to_polling() {
    let dir = tempfile::tempdir().unwrap();
    let tg = FakeTelegram::start().await;
    let port = free_port().unwrap();
    let gw = start(
        dir.path(),
        json!({"botToken": TOKEN, "apiRoot": tg.api_root(), "webhookUrl": "https://bot.example.test/tg-hook",
            "webhookSecret": SECRET, "webhookPath": "/tg-hook", "webhookPort": port}),
    )
    .await;
    let set = tg.wait_for("setWebhook", 1, DEADLINE).await.unwrap();
    assert_eq!(set[0]["url"], "https://bot.example.test/tg-hook");
    assert_eq!(set[0]["secret_token"], SECRET);
    assert!(set[0]["allowed_updates"].as_array().is_some_and(|a| a.contains(&json!("message"))));
    assert_eq!(tg.methods()[0], "getMe");
    assert!(!tg.methods().iter().any(|m| m == "getUpdates" || m == "deleteWebhook"), "no polling in webhook mode: {:?}", tg.methods());

    // The listener's answers.
    assert_eq!(http(port, "GET", "/healthz", None, "").await, (200, "ok".into()));
    let update = tg.dm_update(111, "hello by webhook");
    assert_eq!(http(port, "POST", "/tg-hook", None, &update.to_string()).await, (401, "unauthorized".into()));
    assert_eq!(http(port, "POST", "/tg-hook", Some("wrong"), &update.to_string()).await.0, 401);
    assert_eq!(http(port, "POST", "/tg-hook", Some(SECRET), "{not json").await.0, 400);
    assert_eq!(http(port, "GET", "/tg-hook", Some(SECRET), "").await.0, 404);
    assert_eq!(http(port, "POST", "/elsewhere", Some(SECRET), &update.to_string()).await.0, 404);
    assert_eq!(tg.bodies("sendMessage").len(), 0, "nothing refused reached the agent");

    // Accepted: answered like a polled update; a re-delivery is not answered again.
    assert_eq!(http(port, "POST", "/tg-hook", Some(SECRET), &update.to_string()).await.0, 200);
    tg.wait_until(DEADLINE, |_| sent_to(&tg, 111) == 1).await.unwrap();
    assert!(tg.bodies("sendMessage")[0]["text"].as_str().unwrap().starts_with("OpenClaw: access not configured."));
    assert_eq!(http(port, "POST", "/tg-hook", Some(SECRET), &update.to_string()).await.0, 200);
    // A later update from someone else is answered after it, in order.
    assert_eq!(http(port, "POST", "/tg-hook", Some(SECRET), &tg.dm_update(222, "me too").to_string()).await.0, 200);
    tg.wait_until(DEADLINE, |_| sent_to(&tg, 222) == 1).await.unwrap();
    assert_eq!(sent_to(&tg, 111), 1, "the re-delivered update got no second reply");

    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(GW_TOKEN.into());
    let mut c = within("connect", Client::connect(opts)).await.unwrap().0;
    let st = within("channels.status", c.call("channels.status", json!({}))).await.unwrap();
    let row = &st["channelAccounts"]["telegram"][0];
    assert_eq!((row["mode"].clone(), row["connected"].clone()), (json!("webhook"), json!(true)), "{row}");
    assert!(!st.to_string().contains(SECRET), "the secret is not shown");
    within("close", c.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
    assert!(tg.webhook().is_some());

    // Back to polling: start-up deletes the webhook, and polling works.
    let gw = start(dir.path(), json!({"botToken": TOKEN, "apiRoot": tg.api_root()})).await;
    tg.wait_for("getUpdates", 1, DEADLINE).await.unwrap();
    assert_eq!(tg.webhook(), None, "deleteWebhook on the way back");
    tg.push_dm(333, "polled again");
    tg.wait_until(DEADLINE, |_| sent_to(&tg, 333) == 1).await.unwrap();
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
