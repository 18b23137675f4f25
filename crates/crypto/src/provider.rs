//! The provider traits and the [`CryptoProvider`] table (the shape of rustls's provider).
//!
//! Algorithms are `&'static dyn` objects; keys made from them are boxed trait objects that own
//! their expanded key schedules. Everything on the ESP hot path (`AeadKey`, `CipherKey`,
//! `IntegKey`) takes `&self` and is `Send + Sync`, so data-plane workers share keys without
//! locks.

use std::fmt;
use std::sync::Arc;

use hitless_wire::registry::EncrId;
use hitless_wire::registry::HashAlgorithm;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;

use crate::secret::SecretBytes;

/// Why a crypto operation failed. Carries nothing secret.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum CryptoError {
    /// Authentication of ciphertext or an ICV failed.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// A key had the wrong length for the algorithm.
    #[error("invalid key length")]
    InvalidKeyLength,
    /// An input (IV, buffer, tag) had the wrong length or alignment.
    #[error("invalid input length")]
    InvalidLength,
    /// The peer's key exchange value was malformed or degenerate (RFC 7296 §3.4, RFC 6989).
    #[error("invalid peer public value")]
    InvalidPeerPublicValue,
    /// The random number generator failed.
    #[error("random number generator failed")]
    RandomFailed,
    /// The underlying library reported an error it did not explain.
    #[error("crypto library error")]
    Library,
}

/// A source of cryptographically secure random bytes.
///
/// The simulator replaces it with a seeded generator; nothing in the engines reads OS randomness.
pub trait SecureRandom: Send + Sync {
    /// Fills `out` with random bytes.
    fn fill(&self, out: &mut [u8]) -> Result<(), CryptoError>;
}

/// A pseudorandom function (RFC 7296 §3.3.2, transform type 2).
pub trait Prf: Send + Sync + fmt::Debug {
    /// Its IANA identifier.
    fn id(&self) -> PrfId;
    /// Its preferred key length in bytes (for SK_d and SK_p, RFC 7296 §2.14).
    fn key_len(&self) -> usize;
    /// Its output length in bytes.
    fn output_len(&self) -> usize;
    /// `prf(key, data[0] | data[1] | …)`.
    fn compute(&self, key: &[u8], data: &[&[u8]]) -> SecretBytes;
}

/// An integrity algorithm with truncated output (RFC 7296 §3.3.2 type 3, RFC 4868).
pub trait Integ: Send + Sync + fmt::Debug {
    /// Its IANA identifier.
    fn id(&self) -> IntegId;
    /// Key length in bytes.
    fn key_len(&self) -> usize;
    /// Length of the truncated ICV in bytes.
    fn icv_len(&self) -> usize;
    /// Expands a key.
    fn new_key(&self, key: &[u8]) -> Result<Box<dyn IntegKey>, CryptoError>;
}

/// An expanded integrity key.
pub trait IntegKey: Send + Sync {
    /// Writes the truncated ICV of `data[0] | data[1] | …` into `icv` (of `icv_len` bytes).
    fn sign(&self, data: &[&[u8]], icv: &mut [u8]) -> Result<(), CryptoError>;
    /// Checks `icv` in constant time.
    fn verify(&self, data: &[&[u8]], icv: &[u8]) -> Result<(), CryptoError>;
}

/// An AEAD with the IPsec nonce layout: a salt taken from the end of the key material followed
/// by an 8-byte explicit IV carried in each packet (RFC 4106 §4 and §8.1 for AES-GCM, RFC 7634
/// §2–§4 for ChaCha20-Poly1305, RFC 5282 for IKE SK payloads).
pub trait Aead: Send + Sync + fmt::Debug {
    /// Its IANA identifier.
    fn id(&self) -> EncrId;
    /// The KEY_LENGTH attribute it is negotiated with, in bits (`None` for algorithms that must
    /// not carry one, such as ChaCha20-Poly1305).
    fn key_length_attribute(&self) -> Option<u16>;
    /// Length of the key without the salt, in bytes.
    fn key_len(&self) -> usize;
    /// Length of the salt appended to the key in KEYMAT, in bytes.
    fn salt_len(&self) -> usize;
    /// Length of the explicit IV in each packet (8).
    fn iv_len(&self) -> usize;
    /// Length of the ICV (tag), in bytes.
    fn tag_len(&self) -> usize;
    /// Expands `key || salt` (`key_len + salt_len` bytes).
    fn new_key(&self, key_and_salt: &[u8]) -> Result<Box<dyn AeadKey>, CryptoError>;
}

/// An expanded AEAD key with its salt.
pub trait AeadKey: Send + Sync {
    /// Encrypts `in_out` in place and writes the tag into `tag` (`tag_len` bytes).
    fn seal_in_place(
        &self,
        iv: &[u8],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &mut [u8],
    ) -> Result<(), CryptoError>;
    /// Checks `tag` and decrypts `in_out` in place. On failure `in_out` is unspecified.
    fn open_in_place(
        &self,
        iv: &[u8],
        aad: &[u8],
        in_out: &mut [u8],
        tag: &[u8],
    ) -> Result<(), CryptoError>;
}

/// A block cipher in CBC mode without padding (IKE and ESP do their own padding; RFC 3602).
pub trait Cipher: Send + Sync + fmt::Debug {
    /// Its IANA identifier.
    fn id(&self) -> EncrId;
    /// The KEY_LENGTH attribute it is negotiated with, in bits.
    fn key_length_attribute(&self) -> Option<u16>;
    /// Key length in bytes.
    fn key_len(&self) -> usize;
    /// Block length in bytes (the plaintext must be a multiple of it).
    fn block_len(&self) -> usize;
    /// IV length in bytes.
    fn iv_len(&self) -> usize;
    /// Expands a key.
    fn new_key(&self, key: &[u8]) -> Result<Box<dyn CipherKey>, CryptoError>;
}

