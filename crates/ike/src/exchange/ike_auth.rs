//! IKE_AUTH ([RFC 7296 §1.2]): identities ([§3.5]), AUTH ([§2.15], through [`crate::auth`]),
//! the first Child SA, and the RFC 6311 support notifications ([RFC 6311 §3]).
//!
//! [RFC 7296 §1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
//! [§2.15]: https://www.rfc-editor.org/rfc/rfc7296#section-2.15
//! [§3.5]: https://www.rfc-editor.org/rfc/rfc7296#section-3.5
//! [RFC 6311 §3]: https://www.rfc-editor.org/rfc/rfc6311#section-3

use std::net::IpAddr;

use hitless_wire::ike::Payload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use tracing::info;
use tracing::warn;

use super::SaContext;
use super::Task;
use super::child_create::ChildRequest;
use super::child_create::KeyInput;
use super::child_create::respond_child;
use super::ike_init::InitDone;
use super::ike_init::Replied;
use crate::auth;
use crate::auth::SignedOctets;
use crate::config::Connection;
use crate::config::Identity;
use crate::config::StartAction;
use crate::error::AuthFailure;
use crate::error::Error;
use crate::error::PeerMisbehaved;
use crate::event::Event;
use crate::event::FailureReason;
use crate::ike_sa::Established;
use crate::ike_sa::dispatch::error_body;
use crate::info::Rfc6311Support;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;

/// The initiator's IKE_AUTH in flight.
pub(crate) struct Initiator {
    init: InitDone,
    child: Option<ChildRequest>,
}

/// The responder's answer to IKE_AUTH.
pub(crate) struct AuthOutcome {
    /// The response.
    pub body: Body,
    /// The established SA, if authentication succeeded.
    pub established: Option<Established>,
    /// Why not, otherwise.
    pub error: Option<Error>,
}

impl Initiator {
    /// Builds the IKE_AUTH request: IDi, optional INITIAL_CONTACT and IDr, AUTH, and the first Child
    /// SA (the first config with [`StartAction::Start`], else the first).
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] or [`Error::NoProposalChosen`] (no usable ESP proposal).
    pub(crate) fn start(cx: &mut SaContext<'_>, init: InitDone) -> Result<(Self, Request), Error> {
        let connection = cx.sa.connection.clone();
        let local_id = local_identity(&connection, cx.sa.local.ip());
        let id_i = local_id.to_payload();
        let keys = cx.sa.keys.as_ref().ok_or(Error::TemporaryFailure)?;
        let auth = auth::sign(
            &connection.local_auth,
            keys.prf,
            &SignedOctets {
                init_message: &init.request,
                peer_nonce: &init.nonce_r,
                id: &id_i,
                sk_p: &keys.keys.sk_pi,
            },
        );
        cx.sa.local_id = Some(local_id);
        let first_child = connection
            .children
            .iter()
            .find(|c| c.start_action == StartAction::Start)
            .or_else(|| connection.children.first());
        let child = match first_child {
            Some(config) => Some(ChildRequest::new(cx, config, false)?),
            None => None,
        };
        let mut body = Body::new();
        body.push(Payload::IdI(id_i));
        if connection.initial_contact {
            body.notify(NotifyType::INITIAL_CONTACT, Vec::new());
        }
        if let Some(remote_id) = &connection.remote_id {
            body.push(Payload::IdR(remote_id.to_payload()));
        }
        body.push(Payload::Auth(auth));
        if let Some(child) = &child {
            for payload in child.sa_payloads() {
                body.push(payload);
            }
            for payload in child.ts_payloads() {
                body.push(payload);
            }
        }
        announce_rfc6311(&connection, &mut body);
        Ok((
            Self { init, child },
            Request {
                exchange: ExchangeType::IKE_AUTH,
                body,
            },
        ))
    }

    /// Verifies the responder and installs the first Child SA.
    ///
    /// # Errors
    ///
    /// The responder's error ([`Error::PeerError`], e.g. AUTHENTICATION_FAILED) or a failed
    /// verification of its AUTH payload: the IKE SA is not established.
    pub(crate) fn handle_response(
        self,
        cx: &mut SaContext<'_>,
        response: &Message,
    ) -> Result<Established, Error> {
        let Self { init, child } = self;
        let Some(auth_payload) = response.auth() else {
            if let Some(child) = child {
                child.abandon(cx);
            }
            return Err(match response.error_notify() {
                Some(error) => Error::PeerError(error),
                None => PeerMisbehaved::MissingPayload(PayloadType::AUTH).into(),
            });
        };
        let verified = (|| {
            let id_r = response.require(PayloadType::IDR, Message::id_r)?;
            let identity = Identity::from_payload(id_r)
                .ok_or(Error::AuthenticationFailed(AuthFailure::IdentityMismatch))?;
            if cx
                .sa
                .connection
                .remote_id
                .as_ref()
                .is_some_and(|wanted| *wanted != identity)
            {
                return Err(Error::AuthenticationFailed(AuthFailure::IdentityMismatch));
            }
            let keys = cx.sa.keys.as_ref().ok_or(Error::TemporaryFailure)?;
            auth::verify(
                &cx.sa.connection.remote_auth,
                keys.prf,
                &SignedOctets {
                    init_message: &init.response,
                    peer_nonce: &init.nonce_i,
                    id: id_r,
                    sk_p: &keys.keys.sk_pr,
                },
                auth_payload,
                identity,
            )
            .map_err(Error::AuthenticationFailed)
        })();
        let peer = match verified {
            Ok(peer) => peer,
            Err(error) => {
                if let Some(child) = child {
                    child.abandon(cx);
                }
                return Err(error);
            }
        };
        established(cx, &peer, response);
        let first = child.as_ref().map(|c| c.name().to_owned());
        let mut unused = None;
        if let Some(child) = child {
            let keys = KeyInput {
                shared: &[],
                nonce_i: &init.nonce_i,
                nonce_r: &init.nonce_r,
            };
            let name = child.name().to_owned();
            if let Err(failed) = child.complete(cx, response, &keys) {
                let (child, error) = *failed;
                // RFC 7296 §1.2: a failed first Child SA leaves the IKE SA up.
                warn!(child = %name, %error, "first Child SA not created");
                cx.tables.counters.bump(error.counter());
                if matches!(error, Error::PeerError(_)) {
                    child.abandon(cx);
                } else {
                    // The peer installed a Child SA we cannot use: it gets a DELETE.
                    unused = Some(child.spi_in());
                    child.keep_spi();
                }
                cx.out.event(Event::ChildSaFailed {
                    ike: cx.sa.id,
                    name,
                    reason: FailureReason::Protocol(error),
                });
            }
        }
        let mut established = Established::new(peer);
        if let Some(spi) = unused {
            established.tasks.push_back(Task::DeleteUnused(spi));
        }
        queue_start_children(cx, first.as_deref(), &mut established);
        Ok(established)
    }
}

