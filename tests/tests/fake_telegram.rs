//! The fake Bot API itself: what the channel tests rely on it to do.

use std::time::Duration;

use openclaw_tests::fake_telegram::{call, Fault, FakeTelegram, TOKEN};
use serde_json::json;

const DEADLINE: Duration = Duration::from_secs(10);

#[tokio::test]
async fn serves_the_start_up_calls_and_records_them() {
    let tg = FakeTelegram::start().await;
    let (status, me) = call(tg.addr, TOKEN, "getMe", &json!({})).await.expect("getMe");
    assert_eq!(status, 200);
    assert_eq!(me["result"]["id"], 123456);
    assert_eq!(me["result"]["username"], "openclaw_test_bot");
    let (status, del) = call(tg.addr, TOKEN, "deleteWebhook", &json!({"drop_pending_updates": false})).await.expect("deleteWebhook");
    assert_eq!((status, del["result"].clone()), (200, json!(true)));
    assert_eq!(tg.methods(), ["getMe", "deleteWebhook"]);
    assert_eq!(tg.bodies("deleteWebhook"), [json!({"drop_pending_updates": false})]);
    let (status, unknown) = call(tg.addr, TOKEN, "sendTeleport", &json!({})).await.expect("unknown");
    assert_eq!((status, unknown["ok"].clone()), (404, json!(false)));
}

#[tokio::test]
async fn unknown_or_revoked_tokens_answer_401() {
    let tg = FakeTelegram::start().await;
    let (status, body) = call(tg.addr, "999:nope", "getMe", &json!({})).await.expect("getMe");
    assert_eq!((status, body["description"].clone()), (401, json!("Unauthorized")));
    tg.revoke(TOKEN);
    assert_eq!(call(tg.addr, TOKEN, "getMe", &json!({})).await.expect("getMe").0, 401);
    tg.add_bot("777:other", "other_bot");
    let (_, me) = call(tg.addr, "777:other", "getMe", &json!({})).await.expect("getMe");
    assert_eq!(me["result"]["id"], 777);
}

#[tokio::test]
async fn get_updates_returns_queued_updates_and_an_offset_confirms_them() {
    let tg = FakeTelegram::start().await;
    let first = tg.push_dm(111, "hello");
    let second = tg.push_dm(111, "again");
    assert_eq!((first, second), (5000, 5001));
    let (_, got) = call(tg.addr, TOKEN, "getUpdates", &json!({"timeout": 0, "limit": 100})).await.expect("poll");
    let ids: Vec<_> = got["result"].as_array().expect("array").iter().map(|u| u["update_id"].clone()).collect();
    assert_eq!(ids, [json!(5000), json!(5001)]);
    assert_eq!(got["result"][0]["message"]["text"], "hello");
    assert_eq!(got["result"][0]["message"]["chat"]["type"], "private");
    // Not confirmed yet: served again; offset 5001 confirms 5000.
    let (_, got) = call(tg.addr, TOKEN, "getUpdates", &json!({"offset": 5001, "timeout": 0})).await.expect("poll");
    assert_eq!(got["result"].as_array().expect("array").len(), 1);
    assert_eq!(got["result"][0]["update_id"], 5001);
    let (_, got) = call(tg.addr, TOKEN, "getUpdates", &json!({"offset": 5002, "timeout": 0})).await.expect("poll");
    assert_eq!(got["result"], json!([]));
}

#[tokio::test]
async fn a_long_poll_waits_until_an_update_is_queued() {
    let tg = std::sync::Arc::new(FakeTelegram::start().await);
    let addr = tg.addr;
    let poll = tokio::spawn(async move { call(addr, TOKEN, "getUpdates", &json!({"timeout": 30, "offset": 5000})).await });
    // The poll is in (recorded) and still open: nothing queued yet.
    tg.wait_for("getUpdates", 1, DEADLINE).await.expect("poll arrives");
    assert!(!poll.is_finished());
    tg.push_dm(42, "wake up");
    let (status, got) = tokio::time::timeout(DEADLINE, poll).await.expect("answered").expect("join").expect("poll");
    assert_eq!(status, 200);
    assert_eq!(got["result"][0]["message"]["text"], "wake up");
}

