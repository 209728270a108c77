//! Who this gateway is: randomness for ids and nonces, and the host facts of its own presence
//! row (reference-facts.md §3), assembled into the hub's configuration.

use std::net::{Ipv4Addr, UdpSocket};

use openclaw_core::ids::uuid_from_bytes;
use openclaw_core::wire::hello::{HotReloadStatus, PresenceEntry, SessionDefaults};
use openclaw_core::{HubConfig, UnixMillis};

use crate::config::ServerConfig;

/// 64 bits of OS randomness. Falls back to a time/pid mix if the OS source fails (ids must be
/// unique, not secret; nonces are additionally bound to the socket).
pub(crate) fn random_u64() -> u64 {
    getrandom::u64().unwrap_or_else(|_| {
        let t = crate::clock::wall().0 ^ crate::clock::now().since_epoch().as_nanos() as u64;
        t.rotate_left(17) ^ u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15)
    })
}

/// A random version-4 UUID string.
pub(crate) fn random_uuid() -> String {
    uuid_from_bytes(random_u64(), random_u64())
}

fn read_trimmed(path: &str) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

pub(crate) fn hostname() -> String {
    read_trimmed("/proc/sys/kernel/hostname")
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into())
}

fn os_release() -> String {
    read_trimmed("/proc/sys/kernel/osrelease").unwrap_or_default()
}

/// The primary LAN IPv4: the first local non-loopback address in the kernel's FIB, else the
/// source address a default route would use (a connected UDP socket sends nothing).
pub(crate) fn primary_ipv4() -> Option<Ipv4Addr> {
    if let Ok(trie) = std::fs::read_to_string("/proc/net/fib_trie") {
        let mut last: Option<Ipv4Addr> = None;
        for line in trie.lines() {
            let line = line.trim_start();
            if let Some(rest) = line.strip_prefix("|-- ").or_else(|| line.strip_prefix("+-- ")) {
                last = rest.split('/').next().and_then(|a| a.trim().parse().ok());
            } else if line.contains("/32 host LOCAL") {
                if let Some(ip) = last.filter(|ip| !ip.is_loopback()) {
                    return Some(ip);
                }
            }
        }
    }
    let socket = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).ok()?;
    socket.connect((Ipv4Addr::new(192, 0, 2, 1), 9)).ok()?;
    match socket.local_addr().ok()?.ip() {
        std::net::IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(ip),
        std::net::IpAddr::V4(_) | std::net::IpAddr::V6(_) => None,
    }
}

/// The gateway's own presence row (`mode gateway · reason self`).
pub(crate) fn own_presence(version: &str, wall: UnixMillis) -> PresenceEntry {
    let host = hostname();
    let ip = primary_ipv4().map(|ip| ip.to_string());
    let text = match &ip {
        Some(ip) => format!("Gateway: {host} ({ip}) · app {version} · mode gateway · reason self"),
        None => format!("Gateway: {host} · app {version} · mode gateway · reason self"),
    };
    PresenceEntry {
        host: Some(host),
        ip,
        version: Some(version.to_owned()),
        platform: Some(format!("linux {}", os_release())),
        device_family: Some("Linux".into()),
        mode: Some("gateway".into()),
        reason: Some("self".into()),
        instance_id: Some(random_uuid()),
        text: Some(text),
        ts: wall,
        ..PresenceEntry::default()
    }
}

/// The hub's configuration for a fresh process.
pub(crate) fn hub_config(config: &ServerConfig, wall: UnixMillis) -> HubConfig {
    let version = env!("CARGO_PKG_VERSION").to_owned();
    let sessions_path = match &config.state_dir {
        Some(dir) => format!("{}/agents/main/sessions.sqlite", dir.trim_end_matches('/')),
        None => std::env::temp_dir()
            .join(format!("openclaw-{}", std::process::id()))
            .join("agents/main/sessions.sqlite")
            .to_string_lossy()
            .into_owned(),
    };
    HubConfig {
        own_presence: own_presence(&version, wall),
        version,
        build_id: None,
        boot_id: random_uuid(),
        auth: config.auth.clone(),
        auth_rate_limit: config.settings.gateway.auth_rate_limit,
        limits: config.limits.clone(),
        session_defaults: SessionDefaults {
            model_configured: config.settings.agent.model.is_some(),
            ..SessionDefaults::default()
        },
        agent_timeout: config.settings.agent_timeout,
        config_path: config.config_path.clone(),
        state_dir: config.state_dir.clone(),
        hot_reload: HotReloadStatus::Active,
        pid: Some(std::process::id()),
        sessions_path,
        id_seed: random_u64(),
    }
}
