//! IKE message-ID synchronisation after an HA failover ([RFC 6311]), in both roles.
//!
//! A cluster that failed over may not know the message IDs its old active node used last (an
//! HA layer that syncs them lazily, not after every exchange). The newly active node sends an
//! INFORMATIONAL request with message ID 0, outside the window ([RFC 7296 §2.2] does not apply
//! to it), protected with the IKE SA's keys, whose only payloads are IKEV2_MESSAGE_ID_SYNC
//! (and possibly IPSEC_REPLAY_COUNTER_SYNC, [`super::replay_sync`]). The notification carries
//! a random nonce, the message ID of the sender's next request (M1) and the one it expects on
//! the peer's next request (P1) ([RFC 6311 §5]). The peer answers at message ID 0 with the nonce
//! echoed and the counters both sides use from then on (P2, M2), by the rules of
//! [RFC 6311 §5.1]:
//!
//! - a request whose M1 is not above the highest message ID the peer has seen from the cluster
//!   (previous sync requests included) is dropped silently; this also defeats replays of old
//!   message-ID-0 requests, which the window cannot;
//! - M2 is the larger of M1 and one more than the highest the peer has seen from the cluster;
//! - P2 is the larger of P1 and one more than the highest the peer has used itself.
//!
//! Only IKE SAs on which both sides announced IKEV2_MESSAGE_ID_SYNC_SUPPORTED in IKE_AUTH
//! ([RFC 6311 §3]) take part.
//!
//! **Peer role** ([`IkeSa::intercept_mid_sync`] for requests): validate, answer, move the
//! window, and re-send a request of ours that was in flight under P2, the ID the cluster now
//! expects (the old node may never have answered it). The answer is cached for the cluster's
//! retransmissions, apart from the window's response cache, until the cluster's next request
//! shows that it arrived.
//!
//! **Cluster role** ([`Initiator`], started by
//! [`Endpoint::activate_with`](crate::Endpoint::activate_with)): the request occupies the window
//! (at message ID 0) and is retransmitted like any request; its response sets both counters.
//! A peer that never answers is dead like one that ignores a liveness check
//! ([RFC 7296 §2.4]).
//!
//! strongSwan's `ike_mid_sync` task answers the same request; this module was written from the
//! RFC, with strongSwan read for behaviour only.
//!
//! [RFC 6311]: https://www.rfc-editor.org/rfc/rfc6311
//! [RFC 6311 §3]: https://www.rfc-editor.org/rfc/rfc6311#section-3
//! [RFC 6311 §5]: https://www.rfc-editor.org/rfc/rfc6311#section-5
//! [RFC 6311 §5.1]: https://www.rfc-editor.org/rfc/rfc6311#section-5.1
//! [RFC 7296 §2.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.2
//! [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4

use hitless_wire::ike;
use hitless_wire::ike::ParsedMessage;
use hitless_wire::ike::Payload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::ProtocolId;
use tracing::debug;
use tracing::info;
use tracing::warn;

use super::Initiating;
use super::SaContext;
use super::replay_sync;
use crate::endpoint::Datagram;
use crate::error::Error;
use crate::error::ErrorCounter;
use crate::ike_sa::Env;
use crate::ike_sa::IkeSa;
use crate::ike_sa::IkeSaCore;
use crate::ike_sa::IkeSaState;
use crate::ike_sa::dispatch::Decode;
use crate::ike_sa::dispatch::log_message;
use crate::ike_sa::dispatch::message_ids_event;
use crate::ike_sa::dispatch::send_request;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;
use crate::tables::Tables;
use crate::tables::random_u32;

/// The most a sync may move a message-ID counter past its current value. Legitimate jumps
/// are the requests an old active node sent since its last sync, a handful to thousands;
/// anything near 2^32 would exhaust the IKE SA.
pub(crate) const MAX_MESSAGE_ID_JUMP: u32 = 1 << 20;

/// The data of an IKEV2_MESSAGE_ID_SYNC notification ([RFC 6311 §5]): a nonce, the message
/// ID of the sender's next request and the one it expects on the other side's next request.
///
/// [RFC 6311 §5]: https://www.rfc-editor.org/rfc/rfc6311#section-5
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) struct MessageIdSync {
    /// Random in a request, echoed in the response.
    pub nonce: [u8; 4],
    /// EXPECTED_SEND_REQ_MESSAGE_ID: the sender's next request (M1 in a request, P2 in a
    /// response).
    pub expected_send: u32,
    /// EXPECTED_RECV_REQ_MESSAGE_ID: what the sender expects next from the other side (P1 in
    /// a request, M2 in a response).
    pub expected_recv: u32,
}

