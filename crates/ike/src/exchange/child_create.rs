//! Creating a Child SA: with CREATE_CHILD_SA ([RFC 7296 §1.3.1], optional PFS key exchange)
//! and, through the shared [`ChildRequest`] / [`respond_child`], inside IKE_AUTH ([§1.2]).
//! Traffic selectors are narrowed as [§2.9] says; USE_TRANSPORT_MODE selects transport mode.
//!
//! The responder installs the new Child SA (inbound SA first) before its response is queued,
//! so the driver has the SA in place before the initiator can use it.
//!
//! [RFC 7296 §1.3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.1
//! [§1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
//! [§2.9]: https://www.rfc-editor.org/rfc/rfc7296#section-2.9

use hitless_crypto::KePrivate;
use hitless_crypto::SecretBytes;
use hitless_sadb::Mode;
use hitless_sadb::ReqId;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;
use hitless_wire::ike::KePayload;
use hitless_wire::ike::NoncePayload;
use hitless_wire::ike::Payload;
use hitless_wire::ike::Proposal;
use hitless_wire::ike::SaPayload;
use hitless_wire::ike::TsPayload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use hitless_wire::registry::ProtocolId;
use hitless_wire::registry::TransformType;
use tracing::info;
use tracing::warn;

use super::Flow;
use super::SaContext;
use super::Task;
use super::child_rekey;
use super::ike_init::NONCE_LEN;
use super::ike_init::check_nonce;
use crate::child_sa;
use crate::child_sa::ChildSa;
use crate::child_sa::ChildState;
use crate::child_sa::NewChild;
use crate::child_sa::Outbound;
use crate::config::ChildConfig;
use crate::error::Error;
use crate::error::PeerMisbehaved;
use crate::event::Event;
use crate::event::FailureReason;
use crate::ids::ChildSaId;
use crate::ike_sa::dispatch::error_body;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;
use crate::message::notify;
use crate::proposal;
use crate::proposal::ChildAlgorithms;
use crate::tables::random_u32;
use crate::ts;

/// The Child SA a rekey replaces ([RFC 7296 §2.8]): the new one takes its policy slot.
///
/// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
#[derive(Clone, Debug)]
pub(crate) struct Replaces {
    /// The old Child SA.
    pub old: ChildSaId,
    /// Its policy slot.
    pub reqid: ReqId,
    /// Its config name.
    pub name: String,
}

/// Our side of a Child SA we asked for, until the response arrives.
pub(crate) struct ChildRequest {
    config_name: String,
    replaces: Option<Replaces>,
    spi_in: Spi,
    proposals: Vec<Proposal>,
    ts_i: Vec<TrafficSelector>,
    ts_r: Vec<TrafficSelector>,
    transport: bool,
}

/// The nonces (and PFS secret) a Child SA's keys come from ([RFC 7296 §2.17]).
///
/// [RFC 7296 §2.17]: https://www.rfc-editor.org/rfc/rfc7296#section-2.17
pub(crate) struct KeyInput<'a> {
    /// The PFS shared secret, empty without PFS.
    pub shared: &'a [u8],
    /// The exchange initiator's nonce.
    pub nonce_i: &'a [u8],
    /// The exchange responder's nonce.
    pub nonce_r: &'a [u8],
}

/// What the responder agreed to.
struct Accepted {
    algorithms: ChildAlgorithms,
    peer_spi: Spi,
    ts_i: Vec<TrafficSelector>,
    ts_r: Vec<TrafficSelector>,
    mode: Mode,
}

/// The initiator of a CREATE_CHILD_SA for a new Child SA.
pub(crate) struct Initiator {
    request: ChildRequest,
    nonce: Vec<u8>,
    ke: Option<(KeMethod, Box<dyn KePrivate>)>,
}

impl ChildRequest {
    /// Allocates our SPI and builds the SA, TS and mode payloads for the Child SA `config`.
    /// `with_ke` keeps the PFS groups (CREATE_CHILD_SA) or drops them (IKE_AUTH, §1.2).
    pub(crate) fn new(
        cx: &mut SaContext<'_>,
        config: &ChildConfig,
        with_ke: bool,
    ) -> Result<Self, Error> {
        let supported = proposal::supported_esp(cx.crypto, &config.esp_proposals);
        if supported.is_empty() {
            return Err(Error::NoProposalChosen);
        }
        let spi_in = cx.tables.allocate_esp_spi(cx.crypto, cx.sa.id)?;
        Ok(Self {
            config_name: config.name.clone(),
            replaces: None,
            spi_in,
            proposals: proposal::esp_proposals(&supported, spi_in.0, with_ke),
            ts_i: ts::or_host(&config.local_ts, cx.sa.local.ip()),
            ts_r: ts::or_host(&config.remote_ts, cx.sa.remote.ip()),
            transport: config.mode == Mode::Transport,
        })
    }

