//! A Child SA: its negotiated parameters and keys ([RFC 7296 §2.17]), its lifecycle state, the
//! stage of its outbound SA (strongSwan's outbound state, as an enum), and the SA commands that
//! install and remove it.
//!
//! [RFC 7296 §2.17]: https://www.rfc-editor.org/rfc/rfc7296#section-2.17

use std::net::SocketAddr;
use std::time::Duration;
use std::time::Instant;

use hitless_crypto::CryptoError;
use hitless_crypto::CryptoProvider;
use hitless_crypto::Prf;
use hitless_crypto::SecretBytes;
use hitless_crypto::derive;
use hitless_sadb::Direction;
use hitless_sadb::Lifetime;
use hitless_sadb::Mode;
use hitless_sadb::PolicySpec;
use hitless_sadb::ReqId;
use hitless_sadb::ResourceId;
use hitless_sadb::SaCommand;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;
use hitless_wire::registry::IntegId;

use crate::config::ChildConfig;
use crate::ids::ChildSaId;
use crate::info::ChildSaInfo;
use crate::info::ChildSaState;
use crate::output::OutputQueue;
use crate::proposal::ChildAlgorithms;
use crate::snapshot::ChildKeys;
use crate::snapshot::ChildSaSnapshot;

/// One Child SA (a pair of ESP SAs).
#[derive(Debug)]
pub(crate) struct ChildSa {
    /// Its handle.
    pub id: ChildSaId,
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
    /// RFC 9611 resource.
    pub resource: Option<ResourceId>,
    /// Anti-replay window.
    pub replay_window: u32,
    /// Byte and packet limits for the data plane.
    pub lifetime: Lifetime,
    /// Lifecycle state.
    pub state: ChildState,
    /// Whether the outbound SA carries the policy's traffic.
    pub outbound: Outbound,
    /// When it was installed.
    pub installed_at: Instant,
    /// When to rekey it.
    pub rekey_at: Option<Instant>,
    /// When it expires.
    pub expire_at: Option<Instant>,
    /// How long a replaced inbound SA lingers (config).
    pub linger: Duration,
    /// Ask the backend to report the first packet on the inbound SA (a rekey responder's cue
    /// to switch, RFC 7296 §2.8).
    pub report_first_use: bool,
    /// Outbound and inbound sequence numbers to install with (non-zero only for an SA taken
    /// over from an HA snapshot).
    pub sequences: (u64, u64),
    /// The Child SA this one replaces, for one created by a rekey ([RFC 7296 §2.8]).
    ///
    /// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
    pub replaces: Option<ChildSaId>,
    /// The lower of the two nonces of the exchange that created it (empty for a Child SA from
    /// IKE_AUTH): what decides a rekey collision ([RFC 7296 §2.8.1]).
    ///
    /// [RFC 7296 §2.8.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.1
    pub lower_nonce: Vec<u8>,
}

/// The lifecycle of a Child SA.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum ChildState {
    /// Installed and in use.
    Installed,
    /// We are rekeying it.
    Rekeying,
    /// Replaced by a rekey; its inbound SA lingers until `until` for packets in flight
    /// ([RFC 7296 §2.8]).
    ///
    /// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
    Rekeyed {
        /// When the inbound SA is removed.
        until: Instant,
    },
    /// We sent a DELETE for it.
    Deleting,
}

/// Whether the outbound SA carries the policy's traffic.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum Outbound {
    /// Routed: traffic for the policy goes through it.
    Routed,
    /// Installed but not routed: the responder of a rekey waits for the initiator to use the
    /// new inbound SA or delete the old one, at most until `deadline` ([RFC 7296 §2.8]). No
    /// deadline while a rekey collision is undecided ([§2.8.1]) or for the successor of a
    /// Child SA of another IKE SA (reauthentication): only the peer's use of it, or the end
    /// of what it replaces, switches it then.
    ///
    /// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
    /// [§2.8.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.1
    Pending {
        /// When to route it anyway.
        deadline: Option<Instant>,
    },
    /// Removed: the Child SA was replaced, or lost a rekey collision, and never sends again.
    Removed,
}

