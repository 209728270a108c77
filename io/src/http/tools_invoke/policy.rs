//! Which tools `POST /tools/invoke` may run (http.md §4): the tool's canonical name, the
//! default HTTP deny list edited by `gateway.tools.{allow,deny}`, then the agent's tool policy
//! (`tools.{allow,deny}`). A tool refused at any step reads as not existing (`404`).

use crate::agent::ToolsConfig;
use crate::settings::HttpToolPolicy;

/// Tools never run over HTTP unless `gateway.tools.allow` names them (the reference's
/// `DEFAULT_GATEWAY_HTTP_TOOL_DENY`, 2026.9.6): command execution, file mutation, session
/// spawning and messaging, automations, gateway and node control.
pub(crate) const DEFAULT_HTTP_DENY: &[&str] = &[
    "exec",
    "spawn",
    "shell",
    "fs_write",
    "fs_delete",
    "fs_move",
    "apply_patch",
    "terminal",
    "portal",
    "sessions_spawn",
    "sessions_send",
    "conversations_list",
    "conversations_send",
    "conversations_turn",
    "automations",
    "gateway",
    "plugins",
    "nodes",
    "computer",
    "mobile_ui",
    "openclaw",
    "whatsapp_login",
];

/// The workspace file tools: denied over HTTP unless `gateway.tools.allow` names them (the
/// reference offers none of them to `/tools/invoke` by default; `write` and `edit` are its
/// `fs_write` group).
const FILE_TOOLS: &[&str] = &["read", "write", "edit", "ls"];

/// The name a request's `tool` means: trimmed, lowercased, the reference's aliases resolved
/// (`bash` → `exec`, `apply-patch` → `apply_patch`, `cron` → `automations`).
pub(crate) fn canonical(name: &str) -> String {
    let name = name.trim().to_ascii_lowercase();
    match name.as_str() {
        "bash" => "exec".to_owned(),
        "apply-patch" => "apply_patch".to_owned(),
        "cron" => "automations".to_owned(),
        _ => name,
    }
}

/// Whether `name` (canonical) may run over HTTP under `http` and the agent's `tools` policy.
pub(crate) fn allowed(name: &str, http: &HttpToolPolicy, tools: &ToolsConfig) -> bool {
    let listed = |list: &[String]| list.iter().any(|n| canonical(n) == name);
    let default_denied = DEFAULT_HTTP_DENY.contains(&name) || FILE_TOOLS.contains(&name);
    if listed(&http.deny) || (default_denied && !listed(&http.allow)) {
        return false;
    }
    tools.allows(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(allow: &[&str], deny: &[&str]) -> HttpToolPolicy {
        let v = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        HttpToolPolicy { allow: v(allow), deny: v(deny) }
    }

    #[test]
    fn names_are_canonical() {
        assert_eq!(canonical(" Sessions_List "), "sessions_list");
        assert_eq!(canonical("cron"), "automations");
        assert_eq!(canonical("bash"), "exec");
    }

    #[test]
    fn the_deny_list_is_edited_by_gateway_tools_and_the_agent_policy_applies() {
        let tools = ToolsConfig::default();
        assert!(allowed("sessions_list", &http(&[], &[]), &tools));
        assert!(!allowed("exec", &http(&[], &[]), &tools));
        assert!(!allowed("read", &http(&[], &[]), &tools));
        assert!(allowed("read", &http(&["read"], &[]), &tools));
        assert!(allowed("automations", &http(&["cron"], &[]), &tools));
        assert!(!allowed("sessions_list", &http(&[], &["sessions_list"]), &tools));
        // deny wins over allow
        assert!(!allowed("read", &http(&["read"], &["read"]), &tools));
        let agent = ToolsConfig { deny: vec!["sessions_list".into()], ..ToolsConfig::default() };
        assert!(!allowed("sessions_list", &http(&[], &[]), &agent));
    }
}
