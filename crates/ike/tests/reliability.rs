//! Message IDs, retransmission and the response cache (RFC 7296 §2.1–§2.3), liveness checks
//! (§2.4), bad input (§2.21), NAT traversal (§2.23, RFC 3948) and simultaneous initiation.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::time::Duration;

use hitless_ike::DeleteReason;
use hitless_ike::ErrorCounter;
use hitless_ike::Event;
use hitless_ike::FailureReason;
use hitless_wire::ike::Flags;
use hitless_wire::ike::Header;
use hitless_wire::registry::ExchangeType;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::PayloadType;
use support::*;

fn exchange_of(wire: &Wire) -> (ExchangeType, u32, bool) {
    let header = hitless_wire::ike::parse_header(&wire.payload).unwrap();
    (header.exchange, header.message_id, header.flags.response)
}

#[test]
fn lost_request_is_retransmitted_with_backoff() {
    let mut pair = pair();
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    pair.deliver_to_b();
    pair.deliver_to_a();
    // The IKE_AUTH request is lost.
    let lost = pair.to_b.pop_front().unwrap();
    assert_eq!(exchange_of(&lost), (ExchangeType::IKE_AUTH, 1, false));
    let deadline = pair.a.endpoint.poll_timeout().unwrap();
    let wait = deadline - pair.now;
    assert!(
        wait <= Duration::from_secs(4) && wait >= Duration::from_millis(3600),
        "{wait:?}"
    );
    pair.advance(wait);
    pair.a.established();
    pair.b.established();
    let ike = pair.a.established();
    assert_eq!(pair.a.endpoint.ike_sa(ike).unwrap().counters.retransmits, 1);
    // The retransmission is the same message, byte for byte.
    let auth_sends: Vec<_> = pair
        .a
        .transmits()
        .into_iter()
        .filter(|t| {
            hitless_wire::ike::parse_header(&t.payload)
                .unwrap()
                .exchange
                == ExchangeType::IKE_AUTH
        })
        .collect();
    assert_eq!(auth_sends.len(), 2);
    assert_eq!(auth_sends[0].payload, lost.payload);
    assert_eq!(auth_sends[1].payload, lost.payload);
    assert_children_match(&pair);
}

#[test]
fn duplicate_request_is_answered_from_the_cache() {
    let mut pair = pair();
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    pair.deliver_to_b();
    pair.deliver_to_a();
    let auth = pair.to_b.front().unwrap().clone();
    pair.deliver_to_b();
    let commands_before = pair.b.commands().len();
    let response = pair.to_a.front().unwrap().payload.clone();
    // A duplicate of IKE_AUTH: same response, no second Child SA.
    pair.inject_b(&auth);
    assert_eq!(pair.b.commands().len(), commands_before);
    assert_eq!(pair.to_a.len(), 2);
    assert_eq!(pair.to_a[1].payload, response);
    assert_eq!(
        pair.b
            .endpoint
            .counters()
            .get(ErrorCounter::RetransmittedRequest),
        1
    );
    pair.drive();
    // The duplicate response is dropped by a.
    assert_eq!(
        pair.a
            .endpoint
            .counters()
            .get(ErrorCounter::UnmatchedResponse),
        1
    );
    pair.a.established();
    assert_eq!(pair.a.backend.sas.len(), 2);
    assert_children_match(&pair);
}

#[test]
fn duplicate_ike_sa_init_is_answered_from_the_cache() {
    let mut pair = pair();
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    let init = pair.to_b.front().unwrap().clone();
    pair.deliver_to_b();
    pair.inject_b(&init);
    assert_eq!(pair.b.endpoint.ike_sas().count(), 1);
    assert_eq!(pair.to_a.len(), 2);
    assert_eq!(pair.to_a[0].payload, pair.to_a[1].payload);
    pair.drive();
    pair.a.established();
    pair.b.established();
}

