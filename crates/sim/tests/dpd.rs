//! Liveness checks (RFC 7296 §2.4): a live peer is kept, a silent one is declared dead after
//! the retransmissions and everything of its IKE SA is removed.

use std::time::Duration;

use hitless_ike::DeleteReason;
use hitless_ike::ErrorCounter;
use hitless_ike::Event;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;

#[test]
fn liveness_checks_keep_a_live_peer() {
    let mut gw = Gateways::new(40);
    gw.establish(Duration::from_secs(5)).unwrap();
    gw.sim.run_for(Duration::from_secs(600)).unwrap();
    gw.check_established().unwrap();
    let info = gw.sim.node_ref(gw.a).ike.ike_sas().next().unwrap();
    assert!(
        info.next_request > 10,
        "only {} requests in 10 minutes",
        info.next_request
    );
    assert_eq!(info.counters.retransmits, 0);
}

#[test]
fn dead_peer_is_detected_and_cleaned_up() {
    hitless_sim::check_seeds(|seed| {
        let mut gw = Gateways::new(seed);
        gw.establish(Duration::from_secs(5))?;
        let (a, b) = (gw.a, gw.b);
        gw.sim.crash(b);
        // 30 s of silence, then a liveness check and its retransmissions (4 s × 1.8^n, 5 tries,
        // with jitter).
        let took = gw.sim.run_until(Duration::from_secs(400), |sim| {
            sim.node_ref(a).ike.ike_sas().count() == 0
        })?;
        let node = gw.sim.node_ref(a);
        let dead = |e: &Event| {
            matches!(
                e,
                Event::IkeSaDeleted {
                    reason: DeleteReason::PeerDead,
                    ..
                }
            )
        };
        let gone = |e: &Event| {
            matches!(
                e,
                Event::ChildSaDeleted {
                    reason: DeleteReason::IkeSaGone,
                    ..
                }
            )
        };
        let state = node.backend.state();
        let clean = state.installed().count() == 0
            && state.policies().count() == 0
            && state.routes().count() == 0;
        if !scenario::saw(&gw.sim, a, dead) || !scenario::saw(&gw.sim, a, gone) || !clean {
            return Err(gw.sim.failure("the dead peer's SAs were not all removed"));
        }
        if node.ike.poll_timeout().is_some() {
            return Err(gw.sim.failure("a timer is still armed for the dead IKE SA"));
        }
        if node.ike.counters().get(ErrorCounter::RetransmitLimit) != 1 {
            return Err(gw.sim.failure("expected one retransmission limit reached"));
        }
        if !(Duration::from_secs(150)..Duration::from_secs(300)).contains(&took) {
            return Err(gw
                .sim
                .failure(format!("took {took:?} to declare the peer dead")));
        }
        Ok(())
    });
}

#[test]
fn partition_shorter_than_the_retransmissions_is_survived() {
    let mut gw = Gateways::new(41);
    gw.establish(Duration::from_secs(5)).unwrap();
    let (a, b) = (gw.a, gw.b);
    gw.sim.partition(a, b);
    gw.sim.run_for(Duration::from_secs(60)).unwrap();
    gw.sim.heal(a, b);
    gw.sim.run_for(Duration::from_secs(300)).unwrap();
    gw.check_established().unwrap();
}
