//! The few facts the data plane reads from an inner IP packet (addresses, protocol, ports), the
//! traffic selector match of [RFC 4301 §4.4.1], and the IP header rebuilt for transport mode.
//!
//! [RFC 4301 §4.4.1]: https://www.rfc-editor.org/rfc/rfc4301#section-4.4.1

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;

use hitless_sadb::TrafficSelector;

use crate::drop::DropReason;

/// IP protocol number of IPv4-in-IP, the next header of a tunnelled IPv4 packet.
pub(crate) const IPPROTO_IPIP: u8 = 4;
/// IP protocol number of IPv6, the next header of a tunnelled IPv6 packet.
pub(crate) const IPPROTO_IPV6: u8 = 41;
/// "No next header": an ESP dummy packet (RFC 4303 §2.6).
pub(crate) const IPPROTO_NONE: u8 = 59;

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;
const IPPROTO_ICMP: u8 = 1;
const IPPROTO_ICMPV6: u8 = 58;
const IPPROTO_SCTP: u8 = 132;
const IPPROTO_HOPOPTS: u8 = 0;
const IPPROTO_ROUTING: u8 = 43;
const IPPROTO_FRAGMENT: u8 = 44;
const IPPROTO_DSTOPTS: u8 = 60;

const IPV4_HEADER_LEN: usize = 20;
pub(crate) const IPV6_HEADER_LEN: usize = 40;
/// How many IPv6 extension headers are walked before giving up on finding ports.
const MAX_EXTENSION_HEADERS: usize = 8;

/// What a traffic selector matches on, read from one IP packet.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct FlowKey {
    pub(crate) source: IpAddr,
    pub(crate) destination: IpAddr,
    /// The upper-layer protocol (after IPv6 extension headers).
    pub(crate) protocol: u8,
    /// Source port, or ICMP type and code packed as RFC 7296 §3.13.1 says; `None` when the
    /// packet is a non-first fragment or the protocol has no ports (RFC 4301 §4.4.1.1 OPAQUE).
    pub(crate) source_port: Option<u16>,
    /// Destination port; for ICMP the same packed type and code.
    pub(crate) destination_port: Option<u16>,
}

/// The parsed layout of an IP packet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpPacket {
    pub(crate) flow: FlowKey,
    /// Length of the IP header, IPv6 extension headers not included.
    pub(crate) header_len: usize,
    /// The packet's length according to its header (may be shorter than the buffer when ESP
    /// carried TFC padding, RFC 4303 §2.7).
    pub(crate) total_len: usize,
    /// IPv6 with extension headers (transport mode cannot move those into ESP).
    pub(crate) has_extension_headers: bool,
}

/// Parses the IP header at the start of `packet`.
///
/// # Errors
///
/// [`DropReason::Malformed`] when the version is not 4 or 6, the header is truncated, or the
/// length field exceeds `packet`.
pub(crate) fn parse(packet: &[u8]) -> Result<IpPacket, DropReason> {
    match packet.first().map(|byte| byte >> 4) {
        Some(4) => parse_v4(packet),
        Some(6) => parse_v6(packet),
        _ => Err(DropReason::Malformed),
    }
}

/// Whether `flow` goes from `source_ts` to `destination_ts` (RFC 4301 §4.4.1: any selector of
/// each side may match).
pub(crate) fn matches(
    flow: &FlowKey,
    source_ts: &[TrafficSelector],
    destination_ts: &[TrafficSelector],
) -> bool {
    source_ts
        .iter()
        .any(|ts| selector_matches(ts, flow.protocol, flow.source, flow.source_port))
        && destination_ts
            .iter()
            .any(|ts| selector_matches(ts, flow.protocol, flow.destination, flow.destination_port))
}

/// Writes an IP header for a transport-mode payload of `payload_len` bytes in front of it
/// (`header` is exactly [`header_len`] bytes). The outer addresses stand in for the header the
/// sender removed (RFC 4303 §3.1.1).
pub(crate) fn write_header(
    header: &mut [u8],
    source: IpAddr,
    destination: IpAddr,
    protocol: u8,
    payload_len: usize,
) -> Result<(), DropReason> {
    match (source, destination) {
        (IpAddr::V4(source), IpAddr::V4(destination)) => {
            let total =
                u16::try_from(IPV4_HEADER_LEN + payload_len).map_err(|_| DropReason::Malformed)?;
            header.copy_from_slice(&ipv4_header(source, destination, protocol, total));
            Ok(())
        }
        (IpAddr::V6(source), IpAddr::V6(destination)) => {
            let payload = u16::try_from(payload_len).map_err(|_| DropReason::Malformed)?;
            header[..4].copy_from_slice(&[0x60, 0, 0, 0]);
            header[4..6].copy_from_slice(&payload.to_be_bytes());
            header[6] = protocol;
            header[7] = DEFAULT_TTL;
            header[8..24].copy_from_slice(&source.octets());
            header[24..40].copy_from_slice(&destination.octets());
            Ok(())
        }
        _ => Err(DropReason::Malformed),
    }
}

