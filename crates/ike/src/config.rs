//! The engine's typed configuration: connections (peers), proposals, identities,
//! authentication, Child SAs, lifetimes and retransmission.
//!
//! This is plain data. `hitless-config` builds it from the TOML file; tests build it directly.
//! Every struct has a [`Default`] that matches strongSwan's `swanctl.conf` defaults where that is
//! sensible, and says so where it deviates. [`Config::check`] reports values the engine cannot
//! use; [`Endpoint::new`](crate::Endpoint::new) does not call it but clamps what it must, so a
//! config that was not checked cannot make the engine panic.

use std::fmt;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::time::Duration;

use hitless_crypto::SecretBytes;
use hitless_sadb::Mode;
use hitless_sadb::TrafficSelector;
use hitless_wire::ike::IdPayload;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IdType;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;

/// Everything the engine needs to know, for all connections of one daemon.
#[derive(Clone, Debug)]
pub struct Config {
    /// The connections, in priority order: an incoming IKE SA uses the first that matches.
    pub connections: Vec<Connection>,
    /// Retransmission of requests ([RFC 7296 §2.1]).
    ///
    /// [RFC 7296 §2.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.1
    pub retransmit: RetransmitConfig,
    /// How often to send a NAT keepalive while we are behind a NAT ([RFC 3948 §2.3]); `None`
    /// disables them. Default 20 s (strongSwan's `keep_alive`).
    ///
    /// [RFC 3948 §2.3]: https://www.rfc-editor.org/rfc/rfc3948#section-2.3
    pub nat_keepalive: Option<Duration>,
    /// Limits on IKE SAs that are not yet authenticated ([RFC 7296 §2.6]).
    ///
    /// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
    pub half_open: HalfOpenConfig,
    /// At most this many unprotected INVALID_IKE_SPI notifications per second, for messages
    /// to unknown IKE SAs ([RFC 7296 §2.21.4]); 0 sends none. Default 10.
    ///
    /// [RFC 7296 §2.21.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.21.4
    pub invalid_spi_notify_rate: u32,
    /// Limits on the reassembly of fragmented messages ([RFC 7383 §2.6]).
    ///
    /// [RFC 7383 §2.6]: https://www.rfc-editor.org/rfc/rfc7383#section-2.6
    pub reassembly: ReassemblyConfig,
}

/// One connection: a peer, how to authenticate it, and the Child SAs to build with it.
#[derive(Clone, Debug)]
pub struct Connection {
    /// Unique name (used by the control CLI and in logs).
    pub name: String,
    /// Our addresses for this connection; empty accepts any local address, and an initiated IKE
    /// SA leaves the source address to the driver.
    pub local_addrs: Vec<IpAddr>,
    /// The peer's addresses; empty accepts any peer (responder only). [`Endpoint::initiate`]
    /// uses the first.
    ///
    /// [`Endpoint::initiate`]: crate::Endpoint::initiate
    pub remote_addrs: Vec<IpAddr>,
    /// Our IKE port. Default 500.
    pub local_port: u16,
    /// The peer's IKE port. Default 500.
    pub remote_port: u16,
    /// Our identity; `None` uses our IP address (strongSwan's default).
    pub local_id: Option<Identity>,
    /// The identity the peer must prove; `None` accepts any identity the peer authenticates.
    pub remote_id: Option<Identity>,
    /// How we authenticate ourselves.
    pub local_auth: LocalAuth,
    /// How the peer must authenticate.
    pub remote_auth: RemoteAuth,
    /// IKE SA proposals in preference order ([RFC 7296 §3.3]).
    ///
    /// [RFC 7296 §3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3
    pub ike_proposals: Vec<IkeProposal>,
    /// The Child SAs. As initiator, the first with [`StartAction::Start`] (or the first of all)
    /// is created in IKE_AUTH and the other `Start` ones with CREATE_CHILD_SA after it.
    pub children: Vec<ChildConfig>,
    /// Rekeying and lifetime of the IKE SA. Default: rekey after 4 h, with up to 10% jitter.
    pub ike_lifetime: LifetimeConfig,
    /// Send a liveness check ([RFC 7296 §2.4]) after this long without inbound traffic from the
    /// peer; `None` disables it. Default 30 s (strongSwan disables DPD by default; a gateway
    /// that must not lose traffic wants to know when its peer is gone).
    ///
    /// [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4
    pub dpd_delay: Option<Duration>,
    /// UDP encapsulation of ESP ([RFC 3948]). It is decided per IKE SA, since NAT detection is
    /// part of IKE_SA_INIT.
    ///
    /// [RFC 3948]: https://www.rfc-editor.org/rfc/rfc3948
    pub udp_encap: UdpEncap,
    /// Announce and use RFC 6311 message-ID and replay-counter synchronisation. Default on.
    pub rfc6311: bool,
    /// Send INITIAL_CONTACT in IKE_AUTH as initiator ([RFC 7296 §2.4]). Default on.
    ///
    /// [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4
    pub initial_contact: bool,
    /// IKE message fragmentation ([RFC 7383]). Default: announced, with 1280-byte datagrams.
    ///
    /// [RFC 7383]: https://www.rfc-editor.org/rfc/rfc7383
    pub fragmentation: FragmentationConfig,
}

