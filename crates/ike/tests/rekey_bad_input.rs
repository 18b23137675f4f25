//! Bad input around Child SA rekeys (issue 8): a rekey request for an unknown or replaced
//! Child SA, a malformed REKEY_SA notification, and responses that do not match the request.
//! None of them may leave a side with two outbound SAs for the Child SA or none: the old SA
//! carries the traffic until a new one is fully installed on both sides (RFC 7296 §2.8,
//! §2.25). The messages are authentic: the test rewrites them with the IKE SA's keys.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::time::Duration;

use hitless_ike::Error;
use hitless_ike::Event;
use hitless_ike::FailureReason;
use hitless_ike::PeerMisbehaved;
use hitless_sadb::Direction;
use hitless_sadb::Spi;
use hitless_wire::ike::NoncePayload;
use hitless_wire::ike::NotifyPayload;
use hitless_wire::ike::Payload;
use hitless_wire::registry::EncrId;
use hitless_wire::registry::NotifyType;
use hitless_wire::registry::ProtocolId;
use hitless_wire::registry::TransformType;
use support::explore::Zero;
use support::tamper;
use support::*;

/// A connected pair with a's rekey request intercepted.
fn rekey_request() -> (Pair, Wire) {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let (child, _, _) = pair.a.children(ike)[0];
    pair.a.endpoint.rekey_child(pair.now, child).unwrap();
    pair.drain();
    let request = pair.to_b.pop_front().unwrap();
    (pair, request)
}

/// The notification of `kind` in a message `sender` sent.
fn notify_in(pair: &Pair, sender: &Node, wire: &Wire, kind: NotifyType) -> Option<NotifyPayload> {
    let snapshot = tamper::snapshot(pair, sender);
    let (_, payloads) = tamper::open(sender.endpoint.crypto(), &snapshot, &wire.payload);
    payloads.into_iter().find_map(|p| match p {
        Payload::Notify(n) if n.notify_type == kind => Some(n),
        _ => None,
    })
}

/// Replaces the REKEY_SA notification's protocol and SPI.
fn rename_rekey_sa(protocol: ProtocolId, spi: Vec<u8>) -> impl FnOnce(&mut Vec<Payload>) {
    move |payloads| {
        for p in payloads.iter_mut() {
            if let Payload::Notify(n) = p
                && n.notify_type == NotifyType::REKEY_SA
            {
                n.protocol = protocol;
                n.spi.clone_from(&spi);
            }
        }
    }
}

/// Each side has one Child SA, routed, with both SAs installed, and they match.
fn assert_one_child_each(pair: &Pair) {
    for node in [&pair.a, &pair.b] {
        let ike = node.established();
        let children = node.children(ike);
        assert_eq!(children.len(), 1, "{}: {children:?}", node.name);
        assert_eq!(node.backend.sas.len(), 2, "{}", node.name);
        assert_eq!(
            node.backend.routes.values().next(),
            Some(&children[0].2),
            "{}",
            node.name
        );
    }
    assert_children_match(pair);
}

/// b's state besides message counters: installed SAs and routes.
fn b_state(pair: &Pair) -> (Vec<(Spi, Direction)>, Vec<Spi>) {
    (
        pair.b.backend.sas.keys().copied().collect(),
        pair.b.backend.routes.values().copied().collect(),
    )
}

#[test]
fn rekey_request_for_an_unknown_child_sa_gets_child_sa_not_found() {
    let (mut pair, request) = rekey_request();
    let before = b_state(&pair);
    let forged = tamper::rewrite(
        &pair,
        &pair.a,
        &request,
        rename_rekey_sa(ProtocolId::ESP, vec![0xde, 0xad, 0xbe, 0xef]),
    );
    pair.inject_b(&forged);
    // RFC 7296 §2.25: CHILD_SA_NOT_FOUND, naming the SPI of the REKEY_SA notification.
    let answer = pair.to_a.front().unwrap().clone();
    let notify = notify_in(&pair, &pair.b, &answer, NotifyType::CHILD_SA_NOT_FOUND).unwrap();
    assert_eq!(notify.spi, vec![0xde, 0xad, 0xbe, 0xef]);
    assert_eq!(notify.protocol, ProtocolId::ESP);
    assert_eq!(b_state(&pair), before, "b installed nothing");
    // a, told its Child SA is unknown, removes it, tells the peer, and creates it afresh.
    let mut zero = Zero::default();
    zero.check(&pair, true, &[]);
    pair.drive();
    zero.check(&pair, true, &[]);
    zero.finish(&pair, &[]);
    pair.advance(Duration::from_secs(10));
    assert_one_child_each(&pair);
}

