//! Certificate authentication: the interfaces the IKE engine calls and the data they exchange
//! ([RFC 7296 §3.6–3.8], [§2.15]; [RFC 7427]).
//!
//! The engine authenticates itself with a [`CertifiedKey`] (our certificate chain, sent in
//! CERT payloads, and a [`Signer`] for our private key) and authenticates its peer with a
//! [`CertificateVerifier`] (the configured CA certificates). Both are implemented by a
//! provider crate (`hitless-crypto-awslc`); this crate holds no X.509 or signature code.
//!
//! A peer is authenticated in two steps, both required:
//!
//! 1. [`CertificateVerifier::verify_peer`] builds a path from the peer's end-entity
//!    certificate through the intermediates it sent to a configured CA, at a wall-clock time
//!    the caller passes in, checks validity periods and key usage, and checks that the
//!    certificate names the identity of the peer's ID payload. Only then does it return a
//!    [`VerifiedPeer`].
//! 2. [`verify_auth`] checks the AUTH payload's signature with the [`VerifiedPeer`]'s public
//!    key over the octets of RFC 7296 §2.15, which the engine computes.
//!
//! Hostile input is bounded before any parsing: at most [`MAX_CHAIN_CERTIFICATES`]
//! certificates of at most [`MAX_CERTIFICATE_LEN`] bytes, [`MAX_CHAIN_LEN`] in all
//! ([`check_chain_limits`]). Path building itself is bounded by the provider (depth and
//! signature budget).
//!
//! [RFC 7296 §3.6–3.8]: https://www.rfc-editor.org/rfc/rfc7296#section-3.6
//! [§2.15]: https://www.rfc-editor.org/rfc/rfc7296#section-2.15
//! [RFC 7427]: https://www.rfc-editor.org/rfc/rfc7427

use std::fmt;
use std::sync::Arc;

use hitless_wire::ike::IdPayload;
use hitless_wire::registry::HashAlgorithm;
use hitless_wire::registry::IdType;

use crate::identity::CertificateNames;
use crate::identity::IkeIdentity;
use crate::signature::KeyType;
use crate::signature::SignatureScheme;
use crate::signature::choose_scheme;
use crate::signature::encode_auth_data;
use crate::signature::parse_auth_data;

/// The most certificates we accept in one peer chain (end entity included).
pub const MAX_CHAIN_CERTIFICATES: usize = 8;
/// The largest certificate we accept, in bytes.
pub const MAX_CERTIFICATE_LEN: usize = 16 * 1024;
/// The most bytes of certificates we accept in one peer chain.
pub const MAX_CHAIN_LEN: usize = 64 * 1024;

/// Wall-clock time in whole seconds since the Unix epoch (1970-01-01T00:00:00Z), the input
/// certificate validity is checked against. The engine receives it from its driver; nothing
/// here reads a clock.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct UnixTime(u64);

