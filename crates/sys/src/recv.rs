//! Batched receive (`recvmmsg`) into one buffer of fixed-size slots, with the UDP GRO segment
//! size and the local address (`IP_PKTINFO` / `IPV6_PKTINFO`) of each datagram.

#![allow(unsafe_code)]

use std::io;
use std::mem::{MaybeUninit, size_of};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::ops::Range;
use std::os::fd::{AsRawFd, BorrowedFd};

use crate::fd::cvt;
use crate::sockaddr::{self, socklen};

/// Most slots in one batch.
pub const MAX_SLOTS: usize = 64;
/// Control buffer per slot, in 8-byte words (room for UDP_GRO and a pktinfo).
const CTRL_WORDS: usize = 16;

/// Received datagrams: a buffer of `slots` × `slot_size` bytes and what the kernel said about
/// each. With UDP GRO one slot holds several datagrams of one flow laid end to end; iterate
/// them with [`RecvBatch::segments`].
#[derive(Debug)]
pub struct RecvBatch {
    buf: Box<[u8]>,
    slot_size: usize,
    meta: Vec<RecvMeta>,
    count: usize,
    names: Vec<libc::sockaddr_storage>,
    ctrl: Vec<[u64; CTRL_WORDS]>,
}

/// One received slot.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct RecvMeta {
    /// Where the payload is in the batch buffer (for raw IPv4 sockets, after the IP header).
    pub data: Range<usize>,
    /// Size of each coalesced datagram (UDP GRO); equal to the data length without GRO.
    pub segment_size: usize,
    /// The sender.
    pub source: Option<SocketAddr>,
    /// The local address the datagram was sent to (with pktinfo enabled).
    pub local: Option<IpAddr>,
    /// The datagram did not fit its slot and was cut: drop it.
    pub truncated: bool,
}

impl RecvBatch {
    /// A batch of `slots` slots (at most [`MAX_SLOTS`]) of `slot_size` bytes each. With UDP GRO
    /// a slot should hold 65,535 bytes, or the kernel cuts coalesced datagrams.
    pub fn new(slots: usize, slot_size: usize) -> Self {
        let slots = slots.clamp(1, MAX_SLOTS);
        let empty = RecvMeta {
            data: 0..0,
            segment_size: 0,
            source: None,
            local: None,
            truncated: false,
        };
        // SAFETY: sockaddr_storage is plain data; all-zero is valid.
        let name: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
        Self {
            buf: vec![0; slots * slot_size].into_boxed_slice(),
            slot_size,
            meta: vec![empty; slots],
            count: 0,
            names: vec![name; slots],
            ctrl: vec![[0; CTRL_WORDS]; slots],
        }
    }

    /// The slots filled by the last receive.
    pub fn received(&self) -> &[RecvMeta] {
        &self.meta[..self.count]
    }

    /// The whole buffer (index it with [`RecvMeta::data`] or [`RecvBatch::segments`]).
    pub fn buf(&self) -> &[u8] {
        &self.buf
    }

    /// The whole buffer, mutable (to decapsulate in place).
    pub fn buf_mut(&mut self) -> &mut [u8] {
        &mut self.buf
    }

    /// The datagrams of a slot: ranges of `segment_size` bytes, the last possibly shorter.
    pub fn segments(meta: &RecvMeta) -> impl Iterator<Item = Range<usize>> + use<> {
        let step = meta.segment_size.max(1);
        let Range { start, end } = meta.data;
        (start..end)
            .step_by(step)
            .map(move |s| s..(s + step).min(end))
    }

    /// Moves the start of a slot's data forward (to skip an IP header).
    pub(crate) fn skip(&mut self, i: usize, n: usize) {
        if let Some(m) = self.meta.get_mut(i) {
            m.data.start = (m.data.start + n).min(m.data.end);
            m.segment_size = m.data.len();
        }
    }

    pub(crate) fn slots(&self) -> usize {
        self.meta.len()
    }
}

