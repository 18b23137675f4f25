//! Sync datagrams in, state out (ARCHITECTURE.md §2.7, `dispatch.rs`): authentication,
//! session verification, in-order application of records, and what each record does to the
//! cache and the local engine ([`HaOutput::Import`], [`HaOutput::Remove`]).

use std::time::Instant;

use hitless_ike::IkeSpis;
use hitless_sadb::Direction;
use hitless_sadb::SaCommand;
use tracing::debug;
use tracing::info;
use tracing::warn;
use zeroize::Zeroizing;

use crate::cache::Entry;
use crate::cache::Source;
use crate::channel;
use crate::channel::Header;
use crate::config::NodeId;
use crate::message;
use crate::message::Checkpoint;
use crate::message::Heartbeat;
use crate::message::MessageIds;
use crate::message::Nonce;
use crate::message::Record;
use crate::message::SaRecord;
use crate::node::Candidate;
use crate::node::Freshness;
use crate::node::HaNode;
use crate::node::MAX_CANDIDATES;
use crate::output::HaOutput;
use crate::output::SyncTransmit;
use crate::status::DropReason;
use crate::status::Role;
use crate::stream::InStream;

/// Which of a member's streams a datagram belongs to.
enum Which {
    Current,
    Candidate(usize),
}

impl HaNode {
    /// Takes a sync datagram from another member. Records are applied in the sender's order;
    /// datagrams ahead of a gap wait for it.
    ///
    /// # Errors
    ///
    /// Why the datagram was dropped (also counted in [`HaStatus`](crate::HaStatus)): it is
    /// truncated, not a sync datagram, of another version, from a non-member, addressed to
    /// another node, forged, replayed, or too far ahead of the stream.
    pub fn handle_sync(&mut self, now: Instant, datagram: &[u8]) -> Result<(), DropReason> {
        self.now = now;
        let result = self.receive(now, datagram);
        if let Err(reason) = result {
            self.counters.drop(reason);
            debug!(%reason, "dropped a sync datagram");
        }
        result
    }

    fn receive(&mut self, now: Instant, datagram: &[u8]) -> Result<(), DropReason> {
        let header = Header::parse(datagram)?;
        if header.sender == self.config.node || !self.peers.contains_key(&header.sender) {
            return Err(DropReason::NonMember);
        }
        if header.receiver != self.config.node {
            return Err(DropReason::Misdirected);
        }
        let capacity = self.config.stream.reorder_buffer;
        let sender = header.sender;
        let which = match self.find_stream(&header) {
            Some(which) => which,
            None => self.new_candidate(&header, datagram)?,
        };
        let peer = self.peers.get_mut(&sender).ok_or(DropReason::NonMember)?;
        let stream = match which {
            Which::Current => peer.current.as_mut(),
            Which::Candidate(i) => peer.candidates.get_mut(i).map(|c| &mut c.stream),
        }
        .ok_or(DropReason::NonMember)?;
        stream.check(&header, capacity)?;
        let plaintext = channel::open(stream.key(), &header, datagram)?;
        self.counters.datagrams_received += 1;
        self.counters.bytes_received += datagram.len() as u64;
        if header.is_control() {
            stream.accept_control(header.sequence);
            self.control(now, sender, &which, &plaintext);
            return Ok(());
        }
        stream.insert(&header, plaintext);
        if matches!(which, Which::Current) {
            self.drain_stream(now, sender);
        }
        Ok(())
    }

    /// The stream of `header`'s session, if it is the member's current session or a
    /// candidate.
    fn find_stream(&self, header: &Header) -> Option<Which> {
        let peer = self.peers.get(&header.sender)?;
        if peer
            .current
            .as_ref()
            .is_some_and(|s| s.session == header.session)
        {
            return Some(Which::Current);
        }
        peer.candidates
            .iter()
            .position(|c| c.stream.session == header.session)
            .map(Which::Candidate)
    }