/// Why certificate authentication or signing failed.
///
/// Every variant maps to AUTHENTICATION_FAILED on the wire (RFC 7296 §2.21.2); the variant
/// is what the log says. Nothing secret is carried.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum PkiError {
    /// No path leads from the certificate to a configured CA.
    #[error("certificate is not issued by a trusted CA")]
    UntrustedIssuer,
    /// A certificate of the path expired.
    #[error("certificate expired at {not_after} (now {now})")]
    Expired {
        /// When it expired.
        not_after: UnixTime,
        /// The time it was checked at.
        now: UnixTime,
    },
    /// A certificate of the path is not valid yet.
    #[error("certificate not valid before {not_before} (now {now})")]
    NotYetValid {
        /// When it becomes valid.
        not_before: UnixTime,
        /// The time it was checked at.
        now: UnixTime,
    },
    /// A certificate's key usage, extended key usage or basic constraints do not allow its
    /// role (RFC 4945 §5.1.3.2, §5.1.3.12; RFC 5280 §4.2.1.3, §4.2.1.9).
    #[error("certificate usage not allowed: {0}")]
    BadKeyUsage(&'static str),
    /// The certificate does not name the identity of the ID payload (RFC 4945 §3.1).
    #[error("identity does not match the certificate")]
    IdentityMismatch,
    /// The ID type cannot be backed by a certificate.
    #[error("identity type {0} is not supported with certificates")]
    UnsupportedIdentity(IdType),
    /// A signature (of a certificate, or of the AUTH payload) does not verify.
    #[error("bad signature")]
    BadSignature,
    /// A signature or key algorithm we do not support.
    #[error("unsupported signature algorithm")]
    UnsupportedAlgorithm,
    /// The signature scheme does not fit the key (an ECDSA signature from an RSA key).
    #[error("signature algorithm does not fit the key")]
    AlgorithmMismatch,
    /// The peer signed with a hash algorithm we did not announce (RFC 7427 §4).
    #[error("signature hash algorithm {0} was not announced")]
    HashNotAnnounced(HashAlgorithm),
    /// Our key cannot make any signature the peer announced it can verify (RFC 7427 §4).
    #[error("no signature scheme of our key is acceptable to the peer")]
    NoCommonScheme,
    /// A certificate, name or AUTH data that does not parse.
    #[error("malformed: {0}")]
    Malformed(&'static str),
    /// The path is longer than the depth limit, or path building exceeded its budget.
    #[error("certificate chain too long")]
    ChainTooLong,
    /// More certificates than [`MAX_CHAIN_CERTIFICATES`].
    #[error("too many certificates: {0}")]
    TooManyCertificates(usize),
    /// A certificate larger than [`MAX_CERTIFICATE_LEN`], or a chain larger than
    /// [`MAX_CHAIN_LEN`].
    #[error("certificate data too large: {0} bytes")]
    TooLarge(usize),
    /// A name constraint or path length constraint of a CA forbids the path (RFC 5280
    /// §4.2.1.9, §4.2.1.10).
    #[error("certificate constraint violated: {0}")]
    ConstraintViolated(&'static str),
    /// The underlying library failed.
    #[error("crypto library error")]
    Library,
}

/// A public key: its type and DER SubjectPublicKeyInfo (RFC 5280 §4.1.2.7).
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct PublicKey {
    key_type: KeyType,
    spki: Vec<u8>,
}

/// Our private key ([RFC 7427 §3]): signs the octets of RFC 7296 §2.15 with a scheme it
/// supports.
///
/// Signatures may be randomised (RSA-PSS salts, ECDSA nonces); the implementation owns that
/// randomness, as a hardware token would.
///
/// [RFC 7427 §3]: https://www.rfc-editor.org/rfc/rfc7427#section-3
pub trait Signer: Send + Sync + fmt::Debug {
    /// The public key.
    fn public_key(&self) -> &PublicKey;
    /// The schemes this key can sign with, in our order of preference.
    fn schemes(&self) -> &[SignatureScheme];
    /// Signs `message` (the whole message: hashing is part of the scheme).
    ///
    /// # Errors
    ///
    /// [`PkiError::AlgorithmMismatch`] for a scheme not in [`Signer::schemes`],
    /// [`PkiError::Library`] if the library fails.
    fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, PkiError>;
}

/// Verifies peers' certificate chains against configured CA certificates and checks
/// signatures made with the keys they certify.
pub trait CertificateVerifier: Send + Sync + fmt::Debug {
    /// Validates `end_entity` (DER) with the `intermediates` the peer sent (in any order)
    /// against the trust anchors at time `now`, and checks that it backs the peer's `id`
    /// ([RFC 7296 §3.5], [RFC 4945 §3.1]).
    ///
    /// # Errors
    ///
    /// The [`PkiError`] naming the first problem found: limits ([`check_chain_limits`]),
    /// then the path (untrusted, expired, not yet valid, bad signature, key usage,
    /// constraints), then the identity.
    ///
    /// [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
    /// [RFC 4945 §3.1]: https://www.rfc-editor.org/rfc/rfc4945#section-3.1
    fn verify_peer(
        &self,
        end_entity: &[u8],
        intermediates: &[&[u8]],
        id: &IdPayload,
        now: UnixTime,
    ) -> Result<VerifiedPeer, PkiError>;

    /// Checks `signature` over `message` with `key` under `scheme`.
    ///
    /// # Errors
    ///
    /// [`PkiError::AlgorithmMismatch`] when the scheme does not fit the key,
    /// [`PkiError::UnsupportedAlgorithm`] when the provider cannot verify it,
    /// [`PkiError::BadSignature`] when it does not verify.
    fn verify_signature(
        &self,
        key: &PublicKey,
        scheme: SignatureScheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), PkiError>;

    /// The SHA-1 hashes of the trust anchors' SubjectPublicKeyInfo, for our CERTREQ payload
    /// ([RFC 7296 §3.7]).
    ///
    /// [RFC 7296 §3.7]: https://www.rfc-editor.org/rfc/rfc7296#section-3.7
    fn authorities(&self) -> &[CaKeyHash];
}

/// The SHA-1 hash of a CA's DER SubjectPublicKeyInfo: one entry of a CERTREQ payload's
/// Certification Authority field ([RFC 7296 §3.7]).
///
/// [RFC 7296 §3.7]: https://www.rfc-editor.org/rfc/rfc7296#section-3.7
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct CaKeyHash(pub [u8; 20]);

/// Our credential: a certificate chain (end entity first, then intermediates) and the signer
/// for the end entity's key.
#[derive(Clone, Debug)]
pub struct CertifiedKey {
    chain: Vec<Vec<u8>>,
    signer: Arc<dyn Signer>,
    names: CertificateNames,
}

/// A peer whose certificate chain verified and whose certificate names its ID
/// ([`CertificateVerifier::verify_peer`]). It proves nothing about the AUTH payload yet:
/// pass it to [`verify_auth`].
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct VerifiedPeer {
    identity: IkeIdentity,
    public_key: PublicKey,
    names: CertificateNames,
    end_entity: Vec<u8>,
}

impl UnixTime {
    /// The time `secs` seconds after the epoch.
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs)
    }

    /// Seconds since the epoch.
    pub const fn as_secs(self) -> u64 {
        self.0
    }
}

