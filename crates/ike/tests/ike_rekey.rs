//! IKE SA rekeying (RFC 7296 §1.3.2, §2.18): new SPIs and keys, Child SAs moved, old SA deleted.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::time::Duration;

use hitless_ike::DeleteReason;
use hitless_ike::Event;
use hitless_ike::IkeSaState;
use support::*;

#[test]
fn rekey_moves_children_and_deletes_the_old_sa() {
    for from_initiator in [true, false] {
        let mut pair = pair();
        let old_a = pair.connect("gw");
        let old_b = pair.b.established();
        let old_spis = pair.a.endpoint.ike_sa(old_a).unwrap().spis;
        let children_before = pair.a.backend.sas.clone();
        if from_initiator {
            pair.a.endpoint.rekey_ike(pair.now, old_a).unwrap();
        } else {
            pair.b.endpoint.rekey_ike(pair.now, old_b).unwrap();
        }
        pair.drive();
        let new_a = pair.a.established();
        let new_b = pair.b.established();
        let a_info = pair.a.endpoint.ike_sa(new_a).unwrap();
        let b_info = pair.b.endpoint.ike_sa(new_b).unwrap();
        assert_ne!(new_a, old_a);
        assert_ne!(a_info.spis, old_spis);
        assert_eq!(a_info.spis, b_info.spis);
        // The rekey's initiator is the new SA's original initiator (§2.18).
        assert_eq!(a_info.initiator, from_initiator);
        assert_eq!(b_info.initiator, !from_initiator);
        // Message IDs restart on the new SA; the Child SA moved untouched.
        assert_eq!(a_info.next_request, 0);
        assert_eq!(a_info.children.len(), 1);
        assert_eq!(pair.a.backend.sas, children_before);
        assert!(pair.a.saw(
            |e| matches!(e, Event::IkeSaRekeyed { old, new, .. } if *old == old_a && *new == new_a)
        ));
        assert!(pair.a.saw(|e| matches!(e, Event::IkeSaDeleted { ike, reason: DeleteReason::Rekeyed, .. } if *ike == old_a)));
        assert!(!pair.a.saw(|e| matches!(e, Event::ChildSaDeleted { .. })));
        // The new SA works: a Child SA operation and liveness checks on it.
        let (child, _, _) = pair.a.children(new_a)[0];
        pair.a.endpoint.rekey_child(pair.now, child).unwrap();
        pair.advance(Duration::from_secs(100));
        pair.a.established();
        assert_eq!(
            pair.b.endpoint.ike_sa(new_b).unwrap().state,
            IkeSaState::Established
        );
        assert_children_match(&pair);
    }
}

#[test]
fn ike_sa_is_rekeyed_by_its_lifetime() {
    let mut a = config_a();
    a.connections[0].ike_lifetime.rekey_time = Some(Duration::from_secs(300));
    a.connections[0].ike_lifetime.jitter = Duration::from_secs(30);
    a.connections[0].ike_lifetime.life_time = Some(Duration::from_secs(400));
    let mut pair = Pair::new(a, config_b(), 60);
    pair.connect("gw");
    pair.advance(Duration::from_secs(1000));
    let rekeys = pair
        .a
        .events()
        .iter()
        .filter(|e| matches!(e, Event::IkeSaRekeyed { .. }))
        .count();
    assert!(rekeys >= 3, "{rekeys}");
    pair.a.established();
    pair.b.established();
    assert!(!pair.a.saw(|e| matches!(e, Event::ChildSaDeleted { .. })));
    assert_children_match(&pair);
}

#[test]
fn simultaneous_ike_rekeys_converge() {
    let mut pair = pair();
    let a = pair.connect("gw");
    let b = pair.b.established();
    pair.a.endpoint.rekey_ike(pair.now, a).unwrap();
    pair.b.endpoint.rekey_ike(pair.now, b).unwrap();
    pair.advance(Duration::from_secs(60));
    pair.a.established();
    pair.b.established();
    assert_children_match(&pair);
}

#[test]
fn hard_lifetime_without_rekey_deletes_the_ike_sa() {
    let mut a = config_a();
    a.connections[0].ike_lifetime.rekey_time = None;
    a.connections[0].ike_lifetime.life_time = Some(Duration::from_secs(120));
    let mut pair = Pair::new(a, config_b(), 61);
    pair.connect("gw");
    pair.advance(Duration::from_secs(130));
    assert_eq!(pair.a.endpoint.ike_sas().count(), 0);
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);
    assert!(pair.a.backend.sas.is_empty() && pair.b.backend.sas.is_empty());
}

/// The responder of a rekey keeps the replaced IKE SA while the initiator may still be
/// retransmitting its request (RFC 7296 §2.1): its answers are lost for a minute, longer than
/// the 30 s a superseded IKE SA waits at least, and the initiator's retransmission after that
/// still gets the cached answer, so both sides end on the new IKE SA with the Child SA.
#[test]
fn replaced_ike_sa_outlasts_the_initiators_retransmissions() {
    let mut pair = pair();
    let old_a = pair.connect("gw");
    let children = pair.a.backend.sas.clone();
    pair.a.endpoint.rekey_ike(pair.now, old_a).unwrap();
    pair.b_silent = true;
    pair.advance(Duration::from_secs(60));
    // b answered and moved on; a still waits for the answer.
    assert_eq!(pair.a.established(), old_a);
    pair.b_silent = false;
    pair.advance(Duration::from_secs(200));
    let new_a = pair.a.established();
    let new_b = pair.b.established();
    assert_ne!(new_a, old_a);
    assert_eq!(
        pair.a.endpoint.ike_sa(new_a).unwrap().spis,
        pair.b.endpoint.ike_sa(new_b).unwrap().spis
    );
    assert_eq!(pair.a.children(new_a).len(), 1);
    assert_eq!(pair.a.backend.sas, children);
    assert!(!pair.a.saw(|e| matches!(e, Event::ChildSaDeleted { .. })));
    assert_children_match(&pair);
}
