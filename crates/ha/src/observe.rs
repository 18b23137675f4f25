//! The active node's side (ARCHITECTURE.md §2.7, `observe.rs`): engine events and data-plane
//! checkpoints become sync records, paced by [`CheckpointPolicy`](crate::CheckpointPolicy) and
//! [`MessageIdPolicy`], and bulk transfers answer resync requests.

use std::collections::VecDeque;
use std::time::Instant;

use hitless_ike::Endpoint;
use hitless_ike::Event;
use hitless_ike::IkeSaId;
use hitless_ike::IkeSaSnapshot;
use hitless_ike::IkeSpis;
use hitless_ike::WindowSnapshot;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::Spi;
use tracing::debug;
use tracing::warn;

use crate::cache::Entry;
use crate::cache::Source;
use crate::config::MessageIdPolicy;
use crate::config::NodeId;
use crate::message::MessageIds;
use crate::message::Record;
use crate::message::SaRecord;
use crate::node::BulkOut;
use crate::node::HaNode;
use crate::node::Pending;
use crate::status::Role;

impl HaNode {
    /// Takes an event of the local engine. On the active node, SA lifecycle events send the
    /// IKE SA's snapshot (creation, rekey, Child SA changes, address changes) or its delete,
    /// and message-ID changes send the window per the message-ID policy. A standby ignores
    /// events (its engine's SAs are passive copies).
    pub fn handle_engine_event(&mut self, now: Instant, event: &Event, engine: &Endpoint) {
        self.now = now;
        if !self.role.is_active() {
            return;
        }
        match event {
            Event::IkeSaEstablished { ike, spis, .. } => {
                self.local_ids.insert(*ike, *spis);
                self.sync_sa(now, *ike, engine);
            }
            Event::IkeSaRekeyed { old, new, spis } => {
                // The new IKE SA takes over the old one's Child SAs: the old copy must go
                // first, or the standby would see two owners of the same Child SAs.
                if let Some(old_spis) = self.spis_of(*old, engine) {
                    self.sync_delete(old_spis);
                }
                self.local_ids.insert(*new, *spis);
                self.sync_sa(now, *new, engine);
            }
            Event::IkeSaDeleted { ike, spis, .. } | Event::IkeSaFailed { ike, spis, .. } => {
                self.local_ids.remove(ike);
                self.sync_delete(*spis);
            }
            Event::IkeSaAddressesChanged { ike, .. }
            | Event::ChildSaInstalled { ike, .. }
            | Event::ChildSaRekeyed { ike, .. }
            | Event::ChildSaDeleted { ike, .. } => self.sync_sa(now, *ike, engine),
            Event::MessageIdsChanged {
                ike,
                spis,
                next_request,
                next_expected,
            } => {
                self.local_ids.insert(*ike, *spis);
                self.sync_message_ids(now, *ike, *spis, (*next_request, *next_expected), engine);
            }
            Event::ChildSaFailed { .. } => {}
        }
    }

    /// Takes an event of the local data plane. Sequence checkpoints are recorded (on every
    /// node, since a node that was just demoted may still drain some) and, on the active
    /// node, sent per the checkpoint policy: at once when the number moved
    /// [`CheckpointPolicy::packets`](crate::CheckpointPolicy::packets) past the last one sent,
    /// else [`CheckpointPolicy::interval`](crate::CheckpointPolicy::interval) after it; never
    /// when it did not move. Other events are not HA's.
    pub fn handle_backend_event(&mut self, now: Instant, event: &BackendEvent) {
        let BackendEvent::SequenceCheckpoint {
            spi,
            direction,
            sequence,
        } = *event
        else {
            return;
        };
        self.now = now;
        self.cache
            .record_mark(spi, direction, Source::Local, sequence);
        self.last_checkpoint_at = Some(now);
        if !self.role.is_active() {
            return;
        }
        let packets = self.config.checkpoints.packets;
        let interval = self.config.checkpoints.interval;
        let outgoing = self.outgoing.entry((spi, direction)).or_default();
        outgoing.latest = outgoing.latest.max(sequence);
        if outgoing.latest <= outgoing.sent {
            return;
        }
        let count_due = outgoing.latest >= outgoing.sent.saturating_add(packets);
        let time_due = outgoing.sent_at.is_none_or(|at| now >= at + interval);
        if count_due || time_due {
            self.send_checkpoint(now, spi, direction);
        } else if outgoing.due.is_none() {
            let due = outgoing.sent_at.map_or(now, |at| at + interval);
            outgoing.due = Some(due);
            self.checkpoint_due.insert((due, spi, direction));
        }
    }

