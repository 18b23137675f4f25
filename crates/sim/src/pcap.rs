//! A classic pcap writer ([LINKTYPE_RAW]: each record is an IPv4 or IPv6 packet). The simulator
//! carries UDP payloads and bare ESP packets; this module synthesizes the IP and UDP headers
//! around them, so Wireshark decodes IKE on ports 500 and 4500 and ESP, bare or in UDP.
//!
//! [LINKTYPE_RAW]: https://www.tcpdump.org/linktypes.html

use std::io;
use std::io::Write;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::time::Duration;

use crate::network::Transport;

/// One captured packet.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Capture {
    /// When it was sent, from the start of the simulation.
    pub at: Duration,
    /// Source address.
    pub src: SocketAddr,
    /// Destination address.
    pub dst: SocketAddr,
    /// UDP or bare ESP.
    pub transport: Transport,
    /// The UDP payload or the ESP packet.
    pub payload: Vec<u8>,
}

/// Writes `captures` as a pcap file. Timestamps start at [`EPOCH`] seconds so that tools show a
/// plausible date. Packets whose source and destination families differ are skipped.
///
/// # Errors
///
/// When writing fails.
pub fn write_pcap(out: &mut impl Write, captures: &[Capture]) -> io::Result<()> {
    out.write_all(&global_header())?;
    let mut ident: u16 = 0;
    for capture in captures {
        let Some(packet) = ip_packet(capture, ident) else {
            continue;
        };
        ident = ident.wrapping_add(1);
        let at = Duration::from_secs(EPOCH) + capture.at;
        let seconds = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
        let length = u32::try_from(packet.len()).unwrap_or(u32::MAX);
        out.write_all(&seconds.to_le_bytes())?;
        out.write_all(&at.subsec_micros().to_le_bytes())?;
        out.write_all(&length.to_le_bytes())?;
        out.write_all(&length.to_le_bytes())?;
        out.write_all(&packet)?;
    }
    Ok(())
}

/// Seconds since 1970 of the simulation's start in captures (2024-01-01T00:00:00Z).
pub const EPOCH: u64 = 1_704_067_200;

/// The IP packet around a capture, or `None` when its address families differ.
pub fn ip_packet(capture: &Capture, ident: u16) -> Option<Vec<u8>> {
    let (protocol, body) = match capture.transport {
        Transport::Udp => (PROTO_UDP, udp_datagram(capture)?),
        Transport::Esp => (PROTO_ESP, capture.payload.clone()),
    };
    match (capture.src.ip(), capture.dst.ip()) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            let total = u16::try_from(20 + body.len()).ok()?;
            let mut packet = Vec::with_capacity(usize::from(total));
            packet.extend_from_slice(&[0x45, 0]);
            packet.extend_from_slice(&total.to_be_bytes());
            packet.extend_from_slice(&ident.to_be_bytes());
            packet.extend_from_slice(&[0, 0, 64, protocol, 0, 0]);
            packet.extend_from_slice(&src.octets());
            packet.extend_from_slice(&dst.octets());
            let checksum = internet_checksum(&[&packet]);
            packet[10..12].copy_from_slice(&checksum.to_be_bytes());
            packet.extend_from_slice(&body);
            Some(packet)
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            let length = u16::try_from(body.len()).ok()?;
            let mut packet = Vec::with_capacity(40 + body.len());
            packet.extend_from_slice(&[0x60, 0, 0, 0]);
            packet.extend_from_slice(&length.to_be_bytes());
            packet.extend_from_slice(&[protocol, 64]);
            packet.extend_from_slice(&src.octets());
            packet.extend_from_slice(&dst.octets());
            packet.extend_from_slice(&body);
            Some(packet)
        }
        _ => None,
    }
}

fn global_header() -> [u8; 24] {
    let mut header = [0; 24];
    header[0..4].copy_from_slice(&0xa1b2_c3d4_u32.to_le_bytes());
    header[4..6].copy_from_slice(&2u16.to_le_bytes());
    header[6..8].copy_from_slice(&4u16.to_le_bytes());
    // thiszone and sigfigs stay zero.
    header[16..20].copy_from_slice(&65_535u32.to_le_bytes());
    header[20..24].copy_from_slice(&LINKTYPE_RAW.to_le_bytes());
    header
}

/// A UDP header and payload, with the checksum computed over the pseudo-header (mandatory for
/// IPv6, RFC 8200 §8.1; computed for IPv4 too).
fn udp_datagram(capture: &Capture) -> Option<Vec<u8>> {
    let length = u16::try_from(8 + capture.payload.len()).ok()?;
    let mut datagram = Vec::with_capacity(usize::from(length));
    datagram.extend_from_slice(&capture.src.port().to_be_bytes());
    datagram.extend_from_slice(&capture.dst.port().to_be_bytes());
    datagram.extend_from_slice(&length.to_be_bytes());
    datagram.extend_from_slice(&[0, 0]);
    datagram.extend_from_slice(&capture.payload);
    let pseudo = pseudo_header(capture.src.ip(), capture.dst.ip(), length)?;
    let checksum = match internet_checksum(&[&pseudo, &datagram]) {
        0 => 0xffff,
        sum => sum,
    };
    datagram[6..8].copy_from_slice(&checksum.to_be_bytes());
    Some(datagram)
}

