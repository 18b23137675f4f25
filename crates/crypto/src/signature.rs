//! Digital signature authentication ([RFC 7427]): the signature schemes, the AUTH data of the
//! DIGITAL_SIGNATURE method (auth method 14) and the SIGNATURE_HASH_ALGORITHMS notification.
//!
//! The AUTH data is a one-octet length, an ASN.1 `AlgorithmIdentifier` and the signature value
//! ([RFC 7427 §3]). As §3 allows, the `AlgorithmIdentifier` is treated as a blob and compared
//! against the fixed encodings of the schemes we support (the table at the bottom of this
//! file), so no ASN.1 is parsed here. Each peer announces the hash algorithms it can verify
//! in IKE_SA_INIT ([RFC 7427 §4]); the signer then picks a scheme whose hash the other peer
//! announced ([`choose_scheme`]).
//!
//! Ed25519 ([RFC 8420]) signs the whole message; its "hash" in SIGNATURE_HASH_ALGORITHMS is
//! `Identity` (5).
//!
//! [RFC 7427]: https://www.rfc-editor.org/rfc/rfc7427
//! [RFC 7427 §3]: https://www.rfc-editor.org/rfc/rfc7427#section-3
//! [RFC 7427 §4]: https://www.rfc-editor.org/rfc/rfc7427#section-4
//! [RFC 8420]: https://www.rfc-editor.org/rfc/rfc8420

use std::fmt;

use hitless_wire::registry::HashAlgorithm;

use crate::pki::PkiError;

/// A signature scheme: a signature algorithm with its hash and parameters ([RFC 7427 §3]).
///
/// [RFC 7427 §3]: https://www.rfc-editor.org/rfc/rfc7427#section-3
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum SignatureScheme {
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, a 32-byte salt (RFC 4055, RFC 8017 §8.1).
    RsaPssSha256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, a 48-byte salt.
    RsaPssSha384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, a 64-byte salt.
    RsaPssSha512,
    /// RSASSA-PKCS1-v1_5 with SHA-256 (sha256WithRSAEncryption, RFC 8017 §8.2).
    RsaPkcs1Sha256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    RsaPkcs1Sha384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    RsaPkcs1Sha512,
    /// ECDSA with SHA-256 (ecdsa-with-SHA256, RFC 5758 §3.2), on any curve; the signature
    /// value is a DER `Ecdsa-Sig-Value` (RFC 7427 §3).
    EcdsaSha256,
    /// ECDSA with SHA-384.
    EcdsaSha384,
    /// ECDSA with SHA-512.
    EcdsaSha512,
    /// Ed25519 (PureEdDSA, [RFC 8420]).
    ///
    /// [RFC 8420]: https://www.rfc-editor.org/rfc/rfc8420
    Ed25519,
}

/// The family of a signature scheme, which fixes the kind of key that can produce it.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum SignatureAlgorithm {
    /// RSA (PSS or PKCS #1 v1.5 padding).
    Rsa,
    /// ECDSA over a NIST curve.
    Ecdsa,
    /// Ed25519.
    Ed25519,
}

/// A kind of public key, as found in a certificate or a private key file.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum KeyType {
    /// RSA with a modulus of this many bits.
    Rsa {
        /// Modulus length in bits.
        bits: u32,
    },
    /// ECDSA on P-256 (secp256r1).
    EcdsaP256,
    /// ECDSA on P-384 (secp384r1).
    EcdsaP384,
    /// ECDSA on P-521 (secp521r1).
    EcdsaP521,
    /// Ed25519.
    Ed25519,
}

/// The AUTH data of a DIGITAL_SIGNATURE AUTH payload, split into its scheme and signature
/// ([RFC 7427 §3]).
///
/// [RFC 7427 §3]: https://www.rfc-editor.org/rfc/rfc7427#section-3
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SignatureAuthData<'a> {
    /// The scheme named by the `AlgorithmIdentifier`.
    pub scheme: SignatureScheme,
    /// The signature value.
    pub signature: &'a [u8],
}

