//! The exchanges, one module per task (strongSwan's decomposition): what each initiator keeps
//! while its request is in flight, and what each responder answers.
//!
//! Task order: an IKE SA runs one request at a time (window size 1, [RFC 7296 §2.3]). Queued
//! tasks start in the order they were queued, except that a delete of the IKE SA goes first and
//! makes every other queued task moot. Only initiators carry state; responders are functions
//! from request to response.
//!
//! [RFC 7296 §2.3]: https://www.rfc-editor.org/rfc/rfc7296#section-2.3

use std::sync::Arc;
use std::time::Instant;

use hitless_crypto::CryptoProvider;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::ProtocolId;

use hitless_sadb::Spi;

use crate::auth::PeerAuthenticated;
use crate::child_sa::ChildState;
use crate::config::Config;
use crate::config::Connection;
use crate::error::Error;
use crate::ids::ChildSaId;
use crate::ike_sa::Established;
use crate::ike_sa::IkeSaCore;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;
use crate::output::OutputQueue;
use crate::tables::Tables;

pub(crate) mod child_create;
pub(crate) mod child_delete;
pub(crate) mod child_rekey;
pub(crate) mod dpd;
pub(crate) mod ike_auth;
pub(crate) mod ike_delete;
pub(crate) mod ike_init;
pub(crate) mod ike_rekey;
pub(crate) mod mid_sync;
pub(crate) mod replay_sync;

/// Everything an exchange may touch, passed explicitly (no globals).
pub(crate) struct SaContext<'a> {
    /// The current time.
    pub now: Instant,
    /// The IKE SA the exchange runs on.
    pub sa: &'a mut IkeSaCore,
    /// The endpoint's config.
    pub config: &'a Config,
    /// The endpoint's connections (for choosing one at IKE_AUTH).
    pub connections: &'a [Arc<Connection>],
    /// Crypto and randomness.
    pub crypto: &'a CryptoProvider,
    /// The output queue.
    pub out: &'a mut OutputQueue,
    /// Endpoint-wide ids, SPIs and counters.
    pub tables: &'a mut Tables,
}

/// Work queued on an established IKE SA.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Task {
    /// Create a Child SA from the named config.
    CreateChild(String),
    /// Delete a Child SA.
    DeleteChild(ChildSaId),
    /// Delete a Child SA whose hard lifetime passed or whose SA reached a hard limit in the
    /// data plane; reported as [`DeleteReason::Expired`](crate::event::DeleteReason::Expired).
    ExpireChild(ChildSaId),
    /// Ask the peer to delete the SA it installed for our inbound SPI, which we never
    /// installed: the redundant Child SA of a rekey collision we lost ([RFC 7296 §2.8.1]), or
    /// one from a response we could not use.
    ///
    /// [RFC 7296 §2.8.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.1
    DeleteUnused(Spi),
    /// Rekey a Child SA.
    RekeyChild(ChildSaId),
    /// Delete the IKE SA.
    DeleteIke,
    /// A liveness check.
    Dpd,
    /// Rekey the IKE SA.
    RekeyIke,
}

/// The exchange whose request is in flight.
pub(crate) enum Initiating {
    /// CREATE_CHILD_SA for a new Child SA.
    ChildCreate(child_create::Initiator),
    /// CREATE_CHILD_SA rekeying a Child SA.
    ChildRekey(child_rekey::Initiator),
    /// INFORMATIONAL deleting Child SAs.
    ChildDelete(child_delete::Initiator),
    /// CREATE_CHILD_SA rekeying the IKE SA.
    IkeRekey(ike_rekey::Initiator),
    /// INFORMATIONAL deleting the IKE SA.
    IkeDelete(ike_delete::Initiator),
    /// An empty INFORMATIONAL.
    Dpd(dpd::Initiator),
    /// IKEV2_MESSAGE_ID_SYNC at message ID 0 after an HA takeover (RFC 6311 §5). Its response
    /// is handled before the window ([`mid_sync`]); the variant holds the window meanwhile.
    MidSync(mid_sync::Initiator),
    /// A request restored from an HA snapshot whose local state could not be exported: its
    /// response only advances the window.
    Unresumable(ExchangeType),
}

