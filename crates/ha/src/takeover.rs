//! Role changes (keepalived's notify hooks: `hitlessctl ha active|standby|fault`): the takeover
//! of a node told it is active, and the fencing of a node told it no longer is.
//!
//! A takeover moves each outbound ESP SA past every number the old active node can have used
//! (docs/design/ha.md, "Why no sequence number is used twice"):
//!
//! ```text
//! start = checkpoint + N + R × (age + D) + margin [+ R × split_brain_allowance]
//! ```
//!
//! per source of checkpoints, the largest. A GCM or ChaCha20-Poly1305 nonce is the SA's salt
//! and its sequence number ([RFC 4106 §3.1], [RFC 7634 §2]): one number used twice under one
//! key discloses the XOR of two plaintexts and lets an attacker forge packets, so the bound
//! errs on the large side; with extended sequence numbers it costs nothing.
//!
//! [RFC 4106 §3.1]: https://www.rfc-editor.org/rfc/rfc4106#section-3.1
//! [RFC 7634 §2]: https://www.rfc-editor.org/rfc/rfc7634#section-2

use std::collections::BTreeSet;
use std::time::Duration;
use std::time::Instant;

use hitless_ike::Endpoint;
use hitless_ike::IkeSaSnapshot;
use hitless_ike::IkeSpis;
use hitless_sadb::Direction;
use hitless_sadb::ReqId;
use hitless_sadb::SaCommand;
use hitless_sadb::Spi;
use tracing::info;
use tracing::warn;

use crate::cache::Source;
use crate::config::MessageIdPolicy;
use crate::node::Freshness;
use crate::node::HaNode;
use crate::output::ChildTakeover;
use crate::output::HaOutput;
use crate::output::Takeover;
use crate::status::Role;

impl HaNode {
    /// Takes the role keepalived decided. Becoming active takes over every SA this node holds
    /// ([`HaOutput::Import`]s with the new sequence numbers, then one
    /// [`HaOutput::Activate`]); ceasing to be active fences the node at once
    /// ([`HaOutput::Deactivate`], then [`HaOutput::Sa`] deletes of every SA and policy in the
    /// data plane) and asks the new active node for a resync. `engine` is read to find what
    /// the data plane holds.
    pub fn set_role(&mut self, now: Instant, role: Role, engine: &Endpoint) {
        self.now = now;
        let before = self.role;
        if before == role {
            return;
        }
        self.role = role;
        info!(from = %before, to = %role, "HA role changed");
        if role.is_active() {
            self.epoch = self.epoch.saturating_add(1);
            self.counters.takeovers += 1;
            self.bulk_in = None;
            // Our own checkpoints from an earlier activity are final: evaluate them as such,
            // then ours are live again.
            self.take_over(now);
            self.freshness.insert(Source::Local, Freshness::Live(now));
        } else if before.is_active() {
            self.demote(now, engine);
        }
        // Tell the others at once.
        self.queue_heartbeats();
        self.next_heartbeat = now + self.config.heartbeat_interval;
    }

    /// Activates every IKE SA this node holds but does not run, each Child SA starting past
    /// what any other node can have used. Also used when this node is active and another node
    /// that was active too steps down: the SAs it ran meanwhile become ours.
    pub(crate) fn adopt(&mut self, now: Instant) {
        self.take_over(now);
    }

