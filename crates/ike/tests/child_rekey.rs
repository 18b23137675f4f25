//! Child SA rekeying without loss (RFC 7296 §1.3.3, §2.8): the responder installs the new
//! inbound SA before answering and routes the new outbound SA only when the initiator is ready;
//! old inbound SAs linger.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::time::Duration;

use hitless_ike::DeleteReason;
use hitless_ike::Event;
use hitless_ike::Output;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::SaCommand;
use hitless_sadb::Spi;
use hitless_wire::registry::KeMethod;
use support::*;

/// Every slot routes exactly one outbound SA, and it is installed.
fn assert_one_route_per_slot(node: &Node) {
    for (reqid, spi) in &node.backend.routes {
        assert!(
            node.backend.sas.contains_key(&(*spi, Direction::Outbound)),
            "{}: slot {reqid:?} routed to a missing SA {spi}",
            node.name
        );
    }
    assert_eq!(
        node.backend.routes.len(),
        node.backend.policies.len(),
        "{}",
        node.name
    );
}

fn new_child(node: &Node) -> (Spi, Spi) {
    let ike = node.established();
    let info = node.endpoint.ike_sa(ike).unwrap();
    let newest = info.children.iter().max_by_key(|c| c.id).unwrap();
    (newest.spi_in, newest.spi_out)
}

#[test]
fn rekey_switches_outbound_in_the_right_order() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let (old, old_in, old_out) = pair.a.children(ike)[0];
    pair.a.endpoint.rekey_child(pair.now, old).unwrap();
    pair.drain();
    // The rekey request reaches b: new inbound installed (reporting first use), new outbound
    // installed but not routed, before the response.
    let b_mark = pair.b.log.len();
    pair.deliver_to_b();
    let b_out: Vec<&Output> = pair.b.log[b_mark..].iter().map(|(_, o)| o).collect();
    let (new_b_in, new_b_out) = new_child(&pair.b);
    let inbound = b_out
        .iter()
        .position(|o| matches!(o, Output::Sa(SaCommand::AddSa(s)) if s.spi == new_b_in && s.direction == Direction::Inbound && s.report_first_use))
        .expect("new inbound SA");
    let transmit = b_out
        .iter()
        .position(|o| matches!(o, Output::Transmit(_)))
        .unwrap();
    assert!(inbound < transmit);
    assert!(
        !b_out
            .iter()
            .any(|o| matches!(o, Output::Sa(SaCommand::RouteOutbound { .. })))
    );
    assert_eq!(
        pair.b.backend.routes.values().next(),
        Some(&old_in),
        "b still sends on the old SA"
    );
    assert!(
        pair.b
            .backend
            .sas
            .contains_key(&(new_b_out, Direction::Outbound))
    );

    // The response reaches a: a routes the new SA, drops the old outbound, keeps the old
    // inbound, and deletes the old SA.
    pair.deliver_to_a();
    let (new_a_in, new_a_out) = new_child(&pair.a);
    assert_eq!((new_a_in, new_a_out), (new_b_out, new_b_in));
    assert_eq!(pair.a.backend.routes.values().next(), Some(&new_a_out));
    assert!(
        !pair
            .a
            .backend
            .sas
            .contains_key(&(old_out, Direction::Outbound))
    );
    assert!(
        pair.a
            .backend
            .sas
            .contains_key(&(old_in, Direction::Inbound))
    );
    assert!(
        pair.a
            .saw(|e| matches!(e, Event::ChildSaRekeyed { old: o, .. } if *o == old))
    );

    // The DELETE of the old SA reaches b: b switches.
    pair.deliver_to_b();
    assert_eq!(pair.b.backend.routes.values().next(), Some(&new_b_out));
    assert!(
        !pair
            .b
            .backend
            .sas
            .contains_key(&(old_in, Direction::Outbound))
    );
    assert!(
        pair.b
            .backend
            .sas
            .contains_key(&(old_out, Direction::Inbound)),
        "old inbound lingers"
    );
    pair.drive();
    assert_one_route_per_slot(&pair.a);
    assert_one_route_per_slot(&pair.b);

    // After the linger both old inbound SAs are gone; the policy stayed throughout.
    pair.advance(Duration::from_secs(6));
    assert_eq!(pair.a.backend.sas.len(), 2);
    assert_eq!(pair.b.backend.sas.len(), 2);
    assert!(
        !pair
            .a
            .commands()
            .iter()
            .any(|c| matches!(c, SaCommand::DeletePolicy { .. }))
    );
    assert!(pair.b.saw(|e| matches!(
        e,
        Event::ChildSaDeleted {
            reason: DeleteReason::Rekeyed,
            ..
        }
    )));
    assert_children_match(&pair);
    assert_eq!(pair.a.children(ike).len(), 1);
}

