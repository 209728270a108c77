//! The WhatsApp channel's accounts together: a linked and an unlinked account, `send` answered
//! NOT_LINKED with the reference's text where no connection is open, the `channels.status`
//! entries, `channels logout`, and a build without a protocol implementation.

#[path = "whatsapp/fake.rs"]
mod fake;

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use fake::{creds_for, FakeHost, FakeWa, Step};
use openclaw_channels::whatsapp::account::{AccountConfig, SendError, SendRequest};
use openclaw_channels::whatsapp::channel::{Channel, NOT_BUILT_IN};
use openclaw_channels::whatsapp::creds::CredsStore;
use openclaw_channels::whatsapp::inbound::Access;
use openclaw_channels::whatsapp::link::LinkEvent;
use openclaw_channels::whatsapp::not_linked_message;
use openclaw_channels::whatsapp::target::normalize_target;

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn dir(name: &str) -> Dir {
    let d = std::env::temp_dir().join(format!("openclaw-wa-channel-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    Dir(d)
}

fn req(key: &str) -> SendRequest {
    SendRequest { idempotency_key: key.into(), target: normalize_target("+1 555 222 3333").expect("target"), text: "hi".into() }
}

fn channel(state: &Dir, link: Option<FakeWa>) -> Channel<FakeWa, FakeHost> {
    let mut ch = Channel::new(&state.0, link);
    for id in ["default", "work"] {
        ch.add_account(AccountConfig::new(id, Access::default(), 7), FakeHost::new()).expect("account");
    }
    ch
}

/// Waits (virtual time does not move) until the account reports `connected`.
async fn until_connected(ch: &Channel<FakeWa, FakeHost>, id: &str) {
    for _ in 0..100_000 {
        if ch.account_status(id, SystemTime::now()).is_some_and(|s| s["connected"] == true) {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("{id} never connected");
}

#[tokio::test(start_paused = true)]
async fn only_linked_accounts_run_and_the_others_answer_not_linked() {
    let state = dir("mixed");
    CredsStore::new(&state.0, "default").expect("store").save(&creds_for("15550001111")).expect("linked");
    let fake = FakeWa::new(vec![Step::Open(vec![LinkEvent::Open])]);
    let mut ch = channel(&state, Some(fake.clone()));
    ch.start_all().expect("start");
    until_connected(&ch, "default").await;
    assert_eq!(fake.connects().len(), 1, "the unlinked account does not connect");

    let sent = ch.send("default", req("k1")).await.expect("sent");
    assert_eq!(sent.to_jid, "15552223333@s.whatsapp.net");
    let err = ch.send("work", req("k2")).await.expect_err("not linked");
    assert_eq!((err.code(), err.to_string()), ("NOT_LINKED", not_linked_message("work")));
    let err = ch.send("nope", req("k3")).await.expect_err("unknown account");
    assert_eq!(err, SendError::NotLinked(not_linked_message("nope")));

    let now = SystemTime::now() + Duration::from_secs(3);
    let default = ch.account_status("default", now).expect("status");
    assert_eq!(default["linked"], true);
    assert_eq!(default["statusState"], "linked");
    assert_eq!(default["running"], true);
    assert_eq!(default["self"], serde_json::json!({"e164": "+15550001111", "jid": "15550001111:7@s.whatsapp.net", "lid": null}));
    assert!(default["authAgeMs"].as_u64().is_some_and(|ms| ms >= 3_000), "{default}");
    assert_eq!(default["lastError"], serde_json::Value::Null);
    let work = ch.account_status("work", now).expect("status");
    assert_eq!((work["linked"].clone(), work["running"].clone(), work["statusState"].clone()), (false.into(), false.into(), "not-linked".into()));
    assert_eq!(work["authAgeMs"], serde_json::Value::Null);
    assert_eq!(work["lastError"], "not linked");
    assert_eq!(ch.account_ids(), ["default", "work"]);

    // channels logout: stopped, credentials gone, sends NOT_LINKED, status not linked.
    assert_eq!(ch.logout("default").await.expect("known").expect("cleared"), serde_json::json!({"cleared": true, "loggedOut": true}));
    assert!(!CredsStore::new(&state.0, "default").expect("store").dir().exists());
    assert_eq!(ch.send("default", req("k4")).await.expect_err("logged out").code(), "NOT_LINKED");
    let default = ch.account_status("default", now).expect("status");
    assert_eq!((default["linked"].clone(), default["running"].clone(), default["connected"].clone()), (false.into(), false.into(), false.into()));
    assert_eq!(default["lastError"], "logged out");
    assert_eq!(ch.logout("work").await.expect("known").expect("nothing to clear"), serde_json::json!({"cleared": false, "loggedOut": false}));
    assert!(ch.logout("nope").await.is_none());
    ch.stop_all().await;
}

#[tokio::test(start_paused = true)]
async fn a_build_without_whatsapp_reports_linked_credentials_but_never_sends() {
    let state = dir("none");
    CredsStore::new(&state.0, "default").expect("store").save(&creds_for("15550001111")).expect("linked");
    let mut ch = channel(&state, None);
    ch.start_all().expect("start");
    let status = ch.account_status("default", SystemTime::now()).expect("status");
    assert_eq!((status["linked"].clone(), status["running"].clone()), (true.into(), false.into()));
    assert_eq!(status["lastError"], NOT_BUILT_IN);
    let err = ch.send("default", req("k")).await.expect_err("no connection");
    assert_eq!((err.code(), err.to_string()), ("NOT_LINKED", not_linked_message("default")));
}
