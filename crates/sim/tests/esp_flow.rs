//! Synthetic traffic through two real userspace ESP data planes (`hitless-esp`) over
//! simulated links, with statically keyed SAs: the flow machinery that the rekey and failover
//! scenarios measure loss with.

// Test helpers outside #[test] functions: a panic is the failure report.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use hitless_sadb::ReqId;
use hitless_sadb::Spi;
use hitless_sim::DataPlaneKind;
use hitless_sim::Flow;
use hitless_sim::FlowStats;
use hitless_sim::LinkParams;
use hitless_sim::Loss;
use hitless_sim::NodeConfig;
use hitless_sim::NodeId;
use hitless_sim::Sim;
use hitless_sim::scenario;
use hitless_sim::scenario::GW_A;
use hitless_sim::scenario::GW_B;
use hitless_sim::scenario::HOST_A;
use hitless_sim::scenario::HOST_B;

fn gateways(seed: u64, params: LinkParams) -> (Sim, NodeId, NodeId) {
    let mut sim = Sim::new(seed);
    let config = Arc::new(hitless_ike::Config::default());
    let node = |address| {
        NodeConfig::new(Arc::clone(&config))
            .address(address)
            .data_plane(DataPlaneKind::Userspace)
    };
    let a = sim.add_node("a", node(GW_A));
    let b = sim.add_node("b", node(GW_B));
    sim.link(a, b, params.clone(), params);
    // No engine knows these SAs.
    sim.set_checks(false);
    scenario::static_child_sa(&mut sim, a, b, (Spi(0x1000), Spi(0x2000)), ReqId(1)).unwrap();
    (sim, a, b)
}

/// Runs a flow each way for `seconds` and lets the last packets land.
fn both_ways(
    sim: &mut Sim,
    a: NodeId,
    b: NodeId,
    rate: u32,
    seconds: u64,
) -> (FlowStats, FlowStats) {
    let duration = Duration::from_secs(seconds);
    let ab = sim
        .start_flow(a, b, Flow::udp(HOST_A, HOST_B, rate).duration(duration))
        .unwrap();
    let ba = sim
        .start_flow(b, a, Flow::udp(HOST_B, HOST_A, rate).duration(duration))
        .unwrap();
    sim.run_for(duration + Duration::from_secs(1)).unwrap();
    (sim.flow_stats(ab).clone(), sim.flow_stats(ba).clone())
}

#[test]
fn clean_link_delivers_every_packet() {
    let (mut sim, a, b) = gateways(1, LinkParams::default());
    let (ab, ba) = both_ways(&mut sim, a, b, 5000, 2);
    for stats in [ab, ba] {
        assert_eq!(stats.sent, 10_000, "{stats:?}");
        assert_eq!(stats.received, 10_000, "{stats:?}");
        assert_eq!(stats.lost(), 0, "{stats:?}");
        assert_eq!(stats.reordered, 0, "{stats:?}");
    }
}

#[test]
fn random_loss_shows_as_network_drops() {
    let (mut sim, a, b) = gateways(2, LinkParams::default().with_loss(Loss::Random(0.1)));
    let (ab, _) = both_ways(&mut sim, a, b, 5000, 4);
    let ratio = ab.lost() as f64 / ab.sent as f64;
    assert!((ratio - 0.1).abs() < 0.015, "{ab:?}");
    assert_eq!(ab.lost(), ab.network_dropped, "{ab:?}");
    assert_eq!(ab.in_flight, 0);
}

#[test]
fn duplicates_are_stopped_by_anti_replay_and_reordering_is_absorbed() {
    let params = LinkParams::default().with_duplicate(0.2).with_reorder(0.1);
    let (mut sim, a, b) = gateways(3, params);
    let (ab, _) = both_ways(&mut sim, a, b, 2000, 2);
    assert_eq!(ab.lost(), 0, "{ab:?}");
    assert_eq!(ab.duplicated, 0, "{ab:?}");
    assert!(ab.reordered > 100, "{ab:?}");
    let replayed = ab.decap_dropped.get("replayed").copied().unwrap_or(0);
    assert!(replayed > 500, "{ab:?}");
}

#[test]
fn partition_loses_exactly_the_packets_sent_while_cut() {
    let (mut sim, a, b) = gateways(4, LinkParams::default());
    let ab = sim
        .start_flow(a, b, Flow::udp(HOST_A, HOST_B, 1000))
        .unwrap();
    sim.run_for(Duration::from_secs(1)).unwrap();
    sim.partition(a, b);
    sim.run_for(Duration::from_millis(500)).unwrap();
    sim.heal(a, b);
    sim.run_for(Duration::from_secs(1)).unwrap();
    sim.stop_flow(ab);
    sim.run_for(Duration::from_secs(1)).unwrap();
    let stats = sim.flow_stats(ab);
    // 500 packets sent while cut, plus the 5 that were on the wire when it was cut.
    assert_eq!(stats.lost(), 505, "{stats:?}");
    assert_eq!(stats.network_dropped, 505, "{stats:?}");
}

#[test]
fn same_seed_same_counters() {
    let params = LinkParams::default()
        .with_loss(Loss::Burst {
            enter: 0.01,
            exit: 0.3,
        })
        .with_jitter(Duration::from_millis(3))
        .with_reorder(0.05);
    let run = |seed| {
        let (mut sim, a, b) = gateways(seed, params.clone());
        both_ways(&mut sim, a, b, 3000, 2)
    };
    assert_eq!(run(9), run(9));
    assert_ne!(run(9), run(10));
}

#[test]
fn packets_outside_the_selectors_are_not_protected() {
    let (mut sim, a, b) = gateways(5, LinkParams::default());
    let stray = "10.9.0.1".parse().unwrap();
    let flow = sim.start_flow(
        a,
        b,
        Flow::udp(stray, HOST_B, 100).duration(Duration::from_secs(1)),
    );
    sim.run_for(Duration::from_secs(2)).unwrap();
    let stats = sim.flow_stats(flow.unwrap());
    assert_eq!(stats.received, 0);
    assert_eq!(
        stats.encap_dropped.get("no_policy"),
        Some(&100),
        "{stats:?}"
    );
}
