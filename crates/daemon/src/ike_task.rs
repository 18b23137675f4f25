//! The IKE task: the one owner of the [`Endpoint`]. It waits for the first of a datagram, the
//! engine's next deadline, a data-plane event, a control request or a signal; hands it to the
//! engine; and then drains the engine's output queue in order: transmits to the sockets, SA
//! commands to the data plane (failures go back as `InstallFailed`), events to the log and to
//! control subscribers (ARCHITECTURE.md §2.4, §2.8); then it updates the Wireshark key log,
//! when it is on (`keylog`). Requests are in `requests`, events in `events`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use hitless_esp::DataPlane;
use hitless_ike::Datagram;
use hitless_ike::Endpoint;
use hitless_ike::IkeSaId;
use hitless_ike::IkeSaState;
use hitless_ike::Output;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::SaBackend;
use hitless_sadb::SaCommand;
use tokio::sync::broadcast;
use tokio::sync::mpsc;
use tracing::debug;
use tracing::error;
use tracing::info;
use tracing::warn;

use crate::control::Call;
use crate::dataplane::Backend;
use crate::dataplane::IoStats;
use crate::events::EventCounts;
use crate::keylog::KeyLog;
use crate::logging::LogControl;
use crate::notify;
use crate::settings::Runtime;
use crate::signals::Action;
use crate::signals::Signals;
use crate::sockets::IkeDatagram;
use crate::sockets::IkeSockets;
use crate::supervise::Supervisor;

/// How often data-plane events (lifetimes, first use, acquires) are collected.
const BACKEND_POLL: Duration = Duration::from_millis(20);
/// How long SIGTERM waits for the peers to answer our DELETEs.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// Control-protocol events with their wall-clock time in milliseconds.
pub(crate) type EventBus = broadcast::Sender<(u64, hitless_control::Event)>;

/// The IKE task and everything it owns.
pub(crate) struct IkeTask {
    /// The engine.
    pub(crate) endpoint: Endpoint,
    /// The engine's config in force.
    pub(crate) ike_config: Arc<hitless_ike::Config>,
    /// Where IKE messages leave.
    pub(crate) sockets: IkeSockets,
    /// Where SA commands go.
    pub(crate) backend: Backend,
    /// The data plane (counters, events).
    pub(crate) plane: Arc<DataPlane>,
    /// The workers' I/O counters.
    pub(crate) io: Arc<IoStats>,
    /// Control subscribers.
    pub(crate) events: EventBus,
    /// The configuration file.
    pub(crate) config_path: PathBuf,
    /// Settings fixed at start-up.
    pub(crate) runtime: Runtime,
    /// The log filter.
    pub(crate) logs: Arc<LogControl>,
    /// When the daemon started.
    pub(crate) started: Instant,
    /// Lifecycle counters.
    pub(crate) counts: EventCounts,
    /// The connection of each IKE SA, for events about SAs that are gone.
    pub(crate) connection_of: BTreeMap<IkeSaId, String>,
    /// Child SAs to create once their IKE SA is established.
    pub(crate) pending_children: BTreeMap<IkeSaId, Vec<String>>,
    /// Re-initiation of connections that are kept up.
    pub(crate) supervisor: Supervisor,
    /// Wireshark's key tables, when `[debug] wireshark_keylog` is set.
    pub(crate) keylog: Option<KeyLog>,
}

/// What the IKE task waits on.
pub(crate) struct Inputs {
    /// IKE messages from ports 500 and 4500.
    pub(crate) datagrams: mpsc::Receiver<IkeDatagram>,
    /// Control requests.
    pub(crate) calls: mpsc::Receiver<Call>,
    /// SIGHUP, SIGTERM, SIGINT.
    pub(crate) signals: Signals,
}