    /// The request that rekeys `old` (RFC 7296 §2.8): the same selectors and mode, the same
    /// policy slot.
    pub(crate) fn for_rekey(
        cx: &mut SaContext<'_>,
        config: &ChildConfig,
        replaces: Replaces,
        selectors: (Vec<TrafficSelector>, Vec<TrafficSelector>),
        mode: Mode,
    ) -> Result<Self, Error> {
        let mut request = Self::new(cx, config, true)?;
        (request.ts_i, request.ts_r) = selectors;
        request.transport = mode == Mode::Transport;
        request.replaces = Some(replaces);
        Ok(request)
    }

    /// The first KE method of our proposals, for a PFS key exchange.
    pub(crate) fn pfs_method(&self) -> Option<KeMethod> {
        self.proposals
            .iter()
            .flat_map(|p| &p.transforms)
            .find(|t| t.transform_type == TransformType::KE && t.id != KeMethod::NONE.0)
            .map(|t| KeMethod(t.id))
    }

    /// The config name.
    pub(crate) fn name(&self) -> &str {
        &self.config_name
    }

    /// USE_TRANSPORT_MODE if wanted, then the SA payload.
    pub(crate) fn sa_payloads(&self) -> Vec<Payload> {
        let mut payloads = Vec::new();
        if self.transport {
            payloads.push(Payload::Notify(notify(
                NotifyType::USE_TRANSPORT_MODE,
                Vec::new(),
            )));
        }
        payloads.push(Payload::Sa(SaPayload {
            proposals: self.proposals.clone(),
        }));
        payloads
    }

    /// TSi and TSr.
    pub(crate) fn ts_payloads(&self) -> [Payload; 2] {
        [
            Payload::TsI(ts_payload(&self.ts_i)),
            Payload::TsR(ts_payload(&self.ts_r)),
        ]
    }

    /// Gives our SPI back (the Child SA was not created).
    pub(crate) fn abandon(self, cx: &mut SaContext<'_>) {
        cx.tables.esp_spis.remove(&self.spi_in);
    }

    /// Drops the request but keeps our SPI reserved: the peer may have installed an SA for it,
    /// which we ask it to delete first ([`Task::DeleteUnused`]).
    pub(crate) fn keep_spi(self) {}

    /// Our inbound SPI.
    pub(crate) fn spi_in(&self) -> Spi {
        self.spi_in
    }

    /// Checks the responder's answer and installs the Child SA ([RFC 7296 §2.9], §3.3.6).
    ///
    /// # Errors
    ///
    /// The responder's error notification, or an answer we did not ask for.
    ///
    /// [RFC 7296 §2.9]: https://www.rfc-editor.org/rfc/rfc7296#section-2.9
    pub(crate) fn complete(
        self,
        cx: &mut SaContext<'_>,
        response: &Message,
        keys: &KeyInput<'_>,
    ) -> Result<ChildSaId, Box<(Self, Error)>> {
        match self.check(response) {
            Ok(accepted) => install_child(
                cx,
                Negotiated {
                    name: &self.config_name,
                    spi_in: self.spi_in,
                    spi_out: accepted.peer_spi,
                    algorithms: accepted.algorithms,
                    ts: (accepted.ts_i, accepted.ts_r),
                    mode: accepted.mode,
                    initiator: true,
                    replaces: self.replaces.as_ref(),
                },
                keys,
            )
            .map_err(|error| Box::new((self, error))),
            Err(error) => Err(Box::new((self, error))),
        }
    }

