//! Establishing an IKE SA and its first Child SA (RFC 7296 §1.2): IKE_SA_INIT and IKE_AUTH on
//! a clean link, a proposal the responder cannot accept (§2.7), and both sides initiating to
//! each other at once.

use std::time::Duration;

use hitless_ike::ErrorCounter;
use hitless_ike::IkeSaState;
use hitless_ike::config::Encryption;
use hitless_ike::config::IkeProposal;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PrfId;

#[test]
fn establishes_on_a_clean_link() {
    let mut gw = Gateways::new(1);
    let took = gw.establish(Duration::from_secs(5)).unwrap();
    // Two round trips on a 5 ms link.
    assert_eq!(took, Duration::from_millis(20));
    gw.check_established().unwrap();
    insta::assert_snapshot!(gw.sim.transcript().messages());
}

#[test]
fn no_proposal_chosen_fails_the_ike_sa_on_both_sides() {
    let mut a = scenario::config_a();
    a.connections[0].ike_proposals = vec![IkeProposal {
        encryption: vec![Encryption::aes_gcm16(256)],
        integrity: Vec::new(),
        prf: vec![PrfId::HMAC_SHA2_256],
        key_exchange: vec![KeMethod::CURVE25519],
    }];
    let mut b = scenario::config_b();
    b.connections[0].ike_proposals = vec![IkeProposal {
        encryption: vec![Encryption::aes_cbc(128)],
        integrity: vec![IntegId::HMAC_SHA2_256_128],
        prf: vec![PrfId::HMAC_SHA2_256],
        key_exchange: vec![KeMethod::MODP_2048],
    }];
    let mut gw = Gateways::with(6, a, b, Default::default(), Default::default());
    let (a, b) = (gw.a, gw.b);
    gw.sim.initiate(a, "gw").unwrap();
    gw.sim
        .run_until(Duration::from_secs(60), |sim| {
            scenario::failed_with(sim, a, NotifyType::NO_PROPOSAL_CHOSEN)
        })
        .unwrap();
    gw.sim.run_for(Duration::from_secs(60)).unwrap();
    for node in [a, b] {
        assert_eq!(gw.sim.node_ref(node).ike.ike_sas().count(), 0);
        assert_eq!(gw.sim.node_ref(node).backend.state().history().len(), 0);
    }
    let counters = gw.sim.node_ref(b).ike.counters();
    assert_eq!(counters.get(ErrorCounter::NoProposalChosen), 1);
    insta::assert_snapshot!(gw.sim.transcript().messages());
}

#[test]
fn both_sides_initiating_at_once_end_with_working_sas() {
    for jitter_ms in [0, 3] {
        let link = hitless_sim::LinkParams::clean(scenario::LINK_DELAY)
            .with_jitter(Duration::from_millis(jitter_ms));
        hitless_sim::check_seeds(|seed| {
            let mut gw = Gateways::with(
                seed,
                scenario::config_a(),
                scenario::config_b(),
                Default::default(),
                link.clone(),
            );
            let (a, b) = (gw.a, gw.b);
            gw.sim
                .initiate(a, "gw")
                .map_err(|e| gw.sim.failure(e.to_string()))?;
            gw.sim
                .initiate(b, "gw")
                .map_err(|e| gw.sim.failure(e.to_string()))?;
            gw.sim.run_until(Duration::from_secs(30), |sim| {
                sim.is_quiescent()
                    && [a, b].iter().all(|node| {
                        let ike = &sim.node_ref(*node).ike;
                        ike.ike_sas().count() > 0
                            && ike.ike_sas().all(|sa| sa.state == IkeSaState::Established)
                    })
            })?;
            scenario::backends_mirror(&gw.sim, a, b).map_err(|why| gw.sim.failure(why))?;
            Ok(())
        });
    }
}
