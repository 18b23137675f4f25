//! [`TrustAnchors`]: the configured CA certificates, verifying peers' chains with
//! `rustls-webpki` on aws-lc-rs ([RFC 5280 §6] path validation).
//!
//! On top of webpki's checks (path to an anchor, signatures, validity periods, basic
//! constraints, name constraints, path length, at most 6 intermediates in a path, a budget of
//! 100 signature checks per chain) this adds what IKE wants:
//!
//! - Extended key usage ([RFC 4945 §5.1.3.12]): absent, or any of anyExtendedKeyUsage,
//!   id-kp-ipsecIKE (RFC 4945), serverAuth, clientAuth, the old ipsecEndSystem/Tunnel/User
//!   purposes and iKEIntermediate. serverAuth and clientAuth are accepted because gateways
//!   serving Windows and macOS clients carry them (strongSwan checks no EKU at all). An EKU
//!   listing only other purposes (codeSigning, emailProtection, ...) is refused, in every
//!   certificate of the path.
//! - Key usage: an end entity's keyUsage, if present, must allow digitalSignature or
//!   nonRepudiation ([RFC 4945 §5.1.3.2]); an intermediate's must allow keyCertSign.
//! - Identity: the end entity must back the peer's ID ([`CertificateNames::matches`]).
//! - Limits: [`check_chain_limits`] before anything is parsed.
//!
//! [RFC 5280 §6]: https://www.rfc-editor.org/rfc/rfc5280#section-6
//! [RFC 4945 §5.1.3.2]: https://www.rfc-editor.org/rfc/rfc4945#section-5.1.3.2
//! [RFC 4945 §5.1.3.12]: https://www.rfc-editor.org/rfc/rfc4945#section-5.1.3.12
//! [`CertificateNames::matches`]: hitless_crypto::identity::CertificateNames::matches

use std::fmt;
use std::time::Duration;

use hitless_crypto::identity::DistinguishedName;
use hitless_crypto::identity::IkeIdentity;
use hitless_crypto::pki::CaKeyHash;
use hitless_crypto::pki::CertificateVerifier;
use hitless_crypto::pki::PkiError;
use hitless_crypto::pki::PublicKey;
use hitless_crypto::pki::UnixTime;
use hitless_crypto::pki::VerifiedPeer;
use hitless_crypto::pki::check_chain_limits;
use hitless_crypto::signature::SignatureScheme;
use hitless_wire::ike::IdPayload;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::SignatureVerificationAlgorithm;
use rustls_pki_types::TrustAnchor;
use webpki::ExtendedKeyUsageValidator;
use webpki::KeyPurposeId;
use webpki::KeyPurposeIdIter;

use crate::pki::signer::verify_signature;
use crate::pki::x509::Certificate;
use crate::pki::x509::parse_distinguished_name;
use crate::pki::x509::sha1;

/// Why a CA certificate was not accepted as a trust anchor.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum TrustAnchorError {
    /// No CA certificate was given.
    #[error("no CA certificate")]
    Empty,
    /// The certificate (number `index`, counting from 0) does not parse.
    #[error("CA certificate {index}: {error}")]
    Certificate {
        /// Its position in the list.
        index: usize,
        /// What is wrong.
        error: PkiError,
    },
    /// Its basicConstraints say it is not a CA.
    #[error("CA certificate {index} ({subject}) is not a CA (basicConstraints cA is false)")]
    NotCa {
        /// Its position in the list.
        index: usize,
        /// Its subject.
        subject: String,
    },
}

/// The configured CA certificates: verify peers' chains ([`CertificateVerifier`]) and name
/// the CAs in our CERTREQ payloads.
pub struct TrustAnchors {
    anchors: Vec<TrustAnchor<'static>>,
    authorities: Vec<CaKeyHash>,
    subjects: Vec<String>,
}

