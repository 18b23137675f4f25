//! [`HaNode`]: one cluster member's HA state machine. Its inputs are the role keepalived gives
//! it, the local engine's events, the data plane's checkpoints, sync datagrams and time; its
//! outputs ([`HaOutput`]) are datagrams, engine operations and backend commands.
//!
//! This file holds the node's state, its public API, timers and the packing of records into
//! datagrams. What happens on the active side is in `observe`, on the receiving side in
//! `dispatch`, and role changes in `takeover`.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::HashMap;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use hitless_crypto::CryptoProvider;
use hitless_ike::IkeSaId;
use hitless_ike::IkeSpis;
use hitless_sadb::Direction;
use hitless_sadb::Spi;
use tracing::warn;
use zeroize::Zeroizing;

use crate::cache::Cache;
use crate::cache::Source;
use crate::channel;
use crate::channel::Suite;
use crate::config::ConfigError;
use crate::config::HaConfig;
use crate::config::NodeId;
use crate::message::CHECKPOINT_ENCODED_LEN;
use crate::message::Checkpoint;
use crate::message::Heartbeat;
use crate::message::Nonce;
use crate::message::Record;
use crate::message::SessionId;
use crate::output::HaOutput;
use crate::output::SyncTransmit;
use crate::status::HaCounters;
use crate::status::HaStatus;
use crate::status::PeerStatus;
use crate::status::Role;
use crate::stream::InStream;
use crate::stream::OutStream;
use crate::tlv::ATTRIBUTE_HEADER_LEN;

/// One member of an HA cluster (ARCHITECTURE.md §2.7). See the crate documentation for the
/// driving loop.
pub struct HaNode {
    pub(crate) config: HaConfig,
    pub(crate) crypto: Arc<CryptoProvider>,
    pub(crate) suite: Suite,
    pub(crate) session: SessionId,
    pub(crate) role: Role,
    pub(crate) epoch: u64,
    pub(crate) ready: bool,
    pub(crate) peers: BTreeMap<NodeId, Peer>,
    pub(crate) cache: Cache,
    /// Engine handles of the IKE SAs this node runs, to name an IKE SA by SPIs when an event
    /// carries only its handle.
    pub(crate) local_ids: HashMap<IkeSaId, IkeSpis>,
    /// Checkpoint pacing per SA (active side).
    pub(crate) outgoing: HashMap<(Spi, Direction), Outgoing>,
    pub(crate) checkpoint_due: BTreeSet<(Instant, Spi, Direction)>,
    /// Lazy message-ID pacing per IKE SA (active side).
    pub(crate) lazy: HashMap<IkeSpis, LazyIds>,
    pub(crate) lazy_due: BTreeSet<(Instant, IkeSpis)>,
    /// How current each source's checkpoints are.
    pub(crate) freshness: BTreeMap<Source, Freshness>,
    /// The member whose bulk transfer is arriving.
    pub(crate) bulk_in: Option<NodeId>,
    pub(crate) next_heartbeat: Instant,
    pub(crate) next_resync: Instant,
    pub(crate) last_checkpoint_at: Option<Instant>,
    /// The time of the latest input, for timestamps taken while packing.
    pub(crate) now: Instant,
    pub(crate) outputs: VecDeque<HaOutput>,
    pub(crate) counters: HaCounters,
}

/// What a node knows of, and keeps for, another member.
pub(crate) struct Peer {
    pub(crate) out: OutStream,
    pub(crate) current: Option<InStream>,
    pub(crate) candidates: Vec<Candidate>,
    pub(crate) queue: Queue,
    pub(crate) control: Vec<Record>,
    pub(crate) heard: Option<Instant>,
    pub(crate) role: Option<Role>,
    pub(crate) ready: bool,
    /// Both it and this node are active (counted once per episode).
    pub(crate) split_brain: bool,
    pub(crate) bulk: Option<BulkOut>,
}

/// A session of a member that has not yet proved it is current.
pub(crate) struct Candidate {
    pub(crate) stream: InStream,
    pub(crate) nonce: Nonce,
    pub(crate) challenged_at: Instant,
}

/// A bulk transfer being sent.
pub(crate) struct BulkOut {
    pub(crate) remaining: VecDeque<IkeSpis>,
    pub(crate) total: u32,
    pub(crate) next_step: Instant,
}

/// Records waiting to be packed into datagrams for one member, with newer state of an IKE SA
/// replacing older state not yet sent.
#[derive(Default)]
pub(crate) struct Queue {
    records: Vec<Option<Zeroizing<Vec<u8>>>>,
    by_sa: HashMap<IkeSpis, (usize, Pending)>,
    checkpoints: BTreeMap<(Spi, Direction), u64>,
}

