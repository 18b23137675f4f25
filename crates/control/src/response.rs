//! Responses: the data `hitlessctl` shows, and typed errors.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;

use hitless_sadb::IkeSpi;
use hitless_sadb::ResourceId;
use hitless_sadb::Spi;
use serde::Deserialize;
use serde::Serialize;

use crate::message::LogLevel;

/// The successful answer to a request.
#[derive(Clone, Debug, Deserialize, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Response {
    /// Answer to [`Request::Status`](crate::Request::Status).
    Status(Box<Status>),
    /// Answer to [`Request::ListSas`](crate::Request::ListSas).
    Sas(SaList),
    /// Answer to [`Request::Initiate`](crate::Request::Initiate): the handshake has started.
    Initiated {
        /// The IKE SA being set up (or the existing one a Child SA is added to).
        ike_sa: IkeSaId,
        /// The Child SAs being created, by name; a client waits for each to be installed.
        children: Vec<String>,
    },
    /// Answer to [`Request::Terminate`](crate::Request::Terminate): deletion has started.
    Terminated(Affected),
    /// Answer to [`Request::Rekey`](crate::Request::Rekey): rekeying has started.
    Rekeying(Affected),
    /// Answer to [`Request::Reload`](crate::Request::Reload).
    Reloaded(ReloadSummary),
    /// Answer to [`Request::Stats`](crate::Request::Stats).
    Stats(Stats),
    /// Answer to [`Request::LogLevel`](crate::Request::LogLevel).
    LogLevel {
        /// The level before the change.
        previous: LogLevel,
        /// The level now.
        current: LogLevel,
    },
    /// Answer to [`Request::Subscribe`](crate::Request::Subscribe): events follow.
    Subscribed,
    /// Answer to [`Request::Ha`](crate::Request::Ha).
    Ha(HaStatus),
}

/// A local handle of an IKE SA, as `list-sas` shows it.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct IkeSaId(pub u64);

/// A local handle of a Child SA, as `list-sas` shows it.
#[derive(Clone, Copy, Debug, Deserialize, Eq, Hash, Ord, PartialEq, PartialOrd, Serialize)]
#[serde(transparent)]
pub struct ChildSaId(pub u64);

/// The daemon at a glance.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct Status {
    /// `hitlessd 0.1.0`.
    pub software: String,
    /// The daemon's process id.
    pub pid: u32,
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// The configuration file in use.
    pub config_file: String,
    /// The current log level.
    pub log_level: LogLevel,
    /// `userspace` or `xfrm`.
    pub backend: String,
    /// Data-plane worker threads (userspace backend).
    pub workers: u32,
    /// Established IKE SAs.
    pub ike_sas: u32,
    /// IKE SAs still being set up.
    pub half_open_ike_sas: u32,
    /// Installed Child SAs.
    pub child_sas: u32,
    /// Configured connections.
    pub connections: Vec<String>,
    /// The Prometheus endpoint, if on.
    pub metrics_listen: Option<String>,
    /// The Wireshark key log file, if on (a security warning in its own right).
    pub wireshark_keylog: Option<String>,
    /// HA state, when this node is in a cluster.
    pub ha: Option<HaStatus>,
}

/// Every IKE SA with its Child SAs.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct SaList {
    /// The IKE SAs.
    pub ike_sas: Vec<IkeSa>,
}

/// One IKE SA.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct IkeSa {
    /// Its handle.
    pub id: IkeSaId,
    /// The connection it belongs to.
    pub connection: String,
    /// Its state.
    pub state: IkeSaState,
    /// Whether we initiated it.
    pub role: Role,
    /// Our address and port.
    pub local: SocketAddr,
    /// The peer's address and port.
    pub remote: SocketAddr,
    /// Our identity.
    pub local_id: String,
    /// The peer's identity (authenticated once established).
    pub remote_id: String,
    /// The initiator's SPI.
    #[serde(with = "crate::serde_hex::ike_spi")]
    pub spi_i: IkeSpi,
    /// The responder's SPI.
    #[serde(with = "crate::serde_hex::ike_spi")]
    pub spi_r: IkeSpi,
    /// The negotiated algorithms, once known.
    pub algorithms: Option<IkeAlgorithms>,
    /// Whether a NAT was detected in front of us / the peer (RFC 7296 §2.23).
    pub nat: Nat,
    /// Seconds since it was established (or since set-up started, before).
    pub age_secs: u64,
    /// Seconds until it is rekeyed, if scheduled.
    pub rekey_in_secs: Option<u64>,
    /// Its Child SAs.
    pub children: Vec<ChildSa>,
}

