//! Inbound processing ([RFC 4303 §3.4]): SA lookup by SPI, sequence number check, ICV and
//! decryption, commit to the replay window, trailer checks, and the inner packet's check
//! against the SA's traffic selectors ([RFC 4301 §5.2]), in place in the caller's buffer.
//!
//! [RFC 4303 §3.4]: https://www.rfc-editor.org/rfc/rfc4303#section-3.4
//! [RFC 4301 §5.2]: https://www.rfc-editor.org/rfc/rfc4301#section-5.2

use hitless_sadb::Mode;
use hitless_sadb::Spi;
use hitless_wire::esp::ESP_HEADER_LEN;

use crate::drop::DropReason;
use crate::ip;
use crate::plane::DataPlane;
use crate::plane::Opened;
use crate::replay::ReplayError;
use crate::sa::SaCore;
use crate::sa::SaEntry;
use crate::snapshot::Snapshot;

impl DataPlane {
    /// Decapsulates the ESP packet at `buf[offset..offset + len]` in place (for ESP in UDP,
    /// the UDP payload after the I/O layer removed the UDP header, RFC 3948 §2.1).
    ///
    /// The inner packet ends up inside `buf[..offset + len]`: a subslice in tunnel mode; in
    /// transport mode behind an IP header rebuilt from the SA's addresses in front of the
    /// payload (in the room of the ESP header and IV, and of `buf[..offset]` when that is not
    /// enough, else the payload is moved).
    ///
    /// # Errors
    ///
    /// The [`DropReason`] (already counted): [`DropReason::Truncated`],
    /// [`DropReason::NoSa`], [`DropReason::Replayed`], [`DropReason::OutOfWindow`],
    /// [`DropReason::IcvMismatch`], [`DropReason::BadPadding`],
    /// [`DropReason::BadNextHeader`], [`DropReason::Dummy`], [`DropReason::PolicyMismatch`],
    /// [`DropReason::Malformed`], [`DropReason::Expired`].
    pub fn decapsulate<'b>(
        &self,
        buf: &'b mut [u8],
        offset: usize,
        len: usize,
    ) -> Result<Opened<'b>, DropReason> {
        let Some(esp) = buf.get(offset..offset.saturating_add(len)) else {
            return Err(self.dropped(DropReason::BufferTooSmall, None));
        };
        if esp.len() < ESP_HEADER_LEN {
            return Err(self.dropped(DropReason::Truncated, None));
        }
        let spi = Spi(u32::from_be_bytes([esp[0], esp[1], esp[2], esp[3]]));
        let snapshot = self.load();
        self.open(&snapshot, spi, buf, offset, len)
            .map_err(|reason| self.dropped(reason, Some(spi)))
    }

    fn open<'b>(
        &self,
        snapshot: &Snapshot,
        spi: Spi,
        buf: &'b mut [u8],
        offset: usize,
        len: usize,
    ) -> Result<Opened<'b>, DropReason> {
        let entry = snapshot.inbound.get(&spi.0).ok_or(DropReason::NoSa)?;
        let core = &*entry.core;
        core.check_alive()?;
        let transform = &core.transform;
        if len < transform.min_packet_len() {
            return Err(DropReason::Truncated);
        }
        let esp = &mut buf[offset..offset + len];
        let low = u32::from_be_bytes([esp[4], esp[5], esp[6], esp[7]]);
        // RFC 4303 §3.4.3: check the sequence number before spending time on the ICV.
        let window = core.replay().window();
        let seq = window.infer(low);
        window.check(seq).map_err(replay_drop)?;
        transform.open(esp, seq, core.esn)?;
        // RFC 4303 §3.4.3: only an authenticated packet moves the window.
        let (before, moved) = core.replay().commit(seq).map_err(replay_drop)?;
        if let Some(every) = self.config.checkpoint_packets
            && moved
            && before / every != seq / every
        {
            self.events.push(core.checkpoint_event(seq));
        }
        let header_len = transform.header_len();
        let body = &esp[header_len..len - transform.icv_len()];
        let (payload_len, next_header) = check_trailer(body)?;
        core.account(payload_len, &self.events)?;
        core.note_use(&self.events);
        let payload_start = offset + header_len;
        let (start, inner_len) = match core.mode {
            Mode::Tunnel => {
                if next_header != ip::IPPROTO_IPIP && next_header != ip::IPPROTO_IPV6 {
                    return Err(DropReason::BadNextHeader);
                }
                let packet = ip::parse(&buf[payload_start..payload_start + payload_len])?;
                let version_matches =
                    (next_header == ip::IPPROTO_IPIP) == packet.flow.source.is_ipv4();
                if !version_matches {
                    return Err(DropReason::BadNextHeader);
                }
                check_selectors(snapshot, core, &packet)?;
                // TFC padding (RFC 4303 §2.7) lies past the inner packet's own length.
                (payload_start, packet.total_len)
            }
            Mode::Transport => {
                let start = rebuild_header(entry, buf, payload_start, payload_len, next_header)?;
                let inner_len = ip::header_len(entry.remote.ip()) + payload_len;
                let packet = ip::parse(&buf[start..start + inner_len])?;
                check_selectors(snapshot, core, &packet)?;
                (start, inner_len)
            }
        };
        Ok(Opened {
            inner: &buf[start..start + inner_len],
            offset: start,
            spi,
            reqid: core.reqid,
        })
    }
}