#[test]
fn delayed_and_reordered_messages_change_nothing() {
    let mut pair = pair();
    pair.connect("gw");
    let ike = pair.a.established();
    // A liveness check whose response is delayed past a retransmission.
    pair.advance(Duration::from_secs(30));
    assert_eq!(pair.a.endpoint.ike_sa(ike).unwrap().next_request, 3);
    // Hold the next DPD's response, let a retransmit, deliver both responses out of order.
    pair.advance(Duration::from_secs(29));
    pair.a
        .endpoint
        .handle_timeout(pair.now + Duration::from_secs(1));
    pair.now += Duration::from_secs(1);
    pair.drain();
    let request = pair.to_b.pop_front().expect("DPD request");
    pair.inject_b(&request);
    let response = pair.to_a.pop_front().unwrap();
    let retransmit_at = pair.a.endpoint.poll_timeout().unwrap();
    pair.now = retransmit_at;
    pair.a.endpoint.handle_timeout(pair.now);
    pair.drain();
    let retransmission = pair.to_b.pop_front().unwrap();
    assert_eq!(retransmission.payload, request.payload);
    pair.inject_b(&retransmission);
    let second = pair.to_a.pop_front().unwrap();
    pair.inject_a(&second);
    let before = pair.a.endpoint.ike_sa(ike).unwrap().next_request;
    // The first response arrives late: ignored.
    pair.inject_a(&response);
    assert_eq!(pair.a.endpoint.ike_sa(ike).unwrap().next_request, before);
    assert_eq!(
        pair.a
            .endpoint
            .counters()
            .get(ErrorCounter::UnmatchedResponse),
        1
    );
    pair.a.established();
}

#[test]
fn out_of_window_request_is_dropped() {
    let mut pair = pair();
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    pair.deliver_to_b();
    pair.deliver_to_a();
    let auth = pair.to_b.front().unwrap().clone();
    pair.drive();
    // Another exchange moves b's window past IKE_AUTH's cached response.
    pair.advance(Duration::from_secs(31));
    let b = pair.b.established();
    let expected = pair.b.endpoint.ike_sa(b).unwrap().next_expected;
    assert_eq!(expected, 3);
    let sent = pair.b.transmits().len();
    pair.inject_b(&auth);
    assert_eq!(pair.b.transmits().len(), sent, "no answer");
    assert_eq!(pair.b.endpoint.counters().get(ErrorCounter::OutOfWindow), 1);
    assert_eq!(pair.b.endpoint.ike_sa(b).unwrap().next_expected, expected);
}

#[test]
fn unauthenticated_and_malformed_messages_change_nothing() {
    let mut pair = pair();
    pair.connect("gw");
    let ike = pair.b.established();
    let ike_a = pair.a.established();
    pair.a.endpoint.terminate_ike(pair.now, ike_a).unwrap();
    pair.drain();
    let genuine = pair.to_b.pop_front().unwrap();
    // Tampered: one bit of the ciphertext flipped.
    let mut tampered = genuine.clone();
    let last = tampered.payload.len() - 20;
    tampered.payload[last] ^= 1;
    pair.inject_b(&tampered);
    // Truncated and garbage.
    let mut truncated = genuine.clone();
    truncated.payload.truncate(40);
    pair.inject_b(&truncated);
    let mut garbage = genuine.clone();
    garbage.payload = vec![0x55; 60];
    pair.inject_b(&garbage);
    assert_eq!(
        pair.b
            .endpoint
            .counters()
            .get(ErrorCounter::IntegrityCheckFailed),
        1
    );
    assert_eq!(pair.b.endpoint.counters().get(ErrorCounter::Malformed), 2);
    assert!(pair.to_a.is_empty(), "nothing answered");
    let info = pair.b.endpoint.ike_sa(ike).unwrap();
    assert_eq!(info.next_expected, 2);
    assert_eq!(info.children.len(), 1);
    // The genuine request still works.
    pair.inject_b(&genuine);
    pair.drive();
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);
}

#[test]
fn unknown_spi_gets_a_rate_limited_invalid_ike_spi() {
    let mut pair = pair();
    let header = Header {
        spi_i: 0x1111,
        spi_r: 0x2222,
        next_payload: PayloadType::NONE,
        major_version: 2,
        minor_version: 0,
        exchange: ExchangeType::INFORMATIONAL,
        flags: Flags {
            initiator: true,
            version: false,
            response: false,
        },
        message_id: 7,
        length: 0,
    };
    let request = hitless_wire::ike::emit_message(&header, &[]);
    let response = hitless_wire::ike::emit_message(
        &Header {
            flags: Flags {
                initiator: true,
                version: false,
                response: true,
            },
            ..header
        },
        &[],
    );
    let wire = |payload: Vec<u8>| Wire {
        from: "192.0.2.1:500".parse().unwrap(),
        to: "198.51.100.2:500".parse().unwrap(),
        payload,
        transmit: hitless_ike::Transmit {
            local: None,
            remote: "198.51.100.2:500".parse().unwrap(),
            non_esp_marker: false,
            keepalive: false,
            payload: Vec::new(),
        },
    };
    // Never answer a response.
    pair.inject_b(&wire(response));
    assert!(pair.to_a.is_empty());
    for _ in 0..20 {
        pair.inject_b(&wire(request.clone()));
    }
    assert_eq!(pair.to_a.len(), 10);
    let answer = hitless_wire::ike::parse_message(&pair.to_a[0].payload).unwrap();
    assert!(answer.header.flags.response && !answer.header.flags.initiator);
    assert_eq!(
        (
            answer.header.spi_i,
            answer.header.spi_r,
            answer.header.message_id
        ),
        (0x1111, 0x2222, 7)
    );
    assert!(
        matches!(&answer.payloads[..], [hitless_wire::ike::Payload::Notify(n)] if n.notify_type == NotifyType::INVALID_IKE_SPI)
    );
    assert_eq!(pair.b.endpoint.counters().get(ErrorCounter::UnknownSpi), 21);
    assert_eq!(
        pair.b
            .endpoint
            .counters()
            .get(ErrorCounter::InvalidSpiRateLimited),
        10
    );
    pair.now += Duration::from_secs(1);
    pair.inject_b(&wire(request));
    assert_eq!(pair.to_a.len(), 11);
}

