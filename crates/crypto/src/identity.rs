//! IKE identities ([RFC 7296 §3.5]), the names a certificate holds, and the rules that decide
//! whether a certificate names an identity ([RFC 4945 §3.1]).
//!
//! A peer's ID payload must be backed by its end-entity certificate:
//!
//! | ID type | certificate field |
//! |---|---|
//! | ID_DER_ASN1_DN | the subject, or a directoryName subjectAltName |
//! | ID_FQDN | a dNSName subjectAltName (case-insensitive, no wildcards) |
//! | ID_RFC822_ADDR | an rfc822Name subjectAltName (case-insensitive) |
//! | ID_IPV4_ADDR, ID_IPV6_ADDR | an iPAddress subjectAltName |
//! | ID_KEY_ID | the subjectKeyIdentifier, or the SHA-1 of the SubjectPublicKeyInfo or of the key |
//!
//! Accepting the subjectAltName for the DN-less ID types and a directoryName for a DN is
//! strongSwan's behaviour too, so a gateway configured with `remote_id = "moon.example.org"`
//! accepts the same certificates strongSwan does. The common name is never consulted for an
//! FQDN (RFC 6125 §6.4.4 deprecates that). Wildcard SANs ("*.example.org") never match:
//! RFC 4945 §3.1.2 leaves their meaning undefined for IKE.
//!
//! Distinguished names are compared with the rules of [RFC 5280 §7.1]: attribute by
//! attribute, text values after trimming, collapsing inner whitespace and case folding.
//! Decoding DER into a [`DistinguishedName`] is the provider's job (it owns an X.509
//! parser); the comparison is here, once for every provider.
//!
//! [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
//! [RFC 4945 §3.1]: https://www.rfc-editor.org/rfc/rfc4945#section-3.1
//! [RFC 5280 §7.1]: https://www.rfc-editor.org/rfc/rfc5280#section-7.1

use std::fmt;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;

use hitless_wire::ike::IdPayload;
use hitless_wire::registry::IdType;

use crate::pki::PkiError;

/// An identity of an ID payload ([RFC 7296 §3.5]) that certificates can back.
///
/// [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum IkeIdentity {
    /// ID_IPV4_ADDR.
    Ipv4(Ipv4Addr),
    /// ID_IPV6_ADDR.
    Ipv6(Ipv6Addr),
    /// ID_FQDN.
    Fqdn(String),
    /// ID_RFC822_ADDR.
    Rfc822(String),
    /// ID_DER_ASN1_DN.
    Dn(DistinguishedName),
    /// ID_KEY_ID (opaque).
    KeyId(Vec<u8>),
}

/// An X.501 distinguished name: its DER, and its relative distinguished names in order.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct DistinguishedName {
    der: Vec<u8>,
    rdns: Vec<Vec<NameAttribute>>,
}

/// One attribute of a relative distinguished name.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct NameAttribute {
    /// The attribute type as a dotted OID ("2.5.4.3" for commonName).
    pub oid: String,
    /// The value.
    pub value: AttributeValue,
}

/// The value of a name attribute.
#[derive(Clone, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum AttributeValue {
    /// A directory string (PrintableString, UTF8String, IA5String, BMPString, ...), decoded.
    Text(String),
    /// Any other value: its ASN.1 tag number and content octets, compared exactly.
    Other {
        /// The tag number.
        tag: u32,
        /// The content octets.
        bytes: Vec<u8>,
    },
}

/// A subjectAltName entry ([RFC 5280 §4.2.1.6]) of a kind an IKE identity can match.
///
/// [RFC 5280 §4.2.1.6]: https://www.rfc-editor.org/rfc/rfc5280#section-4.2.1.6
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum AltName {
    /// dNSName.
    Dns(String),
    /// rfc822Name.
    Email(String),
    /// iPAddress (an address, not a name-constraint range).
    Ip(IpAddr),
    /// directoryName.
    DirectoryName(DistinguishedName),
}

/// The names an end-entity certificate holds, for matching IKE identities.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CertificateNames {
    /// The subject.
    pub subject: DistinguishedName,
    /// The subjectAltName entries of the kinds in [`AltName`]; others are left out.
    pub alt_names: Vec<AltName>,
    /// Key identifiers an ID_KEY_ID may name: the subjectKeyIdentifier, the SHA-1 of the DER
    /// SubjectPublicKeyInfo and the SHA-1 of the subjectPublicKey bits.
    pub key_ids: Vec<Vec<u8>>,
}

