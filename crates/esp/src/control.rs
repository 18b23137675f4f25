//! The control side: applies [`SaCommand`]s to master tables and publishes a new immutable
//! snapshot for the workers after each change (RCU: readers never wait).
//!
//! Every command is idempotent per `(spi, direction)` or `reqid` (ARCHITECTURE §2.4), so a
//! restarted engine can replay the full state. Re-adding an installed SA with the same keys
//! keeps its sequence counter and replay window: resetting them would reuse sequence numbers
//! (and AEAD nonces) under the same key.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use hitless_crypto::CryptoProvider;
use hitless_sadb::BackendError;
use hitless_sadb::Direction;
use hitless_sadb::PolicySpec;
use hitless_sadb::ReqId;
use hitless_sadb::ResourceId;
use hitless_sadb::SaBackend;
use hitless_sadb::SaCommand;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;
use tracing::debug;

use crate::error::InstallError;
use crate::plane::DataPlane;
use crate::replay::MAX_REPLAY_WINDOW;
use crate::sa::SaCore;
use crate::sa::SaEntry;
use crate::snapshot::AcquireFlags;
use crate::snapshot::Policy;
use crate::snapshot::Selectors;
use crate::snapshot::Snapshot;
use crate::transform::Transform;

/// The single writer of a [`DataPlane`]'s SAD and SPD; implements [`SaBackend`].
pub struct DataPlaneControl {
    plane: Arc<DataPlane>,
    crypto: Arc<CryptoProvider>,
    sas: BTreeMap<(Spi, Direction), InstalledSa>,
    /// In the order they were added; a replaced policy keeps its place.
    policies: Vec<InstalledPolicy>,
}

struct InstalledSa {
    /// Kept to recognise a replayed `AddSa` (the keys are zeroized on drop).
    spec: SaSpec,
    entry: SaEntry,
}

struct InstalledPolicy {
    selectors: Arc<Selectors>,
    routes: BTreeMap<Option<ResourceId>, Spi>,
    acquired: Arc<AcquireFlags>,
}

impl DataPlaneControl {
    pub(crate) fn new(plane: Arc<DataPlane>, crypto: Arc<CryptoProvider>) -> Self {
        Self {
            plane,
            crypto,
            sas: BTreeMap::new(),
            policies: Vec::new(),
        }
    }

    /// Applies one command and publishes the result.
    ///
    /// # Errors
    ///
    /// See [`InstallError`]; nothing changes when a command fails.
    pub fn execute(&mut self, command: &SaCommand) -> Result<(), InstallError> {
        match command {
            SaCommand::AddSa(spec) => self.add_sa(spec),
            SaCommand::DeleteSa { spi, direction } => {
                self.delete_sa(*spi, *direction);
                Ok(())
            }
            SaCommand::AddPolicy(spec) => {
                self.add_policy(spec);
                Ok(())
            }
            SaCommand::DeletePolicy { reqid } => {
                self.delete_policy(*reqid);
                Ok(())
            }
            SaCommand::RouteOutbound {
                reqid,
                resource,
                spi,
            } => self.route_outbound(*reqid, *resource, *spi),
            SaCommand::UpdateAddresses {
                spi,
                direction,
                local,
                remote,
                udp_encap,
            } => self.update_addresses(*spi, *direction, *local, *remote, *udp_encap),
            SaCommand::AdvanceSequence {
                spi,
                direction,
                sequence,
            } => self.advance_sequence(*spi, *direction, *sequence),
            SaCommand::SkipSequence {
                spi,
                direction,
                count,
            } => self.skip_sequence(*spi, *direction, *count),
        }
    }

