//! A scriptable fake Telegram Bot API on `127.0.0.1:0`, for the channel tests (point
//! `channels.telegram.apiRoot` at [`FakeTelegram::api_root`]).
//!
//! Every request is recorded (HTTP verb, Bot API method, JSON body; a GET's query is read as the
//! body). Served: `getMe`, `deleteWebhook`, `deleteMyCommands`, `setMyCommands`, `getUpdates`
//! (queued updates, confirmed by `offset`; a long poll waits until an update is queued or its
//! `timeout` passes), `sendMessage`, `sendChatAction`, `sendPhoto`/`sendDocument`/
//! `sendAnimation`/`sendVideo`/`sendAudio` (a URL, or a `multipart/form-data` upload recorded as
//! `{fileName, contentType, size, data}`), `setWebhook` (kept until `deleteWebhook`; `getUpdates`
//! answers 409 while a webhook is set, as Telegram does). Any other method answers 404 like the
//! real API. A request for a token the fake does not know answers 401.
//!
//! Faults are scripted per method with [`FakeTelegram::script`]: each request of that method takes
//! the next [`Fault`] before being served normally.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openclaw_channels::telegram::bot::BotApi;
use openclaw_io::outbound::{Outbound, OutboundConfig};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinSet;

/// A scripted misbehaviour for one request of a method.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// `429 Too Many Requests: retry after <s>` with `parameters.retry_after`.
    RetryAfter(u64),
    /// `400 Bad Request: can't parse entities: …` (what HTML parse mode gets for bad markup).
    BadEntities,
    /// `401 Unauthorized` (a revoked token).
    Unauthorized,
    /// Any Bot API error: status and description.
    Error { status: u16, description: String },
    /// Never answers; waits until the client hangs up (a frozen long poll).
    Freeze,
    /// Closes the connection without an answer (a connection dropped mid-request).
    Drop,
    /// Answers normally, but only after this delay (a slow poll). The delay is the fake's, never
    /// the test's: tests still wait on conditions.
    Slow(Duration),
}

/// One request the fake received.
#[derive(Clone, Debug, PartialEq)]
pub struct Recorded {
    /// `GET` or `POST`.
    pub http: String,
    /// The Bot API method (`getMe`, `sendMessage`, …).
    pub method: String,
    /// The token from the path (`/bot<token>/<method>`).
    pub token: String,
    /// The JSON body (`{}` when empty; a GET's query parameters as strings).
    pub body: Value,
}

struct Bot {
    id: i64,
    username: String,
}

struct State {
    bots: BTreeMap<String, Bot>,
    requests: Vec<Recorded>,
    /// Updates not yet confirmed (an offset above their id confirms them).
    updates: VecDeque<Value>,
    next_update_id: i64,
    next_message_id: i64,
    scripts: BTreeMap<String, VecDeque<Fault>>,
    /// Connections whose client went away while frozen.
    hangups: usize,
    /// The URL of `setWebhook` until `deleteWebhook` (`getUpdates` answers 409 meanwhile).
    webhook: Option<String>,
}

