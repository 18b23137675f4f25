//! The [`Endpoint`]: every IKE SA of one daemon, its inputs and its one ordered output queue.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use hitless_crypto::CryptoProvider;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::SaCommand;
use hitless_wire::ike;
use hitless_wire::ike::Flags;
use hitless_wire::ike::Header;
use hitless_wire::ike::ParsedMessage;
use hitless_wire::ike::Payload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use tracing::debug;
use tracing::info;
use tracing::info_span;
use tracing::warn;

use crate::admission::Admission;
use crate::config::Config;
use crate::config::Connection;
use crate::config::StartAction;
use crate::cookie::Cookies;
use crate::error::ApiError;
use crate::error::ErrorCounter;
use crate::event::DeleteReason;
use crate::event::Event;
use crate::event::FailureReason;
use crate::exchange::Task;
use crate::exchange::ike_init;
use crate::half_open::HalfOpenSas;
use crate::ids::ChildSaId;
use crate::ids::IkeSaId;
use crate::ike_sa::Env;
use crate::ike_sa::IkeSa;
use crate::ike_sa::IkeSaCore;
use crate::ike_sa::IkeSaState;
use crate::ike_sa::dispatch::send_request;
use crate::info::IkeSaInfo;
use crate::message::Message;
use crate::message::Request;
use crate::message::notify;
use crate::output::OutputQueue;
use crate::tables::Tables;

/// All IKE SAs of one daemon: the sans-IO IKEv2 engine. See the [crate] documentation for the
/// driving loop.
pub struct Endpoint {
    pub(crate) config: Arc<Config>,
    pub(crate) connections: Vec<Arc<Connection>>,
    pub(crate) crypto: Arc<CryptoProvider>,
    pub(crate) sas: BTreeMap<IkeSaId, IkeSa>,
    /// Responder SAs by the initiator's address and SPI, to recognise retransmitted
    /// IKE_SA_INIT requests (RFC 7296 §2.1).
    pub(crate) half_open: BTreeMap<(SocketAddr, u64), IkeSaId>,
    /// Every SA's next deadline, ordered.
    pub(crate) schedule: BTreeSet<(Instant, IkeSaId)>,
    pub(crate) scheduled: BTreeMap<IkeSaId, Instant>,
    pub(crate) tables: Tables,
    pub(crate) out: OutputQueue,
    pub(crate) invalid_spi_budget: RateLimit,
    /// The COOKIE secrets (RFC 7296 §2.6).
    pub(crate) cookies: Cookies,
    /// Responder SAs waiting for IKE_AUTH, counted for the admission limits (RFC 8019 §4).
    pub(crate) half_open_sas: HalfOpenSas,
}

/// A UDP datagram received on an IKE port.
#[derive(Clone, Copy, Debug)]
pub struct Datagram<'a> {
    /// The address and port it was received on.
    pub local: SocketAddr,
    /// The address and port it came from.
    pub remote: SocketAddr,
    /// The IKE message, without the non-ESP marker of port 4500 (RFC 3948 §2.2).
    pub payload: &'a [u8],
}

/// Something the driver must do, in the order the engine emits them.
#[derive(Clone, Debug)]
pub enum Output {
    /// Send an IKE message (new or retransmitted) or a NAT keepalive.
    Transmit(Transmit),
    /// Apply a command to the SA backend.
    Sa(SaCommand),
    /// Report a lifecycle event (control clients, HA, logs).
    Event(Event),
}

/// A datagram to send.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Transmit {
    /// The address and port to send from. `None`, or an unspecified IP, lets the driver choose
    /// the source address (the port still says which socket: 500 or 4500).
    pub local: Option<SocketAddr>,
    /// Where to send it.
    pub remote: SocketAddr,
    /// Prepend the four-byte non-ESP marker (port 4500 framing, RFC 3948 §2.2).
    pub non_esp_marker: bool,
    /// A NAT keepalive (a single 0xFF byte, RFC 3948 §2.3), not an IKE message.
    pub keepalive: bool,
    /// The IKE message (or the keepalive byte).
    pub payload: Vec<u8>,
}

/// Endpoint-wide counters of rejected input and failed exchanges, by reason.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Counters {
    by_reason: BTreeMap<ErrorCounter, u64>,
}

