//! The [`Turn`] machine: the first round walks the model chain (each model with its retries)
//! until one answers; later rounds stay with that model. A round that asks for tools runs them
//! one by one and starts the next round, up to the plan's bound.

use std::collections::VecDeque;
use std::time::Duration;

use super::{
    AttemptOutcome, ChatMessage, FailureKind, ModelCall, ModelRef, TurnInput, TurnOutput, TurnPlan, TurnResult,
};
use crate::time::Instant;
use crate::wire::agent::{RunErrorKind, RunFailure, RunReport, ToolCall, ToolOutcome, Usage};

/// One run's turn policy. See the [module docs](super) for how to drive it.
#[derive(Debug)]
pub struct Turn {
    plan: TurnPlan,
    conversation: Vec<ChatMessage>,
    /// The chain link being tried while no model has answered yet.
    link: usize,
    /// The model that answered the first round; later rounds use it alone.
    chosen: Option<ModelRef>,
    attempt: u32,
    /// Tools are offered to the current model in this round.
    tools: bool,
    /// Rounds that ended in tool calls so far.
    tool_rounds: u32,
    usage: Option<Usage>,
    /// Why the last model of the chain that was given up on failed.
    last_failure: Option<RunFailure>,
    phase: Phase,
    /// Tool calls of this round not started yet, and the one running.
    queued_tools: VecDeque<ToolCall>,
    running_tool: Option<ToolCall>,
    out: VecDeque<TurnOutput>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// A call is in flight; it times out at `deadline` unless the provider speaks.
    Calling { deadline: Instant, streamed: bool },
    /// Waiting before the next attempt at the same model.
    Backoff { until: Instant },
    /// Tools of a round are running.
    Tools,
    Done,
}

impl Turn {
    /// Starts a turn over the session's `history` (oldest first). `message` is the user's
    /// message of this run; the hub appended it to the transcript before the run started, so it
    /// normally ends `history` already — if that write failed, the model still gets it.
    pub fn new(plan: TurnPlan, history: Vec<ChatMessage>, message: &str, now: Instant) -> Self {
        let mut conversation = history;
        if !matches!(conversation.last(), Some(ChatMessage::User(t)) if t == message) {
            conversation.push(ChatMessage::User(message.to_owned()));
        }
        let mut turn = Self {
            tools: plan.offer_tools,
            plan,
            conversation,
            link: 0,
            chosen: None,
            attempt: 1,
            tool_rounds: 0,
            usage: None,
            last_failure: None,
            phase: Phase::Done,
            queued_tools: VecDeque::new(),
            running_tool: None,
            out: VecDeque::new(),
        };
        turn.next_link(now);
        turn
    }

    /// The conversation the next [`TurnOutput::CallModel`] sends: the history, the user's
    /// message, and this run's earlier rounds with their tool results.
    pub fn conversation(&self) -> &[ChatMessage] {
        &self.conversation
    }

    /// A [`TurnOutput::Done`] came out: nothing more will.
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    pub fn handle_input(&mut self, input: TurnInput, now: Instant) {
        match input {
            TurnInput::Activity => {
                if let Phase::Calling { deadline, .. } = &mut self.phase {
                    *deadline = now + self.plan.idle_timeout;
                }
            }
            TurnInput::Delta(text) => {
                if let Phase::Calling { deadline, streamed } = &mut self.phase {
                    *deadline = now + self.plan.idle_timeout;
                    *streamed = true;
                    self.out.push_back(TurnOutput::Report(RunReport::Delta { text }));
                }
            }
            TurnInput::AttemptFinished(outcome) => {
                let Phase::Calling { streamed, .. } = self.phase else { return };
                match outcome {
                    AttemptOutcome::Completed { text, calls, usage } => self.round_done(text, calls, usage, now),
                    AttemptOutcome::Failed { failure, kind } => self.attempt_failed(failure, kind, streamed, now),
                }
            }
            TurnInput::ToolFinished { text, is_error } => {
                if self.phase != Phase::Tools {
                    return;
                }
                let Some(call) = self.running_tool.take() else { return };
                let outcome = ToolOutcome { call_id: call.id.clone(), name: call.name.clone(), text: text.clone(), is_error };
                self.out.push_back(TurnOutput::Report(RunReport::ToolResult(outcome)));
                self.conversation.push(ChatMessage::ToolResult { call_id: call.id, name: call.name, text, is_error });
                self.next_tool(now);
            }
        }
    }