/// A running fake; stops when dropped.
pub struct FakeTelegram {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Woken when an update is queued (long polls wait on it).
    updates_queued: Arc<Notify>,
    /// Woken after every recorded request (tests wait on it).
    recorded: Arc<Notify>,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

/// The bot token the captures use.
pub const TOKEN: &str = "123456:AAFakeTokenForLoopbackTestsOnly0000";

impl FakeTelegram {
    /// Starts a fake that knows the bot of [`TOKEN`] (`@openclaw_test_bot`); the first queued
    /// update gets id 5000.
    pub async fn start() -> FakeTelegram {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake telegram");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            bots: BTreeMap::new(),
            requests: Vec::new(),
            updates: VecDeque::new(),
            next_update_id: 5000,
            next_message_id: 1,
            scripts: BTreeMap::new(),
            hangups: 0,
            webhook: None,
        }));
        let fake = FakeTelegram {
            addr,
            state,
            updates_queued: Arc::new(Notify::new()),
            recorded: Arc::new(Notify::new()),
            tasks: Arc::new(Mutex::new(JoinSet::new())),
        };
        fake.add_bot(TOKEN, "openclaw_test_bot");
        let (st, uq, rec, ts) =
            (Arc::clone(&fake.state), Arc::clone(&fake.updates_queued), Arc::clone(&fake.recorded), Arc::clone(&fake.tasks));
        fake.tasks.lock().expect("lock").spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let conn = Conn { state: Arc::clone(&st), updates_queued: Arc::clone(&uq), recorded: Arc::clone(&rec) };
                ts.lock().expect("lock").spawn(conn.serve(stream));
            }
        });
        fake
    }

    /// `http://127.0.0.1:P` (the Bot API root: requests go to `<root>/bot<token>/<method>`).
    pub fn api_root(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Accepts another token (its bot id is the number before `:`), e.g. for token rotation.
    pub fn add_bot(&self, token: &str, username: &str) {
        let id = token.split(':').next().and_then(|s| s.parse().ok()).unwrap_or(0);
        self.state.lock().expect("lock").bots.insert(token.into(), Bot { id, username: username.into() });
    }

    /// The webhook URL set by `setWebhook` and not yet deleted.
    pub fn webhook(&self) -> Option<String> {
        self.state.lock().expect("lock").webhook.clone()
    }

    /// An update as Telegram would post it to a webhook (`{update_id, message}` of a DM from
    /// `from`), with a fresh id; not queued for `getUpdates`.
    pub fn dm_update(&self, from: i64, text: &str) -> Value {
        let id = {
            let mut st = self.state.lock().expect("lock");
            st.next_update_id += 1;
            st.next_update_id - 1
        };
        json!({"update_id": id, "message": {"message_id": id, "date": 1796531475, "text": text,
            "chat": {"id": from, "type": "private", "first_name": "Ann"}, "from": {"id": from, "is_bot": false, "first_name": "Ann"}}})
    }

    /// Forgets a token: its requests answer 401 from now on (a revoked token).
    pub fn revoke(&self, token: &str) {
        self.state.lock().expect("lock").bots.remove(token);
    }

    /// Queues the next `n` faults for `method` (in order; later requests are served normally).
    pub fn script(&self, method: &str, faults: impl IntoIterator<Item = Fault>) {
        self.state.lock().expect("lock").scripts.entry(method.into()).or_default().extend(faults);
    }

    /// Queues an update whose body is `payload` (e.g. `{"message": {…}}`); returns its id.
    pub fn push_update(&self, mut payload: Value) -> i64 {
        let id = {
            let mut st = self.state.lock().expect("lock");
            let id = st.next_update_id;
            st.next_update_id += 1;
            payload["update_id"] = json!(id);
            st.updates.push_back(payload);
            id
        };
        self.updates_queued.notify_waiters();
        id
    }

    /// Queues a private text message from user `from` (its chat id is the user id).
    pub fn push_dm(&self, from: i64, text: &str) -> i64 {
        let message_id = self.take_message_id();
        self.push_update(json!({"message": {
            "message_id": message_id,
            "from": {"id": from, "is_bot": false, "first_name": "Tester", "username": format!("user{from}")},
            "chat": {"id": from, "type": "private", "first_name": "Tester"},
            "date": 1796531474,
            "text": text,
        }}))
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("lock").requests.clone()
    }

    /// The bodies of the requests of one method, in order.
    pub fn bodies(&self, method: &str) -> Vec<Value> {
        self.requests().into_iter().filter(|r| r.method == method).map(|r| r.body).collect()
    }

    /// The methods called so far, in order.
    pub fn methods(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.method).collect()
    }

    /// How many frozen requests the client abandoned.
    pub fn hangups(&self) -> usize {
        self.state.lock().expect("lock").hangups
    }

    /// Waits until `done(requests)` holds or `deadline` passes (checked after every request and
    /// hang-up); returns the requests then, or an error naming the methods seen.
    pub async fn wait_until(&self, deadline: Duration, done: impl Fn(&[Recorded]) -> bool) -> Result<Vec<Recorded>, String> {
        let wait = async {
            loop {
                let notified = self.recorded.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let seen = self.requests();
                if done(&seen) {
                    return seen;
                }
                notified.await;
            }
        };
        tokio::time::timeout(deadline, wait).await.map_err(|_| format!("fake telegram: condition not met; methods seen: {:?}", self.methods()))
    }

    /// Waits until `method` was called at least `n` times; returns those bodies.
    pub async fn wait_for(&self, method: &str, n: usize, deadline: Duration) -> Result<Vec<Value>, String> {
        self.wait_until(deadline, |r| r.iter().filter(|r| r.method == method).count() >= n).await?;
        Ok(self.bodies(method))
    }

    /// Waits until the client abandoned at least `n` frozen requests.
    pub async fn wait_hangups(&self, n: usize, deadline: Duration) -> Result<(), String> {
        self.wait_until(deadline, |_| self.hangups() >= n).await.map(drop)
    }

    fn take_message_id(&self) -> i64 {
        let mut st = self.state.lock().expect("lock");
        st.next_message_id += 1;
        st.next_message_id - 1
    }
}