/// What a queued record says about its IKE SA.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Pending {
    /// A full snapshot.
    Snapshot,
    /// A message-ID update.
    Ids,
}

/// Checkpoint pacing of one SA on the active node.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Outgoing {
    pub(crate) latest: u64,
    pub(crate) sent: u64,
    pub(crate) sent_at: Option<Instant>,
    pub(crate) due: Option<Instant>,
}

/// Lazy message-ID pacing of one IKE SA on the active node.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct LazyIds {
    pub(crate) unsynced: u32,
    pub(crate) next_request: u32,
    pub(crate) next_expected: u32,
    pub(crate) due: Option<Instant>,
}

/// How current a source's checkpoints are.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Freshness {
    /// Its stream was last applied in order at this time; it may still be sending.
    Live(Instant),
    /// It stopped sending (it reported its demotion, or it is this node after fencing).
    Stopped,
}

impl HaNode {
    /// A node in the standby role, holding nothing. Its session id comes from `crypto`'s
    /// random source, so a restarted node is a new session that its peers verify before
    /// applying anything from it.
    ///
    /// # Errors
    ///
    /// An invalid `config` ([`HaConfig::validate`]), or a provider without AES-256-GCM and
    /// HMAC-SHA2-256 or whose random source fails.
    pub fn new(
        config: HaConfig,
        crypto: Arc<CryptoProvider>,
        now: Instant,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let suite = Suite::new(&crypto, config.secret.clone())?;
        let mut session = [0u8; 16];
        crypto.fill_random(&mut session)?;
        let mut peers = BTreeMap::new();
        for &member in &config.members {
            let key = suite.key(config.node, member, &session)?;
            let out = OutStream::new(
                key,
                config.node,
                member,
                session,
                config.stream.retransmit_buffer,
            );
            peers.insert(member, Peer::new(out));
        }
        Ok(Self {
            config,
            crypto,
            suite,
            session,
            role: Role::Standby,
            epoch: 0,
            ready: false,
            peers,
            cache: Cache::default(),
            local_ids: HashMap::new(),
            outgoing: HashMap::new(),
            checkpoint_due: BTreeSet::new(),
            lazy: HashMap::new(),
            lazy_due: BTreeSet::new(),
            freshness: BTreeMap::new(),
            bulk_in: None,
            next_heartbeat: now,
            next_resync: now,
            last_checkpoint_at: None,
            now,
            outputs: VecDeque::new(),
            counters: HaCounters::default(),
        })
    }