impl IkeTask {
    /// Runs until SIGTERM or SIGINT, then deletes the SAs politely and returns.
    pub(crate) async fn run(mut self, mut inputs: Inputs) {
        let now = Instant::now();
        self.endpoint.start(now);
        self.drain(now);
        let mut pump = tokio::time::interval(BACKEND_POLL);
        pump.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            let deadline = self.endpoint.poll_timeout();
            tokio::select! {
                Some(datagram) = inputs.datagrams.recv() => self.datagram(&datagram),
                () = sleep_until(deadline) => self.timeout(),
                () = sleep_until(self.supervisor.next()) => self.restart_due(),
                _ = pump.tick() => self.pump_backend(),
                Some(call) = inputs.calls.recv() => {
                    let reply = self.handle(call.request);
                    let _ = call.reply.send(reply);
                }
                action = inputs.signals.recv() => match action {
                    Action::Reload => {
                        info!("SIGHUP: reloading the configuration");
                        notify::notify("RELOADING=1");
                        if let Err(error) = self.reload() {
                            error!("reload refused, the running configuration stays:\n{}", error.message);
                        }
                        notify::notify("READY=1");
                    }
                    Action::Stop => break,
                },
            }
        }
        self.shutdown(&mut inputs).await;
    }

    fn datagram(&mut self, datagram: &IkeDatagram) {
        let now = Instant::now();
        self.endpoint.handle_datagram(
            now,
            Datagram {
                local: datagram.local,
                remote: datagram.remote,
                payload: &datagram.payload,
            },
        );
        self.drain(now);
    }

    fn timeout(&mut self) {
        let now = Instant::now();
        self.endpoint.handle_timeout(now);
        self.drain(now);
    }

    /// Initiates the kept-up connections whose retry is due and that have no IKE SA.
    fn restart_due(&mut self) {
        let now = Instant::now();
        for connection in self.supervisor.due(now) {
            let exists = self
                .endpoint
                .ike_sas()
                .any(|sa| sa.connection == connection && sa.state != IkeSaState::Deleting);
            if exists {
                continue;
            }
            info!(%connection, "initiating again (connection is kept up)");
            if let Err(error) = self.endpoint.initiate(now, &connection) {
                warn!(%connection, %error, "cannot initiate");
                self.supervisor.failed(now, &connection);
            }
        }
        self.drain(now);
    }

    /// Feeds the data plane's events into the engine.
    fn pump_backend(&mut self) {
        let now = Instant::now();
        self.plane.poll_checkpoints(now);
        let mut any = false;
        while let Some(event) = self.plane.poll_event() {
            self.endpoint.handle_backend_event(now, event);
            any = true;
        }
        if any {
            self.drain(now);
        }
    }

    /// Carries out the engine's outputs in order, until its queue is empty.
    pub(crate) fn drain(&mut self, now: Instant) {
        loop {
            let mut failed = Vec::new();
            while let Some(output) = self.endpoint.poll_output() {
                match output {
                    Output::Transmit(transmit) => {
                        if let Err(error) = self.sockets.send(&transmit) {
                            debug!(remote = %transmit.remote, %error, "cannot send IKE message");
                        }
                    }
                    Output::Sa(command) => match self.backend.apply(&command) {
                        Ok(()) => {
                            if let Some(keylog) = &mut self.keylog {
                                keylog.sa_applied(&command);
                            }
                        }
                        Err(error) => {
                            warn!(%error, "SA backend refused a command");
                            if let Some(event) = install_failed(&command, error.to_string()) {
                                failed.push(event);
                            }
                        }
                    },
                    Output::Event(event) => self.event(now, event),
                }
            }
            if failed.is_empty() {
                break;
            }
            for event in failed {
                self.endpoint.handle_backend_event(now, event);
            }
        }
        if let Some(keylog) = &mut self.keylog {
            keylog.sync_ike(now, &self.endpoint);
            keylog.flush(now);
        }
    }

    /// SIGTERM: delete every IKE SA (DELETE sent), wait a little for the answers, remove the
    /// routes.
    async fn shutdown(&mut self, inputs: &mut Inputs) {
        notify::notify("STOPPING=1");
        if let Some(keylog) = &mut self.keylog {
            keylog.freeze();
        }
        let now = Instant::now();
        let ids: Vec<IkeSaId> = self.endpoint.ike_sas().map(|sa| sa.id).collect();
        info!(ike_sas = ids.len(), "stopping: deleting SAs");
        for ike in ids {
            if let Err(error) = self.endpoint.terminate_ike(now, ike) {
                debug!(%ike, %error, "cannot delete IKE SA");
            }
        }
        self.drain(now);
        let grace = tokio::time::Instant::from_std(now + SHUTDOWN_GRACE);
        while self.endpoint.ike_sas().next().is_some() {
            let deadline = self.endpoint.poll_timeout();
            tokio::select! {
                Some(datagram) = inputs.datagrams.recv() => self.datagram(&datagram),
                () = sleep_until(deadline) => self.timeout(),
                () = tokio::time::sleep_until(grace) => {
                    debug!("peers did not answer every DELETE in time");
                    break;
                }
            }
        }
        self.backend.clear_routes();
    }
}

/// The engine's deadline as a future; never completes without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

/// The event that tells the engine a command failed, for the commands it needs to know about.
fn install_failed(command: &SaCommand, reason: String) -> Option<BackendEvent> {
    let (spi, direction) = match command {
        SaCommand::AddSa(spec) => (spec.spi, spec.direction),
        SaCommand::RouteOutbound { spi, .. } => (*spi, Direction::Outbound),
        SaCommand::UpdateAddresses { spi, direction, .. }
        | SaCommand::AdvanceSequence { spi, direction, .. }
        | SaCommand::SkipSequence { spi, direction, .. } => (*spi, *direction),
        SaCommand::DeleteSa { .. } | SaCommand::AddPolicy(_) | SaCommand::DeletePolicy { .. } => {
            return None;
        }
    };
    Some(BackendEvent::InstallFailed {
        spi,
        direction,
        reason,
    })
}