    fn take_over(&mut self, now: Instant) {
        let mut takeover = Takeover {
            epoch: self.epoch,
            message_id_margin: self.message_id_margin(),
            ..Takeover::default()
        };
        let candidates: Vec<IkeSpis> = self
            .cache
            .iter()
            .filter(|(_, e)| !e.local)
            .map(|(spis, _)| *spis)
            .collect();
        for spis in candidates {
            let Some(entry) = self.cache.get(&spis) else {
                continue;
            };
            let mut snapshot = entry.snapshot.clone();
            age(
                &mut snapshot,
                now.saturating_duration_since(entry.received_at),
            );
            let source = entry.source;
            let lazy_ids = entry.lazy_ids;
            for child in &mut snapshot.children {
                let esn = child.algorithms.esp.esn;
                let outbound_checkpoint = self.cache.max_mark(child.spi_out, Direction::Outbound);
                let outbound_from = self.outbound_start(now, child.spi_out, esn, source);
                let inbound_from = self
                    .cache
                    .max_mark(child.spi_in, Direction::Inbound)
                    .unwrap_or(0);
                child.outbound_sequence = outbound_from;
                child.inbound_sequence = inbound_from;
                takeover.children.push(ChildTakeover {
                    ike: spis,
                    spi_in: child.spi_in,
                    spi_out: child.spi_out,
                    outbound_checkpoint,
                    outbound_from,
                    inbound_from,
                });
            }
            if lazy_ids {
                takeover.message_id_sync.push(spis);
            }
            takeover.ike_sas.push(spis);
            self.outputs
                .push_back(HaOutput::Import(Box::new(snapshot.clone())));
            if let Some(entry) = self.cache.get_mut(&spis) {
                entry.snapshot = snapshot;
                entry.received_at = now;
                entry.source = Source::Local;
                entry.local = true;
                entry.confirmed = true;
            }
        }
        // From here on our own numbers start at the jump: the other members learn it at once,
        // so a later takeover from us starts past it.
        for child in &takeover.children {
            for (spi, direction, sequence) in [
                (child.spi_out, Direction::Outbound, child.outbound_from),
                (child.spi_in, Direction::Inbound, child.inbound_from),
            ] {
                self.cache
                    .record_mark(spi, direction, Source::Local, sequence);
                let outgoing = self.outgoing.entry((spi, direction)).or_default();
                outgoing.latest = outgoing.latest.max(sequence);
                self.send_checkpoint(now, spi, direction);
            }
        }
        info!(
            epoch = takeover.epoch,
            ike_sas = takeover.ike_sas.len(),
            child_sas = takeover.children.len(),
            ready = self.ready,
            "HA takeover"
        );
        if !takeover.ike_sas.is_empty() {
            self.outputs.push_back(HaOutput::Activate(takeover));
        }
    }

    /// The requests the old node may have sent on a lazily synced IKE SA since its last
    /// message-ID sync: up to `exchanges` unsynced ones, as many again in a sync datagram lost
    /// with the old node, and some slack. Message IDs are 32 bits wide: a generous margin costs
    /// nothing, one too small makes the peer drop the sync (RFC 6311 §5.1).
    fn message_id_margin(&self) -> u32 {
        match self.config.message_ids {
            MessageIdPolicy::PerExchange => 0,
            MessageIdPolicy::Lazy { exchanges, .. } => {
                exchanges.saturating_mul(2).saturating_add(MESSAGE_ID_SLACK)
            }
        }
    }

    /// Stops everything at once: the engine's SAs turn passive and every SA and policy leaves
    /// the data plane, so neither IKE nor ESP leaves this node until it is active again.
    fn demote(&mut self, now: Instant, engine: &Endpoint) {
        self.counters.demotions += 1;
        // What moved since the last checkpoint goes out before we say we stopped.
        self.flush_checkpoints(now);
        self.outputs.push_back(HaOutput::Deactivate);
        let mut reqids = BTreeSet::<ReqId>::new();
        let mut sas = BTreeSet::<(Spi, Direction)>::new();
        for ike in engine.ike_sas() {
            for child in &ike.children {
                sas.insert((child.spi_out, Direction::Outbound));
                sas.insert((child.spi_in, Direction::Inbound));
                reqids.insert(child.reqid);
            }
        }
        for reqid in reqids {
            self.outputs
                .push_back(HaOutput::Sa(SaCommand::DeletePolicy { reqid }));
        }
        // Outbound first: those are the ones that must stop.
        for (spi, direction) in sas.iter().filter(|(_, d)| *d == Direction::Outbound) {
            self.outputs.push_back(HaOutput::Sa(SaCommand::DeleteSa {
                spi: *spi,
                direction: *direction,
            }));
        }
        for (spi, direction) in sas.iter().filter(|(_, d)| *d == Direction::Inbound) {
            self.outputs.push_back(HaOutput::Sa(SaCommand::DeleteSa {
                spi: *spi,
                direction: *direction,
            }));
        }
        self.freshness.insert(Source::Local, Freshness::Stopped);
        for (_, entry) in self.cache.iter_mut() {
            entry.local = false;
        }
        self.outgoing.clear();
        self.checkpoint_due.clear();
        self.lazy.clear();
        self.lazy_due.clear();
        for peer in self.peers.values_mut() {
            peer.bulk = None;
        }
        self.ready = false;
        self.bulk_in = None;
        self.next_resync = now;
        warn!(
            ike_sas = self.cache.len(),
            "HA demotion: fenced, waiting for a resync"
        );
    }

