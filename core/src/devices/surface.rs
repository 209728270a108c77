//! A node's command surface (errata "Pairing store": `commands` and `caps` held on the node's
//! paired-device row): the approved [`NodeSurface`], the [`PendingNodeSurface`] an operator
//! approves with `node.pair.approve`, and the reference's command policy (which declared
//! commands a pairing may carry, which an invoke may run, which scopes an approval needs).
//!
//! The policy is `node-command-policy.ts` of openclaw 2026.9.6 without plugins, plus the
//! commands its bundled plugins admit by default on desktops (`ollama.chat`, `ollama.models`),
//! as observed in `openclaw-2026.9.6-node-host-session.jsonl`.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

/// An approved node surface (`nodeSurface` on the paired-device row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeSurface {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    pub caps: Vec<String>,
    pub commands: Vec<String>,
    pub created_at_ms: u64,
    pub approved_at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_connected_at_ms: Option<u64>,
}

/// A surface waiting for an operator (`pendingNodeSurface` on the paired-device row).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingNodeSurface {
    pub request_id: String,
    pub revision: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_family: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_identifier: Option<String>,
    pub caps: Vec<String>,
    pub commands: Vec<String>,
    pub silent: bool,
    pub ts: u64,
}

/// What a node declared at `connect`, already filtered to what a pairing may carry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DeclaredSurface {
    pub display_name: Option<String>,
    pub platform: Option<String>,
    pub version: Option<String>,
    pub device_family: Option<String>,
    pub model_identifier: Option<String>,
    pub caps: Vec<String>,
    pub commands: Vec<String>,
    pub silent: bool,
}

impl DeclaredSurface {
    /// Same caps and commands (as sets) as `caps`/`commands`?
    pub fn same_surface(&self, caps: &[String], commands: &[String]) -> bool {
        set(&self.caps) == set(caps) && set(&self.commands) == set(commands)
    }
}

fn set(v: &[String]) -> BTreeSet<&str> {
    v.iter().map(String::as_str).collect()
}

const SYSTEM_RUN: [&str; 3] = ["system.run.prepare", "system.run", "system.which"];
const EXEC_APPROVALS: [&str; 2] = ["system.execApprovals.get", "system.execApprovals.set"];
const FILE: [&str; 2] = ["fs.listDir", "terminal.upload"];
const BROWSER_PROXY: [&str; 2] = ["browser.proxy", "browser.proxy.upload.v1"];
const MCP_TOOLS_CALL: &str = "mcp.tools.call.v1";
const CLAUDE_RUN: &str = "agent.cli.claude.run.v1";
const SYSTEM_NOTIFY: &str = "system.notify";
const SCREEN: [&str; 2] = ["screen.snapshot", "desktop.stream"];
const COMPUTER: &str = "computer.act";
/// Admitted by the reference's bundled plugins on desktop platforms (observed).
const BUNDLED_PLUGIN_DESKTOP: [&str; 2] = ["ollama.chat", "ollama.models"];
const DANGEROUS: [&str; 11] = [
    "camera.snap",
    "camera.clip",
    "camera.ptz.control",
    "screen.record",
    "contacts.add",
    "calendar.add",
    "reminders.add",
    "sms.send",
    "sms.search",
    "health.summary",
    "talk.ptt.start",
];
/// Worker controls: never part of a public surface.
const PRIVATE: [&str; 12] = [
    "worker.bundle.install.v1",
    "worker.launch.v1",
    "worker.status.v1",
    "worker.cancel.v1",
    "worker.environment.stop.v1",
    "worker.workspace.exec.v1",
    "worker.workspace.prepare.v1",
    "worker.workspace.retain.v1",
    "worker.desktop.stream.v1",
    "worker.desktop.launch.v1",
    "worker.desktop.computer.v1",
    "worker.portal.stream.v1",
];
/// Commands only `operator.admin` may invoke directly.
const ADMIN_ONLY_INVOKE: [&str; 4] = ["browser.proxy", "browser.proxy.upload.v1", "fs.listDir", "terminal.upload"];

/// Host commands a desktop node runs only once its surface is approved.
fn desktop_host(command: &str) -> bool {
    SYSTEM_RUN.contains(&command)
        || EXEC_APPROVALS.contains(&command)
        || FILE.contains(&command)
        || BROWSER_PROXY.contains(&command)
        || command == MCP_TOOLS_CALL
        || command == CLAUDE_RUN
        || SCREEN.contains(&command)
}

