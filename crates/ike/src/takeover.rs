//! Taking over passive IKE SAs after an HA failover, with the counter repairs of [RFC 6311]
//! where the peer supports them ([`Endpoint::activate_with`]).
//!
//! The HA layer knows how stale each snapshot can be; the engine knows what the peer
//! negotiated. A [`TakeoverPlan`] says per IKE SA how far the message IDs may be behind (an
//! HA layer that syncs them lazily) and how many inbound sequence numbers past the checkpoint
//! the old node may have accepted. The engine then:
//!
//! - with IKEV2_MESSAGE_ID_SYNC negotiated and message IDs to repair (or a replay gap to close
//!   with IPSEC_REPLAY_COUNTER_SYNC), sends the message-ID-0 sync request first
//!   (`exchange::mid_sync`); the exchange that was in flight on the old
//!   node is queued again as a task (its message ID is gone) and runs once the counters are
//!   known; the sync's response is the liveness check;
//! - with IPSEC_REPLAY_COUNTER_SYNC negotiated too, asks the peer to skip the gap and installs
//!   the inbound SAs past it (`exchange::replay_sync`);
//! - otherwise resumes as [`Endpoint::activate`] does (the outstanding request again, then a
//!   liveness check), and handles the replay gap by [`ReplayFallback`].
//!
//! [RFC 6311]: https://www.rfc-editor.org/rfc/rfc6311

use std::time::Instant;

use hitless_sadb::Direction;
use hitless_sadb::SaCommand;
use tracing::info;
use tracing::warn;

use crate::endpoint::Endpoint;
use crate::exchange::Initiating;
use crate::exchange::Task;
use crate::exchange::mid_sync;
use crate::exchange::replay_sync;
use crate::ids::IkeSaId;
use crate::ike_sa::Env;
use crate::ike_sa::IkeSa;
use crate::ike_sa::IkeSaState;
use crate::info::IkeSaInfo;

/// How a takeover resumes one IKE SA ([`Endpoint::activate_with`]). The default resumes with
/// the snapshot's counters as exact and no replay gap, like [`Endpoint::activate`].
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub struct TakeoverPlan {
    /// The snapshot's message IDs may be behind by up to this many requests of ours (the HA
    /// layer synced them lazily): repair them with IKEV2_MESSAGE_ID_SYNC ([RFC 6311 §5]),
    /// whose M1 is the snapshot's next request plus this margin. `None`: they are exact. Only
    /// used where both sides announced IKEV2_MESSAGE_ID_SYNC_SUPPORTED.
    ///
    /// [RFC 6311 §5]: https://www.rfc-editor.org/rfc/rfc6311#section-5
    pub message_id_margin: Option<u32>,
    /// How many sequence numbers past each Child SA's snapshot `inbound_sequence` the old node
    /// may have accepted. Where both extensions were negotiated the peer is asked to skip
    /// that many (IPSEC_REPLAY_COUNTER_SYNC, [RFC 6311 §6]) and the inbound SAs start past
    /// them; elsewhere [`TakeoverPlan::replay_fallback`] applies. Zero: no gap.
    ///
    /// [RFC 6311 §6]: https://www.rfc-editor.org/rfc/rfc6311#section-6
    pub replay_margin: u64,
    /// What to do about a replay gap the peer cannot close.
    pub replay_fallback: ReplayFallback,
}

/// What a takeover does about inbound sequence numbers the old node may have accepted after
/// its last checkpoint, when the peer does not support IPSEC_REPLAY_COUNTER_SYNC.
#[derive(Clone, Copy, Debug, Default, Eq, PartialEq)]
pub enum ReplayFallback {
    /// Keep the Child SAs: until the peer's traffic moves each inbound window past the gap,
    /// a packet the old node accepted can be replayed once into the new node (the documented
    /// exposure, docs/design/ha.md).
    #[default]
    AcceptExposure,
    /// Rekey every Child SA at once: no exposure beyond the rekey, at the cost of a rekey per
    /// Child SA.
    RekeyChildren,
}

