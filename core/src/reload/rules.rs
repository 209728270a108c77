//! The reload rule table (lifecycle.md §5.4): what a changed config path needs.

/// A hot action: restart one subsystem without restarting the gateway.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum HotAction {
    ReloadHooks,
    RestartGmailWatcher,
    RestartBrowserControl,
    RestartCron,
    RestartHeartbeat,
    RestartChannel(&'static str),
}

/// What one path needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    /// Only the snapshot changes; its readers pick it up on next use.
    None,
    Hot(HotAction),
    Restart,
}

/// `(prefix, rule)`; the first prefix equal to the path or a dotted parent of it wins.
/// HEAD rules, then the channel rules (the reference's plugin-contributed prefixes for the
/// channels it ships), then TAIL. A path no rule matches restarts the gateway.
const RULES: &[(&str, Rule)] = &[
    // HEAD
    ("gateway.remote", Rule::None),
    ("gateway.reload", Rule::None),
    // The reference's "hot" `gateway.*` paths this gateway has: read from the live snapshot on
    // each use (HTTP handlers), or handed to the hub by `Gateway::apply_settings`.
    ("gateway.http.endpoints", Rule::None),
    ("gateway.tools", Rule::None),
    ("gateway.auth.rateLimit", Rule::None),
    ("gateway.nodes.pairing", Rule::None),
    ("gateway.nodes.commands", Rule::None),
    ("hooks.gmail", Rule::Hot(HotAction::RestartGmailWatcher)),
    ("hooks", Rule::Hot(HotAction::ReloadHooks)),
    ("agents.defaults.heartbeat", Rule::Hot(HotAction::RestartHeartbeat)),
    ("agent.heartbeat", Rule::Hot(HotAction::RestartHeartbeat)),
    ("cron", Rule::Hot(HotAction::RestartCron)),
    ("browser", Rule::Hot(HotAction::RestartBrowserControl)),
    // channels
    ("channels.telegram", Rule::Hot(HotAction::RestartChannel("telegram"))),
    ("channels.whatsapp", Rule::Hot(HotAction::RestartChannel("whatsapp"))),
    ("web", Rule::Hot(HotAction::RestartChannel("whatsapp"))),
    // TAIL
    ("meta", Rule::None),
    ("identity", Rule::None),
    ("wizard", Rule::None),
    ("logging", Rule::None),
    ("models", Rule::None),
    ("agents", Rule::None),
    ("tools", Rule::None),
    ("bindings", Rule::None),
    ("audio", Rule::None),
    ("agent", Rule::None),
    ("routing", Rule::None),
    ("messages", Rule::None),
    ("session", Rule::None),
    ("talk", Rule::None),
    ("skills", Rule::None),
    ("secrets", Rule::None),
    ("plugins", Rule::Restart),
    ("ui", Rule::None),
    ("gateway", Rule::Restart),
    ("discovery", Rule::Restart),
    ("canvasHost", Rule::Restart),
];

/// Every prefix of the table: where an object appears or disappears, the diff reports the keys
/// under these one by one (see [`super::diff_paths_refined`]).
pub(super) fn prefixes() -> Vec<&'static str> {
    RULES.iter().map(|(prefix, _)| *prefix).collect()
}

/// The rule for one dotted path.
pub fn classify(path: &str) -> &'static Rule {
    RULES
        .iter()
        .find(|(prefix, _)| {
            path == *prefix || path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
        })
        .map_or(&Rule::Restart, |(_, rule)| rule)
}

/// What a set of changed paths needs, all together.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReloadPlan {
    pub restart_gateway: bool,
    /// The paths that need the restart.
    pub restart_reasons: Vec<String>,
    /// Hot actions, each once, in a stable order (a Gmail watcher restart implies reloading hooks).
    pub hot: Vec<HotAction>,
    /// Paths that only update the snapshot.
    pub noop: Vec<String>,
}

pub fn plan(changed: &[String]) -> ReloadPlan {
    let mut plan = ReloadPlan::default();
    for path in changed {
        match classify(path) {
            Rule::None => plan.noop.push(path.clone()),
            Rule::Restart => {
                plan.restart_gateway = true;
                plan.restart_reasons.push(path.clone());
            }
            Rule::Hot(action) => {
                plan.hot.push(action.clone());
                if *action == HotAction::RestartGmailWatcher {
                    plan.hot.push(HotAction::ReloadHooks);
                }
            }
        }
    }
    plan.hot.sort();
    plan.hot.dedup();
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_match_wins_and_unknown_paths_restart() {
        assert_eq!(classify("gateway.reload.mode"), &Rule::None);
        assert_eq!(classify("gateway.remote"), &Rule::None);
        assert_eq!(classify("gateway.nodes.commands.allow"), &Rule::None);
        assert_eq!(classify("gateway.nodes.pairing.autoApproveLocal"), &Rule::None);
        assert_eq!(classify("gateway.nodes"), &Rule::Restart, "only the named children are live");
        assert_eq!(classify("gateway.http.endpoints.chatCompletions.enabled"), &Rule::None);
        assert_eq!(classify("gateway.http"), &Rule::Restart);
        assert_eq!(classify("gateway.tools.deny"), &Rule::None);
        assert_eq!(classify("gateway.auth.rateLimit.maxAttempts"), &Rule::None);
        assert_eq!(classify("gateway.auth.token"), &Rule::Restart);
        assert_eq!(classify("gateway.port"), &Rule::Restart);
        assert_eq!(classify("gateway"), &Rule::Restart);
        assert_eq!(classify("gatewayx"), &Rule::Restart, "a prefix must end at a dot");
        assert_eq!(classify("hooks.gmail.account"), &Rule::Hot(HotAction::RestartGmailWatcher));
        assert_eq!(classify("hooks.mappings"), &Rule::Hot(HotAction::ReloadHooks));
        assert_eq!(classify("agents.defaults.heartbeat.every"), &Rule::Hot(HotAction::RestartHeartbeat));
        assert_eq!(classify("agents.defaults.model"), &Rule::None);
        assert_eq!(classify("logging.level"), &Rule::None);
        assert_eq!(classify("models.providers.x.baseUrl"), &Rule::None);
        assert_eq!(classify("channels.telegram.botToken"), &Rule::Hot(HotAction::RestartChannel("telegram")));
        assert_eq!(classify("plugins.entries"), &Rule::Restart);
        assert_eq!(classify("commands.restart"), &Rule::Restart, "no rule: restart");
        assert_eq!(classify("env.vars.X"), &Rule::Restart);
        assert_eq!(classify("<root>"), &Rule::Restart);
    }

    #[test]
    fn plans_merge_paths() {
        let changed: Vec<String> =
            ["hooks.gmail.x", "logging.level", "cron.jobs", "gateway.port"].map(String::from).into();
        let p = plan(&changed);
        assert!(p.restart_gateway);
        assert_eq!(p.restart_reasons, ["gateway.port"]);
        assert_eq!(p.hot, [HotAction::ReloadHooks, HotAction::RestartGmailWatcher, HotAction::RestartCron]);
        assert_eq!(p.noop, ["logging.level"]);
        assert!(!plan(&["agents.defaults.model".into()]).restart_gateway);
    }
}
