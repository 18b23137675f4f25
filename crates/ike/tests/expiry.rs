//! Child SA lifetimes (RFC 7296 §2.8, RFC 4301 §4.4.2.1): the data plane's soft byte, packet
//! and sequence-number limits rekey the Child SA, its hard limits delete it, and a Child SA whose
//! hard lifetime passes without a rekey is deleted. The events come in through
//! `Endpoint::handle_backend_event`, as the daemon hands them over from the data plane.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::time::Duration;

use hitless_ike::DeleteReason;
use hitless_ike::Event;
use hitless_ike::IkeSaState;
use hitless_sadb::BackendEvent;
use hitless_sadb::Direction;
use hitless_sadb::ExpireReason;
use hitless_sadb::Spi;
use hitless_wire::registry::ExchangeType;
use support::*;

const REASONS: [ExpireReason; 3] = [
    ExpireReason::Bytes,
    ExpireReason::Packets,
    ExpireReason::SequenceNumbers,
];
const DIRECTIONS: [Direction; 2] = [Direction::Inbound, Direction::Outbound];

/// Hands `node` an expiry of its Child SA's SA in `direction`.
fn expire(pair: &mut Pair, on_a: bool, direction: Direction, hard: bool, reason: ExpireReason) {
    let node = if on_a { &mut pair.a } else { &mut pair.b };
    let ike = node.established();
    let (_, spi_in, spi_out) = node.children(ike)[0];
    let spi = match direction {
        Direction::Inbound => spi_in,
        Direction::Outbound => spi_out,
    };
    node.endpoint.handle_backend_event(
        pair.now,
        BackendEvent::Expire {
            spi,
            direction,
            hard,
            reason,
        },
    );
    pair.drain();
}

/// CREATE_CHILD_SA requests a node sent.
fn rekeys_sent(node: &Node) -> usize {
    node.transmits()
        .iter()
        .filter(|t| {
            hitless_wire::ike::parse_header(&t.payload)
                .is_ok_and(|h| h.exchange == ExchangeType::CREATE_CHILD_SA && !h.flags.response)
        })
        .count()
}

/// A soft limit of either SA, on either side, for every reason: that side rekeys the Child SA;
/// after the linger exactly the new Child SA is left on both sides, and nothing was deleted
/// but the replaced SA.
#[test]
fn soft_limits_rekey_the_child_sa() {
    for reason in REASONS {
        for direction in DIRECTIONS {
            for on_a in [true, false] {
                let case = format!(
                    "{reason:?} {direction:?} on {}",
                    if on_a { "a" } else { "b" }
                );
                let mut pair = pair();
                let ike = pair.connect("gw");
                let (old, old_in, _) = pair.a.children(ike)[0];
                let before = (rekeys_sent(&pair.a), rekeys_sent(&pair.b));
                expire(&mut pair, on_a, direction, false, reason);
                pair.drive();
                let (node, peer) = if on_a {
                    (&pair.a, &pair.b)
                } else {
                    (&pair.b, &pair.a)
                };
                let before = if on_a { before } else { (before.1, before.0) };
                assert_eq!(rekeys_sent(node), before.0 + 1, "{case}: no rekey");
                assert_eq!(rekeys_sent(peer), before.1, "{case}");
                pair.advance(Duration::from_secs(10));
                let children = pair.a.children(ike);
                assert_eq!(children.len(), 1, "{case}: {children:?}");
                assert_ne!(children[0].0, old, "{case}");
                assert_ne!(children[0].1, old_in, "{case}");
                let new = &pair.a.endpoint.ike_sa(ike).unwrap().children[0];
                // The side that saw the limit initiated the new Child SA.
                assert_eq!(new.initiator, on_a, "{case}");
                assert!(
                    pair.a
                        .saw(|e| matches!(e, Event::ChildSaRekeyed { old: o, .. } if *o == old))
                );
                for node in [&pair.a, &pair.b] {
                    assert_eq!(node.backend.sas.len(), 2, "{case}: {}", node.name);
                    assert_eq!(node.backend.routes.len(), 1, "{case}: {}", node.name);
                    assert!(
                        !node.saw(|e| matches!(
                            e,
                            Event::ChildSaDeleted { reason, .. } if *reason != DeleteReason::Rekeyed
                        )),
                        "{case}: {}",
                        node.name
                    );
                }
                assert_children_match(&pair);
            }
        }
    }
}

