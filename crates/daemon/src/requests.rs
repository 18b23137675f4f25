//! Control requests carried out by the IKE task: status, SA listing, initiate, terminate,
//! rekey, reload, stats and log level.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

use hitless_control::ControlError;
use hitless_control::ErrorKind;
use hitless_control::HaAction;
use hitless_control::Request;
use hitless_control::Response;
use hitless_control::SaRef;
use hitless_control::SaTarget;
use hitless_control::response as control;
use hitless_esp::DropReason;
use hitless_ike::ApiError;
use hitless_ike::ChildSaId;
use hitless_ike::IkeSaId;
use hitless_ike::IkeSaState;
use hitless_ike::config::Connection;
use hitless_ike::config::LocalAuth;
use hitless_ike::config::StartAction;
use tracing::debug;
use tracing::info;
use tracing::warn;

use crate::ike_task::IkeTask;
use crate::logging;
use crate::settings;
use crate::views;

impl IkeTask {
    /// Carries out one request.
    pub(crate) fn handle(&mut self, request: Request) -> Result<Response, ControlError> {
        let now = Instant::now();
        let result = match request {
            Request::Status => Ok(Response::Status(Box::new(self.status(now)))),
            Request::ListSas { connection } => Ok(Response::Sas(control::SaList {
                ike_sas: self
                    .endpoint
                    .ike_sas()
                    .filter(|sa| connection.as_deref().is_none_or(|c| c == sa.connection))
                    .map(|sa| views::ike_sa(&sa, &self.plane, now))
                    .collect(),
            })),
            Request::Initiate { connection, child } => self.initiate(now, &connection, child),
            Request::Terminate { target } => self.terminate(now, &target),
            Request::Rekey { target } => self.rekey(now, &target),
            Request::Reload => self.reload().map(Response::Reloaded),
            Request::Stats => Ok(Response::Stats(self.stats(now))),
            Request::LogLevel { level } => {
                let previous = logging::control_level(&self.logs.current());
                self.logs
                    .set(level.as_str())
                    .map_err(|e| ControlError::new(ErrorKind::Internal, format!("{e:#}")))?;
                info!(%previous, current = %level, "log level changed");
                Ok(Response::LogLevel {
                    previous,
                    current: level,
                })
            }
            // The control server answers subscriptions itself.
            Request::Subscribe { .. } => Ok(Response::Subscribed),
            Request::Ha { action } => Err(ControlError::new(
                ErrorKind::NotConfigured,
                match action {
                    HaAction::Status => "this node is not part of an HA cluster",
                    _ => "this node is not part of an HA cluster (no [ha] section)",
                },
            )),
        };
        self.drain(now);
        result
    }

    fn initiate(
        &mut self,
        now: Instant,
        connection: &str,
        child: Option<String>,
    ) -> Result<Response, ControlError> {
        let config = self
            .ike_config
            .connection(connection)
            .ok_or_else(|| unknown_connection(connection))?;
        if let Some(child) = &child
            && !config.children.iter().any(|c| &c.name == child)
        {
            return Err(ControlError::new(
                ErrorKind::UnknownChild,
                format!("connection {connection:?} has no child {child:?}"),
            ));
        }
        let default_children = initial_children(config);
        let existing = self
            .endpoint
            .ike_sas()
            .find(|sa| {
                sa.connection == connection
                    && matches!(sa.state, IkeSaState::Established | IkeSaState::Connecting)
            })
            .map(|sa| (sa.id, sa.state));
        match (child, existing) {
            (Some(child), Some((ike, IkeSaState::Established))) => {
                self.endpoint
                    .create_child(now, ike, &child)
                    .map_err(api_error)?;
                Ok(initiated(ike, vec![child]))
            }
            (Some(child), Some((ike, _))) => {
                if !default_children.contains(&child) {
                    self.pending_children
                        .entry(ike)
                        .or_default()
                        .push(child.clone());
                }
                Ok(initiated(ike, vec![child]))
            }
            (Some(child), None) => {
                let ike = self.endpoint.initiate(now, connection).map_err(api_error)?;
                if !default_children.contains(&child) {
                    self.pending_children.insert(ike, vec![child.clone()]);
                }
                Ok(initiated(ike, vec![child]))
            }
            (None, _) => {
                let ike = self.endpoint.initiate(now, connection).map_err(api_error)?;
                Ok(initiated(ike, default_children))
            }
        }
    }

    fn terminate(&mut self, now: Instant, target: &SaTarget) -> Result<Response, ControlError> {
        let affected = self.select(target)?;
        for &ike in &affected.ike_sas {
            self.endpoint
                .terminate_ike(now, IkeSaId(ike.0))
                .map_err(api_error)?;
        }
        for &child in &affected.child_sas {
            self.endpoint
                .terminate_child(now, ChildSaId(child.0))
                .map_err(api_error)?;
        }
        Ok(Response::Terminated(affected))
    }