/// One Child SA.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct ChildSa {
    /// Its handle.
    pub id: ChildSaId,
    /// Its configured name.
    pub name: String,
    /// Its state.
    pub state: ChildSaState,
    /// `tunnel` or `transport`.
    pub mode: String,
    /// Our inbound SPI.
    #[serde(with = "crate::serde_hex::spi")]
    pub spi_in: Spi,
    /// The peer's inbound SPI (our outbound).
    #[serde(with = "crate::serde_hex::spi")]
    pub spi_out: Spi,
    /// The negotiated algorithms.
    pub algorithms: ChildAlgorithms,
    /// Whether ESP is UDP-encapsulated (RFC 3948).
    pub udp_encap: bool,
    /// The RFC 9611 resource (CPU, queue) it is bound to; `None` for an ordinary SA.
    #[serde(with = "crate::serde_hex::resource")]
    pub resource: Option<ResourceId>,
    /// Bytes received.
    pub bytes_in: u64,
    /// Bytes sent.
    pub bytes_out: u64,
    /// Packets received.
    pub packets_in: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Seconds since it was installed.
    pub age_secs: u64,
    /// Seconds until it is rekeyed, if scheduled.
    pub rekey_in_secs: Option<u64>,
    /// Seconds until its hard lifetime, if any.
    pub expires_in_secs: Option<u64>,
    /// Our side's traffic selectors (`10.1.0.0/16`).
    pub local_ts: Vec<String>,
    /// The peer's side's traffic selectors.
    pub remote_ts: Vec<String>,
}

/// IKE SA algorithms, by IANA name (`AES_GCM_16`, `PRF_HMAC_SHA2_384`, `CURVE25519`).
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct IkeAlgorithms {
    /// Encryption.
    pub encryption: String,
    /// Its key length in bits, if it has a Key Length attribute.
    pub key_bits: Option<u16>,
    /// Integrity, `None` with an AEAD.
    pub integrity: Option<String>,
    /// The PRF.
    pub prf: String,
    /// The key exchange method.
    pub key_exchange: String,
    /// RFC 9370 additional key exchanges.
    #[serde(default)]
    pub additional_key_exchanges: Vec<String>,
}

/// Child SA algorithms, by IANA name.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct ChildAlgorithms {
    /// Encryption.
    pub encryption: String,
    /// Its key length in bits, if it has a Key Length attribute.
    pub key_bits: Option<u16>,
    /// Integrity, `None` with an AEAD.
    pub integrity: Option<String>,
    /// The PFS key exchange of the exchange that created it, if any.
    pub key_exchange: Option<String>,
    /// Extended sequence numbers.
    pub esn: bool,
}

/// NAT detection results.
#[derive(Clone, Copy, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct Nat {
    /// A NAT is in front of us.
    pub local: bool,
    /// A NAT is in front of the peer.
    pub remote: bool,
}

/// IKE SA states.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum IkeSaState {
    /// IKE_SA_INIT / IKE_AUTH in progress.
    Connecting,
    /// Up.
    Established,
    /// Being rekeyed.
    Rekeying,
    /// Replaced by a rekey, answering in-flight requests before it goes.
    Rekeyed,
    /// Being deleted.
    Deleting,
    /// HA standby copy: no timers, no transmits.
    Passive,
}

/// Child SA states.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChildSaState {
    /// Being created.
    Creating,
    /// Carrying traffic.
    Installed,
    /// Being rekeyed.
    Rekeying,
    /// Replaced by a rekey; inbound kept for packets in flight.
    Rekeyed,
    /// Being deleted.
    Deleting,
    /// HA standby copy.
    Passive,
}

/// Which side started an IKE SA.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// We did.
    Initiator,
    /// The peer did.
    Responder,
}

/// The SAs a terminate or rekey acts on.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct Affected {
    /// IKE SAs.
    pub ike_sas: Vec<IkeSaId>,
    /// Child SAs.
    pub child_sas: Vec<ChildSaId>,
}

/// What a reload changed.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct ReloadSummary {
    /// Connections new in the file.
    pub added: Vec<String>,
    /// Connections gone from the file (their SAs are deleted).
    pub removed: Vec<String>,
    /// Connections whose settings changed (their SAs are replaced).
    pub changed: Vec<String>,
    /// Connections unchanged (their SAs stay up).
    pub unchanged: Vec<String>,
    /// Configuration warnings.
    pub warnings: Vec<String>,
}

/// Counters since the daemon started.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct Stats {
    /// Seconds since the daemon started.
    pub uptime_secs: u64,
    /// IKE counters.
    pub ike: IkeStats,
    /// ESP data-plane counters.
    pub data_plane: DataPlaneStats,
}

