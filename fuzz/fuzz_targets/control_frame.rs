//! A hostile control client: a byte stream of frames into the daemon-side session.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hitless_control::fuzzing::control_frame(data));
