//! IKE_SA_INIT + IKE_AUTH with PSK and the first Child SA (RFC 7296 §1.2).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use hitless_ike::Event;
use hitless_ike::IkeSaState;
use hitless_ike::Output;
use hitless_sadb::Direction;
use hitless_sadb::SaCommand;
use support::*;

#[test]
fn establishes_ike_sa_and_first_child() {
    let mut pair = pair();
    pair.connect("gw");
    let a = pair.a.established();
    let b = pair.b.established();
    let a_info = pair.a.endpoint.ike_sa(a).unwrap();
    let b_info = pair.b.endpoint.ike_sa(b).unwrap();
    assert_eq!(a_info.spis, b_info.spis);
    assert!(a_info.initiator && !b_info.initiator);
    assert_eq!(a_info.children.len(), 1);
    assert_eq!(b_info.children.len(), 1);
    assert_eq!(a_info.children[0].spi_in, b_info.children[0].spi_out);
    assert_eq!(a_info.children[0].spi_out, b_info.children[0].spi_in);
    assert_eq!(a_info.next_request, 2);
    assert_eq!(b_info.next_expected, 2);
    assert!(a_info.rfc6311.message_id_sync && a_info.rfc6311.replay_counter_sync);
    assert_children_match(&pair);
    assert_eq!(pair.a.backend.routes.len(), 1);
    assert_eq!(pair.b.backend.routes.len(), 1);
    assert!(pair.a.saw(|e| matches!(e, Event::IkeSaEstablished { .. })));
    assert!(
        pair.b
            .saw(|e| matches!(e, Event::ChildSaInstalled { name, .. } if name == "net"))
    );
}

#[test]
fn responder_installs_inbound_sa_before_sending_the_response() {
    let mut pair = pair();
    pair.connect("gw");
    let log = &pair.b.log;
    let add_inbound = log
        .iter()
        .position(|(_, o)| {
            matches!(o, Output::Sa(SaCommand::AddSa(spec)) if spec.direction == Direction::Inbound)
        })
        .expect("inbound SA installed");
    let route = log
        .iter()
        .position(|(_, o)| matches!(o, Output::Sa(SaCommand::RouteOutbound { .. })))
        .unwrap();
    let auth_response = log
        .iter()
        .enumerate()
        .filter(|(_, (_, o))| matches!(o, Output::Transmit(_)))
        .map(|(i, _)| i)
        .nth(1)
        .expect("IKE_AUTH response");
    assert!(add_inbound < route && route < auth_response, "{log:#?}");
    // The initiator installs inbound before outbound, and the policy before routing.
    let a_commands = pair.a.commands();
    assert!(matches!(&a_commands[0], SaCommand::AddSa(s) if s.direction == Direction::Inbound));
    assert!(matches!(&a_commands[1], SaCommand::AddSa(s) if s.direction == Direction::Outbound));
    assert!(matches!(&a_commands[2], SaCommand::AddPolicy(_)));
    assert!(matches!(&a_commands[3], SaCommand::RouteOutbound { .. }));
}

#[test]
fn same_seed_same_transcript() {
    let run = || {
        let mut pair = pair();
        pair.connect("gw");
        pair.a
            .transmits()
            .into_iter()
            .chain(pair.b.transmits())
            .map(|t| t.payload)
            .collect::<Vec<_>>()
    };
    assert_eq!(run(), run());
}

#[test]
fn ike_sa_state_is_connecting_until_auth_completes() {
    let mut pair = pair();
    let id = pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    assert_eq!(
        pair.a.endpoint.ike_sa(id).unwrap().state,
        IkeSaState::Connecting
    );
    assert!(pair.deliver_to_b());
    assert!(pair.deliver_to_a());
    assert_eq!(
        pair.a.endpoint.ike_sa(id).unwrap().state,
        IkeSaState::Connecting
    );
    assert!(pair.a.backend.sas.is_empty());
    pair.drive();
    pair.a.established();
}
