//! An IKE message: header and payload chain, with a parse → emit → parse round trip; the body of
//! an SK/SKF payload is also parsed as an inner chain.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hitless_wire::fuzzing::ike_message(data));