/// The platform id of the reference's policy (`normalizePlatformId`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformId {
    Ios,
    WatchOs,
    Android,
    MacOs,
    Windows,
    Linux,
    Unknown,
}

impl PlatformId {
    pub fn of(platform: Option<&str>, device_family: Option<&str>) -> Self {
        let raw = platform.map(|s| s.trim().to_lowercase()).unwrap_or_default();
        let family = device_family.map(|s| s.trim().to_lowercase()).unwrap_or_default();
        let exact = match raw.as_str() {
            "ios" => Some(Self::Ios),
            "watchos" => Some(Self::WatchOs),
            "android" => Some(Self::Android),
            "macos" => Some(Self::MacOs),
            "windows" => Some(Self::Windows),
            "linux" => Some(Self::Linux),
            _ => None,
        };
        if let Some(id) = exact {
            let matches = match id {
                Self::Ios => matches!(family.as_str(), "" | "iphone" | "ipad" | "ios"),
                Self::WatchOs => matches!(family.as_str(), "apple watch" | "watchos"),
                Self::Android => matches!(family.as_str(), "" | "android"),
                Self::MacOs => family == "mac",
                Self::Windows => family == "windows",
                Self::Linux => family == "linux",
                Self::Unknown => false,
            };
            return if matches { id } else { Self::Unknown };
        }
        if !raw.is_empty() {
            return Self::Unknown;
        }
        let rules: [(Self, &[&str]); 6] = [
            (Self::Ios, &["iphone", "ipad", "ios"]),
            (Self::WatchOs, &["apple watch", "watchos"]),
            (Self::Android, &["android"]),
            (Self::MacOs, &["mac"]),
            (Self::Windows, &["windows"]),
            (Self::Linux, &["linux"]),
        ];
        rules.iter().find(|(_, tokens)| tokens.iter().any(|t| family.contains(t))).map_or(Self::Unknown, |(id, _)| *id)
    }

    fn desktop(self) -> bool {
        matches!(self, Self::MacOs | Self::Windows | Self::Linux)
    }

    /// `PLATFORM_DEFAULTS` (without the plugin-registered commands).
    fn defaults(self) -> Vec<&'static str> {
        let mut system: Vec<&str> = Vec::new();
        system.extend(SYSTEM_RUN);
        system.extend(EXEC_APPROVALS);
        system.extend(FILE);
        system.push(SYSTEM_NOTIFY);
        system.extend(BROWSER_PROXY);
        system.push(MCP_TOOLS_CALL);
        system.push(CLAUDE_RUN);
        let location = ["location.get"];
        let device = ["device.info", "device.status"];
        match self {
            Self::Ios => {
                let mut v = vec!["camera.list"];
                v.extend(location);
                v.extend(device);
                v.extend(["contacts.search", "calendar.events", "reminders.list", "photos.latest"]);
                v.extend(["motion.activity", "motion.pedometer", SYSTEM_NOTIFY]);
                v
            }
            Self::WatchOs => {
                let mut v: Vec<&str> = device.to_vec();
                v.push(SYSTEM_NOTIFY);
                v
            }
            Self::Android => {
                let mut v = vec!["camera.list", "location.get", "notifications.list", "notifications.actions", SYSTEM_NOTIFY];
                v.extend(device);
                v.extend(["device.permissions", "device.health", "device.apps"]);
                v.extend(["contacts.search", "calendar.events", "callLog.search", "reminders.list", "photos.latest"]);
                v.extend(["motion.activity", "motion.pedometer", "mobile.ui.observe", "mobile.ui.act"]);
                v
            }
            Self::MacOs => {
                let mut v = vec!["camera.list", "camera.ptz.status", "location.get"];
                v.extend(device);
                v.extend(["device.apps", "contacts.search", "calendar.events", "reminders.list", "photos.latest"]);
                v.extend(["motion.activity", "motion.pedometer"]);
                v.extend(system);
                v.extend(SCREEN);
                v.push(COMPUTER);
                v
            }
            Self::Linux => {
                let mut v = system;
                v.extend(SCREEN);
                v.push(COMPUTER);
                v
            }
            Self::Windows => {
                let mut v = vec!["camera.list", "location.get"];
                v.extend(device);
                v.extend(system);
                v.extend(SCREEN);
                v.push(COMPUTER);
                v
            }
            Self::Unknown => vec!["camera.list", "location.get", SYSTEM_NOTIFY],
        }
    }
}

