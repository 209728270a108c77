//! The agent runs in flight (protocol.md §5.6-5.7): what each active run has produced so far,
//! the runs queued behind a busy session (one run per session at a time), the `agent.wait`
//! calls and the results they are answered with.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{json, Value};

use crate::caller::Caller;
use crate::ids::{ConnId, RunId, UnixMillis};
use crate::limits::MAX_IDEMPOTENCY_KEYS;
use crate::time::Instant;

/// Runs waiting behind the active one of a session; beyond this a new run fails at once.
pub(crate) const MAX_QUEUED_PER_SESSION: usize = 32;

/// An admitted run, as `agent` and `chat.send` describe it.
#[derive(Debug)]
pub(crate) struct Launch {
    pub run: RunId,
    pub session_key: String,
    pub agent_id: String,
    /// `/new` or `/reset`: start a fresh session first.
    pub reset: bool,
    pub message: String,
    pub timeout: std::time::Duration,
    pub provider: Option<String>,
    pub model: Option<String>,
    pub thinking: Option<String>,
    pub extra_system_prompt: Option<String>,
    /// The caller's function tools (HTTP callers only).
    pub client_tools: Vec<crate::wire::agent::ClientTool>,
    /// Images of the turn (HTTP callers only).
    pub images: Vec<crate::wire::agent::ImageInput>,
}

/// One active run.
#[derive(Debug)]
pub(crate) struct AgentRun {
    pub session_key: String,
    pub session_id: String,
    pub agent_id: String,
    pub started: Instant,
    pub started_wall: UnixMillis,
    pub deadline: Option<Instant>,
    pub timeout_secs: u64,
    pub text: String,
    /// Bytes of `text` already sent in `chat` deltas.
    pub chat_sent: usize,
    pub last_chat: Option<Instant>,
    pub last_seq: u64,
    pub provider: Option<String>,
    pub model: Option<String>,
    /// Client tool calls the run ended with ([`RunReport::ClientToolCalls`](crate::wire::agent::RunReport)).
    pub pending_tool_calls: Vec<crate::wire::agent::ToolCall>,
}

/// An `agent.wait` call waiting for its run.
#[derive(Debug)]
pub(crate) struct WaitWaiter {
    pub caller: Caller,
    pub run: RunId,
    pub deadline: Instant,
}

/// The agent runs in flight.
#[derive(Debug, Default)]
pub(crate) struct AgentRuns {
    pub active: BTreeMap<RunId, AgentRun>,
    /// `agent.wait` results of ended runs, oldest first in `ended_order`.
    ended: BTreeMap<RunId, Value>,
    ended_order: VecDeque<RunId>,
    waiters: Vec<WaitWaiter>,
    /// Runs admitted while their session was busy (one run per session at a time), in order.
    queued: BTreeMap<String, VecDeque<Launch>>,
}

impl AgentRuns {
    pub(crate) fn next_run_deadline(&self) -> Option<Instant> {
        self.active.values().filter_map(|r| r.deadline).min()
    }

    pub(crate) fn next_wait_deadline(&self) -> Option<Instant> {
        self.waiters.iter().map(|w| w.deadline).min()
    }

    /// Active and queued runs of a session (abort them in reverse: ending the active run
    /// starts the next queued one).
    pub(crate) fn runs_of(&self, key: &str) -> Vec<RunId> {
        let active = self.active.iter().filter(|(_, r)| r.session_key == key).map(|(id, _)| id.clone());
        let queued = self.queued.get(key).into_iter().flatten().map(|l| l.run.clone());
        active.chain(queued).collect()
    }

    /// The session of an active or queued run.
    pub(crate) fn session_of(&self, run: &RunId) -> Option<&str> {
        if let Some(r) = self.active.get(run) {
            return Some(r.session_key.as_str());
        }
        self.queued.iter().find(|(_, q)| q.iter().any(|l| &l.run == run)).map(|(k, _)| k.as_str())
    }

    pub(crate) fn is_queued(&self, run: &RunId) -> bool {
        self.queued.values().any(|q| q.iter().any(|l| &l.run == run))
    }

    /// A run of session `key` is active (a new one must queue).
    pub(crate) fn is_running(&self, key: &str) -> bool {
        self.active.values().any(|r| r.session_key == key)
    }

