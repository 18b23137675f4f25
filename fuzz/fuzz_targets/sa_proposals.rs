//! An SA payload body: proposals, transforms and attributes, with a round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hitless_wire::fuzzing::sa_proposals(data));
