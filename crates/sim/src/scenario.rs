//! Shared setup for scenario tests (STYLE.md §3.7: shared setup lives in the library, not
//! copied between test files): two gateways with subnets behind them, their configs, and
//! statically keyed SAs for data-plane tests that need no IKE.

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hitless_crypto::SecretBytes;
use hitless_ike::Config;
use hitless_ike::Error;
use hitless_ike::Event;
use hitless_ike::FailureReason;
use hitless_ike::IkeSaId;
use hitless_ike::IkeSaState;
use hitless_ike::IkeSpis;
use hitless_ike::config::ChildConfig;
use hitless_ike::config::Connection;
use hitless_ike::config::StartAction;
use hitless_sadb::Direction;
use hitless_sadb::EspAlgorithms;
use hitless_sadb::Lifetime;
use hitless_sadb::Mode;
use hitless_sadb::PolicySpec;
use hitless_sadb::ReqId;
use hitless_sadb::SaCommand;
use hitless_sadb::SaSpec;
use hitless_sadb::Spi;
use hitless_sadb::TrafficSelector;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::NotifyType;

use crate::link::LinkParams;
use crate::network::NodeId;
use crate::node::DataPlaneKind;
use crate::node::NodeConfig;
use crate::sim::Sim;
use crate::sim::Stalled;

/// Gateway A's outer address.
pub const GW_A: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
/// Gateway B's outer address.
pub const GW_B: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
/// A host in the subnet behind A (10.1.0.0/16).
pub const HOST_A: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 1, 0, 1));
/// A host in the subnet behind B (10.2.0.0/16).
pub const HOST_B: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 2, 0, 1));

/// The subnet behind A, 10.1.0.0/16, any protocol and port.
pub fn subnet_a() -> TrafficSelector {
    subnet(Ipv4Addr::new(10, 1, 0, 0), Ipv4Addr::new(10, 1, 255, 255))
}

/// The subnet behind B, 10.2.0.0/16, any protocol and port.
pub fn subnet_b() -> TrafficSelector {
    subnet(Ipv4Addr::new(10, 2, 0, 0), Ipv4Addr::new(10, 2, 255, 255))
}

/// An IPv4 range, any protocol and port.
pub fn subnet(start: Ipv4Addr, end: Ipv4Addr) -> TrafficSelector {
    TrafficSelector {
        ip_protocol: 0,
        start_port: 0,
        end_port: u16::MAX,
        start_address: IpAddr::V4(start),
        end_address: IpAddr::V4(end),
    }
}

/// One direction of a statically keyed SA pair, as [`static_child_sa`] installs it.
#[derive(Clone, Debug)]
pub struct StaticSa {
    /// The SPI of packets from A to B.
    pub a_to_b: Spi,
    /// The SPI of packets from B to A.
    pub b_to_a: Spi,
    /// The policy slot on both nodes.
    pub reqid: ReqId,
}

/// Installs a tunnel-mode Child SA between the subnets behind `a` and `b` directly in both
/// nodes' backends (no IKE), with AES-GCM-16-128 and keys derived from the SPIs. For
/// data-plane and flow tests; turn the simulator's checks off ([`Sim::set_checks`]), since no
/// engine knows these SAs.
///
/// # Errors
///
/// The first command a backend refuses.
pub fn static_child_sa(
    sim: &mut Sim,
    a: NodeId,
    b: NodeId,
    spis: (Spi, Spi),
    reqid: ReqId,
) -> Result<StaticSa, hitless_sadb::BackendError> {
    let (a_to_b, b_to_a) = spis;
    let a_addr = SocketAddr::new(GW_A, 500);
    let b_addr = SocketAddr::new(GW_B, 500);
    let sides = [
        (a, a_addr, b_addr, b_to_a, a_to_b, subnet_a(), subnet_b()),
        (b, b_addr, a_addr, a_to_b, b_to_a, subnet_b(), subnet_a()),
    ];
    for (node, local, remote, spi_in, spi_out, local_ts, remote_ts) in sides {
        let spec = |spi: Spi, direction| SaSpec {
            spi,
            direction,
            reqid,
            resource: None,
            local,
            remote,
            udp_encap: false,
            mode: Mode::Tunnel,
            algorithms: EspAlgorithms {
                encr: EncrId::AES_GCM_16,
                encr_key_bits: Some(128),
                integ: IntegId::NONE,
                esn: true,
            },
            encr_key: static_key(spi),
            integ_key: SecretBytes::new(Vec::new()),
            replay_window: 128,
            lifetime: Lifetime::default(),
            initial_sequence: 0,
            report_first_use: direction == Direction::Inbound,
            local_ts: vec![local_ts],
            remote_ts: vec![remote_ts],
        };
        let commands = [
            SaCommand::AddSa(Box::new(spec(spi_in, Direction::Inbound))),
            SaCommand::AddSa(Box::new(spec(spi_out, Direction::Outbound))),
            SaCommand::AddPolicy(PolicySpec {
                reqid,
                local_ts: vec![local_ts],
                remote_ts: vec![remote_ts],
                mode: Mode::Tunnel,
            }),
            SaCommand::RouteOutbound {
                reqid,
                resource: None,
                spi: spi_out,
            },
        ];
        for command in &commands {
            sim.apply_sa_command(node, command)?;
        }
    }
    Ok(StaticSa {
        a_to_b,
        b_to_a,
        reqid,
    })
}

