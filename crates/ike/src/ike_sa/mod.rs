//! One IKE SA: the data valid in every state ([`IkeSaCore`]) and the state enum
//! ([`IkeSaState`]) whose variants carry exactly the data of that state.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hitless_wire::ike::Flags;
use hitless_wire::ike::Header;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::PayloadType;

use crate::auth::PeerAuthenticated;
use crate::child_sa::ChildSa;
use crate::config::Config;
use crate::config::Connection;
use crate::config::Identity;
use crate::exchange::Initiating;
use crate::exchange::SaContext;
use crate::exchange::Task;
use crate::exchange::ike_auth;
use crate::exchange::ike_init;
use crate::ids::ChildSaId;
use crate::ids::IkeSaId;
use crate::ids::IkeSpis;
use crate::info::IkeSaCounters;
use crate::info::IkeSaInfo;
use crate::info::IkeSaState as PublicState;
use crate::info::NatState;
use crate::info::Rfc6311Support;
use crate::message::Body;
use crate::output::OutputQueue;
use crate::tables::Tables;
use crate::timer::Timer;

pub(crate) mod dispatch;
pub(crate) mod handover;
pub(crate) mod keys;
pub(crate) mod retransmit;
mod teardown;
pub(crate) mod window;

use keys::IkeSaKeys;
use retransmit::Backoff;
use window::Window;

/// One IKE SA.
pub(crate) struct IkeSa {
    /// What every state has.
    pub core: IkeSaCore,
    /// What only the current state has.
    pub state: IkeSaState,
}

/// The data of an IKE SA that is valid in every state.
pub(crate) struct IkeSaCore {
    /// Its handle.
    pub id: IkeSaId,
    /// Its connection (shared with the config it was created under).
    pub connection: Arc<Connection>,
    /// Whether we are the original initiator.
    pub initiator: bool,
    /// The original initiator's SPI.
    pub spi_i: u64,
    /// The original responder's SPI (zero until known).
    pub spi_r: u64,
    /// Our address; its IP is unspecified when the driver chooses the source.
    pub local: SocketAddr,
    /// The peer's address.
    pub remote: SocketAddr,
    /// NAT detection results.
    pub nat: NatState,
    /// Message IDs, retransmission and response cache.
    pub window: Window,
    /// Retransmission schedule.
    pub backoff: Backoff,
    /// Keys, once IKE_SA_INIT completed.
    pub keys: Option<Box<IkeSaKeys>>,
    /// Child SAs.
    pub children: BTreeMap<ChildSaId, Box<ChildSa>>,
    /// Our identity, once IKE_AUTH started.
    pub local_id: Option<Identity>,
    /// When it was created.
    pub created_at: Instant,
    /// When it was established.
    pub established_at: Option<Instant>,
    /// When to rekey it ([RFC 7296 §2.18]).
    ///
    /// [RFC 7296 §2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
    pub rekey_at: Option<Instant>,
    /// When it expires (deleted).
    pub expire_at: Option<Instant>,
    /// The IKE SA that replaced it in a rekey, and when: it finishes what is in flight and
    /// goes away (§2.18).
    pub superseded: Option<(IkeSaId, Instant)>,
    /// When we last received an authentic message from the peer.
    pub last_inbound: Instant,
    /// When we last sent anything to the peer.
    pub last_outbound: Instant,
    /// RFC 6311 extensions both sides announced.
    pub rfc6311: Rfc6311Support,
    /// The peer side of RFC 6311 message-ID sync: the highest counter accepted and the cached
    /// answer for retransmissions.
    pub mid_sync: crate::exchange::mid_sync::PeerSync,
    /// The peer sent INITIAL_CONTACT when authenticating: the endpoint removes the peer's
    /// older IKE SAs ([RFC 7296 §2.4]) and clears the flag.
    ///
    /// [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4
    pub initial_contact: bool,
    /// Message counters.
    pub counters: IkeSaCounters,
}

