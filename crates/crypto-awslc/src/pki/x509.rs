//! What the IKE engine needs from an X.509 certificate ([RFC 5280]), read with `x509-parser`:
//! the public key and its type, the names identities are matched against, and the key usage
//! of end entities and CAs. Path validation is `rustls-webpki`'s (see `trust.rs`).
//!
//! [RFC 5280]: https://www.rfc-editor.org/rfc/rfc5280

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;

use aws_lc_rs::digest;
use hitless_crypto::identity::AltName;
use hitless_crypto::identity::AttributeValue;
use hitless_crypto::identity::CertificateNames;
use hitless_crypto::identity::DistinguishedName;
use hitless_crypto::identity::NameAttribute;
use hitless_crypto::pki::PkiError;
use hitless_crypto::pki::PublicKey;
use hitless_crypto::signature::KeyType;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::extensions::ParsedExtension;
use x509_parser::oid_registry;
use x509_parser::prelude::FromDer;
use x509_parser::public_key;
use x509_parser::x509::SubjectPublicKeyInfo;
use x509_parser::x509::X509Name;

/// A parsed certificate.
pub(crate) struct Certificate<'a>(X509Certificate<'a>);

impl<'a> Certificate<'a> {
    /// Parses a DER certificate; trailing data is an error.
    pub(crate) fn parse(der: &'a [u8]) -> Result<Self, PkiError> {
        match X509Certificate::from_der(der) {
            Ok(([], certificate)) => Ok(Self(certificate)),
            Ok(_) => Err(PkiError::Malformed("data after the certificate")),
            Err(_) => Err(PkiError::Malformed("certificate does not parse")),
        }
    }

    /// The subject key.
    pub(crate) fn public_key(&self) -> Result<PublicKey, PkiError> {
        public_key_of(self.0.public_key())
    }

    /// The names an IKE identity can match ([`CertificateNames`]).
    pub(crate) fn names(&self) -> Result<CertificateNames, PkiError> {
        let subject = distinguished_name(self.0.subject())?;
        let mut alt_names = Vec::new();
        let san = self
            .0
            .subject_alternative_name()
            .map_err(|_| PkiError::Malformed("subjectAltName"))?;
        for name in san.iter().flat_map(|san| &san.value.general_names) {
            match name {
                GeneralName::DNSName(dns) => alt_names.push(AltName::Dns((*dns).to_owned())),
                GeneralName::RFC822Name(email) => {
                    alt_names.push(AltName::Email((*email).to_owned()));
                }
                GeneralName::IPAddress(octets) => {
                    if let Some(address) = ip_address(octets) {
                        alt_names.push(AltName::Ip(address));
                    }
                }
                GeneralName::DirectoryName(name) => {
                    alt_names.push(AltName::DirectoryName(distinguished_name(name)?));
                }
                _ => {}
            }
        }
        let spki = self.0.public_key();
        let mut key_ids = vec![sha1(spki.raw), sha1(&spki.subject_public_key.data)];
        for extension in self.0.extensions() {
            if let ParsedExtension::SubjectKeyIdentifier(id) = extension.parsed_extension() {
                key_ids.push(id.0.to_vec());
            }
        }
        Ok(CertificateNames {
            subject,
            alt_names,
            key_ids,
        })
    }

    /// RFC 4945 §5.1.3.2: if the keyUsage extension is present, an end entity's must allow
    /// digitalSignature or nonRepudiation for IKE signatures.
    pub(crate) fn check_end_entity_key_usage(&self) -> Result<(), PkiError> {
        let usage = self
            .0
            .key_usage()
            .map_err(|_| PkiError::Malformed("keyUsage"))?;
        match usage {
            Some(usage) if !usage.value.digital_signature() && !usage.value.non_repudiation() => {
                Err(PkiError::BadKeyUsage(
                    "keyUsage allows neither digitalSignature nor nonRepudiation",
                ))
            }
            _ => Ok(()),
        }
    }

