//! IKE_SA_INIT ([RFC 7296 §1.2]): proposals ([§3.3]), key exchange and nonces, NAT detection
//! ([§2.23]), the initiator's retry with the group an INVALID_KE_PAYLOAD asks for ([§1.2]) and
//! with a responder's COOKIE ([§2.6]).
//!
//! The responder keeps no state when it answers with an error; the responder side of cookies
//! (demanding one under load) comes with the hardening issue, through the hook in the endpoint.
//!
//! [RFC 7296 §1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
//! [§1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
//! [§2.6]: https://www.rfc-editor.org/rfc/rfc7296#section-2.6
//! [§2.23]: https://www.rfc-editor.org/rfc/rfc7296#section-2.23
//! [§3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-3.3

use hitless_crypto::KePrivate;
use hitless_wire::ike::KePayload;
use hitless_wire::ike::NoncePayload;
use hitless_wire::ike::Payload;
use hitless_wire::ike::Proposal;
use hitless_wire::ike::SaPayload;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use hitless_wire::registry::ProtocolId;
use tracing::debug;

use super::SaContext;
use crate::config::UdpEncap;
use crate::endpoint::Datagram;
use crate::error::Error;
use crate::error::PeerMisbehaved;
use crate::ike_sa::keys::IkeSaKeys;
use crate::info::NatState;
use crate::message::Body;
use crate::message::Message;
use crate::message::notify;
use crate::nat;
use crate::proposal;

/// The initiator's IKE_SA_INIT in flight.
pub(crate) struct Initiator {
    proposals: Vec<Proposal>,
    ke_method: KeMethod,
    ke: Box<dyn KePrivate>,
    nonce: Vec<u8>,
    cookie: Option<Vec<u8>>,
    retries: u8,
    request: Vec<u8>,
}

/// What the initiator does with a response.
pub(crate) enum Outcome {
    /// Send a new IKE_SA_INIT request (COOKIE or INVALID_KE_PAYLOAD).
    Retry(Initiator, Body),
    /// IKE_SA_INIT is complete; the keys are in the SA.
    Done(InitDone),
}

/// What IKE_AUTH needs from IKE_SA_INIT (the signed octets of [RFC 7296 §2.15]).
///
/// [RFC 7296 §2.15]: https://www.rfc-editor.org/rfc/rfc7296#section-2.15
pub(crate) struct InitDone {
    /// The initiator's nonce.
    pub nonce_i: Vec<u8>,
    /// The responder's nonce.
    pub nonce_r: Vec<u8>,
    /// The IKE_SA_INIT request as sent (RealMessage1).
    pub request: Vec<u8>,
    /// The IKE_SA_INIT response as received or sent (RealMessage2).
    pub response: Vec<u8>,
}

/// The responder's half-open IKE SA, waiting for IKE_AUTH.
pub(crate) struct Replied {
    /// Nonces and both messages.
    pub init: InitDone,
}

/// Our nonce length: 32 bytes, at least half the key size of every PRF we offer (§2.10).
pub(crate) const NONCE_LEN: usize = 32;
/// The most retries of IKE_SA_INIT after COOKIE or INVALID_KE_PAYLOAD responses.
const MAX_RETRIES: u8 = 5;

impl Initiator {
    /// Builds the first IKE_SA_INIT request.
    ///
    /// # Errors
    ///
    /// [`Error::NoProposalChosen`] when the provider supports none of the configured
    /// proposals, [`Error::Crypto`] when the random source fails.
    pub(crate) fn start(cx: &SaContext<'_>) -> Result<(Self, Body), Error> {
        let supported = proposal::supported_ike(cx.crypto, &cx.sa.connection.ike_proposals);
        let proposals = proposal::ike_proposals(&supported, &[]);
        let ke_method = supported
            .first()
            .and_then(|p| p.key_exchange.first())
            .copied()
            .ok_or(Error::NoProposalChosen)?;
        let ke = start_ke(cx, ke_method)?;
        let mut nonce = vec![0; NONCE_LEN];
        cx.crypto.fill_random(&mut nonce)?;
        let initiator = Self {
            proposals,
            ke_method,
            ke,
            nonce,
            cookie: None,
            retries: 0,
            request: Vec::new(),
        };
        let body = initiator.body(cx)?;
        Ok((initiator, body))
    }

    /// Records the request as sent (RealMessage1 of the AUTH computation).
    pub(crate) fn set_request(&mut self, request: Vec<u8>) {
        self.request = request;
    }

