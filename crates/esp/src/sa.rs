//! One installed SA: its keyed transform and the mutable state the workers share through an
//! `Arc` that outlives snapshot republication, so a sequence number is never handed out twice
//! for a key however often the SAD is republished.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Instant;

use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::ExpireReason;
use hitless_sadb::Limits;
use hitless_sadb::Mode;
use hitless_sadb::ReqId;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;

use crate::drop::DropReason;
use crate::events::EventQueue;
use crate::replay::ReplayWindow;
use crate::replay::SharedReplayWindow;
use crate::transform::Transform;

/// The last sequence number of an SA without ESN (RFC 4303 §3.3.3: the counter must not
/// cycle; the SA is rekeyed before 2^32 packets).
const LAST_SEQUENCE_32: u64 = u32::MAX as u64;
/// The last sequence number handed out with ESN. It stops 2^32 short of 2^64 so that workers
/// racing past the end can never wrap the 64-bit counter (RFC 4303 §3.3.3).
const LAST_SEQUENCE_ESN: u64 = u64::MAX - (1 << 32);

/// State shared by every snapshot that contains the SA.
pub(crate) struct SaCore {
    pub(crate) spi: Spi,
    pub(crate) direction: Direction,
    pub(crate) reqid: ReqId,
    pub(crate) mode: Mode,
    pub(crate) esn: bool,
    pub(crate) transform: Transform,
    pub(crate) soft: Limits,
    pub(crate) hard: Limits,
    /// Inbound policy check: the peer's side (inner source).
    pub(crate) remote_ts: Box<[TrafficSelector]>,
    /// Inbound policy check: our side (inner destination).
    pub(crate) local_ts: Box<[TrafficSelector]>,
    /// Outbound: the last sequence number handed out.
    sequence: AtomicU64,
    /// Inbound: the anti-replay window (checked, then committed, RFC 4303 §3.4.3).
    replay: SharedReplayWindow,
    initial_sequence: u64,
    last_sequence: u64,
    soft_sequence: u64,
    packets: AtomicU64,
    bytes: AtomicU64,
    /// Deleted or hard-expired: refuse further packets.
    dead: AtomicBool,
    /// Which expiry events were raised (bits of [`ExpireFlag`]).
    raised: AtomicU8,
    /// Inbound: raise [`BackendEvent::InboundSaUsed`] on the next authenticated packet.
    first_use_pending: AtomicBool,
    /// Time-based checkpoints: when and at which number the last one was taken.
    checkpoint: Mutex<Option<(Instant, u64)>>,
}

/// An SA as one snapshot sees it: the shared core plus its current addresses, which
/// [`SaCommand::UpdateAddresses`](hitless_sadb::SaCommand::UpdateAddresses) may change.
#[derive(Clone)]
pub(crate) struct SaEntry {
    pub(crate) core: Arc<SaCore>,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) udp_encap: bool,
}

/// Counters of one SA, for the CLI and metrics.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct SaStats {
    /// Packets processed (outbound: sealed; inbound: authenticated).
    pub packets: u64,
    /// Inner bytes processed.
    pub bytes: u64,
    /// Outbound: last sequence number used. Inbound: highest accepted.
    pub sequence: u64,
    /// A hard limit was reached or the SA was deleted.
    pub expired: bool,
}

#[derive(Clone, Copy)]
enum ExpireFlag {
    SoftBytes = 1,
    SoftPackets = 2,
    SoftSequence = 4,
    HardBytes = 8,
    HardPackets = 16,
    HardSequence = 32,
}