/// The peer role's memory of syncs it answered.
#[derive(Clone, Debug, Default)]
pub(crate) struct PeerSync {
    /// The highest M1 accepted ([RFC 6311 §5.1]: a later sync must go above it).
    ///
    /// [RFC 6311 §5.1]: https://www.rfc-editor.org/rfc/rfc6311#section-5.1
    floor: Option<u32>,
    /// The last sync request answered and the answer, while the cluster has not yet sent a
    /// request under the new counters.
    cached: Option<CachedSync>,
}

#[derive(Clone, Debug)]
struct CachedSync {
    request: Vec<u8>,
    response: Vec<u8>,
    /// The window's `next_expected` right after the sync (M2).
    next_expected: u32,
}

/// The cluster role: the IKEV2_MESSAGE_ID_SYNC request in flight.
#[derive(Debug)]
pub(crate) struct Initiator {
    sent: MessageIdSync,
}

/// What a message-ID-0 INFORMATIONAL holds.
enum Classified {
    /// No sync notification: an ordinary request (the original responder's first request has
    /// message ID 0 too).
    NotSync,
    /// A sync message that breaks the rules.
    Invalid(ErrorCounter),
    /// A well-formed sync message.
    Sync {
        ids: MessageIdSync,
        /// IPSEC_REPLAY_COUNTER_SYNC's delta, if present.
        replay_delta: Option<u64>,
    },
}

impl MessageIdSync {
    /// The notification data is exactly 12 octets.
    pub(crate) const LEN: usize = 12;

    /// Parses notification data; `None` unless it is exactly [`Self::LEN`] octets.
    pub(crate) fn parse(data: &[u8]) -> Option<Self> {
        let data: &[u8; Self::LEN] = data.try_into().ok()?;
        let [n0, n1, n2, n3, s0, s1, s2, s3, r0, r1, r2, r3] = *data;
        Some(Self {
            nonce: [n0, n1, n2, n3],
            expected_send: u32::from_be_bytes([s0, s1, s2, s3]),
            expected_recv: u32::from_be_bytes([r0, r1, r2, r3]),
        })
    }

    /// The notification data.
    pub(crate) fn emit(&self) -> Vec<u8> {
        let mut data = Vec::with_capacity(Self::LEN);
        data.extend_from_slice(&self.nonce);
        data.extend_from_slice(&self.expected_send.to_be_bytes());
        data.extend_from_slice(&self.expected_recv.to_be_bytes());
        data
    }
}

impl Initiator {
    /// Sends IKEV2_MESSAGE_ID_SYNC at message ID 0 with M1 = our next request + `margin` and
    /// P1 = the peer's next request as we know it, plus IPSEC_REPLAY_COUNTER_SYNC when
    /// `replay_delta` is given. The request takes the window (no other request goes out until
    /// the response) and is retransmitted like any request.
    ///
    /// # Errors
    ///
    /// [`Error::Crypto`] when the nonce or the encoding fails.
    pub(crate) fn start(
        cx: &mut SaContext<'_>,
        margin: u32,
        replay_delta: Option<u64>,
    ) -> Result<Self, Error> {
        let mut nonce = [0; 4];
        cx.crypto.fill_random(&mut nonce)?;
        let window = &cx.sa.window;
        let sent = MessageIdSync {
            nonce,
            expected_send: window
                .next_request_id()
                .saturating_add(margin.min(MAX_MESSAGE_ID_JUMP)),
            expected_recv: window.next_expected(),
        };
        let mut body = Body::new();
        body.notify(NotifyType::IKEV2_MESSAGE_ID_SYNC, sent.emit());
        if let Some(delta) = replay_delta {
            body.notify(
                NotifyType::IPSEC_REPLAY_COUNTER_SYNC,
                replay_sync::emit_delta(delta),
            );
        }
        let core = &mut *cx.sa;
        let header = core.header(ExchangeType::INFORMATIONAL, false, 0);
        let bytes = core.encode(cx.crypto, &header, &body)?;
        log_message(
            ">",
            &Message {
                header,
                payloads: body.payloads,
            },
        );
        let timeout = core.backoff.timeout(0, random_u32(cx.crypto).unwrap_or(0));
        // Message ID 0 is outside the counters: the window holds it without moving them.
        core.window.retry_request(
            cx.now,
            0,
            ExchangeType::INFORMATIONAL,
            bytes.clone(),
            timeout,
        );
        core.send(cx.now, cx.out, bytes);
        info!(
            m1 = sent.expected_send,
            p1 = sent.expected_recv,
            replay_delta,
            "RFC 6311 message-ID sync sent"
        );
        Ok(Self { sent })
    }
}

