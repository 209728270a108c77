//! WhatsApp end to end through an embedded gateway with a fake WhatsApp Web at the protocol
//! seam and the fake model: a linked account starts with the gateway; an unknown DM gets the
//! pairing code (pairing store in the state database); once approved, its next DM runs the
//! agent and the reply goes back to that chat; the self-chat is answered; `channels.status`
//! shows the account linked and connected with the plugin's fields; a logout on the phone
//! records `lastDisconnect {loggedOut: true}`, deletes the credentials and does not reconnect;
//! hot reload of `channels.whatsapp` restarts the accounts. Nothing sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use openclaw_channels::whatsapp::creds::CredsStore;
use openclaw_channels::whatsapp::inbound::InboundMessage;
use openclaw_core::config::Config;
use openclaw_io::agent::{AgentConfig, Api, ModelChoice, ModelRef, ProviderConfig};
use openclaw_io::channels::settings::ChannelSettings;
use openclaw_io::channels::store;
use openclaw_io::client::{Client, ConnectOptions};
use openclaw_io::state_db::StateDb;
use openclaw_io::Gateway;
use openclaw_tests::e2e::{gateway, within, TOKEN};
use openclaw_tests::fake_model::{FakeApi, FakeModel, Script};
use openclaw_tests::fake_whatsapp::{creds_for, FakeWhatsApp};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(15);
const OWN: &str = "15550001111";

fn agent(fake: &FakeModel) -> AgentConfig {
    let mut agent = AgentConfig::default();
    agent.providers.insert("fake".into(), ProviderConfig { base_url: fake.base_url(), api_key: None, api: Api::OpenAiCompletions });
    agent.model = Some(ModelChoice { primary: ModelRef { provider: "fake".into(), model: "echo".into() }, fallbacks: vec![] });
    agent.retry.max_attempts = 1;
    agent
}

fn channels(whatsapp: Value) -> ChannelSettings {
    let config: Config = serde_json::from_value(json!({"channels": {"whatsapp": whatsapp}})).unwrap();
    ChannelSettings::project(&config, &|_| None).unwrap()
}

fn dm(id: &str, from: &str, text: &str, from_me: bool) -> InboundMessage {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    InboundMessage {
        id: id.into(),
        chat_jid: format!("{from}@s.whatsapp.net"),
        participant_jid: None,
        from_me,
        text: text.into(),
        timestamp_ms: now,
        push_name: Some("Ann".into()),
        mentioned_jids: vec![],
    }
}

async fn status(gw: &Gateway) -> Value {
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(TOKEN.into());
    let (mut c, _) = within("connect", Client::connect(opts)).await.unwrap();
    let v = within("channels.status", c.call("channels.status", json!({}))).await.unwrap();
    c.close().await;
    v
}

async fn wait_status(gw: &Gateway, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let s = status(gw).await;
        if cond(&s["channelAccounts"]["whatsapp"][0]) {
            return s;
        }
        assert!(tokio::time::Instant::now() < deadline, "{what}: {s}");
        tokio::task::yield_now().await;
    }
}

fn sent_to(fake: &FakeWhatsApp, number: &str) -> Vec<String> {
    let jid = format!("{number}@s.whatsapp.net");
    fake.delivered().into_iter().filter(|d| d.jid == jid).map(|d| d.text).collect()
}

