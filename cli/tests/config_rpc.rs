//! The `config.*` RPCs over a real socket against `openclaw gateway`: `config.get` (redacted,
//! with its hash), `config.set`/`config.patch` with the `baseHash` conflict guard, validation
//! before writing, and `config.apply` asking for a restart (sentinel persisted, `shutdown`
//! event, the new config served after the reconnect). Nothing sleeps.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::path::Path;
use std::time::Duration;

use common::{openclaw, Proc};
use openclaw_io::client::{Client, ClientError, ConnectOptions};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(30);
const TOKEN: &str = "tok-config-rpc";
const REDACTED: &str = "__OPENCLAW_REDACTED__";

async fn connect(port: u16) -> Client {
    let mut opts = ConnectOptions::cli(format!("ws://127.0.0.1:{port}"));
    opts.token = Some(TOKEN.to_owned());
    opts.timeout = DEADLINE;
    Client::connect(opts).await.unwrap().0
}

fn rejected(err: ClientError) -> (String, String, Value) {
    match err {
        ClientError::Rejected { error, .. } => (error.code.as_str().to_owned(), error.message, error.details.unwrap_or_default()),
        other @ (ClientError::Connect(_) | ClientError::Closed { .. } | ClientError::Timeout | ClientError::Protocol(_)) => {
            panic!("expected a rejection, got {other}")
        }
    }
}

