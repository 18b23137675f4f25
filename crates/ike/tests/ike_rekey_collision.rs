//! Simultaneous IKE SA rekeys (RFC 7296 §2.8.2): tables over the four nonce orderings and over
//! every order in which the messages can be delivered, in strongSwan's `test_collision` shape.
//! Each run checks after every message that no Child SA is lost and each side sends only on SAs
//! the other can receive on, and at the end that both sides hold exactly one IKE SA, the same
//! one, with every Child SA on it, and one outbound SA per Child SA.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use hitless_ike::ChildSaId;
use hitless_ike::Config;
use hitless_ike::DeleteReason;
use hitless_ike::Event;
use hitless_ike::IkeSaId;
use hitless_ike::config::ChildConfig;
use hitless_ike::config::StartAction;
use hitless_sadb::Spi;
use hitless_wire::registry::ExchangeType;
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

/// A node's Child SAs as (inbound SPI, outbound SPI).
type ChildSpis = BTreeSet<(Spi, Spi)>;

/// How many Child SAs the IKE SA carries.
const CHILDREN: usize = 3;

/// Configs with three Child SAs (`net` and two more), all started with the IKE SA.
fn three_children() -> (Config, Config) {
    let mut a = config_a();
    let mut b = config_b();
    for (config, mine, theirs) in [(&mut a, 1, 2), (&mut b, 2, 1)] {
        for (name, third) in [("db", 9), ("voice", 10)] {
            let mut child = ChildConfig::tunnel(
                name,
                vec![net(10, mine, third)],
                vec![net(10, theirs, third)],
            );
            child.start_action = StartAction::Start;
            config.connections[0].children.push(child);
        }
    }
    (a, b)
}

/// Whether the exchange `a` initiated holds the lowest nonce of a row (its new IKE SA is the
/// redundant one).
fn a_exchange_lost(nonces: [u8; 4]) -> bool {
    nonces[0] == 0 || nonces[2] == 0
}

/// A connected pair about to collide, and what the table needs.
struct Collision {
    pair: Pair,
    random_b: Arc<ScriptedRandom>,
    nonces: [u8; 4],
    old: (IkeSaId, IkeSaId),
    /// Each side's Child SAs before the rekeys, as (inbound SPI, outbound SPI).
    children: (ChildSpis, ChildSpis),
    zero: Zero,
}

impl Collision {
    /// Connects with three Child SAs, then `a` starts rekeying the IKE SA with nonce
    /// `nonces[0]`.
    fn start(nonces: [u8; 4]) -> Self {
        let (a, b) = three_children();
        let (mut pair, random_a, random_b) = scripted_pair(a, b, 11);
        let a_ike = pair.connect("gw");
        let b_ike = pair.b.established();
        assert_eq!(pair.a.children(a_ike).len(), CHILDREN);
        let children = (child_spis(&pair.a), child_spis(&pair.b));
        random_a.set(Some(nonces[0]));
        pair.a.endpoint.rekey_ike(pair.now, a_ike).unwrap();
        pair.drain();
        random_a.set(Some(nonces[3]));
        random_b.set(Some(nonces[2]));
        Self {
            pair,
            random_b,
            nonces,
            old: (a_ike, b_ike),
            children,
            zero: Zero::default(),
        }
    }

    /// `b` starts rekeying the same IKE SA with nonce `nonces[1]`.
    fn b_rekeys(&mut self) {
        self.random_b.set(Some(self.nonces[1]));
        // Refused when b already answered a's request: the IKE SA is replaced.
        let _ = self.pair.b.endpoint.rekey_ike(self.pair.now, self.old.1);
        self.pair.drain();
        self.random_b.set(Some(self.nonces[2]));
    }

    /// After every step: no Child SA is lost or duplicated on either side, and each side
    /// sends only on SAs the other can receive on.
    fn check(&mut self, order: &[Step]) {
        self.zero.check(&self.pair, false, order);
        assert_eq!(
            child_spis(&self.pair.a),
            self.children.0,
            "a after {order:?}"
        );
        assert_eq!(
            child_spis(&self.pair.b),
            self.children.1,
            "b after {order:?}"
        );
        for node in [&self.pair.a, &self.pair.b] {
            assert_eq!(
                node.backend.routes.len(),
                CHILDREN,
                "{}: {order:?}",
                node.name
            );
            assert_eq!(
                node.backend.sas.len(),
                2 * CHILDREN,
                "{}: {order:?}",
                node.name
            );
        }
    }

