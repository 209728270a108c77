//! Config text → the JSON5 parser (round trip through JSON) and the whole load pipeline
//! (`$include`, `${VAR}`, validation, the error report). Logic:
//! `openclaw_core::testing::fuzz_config::config_load`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    openclaw_core::testing::fuzz_config::config_load(data);
});