    /// Sends the latest checkpoint of an SA now, if it moved.
    pub(crate) fn send_checkpoint(&mut self, now: Instant, spi: Spi, direction: Direction) {
        let Some(outgoing) = self.outgoing.get_mut(&(spi, direction)) else {
            return;
        };
        if let Some(due) = outgoing.due.take() {
            self.checkpoint_due.remove(&(due, spi, direction));
        }
        if outgoing.latest <= outgoing.sent {
            return;
        }
        outgoing.sent = outgoing.latest;
        outgoing.sent_at = Some(now);
        let sequence = outgoing.sent;
        for peer in self.peers.values_mut() {
            peer.queue.checkpoint(spi, direction, sequence);
        }
        self.counters.checkpoints_sent += 1;
    }

    /// Sends every checkpoint that moved since it was last sent (before a demotion).
    pub(crate) fn flush_checkpoints(&mut self, now: Instant) {
        let moved: Vec<(Spi, Direction)> = self
            .outgoing
            .iter()
            .filter(|(_, o)| o.latest > o.sent)
            .map(|(key, _)| *key)
            .collect();
        for (spi, direction) in moved {
            self.send_checkpoint(now, spi, direction);
        }
        let lazy: Vec<IkeSpis> = self.lazy.keys().copied().collect();
        for spis in lazy {
            self.send_lazy_ids(spis);
        }
    }

    /// Sends the counters of a lazily synced IKE SA now.
    pub(crate) fn send_lazy_ids(&mut self, spis: IkeSpis) {
        let Some(lazy) = self.lazy.remove(&spis) else {
            return;
        };
        if let Some(due) = lazy.due {
            self.lazy_due.remove(&(due, spis));
        }
        if lazy.unsynced == 0 {
            return;
        }
        let record = Record::MessageIds(Box::new(MessageIds {
            spis,
            exact: false,
            window: WindowSnapshot {
                next_request: lazy.next_request,
                next_expected: lazy.next_expected,
                ..WindowSnapshot::default()
            },
            in_flight: None,
        }));
        self.queue_sa_record(spis, Pending::Ids, &record);
        self.counters.message_id_updates_sent += 1;
    }

    /// Starts a bulk transfer of every IKE SA to `to` (a resync request, or a NACK for
    /// datagrams no longer kept). What was queued for it is dropped: the transfer carries
    /// newer state, and the stream restarts with it.
    pub(crate) fn start_bulk(&mut self, now: Instant, to: NodeId) {
        let remaining: VecDeque<IkeSpis> = self.cache.spis().into();
        let total = u32::try_from(remaining.len()).unwrap_or(u32::MAX);
        let Some(peer) = self.peers.get_mut(&to) else {
            return;
        };
        if peer.bulk.is_some() {
            return;
        }
        peer.queue.clear();
        peer.out.reset();
        peer.queue.push_record(
            &Record::BulkBegin {
                sas: total,
                sender_role: Role::Active,
            },
            &mut self.counters,
        );
        peer.bulk = Some(BulkOut {
            remaining,
            total,
            next_step: now,
        });
        self.counters.bulk_sent += 1;
        debug!(peer = %to, sas = total, "bulk transfer started");
        self.bulk_step(now, to);
    }