/// A clean link's delay in the standard two-gateway setup.
pub const LINK_DELAY: Duration = Duration::from_millis(5);

/// 16 key bytes and a 4-byte salt derived from the SPI, so both ends agree.
fn static_key(spi: Spi) -> SecretBytes {
    let mut key: Vec<u8> = spi.0.to_be_bytes().repeat(5);
    key[0] ^= 0x5a;
    SecretBytes::new(key)
}

/// The pre-shared key of the standard gateways.
pub fn psk() -> SecretBytes {
    SecretBytes::from_slice(b"correct horse battery staple")
}

/// A PSK connection called `gw` from `local` to `remote`, with one tunnel-mode Child SA `net`
/// between the given selectors that starts with the IKE SA.
pub fn connection(
    local: IpAddr,
    remote: IpAddr,
    local_ts: TrafficSelector,
    remote_ts: TrafficSelector,
) -> Connection {
    let mut connection = Connection::with_psk("gw", psk());
    connection.local_addrs = vec![local];
    connection.remote_addrs = vec![remote];
    let mut child = ChildConfig::tunnel("net", vec![local_ts], vec![remote_ts]);
    child.start_action = StartAction::Start;
    connection.children.push(child);
    connection
}

/// Gateway A's engine config: connection `gw` to B, Child SA `net` from 10.1/16 to 10.2/16.
pub fn config_a() -> Config {
    Config {
        connections: vec![connection(GW_A, GW_B, subnet_a(), subnet_b())],
        ..Config::default()
    }
}

/// Gateway B's engine config, the mirror of [`config_a`].
pub fn config_b() -> Config {
    Config {
        connections: vec![connection(GW_B, GW_A, subnet_b(), subnet_a())],
        ..Config::default()
    }
}

/// Two gateways, `a` (initiator) and `b`, on one link: the setup most scenarios start from.
pub struct Gateways {
    /// The simulation.
    pub sim: Sim,
    /// Gateway A at [`GW_A`].
    pub a: NodeId,
    /// Gateway B at [`GW_B`].
    pub b: NodeId,
}

impl Gateways {
    /// The standard gateways ([`config_a`], [`config_b`]) with mock backends on a clean 5 ms
    /// link.
    pub fn new(seed: u64) -> Self {
        Self::with(
            seed,
            config_a(),
            config_b(),
            DataPlaneKind::Mock,
            LinkParams::clean(LINK_DELAY),
        )
    }

    /// Gateways with these configs, backends and link (the same parameters both ways).
    pub fn with(
        seed: u64,
        a: Config,
        b: Config,
        data_plane: DataPlaneKind,
        link: LinkParams,
    ) -> Self {
        let mut sim = Sim::new(seed);
        let node = |config: Config, address| {
            NodeConfig::new(Arc::new(config))
                .address(address)
                .data_plane(data_plane)
        };
        let a = sim.add_node("a", node(a, GW_A));
        let b = sim.add_node("b", node(b, GW_B));
        sim.link(a, b, link.clone(), link);
        Self { sim, a, b }
    }

    /// Initiates `gw` on `a` and runs until both sides have an established IKE SA with its
    /// Child SAs installed and mirrored ([`established_pair`]).
    ///
    /// # Errors
    ///
    /// When that does not happen within `limit` of virtual time, or an invariant fails.
    pub fn establish(&mut self, limit: Duration) -> Result<Duration, Stalled> {
        self.sim
            .initiate(self.a, "gw")
            .map_err(|error| self.sim.failure(error.to_string()))?;
        let (a, b) = (self.a, self.b);
        self.sim
            .run_until(limit, |sim| established_pair(sim, a, b).is_ok())
    }

    /// Like [`Self::establish`], but initiates again when an attempt fails, up to `attempts`
    /// times, as a daemon with strongSwan's `keyingtries` would: on a lossy link a single
    /// attempt may fail after all its retransmissions, which is correct behaviour.
    ///
    /// # Errors
    ///
    /// When no attempt succeeds, or an invariant fails.
    pub fn establish_within(
        &mut self,
        attempts: u32,
        limit: Duration,
    ) -> Result<Duration, Stalled> {
        let (a, b) = (self.a, self.b);
        let started = self.sim.elapsed();
        for attempt in 1..=attempts {
            let ike = self
                .sim
                .initiate(a, "gw")
                .map_err(|error| self.sim.failure(error.to_string()))?;
            self.sim.note("test", format!("attempt {attempt}"));
            let failed = |sim: &Sim| {
                sim.node_ref(a).events.iter().any(|(_, event)| match event {
                    Event::IkeSaFailed { ike: id, .. } | Event::IkeSaDeleted { ike: id, .. } => {
                        *id == ike
                    }
                    _ => false,
                })
            };
            self.sim.run_until(limit, |sim| {
                established_pair(sim, a, b).is_ok() || failed(sim)
            })?;
            if established_pair(&self.sim, a, b).is_ok() {
                return Ok(self.sim.elapsed() - started);
            }
        }
        Err(self
            .sim
            .failure(format!("not established in {attempts} attempts")))
    }