    /// Runs what is due: heartbeats, paced checkpoints and message-ID updates, bulk transfer
    /// steps, NACKs for lasting gaps, challenge and resync retries. Spurious calls are
    /// harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if now >= self.next_heartbeat {
            self.queue_heartbeats();
            self.next_heartbeat = now + self.config.heartbeat_interval;
        }
        while let Some(&(due, spi, direction)) = self.checkpoint_due.first() {
            if due > now {
                break;
            }
            self.checkpoint_due.remove(&(due, spi, direction));
            if let Some(o) = self.outgoing.get_mut(&(spi, direction)) {
                o.due = None;
            }
            self.send_checkpoint(now, spi, direction);
        }
        while let Some(&(due, spis)) = self.lazy_due.first() {
            if due > now {
                break;
            }
            self.lazy_due.remove(&(due, spis));
            self.send_lazy_ids(spis);
        }
        let members: Vec<NodeId> = self.peers.keys().copied().collect();
        for member in &members {
            self.bulk_step(now, *member);
        }
        self.retry_control(now);
        if !self.role.is_active() && !self.ready && now >= self.next_resync {
            self.request_resync(now);
        }
    }

    /// The next output, in order. Sync records queued by earlier inputs are packed into
    /// datagrams (batched up to the MTU) when the queue of other outputs is empty.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<HaOutput> {
        if self.outputs.is_empty() {
            self.flush();
        }
        self.outputs.pop_front()
    }

    /// When [`HaNode::handle_timeout`] should next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let delay = self.config.stream.nack_delay;
        let mut next = self.next_heartbeat;
        let mut consider = |at: Option<Instant>| {
            if let Some(at) = at {
                next = next.min(at);
            }
        };
        consider(self.checkpoint_due.first().map(|(at, ..)| *at));
        consider(self.lazy_due.first().map(|(at, _)| *at));
        if !self.role.is_active() && !self.ready {
            consider(Some(self.next_resync));
        }
        for peer in self.peers.values() {
            consider(peer.bulk.as_ref().map(|b| b.next_step));
            consider(peer.current.as_ref().and_then(|s| s.nack_deadline(delay)));
            for candidate in &peer.candidates {
                consider(Some(candidate.challenged_at + CHALLENGE_RETRY));
            }
        }
        Some(next)
    }

    /// The local engine refused a snapshot this node asked it to import. The snapshot stays
    /// cached (a takeover imports it again); the failure is counted.
    pub fn import_failed(&mut self, spis: IkeSpis) {
        self.counters.import_failures += 1;
        warn!(%spis, "engine refused an HA snapshot");
    }

    /// This node's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether this node holds a complete copy of the active node's state (always true for
    /// the active node itself).
    pub fn is_ready(&self) -> bool {
        self.role.is_active() || self.ready
    }

    /// The status for `hitlessctl ha status` and metrics.
    pub fn status(&self, now: Instant) -> HaStatus {
        let peers = self
            .peers
            .iter()
            .map(|(&node, peer)| PeerStatus {
                node,
                role: peer.role,
                ready: peer.ready,
                alive: peer.heard.is_some_and(|at| {
                    now.saturating_duration_since(at) < self.config.peer_dead_after
                }),
                last_heard: peer.heard.map(|at| now.saturating_duration_since(at)),
                sync_lag: peer.out.lag(now),
                unacked: peer.out.unacked(),
            })
            .collect();
        HaStatus {
            node: self.config.node,
            role: self.role,
            epoch: self.epoch,
            ready: self.is_ready(),
            ike_sas: self.cache.len(),
            child_sas: self.cache.children(),
            last_checkpoint_age: self
                .last_checkpoint_at
                .map(|at| now.saturating_duration_since(at)),
            peers,
            counters: self.counters.clone(),
        }
    }

    /// The highest checkpoint this node knows of an ESP SA, from any source.
    pub fn checkpoint(&self, spi: Spi, direction: Direction) -> Option<u64> {
        self.cache.max_mark(spi, direction)
    }

    /// The IKE SAs this node holds a copy of or replicates, by SPIs.
    pub fn ike_sas(&self) -> Vec<IkeSpis> {
        self.cache.spis()
    }
}

impl HaNode {
    /// Queues a heartbeat to every member.
    pub(crate) fn queue_heartbeats(&mut self) {
        let sas = u32::try_from(self.cache.len()).unwrap_or(u32::MAX);
        for peer in self.peers.values_mut() {
            let heartbeat = Record::Heartbeat(Heartbeat {
                role: self.role,
                epoch: self.epoch,
                ready: self.ready || self.role.is_active(),
                ack: peer.current.as_ref().map_or(0, InStream::acknowledged),
                sas,
            });
            peer.queue.push_record(&heartbeat, &mut self.counters);
        }
    }

    /// Asks the active member (or, not knowing one, every member) for a bulk transfer.
    fn request_resync(&mut self, now: Instant) {
        self.next_resync = now + self.config.stream.resync_retry;
        let active: Vec<NodeId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.current.is_some() && p.role == Some(Role::Active))
            .map(|(&id, _)| id)
            .collect();
        for id in active {
            if let Some(peer) = self.peers.get_mut(&id) {
                peer.queue
                    .push_record(&Record::ResyncRequest, &mut self.counters);
            }
        }
    }

    /// Resends challenges that went unanswered and NACKs for lasting gaps.
    fn retry_control(&mut self, now: Instant) {
        let delay = self.config.stream.nack_delay;
        for peer in self.peers.values_mut() {
            if let Some(stream) = &mut peer.current
                && let Some((from, to)) = stream.nack_due(now, delay)
            {
                peer.control.push(Record::Nack { from, to });
            }
            for candidate in &mut peer.candidates {
                if now >= candidate.challenged_at + CHALLENGE_RETRY {
                    candidate.challenged_at = now;
                    peer.control.push(Record::Challenge {
                        target: candidate.stream.session,
                        nonce: candidate.nonce,
                    });
                }
            }
        }
    }

    /// Packs queued records into datagrams and seals them.
    fn flush(&mut self) {
        let now = self.now;
        let room = self.config.mtu - channel::HEADER_LEN - channel::TAG_LEN;
        for (&id, peer) in &mut self.peers {
            for record in std::mem::take(&mut peer.control) {
                let sealed = record
                    .encode()
                    .ok()
                    .and_then(|plain| peer.out.seal_control(&plain).ok());
                if let Some(payload) = sealed {
                    self.counters.datagrams_sent += 1;
                    self.counters.bytes_sent += payload.len() as u64;
                    self.outputs
                        .push_back(HaOutput::Send(SyncTransmit { to: id, payload }));
                }
            }
            for plain in peer.queue.pack(room) {
                match peer.out.seal_ordered(now, &plain) {
                    Ok(payload) => {
                        self.counters.datagrams_sent += 1;
                        self.counters.bytes_sent += payload.len() as u64;
                        self.outputs
                            .push_back(HaOutput::Send(SyncTransmit { to: id, payload }));
                    }
                    Err(error) => warn!(%error, peer = %id, "cannot seal a sync datagram"),
                }
            }
        }
    }
}

