//! Loading the configuration file: the validated model from hitless-config, the IKE engine's
//! config built from it, and the few settings the daemon itself carries out.

use std::net::IpAddr;
use std::net::ToSocketAddrs;
use std::num::NonZeroU32;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Arc;

use hitless_config::ConfigError;
use hitless_config::model::Backend;

/// A loaded configuration, ready for the daemon.
pub(crate) struct Loaded {
    /// The validated file.
    pub(crate) model: hitless_config::Config,
    /// The IKE engine's config.
    pub(crate) ike: Arc<hitless_ike::Config>,
    /// What the daemon does with sockets, threads and devices.
    pub(crate) runtime: Runtime,
}

/// Settings fixed at start-up: a reload that changes them is applied only after a restart.
#[derive(Clone, Debug, Eq, PartialEq)]
pub(crate) struct Runtime {
    /// IKE port (500).
    pub(crate) ike_port: u16,
    /// NAT-T and ESP-in-UDP port (4500).
    pub(crate) nat_t_port: u16,
    /// The control socket.
    pub(crate) control_socket: PathBuf,
    /// The TUN device.
    pub(crate) tun_name: String,
    /// The TUN MTU.
    pub(crate) mtu: u16,
    /// Data-plane workers (TUN queues).
    pub(crate) workers: usize,
    /// The ESP implementation.
    pub(crate) backend: Backend,
    /// Prometheus endpoint.
    pub(crate) metrics_listen: Option<std::net::SocketAddr>,
    /// Where Wireshark's key tables are written (`[debug] wireshark_keylog`).
    pub(crate) wireshark_keylog: Option<PathBuf>,
}

/// Loads and validates `path`, and builds the engine's config (resolving host names).
///
/// # Errors
///
/// The first problem, located in the file.
pub(crate) fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let model = hitless_config::load(path)?;
    let ike = model.to_ike_config(&resolve)?;
    let cpus = std::thread::available_parallelism()
        .ok()
        .and_then(|n| u32::try_from(n.get()).ok())
        .and_then(NonZeroU32::new)
        .unwrap_or(NonZeroU32::MIN);
    let workers = model.data_plane.workers.resolve(cpus).get();
    let runtime = Runtime {
        ike_port: model.ike.port,
        nat_t_port: model.ike.nat_t_port,
        control_socket: model.daemon.control_socket.clone(),
        tun_name: model.data_plane.tun_name.clone(),
        mtu: model.data_plane.mtu,
        workers: usize::try_from(workers).unwrap_or(1).max(1),
        backend: model.data_plane.backend,
        metrics_listen: model.daemon.metrics_listen,
        wireshark_keylog: model.debug.wireshark_keylog.clone(),
    };
    Ok(Loaded {
        model,
        ike: Arc::new(ike),
        runtime,
    })
}

/// Resolves a host name in `remote_addrs` with the system resolver.
fn resolve(name: &str) -> Vec<IpAddr> {
    (name, 0)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

impl Runtime {
    /// The settings that differ between `self` and `new`, for a warning on reload.
    pub(crate) fn changes(&self, new: &Self) -> Vec<&'static str> {
        let mut changed = Vec::new();
        if self.ike_port != new.ike_port {
            changed.push("ike.port");
        }
        if self.nat_t_port != new.nat_t_port {
            changed.push("ike.nat_t_port");
        }
        if self.control_socket != new.control_socket {
            changed.push("daemon.control_socket");
        }
        if self.tun_name != new.tun_name {
            changed.push("data_plane.tun_name");
        }
        if self.mtu != new.mtu {
            changed.push("data_plane.mtu");
        }
        if self.workers != new.workers {
            changed.push("data_plane.workers");
        }
        if self.backend != new.backend {
            changed.push("data_plane.backend");
        }
        if self.metrics_listen != new.metrics_listen {
            changed.push("daemon.metrics_listen");
        }
        if self.wireshark_keylog != new.wireshark_keylog {
            changed.push("debug.wireshark_keylog");
        }
        changed
    }
}
