//! Rekeying a Child SA with CREATE_CHILD_SA ([RFC 7296 §1.3.3], [§2.8]) without losing a packet:
//! the responder installs the new inbound SA before answering and switches its outbound SA only
//! once the initiator is ready; the initiator switches on the response and deletes the old SA;
//! both keep the old inbound SA for a short linger.
//!
//! Collisions ([§2.8.1]) are answered with TEMPORARY_FAILURE for now, and the losing side
//! retries after a random delay; issue 8 replaces this with the RFC's nonce comparison.
//!
//! [RFC 7296 §1.3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.3
//! [§2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
//! [§2.8.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.1

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
use crate::error::Error;
use crate::error::PeerMisbehaved;
use crate::event::DeleteReason;
use crate::event::Event;
use crate::event::FailureReason;
use crate::ids::ChildSaId;
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

impl Initiator {
    /// Starts rekeying `old`; `None` if it is gone, not installed, or its config is gone.
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

    /// On success the new SA carries our traffic and the old one is deleted; on failure the
    /// old one stays in use.
    pub(crate) fn handle_response(self, cx: &mut SaContext<'_>, response: &Message) -> Flow {
        let old = self.old;
        let name = self.request.name().to_owned();
        match self.finish(cx, response) {
            Ok(_) => Flow::Queue(Task::DeleteChild(old)),
            Err(error) => {
                warn!(child = %old, %error, "Child SA rekey failed");
                cx.tables.counters.bump(error.counter());
                cx.out.event(Event::ChildSaFailed {
                    ike: cx.sa.id,
                    name,
                    reason: FailureReason::Protocol(error.clone()),
                });
                if error == Error::PeerError(NotifyType::CHILD_SA_NOT_FOUND) {
                    // RFC 7296 §2.25: the peer no longer has it; neither should we.
                    cx.sa
                        .remove_child(cx.out, cx.tables, old, DeleteReason::Peer);
                    return Flow::Continue;
                }
                let retry = match error {
                    Error::PeerError(NotifyType::TEMPORARY_FAILURE) => {
                        // RFC 7296 §2.25: try again a little later, at a random moment.
                        let jitter = random_u32(cx.crypto).unwrap_or(0) % 10_000;
                        Some(cx.now + RETRY_DELAY + Duration::from_millis(u64::from(jitter)))
                    }
                    _ => None,
                };
                if let Some(child) = cx.sa.children.get_mut(&old) {
                    child.state = ChildState::Installed;
                    child.rekey_at = retry;
                }
                Flow::Continue
            }
        }
    }

    fn finish(self, cx: &mut SaContext<'_>, response: &Message) -> Result<ChildSaId, Error> {
        let Self {
            request, nonce, ke, ..
        } = self;
        let outcome = (|| {
            if let Some(error) = response.error_notify() {
                return Err(Error::PeerError(error));
            }
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
                request.abandon(cx);
                return Err(error);
            }
        };
        let keys = KeyInput {
            shared: shared.expose(),
            nonce_i: &nonce,
            nonce_r: &nonce_r,
        };
        request.complete(cx, response, &keys).map_err(|failed| {
            let (request, error) = *failed;
            request.abandon(cx);
            error
        })
    }
}

/// Answers a rekey request ([RFC 7296 §1.3.3]): installs the new Child SA in the old one's slot
/// with its outbound SA unrouted until the initiator is ready.
///
/// [RFC 7296 §1.3.3]: https://www.rfc-editor.org/rfc/rfc7296#section-1.3.3
pub(crate) fn respond(cx: &mut SaContext<'_>, request: &Message) -> Body {
    let result = (|| {
        let notify = request
            .notify(NotifyType::REKEY_SA)
            .ok_or(PeerMisbehaved::MissingPayload(PayloadType::NOTIFY))?;
        if notify.protocol != ProtocolId::ESP {
            return Err(Error::ChildSaNotFound);
        }
        let spi = <[u8; 4]>::try_from(notify.spi.as_slice())
            .map(|b| Spi(u32::from_be_bytes(b)))
            .map_err(|_| PeerMisbehaved::BadSpiSize)?;
        // The peer names the SA by its inbound SPI: our outbound.
        let old = cx
            .sa
            .children
            .values()
            .find(|c| c.spi_out == spi)
            .ok_or(Error::ChildSaNotFound)?;
        match old.state {
            ChildState::Installed => {}
            // RFC 7296 §2.25.1: a rekey of an SA we are deleting gets TEMPORARY_FAILURE; a
            // simultaneous rekey is refused the same way until issue 8 resolves collisions
            // by nonce (§2.8.1).
            ChildState::Deleting | ChildState::Rekeying => return Err(Error::TemporaryFailure),
            ChildState::Rekeyed { .. } => return Err(Error::ChildSaNotFound),
        }
        let replaces = Replaces {
            old: old.id,
            reqid: old.reqid,
            name: old.name.clone(),
        };
        let nonce_i = check_nonce(request)?.to_vec();
        let mut nonce_r = vec![0; NONCE_LEN];
        cx.crypto.fill_random(&mut nonce_r)?;
        respond_child(cx, request, &nonce_i, (&nonce_r, false), Some(&replaces))
    })();
    match result {
        Ok((_, payloads)) => Body { payloads },
        Err(error) => {
            debug!(%error, "refusing Child SA rekey");
            cx.tables.counters.bump(error.counter());
            error_body(&error)
        }
    }
}

/// The least wait before retrying a rekey the peer refused with TEMPORARY_FAILURE.
const RETRY_DELAY: Duration = Duration::from_secs(5);
