//! Two and three HA nodes wired back to back (no engine traffic): the sync channel's
//! checks, session verification, resync, state replication, checkpoints and takeover.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use hitless_crypto::SecretBytes;
use hitless_ike::Endpoint;
use hitless_ike::IkeSaSnapshot;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::SaCommand;

use crate::config::HaConfig;
use crate::config::MessageIdPolicy;
use crate::config::NodeId;
use crate::node::HaNode;
use crate::output::HaOutput;
use crate::output::Takeover;
use crate::status::DropReason;
use crate::status::Role;
use crate::test_support::sample_snapshot;

/// Nodes 1..=n with direct links; a test can drop, hold or tamper with datagrams.
struct Cluster {
    now: Instant,
    nodes: Vec<HaNode>,
    engine: Endpoint,
    /// Non-datagram outputs of each node, in order.
    effects: Vec<Vec<HaOutput>>,
    /// Every datagram delivered or dropped: (from index, to index, payload).
    sent: Vec<(usize, usize, Vec<u8>)>,
    /// Links that drop everything: (from index, to index).
    cut: Vec<(usize, usize)>,
    /// Datagrams held back for the test: (from, to, payload).
    held: VecDeque<(usize, usize, Vec<u8>)>,
    hold: bool,
}

fn secret() -> SecretBytes {
    SecretBytes::new(vec![0x5a; 32])
}

fn config(node: u16, n: u16) -> HaConfig {
    let members = (1..=n).filter(|&m| m != node).map(NodeId).collect();
    let mut config = HaConfig::new(NodeId(node), members, secret());
    config.heartbeat_interval = Duration::from_millis(50);
    config
}

impl Cluster {
    fn new(n: u16) -> Self {
        Self::with(n, |_| {})
    }

    fn with(n: u16, tweak: impl Fn(&mut HaConfig)) -> Self {
        let now = crate::test_support::origin();
        let nodes = (1..=n)
            .map(|id| {
                let mut c = config(id, n);
                tweak(&mut c);
                let crypto = Arc::new(hitless_crypto_insecure::provider(u64::from(id)));
                HaNode::new(c, crypto, now).unwrap()
            })
            .collect();
        let engine = Endpoint::new(
            Arc::new(hitless_ike::Config::default()),
            Arc::new(hitless_crypto_insecure::provider(99)),
        );
        Self {
            now,
            nodes,
            engine,
            effects: vec![Vec::new(); usize::from(n)],
            sent: Vec::new(),
            cut: Vec::new(),
            held: VecDeque::new(),
            hold: false,
        }
    }

    /// Delivers everything until no node has anything to send.
    fn pump(&mut self) {
        loop {
            let mut wire = Vec::new();
            for (i, node) in self.nodes.iter_mut().enumerate() {
                while let Some(output) = node.poll_output() {
                    match output {
                        HaOutput::Send(t) => wire.push((i, usize::from(t.to.0) - 1, t.payload)),
                        other => self.effects[i].push(other),
                    }
                }
            }
            if wire.is_empty() {
                return;
            }
            for (from, to, payload) in wire {
                self.sent.push((from, to, payload.clone()));
                if self.cut.contains(&(from, to)) {
                    continue;
                }
                if self.hold {
                    self.held.push_back((from, to, payload));
                    continue;
                }
                let _ = self.nodes[to].handle_sync(self.now, &payload);
            }
        }
    }

    /// Runs timers for `duration` in 10 ms steps.
    fn run(&mut self, duration: Duration) {
        let end = self.now + duration;
        while self.now < end {
            self.now += Duration::from_millis(10);
            for node in &mut self.nodes {
                node.handle_timeout(self.now);
            }
            self.pump();
        }
    }

    fn set_role(&mut self, i: usize, role: Role) {
        let now = self.now;
        self.nodes[i].set_role(now, role, &self.engine);
        self.pump();
    }

    /// Node `i` runs `snapshot` (as if its engine reported it).
    fn publish(&mut self, i: usize, snapshot: IkeSaSnapshot) {
        let now = self.now;
        self.nodes[i].publish_snapshot(now, snapshot);
        self.pump();
    }

    fn checkpoint(&mut self, i: usize, spi: hitless_sadb::Spi, direction: Direction, seq: u64) {
        let now = self.now;
        self.nodes[i].handle_backend_event(
            now,
            &BackendEvent::SequenceCheckpoint {
                spi,
                direction,
                sequence: seq,
            },
        );
        self.pump();
    }

