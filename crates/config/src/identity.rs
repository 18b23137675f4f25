//! IKE identities as strongSwan writes them ([RFC 7296 §3.5]).
//!
//! | written as                                | type          |
//! | ----------------------------------------- | ------------- |
//! | `192.0.2.1`, `2001:db8::1`                | ID_IPV4_ADDR / ID_IPV6_ADDR |
//! | `gw.example.org`, `@gw.example.org`       | ID_FQDN (`@` forces FQDN) |
//! | `alice@example.org`                       | ID_RFC822_ADDR |
//! | `@#0123abcd`                              | ID_KEY_ID (hex) |
//! | `C=CH, O=Example, CN=gw.example.org`      | ID_DER_ASN1_DN |
//! | `fqdn:…`, `email:…`, `ipv4:…`, `ipv6:…`, `keyid:…`, `dn:…` | forced type |
//! | `%any`                                    | any identity (remote only) |
//!
//! A remote identity may contain `*` as a wildcard (`*@example.org`, `CN=*`), which the engine
//! matches against the identity the peer authenticates as.
//!
//! [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5

use std::fmt;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::str::FromStr;

use hitless_wire::ike::IdPayload;
use hitless_wire::registry::IdType;
use serde::Deserialize;
use serde::Deserializer;

/// An IKE identity.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub enum Identity {
    /// Any identity the peer proves (remote only): `%any`.
    Any,
    /// ID_IPV4_ADDR.
    Ipv4(Ipv4Addr),
    /// ID_IPV6_ADDR.
    Ipv6(Ipv6Addr),
    /// ID_FQDN, without a leading `@`.
    Fqdn(String),
    /// ID_RFC822_ADDR.
    Email(String),
    /// ID_KEY_ID: opaque bytes.
    KeyId(Vec<u8>),
    /// ID_DER_ASN1_DN.
    Dn(DistinguishedName),
}

/// An X.500 distinguished name: relative distinguished names in order, one attribute each.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub struct DistinguishedName {
    attributes: Vec<(Attribute, String)>,
}

/// A DN attribute type.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Attribute {
    /// The short name used when writing the DN (`CN`, `O`, …).
    pub name: &'static str,
    oid: &'static [u32],
    kind: StringKind,
}

#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
enum StringKind {
    Printable,
    Ia5,
    Utf8,
}

impl Identity {
    /// Whether this identity contains a wildcard (`%any` or `*`) and so can only describe a
    /// peer, not ourselves.
    pub fn has_wildcard(&self) -> bool {
        match self {
            Self::Any => true,
            Self::Fqdn(name) | Self::Email(name) => name.contains('*'),
            Self::Dn(dn) => dn.attributes.iter().any(|(_, value)| value.contains('*')),
            Self::Ipv4(_) | Self::Ipv6(_) | Self::KeyId(_) => false,
        }
    }

    /// The identity as an ID payload ([RFC 7296 §3.5]); `None` for [`Identity::Any`].
    ///
    /// [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
    pub fn to_id_payload(&self) -> Option<IdPayload> {
        let (id_type, data) = match self {
            Self::Any => return None,
            Self::Ipv4(address) => (IdType::IPV4_ADDR, address.octets().to_vec()),
            Self::Ipv6(address) => (IdType::IPV6_ADDR, address.octets().to_vec()),
            Self::Fqdn(name) => (IdType::FQDN, name.as_bytes().to_vec()),
            Self::Email(address) => (IdType::RFC822_ADDR, address.as_bytes().to_vec()),
            Self::KeyId(bytes) => (IdType::KEY_ID, bytes.clone()),
            Self::Dn(dn) => (IdType::DER_ASN1_DN, dn.to_der()),
        };
        Some(IdPayload { id_type, data })
    }
}

impl DistinguishedName {
    /// The attributes in order, with their values.
    pub fn attributes(&self) -> impl Iterator<Item = (&Attribute, &str)> {
        self.attributes
            .iter()
            .map(|(attribute, value)| (attribute, value.as_str()))
    }

