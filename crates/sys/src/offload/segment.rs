//! Segmentation of a super-packet read from a TUN device (software TSO/USO).
//!
//! The kernel hands us, under a `virtio_net_hdr` with `gso_type` TCPV4/TCPV6/UDP_L4, one IP
//! packet of up to 64 KiB whose transport payload must be cut into `gso_size` pieces. Each
//! piece gets a copy of the IP and transport headers with:
//!
//! - IPv4 total length, an identification incremented per segment, and a fresh header checksum
//!   ([RFC 791 §3.1]); IPv6 payload length ([RFC 8200 §3]);
//! - TCP: the sequence number advanced by the payload offset, FIN and PSH only on the last
//!   segment, CWR only on the first ([RFC 9293 §3.1], [RFC 3168 §6.1.2]), as the kernel's own
//!   TSO does; UDP: the length of the piece ([RFC 768]);
//! - a full transport checksum over the pseudo-header. The checksum field the kernel handed us
//!   holds a partial sum for the super-packet's length, so it is recomputed, not trusted.
//!
//! A packet without GSO is passed through as one segment; if its checksum is partial
//! (`NEEDS_CSUM`) it is completed the way the kernel expects: the field already holds the
//! pseudo-header sum, so the sum from `csum_start` to the end is folded and complemented.
//!
//! [RFC 791 §3.1]: https://www.rfc-editor.org/rfc/rfc791#section-3.1
//! [RFC 8200 §3]: https://www.rfc-editor.org/rfc/rfc8200#section-3
//! [RFC 9293 §3.1]: https://www.rfc-editor.org/rfc/rfc9293#section-3.1
//! [RFC 3168 §6.1.2]: https://www.rfc-editor.org/rfc/rfc3168#section-6.1.2
//! [RFC 768]: https://www.rfc-editor.org/rfc/rfc768

use super::OffloadError;
use super::ip::{
    Family, IpHeader, PROTO_TCP, PROTO_UDP, TCP_CSUM, TCP_CWR, TCP_FIN, TCP_MIN_HDR, TCP_PSH,
    UDP_CSUM, UDP_HDR, get_u16, get_u32, pseudo, put_u16, put_u32, set_lengths,
};
use crate::checksum::Checksum;
use crate::vnet::{GsoType, VirtioNetHdr};

/// The segments of one packet read from a TUN device, written one at a time into caller
/// buffers by [`Segments::write_next`].
#[derive(Clone, Debug)]
pub struct Segments<'a> {
    packet: &'a [u8],
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    /// Pass through, completing a partial checksum if `csum` is set.
    Single {
        csum: Option<(usize, usize)>,
        done: bool,
    },
    /// TSO or USO.
    Split(Split),
}

#[derive(Clone, Copy, Debug)]
struct Split {
    family: Family,
    protocol: u8,
    /// Length of the IPv4 header (with options) or of the fixed IPv6 header.
    ip_hdr: usize,
    /// Offset of the transport header.
    l4: usize,
    /// IP plus transport header length.
    hdr_len: usize,
    mss: usize,
    /// Offset of the next segment's payload, from `hdr_len`.
    next: usize,
    payload_len: usize,
    index: u16,
    id0: u16,
    seq0: u32,
}

impl<'a> Segments<'a> {
    /// Prepares the segmentation of `packet` (an IP packet, the `virtio_net_hdr` removed).
    ///
    /// # Errors
    ///
    /// [`OffloadError`] when the header or packet is malformed or asks for an unsupported
    /// offload; nothing is written then and the packet should be dropped.
    pub fn new(vnet: &VirtioNetHdr, packet: &'a [u8]) -> Result<Self, OffloadError> {
        let ip = IpHeader::parse(packet).ok_or(OffloadError::BadIpHeader)?;
        let protocol = match vnet.gso_type {
            GsoType::None => return Self::single(vnet, packet),
            GsoType::TcpV4 if ip.family == Family::V4 => PROTO_TCP,
            GsoType::TcpV6 if ip.family == Family::V6 => PROTO_TCP,
            GsoType::UdpL4 => PROTO_UDP,
            GsoType::TcpV4 | GsoType::TcpV6 => return Err(OffloadError::BadIpHeader),
            GsoType::Other(_) => return Err(OffloadError::Unsupported),
        };
        // The transport header starts at csum_start (the kernel always sets NEEDS_CSUM with
        // GSO); that also steps over IPv6 extension headers.
        let l4 = if vnet.needs_csum() {
            usize::from(vnet.csum_start)
        } else {
            ip.len
        };
        if l4 < ip.len || (ip.family == Family::V6 && l4 == ip.len && ip.protocol != protocol) {
            return Err(OffloadError::BadIpHeader);
        }
        if ip.family == Family::V4 && ip.protocol != protocol {
            return Err(OffloadError::BadIpHeader);
        }
        let l4_len = if protocol == PROTO_TCP {
            let off = packet
                .get(l4 + 12)
                .ok_or(OffloadError::BadTransportHeader)?;
            usize::from(off >> 4) * 4
        } else {
            UDP_HDR
        };
        if l4_len < UDP_HDR || (protocol == PROTO_TCP && l4_len < TCP_MIN_HDR) {
            return Err(OffloadError::BadTransportHeader);
        }
        let hdr_len = l4 + l4_len;
        if hdr_len > packet.len() {
            return Err(OffloadError::BadTransportHeader);
        }
        let mss = usize::from(vnet.gso_size);
        if mss == 0 {
            return Err(OffloadError::Unsupported);
        }
        let seq0 = if protocol == PROTO_TCP {
            get_u32(packet, l4 + 4)
        } else {
            0
        };
        let id0 = if ip.family == Family::V4 {
            get_u16(packet, 4)
        } else {
            0
        };
        Ok(Self {
            packet,
            kind: Kind::Split(Split {
                family: ip.family,
                protocol,
                ip_hdr: ip.len,
                l4,
                hdr_len,
                mss,
                next: 0,
                payload_len: packet.len() - hdr_len,
                index: 0,
                id0,
                seq0,
            }),
        })
    }

