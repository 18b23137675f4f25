//! Issue 4's memory target as a regression test: an endpoint holding 2,000 established IKE SAs
//! with one Child SA each frees at most 4 KiB per IKE SA when dropped, on either side. The
//! benchmark (`benches/memory.rs`) measures 100,000 for BENCHMARKS.md.

use hitless_sim::CryptoChoice;
use hitless_sim::memory;

#[global_allocator]
static ALLOCATOR: memory::CountingAllocator = memory::CountingAllocator;

/// The target: 4 KiB per established IKE SA with one Child SA.
const BOUND: isize = 4096;

#[test]
fn an_ike_sa_with_one_child_sa_takes_at_most_4_kib_on_each_side() {
    let count = 2000;
    let mut many = match memory::establish_many(count, CryptoChoice::AwsLc) {
        Ok(many) => many,
        Err(stalled) => panic!("{stalled}"),
    };
    for (name, node) in [("responder", many.responder), ("initiator", many.initiator)] {
        let (held, per_sa) = memory::bytes_per_ike_sa(&mut many.sim, node);
        assert_eq!(held, count, "{name} holds every IKE SA");
        // A measurement that counts nothing would pass any bound.
        assert!(
            per_sa > 1024,
            "{name}: {per_sa} bytes per IKE SA is implausibly small"
        );
        assert!(
            per_sa <= BOUND,
            "{name}: {per_sa} bytes per IKE SA with one Child SA, over the {BOUND}-byte target"
        );
    }
}
