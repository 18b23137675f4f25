//! Child SAs: the first one in IKE_AUTH with traffic selector narrowing (RFC 7296 §2.9),
//! TS_UNACCEPTABLE and NO_PROPOSAL_CHOSEN for the Child SA only (§2.21.1), transport mode
//! (§1.3.1), and additional Child SAs with CREATE_CHILD_SA, with and without PFS, from either
//! side (§1.3.1). The simulator checks after every step that a responder installs its inbound SA
//! before the response that announces it leaves.

#![allow(clippy::unwrap_used)] // helpers outside #[test] fns

use std::time::Duration;

use hitless_ike::Config;
use hitless_ike::ErrorCounter;
use hitless_ike::config::ChildConfig;
use hitless_ike::config::Encryption;
use hitless_ike::config::Esn;
use hitless_ike::config::EspProposal;
use hitless_sadb::Mode;
use hitless_sim::NodeId;
use hitless_sim::Sim;
use hitless_sim::scenario;
use hitless_sim::scenario::Gateways;
use hitless_sim::scenario::net24;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::NotifyType;

const LIMIT: Duration = Duration::from_secs(10);

fn children(sim: &Sim, node: NodeId) -> Vec<(String, Vec<hitless_sadb::TrafficSelector>)> {
    sim.node_ref(node)
        .ike
        .ike_sas()
        .flat_map(|ike| {
            ike.children
                .iter()
                .map(|c| (c.name.to_owned(), c.local_ts.to_vec()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn responder_narrows_traffic_selectors() {
    let mut b = scenario::config_b();
    b.connections[0].children[0].local_ts = vec![net24(10, 2, 7)];
    b.connections[0].children[0].remote_ts = vec![net24(10, 1, 3)];
    let mut gw = Gateways::with(
        9,
        scenario::config_a(),
        b,
        Default::default(),
        Default::default(),
    );
    gw.establish(LIMIT).unwrap();
    let info = gw.sim.node_ref(gw.a).ike.ike_sas().next().unwrap();
    assert_eq!(info.children[0].local_ts, &[net24(10, 1, 3)]);
    assert_eq!(info.children[0].remote_ts, &[net24(10, 2, 7)]);
    let spec = gw
        .sim
        .node_ref(gw.a)
        .backend
        .state()
        .installed()
        .next()
        .unwrap();
    assert_eq!(spec.local_ts, vec![net24(10, 1, 3)]);
}

#[test]
fn ts_unacceptable_fails_the_child_sa_and_keeps_the_ike_sa() {
    let mut b = scenario::config_b();
    b.connections[0].children[0].remote_ts = vec![net24(172, 16, 0)];
    let mut gw = Gateways::with(
        8,
        scenario::config_a(),
        b,
        Default::default(),
        Default::default(),
    );
    let (a, b) = (gw.a, gw.b);
    gw.sim.initiate(a, "gw").unwrap();
    gw.sim
        .run_until(LIMIT, |sim| {
            scenario::child_failed_with(sim, a, NotifyType::TS_UNACCEPTABLE)
        })
        .unwrap();
    assert_eq!(scenario::established(&gw.sim, a).len(), 1);
    assert_eq!(scenario::established(&gw.sim, b).len(), 1);
    for node in [a, b] {
        assert_eq!(gw.sim.node_ref(node).backend.state().installed().count(), 0);
    }
    assert_eq!(
        gw.sim
            .node_ref(b)
            .ike
            .counters()
            .get(ErrorCounter::TsUnacceptable),
        1
    );
}

#[test]
fn no_proposal_chosen_for_the_child_keeps_the_ike_sa() {
    let proposal = |encryption, integrity: Vec<IntegId>| EspProposal {
        encryption: vec![encryption],
        integrity,
        key_exchange: Vec::new(),
        esn: Esn::No,
    };
    let mut a = scenario::config_a();
    a.connections[0].children[0].esp_proposals = vec![proposal(Encryption::aes_gcm16(128), vec![])];
    let mut b = scenario::config_b();
    b.connections[0].children[0].esp_proposals = vec![proposal(
        Encryption::aes_cbc(256),
        vec![IntegId::HMAC_SHA2_512_256],
    )];
    let mut gw = Gateways::with(7, a, b, Default::default(), Default::default());
    let (a, b) = (gw.a, gw.b);
    gw.sim.initiate(a, "gw").unwrap();
    gw.sim
        .run_until(LIMIT, |sim| {
            scenario::child_failed_with(sim, a, NotifyType::NO_PROPOSAL_CHOSEN)
        })
        .unwrap();
    assert_eq!(scenario::established(&gw.sim, a).len(), 1);
    assert_eq!(scenario::established(&gw.sim, b).len(), 1);
    for node in [a, b] {
        assert_eq!(gw.sim.node_ref(node).backend.state().installed().count(), 0);
    }
}

#[test]
fn transport_mode() {
    let mut a = scenario::config_a();
    let mut b = scenario::config_b();
    for config in [&mut a, &mut b] {
        let child = &mut config.connections[0].children[0];
        child.mode = Mode::Transport;
        child.local_ts = Vec::new();
        child.remote_ts = Vec::new();
    }
    let mut gw = Gateways::with(10, a, b, Default::default(), Default::default());
    gw.establish(LIMIT).unwrap();
    for node in [gw.a, gw.b] {
        let state = gw.sim.node_ref(node).backend.state();
        assert_eq!(state.installed().count(), 2);
        assert!(state.installed().all(|sa| sa.mode == Mode::Transport));
        assert!(
            state
                .policies()
                .all(|policy| policy.mode == Mode::Transport)
        );
    }
    // Empty selectors mean the hosts themselves.
    let a_child = gw.sim.node_ref(gw.a).ike.ike_sas().next().unwrap().children[0].clone();
    assert_eq!(a_child.local_ts[0].start_address, scenario::GW_A);
    assert_eq!(a_child.remote_ts[0].end_address, scenario::GW_B);
    insta::assert_snapshot!(gw.sim.transcript().messages());
}

/// Configs with a second Child SA `db` between 10.1.9/24 and 10.2.9/24, not started with the
/// IKE SA, optionally with a PFS key exchange.
fn with_second_child(pfs: bool) -> (Config, Config) {
    let mut a = scenario::config_a();
    let mut b = scenario::config_b();
    for (config, mine, theirs) in [(&mut a, 1, 2), (&mut b, 2, 1)] {
        let mut child =
            ChildConfig::tunnel("db", vec![net24(10, mine, 9)], vec![net24(10, theirs, 9)]);
        if pfs {
            for proposal in &mut child.esp_proposals {
                proposal.key_exchange = vec![KeMethod::CURVE25519];
            }
        }
        config.connections[0].children.push(child);
    }
    (a, b)
}

fn additional_child(pfs: bool, from_responder: bool, seed: u64) -> Gateways {
    let (a, b) = with_second_child(pfs);
    let mut gw = Gateways::with(seed, a, b, Default::default(), Default::default());
    gw.establish(LIMIT).unwrap();
    let creator = if from_responder { gw.b } else { gw.a };
    let ike = scenario::established(&gw.sim, creator)[0];
    gw.sim
        .act(creator, |engine, now| engine.create_child(now, ike, "db"))
        .unwrap();
    let (a, b) = (gw.a, gw.b);
    gw.sim
        .run_until(LIMIT, |sim| {
            sim.is_quiescent() && [a, b].iter().all(|node| children(sim, *node).len() == 2)
        })
        .unwrap();
    scenario::established_pair(&gw.sim, a, b).unwrap();
    for node in [a, b] {
        let state = gw.sim.node_ref(node).backend.state();
        assert_eq!(state.installed().count(), 4);
        assert_eq!(state.routes().count(), 2);
    }
    gw
}

#[test]
fn additional_child_sa_without_pfs() {
    let gw = additional_child(false, false, 20);
    let info = gw.sim.node_ref(gw.a).ike.ike_sas().next().unwrap();
    let db = info.children.iter().find(|c| c.name == "db").unwrap();
    assert_eq!(db.algorithms.key_exchange, None);
    insta::assert_snapshot!(gw.sim.transcript().messages());
}

#[test]
fn additional_child_sa_with_pfs() {
    let gw = additional_child(true, false, 21);
    let info = gw.sim.node_ref(gw.b).ike.ike_sas().next().unwrap();
    let db = info.children.iter().find(|c| c.name == "db").unwrap();
    assert_eq!(db.algorithms.key_exchange, Some(KeMethod::CURVE25519));
    insta::assert_snapshot!(gw.sim.transcript().messages());
}

#[test]
fn additional_child_sa_from_the_responder_side() {
    additional_child(false, true, 22);
    additional_child(true, true, 23);
}
