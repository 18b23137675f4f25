//! Rekeying the IKE SA with CREATE_CHILD_SA ([RFC 7296 §1.3.2], [§2.18]): new SPIs, a new key
//! exchange and nonces, keys derived from the old SK_d; the Child SAs move to the new IKE SA,
//! whose message IDs start at zero; the initiator then deletes the old IKE SA.
//!
//! The initiator of the rekey is the original initiator of the new IKE SA (§2.18). Collisions
//! ([§2.8.2]) are answered with TEMPORARY_FAILURE for now and retried after a random delay;
//! issue 8 replaces this with the RFC's nonce comparison.
//!
//! [RFC 7296 §1.3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.2
//! [§2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
//! [§2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2

use std::time::Duration;

use hitless_crypto::KePrivate;
use hitless_crypto::SecretBytes;
use hitless_wire::ike::KePayload;
use hitless_wire::ike::NoncePayload;
use hitless_wire::ike::Payload;
use hitless_wire::ike::Proposal;
use hitless_wire::ike::SaPayload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PayloadType;
use hitless_wire::registry::ProtocolId;
use tracing::info;
use tracing::warn;

use super::Flow;
use super::SaContext;
use super::Task;
use super::ike_init::NONCE_LEN;
use super::ike_init::check_nonce;
use crate::auth::PeerAuthenticated;
use crate::error::Error;
use crate::error::PeerMisbehaved;
use crate::event::Event;
use crate::ids::IkeSaId;
use crate::ike_sa::Established;
use crate::ike_sa::IkeSa;
use crate::ike_sa::IkeSaCore;
use crate::ike_sa::IkeSaState;
use crate::ike_sa::dispatch::error_body;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;
use crate::proposal;
use crate::proposal::IkeAlgorithms;
use crate::tables::random_u32;

/// The initiator of an IKE SA rekey.
pub(crate) struct Initiator {
    new_id: IkeSaId,
    new_spi: u64,
    proposals: Vec<Proposal>,
    ke_method: KeMethod,
    ke: Box<dyn KePrivate>,
    nonce: Vec<u8>,
}

impl Initiator {
    /// Starts the rekey: a new SPI, our proposals, a fresh key exchange with the group in use.
    pub(crate) fn start(cx: &mut SaContext<'_>) -> Result<(Self, Request), Error> {
        let supported = proposal::supported_ike(cx.crypto, &cx.sa.connection.ike_proposals);
        // Prefer the group in use: the peer accepted it before.
        let ke_method = cx
            .sa
            .keys
            .as_ref()
            .map(|k| k.algorithms.key_exchange)
            .or_else(|| {
                supported
                    .first()
                    .and_then(|p| p.key_exchange.first().copied())
            })
            .ok_or(Error::NoProposalChosen)?;
        let new_id = cx.tables.new_ike_id();
        let new_spi = cx.tables.allocate_ike_spi(cx.crypto, new_id)?;
        let proposals = proposal::ike_proposals(&supported, &new_spi.to_be_bytes());
        let exchange = cx
            .crypto
            .key_exchange(ke_method)
            .ok_or(Error::NoProposalChosen)?;
        let ke = exchange.start(cx.crypto.random.as_ref())?;
        let mut nonce = vec![0; NONCE_LEN];
        cx.crypto.fill_random(&mut nonce)?;
        // RFC 7296 §1.3.2: SA, Ni, KEi.
        let mut body = Body::new();
        body.push(Payload::Sa(SaPayload {
            proposals: proposals.clone(),
        }));
        body.push(Payload::Nonce(NoncePayload {
            data: nonce.clone(),
        }));
        body.push(Payload::Ke(KePayload {
            method: ke_method,
            data: ke.public().to_vec(),
        }));
        Ok((
            Self {
                new_id,
                new_spi,
                proposals,
                ke_method,
                ke,
                nonce,
            },
            Request {
                exchange: ExchangeType::CREATE_CHILD_SA,
                body,
            },
        ))
    }

