//! Inputs of one IKE SA: messages (requests and responses), timers, and starting queued tasks.
//!
//! A message changes SA state only after it was matched against the window ([RFC 7296 §2.2])
//! and, past IKE_SA_INIT, authenticated by its SK payload ([§3.14]); anything else is counted
//! and dropped.
//!
//! [RFC 7296 §2.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.2
//! [§3.14]: https://www.rfc-editor.org/rfc/rfc7296#section-3.14

use std::mem;

use hitless_sadb::Direction;
use hitless_sadb::SaCommand;
use hitless_wire::ParseError;
use hitless_wire::ParseErrorKind;
use hitless_wire::ike::ParsedMessage;
use hitless_wire::registry::ExchangeType;
use tracing::debug;
use tracing::info;
use tracing::warn;

use super::Env;
use super::IkeSa;
use super::IkeSaCore;
use super::IkeSaState;
use super::keys::OpenError;
use super::window::RequestCheck;
use super::window::RetransmitAction;
use crate::child_sa::ChildState;
use crate::child_sa::Outbound;
use crate::endpoint::Datagram;
use crate::error::Error;
use crate::error::ErrorCounter;
use crate::error::PeerMisbehaved;
use crate::event::DeleteReason;
use crate::event::Event;
use crate::event::FailureReason;
use crate::exchange;
use crate::exchange::Flow;
use crate::exchange::Initiating;
use crate::exchange::Task;
use crate::exchange::ike_auth;
use crate::exchange::ike_init;
use crate::exchange::mid_sync;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;
use crate::tables::random_u32;
use crate::timer::Timer;

/// Why a message could not be decoded.
pub(crate) enum Decode {
    /// Drop it silently (unauthenticated or unexpected); already counted.
    Drop,
    /// Authentic but malformed.
    Malformed(ParseError),
}

impl IkeSa {
    /// Handles one message for this SA. `raw` is the whole message.
    pub(crate) fn handle_message(
        &mut self,
        env: &mut Env<'_>,
        datagram: &Datagram<'_>,
        parsed: &ParsedMessage<'_>,
    ) {
        if matches!(self.state, IkeSaState::Passive(_) | IkeSaState::Dead) {
            env.tables.counters.bump(ErrorCounter::UnexpectedMessage);
            return;
        }
        // RFC 6311: message-ID sync runs at message ID 0, outside the window.
        if self.intercept_mid_sync(env, datagram, parsed) {
            self.kick(env);
            return;
        }
        if parsed.header.flags.response {
            self.handle_response(env, datagram, parsed);
        } else {
            self.handle_request(env, datagram, parsed);
        }
        self.kick(env);
    }

    /// Acts on every timer due at `env.now`.
    pub(crate) fn handle_timeout(&mut self, env: &mut Env<'_>) {
        let due: Vec<Timer> = self
            .timers(env.config)
            .filter(|(_, at)| *at <= env.now)
            .map(|(timer, _)| timer)
            .collect();
        for timer in due {
            if self.is_dead() {
                return;
            }
            match timer {
                Timer::Retransmit => self.retransmit(env),
                Timer::HalfOpen => {
                    debug!("half-open IKE SA timed out");
                    self.fail(env, FailureReason::HalfOpenTimeout);
                }
                Timer::Dpd => self.queue(env, Task::Dpd),
                Timer::NatKeepalive => {
                    let core = &mut self.core;
                    core.last_outbound = env.now;
                    env.out
                        .keepalive(core.transmit_local(core.local), core.remote);
                }
                Timer::Child => self.child_timers(env),
                Timer::IkeRekey => {
                    self.core.rekey_at = None;
                    self.queue(env, Task::RekeyIke);
                }
                Timer::IkeExpire => {
                    info!("IKE SA reached its hard lifetime");
                    self.core.expire_at = None;
                    self.queue(env, Task::DeleteIke);
                }
                Timer::Superseded => self.close(env, DeleteReason::Rekeyed),
            }
        }
        self.kick(env);
    }

    /// Starts the next queued task if the window is free.
    pub(crate) fn kick(&mut self, env: &mut Env<'_>) {
        self.forward_child_work(env);
        if !self.may_start(env) {
            return;
        }
        let Self { core, state } = self;
        if !core.window.can_send() {
            return;
        }
        let IkeSaState::Established(established) = state else {
            return;
        };
        if established.active.is_some() {
            return;
        }
        while let Some(task) = established.tasks.pop_front() {
            let started = task.start(&mut env.cx(core));
            match started {
                Ok(Some((initiating, request))) => {
                    if let Err(error) = send_request(core, env, request) {
                        warn!(%error, "cannot send request");
                        continue;
                    }
                    established.active = Some(initiating);
                    return;
                }
                Ok(None) => {}
                Err(error) => warn!(%error, "cannot start exchange"),
            }
        }
    }

