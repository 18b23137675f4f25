//! Deleting Child SAs with INFORMATIONAL ([RFC 7296 §1.4.1]): the request names our inbound
//! SPIs, the response names the paired SPIs of the other direction.
//!
//! [RFC 7296 §1.4.1]: https://www.rfc-editor.org/rfc/rfc7296#section-1.4.1

use hitless_sadb::Spi;
use hitless_wire::ike::DeletePayload;
use hitless_wire::ike::Payload;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::ProtocolId;
use tracing::debug;

use super::Flow;
use super::SaContext;
use crate::child_sa::ChildState;
use crate::event::DeleteReason;
use crate::ids::ChildSaId;
use crate::message::Body;
use crate::message::Message;
use crate::message::Request;

/// The initiator of a Child SA delete.
pub(crate) struct Initiator {
    children: Vec<ChildSaId>,
    /// Our SPIs of SAs only the peer installed (see [`Task::DeleteUnused`]).
    ///
    /// [`Task::DeleteUnused`]: super::Task::DeleteUnused
    unused: Vec<Spi>,
    /// Why, for the event.
    reason: DeleteReason,
}

impl Initiator {
    /// Starts deleting `child`; `None` if it is gone or already being deleted.
    pub(crate) fn start(cx: &mut SaContext<'_>, child: ChildSaId) -> Option<(Self, Request)> {
        let sa = cx.sa.children.get_mut(&child)?;
        match sa.state {
            ChildState::Deleting => return None,
            // The old SA of a rekey: its inbound SA lingers after the delete.
            ChildState::Rekeyed { .. } => {}
            ChildState::Installed | ChildState::Rekeying => sa.state = ChildState::Deleting,
        }
        let spi = sa.spi_in;
        Some((
            Self {
                children: vec![child],
                unused: Vec::new(),
                reason: DeleteReason::Local,
            },
            request(spi),
        ))
    }

    /// Starts deleting `child` because its hard lifetime passed or one of its SAs reached a
    /// hard limit (RFC 4301 §4.4.2.1); `None` if it is gone, already being deleted, or
    /// already replaced by a rekey (it lingers, and the rekey deletes it).
    pub(crate) fn expire(cx: &mut SaContext<'_>, child: ChildSaId) -> Option<(Self, Request)> {
        let state = cx.sa.children.get(&child)?.state;
        if matches!(state, ChildState::Rekeyed { .. }) {
            return None;
        }
        let (mut initiator, request) = Self::start(cx, child)?;
        initiator.reason = DeleteReason::Expired;
        Some((initiator, request))
    }

    /// Deletes the SA the peer installed for our inbound SPI `spi`, which we never installed.
    pub(crate) fn unused(spi: Spi) -> (Self, Request) {
        (
            Self {
                children: Vec::new(),
                unused: vec![spi],
                reason: DeleteReason::Local,
            },
            request(spi),
        )
    }

    /// The initiator of a delete restored from an HA snapshot.
    pub(crate) fn restore(children: Vec<ChildSaId>) -> Self {
        Self {
            children,
            unused: Vec::new(),
            reason: DeleteReason::Local,
        }
    }

    /// The Child SAs being deleted.
    pub(crate) fn children(&self) -> &[ChildSaId] {
        &self.children
    }

    /// The peer confirmed: remove the SAs (RFC 7296 §1.4.1: the initiator removes its inbound
    /// SAs on the response). The response's Delete payloads need no action; a crossing delete
    /// may already have removed them.
    pub(crate) fn handle_response(self, cx: &mut SaContext<'_>, _response: &Message) -> Flow {
        self.finish(cx)
    }

    /// The peer processed the delete.
    pub(crate) fn finish(self, cx: &mut SaContext<'_>) -> Flow {
        for spi in self.unused {
            cx.tables.esp_spis.remove(&spi);
        }
        for child in self.children {
            let rekeyed = cx
                .sa
                .children
                .get(&child)
                .is_some_and(|c| matches!(c.state, ChildState::Rekeyed { .. }));
            if !rekeyed {
                cx.sa.remove_child(cx.out, cx.tables, child, self.reason);
            }
        }
        Flow::Continue
    }
}

/// An INFORMATIONAL request with one Delete payload naming our inbound SPI (§3.11).
fn request(spi: Spi) -> Request {
    let mut body = Body::new();
    body.push(Payload::Delete(DeletePayload {
        protocol: ProtocolId::ESP,
        spis: vec![spi.0],
    }));
    Request {
        exchange: ExchangeType::INFORMATIONAL,
        body,
    }
}

/// Answers Delete payloads for ESP SAs: removes each named Child SA and answers with our paired
/// inbound SPIs. Unknown SPIs are ignored (§1.4.1). A Child SA we are deleting ourselves (the
/// requests crossed) is removed now and left out of the answer, as §1.4.1 requires.
pub(crate) fn respond(cx: &mut SaContext<'_>, request: &Message) -> Body {
    let mut paired = Vec::new();
    let spis: Vec<u32> = request
        .deletes()
        .filter(|d| d.protocol == ProtocolId::ESP)
        .flat_map(|d| d.spis.iter().copied())
        .collect();
    for spi in spis {
        let Some((id, state, spi_in)) = cx
            .sa
            .children
            .values()
            .find(|c| c.spi_out.0 == spi)
            .map(|c| (c.id, c.state, c.spi_in))
        else {
            debug!(spi = %Spi(spi), "delete for an unknown Child SA");
            continue;
        };
        let crossing = state == ChildState::Deleting;
        if let Some(successor) = cx.sa.pending_successor(id) {
            // RFC 7296 §2.8: the initiator of a rekey deletes the old SA once it sends on the
            // new one; switch our outbound now. The old inbound SA lingers.
            cx.sa.switch_outbound(cx.out, cx.now, successor);
        }
        if matches!(
            cx.sa.children.get(&id).map(|c| c.state),
            Some(ChildState::Rekeyed { .. })
        ) {
            paired.push(spi_in.0);
            continue;
        }
        if let Some(child) = cx
            .sa
            .remove_child(cx.out, cx.tables, id, DeleteReason::Peer)
            && !crossing
        {
            paired.push(child.spi_in.0);
        }
    }
    let mut body = Body::new();
    if !paired.is_empty() {
        body.push(Payload::Delete(DeletePayload {
            protocol: ProtocolId::ESP,
            spis: paired,
        }));
    }
    body
}