    /// After every timer ran: one IKE SA on each side, the same one, with every Child SA on
    /// it unchanged. Returns whether a initiated the surviving IKE SA.
    fn converged(&mut self, order: &[Step]) -> bool {
        // A new IKE SA that only one side created goes after the retransmission span.
        self.pair.advance(Duration::from_secs(200));
        self.check(order);
        let pair = &self.pair;
        let a_ike = pair.a.established();
        let b_ike = pair.b.established();
        let a = pair.a.endpoint.ike_sa(a_ike).unwrap();
        let b = pair.b.endpoint.ike_sa(b_ike).unwrap();
        assert_ne!(a_ike, self.old.0, "a kept the old IKE SA after {order:?}");
        assert_ne!(b_ike, self.old.1, "b kept the old IKE SA after {order:?}");
        assert_eq!(a.spis, b.spis, "after {order:?}");
        assert_eq!(a.initiator, !b.initiator, "after {order:?}");
        assert_eq!(a.children.len(), CHILDREN, "a: {a:#?} after {order:?}");
        assert_eq!(b.children.len(), CHILDREN, "b: {b:#?} after {order:?}");
        for node in [&pair.a, &pair.b] {
            assert!(
                !node.saw(|e| matches!(e, Event::ChildSaDeleted { .. })),
                "{}: a Child SA was deleted after {order:?}",
                node.name
            );
            // Every IKE SA but the survivor went because of the rekey.
            assert!(
                !node.saw(|e| matches!(
                    e,
                    Event::IkeSaDeleted { reason, .. } if *reason != DeleteReason::Rekeyed
                ) || matches!(e, Event::IkeSaFailed { .. })),
                "{}: an IKE SA failed or was deleted after {order:?}",
                node.name
            );
        }
        assert_children_match(pair);
        let a_initiated = a.initiator;
        // The survivor works: a Child SA rekey and liveness checks on it.
        let child = pair.a.children(a_ike)[0].0;
        let mut zero = std::mem::take(&mut self.zero);
        self.pair
            .a
            .endpoint
            .rekey_child(self.pair.now, child)
            .unwrap();
        self.pair.drive();
        zero.check(&self.pair, false, order);
        self.pair.advance(Duration::from_secs(30));
        assert_eq!(self.pair.a.established(), a_ike, "after {order:?}");
        assert_eq!(self.pair.b.established(), b_ike, "after {order:?}");
        assert_eq!(self.pair.a.children(a_ike).len(), CHILDREN);
        assert_children_match(&self.pair);
        a_initiated
    }
}

/// A node's Child SAs over all its IKE SAs, as (inbound SPI, outbound SPI).
fn child_spis(node: &Node) -> ChildSpis {
    let spis: Vec<(Spi, Spi)> = node
        .endpoint
        .ike_sas()
        .flat_map(|ike| {
            ike.children
                .iter()
                .map(|c| (c.spi_in, c.spi_out))
                .collect::<Vec<_>>()
        })
        .collect();
    let set: BTreeSet<_> = spis.iter().copied().collect();
    assert_eq!(
        set.len(),
        spis.len(),
        "{}: a Child SA on two IKE SAs",
        node.name
    );
    set
}

/// The four rows of the table, with both requests crossing and both responses after: the new
/// IKE SA created by the exchange holding the lowest nonce is deleted by its creator, the
/// other inherits every Child SA, and its creator deletes the old IKE SA.
#[test]
fn simultaneous_ike_rekeys_lowest_nonce_loses() {
    for nonces in NONCE_ROWS {
        let mut c = Collision::start(nonces);
        c.b_rekeys();
        let order = [Step::ToB(0), Step::ToA(0), Step::ToA(0), Step::ToB(0)];
        // Both requests: each side answers as usual; the Child SAs wait on the new IKE SA it
        // created as responder, which starts nothing yet.
        c.pair.deliver_to_b();
        c.pair.deliver_to_a();
        c.check(&order);
        for node in [&c.pair.a, &c.pair.b] {
            assert_eq!(node.endpoint.ike_sas().count(), 2, "{}", node.name);
        }
        // The responses: each side decides.
        c.pair.deliver_to_a();
        c.check(&order);
        c.pair.deliver_to_b();
        c.check(&order);
        for node in [&c.pair.a, &c.pair.b] {
            assert_eq!(node.endpoint.ike_sas().count(), 3, "{}", node.name);
        }
        c.pair.drive();
        c.check(&order);
        // The loser deleted its redundant IKE SA, the winner the old one: one request each.
        let (loser, winner) = if a_exchange_lost(nonces) {
            (&c.pair.a, &c.pair.b)
        } else {
            (&c.pair.b, &c.pair.a)
        };
        assert_eq!(deletes_sent(loser), 1, "row {nonces:?}");
        assert_eq!(deletes_sent(winner), 1, "row {nonces:?}");
        for node in [&c.pair.a, &c.pair.b] {
            assert_eq!(
                node.endpoint.ike_sas().count(),
                1,
                "{} {nonces:?}",
                node.name
            );
        }
        let a_initiated = c.converged(&order);
        // The survivor was created by the exchange without the lowest nonce.
        assert_eq!(a_initiated, !a_exchange_lost(nonces), "row {nonces:?}");
        for node in [&c.pair.a, &c.pair.b] {
            let deleted = node
                .events()
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        Event::IkeSaDeleted {
                            reason: DeleteReason::Rekeyed,
                            ..
                        }
                    )
                })
                .count();
            assert_eq!(deleted, 2, "{}: old and redundant IKE SA", node.name);
        }
    }
}