impl IkeIdentity {
    /// Parses the data of an ID payload. `parse_dn` decodes the DER of an ID_DER_ASN1_DN (the
    /// provider's X.509 parser).
    ///
    /// # Errors
    ///
    /// [`PkiError::Malformed`] for an address of the wrong length or a name that is empty,
    /// not UTF-8 or holds control characters ([RFC 7296 §3.5] forbids terminators), the error
    /// of `parse_dn` for a bad DN, [`PkiError::UnsupportedIdentity`] for other ID types.
    ///
    /// [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
    pub fn from_payload(
        id_type: IdType,
        data: &[u8],
        parse_dn: impl FnOnce(&[u8]) -> Result<DistinguishedName, PkiError>,
    ) -> Result<Self, PkiError> {
        match id_type {
            IdType::IPV4_ADDR => <[u8; 4]>::try_from(data)
                .map(|octets| Self::Ipv4(Ipv4Addr::from(octets)))
                .map_err(|_| PkiError::Malformed("ID_IPV4_ADDR is not 4 octets")),
            IdType::IPV6_ADDR => <[u8; 16]>::try_from(data)
                .map(|octets| Self::Ipv6(Ipv6Addr::from(octets)))
                .map_err(|_| PkiError::Malformed("ID_IPV6_ADDR is not 16 octets")),
            IdType::FQDN => name_text(data).map(Self::Fqdn),
            IdType::RFC822_ADDR => name_text(data).map(Self::Rfc822),
            IdType::DER_ASN1_DN => parse_dn(data).map(Self::Dn),
            IdType::KEY_ID if !data.is_empty() => Ok(Self::KeyId(data.to_vec())),
            IdType::KEY_ID => Err(PkiError::Malformed("empty ID_KEY_ID")),
            other => Err(PkiError::UnsupportedIdentity(other)),
        }
    }

    /// Its ID type.
    pub fn id_type(&self) -> IdType {
        match self {
            Self::Ipv4(_) => IdType::IPV4_ADDR,
            Self::Ipv6(_) => IdType::IPV6_ADDR,
            Self::Fqdn(_) => IdType::FQDN,
            Self::Rfc822(_) => IdType::RFC822_ADDR,
            Self::Dn(_) => IdType::DER_ASN1_DN,
            Self::KeyId(_) => IdType::KEY_ID,
        }
    }

    /// The ID payload that carries it.
    pub fn to_payload(&self) -> IdPayload {
        let data = match self {
            Self::Ipv4(address) => address.octets().to_vec(),
            Self::Ipv6(address) => address.octets().to_vec(),
            Self::Fqdn(name) | Self::Rfc822(name) => name.as_bytes().to_vec(),
            Self::Dn(dn) => dn.der().to_vec(),
            Self::KeyId(id) => id.clone(),
        };
        IdPayload {
            id_type: self.id_type(),
            data,
        }
    }
}

impl fmt::Display for IkeIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4(address) => address.fmt(f),
            Self::Ipv6(address) => address.fmt(f),
            // Names come from the network: escape anything that could forge a log line.
            Self::Fqdn(name) | Self::Rfc822(name) => write!(f, "{}", name.escape_debug()),
            Self::Dn(dn) => dn.fmt(f),
            Self::KeyId(id) => {
                f.write_str("#")?;
                id.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
        }
    }
}

impl DistinguishedName {
    /// A name from its DER and its decoded RDNs (for providers' X.509 parsers).
    pub fn new(der: Vec<u8>, rdns: Vec<Vec<NameAttribute>>) -> Self {
        Self { der, rdns }
    }

    /// The DER encoding (the data of an ID_DER_ASN1_DN).
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The relative distinguished names, most significant first.
    pub fn rdns(&self) -> &[Vec<NameAttribute>] {
        &self.rdns
    }

    /// Whether the name has no RDN.
    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// Whether both name the same entity ([RFC 5280 §7.1]): the same RDNs in the same order,
    /// each with the same set of attributes, text compared after trimming, collapsing inner
    /// whitespace and case folding. An empty name matches nothing.
    ///
    /// [RFC 5280 §7.1]: https://www.rfc-editor.org/rfc/rfc5280#section-7.1
    pub fn matches(&self, other: &Self) -> bool {
        if self.is_empty() || self.rdns.len() != other.rdns.len() {
            return false;
        }
        self.rdns
            .iter()
            .zip(&other.rdns)
            .all(|(ours, theirs)| normalized_rdn(ours) == normalized_rdn(theirs))
    }
}

