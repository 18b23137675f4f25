//! Rekeying the IKE SA with CREATE_CHILD_SA ([RFC 7296 §1.3.2], [§2.18]): new SPIs, a new key
//! exchange and nonces, keys derived from the old SK_d; the Child SAs move to the new IKE SA,
//! whose message IDs start at zero; the initiator then deletes the old IKE SA, the delete being
//! the last request it sends over it. Child SA work queued on the old IKE SA follows the Child
//! SAs ([`handover`](crate::ike_sa::handover)).
//!
//! The initiator of the rekey is the original initiator of the new IKE SA (§2.18).
//!
//! Simultaneous rekeys ([§2.8.2]) are resolved as for Child SAs ([§2.8.1]):
//!
//! - Each peer answers the other's request as usual, even while its own rekey is in flight. The
//!   Child SAs move to the new IKE SA it created as responder, provisionally: that IKE SA
//!   starts no exchange of its own until the collision is decided.
//! - When its own response arrives, each peer compares the lower nonces of the two exchanges.
//!   The new IKE SA created by the exchange holding the lowest of the four nonces is redundant,
//!   and the peer that initiated that exchange deletes it (over the redundant IKE SA itself);
//!   the other new IKE SA inherits every Child SA, and its initiator deletes the old IKE SA.
//! - If only one peer saw the collision (the other finished its rekey first), the other
//!   answers our request with TEMPORARY_FAILURE, since it is closing the old IKE SA, or deletes
//!   the old IKE SA before our response arrives: either way our rekey is forgotten and the new
//!   IKE SA we created by answering the peer's rekey keeps the Child SAs.
//! - If the peer deletes the provisional IKE SA before our response arrives (it found that one
//!   redundant), the Child SAs go back to the old IKE SA and our rekey takes them on.
//!
//! [RFC 7296 §1.3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.2
//! [§2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
//! [§2.8.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.1
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
use tracing::info_span;
use tracing::warn;

use super::Flow;
use super::SaContext;
use super::Task;
use super::child_rekey::lower_nonce;
use super::ike_init::NONCE_LEN;
use super::ike_init::check_nonce;
use crate::auth::PeerAuthenticated;
use crate::error::Error;
use crate::error::PeerMisbehaved;
use crate::event::Event;
use crate::ids::IkeSaId;
use crate::ike_sa::Env;
use crate::ike_sa::Established;
use crate::ike_sa::IkeSa;
use crate::ike_sa::IkeSaCore;
use crate::ike_sa::IkeSaState;
use crate::ike_sa::dispatch::error_body;
use crate::ike_sa::handover::Handover;
use crate::ike_sa::handover::Provisional;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;
use crate::proposal;
use crate::proposal::IkeAlgorithms;
use crate::tables::Tables;
use crate::tables::random_u32;

/// The initiator of an IKE SA rekey.
pub(crate) struct Initiator {
    new_id: IkeSaId,
    new_spi: u64,
    proposals: Vec<Proposal>,
    ke_method: KeMethod,
    ke: Box<dyn KePrivate>,
    nonce: Vec<u8>,
    /// The peer's rekey of the same IKE SA, which we answered while ours was in flight.
    rival: Option<Rival>,
}

/// The new IKE SA that the peer's crossing rekey created ([RFC 7296 §2.8.2]).
///
/// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
#[derive(Clone, Debug)]
struct Rival {
    /// The new IKE SA (we are its original responder).
    new: IkeSaId,
    /// The lower of that exchange's two nonces.
    lower_nonce: Vec<u8>,
}

/// What an IKE SA is doing when the peer asks to rekey it.
pub(crate) enum Answering<'a> {
    /// Nothing that stands in the way.
    Free,
    /// An exchange that a rekey must not cross ([RFC 7296 §2.25]).
    ///
    /// [RFC 7296 §2.25]: https://www.rfc-editor.org/rfc/rfc7296#section-2.25
    Busy,
    /// Rekeying it too: a simultaneous rekey ([RFC 7296 §2.8.2]).
    ///
    /// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
    Crossing(&'a mut Initiator),
}

