//! The validated configuration: every value present, defaults applied, contradictions refused.
//!
//! Nothing here can hold an invalid state that the loader would have refused: lifetimes are
//! ordered, authentication is one complete method, proposals are well formed. The daemon maps
//! these types onto the engines' configs without checking them again.

use std::fmt;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::num::NonZeroU64;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use hitless_crypto::SecretBytes;
pub use hitless_sadb::Mode;
use serde::Deserialize;
use serde::Deserializer;

use crate::error::ConfigError;
use crate::error::Issue;
use crate::error::KeyPath;
use crate::error::Location;
use crate::identity::Identity;
use crate::locate::Positions;
use crate::proposal::EspProposal;
use crate::proposal::IkeProposal;
use crate::text::string_enum;
use crate::ts::AddressRange;
use crate::ts::TsSpec;

/// A loaded, validated configuration.
#[derive(Debug)]
pub struct Config {
    /// The file it was loaded from.
    pub source: PathBuf,
    /// `[daemon]`.
    pub daemon: Daemon,
    /// `[data_plane]`.
    pub data_plane: DataPlane,
    /// `[ike]`: settings for every IKE SA.
    pub ike: IkeSettings,
    /// `[debug]`.
    pub debug: Debugging,
    /// `[ha]`, when this node is part of a cluster.
    pub ha: Option<Ha>,
    /// `[pools.NAME]`: virtual IP pools for road warriors.
    pub pools: Vec<Pool>,
    /// `[connections.NAME]`, in file order.
    pub connections: Vec<Connection>,
    /// Things that work but deserve the operator's attention (inline PSK, key log on).
    pub warnings: Vec<Warning>,
    /// Where each key is in the file, for errors found after loading.
    pub(crate) positions: Positions,
}

/// A non-fatal remark about the configuration.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Warning {
    /// The key it is about.
    pub key: KeyPath,
    /// Its position in the file, if known.
    pub location: Option<Location>,
    /// What to know or do.
    pub message: String,
}

/// `[daemon]`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Daemon {
    /// The control socket hitlessctl talks to.
    pub control_socket: PathBuf,
    /// The initial log level (changeable at run time with `hitlessctl log-level`).
    pub log_level: LogLevel,
    /// Where the Prometheus endpoint listens; `None` keeps it off.
    pub metrics_listen: Option<SocketAddr>,
}

/// Log verbosity, from quietest to loudest.
#[derive(Clone, Copy, Debug, Eq, Ord, PartialEq, PartialOrd)]
pub enum LogLevel {
    /// The daemon cannot continue, or a local bug.
    Error,
    /// An SA failed or a peer misbehaved.
    Warn,
    /// One line per SA lifecycle change.
    Info,
    /// One line per IKE message.
    Debug,
    /// Field detail and per-packet data plane.
    Trace,
}

/// `[data_plane]`.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct DataPlane {
    /// Which ESP implementation carries the traffic.
    pub backend: Backend,
    /// Userspace data-plane worker threads (one TUN queue and UDP socket each).
    pub workers: Parallelism,
    /// The TUN device name.
    pub tun_name: String,
    /// The TUN device MTU (inner packets).
    pub mtu: u16,
}

/// The ESP implementation.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Backend {
    /// hitless's own ESP over a TUN device (lossless rekey, per-CPU SAs).
    Userspace,
    /// The Linux kernel's XFRM.
    Xfrm,
}

/// A count that is either fixed or one per CPU.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Parallelism {
    /// One per CPU the daemon may run on.
    PerCpu,
    /// A fixed number.
    Fixed(NonZeroU32),
}

/// `[ike]`: IKE settings shared by all connections.
#[derive(Clone, Debug, PartialEq)]
pub struct IkeSettings {
    /// UDP port for IKE (RFC 7296 §2: 500).
    pub port: u16,
    /// UDP port for NAT traversal and ESP-in-UDP (RFC 3948: 4500).
    pub nat_t_port: u16,
    /// Retransmission of requests (RFC 7296 §2.1).
    pub retransmit: Retransmit,
    /// Half-open IKE SAs above which IKE_SA_INIT requests must carry a COOKIE (RFC 7296 §2.6);
    /// 0 demands cookies always.
    pub cookie_threshold: u32,
    /// Half-open IKE SAs from one IP address at which its requests must carry a cookie, and
    /// beyond which cookie-proven requests from it are dropped (RFC 8019 §4.1; strongSwan's
    /// `block_threshold`). At least 1.
    pub block_threshold: u32,
    /// Half-open IKE SAs in all at which new IKE_SA_INIT requests are dropped (strongSwan's
    /// `init_limit_half_open`). At least `cookie_threshold`.
    pub init_limit_half_open: u32,
}

