//! RFC 7427 signatures with aws-lc-rs: our private key as a [`Signer`], and
//! [`verify_signature`] for a peer's public key.
//!
//! | key | schemes we sign with (in order) | schemes we verify |
//! |---|---|---|
//! | RSA 2048–8192 bits | RSASSA-PSS SHA-256/384/512, then PKCS #1 v1.5 SHA-256/384/512 | all six |
//! | ECDSA P-256 | ECDSA-SHA256 | ECDSA-SHA256/384/512 |
//! | ECDSA P-384 | ECDSA-SHA384 | ECDSA-SHA256/384/512 |
//! | ECDSA P-521 | ECDSA-SHA512 | ECDSA-SHA256/384/512 |
//! | Ed25519 | Ed25519 | Ed25519 |
//!
//! ECDSA signatures are DER `Ecdsa-Sig-Value`s ([RFC 7427 §3]); RSASSA-PSS uses MGF1 with the
//! message hash and a salt as long as the hash, the parameters our `AlgorithmIdentifier`s
//! announce.
//!
//! [RFC 7427 §3]: https://www.rfc-editor.org/rfc/rfc7427#section-3

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::encoding::PublicKeyX509Der;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature;
use aws_lc_rs::signature::EcdsaKeyPair;
use aws_lc_rs::signature::Ed25519KeyPair;
use aws_lc_rs::signature::KeyPair;
use aws_lc_rs::signature::RsaKeyPair;
use aws_lc_rs::signature::UnparsedPublicKey;
use hitless_crypto::pki::PkiError;
use hitless_crypto::pki::PublicKey;
use hitless_crypto::pki::Signer;
use hitless_crypto::signature::KeyType;
use hitless_crypto::signature::SignatureScheme;

use crate::pki::x509::public_key_from_spki;

/// How a DER private key is encoded.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum KeyFormat {
    /// PKCS #8 `PrivateKeyInfo`, unencrypted (RFC 5208; PEM "PRIVATE KEY").
    Pkcs8,
    /// PKCS #1 `RSAPrivateKey` (RFC 8017 Appendix A.1.2; PEM "RSA PRIVATE KEY").
    Pkcs1Rsa,
    /// SEC 1 `ECPrivateKey` (RFC 5915; PEM "EC PRIVATE KEY").
    Sec1Ec,
}

/// Why a private key was not accepted.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum KeyError {
    /// Not a key of the stated format, or of a type we do not support (we support RSA,
    /// ECDSA on P-256, P-384 and P-521, and Ed25519).
    #[error("not a supported {0:?} private key (RSA, ECDSA P-256/P-384/P-521 or Ed25519)")]
    Unsupported(KeyFormat),
    /// An RSA key shorter than 2048 bits (RFC 8247 §3.2) or longer than 8192.
    #[error("RSA key of {0} bits, expected 2048 to 8192")]
    RsaSize(u32),
}

/// A private key held in memory, signing with aws-lc-rs.
pub struct KeyPairSigner {
    key: Key,
    public_key: PublicKey,
    schemes: &'static [SignatureScheme],
}

enum Key {
    Rsa(RsaKeyPair),
    Ecdsa(EcdsaKeyPair),
    Ed25519(Ed25519KeyPair),
}

impl KeyPairSigner {
    /// Loads a private key.
    ///
    /// # Errors
    ///
    /// [`KeyError::Unsupported`] when `der` is not a key of `format` we support,
    /// [`KeyError::RsaSize`] for an RSA key of the wrong size.
    pub fn from_der(format: KeyFormat, der: &[u8]) -> Result<Self, KeyError> {
        let key = match format {
            KeyFormat::Pkcs8 => Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
                .map(Key::Ed25519)
                .or_else(|_| ecdsa(der, EcdsaKeyPair::from_pkcs8))
                .or_else(|_| RsaKeyPair::from_pkcs8(der).map(Key::Rsa)),
            KeyFormat::Pkcs1Rsa => RsaKeyPair::from_der(der).map(Key::Rsa),
            KeyFormat::Sec1Ec => ecdsa(der, EcdsaKeyPair::from_private_key_der),
        }
        .map_err(|_| KeyError::Unsupported(format))?;
        let (spki, schemes) = match &key {
            Key::Rsa(rsa) => {
                let bits = u32::try_from(rsa.public_modulus_len() * 8).unwrap_or(u32::MAX);
                if !(2048..=8192).contains(&bits) {
                    return Err(KeyError::RsaSize(bits));
                }
                (spki_der(rsa.public_key().as_der()), &RSA_SCHEMES[..])
            }
            Key::Ecdsa(ecdsa) => {
                let schemes: &[SignatureScheme] = if ecdsa.algorithm() == &P256 {
                    &[SignatureScheme::EcdsaSha256]
                } else if ecdsa.algorithm() == &P384 {
                    &[SignatureScheme::EcdsaSha384]
                } else {
                    &[SignatureScheme::EcdsaSha512]
                };
                (spki_der(ecdsa.public_key().as_der()), schemes)
            }
            Key::Ed25519(ed25519) => (
                spki_der(ed25519.public_key().as_der()),
                &[SignatureScheme::Ed25519][..],
            ),
        };
        let spki = spki.ok_or(KeyError::Unsupported(format))?;
        let (key_type, _) =
            public_key_from_spki(&spki).map_err(|_| KeyError::Unsupported(format))?;
        Ok(Self {
            key,
            public_key: PublicKey::new(key_type, spki),
            schemes,
        })
    }
}

