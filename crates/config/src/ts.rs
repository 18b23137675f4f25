//! Traffic selectors as swanctl writes them ([RFC 7296 §2.9], §3.13.1).
//!
//! `10.1.0.0/16`, `192.0.2.10-192.0.2.20`, `2001:db8::/32`, `dynamic` (the address the IKE SA
//! runs over, or the virtual IP), each optionally followed by `[protocol/port]`:
//! `0.0.0.0/0[tcp/443]`, `10.0.0.0/8[udp/1024-65535]`, `::/0[ipv6-icmp]`, `[icmp/8]` (ICMP
//! type 8, RFC 4301 §4.4.1.1 packs type and code into the port fields).
//!
//! [RFC 7296 §2.9]: https://www.rfc-editor.org/rfc/rfc7296#section-2.9

use std::fmt;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::str::FromStr;

use hitless_sadb::TrafficSelector;
use serde::Deserialize;
use serde::Deserializer;

/// One configured traffic selector.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct TsSpec {
    /// The addresses.
    pub addresses: TsAddresses,
    /// IP protocol number, 0 for any.
    pub protocol: u8,
    /// First port (or packed ICMP type/code).
    pub start_port: u16,
    /// Last port.
    pub end_port: u16,
}

/// The address part of a [`TsSpec`].
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum TsAddresses {
    /// The IKE SA's own address on this side (or the virtual IP assigned to it).
    Dynamic,
    /// An inclusive address range of one family.
    Range {
        /// First address.
        start: IpAddr,
        /// Last address.
        end: IpAddr,
    },
}

/// An inclusive address range parsed from a CIDR prefix, a range or a single address; used for
/// traffic selectors and address pools.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct AddressRange {
    /// First address.
    pub start: IpAddr,
    /// Last address, same family, not below `start`.
    pub end: IpAddr,
}

impl TsSpec {
    /// The wire traffic selector, with `dynamic` replaced by `dynamic_address`.
    pub fn to_selector(&self, dynamic_address: IpAddr) -> TrafficSelector {
        let (start_address, end_address) = match self.addresses {
            TsAddresses::Dynamic => (dynamic_address, dynamic_address),
            TsAddresses::Range { start, end } => (start, end),
        };
        TrafficSelector {
            ip_protocol: self.protocol,
            start_port: self.start_port,
            end_port: self.end_port,
            start_address,
            end_address,
        }
    }

    /// Whether the selector covers every port of its protocol.
    fn all_ports(&self) -> bool {
        self.start_port == 0 && self.end_port == u16::MAX
    }
}

impl AddressRange {
    /// Whether the range holds IPv4 addresses.
    pub fn is_ipv4(&self) -> bool {
        self.start.is_ipv4()
    }

    /// The prefix length if the range is exactly one CIDR prefix.
    pub fn prefix_len(&self) -> Option<u8> {
        let (start, end, bits) = match (self.start, self.end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => {
                (u128::from(u32::from(s)), u128::from(u32::from(e)), 32)
            }
            (IpAddr::V6(s), IpAddr::V6(e)) => (u128::from(s), u128::from(e), 128),
            _ => return None,
        };
        let span = end.checked_sub(start)?;
        if span == u128::MAX {
            return Some(0);
        }
        let size = span + 1;
        if !size.is_power_of_two() || start % size != 0 {
            return None;
        }
        u8::try_from(bits - size.trailing_zeros()).ok()
    }
}

