//! Raw bytes → `wire::codec::decode_request`, and a session fed them pre-auth, while `connect`
//! is pending and post-auth. Logic: `openclaw_core::testing::fuzz::decode_frame`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    openclaw_core::testing::fuzz::decode_frame(data);
});