impl SaCore {
    pub(crate) fn new(spec: &SaSpec, transform: Transform) -> Self {
        let esn = spec.algorithms.esn;
        let last_sequence = if esn {
            LAST_SEQUENCE_ESN
        } else {
            LAST_SEQUENCE_32
        };
        let initial_sequence = spec.initial_sequence.min(last_sequence);
        Self {
            spi: spec.spi,
            direction: spec.direction,
            reqid: spec.reqid,
            mode: spec.mode,
            esn,
            transform,
            soft: spec.lifetime.soft,
            hard: spec.lifetime.hard,
            remote_ts: spec.remote_ts.clone().into_boxed_slice(),
            local_ts: spec.local_ts.clone().into_boxed_slice(),
            sequence: AtomicU64::new(initial_sequence),
            replay: SharedReplayWindow::new(ReplayWindow::new(
                spec.replay_window,
                esn,
                initial_sequence,
            )),
            initial_sequence,
            last_sequence,
            // RFC 4303 §3.3.3: ask for a rekey with a sixteenth of the space left (2^28
            // packets without ESN: minutes even at a million packets per second).
            soft_sequence: last_sequence - last_sequence / 16,
            packets: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            dead: AtomicBool::new(false),
            raised: AtomicU8::new(0),
            first_use_pending: AtomicBool::new(spec.report_first_use),
            checkpoint: Mutex::new(None),
        }
    }

    /// Whether the SA may still carry packets.
    pub(crate) fn check_alive(&self) -> Result<(), DropReason> {
        if self.dead.load(Ordering::Relaxed) {
            return Err(DropReason::Expired);
        }
        Ok(())
    }

    /// Stops the SA (deleted): workers holding it drop further packets.
    pub(crate) fn kill(&self) {
        self.dead.store(true, Ordering::Relaxed);
    }

    /// Hands out the next outbound sequence number (RFC 4303 §3.3.3): each number once, never
    /// past the end of the space, with a soft expiry well before the end and a hard one at it.
    /// `checkpoint_every` raises a [`BackendEvent::SequenceCheckpoint`] on each multiple.
    pub(crate) fn next_sequence(
        &self,
        events: &EventQueue,
        checkpoint_every: Option<u64>,
    ) -> Result<u64, DropReason> {
        if self.raised.load(Ordering::Relaxed) & ExpireFlag::HardSequence as u8 != 0 {
            return Err(DropReason::SequenceExhausted);
        }
        // One atomic add serialises numbering per SA while the crypto runs in parallel
        // (wireguard-go's pipeline shape). The counter cannot wrap: it stops 2^32 short of
        // 2^64 and only the few workers racing past the end add once more.
        let seq = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        if seq > self.last_sequence {
            self.raise(events, ExpireFlag::HardSequence);
            return Err(DropReason::SequenceExhausted);
        }
        if seq >= self.soft_sequence {
            self.raise(events, ExpireFlag::SoftSequence);
        }
        if checkpoint_every.is_some_and(|every| seq.is_multiple_of(every)) {
            events.push(self.checkpoint_event(seq));
        }
        Ok(seq)
    }

    /// Counts one packet of `bytes` inner bytes against the lifetimes (RFC 4301 §4.4.2.1),
    /// raising each soft and hard event once.
    ///
    /// # Errors
    ///
    /// [`DropReason::Expired`] when a hard limit had already been reached.
    pub(crate) fn account(&self, bytes: usize, events: &EventQueue) -> Result<(), DropReason> {
        let bytes = bytes as u64;
        let packets_before = self.packets.fetch_add(1, Ordering::Relaxed);
        let bytes_before = self.bytes.fetch_add(bytes, Ordering::Relaxed);
        let packets_after = packets_before + 1;
        let bytes_after = bytes_before.saturating_add(bytes);
        if self
            .hard
            .packets
            .is_some_and(|limit| packets_before >= limit)
            || self.hard.bytes.is_some_and(|limit| bytes_before >= limit)
        {
            self.kill();
            return Err(DropReason::Expired);
        }
        if self
            .soft
            .packets
            .is_some_and(|limit| packets_after >= limit)
        {
            self.raise(events, ExpireFlag::SoftPackets);
        }
        if self.soft.bytes.is_some_and(|limit| bytes_after >= limit) {
            self.raise(events, ExpireFlag::SoftBytes);
        }
        // The packet that reaches a hard limit is the last one carried.
        if self
            .hard
            .packets
            .is_some_and(|limit| packets_after >= limit)
        {
            self.raise(events, ExpireFlag::HardPackets);
            self.kill();
        }
        if self.hard.bytes.is_some_and(|limit| bytes_after >= limit) {
            self.raise(events, ExpireFlag::HardBytes);
            self.kill();
        }
        Ok(())
    }