/// `gateway.nodes.commands`: commands added to (`allow`) and taken off (`deny`) the platform
/// allowlists. Empty by default; replaced live on config reload.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeCommandPolicy {
    pub allow: Vec<String>,
    pub deny: Vec<String>,
}

impl NodeCommandPolicy {
    fn extra(&self) -> impl Iterator<Item = &str> {
        self.allow.iter().map(|c| c.trim()).filter(|c| !c.is_empty())
    }

    fn denied(&self) -> impl Iterator<Item = &str> {
        self.deny.iter().map(|c| c.trim()).filter(|c| !c.is_empty())
    }

    /// Is `command` on the deny list?
    pub fn denies(&self, command: &str) -> bool {
        self.denied().any(|d| d == command)
    }
}

/// Commands a pairing may carry for this platform (`resolveNodePairingCommandAllowlist`:
/// desktop host commands and the dangerous defaults included, `gateway.nodes.commands.allow`
/// added, `deny` removed except for the dangerous defaults).
pub fn pairing_allowlist(platform: PlatformId, policy: &NodeCommandPolicy) -> BTreeSet<&str> {
    let mut allow: BTreeSet<&str> = platform.defaults().into_iter().collect();
    if platform.desktop() {
        allow.extend(BUNDLED_PLUGIN_DESKTOP);
    }
    allow.extend(policy.extra());
    for d in policy.denied().filter(|d| !DANGEROUS.contains(d)) {
        allow.remove(d);
    }
    for p in PRIVATE {
        allow.remove(p);
    }
    allow
}

/// The declared commands a pairing may carry: trimmed, de-duplicated, private controls and
/// commands outside the pairing allowlist dropped (order kept).
pub fn filter_declared(platform: PlatformId, declared: &[String], policy: &NodeCommandPolicy) -> Vec<String> {
    let allow = pairing_allowlist(platform, policy);
    let mut seen = BTreeSet::new();
    declared
        .iter()
        .map(|c| c.trim())
        .filter(|c| !c.is_empty() && allow.contains(c) && seen.insert(*c))
        .map(str::to_owned)
        .collect()
}

/// Caps trimmed and de-duplicated (order kept).
pub fn normalize_caps(caps: &[String]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    caps.iter().map(|c| c.trim()).filter(|c| !c.is_empty() && seen.insert(*c)).map(str::to_owned).collect()
}

/// Why `node.invoke` may not run a command (`isNodeCommandAllowed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommandRefusal {
    NotAllowlisted,
    NotDeclared,
    NoCommands,
}

impl CommandRefusal {
    pub fn reason(self) -> &'static str {
        match self {
            Self::NotAllowlisted => "command not allowlisted",
            Self::NotDeclared => "command not declared by node",
            Self::NoCommands => "node did not declare commands",
        }
    }

    /// `buildNodeCommandRejectionHint`.
    pub fn hint(self, command: &str, platform: Option<&str>, pending_declares_it: bool, policy: &NodeCommandPolicy) -> String {
        let platform = platform.unwrap_or("unknown");
        match self {
            Self::NotDeclared => format!("node command not allowed: the node (platform: {platform}) does not support \"{command}\""),
            Self::NotAllowlisted if command.starts_with("talk.") => {
                format!("node command not allowed: \"{command}\" requires a trusted Talk-capable node")
            }
            Self::NotAllowlisted if policy.denies(command) => {
                format!("node command not allowed: \"{command}\" is blocked by gateway.nodes.commands.deny")
            }
            Self::NotAllowlisted if DANGEROUS.contains(&command) => {
                format!("node command not allowed: \"{command}\" requires explicit gateway.nodes.commands.allow opt-in")
            }
            Self::NotAllowlisted => {
                format!("node command not allowed: \"{command}\" is not in the allowlist for platform \"{platform}\"")
            }
            Self::NoCommands if pending_declares_it => "node command not allowed: the node's declared command surface is pending approval; run `openclaw nodes pending`, then `openclaw nodes approve <requestId>`".to_owned(),
            Self::NoCommands => "node command not allowed: the node did not declare any supported commands".to_owned(),
        }
    }
}

