//! WhatsApp through the `openclaw` binary.
//!
//! 1. The gateway binary with `channels.whatsapp` configured but not linked (this build has no
//!    WhatsApp protocol implementation, so nothing can link): `openclaw message send --channel
//!    whatsapp` fails as the reference CLI shows it (exit 1, the "No active WhatsApp Web
//!    listener" text; `--json`: code NOT_LINKED), `channels status` reports the account not
//!    linked with its status issue, `channels login` says why it cannot, `channels logout`
//!    has nothing to delete.
//! 2. A gateway with a fake WhatsApp Web injected at the protocol seam, driven by the binary:
//!    `openclaw channels login` draws the QR, draws the rotated one, ends "Linked" once the
//!    phone scanned it (credentials 0600 in the state dir, the account connected); `message
//!    send` delivers once (a retry with the same key sends nothing); `channels logout`
//!    deletes the credentials and the next send is NOT_LINKED again.
#![allow(clippy::unwrap_used)] // tests may unwrap

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use common::{openclaw, run, Proc};
use openclaw_core::config::Config;
use openclaw_io::channels::settings::ChannelSettings;
use openclaw_tests::e2e::{gateway, within, TOKEN};
use openclaw_tests::fake_whatsapp::FakeWhatsApp;
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(30);
const NOT_LINKED_TEXT: &str = "OutboundDeliveryError: No active WhatsApp Web listener (account: default). Start the gateway, then link WhatsApp with: openclaw channels login --channel whatsapp --account default.";

fn cli(home: &Path, port: u16, args: &[&str]) -> std::process::Command {
    let mut cmd = openclaw(home);
    cmd.env("OPENCLAW_GATEWAY_PORT", port.to_string()).args(args);
    cmd
}

#[test]
fn configured_but_not_linked_answers_not_linked_through_the_binary() {
    let home = common::home();
    let dir = home.path().join(".openclaw");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("openclaw.json"), "{ gateway: { auth: { mode: 'token', token: 'tok-wa' } }, channels: { whatsapp: { dmPolicy: 'pairing' } } }").unwrap();
    let mut cmd = openclaw(home.path());
    cmd.args(["gateway", "--allow-unconfigured", "--port", "0"]);
    let mut gw = Proc::spawn(cmd);
    let (_, port) = gw.wait_listening();
    let h = home.path();

    let (status, stdout, stderr) = run(cli(h, port, &["message", "send", "--channel", "whatsapp", "--target", "+15551234567", "--message", "hi"]));
    assert_eq!(status.code(), Some(1), "{stdout}{stderr}");
    assert_eq!((stdout.as_str(), stderr.trim_end()), ("", NOT_LINKED_TEXT));

    let (status, stdout, _) = run(cli(h, port, &["message", "send", "--channel", "whatsapp", "--target", "+15551234567", "--message", "hi", "--json"]));
    assert_eq!(status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((v["ok"].as_bool(), v["error"]["code"].as_str(), v["error"]["message"].as_str()), (Some(false), Some("NOT_LINKED"), Some(NOT_LINKED_TEXT)));

    // A bad target is the caller's fault (INVALID_REQUEST), in the reference's words.
    let (status, stdout, _) = run(cli(h, port, &["message", "send", "--channel", "whatsapp", "--target", "someone@example.com", "--message", "hi", "--json"]));
    assert_eq!(status.code(), Some(1));
    let v: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!((v["error"]["code"].as_str(), v["error"]["message"].as_str()), (Some("INVALID_REQUEST"), Some("Delivering to WhatsApp requires target <E.164|group JID|newsletter JID>")));

    let (status, stdout, stderr) = run(cli(h, port, &["channels", "status", "--json"]));
    assert!(status.success(), "{stderr}");
    let v: Value = serde_json::from_str(&stdout).unwrap();
    let account = &v["channelAccounts"]["whatsapp"][0];
    assert_eq!((account["accountId"].as_str(), account["linked"].as_bool(), account["running"].as_bool()), (Some("default"), Some(false), Some(false)));
    assert_eq!(account["dmPolicy"], "pairing");
    assert!(account["lastError"].as_str().unwrap().contains("not built into this binary"), "{account}");
    assert_eq!(v["channels"]["whatsapp"]["statusState"], "not-linked");
    assert_eq!(v["statusIssues"][0]["message"], "Not linked (no WhatsApp Web session).");
    let (_, text, _) = run(cli(h, port, &["channels", "status"]));
    assert!(text.contains("- WhatsApp default: enabled, not linked, stopped, disconnected"), "{text}");

    let (status, _, stderr) = run(cli(h, port, &["channels", "login", "--channel", "whatsapp"]));
    assert_eq!(status.code(), Some(1));
    assert!(stderr.contains("Failed to start WhatsApp login: WhatsApp support is not built into this binary"), "{stderr}");
    let (status, stdout, stderr) = run(cli(h, port, &["channels", "logout", "--channel", "whatsapp"]));
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "No saved auth was cleared for whatsapp/default. Other credentials may still be active.\n");

    gw.signal("TERM");
    assert!(gw.wait_exit().success());
}