    fn rekey(&mut self, now: Instant, target: &SaTarget) -> Result<Response, ControlError> {
        let affected = self.select(target)?;
        for &ike in &affected.ike_sas {
            self.endpoint
                .rekey_ike(now, IkeSaId(ike.0))
                .map_err(api_error)?;
        }
        for &child in &affected.child_sas {
            self.endpoint
                .rekey_child(now, ChildSaId(child.0))
                .map_err(api_error)?;
        }
        Ok(Response::Rekeying(affected))
    }

    /// The SAs a target names; an error when it names none.
    fn select(&self, target: &SaTarget) -> Result<control::Affected, ControlError> {
        let mut affected = control::Affected::default();
        match target {
            SaTarget::Ike(SaRef::Id(id)) => {
                if self.endpoint.ike_sa(IkeSaId(*id)).is_none() {
                    return Err(unknown_sa(format!("no IKE SA #{id}")));
                }
                affected.ike_sas.push(control::IkeSaId(*id));
            }
            SaTarget::Ike(SaRef::Name(name)) => {
                if self.ike_config.connection(name).is_none() {
                    return Err(unknown_connection(name));
                }
                affected.ike_sas = self
                    .endpoint
                    .ike_sas()
                    .filter(|sa| sa.connection == name)
                    .map(|sa| control::IkeSaId(sa.id.0))
                    .collect();
                if affected.ike_sas.is_empty() {
                    return Err(unknown_sa(format!("connection {name:?} has no IKE SA")));
                }
            }
            SaTarget::Child(reference) => {
                affected.child_sas = self
                    .endpoint
                    .ike_sas()
                    .flat_map(|sa| sa.children)
                    .filter(|child| match reference {
                        SaRef::Id(id) => child.id.0 == *id,
                        SaRef::Name(name) => child.name == name,
                    })
                    .map(|child| control::ChildSaId(child.id.0))
                    .collect();
                if affected.child_sas.is_empty() {
                    return Err(unknown_sa(format!("no Child SA {reference}")));
                }
            }
        }
        Ok(affected)
    }

    /// Reloads the configuration file: the engine gets the new config, IKE SAs of removed
    /// connections are deleted, new connections with start actions are initiated, and SAs of
    /// other connections stay up (changed settings apply to new SAs and rekeys).
    pub(crate) fn reload(&mut self) -> Result<control::ReloadSummary, ControlError> {
        let loaded = settings::load(&self.config_path)
            .map_err(|error| ControlError::new(ErrorKind::ConfigInvalid, error.render()))?;
        let warnings: Vec<String> = loaded
            .model
            .warnings
            .iter()
            .map(|w| format!("{}: {w}", self.config_path.display()))
            .collect();
        for warning in &warnings {
            warn!("{warning}");
        }
        let restart = self.runtime.changes(&loaded.runtime);
        if !restart.is_empty() {
            warn!(
                settings = %restart.join(", "),
                "these settings take effect only after a restart"
            );
        }
        let mut summary = diff(&self.ike_config.connections, &loaded.ike.connections);
        summary.warnings = warnings;
        let now = Instant::now();
        self.endpoint.reload(now, Arc::clone(&loaded.ike));
        let orphans: Vec<IkeSaId> = self
            .endpoint
            .ike_sas()
            .filter(|sa| loaded.ike.connection(sa.connection).is_none())
            .map(|sa| sa.id)
            .collect();
        for &ike in &orphans {
            if let Err(error) = self.endpoint.terminate_ike(now, ike) {
                debug!(%ike, %error, "cannot delete IKE SA of a removed connection");
            }
        }
        self.supervisor.reload(&loaded.model);
        self.logs.reconfigure(loaded.model.daemon.log_level);
        self.endpoint.start(now);
        self.ike_config = loaded.ike;
        self.drain(now);
        info!(
            added = summary.added.len(),
            removed = summary.removed.len(),
            changed = summary.changed.len(),
            unchanged = summary.unchanged.len(),
            deleted_ike_sas = orphans.len(),
            "configuration reloaded"
        );
        self.publish(hitless_control::Event::ConfigReloaded {
            added: summary.added.clone(),
            removed: summary.removed.clone(),
            changed: summary.changed.clone(),
        });
        Ok(summary)
    }

    fn status(&self, now: Instant) -> control::Status {
        let mut established = 0u32;
        let mut connecting = 0u32;
        let mut children = 0u32;
        for sa in self.endpoint.ike_sas() {
            match sa.state {
                IkeSaState::Established => established += 1,
                IkeSaState::Connecting => connecting += 1,
                _ => {}
            }
            children += u32::try_from(sa.children.len()).unwrap_or(u32::MAX);
        }
        control::Status {
            software: software(),
            pid: std::process::id(),
            uptime_secs: now.saturating_duration_since(self.started).as_secs(),
            config_file: self.config_path.display().to_string(),
            log_level: logging::control_level(&self.logs.current()),
            backend: "userspace".to_owned(),
            workers: u32::try_from(self.runtime.workers).unwrap_or(u32::MAX),
            ike_sas: established,
            half_open_ike_sas: connecting,
            child_sas: children,
            connections: self
                .ike_config
                .connections
                .iter()
                .map(|c| c.name.clone())
                .collect(),
            metrics_listen: self.runtime.metrics_listen.map(|a| a.to_string()),
            wireshark_keylog: self
                .keylog
                .as_ref()
                .map(|keylog| keylog.dir().display().to_string()),
            ha: None,
        }
    }

