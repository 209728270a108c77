//! Fetching a URL-sourced `input_file` / `input_image` with an SSRF guard (http.md §3.1, §9):
//! http(s) only, the host allowlist checked on the first URL and on every redirect, at most
//! `maxRedirects` hops, no proxy, a timeout, a byte cap, and every address the host resolves
//! to (or an address literal) refused when it is loopback, private, link-local, CGNAT,
//! multicast or unspecified — checked by the resolver the connection itself uses, so a name
//! cannot resolve to a public address for the check and a private one for the connect.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT};
use reqwest::Url;

/// What a fetch may do.
#[derive(Clone, Debug)]
pub(crate) struct FetchPolicy {
    /// Exact hosts or `*.suffix` (subdomains only); empty: any host.
    pub allowlist: Vec<String>,
    pub max_redirects: u32,
    pub timeout: Duration,
    pub max_bytes: u64,
    /// Let the fetch reach non-public addresses (tests only; not a config key).
    pub allow_private: bool,
}

/// A fetched body.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub bytes: Vec<u8>,
    pub content_type: Option<String>,
}

/// Why a fetch was refused or failed (logged; the client sees `invalid request`).
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("URL not allowed: {0}")]
    Refused(String),
    #[error("fetch failed: {0}")]
    Failed(String),
    #[error("Content too large: {0} bytes (limit: {1} bytes)")]
    TooLarge(u64, u64),
}

/// Fetches `url` under `policy`.
pub(crate) async fn fetch(url: &str, policy: &FetchPolicy) -> Result<Fetched, FetchError> {
    let parsed = Url::parse(url).map_err(|e| FetchError::Refused(format!("{url}: {e}")))?;
    check_url(&parsed, policy)?;
    let hop_policy = policy.clone();
    let redirects = reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() > hop_policy.max_redirects as usize {
            return attempt.error(format!("too many redirects (limit: {})", hop_policy.max_redirects));
        }
        match check_url(attempt.url(), &hop_policy) {
            Ok(()) => attempt.follow(),
            Err(e) => attempt.error(e.to_string()),
        }
    });
    let client = reqwest::Client::builder()
        .use_rustls_tls()
        .http1_only()
        .no_proxy()
        .redirect(redirects)
        .timeout(policy.timeout)
        .dns_resolver(Arc::new(GuardedResolver { allow_private: policy.allow_private }))
        .build()
        .map_err(|e| FetchError::Failed(e.to_string()))?;
    let mut response = client
        .get(parsed)
        .header(USER_AGENT, "OpenClaw-Gateway/1.0")
        .send()
        .await
        .map_err(|e| FetchError::Failed(chain(&e)))?;
    if !response.status().is_success() {
        return Err(FetchError::Failed(format!("Failed to fetch: {}", response.status())));
    }
    let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > policy.max_bytes) {
        return Err(FetchError::TooLarge(n, policy.max_bytes));
    }
    let content_type = response.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| FetchError::Failed(chain(&e)))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() as u64 > policy.max_bytes {
            return Err(FetchError::TooLarge(bytes.len() as u64, policy.max_bytes));
        }
    }
    Ok(Fetched { bytes, content_type })
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// The scheme, the allowlist, and an address literal's range.
fn check_url(url: &Url, policy: &FetchPolicy) -> Result<(), FetchError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(FetchError::Refused(format!("{url}: only http and https")));
    }
    let host = match url.host() {
        None => return Err(FetchError::Refused(format!("{url}: no host"))),
        Some(url::Host::Ipv4(ip)) => {
            check_ip(IpAddr::V4(ip), policy.allow_private)?;
            ip.to_string()
        }
        Some(url::Host::Ipv6(ip)) => {
            check_ip(IpAddr::V6(ip), policy.allow_private)?;
            ip.to_string()
        }
        Some(url::Host::Domain(d)) => d.trim_end_matches('.').to_ascii_lowercase(),
    };
    if !host_allowed(&host, &policy.allowlist) {
        return Err(FetchError::Refused(format!("host {host} is not in the allowlist")));
    }
    Ok(())
}

/// `example.com` matches itself; `*.example.com` matches its subdomains, not the apex.
pub(crate) fn host_allowed(host: &str, allowlist: &[String]) -> bool {
    allowlist.is_empty()
        || allowlist.iter().any(|pattern| match pattern.strip_prefix("*.") {
            Some(suffix) => host.len() > suffix.len() + 1 && host.ends_with(suffix) && host[..host.len() - suffix.len()].ends_with('.'),
            None => host == pattern,
        })
}

fn check_ip(ip: IpAddr, allow_private: bool) -> Result<(), FetchError> {
    if allow_private || is_public(ip) {
        Ok(())
    } else {
        Err(FetchError::Refused(format!("{ip} is not a public address")))
    }
}

/// Whether `ip` is a public unicast address.
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        || (first == 0x64 && ip.segments()[1] == 0xff9b))
}

/// Resolves with the system resolver and refuses non-public answers.
struct GuardedResolver {
    allow_private: bool,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = found.iter().copied().filter(|a| allow_private || is_public(a.ip())).collect();
            if allowed.is_empty() {
                let e: Box<dyn std::error::Error + Send + Sync> = if found.is_empty() {
                    format!("{host} did not resolve").into()
                } else {
                    format!("{host} resolves to a non-public address").into()
                };
                return Err(e);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_pass() {
        for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fd00::1", "::ffff:127.0.0.1", "224.0.0.1"] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "93.184.216.34", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn allowlist_patterns() {
        let list = vec!["example.com".to_owned(), "*.cdn.net".to_owned()];
        assert!(host_allowed("example.com", &list));
        assert!(!host_allowed("sub.example.com", &list));
        assert!(host_allowed("a.cdn.net", &list));
        assert!(!host_allowed("cdn.net", &list));
        assert!(!host_allowed("evilcdn.net", &list));
        assert!(host_allowed("anything", &[]));
    }

    #[test]
    fn literals_and_schemes_are_checked_before_connecting() {
        let policy = FetchPolicy { allowlist: vec![], max_redirects: 3, timeout: Duration::from_secs(1), max_bytes: 10, allow_private: false };
        for url in ["http://127.0.0.1/x", "http://[::1]/x", "http://10.0.0.1/", "ftp://example.com/x", "file:///etc/passwd"] {
            assert!(matches!(check_url(&Url::parse(url).unwrap(), &policy), Err(FetchError::Refused(_))), "{url}");
        }
        assert!(check_url(&Url::parse("https://example.com/a.png").unwrap(), &policy).is_ok());
    }
}