    fn imports(&self, i: usize) -> Vec<&IkeSaSnapshot> {
        self.effects[i]
            .iter()
            .filter_map(|e| match e {
                HaOutput::Import(s) => Some(&**s),
                _ => None,
            })
            .collect()
    }

    fn takeover(&self, i: usize) -> Option<&Takeover> {
        self.effects[i].iter().rev().find_map(|e| match e {
            HaOutput::Activate(t) => Some(t),
            _ => None,
        })
    }

    fn drops(&self, i: usize, reason: DropReason) -> u64 {
        self.nodes[i]
            .status(self.now)
            .counters
            .dropped
            .get(&reason)
            .copied()
            .unwrap_or(0)
    }

    /// Node 0 active, node 1 a ready standby.
    fn active_standby() -> Self {
        let mut c = Self::new(2);
        c.run(Duration::from_millis(200));
        c.set_role(0, Role::Active);
        c.run(Duration::from_millis(300));
        assert!(c.nodes[1].is_ready(), "{:?}", c.nodes[1].status(c.now));
        c
    }
}

#[test]
fn a_standby_becomes_ready_and_mirrors_the_active_node() {
    let mut c = Cluster::active_standby();
    let status = c.nodes[1].status(c.now);
    assert_eq!(status.counters.bulk_received, 1);
    assert!(status.peers[0].alive);
    assert_eq!(status.peers[0].role, Some(Role::Active));
    c.publish(0, sample_snapshot(1));
    c.publish(0, sample_snapshot(2));
    assert_eq!(c.imports(1).len(), 2);
    assert_eq!(c.imports(1)[0], &sample_snapshot(1));
    assert_eq!(c.nodes[1].ike_sas(), c.nodes[0].ike_sas());
    // Deleting one removes it on the standby.
    let now = c.now;
    c.nodes[0].sync_delete(sample_snapshot(1).spis);
    let _ = now;
    c.pump();
    assert!(
        c.effects[1]
            .iter()
            .any(|e| *e == HaOutput::Remove(sample_snapshot(1).spis))
    );
    assert_eq!(c.nodes[1].ike_sas(), vec![sample_snapshot(2).spis]);
    // The active node knows the standby is caught up.
    c.run(Duration::from_millis(100));
    let status = c.nodes[0].status(c.now);
    // At most the latest heartbeat is unacknowledged.
    assert!(status.peers[0].unacked <= 1, "{status:?}");
    assert!(status.peers[0].sync_lag < Duration::from_millis(50));
}

#[test]
fn many_changes_in_one_input_share_datagrams() {
    let mut c = Cluster::active_standby();
    let before = c.sent.len();
    let now = c.now;
    for seed in 1..=40 {
        c.nodes[0].publish_snapshot(now, sample_snapshot(seed));
    }
    c.pump();
    let datagrams = c.sent[before..].iter().filter(|(f, ..)| *f == 0).count();
    // About 900 bytes per snapshot, 1400-byte datagrams.
    assert!(datagrams <= 40, "{datagrams} datagrams");
    assert!(c.sent[before..].iter().all(|(_, _, p)| p.len() <= 1400));
    assert_eq!(c.nodes[1].ike_sas().len(), 40);
}

#[test]
fn a_restarted_standby_resyncs_everything() {
    let mut c = Cluster::active_standby();
    for seed in 1..=5 {
        c.publish(0, sample_snapshot(seed));
    }
    c.checkpoint(
        0,
        sample_snapshot(1).children[0].spi_out,
        Direction::Outbound,
        8192,
    );
    // Node 2 restarts: a new session, nothing known.
    c.nodes[1] = HaNode::new(
        config(2, 2),
        Arc::new(hitless_crypto_insecure::provider(1002)),
        c.now,
    )
    .unwrap();
    c.effects[1].clear();
    c.run(Duration::from_millis(500));
    assert!(c.nodes[1].is_ready());
    assert_eq!(c.imports(1).len(), 5);
    assert_eq!(
        c.nodes[1].checkpoint(sample_snapshot(1).children[0].spi_out, Direction::Outbound),
        Some(8192)
    );
}