impl IkeSa {
    /// Takes an INFORMATIONAL message at message ID 0 that is an RFC 6311 sync (a request from
    /// a cluster, or the response to ours) before the window sees it. Returns whether it was
    /// consumed; anything else goes the ordinary way.
    pub(crate) fn intercept_mid_sync(
        &mut self,
        env: &mut Env<'_>,
        datagram: &Datagram<'_>,
        parsed: &ParsedMessage<'_>,
    ) -> bool {
        let header = parsed.header;
        if header.exchange != ExchangeType::INFORMATIONAL || header.message_id != 0 {
            return false;
        }
        let IkeSaState::Established(established) = &self.state else {
            return false;
        };
        if header.flags.response {
            if !matches!(established.active, Some(Initiating::MidSync(_)))
                || !self.core.window.matches_response(0)
            {
                return false;
            }
            self.on_sync_response(env, datagram, parsed);
            return true;
        }
        // RFC 7296 §2.1 in spirit: a retransmission of the sync we answered gets the same
        // answer, without being processed again.
        if let Some(cached) = &self.core.mid_sync.cached
            && cached.request == datagram.payload
            && cached.next_expected == self.core.window.next_expected()
        {
            debug!("retransmitted message-ID sync; resending the cached answer");
            env.tables.counters.bump(ErrorCounter::RetransmittedRequest);
            let response = cached.response.clone();
            self.core
                .send_to(env.now, env.out, datagram.local, datagram.remote, response);
            return true;
        }
        let message = match self.decode(env, parsed) {
            Ok(message) => message,
            // Unauthenticated: already counted. Authentic but unparsable: count it here; a
            // message-ID-0 request gets no error response (the window never saw it).
            Err(Decode::Drop) => return true,
            Err(Decode::Malformed(error)) => {
                debug!(%error, "malformed message at message ID 0");
                env.tables.counters.bump(ErrorCounter::Malformed);
                self.core.counters.dropped += 1;
                return true;
            }
        };
        match classify(&message) {
            Classified::NotSync => false,
            Classified::Invalid(counter) => {
                log_message("<", &message);
                debug!(?counter, "dropping invalid message-ID sync request");
                self.drop_sync(env, counter);
                true
            }
            Classified::Sync { ids, replay_delta } => {
                log_message("<", &message);
                self.answer_sync(env, datagram, ids, replay_delta);
                true
            }
        }
    }