/// IKE message fragmentation for one connection ([RFC 7383]).
///
/// [RFC 7383]: https://www.rfc-editor.org/rfc/rfc7383
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct FragmentationConfig {
    /// Announce IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT ([RFC 7383 §2.3]) and, when the
    /// peer announces it too, send encrypted messages that do not fit in [`Self::mtu`] as SKF
    /// fragments. Received fragments are reassembled only on IKE SAs where both sides announced
    /// support. Default on (strongSwan's `fragmentation = yes`).
    ///
    /// [RFC 7383 §2.3]: https://www.rfc-editor.org/rfc/rfc7383#section-2.3
    pub enabled: bool,
    /// The largest IP datagram an IKE message (or fragment) may take, IP and UDP headers and
    /// the non-ESP marker included ([RFC 7383 §2.5.1]). Default 1280, the IPv6 minimum MTU,
    /// which crosses nearly every path of either family (strongSwan's `fragment_size`); 576
    /// is the IPv4 minimum. Values below 576 are raised to 576.
    ///
    /// [RFC 7383 §2.5.1]: https://www.rfc-editor.org/rfc/rfc7383#section-2.5.1
    pub mtu: u16,
}

/// The smallest datagram size fragmentation works with: the IPv4 minimum reassembly size
/// (RFC 791), which [RFC 7383 §2.5.1] names as the conservative choice.
///
/// [RFC 7383 §2.5.1]: https://www.rfc-editor.org/rfc/rfc7383#section-2.5.1
pub const MIN_FRAGMENT_MTU: u16 = 576;

/// Bounds on the fragments kept for reassembly, per IKE SA and per direction (a request and a
/// response may be reassembled at the same time) ([RFC 7383 §2.6]). A fragment is kept only after
/// its integrity check passed, so only the authenticated peer can use these resources; the
/// bounds keep a misbehaving one from using more.
///
/// [RFC 7383 §2.6]: https://www.rfc-editor.org/rfc/rfc7383#section-2.6
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ReassemblyConfig {
    /// A message announcing more fragments than this is dropped. Default 64 (64 fragments of
    /// 1280 bytes carry a 64 KiB message, the most UDP allows).
    pub max_fragments: u16,
    /// A message whose fragments' decrypted contents add up to more than this is dropped.
    /// Default 64 KiB.
    pub max_bytes: usize,
    /// Fragments of a message still incomplete this long after its first fragment arrived are
    /// dropped. Default 30 s (longer than the peer's first retransmissions, which bring the
    /// missing fragments).
    pub timeout: Duration,
}

/// An identity of the ID payload ([RFC 7296 §3.5]).
///
/// [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
#[derive(Clone, Eq, Hash, Ord, PartialEq, PartialOrd)]
pub enum Identity {
    /// ID_IPV4_ADDR.
    Ipv4(Ipv4Addr),
    /// ID_IPV6_ADDR.
    Ipv6(Ipv6Addr),
    /// ID_FQDN, a fully-qualified domain name.
    Fqdn(String),
    /// ID_RFC822_ADDR, an email address.
    Rfc822(String),
    /// ID_KEY_ID, opaque bytes.
    KeyId(Vec<u8>),
}

/// How we prove our identity ([RFC 7296 §2.15]). More methods (certificates, RFC 7427
/// signatures) come later.
///
/// [RFC 7296 §2.15]: https://www.rfc-editor.org/rfc/rfc7296#section-2.15
#[derive(Clone)]
#[non_exhaustive]
pub enum LocalAuth {
    /// A pre-shared key: AUTH method SHARED_KEY_MIC.
    Psk(SecretBytes),
}

