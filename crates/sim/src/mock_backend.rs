//! A recording SA backend for engine-level scenarios: it keeps the SAD, SPD and outbound routes
//! the engine asked for, stamps every command with the virtual time, answers queries, and hands
//! back [`BackendEvent`]s that a test scripts (expiries, first use, install failures).
//!
//! It is stricter than a real backend where strictness finds engine bugs: routing traffic to an
//! outbound SA that is not installed, or updating an SA that does not exist, is an error.

use std::collections::BTreeMap;
use std::collections::VecDeque;
use std::time::Duration;

use hitless_sadb::BackendError;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::PolicySpec;
use hitless_sadb::ReqId;
use hitless_sadb::ResourceId;
use hitless_sadb::SaBackend;
use hitless_sadb::SaCommand;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;

/// The mock backend.
#[derive(Debug, Default)]
pub struct MockBackend {
    now: Duration,
    sas: BTreeMap<(Spi, Direction), SaSpec>,
    policies: BTreeMap<ReqId, PolicySpec>,
    routes: BTreeMap<(ReqId, Option<ResourceId>), Spi>,
    history: Vec<(Duration, SaCommand)>,
    events: VecDeque<BackendEvent>,
    failures: VecDeque<Failure>,
    used: BTreeMap<Spi, bool>,
}

/// A scripted failure of the next matching [`SaCommand::AddSa`].
#[derive(Clone, Debug)]
struct Failure {
    spi: Option<Spi>,
    reason: String,
}

impl MockBackend {
    /// An empty backend.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the virtual time that stamps the commands applied next.
    pub fn set_now(&mut self, now: Duration) {
        self.now = now;
    }

    /// Queues an event for the engine (the simulator delivers it on its next step).
    pub fn push_event(&mut self, event: BackendEvent) {
        self.events.push_back(event);
    }

    /// Takes the next queued event.
    pub fn poll_event(&mut self) -> Option<BackendEvent> {
        self.events.pop_front()
    }

    /// Makes the next `AddSa` (for `spi`, or any SPI when `None`) fail with `reason`. The
    /// simulator tells the engine with [`BackendEvent::InstallFailed`], as the daemon would.
    pub fn fail_next_add(&mut self, spi: Option<Spi>, reason: &str) {
        self.failures.push_back(Failure {
            spi,
            reason: reason.to_owned(),
        });
    }

    /// Records traffic on inbound SA `spi`, as if an authenticated packet arrived on it: the
    /// first time, an SA installed with `report_first_use` queues
    /// [`BackendEvent::InboundSaUsed`]. Returns false when no such inbound SA is installed.
    pub fn receive_on(&mut self, spi: Spi) -> bool {
        let Some(spec) = self.sas.get(&(spi, Direction::Inbound)) else {
            return false;
        };
        let report = spec.report_first_use;
        let first = self.used.insert(spi, true).is_none();
        if first && report {
            self.events.push_back(BackendEvent::InboundSaUsed { spi });
        }
        true
    }

    /// Every installed SA, ordered by SPI and direction.
    pub fn installed(&self) -> impl Iterator<Item = &SaSpec> {
        self.sas.values()
    }

    /// The installed SA with this SPI and direction.
    pub fn sa(&self, spi: Spi, direction: Direction) -> Option<&SaSpec> {
        self.sas.get(&(spi, direction))
    }

    /// Every installed policy.
    pub fn policies(&self) -> impl Iterator<Item = &PolicySpec> {
        self.policies.values()
    }

    /// The policy of a slot.
    pub fn policy(&self, reqid: ReqId) -> Option<&PolicySpec> {
        self.policies.get(&reqid)
    }

    /// The outbound SA that carries a slot's traffic (for a resource, or the fallback).
    pub fn route(&self, reqid: ReqId, resource: Option<ResourceId>) -> Option<Spi> {
        self.routes.get(&(reqid, resource)).copied()
    }

