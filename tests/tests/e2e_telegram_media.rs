//! `send` with media through an embedded gateway in front of the fake Bot API: a URL goes to
//! Telegram as the file (`sendPhoto {photo: <url>}`) with the text as its HTML caption; a local
//! file is uploaded as `multipart/form-data` (`sendDocument`), and a text above the 1024-character
//! caption limit follows as its own message (whose id is the answer's `messageId`);
//! `forceDocument` sends an image as a document; a 429 is waited out and a caption Telegram
//! cannot parse is resent as plain text; a relative path is read from the workspace. Local
//! files are confined as the reference confines them (`channels::local_media`): a file whose
//! bytes are not verified media or text, a symlink out of the allowed directories, a missing
//! file and a directory are refused UNAVAILABLE with the reference's words before anything is
//! sent, and the refusal is cached under its idempotency key. Nothing sleeps.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may unwrap

use std::time::Duration;

use openclaw_channels::backoff::BackoffPolicy;
use openclaw_channels::telegram::account::LoopConfig;
use openclaw_core::config::Config;
use openclaw_io::channels::local_media::MediaPolicy;
use openclaw_io::channels::settings::ChannelSettings;
use openclaw_io::client::{Client, ClientError, ConnectOptions};
use openclaw_tests::e2e::{gateway, within, TOKEN as GW_TOKEN};
use openclaw_tests::fake_telegram::{Fault, FakeTelegram, TOKEN};
use serde_json::{json, Value};

const DEADLINE: Duration = Duration::from_secs(15);
/// A 1×1 PNG (the bytes prove the type; a name does not).
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x02, 0x00,
    0x00, 0x00, 0x90, 0x77, 0x53, 0xde, 0x00, 0x00, 0x00, 0x0c, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0x00, 0x00, 0x03, 0x01, 0x01, 0x00, 0xc9,
    0xfe, 0x92, 0xef, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

async fn send(c: &mut Client, params: Value) -> Result<Value, ClientError> {
    within("send", c.call("send", params)).await
}