/// May `command` be invoked on a node of `platform` whose approved commands are `approved`?
/// (`resolveNodeCommandAllowlist` + `isNodeCommandAllowed`: the platform defaults minus the
/// desktop host commands and the dangerous ones, plus the approved desktop host commands,
/// plus `gateway.nodes.commands.allow` (dangerous ones included), minus its `deny`.)
pub fn invoke_allowed(
    platform: PlatformId,
    approved: &[String],
    command: &str,
    policy: &NodeCommandPolicy,
) -> Result<(), CommandRefusal> {
    let command = command.trim();
    if PRIVATE.contains(&command) {
        return Err(CommandRefusal::NotAllowlisted);
    }
    let mut allow: BTreeSet<&str> = platform
        .defaults()
        .into_iter()
        .filter(|c| !(platform.desktop() && desktop_host(c)))
        .collect();
    if platform.desktop() {
        allow.extend(BUNDLED_PLUGIN_DESKTOP);
        allow.extend(approved.iter().map(String::as_str).filter(|c| desktop_host(c)));
    }
    for d in DANGEROUS {
        allow.remove(d);
    }
    allow.extend(policy.extra());
    for d in policy.denied() {
        allow.remove(d);
    }
    if !allow.contains(command) {
        return Err(CommandRefusal::NotAllowlisted);
    }
    if approved.is_empty() {
        return Err(CommandRefusal::NoCommands);
    }
    if !approved.iter().any(|c| c == command) {
        return Err(CommandRefusal::NotDeclared);
    }
    Ok(())
}

/// `system.execApprovals.*` go through `exec.approvals.node.*`, never `node.invoke`.
pub fn is_exec_approvals(command: &str) -> bool {
    EXEC_APPROVALS.contains(&command)
}

pub fn is_private(command: &str) -> bool {
    PRIVATE.contains(&command.trim())
}

pub fn is_admin_only_invoke(command: &str) -> bool {
    ADMIN_ONLY_INVOKE.contains(&command)
}

