//! Liveness checks ([RFC 7296 §2.4]): an empty INFORMATIONAL request after a period without
//! inbound traffic. A peer that answers is alive (every authentic message counts); one that
//! does not is declared dead by the window's retransmission limit, and the IKE SA and its Child
//! SAs are removed.
//!
//! [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4

use hitless_wire::registry::ExchangeType;

use super::Flow;
use super::SaContext;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;

/// The initiator of a liveness check.
pub(crate) struct Initiator;

impl Initiator {
    /// An empty INFORMATIONAL request.
    pub(crate) fn start(_cx: &mut SaContext<'_>) -> (Self, Request) {
        (
            Self,
            Request {
                exchange: ExchangeType::INFORMATIONAL,
                body: Body::new(),
            },
        )
    }

    /// The peer is alive; the window already recorded it.
    pub(crate) fn handle_response(self, _cx: &mut SaContext<'_>, _response: &Message) -> Flow {
        Flow::Continue
    }
}
