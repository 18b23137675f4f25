//! The ESP data plane's inbound path (hitless-esp) with fixed SAs and the NO SECURITY fuzzing
//! provider, whose ICVs always verify: SPI lookup, replay window, trailer, IP and selector
//! checks, and "never accepted twice".
#![no_main]

use std::sync::Arc;
use std::sync::LazyLock;

use hitless_crypto::CryptoProvider;

static PROVIDER: LazyLock<Arc<CryptoProvider>> =
    LazyLock::new(|| Arc::new(hitless_crypto_insecure::fuzzing_provider()));

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hitless_esp::fuzzing::esp_decapsulate(Arc::clone(&PROVIDER), data);
});
