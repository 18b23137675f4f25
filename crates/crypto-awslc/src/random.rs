//! The random source: AWS-LC's DRBG, seeded by the operating system.

use aws_lc_rs::rand::SecureRandom as _;
use hitless_crypto::CryptoError;
use hitless_crypto::SecureRandom;

/// [`SecureRandom`] on `aws_lc_rs::rand::SystemRandom`.
pub(crate) struct SystemRandom(aws_lc_rs::rand::SystemRandom);

impl SystemRandom {
    pub(crate) fn new() -> Self {
        Self(aws_lc_rs::rand::SystemRandom::new())
    }
}

impl SecureRandom for SystemRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        self.0.fill(out).map_err(|_| CryptoError::RandomFailed)
    }
}