/// How the peer must prove its identity ([RFC 7296 §2.15]).
///
/// [RFC 7296 §2.15]: https://www.rfc-editor.org/rfc/rfc7296#section-2.15
#[derive(Clone)]
#[non_exhaustive]
pub enum RemoteAuth {
    /// A pre-shared key: AUTH method SHARED_KEY_MIC.
    Psk(SecretBytes),
}

/// An encryption transform with its key length.
#[derive(Clone, Copy, Debug, Eq, Hash, PartialEq)]
pub struct Encryption {
    /// The algorithm.
    pub id: EncrId,
    /// The KEY_LENGTH attribute in bits, for algorithms that carry one (AES), `None` otherwise.
    pub key_bits: Option<u16>,
}

/// One IKE SA proposal: every combination of the listed transforms is acceptable
/// ([RFC 7296 §3.3]). With AEAD encryption, `integrity` must be empty.
///
/// [RFC 7296 §3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct IkeProposal {
    /// ENCR transforms.
    pub encryption: Vec<Encryption>,
    /// INTEG transforms (empty with AEAD encryption).
    pub integrity: Vec<IntegId>,
    /// PRF transforms.
    pub prf: Vec<PrfId>,
    /// KE transforms; the first one is the group of our KE payload.
    pub key_exchange: Vec<KeMethod>,
}

/// One ESP proposal ([RFC 7296 §3.3]). With AEAD encryption, `integrity` must be empty.
///
/// [RFC 7296 §3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct EspProposal {
    /// ENCR transforms.
    pub encryption: Vec<Encryption>,
    /// INTEG transforms (empty with AEAD encryption).
    pub integrity: Vec<IntegId>,
    /// KE transforms for perfect forward secrecy in CREATE_CHILD_SA; empty for none. They are
    /// left out of the Child SA created in IKE_AUTH, whose keys come from the IKE SA
    /// ([RFC 7296 §1.2]).
    ///
    /// [RFC 7296 §1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
    pub key_exchange: Vec<KeMethod>,
    /// Extended sequence numbers.
    pub esn: Esn,
}

/// Whether to offer or accept extended sequence numbers (RFC 4303 §2.2.1).
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum Esn {
    /// 32-bit sequence numbers only (strongSwan's default).
    #[default]
    No,
    /// 64-bit extended sequence numbers only.
    Yes,
    /// Either, preferring ESN.
    Either,
}

/// One Child SA of a connection.
#[derive(Clone, Debug)]
pub struct ChildConfig {
    /// Unique name within the connection.
    pub name: String,
    /// Our side's traffic selectors; empty means our outer IP address alone (strongSwan's
    /// `dynamic`).
    pub local_ts: Vec<TrafficSelector>,
    /// The peer's side's traffic selectors; empty means the peer's outer IP address alone.
    pub remote_ts: Vec<TrafficSelector>,
    /// Tunnel or transport mode ([RFC 7296 §1.3.1] USE_TRANSPORT_MODE). Default tunnel.
    ///
    /// [RFC 7296 §1.3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.1
    pub mode: Mode,
    /// ESP proposals in preference order.
    pub esp_proposals: Vec<EspProposal>,
    /// What to do when the config is loaded. Default [`StartAction::None`].
    pub start_action: StartAction,
    /// Rekeying and lifetime. Default: rekey after 1 h with up to 10% jitter, hard expiry at
    /// 110% (strongSwan's `rekey_time`, `life_time` and `rand_time`).
    pub lifetime: LifetimeConfig,
    /// Anti-replay window in packets; 0 disables replay protection. Default 32 (strongSwan).
    pub replay_window: u32,
    /// How long a replaced inbound SA stays installed after a rekey, for packets still in
    /// flight ([RFC 7296 §2.8]). Default 5 s.
    ///
    /// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
    pub rekey_linger: Duration,
    /// As responder of a rekey, switch the outbound SA at the latest after this long, if the
    /// initiator neither used the new SA nor deleted the old one. Default 10 s.
    pub rekey_outbound_switch: Duration,
    /// RFC 9611 per-resource Child SAs (placeholder; the per-resource issue implements it).
    pub per_resource_sas: Option<PerResourceSas>,
}