    /// The last number to consider used on outbound SA `spi`: the largest bound over the
    /// sources that reported checkpoints of it (or `default` with checkpoint 0 when none
    /// did).
    fn outbound_start(&self, now: Instant, spi: Spi, esn: bool, default: Source) -> u64 {
        let policy = &self.config.takeover;
        let fixed = self
            .config
            .checkpoints
            .packets
            .saturating_add(policy.margin);
        let allowance = {
            let packets = packets_in(policy.max_packet_rate, policy.split_brain_allowance);
            if esn {
                packets
            } else {
                packets.min(policy.narrow_allowance_cap)
            }
        };
        let bound = |source: Source, mark: u64| {
            let (age, allowance) = match self.freshness.get(&source) {
                Some(Freshness::Stopped) => (Duration::ZERO, 0),
                Some(Freshness::Live(at)) => (now.saturating_duration_since(*at), allowance),
                None => (Duration::ZERO, allowance),
            };
            mark.saturating_add(fixed)
                .saturating_add(packets_in(
                    policy.max_packet_rate,
                    age.saturating_add(policy.max_sync_delay),
                ))
                .saturating_add(allowance)
        };
        let start = match self.cache.marks(spi, Direction::Outbound) {
            Some(marks) if !marks.is_empty() => marks
                .iter()
                .map(|(source, mark)| bound(*source, *mark))
                .max()
                .unwrap_or(u64::MAX),
            _ => bound(default, 0),
        };
        let top = if esn { u64::MAX } else { u64::from(u32::MAX) };
        if start >= top {
            warn!(%spi, "takeover exhausts the sequence space; the SA must be rekeyed");
        }
        start.min(top)
    }
}

/// Extra message IDs in the RFC 6311 margin beyond what the lazy policy allows.
const MESSAGE_ID_SLACK: u32 = 64;

/// Packets at `rate` per second in `duration`, rounded up, saturating.
pub(crate) fn packets_in(rate: u64, duration: Duration) -> u64 {
    let packets = u128::from(rate).saturating_mul(duration.as_nanos());
    u64::try_from(packets.div_ceil(1_000_000_000)).unwrap_or(u64::MAX)
}

/// Moves a snapshot's durations on by `elapsed` (it was taken that long ago).
fn age(snapshot: &mut IkeSaSnapshot, elapsed: Duration) {
    snapshot.age = snapshot.age.saturating_add(elapsed);
    snapshot.rekey_in = snapshot.rekey_in.map(|d| d.saturating_sub(elapsed));
    snapshot.expire_in = snapshot.expire_in.map(|d| d.saturating_sub(elapsed));
    for child in &mut snapshot.children {
        child.age = child.age.saturating_add(elapsed);
        child.rekey_in = child.rekey_in.map(|d| d.saturating_sub(elapsed));
        child.expire_in = child.expire_in.map(|d| d.saturating_sub(elapsed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packets_in_rounds_up_and_saturates() {
        assert_eq!(packets_in(1000, Duration::from_millis(1)), 1);
        assert_eq!(packets_in(1000, Duration::from_micros(1)), 1);
        assert_eq!(packets_in(0, Duration::from_secs(5)), 0);
        assert_eq!(
            packets_in(2_000_000, Duration::from_secs(3600)),
            7_200_000_000
        );
        assert_eq!(
            packets_in(u64::MAX, Duration::from_secs(u64::MAX)),
            u64::MAX
        );
    }
}