impl SignatureScheme {
    /// Every scheme, in hitless's order of preference when signing.
    pub const ALL: [Self; 10] = [
        Self::Ed25519,
        Self::EcdsaSha256,
        Self::EcdsaSha384,
        Self::EcdsaSha512,
        Self::RsaPssSha256,
        Self::RsaPssSha384,
        Self::RsaPssSha512,
        Self::RsaPkcs1Sha256,
        Self::RsaPkcs1Sha384,
        Self::RsaPkcs1Sha512,
    ];

    /// The hash algorithm that stands for this scheme in SIGNATURE_HASH_ALGORITHMS
    /// ([RFC 7427 §4]; `Identity` for Ed25519, [RFC 8420 §2]).
    ///
    /// [RFC 7427 §4]: https://www.rfc-editor.org/rfc/rfc7427#section-4
    /// [RFC 8420 §2]: https://www.rfc-editor.org/rfc/rfc8420#section-2
    pub fn hash(self) -> HashAlgorithm {
        match self {
            Self::RsaPssSha256 | Self::RsaPkcs1Sha256 | Self::EcdsaSha256 => {
                HashAlgorithm::SHA2_256
            }
            Self::RsaPssSha384 | Self::RsaPkcs1Sha384 | Self::EcdsaSha384 => {
                HashAlgorithm::SHA2_384
            }
            Self::RsaPssSha512 | Self::RsaPkcs1Sha512 | Self::EcdsaSha512 => {
                HashAlgorithm::SHA2_512
            }
            Self::Ed25519 => HashAlgorithm::IDENTITY,
        }
    }

    /// The signature algorithm family.
    pub fn algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::RsaPssSha256
            | Self::RsaPssSha384
            | Self::RsaPssSha512
            | Self::RsaPkcs1Sha256
            | Self::RsaPkcs1Sha384
            | Self::RsaPkcs1Sha512 => SignatureAlgorithm::Rsa,
            Self::EcdsaSha256 | Self::EcdsaSha384 | Self::EcdsaSha512 => SignatureAlgorithm::Ecdsa,
            Self::Ed25519 => SignatureAlgorithm::Ed25519,
        }
    }

    /// The DER `AlgorithmIdentifier` we send for this scheme (RFC 7427 §3 and Appendix A; for
    /// RSASSA-PSS the parameters of RFC 4055 §3.1 with explicit hash and salt, NULL hash
    /// parameters as in RFC 7427 Appendix A.4.3).
    pub fn algorithm_identifier(self) -> &'static [u8] {
        match self {
            Self::RsaPssSha256 => RSA_PSS_SHA256,
            Self::RsaPssSha384 => RSA_PSS_SHA384,
            Self::RsaPssSha512 => RSA_PSS_SHA512,
            Self::RsaPkcs1Sha256 => SHA256_WITH_RSA,
            Self::RsaPkcs1Sha384 => SHA384_WITH_RSA,
            Self::RsaPkcs1Sha512 => SHA512_WITH_RSA,
            Self::EcdsaSha256 => ECDSA_WITH_SHA256,
            Self::EcdsaSha384 => ECDSA_WITH_SHA384,
            Self::EcdsaSha512 => ECDSA_WITH_SHA512,
            Self::Ed25519 => ED25519,
        }
    }

    /// The scheme an `AlgorithmIdentifier` names, if we support it (also accepting RSASSA-PSS
    /// parameters whose hash `AlgorithmIdentifier`s omit the NULL, as OpenSSL writes them).
    pub fn from_algorithm_identifier(der: &[u8]) -> Option<Self> {
        KNOWN_ALGORITHM_IDENTIFIERS
            .iter()
            .find(|(encoding, _)| *encoding == der)
            .map(|(_, scheme)| *scheme)
    }

    /// Whether a key of type `key` can make (and verify) this scheme.
    pub fn fits(self, key: KeyType) -> bool {
        self.algorithm() == key.algorithm()
    }
}