    /// [`MAX_QUEUED_PER_SESSION`] runs wait behind session `key`'s active run already.
    pub(crate) fn queue_is_full(&self, key: &str) -> bool {
        self.queued.get(key).is_some_and(|q| q.len() >= MAX_QUEUED_PER_SESSION)
    }

    /// Queues `l` behind its session's active run (check [`AgentRuns::queue_is_full`] first).
    pub(crate) fn enqueue(&mut self, l: Launch) {
        self.queued.entry(l.session_key.clone()).or_default().push_back(l);
    }

    /// The next queued run of session `key`, if any.
    pub(crate) fn next_queued(&mut self, key: &str) -> Option<Launch> {
        let next = self.queued.get_mut(key).and_then(VecDeque::pop_front);
        if self.queued.get(key).is_some_and(VecDeque::is_empty) {
            self.queued.remove(key);
        }
        next
    }

    /// Removes a queued run (aborted before it started).
    pub(crate) fn take_queued(&mut self, run: &RunId) -> Option<Launch> {
        for q in self.queued.values_mut() {
            if let Some(i) = q.iter().position(|l| &l.run == run) {
                return q.remove(i);
            }
        }
        None
    }

    /// Shutdown: queued runs never start.
    pub(crate) fn clear_queued(&mut self) {
        self.queued.clear();
    }

    /// The recorded `agent.wait` answer of an ended run.
    pub(crate) fn wait_result(&self, run: &RunId) -> Option<&Value> {
        self.ended.get(run)
    }

    pub(crate) fn waiter_count(&self) -> usize {
        self.waiters.len()
    }

    /// `caller` waits for `run` until `deadline`.
    pub(crate) fn add_waiter(&mut self, w: WaitWaiter) {
        self.waiters.push(w);
    }

    /// Records `run`'s `agent.wait` answer (the newest [`MAX_IDEMPOTENCY_KEYS`] are kept) and
    /// returns the callers waiting for it, who get it now.
    pub(crate) fn record_wait_result(&mut self, run: &RunId, result: Value) -> Vec<Caller> {
        let (done, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiters).into_iter().partition(|w| &w.run == run);
        self.waiters = keep;
        if self.ended.insert(run.clone(), result).is_none() {
            self.ended_order.push_back(run.clone());
        }
        while self.ended.len() > MAX_IDEMPOTENCY_KEYS {
            match self.ended_order.pop_front() {
                Some(old) => self.ended.remove(&old),
                None => break,
            };
        }
        done.into_iter().map(|w| w.caller).collect()
    }

    /// The `agent.wait` calls whose deadline passed, each with its answer: `pending` (phase
    /// `queue`) for a run still queued, `timeout` otherwise.
    pub(crate) fn expire_waits(&mut self, now: Instant) -> Vec<(Caller, Value)> {
        let (expired, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.waiters).into_iter().partition(|w| w.deadline <= now);
        self.waiters = keep;
        expired
            .into_iter()
            .map(|w| {
                let answer = if self.is_queued(&w.run) {
                    json!({ "runId": w.run.0, "status": "pending", "timeoutPhase": "queue", "providerStarted": false })
                } else {
                    json!({ "runId": w.run.0, "status": "timeout" })
                };
                (w.caller, answer)
            })
            .collect()
    }

    /// Every `agent.wait` call still waiting (shutdown answers them).
    pub(crate) fn take_waiters(&mut self) -> Vec<Caller> {
        std::mem::take(&mut self.waiters).into_iter().map(|w| w.caller).collect()
    }

    pub(crate) fn forget_conn(&mut self, conn: ConnId) {
        self.waiters.retain(|w| !w.caller.is_on(conn));
    }