#[test]
fn malformed_rekey_sa_notification_changes_nothing() {
    for (protocol, spi) in [
        (ProtocolId::ESP, vec![1, 2, 3]),
        (ProtocolId::ESP, Vec::new()),
        (ProtocolId::IKE, vec![0; 8]),
    ] {
        let (mut pair, request) = rekey_request();
        let before = b_state(&pair);
        let forged = tamper::rewrite(&pair, &pair.a, &request, rename_rekey_sa(protocol, spi));
        pair.inject_b(&forged);
        let answer = pair.to_a.front().unwrap().clone();
        assert!(notify_in(&pair, &pair.b, &answer, NotifyType::INVALID_SYNTAX).is_some());
        assert_eq!(b_state(&pair), before, "b installed nothing");
        // a's rekey failed; the old SA keeps carrying traffic and the rekey is retried later.
        pair.drive();
        assert_one_child_each(&pair);
        assert!(pair.a.saw(|e| matches!(e, Event::ChildSaFailed { .. })));
        pair.advance(Duration::from_secs(30));
        assert_one_child_each(&pair);
        assert!(pair.a.saw(|e| matches!(e, Event::ChildSaRekeyed { .. })));
    }
}

#[test]
fn rekey_request_for_a_replaced_child_sa() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let (old, old_in, _) = pair.a.children(ike)[0];
    pair.a.endpoint.rekey_child(pair.now, old).unwrap();
    pair.drive();
    // The old SA lingers at b (replaced, being deleted): a rekey of it is refused with
    // TEMPORARY_FAILURE (RFC 7296 §2.25.1), after the linger with CHILD_SA_NOT_FOUND.
    for (wait, expected) in [
        (Duration::ZERO, NotifyType::TEMPORARY_FAILURE),
        (Duration::from_secs(6), NotifyType::CHILD_SA_NOT_FOUND),
    ] {
        pair.advance(wait);
        let (current, _, _) = *pair.a.children(ike).iter().max_by_key(|c| c.0).unwrap();
        pair.a.endpoint.rekey_child(pair.now, current).unwrap();
        pair.drain();
        let request = pair.to_b.pop_front().unwrap();
        let before = b_state(&pair);
        let forged = tamper::rewrite(
            &pair,
            &pair.a,
            &request,
            rename_rekey_sa(ProtocolId::ESP, old_in.0.to_be_bytes().to_vec()),
        );
        pair.inject_b(&forged);
        let answer = pair.to_a.front().unwrap().clone();
        assert!(
            notify_in(&pair, &pair.b, &answer, expected).is_some(),
            "{expected}"
        );
        assert_eq!(b_state(&pair), before, "b installed nothing");
        let mut zero = Zero::default();
        pair.drive();
        zero.check(&pair, true, &[]);
        pair.advance(Duration::from_secs(30));
        assert_one_child_each(&pair);
    }
}

/// What to change in a response, and the error a must see.
type BadResponse = (
    &'static str,
    Box<dyn Fn(&mut Vec<Payload>)>,
    fn(&Error) -> bool,
);