#[test]
fn forged_replayed_truncated_foreign_and_other_versions_are_dropped_and_counted() {
    let mut c = Cluster::active_standby();
    c.hold = true;
    c.publish(0, sample_snapshot(1));
    let (_, _, good) = c.held.pop_front().unwrap();
    c.held.clear();
    c.hold = false;
    let now = c.now;
    let b = &mut c.nodes[1];
    assert_eq!(b.handle_sync(now, &good), Ok(()));
    assert_eq!(b.handle_sync(now, &good), Err(DropReason::Replayed));
    let mut forged = good.clone();
    let last = forged.len() - 1;
    forged[last] ^= 1;
    // Forged with a fresh sequence number, so only authentication can catch it.
    forged[33] = forged[33].wrapping_add(1);
    assert_eq!(b.handle_sync(now, &forged), Err(DropReason::Forged));
    assert_eq!(b.handle_sync(now, &good[..40]), Err(DropReason::Truncated));
    let mut version = good.clone();
    version[4] = 9;
    assert_eq!(b.handle_sync(now, &version), Err(DropReason::Version));
    let mut foreign = good.clone();
    foreign[7] = 7;
    assert_eq!(b.handle_sync(now, &foreign), Err(DropReason::NonMember));
    let mut own = good.clone();
    own[7] = 2;
    assert_eq!(b.handle_sync(now, &own), Err(DropReason::NonMember));
    let mut misdirected = good.clone();
    misdirected[9] = 3;
    assert_eq!(
        b.handle_sync(now, &misdirected),
        Err(DropReason::Misdirected)
    );
    assert_eq!(b.handle_sync(now, b"HLHA"), Err(DropReason::Truncated));
    assert_eq!(b.handle_sync(now, &[0; 64]), Err(DropReason::NotSync));
    for reason in [
        DropReason::Replayed,
        DropReason::Forged,
        DropReason::Truncated,
        DropReason::Version,
        DropReason::NonMember,
        DropReason::Misdirected,
        DropReason::NotSync,
    ] {
        assert!(c.drops(1, reason) >= 1, "{reason:?}");
    }
    // The good datagram was applied once.
    c.pump();
    assert_eq!(c.imports(1).len(), 1);
}

#[test]
fn a_datagram_under_another_secret_is_forged() {
    let mut c = Cluster::active_standby();
    let mut intruder = HaNode::new(
        HaConfig::new(NodeId(1), vec![NodeId(2)], SecretBytes::new(vec![1; 32])),
        Arc::new(hitless_crypto_insecure::provider(66)),
        c.now,
    )
    .unwrap();
    let engine = Endpoint::new(
        Arc::new(hitless_ike::Config::default()),
        Arc::new(hitless_crypto_insecure::provider(67)),
    );
    intruder.set_role(c.now, Role::Active, &engine);
    intruder.publish_snapshot(c.now, sample_snapshot(3));
    let mut sent = 0;
    while let Some(output) = intruder.poll_output() {
        if let HaOutput::Send(t) = output {
            sent += 1;
            assert_eq!(
                c.nodes[1].handle_sync(c.now, &t.payload),
                Err(DropReason::Forged)
            );
        }
    }
    assert!(sent > 0);
    c.pump();
    assert!(c.imports(1).is_empty());
}

#[test]
fn datagrams_of_an_old_session_are_never_applied_after_a_restart() {
    let mut c = Cluster::active_standby();
    c.publish(0, sample_snapshot(1));
    let old: Vec<Vec<u8>> = c
        .sent
        .iter()
        .filter(|(f, ..)| *f == 0)
        .map(|(_, _, p)| p.clone())
        .collect();
    // The standby restarts and sees every old datagram replayed before the active node
    // speaks again.
    c.nodes[1] = HaNode::new(
        config(2, 2),
        Arc::new(hitless_crypto_insecure::provider(2002)),
        c.now,
    )
    .unwrap();
    c.effects[1].clear();
    c.cut.push((0, 1));
    let now = c.now;
    for datagram in &old {
        let _ = c.nodes[1].handle_sync(now, datagram);
    }
    c.pump();
    c.run(Duration::from_millis(500));
    assert!(c.imports(1).is_empty(), "old-session records applied");
    assert!(!c.nodes[1].is_ready());
    // The challenge for the old session goes unanswered; once the link is back, the current
    // session answers and the state arrives.
    c.cut.clear();
    c.run(Duration::from_millis(800));
    assert!(c.nodes[1].is_ready());
    assert_eq!(c.imports(1).len(), 1);
}