fn refusal(r: Result<Value, ClientError>) -> String {
    match r {
        Err(ClientError::Rejected { error, .. }) => format!("{:?}: {}", error.code, error.message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[tokio::test]
async fn media_by_url_and_by_upload_with_captions_as_telegram_allows() {
    let dir = tempfile::tempdir().unwrap();
    let tg = FakeTelegram::start().await;
    let config: Config = serde_json::from_value(json!({"channels": {"telegram": {"botToken": TOKEN, "apiRoot": tg.api_root()}}})).unwrap();
    let mut settings = ChannelSettings::project(&config, &|_| None).unwrap();
    let workspace = dir.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    settings.media = MediaPolicy { state_dir: Some(dir.path().to_path_buf()), workspace: Some(workspace.clone()), host_reads: true, home: None };
    let state = dir.path().display().to_string();
    let gw = gateway(move |c| {
        c.state_dir = Some(state);
        c.settings.channels = settings;
        c.channel_loop = LoopConfig { poll_timeout_s: 1, backoff: BackoffPolicy { initial_ms: 5, max_ms: 50, factor: 1.8, jitter: 0.25 }, seed: 1 };
        c.channel_poll_grace = Duration::from_millis(500);
    })
    .await;
    let mut opts = ConnectOptions::cli(format!("ws://{}", gw.local_addr()));
    opts.token = Some(GW_TOKEN.into());
    let mut c = within("connect", Client::connect(opts)).await.unwrap().0;
    tg.wait_for("getUpdates", 1, DEADLINE).await.unwrap();

    // A URL: Telegram fetches it; the text is the caption. A 429 first, waited out.
    tg.script("sendPhoto", [Fault::RetryAfter(0)]);
    let url = "https://example.test/pics/cat.jpg?size=large";
    let first = send(&mut c, json!({"to": "111", "message": "a <b>cat</b>", "mediaUrl": url, "idempotencyKey": "m-1"})).await.unwrap();
    let photos = tg.bodies("sendPhoto");
    assert_eq!(photos.len(), 2, "the 429, then the photo");
    assert_eq!(photos[1], json!({"chat_id": 111, "photo": url, "caption": "a <b>cat</b>", "parse_mode": "HTML"}));
    assert!(tg.bodies("sendMessage").is_empty(), "the caption carried the text");
    assert_eq!(first["chatId"], "111");
    let id = |v: &Value| v["messageId"].as_str().and_then(|m| m.parse::<i64>().ok()).unwrap();

    // A local file, uploaded; a text too long for a caption follows as a message.
    let pdf = dir.path().join("report.pdf");
    std::fs::write(&pdf, b"%PDF-1.4 fake report").unwrap();
    let long = "r".repeat(1500);
    let sent = send(&mut c, json!({"to": "-100777:topic:5", "message": long, "mediaUrl": pdf.display().to_string(), "idempotencyKey": "m-2"})).await.unwrap();
    let doc = &tg.bodies("sendDocument")[0];
    assert_eq!(doc["document"], json!({"fileName": "report.pdf", "contentType": "application/pdf", "size": 20, "data": "%PDF-1.4 fake report"}));
    assert_eq!((doc["chat_id"].clone(), doc["message_thread_id"].clone()), (json!("-100777"), json!("5")), "{doc}");
    assert!(doc.get("caption").is_none(), "1500 characters do not fit a caption: {doc}");
    let text = &tg.bodies("sendMessage")[0];
    assert_eq!((text["text"].as_str().map(str::len), text["message_thread_id"].clone()), (Some(1500), json!(5)));
    assert_eq!(id(&sent), id(&first) + 2, "the answer is the text's id, after the document's: {sent}");
    // Several media, forceDocument: an image goes as a document; a caption Telegram cannot
    // parse is resent without parse_mode.
    let png = dir.path().join("chart.png");
    std::fs::write(&png, PNG).unwrap();
    tg.script("sendDocument", [Fault::BadEntities]);
    send(
        &mut c,
        json!({"to": "111", "message": "<bad>", "mediaUrls": [png.display().to_string(), "https://example.test/a.mp4"], "forceDocument": true, "idempotencyKey": "m-3"}),
    )
    .await
    .unwrap();
    let docs = tg.bodies("sendDocument");
    assert_eq!(docs.len(), 4, "the report, the refused caption, its plain resend, the video as a document");
    assert_eq!((docs[1]["parse_mode"].clone(), docs[2].get("parse_mode")), (json!("HTML"), None));
    assert_eq!(docs[2]["caption"], "<bad>");
    assert_eq!(docs[2]["document"]["fileName"], "chart.png");
    assert_eq!(docs[3]["document"], "https://example.test/a.mp4");
    assert!(docs[3].get("caption").is_none(), "the caption goes on the first media only");

    // Text only: a plain sendMessage, as before.
    let plain = send(&mut c, json!({"to": "111", "message": "just text", "idempotencyKey": "m-7"})).await.unwrap();
    assert_eq!(tg.bodies("sendMessage").last().unwrap()["text"], "just text");
    assert_eq!(id(&plain), id(&first) + 5, "the ids go on: photo, document, text, chart, video, this: {plain}");

    // A relative path is read from the workspace.
    std::fs::write(workspace.join("pic.png"), PNG).unwrap();
    send(&mut c, json!({"to": "111", "mediaUrl": "pic.png", "idempotencyKey": "m-8"})).await.unwrap();
    let photo = &tg.bodies("sendPhoto")[2];
    assert_eq!((photo["photo"]["fileName"].clone(), photo["photo"]["size"].clone()), (json!("pic.png"), json!(PNG.len())), "{photo}");

    // Refused before anything is sent, in the reference's words.
    let before = tg.requests().len();
    let secret = dir.path().join("id_ed25519");
    std::fs::write(&secret, "-----BEGIN OPENSSH PRIVATE KEY-----\n").unwrap();
    let r = refusal(send(&mut c, json!({"to": "111", "mediaUrl": secret.display().to_string(), "idempotencyKey": "m-4"})).await);
    assert!(r.starts_with("Unavailable: LocalMediaAccessError: Host-local media sends only allow") && r.ends_with("(got unknown)."), "{r}");
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("cat.png"), PNG).unwrap();
    let link = workspace.join("cat.png");
    std::os::unix::fs::symlink(outside.path().join("cat.png"), &link).unwrap();
    let r = refusal(send(&mut c, json!({"to": "111", "mediaUrl": "cat.png", "idempotencyKey": "m-9"})).await);
    assert_eq!(r, format!("Unavailable: LocalMediaAccessError: Local media path is not under an allowed directory: {}", link.display()));
    let missing = dir.path().join("nope.png");
    let r = refusal(send(&mut c, json!({"to": "111", "mediaUrl": missing.display().to_string(), "idempotencyKey": "m-5"})).await);
    assert_eq!(r, "Unavailable: FsSafeError: file not found");
    let r = refusal(send(&mut c, json!({"to": "111", "mediaUrl": dir.path().display().to_string(), "idempotencyKey": "m-6"})).await);
    assert!(r.contains("not a file"), "{r}");
    // The refusal is the key's answer: the same key answers it again once the file exists.
    std::fs::write(&missing, PNG).unwrap();
    let r = refusal(send(&mut c, json!({"to": "111", "mediaUrl": missing.display().to_string(), "idempotencyKey": "m-5"})).await);
    assert_eq!(r, "Unavailable: FsSafeError: file not found");
    let sends = |tg: &FakeTelegram| tg.requests().iter().filter(|r| r.method.starts_with("send")).count();
    assert_eq!(sends(&tg), tg.requests()[..before].iter().filter(|r| r.method.starts_with("send")).count());

    within("close", c.close()).await;
    gw.shutdown("test over", None);
    within("gateway exit", gw.wait()).await.unwrap();
}