/// Everything needed to build a [`ChildSa`] after a successful negotiation.
pub(crate) struct NewChild<'a> {
    /// Its handle.
    pub id: ChildSaId,
    /// Its config.
    pub config: &'a ChildConfig,
    /// Its policy slot.
    pub reqid: ReqId,
    /// Our inbound SPI.
    pub spi_in: Spi,
    /// The peer's SPI.
    pub spi_out: Spi,
    /// Tunnel or transport, as negotiated.
    pub mode: Mode,
    /// The negotiated algorithms.
    pub algorithms: ChildAlgorithms,
    /// Its keys.
    pub keys: ChildKeys,
    /// Our side's negotiated selectors.
    pub local_ts: Vec<TrafficSelector>,
    /// The peer's side's negotiated selectors.
    pub remote_ts: Vec<TrafficSelector>,
    /// ESP in UDP.
    pub udp_encap: bool,
    /// Whether we initiated the creating exchange.
    pub initiator: bool,
    /// A random value for the rekey jitter.
    pub jitter_random: u32,
}

impl ChildSa {
    /// A freshly negotiated Child SA, not yet installed.
    pub(crate) fn new(now: Instant, new: NewChild<'_>) -> Self {
        let lifetime = &new.config.lifetime;
        let rekey_at = lifetime.rekey_time.map(|rekey| {
            let jitter = jitter(lifetime.jitter, new.jitter_random);
            now + rekey.saturating_sub(jitter)
        });
        Self {
            id: new.id,
            name: new.config.name.clone(),
            reqid: new.reqid,
            spi_in: new.spi_in,
            spi_out: new.spi_out,
            mode: new.mode,
            algorithms: new.algorithms,
            keys: new.keys,
            local_ts: new.local_ts,
            remote_ts: new.remote_ts,
            udp_encap: new.udp_encap,
            initiator: new.initiator,
            resource: None,
            replay_window: new.config.replay_window,
            lifetime: Lifetime {
                soft: lifetime.soft,
                hard: lifetime.hard,
            },
            state: ChildState::Installed,
            outbound: Outbound::Routed,
            installed_at: now,
            rekey_at,
            expire_at: lifetime.life_time.map(|life| now + life),
            linger: new.config.rekey_linger,
            report_first_use: false,
            sequences: (0, 0),
            replaces: None,
            lower_nonce: Vec::new(),
        }
    }

    /// Restores a Child SA from a snapshot, relative to `now`.
    pub(crate) fn from_snapshot(
        now: Instant,
        id: ChildSaId,
        snapshot: &ChildSaSnapshot,
        linger: Duration,
        switch: Duration,
    ) -> Self {
        Self {
            id,
            name: snapshot.name.clone(),
            reqid: snapshot.reqid,
            spi_in: snapshot.spi_in,
            spi_out: snapshot.spi_out,
            mode: snapshot.mode,
            algorithms: snapshot.algorithms,
            keys: snapshot.keys.clone(),
            local_ts: snapshot.local_ts.clone(),
            remote_ts: snapshot.remote_ts.clone(),
            udp_encap: snapshot.udp_encap,
            initiator: snapshot.initiator,
            resource: snapshot.resource,
            replay_window: snapshot.replay_window,
            lifetime: snapshot.lifetime,
            state: ChildState::Installed,
            outbound: if snapshot.outbound_routed {
                Outbound::Routed
            } else {
                Outbound::Pending {
                    deadline: Some(now + switch),
                }
            },
            installed_at: now.checked_sub(snapshot.age).unwrap_or(now),
            rekey_at: snapshot.rekey_in.map(|d| now + d),
            expire_at: snapshot.expire_in.map(|d| now + d),
            linger,
            report_first_use: false,
            sequences: (snapshot.outbound_sequence, snapshot.inbound_sequence),
            replaces: None,
            lower_nonce: Vec::new(),
        }
    }

    /// Emits the commands that install it: inbound SA first, then outbound SA, policy and
    /// route. `route` is false for the responder of a rekey, which routes later.
    pub(crate) fn install(&self, out: &mut OutputQueue, local: SocketAddr, remote: SocketAddr) {
        let sequences = self.sequences;
        out.sa(SaCommand::AddSa(Box::new(self.spec(
            Direction::Inbound,
            local,
            remote,
            sequences.1,
        ))));
        out.sa(SaCommand::AddSa(Box::new(self.spec(
            Direction::Outbound,
            local,
            remote,
            sequences.0,
        ))));
        out.sa(SaCommand::AddPolicy(PolicySpec {
            reqid: self.reqid,
            local_ts: self.local_ts.clone(),
            remote_ts: self.remote_ts.clone(),
            mode: self.mode,
        }));
        if self.outbound == Outbound::Routed {
            self.route(out);
        }
    }