/// Ways a CREATE_CHILD_SA response can fail to match the rekey request, and what a makes of
/// each.
fn bad_responses() -> Vec<BadResponse> {
    vec![
        (
            "selectors wider than asked",
            Box::new(|payloads: &mut Vec<Payload>| {
                for p in payloads.iter_mut() {
                    if let Payload::TsI(ts) = p {
                        ts.selectors[0].start_address = "0.0.0.0".parse().unwrap();
                    }
                }
            }),
            |e| *e == PeerMisbehaved::TsNotSubset.into(),
        ),
        (
            "an SPI of the wrong size (malformed)",
            Box::new(|payloads: &mut Vec<Payload>| {
                for p in payloads.iter_mut() {
                    if let Payload::Sa(sa) = p {
                        sa.proposals[0].spi = vec![1, 2, 3];
                    }
                }
            }),
            |e| matches!(e, Error::Malformed(_)),
        ),
        (
            "a proposal for another protocol",
            Box::new(|payloads: &mut Vec<Payload>| {
                for p in payloads.iter_mut() {
                    if let Payload::Sa(sa) = p {
                        sa.proposals[0].protocol = ProtocolId::AH;
                    }
                }
            }),
            |e| *e == PeerMisbehaved::ProposalNotOffered.into(),
        ),
        (
            "no nonce",
            Box::new(|payloads: &mut Vec<Payload>| {
                payloads.retain(|p| !matches!(p, Payload::Nonce(_)));
            }),
            |e| {
                *e == PeerMisbehaved::MissingPayload(hitless_wire::registry::PayloadType::NONCE)
                    .into()
            },
        ),
        (
            "a short nonce (malformed: the exchange fails, not the IKE SA)",
            Box::new(|payloads: &mut Vec<Payload>| {
                for p in payloads.iter_mut() {
                    if let Payload::Nonce(n) = p {
                        *n = NoncePayload { data: vec![7; 4] };
                    }
                }
            }),
            |e| matches!(e, Error::Malformed(_)),
        ),
        (
            "an algorithm we did not offer",
            Box::new(|payloads: &mut Vec<Payload>| {
                for p in payloads.iter_mut() {
                    if let Payload::Sa(sa) = p {
                        for t in &mut sa.proposals[0].transforms {
                            if t.transform_type == TransformType::ENCR {
                                t.id = EncrId::DES.0;
                                t.attributes.clear();
                            }
                        }
                    }
                }
            }),
            |e| *e == PeerMisbehaved::ProposalNotOffered.into(),
        ),
    ]
}

#[test]
fn response_that_does_not_match_the_request_keeps_the_old_sa() {
    for (what, edit, expected) in bad_responses() {
        let (mut pair, request) = rekey_request();
        let a_ike = pair.a.established();
        let (_, old_in, old_out) = pair.a.children(a_ike)[0];
        pair.inject_b(&request);
        // b answered and installed the new SA, outbound waiting for a.
        let b_ike = pair.b.established();
        assert_eq!(pair.b.children(b_ike).len(), 2, "{what}");
        let response = pair.to_a.pop_front().unwrap();
        let forged = tamper::rewrite(&pair, &pair.b, &response, edit);
        pair.inject_a(&forged);
        assert!(
            pair.a.saw(|e| matches!(
                e,
                Event::ChildSaFailed { reason: FailureReason::Protocol(error), .. } if expected(error)
            )),
            "{what}: {:?}",
            pair.a.events()
        );
        // a never installed the new SA and still sends on the old one.
        assert_eq!(pair.a.backend.sas.len(), 2, "{what}");
        assert_eq!(
            pair.a.backend.routes.values().next(),
            Some(&old_out),
            "{what}"
        );
        assert_eq!(
            pair.b.backend.routes.values().next(),
            Some(&old_in),
            "{what}"
        );
        // a asks b to delete the SA b installed for it; b goes back to the old SA alone.
        let mut zero = Zero::default();
        zero.check(&pair, false, &[]);
        pair.deliver_to_b();
        zero.check(&pair, false, &[]);
        pair.drive();
        zero.check(&pair, false, &[]);
        assert_one_child_each(&pair);
        assert_eq!(pair.b.children(b_ike)[0].2, old_in, "{what}");
        // The rekey is retried later and succeeds.
        pair.advance(Duration::from_secs(30));
        assert_one_child_each(&pair);
        assert_ne!(
            pair.a.children(a_ike)[0].2,
            old_out,
            "{what}: rekeyed at last"
        );
    }
}
