//! Certificate authentication against a test PKI generated at test time with `rcgen`: a root
//! CA, an intermediate CA and end entities for each key type (RSA-2048, ECDSA P-256 and P-384,
//! Ed25519), and certificates that are wrong in one way each.
//!
//! The verifier runs at a fixed time, [`NOW`]; the certificates' validity periods are set
//! around it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Instant;

use hitless_crypto::identity::IkeIdentity;
use hitless_crypto::pki::CertificateVerifier;
use hitless_crypto::pki::PkiError;
use hitless_crypto::pki::Signer;
use hitless_crypto::pki::UnixTime;
use hitless_crypto::pki::VerifiedPeer;
use hitless_crypto::pki::sign_auth;
use hitless_crypto::pki::verify_auth;
use hitless_crypto::signature::KeyType;
use hitless_crypto::signature::SignatureScheme;
use hitless_crypto::signature::VERIFIABLE_HASHES;
use hitless_crypto::signature::encode_auth_data;
use hitless_crypto_awslc::pki::KeyPairSigner;
use hitless_crypto_awslc::pki::LoadError;
use hitless_crypto_awslc::pki::TrustAnchors;
use hitless_crypto_awslc::pki::certificates_from_pem;
use hitless_crypto_awslc::pki::certified_key;
use hitless_crypto_awslc::pki::private_key_from_pem;
use hitless_crypto_awslc::pki::trust_anchors_from_pem;
use hitless_wire::ike::IdPayload;
use hitless_wire::registry::HashAlgorithm;
use hitless_wire::registry::IdType;
use rcgen::BasicConstraints;
use rcgen::CertificateParams;
use rcgen::DnType;
use rcgen::ExtendedKeyUsagePurpose;
use rcgen::IsCa;
use rcgen::Issuer;
use rcgen::KeyPair;
use rcgen::KeyUsagePurpose;
use rcgen::PublicKeyData;
use rcgen::SanType;
use rcgen::date_time_ymd;

/// 2025-06-01T00:00:00Z.
const NOW: UnixTime = UnixTime::from_secs(1_748_736_000);

#[derive(Clone, Copy, Debug, Eq, PartialEq)]
enum Alg {
    Rsa,
    P256,
    P384,
    Ed25519,
}

const ALGS: [Alg; 4] = [Alg::Rsa, Alg::P256, Alg::P384, Alg::Ed25519];

/// A CA: its parameters, key and certificate.
struct Ca {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

/// An end entity: its certificate and key.
struct Leaf {
    der: Vec<u8>,
    key: KeyPair,
}

impl Ca {
    fn root(alg: Alg, name: &str) -> Self {
        Self::root_with_key(new_key(alg), name)
    }

    fn root_with_key(key: KeyPair, name: &str) -> Self {
        let params = ca_params(name);
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Self { params, key, der }
    }

    fn intermediate(&self, alg: Alg, name: &str) -> Self {
        self.intermediate_with(alg, name, |_| {})
    }

    fn intermediate_with(
        &self,
        alg: Alg,
        name: &str,
        customize: impl FnOnce(&mut CertificateParams),
    ) -> Self {
        let key = new_key(alg);
        let mut params = ca_params(name);
        customize(&mut params);
        let der = params
            .signed_by(&key, &self.issuer())
            .unwrap()
            .der()
            .to_vec();
        Self { params, key, der }
    }

    fn issuer(&self) -> Issuer<'_, &KeyPair> {
        Issuer::from_params(&self.params, &self.key)
    }

    fn leaf(&self, alg: Alg) -> Leaf {
        self.leaf_with(alg, |_| {})
    }

    fn leaf_with(&self, alg: Alg, customize: impl FnOnce(&mut CertificateParams)) -> Leaf {
        let key = new_key(alg);
        let mut params = leaf_params();
        customize(&mut params);
        let der = params
            .signed_by(&key, &self.issuer())
            .unwrap()
            .der()
            .to_vec();
        Leaf { der, key }
    }

    fn anchors(&self) -> TrustAnchors {
        TrustAnchors::from_der([self.der.as_slice()]).unwrap()
    }
}

impl Leaf {
    fn signer(&self) -> KeyPairSigner {
        private_key_from_pem(self.key.serialize_pem().as_bytes()).unwrap()
    }
}

/// A fresh key; RSA keys are generated once per test binary and reused (RSA key generation
/// is slow), so RSA chains share one key ([`other_key`] gives a second one).
fn new_key(alg: Alg) -> KeyPair {
    match alg {
        Alg::Rsa => rsa_key(0),
        Alg::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        Alg::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
        Alg::Ed25519 => KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap(),
    }
}

