//! HA hooks of the endpoint (ARCHITECTURE.md §2.7): export an established IKE SA as a
//! snapshot, import one as a passive SA that sends nothing, installs nothing and arms no timer,
//! and turn passive SAs active (takeover) or active SAs passive (demotion).
//!
//! What a takeover does here: the Child SAs are installed with the sequence numbers the HA
//! layer put in the snapshot, the outstanding request (if any) is retransmitted at once, and a
//! liveness check is queued ([RFC 7296 §2.4]) so both sides learn quickly that the SA works.
//! Moving sequence numbers past what the old node used is the HA layer's job; repairing stale
//! message IDs and closing the inbound replay gap with the peer ([RFC 6311]) is
//! [`Endpoint::activate_with`]'s.
//!
//! [RFC 6311]: https://www.rfc-editor.org/rfc/rfc6311
//!
//! [RFC 7296 §2.4]: https://www.rfc-editor.org/rfc/rfc7296#section-2.4

use std::collections::VecDeque;
use std::time::Instant;

use tracing::info;
use tracing::warn;

use crate::auth::PeerAuthenticated;
use crate::child_sa::ChildSa;
use crate::child_sa::ChildState;
use crate::endpoint::Endpoint;
use crate::error::ApiError;
use crate::event::DeleteReason;
use crate::exchange::Initiating;
use crate::exchange::child_delete;
use crate::exchange::dpd;
use crate::exchange::ike_delete;
use crate::ids::IkeSaId;
use crate::ike_sa::Established;
use crate::ike_sa::IkeSa;
use crate::ike_sa::IkeSaCore;
use crate::ike_sa::IkeSaState;
use crate::ike_sa::keys::IkeSaKeys;
use crate::ike_sa::window::Window;
use crate::info::IkeSaInfo;
use crate::snapshot::IkeSaSnapshot;
use crate::snapshot::InFlight;
use crate::takeover::TakeoverPlan;

impl Endpoint {
    /// A copy of an established (or passive) IKE SA with every key, counter and Child SA, for
    /// an HA standby; remaining durations are computed from `now`. `None` for an unknown IKE
    /// SA or one that is not established.
    pub fn export(&self, now: Instant, ike: IkeSaId) -> Option<IkeSaSnapshot> {
        let sa = self.sas.get(&ike)?;
        let (IkeSaState::Established(established) | IkeSaState::Passive(established)) = &sa.state
        else {
            return None;
        };
        let core = &sa.core;
        let keys = core.keys.as_ref()?;
        Some(IkeSaSnapshot {
            connection: core.connection.name.clone(),
            spis: core.spis(),
            initiator: core.initiator,
            local: core.local,
            remote: core.remote,
            nat: core.nat,
            local_id: core.local_id.clone()?,
            remote_id: established.peer.remote_id().clone(),
            algorithms: keys.algorithms,
            keys: keys.keys.clone(),
            window: core.window.snapshot(),
            in_flight: established.active.as_ref().map(|a| a.snapshot(core)),
            rfc6311: core.rfc6311,
            age: core
                .established_at
                .map_or_else(Default::default, |at| now.saturating_duration_since(at)),
            rekey_in: core.rekey_at.map(|at| at.saturating_duration_since(now)),
            expire_in: core.expire_at.map(|at| at.saturating_duration_since(now)),
            // A replaced Child SA whose inbound SA only lingers is not worth taking over.
            children: core
                .children
                .values()
                .filter(|c| !matches!(c.state, ChildState::Rekeyed { .. }))
                .map(|c| c.snapshot(now))
                .collect(),
        })
    }

