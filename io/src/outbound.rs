//! The gateway's one outbound HTTP client (model providers now; Telegram and webhooks next):
//! reqwest over rustls (ring, the Mozilla roots plus any configured extra roots), HTTP/1.1,
//! pooled connections, connect and read timeouts, and the standard proxy variables
//! (`HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY`/`NO_PROXY`, read when the client is built).
//! Errors are typed by what went wrong, so callers can tell a server that may come back from
//! a setting that will fail again.

use std::error::Error as _;
use std::time::Duration;

use bytes::Bytes;

pub use reqwest::header::HeaderMap;

/// How the client connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundConfig {
    pub connect_timeout: Duration,
    /// Longest wait for any one read of a response (`None`: no limit, for callers that watch
    /// the silence themselves, like the agent's turn machine).
    pub read_timeout: Option<Duration>,
    /// Trusted in addition to the Mozilla roots (DER certificates: a self-signed local
    /// server, a corporate proxy).
    pub extra_root_certs: Vec<Vec<u8>>,
}

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("outbound HTTP setup failed: {0}")]
    Setup(String),
    #[error("invalid URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("connecting to {authority} timed out")]
    ConnectTimeout { authority: String },
    #[error("cannot connect to {authority}: {detail}")]
    Connect { authority: String, detail: String },
    #[error("TLS with {authority} failed: {detail}")]
    Tls { authority: String, detail: String },
    #[error("{authority} sent nothing in time")]
    ReadTimeout { authority: String },
    #[error("HTTP exchange with {authority} failed: {detail}")]
    Exchange { authority: String, detail: String },
}

impl OutboundError {
    /// Worth another attempt (the server may come back), as opposed to a setting or a
    /// certificate that will fail the same way.
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Setup(_) | Self::BadUrl { .. } | Self::Tls { .. } => false,
            Self::ConnectTimeout { .. } | Self::Connect { .. } | Self::ReadTimeout { .. } | Self::Exchange { .. } => true,
        }
    }

    fn from_reqwest(e: &reqwest::Error, url: &reqwest::Url) -> Self {
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_owned(),
            (None, _) => url.to_string(),
        };
        let detail = causes(e);
        if e.is_builder() {
            return Self::BadUrl { url: url.to_string(), reason: detail };
        }
        if is_tls(e) {
            return Self::Tls { authority, detail };
        }
        match (e.is_timeout(), e.is_connect()) {
            (true, true) => Self::ConnectTimeout { authority },
            (true, false) => Self::ReadTimeout { authority },
            (false, true) => Self::Connect { authority, detail },
            (false, false) => Self::Exchange { authority, detail },
        }
    }
}

