//! A TSi/TSr payload body, with a round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hitless_wire::fuzzing::traffic_selectors(data));