    /// Handles the IKE_SA_INIT response.
    ///
    /// # Errors
    ///
    /// An error notification from the responder ([`Error::PeerError`]), or a response that
    /// breaks §1.2 / §3.3.6.
    pub(crate) fn handle_response(
        mut self,
        cx: &mut SaContext<'_>,
        response: &Message,
        datagram: &Datagram<'_>,
    ) -> Result<Outcome, Error> {
        if let Some(cookie) = response.notify(NotifyType::COOKIE) {
            // RFC 7296 §2.6: retry with the cookie as the first payload, all else unchanged.
            if cookie.data.is_empty() || cookie.data.len() > 64 {
                return Err(PeerMisbehaved::BadCookie.into());
            }
            self.retry()?;
            debug!("responder demands a cookie; retrying");
            self.cookie = Some(cookie.data.clone());
            let body = self.body(cx)?;
            return Ok(Outcome::Retry(self, body));
        }
        if let Some(invalid_ke) = response.notify(NotifyType::INVALID_KE_PAYLOAD) {
            // RFC 7296 §1.2: retry with the group the responder asks for, if we offered it.
            let Ok(group) = <[u8; 2]>::try_from(invalid_ke.data.as_slice()) else {
                return Err(PeerMisbehaved::BadInvalidKeRequest.into());
            };
            let method = KeMethod(u16::from_be_bytes(group));
            if method == self.ke_method || !proposal::offers_ke(&self.proposals, method) {
                return Err(PeerMisbehaved::BadInvalidKeRequest.into());
            }
            self.retry()?;
            debug!(group = %method, "responder wants another key exchange method; retrying");
            self.ke_method = method;
            self.ke = start_ke(cx, method)?;
            let body = self.body(cx)?;
            return Ok(Outcome::Retry(self, body));
        }
        if let Some(error) = response.error_notify() {
            return Err(Error::PeerError(error));
        }
        let sa = response.require(PayloadType::SA, Message::sa)?;
        let chosen = proposal::check_response(&self.proposals, &sa.proposals)?;
        let algorithms = chosen
            .ike_algorithms()
            .ok_or(PeerMisbehaved::ProposalNotOffered)?;
        let ke = response.require(PayloadType::KE, Message::ke)?;
        if ke.method != algorithms.key_exchange || ke.method != self.ke_method {
            return Err(PeerMisbehaved::KeMethodMismatch.into());
        }
        let nonce_r = check_nonce(response)?.to_vec();
        let spi_r = response.header.spi_r;
        if spi_r == 0 {
            return Err(PeerMisbehaved::MissingPayload(PayloadType::SA).into());
        }
        let shared = self
            .ke
            .complete(&ke.data)
            .map_err(|_| PeerMisbehaved::InvalidKeData)?;
        let sa = &mut *cx.sa;
        sa.spi_r = spi_r;
        let keys = IkeSaKeys::derive(
            cx.crypto,
            algorithms,
            &shared,
            &self.nonce,
            &nonce_r,
            sa.spi_i,
            spi_r,
        )?;
        sa.keys = Some(Box::new(keys));
        // Our NAT_DETECTION_SOURCE_IP hashed the address we sent from; without a configured
        // local address that was the unspecified one.
        let sent_from_unspecified = sa.local.ip().is_unspecified();
        if !datagram.local.ip().is_unspecified() {
            sa.local = datagram.local;
        }
        let detected = nat::check(
            cx.crypto,
            response,
            sa.spi_i,
            spi_r,
            datagram.local,
            datagram.remote,
        )?;
        sa.nat = nat_state(detected, sa.connection.udp_encap);
        if detected.is_some() && sent_from_unspecified {
            // RFC 7296 §2.23: the responder found our source hash wrong and believes we are
            // behind a NAT, so it encapsulates; agree with it, or ESP would travel plain one
            // way and in UDP the other.
            sa.nat.local_behind_nat = true;
        }
        if sa.nat.any() {
            // RFC 7296 §2.23: the initiator moves to port 4500 for IKE_AUTH.
            sa.local = nat::float(sa.local);
            sa.remote = nat::float(sa.remote);
            debug!(
                local = sa.nat.local_behind_nat,
                remote = sa.nat.remote_behind_nat,
                "NAT detected; floating to port 4500"
            );
        }
        Ok(Outcome::Done(InitDone {
            nonce_i: self.nonce,
            nonce_r,
            request: self.request,
            response: datagram.payload.to_vec(),
        }))
    }

    fn retry(&mut self) -> Result<(), Error> {
        self.retries += 1;
        if self.retries > MAX_RETRIES {
            return Err(Error::PeerError(NotifyType::TEMPORARY_FAILURE));
        }
        Ok(())
    }

    fn body(&self, cx: &SaContext<'_>) -> Result<Body, Error> {
        let mut body = Body::new();
        if let Some(cookie) = &self.cookie {
            body.notify(NotifyType::COOKIE, cookie.clone());
        }
        body.push(Payload::Sa(SaPayload {
            proposals: self.proposals.clone(),
        }));
        body.push(Payload::Ke(KePayload {
            method: self.ke_method,
            data: self.ke.public().to_vec(),
        }));
        body.push(Payload::Nonce(NoncePayload {
            data: self.nonce.clone(),
        }));
        let sa = &*cx.sa;
        let force = sa.connection.udp_encap == UdpEncap::Force;
        for n in nat::notifies(cx.crypto, sa.spi_i, 0, sa.local, sa.remote, force)? {
            body.push(Payload::Notify(n));
        }
        Ok(body)
    }
}

