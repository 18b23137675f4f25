//! The [`Endpoint`]: every IKE SA of one daemon, its inputs and its one ordered output queue.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use hitless_crypto::CryptoProvider;
use hitless_sadb::BackendEvent;
use hitless_sadb::SaCommand;

use crate::config::Config;
use crate::error::ApiError;
use crate::error::ErrorCounter;
use crate::event::Event;
use crate::ids::ChildSaId;
use crate::ids::IkeSaId;
use crate::info::IkeSaInfo;
use crate::snapshot::IkeSaSnapshot;

/// All IKE SAs of one daemon: the sans-IO IKEv2 engine. See the [crate] documentation for the
/// driving loop.
pub struct Endpoint {
    config: Arc<Config>,
    crypto: Arc<CryptoProvider>,
    out: VecDeque<Output>,
    counters: Counters,
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
#[derive(Debug)]
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
    /// The address and port to send from; `None` lets the driver choose (port 500).
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

impl Endpoint {
    /// An endpoint with no IKE SA yet. Randomness (SPIs, nonces, key-exchange secrets, jitter)
    /// comes only from `crypto.random`.
    pub fn new(config: Arc<Config>, crypto: Arc<CryptoProvider>) -> Self {
        Self {
            config,
            crypto,
            out: VecDeque::new(),
            counters: Counters::default(),
        }
    }

    /// Performs the config's start actions: initiates every connection that has a Child SA
    /// with [`StartAction::Start`](crate::config::StartAction::Start).
    pub fn start(&mut self, now: Instant) {
        let _ = now;
    }

    /// Handles one datagram received on an IKE port.
    pub fn handle_datagram(&mut self, now: Instant, datagram: Datagram<'_>) {
        let _ = (now, datagram);
        self.counters.bump(ErrorCounter::UnknownSpi);
    }

    /// Acts on every timer that is due at `now` (retransmissions, liveness checks, NAT
    /// keepalives, rekeys, expiries). Calling it early is harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// Handles an event from the SA backend (expiry, first use of an inbound SA, install
    /// failure, acquire).
    pub fn handle_backend_event(&mut self, now: Instant, event: BackendEvent) {
        let _ = (now, event);
    }

    /// Starts a new IKE SA for `connection`, with its first Child SA in IKE_AUTH.
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownConnection`], [`ApiError::NoRemoteAddress`], or
    /// [`ApiError::Crypto`] when the random source fails.
    pub fn initiate(&mut self, now: Instant, connection: &str) -> Result<IkeSaId, ApiError> {
        let _ = now;
        let Some(config) = self.config.connection(connection) else {
            return Err(ApiError::UnknownConnection(connection.to_owned()));
        };
        Err(ApiError::NoRemoteAddress(config.name.clone()))
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
        let _ = (now, child);
        Err(ApiError::UnknownIkeSa(ike))
    }

    /// Rekeys a Child SA ([RFC 7296 §1.3.3]).
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownChildSa`], [`ApiError::WrongState`].
    ///
    /// [RFC 7296 §1.3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.3
    pub fn rekey_child(&mut self, now: Instant, child: ChildSaId) -> Result<(), ApiError> {
        let _ = now;
        Err(ApiError::UnknownChildSa(child))
    }

    /// Rekeys an IKE SA ([RFC 7296 §1.3.2]).
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownIkeSa`], [`ApiError::WrongState`].
    ///
    /// [RFC 7296 §1.3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.2
    pub fn rekey_ike(&mut self, now: Instant, ike: IkeSaId) -> Result<(), ApiError> {
        let _ = now;
        Err(ApiError::UnknownIkeSa(ike))
    }

    /// Deletes a Child SA with an INFORMATIONAL exchange ([RFC 7296 §1.4.1]).
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownChildSa`].
    ///
    /// [RFC 7296 §1.4.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.4.1
    pub fn terminate_child(&mut self, now: Instant, child: ChildSaId) -> Result<(), ApiError> {
        let _ = now;
        Err(ApiError::UnknownChildSa(child))
    }

    /// Deletes an IKE SA and all its Child SAs ([RFC 7296 §1.4.1]).
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownIkeSa`].
    ///
    /// [RFC 7296 §1.4.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.4.1
    pub fn terminate_ike(&mut self, now: Instant, ike: IkeSaId) -> Result<(), ApiError> {
        let _ = now;
        Err(ApiError::UnknownIkeSa(ike))
    }

    /// Replaces the config. Existing SAs keep the settings they were negotiated with; new
    /// ones use the new config.
    pub fn reload(&mut self, now: Instant, config: Arc<Config>) {
        let _ = now;
        self.config = config;
    }

    /// The next thing to do, or `None` when the queue is empty. Drain it after every
    /// `handle_*` call and every command.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// When [`Endpoint::handle_timeout`] should next be called; `None` when no timer is armed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Every IKE SA, in handle order.
    pub fn ike_sas(&self) -> impl Iterator<Item = IkeSaInfo<'_>> {
        std::iter::empty()
    }

    /// One IKE SA.
    pub fn ike_sa(&self, ike: IkeSaId) -> Option<IkeSaInfo<'_>> {
        self.ike_sas().find(|info| info.id == ike)
    }

    /// Counters of rejected input and failed exchanges.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// The crypto provider.
    pub fn crypto(&self) -> &Arc<CryptoProvider> {
        &self.crypto
    }

    /// A copy of an established IKE SA with every key, counter and Child SA, for an HA
    /// standby; remaining durations are computed from `now`. `None` for an unknown IKE SA or
    /// one that is not established.
    pub fn export(&self, now: Instant, ike: IkeSaId) -> Option<IkeSaSnapshot> {
        let _ = (now, ike);
        None
    }

    /// Creates (or replaces) a passive IKE SA from a snapshot: it holds all the state, sends
    /// nothing, installs nothing and arms no timer until [`Endpoint::activate`].
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidSnapshot`] for an unknown connection, unsupported algorithms or an
    /// active IKE SA with the same SPIs.
    pub fn import_passive(&mut self, snapshot: IkeSaSnapshot) -> Result<IkeSaId, ApiError> {
        let _ = snapshot;
        Err(ApiError::InvalidSnapshot("not yet supported"))
    }

    /// Turns the passive IKE SAs that `which` selects active: installs their Child SAs and
    /// arms their timers.
    pub fn activate(&mut self, now: Instant, which: impl Fn(&IkeSaInfo<'_>) -> bool) {
        let _ = (now, which);
    }

    /// Turns the active IKE SAs that `which` selects passive (an HA node that lost its role):
    /// they stop sending at once.
    pub fn deactivate(&mut self, which: impl Fn(&IkeSaInfo<'_>) -> bool) {
        let _ = which;
    }

    /// Forgets an IKE SA without sending anything (an HA standby told the SA is gone).
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownIkeSa`].
    pub fn remove(&mut self, ike: IkeSaId) -> Result<(), ApiError> {
        Err(ApiError::UnknownIkeSa(ike))
    }
}