    /// Installs an SA (RFC 4301 §4.4.2). Re-adding it with the same keys and algorithms
    /// updates its addresses and moves its sequence counter forward to `initial_sequence`.
    ///
    /// # Errors
    ///
    /// Unsupported algorithms, bad keys, a reserved SPI, a replay window above
    /// [`MAX_REPLAY_WINDOW`], mixed address families, or an installed SA with the same SPI and
    /// direction but other keys ([`InstallError::Conflict`]).
    pub fn add_sa(&mut self, spec: &SaSpec) -> Result<(), InstallError> {
        // RFC 4303 §2.1: SPIs 1–255 are reserved by IANA and 0 is for local use only.
        if spec.spi.0 < 256 {
            return Err(InstallError::ReservedSpi(spec.spi));
        }
        if spec.replay_window > MAX_REPLAY_WINDOW {
            return Err(InstallError::ReplayWindowTooLarge(spec.replay_window));
        }
        if spec.local.is_ipv4() != spec.remote.is_ipv4() {
            return Err(InstallError::MixedFamilies(spec.spi));
        }
        let key = (spec.spi, spec.direction);
        if let Some(installed) = self.sas.get_mut(&key) {
            if !same_sa(&installed.spec, spec) {
                return Err(InstallError::Conflict {
                    spi: spec.spi,
                    direction: spec.direction,
                });
            }
            installed.entry.local = spec.local;
            installed.entry.remote = spec.remote;
            installed.entry.udp_encap = spec.udp_encap;
            installed.entry.core.advance(spec.initial_sequence);
            installed.spec = spec.clone();
            self.publish();
            return Ok(());
        }
        let transform = Transform::new(
            &self.crypto,
            &spec.algorithms,
            spec.encr_key.expose(),
            spec.integ_key.expose(),
        )?;
        let entry = SaEntry {
            core: Arc::new(SaCore::new(spec, transform)),
            local: spec.local,
            remote: spec.remote,
            udp_encap: spec.udp_encap,
        };
        debug!(spi = %spec.spi, direction = ?spec.direction, reqid = spec.reqid.0, "ESP SA installed");
        self.sas.insert(
            key,
            InstalledSa {
                spec: spec.clone(),
                entry,
            },
        );
        self.publish();
        Ok(())
    }

    /// Removes an SA. Workers still holding it drop its further packets. Removing an absent SA
    /// does nothing.
    pub fn delete_sa(&mut self, spi: Spi, direction: Direction) {
        let Some(installed) = self.sas.remove(&(spi, direction)) else {
            return;
        };
        installed.entry.core.kill();
        debug!(spi = %spi, ?direction, "ESP SA deleted");
        self.publish();
    }

    /// Installs or replaces the policy of `spec.reqid` (RFC 4301 §4.4.1); a replaced policy
    /// keeps its routes and its place in the order.
    pub fn add_policy(&mut self, spec: &PolicySpec) {
        let selectors = Arc::new(Selectors {
            reqid: spec.reqid,
            local_ts: spec.local_ts.clone().into_boxed_slice(),
            remote_ts: spec.remote_ts.clone().into_boxed_slice(),
        });
        match self.policy_mut(spec.reqid) {
            Some(policy) => policy.selectors = selectors,
            None => self.policies.push(InstalledPolicy {
                selectors,
                routes: BTreeMap::new(),
                acquired: Arc::default(),
            }),
        }
        self.publish();
    }

    /// Removes a policy and its routes. Removing an absent policy does nothing.
    pub fn delete_policy(&mut self, reqid: ReqId) {
        let before = self.policies.len();
        self.policies
            .retain(|policy| policy.selectors.reqid != reqid);
        if self.policies.len() != before {
            self.publish();
        }
    }

    /// Sends the policy's traffic for `resource` (or the fallback) through outbound SA `spi`
    /// from now on: the switch of a rekey (RFC 7296 §2.8).
    ///
    /// # Errors
    ///
    /// [`InstallError::UnknownPolicy`] or [`InstallError::UnknownOutboundSa`].
    pub fn route_outbound(
        &mut self,
        reqid: ReqId,
        resource: Option<ResourceId>,
        spi: Spi,
    ) -> Result<(), InstallError> {
        if !self.sas.contains_key(&(spi, Direction::Outbound)) {
            return Err(InstallError::UnknownOutboundSa(spi));
        }
        let policy = self
            .policy_mut(reqid)
            .ok_or(InstallError::UnknownPolicy(reqid))?;
        policy.routes.insert(resource, spi);
        policy.acquired.reset(resource);
        self.publish();
        Ok(())
    }

