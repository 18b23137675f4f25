//! NO SECURITY. Key exchange stand-ins for every method of the production provider, with the
//! same public-value and secret lengths. Public values are random bytes; the shared secret is a
//! hash of the method, the initiator's value and the responder's value, which both sides know.
//! Wrong lengths and the degenerate values the conformance suite tries (all zeros, all ones,
//! the integer 1) are refused, as the real methods refuse them.

use std::fmt;

use hitless_crypto::CryptoError;
use hitless_crypto::KePrivate;
use hitless_crypto::KeyExchange;
use hitless_crypto::SecretBytes;
use hitless_crypto::SecureRandom;
use hitless_wire::registry::KeMethod;

use crate::mix;
use crate::mix::Hasher;

/// In the production provider's order.
pub(crate) static METHODS: [InsecureKe; 6] = [
    InsecureKe::new("X25519", KeMethod::CURVE25519, 32, 32, 32),
    InsecureKe::new("ECP-256", KeMethod::ECP_256, 64, 64, 32),
    InsecureKe::new("ECP-384", KeMethod::ECP_384, 96, 96, 48),
    InsecureKe::new("ML-KEM-768", KeMethod::ML_KEM_768, 1184, 1088, 32),
    InsecureKe::new("MODP-3072", KeMethod::MODP_3072, 384, 384, 384),
    InsecureKe::new("MODP-2048", KeMethod::MODP_2048, 256, 256, 256),
];

/// NO SECURITY. A key exchange stand-in.
pub(crate) struct InsecureKe {
    name: &'static str,
    method: KeMethod,
    shape: Shape,
}

/// The lengths of a method.
#[derive(Clone, Copy)]
struct Shape {
    method: KeMethod,
    initiator_len: usize,
    responder_len: usize,
    secret_len: usize,
}

impl InsecureKe {
    const fn new(
        name: &'static str,
        method: KeMethod,
        initiator_len: usize,
        responder_len: usize,
        secret_len: usize,
    ) -> Self {
        Self {
            name,
            method,
            shape: Shape {
                method,
                initiator_len,
                responder_len,
                secret_len,
            },
        }
    }
}

impl Shape {
    fn public_value(self, random: &dyn SecureRandom, len: usize) -> Result<Vec<u8>, CryptoError> {
        let mut public = vec![0; len];
        random.fill(&mut public)?;
        // Never one of the degenerate values refused below.
        public[0] = 0x5a;
        Ok(public)
    }

    fn secret(self, initiator: &[u8], responder: &[u8]) -> SecretBytes {
        let seed = Hasher::new(DOMAIN)
            .update(&self.method.0.to_le_bytes())
            .field(initiator)
            .field(responder)
            .finish();
        let mut secret = SecretBytes::zeroed(self.secret_len);
        mix::expand(seed, 0, secret.expose_mut());
        secret
    }

    /// Whether a peer value is acceptable: exact length, and not all zeros, all ones, or the
    /// integer 1 in either byte order.
    fn check(self, value: &[u8], len: usize) -> Result<(), CryptoError> {
        let degenerate = value.iter().all(|&b| b == 0)
            || value.iter().all(|&b| b == 0xff)
            || is_one(value)
            || is_one_reversed(value);
        if value.len() != len || degenerate {
            return Err(CryptoError::InvalidPeerPublicValue);
        }
        Ok(())
    }
}

impl KeyExchange for InsecureKe {
    fn method(&self) -> KeMethod {
        self.method
    }

    fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KePrivate>, CryptoError> {
        let public = self.shape.public_value(random, self.shape.initiator_len)?;
        Ok(Box::new(InsecurePrivate {
            shape: self.shape,
            public,
        }))
    }

    fn respond(
        &self,
        random: &dyn SecureRandom,
        peer_public: &[u8],
    ) -> Result<(Vec<u8>, SecretBytes), CryptoError> {
        self.shape.check(peer_public, self.shape.initiator_len)?;
        let public = self.shape.public_value(random, self.shape.responder_len)?;
        let secret = self.shape.secret(peer_public, &public);
        Ok((public, secret))
    }
}

impl fmt::Debug for InsecureKe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (insecure)", self.name)
    }
}

/// NO SECURITY. The initiator's half: only its public value.
struct InsecurePrivate {
    shape: Shape,
    public: Vec<u8>,
}

impl KePrivate for InsecurePrivate {
    fn public(&self) -> &[u8] {
        &self.public
    }

    fn complete(self: Box<Self>, peer_public: &[u8]) -> Result<SecretBytes, CryptoError> {
        if self.shape.method == KeMethod::ML_KEM_768 {
            // A KEM ciphertext is only length-checked (FIPS 203 §7.3).
            if peer_public.len() != self.shape.responder_len {
                return Err(CryptoError::InvalidPeerPublicValue);
            }
        } else {
            self.shape.check(peer_public, self.shape.responder_len)?;
        }
        Ok(self.shape.secret(&self.public, peer_public))
    }
}

fn is_one(value: &[u8]) -> bool {
    matches!(value.split_last(), Some((1, rest)) if rest.iter().all(|&b| b == 0))
}

fn is_one_reversed(value: &[u8]) -> bool {
    matches!(value.split_first(), Some((1, rest)) if rest.iter().all(|&b| b == 0))
}

const DOMAIN: u64 = 0xdead_beef;
