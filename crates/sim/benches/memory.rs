//! Engine memory per established IKE SA with one Child SA: a responder establishes `COUNT`
//! (default 100,000) IKE SAs with an initiator in the simulator, then the responder's endpoint
//! is dropped and the heap it held is measured with a counting allocator. Same for the
//! initiator. Target (issue 4): ≤ 4 KiB per IKE SA with one Child SA. The same measurement on
//! fewer SAs is a test (`tests/memory_per_ike_sa.rs`).
//!
//! `cargo bench -p hitless-sim --bench memory` (set `COUNT` to change the number,
//! `CRYPTO=insecure` for the simulator's provider).

#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)]

use std::time::Instant;

use hitless_sim::CryptoChoice;
use hitless_sim::memory;

#[global_allocator]
static ALLOCATOR: memory::CountingAllocator = memory::CountingAllocator;

fn main() {
    let count: usize = std::env::var("COUNT")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    // CRYPTO=insecure measures with the simulator's provider, whose keys are plain bytes: the
    // difference is what the production provider's expanded key schedules take.
    let crypto = match std::env::var("CRYPTO").as_deref() {
        Ok("insecure") => CryptoChoice::Insecure,
        _ => CryptoChoice::AwsLc,
    };
    let started = Instant::now();
    let mut many = memory::establish_many(count, crypto).unwrap();
    let elapsed = started.elapsed();
    let (sim, a, b) = (&mut many.sim, many.initiator, many.responder);
    for (name, id) in [("responder", b), ("initiator", a)] {
        // What one SA's exported state holds in variable-size parts, as a hint of where the
        // bytes go (the engine's internal layout may differ).
        let node = sim.node_ref(id);
        let first = node.ike.ike_sas().next().map(|info| info.id).unwrap();
        let snapshot = node.ike.export(sim.instant(), first).unwrap();
        let keys = &snapshot.keys;
        let key_bytes: usize = [
            &keys.sk_d,
            &keys.sk_ai,
            &keys.sk_ar,
            &keys.sk_ei,
            &keys.sk_er,
            &keys.sk_pi,
            &keys.sk_pr,
        ]
        .iter()
        .map(|key| key.len())
        .sum();
        let cached = snapshot
            .window
            .last_response
            .as_ref()
            .map_or(0, |m| m.message.len());
        let outstanding = snapshot
            .window
            .outstanding
            .as_ref()
            .map_or(0, |m| m.message.len());
        println!(
            "{name}: exported IKE SA holds {key_bytes} key bytes, a cached response of {cached} \
             bytes, an outstanding request of {outstanding} bytes, {} Child SA(s)",
            snapshot.children.len()
        );
        let (held, per_sa) = memory::bytes_per_ike_sa(sim, id);
        assert_eq!(held, count);
        println!(
            "{name}: {count} IKE SAs with one Child SA each: {} bytes, {per_sa} bytes per IKE SA",
            per_sa * count as isize
        );
    }
    println!("established {count} IKE SAs in {elapsed:?} (simulated)");
}
