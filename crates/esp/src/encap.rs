//! Outbound processing ([RFC 4303 §3.1], [§3.3]): policy lookup, sequence number, padding,
//! encryption and ICV, in place in the caller's buffer.
//!
//! Tunnel mode protects the whole inner packet (next header 4 or 41); transport mode protects
//! the IP payload and drops the IP header, whose addresses are the SA's endpoints and which the
//! I/O layer's socket rebuilds (RFC 4303 §3.1.1).
//!
//! [RFC 4303 §3.1]: https://www.rfc-editor.org/rfc/rfc4303#section-3.1
//! [§3.3]: https://www.rfc-editor.org/rfc/rfc4303#section-3.3

use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::Arc;

use hitless_sadb::BackendEvent;
use hitless_sadb::Mode;
use hitless_sadb::ResourceId;
use hitless_sadb::Spi;
use hitless_wire::esp::ESP_HEADER_LEN;

use crate::drop::DropReason;
use crate::ip;
use crate::ip::IpPacket;
use crate::plane::DataPlane;
use crate::plane::Sealed;
use crate::sa::SaEntry;
use crate::snapshot::Selectors;
use crate::snapshot::Snapshot;

/// An outbound SA chosen for one flow, to encapsulate a batch of its packets (the segments of
/// one TSO packet for one UDP GSO send) with a single policy lookup.
///
/// Each packet is still checked against the policy's selectors, so a batch that strays from
/// the flow is dropped with [`DropReason::PolicyMismatch`], never sent on the wrong SA. Hold
/// it for one batch: it does not see later route changes, except that once its SA is deleted
/// (the old SA of a rekey, RFC 7296 §2.8) its remaining packets go to the SA the policy routes
/// to then, where that SA fits the batch (same endpoints, encapsulation and sizes).
pub struct OutboundFlow<'d> {
    plane: &'d DataPlane,
    resource: Option<ResourceId>,
    entry: SaEntry,
    selectors: Arc<Selectors>,
}

