//! The agent service (protocol.md §5.6-5.7): everything the gateway keeps about agent runs —
//! two-stage admission and idempotency ([`RunTracker`]), the runs in flight, their queues and
//! `agent.wait` calls ([`AgentRuns`]), and who gets each run's `tool` events
//! ([`ToolRecipients`]). The hub's agent handlers (`crate::hub::agent`) route calls and run
//! reports to it and turn what it decides into events, `res` frames and store commands.

pub(crate) mod runs;
pub(crate) mod tools;
pub(crate) mod tracker;

use crate::caller::Caller;
use crate::ids::{ConnId, RunId};
use crate::time::Instant;

pub(crate) use self::runs::{AgentRun, AgentRuns, Launch, WaitWaiter};
pub(crate) use self::tools::ToolRecipients;
use self::tracker::{Admission, RunTracker};

/// The agent service's state.
#[derive(Debug)]
pub(crate) struct AgentService {
    /// Admission once per idempotency key, waiters of the final result, replay of results.
    pub tracker: RunTracker,
    /// What the active runs produced, the session queues, `agent.wait`.
    pub runs: AgentRuns,
    /// The sockets that get each active run's `tool` events.
    pub tools: ToolRecipients,
}

impl AgentService {
    pub(crate) fn new() -> Self {
        Self { tracker: RunTracker::new(), runs: AgentRuns::default(), tools: ToolRecipients::default() }
    }

    /// Admits `caller` to `run` (protocol.md §5.6). A socket that started or joined it gets the
    /// run's `tool` events when `wants_tools` (it advertised `tool-events`); entries of runs no
    /// longer active are dropped here, so the recipients stay as few as the active runs.
    pub(crate) fn admit(&mut self, now: Instant, run: &RunId, caller: Caller, wants_tools: bool) -> Admission {
        let admission = self.tracker.admit(now, run, caller.clone());
        if matches!(admission, Admission::Started | Admission::Joined) {
            self.add_tool_recipient(run, &caller, wants_tools);
        }
        admission
    }

    /// `caller` started or joined `run`: if it is a socket that wants them, it gets the run's
    /// `tool` events (other callers get every event of their runs as values).
    pub(crate) fn add_tool_recipient(&mut self, run: &RunId, caller: &Caller, wants_tools: bool) {
        let Some((conn, _)) = caller.socket() else { return };
        let tracker = &self.tracker;
        self.tools.prune(|r| tracker.is_active(r));
        if wants_tools && self.tracker.is_active(run) {
            self.tools.add(run, conn);
        }
    }

    /// The socket `conn` closed: none of its requests waits for anything any more.
    pub(crate) fn forget_conn(&mut self, conn: ConnId) {
        self.tracker.forget_conn(conn);
        self.runs.forget_conn(conn);
    }

    /// A non-socket caller went away.
    pub(crate) fn forget_caller(&mut self, caller: &Caller) {
        self.tracker.forget(caller);
        self.runs.forget_caller(caller);
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::tracker::RunOutcome;
    use super::*;
    use crate::ids::RequestId;

    fn socket(conn: u64, id: &str) -> Caller {
        Caller::Socket { conn: ConnId(conn), id: RequestId(id.into()) }
    }

    #[test]
    fn admission_registers_tool_recipients_only_for_sockets_that_ask() {
        let mut a = AgentService::new();
        let (t, run) = (Instant::ZERO, RunId("r".into()));
        assert_eq!(a.admit(t, &run, socket(1, "a"), true), Admission::Started);
        assert_eq!(a.admit(t, &run, socket(2, "b"), false), Admission::Joined);
        assert_eq!(a.admit(t, &run, Caller::Http { id: 3 }, true), Admission::Joined);
        assert_eq!(a.admit(t, &run, socket(4, "d"), true), Admission::Joined);
        assert_eq!(a.tools.of(&run), [ConnId(1), ConnId(4)]);
        a.forget_conn(ConnId(4));
        a.forget_caller(&Caller::Http { id: 3 });
        let waiters = a.tracker.finish(t, &run, RunOutcome::Ok(Value::Null));
        assert_eq!(waiters, [socket(1, "a"), socket(2, "b")]);
        // A replay neither waits nor gets tool events; the ended run's recipients are pruned.
        assert!(matches!(a.admit(t, &run, socket(5, "e"), true), Admission::Cached(_)));
        a.add_tool_recipient(&RunId("other".into()), &socket(5, "e"), true);
        assert!(a.tools.of(&run).is_empty());
    }
}