    /// The DER encoding of the Name (X.501 / RFC 5280 §4.1.2.4), as it appears in an
    /// ID_DER_ASN1_DN payload.
    pub fn to_der(&self) -> Vec<u8> {
        let mut rdns = Vec::new();
        for (attribute, value) in &self.attributes {
            let tag = match attribute.kind {
                StringKind::Printable if value.chars().all(is_printable_string_char) => 0x13,
                StringKind::Ia5 if value.is_ascii() => 0x16,
                _ => 0x0c,
            };
            let mut atv = der(0x06, &encode_oid(attribute.oid));
            atv.extend(der(tag, value.as_bytes()));
            rdns.extend(der(0x31, &der(0x30, &atv)));
        }
        der(0x30, &rdns)
    }
}

impl FromStr for Identity {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err(format!("empty identity{EXPECTED}"));
        }
        if text == "%any" {
            return Ok(Self::Any);
        }
        if let Some((prefix, rest)) = text.split_once(':') {
            let forced = match prefix {
                "ipv4" => Some(
                    rest.parse()
                        .map(Self::Ipv4)
                        .map_err(|_| format!("`{rest}` is not an IPv4 address{EXPECTED}")),
                ),
                "ipv6" => Some(
                    rest.parse()
                        .map(Self::Ipv6)
                        .map_err(|_| format!("`{rest}` is not an IPv6 address{EXPECTED}")),
                ),
                "fqdn" => Some(fqdn(rest)),
                "email" | "rfc822" | "userfqdn" => Some(email(rest)),
                "keyid" => Some(key_id(rest.strip_prefix('#').unwrap_or(rest))),
                "dn" | "asn1dn" => Some(rest.parse().map(Self::Dn)),
                _ => None,
            };
            if let Some(forced) = forced {
                return forced;
            }
        }
        if let Ok(address) = text.parse::<IpAddr>() {
            return Ok(match address {
                IpAddr::V4(v4) => Self::Ipv4(v4),
                IpAddr::V6(v6) => Self::Ipv6(v6),
            });
        }
        if let Some(hex) = text.strip_prefix("@#") {
            return key_id(hex);
        }
        if let Some(name) = text.strip_prefix('@') {
            return fqdn(name);
        }
        if text.contains('=') {
            return text.parse().map(Self::Dn);
        }
        if text.contains('@') {
            return email(text);
        }
        fqdn(text)
    }
}

impl FromStr for DistinguishedName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const DN_EXPECTED: &str =
            ", expected a DN such as \"C=CH, O=Example Ltd, CN=gw.example.org\"";
        let text = text.trim();
        // OpenSSL's one-line form "/C=CH/O=Example/CN=gw" is accepted too.
        let (body, separator) = match text.strip_prefix('/') {
            Some(body) => (body, '/'),
            None => (text, ','),
        };
        let mut attributes = Vec::new();
        for part in split_unescaped(body, separator)? {
            let part = part.trim();
            if part.is_empty() {
                return Err(format!("empty component in DN `{text}`{DN_EXPECTED}"));
            }
            let Some((name, value)) = part.split_once('=') else {
                return Err(format!("DN component `{part}` has no `=`{DN_EXPECTED}"));
            };
            let name = name.trim();
            let attribute = attribute(name).ok_or_else(|| {
                format!(
                    "unknown DN attribute `{name}` in `{text}`, expected one of C, ST, L, O, OU, \
                     CN, E, DC, UID, SN, GN, serialNumber, title"
                )
            })?;
            let value = unquote(value.trim())?;
            if value.is_empty() {
                return Err(format!(
                    "DN attribute `{name}` has an empty value{DN_EXPECTED}"
                ));
            }
            attributes.push((attribute, value));
        }
        if attributes.is_empty() {
            return Err(format!("empty DN{DN_EXPECTED}"));
        }
        Ok(Self { attributes })
    }
}