    /// A deadline of [`Turn::poll_timeout`] passed: the provider stayed silent too long, or a
    /// backoff is over.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Calling { deadline, streamed } if now >= deadline => {
                self.out.push_back(TurnOutput::CancelCall);
                let failure = timeout_failure(self.plan.idle_timeout);
                self.attempt_failed(failure, FailureKind::Transient { retry_after: None }, streamed, now);
            }
            Phase::Backoff { until } if now >= until => {
                self.attempt += 1;
                self.call(now);
            }
            Phase::Calling { .. } | Phase::Backoff { .. } | Phase::Tools | Phase::Done => {}
        }
    }

    pub fn poll_output(&mut self) -> Option<TurnOutput> {
        self.out.pop_front()
    }

    /// When [`Turn::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::Calling { deadline, .. } => Some(deadline),
            Phase::Backoff { until } => Some(until),
            Phase::Tools | Phase::Done => None,
        }
    }

    /// The first round moves on to the next callable link of the chain (or fails the run).
    fn next_link(&mut self, now: Instant) {
        while let Some(link) = self.plan.chain.get(self.link) {
            match link {
                Ok(model) => {
                    let report = RunReport::Model { provider: model.provider.clone(), model: model.model.clone() };
                    self.out.push_back(TurnOutput::Report(report));
                    self.attempt = 1;
                    self.tools = self.plan.offer_tools;
                    self.call(now);
                    return;
                }
                Err(failure) => {
                    self.last_failure = Some(failure.clone());
                    self.link += 1;
                }
            }
        }
        let failure = self.last_failure.take().unwrap_or_else(|| unknown("no model to run".into()));
        self.finish(Err(failure));
    }

    fn current_model(&self) -> Option<&ModelRef> {
        self.chosen.as_ref().or_else(|| self.plan.chain.get(self.link).and_then(|l| l.as_ref().ok()))
    }

    fn call(&mut self, now: Instant) {
        let Some(model) = self.current_model().cloned() else {
            self.finish(Err(unknown("no model to run".into())));
            return;
        };
        self.out.push_back(TurnOutput::CallModel(ModelCall { model, attempt: self.attempt, tools: self.tools }));
        self.phase = Phase::Calling { deadline: now + self.plan.idle_timeout, streamed: false };
    }

    fn attempt_failed(&mut self, failure: RunFailure, kind: FailureKind, streamed: bool, now: Instant) {
        match kind {
            FailureKind::RejectsTools if self.tools && !streamed => {
                self.tools = false;
                self.call(now);
            }
            FailureKind::Transient { retry_after } if !streamed && self.attempt < self.plan.retry.max_attempts => {
                let delay = self.plan.retry.delay(self.attempt, retry_after);
                self.phase = Phase::Backoff { until: now + delay };
            }
            FailureKind::RejectsTools | FailureKind::Transient { .. } | FailureKind::Fatal => {
                // Text already shown cannot be taken back: no fallback after streaming; a
                // refusal would be refused again; later rounds have no chain to fall back on.
                if self.chosen.is_some() || streamed || failure.kind == RunErrorKind::Refusal {
                    self.finish(Err(failure));
                } else {
                    self.last_failure = Some(failure);
                    self.link += 1;
                    self.next_link(now);
                }
            }
        }
    }

    fn round_done(&mut self, text: String, calls: Vec<ToolCall>, usage: Option<Usage>, now: Instant) {
        if self.chosen.is_none() {
            self.chosen = self.current_model().cloned();
        }
        if let Some(u) = usage {
            let t = self.usage.unwrap_or_default();
            self.usage = Some(Usage { input: t.input + u.input, output: t.output + u.output });
        }
        if calls.is_empty() {
            let usage = self.usage;
            self.finish(Ok(TurnResult { text, usage }));
            return;
        }
        // Client tools are the caller's to run: the turn ends here with them pending (calls
        // of the gateway's own tools in the same round are dropped with it).
        let pending: Vec<ToolCall> = calls.iter().filter(|c| self.plan.client_tools.contains(&c.name)).cloned().collect();
        if !pending.is_empty() {
            self.out.push_back(TurnOutput::Report(RunReport::ClientToolCalls { calls: pending }));
            let usage = self.usage;
            self.finish(Ok(TurnResult { text, usage }));
            return;
        }
        if self.tool_rounds >= self.plan.max_tool_rounds {
            let rounds = self.tool_rounds;
            self.finish(Err(unknown(format!(
                "the model was still calling tools after {rounds} rounds; the run was stopped without a final answer"
            ))));
            return;
        }
        self.tool_rounds += 1;
        self.out.push_back(TurnOutput::Report(RunReport::ToolCalls { calls: calls.clone() }));
        self.conversation.push(ChatMessage::Assistant { text, calls: calls.clone() });
        self.queued_tools = calls.into();
        self.phase = Phase::Tools;
        self.next_tool(now);
    }

    /// Starts the next tool of the round, or the next round when all are done.
    fn next_tool(&mut self, now: Instant) {
        match self.queued_tools.pop_front() {
            Some(call) => {
                self.out.push_back(TurnOutput::Report(RunReport::ToolStart { call: call.clone() }));
                self.out.push_back(TurnOutput::RunTool(call.clone()));
                self.running_tool = Some(call);
            }
            None => {
                self.attempt = 1;
                self.tools = self.plan.offer_tools;
                self.call(now);
            }
        }
    }

    fn finish(&mut self, result: Result<TurnResult, RunFailure>) {
        self.out.push_back(TurnOutput::Done(result));
        self.phase = Phase::Done;
        self.queued_tools.clear();
        self.running_tool = None;
    }
}

fn unknown(message: String) -> RunFailure {
    RunFailure { kind: RunErrorKind::Unknown, message, http_status: None }
}

fn timeout_failure(after: Duration) -> RunFailure {
    RunFailure {
        kind: RunErrorKind::Timeout,
        message: format!("the provider sent nothing for {}s", after.as_secs()),
        http_status: None,
    }
}
