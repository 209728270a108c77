//! Two-stage replies (protocol.md §5.6), the agent service's admission: a run is admitted once per idempotency key (which is
//! its `runId`), answered `accepted` at once and with its final result later on the same request
//! id. Duplicates while in flight join the run and get the same final result; finished results
//! are replayed for 5 min (at most 1000 keys and [`MAX_IDEMPOTENCY_BYTES`] of results, oldest
//! evicted first). A finished result is kept as its JSON text: a `Value` tree costs several
//! times its text, and the byte bound is then the memory it holds.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::Value;

use crate::caller::Caller;
use crate::ids::{ConnId, RunId};
use crate::limits::{IDEMPOTENCY_TTL, MAX_IDEMPOTENCY_BYTES, MAX_IDEMPOTENCY_KEYS};
use crate::time::Instant;
use crate::wire::frames::ErrorShape;

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub enum RunOutcome {
    Ok(Value),
    /// An error `res`, which may still carry a payload (`{runId, status, summary}`).
    Failed { payload: Option<Value>, error: ErrorShape },
}

/// What [`RunTracker::admit`] decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Admission {
    /// A new run: answer `accepted`, then start it.
    Started,
    /// Already running: the caller now waits for the same result.
    Joined,
    /// Finished within the TTL: answer with the recorded result once.
    Cached(RunOutcome),
}

#[derive(Debug)]
struct Active {
    /// Who waits for the final result (keyed by caller: a socket request, an HTTP request, …).
    waiters: Vec<Caller>,
    next_seq: u64,
}

/// A finished run's outcome as kept for replay: the payload as JSON text.
#[derive(Debug)]
struct Stored {
    payload: Option<Box<str>>,
    /// `None`: the run succeeded.
    error: Option<ErrorShape>,
}

impl Stored {
    fn new(outcome: RunOutcome) -> Self {
        let text = |v: Value| v.to_string().into_boxed_str();
        match outcome {
            RunOutcome::Ok(payload) => Stored { payload: Some(text(payload)), error: None },
            RunOutcome::Failed { payload, error } => Stored { payload: payload.map(text), error: Some(error) },
        }
    }

    /// What it holds, counted in bytes (the error by its message; the rest is small and fixed).
    fn bytes(&self) -> usize {
        let error = self.error.as_ref().map_or(0, |e| e.message.len() + 64);
        self.payload.as_ref().map_or(0, |p| p.len()) + error + 64
    }

    fn outcome(&self) -> RunOutcome {
        // The text was written from a `Value`: it always parses back.
        let value = |p: &str| serde_json::from_str(p).unwrap_or(Value::Null);
        match &self.error {
            None => RunOutcome::Ok(self.payload.as_deref().map_or(Value::Null, value)),
            Some(error) => RunOutcome::Failed { payload: self.payload.as_deref().map(value), error: error.clone() },
        }
    }
}

#[derive(Debug, Default)]
pub struct RunTracker {
    active: BTreeMap<RunId, Active>,
    done: BTreeMap<RunId, (Stored, Instant)>,
    /// [`Stored::bytes`] summed over `done`.
    done_bytes: usize,
    expiry: VecDeque<(Instant, RunId)>,
    ttl: Duration,
}

impl RunTracker {
    pub fn new() -> Self {
        Self { ttl: IDEMPOTENCY_TTL, ..Self::default() }
    }

    pub fn admit(&mut self, now: Instant, run: &RunId, waiter: Caller) -> Admission {
        self.expire(now);
        if let Some((stored, _)) = self.done.get(run) {
            return Admission::Cached(stored.outcome());
        }
        if let Some(active) = self.active.get_mut(run) {
            active.waiters.push(waiter);
            return Admission::Joined;
        }
        self.active.insert(run.clone(), Active { waiters: vec![waiter], next_seq: 1 });
        Admission::Started
    }

