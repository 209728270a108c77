//! Pure, IO-free state machines of the OpenClaw gateway protocol v4.
//!
//! Nothing here reads a clock, touches a socket or a file, or draws OS randomness: time comes in
//! as [`Instant`] (monotonic, for deadlines) and [`UnixMillis`] (wall, for payloads), randomness
//! as seeds and nonces. That makes every rule testable at the speed of light and lets the same
//! machines run in the `io` driver, a simulator or a fuzzer.
//!
//! # Machines
//! * [`Session`], one per socket: challenge, handshake, pending frames, validation and
//!   authorisation of each request, keepalive, outbound accounting, close.
//! * [`Hub`], one per gateway: registry, `connect` pipeline (auth, rate limit, scopes),
//!   methods, scope-filtered broadcast with `stateVersion`, presence, `tick`, health, two-stage
//!   runs with idempotency, shutdown.
//!
//! They never call each other: a session emits [`SessionEvent`]s (as [`Output::ToHub`]), the hub
//! emits [`HubToSession`] messages (as [`HubOutput::ToSession`]); the driver carries them.
//!
//! # Driving contract
//! After **any** `handle_*` call (or `new`), call `poll_output` until it returns `Wait`, and carry
//! out every output in order; only then feed the next input. `Wait(Some((deadline, reason)))` asks
//! for `handle_timeout(now)` once `now >= deadline`; `Wait(None)` means "only inputs wake me".
//!
//! ```
//! use openclaw_core::{Instant, Output, Session, PeerInfo, ConnId, Nonce, UnixMillis, Limits};
//! let now = Instant::ZERO;
//! let mut s = Session::new(ConnId(1), PeerInfo::loopback(), Nonce("n".into()), now,
//!                          UnixMillis(0), Limits::default());
//! loop {
//!     match s.poll_output() {
//!         Output::Wait(_deadline) => break,     // sleep until the deadline or an input
//!         Output::Send(_bytes) => {}            // write a text frame
//!         _other => {}                          // ping, close, terminate, to-hub …
//!     }
//! }
//! ```
//!
//! # Glossary
//! *seq*: per-connection event counter from 1; dropped events still use one. *stateVersion*:
//! gateway-wide counters for presence and health. *Two-stage reply*: a request answered first
//! `accepted`, then with its final result, on the same id. *Slow consumer*: a socket with more
//! than `maxBufferedBytes` unflushed.

#![forbid(unsafe_code)]

pub mod auth;
pub mod caller;
pub mod config;
pub mod devices;
pub mod error;
pub mod hooks;
pub mod hub;
pub mod ids;
pub mod limits;
pub mod link;
pub mod methods;
pub mod ports;
pub mod redact;
pub mod reload;
pub mod schema;
pub mod session;
pub(crate) mod services;
pub mod time;
pub mod turn;
pub mod wire;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use caller::{Caller, CallerEvent};
pub use hub::{Audience, Hub, HubConfig, HubInput, HubOutput, HubTimer, Lifecycle};
pub use ids::{CloseCode, ConnId, Nonce, RequestId, RunId, Seq, UnixMillis};
pub use limits::Limits;
pub use link::{HubToSession, PeerInfo, SessionEvent};
pub use session::{Output, Session, SessionTimer};
pub use time::Instant;