impl Peer {
    fn new(out: OutStream) -> Self {
        Self {
            out,
            current: None,
            candidates: Vec::new(),
            queue: Queue::default(),
            control: Vec::new(),
            heard: None,
            role: None,
            ready: false,
            split_brain: false,
            bulk: None,
        }
    }
}

impl Queue {
    /// Queues an encoded record.
    pub(crate) fn push(&mut self, bytes: Zeroizing<Vec<u8>>) {
        self.records.push(Some(bytes));
    }

    /// Encodes and queues a record.
    pub(crate) fn push_record(&mut self, record: &Record, counters: &mut HaCounters) {
        match record.encode() {
            Ok(bytes) => self.push(bytes),
            Err(_) => counters.encode_failures += 1,
        }
    }

    /// Queues state of IKE SA `spis`, dropping the unsent state it supersedes: a snapshot
    /// supersedes everything, a message-ID update only an older update.
    pub(crate) fn push_sa(&mut self, spis: IkeSpis, kind: Pending, bytes: Zeroizing<Vec<u8>>) {
        if let Some(&(index, pending)) = self.by_sa.get(&spis)
            && (kind == Pending::Snapshot || pending == Pending::Ids)
        {
            self.records[index] = None;
        }
        self.by_sa.insert(spis, (self.records.len(), kind));
        self.records.push(Some(bytes));
    }

    /// Drops unsent state of IKE SA `spis` (it is being deleted).
    pub(crate) fn drop_sa(&mut self, spis: IkeSpis) {
        if let Some((index, _)) = self.by_sa.remove(&spis) {
            self.records[index] = None;
        }
    }

    /// What unsent state of IKE SA `spis` is queued.
    pub(crate) fn pending(&self, spis: IkeSpis) -> Option<Pending> {
        self.by_sa.get(&spis).map(|(_, kind)| *kind)
    }

    /// Queues a checkpoint; a later one of the same SA replaces it.
    pub(crate) fn checkpoint(&mut self, spi: Spi, direction: Direction, sequence: u64) {
        let entry = self.checkpoints.entry((spi, direction)).or_default();
        *entry = (*entry).max(sequence);
    }

    /// Drops everything queued (a bulk transfer supersedes it).
    pub(crate) fn clear(&mut self) {
        *self = Self::default();
    }

    /// Packs everything queued into plaintexts of at most `room` bytes (a record larger than
    /// that goes alone), checkpoints last.
    fn pack(&mut self, room: usize) -> Vec<Zeroizing<Vec<u8>>> {
        let mut records: Vec<Zeroizing<Vec<u8>>> = std::mem::take(&mut self.records)
            .into_iter()
            .flatten()
            .collect();
        self.by_sa.clear();
        let checkpoints: Vec<Checkpoint> = std::mem::take(&mut self.checkpoints)
            .into_iter()
            .map(|((spi, direction), sequence)| Checkpoint {
                spi,
                direction,
                sequence,
            })
            .collect();
        let per_record = ((room - ATTRIBUTE_HEADER_LEN) / CHECKPOINT_ENCODED_LEN).max(1);
        for chunk in checkpoints.chunks(per_record) {
            if let Ok(bytes) = Record::Checkpoints(chunk.to_vec()).encode() {
                records.push(bytes);
            }
        }
        let mut plaintexts = Vec::new();
        let mut current: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
        for record in records {
            if !current.is_empty() && current.len() + record.len() > room {
                plaintexts.push(std::mem::take(&mut current));
            }
            current.extend_from_slice(&record);
        }
        if !current.is_empty() {
            plaintexts.push(current);
        }
        plaintexts
    }
}

/// How often an unanswered challenge is repeated.
pub(crate) const CHALLENGE_RETRY: Duration = Duration::from_millis(200);
/// Unverified sessions kept per member.
pub(crate) const MAX_CANDIDATES: usize = 4;