/// A key of the same type that differs from every [`new_key`] RSA key.
fn other_key(alg: Alg) -> KeyPair {
    match alg {
        Alg::Rsa => rsa_key(1),
        other => new_key(other),
    }
}

fn rsa_key(index: usize) -> KeyPair {
    static RSA: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    let pem = RSA[index].get_or_init(|| {
        KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
            .unwrap()
            .serialize_pem()
    });
    KeyPair::from_pem(pem).unwrap()
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "CH");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "hitless test");
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.not_before = date_time_ymd(2020, 1, 1);
    params.not_after = date_time_ymd(2040, 1, 1);
    params
}

fn leaf_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(DnType::CountryName, "CH");
    params
        .distinguished_name
        .push(DnType::OrganizationName, "hitless test");
    params
        .distinguished_name
        .push(DnType::CommonName, "moon.example.org");
    params.subject_alt_names = vec![
        SanType::DnsName("moon.example.org".try_into().unwrap()),
        SanType::Rfc822Name("moon@example.org".try_into().unwrap()),
        SanType::IpAddress("192.0.2.1".parse().unwrap()),
        SanType::IpAddress("2001:db8::1".parse().unwrap()),
    ];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.not_before = date_time_ymd(2024, 1, 1);
    params.not_after = date_time_ymd(2030, 1, 1);
    params
}

fn fqdn(name: &str) -> IdPayload {
    IdPayload {
        id_type: IdType::FQDN,
        data: name.as_bytes().to_vec(),
    }
}

fn moon() -> IdPayload {
    fqdn("moon.example.org")
}

fn unix(year: i32, month: u8, day: u8) -> UnixTime {
    UnixTime::from_secs(u64::try_from(date_time_ymd(year, month, day).unix_timestamp()).unwrap())
}

/// The subject DN of a certificate (DER), read with x509-parser.
fn subject_der(certificate: &[u8]) -> Vec<u8> {
    use x509_parser::prelude::FromDer;
    let (_, parsed) = x509_parser::certificate::X509Certificate::from_der(certificate).unwrap();
    parsed.subject().as_raw().to_vec()
}

fn verify(
    anchors: &TrustAnchors,
    leaf: &[u8],
    intermediates: &[&[u8]],
    id: &IdPayload,
) -> Result<VerifiedPeer, PkiError> {
    anchors.verify_peer(leaf, intermediates, id, NOW)
}

#[test]
fn valid_chain_with_intermediate_for_each_key_type() {
    for alg in ALGS {
        let root = Ca::root(alg, "Root CA");
        let intermediate = root.intermediate(alg, "Intermediate CA");
        let leaf = intermediate.leaf(alg);
        let peer = verify(&root.anchors(), &leaf.der, &[&intermediate.der], &moon())
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(
            peer.identity(),
            &IkeIdentity::Fqdn("moon.example.org".to_owned())
        );
        assert_eq!(peer.end_entity(), leaf.der);
        let expected = match alg {
            Alg::Rsa => KeyType::Rsa { bits: 2048 },
            Alg::P256 => KeyType::EcdsaP256,
            Alg::P384 => KeyType::EcdsaP384,
            Alg::Ed25519 => KeyType::Ed25519,
        };
        assert_eq!(peer.public_key().key_type(), expected, "{alg:?}");
        assert_eq!(peer.public_key().spki(), leaf.key.subject_public_key_info());
    }
}

#[test]
fn chain_of_mixed_key_types() {
    let root = Ca::root(Alg::Ed25519, "Root CA");
    let intermediate = root.intermediate(Alg::P384, "Intermediate CA");
    let leaf = intermediate.leaf(Alg::Rsa);
    verify(&root.anchors(), &leaf.der, &[&intermediate.der], &moon()).unwrap();
}

#[test]
fn signatures_round_trip_for_each_key_type_and_scheme() {
    for alg in ALGS {
        let root = Ca::root(alg, "Root CA");
        let leaf = root.leaf(alg);
        let anchors = root.anchors();
        let peer = verify(&anchors, &leaf.der, &[], &moon()).unwrap();
        let signer = leaf.signer();
        assert_eq!(signer.public_key(), peer.public_key());
        let octets = b"RealMessage1 | NonceRData | MACedIDForI";
        for &scheme in signer.schemes() {
            let signature = signer.sign(scheme, octets).unwrap();
            let auth = encode_auth_data(scheme, &signature);
            assert_eq!(
                verify_auth(&anchors, &peer, &VERIFIABLE_HASHES, &auth, octets),
                Ok(scheme),
                "{alg:?} {scheme}"
            );
            // Flipping a bit of the signature or the message breaks it.
            let mut bad = auth.clone();
            *bad.last_mut().unwrap() ^= 1;
            assert_eq!(
                verify_auth(&anchors, &peer, &VERIFIABLE_HASHES, &bad, octets),
                Err(PkiError::BadSignature),
                "{alg:?} {scheme}"
            );
            assert_eq!(
                verify_auth(&anchors, &peer, &VERIFIABLE_HASHES, &auth, b"other octets"),
                Err(PkiError::BadSignature),
                "{alg:?} {scheme}"
            );
        }
        // The negotiated path: sign_auth picks what the peer announced.
        let auth = sign_auth(&signer, &VERIFIABLE_HASHES, octets).unwrap();
        let scheme = verify_auth(&anchors, &peer, &VERIFIABLE_HASHES, &auth, octets).unwrap();
        let expected = match alg {
            Alg::Rsa => SignatureScheme::RsaPssSha256,
            Alg::P256 => SignatureScheme::EcdsaSha256,
            Alg::P384 => SignatureScheme::EcdsaSha384,
            Alg::Ed25519 => SignatureScheme::Ed25519,
        };
        assert_eq!(scheme, expected);
    }
}

