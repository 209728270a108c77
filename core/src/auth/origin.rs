//! The browser Origin check of a WebSocket `connect` (http.md §6.4), as the reference's
//! `checkBrowserOrigin`: the allow-list (`gateway.controlUi.allowedOrigins`, `*` for any),
//! then the `dangerouslyAllowHostHeaderOriginFallback` escape hatch, then a page served by this
//! gateway on a private address (same host as the `Host` header: loopback for a local client,
//! RFC 1918 / link-local / CGNAT / ULA addresses, `*.local`, `*.ts.net`), then any loopback
//! origin for a direct local client. Pure: the caller passes the headers and its settings.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What the check needs from the upgrade request and the settings.
#[derive(Clone, Copy, Debug)]
pub struct OriginInput<'a> {
    /// The `Origin` header.
    pub origin: &'a str,
    /// The `Host` header.
    pub host: Option<&'a str>,
    /// A loopback socket without proxy headers (`isLocalDirectRequest`).
    pub local_client: bool,
    /// `gateway.controlUi.allowedOrigins`.
    pub allowed: &'a [String],
    /// `gateway.controlUi.dangerouslyAllowHostHeaderOriginFallback`.
    pub host_header_fallback: bool,
}

/// Why an origin passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginMatch {
    Allowlist,
    HostHeaderFallback,
    PrivateSameOrigin,
    LocalLoopback,
}

/// Why an origin was refused: the reference's `reason` (in the error's `details`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginRefusal {
    MissingOrInvalid,
    NotAllowed,
}

impl OriginRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::MissingOrInvalid => "origin missing or invalid",
            Self::NotAllowed => "origin not allowed",
        }
    }
}

/// A parsed `Origin`: `scheme://host[:port]` lower-cased, the default port dropped.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Parsed {
    /// `http://host:port`.
    origin: String,
    /// `host:port` (the port only when not the scheme's default).
    host: String,
    /// The host without the port; IPv6 in brackets.
    hostname: String,
}

fn default_port(scheme: &str) -> Option<&'static str> {
    match scheme {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        "ftp" => Some("21"),
        _ => None,
    }
}

/// `Origin` as the reference's `parseOrigin`: `scheme://authority` with an optional trailing
/// `/`, no user info, no path, query or fragment; `null` and empty are invalid.
fn parse(raw: &str) -> Option<Parsed> {
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return None;
    }
    let lower = trimmed.to_ascii_lowercase();
    let (scheme, rest) = lower.split_once("://")?;
    let mut chars = scheme.chars();
    let scheme_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-'));
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if !scheme_ok || authority.is_empty() || authority.contains(['/', '?', '#', '\\', '@']) || !authority.is_ascii() {
        return None;
    }
    let (hostname, port) = split_authority(authority)?;
    if hostname.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) if p.is_empty() => None,
        Some(p) => {
            let n: u16 = p.parse().ok()?;
            let n = n.to_string();
            (default_port(scheme) != Some(n.as_str())).then_some(n)
        }
        None => None,
    };
    let host = port.as_ref().map_or_else(|| hostname.clone(), |p| format!("{hostname}:{p}"));
    Some(Parsed { origin: format!("{scheme}://{host}"), host, hostname })
}

/// `host[:port]` → (host, port); IPv6 literals keep their brackets.
fn split_authority(authority: &str) -> Option<(String, Option<&str>)> {
    if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        addr.parse::<Ipv6Addr>().ok()?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        return Some((format!("[{addr}]"), port));
    }
    Some(match authority.split_once(':') {
        Some((h, p)) => (h.to_owned(), Some(p)),
        None => (authority.to_owned(), None),
    })
}

/// The host name of a `Host` header (IPv6 without brackets).
fn host_name(host: &str) -> String {
    if let Some(v6) = host.strip_prefix('[') {
        if let Some((addr, _)) = v6.split_once(']') {
            return addr.to_owned();
        }
    }
    if host.parse::<Ipv6Addr>().is_ok() {
        return host.to_owned();
    }
    host.split(':').next().unwrap_or_default().to_owned()
}

