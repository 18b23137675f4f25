//! The userspace ESP data plane at run time: the TUN device, the worker threads, the port-4500
//! and raw ESP sockets, the routes, and the SA backend the IKE task applies commands to.

mod routes;
mod worker;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::Ipv6Addr;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use anyhow::Result;
use hitless_crypto::CryptoProvider;
use hitless_esp::DataPlane;
use hitless_esp::DataPlaneControl;
use hitless_sadb::BackendError;
use hitless_sadb::Direction;
use hitless_sadb::ReqId;
use hitless_sadb::SaBackend;
use hitless_sadb::SaCommand;
use hitless_sys::TunConfig;
use hitless_sys::TunDevice;
use hitless_sys::TunQueue;
use hitless_sys::UdpConfig;
use hitless_sys::UdpSocket;
use hitless_sys::netlink;
use hitless_sys::netlink::Netlink;
use hitless_sys::raw_esp::RawEspSocket;
use tokio::sync::mpsc;
use tracing::debug;
use tracing::error;
use tracing::info;
use tracing::warn;

pub(crate) use routes::selector_prefixes;
pub(crate) use worker::IoStats;

use crate::settings::Runtime;
use crate::sockets::IkeDatagram;
use routes::Routes;
use worker::Senders;

/// Socket buffers of the data-plane sockets.
const SOCKET_BUFFER: usize = 4 << 20;

/// The running data plane.
pub(crate) struct Running {
    /// The ESP engine the workers share.
    pub(crate) plane: Arc<DataPlane>,
    /// The port-4500 IPv4 socket the IKE task sends from.
    pub(crate) natt4: Option<Arc<UdpSocket>>,
    /// The port-4500 IPv6 socket the IKE task sends from.
    pub(crate) natt6: Option<Arc<UdpSocket>>,
    /// The workers' I/O counters.
    pub(crate) io: Arc<IoStats>,
}

/// The SA backend: the data plane's control side, plus routes for installed policies.
pub(crate) struct Backend {
    control: DataPlaneControl,
    routes: Routes,
    /// The peer's outer address of each policy, from its outbound SA, to keep it out of the
    /// routes into the tunnel.
    peers: BTreeMap<ReqId, IpAddr>,
}

/// Opens the TUN device and the sockets, and starts the workers.
///
/// # Errors
///
/// When the TUN device or a socket cannot be opened.
pub(crate) fn start(
    runtime: &Runtime,
    crypto: Arc<CryptoProvider>,
    to_ike: mpsc::Sender<IkeDatagram>,
) -> Result<(Running, Backend)> {
    let (plane, control) = DataPlane::new(hitless_esp::Config::default(), crypto);
    let device = open_tun(runtime)?;
    let tun_name = device.name().to_owned();
    let offloads = device.offloads();
    quiet_ipv6(&tun_name);
    let mut netlink = Netlink::open().context("opening rtnetlink")?;
    let ifindex = netlink::ifindex(&tun_name).context("looking up the TUN device")?;
    netlink
        .set_link(ifindex, true, Some(u32::from(runtime.mtu)))
        .with_context(|| format!("bringing {tun_name} up with MTU {}", runtime.mtu))?;
    let raw4 = open_raw(false);
    let raw6 = open_raw(true);
    let io = Arc::new(IoStats::default());
    let queues: Vec<Arc<TunQueue>> = device.into_queues().into_iter().map(Arc::new).collect();
    let mut natt4 = None;
    let mut natt6 = None;
    for (index, queue) in queues.iter().enumerate() {
        let udp4 = Some(bind_nat_t(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            runtime.nat_t_port,
        ))?);
        let udp6 = match bind_nat_t(SocketAddr::new(
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            runtime.nat_t_port,
        )) {
            Ok(socket) => Some(socket),
            Err(error) if index == 0 => {
                warn!(error = %format!("{error:#}"), "no IPv6 port-4500 socket");
                None
            }
            Err(_) => None,
        };
        if index == 0 {
            natt4.clone_from(&udp4);
            natt6.clone_from(&udp6);
        }
        let senders = Senders {
            udp4: udp4.clone(),
            udp6: udp6.clone(),
            raw4: raw4.clone(),
            raw6: raw6.clone(),
        };
        spawn_encap(index, Arc::clone(queue), senders, &plane, &io)?;
        for udp in [udp4, udp6].into_iter().flatten() {
            spawn_decap_udp(index, udp, runtime.nat_t_port, queue, &plane, &to_ike, &io)?;
        }
    }
    let first = queues.first().context("the TUN device has no queue")?;
    for raw in [raw4, raw6].into_iter().flatten() {
        spawn_decap_raw(raw, first, &plane, &io)?;
    }
    info!(
        tun = %tun_name,
        workers = queues.len(),
        ?offloads,
        mtu = runtime.mtu,
        "data plane started"
    );
    Ok((
        Running {
            plane,
            natt4,
            natt6,
            io,
        },
        Backend {
            control,
            routes: Routes::new(netlink, ifindex),
            peers: BTreeMap::new(),
        },
    ))
}