    /// On success the new IKE SA takes over and the old one is deleted; on failure the old one
    /// stays and retries later.
    pub(crate) fn handle_response(
        self,
        cx: &mut SaContext<'_>,
        peer: &PeerAuthenticated,
        response: &Message,
    ) -> Flow {
        let new_spi = self.new_spi;
        match self.finish(cx, peer, response) {
            Ok(()) => Flow::Queue(Task::DeleteIke),
            Err(error) => failed(cx, new_spi, &error),
        }
    }

    /// The response could not even be parsed: the rekey failed.
    pub(crate) fn abort(self, cx: &mut SaContext<'_>, error: &Error) -> Flow {
        failed(cx, self.new_spi, error)
    }

    fn finish(
        self,
        cx: &mut SaContext<'_>,
        peer: &PeerAuthenticated,
        response: &Message,
    ) -> Result<(), Error> {
        if let Some(error) = response.error_notify() {
            return Err(Error::PeerError(error));
        }
        let sa = response.require(PayloadType::SA, Message::sa)?;
        let chosen = proposal::check_response(&self.proposals, &sa.proposals)?;
        let algorithms = chosen
            .ike_algorithms()
            .ok_or(PeerMisbehaved::ProposalNotOffered)?;
        let peer_spi = <[u8; 8]>::try_from(chosen.peer_spi.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| PeerMisbehaved::BadSpiSize)?;
        let ke = response.require(PayloadType::KE, Message::ke)?;
        if ke.method != algorithms.key_exchange || ke.method != self.ke_method {
            return Err(PeerMisbehaved::KeMethodMismatch.into());
        }
        let nonce_r = check_nonce(response)?;
        let shared = self
            .ke
            .complete(&ke.data)
            .map_err(|_| PeerMisbehaved::InvalidKeData)?;
        let spis = (self.new_spi, peer_spi);
        take_over(
            cx,
            self.new_id,
            true,
            spis,
            (&self.nonce, nonce_r),
            (algorithms, &shared),
            peer,
        )
    }
}

/// Our rekey failed: the old IKE SA stays and tries again later.
fn failed(cx: &mut SaContext<'_>, new_spi: u64, error: &Error) -> Flow {
    warn!(%error, "IKE SA rekey failed");
    cx.tables.counters.bump(error.counter());
    cx.tables.ike_spis.remove(&new_spi);
    // RFC 7296 §2.25: retry later, at a random moment.
    let jitter = random_u32(cx.crypto).unwrap_or(0) % 10_000;
    cx.sa.rekey_at = Some(cx.now + RETRY_DELAY + Duration::from_millis(u64::from(jitter)));
    Flow::Continue
}