#[test]
fn rsa_signs_with_the_hash_the_peer_announced() {
    let root = Ca::root(Alg::Rsa, "Root CA");
    let leaf = root.leaf(Alg::Rsa);
    let anchors = root.anchors();
    let peer = verify(&anchors, &leaf.der, &[], &moon()).unwrap();
    let signer = leaf.signer();
    for (hash, scheme) in [
        (HashAlgorithm::SHA2_384, SignatureScheme::RsaPssSha384),
        (HashAlgorithm::SHA2_512, SignatureScheme::RsaPssSha512),
    ] {
        let auth = sign_auth(&signer, &[hash], b"octets").unwrap();
        assert_eq!(
            verify_auth(&anchors, &peer, &[hash], &auth, b"octets"),
            Ok(scheme)
        );
    }
    assert_eq!(
        sign_auth(&signer, &[HashAlgorithm::SHA1], b"octets"),
        Err(PkiError::NoCommonScheme)
    );
}

#[test]
fn signature_of_another_key_type_is_rejected() {
    let root = Ca::root(Alg::P256, "Root CA");
    let leaf = root.leaf(Alg::P256);
    let anchors = root.anchors();
    let peer = verify(&anchors, &leaf.der, &[], &moon()).unwrap();
    let other = Ca::root(Alg::Ed25519, "Other").leaf(Alg::Ed25519).signer();
    let auth = sign_auth(&other, &VERIFIABLE_HASHES, b"octets").unwrap();
    assert_eq!(
        verify_auth(&anchors, &peer, &VERIFIABLE_HASHES, &auth, b"octets"),
        Err(PkiError::AlgorithmMismatch)
    );
    // Same type, other key.
    let other = Ca::root(Alg::P256, "Other").leaf(Alg::P256).signer();
    let auth = sign_auth(&other, &VERIFIABLE_HASHES, b"octets").unwrap();
    assert_eq!(
        verify_auth(&anchors, &peer, &VERIFIABLE_HASHES, &auth, b"octets"),
        Err(PkiError::BadSignature)
    );
}

#[test]
fn untrusted_ca_is_rejected() {
    for alg in ALGS {
        let root = Ca::root(alg, "Root CA");
        let intermediate = root.intermediate(alg, "Intermediate CA");
        let leaf = intermediate.leaf(alg);
        let stranger = Ca::root(alg, "Stranger CA");
        assert_eq!(
            verify(
                &stranger.anchors(),
                &leaf.der,
                &[&intermediate.der],
                &moon()
            )
            .err(),
            Some(PkiError::UntrustedIssuer),
            "{alg:?}"
        );
        // The right CA, but the intermediate is missing.
        assert_eq!(
            verify(&root.anchors(), &leaf.der, &[], &moon()).err(),
            Some(PkiError::UntrustedIssuer),
            "{alg:?}"
        );
    }
}

#[test]
fn forged_certificate_signature_is_rejected() {
    // A CA with the real root's name but another key issues a certificate; it claims the real
    // root as issuer, but the signature does not verify with the real root's key.
    for alg in ALGS {
        let root = Ca::root(alg, "Root CA");
        let forger = Ca::root_with_key(other_key(alg), "Root CA");
        let leaf = forger.leaf(alg);
        assert_eq!(
            verify(&root.anchors(), &leaf.der, &[], &moon()).err(),
            Some(PkiError::BadSignature),
            "{alg:?}"
        );
    }
}