/// Retransmission schedule: attempt `n` waits `timeout × base^n` (plus jitter), as strongSwan.
#[derive(Clone, Debug, PartialEq)]
pub struct Retransmit {
    /// Retransmissions before giving up.
    pub tries: NonZeroU32,
    /// The first timeout.
    pub timeout: Duration,
    /// Growth factor, at least 1.
    pub base: f64,
    /// Up to this percentage is randomly subtracted from each timeout.
    pub jitter_percent: u8,
    /// Cap on a single timeout.
    pub limit: Option<Duration>,
}

/// `[debug]`.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Debugging {
    /// Write Wireshark's IKEv2 and ESP decryption tables here. Off unless set; exposes every
    /// session key to whoever can read the file.
    pub wireshark_keylog: Option<PathBuf>,
}

/// `[ha]`: active/standby cluster membership.
#[derive(Clone, PartialEq)]
pub struct Ha {
    /// This node's name in the cluster.
    pub node: String,
    /// The other node's sync address.
    pub peer: IpAddr,
    /// Our sync address, if it must be fixed.
    pub local: Option<IpAddr>,
    /// UDP port of the sync channel.
    pub sync_port: u16,
    /// The file holding the sync channel's key.
    pub secret_file: PathBuf,
    /// The sync channel's key.
    pub secret: SecretBytes,
    /// Checkpoint outbound ESP sequence numbers every this many packets.
    pub checkpoint_packets: NonZeroU64,
    /// … or after this long, whichever comes first.
    pub checkpoint_interval: Duration,
}

/// `[pools.NAME]`: addresses handed to road warriors (RFC 7296 §3.15).
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Pool {
    /// The pool's name.
    pub name: String,
    /// The addresses.
    pub range: AddressRange,
    /// DNS servers announced with an address.
    pub dns: Vec<IpAddr>,
}

/// `[connections.NAME]`: one peer (or class of peers) and the IKE SA with it.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    /// The connection's name.
    pub name: String,
    /// Our addresses; empty means any.
    pub local_addrs: Vec<IpAddr>,
    /// Where the peer may be; never empty.
    pub remote_addrs: Vec<PeerAddress>,
    /// Our IKE port.
    pub local_port: u16,
    /// The peer's IKE port.
    pub remote_port: u16,
    /// Our identity; `None` uses our IP address (PSK) or our certificate's subject.
    pub local_id: Option<Identity>,
    /// The identity the peer must prove; may hold wildcards.
    pub remote_id: Identity,
    /// How both sides authenticate.
    pub auth: Auth,
    /// IKE proposals in order of preference.
    pub proposals: Vec<IkeProposal>,
    /// Liveness check interval (RFC 7296 §2.4); `None` disables it.
    pub dpd_delay: Option<Duration>,
    /// IKE SA rekeying and expiry.
    pub lifetime: IkeLifetime,
    /// Initiation attempts before giving up; `None` retries forever.
    pub keyingtries: Option<NonZeroU32>,
    /// UDP encapsulation of ESP (RFC 3948).
    pub udp_encap: UdpEncap,
    /// IKE fragmentation (RFC 7383).
    pub fragmentation: bool,
    /// RFC 6311 message-ID and replay-counter synchronisation.
    pub rfc6311: bool,
    /// Virtual IP pools to assign from (names of [`Pool`]s).
    pub pools: Vec<String>,
    /// Child SAs, in file order.
    pub children: Vec<Child>,
}

/// An address, range or name where a peer may be.
#[derive(Clone, Debug, Eq, Hash, PartialEq)]
pub enum PeerAddress {
    /// Anywhere (`%any`): a responder for road warriors.
    Any,
    /// One address.
    Ip(IpAddr),
    /// A subnet or range of addresses the peer may come from (responder only).
    Range(AddressRange),
    /// A DNS name resolved when initiating.
    Hostname(String),
}

/// How the IKE SA is authenticated (RFC 7296 §2.15).
#[derive(Clone, Debug, PartialEq)]
pub enum Auth {
    /// A pre-shared key.
    Psk(Psk),
    /// Certificates and signatures (RFC 7427).
    Certificate(Box<CertificateAuth>),
}

/// A pre-shared key and where it came from. Keys compare in constant time.
#[derive(Clone, PartialEq)]
pub struct Psk {
    /// The file it was read from; `None` when written inline.
    pub file: Option<PathBuf>,
    /// The key.
    pub key: SecretBytes,
}

