//! Handing an IKE SA's Child SAs, and the Child SA work queued on it, to another IKE SA: the
//! successor of an IKE SA rekey ([RFC 7296 §2.18]) or the survivor of simultaneous rekeys
//! ([§2.8.2]). Messages about a Child SA go over the IKE SA that owns it ([RFC 7296 §1.4]), so
//! queued work follows the Child SAs instead of dying with the old IKE SA.
//!
//! An exchange sees only its own IKE SA, so a move that involves another one is recorded as a
//! [`Handover`] and applied by the endpoint once the current input is done
//! ([`Endpoint::apply_handovers`]), before it removes an IKE SA that went away.
//!
//! [RFC 7296 §2.18]: https://www.rfc-editor.org/rfc/rfc7296#section-2.18
//! [§2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
//! [RFC 7296 §1.4]: https://www.rfc-editor.org/rfc/rfc7296#section-1.4

use std::collections::VecDeque;
use std::time::Instant;

use tracing::info;

use super::Env;
use super::IkeSa;
use super::IkeSaState;
use crate::endpoint::Endpoint;
use crate::event::DeleteReason;
use crate::event::Event;
use crate::exchange::Initiating;
use crate::exchange::Task;
use crate::ids::IkeSaId;
use crate::ids::IkeSpis;

/// Child SAs and Child SA work that move from one IKE SA to another.
#[derive(Debug)]
pub(crate) struct Handover {
    /// The IKE SA that gives them up (everything it still holds goes).
    pub from: IkeSaId,
    /// The IKE SA that takes them.
    pub to: IkeSaId,
    /// When.
    pub at: Instant,
    /// Work already taken from `from`.
    pub tasks: Vec<Task>,
}

/// A new IKE SA whose simultaneous-rekey collision is undecided ([RFC 7296 §2.8.2]).
///
/// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
#[derive(Clone, Copy, Debug)]
pub(crate) struct Provisional {
    /// The IKE SA it replaces, whose rekey of ours is in flight.
    pub old: IkeSaId,
    /// That IKE SA's SPIs.
    pub old_spis: IkeSpis,
}

impl Handover {
    /// Everything `from` holds goes to `to` at `at`; with nothing to move, `to` is only given
    /// the chance to start its queued work.
    pub(crate) fn new(from: IkeSaId, to: IkeSaId, at: Instant) -> Self {
        Self {
            from,
            to,
            at,
            tasks: Vec::new(),
        }
    }
}

impl Task {
    /// Whether the task is about a Child SA, and so belongs to whichever IKE SA owns it.
    pub(crate) fn is_child_work(&self) -> bool {
        matches!(
            self,
            Self::CreateChild(_)
                | Self::DeleteChild(_)
                | Self::DeleteUnused(_)
                | Self::ExpireChild(_)
                | Self::RekeyChild(_)
        )
    }
}

impl IkeSa {
    /// A superseded IKE SA runs nothing but its own delete: queued Child SA work goes to its
    /// successor, and the rest (a rekey of itself queued before the peer's rekey replaced it,
    /// a liveness check) is moot.
    pub(crate) fn forward_child_work(&mut self, env: &mut Env<'_>) {
        let Some((to, _)) = self.core.superseded else {
            return;
        };
        let IkeSaState::Established(established) = &mut self.state else {
            return;
        };
        let tasks = take_child_work(&mut established.tasks);
        established.tasks.retain(|task| *task == Task::DeleteIke);
        if tasks.is_empty() {
            return;
        }
        env.tables.handovers.push(Handover {
            from: self.core.id,
            to,
            at: env.now,
            tasks,
        });
    }

    /// Whether this IKE SA may start exchanges: not while it is a new IKE SA whose collision
    /// is undecided ([RFC 7296 §2.8.2]), since it may turn out redundant.
    ///
    /// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
    pub(crate) fn may_start(&self, env: &Env<'_>) -> bool {
        !env.tables.provisional.contains_key(&self.core.id)
    }

