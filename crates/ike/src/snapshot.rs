//! Plain-data copies of an IKE SA and its Child SAs, for HA replication
//! ([`Endpoint::export`](crate::Endpoint::export),
//! [`Endpoint::import_passive`](crate::Endpoint::import_passive)).
//!
//! A snapshot holds derived keys (not key-exchange inputs), every counter the engine needs to
//! continue the SA on another node, and remaining durations instead of `Instant`s, so it means
//! the same on a node with a different clock. Keys are [`SecretBytes`]: the HA transport must be
//! authenticated and encrypted.

use std::net::SocketAddr;
use std::time::Duration;

use hitless_crypto::SecretBytes;
use hitless_crypto::derive::IkeKeys;
use hitless_sadb::Lifetime;
use hitless_sadb::Mode;
use hitless_sadb::ReqId;
use hitless_sadb::ResourceId;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;
use hitless_wire::registry::ExchangeType;

use crate::config::Identity;
use crate::ids::IkeSpis;
use crate::info::NatState;
use crate::info::Rfc6311Support;
use crate::proposal::ChildAlgorithms;
use crate::proposal::IkeAlgorithms;

/// An established IKE SA with all of its state.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IkeSaSnapshot {
    /// The connection it belongs to (the importing node must have one of that name).
    pub connection: String,
    /// Its SPIs: the SA's name across nodes.
    pub spis: IkeSpis,
    /// Whether this node's side is the original initiator.
    pub initiator: bool,
    /// Our address (and port).
    pub local: SocketAddr,
    /// The peer's address (and port).
    pub remote: SocketAddr,
    /// NAT detection results.
    pub nat: NatState,
    /// Our identity.
    pub local_id: Identity,
    /// The peer's authenticated identity.
    pub remote_id: Identity,
    /// The negotiated algorithms.
    pub algorithms: IkeAlgorithms,
    /// SK_d, SK_a*, SK_e*, SK_p*.
    pub keys: IkeKeys,
    /// Message IDs, the outstanding request and the response cache.
    pub window: WindowSnapshot,
    /// What the outstanding request (if any) was for.
    pub in_flight: Option<InFlight>,
    /// RFC 6311 extensions both sides announced.
    pub rfc6311: Rfc6311Support,
    /// How long it has been established.
    pub age: Duration,
    /// Time left until it is rekeyed.
    pub rekey_in: Option<Duration>,
    /// Time left until it expires.
    pub expire_in: Option<Duration>,
    /// Its Child SAs.
    pub children: Vec<ChildSaSnapshot>,
}

/// The message-ID state of an IKE SA ([RFC 7296 §2.2–§2.3]).
///
/// [RFC 7296 §2.2–§2.3]: https://www.rfc-editor.org/rfc/rfc7296#section-2.2
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct WindowSnapshot {
    /// The message ID of our next request.
    pub next_request: u32,
    /// The message ID we expect on the peer's next request.
    pub next_expected: u32,
    /// Our request still waiting for its response.
    pub outstanding: Option<OutstandingRequest>,
    /// Our response to the peer's last request, for answering its retransmissions.
    pub last_response: Option<CachedMessage>,
}

/// A request we sent and have not seen answered.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct OutstandingRequest {
    /// Its message ID.
    pub message_id: u32,
    /// Its exchange type.
    pub exchange: ExchangeType,
    /// The encoded message, as retransmitted (without a non-ESP marker).
    pub message: Vec<u8>,
    /// How many times it has been retransmitted.
    pub retransmits: u32,
}

/// An encoded message kept for retransmission.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct CachedMessage {
    /// Its message ID.
    pub message_id: u32,
    /// The encoded message (without a non-ESP marker).
    pub message: Vec<u8>,
}

/// What an outstanding request is for, so a node that takes over can finish the exchange.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum InFlight {
    /// A liveness check ([RFC 7296 §2.4]).
    ///
    /// [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4
    Dpd,
    /// A delete of these Child SAs (our inbound SPIs).
    DeleteChild(Vec<Spi>),
    /// A delete of the IKE SA itself.
    DeleteIke,
    /// An exchange whose local state (key-exchange secrets) cannot be exported. The importing
    /// node accepts its response to keep message IDs in step and deletes whatever it created.
    Unresumable(ExchangeType),
}

/// One Child SA with its keys.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ChildSaSnapshot {
    /// Its config name.
    pub name: String,
    /// Its policy slot.
    pub reqid: ReqId,
    /// Our inbound SPI.
    pub spi_in: Spi,
    /// The peer's SPI.
    pub spi_out: Spi,
    /// Tunnel or transport.
    pub mode: Mode,
    /// The negotiated algorithms.
    pub algorithms: ChildAlgorithms,
    /// Its keys.
    pub keys: ChildKeys,
    /// Our side's selectors.
    pub local_ts: Vec<TrafficSelector>,
    /// The peer's side's selectors.
    pub remote_ts: Vec<TrafficSelector>,
    /// ESP in UDP.
    pub udp_encap: bool,
    /// Whether we initiated the exchange that created it.
    pub initiator: bool,
    /// The RFC 9611 resource, if per-resource.
    pub resource: Option<ResourceId>,
    /// Anti-replay window.
    pub replay_window: u32,
    /// Byte and packet limits.
    pub lifetime: Lifetime,
    /// Whether its outbound SA carries the policy's traffic (false while a rekey responder
    /// waits for the initiator, [RFC 7296 §2.8]).
    ///
    /// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
    pub outbound_routed: bool,
    /// How long it has been installed.
    pub age: Duration,
    /// Time left until it is rekeyed.
    pub rekey_in: Option<Duration>,
    /// Time left until it expires.
    pub expire_in: Option<Duration>,
    /// The last outbound sequence number to consider used. The engine exports zero (it does
    /// not see ESP traffic); the HA layer fills it from the backend's checkpoints plus its
    /// safety margin before a takeover.
    pub outbound_sequence: u64,
    /// The highest inbound sequence number to consider accepted (filled like
    /// `outbound_sequence`).
    pub inbound_sequence: u64,
}

/// The four keys of a Child SA ([RFC 7296 §2.17]), with AEAD salts appended to the encryption
/// keys.
///
/// [RFC 7296 §2.17]: https://www.rfc-editor.org/rfc/rfc7296#section-2.17
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct ChildKeys {
    /// Encryption key of the inbound SA.
    pub encr_in: SecretBytes,
    /// Integrity key of the inbound SA (empty with an AEAD).
    pub integ_in: SecretBytes,
    /// Encryption key of the outbound SA.
    pub encr_out: SecretBytes,
    /// Integrity key of the outbound SA (empty with an AEAD).
    pub integ_out: SecretBytes,
}
