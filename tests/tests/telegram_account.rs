//! One account's polling loop against the fake Bot API: offsets, restart, frozen polls, errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_channels::backoff::BackoffPolicy;
use openclaw_channels::telegram::account::{run, Event, LoopConfig, Sink};
use openclaw_channels::telegram::api::ApiError;
use openclaw_channels::telegram::bot::{BotApi, BotInfo, CallError};
use openclaw_channels::telegram::update::{Update, UpdateKind};
use openclaw_tests::fake_telegram::{Fault, FakeTelegram, OutboundTransport, TOKEN};
use serde_json::json;
use tokio::sync::Notify;

const DEADLINE: Duration = Duration::from_secs(10);

fn api(tg: &FakeTelegram, token: &str) -> BotApi<OutboundTransport> {
    tg.bot_api(token).with_poll_grace(Duration::from_millis(500))
}

/// Fast loop settings: short polls, millisecond backoff.
fn config() -> LoopConfig {
    LoopConfig { poll_timeout_s: 1, backoff: BackoffPolicy { initial_ms: 5, max_ms: 20, factor: 1.8, jitter: 0.25 }, seed: 1 }
}

/// An in-memory durable sink: the offset per bot id and the handled texts, shared across runs.
#[derive(Default)]
struct Memory {
    offsets: Mutex<Vec<(i64, i64)>>,
    handled: Mutex<Vec<(i64, Option<String>)>>,
    events: Mutex<Vec<Event>>,
    changed: Notify,
}

impl Memory {
    fn handled(&self) -> Vec<(i64, Option<String>)> {
        self.handled.lock().expect("lock").clone()
    }

    async fn wait(&self, done: impl Fn(&Memory) -> bool) {
        let wait = async {
            loop {
                let notified = self.changed.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                if done(self) {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(DEADLINE, wait).await.expect("condition within the deadline");
    }
}

impl Sink for Memory {
    async fn last_update_id(&self, bot: &BotInfo) -> Option<i64> {
        self.offsets.lock().expect("lock").iter().find(|(b, _)| *b == bot.id).map(|(_, id)| *id)
    }

    async fn handle(&self, bot: &BotInfo, update_id: i64, update: Option<Update>) {
        let text = update.and_then(|u| match u.kind {
            UpdateKind::Message(m) => m.body().map(str::to_owned),
            UpdateKind::EditedMessage(_) | UpdateKind::ChannelPost(_) | UpdateKind::Other(_) => None,
        });
        {
            let mut offsets = self.offsets.lock().expect("lock");
            offsets.retain(|(b, _)| *b != bot.id);
            offsets.push((bot.id, update_id));
            self.handled.lock().expect("lock").push((update_id, text));
        }
        self.changed.notify_waiters();
    }

    fn event(&self, event: Event) {
        self.events.lock().expect("lock").push(event);
        self.changed.notify_waiters();
    }
}

#[tokio::test]
async fn updates_are_handled_in_order_and_a_restart_resumes_after_the_last_one() {
    let tg = FakeTelegram::start().await;
    let sink = Arc::new(Memory::default());
    tg.push_dm(111, "one");
    tg.push_dm(111, "two");
    let first = {
        let (api, sink) = (api(&tg, TOKEN), Arc::clone(&sink));
        tokio::spawn(async move { run(&api, &*sink, &config()).await })
    };
    sink.wait(|m| m.handled().len() == 2).await;
    first.abort();
    let _ = first.await;
    // Queued while stopped: the restart picks it up, and nothing is handled twice.
    tg.push_dm(111, "three");
    let polls_before = tg.bodies("getUpdates").len();
    let second = {
        let (api, sink) = (api(&tg, TOKEN), Arc::clone(&sink));
        tokio::spawn(async move { run(&api, &*sink, &config()).await })
    };
    sink.wait(|m| m.handled().len() == 3).await;
    second.abort();
    let _ = second.await;
    assert_eq!(
        sink.handled(),
        [(5000, Some("one".into())), (5001, Some("two".into())), (5002, Some("three".into()))]
    );
    assert_eq!(tg.bodies("getUpdates")[polls_before]["offset"], 5002, "the restart polls from the stored offset");
    let started = tg.methods().iter().filter(|m| *m == "getMe").count();
    assert_eq!(started, 2);
}

#[tokio::test]
async fn an_update_that_does_not_parse_still_moves_the_offset() {
    let tg = FakeTelegram::start().await;
    let sink = Arc::new(Memory::default());
    tg.push_update(json!({"message": {"message_id": 1, "chat": {"id": 1, "type": "planet"}}}));
    tg.push_dm(5, "after");
    let task = {
        let (api, sink) = (api(&tg, TOKEN), Arc::clone(&sink));
        tokio::spawn(async move { run(&api, &*sink, &config()).await })
    };
    sink.wait(|m| m.handled().len() == 2).await;
    task.abort();
    assert_eq!(sink.handled(), [(5000, None), (5001, Some("after".into()))]);
}

#[tokio::test]
async fn a_frozen_poll_and_a_dropped_connection_are_retried_with_backoff() {
    let tg = FakeTelegram::start().await;
    let sink = Arc::new(Memory::default());
    tg.script("getUpdates", [Fault::Freeze, Fault::Drop, Fault::Error { status: 502, description: "Bad Gateway".into() }]);
    tg.push_dm(9, "made it");
    let task = {
        let (api, sink) = (api(&tg, TOKEN), Arc::clone(&sink));
        tokio::spawn(async move { run(&api, &*sink, &config()).await })
    };
    sink.wait(|m| m.handled().len() == 1).await;
    task.abort();
    assert_eq!(tg.hangups(), 1, "the frozen poll was abandoned");
    let events = sink.events.lock().expect("lock").clone();
    let retries: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Error { error, retry_in: Some(_) } => Some(error.clone()),
            Event::Error { retry_in: None, .. } | Event::Started(_) | Event::Polled => None,
        })
        .collect();
    assert_eq!(retries.len(), 3, "{events:?}");
    assert!(matches!(retries[0], CallError::Timeout { .. }));
    assert!(matches!(retries[1], CallError::Transport(_)));
    assert!(matches!(retries[2], CallError::Api(ApiError::Other { code: 502, .. })));
}

#[tokio::test]
async fn a_revoked_token_ends_the_loop_with_401() {
    let tg = FakeTelegram::start().await;
    let sink = Arc::new(Memory::default());
    let api = api(&tg, TOKEN);
    tg.revoke(TOKEN);
    let err = tokio::time::timeout(DEADLINE, run(&api, &*sink, &config())).await.expect("the loop ends");
    assert_eq!(err, CallError::Api(ApiError::Unauthorized));
    assert!(matches!(sink.events.lock().expect("lock").last(), Some(Event::Error { retry_in: None, .. })));
    assert_eq!(tg.methods(), ["getMe"]);
}

#[tokio::test]
async fn a_token_for_another_bot_does_not_inherit_the_offset() {
    let tg = FakeTelegram::start().await;
    let sink = Arc::new(Memory::default());
    sink.offsets.lock().expect("lock").push((123456, 9000));
    tg.add_bot("777:other", "other_bot");
    tg.push_dm(1, "for the new bot");
    let task = {
        let (api, sink) = (api(&tg, "777:other"), Arc::clone(&sink));
        tokio::spawn(async move { run(&api, &*sink, &config()).await })
    };
    sink.wait(|m| m.handled().len() == 1).await;
    task.abort();
    assert_eq!(sink.handled(), [(5000, Some("for the new bot".into()))]);
    assert!(tg.bodies("getUpdates")[0].get("offset").is_none());
}
