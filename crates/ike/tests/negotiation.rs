//! Proposal, key exchange, cookie, authentication and traffic selector negotiation
//! (RFC 7296 §1.2, §2.6, §2.7, §2.9, §2.15, §3.3).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::sync::Arc;

use hitless_crypto::SecretBytes;
use hitless_ike::Error;
use hitless_ike::ErrorCounter;
use hitless_ike::Event;
use hitless_ike::FailureReason;
use hitless_ike::config::Encryption;
use hitless_ike::config::Esn;
use hitless_ike::config::EspProposal;
use hitless_ike::config::IkeProposal;
use hitless_ike::config::LocalAuth;
use hitless_ike::config::RemoteAuth;
use hitless_sadb::Mode;
use hitless_wire::ike::Flags;
use hitless_wire::ike::Header;
use hitless_wire::ike::NotifyPayload;
use hitless_wire::ike::Payload;
use hitless_wire::registry::IntegId;
use hitless_wire::registry::KeMethod;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use hitless_wire::registry::PrfId;
use hitless_wire::registry::ProtocolId;
use support::*;

fn ike_proposal(ke: Vec<KeMethod>) -> IkeProposal {
    IkeProposal {
        encryption: vec![Encryption::aes_gcm16(256)],
        integrity: Vec::new(),
        prf: vec![PrfId::HMAC_SHA2_256],
        key_exchange: ke,
    }
}

fn failed_with(node: &Node, notify: NotifyType) -> bool {
    node.saw(|e| {
        matches!(e, Event::IkeSaFailed { reason: FailureReason::Protocol(Error::PeerError(n)), .. } if *n == notify)
    })
}

#[test]
fn invalid_ke_payload_retry_with_the_requested_group() {
    let mut a = config_a();
    a.connections[0].ike_proposals =
        vec![ike_proposal(vec![KeMethod::ECP_256, KeMethod::CURVE25519])];
    let mut b = config_b();
    b.connections[0].ike_proposals = vec![ike_proposal(vec![KeMethod::CURVE25519])];
    let mut pair = Pair::new(a, b, 3);
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    assert!(pair.deliver_to_b());
    // b answered statelessly with INVALID_KE_PAYLOAD(X25519) and kept nothing.
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);
    let answer = hitless_wire::ike::parse_message(&pair.to_a[0].payload).unwrap();
    assert_eq!(answer.header.spi_r, 0);
    assert!(matches!(&answer.payloads[..], [Payload::Notify(n)]
        if n.notify_type == NotifyType::INVALID_KE_PAYLOAD && n.data == 31u16.to_be_bytes()));
    pair.drive();
    let a_id = pair.a.established();
    let info = pair.a.endpoint.ike_sa(a_id).unwrap();
    assert_eq!(info.algorithms.unwrap().key_exchange, KeMethod::CURVE25519);
    assert_eq!(
        pair.b
            .endpoint
            .counters()
            .get(ErrorCounter::InvalidKePayload),
        1
    );
    assert_children_match(&pair);
}

#[test]
fn initiator_answers_a_cookie_demand() {
    let mut pair = pair();
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    let first = pair.to_b.pop_front().unwrap();
    let request = hitless_wire::ike::parse_message(&first.payload).unwrap();
    // A scripted responder demands a cookie (RFC 7296 §2.6).
    let cookie = vec![0xc0, 0x0c, 0x1e, 0x5e, 1, 2, 3, 4];
    let header = Header {
        spi_r: 0,
        next_payload: PayloadType::NONE,
        flags: Flags {
            initiator: false,
            version: false,
            response: true,
        },
        length: 0,
        ..request.header
    };
    let demand = hitless_wire::ike::emit_message(
        &header,
        &[Payload::Notify(NotifyPayload {
            protocol: ProtocolId::NONE,
            spi: Vec::new(),
            notify_type: NotifyType::COOKIE,
            data: cookie.clone(),
        })],
    );
    let wire = Wire {
        from: first.to,
        to: first.from,
        payload: demand,
        transmit: first.transmit.clone(),
    };
    pair.inject_a(&wire);
    let retry = pair.to_b.front().expect("a retried");
    let retried = hitless_wire::ike::parse_message(&retry.payload).unwrap();
    assert_eq!(retried.header.spi_i, request.header.spi_i);
    assert_eq!(retried.header.message_id, 0);
    match &retried.payloads[0] {
        Payload::Notify(n) => {
            assert_eq!(n.notify_type, NotifyType::COOKIE);
            assert_eq!(n.data, cookie);
        }
        other => panic!("cookie is not first: {other:?}"),
    }
    // Everything after the cookie is unchanged.
    assert_eq!(&retried.payloads[1..], &request.payloads[..]);
    // The real responder ignores the unknown cookie and answers; establishment completes.
    pair.drive();
    pair.a.established();
    assert_children_match(&pair);
}