impl fmt::Display for UnixTime {
    /// RFC 3339 in UTC: `2025-01-31T12:00:00Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / 86_400;
        let secs = self.0 % 86_400;
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    }
}

impl PublicKey {
    /// A key of `key_type` with DER SubjectPublicKeyInfo `spki` (for providers).
    pub fn new(key_type: KeyType, spki: Vec<u8>) -> Self {
        Self { key_type, spki }
    }

    /// Its type.
    pub fn key_type(&self) -> KeyType {
        self.key_type
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }
}

impl fmt::Debug for CaKeyHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl CertifiedKey {
    /// A credential from a chain (end entity first) whose end entity certifies `signer`'s
    /// key and holds `names`. Providers build it after checking that key and certificate
    /// belong together.
    pub fn new(chain: Vec<Vec<u8>>, signer: Arc<dyn Signer>, names: CertificateNames) -> Self {
        Self {
            chain,
            signer,
            names,
        }
    }

    /// The chain to send in CERT payloads of encoding X509_CERT_SIGNATURE ([RFC 7296
    /// §3.6]), end entity first.
    ///
    /// [RFC 7296 §3.6]: https://www.rfc-editor.org/rfc/rfc7296#section-3.6
    pub fn chain(&self) -> &[Vec<u8>] {
        &self.chain
    }

    /// The signer for the end entity's key.
    pub fn signer(&self) -> &dyn Signer {
        self.signer.as_ref()
    }

    /// The names of our end-entity certificate.
    pub fn names(&self) -> &CertificateNames {
        &self.names
    }

    /// Our identity when none is configured: the subject DN (ID_DER_ASN1_DN), as strongSwan
    /// does.
    pub fn default_identity(&self) -> IkeIdentity {
        IkeIdentity::Dn(self.names.subject.clone())
    }