/// Certificate authentication material, decoded from PEM (or DER).
#[derive(Clone, Debug, PartialEq)]
pub struct CertificateAuth {
    /// The certificate file.
    pub cert_file: PathBuf,
    /// Our certificate (DER), followed by any intermediates found in the same file.
    pub certs: Vec<Vec<u8>>,
    /// The private key file.
    pub private_key_file: PathBuf,
    /// The private key.
    pub private_key: PrivateKey,
    /// Trusted CA certificates (DER) with their files, to verify the peer.
    pub cacerts: Vec<(PathBuf, Vec<u8>)>,
}

/// A private key in DER form. Keys compare in constant time.
#[derive(Clone, PartialEq)]
pub struct PrivateKey {
    /// The encoding of `der`.
    pub format: KeyFormat,
    /// The key.
    pub der: SecretBytes,
}

/// The encoding of a [`PrivateKey`].
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum KeyFormat {
    /// PKCS #8 `PrivateKeyInfo` (`BEGIN PRIVATE KEY`, or a DER file).
    Pkcs8,
    /// PKCS #1 `RSAPrivateKey` (`BEGIN RSA PRIVATE KEY`).
    Pkcs1Rsa,
    /// SEC 1 `ECPrivateKey` (`BEGIN EC PRIVATE KEY`).
    Sec1Ec,
}

/// IKE SA lifetime: rekeying, reauthentication and hard expiry, with jitter.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct IkeLifetime {
    /// Rekey the IKE SA after this long (RFC 7296 §2.18); `None` never.
    pub rekey: Option<Duration>,
    /// Reauthenticate (make-before-break) after this long; `None` never.
    pub reauth: Option<Duration>,
    /// Hard limit: the IKE SA is deleted after this long if not rekeyed.
    pub life: Option<Duration>,
    /// Up to this much is randomly subtracted from the rekey and reauth times.
    pub jitter: Duration,
}

/// How ESP is encapsulated.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum UdpEncap {
    /// ESP in UDP only when NAT is detected (RFC 7296 §2.23).
    Auto,
    /// Always ESP in UDP (pretends a NAT, RFC 7296 §2.23 NAT-D with a fake hash).
    Force,
}

/// `[connections.NAME.children.CHILD]`: one Child SA.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Child {
    /// The Child SA's name.
    pub name: String,
    /// Our side's traffic selectors.
    pub local_ts: Vec<TsSpec>,
    /// The peer's side's traffic selectors.
    pub remote_ts: Vec<TsSpec>,
    /// Tunnel or transport.
    pub mode: Mode,
    /// What the daemon does when the configuration is loaded.
    pub start_action: StartAction,
    /// What happens when DPD declares the peer dead.
    pub dpd_action: DpdAction,
    /// ESP proposals in order of preference.
    pub esp_proposals: Vec<EspProposal>,
    /// Time-based rekeying and expiry.
    pub time: Limits<Duration>,
    /// Byte-based rekeying and expiry.
    pub bytes: Limits<u64>,
    /// Packet-based rekeying and expiry.
    pub packets: Limits<u64>,
    /// Anti-replay window in packets (RFC 4303 §3.4.3); 0 disables the check.
    pub replay_window: u32,
    /// RFC 9611 per-resource Child SAs; `None` for one SA pair.
    pub per_resource_sas: Option<Parallelism>,
}

/// What to do with a Child SA when the configuration is loaded.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum StartAction {
    /// Nothing: wait for the peer or for `hitlessctl initiate`.
    None,
    /// Initiate it at once (and keep it up).
    Start,
    /// Install the policy and initiate on the first matching packet.
    Trap,
}

/// What to do with a Child SA when DPD finds the peer dead.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum DpdAction {
    /// Delete it.
    Clear,
    /// Delete it and install a trap policy.
    Trap,
    /// Delete it and initiate again at once.
    Restart,
}

/// Rekey and hard limits of one kind (time, bytes or packets), with jitter.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct Limits<T> {
    /// Rekey after this much; `None` never.
    pub rekey: Option<T>,
    /// Hard limit, above `rekey`; `None` none.
    pub life: Option<T>,
    /// Up to this much is randomly subtracted from `rekey`, so both ends do not rekey at once.
    pub jitter: T,
}

impl Config {
    /// Locates a problem found after loading at its key in the file.
    pub(crate) fn locate(&self, issue: Issue) -> ConfigError {
        self.positions.locate(issue)
    }

    /// The connection named `name`.
    pub fn connection(&self, name: &str) -> Option<&Connection> {
        self.connections.iter().find(|c| c.name == name)
    }
}