    /// RFC 5280 §4.2.1.3: a CA's keyUsage, if present, must allow keyCertSign.
    pub(crate) fn check_ca_key_usage(&self) -> Result<(), PkiError> {
        let usage = self
            .0
            .key_usage()
            .map_err(|_| PkiError::Malformed("keyUsage"))?;
        match usage {
            Some(usage) if !usage.value.key_cert_sign() => Err(PkiError::BadKeyUsage(
                "CA certificate keyUsage does not allow keyCertSign",
            )),
            _ => Ok(()),
        }
    }

    /// Whether basicConstraints marks it as a CA (absent counts as "not known to be an end
    /// entity": version 1 roots have no extensions).
    pub(crate) fn may_be_ca(&self) -> Result<bool, PkiError> {
        let constraints = self
            .0
            .basic_constraints()
            .map_err(|_| PkiError::Malformed("basicConstraints"))?;
        Ok(constraints.is_none_or(|constraints| constraints.value.ca))
    }

    /// The DER SubjectPublicKeyInfo.
    pub(crate) fn spki(&self) -> &[u8] {
        self.0.public_key().raw
    }

    /// The subject, for messages.
    pub(crate) fn subject(&self) -> Result<DistinguishedName, PkiError> {
        distinguished_name(self.0.subject())
    }
}

/// Decodes a DER distinguished name (the data of an ID_DER_ASN1_DN).
pub(crate) fn parse_distinguished_name(der: &[u8]) -> Result<DistinguishedName, PkiError> {
    match X509Name::from_der(der) {
        Ok(([], name)) => distinguished_name(&name),
        _ => Err(PkiError::Malformed("distinguished name does not parse")),
    }
}

/// The type and raw key bits of a DER SubjectPublicKeyInfo.
pub(crate) fn public_key_from_spki(spki: &[u8]) -> Result<(KeyType, Vec<u8>), PkiError> {
    match SubjectPublicKeyInfo::from_der(spki) {
        Ok(([], info)) => Ok((key_type(&info)?, info.subject_public_key.data.to_vec())),
        _ => Err(PkiError::Malformed("SubjectPublicKeyInfo does not parse")),
    }
}

/// SHA-1 (CERTREQ hashes and key identifiers, RFC 7296 §3.7).
pub(crate) fn sha1(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .to_vec()
}

fn public_key_of(spki: &SubjectPublicKeyInfo<'_>) -> Result<PublicKey, PkiError> {
    Ok(PublicKey::new(key_type(spki)?, spki.raw.to_vec()))
}

/// The key type of a SubjectPublicKeyInfo (RFC 3279 §2.3.1, RFC 5480 §2, RFC 8410 §3).
fn key_type(spki: &SubjectPublicKeyInfo<'_>) -> Result<KeyType, PkiError> {
    let algorithm = &spki.algorithm.algorithm;
    if *algorithm == oid_registry::OID_PKCS1_RSAENCRYPTION {
        let Ok(public_key::PublicKey::RSA(rsa)) = spki.parsed() else {
            return Err(PkiError::Malformed("RSA public key"));
        };
        let bits = u32::try_from(rsa.key_size()).map_err(|_| PkiError::UnsupportedAlgorithm)?;
        return Ok(KeyType::Rsa { bits });
    }
    if *algorithm == oid_registry::OID_SIG_ED25519 {
        return Ok(KeyType::Ed25519);
    }
    if *algorithm == oid_registry::OID_KEY_TYPE_EC_PUBLIC_KEY {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|parameters| parameters.as_oid().ok())
            .ok_or(PkiError::Malformed("EC public key without a named curve"))?;
        return if curve == oid_registry::OID_EC_P256 {
            Ok(KeyType::EcdsaP256)
        } else if curve == oid_registry::OID_NIST_EC_P384 {
            Ok(KeyType::EcdsaP384)
        } else if curve == oid_registry::OID_NIST_EC_P521 {
            Ok(KeyType::EcdsaP521)
        } else {
            Err(PkiError::UnsupportedAlgorithm)
        };
    }
    Err(PkiError::UnsupportedAlgorithm)
}