impl fmt::Display for DistinguishedName {
    /// strongSwan's notation: `C=CH, O=Example, CN=moon.example.org`, attributes of one RDN
    /// joined with `+`, special characters escaped as in RFC 4514 §2.4.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, rdn) in self.rdns.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            for (j, attribute) in rdn.iter().enumerate() {
                if j > 0 {
                    f.write_str("+")?;
                }
                f.write_str(short_name(&attribute.oid).unwrap_or(&attribute.oid))?;
                f.write_str("=")?;
                match &attribute.value {
                    AttributeValue::Text(text) => write_escaped(f, text)?,
                    AttributeValue::Other { bytes, .. } => {
                        f.write_str("#")?;
                        bytes.iter().try_for_each(|byte| write!(f, "{byte:02x}"))?;
                    }
                }
            }
        }
        Ok(())
    }
}

impl CertificateNames {
    /// Whether the certificate backs `identity` (the table in the module documentation).
    pub fn matches(&self, identity: &IkeIdentity) -> bool {
        match identity {
            IkeIdentity::Dn(dn) => {
                self.subject.matches(dn)
                    || self.alt_names.iter().any(|name| match name {
                        AltName::DirectoryName(alt) => alt.matches(dn),
                        _ => false,
                    })
            }
            IkeIdentity::Fqdn(fqdn) => self.alt_names.iter().any(|name| match name {
                AltName::Dns(dns) => dns_names_equal(dns, fqdn),
                _ => false,
            }),
            IkeIdentity::Rfc822(address) => self.alt_names.iter().any(|name| match name {
                AltName::Email(email) => !email.is_empty() && email.eq_ignore_ascii_case(address),
                _ => false,
            }),
            IkeIdentity::Ipv4(address) => {
                self.alt_names.contains(&AltName::Ip(IpAddr::V4(*address)))
            }
            IkeIdentity::Ipv6(address) => {
                self.alt_names.contains(&AltName::Ip(IpAddr::V6(*address)))
            }
            IkeIdentity::KeyId(id) => self.key_ids.iter().any(|key_id| key_id == id),
        }
    }
}

/// The text of an FQDN or RFC 822 ID.
fn name_text(data: &[u8]) -> Result<String, PkiError> {
    let text = std::str::from_utf8(data).map_err(|_| PkiError::Malformed("ID is not UTF-8"))?;
    if text.is_empty() {
        return Err(PkiError::Malformed("empty ID"));
    }
    if text.chars().any(char::is_control) {
        return Err(PkiError::Malformed("ID holds control characters"));
    }
    Ok(text.to_owned())
}

/// DNS names compare case-insensitively, ignoring one trailing dot; wildcards are literal.
fn dns_names_equal(certificate: &str, identity: &str) -> bool {
    let strip = |name: &str| name.strip_suffix('.').unwrap_or(name).to_owned();
    let (certificate, identity) = (strip(certificate), strip(identity));
    !certificate.is_empty()
        && !certificate.contains('*')
        && certificate.eq_ignore_ascii_case(&identity)
}

/// An RDN's attributes in a canonical form, sorted (an RDN is a SET).
fn normalized_rdn(rdn: &[NameAttribute]) -> Vec<(&str, AttributeValue)> {
    let mut attributes: Vec<_> = rdn
        .iter()
        .map(|attribute| {
            let value = match &attribute.value {
                AttributeValue::Text(text) => AttributeValue::Text(normalized_text(text)),
                other => other.clone(),
            };
            (attribute.oid.as_str(), value)
        })
        .collect();
    attributes.sort();
    attributes
}

/// RFC 5280 §7.1 (after RFC 4518): trim, collapse inner whitespace to one space, case fold.
fn normalized_text(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The usual short name of an attribute type.
fn short_name(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.4" => "SN",
        "2.5.4.5" => "serialNumber",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.9" => "street",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.12" => "T",
        "2.5.4.42" => "G",
        "1.2.840.113549.1.9.1" => "E",
        "0.9.2342.19200300.100.1.1" => "UID",
        "0.9.2342.19200300.100.1.25" => "DC",
        _ => return None,
    })
}