#[tokio::test]
async fn a_long_poll_with_nothing_queued_answers_empty_at_its_timeout() {
    let tg = FakeTelegram::start().await;
    let (status, got) = call(tg.addr, TOKEN, "getUpdates", &json!({"timeout": 1})).await.expect("poll");
    assert_eq!((status, got["result"].clone()), (200, json!([])));
}

#[tokio::test]
async fn send_message_answers_a_message_and_checks_its_input() {
    let tg = FakeTelegram::start().await;
    let (status, sent) = call(tg.addr, TOKEN, "sendMessage", &json!({"chat_id": 111, "text": "<b>hi</b>", "parse_mode": "HTML"}))
        .await
        .expect("send");
    assert_eq!(status, 200);
    assert_eq!(sent["result"]["chat"]["id"], 111);
    assert!(sent["result"]["message_id"].is_i64());
    assert_eq!(call(tg.addr, TOKEN, "sendMessage", &json!({"chat_id": 111, "text": ""})).await.expect("send").0, 400);
    let long = "x".repeat(4097);
    assert_eq!(call(tg.addr, TOKEN, "sendMessage", &json!({"chat_id": 111, "text": long})).await.expect("send").0, 400);
    assert_eq!(call(tg.addr, TOKEN, "sendChatAction", &json!({"chat_id": 111, "action": "typing"})).await.expect("typing").0, 200);
    assert_eq!(tg.bodies("sendMessage")[0]["parse_mode"], "HTML");
}

#[tokio::test]
async fn scripted_faults_come_in_order_then_normal_service() {
    let tg = FakeTelegram::start().await;
    tg.script("sendMessage", [Fault::RetryAfter(3), Fault::BadEntities, Fault::Unauthorized]);
    let msg = json!({"chat_id": 1, "text": "hi"});
    let (status, body) = call(tg.addr, TOKEN, "sendMessage", &msg).await.expect("429");
    assert_eq!((status, body["parameters"]["retry_after"].clone()), (429, json!(3)));
    let (status, body) = call(tg.addr, TOKEN, "sendMessage", &msg).await.expect("400");
    assert_eq!(status, 400);
    assert!(body["description"].as_str().expect("description").contains("can't parse entities"));
    assert_eq!(call(tg.addr, TOKEN, "sendMessage", &msg).await.expect("401").0, 401);
    assert_eq!(call(tg.addr, TOKEN, "sendMessage", &msg).await.expect("ok").0, 200);
    assert_eq!(tg.bodies("sendMessage").len(), 4);
}

#[tokio::test]
async fn a_dropped_connection_gives_no_answer() {
    let tg = FakeTelegram::start().await;
    tg.script("getUpdates", [Fault::Drop]);
    assert!(call(tg.addr, TOKEN, "getUpdates", &json!({"timeout": 0})).await.is_err());
    assert_eq!(call(tg.addr, TOKEN, "getUpdates", &json!({"timeout": 0})).await.expect("next").0, 200);
}

#[tokio::test]
async fn a_frozen_poll_never_answers_and_counts_the_hang_up() {
    let tg = std::sync::Arc::new(FakeTelegram::start().await);
    tg.script("getUpdates", [Fault::Freeze]);
    tg.push_dm(1, "queued while frozen");
    let addr = tg.addr;
    let poll = tokio::spawn(async move { call(addr, TOKEN, "getUpdates", &json!({"timeout": 0})).await });
    tg.wait_for("getUpdates", 1, DEADLINE).await.expect("poll arrives");
    // A client timeout abandons it: the fake sees the hang-up.
    poll.abort();
    let _ = poll.await;
    tg.wait_hangups(1, DEADLINE).await.expect("the fake sees the hang-up");
    let (_, got) = call(tg.addr, TOKEN, "getUpdates", &json!({"timeout": 0})).await.expect("resumed");
    assert_eq!(got["result"][0]["message"]["text"], "queued while frozen");
}