/// The state of an IKE SA (ARCHITECTURE.md §2.5).
pub(crate) enum IkeSaState {
    /// Initiator: IKE_SA_INIT request in flight.
    InitSent(Box<ike_init::Initiator>),
    /// Initiator: IKE_AUTH request in flight.
    AuthSent(Box<ike_auth::Initiator>),
    /// Responder: IKE_SA_INIT answered, waiting for IKE_AUTH.
    InitReplied(Box<ike_init::Replied>),
    /// Authenticated and usable.
    Established(Box<Established>),
    /// An HA standby copy: holds all state, sends nothing, runs no timer.
    Passive(Box<Established>),
    /// Gone: removed from the endpoint after the current input.
    Dead,
}

/// An established IKE SA's exchange state.
pub(crate) struct Established {
    /// Who the peer proved to be.
    pub peer: PeerAuthenticated,
    /// Work waiting for the window.
    pub tasks: VecDeque<Task>,
    /// The exchange whose request is in flight.
    pub active: Option<Initiating>,
}

/// The parts of the endpoint an IKE SA works with, minus the SA itself.
pub(crate) struct Env<'a> {
    /// The current time.
    pub now: Instant,
    /// The endpoint's config.
    pub config: &'a Config,
    /// The endpoint's connections.
    pub connections: &'a [Arc<Connection>],
    /// Crypto and randomness.
    pub crypto: &'a hitless_crypto::CryptoProvider,
    /// The output queue.
    pub out: &'a mut OutputQueue,
    /// Endpoint-wide tables.
    pub tables: &'a mut Tables,
}

impl Env<'_> {
    /// A context for exchanges on `sa`.
    pub(crate) fn cx<'b>(&'b mut self, sa: &'b mut IkeSaCore) -> SaContext<'b> {
        SaContext {
            now: self.now,
            sa,
            config: self.config,
            connections: self.connections,
            crypto: self.crypto,
            out: &mut *self.out,
            tables: &mut *self.tables,
        }
    }
}

impl Established {
    /// An established IKE SA; only a verified AUTH payload yields the token it needs.
    pub(crate) fn new(peer: PeerAuthenticated) -> Self {
        Self {
            peer,
            tasks: VecDeque::new(),
            active: None,
        }
    }
}

/// How long a superseded IKE SA waits at least for the peer to delete it before going away
/// quietly. It also waits as long as a request is retransmitted ([`Backoff::span`]) after the
/// last message from the peer on it: the peer may not have our answer to its rekey yet, and
/// retransmits the request until it has (RFC 7296 §2.1); an SA gone by then would leave it with
/// nothing to move its Child SAs to.
const SUPERSEDED_LINGER: std::time::Duration = std::time::Duration::from_secs(30);

impl IkeSaCore {
    /// A new IKE SA's core.
    pub(crate) fn new(
        now: Instant,
        id: IkeSaId,
        connection: Arc<Connection>,
        initiator: bool,
        local: SocketAddr,
        remote: SocketAddr,
        config: &Config,
    ) -> Self {
        Self {
            id,
            connection,
            initiator,
            spi_i: 0,
            spi_r: 0,
            local,
            remote,
            nat: NatState::default(),
            window: Window::new(),
            backoff: Backoff::new(&config.retransmit),
            keys: None,
            children: BTreeMap::new(),
            local_id: None,
            created_at: now,
            established_at: None,
            rekey_at: None,
            expire_at: None,
            superseded: None,
            last_inbound: now,
            last_outbound: now,
            rfc6311: Rfc6311Support::default(),
            mid_sync: crate::exchange::mid_sync::PeerSync::default(),
            initial_contact: false,
            counters: IkeSaCounters::default(),
        }
    }