/// The causes of an error, innermost last (reqwest's own message names only the URL).
fn causes(e: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        // hyper-util's "client error (Connect)" wrapper says nothing its cause does not.
        if !text.starts_with("client error (") && parts.last().is_none_or(|p| !p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    if parts.is_empty() {
        parts.push(e.to_string());
    }
    parts.join(": ")
}

/// A TLS failure (a certificate the server will present again) somewhere in the chain. The
/// rustls error travels inside nested `io::Error`s, whose `source()` skips what they wrap:
/// look inside them too.
fn is_tls(e: &reqwest::Error) -> bool {
    fn within(e: &(dyn std::error::Error + 'static)) -> bool {
        if e.is::<rustls::Error>() {
            return true;
        }
        let wrapped = e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
        if wrapped.is_some_and(|inner| within(inner)) {
            return true;
        }
        e.source().is_some_and(within)
    }
    e.source().is_some_and(within)
}

/// The shared client; cloning is cheap (one pool).
#[derive(Clone, Debug)]
pub struct Outbound {
    client: reqwest::Client,
}

impl Outbound {
    pub fn new(config: &OutboundConfig) -> Result<Self, OutboundError> {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .http1_only()
            .connect_timeout(config.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_nodelay(true);
        if let Some(t) = config.read_timeout {
            builder = builder.read_timeout(t);
        }
        for der in &config.extra_root_certs {
            let cert = reqwest::Certificate::from_der(der)
                .map_err(|e| OutboundError::Setup(format!("extra root certificate: {e}")))?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder.build().map_err(|e| OutboundError::Setup(causes(&e)))?;
        Ok(Self { client })
    }

    /// POSTs `body` (JSON) to `url` with `headers`; the response's body is not read yet.
    pub async fn post_json(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<Response, OutboundError> {
        self.post(url, "application/json", headers, body).await
    }

    /// POSTs `body` of `content_type` to `url` with `headers`; the response's body is not read
    /// yet.
    pub async fn post(
        &self,
        url: &str,
        content_type: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<Response, OutboundError> {
        let bad = |reason: &str| OutboundError::BadUrl { url: url.to_owned(), reason: reason.to_owned() };
        let parsed = reqwest::Url::parse(url).map_err(|_| {
            // The IDNA back end is the ASCII-only stub (io/Cargo.toml): say so rather than
            // "not a URL" for an internationalised host name.
            if url.is_ascii() {
                bad("not a URL")
            } else {
                bad("not a URL (a non-ASCII host name must be written in punycode, xn--…)")
            }
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad("the scheme must be http or https"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        let mut request = self.client.post(parsed.clone()).header(reqwest::header::CONTENT_TYPE, content_type);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let response = request.body(body).send().await.map_err(|e| OutboundError::from_reqwest(&e, &parsed))?;
        Ok(Response { inner: response, url: parsed })
    }
}

/// A response whose body has not been read yet.
#[derive(Debug)]
pub struct Response {
    inner: reqwest::Response,
    url: reqwest::Url,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.inner.status().as_u16()
    }

    pub fn headers(&self) -> &HeaderMap {
        self.inner.headers()
    }

    /// The next body chunk; `None` at the end.
    pub async fn chunk(&mut self) -> Option<Result<Bytes, OutboundError>> {
        match self.inner.chunk().await {
            Ok(Some(b)) => Some(Ok(b)),
            Ok(None) => None,
            Err(e) => Some(Err(OutboundError::from_reqwest(&e, &self.url))),
        }
    }

    /// The whole body as text, at most `limit` bytes (error bodies are short).
    pub async fn text(&mut self, limit: usize) -> String {
        let mut out = Vec::new();
        while let Some(Ok(chunk)) = self.chunk().await {
            out.extend_from_slice(&chunk);
            if out.len() >= limit {
                out.truncate(limit);
                break;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client() -> Outbound {
        let config = OutboundConfig { connect_timeout: Duration::from_secs(5), read_timeout: None, extra_root_certs: vec![] };
        Outbound::new(&config).expect("client")
    }

    #[tokio::test]
    async fn bad_urls_fail_for_good() {
        for url in ["ftp://example.com/x", "not a url", "http://"] {
            let e = client().post_json(url, &[], b"{}".to_vec()).await.expect_err(url);
            assert!(matches!(e, OutboundError::BadUrl { .. }) && !e.is_transient(), "{url}: {e:?}");
        }
    }

    #[tokio::test]
    async fn hosts_must_be_ascii() {
        let e = client().post_json("http://bücher.example/v1", &[], vec![]).await.expect_err("IDN host");
        assert!(matches!(e, OutboundError::BadUrl { ref reason, .. } if reason.contains("punycode")), "{e:?}");
        // The same host in punycode is a URL.
        let url = reqwest::Url::parse("http://xn--bcher-kva.example/v1").expect("punycode host");
        assert_eq!(url.host_str(), Some("xn--bcher-kva.example"));
    }

    #[tokio::test]
    async fn a_refused_connection_may_come_back() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        drop(listener);
        let e = client().post_json(&format!("http://127.0.0.1:{port}/v1"), &[], vec![]).await.expect_err("refused");
        assert!(matches!(e, OutboundError::Connect { .. }) && e.is_transient(), "{e:?}");
        assert!(e.to_string().starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")), "{e}");
    }

    #[test]
    fn an_extra_root_must_be_a_certificate() {
        let config = OutboundConfig {
            connect_timeout: Duration::from_secs(5),
            read_timeout: None,
            extra_root_certs: vec![b"not DER".to_vec()],
        };
        let e = Outbound::new(&config).expect_err("junk root");
        assert!(matches!(e, OutboundError::Setup(_)), "{e:?}");
    }
}