/// When a Child SA is created.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum StartAction {
    /// Only on request ([`Endpoint::initiate`](crate::Endpoint::initiate)) or when the peer asks.
    #[default]
    None,
    /// At start-up ([`Endpoint::start`](crate::Endpoint::start)).
    Start,
    /// Install a trap policy and initiate on the first packet (placeholder: behaves as `None`).
    Trap,
}

/// How many RFC 9611 per-resource Child SAs to create (placeholder).
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum PerResourceSas {
    /// A fixed number of resources.
    Count(u32),
    /// One per data-plane worker (the number of CPUs the daemon runs workers on).
    Cpus,
}

/// Rekeying and hard expiry of an SA, by time and (for Child SAs) by traffic.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct LifetimeConfig {
    /// Rekey after this long; `None` never rekeys by time.
    pub rekey_time: Option<Duration>,
    /// Rekey up to this much earlier, chosen at random per SA, so that peers do not rekey at
    /// once.
    pub jitter: Duration,
    /// Delete the SA after this long (a hard limit); `None` never.
    pub life_time: Option<Duration>,
    /// Soft byte and packet limits handed to the data plane (Child SAs only).
    pub soft: hitless_sadb::Limits,
    /// Hard byte and packet limits handed to the data plane (Child SAs only).
    pub hard: hitless_sadb::Limits,
}

/// Whether ESP is encapsulated in UDP ([RFC 3948]).
///
/// [RFC 3948]: https://www.rfc-editor.org/rfc/rfc3948
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum UdpEncap {
    /// When NAT detection finds a NAT ([RFC 7296 §2.23]).
    ///
    /// [RFC 7296 §2.23]: https://www.rfc-editor.org/rfc/rfc7296#section-2.23
    #[default]
    Auto,
    /// Always, by making the peer believe there is a NAT (a fake NAT_DETECTION_SOURCE_IP, as
    /// strongSwan's `encap = yes` does).
    Force,
}

/// Request retransmission ([RFC 7296 §2.1]), as strongSwan's `retransmit_*` settings: the n-th
/// retransmission is sent `initial_timeout * base^n` after the previous send, minus a random
/// jitter, capped at `cap`; after `tries` retransmissions and one more timeout, the peer is
/// declared dead.
///
/// [RFC 7296 §2.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.1
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetransmitConfig {
    /// Timeout of the first send. Default 4 s.
    pub initial_timeout: Duration,
    /// Growth factor per retransmission (at least 1). Default 1.8.
    pub base: f64,
    /// Number of retransmissions. Default 5.
    pub tries: u32,
    /// Up to this percentage of each timeout is removed at random (0–100). Default 10
    /// (strongSwan's default is 0; some jitter keeps a cluster of SAs from retransmitting in
    /// step).
    pub jitter_percent: u8,
    /// Upper bound on a single timeout; `None` for none.
    pub cap: Option<Duration>,
}

/// Limits on half-open IKE SAs and the responder's use of cookies ([RFC 7296 §2.6],
/// [RFC 8019 §4]).
///
/// A half-open IKE SA is one we answered IKE_SA_INIT for and that has not completed IKE_AUTH.
/// Each costs a key exchange and a few kilobytes, so an attacker who can send IKE_SA_INIT from
/// spoofed addresses could exhaust both. The responder therefore demands a COOKIE (a keyed hash
/// of the initiator's nonce, address and SPI) once `cookie_threshold` SAs are half-open, or once
/// `max_per_source` are half-open from the requester's address: only an initiator that can
/// receive at its address can return the cookie, and a request without a valid one is answered
/// statelessly, before any key exchange. Requests whose address a cookie proved are further
/// limited to `max_per_source` half-open SAs per address and `max_total` in all; beyond those
/// they are dropped without an answer.
///
/// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
/// [RFC 8019 §4]: https://www.rfc-editor.org/rfc/rfc8019#section-4
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct HalfOpenConfig {
    /// A half-open IKE SA (responder, IKE_AUTH not yet received) is dropped after this long.
    /// Default 30 s (strongSwan's `half_open_timeout`).
    pub timeout: Duration,
    /// Demand cookies while at least this many IKE SAs are half-open; 0 demands them always.
    /// Default 30 (strongSwan's `cookie_threshold`).
    pub cookie_threshold: u32,
    /// Half-open IKE SAs per peer IP address: at this many, requests from that address must
    /// carry a cookie, and requests with a valid cookie are dropped while this many
    /// cookie-proven SAs from the address are half-open ([RFC 8019 §4.1]). Default 5
    /// (strongSwan's `block_threshold`).
    ///
    /// [RFC 8019 §4.1]: https://www.rfc-editor.org/rfc/rfc8019#section-4.1
    pub max_per_source: u32,
    /// Half-open IKE SAs in all: at this many, new IKE_SA_INIT requests are dropped. Default
    /// 10 000 (a few tens of megabytes; strongSwan has no default limit).
    pub max_total: u32,
    /// The cookie secret is replaced after this long ([RFC 7296 §2.6]: "the responder should
    /// change the value of `<secret>` frequently"). Default 60 s.
    ///
    /// [RFC 7296 §2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
    pub cookie_secret_lifetime: Duration,
    /// Cookies made with the previous secret stay valid this long after it was replaced, so that
    /// an initiator answering a cookie demand across a rotation is not sent round again.
    /// Default 10 s.
    pub cookie_grace: Duration,
}