    /// Records a result finished `age` ago (persisted before a restart). False if the key is
    /// known already or the result has expired.
    pub fn restore(&mut self, now: Instant, run: &RunId, outcome: RunOutcome, age: Duration) -> bool {
        if age >= self.ttl || self.active.contains_key(run) || self.done.contains_key(run) {
            return false;
        }
        let expires = now + (self.ttl - age);
        self.insert_done(run, outcome, expires);
        // Keep the expiry queue ordered: restored entries come before anything new.
        let at = self.expiry.partition_point(|(t, _)| *t <= expires);
        self.expiry.insert(at, (expires, run.clone()));
        self.evict_over_bounds();
        true
    }

    /// Like [`RunTracker::admit`] for runs answered once (`chat.send`): nobody waits for the
    /// final result on a request id.
    pub fn admit_detached(&mut self, now: Instant, run: &RunId) -> Admission {
        self.expire(now);
        if let Some((stored, _)) = self.done.get(run) {
            return Admission::Cached(stored.outcome());
        }
        if self.active.contains_key(run) {
            return Admission::Joined;
        }
        self.active.insert(run.clone(), Active { waiters: Vec::new(), next_seq: 1 });
        Admission::Started
    }

    /// The next per-run event `seq` (from 1), or `None` if the run is not active.
    pub fn next_event_seq(&mut self, run: &RunId) -> Option<u64> {
        let active = self.active.get_mut(run)?;
        let seq = active.next_seq;
        active.next_seq += 1;
        Some(seq)
    }

    /// Ends a run, records its outcome and returns who must get the final `res`.
    pub fn finish(&mut self, now: Instant, run: &RunId, outcome: RunOutcome) -> Vec<Caller> {
        let Some(active) = self.active.remove(run) else { return Vec::new() };
        self.insert_done(run, outcome, now + self.ttl);
        self.expiry.push_back((now + self.ttl, run.clone()));
        self.evict_over_bounds();
        active.waiters
    }

    fn insert_done(&mut self, run: &RunId, outcome: RunOutcome, expires: Instant) {
        let stored = Stored::new(outcome);
        self.done_bytes += stored.bytes();
        if let Some((old, _)) = self.done.insert(run.clone(), (stored, expires)) {
            self.done_bytes -= old.bytes();
        }
    }

    fn remove_done(&mut self, run: &RunId) {
        if let Some((old, _)) = self.done.remove(run) {
            self.done_bytes -= old.bytes();
        }
    }

    /// Oldest first, until both the key and the byte bound hold.
    fn evict_over_bounds(&mut self) {
        while self.done.len() > MAX_IDEMPOTENCY_KEYS || self.done_bytes > MAX_IDEMPOTENCY_BYTES {
            match self.expiry.pop_front() {
                Some((_, old)) => self.remove_done(&old),
                None => break,
            }
        }
    }

    /// A socket went away: it no longer waits for anything.
    pub fn forget_conn(&mut self, conn: ConnId) {
        for active in self.active.values_mut() {
            active.waiters.retain(|w| !w.is_on(conn));
        }
    }

    /// A non-socket caller went away: it no longer waits for anything.
    pub fn forget(&mut self, caller: &Caller) {
        for active in self.active.values_mut() {
            active.waiters.retain(|w| w != caller);
        }
    }

    /// Who waits for an active run (empty if it is not active).
    pub fn waiters(&self, run: &RunId) -> &[Caller] {
        self.active.get(run).map_or(&[], |a| a.waiters.as_slice())
    }

    pub fn expire(&mut self, now: Instant) {
        while let Some((at, run)) = self.expiry.front() {
            if *at > now {
                break;
            }
            // Only drop the record if this expiry entry is its current one.
            if self.done.get(run).is_some_and(|(_, exp)| exp == at) {
                let run = run.clone();
                self.remove_done(&run);
            }
            self.expiry.pop_front();
        }
    }

    pub fn next_expiry(&self) -> Option<Instant> {
        self.expiry.front().map(|(at, _)| *at)
    }

    pub fn is_active(&self, run: &RunId) -> bool {
        self.active.contains_key(run)
    }

    pub fn active_runs(&self) -> Vec<RunId> {
        self.active.keys().cloned().collect()
    }

