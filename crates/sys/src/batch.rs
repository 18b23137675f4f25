//! Buffers for batched sending: datagrams laid end to end, grouped into UDP GSO runs.
//!
//! A worker writes each outgoing datagram straight into [`GsoBatch::spare`] (segmenting a TUN
//! super-packet and encapsulating it in place, leaving room for the ESP header in front) and
//! then [`GsoBatch::commit`]s its length. Consecutive datagrams of equal size form a run that
//! the kernel sends with one `UDP_SEGMENT` message; a shorter datagram ends its run (the kernel
//! allows only the last segment to be short), a longer one starts a new run. One `sendmmsg`
//! sends all runs ([`crate::udp::UdpSocket::send_batch`]).

use std::ops::Range;

use crate::offload::Segments;

/// Most segments in one UDP GSO message (the kernel's `UDP_MAX_SEGMENTS` is at least 64).
pub const MAX_GSO_SEGMENTS: usize = 64;
/// Most payload bytes in one UDP GSO message (below the 65,507 bytes an IPv4 datagram holds).
pub const MAX_GSO_BYTES: usize = 65_000;
/// Most runs in one batch (one `mmsghdr` each).
pub const MAX_RUNS: usize = 64;

/// Outgoing datagrams to one destination, grouped into GSO runs.
#[derive(Debug)]
pub struct GsoBatch {
    buf: Box<[u8]>,
    len: usize,
    runs: Vec<Run>,
}

/// What [`GsoBatch::fill_from`] did.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Filled {
    /// Segments committed to the batch.
    pub committed: usize,
    /// Segments dropped (refused by `seal`, or malformed).
    pub dropped: usize,
}

/// Equal-sized datagrams (the last may be shorter) sent as one GSO message.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Run {
    /// Where the run's bytes are in the batch buffer.
    pub bytes: Range<usize>,
    /// Size of each datagram but the last.
    pub segment_size: usize,
    /// Number of datagrams.
    pub segments: usize,
    closed: bool,
}

