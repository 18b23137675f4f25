//! [`DataPlane`]: the state the workers share by `&self`, its configuration, and what the
//! packet operations return.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use arc_swap::ArcSwap;
use hitless_crypto::CryptoProvider;
use hitless_crypto::SecureRandom;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::ReqId;
use hitless_sadb::Spi;
use tracing::trace;

use crate::control::DataPlaneControl;
use crate::drop::DropCounters;
use crate::drop::DropReason;
use crate::events::EventQueue;
use crate::sa::SaStats;
use crate::snapshot::Snapshot;
use crate::transform::MAX_ALIGNMENT;
use crate::transform::MAX_ICV_LEN;
use crate::transform::MAX_IV_LEN;

/// Bytes a caller leaves free before an inner packet for [`DataPlane::encapsulate`] in tunnel
/// mode: ESP header and the longest IV.
pub const HEADROOM: usize = hitless_wire::esp::ESP_HEADER_LEN + MAX_IV_LEN;

/// Bytes a caller leaves free after an inner packet for [`DataPlane::encapsulate`]: the
/// longest padding, pad length, next header and the longest ICV.
pub const TAILROOM: usize = MAX_ALIGNMENT - 1 + 2 + MAX_ICV_LEN;

/// Settings of a data plane.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Config {
    /// Raise a [`BackendEvent::SequenceCheckpoint`] whenever an SA's sequence number reaches a
    /// multiple of this (outbound: a number is used; inbound: the window's top passes it). HA
    /// replicates these and jumps past them on takeover.
    pub checkpoint_packets: Option<u64>,
    /// Raise a checkpoint from [`DataPlane::poll_checkpoints`] when this much time has passed
    /// since an SA's last one and its number moved.
    pub checkpoint_interval: Option<Duration>,
}

/// The userspace ESP data plane, shared by the worker threads by `&self`.
///
/// Workers call [`encapsulate`](Self::encapsulate) and [`decapsulate`](Self::decapsulate);
/// the control side changes SAs and policies through the [`DataPlaneControl`] returned by
/// [`DataPlane::new`] and drains [`poll_event`](Self::poll_event).
pub struct DataPlane {
    snapshot: ArcSwap<Snapshot>,
    pub(crate) drops: DropCounters,
    pub(crate) events: EventQueue,
    pub(crate) random: Arc<dyn SecureRandom>,
    pub(crate) config: Config,
}

/// An encapsulated packet, inside the caller's buffer.
#[derive(Debug)]
pub struct Sealed<'b> {
    /// The ESP packet (header through ICV). With `udp_encap` the I/O layer sends it as the
    /// payload of a UDP datagram (RFC 3948 §2.1); otherwise as IP protocol 50.
    pub bytes: &'b [u8],
    /// Where `bytes` starts in the buffer.
    pub offset: usize,
    /// The outbound SA.
    pub spi: Spi,
    /// The policy it belongs to.
    pub reqid: ReqId,
    /// Our outer address (and port) to send from.
    pub local: SocketAddr,
    /// The peer's outer address (and port) to send to.
    pub remote: SocketAddr,
    /// Send inside UDP (RFC 3948).
    pub udp_encap: bool,
}

/// A decapsulated packet, inside the caller's buffer.
#[derive(Debug)]
pub struct Opened<'b> {
    /// The inner IP packet, ready for the TUN device: the tunnelled packet, or in transport
    /// mode the payload behind a rebuilt IP header.
    pub inner: &'b [u8],
    /// Where `inner` starts in the buffer.
    pub offset: usize,
    /// The inbound SA.
    pub spi: Spi,
    /// The policy it belongs to.
    pub reqid: ReqId,
}

impl DataPlane {
    /// A data plane with no SAs and its control handle. `crypto` supplies the algorithms and
    /// the random source (CBC IVs); nothing else is read from outside.
    pub fn new(config: Config, crypto: Arc<CryptoProvider>) -> (Arc<Self>, DataPlaneControl) {
        let plane = Arc::new(Self {
            snapshot: ArcSwap::from_pointee(Snapshot::default()),
            drops: DropCounters::new(),
            events: EventQueue::default(),
            random: Arc::clone(&crypto.random),
            config,
        });
        let control = DataPlaneControl::new(Arc::clone(&plane), crypto);
        (plane, control)
    }

    /// The next event for the engine: expiries (soft and hard, each once per SA and reason),
    /// first use of an inbound SA, acquires, checkpoints.
    pub fn poll_event(&self) -> Option<BackendEvent> {
        self.events.pop()
    }

    /// Raises time-based [`BackendEvent::SequenceCheckpoint`]s for every SA whose number moved
    /// since its last checkpoint at least [`Config::checkpoint_interval`] ago. Time is an
    /// input: call it from the control side's timer, e.g. every half interval.
    pub fn poll_checkpoints(&self, now: Instant) {
        let Some(interval) = self.config.checkpoint_interval else {
            return;
        };
        let snapshot = self.snapshot.load();
        for entry in snapshot.outbound.values().chain(snapshot.inbound.values()) {
            if let Some(event) = entry.core.poll_checkpoint(now, interval) {
                self.events.push(event);
            }
        }
    }

    /// Drop counters by reason.
    pub fn drops(&self) -> &DropCounters {
        &self.drops
    }

    /// Checkpoint events discarded because the event queue was not drained.
    pub fn discarded_events(&self) -> u64 {
        self.events.discarded()
    }

    /// Counters of an installed SA.
    pub fn sa_stats(&self, spi: Spi, direction: Direction) -> Option<SaStats> {
        let snapshot = self.snapshot.load();
        let map = match direction {
            Direction::Inbound => &snapshot.inbound,
            Direction::Outbound => &snapshot.outbound,
        };
        map.get(&spi.0).map(|entry| entry.core.stats())
    }

    pub(crate) fn publish(&self, snapshot: Snapshot) {
        self.snapshot.store(Arc::new(snapshot));
    }

    pub(crate) fn load(&self) -> arc_swap::Guard<Arc<Snapshot>> {
        self.snapshot.load()
    }

    /// Counts a drop and traces it (never above `trace`: a flood must not flood the log).
    pub(crate) fn dropped(&self, reason: DropReason, spi: Option<Spi>) -> DropReason {
        self.drops.record(reason);
        trace!(%reason, spi = ?spi, "ESP packet dropped");
        reason
    }
}