    /// Sends the next batch of a bulk transfer, if it is due.
    pub(crate) fn bulk_step(&mut self, now: Instant, to: NodeId) {
        let batch = self.config.stream.bulk_batch;
        let pause = self.config.stream.bulk_pause;
        let Some(peer) = self.peers.get_mut(&to) else {
            return;
        };
        let Some(bulk) = &mut peer.bulk else {
            return;
        };
        if now < bulk.next_step {
            return;
        }
        let spis: Vec<IkeSpis> = (0..batch)
            .map_while(|_| bulk.remaining.pop_front())
            .collect();
        let finished = bulk.remaining.is_empty();
        let total = bulk.total;
        bulk.next_step = now + pause;
        let mut records = Vec::new();
        for spis in spis {
            let Some(entry) = self.cache.get(&spis) else {
                continue;
            };
            records.push(Record::IkeSa(Box::new(SaRecord {
                snapshot: entry.snapshot.clone(),
                lazy_ids: entry.lazy_ids,
            })));
            for child in &entry.snapshot.children {
                for (spi, direction) in [
                    (child.spi_out, Direction::Outbound),
                    (child.spi_in, Direction::Inbound),
                ] {
                    if let Some(sequence) = self.cache.max_mark(spi, direction) {
                        peer.queue.checkpoint(spi, direction, sequence);
                    }
                }
            }
        }
        for record in &records {
            peer.queue.push_record(record, &mut self.counters);
        }
        self.counters.snapshots_sent += records.len() as u64;
        if finished {
            peer.queue
                .push_record(&Record::BulkEnd { sas: total }, &mut self.counters);
            peer.bulk = None;
        }
    }

    /// Exports an IKE SA of the engine and sends its snapshot.
    fn sync_sa(&mut self, now: Instant, ike: IkeSaId, engine: &Endpoint) {
        let Some(snapshot) = engine.export(now, ike) else {
            return;
        };
        self.local_ids.insert(ike, snapshot.spis);
        self.publish_snapshot(now, snapshot);
    }

    /// Caches an IKE SA this node runs and sends its snapshot.
    pub(crate) fn publish_snapshot(&mut self, now: Instant, snapshot: IkeSaSnapshot) {
        let spis = snapshot.spis;
        let lazy_ids = self.is_lazy(&snapshot);
        let record = Record::IkeSa(Box::new(SaRecord {
            snapshot: snapshot.clone(),
            lazy_ids,
        }));
        self.forget_outgoing(spis, Some(&snapshot));
        self.cache.upsert(Entry {
            snapshot,
            received_at: now,
            lazy_ids,
            source: Source::Local,
            local: true,
            confirmed: true,
        });
        self.queue_sa_record(spis, Pending::Snapshot, &record);
        self.counters.snapshots_sent += 1;
    }

    /// Sends the delete of an IKE SA.
    pub(crate) fn sync_delete(&mut self, spis: IkeSpis) {
        if self.cache.get(&spis).is_none() {
            return;
        }
        self.forget_outgoing(spis, None);
        self.cache.remove(spis);
        if let Some(lazy) = self.lazy.remove(&spis)
            && let Some(due) = lazy.due
        {
            self.lazy_due.remove(&(due, spis));
        }
        let Ok(bytes) = Record::IkeSaDelete(spis).encode() else {
            return;
        };
        for peer in self.peers.values_mut() {
            peer.queue.drop_sa(spis);
            peer.queue.push(bytes.clone());
        }
    }

