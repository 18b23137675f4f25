//! NO SECURITY. Hash stand-ins with the identifiers and output lengths of SHA-1 and SHA-2.

use std::fmt;

use hitless_crypto::Hash;
use hitless_wire::registry::HashAlgorithm;

use crate::mix;
use crate::mix::Hasher;

/// In the production provider's order.
pub(crate) static HASHES: [InsecureHash; 4] = [
    InsecureHash::new("SHA-1", HashAlgorithm::SHA1, 20),
    InsecureHash::new("SHA-256", HashAlgorithm::SHA2_256, 32),
    InsecureHash::new("SHA-384", HashAlgorithm::SHA2_384, 48),
    InsecureHash::new("SHA-512", HashAlgorithm::SHA2_512, 64),
];

/// NO SECURITY. A hash stand-in.
pub(crate) struct InsecureHash {
    name: &'static str,
    algorithm: HashAlgorithm,
    len: usize,
}

impl InsecureHash {
    const fn new(name: &'static str, algorithm: HashAlgorithm, len: usize) -> Self {
        Self {
            name,
            algorithm,
            len,
        }
    }
}

impl Hash for InsecureHash {
    fn algorithm(&self) -> HashAlgorithm {
        self.algorithm
    }

    fn output_len(&self) -> usize {
        self.len
    }

    fn hash(&self, data: &[&[u8]]) -> Vec<u8> {
        let mut hasher = Hasher::new(DOMAIN);
        hasher.update(&self.algorithm.0.to_le_bytes());
        for part in data {
            hasher.update(part);
        }
        let mut out = vec![0; self.len];
        mix::expand(hasher.finish(), 0, &mut out);
        out
    }
}

impl fmt::Debug for InsecureHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (insecure)", self.name)
    }
}

const DOMAIN: u64 = 0x4a54;