#[test]
fn lost_datagrams_are_retransmitted_in_order() {
    let mut c = Cluster::active_standby();
    c.hold = true;
    for seed in 1..=3 {
        c.publish(0, sample_snapshot(seed));
    }
    c.hold = false;
    let held: Vec<_> = c.held.drain(..).collect();
    assert_eq!(held.len(), 3);
    // The first is lost; the others arrive and wait.
    let now = c.now;
    for (_, to, payload) in &held[1..] {
        c.nodes[*to].handle_sync(now, payload).unwrap();
    }
    c.pump();
    assert!(c.imports(1).is_empty(), "applied out of order");
    c.run(Duration::from_millis(100));
    let order: Vec<_> = c.imports(1).iter().map(|s| s.spis).collect();
    let expected: Vec<_> = (1..=3).map(|s| sample_snapshot(s).spis).collect();
    assert_eq!(order, expected);
    assert!(c.nodes[0].status(c.now).counters.retransmitted >= 1);
}

#[test]
fn a_gap_beyond_the_retransmit_buffer_ends_in_a_bulk_resync() {
    let mut c = Cluster::with(2, |config| config.stream.retransmit_buffer = 4);
    c.run(Duration::from_millis(200));
    c.set_role(0, Role::Active);
    c.run(Duration::from_millis(300));
    c.cut.push((0, 1));
    for seed in 1..=10 {
        c.publish(0, sample_snapshot(seed));
    }
    c.nodes[0].sync_delete(sample_snapshot(4).spis);
    c.pump();
    c.cut.clear();
    c.run(Duration::from_millis(500));
    let status = c.nodes[0].status(c.now);
    assert!(status.counters.bulk_sent >= 2, "{status:?}");
    assert!(c.nodes[1].is_ready());
    assert_eq!(c.nodes[1].ike_sas(), c.nodes[0].ike_sas());
    assert_eq!(c.nodes[1].ike_sas().len(), 9);
}

#[test]
fn a_corrupt_snapshot_never_replaces_a_good_one() {
    let mut c = Cluster::active_standby();
    c.publish(0, sample_snapshot(1));
    // A member with the secret sends a record with a truncated attribute.
    let mut w = crate::tlv::Writer::new();
    let mut good = crate::message::Record::IkeSa(Box::new(crate::message::SaRecord {
        snapshot: sample_snapshot(1),
        lazy_ids: false,
    }))
    .encode()
    .unwrap()
    .to_vec();
    // Cut inside the keys and fix up the record length.
    good.truncate(200);
    let len = u16::try_from(good.len() - 4).unwrap();
    good[2..4].copy_from_slice(&len.to_be_bytes());
    w.nested(0x7fff, |_| Ok(())).unwrap();
    let node = &mut c.nodes[0];
    let peer = node.peers.get_mut(&NodeId(2)).unwrap();
    peer.queue.push(zeroize::Zeroizing::new(good));
    c.pump();
    let status = c.nodes[1].status(c.now);
    assert_eq!(status.counters.corrupt_records, 1);
    assert_eq!(c.imports(1).len(), 1);
    assert_eq!(
        c.nodes[1]
            .cache
            .get(&sample_snapshot(1).spis)
            .unwrap()
            .snapshot,
        sample_snapshot(1)
    );
}

#[test]
fn checkpoints_are_paced_by_count_and_time_and_only_when_moved() {
    let mut c = Cluster::active_standby();
    let snapshot = sample_snapshot(1);
    let spi = snapshot.children[0].spi_out;
    c.publish(0, snapshot);
    let sent = |c: &Cluster| c.nodes[0].status(c.now).counters.checkpoints_sent;
    c.checkpoint(0, spi, Direction::Outbound, 1024);
    assert_eq!(sent(&c), 1, "the first goes at once");
    c.checkpoint(0, spi, Direction::Outbound, 1100);
    assert_eq!(sent(&c), 1, "a small move waits for T");
    c.checkpoint(0, spi, Direction::Outbound, 2048);
    assert_eq!(sent(&c), 2, "N packets go at once");
    c.checkpoint(0, spi, Direction::Outbound, 2100);
    c.run(Duration::from_millis(60));
    assert_eq!(sent(&c), 3, "T passed");
    assert_eq!(c.nodes[1].checkpoint(spi, Direction::Outbound), Some(2100));
    c.checkpoint(0, spi, Direction::Outbound, 2100);
    c.run(Duration::from_millis(200));
    assert_eq!(sent(&c), 3, "unchanged: nothing sent");
}

