//! INFORMATIONAL deletes (RFC 7296 §1.4.1): Child SAs and the IKE SA, from either side, and
//! deletes that cross on the wire.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns

use std::time::Duration;

use hitless_ike::DeleteReason;
use hitless_ike::Event;
use hitless_sim::NodeId;
use hitless_sim::Sim;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;

const LIMIT: Duration = Duration::from_secs(10);

fn child_of(sim: &Sim, node: NodeId) -> hitless_ike::ChildSaId {
    sim.node_ref(node).ike.ike_sas().next().unwrap().children[0].id
}

fn nothing_installed(sim: &Sim, node: NodeId) -> bool {
    let state = sim.node_ref(node).backend.state();
    state.installed().count() == 0 && state.policies().count() == 0 && state.routes().count() == 0
}

#[test]
fn delete_child_sa_from_either_side() {
    for deleting_side in 0..2 {
        let mut gw = Gateways::new(30 + deleting_side);
        gw.establish(LIMIT).unwrap();
        let (a, b) = (gw.a, gw.b);
        let (deleter, peer) = if deleting_side == 0 { (a, b) } else { (b, a) };
        let child = child_of(&gw.sim, deleter);
        gw.sim
            .act(deleter, |engine, now| engine.terminate_child(now, child))
            .unwrap();
        gw.sim
            .run_until(LIMIT, |sim| {
                nothing_installed(sim, a) && nothing_installed(sim, b)
            })
            .unwrap();
        // The IKE SA stays.
        assert_eq!(scenario::established(&gw.sim, a).len(), 1);
        assert_eq!(scenario::established(&gw.sim, b).len(), 1);
        let local = |e: &Event| {
            matches!(
                e,
                Event::ChildSaDeleted {
                    reason: DeleteReason::Local,
                    ..
                }
            )
        };
        let by_peer = |e: &Event| {
            matches!(
                e,
                Event::ChildSaDeleted {
                    reason: DeleteReason::Peer,
                    ..
                }
            )
        };
        assert!(scenario::saw(&gw.sim, deleter, local));
        assert!(scenario::saw(&gw.sim, peer, by_peer));
        if deleting_side == 0 {
            insta::assert_snapshot!(gw.sim.transcript().messages());
        }
    }
}

#[test]
fn crossing_child_deletes() {
    let mut gw = Gateways::new(32);
    gw.establish(LIMIT).unwrap();
    let (a, b) = (gw.a, gw.b);
    let (a_child, b_child) = (child_of(&gw.sim, a), child_of(&gw.sim, b));
    gw.sim
        .act(a, |engine, now| engine.terminate_child(now, a_child))
        .unwrap();
    gw.sim
        .act(b, |engine, now| engine.terminate_child(now, b_child))
        .unwrap();
    gw.sim
        .run_until(LIMIT, |sim| {
            sim.is_quiescent() && nothing_installed(sim, a) && nothing_installed(sim, b)
        })
        .unwrap();
    assert_eq!(scenario::established(&gw.sim, a).len(), 1);
    assert_eq!(scenario::established(&gw.sim, b).len(), 1);
}

#[test]
fn delete_ike_sa_from_either_side() {
    for deleting_side in 0..2 {
        let mut gw = Gateways::new(34 + deleting_side);
        gw.establish(LIMIT).unwrap();
        let (a, b) = (gw.a, gw.b);
        let deleter = if deleting_side == 0 { a } else { b };
        let ike = scenario::established(&gw.sim, deleter)[0];
        gw.sim
            .act(deleter, |engine, now| engine.terminate_ike(now, ike))
            .unwrap();
        gw.sim
            .run_until(LIMIT, |sim| {
                [a, b].iter().all(|node| {
                    sim.node_ref(*node).ike.ike_sas().count() == 0 && nothing_installed(sim, *node)
                })
            })
            .unwrap();
        for node in [a, b] {
            let deleted = |e: &Event| matches!(e, Event::IkeSaDeleted { .. });
            assert!(scenario::saw(&gw.sim, node, deleted));
        }
        // Nothing more happens: no timers left armed for the dead SA.
        gw.sim.run_for(Duration::from_secs(600)).unwrap();
        if deleting_side == 1 {
            insta::assert_snapshot!(gw.sim.transcript().messages());
        }
    }
}
