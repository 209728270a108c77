//! `openclaw agent` and `openclaw sessions list` through the binary against `openclaw gateway`
//! configured (models.providers, agents.defaults.model) to use a local fake model; and `kill -9`
//! in the middle of a run leaving the session database consistent. Nothing sleeps.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{openclaw, run, Proc};
use openclaw_io::agent::Store;
use openclaw_tests::fake_model::{FakeApi, FakeModel, Script};
use serde_json::Value;

fn write_config(home: &Path, fake: &FakeModel) {
    let dir = home.join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    let config = format!(
        "{{ gateway: {{ auth: {{ mode: 'token', token: 'tok-agent' }} }},
           models: {{ providers: {{ fake: {{ baseUrl: '{}', apiKey: '${{FAKE_KEY}}', api: 'openai-completions' }} }} }},
           agents: {{ defaults: {{ model: 'fake/echo-1' }} }} }}",
        fake.base_url()
    );
    std::fs::write(dir.join("openclaw.json"), config).unwrap();
}

fn start(home: &Path) -> (Proc, u16) {
    let mut cmd = openclaw(home);
    cmd.env("FAKE_KEY", "sk-fake").args(["gateway", "--allow-unconfigured", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    (gw, port)
}

fn client(home: &Path, port: u16, args: &[&str]) -> std::process::Command {
    let mut cmd = openclaw(home);
    // The client reads the same config file, whose `${FAKE_KEY}` must resolve.
    cmd.env("FAKE_KEY", "sk-fake").env("OPENCLAW_GATEWAY_PORT", port.to_string()).args(args);
    cmd
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
}

#[test]
fn agent_turns_and_sessions_list() {
    let rt = runtime();
    let fake = rt.block_on(FakeModel::start(FakeApi::OpenAi, vec![]));
    let home = common::home();
    write_config(home.path(), &fake);
    let (_gw, port) = start(home.path());

    // No target: refused before connecting, as the reference does.
    let (status, stdout, stderr) = run(client(home.path(), port, &["agent", "--message", "hi"]));
    assert!(!status.success());
    assert!(format!("{stdout}{stderr}").contains("No target session selected"), "{stdout}{stderr}");

    // A recipient number is a direct chat: the main session.
    let (status, stdout, stderr) = run(client(home.path(), port, &["agent", "--message", "hi", "--to", "+15555550123", "--json"]));
    assert!(status.success(), "{stderr}");
    let out: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["result"]["payloads"][0]["text"], "echo: hi", "{out:#}");
    assert_eq!(out["status"], "ok");

    let (status, stdout, stderr) = run(client(home.path(), port, &["agent", "-m", "again", "--session-key", "agent:main:ops"]));
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "echo: again\n");

    let (status, stdout, stderr) = run(client(home.path(), port, &["sessions", "list", "--json"]));
    assert!(status.success(), "{stderr}");
    let list: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(list["count"], 2, "{list:#}");
    assert_eq!(list["sessions"][0]["key"], "agent:main:ops");
    let (status, stdout, _) = run(client(home.path(), port, &["sessions", "list"]));
    assert!(status.success());
    assert!(stdout.contains("agent:main:main") && stdout.contains("fake/echo-1"), "{stdout}");
}

#[test]
fn no_model_configured_names_the_key() {
    let home = common::home();
    let (_gw, port) = start(home.path());
    let (status, stdout, stderr) = run(client(home.path(), port, &["agent", "--message", "hi", "--agent", "main"]));
    assert!(!status.success());
    assert!(format!("{stdout}{stderr}").contains("agents.defaults.model"), "{stdout}{stderr}");
}

#[test]
fn kill_9_mid_run_leaves_the_database_consistent() {
    let rt = runtime();
    let fake = rt.block_on(FakeModel::start(FakeApi::OpenAi, vec![Script::Echo, Script::Stall]));
    let home = common::home();
    write_config(home.path(), &fake);
    let (mut gw, port) = start(home.path());
    let (status, _, stderr) = run(client(home.path(), port, &["agent", "--message", "one", "--agent", "main"]));
    assert!(status.success(), "{stderr}");

    // The second turn stalls inside the model stream; kill the gateway there.
    let _waiting = Proc::spawn(client(home.path(), port, &["agent", "--message", "two", "--to", "+15555550123"]));
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.requests().len() < 2 {
        assert!(Instant::now() < deadline, "the second turn never reached the model");
        std::thread::yield_now();
    }
    gw.signal("KILL");
    gw.wait_exit();

    let db = home.path().join(".openclaw/agents/main/sessions.sqlite");
    let store = Store::open(&db).unwrap();
    assert!(store.is_intact().unwrap());
    let sessions = store.load_sessions().unwrap();
    assert_eq!(sessions.len(), 1);
    let jsonl = store.export_jsonl("agent:main:main", None).unwrap().unwrap();
    // The user message of the interrupted turn was recorded when its run started (the
    // reference persists messages as they complete); its reply never was.
    let roles: Vec<String> = jsonl
        .lines()
        .skip(1)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["message"]["role"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(roles, ["user", "assistant", "user"], "the completed turn and the interrupted prompt:\n{jsonl}");
    drop(store);

    // Restarted, the transcript is intact and the conversation goes on.
    let (_gw, port) = start(home.path());
    let (status, stdout, stderr) = run(client(home.path(), port, &["agent", "--message", "three", "--agent", "main"]));
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "echo: three\n");
    let last = fake.requests().pop().unwrap();
    let texts: Vec<&str> = last["messages"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(texts, ["one", "echo: one", "two", "three"]);
}

#[test]
fn setup_writes_the_model_keys_and_the_gateway_uses_them() {
    let rt = runtime();
    let fake = rt.block_on(FakeModel::start(FakeApi::OpenAi, vec![]));
    let home = common::home();
    let dir = home.path().join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("openclaw.json"), "// mine\n{ gateway: { auth: { mode: 'token', token: 'tok-agent' } } }").unwrap();

    let mut bad = openclaw(home.path());
    bad.args(["setup", "--model", "fake/echo-1"]);
    let (status, _, stderr) = run(bad);
    assert!(!status.success());
    assert!(stderr.contains("--base-url"), "{stderr}");

    let mut setup = openclaw(home.path());
    setup.args(["setup", "--model", "fake/echo-1", "--base-url", &fake.base_url(), "--api-key-env", "FAKE_KEY"]);
    let (status, stdout, stderr) = run(setup);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("agents.defaults.model = fake/echo-1"), "{stdout}");
    assert!(stdout.contains("FAKE_KEY is not set") && stdout.contains("comments"), "{stdout}");
    let written: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("openclaw.json")).unwrap()).unwrap();
    assert_eq!(written["gateway"]["auth"]["token"], "tok-agent", "other keys kept");
    assert_eq!(written["models"]["providers"]["fake"]["apiKey"], "${FAKE_KEY}");
    assert_eq!(written["models"]["providers"]["fake"]["api"], "openai-completions");

    let (_gw, port) = start(home.path());
    let (status, stdout, stderr) = run(client(home.path(), port, &["agent", "--message", "hi", "--agent", "main"]));
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "echo: hi\n");
}