/// What happens to the IKE SA after an exchange step.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum Flow {
    /// It goes on.
    Continue,
    /// It goes on, with this task queued (the delete that follows a rekey).
    Queue(Task),
    /// It goes on, with these tasks queued in order.
    QueueMany(Vec<Task>),
    /// It is deleted (cleanly: the peer knows).
    Deleted(crate::event::DeleteReason),
}

impl Task {
    /// Starts the task: the initiator's state and the request to send. `Ok(None)` when the task
    /// became moot (for example the Child SA is already gone).
    pub(crate) fn start(
        self,
        cx: &mut SaContext<'_>,
    ) -> Result<Option<(Initiating, Request)>, Error> {
        Ok(match self {
            Self::CreateChild(name) => child_create::Initiator::start(cx, &name)?
                .map(|(i, r)| (Initiating::ChildCreate(i), r)),
            Self::RekeyChild(child) => child_rekey::Initiator::start(cx, child)?
                .map(|(i, r)| (Initiating::ChildRekey(i), r)),
            Self::DeleteChild(child) => child_delete::Initiator::start(cx, child)
                .map(|(i, r)| (Initiating::ChildDelete(i), r)),
            Self::ExpireChild(child) => child_delete::Initiator::expire(cx, child)
                .map(|(i, r)| (Initiating::ChildDelete(i), r)),
            Self::DeleteUnused(spi) => {
                let (i, r) = child_delete::Initiator::unused(spi);
                Some((Initiating::ChildDelete(i), r))
            }
            Self::DeleteIke => {
                let (i, r) = ike_delete::Initiator::start(cx);
                Some((Initiating::IkeDelete(i), r))
            }
            Self::Dpd => {
                let (i, r) = dpd::Initiator::start(cx);
                Some((Initiating::Dpd(i), r))
            }
            Self::RekeyIke => {
                let (i, r) = ike_rekey::Initiator::start(cx)?;
                Some((Initiating::IkeRekey(i), r))
            }
        })
    }
}

impl Initiating {
    /// Handles the response to our request.
    pub(crate) fn handle_response(
        self,
        cx: &mut SaContext<'_>,
        peer: &PeerAuthenticated,
        response: &Message,
    ) -> Flow {
        match self {
            Self::IkeRekey(i) => i.handle_response(cx, peer, response),
            Self::ChildCreate(i) => i.handle_response(cx, response),
            Self::ChildRekey(i) => i.handle_response(cx, response),
            Self::ChildDelete(i) => i.handle_response(cx, response),
            Self::IkeDelete(i) => i.handle_response(cx, response),
            Self::Dpd(i) => i.handle_response(cx, response),
            Self::MidSync(_) | Self::Unresumable(_) => Flow::Continue,
        }
    }

    /// The response to our request is authentic but cannot be parsed: the exchange failed,
    /// the IKE SA goes on. A Child SA the peer may have installed for us is deleted, and a
    /// Child SA rekey leaves the old SA in use (issue 8: never two outbound SAs, or none).
    pub(crate) fn abort(self, cx: &mut SaContext<'_>, error: Error) -> Flow {
        match self {
            Self::ChildCreate(i) => i.abort(cx, error),
            Self::ChildRekey(i) => i.abort(cx, error),
            Self::IkeRekey(i) => i.abort(cx, &error),
            // The peer processed our delete; what it answered does not matter (§1.4.1).
            Self::ChildDelete(i) => i.finish(cx),
            Self::IkeDelete(_) => Flow::Deleted(crate::event::DeleteReason::Local),
            Self::Dpd(_) | Self::MidSync(_) | Self::Unresumable(_) => Flow::Continue,
        }
    }