    fn handle_response(
        &mut self,
        env: &mut Env<'_>,
        datagram: &Datagram<'_>,
        parsed: &ParsedMessage<'_>,
    ) {
        let header = parsed.header;
        // RFC 7296 §2.2: a response must match our outstanding request; never answer one.
        if !self.core.window.matches_response(header.message_id)
            || self.core.window.outstanding_exchange() != Some(header.exchange)
        {
            debug!(
                mid = header.message_id,
                "dropping response that matches no request"
            );
            self.drop_message(env, ErrorCounter::UnmatchedResponse);
            return;
        }
        let message = match self.decode(env, parsed) {
            Ok(message) => message,
            Err(Decode::Drop) => return,
            Err(Decode::Malformed(error)) => {
                if let IkeSaState::Established(established) = &mut self.state
                    && let Some(active) = established.active.take()
                {
                    // Authentic but unparseable: the exchange failed, not the IKE SA (a
                    // Child SA rekey keeps the old SA, issue 8).
                    warn!(%error, "malformed response; the exchange failed");
                    env.tables.counters.bump(ErrorCounter::Malformed);
                    self.core.window.response_received();
                    let flow = active.abort(&mut env.cx(&mut self.core), Error::Malformed(error));
                    self.follow(env, flow);
                    return;
                }
                warn!(%error, "malformed response; the IKE SA cannot continue");
                self.fail(env, FailureReason::Protocol(Error::Malformed(error)));
                return;
            }
        };
        self.core.window.response_received();
        self.note_inbound(env, datagram, header.exchange != ExchangeType::IKE_SA_INIT);
        log_message("<", &message);
        mid_sync::count_misplaced(env.tables, &message);
        let state = mem::replace(&mut self.state, IkeSaState::Dead);
        self.state = match state {
            IkeSaState::InitSent(init) => self.on_init_response(env, *init, &message, datagram),
            IkeSaState::AuthSent(auth) => self.on_auth_response(env, *auth, &message),
            IkeSaState::Established(mut established) => {
                let flow = match established.active.take() {
                    Some(active) => active.handle_response(
                        &mut env.cx(&mut self.core),
                        &established.peer,
                        &message,
                    ),
                    None => Flow::Continue,
                };
                self.state = IkeSaState::Established(established);
                self.follow(env, flow);
                return;
            }
            other => other,
        };
    }