#[tokio::test]
async fn a_linked_account_pairs_answers_and_stops_on_logout() {
    let dir = tempfile::tempdir().unwrap();
    CredsStore::new(dir.path(), "default").unwrap().save(&creds_for(OWN)).unwrap();
    let model = FakeModel::start(FakeApi::OpenAi, vec![Script::Echo, Script::Echo, Script::Echo]).await;
    let fake = FakeWhatsApp::new();
    let mut base = openclaw_io::Settings::default();
    base.channels = channels(json!({}));
    base.agent = agent(&model);
    let (settings, state, link) = (base.clone(), dir.path().display().to_string(), fake.link());
    let gw = gateway(move |c| {
        c.state_dir = Some(state);
        c.settings = settings;
        c.whatsapp_link = Some(link);
    })
    .await;
    fake.wait_until(DEADLINE, |f| f.connects() == [true]).await.unwrap();
    let s = wait_status(&gw, "connected", |a| a["connected"] == true).await;
    let a = &s["channelAccounts"]["whatsapp"][0];
    assert_eq!((a["linked"].as_bool(), a["self"]["e164"].as_str(), a["lifecycle"].as_str()), (Some(true), Some("+15550001111"), Some("ready")), "{a}");
    assert_eq!(s["channels"]["whatsapp"]["statusState"], "linked");
    assert!(s["statusIssues"].as_array().unwrap().is_empty(), "{s}");

    // An unknown sender: the pairing reply with a code from the state database's store.
    fake.inbound(dm("in-1", "15552223333", "hello", false));
    fake.wait_until(DEADLINE, |f| !sent_to(f, "15552223333").is_empty()).await.unwrap();
    let reply = sent_to(&fake, "15552223333").remove(0);
    assert!(reply.starts_with("OpenClaw: access not configured.\n\nYour WhatsApp phone number: +15552223333\nPairing code:"), "{reply}");
    let db = StateDb::in_state_dir(dir.path());
    let pending = store::pairing_list(&db, "whatsapp", 0).unwrap();
    assert_eq!(pending.len(), 1);
    assert!(model.requests().is_empty(), "no agent run for an unpaired sender");

    // Approved (what `openclaw pairing approve whatsapp <code>` does): the agent answers.
    store::pairing_approve(&db, "whatsapp", pending[0].code.as_str(), 0).unwrap();
    fake.inbound(dm("in-2", "15552223333", "what is up", false));
    fake.wait_until(DEADLINE, |f| sent_to(f, "15552223333").len() == 2).await.unwrap();
    assert_eq!(sent_to(&fake, "15552223333")[1], "echo: what is up");

    // The self-chat is answered; our own reply's echo is not taken for a new message.
    fake.inbound(dm("in-3", OWN, "note to self", true));
    fake.wait_until(DEADLINE, |f| sent_to(f, OWN).len() == 1).await.unwrap();
    assert_eq!(sent_to(&fake, OWN), ["echo: note to self"]);
    let echo = fake.delivered().into_iter().find(|d| d.jid == format!("{OWN}@s.whatsapp.net")).unwrap();
    fake.inbound(dm(&echo.id, OWN, &echo.text, true));
    // Events are handled in order: once the next message is answered, the echo was skipped.
    fake.inbound(dm("in-4", "15552223333", "last", false));
    fake.wait_until(DEADLINE, |f| sent_to(f, "15552223333").len() == 3).await.unwrap();
    assert_eq!(model.requests().len(), 3, "one agent run per message, none for the echo");
    assert_eq!(sent_to(&fake, OWN).len(), 1);

    // Removed on the phone: logged out, credentials gone, no reconnect.
    fake.log_out();
    let s = wait_status(&gw, "logged out", |a| a["lastDisconnect"]["loggedOut"] == true && a["running"] == false).await;
    let a = &s["channelAccounts"]["whatsapp"][0];
    assert_eq!((a["linked"].as_bool(), a["lastDisconnect"]["status"].as_u64()), (Some(false), Some(401)), "{a}");
    assert!(!dir.path().join("credentials/whatsapp/default").exists());
    assert_eq!(fake.connects(), [true], "no reconnect after a logout");

    // Hot reload: a changed channels.whatsapp restarts the accounts (linked again first).
    CredsStore::new(dir.path(), "default").unwrap().save(&creds_for(OWN)).unwrap();
    let mut settings = base.clone();
    settings.channels = channels(json!({"dmPolicy": "allowlist", "allowFrom": ["+15552223333"]}));
    gw.apply_settings(&settings).await;
    fake.wait_until(DEADLINE, |f| f.connects() == [true, true]).await.unwrap();
    let s = wait_status(&gw, "reconnected", |a| a["connected"] == true).await;
    assert_eq!(s["channelAccounts"]["whatsapp"][0]["dmPolicy"], "allowlist");

    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
