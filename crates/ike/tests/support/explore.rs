//! Collision tables (strongSwan's `test_collision` shape, RFC 7296 §2.8.1, §2.8.2, §2.25): a
//! random source whose nonces a test scripts, and an explorer that runs a scenario once for
//! every order in which the messages in flight can be delivered.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicU16;
use std::sync::atomic::Ordering;

use hitless_crypto::CryptoError;
use hitless_crypto::CryptoProvider;
use hitless_crypto::SecureRandom;
use hitless_ike::Config;
use hitless_sadb::Direction;
use hitless_sadb::Spi;

use super::A_IP;
use super::B_IP;
use super::Node;
use super::Pair;

/// The nonce length the engine uses (RFC 7296 §2.10: 32 bytes).
pub const NONCE_LEN: usize = 32;

/// A seeded random source whose 32-byte draws (nonces, and X25519 public values, whose first
/// byte does not matter to the insecure provider) start with a byte the test chooses.
pub struct ScriptedRandom {
    inner: Arc<dyn SecureRandom>,
    /// The byte, or `NONE`.
    first_byte: AtomicU16,
}

const NONE: u16 = 0x100;

impl ScriptedRandom {
    /// Sets (or clears) the first byte of every nonce drawn from now on.
    pub fn set(&self, byte: Option<u8>) {
        self.first_byte
            .store(byte.map_or(NONE, u16::from), Ordering::Relaxed);
    }
}

impl SecureRandom for ScriptedRandom {
    fn fill(&self, out: &mut [u8]) -> Result<(), CryptoError> {
        self.inner.fill(out)?;
        if out.len() == NONCE_LEN
            && let Ok(byte) = u8::try_from(self.first_byte.load(Ordering::Relaxed))
        {
            out[0] = byte;
        }
        Ok(())
    }
}

/// A pair whose nodes draw nonces from scripted random sources.
pub fn scripted_pair(
    a: Config,
    b: Config,
    seed: u64,
) -> (Pair, Arc<ScriptedRandom>, Arc<ScriptedRandom>) {
    let make = |seed: u64| {
        let base = hitless_crypto_insecure::provider(seed);
        let random = Arc::new(ScriptedRandom {
            inner: base.random.clone(),
            first_byte: AtomicU16::new(NONE),
        });
        let crypto = Arc::new(CryptoProvider {
            random: random.clone(),
            ..base
        });
        (crypto, random)
    };
    let (crypto_a, random_a) = make(seed);
    let (crypto_b, random_b) = make(seed + 1);
    let pair = Pair::from_nodes(
        Node::with_crypto("a", a, crypto_a, A_IP),
        Node::with_crypto("b", b, crypto_b, B_IP),
    );
    (pair, random_a, random_b)
}

/// One step a scenario can take at any point.
#[derive(Clone, Copy, Debug, Eq, PartialEq)]
pub enum Step {
    /// Deliver the `n`-th message in flight to `a`.
    ToA(usize),
    /// Deliver the `n`-th message in flight to `b`.
    ToB(usize),
    /// Run the scenario's action number `n` (each runs once).
    Action(usize),
}

/// Runs `scenario` once for every order of its steps: every interleaving of message
/// deliveries in both directions (with reordering within a direction when `reorder`) and of
/// the scenario's actions. `setup` builds a fresh pair up to the point of interest; `action`
/// runs action `n` on it; `check` runs after every step and `finish` at the end (with the
/// order, for failure messages). Returns the number of orders run.
pub fn explore<S>(
    reorder: bool,
    actions: usize,
    setup: &dyn Fn() -> S,
    pair: &dyn Fn(&mut S) -> &mut Pair,
    action: &dyn Fn(&mut S, usize),
    check: &dyn Fn(&mut S, &[Step]),
    finish: &dyn Fn(&mut S, &[Step]),
) -> usize {
    let mut runs = 0;
    let mut stack: Vec<Vec<Step>> = vec![Vec::new()];
    while let Some(prefix) = stack.pop() {
        let mut state = setup();
        check(&mut state, &[]);
        let mut done = BTreeSet::new();
        for step in &prefix {
            apply(&mut state, pair, action, *step, &mut done);
            check(&mut state, &prefix);
        }
        let p = pair(&mut state);
        let mut next = Vec::new();
        let window = |len: usize| if reorder { len } else { len.min(1) };
        next.extend((0..window(p.to_a.len())).map(Step::ToA));
        next.extend((0..window(p.to_b.len())).map(Step::ToB));
        next.extend((0..actions).filter(|n| !done.contains(n)).map(Step::Action));
        if next.is_empty() {
            finish(&mut state, &prefix);
            runs += 1;
            continue;
        }
        for step in next.into_iter().rev() {
            let mut longer = prefix.clone();
            longer.push(step);
            stack.push(longer);
        }
        assert!(prefix.len() < 64, "a scenario that never ends: {prefix:?}");
    }
    runs
}

