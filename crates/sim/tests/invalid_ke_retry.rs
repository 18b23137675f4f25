//! The responder asks for another key exchange method with INVALID_KE_PAYLOAD and the
//! initiator retries with it (RFC 7296 §1.2, §2.7).

use std::time::Duration;

use hitless_ike::ErrorCounter;
use hitless_ike::config::Encryption;
use hitless_ike::config::IkeProposal;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::PrfId;

fn proposal(key_exchange: Vec<KeMethod>) -> IkeProposal {
    IkeProposal {
        encryption: vec![Encryption::aes_gcm16(256)],
        integrity: Vec::new(),
        prf: vec![PrfId::HMAC_SHA2_256],
        key_exchange,
    }
}

#[test]
fn initiator_retries_with_the_group_the_responder_asks_for() {
    let mut a = scenario::config_a();
    a.connections[0].ike_proposals = vec![proposal(vec![KeMethod::ECP_256, KeMethod::CURVE25519])];
    let mut b = scenario::config_b();
    b.connections[0].ike_proposals = vec![proposal(vec![KeMethod::CURVE25519])];
    let mut gw = Gateways::with(3, a, b, Default::default(), Default::default());
    gw.establish(Duration::from_secs(5)).unwrap();
    let a = gw.sim.node_ref(gw.a);
    let info = a.ike.ike_sas().next().unwrap();
    assert_eq!(info.algorithms.unwrap().key_exchange, KeMethod::CURVE25519);
    let b = gw.sim.node_ref(gw.b);
    assert_eq!(b.ike.counters().get(ErrorCounter::InvalidKePayload), 1);
    insta::assert_snapshot!(gw.sim.transcript().messages());
}
