//! Local media paths in `send` against the reference (openclaw 2026.9.6) and ours, each in front
//! of its own fake Bot API, with the same files: which local files each gateway agrees to send
//! and, for those it refuses, the same error code and text (the state directory blanked). Two
//! configurations: the default (the allowed roots plus the file's own directory, whose files
//! must be verified media or validated text) and `tools.fs.workspaceOnly: true` (the roots
//! only). Covered: a workspace image, text and extension-less file, a relative path (from the
//! workspace), `..` in the path, a `file://` URL, files outside the roots (an image, a text, an
//! extension-less secret, text named `.png`, JSON), a symlink from the workspace to outside, a
//! missing file.
//!
//! "Agreed to send" is, for the reference, an error from the delivery itself (its multipart
//! upload is not one the fake parses: `OutboundDeliveryError: Network request for 'sendPhoto'
//! failed!`), which it only reaches after its access checks passed; for ours, a success.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::path::{Path, PathBuf};
use std::time::Duration;

use openclaw_channels::backoff::BackoffPolicy;
use openclaw_channels::telegram::account::LoopConfig;
use openclaw_core::config::Config;
use openclaw_io::client::{Client, ClientError, ConnectOptions};
use openclaw_io::settings::Settings;
use openclaw_tests::e2e::{gateway, within, TOKEN};
use openclaw_tests::fake_telegram::{FakeTelegram, TOKEN as BOT_TOKEN};
use openclaw_tests::reference::{Reference, PEER_START};
use serde_json::{json, Value};

const STEP: Duration = Duration::from_secs(15);

/// A 1×1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00,
    0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0xc9,
    0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// What a gateway did with one media path.
#[derive(Debug, PartialEq)]
enum Verdict {
    Sent,
    Refused { code: String, message: String },
}

/// The files outside every root (shared by both gateways).
fn outside_files(out: &Path) {
    std::fs::write(out.join("out.png"), PNG).unwrap();
    std::fs::write(out.join("out.txt"), "outside text\n").unwrap();
    std::fs::write(out.join("secret"), "secret text\n").unwrap();
    std::fs::write(out.join("fake.png"), "secret text\n").unwrap();
    std::fs::write(out.join("a.json"), "{\"a\":1}\n").unwrap();
}

/// The files in a gateway's workspace.
fn workspace_files(ws: &Path, out: &Path) {
    std::fs::create_dir_all(ws).unwrap();
    std::fs::write(ws.join("in.png"), PNG).unwrap();
    std::fs::write(ws.join("in.txt"), "hello text\n").unwrap();
    std::fs::write(ws.join("noext"), "hello text\n").unwrap();
    std::os::unix::fs::symlink(out.join("out.png"), ws.join("link.png")).unwrap();
}

/// The media paths tried, given a gateway's workspace.
fn cases(ws: &Path, out: &Path) -> Vec<String> {
    let p = |p: PathBuf| p.display().to_string();
    vec![
        p(ws.join("in.png")),
        p(ws.join("in.txt")),
        p(ws.join("noext")),
        "in.png".into(),
        p(ws.join("../workspace/in.png")),
        p(ws.join("link.png")),
        p(out.join("out.png")),
        format!("file://{}", out.join("out.png").display()),
        p(out.join("out.txt")),
        p(out.join("secret")),
        p(out.join("fake.png")),
        p(out.join("a.json")),
        p(out.join("missing.png")),
    ]
}

fn blank(message: &str, state: &Path) -> String {
    message.replace(&state.display().to_string(), "<STATE>")
}