    fn check(&self, response: &Message) -> Result<Accepted, Error> {
        if let Some(error) = response.error_notify() {
            return Err(Error::PeerError(error));
        }
        let sa = response.require(PayloadType::SA, Message::sa)?;
        let chosen = proposal::check_response(&self.proposals, &sa.proposals)?;
        let algorithms = chosen
            .child_algorithms()
            .ok_or(PeerMisbehaved::ProposalNotOffered)?;
        let peer_spi = <[u8; 4]>::try_from(chosen.peer_spi.as_slice())
            .map(|b| Spi(u32::from_be_bytes(b)))
            .map_err(|_| PeerMisbehaved::BadSpiSize)?;
        let ts_i = &response.require(PayloadType::TSI, Message::ts_i)?.selectors;
        let ts_r = &response.require(PayloadType::TSR, Message::ts_r)?.selectors;
        // RFC 7296 §2.9: the responder may only narrow.
        if ts_i.is_empty()
            || ts_r.is_empty()
            || !ts::is_subset(ts_i, &self.ts_i)
            || !ts::is_subset(ts_r, &self.ts_r)
        {
            return Err(PeerMisbehaved::TsNotSubset.into());
        }
        let transport = response.has_notify(NotifyType::USE_TRANSPORT_MODE);
        if transport && !self.transport {
            return Err(PeerMisbehaved::ModeMismatch.into());
        }
        if self.transport && !transport {
            // RFC 7296 §1.3.1: the responder declined transport mode; our config requires it.
            return Err(Error::NoProposalChosen);
        }
        let mode = if transport {
            Mode::Transport
        } else {
            Mode::Tunnel
        };
        Ok(Accepted {
            algorithms,
            peer_spi,
            ts_i: ts_i.clone(),
            ts_r: ts_r.clone(),
            mode,
        })
    }
}

impl Initiator {
    /// Starts a CREATE_CHILD_SA for the Child SA config `name`. `Ok(None)` if the connection
    /// has no such config (it was reloaded away).
    pub(crate) fn start(
        cx: &mut SaContext<'_>,
        name: &str,
    ) -> Result<Option<(Self, Request)>, Error> {
        let connection = cx.sa.connection.clone();
        let Some(config) = connection.child(name) else {
            warn!(child = name, "no such Child SA config");
            return Ok(None);
        };
        let request = ChildRequest::new(cx, config, true)?;
        let mut nonce = vec![0; NONCE_LEN];
        cx.crypto.fill_random(&mut nonce)?;
        let ke = match request.pfs_method() {
            Some(method) => {
                let ke = cx
                    .crypto
                    .key_exchange(method)
                    .ok_or(Error::NoProposalChosen)?;
                Some((method, ke.start(cx.crypto.random.as_ref())?))
            }
            None => None,
        };
        // RFC 7296 §1.3.1: SA, Ni, [KEi], TSi, TSr.
        let mut body = Body::new();
        for payload in request.sa_payloads() {
            body.push(payload);
        }
        body.push(Payload::Nonce(NoncePayload {
            data: nonce.clone(),
        }));
        if let Some((method, private)) = &ke {
            body.push(Payload::Ke(KePayload {
                method: *method,
                data: private.public().to_vec(),
            }));
        }
        for payload in request.ts_payloads() {
            body.push(payload);
        }
        Ok(Some((
            Self { request, nonce, ke },
            Request {
                exchange: ExchangeType::CREATE_CHILD_SA,
                body,
            },
        )))
    }

    /// Handles the response: installs the Child SA or reports why not. When the peer answered
    /// without an error but we cannot use the answer, it may have installed the Child SA: it
    /// gets a DELETE for our SPI, so that it does not send on an SA we never installed.
    pub(crate) fn handle_response(self, cx: &mut SaContext<'_>, response: &Message) -> Flow {
        let name = self.request.name().to_owned();
        match self.finish(cx, response) {
            Ok(_) => Flow::Continue,
            Err((error, unused)) => failed(cx, name, error, unused),
        }
    }

    /// The response could not even be parsed: the exchange failed.
    pub(crate) fn abort(self, cx: &mut SaContext<'_>, error: Error) -> Flow {
        let name = self.request.name().to_owned();
        let unused = self.request.spi_in();
        self.request.keep_spi();
        failed(cx, name, error, Some(unused))
    }