impl<'de> Deserialize<'de> for Identity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::text::deserialize_from_str(
            deserializer,
            "an identity string such as \"gw.example.org\"",
        )
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("%any"),
            Self::Ipv4(address) => write!(f, "{address}"),
            Self::Ipv6(address) => write!(f, "{address}"),
            Self::Fqdn(name) => f.write_str(name),
            Self::Email(address) => f.write_str(address),
            Self::KeyId(bytes) => {
                f.write_str("@#")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
            Self::Dn(dn) => write!(f, "{dn}"),
        }
    }
}

impl fmt::Display for DistinguishedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (attribute, value)) in self.attributes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            if value.contains([',', '"', '\\', '/']) || value.trim() != value {
                let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
                write!(f, "{}=\"{escaped}\"", attribute.name)?;
            } else {
                write!(f, "{}={value}", attribute.name)?;
            }
        }
        Ok(())
    }
}

const EXPECTED: &str = ", expected an IP address, an FQDN (gw.example.org or @gw.example.org), \
                        an email address, a key ID (@#0123abcd), a DN (C=CH, O=Example, CN=gw) \
                        or %any";

fn fqdn(name: &str) -> Result<Identity, String> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '*'));
    if valid {
        Ok(Identity::Fqdn(name.to_owned()))
    } else {
        Err(format!("`{name}` is not a valid FQDN{EXPECTED}"))
    }
}

fn email(address: &str) -> Result<Identity, String> {
    match address.split_once('@') {
        Some((local, domain))
            if !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !address.contains(char::is_whitespace) =>
        {
            Ok(Identity::Email(address.to_owned()))
        }
        _ => Err(format!(
            "`{address}` is not a valid email address{EXPECTED}"
        )),
    }
}

fn key_id(hex: &str) -> Result<Identity, String> {
    let digits: String = hex.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || !digits.len().is_multiple_of(2) {
        return Err(format!(
            "key ID `{hex}` must be an even number of hex digits, expected e.g. @#0123abcd"
        ));
    }
    (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2).unwrap_or("x"), 16))
        .collect::<Result<Vec<u8>, _>>()
        .map(Identity::KeyId)
        .map_err(|_| format!("key ID `{hex}` is not hexadecimal, expected e.g. @#0123abcd"))
}

