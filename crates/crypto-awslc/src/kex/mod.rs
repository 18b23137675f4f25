//! Key exchange methods (RFC 7296 §3.4 as renamed by RFC 9370 §2.1.1): elliptic-curve
//! Diffie-Hellman, ML-KEM, and finite-field Diffie-Hellman over the MODP groups.

pub(crate) mod ecdh;
pub(crate) mod mlkem;
pub(crate) mod modp;

/// Whether every byte of `secret` is zero, in time independent of the contents.
pub(crate) fn is_all_zero(secret: &[u8]) -> bool {
    secret.iter().fold(0u8, |acc, byte| acc | byte) == 0
}