    fn finish(
        self,
        cx: &mut SaContext<'_>,
        response: &Message,
    ) -> Result<ChildSaId, (Error, Option<Spi>)> {
        let Self { request, nonce, ke } = self;
        if let Some(error) = response.error_notify() {
            request.abandon(cx);
            return Err((Error::PeerError(error), None));
        }
        let unused = request.spi_in();
        let outcome = (|| {
            let nonce_r = check_nonce(response)?.to_vec();
            let shared = match ke {
                Some((method, private)) => {
                    let payload = response.require(PayloadType::KE, Message::ke)?;
                    if payload.method != method {
                        return Err(PeerMisbehaved::KeMethodMismatch.into());
                    }
                    private
                        .complete(&payload.data)
                        .map_err(|_| PeerMisbehaved::InvalidKeData)?
                }
                None => SecretBytes::default(),
            };
            Ok((nonce_r, shared))
        })();
        let (nonce_r, shared) = match outcome {
            Ok(values) => values,
            Err(error) => {
                request.keep_spi();
                return Err((error, Some(unused)));
            }
        };
        let keys = KeyInput {
            shared: shared.expose(),
            nonce_i: &nonce,
            nonce_r: &nonce_r,
        };
        request.complete(cx, response, &keys).map_err(|failed| {
            let (request, error) = *failed;
            request.keep_spi();
            (error, Some(unused))
        })
    }
}

/// Reports a Child SA that was not created, and asks the peer to delete what it may have
/// installed for our SPI `unused`.
fn failed(cx: &mut SaContext<'_>, name: String, error: Error, unused: Option<Spi>) -> Flow {
    warn!(child = %name, %error, "Child SA not created");
    cx.tables.counters.bump(error.counter());
    cx.out.event(Event::ChildSaFailed {
        ike: cx.sa.id,
        name,
        reason: FailureReason::Protocol(error),
    });
    match unused {
        Some(spi) => Flow::Queue(Task::DeleteUnused(spi)),
        None => Flow::Continue,
    }
}

/// Answers a CREATE_CHILD_SA request for a new Child SA ([RFC 7296 §1.3.1]).
///
/// [RFC 7296 §1.3.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.1
pub(crate) fn respond(cx: &mut SaContext<'_>, request: &Message) -> Body {
    let result = (|| {
        let nonce_i = check_nonce(request)?.to_vec();
        let mut nonce_r = vec![0; NONCE_LEN];
        cx.crypto.fill_random(&mut nonce_r)?;
        respond_child(cx, request, &nonce_i, (&nonce_r, false), None)
    })();
    match result {
        Ok((_, payloads)) => Body { payloads },
        Err(error) => {
            warn!(%error, "refusing Child SA");
            cx.tables.counters.bump(error.counter());
            error_body(&error)
        }
    }
}