    /// Records that the SA is established at `now` and arms its rekey and expiry
    /// (`random` picks the jitter).
    pub(crate) fn set_established(&mut self, now: Instant, random: u32) {
        self.established_at = Some(now);
        let lifetime = &self.connection.ike_lifetime;
        self.rekey_at = lifetime.rekey_time.map(|rekey| {
            now + rekey.saturating_sub(crate::child_sa::jitter(lifetime.jitter, random))
        });
        self.expire_at = lifetime.life_time.map(|life| now + life);
    }

    /// Our SPI.
    pub(crate) fn our_spi(&self) -> u64 {
        if self.initiator {
            self.spi_i
        } else {
            self.spi_r
        }
    }

    /// Its SPIs.
    pub(crate) fn spis(&self) -> IkeSpis {
        IkeSpis {
            initiator: hitless_sadb::IkeSpi(self.spi_i),
            responder: hitless_sadb::IkeSpi(self.spi_r),
        }
    }

    /// A header for a message we send.
    pub(crate) fn header(&self, exchange: ExchangeType, response: bool, message_id: u32) -> Header {
        Header {
            spi_i: self.spi_i,
            spi_r: self.spi_r,
            next_payload: PayloadType::NONE,
            major_version: 2,
            minor_version: 0,
            exchange,
            flags: Flags {
                initiator: self.initiator,
                version: false,
                response,
            },
            message_id,
            length: 0,
        }
    }

    /// Whether IKE runs over port 4500 with the non-ESP marker (after a NAT float).
    pub(crate) fn nat_t_framing(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        local.port() == crate::nat::NAT_T_PORT || remote.port() == crate::nat::NAT_T_PORT
    }

    /// The local address for a transmit: `None` when we know neither address nor port.
    pub(crate) fn transmit_local(&self, local: SocketAddr) -> Option<SocketAddr> {
        (!local.ip().is_unspecified() || local.port() != 0).then_some(local)
    }

    /// Sends `message` to the peer from our current addresses.
    pub(crate) fn send(&mut self, now: Instant, out: &mut OutputQueue, message: Vec<u8>) {
        self.send_to(now, out, self.local, self.remote, message);
    }

    /// Sends `message` between explicit addresses (a response goes back where its request came
    /// from, RFC 7296 §2.11).
    pub(crate) fn send_to(
        &mut self,
        now: Instant,
        out: &mut OutputQueue,
        local: SocketAddr,
        remote: SocketAddr,
        message: Vec<u8>,
    ) {
        self.last_outbound = now;
        self.counters.messages_out += 1;
        let marker = self.nat_t_framing(local, remote);
        out.transmit(self.transmit_local(local), remote, marker, message);
    }

    /// Encodes (and, after IKE_SA_INIT, encrypts) a message.
    pub(crate) fn encode(
        &self,
        crypto: &hitless_crypto::CryptoProvider,
        header: &Header,
        body: &Body,
    ) -> Result<Vec<u8>, hitless_crypto::CryptoError> {
        match &self.keys {
            Some(keys) if header.exchange != ExchangeType::IKE_SA_INIT => {
                keys.seal(crypto, header, &body.payloads)
            }
            _ => hitless_wire::ike::try_emit_message(header, &body.payloads)
                .map_err(|_| hitless_crypto::CryptoError::InvalidLength),
        }
    }
}

impl IkeSa {
    /// The earliest time anything is due on this SA, `None` when nothing is (a passive SA).
    pub(crate) fn next_deadline(&self, config: &Config) -> Option<Instant> {
        self.timers(config).map(|(_, at)| at).min()
    }

