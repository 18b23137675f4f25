//! ML-KEM-768 ([FIPS 203]) as an IKEv2 key exchange (KE method 36,
//! [draft-ietf-ipsecme-ikev2-mlkem]).
//!
//! The initiator sends the 1184-byte encapsulation key; the responder encapsulates to it and
//! answers with the 1088-byte ciphertext; both end with the 32-byte shared secret. The
//! responder refuses an encapsulation key that fails the FIPS 203 §7.2 modulus check, and
//! decapsulation of a well-sized but forged ciphertext yields the implicit-rejection secret
//! (FIPS 203 §6.3), which simply fails to match the peer's.
//!
//! [FIPS 203]: https://csrc.nist.gov/pubs/fips/203/final
//! [draft-ietf-ipsecme-ikev2-mlkem]: https://datatracker.ietf.org/doc/draft-ietf-ipsecme-ikev2-mlkem/

use std::fmt;

use aws_lc_rs::kem;
use hitless_crypto::CryptoError;
use hitless_crypto::KePrivate;
use hitless_crypto::KeyExchange;
use hitless_crypto::SecretBytes;
use hitless_crypto::SecureRandom;
use hitless_wire::registry::KeMethod;

/// ML-KEM-768 (KE method 36).
pub(crate) static ML_KEM_768: MlKem = MlKem;

/// ML-KEM-768.
///
/// Key generation and encapsulation draw from AWS-LC's own DRBG, the same source as the
/// provider's random; the `random` argument of [`KeyExchange`] is not consulted.
pub(crate) struct MlKem;

impl KeyExchange for MlKem {
    fn method(&self) -> KeMethod {
        KeMethod::ML_KEM_768
    }

    fn start(&self, _random: &dyn SecureRandom) -> Result<Box<dyn KePrivate>, CryptoError> {
        let key =
            kem::DecapsulationKey::generate(&kem::ML_KEM_768).map_err(|_| CryptoError::Library)?;
        let public = key
            .encapsulation_key()
            .and_then(|encapsulation| encapsulation.key_bytes())
            .map_err(|_| CryptoError::Library)?
            .as_ref()
            .to_vec();
        Ok(Box::new(MlKemPrivate { key, public }))
    }

    fn respond(
        &self,
        _random: &dyn SecureRandom,
        peer_public: &[u8],
    ) -> Result<(Vec<u8>, SecretBytes), CryptoError> {
        if peer_public.len() != ENCAPSULATION_KEY_LEN || !passes_modulus_check(peer_public) {
            return Err(CryptoError::InvalidPeerPublicValue);
        }
        let key = kem::EncapsulationKey::new(&kem::ML_KEM_768, peer_public)
            .map_err(|_| CryptoError::InvalidPeerPublicValue)?;
        let (ciphertext, shared) = key
            .encapsulate()
            .map_err(|_| CryptoError::InvalidPeerPublicValue)?;
        Ok((
            ciphertext.as_ref().to_vec(),
            SecretBytes::from_slice(shared.as_ref()),
        ))
    }
}

impl fmt::Debug for MlKem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ML-KEM-768")
    }
}

/// The initiator's decapsulation key (AWS-LC wipes it on drop) and encapsulation key.
struct MlKemPrivate {
    key: kem::DecapsulationKey<kem::AlgorithmId>,
    public: Vec<u8>,
}

impl KePrivate for MlKemPrivate {
    fn public(&self) -> &[u8] {
        &self.public
    }

    fn complete(self: Box<Self>, peer_public: &[u8]) -> Result<SecretBytes, CryptoError> {
        // FIPS 203 §7.3: the ciphertext type check is its length.
        if peer_public.len() != CIPHERTEXT_LEN {
            return Err(CryptoError::InvalidPeerPublicValue);
        }
        let shared = self
            .key
            .decapsulate(kem::Ciphertext::from(peer_public))
            .map_err(|_| CryptoError::InvalidPeerPublicValue)?;
        Ok(SecretBytes::from_slice(shared.as_ref()))
    }
}

/// FIPS 203 §7.2 modulus check: every 12-bit coefficient of the encoded vector `t` (the first
/// 384·k bytes of the encapsulation key) is below q = 3329, i.e. ByteEncode12(ByteDecode12(t))
/// reproduces `t`.
fn passes_modulus_check(encapsulation_key: &[u8]) -> bool {
    let Some(t) = encapsulation_key.get(..ENCAPSULATION_KEY_LEN - 32) else {
        return false;
    };
    t.chunks_exact(3).all(|bytes| {
        let low = u16::from(bytes[0]) | (u16::from(bytes[1] & 0x0f) << 8);
        let high = u16::from(bytes[1] >> 4) | (u16::from(bytes[2]) << 4);
        low < Q && high < Q
    })
}

/// ML-KEM-768 encapsulation key length (FIPS 203 Table 3: 384·k + 32 with k = 3).
const ENCAPSULATION_KEY_LEN: usize = 1184;
/// ML-KEM-768 ciphertext length (FIPS 203 Table 3: 32·(du·k + dv) with du = 10, dv = 4).
const CIPHERTEXT_LEN: usize = 1088;
/// The ML-KEM modulus.
const Q: u16 = 3329;