/// Every order of delivery (with reordering in each direction) of both rekeys, with b starting
/// its rekey at any point, for every nonce row: no Child SA is ever lost, and both sides
/// converge on one IKE SA holding all of them. Both outcomes occur: a's new IKE SA survives
/// in some orders, b's in others (the nonces decide when both sides see the collision; the
/// first to finish wins when only one does).
#[test]
fn simultaneous_ike_rekeys_converge_in_every_order() {
    let mut total = 0;
    for nonces in NONCE_ROWS {
        let survivors = RefCell::new([0usize; 2]);
        let runs = explore(
            true,
            1,
            &|| Collision::start(nonces),
            &|c| &mut c.pair,
            &|c, _| c.b_rekeys(),
            &|c, order| c.check(order),
            &|c, order| {
                let a_initiated = c.converged(order);
                survivors.borrow_mut()[usize::from(a_initiated)] += 1;
            },
        );
        let [b_won, a_won] = survivors.into_inner();
        assert_eq!(runs, a_won + b_won);
        assert!(
            a_won > 0 && b_won > 0,
            "row {nonces:?}: a {a_won}, b {b_won}"
        );
        total += runs;
    }
    assert!(total > 100, "{total} orders");
}

/// Only b notices the collision (RFC 7296 §2.8.2): a's rekey completes before b's request
/// arrives, so a answers it with TEMPORARY_FAILURE (it is closing the old IKE SA) and deletes
/// the old IKE SA. Whichever b receives first, it forgets its own rekey, keeps a's new IKE
/// SA, and never retries.
#[test]
fn only_one_side_notices_the_collision() {
    for failure_first in [true, false] {
        let mut c = Collision::start(NONCE_ROWS[0]);
        c.b_rekeys();
        // a's request reaches b, b answers it; a gets the answer before b's request.
        c.pair.deliver_to_b();
        let req2 = c.pair.to_a.pop_front().unwrap();
        c.pair.deliver_to_a();
        c.check(&[]);
        // a completed its rekey and now deletes the old IKE SA.
        assert_eq!(c.pair.to_b.len(), 1);
        c.pair.inject_a(&req2);
        let answer = c.pair.to_b.pop_back().unwrap();
        if failure_first {
            c.pair.inject_b(&answer);
            c.check(&[]);
            c.pair.deliver_to_b();
        } else {
            c.pair.deliver_to_b();
            c.check(&[]);
            c.pair.inject_b(&answer);
        }
        c.check(&[]);
        c.pair.drive();
        let a_initiated = c.converged(&[]);
        assert!(a_initiated, "a's rekey finished first and survives");
        // b forgot its rekey: it never tried again.
        let b_rekeys = c
            .pair
            .b
            .transmits()
            .iter()
            .filter(|t| is_request(&t.payload, ExchangeType::CREATE_CHILD_SA))
            .count();
        assert_eq!(b_rekeys, 1, "b retried its rekey");
    }
}

/// a's response arrives after b deleted the new IKE SA that a created as responder (b found it
/// redundant): the Child SAs go back to the old IKE SA, then on to a's new one, which b keeps.
#[test]
fn redundant_sa_deleted_before_our_response_arrives() {
    // Row 1: b's exchange holds the lowest nonce; a's new IKE SA survives.
    let mut c = Collision::start(NONCE_ROWS[1]);
    c.b_rekeys();
    c.pair.deliver_to_b();
    c.pair.deliver_to_a();
    // a's answer to b reaches b first; b decides and deletes its redundant IKE SA.
    let resp1 = c.pair.to_a.pop_front().unwrap();
    c.pair.deliver_to_b();
    c.check(&[]);
    c.pair.deliver_to_a();
    c.check(&[]);
    let a_events = c.pair.a.events();
    let back = a_events
        .iter()
        .filter(|e| matches!(e, Event::IkeSaRekeyed { new, .. } if *new == c.old.0))
        .count();
    assert_eq!(back, 1, "the Child SAs went back to the old IKE SA");
    assert_eq!(c.pair.a.children(c.old.0).len(), CHILDREN);
    c.pair.inject_a(&resp1);
    c.check(&[]);
    c.pair.drive();
    assert!(c.converged(&[]));
}