#[test]
fn expired_certificates_are_rejected() {
    for alg in ALGS {
        let root = Ca::root(alg, "Root CA");
        let leaf = root.leaf_with(alg, |p| p.not_after = date_time_ymd(2025, 1, 1));
        assert_eq!(
            verify(&root.anchors(), &leaf.der, &[], &moon()).err(),
            Some(PkiError::Expired {
                not_after: unix(2025, 1, 1),
                now: NOW
            }),
            "{alg:?}"
        );
    }
    // An expired intermediate.
    let root = Ca::root(Alg::P256, "Root CA");
    let intermediate = root.intermediate_with(Alg::P256, "Intermediate CA", |p| {
        p.not_after = date_time_ymd(2025, 5, 1);
    });
    let leaf = intermediate.leaf(Alg::P256);
    assert!(matches!(
        verify(&root.anchors(), &leaf.der, &[&intermediate.der], &moon()),
        Err(PkiError::Expired { .. })
    ));
    // The same chain a month earlier is fine.
    root.anchors()
        .verify_peer(&leaf.der, &[&intermediate.der], &moon(), unix(2025, 4, 1))
        .unwrap();
}

#[test]
fn not_yet_valid_certificates_are_rejected() {
    for alg in ALGS {
        let root = Ca::root(alg, "Root CA");
        let leaf = root.leaf_with(alg, |p| p.not_before = date_time_ymd(2026, 1, 1));
        assert_eq!(
            verify(&root.anchors(), &leaf.der, &[], &moon()).err(),
            Some(PkiError::NotYetValid {
                not_before: unix(2026, 1, 1),
                now: NOW
            }),
            "{alg:?}"
        );
    }
}

#[test]
fn wrong_key_usage_is_rejected() {
    let root = Ca::root(Alg::P256, "Root CA");
    let anchors = root.anchors();
    let rejected = |leaf: Leaf, what: &str| {
        assert!(
            matches!(
                verify(&anchors, &leaf.der, &[], &moon()),
                Err(PkiError::BadKeyUsage(_))
            ),
            "{what}"
        );
    };
    rejected(
        root.leaf_with(Alg::P256, |p| {
            p.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
        }),
        "keyUsage without digitalSignature",
    );
    rejected(
        root.leaf_with(Alg::P256, |p| {
            p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
        }),
        "extendedKeyUsage codeSigning only",
    );
    rejected(
        root.leaf_with(Alg::P256, |p| {
            p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        }),
        "a CA certificate as end entity",
    );
    // An intermediate that may not sign certificates.
    let intermediate = root.intermediate_with(Alg::P256, "Intermediate CA", |p| {
        p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    });
    let leaf = intermediate.leaf(Alg::P256);
    assert!(matches!(
        verify(&anchors, &leaf.der, &[&intermediate.der], &moon()),
        Err(PkiError::BadKeyUsage(_))
    ));
    // An end entity used as a CA.
    let fake_ca = root.intermediate_with(Alg::P256, "Not a CA", |p| {
        p.is_ca = IsCa::ExplicitNoCa;
    });
    let leaf = fake_ca.leaf(Alg::P256);
    assert!(matches!(
        verify(&anchors, &leaf.der, &[&fake_ca.der], &moon()),
        Err(PkiError::BadKeyUsage(_))
    ));
}

#[test]
fn usages_that_allow_ike_are_accepted() {
    let root = Ca::root(Alg::P256, "Root CA");
    let anchors = root.anchors();
    let ipsec_ike = ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 7, 3, 17]);
    let ike_intermediate = ExtendedKeyUsagePurpose::Other(vec![1, 3, 6, 1, 5, 5, 8, 2, 2]);
    for (usages, ekus) in [
        (vec![], vec![]),
        (vec![KeyUsagePurpose::ContentCommitment], vec![]),
        (vec![KeyUsagePurpose::DigitalSignature], vec![ipsec_ike]),
        (
            vec![KeyUsagePurpose::DigitalSignature],
            vec![ExtendedKeyUsagePurpose::ServerAuth, ike_intermediate],
        ),
        (vec![], vec![ExtendedKeyUsagePurpose::ClientAuth]),
        (
            vec![],
            vec![
                ExtendedKeyUsagePurpose::CodeSigning,
                ExtendedKeyUsagePurpose::Any,
            ],
        ),
    ] {
        let leaf = root.leaf_with(Alg::P256, |p| {
            p.key_usages = usages.clone();
            p.extended_key_usages = ekus.clone();
        });
        verify(&anchors, &leaf.der, &[], &moon())
            .unwrap_or_else(|e| panic!("{usages:?} {ekus:?}: {e}"));
    }
}

