//! A UDP/4500 datagram: non-ESP marker classification, the ESP header, and an ESP trailer.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hitless_wire::fuzzing::esp_packet(data));
