//! The vocabulary shared by the IKE engine and the SA backends (userspace ESP, XFRM).
//!
//! The engine emits [`SaCommand`]s in causal order; a backend ([`SaBackend`]) applies them and
//! reports [`BackendEvent`]s back (lifetimes, first use of an inbound SA, failures). This is the
//! boundary strongSwan draws with `kernel_ipsec.h` / `kernel_listener.h` (RFC 4301 §4.4: SAD and
//! SPD), in Rust types.
//!
//! Every command is idempotent for a given `(spi, direction)` or `reqid`, so a restarted backend
//! can be replayed the full state.

use std::fmt;
use std::net::SocketAddr;

use hitless_crypto::SecretBytes;
pub use hitless_wire::ike::TrafficSelector;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IntegId;

pub mod keylog;

/// An ESP SPI (RFC 4303 §2.1). Displays as `0x` and eight hex digits.
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct Spi(pub u32);

/// An IKE SA SPI (RFC 7296 §3.1). Displays as sixteen hex digits.
#[derive(Clone, Copy, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct IkeSpi(pub u64);

/// Names one policy (one Child SA "slot") across rekeys: the new Child SA of a rekey keeps the
/// old one's `ReqId`, so the backend's policy stays and only its outbound SA changes.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct ReqId(pub u32);

/// An RFC 9611 resource (a data-plane worker / queue) an SA is bound to.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub struct ResourceId(pub u32);

/// Which way an SA carries traffic, seen from this node.
#[derive(Clone, Copy, Debug, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Direction {
    /// Packets we receive and decrypt.
    Inbound,
    /// Packets we encrypt and send.
    Outbound,
}

/// ESP mode (RFC 4301 §4.1).
#[derive(Clone, Copy, Debug, Default, Eq, Hash, PartialEq)]
pub enum Mode {
    /// The whole inner IP packet is protected and a new outer header added.
    #[default]
    Tunnel,
    /// Only the payload of the IP packet is protected (USE_TRANSPORT_MODE, RFC 7296 §1.3.1).
    Transport,
}

/// ESP algorithms of one SA.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct EspAlgorithms {
    /// The encryption (or AEAD) algorithm.
    pub encr: EncrId,
    /// Its KEY_LENGTH attribute in bits, if it has one.
    pub encr_key_bits: Option<u16>,
    /// The integrity algorithm, [`IntegId::NONE`] with an AEAD.
    pub integ: IntegId,
    /// Extended sequence numbers negotiated (RFC 4303 §2.2.1).
    pub esn: bool,
}

/// Byte and packet limits of an SA (RFC 4301 §4.4.2.1). `None` means unlimited.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Limits {
    /// Bytes of inner traffic.
    pub bytes: Option<u64>,
    /// Packets.
    pub packets: Option<u64>,
}

/// Soft limits raise an event asking for a rekey; hard limits stop the SA.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct Lifetime {
    /// Raise [`BackendEvent::Expire`] with `hard: false`.
    pub soft: Limits,
    /// Raise [`BackendEvent::Expire`] with `hard: true` and stop using the SA.
    pub hard: Limits,
}

/// Everything a backend needs to install one ESP SA (one direction).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SaSpec {
    /// The SPI: ours for inbound, the peer's for outbound.
    pub spi: Spi,
    /// Which way it carries traffic.
    pub direction: Direction,
    /// The policy (Child SA slot) it belongs to.
    pub reqid: ReqId,
    /// The RFC 9611 resource it is bound to, `None` for an ordinary or fallback SA.
    pub resource: Option<ResourceId>,
    /// Our outer address (and port, when UDP-encapsulated).
    pub local: SocketAddr,
    /// The peer's outer address (and port, when UDP-encapsulated).
    pub remote: SocketAddr,
    /// ESP in UDP (RFC 3948).
    pub udp_encap: bool,
    /// Tunnel or transport.
    pub mode: Mode,
    /// Algorithms.
    pub algorithms: EspAlgorithms,
    /// Encryption key, with the AEAD salt appended (RFC 4106 §8.1, RFC 7634 §4).
    pub encr_key: SecretBytes,
    /// Integrity key, empty with an AEAD.
    pub integ_key: SecretBytes,
    /// Anti-replay window in packets (inbound only; 0 disables replay checks).
    pub replay_window: u32,
    /// Byte and packet lifetimes.
    pub lifetime: Lifetime,
    /// Outbound: the last sequence number already used (the next packet uses this + 1).
    /// Inbound: the highest sequence number already accepted. Zero for a new SA; set from a
    /// checkpoint when an HA standby takes over.
    pub initial_sequence: u64,
    /// Inbound only: report [`BackendEvent::InboundSaUsed`] on the first authenticated packet
    /// (the responder of a rekey switches its outbound SA on it, RFC 7296 §2.8).
    pub report_first_use: bool,
    /// Inner-packet policy check for inbound SAs: our side's selectors.
    pub local_ts: Vec<TrafficSelector>,
    /// Inner-packet policy check for inbound SAs: the peer's side's selectors.
    pub remote_ts: Vec<TrafficSelector>,
}

