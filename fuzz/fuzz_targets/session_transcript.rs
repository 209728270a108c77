//! An arbitrary list of socket/time/shutdown operations against the virtual-clock harness, with
//! the protocol invariants checked after every step. Logic:
//! `openclaw_core::testing::fuzz::session_transcript`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    openclaw_core::testing::fuzz::session_transcript(data);
});