    /// Whether our certificate backs `identity`; a configured local identity it does not back
    /// would make every peer reject us.
    pub fn backs(&self, identity: &IkeIdentity) -> bool {
        self.names.matches(identity)
    }
}

impl VerifiedPeer {
    /// The proof of a verified chain (for providers' [`CertificateVerifier::verify_peer`]
    /// only, after every check passed).
    pub fn new(
        identity: IkeIdentity,
        public_key: PublicKey,
        names: CertificateNames,
        end_entity: Vec<u8>,
    ) -> Self {
        Self {
            identity,
            public_key,
            names,
            end_entity,
        }
    }

    /// The identity of the peer's ID payload, which its certificate backs.
    pub fn identity(&self) -> &IkeIdentity {
        &self.identity
    }

    /// The end entity's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    /// The names of the end-entity certificate.
    pub fn names(&self) -> &CertificateNames {
        &self.names
    }

    /// The end-entity certificate (DER).
    pub fn end_entity(&self) -> &[u8] {
        &self.end_entity
    }
}

/// Our AUTH data for the DIGITAL_SIGNATURE method (14): signs `message` (the
/// InitiatorSignedOctets or ResponderSignedOctets of [RFC 7296 §2.15]) with the first scheme
/// of our key whose hash the peer announced in SIGNATURE_HASH_ALGORITHMS ([RFC 7427 §4]),
/// and encodes it ([RFC 7427 §3]).
///
/// # Errors
///
/// [`PkiError::NoCommonScheme`] when the peer announced no hash our key can sign with, the
/// signer's error otherwise.
///
/// [RFC 7296 §2.15]: https://www.rfc-editor.org/rfc/rfc7296#section-2.15
/// [RFC 7427 §3]: https://www.rfc-editor.org/rfc/rfc7427#section-3
/// [RFC 7427 §4]: https://www.rfc-editor.org/rfc/rfc7427#section-4
pub fn sign_auth(
    signer: &dyn Signer,
    peer_hashes: &[HashAlgorithm],
    message: &[u8],
) -> Result<Vec<u8>, PkiError> {
    let scheme = choose_scheme(signer.schemes(), peer_hashes).ok_or(PkiError::NoCommonScheme)?;
    let signature = signer.sign(scheme, message)?;
    Ok(encode_auth_data(scheme, &signature))
}

/// Verifies the peer's DIGITAL_SIGNATURE AUTH data over `message` (the octets of [RFC 7296
/// §2.15] the peer signed) with its verified certificate. The scheme's hash must be one we
/// announced in our SIGNATURE_HASH_ALGORITHMS (`our_hashes`, [RFC 7427 §4]). Returns the
/// scheme, for the log.
///
/// # Errors
///
/// [`PkiError::Malformed`] or [`PkiError::UnsupportedAlgorithm`] for AUTH data we cannot
/// read, [`PkiError::HashNotAnnounced`], [`PkiError::AlgorithmMismatch`] when the scheme
/// does not fit the certified key, [`PkiError::BadSignature`].
///
/// [RFC 7296 §2.15]: https://www.rfc-editor.org/rfc/rfc7296#section-2.15
/// [RFC 7427 §4]: https://www.rfc-editor.org/rfc/rfc7427#section-4
pub fn verify_auth(
    verifier: &dyn CertificateVerifier,
    peer: &VerifiedPeer,
    our_hashes: &[HashAlgorithm],
    auth_data: &[u8],
    message: &[u8],
) -> Result<SignatureScheme, PkiError> {
    let auth = parse_auth_data(auth_data)?;
    let hash = auth.scheme.hash();
    if !our_hashes.contains(&hash) {
        return Err(PkiError::HashNotAnnounced(hash));
    }
    if !auth.scheme.fits(peer.public_key.key_type()) {
        return Err(PkiError::AlgorithmMismatch);
    }
    verifier.verify_signature(&peer.public_key, auth.scheme, message, auth.signature)?;
    Ok(auth.scheme)
}

