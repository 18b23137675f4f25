//! Rekeying the IKE SA (RFC 7296 §1.3.2, §2.18) of a tunnel with three Child SAs: every Child
//! SA moves to the new IKE SA on both sides untouched, so traffic on all of them, through both
//! gateways' real ESP data planes, loses nothing, whichever side starts the rekey and when both
//! start at once (§2.8.2). Repeated rekeys over a link that loses 20% of the packets converge on
//! one IKE SA with all Child SAs.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::net::Ipv4Addr;
use std::time::Duration;

use hitless_ike::ChildSaState;
use hitless_ike::Config;
use hitless_ike::DeleteReason;
use hitless_ike::Event;
use hitless_ike::IkeSaId;
use hitless_ike::IkeSaState;
use hitless_ike::config::ChildConfig;
use hitless_ike::config::StartAction;
use hitless_sadb::Spi;
use hitless_sim::DataPlaneKind;
use hitless_sim::Flow;
use hitless_sim::FlowId;
use hitless_sim::LinkParams;
use hitless_sim::Loss;
use hitless_sim::NodeId;
use hitless_sim::Sim;
use hitless_sim::Stalled;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;

/// Each Child SA's name and the hosts behind A and B whose traffic it carries.
const CHILDREN: [(&str, [u8; 4], [u8; 4]); 3] = [
    ("net", [10, 1, 0, 1], [10, 2, 0, 1]),
    ("db", [10, 3, 0, 1], [10, 4, 0, 1]),
    ("voice", [10, 5, 0, 1], [10, 6, 0, 1]),
];

/// Who rekeys the IKE SA.
#[derive(Clone, Copy, Debug)]
enum Rekeyer {
    A,
    B,
    Both,
}

/// The standard configs with two more Child SAs (10.3/16 ↔ 10.4/16 and 10.5/16 ↔ 10.6/16),
/// all started with the IKE SA.
fn three_children() -> (Config, Config) {
    let mut a = scenario::config_a();
    let mut b = scenario::config_b();
    for (name, host_a, host_b) in &CHILDREN[1..] {
        let side = |host: [u8; 4]| {
            scenario::subnet(
                Ipv4Addr::new(host[0], host[1], 0, 0),
                Ipv4Addr::new(host[0], host[1], 255, 255),
            )
        };
        for (config, mine, theirs) in [(&mut a, *host_a, *host_b), (&mut b, *host_b, *host_a)] {
            let mut child = ChildConfig::tunnel(*name, vec![side(mine)], vec![side(theirs)]);
            child.start_action = StartAction::Start;
            config.connections[0].children.push(child);
        }
    }
    (a, b)
}

/// A node's IKE SAs.
fn ike_sas(sim: &Sim, node: NodeId) -> Vec<IkeSaId> {
    sim.node_ref(node).ike.ike_sas().map(|ike| ike.id).collect()
}