/// Why a [`Config`] cannot be used.
#[derive(Clone, Debug, Eq, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// Two connections have the same name.
    #[error("duplicate connection name {0:?}")]
    DuplicateConnection(String),
    /// Two Child SAs of one connection have the same name.
    #[error("connection {connection:?}: duplicate child name {child:?}")]
    DuplicateChild {
        /// The connection.
        connection: String,
        /// The child.
        child: String,
    },
    /// A proposal lacks a mandatory transform type or mixes AEAD and integrity.
    #[error("connection {connection:?}: invalid proposal: {reason}")]
    InvalidProposal {
        /// The connection.
        connection: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A value is out of range.
    #[error("{field}: {reason}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A connection has no IKE proposal.
    #[error("connection {0:?} has no IKE proposal")]
    NoIkeProposal(String),
}

impl Config {
    /// Checks what the types cannot: unique names, usable proposals, sane retransmission.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn check(&self) -> Result<(), ConfigError> {
        let r = &self.retransmit;
        if !(r.base >= 1.0 && r.base <= 10.0) {
            return Err(ConfigError::OutOfRange {
                field: "retransmit.base",
                reason: "must be between 1 and 10",
            });
        }
        if r.jitter_percent > 100 {
            return Err(ConfigError::OutOfRange {
                field: "retransmit.jitter_percent",
                reason: "must be at most 100",
            });
        }
        if r.initial_timeout.is_zero() {
            return Err(ConfigError::OutOfRange {
                field: "retransmit.initial_timeout",
                reason: "must not be zero",
            });
        }
        let h = &self.half_open;
        if h.max_per_source == 0 {
            return Err(ConfigError::OutOfRange {
                field: "half_open.max_per_source",
                reason: "must be at least 1",
            });
        }
        if h.max_total < h.cookie_threshold {
            return Err(ConfigError::OutOfRange {
                field: "half_open.max_total",
                reason: "must be at least the cookie threshold",
            });
        }
        if h.cookie_secret_lifetime.is_zero() {
            return Err(ConfigError::OutOfRange {
                field: "half_open.cookie_secret_lifetime",
                reason: "must not be zero",
            });
        }
        let f = &self.reassembly;
        if f.max_fragments == 0 || f.max_bytes == 0 || f.timeout.is_zero() {
            return Err(ConfigError::OutOfRange {
                field: "reassembly",
                reason: "limits must not be zero",
            });
        }
        for (i, connection) in self.connections.iter().enumerate() {
            if self.connections[..i]
                .iter()
                .any(|other| other.name == connection.name)
            {
                return Err(ConfigError::DuplicateConnection(connection.name.clone()));
            }
            connection.check()?;
        }
        Ok(())
    }

    /// The connection called `name`.
    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name == name)
    }
}

impl Connection {
    /// A connection called `name` with the defaults and the given PSK used both ways.
    pub fn with_psk(name: impl Into<String>, psk: SecretBytes) -> Self {
        Self {
            name: name.into(),
            local_addrs: Vec::new(),
            remote_addrs: Vec::new(),
            local_port: 500,
            remote_port: 500,
            local_id: None,
            remote_id: None,
            local_auth: LocalAuth::Psk(psk.clone()),
            remote_auth: RemoteAuth::Psk(psk),
            ike_proposals: IkeProposal::defaults(),
            children: Vec::new(),
            ike_lifetime: LifetimeConfig::ike_default(),
            dpd_delay: Some(Duration::from_secs(30)),
            udp_encap: UdpEncap::Auto,
            rfc6311: true,
            initial_contact: true,
            fragmentation: FragmentationConfig::default(),
        }
    }

