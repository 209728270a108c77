//! Telegram through the `openclaw` binary: the gateway configured with
//! `channels.telegram.apiRoot` at the fake Bot API and a fake model. An unknown DM gets a
//! pairing code; `openclaw pairing list/approve` (on the state database, as the reference CLI);
//! the next DM runs the agent and the reply arrives via `sendMessage`; `openclaw channels
//! status`; `openclaw message send`; `kill -9` in the middle of a turn: after the restart the
//! update is answered exactly once. Nothing sleeps.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{openclaw, run, Proc};
use openclaw_tests::fake_model::{FakeApi, FakeModel, Script};
use openclaw_tests::fake_telegram::{FakeTelegram, TOKEN};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(30);

fn write_config(home: &Path, model: &FakeModel, tg: &FakeTelegram) {
    let dir = home.join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "{{ gateway: {{ auth: {{ mode: 'token', token: 'tok-tg' }} }},
           models: {{ providers: {{ fake: {{ baseUrl: '{}', api: 'openai-completions' }} }} }},
           agents: {{ defaults: {{ model: 'fake/echo-1' }} }},
           channels: {{ telegram: {{ botToken: '{TOKEN}', apiRoot: '{}' }} }} }}",
        model.base_url(),
        tg.api_root()
    );
    std::fs::write(dir.join("openclaw.json"), config).unwrap();
}

fn start(home: &Path) -> (Proc, u16) {
    let mut cmd = openclaw(home);
    cmd.args(["gateway", "--allow-unconfigured", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    (gw, port)
}

fn cli(home: &Path, port: u16, args: &[&str]) -> std::process::Command {
    let mut cmd = openclaw(home);
    cmd.env("OPENCLAW_GATEWAY_PORT", port.to_string()).args(args);
    cmd
}

fn sent_to(tg: &FakeTelegram, chat: i64) -> Vec<String> {
    tg.bodies("sendMessage").into_iter().filter(|b| b["chat_id"] == json!(chat)).map(|b| b["text"].as_str().unwrap_or_default().to_owned()).collect()
}

fn wait_sent(rt: &tokio::runtime::Runtime, tg: &FakeTelegram, chat: i64, n: usize) -> Vec<String> {
    rt.block_on(tg.wait_until(DEADLINE, |_| sent_to(tg, chat).len() >= n)).unwrap();
    sent_to(tg, chat)
}

#[test]
fn pairing_approval_agent_reply_send_and_kill_9_mid_turn() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let tg = rt.block_on(FakeTelegram::start());
    let model = rt.block_on(FakeModel::start(FakeApi::OpenAi, vec![Script::Echo, Script::Stall]));
    let home = common::home();
    write_config(home.path(), &model, &tg);
    let (mut gw, port) = start(home.path());

    // Unknown sender: the pairing reply with a code.
    tg.push_dm(111, "hi");
    let reply = wait_sent(&rt, &tg, 111, 1).remove(0);
    assert!(reply.starts_with("OpenClaw: access not configured.\n\nYour Telegram user id: 111\nPairing code:"), "{reply}");
    let code = reply.split("<pre><code>").nth(1).unwrap().split('\n').next().unwrap().to_owned();

    let (status, stdout, stderr) = run(cli(home.path(), port, &["pairing", "list", "telegram", "--json"]));
    assert!(status.success(), "{stderr}");
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((listed["channel"].as_str(), listed["requests"][0]["code"].as_str(), listed["requests"][0]["id"].as_str()), (Some("telegram"), Some(code.as_str()), Some("111")));
    let (status, _, stderr) = run(cli(home.path(), port, &["pairing", "approve", "telegram", "ZZZZZZZZ"]));
    assert!(!status.success());
    assert!(stderr.contains("No pending pairing request found for code \"ZZZZZZZZ\""), "{stderr}");
    let (status, stdout, stderr) = run(cli(home.path(), port, &["pairing", "approve", "telegram", &code]));
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "Approved telegram sender 111.\n");

    // Approved: the agent answers.
    tg.push_dm(111, "ping");
    assert_eq!(wait_sent(&rt, &tg, 111, 2)[1], "echo: ping");

    let (status, stdout, stderr) = run(cli(home.path(), port, &["channels", "status", "--json"]));
    assert!(status.success(), "{stderr}");
    let st: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(st["channelAccounts"]["telegram"][0]["running"], true, "{st:#}");
    let (status, stdout, _) = run(cli(home.path(), port, &["channels", "status"]));
    assert!(status.success());
    assert!(stdout.contains("- Telegram default: enabled, configured, running, connected"), "{stdout}");

    let (status, stdout, stderr) = run(cli(home.path(), port, &["message", "send", "--target", "111", "--message", "from cli"]));
    assert!(status.success(), "{stderr}");
    assert!(stdout.starts_with("✅ Sent via Telegram. Message ID: "), "{stdout}");
    assert_eq!(sent_to(&tg, 111)[2], "from cli");

    // The next turn stalls inside the model: kill -9 there.
    let update = tg.push_dm(111, "slow");
    let deadline = Instant::now() + DEADLINE;
    while model.requests().len() < 2 {
        assert!(Instant::now() < deadline, "the turn never reached the model");
        rt.block_on(tokio::task::yield_now());
    }
    gw.signal("KILL");
    gw.wait_exit();
    let polls_before = tg.bodies("getUpdates").len();

    // Restarted: the update is answered (once), and polling resumes after it.
    let (_gw, _port) = start(home.path());
    let replies = wait_sent(&rt, &tg, 111, 4);
    assert_eq!(replies[3], "echo: slow");
    rt.block_on(tg.wait_for("getUpdates", polls_before + 1, DEADLINE)).unwrap();
    assert_eq!(tg.bodies("getUpdates")[polls_before]["offset"], json!(update + 1));
    // One more message round-trips, so any duplicate of "slow" would have been sent by now.
    tg.push_dm(111, "after");
    let replies = wait_sent(&rt, &tg, 111, 5);
    assert_eq!(replies[4], "echo: after");
    assert_eq!(replies.iter().filter(|r| *r == "echo: slow").count(), 1, "{replies:?}");
}