/// Splits at `separator` outside quotes and not escaped with a backslash.
fn split_unescaped(text: &str, separator: char) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    if quoted {
        return Err(format!("unterminated quote in DN `{text}`"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

/// Removes surrounding quotes and backslash escapes from a DN value.
fn unquote(value: &str) -> Result<String, String> {
    let inner = match value.strip_prefix('"') {
        Some(rest) => rest
            .strip_suffix('"')
            .ok_or_else(|| format!("unterminated quote in DN value `{value}`"))?,
        None => value,
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.push(
                chars
                    .next()
                    .ok_or_else(|| format!("DN value `{value}` ends with a lone backslash"))?,
            );
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn attribute(name: &str) -> Option<Attribute> {
    let lower = name.to_ascii_lowercase();
    ATTRIBUTES
        .iter()
        .find(|(_, aliases)| aliases.contains(&lower.as_str()))
        .map(|(attribute, _)| *attribute)
}

const fn attr(name: &'static str, oid: &'static [u32], kind: StringKind) -> Attribute {
    Attribute { name, oid, kind }
}

/// Attribute types strongSwan accepts, with their lowercase aliases.
const ATTRIBUTES: &[(Attribute, &[&str])] = &[
    (
        attr("C", &[2, 5, 4, 6], StringKind::Printable),
        &["c", "countryname"],
    ),
    (
        attr("ST", &[2, 5, 4, 8], StringKind::Utf8),
        &["st", "s", "stateorprovincename"],
    ),
    (
        attr("L", &[2, 5, 4, 7], StringKind::Utf8),
        &["l", "localityname"],
    ),
    (
        attr("O", &[2, 5, 4, 10], StringKind::Utf8),
        &["o", "organizationname"],
    ),
    (
        attr("OU", &[2, 5, 4, 11], StringKind::Utf8),
        &["ou", "organizationalunitname"],
    ),
    (
        attr("CN", &[2, 5, 4, 3], StringKind::Utf8),
        &["cn", "commonname"],
    ),
    (
        attr("SN", &[2, 5, 4, 4], StringKind::Utf8),
        &["sn", "surname"],
    ),
    (
        attr("serialNumber", &[2, 5, 4, 5], StringKind::Printable),
        &["serialnumber"],
    ),
    (
        attr("street", &[2, 5, 4, 9], StringKind::Utf8),
        &["street", "streetaddress"],
    ),
    (
        attr("title", &[2, 5, 4, 12], StringKind::Utf8),
        &["t", "title"],
    ),
    (
        attr("D", &[2, 5, 4, 13], StringKind::Utf8),
        &["d", "description"],
    ),
    (
        attr("postalCode", &[2, 5, 4, 17], StringKind::Utf8),
        &["postalcode"],
    ),
    (attr("N", &[2, 5, 4, 41], StringKind::Utf8), &["n", "name"]),
    (
        attr("GN", &[2, 5, 4, 42], StringKind::Utf8),
        &["g", "gn", "givenname"],
    ),
    (
        attr("I", &[2, 5, 4, 43], StringKind::Utf8),
        &["i", "initials"],
    ),
    (
        attr("dnQualifier", &[2, 5, 4, 46], StringKind::Printable),
        &["dnqualifier"],
    ),
    (
        attr("pseudonym", &[2, 5, 4, 65], StringKind::Utf8),
        &["pseudonym"],
    ),
    (
        attr("E", &[1, 2, 840, 113_549, 1, 9, 1], StringKind::Ia5),
        &["e", "email", "emailaddress"],
    ),
    (
        attr("UN", &[1, 2, 840, 113_549, 1, 9, 2], StringKind::Ia5),
        &["un", "unstructuredname"],
    ),
    (
        attr("DC", &[0, 9, 2342, 19_200_300, 100, 1, 25], StringKind::Ia5),
        &["dc", "domaincomponent"],
    ),
    (
        attr(
            "UID",
            &[0, 9, 2342, 19_200_300, 100, 1, 1],
            StringKind::Utf8,
        ),
        &["uid", "userid"],
    ),
];

fn is_printable_string_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " '()+,-./:=?".contains(c)
}

/// A DER TLV with a definite length.
fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let bytes = u64::try_from(content.len())
        .unwrap_or(u64::MAX)
        .to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    match bytes.get(skip) {
        Some(&short) if skip == bytes.len() - 1 && short < 0x80 => out.push(short),
        None => out.push(0),
        Some(_) => {
            // At most 8 length octets, so the count fits in the low bits.
            out.push(0x80 | u8::try_from(bytes.len() - skip).unwrap_or(8));
            out.extend_from_slice(&bytes[skip..]);
        }
    }
    out.extend_from_slice(content);
    out
}

fn encode_oid(arcs: &[u32]) -> Vec<u8> {
    let mut out = Vec::new();
    let (first, rest) = match arcs {
        [a, b, rest @ ..] => (a * 40 + b, rest),
        _ => return out,
    };
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let mut groups = vec![(arc & 0x7f).to_be_bytes()[3]];
        let mut value = arc >> 7;
        while value > 0 {
            groups.push((value & 0x7f).to_be_bytes()[3] | 0x80);
            value >>= 7;
        }
        out.extend(groups.iter().rev());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Identity {
        text.parse().unwrap()
    }

    #[test]
    fn identity_types() {
        assert_eq!(id("192.0.2.1"), Identity::Ipv4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(
            id("2001:db8::1"),
            Identity::Ipv6("2001:db8::1".parse().unwrap())
        );
        assert_eq!(
            id("gw.example.org"),
            Identity::Fqdn("gw.example.org".into())
        );
        assert_eq!(id("@gw"), Identity::Fqdn("gw".into()));
        assert_eq!(
            id("alice@example.org"),
            Identity::Email("alice@example.org".into())
        );
        assert_eq!(
            id("@#0123abCD"),
            Identity::KeyId(vec![0x01, 0x23, 0xab, 0xcd])
        );
        assert_eq!(id("keyid:#00ff"), Identity::KeyId(vec![0, 0xff]));
        assert_eq!(id("%any"), Identity::Any);
        assert_eq!(id("fqdn:192.0.2.1"), Identity::Fqdn("192.0.2.1".into()));
        assert_eq!(id("email:x@y"), Identity::Email("x@y".into()));
        assert!(matches!(
            id("C=CH, O=strongSwan, CN=moon.strongswan.org"),
            Identity::Dn(_)
        ));
    }

    #[test]
    fn identity_errors() {
        let e = "@#abc".parse::<Identity>().unwrap_err();
        assert!(e.contains("even number of hex digits"), "{e}");
        let e = "@#zz".parse::<Identity>().unwrap_err();
        assert!(e.contains("not hexadecimal"), "{e}");
        let e = "gw example".parse::<Identity>().unwrap_err();
        assert!(e.contains("not a valid FQDN"), "{e}");
        let e = "ipv4:gw".parse::<Identity>().unwrap_err();
        assert!(e.contains("not an IPv4 address"), "{e}");
        let e = "XX=1, CN=a".parse::<Identity>().unwrap_err();
        assert!(e.contains("unknown DN attribute `XX`"), "{e}");
        assert!("".parse::<Identity>().is_err());
    }

    #[test]
    fn wildcards() {
        assert!(id("%any").has_wildcard());
        assert!(id("*@example.org").has_wildcard());
        assert!(id("C=CH, CN=*").has_wildcard());
        assert!(!id("gw.example.org").has_wildcard());
    }

    #[test]
    fn dn_display_and_forms() {
        let dn = id("C=CH,O=strongSwan Project,  CN=moon.strongswan.org");
        assert_eq!(
            dn.to_string(),
            "C=CH, O=strongSwan Project, CN=moon.strongswan.org"
        );
        let slash = id("/C=CH/O=strongSwan Project/CN=moon.strongswan.org");
        assert_eq!(slash, dn);
        let quoted = id("O=\"Example, Inc.\", CN=gw");
        assert_eq!(quoted.to_string(), "O=\"Example, Inc.\", CN=gw");
        assert_eq!(quoted.to_string().parse::<Identity>().unwrap(), quoted);
        let escaped = id("O=Example\\, Inc., CN=gw");
        assert_eq!(escaped, quoted);
    }

    #[test]
    fn dn_der_encoding() {
        // C=CH, CN=a:
        // SEQUENCE { SET { SEQUENCE { OID 2.5.4.6, PrintableString "CH" } }
        //            SET { SEQUENCE { OID 2.5.4.3, UTF8String "a" } } }
        let Identity::Dn(dn) = id("C=CH, CN=a") else {
            panic!("not a DN");
        };
        let expected = [
            0x30, 0x19, 0x31, 0x0b, 0x30, 0x09, 0x06, 0x03, 0x55, 0x04, 0x06, 0x13, 0x02, b'C',
            b'H', 0x31, 0x0a, 0x30, 0x08, 0x06, 0x03, 0x55, 0x04, 0x03, 0x0c, 0x01, b'a',
        ];
        assert_eq!(dn.to_der(), expected);
        let payload = Identity::Dn(dn).to_id_payload().unwrap();
        assert_eq!(payload.id_type, IdType::DER_ASN1_DN);
    }

    #[test]
    fn oid_and_long_length_encoding() {
        assert_eq!(
            encode_oid(&[1, 2, 840, 113_549, 1, 9, 1]),
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x01]
        );
        let long = der(0x04, &[0; 300]);
        assert_eq!(&long[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn id_payloads() {
        let payload = id("192.0.2.1").to_id_payload().unwrap();
        assert_eq!(payload.id_type, IdType::IPV4_ADDR);
        assert_eq!(payload.data, [192, 0, 2, 1]);
        assert!(Identity::Any.to_id_payload().is_none());
    }
}