/// The policy of one Child SA slot: which traffic it protects (RFC 4301 §4.4.1).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct PolicySpec {
    /// The slot.
    pub reqid: ReqId,
    /// Our side's traffic selectors.
    pub local_ts: Vec<TrafficSelector>,
    /// The peer's side's traffic selectors.
    pub remote_ts: Vec<TrafficSelector>,
    /// Tunnel or transport.
    pub mode: Mode,
}

/// A change to the backend's SAD or SPD, in the order the engine emits it.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum SaCommand {
    /// Install an SA. Outbound SAs are not used for traffic until routed with
    /// [`SaCommand::RouteOutbound`].
    AddSa(Box<SaSpec>),
    /// Remove an SA.
    DeleteSa {
        /// Its SPI.
        spi: Spi,
        /// Its direction.
        direction: Direction,
    },
    /// Install or replace a policy.
    AddPolicy(PolicySpec),
    /// Remove a policy and stop routing its traffic.
    DeletePolicy {
        /// The slot.
        reqid: ReqId,
    },
    /// From now on, send the policy's traffic (for `resource`, or the fallback when `None`)
    /// through outbound SA `spi`. This is the switch of a rekey (RFC 7296 §2.8).
    RouteOutbound {
        /// The slot.
        reqid: ReqId,
        /// The RFC 9611 resource, `None` for the fallback / only SA.
        resource: Option<ResourceId>,
        /// The outbound SA to use.
        spi: Spi,
    },
    /// The peer's address or port changed (NAT mapping, RFC 7296 §2.23).
    UpdateAddresses {
        /// The SA.
        spi: Spi,
        /// Its direction.
        direction: Direction,
        /// Our new address.
        local: SocketAddr,
        /// The peer's new address.
        remote: SocketAddr,
        /// Whether ESP is now UDP-encapsulated.
        udp_encap: bool,
    },
    /// Move a sequence counter forward (HA takeover, RFC 6311 replay-counter sync). Never moves
    /// it back: a backend ignores a value below its current one.
    AdvanceSequence {
        /// The SA.
        spi: Spi,
        /// Its direction.
        direction: Direction,
        /// Outbound: the last sequence number to consider used. Inbound: the new lower edge of
        /// the replay window (everything at or below it is rejected).
        sequence: u64,
    },
    /// Move a sequence counter forward by `count` from wherever it is now: the peer side of
    /// RFC 6311 replay-counter sync, where a cluster that failed over asks us to skip the
    /// numbers its old node may have accepted. Saturates at the end of the sequence space (the
    /// SA then expires and is rekeyed, RFC 4303 §3.3.3).
    SkipSequence {
        /// The SA.
        spi: Spi,
        /// Its direction.
        direction: Direction,
        /// Outbound: the next packet uses at least the last used number + `count` + 1.
        /// Inbound: everything at or below the highest accepted number + `count` is rejected.
        count: u64,
    },
}

/// Why an SA expired.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum ExpireReason {
    /// The byte limit.
    Bytes,
    /// The packet limit.
    Packets,
    /// The sequence number space is nearly (soft) or fully (hard) used (RFC 4303 §3.3.3).
    SequenceNumbers,
}

/// Something the backend reports to the engine.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum BackendEvent {
    /// A limit was reached.
    Expire {
        /// The SA.
        spi: Spi,
        /// Its direction.
        direction: Direction,
        /// Soft (rekey now) or hard (the SA is no longer used).
        hard: bool,
        /// Which limit.
        reason: ExpireReason,
    },
    /// The first authenticated packet arrived on an inbound SA installed with
    /// `report_first_use`.
    InboundSaUsed {
        /// The inbound SA.
        spi: Spi,
    },
    /// Installing an SA failed (for example an SPI collision in the kernel).
    InstallFailed {
        /// The SA.
        spi: Spi,
        /// Its direction.
        direction: Direction,
        /// A human-readable reason.
        reason: String,
    },
    /// Traffic matched a policy with no SA for this resource (trap-on-traffic, RFC 9611
    /// on-demand per-resource SAs).
    Acquire {
        /// The slot.
        reqid: ReqId,
        /// The resource that has traffic, `None` for the fallback.
        resource: Option<ResourceId>,
    },
    /// A sequence-number checkpoint for HA (every N packets or T milliseconds).
    SequenceCheckpoint {
        /// The SA.
        spi: Spi,
        /// Its direction.
        direction: Direction,
        /// Outbound: last sequence number used. Inbound: highest accepted.
        sequence: u64,
    },
}

/// A backend failure reported synchronously by [`SaBackend::apply`].
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
#[error("SA backend: {0}")]
pub struct BackendError(pub String);

/// Something that installs SAs and policies: the userspace ESP data plane or the kernel.
pub trait SaBackend {
    /// Applies one command. Commands are idempotent.
    ///
    /// # Errors
    ///
    /// When the backend cannot apply it; the daemon turns this into
    /// [`BackendEvent::InstallFailed`] for the engine.
    fn apply(&mut self, command: &SaCommand) -> Result<(), BackendError>;
}

impl fmt::Display for Spi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

impl fmt::Debug for Spi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for IkeSpi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for IkeSpi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spi_displays_as_hex() {
        assert_eq!(Spi(0xc0ffee).to_string(), "0x00c0ffee");
        assert_eq!(IkeSpi(1).to_string(), "0000000000000001");
    }
}
