//! Rekeying a Child SA with CREATE_CHILD_SA ([RFC 7296 §1.3.3], [§2.8]) without losing a packet:
//! the responder installs the new inbound SA before answering and switches its outbound SA only
//! once the initiator is ready; the initiator switches on the response and deletes the old SA;
//! both keep the old inbound SA for a short linger.
//!
//! Collisions are resolved as the RFC says:
//!
//! - Both peers rekey the same Child SA at once ([§2.8.1]): each answers the other's request as
//!   usual (the new Child SA it installs as responder waits, without a deadline, for the
//!   collision to be decided). When its own response arrives, each compares the lower nonces of
//!   the two exchanges: the exchange holding the lowest of the four nonces created the
//!   redundant Child SA, and the peer that initiated it deletes it (we never install ours when
//!   we lose, we only ask the peer to delete it); the winner's Child SA replaces the old one,
//!   which the winner deletes.
//! - A rekey of a Child SA we are deleting, or have already replaced, is answered with
//!   TEMPORARY_FAILURE ([§2.25.1]); one for a Child SA we do not know with CHILD_SA_NOT_FOUND
//!   naming the SPI ([§2.25]).
//! - When our rekey fails, a Child SA the peer rekeyed meanwhile is not touched (the peer's
//!   replacement takes over); after CHILD_SA_NOT_FOUND the Child SA is removed and created
//!   afresh ([§2.25]); otherwise the old SA keeps carrying traffic and the rekey is retried
//!   after a random delay. A response we cannot use (a bad proposal, selectors, KE) gets the
//!   half-installed SA at the peer deleted, so neither side is left with two outbound SAs or
//!   none.
//!
//! [RFC 7296 §1.3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.3
//! [§2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
//! [§2.8.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.1
//! [§2.25]: https://www.rfc-editor.org/rfc/rfc7296#section-2.25
//! [§2.25.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.25.1

use std::time::Duration;

use hitless_crypto::KePrivate;
use hitless_crypto::SecretBytes;
use hitless_sadb::Spi;
use hitless_wire::ike::KePayload;
use hitless_wire::ike::NoncePayload;
use hitless_wire::ike::NotifyPayload;
use hitless_wire::ike::Payload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use hitless_wire::registry::ProtocolId;
use tracing::debug;
use tracing::info;
use tracing::warn;

use super::Flow;
use super::SaContext;
use super::Task;
use super::child_create::ChildRequest;
use super::child_create::KeyInput;
use super::child_create::Replaces;
use super::child_create::respond_child;
use super::ike_init::NONCE_LEN;
use super::ike_init::check_nonce;
use crate::child_sa::ChildState;
use crate::child_sa::Outbound;
use crate::error::Error;
use crate::error::PeerMisbehaved;
use crate::event::DeleteReason;
use crate::event::Event;
use crate::event::FailureReason;
use crate::ids::ChildSaId;
use crate::ike_sa::IkeSaCore;
use crate::ike_sa::dispatch::error_body;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;
use crate::tables::random_u32;

/// The initiator of a Child SA rekey.
pub(crate) struct Initiator {
    old: ChildSaId,
    request: ChildRequest,
    nonce: Vec<u8>,
    ke: Option<(KeMethod, Box<dyn KePrivate>)>,
}

/// How our rekey ended.
enum Outcome {
    /// Our new Child SA is installed and carries our traffic.
    Rekeyed,
    /// The peer rekeyed the same Child SA and its new Child SA survives ([RFC 7296 §2.8.1]);
    /// the peer installed ours under our SPI `unused`, which we ask it to delete.
    ///
    /// [RFC 7296 §2.8.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.1
    Lost { winner: ChildSaId, unused: Spi },
    /// No new Child SA from our exchange. `unused` is our SPI when the peer may have
    /// installed an SA for it (it answered without an error).
    Failed { error: Error, unused: Option<Spi> },
}

