//! A small HTTP/1.1 client over hyper for model providers: one connection per request (TLS via
//! rustls for `https`), a connect timeout, and the response body handed back as a stream of
//! chunks.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::rustls;
use tokio_rustls::TlsConnector;

/// Why a request got no response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    #[error("invalid provider URL {url}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("connecting to {authority} timed out")]
    ConnectTimeout { authority: String },
    #[error("cannot connect to {authority}: {source}")]
    Connect { authority: String, source: std::io::Error },
    #[error("HTTP exchange with {authority} failed: {source}")]
    Exchange { authority: String, source: hyper::Error },
    #[error("TLS with {authority} failed: {source}")]
    Tls { authority: String, source: std::io::Error },
    #[error("TLS setup failed: {0}")]
    TlsConfig(String),
}

impl HttpError {
    /// Worth another attempt (the server may come back), as opposed to a configuration error.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            Self::BadUrl { .. } | Self::TlsConfig(_) => false,
            // A certificate the server will present again is not worth retrying.
            Self::Tls { source, .. } => source.kind() != std::io::ErrorKind::InvalidData,
            Self::ConnectTimeout { .. } | Self::Connect { .. } | Self::Exchange { .. } => true,
        }
    }
}

/// A response whose body has not been read yet.
pub(crate) struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Incoming,
}

impl Response {
    /// The next body chunk; `None` at the end. Trailers are skipped.
    pub(crate) async fn chunk(&mut self) -> Option<Result<Bytes, hyper::Error>> {
        loop {
            match self.body.frame().await? {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => return Some(Ok(data)),
                    Err(_trailers) => continue,
                },
                Err(e) => return Some(Err(e)),
            }
        }
    }

    /// The whole body as text, at most `limit` bytes (error bodies are short).
    pub(crate) async fn text(&mut self, limit: usize) -> String {
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

/// The TLS client settings: the Mozilla roots (webpki-roots) plus `extra_roots` (DER), HTTP/1.1.
pub(crate) fn tls_config(extra_roots: &[Vec<u8>]) -> Result<Arc<rustls::ClientConfig>, HttpError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    for der in extra_roots {
        roots
            .add(rustls::pki_types::CertificateDer::from(der.clone()))
            .map_err(|e| HttpError::TlsConfig(format!("extra root certificate: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| HttpError::TlsConfig(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// POSTs `body` (JSON) to `url` with `headers`.
pub(crate) async fn post_json(
    url: &str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
    connect_timeout: Duration,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<Response, HttpError> {
    let bad = |reason: &str| HttpError::BadUrl { url: url.to_owned(), reason: reason.to_owned() };
    let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    let secure = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(bad("the scheme must be http or https")),
    };
    let host = uri.host().ok_or_else(|| bad("no host"))?.trim_matches(|c| c == '[' || c == ']').to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let authority = uri.authority().map_or_else(|| host.clone(), |a| a.as_str().to_owned());
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let connect = TcpStream::connect((host.as_str(), port));
    let stream = tokio::time::timeout(connect_timeout, connect)
        .await
        .map_err(|_| HttpError::ConnectTimeout { authority: authority.clone() })?
        .map_err(|source| HttpError::Connect { authority: authority.clone(), source })?;
    let _ = stream.set_nodelay(true);
    let request = build_request(&authority, &path, headers, body).map_err(|e| bad(&e))?;
    if secure {
        let name = rustls::pki_types::ServerName::try_from(host.clone()).map_err(|_| bad("invalid TLS server name"))?;
        let tls_stream = tokio::time::timeout(connect_timeout, TlsConnector::from(Arc::clone(tls)).connect(name, stream))
            .await
            .map_err(|_| HttpError::ConnectTimeout { authority: authority.clone() })?
            .map_err(|source| HttpError::Tls { authority: authority.clone(), source })?;
        exchange(tls_stream, request, &authority).await
    } else {
        exchange(stream, request, &authority).await
    }
}

fn build_request(
    authority: &str,
    path: &str,
    headers: &[(&'static str, String)],
    body: Vec<u8>,
) -> Result<Request<Full<Bytes>>, String> {
    let mut request = Request::builder().method(Method::POST).uri(path);
    if let Some(h) = request.headers_mut() {
        if let Ok(v) = HeaderValue::from_str(authority) {
            h.insert(HOST, v);
        }
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers {
            if let Ok(v) = HeaderValue::from_str(value) {
                h.insert(*name, v);
            }
        }
    }
    request.body(Full::new(Bytes::from(body))).map_err(|e| e.to_string())
}

async fn exchange<S>(stream: S, request: Request<Full<Bytes>>, authority: &str) -> Result<Response, HttpError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let authority = authority.to_owned();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|source| HttpError::Exchange { authority: authority.clone(), source })?;
    // Ends by itself when the response is read or dropped.
    tokio::spawn(async move {
        if let Err(e) = conn.await {
            tracing::debug!(error = %e, "provider connection ended");
        }
    });
    let response = sender
        .send_request(request)
        .await
        .map_err(|source| HttpError::Exchange { authority: authority.clone(), source })?;
    let (parts, body) = response.into_parts();
    Ok(Response { status: parts.status.as_u16(), headers: parts.headers, body })
}
