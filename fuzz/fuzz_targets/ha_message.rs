//! HA sync records and a whole HA node (hitless-ha): the record codec must round-trip, and a
//! node fed arbitrary datagrams from a cluster member, with the NO SECURITY fuzzing provider
//! whose tags always verify, must never panic (session verification, the ordered stream,
//! every record type, takeover and demotion).
#![no_main]

use std::sync::Arc;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hitless_ha::fuzzing::ha_message(
        Arc::new(hitless_crypto_insecure::fuzzing_provider()),
        data,
    );
});
