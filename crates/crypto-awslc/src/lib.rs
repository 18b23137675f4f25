//! The production crypto provider for hitless, on [aws-lc-rs].
//!
//! [`provider()`] returns a [`CryptoProvider`] with every algorithm hitless negotiates:
//!
//! | Kind | Algorithms |
//! |---|---|
//! | AEAD (SK payloads, ESP) | AES-GCM-16 with 128- and 256-bit keys ([RFC 4106], [RFC 5282]), ChaCha20-Poly1305 ([RFC 7634]) |
//! | Cipher | AES-CBC with 128- and 256-bit keys, unpadded ([RFC 3602]) |
//! | Integrity | HMAC-SHA2-256-128, HMAC-SHA2-384-192, HMAC-SHA2-512-256 ([RFC 4868]), HMAC-SHA1-96 ([RFC 2404]) |
//! | PRF | HMAC-SHA2-256/384/512 ([RFC 4868]), HMAC-SHA1 ([RFC 2104]) |
//! | Key exchange | X25519 (31, [RFC 8031]), ECP-256 (19) and ECP-384 (20) ([RFC 5903]), ML-KEM-768 (36, [FIPS 203]), MODP-2048 (14) and MODP-3072 (15) ([RFC 3526]) |
//! | Hash | SHA-1, SHA-256, SHA-384, SHA-512 |
//! | Random | AWS-LC's DRBG (`aws_lc_rs::rand::SystemRandom`) |
//!
//! aws-lc-rs has no finite-field Diffie-Hellman, so the MODP groups use the constant-time
//! Montgomery arithmetic of `crypto-bigint` (see `kex/modp.rs`).
//!
//! Certificate authentication ([RFC 7427] signatures with RSA-PSS, ECDSA and Ed25519; X.509
//! chains validated by `rustls-webpki`) is in [`pki`].
//!
//! Keys are expanded once ([`Aead::new_key`](hitless_crypto::Aead::new_key) and friends) and the
//! per-packet operations take `&self` and allocate nothing.
//!
//! [aws-lc-rs]: https://docs.rs/aws-lc-rs
//! [RFC 2104]: https://www.rfc-editor.org/rfc/rfc2104
//! [RFC 2404]: https://www.rfc-editor.org/rfc/rfc2404
//! [RFC 3526]: https://www.rfc-editor.org/rfc/rfc3526
//! [RFC 3602]: https://www.rfc-editor.org/rfc/rfc3602
//! [RFC 4106]: https://www.rfc-editor.org/rfc/rfc4106
//! [RFC 4868]: https://www.rfc-editor.org/rfc/rfc4868
//! [RFC 5282]: https://www.rfc-editor.org/rfc/rfc5282
//! [RFC 5903]: https://www.rfc-editor.org/rfc/rfc5903
//! [RFC 7634]: https://www.rfc-editor.org/rfc/rfc7634
//! [RFC 8031]: https://www.rfc-editor.org/rfc/rfc8031
//! [FIPS 203]: https://csrc.nist.gov/pubs/fips/203/final
//! [RFC 7427]: https://www.rfc-editor.org/rfc/rfc7427

use std::sync::Arc;

use hitless_crypto::CryptoProvider;

mod aead;
mod cipher;
mod hash;
mod integ;
mod kex;
pub mod pki;
mod prf;
mod random;

/// Hooks for this crate's known-answer tests (`tests/kat.rs`); not part of the API.
#[doc(hidden)]
pub mod testing {
    use hitless_crypto::CryptoError;
    use hitless_crypto::KePrivate;
    use hitless_wire::registry::KeMethod;

    use crate::kex::ecdh;

    /// The initiator's half of an X25519 or ECP exchange with a FIXED private key (RFC 7748
    /// §6.1 and RFC 5903 §8 publish their vectors that way). Never use outside tests.
    ///
    /// # Errors
    ///
    /// [`CryptoError::InvalidKeyLength`] for a malformed key, [`CryptoError::Library`] for a
    /// method other than X25519, ECP-256 and ECP-384.
    pub fn ecdh_with_private_key(
        method: KeMethod,
        private: &[u8],
    ) -> Result<Box<dyn KePrivate>, CryptoError> {
        let ecdh = match method {
            KeMethod::CURVE25519 => &ecdh::X25519,
            KeMethod::ECP_256 => &ecdh::ECP_256,
            KeMethod::ECP_384 => &ecdh::ECP_384,
            _ => return Err(CryptoError::Library),
        };
        ecdh.with_private_key(private)
    }
}

/// The production provider: every algorithm of the crate documentation, with AWS-LC's random
/// source.
///
/// Each table lists algorithms in hitless's order of preference.
pub fn provider() -> CryptoProvider {
    CryptoProvider {
        aeads: vec![
            &aead::AES_256_GCM_16,
            &aead::AES_128_GCM_16,
            &aead::CHACHA20_POLY1305,
        ],
        ciphers: vec![&cipher::AES_256_CBC, &cipher::AES_128_CBC],
        integs: vec![
            &integ::HMAC_SHA2_256_128,
            &integ::HMAC_SHA2_384_192,
            &integ::HMAC_SHA2_512_256,
            &integ::HMAC_SHA1_96,
        ],
        prfs: vec![
            &prf::HMAC_SHA2_256,
            &prf::HMAC_SHA2_384,
            &prf::HMAC_SHA2_512,
            &prf::HMAC_SHA1,
        ],
        key_exchanges: vec![
            &kex::ecdh::X25519,
            &kex::ecdh::ECP_256,
            &kex::ecdh::ECP_384,
            &kex::mlkem::ML_KEM_768,
            &kex::modp::MODP_3072,
            &kex::modp::MODP_2048,
        ],
        hashes: vec![
            &hash::SHA1,
            &hash::SHA2_256,
            &hash::SHA2_384,
            &hash::SHA2_512,
        ],
        random: Arc::new(random::SystemRandom::new()),
    }
}
