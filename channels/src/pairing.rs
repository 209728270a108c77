//! The channel pairing store (reference `pairing-store.ts`), pure: per channel, the pending
//! requests of unknown senders, each with an 8-character code from
//! `ABCDEFGHJKLMNPQRSTUVWXYZ23456789`, expiring 1 h after creation, at most 3 pending (the one
//! seen longest ago is evicted). Time and random bytes are passed in; the driver persists the
//! requests (`channel_pairing_requests`) and the approvals.

use std::fmt;

/// The code alphabet (no `0 O 1 I`).
pub const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
/// Code length.
pub const CODE_LEN: usize = 8;
/// A pending request expires this long after it was created.
pub const PENDING_TTL_MS: u64 = 60 * 60 * 1000;
/// At most this many pending requests per channel.
pub const MAX_PENDING: usize = 3;

/// A pairing code: 8 characters of [`CODE_ALPHABET`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PairingCode(String);

impl PairingCode {
    /// The code for 8 random bytes (each picks one of 32 characters: unbiased, 256 = 8 × 32).
    pub fn from_bytes(bytes: [u8; CODE_LEN]) -> Self {
        Self(bytes.iter().map(|b| CODE_ALPHABET[usize::from(b % 32)] as char).collect())
    }

    /// Parses a code typed by an operator (case-insensitive, surrounding spaces ignored).
    pub fn parse(s: &str) -> Result<Self, PairingError> {
        let s = s.trim().to_ascii_uppercase();
        if s.len() == CODE_LEN && s.bytes().all(|b| CODE_ALPHABET.contains(&b)) {
            Ok(Self(s))
        } else {
            Err(PairingError::BadCode(s))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PairingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Bad operator input.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    #[error("invalid pairing code {0:?}: expected {CODE_LEN} characters of {alphabet}", alphabet = std::str::from_utf8(CODE_ALPHABET).unwrap_or_default())]
    BadCode(String),
    #[error("no pending pairing request with code {0}")]
    UnknownCode(String),
}

/// One pending request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairingRequest {
    /// The sender id (a Telegram user id as a string).
    pub id: String,
    pub code: PairingCode,
    pub created_at_ms: u64,
    pub last_seen_at_ms: u64,
    /// The account the sender wrote to.
    pub account_id: String,
    /// A display name, when known.
    pub name: Option<String>,
}

/// What [`PairingStore::upsert`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Upsert {
    /// A new request: reply to the sender with the code.
    Created(PairingCode),
    /// The sender already has a pending request (its `last_seen` refreshed): no reply.
    Existing(PairingCode),
}

/// The pending requests of one channel.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PairingStore {
    pending: Vec<PairingRequest>,
}

impl PairingStore {
    /// A store holding these requests (as loaded; expired ones are pruned on the next change).
    pub fn from_requests(pending: Vec<PairingRequest>) -> Self {
        Self { pending }
    }

    /// Records that `id` wrote without access at `now_ms`. `random` gives 8 fresh random bytes
    /// per call (called again while a code collides with a pending one).
    pub fn upsert(
        &mut self,
        id: &str,
        account_id: &str,
        name: Option<&str>,
        now_ms: u64,
        mut random: impl FnMut() -> [u8; CODE_LEN],
    ) -> Upsert {
        self.prune(now_ms);
        if let Some(req) = self.pending.iter_mut().find(|r| r.id == id) {
            req.last_seen_at_ms = now_ms;
            return Upsert::Existing(req.code.clone());
        }
        let code = loop {
            let code = PairingCode::from_bytes(random());
            if !self.pending.iter().any(|r| r.code == code) {
                break code;
            }
        };
        while self.pending.len() >= MAX_PENDING {
            if let Some(oldest) = self.pending.iter().enumerate().min_by_key(|(_, r)| r.last_seen_at_ms).map(|(i, _)| i) {
                self.pending.remove(oldest);
            }
        }
        self.pending.push(PairingRequest {
            id: id.into(),
            code: code.clone(),
            created_at_ms: now_ms,
            last_seen_at_ms: now_ms,
            account_id: account_id.into(),
            name: name.map(str::to_owned),
        });
        Upsert::Created(code)
    }

    /// Approves `code`: removes its request and returns it (the driver adds its id to the
    /// channel's allowFrom).
    pub fn approve(&mut self, code: &str, now_ms: u64) -> Result<PairingRequest, PairingError> {
        let code = PairingCode::parse(code)?;
        self.prune(now_ms);
        let i = self.pending.iter().position(|r| r.code == code).ok_or_else(|| PairingError::UnknownCode(code.0.clone()))?;
        Ok(self.pending.remove(i))
    }

