//! The engine's lifecycle events: counted for `stats`, logged, turned into control-protocol
//! events for subscribers, and acted on where the daemon has something to do (Child SAs a
//! client asked for once their IKE SA is up).

use std::collections::BTreeMap;
use std::time::Instant;
use std::time::SystemTime;
use std::time::UNIX_EPOCH;

use hitless_control::response as control;
use hitless_ike::Event;
use hitless_ike::IkeSaId;
use tracing::debug;
use tracing::info;
use tracing::info_span;
use tracing::warn;

use crate::ike_task::IkeTask;
use crate::views;

/// Counters of lifecycle events since start.
#[derive(Clone, Debug, Default)]
pub(crate) struct EventCounts {
    /// IKE SAs established that we initiated.
    pub(crate) established_initiator: u64,
    /// IKE SAs established that the peer initiated.
    pub(crate) established_responder: u64,
    /// IKE SAs that failed, by reason.
    pub(crate) failures: BTreeMap<String, u64>,
    /// IKE SA rekeys.
    pub(crate) ike_rekeys: u64,
    /// Child SAs installed.
    pub(crate) child_installed: u64,
    /// Child SA rekeys.
    pub(crate) child_rekeys: u64,
}

impl IkeTask {
    /// Handles one event of the engine's output queue.
    pub(crate) fn event(&mut self, now: Instant, event: Event) {
        if let Some(control) = self.observe(now, &event) {
            self.publish(control);
        }
    }

    /// Sends an event to the control subscribers, stamped with the wall-clock time.
    pub(crate) fn publish(&self, event: hitless_control::Event) {
        let time_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        // Nobody listening is fine.
        let _ = self.events.send((time_ms, event));
    }

    /// Counts and logs `event`, acts on it, and returns its control-protocol form.
    fn observe(&mut self, now: Instant, event: &Event) -> Option<hitless_control::Event> {
        use hitless_control::Event as Out;
        let counts = &mut self.counts;
        match event {
            Event::IkeSaEstablished {
                ike,
                connection,
                spis,
                initiator,
                remote,
                remote_id,
                ..
            } => {
                if *initiator {
                    counts.established_initiator += 1;
                } else {
                    counts.established_responder += 1;
                }
                let _span = info_span!("ike_sa", id = %ike).entered();
                debug!(%spis, %remote, "event: IKE SA established");
                self.connection_of.insert(*ike, connection.clone());
                self.supervisor.established(connection);
                self.create_pending_children(now, *ike);
                Some(Out::IkeSaEstablished {
                    ike_sa: control::IkeSaId(ike.0),
                    connection: connection.clone(),
                    remote: *remote,
                    remote_id: remote_id.to_string(),
                })
            }
            Event::IkeSaFailed {
                ike,
                connection,
                remote,
                reason,
                ..
            } => {
                *counts
                    .failures
                    .entry(views::failure_key(reason))
                    .or_default() += 1;
                let _span = info_span!("ike_sa", id = %ike).entered();
                // The engine logs the failure itself, at warn.
                debug!(%connection, %remote, reason = %views::failure_text(reason), "event: IKE SA failed");
                self.connection_of.remove(ike);
                self.pending_children.remove(ike);
                if let Some(pause) = self.supervisor.failed(now, connection) {
                    info!(%connection, retry_in = ?pause, "connection is kept up: initiating again");
                }
                Some(Out::IkeSaFailed {
                    ike_sa: Some(control::IkeSaId(ike.0)),
                    connection: Some(connection.clone()),
                    remote: Some(*remote),
                    error: views::failure_text(reason),
                })
            }
            Event::IkeSaRekeyed { old, new, spis } => {
                counts.ike_rekeys += 1;
                debug!(%old, %new, %spis, "event: IKE SA rekeyed");
                let connection = self.connection_of.remove(old).unwrap_or_default();
                self.connection_of.insert(*new, connection.clone());
                Some(Out::IkeSaRekeyed {
                    old: control::IkeSaId(old.0),
                    new: control::IkeSaId(new.0),
                    connection,
                })
            }
            Event::IkeSaDeleted { ike, spis, reason } => {
                debug!(%ike, %spis, ?reason, "event: IKE SA deleted");
                self.pending_children.remove(ike);
                let connection = self.connection_of.remove(ike).unwrap_or_default();
                if self.supervisor.deleted(now, &connection, *reason) {
                    info!(%connection, ?reason, "connection is kept up: initiating again");
                }
                Some(Out::IkeSaDeleted {
                    ike_sa: control::IkeSaId(ike.0),
                    connection,
                    reason: views::delete_reason(*reason).to_owned(),
                })
            }
            Event::ChildSaInstalled {
                ike,
                child,
                name,
                spi_in,
                spi_out,
                ..
            } => {
                counts.child_installed += 1;
                let _span = info_span!("ike_sa", id = %ike).entered();
                debug!(%child, %spi_in, %spi_out, "event: Child SA installed");
                Some(Out::ChildSaInstalled {
                    ike_sa: control::IkeSaId(ike.0),
                    child_sa: control::ChildSaId(child.0),
                    name: name.clone(),
                    spi_in: *spi_in,
                    spi_out: *spi_out,
                    resource: None,
                })
            }
            Event::ChildSaFailed { ike, name, reason } => {
                let _span = info_span!("ike_sa", id = %ike).entered();
                debug!(%name, reason = %views::failure_text(reason), "event: Child SA failed");
                Some(Out::ChildSaFailed {
                    ike_sa: control::IkeSaId(ike.0),
                    name: name.clone(),
                    error: views::failure_text(reason),
                })
            }
            Event::ChildSaRekeyed {
                ike,
                old,
                new,
                spi_in,
                spi_out,
            } => {
                counts.child_rekeys += 1;
                debug!(%old, %new, %spi_in, %spi_out, "event: Child SA rekeyed");
                let name = self
                    .endpoint
                    .ike_sa(*ike)
                    .and_then(|sa| {
                        sa.children
                            .iter()
                            .find(|c| c.id == *new)
                            .map(|c| c.name.to_owned())
                    })
                    .unwrap_or_default();
                Some(Out::ChildSaRekeyed {
                    ike_sa: control::IkeSaId(ike.0),
                    old: control::ChildSaId(old.0),
                    new: control::ChildSaId(new.0),
                    name,
                    spi_in: *spi_in,
                    spi_out: *spi_out,
                })
            }
            Event::ChildSaDeleted {
                ike,
                child,
                name,
                reason,
                ..
            } => {
                debug!(%ike, %child, ?reason, "event: Child SA deleted");
                Some(Out::ChildSaDeleted {
                    ike_sa: control::IkeSaId(ike.0),
                    child_sa: control::ChildSaId(child.0),
                    name: name.clone(),
                    reason: views::delete_reason(*reason).to_owned(),
                })
            }
            Event::IkeSaAddressesChanged {
                ike, local, remote, ..
            } => {
                debug!(%ike, %local, %remote, "event: addresses changed");
                None
            }
            Event::MessageIdsChanged { .. } => None,
        }
    }

    /// Creates the Child SAs a client asked for while their IKE SA was being set up.
    fn create_pending_children(&mut self, now: Instant, ike: IkeSaId) {
        for child in self.pending_children.remove(&ike).unwrap_or_default() {
            if let Err(error) = self.endpoint.create_child(now, ike, &child) {
                warn!(%ike, %child, %error, "cannot create requested Child SA");
            }
        }
    }
}
