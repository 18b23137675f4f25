//! Reliability (RFC 7296 §2.1–§2.3): lost requests are retransmitted, duplicated requests are
//! answered from the response cache without being processed twice, and delayed or reordered
//! messages change nothing.

use std::time::Duration;

use hitless_ike::ErrorCounter;
use hitless_sim::LinkParams;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn lost_requests_are_retransmitted_with_backoff() {
    let mut gw = Gateways::new(50);
    let (a, b) = (gw.a, gw.b);
    gw.sim.hold(a, b);
    gw.sim.initiate(a, "gw").unwrap();
    // Drop the IKE_SA_INIT request and its first two retransmissions, sent after 4 s and then
    // 4 × 1.8 s more, each ± 10% jitter: the second one leaves between 10.08 s and 12.32 s.
    for _ in 0..3 {
        gw.sim
            .run_until(LIMIT, |sim| sim.peek_next(b).is_some())
            .unwrap();
        gw.sim.drop_next(b).unwrap();
    }
    let second_retransmission = gw.sim.elapsed();
    gw.sim.release(a, b);
    gw.sim
        .run_until(LIMIT, |sim| scenario::established_pair(sim, a, b).is_ok())
        .unwrap();
    assert!(
        (Duration::from_millis(10_080)..=Duration::from_millis(12_320))
            .contains(&second_retransmission),
        "second retransmission after {second_retransmission:?}"
    );
    let info = gw.sim.node_ref(a).ike.ike_sas().next().unwrap();
    assert_eq!(
        info.counters.retransmits, 3,
        "retransmissions counted on the SA"
    );
}

#[test]
fn duplicated_messages_are_answered_from_the_cache() {
    let link = LinkParams::clean(scenario::LINK_DELAY).with_duplicate(1.0);
    let mut gw = Gateways::with(
        51,
        scenario::config_a(),
        scenario::config_b(),
        Default::default(),
        link,
    );
    gw.establish(Duration::from_secs(5)).unwrap();
    let (a, b) = (gw.a, gw.b);
    // Every message arrived twice: the duplicate requests were answered from the cache.
    let retransmitted = gw
        .sim
        .node_ref(b)
        .ike
        .counters()
        .get(ErrorCounter::RetransmittedRequest);
    assert!(
        retransmitted >= 1,
        "b answered {retransmitted} duplicates from its cache"
    );
    // Duplicated responses are not matched to a request a second time.
    let unmatched = gw
        .sim
        .node_ref(a)
        .ike
        .counters()
        .get(ErrorCounter::UnmatchedResponse);
    assert!(unmatched >= 1, "a dropped {unmatched} duplicate responses");
    gw.sim.run_for(Duration::from_secs(120)).unwrap();
    gw.check_established().unwrap();
}

#[test]
fn delayed_and_reordered_messages_change_nothing() {
    let link = LinkParams::clean(Duration::from_millis(50))
        .with_jitter(Duration::from_millis(40))
        .with_reorder(0.3)
        .with_duplicate(0.2);
    hitless_sim::check_seeds(|seed| {
        let mut gw = Gateways::with(
            seed,
            scenario::config_a(),
            scenario::config_b(),
            Default::default(),
            link.clone(),
        );
        gw.establish(LIMIT)?;
        // Liveness checks cross each other on the reordering link for a few minutes.
        gw.sim.run_for(Duration::from_secs(300))?;
        gw.check_established()
    });
}

#[test]
fn message_held_back_past_the_next_exchange_is_ignored() {
    let mut gw = Gateways::new(52);
    gw.establish(Duration::from_secs(5)).unwrap();
    let (a, b) = (gw.a, gw.b);
    // Hold a liveness check from a, let a give up on it and retransmit, then deliver the
    // stale original late.
    gw.sim.hold(a, b);
    gw.sim
        .run_until(LIMIT, |sim| sim.network().held_count(b) >= 2)
        .unwrap();
    gw.sim.deliver_next(b).unwrap();
    gw.sim.deliver_next(b).unwrap();
    gw.sim.release(a, b);
    gw.sim.run_for(Duration::from_secs(60)).unwrap();
    gw.check_established().unwrap();
}