/// An expanded block cipher key.
pub trait CipherKey: Send + Sync {
    /// Encrypts whole blocks in place with `iv`.
    fn encrypt_in_place(&self, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError>;
    /// Decrypts whole blocks in place with `iv`.
    fn decrypt_in_place(&self, iv: &[u8], data: &mut [u8]) -> Result<(), CryptoError>;
}

/// A key exchange method: Diffie-Hellman over a group, or a KEM (RFC 9370 treats both alike).
///
/// The initiator calls [`KeyExchange::start`] and later [`KePrivate::complete`] with the
/// responder's value; the responder calls [`KeyExchange::respond`] once with the initiator's
/// value. For a KEM the initiator's value is the encapsulation key and the responder's is the
/// ciphertext.
pub trait KeyExchange: Send + Sync + fmt::Debug {
    /// Its IANA identifier.
    fn method(&self) -> KeMethod;
    /// Starts an exchange as initiator.
    fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KePrivate>, CryptoError>;
    /// Answers an initiator's public value: returns our public value (or ciphertext) and the
    /// shared secret.
    ///
    /// # Errors
    ///
    /// [`CryptoError::InvalidPeerPublicValue`] when `peer_public` has the wrong length or is not
    /// a valid value for the method.
    fn respond(
        &self,
        random: &dyn SecureRandom,
        peer_public: &[u8],
    ) -> Result<(Vec<u8>, SecretBytes), CryptoError>;
}

/// The initiator's half of a key exchange in progress.
pub trait KePrivate: Send {
    /// Our public value (or KEM encapsulation key) to send in the KE payload.
    fn public(&self) -> &[u8];
    /// Completes the exchange with the responder's value.
    fn complete(self: Box<Self>, peer_public: &[u8]) -> Result<SecretBytes, CryptoError>;
}

/// A hash function (SHA-1 for NAT detection and CERTREQ, SHA-2 for RFC 7427 signatures).
pub trait Hash: Send + Sync + fmt::Debug {
    /// Its RFC 7427 identifier.
    fn algorithm(&self) -> HashAlgorithm;
    /// Output length in bytes.
    fn output_len(&self) -> usize;
    /// The digest of `data[0] | data[1] | …`.
    fn hash(&self, data: &[&[u8]]) -> Vec<u8>;
}

/// A table of algorithms and a random source: everything the engines need from a crypto
/// library.
#[derive(Clone)]
pub struct CryptoProvider {
    /// AEAD algorithms, one object per key length.
    pub aeads: Vec<&'static dyn Aead>,
    /// CBC ciphers, one object per key length.
    pub ciphers: Vec<&'static dyn Cipher>,
    /// Integrity algorithms.
    pub integs: Vec<&'static dyn Integ>,
    /// Pseudorandom functions.
    pub prfs: Vec<&'static dyn Prf>,
    /// Key exchange methods.
    pub key_exchanges: Vec<&'static dyn KeyExchange>,
    /// Hash functions.
    pub hashes: Vec<&'static dyn Hash>,
    /// The random source.
    pub random: Arc<dyn SecureRandom>,
}

impl CryptoProvider {
    /// The AEAD for `id` with the given KEY_LENGTH attribute.
    pub fn aead(&self, id: EncrId, key_length: Option<u16>) -> Option<&'static dyn Aead> {
        self.aeads
            .iter()
            .copied()
            .find(|aead| aead.id() == id && aead.key_length_attribute() == key_length)
    }

    /// The CBC cipher for `id` with the given KEY_LENGTH attribute.
    pub fn cipher(&self, id: EncrId, key_length: Option<u16>) -> Option<&'static dyn Cipher> {
        self.ciphers
            .iter()
            .copied()
            .find(|cipher| cipher.id() == id && cipher.key_length_attribute() == key_length)
    }

    /// The integrity algorithm for `id`.
    pub fn integ(&self, id: IntegId) -> Option<&'static dyn Integ> {
        self.integs.iter().copied().find(|integ| integ.id() == id)
    }

    /// The PRF for `id`.
    pub fn prf(&self, id: PrfId) -> Option<&'static dyn Prf> {
        self.prfs.iter().copied().find(|prf| prf.id() == id)
    }

    /// The key exchange method for `method`.
    pub fn key_exchange(&self, method: KeMethod) -> Option<&'static dyn KeyExchange> {
        self.key_exchanges
            .iter()
            .copied()
            .find(|ke| ke.method() == method)
    }

    /// The hash function for `algorithm`.
    pub fn hash(&self, algorithm: HashAlgorithm) -> Option<&'static dyn Hash> {
        self.hashes
            .iter()
            .copied()
            .find(|hash| hash.algorithm() == algorithm)
    }

    /// Fills `out` from the provider's random source.
    pub fn fill_random(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        self.random.fill(out)
    }
}

impl fmt::Debug for CryptoProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CryptoProvider")
            .field("aeads", &self.aeads)
            .field("ciphers", &self.ciphers)
            .field("integs", &self.integs)
            .field("prfs", &self.prfs)
            .field("key_exchanges", &self.key_exchanges)
            .field("hashes", &self.hashes)
            .finish_non_exhaustive()
    }
}