/// The new IKE SA's parameters from either side of the exchange.
struct Negotiated<'a> {
    new_id: IkeSaId,
    /// Whether we initiated the exchange (and so are the new SA's original initiator).
    initiator: bool,
    /// (SPIi, SPIr) of the new SA.
    spis: (u64, u64),
    nonce_i: &'a [u8],
    nonce_r: &'a [u8],
    algorithms: IkeAlgorithms,
    shared: &'a SecretBytes,
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
                rival: None,
            },
            Request {
                exchange: ExchangeType::CREATE_CHILD_SA,
                body,
            },
        ))
    }

    /// On success the new IKE SA takes over and the old one is deleted, or, after simultaneous
    /// rekeys, the surviving new IKE SA takes over ([RFC 7296 §2.8.2]); on failure the old one
    /// stays and retries later, unless the peer's crossing rekey replaced it.
    ///
    /// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
    pub(crate) fn handle_response(
        self,
        cx: &mut SaContext<'_>,
        peer: &PeerAuthenticated,
        response: &Message,
    ) -> Flow {
        let new_spi = self.new_spi;
        let rival = self.live_rival(cx);
        match self.finish(cx, peer, response, rival.as_ref()) {
            Ok(flow) => flow,
            Err(error) => failed(cx, new_spi, &error, rival.as_ref()),
        }
    }

    /// The response could not even be parsed: the rekey failed.
    pub(crate) fn abort(self, cx: &mut SaContext<'_>, error: &Error) -> Flow {
        let rival = self.live_rival(cx);
        failed(cx, self.new_spi, error, rival.as_ref())
    }

    /// The old IKE SA `old` goes before our rekey finished: releases our new SPI and returns
    /// the new IKE SA that the peer's crossing rekey created, if it is still undecided: it
    /// survives ([RFC 7296 §2.8.2]).
    ///
    /// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
    pub(crate) fn abandon(self, tables: &mut Tables, old: IkeSaId) -> Option<IkeSaId> {
        tables.ike_spis.remove(&self.new_spi);
        let rival = self.rival?;
        if tables.provisional.get(&rival.new)?.old != old {
            return None;
        }
        tables.provisional.remove(&rival.new);
        Some(rival.new)
    }

    /// The peer's crossing rekey, if the IKE SA it created still waits for the decision (the
    /// peer may have deleted it meanwhile, finding it redundant).
    fn live_rival(&self, cx: &SaContext<'_>) -> Option<Rival> {
        self.rival.clone().filter(|rival| {
            cx.tables
                .provisional
                .get(&rival.new)
                .is_some_and(|p| p.old == cx.sa.id)
        })
    }

    fn finish(
        self,
        cx: &mut SaContext<'_>,
        peer: &PeerAuthenticated,
        response: &Message,
        rival: Option<&Rival>,
    ) -> Result<Flow, Error> {
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
        let core = new_core(
            cx,
            &Negotiated {
                new_id: self.new_id,
                initiator: true,
                spis: (self.new_spi, peer_spi),
                nonce_i: &self.nonce,
                nonce_r,
                algorithms,
                shared: &shared,
            },
        )?;
        let Some(rival) = rival else {
            take_over(cx, core, peer, cx.sa.id);
            return Ok(Flow::Queue(Task::DeleteIke));
        };
        cx.tables.provisional.remove(&rival.new);
        // RFC 7296 §2.8.2: the new IKE SA created with the lowest of the four nonces is
        // redundant and deleted by the node that created it; the other one inherits the
        // Child SAs, and its creator deletes the old IKE SA.
        if lower_nonce(&self.nonce, nonce_r) < rival.lower_nonce.as_slice() {
            info!(redundant = %self.new_id, survivor = %rival.new,
                "simultaneous IKE SA rekeys: the peer's new IKE SA survives");
            discard(cx, core, peer, rival.new);
            // The survivor may start the work it held while the collision was undecided.
            cx.tables
                .handovers
                .push(Handover::new(cx.sa.id, rival.new, cx.now));
            return Ok(Flow::Continue);
        }
        info!(survivor = %self.new_id, redundant = %rival.new,
            "simultaneous IKE SA rekeys: our new IKE SA survives");
        cx.tables
            .handovers
            .push(Handover::new(rival.new, self.new_id, cx.now));
        take_over(cx, core, peer, rival.new);
        Ok(Flow::Queue(Task::DeleteIke))
    }
}

/// Our rekey failed: the old IKE SA stays and tries again later; or, if the peer's crossing
/// rekey created a new IKE SA that we answered, that one survives ([RFC 7296 §2.8.2]: the peer
/// refuses ours with TEMPORARY_FAILURE when it finished its rekey before it saw ours).
///
/// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
fn failed(cx: &mut SaContext<'_>, new_spi: u64, error: &Error, rival: Option<&Rival>) -> Flow {
    cx.tables.counters.bump(error.counter());
    cx.tables.ike_spis.remove(&new_spi);
    if let Some(rival) = rival {
        info!(%error, survivor = %rival.new,
            "IKE SA rekey refused; the peer's crossing rekey replaced the IKE SA");
        cx.tables.provisional.remove(&rival.new);
        cx.tables
            .handovers
            .push(Handover::new(cx.sa.id, rival.new, cx.now));
        return Flow::Continue;
    }
    warn!(%error, "IKE SA rekey failed");
    // RFC 7296 §2.25: retry later, at a random moment.
    let jitter = random_u32(cx.crypto).unwrap_or(0) % 10_000;
    cx.sa.rekey_at = Some(cx.now + RETRY_DELAY + Duration::from_millis(u64::from(jitter)));
    Flow::Continue
}

