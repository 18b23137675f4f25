//! Crypto for hitless: provider traits, secret types and IKEv2 key derivation.
//!
//! This crate holds no algorithm implementation. A [`CryptoProvider`] (the shape of rustls's) is
//! a table of algorithm objects supplied by a provider crate: `hitless-crypto-awslc` in
//! production, `hitless-crypto-insecure` (NO SECURITY) in simulation and fuzzing. The engines
//! receive an `Arc<CryptoProvider>` and never reach for OS randomness themselves.
//!
//! Key derivation that IKEv2 defines on top of a PRF lives here, once, for every provider:
//! prf+ ([RFC 7296 §2.13]), SKEYSEED and SK_* ([§2.14]), Child SA KEYMAT ([§2.17]), the IKE SA
//! rekey derivation ([§2.18]) and the additional key exchanges of [RFC 9370].
//!
//! [RFC 7296 §2.13]: https://www.rfc-editor.org/rfc/rfc7296#section-2.13
//! [§2.14]: https://www.rfc-editor.org/rfc/rfc7296#section-2.14
//! [§2.17]: https://www.rfc-editor.org/rfc/rfc7296#section-2.17
//! [§2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
//! Certificate authentication ([RFC 7427] signatures, X.509 chains) is described by traits
//! here too ([`pki`]): the engine signs with a [`Signer`](pki::Signer) and checks peers with a
//! [`CertificateVerifier`](pki::CertificateVerifier), which a provider implements. The RFC 7427
//! encodings ([`signature`]) and the rules matching IKE identities to certificate names
//! ([`identity`]) need no library and live here.
//!
//! [RFC 9370]: https://www.rfc-editor.org/rfc/rfc9370
//! [RFC 7427]: https://www.rfc-editor.org/rfc/rfc7427

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod derive;
pub mod identity;
pub mod pki;
pub mod provider;
pub mod secret;
pub mod signature;

pub use derive::prf_plus;
pub use provider::Aead;
pub use provider::AeadKey;
pub use provider::Cipher;
pub use provider::CipherKey;
pub use provider::CryptoError;
pub use provider::CryptoProvider;
pub use provider::Hash;
pub use provider::Integ;
pub use provider::IntegKey;
pub use provider::KePrivate;
pub use provider::KeyExchange;
pub use provider::Prf;
pub use provider::SecureRandom;
pub use secret::SecretBytes;