/// The reference's verdicts (its state directory is `$HOME/.openclaw`).
async fn theirs(out: &Path, workspace_only: bool) -> Vec<Verdict> {
    let tg = FakeTelegram::start().await;
    let mut config = json!({ "channels": { "telegram": { "botToken": BOT_TOKEN, "apiRoot": tg.api_root() } } });
    if workspace_only {
        config["tools"] = json!({"fs": {"workspaceOnly": true}});
    }
    let reference = Reference::start(&config).await;
    tg.wait_for("getUpdates", 1, PEER_START).await.unwrap();
    let state = reference.state_dir();
    workspace_files(&state.join("workspace"), out);
    let mut verdicts = Vec::new();
    for (i, media) in cases(&state.join("workspace"), out).into_iter().enumerate() {
        let params = json!({"to": "111", "message": "m", "mediaUrl": media, "idempotencyKey": format!("k{i}")});
        verdicts.push(match reference.call_with("send", &params).await {
            Ok(_) => Verdict::Sent,
            Err(output) => {
                let start = output.find('{').unwrap_or_else(|| panic!("{media}: {output}"));
                let answer: Value = serde_json::Deserializer::from_str(&output[start..]).into_iter().next().unwrap().unwrap();
                let message = answer["error"]["message"].as_str().unwrap_or_default().to_owned();
                if message.starts_with("OutboundDeliveryError: Network request for") {
                    Verdict::Sent
                } else {
                    Verdict::Refused { code: answer["error"]["code"].as_str().unwrap_or_default().to_owned(), message: blank(&message, &state) }
                }
            }
        });
    }
    verdicts
}

/// Ours, configured the same way (its state directory a temporary one).
async fn ours(out: &Path, workspace_only: bool) -> Vec<Verdict> {
    let tg = FakeTelegram::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join(".openclaw");
    let mut config = json!({ "channels": { "telegram": { "botToken": BOT_TOKEN, "apiRoot": tg.api_root() } } });
    if workspace_only {
        config["tools"] = json!({"fs": {"workspaceOnly": true}});
    }
    let config: Config = serde_json::from_value(config).unwrap();
    let home = dir.path().display().to_string();
    let settings = Settings::project(&config, &state, move |n| (n == "HOME").then(|| home.clone())).unwrap();
    let state_dir = state.display().to_string();
    let gw = gateway(move |c| {
        c.state_dir = Some(state_dir);
        c.settings.channels = settings.channels;
        c.channel_loop = LoopConfig { poll_timeout_s: 1, backoff: BackoffPolicy { initial_ms: 5, max_ms: 50, factor: 1.8, jitter: 0.25 }, seed: 1 };
        c.channel_poll_grace = Duration::from_millis(500);
    })
    .await;
    tg.wait_for("getUpdates", 1, STEP).await.unwrap();
    workspace_files(&state.join("workspace"), out);
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(TOKEN.into());
    let mut c = within("connect", Client::connect(opts)).await.unwrap().0;
    let mut verdicts = Vec::new();
    for (i, media) in cases(&state.join("workspace"), out).into_iter().enumerate() {
        let params = json!({"to": "111", "message": "m", "mediaUrl": media, "idempotencyKey": format!("k{i}")});
        verdicts.push(match within("send", c.call("send", params)).await {
            Ok(_) => Verdict::Sent,
            Err(ClientError::Rejected { error, .. }) => Verdict::Refused { code: error.code.as_str().to_owned(), message: blank(&error.message, &state) },
            Err(e) => panic!("{media}: {e}"),
        });
    }
    within("close", c.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
    verdicts
}

async fn compare(workspace_only: bool) {
    let out = tempfile::tempdir().unwrap();
    outside_files(out.path());
    let theirs = theirs(out.path(), workspace_only).await;
    let ours = ours(out.path(), workspace_only).await;
    let names = cases(Path::new("<STATE>/workspace"), out.path());
    let mut differences = Vec::new();
    for ((name, o), t) in names.iter().zip(&ours).zip(&theirs) {
        if o != t {
            differences.push(format!("{name}\n  ours:   {o:?}\n  theirs: {t:?}"));
        }
    }
    assert!(differences.is_empty(), "workspaceOnly={workspace_only}:\n{}", differences.join("\n"));
    // The scenario is not vacuous: both refuse some and send some.
    assert!(theirs.contains(&Verdict::Sent) && theirs.iter().any(|v| matches!(v, Verdict::Refused { .. })), "{theirs:?}");
}

#[tokio::test]
async fn local_media_paths_are_confined_as_the_reference_confines_them() {
    compare(false).await;
}

#[tokio::test]
async fn with_workspace_only_local_media_stays_in_the_roots_as_in_the_reference() {
    compare(true).await;
}