    /// A non-socket caller went away: it no longer waits for anything.
    pub(crate) fn forget_caller(&mut self, caller: &Caller) {
        self.waiters.retain(|w| &w.caller != caller);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ids::RequestId;

    fn launch(run: &str, key: &str) -> Launch {
        Launch {
            run: RunId(run.into()),
            session_key: key.into(),
            agent_id: "main".into(),
            reset: false,
            message: "hi".into(),
            timeout: Duration::ZERO,
            provider: None,
            model: None,
            thinking: None,
            extra_system_prompt: None,
            client_tools: Vec::new(),
            images: Vec::new(),
        }
    }

    fn active(key: &str, deadline: Option<Instant>) -> AgentRun {
        AgentRun {
            session_key: key.into(),
            session_id: "s".into(),
            agent_id: "main".into(),
            started: Instant::ZERO,
            started_wall: UnixMillis(0),
            deadline,
            timeout_secs: 0,
            text: String::new(),
            chat_sent: 0,
            last_chat: None,
            last_seq: 0,
            provider: None,
            model: None,
            pending_tool_calls: Vec::new(),
        }
    }

    fn run(s: &str) -> RunId {
        RunId(s.into())
    }

    fn socket(conn: u64, id: &str) -> Caller {
        Caller::Socket { conn: ConnId(conn), id: RequestId(id.into()) }
    }

    #[test]
    fn a_busy_session_queues_in_order_up_to_the_bound() {
        let mut a = AgentRuns::default();
        let t = Instant::ZERO + Duration::from_secs(5);
        a.active.insert(run("r0"), active("k", Some(t)));
        assert!(a.is_running("k") && !a.is_running("other"));
        assert_eq!(a.next_run_deadline(), Some(t));
        for i in 1..=MAX_QUEUED_PER_SESSION {
            assert!(!a.queue_is_full("k"));
            a.enqueue(launch(&format!("r{i}"), "k"));
        }
        assert!(a.queue_is_full("k") && !a.queue_is_full("other"));
        assert_eq!(a.runs_of("k").len(), MAX_QUEUED_PER_SESSION + 1);
        assert_eq!(a.runs_of("k")[..2], [run("r0"), run("r1")]);
        assert_eq!(a.session_of(&run("r2")), Some("k"));
        assert!(a.is_queued(&run("r2")) && !a.is_queued(&run("r0")));
        assert_eq!(a.take_queued(&run("r2")).map(|l| l.run), Some(run("r2")));
        assert_eq!(a.session_of(&run("r2")), None);
        assert_eq!(a.next_queued("k").map(|l| l.run), Some(run("r1")));
        assert_eq!(a.next_queued("k").map(|l| l.run), Some(run("r3")));
        a.clear_queued();
        assert_eq!(a.next_queued("k").map(|l| l.run), None);
        assert_eq!(a.runs_of("k"), [run("r0")]);
    }

    #[test]
    fn waits_are_answered_by_the_result_or_their_deadline() {
        let mut a = AgentRuns::default();
        let t0 = Instant::ZERO;
        let soon = t0 + Duration::from_secs(1);
        let later = t0 + Duration::from_secs(9);
        a.enqueue(launch("queued", "k"));
        a.add_waiter(WaitWaiter { caller: socket(1, "w1"), run: run("done"), deadline: later });
        a.add_waiter(WaitWaiter { caller: socket(2, "w2"), run: run("queued"), deadline: soon });
        a.add_waiter(WaitWaiter { caller: socket(3, "w3"), run: run("other"), deadline: soon });
        a.add_waiter(WaitWaiter { caller: Caller::Http { id: 4 }, run: run("done"), deadline: later });
        assert_eq!((a.waiter_count(), a.next_wait_deadline()), (4, Some(soon)));
        let expired = a.expire_waits(soon);
        assert_eq!(expired[0], (socket(2, "w2"), json!({"runId":"queued","status":"pending","timeoutPhase":"queue","providerStarted":false})));
        assert_eq!(expired[1], (socket(3, "w3"), json!({"runId":"other","status":"timeout"})));
        a.forget_caller(&Caller::Http { id: 4 });
        let result = json!({"runId":"done","status":"ok"});
        assert_eq!(a.record_wait_result(&run("done"), result.clone()), [socket(1, "w1")]);
        assert_eq!(a.wait_result(&run("done")), Some(&result));
        assert_eq!(a.waiter_count(), 0);
        a.add_waiter(WaitWaiter { caller: socket(5, "w5"), run: run("x"), deadline: later });
        a.add_waiter(WaitWaiter { caller: socket(6, "w6"), run: run("x"), deadline: later });
        a.forget_conn(ConnId(5));
        assert_eq!(a.take_waiters(), [socket(6, "w6")]);
    }

    #[test]
    fn wait_results_are_bounded_oldest_first() {
        let mut a = AgentRuns::default();
        for i in 0..=MAX_IDEMPOTENCY_KEYS {
            a.record_wait_result(&run(&format!("r{i}")), json!(i));
        }
        assert_eq!(a.wait_result(&run("r0")), None);
        assert_eq!(a.wait_result(&run("r1")), Some(&json!(1)));
    }
}