    /// Sends new message IDs: the exact window now, or (lazy policy, RFC 6311 negotiated) the
    /// counters every N exchanges or T.
    fn sync_message_ids(
        &mut self,
        now: Instant,
        ike: IkeSaId,
        spis: IkeSpis,
        (next_request, next_expected): (u32, u32),
        engine: &Endpoint,
    ) {
        let Some(entry) = self.cache.get_mut(&spis) else {
            // Not established yet (IKE_AUTH in progress): nothing to sync.
            return;
        };
        if !entry.local {
            return;
        }
        if entry.lazy_ids {
            entry.snapshot.window.next_request = next_request;
            entry.snapshot.window.next_expected = next_expected;
            let MessageIdPolicy::Lazy {
                exchanges,
                interval,
            } = self.config.message_ids
            else {
                return;
            };
            let lazy = self.lazy.entry(spis).or_default();
            lazy.unsynced += 1;
            lazy.next_request = next_request;
            lazy.next_expected = next_expected;
            if lazy.unsynced >= exchanges {
                self.send_lazy_ids(spis);
            } else if lazy.due.is_none() {
                lazy.due = Some(now + interval);
                self.lazy_due.insert((now + interval, spis));
            }
            return;
        }
        let Some(snapshot) = engine.export(now, ike) else {
            return;
        };
        let ids = Record::MessageIds(Box::new(MessageIds {
            spis,
            exact: true,
            window: snapshot.window.clone(),
            in_flight: snapshot.in_flight.clone(),
        }));
        let full = Record::IkeSa(Box::new(SaRecord {
            snapshot: snapshot.clone(),
            lazy_ids: false,
        }));
        entry.snapshot = snapshot;
        entry.received_at = now;
        let (Ok(ids), Ok(full)) = (ids.encode(), full.encode()) else {
            self.counters.encode_failures += 1;
            warn!(%spis, "IKE SA state too large to sync");
            return;
        };
        for peer in self.peers.values_mut() {
            // A snapshot still queued is replaced by a newer snapshot, not followed by an
            // update it would not need.
            if peer.queue.pending(spis) == Some(Pending::Snapshot) {
                peer.queue.push_sa(spis, Pending::Snapshot, full.clone());
            } else {
                peer.queue.push_sa(spis, Pending::Ids, ids.clone());
            }
        }
        self.counters.message_id_updates_sent += 1;
    }

    /// Queues a record about IKE SA `spis` for every member, superseding older unsent state.
    fn queue_sa_record(&mut self, spis: IkeSpis, kind: Pending, record: &Record) {
        let Ok(bytes) = record.encode() else {
            self.counters.encode_failures += 1;
            warn!(%spis, "IKE SA state too large to sync");
            return;
        };
        for peer in self.peers.values_mut() {
            peer.queue.push_sa(spis, kind, bytes.clone());
        }
    }

    /// Drops checkpoint pacing of Child SAs that `spis` had and `snapshot` no longer has.
    fn forget_outgoing(&mut self, spis: IkeSpis, snapshot: Option<&IkeSaSnapshot>) {
        let Some(entry) = self.cache.get(&spis) else {
            return;
        };
        for child in &entry.snapshot.children {
            if snapshot.is_some_and(|s| s.children.iter().any(|c| c.spi_in == child.spi_in)) {
                continue;
            }
            for key in [
                (child.spi_out, Direction::Outbound),
                (child.spi_in, Direction::Inbound),
            ] {
                if let Some(outgoing) = self.outgoing.remove(&key)
                    && let Some(due) = outgoing.due
                {
                    self.checkpoint_due.remove(&(due, key.0, key.1));
                }
            }
        }
    }

    /// Whether this node syncs an IKE SA's message IDs lazily.
    fn is_lazy(&self, snapshot: &IkeSaSnapshot) -> bool {
        matches!(self.config.message_ids, MessageIdPolicy::Lazy { .. })
            && snapshot.rfc6311.message_id_sync
    }

    /// The SPIs of an engine handle.
    fn spis_of(&self, ike: IkeSaId, engine: &Endpoint) -> Option<IkeSpis> {
        engine
            .ike_sa(ike)
            .map(|info| info.spis)
            .or_else(|| self.local_ids.get(&ike).copied())
    }
}
