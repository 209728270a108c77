//! Who gets each active run's `tool` events (channels-agent-nodes.md §5.3): the sockets that
//! started or joined it and advertised `caps: ["tool-events"]`.

use std::collections::BTreeMap;

use crate::ids::{ConnId, RunId};

/// Who gets each active run's `tool` events: the sockets that started or joined it and
/// advertised `tool-events`, in the order they came, each once.
#[derive(Clone, Debug, Default)]
pub(crate) struct ToolRecipients(BTreeMap<RunId, Vec<ConnId>>);

impl ToolRecipients {
    /// `conn` gets the `tool` events of `run` from now on (once, however often it joins).
    pub(crate) fn add(&mut self, run: &RunId, conn: ConnId) {
        let list = self.0.entry(run.clone()).or_default();
        if !list.contains(&conn) {
            list.push(conn);
        }
    }

    /// Drops the entries of runs `active` no longer admits.
    pub(crate) fn prune(&mut self, active: impl Fn(&RunId) -> bool) {
        self.0.retain(|run, _| active(run));
    }

    /// The recipients of `run`'s `tool` events (none if nobody asked).
    pub(crate) fn of(&self, run: &RunId) -> &[ConnId] {
        self.0.get(run).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(s: &str) -> RunId {
        RunId(s.into())
    }

    #[test]
    fn recipients_are_kept_once_in_order_and_pruned_with_their_run() {
        let mut t = ToolRecipients::default();
        assert!(t.of(&run("a")).is_empty());
        t.add(&run("a"), ConnId(2));
        t.add(&run("a"), ConnId(1));
        t.add(&run("a"), ConnId(2));
        t.add(&run("b"), ConnId(3));
        assert_eq!(t.of(&run("a")), [ConnId(2), ConnId(1)]);
        t.prune(|r| r.as_str() == "b");
        assert!(t.of(&run("a")).is_empty());
        assert_eq!(t.of(&run("b")), [ConnId(3)]);
    }
}
