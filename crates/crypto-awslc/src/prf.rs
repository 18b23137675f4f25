//! HMAC PRFs: PRF_HMAC_SHA2_256/384/512 ([RFC 4868 §2.1.2]) and PRF_HMAC_SHA1 ([RFC 2104]).
//! Their preferred key length is the hash output length ([RFC 7296 §2.13]); any key length is
//! accepted, as §2.13 assumes.
//!
//! [RFC 4868 §2.1.2]: https://www.rfc-editor.org/rfc/rfc4868#section-2.1.2
//! [RFC 2104]: https://www.rfc-editor.org/rfc/rfc2104
//! [RFC 7296 §2.13]: https://www.rfc-editor.org/rfc/rfc7296#section-2.13

use std::fmt;

use aws_lc_rs::hmac;
use hitless_crypto::Prf;
use hitless_crypto::SecretBytes;
use hitless_wire::registry::PrfId;

/// PRF_HMAC_SHA2_256.
pub(crate) static HMAC_SHA2_256: HmacPrf = HmacPrf {
    name: "PRF-HMAC-SHA2-256",
    id: PrfId::HMAC_SHA2_256,
    algorithm: hmac::HMAC_SHA256,
    len: 32,
};

/// PRF_HMAC_SHA2_384.
pub(crate) static HMAC_SHA2_384: HmacPrf = HmacPrf {
    name: "PRF-HMAC-SHA2-384",
    id: PrfId::HMAC_SHA2_384,
    algorithm: hmac::HMAC_SHA384,
    len: 48,
};

/// PRF_HMAC_SHA2_512.
pub(crate) static HMAC_SHA2_512: HmacPrf = HmacPrf {
    name: "PRF-HMAC-SHA2-512",
    id: PrfId::HMAC_SHA2_512,
    algorithm: hmac::HMAC_SHA512,
    len: 64,
};

/// PRF_HMAC_SHA1, for interoperability with older peers.
pub(crate) static HMAC_SHA1: HmacPrf = HmacPrf {
    name: "PRF-HMAC-SHA1",
    id: PrfId::HMAC_SHA1,
    algorithm: hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
    len: 20,
};

/// An HMAC used as a PRF: key length and output length are the hash length.
pub(crate) struct HmacPrf {
    name: &'static str,
    id: PrfId,
    algorithm: hmac::Algorithm,
    len: usize,
}

impl Prf for HmacPrf {
    fn id(&self) -> PrfId {
        self.id
    }

    fn key_len(&self) -> usize {
        self.len
    }

    fn output_len(&self) -> usize {
        self.len
    }

    fn compute(&self, key: &[u8], data: &[&[u8]]) -> SecretBytes {
        let key = hmac::Key::new(self.algorithm, key);
        let mut context = hmac::Context::with_key(&key);
        for part in data {
            context.update(part);
        }
        SecretBytes::from_slice(context.sign().as_ref())
    }
}

impl fmt::Debug for HmacPrf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