impl Replied {
    /// Whether `request` is a retransmission of the IKE_SA_INIT request we answered.
    pub(crate) fn is_retransmit_of(&self, request: &[u8]) -> bool {
        self.init.request == request
    }
}

/// Answers an IKE_SA_INIT request on a fresh responder SA whose SPIs are set. On error the
/// caller sends the error notification from a stateless response and drops the SA.
///
/// # Errors
///
/// [`Error::NoProposalChosen`], [`Error::InvalidKePayload`] or a malformed request.
pub(crate) fn respond(
    cx: &mut SaContext<'_>,
    request: &Message,
    datagram: &Datagram<'_>,
) -> Result<(Replied, Body), Error> {
    let sa_payload = request.require(PayloadType::SA, Message::sa)?;
    let ke = request.require(PayloadType::KE, Message::ke)?;
    let nonce_i = check_nonce(request)?.to_vec();
    let supported = proposal::supported_ike(cx.crypto, &cx.sa.connection.ike_proposals);
    let ours = proposal::ike_proposals(&supported, &[]);
    let chosen = proposal::choose(&ours, &sa_payload.proposals, Some(ke.method))
        .ok_or(Error::NoProposalChosen)?;
    let algorithms = chosen.ike_algorithms().ok_or(Error::NoProposalChosen)?;
    if ke.method != algorithms.key_exchange {
        // RFC 7296 §1.2: tell the initiator which group we selected.
        return Err(Error::InvalidKePayload(algorithms.key_exchange));
    }
    let method = cx
        .crypto
        .key_exchange(algorithms.key_exchange)
        .ok_or(Error::NoProposalChosen)?;
    let (public, shared) = method
        .respond(cx.crypto.random.as_ref(), &ke.data)
        .map_err(|_| PeerMisbehaved::InvalidKeData)?;
    let mut nonce_r = vec![0; NONCE_LEN];
    cx.crypto.fill_random(&mut nonce_r)?;
    let sa = &mut *cx.sa;
    let keys = IkeSaKeys::derive(
        cx.crypto, algorithms, &shared, &nonce_i, &nonce_r, sa.spi_i, sa.spi_r,
    )?;
    sa.keys = Some(Box::new(keys));
    let detected = nat::check(
        cx.crypto,
        request,
        sa.spi_i,
        0,
        datagram.local,
        datagram.remote,
    )?;
    sa.nat = nat_state(detected, sa.connection.udp_encap);
    let mut body = Body::new();
    body.push(Payload::Sa(SaPayload {
        proposals: vec![chosen.to_proposal(ProtocolId::IKE, Vec::new())],
    }));
    body.push(Payload::Ke(KePayload {
        method: algorithms.key_exchange,
        data: public,
    }));
    body.push(Payload::Nonce(NoncePayload {
        data: nonce_r.clone(),
    }));
    if detected.is_some() {
        // RFC 7296 §2.23: answer NAT detection only if the initiator sent it.
        let force = sa.connection.udp_encap == UdpEncap::Force;
        for n in nat::notifies(
            cx.crypto,
            sa.spi_i,
            sa.spi_r,
            datagram.local,
            datagram.remote,
            force,
        )? {
            body.push(Payload::Notify(n));
        }
    }
    Ok((
        Replied {
            init: InitDone {
                nonce_i,
                nonce_r,
                request: datagram.payload.to_vec(),
                response: Vec::new(),
            },
        },
        body,
    ))
}

/// A stateless error response to an IKE_SA_INIT request (§2.21.1: the responder SPI is zero).
pub(crate) fn error_notify(error: &Error) -> Option<Payload> {
    let kind = error.notify()?;
    let data = match error {
        Error::InvalidKePayload(method) => method.0.to_be_bytes().to_vec(),
        _ => Vec::new(),
    };
    Some(Payload::Notify(notify(kind, data)))
}

fn start_ke(cx: &SaContext<'_>, method: KeMethod) -> Result<Box<dyn KePrivate>, Error> {
    let ke = cx
        .crypto
        .key_exchange(method)
        .ok_or(Error::NoProposalChosen)?;
    Ok(ke.start(cx.crypto.random.as_ref())?)
}

/// The nonce, checked against §2.10 (16 to 256 bytes).
pub(crate) fn check_nonce(message: &Message) -> Result<&[u8], Error> {
    let nonce = message.require(PayloadType::NONCE, Message::nonce)?;
    if !(16..=256).contains(&nonce.len()) {
        return Err(PeerMisbehaved::NonceTooShort.into());
    }
    Ok(nonce)
}

/// NAT detection with `encap = Force`: we claimed to be behind a NAT, so we behave as if.
fn nat_state(detected: Option<NatState>, encap: UdpEncap) -> NatState {
    let mut state = detected.unwrap_or_default();
    if encap == UdpEncap::Force && detected.is_some() {
        state.local_behind_nat = true;
    }
    state
}