    /// The Child SA config called `name`.
    pub fn child(&self, name: &str) -> Option<&ChildConfig> {
        self.children.iter().find(|c| c.name == name)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.ike_proposals.is_empty() {
            return Err(ConfigError::NoIkeProposal(self.name.clone()));
        }
        if self.fragmentation.mtu < MIN_FRAGMENT_MTU {
            return Err(ConfigError::OutOfRange {
                field: "fragmentation.mtu",
                reason: "must be at least 576",
            });
        }
        let invalid = |reason| ConfigError::InvalidProposal {
            connection: self.name.clone(),
            reason,
        };
        for proposal in &self.ike_proposals {
            if proposal.encryption.is_empty()
                || proposal.prf.is_empty()
                || proposal.key_exchange.is_empty()
            {
                return Err(invalid("an IKE proposal needs ENCR, PRF and KE"));
            }
            check_aead_mix(&proposal.encryption, &proposal.integrity).map_err(invalid)?;
        }
        for (i, child) in self.children.iter().enumerate() {
            if self.children[..i].iter().any(|c| c.name == child.name) {
                return Err(ConfigError::DuplicateChild {
                    connection: self.name.clone(),
                    child: child.name.clone(),
                });
            }
            if child.esp_proposals.is_empty() {
                return Err(invalid("a Child SA needs an ESP proposal"));
            }
            for proposal in &child.esp_proposals {
                if proposal.encryption.is_empty() {
                    return Err(invalid("an ESP proposal needs ENCR"));
                }
                check_aead_mix(&proposal.encryption, &proposal.integrity).map_err(invalid)?;
            }
        }
        Ok(())
    }
}

impl Identity {
    /// The ID payload for this identity ([RFC 7296 §3.5]).
    ///
    /// [RFC 7296 §3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
    pub fn to_payload(&self) -> IdPayload {
        let (id_type, data) = match self {
            Self::Ipv4(addr) => (IdType::IPV4_ADDR, addr.octets().to_vec()),
            Self::Ipv6(addr) => (IdType::IPV6_ADDR, addr.octets().to_vec()),
            Self::Fqdn(name) => (IdType::FQDN, name.as_bytes().to_vec()),
            Self::Rfc822(name) => (IdType::RFC822_ADDR, name.as_bytes().to_vec()),
            Self::KeyId(bytes) => (IdType::KEY_ID, bytes.clone()),
        };
        IdPayload { id_type, data }
    }

    /// The identity an ID payload carries, if its type is one this engine supports.
    pub fn from_payload(payload: &IdPayload) -> Option<Self> {
        let data = payload.data.as_slice();
        match payload.id_type {
            IdType::IPV4_ADDR => <[u8; 4]>::try_from(data).ok().map(|o| Self::Ipv4(o.into())),
            IdType::IPV6_ADDR => <[u8; 16]>::try_from(data)
                .ok()
                .map(|o| Self::Ipv6(o.into())),
            IdType::FQDN => String::from_utf8(data.to_vec()).ok().map(Self::Fqdn),
            IdType::RFC822_ADDR => String::from_utf8(data.to_vec()).ok().map(Self::Rfc822),
            IdType::KEY_ID => Some(Self::KeyId(data.to_vec())),
            _ => None,
        }
    }

    /// The identity of an IP address.
    pub fn from_ip(addr: IpAddr) -> Self {
        match addr {
            IpAddr::V4(v4) => Self::Ipv4(v4),
            IpAddr::V6(v6) => Self::Ipv6(v6),
        }
    }
}