#[test]
fn responder_switches_on_first_use_of_the_new_sa() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let (old, _, _) = pair.a.children(ike)[0];
    pair.a.endpoint.rekey_child(pair.now, old).unwrap();
    pair.drain();
    pair.deliver_to_b();
    pair.deliver_to_a();
    // a's DELETE is delayed; its first ESP packet on the new SA arrives first.
    let delete = pair.to_b.pop_front().unwrap();
    let (new_in, new_out) = new_child(&pair.b);
    pair.b
        .endpoint
        .handle_backend_event(pair.now, BackendEvent::InboundSaUsed { spi: new_in });
    pair.drain();
    assert_eq!(pair.b.backend.routes.values().next(), Some(&new_out));
    pair.inject_b(&delete);
    pair.drive();
    assert_one_route_per_slot(&pair.b);
    pair.advance(Duration::from_secs(6));
    assert_children_match(&pair);
}

#[test]
fn responder_switches_after_the_deadline() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let (old, _, _) = pair.a.children(ike)[0];
    pair.a.endpoint.rekey_child(pair.now, old).unwrap();
    pair.drain();
    pair.deliver_to_b();
    let (_, new_out) = new_child(&pair.b);
    // Neither the response nor anything else from a reaches b for a while.
    pair.a_silent = true;
    pair.b
        .endpoint
        .handle_timeout(pair.now + Duration::from_secs(10));
    pair.drain();
    assert_eq!(pair.b.backend.routes.values().next(), Some(&new_out));
    assert_one_route_per_slot(&pair.b);
}

#[test]
fn rekey_with_pfs() {
    let mut a = config_a();
    let mut b = config_b();
    for c in [&mut a, &mut b] {
        for p in &mut c.connections[0].children[0].esp_proposals {
            p.key_exchange = vec![KeMethod::CURVE25519];
        }
    }
    let mut pair = Pair::new(a, b, 50);
    let ike = pair.connect("gw");
    let (old, _, _) = pair.a.children(ike)[0];
    pair.a.endpoint.rekey_child(pair.now, old).unwrap();
    pair.advance(Duration::from_secs(6));
    let info = pair.a.endpoint.ike_sa(ike).unwrap();
    assert_eq!(info.children.len(), 1);
    assert_eq!(
        info.children[0].algorithms.key_exchange,
        Some(KeMethod::CURVE25519)
    );
    assert_children_match(&pair);
}

#[test]
fn periodic_rekeys_by_lifetime_from_both_sides() {
    let mut a = config_a();
    let mut b = config_b();
    for (c, rekey) in [(&mut a, 60), (&mut b, 95)] {
        let lifetime = &mut c.connections[0].children[0].lifetime;
        lifetime.rekey_time = Some(Duration::from_secs(rekey));
        lifetime.life_time = Some(Duration::from_secs(rekey * 3));
        lifetime.jitter = Duration::from_secs(5);
    }
    let mut pair = Pair::new(a, b, 51);
    pair.connect("gw");
    let mut rekeys = 0;
    for _ in 0..60 {
        pair.advance(Duration::from_secs(10));
        assert_one_route_per_slot(&pair.a);
        assert_one_route_per_slot(&pair.b);
        rekeys = pair
            .a
            .events()
            .iter()
            .chain(pair.b.events().iter())
            .filter(|e| matches!(e, Event::ChildSaRekeyed { .. }))
            .count();
    }
    assert!(rekeys >= 8, "{rekeys} rekeys");
    pair.advance(Duration::from_secs(10));
    let ike = pair.a.established();
    assert_eq!(pair.a.children(ike).len(), 1);
    assert_children_match(&pair);
    assert!(!pair.a.saw(|e| matches!(
        e,
        Event::ChildSaDeleted {
            reason: DeleteReason::Expired,
            ..
        }
    )));
}

#[test]
fn simultaneous_rekeys_converge_to_one_child_sa() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let (a_child, _, _) = pair.a.children(ike)[0];
    let b_ike = pair.b.established();
    let (b_child, _, _) = pair.b.children(b_ike)[0];
    pair.a.endpoint.rekey_child(pair.now, a_child).unwrap();
    pair.b.endpoint.rekey_child(pair.now, b_child).unwrap();
    pair.advance(Duration::from_secs(60));
    assert_eq!(pair.a.children(ike).len(), 1);
    assert_eq!(pair.b.children(b_ike).len(), 1);
    assert_one_route_per_slot(&pair.a);
    assert_one_route_per_slot(&pair.b);
    assert_children_match(&pair);
    assert!(
        pair.a.saw(|e| matches!(e, Event::ChildSaRekeyed { .. }))
            || pair.b.saw(|e| matches!(e, Event::ChildSaRekeyed { .. }))
    );
}
