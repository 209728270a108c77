//! Outbound accounting (protocol.md §8): bytes handed to the writer but not yet flushed, and the
//! per-connection event sequence. A slow consumer has droppable events skipped (their `seq`
//! still used, so the client sees a gap) and anything else closes the socket 1008.

use crate::ids::Seq;

/// What to do with one outbound frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admit {
    Send,
    /// Skip this droppable event; the socket stays open.
    Drop,
    /// The consumer is too slow for a frame that must not be dropped.
    CloseSlowConsumer,
}

#[derive(Clone, Debug)]
pub struct Outbox {
    buffered: usize,
    max_buffered: usize,
    next_seq: u64,
    /// Frames skipped because the consumer was slow (for logs and tests).
    pub dropped: u64,
}

impl Outbox {
    pub fn new(max_buffered: usize) -> Self {
        Self { buffered: 0, max_buffered, next_seq: 1, dropped: 0 }
    }

    /// Decides whether a frame may be queued, given what is already buffered.
    pub fn admit(&mut self, droppable: bool) -> Admit {
        if self.buffered <= self.max_buffered {
            return Admit::Send;
        }
        if droppable {
            self.dropped += 1;
            Admit::Drop
        } else {
            Admit::CloseSlowConsumer
        }
    }

    /// The next per-connection sequence number; used even when the event is then dropped.
    pub fn next_seq(&mut self) -> Seq {
        let seq = Seq(self.next_seq);
        self.next_seq += 1;
        seq
    }

    pub fn queued(&mut self, len: usize) {
        self.buffered = self.buffered.saturating_add(len);
    }

    pub fn flushed(&mut self, len: usize) {
        self.buffered = self.buffered.saturating_sub(len);
    }

    pub fn buffered(&self) -> usize {
        self.buffered
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seq_starts_at_one_and_increases() {
        let mut o = Outbox::new(100);
        assert_eq!(o.next_seq(), Seq(1));
        assert_eq!(o.next_seq(), Seq(2));
    }

    #[test]
    fn over_the_cap_droppable_events_drop_and_others_close() {
        let mut o = Outbox::new(100);
        o.queued(100);
        assert_eq!(o.admit(false), Admit::Send, "at the cap is still fine");
        o.queued(1);
        assert_eq!(o.admit(true), Admit::Drop);
        assert_eq!(o.admit(false), Admit::CloseSlowConsumer);
        assert_eq!(o.dropped, 1);
        o.flushed(50);
        assert_eq!(o.admit(false), Admit::Send);
        assert_eq!(o.buffered(), 51);
    }
}
