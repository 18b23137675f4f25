//! Message IDs, the request window, retransmission of our requests and the response cache for
//! the peer's retransmissions ([RFC 7296 §2.1–§2.3]). This is the only place that assigns
//! message IDs or decides about retransmissions; exchanges never schedule their own.
//!
//! The window size is 1 in both directions (SET_WINDOW_SIZE is not sent).
//!
//! [RFC 7296 §2.1–§2.3]: https://www.rfc-editor.org/rfc/rfc7296#section-2.1

use std::time::Instant;

use hitless_wire::registry::ExchangeType;

use crate::ike_sa::retransmit::Backoff;
use crate::snapshot::CachedMessage;
use crate::snapshot::OutstandingRequest;
use crate::snapshot::WindowSnapshot;

/// Both directions of one IKE SA's message exchange.
#[derive(Clone, Debug, Default)]
pub(crate) struct Window {
    next_request: u32,
    outstanding: Option<Outstanding>,
    next_expected: u32,
    last_response: Option<CachedMessage>,
}

/// What an inbound request's message ID means ([RFC 7296 §2.2]).
///
/// [RFC 7296 §2.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.2
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub(crate) enum RequestCheck {
    /// The next request: process it.
    New,
    /// A retransmission of the request we answered last: resend the cached response without
    /// processing it again (§2.1).
    Retransmit,
    /// Outside the window: drop it.
    OutOfWindow,
}

/// What the retransmission timer wants done.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) enum RetransmitAction {
    /// Nothing is due.
    Idle,
    /// Send this message again.
    Resend(Vec<u8>),
    /// The request went unanswered through every retransmission: the peer is dead (§2.4).
    GiveUp(ExchangeType),
}

#[derive(Clone, Debug)]
struct Outstanding {
    message_id: u32,
    exchange: ExchangeType,
    message: Vec<u8>,
    retransmits: u32,
    deadline: Option<Instant>,
}

impl Window {
    /// A window for a new IKE SA: both counters at zero.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Restores a window from a snapshot. The outstanding request (if any) gets no deadline
    /// until [`Window::arm`].
    pub(crate) fn from_snapshot(snapshot: &WindowSnapshot) -> Self {
        Self {
            next_request: snapshot.next_request,
            outstanding: snapshot.outstanding.as_ref().map(|o| Outstanding {
                message_id: o.message_id,
                exchange: o.exchange,
                message: o.message.clone(),
                retransmits: o.retransmits,
                deadline: None,
            }),
            next_expected: snapshot.next_expected,
            last_response: snapshot.last_response.clone(),
        }
    }

    /// Whether a new request may be sent (window size 1, §2.3).
    pub(crate) fn can_send(&self) -> bool {
        self.outstanding.is_none()
    }

    /// The message ID the next request will carry.
    pub(crate) fn next_request_id(&self) -> u32 {
        self.next_request
    }

    /// The message ID expected on the peer's next request.
    pub(crate) fn next_expected(&self) -> u32 {
        self.next_expected
    }

    /// Records that request `message` (built with [`Window::next_request_id`]) was sent at
    /// `now`; its first retransmission is due after `timeout`.
    pub(crate) fn request_sent(
        &mut self,
        now: Instant,
        exchange: ExchangeType,
        message: Vec<u8>,
        timeout: std::time::Duration,
    ) {
        debug_assert!(self.outstanding.is_none(), "window size is 1");
        self.outstanding = Some(Outstanding {
            message_id: self.next_request,
            exchange,
            message,
            retransmits: 0,
            deadline: now.checked_add(timeout),
        });
        self.next_request = self.next_request.wrapping_add(1);
    }

    /// Sends a new request under an already used message ID: the IKE_SA_INIT retries of
    /// §1.2 (INVALID_KE_PAYLOAD) and §2.6 (COOKIE), after the response that asked for them.
    pub(crate) fn retry_request(
        &mut self,
        now: Instant,
        message_id: u32,
        exchange: ExchangeType,
        message: Vec<u8>,
        timeout: std::time::Duration,
    ) {
        self.outstanding = Some(Outstanding {
            message_id,
            exchange,
            message,
            retransmits: 0,
            deadline: now.checked_add(timeout),
        });
    }

    /// Whether a response with `message_id` answers our outstanding request (§2.2: anything
    /// else is dropped).
    pub(crate) fn matches_response(&self, message_id: u32) -> bool {
        self.outstanding
            .as_ref()
            .is_some_and(|o| o.message_id == message_id)
    }

    /// The outstanding request was answered.
    pub(crate) fn response_received(&mut self) {
        self.outstanding = None;
    }

    /// Classifies an inbound request.
    pub(crate) fn check_request(&self, message_id: u32) -> RequestCheck {
        if message_id == self.next_expected {
            return RequestCheck::New;
        }
        match &self.last_response {
            Some(cached) if cached.message_id == message_id => RequestCheck::Retransmit,
            _ => RequestCheck::OutOfWindow,
        }
    }

    /// The cached response to retransmit.
    pub(crate) fn cached_response(&self) -> Option<&[u8]> {
        self.last_response.as_ref().map(|c| c.message.as_slice())
    }

    /// Records our response to request `message_id` and moves the window (§2.2).
    pub(crate) fn response_sent(&mut self, message_id: u32, message: Vec<u8>) {
        self.last_response = Some(CachedMessage {
            message_id,
            message,
        });
        self.next_expected = message_id.wrapping_add(1);
    }

    /// The outstanding request: its message ID, exchange type and encoded bytes.
    pub(crate) fn outstanding_request(&self) -> Option<(u32, ExchangeType, &[u8])> {
        self.outstanding
            .as_ref()
            .map(|o| (o.message_id, o.exchange, o.message.as_slice()))
    }

