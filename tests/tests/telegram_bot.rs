//! The Telegram Bot API client against the fake Bot API, over the gateway's outbound client.

use std::time::Duration;

use openclaw_channels::telegram::api::ApiError;
use openclaw_channels::telegram::bot::{BotApi, CallError, ALLOWED_UPDATES};
use openclaw_channels::telegram::update::UpdateKind;
use openclaw_tests::fake_telegram::{Fault, FakeTelegram, OutboundTransport, TOKEN};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(10);

fn bot(tg: &FakeTelegram, token: &str) -> BotApi<OutboundTransport> {
    tg.bot_api(token)
}

#[tokio::test]
async fn start_up_follows_the_reference_sequence() {
    let tg = FakeTelegram::start().await;
    let info = bot(&tg, TOKEN).start_up().await.expect("start-up");
    assert_eq!((info.id, info.username.as_str()), (123456, "openclaw_test_bot"));
    assert_eq!(tg.methods(), ["getMe", "deleteWebhook", "deleteMyCommands", "deleteMyCommands", "setMyCommands", "setMyCommands"]);
    assert_eq!(tg.bodies("deleteWebhook"), [json!({"drop_pending_updates": false})]);
    let set = tg.bodies("setMyCommands");
    assert_eq!(set[1]["scope"], json!({"type": "all_group_chats"}));
    assert!(set[0]["commands"].as_array().expect("commands").iter().any(|c| c["command"] == "help"));
}

#[tokio::test]
async fn a_bad_token_fails_start_up_with_401_and_never_shows_the_secret() {
    let tg = FakeTelegram::start().await;
    let err = bot(&tg, "42:wrong-secret").start_up().await.expect_err("401");
    assert_eq!(err, CallError::Api(ApiError::Unauthorized));
    assert!(!err.is_retryable());
    assert_eq!(tg.methods(), ["getMe"], "no polling after a 401");
    // Unreachable API root: a transport error whose text keeps the token masked.
    let addr = tg.addr;
    drop(tg);
    let gone = BotApi::new(OutboundTransport::new(), &format!("http://{addr}"), TOKEN);
    let err = gone.start_up().await.expect_err("unreachable");
    assert!(matches!(err, CallError::Transport(_)) && err.is_retryable(), "{err}");
    assert!(!err.to_string().contains("AAFakeToken"), "{err}");
}

#[tokio::test]
async fn polls_with_offsets_and_the_reference_parameters() {
    let tg = FakeTelegram::start().await;
    let api = bot(&tg, TOKEN);
    tg.push_dm(111, "hello");
    let batch = api.get_updates(None, 0).await.expect("poll");
    assert_eq!(batch.max_id(), Some(5000));
    let UpdateKind::Message(m) = &batch.updates[0].kind else { panic!("message") };
    assert_eq!(m.body(), Some("hello"));
    let empty = api.get_updates(Some(5001), 0).await.expect("poll");
    assert!(empty.updates.is_empty());
    let bodies = tg.bodies("getUpdates");
    assert_eq!(bodies[0], json!({"timeout": 0, "limit": 100, "allowed_updates": ALLOWED_UPDATES}));
    assert_eq!(bodies[1]["offset"], 5001);
}

#[tokio::test]
async fn a_frozen_poll_is_abandoned_and_the_next_one_gets_the_update() {
    let tg = FakeTelegram::start().await;
    let api = bot(&tg, TOKEN).with_poll_grace(Duration::from_millis(300));
    tg.script("getUpdates", [Fault::Freeze]);
    tg.push_dm(7, "still here");
    let err = api.get_updates(None, 0).await.expect_err("frozen");
    assert!(matches!(err, CallError::Timeout { .. }) && err.is_retryable(), "{err}");
    tg.wait_hangups(1, DEADLINE).await.expect("the frozen request was hung up");
    let batch = api.get_updates(None, 0).await.expect("resumed");
    assert_eq!(batch.updates.len(), 1);
}

#[tokio::test]
async fn a_dropped_connection_is_a_retryable_transport_error() {
    let tg = FakeTelegram::start().await;
    tg.script("getUpdates", [Fault::Drop]);
    let err = bot(&tg, TOKEN).get_updates(None, 0).await.expect_err("dropped");
    assert!(matches!(err, CallError::Transport(_)) && err.is_retryable(), "{err}");
}

#[tokio::test]
async fn replies_fall_back_to_plain_text_on_bad_entities_and_honour_retry_after() {
    let tg = FakeTelegram::start().await;
    let api = bot(&tg, TOKEN);
    tg.script("sendMessage", [Fault::RetryAfter(0), Fault::BadEntities]);
    let ids = api.send_text(111, "<b>hi", None).await.expect("sent");
    assert_eq!(ids.len(), 1);
    let sent = tg.bodies("sendMessage");
    assert_eq!(sent.len(), 3, "429, then 400 entities, then plain");
    assert_eq!(sent[0], json!({"chat_id": 111, "text": "<b>hi", "parse_mode": "HTML"}));
    assert_eq!(sent[1], sent[0]);
    assert_eq!(sent[2], json!({"chat_id": 111, "text": "<b>hi"}));
}

#[tokio::test]
async fn long_replies_are_chunked_and_topics_kept() {
    let tg = FakeTelegram::start().await;
    let api = bot(&tg, TOKEN);
    let text = format!("{}\n\n{}", "a".repeat(3000), "b".repeat(3000));
    let ids = api.send_text(-100, &text, Some(9)).await.expect("sent");
    assert_eq!(ids.len(), 2);
    let sent = tg.bodies("sendMessage");
    assert_eq!(sent[0]["text"], "a".repeat(3000));
    assert_eq!(sent[1]["text"], "b".repeat(3000));
    assert!(sent.iter().all(|b| b["message_thread_id"] == 9));
    api.typing(111, None).await.expect("typing");
    assert_eq!(tg.bodies("sendChatAction"), [json!({"chat_id": 111, "action": "typing"})]);
}

#[tokio::test]
async fn a_429_beyond_the_attempts_is_returned() {
    let tg = FakeTelegram::start().await;
    tg.script("sendMessage", [Fault::RetryAfter(0), Fault::RetryAfter(0), Fault::RetryAfter(0)]);
    let err = bot(&tg, TOKEN).send_text(1, "x", None).await.expect_err("429");
    assert_eq!(err, CallError::Api(ApiError::RetryAfter { retry_after_s: 0 }));
    assert_eq!(tg.bodies("sendMessage").len(), 3);
}