/// Length of the header [`write_header`] writes for this address family.
pub(crate) fn header_len(address: IpAddr) -> usize {
    match address {
        IpAddr::V4(_) => IPV4_HEADER_LEN,
        IpAddr::V6(_) => IPV6_HEADER_LEN,
    }
}

fn parse_v4(packet: &[u8]) -> Result<IpPacket, DropReason> {
    if packet.len() < IPV4_HEADER_LEN {
        return Err(DropReason::Malformed);
    }
    let header_len = usize::from(packet[0] & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([packet[2], packet[3]]));
    if header_len < IPV4_HEADER_LEN || total_len < header_len || total_len > packet.len() {
        return Err(DropReason::Malformed);
    }
    let fragment_offset = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff;
    let protocol = packet[9];
    let source = Ipv4Addr::from([packet[12], packet[13], packet[14], packet[15]]);
    let destination = Ipv4Addr::from([packet[16], packet[17], packet[18], packet[19]]);
    let upper = &packet[header_len..total_len];
    let (source_port, destination_port) = if fragment_offset == 0 {
        ports(protocol, upper)
    } else {
        (None, None)
    };
    Ok(IpPacket {
        flow: FlowKey {
            source: source.into(),
            destination: destination.into(),
            protocol,
            source_port,
            destination_port,
        },
        header_len,
        total_len,
        has_extension_headers: false,
    })
}

fn parse_v6(packet: &[u8]) -> Result<IpPacket, DropReason> {
    if packet.len() < IPV6_HEADER_LEN {
        return Err(DropReason::Malformed);
    }
    let total_len = IPV6_HEADER_LEN + usize::from(u16::from_be_bytes([packet[4], packet[5]]));
    if total_len > packet.len() {
        return Err(DropReason::Malformed);
    }
    let mut source = [0; 16];
    source.copy_from_slice(&packet[8..24]);
    let mut destination = [0; 16];
    destination.copy_from_slice(&packet[24..40]);
    let mut protocol = packet[6];
    let mut offset = IPV6_HEADER_LEN;
    let mut first_fragment = true;
    let mut walked = 0;
    // Walk the extension headers to the upper-layer protocol (RFC 8200 §4).
    while matches!(
        protocol,
        IPPROTO_HOPOPTS | IPPROTO_ROUTING | IPPROTO_FRAGMENT | IPPROTO_DSTOPTS
    ) {
        walked += 1;
        let Some(extension) = packet.get(offset..total_len).filter(|rest| rest.len() >= 8) else {
            return Err(DropReason::Malformed);
        };
        if walked > MAX_EXTENSION_HEADERS {
            break;
        }
        let length = if protocol == IPPROTO_FRAGMENT {
            first_fragment = u16::from_be_bytes([extension[2], extension[3]]) >> 3 == 0;
            8
        } else {
            (usize::from(extension[1]) + 1) * 8
        };
        protocol = extension[0];
        offset += length;
        if offset > total_len {
            return Err(DropReason::Malformed);
        }
    }
    let (source_port, destination_port) = match packet.get(offset..total_len) {
        Some(upper) if first_fragment && walked <= MAX_EXTENSION_HEADERS => ports(protocol, upper),
        _ => (None, None),
    };
    Ok(IpPacket {
        flow: FlowKey {
            source: Ipv6Addr::from(source).into(),
            destination: Ipv6Addr::from(destination).into(),
            protocol,
            source_port,
            destination_port,
        },
        header_len: IPV6_HEADER_LEN,
        total_len,
        has_extension_headers: walked > 0,
    })
}

/// The ports of TCP, UDP and SCTP; ICMP type and code in both (RFC 4301 §4.4.1.1, RFC 7296
/// §3.13.1: type in the high byte, code in the low byte).
fn ports(protocol: u8, upper: &[u8]) -> (Option<u16>, Option<u16>) {
    match protocol {
        IPPROTO_TCP | IPPROTO_UDP | IPPROTO_SCTP if upper.len() >= 4 => (
            Some(u16::from_be_bytes([upper[0], upper[1]])),
            Some(u16::from_be_bytes([upper[2], upper[3]])),
        ),
        IPPROTO_ICMP | IPPROTO_ICMPV6 if upper.len() >= 2 => {
            let packed = u16::from_be_bytes([upper[0], upper[1]]);
            (Some(packed), Some(packed))
        }
        _ => (None, None),
    }
}

