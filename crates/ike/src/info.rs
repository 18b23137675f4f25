//! Read-only views of IKE and Child SAs for the control plane and HA
//! ([`Endpoint::ike_sas`](crate::Endpoint::ike_sas)).

use std::net::SocketAddr;
use std::time::Duration;
use std::time::Instant;

use hitless_sadb::Mode;
use hitless_sadb::ReqId;
use hitless_sadb::ResourceId;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;

use crate::config::Identity;
use crate::ids::ChildSaId;
use crate::ids::IkeSaId;
use crate::ids::IkeSpis;
use crate::proposal::ChildAlgorithms;
use crate::proposal::IkeAlgorithms;

/// The state of an IKE SA, as the control plane shows it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum IkeSaState {
    /// IKE_SA_INIT or IKE_AUTH in progress.
    Connecting,
    /// Authenticated and usable.
    Established,
    /// Replaced by a rekey; finishing its exchanges before it is deleted.
    Rekeyed,
    /// Being deleted.
    Deleting,
    /// An HA standby copy: holds all state, sends nothing, runs no timer.
    Passive,
}

/// The state of a Child SA, as the control plane shows it.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ChildSaState {
    /// Installed and carrying traffic.
    Installed,
    /// A rekey of it is in progress.
    Rekeying,
    /// Replaced by a rekey: its inbound SA lingers for packets in flight.
    Rekeyed,
    /// New from a rekey we answered: inbound installed, outbound waiting for the initiator to
    /// be ready ([RFC 7296 §2.8]).
    ///
    /// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
    OutboundPending,
    /// Being deleted.
    Deleting,
}

/// A view of one IKE SA.
#[derive(Clone, Debug)]
pub struct IkeSaInfo<'a> {
    /// Its handle.
    pub id: IkeSaId,
    /// Its connection's name.
    pub connection: &'a str,
    /// Its SPIs (the responder's is zero before the IKE_SA_INIT response).
    pub spis: IkeSpis,
    /// Whether we are its original initiator.
    pub initiator: bool,
    /// Its state.
    pub state: IkeSaState,
    /// Our address (and port).
    pub local: SocketAddr,
    /// The peer's address (and port).
    pub remote: SocketAddr,
    /// Our identity, once authenticated.
    pub local_id: Option<&'a Identity>,
    /// The peer's identity, once authenticated.
    pub remote_id: Option<&'a Identity>,
    /// The negotiated algorithms, after IKE_SA_INIT.
    pub algorithms: Option<IkeAlgorithms>,
    /// NAT detection results ([RFC 7296 §2.23]).
    ///
    /// [RFC 7296 §2.23]: https://www.rfc-editor.org/rfc/rfc7296#section-2.23
    pub nat: NatState,
    /// When it was established.
    pub established_at: Option<Instant>,
    /// When it will be rekeyed.
    pub rekey_at: Option<Instant>,
    /// The message ID of our next request.
    pub next_request: u32,
    /// The message ID we expect on the peer's next request.
    pub next_expected: u32,
    /// IKE message counters.
    pub counters: IkeSaCounters,
    /// RFC 6311 extensions both sides announced.
    pub rfc6311: Rfc6311Support,
    /// Its Child SAs.
    pub children: Vec<ChildSaInfo<'a>>,
}

/// A view of one Child SA.
#[derive(Clone, Debug)]
pub struct ChildSaInfo<'a> {
    /// Its handle.
    pub id: ChildSaId,
    /// The IKE SA it belongs to.
    pub ike: IkeSaId,
    /// Its config name.
    pub name: &'a str,
    /// Its policy slot.
    pub reqid: ReqId,
    /// Its state.
    pub state: ChildSaState,
    /// Our inbound SPI.
    pub spi_in: Spi,
    /// The peer's SPI (our outbound SA).
    pub spi_out: Spi,
    /// Tunnel or transport.
    pub mode: Mode,
    /// The negotiated algorithms.
    pub algorithms: ChildAlgorithms,
    /// Our side's selectors.
    pub local_ts: &'a [TrafficSelector],
    /// The peer's side's selectors.
    pub remote_ts: &'a [TrafficSelector],
    /// ESP in UDP.
    pub udp_encap: bool,
    /// Whether we initiated the exchange that created it.
    pub initiator: bool,
    /// The RFC 9611 resource, if per-resource.
    pub resource: Option<ResourceId>,
    /// When it was installed.
    pub installed_at: Instant,
    /// When it will be rekeyed.
    pub rekey_at: Option<Instant>,
    /// When it expires (hard).
    pub expire_at: Option<Instant>,
}

/// NAT detection results of an IKE SA.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct NatState {
    /// We are behind a NAT (our NAT_DETECTION_SOURCE_IP did not match at the peer, as seen
    /// from its NAT_DETECTION_DESTINATION_IP).
    pub local_behind_nat: bool,
    /// The peer is behind a NAT (or faked one to force UDP encapsulation).
    pub remote_behind_nat: bool,
}

impl NatState {
    /// Whether ESP and IKE use UDP port 4500 with encapsulation.
    pub fn any(&self) -> bool {
        self.local_behind_nat || self.remote_behind_nat
    }
}

/// Which RFC 6311 extensions are in use on an IKE SA (both sides announced them).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Rfc6311Support {
    /// IKEV2_MESSAGE_ID_SYNC_SUPPORTED.
    pub message_id_sync: bool,
    /// IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED.
    pub replay_counter_sync: bool,
}

/// Counters of one IKE SA.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct IkeSaCounters {
    /// Messages received that were processed (not dropped).
    pub messages_in: u64,
    /// Messages sent, retransmissions included.
    pub messages_out: u64,
    /// Retransmissions of our requests.
    pub retransmits: u64,
    /// Messages dropped (malformed, failed integrity, out of window).
    pub dropped: u64,
}

impl IkeSaInfo<'_> {
    /// How long it has been established.
    pub fn age(&self, now: Instant) -> Option<Duration> {
        self.established_at
            .map(|at| now.saturating_duration_since(at))
    }

    /// How long until it is rekeyed.
    pub fn time_to_rekey(&self, now: Instant) -> Option<Duration> {
        self.rekey_at.map(|at| at.saturating_duration_since(now))
    }
}

impl ChildSaInfo<'_> {
    /// How long it has been installed.
    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.installed_at)
    }

    /// How long until it is rekeyed.
    pub fn time_to_rekey(&self, now: Instant) -> Option<Duration> {
        self.rekey_at.map(|at| at.saturating_duration_since(now))
    }
}
