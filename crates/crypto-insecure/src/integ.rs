//! NO SECURITY. Integrity stand-ins with the identifiers, key lengths and ICV lengths of
//! HMAC-SHA2-256-128, -384-192, -512-256 and HMAC-SHA1-96.

use std::fmt;

use hitless_crypto::CryptoError;
use hitless_crypto::Integ;
use hitless_crypto::IntegKey;
use hitless_crypto::secret::constant_time_eq;
use hitless_wire::registry::IntegId;

use crate::mix;
use crate::mix::Hasher;

/// The checking algorithms of [`provider`](crate::provider), in the production order.
pub(crate) static CHECKED: [InsecureInteg; 4] = table(false);

/// The accept-everything algorithms of [`fuzzing_provider`](crate::fuzzing_provider).
pub(crate) static FUZZING: [InsecureInteg; 4] = table(true);

const fn table(fuzzing: bool) -> [InsecureInteg; 4] {
    [
        InsecureInteg::new(
            "HMAC-SHA2-256-128",
            IntegId::HMAC_SHA2_256_128,
            32,
            16,
            fuzzing,
        ),
        InsecureInteg::new(
            "HMAC-SHA2-384-192",
            IntegId::HMAC_SHA2_384_192,
            48,
            24,
            fuzzing,
        ),
        InsecureInteg::new(
            "HMAC-SHA2-512-256",
            IntegId::HMAC_SHA2_512_256,
            64,
            32,
            fuzzing,
        ),
        InsecureInteg::new("HMAC-SHA1-96", IntegId::HMAC_SHA1_96, 20, 12, fuzzing),
    ]
}

/// NO SECURITY. An integrity stand-in.
pub(crate) struct InsecureInteg {
    name: &'static str,
    id: IntegId,
    key_len: usize,
    icv_len: usize,
    fuzzing: bool,
}

impl InsecureInteg {
    const fn new(
        name: &'static str,
        id: IntegId,
        key_len: usize,
        icv_len: usize,
        fuzzing: bool,
    ) -> Self {
        Self {
            name,
            id,
            key_len,
            icv_len,
            fuzzing,
        }
    }
}

impl Integ for InsecureInteg {
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
        let mut keyed = Hasher::new(DOMAIN);
        keyed.update(&self.id.0.to_le_bytes()).field(key);
        Ok(Box::new(InsecureIntegKey {
            keyed,
            icv_len: self.icv_len,
            fuzzing: self.fuzzing,
        }))
    }
}

impl fmt::Debug for InsecureInteg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.fuzzing { "fuzzing" } else { "insecure" };
        write!(f, "{} ({kind})", self.name)
    }
}

/// NO SECURITY. The hash state after absorbing the key.
struct InsecureIntegKey {
    keyed: Hasher,
    icv_len: usize,
    fuzzing: bool,
}

impl InsecureIntegKey {
    fn icv(&self, data: &[&[u8]], icv: &mut [u8]) {
        let mut hasher = self.keyed.clone();
        for part in data {
            hasher.update(part);
        }
        mix::expand(hasher.finish(), 0, icv);
    }
}

impl IntegKey for InsecureIntegKey {
    fn sign(&self, data: &[&[u8]], icv: &mut [u8]) -> Result<(), CryptoError> {
        if icv.len() != self.icv_len {
            return Err(CryptoError::InvalidLength);
        }
        if self.fuzzing {
            icv.fill(0);
        } else {
            self.icv(data, icv);
        }
        Ok(())
    }

    fn verify(&self, data: &[&[u8]], icv: &[u8]) -> Result<(), CryptoError> {
        if icv.len() != self.icv_len {
            return Err(CryptoError::InvalidLength);
        }
        if self.fuzzing {
            return Ok(());
        }
        let mut expected = [0u8; MAX_ICV_LEN];
        let expected = &mut expected[..self.icv_len];
        self.icv(data, expected);
        if constant_time_eq(expected, icv) {
            Ok(())
        } else {
            Err(CryptoError::AuthenticationFailed)
        }
    }
}

const DOMAIN: u64 = 0x1c5;
const MAX_ICV_LEN: usize = 32;
