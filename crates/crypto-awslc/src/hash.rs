//! SHA-1 (NAT detection, RFC 7296 §2.23; CERTREQ, §3.7) and SHA-2 (RFC 7427 signatures).

use std::fmt;

use aws_lc_rs::digest;
use hitless_crypto::Hash;
use hitless_wire::registry::HashAlgorithm;

/// SHA-1.
pub(crate) static SHA1: Sha = Sha {
    name: "SHA-1",
    id: HashAlgorithm::SHA1,
    algorithm: &digest::SHA1_FOR_LEGACY_USE_ONLY,
};

/// SHA-256.
pub(crate) static SHA2_256: Sha = Sha {
    name: "SHA-256",
    id: HashAlgorithm::SHA2_256,
    algorithm: &digest::SHA256,
};

/// SHA-384.
pub(crate) static SHA2_384: Sha = Sha {
    name: "SHA-384",
    id: HashAlgorithm::SHA2_384,
    algorithm: &digest::SHA384,
};

/// SHA-512.
pub(crate) static SHA2_512: Sha = Sha {
    name: "SHA-512",
    id: HashAlgorithm::SHA2_512,
    algorithm: &digest::SHA512,
};

/// A SHA family hash.
pub(crate) struct Sha {
    name: &'static str,
    id: HashAlgorithm,
    algorithm: &'static digest::Algorithm,
}

impl Hash for Sha {
    fn algorithm(&self) -> HashAlgorithm {
        self.id
    }

    fn output_len(&self) -> usize {
        self.algorithm.output_len()
    }

    fn hash(&self, data: &[&[u8]]) -> Vec<u8> {
        let mut context = digest::Context::new(self.algorithm);
        for part in data {
            context.update(part);
        }
        context.finish().as_ref().to_vec()
    }
}

impl fmt::Debug for Sha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}