impl TrustAnchors {
    /// Trust anchors from DER CA certificates.
    ///
    /// # Errors
    ///
    /// [`TrustAnchorError`] when the list is empty, or a certificate does not parse or is not
    /// a CA.
    pub fn from_der<'a>(
        certificates: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, TrustAnchorError> {
        let mut anchors = Vec::new();
        let mut authorities = Vec::new();
        let mut subjects = Vec::new();
        for (index, der) in certificates.into_iter().enumerate() {
            let bad = |error| TrustAnchorError::Certificate { index, error };
            let certificate = Certificate::parse(der).map_err(bad)?;
            let subject = certificate.subject().map_err(bad)?.to_string();
            if !certificate.may_be_ca().map_err(bad)? {
                return Err(TrustAnchorError::NotCa { index, subject });
            }
            let anchor = webpki::anchor_from_trusted_cert(&CertificateDer::from(der))
                .map_err(|error| bad(path_error(&error)))?
                .to_owned();
            anchors.push(anchor);
            // RFC 7296 §3.7: SHA-1 of the trust anchor's SubjectPublicKeyInfo.
            let hash = sha1(certificate.spki());
            let mut key_hash = [0; 20];
            key_hash.copy_from_slice(&hash);
            authorities.push(CaKeyHash(key_hash));
            subjects.push(subject);
        }
        if anchors.is_empty() {
            return Err(TrustAnchorError::Empty);
        }
        Ok(Self {
            anchors,
            authorities,
            subjects,
        })
    }

    /// The subjects of the CAs, for logs and the control CLI.
    pub fn subjects(&self) -> &[String] {
        &self.subjects
    }
}

impl CertificateVerifier for TrustAnchors {
    fn verify_peer(
        &self,
        end_entity: &[u8],
        intermediates: &[&[u8]],
        id: &IdPayload,
        now: UnixTime,
    ) -> Result<VerifiedPeer, PkiError> {
        check_chain_limits(end_entity, intermediates)?;
        let end_entity_der = CertificateDer::from(end_entity);
        let certificate =
            webpki::EndEntityCert::try_from(&end_entity_der).map_err(|e| path_error(&e))?;
        let intermediates: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|der| CertificateDer::from(*der))
            .collect();
        let time = rustls_pki_types::UnixTime::since_unix_epoch(Duration::from_secs(now.as_secs()));
        let path = certificate
            .verify_for_usage(
                ALGORITHMS,
                &self.anchors,
                &intermediates,
                time,
                IkeKeyPurposes,
                None,
                None,
            )
            .map_err(|error| match error {
                webpki::Error::CertExpired { not_after, .. } => PkiError::Expired {
                    not_after: UnixTime::from_secs(not_after.as_secs()),
                    now,
                },
                webpki::Error::CertNotValidYet { not_before, .. } => PkiError::NotYetValid {
                    not_before: UnixTime::from_secs(not_before.as_secs()),
                    now,
                },
                other => path_error(&other),
            })?;
        for intermediate in path.intermediate_certificates() {
            Certificate::parse(intermediate.der().as_ref())?.check_ca_key_usage()?;
        }

        let parsed = Certificate::parse(end_entity)?;
        parsed.check_end_entity_key_usage()?;
        let public_key = parsed.public_key()?;
        let names = parsed.names()?;
        let identity = IkeIdentity::from_payload(id.id_type, &id.data, parse_distinguished_name)?;
        if !names.matches(&identity) {
            return Err(PkiError::IdentityMismatch);
        }
        Ok(VerifiedPeer::new(
            identity,
            public_key,
            names,
            end_entity.to_vec(),
        ))
    }

    fn verify_signature(
        &self,
        key: &PublicKey,
        scheme: SignatureScheme,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), PkiError> {
        verify_signature(key, scheme, message, signature)
    }

    fn authorities(&self) -> &[CaKeyHash] {
        &self.authorities
    }
}

impl fmt::Debug for TrustAnchors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustAnchors")
            .field("subjects", &self.subjects)
            .finish_non_exhaustive()
    }
}

/// The subject of an end-entity certificate, for logs (`None` if it does not parse).
pub fn certificate_subject(der: &[u8]) -> Option<DistinguishedName> {
    Certificate::parse(der).and_then(|c| c.subject()).ok()
}

/// The EKU policy of the module documentation.
struct IkeKeyPurposes;