impl fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::RsaPssSha256 => "RSASSA-PSS-SHA256",
            Self::RsaPssSha384 => "RSASSA-PSS-SHA384",
            Self::RsaPssSha512 => "RSASSA-PSS-SHA512",
            Self::RsaPkcs1Sha256 => "RSA-PKCS1-SHA256",
            Self::RsaPkcs1Sha384 => "RSA-PKCS1-SHA384",
            Self::RsaPkcs1Sha512 => "RSA-PKCS1-SHA512",
            Self::EcdsaSha256 => "ECDSA-SHA256",
            Self::EcdsaSha384 => "ECDSA-SHA384",
            Self::EcdsaSha512 => "ECDSA-SHA512",
            Self::Ed25519 => "Ed25519",
        })
    }
}

impl KeyType {
    /// The signature algorithm family this key signs with.
    pub fn algorithm(self) -> SignatureAlgorithm {
        match self {
            Self::Rsa { .. } => SignatureAlgorithm::Rsa,
            Self::EcdsaP256 | Self::EcdsaP384 | Self::EcdsaP521 => SignatureAlgorithm::Ecdsa,
            Self::Ed25519 => SignatureAlgorithm::Ed25519,
        }
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Rsa { bits } => write!(f, "RSA-{bits}"),
            Self::EcdsaP256 => f.write_str("ECDSA-P256"),
            Self::EcdsaP384 => f.write_str("ECDSA-P384"),
            Self::EcdsaP521 => f.write_str("ECDSA-P521"),
            Self::Ed25519 => f.write_str("Ed25519"),
        }
    }
}

/// The AUTH data for a DIGITAL_SIGNATURE AUTH payload: ASN.1 length, `AlgorithmIdentifier`,
/// signature ([RFC 7427 §3]).
///
/// [RFC 7427 §3]: https://www.rfc-editor.org/rfc/rfc7427#section-3
pub fn encode_auth_data(scheme: SignatureScheme, signature: &[u8]) -> Vec<u8> {
    let algorithm = scheme.algorithm_identifier();
    let mut data = Vec::with_capacity(1 + algorithm.len() + signature.len());
    // Every encoding in the table is shorter than 256 bytes (checked by a test).
    data.push(u8::try_from(algorithm.len()).unwrap_or(u8::MAX));
    data.extend_from_slice(algorithm);
    data.extend_from_slice(signature);
    data
}

/// Splits the AUTH data of a DIGITAL_SIGNATURE AUTH payload ([RFC 7427 §3]).
///
/// # Errors
///
/// [`PkiError::Malformed`] when the length octet runs past the data or the signature is empty,
/// [`PkiError::UnsupportedAlgorithm`] when the `AlgorithmIdentifier` is not one we support.
///
/// [RFC 7427 §3]: https://www.rfc-editor.org/rfc/rfc7427#section-3
pub fn parse_auth_data(data: &[u8]) -> Result<SignatureAuthData<'_>, PkiError> {
    let Some((&len, rest)) = data.split_first() else {
        return Err(PkiError::Malformed("empty AUTH data"));
    };
    let Some((algorithm, signature)) = rest.split_at_checked(usize::from(len)) else {
        return Err(PkiError::Malformed(
            "AUTH data shorter than its ASN.1 length",
        ));
    };
    if signature.is_empty() {
        return Err(PkiError::Malformed("AUTH data without a signature"));
    }
    let scheme = SignatureScheme::from_algorithm_identifier(algorithm)
        .ok_or(PkiError::UnsupportedAlgorithm)?;
    Ok(SignatureAuthData { scheme, signature })
}

/// The data of a SIGNATURE_HASH_ALGORITHMS notification: each hash as two octets
/// ([RFC 7427 §4]).
///
/// [RFC 7427 §4]: https://www.rfc-editor.org/rfc/rfc7427#section-4
pub fn encode_hash_algorithms(hashes: &[HashAlgorithm]) -> Vec<u8> {
    hashes
        .iter()
        .flat_map(|hash| hash.0.to_be_bytes())
        .collect()
}