    /// The peer role: apply a well-formed sync request and answer it ([RFC 6311 §5.1]).
    ///
    /// [RFC 6311 §5.1]: https://www.rfc-editor.org/rfc/rfc6311#section-5.1
    fn answer_sync(
        &mut self,
        env: &mut Env<'_>,
        datagram: &Datagram<'_>,
        request: MessageIdSync,
        replay_delta: Option<u64>,
    ) {
        let core = &mut self.core;
        if !core.rfc6311.message_id_sync {
            // RFC 6311 §3: only when both sides announced support.
            debug!("message-ID sync on an IKE SA that did not negotiate it");
            self.drop_sync(env, ErrorCounter::SyncNotNegotiated);
            return;
        }
        let expected = core.window.next_expected();
        let m1 = request.expected_send;
        // RFC 6311 §5.1: drop silently unless M1 is above the highest value seen from the
        // cluster, earlier sync requests included.
        if m1 < expected || core.mid_sync.floor.is_some_and(|floor| m1 <= floor) {
            debug!(
                m1,
                expected, "dropping message-ID sync with a stale sender counter"
            );
            self.drop_sync(env, ErrorCounter::SyncStale);
            return;
        }
        let ours = core.window.next_request_id();
        let p1 = request.expected_recv;
        if m1 - expected > MAX_MESSAGE_ID_JUMP || p1.saturating_sub(ours) > MAX_MESSAGE_ID_JUMP {
            warn!(
                m1,
                p1, expected, ours, "message-ID sync beyond the sanity bound"
            );
            self.drop_sync(env, ErrorCounter::SyncOutOfBounds);
            return;
        }
        self.note_inbound(env, datagram, true);
        let core = &mut self.core;
        // RFC 6311 §5.1: M2 is at least M1 and one more than the highest seen (M1 is above it);
        // P2 is the larger of P1 and one more than the highest we used. A request of ours in
        // flight used `ours - 1`: it goes again under P2 below.
        let m2 = m1;
        let p2 = p1.max(ours);
        let mut rekey = Vec::new();
        if let Some(delta) = replay_delta {
            if core.rfc6311.replay_counter_sync {
                rekey = replay_sync::skip_outbound(&mut env.cx(core), delta);
            } else {
                debug!("IPSEC_REPLAY_COUNTER_SYNC on an IKE SA that did not negotiate it");
                env.tables.counters.bump(ErrorCounter::SyncNotNegotiated);
            }
        }
        let answer = MessageIdSync {
            nonce: request.nonce,
            expected_send: p2,
            expected_recv: m2,
        };
        let mut body = Body::new();
        body.notify(NotifyType::IKEV2_MESSAGE_ID_SYNC, answer.emit());
        let header = core.header(ExchangeType::INFORMATIONAL, true, 0);
        let bytes = match core.encode(env.crypto, &header, &body) {
            Ok(bytes) => bytes,
            Err(error) => {
                warn!(%error, "cannot encode the message-ID sync answer");
                return;
            }
        };
        log_message(
            ">",
            &Message {
                header,
                payloads: body.payloads,
            },
        );
        core.send_to(
            env.now,
            env.out,
            datagram.local,
            datagram.remote,
            bytes.clone(),
        );
        core.mid_sync = PeerSync {
            floor: Some(m1),
            cached: Some(CachedSync {
                request: datagram.payload.to_vec(),
                response: bytes,
                next_expected: m2,
            }),
        };
        info!(
            m1,
            p1,
            m2,
            p2,
            was_expecting = expected,
            was_sending = ours,
            "answered RFC 6311 message-ID sync"
        );
        let reissue = reissue_outstanding(core);
        core.window.resync(p2, m2);
        match reissue {
            Some(request) => {
                // The cluster expects P2 next: our request in flight goes again under it.
                if let Err(error) = send_request(core, env, request) {
                    warn!(%error, "cannot re-send the request in flight");
                }
            }
            None => env.out.event(message_ids_event(core)),
        }
        for task in rekey {
            self.queue(env, task);
        }
    }

    /// The cluster role: the response to our sync request.
    fn on_sync_response(
        &mut self,
        env: &mut Env<'_>,
        datagram: &Datagram<'_>,
        parsed: &ParsedMessage<'_>,
    ) {
        let message = match self.decode(env, parsed) {
            Ok(message) => message,
            Err(Decode::Drop) => return,
            Err(Decode::Malformed(error)) => {
                debug!(%error, "malformed message-ID sync response");
                self.drop_sync(env, ErrorCounter::Malformed);
                return;
            }
        };
        log_message("<", &message);
        let IkeSaState::Established(established) = &mut self.state else {
            return;
        };
        let Some(Initiating::MidSync(initiator)) = &established.active else {
            return;
        };
        let sent = initiator.sent;
        let answer = match classify(&message) {
            Classified::Sync {
                ids,
                replay_delta: None,
            } => ids,
            Classified::NotSync | Classified::Sync { .. } => {
                self.drop_sync(env, ErrorCounter::SyncMalformed);
                return;
            }
            Classified::Invalid(counter) => {
                self.drop_sync(env, counter);
                return;
            }
        };
        if answer.nonce != sent.nonce {
            // RFC 6311 §5: the response echoes the request's nonce; another is a delayed answer
            // to an earlier sync. Keep waiting for ours.
            debug!("message-ID sync response with a foreign nonce");
            self.drop_sync(env, ErrorCounter::SyncNonceMismatch);
            return;
        }
        let (p2, m2) = (answer.expected_send, answer.expected_recv);
        // RFC 6311 §5.1: M2 is at least M1 and P2 at least P1.
        let sane = |got: u32, floor: u32| {
            got.checked_sub(floor)
                .is_some_and(|jump| jump <= MAX_MESSAGE_ID_JUMP)
        };
        if !sane(m2, sent.expected_send) || !sane(p2, sent.expected_recv) {
            warn!(
                m1 = sent.expected_send,
                p1 = sent.expected_recv,
                m2,
                p2,
                "peer's message-ID sync answer breaks RFC 6311 §5.1"
            );
            self.drop_sync(env, ErrorCounter::SyncOutOfBounds);
            return;
        }
        established.active = None;
        self.core.window.response_received();
        self.core.window.resync(m2, p2);
        self.note_inbound(env, datagram, true);
        info!(m2, p2, "RFC 6311 message-ID sync completed");
        env.out.event(message_ids_event(&self.core));
    }