fn pseudo_header(src: IpAddr, dst: IpAddr, length: u16) -> Option<Vec<u8>> {
    let mut pseudo = Vec::with_capacity(40);
    match (src, dst) {
        (IpAddr::V4(src), IpAddr::V4(dst)) => {
            pseudo.extend_from_slice(&src.octets());
            pseudo.extend_from_slice(&dst.octets());
            pseudo.extend_from_slice(&[0, PROTO_UDP]);
            pseudo.extend_from_slice(&length.to_be_bytes());
        }
        (IpAddr::V6(src), IpAddr::V6(dst)) => {
            pseudo.extend_from_slice(&src.octets());
            pseudo.extend_from_slice(&dst.octets());
            pseudo.extend_from_slice(&u32::from(length).to_be_bytes());
            pseudo.extend_from_slice(&[0, 0, 0, PROTO_UDP]);
        }
        _ => return None,
    }
    Some(pseudo)
}

/// The RFC 1071 one's-complement checksum of the concatenated parts (each of even length except
/// possibly the last).
pub(crate) fn internet_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for part in parts {
        let mut chunks = part.chunks_exact(2);
        for pair in &mut chunks {
            sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
        }
        if let [last] = chunks.remainder() {
            sum += u32::from(*last) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop above folded the sum into 16 bits.
    !u16::try_from(sum).unwrap_or(u16::MAX)
}

const LINKTYPE_RAW: u32 = 101;
const PROTO_UDP: u8 = 17;
const PROTO_ESP: u8 = 50;

#[cfg(test)]
mod tests {
    use super::*;

    fn capture(src: &str, dst: &str, transport: Transport, payload: &[u8]) -> Capture {
        Capture {
            at: Duration::from_millis(1500),
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            transport,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn ipv4_udp_headers_are_well_formed() {
        let packet = ip_packet(
            &capture("192.0.2.1:500", "192.0.2.2:500", Transport::Udp, b"ike!"),
            7,
        )
        .unwrap();
        assert_eq!(packet.len(), 20 + 8 + 4);
        assert_eq!(packet[0], 0x45);
        assert_eq!(u16::from_be_bytes([packet[2], packet[3]]), 32);
        assert_eq!(packet[9], 17);
        // A correct header checksums to zero.
        assert_eq!(internet_checksum(&[&packet[..20]]), 0);
        assert_eq!(&packet[20..24], &[0x01, 0xf4, 0x01, 0xf4]);
        assert_eq!(u16::from_be_bytes([packet[24], packet[25]]), 12);
        let pseudo = pseudo_header(
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            12,
        )
        .unwrap();
        assert_eq!(internet_checksum(&[&pseudo, &packet[20..]]), 0);
    }

    #[test]
    fn ipv6_esp_packet_has_next_header_50() {
        let packet = ip_packet(
            &capture(
                "[2001:db8::1]:0",
                "[2001:db8::2]:0",
                Transport::Esp,
                &[1; 16],
            ),
            0,
        )
        .unwrap();
        assert_eq!(packet.len(), 56);
        assert_eq!(packet[0] >> 4, 6);
        assert_eq!(u16::from_be_bytes([packet[4], packet[5]]), 16);
        assert_eq!(packet[6], 50);
    }

    #[test]
    fn mixed_families_are_skipped() {
        let mixed = capture("192.0.2.1:500", "[2001:db8::2]:500", Transport::Udp, b"x");
        assert_eq!(ip_packet(&mixed, 0), None);
    }

    #[test]
    fn file_has_global_header_and_records() {
        let mut out = Vec::new();
        let one = capture("192.0.2.1:4500", "192.0.2.2:4500", Transport::Udp, &[0xff]);
        write_pcap(&mut out, &[one.clone(), one]).unwrap();
        assert_eq!(&out[..4], &0xa1b2_c3d4_u32.to_le_bytes());
        assert_eq!(u32::from_le_bytes(out[20..24].try_into().unwrap()), 101);
        let record = 16 + 20 + 8 + 1;
        assert_eq!(out.len(), 24 + 2 * record);
        let seconds = u32::from_le_bytes(out[24..28].try_into().unwrap());
        assert_eq!(u64::from(seconds), EPOCH + 1);
        assert_eq!(u32::from_le_bytes(out[28..32].try_into().unwrap()), 500_000);
    }
}