    /// [`established_pair`] as a failure of this run.
    ///
    /// # Errors
    ///
    /// When the gateways are not established and mirrored.
    pub fn check_established(&self) -> Result<(), Stalled> {
        established_pair(&self.sim, self.a, self.b).map_err(|why| self.sim.failure(why))
    }
}

/// The established IKE SAs of a node.
pub fn established(sim: &Sim, node: NodeId) -> Vec<IkeSaId> {
    sim.node_ref(node)
        .ike
        .ike_sas()
        .filter(|ike| ike.state == IkeSaState::Established)
        .map(|ike| ike.id)
        .collect()
}

/// Whether `a` and `b` each have exactly one established IKE SA, the same one, with at least
/// one installed Child SA, and their backends hold mirrored SAs: every inbound SA of one is an
/// outbound SA of the other, with the same keys, algorithms, mode and selectors.
///
/// # Errors
///
/// What is missing or differs.
pub fn established_pair(sim: &Sim, a: NodeId, b: NodeId) -> Result<(), String> {
    let spis = |node: NodeId| -> Result<IkeSpis, String> {
        let established: Vec<IkeSpis> = sim
            .node_ref(node)
            .ike
            .ike_sas()
            .filter(|ike| ike.state == IkeSaState::Established && !ike.children.is_empty())
            .map(|ike| ike.spis)
            .collect();
        match established[..] {
            [one] => Ok(one),
            _ => Err(format!(
                "{} has {} established IKE SAs with Child SAs",
                sim.name(node),
                established.len()
            )),
        }
    };
    let (spis_a, spis_b) = (spis(a)?, spis(b)?);
    if spis_a != spis_b {
        return Err(format!("IKE SAs differ: {spis_a} and {spis_b}"));
    }
    backends_mirror(sim, a, b)
}

/// Whether every SA in `a`'s backend has its mirror in `b`'s and vice versa (same SPI,
/// opposite direction, same keys, algorithms, mode and swapped selectors).
///
/// # Errors
///
/// The first SA without a mirror.
pub fn backends_mirror(sim: &Sim, a: NodeId, b: NodeId) -> Result<(), String> {
    for (this, other) in [(a, b), (b, a)] {
        let mine = sim.node_ref(this).backend.state();
        let theirs = sim.node_ref(other).backend.state();
        for sa in mine.installed() {
            let opposite = match sa.direction {
                Direction::Inbound => Direction::Outbound,
                Direction::Outbound => Direction::Inbound,
            };
            let Some(peer) = theirs.sa(sa.spi, opposite) else {
                return Err(format!(
                    "{} has {:?} SA {} that {} lacks",
                    sim.name(this),
                    sa.direction,
                    sa.spi,
                    sim.name(other)
                ));
            };
            if sa.encr_key != peer.encr_key
                || sa.integ_key != peer.integ_key
                || sa.algorithms != peer.algorithms
                || sa.mode != peer.mode
                || sa.local_ts != peer.remote_ts
                || sa.remote_ts != peer.local_ts
            {
                return Err(format!(
                    "SA {} differs between {} and {}",
                    sa.spi,
                    sim.name(this),
                    sim.name(other)
                ));
            }
        }
    }
    Ok(())
}

/// Whether `node`'s engine emitted an event matching `predicate`.
pub fn saw(sim: &Sim, node: NodeId, predicate: impl FnMut(&Event) -> bool) -> bool {
    !sim.node_ref(node).events_matching(predicate).is_empty()
}

/// Whether an IKE SA of `node` failed because the peer answered with `notify`.
pub fn failed_with(sim: &Sim, node: NodeId, notify: NotifyType) -> bool {
    saw(
        sim,
        node,
        |event| matches!(event, Event::IkeSaFailed { reason: FailureReason::Protocol(Error::PeerError(n)), .. } if *n == notify),
    )
}

/// Whether a Child SA of `node` failed because the peer answered with `notify`.
pub fn child_failed_with(sim: &Sim, node: NodeId, notify: NotifyType) -> bool {
    saw(
        sim,
        node,
        |event| matches!(event, Event::ChildSaFailed { reason: FailureReason::Protocol(Error::PeerError(n)), .. } if *n == notify),
    )
}

/// A /24 selector `a.b.c.0/24`, any protocol and port.
pub fn net24(a: u8, b: u8, c: u8) -> TrafficSelector {
    subnet(Ipv4Addr::new(a, b, c, 0), Ipv4Addr::new(a, b, c, 255))
}