impl Parallelism {
    /// The count, with `cpus` the number of CPUs available.
    pub fn resolve(self, cpus: NonZeroU32) -> NonZeroU32 {
        match self {
            Self::PerCpu => cpus,
            Self::Fixed(n) => n,
        }
    }
}

impl Connection {
    /// The first address we can initiate to (an IP or a name), if any.
    pub fn initiation_target(&self) -> Option<&PeerAddress> {
        self.remote_addrs
            .iter()
            .find(|a| matches!(a, PeerAddress::Ip(_) | PeerAddress::Hostname(_)))
    }

    /// The Child SA named `name`.
    pub fn child(&self, name: &str) -> Option<&Child> {
        self.children.iter().find(|c| c.name == name)
    }
}

string_enum!(pub LogLevel {
    Error = "error",
    Warn = "warn",
    Info = "info",
    Debug = "debug",
    Trace = "trace",
});

string_enum!(pub Backend {
    Userspace = "userspace",
    Xfrm = "xfrm",
});

string_enum!(pub UdpEncap {
    Auto = "auto",
    Force = "force",
});

string_enum!(pub StartAction {
    None = "none",
    Start = "start",
    Trap = "trap",
});

string_enum!(pub DpdAction {
    Clear = "clear",
    Trap = "trap",
    Restart = "restart",
});

impl FromStr for PeerAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text == "%any" || text == "%any4" || text == "%any6" {
            return Ok(Self::Any);
        }
        if let Ok(address) = text.parse::<IpAddr>() {
            return Ok(Self::Ip(address));
        }
        if text.contains('/')
            || (text.contains('-')
                && text.contains(['.', ':'])
                && text.split('-').all(|p| p.trim().parse::<IpAddr>().is_ok()))
        {
            return text.parse().map(Self::Range);
        }
        let hostname = !text.is_empty()
            && text.len() <= 253
            && text.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            });
        if hostname {
            return Ok(Self::Hostname(text.to_owned()));
        }
        Err(format!(
            "`{text}` is not an address, expected an IP address, a subnet or range (responder \
             only), a DNS name, or %any"
        ))
    }
}

impl<'de> Deserialize<'de> for PeerAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        crate::text::deserialize_from_str(
            deserializer,
            "an address string such as \"192.0.2.1\" or \"%any\"",
        )
    }
}

impl fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Any => f.write_str("%any"),
            Self::Ip(address) => write!(f, "{address}"),
            Self::Range(range) => write!(f, "{range}"),
            Self::Hostname(name) => f.write_str(name),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = self.location {
            write!(f, "{}:{}: ", location.line, location.column)?;
        }
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        f.write_str(&self.message)
    }
}

impl fmt::Debug for Ha {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ha")
            .field("node", &self.node)
            .field("peer", &self.peer)
            .field("local", &self.local)
            .field("sync_port", &self.sync_port)
            .field("secret_file", &self.secret_file)
            .field("secret", &"[redacted]")
            .field("checkpoint_packets", &self.checkpoint_packets)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .finish()
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Psk")
            .field("file", &self.file)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("format", &self.format)
            .field("der", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses() {
        let parse = |s: &str| s.parse::<PeerAddress>();
        assert_eq!(parse("%any"), Ok(PeerAddress::Any));
        assert_eq!(
            parse("192.0.2.1"),
            Ok(PeerAddress::Ip("192.0.2.1".parse().unwrap()))
        );
        assert!(matches!(parse("10.0.0.0/8"), Ok(PeerAddress::Range(_))));
        assert!(matches!(
            parse("10.0.0.1-10.0.0.9"),
            Ok(PeerAddress::Range(_))
        ));
        assert_eq!(
            parse("vpn.example.org"),
            Ok(PeerAddress::Hostname("vpn.example.org".into()))
        );
        assert_eq!(parse("gw-b"), Ok(PeerAddress::Hostname("gw-b".into())));
        assert!(parse("bad host!").unwrap_err().contains("not an address"));
        assert!(parse("10.0.0.1/8").unwrap_err().contains("host bits"));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let psk = Psk {
            file: None,
            key: SecretBytes::from_slice(b"super-secret-value"),
        };
        let debug = format!("{psk:?}");
        assert!(!debug.contains("super-secret-value"));
        assert!(debug.contains("[redacted]"));
        let key = PrivateKey {
            format: KeyFormat::Pkcs8,
            der: SecretBytes::from_slice(&[0x42; 8]),
        };
        assert!(!format!("{key:?}").contains("66"));
    }
}