#[test]
fn takeover_jumps_past_the_old_nodes_numbers() {
    let mut c = Cluster::active_standby();
    let snapshot = sample_snapshot(1);
    let esn_spi = snapshot.children[0].spi_out;
    let narrow_spi = snapshot.children[1].spi_out;
    let inbound = snapshot.children[0].spi_in;
    c.publish(0, snapshot.clone());
    c.checkpoint(0, esn_spi, Direction::Outbound, 50_000);
    c.checkpoint(0, narrow_spi, Direction::Outbound, 3_000);
    c.checkpoint(0, inbound, Direction::Inbound, 42_000);
    c.run(Duration::from_millis(60));
    // The active node dies; 300 ms later keepalived makes the standby active.
    c.cut.push((0, 1));
    c.cut.push((1, 0));
    c.run(Duration::from_millis(300));
    c.set_role(1, Role::Active);
    let takeover = c.takeover(1).unwrap().clone();
    assert_eq!(takeover.ike_sas, vec![snapshot.spis]);
    assert_eq!(takeover.epoch, 2);
    let policy = c.nodes[1].config.takeover;
    let n = c.nodes[1].config.checkpoints.packets;
    let esn = takeover
        .children
        .iter()
        .find(|ch| ch.spi_out == esn_spi)
        .unwrap();
    let narrow = takeover
        .children
        .iter()
        .find(|ch| ch.spi_out == narrow_spi)
        .unwrap();
    // Age: the last in-order datagram arrived at most one heartbeat before the cut.
    let rate = policy.max_packet_rate;
    let low_age = crate::takeover::packets_in(rate, Duration::from_millis(300));
    let high_age = crate::takeover::packets_in(rate, Duration::from_millis(360));
    let d = crate::takeover::packets_in(rate, policy.max_sync_delay);
    let allowance = crate::takeover::packets_in(rate, policy.split_brain_allowance);
    let base = n + policy.margin + d;
    assert!(
        esn.outbound_from >= 50_000 + base + low_age + allowance,
        "{esn:?}"
    );
    assert!(
        esn.outbound_from <= 50_000 + base + high_age + allowance,
        "{esn:?}"
    );
    assert!(narrow.outbound_from >= 3_000 + base + low_age + policy.narrow_allowance_cap);
    assert!(narrow.outbound_from < u64::from(u32::MAX));
    assert_eq!(esn.inbound_from, 42_000);
    assert_eq!(esn.outbound_checkpoint, Some(50_000));
    // The imported snapshot carries those numbers, before the activation.
    let import = c.imports(1).last().copied().unwrap().clone();
    let position = |pred: &dyn Fn(&HaOutput) -> bool| c.effects[1].iter().rposition(pred).unwrap();
    assert!(
        position(&|e| matches!(e, HaOutput::Import(_)))
            < position(&|e| matches!(e, HaOutput::Activate(_)))
    );
    assert_eq!(import.children[0].outbound_sequence, esn.outbound_from);
    assert_eq!(import.children[0].inbound_sequence, 42_000);
    assert!(c.nodes[1].is_ready());
}

#[test]
fn a_node_that_stepped_down_is_trusted_to_have_stopped() {
    let mut c = Cluster::active_standby();
    let snapshot = sample_snapshot(1);
    let spi = snapshot.children[0].spi_out;
    c.publish(0, snapshot);
    c.checkpoint(0, spi, Direction::Outbound, 10_000);
    c.checkpoint(0, spi, Direction::Outbound, 10_500);
    // keepalived moves the address: the old node is told first, then the new one.
    c.set_role(0, Role::Standby);
    // Fenced: deactivated and every SA deleted from the data plane.
    assert!(c.effects[0].contains(&HaOutput::Deactivate));
    c.run(Duration::from_millis(20));
    c.set_role(1, Role::Active);
    let takeover = c.takeover(1).unwrap().clone();
    let child = *takeover
        .children
        .iter()
        .find(|ch| ch.spi_out == spi)
        .unwrap();
    let policy = c.nodes[1].config.takeover;
    let n = c.nodes[1].config.checkpoints.packets;
    let d = crate::takeover::packets_in(policy.max_packet_rate, policy.max_sync_delay);
    // The final checkpoint was flushed before the demotion; no age, no split-brain term.
    assert_eq!(child.outbound_from, 10_500 + n + policy.margin + d);
    // The demoted node resyncs from the new active one.
    c.run(Duration::from_millis(300));
    assert!(c.nodes[0].is_ready());
    assert_eq!(
        c.nodes[0].checkpoint(spi, Direction::Outbound),
        Some(child.outbound_from)
    );
}