impl Counters {
    /// The count for `reason`.
    pub fn get(&self, reason: ErrorCounter) -> u64 {
        self.by_reason.get(&reason).copied().unwrap_or(0)
    }

    /// Every non-zero counter, in a stable order.
    pub fn iter(&self) -> impl Iterator<Item = (ErrorCounter, u64)> + '_ {
        self.by_reason.iter().map(|(k, v)| (*k, *v))
    }

    pub(crate) fn bump(&mut self, reason: ErrorCounter) {
        *self.by_reason.entry(reason).or_default() += 1;
    }
}

/// At most `per_second` events per second.
#[derive(Debug, Default)]
pub(crate) struct RateLimit {
    window_start: Option<Instant>,
    used: u32,
}

impl RateLimit {
    fn allow(&mut self, now: Instant, per_second: u32) -> bool {
        match self.window_start {
            Some(start) if now.saturating_duration_since(start) < Duration::from_secs(1) => {}
            _ => {
                self.window_start = Some(now);
                self.used = 0;
            }
        }
        if self.used >= per_second {
            return false;
        }
        self.used += 1;
        true
    }
}

impl Endpoint {
    /// An endpoint with no IKE SA yet. Randomness (SPIs, nonces, key-exchange secrets, jitter)
    /// comes only from `crypto.random`.
    pub fn new(config: Arc<Config>, crypto: Arc<CryptoProvider>) -> Self {
        let connections = config.connections.iter().cloned().map(Arc::new).collect();
        Self {
            config,
            connections,
            crypto,
            sas: BTreeMap::new(),
            half_open: BTreeMap::new(),
            schedule: BTreeSet::new(),
            scheduled: BTreeMap::new(),
            tables: Tables::default(),
            out: OutputQueue::default(),
            invalid_spi_budget: RateLimit::default(),
            cookies: Cookies::default(),
            half_open_sas: HalfOpenSas::default(),
        }
    }

    /// Performs the config's start actions: initiates every connection that has a Child SA
    /// with [`StartAction::Start`] and no IKE SA yet. Failures are logged.
    pub fn start(&mut self, now: Instant) {
        let names: Vec<String> = self
            .connections
            .iter()
            .filter(|c| {
                c.children
                    .iter()
                    .any(|ch| ch.start_action == StartAction::Start)
            })
            .filter(|c| {
                !self
                    .sas
                    .values()
                    .any(|sa| sa.core.connection.name == c.name)
            })
            .map(|c| c.name.clone())
            .collect();
        for name in names {
            if let Err(error) = self.initiate(now, &name) {
                warn!(connection = %name, %error, "cannot start connection");
            }
        }
    }

    /// Handles one datagram received on an IKE port.
    pub fn handle_datagram(&mut self, now: Instant, datagram: Datagram<'_>) {
        let parsed = match ike::parse_message(datagram.payload) {
            Ok(parsed) => parsed,
            Err(error) => {
                // RFC 7296 §2.21: an unauthenticated message that does not parse is dropped.
                debug!(remote = %datagram.remote, %error, "dropping malformed message");
                self.tables.counters.bump(ErrorCounter::Malformed);
                return;
            }
        };
        let header = parsed.header;
        if header.exchange == ExchangeType::IKE_SA_INIT
            && !header.flags.response
            && header.spi_r == 0
        {
            match self.half_open.get(&(datagram.remote, header.spi_i)) {
                Some(&id) => {
                    self.run(now, id, |sa, env| {
                        sa.handle_message(env, &datagram, &parsed)
                    });
                }
                None => self.accept(now, &datagram, &parsed),
            }
            return;
        }
        // RFC 7296 §2.6: our SPI names the SA; the I flag says which SPI is ours.
        let ours = if header.flags.initiator {
            header.spi_r
        } else {
            header.spi_i
        };
        let Some(&id) = self.tables.ike_spis.get(&ours) else {
            self.unknown_spi(now, &datagram, &header);
            return;
        };
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        let core = &sa.core;
        let consistent = header.flags.initiator != core.initiator
            && header.spi_i == core.spi_i
            && (header.spi_r == core.spi_r
                || (core.spi_r == 0 && header.exchange == ExchangeType::IKE_SA_INIT));
        if !consistent {
            self.unknown_spi(now, &datagram, &header);
            return;
        }
        self.run(now, id, |sa, env| {
            sa.handle_message(env, &datagram, &parsed)
        });
        self.initial_contact(now, id);
    }