    fn drop_sync(&mut self, env: &mut Env<'_>, counter: ErrorCounter) {
        env.tables.counters.bump(counter);
        self.core.counters.dropped += 1;
    }
}

/// Counts RFC 6311 sync notifications in a message the window accepted (any exchange, a
/// message ID other than 0): they are ignored there ([RFC 6311 §5]).
///
/// [RFC 6311 §5]: https://www.rfc-editor.org/rfc/rfc6311#section-5
pub(crate) fn count_misplaced(tables: &mut Tables, message: &Message) {
    if message.notifies().any(|n| is_sync_notify(n.notify_type)) {
        debug!(exchange = %message.header.exchange, mid = message.header.message_id,
            "ignoring RFC 6311 sync notification outside message ID 0");
        tables.counters.bump(ErrorCounter::SyncMisplaced);
    }
}

/// Sorts a message-ID-0 INFORMATIONAL ([RFC 6311 §5]): an IKEV2_MESSAGE_ID_SYNC with at most
/// one IPSEC_REPLAY_COUNTER_SYNC and no other payload, each of the exact size.
///
/// [RFC 6311 §5]: https://www.rfc-editor.org/rfc/rfc6311#section-5
fn classify(message: &Message) -> Classified {
    let has_sync = message.notifies().any(|n| is_sync_notify(n.notify_type));
    if !has_sync {
        return Classified::NotSync;
    }
    let mut ids = None;
    let mut replay_delta = None;
    for payload in &message.payloads {
        let Payload::Notify(notify) = payload else {
            return Classified::Invalid(ErrorCounter::SyncMalformed);
        };
        if notify.protocol != ProtocolId::NONE || !notify.spi.is_empty() {
            return Classified::Invalid(ErrorCounter::SyncMalformed);
        }
        let fresh = match notify.notify_type {
            NotifyType::IKEV2_MESSAGE_ID_SYNC => {
                let Some(parsed) = MessageIdSync::parse(&notify.data) else {
                    return Classified::Invalid(ErrorCounter::SyncMalformed);
                };
                ids.replace(parsed).is_none()
            }
            NotifyType::IPSEC_REPLAY_COUNTER_SYNC => {
                let Some(delta) = replay_sync::parse_delta(&notify.data) else {
                    return Classified::Invalid(ErrorCounter::SyncMalformed);
                };
                replay_delta.replace(delta).is_none()
            }
            _ => false,
        };
        if !fresh {
            return Classified::Invalid(ErrorCounter::SyncMalformed);
        }
    }
    match ids {
        Some(ids) => Classified::Sync { ids, replay_delta },
        None => Classified::Invalid(ErrorCounter::SyncMalformed),
    }
}

fn is_sync_notify(kind: NotifyType) -> bool {
    kind == NotifyType::IKEV2_MESSAGE_ID_SYNC || kind == NotifyType::IPSEC_REPLAY_COUNTER_SYNC
}

/// Takes our request in flight (not a message-ID-0 sync of our own) out of the window and
/// returns it for sending again under a new message ID. `None` when there is none or it cannot
/// be opened (then it stays and is retransmitted as it was).
fn reissue_outstanding(core: &mut IkeSaCore) -> Option<Request> {
    let (message_id, exchange, bytes) = core.window.outstanding_request()?;
    if message_id == 0 {
        return None;
    }
    let keys = core.keys.as_ref()?;
    // Our own message opens with our keys: `open` picks them by the I flag.
    let payloads = ike::parse_message(bytes)
        .ok()
        .and_then(|parsed| keys.open(&parsed).ok())?;
    core.window.response_received();
    Some(Request {
        exchange,
        body: Body { payloads },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_data_round_trip_and_exact_length() {
        let ids = MessageIdSync {
            nonce: [1, 2, 3, 4],
            expected_send: 0x0102_0304,
            expected_recv: 7,
        };
        let data = ids.emit();
        assert_eq!(data, [1, 2, 3, 4, 1, 2, 3, 4, 0, 0, 0, 7]);
        assert_eq!(MessageIdSync::parse(&data), Some(ids));
        assert_eq!(MessageIdSync::parse(&data[..11]), None);
        assert_eq!(MessageIdSync::parse(&[]), None);
        let mut long = data;
        long.push(0);
        assert_eq!(MessageIdSync::parse(&long), None);
    }
}