/// `localhost` or a loopback address (`127.0.0.0/8`, `::1`, IPv4-mapped loopback).
fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    host == "localhost" || bare.parse::<IpAddr>().is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// RFC 1918, link-local, CGNAT (100.64/10), ULA (fc00::/7), IPv6 link-local, or loopback.
fn is_private_or_loopback(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local() || is_cgnat(v4),
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

fn is_cgnat(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    a == 100 && (64..128).contains(&b)
}

/// The page came from this gateway at a host a LAN or tailnet browser would use.
fn trusted_same_origin_host(host_header: &str, local_client: bool) -> bool {
    let name = host_name(host_header);
    if name.is_empty() {
        return false;
    }
    if is_loopback_host(&name) {
        return local_client;
    }
    if let Ok(ip) = name.parse::<IpAddr>() {
        return is_private_or_loopback(ip);
    }
    name.ends_with(".local") || name.ends_with(".ts.net")
}

/// `Origin` normalised as `new URL(origin).origin` (scheme and host lower-cased, the default
/// port dropped); `None` when it does not parse.
pub fn normalize_origin(raw: &str) -> Option<String> {
    parse(raw).map(|p| p.origin)
}

/// The reference's `checkBrowserOrigin`.
pub fn check_browser_origin(input: &OriginInput<'_>) -> Result<OriginMatch, OriginRefusal> {
    let Some(origin) = parse(input.origin) else { return Err(OriginRefusal::MissingOrInvalid) };
    let listed = input.allowed.iter().map(|a| a.trim().to_ascii_lowercase()).any(|a| a == "*" || a == origin.origin);
    if listed {
        return Ok(OriginMatch::Allowlist);
    }
    let host = input.host.map(|h| h.trim().to_ascii_lowercase()).filter(|h| !h.is_empty());
    let same_host = host.as_deref() == Some(origin.host.as_str());
    if input.host_header_fallback && same_host {
        return Ok(OriginMatch::HostHeaderFallback);
    }
    if same_host && host.as_deref().is_some_and(|h| trusted_same_origin_host(h, input.local_client)) {
        return Ok(OriginMatch::PrivateSameOrigin);
    }
    if input.local_client && is_loopback_host(&origin.hostname) {
        return Ok(OriginMatch::LocalLoopback);
    }
    Err(OriginRefusal::NotAllowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(origin: &str, host: &str, local: bool, allowed: &[&str], fallback: bool) -> Result<OriginMatch, OriginRefusal> {
        let allowed: Vec<String> = allowed.iter().map(|s| (*s).to_owned()).collect();
        check_browser_origin(&OriginInput { origin, host: Some(host), local_client: local, allowed: &allowed, host_header_fallback: fallback })
    }

    #[test]
    fn parses_like_the_reference() {
        assert_eq!(parse("HTTP://LocalHost:80/").unwrap().origin, "http://localhost");
        assert_eq!(parse("https://a.example:443").unwrap().host, "a.example");
        assert_eq!(parse("http://[::1]:5000").unwrap().hostname, "[::1]");
        assert_eq!(parse("chrome-extension://abc").unwrap().origin, "chrome-extension://abc");
        for bad in ["", "null", "localhost:5000", "http://u@h", "http://h/x", "http://h?x", "http://h#x", "http://h:99999", "1a://h", "http://"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn every_row() {
        use OriginMatch::*;
        use OriginRefusal::*;
        // Missing or invalid.
        assert_eq!(check("null", "127.0.0.1:1", true, &[], false), Err(MissingOrInvalid));
        assert_eq!(check("", "127.0.0.1:1", true, &["*"], false), Err(MissingOrInvalid));
        // The allow-list (exact, case-insensitive; `*` any).
        assert_eq!(check("https://UI.example.com", "gw:1", false, &["https://ui.example.com"], false), Ok(Allowlist));
        assert_eq!(check("https://evil.example", "gw:1", false, &["*"], false), Ok(Allowlist));
        assert_eq!(check("https://evil.example", "gw:1", false, &["https://ui.example.com"], false), Err(NotAllowed));
        // The Host-header fallback, only when configured.
        assert_eq!(check("https://gw.example.com", "gw.example.com", false, &[], true), Ok(HostHeaderFallback));
        assert_eq!(check("https://gw.example.com", "gw.example.com", false, &[], false), Err(NotAllowed));
        // A page this gateway served on a LAN / tailnet host.
        assert_eq!(check("http://192.168.1.5:18789", "192.168.1.5:18789", false, &[], false), Ok(PrivateSameOrigin));
        assert_eq!(check("http://10.0.0.2:18789", "10.0.0.2:18789", false, &[], false), Ok(PrivateSameOrigin));
        assert_eq!(check("http://100.100.1.1:18789", "100.100.1.1:18789", false, &[], false), Ok(PrivateSameOrigin));
        assert_eq!(check("http://169.254.3.4:1", "169.254.3.4:1", false, &[], false), Ok(PrivateSameOrigin));
        assert_eq!(check("http://[fd00::1]:1", "[fd00::1]:1", false, &[], false), Ok(PrivateSameOrigin));
        assert_eq!(check("http://box.local:1", "box.local:1", false, &[], false), Ok(PrivateSameOrigin));
        assert_eq!(check("https://box.tail1.ts.net", "box.tail1.ts.net", false, &[], false), Ok(PrivateSameOrigin));
        assert_eq!(check("http://8.8.8.8:1", "8.8.8.8:1", false, &[], false), Err(NotAllowed), "a public address");
        assert_eq!(check("http://gw.example.com", "gw.example.com", false, &[], false), Err(NotAllowed), "a public name");
        assert_eq!(check("http://192.168.1.5:1", "192.168.1.6:1", false, &[], false), Err(NotAllowed), "another host");
        // Loopback pages: any port for a local client, never for a remote one.
        assert_eq!(check("http://localhost:5173", "127.0.0.1:18789", true, &[], false), Ok(LocalLoopback));
        assert_eq!(check("http://127.0.0.1:18789", "127.0.0.1:18789", true, &[], false), Ok(PrivateSameOrigin));
        assert_eq!(check("http://[::1]:9", "x:1", true, &[], false), Ok(LocalLoopback));
        assert_eq!(check("http://localhost:5173", "127.0.0.1:18789", false, &[], false), Err(NotAllowed));
        assert_eq!(check("http://127.0.0.1:18789", "127.0.0.1:18789", false, &[], false), Err(NotAllowed));
    }
}