#[test]
fn qr_login_send_and_logout_through_the_binary_over_a_fake_whatsapp() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let home = common::home();
    let state = home.path().join("state");
    let fake = FakeWhatsApp::new();
    let config: Config = serde_json::from_value(json!({"channels": {"whatsapp": {"dmPolicy": "pairing"}}})).unwrap();
    let settings = ChannelSettings::project(&config, &|_| None).unwrap();
    let (link, dir) = (fake.link(), state.display().to_string());
    let gw = rt.block_on(gateway(move |c| {
        c.state_dir = Some(dir);
        c.settings.channels = settings;
        c.whatsapp_link = Some(link);
    }));
    let url = format!("ws://{}", gw.local_addr());
    let cli = |args: &[&str]| {
        let mut cmd = openclaw(home.path());
        cmd.args(args).args(["--url", &url, "--token", TOKEN]);
        cmd
    };

    // Nothing linked yet: NOT_LINKED.
    let (status, _, stderr) = run(cli(&["message", "send", "--channel", "whatsapp", "--target", "+15551234567", "--message", "hi"]));
    assert_eq!((status.code(), stderr.trim_end()), (Some(1), NOT_LINKED_TEXT));

    let mut login = Proc::spawn(cli(&["channels", "login", "--channel", "whatsapp"]));
    login.wait_line("Scan this QR in WhatsApp → Linked Devices.");
    let first = login.all_stdout();
    assert!(first.lines().filter(|l| l.contains('█')).count() > 10, "a QR is drawn: {first}");
    fake.rotate_qr();
    login.wait_line("QR refreshed. Scan the latest code in WhatsApp → Linked Devices.");
    let second = login.all_stdout()[first.len()..].to_owned();
    let qr_of = |s: &str| s.lines().filter(|l| l.contains('█')).collect::<Vec<_>>().join("\n");
    assert_ne!(qr_of(&first), qr_of(&second), "the rotated QR is drawn anew");
    fake.scan("15550001111");
    login.wait_line("✅ Linked! WhatsApp is ready.");
    assert!(login.wait_exit().success(), "{}", login.stderr());

    let creds = state.join("credentials/whatsapp/default/creds.json");
    assert_eq!(std::fs::metadata(&creds).unwrap().permissions().mode() & 0o777, 0o600);
    assert_eq!(std::fs::metadata(creds.parent().unwrap()).unwrap().permissions().mode() & 0o777, 0o700);
    // The login connected without credentials, reconnected with them after the 515, and the
    // account started with them.
    rt.block_on(fake.wait_until(DEADLINE, |f| f.connects() == [false, true, true])).unwrap();

    let status_of = || {
        let (_, stdout, _) = run(cli(&["channels", "status", "--json"]));
        serde_json::from_str::<Value>(&stdout).unwrap()["channelAccounts"]["whatsapp"][0].clone()
    };
    let account = status_of();
    assert_eq!((account["linked"].as_bool(), account["self"]["e164"].as_str()), (Some(true), Some("+15550001111")), "{account}");

    // A send, and the same send retried: one message on the server.
    let send = |key: &str| {
        rt.block_on(async {
            let mut opts = openclaw_io::client::ConnectOptions::cli(url.clone());
            opts.token = Some(TOKEN.into());
            let (mut c, _) = within("connect", openclaw_io::client::Client::connect(opts)).await.unwrap();
            let r = within("send", c.call("send", json!({"channel": "whatsapp", "to": "whatsapp:+1 (555) 123-4567", "message": "hello", "idempotencyKey": key}))).await;
            c.close().await;
            r
        })
    };
    let (status, stdout, stderr) = run(cli(&["message", "send", "--channel", "whatsapp", "--target", "+15551234567", "--message", "hi"]));
    assert!(status.success(), "{stderr}");
    assert!(stdout.starts_with("✅ Sent via WhatsApp. Message ID: 3EB0"), "{stdout}");
    let a = send("k-1").unwrap();
    let b = send("k-1").unwrap();
    assert_eq!(a, b);
    assert_eq!((a["channel"].as_str(), a["toJid"].as_str(), a["runId"].as_str()), (Some("whatsapp"), Some("15551234567@s.whatsapp.net"), Some("k-1")));
    let delivered = fake.delivered();
    assert_eq!(delivered.iter().map(|d| (d.jid.as_str(), d.text.as_str())).collect::<Vec<_>>(), [("15551234567@s.whatsapp.net", "hi"), ("15551234567@s.whatsapp.net", "hello")]);
    assert_eq!(fake.attempts(), 2, "the retry was answered without sending");

    let (status, stdout, stderr) = run(cli(&["channels", "logout", "--channel", "whatsapp"]));
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, "Cleared saved auth for whatsapp/default.\n");
    assert!(!state.join("credentials/whatsapp/default").exists());
    let account = status_of();
    assert_eq!((account["linked"].as_bool(), account["running"].as_bool()), (Some(false), Some(false)), "{account}");
    let (status, _, stderr) = run(cli(&["message", "send", "--channel", "whatsapp", "--target", "+15551234567", "--message", "again"]));
    assert_eq!((status.code(), stderr.trim_end()), (Some(1), NOT_LINKED_TEXT));

    gw.shutdown("test over", None);
    rt.block_on(within("gateway exit", gw.wait())).unwrap();
}
