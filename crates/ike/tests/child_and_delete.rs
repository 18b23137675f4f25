//! CREATE_CHILD_SA for additional Child SAs (RFC 7296 §1.3.1) and INFORMATIONAL deletes of
//! Child SAs and of the IKE SA (§1.4.1), in both directions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use hitless_ike::DeleteReason;
use hitless_ike::Event;
use hitless_ike::config::ChildConfig;
use hitless_ike::config::Config;
use hitless_sadb::SaCommand;
use hitless_wire::registry::KeMethod;
use support::*;

fn with_second_child(pfs: bool) -> (Config, Config) {
    let mut a = config_a();
    let mut b = config_b();
    for (c, mine, theirs) in [(&mut a, 1, 2), (&mut b, 2, 1)] {
        let mut child = ChildConfig::tunnel("db", vec![net(10, mine, 9)], vec![net(10, theirs, 9)]);
        if pfs {
            for p in &mut child.esp_proposals {
                p.key_exchange = vec![KeMethod::CURVE25519];
            }
        }
        c.connections[0].children.push(child);
    }
    (a, b)
}

fn create_second_child(pfs: bool) -> Pair {
    let (a, b) = with_second_child(pfs);
    let mut pair = Pair::new(a, b, 20);
    let ike = pair.connect("gw");
    pair.a.endpoint.create_child(pair.now, ike, "db").unwrap();
    pair.drive();
    pair
}

#[test]
fn additional_child_sa_without_pfs() {
    let pair = create_second_child(false);
    let ike = pair.a.established();
    let info = pair.a.endpoint.ike_sa(ike).unwrap();
    assert_eq!(info.children.len(), 2);
    let db = info.children.iter().find(|c| c.name == "db").unwrap();
    assert_eq!(db.algorithms.key_exchange, None);
    assert_eq!(db.local_ts, &[net(10, 1, 9)]);
    assert_eq!(pair.a.backend.sas.len(), 4);
    assert_eq!(pair.a.backend.routes.len(), 2);
    assert_children_match(&pair);
    assert_eq!(info.next_request, 3);
}

#[test]
fn additional_child_sa_with_pfs() {
    let pair = create_second_child(true);
    let ike = pair.b.established();
    let info = pair.b.endpoint.ike_sa(ike).unwrap();
    let db = info.children.iter().find(|c| c.name == "db").unwrap();
    assert_eq!(db.algorithms.key_exchange, Some(KeMethod::CURVE25519));
    assert_children_match(&pair);
    // The responder's inbound SA was installed before its CREATE_CHILD_SA response.
    let log = &pair.b.log;
    let last_add_inbound = log
        .iter()
        .rposition(|(_, o)| {
            matches!(o, hitless_ike::Output::Sa(SaCommand::AddSa(s))
            if s.direction == hitless_sadb::Direction::Inbound)
        })
        .unwrap();
    let last_transmit = log
        .iter()
        .rposition(|(_, o)| matches!(o, hitless_ike::Output::Transmit(_)))
        .unwrap();
    assert!(last_add_inbound < last_transmit);
}

#[test]
fn child_sa_from_the_responder_side() {
    let (a, b) = with_second_child(false);
    let mut pair = Pair::new(a, b, 21);
    pair.connect("gw");
    let b_ike = pair.b.established();
    pair.b.endpoint.create_child(pair.now, b_ike, "db").unwrap();
    pair.drive();
    let a_ike = pair.a.established();
    assert_eq!(pair.a.endpoint.ike_sa(a_ike).unwrap().children.len(), 2);
    assert_children_match(&pair);
}

#[test]
fn delete_child_sa_from_the_initiator() {
    let mut pair = create_second_child(false);
    let ike = pair.a.established();
    let (db, _, _) = pair.a.children(ike)[1];
    pair.a.endpoint.terminate_child(pair.now, db).unwrap();
    pair.drive();
    assert_eq!(pair.a.children(ike).len(), 1);
    assert_eq!(pair.b.children(pair.b.established()).len(), 1);
    assert_eq!(pair.a.backend.sas.len(), 2);
    assert_eq!(pair.b.backend.sas.len(), 2);
    assert_eq!(pair.a.backend.policies.len(), 1);
    assert_children_match(&pair);
    assert!(pair.a.saw(|e| matches!(e, Event::ChildSaDeleted { child, reason: DeleteReason::Local, .. } if *child == db)));
    assert!(pair.b.saw(|e| matches!(
        e,
        Event::ChildSaDeleted {
            reason: DeleteReason::Peer,
            ..
        }
    )));
}

#[test]
fn delete_child_sa_from_the_responder() {
    let mut pair = pair();
    pair.connect("gw");
    let ike = pair.b.established();
    let (child, _, _) = pair.b.children(ike)[0];
    pair.b.endpoint.terminate_child(pair.now, child).unwrap();
    pair.drive();
    assert!(pair.a.backend.sas.is_empty() && pair.b.backend.sas.is_empty());
    assert!(pair.a.backend.policies.is_empty() && pair.b.backend.policies.is_empty());
    pair.a.established();
}

#[test]
fn crossing_child_deletes() {
    let mut pair = pair();
    pair.connect("gw");
    let (a_child, _, _) = pair.a.children(pair.a.established())[0];
    let (b_child, _, _) = pair.b.children(pair.b.established())[0];
    pair.a.endpoint.terminate_child(pair.now, a_child).unwrap();
    pair.b.endpoint.terminate_child(pair.now, b_child).unwrap();
    pair.drive();
    assert!(pair.a.backend.sas.is_empty() && pair.b.backend.sas.is_empty());
    // RFC 7296 §1.4.1: each response to a crossing delete carries no Delete payload.
    pair.a.established();
    pair.b.established();
}

#[test]
fn delete_ike_sa_from_either_side() {
    for initiator_deletes in [true, false] {
        let mut pair = pair();
        pair.connect("gw");
        if initiator_deletes {
            let ike = pair.a.established();
            pair.a.endpoint.terminate_ike(pair.now, ike).unwrap();
        } else {
            let ike = pair.b.established();
            pair.b.endpoint.terminate_ike(pair.now, ike).unwrap();
        }
        pair.drive();
        for node in [&pair.a, &pair.b] {
            assert_eq!(node.endpoint.ike_sas().count(), 0, "{}", node.name);
            assert!(node.backend.sas.is_empty() && node.backend.policies.is_empty());
            assert!(node.saw(|e| matches!(e, Event::IkeSaDeleted { .. })));
            assert!(node.endpoint.poll_timeout().is_none());
        }
    }
}