    /// Changes an SA's outer addresses and UDP encapsulation (NAT mapping change, RFC 7296
    /// §2.23; MOBIKE).
    ///
    /// # Errors
    ///
    /// [`InstallError::UnknownSa`] or [`InstallError::MixedFamilies`].
    pub fn update_addresses(
        &mut self,
        spi: Spi,
        direction: Direction,
        local: SocketAddr,
        remote: SocketAddr,
        udp_encap: bool,
    ) -> Result<(), InstallError> {
        if local.is_ipv4() != remote.is_ipv4() {
            return Err(InstallError::MixedFamilies(spi));
        }
        let installed = self
            .sas
            .get_mut(&(spi, direction))
            .ok_or(InstallError::UnknownSa { spi, direction })?;
        installed.entry.local = local;
        installed.entry.remote = remote;
        installed.entry.udp_encap = udp_encap;
        installed.spec.local = local;
        installed.spec.remote = remote;
        installed.spec.udp_encap = udp_encap;
        self.publish();
        Ok(())
    }

    /// Moves a sequence counter forward, never back (HA takeover; RFC 6311 replay-counter
    /// sync). Outbound: `sequence` is the last number to consider used. Inbound: everything at
    /// or below it is refused from now on.
    ///
    /// # Errors
    ///
    /// [`InstallError::UnknownSa`].
    pub fn advance_sequence(
        &mut self,
        spi: Spi,
        direction: Direction,
        sequence: u64,
    ) -> Result<(), InstallError> {
        let installed = self
            .sas
            .get(&(spi, direction))
            .ok_or(InstallError::UnknownSa { spi, direction })?;
        installed.entry.core.advance(sequence);
        Ok(())
    }

    /// Moves an SA's sequence counter forward by `count` from its current value (RFC 6311
    /// replay-counter sync, peer side), saturating at the end of the space.
    ///
    /// # Errors
    ///
    /// [`InstallError::UnknownSa`].
    pub fn skip_sequence(
        &mut self,
        spi: Spi,
        direction: Direction,
        count: u64,
    ) -> Result<(), InstallError> {
        let installed = self
            .sas
            .get(&(spi, direction))
            .ok_or(InstallError::UnknownSa { spi, direction })?;
        installed.entry.core.skip(count);
        Ok(())
    }

    /// The data plane this controls, to hand to the workers.
    pub fn data_plane(&self) -> &Arc<DataPlane> {
        &self.plane
    }

    fn policy_mut(&mut self, reqid: ReqId) -> Option<&mut InstalledPolicy> {
        self.policies
            .iter_mut()
            .find(|policy| policy.selectors.reqid == reqid)
    }

    /// Builds a snapshot from the master tables and publishes it.
    fn publish(&self) {
        let mut snapshot = Snapshot::default();
        for ((spi, direction), installed) in &self.sas {
            let map = match direction {
                Direction::Inbound => &mut snapshot.inbound,
                Direction::Outbound => &mut snapshot.outbound,
            };
            map.insert(spi.0, installed.entry.clone());
        }
        snapshot.policies = self
            .policies
            .iter()
            .map(|policy| Policy {
                selectors: Arc::clone(&policy.selectors),
                routes: policy
                    .routes
                    .iter()
                    .filter_map(|(resource, spi)| {
                        let installed = self.sas.get(&(*spi, Direction::Outbound))?;
                        Some((*resource, installed.entry.clone()))
                    })
                    .collect(),
                acquired: Arc::clone(&policy.acquired),
            })
            .collect();
        self.plane.publish(snapshot);
    }
}

impl SaBackend for DataPlaneControl {
    fn apply(&mut self, command: &SaCommand) -> Result<(), BackendError> {
        self.execute(command)
            .map_err(|error| BackendError(error.to_string()))
    }
}

/// Whether `new` re-adds the SA `old` (same keys, algorithms and packet handling), so that
/// only its addresses and starting sequence may differ.
fn same_sa(old: &SaSpec, new: &SaSpec) -> bool {
    old.reqid == new.reqid
        && old.resource == new.resource
        && old.mode == new.mode
        && old.algorithms == new.algorithms
        && old.encr_key == new.encr_key
        && old.integ_key == new.integ_key
        && old.replay_window == new.replay_window
        && old.lifetime == new.lifetime
        && old.report_first_use == new.report_first_use
        && old.local_ts == new.local_ts
        && old.remote_ts == new.remote_ts
}