/// Answers a request to rekey the IKE SA ([RFC 7296 §1.3.2]).
///
/// [RFC 7296 §1.3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.2
pub(crate) fn respond(
    cx: &mut SaContext<'_>,
    peer: &PeerAuthenticated,
    request: &Message,
    busy: bool,
) -> Body {
    let result = (|| {
        if busy || cx.sa.superseded.is_some() {
            // RFC 7296 §2.25 / §2.8.2: not while we rekey or delete it ourselves (interim).
            return Err(Error::TemporaryFailure);
        }
        let sa = request.require(PayloadType::SA, Message::sa)?;
        let ke = request.require(PayloadType::KE, Message::ke)?;
        let nonce_i = check_nonce(request)?.to_vec();
        let supported = proposal::supported_ike(cx.crypto, &cx.sa.connection.ike_proposals);
        let ours = proposal::ike_proposals(&supported, &[]);
        let chosen = proposal::choose(&ours, &sa.proposals, Some(ke.method))
            .ok_or(Error::NoProposalChosen)?;
        let algorithms = chosen.ike_algorithms().ok_or(Error::NoProposalChosen)?;
        if ke.method != algorithms.key_exchange {
            return Err(Error::InvalidKePayload(algorithms.key_exchange));
        }
        let peer_spi = <[u8; 8]>::try_from(chosen.peer_spi.as_slice())
            .map(u64::from_be_bytes)
            .map_err(|_| PeerMisbehaved::BadSpiSize)?;
        let exchange = cx
            .crypto
            .key_exchange(algorithms.key_exchange)
            .ok_or(Error::NoProposalChosen)?;
        let (public, shared) = exchange
            .respond(cx.crypto.random.as_ref(), &ke.data)
            .map_err(|_| PeerMisbehaved::InvalidKeData)?;
        let mut nonce_r = vec![0; NONCE_LEN];
        cx.crypto.fill_random(&mut nonce_r)?;
        let new_id = cx.tables.new_ike_id();
        let our_spi = cx.tables.allocate_ike_spi(cx.crypto, new_id)?;
        if let Err(error) = take_over(
            cx,
            new_id,
            false,
            (peer_spi, our_spi),
            (&nonce_i, &nonce_r),
            (algorithms, &shared),
            peer,
        ) {
            cx.tables.ike_spis.remove(&our_spi);
            return Err(error);
        }
        let mut body = Body::new();
        body.push(Payload::Sa(SaPayload {
            proposals: vec![chosen.to_proposal(ProtocolId::IKE, our_spi.to_be_bytes().to_vec())],
        }));
        body.push(Payload::Nonce(NoncePayload { data: nonce_r }));
        body.push(Payload::Ke(KePayload {
            method: algorithms.key_exchange,
            data: public,
        }));
        Ok(body)
    })();
    result.unwrap_or_else(|error| {
        warn!(%error, "refusing IKE SA rekey");
        cx.tables.counters.bump(error.counter());
        error_body(&error)
    })
}

/// Builds the new IKE SA (§2.18: keys from the old SK_d, `initiator` the rekey's initiator,
/// `spis` = (SPIi, SPIr) of the new SA), moves every Child SA to it, marks the old one
/// superseded, and hands the new one to the endpoint.
fn take_over(
    cx: &mut SaContext<'_>,
    new_id: IkeSaId,
    initiator: bool,
    spis: (u64, u64),
    nonces: (&[u8], &[u8]),
    negotiated: (IkeAlgorithms, &SecretBytes),
    peer: &PeerAuthenticated,
) -> Result<(), Error> {
    let (algorithms, shared) = negotiated;
    let old_keys = cx.sa.keys.as_ref().ok_or(Error::TemporaryFailure)?;
    let keys = old_keys.derive_rekey(
        cx.crypto, algorithms, shared, nonces.0, nonces.1, spis.0, spis.1,
    )?;
    let old = &mut *cx.sa;
    let mut core = IkeSaCore::new(
        cx.now,
        new_id,
        old.connection.clone(),
        initiator,
        old.local,
        old.remote,
        cx.config,
    );
    (core.spi_i, core.spi_r) = spis;
    core.nat = old.nat;
    core.keys = Some(Box::new(keys));
    core.local_id = old.local_id.clone();
    core.rfc6311 = old.rfc6311;
    core.set_established(cx.now, random_u32(cx.crypto).unwrap_or(0));
    // The Child SAs (and their SPIs) now belong to the new IKE SA.
    core.children = std::mem::take(&mut old.children);
    for child in core.children.values() {
        cx.tables.children.insert(child.id, new_id);
        cx.tables.esp_spis.insert(child.spi_in, new_id);
    }
    old.superseded = Some((new_id, cx.now));
    info!(new = %new_id, spis = %core.spis(), "IKE SA rekeyed");
    cx.out.event(Event::IkeSaRekeyed {
        old: old.id,
        new: new_id,
        spis: core.spis(),
    });
    cx.tables.born.push(IkeSa {
        core,
        state: IkeSaState::Established(Box::new(Established::new(peer.clone()))),
    });
    Ok(())
}

/// The least wait before retrying a refused rekey.
const RETRY_DELAY: Duration = Duration::from_secs(5);