/// `openclaw channels status --probe` asks the bot now; `openclaw message send --media` uploads
/// a local file with the text as its caption; `openclaw channels logout` stops the
/// account and removes its token from the config file (the hot reload then shows it
/// unconfigured), as the reference's `channels logout` does.
#[test]
fn channels_status_probe_media_send_and_logout() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let tg = rt.block_on(FakeTelegram::start());
    let model = rt.block_on(FakeModel::start(FakeApi::OpenAi, vec![Script::Echo]));
    let home = common::home();
    write_config(home.path(), &model, &tg);
    let (_gw, port) = start(home.path());
    rt.block_on(tg.wait_for("getUpdates", 1, DEADLINE)).unwrap();

    let (status, stdout, stderr) = run(cli(home.path(), port, &["channels", "status", "--probe", "--json"]));
    assert!(status.success(), "{stderr}");
    let st: Value = serde_json::from_str(&stdout).unwrap();
    let row = &st["channelAccounts"]["telegram"][0];
    assert_eq!((row["probe"]["ok"].clone(), row["probe"]["bot"]["username"].clone()), (json!(true), json!("openclaw_test_bot")), "{st:#}");
    let (status, stdout, _) = run(cli(home.path(), port, &["channels", "status", "--probe"]));
    assert!(status.success());
    assert!(stdout.contains("probe:ok @openclaw_test_bot"), "{stdout}");

    // `message send --media` with a relative path: the CLI makes it absolute, the gateway uploads.
    std::fs::write(home.path().join("note.txt"), "a note").unwrap();
    let mut send = cli(home.path(), port, &["message", "send", "--target", "111", "--media", "note.txt", "--message", "see <i>this</i>", "--json"]);
    send.current_dir(home.path());
    let (status, stdout, stderr) = run(send);
    assert!(status.success(), "{stderr}");
    let sent: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(sent["channel"], "telegram");
    let doc = &tg.bodies("sendDocument")[0];
    assert_eq!((doc["document"]["fileName"].clone(), doc["document"]["data"].clone()), (json!("note.txt"), json!("a note")), "{doc}");
    assert_eq!((doc["caption"].clone(), doc["parse_mode"].clone()), (json!("see <i>this</i>"), json!("HTML")));

    let (status, stdout, stderr) = run(cli(home.path(), port, &["channels", "logout", "--channel", "telegram"]));
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "Cleared saved auth for telegram/default.\n");
    let written = std::fs::read_to_string(home.path().join(".openclaw/openclaw.json")).unwrap();
    assert!(!written.contains(TOKEN), "the token is gone from the file: {written}");
    assert!(written.contains("apiRoot"), "the rest of channels.telegram stays: {written}");
    // The reload applies the file: the account is unconfigured (and stays stopped).
    let deadline = Instant::now() + DEADLINE;
    loop {
        let (status, stdout, stderr) = run(cli(home.path(), port, &["channels", "status", "--json"]));
        assert!(status.success(), "{stderr}");
        let st: Value = serde_json::from_str(&stdout).unwrap();
        let row = &st["channelAccounts"]["telegram"][0];
        if row["configured"] == false {
            assert_eq!(row["running"], false, "{st:#}");
            break;
        }
        assert!(Instant::now() < deadline, "never unconfigured: {st:#}");
    }
    // Nothing left to clear.
    let (status, stdout, stderr) = run(cli(home.path(), port, &["channels", "logout", "--json"]));
    assert!(status.success(), "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out, json!({"channel": "telegram", "accountId": "default", "cleared": false, "envToken": false, "loggedOut": true}));
}