impl Initiator {
    /// Starts rekeying `old`; `None` if it is gone, not installed, its config is gone, or the
    /// peer already replaced it (its new Child SA waits for the switch).
    pub(crate) fn start(
        cx: &mut SaContext<'_>,
        old: ChildSaId,
    ) -> Result<Option<(Self, Request)>, Error> {
        let connection = cx.sa.connection.clone();
        let Some(child) = cx.sa.children.get(&old) else {
            return Ok(None);
        };
        if child.state != ChildState::Installed {
            return Ok(None);
        }
        if let Some(successor) = cx.sa.peer_successor(old) {
            debug!(child = %old, %successor, "not rekeying: the peer already replaced it");
            return Ok(None);
        }
        let Some(config) = connection.child(&child.name) else {
            warn!(child = %old, "cannot rekey: its config is gone");
            return Ok(None);
        };
        let spi_in = child.spi_in;
        let replaces = Replaces {
            old,
            reqid: child.reqid,
            name: child.name.clone(),
        };
        let selectors = (child.local_ts.clone(), child.remote_ts.clone());
        let mode = child.mode;
        let request = ChildRequest::for_rekey(cx, config, replaces, selectors, mode)?;
        let mut nonce = vec![0; NONCE_LEN];
        cx.crypto.fill_random(&mut nonce)?;
        let ke = match request.pfs_method() {
            Some(method) => {
                let exchange = cx
                    .crypto
                    .key_exchange(method)
                    .ok_or(Error::NoProposalChosen)?;
                Some((method, exchange.start(cx.crypto.random.as_ref())?))
            }
            None => None,
        };
        if let Some(child) = cx.sa.children.get_mut(&old) {
            child.state = ChildState::Rekeying;
        }
        // RFC 7296 §1.3.3: N(REKEY_SA) names the SA being replaced by our inbound SPI.
        let mut body = Body::new();
        body.push(Payload::Notify(NotifyPayload {
            protocol: ProtocolId::ESP,
            spi: spi_in.0.to_be_bytes().to_vec(),
            notify_type: NotifyType::REKEY_SA,
            data: Vec::new(),
        }));
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
            Self {
                old,
                request,
                nonce,
                ke,
            },
            Request {
                exchange: ExchangeType::CREATE_CHILD_SA,
                body,
            },
        )))
    }

    /// On success the new SA carries our traffic and the old one is deleted; after a lost
    /// collision the peer's new SA takes over and ours is deleted; on failure the old one
    /// stays in use.
    pub(crate) fn handle_response(self, cx: &mut SaContext<'_>, response: &Message) -> Flow {
        let old = self.old;
        let name = self.request.name().to_owned();
        let outcome = self.finish(cx, response);
        conclude(cx, old, &name, outcome)
    }

    /// The response could not even be parsed: the rekey failed.
    pub(crate) fn abort(self, cx: &mut SaContext<'_>, error: Error) -> Flow {
        let old = self.old;
        let name = self.request.name().to_owned();
        let unused = self.request.spi_in();
        self.request.keep_spi();
        let outcome = Outcome::Failed {
            error,
            unused: Some(unused),
        };
        conclude(cx, old, &name, outcome)
    }

    fn finish(self, cx: &mut SaContext<'_>, response: &Message) -> Outcome {
        let Self {
            old,
            request,
            nonce,
            ke,
        } = self;
        if let Some(error) = response.error_notify() {
            request.abandon(cx);
            return Outcome::Failed {
                error: Error::PeerError(error),
                unused: None,
            };
        }
        let unused = request.spi_in();
        let values = (|| {
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
        let (nonce_r, shared) = match values {
            Ok(values) => values,
            Err(error) => {
                // Keep the SPI reserved until the peer deleted what it installed for it.
                request.keep_spi();
                return Outcome::Failed {
                    error,
                    unused: Some(unused),
                };
            }
        };
        // RFC 7296 §2.8.1: if the peer rekeyed the same Child SA, the new SA created with the
        // lowest of the four nonces is redundant, and its creator deletes it.
        if let Some(winner) = cx.sa.peer_successor(old) {
            let ours = lower_nonce(&nonce, &nonce_r);
            let theirs = cx.sa.children[&winner].lower_nonce.as_slice();
            if ours < theirs {
                request.keep_spi();
                return Outcome::Lost { winner, unused };
            }
            info!(child = %old, redundant = %winner, "rekey collision won");
        }
        let keys = KeyInput {
            shared: shared.expose(),
            nonce_i: &nonce,
            nonce_r: &nonce_r,
        };
        match request.complete(cx, response, &keys) {
            Ok(_) => Outcome::Rekeyed,
            Err(failed) => {
                let (request, error) = *failed;
                request.keep_spi();
                Outcome::Failed {
                    error,
                    unused: Some(unused),
                }
            }
        }
    }
}

/// Acts on how our rekey of `old` ended.
fn conclude(cx: &mut SaContext<'_>, old: ChildSaId, name: &str, outcome: Outcome) -> Flow {
    match outcome {
        Outcome::Rekeyed => {
            if cx.sa.children.contains_key(&old) {
                Flow::Queue(Task::DeleteChild(old))
            } else {
                // The peer deleted the old SA while our request was on its way.
                Flow::Continue
            }
        }
        Outcome::Lost { winner, unused } => {
            // RFC 7296 §2.8.1: the peer created the surviving SA and deletes the old one; we
            // delete the redundant one we created.
            info!(child = %old, %winner, "rekey collision lost; the peer's new Child SA \
                survives");
            await_switch(cx.sa, cx.now, old, winner);
            Flow::Queue(Task::DeleteUnused(unused))
        }
        Outcome::Failed { error, unused } => {
            warn!(child = %old, %error, "Child SA rekey failed");
            cx.tables.counters.bump(error.counter());
            cx.out.event(Event::ChildSaFailed {
                ike: cx.sa.id,
                name: name.to_owned(),
                reason: FailureReason::Protocol(error.clone()),
            });
            let flow = after_failure(cx, old, name, &error);
            let Some(spi) = unused else {
                return flow;
            };
            // The peer may have installed the SA we could not: it goes first.
            let mut tasks = vec![Task::DeleteUnused(spi)];
            match flow {
                Flow::Queue(task) => tasks.push(task),
                Flow::QueueMany(more) => tasks.extend(more),
                Flow::Continue | Flow::Deleted(_) => {}
            }
            Flow::QueueMany(tasks)
        }
    }
}

/// Answers a rekey request ([RFC 7296 §1.3.3]): installs the new Child SA in the old one's slot
/// with its outbound SA unrouted until the initiator is ready. `ike_busy` when we are rekeying
/// or deleting the IKE SA ([RFC 7296 §2.25.2]: TEMPORARY_FAILURE).
///
/// [RFC 7296 §1.3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.3
/// [RFC 7296 §2.25.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.25.2
pub(crate) fn respond(cx: &mut SaContext<'_>, request: &Message, ike_busy: bool) -> Body {
    let mut not_found = None;
    let result = (|| {
        let notify = request
            .notify(NotifyType::REKEY_SA)
            .ok_or(PeerMisbehaved::MissingPayload(PayloadType::NOTIFY))?;
        if notify.protocol != ProtocolId::ESP && notify.protocol != ProtocolId::AH {
            return Err(PeerMisbehaved::BadRekeyNotify.into());
        }
        let spi = <[u8; 4]>::try_from(notify.spi.as_slice())
            .map(|b| Spi(u32::from_be_bytes(b)))
            .map_err(|_| PeerMisbehaved::BadSpiSize)?;
        if ike_busy {
            // RFC 7296 §2.25.2: not while we rekey or delete the IKE SA.
            return Err(Error::TemporaryFailure);
        }
        // The peer names the SA by its inbound SPI: our outbound. We have no AH SAs.
        let Some(old) = cx
            .sa
            .children
            .values()
            .find(|c| c.spi_out == spi && notify.protocol == ProtocolId::ESP)
        else {
            not_found = Some(notify.clone());
            return Err(Error::ChildSaNotFound);
        };
        match old.state {
            // RFC 7296 §2.25.1: a simultaneous rekey is answered as usual; §2.8.1 decides
            // later which of the two new SAs survives.
            ChildState::Installed | ChildState::Rekeying => {}
            // RFC 7296 §2.25.1: a rekey of an SA we are closing (deleting it, or deleting it
            // after we replaced it) gets TEMPORARY_FAILURE.
            ChildState::Deleting | ChildState::Rekeyed { .. } => {
                return Err(Error::TemporaryFailure);
            }
        }
        let replaces = Replaces {
            old: old.id,
            reqid: old.reqid,
            name: old.name.clone(),
        };
        let nonce_i = check_nonce(request)?.to_vec();
        let mut nonce_r = vec![0; NONCE_LEN];
        cx.crypto.fill_random(&mut nonce_r)?;
        let answer = respond_child(cx, request, &nonce_i, (&nonce_r, false), Some(&replaces))?;
        if let Some(old) = cx.sa.children.get_mut(&replaces.old)
            && old.state == ChildState::Installed
        {
            // Replaced: it carries traffic until the switch, but is not rekeyed again.
            old.rekey_at = None;
        }
        Ok(answer)
    })();
    match result {
        Ok((_, payloads)) => Body { payloads },
        Err(error) => {
            debug!(%error, "refusing Child SA rekey");
            cx.tables.counters.bump(error.counter());
            match (error, not_found) {
                // RFC 7296 §2.25: CHILD_SA_NOT_FOUND carries the SPI of the REKEY_SA notify.
                (Error::ChildSaNotFound, Some(rekey)) => {
                    let mut body = Body::new();
                    body.push(Payload::Notify(NotifyPayload {
                        protocol: rekey.protocol,
                        spi: rekey.spi,
                        notify_type: NotifyType::CHILD_SA_NOT_FOUND,
                        data: Vec::new(),
                    }));
                    body
                }
                (error, _) => error_body(&error),
            }
        }
    }
}

/// What a failed rekey of `old` leaves behind ([RFC 7296 §2.25]).
fn after_failure(cx: &mut SaContext<'_>, old: ChildSaId, name: &str, error: &Error) -> Flow {
    let Some(child) = cx.sa.children.get(&old) else {
        // The peer deleted it meanwhile (§2.25.1): nothing to retry.
        return Flow::Continue;
    };
    if matches!(child.state, ChildState::Rekeyed { .. }) {
        // Replaced meanwhile (the peer's rekey of it took over).
        return Flow::Continue;
    }
    if let Some(winner) = cx.sa.peer_successor(old) {
        // The peer rekeyed it successfully and did not see our request as a collision (it
        // answered TEMPORARY_FAILURE or CHILD_SA_NOT_FOUND): its new SA takes over.
        info!(child = %old, %winner, "the peer rekeyed the Child SA meanwhile");
        await_switch(cx.sa, cx.now, old, winner);
        return Flow::Continue;
    }
    if *error == Error::PeerError(NotifyType::CHILD_SA_NOT_FOUND) {
        // RFC 7296 §2.25: the peer lost it; delete it silently and create it from scratch.
        // The peer also gets a DELETE for it, in case it still holds it after all (a stale
        // copy would otherwise keep a second outbound SA for the same traffic there).
        let Some(child) = cx
            .sa
            .remove_child(cx.out, cx.tables, old, DeleteReason::Peer)
        else {
            return Flow::Continue;
        };
        let mut tasks = vec![Task::DeleteUnused(child.spi_in)];
        if cx.sa.connection.child(name).is_some() {
            tasks.push(Task::CreateChild(name.to_owned()));
        }
        return Flow::QueueMany(tasks);
    }
    // RFC 7296 §2.25: after TEMPORARY_FAILURE we MUST wait before retrying; any other
    // failure is retried the same way, the old SA carrying traffic meanwhile.
    let jitter = random_u32(cx.crypto).unwrap_or(0) % RETRY_JITTER_MS;
    let retry = cx.now + RETRY_DELAY + Duration::from_millis(u64::from(jitter));
    if let Some(child) = cx.sa.children.get_mut(&old) {
        child.state = ChildState::Installed;
        child.rekey_at = Some(retry);
    }
    Flow::Continue
}

/// The peer's new Child SA `winner` replaces `old`: `old` carries traffic until the switch and
/// is not rekeyed again; the switch deadline (held while the collision was undecided) runs.
fn await_switch(sa: &mut IkeSaCore, now: std::time::Instant, old: ChildSaId, winner: ChildSaId) {
    if let Some(child) = sa.children.get_mut(&old)
        && child.state == ChildState::Rekeying
    {
        child.state = ChildState::Installed;
        child.rekey_at = None;
    }
    if let Some(child) = sa.children.get_mut(&winner)
        && child.outbound == (Outbound::Pending { deadline: None })
    {
        let switch = sa
            .connection
            .child(&child.name)
            .map_or(DEFAULT_SWITCH, |c| c.rekey_outbound_switch);
        child.outbound = Outbound::Pending {
            deadline: Some(now + switch),
        };
    }
}

/// The lower of an exchange's two nonces: "lowest" compares octet by octet, and a nonce that
/// is a prefix of the other is the lower ([RFC 7296 §2.8.1]), which is slice order.
///
/// [RFC 7296 §2.8.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.1
pub(crate) fn lower_nonce<'a>(a: &'a [u8], b: &'a [u8]) -> &'a [u8] {
    a.min(b)
}

/// The least wait before retrying a rekey that failed.
const RETRY_DELAY: Duration = Duration::from_secs(5);
/// Up to this much more, at random, so both peers do not retry in step.
const RETRY_JITTER_MS: u32 = 10_000;
/// The switch deadline when the Child SA config is gone.
const DEFAULT_SWITCH: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lower_nonce_compares_octet_by_octet() {
        assert_eq!(lower_nonce(&[1, 255], &[2, 0]), &[1, 255]);
        assert_eq!(lower_nonce(&[2, 0, 0], &[1, 255]), &[1, 255]);
        // A prefix is the lower (not compared as integers).
        assert_eq!(lower_nonce(&[5, 5], &[5, 5, 0]), &[5, 5]);
        assert_eq!(lower_nonce(&[0, 9, 9], &[1]), &[0, 9, 9]);
    }
}