#[test]
fn wrong_psk_fails_with_authentication_failed_and_installs_nothing() {
    let mut b = config_b();
    b.connections[0].remote_auth = RemoteAuth::Psk(SecretBytes::from_slice(b"another secret"));
    let mut pair = Pair::new(config_a(), b, 4);
    pair.connect("gw");
    assert!(failed_with(&pair.a, NotifyType::AUTHENTICATION_FAILED));
    assert!(pair.b.saw(|e| matches!(e, Event::IkeSaFailed { .. })));
    assert!(pair.a.commands().is_empty() && pair.b.commands().is_empty());
    assert_eq!(pair.a.endpoint.ike_sas().count(), 0);
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);
    assert_eq!(
        pair.b
            .endpoint
            .counters()
            .get(ErrorCounter::AuthenticationFailed),
        1
    );
}

#[test]
fn responder_with_a_bad_auth_is_never_established() {
    // b accepts a, but proves itself with a key a does not accept.
    let mut b = config_b();
    b.connections[0].local_auth = LocalAuth::Psk(SecretBytes::from_slice(b"impostor"));
    let mut pair = Pair::new(config_a(), b, 5);
    pair.connect("gw");
    assert!(pair.a.saw(|e| matches!(
        e,
        Event::IkeSaFailed {
            reason: FailureReason::Protocol(Error::AuthenticationFailed(_)),
            ..
        }
    )));
    assert!(!pair.a.saw(|e| matches!(e, Event::IkeSaEstablished { .. })));
    assert!(pair.a.commands().is_empty(), "a installed nothing");
    assert_eq!(pair.a.endpoint.ike_sas().count(), 0);
}

#[test]
fn no_proposal_chosen_for_the_ike_sa() {
    let mut b = config_b();
    b.connections[0].ike_proposals = vec![IkeProposal {
        encryption: vec![Encryption::aes_cbc(128)],
        integrity: vec![IntegId::HMAC_SHA2_256_128],
        prf: vec![PrfId::HMAC_SHA2_256],
        key_exchange: vec![KeMethod::MODP_2048],
    }];
    let mut a = config_a();
    a.connections[0].ike_proposals = vec![ike_proposal(vec![KeMethod::CURVE25519])];
    let mut pair = Pair::new(a, b, 6);
    pair.connect("gw");
    assert!(failed_with(&pair.a, NotifyType::NO_PROPOSAL_CHOSEN));
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);
    assert_eq!(
        pair.b
            .endpoint
            .counters()
            .get(ErrorCounter::NoProposalChosen),
        1
    );
}

#[test]
fn no_proposal_chosen_for_the_child_keeps_the_ike_sa() {
    let mut b = config_b();
    b.connections[0].children[0].esp_proposals = vec![EspProposal {
        encryption: vec![Encryption::aes_cbc(256)],
        integrity: vec![IntegId::HMAC_SHA2_512_256],
        key_exchange: Vec::new(),
        esn: Esn::No,
    }];
    let mut a = config_a();
    a.connections[0].children[0].esp_proposals = vec![EspProposal {
        encryption: vec![Encryption::aes_gcm16(128)],
        integrity: Vec::new(),
        key_exchange: Vec::new(),
        esn: Esn::No,
    }];
    let mut pair = Pair::new(a, b, 7);
    pair.connect("gw");
    pair.a.established();
    pair.b.established();
    assert!(pair.a.saw(|e| matches!(
        e,
        Event::ChildSaFailed {
            reason: FailureReason::Protocol(Error::PeerError(NotifyType::NO_PROPOSAL_CHOSEN)),
            ..
        }
    )));
    assert!(pair.a.backend.sas.is_empty() && pair.b.backend.sas.is_empty());
}

#[test]
fn ts_unacceptable_keeps_the_ike_sa() {
    let mut b = config_b();
    b.connections[0].children[0].remote_ts = vec![net(172, 16, 0)];
    let mut pair = Pair::new(config_a(), b, 8);
    pair.connect("gw");
    pair.a.established();
    assert!(pair.a.saw(|e| matches!(
        e,
        Event::ChildSaFailed {
            reason: FailureReason::Protocol(Error::PeerError(NotifyType::TS_UNACCEPTABLE)),
            ..
        }
    )));
    assert!(pair.a.backend.sas.is_empty() && pair.b.backend.sas.is_empty());
    assert_eq!(
        pair.b.endpoint.counters().get(ErrorCounter::TsUnacceptable),
        1
    );
}