#[test]
fn identities_match_for_each_id_type() {
    let root = Ca::root(Alg::P256, "Root CA");
    let leaf = root.leaf(Alg::P256);
    let anchors = root.anchors();
    let spki_sha1 = aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
        &leaf.key.subject_public_key_info(),
    );
    let ids = [
        IdPayload {
            id_type: IdType::DER_ASN1_DN,
            data: subject_der(&leaf.der),
        },
        fqdn("moon.example.org"),
        fqdn("MOON.Example.ORG"),
        IdPayload {
            id_type: IdType::RFC822_ADDR,
            data: b"moon@example.org".to_vec(),
        },
        IdPayload {
            id_type: IdType::IPV4_ADDR,
            data: vec![192, 0, 2, 1],
        },
        IdPayload {
            id_type: IdType::IPV6_ADDR,
            data: "2001:db8::1"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
                .to_vec(),
        },
        IdPayload {
            id_type: IdType::KEY_ID,
            data: spki_sha1.as_ref().to_vec(),
        },
    ];
    for id in ids {
        verify(&anchors, &leaf.der, &[], &id).unwrap_or_else(|e| panic!("{id:?}: {e}"));
    }
}

#[test]
fn identity_mismatch_for_each_id_type() {
    let root = Ca::root(Alg::P256, "Root CA");
    let leaf = root.leaf(Alg::P256);
    let anchors = root.anchors();
    let other = root.leaf_with(Alg::P256, |p| {
        p.distinguished_name
            .push(DnType::CommonName, "sun.example.org");
    });
    let ids = [
        // Another certificate's subject.
        IdPayload {
            id_type: IdType::DER_ASN1_DN,
            data: subject_der(&other.der),
        },
        // The CA's subject.
        IdPayload {
            id_type: IdType::DER_ASN1_DN,
            data: subject_der(&root.der),
        },
        fqdn("sun.example.org"),
        // The CN of the subject is not a DNS name; nor is an email SAN.
        fqdn("moon@example.org"),
        IdPayload {
            id_type: IdType::RFC822_ADDR,
            data: b"sun@example.org".to_vec(),
        },
        IdPayload {
            id_type: IdType::IPV4_ADDR,
            data: vec![192, 0, 2, 2],
        },
        IdPayload {
            id_type: IdType::IPV6_ADDR,
            data: "2001:db8::2"
                .parse::<std::net::Ipv6Addr>()
                .unwrap()
                .octets()
                .to_vec(),
        },
        IdPayload {
            id_type: IdType::KEY_ID,
            data: vec![0; 20],
        },
    ];
    for id in ids {
        assert_eq!(
            verify(&anchors, &leaf.der, &[], &id).err(),
            Some(PkiError::IdentityMismatch),
            "{id:?}"
        );
    }
    // A certificate without subjectAltName backs no FQDN, even one equal to its CN.
    let no_san = root.leaf_with(Alg::P256, |p| p.subject_alt_names.clear());
    assert_eq!(
        verify(&anchors, &no_san.der, &[], &moon()).err(),
        Some(PkiError::IdentityMismatch)
    );
    // Unsupported and malformed IDs.
    assert_eq!(
        verify(
            &anchors,
            &leaf.der,
            &[],
            &IdPayload {
                id_type: IdType::DER_ASN1_GN,
                data: vec![1]
            }
        )
        .err(),
        Some(PkiError::UnsupportedIdentity(IdType::DER_ASN1_GN))
    );
    assert!(matches!(
        verify(
            &anchors,
            &leaf.der,
            &[],
            &IdPayload {
                id_type: IdType::DER_ASN1_DN,
                data: vec![0x30, 0x05, 0x31]
            }
        ),
        Err(PkiError::Malformed(_))
    ));
}

#[test]
fn dn_matches_across_string_types_and_case() {
    // The certificate's subject uses PrintableString, the ID UTF8String in another case.
    let root = Ca::root(Alg::P256, "Root CA");
    let leaf = root.leaf_with(Alg::P256, |p| {
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(
            DnType::CountryName,
            rcgen::DnValue::PrintableString("CH".try_into().unwrap()),
        );
        p.distinguished_name.push(
            DnType::CommonName,
            rcgen::DnValue::PrintableString("Moon Gateway".try_into().unwrap()),
        );
    });
    let id_source = root.leaf_with(Alg::P256, |p| {
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name
            .push(DnType::CountryName, rcgen::DnValue::Utf8String("ch".into()));
        p.distinguished_name.push(
            DnType::CommonName,
            rcgen::DnValue::Utf8String("moon  gateway ".into()),
        );
    });
    let id = IdPayload {
        id_type: IdType::DER_ASN1_DN,
        data: subject_der(&id_source.der),
    };
    assert_ne!(id.data, subject_der(&leaf.der));
    let peer = verify(&root.anchors(), &leaf.der, &[], &id).unwrap();
    assert_eq!(peer.identity().to_string(), "C=ch, CN=moon  gateway\\ ");
}

