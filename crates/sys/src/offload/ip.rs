//! Minimal IPv4/IPv6/TCP/UDP field access shared by segmentation and coalescing.

use crate::checksum::{Checksum, pseudo_header};

pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;
pub(crate) const IPV4_MIN_HDR: usize = 20;
pub(crate) const IPV6_HDR: usize = 40;
pub(crate) const TCP_MIN_HDR: usize = 20;
pub(crate) const UDP_HDR: usize = 8;
/// Offset of the checksum in a TCP header.
pub(crate) const TCP_CSUM: usize = 16;
/// Offset of the checksum in a UDP header.
pub(crate) const UDP_CSUM: usize = 6;

pub(crate) const TCP_FIN: u8 = 0x01;
pub(crate) const TCP_PSH: u8 = 0x08;
pub(crate) const TCP_ACK: u8 = 0x10;
pub(crate) const TCP_CWR: u8 = 0x80;

/// IP version of a packet.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Family {
    V4,
    V6,
}

/// The parts of an IP header segmentation and coalescing need.
#[derive(Clone, Copy, Debug)]
pub(crate) struct IpHeader {
    pub(crate) family: Family,
    /// Length of the IP header (IPv4 with options; IPv6 fixed header only).
    pub(crate) len: usize,
    /// Protocol (IPv4) or next header (IPv6).
    pub(crate) protocol: u8,
}

impl IpHeader {
    /// Parses the fixed part of an IPv4 or IPv6 header; `None` if malformed.
    pub(crate) fn parse(p: &[u8]) -> Option<Self> {
        let first = *p.first()?;
        match first >> 4 {
            4 => {
                let len = usize::from(first & 0x0f) * 4;
                if len < IPV4_MIN_HDR || p.len() < len {
                    return None;
                }
                Some(Self {
                    family: Family::V4,
                    len,
                    protocol: p[9],
                })
            }
            6 if p.len() >= IPV6_HDR => Some(Self {
                family: Family::V6,
                len: IPV6_HDR,
                protocol: p[6],
            }),
            _ => None,
        }
    }
}

/// The address bytes (source then destination) of an IP packet whose header was parsed.
pub(crate) fn addresses(family: Family, p: &[u8]) -> &[u8] {
    match family {
        Family::V4 => &p[12..20],
        Family::V6 => &p[8..40],
    }
}

/// Pseudo-header sum for a transport segment of `upper_len` bytes.
pub(crate) fn pseudo(family: Family, p: &[u8], protocol: u8, upper_len: usize) -> Checksum {
    let a = addresses(family, p);
    let half = a.len() / 2;
    // Upper-layer lengths are bounded by the 64 KiB packets we handle.
    let len = u32::try_from(upper_len).unwrap_or(u32::MAX);
    pseudo_header(&a[..half], &a[half..], protocol, len)
}

/// Sets the length fields of an IP header for a packet of `total` bytes (IPv4 total length,
/// IPv6 payload length) and, for IPv4, the identification and the header checksum.
pub(crate) fn set_lengths(family: Family, ip: &mut [u8], hdr_len: usize, total: usize, id: u16) {
    match family {
        Family::V4 => {
            put_u16(ip, 2, clamp16(total));
            put_u16(ip, 4, id);
            put_u16(ip, 10, 0);
            let c = crate::checksum::checksum(&ip[..hdr_len]);
            put_u16(ip, 10, c);
        }
        Family::V6 => put_u16(ip, 4, clamp16(total - IPV6_HDR)),
    }
}

pub(crate) fn clamp16(v: usize) -> u16 {
    u16::try_from(v).unwrap_or(u16::MAX)
}

pub(crate) fn get_u16(p: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([p[at], p[at + 1]])
}

pub(crate) fn get_u32(p: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]])
}

pub(crate) fn put_u16(p: &mut [u8], at: usize, v: u16) {
    p[at..at + 2].copy_from_slice(&v.to_be_bytes());
}

pub(crate) fn put_u32(p: &mut [u8], at: usize, v: u32) {
    p[at..at + 4].copy_from_slice(&v.to_be_bytes());
}