/// A Child SA rekey asked for while the IKE SA rekey is in flight (a soft lifetime, or the
/// operator) is not lost with the old IKE SA: it runs on the new one (RFC 7296 §2.18).
#[test]
fn child_sa_work_queued_during_an_ike_rekey_follows_the_child_sas() {
    for from_initiator in [true, false] {
        let mut pair = pair();
        let a_ike = pair.connect("gw");
        let b_ike = pair.b.established();
        let node = if from_initiator {
            &mut pair.a
        } else {
            &mut pair.b
        };
        let ike = if from_initiator { a_ike } else { b_ike };
        let child = node.children(ike)[0].0;
        node.endpoint.rekey_ike(pair.now, ike).unwrap();
        node.endpoint.rekey_child(pair.now, child).unwrap();
        pair.drive();
        let node = if from_initiator { &pair.a } else { &pair.b };
        let new_ike = node.established();
        assert_ne!(new_ike, ike);
        assert!(
            node.saw(|e| matches!(e, Event::ChildSaRekeyed { ike, old, .. } if *ike == new_ike && *old == child)),
            "the Child SA was not rekeyed on the new IKE SA"
        );
        pair.advance(Duration::from_secs(10));
        let node = if from_initiator { &pair.a } else { &pair.b };
        let children: Vec<ChildSaId> = node.children(new_ike).iter().map(|c| c.0).collect();
        assert_eq!(children.len(), 1);
        assert_ne!(children[0], child);
        assert_children_match(&pair);
    }
}

/// Not a collision: a's rekey waits behind a liveness check when b's rekey arrives, so a
/// answers it and the IKE SA is replaced. a's queued rekey is then moot: started on the
/// replaced IKE SA it would create a second new IKE SA without the Child SAs.
#[test]
fn rekey_queued_behind_another_exchange_is_moot_once_the_peer_rekeyed() {
    let mut b = config_b();
    b.connections[0].dpd_delay = None;
    let mut pair = Pair::new(config_a(), b, 5);
    let a_ike = pair.connect("gw");
    let b_ike = pair.b.established();
    // a's liveness check is on its way when a asks for a rekey, which waits for the window.
    pair.now += Duration::from_secs(31);
    pair.a.endpoint.handle_timeout(pair.now);
    pair.drain();
    assert_eq!(pair.to_b.len(), 1);
    pair.a.endpoint.rekey_ike(pair.now, a_ike).unwrap();
    pair.b.endpoint.rekey_ike(pair.now, b_ike).unwrap();
    pair.drain();
    assert_eq!(pair.to_b.len(), 1, "a's rekey waits");
    // b's rekey reaches a first.
    pair.deliver_to_a();
    pair.drive();
    pair.advance(Duration::from_secs(10));
    let new_a = pair.a.established();
    let new_b = pair.b.established();
    assert_eq!(
        pair.a.endpoint.ike_sa(new_a).unwrap().spis,
        pair.b.endpoint.ike_sa(new_b).unwrap().spis
    );
    assert!(!pair.a.endpoint.ike_sa(new_a).unwrap().initiator);
    assert_eq!(pair.a.children(new_a).len(), 1);
    let a_rekeys = pair
        .a
        .transmits()
        .iter()
        .filter(|t| is_request(&t.payload, ExchangeType::CREATE_CHILD_SA))
        .count();
    assert_eq!(a_rekeys, 0, "a rekeyed the replaced IKE SA");
    assert_children_match(&pair);
}

/// INFORMATIONAL requests a node sent (in these scenarios, each carries a Delete payload).
fn deletes_sent(node: &Node) -> usize {
    node.transmits()
        .iter()
        .filter(|t| is_request(&t.payload, ExchangeType::INFORMATIONAL))
        .count()
}

/// Whether an (encrypted) IKE message is a request of this exchange type.
fn is_request(message: &[u8], exchange: ExchangeType) -> bool {
    hitless_wire::ike::parse_header(message)
        .is_ok_and(|h| h.exchange == exchange && !h.flags.response)
}