    fn handle_request(
        &mut self,
        env: &mut Env<'_>,
        datagram: &Datagram<'_>,
        parsed: &ParsedMessage<'_>,
    ) {
        let header = parsed.header;
        match self.core.window.check_request(header.message_id) {
            RequestCheck::OutOfWindow => {
                debug!(
                    mid = header.message_id,
                    "dropping request outside the window"
                );
                self.drop_message(env, ErrorCounter::OutOfWindow);
                return;
            }
            RequestCheck::Retransmit => {
                // RFC 7296 §2.1: answer a retransmitted request from the cache, without
                // processing it again; but only if it is authentic, so that a forged header
                // cannot make us send.
                let authentic = match (&self.state, header.exchange) {
                    (IkeSaState::InitReplied(replied), ExchangeType::IKE_SA_INIT) => {
                        replied.is_retransmit_of(datagram.payload)
                    }
                    (_, ExchangeType::IKE_SA_INIT) => false,
                    _ => self.decode(env, parsed).is_ok(),
                };
                if authentic {
                    // The peer is alive and still waiting for our answer.
                    self.core.last_inbound = env.now;
                }
                if authentic && let Some(cached) = self.core.window.cached_response() {
                    debug!(mid = header.message_id, "retransmitting response");
                    env.tables.counters.bump(ErrorCounter::RetransmittedRequest);
                    let cached = cached.to_vec();
                    self.core
                        .send_to(env.now, env.out, datagram.local, datagram.remote, cached);
                }
                return;
            }
            RequestCheck::New => {}
        }
        let message = match self.decode(env, parsed) {
            Ok(message) => message,
            Err(Decode::Drop) => return,
            Err(Decode::Malformed(error)) => {
                // RFC 7296 §2.21.2: an authenticated but malformed request is answered with
                // the error (INVALID_SYNTAX or UNSUPPORTED_CRITICAL_PAYLOAD).
                warn!(%error, "malformed request");
                env.tables.counters.bump(ErrorCounter::Malformed);
                let body = error_body(&Error::Malformed(error));
                self.respond(env, datagram, header.exchange, header.message_id, &body);
                return;
            }
        };
        self.note_inbound(env, datagram, true);
        log_message("<", &message);
        mid_sync::count_misplaced(env.tables, &message);
        let state = mem::replace(&mut self.state, IkeSaState::Dead);
        match state {
            IkeSaState::InitReplied(replied) if header.exchange == ExchangeType::IKE_AUTH => {
                let outcome = ike_auth::respond(&mut env.cx(&mut self.core), &replied, &message);
                self.respond(
                    env,
                    datagram,
                    header.exchange,
                    header.message_id,
                    &outcome.body,
                );
                match outcome.established {
                    Some(established) => {
                        self.state = IkeSaState::Established(Box::new(established));
                    }
                    None => {
                        self.state = IkeSaState::InitReplied(replied);
                        let reason = outcome.error.unwrap_or(Error::TemporaryFailure);
                        self.fail(env, FailureReason::Protocol(reason));
                    }
                }
            }
            IkeSaState::Established(mut established) => {
                let (body, flow) =
                    exchange::respond(&mut env.cx(&mut self.core), &mut established, &message);
                self.state = IkeSaState::Established(established);
                self.respond(env, datagram, header.exchange, header.message_id, &body);
                self.follow(env, flow);
            }
            other => {
                // RFC 7296 §2.2: e.g. a request while our IKE_AUTH is in flight. Left
                // unanswered; the peer retransmits it.
                debug!(exchange = %header.exchange, "request not allowed in this state");
                env.tables.counters.bump(ErrorCounter::UnexpectedMessage);
                self.state = other;
            }
        }
    }

    fn on_init_response(
        &mut self,
        env: &mut Env<'_>,
        init: ike_init::Initiator,
        message: &Message,
        datagram: &Datagram<'_>,
    ) -> IkeSaState {
        let core = &mut self.core;
        let outcome = init.handle_response(&mut env.cx(core), message, datagram);
        match outcome {
            Ok(ike_init::Outcome::Retry(mut init, body)) => {
                // RFC 7296 §1.2 / §2.6: the new IKE_SA_INIT request reuses message ID 0.
                let header = core.header(ExchangeType::IKE_SA_INIT, false, 0);
                let bytes = match core.encode(env.crypto, &header, &body) {
                    Ok(bytes) => bytes,
                    Err(error) => {
                        self.fail(env, FailureReason::Protocol(Error::Crypto(error)));
                        return IkeSaState::Dead;
                    }
                };
                log_message(
                    ">",
                    &Message {
                        header,
                        payloads: body.payloads,
                    },
                );
                let timeout = core.backoff.timeout(0, random_u32(env.crypto).unwrap_or(0));
                core.window.retry_request(
                    env.now,
                    0,
                    ExchangeType::IKE_SA_INIT,
                    bytes.clone(),
                    timeout,
                );
                init.set_request(bytes.clone());
                core.send(env.now, env.out, bytes);
                IkeSaState::InitSent(Box::new(init))
            }
            Ok(ike_init::Outcome::Done(done)) => {
                let started = ike_auth::Initiator::start(&mut env.cx(core), done);
                match started
                    .and_then(|(auth, request)| send_request(core, env, request).map(|_| auth))
                {
                    Ok(auth) => IkeSaState::AuthSent(Box::new(auth)),
                    Err(error) => {
                        self.state = IkeSaState::Dead;
                        self.fail(env, FailureReason::Protocol(error));
                        IkeSaState::Dead
                    }
                }
            }
            Err(error) => {
                self.fail(env, FailureReason::Protocol(error));
                IkeSaState::Dead
            }
        }
    }

    fn on_auth_response(
        &mut self,
        env: &mut Env<'_>,
        auth: ike_auth::Initiator,
        message: &Message,
    ) -> IkeSaState {
        match auth.handle_response(&mut env.cx(&mut self.core), message) {
            Ok(established) => IkeSaState::Established(Box::new(established)),
            Err(error) => {
                self.fail(env, FailureReason::Protocol(error));
                IkeSaState::Dead
            }
        }
    }

