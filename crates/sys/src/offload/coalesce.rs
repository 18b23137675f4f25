//! Coalescing received TCP segments into super-packets for a TUN write (software GRO).
//!
//! The packets of one receive batch (one or more UDP GRO datagrams, each segment decapsulated
//! in place) are pushed as ranges of the caller's buffer. Consecutive in-order segments of one
//! TCP flow with identical headers but for the sequence number (same ACK, window, options, TOS,
//! TTL) are merged, as the kernel's own TCP GRO does, into one packet written with a
//! `virtio_net_hdr` of `gso_type` TCPV4/TCPV6 and a partial checksum (`NEEDS_CSUM`: the
//! checksum field holds the pseudo-header sum, the kernel completes or verifies nothing more).
//! Everything else is written as it came, with a plain header.
//!
//! Order is kept within each flow: a packet of a flow that cannot be appended to the flow's
//! open group closes it, and groups and single packets are written in the order they were
//! started. Different flows may be reordered relative to each other, which TCP does not mind.
//!
//! Segment checksums are not verified before merging: on our data path every segment was
//! authenticated by ESP's ICV (RFC 4303 §3.4.4) or the outer UDP checksum, so a merged packet
//! carries the bytes its sender checksummed.

use std::io::IoSlice;
use std::ops::Range;

use super::ip::{
    Family, IpHeader, PROTO_TCP, TCP_ACK, TCP_CSUM, TCP_MIN_HDR, TCP_PSH, get_u16, get_u32, pseudo,
    put_u16, set_lengths,
};
use crate::vnet::{F_NEEDS_CSUM, GsoType, VNET_HDR_LEN, VirtioNetHdr};

/// Most segments merged into one super-packet.
pub const MAX_SEGMENTS: usize = 64;
/// Most flows with an open group at once; packets of further flows are written singly.
pub const MAX_FLOWS: usize = 16;
/// Largest IPv4 header plus largest TCP header.
const MAX_HDR: usize = 60 + 60;
/// Largest packet the kernel accepts from a TUN write.
const MAX_PACKET: usize = 65_535;

/// Merges TCP segments of a receive batch; reused across batches without allocating.
#[derive(Debug, Default)]
pub struct Coalescer {
    /// Output in order: single packets and groups.
    items: Vec<Item>,
    /// Groups, reused across batches (only the first `used` are live).
    groups: Vec<Group>,
    used: usize,
    /// Open group per flow: index into `groups`.
    open: Vec<usize>,
}

#[derive(Clone, Debug)]
enum Item {
    Single(Range<usize>),
    Group(usize),
}

#[derive(Clone, Debug, Default)]
struct Group {
    /// The first packet (its headers are the template).
    first: Range<usize>,
    family: Option<Family>,
    ip_hdr: usize,
    hdr_len: usize,
    mss: usize,
    payload_total: usize,
    next_seq: u32,
    /// Payload ranges of the segments after the first.
    more: Vec<Range<usize>>,
    /// The last segment was shorter than `mss` or had PSH: nothing more can follow.
    closed: bool,
    psh: bool,
}

/// A TCP segment that could join a group.
struct Candidate {
    family: Family,
    ip_hdr: usize,
    hdr_len: usize,
    payload: usize,
    seq: u32,
    psh: bool,
}

impl Coalescer {
    /// An empty coalescer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the IP packet `buf[packet]` to the batch.
    ///
    /// Malformed packets are not rejected here; they are written as they are and the kernel
    /// judges them.
    pub fn push(&mut self, buf: &[u8], packet: Range<usize>) {
        let Some(p) = buf.get(packet.clone()) else {
            return;
        };
        let Some(cand) = candidate(p) else {
            self.close_flow_of(buf, p);
            self.items.push(Item::Single(packet));
            return;
        };
        if let Some(slot) = self
            .open
            .iter()
            .position(|&g| same_flow(buf, &self.groups[g], p))
        {
            let g = self.open[slot];
            if self.try_append(buf, g, &cand, p, &packet) {
                if self.groups[g].closed {
                    self.open.swap_remove(slot);
                }
                return;
            }
            self.open.swap_remove(slot);
        }
        if self.open.len() >= MAX_FLOWS || cand.psh || cand.payload == 0 {
            self.items.push(Item::Single(packet));
            return;
        }
        let g = self.new_group(cand, packet);
        self.items.push(Item::Group(g));
        self.open.push(g);
    }