    /// Creates (or replaces) a passive IKE SA from a snapshot: it holds all the state but
    /// sends nothing, installs nothing and arms no timer until [`Endpoint::activate`]. `now`
    /// anchors the snapshot's remaining durations.
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidSnapshot`] for an unknown connection, algorithms the provider lacks,
    /// or an active IKE SA or Child SA with the same SPIs.
    pub fn import_passive(
        &mut self,
        now: Instant,
        snapshot: IkeSaSnapshot,
    ) -> Result<IkeSaId, ApiError> {
        let connection = self
            .connections
            .iter()
            .find(|c| c.name == snapshot.connection)
            .cloned()
            .ok_or(ApiError::InvalidSnapshot("unknown connection"))?;
        let keys = IkeSaKeys::from_keys(&self.crypto, snapshot.algorithms, snapshot.keys.clone())
            .map_err(|_| ApiError::InvalidSnapshot("algorithms not supported"))?;
        let our_spi = if snapshot.initiator {
            snapshot.spis.initiator.0
        } else {
            snapshot.spis.responder.0
        };
        if our_spi == 0 {
            return Err(ApiError::InvalidSnapshot("IKE SPI is zero"));
        }
        // A newer snapshot of a passive SA replaces the old one.
        if let Some(&existing) = self.tables.ike_spis.get(&our_spi) {
            match self.sas.get(&existing).map(|sa| &sa.state) {
                Some(IkeSaState::Passive(_)) => self.forget(existing),
                _ => return Err(ApiError::InvalidSnapshot("an active IKE SA has these SPIs")),
            }
        }
        if snapshot
            .children
            .iter()
            .any(|c| self.tables.esp_spis.contains_key(&c.spi_in))
        {
            return Err(ApiError::InvalidSnapshot("a Child SA SPI is in use"));
        }
        let id = self.tables.new_ike_id();
        self.tables.ike_spis.insert(our_spi, id);
        let mut core = IkeSaCore::new(
            now,
            id,
            connection,
            snapshot.initiator,
            snapshot.local,
            snapshot.remote,
            &self.config,
        );
        core.spi_i = snapshot.spis.initiator.0;
        core.spi_r = snapshot.spis.responder.0;
        core.nat = snapshot.nat;
        core.window = Window::from_snapshot(&snapshot.window);
        core.keys = Some(Box::new(keys));
        core.local_id = Some(snapshot.local_id.clone());
        core.established_at = Some(now.checked_sub(snapshot.age).unwrap_or(now));
        core.created_at = core.established_at.unwrap_or(now);
        core.rfc6311 = snapshot.rfc6311;
        core.rekey_at = snapshot.rekey_in.map(|d| now + d);
        core.expire_at = snapshot.expire_in.map(|d| now + d);
        for child in &snapshot.children {
            let child_id = self.tables.new_child_id(id);
            self.tables.esp_spis.insert(child.spi_in, id);
            self.tables.reserve_reqid(child.reqid);
            let config = core.connection.child(&child.name);
            let linger = config.map_or(std::time::Duration::from_secs(5), |c| c.rekey_linger);
            let switch = config.map_or(std::time::Duration::from_secs(10), |c| {
                c.rekey_outbound_switch
            });
            core.children.insert(
                child_id,
                Box::new(ChildSa::from_snapshot(now, child_id, child, linger, switch)),
            );
        }
        let mut established = Established::new(PeerAuthenticated::imported(snapshot.remote_id));
        established.active = snapshot
            .in_flight
            .as_ref()
            .map(|in_flight| restore_in_flight(&core, in_flight));
        info!(ike = %id, spis = %core.spis(), "imported passive IKE SA");
        self.sas.insert(
            id,
            IkeSa {
                core,
                state: IkeSaState::Passive(Box::new(established)),
            },
        );
        self.settle(id);
        Ok(id)
    }

    /// Turns the passive IKE SAs that `which` selects active: installs their Child SAs,
    /// retransmits the request that was in flight, queues a liveness check and arms the timers.
    /// The snapshot's counters are taken as exact; [`Endpoint::activate_with`] repairs stale
    /// ones with RFC 6311.
    pub fn activate(&mut self, now: Instant, which: impl Fn(&IkeSaInfo<'_>) -> bool) {
        self.activate_with(now, |info| which(info).then(TakeoverPlan::default));
    }

    /// Turns the active IKE SAs that `which` selects passive (an HA node that lost its role):
    /// from now on they send nothing and run no timer. Their installed SAs stay; stopping the
    /// data plane is the HA layer's decision.
    pub fn deactivate(&mut self, which: impl Fn(&IkeSaInfo<'_>) -> bool) {
        let selected: Vec<IkeSaId> = self
            .sas
            .values()
            .filter(|sa| matches!(sa.state, IkeSaState::Established(_)))
            .filter(|sa| which(&sa.info()))
            .map(|sa| sa.core.id)
            .collect();
        for id in selected {
            let Some(sa) = self.sas.get_mut(&id) else {
                continue;
            };
            let state = std::mem::replace(&mut sa.state, IkeSaState::Dead);
            if let IkeSaState::Established(mut established) = state {
                established.tasks = VecDeque::new();
                sa.core.window.disarm();
                sa.state = IkeSaState::Passive(established);
                info!(ike = %id, "IKE SA deactivated");
            } else {
                sa.state = state;
            }
            self.settle(id);
        }
    }

    /// Forgets an IKE SA without sending anything (an HA standby told the SA is gone, or an
    /// operator cleaning up). An active SA's Child SAs are uninstalled and reported.
    ///
    /// # Errors
    ///
    /// [`ApiError::UnknownIkeSa`].
    pub fn remove(&mut self, now: Instant, ike: IkeSaId) -> Result<(), ApiError> {
        let sa = self.sas.get(&ike).ok_or(ApiError::UnknownIkeSa(ike))?;
        if matches!(sa.state, IkeSaState::Passive(_)) {
            self.forget(ike);
        } else {
            self.run(now, ike, |sa, env| sa.close(env, DeleteReason::Local));
        }
        Ok(())
    }

    /// Drops an SA from every table without any output.
    fn forget(&mut self, ike: IkeSaId) {
        if let Some(sa) = self.sas.get_mut(&ike) {
            sa.state = IkeSaState::Dead;
        }
        self.settle(ike);
    }
}

/// The initiator state of a request restored from a snapshot.
fn restore_in_flight(core: &IkeSaCore, in_flight: &InFlight) -> Initiating {
    match in_flight {
        InFlight::Dpd => Initiating::Dpd(dpd::Initiator),
        InFlight::DeleteIke => Initiating::IkeDelete(ike_delete::Initiator),
        InFlight::DeleteChild(spis) => Initiating::ChildDelete(child_delete::Initiator::restore(
            core.children
                .values()
                .filter(|c| spis.contains(&c.spi_in))
                .map(|c| c.id)
                .collect(),
        )),
        InFlight::Unresumable(exchange) => {
            warn!(%exchange, "in-flight exchange cannot be resumed; its response will only \
                advance the window");
            Initiating::Unresumable(*exchange)
        }
    }
}