/// Answers IKE_AUTH as responder ([RFC 7296 §1.2]): picks the connection for the peer's
/// identity, verifies its AUTH, authenticates us and creates the first Child SA. Nothing is
/// established and nothing installed unless the peer's AUTH verifies.
///
/// [RFC 7296 §1.2]: https://www.rfc-editor.org/rfc/rfc7296#section-1.2
pub(crate) fn respond(cx: &mut SaContext<'_>, replied: &Replied, request: &Message) -> AuthOutcome {
    let init = &replied.init;
    let verified = (|| {
        let id_i = request.require(PayloadType::IDI, Message::id_i)?;
        let auth_payload = request.require(PayloadType::AUTH, Message::auth)?;
        let identity = Identity::from_payload(id_i)
            .ok_or(Error::AuthenticationFailed(AuthFailure::IdentityMismatch))?;
        let connection = choose_connection(cx, &identity).ok_or(Error::AuthenticationFailed(
            AuthFailure::NoMatchingConnection,
        ))?;
        cx.sa.connection = connection;
        let keys = cx.sa.keys.as_ref().ok_or(Error::TemporaryFailure)?;
        auth::verify(
            &cx.sa.connection.remote_auth,
            keys.prf,
            &SignedOctets {
                init_message: &init.request,
                peer_nonce: &init.nonce_r,
                id: id_i,
                sk_p: &keys.keys.sk_pi,
            },
            auth_payload,
            identity,
        )
        .map_err(Error::AuthenticationFailed)
    })();
    let peer = match verified {
        Ok(peer) => peer,
        Err(error) => {
            // RFC 7296 §2.21.2: AUTHENTICATION_FAILED (or the syntax error), then the IKE SA
            // is gone without further messages.
            warn!(%error, "IKE_AUTH rejected");
            cx.tables.counters.bump(error.counter());
            let body = match &error {
                Error::Malformed(_) | Error::PeerMisbehaved(_) => error_body(&error),
                _ => Body::error(NotifyType::AUTHENTICATION_FAILED, Vec::new()),
            };
            return AuthOutcome {
                body,
                established: None,
                error: Some(error),
            };
        }
    };
    let connection = cx.sa.connection.clone();
    let local_id = local_identity(&connection, cx.sa.local.ip());
    let id_r = local_id.to_payload();
    let Some(keys) = cx.sa.keys.as_ref() else {
        return AuthOutcome {
            body: Body::error(NotifyType::TEMPORARY_FAILURE, Vec::new()),
            established: None,
            error: Some(Error::TemporaryFailure),
        };
    };
    let auth = auth::sign(
        &connection.local_auth,
        keys.prf,
        &SignedOctets {
            init_message: &init.response,
            peer_nonce: &init.nonce_i,
            id: &id_r,
            sk_p: &keys.keys.sk_pr,
        },
    );
    cx.sa.local_id = Some(local_id);
    established(cx, &peer, request);
    cx.sa.initial_contact = request.has_notify(NotifyType::INITIAL_CONTACT);
    let mut body = Body::new();
    body.push(Payload::IdR(id_r));
    body.push(Payload::Auth(auth));
    if request.sa().is_some() {
        match respond_child(cx, request, &init.nonce_i, (&init.nonce_r, true), None) {
            Ok((_, payloads)) => body.payloads.extend(payloads),
            Err(error) => {
                // RFC 7296 §1.2: the IKE SA is established even if the Child SA is not.
                warn!(%error, "first Child SA refused");
                cx.tables.counters.bump(error.counter());
                body.payloads.extend(error_body(&error).payloads);
            }
        }
    }
    announce_rfc6311(&connection, &mut body);
    AuthOutcome {
        body,
        established: Some(Established::new(peer)),
        error: None,
    }
}