    fn retransmit(&mut self, env: &mut Env<'_>) {
        let random = random_u32(env.crypto).unwrap_or(0);
        let core = &mut self.core;
        match core.window.poll_retransmit(env.now, &core.backoff, random) {
            RetransmitAction::Idle => {}
            RetransmitAction::Resend(bytes) => {
                debug!("retransmitting request");
                core.counters.retransmits += 1;
                core.send(env.now, env.out, bytes);
            }
            RetransmitAction::GiveUp(exchange) => {
                // RFC 7296 §2.4: a peer that does not answer is dead; everything goes.
                env.tables.counters.bump(ErrorCounter::RetransmitLimit);
                warn!(%exchange, "no response after retransmissions; peer is dead");
                let deleting = matches!(
                    &self.state,
                    IkeSaState::Established(e) if matches!(e.active, Some(Initiating::IkeDelete(_)))
                );
                match &self.state {
                    _ if deleting => self.close(env, DeleteReason::Local),
                    IkeSaState::Established(_) => self.close(env, DeleteReason::PeerDead),
                    _ => self.fail(env, FailureReason::PeerUnreachable),
                }
            }
        }
    }

    fn child_timers(&mut self, env: &mut Env<'_>) {
        let now = env.now;
        let due: Vec<_> = self
            .core
            .children
            .values()
            .filter(|c| c.next_deadline().is_some_and(|at| at <= now))
            .map(|c| c.id)
            .collect();
        for id in due {
            let Some(child) = self.core.children.get_mut(&id) else {
                continue;
            };
            if let Outbound::Pending {
                deadline: Some(deadline),
            } = child.outbound
                && deadline <= now
                && child.state == ChildState::Installed
            {
                // RFC 7296 §2.8: the initiator neither used the new SA nor deleted the old one
                // in time; switch anyway.
                self.core.switch_outbound(env.out, now, id);
            }
            let Some(child) = self.core.children.get_mut(&id) else {
                continue;
            };
            if let ChildState::Rekeyed { until } = child.state
                && until <= now
            {
                self.core
                    .remove_child(env.out, env.tables, id, DeleteReason::Rekeyed);
                continue;
            }
            if child.expire_at.is_some_and(|at| at <= now) {
                info!(child = %id, "Child SA reached its hard lifetime");
                child.expire_at = None;
                child.rekey_at = None;
                self.queue(env, Task::ExpireChild(id));
                continue;
            }
            if child.state == ChildState::Installed && child.rekey_at.is_some_and(|at| at <= now) {
                debug!(child = %id, "Child SA rekey due");
                child.rekey_at = None;
                self.queue(env, Task::RekeyChild(id));
            }
        }
    }

    /// Decrypts and parses a message for this SA.
    pub(crate) fn decode(
        &mut self,
        env: &mut Env<'_>,
        parsed: &ParsedMessage<'_>,
    ) -> Result<Message, Decode> {
        let header = parsed.header;
        if header.exchange == ExchangeType::IKE_SA_INIT {
            return Ok(Message {
                header,
                payloads: parsed.payloads.clone(),
            });
        }
        let Some(keys) = &self.core.keys else {
            env.tables.counters.bump(ErrorCounter::UnexpectedMessage);
            self.core.counters.dropped += 1;
            return Err(Decode::Drop);
        };
        if parsed.encrypted.is_none() {
            // RFC 7296 §3.14: every message after IKE_SA_INIT is protected.
            debug!(error = ?PeerMisbehaved::Unprotected, "dropping unprotected message");
            env.tables.counters.bump(ErrorCounter::PeerMisbehaved);
            self.core.counters.dropped += 1;
            return Err(Decode::Drop);
        }
        match keys.open(parsed) {
            Ok(payloads) => Ok(Message { header, payloads }),
            Err(OpenError::Integrity) => {
                debug!("dropping message that failed its integrity check");
                env.tables.counters.bump(ErrorCounter::IntegrityCheckFailed);
                self.core.counters.dropped += 1;
                Err(Decode::Drop)
            }
            Err(OpenError::Malformed(error)) => Err(Decode::Malformed(error)),
        }
    }