#[test]
fn malformed_certificates_are_rejected() {
    let root = Ca::root(Alg::P256, "Root CA");
    let leaf = root.leaf(Alg::P256);
    let anchors = root.anchors();
    let mut trailing = leaf.der.clone();
    trailing.push(0);
    let mut flipped = leaf.der.clone();
    flipped[1] ^= 0x01;
    for junk in [
        &b"not a certificate"[..],
        &[0x30][..],
        &[0x30, 0x82, 0xff, 0xff, 0x01][..],
        &leaf.der[..leaf.der.len() / 2],
        &trailing[..],
        &flipped[..],
    ] {
        assert!(
            matches!(
                verify(&anchors, junk, &[], &moon()),
                Err(PkiError::Malformed(_))
            ),
            "{junk:02x?}"
        );
    }
    // A junk intermediate next to a valid chain is ignored; alone it is what failed.
    let intermediate = root.intermediate(Alg::P256, "Intermediate CA");
    let leaf2 = intermediate.leaf(Alg::P256);
    verify(&anchors, &leaf2.der, &[b"junk", &intermediate.der], &moon()).unwrap();
    assert!(matches!(
        verify(&anchors, &leaf2.der, &[b"junk"], &moon()),
        Err(PkiError::Malformed(_))
    ));
}

#[test]
fn every_bit_flip_of_a_chain_is_rejected_without_panic() {
    let root = Ca::root(Alg::P256, "Root CA");
    let intermediate = root.intermediate(Alg::P256, "Intermediate CA");
    let leaf = intermediate.leaf(Alg::P256);
    let anchors = root.anchors();
    verify(&anchors, &leaf.der, &[&intermediate.der], &moon()).unwrap();
    for (which, original) in [("leaf", &leaf.der), ("intermediate", &intermediate.der)] {
        for bit in 0..original.len() * 8 {
            let mut mutated = original.clone();
            mutated[bit / 8] ^= 1 << (bit % 8);
            let result = if which == "leaf" {
                verify(&anchors, &mutated, &[&intermediate.der], &moon())
            } else {
                verify(&anchors, &leaf.der, &[&mutated], &moon())
            };
            assert!(result.is_err(), "{which} with bit {bit} flipped verified");
        }
    }
    // And truncations at every length.
    for len in 0..leaf.der.len() {
        assert!(verify(&anchors, &leaf.der[..len], &[&intermediate.der], &moon()).is_err());
    }
}

#[test]
fn chain_loop_terminates() {
    // Two CAs that certify each other, neither trusted: path building must give up quickly.
    let key_a = new_key(Alg::P256);
    let key_b = new_key(Alg::P256);
    let params_a = ca_params("Loop A");
    let params_b = ca_params("Loop B");
    let a_by_b = params_a
        .signed_by(&key_a, &Issuer::from_params(&params_b, &key_b))
        .unwrap();
    let b_by_a = params_b
        .signed_by(&key_b, &Issuer::from_params(&params_a, &key_a))
        .unwrap();
    let ca_a = Ca {
        params: params_a,
        key: KeyPair::from_pem(&key_a.serialize_pem()).unwrap(),
        der: a_by_b.der().to_vec(),
    };
    let leaf = ca_a.leaf(Alg::P256);
    let trusted = Ca::root(Alg::P256, "Root CA");
    let start = Instant::now();
    assert_eq!(
        verify(
            &trusted.anchors(),
            &leaf.der,
            &[
                a_by_b.der().as_ref(),
                b_by_a.der().as_ref(),
                a_by_b.der().as_ref(),
                b_by_a.der().as_ref()
            ],
            &moon()
        )
        .err(),
        Some(PkiError::UntrustedIssuer)
    );
    assert!(start.elapsed().as_secs() < 2);
}

#[test]
fn chain_depth_and_size_are_bounded() {
    let root = Ca::root(Alg::Ed25519, "Root CA");
    // Seven intermediates: past webpki's limit of six.
    let mut cas = vec![root.intermediate(Alg::Ed25519, "Intermediate 1")];
    for i in 2..=7 {
        let next = cas
            .last()
            .unwrap()
            .intermediate(Alg::Ed25519, &format!("Intermediate {i}"));
        cas.push(next);
    }
    let leaf = cas.last().unwrap().leaf(Alg::Ed25519);
    let intermediates: Vec<&[u8]> = cas.iter().map(|ca| ca.der.as_slice()).collect();
    assert_eq!(
        verify(&root.anchors(), &leaf.der, &intermediates, &moon()).err(),
        Some(PkiError::ChainTooLong)
    );
    // Six are fine.
    let leaf6 = cas[5].leaf(Alg::Ed25519);
    verify(&root.anchors(), &leaf6.der, &intermediates[..6], &moon()).unwrap();
    // More certificates than we accept, whatever they are.
    let many = vec![leaf.der.as_slice(); 8];
    assert_eq!(
        verify(&root.anchors(), &leaf.der, &many, &moon()).err(),
        Some(PkiError::TooManyCertificates(9))
    );
    let huge = vec![0x30; 20_000];
    assert_eq!(
        verify(&root.anchors(), &huge, &[], &moon()).err(),
        Some(PkiError::TooLarge(20_000))
    );
}