/// Answers a request to rekey the IKE SA ([RFC 7296 §1.3.2]), also while our own rekey of it
/// is in flight ([§2.8.2]).
///
/// [RFC 7296 §1.3.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.2
/// [§2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
pub(crate) fn respond(
    cx: &mut SaContext<'_>,
    peer: &PeerAuthenticated,
    request: &Message,
    answering: Answering<'_>,
) -> Body {
    let result = (|| {
        let crossing = match answering {
            // RFC 7296 §2.25.
            Answering::Busy => return Err(Error::TemporaryFailure),
            // RFC 7296 §2.8.2: an IKE SA that we rekeyed already is one we are closing.
            _ if cx.sa.superseded.is_some() => return Err(Error::TemporaryFailure),
            Answering::Free => None,
            Answering::Crossing(ours) => Some(ours),
        };
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
        let negotiated = Negotiated {
            new_id,
            initiator: false,
            spis: (peer_spi, our_spi),
            nonce_i: &nonce_i,
            nonce_r: &nonce_r,
            algorithms,
            shared: &shared,
        };
        let core = match new_core(cx, &negotiated) {
            Ok(core) => core,
            Err(error) => {
                cx.tables.ike_spis.remove(&our_spi);
                return Err(error);
            }
        };
        take_over(cx, core, peer, cx.sa.id);
        if let Some(ours) = crossing {
            // RFC 7296 §2.8.2: answered as usual; the nonces decide when our response
            // arrives. Until then the new IKE SA holds the Child SAs but starts nothing.
            info!(new = %new_id, "simultaneous IKE SA rekeys: answered the peer's");
            ours.rival = Some(Rival {
                new: new_id,
                lower_nonce: lower_nonce(&nonce_i, &nonce_r).to_vec(),
            });
            cx.tables.provisional.insert(
                new_id,
                Provisional {
                    old: cx.sa.id,
                    old_spis: cx.sa.spis(),
                },
            );
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

/// The new IKE SA's core: keys from the old SK_d (§2.18), the old SA's addresses, NAT state,
/// identity and extensions; established now, with no Child SA yet.
fn new_core(cx: &SaContext<'_>, new: &Negotiated<'_>) -> Result<IkeSaCore, Error> {
    let old_keys = cx.sa.keys.as_ref().ok_or(Error::TemporaryFailure)?;
    let keys = old_keys.derive_rekey(
        cx.crypto,
        new.algorithms,
        new.shared,
        new.nonce_i,
        new.nonce_r,
        new.spis.0,
        new.spis.1,
    )?;
    let old = &*cx.sa;
    let mut core = IkeSaCore::new(
        cx.now,
        new.new_id,
        old.connection.clone(),
        new.initiator,
        old.local,
        old.remote,
        cx.config,
    );
    (core.spi_i, core.spi_r) = new.spis;
    core.nat = old.nat;
    core.keys = Some(Box::new(keys));
    core.local_id = old.local_id.clone();
    core.rfc6311 = old.rfc6311;
    core.set_established(cx.now, random_u32(cx.crypto).unwrap_or(0));
    Ok(core)
}

/// The new IKE SA `core` replaces the old one: every Child SA the old one still holds moves
/// to it (with its SPIs), the old one is marked superseded, and the endpoint adopts the new
/// one. `replaced` is the IKE SA whose Child SAs it inherits, for the event: the old one, or
/// the redundant new one of simultaneous rekeys that held them meanwhile.
fn take_over(
    cx: &mut SaContext<'_>,
    mut core: IkeSaCore,
    peer: &PeerAuthenticated,
    replaced: IkeSaId,
) {
    let new_id = core.id;
    let old = &mut *cx.sa;
    core.children = std::mem::take(&mut old.children);
    for child in core.children.values() {
        cx.tables.children.insert(child.id, new_id);
        cx.tables.esp_spis.insert(child.spi_in, new_id);
    }
    old.superseded = Some((new_id, cx.now));
    info!(new = %new_id, spis = %core.spis(), "IKE SA rekeyed");
    cx.out.event(Event::IkeSaRekeyed {
        old: replaced,
        new: new_id,
        spis: core.spis(),
    });
    cx.tables.born.push(IkeSa {
        core,
        state: IkeSaState::Established(Box::new(Established::new(peer.clone()))),
    });
}

/// Our new IKE SA `core` lost a simultaneous rekey to `survivor`: it is redundant, and we
/// created it, so we delete it over itself ([RFC 7296 §2.8.2]). It never holds a Child SA.
///
/// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
fn discard(
    cx: &mut SaContext<'_>,
    mut core: IkeSaCore,
    peer: &PeerAuthenticated,
    survivor: IkeSaId,
) {
    core.superseded = Some((survivor, cx.now));
    let span = info_span!("ike_sa", id = %core.id, spis = %core.spis());
    let _entered = span.enter();
    let mut sa = IkeSa {
        core,
        state: IkeSaState::Established(Box::new(Established::new(peer.clone()))),
    };
    let mut env = Env {
        now: cx.now,
        config: cx.config,
        connections: cx.connections,
        crypto: cx.crypto,
        out: &mut *cx.out,
        tables: &mut *cx.tables,
    };
    sa.queue(&mut env, Task::DeleteIke);
    cx.tables.born.push(sa);
}

/// The least wait before retrying a refused rekey.
const RETRY_DELAY: Duration = Duration::from_secs(5);