    /// A datagram of a session never seen: if it authenticates under that session's key,
    /// the session becomes a candidate and is challenged; nothing from it is applied before
    /// it answers (a replayed datagram of an old session never does).
    fn new_candidate(&mut self, header: &Header, datagram: &[u8]) -> Result<Which, DropReason> {
        let key = self
            .suite
            .key(header.sender, self.config.node, &header.session)
            .map_err(|_| DropReason::Forged)?;
        channel::open(&*key, header, datagram)?;
        let mut nonce = [0u8; 16];
        self.crypto
            .fill_random(&mut nonce)
            .map_err(|_| DropReason::Unverified)?;
        let now = self.now;
        let peer = self
            .peers
            .get_mut(&header.sender)
            .ok_or(DropReason::NonMember)?;
        if peer.candidates.len() == MAX_CANDIDATES {
            peer.candidates.remove(0);
        }
        peer.candidates.push(Candidate {
            stream: InStream::new(header.session, key),
            nonce,
            challenged_at: now,
        });
        peer.control.push(Record::Challenge {
            target: header.session,
            nonce,
        });
        Ok(Which::Candidate(peer.candidates.len() - 1))
    }

    /// Handles the records of a control datagram: challenges, their answers and NACKs.
    fn control(&mut self, now: Instant, from: NodeId, which: &Which, plaintext: &[u8]) {
        let decoded = message::decode(plaintext);
        self.count_decoded(&decoded);
        for record in decoded.records {
            match record {
                Record::Challenge { target, nonce } if target == self.session => {
                    if let Some(peer) = self.peers.get_mut(&from) {
                        peer.control.push(Record::ChallengeResponse { nonce });
                    }
                }
                Record::ChallengeResponse { nonce } => {
                    if let Which::Candidate(i) = which {
                        self.promote(now, from, *i, &nonce);
                    }
                }
                Record::Nack { from: first, to } if matches!(which, Which::Current) => {
                    self.answer_nack(now, from, first, to);
                }
                _ => {}
            }
        }
    }

