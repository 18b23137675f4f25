//! HA hooks: export an IKE SA from one endpoint, import it passive into another, activate it
//! there and carry on against the original peer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::time::Duration;

use hitless_ike::Event;
use hitless_ike::IkeSaState;
use hitless_ike::InFlight;
use hitless_ike::config::ChildConfig;
use support::*;

fn configs() -> (hitless_ike::Config, hitless_ike::Config) {
    let mut a = config_a();
    let mut b = config_b();
    for (c, mine, theirs) in [(&mut a, 1, 2), (&mut b, 2, 1)] {
        c.connections[0].children.push(ChildConfig::tunnel(
            "db",
            vec![net(10, mine, 9)],
            vec![net(10, theirs, 9)],
        ));
    }
    (a, b)
}

#[test]
fn export_import_activate_and_continue() {
    let (a_config, b_config) = configs();
    let mut pair = Pair::new(a_config.clone(), b_config, 40);
    let ike = pair.connect("gw");
    pair.advance(Duration::from_secs(45)); // some DPD traffic moves the message IDs
    let snapshot = pair.a.endpoint.export(pair.now, ike).expect("established");
    assert_eq!(snapshot.children.len(), 1);
    assert!(snapshot.window.next_request >= 2);
    let a_spis: Vec<_> = pair.a.backend.sas.keys().copied().collect();

    // The standby (same address: the cluster's virtual IP) imports it passive.
    let mut standby = Node::with_crypto(
        "standby",
        a_config,
        std::sync::Arc::new(hitless_crypto_insecure::provider(99)),
        A_IP,
    );
    let passive = standby
        .endpoint
        .import_passive(pair.now, snapshot.clone())
        .unwrap();
    assert!(
        standby.endpoint.poll_output().is_none(),
        "a passive SA outputs nothing"
    );
    assert!(
        standby.endpoint.poll_timeout().is_none(),
        "and arms no timer"
    );
    let info = standby.endpoint.ike_sa(passive).unwrap();
    assert_eq!(info.state, IkeSaState::Passive);
    assert_eq!(info.spis, snapshot.spis);
    // Exporting the passive copy gives the same state back.
    let again = standby.endpoint.export(pair.now, passive).unwrap();
    assert_eq!(again.window, snapshot.window);
    assert_eq!(again.keys, snapshot.keys);
    assert_eq!(again.children.len(), snapshot.children.len());

    // Failover: the old node is gone, the standby takes over.
    pair.a = standby;
    pair.now += Duration::from_secs(2);
    pair.a.endpoint.activate(pair.now, |_| true);
    pair.drain();
    let installed: Vec<_> = pair.a.backend.sas.keys().copied().collect();
    assert_eq!(installed, a_spis, "the same SAs are installed");
    pair.drive();
    // The takeover's liveness check was answered.
    let ike = pair.a.established();
    let info = pair.a.endpoint.ike_sa(ike).unwrap();
    assert_eq!(info.counters.retransmits, 0);
    assert_eq!(info.next_request, snapshot.window.next_request + 1);

    // DPD keeps working both ways.
    pair.advance(Duration::from_secs(100));
    pair.a.established();
    pair.b.established();

    // A new Child SA from the new active node, then a delete from the peer.
    pair.a.endpoint.create_child(pair.now, ike, "db").unwrap();
    pair.drive();
    assert_eq!(pair.a.children(ike).len(), 2);
    // The new Child SA gets a policy slot of its own, not the imported one's.
    let reqids: std::collections::BTreeSet<_> = pair
        .a
        .endpoint
        .ike_sa(ike)
        .unwrap()
        .children
        .iter()
        .map(|c| c.reqid)
        .collect();
    assert_eq!(reqids.len(), 2, "{reqids:?}");
    assert_children_match(&pair);
    let b_ike = pair.b.established();
    let (first, _, _) = pair.b.children(b_ike)[0];
    pair.b.endpoint.terminate_child(pair.now, first).unwrap();
    pair.drive();
    assert_eq!(pair.a.children(ike).len(), 1);
    assert_children_match(&pair);

    // And the IKE SA delete.
    pair.a.endpoint.terminate_ike(pair.now, ike).unwrap();
    pair.drive();
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);
    assert!(pair.a.backend.sas.is_empty());
}

#[test]
fn takeover_resumes_an_outstanding_request() {
    let (a_config, b_config) = configs();
    let mut pair = Pair::new(a_config.clone(), b_config, 41);
    let ike = pair.connect("gw");
    let child = pair.a.children(ike)[0].0;
    // a starts deleting a Child SA and fails before the request reaches b.
    pair.a.endpoint.terminate_child(pair.now, child).unwrap();
    pair.drain();
    pair.to_b.clear();
    let snapshot = pair.a.endpoint.export(pair.now, ike).unwrap();
    assert!(matches!(&snapshot.in_flight, Some(InFlight::DeleteChild(spis)) if spis.len() == 1));
    let outstanding = snapshot.window.outstanding.clone().unwrap();

    let mut standby = Node::with_crypto(
        "standby",
        a_config,
        std::sync::Arc::new(hitless_crypto_insecure::provider(98)),
        A_IP,
    );
    standby.endpoint.import_passive(pair.now, snapshot).unwrap();
    pair.a = standby;
    pair.a.endpoint.activate(pair.now, |_| true);
    pair.drain();
    // The very request the old node sent goes out again first.
    assert_eq!(pair.to_b.front().unwrap().payload, outstanding.message);
    pair.drive();
    let ike = pair.a.established();
    assert!(pair.a.children(ike).is_empty());
    assert!(pair.b.backend.sas.is_empty());
    assert!(pair.a.backend.sas.is_empty());
    assert!(pair.b.saw(|e| matches!(e, Event::ChildSaDeleted { .. })));
}

#[test]
fn import_rejects_conflicts_and_unknown_connections() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let snapshot = pair.a.endpoint.export(pair.now, ike).unwrap();
    // Same SPIs as an active SA.
    assert!(
        pair.a
            .endpoint
            .import_passive(pair.now, snapshot.clone())
            .is_err()
    );
    let mut other = snapshot.clone();
    other.connection = "nope".into();
    let mut fresh = Node::with_crypto(
        "c",
        config_a(),
        std::sync::Arc::new(hitless_crypto_insecure::provider(7)),
        A_IP,
    );
    assert!(fresh.endpoint.import_passive(pair.now, other).is_err());
    // Importing twice replaces the passive copy.
    let first = fresh
        .endpoint
        .import_passive(pair.now, snapshot.clone())
        .unwrap();
    let second = fresh.endpoint.import_passive(pair.now, snapshot).unwrap();
    assert_ne!(first, second);
    assert_eq!(fresh.endpoint.ike_sas().count(), 1);
}

#[test]
fn deactivated_sa_goes_silent() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    pair.a.endpoint.deactivate(|_| true);
    assert_eq!(
        pair.a.endpoint.ike_sa(ike).unwrap().state,
        IkeSaState::Passive
    );
    assert!(pair.a.endpoint.poll_timeout().is_none());
    let sent = pair.a.transmits().len();
    pair.advance(Duration::from_secs(300));
    assert_eq!(
        pair.a.transmits().len(),
        sent,
        "a passive SA never transmits"
    );
    // b's DPDs go unanswered (a standby drops them): b declares a dead.
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);
}