impl Endpoint {
    /// Turns the passive IKE SAs for which `plan` returns a [`TakeoverPlan`] active, repairing
    /// their counters with the peer as the plan and the negotiated RFC 6311 extensions allow.
    ///
    /// Where IKEV2_MESSAGE_ID_SYNC was negotiated and the plan has message IDs to repair (or a
    /// replay gap to close with IPSEC_REPLAY_COUNTER_SYNC, negotiated too), the first message
    /// is the message-ID-0 sync request; the exchange that was in flight on the old node runs
    /// again as a task once the counters are known, and the sync's response is the liveness
    /// check. The inbound SAs start `replay_margin` past their snapshot numbers when the peer
    /// was asked to skip as many. Otherwise the SA resumes as with [`Endpoint::activate`]
    /// (the outstanding request again, then a liveness check) and a replay gap is handled by
    /// [`TakeoverPlan::replay_fallback`]. A sync request the peer never answers ends the IKE
    /// SA like an unanswered liveness check (RFC 7296 §2.4).
    pub fn activate_with(
        &mut self,
        now: Instant,
        plan: impl Fn(&IkeSaInfo<'_>) -> Option<TakeoverPlan>,
    ) {
        let selected: Vec<(IkeSaId, TakeoverPlan)> = self
            .sas
            .values()
            .filter(|sa| matches!(sa.state, IkeSaState::Passive(_)))
            .filter_map(|sa| plan(&sa.info()).map(|p| (sa.core.id, p)))
            .collect();
        for (id, plan) in selected {
            self.run(now, id, |sa, env| sa.take_over(env, plan));
        }
    }
}

impl IkeSa {
    fn take_over(&mut self, env: &mut Env<'_>, plan: TakeoverPlan) {
        let state = std::mem::replace(&mut self.state, IkeSaState::Dead);
        let IkeSaState::Passive(mut established) = state else {
            self.state = state;
            return;
        };
        let core = &mut self.core;
        core.last_inbound = env.now;
        core.last_outbound = env.now;
        let negotiated = core.rfc6311;
        let gap = plan.replay_margin > 0;
        let replay_sync = gap && negotiated.message_id_sync && negotiated.replay_counter_sync;
        let sync = negotiated.message_id_sync && (plan.message_id_margin.is_some() || replay_sync);
        if plan.message_id_margin.is_some() && !negotiated.message_id_sync {
            warn!("message IDs may be stale but the peer did not negotiate RFC 6311 sync");
        }
        if replay_sync {
            replay_sync::raise_inbound(
                core.children.values_mut().map(|child| &mut **child),
                plan.replay_margin,
            );
        }
        for child in core.children.values() {
            child.install(env.out, core.local, core.remote);
            if replay_sync {
                env.out.sa(SaCommand::AdvanceSequence {
                    spi: child.spi_in,
                    direction: Direction::Inbound,
                    sequence: child.sequences.1,
                });
            }
        }
        let mut fallback_rekeys = Vec::new();
        if gap && !replay_sync {
            match plan.replay_fallback {
                ReplayFallback::AcceptExposure => warn!(
                    margin = plan.replay_margin,
                    "peer cannot skip the replay gap (no RFC 6311 replay-counter sync); \
                     accepting the exposure"
                ),
                ReplayFallback::RekeyChildren => {
                    info!("peer cannot skip the replay gap; rekeying every Child SA");
                    fallback_rekeys.extend(core.children.keys().map(|c| Task::RekeyChild(*c)));
                }
            }
        }
        info!(
            children = core.children.len(),
            message_id_sync = sync,
            replay_sync,
            "IKE SA activated"
        );
        if !sync {
            core.window.arm(env.now);
            self.state = IkeSaState::Established(established);
            // The outstanding request (armed for `now`) goes out at once.
            self.handle_timeout(env);
            self.queue(env, Task::Dpd);
            for task in fallback_rekeys {
                self.queue(env, task);
            }
            return;
        }
        // The old node's request in flight lost its message ID: run it again afterwards.
        if let Some(active) = established.active.take() {
            established.tasks.extend(requeue(active));
        }
        established.tasks.extend(fallback_rekeys);
        core.window.response_received();
        let margin = plan.message_id_margin.unwrap_or(0);
        let delta = replay_sync.then_some(plan.replay_margin);
        match mid_sync::Initiator::start(&mut env.cx(core), margin, delta) {
            Ok(initiator) => established.active = Some(Initiating::MidSync(initiator)),
            Err(error) => {
                warn!(%error, "cannot send the message-ID sync; resuming without it");
                established.tasks.push_back(Task::Dpd);
            }
        }
        self.state = IkeSaState::Established(established);
        self.kick(env);
    }
}

/// The tasks that redo an exchange the old node had in flight.
fn requeue(active: Initiating) -> Vec<Task> {
    match active {
        Initiating::Dpd(_) => vec![Task::Dpd],
        Initiating::IkeDelete(_) => vec![Task::DeleteIke],
        Initiating::ChildDelete(delete) => delete
            .children()
            .iter()
            .map(|c| Task::DeleteChild(*c))
            .collect(),
        Initiating::ChildCreate(_)
        | Initiating::ChildRekey(_)
        | Initiating::IkeRekey(_)
        | Initiating::MidSync(_)
        | Initiating::Unresumable(_) => {
            warn!("an exchange in flight on the old node cannot be redone; dropped");
            Vec::new()
        }
    }
}