/// The responder's side of a Child SA request, in IKE_AUTH (`nonce_r` is `None`: the keys come
/// from the IKE_SA_INIT nonces, §2.17) or in CREATE_CHILD_SA (our nonce `nonce_r` goes into
/// the answer, with an optional PFS exchange). Chooses the first Child SA config whose
/// selectors intersect the request's and whose proposals match (for a rekey, the replaced
/// SA's config), installs the Child SA, and returns its payloads in order.
///
/// # Errors
///
/// [`Error::TsUnacceptable`], [`Error::NoProposalChosen`], [`Error::InvalidKePayload`] or a
/// malformed request.
pub(crate) fn respond_child(
    cx: &mut SaContext<'_>,
    request: &Message,
    nonce_i: &[u8],
    nonce_r: (&[u8], bool),
    replaces: Option<&Replaces>,
) -> Result<(ChildSaId, Vec<Payload>), Error> {
    let (nonce_r, in_ike_auth) = nonce_r;
    let sa = request.require(PayloadType::SA, Message::sa)?;
    let ts_i = &request.require(PayloadType::TSI, Message::ts_i)?.selectors;
    let ts_r = &request.require(PayloadType::TSR, Message::ts_r)?.selectors;
    let wants_transport = request.has_notify(NotifyType::USE_TRANSPORT_MODE);
    let mut theirs = sa.proposals.clone();
    if in_ike_auth {
        // RFC 7296 §1.2: no KE in IKE_AUTH; ignore any KE transform a peer put there.
        for p in &mut theirs {
            p.transforms
                .retain(|t| t.transform_type != TransformType::KE);
        }
    }
    let connection = cx.sa.connection.clone();
    let mut error = Error::TsUnacceptable;
    let mut found = None;
    for config in &connection.children {
        if replaces.is_some_and(|r| r.name != config.name) {
            continue;
        }
        // TSi is the initiator's side: the peer's, since we respond.
        let remote = ts::or_host(&config.remote_ts, cx.sa.remote.ip());
        let local = ts::or_host(&config.local_ts, cx.sa.local.ip());
        let narrowed_i = ts::narrow(ts_i, &remote);
        let narrowed_r = ts::narrow(ts_r, &local);
        if narrowed_i.is_empty() || narrowed_r.is_empty() {
            continue;
        }
        let mode = match (config.mode, wants_transport) {
            (Mode::Transport, true) => Mode::Transport,
            // RFC 7296 §1.3.1: we may decline transport mode; the answer is then tunnel.
            (Mode::Tunnel, _) => Mode::Tunnel,
            (Mode::Transport, false) => {
                error = Error::NoProposalChosen;
                continue;
            }
        };
        let supported = proposal::supported_esp(cx.crypto, &config.esp_proposals);
        let ours = proposal::esp_proposals(&supported, 0, !in_ike_auth);
        let preferred = request.ke().map(|ke| ke.method);
        let Some(chosen) = proposal::choose(&ours, &theirs, preferred) else {
            error = Error::NoProposalChosen;
            continue;
        };
        found = Some((config, chosen, narrowed_i, narrowed_r, mode));
        break;
    }
    let Some((config, chosen, narrowed_i, narrowed_r, mode)) = found else {
        return Err(error);
    };
    let algorithms = chosen.child_algorithms().ok_or(Error::NoProposalChosen)?;
    let peer_spi = <[u8; 4]>::try_from(chosen.peer_spi.as_slice())
        .map(|b| Spi(u32::from_be_bytes(b)))
        .map_err(|_| PeerMisbehaved::BadSpiSize)?;
    // PFS: the KE payload must be for the group we chose (RFC 7296 §1.3.1, §1.2).
    let mut ke_payload = None;
    let mut shared = SecretBytes::default();
    if let (Some(method), false) = (algorithms.key_exchange, in_ike_auth) {
        let ke = request.require(PayloadType::KE, Message::ke)?;
        if ke.method != method {
            return Err(Error::InvalidKePayload(method));
        }
        let exchange = cx
            .crypto
            .key_exchange(method)
            .ok_or(Error::NoProposalChosen)?;
        let (public, secret) = exchange
            .respond(cx.crypto.random.as_ref(), &ke.data)
            .map_err(|_| PeerMisbehaved::InvalidKeData)?;
        shared = secret;
        ke_payload = Some(Payload::Ke(KePayload {
            method,
            data: public,
        }));
    }
    let spi_in = cx.tables.allocate_esp_spi(cx.crypto, cx.sa.id)?;
    let keys = KeyInput {
        shared: shared.expose(),
        nonce_i,
        nonce_r,
    };
    let name = config.name.clone();
    let negotiated = Negotiated {
        name: &name,
        spi_in,
        spi_out: peer_spi,
        algorithms,
        ts: (narrowed_i.clone(), narrowed_r.clone()),
        mode,
        initiator: false,
        replaces,
    };
    let id = match install_child(cx, negotiated, &keys) {
        Ok(id) => id,
        Err(error) => {
            cx.tables.esp_spis.remove(&spi_in);
            return Err(error);
        }
    };
    let mut payloads = Vec::new();
    if mode == Mode::Transport {
        payloads.push(Payload::Notify(notify(
            NotifyType::USE_TRANSPORT_MODE,
            Vec::new(),
        )));
    }
    payloads.push(Payload::Sa(SaPayload {
        proposals: vec![chosen.to_proposal(ProtocolId::ESP, spi_in.0.to_be_bytes().to_vec())],
    }));
    if !in_ike_auth {
        payloads.push(Payload::Nonce(NoncePayload {
            data: nonce_r.to_vec(),
        }));
    }
    payloads.extend(ke_payload);
    payloads.push(Payload::TsI(ts_payload(&narrowed_i)));
    payloads.push(Payload::TsR(ts_payload(&narrowed_r)));
    Ok((id, payloads))
}

/// A negotiated Child SA, ready to install.
pub(crate) struct Negotiated<'a> {
    /// Its config name.
    pub name: &'a str,
    /// Our inbound SPI.
    pub spi_in: Spi,
    /// The peer's SPI.
    pub spi_out: Spi,
    /// The algorithms.
    pub algorithms: ChildAlgorithms,
    /// (TSi, TSr) as negotiated.
    pub ts: (Vec<TrafficSelector>, Vec<TrafficSelector>),
    /// Tunnel or transport.
    pub mode: Mode,
    /// Whether we initiated the exchange.
    pub initiator: bool,
    /// The Child SA a rekey replaces.
    pub replaces: Option<&'a Replaces>,
}