    /// Number of segments in all (including those already written).
    pub fn count(&self) -> usize {
        match self.kind {
            Kind::Single { .. } => 1,
            Kind::Split(s) => s.payload_len.div_ceil(s.mss).max(1),
        }
    }

    /// Length of a full-sized segment: all segments but the last have exactly this length, and
    /// the last is no longer.
    pub fn segment_len(&self) -> usize {
        match self.kind {
            Kind::Single { .. } => self.packet.len(),
            Kind::Split(s) => s.hdr_len + s.mss.min(s.payload_len),
        }
    }

    /// Length of the next segment, or `None` when all have been written.
    pub fn next_len(&self) -> Option<usize> {
        match self.kind {
            Kind::Single { done, .. } => (!done).then_some(self.packet.len()),
            Kind::Split(s) => {
                let left = s.payload_len.checked_sub(s.next)?;
                if left == 0 && (s.next > 0 || s.payload_len > 0) {
                    return None;
                }
                Some(s.hdr_len + left.min(s.mss))
            }
        }
    }

    /// Writes the next segment at the start of `out` and returns its length, or `Ok(None)` when
    /// all segments have been written.
    ///
    /// # Errors
    ///
    /// [`OffloadError::BufferTooSmall`] if `out` is shorter than [`Segments::next_len`]; the
    /// segment is not consumed.
    pub fn write_next(&mut self, out: &mut [u8]) -> Result<Option<usize>, OffloadError> {
        let Some(len) = self.next_len() else {
            return Ok(None);
        };
        let out = out
            .get_mut(..len)
            .ok_or(OffloadError::BufferTooSmall(len))?;
        match &mut self.kind {
            Kind::Single { csum, done } => {
                out.copy_from_slice(self.packet);
                if let Some((start, field)) = *csum {
                    complete_partial(out, start, field);
                }
                *done = true;
            }
            Kind::Split(s) => {
                write_split(s, self.packet, out);
            }
        }
        Ok(Some(len))
    }

    fn single(vnet: &VirtioNetHdr, packet: &'a [u8]) -> Result<Self, OffloadError> {
        let csum = if vnet.needs_csum() {
            let start = usize::from(vnet.csum_start);
            let field = start + usize::from(vnet.csum_offset);
            if field + 2 > packet.len() {
                return Err(OffloadError::Unsupported);
            }
            Some((start, field))
        } else {
            None
        };
        Ok(Self {
            packet,
            kind: Kind::Single { csum, done: false },
        })
    }
}

/// Completes a partial checksum in place: the field holds the pseudo-header sum; the sum from
/// `start` to the end of the packet, complemented, replaces it.
pub fn complete_partial(packet: &mut [u8], start: usize, field: usize) {
    let mut c = Checksum::new();
    c.add_bytes(&packet[start..]);
    let mut v = c.finish();
    if v == 0 && field - start == UDP_CSUM {
        // RFC 768: a computed zero is sent as all ones.
        v = 0xffff;
    }
    put_u16(packet, field, v);
}

fn write_split(s: &mut Split, packet: &[u8], out: &mut [u8]) {
    let off = s.next;
    let n = out.len() - s.hdr_len;
    let last = off + n >= s.payload_len;
    out[..s.hdr_len].copy_from_slice(&packet[..s.hdr_len]);
    let src = s.hdr_len + off;
    out[s.hdr_len..].copy_from_slice(&packet[src..src + n]);
    let total = out.len();
    set_lengths(s.family, out, s.ip_hdr, total, s.id0.wrapping_add(s.index));
    let l4 = s.l4;
    let upper = total - l4;
    let csum_at = if s.protocol == PROTO_TCP {
        // Sequence number and flags of this piece (RFC 9293 §3.1; CWR per RFC 3168 §6.1.2).
        let seq = s.seq0.wrapping_add(u32::try_from(off).unwrap_or(0));
        put_u32(out, l4 + 4, seq);
        if !last {
            out[l4 + 13] &= !(TCP_FIN | TCP_PSH);
        }
        if s.index > 0 {
            out[l4 + 13] &= !TCP_CWR;
        }
        l4 + TCP_CSUM
    } else {
        put_u16(out, l4 + 4, super::ip::clamp16(upper));
        l4 + UDP_CSUM
    };
    put_u16(out, csum_at, 0);
    let mut c = pseudo(s.family, out, s.protocol, upper);
    c.add_bytes(&out[l4..]);
    let mut v = c.finish();
    if v == 0 && s.protocol == PROTO_UDP {
        // RFC 768: a computed zero is sent as all ones (zero means "no checksum").
        v = 0xffff;
    }
    put_u16(out, csum_at, v);
    s.next += n;
    s.index = s.index.wrapping_add(1);
    if n == 0 {
        // A super-packet without payload yields exactly one (header-only) segment.
        s.next = s.payload_len + 1;
    }
}

#[cfg(test)]
mod tests;