impl IkeProposal {
    /// The default IKE proposals: an AEAD one (AES-GCM-16 128/256, ChaCha20-Poly1305) and a
    /// CBC one (AES-CBC 128/256 with HMAC-SHA2), each with HMAC-SHA2 PRFs and the groups
    /// X25519, ECP-256, ECP-384 and MODP-2048.
    pub fn defaults() -> Vec<Self> {
        let prf = vec![
            PrfId::HMAC_SHA2_256,
            PrfId::HMAC_SHA2_384,
            PrfId::HMAC_SHA2_512,
        ];
        let key_exchange = vec![
            KeMethod::CURVE25519,
            KeMethod::ECP_256,
            KeMethod::ECP_384,
            KeMethod::MODP_2048,
        ];
        vec![
            Self {
                encryption: Encryption::aead_defaults(),
                integrity: Vec::new(),
                prf: prf.clone(),
                key_exchange: key_exchange.clone(),
            },
            Self {
                encryption: Encryption::cbc_defaults(),
                integrity: default_integrity(),
                prf,
                key_exchange,
            },
        ]
    }
}

impl EspProposal {
    /// The default ESP proposals (strongSwan's): AEAD (AES-GCM-16 128/256, ChaCha20-Poly1305)
    /// and AES-CBC with HMAC-SHA2, without PFS and without ESN.
    pub fn defaults() -> Vec<Self> {
        vec![
            Self {
                encryption: Encryption::aead_defaults(),
                integrity: Vec::new(),
                key_exchange: Vec::new(),
                esn: Esn::No,
            },
            Self {
                encryption: Encryption::cbc_defaults(),
                integrity: default_integrity(),
                key_exchange: Vec::new(),
                esn: Esn::No,
            },
        ]
    }
}

impl Encryption {
    /// AES-GCM with a 16-byte ICV and the given key length.
    pub const fn aes_gcm16(key_bits: u16) -> Self {
        Self {
            id: EncrId::AES_GCM_16,
            key_bits: Some(key_bits),
        }
    }

    /// AES-CBC with the given key length.
    pub const fn aes_cbc(key_bits: u16) -> Self {
        Self {
            id: EncrId::AES_CBC,
            key_bits: Some(key_bits),
        }
    }

    /// ChaCha20-Poly1305 (RFC 7634).
    pub const CHACHA20_POLY1305: Self = Self {
        id: EncrId::CHACHA20_POLY1305,
        key_bits: None,
    };

    /// Whether this is an AEAD (combined mode) algorithm.
    pub fn is_aead(&self) -> bool {
        matches!(
            self.id,
            EncrId::AES_GCM_8
                | EncrId::AES_GCM_12
                | EncrId::AES_GCM_16
                | EncrId::AES_CCM_8
                | EncrId::AES_CCM_12
                | EncrId::AES_CCM_16
                | EncrId::CHACHA20_POLY1305
        )
    }

    fn aead_defaults() -> Vec<Self> {
        vec![
            Self::aes_gcm16(128),
            Self::aes_gcm16(256),
            Self::CHACHA20_POLY1305,
        ]
    }

    fn cbc_defaults() -> Vec<Self> {
        vec![Self::aes_cbc(128), Self::aes_cbc(256)]
    }
}

impl ChildConfig {
    /// A tunnel-mode Child SA called `name` between the given selectors, with the defaults.
    pub fn tunnel(
        name: impl Into<String>,
        local_ts: Vec<TrafficSelector>,
        remote_ts: Vec<TrafficSelector>,
    ) -> Self {
        Self {
            name: name.into(),
            local_ts,
            remote_ts,
            mode: Mode::Tunnel,
            esp_proposals: EspProposal::defaults(),
            start_action: StartAction::None,
            lifetime: LifetimeConfig::child_default(),
            replay_window: 32,
            rekey_linger: Duration::from_secs(5),
            rekey_outbound_switch: Duration::from_secs(10),
            per_resource_sas: None,
        }
    }
}

impl LifetimeConfig {
    /// The IKE SA default: rekey after 4 h with up to 24 min (10%) jitter, no hard limit
    /// (strongSwan: `rekey_time = 4h`, `rand_time = over_time = 10%`).
    pub fn ike_default() -> Self {
        Self {
            rekey_time: Some(Duration::from_secs(4 * 3600)),
            jitter: Duration::from_secs(24 * 60),
            life_time: Some(Duration::from_secs(4 * 3600 + 24 * 60)),
            soft: hitless_sadb::Limits::default(),
            hard: hitless_sadb::Limits::default(),
        }
    }