/// A node's Child SAs over all its IKE SAs, as (name, inbound SPI, outbound SPI).
fn child_sas(sim: &Sim, node: NodeId) -> BTreeSet<(String, Spi, Spi)> {
    sim.node_ref(node)
        .ike
        .ike_sas()
        .flat_map(|ike| {
            ike.children
                .iter()
                .map(|c| (c.name.to_owned(), c.spi_in, c.spi_out))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whether each side holds exactly one IKE SA, the same one, established and not its `old` one
/// (a's, b's), with the three Child SAs installed on it, one route per Child SA and nothing else
/// in the backend.
fn converged(sim: &Sim, (a, b): (NodeId, NodeId), old: Option<[IkeSaId; 2]>) -> Result<(), String> {
    let mut spis = Vec::new();
    for (side, node) in [a, b].into_iter().enumerate() {
        let name = sim.name(node);
        let sas: Vec<_> = sim.node_ref(node).ike.ike_sas().collect();
        let [ike] = &sas[..] else {
            return Err(format!("{name}: {} IKE SAs", sas.len()));
        };
        if ike.state != IkeSaState::Established || old.is_some_and(|old| old[side] == ike.id) {
            return Err(format!("{name}: IKE SA {} not rekeyed yet", ike.id));
        }
        let installed = ike
            .children
            .iter()
            .filter(|c| c.state == ChildSaState::Installed)
            .count();
        if installed != CHILDREN.len() || ike.children.len() != CHILDREN.len() {
            return Err(format!(
                "{name}: {installed} installed of {} Child SAs",
                ike.children.len()
            ));
        }
        let state = sim.node_ref(node).backend.state();
        if state.installed().count() != 2 * CHILDREN.len()
            || state.routes().count() != CHILDREN.len()
        {
            return Err(format!(
                "{name}: {} SAs, {} routes",
                state.installed().count(),
                state.routes().count()
            ));
        }
        spis.push(ike.spis);
    }
    if spis[0] != spis[1] {
        return Err(format!("IKE SAs differ: {} and {}", spis[0], spis[1]));
    }
    scenario::backends_mirror(sim, a, b)
}

/// Gateways established with all three Child SAs on both sides.
fn established(
    seed: u64,
    data_plane: DataPlaneKind,
    link: LinkParams,
    config: impl Fn(&mut Config),
) -> Result<Gateways, Stalled> {
    let (mut config_a, mut config_b) = three_children();
    config(&mut config_a);
    config(&mut config_b);
    let mut gw = Gateways::with(seed, config_a, config_b, data_plane, link);
    gw.establish_within(3, Duration::from_secs(600))?;
    let (a, b) = (gw.a, gw.b);
    gw.sim.run_until(Duration::from_secs(300), |sim| {
        sim.is_quiescent() && converged(sim, (a, b), None).is_ok()
    })?;
    Ok(gw)
}

/// Starts the IKE SA rekey(s) at the same instant.
fn rekey(gw: &mut Gateways, who: Rekeyer) -> Result<(), Stalled> {
    let nodes = match who {
        Rekeyer::A => vec![gw.a],
        Rekeyer::B => vec![gw.b],
        Rekeyer::Both => vec![gw.a, gw.b],
    };
    for node in nodes {
        let ike = ike_sas(&gw.sim, node)[0];
        gw.sim
            .act(node, |engine, now| engine.rekey_ike(now, ike))
            .map_err(|error| gw.sim.failure(error.to_string()))?;
    }
    Ok(())
}

/// One flow each way per Child SA, at `rate` packets/s.
fn flows(gw: &mut Gateways, rate: u32) -> Vec<FlowId> {
    let (a, b) = (gw.a, gw.b);
    let mut flows = Vec::new();
    for (_, host_a, host_b) in CHILDREN {
        let (host_a, host_b) = (IpAddr::from(host_a), IpAddr::from(host_b));
        flows.push(
            gw.sim
                .start_flow(a, b, Flow::udp(host_a, host_b, rate))
                .unwrap(),
        );
        flows.push(
            gw.sim
                .start_flow(b, a, Flow::udp(host_b, host_a, rate))
                .unwrap(),
        );
    }
    flows
}

/// An IKE SA rekey under traffic on all three Child SAs, from a, from b and from both at
/// once: the Child SAs move to the new IKE SA untouched on both sides, no packet is lost, and
/// every IKE SA but the survivor is deleted as rekeyed.
#[test]
fn ike_rekey_with_three_child_sas_under_traffic_loses_nothing() {
    for (who, seed) in [(Rekeyer::A, 100), (Rekeyer::B, 101), (Rekeyer::Both, 102)] {
        let link = LinkParams::clean(scenario::LINK_DELAY);
        let mut gw = established(seed, DataPlaneKind::Userspace, link, |_| {}).unwrap();
        let (a, b) = (gw.a, gw.b);
        let old = [ike_sas(&gw.sim, a)[0], ike_sas(&gw.sim, b)[0]];
        let children = (child_sas(&gw.sim, a), child_sas(&gw.sim, b));
        let flows = flows(&mut gw, 1000);
        gw.sim.run_for(Duration::from_millis(200)).unwrap();
        rekey(&mut gw, who).unwrap();
        gw.sim
            .run_until(Duration::from_secs(5), |sim| {
                sim.is_quiescent() && converged(sim, (a, b), Some(old)).is_ok()
            })
            .unwrap();
        gw.sim.run_for(Duration::from_secs(1)).unwrap();
        for flow in &flows {
            gw.sim.stop_flow(*flow);
        }
        gw.sim.run_for(Duration::from_secs(1)).unwrap();
        for flow in &flows {
            let stats = gw.sim.flow_stats(*flow);
            assert!(
                stats.sent > 1000 && stats.received == stats.sent && stats.lost() == 0,
                "{who:?}: flow {flow:?} lost packets: {stats:?}"
            );
        }
        assert_eq!(
            child_sas(&gw.sim, a),
            children.0,
            "{who:?}: a's Child SAs changed"
        );
        assert_eq!(
            child_sas(&gw.sim, b),
            children.1,
            "{who:?}: b's Child SAs changed"
        );
        for node in [a, b] {
            let events = &gw.sim.node_ref(node).events;
            assert!(
                !events
                    .iter()
                    .any(|(_, e)| matches!(e, Event::ChildSaDeleted { .. })),
                "{who:?}: {} deleted a Child SA",
                gw.sim.name(node)
            );
            let rekeyed = events
                .iter()
                .filter(|(_, e)| {
                    matches!(
                        e,
                        Event::IkeSaDeleted {
                            reason: DeleteReason::Rekeyed,
                            ..
                        }
                    )
                })
                .count();
            // Simultaneous rekeys also leave a redundant new IKE SA, deleted by its creator.
            let expected = if matches!(who, Rekeyer::Both) { 2 } else { 1 };
            assert_eq!(rekeyed, expected, "{who:?}: {}", gw.sim.name(node));
        }
        if matches!(who, Rekeyer::Both) {
            insta::assert_snapshot!(gw.sim.transcript().messages());
        }
    }
}

/// Repeated IKE SA rekeys, from a, from b and from both at once, over a link that loses 20%
/// of the packets each way: each converges on one IKE SA per side, the same one, with the
/// three Child SAs and one outbound SA each.
#[test]
fn repeated_ike_rekeys_under_twenty_percent_loss_converge() {
    let link = LinkParams::clean(scenario::LINK_DELAY).with_loss(Loss::Random(0.2));
    hitless_sim::check_seeds(|seed| {
        // Enough retransmissions that a peer is not declared dead for a run of lost packets
        // (six sends fail together with a probability of 0.2%, and a run sends hundreds).
        let mut gw = established(seed, DataPlaneKind::Mock, link.clone(), |config| {
            config.retransmit.tries = 10;
            config.retransmit.cap = Some(Duration::from_secs(30));
        })?;
        let (a, b) = (gw.a, gw.b);
        for i in 0..6 {
            let who = [Rekeyer::A, Rekeyer::B, Rekeyer::Both][i % 3];
            let old = [ike_sas(&gw.sim, a)[0], ike_sas(&gw.sim, b)[0]];
            let children = (child_sas(&gw.sim, a), child_sas(&gw.sim, b));
            gw.sim.note("test", format!("rekey {i} by {who:?}"));
            rekey(&mut gw, who)?;
            // Retransmissions may take minutes; leftover IKE SAs go after 30 s at most.
            let done = gw.sim.run_until(Duration::from_secs(600), |sim| {
                sim.is_quiescent() && converged(sim, (a, b), Some(old)).is_ok()
            });
            if done.is_err() {
                let why = converged(&gw.sim, (a, b), Some(old))
                    .err()
                    .unwrap_or_default();
                return Err(gw.sim.failure(format!("rekey {i} did not converge: {why}")));
            }
            if child_sas(&gw.sim, a) != children.0 || child_sas(&gw.sim, b) != children.1 {
                return Err(gw.sim.failure(format!("rekey {i}: the Child SAs changed")));
            }
        }
        Ok(())
    });
}