fn selector_matches(
    ts: &TrafficSelector,
    protocol: u8,
    address: IpAddr,
    port: Option<u16>,
) -> bool {
    if ts.ip_protocol != 0 && ts.ip_protocol != protocol {
        return false;
    }
    let in_range = match (ts.start_address, ts.end_address, address) {
        (IpAddr::V4(start), IpAddr::V4(end), IpAddr::V4(address)) => {
            start <= address && address <= end
        }
        (IpAddr::V6(start), IpAddr::V6(end), IpAddr::V6(address)) => {
            start <= address && address <= end
        }
        _ => false,
    };
    if !in_range {
        return false;
    }
    let any_port = ts.start_port == 0 && ts.end_port == u16::MAX;
    match port {
        _ if any_port => true,
        Some(port) => ts.start_port <= port && port <= ts.end_port,
        // RFC 4301 §4.4.1.1: without ports (OPAQUE) only an ANY port range matches.
        None => false,
    }
}

fn ipv4_header(
    source: Ipv4Addr,
    destination: Ipv4Addr,
    protocol: u8,
    total_len: u16,
) -> [u8; IPV4_HEADER_LEN] {
    let mut header = [0u8; IPV4_HEADER_LEN];
    header[0] = 0x45;
    header[2..4].copy_from_slice(&total_len.to_be_bytes());
    header[8] = DEFAULT_TTL;
    header[9] = protocol;
    header[12..16].copy_from_slice(&source.octets());
    header[16..20].copy_from_slice(&destination.octets());
    let checksum = ipv4_checksum(&header);
    header[10..12].copy_from_slice(&checksum.to_be_bytes());
    header
}

/// The IPv4 header checksum (RFC 791 §3.1): the ones' complement of the ones' complement sum.
fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks_exact(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop above folded `sum` into 16 bits.
    !u16::try_from(sum).unwrap_or(0)
}

const DEFAULT_TTL: u8 = 64;

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
pub(crate) mod tests {
    use super::*;

    /// An IPv4 UDP packet with `payload_len` payload bytes.
    pub(crate) fn udp_v4(
        source: [u8; 4],
        destination: [u8; 4],
        ports: (u16, u16),
        payload_len: usize,
    ) -> Vec<u8> {
        let total = IPV4_HEADER_LEN + 8 + payload_len;
        let mut packet = ipv4_header(
            source.into(),
            destination.into(),
            IPPROTO_UDP,
            u16::try_from(total).unwrap(),
        )
        .to_vec();
        packet.extend_from_slice(&ports.0.to_be_bytes());
        packet.extend_from_slice(&ports.1.to_be_bytes());
        packet.extend_from_slice(&u16::try_from(8 + payload_len).unwrap().to_be_bytes());
        packet.extend_from_slice(&[0, 0]);
        packet.extend((0..payload_len).map(|i| i as u8));
        packet
    }

    /// An IPv6 TCP packet with `payload_len` bytes after a minimal 20-byte TCP header.
    pub(crate) fn tcp_v6(
        source: Ipv6Addr,
        destination: Ipv6Addr,
        ports: (u16, u16),
        payload_len: usize,
    ) -> Vec<u8> {
        let mut packet = vec![0u8; IPV6_HEADER_LEN];
        write_header(
            &mut packet,
            source.into(),
            destination.into(),
            IPPROTO_TCP,
            20 + payload_len,
        )
        .unwrap();
        let mut tcp = [0u8; 20];
        tcp[..2].copy_from_slice(&ports.0.to_be_bytes());
        tcp[2..4].copy_from_slice(&ports.1.to_be_bytes());
        tcp[12] = 5 << 4;
        packet.extend_from_slice(&tcp);
        packet.extend((0..payload_len).map(|i| (i * 7) as u8));
        packet
    }

    pub(crate) fn ts(start: &str, end: &str, protocol: u8, ports: (u16, u16)) -> TrafficSelector {
        TrafficSelector {
            ip_protocol: protocol,
            start_port: ports.0,
            end_port: ports.1,
            start_address: start.parse().unwrap(),
            end_address: end.parse().unwrap(),
        }
    }

    #[test]
    fn parses_ipv4_udp() {
        let packet = udp_v4([10, 0, 0, 1], [10, 0, 1, 2], (1234, 53), 10);
        let parsed = parse(&packet).unwrap();
        assert_eq!(parsed.header_len, 20);
        assert_eq!(parsed.total_len, packet.len());
        assert_eq!(parsed.flow.protocol, IPPROTO_UDP);
        assert_eq!(parsed.flow.source_port, Some(1234));
        assert_eq!(parsed.flow.destination_port, Some(53));
        assert_eq!(
            ipv4_checksum(&packet[..20]),
            0,
            "a correct header sums to zero"
        );
    }

