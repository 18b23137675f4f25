//! NAT traversal (RFC 7296 §2.23, RFC 3948): a gateway behind a NAT detects it, both sides float
//! to port 4500, ESP is carried in UDP (bare ESP does not pass the simulated NAT), keepalives
//! keep the mapping, and traffic survives the NAT rebinding its ports.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns

use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hitless_ike::config::UdpEncap;
use hitless_sim::DataPlaneKind;
use hitless_sim::Flow;
use hitless_sim::LinkParams;
use hitless_sim::NodeConfig;
use hitless_sim::NodeId;
use hitless_sim::Sim;
use hitless_sim::scenario;

/// A's private address behind the NAT.
const PRIVATE_A: IpAddr = IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1));
/// The NAT's public address.
const PUBLIC_A: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 7));

fn behind_nat(seed: u64, data_plane: DataPlaneKind) -> (Sim, NodeId, NodeId) {
    behind_nat_with(seed, data_plane, true)
}

fn behind_nat_with(seed: u64, data_plane: DataPlaneKind, dpd: bool) -> (Sim, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    let mut a = scenario::config_a();
    a.connections[0].local_addrs = vec![PRIVATE_A];
    if !dpd {
        a.connections[0].dpd_delay = None;
    }
    let mut b = scenario::config_b();
    if !dpd {
        b.connections[0].dpd_delay = None;
    }
    // Behind the NAT, a's address is the NAT's: b accepts the peer from anywhere.
    b.connections[0].remote_addrs.clear();
    let node = |config, address| {
        NodeConfig::new(Arc::new(config))
            .address(address)
            .data_plane(data_plane)
    };
    let a = sim.add_node("a", node(a, PRIVATE_A));
    let b = sim.add_node("b", node(b, scenario::GW_B));
    let link = LinkParams::clean(scenario::LINK_DELAY);
    sim.link(a, b, link.clone(), link);
    sim.set_nat(a, PUBLIC_A);
    (sim, a, b)
}

fn establish(sim: &mut Sim, a: NodeId, b: NodeId) {
    sim.initiate(a, "gw").unwrap();
    sim.run_until(Duration::from_secs(10), |sim| {
        scenario::established_pair(sim, a, b).is_ok()
    })
    .unwrap();
}

#[test]
fn nat_is_detected_and_ports_float_to_4500() {
    let (mut sim, a, b) = behind_nat(60, DataPlaneKind::Mock);
    establish(&mut sim, a, b);
    let a_info = sim.node_ref(a).ike.ike_sas().next().unwrap();
    let b_info = sim.node_ref(b).ike.ike_sas().next().unwrap();
    assert!(a_info.nat.local_behind_nat && !a_info.nat.remote_behind_nat);
    assert!(b_info.nat.remote_behind_nat && !b_info.nat.local_behind_nat);
    assert_eq!((a_info.local.port(), a_info.remote.port()), (4500, 4500));
    assert_eq!(b_info.local.port(), 4500);
    // b sees the NAT's mapping of a's port 4500.
    let public = sim
        .nat_mapping(a, SocketAddr::new(PRIVATE_A, 4500))
        .unwrap();
    assert_eq!(b_info.remote, public);
    for node in [a, b] {
        let state = sim.node_ref(node).backend.state();
        assert!(
            state.installed().all(|sa| sa.udp_encap),
            "{}",
            sim.name(node)
        );
    }
    insta::assert_snapshot!(sim.transcript().messages());
}

#[test]
fn traffic_flows_both_ways_through_the_nat() {
    let (mut sim, a, b) = behind_nat(61, DataPlaneKind::Userspace);
    establish(&mut sim, a, b);
    let duration = Duration::from_secs(5);
    let ab = sim.start_flow(
        a,
        b,
        Flow::udp(scenario::HOST_A, scenario::HOST_B, 1000).duration(duration),
    );
    let ba = sim.start_flow(
        b,
        a,
        Flow::udp(scenario::HOST_B, scenario::HOST_A, 1000).duration(duration),
    );
    sim.run_for(duration + Duration::from_secs(1)).unwrap();
    for flow in [ab.unwrap(), ba.unwrap()] {
        let stats = sim.flow_stats(flow);
        assert_eq!(
            (stats.sent, stats.received, stats.lost()),
            (5000, 5000, 0),
            "{stats:?}"
        );
    }
}

#[test]
fn keepalives_keep_the_mapping_without_traffic() {
    let (mut sim, a, b) = behind_nat_with(62, DataPlaneKind::Mock, false);
    establish(&mut sim, a, b);
    let sent_before = sim.network().stats(a, b).unwrap().sent;
    sim.run_for(Duration::from_secs(65)).unwrap();
    let sent = sim.network().stats(a, b).unwrap().sent - sent_before;
    // One keepalive every 20 s from the side behind the NAT, none from the other.
    assert_eq!(sent, 3, "{sent} packets from a in 65 s");
    assert_eq!(
        sim.network().stats(b, a).unwrap().sent,
        2,
        "b sent more than IKE"
    );
}

#[test]
fn forced_udp_encapsulation_without_a_nat() {
    let mut a = scenario::config_a();
    a.connections[0].udp_encap = UdpEncap::Force;
    let mut gw = scenario::Gateways::with(
        63,
        a,
        scenario::config_b(),
        DataPlaneKind::Userspace,
        LinkParams::clean(scenario::LINK_DELAY),
    );
    gw.establish(Duration::from_secs(5)).unwrap();
    for node in [gw.a, gw.b] {
        let state = gw.sim.node_ref(node).backend.state();
        assert!(state.installed().all(|sa| sa.udp_encap));
    }
    let flow = Flow::udp(scenario::HOST_A, scenario::HOST_B, 100).duration(Duration::from_secs(1));
    let flow = gw.sim.start_flow(gw.a, gw.b, flow).unwrap();
    gw.sim.run_for(Duration::from_secs(2)).unwrap();
    assert_eq!(gw.sim.flow_stats(flow).received, 100);
}

#[test]
fn traffic_survives_the_nat_rebinding_its_ports() {
    let (mut sim, a, b) = behind_nat(64, DataPlaneKind::Userspace);
    establish(&mut sim, a, b);
    let ab = sim
        .start_flow(a, b, Flow::udp(scenario::HOST_A, scenario::HOST_B, 100))
        .unwrap();
    let ba = sim
        .start_flow(b, a, Flow::udp(scenario::HOST_B, scenario::HOST_A, 100))
        .unwrap();
    sim.run_for(Duration::from_secs(2)).unwrap();
    sim.nat_rebind(a);
    // a's next IKE message (a liveness check within 30 s, or a keepalive) shows b the new
    // port; b must move its SAs there (RFC 7296 §2.23).
    sim.run_for(Duration::from_secs(60)).unwrap();
    let lost_after_settling = (sim.flow_stats(ab).lost(), sim.flow_stats(ba).lost());
    sim.run_for(Duration::from_secs(10)).unwrap();
    sim.stop_flow(ab);
    sim.stop_flow(ba);
    sim.run_for(Duration::from_secs(1)).unwrap();
    let now_lost = (sim.flow_stats(ab).lost(), sim.flow_stats(ba).lost());
    assert_eq!(
        lost_after_settling, now_lost,
        "traffic still lost 60 s after the rebinding"
    );
    assert_eq!(
        sim.flow_stats(ab).lost(),
        0,
        "a→b loses nothing: a's packets carry the new port"
    );
}