#[test]
fn liveness_check_keeps_a_live_peer() {
    let mut pair = pair();
    pair.connect("gw");
    pair.advance(Duration::from_secs(600));
    let ike = pair.a.established();
    pair.b.established();
    let info = pair.a.endpoint.ike_sa(ike).unwrap();
    // One DPD every 30 s of silence, from both sides (each sees the other's as traffic).
    assert!(info.next_request > 10, "{}", info.next_request);
    assert_eq!(info.counters.retransmits, 0);
}

#[test]
fn dead_peer_is_detected_and_cleaned_up() {
    let mut pair = pair();
    pair.connect("gw");
    pair.b_silent = true;
    pair.advance(Duration::from_secs(30 + 170));
    assert_eq!(pair.a.endpoint.ike_sas().count(), 0);
    assert!(pair.a.saw(|e| matches!(
        e,
        Event::IkeSaDeleted {
            reason: DeleteReason::PeerDead,
            ..
        }
    )));
    assert!(pair.a.saw(|e| matches!(
        e,
        Event::ChildSaDeleted {
            reason: DeleteReason::IkeSaGone,
            ..
        }
    )));
    assert!(pair.a.backend.sas.is_empty() && pair.a.backend.policies.is_empty());
    assert!(pair.a.backend.routes.is_empty());
    assert!(pair.a.endpoint.poll_timeout().is_none());
    assert_eq!(
        pair.a
            .endpoint
            .counters()
            .get(ErrorCounter::RetransmitLimit),
        1
    );
    // 1 DPD request + 5 retransmissions.
    let informational = pair
        .a
        .transmits()
        .iter()
        .filter(|t| {
            hitless_wire::ike::parse_header(&t.payload)
                .unwrap()
                .exchange
                == ExchangeType::INFORMATIONAL
        })
        .count();
    assert_eq!(informational, 6);
}

#[test]
fn unreachable_responder_fails_the_ike_sa() {
    let mut pair = pair();
    pair.a_silent = true;
    pair.connect("gw");
    pair.advance(Duration::from_secs(200));
    assert!(pair.a.saw(|e| matches!(
        e,
        Event::IkeSaFailed {
            reason: FailureReason::PeerUnreachable,
            ..
        }
    )));
    assert_eq!(pair.a.endpoint.ike_sas().count(), 0);
    assert!(pair.a.endpoint.poll_timeout().is_none());
}

#[test]
fn half_open_responder_sa_times_out() {
    let mut pair = pair();
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drain();
    pair.deliver_to_b();
    pair.to_a.clear();
    pair.a_silent = true;
    pair.advance(Duration::from_secs(31));
    assert_eq!(pair.b.endpoint.ike_sas().count(), 0);
    assert!(pair.b.saw(|e| matches!(
        e,
        Event::IkeSaFailed {
            reason: FailureReason::HalfOpenTimeout,
            ..
        }
    )));
}