impl Signer for KeyPairSigner {
    fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn schemes(&self) -> &[SignatureScheme] {
        self.schemes
    }

    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, PkiError> {
        if !self.schemes.contains(&scheme) {
            return Err(PkiError::AlgorithmMismatch);
        }
        // aws-lc-rs ignores the random argument and draws RSA-PSS salts and ECDSA nonces
        // from AWS-LC's own DRBG.
        let random = SystemRandom::new();
        match &self.key {
            Key::Rsa(rsa) => {
                let padding: &'static dyn signature::RsaEncoding = match scheme {
                    SignatureScheme::RsaPssSha256 => &signature::RSA_PSS_SHA256,
                    SignatureScheme::RsaPssSha384 => &signature::RSA_PSS_SHA384,
                    SignatureScheme::RsaPssSha512 => &signature::RSA_PSS_SHA512,
                    SignatureScheme::RsaPkcs1Sha256 => &signature::RSA_PKCS1_SHA256,
                    SignatureScheme::RsaPkcs1Sha384 => &signature::RSA_PKCS1_SHA384,
                    SignatureScheme::RsaPkcs1Sha512 => &signature::RSA_PKCS1_SHA512,
                    _ => return Err(PkiError::AlgorithmMismatch),
                };
                let mut signature = vec![0; rsa.public_modulus_len()];
                rsa.sign(padding, &random, message, &mut signature)
                    .map_err(|_| PkiError::Library)?;
                Ok(signature)
            }
            Key::Ecdsa(ecdsa) => ecdsa
                .sign(&random, message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| PkiError::Library),
            Key::Ed25519(ed25519) => Ok(ed25519.sign(message).as_ref().to_vec()),
        }
    }
}

impl fmt::Debug for KeyPairSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the private key.
        f.debug_struct("KeyPairSigner")
            .field("key_type", &self.public_key.key_type())
            .finish_non_exhaustive()
    }
}

/// Checks a signature made with `key` ([RFC 7427 §3]).
///
/// # Errors
///
/// [`PkiError::AlgorithmMismatch`] when the scheme does not fit the key,
/// [`PkiError::BadSignature`] when the signature does not verify,
/// [`PkiError::Malformed`] for a key that does not parse.
///
/// [RFC 7427 §3]: https://www.rfc-editor.org/rfc/rfc7427#section-3
pub fn verify_signature(
    key: &PublicKey,
    scheme: SignatureScheme,
    message: &[u8],
    signature: &[u8],
) -> Result<(), PkiError> {
    let (key_type, raw) = public_key_from_spki(key.spki())?;
    if key_type != key.key_type() || !scheme.fits(key_type) {
        return Err(PkiError::AlgorithmMismatch);
    }
    let algorithm = verification_algorithm(key_type, scheme).ok_or(PkiError::AlgorithmMismatch)?;
    UnparsedPublicKey::new(algorithm, raw)
        .verify(message, signature)
        .map_err(|_| PkiError::BadSignature)
}