    /// A candidate session answered its challenge: it is the member's current session. A new
    /// session means the member restarted, so our stream to it starts over too.
    fn promote(&mut self, now: Instant, from: NodeId, index: usize, nonce: &Nonce) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        if peer.candidates.get(index).is_none_or(|c| c.nonce != *nonce) {
            return;
        }
        let candidate = peer.candidates.swap_remove(index);
        peer.candidates.clear();
        let restarted = peer.current.is_some();
        peer.current = Some(candidate.stream);
        peer.role = None;
        peer.ready = false;
        peer.bulk = None;
        peer.out.reset();
        if self.bulk_in == Some(from) {
            self.bulk_in = None;
        }
        info!(peer = %from, restarted, "sync session verified");
        self.drain_stream(now, from);
    }

    /// A member asks for datagrams again: resend them, or when they are gone, restart the
    /// stream (with a bulk transfer when this node is the source of truth).
    fn answer_nack(&mut self, now: Instant, from: NodeId, first: u64, last: u64) {
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        match peer.out.retransmit(first, last) {
            Ok(datagrams) => {
                for payload in datagrams {
                    self.counters.retransmitted += 1;
                    self.counters.datagrams_sent += 1;
                    self.counters.bytes_sent += payload.len() as u64;
                    self.outputs
                        .push_back(HaOutput::Send(SyncTransmit { to: from, payload }));
                }
            }
            Err(_) => {
                debug!(peer = %from, first, last, "NACK beyond the retransmit buffer");
                peer.out.reset();
                if self.role.is_active() {
                    self.start_bulk(now, from);
                }
            }
        }
    }

    /// Applies a member's datagrams that are now in order.
    pub(crate) fn drain_stream(&mut self, now: Instant, from: NodeId) {
        loop {
            let Some(peer) = self.peers.get_mut(&from) else {
                return;
            };
            let Some((_, plaintext)) = peer.current.as_mut().and_then(InStream::pop) else {
                return;
            };
            peer.heard = Some(now);
            self.freshness
                .insert(Source::Peer(from), Freshness::Live(now));
            self.apply(now, from, &plaintext);
        }
    }

    fn apply(&mut self, now: Instant, from: NodeId, plaintext: &Zeroizing<Vec<u8>>) {
        let decoded = message::decode(plaintext);
        self.count_decoded(&decoded);
        for record in decoded.records {
            match record {
                Record::Heartbeat(heartbeat) => self.on_heartbeat(now, from, heartbeat),
                Record::ResyncRequest => {
                    if self.role.is_active() {
                        self.start_bulk(now, from);
                    }
                }
                Record::BulkBegin { sender_role, .. } => {
                    if sender_role.is_active() && !self.role.is_active() {
                        self.bulk_in = Some(from);
                        self.ready = false;
                        for (_, entry) in self.cache.iter_mut() {
                            entry.confirmed = false;
                        }
                    }
                }
                Record::BulkEnd { .. } => self.on_bulk_end(from),
                Record::IkeSa(record) => self.on_snapshot(now, from, *record),
                Record::IkeSaDelete(spis) => self.on_delete(spis),
                Record::MessageIds(ids) => self.on_message_ids(*ids),
                Record::Checkpoints(entries) => self.on_checkpoints(now, from, &entries),
                Record::Challenge { .. }
                | Record::ChallengeResponse { .. }
                | Record::Nack { .. } => {}
            }
        }
    }

    fn on_heartbeat(&mut self, now: Instant, from: NodeId, heartbeat: Heartbeat) {
        self.epoch = self.epoch.max(heartbeat.epoch);
        let we_are_active = self.role.is_active();
        let Some(peer) = self.peers.get_mut(&from) else {
            return;
        };
        peer.out.ack(heartbeat.ack);
        let before = peer.role.replace(heartbeat.role);
        peer.ready = heartbeat.ready;
        let was_active = before == Some(Role::Active);
        let is_active = heartbeat.role.is_active();
        let both_active = is_active && we_are_active;
        let new_split = both_active && !peer.split_brain;
        peer.split_brain = both_active;
        if new_split {
            self.counters.split_brain += 1;
            warn!(peer = %from, "another node claims to be active: split brain");
        }
        if was_active && !is_active {
            // It fenced itself before saying so: nothing it reported can grow any more.
            self.freshness
                .insert(Source::Peer(from), Freshness::Stopped);
            info!(peer = %from, role = %heartbeat.role, "peer stopped being active");
            if we_are_active {
                // SAs it ran while both of us were active are ours now.
                self.adopt(now);
            }
        }
        if is_active && !was_active && !we_are_active && !self.ready {
            self.next_resync = now;
        }
    }

    fn on_bulk_end(&mut self, from: NodeId) {
        if self.bulk_in != Some(from) {
            return;
        }
        self.bulk_in = None;
        let gone: Vec<IkeSpis> = self
            .cache
            .iter()
            .filter(|(_, e)| !e.confirmed && !e.local)
            .map(|(spis, _)| *spis)
            .collect();
        for spis in gone {
            self.cache.remove(spis);
            self.outputs.push_back(HaOutput::Remove(spis));
        }
        self.ready = true;
        self.counters.bulk_received += 1;
        info!(peer = %from, sas = self.cache.len(), "bulk resync complete: ready");
    }

    fn on_snapshot(&mut self, now: Instant, from: NodeId, record: SaRecord) {
        let spis = record.snapshot.spis;
        let conflicts_local = self.cache.get(&spis).is_some_and(|e| e.local)
            || record.snapshot.children.iter().any(|child| {
                self.cache.iter().any(|(_, e)| {
                    e.local && e.snapshot.children.iter().any(|c| c.spi_in == child.spi_in)
                })
            });
        if conflicts_local {
            // We run this SA ourselves: two active nodes (split brain). Keep ours.
            debug!(%spis, "ignoring a snapshot of an SA this node runs");
            return;
        }
        let snapshot = record.snapshot.clone();
        let removed = self.cache.upsert(Entry {
            snapshot: record.snapshot,
            received_at: now,
            lazy_ids: record.lazy_ids,
            source: Source::Peer(from),
            local: false,
            confirmed: true,
        });
        for stale in removed {
            self.outputs.push_back(HaOutput::Remove(stale));
        }
        self.counters.snapshots_applied += 1;
        self.outputs.push_back(HaOutput::Import(Box::new(snapshot)));
    }

    fn on_delete(&mut self, spis: IkeSpis) {
        if self.cache.get(&spis).is_none_or(|e| e.local) {
            return;
        }
        self.cache.remove(spis);
        self.outputs.push_back(HaOutput::Remove(spis));
    }

    fn on_message_ids(&mut self, ids: MessageIds) {
        let Some(entry) = self.cache.get_mut(&ids.spis) else {
            return;
        };
        if entry.local {
            return;
        }
        if ids.exact {
            entry.snapshot.window = ids.window;
            entry.snapshot.in_flight = ids.in_flight;
        } else {
            // Only the counters: cached messages of other IDs would be wrong now.
            let window = &mut entry.snapshot.window;
            window.next_request = ids.window.next_request;
            window.next_expected = ids.window.next_expected;
            window.outstanding = None;
            window.last_response = None;
            entry.snapshot.in_flight = None;
        }
        entry.lazy_ids = !ids.exact;
        entry.confirmed = true;
        let snapshot = entry.snapshot.clone();
        self.outputs.push_back(HaOutput::Import(Box::new(snapshot)));
    }

    fn on_checkpoints(&mut self, now: Instant, from: NodeId, entries: &[Checkpoint]) {
        let sender_active = self
            .peers
            .get(&from)
            .is_some_and(|p| p.role == Some(Role::Active));
        for entry in entries {
            self.cache.record_mark(
                entry.spi,
                entry.direction,
                Source::Peer(from),
                entry.sequence,
            );
            self.counters.checkpoints_applied += 1;
            self.last_checkpoint_at = Some(now);
            if self.role.is_active() && sender_active && entry.direction == Direction::Outbound {
                self.outrun(entry.spi, entry.sequence);
            }
        }
        self.cache.trim_marks();
    }

    /// Two nodes are active at once and the other reported where it is on an outbound SA we
    /// also run: move ours past it by the takeover margin, so neither reaches the other's
    /// numbers while keepalived sorts the roles out.
    fn outrun(&mut self, spi: hitless_sadb::Spi, sequence: u64) {
        let ours = self
            .cache
            .iter()
            .any(|(_, e)| e.local && e.snapshot.children.iter().any(|c| c.spi_out == spi));
        if !ours {
            return;
        }
        let policy = &self.config.takeover;
        let target = sequence
            .saturating_add(self.config.checkpoints.packets)
            .saturating_add(crate::takeover::packets_in(
                policy.max_packet_rate,
                policy.max_sync_delay,
            ))
            .saturating_add(policy.margin);
        self.cache
            .record_mark(spi, Direction::Outbound, Source::Local, target);
        self.outputs
            .push_back(HaOutput::Sa(SaCommand::AdvanceSequence {
                spi,
                direction: Direction::Outbound,
                sequence: target,
            }));
    }

    fn count_decoded(&mut self, decoded: &message::Decoded) {
        self.counters.unknown_records += u64::from(decoded.unknown);
        self.counters.corrupt_records += u64::from(decoded.corrupt);
        if decoded.corrupt > 0 {
            warn!(records = decoded.corrupt, "dropped corrupt sync records");
        }
    }
}