/// Writes an attribute value with RFC 4514 §2.4 escapes, and control characters escaped.
fn write_escaped(f: &mut fmt::Formatter<'_>, text: &str) -> fmt::Result {
    let last = text.chars().count().saturating_sub(1);
    for (i, c) in text.chars().enumerate() {
        let special = matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=')
            || (i == 0 && matches!(c, '#' | ' '))
            || (i == last && c == ' ');
        if special {
            write!(f, "\\{c}")?;
        } else if c.is_control() {
            write!(f, "{}", c.escape_unicode())?;
        } else {
            write!(f, "{c}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(oid: &str, value: &str) -> NameAttribute {
        NameAttribute {
            oid: oid.to_owned(),
            value: AttributeValue::Text(value.to_owned()),
        }
    }

    fn dn(rdns: &[&[(&str, &str)]]) -> DistinguishedName {
        DistinguishedName::new(
            vec![0x30, 0x00],
            rdns.iter()
                .map(|rdn| rdn.iter().map(|(oid, value)| text(oid, value)).collect())
                .collect(),
        )
    }

    fn moon() -> DistinguishedName {
        dn(&[
            &[("2.5.4.6", "CH")],
            &[("2.5.4.10", "strongSwan")],
            &[("2.5.4.3", "moon.strongswan.org")],
        ])
    }

    fn names() -> CertificateNames {
        CertificateNames {
            subject: moon(),
            alt_names: vec![
                AltName::Dns("moon.strongswan.org".to_owned()),
                AltName::Dns("*.wild.example".to_owned()),
                AltName::Email("Admin@StrongSwan.org".to_owned()),
                AltName::Ip("192.0.2.1".parse().unwrap()),
                AltName::Ip("2001:db8::1".parse().unwrap()),
                AltName::DirectoryName(dn(&[&[("2.5.4.3", "alias")]])),
            ],
            key_ids: vec![vec![0xab; 20]],
        }
    }

    #[test]
    fn dn_matches_subject_with_rfc5280_normalisation() {
        let names = names();
        assert!(names.matches(&IkeIdentity::Dn(moon())));
        let spaced = dn(&[
            &[("2.5.4.6", "ch")],
            &[("2.5.4.10", "  STRONGSWAN ")],
            &[("2.5.4.3", "Moon.StrongSwan.org")],
        ]);
        assert!(names.matches(&IkeIdentity::Dn(spaced)));
        // A directoryName SAN also matches.
        assert!(names.matches(&IkeIdentity::Dn(dn(&[&[("2.5.4.3", "ALIAS")]]))));
    }

    #[test]
    fn dn_mismatches() {
        let names = names();
        // Another CN, a missing RDN, another order, an extra RDN, the empty name.
        let other_cn = dn(&[
            &[("2.5.4.6", "CH")],
            &[("2.5.4.10", "strongSwan")],
            &[("2.5.4.3", "sun.strongswan.org")],
        ]);
        let missing = dn(&[&[("2.5.4.6", "CH")], &[("2.5.4.3", "moon.strongswan.org")]]);
        let reordered = dn(&[
            &[("2.5.4.10", "strongSwan")],
            &[("2.5.4.6", "CH")],
            &[("2.5.4.3", "moon.strongswan.org")],
        ]);
        let inner_space = dn(&[
            &[("2.5.4.6", "CH")],
            &[("2.5.4.10", "strong Swan")],
            &[("2.5.4.3", "moon.strongswan.org")],
        ]);
        for id in [other_cn, missing, reordered, inner_space, dn(&[])] {
            assert!(!names.matches(&IkeIdentity::Dn(id.clone())), "{id}");
        }
        // A certificate with an empty subject matches no DN, not even the empty one.
        let empty = CertificateNames {
            subject: dn(&[]),
            alt_names: Vec::new(),
            key_ids: Vec::new(),
        };
        assert!(!empty.matches(&IkeIdentity::Dn(dn(&[]))));
    }

    #[test]
    fn multi_valued_rdns_compare_as_sets() {
        let a = dn(&[&[("2.5.4.3", "x"), ("2.5.4.11", "y")]]);
        let b = dn(&[&[("2.5.4.11", "Y"), ("2.5.4.3", "X")]]);
        assert!(a.matches(&b));
        assert!(!a.matches(&dn(&[&[("2.5.4.3", "x")]])));
    }

    #[test]
    fn fqdn_matches_dns_san_only() {
        let names = names();
        assert!(names.matches(&IkeIdentity::Fqdn("MOON.strongswan.org".to_owned())));
        assert!(names.matches(&IkeIdentity::Fqdn("moon.strongswan.org.".to_owned())));
        assert!(!names.matches(&IkeIdentity::Fqdn("sun.strongswan.org".to_owned())));
        // No wildcard expansion, and a literal "*" in the ID does not match it either.
        assert!(!names.matches(&IkeIdentity::Fqdn("a.wild.example".to_owned())));
        assert!(!names.matches(&IkeIdentity::Fqdn("*.wild.example".to_owned())));
        // The subject's CN is not a DNS name.
        let cn_only = CertificateNames {
            alt_names: Vec::new(),
            ..names
        };
        assert!(!cn_only.matches(&IkeIdentity::Fqdn("moon.strongswan.org".to_owned())));
    }

    #[test]
    fn rfc822_matches_email_san() {
        let names = names();
        assert!(names.matches(&IkeIdentity::Rfc822("admin@strongswan.org".to_owned())));
        assert!(!names.matches(&IkeIdentity::Rfc822("root@strongswan.org".to_owned())));
        // An FQDN ID does not match an email SAN and vice versa.
        assert!(!names.matches(&IkeIdentity::Fqdn("admin@strongswan.org".to_owned())));
        assert!(!names.matches(&IkeIdentity::Rfc822("moon.strongswan.org".to_owned())));
    }

    #[test]
    fn ip_addresses_match_ip_sans() {
        let names = names();
        assert!(names.matches(&IkeIdentity::Ipv4("192.0.2.1".parse().unwrap())));
        assert!(!names.matches(&IkeIdentity::Ipv4("192.0.2.2".parse().unwrap())));
        assert!(names.matches(&IkeIdentity::Ipv6("2001:db8::1".parse().unwrap())));
        assert!(!names.matches(&IkeIdentity::Ipv6("2001:db8::2".parse().unwrap())));
        // The IPv4-mapped form is a different identity.
        assert!(!names.matches(&IkeIdentity::Ipv6("::ffff:192.0.2.1".parse().unwrap())));
    }

    #[test]
    fn key_id_matches_key_identifiers() {
        let names = names();
        assert!(names.matches(&IkeIdentity::KeyId(vec![0xab; 20])));
        assert!(!names.matches(&IkeIdentity::KeyId(vec![0xab; 19])));
    }

    #[test]
    fn payloads_parse_and_round_trip() {
        let no_dn = |_: &[u8]| -> Result<DistinguishedName, PkiError> { unreachable!() };
        let cases = [
            IkeIdentity::Ipv4("192.0.2.1".parse().unwrap()),
            IkeIdentity::Ipv6("2001:db8::1".parse().unwrap()),
            IkeIdentity::Fqdn("moon.strongswan.org".to_owned()),
            IkeIdentity::Rfc822("a@b.example".to_owned()),
            IkeIdentity::KeyId(vec![1, 2, 3]),
        ];
        for id in cases {
            let payload = id.to_payload();
            assert_eq!(
                IkeIdentity::from_payload(payload.id_type, &payload.data, no_dn).unwrap(),
                id
            );
        }
        let parsed = IkeIdentity::from_payload(IdType::DER_ASN1_DN, &[0x30, 0x00], |der| {
            Ok(DistinguishedName::new(der.to_vec(), Vec::new()))
        })
        .unwrap();
        assert_eq!(parsed.to_payload().data, [0x30, 0x00]);
    }

    #[test]
    fn bad_payloads_are_rejected() {
        let no_dn = |_: &[u8]| -> Result<DistinguishedName, PkiError> {
            Err(PkiError::Malformed("bad DN"))
        };
        let bad = [
            (IdType::IPV4_ADDR, &[1, 2, 3][..]),
            (IdType::IPV6_ADDR, &[0; 4][..]),
            (IdType::FQDN, &[][..]),
            (IdType::FQDN, &[0xff, 0xfe][..]),
            (IdType::FQDN, b"moon\0.example"),
            (IdType::RFC822_ADDR, b"a@b\r\nforged log line"),
            (IdType::KEY_ID, &[][..]),
            (IdType::DER_ASN1_DN, &[0x30][..]),
        ];
        for (id_type, data) in bad {
            assert!(
                matches!(
                    IkeIdentity::from_payload(id_type, data, no_dn),
                    Err(PkiError::Malformed(_))
                ),
                "{id_type} {data:?}"
            );
        }
        assert_eq!(
            IkeIdentity::from_payload(IdType::DER_ASN1_GN, &[1], no_dn),
            Err(PkiError::UnsupportedIdentity(IdType::DER_ASN1_GN))
        );
    }

    #[test]
    fn display_is_readable_and_escaped() {
        assert_eq!(
            moon().to_string(),
            "C=CH, O=strongSwan, CN=moon.strongswan.org"
        );
        let tricky = dn(&[&[("2.5.4.3", "a,b+c"), ("1.2.3.4", "#x")]]);
        assert_eq!(tricky.to_string(), "CN=a\\,b\\+c+1.2.3.4=\\#x");
        let control = dn(&[&[("2.5.4.3", "x\ny")]]);
        assert_eq!(control.to_string(), "CN=x\\u{a}y");
        assert_eq!(IkeIdentity::KeyId(vec![0, 0xff]).to_string(), "#00ff");
        assert_eq!(IkeIdentity::Fqdn("a\nb".to_owned()).to_string(), "a\\nb");
    }
}
