//! What an [`HaNode`](crate::HaNode) asks its driver to do, and a helper that does the part
//! that concerns the IKE engine.

use std::collections::BTreeSet;
use std::time::Instant;

use hitless_ike::ApiError;
use hitless_ike::Endpoint;
use hitless_ike::IkeSaSnapshot;
use hitless_ike::IkeSaState;
use hitless_ike::IkeSpis;
use hitless_ike::TakeoverPlan;
use hitless_sadb::SaCommand;
use hitless_sadb::Spi;

use crate::config::NodeId;

/// One effect, in the order the driver must carry them out.
#[derive(Clone, Debug, Eq, PartialEq)]
pub enum HaOutput {
    /// Send a sync datagram to another member.
    Send(SyncTransmit),
    /// Create or replace a passive IKE SA in the local engine
    /// ([`Endpoint::import_passive`]). A failure goes back through
    /// [`HaNode::import_failed`](crate::HaNode::import_failed).
    Import(Box<IkeSaSnapshot>),
    /// Forget a passive IKE SA ([`Endpoint::remove`]).
    Remove(IkeSpis),
    /// Takeover: activate these passive IKE SAs ([`Endpoint::activate_with`], which repairs
    /// lazily synced message IDs with the peer by RFC 6311). Their snapshots were
    /// just imported with the outbound and inbound sequence numbers to start from, so the
    /// data plane installs them with those numbers in one step. The engine then retransmits
    /// the outstanding request of each and sends a liveness check ([RFC 7296 §2.4]).
    ///
    /// [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4
    Activate(Takeover),
    /// Demotion: every IKE SA of the engine turns passive at once (and half-open ones are
    /// dropped), so the engine sends nothing more. The [`HaOutput::Sa`] commands that follow
    /// remove every SA and policy from the data plane: from then on, no ESP leaves this node.
    Deactivate,
    /// Apply this command to the SA backend (fencing deletes; sequence advances when two
    /// nodes were active at once).
    Sa(SaCommand),
}

/// A sync datagram.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct SyncTransmit {
    /// The member to send it to (the daemon maps members to addresses).
    pub to: NodeId,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// A takeover's decisions, for the engine and for the log.
#[derive(Clone, Debug, Default, Eq, PartialEq)]
pub struct Takeover {
    /// The new epoch (one above any epoch this node has seen).
    pub epoch: u64,
    /// The IKE SAs to activate.
    pub ike_sas: Vec<IkeSpis>,
    /// Where each Child SA's sequence numbers start.
    pub children: Vec<ChildTakeover>,
    /// IKE SAs whose message IDs were synced lazily and may be behind: the engine must
    /// repair them with the peer (IKEV2_MESSAGE_ID_SYNC, [RFC 6311 §4.2]) before its next
    /// request; until it can, they continue with the synced values.
    ///
    /// [RFC 6311 §4.2]: https://www.rfc-editor.org/rfc/rfc6311#section-4.2
    pub message_id_sync: Vec<IkeSpis>,
    /// How many requests the old node may have sent on each of those since its last lazy
    /// message-ID sync: the engine's IKEV2_MESSAGE_ID_SYNC asks the peer to expect our next
    /// request that far ahead ([`TakeoverPlan::message_id_margin`]).
    pub message_id_margin: u32,
}

/// Where one Child SA continues after a takeover.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub struct ChildTakeover {
    /// Its IKE SA.
    pub ike: IkeSpis,
    /// Our inbound SPI.
    pub spi_in: Spi,
    /// The peer's SPI (our outbound SA).
    pub spi_out: Spi,
    /// The highest outbound checkpoint known, if any.
    pub outbound_checkpoint: Option<u64>,
    /// The outbound SA's last used number: the first packet after the takeover uses this + 1.
    pub outbound_from: u64,
    /// The inbound replay window's top: numbers at or below it are rejected.
    pub inbound_from: u64,
}

/// What [`apply_to_endpoint`] did with an output.
#[derive(Debug)]
pub enum Applied {
    /// The engine carried it out (drain its outputs now).
    Done,
    /// The engine refused a snapshot; report it with
    /// [`HaNode::import_failed`](crate::HaNode::import_failed).
    ImportFailed(IkeSpis, ApiError),
    /// Not for the engine: a datagram to send or a backend command.
    Io(HaOutput),
}

/// Carries out the outputs that concern the local engine (import, remove, activate,
/// deactivate) and hands back the others.
pub fn apply_to_endpoint(output: HaOutput, endpoint: &mut Endpoint, now: Instant) -> Applied {
    match output {
        HaOutput::Import(snapshot) => {
            let spis = snapshot.spis;
            match endpoint.import_passive(now, *snapshot) {
                Ok(_) => Applied::Done,
                Err(error) => Applied::ImportFailed(spis, error),
            }
        }
        HaOutput::Remove(spis) => {
            let ids: Vec<_> = endpoint
                .ike_sas()
                .filter(|ike| ike.spis == spis)
                .map(|ike| ike.id)
                .collect();
            for id in ids {
                // It was just listed, so it exists.
                let _ = endpoint.remove(now, id);
            }
            Applied::Done
        }
        HaOutput::Activate(takeover) => {
            let which: BTreeSet<IkeSpis> = takeover.ike_sas.iter().copied().collect();
            let lazy: BTreeSet<IkeSpis> = takeover.message_id_sync.iter().copied().collect();
            // RFC 6311: lazily synced message IDs are repaired with the peer; the others are
            // exact.
            endpoint.activate_with(now, |ike| {
                which.contains(&ike.spis).then(|| TakeoverPlan {
                    message_id_margin: lazy
                        .contains(&ike.spis)
                        .then_some(takeover.message_id_margin),
                    ..TakeoverPlan::default()
                })
            });
            Applied::Done
        }
        HaOutput::Deactivate => {
            endpoint.deactivate(|_| true);
            // Half-open IKE SAs cannot be passive: they go, silently.
            let half_open: Vec<_> = endpoint
                .ike_sas()
                .filter(|ike| ike.state != IkeSaState::Passive)
                .map(|ike| ike.id)
                .collect();
            for id in half_open {
                let _ = endpoint.remove(now, id);
            }
            Applied::Done
        }
        io @ (HaOutput::Send(_) | HaOutput::Sa(_)) => Applied::Io(io),
    }
}