/// Parses the data of a SIGNATURE_HASH_ALGORITHMS notification ([RFC 7427 §4]). Values we do
/// not know are kept (the registry is open); duplicates are dropped.
///
/// # Errors
///
/// [`PkiError::Malformed`] when the length is odd.
///
/// [RFC 7427 §4]: https://www.rfc-editor.org/rfc/rfc7427#section-4
pub fn parse_hash_algorithms(data: &[u8]) -> Result<Vec<HashAlgorithm>, PkiError> {
    let (pairs, rest) = data.as_chunks::<2>();
    if !rest.is_empty() {
        return Err(PkiError::Malformed(
            "SIGNATURE_HASH_ALGORITHMS of odd length",
        ));
    }
    let mut hashes = Vec::with_capacity(pairs.len());
    for pair in pairs {
        let hash = HashAlgorithm(u16::from_be_bytes(*pair));
        if !hashes.contains(&hash) {
            hashes.push(hash);
        }
    }
    Ok(hashes)
}

/// The hash algorithms whose schemes can be verified, for our SIGNATURE_HASH_ALGORITHMS
/// notification ([RFC 7427 §4]) when every scheme of [`SignatureScheme::ALL`] is verifiable.
/// SHA-1 is left out: RFC 8247 §3.2 forbids it for signatures.
///
/// [RFC 7427 §4]: https://www.rfc-editor.org/rfc/rfc7427#section-4
pub const VERIFIABLE_HASHES: [HashAlgorithm; 4] = [
    HashAlgorithm::SHA2_256,
    HashAlgorithm::SHA2_384,
    HashAlgorithm::SHA2_512,
    HashAlgorithm::IDENTITY,
];

/// The scheme to sign with: the first of `ours` (our key's schemes, in our preference) whose
/// hash the peer announced. RFC 7427 §4: "a peer MUST pick one algorithm sent by the other
/// peer". `None` when there is none; the peer cannot verify any signature this key can make.
pub fn choose_scheme(
    ours: &[SignatureScheme],
    peer_hashes: &[HashAlgorithm],
) -> Option<SignatureScheme> {
    ours.iter()
        .copied()
        .find(|scheme| peer_hashes.contains(&scheme.hash()))
}

/// sha256WithRSAEncryption (RFC 7427 Appendix A.1.2).
const SHA256_WITH_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b, 0x05, 0x00,
];
/// sha384WithRSAEncryption (RFC 7427 Appendix A.1.3).
const SHA384_WITH_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c, 0x05, 0x00,
];
/// sha512WithRSAEncryption (RFC 7427 Appendix A.1.4).
const SHA512_WITH_RSA: &[u8] = &[
    0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d, 0x05, 0x00,
];
/// ecdsa-with-SHA256 (RFC 7427 Appendix A.3.2).
const ECDSA_WITH_SHA256: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02,
];
/// ecdsa-with-SHA384 (RFC 7427 Appendix A.3.3).
const ECDSA_WITH_SHA384: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03,
];
/// ecdsa-with-SHA512 (RFC 7427 Appendix A.3.4).
const ECDSA_WITH_SHA512: &[u8] = &[
    0x30, 0x0a, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04,
];
/// id-Ed25519 with absent parameters (RFC 8410 §3, RFC 8420 §2).
const ED25519: &[u8] = &[0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70];