impl Drop for FakeTelegram {
    fn drop(&mut self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.abort_all();
        }
    }
}

/// One accepted connection; serves requests until the client closes (keep-alive).
struct Conn {
    state: Arc<Mutex<State>>,
    updates_queued: Arc<Notify>,
    recorded: Arc<Notify>,
}

/// What to write back.
enum Answer {
    Json { status: u16, body: Value },
    Freeze,
    Drop,
}

impl Conn {
    async fn serve(self, mut stream: TcpStream) {
        let mut buf = Vec::new();
        while let Some(req) = read_request(&mut stream, &mut buf).await {
            let close = req.close;
            match self.answer(req).await {
                Answer::Json { status, body } => {
                    if write_json(&mut stream, status, &body).await.is_err() || close {
                        let _ = stream.shutdown().await;
                        return;
                    }
                }
                Answer::Drop => return,
                Answer::Freeze => {
                    let mut b = [0u8; 64];
                    while matches!(stream.read(&mut b).await, Ok(n) if n > 0) {}
                    self.state.lock().expect("lock").hangups += 1;
                    self.recorded.notify_waiters();
                    return;
                }
            }
        }
    }

    async fn answer(&self, req: RawRequest) -> Answer {
        let (token, method) = match req.path.strip_prefix("/bot").and_then(|p| p.split_once('/')) {
            Some((t, m)) => (t.to_owned(), m.to_owned()),
            None => return error(404, "Not Found"),
        };
        let fault = {
            let mut st = self.state.lock().expect("lock");
            st.requests.push(Recorded { http: req.http, method: method.clone(), token: token.clone(), body: req.body.clone() });
            st.scripts.get_mut(&method).and_then(VecDeque::pop_front)
        };
        self.recorded.notify_waiters();
        match fault {
            Some(Fault::RetryAfter(s)) => {
                return Answer::Json {
                    status: 429,
                    body: json!({"ok": false, "error_code": 429,
                        "description": format!("Too Many Requests: retry after {s}"), "parameters": {"retry_after": s}}),
                }
            }
            Some(Fault::BadEntities) => {
                return error(400, "Bad Request: can't parse entities: Unsupported start tag \"foo\" at byte offset 0")
            }
            Some(Fault::Unauthorized) => return error(401, "Unauthorized"),
            Some(Fault::Error { status, description }) => return error(status, &description),
            Some(Fault::Freeze) => return Answer::Freeze,
            Some(Fault::Drop) => return Answer::Drop,
            Some(Fault::Slow(d)) => tokio::time::sleep(d).await,
            None => {}
        }
        let bot = self.state.lock().expect("lock").bots.get(&token).map(|b| (b.id, b.username.clone()));
        let Some((bot_id, username)) = bot else { return error(401, "Unauthorized") };
        let b = &req.body;
        match method.as_str() {
            "getMe" => ok(json!({"id": bot_id, "is_bot": true, "first_name": "OpenClaw Test", "username": username,
                "can_join_groups": true, "can_read_all_group_messages": false, "supports_inline_queries": false})),
            "deleteWebhook" => {
                self.state.lock().expect("lock").webhook = None;
                ok(json!(true))
            }
            "setWebhook" => match b["url"].as_str() {
                Some(url) if !url.is_empty() => {
                    self.state.lock().expect("lock").webhook = Some(url.to_owned());
                    ok(json!(true))
                }
                _ => error(400, "Bad Request: bad webhook: URL must be provided"),
            },
            "deleteMyCommands" | "setMyCommands" | "sendChatAction" => ok(json!(true)),
            "getUpdates" if self.state.lock().expect("lock").webhook.is_some() => {
                error(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
            }
            "getUpdates" => self.get_updates(b).await,
            "sendMessage" => self.send_message(b),
            "sendPhoto" | "sendDocument" | "sendAnimation" | "sendVideo" | "sendAudio" => self.send_media(&method, b),
            _ => error(404, "Not Found: method not found"),
        }
    }

    async fn get_updates(&self, b: &Value) -> Answer {
        let offset = int(&b["offset"]);
        let limit = int(&b["limit"]).filter(|l| (1..=100).contains(l)).unwrap_or(100) as usize;
        let timeout = Duration::from_secs(int(&b["timeout"]).unwrap_or(0).max(0) as u64);
        let wait = async {
            loop {
                let notified = self.updates_queued.notified();
                tokio::pin!(notified);
                notified.as_mut().enable();
                let batch: Vec<Value> = {
                    let mut st = self.state.lock().expect("lock");
                    if let Some(offset) = offset {
                        st.updates.retain(|u| u["update_id"].as_i64().is_some_and(|id| id >= offset));
                    }
                    st.updates.iter().take(limit).cloned().collect()
                };
                if !batch.is_empty() {
                    return batch;
                }
                notified.await;
            }
        };
        let batch = tokio::time::timeout(timeout, wait).await.unwrap_or_default();
        ok(Value::Array(batch))
    }

    fn send_message(&self, b: &Value) -> Answer {
        let Some(chat_id) = int(&b["chat_id"]) else { return error(400, "Bad Request: chat_id is empty") };
        let Some(text) = b["text"].as_str().filter(|t| !t.is_empty()) else {
            return error(400, "Bad Request: message text is empty");
        };
        if text.chars().count() > 4096 {
            return error(400, "Bad Request: message is too long");
        }
        let message_id = {
            let mut st = self.state.lock().expect("lock");
            st.next_message_id += 1;
            st.next_message_id - 1
        };
        ok(json!({"message_id": message_id, "chat": {"id": chat_id, "type": "private"}, "date": 1796531475, "text": text}))
    }
}

impl Conn {
    /// `sendPhoto` & co.: the file as a URL string or an upload (`{fileName, contentType, size,
    /// data}` as read from the multipart body); a caption of at most 1024 characters.
    fn send_media(&self, method: &str, b: &Value) -> Answer {
        let Some(chat_id) = int(&b["chat_id"]) else { return error(400, "Bad Request: chat_id is empty") };
        let field = method.trim_start_matches("send").to_ascii_lowercase();
        let file = &b[field.as_str()];
        if !(file.is_string() || file.is_object()) {
            return error(400, &format!("Bad Request: there is no {field} in the request"));
        }
        if b["caption"].as_str().is_some_and(|c| c.chars().count() > 1024) {
            return error(400, "Bad Request: message caption is too long");
        }
        let message_id = {
            let mut st = self.state.lock().expect("lock");
            st.next_message_id += 1;
            st.next_message_id - 1
        };
        ok(json!({"message_id": message_id, "chat": {"id": chat_id, "type": "private"}, "date": 1796531475, "caption": b["caption"]}))
    }
}

/// A `multipart/form-data` body as JSON: text parts as strings, file parts as `{fileName,
/// contentType, size, data}` (`data` the bytes as lossy UTF-8).
fn parse_multipart(content_type: &str, raw: &[u8]) -> Option<Value> {
    let boundary = content_type.split(';').find_map(|p| p.trim().strip_prefix("boundary="))?.trim_matches('"');
    let delimiter = format!("--{boundary}");
    let mut out = serde_json::Map::new();
    let mut rest = raw;
    loop {
        let start = find(rest, delimiter.as_bytes())? + delimiter.len();
        rest = &rest[start..];
        if rest.starts_with(b"--") {
            return Some(Value::Object(out));
        }
        rest = rest.strip_prefix(b"\r\n")?;
        let head_end = find(rest, b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(&rest[..head_end]).into_owned();
        let body_start = head_end + 4;
        let body_end = body_start + find(&rest[body_start..], format!("\r\n{delimiter}").as_bytes())?;
        let body = &rest[body_start..body_end];
        let disposition = head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-disposition:"))?;
        let param = |k: &str| disposition.split(';').find_map(|p| p.trim().strip_prefix(&format!("{k}=\"")).map(|v| v.trim_end_matches('"').to_owned()));
        let name = param("name")?;
        let value = match param("filename") {
            Some(file_name) => {
                let ct = head.lines().find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim().to_owned()));
                json!({"fileName": file_name, "contentType": ct, "size": body.len(), "data": String::from_utf8_lossy(body)})
            }
            None => Value::String(String::from_utf8_lossy(body).into_owned()),
        };
        out.insert(name, value);
        rest = &rest[body_end + 2..];
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn ok(result: Value) -> Answer {
    Answer::Json { status: 200, body: json!({"ok": true, "result": result}) }
}

fn error(status: u16, description: &str) -> Answer {
    Answer::Json { status, body: json!({"ok": false, "error_code": status, "description": description}) }
}

/// A number the Bot API accepts as a JSON number or a numeric string.
fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_str().and_then(|s| s.parse().ok()))
}

