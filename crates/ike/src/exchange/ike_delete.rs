//! Deleting the IKE SA with INFORMATIONAL ([RFC 7296 §1.4.1]): the Child SAs go with it.
//!
//! [RFC 7296 §1.4.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.4.1

use hitless_wire::ike::DeletePayload;
use hitless_wire::ike::Payload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::ProtocolId;

use super::Flow;
use super::SaContext;
use crate::event::DeleteReason;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;

/// The initiator of an IKE SA delete.
pub(crate) struct Initiator;

impl Initiator {
    /// The request: one Delete payload for protocol IKE, without SPIs (§3.11).
    pub(crate) fn start(_cx: &mut SaContext<'_>) -> (Self, Request) {
        let mut body = Body::new();
        body.push(Payload::Delete(DeletePayload {
            protocol: ProtocolId::IKE,
            spis: Vec::new(),
        }));
        (
            Self,
            Request {
                exchange: ExchangeType::INFORMATIONAL,
                body,
            },
        )
    }

    /// Any response ends the IKE SA.
    pub(crate) fn handle_response(self, _cx: &mut SaContext<'_>, _response: &Message) -> Flow {
        Flow::Deleted(DeleteReason::Local)
    }
}

/// The peer deletes the IKE SA: answer with an empty INFORMATIONAL, then remove everything
/// (§1.4.1).
pub(crate) fn respond(_cx: &mut SaContext<'_>) -> (Body, Flow) {
    (Body::new(), Flow::Deleted(DeleteReason::Peer))
}