fn start(home: &Path) -> (Proc, u16) {
    let dir = home.join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("openclaw.json"),
        format!(
            "// the operator's notes\n{{\n  gateway: {{ mode: 'local', auth: {{ mode: 'token', token: '{TOKEN}' }}, reload: {{ mode: 'off' }} }},\n  \
             models: {{ providers: {{ p: {{ baseUrl: 'http://127.0.0.1:9/v1', apiKey: '${{OC_RPC_KEY}}' }} }} }},\n}}\n"
        ),
    )
    .unwrap();
    let mut cmd = openclaw(home);
    cmd.env("OC_RPC_KEY", "sk-very-secret").args(["gateway", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    (gw, port)
}

#[test]
fn get_set_patch_apply_over_the_socket() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let home = common::home();
    let (mut gw, port) = start(home.path());
    let path = home.path().join(".openclaw/openclaw.json");

    rt.block_on(async {
        let mut c = connect(port).await;

        // config.get: redacted everywhere (raw text, parsed, resolved), with the file's hash.
        let got = c.call("config.get", json!({})).await.unwrap();
        let text = got.to_string();
        assert!(!text.contains(TOKEN) && !text.contains("sk-very-secret") && !text.contains("OC_RPC_KEY"), "{text}");
        assert_eq!(got["valid"], true);
        assert_eq!(got["exists"], true);
        assert_eq!(got["path"], path.display().to_string());
        assert_eq!(got["config"]["gateway"]["auth"]["token"], REDACTED);
        assert_eq!(got["config"]["models"]["providers"]["p"]["apiKey"], REDACTED);
        assert!(got["raw"].as_str().unwrap().starts_with("// the operator's notes\n"));
        assert!(got["raw"].as_str().unwrap().contains(&format!("token: \"{REDACTED}\"")));
        let hash = got["hash"].as_str().unwrap().to_owned();
        assert!(hash.starts_with("sha256:"), "{hash}");

        // config.patch: a missing or stale baseHash is refused, nothing written.
        let before = std::fs::read_to_string(&path).unwrap();
        let (code, message, _) = rejected(c.call("config.patch", json!({"raw": "{ logging: { level: 'debug' } }"})).await.unwrap_err());
        assert_eq!((code.as_str(), message.as_str()), ("INVALID_REQUEST", "config base hash required for logging; re-run config.get and retry with baseHash"));
        let (code, message, _) = rejected(
            c.call("config.patch", json!({"raw": "{ logging: { level: 'debug' } }", "baseHash": "sha256:stale"})).await.unwrap_err(),
        );
        assert_eq!((code.as_str(), message.as_str()), ("INVALID_REQUEST", "config changed since last load; re-run config.get and retry"));
        // An invalid value is refused with the issues.
        let (code, message, details) = rejected(
            c.call("config.patch", json!({"raw": "{ gateway: { bind: 'everywhere' } }", "baseHash": hash})).await.unwrap_err(),
        );
        assert_eq!(code, "INVALID_REQUEST");
        assert!(message.starts_with("invalid config: gateway.bind: expected one of"), "{message}");
        assert_eq!(details["issues"][0]["path"], "gateway.bind");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), before, "nothing written");

        // A good patch: written, redacted in the answer, no restart for logging.
        let patched = c.call("config.patch", json!({"raw": "{ logging: { level: 'debug' } }", "baseHash": hash})).await.unwrap();
        assert_eq!(patched["ok"], true);
        assert_eq!(patched["changedPaths"], json!(["logging"]));
        assert!(patched.get("restart").is_none(), "{patched}");
        assert_eq!(patched["config"]["gateway"]["auth"]["token"], REDACTED);
        let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(on_disk["logging"]["level"], "debug");
        assert_eq!(on_disk["gateway"]["auth"]["token"], TOKEN, "the stored secret is kept");
        assert_eq!(on_disk["models"]["providers"]["p"]["apiKey"], "${OC_RPC_KEY}", "the reference is kept, not the secret");
        assert!(home.path().join(".openclaw/openclaw.json.bak").exists());
        let hash2 = patched["hash"].as_str().unwrap().to_owned();
        assert_ne!(hash2, hash);
        // The old hash is stale now; the same patch again is a no-op.
        let (_, message, _) = rejected(
            c.call("config.patch", json!({"raw": "{ logging: { level: 'info' } }", "baseHash": hash})).await.unwrap_err(),
        );
        assert!(message.starts_with("config changed since last load"), "{message}");
        let noop = c.call("config.patch", json!({"raw": "{ logging: { level: 'debug' } }", "baseHash": hash2})).await.unwrap();
        assert_eq!(noop["noop"], true);

        // config.set replaces the file; a redacted marker sent back keeps the stored secret.
        let got = c.call("config.get", json!({})).await.unwrap();
        assert_eq!(got["hash"], hash2.as_str());
        let mut whole = got["parsed"].clone();
        whole["gateway"]["controlUi"] = json!({ "allowedOrigins": ["http://ui.example"] });
        // An invalid value names the line and column of its key in the text sent; a syntax
        // error its own position.
        let bad = "{\n  gateway: {\n    bind: 'everywhere',\n  },\n}";
        let (_, message, details) = rejected(c.call("config.set", json!({"raw": bad, "baseHash": hash2})).await.unwrap_err());
        assert!(message.starts_with("invalid config: gateway.bind"), "{message}");
        assert_eq!((details["issues"][0]["line"].as_u64(), details["issues"][0]["column"].as_u64()), (Some(3), Some(5)), "{details}");
        let (_, message, details) = rejected(c.call("config.set", json!({"raw": "{\n  a: 1,\n  b: }", "baseHash": hash2})).await.unwrap_err());
        assert!(message.starts_with("raw is not JSON5"), "{message}");
        assert_eq!(details["issues"][0]["line"], 3, "{details}");
        let set = c.call("config.set", json!({"raw": whole.to_string(), "baseHash": hash2})).await.unwrap();
        assert_eq!(set["ok"], true);
        let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(on_disk["gateway"]["auth"]["token"], TOKEN);
        assert_eq!(on_disk["gateway"]["controlUi"]["allowedOrigins"][0], "http://ui.example");
        let (_, message, _) = rejected(c.call("config.set", json!({"raw": "{}", "baseHash": hash2})).await.unwrap_err());
        assert!(message.starts_with("config changed since last load"), "{message}");

        // config.apply: written, sentinel persisted, restart requested; the gateway restarts.
        let hash3 = set["hash"].as_str().unwrap().to_owned();
        let mut next = on_disk.clone();
        next["gateway"]["auth"]["token"] = json!(REDACTED);
        next["logging"]["level"] = json!("info");
        let applied = c
            .call("config.apply", json!({"raw": next.to_string(), "baseHash": hash3, "note": "from the test"}))
            .await
            .unwrap();
        assert_eq!(applied["ok"], true);
        assert_eq!(applied["restart"]["signal"], "SIGUSR1");
        assert_eq!(applied["restart"]["mode"], "emit");
        assert_eq!(applied["restart"]["delayMs"], 2000, "the default delay lets this answer out first");
        assert_eq!(applied["sentinel"]["persisted"], true);
        assert_eq!(applied["sentinel"]["payload"]["kind"], "config-apply");
        assert_eq!(applied["sentinel"]["payload"]["message"], "from the test");
        let shutdown = tokio::time::timeout(DEADLINE, async {
            while let Some(e) = c.next_event().await {
                if e.event == "shutdown" {
                    return true;
                }
            }
            false
        })
        .await;
        assert_eq!(shutdown.ok(), Some(true), "the gateway announces the restart");
    });
    // The restarted gateway listens on the same port and serves the applied config.
    let (_, again) = gw.wait_listening();
    assert_eq!(again, port);
    rt.block_on(async {
        let mut c = connect(port).await;
        let got = c.call("config.get", json!({})).await.unwrap();
        assert_eq!(got["config"]["logging"]["level"], "info");
        assert_eq!(got["config"]["gateway"]["controlUi"]["allowedOrigins"][0], "http://ui.example");
    });
    let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(on_disk["gateway"]["auth"]["token"], TOKEN, "the redacted marker kept the token");
}