/// Derives the keys, builds and installs the Child SA (inbound SA first), and reports it.
///
/// For a rekey ([RFC 7296 §2.8]) the new SA takes the old one's slot. Its initiator routes
/// the new outbound SA at once and retires the old one; its responder installs the new
/// outbound SA unrouted and switches when the initiator is ready (first packet on the new
/// inbound SA, the DELETE of the old SA, or a deadline).
///
/// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
pub(crate) fn install_child(
    cx: &mut SaContext<'_>,
    negotiated: Negotiated<'_>,
    keys: &KeyInput<'_>,
) -> Result<ChildSaId, Error> {
    let Negotiated {
        name,
        spi_in,
        spi_out,
        algorithms,
        ts,
        mode,
        initiator,
        replaces,
    } = negotiated;
    let connection = cx.sa.connection.clone();
    let config = connection.child(name).ok_or(Error::NoProposalChosen)?;
    let ike_keys = cx.sa.keys.as_ref().ok_or(Error::TemporaryFailure)?;
    let child_keys = child_sa::derive_keys(
        cx.crypto,
        ike_keys.prf,
        &ike_keys.keys.sk_d,
        keys.shared,
        keys.nonce_i,
        keys.nonce_r,
        &algorithms,
        initiator,
    )?;
    let (local_ts, remote_ts) = if initiator { ts } else { (ts.1, ts.0) };
    let id = cx.tables.new_child_id(cx.sa.id);
    let reqid = match replaces {
        Some(replaces) => replaces.reqid,
        None => cx.tables.new_reqid(),
    };
    let mut child = ChildSa::new(
        cx.now,
        NewChild {
            id,
            config,
            reqid,
            spi_in,
            spi_out,
            mode,
            algorithms,
            keys: child_keys,
            local_ts,
            remote_ts,
            udp_encap: cx.sa.nat.any(),
            initiator,
            jitter_random: random_u32(cx.crypto)?,
        },
    );
    if let Some(replaces) = replaces {
        child.replaces = Some(replaces.old);
        child.lower_nonce = child_rekey::lower_nonce(keys.nonce_i, keys.nonce_r).to_vec();
        if !initiator {
            // RFC 7296 §2.8: the responder may not send on the new SA before the initiator
            // can receive on it; it learns that from the first packet the initiator sends on
            // it, or from the DELETE of the old SA. While our own rekey of the same Child SA
            // runs, which new SA survives is undecided (§2.8.1): no deadline until it is.
            let colliding = cx
                .sa
                .children
                .get(&replaces.old)
                .is_some_and(|c| c.state == ChildState::Rekeying);
            child.outbound = Outbound::Pending {
                deadline: (!colliding).then(|| cx.now + config.rekey_outbound_switch),
            };
            child.report_first_use = true;
        }
    }
    if let Some(old) = replaces.and_then(|r| cx.sa.children.get(&r.old)) {
        child.resource = old.resource;
    }
    child.install(cx.out, cx.sa.local, cx.sa.remote);
    cx.sa.children.insert(id, Box::new(child));
    match replaces {
        Some(replaces) => {
            info!(old = %replaces.old, new = %id, spi_in = %spi_in, spi_out = %spi_out,
                "Child SA rekeyed");
            if initiator {
                cx.sa.retire_predecessors(cx.out, cx.now, id);
            }
            cx.out.event(Event::ChildSaRekeyed {
                ike: cx.sa.id,
                old: replaces.old,
                new: id,
                spi_in,
                spi_out,
            });
        }
        None => {
            let child = &cx.sa.children[&id];
            info!(child = %id, name, spi_in = %spi_in, spi_out = %spi_out, ?mode,
                "Child SA installed");
            cx.out.event(Event::ChildSaInstalled {
                ike: cx.sa.id,
                child: id,
                name: name.to_owned(),
                reqid,
                spi_in,
                spi_out,
                mode,
                local_ts: child.local_ts.clone(),
                remote_ts: child.remote_ts.clone(),
            });
        }
    }
    Ok(id)
}

fn ts_payload(selectors: &[TrafficSelector]) -> TsPayload {
    TsPayload {
        selectors: selectors.to_vec(),
        unknown_types: Vec::new(),
    }
}
