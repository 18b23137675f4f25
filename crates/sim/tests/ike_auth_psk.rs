//! IKE_AUTH with pre-shared keys (RFC 7296 §2.15): a wrong key on either side fails the IKE SA
//! with AUTHENTICATION_FAILED and installs nothing where authentication failed.

use std::time::Duration;

use hitless_crypto::SecretBytes;
use hitless_ike::Error;
use hitless_ike::ErrorCounter;
use hitless_ike::Event;
use hitless_ike::FailureReason;
use hitless_ike::config::LocalAuth;
use hitless_ike::config::RemoteAuth;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;
use hitless_wire::registry::NotifyType;

#[test]
fn wrong_psk_fails_with_authentication_failed_and_installs_nothing() {
    let mut b = scenario::config_b();
    b.connections[0].remote_auth = RemoteAuth::Psk(SecretBytes::from_slice(b"another secret"));
    let mut gw = Gateways::with(
        4,
        scenario::config_a(),
        b,
        Default::default(),
        Default::default(),
    );
    let (a, b) = (gw.a, gw.b);
    gw.sim.initiate(a, "gw").unwrap();
    gw.sim
        .run_until(Duration::from_secs(10), |sim| {
            scenario::failed_with(sim, a, NotifyType::AUTHENTICATION_FAILED)
        })
        .unwrap();
    gw.sim.run_for(Duration::from_secs(60)).unwrap();
    assert!(scenario::saw(&gw.sim, b, |e| matches!(
        e,
        Event::IkeSaFailed { .. }
    )));
    for node in [a, b] {
        let node = gw.sim.node_ref(node);
        assert!(
            node.backend.state().history().is_empty(),
            "{} installed something",
            node.name
        );
        assert_eq!(node.ike.ike_sas().count(), 0);
    }
    let counters = gw.sim.node_ref(b).ike.counters();
    assert_eq!(counters.get(ErrorCounter::AuthenticationFailed), 1);
    insta::assert_snapshot!(gw.sim.transcript().messages());
}

#[test]
fn responder_that_cannot_prove_itself_is_never_established() {
    let mut b = scenario::config_b();
    b.connections[0].local_auth = LocalAuth::Psk(SecretBytes::from_slice(b"impostor"));
    let mut gw = Gateways::with(
        5,
        scenario::config_a(),
        b,
        Default::default(),
        Default::default(),
    );
    let (a, b) = (gw.a, gw.b);
    gw.sim.initiate(a, "gw").unwrap();
    gw.sim
        .run_until(Duration::from_secs(10), |sim| {
            scenario::saw(sim, a, |e| {
                matches!(
                    e,
                    Event::IkeSaFailed {
                        reason: FailureReason::Protocol(Error::AuthenticationFailed(_)),
                        ..
                    }
                )
            })
        })
        .unwrap();
    // b thought a was authentic and installed the Child SA; a's failure report (or b's
    // liveness check) must take it down again.
    gw.sim.run_for(Duration::from_secs(300)).unwrap();
    let node_a = gw.sim.node_ref(a);
    assert!(!scenario::saw(&gw.sim, a, |e| matches!(
        e,
        Event::IkeSaEstablished { .. }
    )));
    assert!(
        node_a.backend.state().history().is_empty(),
        "a installed something"
    );
    assert_eq!(node_a.ike.ike_sas().count(), 0);
    let node_b = gw.sim.node_ref(b);
    assert_eq!(
        node_b.ike.ike_sas().count(),
        0,
        "b kept an IKE SA with a peer that rejected it"
    );
    assert_eq!(node_b.backend.state().installed().count(), 0);
}