impl DataPlane {
    /// Encapsulates the IP packet at `buf[offset..offset + len]` in place for `resource` (the
    /// calling worker's RFC 9611 resource, or `None`): finds its policy and outbound SA,
    /// assigns the next sequence number and seals it.
    ///
    /// The ESP packet is written between `offset - HEADROOM` and `offset + len + TAILROOM`
    /// (see [`HEADROOM`](crate::HEADROOM), [`TAILROOM`](crate::TAILROOM)); in transport mode
    /// the IP header's room is reused. Nothing is allocated.
    ///
    /// # Errors
    ///
    /// The [`DropReason`] (already counted): [`DropReason::Malformed`] for a packet that is
    /// not IP, [`DropReason::NoPolicy`], [`DropReason::NoSa`] (an
    /// [`Acquire`](hitless_sadb::BackendEvent::Acquire) is raised once),
    /// [`DropReason::Expired`], [`DropReason::SequenceExhausted`],
    /// [`DropReason::BufferTooSmall`].
    pub fn encapsulate<'b>(
        &self,
        resource: Option<ResourceId>,
        buf: &'b mut [u8],
        offset: usize,
        len: usize,
    ) -> Result<Sealed<'b>, DropReason> {
        let result = buf
            .get(offset..offset.saturating_add(len))
            .ok_or(DropReason::BufferTooSmall)
            .and_then(ip::parse)
            .and_then(|packet| {
                let snapshot = self.load();
                let (selectors, entry) = self.route(&snapshot, resource, &packet)?;
                self.seal(entry, selectors, &packet, buf, offset, len)
            });
        result.map_err(|reason| self.dropped(reason, None))
    }

    /// Looks up the policy and outbound SA for `packet`'s flow once, for
    /// [`OutboundFlow::encapsulate`] on a batch of its packets.
    ///
    /// # Errors
    ///
    /// As [`DataPlane::encapsulate`] (counted).
    pub fn outbound_flow(
        &self,
        resource: Option<ResourceId>,
        packet: &[u8],
    ) -> Result<OutboundFlow<'_>, DropReason> {
        let result = ip::parse(packet).and_then(|packet| {
            let snapshot = self.load();
            let (selectors, entry) = self.route(&snapshot, resource, &packet)?;
            Ok(OutboundFlow {
                plane: self,
                resource,
                entry: entry.clone(),
                selectors: Arc::clone(selectors),
            })
        });
        result.map_err(|reason| self.dropped(reason, None))
    }

    /// Finds the policy for `packet` and its SA for `resource`, falling back to the policy's
    /// default SA and raising an `Acquire` once for a missing one.
    fn route<'s>(
        &self,
        snapshot: &'s Snapshot,
        resource: Option<ResourceId>,
        packet: &IpPacket,
    ) -> Result<(&'s Arc<Selectors>, &'s SaEntry), DropReason> {
        let policy = snapshot
            .policy_for(&packet.flow)
            .ok_or(DropReason::NoPolicy)?;
        let (entry, missing) = policy.route(resource);
        if missing && policy.acquired.raise(resource) {
            self.events.push(BackendEvent::Acquire {
                reqid: policy.selectors.reqid,
                resource,
            });
        }
        let entry = entry.ok_or(DropReason::NoSa)?;
        Ok((&policy.selectors, entry))
    }

    /// Seals one parsed packet with `entry`'s SA.
    fn seal<'b>(
        &self,
        entry: &SaEntry,
        selectors: &Selectors,
        packet: &IpPacket,
        buf: &'b mut [u8],
        offset: usize,
        len: usize,
    ) -> Result<Sealed<'b>, DropReason> {
        let core = &*entry.core;
        core.check_alive()?;
        if packet.total_len != len {
            return Err(DropReason::Malformed);
        }
        let (payload_start, payload_len, next_header) = match core.mode {
            Mode::Tunnel => {
                let next_header = match packet.flow.source {
                    IpAddr::V4(_) => ip::IPPROTO_IPIP,
                    IpAddr::V6(_) => ip::IPPROTO_IPV6,
                };
                (offset, len, next_header)
            }
            Mode::Transport => {
                // Extension headers would have to stay in front of ESP (RFC 4303 §3.1.1); the
                // I/O layer's socket cannot send them, so such packets are refused.
                if packet.has_extension_headers {
                    return Err(DropReason::Malformed);
                }
                (
                    offset + packet.header_len,
                    len - packet.header_len,
                    packet.flow.protocol,
                )
            }
        };
        let transform = &core.transform;
        let start = payload_start
            .checked_sub(transform.header_len())
            .ok_or(DropReason::BufferTooSmall)?;
        // RFC 4303 §2.4: pad payload, pad length and next header to the cipher's block and to
        // a multiple of 4 bytes.
        let padded = (payload_len + 2).next_multiple_of(transform.alignment());
        let pad_len = padded - payload_len - 2;
        let end = payload_start + padded + transform.icv_len();
        if end > buf.len() {
            return Err(DropReason::BufferTooSmall);
        }
        core.account(len, &self.events)?;
        let seq = core.next_sequence(&self.events, self.config.checkpoint_packets)?;
        let esp = &mut buf[start..end];
        let header_len = transform.header_len();
        let trailer = &mut esp[header_len + payload_len..header_len + padded];
        // RFC 4303 §2.4: the padding bytes are 1, 2, 3, …
        for (i, byte) in trailer[..pad_len].iter_mut().enumerate() {
            // `pad_len` < 16, so `i + 1` fits.
            *byte = u8::try_from(i + 1).unwrap_or(u8::MAX);
        }
        // `pad_len` < 16 (the largest alignment).
        trailer[pad_len] = u8::try_from(pad_len).unwrap_or(u8::MAX);
        trailer[pad_len + 1] = next_header;
        esp[..4].copy_from_slice(&core.spi.0.to_be_bytes());
        // RFC 4303 §2.2: only the low 32 bits travel; with ESN the high bits enter the ICV.
        esp[4..ESP_HEADER_LEN].copy_from_slice(&seq.to_be_bytes()[4..]);
        transform.seal(esp, seq, core.esn, &*self.random)?;
        Ok(Sealed {
            bytes: &buf[start..end],
            offset: start,
            spi: core.spi,
            reqid: selectors.reqid,
            local: entry.local,
            remote: entry.remote,
            udp_encap: entry.udp_encap,
        })
    }
}

