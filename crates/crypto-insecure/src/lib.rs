//! # NO SECURITY
//!
//! **This crate protects nothing.** It is a deterministic stand-in for a crypto provider, for the
//! simulator, the fuzzers and tests only. Its "encryption" is a keystream anyone can compute,
//! its "authentication" a non-cryptographic checksum, its "key exchange" a hash of two public
//! values that an eavesdropper sees. Linking it into a binary that carries real traffic would
//! send that traffic in the clear. Only `[dev-dependencies]`, tests, `hitless-sim` and `fuzz/`
//! may depend on it (ARCHITECTURE.md §2.3, STYLE.md §3.9).
//!
//! [`provider(seed)`](provider) mirrors `hitless_crypto_awslc::provider()` exactly: the same
//! encryption, integrity, PRF, key exchange and hash identifiers in the same order, with the
//! same key, salt, IV, ICV, output and public-value lengths, so proposals negotiate and keys
//! derive exactly as in production. Every AEAD and ICV still round-trips and detects any change
//! to data, AAD, IV, salt or tag, and both sides of every key exchange compute the same secret,
//! so protocol bugs show up as they would with real crypto. Its random source is a seeded
//! counter-mode generator: the same seed gives the same run.
//!
//! [`fuzzing_provider()`] is the same except that AEAD "encryption" is the identity and every
//! AEAD tag and integrity ICV verifies, so a fuzzer can reach the states behind authentication
//! (the idea of rustls's `rustls-fuzzing-provider`).

use std::sync::Arc;

use hitless_crypto::CryptoProvider;

mod aead;
mod cipher;
mod hash;
mod integ;
mod kex;
mod mix;
mod prf;
mod random;

/// NO SECURITY. A deterministic provider whose random source is seeded with `seed`.
///
/// Offers the same algorithms, in the same order and with the same lengths, as the production
/// provider; see the crate documentation.
pub fn provider(seed: u64) -> CryptoProvider {
    table(&aead::CHECKED, &integ::CHECKED, seed)
}

/// NO SECURITY. Like [`provider`] (seed 0), but AEAD encryption is the identity and every AEAD
/// tag and integrity ICV is accepted, so a fuzzer reaches authenticated states.
pub fn fuzzing_provider() -> CryptoProvider {
    table(&aead::FUZZING, &integ::FUZZING, 0)
}

fn table(
    aeads: &'static [aead::InsecureAead; 3],
    integs: &'static [integ::InsecureInteg; 4],
    seed: u64,
) -> CryptoProvider {
    CryptoProvider {
        aeads: aeads.iter().map(|x| x as _).collect(),
        ciphers: cipher::CIPHERS.iter().map(|x| x as _).collect(),
        integs: integs.iter().map(|x| x as _).collect(),
        prfs: prf::PRFS.iter().map(|x| x as _).collect(),
        key_exchanges: kex::METHODS.iter().map(|x| x as _).collect(),
        hashes: hash::HASHES.iter().map(|x| x as _).collect(),
        random: Arc::new(random::SeededRandom::new(seed)),
    }
}