/// Reads pad length and next header from the end of the decrypted body and verifies the
/// padding (RFC 4303 §2.4: bytes 1, 2, 3, …). Returns the payload length and next header.
fn check_trailer(body: &[u8]) -> Result<(usize, u8), DropReason> {
    let [.., pad_len, next_header] = *body else {
        return Err(DropReason::Truncated);
    };
    if next_header == ip::IPPROTO_NONE {
        // RFC 4303 §2.6: a dummy packet is silently discarded.
        return Err(DropReason::Dummy);
    }
    let pad_len = usize::from(pad_len);
    let payload_len = body
        .len()
        .checked_sub(2 + pad_len)
        .ok_or(DropReason::BadPadding)?;
    let padding = &body[payload_len..payload_len + pad_len];
    let sequential = padding
        .iter()
        .zip(1u8..)
        .all(|(&byte, expected)| byte == expected);
    if !sequential {
        return Err(DropReason::BadPadding);
    }
    Ok((payload_len, next_header))
}

/// RFC 4301 §5.2 step 4: the inner packet must match the SA's selectors, the source on the
/// peer's side and the destination on ours. An SA installed without selectors is checked
/// against its policy's; with neither, nothing passes.
fn check_selectors(
    snapshot: &Snapshot,
    core: &SaCore,
    packet: &ip::IpPacket,
) -> Result<(), DropReason> {
    let allowed = if core.local_ts.is_empty() && core.remote_ts.is_empty() {
        snapshot
            .policies
            .iter()
            .find(|policy| policy.selectors.reqid == core.reqid)
            .is_some_and(|policy| {
                ip::matches(
                    &packet.flow,
                    &policy.selectors.remote_ts,
                    &policy.selectors.local_ts,
                )
            })
    } else {
        ip::matches(&packet.flow, &core.remote_ts, &core.local_ts)
    };
    if !allowed {
        return Err(DropReason::PolicyMismatch);
    }
    Ok(())
}

/// Writes an IP header in front of a transport-mode payload at `buf[payload_start..]`; moves
/// the payload when the room in front is too small. Returns where the packet starts.
fn rebuild_header(
    entry: &SaEntry,
    buf: &mut [u8],
    payload_start: usize,
    payload_len: usize,
    protocol: u8,
) -> Result<usize, DropReason> {
    let source = entry.remote.ip();
    let destination = entry.local.ip();
    let header_len = ip::header_len(source);
    let (start, payload_start) = match payload_start.checked_sub(header_len) {
        Some(start) => (start, payload_start),
        None => {
            if header_len + payload_len > buf.len() {
                return Err(DropReason::BufferTooSmall);
            }
            buf.copy_within(payload_start..payload_start + payload_len, header_len);
            (0, header_len)
        }
    };
    ip::write_header(
        &mut buf[start..payload_start],
        source,
        destination,
        protocol,
        payload_len,
    )?;
    Ok(start)
}

fn replay_drop(error: ReplayError) -> DropReason {
    match error {
        ReplayError::Replayed => DropReason::Replayed,
        ReplayError::OutOfWindow => DropReason::OutOfWindow,
    }
}
