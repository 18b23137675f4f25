//! Simultaneous Child SA rekeys (RFC 7296 §2.8.1): both gateways start a rekey of the same
//! Child SA at once. Whatever the interleaving of the two requests and responses, both sides
//! converge to exactly one installed Child SA, mirrored, and traffic loses nothing.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns

use std::time::Duration;

use hitless_ike::ChildSaState;
use hitless_sim::DataPlaneKind;
use hitless_sim::Flow;
use hitless_sim::LinkParams;
use hitless_sim::NodeId;
use hitless_sim::Sim;
use hitless_sim::Stalled;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;
use hitless_sim::scenario::HOST_A;
use hitless_sim::scenario::HOST_B;

fn converged(sim: &Sim, a: NodeId, b: NodeId) -> bool {
    sim.is_quiescent()
        && scenario::established_pair(sim, a, b).is_ok()
        && [a, b].iter().all(|node| {
            let state = sim.node_ref(*node).backend.state();
            let installed = sim.node_ref(*node).ike.ike_sas().next().is_some_and(|ike| {
                ike.children
                    .iter()
                    .filter(|c| c.state == ChildSaState::Installed)
                    .count()
                    == 1
            });
            installed && state.installed().count() == 2 && state.routes().count() == 1
        })
}

fn installed_child(sim: &Sim, node: NodeId) -> hitless_ike::ChildSaId {
    let ike = sim.node_ref(node).ike.ike_sas().next().unwrap();
    ike.children
        .iter()
        .find(|c| c.state == ChildSaState::Installed)
        .unwrap()
        .id
}

/// Both sides rekey at once; the two requests are held and delivered in `order` (true: a's
/// first), then everything flows freely until convergence.
fn collide(seed: u64, a_first: bool, link: LinkParams) -> Result<(), Stalled> {
    let mut gw = Gateways::with(
        seed,
        scenario::config_a(),
        scenario::config_b(),
        DataPlaneKind::Userspace,
        link,
    );
    gw.establish(Duration::from_secs(5))?;
    let (a, b) = (gw.a, gw.b);
    let ab = gw
        .sim
        .start_flow(a, b, Flow::udp(HOST_A, HOST_B, 1000))
        .unwrap();
    let ba = gw
        .sim
        .start_flow(b, a, Flow::udp(HOST_B, HOST_A, 1000))
        .unwrap();
    gw.sim.run_for(Duration::from_millis(100))?;
    gw.sim.hold(a, b);
    gw.sim.hold(b, a);
    let (child_a, child_b) = (installed_child(&gw.sim, a), installed_child(&gw.sim, b));
    gw.sim
        .act(a, |engine, now| engine.rekey_child(now, child_a))
        .unwrap();
    gw.sim
        .act(b, |engine, now| engine.rekey_child(now, child_b))
        .unwrap();
    // Held packets include ESP; deliver everything held, each direction in order, the two
    // CREATE_CHILD_SA requests in the chosen order.
    let order = if a_first { [b, a] } else { [a, b] };
    for to in order {
        while gw.sim.deliver_next(to).is_some() {}
    }
    gw.sim.release(a, b);
    gw.sim.release(b, a);
    gw.sim
        .run_until(Duration::from_secs(120), |sim| converged(sim, a, b))?;
    gw.sim.run_for(Duration::from_secs(6))?;
    gw.sim.stop_flow(ab);
    gw.sim.stop_flow(ba);
    gw.sim.run_for(Duration::from_secs(1))?;
    for flow in [ab, ba] {
        let stats = gw.sim.flow_stats(flow);
        if stats.lost() != 0 {
            return Err(gw.sim.failure(format!("{flow:?} lost packets: {stats:?}")));
        }
    }
    // Still one Child SA each (checked at rest: a liveness check may be on the wire).
    gw.sim
        .run_until(Duration::from_secs(60), |sim| converged(sim, a, b))?;
    Ok(())
}

#[test]
fn crossing_rekey_requests_converge_in_either_order() {
    for a_first in [true, false] {
        collide(100, a_first, LinkParams::clean(scenario::LINK_DELAY)).unwrap();
    }
}

#[test]
fn simultaneous_rekeys_over_jittery_links_converge() {
    let link = LinkParams::clean(scenario::LINK_DELAY).with_jitter(Duration::from_millis(4));
    hitless_sim::check_seed_list(hitless_sim::seeds_or(0..8), |seed| {
        collide(seed, seed % 2 == 0, link.clone())
    });
}