    /// Routes the policy's traffic through the outbound SA.
    pub(crate) fn route(&self, out: &mut OutputQueue) {
        out.sa(SaCommand::RouteOutbound {
            reqid: self.reqid,
            resource: self.resource,
            spi: self.spi_out,
        });
    }

    /// Retires it: its outbound SA goes (if it still has one) and its inbound SA lingers until
    /// `now` plus the linger for packets in flight ([RFC 7296 §2.8]); no rekey or expiry runs
    /// for it any more.
    ///
    /// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
    pub(crate) fn retire(&mut self, out: &mut OutputQueue, now: Instant) {
        if !matches!(self.state, ChildState::Rekeyed { .. }) {
            self.state = ChildState::Rekeyed {
                until: now + self.linger,
            };
        }
        self.rekey_at = None;
        self.expire_at = None;
        if self.outbound != Outbound::Removed {
            self.outbound = Outbound::Removed;
            out.sa(SaCommand::DeleteSa {
                spi: self.spi_out,
                direction: Direction::Outbound,
            });
        }
    }

    /// Emits the commands that remove both SAs and, with `policy`, the policy.
    pub(crate) fn uninstall(&self, out: &mut OutputQueue, policy: bool) {
        if self.outbound != Outbound::Removed {
            out.sa(SaCommand::DeleteSa {
                spi: self.spi_out,
                direction: Direction::Outbound,
            });
        }
        out.sa(SaCommand::DeleteSa {
            spi: self.spi_in,
            direction: Direction::Inbound,
        });
        if policy {
            out.sa(SaCommand::DeletePolicy { reqid: self.reqid });
        }
    }

    /// The earliest of its timers.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let linger = match self.state {
            ChildState::Rekeyed { until } => Some(until),
            _ => None,
        };
        let switch = match (self.state, self.outbound) {
            (ChildState::Installed, Outbound::Pending { deadline }) => deadline,
            _ => None,
        };
        let rekey = match self.state {
            ChildState::Installed => self.rekey_at,
            _ => None,
        };
        [rekey, self.expire_at, linger, switch]
            .into_iter()
            .flatten()
            .min()
    }

    /// A view for the control plane.
    pub(crate) fn info(&self, ike: crate::ids::IkeSaId) -> ChildSaInfo<'_> {
        ChildSaInfo {
            id: self.id,
            ike,
            name: &self.name,
            reqid: self.reqid,
            state: match (self.state, self.outbound) {
                (ChildState::Rekeyed { .. }, _) => ChildSaState::Rekeyed,
                (ChildState::Deleting, _) => ChildSaState::Deleting,
                (ChildState::Rekeying, _) => ChildSaState::Rekeying,
                (ChildState::Installed, Outbound::Pending { .. }) => ChildSaState::OutboundPending,
                (ChildState::Installed, Outbound::Routed | Outbound::Removed) => {
                    ChildSaState::Installed
                }
            },
            spi_in: self.spi_in,
            spi_out: self.spi_out,
            mode: self.mode,
            algorithms: self.algorithms,
            local_ts: &self.local_ts,
            remote_ts: &self.remote_ts,
            udp_encap: self.udp_encap,
            initiator: self.initiator,
            resource: self.resource,
            installed_at: self.installed_at,
            rekey_at: self.rekey_at,
            expire_at: self.expire_at,
        }
    }

    /// A snapshot for HA, relative to `now`.
    pub(crate) fn snapshot(&self, now: Instant) -> ChildSaSnapshot {
        ChildSaSnapshot {
            name: self.name.clone(),
            reqid: self.reqid,
            spi_in: self.spi_in,
            spi_out: self.spi_out,
            mode: self.mode,
            algorithms: self.algorithms,
            keys: self.keys.clone(),
            local_ts: self.local_ts.clone(),
            remote_ts: self.remote_ts.clone(),
            udp_encap: self.udp_encap,
            initiator: self.initiator,
            resource: self.resource,
            replay_window: self.replay_window,
            lifetime: self.lifetime,
            outbound_routed: self.outbound == Outbound::Routed,
            age: now.saturating_duration_since(self.installed_at),
            rekey_in: self.rekey_at.map(|at| at.saturating_duration_since(now)),
            expire_in: self.expire_at.map(|at| at.saturating_duration_since(now)),
            outbound_sequence: self.sequences.0,
            inbound_sequence: self.sequences.1,
        }
    }

    fn spec(
        &self,
        direction: Direction,
        local: SocketAddr,
        remote: SocketAddr,
        initial_sequence: u64,
    ) -> SaSpec {
        let (spi, encr_key, integ_key) = match direction {
            Direction::Inbound => (self.spi_in, &self.keys.encr_in, &self.keys.integ_in),
            Direction::Outbound => (self.spi_out, &self.keys.encr_out, &self.keys.integ_out),
        };
        SaSpec {
            spi,
            direction,
            reqid: self.reqid,
            resource: self.resource,
            local,
            remote,
            udp_encap: self.udp_encap,
            mode: self.mode,
            algorithms: self.algorithms.esp,
            encr_key: encr_key.clone(),
            integ_key: integ_key.clone(),
            replay_window: match direction {
                Direction::Inbound => self.replay_window,
                Direction::Outbound => 0,
            },
            lifetime: self.lifetime,
            initial_sequence,
            report_first_use: direction == Direction::Inbound && self.report_first_use,
            local_ts: self.local_ts.clone(),
            remote_ts: self.remote_ts.clone(),
        }
    }
}