/// Records the SA as established and reports it.
fn established(cx: &mut SaContext<'_>, peer: &auth::PeerAuthenticated, message: &Message) {
    let random = crate::tables::random_u32(cx.crypto).unwrap_or(0);
    let sa = &mut *cx.sa;
    sa.set_established(cx.now, random);
    let ours = sa.connection.rfc6311;
    sa.rfc6311 = Rfc6311Support {
        message_id_sync: ours && message.has_notify(NotifyType::IKEV2_MESSAGE_ID_SYNC_SUPPORTED),
        replay_counter_sync: ours
            && message.has_notify(NotifyType::IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED),
    };
    let local_id = sa
        .local_id
        .clone()
        .unwrap_or_else(|| Identity::from_ip(sa.local.ip()));
    info!(remote = %sa.remote, remote_id = %peer.remote_id(), method = %peer.method(),
        "IKE SA established");
    cx.out.event(Event::IkeSaEstablished {
        ike: sa.id,
        connection: sa.connection.name.clone(),
        spis: sa.spis(),
        initiator: sa.initiator,
        local: sa.local,
        remote: sa.remote,
        local_id,
        remote_id: peer.remote_id().clone(),
    });
}

/// Queues CREATE_CHILD_SA for every other Child SA config with a start action (not the one
/// tried in IKE_AUTH, even if it failed: retrying at once would fail the same way).
fn queue_start_children(cx: &SaContext<'_>, first: Option<&str>, established: &mut Established) {
    for config in &cx.sa.connection.children {
        if config.start_action == StartAction::Start && Some(config.name.as_str()) != first {
            established
                .tasks
                .push_back(Task::CreateChild(config.name.clone()));
        }
    }
}

/// The connection for a peer that claims `identity`: the SA's current one if it accepts it,
/// else the first that matches the addresses and identity.
fn choose_connection(
    cx: &SaContext<'_>,
    identity: &Identity,
) -> Option<std::sync::Arc<Connection>> {
    let accepts = |c: &Connection| {
        c.remote_id.as_ref().is_none_or(|wanted| wanted == identity)
            && (c.remote_addrs.is_empty() || c.remote_addrs.contains(&cx.sa.remote.ip()))
            && (c.local_addrs.is_empty()
                || cx.sa.local.ip().is_unspecified()
                || c.local_addrs.contains(&cx.sa.local.ip()))
    };
    if accepts(&cx.sa.connection) {
        return Some(cx.sa.connection.clone());
    }
    cx.connections.iter().find(|c| accepts(c)).cloned()
}

/// Our identity: configured, else our IP address.
fn local_identity(connection: &Connection, address: IpAddr) -> Identity {
    connection
        .local_id
        .clone()
        .unwrap_or_else(|| Identity::from_ip(address))
}

/// RFC 6311 §3: announce message-ID and replay-counter sync support in IKE_AUTH.
fn announce_rfc6311(connection: &Connection, body: &mut Body) {
    if connection.rfc6311 {
        body.notify(NotifyType::IKEV2_MESSAGE_ID_SYNC_SUPPORTED, Vec::new());
        body.notify(NotifyType::IPSEC_REPLAY_COUNTER_SYNC_SUPPORTED, Vec::new());
    }
}
