//! Local fake model servers for the agent tests: an OpenAI-compatible `/chat/completions` and an
//! Anthropic `/v1/messages`, both streaming SSE, on `127.0.0.1:0`. Each request takes the next
//! [`Script`] (then [`Script::Echo`] forever); every request body is recorded.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// Which wire format the fake speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FakeApi {
    OpenAi,
    Anthropic,
}

/// What the fake does with one request.
#[derive(Clone, Debug)]
pub enum Script {
    /// Streams `echo: <last user message>` in a few chunks.
    Echo,
    /// Streams these chunks.
    Reply(Vec<String>),
    /// Answers with this status, optional `retry-after`, and a JSON error body.
    Status { status: u16, retry_after: Option<String>, body: String },
    /// Sends the headers and one chunk, then nothing until the client goes away.
    Stall,
    /// Streams `text` chunks, then asks for these tool calls, each call's arguments split into
    /// several fragments (OpenAI `tool_calls` deltas; Anthropic `tool_use` blocks with
    /// `input_json_delta`), and stops for tool use.
    Tools { text: Vec<String>, calls: Vec<FakeCall> },
}

/// A tool call a [`Script::Tools`] asks for.
#[derive(Clone, Debug)]
pub struct FakeCall {
    pub id: String,
    pub name: String,
    /// The arguments as JSON text.
    pub args: String,
}

impl FakeCall {
    pub fn new(id: &str, name: &str, args: Value) -> Self {
        Self { id: id.into(), name: name.into(), args: args.to_string() }
    }
}

struct State {
    scripts: VecDeque<Script>,
    requests: Vec<Value>,
    /// Connections whose client went away while stalled.
    hangups: usize,
}

/// A running fake; stops when dropped.
pub struct FakeModel {
    pub addr: SocketAddr,
    pub api: FakeApi,
    /// Set for a TLS fake: its self-signed certificate (DER), to trust it.
    pub cert_der: Option<Vec<u8>>,
    state: Arc<Mutex<State>>,
    tasks: Arc<Mutex<JoinSet<()>>>,
}

impl FakeModel {
    pub async fn start(api: FakeApi, scripts: Vec<Script>) -> FakeModel {
        Self::start_inner(api, scripts, false).await
    }

    /// The same over TLS with a self-signed certificate for `localhost` (see `cert_der`).
    pub async fn start_tls(api: FakeApi, scripts: Vec<Script>) -> FakeModel {
        Self::start_inner(api, scripts, true).await
    }

    async fn start_inner(api: FakeApi, scripts: Vec<Script>, tls: bool) -> FakeModel {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake model");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State { scripts: scripts.into(), requests: Vec::new(), hangups: 0 }));
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let (acceptor, cert_der) = if tls {
            let (a, der) = tls_acceptor();
            (Some(a), Some(der))
        } else {
            (None, None)
        };
        let (st, ts) = (Arc::clone(&state), Arc::clone(&tasks));
        tasks.lock().expect("lock").spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let st = Arc::clone(&st);
                match &acceptor {
                    Some(acceptor) => {
                        let acceptor = acceptor.clone();
                        ts.lock().expect("lock").spawn(async move {
                            if let Ok(tls) = acceptor.accept(stream).await {
                                serve(api, tls, st).await;
                            }
                        });
                    }
                    None => {
                        ts.lock().expect("lock").spawn(serve(api, stream, st));
                    }
                }
            }
        });
        FakeModel { addr, api, cert_der, state, tasks }
    }

    /// `http://127.0.0.1:P/v1` (OpenAI style) or `http://127.0.0.1:P` (Anthropic style);
    /// `https://localhost:P…` for a TLS fake.
    pub fn base_url(&self) -> String {
        let origin = match self.cert_der {
            Some(_) => format!("https://localhost:{}", self.addr.port()),
            None => format!("http://{}", self.addr),
        };
        match self.api {
            FakeApi::OpenAi => format!("{origin}/v1"),
            FakeApi::Anthropic => origin,
        }
    }

    /// The JSON bodies received so far.
    pub fn requests(&self) -> Vec<Value> {
        self.state.lock().expect("lock").requests.clone()
    }

    /// How many stalled streams the client abandoned.
    pub fn hangups(&self) -> usize {
        self.state.lock().expect("lock").hangups
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.abort_all();
        }
    }
}

/// A TLS acceptor with a fresh self-signed certificate for `localhost`, and that certificate.
fn tls_acceptor() -> (tokio_rustls::TlsAcceptor, Vec<u8>) {
    use tokio_rustls::rustls;
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("self-signed cert");
    let der = cert.cert.der().to_vec();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_no_client_auth()
        .with_single_cert(vec![rustls::pki_types::CertificateDer::from(der.clone())], key)
        .expect("server config");
    (tokio_rustls::TlsAcceptor::from(Arc::new(config)), der)
}