    fn stats(&self, now: Instant) -> control::Stats {
        let counts = &self.counts;
        let counters = self.endpoint.counters();
        let invalid_messages = counters
            .iter()
            .filter(|(reason, _)| {
                use hitless_ike::ErrorCounter as C;
                matches!(
                    reason,
                    C::Malformed
                        | C::UnknownSpi
                        | C::IntegrityCheckFailed
                        | C::OutOfWindow
                        | C::UnmatchedResponse
                        | C::UnexpectedMessage
                )
            })
            .map(|(_, count)| count)
            .sum();
        let retransmits = self
            .endpoint
            .ike_sas()
            .map(|sa| sa.counters.retransmits)
            .sum();
        let io = &self.io;
        let io_drops = [
            ("send-failed", io.send_errors.load(Relaxed)),
            ("tun-write-failed", io.tun_write_errors.load(Relaxed)),
            ("ike-queue-full", io.ike_dropped.load(Relaxed)),
        ];
        let drops: BTreeMap<String, u64> = DropReason::ALL
            .iter()
            .map(|&reason| {
                (
                    reason.as_str().replace('_', "-"),
                    self.plane.drops().get(reason),
                )
            })
            .chain(
                io_drops
                    .into_iter()
                    .map(|(name, count)| (name.to_owned(), count)),
            )
            .filter(|&(_, count)| count > 0)
            .collect();
        control::Stats {
            uptime_secs: now.saturating_duration_since(self.started).as_secs(),
            ike: control::IkeStats {
                handshakes_initiated: counts.established_initiator,
                handshakes_responded: counts.established_responder,
                established: counts.established_initiator + counts.established_responder,
                failed: counts.failures.values().sum(),
                failures: counts.failures.clone(),
                ike_rekeys: counts.ike_rekeys,
                child_rekeys: counts.child_rekeys,
                retransmits,
                cookies_sent: 0,
                invalid_messages,
            },
            data_plane: control::DataPlaneStats {
                packets_in: io.inner_packets_in.load(Relaxed),
                packets_out: io.inner_packets_out.load(Relaxed),
                bytes_in: io.inner_bytes_in.load(Relaxed),
                bytes_out: io.inner_bytes_out.load(Relaxed),
                drops,
            },
        }
    }
}

/// `hitlessd VERSION`.
pub(crate) fn software() -> String {
    format!("hitlessd {}", env!("CARGO_PKG_VERSION"))
}

/// The Child SAs an initiation of `connection` creates: those with `start_action = "start"`,
/// or the first one.
fn initial_children(connection: &Connection) -> Vec<String> {
    let started: Vec<String> = connection
        .children
        .iter()
        .filter(|c| c.start_action == StartAction::Start)
        .map(|c| c.name.clone())
        .collect();
    if started.is_empty() {
        connection
            .children
            .iter()
            .take(1)
            .map(|c| c.name.clone())
            .collect()
    } else {
        started
    }
}

fn initiated(ike: IkeSaId, children: Vec<String>) -> Response {
    Response::Initiated {
        ike_sa: control::IkeSaId(ike.0),
        children,
    }
}

/// What changed between two sets of connections.
fn diff(old: &[Connection], new: &[Connection]) -> control::ReloadSummary {
    let mut summary = control::ReloadSummary::default();
    for connection in new {
        match old.iter().find(|o| o.name == connection.name) {
            None => summary.added.push(connection.name.clone()),
            Some(previous) if same(previous, connection) => {
                summary.unchanged.push(connection.name.clone());
            }
            Some(_) => summary.changed.push(connection.name.clone()),
        }
    }
    summary.removed = old
        .iter()
        .filter(|o| !new.iter().any(|n| n.name == o.name))
        .map(|o| o.name.clone())
        .collect();
    summary
}

/// Whether two connection configs are the same, keys included (their `Debug` hides keys).
fn same(a: &Connection, b: &Connection) -> bool {
    let psk = |c: &Connection| match &c.local_auth {
        LocalAuth::Psk(key) => Some(key.clone()),
        #[allow(unreachable_patterns)]
        _ => None,
    };
    format!("{a:?}") == format!("{b:?}") && psk(a) == psk(b)
}

fn api_error(error: ApiError) -> ControlError {
    let kind = match &error {
        ApiError::UnknownConnection(_) => ErrorKind::UnknownConnection,
        ApiError::UnknownChild(_) => ErrorKind::UnknownChild,
        ApiError::UnknownIkeSa(_) | ApiError::UnknownChildSa(_) => ErrorKind::UnknownSa,
        ApiError::WrongState(_) => ErrorKind::InvalidState,
        _ => ErrorKind::Internal,
    };
    ControlError::new(kind, error.to_string())
}

fn unknown_connection(name: &str) -> ControlError {
    ControlError::new(
        ErrorKind::UnknownConnection,
        format!("no connection {name:?} in the configuration"),
    )
}

fn unknown_sa(message: String) -> ControlError {
    ControlError::new(ErrorKind::UnknownSa, message)
}
