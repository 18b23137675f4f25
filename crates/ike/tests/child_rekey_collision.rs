//! Simultaneous Child SA rekeys (RFC 7296 §2.8.1): tables over the four nonce orderings and
//! over every order in which the messages can be delivered, in strongSwan's `test_collision`
//! shape. Each run checks, after every message, that each side sends only on SAs the other can
//! receive on and never loses its route, and at the end that both sides hold exactly the same
//! single Child SA.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::sync::Arc;
use std::time::Duration;

use hitless_ike::ChildSaId;
use hitless_ike::DeleteReason;
use hitless_ike::Event;
use hitless_sadb::Direction;
use hitless_sadb::Spi;
use support::explore::ScriptedRandom;
use support::explore::Step;
use support::explore::Zero;
use support::explore::explore;
use support::explore::scripted_pair;
use support::*;

/// The nonce first bytes of one table row: a's request, b's request, b's response (to a's
/// request), a's response (to b's request). 0x00 marks the lowest.
const NONCE_ROWS: [[u8; 4]; 4] = [
    [0x00, 0xff, 0xff, 0xff],
    [0xff, 0x00, 0xff, 0xff],
    [0xff, 0xff, 0x00, 0xff],
    [0xff, 0xff, 0xff, 0x00],
];

/// A connected pair about to collide, and what the table needs.
struct Collision {
    pair: Pair,
    random_b: Arc<ScriptedRandom>,
    nonces: [u8; 4],
    b_child: ChildSaId,
    zero: Zero,
}

impl Collision {
    /// Connects, then `a` starts rekeying the Child SA with nonce `nonces[0]`.
    fn start(nonces: [u8; 4]) -> Self {
        let (mut pair, random_a, random_b) = scripted_pair(config_a(), config_b(), 7);
        let ike = pair.connect("gw");
        let a_child = pair.a.children(ike)[0].0;
        let b_ike = pair.b.established();
        let b_child = pair.b.children(b_ike)[0].0;
        random_a.set(Some(nonces[0]));
        pair.a.endpoint.rekey_child(pair.now, a_child).unwrap();
        pair.drain();
        random_a.set(Some(nonces[3]));
        random_b.set(Some(nonces[2]));
        Self {
            pair,
            random_b,
            nonces,
            b_child,
            zero: Zero::default(),
        }
    }

    /// `b` starts rekeying the same Child SA with nonce `nonces[1]`.
    fn b_rekeys(&mut self) {
        self.random_b.set(Some(self.nonces[1]));
        // Moot when b already answered a's request: the Child SA is replaced.
        let _ = self
            .pair
            .b
            .endpoint
            .rekey_child(self.pair.now, self.b_child);
        self.pair.drain();
        self.random_b.set(Some(self.nonces[2]));
    }

    /// The single Child SA left on both sides, after every timer ran, as (a's inbound SPI,
    /// b's inbound SPI).
    fn converged(&mut self, order: &[Step]) -> (Spi, Spi) {
        self.pair.advance(Duration::from_secs(30));
        let pair = &self.pair;
        let a_ike = pair.a.established();
        let b_ike = pair.b.established();
        let a = pair.a.children(a_ike);
        let b = pair.b.children(b_ike);
        assert_eq!(a.len(), 1, "a: {a:?} after {order:?}");
        assert_eq!(b.len(), 1, "b: {b:?} after {order:?}");
        assert_eq!((a[0].1, a[0].2), (b[0].2, b[0].1), "after {order:?}");
        for node in [&pair.a, &pair.b] {
            assert_eq!(node.backend.sas.len(), 2, "{}: {order:?}", node.name);
            assert_eq!(node.backend.policies.len(), 1, "{}: {order:?}", node.name);
            assert_eq!(node.backend.routes.len(), 1, "{}: {order:?}", node.name);
            let routed = node.backend.routes.values().next().unwrap();
            let child = node.children(node.established())[0];
            assert_eq!(*routed, child.2, "{}: {order:?}", node.name);
            // Only replaced SAs and redundant ones the peer deleted went away.
            assert!(
                !node.saw(|e| matches!(
                    e,
                    Event::ChildSaDeleted { reason, .. }
                        if !matches!(reason, DeleteReason::Rekeyed | DeleteReason::Peer)
                )),
                "{}: a Child SA was deleted after {order:?}",
                node.name
            );
        }
        assert_children_match(pair);
        (a[0].1, b[0].1)
    }
}