    /// The anti-replay window: lock-free checks, commits under a short lock.
    pub(crate) fn replay(&self) -> &SharedReplayWindow {
        &self.replay
    }

    /// Raises [`BackendEvent::InboundSaUsed`] on the first authenticated packet, once.
    pub(crate) fn note_use(&self, events: &EventQueue) {
        if self.first_use_pending.load(Ordering::Relaxed)
            && self.first_use_pending.swap(false, Ordering::Relaxed)
        {
            events.push(BackendEvent::InboundSaUsed { spi: self.spi });
        }
    }

    /// Moves the sequence counter forward (HA takeover, RFC 6311); never back.
    pub(crate) fn advance(&self, sequence: u64) {
        let sequence = sequence.min(self.last_sequence);
        match self.direction {
            Direction::Outbound => {
                self.sequence.fetch_max(sequence, Ordering::Relaxed);
            }
            Direction::Inbound => self.replay.advance_to(sequence),
        }
    }

    /// Moves the sequence counter forward by `count` from its current value (RFC 6311
    /// replay-counter sync, peer side). A sender racing with it may still use a number below
    /// the new one once; every number after the skip is at least the old value + `count`.
    pub(crate) fn skip(&self, count: u64) {
        self.advance(self.current_sequence().saturating_add(count));
    }

    /// The number a checkpoint reports: outbound the last used, inbound the highest accepted.
    pub(crate) fn current_sequence(&self) -> u64 {
        match self.direction {
            Direction::Outbound => self
                .sequence
                .load(Ordering::Relaxed)
                .min(self.last_sequence),
            Direction::Inbound => self.replay.window().top(),
        }
    }

    pub(crate) fn checkpoint_event(&self, sequence: u64) -> BackendEvent {
        BackendEvent::SequenceCheckpoint {
            spi: self.spi,
            direction: self.direction,
            sequence,
        }
    }

    /// A time-based checkpoint: the current number when `interval` has passed since the last
    /// one and the number moved.
    pub(crate) fn poll_checkpoint(
        &self,
        now: Instant,
        interval: std::time::Duration,
    ) -> Option<BackendEvent> {
        let mut last = self
            .checkpoint
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let (taken, sequence) = *last.get_or_insert((now, self.initial_sequence));
        if now.saturating_duration_since(taken) < interval {
            return None;
        }
        let current = self.current_sequence();
        if current == sequence {
            return None;
        }
        *last = Some((now, current));
        Some(self.checkpoint_event(current))
    }

    pub(crate) fn stats(&self) -> SaStats {
        SaStats {
            packets: self.packets.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            sequence: self.current_sequence(),
            expired: self.dead.load(Ordering::Relaxed)
                || self.raised.load(Ordering::Relaxed) & ExpireFlag::HardSequence as u8 != 0,
        }
    }

    fn raise(&self, events: &EventQueue, flag: ExpireFlag) {
        let bit = flag as u8;
        // Read first: after the event was raised this is a load, not a write, per packet.
        if self.raised.load(Ordering::Relaxed) & bit != 0 {
            return;
        }
        if self.raised.fetch_or(bit, Ordering::Relaxed) & bit != 0 {
            return;
        }
        let (hard, reason) = match flag {
            ExpireFlag::SoftBytes => (false, ExpireReason::Bytes),
            ExpireFlag::SoftPackets => (false, ExpireReason::Packets),
            ExpireFlag::SoftSequence => (false, ExpireReason::SequenceNumbers),
            ExpireFlag::HardBytes => (true, ExpireReason::Bytes),
            ExpireFlag::HardPackets => (true, ExpireReason::Packets),
            ExpireFlag::HardSequence => (true, ExpireReason::SequenceNumbers),
        };
        events.push(BackendEvent::Expire {
            spi: self.spi,
            direction: self.direction,
            hard,
            reason,
        });
    }
}
