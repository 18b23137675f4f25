//! NO SECURITY. PRF stand-ins with the identifiers and lengths of PRF-HMAC-SHA2-256/384/512 and
//! PRF-HMAC-SHA1. Deterministic in key and data, so both peers derive the same keys.

use std::fmt;

use hitless_crypto::Prf;
use hitless_crypto::SecretBytes;
use hitless_wire::registry::PrfId;

use crate::mix;
use crate::mix::Hasher;

/// In the production provider's order.
pub(crate) static PRFS: [InsecurePrf; 4] = [
    InsecurePrf::new("PRF-HMAC-SHA2-256", PrfId::HMAC_SHA2_256, 32),
    InsecurePrf::new("PRF-HMAC-SHA2-384", PrfId::HMAC_SHA2_384, 48),
    InsecurePrf::new("PRF-HMAC-SHA2-512", PrfId::HMAC_SHA2_512, 64),
    InsecurePrf::new("PRF-HMAC-SHA1", PrfId::HMAC_SHA1, 20),
];

/// NO SECURITY. A PRF stand-in.
pub(crate) struct InsecurePrf {
    name: &'static str,
    id: PrfId,
    len: usize,
}

impl InsecurePrf {
    const fn new(name: &'static str, id: PrfId, len: usize) -> Self {
        Self { name, id, len }
    }
}

impl Prf for InsecurePrf {
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
        let mut hasher = Hasher::new(DOMAIN);
        hasher.update(&self.id.0.to_le_bytes()).field(key);
        for part in data {
            hasher.update(part);
        }
        let mut out = SecretBytes::zeroed(self.len);
        mix::expand(hasher.finish(), 0, out.expose_mut());
        out
    }
}

impl fmt::Debug for InsecurePrf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (insecure)", self.name)
    }
}

const DOMAIN: u64 = 0x9cf;
