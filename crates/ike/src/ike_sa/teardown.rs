//! Ending IKE SAs and Child SAs: the SA commands that remove them, the events, and the tables.

use std::time::Instant;

use tracing::info;
use tracing::warn;

use super::Env;
use super::IkeSa;
use super::IkeSaCore;
use super::IkeSaState;
use crate::child_sa::ChildSa;
use crate::child_sa::ChildState;
use crate::child_sa::Outbound;
use crate::event::DeleteReason;
use crate::event::Event;
use crate::event::FailureReason;
use crate::ids::ChildSaId;
use crate::output::OutputQueue;
use crate::tables::Tables;

impl IkeSa {
    /// The IKE SA failed: remove its Child SAs and report it. Nothing is sent.
    pub(crate) fn fail(&mut self, env: &mut Env<'_>, reason: FailureReason) {
        warn!(?reason, "IKE SA failed");
        if !self.hand_over_before_closing(env) {
            self.core
                .remove_children(env.out, env.tables, DeleteReason::IkeSaGone);
        }
        env.out.event(Event::IkeSaFailed {
            ike: self.core.id,
            connection: self.core.connection.name.clone(),
            spis: self.core.spis(),
            remote: self.core.remote,
            reason,
        });
        self.state = IkeSaState::Dead;
    }

    /// The IKE SA was deleted: remove its Child SAs and report it.
    pub(crate) fn close(&mut self, env: &mut Env<'_>, reason: DeleteReason) {
        // A superseded SA goes because of the rekey, whoever sent the delete; so does a
        // redundant one from simultaneous rekeys (RFC 7296 §2.8.2).
        let reason = if self.core.superseded.is_some()
            || env.tables.provisional.contains_key(&self.core.id)
        {
            DeleteReason::Rekeyed
        } else {
            reason
        };
        info!(?reason, "IKE SA deleted");
        if !self.hand_over_before_closing(env) {
            self.core
                .remove_children(env.out, env.tables, DeleteReason::IkeSaGone);
        }
        env.out.event(Event::IkeSaDeleted {
            ike: self.core.id,
            spis: self.core.spis(),
            reason,
        });
        self.state = IkeSaState::Dead;
    }
}

impl IkeSaCore {
    /// The initiator of a rekey, or a responder that switched: every other Child SA in the
    /// new one's slot (the replaced one, and a redundant one from a rekey collision) stops
    /// sending, and its inbound SA lingers for packets in flight ([RFC 7296 §2.8]).
    ///
    /// [RFC 7296 §2.8]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8
    pub(crate) fn retire_predecessors(
        &mut self,
        out: &mut OutputQueue,
        now: Instant,
        new: ChildSaId,
    ) {
        let Some(reqid) = self.children.get(&new).map(|c| c.reqid) else {
            return;
        };
        for old in self.children.values_mut() {
            if old.id == new
                || old.reqid != reqid
                || matches!(old.state, ChildState::Rekeyed { .. })
            {
                continue;
            }
            old.retire(out, now);
        }
    }

    /// A rekey responder learned that the initiator is ready: route the new outbound SA and
    /// retire the old one (RFC 7296 §2.8). Does nothing unless `new` is installed and waits
    /// for the switch.
    pub(crate) fn switch_outbound(&mut self, out: &mut OutputQueue, now: Instant, new: ChildSaId) {
        let Some(child) = self.children.get_mut(&new) else {
            return;
        };
        if child.state != ChildState::Installed
            || !matches!(child.outbound, Outbound::Pending { .. })
        {
            return;
        }
        child.outbound = Outbound::Routed;
        child.route(out);
        info!(child = %new, spi_out = %child.spi_out, "outbound switched to the new Child SA");
        self.retire_predecessors(out, now, new);
    }

    /// The successor of `old` in its slot whose outbound SA still waits for the switch.
    pub(crate) fn pending_successor(&self, old: ChildSaId) -> Option<ChildSaId> {
        let reqid = self.children.get(&old)?.reqid;
        self.children
            .values()
            .find(|c| {
                c.id != old
                    && c.reqid == reqid
                    && c.state == ChildState::Installed
                    && matches!(c.outbound, Outbound::Pending { .. })
            })
            .map(|c| c.id)
    }

    /// The Child SA the peer created by rekeying `old` that is still installed: the passive
    /// side of a rekey collision while our own rekey of `old` runs ([RFC 7296 §2.8.1]).
    ///
    /// [RFC 7296 §2.8.1]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.1
    pub(crate) fn peer_successor(&self, old: ChildSaId) -> Option<ChildSaId> {
        self.children
            .values()
            .find(|c| c.replaces == Some(old) && !c.initiator && c.state == ChildState::Installed)
            .map(|c| c.id)
    }

    /// Removes every Child SA.
    pub(crate) fn remove_children(
        &mut self,
        out: &mut OutputQueue,
        tables: &mut Tables,
        reason: DeleteReason,
    ) {
        let ids: Vec<ChildSaId> = self.children.keys().copied().collect();
        for id in ids {
            self.remove_child(out, tables, id, reason);
        }
    }

    /// Removes one Child SA: its SAs, its policy unless a sibling (its rekeyed successor or
    /// predecessor) still uses the slot, its table entries, and reports it. If it carried the
    /// slot's traffic and a successor waits for the switch (RFC 7296 §2.8), the successor
    /// takes the traffic first, since nothing else can.
    pub(crate) fn remove_child(
        &mut self,
        out: &mut OutputQueue,
        tables: &mut Tables,
        id: ChildSaId,
        reason: DeleteReason,
    ) -> Option<ChildSa> {
        if self.children.get(&id)?.outbound == Outbound::Routed
            && let Some(successor) = self.pending_successor(id)
            && let Some(next) = self.children.get_mut(&successor)
        {
            next.outbound = Outbound::Routed;
            next.route(out);
            info!(child = %successor, "outbound switched to the new Child SA");
        }
        let child = self.children.remove(&id)?;
        let shared_slot = self.children.values().any(|c| c.reqid == child.reqid);
        child.uninstall(out, !shared_slot);
        tables.remove_child(id, child.spi_in);
        info!(child = %id, spi_in = %child.spi_in, spi_out = %child.spi_out, ?reason,
            "Child SA deleted");
        out.event(Event::ChildSaDeleted {
            ike: self.id,
            child: id,
            name: child.name.clone(),
            spi_in: child.spi_in,
            spi_out: child.spi_out,
            reason,
        });
        Some(*child)
    }
}