/// Builds the DER of RSASSA-PSS with hash `h` (the last OID octet of id-sha256/384/512),
/// MGF1 with the same hash and salt length `salt` (RFC 4055 §3.1); with `null`, each hash
/// `AlgorithmIdentifier` carries NULL parameters (RFC 7427 Appendix A.4.3), without them it
/// omits them (RFC 4055 §2.1 allows both).
macro_rules! rsa_pss {
    (null, $h:literal, $salt:literal) => {
        &[
            0x30, 0x41, // AlgorithmIdentifier
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, // id-RSASSA-PSS
            0x30, 0x34, // RSASSA-PSS-params
            0xa0, 0x0f, 0x30, 0x0d, // [0] hashAlgorithm
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, $h, 0x05, 0x00, 0xa1, 0x1c,
            0x30, 0x1a, // [1] maskGenAlgorithm
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, // id-mgf1
            0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, $h, 0x05,
            0x00, //
            0xa2, 0x03, 0x02, 0x01, $salt, // [2] saltLength
        ]
    };
    (absent, $h:literal, $salt:literal) => {
        &[
            0x30, 0x3d, // AlgorithmIdentifier
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a, // id-RSASSA-PSS
            0x30, 0x30, // RSASSA-PSS-params
            0xa0, 0x0d, 0x30, 0x0b, // [0] hashAlgorithm
            0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, $h, //
            0xa1, 0x1a, 0x30, 0x18, // [1] maskGenAlgorithm
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08, // id-mgf1
            0x30, 0x0b, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, $h, //
            0xa2, 0x03, 0x02, 0x01, $salt, // [2] saltLength
        ]
    };
}

/// RSASSA-PSS with SHA-256 (RFC 7427 Appendix A.4.3).
const RSA_PSS_SHA256: &[u8] = rsa_pss!(null, 0x01, 0x20);
/// RSASSA-PSS with SHA-384: the construction of Appendix A.4.3 with SHA-384 and a 48-byte salt.
const RSA_PSS_SHA384: &[u8] = rsa_pss!(null, 0x02, 0x30);
/// RSASSA-PSS with SHA-512: the construction of Appendix A.4.3 with SHA-512 and a 64-byte salt.
const RSA_PSS_SHA512: &[u8] = rsa_pss!(null, 0x03, 0x40);