impl FromStr for AddressRange {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        const EXPECTED: &str = ", expected a subnet (10.1.0.0/16, 2001:db8::/32), an address \
                                or a range (10.1.0.10-10.1.0.20)";
        let text = text.trim();
        if let Some((address, length)) = text.split_once('/') {
            let address: IpAddr = address
                .trim()
                .parse()
                .map_err(|_| format!("`{address}` is not an IP address{EXPECTED}"))?;
            let max = if address.is_ipv4() { 32 } else { 128 };
            let length: u32 = length
                .trim()
                .parse()
                .ok()
                .filter(|l| *l <= max)
                .ok_or_else(|| {
                    format!("invalid prefix length `/{length}` (0 to {max}){EXPECTED}")
                })?;
            let (start, end) = prefix_bounds(address, length);
            if start != address {
                return Err(format!(
                    "`{text}` has host bits set (did you mean `{start}/{length}`?){EXPECTED}"
                ));
            }
            return Ok(Self { start, end });
        }
        if let Some((first, last)) = text.split_once('-') {
            let parse = |s: &str| {
                s.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| format!("`{s}` is not an IP address{EXPECTED}"))
            };
            let (start, end) = (parse(first)?, parse(last)?);
            if start.is_ipv4() != end.is_ipv4() {
                return Err(format!("range `{text}` mixes IPv4 and IPv6{EXPECTED}"));
            }
            if end < start {
                return Err(format!("range `{text}` ends before it starts{EXPECTED}"));
            }
            return Ok(Self { start, end });
        }
        let address: IpAddr = text
            .parse()
            .map_err(|_| format!("`{text}` is not an address or subnet{EXPECTED}"))?;
        Ok(Self {
            start: address,
            end: address,
        })
    }
}

impl FromStr for TsSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let (address_part, filter) = match text.split_once('[') {
            Some((address, rest)) => {
                let filter = rest.strip_suffix(']').ok_or_else(|| {
                    format!("traffic selector `{text}` has `[` without a closing `]`")
                })?;
                (address.trim(), Some(filter))
            }
            None => (text, None),
        };
        let addresses = match address_part {
            "dynamic" | "%dynamic" | "" => TsAddresses::Dynamic,
            other => {
                let range: AddressRange = other.parse()?;
                TsAddresses::Range {
                    start: range.start,
                    end: range.end,
                }
            }
        };
        if address_part.is_empty() && filter.is_none() {
            return Err(
                "empty traffic selector, expected a subnet such as 10.1.0.0/16, a \
                        range, or dynamic"
                    .to_owned(),
            );
        }
        let (protocol, start_port, end_port) = match filter {
            None => (0, 0, u16::MAX),
            Some(filter) => parse_filter(filter, text)?,
        };
        Ok(Self {
            addresses,
            protocol,
            start_port,
            end_port,
        })
    }
}

impl<'de> Deserialize<'de> for TsSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::text::deserialize_from_str(
            deserializer,
            "a traffic selector string such as \"10.1.0.0/16\"",
        )
    }
}

impl<'de> Deserialize<'de> for AddressRange {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::text::deserialize_from_str(
            deserializer,
            "an address range string such as \"10.99.0.0/24\"",
        )
    }
}

impl fmt::Display for AddressRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix_len() {
            Some(length) => write!(f, "{}/{length}", self.start),
            None => write!(f, "{}-{}", self.start, self.end),
        }
    }
}

impl fmt::Display for TsSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addresses {
            TsAddresses::Dynamic => f.write_str("dynamic")?,
            TsAddresses::Range { start, end } => write!(f, "{}", AddressRange { start, end })?,
        }
        if self.protocol == 0 && self.all_ports() {
            return Ok(());
        }
        let protocol = PROTOCOLS
            .iter()
            .find(|(_, number)| *number == self.protocol)
            .map_or_else(|| self.protocol.to_string(), |(name, _)| (*name).to_owned());
        if self.all_ports() {
            return write!(f, "[{protocol}]");
        }
        if self.start_port == u16::MAX && self.end_port == 0 {
            return write!(f, "[{protocol}/%opaque]");
        }
        if is_icmp(self.protocol) {
            return write!(f, "[{protocol}/{}]", self.start_port >> 8);
        }
        if self.start_port == self.end_port {
            write!(f, "[{protocol}/{}]", self.start_port)
        } else {
            write!(f, "[{protocol}/{}-{}]", self.start_port, self.end_port)
        }
    }
}