impl ExtendedKeyUsageValidator for IkeKeyPurposes {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        let mut present = Vec::new();
        for purpose in iter {
            let purpose = purpose?;
            if ACCEPTED_PURPOSES
                .iter()
                .any(|accepted| KeyPurposeId::new(accepted) == purpose)
            {
                return Ok(());
            }
            present.push(purpose.to_decoded_oid());
        }
        if present.is_empty() {
            return Ok(());
        }
        Err(webpki::Error::RequiredEkuNotFoundContext(
            webpki::RequiredEkuNotFoundContext {
                required: webpki::KeyUsage::required(ID_KP_IPSEC_IKE),
                present,
            },
        ))
    }
}

/// Our error for a webpki error (validity errors are mapped by the caller, which has `now`).
fn path_error(error: &webpki::Error) -> PkiError {
    use webpki::Error as E;
    match error {
        E::UnknownIssuer | E::CertDistrusted => PkiError::UntrustedIssuer,
        E::InvalidSignatureForPublicKey => PkiError::BadSignature,
        E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_)
        | E::SignatureAlgorithmMismatch => PkiError::UnsupportedAlgorithm,
        E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            PkiError::BadKeyUsage("extendedKeyUsage does not allow IKE")
        }
        E::CaUsedAsEndEntity => PkiError::BadKeyUsage("a CA certificate used as end entity"),
        E::EndEntityUsedAsCa => PkiError::BadKeyUsage("an end-entity certificate used as CA"),
        E::MaximumPathDepthExceeded
        | E::MaximumSignatureChecksExceeded
        | E::MaximumPathBuildCallsExceeded => PkiError::ChainTooLong,
        E::PathLenConstraintViolated => PkiError::ConstraintViolated("pathLenConstraint"),
        E::NameConstraintViolation | E::MaximumNameConstraintComparisonsExceeded => {
            PkiError::ConstraintViolated("nameConstraints")
        }
        E::InvalidCertValidity => PkiError::Malformed("validity period ends before it starts"),
        E::UnsupportedCriticalExtension => PkiError::Malformed("unsupported critical extension"),
        E::UnsupportedCertVersion => PkiError::Malformed("unsupported certificate version"),
        E::CertExpired { .. } | E::CertNotValidYet { .. } => PkiError::Malformed("validity period"),
        _ => PkiError::Malformed("certificate does not parse"),
    }
}

/// The algorithms certificates may be signed with.
static ALGORITHMS: &[&dyn SignatureVerificationAlgorithm] = &[
    webpki::aws_lc_rs::ECDSA_P256_SHA256,
    webpki::aws_lc_rs::ECDSA_P256_SHA384,
    webpki::aws_lc_rs::ECDSA_P256_SHA512,
    webpki::aws_lc_rs::ECDSA_P384_SHA256,
    webpki::aws_lc_rs::ECDSA_P384_SHA384,
    webpki::aws_lc_rs::ECDSA_P384_SHA512,
    webpki::aws_lc_rs::ECDSA_P521_SHA256,
    webpki::aws_lc_rs::ECDSA_P521_SHA384,
    webpki::aws_lc_rs::ECDSA_P521_SHA512,
    webpki::aws_lc_rs::ED25519,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA256_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA384_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PKCS1_2048_8192_SHA512_ABSENT_PARAMS,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA256_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA384_LEGACY_KEY,
    webpki::aws_lc_rs::RSA_PSS_2048_8192_SHA512_LEGACY_KEY,
];

/// id-kp-ipsecIKE, 1.3.6.1.5.5.7.3.17 (RFC 4945 §5.1.3.12), as DER OID content.
const ID_KP_IPSEC_IKE: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x11];

/// Key purposes that allow IKE (DER OID contents).
const ACCEPTED_PURPOSES: [&[u8]; 8] = [
    // anyExtendedKeyUsage, 2.5.29.37.0
    &[0x55, 0x1d, 0x25, 0x00],
    ID_KP_IPSEC_IKE,
    // serverAuth, 1.3.6.1.5.5.7.3.1
    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01],
    // clientAuth, 1.3.6.1.5.5.7.3.2
    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02],
    // ipsecEndSystem, 1.3.6.1.5.5.7.3.5 (RFC 2459, obsolete)
    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x05],
    // ipsecTunnel, 1.3.6.1.5.5.7.3.6
    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x06],
    // ipsecUser, 1.3.6.1.5.5.7.3.7
    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x07],
    // iKEIntermediate, 1.3.6.1.5.5.8.2.2 (Microsoft and Apple clients)
    &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x08, 0x02, 0x02],
];