/// Every encoding we accept, with its scheme; the first for each scheme is the one we send.
const KNOWN_ALGORITHM_IDENTIFIERS: [(&[u8], SignatureScheme); 13] = [
    (RSA_PSS_SHA256, SignatureScheme::RsaPssSha256),
    (RSA_PSS_SHA384, SignatureScheme::RsaPssSha384),
    (RSA_PSS_SHA512, SignatureScheme::RsaPssSha512),
    (rsa_pss!(absent, 0x01, 0x20), SignatureScheme::RsaPssSha256),
    (rsa_pss!(absent, 0x02, 0x30), SignatureScheme::RsaPssSha384),
    (rsa_pss!(absent, 0x03, 0x40), SignatureScheme::RsaPssSha512),
    (SHA256_WITH_RSA, SignatureScheme::RsaPkcs1Sha256),
    (SHA384_WITH_RSA, SignatureScheme::RsaPkcs1Sha384),
    (SHA512_WITH_RSA, SignatureScheme::RsaPkcs1Sha512),
    (ECDSA_WITH_SHA256, SignatureScheme::EcdsaSha256),
    (ECDSA_WITH_SHA384, SignatureScheme::EcdsaSha384),
    (ECDSA_WITH_SHA512, SignatureScheme::EcdsaSha512),
    (ED25519, SignatureScheme::Ed25519),
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Parses a hex dump as printed in RFC 7427 Appendix A ("0000: 300d 0609 ...").
    fn rfc_hex(dump: &str) -> Vec<u8> {
        let hex: String = dump
            .lines()
            .flat_map(|line| line.split_once(':').map_or(line, |(_, rest)| rest).chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn algorithm_identifiers_match_rfc7427_appendix_a() {
        // A.1.2 sha256WithRSAEncryption
        assert_eq!(
            SignatureScheme::RsaPkcs1Sha256.algorithm_identifier(),
            rfc_hex("0000: 300d 0609 2a86 4886 f70d 0101 0b05 00")
        );
        // A.1.3 sha384WithRSAEncryption
        assert_eq!(
            SignatureScheme::RsaPkcs1Sha384.algorithm_identifier(),
            rfc_hex("0000: 300d 0609 2a86 4886 f70d 0101 0c05 00")
        );
        // A.1.4 sha512WithRSAEncryption
        assert_eq!(
            SignatureScheme::RsaPkcs1Sha512.algorithm_identifier(),
            rfc_hex("0000: 300d 0609 2a86 4886 f70d 0101 0d05 00")
        );
        // A.3.2 ecdsa-with-sha256
        assert_eq!(
            SignatureScheme::EcdsaSha256.algorithm_identifier(),
            rfc_hex("0000: 300a 0608 2a86 48ce 3d04 0302")
        );
        // A.3.3 ecdsa-with-sha384
        assert_eq!(
            SignatureScheme::EcdsaSha384.algorithm_identifier(),
            rfc_hex("0000: 300a 0608 2a86 48ce 3d04 0303")
        );
        // A.3.4 ecdsa-with-sha512
        assert_eq!(
            SignatureScheme::EcdsaSha512.algorithm_identifier(),
            rfc_hex("0000: 300a 0608 2a86 48ce 3d04 0304")
        );
        // A.4.3 RSASSA-PSS with SHA-256 (length 67)
        let pss = rfc_hex(
            "0000: 3041 0609 2a86 4886 f70d 0101 0a30 34a0
             0010: 0f30 0d06 0960 8648 0165 0304 0201 0500
             0020: a11c 301a 0609 2a86 4886 f70d 0101 0830
             0030: 0d06 0960 8648 0165 0304 0201 0500 a203
             0040: 0201 20",
        );
        assert_eq!(pss.len(), 67);
        assert_eq!(SignatureScheme::RsaPssSha256.algorithm_identifier(), pss);
        // RFC 8420 §2 / RFC 8410 §3: id-Ed25519, parameters absent.
        assert_eq!(
            SignatureScheme::Ed25519.algorithm_identifier(),
            rfc_hex("0000: 3005 0603 2b65 70")
        );
    }

    #[test]
    fn pss_variants_differ_only_in_hash_and_salt() {
        let p256 = SignatureScheme::RsaPssSha256.algorithm_identifier();
        let p384 = SignatureScheme::RsaPssSha384.algorithm_identifier();
        let p512 = SignatureScheme::RsaPssSha512.algorithm_identifier();
        let diffs = |a: &[u8], b: &[u8]| {
            a.iter()
                .zip(b)
                .enumerate()
                .filter(|(_, (x, y))| x != y)
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
        };
        // Two hash OIDs (last octet) and the salt.
        assert_eq!(diffs(p256, p384), vec![29, 59, 66]);
        assert_eq!(diffs(p256, p512), vec![29, 59, 66]);
        assert_eq!((p384[66], p512[66]), (48, 64));
    }

    #[test]
    fn encodings_are_consistent_der_lengths() {
        for (der, _) in KNOWN_ALGORITHM_IDENTIFIERS {
            assert_eq!(der[0], 0x30);
            assert_eq!(usize::from(der[1]) + 2, der.len(), "{der:02x?}");
            assert!(der.len() < 256);
        }
    }

    #[test]
    fn every_scheme_round_trips_through_auth_data() {
        for scheme in SignatureScheme::ALL {
            let signature = [0xa5; 71];
            let data = encode_auth_data(scheme, &signature);
            assert_eq!(
                usize::from(data[0]),
                scheme.algorithm_identifier().len(),
                "{scheme}"
            );
            let parsed = parse_auth_data(&data).unwrap();
            assert_eq!(parsed.scheme, scheme);
            assert_eq!(parsed.signature, signature);
        }
    }

    #[test]
    fn pss_without_null_hash_parameters_is_accepted() {
        let absent = rsa_pss!(absent, 0x02, 0x30);
        assert_eq!(
            SignatureScheme::from_algorithm_identifier(absent),
            Some(SignatureScheme::RsaPssSha384)
        );
        let mut data = vec![u8::try_from(absent.len()).unwrap()];
        data.extend_from_slice(absent);
        data.push(1);
        assert_eq!(
            parse_auth_data(&data).unwrap().scheme,
            SignatureScheme::RsaPssSha384
        );
    }

    #[test]
    fn bad_auth_data_is_rejected() {
        assert_eq!(
            parse_auth_data(&[]),
            Err(PkiError::Malformed("empty AUTH data"))
        );
        // Length runs past the end.
        assert!(matches!(
            parse_auth_data(&[20, 0x30, 0x05]),
            Err(PkiError::Malformed(_))
        ));
        // No signature after the identifier.
        let mut data = vec![7];
        data.extend_from_slice(ED25519);
        assert!(matches!(
            parse_auth_data(&data),
            Err(PkiError::Malformed(_))
        ));
        // sha1WithRSAEncryption (RFC 7427 A.1.1): known to the RFC, not supported here.
        let sha1 = rfc_hex("0000: 300d 0609 2a86 4886 f70d 0101 0505 00");
        let mut data = vec![15];
        data.extend_from_slice(&sha1);
        data.extend_from_slice(&[1; 256]);
        assert_eq!(parse_auth_data(&data), Err(PkiError::UnsupportedAlgorithm));
        // A PSS identifier with another salt length.
        let mut odd_salt = RSA_PSS_SHA256.to_vec();
        *odd_salt.last_mut().unwrap() = 0x14;
        assert_eq!(SignatureScheme::from_algorithm_identifier(&odd_salt), None);
    }

    #[test]
    fn hash_algorithms_round_trip() {
        let data = encode_hash_algorithms(&VERIFIABLE_HASHES);
        assert_eq!(data, [0, 2, 0, 3, 0, 4, 0, 5]);
        assert_eq!(parse_hash_algorithms(&data).unwrap(), VERIFIABLE_HASHES);
        // Unknown values are kept, duplicates dropped.
        assert_eq!(
            parse_hash_algorithms(&[0, 9, 0, 2, 0, 2]).unwrap(),
            [HashAlgorithm(9), HashAlgorithm::SHA2_256]
        );
        assert_eq!(parse_hash_algorithms(&[]).unwrap(), []);
        assert!(matches!(
            parse_hash_algorithms(&[0, 2, 0]),
            Err(PkiError::Malformed(_))
        ));
    }

    #[test]
    fn chosen_scheme_is_one_the_peer_announced() {
        let rsa = [
            SignatureScheme::RsaPssSha256,
            SignatureScheme::RsaPssSha384,
            SignatureScheme::RsaPssSha512,
        ];
        assert_eq!(
            choose_scheme(&rsa, &[HashAlgorithm::SHA2_512, HashAlgorithm::SHA2_384]),
            Some(SignatureScheme::RsaPssSha384)
        );
        assert_eq!(
            choose_scheme(&rsa, &VERIFIABLE_HASHES),
            Some(SignatureScheme::RsaPssSha256)
        );
        assert_eq!(choose_scheme(&rsa, &[HashAlgorithm::SHA1]), None);
        assert_eq!(choose_scheme(&rsa, &[]), None);
        assert_eq!(
            choose_scheme(&[SignatureScheme::Ed25519], &[HashAlgorithm::SHA2_256]),
            None
        );
        assert_eq!(
            choose_scheme(&[SignatureScheme::Ed25519], &[HashAlgorithm::IDENTITY]),
            Some(SignatureScheme::Ed25519)
        );
    }

    #[test]
    fn schemes_fit_their_keys() {
        assert!(SignatureScheme::EcdsaSha384.fits(KeyType::EcdsaP256));
        assert!(SignatureScheme::RsaPssSha256.fits(KeyType::Rsa { bits: 2048 }));
        assert!(!SignatureScheme::RsaPssSha256.fits(KeyType::EcdsaP256));
        assert!(!SignatureScheme::Ed25519.fits(KeyType::EcdsaP256));
        assert!(SignatureScheme::Ed25519.fits(KeyType::Ed25519));
    }
}