    /// Bytes held by finished results (bounded by [`MAX_IDEMPOTENCY_BYTES`]).
    pub fn cached_bytes(&self) -> usize {
        self.done_bytes
    }

    pub fn cached_len(&self) -> usize {
        self.done.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::ids::RequestId;

    fn w(conn: u64, id: &str) -> Caller {
        Caller::Socket { conn: ConnId(conn), id: RequestId(id.into()) }
    }

    #[test]
    fn duplicates_join_then_replay_until_ttl() {
        let t0 = Instant::ZERO;
        let mut r = RunTracker::new();
        let run = RunId("k".into());
        assert_eq!(r.admit(t0, &run, w(1, "a")), Admission::Started);
        assert_eq!(r.admit(t0, &run, w(2, "b")), Admission::Joined);
        assert_eq!(r.next_event_seq(&run), Some(1));
        assert_eq!(r.next_event_seq(&run), Some(2));
        let waiters = r.finish(t0, &run, RunOutcome::Ok(Value::Null));
        assert_eq!(waiters, vec![w(1, "a"), w(2, "b")]);
        assert_eq!(r.next_event_seq(&run), None);
        let later = t0 + IDEMPOTENCY_TTL - Duration::from_millis(1);
        assert_eq!(r.admit(later, &run, w(3, "c")), Admission::Cached(RunOutcome::Ok(Value::Null)));
        assert_eq!(r.admit(t0 + IDEMPOTENCY_TTL, &run, w(3, "d")), Admission::Started);
    }

    #[test]
    fn cache_is_capped() {
        let t0 = Instant::ZERO;
        let mut r = RunTracker::new();
        for i in 0..(MAX_IDEMPOTENCY_KEYS + 10) {
            let run = RunId(format!("k{i}"));
            r.admit(t0, &run, w(1, "x"));
            r.finish(t0, &run, RunOutcome::Ok(Value::Null));
        }
        assert_eq!(r.cached_len(), MAX_IDEMPOTENCY_KEYS);
        assert_eq!(r.admit(t0, &RunId("k0".into()), w(1, "y")), Admission::Started, "oldest evicted");
    }

    #[test]
    fn cache_is_bounded_in_bytes_and_replays_exactly() {
        let t0 = Instant::ZERO;
        let mut r = RunTracker::new();
        let big = serde_json::json!({"runId": "x", "status": "ok", "summary": "s".repeat(10_000)});
        for i in 0..200 {
            let run = RunId(format!("k{i}"));
            r.admit(t0, &run, w(1, "x"));
            r.finish(t0, &run, RunOutcome::Ok(big.clone()));
        }
        assert!(r.cached_bytes() <= MAX_IDEMPOTENCY_BYTES, "{} bytes", r.cached_bytes());
        assert!(r.cached_len() < 200, "large results evict before the key bound");
        assert_eq!(r.admit(t0, &RunId("k0".into()), w(1, "y")), Admission::Started, "oldest evicted");
        assert_eq!(r.admit(t0, &RunId("k199".into()), w(1, "y")), Admission::Cached(RunOutcome::Ok(big)));
        let failed = RunOutcome::Failed {
            payload: Some(serde_json::json!({"runId": "f", "status": "error"})),
            error: ErrorShape::invalid_request("nope"),
        };
        let run = RunId("f".into());
        r.admit(t0, &run, w(1, "x"));
        r.finish(t0, &run, failed.clone());
        assert_eq!(r.admit(t0, &run, w(1, "z")), Admission::Cached(failed));
    }

    #[test]
    fn closed_sockets_stop_waiting() {
        let t0 = Instant::ZERO;
        let mut r = RunTracker::new();
        let run = RunId("k".into());
        r.admit(t0, &run, w(1, "a"));
        r.admit(t0, &run, w(2, "b"));
        r.forget_conn(ConnId(1));
        assert_eq!(r.finish(t0, &run, RunOutcome::Ok(Value::Null)), vec![w(2, "b")]);
    }
}
