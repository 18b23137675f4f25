//! ESP replay-counter synchronisation after an HA failover ([RFC 6311 §6]), in both roles.
//!
//! A cluster's new active node knows each inbound SA's highest accepted sequence number only
//! as of the last checkpoint its old node sent; the old node may have accepted more since. An
//! attacker could replay those packets into the new node's replay windows. With
//! IPSEC_REPLAY_COUNTER_SYNC (sent beside IKEV2_MESSAGE_ID_SYNC at message ID 0,
//! [`super::mid_sync`]) the cluster asks the peer to move the outbound sequence numbers of
//! every Child SA of the IKE SA forward by a delta that covers everything the old node may
//! have accepted, and starts its own inbound windows that far past the checkpoint.
//!
//! - **Peer role** ([`skip_outbound`]): every Child SA of that IKE SA (and of no other) skips
//!   `delta` numbers on its outbound SA ([`SaCommand::SkipSequence`]). A delta past the sanity
//!   bound of the SA's sequence space (half of 2^32 without extended sequence numbers) is not
//!   applied: the Child SA is rekeyed instead, so its numbers never wrap and never run out
//!   (RFC 4303 §3.3.3).
//! - **Cluster role** ([`raise_inbound`]): at takeover the inbound SAs are installed with their
//!   lower edge moved by the delta, and [`SaCommand::AdvanceSequence`] repeats it for a
//!   backend that already holds them.
//!
//! The delta is 8 octets, wide enough for extended sequence numbers.
//!
//! [RFC 6311 §6]: https://www.rfc-editor.org/rfc/rfc6311#section-6

use hitless_sadb::Direction;
use hitless_sadb::SaCommand;
use tracing::info;
use tracing::warn;

use super::SaContext;
use super::Task;
use crate::child_sa::ChildSa;
use crate::child_sa::ChildState;
use crate::error::ErrorCounter;
use crate::ids::ChildSaId;

/// The notification data is exactly 8 octets.
pub(crate) const DELTA_LEN: usize = 8;

/// The largest delta applied to an SA with 32-bit sequence numbers: half the space. A larger
/// one rekeys the Child SA instead.
pub(crate) const MAX_DELTA_32: u64 = 1 << 31;

/// The largest delta applied to an SA with extended sequence numbers.
pub(crate) const MAX_DELTA_ESN: u64 = 1 << 48;

/// Parses IPSEC_REPLAY_COUNTER_SYNC data; `None` unless it is exactly [`DELTA_LEN`] octets.
pub(crate) fn parse_delta(data: &[u8]) -> Option<u64> {
    let data: [u8; DELTA_LEN] = data.try_into().ok()?;
    Some(u64::from_be_bytes(data))
}

/// IPSEC_REPLAY_COUNTER_SYNC data for `delta`.
pub(crate) fn emit_delta(delta: u64) -> Vec<u8> {
    delta.to_be_bytes().to_vec()
}

/// The peer role: moves the outbound sequence number of every Child SA of this IKE SA forward
/// by `delta` ([RFC 6311 §6]). Returns the Child SAs whose sequence space cannot take it: the
/// caller rekeys them.
///
/// [RFC 6311 §6]: https://www.rfc-editor.org/rfc/rfc6311#section-6
#[must_use]
pub(crate) fn skip_outbound(cx: &mut SaContext<'_>, delta: u64) -> Vec<Task> {
    if delta == 0 {
        return Vec::new();
    }
    let mut rekey: Vec<ChildSaId> = Vec::new();
    let mut skipped = 0_usize;
    // A replaced Child SA keeps only its inbound SA while it lingers.
    for child in cx
        .sa
        .children
        .values()
        .filter(|c| !matches!(c.state, ChildState::Rekeyed { .. }))
    {
        if delta > max_delta(child) {
            rekey.push(child.id);
            continue;
        }
        cx.out.sa(SaCommand::SkipSequence {
            spi: child.spi_out,
            direction: Direction::Outbound,
            count: delta,
        });
        skipped += 1;
    }
    info!(
        delta,
        skipped,
        rekeyed = rekey.len(),
        "RFC 6311 replay-counter sync applied"
    );
    if !rekey.is_empty() {
        warn!(
            delta,
            "replay-counter delta past the sequence space; rekeying instead"
        );
        cx.tables.counters.bump(ErrorCounter::SyncOutOfBounds);
    }
    rekey.into_iter().map(Task::RekeyChild).collect()
}

/// The cluster role: moves the inbound lower edge of every Child SA by `delta` before it is
/// installed (saturating at the end of its space).
pub(crate) fn raise_inbound<'a>(children: impl Iterator<Item = &'a mut ChildSa>, delta: u64) {
    for child in children {
        let top = if child.algorithms.esp.esn {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        child.sequences.1 = child.sequences.1.saturating_add(delta).min(top);
    }
}

/// The largest delta `child`'s sequence space takes without a rekey.
fn max_delta(child: &ChildSa) -> u64 {
    if child.algorithms.esp.esn {
        MAX_DELTA_ESN
    } else {
        MAX_DELTA_32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delta_is_exactly_eight_octets() {
        assert_eq!(
            parse_delta(&emit_delta(0x0102_0304_0506_0708)),
            Some(0x0102_0304_0506_0708)
        );
        assert_eq!(parse_delta(&[0; 4]), None);
        assert_eq!(parse_delta(&[0; 9]), None);
        assert_eq!(parse_delta(&[]), None);
    }
}