/// Several soft events for the same Child SA (bytes and packets, both directions) start one
/// rekey, not one each.
#[test]
fn repeated_soft_events_rekey_once() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let before = rekeys_sent(&pair.a);
    for direction in DIRECTIONS {
        for reason in REASONS {
            expire(&mut pair, true, direction, false, reason);
        }
    }
    pair.advance(Duration::from_secs(10));
    assert_eq!(rekeys_sent(&pair.a), before + 1);
    assert_eq!(pair.a.children(ike).len(), 1);
    assert_children_match(&pair);
}

/// Both data planes reach their soft limits at once: the crossing rekeys are a collision
/// (RFC 7296 §2.8.1) and end with one Child SA.
#[test]
fn soft_limits_on_both_sides_at_once_converge() {
    for reason in REASONS {
        let mut pair = pair();
        let ike = pair.connect("gw");
        expire(&mut pair, true, Direction::Outbound, false, reason);
        expire(&mut pair, false, Direction::Outbound, false, reason);
        pair.advance(Duration::from_secs(30));
        assert_eq!(pair.a.children(ike).len(), 1, "{reason:?}");
        assert_eq!(pair.b.children(pair.b.established()).len(), 1, "{reason:?}");
        for node in [&pair.a, &pair.b] {
            assert_eq!(node.backend.sas.len(), 2, "{reason:?}: {}", node.name);
            assert_eq!(node.backend.routes.len(), 1, "{reason:?}: {}", node.name);
        }
        assert_children_match(&pair);
    }
}

/// A hard limit of either SA, on either side, for every reason: the Child SA is deleted on
/// both sides (reported as expired where the limit was reached), the IKE SA stays.
#[test]
fn hard_limits_delete_the_child_sa() {
    for reason in REASONS {
        for direction in DIRECTIONS {
            for on_a in [true, false] {
                let case = format!(
                    "{reason:?} {direction:?} on {}",
                    if on_a { "a" } else { "b" }
                );
                let mut pair = pair();
                let ike = pair.connect("gw");
                expire(&mut pair, on_a, direction, true, reason);
                pair.advance(Duration::from_secs(10));
                let (node, peer) = if on_a {
                    (&pair.a, &pair.b)
                } else {
                    (&pair.b, &pair.a)
                };
                assert!(
                    node.saw(|e| matches!(
                        e,
                        Event::ChildSaDeleted {
                            reason: DeleteReason::Expired,
                            ..
                        }
                    )),
                    "{case}: {:?}",
                    node.events()
                );
                assert!(
                    peer.saw(|e| matches!(
                        e,
                        Event::ChildSaDeleted {
                            reason: DeleteReason::Peer,
                            ..
                        }
                    )),
                    "{case}"
                );
                assert_eq!(rekeys_sent(node), 0, "{case}: rekeyed instead");
                for node in [&pair.a, &pair.b] {
                    assert!(node.backend.sas.is_empty(), "{case}: {}", node.name);
                    assert!(node.backend.policies.is_empty(), "{case}: {}", node.name);
                    assert!(node.backend.routes.is_empty(), "{case}: {}", node.name);
                }
                assert!(pair.a.children(ike).is_empty(), "{case}");
                assert_eq!(
                    pair.a.endpoint.ike_sa(ike).unwrap().state,
                    IkeSaState::Established,
                    "{case}"
                );
                pair.b.established();
            }
        }
    }
}

