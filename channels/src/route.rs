//! The session key an inbound channel message routes to (spec §7.1, `session.dmScope`), and agent
//! id normalisation. Keys are lower-cased.

/// How direct messages collapse into sessions (`session.dmScope`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DmScope {
    /// All DMs share the agent's main session (`agent:<a>:<mainKey>`), the reference default.
    #[default]
    Main,
    /// `agent:<a>:direct:<peer>`.
    PerPeer,
    /// `agent:<a>:<channel>:direct:<peer>`.
    PerChannelPeer,
    /// `agent:<a>:<channel>:<account>:direct:<peer>`.
    PerAccountChannelPeer,
}

impl DmScope {
    /// Parses the config value.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "main" => Self::Main,
            "per-peer" => Self::PerPeer,
            "per-channel-peer" => Self::PerChannelPeer,
            "per-account-channel-peer" => Self::PerAccountChannelPeer,
            _ => return None,
        })
    }
}

/// Who the message came from, as the channel sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Peer {
    /// A direct message from this sender id.
    Direct(String),
    /// A group chat, optionally a forum topic (Telegram `message_thread_id`).
    Group { id: String, topic: Option<i64> },
    /// A broadcast channel.
    Channel(String),
}

/// Where a message routes: the agent and the channel identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteInput<'a> {
    pub agent_id: &'a str,
    /// `session.mainKey` (default `main`).
    pub main_key: &'a str,
    pub dm_scope: DmScope,
    pub channel: &'a str,
    pub account_id: &'a str,
    pub peer: &'a Peer,
}

/// An agent id as the reference normalises it: lower-case, characters outside `[a-z0-9_-]`
/// collapse to `-`, at most 64 characters, empty → `main`.
pub fn normalize_agent_id(raw: &str) -> String {
    let mut out = String::new();
    for c in raw.trim().to_lowercase().chars() {
        let c = if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    let out: String = out.trim_start_matches(['-', '_']).chars().take(64).collect();
    if out.is_empty() {
        "main".into()
    } else {
        out
    }
}

/// The session key for an inbound message.
pub fn session_key(r: &RouteInput<'_>) -> String {
    let agent = normalize_agent_id(r.agent_id);
    let key = match r.peer {
        Peer::Direct(peer) => match r.dm_scope {
            DmScope::Main => format!("agent:{agent}:{}", if r.main_key.is_empty() { "main" } else { r.main_key }),
            DmScope::PerPeer => format!("agent:{agent}:direct:{peer}"),
            DmScope::PerChannelPeer => format!("agent:{agent}:{}:direct:{peer}", r.channel),
            DmScope::PerAccountChannelPeer => format!("agent:{agent}:{}:{}:direct:{peer}", r.channel, r.account_id),
        },
        Peer::Group { id, topic: None } => format!("agent:{agent}:{}:group:{id}", r.channel),
        Peer::Group { id, topic: Some(t) } => format!("agent:{agent}:{}:group:{id}:topic:{t}", r.channel),
        Peer::Channel(id) => format!("agent:{agent}:{}:channel:{id}", r.channel),
    };
    key.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(scope: DmScope, peer: &Peer) -> String {
        session_key(&RouteInput { agent_id: "Main", main_key: "main", dm_scope: scope, channel: "telegram", account_id: "Work", peer })
    }

    #[test]
    fn direct_messages_follow_the_dm_scope() {
        let dm = Peer::Direct("111".into());
        assert_eq!(key(DmScope::Main, &dm), "agent:main:main");
        assert_eq!(key(DmScope::PerPeer, &dm), "agent:main:direct:111");
        assert_eq!(key(DmScope::PerChannelPeer, &dm), "agent:main:telegram:direct:111");
        assert_eq!(key(DmScope::PerAccountChannelPeer, &dm), "agent:main:telegram:work:direct:111");
    }

    #[test]
    fn groups_topics_and_channels_ignore_the_dm_scope() {
        let group = Peer::Group { id: "-100123".into(), topic: None };
        let topic = Peer::Group { id: "-100123".into(), topic: Some(7) };
        for scope in [DmScope::Main, DmScope::PerPeer] {
            assert_eq!(key(scope, &group), "agent:main:telegram:group:-100123");
            assert_eq!(key(scope, &topic), "agent:main:telegram:group:-100123:topic:7");
        }
        assert_eq!(key(DmScope::Main, &Peer::Channel("-100999".into())), "agent:main:telegram:channel:-100999");
    }

    #[test]
    fn the_scope_parses_from_config_and_defaults_to_main() {
        assert_eq!(DmScope::parse("per-channel-peer"), Some(DmScope::PerChannelPeer));
        assert_eq!(DmScope::parse("per-account-channel-peer"), Some(DmScope::PerAccountChannelPeer));
        assert_eq!(DmScope::parse("per-user"), None);
        assert_eq!(DmScope::default(), DmScope::Main);
    }

    #[test]
    fn agent_ids_normalise() {
        assert_eq!(normalize_agent_id("Ops Team!"), "ops-team-");
        assert_eq!(normalize_agent_id("  "), "main");
        assert_eq!(normalize_agent_id("a".repeat(80).as_str()).len(), 64);
        assert_eq!(normalize_agent_id("work_1"), "work_1");
    }
}