#[test]
fn responder_narrows_traffic_selectors() {
    let mut a = config_a();
    a.connections[0].children[0].local_ts = vec![range([10, 1, 0, 0], [10, 1, 255, 255])];
    a.connections[0].children[0].remote_ts = vec![range([10, 2, 0, 0], [10, 2, 255, 255])];
    let mut b = config_b();
    b.connections[0].children[0].local_ts = vec![net(10, 2, 7)];
    b.connections[0].children[0].remote_ts = vec![net(10, 1, 3)];
    let mut pair = Pair::new(a, b, 9);
    pair.connect("gw");
    let ike = pair.a.established();
    let info = pair.a.endpoint.ike_sa(ike).unwrap();
    assert_eq!(info.children[0].local_ts, &[net(10, 1, 3)]);
    assert_eq!(info.children[0].remote_ts, &[net(10, 2, 7)]);
    assert_children_match(&pair);
}

#[test]
fn transport_mode() {
    let mut a = config_a();
    let mut b = config_b();
    for c in [&mut a, &mut b] {
        let child = &mut c.connections[0].children[0];
        child.mode = Mode::Transport;
        child.local_ts = Vec::new();
        child.remote_ts = Vec::new();
    }
    let mut pair = Pair::new(a, b, 10);
    pair.connect("gw");
    let ike = pair.a.established();
    let info = pair.a.endpoint.ike_sa(ike).unwrap();
    assert_eq!(info.children[0].mode, Mode::Transport);
    // Empty selectors mean the hosts themselves.
    assert_eq!(info.children[0].local_ts, &[range(A_IP, A_IP)]);
    assert_eq!(info.children[0].remote_ts, &[range(B_IP, B_IP)]);
    assert!(
        pair.b
            .backend
            .sas
            .values()
            .all(|s| s.mode == Mode::Transport)
    );
    assert_children_match(&pair);
}

#[test]
fn transport_request_to_a_tunnel_responder_is_declined() {
    let mut a = config_a();
    a.connections[0].children[0].mode = Mode::Transport;
    let mut pair = Pair::new(a, config_b(), 11);
    pair.connect("gw");
    pair.a.established();
    // RFC 7296 §1.3.1: the responder answers tunnel; a requires transport and gives up.
    assert!(pair.a.saw(|e| matches!(e, Event::ChildSaFailed { .. })));
    assert!(pair.a.backend.sas.is_empty());
}

/// The interop proposals of issue 4 with the production provider, both sides.
#[test]
fn real_crypto_suites() {
    let suites = [
        (
            Encryption::aes_gcm16(128),
            IntegId::NONE,
            PrfId::HMAC_SHA2_256,
            KeMethod::CURVE25519,
        ),
        (
            Encryption::aes_gcm16(256),
            IntegId::NONE,
            PrfId::HMAC_SHA2_384,
            KeMethod::ECP_384,
        ),
        (
            Encryption::CHACHA20_POLY1305,
            IntegId::NONE,
            PrfId::HMAC_SHA2_256,
            KeMethod::CURVE25519,
        ),
        (
            Encryption::aes_cbc(256),
            IntegId::HMAC_SHA2_256_128,
            PrfId::HMAC_SHA2_256,
            KeMethod::MODP_2048,
        ),
    ];
    for (encryption, integrity, prf, ke) in suites {
        let proposal = IkeProposal {
            encryption: vec![encryption],
            integrity: if integrity == IntegId::NONE {
                Vec::new()
            } else {
                vec![integrity]
            },
            prf: vec![prf],
            key_exchange: vec![ke],
        };
        let esp = EspProposal {
            encryption: vec![encryption],
            integrity: if integrity == IntegId::NONE {
                Vec::new()
            } else {
                vec![integrity]
            },
            key_exchange: Vec::new(),
            esn: Esn::No,
        };
        let mut a = config_a();
        let mut b = config_b();
        for c in [&mut a, &mut b] {
            c.connections[0].ike_proposals = vec![proposal.clone()];
            c.connections[0].children[0].esp_proposals = vec![esp.clone()];
        }
        let crypto = Arc::new(hitless_crypto_awslc::provider());
        let mut pair = Pair::from_nodes(
            Node::with_crypto("a", a, crypto.clone(), A_IP),
            Node::with_crypto("b", b, crypto, B_IP),
        );
        pair.connect("gw");
        let ike = pair.a.established();
        let algorithms = pair.a.endpoint.ike_sa(ike).unwrap().algorithms.unwrap();
        assert_eq!(algorithms.encryption, encryption);
        assert_eq!(algorithms.key_exchange, ke);
        assert_children_match(&pair);
    }
}