fn parse_filter(filter: &str, text: &str) -> Result<(u8, u16, u16), String> {
    let (protocol_text, port_text) = match filter.split_once('/') {
        Some((protocol, port)) => (protocol.trim(), Some(port.trim())),
        None => (filter.trim(), None),
    };
    let protocol = match protocol_text {
        "" | "%any" | "any" => 0,
        name => match PROTOCOLS.iter().find(|(known, _)| *known == name) {
            Some((_, number)) => *number,
            None => name.parse::<u8>().map_err(|_| {
                format!(
                    "unknown protocol `{name}` in traffic selector `{text}`, expected a number \
                     or one of tcp, udp, icmp, ipv6-icmp, sctp, gre, esp, ah"
                )
            })?,
        },
    };
    let Some(port_text) = port_text else {
        return Ok((protocol, 0, u16::MAX));
    };
    let (start, end) = match port_text {
        "" | "%any" | "any" => (0, u16::MAX),
        // RFC 7296 §3.13.1: start 65535 and end 0 mean OPAQUE ports.
        "%opaque" | "opaque" => (u16::MAX, 0),
        ports if is_icmp(protocol) => {
            let icmp_type = ports.parse::<u8>().map_err(|_| {
                format!(
                    "invalid ICMP type `{ports}` in traffic selector `{text}`, expected 0 to 255"
                )
            })?;
            let high = u16::from(icmp_type) << 8;
            (high, high | 0xff)
        }
        ports => {
            let parse = |p: &str| -> Result<u16, String> {
                let p = p.trim();
                p.parse::<u16>()
                    .ok()
                    .or_else(|| {
                        SERVICES
                            .iter()
                            .find(|(name, _)| *name == p)
                            .map(|(_, port)| *port)
                    })
                    .ok_or_else(|| {
                        format!(
                            "invalid port `{p}` in traffic selector `{text}`, expected a number, \
                             a range such as 1024-65535, a service name such as https, or %any"
                        )
                    })
            };
            match ports.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (parse(a)?, parse(b)?);
                    if b < a {
                        return Err(format!(
                            "port range `{ports}` in traffic selector `{text}` ends before it \
                             starts"
                        ));
                    }
                    (a, b)
                }
                None => {
                    let port = parse(ports)?;
                    (port, port)
                }
            }
        }
    };
    if protocol == 0 && (start, end) != (0, u16::MAX) {
        return Err(format!(
            "traffic selector `{text}` restricts ports without a protocol, expected e.g. \
             [tcp/443] or [udp/53]"
        ));
    }
    Ok((protocol, start, end))
}

fn prefix_bounds(address: IpAddr, length: u32) -> (IpAddr, IpAddr) {
    match address {
        IpAddr::V4(v4) => {
            let mask = u32::MAX.checked_shl(32 - length).unwrap_or(0);
            let start = u32::from(v4) & mask;
            (
                IpAddr::V4(Ipv4Addr::from(start)),
                IpAddr::V4(Ipv4Addr::from(start | !mask)),
            )
        }
        IpAddr::V6(v6) => {
            let mask = u128::MAX.checked_shl(128 - length).unwrap_or(0);
            let start = u128::from(v6) & mask;
            (
                IpAddr::V6(Ipv6Addr::from(start)),
                IpAddr::V6(Ipv6Addr::from(start | !mask)),
            )
        }
    }
}

fn is_icmp(protocol: u8) -> bool {
    protocol == 1 || protocol == 58
}