#[test]
fn certreq_names_the_ca_keys() {
    let root = Ca::root(Alg::P384, "Root CA");
    let other = Ca::root(Alg::Rsa, "Other CA");
    let anchors = TrustAnchors::from_der([root.der.as_slice(), other.der.as_slice()]).unwrap();
    let expected: Vec<Vec<u8>> = [&root, &other]
        .iter()
        .map(|ca| {
            aws_lc_rs::digest::digest(
                &aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY,
                &ca.key.subject_public_key_info(),
            )
            .as_ref()
            .to_vec()
        })
        .collect();
    let got: Vec<Vec<u8>> = anchors.authorities().iter().map(|h| h.0.to_vec()).collect();
    assert_eq!(got, expected);
    assert_eq!(
        anchors.subjects(),
        [
            "C=CH, O=hitless test, CN=Root CA",
            "C=CH, O=hitless test, CN=Other CA"
        ]
    );
}

#[test]
fn trust_anchors_must_be_cas() {
    let root = Ca::root(Alg::P256, "Root CA");
    let leaf = root.leaf_with(Alg::P256, |p| p.is_ca = IsCa::ExplicitNoCa);
    assert!(matches!(
        TrustAnchors::from_der([leaf.der.as_slice()]),
        Err(hitless_crypto_awslc::pki::TrustAnchorError::NotCa { index: 0, .. })
    ));
    assert!(TrustAnchors::from_der([b"junk".as_slice()]).is_err());
    assert!(TrustAnchors::from_der(std::iter::empty()).is_err());
}

#[test]
fn certified_key_checks_that_key_and_certificate_belong_together() {
    let root = Ca::root(Alg::P256, "Root CA");
    let intermediate = root.intermediate(Alg::P256, "Intermediate CA");
    let leaf = intermediate.leaf(Alg::P256);
    let chain_pem = format!(
        "{}{}",
        pem("CERTIFICATE", &leaf.der),
        pem("CERTIFICATE", &intermediate.der)
    );
    let chain = certificates_from_pem(chain_pem.as_bytes()).unwrap();
    assert_eq!(chain, [leaf.der.clone(), intermediate.der.clone()]);
    let key = certified_key(chain.clone(), Arc::new(leaf.signer())).unwrap();
    assert_eq!(key.chain(), chain);
    assert!(key.backs(&IkeIdentity::Fqdn("moon.example.org".to_owned())));
    assert!(key.backs(&IkeIdentity::Ipv4("192.0.2.1".parse().unwrap())));
    assert!(!key.backs(&IkeIdentity::Fqdn("sun.example.org".to_owned())));
    let default = key.default_identity().to_payload();
    assert_eq!(default.id_type, IdType::DER_ASN1_DN);
    assert_eq!(default.data, subject_der(&leaf.der));
    // Our default identity is accepted by a peer that trusts our root.
    verify(&root.anchors(), &leaf.der, &[&intermediate.der], &default).unwrap();

    let stranger = root.leaf(Alg::P256);
    assert!(matches!(
        certified_key(chain, Arc::new(stranger.signer())),
        Err(LoadError::KeyMismatch)
    ));
    assert!(matches!(
        certified_key(Vec::new(), Arc::new(stranger.signer())),
        Err(LoadError::NoCertificate)
    ));
}