struct RawRequest {
    http: String,
    path: String,
    body: Value,
    /// The client sent `connection: close`.
    close: bool,
}

/// Reads one request (head + content-length body) from a keep-alive stream; `buf` carries bytes
/// read past the previous request. `None` when the client closes or sends garbage.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Option<RawRequest> {
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut first = head.lines().next()?.split(' ');
    let http = first.next()?.to_owned();
    let target = first.next()?.to_owned();
    let len: usize = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-length")).map(|(_, v)| v))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = stream.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let raw: Vec<u8> = buf.drain(..head_end + len).skip(head_end).collect();
    let (path, query) = target.split_once('?').map_or((target.clone(), String::new()), |(p, q)| (p.to_owned(), q.to_owned()));
    let content_type = head
        .lines()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.eq_ignore_ascii_case("content-type")).map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_default();
    let body = if content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
        parse_multipart(&content_type, &raw)?
    } else if raw.is_empty() {
        let fields: serde_json::Map<String, Value> = query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect();
        Value::Object(fields)
    } else {
        serde_json::from_slice(&raw).ok()?
    };
    let close = head.lines().any(|l| l.to_ascii_lowercase().replace(' ', "") == "connection:close");
    Some(RawRequest { http, path, body, close })
}

async fn write_json<S: AsyncWrite + Unpin>(stream: &mut S, status: u16, body: &Value) -> std::io::Result<()> {
    let body = body.to_string();
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
        if status == 200 { "OK" } else { "Error" },
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.flush().await
}

