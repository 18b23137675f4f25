//! Start-up and wiring: the control socket, the data plane, the IKE sockets, the engine and the
//! IKE task; and the clean-up after it returns.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use anyhow::Result;
use anyhow::bail;
use hitless_config::model::Backend as BackendKind;
use hitless_ike::Endpoint;
use tokio::sync::mpsc;
use tracing::info;

use crate::control_server;
use crate::dataplane;
use crate::events::EventCounts;
use crate::ike_task::EventBus;
use crate::ike_task::IkeTask;
use crate::ike_task::Inputs;
use crate::keylog::KeyLog;
use crate::logging::LogControl;
use crate::metrics;
use crate::notify;
use crate::settings::Loaded;
use crate::signals::Signals;
use crate::sockets;
use crate::sockets::IkeSockets;
use crate::supervise::Supervisor;

/// IKE messages waiting for the IKE task; more are dropped (and retransmitted by the peer).
const DATAGRAM_QUEUE: usize = 1024;
/// Control requests waiting for the IKE task.
const CALL_QUEUE: usize = 64;
/// Events buffered per control subscriber before it is told it lagged.
pub(crate) const EVENT_QUEUE: usize = 1024;

/// Runs the daemon until SIGTERM or SIGINT.
///
/// # Errors
///
/// When something it needs cannot be set up: the control socket (in use by another daemon),
/// the TUN device, the sockets.
pub(crate) async fn run(
    config_path: PathBuf,
    loaded: Loaded,
    logs: LogControl,
    events: EventBus,
) -> Result<()> {
    let Loaded {
        model,
        ike,
        runtime,
    } = loaded;
    if runtime.backend != BackendKind::Userspace {
        bail!(
            "{}: data_plane.backend = \"xfrm\" is not supported by hitlessd yet, expected \
             \"userspace\"",
            config_path.display()
        );
    }
    let signals = Signals::install()?;
    let listener = control_server::bind(&runtime.control_socket)?;
    let crypto = Arc::new(hitless_crypto_awslc::provider());
    let (datagram_tx, datagram_rx) = mpsc::channel(DATAGRAM_QUEUE);
    let (running, backend) = dataplane::start(&runtime, Arc::clone(&crypto), datagram_tx.clone())?;
    let (ike4, ike6) = sockets::open_ike(runtime.ike_port)?;
    for socket in [Some(Arc::clone(&ike4)), ike6.clone()]
        .into_iter()
        .flatten()
    {
        sockets::spawn_port500_reader(socket, runtime.ike_port, datagram_tx.clone())?;
    }
    drop(datagram_tx);
    let sockets = IkeSockets {
        ike4: Some(ike4),
        ike6,
        natt4: running.natt4.clone(),
        natt6: running.natt6.clone(),
        ike_port: runtime.ike_port,
        nat_t_port: runtime.nat_t_port,
    };
    let keylog = match &runtime.wireshark_keylog {
        Some(dir) => Some(KeyLog::open(dir.clone(), Instant::now()).with_context(|| {
            format!(
                "{}: debug.wireshark_keylog: cannot write the key tables into {}",
                config_path.display(),
                dir.display()
            )
        })?),
        None => None,
    };
    let (call_tx, call_rx) = mpsc::channel(CALL_QUEUE);
    let logs = Arc::new(logs);
    let control_socket = runtime.control_socket.clone();
    if let Some(address) = runtime.metrics_listen {
        let metrics = metrics::bind(address).await?;
        tokio::spawn(metrics::serve(metrics, call_tx.clone()));
    }
    tokio::spawn(control_server::serve(listener, call_tx, events.clone()));
    let task = IkeTask {
        endpoint: Endpoint::new(Arc::clone(&ike), crypto),
        ike_config: ike,
        sockets,
        backend,
        plane: Arc::clone(&running.plane),
        io: Arc::clone(&running.io),
        events,
        config_path,
        runtime,
        logs,
        started: Instant::now(),
        counts: EventCounts::default(),
        connection_of: BTreeMap::new(),
        pending_children: BTreeMap::new(),
        supervisor: Supervisor::new(&model),
        keylog,
    };
    info!(
        connections = model.connections.len(),
        control = %control_socket.display(),
        "hitlessd started"
    );
    notify::notify("READY=1");
    task.run(Inputs {
        datagrams: datagram_rx,
        calls: call_rx,
        signals,
    })
    .await;
    control_server::remove(&control_socket);
    info!("hitlessd stopped");
    Ok(())
}