/// Rejects a peer chain that exceeds our limits, before any of it is parsed.
///
/// # Errors
///
/// [`PkiError::TooManyCertificates`] past [`MAX_CHAIN_CERTIFICATES`],
/// [`PkiError::TooLarge`] for a certificate past [`MAX_CERTIFICATE_LEN`] or a chain past
/// [`MAX_CHAIN_LEN`], [`PkiError::Malformed`] for an empty certificate.
pub fn check_chain_limits(end_entity: &[u8], intermediates: &[&[u8]]) -> Result<(), PkiError> {
    let count = intermediates.len() + 1;
    if count > MAX_CHAIN_CERTIFICATES {
        return Err(PkiError::TooManyCertificates(count));
    }
    let mut total = 0;
    for certificate in std::iter::once(end_entity).chain(intermediates.iter().copied()) {
        if certificate.is_empty() {
            return Err(PkiError::Malformed("empty certificate"));
        }
        if certificate.len() > MAX_CERTIFICATE_LEN {
            return Err(PkiError::TooLarge(certificate.len()));
        }
        total += certificate.len();
    }
    if total > MAX_CHAIN_LEN {
        return Err(PkiError::TooLarge(total));
    }
    Ok(())
}

/// The Certification Authority field of a CERTREQ payload: the concatenated hashes
/// ([RFC 7296 §3.7]).
///
/// [RFC 7296 §3.7]: https://www.rfc-editor.org/rfc/rfc7296#section-3.7
pub fn encode_certreq(authorities: &[CaKeyHash]) -> Vec<u8> {
    authorities.iter().flat_map(|hash| hash.0).collect()
}

/// Splits the Certification Authority field of a CERTREQ payload ([RFC 7296 §3.7]).
///
/// # Errors
///
/// [`PkiError::Malformed`] when its length is not a multiple of 20.
///
/// [RFC 7296 §3.7]: https://www.rfc-editor.org/rfc/rfc7296#section-3.7
pub fn parse_certreq(authority: &[u8]) -> Result<Vec<CaKeyHash>, PkiError> {
    let (hashes, rest) = authority.as_chunks::<20>();
    if !rest.is_empty() {
        return Err(PkiError::Malformed(
            "CERTREQ authority not a multiple of 20 octets",
        ));
    }
    Ok(hashes.iter().copied().map(CaKeyHash).collect())
}