/// A minimal Bot API client for the fake's own tests: one request on a fresh connection;
/// `Err` when the connection closes without an answer.
pub async fn call(root: SocketAddr, token: &str, method: &str, body: &Value) -> Result<(u16, Value), String> {
    let mut stream = TcpStream::connect(root).await.map_err(|e| e.to_string())?;
    let body = body.to_string();
    let req = format!(
        "POST /bot{token}/{method} HTTP/1.1\r\nhost: {root}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    stream.read_to_end(&mut out).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&out);
    let (head, json) = text.split_once("\r\n\r\n").ok_or("connection closed without an answer")?;
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
    Ok((status, serde_json::from_str(json).map_err(|e| e.to_string())?))
}

/// The Bot API client the tests drive: over the gateway's one outbound client
/// ([`Outbound`]), pointed at this fake.
pub struct OutboundTransport(Outbound);

impl OutboundTransport {
    /// The gateway's outbound client with a 5 s connect timeout and no read timeout.
    pub fn new() -> Self {
        let config = OutboundConfig { connect_timeout: Duration::from_secs(5), read_timeout: None, extra_root_certs: Vec::new() };
        Self(Outbound::new(&config).expect("outbound client"))
    }
}

impl Default for OutboundTransport {
    fn default() -> Self {
        Self::new()
    }
}

impl openclaw_channels::telegram::bot::Transport for OutboundTransport {
    async fn post(&self, url: String, content_type: String, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
        let mut res = self.0.post(&url, &content_type, &[], body).await.map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        while let Some(chunk) = res.chunk().await {
            out.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
        }
        Ok((res.status(), out))
    }
}

impl FakeTelegram {
    /// A [`BotApi`] for `token` against this fake, over the gateway's outbound client.
    pub fn bot_api(&self, token: &str) -> BotApi<OutboundTransport> {
        BotApi::new(OutboundTransport::new(), &self.api_root(), token)
    }
}
