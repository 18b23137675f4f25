//! HMAC integrity algorithms with truncated ICVs: HMAC-SHA2-256-128, -384-192 and -512-256
//! ([RFC 4868 §2]) and HMAC-SHA1-96 ([RFC 2404]). The key is as long as the hash output
//! ([RFC 4868 §2.1.1]); verification compares in constant time.
//!
//! [RFC 4868 §2]: https://www.rfc-editor.org/rfc/rfc4868#section-2
//! [RFC 4868 §2.1.1]: https://www.rfc-editor.org/rfc/rfc4868#section-2.1.1
//! [RFC 2404]: https://www.rfc-editor.org/rfc/rfc2404

use std::fmt;

use aws_lc_rs::hmac;
use hitless_crypto::CryptoError;
use hitless_crypto::Integ;
use hitless_crypto::IntegKey;
use hitless_crypto::secret::constant_time_eq;
use hitless_wire::registry::IntegId;

/// AUTH_HMAC_SHA2_256_128 (RFC 4868 §2).
pub(crate) static HMAC_SHA2_256_128: HmacInteg = HmacInteg {
    name: "HMAC-SHA2-256-128",
    id: IntegId::HMAC_SHA2_256_128,
    algorithm: hmac::HMAC_SHA256,
    key_len: 32,
    icv_len: 16,
};

/// AUTH_HMAC_SHA2_384_192 (RFC 4868 §2).
pub(crate) static HMAC_SHA2_384_192: HmacInteg = HmacInteg {
    name: "HMAC-SHA2-384-192",
    id: IntegId::HMAC_SHA2_384_192,
    algorithm: hmac::HMAC_SHA384,
    key_len: 48,
    icv_len: 24,
};

/// AUTH_HMAC_SHA2_512_256 (RFC 4868 §2).
pub(crate) static HMAC_SHA2_512_256: HmacInteg = HmacInteg {
    name: "HMAC-SHA2-512-256",
    id: IntegId::HMAC_SHA2_512_256,
    algorithm: hmac::HMAC_SHA512,
    key_len: 64,
    icv_len: 32,
};

/// AUTH_HMAC_SHA1_96 (RFC 2404), for interoperability with older peers.
pub(crate) static HMAC_SHA1_96: HmacInteg = HmacInteg {
    name: "HMAC-SHA1-96",
    id: IntegId::HMAC_SHA1_96,
    algorithm: hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
    key_len: 20,
    icv_len: 12,
};

/// An HMAC truncated to `icv_len` bytes.
pub(crate) struct HmacInteg {
    name: &'static str,
    id: IntegId,
    algorithm: hmac::Algorithm,
    key_len: usize,
    icv_len: usize,
}

impl Integ for HmacInteg {
    fn id(&self) -> IntegId {
        self.id
    }

    fn key_len(&self) -> usize {
        self.key_len
    }

    fn icv_len(&self) -> usize {
        self.icv_len
    }

    fn new_key(&self, key: &[u8]) -> Result<Box<dyn IntegKey>, CryptoError> {
        if key.len() != self.key_len {
            return Err(CryptoError::InvalidKeyLength);
        }
        Ok(Box::new(HmacIntegKey {
            key: hmac::Key::new(self.algorithm, key),
            icv_len: self.icv_len,
        }))
    }
}

impl fmt::Debug for HmacInteg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// An expanded HMAC key (AWS-LC wipes it on drop).
struct HmacIntegKey {
    key: hmac::Key,
    icv_len: usize,
}

impl HmacIntegKey {
    fn tag(&self, data: &[&[u8]]) -> hmac::Tag {
        let mut context = hmac::Context::with_key(&self.key);
        for part in data {
            context.update(part);
        }
        context.sign()
    }
}

impl IntegKey for HmacIntegKey {
    fn sign(&self, data: &[&[u8]], icv: &mut [u8]) -> Result<(), CryptoError> {
        if icv.len() != self.icv_len {
            return Err(CryptoError::InvalidLength);
        }
        let tag = self.tag(data);
        // RFC 4868 §2.6: the ICV is the leftmost bits of the HMAC output.
        icv.copy_from_slice(&tag.as_ref()[..self.icv_len]);
        Ok(())
    }

    fn verify(&self, data: &[&[u8]], icv: &[u8]) -> Result<(), CryptoError> {
        if icv.len() != self.icv_len {
            return Err(CryptoError::InvalidLength);
        }
        let tag = self.tag(data);
        if constant_time_eq(&tag.as_ref()[..self.icv_len], icv) {
            Ok(())
        } else {
            Err(CryptoError::AuthenticationFailed)
        }
    }
}