    #[test]
    fn parses_ipv6_tcp_and_fragments() {
        let a: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8::2".parse().unwrap();
        let packet = tcp_v6(a, b, (40000, 443), 5);
        let parsed = parse(&packet).unwrap();
        assert_eq!(parsed.flow.protocol, IPPROTO_TCP);
        assert_eq!(parsed.flow.destination_port, Some(443));
        assert!(!parsed.has_extension_headers);
        // The same with a fragment header of a non-first fragment: no ports.
        let mut fragmented = packet[..40].to_vec();
        fragmented[6] = IPPROTO_FRAGMENT;
        fragmented.extend_from_slice(&[IPPROTO_TCP, 0, 0, 8 << 3, 0, 0, 0, 1]);
        fragmented.extend_from_slice(&packet[40..]);
        let payload = u16::try_from(fragmented.len() - 40).unwrap();
        fragmented[4..6].copy_from_slice(&payload.to_be_bytes());
        let parsed = parse(&fragmented).unwrap();
        assert_eq!(parsed.flow.protocol, IPPROTO_TCP);
        assert_eq!(parsed.flow.destination_port, None);
        assert!(parsed.has_extension_headers);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(parse(&[]).unwrap_err(), DropReason::Malformed);
        assert_eq!(parse(&[0x45; 19]).unwrap_err(), DropReason::Malformed);
        let mut packet = udp_v4([1, 1, 1, 1], [2, 2, 2, 2], (1, 2), 0);
        packet[3] += 1; // total length past the buffer
        assert_eq!(parse(&packet).unwrap_err(), DropReason::Malformed);
        let mut packet = udp_v4([1, 1, 1, 1], [2, 2, 2, 2], (1, 2), 0);
        packet[0] = 0x44; // header length 16
        assert_eq!(parse(&packet).unwrap_err(), DropReason::Malformed);
        assert_eq!(parse(&[0x60; 39]).unwrap_err(), DropReason::Malformed);
        // An extension header chain running off the end.
        let mut packet = vec![0x60, 0, 0, 0, 0, 8, IPPROTO_HOPOPTS, 64];
        packet.extend_from_slice(&[0; 32]);
        packet.extend_from_slice(&[IPPROTO_ROUTING, 4, 0, 0, 0, 0, 0, 0]);
        assert_eq!(parse(&packet).unwrap_err(), DropReason::Malformed);
    }

    #[test]
    fn selectors_match_ranges_protocols_and_ports() {
        let packet = udp_v4([10, 0, 0, 1], [10, 0, 1, 2], (1234, 53), 10);
        let flow = parse(&packet).unwrap().flow;
        let any_a = ts("10.0.0.0", "10.0.0.255", 0, (0, 65535));
        let any_b = ts("10.0.1.0", "10.0.1.255", 0, (0, 65535));
        assert!(matches(&flow, &[any_a], &[any_b]));
        assert!(!matches(&flow, &[any_b], &[any_a]));
        let dns = ts("10.0.1.2", "10.0.1.2", IPPROTO_UDP, (53, 53));
        assert!(matches(&flow, &[any_a], &[dns]));
        let tcp_dns = ts("10.0.1.2", "10.0.1.2", IPPROTO_TCP, (53, 53));
        assert!(!matches(&flow, &[any_a], &[tcp_dns]));
        let http = ts("10.0.1.2", "10.0.1.2", 0, (80, 80));
        assert!(!matches(&flow, &[any_a], &[http]));
        let v6 = ts(
            "::",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            0,
            (0, 65535),
        );
        assert!(!matches(&flow, &[v6], &[any_b]));
        assert!(matches(&flow, &[v6, any_a], &[any_b]));
        assert!(!matches(&flow, &[], &[any_b]));
    }

    #[test]
    fn writes_headers_that_parse_back() {
        let mut header = [0u8; 20];
        write_header(
            &mut header,
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            6,
            100,
        )
        .unwrap();
        assert_eq!(ipv4_checksum(&header), 0);
        let mut packet = header.to_vec();
        packet.extend_from_slice(&[0; 100]);
        let parsed = parse(&packet).unwrap();
        assert_eq!(parsed.total_len, 120);
        assert_eq!(parsed.flow.protocol, 6);
        let mut header = [0u8; 40];
        write_header(
            &mut header,
            "2001:db8::1".parse().unwrap(),
            "2001:db8::2".parse().unwrap(),
            17,
            8,
        )
        .unwrap();
        let mut packet = header.to_vec();
        packet.extend_from_slice(&[0, 1, 0, 2, 0, 8, 0, 0]);
        let parsed = parse(&packet).unwrap();
        assert_eq!(parsed.flow.destination_port, Some(2));
        assert_eq!(
            write_header(
                &mut [0; 20],
                "192.0.2.1".parse().unwrap(),
                "2001:db8::2".parse().unwrap(),
                6,
                1
            ),
            Err(DropReason::Malformed)
        );
    }
}