impl Backend {
    /// Removes the routes the daemon added (at exit).
    pub(crate) fn clear_routes(&mut self) {
        self.routes.clear();
    }
}

impl SaBackend for Backend {
    fn apply(&mut self, command: &SaCommand) -> Result<(), BackendError> {
        self.control.apply(command)?;
        match command {
            SaCommand::AddSa(spec) if spec.direction == Direction::Outbound => {
                self.peers.insert(spec.reqid, spec.remote.ip());
            }
            SaCommand::AddPolicy(policy) => {
                let peer = self.peers.get(&policy.reqid).copied();
                self.routes
                    .policy_added(policy.reqid, &policy.remote_ts, peer);
            }
            SaCommand::DeletePolicy { reqid } => {
                self.routes.policy_deleted(*reqid);
                self.peers.remove(reqid);
            }
            _ => {}
        }
        Ok(())
    }
}

fn open_tun(runtime: &Runtime) -> Result<TunDevice> {
    let mut config = TunConfig {
        name: runtime.tun_name.clone(),
        queues: runtime.workers,
        offloads: true,
    };
    match TunDevice::open(&config) {
        Ok(device) => Ok(device),
        Err(error) => {
            warn!(%error, "TUN offloads unavailable, opening without them");
            config.offloads = false;
            TunDevice::open(&config).with_context(|| {
                format!(
                    "opening TUN device {} with {} queues (needs /dev/net/tun and CAP_NET_ADMIN)",
                    runtime.tun_name, runtime.workers
                )
            })
        }
    }
}

/// Gives the TUN device no IPv6 link-local address, so the kernel sends no router
/// solicitations or MLD reports into the tunnel (they match no policy and would only be
/// counted as drops). IPv6 traffic is still routed through it. Best effort: a host without
/// IPv6 has nothing to quieten.
fn quiet_ipv6(tun_name: &str) {
    let path = format!("/proc/sys/net/ipv6/conf/{tun_name}/addr_gen_mode");
    if let Err(error) = std::fs::write(&path, "1") {
        debug!(%path, %error, "cannot turn off IPv6 address generation on the TUN device");
    }
}

fn open_raw(ipv6: bool) -> Option<Arc<RawEspSocket>> {
    match RawEspSocket::open(ipv6, None, Some(SOCKET_BUFFER)) {
        Ok(socket) => Some(Arc::new(socket)),
        Err(error) => {
            warn!(ipv6, %error, "no raw ESP socket: ESP without UDP encapsulation is unavailable");
            None
        }
    }
}

fn bind_nat_t(address: SocketAddr) -> Result<Arc<UdpSocket>> {
    let socket = UdpSocket::bind(&UdpConfig {
        bind: address,
        reuse_port: true,
        gro: true,
        pktinfo: true,
        buffer_size: Some(SOCKET_BUFFER),
        v6_only: true,
    })
    .with_context(|| format!("binding UDP {address} for NAT-T and ESP in UDP"))?;
    Ok(Arc::new(socket))
}

fn spawn_encap(
    index: usize,
    queue: Arc<TunQueue>,
    senders: Senders,
    plane: &Arc<DataPlane>,
    io: &Arc<IoStats>,
) -> Result<()> {
    let (plane, io) = (Arc::clone(plane), Arc::clone(io));
    std::thread::Builder::new()
        .name(format!("encap-{index}"))
        .spawn(move || {
            if let Err(error) = worker::encapsulate(&queue, &senders, &plane, &io) {
                error!(worker = index, %error, "encapsulation worker stopped");
            }
        })
        .context("spawning an encapsulation worker")?;
    Ok(())
}

fn spawn_decap_udp(
    index: usize,
    udp: Arc<UdpSocket>,
    nat_t_port: u16,
    queue: &Arc<TunQueue>,
    plane: &Arc<DataPlane>,
    to_ike: &mpsc::Sender<IkeDatagram>,
    io: &Arc<IoStats>,
) -> Result<()> {
    let (queue, plane, io) = (Arc::clone(queue), Arc::clone(plane), Arc::clone(io));
    let to_ike = to_ike.clone();
    std::thread::Builder::new()
        .name(format!("decap-{index}"))
        .spawn(move || {
            if let Err(error) =
                worker::decapsulate_udp(&udp, nat_t_port, &queue, &plane, &to_ike, &io)
            {
                error!(worker = index, %error, "decapsulation worker stopped");
            }
        })
        .context("spawning a decapsulation worker")?;
    Ok(())
}

fn spawn_decap_raw(
    raw: Arc<RawEspSocket>,
    queue: &Arc<TunQueue>,
    plane: &Arc<DataPlane>,
    io: &Arc<IoStats>,
) -> Result<()> {
    let (queue, plane, io) = (Arc::clone(queue), Arc::clone(plane), Arc::clone(io));
    std::thread::Builder::new()
        .name("decap-raw".to_owned())
        .spawn(move || {
            if let Err(error) = worker::decapsulate_raw(&raw, &queue, &plane, &io) {
                error!(%error, "raw ESP worker stopped");
            }
        })
        .context("spawning the raw ESP worker")?;
    Ok(())
}