async fn serve<S: AsyncRead + AsyncWrite + Unpin>(api: FakeApi, mut stream: S, state: Arc<Mutex<State>>) {
    let Some(body) = read_request(&mut stream).await else { return };
    let script = {
        let mut st = state.lock().expect("lock");
        st.requests.push(body.clone());
        st.scripts.pop_front().unwrap_or(Script::Echo)
    };
    let chunks = match script {
        Script::Status { status, retry_after, body } => {
            let extra = retry_after.map(|r| format!("retry-after: {r}\r\n")).unwrap_or_default();
            let head = format!(
                "HTTP/1.1 {status} Error\r\ncontent-type: application/json\r\n{extra}content-length: {}\r\nconnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(body.as_bytes()).await;
            return;
        }
        Script::Echo => {
            let last = body["messages"].as_array().and_then(|m| m.last()).cloned().unwrap_or(Value::Null);
            let text = format!("echo: {}", last_text(&last["content"]));
            let mid = text.char_indices().nth(4).map_or(text.len(), |(i, _)| i);
            vec![text[..mid].to_owned(), text[mid..].to_owned()]
        }
        Script::Reply(chunks) => chunks,
        Script::Tools { text, calls } => {
            let _ = stream.write_all(SSE_HEAD.as_bytes()).await;
            let _ = stream.write_all(tool_turn(api, &text, &calls).as_bytes()).await;
            let _ = stream.shutdown().await;
            return;
        }
        Script::Stall => {
            let _ = stream.write_all(SSE_HEAD.as_bytes()).await;
            let _ = stream.write_all(delta(api, "thinking…").as_bytes()).await;
            let mut buf = [0u8; 64];
            // Waits for the client to hang up (read returns 0 or fails).
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
            state.lock().expect("lock").hangups += 1;
            return;
        }
    };
    let _ = stream.write_all(SSE_HEAD.as_bytes()).await;
    if api == FakeApi::Anthropic {
        let start = json!({"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":0}}});
        let _ = stream.write_all(format!("event: message_start\ndata: {start}\n\n").as_bytes()).await;
    }
    for chunk in &chunks {
        if stream.write_all(delta(api, chunk).as_bytes()).await.is_err() {
            return;
        }
        let _ = stream.flush().await;
    }
    let _ = stream.write_all(end(api).as_bytes()).await;
    let _ = stream.shutdown().await;
}

/// The text of a message's content: a string, or the last block's `text` (a text block) or
/// `content` (an Anthropic `tool_result`).
fn last_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => blocks
            .last()
            .and_then(|b| b["text"].as_str().or_else(|| b["content"].as_str()))
            .unwrap_or("")
            .to_owned(),
        Value::Null | Value::Bool(_) | Value::Number(_) | Value::Object(_) => String::new(),
    }
}

/// `args` cut into three fragments (on char boundaries), as providers stream them.
fn fragments(args: &str) -> Vec<&str> {
    let cut = |n: usize| args.char_indices().nth(n).map_or(args.len(), |(i, _)| i);
    let (a, b) = (cut(args.chars().count() / 3), cut(2 * args.chars().count() / 3));
    vec![&args[..a], &args[a..b], &args[b..]]
}

/// A whole streamed reply that ends asking for tools.
fn tool_turn(api: FakeApi, text: &[String], calls: &[FakeCall]) -> String {
    let mut out = String::new();
    let mut push = |event: Option<&str>, data: Value| {
        if let Some(e) = event {
            out.push_str(&format!("event: {e}\n"));
        }
        out.push_str(&format!("data: {data}\n\n"));
    };
    match api {
        FakeApi::OpenAi => {
            for t in text {
                push(None, json!({"choices":[{"index":0,"delta":{"content":t}}]}));
            }
            for (i, c) in calls.iter().enumerate() {
                push(None, json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":i,"id":c.id,"type":"function",
                    "function":{"name":c.name,"arguments":""}}]}}]}));
                for f in fragments(&c.args) {
                    push(None, json!({"choices":[{"index":0,"delta":{"tool_calls":[{"index":i,"function":{"arguments":f}}]}}]}));
                }
            }
            push(None, json!({"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}));
            push(None, json!({"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}));
            out.push_str("data: [DONE]\n\n");
        }
        FakeApi::Anthropic => {
            push(Some("message_start"), json!({"type":"message_start","message":{"usage":{"input_tokens":5,"output_tokens":0}}}));
            let mut index = 0;
            if !text.is_empty() {
                push(Some("content_block_start"), json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}));
                for t in text {
                    push(Some("content_block_delta"), json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":t}}));
                }
                push(Some("content_block_stop"), json!({"type":"content_block_stop","index":0}));
                index = 1;
            }
            for c in calls {
                push(Some("content_block_start"), json!({"type":"content_block_start","index":index,
                    "content_block":{"type":"tool_use","id":c.id,"name":c.name,"input":{}}}));
                for f in fragments(&c.args) {
                    push(Some("content_block_delta"), json!({"type":"content_block_delta","index":index,
                        "delta":{"type":"input_json_delta","partial_json":f}}));
                }
                push(Some("content_block_stop"), json!({"type":"content_block_stop","index":index}));
                index += 1;
            }
            push(Some("message_delta"), json!({"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":3}}));
            push(Some("message_stop"), json!({"type":"message_stop"}));
        }
    }
    out
}

const SSE_HEAD: &str = "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n";

fn delta(api: FakeApi, text: &str) -> String {
    match api {
        FakeApi::OpenAi => {
            let d = json!({"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":text}}]});
            format!("data: {d}\n\n")
        }
        FakeApi::Anthropic => {
            let d = json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":text}});
            format!("event: content_block_delta\ndata: {d}\n\n")
        }
    }
}

fn end(api: FakeApi) -> String {
    match api {
        FakeApi::OpenAi => {
            let usage = json!({"id":"c1","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}});
            format!("data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}\n\ndata: {usage}\n\ndata: [DONE]\n\n")
        }
        FakeApi::Anthropic => {
            let md = json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":3}});
            format!("event: message_delta\ndata: {md}\n\nevent: message_stop\ndata: {{\"type\":\"message_stop\"}}\n\n")
        }
    }
}

/// Reads one request (head + content-length body) and returns the body as JSON.
async fn read_request<S: AsyncRead + Unpin>(stream: &mut S) -> Option<Value> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    serde_json::from_slice(&buf[head_end..head_end + len]).ok()
}