/// Derives the four keys of a Child SA ([RFC 7296 §2.17]): `KEYMAT = prf+(SK_d, [g^ir |] Ni |
/// Nr)`, taken as encryption then integrity key for the initiator-to-responder SA, then the
/// same for the other direction. `we_initiated` says which of the two is our outbound SA.
///
/// [RFC 7296 §2.17]: https://www.rfc-editor.org/rfc/rfc7296#section-2.17
pub(crate) fn derive_keys(
    crypto: &CryptoProvider,
    prf: &dyn Prf,
    sk_d: &SecretBytes,
    shared: &[u8],
    nonce_i: &[u8],
    nonce_r: &[u8],
    algorithms: &ChildAlgorithms,
    we_initiated: bool,
) -> Result<ChildKeys, CryptoError> {
    let (encr_len, integ_len) = esp_key_lengths(crypto, algorithms)?;
    let mut keymat = derive::child_keymat(
        prf,
        sk_d,
        shared,
        nonce_i,
        nonce_r,
        2 * (encr_len + integ_len),
    )?;
    let mut take = |len| keymat.take_prefix(len).ok_or(CryptoError::InvalidLength);
    let encr_ir = take(encr_len)?;
    let integ_ir = take(integ_len)?;
    let encr_ri = take(encr_len)?;
    let integ_ri = take(integ_len)?;
    Ok(if we_initiated {
        ChildKeys {
            encr_in: encr_ri,
            integ_in: integ_ri,
            encr_out: encr_ir,
            integ_out: integ_ir,
        }
    } else {
        ChildKeys {
            encr_in: encr_ir,
            integ_in: integ_ir,
            encr_out: encr_ri,
            integ_out: integ_ri,
        }
    })
}

/// Encryption (with AEAD salt) and integrity key lengths of an ESP SA.
fn esp_key_lengths(
    crypto: &CryptoProvider,
    algorithms: &ChildAlgorithms,
) -> Result<(usize, usize), CryptoError> {
    let esp = &algorithms.esp;
    if let Some(aead) = crypto.aead(esp.encr, esp.encr_key_bits) {
        return Ok((aead.key_len() + aead.salt_len(), 0));
    }
    let cipher = crypto
        .cipher(esp.encr, esp.encr_key_bits)
        .ok_or(CryptoError::Library)?;
    if esp.integ == IntegId::NONE {
        return Err(CryptoError::Library);
    }
    let integ = crypto.integ(esp.integ).ok_or(CryptoError::Library)?;
    Ok((cipher.key_len(), integ.key_len()))
}

/// Up to `max` less, chosen by `random`.
pub(crate) fn jitter(max: Duration, random: u32) -> Duration {
    let millis = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        return Duration::ZERO;
    }
    Duration::from_millis(u64::from(random) % (millis + 1))
}
