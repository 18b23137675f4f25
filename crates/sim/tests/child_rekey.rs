//! Child SA rekeys converge (RFC 7296 §1.3.3, §2.8): under 20% loss, from either side, each
//! gateway ends with exactly one installed Child SA carrying the slot's traffic, mirrored on the
//! peer, and the replaced SAs are removed after their linger time.

use std::time::Duration;

use hitless_ike::ChildSaState;
use hitless_sim::LinkParams;
use hitless_sim::Loss;
use hitless_sim::NodeId;
use hitless_sim::Sim;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;

/// Exactly one installed Child SA on each side, mirrored, routed, and nothing else installed.
fn converged(sim: &Sim, a: NodeId, b: NodeId) -> Result<(), String> {
    scenario::established_pair(sim, a, b)?;
    for node in [a, b] {
        let ike = sim.node_ref(node).ike.ike_sas().next().ok_or("no IKE SA")?;
        let installed = ike
            .children
            .iter()
            .filter(|c| c.state == ChildSaState::Installed)
            .count();
        if installed != 1 || ike.children.len() != 1 {
            return Err(format!(
                "{}: {installed} installed of {} Child SAs",
                sim.name(node),
                ike.children.len()
            ));
        }
        let state = sim.node_ref(node).backend.state();
        if state.installed().count() != 2 || state.routes().count() != 1 {
            return Err(format!(
                "{}: {} SAs, {} routes",
                sim.name(node),
                state.installed().count(),
                state.routes().count()
            ));
        }
    }
    Ok(())
}

#[test]
fn rekeys_under_twenty_percent_loss_converge() {
    let link = LinkParams::clean(scenario::LINK_DELAY).with_loss(Loss::Random(0.2));
    hitless_sim::check_seeds(|seed| {
        let mut gw = Gateways::with(
            seed,
            scenario::config_a(),
            scenario::config_b(),
            Default::default(),
            link.clone(),
        );
        gw.establish_within(3, Duration::from_secs(200))?;
        let (a, b) = (gw.a, gw.b);
        for i in 0..5 {
            let initiator = if i % 2 == 0 { a } else { b };
            let Some(child) = gw
                .sim
                .node_ref(initiator)
                .ike
                .ike_sas()
                .next()
                .and_then(|ike| {
                    ike.children
                        .iter()
                        .find(|c| c.state == ChildSaState::Installed)
                        .map(|c| c.id)
                })
            else {
                return Err(gw.sim.failure("no installed Child SA to rekey"));
            };
            gw.sim
                .act(initiator, |engine, now| engine.rekey_child(now, child))
                .map_err(|error| gw.sim.failure(error.to_string()))?;
            // Retransmissions may take minutes; the replaced SAs linger 5 s after.
            gw.sim
                .run_until(Duration::from_secs(300), |sim| converged(sim, a, b).is_ok())?;
        }
        Ok(())
    });
}