impl GsoBatch {
    /// A batch with room for `capacity` bytes of datagrams.
    pub fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0; capacity].into_boxed_slice(),
            len: 0,
            runs: Vec::new(),
        }
    }

    /// The free space after the datagrams committed so far: write the next datagram at its
    /// start (at an offset of your choice if you need headroom, then commit the whole span).
    pub fn spare(&mut self) -> &mut [u8] {
        &mut self.buf[self.len..]
    }

    /// Free bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.len
    }

    /// Whether a new run can still be started (the batch has fewer than [`MAX_RUNS`]).
    pub fn has_room_for_run(&self) -> bool {
        self.runs.len() < MAX_RUNS
    }

    /// Appends the `len` bytes at the start of [`GsoBatch::spare`] as one datagram.
    ///
    /// Returns false (and appends nothing) if `len` exceeds the free space, is zero, or needs
    /// a new run while the batch already has [`MAX_RUNS`]: send the batch and retry.
    pub fn commit(&mut self, len: usize) -> bool {
        if len == 0 || len > self.remaining() {
            return false;
        }
        let start = self.len;
        let extends = self.runs.last().is_some_and(|r| {
            !r.closed
                && len <= r.segment_size
                && r.segments < MAX_GSO_SEGMENTS
                && r.bytes.len() + len <= MAX_GSO_BYTES
        });
        if extends {
            if let Some(r) = self.runs.last_mut() {
                r.bytes.end = start + len;
                r.segments += 1;
                r.closed = len < r.segment_size;
            }
        } else {
            if !self.has_room_for_run() {
                return false;
            }
            self.runs.push(Run {
                bytes: start..start + len,
                segment_size: len,
                segments: 1,
                closed: false,
            });
        }
        self.len += len;
        true
    }

    /// Writes the remaining segments of a TUN packet into the batch, each at `headroom` bytes
    /// into its slot, and commits what `seal` makes of it.
    ///
    /// `seal(slot, inner_len)` gets the slot (`headroom + inner_len + tailroom` bytes, the
    /// inner packet at `slot[headroom..]`), encapsulates in place (an ESP header into the
    /// headroom, trailer and ICV into the tailroom) and returns the datagram's length counted
    /// from `slot[0]`, or `None` to drop this segment. For a plain relay: headroom and tailroom
    /// 0, `seal = |_, n| Some(n)`. When the batch is full `flush` is called to send and clear
    /// it. Returns the number of segments committed and dropped.
    pub fn fill_from(
        &mut self,
        segments: &mut Segments<'_>,
        headroom: usize,
        tailroom: usize,
        mut seal: impl FnMut(&mut [u8], usize) -> Option<usize>,
        mut flush: impl FnMut(&mut Self),
    ) -> Filled {
        let mut filled = Filled::default();
        while let Some(inner) = segments.next_len() {
            let need = headroom + inner + tailroom;
            if self.remaining() < need || !self.has_room_for_run() {
                flush(self);
                if self.remaining() < need {
                    // Even an empty batch is too small: the caller's capacity is wrong.
                    filled.dropped += 1;
                    return filled;
                }
            }
            let slot = &mut self.spare()[..need];
            if segments.write_next(&mut slot[headroom..]).is_err() {
                filled.dropped += 1;
                return filled;
            }
            let Some(len) = seal(slot, inner).filter(|&l| l > 0 && l <= need) else {
                filled.dropped += 1;
                continue;
            };
            // Cannot fail: 0 < len <= need <= remaining, and a new run has room (checked).
            let committed = self.commit(len);
            debug_assert!(committed);
            filled.committed += usize::from(committed);
        }
        filled
    }

    /// The runs to send.
    pub fn runs(&self) -> &[Run] {
        &self.runs
    }

    /// The bytes of a run.
    pub fn bytes(&self, run: &Run) -> &[u8] {
        &self.buf[run.bytes.clone()]
    }

    /// All committed bytes (the datagrams end to end).
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    /// Number of datagrams committed.
    pub fn datagrams(&self) -> usize {
        self.runs.iter().map(|r| r.segments).sum()
    }

    /// Whether nothing is committed.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Forgets all datagrams (after sending).
    pub fn clear(&mut self) {
        self.len = 0;
        self.runs.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push(b: &mut GsoBatch, len: usize, fill: u8) -> bool {
        b.spare()[..len].fill(fill);
        b.commit(len)
    }

    #[test]
    fn equal_sizes_form_one_run_and_a_short_one_ends_it() {
        let mut b = GsoBatch::new(100_000);
        for _ in 0..5 {
            assert!(push(&mut b, 1400, 1));
        }
        assert!(push(&mut b, 300, 2));
        assert!(push(&mut b, 1400, 3));
        assert!(push(&mut b, 1500, 4));
        let runs: Vec<_> = b
            .runs()
            .iter()
            .map(|r| (r.segment_size, r.segments))
            .collect();
        assert_eq!(runs, vec![(1400, 6), (1400, 1), (1500, 1)]);
        assert_eq!(b.datagrams(), 8);
        assert_eq!(b.bytes(&b.runs()[1].clone()), &[3u8; 1400][..]);
        assert_eq!(b.as_bytes().len(), 5 * 1400 + 300 + 1400 + 1500);
        b.clear();
        assert!(b.is_empty());
        assert!(b.runs().is_empty());
    }

    #[test]
    fn fill_from_writes_segments_at_the_headroom_and_flushes_when_full() {
        use crate::offload::testutil::{Tcp, as_super_packet, tcp_packet};
        use crate::vnet::GsoType;
        let mut p = tcp_packet(&Tcp {
            payload: vec![7; 10 * 1000],
            ..Tcp::default()
        });
        let vnet = as_super_packet(&mut p, GsoType::TcpV4, 1000);
        let mut segs = Segments::new(&vnet, &p).unwrap();
        let mut batch = GsoBatch::new(4 * 1100);
        let mut flushed = Vec::new();
        let filled = batch.fill_from(
            &mut segs,
            16,
            20,
            |slot, inner| {
                // A toy "encapsulation": 16-byte header, inner, 20-byte trailer.
                assert_eq!(slot[16] >> 4, 4, "inner IPv4 packet at the headroom");
                slot[..16].fill(0xee);
                Some(16 + inner + 20)
            },
            |b| {
                flushed.push(b.datagrams());
                b.clear();
            },
        );
        assert_eq!(
            filled,
            Filled {
                committed: 10,
                dropped: 0
            }
        );
        assert_eq!(flushed, vec![4, 4]);
        assert_eq!(batch.datagrams(), 2);
        assert_eq!(batch.runs()[0].segment_size, 16 + 1052 + 20);
        assert!(batch.as_bytes().starts_with(&[0xee; 16]));
        let mut segs = Segments::new(&vnet, &p).unwrap();
        let filled = batch.fill_from(&mut segs, 0, 0, |_, _| None, |b| b.clear());
        assert_eq!(
            filled,
            Filled {
                committed: 0,
                dropped: 10
            }
        );
    }

    #[test]
    fn limits_start_new_runs_or_refuse() {
        let mut b = GsoBatch::new(200_000);
        for _ in 0..MAX_GSO_SEGMENTS + 1 {
            assert!(push(&mut b, 100, 0));
        }
        assert_eq!(b.runs().len(), 2);
        let mut big = GsoBatch::new(200_000);
        for _ in 0..50 {
            assert!(push(&mut big, 1400, 0));
        }
        assert!(big.runs().iter().all(|r| r.bytes.len() <= MAX_GSO_BYTES));
        assert_eq!(big.runs().len(), 2);
        let mut small = GsoBatch::new(1000);
        assert!(!small.commit(1001));
        assert!(!small.commit(0));
        assert!(small.commit(1000));
        assert!(!small.commit(1));
        let mut many = GsoBatch::new(100_000);
        for i in 0..MAX_RUNS {
            assert!(push(&mut many, 10 + i, 0));
        }
        assert!(
            !push(&mut many, 500, 0),
            "a new run past MAX_RUNS is refused"
        );
    }
}
