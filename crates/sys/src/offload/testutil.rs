#![allow(clippy::cast_possible_truncation)] // test data is small

//! Packet builders and an independent checksum verifier for the offload tests.
//!
//! The verifier lays the pseudo-header out as bytes and sums big-endian 16-bit words the
//! textbook way, sharing no code with [`crate::checksum`].

use crate::vnet::{F_NEEDS_CSUM, GsoType, VirtioNetHdr};

pub(crate) const SRC4: [u8; 4] = [10, 212, 0, 1];
pub(crate) const DST4: [u8; 4] = [10, 212, 0, 2];
pub(crate) const SRC6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
pub(crate) const DST6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];

#[derive(Clone, Debug)]
pub(crate) struct Tcp {
    pub(crate) v6: bool,
    pub(crate) sport: u16,
    pub(crate) dport: u16,
    pub(crate) seq: u32,
    pub(crate) ack: u32,
    pub(crate) flags: u8,
    pub(crate) window: u16,
    pub(crate) options: Vec<u8>,
    pub(crate) id: u16,
    pub(crate) payload: Vec<u8>,
}

impl Default for Tcp {
    fn default() -> Self {
        Self {
            v6: false,
            sport: 40_000,
            dport: 5201,
            seq: 0xfffff000,
            ack: 77,
            flags: 0x10,
            window: 512,
            // NOP NOP timestamps, as Linux sends.
            options: vec![1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2],
            id: 0xfff0,
            payload: Vec::new(),
        }
    }
}

pub(crate) fn data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 3) as u8
        })
        .collect()
}

fn ip_header(v6: bool, protocol: u8, upper_len: usize, id: u16) -> Vec<u8> {
    if v6 {
        let mut h = vec![0x60, 0, 0, 0];
        h.extend_from_slice(&(upper_len as u16).to_be_bytes());
        h.extend_from_slice(&[protocol, 64]);
        h.extend_from_slice(&SRC6);
        h.extend_from_slice(&DST6);
        h
    } else {
        let mut h = vec![0x45, 0];
        h.extend_from_slice(&((upper_len + 20) as u16).to_be_bytes());
        h.extend_from_slice(&id.to_be_bytes());
        h.extend_from_slice(&[0x40, 0, 64, protocol, 0, 0]);
        h.extend_from_slice(&SRC4);
        h.extend_from_slice(&DST4);
        let c = reference_sum(&h);
        h[10..12].copy_from_slice(&(!c).to_be_bytes());
        h
    }
}

/// A TCP packet with correct checksums.
pub(crate) fn tcp_packet(t: &Tcp) -> Vec<u8> {
    let thl = 20 + t.options.len();
    assert_eq!(thl % 4, 0);
    let mut p = ip_header(t.v6, 6, thl + t.payload.len(), t.id);
    let l4 = p.len();
    p.extend_from_slice(&t.sport.to_be_bytes());
    p.extend_from_slice(&t.dport.to_be_bytes());
    p.extend_from_slice(&t.seq.to_be_bytes());
    p.extend_from_slice(&t.ack.to_be_bytes());
    p.push(((thl / 4) as u8) << 4);
    p.push(t.flags);
    p.extend_from_slice(&t.window.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0]);
    p.extend_from_slice(&t.options);
    p.extend_from_slice(&t.payload);
    let c = !reference_sum(&pseudo_and_segment(&p, l4, 6));
    p[l4 + 16..l4 + 18].copy_from_slice(&c.to_be_bytes());
    p
}

/// A UDP packet with correct checksums.
pub(crate) fn udp_packet(v6: bool, payload: &[u8], id: u16) -> Vec<u8> {
    let mut p = ip_header(v6, 17, 8 + payload.len(), id);
    let l4 = p.len();
    p.extend_from_slice(&4500u16.to_be_bytes());
    p.extend_from_slice(&4501u16.to_be_bytes());
    p.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    p.extend_from_slice(payload);
    let mut c = !reference_sum(&pseudo_and_segment(&p, l4, 17));
    if c == 0 {
        c = 0xffff;
    }
    p[l4 + 6..l4 + 8].copy_from_slice(&c.to_be_bytes());
    p
}

/// Turns a packet into what the kernel hands a TUN reader for TSO/USO: the transport checksum
/// field holds the folded pseudo-header sum for the whole length, `NEEDS_CSUM` is set.
pub(crate) fn as_super_packet(p: &mut [u8], gso_type: GsoType, gso_size: u16) -> VirtioNetHdr {
    let v6 = p[0] >> 4 == 6;
    let l4 = if v6 { 40 } else { 20 };
    let (proto, off) = if gso_type == GsoType::UdpL4 {
        (17, 6)
    } else {
        (6, 16)
    };
    let mut pseudo = Vec::new();
    lay_pseudo(&mut pseudo, p, l4, proto);
    let partial = reference_sum(&pseudo);
    p[l4 + off..l4 + off + 2].copy_from_slice(&partial.to_be_bytes());
    VirtioNetHdr {
        flags: F_NEEDS_CSUM,
        gso_type,
        ecn: false,
        hdr_len: 0,
        gso_size,
        csum_start: l4 as u16,
        csum_offset: off as u16,
    }
}

/// Checks the IPv4 header checksum and the transport checksum with the reference code, and
/// that the length fields match the buffer.
pub(crate) fn assert_valid(p: &[u8]) {
    let v6 = p[0] >> 4 == 6;
    let l4 = if v6 { 40 } else { usize::from(p[0] & 15) * 4 };
    let proto = if v6 { p[6] } else { p[9] };
    if v6 {
        assert_eq!(
            usize::from(u16::from_be_bytes([p[4], p[5]])) + 40,
            p.len(),
            "ipv6 length"
        );
    } else {
        assert_eq!(
            usize::from(u16::from_be_bytes([p[2], p[3]])),
            p.len(),
            "ipv4 length"
        );
        assert_eq!(reference_sum(&p[..l4]), 0xffff, "ipv4 header checksum");
    }
    if proto == 17 {
        assert_eq!(
            usize::from(u16::from_be_bytes([p[l4 + 4], p[l4 + 5]])),
            p.len() - l4
        );
    }
    assert_eq!(
        reference_sum(&pseudo_and_segment(p, l4, proto)),
        0xffff,
        "transport checksum"
    );
}

fn pseudo_and_segment(p: &[u8], l4: usize, proto: u8) -> Vec<u8> {
    let mut v = Vec::new();
    lay_pseudo(&mut v, p, l4, proto);
    v.extend_from_slice(&p[l4..]);
    v
}

fn lay_pseudo(v: &mut Vec<u8>, p: &[u8], l4: usize, proto: u8) {
    let upper = (p.len() - l4) as u32;
    if p[0] >> 4 == 6 {
        v.extend_from_slice(&p[8..40]);
        v.extend_from_slice(&upper.to_be_bytes());
        v.extend_from_slice(&[0, 0, 0, proto]);
    } else {
        v.extend_from_slice(&p[12..20]);
        v.extend_from_slice(&[0, proto]);
        v.extend_from_slice(&(upper as u16).to_be_bytes());
    }
}

/// Textbook one's-complement sum of big-endian words, not complemented.
pub(crate) fn reference_sum(d: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for w in d.chunks(2) {
        s += (u32::from(w[0]) << 8) | u32::from(*w.get(1).unwrap_or(&0));
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}