    /// Every route: (slot, resource) → outbound SPI.
    pub fn routes(&self) -> impl Iterator<Item = (ReqId, Option<ResourceId>, Spi)> + '_ {
        self.routes
            .iter()
            .map(|((reqid, resource), spi)| (*reqid, *resource, *spi))
    }

    /// Every command applied, with the virtual time it was applied at.
    pub fn history(&self) -> &[(Duration, SaCommand)] {
        &self.history
    }

    fn add_sa(&mut self, spec: &SaSpec) -> Result<(), BackendError> {
        let scripted = self
            .failures
            .iter()
            .position(|failure| failure.spi.is_none_or(|spi| spi == spec.spi))
            .and_then(|index| self.failures.remove(index));
        if let Some(failure) = scripted {
            return Err(BackendError(failure.reason));
        }
        self.sas.insert((spec.spi, spec.direction), spec.clone());
        Ok(())
    }

    fn sa_mut(&mut self, spi: Spi, direction: Direction) -> Result<&mut SaSpec, BackendError> {
        self.sas
            .get_mut(&(spi, direction))
            .ok_or_else(|| BackendError(format!("no {direction:?} SA {spi}")))
    }
}

impl SaBackend for MockBackend {
    fn apply(&mut self, command: &SaCommand) -> Result<(), BackendError> {
        self.history.push((self.now, command.clone()));
        match command {
            SaCommand::AddSa(spec) => self.add_sa(spec)?,
            SaCommand::DeleteSa { spi, direction } => {
                self.sas.remove(&(*spi, *direction));
            }
            SaCommand::AddPolicy(policy) => {
                self.policies.insert(policy.reqid, policy.clone());
            }
            SaCommand::DeletePolicy { reqid } => {
                self.policies.remove(reqid);
                self.routes.retain(|(slot, _), _| slot != reqid);
            }
            SaCommand::RouteOutbound {
                reqid,
                resource,
                spi,
            } => {
                if !self.sas.contains_key(&(*spi, Direction::Outbound)) {
                    return Err(BackendError(format!("route to missing outbound SA {spi}")));
                }
                if !self.policies.contains_key(reqid) {
                    return Err(BackendError(format!("route for missing policy {reqid:?}")));
                }
                self.routes.insert((*reqid, *resource), *spi);
            }
            SaCommand::UpdateAddresses {
                spi,
                direction,
                local,
                remote,
                udp_encap,
            } => {
                let sa = self.sa_mut(*spi, *direction)?;
                sa.local = *local;
                sa.remote = *remote;
                sa.udp_encap = *udp_encap;
            }
            SaCommand::AdvanceSequence {
                spi,
                direction,
                sequence,
            } => {
                let sa = self.sa_mut(*spi, *direction)?;
                sa.initial_sequence = sa.initial_sequence.max(*sequence);
            }
            SaCommand::SkipSequence {
                spi,
                direction,
                count,
            } => {
                let sa = self.sa_mut(*spi, *direction)?;
                sa.initial_sequence = sa.initial_sequence.saturating_add(*count);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use hitless_crypto::SecretBytes;
    use hitless_sadb::EspAlgorithms;
    use hitless_sadb::Lifetime;
    use hitless_sadb::Mode;
    use hitless_wire::registry::EncrId;
    use hitless_wire::registry::IntegId;

    use super::*;

    fn spec(spi: u32, direction: Direction) -> SaSpec {
        SaSpec {
            spi: Spi(spi),
            direction,
            reqid: ReqId(1),
            resource: None,
            local: "192.0.2.1:4500".parse().unwrap(),
            remote: "192.0.2.2:4500".parse().unwrap(),
            udp_encap: false,
            mode: Mode::Tunnel,
            algorithms: EspAlgorithms {
                encr: EncrId::AES_GCM_16,
                encr_key_bits: Some(128),
                integ: IntegId::NONE,
                esn: false,
            },
            encr_key: SecretBytes::zeroed(20),
            integ_key: SecretBytes::zeroed(0),
            replay_window: 64,
            lifetime: Lifetime::default(),
            initial_sequence: 0,
            report_first_use: direction == Direction::Inbound,
            local_ts: Vec::new(),
            remote_ts: Vec::new(),
        }
    }

    fn policy() -> PolicySpec {
        PolicySpec {
            reqid: ReqId(1),
            local_ts: Vec::new(),
            remote_ts: Vec::new(),
            mode: Mode::Tunnel,
        }
    }

    #[test]
    fn keeps_state_and_history() {
        let mut backend = MockBackend::new();
        backend.set_now(Duration::from_secs(3));
        backend
            .apply(&SaCommand::AddSa(Box::new(spec(1, Direction::Inbound))))
            .unwrap();
        backend
            .apply(&SaCommand::AddSa(Box::new(spec(2, Direction::Outbound))))
            .unwrap();
        backend.apply(&SaCommand::AddPolicy(policy())).unwrap();
        let route = SaCommand::RouteOutbound {
            reqid: ReqId(1),
            resource: None,
            spi: Spi(2),
        };
        backend.apply(&route).unwrap();
        assert_eq!(backend.installed().count(), 2);
        assert_eq!(backend.route(ReqId(1), None), Some(Spi(2)));
        assert_eq!(backend.history().len(), 4);
        assert_eq!(backend.history()[0].0, Duration::from_secs(3));
        backend
            .apply(&SaCommand::DeletePolicy { reqid: ReqId(1) })
            .unwrap();
        assert_eq!(backend.route(ReqId(1), None), None);
    }

    #[test]
    fn add_is_idempotent() {
        let mut backend = MockBackend::new();
        let add = SaCommand::AddSa(Box::new(spec(1, Direction::Inbound)));
        backend.apply(&add).unwrap();
        backend.apply(&add).unwrap();
        assert_eq!(backend.installed().count(), 1);
    }

    #[test]
    fn routing_to_a_missing_sa_is_an_error() {
        let mut backend = MockBackend::new();
        backend.apply(&SaCommand::AddPolicy(policy())).unwrap();
        let route = SaCommand::RouteOutbound {
            reqid: ReqId(1),
            resource: None,
            spi: Spi(9),
        };
        assert!(backend.apply(&route).is_err());
    }

    #[test]
    fn scripted_failure_fails_once() {
        let mut backend = MockBackend::new();
        backend.fail_next_add(Some(Spi(1)), "SPI collision");
        let add = SaCommand::AddSa(Box::new(spec(1, Direction::Inbound)));
        assert_eq!(
            backend.apply(&add),
            Err(BackendError("SPI collision".into()))
        );
        assert_eq!(backend.installed().count(), 0);
        backend.apply(&add).unwrap();
        assert_eq!(backend.installed().count(), 1);
    }

    #[test]
    fn first_use_is_reported_once() {
        let mut backend = MockBackend::new();
        backend
            .apply(&SaCommand::AddSa(Box::new(spec(1, Direction::Inbound))))
            .unwrap();
        assert!(backend.receive_on(Spi(1)));
        assert!(backend.receive_on(Spi(1)));
        assert_eq!(
            backend.poll_event(),
            Some(BackendEvent::InboundSaUsed { spi: Spi(1) })
        );
        assert_eq!(backend.poll_event(), None);
        assert!(!backend.receive_on(Spi(2)));
    }

    #[test]
    fn advance_sequence_never_moves_back() {
        let mut backend = MockBackend::new();
        backend
            .apply(&SaCommand::AddSa(Box::new(spec(2, Direction::Outbound))))
            .unwrap();
        for sequence in [100, 50] {
            let advance = SaCommand::AdvanceSequence {
                spi: Spi(2),
                direction: Direction::Outbound,
                sequence,
            };
            backend.apply(&advance).unwrap();
        }
        assert_eq!(
            backend
                .sa(Spi(2), Direction::Outbound)
                .unwrap()
                .initial_sequence,
            100
        );
    }
}