/// The four rows of strongSwan's table, with both requests crossing and both responses after:
/// the Child SA created by the exchange holding the lowest nonce is deleted by its creator,
/// the other one survives, and its creator deletes the old one.
#[test]
fn simultaneous_rekeys_lowest_nonce_loses() {
    for nonces in NONCE_ROWS {
        let mut c = Collision::start(nonces);
        c.b_rekeys();
        let order = [Step::ToB(0), Step::ToA(0), Step::ToA(0), Step::ToB(0)];
        // req1 → b: b answers as usual; its new Child SA waits (no deadline yet).
        c.pair.deliver_to_b();
        // req2 → a: a answers as usual.
        c.pair.deliver_to_a();
        let a_ike = c.pair.a.established();
        let b_ike = c.pair.b.established();
        assert_eq!(c.pair.a.children(a_ike).len(), 2);
        assert_eq!(c.pair.b.children(b_ike).len(), 2);
        // Both still send on the old SA.
        let (_, old_a_in, old_a_out) = c.pair.a.children(a_ike)[0];
        assert_eq!(c.pair.a.backend.routes.values().next(), Some(&old_a_out));
        assert_eq!(c.pair.b.backend.routes.values().next(), Some(&old_a_in));
        // The responses: each side decides.
        c.pair.deliver_to_a();
        c.zero.check(&c.pair, false, &order);
        c.pair.deliver_to_b();
        c.zero.check(&c.pair, false, &order);
        let a_exchange_lost = nonces[0] == 0 || nonces[2] == 0;
        // The loser never installs its redundant SA; the winner routes its new SA at once.
        let a_routes = *c.pair.a.backend.routes.values().next().unwrap();
        let b_routes = *c.pair.b.backend.routes.values().next().unwrap();
        if a_exchange_lost {
            assert_eq!(c.pair.a.children(a_ike).len(), 2, "old and b's new");
            assert_eq!(a_routes, old_a_out, "a waits for b's new SA to be used");
            assert_ne!(b_routes, old_a_in, "b switched to its new SA");
        } else {
            assert_eq!(b_routes, old_a_in, "b waits for a's new SA to be used");
            assert_ne!(a_routes, old_a_out, "a switched to its new SA");
        }
        let mut zero = std::mem::take(&mut c.zero);
        c.pair.drive();
        zero.check(&c.pair, false, &order);
        // The loser asked the winner to delete its redundant SA; the winner deleted the old.
        let (loser, winner) = if a_exchange_lost {
            (&c.pair.a, &c.pair.b)
        } else {
            (&c.pair.b, &c.pair.a)
        };
        assert_eq!(deletes_sent(loser), 1, "row {nonces:?}");
        assert_eq!(deletes_sent(winner), 1, "row {nonces:?}");
        c.converged(&order);
        // The survivor was created by the exchange without the lowest nonce.
        let a_child = c
            .pair
            .a
            .endpoint
            .ike_sa(c.pair.a.established())
            .unwrap()
            .children[0]
            .clone();
        assert_eq!(a_child.initiator, !a_exchange_lost, "row {nonces:?}");
        assert!(!c.pair.a.saw(|e| matches!(e, Event::ChildSaFailed { .. })));
        assert!(!c.pair.b.saw(|e| matches!(e, Event::ChildSaFailed { .. })));
    }
}

/// Every order of delivery (with reordering in each direction) of both rekeys, with b starting
/// its rekey at any point, for every nonce row: both sides converge on one Child SA and never
/// send on an SA the other cannot receive on.
#[test]
fn simultaneous_rekeys_converge_in_every_order() {
    let mut total = 0;
    for nonces in NONCE_ROWS {
        let runs = explore(
            true,
            1,
            &|| Collision::start(nonces),
            &|c| &mut c.pair,
            &|c, _| c.b_rekeys(),
            &|c, order| {
                let Collision { pair, zero, .. } = c;
                zero.check(pair, false, order);
            },
            &|c, order| {
                c.converged(order);
            },
        );
        total += runs;
    }
    assert!(total > 100, "{total} orders");
}

/// The responder switches to the winner's SA on first use even before the DELETE of the old SA
/// arrives, and the loser's redundant SA never carries traffic.
#[test]
fn loser_switches_on_first_use_of_the_winners_sa() {
    // Row 2: a's exchange holds the lowest nonce, b's SA wins.
    let mut c = Collision::start(NONCE_ROWS[2]);
    c.b_rekeys();
    c.pair.deliver_to_b();
    c.pair.deliver_to_a();
    c.pair.deliver_to_a();
    c.pair.deliver_to_b();
    // b routes its new SA; a still sends on the old one until b's first packet arrives.
    let b_routes = *c.pair.b.backend.routes.values().next().unwrap();
    let a_ike = c.pair.a.established();
    let (_, _, old_out) = c.pair.a.children(a_ike)[0];
    assert_eq!(c.pair.a.backend.routes.values().next(), Some(&old_out));
    c.pair.a.endpoint.handle_backend_event(
        c.pair.now,
        hitless_sadb::BackendEvent::InboundSaUsed { spi: b_routes },
    );
    c.pair.drain();
    let winner = c
        .pair
        .a
        .children(a_ike)
        .into_iter()
        .find(|(_, spi_in, _)| *spi_in == b_routes)
        .unwrap();
    assert_eq!(c.pair.a.backend.routes.values().next(), Some(&winner.2));
    assert!(
        !c.pair
            .a
            .backend
            .sas
            .contains_key(&(old_out, Direction::Outbound))
    );
    c.pair.drive();
    c.converged(&[]);
}

/// INFORMATIONAL requests a node sent (in these scenarios, each carries a Delete payload).
fn deletes_sent(node: &Node) -> usize {
    node.transmits()
        .iter()
        .filter(|t| is_delete_request(&t.payload))
        .count()
}

/// Whether an (encrypted) IKE message is an INFORMATIONAL request: the only ones in these
/// scenarios carry Delete payloads.
fn is_delete_request(message: &[u8]) -> bool {
    hitless_wire::ike::parse_header(message).is_ok_and(|h| {
        h.exchange == hitless_wire::registry::ExchangeType::INFORMATIONAL && !h.flags.response
    })
}
