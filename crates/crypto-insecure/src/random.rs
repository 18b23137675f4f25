//! NO SECURITY. A seeded, counter-mode random source: the n-th 8-byte block of output is a
//! fixed function of the seed and n, so a simulation run repeats exactly under the same seed.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

use hitless_crypto::CryptoError;
use hitless_crypto::SecureRandom;

use crate::mix;

/// Deterministic "random" bytes from a seed.
pub(crate) struct SeededRandom {
    seed: u64,
    next_block: AtomicU64,
}

impl SeededRandom {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            seed: mix::mix(seed ^ 0x5851_f42d_4c95_7f2d),
            next_block: AtomicU64::new(0),
        }
    }
}

impl SecureRandom for SeededRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        let blocks = out.len().div_ceil(8) as u64;
        let first = self.next_block.fetch_add(blocks, Ordering::Relaxed);
        mix::expand(self.seed, first, out);
        Ok(())
    }
}