    /// The Child SA default: rekey after 1 h with up to 6 min jitter, hard expiry at 66 min
    /// (strongSwan: `rekey_time = 1h`, `life_time = 110%`, `rand_time = life - rekey`).
    pub fn child_default() -> Self {
        Self {
            rekey_time: Some(Duration::from_secs(3600)),
            jitter: Duration::from_secs(360),
            life_time: Some(Duration::from_secs(3960)),
            soft: hitless_sadb::Limits::default(),
            hard: hitless_sadb::Limits::default(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            connections: Vec::new(),
            retransmit: RetransmitConfig::default(),
            nat_keepalive: Some(Duration::from_secs(20)),
            half_open: HalfOpenConfig::default(),
            invalid_spi_notify_rate: 10,
            reassembly: ReassemblyConfig::default(),
        }
    }
}

impl Default for FragmentationConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            mtu: 1280,
        }
    }
}

impl Default for ReassemblyConfig {
    fn default() -> Self {
        Self {
            max_fragments: 64,
            max_bytes: 64 * 1024,
            timeout: Duration::from_secs(30),
        }
    }
}

impl Default for RetransmitConfig {
    fn default() -> Self {
        Self {
            initial_timeout: Duration::from_secs(4),
            base: 1.8,
            tries: 5,
            jitter_percent: 10,
            cap: None,
        }
    }
}

impl Default for HalfOpenConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(30),
            cookie_threshold: 30,
            max_per_source: 5,
            max_total: 10_000,
            cookie_secret_lifetime: Duration::from_secs(60),
            cookie_grace: Duration::from_secs(10),
        }
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ipv4(addr) => write!(f, "{addr}"),
            Self::Ipv6(addr) => write!(f, "{addr}"),
            Self::Fqdn(name) => write!(f, "{name}"),
            Self::Rfc822(name) => write!(f, "{name}"),
            Self::KeyId(bytes) => {
                f.write_str("keyid:")?;
                bytes.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({self})")
    }
}

impl fmt::Debug for LocalAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Psk(_) => f.write_str("Psk([redacted])"),
        }
    }
}

impl fmt::Debug for RemoteAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Psk(_) => f.write_str("Psk([redacted])"),
        }
    }
}

fn default_integrity() -> Vec<IntegId> {
    vec![
        IntegId::HMAC_SHA2_256_128,
        IntegId::HMAC_SHA2_384_192,
        IntegId::HMAC_SHA2_512_256,
    ]
}

fn check_aead_mix(encryption: &[Encryption], integrity: &[IntegId]) -> Result<(), &'static str> {
    let aead = encryption.iter().filter(|e| e.is_aead()).count();
    if aead != 0 && aead != encryption.len() {
        return Err("a proposal mixes AEAD and non-AEAD encryption");
    }
    let real_integrity = integrity.iter().any(|i| *i != IntegId::NONE);
    if aead != 0 && real_integrity {
        return Err("an AEAD proposal must not list integrity algorithms");
    }
    if aead == 0 && !real_integrity {
        return Err("a non-AEAD proposal needs an integrity algorithm");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_pass_the_check() {
        let mut connection = Connection::with_psk("gw", SecretBytes::from_slice(b"secret"));
        connection
            .children
            .push(ChildConfig::tunnel("net", Vec::new(), Vec::new()));
        let config = Config {
            connections: vec![connection],
            ..Config::default()
        };
        assert_eq!(config.check(), Ok(()));
    }

    #[test]
    fn aead_with_integrity_is_rejected() {
        let mut connection = Connection::with_psk("gw", SecretBytes::from_slice(b"secret"));
        connection.ike_proposals[0].integrity = vec![IntegId::HMAC_SHA2_256_128];
        let config = Config {
            connections: vec![connection],
            ..Config::default()
        };
        assert!(matches!(
            config.check(),
            Err(ConfigError::InvalidProposal { .. })
        ));
    }

    #[test]
    fn identity_round_trips_through_payload() {
        for id in [
            Identity::Ipv4(Ipv4Addr::new(192, 0, 2, 1)),
            Identity::Ipv6(Ipv6Addr::LOCALHOST),
            Identity::Fqdn("gw.example".into()),
            Identity::Rfc822("a@example".into()),
            Identity::KeyId(vec![1, 2, 3]),
        ] {
            assert_eq!(Identity::from_payload(&id.to_payload()), Some(id));
        }
    }

    #[test]
    fn psk_is_redacted() {
        let auth = LocalAuth::Psk(SecretBytes::from_slice(b"hunter2"));
        assert!(!format!("{auth:?}").contains("hunter2"));
    }
}