#[test]
fn pem_and_der_inputs() {
    let root = Ca::root(Alg::Ed25519, "Root CA");
    // A CA file: PEM or DER.
    trust_anchors_from_pem(pem("CERTIFICATE", &root.der).as_bytes()).unwrap();
    trust_anchors_from_pem(&root.der).unwrap();
    assert!(matches!(
        certificates_from_pem(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n"),
        Err(LoadError::Pem(_))
    ));
    assert!(matches!(
        certificates_from_pem(pem("PRIVATE KEY", &[1, 2, 3]).as_bytes()),
        Err(LoadError::NoCertificate)
    ));
    assert!(matches!(
        certificates_from_pem(b""),
        Err(LoadError::NoCertificate)
    ));

    // Keys: PKCS #8 PEM and DER.
    let leaf = root.leaf(Alg::Ed25519);
    let der = leaf.key.serialize_der();
    assert_eq!(
        private_key_from_pem(&der).unwrap().public_key().key_type(),
        KeyType::Ed25519
    );
    assert!(matches!(
        private_key_from_pem(pem("ENCRYPTED PRIVATE KEY", &[0x30, 0x00]).as_bytes()),
        Err(LoadError::EncryptedPrivateKey)
    ));
    let two = format!("{}{}", leaf.key.serialize_pem(), leaf.key.serialize_pem());
    assert!(matches!(
        private_key_from_pem(two.as_bytes()),
        Err(LoadError::SeveralPrivateKeys)
    ));
    assert!(matches!(
        private_key_from_pem(pem("CERTIFICATE", &root.der).as_bytes()),
        Err(LoadError::NoPrivateKey)
    ));
    assert!(matches!(
        private_key_from_pem(b"\x30\x03\x02\x01\x00"),
        Err(LoadError::NoPrivateKey)
    ));
    // Debug output of a loaded key never shows it.
    let debug = format!("{:?}", private_key_from_pem(&der).unwrap());
    assert!(!debug.contains(&format!("{:?}", &der[der.len() - 8..])));
}

#[test]
fn algorithm_identifiers_cross_check() {
    // Our fixed AlgorithmIdentifier encodings against rustls-pki-types' (which encode the
    // SEQUENCE contents) and against x509-parser's reading of the RSASSA-PSS parameters.
    use rustls_pki_types::alg_id;
    use x509_parser::prelude::FromDer;
    use x509_parser::signature_algorithm::SignatureAlgorithm as Parsed;
    let pairs = [
        (SignatureScheme::RsaPssSha256, alg_id::RSA_PSS_SHA256),
        (SignatureScheme::RsaPssSha384, alg_id::RSA_PSS_SHA384),
        (SignatureScheme::RsaPssSha512, alg_id::RSA_PSS_SHA512),
        (SignatureScheme::RsaPkcs1Sha256, alg_id::RSA_PKCS1_SHA256),
        (SignatureScheme::RsaPkcs1Sha384, alg_id::RSA_PKCS1_SHA384),
        (SignatureScheme::RsaPkcs1Sha512, alg_id::RSA_PKCS1_SHA512),
        (SignatureScheme::EcdsaSha256, alg_id::ECDSA_SHA256),
        (SignatureScheme::EcdsaSha384, alg_id::ECDSA_SHA384),
        (SignatureScheme::EcdsaSha512, alg_id::ECDSA_SHA512),
        (SignatureScheme::Ed25519, alg_id::ED25519),
    ];
    for (scheme, reference) in pairs {
        assert_eq!(
            &scheme.algorithm_identifier()[2..],
            reference.as_ref(),
            "{scheme}"
        );
    }
    for (scheme, hash, salt) in [
        (SignatureScheme::RsaPssSha256, "2.16.840.1.101.3.4.2.1", 32),
        (SignatureScheme::RsaPssSha384, "2.16.840.1.101.3.4.2.2", 48),
        (SignatureScheme::RsaPssSha512, "2.16.840.1.101.3.4.2.3", 64),
    ] {
        let (rest, identifier) =
            x509_parser::x509::AlgorithmIdentifier::from_der(scheme.algorithm_identifier())
                .unwrap();
        assert!(rest.is_empty());
        let Ok(Parsed::RSASSA_PSS(params)) = Parsed::try_from(&identifier) else {
            panic!("{scheme} is not RSASSA-PSS");
        };
        let params = params.as_ref();
        assert_eq!(params.hash_algorithm_oid().to_id_string(), hash);
        let mgf = params.mask_gen_algorithm().unwrap();
        assert_eq!(mgf.mgf.to_id_string(), "1.2.840.113549.1.1.8");
        assert_eq!(mgf.hash.to_id_string(), hash);
        assert_eq!(params.salt_length(), salt);
    }
}

#[test]
fn ip_identity_of_a_ca_issued_address_certificate() {
    // strongSwan's habit: a gateway identified by its address, certificate with an IP SAN.
    let root = Ca::root(Alg::Ed25519, "Root CA");
    let address: IpAddr = "198.51.100.7".parse().unwrap();
    let leaf = root.leaf_with(Alg::Ed25519, |p| {
        p.subject_alt_names = vec![SanType::IpAddress(address)];
    });
    let id = IdPayload {
        id_type: IdType::IPV4_ADDR,
        data: vec![198, 51, 100, 7],
    };
    let peer = verify(&root.anchors(), &leaf.der, &[], &id).unwrap();
    assert_eq!(peer.identity().to_string(), "198.51.100.7");
}

fn pem(label: &str, der: &[u8]) -> String {
    use std::fmt::Write;
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut base64 = String::new();
    for chunk in der.chunks(3) {
        let bytes = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= chunk.len() {
                base64.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                base64.push('=');
            }
        }
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in base64.as_bytes().chunks(64) {
        writeln!(out, "{}", std::str::from_utf8(line).unwrap()).unwrap();
    }
    writeln!(out, "-----END {label}-----").unwrap();
    out
}