    /// What an HA snapshot records about it.
    pub(crate) fn snapshot(&self, cx_children: &IkeSaCore) -> crate::snapshot::InFlight {
        use crate::snapshot::InFlight;
        match self {
            Self::Dpd(_) => InFlight::Dpd,
            Self::IkeDelete(_) => InFlight::DeleteIke,
            Self::ChildDelete(i) => InFlight::DeleteChild(
                i.children()
                    .iter()
                    .filter_map(|c| cx_children.children.get(c).map(|c| c.spi_in))
                    .collect(),
            ),
            Self::ChildCreate(_) | Self::ChildRekey(_) | Self::IkeRekey(_) => {
                InFlight::Unresumable(ExchangeType::CREATE_CHILD_SA)
            }
            Self::Unresumable(exchange) => InFlight::Unresumable(*exchange),
            // The node that imports it repairs the counters again.
            Self::MidSync(_) => InFlight::Unresumable(ExchangeType::INFORMATIONAL),
        }
    }
}

/// Answers a request on an established IKE SA ([RFC 7296 §1.3], [§1.4]).
///
/// [RFC 7296 §1.3]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3
/// [§1.4]: https://www.rfc-editor.org/rfc/rfc7296#section-1.4
pub(crate) fn respond(
    cx: &mut SaContext<'_>,
    established: &mut Established,
    request: &Message,
) -> (Body, Flow) {
    match request.header.exchange {
        ExchangeType::CREATE_CHILD_SA => {
            // RFC 7296 §2.25.2: while we rekey or delete the IKE SA (or it was replaced), a
            // request to create or rekey a Child SA gets TEMPORARY_FAILURE.
            let ike_busy = matches!(
                established.active,
                Some(Initiating::IkeRekey(_) | Initiating::IkeDelete(_))
            ) || cx.sa.superseded.is_some();
            let body = if request.has_notify(NotifyType::REKEY_SA) {
                child_rekey::respond(cx, request, ike_busy)
            } else if request
                .sa()
                .is_some_and(|sa| sa.proposals.iter().any(|p| p.protocol == ProtocolId::IKE))
            {
                // Not while a Child SA exchange of ours is open either: its outcome belongs
                // to this IKE SA (strongSwan does the same). Our own rekey of the IKE SA in
                // flight is a simultaneous rekey (RFC 7296 §2.8.2): answered as usual.
                let children_busy = cx
                    .sa
                    .children
                    .values()
                    .any(|c| matches!(c.state, ChildState::Rekeying | ChildState::Deleting));
                let answering = match &mut established.active {
                    _ if children_busy => ike_rekey::Answering::Busy,
                    None | Some(Initiating::Dpd(_)) => ike_rekey::Answering::Free,
                    Some(Initiating::IkeRekey(ours)) => ike_rekey::Answering::Crossing(ours),
                    Some(_) => ike_rekey::Answering::Busy,
                };
                ike_rekey::respond(cx, &established.peer, request, answering)
            } else if ike_busy {
                tracing::debug!("refusing a new Child SA while the IKE SA is rekeyed");
                Body::error(NotifyType::TEMPORARY_FAILURE, Vec::new())
            } else {
                child_create::respond(cx, request)
            };
            (body, Flow::Continue)
        }
        ExchangeType::INFORMATIONAL => informational(cx, request),
        other => {
            // RFC 7296 §2.21.2: an exchange that makes no sense here is answered with
            // INVALID_SYNTAX, never processed.
            tracing::warn!(exchange = %other, "unexpected exchange on an established IKE SA");
            (
                Body::error(NotifyType::INVALID_SYNTAX, Vec::new()),
                Flow::Continue,
            )
        }
    }
}

/// INFORMATIONAL requests: deletes, liveness checks and notifications ([RFC 7296 §1.4]).
///
/// [RFC 7296 §1.4]: https://www.rfc-editor.org/rfc/rfc7296#section-1.4
fn informational(cx: &mut SaContext<'_>, request: &Message) -> (Body, Flow) {
    if request.deletes().any(|d| d.protocol == ProtocolId::IKE) {
        return ike_delete::respond(cx);
    }
    for notify in request.notifies() {
        if notify.notify_type.is_error() {
            tracing::warn!(notify = %notify.notify_type, "peer reported an error");
        } else {
            // RFC 7296 §3.10.1: status notifications we do not understand are ignored.
            tracing::debug!(notify = %notify.notify_type, "ignoring status notification");
        }
    }
    let mut body = Body::new();
    if request.deletes().next().is_some() {
        body = child_delete::respond(cx, request);
    }
    (body, Flow::Continue)
}
