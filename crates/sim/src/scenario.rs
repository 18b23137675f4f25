//! Shared setup for scenario tests (STYLE.md §3.7: shared setup lives in the library, not
//! copied between test files): two gateways with subnets behind them, their configs, and
//! statically keyed SAs for data-plane tests that need no IKE.

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::time::Duration;

use hitless_crypto::SecretBytes;
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

use crate::network::NodeId;
use crate::sim::Sim;

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
