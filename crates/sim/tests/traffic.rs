//! Traffic through Child SAs that IKE negotiated: both gateways run the real userspace ESP data
//! plane (`hitless-esp`) with the keys the engines derived (RFC 7296 §2.17), and synthetic flows
//! cross the tunnel both ways.

use std::time::Duration;

use hitless_sim::DataPlaneKind;
use hitless_sim::Flow;
use hitless_sim::LinkParams;
use hitless_sim::Loss;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;
use hitless_sim::scenario::HOST_A;
use hitless_sim::scenario::HOST_B;

fn gateways(seed: u64, link: LinkParams) -> Gateways {
    Gateways::with(
        seed,
        scenario::config_a(),
        scenario::config_b(),
        DataPlaneKind::Userspace,
        link,
    )
}

#[test]
fn negotiated_child_sa_carries_traffic_both_ways_without_loss() {
    // 40,000 packets per seed: a shorter default range than the cheap scenarios.
    hitless_sim::check_seed_list(hitless_sim::seeds_or(0..4), |seed| {
        let mut gw = gateways(seed, LinkParams::clean(scenario::LINK_DELAY));
        gw.establish(Duration::from_secs(5))?;
        let (a, b) = (gw.a, gw.b);
        let duration = Duration::from_secs(10);
        let ab = Flow::udp(HOST_A, HOST_B, 2000).duration(duration);
        let ba = Flow::udp(HOST_B, HOST_A, 2000)
            .duration(duration)
            .size(1400);
        let ab = gw
            .sim
            .start_flow(a, b, ab)
            .map_err(|e| gw.sim.failure(e.to_string()))?;
        let ba = gw
            .sim
            .start_flow(b, a, ba)
            .map_err(|e| gw.sim.failure(e.to_string()))?;
        gw.sim.run_for(duration + Duration::from_secs(1))?;
        for flow in [ab, ba] {
            let stats = gw.sim.flow_stats(flow);
            if stats.sent != 20_000 || stats.received != 20_000 || stats.lost() != 0 {
                return Err(gw.sim.failure(format!("flow {flow:?}: {stats:?}")));
            }
        }
        gw.check_established()
    });
}

#[test]
fn traffic_over_a_lossy_link_loses_what_the_link_loses() {
    let mut gw = gateways(70, LinkParams::clean(scenario::LINK_DELAY));
    gw.establish(Duration::from_secs(5)).unwrap();
    let (a, b) = (gw.a, gw.b);
    gw.sim.set_link(
        a,
        b,
        LinkParams::clean(scenario::LINK_DELAY).with_loss(Loss::Random(0.05)),
    );
    let flow = gw
        .sim
        .start_flow(a, b, Flow::udp(HOST_A, HOST_B, 1000))
        .unwrap();
    gw.sim.run_for(Duration::from_secs(20)).unwrap();
    gw.sim.stop_flow(flow);
    gw.sim.run_for(Duration::from_secs(1)).unwrap();
    let stats = gw.sim.flow_stats(flow);
    assert_eq!(stats.lost(), stats.network_dropped, "{stats:?}");
    assert!(
        stats.encap_dropped.is_empty() && stats.decap_dropped.is_empty(),
        "{stats:?}"
    );
    let ratio = stats.lost() as f64 / stats.sent as f64;
    assert!((0.04..0.06).contains(&ratio), "{stats:?}");
}

#[test]
fn traffic_stops_when_the_child_sa_is_deleted() {
    let mut gw = gateways(71, LinkParams::clean(scenario::LINK_DELAY));
    gw.establish(Duration::from_secs(5)).unwrap();
    let (a, b) = (gw.a, gw.b);
    let flow = gw
        .sim
        .start_flow(a, b, Flow::udp(HOST_A, HOST_B, 100))
        .unwrap();
    gw.sim.run_for(Duration::from_secs(2)).unwrap();
    let child = gw.sim.node_ref(a).ike.ike_sas().next().unwrap().children[0].id;
    gw.sim
        .act(a, |engine, now| engine.terminate_child(now, child))
        .unwrap();
    gw.sim.run_for(Duration::from_secs(2)).unwrap();
    let stats = gw.sim.flow_stats(flow);
    // Once the policy is gone, packets are no longer protected: the data plane refuses them.
    let refused = stats.encap_dropped.values().sum::<u64>();
    assert!(refused >= 190, "{stats:?}");
    assert!(stats.received >= 200, "{stats:?}");
}