/// The scopes an operator needs to approve a surface with these commands
/// (`resolveNodePairApprovalScopes`).
pub fn required_approve_scopes(commands: &[String]) -> Vec<&'static str> {
    if commands.iter().any(|c| SYSTEM_RUN.contains(&c.as_str())) {
        vec!["operator.pairing", "operator.admin"]
    } else if !commands.is_empty() {
        vec!["operator.pairing", "operator.write"]
    } else {
        vec!["operator.pairing"]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| (*x).to_owned()).collect()
    }

    /// The node host of the capture declared 21 commands; its pending surface holds 13.
    #[test]
    fn the_captured_linux_node_host_surface_is_filtered_as_the_reference_filters_it() {
        let declared = s(&[
            "browser.proxy", "browser.proxy.upload.v1", "desktop.stream", "dir.fetch", "dir.list", "file.create",
            "file.fetch", "file.stat", "file.write", "fs.listDir", "mcp.tools.call.v1", "ollama.chat",
            "ollama.models", "system.execApprovals.get", "system.execApprovals.set", "system.run",
            "system.run.prepare", "system.which", "terminal.upload", "workspace.memory", "workspace.skills",
        ]);
        let platform = PlatformId::of(Some("linux"), Some("Linux"));
        assert_eq!(platform, PlatformId::Linux);
        assert_eq!(
            filter_declared(platform, &declared, &NodeCommandPolicy::default()),
            s(&[
                "browser.proxy", "browser.proxy.upload.v1", "desktop.stream", "fs.listDir", "mcp.tools.call.v1",
                "ollama.chat", "ollama.models", "system.execApprovals.get", "system.execApprovals.set",
                "system.run", "system.run.prepare", "system.which", "terminal.upload",
            ])
        );
    }

    #[test]
    fn platform_ids_follow_the_reference() {
        assert_eq!(PlatformId::of(Some("linux"), Some("Mac")), PlatformId::Unknown);
        assert_eq!(PlatformId::of(Some("macos"), Some("Mac")), PlatformId::MacOs);
        assert_eq!(PlatformId::of(None, Some("iPhone")), PlatformId::Ios);
        assert_eq!(PlatformId::of(Some("darwin"), None), PlatformId::Unknown);
    }

    #[test]
    fn invoke_needs_an_approved_declared_allowlisted_command() {
        let linux = PlatformId::Linux;
        let none = NodeCommandPolicy::default();
        let approved = s(&["system.which", "system.run"]);
        assert_eq!(invoke_allowed(linux, &approved, "system.which", &none), Ok(()));
        assert_eq!(invoke_allowed(linux, &[], "system.which", &none), Err(CommandRefusal::NotAllowlisted));
        assert_eq!(invoke_allowed(linux, &s(&["system.run"]), "computer.act", &none), Err(CommandRefusal::NotDeclared));
        assert_eq!(invoke_allowed(linux, &[], "computer.act", &none), Err(CommandRefusal::NoCommands));
        assert_eq!(invoke_allowed(linux, &approved, "camera.snap", &none), Err(CommandRefusal::NotAllowlisted));
        assert_eq!(invoke_allowed(linux, &approved, "worker.launch.v1", &none), Err(CommandRefusal::NotAllowlisted));
    }

    #[test]
    fn gateway_nodes_commands_allow_and_deny_change_both_allowlists() {
        let linux = PlatformId::Linux;
        let policy = NodeCommandPolicy {
            allow: s(&[" camera.snap ", "custom.cmd", "worker.launch.v1", ""]),
            deny: s(&["system.which", "screen.record", "ollama.chat"]),
        };
        // Pairing: `allow` extends what a surface may carry (private controls never), `deny`
        // drops all but the dangerous defaults.
        let declared = s(&["camera.snap", "custom.cmd", "worker.launch.v1", "system.which", "system.run", "screen.record", "ollama.chat"]);
        assert_eq!(filter_declared(linux, &declared, &policy), s(&["camera.snap", "custom.cmd", "system.run"]));
        let declared_dangerous = s(&["screen.record"]);
        let deny_only = NodeCommandPolicy { allow: s(&["screen.record"]), deny: s(&["screen.record"]) };
        assert_eq!(filter_declared(linux, &declared_dangerous, &deny_only), declared_dangerous, "deny-exempt in pairing");
        // Invoke: `allow` admits a dangerous command, `deny` blocks anything, dangerous included.
        let approved = s(&["camera.snap", "custom.cmd", "system.which", "system.run"]);
        assert_eq!(invoke_allowed(linux, &approved, "camera.snap", &policy), Ok(()));
        assert_eq!(invoke_allowed(linux, &approved, "custom.cmd", &policy), Ok(()));
        assert_eq!(invoke_allowed(linux, &approved, "system.run", &policy), Ok(()));
        assert_eq!(invoke_allowed(linux, &approved, "system.which", &policy), Err(CommandRefusal::NotAllowlisted));
        assert_eq!(invoke_allowed(linux, &s(&["screen.record"]), "screen.record", &deny_only), Err(CommandRefusal::NotAllowlisted));
        assert_eq!(invoke_allowed(linux, &approved, "worker.launch.v1", &policy), Err(CommandRefusal::NotAllowlisted));
        // The hints name the key that decided.
        let hint = |c: &str, p: &NodeCommandPolicy| CommandRefusal::NotAllowlisted.hint(c, Some("linux"), false, p);
        assert_eq!(hint("system.which", &policy), "node command not allowed: \"system.which\" is blocked by gateway.nodes.commands.deny");
        assert_eq!(hint("sms.send", &policy), "node command not allowed: \"sms.send\" requires explicit gateway.nodes.commands.allow opt-in");
        assert_eq!(hint("talk.ptt.once", &policy), "node command not allowed: \"talk.ptt.once\" requires a trusted Talk-capable node");
        assert_eq!(hint("x.y", &policy), "node command not allowed: \"x.y\" is not in the allowlist for platform \"linux\"");
    }

    #[test]
    fn approval_scopes_grow_with_the_commands() {
        assert_eq!(required_approve_scopes(&s(&["system.which"])), ["operator.pairing", "operator.admin"]);
        assert_eq!(required_approve_scopes(&s(&["camera.list"])), ["operator.pairing", "operator.write"]);
        assert_eq!(required_approve_scopes(&[]), ["operator.pairing"]);
    }
}