impl OutboundFlow<'_> {
    /// Encapsulates the IP packet at `buf[offset..offset + len]` in place, as
    /// [`DataPlane::encapsulate`] does, with this flow's SA.
    ///
    /// # Errors
    ///
    /// As [`DataPlane::encapsulate`] (counted), and [`DropReason::PolicyMismatch`] for a
    /// packet outside the flow's policy.
    pub fn encapsulate<'b>(
        &self,
        buf: &'b mut [u8],
        offset: usize,
        len: usize,
    ) -> Result<Sealed<'b>, DropReason> {
        let plane = self.plane;
        let result = buf
            .get(offset..offset.saturating_add(len))
            .ok_or(DropReason::BufferTooSmall)
            .and_then(ip::parse)
            .and_then(|packet| {
                if !self.selectors.matches_outbound(&packet.flow) {
                    return Err(DropReason::PolicyMismatch);
                }
                if self.entry.core.check_alive().is_ok() {
                    return plane.seal(&self.entry, &self.selectors, &packet, buf, offset, len);
                }
                // The SA was deleted after this flow chose it: a rekey moved the policy to its
                // successor and removed it while the batch was being sealed. The packet goes
                // out on the successor rather than being lost.
                let snapshot = plane.load();
                let (selectors, entry) = plane.route(&snapshot, self.resource, &packet)?;
                if !self.fits(entry) {
                    return Err(DropReason::Expired);
                }
                plane.seal(entry, selectors, &packet, buf, offset, len)
            });
        result.map_err(|reason| plane.dropped(reason, Some(self.entry.core.spi)))
    }

    /// Whether `other`'s packets can join this flow's batch: the same endpoints and
    /// encapsulation (one UDP GSO send) and the same ESP overhead (equal-size segments).
    fn fits(&self, other: &SaEntry) -> bool {
        let (ours, theirs) = (&self.entry.core.transform, &other.core.transform);
        other.local == self.entry.local
            && other.remote == self.entry.remote
            && other.udp_encap == self.entry.udp_encap
            && other.core.mode == self.entry.core.mode
            && theirs.header_len() == ours.header_len()
            && theirs.icv_len() == ours.icv_len()
            && theirs.alignment() == ours.alignment()
    }

    /// Length of the ESP packet for `protected_len` protected bytes (the whole inner packet in
    /// tunnel mode, the IP payload in transport mode): what a GSO batch of equal-size
    /// segments needs per segment.
    pub fn sealed_len(&self, protected_len: usize) -> usize {
        let transform = &self.entry.core.transform;
        transform.header_len()
            + (protected_len + 2).next_multiple_of(transform.alignment())
            + transform.icv_len()
    }

    /// Bytes needed in front of the protected bytes (ESP header and IV).
    pub fn headroom(&self) -> usize {
        self.entry.core.transform.header_len()
    }

    /// The SA's mode.
    pub fn mode(&self) -> Mode {
        self.entry.core.mode
    }

    /// The outbound SA.
    pub fn spi(&self) -> Spi {
        self.entry.core.spi
    }

    /// Our outer address.
    pub fn local(&self) -> SocketAddr {
        self.entry.local
    }

    /// The peer's outer address.
    pub fn remote(&self) -> SocketAddr {
        self.entry.remote
    }

    /// Whether the packets go inside UDP (RFC 3948).
    pub fn udp_encap(&self) -> bool {
        self.entry.udp_encap
    }
}