/// A soft limit and then the hard one before the rekey finished (the peer does not answer
/// yet): the rekey completes and the replaced SA goes as rekeyed; the new Child SA stays.
#[test]
fn hard_limit_of_an_sa_being_rekeyed_leaves_the_new_one() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let (old, _, _) = pair.a.children(ike)[0];
    expire(
        &mut pair,
        true,
        Direction::Outbound,
        false,
        ExpireReason::Bytes,
    );
    expire(
        &mut pair,
        true,
        Direction::Outbound,
        true,
        ExpireReason::Bytes,
    );
    pair.advance(Duration::from_secs(10));
    let children = pair.a.children(ike);
    assert_eq!(children.len(), 1, "{children:?}");
    assert_ne!(children[0].0, old);
    assert_eq!(pair.a.backend.sas.len(), 2);
    assert_eq!(pair.a.backend.routes.len(), 1);
    assert_children_match(&pair);
}

/// Expiry events for SAs the engine does not know (gone already, or never ours) change
/// nothing and send nothing.
#[test]
fn expiry_of_an_unknown_sa_is_ignored() {
    let mut pair = pair();
    let ike = pair.connect("gw");
    let sent = pair.a.transmits().len();
    for hard in [false, true] {
        for direction in DIRECTIONS {
            pair.a.endpoint.handle_backend_event(
                pair.now,
                BackendEvent::Expire {
                    spi: Spi(0x1234_5678),
                    direction,
                    hard,
                    reason: ExpireReason::Bytes,
                },
            );
        }
    }
    pair.drain();
    assert_eq!(pair.a.transmits().len(), sent);
    assert_eq!(pair.a.children(ike).len(), 1);
}

/// A soft limit while the IKE SA is being rekeyed: the Child SA rekey it asks for is not lost
/// with the old IKE SA, it runs on the new one (RFC 7296 §2.18). On the side that rekeys the
/// IKE SA it waits for that rekey; on the other it starts at once, and the two requests cross:
/// each is refused with TEMPORARY_FAILURE (§2.25.2) and retried after a random delay.
#[test]
fn soft_limit_during_an_ike_sa_rekey_still_rekeys_the_child_sa() {
    for on_a in [true, false] {
        let mut pair = pair();
        let ike = pair.connect("gw");
        let (old, _, _) = pair.a.children(ike)[0];
        pair.a.endpoint.rekey_ike(pair.now, ike).unwrap();
        pair.drain();
        expire(
            &mut pair,
            on_a,
            Direction::Outbound,
            false,
            ExpireReason::Packets,
        );
        pair.advance(Duration::from_secs(60));
        let new_ike = pair.a.established();
        assert_ne!(new_ike, ike);
        let children = pair.a.children(new_ike);
        assert_eq!(children.len(), 1, "{children:?}");
        assert_ne!(children[0].0, old, "the Child SA was not rekeyed");
        assert_children_match(&pair);
    }
}

/// The clock: a Child SA with a hard lifetime and no rekey time is deleted when the lifetime
/// passes, on both sides, reported as expired; the IKE SA stays.
#[test]
fn hard_lifetime_without_a_rekey_deletes_the_child_sa() {
    let mut a = config_a();
    let lifetime = &mut a.connections[0].children[0].lifetime;
    lifetime.rekey_time = None;
    lifetime.life_time = Some(Duration::from_secs(120));
    let mut pair = Pair::new(a, config_b(), 70);
    let ike = pair.connect("gw");
    pair.advance(Duration::from_secs(119));
    assert_eq!(pair.a.children(ike).len(), 1);
    pair.advance(Duration::from_secs(2));
    assert!(pair.a.children(ike).is_empty());
    assert!(pair.b.children(pair.b.established()).is_empty());
    assert!(pair.a.saw(|e| matches!(
        e,
        Event::ChildSaDeleted {
            reason: DeleteReason::Expired,
            ..
        }
    )));
    assert!(!pair.a.saw(|e| matches!(e, Event::ChildSaRekeyed { .. })));
    for node in [&pair.a, &pair.b] {
        assert!(node.backend.sas.is_empty(), "{}", node.name);
        assert!(node.backend.routes.is_empty(), "{}", node.name);
    }
    assert_eq!(pair.a.established(), ike);
}
