//! Elliptic-curve Diffie-Hellman: X25519 ([RFC 8031]) and ECP-256/ECP-384 ([RFC 5903]).
//!
//! X25519 public values are the 32-byte u-coordinate ([RFC 8031 §3]); an all-zero shared secret
//! (a low-order peer point) is rejected ([RFC 7748 §6.1], RFC 8031 §3.1). ECP public values are
//! `x | y` without the SEC1 `0x04` prefix, and the shared secret is the x coordinate of the
//! shared point ([RFC 5903 §7]); AWS-LC checks that peer points lie on the curve
//! ([RFC 6989 §2.3]).
//!
//! [RFC 8031]: https://www.rfc-editor.org/rfc/rfc8031
//! [RFC 8031 §3]: https://www.rfc-editor.org/rfc/rfc8031#section-3
//! [RFC 7748 §6.1]: https://www.rfc-editor.org/rfc/rfc7748#section-6.1
//! [RFC 5903]: https://www.rfc-editor.org/rfc/rfc5903
//! [RFC 5903 §7]: https://www.rfc-editor.org/rfc/rfc5903#section-7
//! [RFC 6989 §2.3]: https://www.rfc-editor.org/rfc/rfc6989#section-2.3

use std::fmt;

use aws_lc_rs::agreement;
use hitless_crypto::CryptoError;
use hitless_crypto::KePrivate;
use hitless_crypto::KeyExchange;
use hitless_crypto::SecretBytes;
use hitless_crypto::SecureRandom;
use hitless_wire::registry::KeMethod;

use super::is_all_zero;

/// Curve25519 (KE method 31).
pub(crate) static X25519: Ecdh = Ecdh {
    name: "X25519",
    method: KeMethod::CURVE25519,
    curve: Curve {
        algorithm: &agreement::X25519,
        encoding: Encoding::Raw,
        public_len: 32,
    },
};

/// 256-bit random ECP group, NIST P-256 (KE method 19).
pub(crate) static ECP_256: Ecdh = Ecdh {
    name: "ECP-256",
    method: KeMethod::ECP_256,
    curve: Curve {
        algorithm: &agreement::ECDH_P256,
        encoding: Encoding::Sec1WithoutPrefix,
        public_len: 64,
    },
};

/// 384-bit random ECP group, NIST P-384 (KE method 20).
pub(crate) static ECP_384: Ecdh = Ecdh {
    name: "ECP-384",
    method: KeMethod::ECP_384,
    curve: Curve {
        algorithm: &agreement::ECDH_P384,
        encoding: Encoding::Sec1WithoutPrefix,
        public_len: 96,
    },
};

/// An ECDH method.
///
/// Private keys come from AWS-LC's own DRBG, the same source as the provider's random; the
/// `random` argument of [`KeyExchange`] is not consulted.
pub(crate) struct Ecdh {
    name: &'static str,
    method: KeMethod,
    curve: Curve,
}

/// A curve and how its public values are encoded.
#[derive(Clone, Copy)]
struct Curve {
    algorithm: &'static agreement::Algorithm,
    encoding: Encoding,
    public_len: usize,
}

/// How a public value is written in the KE payload.
#[derive(Clone, Copy)]
enum Encoding {
    /// The raw 32-byte u-coordinate (RFC 8031 §3).
    Raw,
    /// `x | y`, each left-padded to the field size (RFC 5903 §7).
    Sec1WithoutPrefix,
}

impl Ecdh {
    /// An initiator's half with a fixed private key: for known-answer tests only.
    pub(crate) fn with_private_key(
        &self,
        private: &[u8],
    ) -> Result<Box<dyn KePrivate>, CryptoError> {
        let key = agreement::PrivateKey::from_private_key(self.curve.algorithm, private)
            .map_err(|_| CryptoError::InvalidKeyLength)?;
        Ok(Box::new(self.curve.with_key(key)?))
    }
}

impl Curve {
    fn generate(self) -> Result<EcdhPrivate, CryptoError> {
        let key =
            agreement::PrivateKey::generate(self.algorithm).map_err(|_| CryptoError::Library)?;
        self.with_key(key)
    }

    fn with_key(self, key: agreement::PrivateKey) -> Result<EcdhPrivate, CryptoError> {
        let public = key.compute_public_key().map_err(|_| CryptoError::Library)?;
        let public = match self.encoding {
            Encoding::Raw => public.as_ref(),
            // SEC1 uncompressed: 0x04 | x | y.
            Encoding::Sec1WithoutPrefix => public.as_ref().get(1..).unwrap_or_default(),
        };
        if public.len() != self.public_len {
            return Err(CryptoError::Library);
        }
        Ok(EcdhPrivate {
            curve: self,
            key,
            public: public.to_vec(),
        })
    }

    fn agree(
        self,
        key: &agreement::PrivateKey,
        peer_public: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        // RFC 7296 §3.4: the KE data has the method's exact length.
        if peer_public.len() != self.public_len {
            return Err(CryptoError::InvalidPeerPublicValue);
        }
        let mut encoded = [0u8; 1 + MAX_PUBLIC_LEN];
        let encoded = match self.encoding {
            Encoding::Raw => peer_public,
            Encoding::Sec1WithoutPrefix => {
                encoded[0] = 0x04;
                encoded[1..=peer_public.len()].copy_from_slice(peer_public);
                &encoded[..=peer_public.len()]
            }
        };
        let peer = agreement::UnparsedPublicKey::new(self.algorithm, encoded);
        let shared = agreement::agree(key, peer, CryptoError::InvalidPeerPublicValue, |secret| {
            Ok(SecretBytes::from_slice(secret))
        })?;
        // RFC 7748 §6.1: reject the all-zero output of a low-order point. (For the NIST curves
        // the point at infinity is already refused by AWS-LC.)
        if is_all_zero(shared.expose()) {
            return Err(CryptoError::InvalidPeerPublicValue);
        }
        Ok(shared)
    }
}

impl KeyExchange for Ecdh {
    fn method(&self) -> KeMethod {
        self.method
    }

    fn start(&self, _random: &dyn SecureRandom) -> Result<Box<dyn KePrivate>, CryptoError> {
        Ok(Box::new(self.curve.generate()?))
    }

    fn respond(
        &self,
        _random: &dyn SecureRandom,
        peer_public: &[u8],
    ) -> Result<(Vec<u8>, SecretBytes), CryptoError> {
        let private = self.curve.generate()?;
        let shared = self.curve.agree(&private.key, peer_public)?;
        Ok((private.public, shared))
    }
}

impl fmt::Debug for Ecdh {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// An ephemeral ECDH private key and its encoded public value.
struct EcdhPrivate {
    curve: Curve,
    key: agreement::PrivateKey,
    public: Vec<u8>,
}

impl KePrivate for EcdhPrivate {
    fn public(&self) -> &[u8] {
        &self.public
    }

    fn complete(self: Box<Self>, peer_public: &[u8]) -> Result<SecretBytes, CryptoError> {
        self.curve.agree(&self.key, peer_public)
    }
}

/// The longest public value, `x | y` of P-384.
const MAX_PUBLIC_LEN: usize = 96;