#[test]
fn nat_is_detected_and_ports_float_to_4500() {
    // b accepts its peer from any address: behind the NAT, a's address is the NAT's.
    let mut b = config_b();
    b.connections[0].remote_addrs.clear();
    let mut pair = Pair::new(config_a(), b, 1).with_nat();
    pair.connect("gw");
    let a = pair.a.established();
    let b = pair.b.established();
    let a_info = pair.a.endpoint.ike_sa(a).unwrap();
    let b_info = pair.b.endpoint.ike_sa(b).unwrap();
    assert!(a_info.nat.local_behind_nat && !a_info.nat.remote_behind_nat);
    assert!(b_info.nat.remote_behind_nat && !b_info.nat.local_behind_nat);
    assert_eq!(a_info.local.port(), 4500);
    assert_eq!(a_info.remote.port(), 4500);
    assert_eq!(b_info.local.port(), 4500);
    assert_eq!(b_info.remote.ip(), std::net::IpAddr::from(NAT_IP));
    // IKE_AUTH and later go over 4500 with the non-ESP marker; IKE_SA_INIT did not.
    let sent = pair.a.transmits();
    assert!(!sent[0].non_esp_marker && sent[0].remote.port() == 500);
    assert!(sent[1].non_esp_marker && sent[1].remote.port() == 4500);
    assert_eq!(sent[1].local.unwrap().port(), 4500);
    // ESP is UDP-encapsulated between the floated addresses.
    for spec in pair.b.backend.sas.values() {
        assert!(spec.udp_encap);
        assert_eq!(spec.remote, b_info.remote);
    }
    assert!(
        pair.a
            .backend
            .sas
            .values()
            .all(|s| s.udp_encap && s.remote.port() == 4500)
    );
    assert_children_match(&pair);
    // The side behind the NAT sends keepalives every 20 s without other traffic.
    let mut dpd = config_a();
    dpd.connections[0].dpd_delay = None;
    let mut pair = Pair::new(
        dpd,
        {
            let mut b = config_b();
            b.connections[0].dpd_delay = None;
            b.connections[0].remote_addrs.clear();
            b
        },
        1,
    )
    .with_nat();
    pair.connect("gw");
    pair.advance(Duration::from_secs(65));
    let keepalives: Vec<_> = pair
        .a
        .transmits()
        .into_iter()
        .filter(|t| t.keepalive)
        .collect();
    assert_eq!(keepalives.len(), 3);
    assert!(
        keepalives
            .iter()
            .all(|k| k.payload == [0xff] && !k.non_esp_marker && k.remote.port() == 4500)
    );
    assert!(pair.b.transmits().iter().all(|t| !t.keepalive));
}

#[test]
fn forced_udp_encapsulation_without_nat() {
    let mut a = config_a();
    a.connections[0].udp_encap = hitless_ike::config::UdpEncap::Force;
    let mut pair = Pair::new(a, config_b(), 30);
    pair.connect("gw");
    assert!(pair.a.backend.sas.values().all(|s| s.udp_encap));
    assert!(pair.b.backend.sas.values().all(|s| s.udp_encap));
    assert_children_match(&pair);
}

#[test]
fn initiator_without_local_address_agrees_on_udp_encapsulation() {
    // a leaves its source address to the driver: its NAT detection hash is over 0.0.0.0, so b
    // sees a NAT in front of a; both must then use UDP encapsulation.
    let mut a = config_a();
    a.connections[0].local_addrs.clear();
    let mut pair = Pair::new(a, config_b(), 31);
    pair.connect("gw");
    let a_info = pair.a.endpoint.ike_sa(pair.a.established()).unwrap();
    let b_info = pair.b.endpoint.ike_sa(pair.b.established()).unwrap();
    assert!(a_info.nat.local_behind_nat, "{:?}", a_info.nat);
    assert!(b_info.nat.remote_behind_nat, "{:?}", b_info.nat);
    assert_eq!(a_info.remote.port(), 4500);
    assert!(pair.a.backend.sas.values().all(|s| s.udp_encap));
    assert!(pair.b.backend.sas.values().all(|s| s.udp_encap));
    assert_children_match(&pair);
}

#[test]
fn both_sides_initiate_at_once() {
    let mut pair = pair();
    pair.a.endpoint.initiate(pair.now, "gw").unwrap();
    pair.b.endpoint.initiate(pair.now, "gw").unwrap();
    pair.drive();
    for node in [&pair.a, &pair.b] {
        let sas: Vec<_> = node.endpoint.ike_sas().collect();
        assert_eq!(sas.len(), 2, "{}", node.name);
        assert!(
            sas.iter()
                .all(|s| s.state == hitless_ike::IkeSaState::Established)
        );
        assert_eq!(sas.iter().map(|s| s.children.len()).sum::<usize>(), 2);
    }
    assert_children_match(&pair);
}

#[test]
fn initial_contact_removes_the_peers_old_ike_sas() {
    let mut pair = pair();
    pair.connect("gw");
    let old = pair.b.established();
    // a restarts: a new endpoint with the same config connects again.
    pair.a = Node::with_crypto(
        "a",
        config_a(),
        std::sync::Arc::new(hitless_crypto_insecure::provider(77)),
        A_IP,
    );
    pair.connect("gw");
    let new = pair.b.established();
    assert_ne!(old, new);
    assert!(pair.b.saw(|e| matches!(e, Event::IkeSaDeleted { ike, reason: DeleteReason::InitialContact, .. } if *ike == old)));
    assert_children_match(&pair);
}