#[test]
fn demotion_fences_the_data_plane_in_order() {
    let mut c = Cluster::active_standby();
    c.set_role(0, Role::Fault);
    let effects = &c.effects[0];
    let deactivate = effects
        .iter()
        .position(|e| *e == HaOutput::Deactivate)
        .unwrap();
    assert!(effects[deactivate + 1..].iter().all(|e| matches!(
        e,
        HaOutput::Sa(SaCommand::DeleteSa { .. } | SaCommand::DeletePolicy { .. })
    )));
    assert_eq!(c.nodes[0].role(), Role::Fault);
    assert!(!c.nodes[0].is_ready());
    assert_eq!(c.nodes[0].status(c.now).counters.demotions, 1);
}

#[test]
fn split_brain_moves_both_past_each_other() {
    let mut c = Cluster::active_standby();
    let snapshot = sample_snapshot(1);
    let spi = snapshot.children[0].spi_out;
    c.publish(0, snapshot);
    c.run(Duration::from_millis(60));
    // Partition: both become active.
    c.cut = vec![(0, 1), (1, 0)];
    c.run(Duration::from_millis(300));
    c.set_role(1, Role::Active);
    let jump = c.takeover(1).unwrap().children[0].outbound_from;
    c.checkpoint(0, spi, Direction::Outbound, 5_000);
    c.checkpoint(1, spi, Direction::Outbound, jump + 5_000);
    // Healed: each hears the other is active too.
    c.cut.clear();
    c.run(Duration::from_millis(200));
    assert!(c.nodes[0].status(c.now).counters.split_brain >= 1);
    assert!(c.nodes[1].status(c.now).counters.split_brain >= 1);
    let advanced: Vec<u64> = c.effects[0]
        .iter()
        .filter_map(|e| match e {
            HaOutput::Sa(SaCommand::AdvanceSequence {
                spi: s, sequence, ..
            }) if *s == spi => Some(*sequence),
            _ => None,
        })
        .collect();
    assert!(
        advanced.iter().any(|&seq| seq > jump + 5_000),
        "node 1 did not move past node 2: {advanced:?}"
    );
    // keepalived settles: node 2 steps down, node 1 adopts nothing new (it ran the SA).
    c.set_role(1, Role::Standby);
    c.run(Duration::from_millis(300));
    assert!(c.nodes[1].is_ready());
}

#[test]
fn lazy_message_ids_are_batched() {
    let mut c = Cluster::with(2, |config| {
        config.message_ids = MessageIdPolicy::Lazy {
            exchanges: 5,
            interval: Duration::from_secs(1),
        };
    });
    c.run(Duration::from_millis(200));
    c.set_role(0, Role::Active);
    c.run(Duration::from_millis(300));
    let snapshot = sample_snapshot(1); // RFC 6311 message-ID sync negotiated
    c.publish(0, snapshot.clone());
    let engine = Endpoint::new(
        Arc::new(hitless_ike::Config::default()),
        Arc::new(hitless_crypto_insecure::provider(5)),
    );
    let sent = |c: &Cluster| c.nodes[0].status(c.now).counters.message_id_updates_sent;
    for i in 0..4 {
        let event = hitless_ike::Event::MessageIdsChanged {
            ike: hitless_ike::IkeSaId(1),
            spis: snapshot.spis,
            next_request: 10 + i,
            next_expected: 3,
        };
        c.nodes[0].handle_engine_event(c.now, &event, &engine);
    }
    c.pump();
    assert_eq!(sent(&c), 0);
    c.run(Duration::from_millis(1100));
    assert_eq!(sent(&c), 1, "T passed");
    let entry = c.nodes[1].cache.get(&snapshot.spis).unwrap();
    assert_eq!(entry.snapshot.window.next_request, 13);
    assert!(entry.lazy_ids);
    // The takeover asks the engine to repair them with the peer (RFC 6311).
    c.cut = vec![(0, 1), (1, 0)];
    c.set_role(1, Role::Active);
    let takeover = c.takeover(1).unwrap();
    assert_eq!(takeover.message_id_sync, vec![snapshot.spis]);
    // Up to `exchanges` unsynced requests, as many in a lost datagram, and slack.
    let MessageIdPolicy::Lazy { exchanges, .. } = c.nodes[1].config.message_ids else {
        panic!("lazy policy");
    };
    assert!(takeover.message_id_margin >= 2 * exchanges);
}