const PROTOCOLS: &[(&str, u8)] = &[
    ("icmp", 1),
    ("ipencap", 4),
    ("tcp", 6),
    ("udp", 17),
    ("ipv6", 41),
    ("gre", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("icmpv6", 58),
    ("ospf", 89),
    ("sctp", 132),
];

const SERVICES: &[(&str, u16)] = &[
    ("ssh", 22),
    ("smtp", 25),
    ("domain", 53),
    ("dns", 53),
    ("http", 80),
    ("ntp", 123),
    ("snmp", 161),
    ("bgp", 179),
    ("ldap", 389),
    ("https", 443),
    ("isakmp", 500),
    ("ipsec-nat-t", 4500),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> TsSpec {
        text.parse().unwrap()
    }

    #[test]
    fn subnets_ranges_and_dynamic() {
        let t = ts("10.1.0.0/16");
        assert_eq!(
            t.addresses,
            TsAddresses::Range {
                start: "10.1.0.0".parse().unwrap(),
                end: "10.1.255.255".parse().unwrap()
            }
        );
        assert_eq!((t.protocol, t.start_port, t.end_port), (0, 0, 65535));
        assert_eq!(t.to_string(), "10.1.0.0/16");
        assert_eq!(ts("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(ts("::/0").to_string(), "::/0");
        assert_eq!(ts("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(
            ts("192.0.2.10-192.0.2.20").to_string(),
            "192.0.2.10-192.0.2.20"
        );
        assert_eq!(ts("192.0.2.0-192.0.2.255").to_string(), "192.0.2.0/24");
        assert_eq!(ts("192.0.2.7").to_string(), "192.0.2.7/32");
        assert_eq!(ts("dynamic").addresses, TsAddresses::Dynamic);
        let selector = ts("dynamic[udp/500]").to_selector("192.0.2.1".parse().unwrap());
        assert_eq!(selector.start_address, selector.end_address);
        assert_eq!((selector.ip_protocol, selector.start_port), (17, 500));
    }

    #[test]
    fn protocol_and_ports() {
        let t = ts("0.0.0.0/0[tcp/443]");
        assert_eq!((t.protocol, t.start_port, t.end_port), (6, 443, 443));
        assert_eq!(t.to_string(), "0.0.0.0/0[tcp/443]");
        let t = ts("10.0.0.0/8[udp/1024-65535]");
        assert_eq!((t.start_port, t.end_port), (1024, 65535));
        assert_eq!(t.to_string(), "10.0.0.0/8[udp/1024-65535]");
        assert_eq!(ts("10.0.0.0/8[tcp/https]").start_port, 443);
        assert_eq!(ts("10.0.0.0/8[47]").protocol, 47);
        assert_eq!(ts("10.0.0.0/8[gre]").to_string(), "10.0.0.0/8[gre]");
        let t = ts("10.0.0.0/8[icmp/8]");
        assert_eq!((t.start_port, t.end_port), (0x0800, 0x08ff));
        assert_eq!(t.to_string(), "10.0.0.0/8[icmp/8]");
        let t = ts("10.0.0.0/8[tcp/%opaque]");
        assert_eq!((t.start_port, t.end_port), (65535, 0));
        assert_eq!(ts("[tcp/22]").addresses, TsAddresses::Dynamic);
    }

    #[test]
    fn errors_say_what_is_expected() {
        let e = "10.1.0.5/16".parse::<TsSpec>().unwrap_err();
        assert!(
            e.contains("host bits set (did you mean `10.1.0.0/16`?)"),
            "{e}"
        );
        let e = "10.1.0.0/33".parse::<TsSpec>().unwrap_err();
        assert!(e.contains("invalid prefix length"), "{e}");
        let e = "10.0.0.9-10.0.0.1".parse::<TsSpec>().unwrap_err();
        assert!(e.contains("ends before it starts"), "{e}");
        let e = "10.0.0.1-2001:db8::1".parse::<TsSpec>().unwrap_err();
        assert!(e.contains("mixes IPv4 and IPv6"), "{e}");
        let e = "10.0.0.0/8[tcp/99999]".parse::<TsSpec>().unwrap_err();
        assert!(e.contains("invalid port `99999`"), "{e}");
        let e = "10.0.0.0/8[foo]".parse::<TsSpec>().unwrap_err();
        assert!(e.contains("unknown protocol `foo`"), "{e}");
        let e = "10.0.0.0/8[/80]".parse::<TsSpec>().unwrap_err();
        assert!(e.contains("without a protocol"), "{e}");
        let e = "10.0.0.0/8[tcp".parse::<TsSpec>().unwrap_err();
        assert!(e.contains("without a closing"), "{e}");
        let e = "gw.example.org".parse::<TsSpec>().unwrap_err();
        assert!(e.contains("not an address or subnet"), "{e}");
    }

    #[test]
    fn prefix_lengths() {
        let range = |s: &str| s.parse::<AddressRange>().unwrap();
        assert_eq!(range("0.0.0.0/0").prefix_len(), Some(0));
        assert_eq!(range("::/0").prefix_len(), Some(0));
        assert_eq!(range("10.0.0.1").prefix_len(), Some(32));
        assert_eq!(range("10.0.0.1-10.0.0.2").prefix_len(), None);
    }
}