#[test]
fn schema_and_a_broken_file() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let home = common::home();
    let (_gw, port) = start(home.path());
    let path = home.path().join(".openclaw/openclaw.json");
    rt.block_on(async {
        let mut c = connect(port).await;
        let schema = c.call("config.schema", json!({})).await.unwrap();
        assert!(schema["schema"]["properties"]["gateway"].is_object());
        assert_eq!(schema["schema"]["additionalProperties"], false, "closed: unknown keys are refused");
        assert!(schema["version"].is_string() && schema["generatedAt"].is_string() && schema["uiHints"].is_object());
        // The file breaks behind the gateway's back (reload is off): config.get says so.
        std::fs::write(&path, "{ gateway: { mode: 'local', auth: { token: 'x', }, bnid: 'lan' } }").unwrap();
        let got = c.call("config.get", json!({})).await.unwrap();
        assert_eq!(got["valid"], false);
        assert_eq!(got["issues"], json!([{"path": "gateway.bnid", "message": "unknown key \"bnid\" (did you mean \"bind\"?)"}]));
        assert!(!got.to_string().contains("'x'"), "{got}");
    });
}

#[test]
fn patch_keeps_includes_and_their_edits_are_revisions() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let home = common::home();
    let dir = home.path().join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("logging.json5"), "{ level: 'info' }").unwrap();
    std::fs::write(
        dir.join("openclaw.json"),
        format!("{{ gateway: {{ mode: 'local', auth: {{ token: '{TOKEN}' }}, reload: {{ mode: 'off' }} }}, logging: {{ $include: './logging.json5' }} }}"),
    )
    .unwrap();
    let mut cmd = openclaw(home.path());
    cmd.args(["gateway", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    rt.block_on(async {
        let mut c = connect(port).await;
        let got = c.call("config.get", json!({})).await.unwrap();
        assert_eq!(got["config"]["logging"]["level"], "info");
        assert_eq!(got["includedPaths"], json!([dir.join("logging.json5").display().to_string()]));
        let hash = got["hash"].as_str().unwrap().to_owned();
        // An edit of the included file makes the old hash stale.
        std::fs::write(dir.join("logging.json5"), "{ level: 'warn' }").unwrap();
        let (_, message, _) = rejected(
            c.call("config.patch", json!({"raw": "{ logging: { consoleLevel: 'debug' } }", "baseHash": hash})).await.unwrap_err(),
        );
        assert!(message.starts_with("config changed since last load"), "{message}");
        let hash = c.call("config.get", json!({})).await.unwrap()["hash"].as_str().unwrap().to_owned();
        let patched =
            c.call("config.patch", json!({"raw": "{ logging: { consoleLevel: 'debug' } }", "baseHash": hash})).await.unwrap();
        assert_eq!(patched["changedPaths"], json!(["logging.consoleLevel"]));
        assert_eq!(patched["config"]["logging"], json!({"level": "warn", "consoleLevel": "debug"}));
    });
    let on_disk: Value = serde_json::from_str(&std::fs::read_to_string(dir.join("openclaw.json")).unwrap()).unwrap();
    assert_eq!(on_disk["logging"], json!({"$include": "./logging.json5", "consoleLevel": "debug"}), "the include is kept");
}