    /// The requests still pending at `now_ms`, oldest first.
    pub fn pending(&self, now_ms: u64) -> Vec<&PairingRequest> {
        let mut out: Vec<_> = self.pending.iter().filter(|r| !expired(r, now_ms)).collect();
        out.sort_by_key(|r| r.created_at_ms);
        out
    }

    fn prune(&mut self, now_ms: u64) {
        self.pending.retain(|r| !expired(r, now_ms));
    }
}

fn expired(r: &PairingRequest, now_ms: u64) -> bool {
    now_ms.saturating_sub(r.created_at_ms) >= PENDING_TTL_MS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counter() -> impl FnMut() -> [u8; CODE_LEN] {
        let mut n = 0u8;
        move || {
            n += 1;
            [n; CODE_LEN]
        }
    }

    #[test]
    fn codes_are_8_characters_of_the_alphabet() {
        assert_eq!(PairingCode::from_bytes([0, 1, 2, 3, 31, 32, 255, 8]).as_str(), "ABCD9A9J");
        let code = PairingCode::from_bytes([200, 17, 99, 3, 250, 64, 1, 77]);
        assert_eq!(code.as_str().len(), CODE_LEN);
        assert!(code.as_str().bytes().all(|b| CODE_ALPHABET.contains(&b)));
    }

    #[test]
    fn operator_codes_parse_case_insensitively_and_bad_ones_are_named() {
        assert_eq!(PairingCode::parse(" 7td7kyqq ").expect("ok").as_str(), "7TD7KYQQ");
        assert!(matches!(PairingCode::parse("7TD7KYQ"), Err(PairingError::BadCode(_))));
        assert!(matches!(PairingCode::parse("7TD7KYQ0"), Err(PairingError::BadCode(_))), "0 is not in the alphabet");
        assert!(PairingCode::parse("").expect_err("empty").to_string().contains("8 characters"));
    }

    #[test]
    fn a_new_sender_gets_a_code_once_then_existing() {
        let mut store = PairingStore::default();
        let mut rnd = counter();
        let Upsert::Created(code) = store.upsert("111", "default", Some("Ann"), 1_000, &mut rnd) else { panic!("created") };
        assert_eq!(store.upsert("111", "default", None, 2_000, &mut rnd), Upsert::Existing(code));
        let pending = store.pending(2_000);
        assert_eq!(pending.len(), 1);
        assert_eq!((pending[0].last_seen_at_ms, pending[0].name.as_deref()), (2_000, Some("Ann")));
    }

    #[test]
    fn requests_expire_after_an_hour_and_then_get_a_new_code() {
        let mut store = PairingStore::default();
        let mut rnd = counter();
        let Upsert::Created(first) = store.upsert("111", "default", None, 0, &mut rnd) else { panic!() };
        assert_eq!(store.pending(PENDING_TTL_MS - 1).len(), 1);
        assert!(store.pending(PENDING_TTL_MS).is_empty());
        let Upsert::Created(second) = store.upsert("111", "default", None, PENDING_TTL_MS, &mut rnd) else { panic!("new") };
        assert_ne!(first, second);
        assert!(matches!(store.approve(first.as_str(), PENDING_TTL_MS), Err(PairingError::UnknownCode(_))));
    }

    #[test]
    fn at_most_three_pending_the_least_recently_seen_is_evicted() {
        let mut store = PairingStore::default();
        let mut rnd = counter();
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            store.upsert(id, "default", None, i as u64, &mut rnd);
        }
        store.upsert("a", "default", None, 10, &mut rnd); // a seen again: b is now the oldest
        store.upsert("d", "default", None, 11, &mut rnd);
        let ids: Vec<_> = store.pending(11).iter().map(|r| r.id.clone()).collect();
        assert_eq!(ids, ["a", "c", "d"]);
    }

    #[test]
    fn codes_stay_unique_among_pending() {
        let mut store = PairingStore::default();
        let mut calls = 0;
        let mut rnd = || {
            calls += 1;
            if calls <= 2 { [5; CODE_LEN] } else { [6; CODE_LEN] }
        };
        let Upsert::Created(a) = store.upsert("a", "default", None, 0, &mut rnd) else { panic!() };
        let Upsert::Created(b) = store.upsert("b", "default", None, 0, &mut rnd) else { panic!() };
        assert_ne!(a, b);
    }

    #[test]
    fn approving_removes_the_request_and_returns_the_sender() {
        let mut store = PairingStore::default();
        let Upsert::Created(code) = store.upsert("111", "default", None, 0, counter()) else { panic!() };
        let req = store.approve(&code.as_str().to_ascii_lowercase(), 5).expect("approved");
        assert_eq!(req.id, "111");
        assert!(store.pending(5).is_empty());
        assert!(matches!(store.approve(code.as_str(), 5), Err(PairingError::UnknownCode(_))));
    }
}
