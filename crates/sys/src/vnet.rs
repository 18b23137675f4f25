//! The `virtio_net_hdr` that precedes every packet on a TUN device opened with `IFF_VNET_HDR`
//! (virtio 1.x §5.1.6, Linux `include/uapi/linux/virtio_net.h`).
//!
//! It tells the reader of a TUN device that a packet is a TSO/USO super-packet to be segmented
//! (`gso_type`, `gso_size`) or that its transport checksum is still partial (`NEEDS_CSUM` with
//! `csum_start`/`csum_offset`), and lets a writer hand the kernel such a packet. Fields are in the
//! host's byte order (the legacy virtio layout, which is what TUN uses unless told otherwise).

/// Length of the header we configure with `TUNSETVNETHDRSZ`.
pub const VNET_HDR_LEN: usize = 10;

/// `flags`: the checksum from `csum_start` on is partial and must be completed.
pub const F_NEEDS_CSUM: u8 = 1;
/// `flags`: the checksum has been validated (receive side; we never set it).
pub const F_DATA_VALID: u8 = 2;

/// Segmentation requested by a `virtio_net_hdr`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum GsoType {
    /// A single packet.
    None,
    /// TCP over IPv4 (TSO4).
    TcpV4,
    /// TCP over IPv6 (TSO6).
    TcpV6,
    /// UDP segmentation offload (USO), IPv4 or IPv6.
    UdpL4,
    /// Anything else (UFO, unknown): we drop it.
    Other(u8),
}

impl GsoType {
    const NONE: u8 = 0;
    const TCPV4: u8 = 1;
    const TCPV6: u8 = 4;
    const UDP_L4: u8 = 5;
    /// Bit set with TSO when the segments carry ECN's CWR handling.
    const ECN: u8 = 0x80;

    fn from_raw(raw: u8) -> Self {
        match raw & !Self::ECN {
            Self::NONE => Self::None,
            Self::TCPV4 => Self::TcpV4,
            Self::TCPV6 => Self::TcpV6,
            Self::UDP_L4 => Self::UdpL4,
            _ => Self::Other(raw),
        }
    }

    fn to_raw(self) -> u8 {
        match self {
            Self::None => Self::NONE,
            Self::TcpV4 => Self::TCPV4,
            Self::TcpV6 => Self::TCPV6,
            Self::UdpL4 => Self::UDP_L4,
            Self::Other(raw) => raw,
        }
    }
}

/// A decoded `virtio_net_hdr`.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct VirtioNetHdr {
    /// `F_NEEDS_CSUM`, `F_DATA_VALID`.
    pub flags: u8,
    /// Segmentation type (the ECN bit is dropped; see [`VirtioNetHdr::ecn`]).
    pub gso_type: GsoType,
    /// Whether the ECN bit was set on `gso_type`.
    pub ecn: bool,
    /// Length of the headers of each segment (a hint; we compute our own).
    pub hdr_len: u16,
    /// Payload bytes per segment (MSS for TCP).
    pub gso_size: u16,
    /// Where checksumming starts (the transport header's offset in the IP packet).
    pub csum_start: u16,
    /// Offset of the checksum field from `csum_start`.
    pub csum_offset: u16,
}

impl VirtioNetHdr {
    /// The header of a plain packet whose checksums are complete.
    pub const PLAIN: Self = Self {
        flags: 0,
        gso_type: GsoType::None,
        ecn: false,
        hdr_len: 0,
        gso_size: 0,
        csum_start: 0,
        csum_offset: 0,
    };

    /// Decodes the first [`VNET_HDR_LEN`] bytes, or `None` if there are fewer.
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let b: &[u8; VNET_HDR_LEN] = bytes.get(..VNET_HDR_LEN)?.try_into().ok()?;
        let u16_at = |i: usize| u16::from_ne_bytes([b[i], b[i + 1]]);
        Some(Self {
            flags: b[0],
            gso_type: GsoType::from_raw(b[1]),
            ecn: b[1] & GsoType::ECN != 0,
            hdr_len: u16_at(2),
            gso_size: u16_at(4),
            csum_start: u16_at(6),
            csum_offset: u16_at(8),
        })
    }

    /// Encodes into [`VNET_HDR_LEN`] bytes.
    pub fn encode(&self) -> [u8; VNET_HDR_LEN] {
        let mut b = [0u8; VNET_HDR_LEN];
        b[0] = self.flags;
        b[1] = self.gso_type.to_raw() | if self.ecn { GsoType::ECN } else { 0 };
        b[2..4].copy_from_slice(&self.hdr_len.to_ne_bytes());
        b[4..6].copy_from_slice(&self.gso_size.to_ne_bytes());
        b[6..8].copy_from_slice(&self.csum_start.to_ne_bytes());
        b[8..10].copy_from_slice(&self.csum_offset.to_ne_bytes());
        b
    }

    /// Whether the transport checksum is partial.
    pub fn needs_csum(&self) -> bool {
        self.flags & F_NEEDS_CSUM != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = VirtioNetHdr {
            flags: F_NEEDS_CSUM,
            gso_type: GsoType::TcpV6,
            ecn: true,
            hdr_len: 72,
            gso_size: 1388,
            csum_start: 40,
            csum_offset: 16,
        };
        let b = h.encode();
        assert_eq!(b[1], 0x84);
        assert_eq!(VirtioNetHdr::decode(&b), Some(h));
        assert!(h.needs_csum());
        assert_eq!(VirtioNetHdr::decode(&b[..9]), None);
        assert_eq!(VirtioNetHdr::decode(&[0; 10]), Some(VirtioNetHdr::PLAIN));
        assert_eq!(
            VirtioNetHdr::decode(&[0, 3, 0, 0, 0, 0, 0, 0, 0, 0]).map(|h| h.gso_type),
            Some(GsoType::Other(3))
        );
    }
}