    /// Hands each packet of the batch to `write` as the slices of one TUN write (the
    /// `virtio_net_hdr` first), in order, then empties the batch.
    pub fn flush<E>(
        &mut self,
        buf: &[u8],
        mut write: impl FnMut(&[IoSlice<'_>]) -> Result<(), E>,
    ) -> Result<(), E> {
        let plain = VirtioNetHdr::PLAIN.encode();
        let mut result = Ok(());
        for item in &self.items {
            let r = match item {
                Item::Single(r) => write(&[IoSlice::new(&plain), IoSlice::new(&buf[r.clone()])]),
                Item::Group(g) => write_group(buf, &self.groups[*g], &mut write),
            };
            if result.is_ok() {
                result = r;
            }
        }
        self.items.clear();
        self.open.clear();
        self.used = 0;
        result
    }

    /// Whether nothing is waiting for [`Coalescer::flush`].
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn new_group(&mut self, cand: Candidate, packet: Range<usize>) -> usize {
        if self.used == self.groups.len() {
            self.groups.push(Group::default());
        }
        let g = &mut self.groups[self.used];
        g.first = packet;
        g.family = Some(cand.family);
        g.ip_hdr = cand.ip_hdr;
        g.hdr_len = cand.hdr_len;
        g.mss = cand.payload;
        g.payload_total = cand.payload;
        g.next_seq = cand
            .seq
            .wrapping_add(u32::try_from(cand.payload).unwrap_or(0));
        g.more.clear();
        g.closed = false;
        g.psh = false;
        self.used += 1;
        self.used - 1
    }

    fn try_append(
        &mut self,
        buf: &[u8],
        g: usize,
        cand: &Candidate,
        p: &[u8],
        packet: &Range<usize>,
    ) -> bool {
        let group = &self.groups[g];
        let first = &buf[group.first.clone()];
        let fits = !group.closed
            && group.family == Some(cand.family)
            && cand.seq == group.next_seq
            && cand.payload > 0
            && cand.payload <= group.mss
            && group.more.len() + 1 < MAX_SEGMENTS
            && group.hdr_len + group.payload_total + cand.payload <= MAX_PACKET
            && cand.hdr_len == group.hdr_len
            && same_headers(first, p, cand.family, cand.ip_hdr, cand.hdr_len);
        if !fits {
            return false;
        }
        let group = &mut self.groups[g];
        group.more.push(packet.start + cand.hdr_len..packet.end);
        group.payload_total += cand.payload;
        group.next_seq = cand
            .seq
            .wrapping_add(u32::try_from(cand.payload).unwrap_or(0));
        if cand.psh || cand.payload < group.mss {
            group.closed = true;
            group.psh = cand.psh;
        }
        true
    }

    /// A non-mergeable packet of a flow with an open group ends that group, so the flow's
    /// later segments cannot overtake it.
    fn close_flow_of(&mut self, buf: &[u8], p: &[u8]) {
        if let Some(slot) = self
            .open
            .iter()
            .position(|&g| same_flow(buf, &self.groups[g], p))
        {
            self.open.swap_remove(slot);
        }
    }
}

fn write_group<E>(
    buf: &[u8],
    g: &Group,
    write: &mut impl FnMut(&[IoSlice<'_>]) -> Result<(), E>,
) -> Result<(), E> {
    let first = &buf[g.first.clone()];
    if g.more.is_empty() {
        let plain = VirtioNetHdr::PLAIN.encode();
        return write(&[IoSlice::new(&plain), IoSlice::new(first)]);
    }
    let Some(family) = g.family else {
        return Ok(());
    };
    let mut hdr = [0u8; VNET_HDR_LEN + MAX_HDR];
    let total = g.hdr_len + g.payload_total;
    let (vnet, ip) = hdr.split_at_mut(VNET_HDR_LEN);
    let ip = &mut ip[..g.hdr_len];
    ip.copy_from_slice(&first[..g.hdr_len]);
    let id = if family == Family::V4 {
        get_u16(first, 4)
    } else {
        0
    };
    set_lengths(family, ip, g.ip_hdr, total, id);
    let l4 = g.ip_hdr;
    if g.psh {
        ip[l4 + 13] |= TCP_PSH;
    }
    // Partial checksum: the pseudo-header sum, folded and not complemented, for the kernel
    // to complete (NEEDS_CSUM semantics).
    let partial = pseudo(family, ip, PROTO_TCP, total - l4).fold();
    put_u16(ip, l4 + TCP_CSUM, partial);
    let v = VirtioNetHdr {
        flags: F_NEEDS_CSUM,
        gso_type: if family == Family::V4 {
            GsoType::TcpV4
        } else {
            GsoType::TcpV6
        },
        ecn: false,
        hdr_len: super::ip::clamp16(g.hdr_len),
        gso_size: super::ip::clamp16(g.mss),
        csum_start: super::ip::clamp16(l4),
        // The TCP checksum field's offset (RFC 9293 §3.1).
        csum_offset: 16,
    };
    vnet.copy_from_slice(&v.encode());
    let mut iov = [IoSlice::new(&[]); MAX_SEGMENTS + 2];
    iov[0] = IoSlice::new(&hdr[..VNET_HDR_LEN + g.hdr_len]);
    iov[1] = IoSlice::new(&first[g.hdr_len..]);
    for (slot, r) in iov[2..].iter_mut().zip(&g.more) {
        *slot = IoSlice::new(&buf[r.clone()]);
    }
    write(&iov[..2 + g.more.len()])
}

/// A TCP segment with data and only ACK (and PSH) set, not fragmented, without IPv6
/// extension headers: what GRO merges.
fn candidate(p: &[u8]) -> Option<Candidate> {
    let ip = IpHeader::parse(p)?;
    if ip.protocol != PROTO_TCP {
        return None;
    }
    match ip.family {
        Family::V4 => {
            // Whole, unfragmented, and exactly as long as its buffer.
            if get_u16(p, 6) & 0x3fff != 0 || usize::from(get_u16(p, 2)) != p.len() {
                return None;
            }
        }
        Family::V6 => {
            if usize::from(get_u16(p, 4)) + 40 != p.len() {
                return None;
            }
        }
    }
    let l4 = ip.len;
    let thl = usize::from(*p.get(l4 + 12)? >> 4) * 4;
    if thl < TCP_MIN_HDR || l4 + thl > p.len() {
        return None;
    }
    let flags = p[l4 + 13];
    if flags & !(TCP_ACK | TCP_PSH) != 0 || flags & TCP_ACK == 0 {
        return None;
    }
    Some(Candidate {
        family: ip.family,
        ip_hdr: ip.len,
        hdr_len: l4 + thl,
        payload: p.len() - l4 - thl,
        seq: get_u32(p, l4 + 4),
        psh: flags & TCP_PSH != 0,
    })
}

/// Same addresses and ports (the flow key); `p` may be any packet.
fn same_flow(buf: &[u8], g: &Group, p: &[u8]) -> bool {
    let first = &buf[g.first.clone()];
    let Some(ip) = IpHeader::parse(p) else {
        return false;
    };
    let Some(family) = g.family else { return false };
    if ip.family != family || ip.protocol != PROTO_TCP {
        return false;
    }
    let addrs = match family {
        Family::V4 => 12..20,
        Family::V6 => 8..40,
    };
    let ports = p.get(ip.len..ip.len + 4);
    first.get(addrs.clone()) == p.get(addrs)
        && ports.is_some()
        && first.get(g.ip_hdr..g.ip_hdr + 4) == ports
}

/// Headers equal but for lengths, IDs, checksums, sequence number and PSH: addresses, TOS or
/// traffic class and flow label, TTL or hop limit, ports, ACK, flags, window and options.
fn same_headers(a: &[u8], b: &[u8], family: Family, ip_hdr: usize, hdr_len: usize) -> bool {
    let ip_same = match family {
        Family::V4 => a[0..2] == b[0..2] && a[6..10] == b[6..10] && a[12..ip_hdr] == b[12..ip_hdr],
        Family::V6 => a[0..4] == b[0..4] && a[6..40] == b[6..40],
    };
    let l4 = ip_hdr;
    ip_same
        && a[l4..l4 + 4] == b[l4..l4 + 4]
        && a[l4 + 8..l4 + 13] == b[l4 + 8..l4 + 13]
        && (a[l4 + 13] & !TCP_PSH) == (b[l4 + 13] & !TCP_PSH)
        && a[l4 + 14..l4 + 16] == b[l4 + 14..l4 + 16]
        && a[l4 + 18..hdr_len] == b[l4 + 18..hdr_len]
}

#[cfg(test)]
mod tests;
