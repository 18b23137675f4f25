//! Finite-field Diffie-Hellman over the MODP groups 14 (2048-bit) and 15 (3072-bit) of
//! [RFC 3526], with generator 2.
//!
//! aws-lc-rs offers no finite-field DH, so the arithmetic is `crypto-bigint`'s constant-time
//! Montgomery exponentiation; hitless writes no big-number code of its own. Public values and
//! the shared secret are big-endian and left-padded with zeros to the length of the prime
//! ([RFC 7296 §3.4], [§2.14]). A peer value must have exactly that length and satisfy
//! `1 < y < p - 1` ([RFC 6989 §2.1]: for these safe-prime groups that check suffices).
//!
//! Private exponents are drawn from the `random` handed to [`KeyExchange`], with the sizes RFC
//! 3526 §8 recommends for each group's strength (320 bits for 2048, 448 for 3072), top bit set
//! so that the exponent is never small.
//!
//! [RFC 3526]: https://www.rfc-editor.org/rfc/rfc3526
//! [RFC 7296 §3.4]: https://www.rfc-editor.org/rfc/rfc7296#section-3.4
//! [§2.14]: https://www.rfc-editor.org/rfc/rfc7296#section-2.14
//! [RFC 6989 §2.1]: https://www.rfc-editor.org/rfc/rfc6989#section-2.1

use std::fmt;

use crypto_bigint::Odd;
use crypto_bigint::U2048;
use crypto_bigint::U3072;
use crypto_bigint::Uint;
use crypto_bigint::modular::FixedMontyForm;
use crypto_bigint::modular::FixedMontyParams;
use hitless_crypto::CryptoError;
use hitless_crypto::KePrivate;
use hitless_crypto::KeyExchange;
use hitless_crypto::SecretBytes;
use hitless_crypto::SecureRandom;
use hitless_wire::registry::KeMethod;
use zeroize::Zeroizing;

/// 2048-bit MODP group (KE method 14, RFC 3526 §3).
pub(crate) static MODP_2048: Modp<{ U2048::LIMBS }> = Modp {
    name: "MODP-2048",
    method: KeMethod::MODP_2048,
    group: &GROUP_2048,
};

/// 3072-bit MODP group (KE method 15, RFC 3526 §4).
pub(crate) static MODP_3072: Modp<{ U3072::LIMBS }> = Modp {
    name: "MODP-3072",
    method: KeMethod::MODP_3072,
    group: &GROUP_3072,
};

static GROUP_2048: Group<{ U2048::LIMBS }> = Group {
    params: FixedMontyParams::new_vartime(Odd::<U2048>::from_be_hex(PRIME_2048)),
    exponent_bits: 320,
};

static GROUP_3072: Group<{ U3072::LIMBS }> = Group {
    params: FixedMontyParams::new_vartime(Odd::<U3072>::from_be_hex(PRIME_3072)),
    exponent_bits: 448,
};

/// A MODP key exchange method.
pub(crate) struct Modp<const LIMBS: usize> {
    name: &'static str,
    method: KeMethod,
    group: &'static Group<LIMBS>,
}

/// A MODP group whose prime has exactly `LIMBS` machine words.
struct Group<const LIMBS: usize> {
    params: FixedMontyParams<LIMBS>,
    exponent_bits: u32,
}

impl<const LIMBS: usize> Group<LIMBS> {
    /// The length of the prime, of public values and of the shared secret, in bytes.
    const LEN: usize = Uint::<LIMBS>::BYTES;