/// Year, month and day of the day `days` after 1970-01-01 (the proleptic Gregorian
/// calendar; Howard Hinnant's `civil_from_days`, restricted to dates after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::DistinguishedName;

    #[test]
    fn unix_time_displays_as_rfc3339() {
        assert_eq!(UnixTime::from_secs(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(
            UnixTime::from_secs(951_782_400).to_string(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            UnixTime::from_secs(1_700_000_000).to_string(),
            "2023-11-14T22:13:20Z"
        );
        assert_eq!(
            UnixTime::from_secs(253_402_300_799).to_string(),
            "9999-12-31T23:59:59Z"
        );
    }

    #[test]
    fn chain_limits() {
        let cert: &[u8] = &[0x30; 100];
        assert_eq!(check_chain_limits(cert, &[cert; 7]), Ok(()));
        assert_eq!(
            check_chain_limits(cert, &[cert; 8]),
            Err(PkiError::TooManyCertificates(9))
        );
        let big = vec![0x30; MAX_CERTIFICATE_LEN + 1];
        assert_eq!(
            check_chain_limits(&big, &[]),
            Err(PkiError::TooLarge(MAX_CERTIFICATE_LEN + 1))
        );
        let full = vec![0x30; MAX_CERTIFICATE_LEN];
        assert_eq!(
            check_chain_limits(&full, &[&full, &full, &full, cert]),
            Err(PkiError::TooLarge(4 * MAX_CERTIFICATE_LEN + 100))
        );
        assert_eq!(
            check_chain_limits(cert, &[&[]]),
            Err(PkiError::Malformed("empty certificate"))
        );
    }

    #[test]
    fn certreq_round_trip() {
        let hashes = [CaKeyHash([1; 20]), CaKeyHash([2; 20])];
        let data = encode_certreq(&hashes);
        assert_eq!(data.len(), 40);
        assert_eq!(parse_certreq(&data).unwrap(), hashes);
        assert_eq!(parse_certreq(&[]).unwrap(), []);
        assert!(parse_certreq(&data[..39]).is_err());
        assert_eq!(format!("{:?}", CaKeyHash([0xab; 20])), "ab".repeat(20));
    }

    /// A signer and verifier over a toy "signature" (the message reversed), to test the
    /// AUTH helpers without a provider.
    #[derive(Debug)]
    struct Toy(PublicKey, Vec<SignatureScheme>);

    impl Signer for Toy {
        fn public_key(&self) -> &PublicKey {
            &self.0
        }
        fn schemes(&self) -> &[SignatureScheme] {
            &self.1
        }
        fn sign(&self, scheme: SignatureScheme, message: &[u8]) -> Result<Vec<u8>, PkiError> {
            if !self.1.contains(&scheme) {
                return Err(PkiError::AlgorithmMismatch);
            }
            Ok(message.iter().rev().copied().collect())
        }
    }

    impl CertificateVerifier for Toy {
        fn verify_peer(
            &self,
            _: &[u8],
            _: &[&[u8]],
            _: &IdPayload,
            _: UnixTime,
        ) -> Result<VerifiedPeer, PkiError> {
            Err(PkiError::UntrustedIssuer)
        }
        fn verify_signature(
            &self,
            _: &PublicKey,
            _: SignatureScheme,
            message: &[u8],
            signature: &[u8],
        ) -> Result<(), PkiError> {
            let expected: Vec<u8> = message.iter().rev().copied().collect();
            if expected == signature {
                Ok(())
            } else {
                Err(PkiError::BadSignature)
            }
        }
        fn authorities(&self) -> &[CaKeyHash] {
            &[]
        }
    }

    fn peer(key_type: KeyType) -> VerifiedPeer {
        let names = CertificateNames {
            subject: DistinguishedName::new(Vec::new(), Vec::new()),
            alt_names: Vec::new(),
            key_ids: Vec::new(),
        };
        VerifiedPeer::new(
            IkeIdentity::KeyId(vec![1]),
            PublicKey::new(key_type, Vec::new()),
            names,
            Vec::new(),
        )
    }

    #[test]
    fn sign_and_verify_auth() {
        let key = PublicKey::new(KeyType::EcdsaP384, Vec::new());
        let toy = Toy(key, vec![SignatureScheme::EcdsaSha384]);
        let ours = [HashAlgorithm::SHA2_256, HashAlgorithm::SHA2_384];
        let data = sign_auth(&toy, &ours, b"octets").unwrap();
        let peer = peer(KeyType::EcdsaP384);
        assert_eq!(
            verify_auth(&toy, &peer, &ours, &data, b"octets"),
            Ok(SignatureScheme::EcdsaSha384)
        );
        assert_eq!(
            verify_auth(&toy, &peer, &ours, &data, b"octetS"),
            Err(PkiError::BadSignature)
        );
        // A hash we did not announce.
        assert_eq!(
            verify_auth(&toy, &peer, &[HashAlgorithm::SHA2_256], &data, b"octets"),
            Err(PkiError::HashNotAnnounced(HashAlgorithm::SHA2_384))
        );
        // An ECDSA signature against an RSA certificate.
        assert_eq!(
            verify_auth(&toy, &peer_rsa(), &ours, &data, b"octets"),
            Err(PkiError::AlgorithmMismatch)
        );
        // The peer can verify nothing our key makes.
        assert_eq!(
            sign_auth(&toy, &[HashAlgorithm::SHA2_256], b"octets"),
            Err(PkiError::NoCommonScheme)
        );
    }

    fn peer_rsa() -> VerifiedPeer {
        peer(KeyType::Rsa { bits: 2048 })
    }
}