/// IKE counters.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct IkeStats {
    /// IKE SAs we initiated.
    pub handshakes_initiated: u64,
    /// IKE SAs peers initiated.
    pub handshakes_responded: u64,
    /// IKE SAs established.
    pub established: u64,
    /// IKE SAs that failed to establish or were torn down by an error.
    pub failed: u64,
    /// Failures by reason (`authentication-failed`, `no-proposal-chosen`, `timeout`, …).
    pub failures: BTreeMap<String, u64>,
    /// IKE SA rekeys completed.
    pub ike_rekeys: u64,
    /// Child SA rekeys completed.
    pub child_rekeys: u64,
    /// Requests retransmitted.
    pub retransmits: u64,
    /// Cookies demanded from initiators (RFC 7296 §2.6).
    pub cookies_sent: u64,
    /// Messages dropped as malformed or unexpected.
    pub invalid_messages: u64,
}

/// ESP data-plane counters.
#[derive(Clone, Debug, Default, Deserialize, Eq, PartialEq, Serialize)]
pub struct DataPlaneStats {
    /// Packets decrypted and delivered.
    pub packets_in: u64,
    /// Packets encrypted and sent.
    pub packets_out: u64,
    /// Bytes of inner traffic received.
    pub bytes_in: u64,
    /// Bytes of inner traffic sent.
    pub bytes_out: u64,
    /// Packets dropped, by reason (`icv-mismatch`, `replayed`, `no-sa`, …).
    pub drops: BTreeMap<String, u64>,
}

/// HA role and sync state.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize)]
pub struct HaStatus {
    /// This node's name.
    pub node: String,
    /// Its role.
    pub role: HaRole,
    /// The peer node's sync address.
    pub peer: String,
    /// Whether the peer's heartbeats arrive.
    pub peer_alive: bool,
    /// Milliseconds the standby lags behind, if known.
    pub sync_lag_ms: Option<u64>,
    /// SAs replicated to (active) or from (standby) the peer.
    pub synced_ike_sas: u32,
}

/// A node's HA role.
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum HaRole {
    /// Owns the virtual IP and the SAs.
    Active,
    /// Keeps passive copies, sends nothing.
    Standby,
    /// Declared faulty; sends nothing.
    Fault,
}

/// A request that failed, with a kind a script can match and a message for people.
#[derive(Clone, Debug, Deserialize, Eq, PartialEq, Serialize, thiserror::Error)]
#[error("{message}")]
pub struct ControlError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What happened, for people.
    pub message: String,
}

/// Kinds of [`ControlError`].
#[derive(Clone, Copy, Debug, Deserialize, Eq, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The frame was not a valid message (malformed JSON, unknown command, missing field).
    BadRequest,
    /// The client's protocol version is not spoken here.
    UnsupportedVersion,
    /// A request arrived before the hello.
    HandshakeRequired,
    /// No connection has that name.
    UnknownConnection,
    /// The connection has no Child SA of that name.
    UnknownChild,
    /// No SA has that id (or none matches that name).
    UnknownSa,
    /// The SA is not in a state that allows this (e.g. rekeying one still connecting).
    InvalidState,
    /// The configuration file could not be loaded; the old one stays in force.
    ConfigInvalid,
    /// The feature is not configured (HA without an `[ha]` section).
    NotConfigured,
    /// A problem inside the daemon.
    Internal,
}

impl ControlError {
    /// An error of `kind` with `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

impl fmt::Display for IkeSaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for ChildSaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Initiator => "initiator",
            Self::Responder => "responder",
        })
    }
}

impl fmt::Display for IkeSaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Connecting => "CONNECTING",
            Self::Established => "ESTABLISHED",
            Self::Rekeying => "REKEYING",
            Self::Rekeyed => "REKEYED",
            Self::Deleting => "DELETING",
            Self::Passive => "PASSIVE",
        })
    }
}

impl fmt::Display for ChildSaState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Creating => "CREATING",
            Self::Installed => "INSTALLED",
            Self::Rekeying => "REKEYING",
            Self::Rekeyed => "REKEYED",
            Self::Deleting => "DELETING",
            Self::Passive => "PASSIVE",
        })
    }
}

impl fmt::Display for HaRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Active => "active",
            Self::Standby => "standby",
            Self::Fault => "fault",
        })
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::BadRequest => "bad request",
            Self::UnsupportedVersion => "unsupported protocol version",
            Self::HandshakeRequired => "handshake required",
            Self::UnknownConnection => "unknown connection",
            Self::UnknownChild => "unknown child",
            Self::UnknownSa => "unknown SA",
            Self::InvalidState => "invalid state",
            Self::ConfigInvalid => "invalid configuration",
            Self::NotConfigured => "not configured",
            Self::Internal => "internal error",
        })
    }
}