/// `recvmmsg` into `batch`, waiting for the first datagram (unless the socket is non-blocking)
/// and taking whatever else is queued. Returns the number of slots filled.
pub(crate) fn recv_batch(fd: BorrowedFd<'_>, batch: &mut RecvBatch) -> io::Result<usize> {
    let n = batch.slots();
    let slot_size = batch.slot_size;
    // Only the first `n` entries are used; the rest stay uninitialised (nothing to zero).
    let mut iovs = [MaybeUninit::<libc::iovec>::uninit(); MAX_SLOTS];
    let mut hdrs = [MaybeUninit::<libc::mmsghdr>::uninit(); MAX_SLOTS];
    let base = batch.buf.as_mut_ptr();
    for i in 0..n {
        // SAFETY: slot i lies within the buffer: i < slots and the buffer is slots * slot_size.
        let iov_base = unsafe { base.add(i * slot_size) }.cast();
        let iov = iovs[i].write(libc::iovec {
            iov_base,
            iov_len: slot_size,
        });
        // SAFETY: mmsghdr is plain data; all-zero is valid.
        let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
        m.msg_hdr.msg_name = (&raw mut batch.names[i]).cast();
        m.msg_hdr.msg_namelen = socklen::<libc::sockaddr_storage>();
        m.msg_hdr.msg_iov = iov;
        m.msg_hdr.msg_iovlen = 1;
        m.msg_hdr.msg_control = batch.ctrl[i].as_mut_ptr().cast();
        m.msg_hdr.msg_controllen = size_of::<[u64; CTRL_WORDS]>();
        hdrs[i].write(m);
    }
    let vlen = libc::c_uint::try_from(n).unwrap_or(1);
    // SAFETY: the first n headers are initialised and point at buffers owned by `batch` or
    // the arrays above, which outlive the call; vlen is n.
    let got = cvt(unsafe {
        libc::recvmmsg(
            fd.as_raw_fd(),
            hdrs.as_mut_ptr().cast::<libc::mmsghdr>(),
            vlen,
            libc::MSG_WAITFORONE,
            std::ptr::null_mut(),
        )
    })?;
    let got = usize::try_from(got).unwrap_or(0).min(n);
    for (i, h) in hdrs.iter().enumerate().take(got) {
        // SAFETY: entries below n were initialised above, and got <= n.
        let h = unsafe { h.assume_init_ref() };
        let len = usize::try_from(h.msg_len).unwrap_or(0).min(slot_size);
        let (gro, local) = parse_control(&h.msg_hdr);
        let start = i * slot_size;
        batch.meta[i] = RecvMeta {
            data: start..start + len,
            segment_size: gro.filter(|&g| g > 0).unwrap_or(len),
            source: sockaddr::to_std(&batch.names[i]),
            local,
            truncated: h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0,
        };
    }
    batch.count = got;
    Ok(got)
}

/// The UDP GRO segment size and the pktinfo destination address in a received header.
fn parse_control(h: &libc::msghdr) -> (Option<usize>, Option<IpAddr>) {
    let mut gro = None;
    let mut local = None;
    // SAFETY: the header's control pointer and length are what the kernel filled in for a
    // buffer we own; CMSG_FIRSTHDR/NXTHDR stay within msg_controllen.
    let mut cm = unsafe { libc::CMSG_FIRSTHDR(h) };
    while !cm.is_null() {
        // SAFETY: non-null cmsg pointers from CMSG_FIRSTHDR/NXTHDR point at a whole header.
        let c = unsafe { &*cm };
        // SAFETY: CMSG_DATA points inside the control message just validated.
        let data = unsafe { libc::CMSG_DATA(cm) };
        match (c.cmsg_level, c.cmsg_type) {
            (libc::SOL_UDP, libc::UDP_GRO) => {
                // SAFETY: UDP_GRO carries one int; read unaligned as cmsg data may be packed.
                let v = unsafe { std::ptr::read_unaligned(data.cast::<libc::c_int>()) };
                gro = usize::try_from(v).ok();
            }
            (libc::IPPROTO_IP, libc::IP_PKTINFO) => {
                // SAFETY: IP_PKTINFO carries an in_pktinfo.
                let p = unsafe { std::ptr::read_unaligned(data.cast::<libc::in_pktinfo>()) };
                local = Some(IpAddr::V4(Ipv4Addr::from(p.ipi_addr.s_addr.to_ne_bytes())));
            }
            (libc::IPPROTO_IPV6, libc::IPV6_PKTINFO) => {
                // SAFETY: IPV6_PKTINFO carries an in6_pktinfo.
                let p = unsafe { std::ptr::read_unaligned(data.cast::<libc::in6_pktinfo>()) };
                local = Some(IpAddr::V6(Ipv6Addr::from(p.ipi6_addr.s6_addr)));
            }
            _ => {}
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cm = unsafe { libc::CMSG_NXTHDR(h, cm) };
    }
    (gro, local)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_cover_the_data_in_segment_size_steps() {
        let m = RecvMeta {
            data: 100..100 + 3 * 1400 + 10,
            segment_size: 1400,
            source: None,
            local: None,
            truncated: false,
        };
        let segs: Vec<_> = RecvBatch::segments(&m).collect();
        assert_eq!(segs, vec![100..1500, 1500..2900, 2900..4300, 4300..4310]);
        let empty = RecvMeta {
            data: 5..5,
            segment_size: 0,
            ..m
        };
        assert_eq!(RecvBatch::segments(&empty).count(), 0);
    }
}
