//! Properties checked after every step of a simulation that touched an engine. The first
//! violation stops [`Sim::run_until`](crate::Sim::run_until) and friends with the seed and the
//! transcript.
//!
//! Built in (ARCHITECTURE.md §2.9):
//! - every SA in a backend belongs to a Child SA of its engine, and every route points to an
//!   installed outbound SA ([`BackendMatchesEngine`]);
//! - message IDs only grow ([`MessageIdsOnlyGrow`], RFC 7296 §2.2);
//! - at quiescence, every installed Child SA has both SAs in the backend, carries its slot's
//!   traffic, and is the only installed Child SA of its slot ([`QuiescentConsistency`]);
//! - checked by the driver as outputs flow: no transmit for an IKE SA the engine reported
//!   deleted, and a responder's new inbound SA is installed before the response that announces
//!   it leaves (RFC 7296 §2.8).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::time::Duration;

use hitless_ike::ChildSaState;
use hitless_ike::IkeSaState;
use hitless_ike::IkeSpis;
use hitless_sadb::Direction;
use hitless_sadb::ReqId;
use hitless_sadb::ResourceId;
use hitless_sadb::Spi;

use crate::sim::Sim;

/// A property of a whole simulation, checked after every step that gave an engine input.
pub trait Invariant {
    /// A short name for reports.
    fn name(&self) -> &str;
    /// Checks the property. `Err` describes the violation.
    ///
    /// # Errors
    ///
    /// When the property does not hold.
    fn check(&mut self, sim: &Sim) -> Result<(), String>;
}

/// A violated invariant.
#[derive(Clone, Debug, Eq, PartialEq)]
pub struct Violation {
    /// The invariant's name.
    pub invariant: String,
    /// When it was found.
    pub at: Duration,
    /// What is wrong.
    pub detail: String,
}

/// Every SA a node's backend holds belongs to a Child SA its engine knows (in any state, a
/// lingering replaced SA included), and every route points to an installed outbound SA.
#[derive(Debug, Default)]
pub struct BackendMatchesEngine;

/// IKE message IDs (next request, next expected) of each IKE SA never decrease.
#[derive(Debug, Default)]
pub struct MessageIdsOnlyGrow {
    seen: BTreeMap<(usize, IkeSpis), (u32, u32)>,
}

/// When no IKE message is in flight and no exchange is open, every installed Child SA has its
/// inbound and outbound SA in the backend, its slot routes to its outbound SA, and no two
/// installed Child SAs share a slot.
#[derive(Debug, Default)]
pub struct QuiescentConsistency;

/// The built-in invariants.
pub fn builtin() -> Vec<Box<dyn Invariant>> {
    vec![
        Box::new(BackendMatchesEngine),
        Box::new(MessageIdsOnlyGrow::default()),
        Box::new(QuiescentConsistency),
    ]
}

impl Invariant for BackendMatchesEngine {
    fn name(&self) -> &str {
        "backend matches engine"
    }

    fn check(&mut self, sim: &Sim) -> Result<(), String> {
        for node in sim.nodes().filter(|node| !node.is_crashed()) {
            let mut known = BTreeSet::new();
            for ike in node.ike.ike_sas() {
                for child in &ike.children {
                    known.insert((child.spi_in, Direction::Inbound));
                    known.insert((child.spi_out, Direction::Outbound));
                }
            }
            let state = node.backend.state();
            for sa in state.installed() {
                if !known.contains(&(sa.spi, sa.direction)) {
                    return Err(format!(
                        "{}: backend holds {:?} SA {} that no Child SA of the engine has",
                        node.name, sa.direction, sa.spi
                    ));
                }
            }
            for (reqid, resource, spi) in state.routes() {
                if state.sa(spi, Direction::Outbound).is_none() {
                    return Err(format!(
                        "{}: slot {reqid:?}/{resource:?} routes to outbound SA {spi}, which is \
                         not installed",
                        node.name
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Invariant for MessageIdsOnlyGrow {
    fn name(&self) -> &str {
        "message IDs only grow"
    }

    fn check(&mut self, sim: &Sim) -> Result<(), String> {
        for node in sim.nodes().filter(|node| !node.is_crashed()) {
            for ike in node.ike.ike_sas() {
                let key = (node.id.index(), ike.spis);
                let now = (ike.next_request, ike.next_expected);
                if let Some(before) = self.seen.insert(key, now)
                    && (now.0 < before.0 || now.1 < before.1)
                {
                    return Err(format!(
                        "{}: IKE SA {} message IDs went from (request {}, expected {}) to \
                         (request {}, expected {})",
                        node.name, ike.spis, before.0, before.1, now.0, now.1
                    ));
                }
            }
        }
        Ok(())
    }
}

impl Invariant for QuiescentConsistency {
    fn name(&self) -> &str {
        "consistent at quiescence"
    }

    fn check(&mut self, sim: &Sim) -> Result<(), String> {
        if !sim.is_quiescent() {
            return Ok(());
        }
        for node in sim.nodes().filter(|node| !node.is_crashed()) {
            let state = node.backend.state();
            let mut slots: BTreeMap<(ReqId, Option<ResourceId>), Spi> = BTreeMap::new();
            for ike in node
                .ike
                .ike_sas()
                .filter(|ike| ike.state == IkeSaState::Established)
            {
                for child in ike
                    .children
                    .iter()
                    .filter(|c| c.state == ChildSaState::Installed)
                {
                    let name = &node.name;
                    let (spi_in, spi_out) = (child.spi_in, child.spi_out);
                    if state.sa(spi_in, Direction::Inbound).is_none() {
                        return Err(format!(
                            "{name}: Child SA {} has no inbound SA {spi_in}",
                            child.name
                        ));
                    }
                    if state.sa(spi_out, Direction::Outbound).is_none() {
                        return Err(format!(
                            "{name}: Child SA {} has no outbound SA {spi_out}",
                            child.name
                        ));
                    }
                    let route = state.route(child.reqid, child.resource);
                    if route != Some(spi_out) {
                        return Err(format!(
                            "{name}: Child SA {} (slot {:?}/{:?}) is installed but its traffic \
                             goes to {route:?}, not {spi_out}",
                            child.name, child.reqid, child.resource
                        ));
                    }
                    if let Some(other) = slots.insert((child.reqid, child.resource), spi_out) {
                        return Err(format!(
                            "{name}: two installed Child SAs in slot {:?}/{:?} (outbound {other} \
                             and {spi_out})",
                            child.reqid, child.resource
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let millis = self.at.as_millis();
        write!(
            f,
            "invariant \"{}\" violated at {}.{:03}s: {}",
            self.invariant,
            millis / 1000,
            millis % 1000,
            self.detail
        )
    }
}
