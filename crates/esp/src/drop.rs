//! Why the data plane drops a packet, and the per-reason counters.
//!
//! Drops are values, not errors to log: every drop increments one atomic counter (read by the
//! CLI and metrics) and is traced at `trace` level only, so a flood of bad packets costs no
//! more than the flood itself.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

/// Why a packet was dropped. `Copy`, so the hot path never allocates for a drop.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub enum DropReason {
    /// The decrypted payload's next header does not fit the SA's mode (tunnel mode carries
    /// only IPv4 (4) or IPv6 (41), RFC 4303 §2.6).
    BadNextHeader,
    /// The padding bytes are not 1, 2, 3, … or the pad length exceeds the payload (RFC 4303
    /// §2.4).
    BadPadding,
    /// The caller's buffer lacks the headroom or tailroom the operation needs (a caller bug).
    BufferTooSmall,
    /// The crypto provider failed for a reason other than authentication (for example its
    /// random source).
    CryptoFailed,
    /// A dummy packet (next header 59, RFC 4303 §2.6): discarded by design.
    Dummy,
    /// The SA reached a hard byte or packet limit, or was deleted.
    Expired,
    /// The ICV (or AEAD tag) did not verify (RFC 4303 §3.4.4).
    IcvMismatch,
    /// Not a well-formed IP or ESP packet (bad version, lengths that disagree, ciphertext not a
    /// whole number of blocks).
    Malformed,
    /// No policy matches an outbound packet's addresses, protocol and ports.
    NoPolicy,
    /// No SA: unknown inbound SPI, or a policy with no outbound SA routed.
    NoSa,
    /// Older than the anti-replay window (RFC 4303 §3.4.3).
    OutOfWindow,
    /// The inner addresses, protocol or ports lie outside the SA's traffic selectors (RFC 4301
    /// §5.2, step 4 of inbound processing).
    PolicyMismatch,
    /// A sequence number already received inside the anti-replay window (RFC 4303 §3.4.3).
    Replayed,
    /// The outbound sequence number space is used up; the SA must be rekeyed (RFC 4303 §3.3.3).
    SequenceExhausted,
    /// Shorter than the ESP header, IV, minimal trailer and ICV of its SA.
    Truncated,
}

/// One atomic counter per [`DropReason`].
pub struct DropCounters {
    counts: [AtomicU64; DropReason::ALL.len()],
}

impl DropReason {
    /// Every reason, in declaration order.
    pub const ALL: [Self; 15] = [
        Self::BadNextHeader,
        Self::BadPadding,
        Self::BufferTooSmall,
        Self::CryptoFailed,
        Self::Dummy,
        Self::Expired,
        Self::IcvMismatch,
        Self::Malformed,
        Self::NoPolicy,
        Self::NoSa,
        Self::OutOfWindow,
        Self::PolicyMismatch,
        Self::Replayed,
        Self::SequenceExhausted,
        Self::Truncated,
    ];

    /// A short stable name for metrics labels and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadNextHeader => "bad_next_header",
            Self::BadPadding => "bad_padding",
            Self::BufferTooSmall => "buffer_too_small",
            Self::CryptoFailed => "crypto_failed",
            Self::Dummy => "dummy",
            Self::Expired => "expired",
            Self::IcvMismatch => "icv_mismatch",
            Self::Malformed => "malformed",
            Self::NoPolicy => "no_policy",
            Self::NoSa => "no_sa",
            Self::OutOfWindow => "out_of_window",
            Self::PolicyMismatch => "policy_mismatch",
            Self::Replayed => "replayed",
            Self::SequenceExhausted => "sequence_exhausted",
            Self::Truncated => "truncated",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl DropCounters {
    /// All counters at zero.
    pub fn new() -> Self {
        Self {
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// Counts one drop.
    pub fn record(&self, reason: DropReason) {
        self.counts[reason.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Drops counted for `reason` so far.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.counts[reason.index()].load(Ordering::Relaxed)
    }

    /// Every reason with its count.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&reason| (reason, self.get(reason)))
    }

    /// The sum over all reasons.
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, count)| count).sum()
    }
}

impl Default for DropCounters {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for DropCounters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().filter(|(_, count)| *count != 0))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_lists_every_reason_at_its_index() {
        for (i, reason) in DropReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), i, "{reason}");
        }
    }

    #[test]
    fn counts_per_reason() {
        let counters = DropCounters::new();
        counters.record(DropReason::Replayed);
        counters.record(DropReason::Replayed);
        counters.record(DropReason::NoSa);
        assert_eq!(counters.get(DropReason::Replayed), 2);
        assert_eq!(counters.get(DropReason::NoSa), 1);
        assert_eq!(counters.get(DropReason::IcvMismatch), 0);
        assert_eq!(counters.total(), 3);
    }
}
