//! A Child SA rekey colliding with a delete of the same Child SA, in both directions
//! (RFC 7296 §2.25, §2.25.1), and with a rekey or delete of the IKE SA (§2.25.2): every order of
//! delivery. After every message each side sends only on SAs the other can receive on; at the
//! end both sides agree (the Child SA is gone on both, or the same one is left on both).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers outside #[test] fns

mod support;

use std::time::Duration;

use hitless_ike::ChildSaId;
use hitless_ike::Event;
use hitless_ike::IkeSaId;
use hitless_wire::registry::NotifyType;
use support::explore::Step;
use support::explore::Zero;
use support::explore::explore;
use support::*;

/// Who does what to the Child SA (or the IKE SA).
#[derive(Clone, Copy, Debug)]
enum Op {
    RekeyChild,
    DeleteChild,
    RekeyIke,
    DeleteIke,
}

struct Scene {
    pair: Pair,
    zero: Zero,
    ops: [Op; 2],
    ike: (IkeSaId, IkeSaId),
    child: (ChildSaId, ChildSaId),
}

impl Scene {
    /// Connects; `a` does `ops[0]` at once, `b` does `ops[1]` as the explored action.
    fn start(ops: [Op; 2]) -> Self {
        let mut pair = pair();
        let a_ike = pair.connect("gw");
        let b_ike = pair.b.established();
        let child = (pair.a.children(a_ike)[0].0, pair.b.children(b_ike)[0].0);
        let mut scene = Self {
            pair,
            zero: Zero::default(),
            ops,
            ike: (a_ike, b_ike),
            child,
        };
        scene.act(true);
        scene
    }

    fn act(&mut self, on_a: bool) {
        let (op, node, ike, child) = if on_a {
            (self.ops[0], &mut self.pair.a, self.ike.0, self.child.0)
        } else {
            (self.ops[1], &mut self.pair.b, self.ike.1, self.child.1)
        };
        let now = self.pair.now;
        // Each may be refused when the SA is already gone or replaced; that is an outcome too.
        let _ = match op {
            Op::RekeyChild => node.endpoint.rekey_child(now, child),
            Op::DeleteChild => node.endpoint.terminate_child(now, child),
            Op::RekeyIke => node.endpoint.rekey_ike(now, ike),
            Op::DeleteIke => node.endpoint.terminate_ike(now, ike),
        };
        self.pair.drain();
    }

    fn deleting(&self) -> bool {
        self.ops
            .iter()
            .any(|op| matches!(op, Op::DeleteChild | Op::DeleteIke))
    }

    /// Both sides agree after every timer ran.
    fn converged(&mut self, order: &[Step]) -> usize {
        self.pair.drive();
        self.zero.finish(&self.pair, order);
        self.pair.advance(Duration::from_secs(30));
        let pair = &self.pair;
        let a: Vec<_> = pair.a.endpoint.ike_sas().collect();
        let b: Vec<_> = pair.b.endpoint.ike_sas().collect();
        assert_eq!(a.len(), b.len(), "IKE SAs {a:#?} vs {b:#?} after {order:?}");
        assert!(a.len() <= 1, "{a:#?} after {order:?}");
        if let (Some(a), Some(b)) = (a.first(), b.first()) {
            assert_eq!(a.spis, b.spis, "after {order:?}");
            assert_eq!(
                a.children.len(),
                b.children.len(),
                "{a:#?} vs {b:#?} after {order:?}"
            );
            assert!(a.children.len() <= 1, "{a:#?} after {order:?}");
        }
        for node in [&pair.a, &pair.b] {
            assert_eq!(
                node.backend.routes.len(),
                node.backend.policies.len(),
                "{}: {order:?}",
                node.name
            );
            assert_eq!(
                node.backend.sas.len(),
                2 * node.backend.policies.len(),
                "{}: {:?} after {order:?}",
                node.name,
                node.backend.sas.keys()
            );
        }
        assert_children_match(pair);
        a.first().map_or(0, |a| a.children.len())
    }
}

fn run(ops: [Op; 2]) -> (usize, usize) {
    let outcomes = std::cell::RefCell::new([0usize; 2]);
    let runs = explore(
        true,
        1,
        &|| Scene::start(ops),
        &|s| &mut s.pair,
        &|s, _| s.act(false),
        &|s, order| {
            let deleting = s.deleting();
            let Scene { pair, zero, .. } = s;
            zero.check(pair, deleting, order);
        },
        &|s, order| {
            let left = s.converged(order);
            outcomes.borrow_mut()[left] += 1;
        },
    );
    let [gone, kept] = outcomes.into_inner();
    assert_eq!(runs, gone + kept);
    (gone, kept)
}

/// a rekeys the Child SA while b deletes it (§2.25.1): b answers a's rekey with
/// TEMPORARY_FAILURE while it deletes; a answers b's delete as usual; when b answered the rekey
/// before deciding to delete, the new Child SA takes over first.
#[test]
fn rekey_against_delete() {
    let (gone, kept) = run([Op::RekeyChild, Op::DeleteChild]);
    assert!(gone > 0 && kept > 0, "gone {gone}, kept {kept}");
}

/// a deletes the Child SA while b rekeys it.
#[test]
fn delete_against_rekey() {
    let (gone, kept) = run([Op::DeleteChild, Op::RekeyChild]);
    assert!(gone > 0, "gone {gone}, kept {kept}");
}

/// A Child SA rekey against an IKE SA rekey (§2.25.2): TEMPORARY_FAILURE for the Child SA
/// while the IKE SA is rekeyed, and for the IKE SA while a Child SA exchange is open; the
/// Child SA moves to the new IKE SA and is rekeyed later.
#[test]
fn child_rekey_against_ike_rekey() {
    for ops in [
        [Op::RekeyChild, Op::RekeyIke],
        [Op::RekeyIke, Op::RekeyChild],
    ] {
        let (gone, kept) = run(ops);
        assert_eq!(gone, 0, "{ops:?}");
        assert!(kept > 0);
    }
}

/// A Child SA rekey against a delete of the IKE SA: everything goes.
#[test]
fn child_rekey_against_ike_delete() {
    for ops in [
        [Op::RekeyChild, Op::DeleteIke],
        [Op::DeleteIke, Op::RekeyChild],
    ] {
        let (gone, kept) = run(ops);
        assert_eq!(kept, 0, "{ops:?}");
        assert!(gone > 0);
    }
}

/// The exact §2.25.1 case: a rekey request for a Child SA the responder is deleting gets
/// TEMPORARY_FAILURE, and the initiator, which answered the delete, retries nothing.
#[test]
fn rekey_of_a_child_sa_being_deleted_gets_temporary_failure() {
    let mut scene = Scene::start([Op::RekeyChild, Op::DeleteChild]);
    scene.act(false);
    // Both requests cross; b's answer to the rekey comes first.
    scene.pair.deliver_to_b();
    let answer = scene.pair.to_a.pop_back().unwrap();
    scene.pair.inject_a(&answer);
    assert!(scene.pair.a.saw(|e| matches!(
        e,
        Event::ChildSaFailed { reason: hitless_ike::FailureReason::Protocol(hitless_ike::Error::PeerError(n)), .. }
            if *n == NotifyType::TEMPORARY_FAILURE
    )));
    scene.pair.drive();
    assert_eq!(scene.converged(&[]), 0);
}