    /// Moves both counters to the values agreed with the peer by IKEV2_MESSAGE_ID_SYNC
    /// ([RFC 6311 §5.1]), never back. The response cache stays: the peer may still
    /// retransmit the request it answers.
    ///
    /// [RFC 6311 §5.1]: https://www.rfc-editor.org/rfc/rfc6311#section-5.1
    pub(crate) fn resync(&mut self, next_request: u32, next_expected: u32) {
        self.next_request = self.next_request.max(next_request);
        self.next_expected = self.next_expected.max(next_expected);
    }

    /// When the retransmission timer fires next.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.outstanding.as_ref().and_then(|o| o.deadline)
    }

    /// The exchange type of the outstanding request.
    pub(crate) fn outstanding_exchange(&self) -> Option<ExchangeType> {
        self.outstanding.as_ref().map(|o| o.exchange)
    }

    /// Retransmits or gives up when the timer is due (§2.1). `random` feeds the jitter.
    pub(crate) fn poll_retransmit(
        &mut self,
        now: Instant,
        backoff: &Backoff,
        random: u32,
    ) -> RetransmitAction {
        let Some(outstanding) = &mut self.outstanding else {
            return RetransmitAction::Idle;
        };
        match outstanding.deadline {
            Some(deadline) if deadline <= now => {}
            _ => return RetransmitAction::Idle,
        }
        if outstanding.retransmits >= backoff.tries() {
            outstanding.deadline = None;
            return RetransmitAction::GiveUp(outstanding.exchange);
        }
        outstanding.retransmits += 1;
        outstanding.deadline = now.checked_add(backoff.timeout(outstanding.retransmits, random));
        RetransmitAction::Resend(outstanding.message.clone())
    }

    /// Arms the retransmission timer of a restored outstanding request (HA takeover): it is
    /// resent at once.
    pub(crate) fn arm(&mut self, now: Instant) {
        if let Some(outstanding) = &mut self.outstanding {
            outstanding.deadline = Some(now);
        }
    }

    /// Stops the retransmission timer (a passive SA).
    pub(crate) fn disarm(&mut self) {
        if let Some(outstanding) = &mut self.outstanding {
            outstanding.deadline = None;
        }
    }

    /// Everything, for an HA snapshot.
    pub(crate) fn snapshot(&self) -> WindowSnapshot {
        WindowSnapshot {
            next_request: self.next_request,
            next_expected: self.next_expected,
            outstanding: self.outstanding.as_ref().map(|o| OutstandingRequest {
                message_id: o.message_id,
                exchange: o.exchange,
                message: o.message.clone(),
                retransmits: o.retransmits,
            }),
            last_response: self.last_response.clone(),
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)] // a test needs some origin for its fake clock
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::RetransmitConfig;

    fn backoff() -> Backoff {
        Backoff::new(&RetransmitConfig {
            jitter_percent: 0,
            tries: 2,
            ..RetransmitConfig::default()
        })
    }

    #[test]
    fn requests_and_responses_advance_ids() {
        let now = Instant::now();
        let mut window = Window::new();
        assert!(window.can_send());
        assert_eq!(window.next_request_id(), 0);
        window.request_sent(
            now,
            ExchangeType::IKE_SA_INIT,
            vec![1],
            Duration::from_secs(4),
        );
        assert!(!window.can_send());
        assert!(!window.matches_response(1));
        assert!(window.matches_response(0));
        window.response_received();
        assert_eq!(window.next_request_id(), 1);

        assert_eq!(window.check_request(1), RequestCheck::OutOfWindow);
        assert_eq!(window.check_request(0), RequestCheck::New);
        window.response_sent(0, vec![9]);
        assert_eq!(window.check_request(0), RequestCheck::Retransmit);
        assert_eq!(window.cached_response(), Some(&[9u8][..]));
        assert_eq!(window.check_request(1), RequestCheck::New);
        assert_eq!(window.check_request(2), RequestCheck::OutOfWindow);
    }

    #[test]
    fn retransmits_then_gives_up() {
        let start = Instant::now();
        let mut window = Window::new();
        let backoff = backoff();
        window.request_sent(
            start,
            ExchangeType::INFORMATIONAL,
            vec![7],
            backoff.timeout(0, 0),
        );
        assert_eq!(window.deadline(), Some(start + Duration::from_secs(4)));
        assert_eq!(
            window.poll_retransmit(start + Duration::from_secs(3), &backoff, 0),
            RetransmitAction::Idle
        );
        let t1 = start + Duration::from_secs(4);
        assert_eq!(
            window.poll_retransmit(t1, &backoff, 0),
            RetransmitAction::Resend(vec![7])
        );
        let t2 = window.deadline().unwrap();
        assert_eq!(t2 - t1, Duration::from_secs_f64(7.2));
        assert_eq!(
            window.poll_retransmit(t2, &backoff, 0),
            RetransmitAction::Resend(vec![7])
        );
        let t3 = window.deadline().unwrap();
        assert_eq!(
            window.poll_retransmit(t3, &backoff, 0),
            RetransmitAction::GiveUp(ExchangeType::INFORMATIONAL)
        );
        assert_eq!(window.deadline(), None);
    }

    #[test]
    fn snapshot_round_trip() {
        let now = Instant::now();
        let mut window = Window::new();
        window.request_sent(
            now,
            ExchangeType::IKE_AUTH,
            vec![1, 2],
            Duration::from_secs(4),
        );
        window.response_sent(0, vec![3]);
        let snapshot = window.snapshot();
        let restored = Window::from_snapshot(&snapshot);
        assert_eq!(restored.snapshot(), snapshot);
        assert_eq!(restored.deadline(), None);
    }
}