fn distinguished_name(name: &X509Name<'_>) -> Result<DistinguishedName, PkiError> {
    let rdns = name
        .iter()
        .map(|rdn| {
            rdn.iter()
                .map(|attribute| {
                    let oid = attribute.attr_type().to_id_string();
                    let value = attribute.attr_value();
                    let tag = value.tag().0;
                    let value = match directory_string(tag, value.data) {
                        Some(text) => AttributeValue::Text(text),
                        None => AttributeValue::Other {
                            tag,
                            bytes: value.data.to_vec(),
                        },
                    };
                    Ok(NameAttribute { oid, value })
                })
                .collect::<Result<Vec<_>, PkiError>>()
        })
        .collect::<Result<Vec<_>, PkiError>>()?;
    Ok(DistinguishedName::new(name.as_raw().to_vec(), rdns))
}

/// The text of a directory string ([RFC 5280 §4.1.2.4]; X.690 tags): UTF8String (12),
/// NumericString (18), PrintableString (19), TeletexString (20, read as Latin-1 like
/// OpenSSL), IA5String (22), VisibleString (26), UniversalString (28, UCS-4),
/// BMPString (30, UCS-2).
///
/// [RFC 5280 §4.1.2.4]: https://www.rfc-editor.org/rfc/rfc5280#section-4.1.2.4
fn directory_string(tag: u32, data: &[u8]) -> Option<String> {
    match tag {
        12 | 18 | 19 | 22 | 26 => std::str::from_utf8(data).ok().map(str::to_owned),
        20 => Some(data.iter().copied().map(char::from).collect()),
        28 => {
            let (units, rest) = data.as_chunks::<4>();
            if !rest.is_empty() {
                return None;
            }
            units
                .iter()
                .map(|unit| char::from_u32(u32::from_be_bytes(*unit)))
                .collect()
        }
        30 => {
            let (units, rest) = data.as_chunks::<2>();
            if !rest.is_empty() {
                return None;
            }
            char::decode_utf16(units.iter().map(|unit| u16::from_be_bytes(*unit)))
                .collect::<Result<String, _>>()
                .ok()
        }
        _ => None,
    }
}

/// An iPAddress entry: 4 or 16 octets (longer ones are name-constraint ranges).
fn ip_address(octets: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(octets) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    <[u8; 16]>::try_from(octets)
        .ok()
        .map(|v6| IpAddr::V6(Ipv6Addr::from(v6)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directory_strings_decode() {
        assert_eq!(directory_string(19, b"CH").as_deref(), Some("CH"));
        assert_eq!(
            directory_string(12, "Zürich".as_bytes()).as_deref(),
            Some("Zürich")
        );
        assert_eq!(directory_string(20, &[0x5a, 0xfc]).as_deref(), Some("Zü"));
        assert_eq!(
            directory_string(30, &[0x00, 0x5a, 0x00, 0xfc]).as_deref(),
            Some("Zü")
        );
        assert_eq!(
            directory_string(28, &[0, 0, 0, 0x5a, 0, 0, 0, 0xfc]).as_deref(),
            Some("Zü")
        );
        assert_eq!(directory_string(30, &[0x00]), None);
        assert_eq!(directory_string(30, &[0xd8, 0x00]), None);
        assert_eq!(directory_string(12, &[0xff]), None);
        assert_eq!(directory_string(4, b"octets"), None);
    }

    #[test]
    fn ip_addresses_decode() {
        assert_eq!(
            ip_address(&[192, 0, 2, 1]),
            Some("192.0.2.1".parse().unwrap())
        );
        assert_eq!(ip_address(&[0; 16]), Some("::".parse().unwrap()));
        assert_eq!(ip_address(&[192, 0, 2, 0, 255, 255, 255, 0]), None);
    }

    #[test]
    fn garbage_does_not_parse() {
        for junk in [&[][..], &[0x30], &[0x30, 0x80], &[0x30, 0x03, 0x02, 0x01]] {
            assert!(Certificate::parse(junk).is_err());
            assert!(parse_distinguished_name(junk).is_err());
            assert!(public_key_from_spki(junk).is_err());
        }
        // Trailing data after a valid (empty) name.
        assert!(parse_distinguished_name(&[0x30, 0x00, 0x00]).is_err());
        assert!(parse_distinguished_name(&[0x30, 0x00]).unwrap().is_empty());
    }
}