    /// Before the IKE SA goes: hands its Child SAs to the IKE SA that carries on, if there is
    /// one, and says whether it did (else they go with it).
    ///
    /// - An IKE SA rekey of ours in flight is abandoned. If we answered the peer's crossing
    ///   rekey meanwhile, the IKE SA it created survives ([RFC 7296 §2.8.2]: a peer deleting
    ///   the old IKE SA did not see our rekey as a collision, or settled it).
    /// - A new IKE SA whose collision is undecided gives its Child SAs back to the old one: the
    ///   peer found it redundant, and our own rekey, still in flight, takes them on.
    ///
    /// [RFC 7296 §2.8.2]: https://www.rfc-editor.org/rfc/rfc7296#section-2.8.2
    pub(crate) fn hand_over_before_closing(&mut self, env: &mut Env<'_>) -> bool {
        let id = self.core.id;
        let mut tasks = Vec::new();
        let mut survivor = None;
        if let IkeSaState::Established(established) = &mut self.state {
            tasks = take_child_work(&mut established.tasks);
            if let Some(Initiating::IkeRekey(rekey)) = established.active.take() {
                survivor = rekey.abandon(env.tables, id);
            }
        }
        if let Some(survivor) = survivor {
            info!(%survivor, "IKE SA rekey abandoned; the peer's new IKE SA survives");
            env.tables.handovers.push(Handover {
                from: id,
                to: survivor,
                at: env.now,
                tasks,
            });
            return true;
        }
        let Some(provisional) = env.tables.provisional.remove(&id) else {
            return false;
        };
        info!(old = %provisional.old, "redundant new IKE SA deleted; its Child SAs go back");
        env.out.event(Event::IkeSaRekeyed {
            old: id,
            new: provisional.old,
            spis: provisional.old_spis,
        });
        env.tables.handovers.push(Handover {
            from: id,
            to: provisional.old,
            at: env.now,
            tasks,
        });
        true
    }
}

impl Endpoint {
    /// Applies the handovers recorded during the last input, in order.
    pub(crate) fn apply_handovers(&mut self) {
        for handover in std::mem::take(&mut self.tables.handovers) {
            self.hand_over(handover);
        }
    }

    fn hand_over(&mut self, handover: Handover) {
        let Handover {
            from,
            to,
            at,
            mut tasks,
        } = handover;
        let Some(giver) = self.sas.get_mut(&from) else {
            return;
        };
        let children = std::mem::take(&mut giver.core.children);
        if let IkeSaState::Established(established) = &mut giver.state {
            tasks.extend(take_child_work(&mut established.tasks));
        }
        if !giver.is_dead() {
            giver.core.superseded = Some((to, at));
        }
        let taker = self
            .sas
            .get_mut(&to)
            .filter(|sa| matches!(sa.state, IkeSaState::Established(_)));
        let Some(taker) = taker else {
            // Nobody left to take them: they go, with their SAs.
            if let Some(giver) = self.sas.get_mut(&from) {
                giver.core.children = children;
            }
            self.run(at, from, |sa, env| {
                sa.core
                    .remove_children(env.out, env.tables, DeleteReason::IkeSaGone);
            });
            return;
        };
        for child in children.values() {
            self.tables.children.insert(child.id, to);
            self.tables.esp_spis.insert(child.spi_in, to);
        }
        taker.core.children.extend(children);
        // The IKE SA it handed its Child SAs to gave them back: it is current again.
        if taker.core.superseded.is_some_and(|(by, _)| by == from) {
            taker.core.superseded = None;
        }
        if let IkeSaState::Established(established) = &mut taker.state {
            for task in tasks {
                if !established.tasks.contains(&task) {
                    established.tasks.push_back(task);
                }
            }
        }
        self.run(at, to, |sa, env| sa.kick(env));
    }
}

/// Takes the Child SA work out of a task queue, leaving the rest.
fn take_child_work(tasks: &mut VecDeque<Task>) -> Vec<Task> {
    let (child, rest): (Vec<Task>, Vec<Task>) = std::mem::take(tasks)
        .into_iter()
        .partition(Task::is_child_work);
    *tasks = rest.into();
    child
}