    /// The armed timers with their deadlines.
    pub(crate) fn timers(&self, config: &Config) -> impl Iterator<Item = (Timer, Instant)> {
        let core = &self.core;
        let mut timers: Vec<(Timer, Instant)> = Vec::new();
        if matches!(self.state, IkeSaState::Passive(_) | IkeSaState::Dead) {
            return timers.into_iter();
        }
        if let Some(at) = core.window.deadline() {
            timers.push((Timer::Retransmit, at));
        }
        match &self.state {
            IkeSaState::InitReplied(_) => {
                timers.push((Timer::HalfOpen, core.created_at + config.half_open.timeout));
            }
            IkeSaState::Established(established) => {
                // A superseded SA runs no liveness checks: its successor does.
                let idle = established.active.is_none()
                    && established.tasks.is_empty()
                    && core.superseded.is_none();
                if let (Some(delay), true) = (core.connection.dpd_delay, idle) {
                    timers.push((Timer::Dpd, core.last_inbound + delay));
                }
                match core.superseded {
                    Some((_, at)) => {
                        let linger = core.backoff.span().max(SUPERSEDED_LINGER);
                        timers.push((Timer::Superseded, at.max(core.last_inbound) + linger));
                    }
                    None => {
                        if let Some(at) = core.rekey_at {
                            timers.push((Timer::IkeRekey, at));
                        }
                        if let Some(at) = core.expire_at {
                            timers.push((Timer::IkeExpire, at));
                        }
                    }
                }
                if let Some(at) = core
                    .children
                    .values()
                    .filter_map(|child| child.next_deadline())
                    .min()
                {
                    timers.push((Timer::Child, at));
                }
            }
            _ => {}
        }
        if let (true, Some(interval)) = (core.nat.local_behind_nat, config.nat_keepalive)
            && core.established_at.is_some()
            && core.superseded.is_none()
        {
            timers.push((Timer::NatKeepalive, core.last_outbound + interval));
        }
        timers.into_iter()
    }

    /// Whether it is gone and should be removed.
    pub(crate) fn is_dead(&self) -> bool {
        matches!(self.state, IkeSaState::Dead)
    }

    /// Queues a task and starts it if the window is free. A superseded SA takes only its own
    /// delete, and hands Child SA work to its successor.
    pub(crate) fn queue(&mut self, env: &mut Env<'_>, task: Task) {
        let superseded = self.core.superseded.is_some();
        if superseded && task != Task::DeleteIke && !task.is_child_work() {
            return;
        }
        if task == Task::DeleteIke {
            // Child SA work of a superseded SA goes to its successor (RFC 7296 §2.18); the
            // rest is moot once the IKE SA is being deleted.
            self.forward_child_work(env);
        }
        let IkeSaState::Established(established) = &mut self.state else {
            return;
        };
        if task == Task::DeleteIke {
            established.tasks.clear();
        } else if established.tasks.contains(&task) {
            return;
        }
        established.tasks.push_back(task);
        self.kick(env);
    }

    /// The public state.
    pub(crate) fn public_state(&self) -> PublicState {
        match &self.state {
            IkeSaState::InitSent(_) | IkeSaState::AuthSent(_) | IkeSaState::InitReplied(_) => {
                PublicState::Connecting
            }
            IkeSaState::Established(e) => match &e.active {
                Some(Initiating::IkeDelete(_)) => PublicState::Deleting,
                _ => PublicState::Established,
            },
            IkeSaState::Passive(_) => PublicState::Passive,
            IkeSaState::Dead => PublicState::Deleting,
        }
    }

    /// A view for the control plane.
    pub(crate) fn info(&self) -> IkeSaInfo<'_> {
        let core = &self.core;
        let remote_id = match &self.state {
            IkeSaState::Established(e) | IkeSaState::Passive(e) => Some(e.peer.remote_id()),
            _ => None,
        };
        IkeSaInfo {
            id: core.id,
            connection: &core.connection.name,
            spis: core.spis(),
            initiator: core.initiator,
            state: self.public_state(),
            local: core.local,
            remote: core.remote,
            local_id: core.local_id.as_ref(),
            remote_id,
            algorithms: core.keys.as_ref().map(|k| k.algorithms),
            nat: core.nat,
            established_at: core.established_at,
            rekey_at: core.rekey_at,
            next_request: core.window.next_request_id(),
            next_expected: core.window.next_expected(),
            counters: core.counters,
            rfc6311: core.rfc6311,
            children: core.children.values().map(|c| c.info(core.id)).collect(),
        }
    }
}