    /// Sends our response to request `message_id` back where the request came from (RFC 7296
    /// §2.11) and caches it for retransmissions.
    fn respond(
        &mut self,
        env: &mut Env<'_>,
        datagram: &Datagram<'_>,
        exchange: ExchangeType,
        message_id: u32,
        body: &Body,
    ) {
        let core = &mut self.core;
        let header = core.header(exchange, true, message_id);
        let bytes = match core.encode(env.crypto, &header, body) {
            Ok(bytes) => bytes,
            Err(error) => {
                warn!(%error, "cannot encode response");
                return;
            }
        };
        log_message(
            ">",
            &Message {
                header,
                payloads: body.payloads.clone(),
            },
        );
        core.window.response_sent(message_id, bytes.clone());
        core.send_to(env.now, env.out, datagram.local, datagram.remote, bytes);
        env.out.event(message_ids_event(core));
    }

    /// Records an inbound message and, behind a NAT, follows the peer's address (RFC 7296
    /// §2.23: after an authenticated message from a new address).
    pub(crate) fn note_inbound(
        &mut self,
        env: &mut Env<'_>,
        datagram: &Datagram<'_>,
        authenticated: bool,
    ) {
        let core = &mut self.core;
        core.last_inbound = env.now;
        core.counters.messages_in += 1;
        if !authenticated || !core.nat.any() {
            return;
        }
        let local = if datagram.local.ip().is_unspecified() {
            core.local
        } else {
            datagram.local
        };
        if datagram.remote == core.remote && local == core.local {
            return;
        }
        info!(remote = %datagram.remote, "peer address changed");
        core.remote = datagram.remote;
        core.local = local;
        for child in core.children.values() {
            for (spi, direction) in [
                (child.spi_in, Direction::Inbound),
                (child.spi_out, Direction::Outbound),
            ] {
                env.out.sa(SaCommand::UpdateAddresses {
                    spi,
                    direction,
                    local: core.local,
                    remote: core.remote,
                    udp_encap: child.udp_encap,
                });
            }
        }
        env.out.event(Event::IkeSaAddressesChanged {
            ike: core.id,
            spis: core.spis(),
            local: core.local,
            remote: core.remote,
        });
    }

    /// Does what an exchange step asked for.
    fn follow(&mut self, env: &mut Env<'_>, flow: Flow) {
        match flow {
            Flow::Deleted(reason) => self.close(env, reason),
            Flow::Queue(task) => self.queue(env, task),
            Flow::QueueMany(tasks) => {
                for task in tasks {
                    self.queue(env, task);
                }
            }
            Flow::Continue => {}
        }
    }

    fn drop_message(&mut self, env: &mut Env<'_>, reason: ErrorCounter) {
        env.tables.counters.bump(reason);
        self.core.counters.dropped += 1;
    }
}

/// Sends a request with the next message ID and arms its retransmission.
///
/// # Errors
///
/// [`Error::Crypto`] if encoding failed.
pub(crate) fn send_request(
    core: &mut IkeSaCore,
    env: &mut Env<'_>,
    request: Request,
) -> Result<Vec<u8>, Error> {
    let message_id = core.window.next_request_id();
    let header = core.header(request.exchange, false, message_id);
    let bytes = core.encode(env.crypto, &header, &request.body)?;
    log_message(
        ">",
        &Message {
            header,
            payloads: request.body.payloads,
        },
    );
    let timeout = core.backoff.timeout(0, random_u32(env.crypto).unwrap_or(0));
    core.window
        .request_sent(env.now, request.exchange, bytes.clone(), timeout);
    core.send(env.now, env.out, bytes.clone());
    if request.exchange != ExchangeType::IKE_SA_INIT {
        env.out.event(message_ids_event(core));
    }
    Ok(bytes)
}

/// The body answering a request that failed with `error` (RFC 7296 §2.21).
pub(crate) fn error_body(error: &Error) -> Body {
    let Some(kind) = error.notify() else {
        return Body::new();
    };
    let data = match error {
        Error::Malformed(ParseError {
            kind: ParseErrorKind::UnsupportedCritical(payload),
            ..
        }) => vec![payload.0],
        Error::InvalidKePayload(method) => method.0.to_be_bytes().to_vec(),
        _ => Vec::new(),
    };
    Body::error(kind, data)
}

pub(crate) fn message_ids_event(core: &IkeSaCore) -> Event {
    Event::MessageIdsChanged {
        ike: core.id,
        spis: core.spis(),
        next_request: core.window.next_request_id(),
        next_expected: core.window.next_expected(),
    }
}

/// One debug line per message (STYLE.md §3.4).
pub(crate) fn log_message(direction: &str, message: &Message) {
    if tracing::enabled!(tracing::Level::DEBUG) {
        let summary = hitless_wire::ike::summary(&message.header, &message.payloads, false);
        debug!("{direction} {summary}");
    }
}