/// The aws-lc-rs algorithm for `scheme` with a key of `key_type`.
fn verification_algorithm(
    key_type: KeyType,
    scheme: SignatureScheme,
) -> Option<&'static dyn signature::VerificationAlgorithm> {
    use SignatureScheme as S;
    Some(match (key_type, scheme) {
        (KeyType::Rsa { .. }, S::RsaPssSha256) => &signature::RSA_PSS_2048_8192_SHA256,
        (KeyType::Rsa { .. }, S::RsaPssSha384) => &signature::RSA_PSS_2048_8192_SHA384,
        (KeyType::Rsa { .. }, S::RsaPssSha512) => &signature::RSA_PSS_2048_8192_SHA512,
        (KeyType::Rsa { .. }, S::RsaPkcs1Sha256) => &signature::RSA_PKCS1_2048_8192_SHA256,
        (KeyType::Rsa { .. }, S::RsaPkcs1Sha384) => &signature::RSA_PKCS1_2048_8192_SHA384,
        (KeyType::Rsa { .. }, S::RsaPkcs1Sha512) => &signature::RSA_PKCS1_2048_8192_SHA512,
        (KeyType::EcdsaP256, S::EcdsaSha256) => &signature::ECDSA_P256_SHA256_ASN1,
        (KeyType::EcdsaP256, S::EcdsaSha384) => &signature::ECDSA_P256_SHA384_ASN1,
        (KeyType::EcdsaP256, S::EcdsaSha512) => &signature::ECDSA_P256_SHA512_ASN1,
        (KeyType::EcdsaP384, S::EcdsaSha256) => &signature::ECDSA_P384_SHA256_ASN1,
        (KeyType::EcdsaP384, S::EcdsaSha384) => &signature::ECDSA_P384_SHA384_ASN1,
        (KeyType::EcdsaP384, S::EcdsaSha512) => &signature::ECDSA_P384_SHA512_ASN1,
        (KeyType::EcdsaP521, S::EcdsaSha256) => &signature::ECDSA_P521_SHA256_ASN1,
        (KeyType::EcdsaP521, S::EcdsaSha384) => &signature::ECDSA_P521_SHA384_ASN1,
        (KeyType::EcdsaP521, S::EcdsaSha512) => &signature::ECDSA_P521_SHA512_ASN1,
        (KeyType::Ed25519, S::Ed25519) => &signature::ED25519,
        _ => return None,
    })
}

/// Loads an ECDSA key on whichever supported curve it is.
fn ecdsa(
    der: &[u8],
    load: fn(
        &'static signature::EcdsaSigningAlgorithm,
        &[u8],
    ) -> Result<EcdsaKeyPair, aws_lc_rs::error::KeyRejected>,
) -> Result<Key, aws_lc_rs::error::KeyRejected> {
    load(&P256, der)
        .or_else(|_| load(&P384, der))
        .or_else(|_| load(&P521, der))
        .map(Key::Ecdsa)
}

fn spki_der(
    der: Result<PublicKeyX509Der<'static>, aws_lc_rs::error::Unspecified>,
) -> Option<Vec<u8>> {
    der.ok().map(|der| der.as_ref().to_vec())
}

const P256: signature::EcdsaSigningAlgorithm = signature::ECDSA_P256_SHA256_ASN1_SIGNING;
const P384: signature::EcdsaSigningAlgorithm = signature::ECDSA_P384_SHA384_ASN1_SIGNING;
const P521: signature::EcdsaSigningAlgorithm = signature::ECDSA_P521_SHA512_ASN1_SIGNING;

/// An RSA key's schemes: PSS first (RFC 8247 §3.2 prefers it), PKCS #1 v1.5 for peers that
/// cannot verify PSS.
const RSA_SCHEMES: [SignatureScheme; 6] = [
    SignatureScheme::RsaPssSha256,
    SignatureScheme::RsaPssSha384,
    SignatureScheme::RsaPssSha512,
    SignatureScheme::RsaPkcs1Sha256,
    SignatureScheme::RsaPkcs1Sha384,
    SignatureScheme::RsaPkcs1Sha512,
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ed25519() -> KeyPairSigner {
        let pkcs8 = Ed25519KeyPair::generate().unwrap().to_pkcs8().unwrap();
        KeyPairSigner::from_der(KeyFormat::Pkcs8, pkcs8.as_ref()).unwrap()
    }

    #[test]
    fn signs_and_verifies() {
        let signer = ed25519();
        assert_eq!(signer.public_key().key_type(), KeyType::Ed25519);
        let signature = signer.sign(SignatureScheme::Ed25519, b"message").unwrap();
        verify_signature(
            signer.public_key(),
            SignatureScheme::Ed25519,
            b"message",
            &signature,
        )
        .unwrap();
        assert_eq!(
            verify_signature(
                signer.public_key(),
                SignatureScheme::Ed25519,
                b"massage",
                &signature
            ),
            Err(PkiError::BadSignature)
        );
        assert_eq!(
            verify_signature(
                signer.public_key(),
                SignatureScheme::EcdsaSha256,
                b"message",
                &signature
            ),
            Err(PkiError::AlgorithmMismatch)
        );
        assert_eq!(
            signer.sign(SignatureScheme::RsaPssSha256, b"message"),
            Err(PkiError::AlgorithmMismatch)
        );
    }

    #[test]
    fn debug_hides_the_key() {
        assert_eq!(
            format!("{:?}", ed25519()),
            "KeyPairSigner { key_type: Ed25519, .. }"
        );
    }

    #[test]
    fn junk_is_not_a_key() {
        for format in [KeyFormat::Pkcs8, KeyFormat::Pkcs1Rsa, KeyFormat::Sec1Ec] {
            assert_eq!(
                KeyPairSigner::from_der(format, &[0x30, 0x03, 0x02, 0x01, 0x00]).err(),
                Some(KeyError::Unsupported(format))
            );
        }
    }
}