fn apply<S>(
    state: &mut S,
    pair: &dyn Fn(&mut S) -> &mut Pair,
    action: &dyn Fn(&mut S, usize),
    step: Step,
    done: &mut BTreeSet<usize>,
) {
    match step {
        Step::ToA(n) => {
            let p = pair(state);
            let wire = p.to_a.remove(n).unwrap();
            p.inject_a(&wire);
        }
        Step::ToB(n) => {
            let p = pair(state);
            let wire = p.to_b.remove(n).unwrap();
            p.inject_b(&wire);
        }
        Step::Action(n) => {
            done.insert(n);
            action(state, n);
            pair(state).drain();
        }
    }
}

/// What each side's traffic depends on, recorded over a run: every outbound SA a node ever
/// routed must stay installed as an inbound SA at its peer while no time passes (the peer's
/// linger), and no slot may be left without a route once it had one.
#[derive(Debug, Default)]
pub struct Zero {
    routed_by_a: BTreeSet<Spi>,
    routed_by_b: BTreeSet<Spi>,
    inbound_a: BTreeSet<Spi>,
    inbound_b: BTreeSet<Spi>,
    /// In delete scenarios: SAs a node sent on before its peer installed them (checked at the
    /// end: the peer must have installed them by then).
    early: BTreeSet<(bool, Spi)>,
    slots_a: BTreeSet<hitless_sadb::ReqId>,
    slots_b: BTreeSet<hitless_sadb::ReqId>,
}

impl Zero {
    /// Checks the pair now. `deleting` allows a slot to lose its route and a node to send on
    /// an SA its peer already removed (a delete was asked for), but never on one the peer has
    /// not installed yet.
    pub fn check(&mut self, pair: &Pair, deleting: bool, order: &[Step]) {
        self.inbound_a.extend(pair.a.backend.inbound());
        self.inbound_b.extend(pair.b.backend.inbound());
        let early_a = Self::side(
            (&pair.a, &pair.b),
            &mut self.routed_by_a,
            &mut self.slots_a,
            &self.inbound_b,
            deleting,
            order,
        );
        let early_b = Self::side(
            (&pair.b, &pair.a),
            &mut self.routed_by_b,
            &mut self.slots_b,
            &self.inbound_a,
            deleting,
            order,
        );
        self.early
            .extend(early_a.into_iter().map(|spi| (true, spi)));
        self.early
            .extend(early_b.into_iter().map(|spi| (false, spi)));
    }

    /// At the end of a delete scenario: every SA a node sent on before its peer installed it
    /// was installed by the peer in the end (it was on its way), never an SA the peer never had.
    pub fn finish(&mut self, pair: &Pair, order: &[Step]) {
        self.inbound_a.extend(pair.a.backend.inbound());
        self.inbound_b.extend(pair.b.backend.inbound());
        for (from_a, spi) in &self.early {
            let peer = if *from_a {
                &self.inbound_b
            } else {
                &self.inbound_a
            };
            assert!(
                peer.contains(spi),
                "{} sent on {spi}, which the peer never installed, after {order:?}",
                if *from_a { "a" } else { "b" }
            );
        }
    }

    fn side(
        (node, peer): (&Node, &Node),
        routed: &mut BTreeSet<Spi>,
        slots: &mut BTreeSet<hitless_sadb::ReqId>,
        peer_ever: &BTreeSet<Spi>,
        deleting: bool,
        order: &[Step],
    ) -> Vec<Spi> {
        let name = node.name;
        let mut early = Vec::new();
        for (reqid, spi) in &node.backend.routes {
            assert!(
                node.backend.sas.contains_key(&(*spi, Direction::Outbound)),
                "{name}: slot {reqid:?} routes to a missing outbound SA {spi} after {order:?}"
            );
            routed.insert(*spi);
            slots.insert(*reqid);
        }
        if !deleting {
            for reqid in slots.iter() {
                assert!(
                    node.backend.routes.contains_key(reqid),
                    "{name}: slot {reqid:?} lost its route after {order:?}"
                );
            }
        }
        let peer_inbound: BTreeSet<Spi> = peer.backend.inbound().into_iter().collect();
        let routes: BTreeMap<_, _> = node.backend.routes.clone();
        for spi in routes.values() {
            if deleting && !peer_inbound.contains(spi) {
                if !peer_ever.contains(spi) {
                    early.push(*spi);
                }
                continue;
            }
            assert!(
                peer_inbound.contains(spi),
                "{name} sends on {spi}, which {} cannot receive, after {order:?}",
                peer.name
            );
        }
        for spi in routed.iter() {
            assert!(
                peer_inbound.contains(spi) || deleting,
                "{} removed inbound SA {spi} that {name} sent on, with no time to linger, \
                 after {order:?}",
                peer.name
            );
        }
        early
    }
}