    fn generate(
        &'static self,
        random: &dyn SecureRandom,
    ) -> Result<ModpPrivate<LIMBS>, CryptoError> {
        let exponent_len =
            usize::try_from(self.exponent_bits / 8).map_err(|_| CryptoError::Library)?;
        let mut bytes = Zeroizing::new(vec![0u8; Self::LEN]);
        let tail = Self::LEN - exponent_len;
        random.fill(&mut bytes[tail..])?;
        bytes[tail] |= 0x80;
        let exponent = Zeroizing::new(Uint::<LIMBS>::from_be_slice(&bytes));
        let generator = FixedMontyForm::new(&Uint::from_u64(GENERATOR), &self.params);
        let public = generator
            .pow_bounded_exp(&*exponent, self.exponent_bits)
            .retrieve()
            .to_be_bytes()
            .as_ref()
            .to_vec();
        Ok(ModpPrivate {
            group: self,
            exponent,
            public,
        })
    }

    fn agree(
        &self,
        exponent: &Uint<LIMBS>,
        peer_public: &[u8],
    ) -> Result<SecretBytes, CryptoError> {
        // RFC 7296 §3.4: the KE data is exactly as long as the prime.
        if peer_public.len() != Self::LEN {
            return Err(CryptoError::InvalidPeerPublicValue);
        }
        let peer = Uint::<LIMBS>::from_be_slice(peer_public);
        let prime = self.params.modulus().as_ref();
        // RFC 6989 §2.1: 1 < y < p - 1.
        if peer <= Uint::ONE || peer >= prime.wrapping_sub(&Uint::ONE) {
            return Err(CryptoError::InvalidPeerPublicValue);
        }
        let mut shared = FixedMontyForm::new(&peer, &self.params)
            .pow_bounded_exp(exponent, self.exponent_bits)
            .retrieve()
            .to_be_bytes();
        let secret = SecretBytes::from_slice(shared.as_ref());
        zeroize::Zeroize::zeroize(&mut shared);
        Ok(secret)
    }
}

impl<const LIMBS: usize> KeyExchange for Modp<LIMBS> {
    fn method(&self) -> KeMethod {
        self.method
    }

    fn start(&self, random: &dyn SecureRandom) -> Result<Box<dyn KePrivate>, CryptoError> {
        Ok(Box::new(self.group.generate(random)?))
    }

    fn respond(
        &self,
        random: &dyn SecureRandom,
        peer_public: &[u8],
    ) -> Result<(Vec<u8>, SecretBytes), CryptoError> {
        let private = self.group.generate(random)?;
        let shared = self.group.agree(&private.exponent, peer_public)?;
        Ok((private.public, shared))
    }
}

impl<const LIMBS: usize> fmt::Debug for Modp<LIMBS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// A private exponent (wiped on drop) and its public value.
struct ModpPrivate<const LIMBS: usize> {
    group: &'static Group<LIMBS>,
    exponent: Zeroizing<Uint<LIMBS>>,
    public: Vec<u8>,
}

impl<const LIMBS: usize> KePrivate for ModpPrivate<LIMBS> {
    fn public(&self) -> &[u8] {
        &self.public
    }

    fn complete(self: Box<Self>, peer_public: &[u8]) -> Result<SecretBytes, CryptoError> {
        self.group.agree(&self.exponent, peer_public)
    }
}

/// The generator of both groups (RFC 3526 §3, §4).
const GENERATOR: u64 = 2;

/// The 2048-bit prime 2^2048 - 2^1984 - 1 + 2^64 * ([2^1918 pi] + 124476) (RFC 3526 §3).
const PRIME_2048: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AACAA68FFFFFFFFFFFFFFFF",
);

/// The 3072-bit prime 2^3072 - 2^3008 - 1 + 2^64 * ([2^2942 pi] + 1690314) (RFC 3526 §4).
const PRIME_3072: &str = concat!(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74",
    "020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F1437",
    "4FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED",
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF05",
    "98DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB",
    "9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B",
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF695581718",
    "3995497CEA956AE515D2261898FA051015728E5A8AAAC42DAD33170D04507A33",
    "A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7",
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864",
    "D87602733EC86A64521F2B18177B200CBBE117577A615D6C770988C0BAD946E2",
    "08E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF",
);
