//! TCP/UDP segmentation and coalescing in userspace, the two halves of the offloads that a TUN
//! device opened with `IFF_VNET_HDR` exposes (pure functions, no I/O).
//!
//! - [`segment`]: a super-packet read from the TUN device (TSO/USO, described by its
//!   [`VirtioNetHdr`](crate::vnet::VirtioNetHdr)) becomes MTU-sized IP packets with correct
//!   lengths, IPv4 IDs, TCP sequence numbers, flags and checksums, each written where the caller
//!   wants it (for example after room for an ESP header, inside a UDP GSO buffer).
//! - [`coalesce`]: in-order TCP segments of one flow, received one by one (after UDP GRO and ESP
//!   decapsulation), become one super-packet for a single TUN write (GRO), and everything else
//!   is written as it came.
//!
//! IPv4 ([RFC 791]) and IPv6 ([RFC 8200]) carrying TCP ([RFC 9293]) or UDP ([RFC 768]).
//!
//! [RFC 791]: https://www.rfc-editor.org/rfc/rfc791
//! [RFC 8200]: https://www.rfc-editor.org/rfc/rfc8200
//! [RFC 9293]: https://www.rfc-editor.org/rfc/rfc9293
//! [RFC 768]: https://www.rfc-editor.org/rfc/rfc768

pub mod coalesce;
mod ip;
pub mod segment;
#[cfg(test)]
pub(crate) mod testutil;

pub use coalesce::Coalescer;
pub use segment::Segments;

/// Why a packet read from a TUN device could not be segmented.
#[derive(Clone, Copy, Debug, Eq, PartialEq, thiserror::Error)]
pub enum OffloadError {
    /// The IP header is truncated, has a bad version or length, or disagrees with the
    /// `virtio_net_hdr`.
    #[error("malformed IP header")]
    BadIpHeader,
    /// The transport header is truncated or has a bad length.
    #[error("malformed transport header")]
    BadTransportHeader,
    /// The `virtio_net_hdr` asks for something we do not do (UFO, unknown GSO types, a zero
    /// segment size, a checksum offset outside the packet).
    #[error("unsupported virtio_net_hdr")]
    Unsupported,
    /// The output buffer is shorter than the segment.
    #[error("output buffer too small for segment of {0} bytes")]
    BufferTooSmall(usize),
}
