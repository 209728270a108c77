//! Server keepalive (protocol.md §8): after auth a ping every 25 s; the peer must pong before the
//! next ping is due or the socket is terminated (the peer sees 1006). Other traffic does not count.

use std::time::Duration;

use crate::time::Instant;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Liveness {
    /// Not started (before `hello-ok`).
    Idle,
    /// A ping is due at the deadline; `awaiting_pong` if the last ping is unanswered.
    Pinging { due: Instant, awaiting_pong: bool },
}

/// What the ping timer asks for when it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LivenessAction {
    Ping,
    Terminate,
}

impl Liveness {
    pub fn start(now: Instant, interval: Duration) -> Self {
        Self::Pinging { due: now + interval, awaiting_pong: false }
    }

    pub fn deadline(&self) -> Option<Instant> {
        match self {
            Self::Idle => None,
            Self::Pinging { due, .. } => Some(*due),
        }
    }

    pub fn handle_pong(&mut self) {
        if let Self::Pinging { awaiting_pong, .. } = self {
            *awaiting_pong = false;
        }
    }

    /// Called when the deadline has passed.
    pub fn handle_due(&mut self, now: Instant, interval: Duration) -> LivenessAction {
        match self {
            Self::Idle => LivenessAction::Ping,
            Self::Pinging { awaiting_pong: true, .. } => LivenessAction::Terminate,
            Self::Pinging { due, awaiting_pong } => {
                *due = now + interval;
                *awaiting_pong = true;
                LivenessAction::Ping
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: Duration = Duration::from_secs(25);

    #[test]
    fn ping_then_terminate_without_pong() {
        let t0 = Instant::ZERO;
        let mut l = Liveness::start(t0, I);
        assert_eq!(l.deadline(), Some(t0 + I));
        assert_eq!(l.handle_due(t0 + I, I), LivenessAction::Ping);
        assert_eq!(l.deadline(), Some(t0 + I * 2));
        assert_eq!(l.handle_due(t0 + I * 2, I), LivenessAction::Terminate);
    }

    #[test]
    fn pong_keeps_it_alive() {
        let t0 = Instant::ZERO;
        let mut l = Liveness::start(t0, I);
        for k in 1..10u32 {
            assert_eq!(l.handle_due(t0 + I * k, I), LivenessAction::Ping);
            l.handle_pong();
        }
    }
}