    /// RFC 7296 §2.4: a peer that authenticates with INITIAL_CONTACT has no other IKE SA with
    /// us; remove the ones we still hold for the same connection and identity, without sending
    /// anything (the peer has forgotten them).
    fn initial_contact(&mut self, now: Instant, id: IkeSaId) {
        let Some(sa) = self.sas.get_mut(&id) else {
            return;
        };
        if !std::mem::take(&mut sa.core.initial_contact) {
            return;
        }
        let connection = sa.core.connection.name.clone();
        let identity = sa.info().remote_id.cloned();
        let stale: Vec<IkeSaId> = self
            .sas
            .values()
            .filter(|other| other.core.id != id && other.core.connection.name == connection)
            .filter(|other| {
                matches!(other.state, IkeSaState::Established(_))
                    && other.info().remote_id.cloned() == identity
            })
            .map(|other| other.core.id)
            .collect();
        for old in stale {
            info!(ike = %old, "peer sent INITIAL_CONTACT; removing its old IKE SA");
            self.run(now, old, |sa, env| {
                sa.close(env, DeleteReason::InitialContact)
            });
        }
    }

    /// Acts on every timer that is due at `now` (retransmissions, liveness checks, NAT
    /// keepalives, Child SA lifetimes). Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, id)) = self.schedule.first() {
            if at > now {
                break;
            }
            self.schedule.remove(&(at, id));
            self.scheduled.remove(&id);
            self.run(now, id, |sa, env| sa.handle_timeout(env));
        }
    }

    /// Handles an event from the SA backend (expiry, first use of an inbound SA, install
    /// failure, acquire).
    pub fn handle_backend_event(&mut self, now: Instant, event: BackendEvent) {
        match event {
            BackendEvent::InstallFailed {
                spi,
                direction,
                reason,
            } => {
                let Some((ike, child)) = self.find_child(spi, direction) else {
                    return;
                };
                warn!(%spi, ?direction, %reason, "backend could not install SA");
                self.tables.counters.bump(ErrorCounter::Backend);
                self.run(now, ike, |sa, env| {
                    if let Some(c) = sa.core.children.get(&child) {
                        env.out.event(Event::ChildSaFailed {
                            ike,
                            name: c.name.clone(),
                            reason: FailureReason::Backend(reason),
                        });
                    }
                    sa.queue(env, Task::DeleteChild(child));
                });
            }
            BackendEvent::Expire {
                spi,
                direction,
                hard,
                reason,
            } => {
                let Some((ike, child)) = self.find_child(spi, direction) else {
                    return;
                };
                if hard {
                    info!(%spi, ?reason, "Child SA reached a hard limit");
                    self.run(now, ike, |sa, env| sa.queue(env, Task::ExpireChild(child)));
                } else {
                    debug!(%spi, ?reason, "Child SA reached a soft limit; rekeying");
                    self.run(now, ike, |sa, env| sa.queue(env, Task::RekeyChild(child)));
                }
            }
            BackendEvent::InboundSaUsed { spi } => {
                // RFC 7296 §2.8: the initiator of a rekey uses the new SA: switch outbound.
                let Some((ike, child)) = self.find_child(spi, Direction::Inbound) else {
                    return;
                };
                self.run(now, ike, |sa, env| {
                    sa.core.switch_outbound(env.out, env.now, child);
                });
            }
            BackendEvent::Acquire { reqid, resource } => {
                debug!(
                    ?reqid,
                    ?resource,
                    "acquire (trap policies not yet implemented)"
                );
            }
            BackendEvent::SequenceCheckpoint { .. } => {}
        }
    }

    /// Starts a new IKE SA for `connection`, with its first Child SA in IKE_AUTH.
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownConnection`], [`ApiError::NoRemoteAddress`],
    /// [`ApiError::NoUsableProposal`], or [`ApiError::Crypto`] when the random source fails.
    pub fn initiate(&mut self, now: Instant, connection: &str) -> Result<IkeSaId, ApiError> {
        let Some(connection) = self
            .connections
            .iter()
            .find(|c| c.name == connection)
            .cloned()
        else {
            return Err(ApiError::UnknownConnection(connection.to_owned()));
        };
        let Some(&remote_ip) = connection.remote_addrs.first() else {
            return Err(ApiError::NoRemoteAddress(connection.name.clone()));
        };
        let remote = SocketAddr::new(remote_ip, connection.remote_port);
        let local_ip = connection
            .local_addrs
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == remote_ip.is_ipv4())
            .unwrap_or(match remote_ip {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            });
        let local = SocketAddr::new(local_ip, connection.local_port);
        let id = self.tables.new_ike_id();
        let mut core = IkeSaCore::new(now, id, connection, true, local, remote, &self.config);
        core.spi_i = self
            .tables
            .allocate_ike_spi(&self.crypto, id)
            .map_err(ApiError::Crypto)?;
        let mut env = Env {
            now,
            config: &self.config,
            connections: &self.connections,
            crypto: &self.crypto,
            out: &mut self.out,
            tables: &mut self.tables,
        };
        let span =
            info_span!("ike_sa", id = %id, connection = %core.connection.name, peer = %remote);
        let _entered = span.enter();
        let started = ike_init::Initiator::start(&env.cx(&mut core)).and_then(|(init, body)| {
            let request = Request {
                exchange: ExchangeType::IKE_SA_INIT,
                body,
            };
            send_request(&mut core, &mut env, request).map(|bytes| (init, bytes))
        });
        let (mut init, bytes) = match started {
            Ok(started) => started,
            Err(error) => {
                self.tables.ike_spis.remove(&core.spi_i);
                return Err(match error {
                    crate::error::Error::Crypto(e) => ApiError::Crypto(e),
                    _ => ApiError::NoUsableProposal(core.connection.name.clone()),
                });
            }
        };
        init.set_request(bytes);
        info!(remote = %remote, "initiating IKE SA");
        drop(_entered);
        self.sas.insert(
            id,
            IkeSa {
                core,
                state: IkeSaState::InitSent(Box::new(init)),
            },
        );
        self.reschedule(id);
        Ok(id)
    }

    /// Creates an additional Child SA from config `child` on an established IKE SA
    /// (CREATE_CHILD_SA, [RFC 7296 §1.3.1]).
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownIkeSa`], [`ApiError::UnknownChild`], [`ApiError::WrongState`].
    ///
    /// [RFC 7296 §1.3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.1
    pub fn create_child(
        &mut self,
        now: Instant,
        ike: IkeSaId,
        child: &str,
    ) -> Result<(), ApiError> {
        let sa = self.sas.get(&ike).ok_or(ApiError::UnknownIkeSa(ike))?;
        if sa.core.connection.child(child).is_none() {
            return Err(ApiError::UnknownChild(child.to_owned()));
        }
        if !matches!(sa.state, IkeSaState::Established(_)) {
            return Err(ApiError::WrongState(ike));
        }
        let task = Task::CreateChild(child.to_owned());
        self.run(now, ike, |sa, env| sa.queue(env, task));
        Ok(())
    }

    /// Rekeys a Child SA ([RFC 7296 §1.3.3]) without loss (§2.8).
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownChildSa`].
    ///
    /// [RFC 7296 §1.3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.3
    pub fn rekey_child(&mut self, now: Instant, child: ChildSaId) -> Result<(), ApiError> {
        let ike = *self
            .tables
            .children
            .get(&child)
            .ok_or(ApiError::UnknownChildSa(child))?;
        self.run(now, ike, |sa, env| sa.queue(env, Task::RekeyChild(child)));
        Ok(())
    }

    /// Rekeys an IKE SA ([RFC 7296 §1.3.2]): its Child SAs move to the new one, reported by
    /// [`Event::IkeSaRekeyed`].
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownIkeSa`], [`ApiError::WrongState`] if it is not established.
    ///
    /// [RFC 7296 §1.3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.2
    pub fn rekey_ike(&mut self, now: Instant, ike: IkeSaId) -> Result<(), ApiError> {
        let sa = self.sas.get(&ike).ok_or(ApiError::UnknownIkeSa(ike))?;
        if !matches!(sa.state, IkeSaState::Established(_)) || sa.core.superseded.is_some() {
            return Err(ApiError::WrongState(ike));
        }
        self.run(now, ike, |sa, env| sa.queue(env, Task::RekeyIke));
        Ok(())
    }

    /// Deletes a Child SA with an INFORMATIONAL exchange ([RFC 7296 §1.4.1]).
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownChildSa`].
    ///
    /// [RFC 7296 §1.4.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.4.1
    pub fn terminate_child(&mut self, now: Instant, child: ChildSaId) -> Result<(), ApiError> {
        let ike = *self
            .tables
            .children
            .get(&child)
            .ok_or(ApiError::UnknownChildSa(child))?;
        self.run(now, ike, |sa, env| sa.queue(env, Task::DeleteChild(child)));
        Ok(())
    }

    /// Deletes an IKE SA and all its Child SAs ([RFC 7296 §1.4.1]). An IKE SA still being set
    /// up is dropped without a message.
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownIkeSa`].
    ///
    /// [RFC 7296 §1.4.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.4.1
    pub fn terminate_ike(&mut self, now: Instant, ike: IkeSaId) -> Result<(), ApiError> {
        let sa = self.sas.get(&ike).ok_or(ApiError::UnknownIkeSa(ike))?;
        match sa.state {
            IkeSaState::Established(_) => {
                self.run(now, ike, |sa, env| sa.queue(env, Task::DeleteIke));
            }
            _ => {
                self.run(now, ike, |sa, env| sa.close(env, DeleteReason::Local));
            }
        }
        Ok(())
    }

    /// Replaces the config. Existing SAs keep the connection settings they were created with;
    /// new ones use the new config.
    pub fn reload(&mut self, now: Instant, config: Arc<Config>) {
        let _ = now;
        self.connections = config.connections.iter().cloned().map(Arc::new).collect();
        self.config = config;
    }

    /// The next thing to do, or `None` when the queue is empty. Drain it after every
    /// `handle_*` call and every command.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop()
    }

    /// When [`Endpoint::handle_timeout`] should next be called; `None` when no timer is armed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.schedule.first().map(|(at, _)| *at)
    }

    /// Every IKE SA, in handle order.
    pub fn ike_sas(&self) -> impl Iterator<Item = IkeSaInfo<'_>> {
        self.sas.values().map(IkeSa::info)
    }

    /// One IKE SA.
    pub fn ike_sa(&self, ike: IkeSaId) -> Option<IkeSaInfo<'_>> {
        self.sas.get(&ike).map(IkeSa::info)
    }

    /// The IKE SA a Child SA belongs to.
    pub fn ike_sa_of(&self, child: ChildSaId) -> Option<IkeSaId> {
        self.tables.children.get(&child).copied()
    }

    /// Counters of rejected input and failed exchanges.
    pub fn counters(&self) -> &Counters {
        &self.tables.counters
    }

    /// The config in use.
    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The crypto provider.
    pub fn crypto(&self) -> &Arc<CryptoProvider> {
        &self.crypto
    }

    /// Runs `f` on SA `id` inside its tracing span, then reschedules or removes it.
    pub(crate) fn run<R>(
        &mut self,
        now: Instant,
        id: IkeSaId,
        f: impl FnOnce(&mut IkeSa, &mut Env<'_>) -> R,
    ) -> Option<R> {
        let sa = self.sas.get_mut(&id)?;
        let span = info_span!("ike_sa", id = %id, connection = %sa.core.connection.name, peer = %sa.core.remote,
            spi_i = %hitless_sadb::IkeSpi(sa.core.spi_i), spi_r = %hitless_sadb::IkeSpi(sa.core.spi_r));
        let entered = span.enter();
        let mut env = Env {
            now,
            config: &self.config,
            connections: &self.connections,
            crypto: &self.crypto,
            out: &mut self.out,
            tables: &mut self.tables,
        };
        let result = f(sa, &mut env);
        drop(entered);
        self.settle(id);
        Some(result)
    }

    /// Removes SA `id` if it is dead, otherwise updates its place in the schedule; adopts the
    /// IKE SAs a rekey created and moves Child SAs between IKE SAs as recorded.
    pub(crate) fn settle(&mut self, id: IkeSaId) {
        for sa in std::mem::take(&mut self.tables.born) {
            let born = sa.core.id;
            self.sas.insert(born, sa);
            self.reschedule(born);
        }
        // Before an IKE SA that went away is removed: its Child SAs may go elsewhere.
        self.apply_handovers();
        let half_open = self
            .sas
            .get(&id)
            .is_some_and(|sa| matches!(sa.state, IkeSaState::InitReplied(_)));
        if !half_open {
            self.half_open_sas.remove(id);
        }
        let dead = self.sas.get(&id).is_none_or(IkeSa::is_dead);
        if dead {
            if let Some(sa) = self.sas.remove(&id) {
                self.tables.ike_spis.remove(&sa.core.our_spi());
                self.half_open.remove(&(sa.core.remote, sa.core.spi_i));
                self.half_open.retain(|_, v| *v != id);
                for child in sa.core.children.values() {
                    self.tables.remove_child(child.id, child.spi_in);
                }
                self.tables.esp_spis.retain(|_, owner| *owner != id);
                // Forgotten without a close (HA): nothing is left to decide a collision.
                self.tables
                    .provisional
                    .retain(|new, provisional| *new != id && provisional.old != id);
            }
            if let Some(at) = self.scheduled.remove(&id) {
                self.schedule.remove(&(at, id));
            }
            return;
        }
        self.reschedule(id);
    }

    fn reschedule(&mut self, id: IkeSaId) {
        if let Some(at) = self.scheduled.remove(&id) {
            self.schedule.remove(&(at, id));
        }
        let Some(sa) = self.sas.get(&id) else {
            return;
        };
        if let Some(at) = sa.next_deadline(&self.config) {
            self.schedule.insert((at, id));
            self.scheduled.insert(id, at);
        }
    }

    /// A new IKE_SA_INIT request: choose a connection by address and answer it
    /// ([RFC 7296 §1.2]). Errors are answered statelessly.
    ///
    /// [RFC 7296 §1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
    fn accept(&mut self, now: Instant, datagram: &Datagram<'_>, parsed: &ParsedMessage<'_>) {
        let header = parsed.header;
        // RFC 7296 §2.6, RFC 8019 §4: cookies and half-open limits, before any key exchange.
        let Admission::Accept { proven } = self.admit(now, datagram, parsed) else {
            return;
        };
        let connection = self
            .connections
            .iter()
            .find(|c| {
                (c.remote_addrs.is_empty() || c.remote_addrs.contains(&datagram.remote.ip()))
                    && (c.local_addrs.is_empty() || c.local_addrs.contains(&datagram.local.ip()))
            })
            .cloned();
        let Some(connection) = connection else {
            debug!(remote = %datagram.remote, "no connection for this peer");
            self.tables.counters.bump(ErrorCounter::NoProposalChosen);
            self.stateless_error(
                &header,
                datagram,
                NotifyType::NO_PROPOSAL_CHOSEN,
                Vec::new(),
            );
            return;
        };
        let id = self.tables.new_ike_id();
        let mut core = IkeSaCore::new(
            now,
            id,
            connection,
            false,
            datagram.local,
            datagram.remote,
            &self.config,
        );
        core.spi_i = header.spi_i;
        core.spi_r = match self.tables.allocate_ike_spi(&self.crypto, id) {
            Ok(spi) => spi,
            Err(error) => {
                warn!(%error, "cannot allocate an IKE SPI");
                return;
            }
        };
        let span = info_span!("ike_sa", id = %id, connection = %core.connection.name, peer = %core.remote,
            spi_i = %hitless_sadb::IkeSpi(core.spi_i), spi_r = %hitless_sadb::IkeSpi(core.spi_r));
        let entered = span.enter();
        let message = Message {
            header,
            payloads: parsed.payloads.clone(),
        };
        let mut env = Env {
            now,
            config: &self.config,
            connections: &self.connections,
            crypto: &self.crypto,
            out: &mut self.out,
            tables: &mut self.tables,
        };
        let result = ike_init::respond(&mut env.cx(&mut core), &message, datagram);
        let (mut replied, body) = match result {
            Ok(answer) => answer,
            Err(error) => {
                debug!(remote = %datagram.remote, %error, "refusing IKE_SA_INIT");
                self.tables.ike_spis.remove(&core.spi_r);
                self.tables.counters.bump(error.counter());
                if let Some(Payload::Notify(n)) = ike_init::error_notify(&error) {
                    self.stateless_error(&header, datagram, n.notify_type, n.data);
                }
                return;
            }
        };
        let response_header = core.header(ExchangeType::IKE_SA_INIT, true, 0);
        let Ok(bytes) = ike::try_emit_message(&response_header, &body.payloads) else {
            self.tables.ike_spis.remove(&core.spi_r);
            return;
        };
        debug!(
            "> {}",
            ike::summary(&response_header, &body.payloads, false)
        );
        replied.init.response = bytes.clone();
        core.counters.messages_in += 1;
        core.window.response_sent(0, bytes.clone());
        core.send_to(now, &mut self.out, datagram.local, datagram.remote, bytes);
        drop(entered);
        self.half_open.insert((datagram.remote, core.spi_i), id);
        self.half_open_sas.insert(id, datagram.remote.ip(), proven);
        self.sas.insert(
            id,
            IkeSa {
                core,
                state: IkeSaState::InitReplied(Box::new(replied)),
            },
        );
        self.reschedule(id);
    }

    /// An unprotected error response to an IKE_SA_INIT request we keep no state for (RFC 7296
    /// §2.21.1: the responder SPI stays zero).
    pub(crate) fn stateless_error(
        &mut self,
        request: &Header,
        datagram: &Datagram<'_>,
        kind: NotifyType,
        data: Vec<u8>,
    ) {
        let header = Header {
            spi_r: 0,
            next_payload: PayloadType::NONE,
            flags: Flags {
                initiator: false,
                version: false,
                response: true,
            },
            length: 0,
            ..*request
        };
        let payloads = [Payload::Notify(notify(kind, data))];
        let Ok(bytes) = ike::try_emit_message(&header, &payloads) else {
            return;
        };
        let marker = datagram.local.port() == crate::nat::NAT_T_PORT;
        self.out
            .transmit(Some(datagram.local), datagram.remote, marker, bytes);
    }

    /// A message for an IKE SA we do not have ([RFC 7296 §2.21.4]): never answer a response;
    /// answer a request with an unprotected INVALID_IKE_SPI, at most at the configured rate.
    ///
    /// [RFC 7296 §2.21.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.21.4
    fn unknown_spi(&mut self, now: Instant, datagram: &Datagram<'_>, header: &Header) {
        debug!(remote = %datagram.remote, exchange = %header.exchange, "message for unknown IKE SA");
        self.tables.counters.bump(ErrorCounter::UnknownSpi);
        if header.flags.response {
            return;
        }
        if !self
            .invalid_spi_budget
            .allow(now, self.config.invalid_spi_notify_rate)
        {
            self.tables
                .counters
                .bump(ErrorCounter::InvalidSpiRateLimited);
            return;
        }
        let response = Header {
            next_payload: PayloadType::NONE,
            exchange: ExchangeType::INFORMATIONAL,
            flags: Flags {
                initiator: !header.flags.initiator,
                version: false,
                response: true,
            },
            length: 0,
            ..*header
        };
        let payloads = [Payload::Notify(notify(
            NotifyType::INVALID_IKE_SPI,
            Vec::new(),
        ))];
        let Ok(bytes) = ike::try_emit_message(&response, &payloads) else {
            return;
        };
        let marker = datagram.local.port() == crate::nat::NAT_T_PORT;
        self.out
            .transmit(Some(datagram.local), datagram.remote, marker, bytes);
    }

    /// The IKE SA and Child SA an ESP SA belongs to.
    fn find_child(
        &self,
        spi: hitless_sadb::Spi,
        direction: Direction,
    ) -> Option<(IkeSaId, ChildSaId)> {
        match direction {
            Direction::Inbound => {
                let ike = *self.tables.esp_spis.get(&spi)?;
                let sa = self.sas.get(&ike)?;
                let child = sa.core.children.values().find(|c| c.spi_in == spi)?;
                Some((ike, child.id))
            }
            Direction::Outbound => self.sas.values().find_map(|sa| {
                sa.core
                    .children
                    .values()
                    .find(|c| c.spi_out == spi)
                    .map(|c| (sa.core.id, c.id))
            }),
        }
    }
}
